#pragma once
//! \file rlvr/backends/cuda/sampling.cuh
//! \brief Sampling kernels on CUDA: temperature, top-k, top-p, min-p and greedy, drawing from the
//! same Philox streams as the host samplers, without sorting the vocabulary (nvcc only).
//!
//! The semantics are exactly those of `rlvr/sampling/processors.hpp` (the same
//! `sampling_params`, the same `stream_batch` addressing, the same `token_draw` outputs):
//!
//! 1. w_v = exp((z_v − m)/τ) with m = max_v z_v (float; CUDA's `expf`, within 2 ulp of the host
//!    samplers' vectorised exp);
//! 2. t_k = the k-th largest weight (ties kept together), t_p = the largest weight value t with
//!    Σ_{kept, w ≥ t} w ≥ p·Σ_{kept} w, q = min-p; kept set K = {v : w_v ≥ max(t_k, t_p, q)};
//! 3. one uniform u from the Philox block (seed, subsequence_i, offset_i), and the token is the
//!    smallest id j ∈ K with Σ_{v∈K, v≤j} w_v > u·S_K (inverse CDF in token-id order);
//! 4. log p̃_j = (z_j − m)/τ − log S_K and log π_j = (z_j − m) − log Σ_v e^{z_v − m}.
//!
//! So a row sampled here and on the CPU with the same seed gives the same token unless u·S_K
//! falls within the two sums' rounding of a CDF step, or a threshold mass sits within rounding
//! of p·S (tests/gpu/test_sampling.cu measures how often; see docs/backends.md).
//!
//! ## How the thresholds are found without a sort (radix select)
//! A weight w ∈ [0, 1] is a non-negative float, so its bit pattern orders like its value. t_k
//! and t_p are found by a three-level most-significant-digit radix select over those bits
//! (13 + 11 + 8 bits: the first level is exactly `weight_bin`): per level one pass over the row
//! builds a shared-memory histogram of (count, mass) over the elements that match the digits
//! fixed so far, and a block-wide descending scan of the histogram fixes the next digit. After
//! three levels the digits are the exact threshold value. Masses are accumulated as 64-bit fixed
//! point (w·2⁴⁰, integer atomics), so the histograms — and hence every result — are independent
//! of the order in which threads run: the kernels are deterministic.
//!
//! ## The draw
//! Each warp owns a contiguous segment of the row and sums its kept weights (in double, in
//! order); the block finds the segment where u·S_K is crossed, and that warp walks it 32 × 4
//! elements at a time with a warp prefix sum. Cost per row: one max pass, one pass for the τ = 1
//! policy normaliser when τ ≠ 1 or a filter is on, three radix passes per threshold filter
//! (top-k, top-p), one segment-sum pass and 1/warps of a pass for the walk; rows are independent
//! thread blocks.
//!
//! ## Split rows (few rows × large V, sm_90+)
//! With one block per row, 64 rows of Qwen's 151936-token vocabulary occupy 64 SMs, each making
//! the passes above over a 600 KB row: latency-bound. `sample_split_kernel` gives each row a
//! thread-block cluster of `split_sampling_policy::cluster_blocks` blocks (8 by default on
//! policy900), each owning a contiguous chunk of the row (`detail/split_draw.hpp`), and runs
//! the same passes on its chunk. Cluster-wide results go through distributed shared memory:
//! max and NaN flags are read from every block; each block builds its radix histogram locally
//! and adds its non-zero bins into rank 0's with integer atomics (exact, so order-independent),
//! and every block then runs the same `descend` on rank 0's histogram; S₁ and S_K are the
//! per-block double sums added in rank order, identical in every block and every run. The draw
//! finds the crossing chunk from the per-block totals, the crossing segment from that block's
//! per-warp sums (`find_crossing`, one rule at both levels) and walks it as above. Same
//! uniform, same thresholds and tie rules; only the order of the floating-point sums differs
//! from the one-block kernel (tests/gpu/test_sampling.cu compares both paths with the host and
//! with each other). `sample_path_for<Policy>(rows, cols)` says which kernel `sample` takes:
//! split when the device supports clusters, cols ≥ `min_cols` and rows ≤ `max_rows_per_sm` ×
//! SMs; `sample(..., sample_path)` can force either.
//!
//! ## Errors
//! `rlvr::cuda::sample` (asynchronous) writes a status per row (0 ok, 1 NaN/+inf logit, 2 every
//! logit −inf); `rlvr::cuda::sample_checked` waits for the stream and raises the host samplers'
//! `rlvr::numerical_error` naming the first bad row. Parameters are validated on the host by
//! `rlvr::sampling_config::params()`.

#include <cstdint>
#include <limits>
#include <type_traits>
#include <vector>

#include <cooperative_groups.h>
#include <cub/block/block_reduce.cuh>
#include <cub/block/block_scan.cuh>
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include "rlvr/backends/cuda.hpp"
#include "rlvr/backends/cuda/error.cuh"
#include "rlvr/backends/cuda/memory.cuh"
#include "rlvr/backends/cuda/detail/launch.cuh"
#include "rlvr/backends/cuda/detail/radix_select.hpp"
#include "rlvr/backends/cuda/detail/split_draw.hpp"
#include "rlvr/config.hpp"
#include "rlvr/random/philox.hpp"
#include "rlvr/sampling/processors.hpp"
#include "rlvr/sampling/streams.hpp"
#include "rlvr/view.hpp"

