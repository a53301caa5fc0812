#include <catch2/catch.hpp>
#include <rlvr/metrics/bootstrap.hpp>

#include <cmath>
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
