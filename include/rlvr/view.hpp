#pragma once
//! \file rlvr/view.hpp
//! \brief Non-owning views at rlvr's seams: `vector_view<T, Space>` and row-major
//! `matrix_view<T, Space>`, tagged with the memory space their pointer lives in.
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
//!
//! Views are two or four words, trivially copyable: pass them by value. They do not extend the
//! lifetime of what they point to, and element access is unchecked (no bounds test in
//! `operator[]`, `operator()`, `row`, `block_rows`): extents are validated once, by the entry
//! point that receives the view (`expect_size`, `make_matrix_view`, the `shape_error`s of
//! `loss_and_grad`, …), never per element. `const`-ness is in the element type: a
//! `matrix_view<const float>` is a read-only view, and a `const matrix_view<float>` still writes.
//!
//! ## Memory spaces
//! Every view carries, as its second template argument, the *memory space* of its pointer (the
//! Kokkos idea): `host_space` (the default, so `matrix_view<float>` is a host view and host code
//! reads exactly as before) or `cuda_space` (device memory of the current CUDA device). A backend
//! names the space its kernels read (`rlvr::memory_space_t<B>`, `rlvr/backends/concepts.hpp`), and
//! rlvr's entry points refuse, *at compile time*, a view of another space:
//!
//!     std::vector<float> z(n * v);
//!     rlvr::matrix_view<const float> host_z(z.data(), n, v);          // host_space
//!     rlvr::matrix_view<const float, rlvr::cuda_space> dev_z(d, n, v); // device pointer d
//!     rlvr::log_prob_entropy(rlvr::cuda_backend{}, host_z, …);  // error: "… view in host memory
//!                                                               //  given to a backend of space cuda"
//!
//! A user backend may add its own space: any type S with `static constexpr bool host_accessible`
//! (may the host dereference the pointer?) and `static constexpr const char* name` models
//! `MemorySpace`. Views of different spaces never convert into each other; a view of `U`
//! converts to a view of `const U` in the same space. Host ranges (`std::vector`, `std::span`,
//! `std::array`) convert to host views only.
//!
//! Debug builds of the CUDA backend also check at run time that a `cuda_space` pointer is device
//! or managed memory (`cudaPointerGetAttributes`), so a host pointer cast into a device view is
//! reported as an `rlvr::device_error` instead of an illegal-address fault inside a kernel.

#include <cstddef>
#include <cstdint>
#include <concepts>
#include <span>
#include <type_traits>

#include "rlvr/config.hpp"
#include "rlvr/error.hpp"

