// The xtensor backend against the serial oracle (float and double), its zero-copy adapters, the
// objective entry points and sampling through it.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <utility>
#include <vector>

#include <xtensor/xtensor.hpp>
#include <xtensor/xview.hpp>

#include <rlvr/backends/serial.hpp>
#include <rlvr/backends/xtensor.hpp>
#include <rlvr/loss.hpp>
#include <rlvr/random/philox.hpp>
#include <rlvr/sampling/sampler.hpp>

#include "support/typed.hpp"

namespace {

template <class T> std::vector<T> random_logits(rlvr::index_t n, std::uint64_t seed, double scale) {
  rlvr::philox_engine eng(seed);
  std::vector<T> x(static_cast<std::size_t>(n));
  for (auto& v : x) v = static_cast<T>(scale * (eng.uniform() - 0.5) * 2.0);
  return x;
}

// Records the row statistics and returns fixed coefficients; rows with i % 5 == 4 are inactive.
template <class T> struct probe_epilogue {
  T* lse;
  T* ent;
  T* logp;
  bool active(rlvr::index_t i) const { return i % 5 != 4; }
  rlvr::row_coeffs<T> operator()(rlvr::index_t i, const rlvr::row_stats<T>& s) const {
    lse[i] = s.lse;
    ent[i] = s.entropy;
    logp[i] = s.logp;
    return {T(i % 3 == 0 ? 1.0 : -0.7), T(0.25)};
  }
};

struct case_shape {
  rlvr::index_t rows, cols, stride;
  double scale, tau;
  bool masked;
};

template <class T, class B>
void compare_with_serial(const B& be, const case_shape& c, bool in_place) {
  auto x = random_logits<T>(c.rows * c.stride, 7 + static_cast<std::uint64_t>(c.cols), c.scale);
  std::vector<rlvr::token_t> y(static_cast<std::size_t>(c.rows));
  for (rlvr::index_t i = 0; i < c.rows; ++i) y[static_cast<std::size_t>(i)] = static_cast<rlvr::token_t>((i * 131) % c.cols);
  if (c.masked)
    for (rlvr::index_t i = 0; i < c.rows; ++i)
      for (rlvr::index_t v = 1; v < c.cols; v += 3)
        if (v != y[static_cast<std::size_t>(i)]) x[static_cast<std::size_t>(i * c.stride + v)] = -INFINITY;
  const rlvr::matrix_view<const T> z(x.data(), c.rows, c.cols, c.stride);
  const std::size_t n = static_cast<std::size_t>(c.rows);
  std::vector<T> l1(n), e1(n), p1(n), l2(n), e2(n), p2(n);
  std::vector<T> g1(x.size(), T(0)), g2(x.size(), T(0));
  rlvr::serial_backend{}.fused_rows(z, rlvr::vector_view<const rlvr::token_t>(y), static_cast<T>(c.tau),
                                    probe_epilogue<T>{l1.data(), e1.data(), p1.data()},
                                    rlvr::matrix_view<T>(g1.data(), c.rows, c.cols, c.stride));
  std::vector<T> xin = x; // for the in-place run
  const rlvr::matrix_view<T> g2v = in_place ? rlvr::matrix_view<T>(xin.data(), c.rows, c.cols, c.stride)
                                            : rlvr::matrix_view<T>(g2.data(), c.rows, c.cols, c.stride);
  be.fused_rows(in_place ? rlvr::matrix_view<const T>(xin.data(), c.rows, c.cols, c.stride) : z,
                rlvr::vector_view<const rlvr::token_t>(y), static_cast<T>(c.tau),
                probe_epilogue<T>{l2.data(), e2.data(), p2.data()}, g2v);
  const T tol = rlvr::test::loose_tol<T>();
  for (rlvr::index_t i = 0; i < c.rows; ++i) {
    const auto u = static_cast<std::size_t>(i);
    if (i % 5 == 4) continue;
    CHECK(rlvr::test::close(l2[u], l1[u], tol, tol));
    CHECK(rlvr::test::close(e2[u], e1[u], tol * 10, tol));
    CHECK(rlvr::test::close(p2[u], p1[u], tol * 10, tol * 10));
  }
  double gmax = 0, worst = 0;
  for (rlvr::index_t i = 0; i < c.rows; ++i)
    for (rlvr::index_t v = 0; v < c.cols; ++v)
      gmax = std::max(gmax, std::abs(static_cast<double>(g1[static_cast<std::size_t>(i * c.stride + v)])));
  for (rlvr::index_t i = 0; i < c.rows; ++i)
    for (rlvr::index_t v = 0; v < c.cols; ++v) {
      const auto k = static_cast<std::size_t>(i * c.stride + v);
      const double got = static_cast<double>(in_place ? xin[k] : g2[k]);
      worst = std::max(worst, std::abs(got - static_cast<double>(g1[k])) / gmax);
      if (i % 5 == 4) CHECK(got == 0.0);
    }
  INFO("worst relative gradient difference " << worst);
  // double: the oracle itself rounds u = x − lse at |lse| ≈ 1e4 to ~1e-12
  CHECK(worst < (std::is_same_v<T, float> ? 2e-6 : (c.scale > 100 ? 1e-11 : 1e-13)));
}

using scalars = std::tuple<float, double>;

} // namespace

