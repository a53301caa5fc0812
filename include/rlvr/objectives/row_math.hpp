#pragma once
//! \file rlvr/objectives/row_math.hpp
//! \brief The per-row math of the fused loss pass, written once for every backend.
//!
//! A backend's `fused_rows` / `logp_entropy` (see `rlvr/backends/concepts.hpp`) reads a row of
//! logits z ∈ R^V once and writes its gradient once. These `RLVR_HD` helpers are the scalar
//! definition of both passes; the serial backend is exactly them, vector and GPU backends
//! reproduce them lane-wise.
//!
//! **Read pass (online log-sum-exp with entropy).** With x_v = z_v / τ and a running maximum m,
//! the state keeps
//!   s = Σ_v e_v,   t = Σ_v e_v·d_v,   where d_v = max(x_v − m, −1000), e_v = exp(d_v).
//! When m grows to m', both sums are rescaled by α = exp(m − m'):  s ← α·s,  t ← α·(t + (m − m')·s).
//! At the end
//!   lse = m + log s,   H = log s − t/s  (= −Σ p log p, clamped at 0),   log π(y) = x_y − lse.
//! The floor −1000 on d makes exp(d) exactly 0 in float and double, so a masked entry
//! (z = −inf) contributes e = 0 and e·d = 0 — never 0·log 0 = NaN. Logits of magnitude 1e4 are
//! fine: only differences x − m enter exp.
//!
//! **Write pass.** With u_v = log p_v = max(x_v − lse, −1000) and p_v = exp(u_v), the gradient of
//! L with respect to z_v, given c.dlogp = ∂L/∂log π(y) and c.dentropy = ∂L/∂H, is
//!   ∂L/∂z_v = (1/τ)·[ c.dlogp·(1[v=y] − p_v) − c.dentropy·p_v·(u_v + H) ]
//!           = p_v·(a + b·u_v) + 1[v=y]·t_y,
//!   a = −(c.dlogp + c.dentropy·H)/τ,   b = −c.dentropy/τ,   t_y = c.dlogp/τ
//! (spec §4 and §6: ∂log π_y/∂z_v = 1[v=y] − p_v, ∂H/∂z_v = −p_v(log p_v + H)).
//! Cost per element: one exp, two FMAs, one multiply, one max.
//!
//! **Exact KL to a reference (`kl_full`).** With the reference row r, xr_v = r_v/τ and
//! q = softmax(xr), the read pass also keeps the reference's running maximum m_r,
//! s_r = Σ_v e^{xr_v − m_r} and d = Σ_v e_v·δ_v with δ_v = (x_v − m) − (xr_v − m_r) (weights e_v
//! of the policy); when the maxima grow, d is rescaled and shifted (see `kl_push`). At the end
//!   KL = Σ_v p_v (log p_v − log q_v) = d/s − log s + log s_r      (clamped at 0),
//! with no difference of large numbers (logits of magnitude 1e4 are fine). The write pass adds
//!   c.dkl·∂KL/∂z_v = (c.dkl/τ)·p_v·(δ_v − d/s)
//! (= p_v (log p_v − log q_v − KL)), i.e. grad_v = p_v·(a' + b·u_v + k·δ_v) with a' = a − k·d/s
//! and k = c.dkl/τ; entries with p_v = 0 contribute exactly 0.
//! A reference entry that is NaN or +inf makes KL NaN; q_v = 0 (xr_v = −inf, or every reference
//! entry −inf) where p_v > 0 makes it +inf: the entry point raises for such rows.
//!
//! **One row with these helpers** (the serial backend's loop, in double; `ep` is the objective's
//! epilogue, `inv_tau` = 1/τ, y the target; see `rlvr/backends/detail/host_rows.hpp`):
//!
//!     rlvr::lse_state<double> st;
//!     for (index_t v = 0; v < V; ++v) rlvr::lse_push(st, z[v] * inv_tau);        // read pass
//!     const auto stats = rlvr::lse_finish<double>(st, z[y] * inv_tau);           // lse, H, log π(y)
//!     const auto c = ep(i, stats);                                                // ∂L/∂log π, ∂L/∂H
//!     const auto plan = rlvr::make_grad_plan(stats, c, inv_tau);
//!     for (index_t v = 0; v < V; ++v) g[v] = rlvr::grad_element(z[v], inv_tau, stats.lse, plan);
//!     g[y] += plan.target;                                                        // write pass
//!
//! With a reference row r (`kl_full`) the read pass is `kl_push(kst, x, xr)` per entry, then
//! `stats = lse_finish(kst.p, x_y)`, `stats.kl = kl_finish(kst)`; the plan's `a` is shifted by
//! −k·`kl_mean_delta(kst)` and each entry is `grad_element_kl(z, r, inv_tau, lse, kst.p.m, kst.rm,
//! plan, k)` with k = c.dkl/τ.
//!
//! A vector or GPU backend splits a row over lanes or threads: each keeps its own `lse_state`,
//! and `lse_merge` combines them (associative up to rounding; rlvr merges in a fixed order so the
//! result does not depend on the thread count).

