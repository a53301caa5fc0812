// The fused LM head (rlvr/fused_linear.hpp): equality with the unfused path (logits GEMM →
// loss_and_grad → two gradient GEMMs) for every ready-made objective and two zoo ones, on the
// serial and Eigen backends, in float (1e-5 relative) and double (1e-12), for chunks of 1, 7,
// 13 and > V, temperature ≠ 1, masked rows (whose hidden states are NaN and must not be read),
// with and without a bias; a batch-level objective (GSPO); forward-only equality with
// log_prob_entropy; independence of the thread count; accumulation; one bad input per argument.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <rlvr/backends/eigen.hpp>
#include <rlvr/backends/serial.hpp>
#include <rlvr/fused_linear.hpp>
#include <rlvr/loss.hpp>
#include <string>
#include <vector>

namespace {
using rlvr::index_t;

// A random LM head and rollout batch: B responses of 1–4 tokens (N in total), hidden size d,
// vocabulary V.
template <class T> struct head_data {
  index_t n = 0, d = 0, v = 0, b = 0;
  std::vector<T> h, w, bias;
  std::vector<rlvr::token_t> y;
  std::vector<std::int32_t> seq;
  std::vector<T> rewards, old_logp, ref_logp, values;
  std::vector<std::int64_t> groups;

  head_data(index_t responses, index_t d_, index_t v_, std::uint64_t seed) : d(d_), v(v_), b(responses) {
    std::mt19937_64 rng(seed);
    std::normal_distribution<double> nd(0.0, 1.0);
    std::uniform_int_distribution<int> len(1, 4);
    for (index_t i = 0; i < b; ++i) {
      const int l = len(rng);
      for (int t = 0; t < l; ++t) seq.push_back(static_cast<std::int32_t>(i));
      rewards.push_back(static_cast<T>(rng() % 2));
      groups.push_back(static_cast<std::int64_t>(i % 3));
    }
    n = static_cast<index_t>(seq.size());
    for (index_t i = 0; i < n * d; ++i) h.push_back(static_cast<T>(nd(rng)));
    for (index_t i = 0; i < v * d; ++i) w.push_back(static_cast<T>(0.8 * nd(rng)));
    for (index_t i = 0; i < v; ++i) bias.push_back(static_cast<T>(0.5 * nd(rng)));
    std::uniform_int_distribution<int> tok(0, static_cast<int>(v - 1));
    for (index_t t = 0; t < n; ++t) {
      y.push_back(tok(rng));
      old_logp.push_back(static_cast<T>(-2.5 + 0.3 * nd(rng)));
      ref_logp.push_back(static_cast<T>(-2.4 + 0.3 * nd(rng)));
      values.push_back(static_cast<T>(0.2 * nd(rng)));
    }
  }
  rlvr::matrix_view<const T> hidden() const { return {h.data(), n, d}; }
  rlvr::matrix_view<const T> weight() const { return {w.data(), v, d}; }
  rlvr::advantage_input<T> adv_input() const {
    return {.rewards = rewards, .group_ids = groups, .seq = seq, .values = values, .old_logp = old_logp, .ref_logp = ref_logp};
  }
  // z = H·Wᵀ + b, accumulated in double (the unfused path's logits)
  std::vector<T> logits(bool with_bias) const {
    std::vector<T> z(static_cast<std::size_t>(n * v));
    for (index_t t = 0; t < n; ++t)
      for (index_t j = 0; j < v; ++j) {
        double s = with_bias ? static_cast<double>(bias[static_cast<std::size_t>(j)]) : 0.0;
        for (index_t k = 0; k < d; ++k)
          s += static_cast<double>(h[static_cast<std::size_t>(t * d + k)]) * static_cast<double>(w[static_cast<std::size_t>(j * d + k)]);
        z[static_cast<std::size_t>(t * v + j)] = static_cast<T>(s);
      }
    return z;
  }
};

template <class T> double max_abs(const std::vector<T>& a) {
  double m = 0;
  for (T x : a) m = std::max(m, std::abs(static_cast<double>(x)));
  return m;
}
// max |a − b| ≤ tol · max(|ref|, tiny)
template <class T> void check_close(const std::vector<T>& a, const std::vector<T>& ref, double tol, const char* what) {
  REQUIRE(a.size() == ref.size());
  double worst = 0;
  for (std::size_t i = 0; i < a.size(); ++i) worst = std::max(worst, std::abs(static_cast<double>(a[i]) - static_cast<double>(ref[i])));
  INFO(what << ": max |fused - unfused| = " << worst << ", scale " << max_abs(ref));
  CHECK(worst <= tol * std::max(max_abs(ref), 1e-30));
}

template <class T> struct grads {
  std::vector<T> gh, gw, gb, logp, ent, loss;
  rlvr::loss_diagnostics diag;
};

struct setup {
  double tau = 1.0;
  index_t chunk = rlvr::default_vocab_chunk;
  bool bias = true;
  bool masked = false;
};

// The batch of `d` for objective O (active flags in `act`, which `masked` thins out).
template <class O, class T>
rlvr::loss_token_batch<T> make_batch(const head_data<T>& d, const rlvr::advantage_result<T>& adv, std::vector<std::uint8_t>& act,
                                     bool masked) {
  act = adv.act;
  if (masked)
    for (index_t t = 1; t < d.n; t += 3)
      for (index_t c = 0; c < O::components; ++c) act[static_cast<std::size_t>(c * d.n + t)] = 0;
  rlvr::loss_token_batch<T> tb{};
  tb.targets = d.y;
  tb.advantages = adv.advantages();
  tb.active = {act.data(), O::components, d.n};
  tb.seq = d.seq;
  tb.num_sequences = d.b;
  tb.old_logp = d.old_logp;
  if (O::uses_ref_logp) tb.ref_logp = d.ref_logp;
  return tb;
}

// The unfused path: materialised logits, loss_and_grad, dH = G·W, dW = Gᵀ·H, db = Σ_t G.
template <class B, class O, class T>
grads<T> unfused(const B& be, const O& obj, const head_data<T>& d, rlvr::loss_token_batch<T> tb, const setup& s) {
  const std::vector<T> z = d.logits(s.bias);
  std::vector<T> g(z.size());
  grads<T> r;
  r.logp.assign(static_cast<std::size_t>(d.n), T(0));
  r.ent = r.loss = r.logp;
  tb.logits = {z.data(), d.n, d.v};
  r.diag = rlvr::loss_and_grad(be, obj, tb, rlvr::matrix_view<T>(g.data(), d.n, d.v), {.temperature = s.tau},
                               {.logp = r.logp, .entropy = r.ent, .loss = r.loss});
  r.gh.assign(static_cast<std::size_t>(d.n * d.d), T(0));
  r.gw.assign(static_cast<std::size_t>(d.v * d.d), T(0));
  r.gb.assign(static_cast<std::size_t>(d.v), T(0));
  std::vector<double> gw(r.gw.size(), 0.0), gb(r.gb.size(), 0.0);
  for (index_t t = 0; t < d.n; ++t) {
    bool zero = true;
    for (index_t j = 0; j < d.v; ++j) zero = zero && g[static_cast<std::size_t>(t * d.v + j)] == T(0);
    if (zero) continue; // inactive rows (their hidden states may be NaN)
    for (index_t k = 0; k < d.d; ++k) {
      double s2 = 0;
      for (index_t j = 0; j < d.v; ++j)
        s2 += static_cast<double>(g[static_cast<std::size_t>(t * d.v + j)]) * static_cast<double>(d.w[static_cast<std::size_t>(j * d.d + k)]);
      r.gh[static_cast<std::size_t>(t * d.d + k)] = static_cast<T>(s2);
    }
    for (index_t j = 0; j < d.v; ++j) {
      const double gj = static_cast<double>(g[static_cast<std::size_t>(t * d.v + j)]);
      gb[static_cast<std::size_t>(j)] += gj;
      for (index_t k = 0; k < d.d; ++k) gw[static_cast<std::size_t>(j * d.d + k)] += gj * static_cast<double>(d.h[static_cast<std::size_t>(t * d.d + k)]);
    }
  }
  for (std::size_t i = 0; i < gw.size(); ++i) r.gw[i] = static_cast<T>(gw[i]);
  for (std::size_t i = 0; i < gb.size(); ++i) r.gb[i] = static_cast<T>(gb[i]);
  return r;
}

template <class B, class O, class T>
grads<T> fused(const B& be, const O& obj, const head_data<T>& d, const rlvr::loss_token_batch<T>& tb, const setup& s) {
  grads<T> r;
  r.gh.assign(static_cast<std::size_t>(d.n * d.d), T(7)); // overwritten, not accumulated
  r.gw.assign(static_cast<std::size_t>(d.v * d.d), T(7));
  r.gb.assign(static_cast<std::size_t>(d.v), T(7));
  r.logp.assign(static_cast<std::size_t>(d.n), T(7));
  r.ent = r.loss = r.logp;
  const rlvr::vector_view<const T> bias = s.bias ? rlvr::vector_view<const T>(d.bias.data(), d.v) : rlvr::vector_view<const T>{};
  r.diag = rlvr::fused_linear_loss_and_grad(be, obj, d.hidden(), d.weight(), bias, tb,
                                            rlvr::matrix_view<T>(r.gh.data(), d.n, d.d),
                                            rlvr::matrix_view<T>(r.gw.data(), d.v, d.d), rlvr::vector_view<T>(r.gb),
                                            {.loss = {.temperature = s.tau}, .vocab_chunk = s.chunk},
                                            {.logp = r.logp, .entropy = r.ent, .loss = r.loss});
  return r;
}

template <class T> double tolerance() { return std::is_same_v<T, float> ? 1e-5 : 1e-12; }

template <class B, class O, class T> void check_objective(const B& be, const O& obj, std::uint64_t seed, const setup& s) {
  head_data<T> d(9, 6, 29, seed);
  const auto adv = rlvr::estimate_advantages(obj, d.adv_input());
  std::vector<std::uint8_t> act;
  const auto tb = make_batch<O>(d, adv, act, s.masked);
  if (s.masked) // inactive rows are never read: poison their hidden states
    for (index_t t = 0; t < d.n; ++t) {
      bool any = false;
      for (index_t c = 0; c < O::components; ++c) any = any || act[static_cast<std::size_t>(c * d.n + t)] != 0;
      if (!any)
        for (index_t k = 0; k < d.d; ++k) d.h[static_cast<std::size_t>(t * d.d + k)] = std::numeric_limits<T>::quiet_NaN();
    }
  const grads<T> ref = unfused(be, obj, d, tb, s);
  const grads<T> got = fused(be, obj, d, tb, s);
  const double tol = tolerance<T>();
  INFO("tau " << s.tau << ", chunk " << s.chunk << ", bias " << s.bias << ", masked " << s.masked);
  check_close(got.gh, ref.gh, tol, "grad_hidden");
  check_close(got.gw, ref.gw, tol, "grad_weight");
  check_close(got.gb, ref.gb, tol, "grad_bias");
  check_close(got.logp, ref.logp, tol, "logp");
  check_close(got.ent, ref.ent, tol, "entropy");
  check_close(got.loss, ref.loss, tol, "per-token loss");
  CHECK(got.diag.loss == Approx(ref.diag.loss).epsilon(tol).margin(tol));
  CHECK(got.diag.mean_entropy == Approx(ref.diag.mean_entropy).epsilon(tol));
  CHECK(got.diag.mean_logp == Approx(ref.diag.mean_logp).epsilon(tol));
  CHECK(got.diag.approx_kl == Approx(ref.diag.approx_kl).epsilon(tol).margin(tol));
  CHECK(got.diag.ref_kl == Approx(ref.diag.ref_kl).epsilon(tol).margin(tol));
  CHECK(got.diag.clip_frac_low == ref.diag.clip_frac_low);
  CHECK(got.diag.clip_frac_high == ref.diag.clip_frac_high);
  CHECK(got.diag.active_tokens == ref.diag.active_tokens);
  CHECK(got.diag.rows == ref.diag.rows);
  CHECK(got.diag.mean_gate == Approx(ref.diag.mean_gate).epsilon(tol));
}

template <class B, class T, class O> void sweep(const B& be, const O& obj, std::uint64_t seed) {
  for (const index_t chunk : {index_t{1}, index_t{7}, index_t{13}, index_t{64}}) check_objective<B, O, T>(be, obj, seed, {.chunk = chunk});
  check_objective<B, O, T>(be, obj, seed + 1, {.tau = 0.7, .chunk = 7});
  check_objective<B, O, T>(be, obj, seed + 2, {.tau = 1.3, .chunk = 13, .bias = false});
  check_objective<B, O, T>(be, obj, seed + 3, {.tau = 0.7, .chunk = 7, .masked = true});
  check_objective<B, O, T>(be, obj, seed + 4, {.chunk = 64, .bias = false, .masked = true});
}

template <class B, class T> void every_objective(const B& be) {
  SECTION("psr") { sweep<B, T>(be, rlvr::psr(), 11); }
  SECTION("nsr") { sweep<B, T>(be, rlvr::nsr(), 12); }
  SECTION("w_reinforce") { sweep<B, T>(be, rlvr::w_reinforce(), 13); }
  SECTION("reinforce") { sweep<B, T>(be, rlvr::reinforce(), 14); }
  SECTION("ppo") { sweep<B, T>(be, rlvr::ppo({.entropy = {.coef = 0.01}}), 15); }
  SECTION("grpo") { sweep<B, T>(be, rlvr::grpo({.entropy = {.coef = 0.02}}), 16); }
  SECTION("dr_grpo") { sweep<B, T>(be, rlvr::dr_grpo({.max_length = 8, .entropy = {.coef = 0.01}}), 17); }
  SECTION("cispo") { sweep<B, T>(be, rlvr::methods::cispo(), 18); }
  SECTION("sapo") { sweep<B, T>(be, rlvr::methods::sapo(), 19); }
  SECTION("gspo (batch-level part: sequence ratios from the read pass)") { sweep<B, T>(be, rlvr::methods::gspo(), 20); }
  SECTION("psr + nsr (two components)") { sweep<B, T>(be, 1.0 * rlvr::psr() + 0.5 * rlvr::nsr(), 21); }
}
} // namespace

