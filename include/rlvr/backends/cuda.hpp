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
#include <cstddef>
#include <cstdint>
#include <string>
#include <type_traits>

#include "rlvr/backends/concepts.hpp"
#include "rlvr/sampling/processors.hpp"
#include "rlvr/sampling/streams.hpp"
#include "rlvr/view.hpp"
#include "rlvr/config.hpp"
#include "rlvr/error.hpp"

// The runtime's stream type is `struct CUstream_st*`; declaring the struct lets host code hold a
// stream without including <cuda_runtime.h>.
struct CUstream_st;

namespace rlvr {

//! The CUDA backend: kernels are enqueued on `stream` of the current device.
//!
//! It models `rlvr::Backend` (and `SamplingBackend<·, float>`) like every host backend, so the
//! one set of entry points — `rlvr::loss_and_grad`, `rlvr::log_prob_entropy`, `rlvr::sample` —
//! runs on it; its memory space is `rlvr::cuda_space`, so the logits (and gradient) views handed
//! to those entry points must be `matrix_view<T, rlvr::cuda_space>` (a host view is a compile
//! error naming both spaces). The per-token arrays stay on the host (the entry points stage
//! them, O(N) bytes).
//!
//! The members are *declared* here (host code can hold, copy and pass a `cuda_backend`, and the
//! concepts see it) and *defined* in the nvcc-only headers: the loss operations in
//! `rlvr/backends/cuda/fused_loss.cuh`, sampling in `rlvr/backends/cuda/sampling.cuh`, the
//! memory operations in `rlvr/backends/cuda/memory.cuh`. A translation unit that calls an entry
//! point with a `cuda_backend` is compiled by nvcc and includes those headers (otherwise the
//! link fails naming the member).
//!
//! Launch shapes are chosen at run time from the current device's compute capability
//! (`cuda::policy_for`: the sm_80, sm_90 and sm_100 presets below) unless `policy` forces one.
struct cuda_backend {
  //! The stream work is enqueued on; `nullptr` is the legacy default stream.
  CUstream_st* stream = nullptr;
  //! The tuning preset: 0 = from the current device's compute capability (`cuda::policy_for`),
  //! else 700, 800, 900 or 1000 to force one (a value outside these is an `rlvr::config_error`
  //! at the first launch).
  int policy = 0;
  //! Opt-in flag for device backends (data lives in device memory; see `enable_device_backend`).
  static constexpr bool device_backend = true;
  //! Where the kernels read and write: device memory of the current device.
  using memory_space = cuda_space;

  //! Operation 1 of `rlvr/backends/concepts.hpp` on the device (float logits; asynchronous).
  template <class T>
    requires std::is_same_v<T, float>
  void logp_entropy(matrix_view<const T, cuda_space> z, vector_view<const token_t, cuda_space> y, T temperature,
                    vector_view<T, cuda_space> logp, vector_view<T, cuda_space> entropy) const;
  //! Operation 2 (the fused pass) on the device (float logits; `g` may alias `z`; asynchronous).
  //! The epilogue is copied to the device by value and must only touch device memory.
  template <class T, class E>
    requires std::is_same_v<T, float> && RowEpilogue<E, T>
  void fused_rows(matrix_view<const T, cuda_space> z, vector_view<const token_t, cuda_space> y, T temperature,
                  const E& ep, matrix_view<T, cuda_space> g) const;
  //! `SamplingBackend`: one draw per row with the GPU sampler (asynchronous).
  template <class T>
    requires std::is_same_v<T, float>
  void sample_rows(matrix_view<const T, cuda_space> z, const sampling_params& p,
                   const basic_stream_batch<cuda_space>& streams, vector_view<token_draw<T>, cuda_space> out,
                   vector_view<std::uint8_t, cuda_space> status) const;

  //! `SpaceMemory`: stream-ordered allocation (`cudaMallocAsync` on `stream`).
  inline void* allocate_bytes(std::size_t bytes) const;
  //! `SpaceMemory`: stream-ordered release (`cudaFreeAsync` on `stream`).
  inline void free_bytes(void* p) const noexcept;
  //! `SpaceMemory`: host → device copy enqueued on `stream`.
  inline void upload_bytes(void* device, const void* host, std::size_t bytes) const;
  //! `SpaceMemory`: device → host copy on `stream`; returns when the bytes are on the host.
  inline void download_bytes(void* host, const void* device, std::size_t bytes) const;
};

//! A type B models `CudaBackend` if
//! 1. it opts in as a device backend (`rlvr::enable_device_backend<B>`), and
//! 2. an object `b` of type `const B` has a member `b.stream` convertible to `CUstream_st*`
//!    (`cudaStream_t`), the stream its kernels are enqueued on.
template <class B>
concept CudaBackend = enable_device_backend<std::remove_cvref_t<B>> && requires(const std::remove_cvref_t<B>& b) {
  { b.stream } -> std::convertible_to<CUstream_st*>;
};
static_assert(CudaBackend<cuda_backend>);
static_assert(Backend<cuda_backend>);
static_assert(SpaceMemory<cuda_backend>);
static_assert(SamplingBackend<cuda_backend, float>);
static_assert(!HostBackend<cuda_backend>);
static_assert(!LossBackend<cuda_backend, double>);

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
//! Policies for Blackwell (sm_100 and later). Until a Blackwell run is committed to
//! docs/performance.md these are the Hopper shapes (the same bytes-in-flight argument holds with
//! more HBM bandwidth); the preset exists so a measured change lands in one place.
struct policy1000 {
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
//! Returns an index: 1000 (sm_100+), 900 (sm_90), 800 (sm_80–89) or 700 (older); the backend's
//! launchers map it to `policy1000`, `policy900`, `policy800`, `policy700` at run time (the
//! current device's capability is queried once per device and cached).
constexpr int policy_for(int major, int minor) {
  const int cc = major * 100 + minor * 10;
  return cc >= 1000 ? 1000 : cc >= 900 ? 900 : cc >= 800 ? 800 : 700;
}
static_assert(policy_for(8, 0) == 800 && policy_for(8, 9) == 800 && policy_for(9, 0) == 900 &&
              policy_for(10, 0) == 1000 && policy_for(12, 0) == 1000 && policy_for(7, 5) == 700);

//! Tag for the kernel launchers' `Policy` parameter (their default): choose the preset at run
//! time from `cuda_backend::policy`, or from the current device's compute capability through
//! `policy_for` when that is 0.
struct runtime_policy {};

//! A type P is a tuning policy if it has `static constexpr fused_loss_policy fused_loss` and
//! `static constexpr sampling_policy sampling` members with valid values (checked below).
template <class P>
concept TuningPolicy = requires {
  { P::fused_loss } -> std::convertible_to<fused_loss_policy>;
  { P::sampling } -> std::convertible_to<sampling_policy>;
} && (P::fused_loss.block_threads % 32 == 0) && (P::fused_loss.block_threads <= 1024) &&
    (P::fused_loss.vector_bytes == 16 || P::fused_loss.vector_bytes == 8 || P::fused_loss.vector_bytes == 4) &&
    (P::sampling.block_threads % 32 == 0) && (P::sampling.block_threads <= 1024);
static_assert(TuningPolicy<policy1000>);
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
