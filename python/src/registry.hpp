#pragma once
//! \file python/src/registry.hpp
//! \brief The objectives the Python module can run: a registry of compile-time instantiations.
//!
//! rlvr composes an objective at compile time (estimator × surrogate × aggregation ×
//! regularisers). Python picks one by name and configuration at run time, so the module compiles
//! a fixed set of compositions and maps (name, aggregation, KL estimator) to one of them; a
//! combination that is not compiled in raises `[rlvr.unsupported]` listing those that are.
//!
//! | family (names)                 | estimator                  | surrogate  | compiled (aggregation × KL in the loss)            |
//! |--------------------------------|----------------------------|------------|----------------------------------------------------|
//! | psr, nsr, w_reinforce          | sign_split                 | ppo_clip   | every aggregation × none; token_mean × k1/k2/k3   |
//! | reinforce                      | sign_split{+1, −1}         | −A·log π   | every aggregation × none; token_mean × k1/k2/k3   |
//! | grpo                           | group_zscore               | ppo_clip   | every aggregation × {none, k3}; token_mean × k1/k2 |
//! | dr_grpo                        | group_mean_baseline        | ppo_clip   | every aggregation × none; seq_mean_token_sum_norm × k1/k2/k3 |
//! | rloo                           | rloo                       | ppo_clip   | every aggregation × none; token_mean × k1/k2/k3   |
//! | reinforce_pp (reinforce++)     | whitened<raw_reward>       | ppo_clip   | every aggregation × none; token_mean × k1/k2/k3   |
//! | ppo                            | gae (KL folded in rewards) | ppo_clip   | every aggregation × none; token_mean × k1/k2/k3   |
//!
//! Every composition ends with an `entropy_bonus` (coefficient 0 by default, which adds exactly
//! nothing), so `entropy_coef` is available for every objective.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "rlvr/loss.hpp"

namespace rlvr::python {

enum class agg_kind : std::uint8_t { token_mean, seq_mean_token_mean, seq_mean_token_sum, seq_mean_token_sum_norm, token_sum };
enum class kl_sel : std::uint8_t { none, k1, k2, k3 };

const char* agg_name(agg_kind a);
const char* kl_name(kl_sel k);

//! Every number of an objective's configuration, with rlvr's defaults (the C++ ready-mades').
//! The family reads the fields it needs; `set` marks the ones the user gave, so that a field
//! the family does not use is an error rather than silently ignored.
struct objective_config {
  // ppo_clip
  double clip_low = 0.2, clip_high = 0.2, dual_clip = 0.0, log_ratio_clamp = 20.0;
  // aggregation
  agg_kind aggregation = agg_kind::token_mean;
  bool aggregation_given = false;
  double max_length = 1024;
  // KL in the loss
  kl_sel kl = kl_sel::none;
  bool kl_given = false;
  double kl_beta = 1e-3, kl_clamp = 10.0;
  // entropy bonus
  double entropy_coef = 0.0;
  // sign split
  unused_side unused = unused_side::drop;
  double lam = 0.1, positive = 1.0, negative = -1.0;
  // group estimators
  double eps = 1e-6, std_floor = 1e-6;
  singleton_policy singleton = singleton_policy::zero;
  double whiten_eps = 1e-8;
  // gae
  double gamma = 1.0, gae_lambda = 1.0, reward_kl_beta = 1e-3;
  kl_kind reward_kl = kl_kind::k1;
  bool whiten = true;
};

//! The arguments of one loss call, as views (the module checks and fills them).
template <class T> struct loss_call {
  loss_token_batch<T> batch;
  matrix_view<T> grad;
  loss_options options;
  token_outputs<T> outputs;
  int threads = 0;
};

//! Type-erased operations of one compiled composition.
struct objective_ops {
  loss_diagnostics (*loss_f32)(const void* obj, const loss_call<float>& call);
  loss_diagnostics (*loss_f64)(const void* obj, const loss_call<double>& call);
  advantage_result<float> (*adv_f32)(const void* obj, const advantage_input<float>& in);
  advantage_result<double> (*adv_f64)(const void* obj, const advantage_input<double>& in);
  index_t components;
  bool uses_old_logp, uses_ref_logp, needs_values, needs_group_ids, needs_seq;
};

//! An objective chosen at run time: the composed object and its operations.
struct runtime_objective {
  std::string name;        //!< the family name it was built from ("grpo")
  std::string composition; //!< e.g. "group_zscore × ppo_clip × token_mean + kl_k3 + entropy_bonus"
  std::shared_ptr<const void> obj;
  const objective_ops* ops = nullptr;
};

//! Builds the objective `name` (see the table above) with `cfg`. Throws `[rlvr.config]` for an
//! unknown name and `[rlvr.unsupported]` for a combination that is not compiled in.
runtime_objective make_objective(const std::string& name, const objective_config& cfg);

//! The names `make_objective` accepts.
std::vector<std::string> objective_names();

// one builder per family, each in its own translation unit (they compile in parallel)
runtime_objective build_sign(const std::string& name, const objective_config& cfg);
runtime_objective build_reinforce(const objective_config& cfg);
runtime_objective build_grpo(const objective_config& cfg);
runtime_objective build_dr_grpo(const objective_config& cfg);
runtime_objective build_rloo(const objective_config& cfg);
runtime_objective build_reinforce_pp(const objective_config& cfg);
runtime_objective build_ppo(const objective_config& cfg);

} // namespace rlvr::python
