#pragma once
// The scalar rules of the GPU samplers' threshold search (private; host and device).
//
// A weight w ∈ [0, 1] is a non-negative float, so its bit pattern orders like its value. The
// threshold search is a three-level most-significant-digit radix select over those 32 bits with
// digits [31:19] (13 bits, exactly `weight_bin`), [18:8] (11 bits) and [7:0] (8 bits). At each
// level a histogram of (count or fixed-point mass) over the elements that match the digits fixed
// so far is scanned from the top; `descend` is that scan's rule. These helpers are shared by the
// CUDA kernel (rlvr/backends/cuda/sampling.cuh) and by a host test that replays the algorithm
// sequentially against a sort (tests/backends/test_radix_select.cpp).
#include <cstdint>

#include "rlvr/config.hpp"

namespace rlvr::cuda::detail {

//! Bins of the largest level.
inline constexpr int radix_max_bins = 2048;
//! Fixed-point scale of masses: w·2⁴⁰ rounded, summed exactly in 64-bit integers (V < 2²³).
inline constexpr double radix_mass_scale = 1099511627776.0;

RLVR_HD constexpr int radix_shift(int level) { return level == 0 ? 19 : level == 1 ? 8 : 0; }
RLVR_HD constexpr int radix_bins(int level) { return level == 0 ? 2048 : level == 1 ? 2048 : 256; }
//! Bits fixed before `level` (the digits of the earlier levels).
RLVR_HD constexpr std::uint32_t radix_prefix_mask(int level) {
  return level == 0 ? 0u : level == 1 ? 0xFFF80000u : 0xFFFFFF00u;
}
RLVR_HD constexpr std::uint32_t radix_digit(std::uint32_t bits, int level) {
  return (bits >> radix_shift(level)) & static_cast<std::uint32_t>(radix_bins(level) - 1);
}
//! w·2⁴⁰ rounded to the nearest integer (half up), the same on host and device.
RLVR_HD constexpr unsigned long long radix_mass(float w) {
  return static_cast<unsigned long long>(static_cast<double>(w) * radix_mass_scale + 0.5);
}
//! ⌈fraction · total⌉, at least 1: the fixed-point mass the kept set must reach.
RLVR_HD constexpr unsigned long long radix_mass_need(double fraction, unsigned long long total) {
  const double want = fraction * static_cast<double>(total);
  auto need = static_cast<unsigned long long>(want);
  if (static_cast<double>(need) < want) ++need;
  return need == 0 ? 1 : need;
}

//! The scan rule, sequentially: the highest bin b with above + Σ_{>b} h < need ≤ above + Σ_{≥b} h;
//! when the total falls short (rounding), the lowest non-empty bin. Adds Σ_{>b} h to `above`.
RLVR_HD constexpr std::uint32_t radix_descend(const unsigned long long* hist, int bins, unsigned long long need,
                                              unsigned long long& above) {
  unsigned long long run = above;
  for (int b = bins - 1; b >= 0; --b) {
    if (run < need && run + hist[b] >= need) {
      above = run;
      return static_cast<std::uint32_t>(b);
    }
    run += hist[b];
  }
  int low = 0;
  for (int b = 0; b < bins; ++b)
    if (hist[b] != 0) {
      low = b;
      break;
    }
  for (int b = bins - 1; b > low; --b) above += hist[b];
  return static_cast<std::uint32_t>(low);
}

} // namespace rlvr::cuda::detail
