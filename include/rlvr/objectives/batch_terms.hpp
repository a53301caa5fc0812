#pragma once
//! \file rlvr/objectives/batch_terms.hpp
//! \brief Surrogates that need the whole sequence or batch (GSPO, GMPO, Clip-Cov, KL-Cov) and
//! token gates (rollout–trainer mismatch correction, high-entropy token selection).
//!
//! The fused pass evaluates one token at a time. A part that needs more than one token does its
//! batch-wide work on the host *before* the pass, from a `batch_context` (current log π and H_t
//! from a forward-only pre-pass, old / rollout log-probs, advantages, aggregation weights, the
//! token → response map), and leaves one number per token; the per-token functor (`RLVR_HD`,
//! so every backend runs it unchanged) then reads it:
//!
//! - a `BatchSurrogate`'s `prepare` fills `token_input::stat` (GSPO: the response's mean
//!   log-ratio; Clip-Cov / KL-Cov: 1 on the selected tokens);
//! - every `TokenGate`'s `apply` multiplies `token_input::gate` (initially 1), a detached factor
//!   on the surrogate's loss and gradient (not on the regularisers).
//!
//! The statistics are computed over the tokens given to one `loss_and_grad` call whose weight
//! w_t ≠ 0. Sequence statistics need every token of a response in the same call (split
//! micro-batches at response boundaries, as for `seq_mean_token_mean`); batch statistics
//! (covariance selection, entropy quantile) are per call, as in verl (per micro-batch).
//!
//! | part                     | kind        | per token                                                      |
//! |--------------------------|-------------|----------------------------------------------------------------|
//! | `gspo`                   | surrogate   | PPO clip of s_i = exp(mean_{t∈i} log ρ_t), gradient ∂s_i/∂log π_t = s_i (token form) |
//! | `gmpo`                   | surrogate   | −A·exp(mean_{t∈i} sgn(A)·min(sgn(A)·log ρ_t, sgn(A)·clip(log ρ_t, −ε_low, ε_high))) |
//! | `clip_cov`               | surrogate   | PPO clip; a random ⌊r·N⌋ tokens with lb < Cov_t < ub get ℓ = 0  |
//! | `kl_cov`                 | surrogate   | −Aρ, plus c·|log ρ| on the top ⌊r·N⌋ tokens by Cov_t            |
//! | `tis`                    | gate        | min(w, C), w = π_old/π_rollout per token or per sequence (product) |
//! | `rollout_mask`           | gate        | 1 if w (token) or the geometric mean of w (sequence) is in [lo, hi], else 0 |
//! | `sequence_divergence_mask` | gate      | 0 on responses whose mean k3(π_rollout ‖ π_old) exceeds a threshold |
//! | `entropy_top`            | gate        | 1 if H_t ≥ the (1 − ρ) quantile of H over the batch, else 0     |
//!
//! with Cov_t = (A_t − mean A)·(log π_t − mean log π) over the batch's active tokens.
//!
//! **Costs.** An objective with any of these parts costs one extra forward-only read of the
//! logits (the pre-pass) and O(N) host work per call (O(N log N) where a part sorts: KL-Cov's
//! top-k, the entropy quantile). Objectives without them are unchanged.
//!
//! **Determinism.** Every statistic is accumulated in double, in token order, after the
//! parallel pre-pass; the one random choice (Clip-Cov) draws from a Philox stream keyed by the
//! part's own `seed` and `stream`. Results do not depend on the thread count or the backend
//! beyond the backends' agreement on log π and H (the conformance suite's `zoo_objectives`).
//!
//! **Composition.**
//!
//!     // GSPO with a sequence-level TIS correction for a vLLM-style rollout engine
//!     auto obj = rlvr::make_objective(rlvr::group_zscore{}, rlvr::gspo{}, rlvr::seq_mean_token_mean{},
//!                                     rlvr::tis{.cap = 2, .level = rlvr::correction_level::sequence});
//!     // IcePop: the mismatch weight inside the band [0.5, 5], 0 outside
//!     auto ice = rlvr::make_objective(rlvr::group_zscore{}, rlvr::ppo_clip{}, rlvr::token_mean{},
//!                                     rlvr::tis{.cap = 5}, rlvr::rollout_mask{.lower = 0.5, .upper = 5});
//!
//! Gates multiply, so their order does not matter; at most one surrogate per objective.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <vector>

#include "rlvr/config.hpp"
#include "rlvr/detail/objectives_math.hpp"
#include "rlvr/error.hpp"
#include "rlvr/objectives/concepts.hpp"
#include "rlvr/objectives/terms.hpp"
#include "rlvr/random/philox.hpp"
#include "rlvr/view.hpp"

