#include <catch2/catch.hpp>
#include <rlvr/metrics/pass_at_k.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <cstdint>
#include <vector>

using rlvr::index_t;
using rlvr::problem_counts;

TEST_CASE("pass@k reproduces the spec's test vectors including binomials that overflow a double",
          "[metrics][pass_at_k]") {
  struct tv {
    index_t n, c, k;
    double want;
  };
  // rlvr-math.md §7, plus exact values (Python fractions) where C(n, k) > DBL_MAX.
  const tv vectors[] = {
      {4, 2, 2, 0.8333333333333334},   {4, 1, 1, 0.25},
      {10, 3, 5, 0.9166666666666666},  {256, 1, 1, 0.00390625},
      {256, 1, 256, 1.0},              {256, 10, 16, 0.48180953372048363},
      {64, 32, 8, 0.9976236088972082}, {5, 0, 3, 0.0},
      {5, 5, 1, 1.0},                  {256, 128, 1, 0.5},
      {1030, 3, 515, 0.8753644314868805},   // C(1030, 515) overflows
      {2000, 7, 1000, 0.9922693669001963},  // C(2000, 1000) overflows
      {5000, 100, 50, 0.6376587945752697},
  };
  for (const auto& t : vectors) {
    CAPTURE(t.n, t.c, t.k);
    CHECK(rlvr::pass_at_k(t.n, t.c, t.k) == Approx(t.want).epsilon(1e-14).margin(1e-15));
  }
  // Exact where the spec promises exactness.
  CHECK(rlvr::pass_at_k(256, 1, 256) == 1.0);
  CHECK(rlvr::pass_at_k(5, 0, 3) == 0.0);
  CHECK(rlvr::pass_at_k(4, 1, 1) == 0.25);
}

TEST_CASE("pass^k is C(c k)/C(n k) in product form", "[metrics][pass_at_k]") {
  CHECK(rlvr::pass_hat_k(4, 2, 2) == Approx(1.0 / 6).epsilon(1e-15));
  CHECK(rlvr::pass_hat_k(64, 32, 8) == Approx(0.002376391102791711).epsilon(1e-14));
  CHECK(rlvr::pass_hat_k(1030, 515, 10) == Approx(0.0009344350260473046).epsilon(1e-13));
  CHECK(rlvr::pass_hat_k(5000, 100, 50) == Approx(4.417571514648625e-92).epsilon(1e-12));
  CHECK(rlvr::pass_hat_k(10, 3, 5) == 0.0);
  CHECK(rlvr::pass_hat_k(5, 5, 5) == 1.0);
  // k = 1: both are c/n.
  for (index_t c = 0; c <= 7; ++c) {
    CHECK(rlvr::pass_hat_k(7, c, 1) == Approx(static_cast<double>(c) / 7.0));
    CHECK(rlvr::pass_at_k(7, c, 1) == Approx(static_cast<double>(c) / 7.0).margin(1e-15));
  }
}

TEST_CASE("pass@k is the exact probability over subsets (brute force on small n)", "[metrics][pass_at_k]") {
  // Enumerate all k-subsets of n samples (bitmasks) with c correct ones at the low bits.
  for (index_t n = 1; n <= 10; ++n)
    for (index_t c = 0; c <= n; ++c)
      for (index_t k = 1; k <= n; ++k) {
        long subsets = 0, hit = 0, all = 0;
        for (unsigned m = 0; m < (1u << n); ++m) {
          if (__builtin_popcount(m) != k) continue;
          ++subsets;
          const unsigned corr = m & ((1u << c) - 1u);
          hit += corr != 0;
          all += __builtin_popcount(corr) == k;
        }
        CHECK(rlvr::pass_at_k(n, c, k) == Approx(double(hit) / double(subsets)).epsilon(1e-13).margin(1e-15));
        CHECK(rlvr::pass_hat_k(n, c, k) == Approx(double(all) / double(subsets)).epsilon(1e-13).margin(1e-15));
      }
}

