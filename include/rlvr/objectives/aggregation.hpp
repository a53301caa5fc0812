#pragma once
//! \file rlvr/objectives/aggregation.hpp
//! \brief The five aggregations of per-token losses (spec §5) as per-token weights.
//!
//! Every aggregation is linear in the per-token losses, so rlvr represents it by weights w_t:
//! L = Σ_t w_t ℓ_t, and the gradient of token t's row is scaled by w_t. With m_t the token's
//! active flag (mask ∧ response kept), n_i = Σ_{t∈i} m_t the active tokens of response i, and
//! B the number of responses with n_i > 0 (or the caller's global count):
//!
//! | type                      | L                          | w_t               |
//! |---------------------------|----------------------------|-------------------|
//! | `token_mean`              | Σ m ℓ / Σ m                | m_t / D, D = Σ m or the caller's global token count |
//! | `seq_mean_token_mean`     | mean_i( Σ_t m ℓ / n_i )    | m_t / (B · n_i)   |
//! | `seq_mean_token_sum`      | mean_i( Σ_t m ℓ )          | m_t / B           |
//! | `seq_mean_token_sum_norm` | Σ m ℓ / (B · L_const)      | m_t / (B · L)     |
//! | `token_sum`               | Σ m ℓ                      | m_t               |
//!
//! **Drop versus zero.** A dropped response has m_t = 0 on all its tokens: it leaves every
//! denominator above. A response kept with A = 0 still counts in D and B. Under `token_mean`,
//! PSR with drop divides by the correct responses' tokens only; with zero, by all tokens.
//!
//! **Micro-batches.** Token-mean computed per micro-batch silently reweights gradients when
//! micro-batches hold different token counts (spec §8): pass the global count in
//! `aggregation_options::global_tokens` (and `global_sequences` for the seq-mean modes); the
//! sum of the micro-batch losses then equals the full-batch loss. A weighted sum of objectives
//! takes them per component (`component_tokens`, `component_sequences`: pointers to K counts,
//! component k reading element k), since each component has its own active tokens. The per-
//! response count n_i of `seq_mean_token_mean` is always local: split micro-batches at response
//! boundaries for that mode.
//!
//! Each aggregation type is an empty (or one-field) aggregate modelling `Aggregation`
//! (objectives/concepts.hpp): the mode is a compile-time constant, so the fused loss pass
//! multiplies by a precomputed w_t and never branches on the mode per token. The weights are
//! detached (not differentiated): they depend on the mask only, never on the logits.

#include <cstdint>
#include <vector>

#include "rlvr/config.hpp"
#include "rlvr/error.hpp"
#include "rlvr/objectives/concepts.hpp"
#include "rlvr/view.hpp"