TEST_CASE("fused LM head equals the unfused path: serial backend, double", "[objectives][backends][fused_linear]") {
  every_objective<rlvr::serial_backend, double>(rlvr::serial_backend{});
}
TEST_CASE("fused LM head equals the unfused path: serial backend, float", "[objectives][backends][fused_linear]") {
  every_objective<rlvr::serial_backend, float>(rlvr::serial_backend{});
}
TEST_CASE("fused LM head equals the unfused path: Eigen backend, double", "[objectives][backends][fused_linear]") {
  every_objective<rlvr::eigen_backend, double>(rlvr::eigen_backend{.threads = 2});
}
TEST_CASE("fused LM head equals the unfused path: Eigen backend, float", "[objectives][backends][fused_linear]") {
  every_objective<rlvr::eigen_backend, float>(rlvr::eigen_backend{.threads = 2});
}

TEST_CASE("fused forward-only log-probs equal log_prob_entropy on the materialised logits", "[objectives][backends][fused_linear]") {
  head_data<double> d(12, 5, 31, 3);
  for (const bool with_bias : {true, false})
    for (const index_t chunk : {index_t{1}, index_t{7}, index_t{100}})
      for (const double tau : {1.0, 0.6}) {
        const std::vector<double> z = d.logits(with_bias);
        std::vector<double> lp(static_cast<std::size_t>(d.n)), en(lp.size()), lp2(lp.size()), en2(lp.size());
        rlvr::log_prob_entropy(rlvr::serial_backend{}, rlvr::matrix_view<const double>(z.data(), d.n, d.v),
                               rlvr::vector_view<const rlvr::token_t>(d.y), rlvr::vector_view<double>(lp),
                               rlvr::vector_view<double>(en), tau);
        const rlvr::vector_view<const double> b = with_bias ? rlvr::vector_view<const double>(d.bias) : rlvr::vector_view<const double>{};
        rlvr::fused_linear_log_prob_entropy(rlvr::serial_backend{}, d.hidden(), d.weight(), b,
                                            rlvr::vector_view<const rlvr::token_t>(d.y), rlvr::vector_view<double>(lp2),
                                            rlvr::vector_view<double>(en2), tau, chunk);
        check_close(lp2, lp, 1e-12, "logp (serial)");
        check_close(en2, en, 1e-12, "entropy (serial)");
        // float on the Eigen backend, entropy not wanted
        std::vector<float> zf(z.begin(), z.end()), hf(d.h.begin(), d.h.end()), wf(d.w.begin(), d.w.end()), bf(d.bias.begin(), d.bias.end());
        std::vector<float> lf(lp.size()), ef(lp.size()), lf2(lp.size());
        rlvr::log_prob_entropy(rlvr::eigen_backend{.threads = 2}, rlvr::matrix_view<const float>(zf.data(), d.n, d.v),
                               rlvr::vector_view<const rlvr::token_t>(d.y), rlvr::vector_view<float>(lf),
                               rlvr::vector_view<float>(ef), tau);
        rlvr::fused_linear_log_prob_entropy(rlvr::eigen_backend{.threads = 2}, rlvr::matrix_view<const float>(hf.data(), d.n, d.d),
                                            rlvr::matrix_view<const float>(wf.data(), d.v, d.d),
                                            with_bias ? rlvr::vector_view<const float>(bf) : rlvr::vector_view<const float>{},
                                            rlvr::vector_view<const rlvr::token_t>(d.y), rlvr::vector_view<float>(lf2),
                                            rlvr::vector_view<float>{}, tau, chunk);
        check_close(lf2, lf, 1e-5, "logp (eigen, float)");
      }
}

