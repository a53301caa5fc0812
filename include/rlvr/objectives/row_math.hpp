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

//! Rescales `st` to a new maximum `m_new ≥ st.m` (a no-op when equal).
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

//! Merges two partial states (for split rows: vector lanes, GPU threads).
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

} // namespace rlvr
