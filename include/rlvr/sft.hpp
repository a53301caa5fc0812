#pragma once
//! \file rlvr/sft.hpp
//! \brief Supervised fine-tuning (warm-starting a policy on demonstrations): the cross-entropy
//! loss and its gradient through rlvr's fused loss pass, and a batch builder for
//! (prompt, response) pairs of different lengths.
//!
//!     rlvr::sft_batch batch(/*rows=*/64, policy.context_length(), pad);
//!     for (auto& ex : examples) batch.add(ex.prompt, ex.response);
//!     policy.zero_grad();
//!     rlvr::sft_result r = rlvr::sft_loss_and_grad(policy, batch.view());   // forward + backward
//!     rlvr::clip_grad_norm(policy.parameters(), 1.0);
//!     optimizer.step(policy.parameters());
//!
//! ## The loss
//! Over the D selected rows t (a row b·T + t is selected when `mask(b, t) ≠ 0`; its target is
//! the next token y = tokens(b, t + 1)), with x = z/τ and p = softmax(x):
//!
//!     L = −(1/D) Σ_t log p_{t, y_t},      ∂L/∂z_tv = (p_tv − [v = y_t]) / (τ·D),
//!
//! the token-mean cross-entropy of every causal-LM trainer (TRL's SFTTrainer with
//! completion-only loss, verl's SFT). D is the number of selected rows, or
//! `sft_options::global_tokens` when a batch is split into micro-batches that must share one
//! denominator. It is computed as the REINFORCE objective with every advantage equal to 1
//! (ℓ = −A·log π, token mean) by `rlvr::loss_and_grad`: one read and one write pass per selected
//! row, rows in parallel on the backend, no `[B·T, V]` softmax buffer; unselected rows get a zero
//! gradient and are not read.
//!
//! Errors: those of `loss_and_grad` (shape, range, numerical — an infinite or NaN logit in a
//! selected row is named), a mask set on a sequence's last position (it has no next token), or
//! a batch that selects no row (`rlvr::shape_error`).
//!
//! Why SFT lives in an RL library: RLVR starts from a policy that already produces answers in the
//! task's format; the study pretrains its base models with this step (docs/results.md). Since the
//! SFT objective is an rlvr `Objective`, it can also be added to an RL objective as an auxiliary
//! term, and its numbers (loss, entropy) are those of every other objective: the same backends,
//! the same bad-row checks, the same determinism (results do not depend on the thread count).

#include <algorithm>
#include <cstdint>
#include <span>
#include <vector>

#include "rlvr/backends/concepts.hpp"
#include "rlvr/backends/serial.hpp"
#include "rlvr/config.hpp"
#include "rlvr/error.hpp"
#include "rlvr/loss.hpp"
#include "rlvr/objectives/advantages.hpp"
#include "rlvr/objectives/objective.hpp"
#include "rlvr/objectives/terms.hpp"
#include "rlvr/policy/concepts.hpp"
#include "rlvr/view.hpp"