#include <cstdint>
#include <limits>

#include "rlvr/backends/concepts.hpp"
#include "rlvr/config.hpp"
#include "rlvr/detail/objectives_math.hpp"

namespace rlvr {

//! Floor applied to x − m and x − lse before exp: exp(−1000) is exactly 0 in float and double.
inline constexpr double exp_floor = -1000.0;

//! Running state of the online log-sum-exp with entropy; `A` is the accumulator type.
template <class A> struct lse_state {
  A m = -std::numeric_limits<A>::infinity(); //!< running maximum of x
  A s = 0;                                   //!< Σ exp(x − m)
  A t = 0;                                   //!< Σ exp(x − m)·(x − m)
  bool bad = false;                          //!< a NaN or +inf entry was seen
};

//! Rescales `st` to a new maximum `m_new ≥ st.m` (a no-op when equal): with δ = m − m_new and
//! α = e^δ, every term e^{x−m} becomes α·e^{x−m} and every (x − m) becomes (x − m) + δ, so
//! s ← α·s and t ← α·(t + δ·s) describe the same sums relative to m_new.
template <class A> RLVR_HD constexpr void lse_rebase(lse_state<A>& st, A m_new) {
  if (!(m_new > st.m)) return;
  if (st.s > A(0)) {
    const A delta = st.m - m_new; // < 0
    const A alpha = detail::cexp(delta);
    st.t = alpha * (st.t + delta * st.s);
    st.s = alpha * st.s;
  }
  st.m = m_new;
}

//! Pushes one (temperature-scaled) logit x into the state.
template <class A> RLVR_HD constexpr void lse_push(lse_state<A>& st, A x) {
  if (x != x || x == std::numeric_limits<A>::infinity()) {
    st.bad = true;
    return;
  }
  if (x > st.m) lse_rebase(st, x);
  if (st.m == -std::numeric_limits<A>::infinity()) return; // only −inf so far
  const A d = detail::cmax(x - st.m, A(exp_floor));
  const A e = detail::cexp(d);
  st.s += e;
  st.t += e * d;
}

//! Merges two partial states (for split rows: vector lanes, GPU threads): both are rebased to the
//! larger maximum, then their sums add; a bad entry in either makes the merged row bad.
template <class A> RLVR_HD constexpr lse_state<A> lse_merge(lse_state<A> a, lse_state<A> b) {
  const A m = detail::cmax(a.m, b.m);
  lse_rebase(a, m);
  lse_rebase(b, m);
  return {m, a.s + b.s, a.t + b.t, a.bad || b.bad};
}

//! Final statistics of a row; `x_target` is the scaled logit of the target token.
//! A bad row (NaN/+inf seen, or all −inf) gives lse = NaN.
template <class T, class A> RLVR_HD constexpr row_stats<T> lse_finish(const lse_state<A>& st, A x_target) {
  if (st.bad || !(st.s > A(0))) {
    const T nan = std::numeric_limits<T>::quiet_NaN();
    return {nan, nan, nan};
  }
  const A log_s = detail::clog(st.s);
  const A lse = st.m + log_s;
  const A h = detail::cmax(log_s - st.t / st.s, A(0));
  return {static_cast<T>(lse), static_cast<T>(h), static_cast<T>(x_target - lse)};
}

//! The write pass of one row as three constants: grad_v = p_v·(a + b·u_v) + [v = y]·target.
template <class T> struct row_grad_plan {
  T a;
  T b;
  T target;
};

//! Turns the objective's row coefficients into the write-pass constants (see the file comment).
template <class T>
RLVR_HD constexpr row_grad_plan<T> make_grad_plan(const row_stats<T>& s, const row_coeffs<T>& c, T inv_tau) {
  return {-(c.dlogp + c.dentropy * s.entropy) * inv_tau, -c.dentropy * inv_tau, c.dlogp * inv_tau};
}

//! One element of the write pass, without the target correction: p_v·(a + b·u_v).
template <class T, class A>
RLVR_HD constexpr T grad_element(T z, A inv_tau, A lse, const row_grad_plan<A>& plan) {
  const A u = detail::cmax(static_cast<A>(z) * inv_tau - lse, A(exp_floor));
  const A p = detail::cexp(u);
  return static_cast<T>(p * (plan.a + plan.b * u));
}

//! Running state of the read pass with a reference row (see the file comment).
template <class A> struct kl_state {
  lse_state<A> p;                                //!< the policy's m, s, t
  A rm = -std::numeric_limits<A>::infinity();    //!< running maximum of xr
  A rs = 0;                                      //!< Σ exp(xr − m_r)
  A d = 0;                                       //!< Σ exp(x − m)·δ, δ = (x − m) − (xr − m_r)  (= t − u)
  bool ref_nan = false;                          //!< a NaN or +inf reference entry was seen
  bool ref_zero = false;                         //!< q = 0 where p > 0: KL = +inf
};

//! Pushes one pair (x, xr) of temperature-scaled policy and reference logits (x = z/τ,
//! xr = r/τ; a value beyond the logit type's range is passed as +inf). When the maxima
//! grow (m → m', m_r → m_r'), every earlier δ shifts by c = (m_r' − m_r) − (m' − m) and its
//! weight by α = e^{m − m'}: d ← α·(d + c·s). Identical rows give c = 0 and δ = 0 exactly, so their
//! KL and its gradient are exactly 0.
template <class A> RLVR_HD constexpr void kl_push(kl_state<A>& st, A x, A xr) {
  constexpr A inf = std::numeric_limits<A>::infinity();
  if (x != x || x == inf) {
    st.p.bad = true;
    return;
  }
  if (xr != xr || xr == inf) {
    st.ref_nan = true;
    return;
  }
  const A m_new = detail::cmax(st.p.m, x), rm_new = detail::cmax(st.rm, xr);
  if (st.p.s > A(0) && st.rm != -inf) { // earlier terms exist: rescale and shift their δ
    const A c = (rm_new - st.rm) - (m_new - st.p.m);
    st.d = detail::cexp(st.p.m - m_new) * (st.d + c * st.p.s);
  }
  if (rm_new > st.rm) {
    if (st.rm != -inf) st.rs *= detail::cexp(st.rm - rm_new);
    st.rm = rm_new;
  }
  if (m_new > st.p.m) lse_rebase(st.p, m_new);
  if (st.rm != -inf) st.rs += detail::cexp(detail::cmax(xr - st.rm, A(exp_floor)));
  if (st.p.m == -inf) return; // only −inf policy entries so far: no mass
  const A dx = detail::cmax(x - st.p.m, A(exp_floor));
  const A e = detail::cexp(dx);
  st.p.s += e;
  st.p.t += e * dx;
  if (e > A(0)) {
    if (xr == -inf) st.ref_zero = true;
    else st.d += e * (dx - (xr - st.rm));
  }
}

//! KL(π‖π_ref) of a finished state: NaN for a NaN/+inf reference entry, +inf where q = 0 under
//! mass of p (or every reference entry −inf); meaningless for a bad policy row (lse_finish's NaN).
//! Rounding can make d/s − log s + log s_r slightly negative when π ≈ π_ref: it is clamped at 0
//! (KL ≥ 0), like the entropy in `lse_finish`.
template <class A> RLVR_HD constexpr A kl_finish(const kl_state<A>& st) {
  if (st.ref_nan) return std::numeric_limits<A>::quiet_NaN();
  if (st.ref_zero || !(st.rs > A(0))) return std::numeric_limits<A>::infinity();
  if (!(st.p.s > A(0))) return A(0);
  const A kl = st.d / st.p.s - detail::clog(st.p.s) + detail::clog(st.rs);
  return detail::cmax(kl, A(0));
}

//! E_p[δ] = d/s of a finished state (the write pass's shift).
template <class A> RLVR_HD constexpr A kl_mean_delta(const kl_state<A>& st) {
  return st.p.s > A(0) ? st.d / st.p.s : A(0);
}

//! One element of the write pass with a reference (without the target correction):
//! p_v·(a + b·u_v + k·δ_v), `a` already shifted by −k·E_p[δ]; exactly 0 where p_v = 0 (so a
//! masked entry, −inf in the policy row, never meets an infinite δ). `m` and `rm` are the final
//! maxima of the read pass (`kl_state::p.m`, `kl_state::rm`), `lse` the row's log-sum-exp.
template <class T, class A>
RLVR_HD constexpr T grad_element_kl(T z, T r, A inv_tau, A lse, A m, A rm, const row_grad_plan<A>& plan, A k) {
  const A x = static_cast<A>(z) * inv_tau;
  const A u = detail::cmax(x - lse, A(exp_floor));
  const A p = detail::cexp(u);
  if (!(p > A(0))) return T(0);
  const A delta = (x - m) - (static_cast<A>(r) * inv_tau - rm);
  return static_cast<T>(p * (plan.a + plan.b * u + k * delta));
}

} // namespace rlvr
