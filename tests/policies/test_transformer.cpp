// The reference transformer: backward against central finite differences (double instantiation,
// every parameter element), float vs double agreement, KV-cache decoding vs the full forward,
// thread-count independence, masks, the value head, deterministic initialisation, copies,
// files, bad input, and a tiny training run.
#include <rlvr/optim/adam.hpp>
#include <rlvr/policy/reference.hpp>
#include <rlvr/policy/transformer.hpp>
#include <rlvr/random/philox.hpp>

#include <catch2/catch.hpp>

#include <cmath>
#include <filesystem>
#include <vector>

namespace {
using rlvr::index_t;
using rlvr::token_t;
using dmodel = rlvr::basic_transformer<double>;

static_assert(rlvr::ReferencePolicy<rlvr::frozen_reference<rlvr::transformer_policy>>);
static_assert(!rlvr::Policy<dmodel>); // the double instantiation is a test vehicle, not a Policy

rlvr::transformer_config small_config(bool value_head = true) {
  return {.vocab_size = 7, .context_length = 6, .d_model = 8, .n_layers = 2, .n_heads = 2, .d_ff = 12,
          .value_head = value_head, .seed = 11, .init_std = 0.4, .threads = 1};
}

std::vector<token_t> random_tokens(index_t n, index_t V, std::uint64_t seed) {
  rlvr::philox_engine e(seed);
  std::vector<token_t> t(static_cast<std::size_t>(n));
  for (auto& x : t) x = static_cast<token_t>(e.uniform_index(static_cast<std::uint32_t>(V)));
  return t;
}
std::vector<double> random_weights(index_t n, std::uint64_t seed) {
  rlvr::philox_engine e(seed);
  std::vector<double> w(static_cast<std::size_t>(n));
  for (auto& x : w) x = 2.0 * e.uniform() - 1.0;
  return w;
}

// L = Σ R ⊙ logits + Σ r ⊙ values over the wanted rows.
template <class M>
double probe_loss(M& m, const rlvr::token_batch& b, const std::vector<double>& R, const std::vector<double>& r) {
  using S = typename M::scalar;
  const index_t N = b.rows(), V = m.vocab_size();
  std::vector<S> logits(static_cast<std::size_t>(N * V)), values(static_cast<std::size_t>(N));
  m.forward(b, rlvr::matrix_view<S>(logits.data(), N, V), rlvr::vector_view<S>(values.data(), N));
  double L = 0;
  for (std::size_t i = 0; i < logits.size(); ++i) L += R[i] * double(logits[i]);
  for (std::size_t i = 0; i < values.size(); ++i) L += r[i] * double(values[i]);
  return L;
}
} // namespace

TEST_CASE("transformer: backward equals central finite differences for every parameter", "[policies][transformer]") {
  dmodel m(small_config());
  const index_t B = 3, T = 5, V = 7, N = B * T;
  const auto toks = random_tokens(N, V, 1);
  std::vector<rlvr::mask_t> mask(static_cast<std::size_t>(N), 1);
  mask[0] = mask[6] = mask[14] = 0; // some rows unwanted
  const rlvr::token_batch batch{{toks.data(), B, T}, {mask.data(), B, T}};
  auto R = random_weights(N * V, 2);
  const auto r = random_weights(N, 3);
  for (index_t n = 0; n < N; ++n)
    if (mask[static_cast<std::size_t>(n)] == 0)
      for (index_t v = 0; v < V; ++v) R[static_cast<std::size_t>(n * V + v)] = 0.0; // the contract

  probe_loss(m, batch, R, r);
  m.zero_grad();
  m.backward(rlvr::matrix_view<const double>(R.data(), N, V), rlvr::vector_view<const double>(r.data(), N));

  const double h = 1e-6;
  double worst = 0;
  index_t checked = 0;
  for (const auto& p : m.parameters()) {
    for (std::size_t j = 0; j < p.value.size(); ++j) {
      const double keep = p.value[j];
      p.value[j] = keep + h;
      const double up = probe_loss(m, batch, R, r);
      p.value[j] = keep - h;
      const double down = probe_loss(m, batch, R, r);
      p.value[j] = keep;
      const double fd = (up - down) / (2 * h);
      // relative error, with an absolute floor for gradients that vanish exactly (a key bias
      // shifts every score of a query equally: softmax-invariant, gradient 0)
      const double err = std::abs(fd - p.grad[j]) / (1e-2 + std::abs(fd));
      worst = std::max(worst, err);
      if (err > 1e-6) FAIL_CHECK(p.name << "[" << j << "]: backward " << p.grad[j] << ", finite difference " << fd);
      ++checked;
    }
  }
  INFO("worst relative error " << worst << " over " << checked << " parameters");
  CHECK(worst < 1e-6);
  CHECK(checked == m.num_parameters());
}

