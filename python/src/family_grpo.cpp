// grpo: group_zscore × ppo_clip, k3 KL in the loss by default (registry.hpp).
#include "compose.hpp"

namespace rlvr::python {
runtime_objective build_grpo(const objective_config& cfg) {
  const group_zscore e{.eps = cfg.eps, .std_floor = cfg.std_floor, .singleton = cfg.singleton};
  using enum agg_kind;
  using enum kl_sel;
  return pick("grpo", e, clip_of(cfg), cfg, combo<token_mean, k3>{}, combo<seq_mean_token_mean, k3>{},
              combo<seq_mean_token_sum, k3>{}, combo<seq_mean_token_sum_norm, k3>{}, combo<token_sum, k3>{},
              combo<token_mean, none>{}, combo<seq_mean_token_mean, none>{}, combo<seq_mean_token_sum, none>{},
              combo<seq_mean_token_sum_norm, none>{}, combo<token_sum, none>{}, combo<token_mean, k1>{},
              combo<token_mean, k2>{});
}
} // namespace rlvr::python
