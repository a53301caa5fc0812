#pragma once
//! \file rlvr/policy/reference.hpp
//! \brief `frozen_reference<P>`: any `Policy`, copied and frozen, as a `ReferencePolicy`.
//!
//! KL-regularised objectives (GRPO's k3 term, PPO's k1 reward penalty) need log π_ref(y_t) of
//! the sampled tokens under a fixed reference — usually the policy as it was before RL.
//! `frozen_reference` owns a copy of the policy taken at construction, never hands out its
//! parameters, and computes
//!
//!     out(b, t) = log softmax(z_{b·T+t})[tokens(b, t+1)]   for t < T − 1 where the mask is set,
//!
//! and 0 elsewhere, with a max-shifted log-sum-exp in double (no overflow for |z| ≫ 1, no
//! 0·log 0). Each call runs one forward pass of the copy (`forward_inference` when the policy
//! has one, which keeps no activations); its logits buffer is reused.
//!
//! Memory: the copy's parameters plus a B·T·V float logits buffer, which grows to the largest
//! batch seen and is never shrunk. Because of that buffer (and the copy's own forward state),
//! `reference_log_probs` is not const and one `frozen_reference` must not be used by two
//! threads at once.
//!
//!     rlvr::frozen_reference ref(policy);              // snapshot before RL
//!     ref.reference_log_probs(batch, out);             // out: [B, T] floats

#include <algorithm>
#include <cmath>
#include <utility>
#include <vector>

#include "rlvr/error.hpp"
#include "rlvr/policy/concepts.hpp"

namespace rlvr {

//! log π(target | row) for a row of logits, in double: z_target − logsumexp(z).
//!
//! logsumexp(z) = m + log Σ_v exp(z_v − m) with m = max z: every exponent is ≤ 0, so nothing
//! overflows, and the sum is ≥ 1, so its log is finite. Preconditions (unchecked): `z` is not
//! empty and 0 ≤ target < z.size(). A row with NaN or ±inf entries gives NaN or ±inf (an
//! all −inf row gives NaN); nothing is raised. O(V).
inline double log_softmax_at(std::span<const float> z, index_t target) {
  const float m = *std::max_element(z.begin(), z.end());
  double s = 0.0;
  for (float x : z) s += std::exp(static_cast<double>(x) - static_cast<double>(m));
  return static_cast<double>(z[static_cast<std::size_t>(target)]) - static_cast<double>(m) - std::log(s);
}

//! A frozen copy of a policy that reports log-probabilities. Models `rlvr::ReferencePolicy`.
template <Policy P> class frozen_reference {
public:
  //! Takes a copy of `policy` (its parameters as they are now). Later training of `policy`
  //! does not affect the copy; the copy's memory is its own.
  explicit frozen_reference(const P& policy) : policy_(policy) {}
  //! Takes over `policy` (for a policy built only to serve as the reference).
  explicit frozen_reference(P&& policy) : policy_(std::move(policy)) {}

  //! Writes log π_ref(tokens(b, t+1) | tokens(b, ≤ t)) into `out(b, t)`; see the file comment.
  //!
  //! Raises `shape_error` unless `out` is [B, T], `range_error` for a target token outside
  //! [0, V), and whatever the policy's forward raises for a bad batch. Values are log-probs
  //! (≤ 0, in nats) rounded to float; the last column and masked positions are 0.
  void reference_log_probs(const token_batch& batch, matrix_view<float> out) {
    const index_t B = batch.batch(), T = batch.length(), V = policy_.vocab_size();
    RLVR_EXPECTS(out.rows() == B && out.cols() == T, shape, "frozen_reference: out is ", out.rows(), "x", out.cols(),
                 ", tokens ", B, "x", T);
    logits_.resize(static_cast<std::size_t>(B * T * V));
    if constexpr (requires { policy_.forward_inference(batch, matrix_view<float>{}); })
      policy_.forward_inference(batch, matrix_view<float>(logits_.data(), B * T, V)); // no activations kept
    else
      policy_.forward(batch, matrix_view<float>(logits_.data(), B * T, V));
    for (index_t b = 0; b < B; ++b)
      for (index_t t = 0; t < T; ++t) {
        if (t + 1 >= T || !batch.wanted(b, t)) {
          out(b, t) = 0.0f;
          continue;
        }
        const token_t y = batch.tokens(b, t + 1);
        RLVR_EXPECTS(y >= 0 && y < V, range, "frozen_reference: token ", y, " at (", b, ", ", t + 1, ") not in [0, ",
                     V, ")");
        out(b, t) = static_cast<float>(log_softmax_at({logits_.data() + (b * T + t) * V, static_cast<std::size_t>(V)}, y));
      }
  }
  //! The frozen policy (read-only).
  [[nodiscard]] const P& policy() const noexcept { return policy_; }

private:
  P policy_;
  std::vector<float> logits_;
};

} // namespace rlvr
