#pragma once
//! \file rlvr/optim/adam.hpp
//! \brief Adam (Kingma & Ba 2015) and AdamW (Loshchilov & Hutter 2019, decoupled weight decay).
//!
//! Per element, at step t = 1, 2, … with g = grad, learning rate η, decay λ:
//!
//!     AdamW only:  θ ← θ·(1 − η·λ)                  (decoupled decay, before the moments)
//!     Adam only:   g ← g + λ·θ                      (L2 decay through the gradient)
//!     m ← β₁·m + (1 − β₁)·g                         (as m + (1 − β₁)(g − m), PyTorch's lerp)
//!     v ← β₂·v + (1 − β₂)·g²
//!     θ ← θ − (η / (1 − β₁ᵗ)) · m / (√v / √(1 − β₂ᵗ) + ε)
//!
//! which is PyTorch's `torch.optim.Adam` / `AdamW` formula (the bias corrections are applied to
//! the step size and the denominator, so ε is added to √v̂, not to v̂). The per-step scalars
//! (η / (1 − β₁ᵗ), √(1 − β₂ᵗ), 1 − η·λ) are computed in double and rounded to float; the
//! element arithmetic is float32. State: m, v per parameter and the step counter t;
//! `save_state`/`load_state` round-trip them bit-exactly, so a resumed run matches.
//!
//! The paper trains with AdamW, lr 1e-6, weight decay 0.01 (verl's default), β = (0.9, 0.999).
//!
//! Both optimizers are one class template, `detail::adam_impl<Decoupled>`, exposed as the
//! aliases `rlvr::adam` (L2 decay) and `rlvr::adamw` (decoupled decay); they differ only in the
//! decay line above, the config type's default λ and the `optimizer` name in a checkpoint.
//!
//! The m and v buffers are allocated (zero) on the first `step`, two floats per parameter
//! scalar, and bound to that parameter list: a later step with another number of parameters
//! or other names raises `config_error`, other sizes `shape_error`. A step is single-threaded,
//! a few flops and one √ per scalar, and deterministic. An optimizer is a value type (copyable,
//! movable), not safe to share between threads.
//!
//!     rlvr::adamw opt({.lr = 1e-6, .weight_decay = 0.01});          // the paper's settings
//!     rlvr::clip_grad_norm(policy.parameters(), 1.0);
//!     opt.step(policy.parameters());

#include <cmath>
#include <span>
#include <string>

#include "rlvr/optim/concepts.hpp"
#include "rlvr/optim/detail/slots.hpp"