TEST_CASE("transformer: gradients accumulate and zero_grad clears them", "[policies][transformer]") {
  dmodel m(small_config(false));
  const index_t B = 2, T = 4, V = 7, N = B * T;
  const auto toks = random_tokens(N, V, 5);
  const rlvr::token_batch batch{{toks.data(), B, T}, {}};
  std::vector<double> logits(static_cast<std::size_t>(N * V));
  const auto R = random_weights(N * V, 6);
  m.forward(batch, {logits.data(), N, V});
  m.backward({R.data(), N, V});
  const std::vector<double> once(m.parameters()[3].grad.begin(), m.parameters()[3].grad.end());
  m.backward({R.data(), N, V});
  for (std::size_t j = 0; j < once.size(); ++j) CHECK(m.parameters()[3].grad[j] == Approx(2 * once[j]));
  m.zero_grad();
  for (const auto& p : m.parameters())
    for (double g : p.grad) REQUIRE(g == 0.0);
}

TEST_CASE("transformer: float model agrees with the double model, forward and backward", "[policies][transformer]") {
  auto cfg = small_config();
  cfg.d_model = 16, cfg.n_heads = 4, cfg.d_ff = 0, cfg.init_std = 0.2;
  dmodel md(cfg);
  rlvr::transformer_policy mf(cfg);
  for (std::size_t i = 0; i < md.parameters().size(); ++i) // identical weights
    for (std::size_t j = 0; j < md.parameters()[i].value.size(); ++j)
      mf.parameters()[i].value[j] = static_cast<float>(md.parameters()[i].value[j]);
  const index_t B = 4, T = 6, V = 7, N = B * T;
  const auto toks = random_tokens(N, V, 9);
  const rlvr::token_batch batch{{toks.data(), B, T}, {}};
  std::vector<double> ld(static_cast<std::size_t>(N * V)), vd(static_cast<std::size_t>(N));
  std::vector<float> lf(ld.size()), vf(vd.size());
  md.forward(batch, {ld.data(), N, V}, {vd.data(), N});
  mf.forward(batch, {lf.data(), N, V}, {vf.data(), N});
  for (std::size_t i = 0; i < ld.size(); ++i) REQUIRE(std::abs(lf[i] - ld[i]) < 2e-5 * (1 + std::abs(ld[i])));
  for (std::size_t i = 0; i < vd.size(); ++i) REQUIRE(std::abs(vf[i] - vd[i]) < 2e-5 * (1 + std::abs(vd[i])));
  const auto R = random_weights(N * V, 10);
  const auto r = random_weights(N, 11);
  std::vector<float> Rf(R.begin(), R.end()), rf(r.begin(), r.end());
  md.backward({R.data(), N, V}, {r.data(), N});
  mf.backward({Rf.data(), N, V}, {rf.data(), N});
  for (std::size_t i = 0; i < md.parameters().size(); ++i) {
    const auto& gd = md.parameters()[i].grad;
    const auto& gf = mf.parameters()[i].grad;
    double scale = 0;
    for (double g : gd) scale = std::max(scale, std::abs(g));
    for (std::size_t j = 0; j < gd.size(); ++j)
      if (std::abs(gf[j] - gd[j]) > 1e-4 * (1 + scale))
        FAIL_CHECK(md.parameters()[i].name << "[" << j << "]: float " << gf[j] << " double " << gd[j]);
  }
}

