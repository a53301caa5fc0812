// ppo: GAE (β·KL folded into the rewards) × ppo_clip (registry.hpp).
#include "compose.hpp"

namespace rlvr::python {
runtime_objective build_ppo(const objective_config& cfg) {
  const gae e{.gamma = cfg.gamma, .lambda = cfg.gae_lambda, .kl_beta = cfg.reward_kl_beta, .whiten = cfg.whiten,
              .whiten_eps = cfg.whiten_eps, .kl = cfg.reward_kl};
  return pick_standard<gae, ppo_clip, kl_sel::none, agg_kind::token_mean>("ppo", e, clip_of(cfg), cfg);
}
} // namespace rlvr::python
