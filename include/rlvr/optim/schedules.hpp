#pragma once
//! \file rlvr/optim/schedules.hpp
//! \brief Learning-rate schedules: constant, linear warm-up, and cosine decay with warm-up.
//!
//! A schedule is a pure function of the number of optimizer steps already taken, s = 0, 1, …
//! (`LearningRateSchedule`): it holds no state, so a resumed run recomputes the same rate.
//! Before optimizer step number s + 1, call `apply_schedule(opt, sched, s)`.
//!
//! | schedule            | rate for step s                                                          |
//! |---------------------|--------------------------------------------------------------------------|
//! | `constant_schedule` | η                                                                        |
//! | `warmup_schedule`   | η·min(1, (s + 1)/W)                                                      |
//! | `cosine_schedule`   | warm-up as above for s < W, then η_min + (η − η_min)·½(1 + cos(π·q)),     |
//! |                     | q = min(1, (s − W)/(S − W)) with S = total_steps                         |
//!
//! Warm-up counts from (s + 1)/W so that the first step already moves (η/W); Hugging Face's
//! `get_*_schedule_with_warmup` uses s/W and spends its first step at rate 0. After S steps the
//! cosine schedule stays at η_min.

#include <algorithm>
#include <cmath>
#include <numbers>

#include "rlvr/config.hpp"
#include "rlvr/error.hpp"
#include "rlvr/optim/concepts.hpp"

namespace rlvr {

//! η for every step.
struct constant_schedule {
  double lr = 1e-3;
  [[nodiscard]] double operator()(index_t step) const {
    RLVR_EXPECTS(step >= 0, range, "constant_schedule: step = ", step, " is negative");
    return lr;
  }
};
static_assert(LearningRateSchedule<constant_schedule>);

//! Linear warm-up over `warmup_steps` W ≥ 0 steps to η, then constant.
struct warmup_schedule {
  double lr = 1e-3;
  index_t warmup_steps = 0;
  [[nodiscard]] double operator()(index_t step) const {
    RLVR_EXPECTS(step >= 0, range, "warmup_schedule: step = ", step, " is negative");
    RLVR_EXPECTS(warmup_steps >= 0, config, "warmup_schedule: warmup_steps = ", warmup_steps, " is negative");
    if (step >= warmup_steps) return lr;
    return lr * static_cast<double>(step + 1) / static_cast<double>(warmup_steps);
  }
};
static_assert(LearningRateSchedule<warmup_schedule>);

//! Linear warm-up over W steps, then cosine decay from η to η_min at step S = total_steps.
struct cosine_schedule {
  double lr = 1e-3;
  index_t total_steps = 1;
  index_t warmup_steps = 0;
  double min_lr = 0.0;
  [[nodiscard]] double operator()(index_t step) const {
    RLVR_EXPECTS(step >= 0, range, "cosine_schedule: step = ", step, " is negative");
    RLVR_EXPECTS(warmup_steps >= 0 && total_steps > warmup_steps, config, "cosine_schedule: total_steps = ",
                 total_steps, " must exceed warmup_steps = ", warmup_steps, " >= 0");
    RLVR_EXPECTS(min_lr >= 0.0 && min_lr <= lr, config, "cosine_schedule: min_lr = ", min_lr,
                 " not in [0, lr = ", lr, "]");
    if (step < warmup_steps) return lr * static_cast<double>(step + 1) / static_cast<double>(warmup_steps);
    const double q = std::min(1.0, static_cast<double>(step - warmup_steps) /
                                       static_cast<double>(total_steps - warmup_steps));
    return min_lr + (lr - min_lr) * 0.5 * (1.0 + std::cos(std::numbers::pi * q));
  }
};
static_assert(LearningRateSchedule<cosine_schedule>);

//! Sets the optimizer's learning rate to `sched(step)`; returns it.
template <LearningRateControl O, LearningRateSchedule S> double apply_schedule(O& opt, const S& sched, index_t step) {
  const double lr = static_cast<double>(sched(step));
  opt.set_learning_rate(lr);
  return lr;
}

} // namespace rlvr
