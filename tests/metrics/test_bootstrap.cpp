#include <catch2/catch.hpp>
#include <rlvr/metrics/bootstrap.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

TEST_CASE("bootstrap interval is seeded and thread-count independent and close to the normal theory",
          "[metrics][bootstrap]") {
  // 400 Bernoulli(0.3)-like per-problem values from a Philox stream.
  rlvr::philox_engine eng(11);
  std::vector<double> x(400);
  for (auto& v : x) v = eng.uniform() < 0.3 ? 1.0 : 0.0;
  const auto a = rlvr::bootstrap_mean_ci(x, {.resamples = 4000, .seed = 5, .threads = 1});
  const auto b = rlvr::bootstrap_mean_ci(x, {.resamples = 4000, .seed = 5, .threads = 2});
  CHECK(a.mean == b.mean);
  CHECK(a.low == b.low); // bit-identical for any thread count
  CHECK(a.high == b.high);
  double m = 0;
  for (double v : x) m += v;
  m /= 400;
  CHECK(a.mean == m);
  CHECK(a.low < m);
  CHECK(a.high > m);
  // Normal theory: half-width ≈ 1.96·sqrt(m(1−m)/P) (±10% for 4000 resamples).
  const double hw = 1.959964 * std::sqrt(m * (1 - m) / 400);
  CHECK((a.high - a.low) / 2 == Approx(hw).epsilon(0.1));
  // Another seed moves the interval slightly; the same seed reproduces it.
  const auto c = rlvr::bootstrap_mean_ci(x, {.resamples = 4000, .seed = 6});
  CHECK(c.low != a.low);
  CHECK(rlvr::bootstrap_mean_ci(x, {.resamples = 4000, .seed = 5}).high == a.high);
  // A wider level gives a wider interval.
  const auto w = rlvr::bootstrap_mean_ci(x, {.resamples = 4000, .level = 0.99, .seed = 5});
  CHECK(w.low <= a.low);
  CHECK(w.high >= a.high);
}

TEST_CASE("bootstrap of constant values is degenerate and quantiles interpolate", "[metrics][bootstrap]") {
  const std::vector<double> same(10, 0.25);
  const auto ci = rlvr::bootstrap_mean_ci(same, {.resamples = 100});
  CHECK(ci.low == 0.25);
  CHECK(ci.high == 0.25);
  CHECK(rlvr::detail::quantile_sorted({0.0, 1.0, 2.0, 3.0}, 0.5) == 1.5);
  CHECK(rlvr::detail::quantile_sorted({0.0, 1.0, 2.0, 3.0}, 0.0) == 0.0);
  CHECK(rlvr::detail::quantile_sorted({0.0, 1.0, 2.0, 3.0}, 1.0) == 3.0);
}

TEST_CASE("pass@k curve with intervals", "[metrics][bootstrap]") {
  std::vector<rlvr::problem_counts> probs;
  for (int i = 0; i < 50; ++i) probs.push_back({64, i % 9});
  const auto curve = rlvr::pass_at_k_curve_ci(probs, {.resamples = 500, .seed = 1});
  REQUIRE(curve.size() == 7);
  for (const auto& pt : curve) {
    CHECK(pt.ci.mean == Approx(rlvr::mean_pass_at_k(probs, pt.k)));
    CHECK(pt.ci.low <= pt.ci.mean);
    CHECK(pt.ci.high >= pt.ci.mean);
  }
  const auto hat = rlvr::pass_hat_k_ci(probs, 2, {.resamples = 200});
  CHECK(hat.mean == Approx(rlvr::mean_pass_hat_k(probs, 2)));
}

TEST_CASE("bootstrap bad input", "[metrics][bootstrap][errors]") {
  const std::vector<double> x = {0.1, 0.2};
  CHECK_THROWS_AS(rlvr::bootstrap_mean_ci(std::span<const double>{}), rlvr::shape_error);
  CHECK_THROWS_WITH(rlvr::bootstrap_mean_ci(x, {.resamples = 0}), Catch::Contains("resamples = 0"));
  CHECK_THROWS_WITH(rlvr::bootstrap_mean_ci(x, {.level = 1.0}), Catch::Contains("level = 1 is outside (0, 1)"));
  const std::vector<double> nan = {0.1, std::nan("")};
  CHECK_THROWS_WITH(rlvr::bootstrap_mean_ci(nan), Catch::Contains("value 1 is NaN"));
}

