#pragma once
//! \file rlvr/view.hpp
//! \brief Non-owning views at rlvr's seams: `vector_view<T>` and row-major `matrix_view<T>`.
//!
//! rlvr never owns the caller's tensors. Every public entry point takes views (the
//! kokkos/mdspan idea: extents + layout + pointer), and the backends adapt their own containers
//! (`Eigen::Map`, `xt::adapt`, a device pointer) to and from them without copies.
//!
//! `matrix_view<T>` is row-major with an arbitrary row stride (≥ cols), so a [N, V] block cut
//! out of a wider buffer — for example the logits of the response tokens inside a
//! [N, V_padded] activation — is viewed in place. Element (i, j) lives at
//! `data[i * row_stride + j]`.
//!
//! All accessors are `RLVR_HD`, so views travel into CUDA kernels by value.

#include <cstddef>
#include <span>
#include <type_traits>

#include "rlvr/config.hpp"
#include "rlvr/error.hpp"

namespace rlvr {

//! A contiguous 1-D view: pointer + length. Trivially copyable; usable on the device.
template <class T> struct vector_view {
  T* ptr = nullptr;
  index_t len = 0;

  constexpr vector_view() = default;
  RLVR_HD constexpr vector_view(T* p, index_t n) : ptr(p), len(n) {}
  //! From any contiguous range with `data()` and `size()` (std::vector, std::array, std::span).
  template <class R>
    requires requires(R& r) {
      { r.data() } -> std::convertible_to<T*>;
      r.size();
    }
  constexpr vector_view(R& r) : ptr(r.data()), len(static_cast<index_t>(r.size())) {}
  //! A view of `U` converts to a view of `const U`.
  template <class U>
    requires(std::is_same_v<const U, T> && !std::is_same_v<U, T>)
  RLVR_HD constexpr vector_view(vector_view<U> v) : ptr(v.ptr), len(v.len) {}

  [[nodiscard]] RLVR_HD constexpr T* data() const { return ptr; }
  [[nodiscard]] RLVR_HD constexpr index_t size() const { return len; }
  [[nodiscard]] RLVR_HD constexpr bool empty() const { return len == 0; }
  RLVR_HD constexpr T& operator[](index_t i) const { return ptr[i]; }
  [[nodiscard]] RLVR_HD constexpr T* begin() const { return ptr; }
  [[nodiscard]] RLVR_HD constexpr T* end() const { return ptr + len; }
  [[nodiscard]] std::span<T> span() const { return {ptr, static_cast<std::size_t>(len)}; }
};

template <class R> vector_view(R&) -> vector_view<std::remove_pointer_t<decltype(std::declval<R&>().data())>>;

//! A row-major 2-D view with a row stride: element (i, j) is `data[i * row_stride + j]`.
template <class T> struct matrix_view {
  T* ptr = nullptr;
  index_t n_rows = 0;
  index_t n_cols = 0;
  index_t stride = 0; //!< elements between the starts of consecutive rows; ≥ n_cols

  constexpr matrix_view() = default;
  //! Contiguous rows (`row_stride = cols`).
  RLVR_HD constexpr matrix_view(T* p, index_t rows, index_t cols)
      : ptr(p), n_rows(rows), n_cols(cols), stride(cols) {}
  //! Strided rows. Use `make_matrix_view` at a public boundary: it checks `row_stride >= cols`.
  RLVR_HD constexpr matrix_view(T* p, index_t rows, index_t cols, index_t row_stride)
      : ptr(p), n_rows(rows), n_cols(cols), stride(row_stride) {}
  template <class U>
    requires(std::is_same_v<const U, T> && !std::is_same_v<U, T>)
  RLVR_HD constexpr matrix_view(matrix_view<U> m)
      : ptr(m.ptr), n_rows(m.n_rows), n_cols(m.n_cols), stride(m.stride) {}

  [[nodiscard]] RLVR_HD constexpr T* data() const { return ptr; }
  [[nodiscard]] RLVR_HD constexpr index_t rows() const { return n_rows; }
  [[nodiscard]] RLVR_HD constexpr index_t cols() const { return n_cols; }
  [[nodiscard]] RLVR_HD constexpr index_t row_stride() const { return stride; }
  [[nodiscard]] RLVR_HD constexpr bool contiguous() const { return stride == n_cols; }
  RLVR_HD constexpr T& operator()(index_t i, index_t j) const { return ptr[i * stride + j]; }
  //! Row i as a 1-D view of length `cols()`.
  [[nodiscard]] RLVR_HD constexpr vector_view<T> row(index_t i) const {
    return {ptr + i * stride, n_cols};
  }
  //! Rows [first, first + count).
  [[nodiscard]] RLVR_HD constexpr matrix_view block_rows(index_t first, index_t count) const {
    return {ptr + first * stride, count, n_cols, stride};
  }
};

//! Checked construction at a public boundary: extents non-negative, `row_stride >= cols`,
//! non-null data unless empty. Throws `rlvr::shape_error` naming the bad extent.
template <class T>
matrix_view<T> make_matrix_view(T* data, index_t rows, index_t cols, index_t row_stride = -1) {
  if (row_stride < 0) row_stride = cols;
  RLVR_EXPECTS(rows >= 0 && cols >= 0, shape, "matrix_view: negative extent (rows = ", rows,
               ", cols = ", cols, ")");
  RLVR_EXPECTS(row_stride >= cols, shape, "matrix_view: row_stride = ", row_stride,
               " is smaller than cols = ", cols);
  RLVR_EXPECTS(data != nullptr || rows * cols == 0, shape,
               "matrix_view: null data for a non-empty ", rows, "x", cols, " view");
  return {data, rows, cols, row_stride};
}

//! Throws `rlvr::shape_error` unless `v.size() == expected`; `what` names the argument.
template <class T> void expect_size(vector_view<T> v, index_t expected, const char* what) {
  RLVR_EXPECTS(v.size() == expected, shape, what, ": length ", v.size(), " but ", expected,
               " expected");
}

} // namespace rlvr
