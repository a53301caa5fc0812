#pragma once
//! \file rlvr/policy/tabular.hpp
//! \brief `tabular_policy`: one softmax categorical per prompt — the paper's §3 analysis model.
//!
//! The policy holds a table θ ∈ R^{P×V} of logits, one row per prompt. A sequence is
//! `[x, y_1, y_2, …]`: token 0 is the prompt id x ∈ [0, P), every later token a vocabulary id in
//! [0, V). At every position the next token is drawn from the same categorical
//!
//!     π(· | x, y_<t) = softmax(θ_x),
//!
//! so a one-token response is the bandit the paper analyses (Zhu et al. 2025, §3–4), and longer
//! responses are i.i.d. draws. The gradient needs no approximation: row `b·T + t` of the logits
//! *is* θ_{x_b}, hence
//!
//!     ∂L/∂θ_x = Σ_{b: x_b = x} Σ_t ∂L/∂z_{b·T+t}.
//!
//! With the loss ℓ = −A·log π_y (rlvr-math §6), ∂ℓ/∂θ_x = A·(π − e_y); one SGD step of size η
//! on an NSR sample (A = −1) lowers θ_{x,y} by η(1 − π_y) and raises every other θ_{x,v} by
//! η·π_v — the freed mass goes to the other tokens in proportion to their probability, which is
//! exactly what the tests check.
//!
//! The table starts at zero (uniform), or at given logits (`set_logits`); `decode` ignores every
//! token after the prompt id, which it remembers per sequence.
//!
//! It models `Policy` and `InferenceForward`, so the trainer, the samplers and every objective
//! run on it unchanged; the tests use it to check the closed forms of docs/math.md §6 (listed
//! in docs/policies.md) and to exercise the trainer, samplers and evaluation. Its single
//! parameter, `table` ([P, V]), makes an optimizer step exactly the textbook update of θ, and
//! P·V is small enough that a test can compare every entry against a hand computation.
//!
//! Cost: `forward` copies one θ row per wanted position, O(B·T·V); `backward` adds every
//! dlogits row into its prompt's gradient row, O(B·T·V); `decode` copies one row per sequence.
//! All loops are serial, so results are deterministic and independent of thread settings.
//! Memory: θ and its gradient, 2·P·V floats.
//!
//!     rlvr::tabular_policy pi(/*prompts*/ 1, /*vocab*/ 4);     // θ = 0: uniform
//!     const float z[] = {2.0f, 0.0f, 0.0f, -1.0f};
//!     pi.set_logits(0, z);
//!     std::vector<double> p = pi.probabilities(0);             // softmax(z)
//!
//! One NSR step by hand (A = −1 on response token y = 2 of prompt 0): the loss gradient of the
//! row predicting y is A·(π − e_y); the last row predicts nothing and gets zeros.
//!
//!     const rlvr::token_t seq[] = {0, 2};                       // prompt 0, response y = 2
//!     const rlvr::token_batch batch{rlvr::matrix_view<const rlvr::token_t>(seq, 1, 2), {}};
//!     std::vector<float> logits(2 * 4), dz(2 * 4, 0.0f);
//!     pi.forward(batch, rlvr::matrix_view<float>(logits.data(), 2, 4));
//!     for (int v = 0; v < 4; ++v) dz[v] = (v == 2) - float(p[v]);
//!     pi.backward(rlvr::matrix_view<const float>(dz.data(), 2, 4));
//!     rlvr::sgd({.lr = 0.5}).step(pi.parameters());             // θ_{0,2} −= 0.5·(1 − π_2), …

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "rlvr/error.hpp"
#include "rlvr/parallel.hpp"
#include "rlvr/policy/concepts.hpp"

namespace rlvr {

//! Decoding state of `tabular_policy`: each sequence's prompt id and length.
//!
//! The tabular policy has no hidden state to cache: the next-token distribution depends only on
//! the prompt id, so the cache just remembers it and counts tokens against `context_length`.
//! Made by `tabular_policy::make_cache(n)` for n sequences.
struct tabular_cache {
  //! prompt id of each sequence, −1 before its first token
  std::vector<token_t> prompt;
  //! tokens decoded so far per sequence (the prompt id included)
  std::vector<index_t> length;
  //! Empties every sequence (keeps the allocation): the next `decode` expects prompt ids again.
  void clear() {
    std::fill(prompt.begin(), prompt.end(), token_t{-1});
    std::fill(length.begin(), length.end(), index_t{0});
  }
  //! Number of sequences n the cache was made for.
  [[nodiscard]] index_t batch() const noexcept { return static_cast<index_t>(length.size()); }
};

//! One softmax categorical per prompt. Models `rlvr::Policy`.
//!
//! Not thread-safe for concurrent mutation (`forward` records the batch, `backward` writes the
//! gradient); the const members (`forward_inference`, `decode`, `probabilities`) may run
//! concurrently with each other, each `decode` on its own cache.
class tabular_policy {
public:
  static constexpr bool is_policy = true;
  //! The decoding state of `make_cache`/`decode`.
  using cache_type = tabular_cache;

