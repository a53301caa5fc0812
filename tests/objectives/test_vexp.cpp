// The vectorised exp and row reductions of rlvr/detail/vexp.hpp: accuracy against std::exp over
// the whole range (≤ 1 ulp measured; asserted ≤ 2), exact 0 below underflow, and agreement of
// the row reductions with a scalar double reference, including tails and masked entries.
#include <catch2/catch.hpp>
#include <cmath>
#include <limits>
#include <random>
#include <rlvr/detail/vexp.hpp>
#include <vector>

TEMPLATE_TEST_CASE("simd exp is accurate to 2 ulp over the normal range", "[objectives][vexp]", float, double) {
  using T = TestType;
  const double lo = std::is_same_v<T, float> ? -87.3 : -708.3;
  const double hi = std::is_same_v<T, float> ? 88.7 : 709.4;
  const std::size_t n = 200003;
  std::vector<T> x(n), y(n);
  for (std::size_t i = 0; i < n; ++i) x[i] = static_cast<T>(lo + (hi - lo) * static_cast<double>(i) / static_cast<double>(n - 1));
  rlvr::detail::exp_array(x.data(), y.data(), static_cast<rlvr::index_t>(n));
  double worst = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const long double ref = std::exp(static_cast<long double>(x[i]));
    const double rel = static_cast<double>(std::fabs((static_cast<long double>(y[i]) - ref) / ref));
    worst = std::max(worst, rel);
  }
  CHECK(worst <= 2 * std::numeric_limits<T>::epsilon());
  // special values: −inf and far-below-underflow give exactly 0, +inf gives +inf, 0 gives 1
  const T sp[] = {-std::numeric_limits<T>::infinity(), T(-1000), T(0), std::numeric_limits<T>::infinity(), T(-0.5)};
  T out[5];
  rlvr::detail::exp_array(sp, out, 5);
  CHECK(out[0] == T(0));
  CHECK(out[1] == T(0));
  CHECK(out[2] == T(1));
  CHECK(out[3] == std::numeric_limits<T>::infinity());
  CHECK(out[4] == Approx(std::exp(-0.5)));
}

TEMPLATE_TEST_CASE("row reductions agree with a double reference", "[objectives][vexp]", float, double) {
  using T = TestType;
  std::mt19937_64 rng(7);
  std::normal_distribution<double> nd(0.0, 3.0);
  for (rlvr::index_t n : {1, 5, 17, 2048, 2049, 5000}) {
    std::vector<T> z(static_cast<std::size_t>(n));
    for (auto& v : z) v = static_cast<T>(nd(rng));
    if (n > 3) z[2] = -std::numeric_limits<T>::infinity(); // masked entry
    const T inv_tau = T(0.8);
    const auto s = rlvr::detail::row_lse_entropy(z.data(), n, inv_tau);
    double m = -std::numeric_limits<double>::infinity();
    for (T v : z) m = std::max(m, static_cast<double>(v) * 0.8);
    double rs = 0, rt = 0;
    for (T v : z) {
      const double d = static_cast<double>(v) * static_cast<double>(inv_tau) - m;
      if (std::isinf(d)) continue;
      rs += std::exp(d);
      rt += std::exp(d) * d;
    }
    const double lse = s.m + std::log(s.s), ref_lse = m + std::log(rs);
    CHECK_FALSE(s.bad);
    CHECK(lse == Approx(ref_lse).epsilon(1e-6));
    CHECK((std::log(s.s) - s.t / s.s) == Approx(std::log(rs) - rt / rs).epsilon(1e-5).margin(1e-6));
    // write pass with a = 1, b = 0 is the softmax
    std::vector<T> g(z.size());
    rlvr::detail::row_grad(z.data(), g.data(), n, inv_tau, static_cast<T>(s.m), static_cast<T>(std::log(s.s)), T(1), T(0));
    double total = 0;
    for (T v : g) total += static_cast<double>(v);
    CHECK(total == Approx(1.0).epsilon(1e-5));
    if (n > 3) CHECK(g[2] == T(0));
  }
  // NaN and +inf are flagged
  std::vector<T> bad(100, T(0));
  bad[57] = std::numeric_limits<T>::quiet_NaN();
  CHECK(rlvr::detail::row_lse_entropy(bad.data(), 100, T(1)).bad);
  bad[57] = std::numeric_limits<T>::infinity();
  CHECK(rlvr::detail::row_lse_entropy(bad.data(), 100, T(1)).bad);
}