namespace rlvr {

//! Where a rollout correction is computed: per token, or once per response.
//! Token-level corrections have lower variance and are biased for sequence-level rewards;
//! sequence-level ones are unbiased and of higher variance (Yao et al.; verl's rollout
//! correction docs discuss the trade-off).
enum class correction_level : std::uint8_t {
  token,    //!< w_t = π_old,t / π_rollout,t
  sequence, //!< w_i = Π_{t∈i} w_t (TIS) or its geometric mean (masks)
};

namespace detail {

//! Per-response mean over the active tokens of f(t), scattered back to each active token
//! (inactive tokens get 0). Accumulated in double, in token order.
//! `f` is called once per active token with its index t; a response with no active token in
//! this call contributes nothing (its tokens are all inactive, so no division by zero).
template <class T, class F> void sequence_mean(const batch_context<T>& ctx, vector_view<T> out, F&& f) {
  const index_t n = ctx.weight.size();
  std::vector<double> sum(static_cast<std::size_t>(ctx.num_sequences), 0.0), cnt(sum.size(), 0.0);
  for (index_t t = 0; t < n; ++t)
    if (ctx.active(t)) {
      const auto i = static_cast<std::size_t>(ctx.seq[t]);
      sum[i] += f(t);
      cnt[i] += 1;
    }
  for (index_t t = 0; t < n; ++t) {
    const auto i = static_cast<std::size_t>(ctx.seq[t]);
    out[t] = ctx.active(t) ? static_cast<T>(sum[i] / cnt[i]) : T(0);
  }
}

//! Cov_t = (A_t − mean A)(log π_t − mean log π) over the active tokens (0 elsewhere); returns
//! the number of active tokens.
//! Both means are over the active tokens of this call (verl's `masked_mean`); the product is
//! the per-token contribution to the covariance Cov(A, log π) whose sign drives the policy's
//! entropy change (Cui et al.: entropy falls when high-advantage tokens are already likely).
template <class T> index_t token_covariance(const batch_context<T>& ctx, std::vector<double>& cov) {
  const index_t n = ctx.weight.size();
  double na = 0, ma = 0, ml = 0;
  for (index_t t = 0; t < n; ++t)
    if (ctx.active(t)) {
      na += 1;
      ma += static_cast<double>(ctx.adv[t]);
      ml += static_cast<double>(ctx.logp[t]);
    }
  cov.assign(static_cast<std::size_t>(n), 0.0);
  if (na == 0) return 0;
  ma /= na;
  ml /= na;
  for (index_t t = 0; t < n; ++t)
    if (ctx.active(t))
      cov[static_cast<std::size_t>(t)] = (static_cast<double>(ctx.adv[t]) - ma) * (static_cast<double>(ctx.logp[t]) - ml);
  return static_cast<index_t>(na);
}

//! How many tokens the covariance selections take: max(⌊r·n⌋, 1), at most `available`.
//! verl's rule (`max(int(ratio·N), 1)`): at least one token is always selected, so the
//! mechanism acts on small batches too; `available` caps it at the number of candidates.
inline index_t selection_count(double ratio, index_t n, index_t available) {
  return std::min<index_t>(std::max<index_t>(static_cast<index_t>(ratio * static_cast<double>(n)), 1), available);
}

//! log w_t = log π_old,t − log π_rollout,t, the log of the rollout-mismatch ratio of token t.
//! Positive where the trainer finds the token more likely than the engine that sampled it.
template <class T> double log_mismatch(const batch_context<T>& ctx, index_t t) {
  return static_cast<double>(ctx.old_logp[t]) - static_cast<double>(ctx.rollout_logp[t]);
}

//! Sum over each response's active tokens of f(t), one entry per response (index = response id).
//! Used for the sequence-level TIS weight, a product of token ratios: log Π w = Σ log w.
template <class T, class F> std::vector<double> sequence_sum(const batch_context<T>& ctx, F&& f) {
  const index_t n = ctx.weight.size();
  std::vector<double> sum(static_cast<std::size_t>(ctx.num_sequences), 0.0);
  for (index_t t = 0; t < n; ++t)
    if (ctx.active(t)) sum[static_cast<std::size_t>(ctx.seq[t])] += f(t);
  return sum;
}

} // namespace detail

// ---- sequence-level surrogates ------------------------------------------------------------------

//! GSPO (Group Sequence Policy Optimization, Qwen, arXiv:2507.18071). The importance ratio of
//! response i is length-normalised, s_i = (π(y_i)/π_old(y_i))^{1/|y_i|} = exp(mean_{t∈i} log ρ_t),
//! and clipped like PPO's: ℓ_i = max(−A_i·s_i, −A_i·clip(s_i, 1 − ε_low, 1 + ε_high)). rlvr
//! evaluates it in the GSPO-token form (the paper's eq. 13, verl's implementation):
//! per token, ℓ_t has the value ℓ_i and ∂ℓ_t/∂log π_t = −A·s_i (0 on the clipped branch); under
//! `seq_mean_token_mean` (which `make_objective` enforces) Σ_t w_t·∂ℓ_t = −A_i·s_i/(B·|y_i|) is
//! exactly GSPO's sequence gradient. The paper's clip range is tiny: ε_low = 3e-4,
//! ε_high = 4e-4 (the defaults). log s_i is clamped above at `log_ratio_clamp` (verl: 10).
//! Peers: verl `policy_loss="gspo"`; TRL `importance_sampling_level="sequence"`.
//!
//! Worked example: a response of two tokens with log ρ = 0.1 and −0.3 has log s = −0.1,
//! s = 0.9048; with A = +1 and ε_low = 0.05 the clipped branch 0.95 is taken (ℓ = −0.95, no
//! gradient); with A = −1 the unclipped branch (ℓ = 0.9048, ∂ℓ/∂log π_t = 0.9048 per token).
//! On-policy (old = current) s = 1 for every response and GSPO is sequence-level REINFORCE with
//! gradient −A_i/(B·|y_i|) per token (test "GSPO on-policy …").
//! Reads: log π (pre-pass and per token), log π_old, A. Writes: stat = log s_i.
//! Validation: `validate()` throws `rlvr::config_error` naming the offending member.
struct gspo {
  double eps_low = 3e-4;         //!< s is clipped below at 1 − ε_low, in [0, 1)
  double eps_high = 4e-4;        //!< s is clipped above at 1 + ε_high, ≥ 0
  double log_ratio_clamp = 10.0; //!< log s clamped above (the gradient stops there)
  static constexpr bool uses_old_logp = true;
  static constexpr bool uses_ref_logp = false;
  static constexpr bool uses_advantage = true;
  static constexpr bool sequence_level = true; //!< the ratio is per response (aggregation rule)

