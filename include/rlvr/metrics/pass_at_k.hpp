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
//!
//! Properties worth knowing when reading a curve: pass@1 = pass^1 = c/n (the accuracy); pass@k
//! never decreases with k and pass^k never increases; pass@n = 1 as soon as c ≥ 1, and pass^n = 1
//! only if c = n. pass@k at large k measures coverage (does the policy *ever* solve it), which is
//! what the paper's NSR-versus-PSR comparison turns on; pass@1 measures reliability.
//!
//!     std::vector<rlvr::problem_counts> probs = {{256, 3}, {256, 0}, {256, 200}};
//!     double p1  = rlvr::mean_pass_at_k(probs, 1);       // (3 + 0 + 200) / 768
//!     auto curve = rlvr::pass_at_k_curve(probs);         // k = 1, 2, 4, …, 256
//!     rlvr::problem_counts pc = rlvr::count_correct(flags);  // flags: one problem's 0/1 verdicts
//!
//! Every function here is a pure function of its arguments (no state, no threads): results are
//! bit-identical across runs and platforms with a correctly rounded `log1p` / `expm1` / `log`.

#include <cmath>
#include <cstdint>
#include <span>
#include <vector>

#include "rlvr/config.hpp"
#include "rlvr/error.hpp"
#include "rlvr/view.hpp"

