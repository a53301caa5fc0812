#pragma once
//! \file rlvr/backends/cuda/error.cuh
//! \brief `RLVR_CUDA_CHECK`: turns a failing CUDA runtime call into an `rlvr` error (nvcc only).
//!
//!     RLVR_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, stream));
//!
//! throws `rlvr::device_error` ("[rlvr.device] cudaMemcpyAsync(...) failed: cudaErrorInvalidValue
//! (1): invalid argument (file:line)") or, where no usable device exists, `rlvr::unsupported_error`
//! (see `rlvr/backends/cuda.hpp`). `RLVR_CUDA_CHECK_LAUNCH()` checks the last kernel launch
//! (configuration errors are reported synchronously; faults inside a kernel surface at the next
//! synchronising call, as always with CUDA).

#include <cuda_runtime.h>

#include "rlvr/backends/cuda.hpp"

namespace rlvr::cuda {

//! Throws the `rlvr` error for `code` unless it is `cudaSuccess`.
inline void check(cudaError_t code, const char* expr, const char* file, int line) {
  if (code == cudaSuccess) [[likely]]
    return;
  (void)cudaGetLastError(); // clear the sticky-free error state so later calls start clean
  raise_runtime_error(static_cast<int>(code), cudaGetErrorName(code), cudaGetErrorString(code), expr,
                      file, line);
}

//! Number of CUDA devices usable by this process; 0 where there is no device or no driver
//! (never throws: this is the probe GPU tests use to decide to skip).
inline int device_count() noexcept {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    (void)cudaGetLastError();
    return 0;
  }
  return n;
}

} // namespace rlvr::cuda

//! Checks a CUDA runtime call; throws an `rlvr` error naming the call on failure.
#define RLVR_CUDA_CHECK(expr) ::rlvr::cuda::check((expr), #expr, __FILE__, __LINE__)
//! Checks the most recent kernel launch on this thread.
#define RLVR_CUDA_CHECK_LAUNCH() ::rlvr::cuda::check(cudaGetLastError(), "kernel launch", __FILE__, __LINE__)
