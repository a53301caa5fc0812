#pragma once
// Vectorised exp and the row reductions built on it (host only; no dependency).
//
// Written with GCC/Clang vector extensions, so the same source compiles to AVX-512 (16 floats),
// AVX2 (8) or SSE2 (4) according to the target flags, without intrinsics. Used by the Eigen
// backend's fused loss pass and available to any host kernel (the samplers):
//
//   simd::vec<T>                     one register of T (float or double)
//   simd::exp(v)                     e^v lane-wise; ≤ 2 ulp in float and double (tested);
//                                    exactly 0 below the underflow threshold, +inf above overflow
//   simd::exp_core(v)                the same without range handling (hot loops with a known range)
//   row_lse_entropy(z, n, inv_tau)   online log-sum-exp + entropy sums over a row, in chunks of
//                                    2048 that stay in L1 (chunk max, then exp-sum), NaN/+inf flag
//   row_lse_entropy_store(…)         the same, parking exp(x − m_chunk) in a row buffer
//   row_grad_from_exp(…)             the write pass g_v = p_v·(a + b·u_v) from the parked
//                                    exponentials (no second exp per logit)
//   row_grad(z, g, n, ...)           the write pass recomputing the exp (no buffer needed)
//   row_max / row_sum_exp / row_exp / exp_array   building blocks for the samplers
//
// exp algorithm (Cephes): n = round(x·log2 e) by the 1.5·2^p "magic" add, r = x − n·ln2 with a
// two-constant (Cody–Waite) ln 2, e^r by a minimax polynomial (degree 6 in float, Taylor degree
// 13 in double), and 2^n added directly to the exponent bits. Results outside the normal
// range by two selects (the exponent arithmetic is only meaningful inside it): below → exactly 0
// (no denormals), above → +inf; NaN stays NaN.
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <type_traits>
#include <utility>

#include "rlvr/config.hpp"

#if defined(__GNUC__) || defined(__clang__)
#define RLVR_FORCEINLINE_LAMBDA __attribute__((always_inline))
#else
#define RLVR_FORCEINLINE_LAMBDA
#endif

