#pragma once
//! \file rlvr/backends/serial.hpp
//! \brief The serial backend: dependency-free, one thread, the test oracle of every other backend.
//!
//! It is the scalar definition of the two loss operations of `rlvr/backends/concepts.hpp`,
//! written with the shared helpers of `rlvr/objectives/row_math.hpp` and accumulating in double
//! for every logit type, so that it is as accurate as the algorithm allows. Complexity per row:
//! one read of V logits (online log-sum-exp, V exp calls) and, for the fused pass, one write of
//! V gradients (V more exp calls).
//!
//!     rlvr::serial_backend be;
//!     auto diag = rlvr::loss_and_grad(be, rlvr::grpo(), batch, grad);

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "rlvr/backends/concepts.hpp"
#include "rlvr/config.hpp"
#include "rlvr/objectives/row_math.hpp"
#include "rlvr/sampling/detail/host_row.hpp"
#include "rlvr/sampling/processors.hpp"
#include "rlvr/sampling/streams.hpp"
#include "rlvr/view.hpp"

namespace rlvr {

//! The oracle backend. Models `HostBackend` and `LossBackend<·, float|double>`.
struct serial_backend {
  static constexpr bool host_backend = true;
  int threads = 1; //!< always runs on the calling thread (kept for `HostBackend`)

  //! Read pass of row `r` (x = z·inv_tau), accumulated in double; `y < 0`: no target.
  //! A scaled logit beyond T's range counts as +inf (a bad row), as in the backends that scale in
  //! T, although double would hold it: every backend agrees on which rows are bad.
  template <class T> static row_stats<double> row_read(const T* r, index_t v, double inv_tau, index_t y) {
    constexpr double top = static_cast<double>(std::numeric_limits<T>::max());
    lse_state<double> st;
    for (index_t j = 0; j < v; ++j) {
      const double x = static_cast<double>(r[j]) * inv_tau;
      lse_push(st, x > top ? std::numeric_limits<double>::infinity() : x);
    }
    const double xt = y >= 0 ? static_cast<double>(r[y]) * inv_tau : 0.0;
    return lse_finish<double>(st, xt);
  }
  template <class T> static row_stats<T> narrow(const row_stats<double>& s) {
    return {static_cast<T>(s.lse), static_cast<T>(s.entropy), static_cast<T>(s.logp)};
  }

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
    const double inv_tau = 1.0 / static_cast<double>(temperature);
    for (index_t i = 0; i < z.rows(); ++i) {
      const row_stats<double> s = row_read(z.row(i).data(), z.cols(), inv_tau, y.empty() ? -1 : y[i]);
      if (!logp.empty()) logp[i] = static_cast<T>(std::isnan(s.lse) ? s.lse : s.logp);
      if (!entropy.empty()) entropy[i] = static_cast<T>(s.entropy);
    }
  }

  //! Operation 2: the fused pass (see concepts.hpp). `g` may alias `z` exactly.
  template <class T, class E>
    requires RowEpilogue<E, T>
  void fused_rows(matrix_view<const T> z, vector_view<const token_t> y, T temperature, const E& ep,
                  matrix_view<T> g) const {
    const double inv_tau = 1.0 / static_cast<double>(temperature);
    const index_t v = z.cols();
    for (index_t i = 0; i < z.rows(); ++i) {
      T* out = g.row(i).data();
      if (!ep.active(i)) {
        std::fill(out, out + v, T(0));
        continue;
      }
      const T* in = z.row(i).data();
      const row_stats<double> sd = row_read(in, v, inv_tau, y[i]);
      const row_coeffs<T> c = ep(i, narrow<T>(sd));
      if (std::isnan(sd.lse)) {
        std::fill(out, out + v, T(0));
        continue;
      }
      // the plan in double: lse and H at full precision for the oracle
      const row_coeffs<double> cd{static_cast<double>(c.dlogp), static_cast<double>(c.dentropy)};
      const row_grad_plan<double> plan = make_grad_plan(sd, cd, inv_tau);
      for (index_t j = 0; j < v; ++j) out[j] = grad_element(in[j], inv_tau, sd.lse, plan);
      out[y[i]] = static_cast<T>(static_cast<double>(out[y[i]]) + plan.target);
    }
  }
};
static_assert(HostBackend<serial_backend>);
static_assert(LossBackend<serial_backend, float>);
static_assert(LossBackend<serial_backend, double>);
static_assert(Backend<serial_backend>);
static_assert(SamplingBackend<serial_backend, float>);
static_assert(SamplingBackend<serial_backend, double>);

} // namespace rlvr
