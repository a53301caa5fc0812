// dr_grpo: group_mean_baseline × ppo_clip, seq_mean_token_sum_norm by default (registry.hpp).
#include "compose.hpp"

namespace rlvr::python {
runtime_objective build_dr_grpo(const objective_config& cfg) {
  return pick_standard<group_mean_baseline, ppo_clip, kl_sel::none, agg_kind::seq_mean_token_sum_norm>(
      "dr_grpo", group_mean_baseline{}, clip_of(cfg), cfg);
}
} // namespace rlvr::python
