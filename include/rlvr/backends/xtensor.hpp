#pragma once
//! \file rlvr/backends/xtensor.hpp
//! \brief The xtensor backend: rlvr's fused loss pass, forward log π / entropy and sampling over
//! `xt::xtensor` data, vectorised, multi-threaded over rows; and zero-copy adapters
//! between xtensor containers and rlvr's views.
//!
//!     #include <rlvr/backends/xtensor.hpp>
//!     xt::xtensor<float, 2> logits = ...;                 // [N, V], row-major
//!     xt::xtensor<rlvr::token_t, 1> targets = ...;        // [N]
//!     xt::xtensor<float, 2> grad = xt::empty_like(logits);
//!     rlvr::xtensor_backend be{.threads = 2};
//!     auto diag = rlvr::loss_and_grad(be, rlvr::grpo(),
//!         rlvr::loss_token_batch<float>{.logits = rlvr::xt_matrix(logits), .targets = rlvr::xt_vector(targets), …},
//!         rlvr::xt_matrix(grad));
//!     xt::xtensor<float, 1> logp({n}), entropy({n});
//!     rlvr::log_prob_entropy(be, rlvr::xt_matrix(logits), rlvr::xt_vector(targets),
//!                            rlvr::xt_vector(logp), rlvr::xt_vector(entropy));
//!
//! The entry points (`rlvr::loss_and_grad`, `rlvr::log_prob_entropy`, `rlvr::sample`) are the
//! same for every backend; this header only provides the backend and the adapters (it includes
//! no entry point: backends sit below them).
//!
//! ## Adapters (no copies)
//! - `xt_matrix(c)` / `xt_vector(c)`: a `matrix_view` / `vector_view` over an xtensor container
//!   or adaptor (`xt::xtensor`, `xt::xarray`, `xt::xtensor_adaptor`, results of `xt::adapt`) with
//!   row-major element layout: the last stride must be 1, the row stride may be anything ≥ the
//!   row length (a column block of a wider tensor). Anything else (a transposed or lazily
//!   evaluated expression) is rejected with `rlvr::shape_error` naming the strides — evaluate it
//!   first, rlvr never stores a lazy expression.
//! - `as_xtensor(view)`: an `xt::adapt` over a view's memory, shape {rows, cols} and strides
//!   {row_stride, 1}, so rlvr outputs (a gradient in a caller buffer, a device-to-host copy) are
//!   used as xtensor expressions in place.
//!
//! ## Kernels
//! The two backend operations of `rlvr/backends/concepts.hpp` run in rlvr's one host row loop
//! (`rlvr/backends/detail/host_rows.hpp`) with the SIMD-packet row evaluator — the same kernels,
//! and the same single host SIMD exponential (`rlvr/detail/vexp.hpp`), as `eigen_backend`: per row,
//! x = z/τ, a read pass (online log-sum-exp with entropy in chunks of 2048 elements, chunk
//! maximum then Σ e^{x−m} and Σ e^{x−m}(x − m) in vector lanes, chunks merged in double) and a
//! write pass g_v = p_v·(a + b·u_v) (+ t_y at v = y) with u_v = (x_v − m) − log s, so logits of
//! magnitude 1e4 keep full precision. What this backend adds is xtensor: zero-copy adapters and
//! rows split with `rlvr::parallel_for(rows, threads, …)` in chunks of ≥ 16k logits. Results do
//! not depend on the thread count.
//!
//! xsimd: the `rlvr::xtensor` target links xsimd and defines `XTENSOR_USE_XSIMD`, which
//! vectorises the caller's own xtensor expressions; rlvr's row kernels do not call xsimd (they
//! are `vexp.hpp`'s vector-extension code, as in `eigen_backend`), so both backends give the same
//! numbers and the same bad-row verdicts (NaN statistics, zero gradient row, reported by the
//! entry points as `rlvr::numerical_error`).
//!
//! ## Sampling
//! `xtensor_backend` models `SamplingBackend` (the shared host row sampler, rows over `threads`),
//! so `rlvr::sample(be, rlvr::xt_matrix(logits), config, streams)` draws on it.

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <limits>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include <xtensor/xadapt.hpp>
#include <xtensor/xtensor.hpp>

