#pragma once
//! \file rlvr/backends/cuda/group_stats.cuh
//! \brief Per-group reward statistics on the GPU (the GRPO / Dr. GRPO / RLOO baselines), with
//! arbitrary group ids, deterministic and in double (nvcc only).
//!
//! For rewards r ∈ R^n and group ids g ∈ [0, G)^n, for every group k with members
//! S_k = {i : g_i = k, r_i not NaN}:
//!
//!     count_k = |S_k|,   nan_k = #{i : g_i = k, r_i NaN}
//!     mean_k  = (1/count_k) Σ_{i∈S_k} r_i                            (0 for an empty group)
//!     std_k   = sqrt( Σ_{i∈S_k} (r_i − mean_k)² / (count_k − 1) )    (sample std; 0 when count_k ≤ 1)
//!
//! The variance is computed in two centred passes in double (rlvr-math.md §8: a one-pass float32
//! std of rewards that should be equal comes out ~1e-4 and multiplies advantages by thousands);
//! NaN rewards are counted and left out instead of poisoning their group.
//! `group_zscore_advantages` applies GRPO's rule (`rlvr::group_zscore`: ε, std floor, groups of
//! one) on the device with the host estimator's exact semantics.
//!
//! ## Method
//! `cub::DeviceRadixSort::SortPairs` orders the member indices by group id (stable, so members
//! stay in input order); one warp per group then reduces its members in a fixed order, so the
//! result is bitwise reproducible run to run (no floating-point atomics).

#include <cstdint>

#include <cub/device/device_radix_sort.cuh>
#include <cuda_runtime.h>

#include "rlvr/backends/cuda.hpp"
#include "rlvr/backends/cuda/detail/checks.cuh"
#include "rlvr/backends/cuda/error.cuh"
#include "rlvr/backends/cuda/memory.cuh"
#include "rlvr/objectives/advantages.hpp"
#include "rlvr/view.hpp"

