#pragma once
// Private: the host kernel that samples one row (rlvr/sampling/sampler.hpp drives it).
//
// Passes over a row of V logits (contiguous):
//   1. max + NaN/+inf detection (vectorised);
//   2. w_v = exp((z_v − m)/τ) into the workspace (detail/vexp.hpp), with per-block (64) partial
//      sums in double (and Σ exp(z_v − m) when the policy log-prob needs it at τ ≠ 1);
//   3. only with filters, the thresholds (see `thresholds`): top-p by compaction above the
//      (1 − p)·S/V bound and log-uniform slice refinement; top-k by a strided-sample bound and
//      selection, or an exact (count, mass) histogram; V ≤ 1024 by one sort; then the masked block
//      sums Σ_{w ≥ t} w;
//   4. the inverse-CDF pick: walk block sums (O(V/64)), then one block (O(64)).
// No full sort of the vocabulary on the large-V path.
#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>
#include <vector>

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

#include "rlvr/config.hpp"
#include "rlvr/detail/vexp.hpp"
#include "rlvr/parallel.hpp"
#include "rlvr/sampling/processors.hpp"
#include "rlvr/sampling/streams.hpp"
#include "rlvr/view.hpp"

namespace rlvr::detail {

// `std::greater` without `<functional>` (about 7 500 preprocessed lines for this one use).
struct greater_than {
  template <class T> constexpr bool operator()(const T& a, const T& b) const { return a > b; }
};

inline constexpr index_t sample_block = 64;      // block of the partial sums
inline constexpr index_t sample_lanes = 16;      // accumulator lanes (one AVX-512 register of float)
inline constexpr index_t sample_small_vocab = 1024; // at or below: thresholds by one sort of the row

template <class T> struct sample_workspace {
  std::vector<T> w;
  std::vector<double> block;
  std::vector<T> cand;
  std::vector<T> high;
  std::vector<T> sample;
  std::vector<std::uint32_t> cnt = std::vector<std::uint32_t>(weight_bins);
  std::vector<double> mass = std::vector<double>(weight_bins);

  static sample_workspace& local() {
    thread_local sample_workspace ws;
    return ws;
  }
  void fit(index_t n) {
    const auto un = static_cast<std::size_t>(n);
    if (w.size() < un) w.resize(un);
    const auto nb = static_cast<std::size_t>((n + sample_block - 1) / sample_block);
    if (block.size() < nb) block.resize(nb);
  }
};

// Status of one row, reported by the driver after the parallel loop (deterministically: the
// smallest bad row wins).
enum class row_status : std::uint8_t { ok = 0, bad_value = 1, all_neg_inf = 2 };

// Max of a row and whether it holds a NaN or +inf (−inf is allowed). Branch-free and
// vectorisable: NaN is detected as |bits| > bits(+inf) through an integer max of the magnitudes.
template <class T> RLVR_FORCEINLINE T fast_max(const T* z, index_t n, bool& bad) {
  using U = std::conditional_t<sizeof(T) == 4, std::uint32_t, std::uint64_t>;
  constexpr U abs_mask = ~U(0) >> 1;
  constexpr U inf_bits = std::bit_cast<U>(std::numeric_limits<T>::infinity());
  constexpr index_t L = sample_lanes;
  T mx[L];
  U ma[L];
  for (index_t l = 0; l < L; ++l) {
    mx[l] = -std::numeric_limits<T>::infinity();
    ma[l] = 0;
  }
  index_t v = 0;
  for (; v + L <= n; v += L)
    for (index_t l = 0; l < L; ++l) {
      const T x = z[v + l];
      const U a = std::bit_cast<U>(x) & abs_mask;
      mx[l] = x > mx[l] ? x : mx[l];
      ma[l] = a > ma[l] ? a : ma[l];
    }
  for (; v < n; ++v) {
    const T x = z[v];
    const U a = std::bit_cast<U>(x) & abs_mask;
    mx[0] = x > mx[0] ? x : mx[0];
    ma[0] = a > ma[0] ? a : ma[0];
  }
  T m = mx[0];
  U a = ma[0];
  for (index_t l = 1; l < L; ++l) {
    m = mx[l] > m ? mx[l] : m;
    a = ma[l] > a ? ma[l] : a;
  }
  bad = a > inf_bits || m == std::numeric_limits<T>::infinity();
  return m;
}

// Σ exp(z − m) (no store): the policy normaliser at τ = 1.
template <class T> double fast_sumexp(const T* z, index_t n, T m) { return row_sum_exp(z, n, T(1), m); }

// w = exp((z − m)·inv) into `w`, block sums into `block`; returns Σ w (double, in block order).
// With Policy, also returns Σ exp(z − m) in s1. Uses the shared vectorised exp (detail/vexp.hpp).
template <bool Policy, class T>
double exp_pass(const T* z, index_t n, T m, T inv, T* w, double* block, double& s1) {
  using V = simd::vec<T>;
  constexpr index_t W = simd::lanes<T>, B = sample_block;
  static_assert(B % W == 0, "sample_block must be a multiple of the vector width");
  const V vm = simd::broadcast(m), vinv = simd::broadcast(inv);
  double s = 0.0;
  s1 = 0.0;
  for (index_t b0 = 0; b0 < n; b0 += B) {
    const index_t len = std::min<index_t>(B, n - b0);
    V acc{}, acc1{};
    index_t i = 0;
    for (; i + W <= len; i += W) {
      const V d = simd::load(z + b0 + i) - vm;
      const V e = simd::exp(d * vinv);
      simd::store(w + b0 + i, e);
      acc += e;
      if constexpr (Policy) acc1 += simd::exp(d);
    }
    if (i < len) {
      const V d = simd::load_partial(z + b0 + i, len - i, -std::numeric_limits<T>::infinity()) - vm;
      const V e = simd::exp(d * vinv);
      simd::store_partial(w + b0 + i, e, len - i);
      acc += e;
      if constexpr (Policy) acc1 += simd::exp(d);
    }
    const double bs = static_cast<double>(simd::hsum(acc));
    block[b0 / B] = bs;
    s += bs;
    if constexpr (Policy) s1 += static_cast<double>(simd::hsum(acc1));
  }
  return s;
}

// Copies the x in src[0..n) with lo ≤ B(x) < hi to dst (in order); returns how many. B is the
// type the comparison is made in (T itself, or float to match `weight_bin`). dst must hold
// n + 16 elements (the AVX-512 path stores whole registers): compress in a register, then a full
// store — memory-destination compress is microcoded on some CPUs (AMD Zen 4).
template <class B, class T> index_t compact_range(const T* src, index_t n, B lo, B hi, T* dst) {
  index_t k = 0, v = 0;
#if defined(__AVX512F__)
  if constexpr (std::is_same_v<T, float> && std::is_same_v<B, float>) {
    const __m512 vlo = _mm512_set1_ps(lo), vhi = _mm512_set1_ps(hi);
    for (; v + 16 <= n; v += 16) {
      const __m512 x = _mm512_loadu_ps(src + v);
      const __mmask16 m = static_cast<__mmask16>(_mm512_cmp_ps_mask(x, vlo, _CMP_GE_OQ) &
                                                 _mm512_cmp_ps_mask(x, vhi, _CMP_LT_OQ));
      _mm512_storeu_ps(dst + k, _mm512_maskz_compress_ps(m, x));
      k += std::popcount(static_cast<unsigned>(m));
    }
  }
#endif
  for (; v < n; ++v) { // branch-free scalar compaction
    const T x = src[v];
    const B f = static_cast<B>(x);
    dst[k] = x;
    k += (f >= lo) & (f < hi);
  }
  return k;
}

// Masked block sums Σ_{w ≥ t} w; returns their total (double, block order).
template <class T> double masked_block_sums(const T* w, index_t n, T t, double* block) {
  constexpr index_t L = sample_lanes, B = sample_block;
  double s = 0.0;
  for (index_t b0 = 0; b0 < n; b0 += B) {
    const index_t len = std::min<index_t>(B, n - b0);
    const T* wb = w + b0;
    T acc[L] = {};
    if (len == B) {
      for (index_t i = 0; i < B; i += L)
        for (index_t l = 0; l < L; ++l) {
          const T x = wb[i + l];
          acc[l] += x >= t ? x : T(0);
        }
    } else {
      for (index_t i = 0; i < len; ++i) acc[0] += wb[i] >= t ? wb[i] : T(0);
    }
    double bs = 0.0;
    for (index_t l = 0; l < L; ++l) bs += static_cast<double>(acc[l]);
    block[b0 / B] = bs;
    s += bs;
  }
  return s;
}

// Inverse-CDF pick over {w ≥ t, w > 0} using the block sums (total s_k, summed in block order).
template <class T> index_t pick(const T* w, index_t n, T t, const double* block, double target) {
  constexpr index_t B = sample_block;
  const index_t nb = (n + B - 1) / B;
  double c = 0.0;
  index_t b = 0;
  while (b < nb - 1 && c + block[b] <= target) c += block[b++];
  const index_t b0 = b * B, b1 = std::min<index_t>(n, b0 + B);
  index_t last = -1;
  for (index_t v = b0; v < b1; ++v) {
    const T x = w[v];
    if (x >= t && x > T(0)) {
      c += static_cast<double>(x);
      last = v;
      if (c > target) return v;
    }
  }
  if (last >= 0) return last;
  for (index_t v = b0 - 1; v >= 0; --v) // rounding left this block empty: the last kept before it
    if (w[v] >= t && w[v] > T(0)) return v;
  for (index_t v = b1; v < n; ++v)
    if (w[v] >= t && w[v] > T(0)) return v;
  return -1;
}

// In a descending-sorted run `c[0..len)`, starting from accumulated mass `acc`, the first value
// x at which the mass of everything ≥ x reaches `target` (ties enter together). Returns
// c[len−1] if it never does (rounding), with `found` false.
template <class T> T mass_threshold_sorted(const T* c, index_t len, double acc, double target) {
  index_t i = 0;
  while (i < len) {
    const T x = c[i];
    while (i < len && c[i] == x) acc += static_cast<double>(c[i++]);
    if (acc >= target) return x;
  }
  return len > 0 ? c[len - 1] : T(0);
}

// Top-p threshold alone, for large V, without a scatter histogram:
//  1. every weight below t0 = (1 − p)·S/V is dropped (together they weigh < (1 − p)·S), so the
//     weights ≥ t0 are compacted (AVX-512 register compress where available);
//  2. the range [lo, hi) holding t_p is cut into 16 log-uniform slices; one vectorised pass sums
//     the mass above each slice edge (compare + masked add, no scatter); the slice where the mass
//     from the top reaches p·S is compacted and cut again, until ≤ 64 weights remain;
//  3. those are sorted and scanned (ties together). Each level is O(size) and shrinks the
//     range 16× (in log-weight), so the work is ~ one pass over the candidates.
template <class T>
T top_p_threshold(const T* w, index_t n, double top_p, double s_total, sample_workspace<T>& ws) {
  using V = simd::vec<T>;
  constexpr index_t W = simd::lanes<T>;
  constexpr int slices = 16;
  const double target = top_p * s_total;
  const T t0 = static_cast<T>((1.0 - top_p) * s_total / static_cast<double>(n));
  const auto need = static_cast<std::size_t>(n + 16);
  if (ws.high.size() < need) ws.high.resize(need);
  if (ws.cand.size() < need) ws.cand.resize(need);
  T* cur = ws.high.data();
  T* nxt = ws.cand.data();
  index_t len = compact_range<T>(w, n, t0, std::numeric_limits<T>::infinity(), cur);
  double lo = static_cast<double>(t0), hi = 2.0; // weights ≤ 1 < hi
  double acc = 0.0;                              // mass of the weights ≥ hi
  for (int level = 0; level < 12 && len > 64 && hi > lo * (1.0 + 1e-6); ++level) {
    T edge[slices + 1];
    const double ratio = hi / lo;
    for (int j = 0; j <= slices; ++j) edge[j] = static_cast<T>(lo * std::pow(ratio, j / double(slices)));
    V a[slices] = {};
    index_t i = 0;
    for (; i + W <= len; i += W) {
      const V x = simd::load(cur + i);
      for (int j = 0; j < slices; ++j) a[j] += x >= simd::broadcast(edge[j]) ? x : V{};
    }
    double m[slices + 1];
    for (int j = 0; j < slices; ++j) m[j] = static_cast<double>(simd::hsum(a[j]));
    m[slices] = 0.0;
    for (; i < len; ++i)
      for (int j = 0; j < slices; ++j) m[j] += cur[i] >= edge[j] ? static_cast<double>(cur[i]) : 0.0;
    int js = 0; // the highest edge whose mass from the top still reaches the target
    for (int j = slices - 1; j >= 0; --j)
      if (acc + m[j] >= target) {
        js = j;
        break;
      }
    acc += m[js + 1];
    const T elo = edge[js], ehi = edge[js + 1];
    const index_t k = compact_range<T>(cur, len, elo, ehi, nxt);
    std::swap(cur, nxt);
    len = k;
    lo = static_cast<double>(elo);
    hi = static_cast<double>(ehi);
  }
  std::sort(cur, cur + len, greater_than{});
  return mass_threshold_sorted(cur, len, acc, target);
}

// Thresholds t_k (top-k) and t_p (top-p) over the weights; both 0 when their filter is off.
template <class T>
void thresholds(const T* w, index_t n, const sampling_params& p, double s_total,
                sample_workspace<T>& ws, T& tk, T& tp) {
  tk = T(0);
  tp = T(0);
  const bool use_k = p.top_k > 0 && p.top_k < n;
  const bool use_p = p.top_p < 1.0;
  if (!use_k && !use_p) return;
  auto& cand = ws.cand;
  if (n <= sample_small_vocab) {
    // One sort of the row; with top-p alone, only of the weights ≥ t0 = (1 − p)·S/V (the rest
    // weigh < (1 − p)·S together and are always dropped).
    const T t0 = use_k ? T(0) : static_cast<T>((1.0 - p.top_p) * s_total / static_cast<double>(n));
    cand.resize(static_cast<std::size_t>(n + 16));
    const index_t m = compact_range<T>(w, n, t0, std::numeric_limits<T>::infinity(), cand.data());
    cand.resize(static_cast<std::size_t>(m));
    std::sort(cand.begin(), cand.end(), greater_than{});
    index_t len = m;
    double mk = s_total;
    if (use_k) {
      tk = cand[static_cast<std::size_t>(p.top_k - 1)];
      len = p.top_k;
      while (len < m && cand[static_cast<std::size_t>(len)] == tk) ++len;
      mk = 0.0;
      for (index_t i = 0; i < len; ++i) mk += static_cast<double>(cand[static_cast<std::size_t>(i)]);
    }
    if (use_p) tp = mass_threshold_sorted(cand.data(), len, 0.0, p.top_p * mk);
    return;
  }
  if (!use_k) {
    tp = top_p_threshold(w, n, p.top_p, s_total, ws);
    return;
  }
  // Large V, small k: a bound from a strided sample of 1024 weights. b = the sample's r-th
  // largest with r ≈ 2k·1024/V + 3, so ~2k + 3V/1024 weights are expected ≥ b; they are
  // compacted in one vectorised pass and, if at least k of them are (almost always), t_k and the
  // top-p threshold are found among them by selection. Otherwise the histogram below runs.
  // Deterministic: the sample positions depend on V only.
  if (p.top_k <= n / 64) {
    constexpr index_t ns = 1024;
    const index_t stride = n / ns;
    auto& smp = ws.sample;
    smp.resize(static_cast<std::size_t>(ns));
    for (index_t i = 0; i < ns; ++i) smp[static_cast<std::size_t>(i)] = w[i * stride];
    const index_t r = std::min<index_t>(ns - 1, (2 * p.top_k * ns + n - 1) / n + 3);
    std::nth_element(smp.begin(), smp.begin() + r, smp.end(), greater_than{});
    const T b = smp[static_cast<std::size_t>(r)];
    if (ws.high.size() < static_cast<std::size_t>(n + 16)) ws.high.resize(static_cast<std::size_t>(n + 16));
    T* h = ws.high.data();
    const index_t len = b > T(0) ? compact_range<T>(w, n, b, std::numeric_limits<T>::infinity(), h) : 0;
    if (len >= p.top_k) {
      std::nth_element(h, h + (p.top_k - 1), h + len, greater_than{});
      tk = h[p.top_k - 1];
      // Ties with the k-th weight are kept: move them next to the top k.
      const index_t kept = static_cast<index_t>(
          std::partition(h + p.top_k, h + len, [tk](T x) { return x == tk; }) - h);
      std::sort(h, h + kept, greater_than{});
      double mk2 = 0.0;
      for (index_t i = 0; i < kept; ++i) mk2 += static_cast<double>(h[i]);
      if (use_p) tp = mass_threshold_sorted(h, kept, 0.0, p.top_p * mk2);
      return;
    }
  }
  // Large V with top-k: histogram of (count, mass) per weight bin.
  std::uint32_t* cnt = ws.cnt.data();
  double* mass = ws.mass.data();
  std::fill(cnt, cnt + weight_bins, 0u);
  std::fill(mass, mass + weight_bins, 0.0);
  const T* src = w; // the weights the bins were built from (all, or the compacted ones ≥ t0)
  index_t src_len = n;
  for (index_t v = 0; v < n; ++v) {
    const std::uint32_t b = weight_bin(w[v]);
    cnt[b] += 1;
    mass[b] += static_cast<double>(w[v]);
  }
  auto collect = [&](std::uint32_t bin) {
    cand.clear();
    // Weights in `bin` are exactly those with float(w) in [lo, hi).
    const float lo = std::bit_cast<float>(bin << 19);
    const float hi = std::bit_cast<float>((bin + 1) << 19);
    cand.resize(static_cast<std::size_t>(src_len + 16));
    const index_t k = compact_range<float>(src, src_len, lo, hi, cand.data());
    cand.resize(static_cast<std::size_t>(k));
    std::sort(cand.begin(), cand.end(), greater_than{});
  };
  double mk = s_total;
  std::int64_t bk = -1;      // bin of t_k
  double bk_partial = 0.0;   // mass of that bin's elements ≥ t_k
  index_t bk_len = 0;        // how many of the sorted bin are ≥ t_k
  if (use_k) {
    std::uint64_t above = 0;
    double above_mass = 0.0;
    std::int64_t b = weight_bins - 1;
    for (; b > 0; --b) {
      if (above + cnt[b] >= static_cast<std::uint64_t>(p.top_k)) break;
      above += cnt[b];
      above_mass += mass[b];
    }
    collect(static_cast<std::uint32_t>(b));
    const auto r = static_cast<std::size_t>(p.top_k - 1) - static_cast<std::size_t>(above);
    tk = cand[r];
    bk_len = static_cast<index_t>(r) + 1;
    while (bk_len < static_cast<index_t>(cand.size()) && cand[static_cast<std::size_t>(bk_len)] == tk) ++bk_len;
    for (index_t i = 0; i < bk_len; ++i) bk_partial += static_cast<double>(cand[static_cast<std::size_t>(i)]);
    bk = b;
    mk = above_mass + bk_partial;
  }
  if (!use_p) return;
  const double target = p.top_p * mk;
  double acc = 0.0;
  for (std::int64_t b = weight_bins - 1; b >= 0 && b >= bk; --b) {
    if (b == bk) { // the top-k bin: its sorted kept part is in cand already
      tp = mass_threshold_sorted(cand.data(), bk_len, acc, target);
      return;
    }
    if (acc + mass[b] >= target || b == 0) {
      collect(static_cast<std::uint32_t>(b));
      tp = mass_threshold_sorted(cand.data(), static_cast<index_t>(cand.size()), acc, target);
      return;
    }
    acc += mass[b];
  }
}

// Samples one row. z: V contiguous logits. Returns ok, or the reason the row is unusable.
template <class T>
row_status sample_row(const T* z, index_t n, const sampling_params& p, double u,
                      token_draw<T>& out) {
  bool bad = false;
  const T m = fast_max(z, n, bad);
  if (bad) return row_status::bad_value;
  if (m == -std::numeric_limits<T>::infinity()) return row_status::all_neg_inf;
  const T nan = std::numeric_limits<T>::quiet_NaN();
  if (p.greedy) {
    index_t j = 0;
    while (z[j] != m) ++j;
    out.token = j;
    out.logprob = T(0);
    out.policy_logprob = p.policy_logprob ? static_cast<T>(-std::log(fast_sumexp(z, n, m))) : nan;
    return row_status::ok;
  }
  auto& ws = sample_workspace<T>::local();
  ws.fit(n);
  T* w = ws.w.data();
  double* block = ws.block.data();
  const bool unit = p.temperature == 1.0;
  const T inv = static_cast<T>(1.0 / p.temperature);
  double s1 = 0.0;
  const double s = (p.policy_logprob && !unit) ? exp_pass<true>(z, n, m, inv, w, block, s1)
                                               : exp_pass<false>(z, n, m, inv, w, block, s1);
  if (unit) s1 = s;
  T t = T(0);
  double sk = s;
  if (p.filters(n)) {
    T tk, tp;
    thresholds(w, n, p, s, ws, tk, tp);
    t = std::max({tk, tp, static_cast<T>(p.min_p)});
    if (t > T(0)) sk = masked_block_sums(w, n, t, block);
  }
  const index_t j = pick(w, n, t, block, u * sk);
  out.token = j;
  const double d = static_cast<double>(z[j]) - static_cast<double>(m);
  out.logprob = static_cast<T>(d / p.temperature - std::log(sk));
  out.policy_logprob = p.policy_logprob ? static_cast<T>(d - std::log(s1)) : nan;
  return row_status::ok;
}

// The host backends' `sample_rows`: every row through `sample_row`, rows split over `threads`
// with `parallel_for` in chunks of at least ~16k logits (tiny vocabularies do not pay a wake-up
// per row). status[i] receives the row's `row_status` as a byte.
template <class T>
void sample_rows_host(matrix_view<const T> z, const sampling_params& p, const stream_batch& streams,
                      vector_view<token_draw<T>> out, vector_view<std::uint8_t> status, int threads) {
  const index_t n = z.rows(), v = z.cols();
  const index_t min_rows = std::max<index_t>(1, 16384 / std::max<index_t>(v, 1));
  parallel_for(
      n, threads,
      [&](index_t b, index_t e) {
        for (index_t i = b; i < e; ++i)
          status[i] = static_cast<std::uint8_t>(sample_row<T>(z.row(i).data(), v, p, streams.uniform(i), out[i]));
      },
      min_rows);
}

} // namespace rlvr::detail
