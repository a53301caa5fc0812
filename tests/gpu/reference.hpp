#pragma once
// Independent double-precision references for the GPU tests (plain loops, no rlvr kernels).
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

namespace rlvr::gpu_test {

struct row_ref {
  double lse, log_pi, entropy;
  std::vector<double> grad; // ∂(w·ℓ)/∂x for ℓ = −A log π − c_H H
};

//! One row of logits x (length V), target y, temperature tau, REINFORCE with entropy bonus.
inline row_ref reference_row(const float* x, long V, long y, double tau, double A, double cH, double w) {
  double m = -std::numeric_limits<double>::infinity();
  for (long v = 0; v < V; ++v) m = std::max(m, x[v] / tau);
  double s = 0;
  for (long v = 0; v < V; ++v) s += std::exp(x[v] / tau - m);
  const double lse = m + std::log(s);
  double pz = 0;
  for (long v = 0; v < V; ++v) {
    const double z = x[v] / tau;
    if (std::isinf(z)) continue;
    pz += std::exp(z - lse) * (z - lse);
  }
  const double H = -pz;
  row_ref r{lse, x[y] / tau - lse, H, std::vector<double>(static_cast<std::size_t>(V))};
  // ℓ = −A log π − cH H: ∂ℓ/∂z_v = −A(1[v=y] − p_v) + cH p_v (log p_v + H)
  for (long v = 0; v < V; ++v) {
    const double z = x[v] / tau;
    const double p = std::isinf(z) ? 0.0 : std::exp(z - lse);
    const double plogp = std::isinf(z) ? 0.0 : p * ((z - lse) + H);
    r.grad[static_cast<std::size_t>(v)] = w / tau * (-A * ((v == y ? 1.0 : 0.0) - p) + cH * plogp);
  }
  return r;
}

//! SplitMix64: deterministic test data.
struct splitmix {
  std::uint64_t s;
  std::uint64_t next() {
    std::uint64_t z = (s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
  double normal() {
    const double u1 = uniform() + 1e-300, u2 = uniform();
    return std::sqrt(-2 * std::log(u1)) * std::cos(6.283185307179586 * u2);
  }
};

} // namespace rlvr::gpu_test