// ---- two levels: runs (seeds) × problems ------------------------------------------------------
namespace {
// The study's original two-level bootstrap (examples/study/report.hpp before it called the
// library) as the reference: the library must reproduce it bit for bit at 0.95. The study is
// built with g++ -O3 -march=native in GNU mode (-ffp-contract=fast), which fused both
// multiply-adds of its percentile interpolation; the reference spells those fusions out with
// std::fma, so that it means the same whatever this test's compiler contracts.
rlvr::confidence_interval reference_two_level(const std::vector<std::vector<double>>& x, rlvr::index_t resamples,
                                              std::uint64_t seed) {
  rlvr::confidence_interval out;
  const auto S = static_cast<std::uint32_t>(x.size());
  const auto P = static_cast<std::uint32_t>(x[0].size());
  double sum = 0;
  for (const auto& row : x)
    for (double v : row) sum += v;
  out.mean = sum / (static_cast<double>(S) * static_cast<double>(P));
  std::vector<double> means(static_cast<std::size_t>(resamples));
  std::vector<std::uint32_t> ss(S), pp(P);
  for (rlvr::index_t r = 0; r < resamples; ++r) {
    rlvr::philox_engine g(seed, static_cast<std::uint64_t>(r));
    for (auto& s : ss) s = g.uniform_index(S);
    for (auto& p : pp) p = g.uniform_index(P);
    double t = 0;
    for (auto s : ss)
      for (auto p : pp) t += x[s][p];
    means[static_cast<std::size_t>(r)] = t / (static_cast<double>(S) * static_cast<double>(P));
  }
  std::sort(means.begin(), means.end());
  auto q = [&](double f) {
    const double pos = f * static_cast<double>(means.size() - 1);
    const auto lo = static_cast<std::size_t>(std::floor(pos));
    const std::size_t hi = std::min(lo + 1, means.size() - 1);
    // means[lo] + (pos − lo) · (means[hi] − means[lo]), as compiled: pos − lo fused with pos's product
    return std::fma(std::fma(f, static_cast<double>(means.size() - 1), -static_cast<double>(lo)),
                    means[hi] - means[lo], means[lo]);
  };
  out.low = q(0.025);
  out.high = q(0.975);
  return out;
}

std::vector<std::vector<double>> random_table(std::size_t rows, std::size_t cols, std::uint64_t seed, bool binary) {
  rlvr::philox_engine eng(seed);
  std::vector<std::vector<double>> x(rows, std::vector<double>(cols));
  for (auto& row : x)
    for (auto& v : row) v = binary ? (eng.uniform() < 0.4 ? 1.0 : 0.0) : eng.uniform() * 3.0 - 1.0;
  return x;
}
} // namespace

TEST_CASE("two-level bootstrap reproduces the study's algorithm bit for bit at 0.95",
          "[metrics][bootstrap][hierarchical]") {
  struct shape {
    std::size_t rows, cols;
    bool binary;
  };
  const shape shapes[] = {{3, 7, false}, {5, 40, true}, {1, 9, false}, {8, 1, false}, {2, 2, true}, {4, 33, false}};
  std::uint64_t seed = 100;
  for (const auto& sh : shapes)
    for (const rlvr::index_t resamples : {rlvr::index_t{1}, rlvr::index_t{2}, rlvr::index_t{777}}) {
      ++seed;
      const auto x = random_table(sh.rows, sh.cols, seed, sh.binary);
      const auto want = reference_two_level(x, resamples, seed ^ 0x5eedu);
      for (const int threads : {1, 2}) {
        const auto got = rlvr::bootstrap_hierarchical_mean_ci(
            x, {.resamples = resamples, .level = 0.95, .seed = seed ^ 0x5eedu, .threads = threads});
        INFO(sh.rows << " x " << sh.cols << ", " << resamples << " resamples, " << threads << " threads");
        CHECK(got.mean == want.mean);
        CHECK(got.low == want.low);
        CHECK(got.high == want.high);
        CHECK(got.level == 0.95);
      }
    }
}

