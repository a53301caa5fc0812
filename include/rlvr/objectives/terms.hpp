#pragma once
//! \file rlvr/objectives/terms.hpp
//! \brief Per-token surrogates and regularisers: `constexpr RLVR_HD` functors shared by every backend.
//!
//! Every term maps one token's inputs to its loss contribution ℓ_t and the two derivatives the
//! fused pass needs (spec §3, §4, §6):
//!
//!   token_input  {logp = log π_t, old_logp = log π_old,t, ref_logp = log π_ref,t, adv = A_t, entropy = H_t}
//!   token_terms  {loss = ℓ_t, dlogp = ∂ℓ_t/∂log π_t, dentropy = ∂ℓ_t/∂H_t, flags}
//!
//! (spec §6's coefficient is c_t = −dlogp). The terms are aggregates whose members are the
//! runtime numbers, so they are configured with designated initialisers:
//!
//!     rlvr::ppo_clip{.eps_low = 0.2, .eps_high = 0.28, .dual_clip = 3.0}
//!     rlvr::kl_k3{.beta = 1e-3}
//!     rlvr::entropy_bonus{.coef = 1e-3}
//!
//! | term                 | ℓ_t                                                   | ∂ℓ/∂log π                 |
//! |----------------------|-------------------------------------------------------|---------------------------|
//! | `reinforce_surrogate`| −A·log π                                              | −A                        |
//! | `ppo_clip`           | max(−Aρ, −A·clip(ρ, 1−ε_low, 1+ε_high)), ρ = e^{clamp(log π − log π_old)} | −Aρ, or 0 where clipped |
//! |  + dual clip (A < 0) | min(ℓ, −c·A)                                          | 0 where −c·A is taken     |
//! | `kl_k1`              | β·(log π − log π_ref)                                 | β                         |
//! | `kl_k2`              | β·½Δ², Δ = log π_ref − log π                          | −β·Δ                      |
//! | `kl_k3`              | β·clamp(e^Δ − Δ − 1, −k, k)                           | β·(1 − e^Δ), 0 if clamped |
//! | `kl_k3_plus`         | β·k3 (the value of `kl_k3`)                           | β·(log π − log π_ref) (k2's) |
//! | `kl_full`            | β·KL(π_t‖π_ref,t), exact over the vocabulary          | (∂ℓ/∂KL = β)              |
//! | `entropy_bonus`      | −c_H·H                                                | (∂ℓ/∂H = −c_H)            |
//! | `cispo`              | −sg(clip(ρ, 1−ε_low, 1+ε_high))·A·log π               | −clip(ρ)·A                |
//! | `sapo`               | −(4/τ)·σ(τ(ρ − 1))·A, τ = τ_pos (A > 0) or τ_neg      | −4ρ·σ(1 − σ)·A            |
//!
//! The sequence- and batch-level surrogates (GSPO, GMPO, Clip-Cov, KL-Cov) and the token gates
//! (rollout correction, entropy selection) are in `rlvr/objectives/batch_terms.hpp`.
//!
//! The five KL terms differ in what they estimate and differentiate: k1 and k3 are unbiased in
//! value on-policy (k3 ≥ 0 with lower variance), k2's and k3+'s gradient is the unbiased one,
//! `kl_full` is exact in both at the cost of the reference logits. An objective holds at most one
//! (`make_objective` rejects two at compile time).
//!
//! `ppo_clip` without an old log-prob (on-policy, `old_logp == logp` treated as a constant) is
//! ρ = 1 and has exactly REINFORCE's gradient. Flags report which branch a token took, for the
//! clip-fraction diagnostics.
//!
//! Conventions shared by all terms: Δ = log π_ref − log π for the KL estimators (spec §4), the
//! log-ratio log ρ = log π − log π_old for the ratio surrogates; every exponential is taken of a
//! clamped argument (±20 by default, e^20 ≈ 4.9e8 fits a float), so no term overflows on a
//! token whose policies disagree wildly. Where a clamp is active, `ppo_clip` and the KL terms
//! give a zero gradient (the clamped value does not depend on log π); `cispo` and `sapo` keep
//! theirs, evaluated at the clamped ratio. The arithmetic runs in T (float or double) after
//! the configured numbers are cast to T once per call. Every call is a pure `constexpr`
//! function of its input: no state, no allocation, safe from any number of threads, and
//! bit-reproducible for a given T and compiler. `validate()` runs on the host only (it throws
//! `rlvr::config_error`, which a device cannot); the loss entry points (rlvr/loss.hpp) call
//! the objective's `validate()`, which validates every term, on each call.

