#pragma once
//! \file rlvr/metrics/pass_at_k.hpp
//! \brief Unbiased pass@k (Chen et al. 2021), pass^k, their curves over k = 1, 2, 4, …, and
//! per-problem counts from per-sample correctness.
//!
//! For a problem with n samples of which c are correct, the probability that at least one of k
//! samples drawn without replacement is correct is
//!
//!     pass@k = 1 − C(n−c, k) / C(n, k) = 1 − Π_{i=n−c+1}^{n} (1 − k/i)      (1 if n − c < k),
//!
//! an unbiased estimator of the true pass@k of the sampler. The ratio also has a k-factor form,
//! C(n−c, k)/C(n, k) = Π_{j=0}^{k−1} (1 − c/(n−j)). rlvr never forms a binomial (C(1030, 515)
//! overflows a double; the lgamma form loses ~1e-12) and never multiplies many factors (m
//! roundings cost up to m/2 ulp: 3e-8 relative at n = 10^9). It sums the logarithms of the
//! m = min(c, k) factors of the shorter form, S = Σ log f, with Neumaier's compensated summation,
//! each log f as log1p(−k/i) (or log1p(−c/(n−j))) when f ≥ ½ and as log(f) otherwise, and returns
//!
//!     pass@k = −expm1(S).
//!
//! Accuracy: every term has a relative error ≤ ~1.5 ulp and all terms have the same sign, so S
//! is accurate to ~2 ulp, and −expm1 passes that on without amplification (|S e^S/(1 − e^S)| ≤ 1):
//! pass@k is within a few ulp (relative) of the exact value, for every n ≤ 2^53 (tests check 4 ulp
//! against exact rationals and a long-double reference at n = 10^9). Cost: m log1p calls.
//!
//! The probability that *all* k are correct is
//!
//!     pass^k = C(c, k) / C(n, k) = Π_{i=0}^{k−1} (c − i)/(n − i)              (0 if c < k),
//!
//! evaluated as that product of k factors in [0, 1]: its relative error is at most ~k ulp.
//!
//! A benchmark's value is the mean over problems (`mean_pass_at_k`); its uncertainty comes from
//! rlvr/metrics/bootstrap.hpp. Curves use k = 1, 2, 4, …, 2^j ≤ n_min, plus n_min itself when it
//! is not a power of two (n_min: the smallest n over the problems, since k ≤ n is required for
//! every problem).
//!
//! Errors (`rlvr::range_error`, naming the value): n = 0, c < 0 or c > n, k < 1, k > n; an empty
//! problem list is a `rlvr::shape_error`; correctness flags other than 0/1 are a range error.

#include <cmath>
#include <cstdint>
#include <span>
#include <vector>

#include "rlvr/config.hpp"
#include "rlvr/error.hpp"
#include "rlvr/view.hpp"