namespace rlvr::cuda {

//! Launch policy of the split-row sampler (one thread-block cluster per row, sm_90+):
//! - `cluster_blocks`: blocks per row (a cluster; 2…8, the portable cluster sizes), 0 = off;
//! - `block_threads`, `min_blocks_per_sm`: the kernel's launch bounds;
//! - `min_cols`: rows shorter than this keep one block per row;
//! - `max_rows_per_sm`: the split path is taken while rows ≤ max_rows_per_sm × SM count (beyond
//!   that one block per row already fills the device).
//! A policy type may carry `static constexpr split_sampling_policy split_sampling`; otherwise
//! `split_policy_of` gives policy900, policy1000 and any policy derived from them the default
//! below and every other policy `off`.
struct split_sampling_policy {
  int cluster_blocks = 0;
  int block_threads = 256;
  int min_blocks_per_sm = 1;
  index_t min_cols = 0;
  int max_rows_per_sm = 0;
};

//! The split-row policy of a tuning policy `Policy` (see `split_sampling_policy`).
template <class Policy> constexpr split_sampling_policy split_policy_of() {
  if constexpr (requires { Policy::split_sampling; }) {
    return Policy::split_sampling;
  } else if constexpr (std::is_base_of_v<policy900, Policy> || std::is_base_of_v<policy1000, Policy>) {
    // (a policy derived from the sm_90 / sm_100 preset keeps the split-row path)
    // 64 rows × 4 blocks = 256 blocks of 256 threads, all resident at once on a 132-SM H100/H200.
    // Measured on an H200 (docs/performance.md, run 3), top-p at 64 × 151936: 4×256 230 µs,
    // 4×512 250 µs, 8×256 407 µs, 8×512 440 µs, one block per row 318 µs.
    return split_sampling_policy{4, 256, 4, 32768, 1};
  } else {
    return split_sampling_policy{};
  }
}

//! Which kernel `sample` launches: `automatic` follows the policy (split rows when the device
//! supports clusters and the policy's row/column rule says so); the others force a path (tests
//! and benchmarks; `split` still needs a policy with `cluster_blocks` > 1 and an sm_90+ device).
enum class sample_path : std::uint8_t { automatic, one_block_per_row, split };

//! Row status written by the sampling kernel.
enum class sample_status : std::uint8_t { ok = 0, bad_value = 1, all_neg_inf = 2 };

namespace detail {


//! e^x for x ≤ 0 as the host samplers take it: full-precision `expf` (≤ 2 ulp, like the host's
//! vectorised exp), exactly 0 below the smallest normal result (x < −87.33).
__device__ inline float weight_exp(float x) { return x < -87.33f ? 0.0f : expf(x); }

template <class T> __device__ inline float load_float(const T* p) {
  if constexpr (std::is_same_v<T, __nv_bfloat16>)
    return __bfloat162float(*p);
  else
    return static_cast<float>(*p);
}

//! The last step of the inverse-CDF draw, shared by both sampling kernels: one warp walks the
//! elements [c0, c1) (the segment holding the crossing) in token-id order, 4 per lane, with kept
//! weights w = weight_exp((x − m)·inv) ≥ t (and > 0), starting from the running sum `base`, and
//! returns the first token whose running sum exceeds `target`; if rounding leaves the target
//! past the segment's end, its last kept token. Every lane returns the same value.
template <class T>
__device__ long long warp_walk(const T* row, index_t c0, index_t c1, float m, float inv, float t, double target,
                               double base, int lane) {
  double c = base;
  long long last = -1;
  for (index_t b = c0; b < c1; b += 32 * 4) {
    // lane l holds elements b + 4l … b + 4l + 3 (token-id order across lanes)
    float w4[4];
    double own = 0.0;
    long long own_last = -1;
#pragma unroll
    for (int k = 0; k < 4; ++k) {
      const index_t v = b + 4 * lane + k;
      float w = 0.0f;
      if (v < c1) w = weight_exp((load_float(row + v) - m) * inv);
      w4[k] = (w >= t && w > 0.0f) ? w : 0.0f;
      own += static_cast<double>(w4[k]);
      if (w4[k] > 0.0f) own_last = v;
    }
    double incl = own;
#pragma unroll
    for (int o = 1; o < 32; o *= 2) {
      const double up = __shfl_up_sync(0xffffffffu, incl, o);
      if (lane >= o) incl += up;
    }
    const unsigned ballot = __ballot_sync(0xffffffffu, c + incl > target && own > 0.0);
    const unsigned has = __ballot_sync(0xffffffffu, own_last >= 0);
    if (has != 0) last = __shfl_sync(0xffffffffu, own_last, 31 - __clz(static_cast<int>(has)));
    if (ballot != 0) {
      const int first_lane = __ffs(static_cast<int>(ballot)) - 1;
      long long pick = own_last;
      if (lane == first_lane) {
        double cc = c + (incl - own);
        for (int k = 0; k < 4; ++k) {
          if (w4[k] > 0.0f) {
            cc += static_cast<double>(w4[k]);
            if (cc > target) {
              pick = b + 4 * lane + k;
              break;
            }
          }
        }
      }
      return __shfl_sync(0xffffffffu, pick, first_lane);
    }
    c += __shfl_sync(0xffffffffu, incl, 31);
  }
  return last;
}

struct sample_shared_scalars {
  float m;
  int bad;
  std::uint32_t found_bin;
  unsigned long long acc_mass; // count or fixed-point mass above the selected bin
  unsigned long long total_mass;
  double total_s1;
  double seg_sum[32];
  double s_k;
  int crossing_warp;
  double crossing_base;
  long long token;
};

//! Block-wide descending scan of a histogram of `bins` entries: the parallel form of
//! `radix_descend` (detail/radix_select.hpp) — the highest bin b with
//! `above + Σ_{bins > b} h < need ≤ above + Σ_{bins ≥ b} h` (integers, so exactly one bin when
//! the total reaches `need`; otherwise the lowest non-empty bin); sets `above` to
//! `above + Σ_{bins > b} h`.
template <int Threads>
__device__ std::uint32_t descend(const unsigned long long* hist, int bins, unsigned long long need,
                                 unsigned long long& above, sample_shared_scalars& sh) {
  using scan_t = cub::BlockScan<unsigned long long, Threads>;
  __shared__ typename scan_t::TempStorage scan_storage;
  const int per = (bins + Threads - 1) / Threads;
  const int first = static_cast<int>(threadIdx.x) * per; // position in descending order
  unsigned long long own = 0;
  for (int r = 0; r < per; ++r) {
    const int pos = first + r;
    if (pos < bins) own += hist[bins - 1 - pos];
  }
  unsigned long long excl;
  scan_t(scan_storage).ExclusiveSum(own, excl);
  if (threadIdx.x == 0) sh.found_bin = 0xFFFFFFFFu;
  __syncthreads();
  unsigned long long run = above + excl;
  for (int r = 0; r < per; ++r) {
    const int pos = first + r;
    if (pos >= bins) break;
    const unsigned long long h = hist[bins - 1 - pos];
    if (run < need && run + h >= need) {
      sh.found_bin = static_cast<std::uint32_t>(bins - 1 - pos);
      sh.acc_mass = run;
      break;
    }
    run += h;
  }
  __syncthreads();
  if (sh.found_bin == 0xFFFFFFFFu) { // total short of `need`: the lowest non-empty bin
    if (threadIdx.x == 0) {
      int low = 0;
      for (int b = 0; b < bins; ++b)
        if (hist[b] != 0) {
          low = b;
          break;
        }
      unsigned long long acc = above;
      for (int b = bins - 1; b > low; --b) acc += hist[b];
      sh.found_bin = static_cast<std::uint32_t>(low);
      sh.acc_mass = acc;
    }
    __syncthreads();
  }
  above = sh.acc_mass;
  const std::uint32_t found = sh.found_bin;
  __syncthreads(); // sh is reused by the next level
  return found;
}

//! Radix select of a weight threshold over one row.
//! Count mode (`by_mass` false): the k-th largest weight among all weights.
//! Mass mode (`by_mass` true): the largest value t with Σ_{lower ≤ w, w ≥ t} w ≥ target_fraction ·
//! Σ_{w ≥ lower} w, restricted to weights ≥ `lower`.
template <int Threads, class T>
__device__ float radix_threshold(const T* row, index_t n, float m, float inv, bool by_mass, std::uint64_t k,
                                 double fraction, float lower, unsigned long long* hist, sample_shared_scalars& sh) {
  std::uint32_t prefix = 0;
  unsigned long long above = 0; // count or fixed-point mass above the digits fixed so far
  unsigned long long need = k;
  for (int level = 0; level < 3; ++level) {
    const int bins = radix_bins(level);
    const std::uint32_t pmask = radix_prefix_mask(level);
    for (int b = static_cast<int>(threadIdx.x); b < bins; b += Threads) hist[b] = 0;
    __syncthreads();
    for (index_t v = threadIdx.x; v < n; v += Threads) {
      const float w = weight_exp((load_float(row + v) - m) * inv);
      if (w < lower) continue;
      const std::uint32_t bits = __float_as_uint(w);
      if ((bits & pmask) != prefix) continue;
      atomicAdd(&hist[radix_digit(bits, level)], by_mass ? radix_mass(w) : 1ull);
    }
    __syncthreads();
    if (by_mass && level == 0) {
      // The kept mass fixes the target: need = ⌈fraction · Σ mass⌉ (fixed point).
      unsigned long long local = 0;
      for (int b = static_cast<int>(threadIdx.x); b < bins; b += Threads) local += hist[b];
      using reduce_t = cub::BlockReduce<unsigned long long, Threads>;
      __shared__ typename reduce_t::TempStorage red;
      const unsigned long long total = reduce_t(red).Sum(local);
      if (threadIdx.x == 0) sh.total_mass = total;
      __syncthreads();
      need = radix_mass_need(fraction, sh.total_mass);
    }
    const std::uint32_t d = descend<Threads>(hist, bins, need, above, sh);
    prefix |= d << radix_shift(level);
  }
  return __uint_as_float(prefix);
}

template <class Policy, class T>
__global__ void __launch_bounds__(Policy::sampling.block_threads, 1)
    sample_kernel(matrix_view<const T, cuda_space> logits, sampling_params p, basic_stream_batch<cuda_space> streams, token_draw<float>* out,
                  std::uint8_t* status) {
  constexpr int Threads = Policy::sampling.block_threads;
  constexpr int Warps = Threads / 32;
  static_assert(Warps <= 32, "at most 1024 threads");
  using reduce_f = cub::BlockReduce<float, Threads>;
  using reduce_d = cub::BlockReduce<double, Threads>;
  using reduce_i = cub::BlockReduce<long long, Threads>;
  __shared__ union {
    typename reduce_f::TempStorage f;
    typename reduce_d::TempStorage d;
    typename reduce_i::TempStorage i;
  } red;
  __shared__ unsigned long long hist[radix_max_bins];
  __shared__ sample_shared_scalars sh;

  const index_t i = blockIdx.x;
  const T* row = logits.ptr + i * logits.stride;
  const index_t n = logits.n_cols;
  const int lane = static_cast<int>(threadIdx.x % 32), warp = static_cast<int>(threadIdx.x / 32);

  // 1. maximum and NaN / +inf detection.
  float m = -INFINITY;
  int bad = 0;
  for (index_t v = threadIdx.x; v < n; v += Threads) {
    const float x = load_float(row + v);
    bad |= (x != x) | (x == INFINITY);
    m = x > m ? x : m;
  }
  const float bm = reduce_f(red.f).Reduce(m, [](float a, float b) { return a > b ? a : b; });
  const int any_bad = __syncthreads_or(bad);
  if (threadIdx.x == 0) sh.m = bm;
  __syncthreads();
  m = sh.m;
  if (any_bad || m == -INFINITY) {
    if (threadIdx.x == 0) {
      status[i] = static_cast<std::uint8_t>(any_bad ? sample_status::bad_value : sample_status::all_neg_inf);
      out[i] = token_draw<float>{-1, NAN, NAN};
    }
    return;
  }
  const float nan = NAN;

  if (p.greedy) {
    long long first = std::numeric_limits<long long>::max();
    double s1 = 0.0;
    float s1f = 0.0f;
    for (index_t v = threadIdx.x; v < n; v += Threads) {
      const float x = load_float(row + v);
      if (x == m && v < first) first = v;
      s1f += weight_exp(x - m);
    }
    s1 = static_cast<double>(s1f);
    const long long j = reduce_i(red.i).Reduce(first, [](long long a, long long b) { return a < b ? a : b; });
    __syncthreads();
    const double s = reduce_d(red.d).Sum(s1);
    if (threadIdx.x == 0) {
      status[i] = 0;
      out[i] = token_draw<float>{static_cast<index_t>(j), 0.0f,
                                 p.policy_logprob ? static_cast<float>(-log(s)) : nan};
    }
    return;
  }

  // 2. The policy normaliser S₁ = Σ exp(z − m) (τ = 1 log-probs), when it is needed: at τ ≠ 1
  //    it is its own sum; at τ = 1 it is Σ w, which the draw's segment sums give for free unless
  //    a filter removes tokens from them.
  const bool unit = p.temperature == 1.0;
  const float inv = static_cast<float>(1.0 / p.temperature);
  const bool filtered = p.filters(n);
  const bool own_pass = p.policy_logprob && (!unit || filtered);
  double s1 = 0.0;
  if (own_pass) {
    float acc = 0.0f;
    for (index_t v = threadIdx.x; v < n; v += Threads) acc += weight_exp(load_float(row + v) - m);
    const double total = reduce_d(red.d).Sum(static_cast<double>(acc));
    if (threadIdx.x == 0) sh.total_s1 = total;
    __syncthreads();
    s1 = sh.total_s1;
  }

  // 3. thresholds.
  float t = 0.0f;
  if (filtered) {
    const bool use_k = p.top_k > 0 && p.top_k < n;
    const bool use_p = p.top_p < 1.0;
    float tk = 0.0f, tp = 0.0f;
    if (use_k)
      tk = radix_threshold<Threads>(row, n, m, inv, false, static_cast<std::uint64_t>(p.top_k), 0.0, 0.0f, hist, sh);
    if (use_p) tp = radix_threshold<Threads>(row, n, m, inv, true, 0, p.top_p, tk, hist, sh);
    const float q = static_cast<float>(p.min_p);
    t = tk > tp ? tk : tp;
    t = q > t ? q : t;
  }

  // 4. the draw: per-warp contiguous segments, summed in order.
  const index_t seg = (n + Warps - 1) / Warps;
  const index_t b0 = warp * seg < n ? warp * seg : n;
  const index_t b1 = b0 + seg < n ? b0 + seg : n;
  double wsum = 0.0;
  for (index_t v = b0 + lane; v < b1; v += 32) {
    const float w = weight_exp((load_float(row + v) - m) * inv);
    if (w >= t && w > 0.0f) wsum += static_cast<double>(w);
  }
#pragma unroll
  for (int o = 16; o > 0; o /= 2) wsum += __shfl_xor_sync(0xffffffffu, wsum, o);
  if (lane == 0) sh.seg_sum[warp] = wsum;
  __syncthreads();
  if (threadIdx.x == 0) {
    double sk = 0.0;
    for (int w = 0; w < Warps; ++w) sk += sh.seg_sum[w];
    // rounding may leave u·S_K past the end: then the last non-empty segment (its last token)
    const crossing cw = find_crossing(sh.seg_sum, Warps, streams.uniform(i) * sk, 0.0);
    sh.s_k = sk;
    sh.crossing_warp = cw.index;
    sh.crossing_base = cw.base;
    sh.token = -1;
  }
  __syncthreads();
  if (warp == sh.crossing_warp) {
    const index_t c0 = warp * seg < n ? warp * seg : n;
    const index_t c1 = c0 + seg < n ? c0 + seg : n;
    const long long token = warp_walk(row, c0, c1, m, inv, t, streams.uniform(i) * sh.s_k, sh.crossing_base, lane);
    if (lane == 0) sh.token = token;
  }
  __syncthreads();
  if (threadIdx.x == 0) {
    const index_t j = static_cast<index_t>(sh.token);
    const double d = static_cast<double>(load_float(row + j)) - static_cast<double>(m);
    status[i] = 0;
    const double norm = own_pass ? s1 : sh.s_k; // τ = 1 and no filter: S₁ = S_K
    out[i] = token_draw<float>{j, static_cast<float>(d / p.temperature - log(sh.s_k)),
                               p.policy_logprob ? static_cast<float>(d - log(norm)) : nan};
  }
}


// ---- the split-row path: one thread-block cluster per row (sm_90) ------------------------------

//! Per-block scalars of the split-row kernel. Every field that another block of the cluster
//! reads (through distributed shared memory) is written once per launch, before the cluster
//! barrier that publishes it, and never rewritten — so no barrier is needed to protect it.
struct split_shared_scalars {
  float part_max;             // this block's max over its chunk (read by the cluster)
  int part_bad;               // NaN / +inf seen in this block's chunk (read by the cluster)
  long long part_first;       // greedy: first index of the row max in this chunk (read by the cluster)
  double part_s1;             // this block's Σ exp(z − m), in its chunk (read by the cluster)
  double part_draw;           // this block's Σ_{kept} w over its chunk (read by the cluster)
  float m;                    // the row max (cluster-wide)
  int bad;                    // cluster-wide NaN / +inf flag
  double s1;                  // cluster-wide S₁
  double s_k;                 // cluster-wide S_K
  double crossing_base;       // Σ kept w before the crossing warp's segment
  int crossing_block;         // the block whose chunk holds the crossing
  int crossing_warp;          // its warp whose segment holds the crossing
  long long first;            // greedy: cluster-wide first index of the max
  double seg_sum[32];         // per-warp Σ kept w, this block
  unsigned long long total_mass;
};

//! Radix select of a weight threshold over one row split over a cluster: the same levels, digits
//! and `descend` rule as `radix_threshold`; each block histograms its chunk in its own shared
//! memory, the blocks other than rank 0 add their non-zero bins into rank 0's histogram with
//! integer atomics through distributed shared memory (order-independent: the sums are exact),
//! and every block then runs the same `descend` over rank 0's histogram, so every block fixes
//! the same digits. Two histogram buffers alternate between levels (`parity`), so rank 0 can
//! clear the next one while others may still read the last.
#if defined(_CG_HAS_CLUSTER_GROUP)
template <int Threads, int Blocks, class T>
__device__ float split_radix_threshold(cooperative_groups::cluster_group& cluster, const T* row, index_t lo,
                                       index_t hi, float m, float inv, bool by_mass, std::uint64_t k,
                                       double fraction, float lower, unsigned long long (*hist)[radix_max_bins],
                                       int& parity, sample_shared_scalars& dsh, split_shared_scalars& sh) {
  std::uint32_t prefix = 0;
  unsigned long long above = 0;
  unsigned long long need = k;
  const unsigned rank = cluster.block_rank();
  for (int level = 0; level < 3; ++level) {
    const int bins = radix_bins(level);
    const std::uint32_t pmask = radix_prefix_mask(level);
    unsigned long long* local = hist[parity];
    unsigned long long* root = cluster.map_shared_rank(local, 0);
    parity ^= 1;
    for (int b = static_cast<int>(threadIdx.x); b < bins; b += Threads) local[b] = 0;
    cluster.sync(); // rank 0's buffer is clear before anyone adds into it
    for (index_t v = lo + threadIdx.x; v < hi; v += Threads) {
      const float w = weight_exp((load_float(row + v) - m) * inv);
      if (w < lower) continue;
      const std::uint32_t bits = __float_as_uint(w);
      if ((bits & pmask) != prefix) continue;
      atomicAdd(&local[radix_digit(bits, level)], by_mass ? radix_mass(w) : 1ull);
    }
    __syncthreads();
    if (rank != 0)
      for (int b = static_cast<int>(threadIdx.x); b < bins; b += Threads)
        if (local[b] != 0) atomicAdd(&root[b], local[b]);
    cluster.sync(); // rank 0's histogram is the row's
    if (by_mass && level == 0) {
      unsigned long long part = 0;
      for (int b = static_cast<int>(threadIdx.x); b < bins; b += Threads) part += root[b];
      using reduce_t = cub::BlockReduce<unsigned long long, Threads>;
      __shared__ typename reduce_t::TempStorage red;
      const unsigned long long total = reduce_t(red).Sum(part);
      if (threadIdx.x == 0) sh.total_mass = total;
      __syncthreads();
      need = radix_mass_need(fraction, sh.total_mass);
    }
    const std::uint32_t d = descend<Threads>(root, bins, need, above, dsh);
    prefix |= d << radix_shift(level);
  }
  return __uint_as_float(prefix);
}
#endif

//! The split-row sampler: row i is drawn by the `Blocks` blocks of cluster i, each owning one
//! contiguous chunk of the row. Same passes, same rules and the same Philox uniform as
//! `sample_kernel`; cluster-wide reductions read the other blocks' partial results through
//! distributed shared memory in rank order (maxima, OR and integer sums are exact; the double
//! sums S₁ and S_K are added in rank order, so every block — and every run — gets the same
//! value). The draw: per-warp segment sums inside each chunk, per-block totals, the crossing
//! block found from the block totals and the crossing warp from that block's segment sums,
//! then the same warp walk as `sample_kernel`.
template <class Policy, class T>
__global__ void __launch_bounds__(split_policy_of<Policy>().block_threads, split_policy_of<Policy>().min_blocks_per_sm)
    sample_split_kernel(matrix_view<const T, cuda_space> logits, sampling_params p, basic_stream_batch<cuda_space> streams, token_draw<float>* out,
                        std::uint8_t* status) {
#if !defined(_CG_HAS_CLUSTER_GROUP)
  // Compiled for an architecture without clusters (< sm_90): never launched there (the launcher
  // checks cudaDevAttrClusterLaunch).
  (void)logits, (void)p, (void)streams, (void)out, (void)status;
  __trap();
#else
  constexpr split_sampling_policy sp = split_policy_of<Policy>();
  constexpr int Threads = sp.block_threads;
  constexpr int Blocks = sp.cluster_blocks;
  constexpr int Warps = Threads / 32;
  static_assert(Warps <= 32, "at most 1024 threads");
  namespace cg = cooperative_groups;
  cg::cluster_group cluster = cg::this_cluster();
  using reduce_f = cub::BlockReduce<float, Threads>;
  using reduce_d = cub::BlockReduce<double, Threads>;
  using reduce_i = cub::BlockReduce<long long, Threads>;
  __shared__ union {
    typename reduce_f::TempStorage f;
    typename reduce_d::TempStorage d;
    typename reduce_i::TempStorage i;
  } red;
  __shared__ unsigned long long hist[2][radix_max_bins];
  __shared__ sample_shared_scalars dsh; // `descend`'s scratch
  __shared__ split_shared_scalars sh;

  const int rank = static_cast<int>(cluster.block_rank());
  const index_t i = static_cast<index_t>(blockIdx.x / Blocks);
  const T* row = logits.ptr + i * logits.stride;
  const index_t n = logits.n_cols;
  index_t lo = 0, hi = 0;
  split_chunk(0, n, Blocks, rank, lo, hi);
  const int lane = static_cast<int>(threadIdx.x % 32), warp = static_cast<int>(threadIdx.x / 32);

  // 1. maximum and NaN / +inf detection: per block, then across the cluster.
  {
    float m = -INFINITY;
    int bad = 0;
    for (index_t v = lo + threadIdx.x; v < hi; v += Threads) {
      const float x = load_float(row + v);
      bad |= (x != x) | (x == INFINITY);
      m = x > m ? x : m;
    }
    const float bm = reduce_f(red.f).Reduce(m, [](float a, float b) { return a > b ? a : b; });
    const int any_bad = __syncthreads_or(bad);
    if (threadIdx.x == 0) {
      sh.part_max = bm;
      sh.part_bad = any_bad;
    }
  }
  cluster.sync();
  if (threadIdx.x == 0) {
    float m = -INFINITY;
    int bad = 0;
#pragma unroll
    for (int r = 0; r < Blocks; ++r) {
      const split_shared_scalars* o = cluster.map_shared_rank(&sh, r);
      const float x = o->part_max;
      m = x > m ? x : m;
      bad |= o->part_bad;
    }
    sh.m = m;
    sh.bad = bad;
  }
  __syncthreads();
  const float m = sh.m;
  if (sh.bad || m == -INFINITY) {
    if (rank == 0 && threadIdx.x == 0) {
      status[i] = static_cast<std::uint8_t>(sh.bad ? sample_status::bad_value : sample_status::all_neg_inf);
      out[i] = token_draw<float>{-1, NAN, NAN};
    }
    cluster.sync(); // no block leaves while another may still read its shared memory
    return;
  }
  const float nan = NAN;

  if (p.greedy) {
    long long first = std::numeric_limits<long long>::max();
    float s1f = 0.0f;
    for (index_t v = lo + threadIdx.x; v < hi; v += Threads) {
      const float x = load_float(row + v);
      if (x == m && v < first) first = v;
      s1f += weight_exp(x - m);
    }
    const long long j = reduce_i(red.i).Reduce(first, [](long long a, long long b) { return a < b ? a : b; });
    __syncthreads();
    const double s = reduce_d(red.d).Sum(static_cast<double>(s1f));
    if (threadIdx.x == 0) {
      sh.part_first = j;
      sh.part_s1 = s;
    }
    cluster.sync();
    if (rank == 0 && threadIdx.x == 0) {
      long long jj = std::numeric_limits<long long>::max();
      double ss = 0.0;
      for (int r = 0; r < Blocks; ++r) {
        const split_shared_scalars* o = cluster.map_shared_rank(&sh, r);
        jj = o->part_first < jj ? o->part_first : jj;
        ss += o->part_s1;
      }
      status[i] = 0;
      out[i] = token_draw<float>{static_cast<index_t>(jj), 0.0f, p.policy_logprob ? static_cast<float>(-log(ss)) : nan};
    }
    cluster.sync();
    return;
  }

  // 2. the policy normaliser S₁ (as in `sample_kernel`), summed per block, then in rank order.
  const bool unit = p.temperature == 1.0;
  const float inv = static_cast<float>(1.0 / p.temperature);
  const bool filtered = p.filters(n);
  const bool own_pass = p.policy_logprob && (!unit || filtered);
  double s1 = 0.0;
  if (own_pass) {
    float acc = 0.0f;
    for (index_t v = lo + threadIdx.x; v < hi; v += Threads) acc += weight_exp(load_float(row + v) - m);
    const double part = reduce_d(red.d).Sum(static_cast<double>(acc));
    if (threadIdx.x == 0) sh.part_s1 = part;
    cluster.sync();
    if (threadIdx.x == 0) {
      double total = 0.0;
      for (int r = 0; r < Blocks; ++r) total += cluster.map_shared_rank(&sh, r)->part_s1;
      sh.s1 = total;
    }
    __syncthreads();
    s1 = sh.s1;
  }

  // 3. thresholds.
  float t = 0.0f;
  if (filtered) {
    const bool use_k = p.top_k > 0 && p.top_k < n;
    const bool use_p = p.top_p < 1.0;
    float tk = 0.0f, tp = 0.0f;
    int parity = 0;
    if (use_k)
      tk = split_radix_threshold<Threads, Blocks>(cluster, row, lo, hi, m, inv, false,
                                                  static_cast<std::uint64_t>(p.top_k), 0.0, 0.0f, hist, parity, dsh, sh);
    if (use_p)
      tp = split_radix_threshold<Threads, Blocks>(cluster, row, lo, hi, m, inv, true, 0, p.top_p, tk, hist, parity,
                                                  dsh, sh);
    const float q = static_cast<float>(p.min_p);
    t = tk > tp ? tk : tp;
    t = q > t ? q : t;
  }

  // 4. the draw: per-warp contiguous segments of this block's chunk, summed in order; per-block
  //    totals; the crossing block from the totals in rank order, the crossing warp inside it.
  index_t b0 = 0, b1 = 0;
  split_chunk(lo, hi, Warps, warp, b0, b1);
  double wsum = 0.0;
  for (index_t v = b0 + lane; v < b1; v += 32) {
    const float w = weight_exp((load_float(row + v) - m) * inv);
    if (w >= t && w > 0.0f) wsum += static_cast<double>(w);
  }
#pragma unroll
  for (int o = 16; o > 0; o /= 2) wsum += __shfl_xor_sync(0xffffffffu, wsum, o);
  if (lane == 0) sh.seg_sum[warp] = wsum;
  __syncthreads();
  if (threadIdx.x == 0) {
    double bsum = 0.0;
    for (int w = 0; w < Warps; ++w) bsum += sh.seg_sum[w];
    sh.part_draw = bsum;
  }
  cluster.sync();
  const double u = streams.uniform(i);
  if (threadIdx.x == 0) {
    double part[Blocks];
#pragma unroll
    for (int r = 0; r < Blocks; ++r) part[r] = cluster.map_shared_rank(&sh, r)->part_draw;
    double sk = 0.0;
    for (int r = 0; r < Blocks; ++r) sk += part[r];
    const double target = u * sk;
    const crossing cb = find_crossing(part, Blocks, target, 0.0);
    sh.s_k = sk;
    sh.crossing_block = cb.index;
    if (cb.index == rank) { // the crossing warp inside this chunk, by the same rule
      const crossing cw = find_crossing(sh.seg_sum, Warps, target, cb.base);
      sh.crossing_warp = cw.index;
      sh.crossing_base = cw.base;
    }
  }
  cluster.sync(); // every remote read of this launch is done: blocks may now leave independently
  if (sh.crossing_block != rank) return;
  __shared__ long long token;
  if (threadIdx.x == 0) token = -1;
  __syncthreads();
  if (warp == sh.crossing_warp) {
    const long long pick = warp_walk(row, b0, b1, m, inv, t, u * sh.s_k, sh.crossing_base, lane);
    if (lane == 0) token = pick;
  }
  __syncthreads();
  if (threadIdx.x == 0) {
    const index_t j = static_cast<index_t>(token);
    const double d = static_cast<double>(load_float(row + j)) - static_cast<double>(m);
    status[i] = 0;
    const double norm = own_pass ? s1 : sh.s_k; // τ = 1 and no filter: S₁ = S_K
    out[i] = token_draw<float>{j, static_cast<float>(d / p.temperature - log(sh.s_k)),
                               p.policy_logprob ? static_cast<float>(d - log(norm)) : nan};
  }
#endif
}

//! Whether the current device supports thread-block cluster launch (sm_90+).
inline bool device_has_clusters() {
  int dev = 0, clusters = 0;
  RLVR_CUDA_CHECK(cudaGetDevice(&dev));
  RLVR_CUDA_CHECK(cudaDeviceGetAttribute(&clusters, cudaDevAttrClusterLaunch, dev));
  return clusters != 0;
}

} // namespace detail

//! The kernel `sample<Policy>` launches for `rows` × `cols` logits on the current device with
//! `sample_path::automatic`: `split` when the policy's `split_sampling` is on (cluster_blocks > 1),
//! the device supports clusters, cols ≥ min_cols and rows ≤ max_rows_per_sm × SM count;
//! otherwise `one_block_per_row`.
template <class Policy = policy900> sample_path sample_path_for(index_t rows, index_t cols) {
  constexpr split_sampling_policy sp = split_policy_of<Policy>();
  if constexpr (sp.cluster_blocks > 1) {
    if (!detail::device_has_clusters()) return sample_path::one_block_per_row;
    int dev = 0, sms = 0;
    RLVR_CUDA_CHECK(cudaGetDevice(&dev));
    RLVR_CUDA_CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev));
    if (cols >= sp.min_cols && rows <= static_cast<index_t>(sp.max_rows_per_sm) * sms) return sample_path::split;
  }
  return sample_path::one_block_per_row;
}

