#pragma once
// Run-time choice of the launch policy and debug checks of device pointers (private, nvcc only).
//
// `with_policy(b, f)` calls `f(P{})` with the tuning policy type P the backend asks for:
// `b.policy` when it forces a preset (700, 800, 900, 1000), else the preset of the current
// device's compute capability (`rlvr::cuda::policy_for`), queried once per device and cached.
// Every launcher instantiates its kernel for the four presets and picks one at run time, so an
// sm_80 GPU gets the sm_80 shapes even in a binary that also carries sm_90 code.
//
// `expect_device_pointer(p, what)` (debug builds, i.e. without NDEBUG) asks the runtime what
// `p` is and raises `rlvr::device_error` naming the argument for a host pointer that reached a
// `cuda_space` view, instead of letting the kernel fault on an illegal address.
#include <array>
#include <atomic>

#include <cuda_runtime.h>

#include "rlvr/backends/cuda.hpp"
#include "rlvr/backends/cuda/error.cuh"

namespace rlvr::cuda::detail {

inline constexpr int max_cached_devices = 64;

//! The preset index of the current device (policy_for of its compute capability), cached.
inline int device_policy() {
  static std::array<std::atomic<int>, max_cached_devices> cache{};
  int dev = 0;
  RLVR_CUDA_CHECK(cudaGetDevice(&dev));
  if (dev >= 0 && dev < max_cached_devices) {
    const int known = cache[static_cast<std::size_t>(dev)].load(std::memory_order_relaxed);
    if (known != 0) return known;
  }
  int major = 0, minor = 0;
  RLVR_CUDA_CHECK(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev));
  RLVR_CUDA_CHECK(cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, dev));
  const int p = policy_for(major, minor);
  if (dev >= 0 && dev < max_cached_devices) cache[static_cast<std::size_t>(dev)].store(p, std::memory_order_relaxed);
  return p;
}

//! The preset the backend runs with: `b.policy` if set (checked), else the device's.
inline int active_policy(const cuda_backend& b) {
  if (b.policy == 0) return device_policy();
  RLVR_EXPECTS(b.policy == 700 || b.policy == 800 || b.policy == 900 || b.policy == 1000, config,
               "cuda_backend: policy = ", b.policy, " is not a preset (0 = from the device, or 700, 800, 900, 1000)");
  return b.policy;
}

//! Calls `f(P{})` with the policy type of `active_policy(b)`.
template <class F> void with_policy(const cuda_backend& b, F&& f) {
  switch (active_policy(b)) {
  case 1000: f(policy1000{}); return;
  case 900: f(policy900{}); return;
  case 800: f(policy800{}); return;
  default: f(policy700{}); return;
  }
}

//! Debug builds: throws `rlvr::device_error` unless `p` (non-null) is device or managed memory.
inline void expect_device_pointer([[maybe_unused]] const void* p, [[maybe_unused]] const char* what) {
#ifndef NDEBUG
  if (p == nullptr) return;
  cudaPointerAttributes attr{};
  RLVR_CUDA_CHECK(cudaPointerGetAttributes(&attr, p));
  if (attr.type != cudaMemoryTypeDevice && attr.type != cudaMemoryTypeManaged)
    throw device_error(rlvr::detail::concat(what, ": pointer ", p, " is not device memory (a host pointer in a ",
                                            "cuda_space view); copy the data to the device first"));
#endif
}

} // namespace rlvr::cuda::detail