TEST_CASE("fused LM head: results do not depend on the thread count; accumulate adds", "[objectives][backends][fused_linear]") {
  // N > 64 rows (several row blocks), V > 256 (several dW tiles), chunk not dividing V
  head_data<float> d(90, 16, 300, 5);
  const auto obj = rlvr::grpo({.entropy = {.coef = 0.01}});
  const auto adv = rlvr::estimate_advantages(obj, d.adv_input());
  std::vector<std::uint8_t> act;
  const auto tb = make_batch<rlvr::grpo_objective>(d, adv, act, true);
  const setup s{.tau = 0.8, .chunk = 97};
  const auto g1 = fused(rlvr::eigen_backend{.threads = 1}, obj, d, tb, s);
  const auto g2 = fused(rlvr::eigen_backend{.threads = 2}, obj, d, tb, s);
  const auto g3 = fused(rlvr::eigen_backend{.threads = 3}, obj, d, tb, s);
  CHECK(g1.gh == g2.gh);
  CHECK(g1.gw == g2.gw);
  CHECK(g1.gb == g2.gb);
  CHECK(g1.gh == g3.gh);
  CHECK(g1.gw == g3.gw);
  CHECK(g1.diag.loss == g2.diag.loss);
  check_close(g1.gw, unfused(rlvr::eigen_backend{.threads = 2}, obj, d, tb, s).gw, 1e-5, "grad_weight, N = 90x300");

  // accumulate: a second call with accumulate = true doubles every gradient
  grads<float> acc = g2;
  rlvr::fused_linear_loss_and_grad(rlvr::eigen_backend{.threads = 2}, obj, d.hidden(), d.weight(),
                                   rlvr::vector_view<const float>(d.bias), tb, rlvr::matrix_view<float>(acc.gh.data(), d.n, d.d),
                                   rlvr::matrix_view<float>(acc.gw.data(), d.v, d.d), rlvr::vector_view<float>(acc.gb),
                                   {.loss = {.temperature = 0.8}, .vocab_chunk = 97, .accumulate = true});
  for (auto* p : {&g2.gh, &g2.gw, &g2.gb}) {
    std::vector<float> twice(*p);
    for (float& x : twice) x *= 2;
    const auto& got = p == &g2.gh ? acc.gh : p == &g2.gw ? acc.gw : acc.gb;
    check_close(got, twice, 1e-6, "accumulated");
  }
  // no grad_bias wanted
  std::vector<float> gh(d.h.size()), gw(d.w.size());
  const auto dg = rlvr::fused_linear_loss_and_grad(rlvr::eigen_backend{.threads = 2}, obj, d.hidden(), d.weight(),
                                                   rlvr::vector_view<const float>(d.bias), tb,
                                                   rlvr::matrix_view<float>(gh.data(), d.n, d.d),
                                                   rlvr::matrix_view<float>(gw.data(), d.v, d.d), rlvr::vector_view<float>{},
                                                   {.loss = {.temperature = 0.8}, .vocab_chunk = 97});
  CHECK(gh == g2.gh);
  CHECK(gw == g2.gw);
  CHECK(dg.loss == g2.diag.loss);
}