#include <cstdint>
#include <type_traits>

#include "rlvr/config.hpp"
#include "rlvr/detail/objectives_math.hpp"
#include "rlvr/objectives/concepts.hpp"

namespace rlvr {

//! REINFORCE surrogate, ℓ = −A·log π (spec §3). Needs neither old nor reference log-probs.
//! ∂ℓ/∂log π = −A, so the fused pass applies the spec §6 coefficient c = A to the logits row.
//! It ignores `old_logp`: after the first update on a rollout batch the policy has moved and
//! nothing corrects for it (use `ppo_clip` or `cispo` for several updates per batch). No
//! parameters; `validate()` has nothing to check.
//!
//!   auto obj = rlvr::make_objective(rlvr::sign_split{1, -1, rlvr::unused_side::zero},
//!                                   rlvr::reinforce_surrogate{}, rlvr::token_mean{});  // == reinforce()
struct reinforce_surrogate {
  static constexpr bool uses_old_logp = false;
  static constexpr bool uses_ref_logp = false;
  static constexpr bool uses_advantage = true;
  template <class T> RLVR_HD constexpr token_terms<T> operator()(const token_input<T>& in) const {
    return {-in.adv * in.logp, -in.adv, T(0), 0};
  }
  constexpr void validate() const {}
};
static_assert(Surrogate<reinforce_surrogate>);

//! PPO's clipped surrogate with asymmetric clip range, optional dual clip and a clamp on the
//! log-ratio before exp (spec §3). Valid: 0 ≤ ε_low < 1, ε_high ≥ 0, dual_clip = 0 (off) or > 1,
//! log_ratio_clamp > 0.
//!
//! ℓ = max(−Aρ, −A·clip(ρ, 1 − ε_low, 1 + ε_high)), then for A < 0 and dual_clip = c > 0,
//! ℓ = min(ℓ, −c·A). The max picks the pessimistic branch: the clipped one wins only when ρ
//! has left the trust region on the side the advantage pushes it (ρ > 1 + ε_high with A > 0,
//! ρ < 1 − ε_low with A < 0), and there the gradient is 0. Defaults: ε = 0.2 both sides (the
//! paper and the reference code), dual clip off, log ρ clamped to ±20.
//!
//!   rlvr::ppo_clip clip{.eps_low = 0.2, .eps_high = 0.28};      // DAPO's clip-higher
//!   rlvr::ppo_clip dual{.dual_clip = 3.0};                      // verl's clip_ratio_c
struct ppo_clip {
  double eps_low = 0.2;          //!< ρ is clipped below at 1 − ε_low
  double eps_high = 0.2;         //!< ρ is clipped above at 1 + ε_high ("clip-higher": 0.28)
  //! c > 1 bounds the loss of A < 0 tokens by −c·A; 0 = off. This is also INTELLECT-2's
  //! two-sided clipping with upper clamp δ = c (ρ capped at δ for A < 0; TRL `delta`, verl
  //! `clip_ratio_c`, default 3 there; INTELLECT-2 uses δ = 4): both give
  //! −A·min(ρ, δ) for ρ > 1 + ε_high and A < 0, with zero gradient above δ.
  double dual_clip = 0.0;
  double log_ratio_clamp = 20.0; //!< log ρ is clamped to [−clamp, clamp] before exp

  static constexpr bool uses_old_logp = true;
  static constexpr bool uses_ref_logp = false;
  static constexpr bool uses_advantage = true;

