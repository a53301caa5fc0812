// reinforce: sign_split{+1, −1} × reinforce_surrogate (registry.hpp).
#include "compose.hpp"

namespace rlvr::python {
runtime_objective build_reinforce(const objective_config& cfg) {
  const sign_split e{cfg.positive, cfg.negative, unused_side::zero};
  return pick_standard<sign_split, reinforce_surrogate, kl_sel::none, agg_kind::token_mean>("reinforce", e, {}, cfg);
}
} // namespace rlvr::python
