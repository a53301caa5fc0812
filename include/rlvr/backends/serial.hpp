#pragma once
//! \file rlvr/backends/serial.hpp
//! \brief The serial backend: dependency-free, one thread, the test oracle of every other backend.
//!
//! It is the scalar definition of the two loss operations of `rlvr/backends/concepts.hpp`: the
//! host row loop of `rlvr/backends/detail/host_rows.hpp` with the scalar row evaluator (the
//! helpers of `rlvr/objectives/row_math.hpp`, accumulating in double for every logit type, so
//! that it is as accurate as the algorithm allows) on the calling thread. Complexity per row:
//! one read of V logits (online log-sum-exp, V exp calls) and, for the fused pass, one write of
//! V gradients (V more exp calls). Memory: none beyond the outputs (the scalar evaluator keeps
//! no per-row workspace, so the fused pass allocates nothing and may write in place).
//!
//! Why an oracle: every other backend is checked against this one (the conformance suite of
//! docs/backends.md compares eigen, xtensor, CUDA and user backends with it on strided, masked,
//! |z| ~ 1e4, V = 1 and V = 70000 rows). Its rows are read in index order and each row's sums in
//! column order, in double, so its numbers are bitwise reproducible run to run and machine to
//! machine (given the same `std::exp`), and a backend that disagrees with it is the one to suspect.
//!
//! Bad rows follow concepts.hpp: a row with a NaN or +inf logit, all −inf, or a finite logit
//! whose z/τ overflows the logit type T yields NaN statistics and a zero gradient row; the entry
//! points (`loss_and_grad`, `log_prob_entropy`) turn that into `rlvr::numerical_error`. The
//! backend itself never validates: extents, target ids and τ are checked by the entry points.
//! A `serial_backend` is stateless and its members are `const`, so one object may be used from
//! several threads at once on disjoint outputs.
//!
//!     rlvr::serial_backend be;
//!     auto diag = rlvr::loss_and_grad(be, rlvr::grpo(), batch, grad);

#include <algorithm>
#include <cmath>
#include <cstring>

#include "rlvr/backends/concepts.hpp"
#include "rlvr/backends/detail/host_rows.hpp"
#include "rlvr/config.hpp"
#include "rlvr/objectives/row_math.hpp"
#include "rlvr/sampling/detail/host_row.hpp"
#include "rlvr/sampling/processors.hpp"
#include "rlvr/sampling/streams.hpp"
#include "rlvr/view.hpp"

namespace rlvr {

//! The oracle backend. Models `HostBackend`, `LossBackend<·, float|double>` and
//! `RefKLBackend<·, float|double>`.
//! Its `threads` member is ignored: setting it changes nothing.
struct serial_backend {
  static constexpr bool host_backend = true;
  int threads = 1; //!< always runs on the calling thread (kept for `HostBackend`)

  //! Sampling (`rlvr::SamplingBackend`, called by `rlvr::sample`): the host row sampler of
  //! `rlvr/sampling/processors.hpp` on every row, on the calling thread. Writes `out[i]` (token,
  //! log-probabilities) and `status[i]` (0 ok, 1 a NaN or +inf logit, 2 every logit −inf); the
  //! draw of row i depends only on row i and its stream, so it equals every host backend's.
  template <class T>
  void sample_rows(matrix_view<const T> z, const sampling_params& p, const stream_batch& streams,
                   vector_view<token_draw<T>> out, vector_view<std::uint8_t> status) const {
    detail::sample_rows_host(z, p, streams, out, status, 1);
  }

  //! Operation 1: per-row log π(target) and entropy. `targets`/`logp` may both be empty,
  //! `entropy` may be empty. With x = z_i/τ and lse = log Σ_v exp(x_v) (online, in double):
  //! logp[i] = x_{y_i} − lse and entropy[i] = lse − Σ_v p_v x_v; a bad row gives logp = NaN.
  template <class T>
  void logp_entropy(matrix_view<const T> z, vector_view<const token_t> y, T temperature, vector_view<T> logp,
                    vector_view<T> entropy) const {
    detail::host_logp_entropy(detail::scalar_row_evaluator{}, z, y, temperature, logp, entropy, 1, 1);
  }

  //! Operation 2: the fused pass (see concepts.hpp). `g` may alias `z` exactly. Inactive rows
  //! (`!ep.active(i)`) are zero-filled without being read; every other row is read once, handed
  //! to the epilogue, and written once: g_v = (1/τ)·[c.dlogp·(1[v = y] − p_v) − c.dentropy·p_v·(log p_v + H)].
  template <class T, class E>
    requires RowEpilogue<E, T>
  void fused_rows(matrix_view<const T> z, vector_view<const token_t> y, T temperature, const E& ep,
                  matrix_view<T> g) const {
    detail::host_fused_rows(detail::scalar_row_evaluator{}, z, y, temperature, ep, g, 1, 1);
  }

  //! The fused pass with the exact KL to reference rows `r` (`RefKLBackend`, for `kl_full`).
  template <class T, class E>
    requires RowEpilogue<E, T>
  void fused_rows_ref(matrix_view<const T> z, matrix_view<const T> r, vector_view<const token_t> y, T temperature,
                      const E& ep, matrix_view<T> g) const {
    detail::host_fused_rows_ref(z, r, y, temperature, ep, g, 1, 1);
  }
};
static_assert(HostBackend<serial_backend>);
static_assert(LossBackend<serial_backend, float>);
static_assert(LossBackend<serial_backend, double>);
static_assert(Backend<serial_backend>);
static_assert(RefKLBackend<serial_backend, float> && RefKLBackend<serial_backend, double>);
static_assert(SamplingBackend<serial_backend, float>);
static_assert(SamplingBackend<serial_backend, double>);

} // namespace rlvr
