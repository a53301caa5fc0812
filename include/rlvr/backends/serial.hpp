#pragma once
//! \file rlvr/backends/serial.hpp
//! \brief The serial backend: dependency-free, one thread, the test oracle of every other backend.
//!
//! It is the scalar definition of the two loss operations of `rlvr/backends/concepts.hpp`: the
//! host row loop of `rlvr/backends/detail/host_rows.hpp` with the scalar row evaluator (the
//! helpers of `rlvr/objectives/row_math.hpp`, accumulating in double for every logit type, so
//! that it is as accurate as the algorithm allows) on the calling thread. Complexity per row:
//! one read of V logits (online log-sum-exp, V exp calls) and, for the fused pass, one write of
//! V gradients (V more exp calls).
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
struct serial_backend {
  static constexpr bool host_backend = true;
  int threads = 1; //!< always runs on the calling thread (kept for `HostBackend`)

  //! Sampling (`rlvr::SamplingBackend`, called by `rlvr::sample`): the host row sampler of
  //! `rlvr/sampling/processors.hpp` on every row, on the calling thread.
  template <class T>
  void sample_rows(matrix_view<const T> z, const sampling_params& p, const stream_batch& streams,
                   vector_view<token_draw<T>> out, vector_view<std::uint8_t> status) const {
    detail::sample_rows_host(z, p, streams, out, status, 1);
  }

  //! Operation 1: per-row log π(target) and entropy. `targets`/`logp` may both be empty,
  //! `entropy` may be empty.
  template <class T>
  void logp_entropy(matrix_view<const T> z, vector_view<const token_t> y, T temperature, vector_view<T> logp,
                    vector_view<T> entropy) const {
    detail::host_logp_entropy(detail::scalar_row_evaluator{}, z, y, temperature, logp, entropy, 1, 1);
  }

  //! Operation 2: the fused pass (see concepts.hpp). `g` may alias `z` exactly.
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