namespace rlvr {

//! One problem's evaluation: n samples, c of them correct.
struct problem_counts {
  index_t n = 0;
  index_t c = 0;
};

namespace detail {
inline void check_counts(index_t n, index_t c, const char* who) {
  RLVR_EXPECTS(n >= 1, range, who, ": n = ", n, " (a problem needs at least one sample)");
  RLVR_EXPECTS(c >= 0 && c <= n, range, who, ": c = ", c, " is outside [0, n = ", n, "]");
}
inline void check_k(index_t n, index_t k, const char* who) {
  RLVR_EXPECTS(k >= 1, range, who, ": k = ", k, " must be >= 1");
  RLVR_EXPECTS(k <= n, range, who, ": k = ", k, " exceeds n = ", n);
}
//! log(1 − a/b) for 0 ≤ a < b, to ~1.5 ulp: log1p(−a/b) while the factor is ≥ ½ (one rounding
//! in a/b, damped by log1p), otherwise log((b − a)/b) (b − a is exact, the log is then ≥ log 2
//! away from 0 in magnitude, so the quotient's rounding stays relative).
inline double log_one_minus_ratio(double a, double b) {
  return 2.0 * a <= b ? std::log1p(-a / b) : std::log((b - a) / b);
}
inline double pass_at_k_unchecked(index_t n, index_t c, index_t k) {
  if (n - c < k) return 1.0;
  if (c == 0) return 0.0;
  // one factor: pass@k = k/n (c = 1) or c/n (k = 1), one correctly rounded division
  if (c == 1 || k == 1) return static_cast<double>(c == 1 ? k : c) / static_cast<double>(n);
  // S = log(C(n−c, k)/C(n, k)) over the shorter of the two product forms, Neumaier summation
  double sum = 0.0, comp = 0.0;
  auto add = [&](double x) {
    const double t = sum + x;
    comp += std::abs(sum) >= std::abs(x) ? (sum - t) + x : (x - t) + sum;
    sum = t;
  };
  if (c <= k) {
    const double kd = static_cast<double>(k);
    for (index_t i = n - c + 1; i <= n; ++i) add(log_one_minus_ratio(kd, static_cast<double>(i)));
  } else {
    const double cd = static_cast<double>(c);
    for (index_t j = 0; j < k; ++j) add(log_one_minus_ratio(cd, static_cast<double>(n - j)));
  }
  return -std::expm1(sum + comp);
}
inline double pass_hat_k_unchecked(index_t n, index_t c, index_t k) {
  if (c < k) return 0.0;
  double q = 1.0;
  for (index_t i = 0; i < k; ++i) q *= static_cast<double>(c - i) / static_cast<double>(n - i);
  return q;
}
inline index_t min_n(std::span<const problem_counts> problems, const char* who) {
  RLVR_EXPECTS(!problems.empty(), shape, who, ": no problems");
  index_t m = problems[0].n;
  for (std::size_t i = 0; i < problems.size(); ++i) {
    RLVR_EXPECTS(problems[i].n >= 1, range, who, ": problem ", i, " has n = ", problems[i].n);
    RLVR_EXPECTS(problems[i].c >= 0 && problems[i].c <= problems[i].n, range, who, ": problem ", i,
                 " has c = ", problems[i].c, " outside [0, n = ", problems[i].n, "]");
    m = problems[i].n < m ? problems[i].n : m;
  }
  return m;
}
} // namespace detail

//! pass@k of one problem (unbiased; product form).
[[nodiscard]] inline double pass_at_k(index_t n, index_t c, index_t k) {
  detail::check_counts(n, c, "pass_at_k");
  detail::check_k(n, k, "pass_at_k");
  return detail::pass_at_k_unchecked(n, c, k);
}

//! pass^k of one problem: the unbiased probability that k samples (without replacement) are all
//! correct.
[[nodiscard]] inline double pass_hat_k(index_t n, index_t c, index_t k) {
  detail::check_counts(n, c, "pass_hat_k");
  detail::check_k(n, k, "pass_hat_k");
  return detail::pass_hat_k_unchecked(n, c, k);
}

//! pass@k of each problem.
[[nodiscard]] inline std::vector<double> pass_at_k_per_problem(std::span<const problem_counts> problems, index_t k) {
  const index_t nmin = detail::min_n(problems, "pass_at_k");
  detail::check_k(nmin, k, "pass_at_k");
  std::vector<double> out(problems.size());
  for (std::size_t i = 0; i < problems.size(); ++i)
    out[i] = detail::pass_at_k_unchecked(problems[i].n, problems[i].c, k);
  return out;
}

//! pass^k of each problem.
[[nodiscard]] inline std::vector<double> pass_hat_k_per_problem(std::span<const problem_counts> problems, index_t k) {
  const index_t nmin = detail::min_n(problems, "pass_hat_k");
  detail::check_k(nmin, k, "pass_hat_k");
  std::vector<double> out(problems.size());
  for (std::size_t i = 0; i < problems.size(); ++i)
    out[i] = detail::pass_hat_k_unchecked(problems[i].n, problems[i].c, k);
  return out;
}

namespace detail {
inline double mean_of(const std::vector<double>& v) {
  double s = 0.0;
  for (double x : v) s += x;
  return s / static_cast<double>(v.size());
}
} // namespace detail

//! The benchmark value: mean pass@k over problems.
[[nodiscard]] inline double mean_pass_at_k(std::span<const problem_counts> problems, index_t k) {
  return detail::mean_of(pass_at_k_per_problem(problems, k));
}

//! Mean pass^k over problems.
[[nodiscard]] inline double mean_pass_hat_k(std::span<const problem_counts> problems, index_t k) {
  return detail::mean_of(pass_hat_k_per_problem(problems, k));
}

//! The k values of a curve: 1, 2, 4, …, 2^j ≤ n, then n if it is not a power of two.
[[nodiscard]] inline std::vector<index_t> curve_ks(index_t n) {
  RLVR_EXPECTS(n >= 1, range, "curve_ks: n = ", n, " must be >= 1");
  std::vector<index_t> ks;
  index_t k = 1;
  for (; k <= n; k *= 2) {
    ks.push_back(k);
    if (k > n / 2) break;
  }
  if (ks.back() != n) ks.push_back(n);
  return ks;
}

//! One point of a curve.
struct curve_point {
  index_t k = 0;
  double value = 0.0;
};

//! Mean pass@k over problems for k = 1, 2, 4, …, n_min (see the file comment).
[[nodiscard]] inline std::vector<curve_point> pass_at_k_curve(std::span<const problem_counts> problems) {
  const index_t nmin = detail::min_n(problems, "pass_at_k_curve");
  std::vector<curve_point> out;
  for (index_t k : curve_ks(nmin)) out.push_back({k, mean_pass_at_k(problems, k)});
  return out;
}

//! Mean pass^k over problems for k = 1, 2, 4, …, n_min.
[[nodiscard]] inline std::vector<curve_point> pass_hat_k_curve(std::span<const problem_counts> problems) {
  const index_t nmin = detail::min_n(problems, "pass_hat_k_curve");
  std::vector<curve_point> out;
  for (index_t k : curve_ks(nmin)) out.push_back({k, mean_pass_hat_k(problems, k)});
  return out;
}

//! Counts one problem's per-sample correctness flags (each 0 or 1).
[[nodiscard]] inline problem_counts count_correct(std::span<const std::uint8_t> correct) {
  problem_counts pc{static_cast<index_t>(correct.size()), 0};
  RLVR_EXPECTS(pc.n >= 1, range, "count_correct: n = 0 (a problem needs at least one sample)");
  for (std::size_t i = 0; i < correct.size(); ++i) {
    RLVR_EXPECTS(correct[i] <= 1, range, "count_correct: flag ", static_cast<int>(correct[i]),
                 " at sample ", i, " (0 or 1 expected)");
    pc.c += correct[i];
  }
  return pc;
}

//! Counts per problem from a problems × samples matrix of 0/1 flags (row i = problem i).
[[nodiscard]] inline std::vector<problem_counts> count_correct(matrix_view<const std::uint8_t> correct) {
  std::vector<problem_counts> out(static_cast<std::size_t>(correct.rows()));
  for (index_t i = 0; i < correct.rows(); ++i) {
    const auto r = correct.row(i);
    out[static_cast<std::size_t>(i)] = count_correct(std::span<const std::uint8_t>(r.data(), static_cast<std::size_t>(r.size())));
  }
  return out;
}

} // namespace rlvr
