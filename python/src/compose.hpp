#pragma once
//! \file python/src/compose.hpp
//! \brief Templates behind the registry: a composition for (estimator, surrogate, aggregation,
//! KL), its type-erased operations on the host backend, and the pick among compiled combos.

#include <string>
#include <type_traits>

#include "registry.hpp"
#include "rlvr/loss.hpp"
#include "rlvr/objectives/objective.hpp"
#if RLVR_PYTHON_EIGEN
#include "rlvr/backends/eigen.hpp"
#else
#include "rlvr/backends/serial.hpp"
#endif

namespace rlvr::python {

template <agg_kind A> struct agg_type;
template <> struct agg_type<agg_kind::token_mean> { using type = token_mean; };
template <> struct agg_type<agg_kind::seq_mean_token_mean> { using type = seq_mean_token_mean; };
template <> struct agg_type<agg_kind::seq_mean_token_sum> { using type = seq_mean_token_sum; };
template <> struct agg_type<agg_kind::seq_mean_token_sum_norm> { using type = seq_mean_token_sum_norm; };
template <> struct agg_type<agg_kind::token_sum> { using type = token_sum; };

template <kl_sel K> struct kl_type;
template <> struct kl_type<kl_sel::k1> { using type = kl_k1; };
template <> struct kl_type<kl_sel::k2> { using type = kl_k2; };
template <> struct kl_type<kl_sel::k3> { using type = kl_k3; };

//! The objective type of a combination.
template <class E, class S, agg_kind A, kl_sel K> struct composed {
  using type = objective<E, S, typename agg_type<A>::type, typename kl_type<K>::type, entropy_bonus>;
};
template <class E, class S, agg_kind A> struct composed<E, S, A, kl_sel::none> {
  using type = objective<E, S, typename agg_type<A>::type, entropy_bonus>;
};

//! The host backend of the module: Eigen where it was found, else the serial oracle.
inline auto host_backend(int threads) {
#if RLVR_PYTHON_EIGEN
  return eigen_backend{.threads = threads};
#else
  (void)threads;
  return serial_backend{};
#endif
}

template <class O, class T> loss_diagnostics run_loss(const void* obj, const loss_call<T>& c) {
  return loss_and_grad(host_backend(c.threads), *static_cast<const O*>(obj), c.batch, c.grad, c.options, c.outputs);
}
template <class O, class T> advantage_result<T> run_adv(const void* obj, const advantage_input<T>& in) {
  return estimate_advantages(*static_cast<const O*>(obj), in);
}

template <class O> const objective_ops* ops_of() {
  static const objective_ops ops{&run_loss<O, float>, &run_loss<O, double>, &run_adv<O, float>, &run_adv<O, double>,
                                 O::components,      O::uses_old_logp,     O::uses_ref_logp,    O::needs_values,
                                 O::needs_group_ids, O::needs_seq};
  return &ops;
}

inline ppo_clip clip_of(const objective_config& c) {
  return {.eps_low = c.clip_low, .eps_high = c.clip_high, .dual_clip = c.dual_clip, .log_ratio_clamp = c.log_ratio_clamp};
}

//! The composition (E, S, A, K) with the numbers of `cfg`.
template <class E, class S, agg_kind A, kl_sel K>
runtime_objective compose(const std::string& name, const E& e, const S& s, const objective_config& cfg) {
  using O = typename composed<E, S, A, K>::type;
  typename agg_type<A>::type agg{};
  if constexpr (A == agg_kind::seq_mean_token_sum_norm) agg.max_length = cfg.max_length;
  const entropy_bonus ent{.coef = cfg.entropy_coef};
  auto obj = std::make_shared<O>();
  obj->estimator = e;
  obj->surrogate = s;
  obj->aggregation = agg;
  if constexpr (K == kl_sel::none) {
    obj->regularizers = detail::make_term_list(ent);
  } else {
    typename kl_type<K>::type kl{};
    kl.beta = cfg.kl_beta;
    if constexpr (K == kl_sel::k3) kl.clamp = cfg.kl_clamp;
    obj->regularizers = detail::make_term_list(kl, ent);
  }
  obj->validate();
  std::string desc = std::string(agg_name(A));
  if (K != kl_sel::none) desc += std::string(" + kl_") + kl_name(K);
  return {name, desc + " + entropy_bonus", obj, ops_of<O>()};
}

template <agg_kind A, kl_sel K> struct combo {};

//! Picks the compiled combo matching `cfg` (aggregation, KL) among `C...`, or throws
//! `[rlvr.unsupported]` listing them.
template <class E, class S, class... C>
runtime_objective pick(const std::string& name, const E& e, const S& s, const objective_config& cfg, C... combos) {
  runtime_objective out;
  bool found = false;
  auto try_one = [&]<agg_kind A, kl_sel K>(combo<A, K>) {
    if (!found && cfg.aggregation == A && cfg.kl == K) {
      out = compose<E, S, A, K>(name, e, s, cfg);
      found = true;
    }
  };
  (try_one(combos), ...);
  if (!found) {
    std::string list;
    auto add = [&]<agg_kind A, kl_sel K>(combo<A, K>) {
      list += std::string(list.empty() ? "" : ", ") + agg_name(A) + "/" + kl_name(K);
    };
    (add(combos), ...);
    fail<unsupported_error>("objective '", name, "' with aggregation = '", agg_name(cfg.aggregation), "' and kl = '",
                            kl_name(cfg.kl), "' is not compiled into this build of the rlvr module (compiled ",
                            "aggregation/kl combinations: ", list, "; add it in python/src/registry.hpp)");
  }
  return out;
}

//! Every aggregation with KL `K`, then `extra...`.
template <class E, class S, kl_sel K, agg_kind Default>
runtime_objective pick_standard(const std::string& name, const E& e, const S& s, const objective_config& cfg) {
  using enum agg_kind;
  return pick(name, e, s, cfg, combo<token_mean, K>{}, combo<seq_mean_token_mean, K>{}, combo<seq_mean_token_sum, K>{},
              combo<seq_mean_token_sum_norm, K>{}, combo<token_sum, K>{}, combo<Default, kl_sel::k1>{},
              combo<Default, kl_sel::k2>{}, combo<Default, kl_sel::k3>{});
}

} // namespace rlvr::python
