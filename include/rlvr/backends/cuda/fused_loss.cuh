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
//! no cancellation even for logits of magnitude 1e4); a block reduction merges them. Pass 2
//! reads the row again and writes the gradient: two reads and one write of the logits, the
//! compulsory traffic when a row (600 KB at V = 151936) does not fit in shared memory.
//!
//! ## Launch shape
//! One thread block per row, `Policy::fused_loss.block_threads` threads, 16-byte vector loads on
//! the aligned body of each row (scalar head and tail). Tuning lives in the policy types of
//! `rlvr/backends/cuda.hpp`.
//!
//! ## The per-token functor
//! `Rule` is any trivially copyable type with
//!
//!     RLVR_HD token_result operator()(index_t row, float log_pi, float entropy) const;
//!
//! returning `loss`, `d_log_pi` (= ∂ℓ/∂log π) and `d_entropy` (= ∂ℓ/∂H); `flags` carries
//! diagnostics bits (clipped low/high) that the kernel stores per row. The same functors run in
//! the CPU backends (`rlvr::detail::token_rule`-style adapters wrap the objectives' `constexpr`
//! terms); `reinforce_rule` below is the simplest example.

#include <cstdint>
#include <limits>
#include <vector>
#include <type_traits>

#include <cub/block/block_reduce.cuh>
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include "rlvr/backends/cuda.hpp"
#include "rlvr/backends/cuda/error.cuh"
#include "rlvr/backends/cuda/memory.cuh"
#include "rlvr/backends/cuda/detail/checks.cuh"
#include "rlvr/config.hpp"
#include "rlvr/view.hpp"