//! Samples one token per row of device `logits` (float or `__nv_bfloat16`, N × V, any row
//! stride) into the device array `out` (N draws) and `status` (N bytes: 0 ok, 1 NaN/+inf, 2 all
//! −inf). `params` comes from `rlvr::sampling_config::params()` (validated there); `streams`
//! addresses row i's uniform as on the host — its `subsequences` / `offsets` views, when given,
//! are device memory (`basic_stream_batch<cuda_space>`). `Policy` = `runtime_policy` (the
//! default) takes the preset of `b.policy` or of the current device. Asynchronous on `b.stream`.
template <class Policy = runtime_policy, class T>
void sample(cuda_backend b, matrix_view<const T, cuda_space> logits, const sampling_params& params,
            const basic_stream_batch<cuda_space>& streams, token_draw<float>* out, std::uint8_t* status,
            sample_path path = sample_path::automatic) {
  static_assert(std::is_same_v<T, float> || std::is_same_v<T, __nv_bfloat16>,
                "rlvr::cuda::sample: logits must be float or __nv_bfloat16");
  if constexpr (std::is_same_v<Policy, runtime_policy>) {
    detail::with_policy(b, [&](auto p) { sample<decltype(p)>(b, logits, params, streams, out, status, path); });
    return;
  } else {
  static_assert(TuningPolicy<Policy>);
  RLVR_EXPECTS(logits.cols() > 0 || logits.rows() == 0, shape, "sample: logits have 0 columns");
  RLVR_EXPECTS(logits.cols() < (index_t{1} << 23), range, "sample: vocabulary of ", logits.cols(),
               " exceeds the GPU sampler's 2^23 (fixed-point mass range)");
  RLVR_EXPECTS(params.greedy || params.temperature > 0.0, range, "sample: temperature = ", params.temperature,
               " must be > 0");
  RLVR_EXPECTS(params.top_p > 0.0 && params.top_p <= 1.0, range, "sample: top_p = ", params.top_p,
               " is outside (0, 1]");
  RLVR_EXPECTS(params.top_k >= 0, range, "sample: top_k = ", params.top_k, " is negative");
  if (!streams.subsequences.empty()) expect_size(streams.subsequences, logits.rows(), "sample: streams.subsequences");
  if (!streams.offsets.empty()) expect_size(streams.offsets, logits.rows(), "sample: streams.offsets");
  if (logits.rows() == 0) return;
  constexpr split_sampling_policy sp = split_policy_of<Policy>();
  if constexpr (sp.cluster_blocks > 1) {
    static_assert(sp.cluster_blocks <= 8, "split_sampling_policy: at most 8 blocks per cluster (portable size)");
    static_assert(sp.block_threads % 32 == 0 && sp.block_threads <= 1024 && sp.min_blocks_per_sm >= 1,
                  "split_sampling_policy: block_threads a multiple of 32, at most 1024");
    const bool split = path == sample_path::split
                           ? detail::device_has_clusters()
                           : path == sample_path::automatic &&
                                 sample_path_for<Policy>(logits.rows(), logits.cols()) == sample_path::split;
    if (split) {
      cudaLaunchConfig_t cfg{};
      cfg.gridDim = dim3(static_cast<unsigned>(logits.rows() * sp.cluster_blocks));
      cfg.blockDim = dim3(static_cast<unsigned>(sp.block_threads));
      cfg.dynamicSmemBytes = 0;
      cfg.stream = b.stream;
      cudaLaunchAttribute attr[1];
      attr[0].id = cudaLaunchAttributeClusterDimension;
      attr[0].val.clusterDim.x = static_cast<unsigned>(sp.cluster_blocks);
      attr[0].val.clusterDim.y = 1;
      attr[0].val.clusterDim.z = 1;
      cfg.attrs = attr;
      cfg.numAttrs = 1;
      RLVR_CUDA_CHECK(cudaLaunchKernelEx(&cfg, detail::sample_split_kernel<Policy, T>, logits, params, streams, out,
                                         status));
      return;
    }
  }
  RLVR_EXPECTS(path != sample_path::split, unsupported,
               "sample: sample_path::split needs a policy with split_sampling.cluster_blocks > 1 and a device with "
               "thread-block clusters (sm_90+)");
  detail::expect_device_pointer(logits.data(), "sample: logits");
  detail::sample_kernel<Policy><<<static_cast<unsigned>(logits.rows()), Policy::sampling.block_threads, 0, b.stream>>>(
      logits, params, streams, out, status);
  RLVR_CUDA_CHECK_LAUNCH();
  }
}

