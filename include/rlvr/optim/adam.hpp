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

#include <cmath>
#include <span>
#include <string>

#include "rlvr/optim/concepts.hpp"
#include "rlvr/optim/detail/slots.hpp"

namespace rlvr {

//! Hyperparameters of `adam` (L2 weight decay through the gradient, default 0).
struct adam_config {
  double lr = 1e-3;          //!< η ≥ 0
  double beta1 = 0.9;        //!< β₁ ∈ [0, 1)
  double beta2 = 0.999;      //!< β₂ ∈ [0, 1)
  double eps = 1e-8;         //!< ε > 0, added to √v̂
  double weight_decay = 0.0; //!< λ ≥ 0
};

//! Hyperparameters of `adamw` (decoupled weight decay, default 0.01 as in PyTorch and verl).
struct adamw_config {
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 1e-2;
};

namespace detail {
template <bool Decoupled> class adam_impl {
public:
  static constexpr bool is_optimizer = true;
  using config_type = std::conditional_t<Decoupled, adamw_config, adam_config>;
  static constexpr const char* kind = Decoupled ? "adamw" : "adam";

  explicit adam_impl(const config_type& c = {}) : cfg_(c) { validate(c); }

  //! One update of every parameter from its gradient.
  void step(std::span<const parameter_ref> params) {
    slots_.bind(params, Decoupled ? "adamw::step" : "adam::step");
    const std::int64_t t = steps_ + 1;
    const double bc1 = 1.0 - std::pow(cfg_.beta1, static_cast<double>(t));
    const double bc2 = 1.0 - std::pow(cfg_.beta2, static_cast<double>(t));
    const float step_size = static_cast<float>(cfg_.lr / bc1);
    const float sqrt_bc2 = static_cast<float>(std::sqrt(bc2));
    const float b2 = static_cast<float>(cfg_.beta2);
    const float one_b1 = static_cast<float>(1.0 - cfg_.beta1), one_b2 = static_cast<float>(1.0 - cfg_.beta2);
    const float eps = static_cast<float>(cfg_.eps);
    const float wd = static_cast<float>(cfg_.weight_decay);
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
        const float denom = std::sqrt(v[j]) / sqrt_bc2 + eps;
        th[j] -= step_size * (m[j] / denom);
      }
    }
    steps_ = t;
  }

  [[nodiscard]] double learning_rate() const noexcept { return cfg_.lr; }
  void set_learning_rate(double lr) {
    expect_lr(lr, Decoupled ? "adamw::set_learning_rate" : "adam::set_learning_rate");
    cfg_.lr = lr;
  }
  [[nodiscard]] const config_type& config() const noexcept { return cfg_; }
  //! Number of steps taken (t of the last step).
  [[nodiscard]] std::int64_t steps() const noexcept { return steps_; }

  //! Adds metadata `optimizer` (`adam`/`adamw`), `step`, `lr`, `beta1`, `beta2`, `eps`,
  //! `weight_decay`, `params` and tensors `m.<name>`, `v.<name>`.
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
  static constexpr const char* names[2] = {"m", "v"};
  config_type cfg_;
  std::int64_t steps_ = 0;
  optimizer_slots<2> slots_;
};
} // namespace detail

//! Adam with optional L2 weight decay (PyTorch `Adam` semantics). Models `rlvr::Optimizer`.
using adam = detail::adam_impl<false>;
static_assert(Optimizer<adam>);

//! AdamW: Adam with decoupled weight decay (PyTorch `AdamW` semantics). Models `rlvr::Optimizer`.
using adamw = detail::adam_impl<true>;
static_assert(Optimizer<adamw>);

} // namespace rlvr
