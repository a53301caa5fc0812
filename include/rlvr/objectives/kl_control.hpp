#pragma once
//! \file rlvr/objectives/kl_control.hpp
//! \brief KL coefficient controllers for KL-in-reward (`gae::kl_beta`): fixed and adaptive.
//!
//! The adaptive controller (Ziegler et al. 2019, "Fine-tuning language models from human
//! preferences"; verl `algorithm.kl_ctrl.type = "adaptive"`, OpenRLHF `AdaptiveKLController`)
//! moves β toward a target KL: after a step whose measured KL(π‖π_ref) per token is KL over
//! n_steps samples,
//!   e = clip(KL / KL_target − 1, −0.2, 0.2),   β ← β·(1 + e·n_steps / horizon).
//! A KL above target raises β proportionally, below lowers it; the ±0.2 clip bounds the change
//! per update. Use it as: `obj.estimator.kl_beta = ctl.value;` before estimating advantages,
//! then `ctl.update(metrics.ref_kl, batch_responses)` after the step.

#include <algorithm>
#include <cmath>

#include "rlvr/error.hpp"

namespace rlvr {

//! β held constant (verl `kl_ctrl.type = "fixed"`). Same interface as the adaptive controller,
//! so a training loop can switch between them without other changes.
struct fixed_kl_controller {
  double value = 1e-3; //!< β ≥ 0
  //! Does nothing: β stays at `value`.
  void update(double /*current_kl*/, double /*n_steps*/) {}
  //! Throws `rlvr::config_error` unless value is finite and ≥ 0.
  void validate() const {
    RLVR_EXPECTS(value >= 0.0 && std::isfinite(value), config, "fixed_kl_controller: value = ", value,
                 " must be finite and >= 0");
  }
};

//! Proportional controller of β toward `target` KL (see the file comment).
//! The KL to feed it is the per-token KL(π‖π_ref) of the last batch, e.g. the trainer's
//! `step_metrics` reference KL or `loss_diagnostics::ref_kl`; n_steps is the number of samples
//! (responses) that batch held, so larger batches move β further per update.
struct adaptive_kl_controller {
  double value = 1e-3;     //!< current β > 0 (the initial coefficient)
  double target = 0.1;     //!< KL_target > 0 (per token, nats)
  double horizon = 10000;  //!< > 0: samples over which the error is corrected

  //! One update from the KL measured on the last batch of `n_steps` samples (≥ 0).
  //! Example: β = 0.1, target 6, horizon 10 000, a batch of 256 samples at KL 9 gives
  //! e = +0.2 (clipped from 0.5) and β = 0.1·(1 + 0.2·256/10 000) = 0.100512.
  //! Throws `rlvr::numerical_error` for a non-finite KL, `rlvr::config_error` for bad settings.
  void update(double current_kl, double n_steps) {
    validate();
    RLVR_EXPECTS(std::isfinite(current_kl), numerical, "adaptive_kl_controller: current_kl = ", current_kl,
                 " is not finite");
    RLVR_EXPECTS(n_steps >= 0.0 && std::isfinite(n_steps), config, "adaptive_kl_controller: n_steps = ", n_steps,
                 " must be finite and >= 0");
    const double e = std::clamp(current_kl / target - 1.0, -0.2, 0.2);
    value *= 1.0 + e * n_steps / horizon;
  }
  //! Throws `rlvr::config_error` unless value, target and horizon are finite and > 0.
  void validate() const {
    RLVR_EXPECTS(value > 0.0 && std::isfinite(value), config, "adaptive_kl_controller: value = ", value,
                 " must be finite and > 0");
    RLVR_EXPECTS(target > 0.0 && std::isfinite(target), config, "adaptive_kl_controller: target = ", target,
                 " must be finite and > 0");
    RLVR_EXPECTS(horizon > 0.0 && std::isfinite(horizon), config, "adaptive_kl_controller: horizon = ", horizon,
                 " must be finite and > 0");
  }
};

} // namespace rlvr