  //! stat_t = mean over response(t)'s active tokens of log π − log π_old.
  //! This is log s_i, taken over the tokens of this call: a response split across calls would
  //! get a per-part ratio (the trainer's mini-batches hold whole responses).
  template <class T> void prepare(const batch_context<T>& ctx, vector_view<T> stat) const {
    detail::sequence_mean(ctx, stat, [&](index_t t) {
      return static_cast<double>(ctx.logp[t]) - static_cast<double>(ctx.old_logp[t]);
    });
  }
  //! The per-token value ℓ_i and the token-form derivative: PPO's clip applied to the sequence
  //! ratio s = exp(stat). Flags: `clipped_low` / `clipped_high` when the clipped branch is taken.
  template <class T> RLVR_HD constexpr token_terms<T> operator()(const token_input<T>& in) const {
    const T raw = in.stat;
    const T d = detail::cmin(raw, static_cast<T>(log_ratio_clamp));
    const T s = detail::cexp(d);
    const T lo = T(1) - static_cast<T>(eps_low), hi = T(1) + static_cast<T>(eps_high);
    const T l1 = -in.adv * s, l2 = -in.adv * detail::clamp(s, lo, hi);
    if (l2 > l1) return {l2, T(0), T(0), static_cast<std::uint8_t>(s < lo ? clipped_low : clipped_high)};
    return {l1, raw == d ? -in.adv * s : T(0), T(0), 0};
  }
  void validate() const {
    RLVR_EXPECTS(eps_low >= 0.0 && eps_low < 1.0, config, "gspo: eps_low = ", eps_low, " is outside [0, 1)");
    RLVR_EXPECTS(eps_high >= 0.0 && std::isfinite(eps_high), config, "gspo: eps_high = ", eps_high,
                 " must be finite and >= 0");
    RLVR_EXPECTS(log_ratio_clamp > 0.0, config, "gspo: log_ratio_clamp = ", log_ratio_clamp, " must be > 0");
  }
};
static_assert(BatchSurrogate<gspo>);

//! GMPO (Geometric-Mean Policy Optimization, arXiv:2507.20673): the geometric mean of the
//! token ratios, each clipped in log space on the side the advantage favours:
//!   c_t = sgn(A)·min(sgn(A)·log ρ_t, sgn(A)·clip(log ρ_t, −ε_low, ε_high)),
//!   r_i = exp(mean_{t∈i} c_t),   ℓ_i = −A_i·r_i,
//! ∂ℓ_i/∂log π_t = −A_i·r_i/|y_i| on tokens where c_t = log ρ_t, 0 where the clip is active.
//! As GSPO, evaluated per token (value ℓ_i, ∂ℓ_t/∂log π_t = −A·r_i or 0) under
//! `seq_mean_token_mean`. Defaults: ε_low = ε_high = 0.4 (the paper's (e^−0.4, e^0.4)).
//! log ρ is clamped to ±20 first. Peers: verl `policy_loss="geo_mean"` (which reads the clip
//! range from clip_ratio_low/high as log-space bounds, like here).
//!
//! Compared with GSPO: GSPO clips the sequence ratio as a whole (one outlier token can push s
//! out of range and silence the whole response); GMPO clips each token's log-ratio before the
//! mean, so only the outlier tokens lose their gradient. Both are geometric means of token
//! ratios, both are aggregated per sequence.
//! Reads: log π (pre-pass and per token), log π_old, A. Writes: stat = log r_i.
//! Validation: `validate()` throws `rlvr::config_error` naming the offending member.
struct gmpo {
  double eps_low = 0.4;  //!< log ρ clipped below at −ε_low, > 0
  double eps_high = 0.4; //!< log ρ clipped above at ε_high, > 0
  static constexpr bool uses_old_logp = true;
  static constexpr bool uses_ref_logp = false;
  static constexpr bool uses_advantage = true;
  static constexpr bool sequence_level = true;