TEST_CASE("fused LM head: a [d, V] weight (weight_layout::d_by_v) gives the numbers of its [V, d] transpose",
          "[objectives][backends][fused_linear]") {
  // masked rows, a bias, a chunk not dividing V, several dW tiles, accumulate; float and the
  // forward-only entry point
  head_data<float> d(90, 16, 300, 6);
  const auto obj = rlvr::grpo({.entropy = {.coef = 0.01}});
  const auto adv = rlvr::estimate_advantages(obj, d.adv_input());
  std::vector<std::uint8_t> act;
  const auto tb = make_batch<rlvr::grpo_objective>(d, adv, act, true);
  const rlvr::eigen_backend be{.threads = 2};
  const setup s{.tau = 0.8, .chunk = 97};
  const auto ref = fused(be, obj, d, tb, s);
  std::vector<float> wt(d.w.size()); // W' = Wᵀ, [d, V]
  for (index_t v = 0; v < d.v; ++v)
    for (index_t j = 0; j < d.d; ++j) wt[static_cast<std::size_t>(j * d.v + v)] = d.w[static_cast<std::size_t>(v * d.d + j)];
  std::vector<float> gh(d.h.size(), 0.5f), gwt(d.w.size(), 0.25f), gb(d.bias.size(), -1.0f);
  const rlvr::fused_linear_options opt{.loss = {.temperature = 0.8}, .vocab_chunk = 97, .layout = rlvr::weight_layout::d_by_v};
  const auto diag = rlvr::fused_linear_loss_and_grad(
      be, obj, d.hidden(), rlvr::matrix_view<const float>(wt.data(), d.d, d.v), rlvr::vector_view<const float>(d.bias), tb,
      rlvr::matrix_view<float>(gh.data(), d.n, d.d), rlvr::matrix_view<float>(gwt.data(), d.d, d.v),
      rlvr::vector_view<float>(gb), opt);
  CHECK(diag.loss == Approx(ref.diag.loss).epsilon(1e-6));
  check_close(gh, ref.gh, 1e-5, "grad_hidden, d_by_v");
  std::vector<float> gw_back(d.w.size()); // transpose ∂L/∂W' back to [V, d]
  for (index_t v = 0; v < d.v; ++v)
    for (index_t j = 0; j < d.d; ++j) gw_back[static_cast<std::size_t>(v * d.d + j)] = gwt[static_cast<std::size_t>(j * d.v + v)];
  check_close(gw_back, ref.gw, 1e-5, "grad_weight, d_by_v");
  check_close(gb, ref.gb, 1e-5, "grad_bias, d_by_v");

  // accumulate adds to the [d, V] gradient
  std::vector<float> gwt2 = gwt;
  std::vector<float> gh2 = gh;
  rlvr::fused_linear_options acc = opt;
  acc.accumulate = true;
  rlvr::fused_linear_loss_and_grad(be, obj, d.hidden(), rlvr::matrix_view<const float>(wt.data(), d.d, d.v),
                                   rlvr::vector_view<const float>(d.bias), tb, rlvr::matrix_view<float>(gh2.data(), d.n, d.d),
                                   rlvr::matrix_view<float>(gwt2.data(), d.d, d.v), rlvr::vector_view<float>{}, acc);
  for (float& x : gwt) x *= 2;
  for (float& x : gh) x *= 2;
  check_close(gwt2, gwt, 1e-6, "accumulated grad_weight, d_by_v");
  check_close(gh2, gh, 1e-6, "accumulated grad_hidden, d_by_v");

  // forward only
  std::vector<float> lp(static_cast<std::size_t>(d.n)), en(static_cast<std::size_t>(d.n)), lp_ref(lp), en_ref(en);
  rlvr::fused_linear_log_prob_entropy(be, d.hidden(), d.weight(), rlvr::vector_view<const float>(d.bias), d.y,
                                      rlvr::vector_view<float>(lp_ref), rlvr::vector_view<float>(en_ref), 0.8, 97);
  rlvr::fused_linear_log_prob_entropy(be, d.hidden(), rlvr::matrix_view<const float>(wt.data(), d.d, d.v),
                                      rlvr::vector_view<const float>(d.bias), d.y, rlvr::vector_view<float>(lp),
                                      rlvr::vector_view<float>(en), 0.8, 97, rlvr::weight_layout::d_by_v);
  check_close(lp, lp_ref, 1e-5, "log-probs, d_by_v");
  check_close(en, en_ref, 1e-5, "entropies, d_by_v");

  // shapes: a [V, d] weight given as d_by_v is refused, naming the layout
  CHECK_THROWS_WITH(rlvr::fused_linear_loss_and_grad(be, obj, d.hidden(), d.weight(), rlvr::vector_view<const float>(d.bias),
                                                     tb, rlvr::matrix_view<float>(gh.data(), d.n, d.d),
                                                     rlvr::matrix_view<float>(gwt.data(), d.v, d.d),
                                                     rlvr::vector_view<float>{}, opt),
                    Catch::Contains("d x V (weight_layout d_by_v)"));
}

