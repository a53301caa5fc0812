#pragma once
//! \file rlvr/optim/clip.hpp
//! \brief Global-norm gradient clipping (the paper clips at 1.0).
//!
//! ‖g‖ = √(Σ_params Σ_i g_i²), accumulated in double over every parameter's gradient. If
//! ‖g‖ > c (max_norm), every gradient is multiplied by c / (‖g‖ + 1e-6) — PyTorch's
//! `clip_grad_norm_` rule, including its 1e-6 guard — and left unchanged otherwise. The
//! function returns the norm *before* clipping (the number worth logging). The result does not
//! depend on thread counts or on how the parameters are split (a serial double sum in list order).
//!
//! A non-finite norm (a NaN or Inf gradient) leaves the gradients untouched and is returned, so
//! the caller can skip the step; with `error_if_nonfinite = true` it raises
//! `rlvr::numerical_error` instead.

#include <cmath>
#include <span>

#include "rlvr/error.hpp"
#include "rlvr/optim/parameter.hpp"

namespace rlvr {

//! √(Σ g²) over all gradients, accumulated in double.
//!
//! Only measures: nothing is modified. O(total number of scalars), one serial pass in list
//! order, so the value is the same for any thread count; an empty list gives 0. A NaN or Inf
//! gradient makes the result non-finite (NaN or +inf) rather than raising.
inline double global_grad_norm(std::span<const parameter_ref> params) noexcept {
  double s = 0.0;
  for (const parameter_ref& p : params)
    for (float g : p.grad) s += static_cast<double>(g) * static_cast<double>(g);
  return std::sqrt(s);
}

//! Scales all gradients so their global norm is at most `max_norm` (> 0); returns the norm before.
//!
//! Raises `config_error` if `max_norm` is ≤ 0 or not finite, and `numerical_error` if the norm
//! is not finite and `error_if_nonfinite` is set. Call it after `backward` and before the
//! optimizer step; it scales `grad` in place and never touches `value`:
//!
//!     const double norm = rlvr::clip_grad_norm(policy.parameters(), 1.0);
//!     if (std::isfinite(norm)) opt.step(policy.parameters()); // else skip this step
inline double clip_grad_norm(std::span<const parameter_ref> params, double max_norm,
                             bool error_if_nonfinite = false) {
  RLVR_EXPECTS(max_norm > 0.0 && std::isfinite(max_norm), config, "clip_grad_norm: max_norm = ", max_norm,
               " must be finite and > 0");
  const double norm = global_grad_norm(params);
  if (!std::isfinite(norm)) {
    RLVR_EXPECTS(!error_if_nonfinite, numerical, "clip_grad_norm: the gradient norm is ", norm);
    return norm;
  }
  if (norm > max_norm) {
    // One float factor for every element (computed in double, rounded once), so all parameters
    // are scaled identically; the 1e-6 keeps the clipped norm just under max_norm.
    const float scale = static_cast<float>(max_norm / (norm + 1e-6));
    for (const parameter_ref& p : params)
      for (float& g : p.grad) g *= scale;
  }
  return norm;
}

} // namespace rlvr
