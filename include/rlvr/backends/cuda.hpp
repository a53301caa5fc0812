#pragma once
//! \file rlvr/backends/cuda.hpp
//! \brief The CUDA backend's host-side face: the backend type, its tuning policies and the
//! translation of CUDA runtime errors into `rlvr` errors. Compiles with any C++20 compiler.
//!
//! This header holds *declarations and data only*; it includes no CUDA header, so host code
//! (a trainer compiled by g++, say) can name `rlvr::cuda_backend`, hold a stream in it and pass
//! it around. The kernels live in `<rlvr/backends/cuda/*.cuh>` and are compiled by nvcc:
//!
//! | header                                 | what it provides                                        |
//! |----------------------------------------|---------------------------------------------------------|
//! | `rlvr/backends/cuda/error.cuh`         | `RLVR_CUDA_CHECK(expr)`: a CUDA error → `rlvr::device_error` |
//! | `rlvr/backends/cuda/memory.cuh`        | `device_buffer<T>`, `stream` (RAII), host↔device copies  |
//! | `rlvr/backends/cuda/fused_loss.cuh`    | fused log π + entropy + loss + dL/dz kernel (f32, bf16) |
//! | `rlvr/backends/cuda/sampling.cuh`      | temperature / top-k / top-p / min-p sampling kernels    |
//! | `rlvr/backends/cuda/group_stats.cuh`   | per-group mean and std of rewards (GRPO advantages)     |
//!
//! ## Streams
//! A `cuda_backend` carries the stream its work is enqueued on (`nullptr` = the legacy default
//! stream). Every rlvr CUDA function is *asynchronous with respect to the host* unless its
//! documentation says it synchronises (the ones that return host values do: they call
//! `cudaStreamSynchronize` on the backend's stream and nothing else).
//!
//! ## Errors
//! A failing CUDA runtime call becomes an `rlvr::device_error` whose message names the call, the
//! runtime's error name and string and the source location, for example
//!
//!     [rlvr.device] cudaMalloc(&p, bytes) failed: cudaErrorMemoryAllocation (2): out of memory
//!     (rlvr/backends/cuda/memory.cuh:57)
//!
//! except "there is no usable device" (`cudaErrorNoDevice`, `cudaErrorInsufficientDriver`), which
//! is an `rlvr::unsupported_error`: the request was valid, this machine cannot serve it.
//!
//! ## Tuning as data
//! Launch shapes are plain `constexpr` policy structs (the CUB idea): a policy hub maps a compute
//! capability to a policy; a caller may pass its own policy type to any kernel launcher.

#include <concepts>
#include <string>
#include <type_traits>

#include "rlvr/backends/concepts.hpp"
#include "rlvr/config.hpp"
#include "rlvr/error.hpp"

// The runtime's stream type is `struct CUstream_st*`; declaring the struct lets host code hold a
// stream without including <cuda_runtime.h>.
struct CUstream_st;