TEMPLATE_LIST_TEST_CASE("xtensor fused_rows agrees with the serial oracle", "[backends][xtensor]", scalars) {
  using T = TestType;
  const rlvr::xtensor_backend be{.threads = 2};
  for (const auto& c : {case_shape{37, 1000, 1000, 4.0, 1.0, false}, case_shape{20, 5003, 5011, 3.0, 0.6, false},
                        case_shape{16, 4100, 4100, 3.0, 1.0, true}, case_shape{8, 3000, 3000, 1e4, 1.0, false},
                        case_shape{5, 7, 9, 2.0, 1.3, false}}) {
    INFO("rows " << c.rows << " cols " << c.cols << " stride " << c.stride << " scale " << c.scale);
    compare_with_serial<T>(be, c, false);
    compare_with_serial<T>(be, c, true);
  }
}

TEMPLATE_LIST_TEST_CASE("xtensor logp_entropy agrees with the serial oracle and the spec", "[backends][xtensor]",
                        scalars) {
  using T = TestType;
  // rlvr-math.md §6: z = [2, 1, 0], y = 0
  std::vector<T> z{2, 1, 0};
  std::vector<rlvr::token_t> y{0};
  std::vector<T> lp(1), h(1);
  rlvr::xtensor_backend{}.logp_entropy(rlvr::matrix_view<const T>(z.data(), 1, 3), rlvr::vector_view<const rlvr::token_t>(y),
                                       T(1), rlvr::vector_view<T>(lp), rlvr::vector_view<T>(h));
  CHECK(rlvr::test::close(lp[0], static_cast<T>(std::log(0.6652409557748218)), rlvr::test::loose_tol<T>()));
  CHECK(rlvr::test::close(h[0], static_cast<T>(0.8323955818399389), rlvr::test::loose_tol<T>()));
  // bad rows: NaN, +inf, all −inf → NaN statistics (the entry point names the row)
  std::vector<T> bad{0, NAN, 1, INFINITY, 0, 0, -INFINITY, -INFINITY, -INFINITY};
  std::vector<rlvr::token_t> yb{0, 0, 0};
  std::vector<T> lb(3), hb(3);
  rlvr::xtensor_backend{}.logp_entropy(rlvr::matrix_view<const T>(bad.data(), 3, 3),
                                       rlvr::vector_view<const rlvr::token_t>(yb), T(1), rlvr::vector_view<T>(lb),
                                       rlvr::vector_view<T>(hb));
  CHECK((std::isnan(lb[0]) && std::isnan(lb[1]) && std::isnan(lb[2])));
  CHECK_THROWS_AS(rlvr::log_prob_entropy(rlvr::xtensor_backend{}, rlvr::matrix_view<const T>(bad.data(), 3, 3),
                                         rlvr::vector_view<const rlvr::token_t>(yb), rlvr::vector_view<T>(lb),
                                         rlvr::vector_view<T>{}),
                  rlvr::numerical_error);
}