namespace rlvr {

//! Σ m ℓ / Σ m — the reference code's choice. Every active token of the batch weighs the same,
//! so a long response pulls harder than a short one (its tokens are more numerous). Nothing to
//! configure; the denominator comes from `aggregation_options` when it must be global.
struct token_mean {
  static constexpr aggregation_mode mode = aggregation_mode::token_mean;
  [[nodiscard]] constexpr double length() const { return 0; }
  constexpr void validate() const {}
};
static_assert(Aggregation<token_mean>);

//! mean over responses of each response's token mean: every kept response weighs 1/B whatever
//! its length, shared among its n_i active tokens. Needs `seq` (the response of each token).
//! Required by sequence-level surrogates (gspo, gmpo; `make_objective` enforces it).
struct seq_mean_token_mean {
  static constexpr aggregation_mode mode = aggregation_mode::seq_mean_token_mean;
  [[nodiscard]] constexpr double length() const { return 0; }
  constexpr void validate() const {}
};
static_assert(Aggregation<seq_mean_token_mean>);

//! mean over responses of each response's token sum: every active token weighs 1/B, so a
//! response's loss grows with its length. Needs `seq` to count B.
struct seq_mean_token_sum {
  static constexpr aggregation_mode mode = aggregation_mode::seq_mean_token_sum;
  [[nodiscard]] constexpr double length() const { return 0; }
  constexpr void validate() const {}
};
static_assert(Aggregation<seq_mean_token_sum>);

//! Σ m ℓ / (B · L) with a constant L (Dr. GRPO: the maximum response length). Same shape as
//! `seq_mean_token_sum` scaled by 1/L: the constant removes the length bias of a per-response
//! mean without making the gradient scale depend on the batch's lengths. `validate()` raises
//! `rlvr::config_error` unless max_length > 0. The default 1024 is a typical generation
//! limit; set it to the limit actually used.
struct seq_mean_token_sum_norm {
  static constexpr aggregation_mode mode = aggregation_mode::seq_mean_token_sum_norm;
  double max_length = 1024; //!< L_const, > 0
  [[nodiscard]] constexpr double length() const { return max_length; }
  void validate() const {
    RLVR_EXPECTS(max_length > 0.0, config, "seq_mean_token_sum_norm: max_length = ", max_length, " must be > 0");
  }
};
static_assert(Aggregation<seq_mean_token_sum_norm>);

//! Σ m ℓ: w_t = m_t, no normalisation (the loss scales with the batch's token count; for
//! callers that normalise themselves).
struct token_sum {
  static constexpr aggregation_mode mode = aggregation_mode::token_sum;
  [[nodiscard]] constexpr double length() const { return 0; }
  constexpr void validate() const {}
};
static_assert(Aggregation<token_sum>);

//! Fills w[t] for one component from its active flags (see the table above). `seq[t]` must be
//! in [0, num_sequences) (checked by the entry points). A component with no active token gets
//! all-zero weights (its loss is 0, not NaN).
//!
//! `active`, `seq` and `w` have length N (one entry per token); `seq` is read only by the
//! seq-mean modes. The global counts come from `opt`: `component_tokens[0]` /
//! `component_sequences[0]` if the pointer is set (a weighted sum passes each component a
//! pointer already offset to its own count), else `global_tokens` / `global_sequences`; a count
//! ≤ 0 means "use the local one". O(N) time; the seq-mean modes allocate a [num_sequences]
//! count array. The sums are done in double and only the final weights rounded to T, so the
//! weights do not depend on T's precision beyond one rounding. Deterministic (serial).
template <Aggregation A, class T>
void aggregation_weights(const A& agg, vector_view<const std::uint8_t> active, vector_view<const std::int32_t> seq,
                         index_t num_sequences, const aggregation_options& opt, vector_view<T> w) {
  const index_t n = active.size();
  constexpr aggregation_mode mode = A::mode;
  if constexpr (mode == aggregation_mode::token_sum) {
    for (index_t t = 0; t < n; ++t) w[t] = active[t] ? T(1) : T(0);
  } else if constexpr (mode == aggregation_mode::token_mean) {
    // One reciprocal for all tokens: w_t = 1/D exactly the same for every active token.
    double count = 0;
    for (index_t t = 0; t < n; ++t) count += active[t] ? 1.0 : 0.0;
    const double global = opt.component_tokens ? opt.component_tokens[0] : opt.global_tokens;
    const double d = global > 0 ? global : count;
    const T inv = d > 0 ? static_cast<T>(1.0 / d) : T(0);
    for (index_t t = 0; t < n; ++t) w[t] = active[t] ? inv : T(0);
  } else {
    // n_i per response, then B = the responses with n_i > 0 (dropped responses do not count).
    std::vector<index_t> per_seq(static_cast<std::size_t>(num_sequences), 0);
    for (index_t t = 0; t < n; ++t)
      if (active[t]) ++per_seq[static_cast<std::size_t>(seq[t])];
    double b = 0;
    for (index_t c : per_seq) b += c > 0 ? 1.0 : 0.0;
    const double global = opt.component_sequences ? opt.component_sequences[0] : opt.global_sequences;
    if (global > 0) b = global;
    for (index_t t = 0; t < n; ++t) {
      // b ≤ 0: no response is active and no global count was given; all weights are 0.
      if (!active[t] || b <= 0) {
        w[t] = T(0);
        continue;
      }
      if constexpr (mode == aggregation_mode::seq_mean_token_mean) {
        w[t] = static_cast<T>(1.0 / (b * static_cast<double>(per_seq[static_cast<std::size_t>(seq[t])])));
      } else if constexpr (mode == aggregation_mode::seq_mean_token_sum) {
        w[t] = static_cast<T>(1.0 / b);
      } else {
        w[t] = static_cast<T>(1.0 / (b * agg.length()));
      }
    }
  }
}

} // namespace rlvr
