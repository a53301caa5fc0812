#pragma once
// Device-side input checks shared by the CUDA entry points: the first index whose id lies
// outside [0, bound), found with one grid-stride pass and an atomicMin (private header).
#include <limits>
#include <vector>

#include <cuda_runtime.h>

#include "rlvr/backends/cuda.hpp"
#include "rlvr/backends/cuda/error.cuh"
#include "rlvr/backends/cuda/memory.cuh"
#include "rlvr/view.hpp"

namespace rlvr::cuda::detail {

template <class Id>
__global__ void first_out_of_range_kernel(const Id* ids, index_t n, index_t bound, unsigned long long* first) {
  for (index_t i = blockIdx.x * static_cast<index_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<index_t>(gridDim.x) * blockDim.x) {
    const auto t = ids[i];
    if (t < 0 || static_cast<index_t>(t) >= bound) atomicMin(first, static_cast<unsigned long long>(i));
  }
}

//! Throws `rlvr::range_error` "<what>[i] = v is outside [0, bound)" for the first offending
//! element of the device array `ids`. Synchronises `s`.
template <class Id>
void expect_ids_in_range(cudaStream_t s, vector_view<const Id, cuda_space> ids, index_t bound, const char* what) {
  if (ids.empty()) return;
  constexpr auto none = std::numeric_limits<unsigned long long>::max();
  const std::vector<unsigned long long> init{none};
  device_buffer<unsigned long long> first(static_cast<index_t>(1), s);
  RLVR_CUDA_CHECK(cudaMemcpyAsync(first.data(), init.data(), sizeof(unsigned long long), cudaMemcpyHostToDevice, s));
  const index_t want = (ids.size() + 255) / 256;
  const auto blocks = static_cast<unsigned>(want < 1024 ? want : 1024);
  first_out_of_range_kernel<<<blocks, 256, 0, s>>>(ids.data(), ids.size(), bound, first.data());
  RLVR_CUDA_CHECK_LAUNCH();
  const auto bad = first.download()[0];
  if (bad != none) {
    Id value{};
    RLVR_CUDA_CHECK(cudaMemcpyAsync(&value, ids.data() + bad, sizeof(Id), cudaMemcpyDeviceToHost, s));
    RLVR_CUDA_CHECK(cudaStreamSynchronize(s));
    fail<range_error>(what, "[", bad, "] = ", static_cast<long long>(value), " is outside [0, ", bound, ")");
  }
}

} // namespace rlvr::cuda::detail
