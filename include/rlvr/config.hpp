#pragma once
//! \file rlvr/config.hpp
//! \brief Build configuration: version, the host/device annotation macro and the index type.
//!
//! Every per-element function in rlvr (objective terms, sampling processors, RNG) is written
//! once and marked `RLVR_HD`. Compiled by a host compiler the macro is empty; compiled by nvcc it
//! expands to `__host__ __device__`, so the same `constexpr` functor runs in the CPU loops and in
//! the CUDA kernels (the Eigen-Tensor `evalScalar` idea). Nothing else in rlvr depends on which
//! compiler is used.

#include <cstddef>

//! Library version (kept equal to the CMake project version; a test checks it).
#define RLVR_VERSION_MAJOR 0
#define RLVR_VERSION_MINOR 2
#define RLVR_VERSION_PATCH 0

#if defined(__CUDACC__) || defined(__HIPCC__)
//! Marks a function callable from host and device code.
#define RLVR_HD __host__ __device__
//! True while compiling device code for a GPU.
#define RLVR_CUDA_COMPILER 1
#else
#define RLVR_HD
#define RLVR_CUDA_COMPILER 0
#endif

#if defined(_MSC_VER)
#define RLVR_FORCEINLINE __forceinline
#else
//! Forces inlining of tiny hot helpers (loop bodies of the fused kernels).
#define RLVR_FORCEINLINE inline __attribute__((always_inline))
#endif

namespace rlvr {

//! Signed index type used for every extent, stride and position (as Eigen's `Index`).
//! Signed so that differences and reverse loops need no casts.
using index_t = std::ptrdiff_t;

//! The version as a single number, `major * 10000 + minor * 100 + patch`.
inline constexpr int version = RLVR_VERSION_MAJOR * 10000 + RLVR_VERSION_MINOR * 100 + RLVR_VERSION_PATCH;

} // namespace rlvr
