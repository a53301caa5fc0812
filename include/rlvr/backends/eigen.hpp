#pragma once
//! \file rlvr/backends/eigen.hpp
//! \brief The Eigen backend: vectorised, multi-threaded loss passes, and Eigen ↔ view adapters.
//!
//! `eigen_backend{.threads = t}` models `rlvr::LossBackend` for float and double. Rows are split
//! over `t` threads with `rlvr::parallel_for` (0 = all hardware threads); each row is read once
//! and written once, with the vectorised exp of `rlvr/detail/vexp.hpp` (AVX-512 / AVX2 / SSE2
//! from the target flags; < 1 ulp in float and double, tested against `std::exp`):
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
//! order). They agree with the serial oracle to a few float ulps (typed tests).
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

//! A read-only view of a row-major Eigen expression with direct access (Matrix, Map, Ref, Block
//! of rows). Throws `rlvr::shape_error` if its inner stride is not 1.
template <class Derived> auto as_matrix_view(const Eigen::DenseBase<Derived>& m) {
  static_assert(Derived::IsRowMajor || Derived::ColsAtCompileTime == 1,
                "rlvr::as_matrix_view: rlvr views are row-major; use rlvr::row_matrix<T> "
                "(Eigen::Matrix<T, Dynamic, Dynamic, RowMajor>) or a row-major Map");
  using T = typename Derived::Scalar;
  const auto& d = m.derived();
  RLVR_EXPECTS(d.innerStride() == 1, shape, "as_matrix_view: inner stride ", d.innerStride(), " is not 1");
  return make_matrix_view<const T>(d.data(), static_cast<index_t>(d.rows()), static_cast<index_t>(d.cols()),
                                   d.rows() <= 1 ? static_cast<index_t>(d.cols()) : static_cast<index_t>(d.outerStride()));
}

//! A writable view of a row-major Eigen object with direct access (lvalue Matrix, Map, Ref, Block).
template <class Derived> auto as_mutable_matrix_view(Eigen::DenseBase<Derived>& m) {
  static_assert(Derived::IsRowMajor || Derived::ColsAtCompileTime == 1,
                "rlvr::as_mutable_matrix_view: rlvr views are row-major; use rlvr::row_matrix<T>");
  using T = typename Derived::Scalar;
  auto& d = m.derived();
  RLVR_EXPECTS(d.innerStride() == 1, shape, "as_mutable_matrix_view: inner stride ", d.innerStride(), " is not 1");
  return make_matrix_view<T>(&d.coeffRef(0, 0), static_cast<index_t>(d.rows()), static_cast<index_t>(d.cols()),
                             d.rows() <= 1 ? static_cast<index_t>(d.cols()) : static_cast<index_t>(d.outerStride()));
}

//! A view of a contiguous Eigen vector (or a writable one for an lvalue).
template <class Derived> auto as_vector_view(const Eigen::DenseBase<Derived>& v) {
  using T = typename Derived::Scalar;
  RLVR_EXPECTS(v.derived().innerStride() == 1, shape, "as_vector_view: inner stride is not 1");
  return vector_view<const T>(v.derived().data(), static_cast<index_t>(v.size()));
}
template <class Derived> auto as_mutable_vector_view(Eigen::DenseBase<Derived>& v) {
  using T = typename Derived::Scalar;
  RLVR_EXPECTS(v.derived().innerStride() == 1, shape, "as_mutable_vector_view: inner stride is not 1");
  return vector_view<T>(v.derived().data(), static_cast<index_t>(v.size()));
}

//! The vectorised, multi-threaded host backend. Models `HostBackend` and `LossBackend<·, float|double>`.
struct eigen_backend {
  static constexpr bool host_backend = true;
  int threads = 0; //!< threads for the row loop; 0 = `rlvr::default_num_threads()`
  //! Rows of at most this many bytes park their exponentials between the passes (one exp per
  //! logit); longer rows recompute the exp in the write pass (no row buffer). Measured in
  //! bench_objectives' fused_park (process CPU time): parking is 1.28× cheaper at V = 32000
  //! floats and 1.16× at V = 151936, where a row and its parked values overflow a 1 MiB L2 but
  //! stay in L3. 0 = always recompute.
  index_t park_max_row_bytes = 4 * 1024 * 1024;

  //! Sampling (`rlvr::SamplingBackend`, called by `rlvr::sample`): the host row sampler of
  //! `rlvr/sampling/processors.hpp` on every row, rows split over `threads`.
  template <class T>
  void sample_rows(matrix_view<const T> z, const sampling_params& p, const stream_batch& streams,
                   vector_view<token_draw<T>> out, vector_view<std::uint8_t> status) const {
    detail::sample_rows_host(z, p, streams, out, status, threads);
  }

