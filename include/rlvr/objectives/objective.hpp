#pragma once
//! \file rlvr/objectives/objective.hpp
//! \brief Compile-time composition of objectives, weighted sums, and the ready-made objectives.
//!
//! An objective is *advantage estimator × surrogate × aggregation × regularisers* (STYLE §2):
//!
//!     auto obj = rlvr::make_objective(rlvr::group_zscore{.eps = 1e-6},
//!                                     rlvr::ppo_clip{.eps_low = 0.2, .eps_high = 0.28},
//!                                     rlvr::token_mean{},
//!                                     rlvr::kl_k3{.beta = 1e-3}, rlvr::entropy_bonus{.coef = 1e-3});
//!
//! The per-token loss of a plain objective is ℓ_t = S(A_t, ρ_t) + Σ_r R_r(log π_t, log π_ref,t, H_t)
//! and the objective's loss is L = Σ_t w_t ℓ_t with the aggregation weights w_t.
//!
//! A **weighted sum** Σ_k λ_k·O_k of objectives is an objective with K components: component k
//! has its own advantages, active tokens and aggregation weights, and L = Σ_k λ_k L_k:
//!
//!     auto obj = 0.1 * rlvr::psr({.unused = rlvr::unused_side::zero})
//!                    + rlvr::nsr({.unused = rlvr::unused_side::zero}); // == w_reinforce(0.1)
//!
//! **Ready-made objectives** (spec §2's table; the paper's settings are the defaults):
//!
//! | function        | estimator                        | surrogate  | aggregation              | regularisers |
//! |-----------------|----------------------------------|------------|--------------------------|--------------|
//! | `psr`           | sign_split{+1, 0}, drop          | ppo_clip   | token_mean               | —            |
//! | `nsr`           | sign_split{0, −1}, drop          | ppo_clip   | token_mean               | —            |
//! | `w_reinforce`   | sign_split{+λ, −1}, λ = 0.1      | ppo_clip   | token_mean               | —            |
//! | `reinforce`     | sign_split{+1, −1}               | reinforce_surrogate | token_mean               | —            |
//! | `ppo`           | gae (k1 in the reward, β = 1e-3) | ppo_clip   | token_mean               | entropy (c_H = 0) |
//! | `grpo`          | group_zscore (ε = 1e-6)          | ppo_clip   | token_mean               | kl_k3 (β = 1e-3), entropy (c_H = 0) |
//! | `dr_grpo`       | group_mean_baseline              | ppo_clip   | seq_mean_token_sum_norm  | entropy (c_H = 0) |
//!
//! `psr`, `nsr` and `w_reinforce` return the same type, `objective<sign_split, ppo_clip,
//! token_mean>`, differing only in the estimator's numbers: a run-time choice among them needs
//! no variant or virtual call. Each ready-made also has a config aggregate and a type alias
//! (`psr_config`, `psr_objective`, …) below.
//!
//! The reference code runs PSR, NSR and W-REINFORCE through the PPO clip (spec §3), so they do
//! here; with no old log-probs (on-policy) the clip is inactive and the gradient is REINFORCE's.
//! A ready-made objective takes more regularisers with `with_regularizers`:
//! `rlvr::with_regularizers(rlvr::psr(), rlvr::entropy_bonus{.coef = 1e-3})`.
//!
//! **How the loss uses an objective** (rlvr/loss.hpp): `estimate_advantages(obj, in)` calls
//! `obj.estimate` once per rollout batch and owns the [K, N] advantages and active flags;
//! `loss_and_grad(backend, obj, batch, grad, opts)` calls `obj.validate()`, then `obj.weights`
//! for the aggregation weights, then `obj.token` for every token inside the fused pass.
//! Objectives are small trivially-copyable aggregates (numbers only), cheap to copy and passed
//! by value into kernels; all their member functions are `const` and keep no state, so one
//! objective may serve any number of threads and calls. A type's structure never changes at run
//! time: to switch between, say, PSR and NSR at run time, hold both objectives.
//!
//! **Errors.** Composition mistakes are compile errors naming the rule (`make_objective`,
//! `with_regularizers`, `weighted_sum`; tests/objectives/compile_fail_*.cpp). Bad numbers
//! (ε outside its range, β < 0, a non-finite λ) raise `rlvr::config_error` from `validate()`,
//! which every loss entry point calls.

#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <utility>

#include "rlvr/config.hpp"
#include "rlvr/objectives/advantages.hpp"
#include "rlvr/objectives/aggregation.hpp"
#include "rlvr/objectives/batch_terms.hpp"
#include "rlvr/objectives/concepts.hpp"
#include "rlvr/objectives/terms.hpp"
#include "rlvr/view.hpp"