//! As `rlvr::sample` with a forced policy and kernel path (tests and benchmarks): launches
//! `sample<Policy>`, waits for the stream, copies the draws to the host and raises the host
//! samplers' `rlvr::numerical_error` for the first bad row. `streams` without per-row arrays
//! (use `rlvr::sample` for per-row subsequences or offsets: it uploads them).
template <class Policy = runtime_policy, class T>
std::vector<token_draw<float>> sample_checked(cuda_backend b, matrix_view<const T, cuda_space> logits,
                                              const sampling_params& p, const stream_batch& streams,
                                              sample_path path = sample_path::automatic) {
  device_buffer<token_draw<float>> out(logits.rows(), b.stream);
  device_buffer<std::uint8_t> status(logits.rows(), b.stream);
  sample<Policy>(b, logits, p, streams.without_arrays_in<cuda_space>(), out.data(), status.data(), path);
  const auto st = status.download();
  for (std::size_t i = 0; i < st.size(); ++i) {
    if (st[i] == static_cast<std::uint8_t>(sample_status::bad_value))
      fail<numerical_error>("sample: row ", i, " holds a NaN or +inf logit");
    if (st[i] == static_cast<std::uint8_t>(sample_status::all_neg_inf))
      fail<numerical_error>("sample: row ", i, " has every logit = -inf (no token has positive probability)");
  }
  return out.download();
}

} // namespace rlvr::cuda

namespace rlvr {

// `SamplingBackend` member of `rlvr::cuda_backend` (declared in rlvr/backends/cuda.hpp): the
// GPU sampler with the policy chosen at run time.
template <class T>
  requires std::is_same_v<T, float>
void cuda_backend::sample_rows(matrix_view<const T, cuda_space> z, const sampling_params& p,
                               const basic_stream_batch<cuda_space>& streams,
                               vector_view<token_draw<T>, cuda_space> out,
                               vector_view<std::uint8_t, cuda_space> status) const {
  cuda::sample(*this, z, p, streams, out.data(), status.data());
}

} // namespace rlvr
