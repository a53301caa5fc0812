#pragma once
//! \file rlvr/metrics/bootstrap.hpp
//! \brief Percentile-bootstrap confidence intervals over problems, seeded and thread-count
//! independent; pass@k and pass^k curves with intervals.
//!
//! A benchmark score is a mean over P problems of a per-problem value x_i (pass@k of problem i,
//! its maj@k, …). Its sampling uncertainty over the *problem set* is estimated by the percentile
//! bootstrap: B resamples, each drawing P problem indices uniformly with replacement and taking
//! the mean of their values; the interval is the (1 − level)/2 and (1 + level)/2 quantiles of the
//! B means (linear interpolation between order statistics, "type 7"). The point estimate is the
//! plain mean of x.
//!
//! Reproducibility: resample r draws its indices from the Philox stream (seed, subsequence = r)
//! with `philox_engine::uniform_index` (Lemire's exact bounded integers), and sums its values in
//! draw order, so the interval is bit-identical for any thread count and standard library.
//!
//! Errors: no problems (`shape_error`); resamples < 1, level ∉ (0, 1), more than 2³² − 1 problems,
//! or a NaN value (`range_error`).

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <span>
#include <vector>

#include "rlvr/config.hpp"
#include "rlvr/error.hpp"
#include "rlvr/metrics/pass_at_k.hpp"
#include "rlvr/parallel.hpp"
#include "rlvr/random/philox.hpp"

namespace rlvr {

//! A point estimate with its interval.
struct confidence_interval {
  double mean = 0.0;
  double low = 0.0;
  double high = 0.0;
  double level = 0.95;
};

//! Bootstrap settings. The defaults give a 95% interval from 10 000 resamples.
struct bootstrap_options {
  index_t resamples = 10000;
  double level = 0.95;
  std::uint64_t seed = 0;
  int threads = 1; //!< 0 = all hardware threads; the result does not depend on it
};

namespace detail {
inline double quantile_sorted(const std::vector<double>& s, double q) {
  const double pos = q * static_cast<double>(s.size() - 1);
  const auto lo = static_cast<std::size_t>(std::floor(pos));
  const std::size_t hi = std::min(lo + 1, s.size() - 1);
  const double f = pos - static_cast<double>(lo);
  return s[lo] + f * (s[hi] - s[lo]);
}
} // namespace detail

//! The mean of `values` (one per problem) with its percentile-bootstrap interval.
[[nodiscard]] inline confidence_interval bootstrap_mean_ci(std::span<const double> values,
                                                           const bootstrap_options& opt = {}) {
  RLVR_EXPECTS(!values.empty(), shape, "bootstrap_mean_ci: no values (one per problem expected)");
  RLVR_EXPECTS(opt.resamples >= 1, range, "bootstrap_mean_ci: resamples = ", opt.resamples, " must be >= 1");
  RLVR_EXPECTS(opt.level > 0.0 && opt.level < 1.0, range, "bootstrap_mean_ci: level = ", opt.level,
               " is outside (0, 1)");
  RLVR_EXPECTS(values.size() <= 0xFFFFFFFFu, range, "bootstrap_mean_ci: ", values.size(),
               " problems exceed 2^32 - 1");
  double sum = 0.0;
  for (std::size_t i = 0; i < values.size(); ++i) {
    RLVR_EXPECTS(!std::isnan(values[i]), range, "bootstrap_mean_ci: value ", i, " is NaN");
    sum += values[i];
  }
  const auto P = static_cast<std::uint32_t>(values.size());
  std::vector<double> means(static_cast<std::size_t>(opt.resamples));
  parallel_for(opt.resamples, opt.threads, [&](index_t b, index_t e) {
    for (index_t r = b; r < e; ++r) {
      philox_engine eng(opt.seed, static_cast<std::uint64_t>(r));
      double s = 0.0;
      for (std::uint32_t j = 0; j < P; ++j) s += values[eng.uniform_index(P)];
      means[static_cast<std::size_t>(r)] = s / static_cast<double>(P);
    }
  }, 16);
  std::sort(means.begin(), means.end());
  confidence_interval ci;
  ci.mean = sum / static_cast<double>(P);
  ci.level = opt.level;
  ci.low = detail::quantile_sorted(means, (1.0 - opt.level) / 2.0);
  ci.high = detail::quantile_sorted(means, (1.0 + opt.level) / 2.0);
  return ci;
}

//! Mean pass@k over problems with its bootstrap interval.
[[nodiscard]] inline confidence_interval pass_at_k_ci(std::span<const problem_counts> problems, index_t k,
                                                      const bootstrap_options& opt = {}) {
  const auto v = pass_at_k_per_problem(problems, k);
  return bootstrap_mean_ci(v, opt);
}

//! Mean pass^k over problems with its bootstrap interval.
[[nodiscard]] inline confidence_interval pass_hat_k_ci(std::span<const problem_counts> problems, index_t k,
                                                       const bootstrap_options& opt = {}) {
  const auto v = pass_hat_k_per_problem(problems, k);
  return bootstrap_mean_ci(v, opt);
}

//! One point of a curve with its interval.
struct curve_ci_point {
  index_t k = 0;
  confidence_interval ci{};
};

//! pass@k with intervals for k = 1, 2, 4, …, n_min. Every k uses the same resampled problem
//! sets (same seed), so the curve's intervals are jointly consistent.
[[nodiscard]] inline std::vector<curve_ci_point> pass_at_k_curve_ci(std::span<const problem_counts> problems,
                                                                    const bootstrap_options& opt = {}) {
  const index_t nmin = detail::min_n(problems, "pass_at_k_curve_ci");
  std::vector<curve_ci_point> out;
  for (index_t k : curve_ks(nmin)) out.push_back({k, pass_at_k_ci(problems, k, opt)});
  return out;
}

//! pass^k with intervals for k = 1, 2, 4, …, n_min.
[[nodiscard]] inline std::vector<curve_ci_point> pass_hat_k_curve_ci(std::span<const problem_counts> problems,
                                                                     const bootstrap_options& opt = {}) {
  const index_t nmin = detail::min_n(problems, "pass_hat_k_curve_ci");
  std::vector<curve_ci_point> out;
  for (index_t k : curve_ks(nmin)) out.push_back({k, pass_hat_k_ci(problems, k, opt)});
  return out;
}

} // namespace rlvr
