#pragma once
//! \file rlvr/backends/detail/host_rows.hpp
//! \brief The one host row loop of the two loss operations, and the row evaluators that fill it
//! (private header of the host backends).
//!
//! Every host backend runs `logp_entropy` and `fused_rows` (`rlvr/backends/concepts.hpp`)
//! through `host_logp_entropy` / `host_fused_rows` below; they differ only in the *row evaluator*
//! they pass and in how rows are split over threads (`parallel_for(rows, threads, …)`). This is
//! the Eigen design — one loop, evaluators per target — applied to rlvr's rows:
//!
//! | evaluator              | used by                          | read pass / write pass                         |
//! |------------------------|----------------------------------|------------------------------------------------|
//! | `scalar_row_evaluator` | `serial_backend` (the oracle)    | `lse_push` / `grad_element` of `row_math.hpp`, in double |
//! | `packet_row_evaluator` | `eigen_backend`, `xtensor_backend` | the SIMD-packet kernels of `rlvr/detail/vexp.hpp` (one host SIMD exponential) |
//!
//! The per-thread variant of the same math is the CUDA kernel's (`backends/cuda/detail/row_lse.hpp`:
//! each thread's part of a row is an online log-sum-exp state, merged like `lse_merge`).
//!
//! An evaluator E provides, for T = float or double (inv_tau = 1/τ in double; y < 0: no target):
//! - `E::forward_stats(z_row, V, inv_tau, y)` — the forward-only read pass: `row_stats<double>`, NaN lse
//!   for a bad row;
//! - `ws = e.make_workspace<T>(V, in_place)` (per thread, reused across rows);
//! - `r = e.read(ws, z_row, g_row, V, inv_tau, y)` — the read pass of the fused loss: `r.stats`
//!   plus whatever the write pass needs (it may park values in the gradient row `g_row`);
//! - `e.write(ws, r, z_row, g_row, V, inv_tau, plan)` — g_v = p_v·(a + b·u_v) for the plan
//!   (`row_grad_plan<double>` from `make_grad_plan`), without the target's correction.
//! - for rows split into vocabulary chunks (`rlvr/fused_linear.hpp`, the LM head fused with the
//!   objective): `E::push_chunk(st, z_chunk, C, inv_tau)` absorbs a chunk into a running
//!   `lse_state<double>` (finished with `lse_finish`), `E::scaled(z_y, inv_tau)` is the target's
//!   x_y as the read pass sees it, and `E::write_chunk(in, out, C, inv_tau, st, stats, plan)` is
//!   the write pass over one chunk (in place allowed). The whole-row passes above are these
//!   functions applied to the whole row, so the row math exists once.
//!
//! The loop (per row i, x = z_i/τ): inactive → zero row, not read; read; the epilogue's
//! coefficients; bad row → zero row; write; add `plan.target` at the target column.
//! Rows are independent and each row's sums have a fixed order: results never depend on the
//! thread count.

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "rlvr/backends/concepts.hpp"
#include "rlvr/config.hpp"
#include "rlvr/detail/vexp.hpp"
#include "rlvr/objectives/row_math.hpp"
#include "rlvr/parallel.hpp"
#include "rlvr/view.hpp"

