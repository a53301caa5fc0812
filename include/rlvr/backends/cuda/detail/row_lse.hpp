#pragma once
// The per-thread arithmetic of the CUDA fused loss kernel (private; host and device).
//
// A thread keeps the running state of its part of a row, lse_part{m, s, t} with m the maximum,
// s = Σ e^{x−m} and t = Σ e^{x−m}(x − m); `accumulate` adds a chunk of K logits with one rescale,
// `merge` combines two parts (the block reduction's operator), `finish` gives (m, log s, lse, H)
// with the bad-row convention (NaN lse and H), and `log_p` is (x − m) − log s. On the device the
// exponential is `__expf`; on the host (tests/backends/test_row_lse.cpp replays the kernel's
// thread partition against the serial oracle) it is `std::exp`.
#include <cmath>

#include "rlvr/config.hpp"

namespace rlvr::cuda::detail {

RLVR_HD inline float fast_exp(float x) {
#if defined(__CUDA_ARCH__)
  return __expf(x);
#else
  return std::exp(x);
#endif
}
RLVR_HD inline float flog(float x) {
#if defined(__CUDA_ARCH__)
  return logf(x);
#else
  return std::log(x);
#endif
}
//! max ignoring a NaN operand (fmaxf semantics); NaN rows are caught through the sums.
RLVR_HD inline float fmax_nan(float a, float b) {
#if defined(__CUDA_ARCH__)
  return fmaxf(a, b);
#else
  return std::fmax(a, b);
#endif
}

//! Running log-sum-exp state of part of a row.
struct lse_part {
  float m;
  float s;
  float t;
};

RLVR_HD inline lse_part merge(lse_part a, lse_part b) {
  const float big = a.m > b.m ? a.m : b.m;
  // Both sides empty so far. Their sums are 0 — unless a side saw only NaN (its m stayed −inf
  // and its s became NaN): adding keeps that NaN, so the row is still reported bad.
  if (big == -INFINITY) return {-INFINITY, a.s + b.s, a.t + b.t};
  const float da = a.m - big, db = b.m - big; // ≤ 0, −inf for an empty side
  const float ea = a.m == -INFINITY ? 0.0f : fast_exp(da);
  const float eb = b.m == -INFINITY ? 0.0f : fast_exp(db);
  const float ta = a.m == -INFINITY ? 0.0f : ea * (a.t + da * a.s);
  const float tb = b.m == -INFINITY ? 0.0f : eb * (b.t + db * b.s);
  return {big, a.s * ea + b.s * eb, ta + tb};
}

//! Adds the chunk `z[0..K)` (already scaled by 1/τ) to a running state: one rescale per chunk.
template <int K> RLVR_HD inline void accumulate(lse_part& st, const float (&z)[K]) {
  float cm = z[0];
  for (int k = 1; k < K; ++k) cm = fmax_nan(cm, z[k]);
  if (cm == -INFINITY) return; // every entry masked
  if (cm > st.m) {
    if (st.m != -INFINITY) {
      const float d = st.m - cm;
      const float e = fast_exp(d);
      st.t = e * (st.t + d * st.s);
      st.s *= e;
    }
    st.m = cm;
  }
  for (int k = 0; k < K; ++k) {
    const float d = z[k] - st.m;
    const float e = fast_exp(d);
    st.s += e;
    st.t += z[k] == -INFINITY ? 0.0f : e * d;
  }
}

//! A finished row: lse = m + log_s; a bad row (NaN or +inf entry, or every entry −inf) has
//! lse = entropy = NaN. log p_v = (x_v − m) − log_s keeps float precision at |x| ~ 1e4.
struct row_summary {
  float m, log_s, lse, entropy;
  RLVR_HD bool bad() const { return lse != lse; }
  RLVR_HD float log_p(float x) const { return (x - m) - log_s; }
};

RLVR_HD inline row_summary finish(const lse_part& all) {
  const float log_s = flog(all.s);
  const float lse = all.m + log_s;
  if (!(all.s > 0.0f) || !(lse - lse == 0.0f)) return {all.m, log_s, NAN, NAN}; // x − x ≠ 0: NaN or ±inf
  const float h = log_s - all.t / all.s;
  return {all.m, log_s, lse, h > 0.0f ? h : 0.0f};
}

//! One element of the write pass: ∂L/∂x_v for row coefficients already divided by τ
//! (g_lp = dlogp/τ, g_h = dentropy/τ), without the target's correction g_lp.
RLVR_HD inline float grad_value(const row_summary& rs, float x, float g_lp, float g_h) {
  const float lp = rs.log_p(x);
  const float p = fast_exp(lp);
  return x == -INFINITY ? 0.0f : -p * (g_lp + g_h * (lp + rs.entropy));
}

} // namespace rlvr::cuda::detail