namespace rlvr {

//! Hyperparameters of `adam` (L2 weight decay through the gradient, default 0).
//!
//! The defaults are PyTorch's `torch.optim.Adam` defaults. Validated by the constructor:
//! `config_error` names the first field out of range.
struct adam_config {
  double lr = 1e-3;          //!< η ≥ 0
  double beta1 = 0.9;        //!< β₁ ∈ [0, 1)
  double beta2 = 0.999;      //!< β₂ ∈ [0, 1)
  double eps = 1e-8;         //!< ε > 0, added to √v̂
  double weight_decay = 0.0; //!< λ ≥ 0
};

//! Hyperparameters of `adamw` (decoupled weight decay, default 0.01 as in PyTorch and verl).
//!
//! A separate type from `adam_config` only so that the default λ can differ; the fields and
//! their ranges are the same.
struct adamw_config {
  //! η ≥ 0
  double lr = 1e-3;
  //! β₁ ∈ [0, 1), decay of the first moment m
  double beta1 = 0.9;
  //! β₂ ∈ [0, 1), decay of the second moment v
  double beta2 = 0.999;
  //! ε > 0, added to √v̂
  double eps = 1e-8;
  //! λ ≥ 0; θ shrinks by the factor 1 − η·λ each step
  double weight_decay = 1e-2;
};

namespace detail {
//! Adam (`Decoupled = false`) or AdamW (`Decoupled = true`); use the `rlvr::adam` and
//! `rlvr::adamw` aliases below.
template <bool Decoupled> class adam_impl {
public:
  static constexpr bool is_optimizer = true;
  //! `adamw_config` or `adam_config`.
  using config_type = std::conditional_t<Decoupled, adamw_config, adam_config>;
  //! The `optimizer` metadata value written by `save_state` and required by `load_state`.
  static constexpr const char* kind = Decoupled ? "adamw" : "adam";

  //! Raises `config_error` if η is negative or not finite, β₁ or β₂ ∉ [0, 1), ε ≤ 0 or λ < 0.
  explicit adam_impl(const config_type& c = {}) : cfg_(c) { validate(c); }

  //! One update of every parameter from its gradient.
  //!
  //! Reads `grad` (not cleared) and writes `value`. The first call fixes the parameter list;
  //! raises `config_error` if a later list differs in count or names, `shape_error` if a
  //! parameter's size changed or its `grad` is not as long as its `value`. A NaN or Inf
  //! gradient is not detected here: it propagates into m, v and θ (`clip_grad_norm` reports it).
  void step(std::span<const parameter_ref> params) {
    slots_.bind(params, Decoupled ? "adamw::step" : "adam::step");
    // Bias corrections for step t in double, as PyTorch computes them (Python floats): at t = 1,
    // 1 − β₂ᵗ ≈ 1e-3 is a difference of nearly equal numbers and would lose digits in float.
    // The step size and √(1 − β₂ᵗ) are then rounded to float once per step.
    const std::int64_t t = steps_ + 1;
    const double bc1 = 1.0 - std::pow(cfg_.beta1, static_cast<double>(t));
    const double bc2 = 1.0 - std::pow(cfg_.beta2, static_cast<double>(t));
    const float step_size = static_cast<float>(cfg_.lr / bc1);
    const float sqrt_bc2 = static_cast<float>(std::sqrt(bc2));
    const float b2 = static_cast<float>(cfg_.beta2);
    const float one_b1 = static_cast<float>(1.0 - cfg_.beta1), one_b2 = static_cast<float>(1.0 - cfg_.beta2);
    const float eps = static_cast<float>(cfg_.eps);
    const float wd = static_cast<float>(cfg_.weight_decay);
    // AdamW's decoupled decay factor 1 − η·λ (PyTorch multiplies θ by it before the moments).
    const float shrink = static_cast<float>(1.0 - cfg_.lr * cfg_.weight_decay);
    for (std::size_t i = 0; i < params.size(); ++i) {
      float* th = params[i].value.data();
      const float* gr = params[i].grad.data();
      float* m = slots_[i].buf[0].data();
      float* v = slots_[i].buf[1].data();
      const std::size_t n = params[i].value.size();
      for (std::size_t j = 0; j < n; ++j) {
        float g = gr[j];
        if constexpr (Decoupled) {
          if (wd != 0.0f) th[j] *= shrink;
        } else {
          if (wd != 0.0f) g += wd * th[j];
        }
        m[j] += one_b1 * (g - m[j]); // PyTorch's lerp(m, g, 1 − β₁)
        v[j] = b2 * v[j] + one_b2 * g * g;
        // √v̂ + ε with v̂ = v/(1 − β₂ᵗ): PyTorch's order, so ε is not bias-corrected.
        const float denom = std::sqrt(v[j]) / sqrt_bc2 + eps;
        th[j] -= step_size * (m[j] / denom);
      }
    }
    steps_ = t;
  }

  //! The rate η the next `step` uses.
  [[nodiscard]] double learning_rate() const noexcept { return cfg_.lr; }
  //! Sets η (schedules call this each step); raises `config_error` unless finite and ≥ 0. For
  //! AdamW it also changes the decay factor 1 − η·λ, as in PyTorch.
  void set_learning_rate(double lr) {
    expect_lr(lr, Decoupled ? "adamw::set_learning_rate" : "adam::set_learning_rate");
    cfg_.lr = lr;
  }
  //! The current hyperparameters (`lr` reflects the last `set_learning_rate`).
  [[nodiscard]] const config_type& config() const noexcept { return cfg_; }
  //! Number of steps taken (t of the last step).
  [[nodiscard]] std::int64_t steps() const noexcept { return steps_; }

  //! Adds metadata `optimizer` (`adam`/`adamw`), `step`, `lr`, `beta1`, `beta2`, `eps`,
  //! `weight_decay`, `params` and tensors `m.<name>`, `v.<name>`.
  //!
  //! Numbers are written in shortest round-trip form and m, v as float32 tensors, so loading
  //! the result resumes bit for bit. `params` lists the parameter names in order, one a line
  //! (empty, with no tensors, before the first step).
  void save_state(state_dict& d) const {
    d.set_meta("optimizer", kind);
    d.set_meta_int("step", steps_);
    d.set_meta_number("lr", cfg_.lr);
    d.set_meta_number("beta1", cfg_.beta1);
    d.set_meta_number("beta2", cfg_.beta2);
    d.set_meta_number("eps", cfg_.eps);
    d.set_meta_number("weight_decay", cfg_.weight_decay);
    slots_.save(d, names);
  }
  //! Restores everything `save_state` wrote (hyperparameters included).
  //!
  //! Raises `config_error` if `d` was written by another optimizer kind (an `adam` state does
  //! not load into an `adamw`) or holds invalid hyperparameters, `parse_error` for a negative
  //! step, and the `state_dict` accessor errors for missing keys or tensors. Built in a fresh
  //! object and moved in at the end, so `*this` is unchanged on error.
  void load_state(const state_dict& d) {
    expect_optimizer_kind(d, kind);
    config_type c;
    c.lr = d.meta_number("lr");
    c.beta1 = d.meta_number("beta1");
    c.beta2 = d.meta_number("beta2");
    c.eps = d.meta_number("eps");
    c.weight_decay = d.meta_number("weight_decay");
    adam_impl fresh(c);
    fresh.steps_ = d.meta_int("step");
    RLVR_EXPECTS(fresh.steps_ >= 0, parse, "load_state: step = ", fresh.steps_, " is negative");
    fresh.slots_.load(d, names);
    *this = std::move(fresh);
  }

private:
  static void validate(const config_type& c) {
    const char* who = Decoupled ? "adamw" : "adam";
    expect_lr(c.lr, who);
    RLVR_EXPECTS(c.beta1 >= 0.0 && c.beta1 < 1.0, config, who, ": beta1 = ", c.beta1, " not in [0, 1)");
    RLVR_EXPECTS(c.beta2 >= 0.0 && c.beta2 < 1.0, config, who, ": beta2 = ", c.beta2, " not in [0, 1)");
    RLVR_EXPECTS(c.eps > 0.0, config, who, ": eps = ", c.eps, " must be > 0");
    RLVR_EXPECTS(c.weight_decay >= 0.0, config, who, ": weight_decay = ", c.weight_decay, " must be >= 0");
  }
  // Prefixes of the buffer tensors in a state_dict (`m.<name>`, `v.<name>`).
  static constexpr const char* names[2] = {"m", "v"};
  config_type cfg_;
  // t of the last step (0 before the first); the bias corrections depend on it.
  std::int64_t steps_ = 0;
  // Buffers 0 and 1 of each parameter: m and v.
  optimizer_slots<2> slots_;
};
} // namespace detail

//! Adam with optional L2 weight decay (PyTorch `Adam` semantics). Models `rlvr::Optimizer`.
//! With λ > 0 the decay passes through the moments, so it is rescaled by the adaptive
//! denominator; prefer `adamw` for weight decay proper.
using adam = detail::adam_impl<false>;
static_assert(Optimizer<adam>);

//! AdamW: Adam with decoupled weight decay (PyTorch `AdamW` semantics). Models `rlvr::Optimizer`.
//! The optimizer the paper trains with, and the one docs/trainer.md's example uses: the decay
//! shrinks θ directly and is not rescaled by the adaptive denominator.
using adamw = detail::adam_impl<true>;
static_assert(Optimizer<adamw>);

} // namespace rlvr
