// The registry's name table (registry.hpp).
#include "registry.hpp"

namespace rlvr::python {

const char* agg_name(agg_kind a) {
  switch (a) {
  case agg_kind::token_mean: return "token_mean";
  case agg_kind::seq_mean_token_mean: return "seq_mean_token_mean";
  case agg_kind::seq_mean_token_sum: return "seq_mean_token_sum";
  case agg_kind::seq_mean_token_sum_norm: return "seq_mean_token_sum_norm";
  case agg_kind::token_sum: return "token_sum";
  }
  return "?";
}

const char* kl_name(kl_sel k) {
  switch (k) {
  case kl_sel::none: return "none";
  case kl_sel::k1: return "k1";
  case kl_sel::k2: return "k2";
  case kl_sel::k3: return "k3";
  }
  return "?";
}

std::vector<std::string> objective_names() {
  return {"psr", "nsr", "w_reinforce", "reinforce", "ppo", "grpo", "dr_grpo", "rloo", "reinforce_pp"};
}

runtime_objective make_objective(const std::string& name, const objective_config& cfg) {
  if (name == "psr" || name == "nsr" || name == "w_reinforce") return build_sign(name, cfg);
  if (name == "reinforce") return build_reinforce(cfg);
  if (name == "grpo") return build_grpo(cfg);
  if (name == "dr_grpo") return build_dr_grpo(cfg);
  if (name == "rloo") return build_rloo(cfg);
  if (name == "reinforce_pp" || name == "reinforce++") return build_reinforce_pp(cfg);
  if (name == "ppo") return build_ppo(cfg);
  std::string list;
  for (const auto& n : objective_names()) list += (list.empty() ? "" : ", ") + n;
  fail<config_error>("objective: unknown name '", name, "' (known: ", list, ")");
}

} // namespace rlvr::python
