#pragma once
// The CUDA backend as the conformance suite sees it (nvcc only): `rlvr::cuda_backend` itself —
// it models rlvr::Backend and rlvr::SamplingBackend<·, float> with cuda_space views — plus the
// suite's memory<> specialisation (device buffers, stream synchronisation, "skipped" without a
// device). The suite's checks are the same as for the host backends.
#include <vector>

#include "conformance/conformance.hpp"
#include "rlvr/backends/cuda/error.cuh"
#include "rlvr/backends/cuda/fused_loss.cuh"
#include "rlvr/backends/cuda/memory.cuh"
#include "rlvr/backends/cuda/sampling.cuh"

namespace rlvr::conformance {

static_assert(Backend<cuda_backend>);
static_assert(!LossBackend<cuda_backend, double>);

template <> struct memory<cuda_backend> {
  template <class T> using buffer = rlvr::cuda::device_buffer<T>;
  template <class T> static buffer<T> upload(const std::vector<T>& h) {
    buffer<T> d(static_cast<index_t>(h.size()));
    if (!h.empty()) d.upload(std::span<const T>(h.data(), h.size()));
    return d;
  }
  template <class T> static std::vector<T> download(const buffer<T>& b) { return b.download(); }
  template <class T> static T* data(buffer<T>& b) { return b.data(); }
  static void synchronize(const cuda_backend& be) { RLVR_CUDA_CHECK(cudaStreamSynchronize(be.stream)); }
  static const char* skip_reason() { return rlvr::cuda::device_count() == 0 ? "no usable CUDA device" : nullptr; }
};

} // namespace rlvr::conformance
