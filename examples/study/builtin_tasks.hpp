#pragma once
// rlvr-study's built-in tasks, registered as any plugin task is (task_registry.hpp):
//   zp_walk     the Z_p walk (rlvr/tasks/zp_walk.hpp): many plausible next nodes per step;
//   graph_path  walks on a seeded random digraph (rlvr/tasks/graph_path.hpp), the contrast task.
// Their parameters are `--task-option key=value` settings (defaults in the factories below).

#include <rlvr/tasks/graph_path.hpp>
#include <rlvr/tasks/zp_walk.hpp>

#include "task_registry.hpp"

namespace study::builtin {

//! The walk bands of a walk task from its options (`fallback` gives the defaults).
inline rlvr::tasks::walk_config walk_options(task_options& o, const rlvr::tasks::walk_config& fallback) {
  rlvr::tasks::walk_config w;
  w.pretrain_max_steps = o.get_int("pretrain_max_steps", fallback.pretrain_max_steps);
  w.train_max_distance = o.get_int("train_max_distance", fallback.train_max_distance);
  w.eval_min_distance = o.get_int("eval_min_distance", fallback.eval_min_distance);
  w.eval_max_distance = o.get_int("eval_max_distance", fallback.eval_max_distance);
  w.max_steps = o.get_int("max_steps", fallback.max_steps);
  return w;
}

} // namespace study::builtin

// zp_walk's study defaults (calibrated on the base model only, docs/study.md): RL problems at
// distance 1-4, the harder split at 5-6, pretraining walks of 1-4 steps, 90 % of them with a slip.
RLVR_STUDY_TASK(zp_walk, {
    .name = "zp_walk",
    .summary = "walks in Z_p along v -> v + 1 and v -> 2v (p = 53): many plausible next nodes per step",
    .wrong_fraction = 0.9,
    .map_wrong_fractions = {0.75, 0.9, 0.97},
    .make = [](study::task_options& o) {
      const int p = o.get_int("modulus", 53);
      const rlvr::tasks::walk_config defaults{.pretrain_max_steps = 4, .train_max_distance = 4, .eval_min_distance = 5,
                                              .eval_max_distance = 6, .max_steps = 10};
      return study::any_task(rlvr::tasks::zp_walk({.modulus = p, .walk = study::builtin::walk_options(o, defaults)}));
    }});

RLVR_STUDY_TASK(graph_path, {
    .name = "graph_path",
    .summary = "walks on a seeded random digraph (24 nodes, out-degree 2 + 1): the contrast task",
    .wrong_fraction = 0.75,
    .map_wrong_fractions = {0.6, 0.75, 0.9},
    .make = [](study::task_options& o) {
      rlvr::tasks::graph_path_config g;
      g.nodes = o.get_int("nodes", g.nodes);
      g.out_degree = o.get_int("out_degree", g.out_degree);
      const int seed = o.get_int("graph_seed", static_cast<int>(g.graph_seed));
      RLVR_EXPECTS(seed >= 0, config, "graph_path: graph_seed = ", seed, " must be >= 0");
      g.graph_seed = static_cast<std::uint64_t>(seed);
      g.walk = study::builtin::walk_options(o, g.walk);
      return study::any_task(rlvr::tasks::graph_path(g));
    }});
