// reinforce_pp (REINFORCE++): batch-whitened raw rewards × ppo_clip (registry.hpp).
#include "compose.hpp"

namespace rlvr::python {
runtime_objective build_reinforce_pp(const objective_config& cfg) {
  const whitened<raw_reward> e{.inner = {}, .eps = cfg.whiten_eps};
  return pick_standard<whitened<raw_reward>, ppo_clip, kl_sel::none, agg_kind::token_mean>("reinforce_pp", e,
                                                                                            clip_of(cfg), cfg);
}
} // namespace rlvr::python
