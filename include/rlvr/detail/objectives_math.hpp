#pragma once
// Scalar math usable in constant expressions, on the host and on a CUDA device.
//
// `cexp`/`clog` call the platform's exp/log at run time and switch to a series evaluation during
// constant evaluation (so the per-token functors are really `constexpr`: tests pin their values
// with static_assert). The constant-evaluation branch is accurate to a few ulp in double.
#include <cmath>
#include <limits>
#include <type_traits>

#include "rlvr/config.hpp"

namespace rlvr::detail {

template <class T> RLVR_HD constexpr bool is_nan(T x) { return x != x; }
template <class T> RLVR_HD constexpr bool is_finite(T x) {
  return x == x && x != std::numeric_limits<T>::infinity() && x != -std::numeric_limits<T>::infinity();
}
template <class T> RLVR_HD constexpr T cmin(T a, T b) { return b < a ? b : a; }
template <class T> RLVR_HD constexpr T cmax(T a, T b) { return a < b ? b : a; }
template <class T> RLVR_HD constexpr T clamp(T x, T lo, T hi) { return cmin(cmax(x, lo), hi); }

// exp for constant evaluation: x = k·ln2 + r, |r| ≤ ln2/2, Taylor series of e^r to 1e-17.
constexpr double constexpr_exp(double x) {
  if (x != x) return x;
  if (x > 709.78) return std::numeric_limits<double>::infinity();
  if (x < -745.2) return 0.0;
  constexpr double ln2 = 0.693147180559945309417232121458176568;
  const double kf = x / ln2;
  long long k = static_cast<long long>(kf < 0 ? kf - 0.5 : kf + 0.5);
  const double r = x - static_cast<double>(k) * ln2;
  double term = 1.0, sum = 1.0;
  for (int n = 1; n < 30; ++n) {
    term *= r / n;
    sum += term;
  }
  while (k > 0) { sum *= 2.0; --k; }
  while (k < 0) { sum *= 0.5; ++k; }
  return sum;
}

// log for constant evaluation: Newton iterations on exp, started from a bit-free estimate.
constexpr double constexpr_log(double x) {
  if (x != x || x < 0) return std::numeric_limits<double>::quiet_NaN();
  if (x == 0) return -std::numeric_limits<double>::infinity();
  if (x == std::numeric_limits<double>::infinity()) return x;
  constexpr double ln2 = 0.693147180559945309417232121458176568;
  int e = 0;
  while (x > 2.0) { x *= 0.5; ++e; }
  while (x < 1.0) { x *= 2.0; --e; }
  double y = x - 1.0; // initial guess for log(x), x ∈ [1, 2]
  for (int i = 0; i < 8; ++i) y = y - 1.0 + x / constexpr_exp(y);
  return y + e * ln2;
}

template <class T> RLVR_HD constexpr T cexp(T x) {
  if (std::is_constant_evaluated()) return static_cast<T>(constexpr_exp(static_cast<double>(x)));
#if RLVR_CUDA_COMPILER
  return ::exp(x);
#else
  return std::exp(x);
#endif
}
template <class T> RLVR_HD constexpr T clog(T x) {
  if (std::is_constant_evaluated()) return static_cast<T>(constexpr_log(static_cast<double>(x)));
#if RLVR_CUDA_COMPILER
  return ::log(x);
#else
  return std::log(x);
#endif
}

} // namespace rlvr::detail