#include "rlvr/backends/concepts.hpp"
#include "rlvr/backends/detail/host_rows.hpp"
#include "rlvr/config.hpp"
#include "rlvr/error.hpp"
#include "rlvr/sampling/detail/host_row.hpp"
#include "rlvr/sampling/processors.hpp"
#include "rlvr/sampling/streams.hpp"
#include "rlvr/parallel.hpp"
#include "rlvr/view.hpp"

namespace rlvr {

//! The xtensor backend (SIMD-packet row kernels, `threads` worker threads over rows; 0 = all
//! hardware threads). Stateless apart from `threads`; one object may serve several threads. Models `HostBackend`, `LossBackend<·, float>` / `LossBackend<·, double>` and `RefKLBackend`.
struct xtensor_backend {
  static constexpr bool host_backend = true;
  int threads = 0; //!< threads for the row loop; 0 = `rlvr::default_num_threads()`

  //! Sampling (`rlvr::SamplingBackend`, called by `rlvr::sample`): the host row sampler of
  //! `rlvr/sampling/processors.hpp` on every row, rows split over `threads`.
  template <class T>
  void sample_rows(matrix_view<const T> z, const sampling_params& p, const stream_batch& streams,
                   vector_view<token_draw<T>> out, vector_view<std::uint8_t> status) const {
    detail::sample_rows_host(z, p, streams, out, status, threads);
  }

  //! Operation 1 (see concepts.hpp): log π(target) and entropy per row. `logp` (with `targets`)
  //! and `entropy` may each be empty.
  template <class T>
  void logp_entropy(matrix_view<const T> z, vector_view<const token_t> y, T temperature, vector_view<T> logp,
                    vector_view<T> entropy) const {
    detail::host_logp_entropy(detail::packet_row_evaluator{}, z, y, temperature, logp, entropy, threads,
                              rows_per_chunk(z.cols()));
  }

  //! Operation 2 (see concepts.hpp): the fused pass. `g` may alias `z` exactly (in place).
  template <class T, class E>
    requires RowEpilogue<E, T>
  void fused_rows(matrix_view<const T> z, vector_view<const token_t> y, T temperature, const E& ep,
                  matrix_view<T> g) const {
    detail::host_fused_rows(detail::packet_row_evaluator{}, z, y, temperature, ep, g, threads, rows_per_chunk(z.cols()));
  }

