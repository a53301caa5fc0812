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
//!
//! The schedules are aggregates (designated initialisers) and are validated when called, not
//! when built: a negative step raises `range_error`, inconsistent fields `config_error`. They
//! are cheap (a few flops, no allocation) and safe to call from any thread.
//!
//!     const rlvr::cosine_schedule sched{.lr = 1e-4, .total_steps = 200, .warmup_steps = 10};
//!     for (rlvr::index_t s = 0; s < 200; ++s) {
//!       rlvr::apply_schedule(opt, sched, s); // then opt.step(policy.parameters())
//!     }

#include <algorithm>
#include <cmath>
#include <numbers>

#include "rlvr/config.hpp"
#include "rlvr/error.hpp"
#include "rlvr/optim/concepts.hpp"

namespace rlvr {

//! η for every step. Raises `range_error` for a negative step.
struct constant_schedule {
  //! η (the default matches `adam_config`/`adamw_config`)
  double lr = 1e-3;
  [[nodiscard]] double operator()(index_t step) const {
    RLVR_EXPECTS(step >= 0, range, "constant_schedule: step = ", step, " is negative");
    return lr;
  }
};
static_assert(LearningRateSchedule<constant_schedule>);

//! Linear warm-up over `warmup_steps` W ≥ 0 steps to η, then constant.
//!
//! Rates η/W, 2η/W, …, η for steps 0 … W − 1, then η; W = 0 means no warm-up. Raises
//! `range_error` for a negative step and `config_error` for a negative W.
struct warmup_schedule {
  //! η, the rate reached at step W − 1 and kept afterwards
  double lr = 1e-3;
  //! W ≥ 0 (0: constant η)
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
//!
//! The decay starts at η at step W (q = 0) and reaches η_min at step S; steps past S keep
//! η_min. Raises `range_error` for a negative step, `config_error` unless 0 ≤ W < S and
//! 0 ≤ η_min ≤ η.
struct cosine_schedule {
  //! η, the peak rate (end of warm-up)
  double lr = 1e-3;
  //! S > W, the step at which the rate reaches η_min
  index_t total_steps = 1;
  //! W ≥ 0 (0: decay from the first step)
  index_t warmup_steps = 0;
  //! η_min ∈ [0, η], the floor
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
//!
//! `step` is the number of optimizer steps already taken (so 0 before the first step). The
//! schedule's errors propagate, and the optimizer's `set_learning_rate` raises `config_error`
//! for a negative or non-finite rate (rlvr's optimizers do).
template <LearningRateControl O, LearningRateSchedule S> double apply_schedule(O& opt, const S& sched, index_t step) {
  const double lr = static_cast<double>(sched(step));
  opt.set_learning_rate(lr);
  return lr;
}

} // namespace rlvr
