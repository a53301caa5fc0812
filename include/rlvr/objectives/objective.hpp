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
//! The reference code runs PSR, NSR and W-REINFORCE through the PPO clip (spec §3), so they do
//! here; with no old log-probs (on-policy) the clip is inactive and the gradient is REINFORCE's.
//! A ready-made objective takes more regularisers with `with_regularizers`:
//! `rlvr::with_regularizers(rlvr::psr(), rlvr::entropy_bonus{.coef = 1e-3})`.

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
  template <class T> RLVR_HD constexpr void add(const token_input<T>& in, token_terms<T>& acc) const {
    if constexpr (!TokenGate<H>) acc += head(in);
    tail.add(in, acc);
  }
  template <class T> void apply_gates(const batch_context<T>& ctx, vector_view<T> gate) const {
    if constexpr (TokenGate<H>) head.apply(ctx, gate);
    tail.apply_gates(ctx, gate);
  }
  void validate() const {
    head.validate();
    tail.validate();
  }
};
template <class H, class... R> constexpr term_list<H, R...> make_term_list(H h, R... r) {
  if constexpr (sizeof...(R) == 0) return {h, {}};
  else return {h, make_term_list(r...)};
}
inline constexpr term_list<> make_term_list() { return {}; }

template <class T> RLVR_HD constexpr token_terms<T> scaled(const token_terms<T>& r, T w) {
  return {w * r.loss, w * r.dlogp, w * r.dentropy, r.flags, w * r.dkl};
}
} // namespace detail

//! A plain objective: estimator E, surrogate S, aggregation A and regularisers R… (structure at
//! compile time, numbers in the members). Build one with `make_objective` or a ready-made.
template <class T>
concept ObjectivePart = Regularizer<T> || TokenGate<T>;

template <AdvantageEstimator E, Surrogate S, Aggregation A, ObjectivePart... R> struct objective {
  E estimator{};
  S surrogate{};
  A aggregation{};
  detail::term_list<R...> regularizers{}; //!< regularisers and gates, in the order given

  static constexpr index_t components = 1;
  static constexpr bool uses_old_logp = S::uses_old_logp || detail::term_list<R...>::uses_old_logp;
  static constexpr bool uses_ref_logp = S::uses_ref_logp || detail::term_list<R...>::uses_ref_logp;
  static constexpr bool uses_rollout_logp = detail::term_list<R...>::uses_rollout_logp;
  //! A regulariser reads the reference logits rows (`kl_full`): `loss_token_batch::ref_logits`.
  static constexpr bool uses_ref_logits = detail::term_list<R...>::uses_ref_logits;
  static constexpr bool needs_values = E::needs_values;
  static constexpr bool needs_group_ids = E::needs_group_ids;
  static constexpr bool needs_seq = A::mode != aggregation_mode::token_mean && A::mode != aggregation_mode::token_sum;
  //! The loss runs `prepare_context` (after a forward-only pre-pass) before the fused pass.
  static constexpr bool has_batch_context = BatchSurrogate<S> || detail::term_list<R...>::has_gates;

  //! ℓ_t before weighting: gate·surrogate + regularisers.
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
  RLVR_HD constexpr token_terms<T> token(const T* adv, const T* w, index_t /*stride*/, token_input<T> in) const {
    if (w[0] == T(0)) return {};
    in.adv = adv[0];
    return detail::scaled(unweighted(in), w[0]);
  }
  template <class T>
  advantage_report estimate(const advantage_input<T>& in, matrix_view<T> adv, matrix_view<std::uint8_t> active,
                            vector_view<T> returns) const {
    return estimator.estimate(in, advantage_output<T>{adv.row(0), active.row(0), returns, {}});
  }
  template <class T>
  void weights(matrix_view<const std::uint8_t> active, vector_view<const std::int32_t> seq, index_t num_sequences,
               const aggregation_options& opt, matrix_view<T> w) const {
    aggregation_weights(aggregation, active.row(0), seq, num_sequences, opt, w.row(0));
  }
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
  if constexpr (AdvantageEstimator<E> && Surrogate<S> && Aggregation<A> && (ObjectivePart<R> && ...))
    return objective<E, S, A, R...>{e, s, a, detail::make_term_list(r...)};
}

