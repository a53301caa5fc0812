#pragma once
//! \file rlvr/objectives/concepts.hpp
//! \brief The objective concepts: `TokenTerm`, `Surrogate`, `Regularizer`, `Aggregation`,
//! `AdvantageEstimator` and `Objective`, and the data types that cross them.
//!
//! An objective is *advantage estimator × surrogate × regularisers × aggregation* (spec §2–§5).
//! The structure is fixed at compile time (template parameters); the numbers (ε, β, λ, c_H) are
//! members of aggregates configured at run time with designated initialisers. Each piece has its
//! own small concept, so when a part does not fit the diagnostic names the piece.
//!
//! Data flow of one step, and the type that carries each stage:
//! 1. once per rollout batch, the estimator turns `advantage_input` (rewards [B], group ids,
//!    the token → response map `seq` [N], mask) into `advantage_output` (A_t and the active
//!    flags [N]) and an `advantage_report`;
//! 2. the aggregation turns the active flags into weights w_t (`aggregation_options` carries
//!    the global denominators when the batch is split);
//! 3. batch-level parts (`BatchSurrogate`, `TokenGate`) read a `batch_context` and prepare
//!    per-token `stat` and `gate`;
//! 4. the fused pass over the logits builds a `token_input` per token and sums the parts'
//!    `token_terms`, from which the loss and ∂L/∂z follow (spec §6).
//! B is the number of responses, N the number of tokens of the batch (all responses'
//! tokens, flattened). Every template runs with T = float and T = double.

#include <concepts>
#include <cstdint>
#include <type_traits>

#include "rlvr/config.hpp"
#include "rlvr/view.hpp"