  //! Read pass of one row into row statistics (double internally); `y < 0`: no target.
  template <class T> static row_stats<double> row_read(const T* r, index_t v, T inv_tau, index_t y) {
    return stats_of(detail::row_lse_entropy(r, v, inv_tau), r, inv_tau, y);
  }

  //! Operation 1 (concepts.hpp): log π of the targets and the entropies.
  template <class T>
  void logp_entropy(matrix_view<const T> z, vector_view<const token_t> y, T temperature, vector_view<T> logp,
                    vector_view<T> entropy) const {
    const T inv_tau = static_cast<T>(1.0 / static_cast<double>(temperature));
    parallel_for(z.rows(), threads, [&](index_t b, index_t e) {
      for (index_t i = b; i < e; ++i) {
        const row_stats<double> s = row_read(z.row(i).data(), z.cols(), inv_tau, y.empty() ? -1 : y[i]);
        if (!logp.empty()) logp[i] = static_cast<T>(std::isnan(s.lse) ? s.lse : s.logp);
        if (!entropy.empty()) entropy[i] = static_cast<T>(s.entropy);
      }
    });
  }

  //! Operation 2 (concepts.hpp): the fused loss pass. `g` may alias `z` exactly.
  //! The read pass parks e_v = exp(x_v − m_chunk) in the gradient row (or, in place, in a
  //! per-thread row buffer of V elements), so the write pass rescales instead of recomputing the
  //! exp: one exp per logit. Rows up to ~100k floats stay in L2 between the two passes.
  template <class T, class E>
    requires RowEpilogue<E, T>
  void fused_rows(matrix_view<const T> z, vector_view<const token_t> y, T temperature, const E& ep,
                  matrix_view<T> g) const {
    const double inv_tau_d = 1.0 / static_cast<double>(temperature);
    const T inv_tau = static_cast<T>(inv_tau_d);
    const index_t v = z.cols();
    const bool in_place = static_cast<const void*>(g.data()) == static_cast<const void*>(z.data());
    parallel_for(z.rows(), threads, [&](index_t b, index_t e) {
      const bool park = v * static_cast<index_t>(sizeof(T)) <= park_max_row_bytes;
      std::vector<double> chunk_m(static_cast<std::size_t>(detail::lse_chunks(v)));
      std::vector<T> scratch(park && in_place ? static_cast<std::size_t>(v) : 0);
      for (index_t i = b; i < e; ++i) {
        T* out = g.row(i).data();
        if (!ep.active(i)) {
          std::fill(out, out + v, T(0));
          continue;
        }
        const T* in = z.row(i).data();
        T* parked = in_place ? scratch.data() : out;
        const detail::lse_sums ls = park ? detail::row_lse_entropy_store(in, parked, chunk_m.data(), v, inv_tau)
                                         : detail::row_lse_entropy(in, v, inv_tau);
        const row_stats<double> s = stats_of(ls, in, inv_tau, y[i]);
        const row_coeffs<T> c =
            ep(i, row_stats<T>{static_cast<T>(s.lse), static_cast<T>(s.entropy), static_cast<T>(s.logp)});
        if (std::isnan(s.lse)) {
          std::fill(out, out + v, T(0));
          continue;
        }
        const row_grad_plan<double> plan =
            make_grad_plan(s, row_coeffs<double>{static_cast<double>(c.dlogp), static_cast<double>(c.dentropy)}, inv_tau_d);
        const T m = static_cast<T>(ls.m), log_s = static_cast<T>(std::log(ls.s));
        if (park)
          detail::row_grad_from_exp(parked, in, out, chunk_m.data(), v, inv_tau, m, log_s, s.lse,
                                    static_cast<T>(plan.a), static_cast<T>(plan.b));
        else
          detail::row_grad(in, out, v, inv_tau, m, log_s, static_cast<T>(plan.a), static_cast<T>(plan.b));
        out[y[i]] = static_cast<T>(static_cast<double>(out[y[i]]) + plan.target);
      }
    });
  }

  //! Row statistics from the read-pass sums (NaN for a bad row).
  template <class T> static row_stats<double> stats_of(const detail::lse_sums& s, const T* r, T inv_tau, index_t y) {
    if (s.bad || !(s.s > 0)) {
      const double nan = std::numeric_limits<double>::quiet_NaN();
      return {nan, nan, nan};
    }
    const double log_s = std::log(s.s);
    const double lse = s.m + log_s;
    const double h = std::max(log_s - s.t / s.s, 0.0);
    const double xt = y >= 0 ? static_cast<double>(r[y]) * static_cast<double>(inv_tau) : 0.0;
    return {lse, h, xt - lse};
  }
};
static_assert(HostBackend<eigen_backend>);
static_assert(LossBackend<eigen_backend, float>);
static_assert(LossBackend<eigen_backend, double>);
static_assert(Backend<eigen_backend>);
static_assert(SamplingBackend<eigen_backend, float>);
static_assert(SamplingBackend<eigen_backend, double>);

} // namespace rlvr
