#pragma once
//! \file rlvr/optim/concepts.hpp
//! \brief The `Optimizer` and `LearningRateSchedule` concepts.
//!
//! An optimizer turns accumulated gradients into a parameter update. It works on the flat list of
//! `parameter_ref`s a policy exposes (`policy.parameters()`), keeps whatever per-parameter state
//! it needs (momenta, second moments, a step counter), and can write that state into a
//! `state_dict` and read it back so that a run resumed from a checkpoint continues **bit for bit**.
//!
//! The learning rate is runtime state of the optimizer (`set_learning_rate`), so a schedule
//! (`rlvr/optim/schedules.hpp`) or a trainer drives it step by step; gradient clipping
//! (`rlvr/optim/clip.hpp`) is a separate function applied to the gradients before `step`.
//!
//! The concept is assembled from small named pieces, so a compiler diagnostic names the piece a
//! type lacks (for example "the required expression `o.save_state(d)` is invalid" under
//! `rlvr::StatefulOptimizer`):
//!
//! | concept                  | requires                                                         |
//! |--------------------------|------------------------------------------------------------------|
//! | `ParameterUpdater`       | `o.step(params)` with `params` a `std::span<const parameter_ref>` |
//! | `LearningRateControl`    | `o.learning_rate()` → double, `o.set_learning_rate(double)`        |
//! | `StatefulOptimizer`      | `o.save_state(state_dict&) const`, `o.load_state(const state_dict&)` |
//! | `Optimizer`              | the opt-in `enable_optimizer<O>` and all three above             |

#include <concepts>
#include <span>
#include <type_traits>

#include "rlvr/optim/parameter.hpp"
#include "rlvr/optim/state_dict.hpp"

namespace rlvr {

//! Opt-in flag for optimizers: specialise to `true`, or give the type a
//! `static constexpr bool is_optimizer = true` member. Structural look-alikes do not model
//! `Optimizer` by accident.
template <class O> inline constexpr bool enable_optimizer = requires { requires O::is_optimizer; };

//! A type O models `ParameterUpdater` if, for `o` an lvalue of O and `params` a
//! `std::span<const parameter_ref>`,
//! 1. `o.step(params)` is valid and updates every `params[i].value` in place from
//!    `params[i].grad` (gradients are read, not cleared), and
//! 2. calling it again with a list of the same names and sizes continues the same optimisation
//!    (per-parameter state is matched by position; a different list is an error).
template <class O>
concept ParameterUpdater = requires(O& o, std::span<const parameter_ref> params) { o.step(params); };

//! A type O models `LearningRateControl` if, for `o` an lvalue of O,
//! 1. `o.learning_rate()` returns the rate the next `step` uses, convertible to `double`, and
//! 2. `o.set_learning_rate(lr)` with a `double` lr ≥ 0 sets it (schedules call this each step).
template <class O>
concept LearningRateControl = requires(O& o, const O& co, double lr) {
  { co.learning_rate() } -> std::convertible_to<double>;
  o.set_learning_rate(lr);
};

//! A type O models `StatefulOptimizer` if, for `o` an lvalue of O and `d` a `state_dict`,
//! 1. `std::as_const(o).save_state(d)` adds the complete optimizer state (moments, step count,
//!    learning rate, hyperparameters) to `d`, and
//! 2. `o.load_state(d)` restores it, so that the steps after a save/load round trip (through a
//!    file included) are bitwise identical to the steps without it.
template <class O>
concept StatefulOptimizer = requires(O& o, const O& co, state_dict& d, const state_dict& cd) {
  co.save_state(d);
  o.load_state(cd);
};

//! A type O models `Optimizer` if
//! 1. it opts in through `rlvr::enable_optimizer<O>`,
//! 2. it models `ParameterUpdater` (a step over `parameter_ref`s),
//! 3. it models `LearningRateControl` (a settable learning rate), and
//! 4. it models `StatefulOptimizer` (its state saves and loads bit-exactly).
template <class O>
concept Optimizer = enable_optimizer<std::remove_cvref_t<O>> && ParameterUpdater<std::remove_cvref_t<O>> &&
                    LearningRateControl<std::remove_cvref_t<O>> && StatefulOptimizer<std::remove_cvref_t<O>>;

//! A type S models `LearningRateSchedule` if, for `s` a const S and `step` an `index_t` ≥ 0
//! (the number of optimizer steps already taken),
//! 1. `s(step)` returns the learning rate for the next step, convertible to `double`, and
//! 2. the result depends only on `step` and the schedule's own parameters (no hidden state),
//!    so a resumed run recomputes it exactly.
template <class S>
concept LearningRateSchedule = requires(const S& s, index_t step) {
  { s(step) } -> std::convertible_to<double>;
};

} // namespace rlvr
