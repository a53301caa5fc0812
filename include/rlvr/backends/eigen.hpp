#pragma once
//! \file rlvr/backends/eigen.hpp
//! \brief The Eigen backend: vectorised, multi-threaded loss passes, and Eigen ↔ view adapters.
//!
//! `eigen_backend{.threads = t}` models `rlvr::LossBackend` for float and double. Rows are split
//! over `t` threads with `rlvr::parallel_for` (0 = all hardware threads) in the one host row loop
//! (`rlvr/backends/detail/host_rows.hpp`) with the SIMD-packet row evaluator; each row is read
//! once and written once, with the vectorised exp of `rlvr/detail/vexp.hpp` (AVX-512 / AVX2 /
//! SSE2 from the target flags; < 1 ulp in float and double, tested against `std::exp`):
//!
//! - read: per chunk of 2048 logits (L1-resident), the chunk maximum, then Σ e^{x−m} and
//!   Σ e^{x−m}(x − m) in vector lanes, merged across chunks in double with the online rescaling of
//!   `rlvr/objectives/row_math.hpp`;
//!   the read pass also parks e_v = e^{x_v − m_chunk} in the gradient row (in place: in a per-thread
//!   row buffer), so that
//! - write: g_v = e_v·e^{m_chunk − lse}·(a + b·u_v), u_v = max((x_v − m) − log s, lo) — one multiply
//!   per logit without an entropy term, two FMAs and a max with one; no second exp — then the
//!   target's correction. Splitting lse = m + log s keeps u exact to float rounding for logits of
//!   magnitude 1e4.
//!
//! Results do not depend on the thread count (rows are independent; per-row sums have a fixed
//! order). They agree with the serial oracle to a few float ulps (typed tests). Bad rows (NaN,
//! +inf, all −inf, z/τ beyond the logit type) are detected as in the oracle: NaN statistics and a
//! zero gradient row, reported by the entry points as `rlvr::numerical_error`.
//!
//! Memory: the fused pass allocates one workspace per thread per call (one double per 2048-logit
//! chunk, plus a V-element row buffer when the gradient aliases the logits and rows are parked);
//! nothing per row. `logp_entropy` and `fused_rows_ref` allocate nothing. An `eigen_backend` is a small value with no state: copy it
//! freely, and use one object from several threads at once.
//!
//! Adapters map Eigen objects to rlvr views without copies (row-major, unit inner stride):
//!
//!     rlvr::row_matrix<float> logits(n, v);           // Eigen::Matrix<float, Dynamic, Dynamic, RowMajor>
//!     auto z = rlvr::as_matrix_view(logits);           // matrix_view<const float>
//!     auto g = rlvr::as_mutable_matrix_view(grad);     // matrix_view<float>
//!     auto blk = rlvr::as_matrix_view(logits.middleRows(8, 16)); // a strided-free row block

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>
#include <vector>

#include "rlvr/backends/concepts.hpp"
#include "rlvr/backends/detail/host_rows.hpp"
#include "rlvr/config.hpp"
#include "rlvr/detail/vexp.hpp"
#include "rlvr/error.hpp"
#include "rlvr/objectives/row_math.hpp"
#include "rlvr/sampling/detail/host_row.hpp"
#include "rlvr/sampling/processors.hpp"
#include "rlvr/sampling/streams.hpp"
#include "rlvr/parallel.hpp"
#include "rlvr/view.hpp"

