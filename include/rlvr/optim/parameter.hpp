#pragma once
//! \file rlvr/optim/parameter.hpp
//! \brief `parameter_ref`: one named, trainable tensor of a policy and its gradient.
//!
//! A policy exposes its trainable state as a flat list of `parameter_ref`s
//! (`policy.parameters()` → `std::span<const parameter_ref>`); an optimizer walks that list.
//! The policy owns the memory; the list is stable for the policy's lifetime, so an optimizer may
//! keep per-parameter state keyed by position and checked by name.
//!
//! Conventions:
//! - `value` and `grad` have the same length, the product of `shape` (row-major, C order, the
//!   layout safetensors stores);
//! - `grad` *accumulates*: a policy's `backward` adds to it, `zero_grad()` clears it, so
//!   gradients of several micro-batches sum before one optimizer step;
//! - names are unique within a policy and stable across versions of it (they key checkpoints),
//!   dotted like PyTorch's (`blocks.0.attn.w_qkv`).

#include <cstddef>
#include <span>
#include <string_view>

#include "rlvr/config.hpp"

namespace rlvr {

//! A named tensor of scalars `T` with its gradient, both owned by someone else (the policy).
template <class T> struct basic_parameter_ref {
  std::string_view name;           //!< unique, stable, dotted name (`blocks.0.mlp.w1`)
  std::span<T> value;              //!< the parameter, row-major
  std::span<T> grad;               //!< its accumulated gradient, same length as `value`
  std::span<const index_t> shape;  //!< extents; their product is `value.size()`

  //! Number of scalars.
  [[nodiscard]] constexpr index_t size() const noexcept { return static_cast<index_t>(value.size()); }
};

//! The float32 parameter every shipped policy and optimizer uses.
using parameter_ref = basic_parameter_ref<float>;

} // namespace rlvr
