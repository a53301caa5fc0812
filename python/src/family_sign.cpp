// psr, nsr and w_reinforce: sign_split × ppo_clip (registry.hpp).
#include "compose.hpp"

namespace rlvr::python {
runtime_objective build_sign(const std::string& name, const objective_config& cfg) {
  sign_split e;
  if (name == "psr") e = {1.0, 0.0, cfg.unused};
  else if (name == "nsr") e = {0.0, -1.0, cfg.unused};
  else e = {cfg.lam, -1.0, unused_side::zero}; // w_reinforce: λ·PSR + NSR, nothing dropped
  return pick_standard<sign_split, ppo_clip, kl_sel::none, agg_kind::token_mean>(name, e, clip_of(cfg), cfg);
}
} // namespace rlvr::python