  //! The clipped log-ratio c_t and whether the gradient flows through it.
  //! For A > 0 the upper bound ε_high binds (c_t = min(log ρ, ε_high)); for A < 0 the lower bound
  //! (c_t = max(log ρ, −ε_low)); for A = 0 the token contributes 0 and no gradient. `flows` is
  //! false where the bound is taken or log ρ hit the ±20 clamp.
  template <class T> RLVR_HD constexpr T clipped_log_ratio(T logp, T old_logp, T adv, bool& flows) const {
    const T raw = logp - old_logp;
    const T lr = detail::clamp(raw, T(-20), T(20));
    const T c = detail::clamp(lr, -static_cast<T>(eps_low), static_cast<T>(eps_high));
    const T sgn = adv > T(0) ? T(1) : (adv < T(0) ? T(-1) : T(0));
    flows = raw == lr && sgn * lr <= sgn * c && sgn != T(0);
    return sgn * detail::cmin(sgn * lr, sgn * c);
  }
  //! stat_t = mean over response(t)'s active tokens of c_t (log of the geometric-mean ratio).
  template <class T> void prepare(const batch_context<T>& ctx, vector_view<T> stat) const {
    detail::sequence_mean(ctx, stat, [&](index_t t) {
      bool flows = false;
      return static_cast<double>(clipped_log_ratio<double>(static_cast<double>(ctx.logp[t]),
                                                           static_cast<double>(ctx.old_logp[t]),
                                                           static_cast<double>(ctx.adv[t]), flows));
    });
  }
  //! Value −A·r_i with r_i = exp(stat); gradient −A·r_i on tokens whose c_t is unclipped, else 0
  //! (flagged `clipped_high` for A > 0, `clipped_low` for A < 0).
  template <class T> RLVR_HD constexpr token_terms<T> operator()(const token_input<T>& in) const {
    bool flows = false;
    (void)clipped_log_ratio(in.logp, in.old_logp, in.adv, flows);
    const T r = detail::cexp(detail::clamp(in.stat, T(-20), T(20)));
    const std::uint8_t f = (flows || in.adv == T(0)) ? 0 : (in.adv > T(0) ? clipped_high : clipped_low);
    return {-in.adv * r, flows ? -in.adv * r : T(0), T(0), f};
  }
  void validate() const {
    RLVR_EXPECTS(eps_low > 0.0 && std::isfinite(eps_low), config, "gmpo: eps_low = ", eps_low, " must be finite and > 0");
    RLVR_EXPECTS(eps_high > 0.0 && std::isfinite(eps_high), config, "gmpo: eps_high = ", eps_high,
                 " must be finite and > 0");
  }
};
static_assert(BatchSurrogate<gmpo>);

// ---- entropy-mechanism surrogates (Cui et al. 2025, arXiv:2505.22617) ------------------------------

//! Clip-Cov: PPO's clip, and a random ⌊r·N⌋ (at least 1) of the active tokens whose covariance
//! Cov_t lies in (lb, ub) and whose PPO branch is not already clipped get their loss and
//! gradient set to 0 (verl `policy_loss="clip_cov"`: clip_cov_ratio 2e-4, lb 1, ub 5). The
//! selection draws from rlvr's Philox stream (`seed`, subsequence `stream`): change `seed` per
//! step for fresh draws; results do not depend on the thread count.
//!
//! Why: a token whose advantage and log-probability are both above their batch means (large
//! positive Cov_t) is where the policy's entropy collapses; detaching a tiny random fraction of
//! them (2 in 10 000) keeps entropy from falling without changing the rest of the update.
//! With the defaults and a batch under 5000 active tokens, exactly one token is detached.
//! Reads: log π (pre-pass), log π_old, A. Writes: stat = 1 on the detached tokens.
//! Validation: `validate()` throws `rlvr::config_error` naming the offending member.
struct clip_cov {
  ppo_clip clip{};             //!< the underlying PPO clip (verl uses no dual clip here)
  double select_ratio = 2e-4;  //!< r: fraction of the active tokens to detach, in (0, 1]
  double cov_lb = 1.0;         //!< candidates have lb < Cov_t < ub
  double cov_ub = 5.0;
  std::uint64_t seed = 0;      //!< Philox key of the random selection
  std::uint64_t stream = 0;    //!< Philox subsequence
  static constexpr bool uses_old_logp = true;
  static constexpr bool uses_ref_logp = false;
  static constexpr bool uses_advantage = true;