namespace rlvr {

//! The CUDA backend: kernels are enqueued on `stream` of the current device.
//!
//! Memory passed to a CUDA-backend function (every `matrix_view` / `vector_view`) must be device
//! memory (or managed memory) of the current device; host pointers are not checked and fault.
struct cuda_backend {
  //! The stream work is enqueued on; `nullptr` is the legacy default stream.
  CUstream_st* stream = nullptr;
  //! Opt-in flag for device backends (data lives in device memory; see `enable_device_backend`).
  static constexpr bool device_backend = true;
};

//! Opt-in flag for backends whose data lives in accelerator memory. Specialise to `true`, or give
//! the type a `static constexpr bool device_backend = true` member.
template <class B> inline constexpr bool enable_device_backend = requires { requires B::device_backend; };

//! A type B models `CudaBackend` if
//! 1. it opts in as a device backend (`rlvr::enable_device_backend<B>`), and
//! 2. an object `b` of type `const B` has a member `b.stream` convertible to `CUstream_st*`
//!    (`cudaStream_t`), the stream its kernels are enqueued on.
template <class B>
concept CudaBackend = enable_device_backend<std::remove_cvref_t<B>> && requires(const std::remove_cvref_t<B>& b) {
  { b.stream } -> std::convertible_to<CUstream_st*>;
};
static_assert(CudaBackend<cuda_backend>);

namespace cuda {

//! Launch policy of the fused loss kernel: one thread block per row of logits.
//! - `block_threads`: threads per block (a multiple of 32, ≤ 1024);
//! - `min_blocks_per_sm`: occupancy hint given to `__launch_bounds__`;
//! - `vector_bytes`: bytes each thread loads per instruction (16 = `float4` / 8 × bf16) on rows
//!   whose start is 16-byte aligned; other rows take the scalar path.
struct fused_loss_policy {
  int block_threads;
  int min_blocks_per_sm;
  int vector_bytes;
};

//! Launch policy of the sampling kernels: one thread block per row of `block_threads` threads
//! (a multiple of 32, ≤ 1024; the threshold search is a fixed three-level radix select).
struct sampling_policy {
  int block_threads;
};

//! Policies for Hopper (sm_90): 3 TB/s+ of HBM wants many bytes in flight per SM, so the fused
//! loss runs 512 threads × two 16-byte loads in flight, two blocks per SM. Sampling uses 512
//! threads per row: at 1024 the sampling kernel is held to 64 registers and spills (ptxas -v).
struct policy900 {
  static constexpr fused_loss_policy fused_loss{512, 2, 16};
  static constexpr sampling_policy sampling{512};
};
//! Policies for Ampere (sm_80/86/89).
struct policy800 {
  static constexpr fused_loss_policy fused_loss{256, 4, 16};
  static constexpr sampling_policy sampling{256};
};
//! Policies for anything older (sm_70/75), also the fallback.
struct policy700 {
  static constexpr fused_loss_policy fused_loss{256, 4, 16};
  static constexpr sampling_policy sampling{256};
};

//! The policy a kernel uses on a device of compute capability `major.minor` (CUB's policy hub).
//! Returns an index: 900, 800 or 700; the launchers map it to the policy types above.
constexpr int policy_for(int major, int minor) {
  const int cc = major * 100 + minor * 10;
  return cc >= 900 ? 900 : cc >= 800 ? 800 : 700;
}

//! A type P is a tuning policy if it has `static constexpr fused_loss_policy fused_loss` and
//! `static constexpr sampling_policy sampling` members with valid values (checked below).
template <class P>
concept TuningPolicy = requires {
  { P::fused_loss } -> std::convertible_to<fused_loss_policy>;
  { P::sampling } -> std::convertible_to<sampling_policy>;
} && (P::fused_loss.block_threads % 32 == 0) && (P::fused_loss.block_threads <= 1024) &&
    (P::fused_loss.vector_bytes == 16 || P::fused_loss.vector_bytes == 8 || P::fused_loss.vector_bytes == 4) &&
    (P::sampling.block_threads % 32 == 0) && (P::sampling.block_threads <= 1024);
static_assert(TuningPolicy<policy900>);
static_assert(TuningPolicy<policy800>);
static_assert(TuningPolicy<policy700>);

//! CUDA runtime error codes that mean "no usable device here" (values of `cudaError_t`):
//! `cudaErrorInsufficientDriver` = 35, `cudaErrorNoDevice` = 100.
inline constexpr int error_insufficient_driver = 35;
inline constexpr int error_no_device = 100;

//! Throws the `rlvr` error for a failed CUDA runtime call: `rlvr::unsupported_error` when the
//! code says there is no usable device, `rlvr::device_error` otherwise. The message names the
//! call (`expr`), the runtime's error name and description, and the source location.
[[noreturn]] inline void raise_runtime_error(int code, const char* name, const char* description,
                                             const char* expr, const char* file, int line) {
  const std::string msg = detail::concat(expr, " failed: ", name, " (", code, "): ", description,
                                         " (", file, ":", line, ")");
  if (code == error_no_device || code == error_insufficient_driver) throw unsupported_error(msg);
  throw device_error(msg);
}

} // namespace cuda
} // namespace rlvr