namespace rlvr {

//! One problem's evaluation: n samples, c of them correct.
//! The zero defaults are not a valid problem (n ≥ 1 is required): fill both fields.
struct problem_counts {
  //! Samples drawn for the problem (≥ 1).
  index_t n = 0;
  //! How many of them the verifier accepted, in [0, n].
  index_t c = 0;
};

namespace detail {
// Validation is split from the arithmetic so that the per-problem and curve functions check each
// problem once (`min_n`) and then run the `_unchecked` kernels in their loops.
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
  // Fewer than k incorrect samples: every k-subset holds a correct one. No correct sample: none does.
  if (n - c < k) return 1.0;
  if (c == 0) return 0.0;
  // one factor: pass@k = k/n (c = 1) or c/n (k = 1), one correctly rounded division — exact to
  // ½ ulp, better than the log/expm1 round trip below, and these are the most common calls
  // (pass@1 of every problem)
  if (c == 1 || k == 1) return static_cast<double>(c == 1 ? k : c) / static_cast<double>(n);
  // S = log(C(n−c, k)/C(n, k)) over the shorter of the two product forms, Neumaier summation
  // (the compensation `comp` collects the rounding error of every addition, whatever the
  // magnitudes, so a long sum of small logs does not drift; the cost is a few flops per term).
  double sum = 0.0, comp = 0.0;
  auto add = [&](double x) {
    const double t = sum + x;
    comp += std::abs(sum) >= std::abs(x) ? (sum - t) + x : (x - t) + sum;
    sum = t;
  };
  // c ≤ k: the c factors (1 − k/i), i = n−c+1 … n; otherwise the k factors (1 − c/(n−j)),
  // j = 0 … k−1. Both are in (0, 1) here (n − c ≥ k > 0), so every log is finite and negative.
  if (c <= k) {
    const double kd = static_cast<double>(k);
    for (index_t i = n - c + 1; i <= n; ++i) add(log_one_minus_ratio(kd, static_cast<double>(i)));
  } else {
    const double cd = static_cast<double>(c);
    for (index_t j = 0; j < k; ++j) add(log_one_minus_ratio(cd, static_cast<double>(n - j)));
  }
  return -std::expm1(sum + comp);
}
// Every factor (c − i)/(n − i) is in (0, 1] and one correctly rounded division, so the running
// product neither overflows nor loses more than one rounding per factor; it can underflow to 0
// only when the true value is below ~1e-308 (then it is 0 for every practical purpose).
inline double pass_hat_k_unchecked(index_t n, index_t c, index_t k) {
  if (c < k) return 0.0;
  double q = 1.0;
  for (index_t i = 0; i < k; ++i) q *= static_cast<double>(c - i) / static_cast<double>(n - i);
  return q;
}
// Validates every problem (naming the first bad one by index) and returns the smallest n, the
// largest k that every problem admits.
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

//! pass@k of one problem (unbiased; product form). Preconditions n ≥ 1, 0 ≤ c ≤ n, 1 ≤ k ≤ n,
//! else `range_error`. Examples: pass_at_k(4, 1, 2) = 0.5 (half of the 6 pairs hold the correct
//! sample), pass_at_k(256, 3, 1) = 3/256, pass_at_k(n, 0, k) = 0, pass_at_k(n, n − k + 1, k) = 1.
[[nodiscard]] inline double pass_at_k(index_t n, index_t c, index_t k) {
  detail::check_counts(n, c, "pass_at_k");
  detail::check_k(n, k, "pass_at_k");
  return detail::pass_at_k_unchecked(n, c, k);
}

//! pass^k of one problem: the unbiased probability that k samples (without replacement) are all
//! correct. Same preconditions and errors as `pass_at_k`. Example: pass_hat_k(4, 2, 2) = 1/6
//! (one pair of six). It is the metric of "reliable" success: a policy that solves a problem
//! half the time has pass^8 ≈ 1/256 there.
[[nodiscard]] inline double pass_hat_k(index_t n, index_t c, index_t k) {
  detail::check_counts(n, c, "pass_hat_k");
  detail::check_k(n, k, "pass_hat_k");
  return detail::pass_hat_k_unchecked(n, c, k);
}

//! pass@k of each problem, in the order given. k must admit every problem (1 ≤ k ≤ min n):
//! `range_error` naming k and the smallest n otherwise; an empty list is a `shape_error`. This
//! is the per-problem vector to hand to `bootstrap_mean_ci` (rlvr/metrics/bootstrap.hpp).
[[nodiscard]] inline std::vector<double> pass_at_k_per_problem(std::span<const problem_counts> problems, index_t k) {
  const index_t nmin = detail::min_n(problems, "pass_at_k");
  detail::check_k(nmin, k, "pass_at_k");
  std::vector<double> out(problems.size());
  for (std::size_t i = 0; i < problems.size(); ++i)
    out[i] = detail::pass_at_k_unchecked(problems[i].n, problems[i].c, k);
  return out;
}

//! pass^k of each problem, in the order given; validation as for `pass_at_k_per_problem`.
[[nodiscard]] inline std::vector<double> pass_hat_k_per_problem(std::span<const problem_counts> problems, index_t k) {
  const index_t nmin = detail::min_n(problems, "pass_hat_k");
  detail::check_k(nmin, k, "pass_hat_k");
  std::vector<double> out(problems.size());
  for (std::size_t i = 0; i < problems.size(); ++i)
    out[i] = detail::pass_hat_k_unchecked(problems[i].n, problems[i].c, k);
  return out;
}

namespace detail {
// Plain double sum in problem order: the values are in [0, 1] and problem counts are at most
// millions, so the rounding error (≤ P·ulp relative) is far below any sampling error.
inline double mean_of(const std::vector<double>& v) {
  double s = 0.0;
  for (double x : v) s += x;
  return s / static_cast<double>(v.size());
}
} // namespace detail

//! The benchmark value: mean pass@k over problems, every problem weighted equally whatever its n.
[[nodiscard]] inline double mean_pass_at_k(std::span<const problem_counts> problems, index_t k) {
  return detail::mean_of(pass_at_k_per_problem(problems, k));
}

//! Mean pass^k over problems, every problem weighted equally.
[[nodiscard]] inline double mean_pass_hat_k(std::span<const problem_counts> problems, index_t k) {
  return detail::mean_of(pass_hat_k_per_problem(problems, k));
}

//! The k values of a curve: 1, 2, 4, …, 2^j ≤ n, then n if it is not a power of two.
//! curve_ks(1) = {1}, curve_ks(6) = {1, 2, 4, 6}, curve_ks(256) = {1, 2, …, 128, 256}. n < 1 is a
//! `range_error`.
[[nodiscard]] inline std::vector<index_t> curve_ks(index_t n) {
  RLVR_EXPECTS(n >= 1, range, "curve_ks: n = ", n, " must be >= 1");
  std::vector<index_t> ks;
  index_t k = 1;
  for (; k <= n; k *= 2) {
    ks.push_back(k);
    // Stop before the doubling that would pass n (it could overflow for n near INT64_MAX).
    if (k > n / 2) break;
  }
  if (ks.back() != n) ks.push_back(n);
  return ks;
}

//! One point of a curve.
struct curve_point {
  //! Samples per attempt.
  index_t k = 0;
  //! The mean metric over problems at that k.
  double value = 0.0;
};

//! Mean pass@k over problems for k = 1, 2, 4, …, n_min (see the file comment). Cost: for each
//! of the ~log₂ n_min points, Σ_problems min(c, k) log calls, and every problem is validated
//! again at each point. For intervals on every point use `pass_at_k_curve_ci`.
[[nodiscard]] inline std::vector<curve_point> pass_at_k_curve(std::span<const problem_counts> problems) {
  const index_t nmin = detail::min_n(problems, "pass_at_k_curve");
  std::vector<curve_point> out;
  for (index_t k : curve_ks(nmin)) out.push_back({k, mean_pass_at_k(problems, k)});
  return out;
}

//! Mean pass^k over problems for k = 1, 2, 4, …, n_min: the reliability curve, non-increasing in
//! k, starting at the mean accuracy. Same cost and validation as `pass_at_k_curve`.
[[nodiscard]] inline std::vector<curve_point> pass_hat_k_curve(std::span<const problem_counts> problems) {
  const index_t nmin = detail::min_n(problems, "pass_hat_k_curve");
  std::vector<curve_point> out;
  for (index_t k : curve_ks(nmin)) out.push_back({k, mean_pass_hat_k(problems, k)});
  return out;
}

//! Counts one problem's per-sample correctness flags (each 0 or 1): n = flags, c = ones.
//! No flags (n = 0) or a flag above 1 is a `range_error` naming the sample.
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

//! Counts per problem from a problems × samples matrix of 0/1 flags (row i = problem i; rows
//! may be strided). Zero rows give an empty vector; zero columns are a `range_error`. A flag
//! other than 0/1 is a `range_error` naming the sample (within its row), not the problem.
//!
//!     std::vector<std::uint8_t> ok(p * n);                  // ok[i·n + j]: sample j of problem i
//!     auto counts = rlvr::count_correct(rlvr::matrix_view<const std::uint8_t>(ok.data(), p, n));
[[nodiscard]] inline std::vector<problem_counts> count_correct(matrix_view<const std::uint8_t> correct) {
  std::vector<problem_counts> out(static_cast<std::size_t>(correct.rows()));
  for (index_t i = 0; i < correct.rows(); ++i) {
    const auto r = correct.row(i);
    out[static_cast<std::size_t>(i)] = count_correct(std::span<const std::uint8_t>(r.data(), static_cast<std::size_t>(r.size())));
  }
  return out;
}

} // namespace rlvr