  //! The fused pass with the exact KL to reference rows `r` (`RefKLBackend`, for `kl_full`): the
  //! shared host loop in double (`detail::host_fused_rows_ref`), rows split over `threads`.
  template <class T, class E>
    requires RowEpilogue<E, T>
  void fused_rows_ref(matrix_view<const T> z, matrix_view<const T> r, vector_view<const token_t> y, T temperature,
                      const E& ep, matrix_view<T> g) const {
    detail::host_fused_rows_ref(z, r, y, temperature, ep, g, threads, rows_per_chunk(z.cols()));
  }

private:
  //! At least ~16k logits per parallel chunk, so small vocabularies do not pay a wake-up per row.
  // Same rule as the host sampler's; eigen_backend uses 1, which splits a tiny-V batch finely.
  static index_t rows_per_chunk(index_t cols) { return std::max<index_t>(1, 16384 / std::max<index_t>(cols, 1)); }
};
static_assert(HostBackend<xtensor_backend>);
static_assert(LossBackend<xtensor_backend, float>);
static_assert(LossBackend<xtensor_backend, double>);
static_assert(Backend<xtensor_backend>);
static_assert(RefKLBackend<xtensor_backend, float> && RefKLBackend<xtensor_backend, double>);
static_assert(SamplingBackend<xtensor_backend, float>);
static_assert(SamplingBackend<xtensor_backend, double>);

namespace detail {
template <class C> using xt_value_t = std::remove_const_t<typename std::remove_reference_t<C>::value_type>;
template <class C>
using xt_elem_t = std::conditional_t<std::is_const_v<std::remove_reference_t<C>>, const xt_value_t<C>, xt_value_t<C>>;
//! Address of element (0, …, 0): `data()` plus `data_offset()` (non-zero for views such as
//! `xt::view(t, xt::all(), xt::range(1, 4))`; 0 for a container); a type without `data_offset()`
//! starts at `data()`.
template <class C> auto* xt_first(C& c) {
  if constexpr (requires { c.data_offset(); })
    return c.data() + c.data_offset();
  else
    return c.data();
}
} // namespace detail

//! A row-major `matrix_view` over a 2-D xtensor container or adaptor, without a copy. Throws
//! `rlvr::shape_error` unless the container is 2-D with unit column stride and a row stride ≥
//! its number of columns. The view's constness follows `c`'s (`const xt::xtensor<float, 2>&`
//! gives `matrix_view<const float>`); it aliases `c`'s storage, so `c` must outlive it and not be
//! resized. A one-row container's row stride is never used, so any value is accepted there.
template <class C>
  requires requires(C& c) {
    c.data();
    c.shape();
    c.strides();
  }
matrix_view<detail::xt_elem_t<C>> xt_matrix(C& c) {
  RLVR_EXPECTS(c.dimension() == 2, shape, "xt_matrix: a ", c.dimension(), "-D container (need 2-D)");
  const auto rows = static_cast<index_t>(c.shape()[0]), cols = static_cast<index_t>(c.shape()[1]);
  const auto s0 = static_cast<index_t>(c.strides()[0]), s1 = static_cast<index_t>(c.strides()[1]);
  RLVR_EXPECTS((s1 == 1 || cols <= 1) && (s0 >= cols || rows <= 1), shape, "xt_matrix: strides (", s0, ", ", s1,
               ") of a ", rows, "x", cols, " container are not row-major with unit column stride; evaluate it into a "
               "row-major xt::xtensor first");
  return make_matrix_view(detail::xt_first(c), rows, cols, rows <= 1 ? cols : s0);
}

//! A `vector_view` over a 1-D xtensor container or adaptor with unit stride, without a copy.
//! Throws `rlvr::shape_error` for another dimension or a stride ≠ 1 (length ≤ 1: any stride).
template <class C>
  requires requires(C& c) {
    c.data();
    c.shape();
    c.strides();
  }
vector_view<detail::xt_elem_t<C>> xt_vector(C& c) {
  RLVR_EXPECTS(c.dimension() == 1, shape, "xt_vector: a ", c.dimension(), "-D container (need 1-D)");
  const auto n = static_cast<index_t>(c.shape()[0]);
  RLVR_EXPECTS(n <= 1 || c.strides()[0] == 1, shape, "xt_vector: stride ", c.strides()[0], " (need 1)");
  return {detail::xt_first(c), n};
}

//! An xtensor adaptor over a view's memory (shape {rows, cols}, strides {row_stride, 1}); no copy.
//! The adaptor refers to the view's memory and must not outlive it.
template <class T> auto as_xtensor(matrix_view<T> m) {
  // xtensor sizes an adaptor's buffer as rows·cols whatever the strides (it never walks a
  // non-contiguous buffer linearly), so that is the size it must be given.
  const auto span = static_cast<std::size_t>(m.rows() * m.cols());
  const std::array<std::size_t, 2> shape{static_cast<std::size_t>(m.rows()), static_cast<std::size_t>(m.cols())};
  const std::array<std::ptrdiff_t, 2> strides{m.row_stride(), 1};
  return xt::adapt(m.data(), span, xt::no_ownership(), shape, strides);
}
//! An xtensor adaptor over a vector view's memory; no copy.
template <class T> auto as_xtensor(vector_view<T> v) {
  const std::array<std::size_t, 1> shape{static_cast<std::size_t>(v.size())};
  return xt::adapt(v.data(), static_cast<std::size_t>(v.size()), xt::no_ownership(), shape);
}

} // namespace rlvr
