#pragma once
//! \file rlvr/backends/cuda/fused_loss.cuh
//! \brief The fused log π + entropy + loss + dL/dlogits kernel and the forward-only log π /
//! entropy kernel on CUDA (nvcc only). Logits in float32 or bfloat16, accumulation in float32.
//!
//! ## What one launch computes
//! For every row i of the logits x ∈ R^{N×V} (row-major, any row stride ≥ V), with target y_i,
//! inverse temperature 1/τ and z = x/τ:
//!
//!     lse_i   = log Σ_v exp(z_v)                       (online, one read of the row)
//!     log π_i = z_{y_i} − lse_i
//!     H_i     = lse_i − Σ_v p_v z_v,   p = softmax(z)   (no 0·log 0: masked −inf entries add 0)
//!     r_i     = rule(i, log π_i, H_i)                   (the per-token functor: loss ℓ_i and its
//!                                                      partials ∂ℓ/∂log π, ∂ℓ/∂H)
//!     ∂L/∂x_v = w_i/τ · [ ∂ℓ/∂log π · (1[v = y_i] − p_v) − ∂ℓ/∂H · p_v (log p_v + H_i) ]
//!
//! where w_i is the aggregation weight of token i (`∂L/∂ℓ_i`: 1/Σm for token-mean, …). The
//! gradient goes to a caller buffer (float32 or the logits' type) or in place over the logits.
//!
//! ## Traffic
//! Pass 1 reads the row once and keeps the running maximum m, s = Σ e^{z−m} and
//! t = Σ e^{z−m}(z − m) per thread (t relative to the running maximum, so H = log s − t/s has
//! no cancellation even for logits of magnitude 1e4); a block reduction merges them. Pass 2 takes
//! log p_v = (x_v − m) − log s, never x_v − lse: at |x| ~ 1e4 a float lse carries an absolute
//! error of ~1e-3 that this split avoids. Pass 2
//! reads the row again and writes the gradient: two reads and one write of the logits, the
//! compulsory traffic when a row (600 KB at V = 151936) does not fit in shared memory.
//!
//! ## Launch shape
//! One thread block per row, `Policy::fused_loss.block_threads` threads, 16-byte vector loads on
//! the aligned body of each row (scalar head and tail). Tuning lives in the policy types of
//! `rlvr/backends/cuda.hpp`.
//!
//! ## The per-token functor (the `RowEpilogue` contract of `rlvr/backends/concepts.hpp`)
//! `fused_rows` takes the same epilogues as the CPU backends: `e.active(i)` (false: the gradient
//! row is zeroed with one streaming store and the row is not read) and `e(i, row_stats<float>)`
//! returning `row_coeffs<float>{∂L/∂log π, ∂L/∂H}` — with the aggregation weight already folded
//! in. rlvr's objective epilogue (`rlvr::detail::loss_epilogue`, built from the objectives'
//! `constexpr RLVR_HD` terms) runs unchanged inside the kernel (thread 0 of each row's block).
//! A bad row (NaN or +inf logit, or every logit −inf) is reported to the epilogue as
//! `lse = entropy = logp = NaN` and gets a zero gradient row, as in the serial backend.
//!
//! ## Entry points
//! - `rlvr::cuda_backend::fused_rows` / `logp_entropy`: the two operations of `rlvr::Backend`
//!   (float logits), so `rlvr::loss_and_grad` and `rlvr::log_prob_entropy` — the same entry
//!   points as on the host — run on the GPU with `cuda_space` views;
//! - `rlvr::cuda::fused_rows` / `rlvr::cuda::logp_entropy`: the kernel launchers behind them,
//!   also for bfloat16 logits and a float gradient of bfloat16 logits (asynchronous, device
//!   memory only, no staging). `Policy` = `cuda::runtime_policy` (the default) picks the preset
//!   of the current device (`cuda::policy_for`); a policy type forces one.
//!
//! This header includes no entry point (`rlvr/loss.hpp` sits above the backends); the epilogue
//! it runs is whatever the entry point hands it.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>
#include <type_traits>

#include <cub/block/block_reduce.cuh>
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include "rlvr/backends/concepts.hpp"
#include "rlvr/backends/cuda.hpp"
#include "rlvr/backends/cuda/error.cuh"
#include "rlvr/backends/cuda/memory.cuh"
#include "rlvr/backends/cuda/detail/checks.cuh"
#include "rlvr/backends/cuda/detail/launch.cuh"
#include "rlvr/backends/cuda/detail/row_lse.hpp"
#include "rlvr/config.hpp"
#include "rlvr/view.hpp"

