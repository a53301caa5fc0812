// rloo: leave-one-out baseline × ppo_clip (registry.hpp).
#include "compose.hpp"

namespace rlvr::python {
runtime_objective build_rloo(const objective_config& cfg) {
  return pick_standard<rloo, ppo_clip, kl_sel::none, agg_kind::token_mean>("rloo", rloo{}, clip_of(cfg), cfg);
}
} // namespace rlvr::python
