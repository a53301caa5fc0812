#pragma once
//! \file rlvr/policy/concepts.hpp
//! \brief The `Policy` concept family: how a model plugs into rlvr's sampler and trainer.
//!
//! A policy π_θ maps token prefixes to next-token logits. rlvr needs four things from it:
//!
//! 1. **forward** over a batch of B right-padded sequences of length T (`token_batch`): logits
//!    `[B·T, V]`, where row `b·T + t` holds z_t, the logits *predicting token t + 1* of sequence
//!    b from tokens 0..t. (So the log-probability of response token y_{t+1} is read from row
//!    `b·T + t`, the convention of every causal LM.) Right padding needs no attention mask: a
//!    causal model never looks forward. An optional response mask says which rows are used; a
//!    policy may skip the others (shipped policies write zeros there).
//! 2. **backward** from dL/dlogits (same shape) into the parameter gradients, *accumulating*, for
//!    the batch of the most recent `forward`; `zero_grad()` clears the gradients.
//! 3. its **parameters**: a flat, stable `std::span<const parameter_ref>` (name, value, grad,
//!    shape) that optimizers walk and checkpoints save.
//! 4. **incremental decoding** for sampling: `make_cache(B)` returns a cache for B sequences and
//!    `decode(cache, tokens, logits)` appends one token to each of the B sequences and writes the
//!    logits `[B, V]` for their next token. B sequences advance together, one token per call
//!    (the batched layout a fast sampler wants); decoding does not change the policy (`const`).
//!
//! Optional capabilities are separate concepts: `ValueHeadPolicy` (a scalar value V(s_t) per
//! position from the same trunk, for PPO with GAE), `InferenceForward` (a forward that keeps no
//! activations), `FusedHeadPolicy` (the hidden states and a linear LM head, so the trainer can
//! fuse the head with the objective) and `ReferencePolicy` (frozen log-probs of
//! given tokens, for KL penalties; `rlvr/policy/reference.hpp` wraps any `Policy` as one).
//!
//! The concept is assembled from small named pieces so that a diagnostic names the missing one:
//!
//! | concept               | requires                                                               |
//! |-----------------------|------------------------------------------------------------------------|
//! | `PolicyShape`         | `vocab_size()`, `context_length()` → `index_t`                          |
//! | `LogitsForward`       | `forward(token_batch, matrix_view<float>)`                               |
//! | `LogitsBackward`      | `backward(matrix_view<const float>)`, `zero_grad()`                      |
//! | `ParameterSource`     | `parameters()` → `std::span<const parameter_ref>`                       |
//! | `IncrementalDecoder`  | `cache_type`, `make_cache(index_t)`, `decode(cache&, tokens, logits)` const |
//! | `Policy`              | opt-in `enable_policy<P>` and all of the above                         |

#include <concepts>
#include <cstdint>
#include <span>
#include <type_traits>

#include "rlvr/backends/concepts.hpp"
#include "rlvr/config.hpp"
#include "rlvr/linear_head.hpp"
#include "rlvr/optim/parameter.hpp"
#include "rlvr/view.hpp"

namespace rlvr {

//! Token ids as rlvr's policies and samplers exchange them.
using token_t = std::int32_t;

//! A batch of B right-padded token sequences of common length T, as a policy's `forward` reads
//! it. `mask` is optional (empty = every row wanted): `mask(b, t) != 0` says the logits of row
//! `b·T + t` — the prediction of token `t + 1` — are used by the caller (the response rows).
//! Its elements are `rlvr::mask_t` (`view.hpp`), the type of `advantage_input::mask` too; a
//! float mask no longer converts (before 0.2.0 it was `matrix_view<const float>`): fill a
//! `std::vector<rlvr::mask_t>` with 0/1 and pass `rlvr::matrix_view<const rlvr::mask_t>(m.data(), B, T)`.
struct token_batch {
  matrix_view<const token_t> tokens; //!< [B, T] token ids in [0, V)
  matrix_view<const mask_t> mask;    //!< [B, T] 0 = row not wanted, nonzero = wanted; or empty