TEST_CASE("transformer: KV-cache decoding reproduces the full forward", "[policies][transformer][decode]") {
  auto cfg = small_config();
  cfg.d_model = 16, cfg.n_heads = 4, cfg.context_length = 9;
  rlvr::transformer_policy m(cfg);
  const index_t B = 5, T = 9, V = 7, N = B * T;
  const auto toks = random_tokens(N, V, 21);
  std::vector<float> full(static_cast<std::size_t>(N * V)), fv(static_cast<std::size_t>(N));
  m.forward({{toks.data(), B, T}, {}}, {full.data(), N, V}, {fv.data(), N});
  auto cache = m.make_cache(B);
  std::vector<float> step(static_cast<std::size_t>(B * V)), sv(static_cast<std::size_t>(B));
  std::vector<token_t> col(static_cast<std::size_t>(B));
  for (index_t t = 0; t < T; ++t) {
    for (index_t b = 0; b < B; ++b) col[static_cast<std::size_t>(b)] = toks[static_cast<std::size_t>(b * T + t)];
    m.decode(cache, {col.data(), B}, {step.data(), B, V}, {sv.data(), B});
    for (index_t b = 0; b < B; ++b) {
      for (index_t v = 0; v < V; ++v)
        REQUIRE(step[static_cast<std::size_t>(b * V + v)] ==
                Approx(full[static_cast<std::size_t>((b * T + t) * V + v)]).margin(1e-5));
      REQUIRE(sv[static_cast<std::size_t>(b)] == Approx(fv[static_cast<std::size_t>(b * T + t)]).margin(1e-5));
    }
  }
  CHECK(cache.position(0) == T);
  CHECK_THROWS_AS(m.decode(cache, {col.data(), B}, {step.data(), B, V}), rlvr::range_error); // context full
}

TEST_CASE("transformer: a reset cache row restarts while the others continue", "[policies][transformer][decode]") {
  rlvr::transformer_policy m(small_config(false));
  const index_t V = 7;
  const std::vector<token_t> a{1, 2, 3, 4}, b{5, 6, 0, 1}, c{3, 3, 2};
  auto cache = m.make_cache(2);
  std::vector<float> out(2 * V);
  for (index_t t = 0; t < 2; ++t) {
    const token_t col[2] = {a[static_cast<std::size_t>(t)], b[static_cast<std::size_t>(t)]};
    m.decode(cache, {col, 2}, {out.data(), 2, V});
  }
  cache.reset(1); // row 1 starts sequence c while row 0 continues a
  for (index_t t = 0; t < 2; ++t) {
    const token_t col[2] = {a[static_cast<std::size_t>(t + 2)], c[static_cast<std::size_t>(t)]};
    m.decode(cache, {col, 2}, {out.data(), 2, V});
  }
  CHECK(cache.position(0) == 4);
  CHECK(cache.position(1) == 2);
  std::vector<float> fa(4 * V), fc(2 * V);
  m.forward({{a.data(), 1, 4}, {}}, {fa.data(), 4, V});
  m.forward({{c.data(), 1, 2}, {}}, {fc.data(), 2, V});
  for (index_t v = 0; v < V; ++v) {
    CHECK(out[static_cast<std::size_t>(v)] == Approx(fa[static_cast<std::size_t>(3 * V + v)]).margin(1e-5));
    CHECK(out[static_cast<std::size_t>(V + v)] == Approx(fc[static_cast<std::size_t>(V + v)]).margin(1e-5));
  }
}

TEST_CASE("transformer: results are bitwise independent of the thread count", "[policies][transformer]") {
  rlvr::transformer_config cfg{.vocab_size = 11, .context_length = 40, .d_model = 32, .n_layers = 2, .n_heads = 2,
                               .value_head = true, .seed = 3};
  const index_t B = 9, T = 40, V = 11, N = B * T; // 360 rows: several GEMM blocks
  const auto toks = random_tokens(N, V, 4);
  const auto R64 = random_weights(N * V, 5);
  const std::vector<float> R(R64.begin(), R64.end());
  const std::vector<float> r(static_cast<std::size_t>(N), 0.5f);
  std::vector<std::vector<float>> logits, grads, dec;
  for (int threads : {1, 2, 3}) {
    cfg.threads = threads;
    rlvr::transformer_policy m(cfg);
    std::vector<float> l(static_cast<std::size_t>(N * V)), v(static_cast<std::size_t>(N));
    m.forward({{toks.data(), B, T}, {}}, {l.data(), N, V}, {v.data(), N});
    m.backward({R.data(), N, V}, {r.data(), N});
    std::vector<float> g;
    for (const auto& p : m.parameters()) g.insert(g.end(), p.grad.begin(), p.grad.end());
    auto cache = m.make_cache(B);
    std::vector<float> d(static_cast<std::size_t>(B * V));
    std::vector<token_t> col(static_cast<std::size_t>(B));
    for (index_t t = 0; t < 5; ++t) {
      for (index_t b = 0; b < B; ++b) col[static_cast<std::size_t>(b)] = toks[static_cast<std::size_t>(b * T + t)];
      m.decode(cache, {col.data(), B}, {d.data(), B, V});
    }
    logits.push_back(l), grads.push_back(g), dec.push_back(d);
  }
  for (std::size_t k = 1; k < 3; ++k) {
    CHECK(logits[k] == logits[0]);
    CHECK(grads[k] == grads[0]);
    CHECK(dec[k] == dec[0]);
  }
}