namespace rlvr::cuda {

//! What a per-token rule returns for one token.
struct token_result {
  float loss = 0.0f;      //!< ℓ_t (before aggregation)
  float d_log_pi = 0.0f;  //!< ∂ℓ_t/∂log π_t
  float d_entropy = 0.0f; //!< ∂ℓ_t/∂H_t
  std::uint32_t flags = 0; //!< diagnostics bits (1: clipped low, 2: clipped high, 4: dual clip)
};

//! Set by the kernels in a row's flags when its logits are not usable: a NaN or +inf entry, or
//! every entry −inf (log π and H are then NaN). Checked by `rlvr::cuda::check_rows`.
inline constexpr std::uint32_t flag_nonfinite_row = 1u << 31;

//! ℓ = −A_i·log π − c_H·H_i: REINFORCE with an entropy bonus (A per token, on the device).
struct reinforce_rule {
  const float* advantages = nullptr; //!< A_i, one per row (device memory)
  float entropy_coef = 0.0f;         //!< c_H
  RLVR_HD token_result operator()(index_t i, float log_pi, float entropy) const {
    const float a = advantages[i];
    return {-a * log_pi - entropy_coef * entropy, -a, -entropy_coef, 0u};
  }
};

//! Per-row outputs of the fused kernel (device pointers; any may be null to skip it).
struct fused_outputs {
  float* log_pi = nullptr;          //!< log π_i
  float* entropy = nullptr;         //!< H_i
  float* loss = nullptr;            //!< ℓ_i (unweighted)
  std::uint32_t* flags = nullptr;   //!< the rule's diagnostics bits
};

namespace detail {

//! Running log-sum-exp state of part of a row: m = max, s = Σ e^{z−m}, t = Σ e^{z−m}(z − m).
struct lse_state {
  float m;
  float s;
  float t;
};

__device__ inline lse_state merge(lse_state a, lse_state b) {
  const float big = a.m > b.m ? a.m : b.m;
  if (big == -INFINITY) return {-INFINITY, 0.0f, 0.0f};
  const float da = a.m - big, db = b.m - big; // ≤ 0, −inf for an empty side
  const float ea = a.m == -INFINITY ? 0.0f : __expf(da);
  const float eb = b.m == -INFINITY ? 0.0f : __expf(db);
  const float ta = a.m == -INFINITY ? 0.0f : ea * (a.t + da * a.s);
  const float tb = b.m == -INFINITY ? 0.0f : eb * (b.t + db * b.s);
  return {big, a.s * ea + b.s * eb, ta + tb};
}

struct lse_merge_op {
  __device__ lse_state operator()(const lse_state& a, const lse_state& b) const { return merge(a, b); }
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

//! Adds the chunk `z[0..K)` (already scaled by 1/τ) to a running state: one rescale per chunk.
template <int K> __device__ inline void accumulate(lse_state& st, const float (&z)[K]) {
  float cm = z[0];
#pragma unroll
  for (int k = 1; k < K; ++k) cm = fmaxf(cm, z[k]);
  if (cm == -INFINITY) return; // every entry masked
  if (cm > st.m) {
    if (st.m != -INFINITY) {
      const float d = st.m - cm;
      const float e = __expf(d);
      st.t = e * (st.t + d * st.s);
      st.s *= e;
    }
    st.m = cm;
  }
#pragma unroll
  for (int k = 0; k < K; ++k) {
    const float d = z[k] - st.m;
    const float e = __expf(d);
    st.s += e;
    st.t += z[k] == -INFINITY ? 0.0f : e * d;
  }
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
  for (index_t c = threadIdx.x; c < body; c += Threads) {
    const uint4 raw = __ldg(vrow + c);
    float z[K];
    const T* e = reinterpret_cast<const T*>(&raw);
#pragma unroll
    for (int k = 0; k < K; ++k) z[k] = to_float(e[k]) * scale;
    vec(z, head + c * K);
  }
  for (index_t j = head + body * K + threadIdx.x; j < n; j += Threads) one(to_float(row[j]) * scale, j);
}

//! Reduces the per-thread states of a block and broadcasts (lse, H).
template <int Threads> struct row_stats_reducer {
  using reduce_t = cub::BlockReduce<lse_state, Threads>;
  struct storage {
    typename reduce_t::TempStorage reduce;
    float lse;
    float entropy;
  };
  __device__ static void run(storage& sm, lse_state st, float& lse, float& entropy) {
    const lse_state all = reduce_t(sm.reduce).Reduce(st, lse_merge_op{});
    if (threadIdx.x == 0) {
      sm.lse = all.m + logf(all.s);
      sm.entropy = all.s > 0.0f ? logf(all.s) - all.t / all.s : 0.0f;
    }
    __syncthreads();
    lse = sm.lse;
    entropy = sm.entropy;
  }
};

template <int Threads, class T> __device__ inline lse_state row_state(const T* row, index_t n, float inv_tau) {
  lse_state st{-INFINITY, 0.0f, 0.0f};
  for_each_in_row<Threads>(
      row, n, inv_tau, [&](const auto& z, index_t) { accumulate(st, z); },
      [&](float z, index_t) {
        const float one[1] = {z};
        accumulate(st, one);
      });
  return st;
}

template <class Policy, class T, class G, class Target, class Rule>
__global__ void __launch_bounds__(Policy::fused_loss.block_threads, Policy::fused_loss.min_blocks_per_sm)
    fused_loss_kernel(matrix_view<const T> logits, const Target* targets, float inv_tau, Rule rule,
                      const float* weights, matrix_view<G> grad, fused_outputs out) {
  constexpr int Threads = Policy::fused_loss.block_threads;
  using reducer = row_stats_reducer<Threads>;
  __shared__ typename reducer::storage sm;
  __shared__ token_result shared_result;
  const index_t i = blockIdx.x;
  const T* row = logits.ptr + i * logits.stride;
  const index_t n = logits.n_cols;
  float lse, entropy;
  reducer::run(sm, row_state<Threads>(row, n, inv_tau), lse, entropy);
  const index_t y = static_cast<index_t>(targets[i]);
  if (threadIdx.x == 0) {
    const float log_pi = to_float(row[y]) * inv_tau - lse;
    token_result r = rule(i, log_pi, entropy);
    if (!isfinite(lse)) r.flags |= flag_nonfinite_row;
    shared_result = r;
    if (out.log_pi) out.log_pi[i] = log_pi;
    if (out.entropy) out.entropy[i] = entropy;
    if (out.loss) out.loss[i] = r.loss;
    if (out.flags) out.flags[i] = r.flags;
  }
  __syncthreads();
  if (grad.ptr == nullptr) return;
  const float w = (weights ? weights[i] : 1.0f) * inv_tau;
  const float g_lp = w * shared_result.d_log_pi;
  const float g_h = w * shared_result.d_entropy;
  G* grow = grad.ptr + i * grad.stride;
  // ∂L/∂x_v = −g_lp·p_v − g_h·p_v(log p_v + H) (+ g_lp at v = y)
  auto grad_of = [&](float z, index_t v) {
    const float lp = z - lse;
    const float p = __expf(lp);
    float g = z == -INFINITY ? 0.0f : -p * (g_lp + g_h * (lp + entropy));
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

template <class Policy, class T, class Target>
__global__ void __launch_bounds__(Policy::fused_loss.block_threads, Policy::fused_loss.min_blocks_per_sm)
    log_prob_entropy_kernel(matrix_view<const T> logits, const Target* targets, float inv_tau,
                            float* log_pi, float* entropy_out) {
  constexpr int Threads = Policy::fused_loss.block_threads;
  using reducer = row_stats_reducer<Threads>;
  __shared__ typename reducer::storage sm;
  const index_t i = blockIdx.x;
  const T* row = logits.ptr + i * logits.stride;
  float lse, entropy;
  reducer::run(sm, row_state<Threads>(row, logits.n_cols, inv_tau), lse, entropy);
  if (threadIdx.x == 0) {
    if (log_pi && targets) log_pi[i] = to_float(row[static_cast<index_t>(targets[i])]) * inv_tau - lse;
    if (entropy_out) entropy_out[i] = entropy;
  }
}

} // namespace detail

//! Checks on the device that every target id lies in [0, vocab); throws `rlvr::range_error`
//! naming the first offending index and value. Synchronises `b.stream`.
template <class Target> void check_targets(cuda_backend b, vector_view<const Target> targets, index_t vocab) {
  detail::expect_ids_in_range(b.stream, targets, vocab, "targets");
}

//! Throws `rlvr::numerical_error` naming the first row whose flags (from `fused_loss_grad`) carry
//! `flag_nonfinite_row`: a NaN or +inf logit, or a row that is entirely −inf. Synchronises.
inline void check_rows(cuda_backend b, vector_view<const std::uint32_t> flags) {
  std::vector<std::uint32_t> host(static_cast<std::size_t>(flags.size()));
  if (host.empty()) return;
  RLVR_CUDA_CHECK(cudaMemcpyAsync(host.data(), flags.data(), host.size() * sizeof(std::uint32_t),
                                  cudaMemcpyDeviceToHost, b.stream));
  RLVR_CUDA_CHECK(cudaStreamSynchronize(b.stream));
  for (std::size_t i = 0; i < host.size(); ++i)
    RLVR_EXPECTS((host[i] & flag_nonfinite_row) == 0, numerical, "logits row ", i,
                 " holds a NaN or +inf, or is entirely -inf");
}

//! Fused loss-and-gradient over device logits (float or `__nv_bfloat16`), enqueued on `b.stream`.
//!
//! - `logits`: N × V device matrix (row stride ≥ V); `targets`: N token ids in [0, V) (int32
//!   or int64, device memory; *not* range-checked on the device: check them where they are
//!   produced, or call `rlvr::cuda::check_targets`);
//! - `temperature` > 0; `rule`: the per-token functor (see above); `weights`: N aggregation
//!   weights ∂L/∂ℓ_i (device memory; null = all 1);
//! - `grad`: N × V output (float or the logits' type; may alias `logits` for an in-place
//!   gradient; `grad.ptr == nullptr` computes the forward quantities only);
//! - `out`: per-row outputs (any may be null).
//!
//! Asynchronous. Throws `rlvr::shape_error` / `rlvr::range_error` for bad extents or
//! temperature, `rlvr::device_error` if the launch fails.
template <class Policy = policy900, class T, class G, class Target, class Rule>
void fused_loss_grad(cuda_backend b, matrix_view<const T> logits, vector_view<const Target> targets,
                     float temperature, const Rule& rule, const float* weights, matrix_view<G> grad,
                     fused_outputs out = {}) {
  static_assert(std::is_same_v<T, float> || std::is_same_v<T, __nv_bfloat16>,
                "rlvr::cuda::fused_loss_grad: logits must be float or __nv_bfloat16");
  static_assert(std::is_same_v<G, float> || std::is_same_v<G, T>,
                "rlvr::cuda::fused_loss_grad: the gradient is float or the logits' type");
  static_assert(std::is_integral_v<Target>, "rlvr::cuda::fused_loss_grad: target ids are integers");
  static_assert(std::is_trivially_copyable_v<Rule>, "the per-token rule is copied to the device: keep it trivially copyable");
  static_assert(TuningPolicy<Policy>);
  RLVR_EXPECTS(targets.size() == logits.rows(), shape, "fused_loss_grad: ", targets.size(), " targets for ",
               logits.rows(), " rows of logits");
  RLVR_EXPECTS(logits.cols() > 0 || logits.rows() == 0, shape, "fused_loss_grad: logits have 0 columns");
  RLVR_EXPECTS(temperature > 0.0f, range, "fused_loss_grad: temperature = ", temperature, " must be > 0");
  if (grad.ptr != nullptr)
    RLVR_EXPECTS(grad.rows() == logits.rows() && grad.cols() == logits.cols(), shape,
                 "fused_loss_grad: gradient is ", grad.rows(), "x", grad.cols(), " but logits are ",
                 logits.rows(), "x", logits.cols());
  if (static_cast<const void*>(grad.ptr) == static_cast<const void*>(logits.ptr))
    RLVR_EXPECTS(sizeof(G) == sizeof(T) && grad.stride == logits.stride, shape,
                 "fused_loss_grad: an in-place gradient needs the logits' element type and row stride");
  if (logits.rows() == 0) return;
  detail::fused_loss_kernel<Policy><<<static_cast<unsigned>(logits.rows()), Policy::fused_loss.block_threads, 0,
                                      b.stream>>>(logits, targets.data(), 1.0f / temperature, rule, weights,
                                                  grad, out);
  RLVR_CUDA_CHECK_LAUNCH();
}

//! Forward only: log π_i and H_i per row (one read of the logits). Either output may be null;
//! `targets` may be empty when only the entropy is wanted. Asynchronous.
template <class Policy = policy900, class T, class Target>
void log_prob_entropy(cuda_backend b, matrix_view<const T> logits, vector_view<const Target> targets,
                      float temperature, float* log_pi, float* entropy) {
  static_assert(std::is_same_v<T, float> || std::is_same_v<T, __nv_bfloat16>,
                "rlvr::cuda::log_prob_entropy: logits must be float or __nv_bfloat16");
  RLVR_EXPECTS(log_pi == nullptr || targets.size() == logits.rows(), shape, "log_prob_entropy: ",
               targets.size(), " targets for ", logits.rows(), " rows of logits");
  RLVR_EXPECTS(temperature > 0.0f, range, "log_prob_entropy: temperature = ", temperature, " must be > 0");
  if (logits.rows() == 0) return;
  detail::log_prob_entropy_kernel<Policy><<<static_cast<unsigned>(logits.rows()),
                                            Policy::fused_loss.block_threads, 0, b.stream>>>(
      logits, targets.data(), 1.0f / temperature, log_pi, entropy);
  RLVR_CUDA_CHECK_LAUNCH();
}

} // namespace rlvr::cuda
