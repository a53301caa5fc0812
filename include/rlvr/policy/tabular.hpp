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
struct tabular_cache {
  std::vector<token_t> prompt;
  std::vector<index_t> length;
  //! Empties every sequence (keeps the allocation).
  void clear() {
    std::fill(prompt.begin(), prompt.end(), token_t{-1});
    std::fill(length.begin(), length.end(), index_t{0});
  }
  [[nodiscard]] index_t batch() const noexcept { return static_cast<index_t>(length.size()); }
};

//! One softmax categorical per prompt. Models `rlvr::Policy`.
class tabular_policy {
public:
  static constexpr bool is_policy = true;
  using cache_type = tabular_cache;

  //! P prompts, V tokens, sequences up to `context_length` tokens (prompt id included).
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

  [[nodiscard]] index_t vocab_size() const noexcept { return vocab_; }
  [[nodiscard]] index_t context_length() const noexcept { return context_; }
  [[nodiscard]] index_t num_prompts() const noexcept { return prompts_; }

  //! θ_x, the logits of prompt x (mutable).
  [[nodiscard]] std::span<float> logits(index_t x) {
    check_prompt(x);
    return {theta_.data() + x * vocab_, static_cast<std::size_t>(vocab_)};
  }
  [[nodiscard]] std::span<const float> logits(index_t x) const {
    check_prompt(x);
    return {theta_.data() + x * vocab_, static_cast<std::size_t>(vocab_)};
  }
  //! Sets θ_x (length V).
  void set_logits(index_t x, std::span<const float> z) {
    RLVR_EXPECTS(static_cast<index_t>(z.size()) == vocab_, shape, "tabular_policy::set_logits: ", z.size(),
                 " logits for vocab_size ", vocab_);
    std::copy(z.begin(), z.end(), logits(x).begin());
  }
  //! softmax(θ_x), computed in double (max-shifted).
  [[nodiscard]] std::vector<double> probabilities(index_t x) const {
    auto z = logits(x);
    const double m = *std::max_element(z.begin(), z.end());
    std::vector<double> p(z.size());
    double s = 0;
    for (std::size_t v = 0; v < z.size(); ++v) s += (p[v] = std::exp(double(z[v]) - m));
    for (double& q : p) q /= s;
    return p;
  }
  //! ∂L/∂θ_x accumulated so far.
  [[nodiscard]] std::span<const float> grad(index_t x) const {
    check_prompt(x);
    return {grad_.data() + x * vocab_, static_cast<std::size_t>(vocab_)};
  }

  //! Logits `[B·T, V]`: every row of sequence b is θ_{tokens(b, 0)}; unwanted rows are zeroed.
  //! Remembers the batch's prompts for `backward`.
  void forward(const token_batch& batch, matrix_view<float> out) {
    forward_inference(batch, out);
    const index_t T = batch.length();
    last_prompts_.resize(static_cast<std::size_t>(batch.batch()));
    for (index_t b = 0; b < batch.batch(); ++b) last_prompts_[static_cast<std::size_t>(b)] = batch.tokens(b, 0);
    last_len_ = T;
  }

  //! The same logits as `forward`, remembering nothing (`InferenceForward`: old and reference
  //! log-probs).
  void forward_inference(const token_batch& batch, matrix_view<float> out) const {
    check_batch(batch, "tabular_policy::forward");
    RLVR_EXPECTS(out.rows() == batch.rows() && out.cols() == vocab_, shape, "tabular_policy::forward: logits are ",
                 out.rows(), "x", out.cols(), ", expected ", batch.rows(), "x", vocab_);
    const index_t T = batch.length();
    for (index_t b = 0; b < batch.batch(); ++b) {
      const token_t x = batch.tokens(b, 0);
      for (index_t t = 0; t < T; ++t) {
        float* row = out.row(b * T + t).data();
        if (batch.wanted(b, t)) std::copy_n(theta_.data() + x * vocab_, vocab_, row);
        else std::fill_n(row, vocab_, 0.0f);
      }
    }
  }

  //! Adds Σ_t dlogits(b·T + t, ·) to grad θ_{x_b} for the batch of the last `forward`.
  void backward(matrix_view<const float> dlogits) {
    const index_t B = static_cast<index_t>(last_prompts_.size()), T = last_len_;
    RLVR_EXPECTS(B > 0, config, "tabular_policy::backward: no forward to differentiate");
    RLVR_EXPECTS(dlogits.rows() == B * T && dlogits.cols() == vocab_, shape, "tabular_policy::backward: dlogits are ",
                 dlogits.rows(), "x", dlogits.cols(), ", the last forward was ", B * T, "x", vocab_);
    for (index_t b = 0; b < B; ++b) {
      float* g = grad_.data() + last_prompts_[static_cast<std::size_t>(b)] * vocab_;
      for (index_t t = 0; t < T; ++t) {
        const float* d = dlogits.row(b * T + t).data();
        for (index_t v = 0; v < vocab_; ++v) g[v] += d[v];
      }
    }
  }
  void zero_grad() { std::fill(grad_.begin(), grad_.end(), 0.0f); }

  //! One parameter, `table` of shape [P, V].
  [[nodiscard]] std::span<const parameter_ref> parameters() noexcept { return {params_.data(), 1}; }

  [[nodiscard]] tabular_cache make_cache(index_t n) const {
    RLVR_EXPECTS(n >= 0, shape, "tabular_policy::make_cache: batch ", n, " is negative");
    tabular_cache c;
    c.prompt.assign(static_cast<std::size_t>(n), -1);
    c.length.assign(static_cast<std::size_t>(n), 0);
    return c;
  }
  //! Appends `tokens[i]` to sequence i (the first token is its prompt id) and writes θ_{x_i}.
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
  void bind() {
    shape_ = {prompts_, vocab_};
    params_[0] = parameter_ref{"table", theta_, grad_, shape_};
  }
  void check_prompt(index_t x) const {
    RLVR_EXPECTS(x >= 0 && x < prompts_, range, "tabular_policy: prompt id ", x, " not in [0, ", prompts_, ")");
  }
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
  std::vector<float> theta_, grad_;
  std::vector<token_t> last_prompts_;
  index_t last_len_ = 0;
  std::array<index_t, 2> shape_{};
  std::array<parameter_ref, 1> params_{};
};
static_assert(Policy<tabular_policy>);
static_assert(InferenceForward<tabular_policy>);

} // namespace rlvr
