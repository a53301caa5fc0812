#pragma once
// The CUDA backend as the conformance suite sees it (nvcc only): the two operations of the
// Backend concept as members over device memory, and the suite's memory<> specialisation
// (device buffers, stream synchronisation, "skipped" without a device).
#include <vector>

#include "conformance/conformance.hpp"
#include "rlvr/backends/cuda/error.cuh"
#include "rlvr/backends/cuda/fused_loss.cuh"
#include "rlvr/backends/cuda/memory.cuh"

namespace rlvr::conformance {

//! `rlvr::cuda::logp_entropy` / `rlvr::cuda::fused_rows` as the members of `rlvr::LossBackend`
//! (float logits; the data are device pointers).
struct cuda_device_backend {
  static constexpr bool device_backend = true;
  cuda_backend b{};
  template <class T>
    requires std::is_same_v<T, float>
  void logp_entropy(matrix_view<const T> z, vector_view<const token_t> y, T temperature, vector_view<T> logp,
                    vector_view<T> entropy) const {
    rlvr::cuda::logp_entropy(b, z, y, temperature, logp, entropy);
  }
  template <class T, class E>
    requires std::is_same_v<T, float> && RowEpilogue<E, T>
  void fused_rows(matrix_view<const T> z, vector_view<const token_t> y, T temperature, const E& ep,
                  matrix_view<T> g) const {
    rlvr::cuda::fused_rows(b, z, y, temperature, ep, g);
  }
};
static_assert(LossBackend<cuda_device_backend, float>);
static_assert(!LossBackend<cuda_device_backend, double>);

template <> struct memory<cuda_device_backend> {
  template <class T> using buffer = rlvr::cuda::device_buffer<T>;
  template <class T> static buffer<T> upload(const std::vector<T>& h) {
    buffer<T> d(static_cast<index_t>(h.size()));
    if (!h.empty()) d.upload(std::span<const T>(h.data(), h.size()));
    return d;
  }
  template <class T> static std::vector<T> download(const buffer<T>& b) { return b.download(); }
  template <class T> static T* data(buffer<T>& b) { return b.data(); }
  static void synchronize(const cuda_device_backend& be) { RLVR_CUDA_CHECK(cudaStreamSynchronize(be.b.stream)); }
  static const char* skip_reason() { return rlvr::cuda::device_count() == 0 ? "no usable CUDA device" : nullptr; }
};

} // namespace rlvr::conformance