  template <class T> RLVR_HD constexpr token_terms<T> operator()(const token_input<T>& in) const {
    const T lim = static_cast<T>(log_ratio_clamp);
    const T raw = in.logp - in.old_logp;
    const T d = detail::clamp(raw, -lim, lim);
    const T dd = (raw == d) ? T(1) : T(0); // the clamp stops the gradient
    const T rho = detail::cexp(d);
    const T lo = T(1) - static_cast<T>(eps_low), hi = T(1) + static_cast<T>(eps_high);
    const T rho_c = detail::clamp(rho, lo, hi);
    // l1: unclipped loss, l2: clipped loss; PPO keeps the larger (pessimistic) one.
    const T l1 = -in.adv * rho, l2 = -in.adv * rho_c;
    token_terms<T> r;
    if (l2 > l1) { // the clipped branch is active: ρ is outside [lo, hi] on the side A favours
      r.loss = l2;
      r.dlogp = T(0);
      // l2 > l1 needs A ≠ 0 and ρ outside [lo, hi] on A's side: ρ < lo means A < 0.
      r.flags = rho < lo ? clipped_low : clipped_high;
    } else {
      r.loss = l1;
      r.dlogp = -in.adv * rho * dd;
    }
    // Dual clip: a negative advantage with a huge ρ would otherwise give an unbounded loss.
    if (dual_clip > 0.0 && in.adv < T(0)) {
      const T l3 = -in.adv * static_cast<T>(dual_clip);
      if (r.loss > l3) {
        r.loss = l3;
        r.dlogp = T(0);
        r.flags = clipped_dual;
      }
    }
    return r;
  }
  //! Throws `rlvr::config_error` naming the bad value: ε_low ∉ [0, 1) (1 would let ρ → 0
  //! unclipped), ε_high < 0 or not finite, dual_clip neither 0 nor finite > 1 (c ≤ 1 would cap
  //! the loss below −A·1, i.e. even at ρ = 1), log_ratio_clamp ≤ 0.
  void validate() const;
};
static_assert(Surrogate<ppo_clip>);

//! KL penalty in the loss with the k1 estimator: β·(log π − log π_ref) (unbiased, may be < 0).
//! k1 = −Δ; its mean over tokens sampled from π estimates KL(π‖π_ref), but a single token's
//! value has either sign and a high variance. ∂ℓ/∂log π = β, a constant push down on every
//! sampled token. PPO folds k1 into the reward instead (`gae::kl_beta`); this term puts it in
//! the loss. Requires `ref_logp` in the loss batch.
struct kl_k1 {
  //! β ≥ 0, finite (`validate()` raises `config_error` otherwise); 1e-3 is spec §2's GRPO/PPO value.
  double beta = 1e-3;
  static constexpr bool is_kl = true; //!< a KL penalty (an objective may hold at most one)
  static constexpr bool uses_old_logp = false;
  static constexpr bool uses_ref_logp = true;
  static constexpr bool uses_advantage = false;
  template <class T> RLVR_HD constexpr token_terms<T> operator()(const token_input<T>& in) const {
    const T b = static_cast<T>(beta);
    return {b * (in.logp - in.ref_logp), b, T(0), 0};
  }
  void validate() const;
};
static_assert(Regularizer<kl_k1>);

//! KL penalty with the k2 estimator: β·½Δ², Δ = log π_ref − log π.
//! Non-negative per token, biased as a value estimate of KL(π‖π_ref) but its gradient −β·Δ is
//! the on-policy unbiased gradient of the KL (the reason `kl_k3_plus` borrows it). No clamp:
//! the value is a polynomial and cannot overflow for finite log-probs.
struct kl_k2 {
  //! β ≥ 0, finite (`validate()` raises `config_error` otherwise).
  double beta = 1e-3;
  static constexpr bool is_kl = true; //!< a KL penalty (an objective may hold at most one)
  static constexpr bool uses_old_logp = false;
  static constexpr bool uses_ref_logp = true;
  static constexpr bool uses_advantage = false;
  template <class T> RLVR_HD constexpr token_terms<T> operator()(const token_input<T>& in) const {
    const T b = static_cast<T>(beta);
    const T delta = in.ref_logp - in.logp;
    return {b * T(0.5) * delta * delta, -b * delta, T(0), 0};
  }
  void validate() const;
};
static_assert(Regularizer<kl_k2>);

//! KL penalty with the k3 estimator (GRPO's): β·(e^Δ − Δ − 1) ≥ 0, Δ = log π_ref − log π, with
//! Δ clamped to [−20, 20] before exp and the estimate clamped to [−clamp, clamp] (verl: 10).
//! k3 ≥ 0 for every token (e^Δ ≥ 1 + Δ) and unbiased in value for on-policy samples, with a
//! lower variance than k1. Where either clamp is active the term reports the clamped value,
//! a zero gradient and the `kl_clamped` flag (counted in the loss diagnostics as
//! `kl_clamp_frac`). Since k3 ≥ 0, only the upper bound of the estimate's clamp can bind.
//!
//!   rlvr::kl_k3 kl{.beta = 1e-3, .clamp = 10.0};   // grpo()'s default
struct kl_k3 {
  //! β ≥ 0, finite (`validate()` raises `config_error` otherwise).
  double beta = 1e-3;
  static constexpr bool is_kl = true; //!< a KL penalty (an objective may hold at most one)
  //! Bound on the per-token estimate, > 0 (`config_error` otherwise); verl's 10.
  double clamp = 10.0;
  static constexpr bool uses_old_logp = false;
  static constexpr bool uses_ref_logp = true;
  static constexpr bool uses_advantage = false;
  template <class T> RLVR_HD constexpr token_terms<T> operator()(const token_input<T>& in) const {
    const T b = static_cast<T>(beta);
    const T raw = in.ref_logp - in.logp;
    const T delta = detail::clamp(raw, T(-20), T(20));
    const T e = detail::cexp(delta);
    const T k = e - delta - T(1);
    const T c = static_cast<T>(clamp);
    // raw ≠ delta: Δ itself was clamped, so k no longer depends on log π; report it, no gradient.
    if (k > c || raw != delta) return {b * detail::cmin(k, c), T(0), T(0), kl_clamped};
    return {b * k, b * (T(1) - e), T(0), 0}; // ∂k/∂logπ = −(e^Δ − 1)
  }
  void validate() const;
};
static_assert(Regularizer<kl_k3>);

//! Entropy bonus: ℓ = −c_H·H (maximising entropy), ∂ℓ/∂H = −c_H.
//! H_t is the entropy of the whole next-token distribution at t (spec §4), so the bonus acts
//! on every logit of the row through ∂H/∂z_v = −p_v (log p_v + H), not only on the sampled
//! token. The ready-made objectives hold it with c_H = 0 (off) so that it can be turned on
//! without changing the objective's type.
struct entropy_bonus {
  //! c_H, finite, any sign: > 0 rewards entropy, < 0 penalises it; 1e-3 is the paper's
  //! code's config (the paper's text says 1e-4). `validate()` raises `config_error` if not finite.
  double coef = 1e-3;
  static constexpr bool uses_old_logp = false;
  static constexpr bool uses_ref_logp = false;
  static constexpr bool uses_advantage = false;
  template <class T> RLVR_HD constexpr token_terms<T> operator()(const token_input<T>& in) const {
    const T c = static_cast<T>(coef);
    // No ∂/∂log π: H depends on the whole row, which the pass differentiates via dentropy.
    return {-c * in.entropy, T(0), -c, 0};
  }
  void validate() const;
};
static_assert(Regularizer<entropy_bonus>);

//! KL penalty "k3+" (straight-through): the value of k3, β·(e^Δ − Δ − 1), with the gradient of
//! k2, ∂(β·½Δ²)/∂log π = −β·Δ, Δ = log π_ref − log π. k3's gradient β·(1 − e^Δ) is a biased
//! estimate of ∇KL(π‖π_ref) for samples from π; k2's gradient −Δ is the unbiased one (for
//! on-policy samples), while the reported value stays k3's non-negative, low-variance estimate.
//! verl's `kl_loss_type = "k3+"` (value k3, gradient k2); Δ is clamped to [−20, 20] before exp
//! and the value to [−clamp, clamp] (where clamped, the gradient is 0 and `kl_clamped` is set).
//! Validation as `kl_k3`: β finite ≥ 0, clamp > 0, else `config_error`.
struct kl_k3_plus {
  double beta = 1e-3;
  //! Bound on the reported value, > 0 (beyond it the gradient is 0 and `kl_clamped` is set).
  double clamp = 10.0;
  static constexpr bool is_kl = true;
  static constexpr bool uses_old_logp = false;
  static constexpr bool uses_ref_logp = true;
  static constexpr bool uses_advantage = false;
  template <class T> RLVR_HD constexpr token_terms<T> operator()(const token_input<T>& in) const {
    const T b = static_cast<T>(beta);
    const T raw = in.ref_logp - in.logp;
    const T delta = detail::clamp(raw, T(-20), T(20));
    // Same value and clamps as kl_k3; only the unclamped gradient differs (k2's −β·Δ).
    const T k = detail::cexp(delta) - delta - T(1);
    const T c = static_cast<T>(clamp);
    if (k > c || raw != delta) return {b * detail::cmin(k, c), T(0), T(0), kl_clamped};
    return {b * k, -b * delta, T(0), 0};
  }
  void validate() const;
};
static_assert(Regularizer<kl_k3_plus>);

//! The exact KL penalty over the whole vocabulary: ℓ = β·KL(π_t‖π_ref,t) with
//!   KL(π‖π_ref) = Σ_v p_v (log p_v − log q_v),   p = softmax(z/τ), q = softmax(r/τ),
//! computed inside the fused pass from the reference policy's logits row r
//! (`loss_token_batch::ref_logits`, same temperature τ), and its exact gradient
//!   ∂KL/∂z_v = (1/τ)·p_v·(log p_v − log q_v − KL)
//! (rlvr/objectives/row_math.hpp). The sampled estimators k1/k2/k3 see one token of π_ref; this
//! term sees all V, so its value has no sampling variance and its gradient is the true ∇KL (the
//! k-estimators' gradients are unbiased only on-policy). Cost: the reference logits row is read
//! twice more per token (N×V extra memory for the reference logits). Needs a backend that models
//! `rlvr::RefKLBackend` (the host backends).
//! The pass hands this term the KL as `token_input::kl` and differentiates through
//! `token_terms::dkl` = β; the term itself is two multiplications. A token whose KL is not
//! finite (a reference row with −inf where π has mass) makes the loss raise
//! `rlvr::numerical_error`.
struct kl_full {
  //! β ≥ 0, finite (`validate()` raises `config_error` otherwise).
  double beta = 1e-3;
  static constexpr bool is_kl = true;          //!< a KL penalty (an objective may hold at most one)
  static constexpr bool uses_ref_logits = true; //!< reads the reference logits rows
  static constexpr bool uses_old_logp = false;
  static constexpr bool uses_ref_logp = false;
  static constexpr bool uses_advantage = false;
  template <class T> RLVR_HD constexpr token_terms<T> operator()(const token_input<T>& in) const {
    const T b = static_cast<T>(beta);
    return {b * in.kl, T(0), T(0), 0, b};
  }
  void validate() const;
};
static_assert(Regularizer<kl_full>);

//! CISPO (MiniMax-M1, arXiv:2506.13585): REINFORCE weighted by the *detached* clipped
//! importance ratio, ℓ = −sg(ρ̂)·A·log π, ρ̂ = clip(ρ, 1 − ε_low, 1 + ε_high), ρ = e^{log π − log π_old}
//! (log ρ clamped to ±`log_ratio_clamp` first). Every token keeps a gradient −ρ̂·A (PPO zeroes
//! the clipped ones). Defaults: no lower bound (ε_low = 1, the paper's choice) and an upper cap
//! 1 + ε_high = 5 (TRL's `loss_type="cispo"` caps ρ at `epsilon_high`, which it recommends at
//! 5; verl's `policy_loss="cispo"` clips to [1 − clip_ratio_low, 1 + clip_ratio_high]). The
//! flag `clipped_high` / `clipped_low` marks tokens whose weight was capped.
//! Validation: ε_low ∈ [0, 1], ε_high finite ≥ 0, log_ratio_clamp > 0, else `config_error`.
//! Unlike `ppo_clip`, no token is ever silenced: the clip bounds the weight, not the gradient.
struct cispo {
  //! Defaults: ε_low = 1 (ρ̂ ≥ 0, no lower bound, the paper), ε_high = 4 (ρ̂ ≤ 5, TRL's advice).
  double eps_low = 1.0;          //!< ρ̂ ≥ 1 − ε_low (1: no lower bound), in [0, 1]
  double eps_high = 4.0;         //!< ρ̂ ≤ 1 + ε_high, ≥ 0
  //! Same role as `ppo_clip::log_ratio_clamp`; here the clamp does not stop the gradient,
  //! since ρ only sets the detached weight.
  double log_ratio_clamp = 20.0; //!< log ρ clamped to [−c, c] before exp
  static constexpr bool uses_old_logp = true;
  static constexpr bool uses_ref_logp = false;
  static constexpr bool uses_advantage = true;
  template <class T> RLVR_HD constexpr token_terms<T> operator()(const token_input<T>& in) const {
    const T lim = static_cast<T>(log_ratio_clamp);
    const T rho = detail::cexp(detail::clamp(in.logp - in.old_logp, -lim, lim));
    const T lo = T(1) - static_cast<T>(eps_low), hi = T(1) + static_cast<T>(eps_high);
    // w is detached (sg): ∂ℓ/∂log π = −w·A, with no term from ρ's own dependence on log π.
    const T w = detail::clamp(rho, lo, hi);
    const std::uint8_t f = rho > hi ? clipped_high : (rho < lo ? clipped_low : 0);
    return {-w * in.adv * in.logp, -w * in.adv, T(0), f};
  }
  void validate() const;
};
static_assert(Surrogate<cispo>);

//! SAPO (Soft Adaptive Policy Optimization, arXiv:2511.20347): a smooth gate instead of the hard
//! clip, ℓ = −f(ρ)·A with f(ρ) = (4/τ)·σ(τ·(ρ − 1)), τ = τ_pos for A > 0 and τ_neg otherwise
//! (τ_neg > τ_pos damps negative updates faster). At ρ = 1, f = 2/τ and f' = 1 (REINFORCE's
//! on-policy gradient); ∂ℓ/∂log π = −A·ρ·f'(ρ) = −4ρ·σ(1 − σ)·A. verl `policy_loss="sapo"`
//! (τ_pos = 1, τ_neg = 1.05, seq-mean-token-mean); log ρ clamped to ±20.
//! The gate never reaches zero, so unlike the hard clip every token keeps some gradient, which
//! decays roughly like ρ·e^{−τ|ρ − 1|} as ρ leaves 1. `validate()` raises `config_error` unless both
//! temperatures are finite and > 0. No flags are set (nothing is clipped).
struct sapo {
  //! Defaults are verl's; τ_neg > τ_pos makes the gate for negative advantages the steeper one.
  double tau_pos = 1.0;  //!< temperature for A > 0, > 0
  double tau_neg = 1.05; //!< temperature for A ≤ 0, > 0
  static constexpr bool uses_old_logp = true;
  static constexpr bool uses_ref_logp = false;
  static constexpr bool uses_advantage = true;
  template <class T> RLVR_HD constexpr token_terms<T> operator()(const token_input<T>& in) const {
    const T rho = detail::cexp(detail::clamp(in.logp - in.old_logp, T(-20), T(20)));
    const T tau = static_cast<T>(in.adv > T(0) ? tau_pos : tau_neg);
    // σ(τ(ρ − 1)): for ρ ≫ 1 the exponential underflows to 0 (σ = 1); for ρ → 0 the exponent
    // is ≈ τ, and even an overflow to +inf gives σ = 0: no NaN either way.
    const T sig = T(1) / (T(1) + detail::cexp(-tau * (rho - T(1))));
    const T f = T(4) / tau * sig;
    return {-f * in.adv, -T(4) * rho * sig * (T(1) - sig) * in.adv, T(0), 0};
  }
  void validate() const;
};
static_assert(Surrogate<sapo>);

} // namespace rlvr