  //! stat_t = 1 on the tokens selected for detaching.
  //! Candidates: active, PPO branch unclipped at the current log π, lb < Cov_t < ub. The draw is
  //! a partial Fisher–Yates shuffle of the candidates in token order with Philox(seed, stream):
  //! the same batch and seed select the same tokens on every backend and thread count.
  template <class T> void prepare(const batch_context<T>& ctx, vector_view<T> stat) const {
    std::vector<double> cov;
    const index_t na = detail::token_covariance(ctx, cov);
    std::vector<index_t> cand;
    for (index_t t = 0; t < stat.size(); ++t) {
      stat[t] = T(0);
      if (!ctx.active(t)) continue;
      const double c = cov[static_cast<std::size_t>(t)];
      const token_input<T> in{ctx.logp[t], ctx.old_logp[t], T(0), ctx.adv[t], T(0)};
      const bool clipped = (clip(in).flags & (clipped_low | clipped_high)) != 0;
      if (!clipped && c > cov_lb && c < cov_ub) cand.push_back(t);
    }
    const index_t k = detail::selection_count(select_ratio, na, static_cast<index_t>(cand.size()));
    philox_engine eng(seed, stream);
    for (index_t j = 0; j < k; ++j) { // partial Fisher–Yates
      const auto left = static_cast<std::uint32_t>(static_cast<index_t>(cand.size()) - j);
      const auto pick = j + static_cast<index_t>(eng.uniform_index(left));
      std::swap(cand[static_cast<std::size_t>(j)], cand[static_cast<std::size_t>(pick)]);
      stat[cand[static_cast<std::size_t>(j)]] = T(1);
    }
  }
  //! PPO's clip; on a selected token (stat ≠ 0) loss and gradient are 0 but the clip flags are
  //! kept, so the clip fractions still describe the whole batch.
  template <class T> RLVR_HD constexpr token_terms<T> operator()(const token_input<T>& in) const {
    token_terms<T> r = clip(in);
    if (in.stat != T(0)) return {T(0), T(0), T(0), r.flags};
    return r;
  }
  void validate() const {
    clip.validate();
    RLVR_EXPECTS(select_ratio > 0.0 && select_ratio <= 1.0, config, "clip_cov: select_ratio = ", select_ratio,
                 " is outside (0, 1]");
    RLVR_EXPECTS(cov_lb < cov_ub, config, "clip_cov: cov_lb = ", cov_lb, " must be < cov_ub = ", cov_ub);
  }
};
static_assert(BatchSurrogate<clip_cov>);

//! KL-Cov: the unclipped surrogate −A·ρ, plus a penalty coef·|log ρ| on the ⌊r·N⌋ (at least 1)
//! active tokens with the largest Cov_t (ties: the earlier token) — verl `policy_loss="kl_cov"`
//! (kl_cov_ratio 2e-4, ppo_kl_coef 1). ∂|log ρ|/∂log π = sign(log ρ) (0 at 0). log ρ is clamped
//! to ±`log_ratio_clamp` before exp (the gradient stops there).
//!
//! Why: instead of cutting the gradient of the high-covariance tokens (Clip-Cov), KL-Cov pulls
//! them back toward π_old with a KL-like |log ρ| penalty; the selection is deterministic (top-k).
//! Reads: log π (pre-pass), log π_old, A. Writes: stat = 1 on the penalised tokens.
//! Validation: `validate()` throws `rlvr::config_error` naming the offending member.
struct kl_cov {
  double select_ratio = 2e-4; //!< r, in (0, 1]
  double coef = 1.0;          //!< penalty coefficient, ≥ 0
  double log_ratio_clamp = 20.0;
  static constexpr bool uses_old_logp = true;
  static constexpr bool uses_ref_logp = false;
  static constexpr bool uses_advantage = true;