namespace rlvr::detail::simd {

#if defined(__AVX512F__)
inline constexpr int vector_bytes = 64;
#elif defined(__AVX__)
inline constexpr int vector_bytes = 32;
#else
inline constexpr int vector_bytes = 16;
#endif

template <class T> struct vec_traits;
template <> struct vec_traits<float> {
  typedef float type __attribute__((vector_size(vector_bytes)));
  typedef std::int32_t itype __attribute__((vector_size(vector_bytes)));
  using int_t = std::int32_t;
};
template <> struct vec_traits<double> {
  typedef double type __attribute__((vector_size(vector_bytes)));
  typedef std::int64_t itype __attribute__((vector_size(vector_bytes)));
  using int_t = std::int64_t;
};

template <class T> using vec = typename vec_traits<T>::type;
template <class T> using ivec = typename vec_traits<T>::itype;
//! Lanes per register.
template <class T> inline constexpr index_t lanes = vector_bytes / static_cast<index_t>(sizeof(T));

template <class T> RLVR_FORCEINLINE vec<T> load(const T* p) {
  vec<T> v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
template <class T> RLVR_FORCEINLINE void store(T* p, vec<T> v) { std::memcpy(p, &v, sizeof v); }
//! Loads `n < lanes` elements, the rest set to `fill`.
template <class T> RLVR_FORCEINLINE vec<T> load_partial(const T* p, index_t n, T fill) {
  T buf[lanes<T>];
  for (index_t i = 0; i < lanes<T>; ++i) buf[i] = i < n ? p[i] : fill;
  return load(buf);
}
template <class T> RLVR_FORCEINLINE void store_partial(T* p, vec<T> v, index_t n) {
  T buf[lanes<T>];
  store(buf, v);
  for (index_t i = 0; i < n; ++i) p[i] = buf[i];
}
template <class T> RLVR_FORCEINLINE vec<T> broadcast(T x) { return vec<T>{} + x; }
template <class V> RLVR_FORCEINLINE V vmax(V a, V b) { return a > b ? a : b; }
template <class V> RLVR_FORCEINLINE V vmin(V a, V b) { return a < b ? a : b; }
template <class V> inline constexpr index_t lanes_of = static_cast<index_t>(sizeof(V) / sizeof(std::declval<V>()[0]));
template <class V> RLVR_FORCEINLINE auto hsum(V v) {
  auto s = v[0];
  for (index_t i = 1; i < lanes_of<V>; ++i) s += v[i];
  return s;
}
template <class V> RLVR_FORCEINLINE auto hmax(V v) {
  auto m = v[0];
  for (index_t i = 1; i < lanes_of<V>; ++i) m = v[i] > m ? v[i] : m;
  return m;
}
template <class IV> RLVR_FORCEINLINE bool any(IV m) {
  for (index_t i = 0; i < lanes_of<IV>; ++i)
    if (m[i]) return true;
  return false;
}

//! Range of `exp_core`: inside it the result is accurate (< 1 ulp measured); outside it is garbage.
template <class T> struct exp_range;
template <> struct exp_range<float> {
  static constexpr float lo = -87.33654f; //!< e^lo = FLT_MIN: below, e^x is denormal or 0
  static constexpr float hi = 88.72283f;  //!< log FLT_MAX
};
template <> struct exp_range<double> {
  static constexpr double lo = -708.39641853226408;
  static constexpr double hi = 709.43613930310391;
};

//! e^x for x ∈ [exp_range::lo, exp_range::hi] (no range handling: 16 vector instructions in float).
RLVR_FORCEINLINE vec<float> exp_core(vec<float> x) {
  const vec<float> magic = broadcast(12582912.0f); // 1.5·2^23: t's low mantissa bits hold round(x·log2 e)
  const vec<float> t = x * 1.44269504088896341f + magic;
  const vec<float> n = t - magic;
  vec<float> r = x - n * 0.693359375f; // Cody–Waite: ln 2 = 0.693359375 − 2.12194440e-4
  r = r - n * -2.12194440e-4f;
  vec<float> p = broadcast(1.9875691500e-4f); // Cephes expf minimax polynomial
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * (r * r) + r + 1.0f;
  ivec<float> tb, pb;
  std::memcpy(&tb, &t, sizeof t);
  std::memcpy(&pb, &p, sizeof p);
  pb += tb << 23; // 2^n into the exponent (the magic's bits shift out)
  vec<float> y;
  std::memcpy(&y, &pb, sizeof y);
  return y;
}

RLVR_FORCEINLINE vec<double> exp_core(vec<double> x) {
  const vec<double> magic = broadcast(6755399441055744.0); // 1.5·2^52
  const vec<double> t = x * 1.4426950408889634074 + magic;
  const vec<double> n = t - magic;
  vec<double> r = x - n * 6.93145751953125E-1;
  r = r - n * 1.42860682030941723212E-6;
  vec<double> p = broadcast(1.0 / 6227020800.0); // Taylor to degree 13 (|r| ≤ ln2/2: error < 1e-17)
  p = p * r + 1.0 / 479001600.0;
  p = p * r + 1.0 / 39916800.0;
  p = p * r + 1.0 / 3628800.0;
  p = p * r + 1.0 / 362880.0;
  p = p * r + 1.0 / 40320.0;
  p = p * r + 1.0 / 5040.0;
  p = p * r + 1.0 / 720.0;
  p = p * r + 1.0 / 120.0;
  p = p * r + 1.0 / 24.0;
  p = p * r + 1.0 / 6.0;
  p = p * r + 0.5;
  p = p * (r * r) + r + 1.0;
  ivec<double> tb, pb;
  std::memcpy(&tb, &t, sizeof t);
  std::memcpy(&pb, &p, sizeof p);
  pb += tb << 52;
  vec<double> y;
  std::memcpy(&y, &pb, sizeof y);
  return y;
}

//! e^x lane-wise for any x: exactly 0 below `exp_range::lo` (no denormals, −inf included), +inf
//! above `exp_range::hi` (float: log FLT_MAX; double: 709.436, slightly below log DBL_MAX).
//! NaN lanes give an unspecified value.
template <class V> RLVR_FORCEINLINE V exp(V x) {
  using T = std::remove_cvref_t<decltype(x[0])>;
  V y = exp_core(x);
  y = x < exp_range<T>::lo ? broadcast(T(0)) : y;
  y = x > exp_range<T>::hi ? broadcast(std::numeric_limits<T>::infinity()) : y;
  return y;
}

} // namespace rlvr::detail::simd

namespace rlvr::detail {

//! Elements per chunk of the online log-sum-exp (8 KiB of float: stays in L1 between the chunk
//! max and the exp-sum).
inline constexpr index_t lse_chunk = 2048;

//! Sums of one row: m = max x, s = Σ e^{x−m}, t = Σ e^{x−m}(x − m) with x = z·inv_tau, and
//! d = x − m floored at −1000 (so masked −inf entries give exactly 0 and never 0·(−inf)).
//! `bad` is set for a NaN or +inf entry, or a finite one whose x = z·inv_tau overflows T (every
//! backend treats that row as bad); an all −inf row has m = −inf and s = 0.
struct lse_sums {
  double m = -std::numeric_limits<double>::infinity();
  double s = 0;
  double t = 0;
  bool bad = false;
};

//! One read of the row (chunk max in registers, then exp-sum over the L1-resident chunk);
//! per-chunk partial sums in T lanes, accumulated across chunks in double. Vector lanes floor d
//! at `exp_range<T>::lo` (not −1000): a masked entry then adds e^lo ≈ 1e-38 (float) to s — 1e-33
//! relative at most — and saves the range selects of the exp. NaN entries are detected through
//! the sum of the unfloored d (NaN iff an entry is NaN, or +inf which makes m infinite).
//! With `Store`, e_v = exp(x_v − m_c) (exactly 0 below the exp range) is also written to
//! `e_out`, and the running maximum m_c used for chunk c to `chunk_m[c]` (−inf for a chunk of
//! −inf only), so that a write pass can rescale instead of recomputing the exp.
template <class T, bool Store>
lse_sums row_lse_entropy_impl(const T* z, index_t n, T inv_tau, T* e_out, double* chunk_m) {
  using V = simd::vec<T>;
  constexpr index_t L = simd::lanes<T>;
  constexpr T ninf = -std::numeric_limits<T>::infinity();
  lse_sums st;
  for (index_t c0 = 0, c = 0; c0 < n; c0 += lse_chunk, ++c) {
    const index_t cn = n - c0 < lse_chunk ? n - c0 : lse_chunk;
    const T* p = z + c0;
    const index_t full = cn / L * L, full2 = cn / (2 * L) * (2 * L);
    // chunk max (NaN lanes are skipped by the comparison)
    V mx0 = simd::broadcast(ninf), mx1 = mx0;
    index_t j = 0;
    for (; j < full2; j += 2 * L) {
      mx0 = simd::vmax(simd::load(p + j), mx0);
      mx1 = simd::vmax(simd::load(p + j + L), mx1);
    }
    for (; j < full; j += L) mx0 = simd::vmax(simd::load(p + j), mx0);
    if (full < cn) mx1 = simd::vmax(simd::load_partial(p + full, cn - full, ninf), mx1);
    const T cmax = simd::hmax(simd::vmax(mx0, mx1));
    if (cmax == std::numeric_limits<T>::infinity()) {
      st.bad = true;
      return st;
    }
    if (cmax == ninf) { // masked chunk: contributes 0, but must not hide a NaN
      for (index_t k = 0; k < cn; ++k)
        if (p[k] != p[k]) {
          st.bad = true;
          return st;
        }
      if constexpr (Store) {
        for (index_t k = 0; k < cn; ++k) e_out[c0 + k] = T(0);
        chunk_m[c] = -std::numeric_limits<double>::infinity();
      }
      continue;
    }
    // the shift is rounded to T once, so the sums and the stored e share exactly the same m
    const double cm = static_cast<double>(static_cast<T>(static_cast<double>(cmax) * static_cast<double>(inv_tau)));
    if (cm == std::numeric_limits<double>::infinity()) { // a finite logit whose z/τ overflows T: as +inf
      st.bad = true;
      return st;
    }
    if (cm > st.m) {
      if (st.s > 0) {
        const double delta = st.m - cm;
        const double alpha = std::exp(delta);
        st.t = alpha * (st.t + delta * st.s);
        st.s = alpha * st.s;
      }
      st.m = cm;
    }
    if constexpr (Store) chunk_m[c] = st.m;
    const V neg_m = simd::broadcast(static_cast<T>(-st.m));
    const V itau = simd::broadcast(inv_tau);
    const V floor = simd::broadcast(simd::exp_range<T>::lo);
    const V zero = {};
    V s0 = {}, t0 = {}, s1 = {}, t1 = {}, nan = {};
    T* q = nullptr;
    if constexpr (Store) q = e_out + c0;
    j = 0;
    for (; j < full2; j += 2 * L) {
      const V d0 = simd::load(p + j) * itau + neg_m, d1 = simd::load(p + j + L) * itau + neg_m;
      nan += d0 + d1;
      const V f0 = simd::vmax(d0, floor), f1 = simd::vmax(d1, floor);
      const V e0 = simd::exp_core(f0), e1 = simd::exp_core(f1);
      s0 += e0;
      s1 += e1;
      t0 += e0 * f0;
      t1 += e1 * f1;
      if constexpr (Store) {
        simd::store(q + j, d0 < floor ? zero : e0);
        simd::store(q + j + L, d1 < floor ? zero : e1);
      }
    }
    for (; j < full; j += L) {
      const V d = simd::load(p + j) * itau + neg_m;
      nan += d;
      const V f = simd::vmax(d, floor);
      const V e = simd::exp_core(f);
      s0 += e;
      t0 += e * f;
      if constexpr (Store) simd::store(q + j, d < floor ? zero : e);
    }
    if (full < cn) {
      const V d = simd::load_partial(p + full, cn - full, ninf) * itau + neg_m;
      nan += d;
      const V f = simd::vmax(d, floor);
      const V e = simd::exp_core(f);
      s1 += e;
      t1 += e * f;
      if constexpr (Store) simd::store_partial(q + full, d < floor ? zero : e, cn - full);
    }
    if (simd::hsum(nan) != simd::hsum(nan)) {
      st.bad = true;
      return st;
    }
    st.s += static_cast<double>(simd::hsum(s0 + s1));
    st.t += static_cast<double>(simd::hsum(t0 + t1));
  }
  return st;
}

//! The read pass of a row: m, Σ e^{x−m}, Σ e^{x−m}(x − m) (see `row_lse_entropy_impl`).
template <class T> lse_sums row_lse_entropy(const T* z, index_t n, T inv_tau) {
  return row_lse_entropy_impl<T, false>(z, n, inv_tau, nullptr, nullptr);
}
//! The read pass that also parks e_v = exp(x_v − m_c) in `e_out` (length n) and the chunk shifts
//! in `chunk_m` (length ⌈n / lse_chunk⌉), for `row_grad_from_exp`. `e_out` must not alias `z`.
template <class T> lse_sums row_lse_entropy_store(const T* z, T* e_out, double* chunk_m, index_t n, T inv_tau) {
  return row_lse_entropy_impl<T, true>(z, n, inv_tau, e_out, chunk_m);
}

//! Number of chunks of a row of n logits (the length of `chunk_m`).
constexpr index_t lse_chunks(index_t n) { return (n + lse_chunk - 1) / lse_chunk; }

//! Write pass from parked exponentials: p_v = e_v·exp(m_c − lse) and
//!   g_v = p_v·(a + b·u_v),  u_v = max((z_v·inv_tau − m) − log_s, exp_range::lo),
//! without a second exp per logit. With b = 0 (no entropy term) z is not read at all.
//! `g` may alias `e` or `z` exactly (element v is read before it is written).
template <class T>
void row_grad_from_exp(const T* e, const T* z, T* g, const double* chunk_m, index_t n, T inv_tau, T m, T log_s,
                       double lse, T a, T b) {
  using V = simd::vec<T>;
  constexpr index_t L = simd::lanes<T>;
  const V itau = simd::broadcast(inv_tau), nm = simd::broadcast(-m), nls = simd::broadcast(-log_s);
  const V floor = simd::broadcast(simd::exp_range<T>::lo);
  for (index_t c0 = 0, c = 0; c0 < n; c0 += lse_chunk, ++c) {
    const index_t cn = n - c0 < lse_chunk ? n - c0 : lse_chunk;
    const T scale = chunk_m[c] == -std::numeric_limits<double>::infinity() ? T(0) : static_cast<T>(std::exp(chunk_m[c] - lse));
    const T* ec = e + c0;
    const T* zc = z + c0;
    T* gc = g + c0;
    const index_t full = cn / L * L;
    if (b == T(0)) {
      const V sa = simd::broadcast(scale * a);
      for (index_t j = 0; j < full; j += L) simd::store(gc + j, simd::load(ec + j) * sa);
      for (index_t j = full; j < cn; ++j) gc[j] = ec[j] * (scale * a);
    } else {
      const V sa = simd::broadcast(scale * a), sb = simd::broadcast(scale * b);
      for (index_t j = 0; j < full; j += L) {
        const V u = simd::vmax((simd::load(zc + j) * itau + nm) + nls, floor);
        simd::store(gc + j, simd::load(ec + j) * (u * sb + sa));
      }
      if (full < cn) {
        const V u = simd::vmax((simd::load_partial(zc + full, cn - full, -std::numeric_limits<T>::infinity()) * itau + nm) + nls, floor);
        simd::store_partial(gc + full, simd::load_partial(ec + full, cn - full, T(0)) * (u * sb + sa), cn - full);
      }
    }
  }
}

//! Write pass: g_v = p_v·(a + b·u_v), u_v = (z_v·inv_tau − m) − log_s, p_v = e^{u_v}, and g_v = 0
//! exactly where u_v < exp_range::lo (masked −inf entries included). lse = m + log_s is split so
//! that logits of magnitude 1e4 keep full precision in u (m is the row maximum, exact in T).
//! `g` may equal `z` (in place).
template <class T> void row_grad(const T* z, T* g, index_t n, T inv_tau, T m, T log_s, T a, T b) {
  using V = simd::vec<T>;
  constexpr index_t L = simd::lanes<T>;
  const V itau = simd::broadcast(inv_tau), nm = simd::broadcast(-m), nls = simd::broadcast(-log_s);
  const V va = simd::broadcast(a), vb = simd::broadcast(b), zero = {};
  const T lo = simd::exp_range<T>::lo;
  auto one = [&](V x) RLVR_FORCEINLINE_LAMBDA {
    const V u = (x * itau + nm) + nls;
    const V q = simd::exp_core(u) * (u * vb + va);
    return u < lo ? zero : q;
  };
  const index_t full = n / L * L, full2 = n / (2 * L) * (2 * L);
  index_t j = 0;
  for (; j < full2; j += 2 * L) {
    const V g0 = one(simd::load(z + j)), g1 = one(simd::load(z + j + L));
    simd::store(g + j, g0);
    simd::store(g + j + L, g1);
  }
  for (; j < full; j += L) simd::store(g + j, one(simd::load(z + j)));
  if (full < n) simd::store_partial(g + full, one(simd::load_partial(z + full, n - full, -std::numeric_limits<T>::infinity())), n - full);
}

//! max_v z_v (−inf for an empty row). NaN entries are ignored.
template <class T> T row_max(const T* z, index_t n) {
  using V = simd::vec<T>;
  constexpr index_t L = simd::lanes<T>;
  V mx = simd::broadcast(-std::numeric_limits<T>::infinity());
  const index_t full = n / L * L;
  for (index_t j = 0; j < full; j += L) mx = simd::vmax(mx, simd::load(z + j));
  if (full < n) mx = simd::vmax(mx, simd::load_partial(z + full, n - full, -std::numeric_limits<T>::infinity()));
  return simd::hmax(mx);
}

//! Σ_v exp(z_v·scale − shift), accumulated per lane in T, returned in double.
template <class T> double row_sum_exp(const T* z, index_t n, T scale, T shift) {
  using V = simd::vec<T>;
  constexpr index_t L = simd::lanes<T>;
  const V sc = simd::broadcast(scale), sh = simd::broadcast(-shift);
  V s = {};
  const index_t full = n / L * L;
  for (index_t j = 0; j < full; j += L) s += simd::exp(simd::load(z + j) * sc + sh);
  if (full < n) s += simd::exp(simd::load_partial(z + full, n - full, -std::numeric_limits<T>::infinity()) * sc + sh);
  return static_cast<double>(simd::hsum(s));
}

//! out_v = exp(z_v·scale − shift) (unnormalised softmax numerators); returns their sum.
template <class T> double row_exp(const T* z, T* out, index_t n, T scale, T shift) {
  using V = simd::vec<T>;
  constexpr index_t L = simd::lanes<T>;
  const V sc = simd::broadcast(scale), sh = simd::broadcast(-shift);
  V s = {};
  const index_t full = n / L * L;
  for (index_t j = 0; j < full; j += L) {
    const V e = simd::exp(simd::load(z + j) * sc + sh);
    simd::store(out + j, e);
    s += e;
  }
  if (full < n) {
    const V e = simd::exp(simd::load_partial(z + full, n - full, -std::numeric_limits<T>::infinity()) * sc + sh);
    simd::store_partial(out + full, e, n - full);
    s += e;
  }
  return static_cast<double>(simd::hsum(s));
}

//! Fills out[0..n) with exp(in[0..n)) (the vectorised exp over an array; tail lanes included).
template <class T> void exp_array(const T* in, T* out, index_t n) {
  constexpr index_t L = simd::lanes<T>;
  const index_t full = n / L * L;
  for (index_t j = 0; j < full; j += L) simd::store(out + j, simd::exp(simd::load(in + j)));
  if (full < n) simd::store_partial(out + full, simd::exp(simd::load_partial(in + full, n - full, T(0))), n - full);
}

} // namespace rlvr::detail