  //! P prompts, V tokens, sequences up to `context_length` tokens (prompt id included).
  //!
  //! θ starts at zero, i.e. every π(· | x) uniform. Raises `config_error` if P < 1, V < 1 or
  //! `context_length` < 2. The default context of 2 fits the one-token bandit (prompt id +
  //! one response token); pass more for multi-token responses.
  //! The parameter is named `table` in a checkpoint (`store_parameters`), so a saved table
  //! loads into any policy of the same P and V.
  tabular_policy(index_t num_prompts, index_t vocab_size, index_t context_length = 2)
      : prompts_(num_prompts), vocab_(vocab_size), context_(context_length) {
    RLVR_EXPECTS(num_prompts >= 1, config, "tabular_policy: num_prompts = ", num_prompts, " must be >= 1");
    RLVR_EXPECTS(vocab_size >= 1, config, "tabular_policy: vocab_size = ", vocab_size, " must be >= 1");
    RLVR_EXPECTS(context_length >= 2, config, "tabular_policy: context_length = ", context_length,
                 " must be >= 2 (prompt id + one token)");
    theta_.assign(static_cast<std::size_t>(prompts_ * vocab_), 0.0f);
    grad_.assign(theta_.size(), 0.0f);
    bind();
  }
  // The copy and move operations are written out because `params_` holds spans into theta_ and
  // grad_ and a pointer to shape_: a defaulted copy would point into the source object. Each
  // one copies the data and re-binds the parameter to its own buffers; the moves are copies too
  // (the source keeps its table), which is cheap at the sizes the tabular policy is used at.
  tabular_policy(const tabular_policy& o)
      : prompts_(o.prompts_), vocab_(o.vocab_), context_(o.context_), theta_(o.theta_), grad_(o.grad_),
        last_prompts_(o.last_prompts_), last_len_(o.last_len_) {
    bind();
  }
  tabular_policy& operator=(const tabular_policy& o) {
    if (this != &o) {
      prompts_ = o.prompts_, vocab_ = o.vocab_, context_ = o.context_;
      theta_ = o.theta_, grad_ = o.grad_, last_prompts_ = o.last_prompts_, last_len_ = o.last_len_;
      bind();
    }
    return *this;
  }
  tabular_policy(tabular_policy&& o) noexcept : tabular_policy(static_cast<const tabular_policy&>(o)) {}
  tabular_policy& operator=(tabular_policy&& o) noexcept { return *this = static_cast<const tabular_policy&>(o); }
  ~tabular_policy() = default;

  //! V, the number of tokens (logits per position).
  [[nodiscard]] index_t vocab_size() const noexcept { return vocab_; }
  //! The longest sequence `forward` and `decode` accept, prompt id included.
  [[nodiscard]] index_t context_length() const noexcept { return context_; }
  //! P, the number of prompts (rows of θ).
  [[nodiscard]] index_t num_prompts() const noexcept { return prompts_; }

  //! θ_x, the logits of prompt x (mutable). Raises `range_error` unless 0 ≤ x < P. The span
  //! aliases the parameter: writes through it change the policy.
  [[nodiscard]] std::span<float> logits(index_t x) {
    check_prompt(x);
    return {theta_.data() + x * vocab_, static_cast<std::size_t>(vocab_)};
  }
  //! θ_x, read-only; same check.
  [[nodiscard]] std::span<const float> logits(index_t x) const {
    check_prompt(x);
    return {theta_.data() + x * vocab_, static_cast<std::size_t>(vocab_)};
  }
  //! Sets θ_x (length V). Raises `shape_error` for another length, `range_error` for a bad x.
  void set_logits(index_t x, std::span<const float> z) {
    RLVR_EXPECTS(static_cast<index_t>(z.size()) == vocab_, shape, "tabular_policy::set_logits: ", z.size(),
                 " logits for vocab_size ", vocab_);
    std::copy(z.begin(), z.end(), logits(x).begin());
  }
  //! softmax(θ_x), computed in double (max-shifted).
  //!
  //! π_v = exp(θ_{x,v} − m) / Σ_u exp(θ_{x,u} − m), m = max_u θ_{x,u}: no overflow for large
  //! logits, and the probabilities sum to 1 to double rounding. Raises `range_error` for a bad
  //! x. Allocates the V-element result.
  [[nodiscard]] std::vector<double> probabilities(index_t x) const {
    auto z = logits(x);
    const double m = *std::max_element(z.begin(), z.end());
    std::vector<double> p(z.size());
    double s = 0;
    for (std::size_t v = 0; v < z.size(); ++v) s += (p[v] = std::exp(double(z[v]) - m));
    for (double& q : p) q /= s;
    return p;
  }
  //! ∂L/∂θ_x accumulated so far (since the last `zero_grad`). Raises `range_error` for a bad x.
  [[nodiscard]] std::span<const float> grad(index_t x) const {
    check_prompt(x);
    return {grad_.data() + x * vocab_, static_cast<std::size_t>(vocab_)};
  }