  [[nodiscard]] constexpr index_t batch() const noexcept { return tokens.rows(); }
  [[nodiscard]] constexpr index_t length() const noexcept { return tokens.cols(); }
  //! Number of logits rows, B·T.
  [[nodiscard]] constexpr index_t rows() const noexcept { return tokens.rows() * tokens.cols(); }
  [[nodiscard]] constexpr bool has_mask() const noexcept { return mask.data() != nullptr; }
  //! Whether row `b·T + t` is wanted.
  [[nodiscard]] constexpr bool wanted(index_t b, index_t t) const noexcept {
    return !has_mask() || mask(b, t) != 0;
  }
};

//! Opt-in flag for policies: specialise to `true`, or give the type a
//! `static constexpr bool is_policy = true` member.
template <class P> inline constexpr bool enable_policy = requires { requires P::is_policy; };

//! A type P models `PolicyShape` if, for `p` a const P,
//! 1. `p.vocab_size()` returns V ≥ 1, the number of logits per position, and
//! 2. `p.context_length()` returns the longest sequence (prompt + response) it accepts;
//! both convertible to `index_t`.
template <class P>
concept PolicyShape = requires(const P& p) {
  { p.vocab_size() } -> std::convertible_to<index_t>;
  { p.context_length() } -> std::convertible_to<index_t>;
};

//! A type P models `LogitsForward` if, for `p` an lvalue of P, `batch` a `token_batch` with
//! B·T rows and `logits` a `matrix_view<float>` of shape [B·T, V],
//! 1. `p.forward(batch, logits)` writes row `b·T + t` = the logits predicting token t + 1 of
//!    sequence b (rows outside `batch.mask` may be left as zeros), and
//! 2. it remembers what `backward` needs (so `forward` is not `const`).
template <class P>
concept LogitsForward = requires(P& p, const token_batch& batch, matrix_view<float> logits) {
  p.forward(batch, logits);
};

//! A type P models `LogitsBackward` if, for `p` an lvalue of P and `dlogits` a
//! `matrix_view<const float>` of the last forward's shape,
//! 1. `p.backward(dlogits)` *adds* dL/dθ to every parameter's `grad`, for the batch of the most
//!    recent `forward` (rows outside that batch's mask must hold zeros), and
//! 2. `p.zero_grad()` sets every gradient to zero.
template <class P>
concept LogitsBackward = requires(P& p, matrix_view<const float> dlogits) {
  p.backward(dlogits);
  p.zero_grad();
};

//! A type P models `ParameterSource` if, for `p` an lvalue of P,
//! 1. `p.parameters()` returns something convertible to `std::span<const parameter_ref>`, and
//! 2. that list (names, order, storage) stays the same for the lifetime of `p`.
template <class P>
concept ParameterSource = requires(P& p) {
  { p.parameters() } -> std::convertible_to<std::span<const parameter_ref>>;
};

//! A type P models `IncrementalDecoder` if, for `p` a const P, `n` an `index_t`, `tokens` a
//! `vector_view<const token_t>` of length n and `logits` a `matrix_view<float>` of shape [n, V],
//! 1. `P::cache_type` names its decoding state and `p.make_cache(n)` returns an empty one for n
//!    sequences (allocating everything the decode steps need), and
//! 2. `p.decode(cache, tokens, logits)` appends `tokens[i]` to sequence i for every i and writes
//!    the logits of each sequence's next token into `logits.row(i)`; after k calls they equal
//!    rows `i·k + (k−1)` of `forward` over the same k tokens.
template <class P>
concept IncrementalDecoder =
    requires { typename P::cache_type; } &&
    requires(const P& p, typename P::cache_type& cache, index_t n, vector_view<const token_t> tokens,
             matrix_view<float> logits) {
      { p.make_cache(n) } -> std::same_as<typename P::cache_type>;
      p.decode(cache, tokens, logits);
    };

//! A type P models `Policy` if
//! 1. it opts in through `rlvr::enable_policy<P>`,
//! 2. it models `PolicyShape` (vocabulary and context length),
//! 3. it models `LogitsForward` and `LogitsBackward` (a differentiable batched forward),
//! 4. it models `ParameterSource` (named float parameters and gradients), and
//! 5. it models `IncrementalDecoder` (a cache for sampling one token per sequence per call).
template <class P>
concept Policy = enable_policy<std::remove_cvref_t<P>> && PolicyShape<std::remove_cvref_t<P>> &&
                 LogitsForward<std::remove_cvref_t<P>> && LogitsBackward<std::remove_cvref_t<P>> &&
                 ParameterSource<std::remove_cvref_t<P>> && IncrementalDecoder<std::remove_cvref_t<P>>;

//! The memory space a policy's logits live in: `P::memory_space` when P declares one, else
//! `rlvr::host_space`. A trainer pairs a policy with a backend of the same space.
template <class P> using policy_memory_space_t = memory_space_t<P>;

//! A type P models `InferenceForward` — a forward for log-probabilities only — if
//! `p.forward_inference(batch, logits)` (for an lvalue `p` of P, a `token_batch` [B, T] and a
//! `matrix_view<float>` [B·T, V]) writes the same logits as `p.forward(batch, logits)` (to
//! rounding) while keeping no activations: nothing is remembered for a `backward`, and the
//! scratch may be bounded (the transformer runs it a chunk of sequences at a time). The trainer
//! uses it for the old and reference log-probs, which are never differentiated; a policy without
//! it pays its training forward there.
template <class P>
concept InferenceForward = requires(std::remove_cvref_t<P>& p, const token_batch& batch, matrix_view<float> logits) {
  p.forward_inference(batch, logits);
};

//! A type P models `ValueHeadPolicy` if
//! 1. it models `Policy`,
//! 2. `p.forward(batch, logits, values)` with `values` a `vector_view<float>` of length B·T also
//!    writes V(s_t) = the scalar value of the prefix tokens 0..t into `values[b·T + t]`, and
//! 3. `p.backward(dlogits, dvalues)` with `dvalues` a `vector_view<const float>` adds the
//!    gradients of both heads (through the shared trunk).
template <class P>
concept ValueHeadPolicy =
    Policy<P> && requires(std::remove_cvref_t<P>& p, const token_batch& batch, matrix_view<float> logits,
                          vector_view<float> values, matrix_view<const float> dlogits,
                          vector_view<const float> dvalues) {
      p.forward(batch, logits, values);
      p.backward(dlogits, dvalues);
    };

//! A type P models `FusedHeadPolicy` — its last layer is a linear LM head z = W·h + b that the
//! trainer may fuse with the objective (`rlvr::fused_linear_loss_and_grad`, logits never
//! materialised) — if it models `Policy` and, for an lvalue `p` of P, a `token_batch` [B, T],
//! `hidden` a `matrix_view<float>` [B·T, d] and `dhidden` a `matrix_view<const float>` [B·T, d]
//! with d = `p.lm_head().input_size()`:
//! 1. `p.lm_head()` returns an `rlvr::lm_head_ref<float>` (rlvr/linear_head.hpp) viewing the
//!    head's weight, bias and their gradient buffers (the same storage `parameters()` lists);
//! 2. `p.forward_hidden(batch, hidden)` writes h_t, the head's input, for every wanted position
//!    (rows of other positions are unspecified: the caller must not read them) and keeps the
//!    activations for a backward, so that `forward(batch, logits)` would have written
//!    z_t = W·h_t + b on those rows (to rounding);
//! 3. `p.backward_hidden(dhidden)` adds ∂L/∂θ of every parameter *below* the head for
//!    ∂L/∂h = `dhidden` (rows of unwanted positions are ignored) of the most recent
//!    `forward_hidden`; the head's own gradients are the caller's to add, through
//!    `lm_head().grad_weight` / `grad_bias` (which is what the fused entry point writes).
//! A policy that also models `ValueHeadPolicy` provides `forward_hidden(batch, hidden, values)` and
//! `backward_hidden(dhidden, dvalues)` with the meaning of `forward`/`backward`'s value overloads
//! (the trainer requires them for PPO with GAE on the fused path).
template <class P>
concept FusedHeadPolicy =
    Policy<P> && requires(std::remove_cvref_t<P>& p, const token_batch& batch, matrix_view<float> hidden,
                          matrix_view<const float> dhidden) {
      { p.lm_head() } -> std::same_as<lm_head_ref<float>>;
      p.forward_hidden(batch, hidden);
      p.backward_hidden(dhidden);
    };

//! A type R models `ReferencePolicy` if, for `r` an lvalue of R, `batch` a `token_batch` [B, T]
//! and `out` a `matrix_view<float>` [B, T],
//! 1. `r.reference_log_probs(batch, out)` writes `out(b, t)` = log π_ref(tokens(b, t+1) |
//!    tokens(b, 0..t)) for t < T − 1 where the mask is set, and 0 elsewhere, and
//! 2. its parameters never change through this call (the reference is frozen).
template <class R>
concept ReferencePolicy = requires(R& r, const token_batch& batch, matrix_view<float> out) {
  r.reference_log_probs(batch, out);
};

} // namespace rlvr