TEST_CASE("transformer: masked rows are zero and do not change the wanted ones", "[policies][transformer]") {
  rlvr::transformer_policy m(small_config(false));
  const index_t B = 2, T = 5, V = 7, N = B * T;
  const auto toks = random_tokens(N, V, 8);
  const std::vector<rlvr::mask_t> mask{0, 0, 1, 1, 0, 0, 1, 1, 1, 0};
  std::vector<float> all(static_cast<std::size_t>(N * V)), some(all.size(), 9.0f);
  m.forward({{toks.data(), B, T}, {}}, {all.data(), N, V});
  m.forward({{toks.data(), B, T}, {mask.data(), B, T}}, {some.data(), N, V});
  for (index_t n = 0; n < N; ++n)
    for (index_t v = 0; v < V; ++v) {
      const auto i = static_cast<std::size_t>(n * V + v);
      if (mask[static_cast<std::size_t>(n)] != 0) CHECK(some[i] == Approx(all[i]).margin(1e-6));
      else CHECK(some[i] == 0.0f);
    }
}

TEST_CASE("transformer: initialisation is deterministic and has the configured scale", "[policies][transformer]") {
  rlvr::transformer_config cfg{.vocab_size = 64, .context_length = 32, .d_model = 64, .seed = 42, .init_std = 0.02};
  rlvr::transformer_policy a(cfg), b(cfg);
  cfg.seed = 43;
  rlvr::transformer_policy c(cfg);
  bool differs = false;
  for (std::size_t i = 0; i < a.parameters().size(); ++i) {
    CHECK(std::equal(a.parameters()[i].value.begin(), a.parameters()[i].value.end(), b.parameters()[i].value.begin()));
    differs |= !std::equal(a.parameters()[i].value.begin(), a.parameters()[i].value.end(), c.parameters()[i].value.begin());
  }
  CHECK(differs);
  const auto tok = a.parameters()[0];
  REQUIRE(tok.name == "tok_emb");
  double s = 0, ss = 0;
  for (float x : tok.value) s += x, ss += double(x) * x;
  const double n = double(tok.value.size()), mean = s / n, sd = std::sqrt(ss / n - mean * mean);
  CHECK(std::abs(mean) < 4 * 0.02 / std::sqrt(n)); // 4 sigma
  CHECK(sd == Approx(0.02).epsilon(0.05));          // 4096 samples: sd of the sd ≈ 1.1%
  for (const auto& p : a.parameters()) {
    if (p.name.ends_with("ln1.weight")) CHECK(p.value[0] == 1.0f);
    if (p.name.ends_with("b_qkv")) CHECK(p.value[0] == 0.0f);
  }
  CHECK(a.num_parameters() == 64 * 64 + 32 * 64 + 2 * (4 * 64 + 64 * 192 + 192 + 64 * 64 + 64 + 64 * 256 + 256 + 256 * 64 + 64) +
                                  2 * 64 + 64 * 64 + 64);
}

TEST_CASE("transformer: save and load round-trip bit for bit", "[policies][transformer][io]") {
  auto cfg = small_config();
  rlvr::transformer_policy m(cfg);
  const auto path = std::filesystem::temp_directory_path() / "rlvr_test_transformer.safetensors";
  m.save(path);
  auto back = rlvr::transformer_policy::load(path, 1);
  CHECK(back.config().d_model == cfg.d_model);
  CHECK(back.config().d_ff == cfg.d_ff);
  CHECK(back.has_value_head());
  REQUIRE(back.num_parameters() == m.num_parameters());
  for (std::size_t i = 0; i < m.parameters().size(); ++i) {
    CHECK(back.parameters()[i].name == m.parameters()[i].name);
    CHECK(std::equal(back.parameters()[i].value.begin(), back.parameters()[i].value.end(),
                     m.parameters()[i].value.begin()));
  }
  cfg.seed = 99;
  rlvr::transformer_policy other(cfg);
  other.load_weights(path);
  CHECK(std::equal(other.parameters()[0].value.begin(), other.parameters()[0].value.end(), m.parameters()[0].value.begin()));
  cfg.d_model = 4;
  rlvr::transformer_policy wrong(cfg);
  CHECK_THROWS_AS(wrong.load_weights(path), rlvr::shape_error);
  std::filesystem::remove(path);
}