TEST_CASE("curves over k = 1 2 4 ... n and means over problems", "[metrics][pass_at_k]") {
  CHECK(rlvr::curve_ks(256) == std::vector<index_t>{1, 2, 4, 8, 16, 32, 64, 128, 256});
  CHECK(rlvr::curve_ks(1) == std::vector<index_t>{1});
  CHECK(rlvr::curve_ks(12) == std::vector<index_t>{1, 2, 4, 8, 12});
  const std::vector<problem_counts> probs = {{16, 0}, {16, 1}, {16, 8}, {16, 16}};
  const auto curve = rlvr::pass_at_k_curve(probs);
  REQUIRE(curve.size() == 5);
  for (const auto& pt : curve) {
    const double want = (0.0 + rlvr::pass_at_k(16, 1, pt.k) + rlvr::pass_at_k(16, 8, pt.k) + 1.0) / 4.0;
    CHECK(pt.value == Approx(want).epsilon(1e-15));
  }
  CHECK(curve.front().value == Approx((0 + 1 + 8 + 16) / 64.0));
  CHECK(curve.back().value == Approx(0.75));
  for (std::size_t i = 1; i < curve.size(); ++i) CHECK(curve[i].value >= curve[i - 1].value);
  const auto hat = rlvr::pass_hat_k_curve(probs);
  CHECK(hat.back().value == Approx(0.25));
  for (std::size_t i = 1; i < hat.size(); ++i) CHECK(hat[i].value <= hat[i - 1].value);
  // Mixed n: the curve stops at the smallest n.
  const std::vector<problem_counts> mixed = {{8, 2}, {5, 1}};
  CHECK(rlvr::pass_at_k_curve(mixed).back().k == 5);
  CHECK_THROWS_WITH(rlvr::mean_pass_at_k(mixed, 6), Catch::Contains("k = 6 exceeds n = 5"));
}

TEST_CASE("counts from per-sample correctness", "[metrics][pass_at_k]") {
  const std::vector<std::uint8_t> flags = {1, 0, 0, 1, 1, 0, 0, 0};
  const auto pc = rlvr::count_correct(flags);
  CHECK(pc.n == 8);
  CHECK(pc.c == 3);
  const auto rows = rlvr::count_correct(rlvr::matrix_view<const std::uint8_t>(flags.data(), 2, 4));
  REQUIRE(rows.size() == 2);
  CHECK(rows[0].c == 2);
  CHECK(rows[1].c == 1);
  const std::vector<std::uint8_t> bad = {1, 2};
  CHECK_THROWS_WITH(rlvr::count_correct(bad), Catch::Contains("flag 2 at sample 1"));
  CHECK_THROWS_WITH(rlvr::count_correct(std::span<const std::uint8_t>{}), Catch::Contains("n = 0"));
}

TEST_CASE("pass@k bad input names the value", "[metrics][pass_at_k][errors]") {
  CHECK_THROWS_AS(rlvr::pass_at_k(4, 2, 5), rlvr::range_error);
  CHECK_THROWS_WITH(rlvr::pass_at_k(4, 2, 5), Catch::Contains("[rlvr.range] pass_at_k: k = 5 exceeds n = 4"));
  CHECK_THROWS_WITH(rlvr::pass_at_k(0, 0, 1), Catch::Contains("n = 0"));
  CHECK_THROWS_WITH(rlvr::pass_at_k(4, 5, 1), Catch::Contains("c = 5 is outside [0, n = 4]"));
  CHECK_THROWS_WITH(rlvr::pass_at_k(4, -1, 1), Catch::Contains("c = -1"));
  CHECK_THROWS_WITH(rlvr::pass_at_k(4, 1, 0), Catch::Contains("k = 0 must be >= 1"));
  CHECK_THROWS_WITH(rlvr::pass_hat_k(3, 1, 4), Catch::Contains("pass_hat_k: k = 4 exceeds n = 3"));
  const std::vector<problem_counts> none;
  CHECK_THROWS_AS(rlvr::mean_pass_at_k(none, 1), rlvr::shape_error);
  const std::vector<problem_counts> bad = {{4, 1}, {0, 0}};
  CHECK_THROWS_WITH(rlvr::pass_at_k_curve(bad), Catch::Contains("problem 1 has n = 0"));
}