namespace rlvr {

//! Row-major dynamic Eigen matrix, the layout rlvr's logits use.
template <class T> using row_matrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

namespace detail {
// The row stride of the [rows, cols] row-major view of an Eigen object with inner stride 1. One
// row: its outer stride is never used, and Eigen need not report one ≥ cols for it (which
// `make_matrix_view` would reject). A column-major column vector (ColsAtCompileTime == 1, e.g.
// Eigen::VectorXf or a column of a column-major matrix): its rows are consecutive elements, so the
// row stride is 1 — its outerStride() is the column's length, not the distance between rows.
template <class D> index_t eigen_row_stride(const D& d) {
  if (d.rows() <= 1) return static_cast<index_t>(d.cols());
  if constexpr (!D::IsRowMajor && D::ColsAtCompileTime == 1) return 1;
  return static_cast<index_t>(d.outerStride());
}
} // namespace detail

//! A read-only view of a row-major Eigen expression with direct access (Matrix, Map, Ref, Block
//! of rows). Throws `rlvr::shape_error` if its inner stride is not 1. A column-major matrix is
//! rejected at compile time (`static_assert`): map it row-major, or transpose into a `row_matrix`.
//! The view aliases the object's storage; keep the object alive and unresized while it is used.
template <class Derived> auto as_matrix_view(const Eigen::DenseBase<Derived>& m) {
  static_assert(Derived::IsRowMajor || Derived::ColsAtCompileTime == 1,
                "rlvr::as_matrix_view: rlvr views are row-major; use rlvr::row_matrix<T> "
                "(Eigen::Matrix<T, Dynamic, Dynamic, RowMajor>) or a row-major Map");
  using T = typename Derived::Scalar;
  const auto& d = m.derived();
  RLVR_EXPECTS(d.innerStride() == 1, shape, "as_matrix_view: inner stride ", d.innerStride(), " is not 1");
  return make_matrix_view<const T>(d.data(), static_cast<index_t>(d.rows()), static_cast<index_t>(d.cols()),
                                   detail::eigen_row_stride(d));
}

//! A writable view of a row-major Eigen object with direct access (lvalue Matrix, Map, Ref, Block),
//! e.g. the gradient buffer of `loss_and_grad`. Same checks as `as_matrix_view`.
template <class Derived> auto as_mutable_matrix_view(Eigen::DenseBase<Derived>& m) {
  static_assert(Derived::IsRowMajor || Derived::ColsAtCompileTime == 1,
                "rlvr::as_mutable_matrix_view: rlvr views are row-major; use rlvr::row_matrix<T>");
  using T = typename Derived::Scalar;
  auto& d = m.derived();
  RLVR_EXPECTS(d.innerStride() == 1, shape, "as_mutable_matrix_view: inner stride ", d.innerStride(), " is not 1");
  return make_matrix_view<T>(d.data(), static_cast<index_t>(d.rows()), static_cast<index_t>(d.cols()),
                             detail::eigen_row_stride(d));
}

//! A view of a contiguous Eigen vector (or a writable one for an lvalue).
template <class Derived> auto as_vector_view(const Eigen::DenseBase<Derived>& v) {
  using T = typename Derived::Scalar;
  RLVR_EXPECTS(v.derived().innerStride() == 1, shape, "as_vector_view: inner stride is not 1");
  return vector_view<const T>(v.derived().data(), static_cast<index_t>(v.size()));
}
//! A writable view of a contiguous Eigen vector (per-token outputs: log π, entropies, advantages).
template <class Derived> auto as_mutable_vector_view(Eigen::DenseBase<Derived>& v) {
  using T = typename Derived::Scalar;
  RLVR_EXPECTS(v.derived().innerStride() == 1, shape, "as_mutable_vector_view: inner stride is not 1");
  return vector_view<T>(v.derived().data(), static_cast<index_t>(v.size()));
}

//! The vectorised, multi-threaded host backend. Models `HostBackend`, `LossBackend<·, float|double>` and `RefKLBackend`.
struct eigen_backend {
  static constexpr bool host_backend = true;
  int threads = 0; //!< threads for the row loop; 0 = `rlvr::default_num_threads()`
  //! Rows of at most this many bytes park their exponentials between the passes (one exp per
  //! logit); longer rows recompute the exp in the write pass (no row buffer). Measured in
  //! bench_objectives' fused_park (process CPU time): parking is 1.28× cheaper at V = 32000
  //! floats and 1.16× at V = 151936, where a row and its parked values overflow a 1 MiB L2 but
  //! stay in L3. 0 = always recompute.
  //! The 4 MiB default parks every vocabulary in use today (151936 floats = 0.6 MB, doubles 1.2 MB).
  index_t park_max_row_bytes = 4 * 1024 * 1024;

  //! Sampling (`rlvr::SamplingBackend`, called by `rlvr::sample`): the host row sampler of
  //! `rlvr/sampling/processors.hpp` on every row, rows split over `threads`.
  template <class T>
  void sample_rows(matrix_view<const T> z, const sampling_params& p, const stream_batch& streams,
                   vector_view<token_draw<T>> out, vector_view<std::uint8_t> status) const {
    detail::sample_rows_host(z, p, streams, out, status, threads);
  }

  //! Operation 1 (concepts.hpp): log π of the targets and the entropies.
  template <class T>
  void logp_entropy(matrix_view<const T> z, vector_view<const token_t> y, T temperature, vector_view<T> logp,
                    vector_view<T> entropy) const {
    detail::host_logp_entropy(evaluator(), z, y, temperature, logp, entropy, threads, 1);
  }

  //! Operation 2 (concepts.hpp): the fused loss pass. `g` may alias `z` exactly.
  //! The read pass parks e_v = exp(x_v − m_chunk) in the gradient row (or, in place, in a
  //! per-thread row buffer of V elements), so the write pass rescales instead of recomputing the
  //! exp: one exp per logit. Rows up to ~100k floats stay in L2 between the two passes.
  template <class T, class E>
    requires RowEpilogue<E, T>
  void fused_rows(matrix_view<const T> z, vector_view<const token_t> y, T temperature, const E& ep,
                  matrix_view<T> g) const {
    detail::host_fused_rows(evaluator(), z, y, temperature, ep, g, threads, 1);
  }

  //! The fused pass with the exact KL to reference rows `r` (`RefKLBackend`, for `kl_full`): the
  //! shared host loop in double (`detail::host_fused_rows_ref`), rows split over `threads`.
  template <class T, class E>
    requires RowEpilogue<E, T>
  void fused_rows_ref(matrix_view<const T> z, matrix_view<const T> r, vector_view<const token_t> y, T temperature,
                      const E& ep, matrix_view<T> g) const {
    detail::host_fused_rows_ref(z, r, y, temperature, ep, g, threads, 1);
  }

  //! The SIMD-packet row evaluator with this backend's parking threshold.
  [[nodiscard]] detail::packet_row_evaluator evaluator() const { return {park_max_row_bytes}; }
};
static_assert(HostBackend<eigen_backend>);
static_assert(LossBackend<eigen_backend, float>);
static_assert(LossBackend<eigen_backend, double>);
static_assert(Backend<eigen_backend>);
static_assert(RefKLBackend<eigen_backend, float> && RefKLBackend<eigen_backend, double>);
static_assert(SamplingBackend<eigen_backend, float>);
static_assert(SamplingBackend<eigen_backend, double>);

} // namespace rlvr