TEST_CASE("transformer: copies own their weights; a frozen reference stays put", "[policies][transformer]") {
  rlvr::transformer_policy m(small_config(false));
  rlvr::frozen_reference ref(m);
  rlvr::transformer_policy copy = m;
  CHECK(copy.parameters()[0].value.data() != m.parameters()[0].value.data());
  const std::vector<token_t> toks{1, 2, 3, 4};
  float before[4], after[4];
  ref.reference_log_probs({{toks.data(), 1, 4}, {}}, {before, 1, 4});
  for (float& w : m.parameters()[0].value) w += 1.0f; // the policy trains on
  ref.reference_log_probs({{toks.data(), 1, 4}, {}}, {after, 1, 4});
  for (int t = 0; t < 3; ++t) {
    CHECK(before[t] == after[t]);
    CHECK(before[t] < 0.0f);
  }
  CHECK(before[3] == 0.0f);
  // the log-probs equal log-softmax of the policy's logits
  std::vector<float> logits(4 * 7);
  copy.forward({{toks.data(), 1, 4}, {}}, {logits.data(), 4, 7});
  CHECK(before[1] == Approx(rlvr::log_softmax_at({logits.data() + 7, 7}, 3)).margin(1e-6));
}

TEST_CASE("transformer: bad input names the value", "[policies][transformer]") {
  rlvr::transformer_policy m(small_config(false));
  std::vector<float> logits(7 * 7);
  const std::vector<token_t> bad{1, 7, 2};
  CHECK_THROWS_WITH(m.forward({{bad.data(), 1, 3}, {}}, {logits.data(), 3, 7}), Catch::Contains("token 7 at (0, 1)"));
  const std::vector<token_t> too_long(7, 1);
  CHECK_THROWS_AS(m.forward({{too_long.data(), 1, 7}, {}}, {logits.data(), 7, 7}), rlvr::shape_error);
  const std::vector<token_t> ok{1, 2, 3};
  CHECK_THROWS_AS(m.forward({{ok.data(), 1, 3}, {}}, {logits.data(), 2, 7}), rlvr::shape_error);
  std::vector<float> vals(3);
  CHECK_THROWS_AS(m.forward({{ok.data(), 1, 3}, {}}, {logits.data(), 3, 7}, {vals.data(), 3}), rlvr::config_error);
  rlvr::transformer_policy fresh(small_config(false));
  CHECK_THROWS_AS(fresh.backward({logits.data(), 3, 7}), rlvr::config_error);
  CHECK_THROWS_WITH(rlvr::transformer_policy({.d_model = 10, .n_heads = 3}), Catch::Contains("n_heads = 3"));
  auto cache = m.make_cache(1);
  const token_t t = 9;
  CHECK_THROWS_AS(m.decode(cache, {&t, 1}, {logits.data(), 1, 7}), rlvr::range_error);
}

TEST_CASE("transformer: Adam fits a fixed sequence (cross-entropy falls tenfold)", "[policies][transformer]") {
  rlvr::transformer_policy m({.vocab_size = 8, .context_length = 8, .d_model = 16, .n_layers = 1, .n_heads = 2,
                              .seed = 5, .threads = 1});
  rlvr::adam opt({.lr = 1e-2});
  const std::vector<token_t> seq{0, 3, 1, 4, 1, 5, 2, 6};
  const index_t T = 8, V = 8;
  std::vector<float> logits(T * V), d(T * V);
  auto loss_and_grad = [&] {
    m.forward({{seq.data(), 1, T}, {}}, {logits.data(), T, V});
    double L = 0;
    std::fill(d.begin(), d.end(), 0.0f);
    for (index_t t = 0; t + 1 < T; ++t) {
      const std::span<const float> row(logits.data() + t * V, V);
      const token_t y = seq[static_cast<std::size_t>(t + 1)];
      L -= rlvr::log_softmax_at(row, y);
      const float mx = *std::max_element(row.begin(), row.end());
      double s = 0;
      for (float z : row) s += std::exp(double(z - mx));
      for (index_t v = 0; v < V; ++v)
        d[static_cast<std::size_t>(t * V + v)] =
            static_cast<float>((std::exp(double(row[static_cast<std::size_t>(v)] - mx)) / s - (v == y)) / (T - 1));
    }
    return L / (T - 1);
  };
  const double L0 = loss_and_grad();
  double L = L0;
  for (int it = 0; it < 150; ++it) {
    m.zero_grad();
    L = loss_and_grad();
    m.backward({d.data(), T, V});
    opt.step(m.parameters());
  }
  INFO("loss " << L0 << " -> " << L);
  CHECK(L < 0.1 * L0);
}