namespace {
// |got − want| in units of the double ulp at `want`.
double ulps(double got, long double want) {
  const double w = static_cast<double>(want);
  const double ulp = std::nextafter(std::abs(w), std::numeric_limits<double>::infinity()) - std::abs(w);
  return static_cast<double>(std::abs(static_cast<long double>(got) - want) / static_cast<long double>(ulp));
}
std::uint64_t binom(std::uint64_t n, std::uint64_t k) { // Pascal's triangle: exact for n ≤ 62 (< 2^63)
  static const std::vector<std::vector<std::uint64_t>> table = [] {
    std::vector<std::vector<std::uint64_t>> t(63);
    for (std::size_t i = 0; i < t.size(); ++i) {
      t[i].assign(i + 1, 1);
      for (std::size_t j = 1; j < i; ++j) t[i][j] = t[i - 1][j - 1] + t[i - 1][j];
    }
    return t;
  }();
  return k > n ? 0 : table[n][k];
}
} // namespace

TEST_CASE("pass@k is within 4 ulp of the exact rational value", "[metrics][pass_at_k][accuracy]") {
  double worst = 0;
  for (std::int64_t n = 1; n <= 62; ++n)
    for (std::int64_t c = 0; c <= n; ++c)
      for (std::int64_t k = 1; k <= n; ++k) {
        const std::uint64_t all = binom(static_cast<std::uint64_t>(n), static_cast<std::uint64_t>(k));
        const std::uint64_t miss = binom(static_cast<std::uint64_t>(n - c), static_cast<std::uint64_t>(k));
        // (all − miss)/all: an exact integer ratio, one long-double rounding
        const long double want = static_cast<long double>(all - miss) / static_cast<long double>(all);
        if (want == 0) {
          CHECK(rlvr::pass_at_k(n, c, k) == 0.0);
          continue;
        }
        worst = std::max(worst, ulps(rlvr::pass_at_k(n, c, k), want));
      }
  INFO("worst error over n <= 62: " << worst << " ulp");
  CHECK(worst <= 4.0);
}

TEST_CASE("pass@k at n = 10^9 stays within 4 ulp (long-double and closed-form references)",
          "[metrics][pass_at_k][accuracy]") {
  const std::int64_t n = 1'000'000'000;
  // k = 1: pass@1 = c/n exactly
  for (std::int64_t c : {1LL, 7LL, 123'456'789LL, 500'000'000LL, 999'999'999LL})
    CHECK(ulps(rlvr::pass_at_k(n, c, 1), static_cast<long double>(c) / static_cast<long double>(n)) <= 4.0);
  // reference: the k-factor form summed in long double (64-bit mantissa) with compensation
  auto reference = [](std::int64_t nn, std::int64_t c, std::int64_t k) {
    long double sum = 0, comp = 0;
    for (std::int64_t j = 0; j < k; ++j) {
      const long double x = std::log1p(-static_cast<long double>(c) / static_cast<long double>(nn - j));
      const long double t = sum + x;
      comp += std::abs(sum) >= std::abs(x) ? (sum - t) + x : (x - t) + sum;
      sum = t;
    }
    return -std::expm1(sum + comp);
  };
  struct tc {
    std::int64_t c, k;
  };
  for (const tc t : {tc{1'000'000, 1000}, tc{300'000'000, 20}, tc{999'000'000, 3}, tc{5, 100}, tc{2000, 1000},
                     tc{1, 999'999'999}}) {
    if (t.k > 100'000) continue; // too long for the reference; covered below
    const long double want = reference(n, t.c, t.k);
    INFO("c = " << t.c << ", k = " << t.k);
    CHECK(ulps(rlvr::pass_at_k(n, t.c, t.k), want) <= 4.0);
  }
  // c = 3 factors (1 − k/i), i = n−2 … n, multiplied in long double: pass@k for k = 10^8
  {
    const long double k = 1e8L, nn = 1e9L;
    const long double q = (1 - k / nn) * (1 - k / (nn - 1)) * (1 - k / (nn - 2));
    CHECK(ulps(rlvr::pass_at_k(n, 3, 100'000'000), 1 - q) <= 4.0);
  }
  // c = 1: pass@k = k/n for every k
  CHECK(ulps(rlvr::pass_at_k(n, 1, 999'999'999), 999'999'999.0L / 1e9L) <= 4.0);
}