TEST_CASE("fused LM head: bad input names the argument", "[objectives][backends][fused_linear]") {
  head_data<double> d(4, 3, 11, 9);
  const auto obj = rlvr::grpo();
  const auto adv = rlvr::estimate_advantages(obj, d.adv_input());
  std::vector<std::uint8_t> act;
  const auto tb = make_batch<rlvr::grpo_objective>(d, adv, act, false);
  std::vector<double> gh(d.h.size(), 5.0), gw(d.w.size(), 5.0), gb(d.bias.size(), 5.0);
  const rlvr::serial_backend be;
  struct args {
    rlvr::matrix_view<const double> h, w;
    rlvr::vector_view<const double> b;
    rlvr::loss_token_batch<double> tb;
    rlvr::matrix_view<double> gh, gw;
    rlvr::vector_view<double> gb;
    rlvr::fused_linear_options opt{};
  };
  const args good{d.hidden(), d.weight(), rlvr::vector_view<const double>(d.bias), tb, {gh.data(), d.n, d.d},
                  {gw.data(), d.v, d.d}, rlvr::vector_view<double>(gb)};
  const auto call = [&](const args& a) {
    return rlvr::fused_linear_loss_and_grad(be, obj, a.h, a.w, a.b, a.tb, a.gh, a.gw, a.gb, a.opt);
  };
  REQUIRE_NOTHROW(call(good));
  auto a = good;
  a.w = {d.w.data(), d.v, d.d - 1};
  CHECK_THROWS_WITH(call(a), Catch::Contains("fused_linear_loss_and_grad: weight is 11x2") && Catch::Contains("d = 3"));
  CHECK_THROWS_AS(call(a), rlvr::shape_error);
  a = good;
  a.h = {d.h.data(), d.n, 0};
  CHECK_THROWS_WITH(call(a), Catch::Contains("hidden is"));
  a = good;
  a.b = {d.bias.data(), d.v - 1};
  CHECK_THROWS_WITH(call(a), Catch::Contains("bias has length 10 but weight has V = 11"));
  a = good;
  a.tb.targets = {d.y.data(), d.n - 1};
  CHECK_THROWS_WITH(call(a), Catch::Contains("targets has length"));
  std::vector<rlvr::token_t> y_bad = d.y;
  y_bad[2] = 11;
  a = good;
  a.tb.targets = y_bad;
  CHECK_THROWS_WITH(call(a), "[rlvr.range] fused_linear_loss_and_grad: targets[2] = 11 is outside [0, 11)");
  a = good;
  a.tb.logits = {d.h.data(), d.n, d.d};
  CHECK_THROWS_WITH(call(a), Catch::Contains("batch.logits must be empty"));
  a = good;
  a.gh = {gh.data(), d.n - 1, d.d};
  CHECK_THROWS_WITH(call(a), Catch::Contains("grad_hidden is"));
  a = good;
  a.gw = {gw.data(), d.v, d.d + 1};
  CHECK_THROWS_WITH(call(a), Catch::Contains("grad_weight is 11x4 but weight is 11x3"));
  a = good;
  a.gb = {gb.data(), 3};
  CHECK_THROWS_WITH(call(a), Catch::Contains("grad_bias has length 3"));
  a = good;
  a.gw = {const_cast<double*>(d.w.data()), d.v, d.d};
  CHECK_THROWS_WITH(call(a), Catch::Contains("must not overlap"));
  a = good;
  a.opt.vocab_chunk = 0;
  CHECK_THROWS_WITH(call(a), Catch::Contains("vocab_chunk = 0 must be >= 1"));
  CHECK_THROWS_AS(call(a), rlvr::config_error);
  a = good;
  a.opt.loss.temperature = 0;
  CHECK_THROWS_WITH(call(a), Catch::Contains("temperature = 0"));
  a = good;
  a.tb.advantages = {adv.adv.data(), 1, d.n - 1};
  CHECK_THROWS_WITH(call(a), Catch::Contains("fused_linear_loss_and_grad: advantages are"));

  // a NaN hidden state in an active row: numerical error naming the row, gradients untouched
  std::fill(gh.begin(), gh.end(), 5.0);
  std::fill(gw.begin(), gw.end(), 5.0);
  head_data<double> bad = d;
  bad.h[static_cast<std::size_t>(2 * d.d + 1)] = std::numeric_limits<double>::quiet_NaN();
  a = good;
  a.h = bad.hidden();
  CHECK_THROWS_WITH(call(a), Catch::Contains("logits row 2 contains NaN"));
  CHECK_THROWS_AS(call(a), rlvr::numerical_error);
  CHECK(gh == std::vector<double>(gh.size(), 5.0));
  CHECK(gw == std::vector<double>(gw.size(), 5.0));

  // forward only
  std::vector<double> lp(static_cast<std::size_t>(d.n));
  const auto fwd = [&](rlvr::matrix_view<const double> h, rlvr::vector_view<double> out, index_t chunk) {
    rlvr::fused_linear_log_prob_entropy(be, h, d.weight(), rlvr::vector_view<const double>{},
                                        rlvr::vector_view<const rlvr::token_t>(d.y), out, rlvr::vector_view<double>{}, 1.0, chunk);
  };
  CHECK_THROWS_WITH(fwd(d.hidden(), {lp.data(), d.n - 1}, 4), Catch::Contains("fused_linear_log_prob_entropy: logp"));
  CHECK_THROWS_WITH(fwd(d.hidden(), rlvr::vector_view<double>(lp), -1), Catch::Contains("vocab_chunk = -1"));
  CHECK_THROWS_WITH(fwd(bad.hidden(), rlvr::vector_view<double>(lp), 4),
                    Catch::Contains("fused_linear_log_prob_entropy: logits row 2 contains NaN"));
}