TEST_CASE("transformer: forward_inference agrees with forward in bounded memory", "[policies][transformer]") {
  rlvr::transformer_policy m(small_config(true));
  const index_t B = 7, T = 5, V = 7, N = B * T;
  const auto toks = random_tokens(N, V, 31);
  std::vector<rlvr::mask_t> mask(static_cast<std::size_t>(N), 1);
  mask[3] = 0;
  const rlvr::token_batch batch{{toks.data(), B, T}, {mask.data(), B, T}};
  std::vector<float> l1(static_cast<std::size_t>(N * V)), v1(static_cast<std::size_t>(N)), l2(l1.size(), 5.0f),
      v2(v1.size());
  m.forward(batch, {l1.data(), N, V}, {v1.data(), N});
  m.forward_inference(batch, {l2.data(), N, V}, {v2.data(), N}, 3); // chunks of 3, 3, 1 sequences
  for (std::size_t i = 0; i < l1.size(); ++i) REQUIRE(l2[i] == Approx(l1[i]).margin(1e-6));
  for (std::size_t i = 0; i < v1.size(); ++i) REQUIRE(v2[i] == Approx(v1[i]).margin(1e-6));
  CHECK_THROWS_AS(m.backward({l1.data(), N, V}), rlvr::config_error); // no activations kept
  std::vector<float> l3(l1.size());
  m.forward_inference(batch, {l3.data(), N, V});
  for (std::size_t i = 0; i < l1.size(); ++i) // values optional; one chunk of 7 vs 3+3+1: GEMM blocks move
    REQUIRE(l3[i] == Approx(l2[i]).margin(1e-6));
}

TEST_CASE("transformer: retained cache rows continue their own sequences", "[policies][transformer][decode]") {
  rlvr::transformer_policy m(small_config(false));
  const index_t V = 7, B = 4, T = 5;
  const auto toks = random_tokens(B * T, V, 41);
  std::vector<float> full(static_cast<std::size_t>(B * T * V));
  m.forward({{toks.data(), B, T}, {}}, {full.data(), B * T, V});
  auto cache = m.make_cache(B);
  std::vector<float> out(static_cast<std::size_t>(B * V));
  std::vector<token_t> col(B);
  for (index_t t = 0; t < 2; ++t) {
    for (index_t b = 0; b < B; ++b) col[static_cast<std::size_t>(b)] = toks[static_cast<std::size_t>(b * T + t)];
    m.decode(cache, {col.data(), B}, {out.data(), B, V});
  }
  const std::vector<index_t> keep{1, 3}; // sequences 0 and 2 finished
  cache.retain(keep);
  CHECK(cache.batch() == 2);
  for (index_t t = 2; t < T; ++t) {
    for (std::size_t k = 0; k < keep.size(); ++k) col[k] = toks[static_cast<std::size_t>(keep[k] * T + t)];
    m.decode(cache, {col.data(), 2}, {out.data(), 2, V});
    for (std::size_t k = 0; k < keep.size(); ++k)
      for (index_t v = 0; v < V; ++v)
        REQUIRE(out[k * static_cast<std::size_t>(V) + static_cast<std::size_t>(v)] ==
                Approx(full[static_cast<std::size_t>((keep[k] * T + t) * V + v)]).margin(1e-5));
  }
  const std::vector<index_t> bad{1, 1};
  CHECK_THROWS_AS(cache.retain(bad), rlvr::range_error);
  const std::vector<index_t> out_of_range{2};
  CHECK_THROWS_AS(cache.retain(out_of_range), rlvr::range_error);
}