namespace rlvr::cuda {

//! Device outputs of `group_stats`, one element per group (any pointer may be null).
struct group_stats_outputs {
  double* mean = nullptr;
  double* std = nullptr;
  std::int32_t* count = nullptr;     //!< non-NaN members
  std::int32_t* nan_count = nullptr; //!< NaN members (left out of mean and std)
  double* lo = nullptr;              //!< smallest non-NaN member (0 for an empty group)
  double* hi = nullptr;              //!< largest non-NaN member (0 for an empty group)
};

namespace detail {

//! Start of each group's run in the sorted order: offsets[k] = #{i : g_i < k}, k ∈ [0, G].
template <class Unused = void>
__global__ void group_offsets_kernel(const std::int32_t* sorted_ids, index_t n, index_t groups,
                                            std::int32_t* offsets) {
  for (index_t j = blockIdx.x * static_cast<index_t>(blockDim.x) + threadIdx.x; j <= n;
       j += static_cast<index_t>(gridDim.x) * blockDim.x) {
    const index_t prev = j == 0 ? -1 : sorted_ids[j - 1];
    const index_t cur = j == n ? groups : sorted_ids[j];
    for (index_t k = prev + 1; k <= cur; ++k) offsets[k] = static_cast<std::int32_t>(j);
  }
}

template <class R>
__global__ void group_moments_kernel(const R* rewards, const std::int32_t* order, const std::int32_t* offsets,
                                     index_t groups, group_stats_outputs out) {
  const index_t warp = (blockIdx.x * static_cast<index_t>(blockDim.x) + threadIdx.x) / 32;
  const int lane = static_cast<int>(threadIdx.x % 32);
  if (warp >= groups) return;
  const std::int32_t begin = offsets[warp], end = offsets[warp + 1];
  double sum = 0.0, lo = INFINITY, hi = -INFINITY;
  int count = 0, nans = 0;
  for (std::int32_t j = begin + lane; j < end; j += 32) {
    const double r = static_cast<double>(rewards[order[j]]);
    if (r != r) {
      ++nans;
    } else {
      sum += r;
      ++count;
      lo = r < lo ? r : lo;
      hi = r > hi ? r : hi;
    }
  }
#pragma unroll
  for (int o = 16; o > 0; o /= 2) {
    sum += __shfl_xor_sync(0xffffffffu, sum, o);
    count += __shfl_xor_sync(0xffffffffu, count, o);
    nans += __shfl_xor_sync(0xffffffffu, nans, o);
    lo = fmin(lo, __shfl_xor_sync(0xffffffffu, lo, o));
    hi = fmax(hi, __shfl_xor_sync(0xffffffffu, hi, o));
  }
  const double mean = count > 0 ? sum / count : 0.0;
  double ss = 0.0;
  for (std::int32_t j = begin + lane; j < end; j += 32) {
    const double r = static_cast<double>(rewards[order[j]]);
    if (r == r) ss += (r - mean) * (r - mean);
  }
#pragma unroll
  for (int o = 16; o > 0; o /= 2) ss += __shfl_xor_sync(0xffffffffu, ss, o);
  if (lane == 0) {
    if (out.mean) out.mean[warp] = mean;
    if (out.std) out.std[warp] = count > 1 ? sqrt(ss / (count - 1)) : 0.0;
    if (out.count) out.count[warp] = count;
    if (out.nan_count) out.nan_count[warp] = nans;
    if (out.lo) out.lo[warp] = count > 0 ? lo : 0.0;
    if (out.hi) out.hi[warp] = count > 0 ? hi : 0.0;
  }
}

template <class Unused = void>
__global__ void iota_kernel(std::int32_t* x, index_t n) {
  for (index_t j = blockIdx.x * static_cast<index_t>(blockDim.x) + threadIdx.x; j < n;
       j += static_cast<index_t>(gridDim.x) * blockDim.x)
    x[j] = static_cast<std::int32_t>(j);
}

//! GRPO's rule per response (rlvr::group_zscore, rlvr/objectives/advantages.hpp), from the
//! group statistics: NaN reward → dropped; group of one → 0 (or r/(1+ε) with `singleton_policy::raw`);
//! all equal or std ≤ floor·max(1, |mean|) → 0; else (r − mean)/(std + ε).
template <class R>
__global__ void zscore_kernel(const R* rewards, const std::int32_t* ids, index_t n, const double* mean,
                              const double* sd, const std::int32_t* count, const double* lo, const double* hi,
                              double eps, double std_floor, bool singleton_raw, float* adv, std::uint8_t* keep) {
  for (index_t i = blockIdx.x * static_cast<index_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<index_t>(gridDim.x) * blockDim.x) {
    const double r = static_cast<double>(rewards[i]);
    const index_t k = ids[i];
    double a = 0.0;
    std::uint8_t kept = 1;
    if (r != r) {
      kept = 0;
    } else if (count[k] == 1) {
      a = singleton_raw ? r / (1.0 + eps) : 0.0;
    } else if (lo[k] == hi[k] || sd[k] <= std_floor * fmax(1.0, fabs(mean[k]))) {
      a = 0.0;
    } else {
      a = (r - mean[k]) / (sd[k] + eps);
    }
    adv[i] = static_cast<float>(a);
    if (keep) keep[i] = kept;
  }
}

inline unsigned grid_for(index_t n, int threads) {
  const index_t want = (n + threads - 1) / threads;
  return static_cast<unsigned>(want < 4096 ? (want > 0 ? want : 1) : 4096);
}

} // namespace detail

//! Per-group count, mean and sample std of `rewards` (device, float or double) grouped by
//! `group_ids` (device, int32 in [0, num_groups)). Writes `num_groups` values to each non-null
//! output. Checks the ids on the device first (throws `rlvr::range_error` naming the first bad
//! one; this synchronises `b.stream`); the statistics themselves are enqueued asynchronously.
//! Deterministic: the same inputs give bitwise the same outputs.
template <class R>
void group_stats(cuda_backend b, vector_view<const R, cuda_space> rewards,
                 vector_view<const std::int32_t, cuda_space> group_ids,
                 index_t num_groups, group_stats_outputs out) {
  static_assert(std::is_same_v<R, float> || std::is_same_v<R, double>, "rewards are float or double");
  RLVR_EXPECTS(rewards.size() == group_ids.size(), shape, "group_stats: ", rewards.size(), " rewards but ",
               group_ids.size(), " group ids");
  RLVR_EXPECTS(num_groups >= 0, range, "group_stats: num_groups = ", num_groups, " is negative");
  RLVR_EXPECTS(rewards.size() < (index_t{1} << 31), range, "group_stats: ", rewards.size(),
               " rewards exceed the int32 index range");
  detail::expect_ids_in_range(b.stream, group_ids, num_groups, "group_ids");
  if (num_groups == 0) return;
  const index_t n = rewards.size();
  device_buffer<std::int32_t> keys_out(n, b.stream), idx_in(n, b.stream), idx_out(n, b.stream),
      offsets(num_groups + 1, b.stream);
  if (n > 0) {
    detail::iota_kernel<><<<detail::grid_for(n, 256), 256, 0, b.stream>>>(idx_in.data(), n);
    RLVR_CUDA_CHECK_LAUNCH();
    // Only the bits that can be set in an id in [0, num_groups) take part in the sort.
    int end_bit = 1;
    while (end_bit < 31 && (index_t{1} << end_bit) < num_groups) ++end_bit;
    std::size_t temp_bytes = 0;
    RLVR_CUDA_CHECK(cub::DeviceRadixSort::SortPairs(nullptr, temp_bytes, group_ids.data(), keys_out.data(),
                                                    idx_in.data(), idx_out.data(), static_cast<int>(n), 0, end_bit,
                                                    b.stream));
    device_buffer<unsigned char> temp(static_cast<index_t>(temp_bytes), b.stream);
    RLVR_CUDA_CHECK(cub::DeviceRadixSort::SortPairs(temp.data(), temp_bytes, group_ids.data(), keys_out.data(),
                                                    idx_in.data(), idx_out.data(), static_cast<int>(n), 0, end_bit,
                                                    b.stream));
  }
  detail::group_offsets_kernel<><<<detail::grid_for(n + 1, 256), 256, 0, b.stream>>>(keys_out.data(), n, num_groups,
                                                                                 offsets.data());
  RLVR_CUDA_CHECK_LAUNCH();
  const index_t threads = 256;
  const auto blocks = static_cast<unsigned>((num_groups * 32 + threads - 1) / threads);
  detail::group_moments_kernel<<<blocks, static_cast<unsigned>(threads), 0, b.stream>>>(
      rewards.data(), idx_out.data(), offsets.data(), num_groups, out);
  RLVR_CUDA_CHECK_LAUNCH();
}

//! GRPO advantages per response on the device, with exactly the rule and configuration of the
//! host estimator `rlvr::group_zscore` (ε, std floor, singleton policy): `adv` (device, float,
//! one per response; 0 for dropped ones) and `keep` (device, 1 = kept, 0 = NaN reward dropped;
//! may be null). Group ids are dense in [0, num_groups) (checked; synchronises once). Broadcast to
//! tokens and aggregation weights stay with the host entry points.
template <class R>
void group_zscore_advantages(cuda_backend b, vector_view<const R, cuda_space> rewards,
                             vector_view<const std::int32_t, cuda_space> group_ids,
                             index_t num_groups, const group_zscore& config, float* adv, std::uint8_t* keep) {
  config.validate();
  const index_t g = num_groups;
  device_buffer<double> mean(g, b.stream), sd(g, b.stream), lo(g, b.stream), hi(g, b.stream);
  device_buffer<std::int32_t> count(g, b.stream);
  group_stats(b, rewards, group_ids, num_groups,
              group_stats_outputs{mean.data(), sd.data(), count.data(), nullptr, lo.data(), hi.data()});
  const index_t n = rewards.size();
  if (n == 0) return;
  detail::zscore_kernel<<<detail::grid_for(n, 256), 256, 0, b.stream>>>(
      rewards.data(), group_ids.data(), n, mean.data(), sd.data(), count.data(), lo.data(), hi.data(), config.eps,
      config.std_floor, config.singleton == singleton_policy::raw, adv, keep);
  RLVR_CUDA_CHECK_LAUNCH();
}

} // namespace rlvr::cuda
