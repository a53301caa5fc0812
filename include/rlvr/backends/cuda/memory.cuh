#pragma once
//! \file rlvr/backends/cuda/memory.cuh
//! \brief Owning device memory and streams (RAII), and host↔device copies (nvcc only).
//!
//! - `device_buffer<T>`: `n` elements of device memory from `cudaMallocAsync` on a stream (freed
//!   with `cudaFreeAsync` on the same stream), move-only; `view()` / `matrix(rows, cols)` give the
//!   rlvr views the kernels take.
//! - `stream`: an owned non-blocking stream; `backend()` gives the `rlvr::cuda_backend` that
//!   enqueues on it.
//! - `copy_to_device` / `copy_to_host`: typed, size-checked copies on a stream; the `_sync`
//!   forms wait for the stream.
//!
//! Every failure is an `rlvr` error (`rlvr/backends/cuda/error.cuh`). Destructors never throw:
//! an error while freeing is reported by the next checked call, as CUDA does.

#include <cstddef>
#include <span>
#include <utility>
#include <vector>

#include <cuda_runtime.h>

#include "rlvr/backends/cuda.hpp"
#include "rlvr/backends/cuda/error.cuh"
#include "rlvr/view.hpp"

namespace rlvr::cuda {

//! An owned CUDA stream created with `cudaStreamNonBlocking` (it does not synchronise with the
//! legacy default stream). Move-only.
class stream {
public:
  stream() { RLVR_CUDA_CHECK(cudaStreamCreateWithFlags(&s_, cudaStreamNonBlocking)); }
  stream(const stream&) = delete;
  stream& operator=(const stream&) = delete;
  stream(stream&& o) noexcept : s_(std::exchange(o.s_, nullptr)) {}
  stream& operator=(stream&& o) noexcept {
    if (this != &o) {
      reset();
      s_ = std::exchange(o.s_, nullptr);
    }
    return *this;
  }
  ~stream() { reset(); }