namespace rlvr::cuda {

namespace detail {

struct lse_merge_op {
  __device__ lse_part operator()(const lse_part& a, const lse_part& b) const { return merge(a, b); }
};

template <class T> __device__ inline float to_float(T v) {
  if constexpr (std::is_same_v<T, __nv_bfloat16>)
    return __bfloat162float(v);
  else
    return static_cast<float>(v);
}
template <class T> __device__ inline T from_float(float v) {
  if constexpr (std::is_same_v<T, __nv_bfloat16>)
    return __float2bfloat16_rn(v);
  else
    return static_cast<T>(v);
}

//! Calls `vec(const float (&)[K], index_t first)` on the 16-byte aligned body of the row and
//! `one(float, index_t)` on its unaligned head and tail, spreading the work over the block.
template <int Threads, class T, class Vec, class One>
__device__ inline void for_each_in_row(const T* row, index_t n, float scale, Vec&& vec, One&& one) {
  constexpr int K = 16 / sizeof(T);
  const auto addr = reinterpret_cast<std::uintptr_t>(row);
  index_t head = static_cast<index_t>(((16 - addr % 16) % 16) / sizeof(T));
  if (addr % sizeof(T) != 0 || head > n) head = n; // misaligned element type: all scalar
  const index_t body = (n - head) / K;
  for (index_t j = threadIdx.x; j < head; j += Threads) one(to_float(row[j]) * scale, j);
  const uint4* vrow = reinterpret_cast<const uint4*>(row + head);
  auto consume = [&](const uint4& raw, index_t c) {
    float z[K];
    const T* e = reinterpret_cast<const T*>(&raw);
#pragma unroll
    for (int k = 0; k < K; ++k) z[k] = to_float(e[k]) * scale;
    vec(z, head + c * K);
  };
  // Two independent 16-byte loads in flight per thread before either is consumed: with 1024
  // threads per SM that is 32 KB in flight, above the ~14 KB per SM Little's law asks at 3 TB/s.
  index_t c = threadIdx.x;
  for (; c + Threads < body; c += 2 * Threads) {
    const uint4 r0 = __ldg(vrow + c);
    const uint4 r1 = __ldg(vrow + c + Threads);
    consume(r0, c);
    consume(r1, c + Threads);
  }
  if (c < body) consume(__ldg(vrow + c), c);
  for (index_t j = head + body * K + threadIdx.x; j < n; j += Threads) one(to_float(row[j]) * scale, j);
}

//! Reduces the per-thread states of a block and broadcasts the row's summary.
template <int Threads> struct row_stats_reducer {
  using reduce_t = cub::BlockReduce<lse_part, Threads>;
  struct storage {
    typename reduce_t::TempStorage reduce;
    row_summary out;
  };
  __device__ static row_summary run(storage& sm, lse_part st) {
    const lse_part all = reduce_t(sm.reduce).Reduce(st, lse_merge_op{});
    if (threadIdx.x == 0) sm.out = finish(all);
    __syncthreads();
    return sm.out;
  }
};

template <int Threads, class T> __device__ inline lse_part row_state(const T* row, index_t n, float inv_tau) {
  lse_part st{-INFINITY, 0.0f, 0.0f};
  for_each_in_row<Threads>(
      row, n, inv_tau, [&](const auto& z, index_t) { accumulate(st, z); },
      [&](float z, index_t) {
        const float one[1] = {z};
        accumulate(st, one);
      });
  return st;
}

template <class Policy, class T, class G, class E>
__global__ void __launch_bounds__(Policy::fused_loss.block_threads, Policy::fused_loss.min_blocks_per_sm)
    fused_rows_kernel(matrix_view<const T, cuda_space> logits, const token_t* targets, float inv_tau, E ep,
                      matrix_view<G, cuda_space> grad) {
  constexpr int Threads = Policy::fused_loss.block_threads;
  using reducer = row_stats_reducer<Threads>;
  __shared__ typename reducer::storage sm;
  // the epilogue's ∂L/∂log π and ∂L/∂H (two floats: row_coeffs has default member initialisers,
  // which a __shared__ variable may not have; its dkl is always 0 here — cuda_backend does not
  // model RefKLBackend)
  __shared__ float shared_dlogp, shared_dentropy;
  __shared__ int shared_active;
  const index_t i = blockIdx.x;
  const T* row = logits.ptr + i * logits.stride;
  const index_t n = logits.n_cols;
  G* grow = grad.ptr + i * grad.stride;
  if (threadIdx.x == 0) shared_active = ep.active(i) ? 1 : 0;
  __syncthreads();
  if (!shared_active) {
    for (index_t v = threadIdx.x; v < n; v += Threads) grow[v] = from_float<G>(0.0f);
    return;
  }
  const row_summary rs = reducer::run(sm, row_state<Threads>(row, n, inv_tau));
  const index_t y = static_cast<index_t>(targets[i]);
  if (threadIdx.x == 0) {
    const float logp = rs.bad() ? NAN : rs.log_p(to_float(row[y]) * inv_tau);
    const row_coeffs<float> c = ep(i, row_stats<float>{rs.lse, rs.entropy, logp});
    shared_dlogp = c.dlogp;
    shared_dentropy = c.dentropy;
  }
  __syncthreads();
  if (rs.bad()) { // bad row: zero gradient (the epilogue has recorded it)
    for (index_t v = threadIdx.x; v < n; v += Threads) grow[v] = from_float<G>(0.0f);
    return;
  }
  // ∂L/∂x_v = (1/τ)[dlogp·(1[v=y] − p_v) − dentropy·p_v(log p_v + H)]
  const float g_lp = shared_dlogp * inv_tau;
  const float g_h = shared_dentropy * inv_tau;
  auto grad_of = [&](float z, index_t v) {
    float g = grad_value(rs, z, g_lp, g_h);
    if (v == y) g += g_lp;
    return g;
  };
  constexpr int K = 16 / sizeof(T);
  const bool grad_vectorisable = sizeof(G) == sizeof(T) &&
                                 reinterpret_cast<std::uintptr_t>(grow) % 16 ==
                                     reinterpret_cast<std::uintptr_t>(row) % 16;
  if (grad_vectorisable) {
    for_each_in_row<Threads>(
        row, n, inv_tau,
        [&](const auto& z, index_t first) {
          uint4 raw;
          G* e = reinterpret_cast<G*>(&raw);
#pragma unroll
          for (int k = 0; k < K; ++k) e[k] = from_float<G>(grad_of(z[k], first + k));
          *reinterpret_cast<uint4*>(grow + first) = raw;
        },
        [&](float z, index_t v) { grow[v] = from_float<G>(grad_of(z, v)); });
  } else {
    for_each_in_row<Threads>(
        row, n, inv_tau,
        [&](const auto& z, index_t first) {
#pragma unroll
          for (int k = 0; k < K; ++k) grow[first + k] = from_float<G>(grad_of(z[k], first + k));
        },
        [&](float z, index_t v) { grow[v] = from_float<G>(grad_of(z, v)); });
  }
}

template <class Policy, class T>
__global__ void __launch_bounds__(Policy::fused_loss.block_threads, Policy::fused_loss.min_blocks_per_sm)
    logp_entropy_kernel(matrix_view<const T, cuda_space> logits, const token_t* targets, float inv_tau,
                            float* log_pi, float* entropy_out) {
  constexpr int Threads = Policy::fused_loss.block_threads;
  using reducer = row_stats_reducer<Threads>;
  __shared__ typename reducer::storage sm;
  const index_t i = blockIdx.x;
  const T* row = logits.ptr + i * logits.stride;
  const row_summary rs = reducer::run(sm, row_state<Threads>(row, logits.n_cols, inv_tau));
  if (threadIdx.x == 0) {
    if (log_pi && targets) log_pi[i] = rs.bad() ? NAN : rs.log_p(to_float(row[static_cast<index_t>(targets[i])]) * inv_tau);
    if (entropy_out) entropy_out[i] = rs.entropy;
  }
}

} // namespace detail

//! Checks on the device that every target id lies in [0, vocab); throws `rlvr::range_error`
//! naming the first offending index and value. Synchronises `b.stream`.
template <class Target>
void check_targets(cuda_backend b, vector_view<const Target, cuda_space> targets, index_t vocab) {
  detail::expect_ids_in_range(b.stream, targets, vocab, "targets");
}

//! Operation 2 of `rlvr/backends/concepts.hpp` on the device: for every row, the epilogue's
//! coefficients and one gradient row (see the file comment). `logits` (float or
//! `__nv_bfloat16`), `targets` and `grad` (float or the logits' type; may alias `logits` with the
//! same type and row stride) are device memory; the epilogue is copied to the device by value
//! and must only touch device memory. Extents are checked here; target ids are not (see
//! `check_targets`). Asynchronous on `b.stream`.
template <class Policy = runtime_policy, class T, class G, class E>
  requires RowEpilogue<E, float>
void fused_rows(cuda_backend b, matrix_view<const T, cuda_space> logits, vector_view<const token_t, cuda_space> targets,
                float temperature, const E& ep, matrix_view<G, cuda_space> grad) {
  static_assert(std::is_same_v<T, float> || std::is_same_v<T, __nv_bfloat16>,
                "rlvr::cuda::fused_rows: logits must be float or __nv_bfloat16");
  static_assert(std::is_same_v<G, float> || std::is_same_v<G, T>,
                "rlvr::cuda::fused_rows: the gradient is float or the logits' type");
  static_assert(std::is_trivially_copyable_v<E>, "the epilogue is copied to the device: keep it trivially copyable");
  if constexpr (std::is_same_v<Policy, runtime_policy>) {
    detail::with_policy(b, [&](auto p) { fused_rows<decltype(p)>(b, logits, targets, temperature, ep, grad); });
  } else {
    static_assert(TuningPolicy<Policy>);
    RLVR_EXPECTS(targets.size() == logits.rows(), shape, "fused_rows: ", targets.size(), " targets for ",
                 logits.rows(), " rows of logits");
    RLVR_EXPECTS(logits.cols() > 0 || logits.rows() == 0, shape, "fused_rows: logits have 0 columns");
    RLVR_EXPECTS(temperature > 0.0f, range, "fused_rows: temperature = ", temperature, " must be > 0");
    RLVR_EXPECTS(grad.rows() == logits.rows() && grad.cols() == logits.cols(), shape, "fused_rows: gradient is ",
                 grad.rows(), "x", grad.cols(), " but logits are ", logits.rows(), "x", logits.cols());
    if (static_cast<const void*>(grad.ptr) == static_cast<const void*>(logits.ptr))
      RLVR_EXPECTS(sizeof(G) == sizeof(T) && grad.stride == logits.stride, shape,
                   "fused_rows: an in-place gradient needs the logits' element type and row stride");
    if (logits.rows() == 0) return;
    detail::expect_device_pointer(logits.data(), "fused_rows: logits");
    detail::expect_device_pointer(grad.data(), "fused_rows: grad");
    detail::expect_device_pointer(targets.data(), "fused_rows: targets");
    detail::fused_rows_kernel<Policy><<<static_cast<unsigned>(logits.rows()), Policy::fused_loss.block_threads, 0,
                                        b.stream>>>(logits, targets.data(), 1.0f / temperature, ep, grad);
    RLVR_CUDA_CHECK_LAUNCH();
  }
}

//! Operation 1 on the device: log π_i (when `logp` is non-empty) and H_i (when `entropy` is
//! non-empty) per row, one read of the logits; NaN for a bad row. Asynchronous.
template <class Policy = runtime_policy, class T>
void logp_entropy(cuda_backend b, matrix_view<const T, cuda_space> logits, vector_view<const token_t, cuda_space> targets,
                  float temperature, vector_view<float, cuda_space> logp, vector_view<float, cuda_space> entropy) {
  static_assert(std::is_same_v<T, float> || std::is_same_v<T, __nv_bfloat16>,
                "rlvr::cuda::logp_entropy: logits must be float or __nv_bfloat16");
  if constexpr (std::is_same_v<Policy, runtime_policy>) {
    detail::with_policy(b, [&](auto p) { logp_entropy<decltype(p)>(b, logits, targets, temperature, logp, entropy); });
  } else {
    static_assert(TuningPolicy<Policy>);
    RLVR_EXPECTS(logp.empty() || (targets.size() == logits.rows() && logp.size() == logits.rows()), shape,
                 "logp_entropy: ", targets.size(), " targets and ", logp.size(), " outputs for ", logits.rows(),
                 " rows");
    RLVR_EXPECTS(entropy.empty() || entropy.size() == logits.rows(), shape, "logp_entropy: entropy has length ",
                 entropy.size(), " but logits have ", logits.rows(), " rows");
    RLVR_EXPECTS(temperature > 0.0f, range, "logp_entropy: temperature = ", temperature, " must be > 0");
    if (logits.rows() == 0) return;
    detail::expect_device_pointer(logits.data(), "logp_entropy: logits");
    detail::logp_entropy_kernel<Policy><<<static_cast<unsigned>(logits.rows()), Policy::fused_loss.block_threads, 0,
                                          b.stream>>>(logits, logp.empty() ? nullptr : targets.data(),
                                                      1.0f / temperature, logp.empty() ? nullptr : logp.data(),
                                                      entropy.empty() ? nullptr : entropy.data());
    RLVR_CUDA_CHECK_LAUNCH();
  }
}

} // namespace rlvr::cuda

namespace rlvr {

// The loss members of `rlvr::cuda_backend` (declared in rlvr/backends/cuda.hpp): the kernel
// launchers above with the policy chosen at run time.
template <class T>
  requires std::is_same_v<T, float>
void cuda_backend::logp_entropy(matrix_view<const T, cuda_space> z, vector_view<const token_t, cuda_space> y,
                                T temperature, vector_view<T, cuda_space> logp,
                                vector_view<T, cuda_space> entropy) const {
  cuda::logp_entropy(*this, z, y, temperature, logp, entropy);
}

template <class T, class E>
  requires std::is_same_v<T, float> && RowEpilogue<E, T>
void cuda_backend::fused_rows(matrix_view<const T, cuda_space> z, vector_view<const token_t, cuda_space> y,
                              T temperature, const E& ep, matrix_view<T, cuda_space> g) const {
  cuda::fused_rows(*this, z, y, temperature, ep, g);
}

} // namespace rlvr