namespace rlvr {

//! The host's memory: pointers the calling thread may dereference. The default space of a view.
struct host_space {
  static constexpr bool host_accessible = true; //!< the host may read and write through the pointer
  static constexpr const char* name = "host";   //!< used in diagnostics
};

//! Device memory of the current CUDA device (or managed memory): readable by CUDA kernels only.
struct cuda_space {
  static constexpr bool host_accessible = false; //!< the host must copy before reading
  static constexpr const char* name = "cuda";    //!< used in diagnostics
};

//! A type S models `MemorySpace` if
//! 1. `S::host_accessible` is a `constexpr bool` (may host code dereference a pointer of S?), and
//! 2. `S::name` is a `constexpr const char*` naming the space in diagnostics.
template <class S>
concept MemorySpace = requires {
  { S::host_accessible } -> std::convertible_to<bool>;
  { S::name } -> std::convertible_to<const char*>;
};
static_assert(MemorySpace<host_space>);
static_assert(MemorySpace<cuda_space>);

namespace detail {
//! The memory space a type names (`X::memory_space`: a range, a view, a backend), else host.
template <class X> struct memory_space_of { using type = host_space; };
template <class X>
  requires requires { typename X::memory_space; }
struct memory_space_of<X> {
  using type = typename X::memory_space;
};
} // namespace detail

//! True when the host may dereference pointers of space S.
template <MemorySpace S> inline constexpr bool host_accessible_v = S::host_accessible;

//! The element type of the masks and active flags at rlvr's API: 0 = not wanted, nonzero =
//! wanted (rlvr writes 1). `token_batch::mask` ([B, T], `matrix_view<const mask_t>`),
//! `advantage_input::mask` ([N], `vector_view<const mask_t>`) and the active flags of
//! `advantage_output` / `loss_token_batch` all use it (a float view does not convert). One byte
//! per token (a float mask took four), the layout of a `torch.bool` or `torch.uint8` tensor, so
//! the Python module views a DLPack mask without a copy.
using mask_t = std::uint8_t;

//! A contiguous 1-D view: pointer + length, in memory space `Space` (host by default).
//! Trivially copyable; usable on the device.
template <class T, class Space = host_space> struct vector_view {
  static_assert(MemorySpace<Space>, "rlvr::vector_view: the second argument must model rlvr::MemorySpace");
  using element_type = T;      //!< the element type (possibly const)
  using memory_space = Space;  //!< where `ptr` lives
  // Plain data members, all public: the type stays standard-layout and trivially copyable, as a
  // CUDA kernel argument must be. Code should prefer the accessors below.
  T* ptr = nullptr;
  index_t len = 0;

  constexpr vector_view() = default;
  RLVR_HD constexpr vector_view(T* p, index_t n) : ptr(p), len(n) {}
  //! From any contiguous host range with `data()` and `size()` (std::vector, std::array,
  //! std::span); only for host views (a range that names its own `memory_space` must match).
  template <class R>
    requires requires(R& r) {
      { r.data() } -> std::convertible_to<T*>;
      r.size();
    } && std::is_same_v<typename detail::memory_space_of<std::remove_cvref_t<R>>::type, Space>
  //! The view aliases the range's storage: it dangles once the range reallocates or dies.
  constexpr vector_view(R& r) : ptr(r.data()), len(static_cast<index_t>(r.size())) {}
  //! A view of `U` converts to a view of `const U` in the same memory space.
  template <class U>
    requires(std::is_same_v<const U, T> && !std::is_same_v<U, T>)
  RLVR_HD constexpr vector_view(vector_view<U, Space> v) : ptr(v.ptr), len(v.len) {}

  [[nodiscard]] RLVR_HD constexpr T* data() const { return ptr; }
  [[nodiscard]] RLVR_HD constexpr index_t size() const { return len; }
  [[nodiscard]] RLVR_HD constexpr bool empty() const { return len == 0; }
  RLVR_HD constexpr T& operator[](index_t i) const { return ptr[i]; }
  [[nodiscard]] RLVR_HD constexpr T* begin() const { return ptr; }
  [[nodiscard]] RLVR_HD constexpr T* end() const { return ptr + len; }
  //! As a `std::span` (host code only: not `RLVR_HD`; meaningful for host-accessible spaces).
  [[nodiscard]] std::span<T> span() const { return {ptr, static_cast<std::size_t>(len)}; }
};

//! `vector_view v(vec)` deduces the element type from `data()`: `vector_view<float>` from a
//! `std::vector<float>&`, `vector_view<const float>` from a `const std::vector<float>&`.
template <class R> vector_view(R&) -> vector_view<std::remove_pointer_t<decltype(std::declval<R&>().data())>>;

//! A row-major 2-D view with a row stride: element (i, j) is `data[i * row_stride + j]`, in
//! memory space `Space` (host by default).
template <class T, class Space = host_space> struct matrix_view {
  static_assert(MemorySpace<Space>, "rlvr::matrix_view: the second argument must model rlvr::MemorySpace");
  using element_type = T;      //!< the element type (possibly const)
  using memory_space = Space;  //!< where `ptr` lives
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
  RLVR_HD constexpr matrix_view(matrix_view<U, Space> m)
      : ptr(m.ptr), n_rows(m.n_rows), n_cols(m.n_cols), stride(m.stride) {}

  [[nodiscard]] RLVR_HD constexpr T* data() const { return ptr; }
  [[nodiscard]] RLVR_HD constexpr index_t rows() const { return n_rows; }
  [[nodiscard]] RLVR_HD constexpr index_t cols() const { return n_cols; }
  [[nodiscard]] RLVR_HD constexpr index_t row_stride() const { return stride; }
  [[nodiscard]] RLVR_HD constexpr bool contiguous() const { return stride == n_cols; }
  RLVR_HD constexpr T& operator()(index_t i, index_t j) const { return ptr[i * stride + j]; }
  //! Row i as a 1-D view of length `cols()`.
  [[nodiscard]] RLVR_HD constexpr vector_view<T, Space> row(index_t i) const {
    return {ptr + i * stride, n_cols};
  }
  //! Rows [first, first + count), same stride (e.g. one mini-batch of a rollout's token rows);
  //! the caller keeps first + count ≤ rows().
  [[nodiscard]] RLVR_HD constexpr matrix_view block_rows(index_t first, index_t count) const {
    return {ptr + first * stride, count, n_cols, stride};
  }
};

//! Checked construction at a public boundary: extents non-negative, `row_stride >= cols`,
//! non-null data unless empty. Throws `rlvr::shape_error` naming the bad extent. `row_stride`
//! defaults (−1) to `cols`, i.e. contiguous rows; a [N, V] block of a [N, V_padded] buffer is
//! `make_matrix_view(buf, n, v, v_padded)`.
template <class T, class Space = host_space>
matrix_view<T, Space> make_matrix_view(T* data, index_t rows, index_t cols, index_t row_stride = -1) {
  if (row_stride < 0) row_stride = cols;
  RLVR_EXPECTS(rows >= 0 && cols >= 0, shape, "matrix_view: negative extent (rows = ", rows,
               ", cols = ", cols, ")");
  RLVR_EXPECTS(row_stride >= cols, shape, "matrix_view: row_stride = ", row_stride,
               " is smaller than cols = ", cols);
  RLVR_EXPECTS(data != nullptr || rows * cols == 0, shape,
               "matrix_view: null data for a non-empty ", rows, "x", cols, " view");
  return {data, rows, cols, row_stride};
}

//! Throws `rlvr::shape_error` unless `v.size() == expected`; `what` names the argument, e.g.
//! "[rlvr.shape] token_entropy: out: length 3 but 4 expected".
template <class T, class Space> void expect_size(vector_view<T, Space> v, index_t expected, const char* what) {
  RLVR_EXPECTS(v.size() == expected, shape, what, ": length ", v.size(), " but ", expected,
               " expected");
}

} // namespace rlvr
