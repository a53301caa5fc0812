#pragma once
//! \file rlvr/metrics/bootstrap.hpp
//! \brief Percentile-bootstrap confidence intervals over problems (and over runs × problems),
//! seeded and thread-count independent; pass@k and pass^k curves with intervals.
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
//!
//! What the interval covers: the variation of the score had a different problem set of the same
//! size been drawn from the same population. It does not include the noise of the n samples per
//! problem (pass@k is already an unbiased per-problem estimate) nor the variance across training
//! seeds — for that, use the two-level bootstrap below on a seeds × problems table.
//!
//!     auto per_problem = rlvr::pass_at_k_per_problem(probs, 8);
//!     rlvr::confidence_interval ci = rlvr::bootstrap_mean_ci(per_problem, {.resamples = 10000, .seed = 1});
//!     std::printf("pass@8 = %.3f [%.3f, %.3f]\n", ci.mean, ci.low, ci.high);
//!
//! **Two levels** (`bootstrap_hierarchical_mean_ci`): when the values form a table x[s][p] of S
//! independent runs (training seeds) × P problems, both the runs and the problem set are samples.
//! Each resample then draws S row indices s₁…s_S with replacement, *then* P column indices
//! p₁…p_P with replacement, shared by every drawn row (the problem set is the same for every
//! run), and takes the mean of the S·P drawn cells,
//!
//!     m_r = (1 / (S·P)) · Σ_{a=1..S} Σ_{b=1..P} x[s_a][p_b]      (summed in that order).
//!
//! The point estimate is the plain mean of the table. The percentiles are taken at
//! α/2 and 1 − α/2 with α = 1 − level, each rounded to 15 decimal places, so that a level
//! written in decimal gives its decimal tails exactly (0.95 → 0.025 and 0.975), by linear
//! interpolation whose two multiply-adds are fused explicitly (`std::fma`), so the bits do not
//! depend on the compiler's floating-point contraction (these are the bits rlvr-study's own copy
//! produced under g++ -O3 -march=native, which this function replaced).

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

//! A point estimate with its interval. `low ≤ high` for finite data; `mean` is the plain mean of the data
//! (not a bootstrap statistic), which usually, but not necessarily, lies inside [low, high]
//! (a very skewed sample or very few resamples can leave it outside).
struct confidence_interval {
  //! The point estimate: the mean of the per-problem values (or of the table's cells).
  double mean = 0.0;
  //! The (1 − level)/2 quantile of the resample means.
  double low = 0.0;
  //! The (1 + level)/2 quantile of the resample means.
  double high = 0.0;
  //! The coverage the interval was computed for (copied from `bootstrap_options::level`).
  double level = 0.95;
};

//! Bootstrap settings. The defaults give a 95% interval from 10 000 resamples.
struct bootstrap_options {
  //! B ≥ 1. At 10 000 the Monte-Carlo error of a 2.5 % quantile is a small fraction of the
  //! interval's width; tighter tails (level 0.99) deserve more resamples.
  index_t resamples = 10000;
  //! Coverage in (0, 1).
  double level = 0.95;
  //! Philox key of the resamples: the same seed gives the same resampled problem sets, hence the
  //! same interval for the same data, and jointly consistent intervals across metrics and k.
  std::uint64_t seed = 0;
  int threads = 1; //!< 0 = all hardware threads; the result does not depend on it
};

namespace detail {
// Type-7 quantile of the sorted sample `s` (non-empty): position q·(B − 1), linear interpolation
// between the two neighbouring order statistics (B = 1: the single value).
inline double quantile_sorted(const std::vector<double>& s, double q) {
  const double pos = q * static_cast<double>(s.size() - 1);
  const auto lo = static_cast<std::size_t>(std::floor(pos));
  const std::size_t hi = std::min(lo + 1, s.size() - 1);
  const double f = pos - static_cast<double>(lo);
  return s[lo] + f * (s[hi] - s[lo]);
}
//! p rounded to 15 decimal places: (1 − 0.95) / 2 is 0.025000000000000022 in double, and this
//! returns the double nearest 0.025 (IEEE division is correctly rounded). Changes p by < 1e-15.
inline double decimal_tail(double p) { return std::round(p * 1e15) / 1e15; }
//! `quantile_sorted` with both multiply-adds fused explicitly (std::fma: one rounding each, on
//! every platform), so that the result does not depend on whether the compiler contracts them:
//! f = fma(q, n − 1, −⌊q·(n − 1)⌋), value = fma(f, s[hi] − s[lo], s[lo]).
inline double quantile_sorted_fused(const std::vector<double>& s, double q) {
  const double n1 = static_cast<double>(s.size() - 1);
  const auto lo = static_cast<std::size_t>(std::floor(q * n1));
  const std::size_t hi = std::min(lo + 1, s.size() - 1);
  const double f = std::fma(q, n1, -static_cast<double>(lo));
  return std::fma(f, s[hi] - s[lo], s[lo]);
}
} // namespace detail