namespace rlvr {

//! Options of the SFT loss. Aggregate: designated initialisers in the order
//! `temperature, global_tokens`.
//! `global_tokens` is for gradient accumulation: with micro-batches of a larger batch, pass the
//! larger batch's total selected rows to each call, so that the summed gradients equal one pass
//! over the whole batch (a per-micro-batch mean would overweight short micro-batches). It must be
//! finite and ≥ 0 (`config_error` otherwise, from `loss_and_grad`); 0 means "this call's D".
struct sft_options {
  double temperature = 1.0; //!< τ (> 0): log π from z/τ (1 for ordinary SFT)
  double global_tokens = 0; //!< > 0: the denominator D instead of this batch's selected rows
};

//! What an SFT step reports. `loss` is in nats per target token, so exp(loss) is the
//! perplexity of the demonstrations (with `global_tokens` set, the loss is divided by it instead,
//! and only the sum over micro-batches is the mean).
struct sft_result {
  double loss = 0;         //!< L (mean negative log-likelihood of the targets)
  index_t tokens = 0;      //!< selected rows (target tokens)
  double mean_entropy = 0; //!< mean token entropy of the policy on those rows
};

//! The objective behind SFT: REINFORCE (ℓ = −A·log π) with A = 1 on every selected token, token
//! mean. Exposed so that it can be mixed with RL objectives (`λ·sft_objective{} + grpo()`).
using sft_objective = objective<raw_reward, reinforce_surrogate, token_mean>;
static_assert(Objective<sft_objective>);

//! Cross-entropy of `targets` under rows of `logits` ([N, V]), rows with `active[t] = 0`
//! skipped (empty `active`: every row), and dL/dlogits into `grad` (may alias the logits).
//!
//! `backend` is any host backend that runs `loss_and_grad` for T (the views here are host views).
//! `targets` has one id per row, in [0, V), for every row — unselected rows included (they are
//! validated, not read: put any valid id there). Skipped rows receive a zero gradient row. The
//! result's `tokens` is the number of selected rows, whatever `global_tokens` says.
//!
//! Errors: `active` of a length other than N, or no selected row (`shape_error`); the rest from
//! `loss_and_grad`: extents (`shape_error`), a target id outside [0, V) (`range_error`), τ or
//! `global_tokens` out of range (`config_error`), and a selected row with a NaN or +inf logit,
//! or whose target has logit −inf (infinite loss), as `numerical_error`.
//! Memory: N values of T (the unit advantages) besides the caller's buffers.
template <class B, class T>
sft_result sft_loss_and_grad(const B& backend, matrix_view<const T> logits, vector_view<const token_t> targets,
                             vector_view<const mask_t> active, matrix_view<T> grad, const sft_options& opt = {}) {
  const index_t n = logits.rows();
  RLVR_EXPECTS(active.empty() || active.size() == n, shape, "sft_loss_and_grad: active has length ", active.size(),
               " but logits have ", n, " rows");
  index_t d = 0;
  for (index_t t = 0; t < n; ++t) d += (active.empty() || active[t]) ? 1 : 0;
  RLVR_EXPECTS(d > 0, shape, "sft_loss_and_grad: no row is selected (", n, " rows, every mask entry 0)");
  // A = 1 for every row: REINFORCE's per-token loss −A·log π is then the negative log-likelihood.
  std::vector<T> ones(static_cast<std::size_t>(n), T(1));
  loss_token_batch<T> lb{};
  lb.logits = logits;
  lb.targets = targets;
  lb.advantages = matrix_view<const T>(ones.data(), 1, n);
  if (!active.empty()) lb.active = matrix_view<const mask_t>(active.data(), 1, n);
  loss_options lo{};
  lo.temperature = opt.temperature;
  lo.aggregation.global_tokens = opt.global_tokens;
  const loss_diagnostics diag = loss_and_grad(backend, sft_objective{}, lb, grad, lo);
  return {diag.loss, diag.active_tokens, diag.mean_entropy};
}

//! Forward, SFT loss on the rows `batch.mask` selects (target: the next token) and backward
//! into the policy's gradients (accumulating: call `zero_grad()` first). The mask is required.
//!
//! `batch` is [B, T] tokens with a [B, T] mask; position (b, t) selected predicts tokens(b, t + 1),
//! so a mask that covers a response starts one position before it (what `sft_batch` builds).
//! The policy's logits are float: one `policy.forward` into a B·T × V float buffer allocated here
//! (B·T·V·4 bytes: 64 × 512 × 32 000 is 4.2 GB, so size batches by that), the loss on it, the
//! gradient written over the logits in place, then `policy.backward`. The policy must not be
//! used from another thread meanwhile (forward/backward keep activations).
//!
//! Errors: a missing mask, or one whose shape is not the batch's, or a set mask entry on the last
//! position (`shape_error`, naming it); then those of the overload above and of the policy.
template <Policy P, class B = serial_backend>
sft_result sft_loss_and_grad(P& policy, const token_batch& batch, const sft_options& opt = {},
                             const B& backend = B{}) {
  const index_t nb = batch.batch(), tt = batch.length(), v = policy.vocab_size();
  RLVR_EXPECTS(batch.has_mask() && batch.mask.rows() == nb && batch.mask.cols() == tt, shape,
               "sft_loss_and_grad: the batch needs a [", nb, ", ", tt, "] mask selecting the rows whose next token "
               "is a target (sft_batch builds one)");
  // Unselected rows keep target 0 (a valid id, never read) and active 0.
  std::vector<token_t> targets(static_cast<std::size_t>(nb * tt), 0);
  std::vector<mask_t> active(static_cast<std::size_t>(nb * tt), 0);
  for (index_t b = 0; b < nb; ++b)
    for (index_t t = 0; t < tt; ++t) {
      if (batch.mask(b, t) == 0) continue;
      RLVR_EXPECTS(t + 1 < tt, shape, "sft_loss_and_grad: mask(", b, ", ", t,
                   ") is set on the last position (it has no next token to predict)");
      targets[static_cast<std::size_t>(b * tt + t)] = batch.tokens(b, t + 1);
      active[static_cast<std::size_t>(b * tt + t)] = 1;
    }
  std::vector<float> logits(static_cast<std::size_t>(nb * tt * v));
  const matrix_view<float> z(logits.data(), nb * tt, v);
  policy.forward(batch, z);
  const sft_result r = sft_loss_and_grad(backend, matrix_view<const float>(z), vector_view<const token_t>(targets),
                                         vector_view<const mask_t>(active), z, opt);
  policy.backward(matrix_view<const float>(z));
  return r;
}

//! Owned, right-padded [rows, length] tokens and the mask of the response rows, filled one
//! (prompt, response) pair at a time; `view()` is the `token_batch` a policy reads.
//!
//! Row layout for a prompt of length l_p and a response of length l_r:
//!
//!     tokens:  p_0 … p_{l_p−1} r_0 … r_{l_r−1} pad … pad
//!     mask:    0 …  0        1  1 …  1         0  0 …  0     (1 at positions l_p−1 … l_p+l_r−2)
//!
//! so every response token, the last included, is a target and no prompt token is. Include the
//! end-of-sequence token in `response` if the policy must learn to stop. Padding is never a
//! target, and a causal policy cannot let it influence the selected positions.
class sft_batch {
public:
  //! Room for `rows` examples of at most `length` tokens (prompt + response), padded with `pad`.
  //! rows ≥ 1 and length ≥ 2 (`shape_error`), pad ≥ 0 (`config_error`; it should also be below
  //! the policy's V, which the batch cannot check). Allocates rows·length tokens and mask bytes.
  sft_batch(index_t rows, index_t length, token_t pad = 0) : rows_(rows), len_(length), pad_(pad) {
    RLVR_EXPECTS(rows >= 1 && length >= 2, shape, "sft_batch: rows = ", rows, " and length = ", length,
                 " must be >= 1 and >= 2");
    RLVR_EXPECTS(pad >= 0, config, "sft_batch: pad = ", pad, " must be a valid token id");
    tokens_.assign(static_cast<std::size_t>(rows * length), pad);
    mask_.assign(static_cast<std::size_t>(rows * length), mask_t{0});
  }
  //! Appends one example: the loss covers every response token (predicted from the row before it).
  //! Errors (`shape_error`): the batch is full, an empty prompt or response (the first response
  //! token needs a prompt position to be predicted from), or l_p + l_r > length. Token ids are
  //! not checked here (the batch does not know V).
  void add(std::span<const token_t> prompt, std::span<const token_t> response) {
    RLVR_EXPECTS(used_ < rows_, shape, "sft_batch::add: the batch is full (", rows_, " rows)");
    const auto lp = static_cast<index_t>(prompt.size()), lr = static_cast<index_t>(response.size());
    RLVR_EXPECTS(lp >= 1 && lr >= 1, shape, "sft_batch::add: example ", used_, " has a ", lp, "-token prompt and a ", lr,
                 "-token response (both need at least one)");
    RLVR_EXPECTS(lp + lr <= len_, shape, "sft_batch::add: example ", used_, " has ", lp + lr,
                 " tokens but the batch length is ", len_);
    token_t* row = tokens_.data() + used_ * len_;
    std::copy(prompt.begin(), prompt.end(), row);
    std::copy(response.begin(), response.end(), row + lp);
    for (index_t j = 0; j < lr; ++j) mask_[static_cast<std::size_t>(used_ * len_ + lp - 1 + j)] = 1;
    ++used_;
  }
  //! Empties the batch (keeps its storage).
  void clear() {
    std::fill(tokens_.begin(), tokens_.end(), pad_);
    std::fill(mask_.begin(), mask_.end(), mask_t{0});
    used_ = 0;
  }
  //! Examples added so far (≤ the `rows` given at construction).
  [[nodiscard]] index_t size() const noexcept { return used_; }
  //! The examples added so far as a [size(), length] batch. It views this object's storage: valid
  //! while the `sft_batch` lives; a later `add` or `clear` changes what it shows (take a new view).
  [[nodiscard]] token_batch view() const {
    return {matrix_view<const token_t>(tokens_.data(), used_, len_), matrix_view<const mask_t>(mask_.data(), used_, len_)};
  }

private:
  index_t rows_, len_;
  token_t pad_;
  index_t used_ = 0;
  std::vector<token_t> tokens_;
  std::vector<mask_t> mask_; // [rows, length] 1 on the response rows
};

} // namespace rlvr