TEST_CASE("two-level bootstrap: closed forms and reductions to one level", "[metrics][bootstrap][hierarchical]") {
  SECTION("a constant table gives a zero-width interval at its value") {
    const std::vector<std::vector<double>> c(4, std::vector<double>(6, 0.375)); // 0.375: sums stay exact
    const auto ci = rlvr::bootstrap_hierarchical_mean_ci(c, {.resamples = 300, .seed = 3});
    CHECK(ci.mean == 0.375);
    CHECK(ci.low == 0.375);
    CHECK(ci.high == 0.375);
  }
  SECTION("rows that are all equal: only the problem draws matter, the seeds' do not") {
    // x[s][p] = v[p] for every s: each resample's mean is the mean of v over its column draws
    const std::vector<double> v = {0.0, 1.0, 0.25, 0.5, 1.0};
    const std::vector<std::vector<double>> x(3, v);
    const auto ci = rlvr::bootstrap_hierarchical_mean_ci(x, {.resamples = 400, .level = 0.5, .seed = 9});
    // the same problem draws by hand: skip the 3 row draws, then 5 column draws
    std::vector<double> means;
    for (std::uint64_t r = 0; r < 400; ++r) {
      rlvr::philox_engine g(9, r);
      for (int s = 0; s < 3; ++s) (void)g.uniform_index(3);
      double t = 0;
      std::vector<std::uint32_t> cols(5);
      for (auto& p : cols) p = g.uniform_index(5);
      for (int s = 0; s < 3; ++s)
        for (auto p : cols) t += v[p];
      means.push_back(t / 15.0);
    }
    std::sort(means.begin(), means.end());
    CHECK(ci.low == rlvr::detail::quantile_sorted_fused(means, 0.25));
    CHECK(ci.high == rlvr::detail::quantile_sorted_fused(means, 0.75));
  }
  SECTION("one column: the one-level bootstrap over the rows, resample for resample") {
    // the row draws come first in each resample's stream, as bootstrap_mean_ci's draws do; the
    // column draw after them changes nothing. At levels 0.5 and 0.75 with 401 resamples the tails
    // fall on order statistics exactly (q·400 is an integer), so no interpolation rounding enters.
    const auto col = random_table(1, 23, 77, false)[0];
    std::vector<std::vector<double>> x;
    for (double v : col) x.push_back({v});
    for (const double level : {0.5, 0.75}) {
      const auto two = rlvr::bootstrap_hierarchical_mean_ci(x, {.resamples = 401, .level = level, .seed = 4});
      const auto one = rlvr::bootstrap_mean_ci(col, {.resamples = 401, .level = level, .seed = 4});
      CHECK(two.mean == one.mean);
      CHECK(two.low == one.low);
      CHECK(two.high == one.high);
    }
  }
  SECTION("one row: the one-level bootstrap over the problems, each stream one word in") {
    const auto x = random_table(1, 17, 5, false);
    const auto ci = rlvr::bootstrap_hierarchical_mean_ci(x, {.resamples = 300, .level = 0.75, .seed = 12});
    std::vector<double> means;
    for (std::uint64_t r = 0; r < 300; ++r) {
      rlvr::philox_engine g(12, r, 0);
      (void)g(); // the row draw: uniform_index(1) spends one word and returns 0
      double t = 0;
      for (int j = 0; j < 17; ++j) t += x[0][g.uniform_index(17)];
      means.push_back(t / 17.0);
    }
    std::sort(means.begin(), means.end());
    CHECK(ci.low == rlvr::detail::quantile_sorted_fused(means, 0.125));
    CHECK(ci.high == rlvr::detail::quantile_sorted_fused(means, 0.875));
  }
  SECTION("the interval holds the point estimate, widens with the level and with seed spread") {
    const auto x = random_table(6, 30, 21, true);
    const auto a = rlvr::bootstrap_hierarchical_mean_ci(x, {.resamples = 2000, .seed = 1});
    const auto w = rlvr::bootstrap_hierarchical_mean_ci(x, {.resamples = 2000, .level = 0.99, .seed = 1});
    CHECK(a.low <= a.mean);
    CHECK(a.high >= a.mean);
    CHECK(w.low <= a.low);
    CHECK(w.high >= a.high);
    // shifting one seed's row by +1 adds between-seed variance: the interval gets wider
    auto y = x;
    for (auto& v : y[0]) v += 1.0;
    const auto b = rlvr::bootstrap_hierarchical_mean_ci(y, {.resamples = 2000, .seed = 1});
    CHECK(b.high - b.low > a.high - a.low);
  }
  SECTION("decimal levels give decimal tails; the fused percentile interpolates linearly") {
    CHECK(rlvr::detail::quantile_sorted_fused({0.0, 1.0, 2.0, 3.0}, 0.5) == 1.5);
    CHECK(rlvr::detail::quantile_sorted_fused({0.0, 1.0, 2.0, 3.0}, 0.0) == 0.0);
    CHECK(rlvr::detail::quantile_sorted_fused({0.0, 1.0, 2.0, 3.0}, 1.0) == 3.0);
    CHECK(rlvr::detail::quantile_sorted_fused({5.0}, 0.975) == 5.0);
    CHECK(rlvr::detail::decimal_tail((1.0 - 0.95) / 2.0) == 0.025);
    CHECK(rlvr::detail::decimal_tail((1.0 + 0.95) / 2.0) == 0.975);
    CHECK(rlvr::detail::decimal_tail((1.0 - 0.9) / 2.0) == 0.05);
    CHECK(rlvr::detail::decimal_tail(0.25) == 0.25);
  }
}

