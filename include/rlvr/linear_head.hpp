#pragma once
//! \file rlvr/linear_head.hpp
//! \brief The linear LM head as data: its storage layout (`weight_layout`) and a reference to a
//! model's head parameters and their gradients (`lm_head_ref`).
//!
//! A language model's last layer maps the hidden state h_t ∈ R^d of position t to the logits
//! z_t ∈ R^V over the vocabulary, z_t = W·h_t + b. Two storage conventions are common:
//!
//! | layout   | stored shape | logits of N rows H [N, d] | who stores it this way                    |
//! |----------|--------------|---------------------------|-------------------------------------------|
//! | `v_by_d` | W [V, d]     | Z = H·Wᵀ + b              | PyTorch `nn.Linear`, Hugging Face `lm_head` |
//! | `d_by_v` | W' [d, V]    | Z = H·W' + b (W' = Wᵀ)    | rlvr's `transformer_policy` (`head.weight`) |
//!
//! `rlvr::fused_linear_loss_and_grad` and `rlvr::fused_linear_log_prob_entropy` accept either
//! (`fused_linear_options::layout`), so a model never has to transpose its head to have it fused
//! with the objective. A policy that exposes its head through `lm_head_ref` models
//! `rlvr::FusedHeadPolicy` (rlvr/policy/concepts.hpp) and the trainer can then compute the loss
//! from the hidden states, without the [N, V] logits (`trainer_config::lm_head`).
//!
//! This header is on the lowest floor (it includes only rlvr/view.hpp), so the policy concepts
//! and the fused entry points can both use it.

#include "rlvr/view.hpp"

namespace rlvr {

//! How a linear head's weight is stored (see the table in the file comment): `v_by_d` is W [V, d]
//! with z = W·h + b (the default everywhere); `d_by_v` is its transpose W' [d, V] with
//! z = W'ᵀ·h + b. The vocabulary size is `weight.rows()` for `v_by_d` and `weight.cols()` for
//! `d_by_v`. Both give the same numbers up to the rounding of the GEMMs.
enum class weight_layout { v_by_d, d_by_v };

//! Views of a model's linear LM head: its weight and bias and the gradient buffers they
//! accumulate into. `grad_weight` has the weight's shape and layout; `bias`/`grad_bias` are
//! empty for a head without a bias (both or neither). The views alias the model's own storage:
//! they stay valid while the model lives and its parameter layout does not change (a copy or a
//! `load_state` of the model may move them; ask again after either).
template <class T> struct lm_head_ref {
  matrix_view<const T> weight;                  //!< W [V, d] or W' [d, V] (per `layout`)
  vector_view<const T> bias;                    //!< b [V], or empty
  matrix_view<T> grad_weight;                   //!< ∂L/∂W, same shape and layout as `weight`
  vector_view<T> grad_bias;                     //!< ∂L/∂b [V], or empty
  weight_layout layout = weight_layout::v_by_d; //!< how `weight` and `grad_weight` are stored

  //! V, the number of logits per row.
  [[nodiscard]] index_t vocab_size() const noexcept {
    return layout == weight_layout::d_by_v ? weight.cols() : weight.rows();
  }
  //! d, the width of the head's input (the hidden size).
  [[nodiscard]] index_t input_size() const noexcept {
    return layout == weight_layout::d_by_v ? weight.rows() : weight.cols();
  }
};

} // namespace rlvr
