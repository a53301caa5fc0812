#pragma once
//! \file rlvr/sampling/processors.hpp
//! \brief The per-row sampling math, written once for host loops and CUDA kernels (`RLVR_HD`).
//!
//! A sampler turns one row of logits z ∈ R^V into one token. rlvr fixes the processing order
//! (the order of Hugging Face transformers' warpers):
//!
//! 1. **temperature** τ > 0: w_v = exp((z_v − m)/τ), m = max_v z_v (so the largest weight is
//!    exactly 1 and no exp overflows);
//! 2. **top-k** (k ≥ 1): keep v with w_v ≥ w_(k), the k-th largest weight;
//! 3. **top-p** (0 < p ≤ 1): among the kept tokens, keep v with w_v ≥ t_p, where t_p is the
//!    largest weight value t for which Σ_{kept, w_u ≥ t} w_u ≥ p · Σ_{kept} w_u — the smallest
//!    high-probability set holding at least a fraction p of the (renormalised) mass;
//! 4. **min-p** (0 ≤ q ≤ 1): keep v with p_v ≥ q · max_u p_u, i.e. w_v ≥ q (max w = 1);
//! 5. draw from the kept weights, renormalised.
//!
//! Every filter is a *threshold on the weight*, so the kept set is K = {v : w_v ≥ t} with
//! t = max(t_k, t_p, q) (0 when no filter is on), and its members are chosen by value alone:
//! tied tokens are kept or dropped together (top-k may therefore keep more than k tokens when the
//! k-th weight is tied, as Hugging Face's does), and no result depends on token ids or on the
//! order of the vocabulary. Tokens with w_v = 0 (logit −inf, or more than ~87 (float) / ~708
//! (double) below the maximum after temperature) carry no mass and are never drawn.
//!
//! ## The draw (inverse CDF over the kept set, in token-id order)
//! With one uniform u ∈ [0, 1) and S_K = Σ_{v∈K} w_v, the token is the smallest id j ∈ K with
//! Σ_{v∈K, v≤j} w_v > u · S_K. Both log-probabilities are returned:
//! - processed: log p̃_j = (z_j − m)/τ − log S_K  (the distribution actually sampled);
//! - policy:    log π_j = (z_j − m) − log Σ_v exp(z_v − m)  (the unprocessed policy at τ = 1).
//! Importance ratios against a trainer's log π therefore use the policy value; the processed one
//! is what a sampler-aware correction needs. Greedy decoding returns the first maximal logit,
//! processed log-prob 0 (a point mass) and the policy log-prob as above.
//!
//! Why one uniform and not Gumbel-max: the log-probs need S_K, a full exp pass, anyway; the
//! inverse CDF then costs O(V/B + B) with per-block partial sums (B = 64), while Gumbel-max needs
//! V random numbers and 2V logarithms per draw.
//!
//! The host loops (rlvr/sampling/sampler.hpp, docs/sampling.md) vectorise these steps and find
//! t_k and t_p without a full sort (bounds, compaction, log-uniform slice refinement, or a
//! histogram over `weight_bin` and a sort of one bin); the functions below are their scalar,
//! device-callable statement, for the CUDA backend to reuse.

#include <bit>
#include <cstdint>
#include <limits>

#include "rlvr/config.hpp"

namespace rlvr {

//! Validated parameters of a sampling call, as plain data (trivially copyable; crosses into
//! kernels by value). Build it with `rlvr::sampling_config` (rlvr/sampling/sampler.hpp), which
//! checks every field.
struct sampling_params {
  double temperature = 1.0; //!< τ > 0
  bool greedy = false;      //!< argmax; the filters and τ are then ignored
  index_t top_k = 0;        //!< 0 = off, else ≥ 1
  double top_p = 1.0;       //!< 1 = off, else in (0, 1)
  double min_p = 0.0;       //!< 0 = off, else in (0, 1]
  bool policy_logprob = true; //!< compute log π at τ = 1 (one more exp per logit when τ ≠ 1)

  [[nodiscard]] RLVR_HD constexpr bool filters(index_t vocab) const {
    return (top_k > 0 && top_k < vocab) || top_p < 1.0 || min_p > 0.0;
  }
};

//! One draw: the token id and its log-probabilities under the processed distribution (what was
//! sampled) and under the unprocessed policy at temperature 1 (quiet NaN when
//! `sampling_params::policy_logprob` is false).
template <class T> struct token_draw {
  index_t token = -1;
  T logprob = T(0);
  T policy_logprob = T(0);
};

//! Result of `scan_row`: the maximum, and the first logit that is NaN or +inf (or −1).
template <class T> struct row_scan {
  T max;
  index_t first_bad;
};

//! One pass over a row (element stride `stride`): its maximum and the first NaN/+inf position.
//! A row whose maximum is −inf has no token with positive probability.
template <class T>
[[nodiscard]] RLVR_HD constexpr row_scan<T> scan_row(const T* z, index_t n, index_t stride = 1) {
  T m = -std::numeric_limits<T>::infinity();
  index_t bad = -1;
  for (index_t v = 0; v < n; ++v) {
    const T x = z[v * stride];
    if (x != x || x == std::numeric_limits<T>::infinity()) { // NaN or +inf (−inf is allowed)
      if (bad < 0) bad = v;
      continue;
    }
    m = x > m ? x : m;
  }
  return {m, bad};
}

//! The first index holding the row's maximum (greedy decoding); −1 if every logit is −inf.
template <class T>
[[nodiscard]] RLVR_HD constexpr index_t first_argmax(const T* z, index_t n, index_t stride = 1) {
  T m = -std::numeric_limits<T>::infinity();
  index_t j = -1;
  for (index_t v = 0; v < n; ++v) {
    const T x = z[v * stride];
    if (x > m) {
      m = x;
      j = v;
    }
  }
  return j;
}

//! A monotone (non-decreasing) 11-bit bin of a weight w ∈ [0, 1]: the top bits of the IEEE
//! pattern of float(w) (sign, exponent and 4 mantissa bits), so one bin spans a factor 2^(1/16).
//! Used by the threshold searches: bins are ordered like the weights they hold.
template <class T> [[nodiscard]] RLVR_HD constexpr std::uint32_t weight_bin(T w) {
  return std::bit_cast<std::uint32_t>(static_cast<float>(w)) >> 19;
}
//! Number of distinct `weight_bin` values for weights in [0, 1] (bins 0 … 2032).
inline constexpr std::uint32_t weight_bins = 2048;

//! The inverse-CDF draw over the kept set {v : w_v ≥ t, w_v > 0}: the smallest j with
//! Σ_{kept, v≤j} w_v > target, where target = u·S_K. Accumulates in double. If rounding leaves
//! the running sum ≤ target at the end, the last kept token is returned; −1 if nothing is kept.
template <class T>
[[nodiscard]] RLVR_HD constexpr index_t inverse_cdf_pick(const T* w, index_t n, T t, double target,
                                                         index_t stride = 1) {
  double c = 0.0;
  index_t last = -1;
  for (index_t v = 0; v < n; ++v) {
    const T x = w[v * stride];
    if (x >= t && x > T(0)) {
      c += static_cast<double>(x);
      last = v;
      if (c > target) return v;
    }
  }
  return last;
}

} // namespace rlvr