namespace rlvr {

//! One token's inputs to the per-token terms. Built by the fused loss pass (host or device) for
//! each token and passed by value: a term sees one token only. All log-probs are natural
//! logarithms.
template <class T> struct token_input {
  T logp;     //!< log π_t under the current policy (at the loss temperature)
  T old_logp; //!< log π_old,t of the rollout policy; equal to logp when on-policy
  T ref_logp; //!< log π_ref,t of the reference policy (0 when no KL term needs it)
  T adv;      //!< advantage A_t
  T entropy;  //!< H_t of the current policy's distribution at this position
  //! The surrogate's batch statistic at this token, prepared before the pass by a
  //! `BatchSurrogate` (GSPO/GMPO: the response's mean log-ratio; Clip-Cov/KL-Cov: 1 if the
  //! token was selected); 0 for token-level surrogates.
  T stat = 0;
  //! Product of the objective's `TokenGate`s at this token (rollout correction weight, entropy
  //! selection): a detached factor on the surrogate's loss and gradient; 1 without gates.
  T gate = 1;
  //! The exact KL(π‖π_ref) = Σ_v p_v (log p_v − log q_v) of this token's whole distribution,
  //! computed in the fused pass from the reference logits (`loss_token_batch::ref_logits`);
  //! 0 unless the objective has a term that reads it (`kl_full`, `T::uses_ref_logits`).
  T kl = 0;
};

//! What the batch-level parts of an objective (`BatchSurrogate`, `TokenGate`) see before the
//! fused pass: the whole (mini-)batch given to `loss_and_grad`, in host memory, length N each.
//! `logp` and `entropy` come from a forward-only pre-pass over the logits (the same values the
//! fused pass then uses); `old_logp` is the batch's, or `logp` when the batch has none
//! (on-policy); `weight` is the aggregation weight w_t (0: the token is not in the batch).
template <class T> struct batch_context {
  vector_view<const T> logp{};                //!< [N] log π_t of the current policy
  vector_view<const T> entropy{};             //!< [N] H_t
  vector_view<const T> old_logp{};            //!< [N] log π_old,t (= logp on-policy)
  vector_view<const T> rollout_logp{};        //!< [N] the rollout engine's log-probs; empty if not given
  vector_view<const T> adv{};                 //!< [N] A_t
  vector_view<const T> weight{};              //!< [N] aggregation weight w_t (0 = not in the batch)
  vector_view<const std::int32_t> seq{};      //!< [N] response index of each token, in [0, num_sequences)
  index_t num_sequences = 0;                  //!< B
  //! True if token t is in the batch (w_t ≠ 0).
  [[nodiscard]] bool active(index_t t) const { return weight[t] != T(0); }
};

//! Bits of `token_terms::flags`. The loss ORs them over terms and counts each bit over the
//! active tokens to report clip fractions and the KL clamp rate.
enum token_flag : std::uint8_t {
  clipped_low = 1,  //!< PPO: ρ < 1 − ε_low and the clipped branch was taken (A < 0)
  clipped_high = 2, //!< PPO: ρ > 1 + ε_high and the clipped branch was taken (A > 0)
  clipped_dual = 4, //!< PPO dual clip: −c·A was taken (A < 0)
  kl_clamped = 8,   //!< the k3 estimator hit its clamp
};

//! One term's contribution at a token: the loss and its partial derivatives with respect to the
//! three quantities the fused pass knows how to differentiate through (log π_t, H_t, the full
//! KL). The pass turns them into ∂ℓ/∂z_v with ∂ log π_y/∂z_v = 1[v=y] − p_v and
//! ∂H/∂z_v = −p_v (log p_v + H) (spec §4, §6), so a term never touches the logits itself.
template <class T> struct token_terms {
  T loss = 0;     //!< ℓ_t
  T dlogp = 0;    //!< ∂ℓ_t/∂ log π_t
  T dentropy = 0; //!< ∂ℓ_t/∂H_t
  //! OR of `token_flag` bits (what the term did at this token; diagnostics only).
  std::uint8_t flags = 0;
  T dkl = 0;      //!< ∂ℓ_t/∂KL_t (the exact full-vocabulary KL of `token_input::kl`; `kl_full` only)

  //! Sum of two terms at the same token: values and derivatives add (the loss is a sum of
  //! terms), flags OR together.
  RLVR_HD constexpr token_terms& operator+=(const token_terms& o) {
    loss += o.loss;
    dlogp += o.dlogp;
    dentropy += o.dentropy;
    flags = static_cast<std::uint8_t>(flags | o.flags);
    dkl += o.dkl;
    return *this;
  }
};


//! Inputs of an advantage estimator: one rollout batch of B responses and their N tokens.
//! The views are non-owning; the caller keeps the data alive during `estimate`.
//! Token t belongs to response `seq[t]`; a response's tokens appear in time order (not
//! necessarily contiguously). Views that an estimator does not use may be empty.
template <class T> struct advantage_input {
  vector_view<const T> rewards{};              //!< [B] verifier reward per response ({0, 1}, or ±1; NaN = unscored)
  vector_view<const std::int64_t> group_ids{}; //!< [B] prompt id per response, any values ≥ 0; empty = one group
  vector_view<const std::int32_t> seq{};       //!< [N] response index of each token, in [0, B)
  vector_view<const mask_t> mask{};            //!< [N] nonzero = a response token that counts; empty = all count
  vector_view<const T> values{};               //!< [N] value-head outputs V(s_t) at rollout (GAE only)
  vector_view<const T> old_logp{};             //!< [N] rollout log π (KL folded into rewards only)
  vector_view<const T> ref_logp{};             //!< [N] reference log π (KL folded into rewards only)
  vector_view<const T> baselines{};            //!< [B] per-response baseline b_i (ReMax: the greedy response's reward)
  matrix_view<const T> reward_components{};    //!< [R, B] several rewards per response (GDPO), one row per reward
};

//! Outputs of an advantage estimator (all caller-owned, sized by the caller; the estimator
//! writes every element of the views it fills and allocates nothing the caller sees).
template <class T> struct advantage_output {
  vector_view<T> advantages{};          //!< [N] A_t
  vector_view<mask_t> active{};         //!< [N] 1 if token t is in this estimator's batch: mask ∧ response kept
  vector_view<T> returns{};             //!< [N] value targets (GAE); may be empty for other estimators
  vector_view<T> response_advantages{}; //!< [B] optional: the per-response advantage (0 when dropped)
};

//! What an estimator reports about a batch (feeds the loss diagnostics).
struct advantage_report {
  index_t responses = 0;        //!< B
  index_t dropped = 0;          //!< responses removed from the batch (drop semantics, NaN rewards)
  index_t nan_rewards = 0;      //!< responses whose reward was NaN (always dropped)
  index_t groups = 0;           //!< distinct group ids
  index_t zero_std_groups = 0;  //!< groups whose rewards are all equal (GRPO-family: A = 0)
  index_t singleton_groups = 0; //!< groups of one response
  index_t filtered_groups = 0;  //!< groups removed by dynamic sampling (all rewards equal), their responses in `dropped`
  //! Fraction of groups with zero reward spread (0 when there are no groups).
  [[nodiscard]] double zero_std_fraction() const {
    return groups == 0 ? 0.0 : static_cast<double>(zero_std_groups) / static_cast<double>(groups);
  }
  //! Merges the report of another component of the same batch (a weighted sum's parts all see
  //! the same B responses): `responses` and `nan_rewards` are properties of the batch and take
  //! the maximum; drop and group counts add up over components.
  advantage_report& operator+=(const advantage_report& o) {
    responses = responses > o.responses ? responses : o.responses;
    dropped += o.dropped;
    nan_rewards = nan_rewards > o.nan_rewards ? nan_rewards : o.nan_rewards;
    groups += o.groups;
    zero_std_groups += o.zero_std_groups;
    singleton_groups += o.singleton_groups;
    filtered_groups += o.filtered_groups;
    return *this;
  }
};

//! How per-token losses are reduced to one number (spec §5).
enum class aggregation_mode : std::uint8_t {
  token_mean,              //!< Σ m ℓ / Σ m (denominator may be supplied globally)
  seq_mean_token_mean,     //!< mean_i( Σ_t m ℓ / Σ_t m )
  seq_mean_token_sum,      //!< mean_i( Σ_t m ℓ )
  seq_mean_token_sum_norm, //!< Σ m ℓ / (B · L_const)  (Dr. GRPO)
  token_sum,               //!< Σ m ℓ
};

//! Run-time options of the aggregation, supplied by the caller of the loss. The default (all
//! zero / null) uses the local counts of the batch passed to the loss, right when the loss sees
//! the whole batch at once; set the global counts when it is split into micro-batches or
//! across ranks (aggregation.hpp explains the reweighting this avoids). The pointers are
//! borrowed: they must stay valid for the duration of the loss call.
//! For a weighted sum of K objectives each component has its own active tokens and so its own
//! denominators: pass them per component (`advantage_result::global_counts()` computes them).
struct aggregation_options {
  double global_tokens = 0;    //!< > 0: token-mean denominator over the whole (global) batch
  double global_sequences = 0; //!< > 0: the B of the seq-mean modes over the whole batch
  const double* component_tokens = nullptr;    //!< [K] per-component global token counts; overrides global_tokens
  const double* component_sequences = nullptr; //!< [K] per-component global sequence counts; overrides global_sequences
};

//! A type T models `TokenTerm` if
//! 1. `t(in)` is a valid `constexpr` call for `const T& t` and `token_input<float>` /
//!    `token_input<double>` returning `token_terms<float>` / `token_terms<double>`,
//! 2. it declares `T::uses_old_logp`, `T::uses_ref_logp`, `T::uses_advantage` (bool constants)
//!    saying which inputs it reads, and
//! 3. `t.validate()` checks its numbers (throwing `rlvr::config_error`).
//! It must also be trivially copyable: objectives are copied by value into the fused pass,
//! which may run on a GPU, so a term holds plain numbers only (no pointers to host data, no
//! virtual functions), and its call is marked `RLVR_HD` to compile for both.
//! The `uses_*` constants say which inputs must be supplied: the loss raises
//! `rlvr::shape_error` when an objective that reads log π_ref gets no `ref_logp`, while a
//! missing `old_logp` means on-policy (old_logp = logp).
template <class T>
concept TokenTerm = std::is_trivially_copyable_v<T> &&
    requires(const T& t, const token_input<float>& f, const token_input<double>& d) {
      { t(f) } -> std::same_as<token_terms<float>>;
      { t(d) } -> std::same_as<token_terms<double>>;
      { T::uses_old_logp } -> std::convertible_to<bool>;
      { T::uses_ref_logp } -> std::convertible_to<bool>;
      { T::uses_advantage } -> std::convertible_to<bool>;
      t.validate();
    };

//! A type T models `Surrogate` if 1. it models `TokenTerm` and 2. it reads the advantage
//! (`T::uses_advantage`): it is the policy-gradient part of the loss.
template <class T>
concept Surrogate = TokenTerm<T> && T::uses_advantage;

//! A type T models `Regularizer` if 1. it models `TokenTerm` and 2. it does not read the
//! advantage (KL penalties, entropy bonus).
template <class T>
concept Regularizer = TokenTerm<T> && !T::uses_advantage;

//! A type T models `BatchSurrogate` if 1. it models `Surrogate` and 2. `t.prepare(ctx, stat)`
//! (host) fills `stat` [N] from a `batch_context<float>` / `batch_context<double>`; the fused
//! pass then hands stat[t] to the per-token call as `token_input::stat`. This is how a
//! surrogate that needs the whole sequence (GSPO's sequence ratio) or the whole batch
//! (Clip-Cov's covariance selection) stays a per-token `RLVR_HD` functor.
template <class T>
concept BatchSurrogate = Surrogate<T> && requires(const T& t, const batch_context<float>& f, vector_view<float> sf,
                                                  const batch_context<double>& d, vector_view<double> sd) {
  t.prepare(f, sf);
  t.prepare(d, sd);
};

//! A type G models `TokenGate` if
//! 1. it is trivially copyable and `G::is_gate` is true,
//! 2. `g.apply(ctx, gate)` (host) multiplies `gate` [N] (initially 1) by its per-token factor
//!    for `batch_context<float>` / `batch_context<double>`,
//! 3. it declares `G::uses_old_logp`, `G::uses_ref_logp`, `G::uses_rollout_logp` (bool constants),
//! 4. `g.validate()` checks its numbers.
//! A gate multiplies the surrogate only (not the regularisers): rollout–trainer mismatch
//! corrections (TIS, masks) and token selection (high-entropy tokens) are gates.
template <class G>
concept TokenGate = std::is_trivially_copyable_v<G> &&
    requires(const G& g, const batch_context<float>& f, vector_view<float> sf, const batch_context<double>& d,
             vector_view<double> sd) {
      requires G::is_gate;
      g.apply(f, sf);
      g.apply(d, sd);
      { G::uses_old_logp } -> std::convertible_to<bool>;
      { G::uses_ref_logp } -> std::convertible_to<bool>;
      { G::uses_rollout_logp } -> std::convertible_to<bool>;
      g.validate();
    };

//! A type T models `Aggregation` if 1. `T::mode` is an `aggregation_mode` constant and
//! 2. `a.length()` gives the constant L of `seq_mean_token_sum_norm` (ignored by other modes) and
//! 3. `a.validate()` checks its numbers.
template <class T>
concept Aggregation = requires(const T& a) {
  { T::mode } -> std::convertible_to<aggregation_mode>;
  { a.length() } -> std::convertible_to<double>;
  a.validate();
};

//! A type E models `AdvantageEstimator` if, for `const E& e`,
//! 1. `e.estimate(in, out)` is valid for `advantage_input<T>` / `advantage_output<T>` with T =
//!    float and double, and returns an `advantage_report`;
//! 2. `e.validate()` checks its numbers (throwing `rlvr::config_error`);
//! 3. `E::needs_values` says whether it reads `values` (GAE) and `E::needs_group_ids` whether it
//!    needs group ids.
//! `estimate` fills `out.advantages`, `out.active` (and `out.returns` where it produces them) for
//! all N tokens; a token that is not active has advantage 0.
template <class E>
concept AdvantageEstimator = requires(const E& e, const advantage_input<float>& fi, const advantage_output<float>& fo,
                                      const advantage_input<double>& di, const advantage_output<double>& d_o) {
  { e.estimate(fi, fo) } -> std::same_as<advantage_report>;
  { e.estimate(di, d_o) } -> std::same_as<advantage_report>;
  e.validate();
  { E::needs_values } -> std::convertible_to<bool>;
  { E::needs_group_ids } -> std::convertible_to<bool>;
};

//! A type O models `Objective` if, for `const O& o`,
//! 1. `O::components` (≥ 1) is the number of (estimator, aggregation) pairs it combines (1 for a
//!    plain objective, K for a weighted sum of K plain ones), and `O::uses_old_logp`,
//!    `O::uses_ref_logp`, `O::needs_values`, `O::needs_group_ids`, `O::needs_seq` are bool constants;
//! 2. `o.estimate(in, advantages, active, returns)` fills [K, N] advantage and active matrices
//!    (row k = component k) and returns an `advantage_report`;
//! 3. `o.weights(active, seq, num_sequences, options, weights)` fills the [K, N] aggregation
//!    weights w_kt (so that the loss is Σ_k Σ_t w_kt ℓ_kt);
//! 4. `o.token(adv, w, stride, in)` (RLVR_HD) returns the weighted token terms
//!    Σ_k w_kt · ℓ_k(in with A = adv[k·stride]), reading adv and w at `k·stride`;
//! 5. `o.validate()` checks every number.
//! Models: `rlvr::objective<…>` and `rlvr::weighted_sum<…>` (`rlvr/objectives/objective.hpp`).
//! The [K, N] layout lets a weighted sum hand each component its own row: `stride` is the row
//! stride of the advantage and weight matrices: with `adv` and `w` pointing at token t of
//! row 0, component k reads adv[k·stride] and w[k·stride].
template <class O>
concept Objective = requires(const O& o, const advantage_input<float>& in, matrix_view<float> adv,
                             matrix_view<std::uint8_t> act, vector_view<float> ret,
                             matrix_view<const std::uint8_t> cact, vector_view<const std::int32_t> seq,
                             const aggregation_options& opt, const float* ap, const float* wp,
                             const token_input<float>& ti) {
  { O::components } -> std::convertible_to<index_t>;
  requires O::components >= 1;
  { O::uses_old_logp } -> std::convertible_to<bool>;
  { O::uses_ref_logp } -> std::convertible_to<bool>;
  { O::needs_values } -> std::convertible_to<bool>;
  { O::needs_group_ids } -> std::convertible_to<bool>;
  { O::needs_seq } -> std::convertible_to<bool>;
  { o.estimate(in, adv, act, ret) } -> std::same_as<advantage_report>;
  o.weights(cact, seq, index_t{}, opt, adv);
  { o.token(ap, wp, index_t{}, ti) } -> std::same_as<token_terms<float>>;
  o.validate();
};

} // namespace rlvr