namespace rlvr::detail {

//! Row statistics in T from the double statistics of a read pass.
template <class T> row_stats<T> narrow_stats(const row_stats<double>& s) {
  return {static_cast<T>(s.lse), static_cast<T>(s.entropy), static_cast<T>(s.logp), static_cast<T>(s.kl)};
}

//! The scalar evaluator: `row_math.hpp` element by element, accumulated in double (the oracle).
struct scalar_row_evaluator {
  template <class T> struct workspace {};
  struct read_result {
    row_stats<double> stats;
  };
  template <class T> workspace<T> make_workspace(index_t, bool) const { return {}; }
  //! A scaled logit beyond T's range counts as +inf (a bad row), as in the evaluators that scale
  //! in T, although double would hold it: every backend agrees on which rows are bad.
  template <class T> static row_stats<double> forward_stats(const T* r, index_t v, double inv_tau, index_t y) {
    lse_state<double> st;
    push_chunk(st, r, v, inv_tau);
    return lse_finish<double>(st, y >= 0 ? scaled(r[y], inv_tau) : 0.0);
  }
  //! Pushes the logits r[0, v) — a whole row, or one vocabulary chunk of it — into `st`.
  template <class T> static void push_chunk(lse_state<double>& st, const T* r, index_t v, double inv_tau) {
    constexpr double top = static_cast<double>(std::numeric_limits<T>::max());
    for (index_t j = 0; j < v; ++j) {
      const double x = static_cast<double>(r[j]) * inv_tau;
      lse_push(st, x > top ? std::numeric_limits<double>::infinity() : x);
    }
  }
  //! The scaled logit x = z/τ of a target, as the read pass sees it.
  template <class T> static double scaled(T z, double inv_tau) { return static_cast<double>(z) * inv_tau; }
  //! The write pass over logits in[0, v) — a row or one vocabulary chunk — of a row with final
  //! state `st` and statistics `s`: out_j = p_j·(a + b·u_j), without the target's correction.
  //! `out` may equal `in`.
  template <class T>
  static void write_chunk(const T* in, T* out, index_t v, double inv_tau, const lse_state<double>&,
                          const row_stats<double>& s, const row_grad_plan<double>& plan) {
    for (index_t j = 0; j < v; ++j) out[j] = grad_element(in[j], inv_tau, s.lse, plan);
  }
  template <class T>
  read_result read(workspace<T>&, const T* r, T*, index_t v, double inv_tau, index_t y) const {
    read_result rr;
    rr.stats = forward_stats(r, v, inv_tau, y);
    return rr;
  }
  template <class T>
  void write(workspace<T>&, const read_result& rr, const T* in, T* out, index_t v, double inv_tau,
             const row_grad_plan<double>& plan) const {
    write_chunk(in, out, v, inv_tau, lse_state<double>{}, rr.stats, plan);
  }
};

//! The SIMD-packet evaluator: the vectorised read pass (chunk maximum, then Σ e^{x−m} and
//! Σ e^{x−m}(x − m) in vector lanes, chunks merged in double) and write pass of
//! `rlvr/detail/vexp.hpp`. Rows of at most `park_max_row_bytes` park e^{x−m_chunk} between the
//! passes (one exp per logit; in place through a per-thread row buffer), longer rows recompute
//! the exp in the write pass.
struct packet_row_evaluator {
  index_t park_max_row_bytes = 4 * 1024 * 1024;