  [[nodiscard]] cudaStream_t get() const noexcept { return s_; }
  //! The backend value that enqueues rlvr work on this stream.
  [[nodiscard]] cuda_backend backend() const noexcept { return cuda_backend{.stream = s_}; }
  //! Blocks the host until every operation enqueued so far has finished.
  void synchronize() const { RLVR_CUDA_CHECK(cudaStreamSynchronize(s_)); }

private:
  void reset() noexcept {
    if (s_ != nullptr) (void)cudaStreamDestroy(s_);
    s_ = nullptr;
  }
  cudaStream_t s_ = nullptr;
};

//! `n` elements of `T` in device memory, allocated stream-ordered. Move-only; not initialised.
template <class T> class device_buffer {
public:
  device_buffer() = default;
  //! Allocates `n` elements on `s` (`n ≥ 0`; throws `rlvr::range_error` for a negative count and
  //! `rlvr::device_error` when the device is out of memory).
  explicit device_buffer(index_t n, cudaStream_t s = nullptr) : n_(n), s_(s) {
    RLVR_EXPECTS(n >= 0, range, "device_buffer: negative element count ", n);
    if (n > 0)
      RLVR_CUDA_CHECK(cudaMallocAsync(reinterpret_cast<void**>(&p_), static_cast<std::size_t>(n) * sizeof(T), s));
  }
  //! Allocates `src.size()` elements on `s` and copies `src` into them (waits for the copy).
  device_buffer(std::span<const T> src, cudaStream_t s) : device_buffer(static_cast<index_t>(src.size()), s) {
    upload(src);
  }
  device_buffer(const device_buffer&) = delete;
  device_buffer& operator=(const device_buffer&) = delete;
  device_buffer(device_buffer&& o) noexcept
      : p_(std::exchange(o.p_, nullptr)), n_(std::exchange(o.n_, 0)), s_(o.s_) {}
  device_buffer& operator=(device_buffer&& o) noexcept {
    if (this != &o) {
      release();
      p_ = std::exchange(o.p_, nullptr);
      n_ = std::exchange(o.n_, 0);
      s_ = o.s_;
    }
    return *this;
  }
  ~device_buffer() { release(); }

  [[nodiscard]] T* data() const noexcept { return p_; }
  [[nodiscard]] index_t size() const noexcept { return n_; }
  [[nodiscard]] std::size_t bytes() const noexcept { return static_cast<std::size_t>(n_) * sizeof(T); }
  [[nodiscard]] cudaStream_t get_stream() const noexcept { return s_; }
  //! The elements live in device memory: views of a buffer are `cuda_space` views.
  using memory_space = cuda_space;
  [[nodiscard]] vector_view<T, cuda_space> view() const noexcept { return {p_, n_}; }
  //! The buffer as a row-major `rows × cols` matrix with row stride `row_stride` (default
  //! `cols`); throws `rlvr::shape_error` unless `rows · row_stride ≤ size()`.
  [[nodiscard]] matrix_view<T, cuda_space> matrix(index_t rows, index_t cols, index_t row_stride = -1) const {
    if (row_stride < 0) row_stride = cols;
    RLVR_EXPECTS(rows >= 0 && cols >= 0 && row_stride >= cols, shape, "device_buffer::matrix: bad extents ",
                 rows, "x", cols, " (row_stride ", row_stride, ")");
    RLVR_EXPECTS(rows * row_stride <= n_ || rows == 0, shape, "device_buffer::matrix: ", rows, "x", row_stride,
                 " elements exceed the buffer's ", n_);
    return {p_, rows, cols, row_stride};
  }
  //! Copies `src` (exactly `size()` elements) from the host and waits for the copy.
  void upload(std::span<const T> src) const {
    RLVR_EXPECTS(static_cast<index_t>(src.size()) == n_, shape, "device_buffer::upload: ", src.size(),
                 " elements for a buffer of ", n_);
    if (n_ == 0) return;
    RLVR_CUDA_CHECK(cudaMemcpyAsync(p_, src.data(), bytes(), cudaMemcpyHostToDevice, s_));
    RLVR_CUDA_CHECK(cudaStreamSynchronize(s_));
  }
  //! Copies the whole buffer to a new host vector (waits for the stream).
  [[nodiscard]] std::vector<T> download() const {
    std::vector<T> out(static_cast<std::size_t>(n_));
    if (n_ == 0) return out;
    RLVR_CUDA_CHECK(cudaMemcpyAsync(out.data(), p_, bytes(), cudaMemcpyDeviceToHost, s_));
    RLVR_CUDA_CHECK(cudaStreamSynchronize(s_));
    return out;
  }
  //! Fills the buffer with zero bytes (asynchronous).
  void zero() const {
    if (n_ > 0) RLVR_CUDA_CHECK(cudaMemsetAsync(p_, 0, bytes(), s_));
  }

private:
  void release() noexcept {
    if (p_ != nullptr) (void)cudaFreeAsync(p_, s_);
    p_ = nullptr;
    n_ = 0;
  }
  T* p_ = nullptr;
  index_t n_ = 0;
  cudaStream_t s_ = nullptr;
};

//! Copies `src` to a new device buffer on `s` and waits for the copy.
template <class T> device_buffer<T> to_device(const std::vector<T>& src, cudaStream_t s = nullptr) {
  return device_buffer<T>(std::span<const T>(src.data(), src.size()), s);
}

} // namespace rlvr::cuda

namespace rlvr {

// The `SpaceMemory` members of `rlvr::cuda_backend` (declared in rlvr/backends/cuda.hpp).
inline void* cuda_backend::allocate_bytes(std::size_t bytes) const {
  void* p = nullptr;
  if (bytes > 0) RLVR_CUDA_CHECK(cudaMallocAsync(&p, bytes, stream));
  return p;
}
inline void cuda_backend::free_bytes(void* p) const noexcept {
  if (p != nullptr) (void)cudaFreeAsync(p, stream);
}
inline void cuda_backend::upload_bytes(void* device, const void* host, std::size_t bytes) const {
  if (bytes > 0) RLVR_CUDA_CHECK(cudaMemcpyAsync(device, host, bytes, cudaMemcpyHostToDevice, stream));
}
inline void cuda_backend::download_bytes(void* host, const void* device, std::size_t bytes) const {
  if (bytes == 0) return;
  RLVR_CUDA_CHECK(cudaMemcpyAsync(host, device, bytes, cudaMemcpyDeviceToHost, stream));
  RLVR_CUDA_CHECK(cudaStreamSynchronize(stream));
}

} // namespace rlvr