TEST_CASE("results do not depend on the thread count", "[backends][xtensor]") {
  auto x = random_logits<float>(64 * 3001, 3, 5.0);
  std::vector<rlvr::token_t> y(64);
  for (int i = 0; i < 64; ++i) y[static_cast<std::size_t>(i)] = i * 17;
  std::vector<float> a(64), b(64), h1(64), h2(64);
  const rlvr::matrix_view<const float> z(x.data(), 64, 3001);
  rlvr::xtensor_backend{.threads = 1}.logp_entropy(z, rlvr::vector_view<const rlvr::token_t>(y), 1.0f,
                                                   rlvr::vector_view<float>(a), rlvr::vector_view<float>(h1));
  rlvr::xtensor_backend{.threads = 2}.logp_entropy(z, rlvr::vector_view<const rlvr::token_t>(y), 1.0f,
                                                   rlvr::vector_view<float>(b), rlvr::vector_view<float>(h2));
  CHECK(a == b);
  CHECK(h1 == h2);
}

TEST_CASE("xtensor adapters view containers without copies", "[backends][xtensor]") {
  xt::xtensor<float, 2> t = xt::zeros<float>({4, 6});
  auto m = rlvr::xt_matrix(t);
  CHECK(m.data() == t.data());
  CHECK((m.rows() == 4 && m.cols() == 6 && m.row_stride() == 6));
  m(2, 3) = 5.0f;
  CHECK(t(2, 3) == 5.0f);
  // a column block of a wider tensor: strided rows
  auto blk = xt::view(t, xt::all(), xt::range(1, 4));
  auto bm = rlvr::xt_matrix(blk);
  CHECK((bm.cols() == 3 && bm.row_stride() == 6 && bm.data() == t.data() + 1));
  // back: an adaptor over rlvr memory
  auto a = rlvr::as_xtensor(bm);
  CHECK(a(2, 2) == 5.0f);
  a(0, 0) = 7.0f;
  CHECK(t(0, 1) == 7.0f);
  const xt::xtensor<float, 2> tt = xt::transpose(t);
  CHECK(rlvr::xt_matrix(tt).rows() == 6); // evaluated: fine
  auto tr = xt::transpose(t);              // lazy, column-major strides: rejected
  CHECK_THROWS_WITH(rlvr::xt_matrix(tr), Catch::Contains("not row-major"));
  xt::xtensor<int, 1> v = {1, 2, 3};
  auto vv = rlvr::xt_vector(v);
  CHECK((vv.size() == 3 && vv.data() == v.data()));
  CHECK_THROWS_AS(rlvr::xt_vector(t), rlvr::shape_error);
}

