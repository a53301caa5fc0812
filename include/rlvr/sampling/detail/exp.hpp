#pragma once
// Private: a branch-free exp for non-positive arguments that compilers vectorise.
//
// The samplers only ever take exp of (z − max)/τ ≤ 0, so the helper handles x ∈ [−∞, 0]:
// Cody–Waite reduction x = n·ln2 + r (|r| ≤ ln2/2, n by round-to-nearest with the 1.5·2^k magic
// constant), a polynomial for e^r (float: Cephes expf, ≤ 2 ulp; double: Taylor to r^13, ≤ 2 ulp),
// and 2^n assembled in the exponent bits. Arguments below the smallest normal result
// (x < −87.3 for float, x < −708 for double) return exactly 0: such a token's mass is below
// 1e-38 (1e-307) of the row maximum's, far under every sum's rounding. exp(0) is exactly 1.
// TODO(integration): switch to rlvr/detail/vexp.hpp once the objectives engine ships it.
#include <bit>
#include <cstdint>

#include "rlvr/config.hpp"

namespace rlvr::detail {

RLVR_HD RLVR_FORCEINLINE float exp_nonpos(float x) {
  constexpr float lo = -87.3f;
  const float xc = x < lo ? lo : x;
  constexpr float magic = 12582912.0f; // 1.5·2^23: adding it rounds to an integer
  const float t = xc * 1.44269504088896341f + magic;
  const float n = t - magic;
  const std::int32_t ni = std::bit_cast<std::int32_t>(t) - std::bit_cast<std::int32_t>(magic);
  float r = xc - n * 0.693359375f;
  r = r - n * -2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  const float y = p * (r * r) + r + 1.0f;
  const float scale = std::bit_cast<float>((ni + 127) << 23);
  return x < lo ? 0.0f : y * scale;
}

RLVR_HD RLVR_FORCEINLINE double exp_nonpos(double x) {
  constexpr double lo = -708.0;
  const double xc = x < lo ? lo : x;
  constexpr double magic = 6755399441055744.0; // 1.5·2^52
  const double t = xc * 1.4426950408889634074 + magic;
  const double n = t - magic;
  const std::int64_t ni = std::bit_cast<std::int64_t>(t) - std::bit_cast<std::int64_t>(magic);
  double r = xc - n * 6.93145751953125e-1;
  r = r - n * 1.42860682030941723212e-6;
  // Taylor coefficients 1/k!, k = 13 … 2.
  double p = 1.6059043836821613e-10;
  p = p * r + 2.0876756987868100e-9;
  p = p * r + 2.5052108385441720e-8;
  p = p * r + 2.7557319223985893e-7;
  p = p * r + 2.7557319223985888e-6;
  p = p * r + 2.4801587301587302e-5;
  p = p * r + 1.9841269841269841e-4;
  p = p * r + 1.3888888888888889e-3;
  p = p * r + 8.3333333333333332e-3;
  p = p * r + 4.1666666666666664e-2;
  p = p * r + 1.6666666666666666e-1;
  p = p * r + 0.5;
  const double y = p * (r * r) + r + 1.0;
  const double scale = std::bit_cast<double>((ni + 1023) << 52);
  return x < lo ? 0.0 : y * scale;
}

} // namespace rlvr::detail
