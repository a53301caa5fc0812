#pragma once
// Registers the example task two_strategies (two_strategies.hpp) with rlvr-study: the whole of
// what a user writes to add a task to the study (besides the task itself), then
//   rlvr_add_study(my-study TASKS ${CMAKE_CURRENT_SOURCE_DIR}/register_two_strategies.hpp)
// in CMake (rlvr-study itself is built this way with this header). Every field of
// two_strategies_config is a `--task-option`:
//   rlvr-study --task two_strategies --task-option modulus=11 --task-option check_steps=true
#include "task_registry.hpp"
#include "two_strategies.hpp"

RLVR_STUDY_TASK(two_strategies, {
    .name = "two_strategies",
    .summary = "sums in Z_7 by a dominant heuristic (right on half the problems) or a rarer general method",
    .wrong_fraction = 0.25,
    .map_wrong_fractions = {0.1, 0.25, 0.5},
    .make = [](study::task_options& o) {
      study_tasks::two_strategies_config c;
      c.modulus = o.get_int("modulus", c.modulus);
      c.min_terms = o.get_int("min_terms", c.min_terms);
      c.max_terms = o.get_int("max_terms", c.max_terms);
      c.eval_min_terms = o.get_int("eval_min_terms", c.eval_min_terms);
      c.eval_max_terms = o.get_int("eval_max_terms", c.eval_max_terms);
      c.pretrain_max_terms = o.get_int("pretrain_max_terms", c.pretrain_max_terms);
      c.heuristic_share = o.get_double("heuristic_share", c.heuristic_share);
      c.shortcut_share = o.get_double("shortcut_share", c.shortcut_share);
      c.check_steps = o.get_bool("check_steps", c.check_steps);
      c.fixed_width = o.get_bool("fixed_width", c.fixed_width);
      return study::any_task(study_tasks::two_strategies(c));
    }});