TEST_CASE("objectives through the xtensor backend equal the serial oracle", "[backends][xtensor]") {
  const rlvr::index_t n = 48, v = 777;
  auto x = random_logits<double>(n * v, 11, 3.0);
  std::vector<rlvr::token_t> y(n);
  std::vector<double> adv(n), old(n), ref(n);
  std::vector<std::int32_t> seq(n);
  rlvr::philox_engine eng(5);
  for (rlvr::index_t t = 0; t < n; ++t) {
    const auto u = static_cast<std::size_t>(t);
    y[u] = static_cast<rlvr::token_t>(eng.uniform_index(static_cast<std::uint32_t>(v)));
    adv[u] = eng.uniform() - 0.5;
    old[u] = -6.6 + 0.2 * eng.uniform();
    ref[u] = -6.6 + 0.2 * eng.uniform();
    seq[u] = static_cast<std::int32_t>(t / 6);
  }
  rlvr::loss_token_batch<double> batch{.logits = {x.data(), n, v}, .targets = y, .advantages = {adv.data(), 1, n},
                                  .seq = seq, .old_logp = old, .ref_logp = ref};
  std::vector<double> g1(x.size()), g2(x.size());
  const auto d1 = rlvr::loss_and_grad(rlvr::serial_backend{}, rlvr::grpo(), batch, rlvr::matrix_view<double>(g1.data(), n, v));
  const auto d2 = rlvr::loss_and_grad(rlvr::xtensor_backend{.threads = 2}, rlvr::grpo(), batch,
                                      rlvr::matrix_view<double>(g2.data(), n, v));
  CHECK(d2.loss == Approx(d1.loss).epsilon(1e-12));
  CHECK(d2.mean_entropy == Approx(d1.mean_entropy).epsilon(1e-12));
  CHECK(d2.clip_frac_low == d1.clip_frac_low);
  for (std::size_t k = 0; k < g1.size(); ++k) REQUIRE(g2[k] == Approx(g1[k]).margin(1e-14));
  // the entry point's bad-input errors are the backend-independent ones
  std::vector<rlvr::token_t> ybad = y;
  ybad[3] = static_cast<rlvr::token_t>(v);
  batch.targets = ybad;
  CHECK_THROWS_WITH(rlvr::loss_and_grad(rlvr::xtensor_backend{}, rlvr::grpo(), batch,
                                        rlvr::matrix_view<double>(g2.data(), n, v)),
                    Catch::Contains("targets[3] = 777"));
}

TEST_CASE("sampling over xtensor containers equals the host sampler", "[backends][xtensor]") {
  const std::size_t n = 32, v = 5000;
  xt::xtensor<float, 2> logits = xt::empty<float>({n, v});
  const auto x = random_logits<float>(static_cast<rlvr::index_t>(n * v), 21, 6.0);
  std::copy(x.begin(), x.end(), logits.begin());
  const rlvr::sampling_config cfg{.temperature = 0.6, .top_p = 0.95};
  const rlvr::stream_batch streams{.seed = 3};
  const auto draws = rlvr::sample(rlvr::xtensor_backend{.threads = 2}, rlvr::xt_matrix(std::as_const(logits)), cfg, streams);
  const auto ref = rlvr::sample(rlvr::serial_backend{}, rlvr::matrix_view<const float>(x.data(), static_cast<rlvr::index_t>(n),
                                                                                         static_cast<rlvr::index_t>(v)),
                                cfg, streams);
  for (std::size_t i = 0; i < n; ++i) {
    CHECK(draws[i].token == ref[i].token);
    CHECK(draws[i].logprob == ref[i].logprob);
  }
  // the forward-only entry point over xtensor containers (what replaced xt_log_prob_entropy)
  const xt::xtensor<rlvr::token_t, 1> targets = xt::zeros<rlvr::token_t>({n});
  xt::xtensor<float, 1> logp = xt::empty<float>({n}), ent = xt::empty<float>({n});
  rlvr::log_prob_entropy(rlvr::xtensor_backend{}, rlvr::xt_matrix(std::as_const(logits)), rlvr::xt_vector(targets),
                         rlvr::xt_vector(logp), rlvr::xt_vector(ent));
  std::vector<float> lp_ref(n), ent_ref(n);
  const std::vector<rlvr::token_t> y0(n, 0);
  rlvr::log_prob_entropy(rlvr::serial_backend{}, rlvr::matrix_view<const float>(x.data(), static_cast<rlvr::index_t>(n),
                                                                               static_cast<rlvr::index_t>(v)),
                         rlvr::vector_view<const rlvr::token_t>(y0), rlvr::vector_view<float>(lp_ref),
                         rlvr::vector_view<float>(ent_ref));
  for (std::size_t i = 0; i < n; ++i) {
    CHECK(logp(i) == Approx(lp_ref[i]).epsilon(1e-5));
    CHECK(ent(i) == Approx(ent_ref[i]).epsilon(1e-5));
  }
}