// ---- validation (host only) ------------------------------------------------------------------
// Defined out of class, after the RLVR_HD functors: error.hpp is host code (exceptions,
// messages formatted with std::ostream), kept apart from the per-token calls a device compiles.
#include "rlvr/error.hpp"

namespace rlvr {
inline void kl_full::validate() const {
  RLVR_EXPECTS(beta >= 0.0 && detail::is_finite(beta), config, "kl_full: beta = ", beta, " must be finite and >= 0");
}
inline void kl_k3_plus::validate() const {
  RLVR_EXPECTS(beta >= 0.0 && detail::is_finite(beta), config, "kl_k3_plus: beta = ", beta, " must be finite and >= 0");
  RLVR_EXPECTS(clamp > 0.0, config, "kl_k3_plus: clamp = ", clamp, " must be > 0");
}
inline void cispo::validate() const {
  RLVR_EXPECTS(eps_low >= 0.0 && eps_low <= 1.0, config, "cispo: eps_low = ", eps_low, " is outside [0, 1]");
  RLVR_EXPECTS(eps_high >= 0.0 && detail::is_finite(eps_high), config, "cispo: eps_high = ", eps_high,
               " must be finite and >= 0");
  RLVR_EXPECTS(log_ratio_clamp > 0.0, config, "cispo: log_ratio_clamp = ", log_ratio_clamp, " must be > 0");
}
inline void sapo::validate() const {
  RLVR_EXPECTS(tau_pos > 0.0 && detail::is_finite(tau_pos), config, "sapo: tau_pos = ", tau_pos, " must be finite and > 0");
  RLVR_EXPECTS(tau_neg > 0.0 && detail::is_finite(tau_neg), config, "sapo: tau_neg = ", tau_neg, " must be finite and > 0");
}
inline void ppo_clip::validate() const {
  RLVR_EXPECTS(eps_low >= 0.0 && eps_low < 1.0, config, "ppo_clip: eps_low = ", eps_low, " is outside [0, 1)");
  RLVR_EXPECTS(eps_high >= 0.0 && detail::is_finite(eps_high), config, "ppo_clip: eps_high = ", eps_high,
               " must be finite and >= 0");
  RLVR_EXPECTS(dual_clip == 0.0 || (dual_clip > 1.0 && detail::is_finite(dual_clip)), config,
               "ppo_clip: dual_clip = ", dual_clip, " must be 0 (off) or > 1");
  RLVR_EXPECTS(log_ratio_clamp > 0.0, config, "ppo_clip: log_ratio_clamp = ", log_ratio_clamp, " must be > 0");
}
inline void kl_k1::validate() const {
  RLVR_EXPECTS(beta >= 0.0 && detail::is_finite(beta), config, "kl_k1: beta = ", beta, " must be finite and >= 0");
}
inline void kl_k2::validate() const {
  RLVR_EXPECTS(beta >= 0.0 && detail::is_finite(beta), config, "kl_k2: beta = ", beta, " must be finite and >= 0");
}
inline void kl_k3::validate() const {
  RLVR_EXPECTS(beta >= 0.0 && detail::is_finite(beta), config, "kl_k3: beta = ", beta, " must be finite and >= 0");
  RLVR_EXPECTS(clamp > 0.0, config, "kl_k3: clamp = ", clamp, " must be > 0");
}
inline void entropy_bonus::validate() const {
  RLVR_EXPECTS(detail::is_finite(coef), config, "entropy_bonus: coef = ", coef, " must be finite");
}
} // namespace rlvr