TEST_CASE("two-level bootstrap is deterministic in its seed", "[metrics][bootstrap][hierarchical]") {
  const auto x = random_table(4, 25, 8, false);
  const auto a = rlvr::bootstrap_hierarchical_mean_ci(x, {.resamples = 1000, .seed = 5, .threads = 1});
  const auto b = rlvr::bootstrap_hierarchical_mean_ci(x, {.resamples = 1000, .seed = 5, .threads = 2});
  const auto c = rlvr::bootstrap_hierarchical_mean_ci(x, {.resamples = 1000, .seed = 5, .threads = 0});
  CHECK((a.low == b.low && a.high == b.high && a.low == c.low && a.high == c.high));
  const auto d = rlvr::bootstrap_hierarchical_mean_ci(x, {.resamples = 1000, .seed = 6});
  CHECK(d.mean == a.mean);
  CHECK((d.low != a.low || d.high != a.high));
}

TEST_CASE("two-level bootstrap bad input names the problem", "[metrics][bootstrap][hierarchical][errors]") {
  using rlvr::bootstrap_hierarchical_mean_ci;
  const std::vector<std::vector<double>> ok = {{0.1, 0.2}, {0.3, 0.4}};
  CHECK_THROWS_AS(bootstrap_hierarchical_mean_ci(std::vector<std::vector<double>>{}), rlvr::shape_error);
  CHECK_THROWS_WITH(bootstrap_hierarchical_mean_ci(std::vector<std::vector<double>>{}), Catch::Contains("no rows"));
  CHECK_THROWS_WITH(bootstrap_hierarchical_mean_ci(std::vector<std::vector<double>>{{}, {}}),
                    Catch::Contains("row 0 is empty"));
  const std::vector<std::vector<double>> ragged = {{0.1, 0.2}, {0.3, 0.4}, {0.5}};
  CHECK_THROWS_AS(bootstrap_hierarchical_mean_ci(ragged), rlvr::shape_error);
  CHECK_THROWS_WITH(bootstrap_hierarchical_mean_ci(ragged), Catch::Contains("row 2 has 1 values but row 0 has 2"));
  const std::vector<std::vector<double>> nan = {{0.1, 0.2}, {std::nan(""), 0.4}};
  CHECK_THROWS_AS(bootstrap_hierarchical_mean_ci(nan), rlvr::range_error);
  CHECK_THROWS_WITH(bootstrap_hierarchical_mean_ci(nan), Catch::Contains("value at row 1, column 0 is NaN"));
  CHECK_THROWS_WITH(bootstrap_hierarchical_mean_ci(ok, {.resamples = 0}), Catch::Contains("resamples = 0 must be >= 1"));
  CHECK_THROWS_WITH(bootstrap_hierarchical_mean_ci(ok, {.level = 0.0}), Catch::Contains("level = 0 is outside (0, 1)"));
  CHECK_THROWS_WITH(bootstrap_hierarchical_mean_ci(ok, {.level = 1.0}), Catch::Contains("level = 1 is outside (0, 1)"));
}