  //! stat_t = 1 on the k = max(⌊r·N⌋, 1) active tokens with the largest Cov_t (a stable sort:
  //! among equal covariances the earlier token wins), 0 elsewhere. N counts active tokens only.
  template <class T> void prepare(const batch_context<T>& ctx, vector_view<T> stat) const {
    std::vector<double> cov;
    const index_t na = detail::token_covariance(ctx, cov);
    std::vector<index_t> act;
    for (index_t t = 0; t < stat.size(); ++t) {
      stat[t] = T(0);
      if (ctx.active(t)) act.push_back(t);
    }
    const index_t k = detail::selection_count(select_ratio, na, static_cast<index_t>(act.size()));
    std::stable_sort(act.begin(), act.end(), [&](index_t a, index_t b) {
      return cov[static_cast<std::size_t>(a)] > cov[static_cast<std::size_t>(b)];
    });
    for (index_t j = 0; j < k; ++j) stat[act[static_cast<std::size_t>(j)]] = T(1);
  }
  //! ℓ = −A·ρ (no clip: KL-Cov replaces the clip by the penalty), plus coef·|log ρ| when the
  //! token is selected; ∂ℓ/∂log π = −A·ρ + coef·sign(log ρ). On-policy (ρ = 1) the penalty and
  //! its gradient are 0: KL-Cov only acts once the policy has moved from π_old.
  template <class T> RLVR_HD constexpr token_terms<T> operator()(const token_input<T>& in) const {
    const T lim = static_cast<T>(log_ratio_clamp);
    const T raw = in.logp - in.old_logp;
    const T d = detail::clamp(raw, -lim, lim);
    const T rho = detail::cexp(d);
    token_terms<T> r{-in.adv * rho, raw == d ? -in.adv * rho : T(0), T(0), 0};
    if (in.stat != T(0)) {
      const T c = static_cast<T>(coef);
      r.loss += c * (raw < T(0) ? -raw : raw);
      r.dlogp += raw > T(0) ? c : (raw < T(0) ? -c : T(0));
    }
    return r;
  }
  void validate() const {
    RLVR_EXPECTS(select_ratio > 0.0 && select_ratio <= 1.0, config, "kl_cov: select_ratio = ", select_ratio,
                 " is outside (0, 1]");
    RLVR_EXPECTS(coef >= 0.0 && std::isfinite(coef), config, "kl_cov: coef = ", coef, " must be finite and >= 0");
    RLVR_EXPECTS(log_ratio_clamp > 0.0, config, "kl_cov: log_ratio_clamp = ", log_ratio_clamp, " must be > 0");
  }
};
static_assert(BatchSurrogate<kl_cov>);

// ---- token gates ------------------------------------------------------------------------------------

//! Truncated importance sampling (TIS, Yao et al. 2025 "Your efficient RL framework secretly
//! brings you off-policy RL training"): the rollout engine's probabilities π_rollout differ from
//! the trainer's π_old; the surrogate is weighted by w = π_old/π_rollout truncated at C:
//! token level g_t = min(w_t, C); sequence level g_t = min(Π_{u∈i} w_u, C) for every token of
//! response i (computed in log space, no overflow). Needs `loss_token_batch::rollout_logp`.
//! Peers: verl `tis_imp_ratio_cap` / rollout correction `rollout_is="token"|"sequence"`
//! (threshold 2); TRL `vllm_importance_sampling_correction` with `vllm_importance_sampling_cap`.
//!
//! Where the numbers come from: π_rollout is the log-prob the inference engine reported for the
//! sampled token (`loss_token_batch::rollout_logp`), π_old the trainer's own log-prob of the same
//! token before the update (`old_logp`; when absent, the current log π, detached). The weight
//! corrects the policy gradient for sampling from π_rollout instead of π_old; truncation at C
//! trades a small bias for bounded variance.
//! Reads: log π_old (or the current log π), log π_rollout. Multiplies: gate.
//! Validation: `validate()` throws `rlvr::config_error` naming the offending member.
struct tis {
  double cap = 2.0; //!< C > 0
  //! token: w_t per token (verl `rollout_is="token"`); sequence: one weight Π w per response,
  //! unbiased for sequence-level rewards but of higher variance (verl `"sequence"`).
  correction_level level = correction_level::token;
  static constexpr bool is_gate = true;
  static constexpr bool uses_old_logp = true;
  static constexpr bool uses_ref_logp = false;
  static constexpr bool uses_rollout_logp = true;
  //! gate_t ← gate_t · min(w, C) on active tokens; min(e^x, C) is computed as e^{min(x, log C)},
  //! so a sequence product of many large ratios cannot overflow. Inactive tokens are untouched.
  template <class T> void apply(const batch_context<T>& ctx, vector_view<T> gate) const {
    const double lc = std::log(cap);
    std::vector<double> seq;
    if (level == correction_level::sequence) seq = detail::sequence_sum(ctx, [&](index_t t) { return detail::log_mismatch(ctx, t); });
    for (index_t t = 0; t < gate.size(); ++t) {
      if (!ctx.active(t)) continue;
      const double lw = level == correction_level::token ? detail::log_mismatch(ctx, t) : seq[static_cast<std::size_t>(ctx.seq[t])];
      gate[t] = static_cast<T>(static_cast<double>(gate[t]) * std::exp(std::min(lw, lc)));
    }
  }
  void validate() const {
    RLVR_EXPECTS(cap > 0.0 && std::isfinite(cap), config, "tis: cap = ", cap, " must be finite and > 0");
  }
};
static_assert(TokenGate<tis>);

//! Rollout mask: keeps a token (token level: w_t ∈ [lower, upper]) or a whole response
//! (sequence level: the geometric mean exp(mean_{t∈i} log w_t) ∈ [lower, upper]) and zeroes the
//! rest, w = π_old/π_rollout. Together with `tis{.cap = upper}` at token level it is IcePop
//! (Ring-1T: the weight w inside the band [0.5, 5], 0 outside); alone it is verl's rejection
//! sampling (`rollout_rs="token"` / `"seq_mean_k1"`-style geometric band).
//!
//! A mask removes a token's policy gradient but keeps it in the aggregation denominators (as a
//! zero), so masking does not reweight the remaining tokens; `loss_diagnostics::gated_out_frac`
//! reports how many were masked.
//! Reads: log π_old (or the current log π), log π_rollout. Multiplies: gate (by 0 or 1).
//! Validation: `validate()` throws `rlvr::config_error` naming the offending member.
struct rollout_mask {
  double lower = 0.5; //!< ≥ 0
  double upper = 5.0; //!< > lower
  //! token: each token's own ratio; sequence: the response's geometric mean, so a long response
  //! is not rejected for one outlier token (verl's geometric rejection mode).
  correction_level level = correction_level::token;
  static constexpr bool is_gate = true;
  static constexpr bool uses_old_logp = true;
  static constexpr bool uses_ref_logp = false;
  static constexpr bool uses_rollout_logp = true;
  //! gate_t ← 0 on active tokens whose ratio (token) or response geometric mean (sequence) is
  //! outside [lower, upper] (a NaN ratio is outside); other gates are left as they are.
  template <class T> void apply(const batch_context<T>& ctx, vector_view<T> gate) const {
    std::vector<double> mean;
    if (level == correction_level::sequence) {
      std::vector<T> m(static_cast<std::size_t>(gate.size()));
      detail::sequence_mean(ctx, vector_view<T>(m), [&](index_t t) { return detail::log_mismatch(ctx, t); });
      mean.assign(m.begin(), m.end());
    }
    for (index_t t = 0; t < gate.size(); ++t) {
      if (!ctx.active(t)) continue;
      const double w = std::exp(level == correction_level::token ? detail::log_mismatch(ctx, t) : mean[static_cast<std::size_t>(t)]);
      if (!(w >= lower && w <= upper)) gate[t] = T(0);
    }
  }
  void validate() const {
    RLVR_EXPECTS(lower >= 0.0 && upper > lower && std::isfinite(upper), config, "rollout_mask: [lower, upper] = [",
                 lower, ", ", upper, "] must satisfy 0 <= lower < upper < inf");
  }
};
static_assert(TokenGate<rollout_mask>);

//! Sequence masking by divergence: a response whose mean per-token k3 estimate of
//! KL(π_rollout ‖ π_old), mean_{t∈i} (w_t − 1 − log w_t) with w = π_old/π_rollout, exceeds
//! `max_kl` is dropped from the surrogate (all its tokens gated to 0). k3 is non-negative and
//! 0 only where the two engines agree.
//!
//! Use it when whole responses go bad (an engine bug, a kernel numerics difference on long
//! generations): a per-token band keeps the good tokens of a bad response, this drops it.
//! Reads: log π_old (or the current log π), log π_rollout. Multiplies: gate (by 0 or 1).
//! Validation: `validate()` throws `rlvr::config_error` naming the offending member.
struct sequence_divergence_mask {
  double max_kl = 1e-3; //!< threshold > 0
  static constexpr bool is_gate = true;
  static constexpr bool uses_old_logp = true;
  static constexpr bool uses_ref_logp = false;
  static constexpr bool uses_rollout_logp = true;
  //! gate_t ← 0 on every active token of a response whose mean k3 exceeds `max_kl`; log w is
  //! clamped to ±20 before exp (a ratio of e^20 is masked anyway at any sensible threshold).
  template <class T> void apply(const batch_context<T>& ctx, vector_view<T> gate) const {
    std::vector<T> m(static_cast<std::size_t>(gate.size()));
    detail::sequence_mean(ctx, vector_view<T>(m), [&](index_t t) {
      const double lw = std::clamp(detail::log_mismatch(ctx, t), -20.0, 20.0);
      return std::exp(lw) - 1.0 - lw;
    });
    for (index_t t = 0; t < gate.size(); ++t)
      if (ctx.active(t) && static_cast<double>(m[static_cast<std::size_t>(t)]) > max_kl) gate[t] = T(0);
  }
  void validate() const {
    RLVR_EXPECTS(max_kl > 0.0 && std::isfinite(max_kl), config, "sequence_divergence_mask: max_kl = ", max_kl,
                 " must be finite and > 0");
  }
};
static_assert(TokenGate<sequence_divergence_mask>);

//! High-entropy token selection (Wang et al. 2025, "Beyond the 80/20 rule", arXiv:2506.01939):
//! the surrogate is kept only on the top-ρ fraction of the batch's active tokens by entropy:
//! g_t = 1 if H_t ≥ q, else 0, with q the (1 − ρ) quantile of {H_t : t active} taken over the
//! whole batch (linear interpolation between order statistics, as torch.quantile). The
//! aggregation denominators are unchanged (the other tokens count with loss 0), as in the
//! paper's code. Default ρ = 0.2.
//!
//! The entropies are the current policy's (the pre-pass's H_t at the loss temperature), so the
//! selection follows the policy as it trains; it is recomputed at every `loss_and_grad` call.
//! Only the surrogate is gated: an entropy bonus or KL term still applies to every token.
//! Reads: H_t (pre-pass). Multiplies: gate (by 0 or 1).
//! Validation: `validate()` throws `rlvr::config_error` naming the offending member.
struct entropy_top {
  double rho = 0.2; //!< fraction kept, in (0, 1]
  static constexpr bool is_gate = true;
  static constexpr bool uses_old_logp = false;
  static constexpr bool uses_ref_logp = false;
  static constexpr bool uses_rollout_logp = false;
  //! gate_t ← 0 on active tokens with H_t < q. With ρ = 1 every token is kept (q = min H); ties
  //! at q are kept, so slightly more than ρ·N tokens may pass when entropies repeat.
  template <class T> void apply(const batch_context<T>& ctx, vector_view<T> gate) const {
    std::vector<double> h;
    for (index_t t = 0; t < gate.size(); ++t)
      if (ctx.active(t)) h.push_back(static_cast<double>(ctx.entropy[t]));
    if (h.empty()) return;
    std::sort(h.begin(), h.end());
    const double pos = (1.0 - rho) * static_cast<double>(h.size() - 1);
    const auto lo = static_cast<std::size_t>(std::floor(pos));
    const auto hi = std::min(lo + 1, h.size() - 1);
    const double q = h[lo] + (pos - static_cast<double>(lo)) * (h[hi] - h[lo]);
    for (index_t t = 0; t < gate.size(); ++t)
      if (ctx.active(t) && !(static_cast<double>(ctx.entropy[t]) >= q)) gate[t] = T(0);
  }
  void validate() const {
    RLVR_EXPECTS(rho > 0.0 && rho <= 1.0, config, "entropy_top: rho = ", rho, " is outside (0, 1]");
  }
};
static_assert(TokenGate<entropy_top>);

} // namespace rlvr