  //! Logits `[B·T, V]`: every row of sequence b is θ_{tokens(b, 0)}; unwanted rows are zeroed.
  //! Remembers the batch's prompts for `backward`.
  //!
  //! Token 0 of each sequence is its prompt id. Raises `shape_error` if T ∉ [1, context_length],
  //! the mask is not [B, T] or `out` is not [B·T, V], and `range_error` for a prompt id outside
  //! [0, P) or a later token outside [0, V). The row for the last position (t = T − 1) is
  //! written too (if wanted), although the token it predicts is not in the batch.
  void forward(const token_batch& batch, matrix_view<float> out) {
    forward_inference(batch, out);
    const index_t T = batch.length();
    last_prompts_.resize(static_cast<std::size_t>(batch.batch()));
    for (index_t b = 0; b < batch.batch(); ++b) last_prompts_[static_cast<std::size_t>(b)] = batch.tokens(b, 0);
    last_len_ = T;
  }

  //! The same logits as `forward`, remembering nothing (`InferenceForward`: old and reference
  //! log-probs). Raises exactly as `forward`; `frozen_reference` prefers it, and so does the
  //! trainer for π_old and π_ref.
  void forward_inference(const token_batch& batch, matrix_view<float> out) const {
    check_batch(batch, "tabular_policy::forward");
    RLVR_EXPECTS(out.rows() == batch.rows() && out.cols() == vocab_, shape, "tabular_policy::forward: logits are ",
                 out.rows(), "x", out.cols(), ", expected ", batch.rows(), "x", vocab_);
    const index_t T = batch.length();
    for (index_t b = 0; b < batch.batch(); ++b) {
      const token_t x = batch.tokens(b, 0);
      for (index_t t = 0; t < T; ++t) {
        // Unwanted rows get zeros (what `LogitsForward` allows), so a reused buffer never holds
        // stale logits there.
        float* row = out.row(b * T + t).data();
        if (batch.wanted(b, t)) std::copy_n(theta_.data() + x * vocab_, vocab_, row);
        else std::fill_n(row, vocab_, 0.0f);
      }
    }
  }

  //! Adds Σ_t dlogits(b·T + t, ·) to grad θ_{x_b} for the batch of the last `forward`.
  //!
  //! Accumulates (does not overwrite): call `zero_grad()` between optimizer steps. Masked rows
  //! are summed like the others, so the loss must write zeros there (rlvr's objectives do).
  //! Raises `config_error` if no `forward` has run, `shape_error` unless `dlogits` is
  //! [B·T, V] of that forward. Calling it twice after one forward adds the gradient twice.
  void backward(matrix_view<const float> dlogits) {
    const index_t B = static_cast<index_t>(last_prompts_.size()), T = last_len_;
    RLVR_EXPECTS(B > 0, config, "tabular_policy::backward: no forward to differentiate");
    RLVR_EXPECTS(dlogits.rows() == B * T && dlogits.cols() == vocab_, shape, "tabular_policy::backward: dlogits are ",
                 dlogits.rows(), "x", dlogits.cols(), ", the last forward was ", B * T, "x", vocab_);
    for (index_t b = 0; b < B; ++b) {
      // Every position of sequence b reads the same θ_{x_b} (a tied parameter), so by the chain
      // rule its T gradient rows all sum into that one row.
      float* g = grad_.data() + last_prompts_[static_cast<std::size_t>(b)] * vocab_;
      for (index_t t = 0; t < T; ++t) {
        const float* d = dlogits.row(b * T + t).data();
        for (index_t v = 0; v < vocab_; ++v) g[v] += d[v];
      }
    }
  }
  //! Sets every accumulated gradient to 0.
  void zero_grad() { std::fill(grad_.begin(), grad_.end(), 0.0f); }

  //! One parameter, `table` of shape [P, V], row-major (row x = θ_x): value θ, grad ∂L/∂θ.
  //! The span stays valid for the policy's lifetime (copies and moves re-bind their own).
  [[nodiscard]] std::span<const parameter_ref> parameters() noexcept { return {params_.data(), 1}; }

