#pragma once
//! \file rlvr/optim/sgd.hpp
//! \brief Stochastic gradient descent with momentum, dampening, Nesterov and L2 weight decay.
//!
//! The update follows PyTorch's `torch.optim.SGD` exactly, per element, with g = grad:
//!
//!     g ← g + λ·θ                                   (weight_decay λ, L2; skipped when λ = 0)
//!     b ← g                 on the first step,       (momentum μ > 0 only)
//!     b ← μ·b + (1 − d)·g   afterwards               (dampening d)
//!     g ← g + μ·b  (Nesterov)   or   g ← b
//!     θ ← θ − η·g                                    (learning rate η)
//!
//! Arithmetic is float32 with the hyperparameters rounded to float once per step (PyTorch's
//! float32 path). State: the momentum buffer b per parameter and whether it has been
//! initialised; `save_state`/`load_state` round-trip it bit-exactly.
//!
//! The momentum buffers are allocated (zero) on the first `step`, one float per parameter
//! scalar, and bound to that parameter list: a later step with a different number of
//! parameters, other names (`config_error`) or other sizes (`shape_error`) is refused. Memory:
//! one extra float per parameter scalar (allocated even when μ = 0). Cost of a step: a few
//! flops per scalar, single-threaded; the result is deterministic.
//!
//! An `sgd` is a value type (copyable, movable) and not thread-safe: one optimizer per model,
//! driven by one thread.
//!
//!     rlvr::sgd opt({.lr = 0.1, .momentum = 0.9, .nesterov = true});
//!     policy.zero_grad();
//!     // … forward, loss gradient, policy.backward(dlogits) …
//!     opt.step(policy.parameters());

#include <span>
#include <string>

#include "rlvr/optim/concepts.hpp"
#include "rlvr/optim/detail/slots.hpp"

namespace rlvr {

//! Hyperparameters of `sgd` (designated initialisers: `sgd({.lr = 0.1, .momentum = 0.9})`).
//!
//! The defaults give plain SGD (no momentum, dampening, decay or Nesterov), as PyTorch's
//! do; the learning rate defaults to 1e-2. They are validated by the `sgd` constructor and by `set_learning_rate`/`load_state`.
struct sgd_config {
  double lr = 1e-2;          //!< learning rate η ≥ 0
  double momentum = 0.0;     //!< μ ∈ [0, 1)
  double dampening = 0.0;    //!< d ∈ [0, 1]
  double weight_decay = 0.0; //!< L2 coefficient λ ≥ 0 (added to the gradient)
  bool nesterov = false;     //!< Nesterov momentum (needs μ > 0 and d = 0)
};

//! SGD with momentum (PyTorch semantics). Models `rlvr::Optimizer`.
class sgd {
public:
  static constexpr bool is_optimizer = true;

  //! Validates `c`: raises `config_error` if η is negative or not finite, μ ∉ [0, 1),
  //! d ∉ [0, 1], λ < 0, or Nesterov is asked for without μ > 0 and d = 0.
  explicit sgd(const sgd_config& c = {}) : cfg_(c) {
    detail::expect_lr(c.lr, "sgd");
    RLVR_EXPECTS(c.momentum >= 0.0 && c.momentum < 1.0, config, "sgd: momentum = ", c.momentum, " not in [0, 1)");
    RLVR_EXPECTS(c.dampening >= 0.0 && c.dampening <= 1.0, config, "sgd: dampening = ", c.dampening,
                 " not in [0, 1]");
    RLVR_EXPECTS(c.weight_decay >= 0.0, config, "sgd: weight_decay = ", c.weight_decay, " must be >= 0");
    RLVR_EXPECTS(!c.nesterov || (c.momentum > 0.0 && c.dampening == 0.0), config,
                 "sgd: nesterov needs momentum > 0 and dampening = 0 (momentum = ", c.momentum,
                 ", dampening = ", c.dampening, ")");
  }