namespace detail {
//! term_list<R…> followed by the parts n…: term_list<R…, N…>, in that order.
template <class... R, class... N> constexpr term_list<R..., N...> append_terms(const term_list<R...>& l, N... n) {
  if constexpr (sizeof...(R) == 0) return make_term_list(n...);
  else return {l.head, append_terms(l.tail, n...)};
}
template <class O> struct is_plain_objective : std::false_type {};
template <class E, class S, class A, class... R> struct is_plain_objective<objective<E, S, A, R...>> : std::true_type {};
template <class E, class S, class A, class... R, class... N>
constexpr objective<E, S, A, R..., N...> append_parts(const objective<E, S, A, R...>& o, N... n) {
  return {o.estimator, o.surrogate, o.aggregation, append_terms(o.regularizers, n...)};
}
} // namespace detail

template <Objective... O> struct weighted_sum;

namespace detail {
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
  static constexpr index_t components = H::components + rest::components;
  static constexpr bool uses_old_logp = H::uses_old_logp || rest::uses_old_logp;
  static constexpr bool uses_ref_logp = H::uses_ref_logp || rest::uses_ref_logp;
  static constexpr bool uses_ref_logits = detail::uses_ref_logits<H>() || rest::uses_ref_logits;
  static constexpr bool needs_values = H::needs_values || rest::needs_values;
  static constexpr bool needs_group_ids = H::needs_group_ids || rest::needs_group_ids;
  static constexpr bool needs_seq = H::needs_seq || rest::needs_seq;
  template <class T>
  RLVR_HD constexpr void token(const double* lambda, const T* adv, const T* w, index_t stride,
                               const token_input<T>& in, token_terms<T>& acc) const {
    if (lambda[0] != 0.0) acc += scaled(head.token(adv, w, stride, in), static_cast<T>(lambda[0]));
    tail.token(lambda + 1, adv + H::components * stride, w + H::components * stride, stride, in, acc);
  }
  template <class T>
  void estimate(const advantage_input<T>& in, matrix_view<T> adv, matrix_view<std::uint8_t> act, vector_view<T> ret,
                index_t first, advantage_report& rep) const {
    rep += head.estimate(in, adv.block_rows(first, H::components), act.block_rows(first, H::components), ret);
    tail.estimate(in, adv, act, ret, first + H::components, rep);
  }
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

//! Σ_k λ_k·O_k: an objective whose components are those of its parts, in order. Advantages,
//! active flags and weights are [K, N] matrices, one row per component.
namespace detail {
template <class O> constexpr bool has_batch_context() {
  if constexpr (requires { O::has_batch_context; }) return O::has_batch_context;
  else return false;
}
template <class O> constexpr bool uses_rollout_logp() {
  if constexpr (requires { O::uses_rollout_logp; }) return O::uses_rollout_logp;
  else return false;
}
} // namespace detail

template <Objective... O> struct weighted_sum {
  static_assert((!detail::has_batch_context<O>() && ...),
                "rlvr::weighted_sum: rule 'batch-level parts need a plain objective': a component uses a "
                "sequence/batch-level surrogate (gspo, gmpo, clip_cov, kl_cov) or a token gate (tis, "
                "rollout_mask, sequence_divergence_mask, entropy_top); use it as a plain objective");
  detail::objective_list<O...> parts{};
  double lambda[sizeof...(O)]{};

  static constexpr index_t components = detail::objective_list<O...>::components;
  static constexpr bool uses_old_logp = detail::objective_list<O...>::uses_old_logp;
  static constexpr bool uses_ref_logp = detail::objective_list<O...>::uses_ref_logp;
  static constexpr bool uses_ref_logits = detail::objective_list<O...>::uses_ref_logits;
  static constexpr bool needs_values = detail::objective_list<O...>::needs_values;
  static constexpr bool needs_group_ids = detail::objective_list<O...>::needs_group_ids;
  static constexpr bool needs_seq = detail::objective_list<O...>::needs_seq;

  template <class T>
  RLVR_HD constexpr token_terms<T> token(const T* adv, const T* w, index_t stride, const token_input<T>& in) const {
    token_terms<T> acc{};
    parts.token(lambda, adv, w, stride, in, acc);
    return acc;
  }
  template <class T>
  advantage_report estimate(const advantage_input<T>& in, matrix_view<T> adv, matrix_view<std::uint8_t> active,
                            vector_view<T> returns) const {
    advantage_report rep;
    parts.estimate(in, adv, active, returns, 0, rep);
    return rep;
  }
  template <class T>
  void weights(matrix_view<const std::uint8_t> active, vector_view<const std::int32_t> seq, index_t num_sequences,
               const aggregation_options& opt, matrix_view<T> w) const {
    parts.weights(active, seq, num_sequences, opt, w, 0);
  }
  void validate() const {
    for (double l : lambda)
      RLVR_EXPECTS(std::isfinite(l), config, "weighted_sum: weight ", l, " is not finite");
    parts.validate();
  }
};

//! λ·O as a one-part weighted sum.
template <Objective O> constexpr weighted_sum<O> operator*(double lambda, const O& o) { return {{o, {}}, {lambda}}; }
//! O₁ + O₂ as a two-part weighted sum with unit weights.
template <Objective A, Objective B> constexpr weighted_sum<A, B> operator+(const A& a, const B& b) {
  return {{a, {b, {}}}, {1.0, 1.0}};
}

// ---- ready-made objectives ---------------------------------------------------------------------

//! Positive sample reinforcement (spec §2): raise correct responses (A = +1).
struct psr_config {
  unused_side unused = unused_side::drop; //!< incorrect responses: dropped (paper) or A = 0
  ppo_clip clip{};
};
using psr_objective = objective<sign_split, ppo_clip, token_mean>;
static_assert(Objective<psr_objective>);
inline psr_objective psr(const psr_config& c = {}) { return {{1.0, 0.0, c.unused}, c.clip, {}, {}}; }

//! Negative sample reinforcement: lower incorrect responses (A = −1).
struct nsr_config {
  unused_side unused = unused_side::drop; //!< correct responses: dropped (paper) or A = 0
  ppo_clip clip{};
};
using nsr_objective = objective<sign_split, ppo_clip, token_mean>;
static_assert(Objective<nsr_objective>);
inline nsr_objective nsr(const nsr_config& c = {}) { return {{0.0, -1.0, c.unused}, c.clip, {}, {}}; }

//! Weighted REINFORCE: λ·L_PSR + L_NSR (A = +λ / −1), λ = 0.1 in the paper.
struct w_reinforce_config {
  double lambda = 0.1;
  ppo_clip clip{};
};
using w_reinforce_objective = objective<sign_split, ppo_clip, token_mean>;
static_assert(Objective<w_reinforce_objective>);
inline w_reinforce_objective w_reinforce(const w_reinforce_config& c = {}) {
  return {{c.lambda, -1.0, unused_side::zero}, c.clip, {}, {}};
}

//! Plain REINFORCE with ±1 rewards and the −A·log π surrogate.
struct reinforce_config {
  double positive = 1.0;
  double negative = -1.0;
};
using reinforce_objective = objective<sign_split, reinforce_surrogate, token_mean>;
static_assert(Objective<reinforce_objective>);
inline reinforce_objective reinforce(const reinforce_config& c = {}) {
  return {{c.positive, c.negative, unused_side::zero}, {}, {}, {}};
}

//! PPO: GAE advantages over rewards with β·k1 folded in, clipped surrogate, entropy bonus.
//! The value head's loss is `rlvr::value_loss` (rlvr/loss.hpp).
struct ppo_config {
  gae advantage{.gamma = 1.0, .lambda = 1.0, .kl_beta = 1e-3, .whiten = true, .whiten_eps = 1e-8};
  ppo_clip clip{};
  entropy_bonus entropy{.coef = 0.0};
};
using ppo_objective = objective<gae, ppo_clip, token_mean, entropy_bonus>;
static_assert(Objective<ppo_objective>);
inline ppo_objective ppo(const ppo_config& c = {}) { return {c.advantage, c.clip, {}, detail::make_term_list(c.entropy)}; }

//! GRPO: group z-score advantages, clipped surrogate, k3 KL in the loss, entropy bonus.
struct grpo_config {
  group_zscore advantage{};
  ppo_clip clip{};
  kl_k3 kl{.beta = 1e-3, .clamp = 10.0};
  entropy_bonus entropy{.coef = 0.0};
};
using grpo_objective = objective<group_zscore, ppo_clip, token_mean, kl_k3, entropy_bonus>;
static_assert(Objective<grpo_objective>);
inline grpo_objective grpo(const grpo_config& c = {}) {
  return {c.advantage, c.clip, {}, detail::make_term_list(c.kl, c.entropy)};
}

//! Dr. GRPO: group-mean baseline without std, token sums normalised by a constant length.
struct dr_grpo_config {
  ppo_clip clip{};
  double max_length = 1024; //!< L_const of seq_mean_token_sum_norm
  entropy_bonus entropy{.coef = 0.0};
};
using dr_grpo_objective = objective<group_mean_baseline, ppo_clip, seq_mean_token_sum_norm, entropy_bonus>;
static_assert(Objective<dr_grpo_objective>);
inline dr_grpo_objective dr_grpo(const dr_grpo_config& c = {}) {
  return {{}, c.clip, {c.max_length}, detail::make_term_list(c.entropy)};
}

static_assert(Objective<weighted_sum<psr_objective, nsr_objective>>);

// ---- the objective zoo: methods that RLVR practitioners use, as compositions ---------------------

//! Ready-made compositions of the methods verl, TRL, OpenRLHF and Liger ship (docs/objectives.md
//! has the table method → composition → peer equivalent). Each is a few lines: the parts do the
//! work. Defaults are the papers' settings.
namespace methods {

//! GSPO: group z-score, sequence-level clipped ratio (ε = 3e-4 / 4e-4), seq-mean-token-mean.
struct gspo_config {
  group_zscore advantage{};
  rlvr::gspo surrogate{};
};
using gspo_objective = objective<group_zscore, rlvr::gspo, seq_mean_token_mean>;
inline gspo_objective gspo(const gspo_config& c = {}) { return make_objective(c.advantage, c.surrogate, seq_mean_token_mean{}); }

//! GMPO: group z-score, geometric-mean ratio clipped in log space (±0.4), seq-mean-token-mean.
struct gmpo_config {
  group_zscore advantage{};
  rlvr::gmpo surrogate{};
};
using gmpo_objective = objective<group_zscore, rlvr::gmpo, seq_mean_token_mean>;
inline gmpo_objective gmpo(const gmpo_config& c = {}) { return make_objective(c.advantage, c.surrogate, seq_mean_token_mean{}); }

//! CISPO: group z-score, detached clipped IS weight × log π, token-mean (MiniMax-M1).
struct cispo_config {
  group_zscore advantage{};
  rlvr::cispo surrogate{};
};
using cispo_objective = objective<group_zscore, rlvr::cispo, token_mean>;
inline cispo_objective cispo(const cispo_config& c = {}) { return make_objective(c.advantage, c.surrogate, token_mean{}); }

//! SAPO: group z-score, soft sigmoid gate (τ_pos = 1, τ_neg = 1.05), seq-mean-token-mean.
struct sapo_config {
  group_zscore advantage{};
  rlvr::sapo surrogate{};
};
using sapo_objective = objective<group_zscore, rlvr::sapo, seq_mean_token_mean>;
inline sapo_objective sapo(const sapo_config& c = {}) { return make_objective(c.advantage, c.surrogate, seq_mean_token_mean{}); }

//! DAPO (arXiv:2503.14476): dynamic sampling over overlong-shaped group z-scores, clip-higher
//! (ε_low = 0.2, ε_high = 0.28), token-mean, no KL. `factor = 0` turns the overlong penalty off.
struct dapo_config {
  group_zscore advantage{};
  double max_length = 1024; //!< L_max of the overlong penalty (the generation limit)
  double buffer = 256;      //!< L_c
  double factor = 1.0;      //!< penalty at the limit (0: off)
  ppo_clip clip{.eps_low = 0.2, .eps_high = 0.28};
};
using dapo_objective = objective<dynamic_sampling<overlong_penalty<group_zscore>>, ppo_clip, token_mean>;
inline dapo_objective dapo(const dapo_config& c = {}) {
  return make_objective(dynamic_sampling<overlong_penalty<group_zscore>>{{c.advantage, c.max_length, c.buffer, c.factor}},
                        c.clip, token_mean{});
}

//! Clip-Cov (Cui et al. 2025): group z-score, PPO clip with covariance-selected tokens detached.
struct clip_cov_config {
  group_zscore advantage{};
  rlvr::clip_cov surrogate{};
};
using clip_cov_objective = objective<group_zscore, rlvr::clip_cov, token_mean>;
inline clip_cov_objective clip_cov(const clip_cov_config& c = {}) { return make_objective(c.advantage, c.surrogate, token_mean{}); }

//! KL-Cov (Cui et al. 2025): group z-score, −Aρ with a |log ρ| penalty on the top-covariance tokens.
struct kl_cov_config {
  group_zscore advantage{};
  rlvr::kl_cov surrogate{};
};
using kl_cov_objective = objective<group_zscore, rlvr::kl_cov, token_mean>;
inline kl_cov_objective kl_cov(const kl_cov_config& c = {}) { return make_objective(c.advantage, c.surrogate, token_mean{}); }

//! High-entropy minority tokens (Wang et al. 2025): DAPO's clip-higher surrogate trained only on
//! the top-20% entropy tokens of the batch.
struct high_entropy_config {
  group_zscore advantage{};
  ppo_clip clip{.eps_low = 0.2, .eps_high = 0.28};
  entropy_top select{.rho = 0.2};
};
using high_entropy_objective = objective<group_zscore, ppo_clip, token_mean, entropy_top>;
inline high_entropy_objective high_entropy(const high_entropy_config& c = {}) {
  return make_objective(c.advantage, c.clip, token_mean{}, c.select);
}

//! REINFORCE++-baseline (Hu et al. 2025, OpenRLHF): group mean subtracted, then whitened over
//! the batch; PPO clip, token-mean.
struct reinforce_pp_baseline_config {
  double eps = 1e-8;
  ppo_clip clip{};
};
using reinforce_pp_baseline_objective = objective<whitened<group_mean_baseline>, ppo_clip, token_mean>;
inline reinforce_pp_baseline_objective reinforce_pp_baseline(const reinforce_pp_baseline_config& c = {}) {
  return make_objective(whitened<group_mean_baseline>{{}, c.eps}, c.clip, token_mean{});
}

//! OPO: length-weighted optimal baseline, PPO clip (inactive on-policy), token-mean.
struct opo_config {
  ppo_clip clip{};
};
using opo_objective = objective<rlvr::opo, ppo_clip, token_mean>;
inline opo_objective opo(const opo_config& c = {}) { return make_objective(rlvr::opo{}, c.clip, token_mean{}); }

//! ReMax: greedy-baseline advantages (the caller supplies `advantage_input::baselines`), PPO clip.
struct remax_config {
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