  //! A decoding cache for n ≥ 0 sequences, all empty; raises `shape_error` for n < 0.
  [[nodiscard]] tabular_cache make_cache(index_t n) const {
    RLVR_EXPECTS(n >= 0, shape, "tabular_policy::make_cache: batch ", n, " is negative");
    tabular_cache c;
    c.prompt.assign(static_cast<std::size_t>(n), -1);
    c.length.assign(static_cast<std::size_t>(n), 0);
    return c;
  }
  //! Appends `tokens[i]` to sequence i (the first token is its prompt id) and writes θ_{x_i}.
  //!
  //! `out` is [n, V]: row i is the logits of sequence i's next token. Raises `shape_error` on
  //! other sizes, `range_error` if a sequence is already `context_length` tokens long, its first
  //! token is not a prompt id in [0, P) or a later one not in [0, V). Not transactional:
  //! sequences before the failing one have advanced. Reuse a cache with `clear()`.
  void decode(tabular_cache& c, vector_view<const token_t> tokens, matrix_view<float> out) const {
    const index_t n = c.batch();
    RLVR_EXPECTS(tokens.size() == n && out.rows() == n && out.cols() == vocab_, shape,
                 "tabular_policy::decode: cache for ", n, " sequences, ", tokens.size(), " tokens, logits ", out.rows(),
                 "x", out.cols(), " (vocab_size ", vocab_, ")");
    for (index_t i = 0; i < n; ++i) {
      auto& len = c.length[static_cast<std::size_t>(i)];
      RLVR_EXPECTS(len < context_, range, "tabular_policy::decode: sequence ", i, " is already ", len,
                   " tokens long (context_length ", context_, ")");
      const token_t tok = tokens[i];
      // The first token fixes the sequence's row of θ; later tokens are only range-checked,
      // since they do not change the distribution.
      if (len == 0) {
        check_prompt(tok);
        c.prompt[static_cast<std::size_t>(i)] = tok;
      } else {
        RLVR_EXPECTS(tok >= 0 && tok < vocab_, range, "tabular_policy::decode: token ", tok, " of sequence ", i,
                     " not in [0, ", vocab_, ")");
      }
      ++len;
      std::copy_n(theta_.data() + c.prompt[static_cast<std::size_t>(i)] * vocab_, vocab_, out.row(i).data());
    }
  }

private:
  // Points the one parameter_ref at this object's buffers; called after every construction,
  // copy and move, since the spans must never refer to another object's storage.
  void bind() {
    shape_ = {prompts_, vocab_};
    params_[0] = parameter_ref{"table", theta_, grad_, shape_};
  }
  void check_prompt(index_t x) const {
    RLVR_EXPECTS(x >= 0 && x < prompts_, range, "tabular_policy: prompt id ", x, " not in [0, ", prompts_, ")");
  }
  // Validates a batch up front, once per forward, so the copy loops below run unchecked. T ≥ 1
  // because token 0 (the prompt id) selects the row.
  void check_batch(const token_batch& batch, const char* who) const {
    const index_t B = batch.batch(), T = batch.length();
    RLVR_EXPECTS(T >= 1 && T <= context_, shape, who, ": sequence length ", T, " not in [1, ", context_, "]");
    RLVR_EXPECTS(!batch.has_mask() || (batch.mask.rows() == B && batch.mask.cols() == T), shape, who, ": mask is ",
                 batch.mask.rows(), "x", batch.mask.cols(), ", tokens ", B, "x", T);
    for (index_t b = 0; b < B; ++b) {
      RLVR_EXPECTS(batch.tokens(b, 0) >= 0 && batch.tokens(b, 0) < prompts_, range, who, ": prompt id ",
                   batch.tokens(b, 0), " of sequence ", b, " not in [0, ", prompts_, ")");
      for (index_t t = 1; t < T; ++t)
        RLVR_EXPECTS(batch.tokens(b, t) >= 0 && batch.tokens(b, t) < vocab_, range, who, ": token ",
                     batch.tokens(b, t), " at (", b, ", ", t, ") not in [0, ", vocab_, ")");
    }
  }

  index_t prompts_, vocab_, context_;
  // θ and ∂L/∂θ, both P × V row-major.
  std::vector<float> theta_, grad_;
  // What `backward` needs from the last `forward`: each sequence's prompt id and T.
  std::vector<token_t> last_prompts_;
  index_t last_len_ = 0;
  // {P, V}, the storage `params_[0].shape` points at.
  std::array<index_t, 2> shape_{};
  std::array<parameter_ref, 1> params_{};
};
static_assert(Policy<tabular_policy>);
static_assert(InferenceForward<tabular_policy>);

} // namespace rlvr