  //! One update of every parameter from its gradient.
  //!
  //! Reads `grad` (it is not cleared: call the policy's `zero_grad()` before the next
  //! backward) and writes `value`. The first call fixes the parameter list; raises
  //! `config_error` if a later list differs in count or names, `shape_error` if a parameter's
  //! size changed or its `grad` is not as long as its `value`.
  void step(std::span<const parameter_ref> params) {
    slots_.bind(params, "sgd::step");
    const float lr = static_cast<float>(cfg_.lr), mu = static_cast<float>(cfg_.momentum),
                damp = 1.0f - static_cast<float>(cfg_.dampening), wd = static_cast<float>(cfg_.weight_decay);
    for (std::size_t i = 0; i < params.size(); ++i) {
      float* th = params[i].value.data();
      const float* gr = params[i].grad.data();
      float* b = slots_[i].buf[0].data();
      const std::size_t n = params[i].value.size();
      for (std::size_t j = 0; j < n; ++j) {
        float g = gr[j];
        if (wd != 0.0f) g += wd * th[j];
        if (mu != 0.0f) {
          // PyTorch seeds the buffer with the raw gradient on the first step (no dampening);
          // "first" is the optimizer's step count, so a resumed run continues correctly.
          b[j] = steps_ == 0 ? g : mu * b[j] + damp * g;
          g = cfg_.nesterov ? g + mu * b[j] : b[j];
        }
        th[j] -= lr * g;
      }
    }
    ++steps_;
  }

  //! The rate η the next `step` uses.
  [[nodiscard]] double learning_rate() const noexcept { return cfg_.lr; }
  //! Sets η (schedules call this before each step); raises `config_error` unless finite and ≥ 0.
  void set_learning_rate(double lr) {
    detail::expect_lr(lr, "sgd::set_learning_rate");
    cfg_.lr = lr;
  }
  //! The current hyperparameters (`lr` reflects the last `set_learning_rate`).
  [[nodiscard]] const sgd_config& config() const noexcept { return cfg_; }
  //! Number of steps taken.
  [[nodiscard]] std::int64_t steps() const noexcept { return steps_; }

  //! Adds metadata `optimizer = sgd`, `step`, `lr`, `momentum`, `dampening`, `weight_decay`,
  //! `nesterov`, `params` and tensors `momentum.<name>`.
  //!
  //! Numbers are written in shortest round-trip form and the buffers as float32 tensors, so a
  //! `load_state` of the result (through a safetensors file included) resumes bit for bit.
  //! Before the first step there are no buffers: `params` is empty and no tensor is written.
  void save_state(state_dict& d) const {
    d.set_meta("optimizer", "sgd");
    d.set_meta_int("step", steps_);
    d.set_meta_number("lr", cfg_.lr);
    d.set_meta_number("momentum", cfg_.momentum);
    d.set_meta_number("dampening", cfg_.dampening);
    d.set_meta_number("weight_decay", cfg_.weight_decay);
    d.set_meta_int("nesterov", cfg_.nesterov ? 1 : 0);
    slots_.save(d, names);
  }
  //! Restores everything `save_state` wrote (hyperparameters included).
  //!
  //! Raises `config_error` if `d` was saved by another optimizer kind or holds invalid
  //! hyperparameters, and the `state_dict` accessor errors if a key is missing. The state is
  //! built in a fresh object and moved in at the end, so on error `*this` is unchanged. The
  //! restored buffers are checked against the parameter list at the next `step`.
  void load_state(const state_dict& d) {
    detail::expect_optimizer_kind(d, "sgd");
    sgd_config c;
    c.lr = d.meta_number("lr");
    c.momentum = d.meta_number("momentum");
    c.dampening = d.meta_number("dampening");
    c.weight_decay = d.meta_number("weight_decay");
    c.nesterov = d.meta_int("nesterov") != 0;
    sgd fresh(c); // validates
    fresh.steps_ = d.meta_int("step");
    // a negative step would make the next step skip the momentum buffer's initialisation
    RLVR_EXPECTS(fresh.steps_ >= 0, parse, "load_state: step = ", fresh.steps_, " is negative");
    fresh.slots_.load(d, names);
    *this = std::move(fresh);
  }

private:
  // Prefix of the buffer tensors in a state_dict (`momentum.<parameter name>`).
  static constexpr const char* names[1] = {"momentum"};
  sgd_config cfg_;
  // Steps taken; 0 also means "momentum buffer not yet initialised" (see `step`).
  std::int64_t steps_ = 0;
  // One buffer per parameter: b, bound to the parameter list on the first step.
  detail::optimizer_slots<1> slots_;
};
static_assert(Optimizer<sgd>);

} // namespace rlvr