//! The mean of `values` (one per problem) with its percentile-bootstrap interval.
//! Cost: B·P uniform draws and additions, B doubles of memory, a sort of B values; resamples
//! run in parallel over `opt.threads`. ±inf values are accepted (not NaN) but make the interval
//! infinite or NaN: pass finite values. Unlike the two-level version below, its tails are
//! (1 ∓ level)/2 as rounded in double (0.025000000000000022 at 0.95) and its interpolation is
//! `quantile_sorted`'s, whose last bits may depend on the compiler's floating-point contraction.
[[nodiscard]] inline confidence_interval bootstrap_mean_ci(std::span<const double> values,
                                                           const bootstrap_options& opt = {}) {
  RLVR_EXPECTS(!values.empty(), shape, "bootstrap_mean_ci: no values (one per problem expected)");
  RLVR_EXPECTS(opt.resamples >= 1, range, "bootstrap_mean_ci: resamples = ", opt.resamples, " must be >= 1");
  RLVR_EXPECTS(opt.level > 0.0 && opt.level < 1.0, range, "bootstrap_mean_ci: level = ", opt.level,
               " is outside (0, 1)");
  RLVR_EXPECTS(values.size() <= 0xFFFFFFFFu, range, "bootstrap_mean_ci: ", values.size(),
               " problems exceed 2^32 - 1");
  // NaN is refused rather than skipped: dropping a problem silently changes P, and a NaN among
  // the resample means would break the strict weak ordering `std::sort` needs.
  double sum = 0.0;
  for (std::size_t i = 0; i < values.size(); ++i) {
    RLVR_EXPECTS(!std::isnan(values[i]), range, "bootstrap_mean_ci: value ", i, " is NaN");
    sum += values[i];
  }
  const auto P = static_cast<std::uint32_t>(values.size());
  std::vector<double> means(static_cast<std::size_t>(opt.resamples));
  // One Philox stream per resample (not per thread), so resample r is the same whichever thread
  // runs it; at least 16 resamples per chunk, so that a small P does not pay a wake-up each.
  parallel_for(opt.resamples, opt.threads, [&](index_t b, index_t e) {
    for (index_t r = b; r < e; ++r) {
      philox_engine eng(opt.seed, static_cast<std::uint64_t>(r));
      double s = 0.0;
      // m_r = (1/P) Σ_j x[i_j], i_j uniform in [0, P), summed in draw order.
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

//! The mean of the table x[row][column] (rows: independent runs such as training seeds; columns:
//! the problems every run was evaluated on) with its two-level percentile-bootstrap interval:
//! each resample draws the rows, then the columns shared by the drawn rows (see the file comment
//! for the formula). Resample r uses the Philox stream (opt.seed, r): S `uniform_index(S)` draws,
//! then P `uniform_index(P)` draws, so the interval is bit-identical for any thread count.
//!
//! With one row it is a bootstrap over the problems (each resample's first word spent on the row
//! draw); with one column, a bootstrap over the rows whose resample means are those of
//! `bootstrap_mean_ci` on that column (same seed), so the intervals agree wherever the tails need
//! no rounding (level 0.5, 0.75, …; at 0.95 `bootstrap_mean_ci` uses 0.025000000000000022).
//! Cost: O(resamples · S · P) additions, O(resamples) memory.
//!
//! Errors: no rows or an empty row 0 (`shape_error`), a row whose length differs from row 0's
//! (`shape_error`, naming the row and both lengths); resamples < 1, level ∉ (0, 1), more than
//! 2³² − 1 rows or columns, or a NaN cell (`range_error`, naming the row and column).
//!
//!     std::vector<std::vector<double>> x(seeds);              // x[s][p]: pass@1 of problem p, seed s
//!     for (int s = 0; s < seeds; ++s) x[s] = rlvr::pass_at_k_per_problem(counts[s], 1);
//!     auto ci = rlvr::bootstrap_hierarchical_mean_ci(x, {.seed = 7, .threads = 0});
//!
//! When the seeds disagree the interval is typically wider than `bootstrap_mean_ci` of the
//! seed-averaged values: it adds the run-to-run variance that a bootstrap over problems hides.
[[nodiscard]] inline confidence_interval bootstrap_hierarchical_mean_ci(std::span<const std::vector<double>> x,
                                                                        const bootstrap_options& opt = {}) {
  constexpr const char* fn = "bootstrap_hierarchical_mean_ci: ";
  RLVR_EXPECTS(!x.empty(), shape, fn, "no rows (one per run/seed expected)");
  RLVR_EXPECTS(!x[0].empty(), shape, fn, "row 0 is empty (one value per problem expected)");
  RLVR_EXPECTS(opt.resamples >= 1, range, fn, "resamples = ", opt.resamples, " must be >= 1");
  RLVR_EXPECTS(opt.level > 0.0 && opt.level < 1.0, range, fn, "level = ", opt.level, " is outside (0, 1)");
  RLVR_EXPECTS(x.size() <= 0xFFFFFFFFu, range, fn, x.size(), " rows exceed 2^32 - 1");
  RLVR_EXPECTS(x[0].size() <= 0xFFFFFFFFu, range, fn, x[0].size(), " columns exceed 2^32 - 1");
  double sum = 0.0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    RLVR_EXPECTS(x[i].size() == x[0].size(), shape, fn, "row ", i, " has ", x[i].size(), " values but row 0 has ",
                 x[0].size(), " (the table must be rectangular)");
    for (std::size_t j = 0; j < x[i].size(); ++j) {
      RLVR_EXPECTS(!std::isnan(x[i][j]), range, fn, "value at row ", i, ", column ", j, " is NaN");
      sum += x[i][j];
    }
  }
  const auto S = static_cast<std::uint32_t>(x.size());
  const auto P = static_cast<std::uint32_t>(x[0].size());
  const double cells = static_cast<double>(S) * static_cast<double>(P);
  std::vector<double> means(static_cast<std::size_t>(opt.resamples));
  // The index buffers are per chunk (one allocation per thread, reused across its resamples). All
  // S row draws come before the P column draws, the documented order of the stream's words. A
  // resample costs S·P additions, so chunks may be smaller (4) than in the one-level case (16).
  parallel_for(opt.resamples, opt.threads, [&](index_t b, index_t e) {
    std::vector<std::uint32_t> rows(S), cols(P);
    for (index_t r = b; r < e; ++r) {
      philox_engine eng(opt.seed, static_cast<std::uint64_t>(r));
      for (auto& s : rows) s = eng.uniform_index(S);
      for (auto& p : cols) p = eng.uniform_index(P);
      double t = 0.0;
      for (const std::uint32_t s : rows) {
        const std::vector<double>& row = x[s];
        for (const std::uint32_t p : cols) t += row[p];
      }
      means[static_cast<std::size_t>(r)] = t / cells;
    }
  }, 4);
  std::sort(means.begin(), means.end());
  confidence_interval ci;
  ci.mean = sum / cells;
  ci.level = opt.level;
  ci.low = detail::quantile_sorted_fused(means, detail::decimal_tail((1.0 - opt.level) / 2.0));
  ci.high = detail::quantile_sorted_fused(means, detail::decimal_tail((1.0 + opt.level) / 2.0));
  return ci;
}

//! Mean pass@k over problems with its bootstrap interval: `bootstrap_mean_ci` of
//! `pass_at_k_per_problem(problems, k)`. Errors: those of both (k must admit every problem).
[[nodiscard]] inline confidence_interval pass_at_k_ci(std::span<const problem_counts> problems, index_t k,
                                                      const bootstrap_options& opt = {}) {
  const auto v = pass_at_k_per_problem(problems, k);
  return bootstrap_mean_ci(v, opt);
}

//! Mean pass^k over problems with its bootstrap interval (as `pass_at_k_ci`, for pass^k).
[[nodiscard]] inline confidence_interval pass_hat_k_ci(std::span<const problem_counts> problems, index_t k,
                                                       const bootstrap_options& opt = {}) {
  const auto v = pass_hat_k_per_problem(problems, k);
  return bootstrap_mean_ci(v, opt);
}

//! One point of a curve with its interval.
struct curve_ci_point {
  //! Samples per attempt.
  index_t k = 0;
  //! Mean metric over problems at that k, with its interval.
  confidence_interval ci{};
};

//! pass@k with intervals for k = 1, 2, 4, …, n_min. Every k uses the same resampled problem
//! sets (same seed), so the curve's intervals are jointly consistent. Cost: one bootstrap per
//! point (~log₂ n_min of them), each O(B·P).
[[nodiscard]] inline std::vector<curve_ci_point> pass_at_k_curve_ci(std::span<const problem_counts> problems,
                                                                    const bootstrap_options& opt = {}) {
  const index_t nmin = detail::min_n(problems, "pass_at_k_curve_ci");
  std::vector<curve_ci_point> out;
  for (index_t k : curve_ks(nmin)) out.push_back({k, pass_at_k_ci(problems, k, opt)});
  return out;
}

//! pass^k with intervals for k = 1, 2, 4, …, n_min, with the same shared resamples and cost.
[[nodiscard]] inline std::vector<curve_ci_point> pass_hat_k_curve_ci(std::span<const problem_counts> problems,
                                                                     const bootstrap_options& opt = {}) {
  const index_t nmin = detail::min_n(problems, "pass_hat_k_curve_ci");
  std::vector<curve_ci_point> out;
  for (index_t k : curve_ks(nmin)) out.push_back({k, pass_hat_k_ci(problems, k, opt)});
  return out;
}

} // namespace rlvr