  template <class T> struct workspace {
    bool park = false;
    bool in_place = false;
    std::vector<double> chunk_m;
    std::vector<T> scratch;
    T* parked = nullptr; // where this row's exponentials are parked
  };
  struct read_result {
    row_stats<double> stats;
    lse_sums sums;
  };
  template <class T> workspace<T> make_workspace(index_t v, bool in_place) const {
    workspace<T> ws;
    ws.park = v * static_cast<index_t>(sizeof(T)) <= park_max_row_bytes;
    ws.in_place = in_place;
    ws.chunk_m.resize(static_cast<std::size_t>(lse_chunks(v)));
    if (ws.park && in_place) ws.scratch.resize(static_cast<std::size_t>(v));
    return ws;
  }
  //! Forward-only read (no parking).
  template <class T> static row_stats<double> forward_stats(const T* r, index_t v, double inv_tau_d, index_t y) {
    const T inv_tau = static_cast<T>(inv_tau_d);
    return stats_of(row_lse_entropy(r, v, inv_tau), r, inv_tau, y);
  }
  //! The read pass; `out` is the row's gradient (the parking place when not in place).
  template <class T>
  read_result read(workspace<T>& ws, const T* in, T* out, index_t v, double inv_tau_d, index_t y) const {
    const T inv_tau = static_cast<T>(inv_tau_d);
    ws.parked = ws.in_place ? ws.scratch.data() : out;
    const lse_sums ls = ws.park ? row_lse_entropy_store(in, ws.parked, ws.chunk_m.data(), v, inv_tau)
                                : row_lse_entropy(in, v, inv_tau);
    read_result rr;
    rr.stats = stats_of(ls, in, inv_tau, y);
    rr.sums = ls;
    return rr;
  }
  template <class T>
  void write(workspace<T>& ws, const read_result& rr, const T* in, T* out, index_t v, double inv_tau_d,
             const row_grad_plan<double>& plan) const {
    const T inv_tau = static_cast<T>(inv_tau_d);
    const T m = static_cast<T>(rr.sums.m), log_s = static_cast<T>(std::log(rr.sums.s));
    if (ws.park)
      row_grad_from_exp(ws.parked, in, out, ws.chunk_m.data(), v, inv_tau, m, log_s, rr.stats.lse,
                        static_cast<T>(plan.a), static_cast<T>(plan.b));
    else
      write_chunk(in, out, v, inv_tau_d, lse_state<double>{rr.sums.m, rr.sums.s, rr.sums.t, rr.sums.bad}, rr.stats,
                  plan);
  }
  //! Pushes the logits r[0, v) — one vocabulary chunk of a row — into `st`: the vectorised read
  //! pass over the chunk, merged into the running state with `lse_merge` (double).
  template <class T> static void push_chunk(lse_state<double>& st, const T* r, index_t v, double inv_tau_d) {
    const lse_sums c = row_lse_entropy(r, v, static_cast<T>(inv_tau_d));
    st = lse_merge(st, lse_state<double>{c.m, c.s, c.t, c.bad});
  }
  //! The scaled logit x = z/τ of a target, as `stats_of` computes it (τ⁻¹ rounded to T).
  template <class T> static double scaled(T z, double inv_tau_d) {
    return static_cast<double>(z) * static_cast<double>(static_cast<T>(inv_tau_d));
  }
  //! The write pass over one vocabulary chunk in[0, v) of a row whose merged state is `st`
  //! (`row_grad` with the row's m and log s); `out` may equal `in`.
  template <class T>
  static void write_chunk(const T* in, T* out, index_t v, double inv_tau_d, const lse_state<double>& st,
                          const row_stats<double>&, const row_grad_plan<double>& plan) {
    row_grad(in, out, v, static_cast<T>(inv_tau_d), static_cast<T>(st.m), static_cast<T>(std::log(st.s)),
             static_cast<T>(plan.a), static_cast<T>(plan.b));
  }
  //! Row statistics from the read-pass sums (NaN for a bad row).
  template <class T> static row_stats<double> stats_of(const lse_sums& s, const T* r, T inv_tau, index_t y) {
    if (s.bad || !(s.s > 0)) {
      const double nan = std::numeric_limits<double>::quiet_NaN();
      return {nan, nan, nan};
    }
    const double log_s = std::log(s.s);
    const double lse = s.m + log_s;
    const double h = std::max(log_s - s.t / s.s, 0.0);
    const double xt = y >= 0 ? scaled(r[y], static_cast<double>(inv_tau)) : 0.0;
    return {lse, h, xt - lse};
  }
};

//! Operation 1 over host rows with evaluator `ev` (`logp` with `y`, and `entropy`, may be empty).
template <class Ev, class T>
void host_logp_entropy(const Ev& ev, matrix_view<const T> z, vector_view<const token_t> y, T temperature,
                       vector_view<T> logp, vector_view<T> entropy, int threads, index_t min_rows) {
  (void)ev;
  const double inv_tau = 1.0 / static_cast<double>(temperature);
  parallel_for(
      z.rows(), threads,
      [&](index_t b, index_t e) {
        for (index_t i = b; i < e; ++i) {
          const row_stats<double> s = Ev::forward_stats(z.row(i).data(), z.cols(), inv_tau, y.empty() ? -1 : y[i]);
          if (!logp.empty()) logp[i] = static_cast<T>(std::isnan(s.lse) ? s.lse : s.logp);
          if (!entropy.empty()) entropy[i] = static_cast<T>(s.entropy);
        }
      },
      min_rows);
}

//! Operation 2 (the fused pass) over host rows with evaluator `ev`; `g` may alias `z` exactly.
template <class Ev, class T, class E>
void host_fused_rows(const Ev& ev, matrix_view<const T> z, vector_view<const token_t> y, T temperature, const E& ep,
                     matrix_view<T> g, int threads, index_t min_rows) {
  const double inv_tau_d = 1.0 / static_cast<double>(temperature);
  const index_t v = z.cols();
  const bool in_place = static_cast<const void*>(g.data()) == static_cast<const void*>(z.data());
  parallel_for(
      z.rows(), threads,
      [&](index_t b, index_t e) {
        auto ws = ev.template make_workspace<T>(v, in_place);
        for (index_t i = b; i < e; ++i) {
          T* out = g.row(i).data();
          if (!ep.active(i)) {
            std::fill(out, out + v, T(0));
            continue;
          }
          const T* in = z.row(i).data();
          const auto rr = ev.read(ws, in, out, v, inv_tau_d, y[i]);
          const row_coeffs<T> c = ep(i, narrow_stats<T>(rr.stats));
          if (std::isnan(rr.stats.lse)) { // bad row: the epilogue has recorded it
            std::fill(out, out + v, T(0));
            continue;
          }
          const row_grad_plan<double> plan = make_grad_plan(
              rr.stats, row_coeffs<double>{static_cast<double>(c.dlogp), static_cast<double>(c.dentropy)}, inv_tau_d);
          ev.write(ws, rr, in, out, v, inv_tau_d, plan);
          out[y[i]] = static_cast<T>(static_cast<double>(out[y[i]]) + plan.target);
        }
      },
      min_rows);
}

//! The fused pass with a reference row per row (`RefKLBackend::fused_rows_ref`, for `kl_full`),
//! over host rows: `row_math.hpp`'s `kl_push` / `kl_finish` / `grad_element_kl` element by element
//! in double for every host backend (so every host backend gives the serial oracle's numbers);
//! `g` may alias `z` exactly, `r` never aliases `g`. The loop is `host_fused_rows`'s; a row whose
//! KL is not finite (q = 0 under p's mass, a NaN/+inf reference entry) gets a zero gradient row
//! after the epilogue has recorded it.
template <class T, class E>
void host_fused_rows_ref(matrix_view<const T> z, matrix_view<const T> r, vector_view<const token_t> y, T temperature,
                         const E& ep, matrix_view<T> g, int threads, index_t min_rows) {
  const double inv_tau = 1.0 / static_cast<double>(temperature);
  const index_t v = z.cols();
  constexpr double top = static_cast<double>(std::numeric_limits<T>::max());
  const auto scale = [&](T a) {
    const double x = static_cast<double>(a) * inv_tau;
    return x > top ? std::numeric_limits<double>::infinity() : x;
  };
  parallel_for(
      z.rows(), threads,
      [&](index_t b, index_t e) {
        for (index_t i = b; i < e; ++i) {
          T* out = g.row(i).data();
          if (!ep.active(i)) {
            std::fill(out, out + v, T(0));
            continue;
          }
          const T* in = z.row(i).data();
          const T* ref = r.row(i).data();
          kl_state<double> st;
          for (index_t j = 0; j < v; ++j) kl_push(st, scale(in[j]), scale(ref[j]));
          row_stats<double> stats = lse_finish<double>(st.p, scale(in[y[i]]));
          stats.kl = kl_finish(st);
          const row_coeffs<T> c = ep(i, narrow_stats<T>(stats));
          if (std::isnan(stats.lse) || !std::isfinite(stats.kl)) { // bad row: the epilogue has recorded it
            std::fill(out, out + v, T(0));
            continue;
          }
          row_grad_plan<double> plan = make_grad_plan(
              stats, row_coeffs<double>{static_cast<double>(c.dlogp), static_cast<double>(c.dentropy)}, inv_tau);
          const double k = static_cast<double>(c.dkl) * inv_tau;
          plan.a -= k * kl_mean_delta(st);
          for (index_t j = 0; j < v; ++j)
            out[j] = grad_element_kl(in[j], ref[j], inv_tau, stats.lse, st.p.m, st.rm, plan, k);
          out[y[i]] = static_cast<T>(static_cast<double>(out[y[i]]) + plan.target);
        }
      },
      min_rows);
}

} // namespace rlvr::detail