namespace rlvr {

namespace detail {
// Optional traits: a part declares them only when they are true, so each reads as false when
// the member is absent (the concepts do not require them).
//! True for parts that are KL penalties (`T::is_kl`).
template <class T> constexpr bool is_kl_term() {
  if constexpr (requires { T::is_kl; }) return T::is_kl;
  else return false;
}
//! True for surrogates whose ratio is per sequence (`T::sequence_level`).
template <class T> constexpr bool is_sequence_level() {
  if constexpr (requires { T::sequence_level; }) return T::sequence_level;
  else return false;
}
//! True for parts that read the rollout engine's log-probs (`T::uses_rollout_logp`).
template <class T> constexpr bool uses_rollout() {
  if constexpr (requires { T::uses_rollout_logp; }) return T::uses_rollout_logp;
  else return false;
}
//! True for parts (and objectives) that read the reference policy's whole logits rows
//! (`T::uses_ref_logits`: `kl_full`, the exact full-vocabulary KL).
template <class T> constexpr bool uses_ref_logits() {
  if constexpr (requires { T::uses_ref_logits; }) return T::uses_ref_logits;
  else return false;
}

//! A tiny trivially-copyable tuple of token terms and gates (std::tuple is not trivially
//! copyable, and objectives travel by value into GPU kernels). Gates add nothing per token:
//! they act through `token_input::gate`, prepared by `apply_gates`.
//! The empty list is the recursion's end: it contributes nothing and requires nothing. The
//! non-empty list holds its first part as `head` and the rest as `tail`, and folds each
//! trait over the parts (OR for the `uses_*` flags, a count for the KL terms).
template <class... R> struct term_list {
  static constexpr bool uses_old_logp = false;
  static constexpr bool uses_ref_logp = false;
  static constexpr bool uses_rollout_logp = false;
  static constexpr bool uses_ref_logits = false;
  static constexpr bool has_gates = false;
  static constexpr int kl_terms = 0;
  template <class T> RLVR_HD constexpr void add(const token_input<T>&, token_terms<T>&) const {}
  template <class T> void apply_gates(const batch_context<T>&, vector_view<T>) const {}
  void validate() const {}
};
template <class H, class... R> struct term_list<H, R...> {
  H head{};
  term_list<R...> tail{};
  static constexpr bool uses_old_logp = H::uses_old_logp || term_list<R...>::uses_old_logp;
  static constexpr bool uses_ref_logp = H::uses_ref_logp || term_list<R...>::uses_ref_logp;
  static constexpr bool uses_rollout_logp = uses_rollout<H>() || term_list<R...>::uses_rollout_logp;
  static constexpr bool uses_ref_logits = detail::uses_ref_logits<H>() || term_list<R...>::uses_ref_logits;
  static constexpr bool has_gates = TokenGate<H> || term_list<R...>::has_gates;
  static constexpr int kl_terms = (is_kl_term<H>() ? 1 : 0) + term_list<R...>::kl_terms;
  //! acc += Σ over the regularisers of their token terms (gates skipped), in list order.
  template <class T> RLVR_HD constexpr void add(const token_input<T>& in, token_terms<T>& acc) const {
    if constexpr (!TokenGate<H>) acc += head(in);
    tail.add(in, acc);
  }
  //! gate[t] *= each gate's factor, in list order (host; the product is order-independent up
  //! to float rounding, and the order is fixed, so results are reproducible).
  template <class T> void apply_gates(const batch_context<T>& ctx, vector_view<T> gate) const {
    if constexpr (TokenGate<H>) head.apply(ctx, gate);
    tail.apply_gates(ctx, gate);
  }
  void validate() const {
    head.validate();
    tail.validate();
  }
};
//! Builds a term_list from parts, keeping their order (brace-initialisation of the nested
//! head/tail aggregate).
template <class H, class... R> constexpr term_list<H, R...> make_term_list(H h, R... r) {
  if constexpr (sizeof...(R) == 0) return {h, {}};
  else return {h, make_term_list(r...)};
}
inline constexpr term_list<> make_term_list() { return {}; }

//! w·r: loss and all derivatives scaled by w (the weight is a constant of the loss, so the
//! chain rule is a plain product); the flags are facts about the token and are kept as they are.
template <class T> RLVR_HD constexpr token_terms<T> scaled(const token_terms<T>& r, T w) {
  return {w * r.loss, w * r.dlogp, w * r.dentropy, r.flags, w * r.dkl};
}
} // namespace detail

//! A type T models `ObjectivePart` if it models `Regularizer` (a token term added to every
//! token's loss) or `TokenGate` (a per-token factor on the surrogate): the parts that may follow
//! the aggregation in `make_objective` and `with_regularizers`.
template <class T>
concept ObjectivePart = Regularizer<T> || TokenGate<T>;

//! A plain objective: estimator E, surrogate S, aggregation A and regularisers R… (structure at
//! compile time, numbers in the members). Build one with `make_objective` or a ready-made.
//! One component (K = 1); per token, with w_t the aggregation weight and g_t the product of
//! the gates (1 without gates):
//!   w_t·ℓ_t = w_t·( g_t·S(A_t, ρ_t) + Σ_r R_r(log π_t, log π_ref,t, H_t) ).
//! The members are public so that a configured objective can be inspected or adjusted (e.g.
//! `obj.surrogate.eps_high = 0.28`) before the next loss call; `validate()` checks the result.
template <AdvantageEstimator E, Surrogate S, Aggregation A, ObjectivePart... R> struct objective {
  //! Turns rewards into per-token advantages A_t and active flags.
  E estimator{};
  //! The policy-gradient term S(A_t, ρ_t).
  S surrogate{};
  //! The weights w_t (spec §5).
  A aggregation{};
  detail::term_list<R...> regularizers{}; //!< regularisers and gates, in the order given

  // Traits read by the loss to decide which inputs are required (`Objective` concept).
  static constexpr index_t components = 1;
  static constexpr bool uses_old_logp = S::uses_old_logp || detail::term_list<R...>::uses_old_logp;
  static constexpr bool uses_ref_logp = S::uses_ref_logp || detail::term_list<R...>::uses_ref_logp;
  static constexpr bool uses_rollout_logp = detail::term_list<R...>::uses_rollout_logp;
  //! A regulariser reads the reference logits rows (`kl_full`): `loss_token_batch::ref_logits`.
  static constexpr bool uses_ref_logits = detail::term_list<R...>::uses_ref_logits;
  static constexpr bool needs_values = E::needs_values;
  static constexpr bool needs_group_ids = E::needs_group_ids;
  //! The seq-mean aggregations count tokens per response, so the loss needs `seq`.
  static constexpr bool needs_seq = A::mode != aggregation_mode::token_mean && A::mode != aggregation_mode::token_sum;
  //! The loss runs `prepare_context` (after a forward-only pre-pass) before the fused pass.
  static constexpr bool has_batch_context = BatchSurrogate<S> || detail::term_list<R...>::has_gates;

  //! ℓ_t before weighting: gate·surrogate + regularisers.
  //! The gate multiplies loss, dlogp and dentropy of the surrogate only; the surrogate's `dkl`
  //! is 0 (only `kl_full` sets it) and the regularisers are added after gating, ungated.
  template <class T> RLVR_HD constexpr token_terms<T> unweighted(const token_input<T>& in) const {
    token_terms<T> r = surrogate(in);
    if constexpr (detail::term_list<R...>::has_gates) {
      r.loss *= in.gate;
      r.dlogp *= in.gate;
      r.dentropy *= in.gate;
    }
    regularizers.add(in, r);
    return r;
  }
  //! Fills the per-token `stat` (the surrogate's, when it is a `BatchSurrogate`) and `gate`
  //! (product of the gates; start from 1) from the batch (host, length N each).
  template <class T> void prepare_context(const batch_context<T>& ctx, vector_view<T> stat, vector_view<T> gate) const {
    if constexpr (BatchSurrogate<S>) surrogate.prepare(ctx, stat);
    regularizers.apply_gates(ctx, gate);
  }
  //! w_t·ℓ_t with A_t = adv[0], w_t = w[0] (zero and flag-free when w_t = 0).
  template <class T>
  //! The early return keeps an inactive token's terms out whatever its ratio or KL (0·inf
  //! would be NaN).
  //! `stride` is unused (one component); `in` is taken by value because its `adv` is replaced.
  RLVR_HD constexpr token_terms<T> token(const T* adv, const T* w, index_t /*stride*/, token_input<T> in) const {
    if (w[0] == T(0)) return {};
    in.adv = adv[0];
    return detail::scaled(unweighted(in), w[0]);
  }
  //! Runs the estimator into row 0 of the [1, N] `adv` and `active` matrices (and `returns`,
  //! [N] or empty, for GAE). Same errors as the estimator's `estimate`.
  template <class T>
  advantage_report estimate(const advantage_input<T>& in, matrix_view<T> adv, matrix_view<std::uint8_t> active,
                            vector_view<T> returns) const {
    return estimator.estimate(in, advantage_output<T>{adv.row(0), active.row(0), returns, {}});
  }
  //! Fills row 0 of `w` [1, N] with the aggregation weights of the active tokens
  //! (`aggregation_weights`, aggregation.hpp).
  template <class T>
  void weights(matrix_view<const std::uint8_t> active, vector_view<const std::int32_t> seq, index_t num_sequences,
               const aggregation_options& opt, matrix_view<T> w) const {
    aggregation_weights(aggregation, active.row(0), seq, num_sequences, opt, w.row(0));
  }
  //! Validates every part in order (estimator, surrogate, aggregation, regularisers and gates);
  //! the first bad number raises `rlvr::config_error` naming the part and the value.
  void validate() const {
    estimator.validate();
    surrogate.validate();
    aggregation.validate();
    regularizers.validate();
  }
};

//! Builds `objective<E, S, A, R…>`; each part is checked with a message naming the piece, and
//! the composition rules are checked with a message naming the rule:
//! - *one KL term*: at most one of kl_k1, kl_k2, kl_k3, kl_k3_plus, kl_full (two penalise the same
//!   divergence twice: keep one and combine the β);
//! - *sequence ratio needs seq_mean_token_mean*: a sequence-level surrogate (gspo, gmpo) must be
//!   averaged per sequence; token_sum / seq_mean_token_sum weight a response's loss by its length
//!   (GSPO §4.1 forbids it) and token_mean / seq_mean_token_sum_norm by its token share.
//! The parts are taken by value and copied into the result, in the order given (the order of
//! the regularisers is the order their terms are summed in, which matters only to rounding).
//! Nothing is checked at run time here: call `validate()` (the loss does) to check the numbers.
//!
//!   auto obj = rlvr::make_objective(rlvr::rloo{}, rlvr::cispo{}, rlvr::token_mean{},
//!                                   rlvr::kl_k3_plus{.beta = 1e-3});
template <class E, class S, class A, class... R> constexpr auto make_objective(E e, S s, A a, R... r) {
  static_assert(AdvantageEstimator<E>, "rlvr::make_objective: the first part must model rlvr::AdvantageEstimator "
                                       "(sign_split, group_zscore, group_mean_baseline, rloo, whitened<...>, gae, "
                                       "dynamic_sampling<...>, overlong_penalty<...>, remax, opo, gdpo)");
  static_assert(Surrogate<S>, "rlvr::make_objective: the second part must model rlvr::Surrogate, a token term "
                              "that reads the advantage (reinforce_surrogate, ppo_clip, cispo, sapo, gspo, gmpo, "
                              "clip_cov, kl_cov)");
  static_assert(Aggregation<A>, "rlvr::make_objective: the third part must model rlvr::Aggregation (token_mean, "
                                "seq_mean_token_mean, seq_mean_token_sum, seq_mean_token_sum_norm, token_sum)");
  static_assert((ObjectivePart<R> && ...), "rlvr::make_objective: every part after the aggregation must model "
                                           "rlvr::Regularizer (kl_k1, kl_k2, kl_k3, kl_k3_plus, kl_full, entropy_bonus) or "
                                           "rlvr::TokenGate (tis, rollout_mask, sequence_divergence_mask, entropy_top)");
  static_assert(detail::term_list<R...>::kl_terms <= 1,
                "rlvr::make_objective: rule 'one KL term': the objective has two KL penalties (kl_k1, kl_k2, "
                "kl_k3, kl_k3_plus, kl_full); keep one and combine the coefficients");
  static_assert(!detail::is_sequence_level<S>() || A::mode == aggregation_mode::seq_mean_token_mean,
                "rlvr::make_objective: rule 'sequence ratio needs seq_mean_token_mean': a sequence-level surrogate "
                "(gspo, gmpo) must be aggregated with rlvr::seq_mean_token_mean; token_sum weights each response "
                "by its length, which GSPO forbids");
  // Only build when every part fits: after a failed static_assert the compiler would otherwise
  // add pages of errors from instantiating objective<> with the wrong types.
  if constexpr (AdvantageEstimator<E> && Surrogate<S> && Aggregation<A> && (ObjectivePart<R> && ...))
    return objective<E, S, A, R...>{e, s, a, detail::make_term_list(r...)};
}

namespace detail {
//! term_list<R…> followed by the parts n…: term_list<R…, N…>, in that order.
template <class... R, class... N> constexpr term_list<R..., N...> append_terms(const term_list<R...>& l, N... n) {
  if constexpr (sizeof...(R) == 0) return make_term_list(n...);
  else return {l.head, append_terms(l.tail, n...)};
}
//! True for `objective<E, S, A, R…>` (the types `with_regularizers` can extend).
template <class O> struct is_plain_objective : std::false_type {};
template <class E, class S, class A, class... R> struct is_plain_objective<objective<E, S, A, R...>> : std::true_type {};
//! `o` with the parts n… appended after its regularisers; everything else copied.
template <class E, class S, class A, class... R, class... N>
constexpr objective<E, S, A, R..., N...> append_parts(const objective<E, S, A, R...>& o, N... n) {
  return {o.estimator, o.surrogate, o.aggregation, append_terms(o.regularizers, n...)};
}
} // namespace detail

template <Objective... O> struct weighted_sum;

namespace detail {
//! True for `weighted_sum<…>` (refused by `with_regularizers`).
template <class O> struct is_weighted_sum : std::false_type {};
template <class... O> struct is_weighted_sum<weighted_sum<O...>> : std::true_type {};
} // namespace detail

//! A plain objective with more regularisers (or token gates): `objective<E, S, A, R…>` and parts
//! N… give `objective<E, S, A, R…, N…>`, the estimator, surrogate, aggregation and existing parts
//! copied unchanged and the new parts appended, so the per-token loss becomes
//! ℓ_t = S(A_t, ρ_t) + Σ_r R_r + Σ_n N_n. This is how a ready-made objective gets an entropy bonus
//! or a KL penalty:
//!
//!     auto obj = rlvr::with_regularizers(rlvr::psr({.clip = clip}), rlvr::entropy_bonus{.coef = 1e-3});
//!     // same type, loss and gradient as
//!     // make_objective(sign_split{1, 0, unused_side::drop}, clip, token_mean{}, entropy_bonus{.coef = 1e-3})
//!
//! The result is the one `make_objective` builds from all the parts, so its arithmetic is the
//! same bit for bit. Compile-time checks, each naming what is wrong: the first argument must be a
//! plain `rlvr::objective` (a `weighted_sum` is refused: add the parts to a component before
//! summing, which makes their weight explicit); each part must model `Regularizer` or
//! `TokenGate`; rule 'one KL term' holds for the combined list.
template <class O, class... N> constexpr auto with_regularizers(const O& o, N... parts) {
  static_assert(!detail::is_weighted_sum<O>::value,
                "rlvr::with_regularizers: the objective is a rlvr::weighted_sum (lambda * O1 + O2); add the "
                "regularisers to a component before summing, e.g. with_regularizers(psr(), entropy_bonus{...}) + "
                "nsr(), so that the weight they get is explicit");
  static_assert(detail::is_plain_objective<O>::value || detail::is_weighted_sum<O>::value,
                "rlvr::with_regularizers: the first argument must be a plain rlvr::objective<E, S, A, R...> (from "
                "make_objective or a ready-made such as psr, nsr, w_reinforce, grpo)");
  static_assert((ObjectivePart<N> && ...), "rlvr::with_regularizers: every part after the objective must model "
                                           "rlvr::Regularizer (kl_k1, kl_k2, kl_k3, kl_k3_plus, kl_full, entropy_bonus) "
                                           "or rlvr::TokenGate (tis, rollout_mask, sequence_divergence_mask, entropy_top)");
  if constexpr (detail::is_plain_objective<O>::value && (ObjectivePart<N> && ...)) {
    using result = decltype(detail::append_parts(o, parts...));
    static_assert(decltype(result::regularizers)::kl_terms <= 1,
                  "rlvr::with_regularizers: rule 'one KL term': the objective and the new parts hold two KL "
                  "penalties (kl_k1, kl_k2, kl_k3, kl_k3_plus, kl_full); keep one and combine the coefficients");
    static_assert(Objective<result>);
    return detail::append_parts(o, parts...);
  }
}

namespace detail {
//! The parts of a weighted sum, as a head/tail list (std::tuple is not trivially copyable).
//! Each operation walks the list with `first`, the index of the head's first component row in
//! the [K, N] matrices, so that a part that is itself a weighted sum gets a block of rows.
//! The empty list ends the recursion.
template <class... O> struct objective_list {
  static constexpr index_t components = 0;
  static constexpr bool uses_old_logp = false, uses_ref_logp = false, uses_ref_logits = false, needs_values = false,
                        needs_group_ids = false, needs_seq = false;
  template <class T>
  RLVR_HD constexpr void token(const double*, const T*, const T*, index_t, const token_input<T>&, token_terms<T>&) const {}
  template <class T>
  void estimate(const advantage_input<T>&, matrix_view<T>, matrix_view<std::uint8_t>, vector_view<T>, index_t,
                advantage_report&) const {}
  template <class T>
  void weights(matrix_view<const std::uint8_t>, vector_view<const std::int32_t>, index_t, const aggregation_options&,
               matrix_view<T>, index_t) const {}
  void validate() const {}
};
template <class H, class... O> struct objective_list<H, O...> {
  using rest = objective_list<O...>;
  H head{};
  rest tail{};
  // Each trait folds the head's into the tail's: a count for K, OR for the input flags.
  static constexpr index_t components = H::components + rest::components;
  static constexpr bool uses_old_logp = H::uses_old_logp || rest::uses_old_logp;
  static constexpr bool uses_ref_logp = H::uses_ref_logp || rest::uses_ref_logp;
  static constexpr bool uses_ref_logits = detail::uses_ref_logits<H>() || rest::uses_ref_logits;
  static constexpr bool needs_values = H::needs_values || rest::needs_values;
  static constexpr bool needs_group_ids = H::needs_group_ids || rest::needs_group_ids;
  static constexpr bool needs_seq = H::needs_seq || rest::needs_seq;
  //! acc += λ_head·head.token(…), then the tail with λ, adv and w advanced past the head's
  //! components. A part with λ = 0 is not evaluated at all, so its terms cannot bring a NaN
  //! into the sum (0·NaN would).
  template <class T>
  RLVR_HD constexpr void token(const double* lambda, const T* adv, const T* w, index_t stride,
                               const token_input<T>& in, token_terms<T>& acc) const {
    if (lambda[0] != 0.0) acc += scaled(head.token(adv, w, stride, in), static_cast<T>(lambda[0]));
    tail.token(lambda + 1, adv + H::components * stride, w + H::components * stride, stride, in, acc);
  }
  //! Runs each part's estimator on its block of rows and merges the reports
  //! (`advantage_report::operator+=`). Every part writes the same `ret`: with two parts that
  //! produce returns (two GAE components), the last one's are kept.
  template <class T>
  void estimate(const advantage_input<T>& in, matrix_view<T> adv, matrix_view<std::uint8_t> act, vector_view<T> ret,
                index_t first, advantage_report& rep) const {
    rep += head.estimate(in, adv.block_rows(first, H::components), act.block_rows(first, H::components), ret);
    tail.estimate(in, adv, act, ret, first + H::components, rep);
  }
  //! Each part fills its own block of weight rows from its own block of active rows; the
  //! per-component global counts are offset the same way, so each part sees its counts at [0].
  template <class T>
  void weights(matrix_view<const std::uint8_t> act, vector_view<const std::int32_t> seq, index_t ns,
               const aggregation_options& opt, matrix_view<T> w, index_t first) const {
    aggregation_options head_opt = opt; // per-component counts: the head's start at `first`
    if (opt.component_tokens) head_opt.component_tokens = opt.component_tokens + first;
    if (opt.component_sequences) head_opt.component_sequences = opt.component_sequences + first;
    head.weights(act.block_rows(first, H::components), seq, ns, head_opt, w.block_rows(first, H::components));
    tail.weights(act, seq, ns, opt, w, first + H::components);
  }
  void validate() const {
    head.validate();
    tail.validate();
  }
};
} // namespace detail

namespace detail {
//! Optional objective traits (only plain objectives declare them), false when absent.
template <class O> constexpr bool has_batch_context() {
  if constexpr (requires { O::has_batch_context; }) return O::has_batch_context;
  else return false;
}
template <class O> constexpr bool uses_rollout_logp() {
  if constexpr (requires { O::uses_rollout_logp; }) return O::uses_rollout_logp;
  else return false;
}
} // namespace detail

//! Σ_k λ_k·O_k: an objective whose components are those of its parts, in order. Advantages,
//! active flags and weights are [K, N] matrices, one row per component. Per token,
//!   Σ_k λ_k·w_kt·ℓ_kt,   L = Σ_k λ_k·L_k,
//! each component with its own advantages, active tokens and aggregation denominators (pass
//! per-component global counts through `aggregation_options::component_tokens`). K is the sum of
//! the parts' components, so sums nest: `0.5 * (a + b)` has K = 2 and one λ for the pair.
//! Build with `λ * O` and `O₁ + O₂`, or aggregate-initialise `{parts, {λ…}}`. The cost per token
//! is the sum of the parts' costs (a part with λ = 0 costs nothing); memory is K rows of
//! advantages, flags and weights. Batch-level parts are refused (rule below): the loss's
//! pre-pass that fills `token_input::stat` and `gate` runs for plain objectives only.
//!
//!   auto obj = 0.1 * rlvr::psr() + rlvr::nsr();          // K = 2, paper's drop semantics
//!   auto adv = rlvr::estimate_advantages(obj, in);      // [2, N]
template <Objective... O> struct weighted_sum {
  // Rule 'batch-level parts need a plain objective' (compile_fail:objective_batch_part_in_sum).
  static_assert((!detail::has_batch_context<O>() && ...),
                "rlvr::weighted_sum: rule 'batch-level parts need a plain objective': a component uses a "
                "sequence/batch-level surrogate (gspo, gmpo, clip_cov, kl_cov) or a token gate (tis, "
                "rollout_mask, sequence_divergence_mask, entropy_top); use it as a plain objective");
  //! The summed objectives, in order.
  detail::objective_list<O...> parts{};
  //! λ per part (not per component), any finite value including negative ones and 0 (which
  //! switches the part off); `validate()` raises `config_error` for a NaN or infinite λ.
  double lambda[sizeof...(O)]{};

  // Traits: K = Σ of the parts' components; every input flag is the OR over the parts, so the
  // loss requires an input as soon as one component reads it.
  static constexpr index_t components = detail::objective_list<O...>::components;
  static constexpr bool uses_old_logp = detail::objective_list<O...>::uses_old_logp;
  static constexpr bool uses_ref_logp = detail::objective_list<O...>::uses_ref_logp;
  static constexpr bool uses_ref_logits = detail::objective_list<O...>::uses_ref_logits;
  static constexpr bool needs_values = detail::objective_list<O...>::needs_values;
  static constexpr bool needs_group_ids = detail::objective_list<O...>::needs_group_ids;
  static constexpr bool needs_seq = detail::objective_list<O...>::needs_seq;

  //! Σ_k λ_k·w_kt·ℓ_kt for one token; adv and w point at this token's entry of row 0 and
  //! component k reads them at k·stride. Flags are OR-ed over the components.
  template <class T>
  RLVR_HD constexpr token_terms<T> token(const T* adv, const T* w, index_t stride, const token_input<T>& in) const {
    token_terms<T> acc{};
    parts.token(lambda, adv, w, stride, in, acc);
    return acc;
  }
  //! Fills the K rows of `adv` and `active` ([K, N]), each part's estimator on the same input;
  //! the merged report counts every component's drops and groups.
  template <class T>
  advantage_report estimate(const advantage_input<T>& in, matrix_view<T> adv, matrix_view<std::uint8_t> active,
                            vector_view<T> returns) const {
    advantage_report rep;
    parts.estimate(in, adv, active, returns, 0, rep);
    return rep;
  }
  //! Fills the K rows of `w` from the K rows of `active`; `opt.component_tokens` /
  //! `component_sequences`, when set, must point at K counts (component k reads element k).
  template <class T>
  void weights(matrix_view<const std::uint8_t> active, vector_view<const std::int32_t> seq, index_t num_sequences,
               const aggregation_options& opt, matrix_view<T> w) const {
    parts.weights(active, seq, num_sequences, opt, w, 0);
  }
  //! Raises `config_error` for a non-finite λ, then validates every part.
  void validate() const {
    for (double l : lambda)
      RLVR_EXPECTS(std::isfinite(l), config, "weighted_sum: weight ", l, " is not finite");
    parts.validate();
  }
};

//! λ·O as a one-part weighted sum. Applied to a weighted sum it nests (one λ for all its
//! components): λ·(O₁ + O₂) is `weighted_sum<weighted_sum<O₁, O₂>>` with weights λ·1, λ·1.
template <Objective O> constexpr weighted_sum<O> operator*(double lambda, const O& o) { return {{o, {}}, {lambda}}; }
//! O₁ + O₂ as a two-part weighted sum with unit weights. Sums nest rather than flatten:
//! a + b + c is `weighted_sum<weighted_sum<A, B>, C>`, with K = 3 components in the order
//! a, b, c and the same loss as a flat sum.
template <Objective A, Objective B> constexpr weighted_sum<A, B> operator+(const A& a, const B& b) {
  return {{a, {b, {}}}, {1.0, 1.0}};
}

// ---- ready-made objectives ---------------------------------------------------------------------
// Each ready-made is a config aggregate (the numbers a user changes, defaults = the paper's),
// an alias naming the objective type (so it can be stored in a member without `auto`) and a
// function building it. The function checks nothing: the loss calls `validate()`.

//! Positive sample reinforcement (spec §2): raise correct responses (A = +1). In the paper PSR
//! alone improves Pass@1 but narrows the output distribution (Pass@k falls below the base
//! model for large k; spec §9).
struct psr_config {
  unused_side unused = unused_side::drop; //!< incorrect responses: dropped (paper) or A = 0
  //! The surrogate; ε = 0.2 as in the reference code. Inactive on-policy (ρ = 1).
  ppo_clip clip{};
};
//! `sign_split{+1, 0, unused}` × `ppo_clip` × `token_mean`: A = +1 on every token of a correct
//! response (reward > 0). With `drop` the token-mean runs over the correct responses' tokens only.
//!
//!   auto obj = rlvr::psr({.unused = rlvr::unused_side::zero});
using psr_objective = objective<sign_split, ppo_clip, token_mean>;
static_assert(Objective<psr_objective>);
inline psr_objective psr(const psr_config& c = {}) { return {{1.0, 0.0, c.unused}, c.clip, {}, {}}; }

//! Negative sample reinforcement: lower incorrect responses (A = −1). The freed probability
//! goes to the other tokens according to the model's prior (spec §6), which in the paper keeps
//! Pass@k at large k near the base model (spec §9).
struct nsr_config {
  unused_side unused = unused_side::drop; //!< correct responses: dropped (paper) or A = 0
  //! The surrogate; ε = 0.2 as in the reference code.
  ppo_clip clip{};
};
//! `sign_split{0, −1, unused}` × `ppo_clip` × `token_mean`: A = −1 on every token of an incorrect
//! response (reward ≤ 0). The same type as `psr_objective`: only the numbers differ, so a
//! variable of that type can hold either.
using nsr_objective = objective<sign_split, ppo_clip, token_mean>;
static_assert(Objective<nsr_objective>);
inline nsr_objective nsr(const nsr_config& c = {}) { return {{0.0, -1.0, c.unused}, c.clip, {}, {}}; }

//! Weighted REINFORCE: λ·L_PSR + L_NSR (A = +λ / −1), λ = 0.1 in the paper.
struct w_reinforce_config {
  //! λ ≥ 0, the weight of the correct responses (A = +λ); 1 is plain REINFORCE with ±1
  //! rewards. A negative λ raises `config_error` (sign_split requires positive ≥ 0).
  double lambda = 0.1;
  //! The surrogate; ε = 0.2 as in the reference code.
  ppo_clip clip{};
};
//! `sign_split{+λ, −1, zero}` × `ppo_clip` × `token_mean`: every response stays in the batch
//! (nothing is dropped), so one token-mean runs over all tokens.
using w_reinforce_objective = objective<sign_split, ppo_clip, token_mean>;
static_assert(Objective<w_reinforce_objective>);
inline w_reinforce_objective w_reinforce(const w_reinforce_config& c = {}) {
  return {{c.lambda, -1.0, unused_side::zero}, c.clip, {}, {}};
}

//! Plain REINFORCE with ±1 rewards and the −A·log π surrogate.
struct reinforce_config {
  //! A of a correct response, ≥ 0.
  double positive = 1.0;
  //! A of an incorrect response, ≤ 0 (`config_error` otherwise, from sign_split).
  double negative = -1.0;
};
//! No clip and no old log-probs: ℓ = −A·log π, exact REINFORCE for one update per rollout
//! batch.
using reinforce_objective = objective<sign_split, reinforce_surrogate, token_mean>;
static_assert(Objective<reinforce_objective>);
inline reinforce_objective reinforce(const reinforce_config& c = {}) {
  return {{c.positive, c.negative, unused_side::zero}, {}, {}, {}};
}

//! PPO: GAE advantages over rewards with β·k1 folded in, clipped surrogate, entropy bonus.
//! The value head's loss is `rlvr::value_loss` (rlvr/loss.hpp).
//! The advantage input must carry `values` (the value head at rollout), `old_logp` and
//! `ref_logp` (for the KL folded into the reward); `gae` raises `shape_error` otherwise.
struct ppo_config {
  //! γ = λ_GAE = 1 (no discount: the reward comes at the last token), β = 1e-3 for the k1
  //! penalty folded into the per-token reward (spec §2), advantages whitened over the batch.
  gae advantage{.gamma = 1.0, .lambda = 1.0, .kl_beta = 1e-3, .whiten = true, .whiten_eps = 1e-8};
  //! The surrogate, ε = 0.2.
  ppo_clip clip{};
  //! Off by default (c_H = 0); set `.coef` to turn it on.
  entropy_bonus entropy{.coef = 0.0};
};
using ppo_objective = objective<gae, ppo_clip, token_mean, entropy_bonus>;
static_assert(Objective<ppo_objective>);
//! The trainer (rlvr/trainer/trainer.hpp) refuses `ppo()` at compile time for a policy type
//! that does not model `ValueHeadPolicy`, and with `config_error` for a policy object built
//! without its value head. Outside the trainer, the caller runs the value head and passes
//! `values` to `estimate_advantages`, then trains it with `value_loss` on `returns`.
inline ppo_objective ppo(const ppo_config& c = {}) { return {c.advantage, c.clip, {}, detail::make_term_list(c.entropy)}; }

//! GRPO: group z-score advantages, clipped surrogate, k3 KL in the loss, entropy bonus.
//! Needs group ids (the prompt of each response) in the advantage input and `ref_logp` in the
//! loss batch.
struct grpo_config {
  //! (r − mean_g)/(std_g + ε), ε = 1e-6 (verl's), sample std.
  group_zscore advantage{};
  //! The surrogate, ε = 0.2.
  ppo_clip clip{};
  //! k3 in the loss, β = 1e-3, clamped at 10 (verl's).
  kl_k3 kl{.beta = 1e-3, .clamp = 10.0};
  //! Off by default (c_H = 0).
  entropy_bonus entropy{.coef = 0.0};
};
using grpo_objective = objective<group_zscore, ppo_clip, token_mean, kl_k3, entropy_bonus>;
static_assert(Objective<grpo_objective>);
//!   auto obj = rlvr::grpo({.kl = {.beta = 0.0}});   // GRPO without the KL penalty
inline grpo_objective grpo(const grpo_config& c = {}) {
  return {c.advantage, c.clip, {}, detail::make_term_list(c.kl, c.entropy)};
}

//! Dr. GRPO: group-mean baseline without std, token sums normalised by a constant length.
//! Needs group ids and, for the per-response aggregation, `seq` in the loss batch.
struct dr_grpo_config {
  //! The surrogate, ε = 0.2.
  ppo_clip clip{};
  double max_length = 1024; //!< L_const of seq_mean_token_sum_norm
  //! Off by default (c_H = 0).
  entropy_bonus entropy{.coef = 0.0};
};
using dr_grpo_objective = objective<group_mean_baseline, ppo_clip, seq_mean_token_sum_norm, entropy_bonus>;
static_assert(Objective<dr_grpo_objective>);
//! L = Σ m ℓ / (B·L_const): set `max_length` to the generation limit actually used, since
//! L_const scales every gradient (validated > 0 by the aggregation: `config_error`).
inline dr_grpo_objective dr_grpo(const dr_grpo_config& c = {}) {
  return {{}, c.clip, {c.max_length}, detail::make_term_list(c.entropy)};
}

static_assert(Objective<weighted_sum<psr_objective, nsr_objective>>);

// ---- the objective zoo: methods that RLVR practitioners use, as compositions ---------------------

//! Ready-made compositions of the methods verl, TRL, OpenRLHF and Liger ship (docs/objectives.md
//! has the table method → composition → peer equivalent). Each is a few lines: the parts do the
//! work. Defaults are the papers' settings. Every config holds the parts themselves, so any
//! number of a part can be changed with a designated initialiser:
//!
//!   auto obj = rlvr::methods::gspo({.surrogate = {.eps_low = 3e-4, .eps_high = 4e-4}});
//!
//! All of them need group ids in the advantage input (group z-score or group baselines), except
//! `remax` (which needs `baselines`).
namespace methods {

//! GSPO: group z-score, sequence-level clipped ratio (ε = 3e-4 / 4e-4), seq-mean-token-mean.
//! s_i = exp(mean_{t∈i} log ρ_t), ℓ_i = max(−A_i s_i, −A_i clip(s_i, 1 − ε_low, 1 + ε_high))
//! (docs/objectives.md). The surrogate is a `BatchSurrogate`: the loss needs whole responses in
//! each call, and the objective cannot be part of a weighted sum.
struct gspo_config {
  //! A = (r − mean_g)/(std_g + ε), ε = 1e-6.
  group_zscore advantage{};
  //! Sequence-ratio clip, ε_low = 3e-4, ε_high = 4e-4 (the paper's).
  rlvr::gspo surrogate{};
};
// The methods build through make_objective, so the composition rules (e.g. 'sequence ratio
// needs seq_mean_token_mean') are checked on the ready-mades too.
using gspo_objective = objective<group_zscore, rlvr::gspo, seq_mean_token_mean>;
inline gspo_objective gspo(const gspo_config& c = {}) { return make_objective(c.advantage, c.surrogate, seq_mean_token_mean{}); }

//! GMPO: group z-score, geometric-mean ratio clipped in log space (±0.4), seq-mean-token-mean.
//! r_i = exp(mean_{t∈i} c_t), c_t the sign-aware clipped log-ratio, ℓ_i = −A_i r_i. Like GSPO a
//! sequence-level `BatchSurrogate`: whole responses per loss call, no weighted sums.
struct gmpo_config {
  //! A = (r − mean_g)/(std_g + ε), ε = 1e-6.
  group_zscore advantage{};
  //! Log-space clip bounds ±0.4 (the paper's e^±0.4).
  rlvr::gmpo surrogate{};
};
using gmpo_objective = objective<group_zscore, rlvr::gmpo, seq_mean_token_mean>;
inline gmpo_objective gmpo(const gmpo_config& c = {}) { return make_objective(c.advantage, c.surrogate, seq_mean_token_mean{}); }

//! CISPO: group z-score, detached clipped IS weight × log π, token-mean (MiniMax-M1).
//! ℓ_t = −sg(clip(ρ_t, 1 − ε_low, 1 + ε_high))·A·log π_t: a token-level surrogate, so it also
//! works in weighted sums and on every backend.
struct cispo_config {
  //! A = (r − mean_g)/(std_g + ε), ε = 1e-6.
  group_zscore advantage{};
  //! ε_low = 1 (no lower bound), ε_high = 4 (cap 5).
  rlvr::cispo surrogate{};
};
using cispo_objective = objective<group_zscore, rlvr::cispo, token_mean>;
inline cispo_objective cispo(const cispo_config& c = {}) { return make_objective(c.advantage, c.surrogate, token_mean{}); }

//! SAPO: group z-score, soft sigmoid gate (τ_pos = 1, τ_neg = 1.05), seq-mean-token-mean.
//! ℓ_t = −(4/τ)·σ(τ(ρ_t − 1))·A, a token-level surrogate aggregated per sequence (verl's
//! setting), so the loss batch needs `seq`.
struct sapo_config {
  //! A = (r − mean_g)/(std_g + ε), ε = 1e-6.
  group_zscore advantage{};
  //! τ_pos = 1, τ_neg = 1.05.
  rlvr::sapo surrogate{};
};
using sapo_objective = objective<group_zscore, rlvr::sapo, seq_mean_token_mean>;
inline sapo_objective sapo(const sapo_config& c = {}) { return make_objective(c.advantage, c.surrogate, seq_mean_token_mean{}); }

//! DAPO (arXiv:2503.14476): dynamic sampling over overlong-shaped group z-scores, clip-higher
//! (ε_low = 0.2, ε_high = 0.28), token-mean, no KL. `factor = 0` turns the overlong penalty off.
//! The estimator chain, innermost first: the group z-score runs on r + p(|y|) (overlong
//! shaping), after groups with all-equal verifier rewards were dropped (dynamic sampling,
//! counted in `advantage_report::filtered_groups`; the caller refills the batch if it wants a
//! fixed size).
struct dapo_config {
  //! A = (r − mean_g)/(std_g + ε) on the shaped rewards, ε = 1e-6.
  group_zscore advantage{};
  double max_length = 1024; //!< L_max of the overlong penalty (the generation limit)
  double buffer = 256;      //!< L_c
  double factor = 1.0;      //!< penalty at the limit (0: off)
  //! Clip-higher: ε_high = 0.28 > ε_low = 0.2 leaves room for low-probability tokens to grow.
  ppo_clip clip{.eps_low = 0.2, .eps_high = 0.28};
};
using dapo_objective = objective<dynamic_sampling<overlong_penalty<group_zscore>>, ppo_clip, token_mean>;
inline dapo_objective dapo(const dapo_config& c = {}) {
  return make_objective(dynamic_sampling<overlong_penalty<group_zscore>>{{c.advantage, c.max_length, c.buffer, c.factor}},
                        c.clip, token_mean{});
}

//! Clip-Cov (Cui et al. 2025): group z-score, PPO clip with covariance-selected tokens detached.
//! Cov_t = (A_t − mean A)(log π_t − mean log π) over the batch's active tokens; a random
//! max(⌊rN⌋, 1) of the unclipped tokens with lb < Cov_t < ub get no gradient. The draw is
//! Philox-seeded (`surrogate.seed`, `surrogate.stream`), so reproducible on any thread count.
//! A `BatchSurrogate`: statistics are per loss call, no weighted sums.
struct clip_cov_config {
  //! A = (r − mean_g)/(std_g + ε), ε = 1e-6.
  group_zscore advantage{};
  //! r = 2e-4, lb = 1, ub = 5 (the paper's), PPO clip ε = 0.2.
  rlvr::clip_cov surrogate{};
};
using clip_cov_objective = objective<group_zscore, rlvr::clip_cov, token_mean>;
inline clip_cov_objective clip_cov(const clip_cov_config& c = {}) { return make_objective(c.advantage, c.surrogate, token_mean{}); }

//! KL-Cov (Cui et al. 2025): group z-score, −Aρ with a |log ρ| penalty on the top-covariance tokens.
//! ℓ_t = −Aρ_t, plus c·|log ρ_t| on the max(⌊rN⌋, 1) active tokens of largest Cov_t (the
//! selection is deterministic: no random draw). A `BatchSurrogate`, no weighted sums.
struct kl_cov_config {
  //! A = (r − mean_g)/(std_g + ε), ε = 1e-6.
  group_zscore advantage{};
  //! r = 2e-4, c = 1.
  rlvr::kl_cov surrogate{};
};
using kl_cov_objective = objective<group_zscore, rlvr::kl_cov, token_mean>;
inline kl_cov_objective kl_cov(const kl_cov_config& c = {}) { return make_objective(c.advantage, c.surrogate, token_mean{}); }

//! High-entropy minority tokens (Wang et al. 2025): DAPO's clip-higher surrogate trained only on
//! the top-20% entropy tokens of the batch.
//! The gate is g_t = [H_t ≥ q], q the (1 − ρ) quantile of H over the active tokens of the loss
//! call: the other tokens keep their place in the token-mean denominator but get no gradient.
struct high_entropy_config {
  //! A = (r − mean_g)/(std_g + ε), ε = 1e-6.
  group_zscore advantage{};
  //! DAPO's clip-higher, ε_low = 0.2, ε_high = 0.28.
  ppo_clip clip{.eps_low = 0.2, .eps_high = 0.28};
  //! ρ = 0.2: the top 20% entropy tokens train.
  entropy_top select{.rho = 0.2};
};
using high_entropy_objective = objective<group_zscore, ppo_clip, token_mean, entropy_top>;
inline high_entropy_objective high_entropy(const high_entropy_config& c = {}) {
  return make_objective(c.advantage, c.clip, token_mean{}, c.select);
}

//! REINFORCE++-baseline (Hu et al. 2025, OpenRLHF): group mean subtracted, then whitened over
//! the batch; PPO clip, token-mean.
//! A = whiten_batch(r − mean_g) over the batch's active tokens.
struct reinforce_pp_baseline_config {
  //! ε of the whitening, (A − mean)/√(var + ε).
  double eps = 1e-8;
  //! The surrogate, ε = 0.2.
  ppo_clip clip{};
};
using reinforce_pp_baseline_objective = objective<whitened<group_mean_baseline>, ppo_clip, token_mean>;
inline reinforce_pp_baseline_objective reinforce_pp_baseline(const reinforce_pp_baseline_config& c = {}) {
  return make_objective(whitened<group_mean_baseline>{{}, c.eps}, c.clip, token_mean{});
}

//! OPO: length-weighted optimal baseline, PPO clip (inactive on-policy), token-mean.
//! A = r − Σ_g |y|·r / Σ_g |y|, with |y| a response's active token count; a group of one
//! gets A = 0.
struct opo_config {
  //! The surrogate, ε = 0.2.
  ppo_clip clip{};
};
using opo_objective = objective<rlvr::opo, ppo_clip, token_mean>;
inline opo_objective opo(const opo_config& c = {}) { return make_objective(rlvr::opo{}, c.clip, token_mean{}); }

//! ReMax: greedy-baseline advantages (the caller supplies `advantage_input::baselines`), PPO clip.
//! A = r − b_i with b_i in `advantage_input::baselines` [B] (the caller generates and scores
//! the greedy response of each prompt); no group ids needed.
struct remax_config {
  //! The surrogate, ε = 0.2.
  ppo_clip clip{};
};
using remax_objective = objective<rlvr::remax, ppo_clip, token_mean>;
inline remax_objective remax(const remax_config& c = {}) { return make_objective(rlvr::remax{}, c.clip, token_mean{}); }

static_assert(Objective<gspo_objective> && Objective<gmpo_objective> && Objective<cispo_objective> &&
              Objective<sapo_objective> && Objective<dapo_objective> && Objective<clip_cov_objective> &&
              Objective<kl_cov_objective> && Objective<high_entropy_objective> &&
              Objective<reinforce_pp_baseline_objective> && Objective<opo_objective> && Objective<remax_objective>);

} // namespace methods

} // namespace rlvr
