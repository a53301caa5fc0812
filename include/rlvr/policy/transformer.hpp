#pragma once
//! \file rlvr/policy/transformer.hpp
//! \brief `transformer_policy`: a small decoder-only transformer with a hand-written backward
//! pass, a batched KV cache for sampling and an optional value head. Needs Eigen (`rlvr::eigen`).
//!
//! ## Architecture (GPT-2 style, pre-LayerNorm)
//! For tokens x_0..x_{T−1} of a sequence, with d = `d_model`, H heads of width d_h = d/H,
//! F = `d_ff` (4d by default) and L layers:
//!
//!     h⁰_t  = E[x_t] + P[t]                                   (learned token and position embeddings)
//!     a     = LN₁(hˡ);  [q k v] = a·W_qkv + b_qkv
//!     o     = concat_heads softmax(q kᵀ/√d_h + causal mask)·v
//!     h'    = hˡ + o·W_o + b_o
//!     hˡ⁺¹  = h' + GELU(LN₂(h')·W₁ + b₁)·W₂ + b₂
//!     z_t   = LN_f(hᴸ_t)·W_head + b_head                      (logits predicting x_{t+1})
//!     V(s_t)= LN_f(hᴸ_t)·w_v + b_v                            (optional value head, PPO/GAE)
//!
//! LN(x) = (x − μ)/√(σ² + ε)·γ + β over the d features (ε = `ln_eps`, biased σ²); GELU is the
//! tanh form ½u(1 + tanh(√(2/π)(u + 0.044715u³))). Weights are stored [in, out] row-major, so
//! every linear layer is one GEMM Y = X·W on the [B·T, d] activations.
//!
//! ## Computation
//! - `forward` runs the whole batch as GEMMs on [B·T, ·] matrices (Eigen), split over fixed
//!   128-row blocks across `threads`; attention runs per (sequence, head) with the T×T
//!   probabilities kept for backward. With a response mask only the wanted rows go through the
//!   vocabulary head (other logits rows are written as zeros).
//! - `backward` is hand-written: the transpose GEMMs for activations, dW = Xᵀ·dY over fixed
//!   tiles of dW, softmax-attention backward dS = P ⊙ (dP − rowsum(dP ⊙ P)), the LayerNorm
//!   backward dx = rstd·(dx̂ − mean(dx̂) − x̂·mean(dx̂ ⊙ x̂)), the exact GELU derivative. It is
//!   checked against central finite differences of the `double` instantiation.
//! - Every parallel split uses fixed blocks, so logits, values and gradients are **bitwise
//!   independent of the thread count**.
//! - `decode` advances B sequences by one token each: the KV cache holds K and V as
//!   [layer][sequence][position][d]; the step's projections and MLP are GEMMs over the B rows,
//!   and attention reads each row's own cached prefix (rows may sit at different positions).
//!   `make_cache` allocates everything, so `decode` never allocates.
//!
//! Activations kept by `forward` for `backward`: about (8d + 2F + H·T) scalars per token and
//! layer (≈ 9 KB per token per layer at d = 128, T = 32).
//!
//! ## Initialisation
//! Deterministic from `seed` through Philox (rlvr/random/philox.hpp): element j of parameter
//! number p is N(0, σ²) from Box–Muller on block (seed, p, j). σ = `init_std` for embeddings and
//! weights, σ/√(2L) for the residual projections W_o and W₂ (GPT-2), zero biases, γ = 1, β = 0,
//! and a zero value head.
//!
//! ## Masks and what they save
//! A `token_batch` mask only selects the rows whose logits the caller uses (typically the
//! response positions). The trunk always runs on all B·T positions, because a wanted position
//! attends to every earlier one, prompt included; the mask skips the vocabulary GEMM (forward and
//! backward) for unwanted rows, which dominates the cost when V is large next to L·d.
//! There is no padding: every sequence
//! of a batch has length T, and shorter responses are handled by masking their tail rows.
//!
//! ## Numerics
//! All arithmetic is in S (float for the model), with Eigen's GEMM accumulation order fixed by
//! the blocking. Softmax subtracts the row maximum before exp; LayerNorm uses a two-pass
//! mean/variance (no E[x²] − E[x]² cancellation) and ε inside the square root; GELU uses the
//! tanh approximation and its exact derivative, so the backward is the true gradient of the
//! function the forward computes. The `double` instantiation `basic_transformer<double>` runs the
//! same code and is what the finite-difference tests differentiate.
//!
//! ## See also
//! rlvr/policy/concepts.hpp (the interfaces modelled), rlvr/policy/detail/transformer_kernels.hpp
//! (the GEMM, LayerNorm and GELU kernels), rlvr/linear_head.hpp and rlvr/fused_linear.hpp (the
//! fused LM-head path), rlvr/generate.hpp (sampling with `decode`), docs/policies.md.
//!
//! ## Files
//! `save(path)` writes the parameters and the configuration as safetensors (atomically);
//! `transformer_policy::load(path)` rebuilds the model from the file; `load_weights(path)`
//! fills an existing model of the same configuration.
//!
//! ## Which backward follows which forward
//! The model keeps the activations of its most recent training forward only:
//! - `forward(batch, logits[, values])` → any number of `backward(dlogits[, dvalues])` or
//!   `backward_hidden(dhidden[, dvalues])` calls (gradients add up);
//! - `forward_hidden(batch, hidden[, values])` → `backward_hidden` only (`backward` raises
//!   `config_error`: the head's input rows were not gathered);
//! - `forward_inference`, a copy or an assignment discard the activations: any backward raises
//!   `config_error` until the next forward. `decode` neither needs nor touches them.
//! A backward with values needs `dvalues` of the same B·T rows; whether the forward produced
//! values is not checked: the value head's gradient needs only LN_f's output, which every
//! forward keeps.
//!
//! ## Usage
//!     rlvr::transformer_policy pi({.vocab_size = 32, .context_length = 48, .d_model = 64});
//!     pi.zero_grad();
//!     pi.forward(batch, logits);            // logits: matrix_view<float> [B·T, V]
//!     /* dlogits = ∂L/∂logits, e.g. from rlvr::loss_and_grad */
//!     pi.backward(dlogits);                 // adds into the `grad` of every parameters() entry
//!     opt.step(pi.parameters());
//!     auto cache = pi.make_cache(B);        // sampling: one decode call per generated token
//!     pi.decode(cache, next_tokens, step_logits);
//!
//! ## Contracts
//! - Errors: `config_error` for an invalid `transformer_config`, a value overload on a model
//!   without `value_head`, or a `backward` with no matching forward; `shape_error` for views of
//!   the wrong extents, an empty batch or T outside [1, `context_length`]; `range_error` for a
//!   token outside [0, V), a full decode sequence or a bad cache row; `io_error` from the file
//!   functions. Checks run before any state changes, except that `forward_inference` checks
//!   each chunk as it reaches it and `load_state` each tensor as it reads it.
//! - Thread safety: `forward*`, `backward*`, `zero_grad` and `load_*` mutate the model (kept
//!   activations, gradients) and need exclusive access. `decode` and `make_cache` are `const`
//!   and only read the parameters, so several threads may decode concurrently with their own
//!   caches while nobody writes the parameters; one cache must not be shared between threads.
//! - Determinism: for fixed parameters and inputs every output is bitwise reproducible for any
//!   `threads`. `decode`, `forward_inference` and `forward` use different GEMM blockings, so
//!   they agree with each other only to rounding, not bitwise.
//! - Memory: the parameters and gradients are two contiguous aligned arrays; the kept
//!   activations and scratch grow to the largest batch seen and are never shrunk (a copy of the
//!   model starts without them).

// GCC 12 reports a false -Wmaybe-uninitialized inside its own AVX-512 intrinsics as Eigen's
// packet transposes inline; the pragma covers the intrinsic headers, which Eigen/Core includes.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <Eigen/Core>
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <numbers>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

#include "rlvr/error.hpp"
#include "rlvr/io/safetensors.hpp"
#include "rlvr/linear_head.hpp"
#include "rlvr/optim/state_dict.hpp"
#include "rlvr/parallel.hpp"
#include "rlvr/policy/concepts.hpp"
#include "rlvr/policy/detail/transformer_kernels.hpp"
#include "rlvr/random/philox.hpp"

namespace rlvr {

//! Shape and initialisation of a `transformer_policy`. Use designated initialisers:
//! `transformer_policy({.vocab_size = 32, .context_length = 48, .d_model = 64})`.
struct transformer_config {
  //! V: token ids are in [0, V); also the width of the logits rows.
  index_t vocab_size = 32;     //!< V
  //! The longest sequence a forward or a decode cache accepts: there are that many learned
  //! position embeddings, and a cache holds that many positions per sequence.
  index_t context_length = 64; //!< longest sequence (learned positions)
  //! d, the width of the residual stream and of every LayerNorm.
  index_t d_model = 64;        //!< d
  //! L ≥ 0; 0 leaves embeddings → LN_f → head (a bigram model), useful in tests.
  index_t n_layers = 2;        //!< L
  //! Each head has width d_h = d/H and scores scaled by 1/√d_h; the attention cost, 2·T²·d per
  //! sequence and layer, does not depend on H, but the kept probabilities (H·T per token) do.
  index_t n_heads = 2;         //!< H; must divide d
  //! Hidden width of the MLP; the GPT-2 default 4·d is resolved by `ff()` and saved explicitly.
  index_t d_ff = 0;            //!< F; 0 means 4·d
  //! Adds the parameters `value_head.weight` [d] and `value_head.bias` [1], both initialised to
  //! zero (V(s_t) = 0 at the start). They come last in the parameter list, so every other
  //! parameter's initial value is the same with or without the head.
  bool value_head = false;     //!< add V(s_t) = LN_f(h)·w_v + b_v
  //! Two models of the same configuration and seed start bitwise equal, on any machine and for
  //! any thread count (counter-based Philox, no global RNG).
  std::uint64_t seed = 0;      //!< initialisation seed
  //! GPT-2's 0.02. 0 is allowed (every weight zero: a uniform policy).
  double init_std = 0.02;      //!< σ of the initial weights
  //! Added to the biased variance under the square root (PyTorch's and GPT-2's 1e-5); must be > 0
  //! so a constant row (σ² = 0) normalises to 0 instead of dividing by zero.
  double ln_eps = 1e-5;        //!< LayerNorm ε
  //! Only a speed setting: results are bitwise the same for every value (see rlvr/parallel.hpp).
  //! Not saved in files.
  int threads = 0;             //!< threads for forward/backward/decode; 0 = all

  //! F after resolving the default.
  [[nodiscard]] index_t ff() const noexcept { return d_ff > 0 ? d_ff : 4 * d_model; }
  //! Throws `config_error` naming the first inconsistent field.
  //! Called by the `basic_transformer` constructor and by `load`; `threads` and `seed` accept any
  //! value.
  void validate() const {
    RLVR_EXPECTS(vocab_size >= 1, config, "transformer_config: vocab_size = ", vocab_size, " must be >= 1");
    RLVR_EXPECTS(context_length >= 1, config, "transformer_config: context_length = ", context_length, " must be >= 1");
    RLVR_EXPECTS(d_model >= 1, config, "transformer_config: d_model = ", d_model, " must be >= 1");
    RLVR_EXPECTS(n_layers >= 0, config, "transformer_config: n_layers = ", n_layers, " must be >= 0");
    RLVR_EXPECTS(n_heads >= 1 && d_model % n_heads == 0, config, "transformer_config: n_heads = ", n_heads,
                 " must be >= 1 and divide d_model = ", d_model);
    RLVR_EXPECTS(d_ff >= 0, config, "transformer_config: d_ff = ", d_ff, " must be >= 0 (0 = 4*d_model)");
    RLVR_EXPECTS(init_std >= 0 && std::isfinite(init_std), config, "transformer_config: init_std = ", init_std);
    RLVR_EXPECTS(ln_eps > 0, config, "transformer_config: ln_eps = ", ln_eps, " must be > 0");
  }
};

namespace detail::tfm {
//! 64-byte-aligned storage: Eigen's vectorised reductions peel to the destination's alignment, so
//! fixed alignment makes results independent of where a buffer happens to be allocated.
template <class S> using avec = std::vector<S, Eigen::aligned_allocator<S>>;
// (Eigen::aligned_allocator aligns to EIGEN_MAX_ALIGN_BYTES: 16, 32 or 64 bytes depending on
// the SIMD the build enables, so 64 holds for AVX-512 builds.)
} // namespace detail::tfm

//! Decoding state of a transformer: the KV cache and per-step scratch for `batch()` sequences.
//!
//! Made by `basic_transformer::make_cache(n)`, which sizes every buffer once: K and V take
//! 2·L·n·context_length·d scalars (e.g. 2·2·64·64·64 floats = 4 MiB for L = 2, n = 64,
//! context_length = d = 64), plus n·(6d + F + context_length) scratch. A cache is tied to the
//! shape of the model that made it (`decode` checks d, context_length, L and F) but not to its
//! weights; after the weights change, `clear()` it, since the cached K and V are stale.
//! Not thread-safe: one cache per decoding thread.
template <class S> class transformer_cache {
public:
  transformer_cache() = default;
  //! Number of sequences.
  //! make_cache's n until `retain` shrinks it; `decode` takes exactly this many tokens.
  [[nodiscard]] index_t batch() const noexcept { return static_cast<index_t>(pos_.size()); }
  //! Tokens already fed to sequence i.
  //! The next `decode` writes its K and V at this position; 0 ≤ position(i) ≤ context_length.
  //! No bounds check on i (precondition 0 ≤ i < batch()).
  [[nodiscard]] index_t position(index_t i) const { return pos_[static_cast<std::size_t>(i)]; }
  //! Empties every sequence (keeps the memory).
  //! Old K and V values stay in memory but are never read: a `decode` writes position
  //! `position(i)` first and attends over positions 0..position(i) only.
  void clear() noexcept { std::fill(pos_.begin(), pos_.end(), index_t{0}); }
  //! Empties sequence i only, so its slot can start a new sequence while the others continue
  //! (rows then sit at different positions; each attends only to its own prefix).
  void reset(index_t i) {
    // Raises `range_error` when i is outside [0, batch()).
    RLVR_EXPECTS(i >= 0 && i < batch(), range, "transformer_cache::reset: sequence ", i, " not in [0, ", batch(), ")");
    pos_[static_cast<std::size_t>(i)] = 0;
  }

  //! Keeps only the sequences `rows` (strictly increasing indices into the current batch):
  //! afterwards sequence k is the old sequence `rows[k]`, with its cached prefix, and `batch()`
  //! is `rows.size()`. Later `decode` calls take that many tokens and skip the dropped
  //! sequences' work — for sampling where responses finish at different lengths. Copies only
  //! the cached prefixes; never allocates. The batch never grows back (`clear()` empties the
  //! remaining rows); make a new cache for a new full batch.
  //! Raises `range_error` (before changing anything) unless the indices are strictly increasing
  //! and in [0, batch()). O(L·Σ_k position(rows[k])·d) copies.
  void retain(std::span<const index_t> rows) {
    const index_t B = batch();
    for (std::size_t k = 0; k < rows.size(); ++k)
      RLVR_EXPECTS(rows[k] >= 0 && rows[k] < B && (k == 0 || rows[k] > rows[k - 1]), range,
                   "transformer_cache::retain: rows[", k, "] = ", rows[k],
                   " (indices must be strictly increasing and in [0, ", B, "))");
    // Compacting in place is safe because rows[k] ≥ k (strictly increasing from ≥ 0): each copy reads
    // a row at or after the one it writes, and rows are visited in increasing k, so no source is
    // overwritten before it is read. Only the first position(rows[k])·d scalars of a row are live.
    const index_t row_elems = ctx_ * d_;
    for (index_t l = 0; l < layers_; ++l)
      for (std::size_t k = 0; k < rows.size(); ++k) {
        const index_t from = rows[k], to = static_cast<index_t>(k);
        if (from == to) continue;
        const index_t n = pos_[static_cast<std::size_t>(from)] * d_;
        const index_t base = l * cap_ * row_elems;
        std::copy_n(k_.data() + base + from * row_elems, n, k_.data() + base + to * row_elems);
        std::copy_n(v_.data() + base + from * row_elems, n, v_.data() + base + to * row_elems);
      }
    for (std::size_t k = 0; k < rows.size(); ++k) pos_[k] = pos_[static_cast<std::size_t>(rows[k])];
    pos_.resize(rows.size()); // shrinking keeps the capacity: no allocation
  }

private:
  template <class> friend class basic_transformer;
  // Sequence i's K row for layer l and position p starts at ((l·cap + i)·ctx + p)·d: a sequence's
  // positions are contiguous, so attention over its prefix reads one [pos + 1, d] block per layer
  // (head h at column offset h·d_h). pos_ has batch() ≤ cap entries; its size is the batch.
  index_t cap_ = 0, ctx_ = 0, d_ = 0, layers_ = 0; // sequences allocated; layout extents
  detail::tfm::avec<S> k_, v_;                  // [L, cap, ctx, d]
  std::vector<index_t> pos_;              // [B]
  // Per-step activations of the batch rows (capacity rows each): x_ the residual stream, h_ the
  // current LayerNorm output, qkv_ the projections, o_ the attention output, u_ the MLP hidden
  // layer (GELU applied in place), p_ one row of attention scores per sequence.
  detail::tfm::avec<S> x_, h_, qkv_, o_, u_, p_; // scratch: [B,d] [B,d] [B,3d] [B,d] [B,F] [B,ctx]
};

//! The transformer over scalar `S`: `transformer_policy` (float) is the model; the `double`
//! instantiation exists for finite-difference checks.
//!
//! A model owns its parameters (`values_`), their gradients (`grads_`, accumulated by every
//! backward until `zero_grad`), the activations of the last training forward and the scratch of
//! its kernels. `transformer_policy` models `rlvr::Policy`, `InferenceForward`,
//! `ValueHeadPolicy` and `FusedHeadPolicy` (checked by the static_asserts at the end of this file).
template <class S> class basic_transformer {
  static_assert(std::is_same_v<S, float> || std::is_same_v<S, double>, "basic_transformer<float|double>");

public:
  //! Opt-in marker read by `rlvr::enable_policy` (rlvr/policy/concepts.hpp).
  static constexpr bool is_policy = true;
  //! Scalar type of logits, values, parameters and gradients.
  using scalar = S;
  //! Decoding state made by `make_cache` (required by `rlvr::IncrementalDecoder`).
  using cache_type = transformer_cache<S>;
  //! One named parameter: `name`, `value`, `grad` spans and `shape` (rlvr/optim/parameter.hpp).
  using param_ref = basic_parameter_ref<S>;

  //! Builds and initialises the model (see "Initialisation" above); raises `config_error` from
  //! `cfg.validate()`. Allocates the parameters and gradients; O(number of parameters).
  explicit basic_transformer(const transformer_config& cfg) : cfg_(cfg) {
    cfg_.validate();
    layout();
    init();
  }
  //! Copies the configuration, parameters and gradients, not the kept activations: a `backward`
  //! on the copy raises `config_error` until it runs its own forward. The copy's parameter
  //! views (`parameters()`, `lm_head()`) point into its own storage.
  basic_transformer(const basic_transformer& o) : cfg_(o.cfg_) {
    layout();
    values_ = o.values_;
    grads_ = o.grads_;
  }
  basic_transformer& operator=(const basic_transformer& o) {
    if (this != &o) {
      cfg_ = o.cfg_;
      layout();
      values_ = o.values_;
      grads_ = o.grads_;
      last_n_ = 0;
    }
    return *this;
  }
  //! Moves are copies (the parameter views must be rebuilt to point at the new storage anyway);
  //! the source is left intact. Note they are `noexcept` but allocate.
  basic_transformer(basic_transformer&& o) noexcept : basic_transformer(static_cast<const basic_transformer&>(o)) {}
  basic_transformer& operator=(basic_transformer&& o) noexcept { return *this = static_cast<const basic_transformer&>(o); }
  ~basic_transformer() = default;

  //! The configuration as given, except `threads` after `set_threads` (and `d_ff` left at 0 when
  //! defaulted: use `config().ff()`).
  [[nodiscard]] const transformer_config& config() const noexcept { return cfg_; }
  //! V (`rlvr::PolicyShape`).
  [[nodiscard]] index_t vocab_size() const noexcept { return cfg_.vocab_size; }
  //! Longest T accepted by `forward` and positions per decode sequence (`rlvr::PolicyShape`).
  [[nodiscard]] index_t context_length() const noexcept { return cfg_.context_length; }
  //! Whether the value overloads (`forward`/`backward`/`decode` with values) are available.
  [[nodiscard]] bool has_value_head() const noexcept { return cfg_.value_head; }
  //! Total number of trainable scalars.
  //! = 2·V·d + V + context_length·d + L·(4d² + 2dF + 9d + F) + 2d, plus d + 1 with a value
  //! head (the sum of the sizes of `parameters()`).
  [[nodiscard]] index_t num_parameters() const noexcept { return static_cast<index_t>(values_.size()); }
  //! Threads used by forward/backward/decode (0 = all); results do not depend on it.
  //! Safe only while no forward, backward or decode of this model is running.
  //! Useful after `load` or a copy made for another worker; the parameters are untouched.
  void set_threads(int threads) noexcept { cfg_.threads = threads; }

  //! Named parameters (`tok_emb`, `pos_emb`, `blocks.<l>.{ln1,attn,ln2,mlp}.*`, `ln_f.*`,
  //! `head.*`, `value_head.*`), in a fixed order.
  //! Shapes: embeddings [V, d] and [context_length, d]; `attn.w_qkv` [d, 3d] (columns q | k | v,
  //! head h at columns h·d_h..(h+1)·d_h − 1 of each third), `attn.w_out` [d, d], `mlp.w_in` [d, F],
  //! `mlp.w_out` [F, d], `head.weight` [d, V]; biases, LayerNorm weights and `value_head.weight`
  //! are 1-D. Every `value` and `grad` is a span into one contiguous array, valid until the model
  //! is assigned to (copy/move) or destroyed; optimisers update `value` in place.
  [[nodiscard]] std::span<const param_ref> parameters() noexcept { return refs_; }
  //! Sets every gradient to 0 (backward calls only add).
  void zero_grad() noexcept { std::fill(grads_.begin(), grads_.end(), S(0)); }

  // ---- training path -------------------------------------------------------------------------
  //! Logits [B·T, V] of every (wanted) position; see `rlvr::LogitsForward`.
  //!
  //! Row b·T + t of `logits` [B·T, V] gets z_t of sequence b (predicting token t + 1) when
  //! `batch.wanted(b, t)`, and zeros otherwise; the vocabulary GEMM runs on the wanted rows only,
  //! so a response mask saves most of the head's O(B·T·d·V) cost. Keeps the activations for one
  //! `backward`. Raises `shape_error` if `logits` is not [B·T, V], B = 0, T is not in
  //! [1, context_length] or the mask's shape differs from the tokens', and `range_error` for a token
  //! outside [0, V). Multiply-adds ≈ B·T·L·(4d² + 2dF) + 2·B·T²·d·L + M·d·V for M wanted rows.
  void forward(const token_batch& batch, matrix_view<S> logits) { forward_impl(batch, logits, nullptr); }
  //! Logits and values V(s_t) [B·T] (needs `value_head`).
  //! V(s_t) is written for every row, wanted or not (it does not need the vocabulary head).
  //! Raises `config_error` without `value_head`, `shape_error` unless `values` has B·T elements.
  void forward(const token_batch& batch, matrix_view<S> logits, vector_view<S> values) {
    RLVR_EXPECTS(cfg_.value_head, config, "transformer: forward with values, but value_head is off");
    expect_size(values, batch.rows(), "transformer::forward: values");
    forward_impl(batch, logits, values.data());
  }
  //! Adds dL/dθ for dL/dlogits of the last forward (rows outside its mask are ignored).
  //! Same B·T × V shape as the forward's logits. Raises `config_error` if no forward preceded it
  //! (or the last one was `forward_hidden` or `forward_inference`), `shape_error` for another
  //! shape. May be called more than once per forward (gradients add up), since the kept
  //! activations are not modified. About twice the forward's cost.
  void backward(matrix_view<const S> dlogits) { backward_impl(dlogits, nullptr); }
  //! Adds dL/dθ for dL/dlogits and dL/dvalues of the last forward.
  //! `dvalues` [B·T] = ∂L/∂V(s_t) for every row (value rows are not masked); a value-only loss passes
  //! zero `dlogits`.
  void backward(matrix_view<const S> dlogits, vector_view<const S> dvalues) {
    RLVR_EXPECTS(cfg_.value_head, config, "transformer: backward with values, but value_head is off");
    expect_size(dvalues, last_n_, "transformer::backward: dvalues");
    backward_impl(dlogits, dvalues.data());
  }

  // ---- fused-head training path (rlvr::FusedHeadPolicy) --------------------------------------
  //! The vocabulary head z = h·W_head + b_head as views of its parameters and gradients:
  //! `head.weight` is stored [d, V] (input-major), so the layout is `weight_layout::d_by_v`.
  //! `bias`/`grad_bias` are `head.bias` [V] (never empty). The views alias `parameters()`
  //! (entries `head.weight`, `head.bias`), so a fused entry point's writes into `grad_weight` add
  //! to the same gradients an optimiser reads.
  [[nodiscard]] lm_head_ref<S> lm_head() noexcept {
    const index_t V = cfg_.vocab_size, d = cfg_.d_model;
    return {matrix_view<const S>(P(off_head_w_), d, V), vector_view<const S>(P(off_head_b_), V),
            matrix_view<S>(G(off_head_w_), d, V), vector_view<S>(G(off_head_b_), V), weight_layout::d_by_v};
  }
  //! The head's input h_t = LN_f(hᴸ_t) [B·T, d] of every position (the whole trunk of `forward`,
  //! without the vocabulary GEMM), keeping the activations for `backward_hidden`.
  //! Unlike the `FusedHeadPolicy` minimum, every row is written, wanted or not. Same checks and
  //! errors as `forward`, with `hidden` [B·T, d]. After it, `backward` (from logits) raises
  //! `config_error`: the head's input of the wanted rows was not gathered.
  //!
  //!     pi.forward_hidden(batch, hidden);
  //!     auto head = pi.lm_head();             // W' [d, V], b [V]
  //!     /* fused: loss and ∂L/∂h from hidden·W' + b, adding head.grad_weight / grad_bias */
  //!     pi.backward_hidden(dhidden);
  void forward_hidden(const token_batch& batch, matrix_view<S> hidden) { forward_hidden_impl(batch, hidden, nullptr); }
  //! As above, also writing the values V(s_t) [B·T] (needs `value_head`).
  //! Values are written for every row, as in `forward`; raises `config_error` without
  //! `value_head` and `shape_error` unless `values` has B·T elements.
  void forward_hidden(const token_batch& batch, matrix_view<S> hidden, vector_view<S> values) {
    RLVR_EXPECTS(cfg_.value_head, config, "transformer: forward_hidden with values, but value_head is off");
    expect_size(values, batch.rows(), "transformer::forward_hidden: values");
    forward_hidden_impl(batch, hidden, values.data());
  }
  //! Adds ∂L/∂θ of every parameter below the head for ∂L/∂h = `dhidden` [B·T, d] of the last
  //! `forward_hidden` (rows outside its mask are ignored); the head's gradients are the
  //! caller's (`lm_head().grad_weight`, `grad_bias`).
  //! Also valid after a `forward` (the trunk's activations are the same). Raises `config_error`
  //! with no preceding forward, `shape_error` unless `dhidden` is [B·T, d].
  void backward_hidden(matrix_view<const S> dhidden) { backward_hidden_impl(dhidden, nullptr); }
  //! As above with ∂L/∂values [B·T] (needs `value_head`).
  //! `dvalues` covers every row (values are not masked); `shape_error` unless it has B·T elements.
  void backward_hidden(matrix_view<const S> dhidden, vector_view<const S> dvalues) {
    RLVR_EXPECTS(cfg_.value_head, config, "transformer: backward_hidden with values, but value_head is off");
    expect_size(dvalues, last_n_, "transformer::backward_hidden: dvalues");
    backward_hidden_impl(dhidden, dvalues.data());
  }

  //! Logits (and values, when `values` is non-empty) like `forward`, computed `chunk` sequences
  //! at a time and keeping no activations for `backward` — for log-probs of large rollout
  //! batches (old-policy and reference log-probs) in bounded memory: the scratch is that of a
  //! `chunk`-sequence forward. Agrees with `forward` to rounding (GEMM blocks differ). A
  //! following `backward` is an error until the next `forward`.
  //! Errors are those of `forward`, plus `config_error` for `chunk` < 1 or values without a value
  //! head; an error in a later chunk leaves the earlier chunks' rows written. The model's
  //! activation buffers serve as the scratch (they do not shrink), so run it on a model that is
  //! not between a forward and its backward: that forward's activations are lost.
  //!
  //!     pi.forward_inference(rollouts, old_logits, {}, 32);  // 32 sequences at a time
  void forward_inference(const token_batch& batch, matrix_view<S> logits, vector_view<S> values = {},
                         index_t chunk = 64) {
    RLVR_EXPECTS(chunk >= 1, config, "transformer::forward_inference: chunk = ", chunk, " must be >= 1");
    RLVR_EXPECTS(values.empty() || cfg_.value_head, config,
                 "transformer::forward_inference: values requested, but value_head is off");
    const index_t B = batch.batch(), T = batch.length();
    RLVR_EXPECTS(logits.rows() == B * T && logits.cols() == cfg_.vocab_size, shape,
                 "transformer::forward_inference: logits are ", logits.rows(), "x", logits.cols(), ", expected ",
                 B * T, "x", cfg_.vocab_size);
    if (!values.empty()) expect_size(values, B * T, "transformer::forward_inference: values");
    for (index_t b0 = 0; b0 < B; b0 += chunk) {
      const index_t nb = std::min(chunk, B - b0);
      // Rows b0..b0+nb−1 of tokens and mask, and the matching nb·T rows of logits and values: each
      // sequence is independent, so chunking changes only the GEMM blocking (hence rounding).
      token_batch sub{batch.tokens.block_rows(b0, nb), batch.has_mask() ? batch.mask.block_rows(b0, nb) : matrix_view<const mask_t>{}};
      // forward_impl sets last_n_; it is reset after the loop, because these activations are only
      // those of the last chunk and must not be differentiated.
      forward_impl(sub, logits.block_rows(b0 * T, nb * T), values.empty() ? nullptr : values.data() + b0 * T);
    }
    last_n_ = 0;
  }

  // ---- sampling path -------------------------------------------------------------------------
  //! A KV cache for n sequences (allocates everything `decode` needs).
  //! Every sequence starts empty. Raises `shape_error` for n < 0; n = 0 gives an empty cache on
  //! which `decode` does nothing. Memory: see `transformer_cache`.
  [[nodiscard]] cache_type make_cache(index_t n) const {
    RLVR_EXPECTS(n >= 0, shape, "transformer::make_cache: batch ", n, " is negative");
    const index_t d = cfg_.d_model, L = cfg_.n_layers, ctx = cfg_.context_length;
    cache_type c;
    // K and V are zero-filled once here; the scratch needs no initial value (each step writes it
    // before reading it).
    c.cap_ = n, c.ctx_ = ctx, c.d_ = d, c.layers_ = L;
    c.k_.assign(static_cast<std::size_t>(L * n * ctx * d), S(0));
    c.v_.assign(c.k_.size(), S(0));
    c.pos_.assign(static_cast<std::size_t>(n), 0);
    c.x_.resize(static_cast<std::size_t>(n * d));
    c.h_.resize(c.x_.size());
    c.o_.resize(c.x_.size());
    c.qkv_.resize(static_cast<std::size_t>(n * 3 * d));
    c.u_.resize(static_cast<std::size_t>(n * cfg_.ff()));
    c.p_.resize(static_cast<std::size_t>(n * ctx));
    return c;
  }
  //! Appends `tokens[i]` to sequence i and writes the next-token logits into row i.
  //!
  //! `tokens` [c.batch()], `logits` [c.batch(), V] (any row stride); `logits.row(i)` =
  //! z(next token | the sequence so far, including `tokens[i]`), and position(i) then advances by
  //! one. Each row attends over its own prefix only, so rows may be at different positions
  //! (after `reset` or `retain`). Per step ≈ B·L·(4d² + 2dF) + Σ_i 2·L·d·(position(i) + 1)
  //! + B·d·V) and no allocation. Raises `config_error` for a cache of another shape, `shape_error`
  //! for mismatched extents and `range_error` for a token outside [0, V) or a sequence already
  //! holding context_length tokens; nothing changes when it raises.
  //!
  //!     auto c = pi.make_cache(B);
  //!     for (index_t t = 0; t < prompt_len + max_new; ++t) {
  //!       pi.decode(c, step_tokens, step_logits);   // then sample step_tokens from step_logits
  //!     }
  void decode(cache_type& c, vector_view<const token_t> tokens, matrix_view<S> logits) const {
    decode_impl(c, tokens, logits, nullptr);
  }
  //! As `decode`, also writing V(s_t) into `values[i]` (needs `value_head`).
  //! values[i] is V(s) of row i's state after appending tokens[i], the state whose next-token
  //! logits land in row i (the value PPO pairs with the sampled action's log-probability).
  void decode(cache_type& c, vector_view<const token_t> tokens, matrix_view<S> logits, vector_view<S> values) const {
    RLVR_EXPECTS(cfg_.value_head, config, "transformer: decode with values, but value_head is off");
    expect_size(values, c.batch(), "transformer::decode: values");
    decode_impl(c, tokens, logits, values.data());
  }

  // ---- files ---------------------------------------------------------------------------------
  //! Parameters (F32 or F64) plus the configuration as `rlvr.transformer.*` metadata.
  //! Tensor names are those of `parameters()`; the metadata keys are
  //! `rlvr.transformer.{vocab_size, context_length, d_model, n_layers, n_heads, d_ff, value_head,
  //! ln_eps}` with `d_ff` resolved, plus `format` = "rlvr.transformer". Gradients are not saved.
  [[nodiscard]] state_dict state() const {
    state_dict d;
    for (const auto& p : refs_) {
      std::vector<std::int64_t> shape(p.shape.begin(), p.shape.end());
      d.put<S>(std::string(p.name), std::span<const S>(p.value.data(), p.value.size()), std::move(shape));
    }
    // The configuration travels with the weights so that `load` needs nothing but the file; seed
    // and threads are deliberately left out (they do not define the model's function).
    d.set_meta("format", "rlvr.transformer");
    d.set_meta_int("rlvr.transformer.vocab_size", cfg_.vocab_size);
    d.set_meta_int("rlvr.transformer.context_length", cfg_.context_length);
    d.set_meta_int("rlvr.transformer.d_model", cfg_.d_model);
    d.set_meta_int("rlvr.transformer.n_layers", cfg_.n_layers);
    d.set_meta_int("rlvr.transformer.n_heads", cfg_.n_heads);
    d.set_meta_int("rlvr.transformer.d_ff", cfg_.ff());
    d.set_meta_int("rlvr.transformer.value_head", cfg_.value_head ? 1 : 0);
    d.set_meta_number("rlvr.transformer.ln_eps", cfg_.ln_eps);
    return d;
  }
  //! Copies the parameters from `d` (every name present, shapes equal).
  //! Raises `io_error` if a name is missing and `shape_error` for another shape or another dtype
  //! than S (an F64 file does not load into a float model). Tensors are read in parameter order, so
  //! a failure may leave the earlier ones loaded. Extra tensors in `d` are ignored.
  void load_state(const state_dict& d) {
    for (const auto& p : refs_) {
      const stored_tensor& t = d.at(p.name);
      const bool same = t.shape.size() == p.shape.size() &&
                        std::equal(t.shape.begin(), t.shape.end(), p.shape.begin(),
                                   [](std::int64_t a, index_t b) { return a == static_cast<std::int64_t>(b); });
      RLVR_EXPECTS(same, shape, "transformer::load_state: tensor '", p.name, "' has ", t.numel(),
                   " elements in a different shape from the model's ", p.size());
      d.read<S>(p.name, p.value);
    }
  }
  //! The configuration stored in `d` by `state()` (seed and threads are not stored).
  //! Raises the `state_dict` accessor's error for a missing key; does not validate.
  [[nodiscard]] static transformer_config config_from(const state_dict& d) {
    transformer_config c;
    // Values absent from the file (seed, threads) keep transformer_config's defaults.
    c.vocab_size = d.meta_int("rlvr.transformer.vocab_size");
    c.context_length = d.meta_int("rlvr.transformer.context_length");
    c.d_model = d.meta_int("rlvr.transformer.d_model");
    c.n_layers = d.meta_int("rlvr.transformer.n_layers");
    c.n_heads = d.meta_int("rlvr.transformer.n_heads");
    c.d_ff = d.meta_int("rlvr.transformer.d_ff");
    c.value_head = d.meta_int("rlvr.transformer.value_head") != 0;
    c.ln_eps = d.meta_number("rlvr.transformer.ln_eps");
    return c;
  }
  //! Writes `state()` to `path` as safetensors, atomically.
  void save(const std::filesystem::path& path) const { io::save_safetensors(path, state()); }
  //! Reads weights saved by `save` into this model (same configuration).
  //! Only tensor names, shapes and dtype are compared: the file's configuration metadata is not,
  //! so a file of another `n_heads` or `ln_eps` (same tensor shapes) loads silently and the model
  //! keeps its own. Errors: `io_error`
  //! for an unreadable file or a missing tensor, `shape_error` as in `load_state`.
  void load_weights(const std::filesystem::path& path) { load_state(io::load_safetensors(path)); }
  //! A model rebuilt from a file written by `save`; `threads` as given.
  //! Raises `io_error` for an unreadable file or for missing or invalid configuration metadata,
  //! and `load_state`'s errors for the tensors. `seed` is left at 0, which does not matter since
  //! every parameter is overwritten.
  //!
  //!     pi.save("ckpt/policy.safetensors");
  //!     auto pi2 = rlvr::transformer_policy::load("ckpt/policy.safetensors");
  [[nodiscard]] static basic_transformer load(const std::filesystem::path& path, int threads = 0) {
    const state_dict d = io::load_safetensors(path);
    transformer_config c;
    try {
      c = config_from(d);
      c.threads = threads;
      c.validate();
    // A file that is valid safetensors but not an rlvr transformer (missing or inconsistent
    // metadata) is reported as io_error naming the path, whatever the inner error kind was.
    } catch (const rlvr::error& e) {
      fail<io_error>("transformer::load: ", path.string(), " does not hold a valid rlvr transformer: ", e.message());
    }
    basic_transformer m(c);
    m.load_state(d);
    return m;
  }

private:
  // Offsets into values_/grads_ of one block's twelve parameters (set by `layout`).
  struct layer_off {
    index_t ln1_g, ln1_b, w_qkv, b_qkv, w_o, b_o, ln2_g, ln2_b, w1, b1, w2, b2;
  };
  // What `forward_trunk` keeps of block l for `backward_trunk`, each [N = B·T rows, width]:
  //   xhat1 [N, d], rstd1 [N]   LN₁'s normalised input x̂ and 1/√(σ² + ε) (its backward needs both)
  //   h1    [N, d]              a = LN₁(x), the input of W_qkv (for dW_qkv = aᵀ·dqkv)
  //   qkv   [N, 3d]             q | k | v (attention backward needs all three)
  //   att   [B, H, T, T]        softmax probabilities P, zero above the diagonal
  //   o     [N, d]              concatenated head outputs, the input of W_o
  //   xhat2, rstd2, h2          the same for LN₂ (h2 is the input of W₁)
  //   u, g  [N, F]              u = h2·W₁ + b₁ (for GELU′) and g = GELU(u) (the input of W₂)
  // Total ≈ 8d + 2F + H·T + 2 scalars per token and layer. The residual stream itself is not
  // kept: LayerNorm backward needs only x̂ and rstd, and the residual adds have identity Jacobians.
  struct layer_acts {
    detail::tfm::avec<S> xhat1, rstd1, h1, qkv, att, o, xhat2, rstd2, h2, u, g;
  };

  // Parameter table: names, shapes, offsets into values_/grads_, and the parameter_refs.
  // Allocates values_ and grads_ (zeroed), so it precedes `init` or a copy of the values.
  // The order here is the order of `parameters()`, of the saved tensors and of the Philox
  // streams of `init`: changing it changes initialisation and the file format.
  void layout() {
    const index_t V = cfg_.vocab_size, T = cfg_.context_length, d = cfg_.d_model, F = cfg_.ff();
    names_.clear();
    shapes_.clear();
    offsets_.clear();
    index_t total = 0;
    // (rows, cols); rows = 0 marks a 1-D tensor of length cols
    // Appends one tensor to the table; its offset is the running total, so tensors are packed
    // back to back in declaration order (no padding between them).
    auto add = [&](std::string name, index_t r, index_t c) {
      names_.push_back(std::move(name));
      shapes_.push_back(r == 0 ? c : r);
      shapes_.push_back(r == 0 ? -1 : c);
      offsets_.push_back(total);
      total += r == 0 ? c : r * c;
      return offsets_.back();
    };
    off_tok_ = add("tok_emb", V, d);
    off_pos_ = add("pos_emb", T, d);
    layers_.assign(static_cast<std::size_t>(cfg_.n_layers), layer_off{});
    for (index_t l = 0; l < cfg_.n_layers; ++l) {
      const std::string p = "blocks." + std::to_string(l) + ".";
      layer_off& o = layers_[static_cast<std::size_t>(l)];
      o.ln1_g = add(p + "ln1.weight", 0, d);
      o.ln1_b = add(p + "ln1.bias", 0, d);
      o.w_qkv = add(p + "attn.w_qkv", d, 3 * d);
      o.b_qkv = add(p + "attn.b_qkv", 0, 3 * d);
      o.w_o = add(p + "attn.w_out", d, d);
      o.b_o = add(p + "attn.b_out", 0, d);
      o.ln2_g = add(p + "ln2.weight", 0, d);
      o.ln2_b = add(p + "ln2.bias", 0, d);
      o.w1 = add(p + "mlp.w_in", d, F);
      o.b1 = add(p + "mlp.b_in", 0, F);
      o.w2 = add(p + "mlp.w_out", F, d);
      o.b2 = add(p + "mlp.b_out", 0, d);
    }
    off_lnf_g_ = add("ln_f.weight", 0, d);
    off_lnf_b_ = add("ln_f.bias", 0, d);
    off_head_w_ = add("head.weight", d, V);
    off_head_b_ = add("head.bias", 0, V);
    if (cfg_.value_head) {
      off_vw_ = add("value_head.weight", 0, d);
      off_vb_ = add("value_head.bias", 0, 1);
    }
    values_.assign(static_cast<std::size_t>(total), S(0));
    grads_.assign(values_.size(), S(0));
    // The spans are built after values_/grads_ reach their final size: resizing later would
    // invalidate them.
    refs_.clear();
    for (std::size_t i = 0; i < names_.size(); ++i) {
      const bool vec = shapes_[2 * i + 1] < 0;
      const index_t n = vec ? shapes_[2 * i] : shapes_[2 * i] * shapes_[2 * i + 1];
      const auto o = static_cast<std::size_t>(offsets_[i]);
      refs_.push_back(param_ref{names_[i], std::span<S>(values_.data() + o, static_cast<std::size_t>(n)),
                                std::span<S>(grads_.data() + o, static_cast<std::size_t>(n)),
                                std::span<const index_t>(shapes_.data() + 2 * i, vec ? 1u : 2u)});
    }
    last_n_ = 0;
  }

  // Parameter i draws from Philox counter block (seed, i, j) for element j, so each element's
  // value depends only on (seed, its parameter's index, j): no sequential RNG state, hence the
  // same weights for any thread count. u1 and u2 get 53 random bits each from two Philox words
  // (u01_from_u64, in [0, 1)); log1p(−u1) = log(1 − u1) stays finite since 1 − u1 > 0, so z
  // is the Box–Muller cosine variate, N(0, 1). 1-D tensors other than the LayerNorm weights
  // (biases, β, the value head) keep the zeros of `layout`.
  void init() {
    const double sd = cfg_.init_std;
    // GPT-2 scales the two projections that write into the residual stream by 1/√(2L), so the
    // variance the 2L residual additions contribute stays O(σ²) as L grows.
    const double sd_res = cfg_.n_layers > 0 ? sd / std::sqrt(2.0 * static_cast<double>(cfg_.n_layers)) : sd;
    for (std::size_t i = 0; i < refs_.size(); ++i) {
      const std::string& n = names_[i];
      auto v = refs_[i].value;
      // γ = 1 and β = 0 make every LayerNorm the plain normalisation at initialisation.
      if (n.ends_with("ln1.weight") || n.ends_with("ln2.weight") || n == "ln_f.weight") {
        std::fill(v.begin(), v.end(), S(1));
      // Every 2-D tensor: tok_emb, pos_emb, W_qkv, W_o, W₁, W₂ and the head.
      } else if (refs_[i].shape.size() == 2 && !n.starts_with("value_head")) {
        const double s = (n.ends_with("attn.w_out") || n.ends_with("mlp.w_out")) ? sd_res : sd;
        for (std::size_t j = 0; j < v.size(); ++j) {
          const u32x4 b = philox_block(cfg_.seed, i, j);
          const double u1 = u01_from_u64(b.w[0], b.w[1]), u2 = u01_from_u64(b.w[2], b.w[3]);
          const double z = std::sqrt(-2.0 * std::log1p(-u1)) * std::cos(2.0 * std::numbers::pi * u2);
          v[j] = static_cast<S>(s * z);
        }
      }
    }
  }

  // Raw pointers to a parameter (P) or its gradient (G) from its offset in the flat arrays.
  S* P(index_t off) noexcept { return values_.data() + off; }
  const S* P(index_t off) const noexcept { return values_.data() + off; }
  S* G(index_t off) noexcept { return grads_.data() + off; }

  // The input checks shared by every training/inference forward; `who` prefixes the messages.
  // O(B·T): each token is range-checked, since an out-of-range id would index tok_emb
  // out of bounds.
  void check_tokens(const token_batch& batch, const char* who) const {
    const index_t B = batch.batch(), T = batch.length();
    RLVR_EXPECTS(B >= 1, shape, who, ": empty batch");
    RLVR_EXPECTS(T >= 1 && T <= cfg_.context_length, shape, who, ": sequence length ", T, " not in [1, ",
                 cfg_.context_length, "]");
    RLVR_EXPECTS(!batch.has_mask() || (batch.mask.rows() == B && batch.mask.cols() == T), shape, who, ": mask is ",
                 batch.mask.rows(), "x", batch.mask.cols(), ", tokens ", B, "x", T);
    for (index_t b = 0; b < B; ++b)
      for (index_t t = 0; t < T; ++t) {
        const token_t x = batch.tokens(b, t);
        RLVR_EXPECTS(x >= 0 && x < cfg_.vocab_size, range, who, ": token ", x, " at (", b, ", ", t, ") not in [0, ",
                     cfg_.vocab_size, ")");
      }
  }

  // Buffers only grow: a steady-state training loop with a fixed batch shape allocates nothing
  // after its first step. Callers overwrite the contents they use; spare capacity stays unused.
  static void grow(detail::tfm::avec<S>& v, index_t n) {
    if (static_cast<index_t>(v.size()) < n) v.resize(static_cast<std::size_t>(n));
  }

  // `forward`: the trunk, then z = h·W_head + b_head on the gathered wanted rows (hsel_ [M, d] →
  // lsel_ [M, V], one blocked GEMM), scattered back into `logits`; other rows are zero-filled so
  // the output is fully defined. hsel_ is kept: it is the X of dW_head = Xᵀ·dZ in backward.
  void forward_impl(const token_batch& batch, matrix_view<S> logits, S* values) {
    check_tokens(batch, "transformer::forward");
    const index_t B = batch.batch(), T = batch.length(), N = B * T;
    const index_t V = cfg_.vocab_size, d = cfg_.d_model;
    RLVR_EXPECTS(logits.rows() == N && logits.cols() == V, shape, "transformer::forward: logits are ", logits.rows(),
                 "x", logits.cols(), ", expected ", N, "x", V);
    forward_trunk(batch, values);
    const int th = cfg_.threads;
    // vocabulary head on the wanted rows only
    const index_t Msel = static_cast<index_t>(sel_.size());
    // Gathering the M wanted rows into a dense [M, d] block lets one GEMM serve them; the
    // gather/scatter copies are O(M·(d + V)), negligible next to the GEMM's M·d·V.
    grow(hsel_, Msel * d), grow(lsel_, Msel * V);
    for (index_t i = 0; i < Msel; ++i) std::copy_n(hf_.data() + sel_[static_cast<std::size_t>(i)] * d, d, hsel_.data() + i * d);
    detail::tfm::gemm(hsel_.data(), d, P(off_head_w_), P(off_head_b_), lsel_.data(), V, Msel, d, V, th);
    // Zero every row first (O(N·V) writes), then overwrite the wanted ones: simpler than filling
    // only the gaps, and the logits view may have a row stride larger than V.
    for (index_t n = 0; n < N; ++n) std::fill_n(logits.row(n).data(), V, S(0));
    for (index_t i = 0; i < Msel; ++i)
      std::copy_n(lsel_.data() + i * V, V, logits.row(sel_[static_cast<std::size_t>(i)]).data());
    last_n_ = N;
    last_head_ = true;
  }

  // `forward_hidden`: the trunk and a copy of hf_ (all N rows) into the caller's strided view.
  void forward_hidden_impl(const token_batch& batch, matrix_view<S> hidden, S* values) {
    check_tokens(batch, "transformer::forward_hidden");
    const index_t N = batch.batch() * batch.length(), d = cfg_.d_model;
    RLVR_EXPECTS(hidden.rows() == N && hidden.cols() == d, shape, "transformer::forward_hidden: hidden is ",
                 hidden.rows(), "x", hidden.cols(), ", expected ", N, "x", d);
    forward_trunk(batch, values);
    // Row by row, since `hidden` may be strided; hf_ itself stays, as the value head's and
    // LN_f backward's input.
    for (index_t n = 0; n < N; ++n) std::copy_n(hf_.data() + n * d, d, hidden.row(n).data());
    last_n_ = N;
    last_head_ = false; // a `backward` (from logits) needs the head's activations: refused until the next forward
  }

  // Embeddings, the blocks and LN_f: hf_ [N, d] = the head's input; sel_ = the wanted rows;
  // values from hf_ when asked. Keeps every activation `backward_trunk` needs.
  // Order of work per block, matching the architecture in the file comment:
  //   x ← E[x_t] + P[t];  a = LN₁(x);  qkv = a·W_qkv + b_qkv;  o = attention(qkv);
  //   x ← x + o·W_o + b_o;  h2 = LN₂(x);  u = h2·W₁ + b₁;  g = GELU(u);  x ← x + g·W₂ + b₂
  // The residual adds are the GEMMs' accumulate mode (Y += X·W + b) writing into x_ in place.
  // last_n_ is 0 while this runs, so an exception part-way leaves no backward possible on
  // half-written activations; the callers set last_n_ when it finished.
  void forward_trunk(const token_batch& batch, S* values) {
    const index_t B = batch.batch(), T = batch.length(), N = B * T;
    const index_t d = cfg_.d_model, F = cfg_.ff(), H = cfg_.n_heads;
    const int th = cfg_.threads;
    const S eps = static_cast<S>(cfg_.ln_eps);
    // last_n_ = 0 until the caller finishes: a throw in between leaves nothing to differentiate.
    last_b_ = B, last_t_ = T, last_n_ = 0;
    tokens_.resize(static_cast<std::size_t>(N));
    // sel_ lists the wanted rows n = b·T + t in increasing order; with no mask it is 0..N−1.
    sel_.clear();
    for (index_t b = 0; b < B; ++b)
      for (index_t t = 0; t < T; ++t) {
        tokens_[static_cast<std::size_t>(b * T + t)] = batch.tokens(b, t);
        if (batch.wanted(b, t)) sel_.push_back(b * T + t);
      }
    // Row n = b·T + t of x_ is sequence b at position t, hence the position n % T.
    grow(x_, N * d);
    S* x = x_.data();
    for (index_t n = 0; n < N; ++n) {
      const S* e = P(off_tok_) + tokens_[static_cast<std::size_t>(n)] * d;
      const S* p = P(off_pos_) + (n % T) * d;
      for (index_t j = 0; j < d; ++j) x[n * d + j] = e[j] + p[j];
    }
    // One activation set per block: all are needed at once, since backward walks the blocks in
    // reverse after the whole forward.
    acts_.resize(layers_.size());
    for (std::size_t l = 0; l < layers_.size(); ++l) {
      const layer_off& o = layers_[l];
      layer_acts& A = acts_[l];
      grow(A.xhat1, N * d), grow(A.rstd1, N), grow(A.h1, N * d), grow(A.qkv, N * 3 * d), grow(A.att, B * H * T * T);
      grow(A.o, N * d), grow(A.xhat2, N * d), grow(A.rstd2, N), grow(A.h2, N * d), grow(A.u, N * F), grow(A.g, N * F);
      detail::tfm::layernorm(x, A.xhat1.data(), A.rstd1.data(), A.h1.data(), P(o.ln1_g), P(o.ln1_b), N, d, eps, th);
      detail::tfm::gemm(A.h1.data(), d, P(o.w_qkv), P(o.b_qkv), A.qkv.data(), 3 * d, N, d, 3 * d, th);
      attention_forward(A.qkv.data(), A.att.data(), A.o.data(), B, T);
      detail::tfm::gemm(A.o.data(), d, P(o.w_o), P(o.b_o), x, d, N, d, d, th, true);
      detail::tfm::layernorm(x, A.xhat2.data(), A.rstd2.data(), A.h2.data(), P(o.ln2_g), P(o.ln2_b), N, d, eps, th);
      detail::tfm::gemm(A.h2.data(), d, P(o.w1), P(o.b1), A.u.data(), F, N, d, F, th);
      detail::tfm::gelu(A.u.data(), A.g.data(), N, F, th);
      detail::tfm::gemm(A.g.data(), F, P(o.w2), P(o.b2), x, d, N, F, d, th, true);
    }
    // LN_f: its output hf_ is both the head's input and the value head's input.
    grow(xhatf_, N * d), grow(rstdf_, N), grow(hf_, N * d);
    detail::tfm::layernorm(x, xhatf_.data(), rstdf_.data(), hf_.data(), P(off_lnf_g_), P(off_lnf_b_), N, d, eps, th);
    if (values) {
      const S* w = P(off_vw_);
      for (index_t n = 0; n < N; ++n) {
        S s = P(off_vb_)[0];
        // V_n = b_v + Σ_j hf_nj·w_j: a serial dot product in index order (O(N·d), deterministic).
        for (index_t j = 0; j < d; ++j) s += hf_[static_cast<std::size_t>(n * d + j)] * w[j];
        values[n] = s;
      }
    }
  }

  // With S = q·kᵀ/√d_h restricted to j ≤ i: P_ij = exp(S_ij − max_j S_ij) / Σ_j exp(·), the
  // max subtracted so exp never overflows (the shift cancels in the ratio). The full T×T product
  // is computed and the entries above the diagonal are then overwritten with zeros, so o = P·v
  // needs no mask. Strided maps read head h's columns of qkv in place (row stride 3d) and write
  // its d_h columns of out (row stride d); each (b, h) is independent, so splitting over b gives
  // the same bits for any thread count. Memory: att holds B·H·T² scalars.
  // P = softmax(q kᵀ/√d_h + causal), o = P v, per (sequence, head); parallel over sequences.
  void attention_forward(const S* qkv, S* att, S* out, index_t B, index_t T) const {
    const index_t d = cfg_.d_model, H = cfg_.n_heads, dh = d / H;
    const S scale = S(1) / std::sqrt(static_cast<S>(dh));
    using namespace detail::tfm;
    parallel_for(B, cfg_.threads, [&](index_t b0, index_t b1) {
      for (index_t b = b0; b < b1; ++b)
        for (index_t h = 0; h < H; ++h) {
          const S* base = qkv + b * T * 3 * d + h * dh;
          auto q = cv(base, T, dh, 3 * d);
          auto k = cv(base + d, T, dh, 3 * d);
          auto v = cv(base + 2 * d, T, dh, 3 * d);
          // The scores are written straight into the stored P slot and normalised there row by row.
          auto p = mv(att + (b * H + h) * T * T, T, T, T);
          p.noalias() = (q * k.transpose()) * scale;
          for (index_t i = 0; i < T; ++i) {
            auto row = p.row(i).head(i + 1).array();
            // Row i of the causal mask keeps columns 0..i: only that head is normalised.
            const S mx = row.maxCoeff();
            row = (row - mx).exp();
            row /= row.sum();
            p.row(i).tail(T - i - 1).setZero();
          }
          // o = P·v for this head, written into its d_h columns of the [N, d] output.
          mv(out + b * T * d + h * dh, T, dh, d).noalias() = p * v;
        }
    });
  }

  // Backward of o = P·v with P = softmax(S), S = q·kᵀ/√d_h (causal), per (sequence, head):
  //   dv = Pᵀ·do,   dP = do·vᵀ,
  //   dS_ij = P_ij·(dP_ij − Σ_j' P_ij'·dP_ij')     (softmax Jacobian applied row by row)
  //   dq = dS·k/√d_h,   dk = dSᵀ·q/√d_h
  // The 1/√d_h is folded into dS. Only j ≤ i is touched: P is zero above the diagonal, and dS is
  // set to zero there (dp holds do·vᵀ values there, which must not reach dq and dk).
  // dv, dq and dk are written (not added) into
  // head h's columns of dqkv, which is fully overwritten since the heads tile the 3d columns.
  // dp is one T×T scratch per worker (allocated per call of the lambda, not per head). Reads the
  // P stored by forward instead of recomputing it: O(B·H·T²) memory, but no exp in backward.
  void attention_backward(const S* qkv, const S* att, const S* dout, S* dqkv, index_t B, index_t T) const {
    const index_t d = cfg_.d_model, H = cfg_.n_heads, dh = d / H;
    const S scale = S(1) / std::sqrt(static_cast<S>(dh));
    using namespace detail::tfm;
    parallel_for(B, cfg_.threads, [&](index_t b0, index_t b1) {
      rmat<S> dp(T, T);
      for (index_t b = b0; b < b1; ++b)
        for (index_t h = 0; h < H; ++h) {
          const S* base = qkv + b * T * 3 * d + h * dh;
          S* dbase = dqkv + b * T * 3 * d + h * dh;
          auto q = cv(base, T, dh, 3 * d);
          auto k = cv(base + d, T, dh, 3 * d);
          auto v = cv(base + 2 * d, T, dh, 3 * d);
          auto p = cv(att + (b * H + h) * T * T, T, T, T);
          auto dO = cv(dout + b * T * d + h * dh, T, dh, d);
          mv(dbase + 2 * d, T, dh, 3 * d).noalias() = p.transpose() * dO; // dV
          dp.noalias() = dO * v.transpose();
          for (index_t i = 0; i < T; ++i) {
            // s = Σ_j P_ij·dP_ij, the rowsum term of the softmax backward.
            const S s = p.row(i).head(i + 1).dot(dp.row(i).head(i + 1));
            dp.row(i).head(i + 1) = (p.row(i).head(i + 1).array() * (dp.row(i).head(i + 1).array() - s)) * scale;
            dp.row(i).tail(T - i - 1).setZero();
          }
          mv(dbase, T, dh, 3 * d).noalias() = dp * k;                   // dQ
          mv(dbase + d, T, dh, 3 * d).noalias() = dp.transpose() * q;   // dK
        }
    });
  }

  // `backward` from ∂L/∂z. Head: gather the wanted rows of dlogits (dsel_ [M, V]), then
  //   dW_head += hselᵀ·dsel,  db_head += Σ_rows dsel,  ∂L/∂h = dsel·W_headᵀ
  // scattered into dhf_ [N, d] with zero rows for unwanted positions (their logits were never
  // computed from the head, so their dlogits must not contribute), then the shared trunk.
  void backward_impl(matrix_view<const S> dlogits, const S* dvalues) {
    RLVR_EXPECTS(last_n_ > 0, config, "transformer::backward: no forward to differentiate (or the model was copied)");
    RLVR_EXPECTS(last_head_, config,
                 "transformer::backward: the last forward was forward_hidden (no logits): use backward_hidden");
    const index_t N = last_n_, V = cfg_.vocab_size, d = cfg_.d_model;
    RLVR_EXPECTS(dlogits.rows() == N && dlogits.cols() == V, shape, "transformer::backward: dlogits are ",
                 dlogits.rows(), "x", dlogits.cols(), ", the last forward was ", N, "x", V);
    const int th = cfg_.threads;
    using namespace detail::tfm;
    const index_t Msel = static_cast<index_t>(sel_.size());
    grow(dsel_, Msel * V);
    for (index_t i = 0; i < Msel; ++i)
      std::copy_n(dlogits.row(sel_[static_cast<std::size_t>(i)]).data(), V, dsel_.data() + i * V);
    // dW_head += hselᵀ·dsel (fixed [64 × 128] tiles of dW), db_head += Σ_i dsel_i.
    gemm_at(hsel_.data(), d, dsel_.data(), V, G(off_head_w_), G(off_head_b_), Msel, d, V, th);
    grow(dhsel_, Msel * d), grow(dhf_, N * d);
    // ∂L/∂h of the wanted rows = dsel·W_headᵀ [M, d], scattered into dhf_ below.
    gemm_bt(dsel_.data(), V, P(off_head_w_), dhsel_.data(), d, Msel, d, V, th);
    std::fill_n(dhf_.data(), N * d, S(0));
    for (index_t i = 0; i < Msel; ++i)
      std::copy_n(dhsel_.data() + i * d, d, dhf_.data() + sel_[static_cast<std::size_t>(i)] * d);
    backward_trunk(dvalues);
  }

  // `backward_hidden`: ∂L/∂h is given; copy its wanted rows into dhf_ (others zero, matching
  // `backward`, so both paths give the same trunk gradients to rounding) and run the trunk.
  void backward_hidden_impl(matrix_view<const S> dhidden, const S* dvalues) {
    RLVR_EXPECTS(last_n_ > 0, config,
                 "transformer::backward_hidden: no forward to differentiate (or the model was copied)");
    const index_t N = last_n_, d = cfg_.d_model;
    RLVR_EXPECTS(dhidden.rows() == N && dhidden.cols() == d, shape, "transformer::backward_hidden: dhidden is ",
                 dhidden.rows(), "x", dhidden.cols(), ", the last forward was ", N, "x", d);
    grow(dhf_, N * d);
    std::fill_n(dhf_.data(), N * d, S(0));
    // Rows outside the mask stay zero: the caller's values there are ignored, as documented.
    for (const index_t r : sel_) std::copy_n(dhidden.row(r).data(), d, dhf_.data() + r * d);
    backward_trunk(dvalues);
  }

  // From dhf_ = ∂L/∂(the head's input) [N, d] (filled by the caller): the value head, LN_f, the
  // blocks and the embeddings.
  // Gradient flow, in reverse order of `forward_trunk`. dx_ holds ∂L/∂x of the residual stream:
  // each residual add x ← x + f(LN(x)) has Jacobian I + ∂f/∂x, so the backward of a sub-block
  // *adds* its LayerNorm input gradient to dx (layernorm_backward's accumulate = true), while
  // dx itself flows through unchanged. Per linear layer Y = X·W + b:
  //   dW += Xᵀ·dY (gemm_at, fixed dW tiles),  db += Σ_n dY,  dX = dY·Wᵀ (gemm_bt, row blocks).
  // Sub-block by sub-block:
  //   MLP:  dg = dx·W₂ᵀ;  du = dg ⊙ GELU′(u);  dh2 = du·W₁ᵀ;  dx += LN₂ᵀ(dh2)
  //   attn: do = dx·W_oᵀ; dqkv = attention_backward(do); da = dqkv·W_qkvᵀ; dx += LN₁ᵀ(da)
  // where LNᵀ(dy) = rstd·(dx̂ − mean(dx̂) − x̂·mean(dx̂ ⊙ x̂)) with dx̂ = dy ⊙ γ, and
  // dγ += Σ_n dy ⊙ x̂, dβ += Σ_n dy. Embeddings: dE[x_n] += dx_n and dP_pos[n mod T] += dx_n.
  // Scratch (dx_, dh_, dqkv_, du_) is reused across layers; nothing the forward kept is modified,
  // which is what allows several backward calls per forward.
  void backward_trunk(const S* dvalues) {
    const index_t B = last_b_, T = last_t_, N = last_n_;
    const index_t d = cfg_.d_model, F = cfg_.ff();
    const int th = cfg_.threads;
    using namespace detail::tfm;
    // Value head: V_n = hf_n·w_v + b_v, so ∂L/∂hf_n += dV_n·w_v, dw_v += Σ_n dV_n·hf_n and
    // db_v += Σ_n dV_n. Serial over n: a fixed summation order (the value head is O(N·d)).
    grow(dx_, N * d), grow(dh_, N * d), grow(dqkv_, N * 3 * d), grow(du_, N * F);
    if (dvalues) {
      const S* w = P(off_vw_);
      S* gw = G(off_vw_);
      S gb = 0;
      for (index_t n = 0; n < N; ++n) {
        const S dv = dvalues[n];
        gb += dv;
        for (index_t j = 0; j < d; ++j) {
          dhf_[static_cast<std::size_t>(n * d + j)] += dv * w[j];
          gw[j] += dv * hf_[static_cast<std::size_t>(n * d + j)];
        }
      }
      G(off_vb_)[0] += gb;
    }
    S* dx = dx_.data();
    // LN_f starts dx (accumulate = false): the top of the residual stream has no other consumer.
    layernorm_backward(dhf_.data(), xhatf_.data(), rstdf_.data(), P(off_lnf_g_), dx, G(off_lnf_g_), G(off_lnf_b_), N, d,
                       th, false);
    for (std::size_t li = layers_.size(); li-- > 0;) {
      const layer_off& o = layers_[li];
      const layer_acts& A = acts_[li];
      // MLP: x ← x + GELU(LN₂(x)·W₁ + b₁)·W₂ + b₂
      // The residual gradient dx is the dY of the W₂ projection: dW₂ += gᵀ·dx, db₂ += Σ dx.
      gemm_at(A.g.data(), F, dx, d, G(o.w2), G(o.b2), N, F, d, th);
      gemm_bt(dx, d, P(o.w2), du_.data(), F, N, F, d, th);
      // du = dg ⊙ GELU′(u), in place, from the pre-activation u kept by forward.
      gelu_backward(A.u.data(), du_.data(), N, F, th);
      gemm_at(A.h2.data(), d, du_.data(), F, G(o.w1), G(o.b1), N, d, F, th);
      gemm_bt(du_.data(), F, P(o.w1), dh_.data(), d, N, d, F, th);
      layernorm_backward(dh_.data(), A.xhat2.data(), A.rstd2.data(), P(o.ln2_g), dx, G(o.ln2_g), G(o.ln2_b), N, d, th,
                         true);
      // attention: x ← x + attn(LN₁(x))·W_o + b_o
      // dx now includes the MLP branch's contribution; it is the dY of W_o likewise.
      gemm_at(A.o.data(), d, dx, d, G(o.w_o), G(o.b_o), N, d, d, th);
      gemm_bt(dx, d, P(o.w_o), dh_.data(), d, N, d, d, th); // dh_ = d(attention output)
      attention_backward(A.qkv.data(), A.att.data(), dh_.data(), dqkv_.data(), B, T);
      // dW_qkv += aᵀ·dqkv with a = LN₁(x) kept as h1; then da = dqkv·W_qkvᵀ into dh_.
      gemm_at(A.h1.data(), d, dqkv_.data(), 3 * d, G(o.w_qkv), G(o.b_qkv), N, d, 3 * d, th);
      gemm_bt(dqkv_.data(), 3 * d, P(o.w_qkv), dh_.data(), d, N, d, 3 * d, th);
      layernorm_backward(dh_.data(), A.xhat1.data(), A.rstd1.data(), P(o.ln1_g), dx, G(o.ln1_g), G(o.ln1_b), N, d, th,
                         true);
    }
    // Embedding gradients are a scatter-add (several positions may share a token), so this loop is
    // serial over n: a parallel version would race on shared rows and its order would depend on
    // the thread count.
    S* gt = G(off_tok_);
    S* gp = G(off_pos_);
    for (index_t n = 0; n < N; ++n) {
      S* e = gt + tokens_[static_cast<std::size_t>(n)] * d;
      S* p = gp + (n % T) * d;
      for (index_t j = 0; j < d; ++j) {
        e[j] += dx[n * d + j];
        p[j] += dx[n * d + j];
      }
    }
  }

  // One incremental step for the B rows of the cache. It is `forward` for the single new
  // position of each row, with the keys and values of earlier positions read from the cache:
  //   x = E[token] + P[pos];  per block: qkv of the B rows (GEMM), append k, v at pos, attention
  //   of q over cache positions 0..pos, then W_o, LN₂, MLP as in forward;  z = LN_f(x)·W_head + b.
  // Activations live in the cache's per-step scratch ([B, ·] rows, sized by make_cache for its
  // capacity, so `retain`-shrunk batches reuse them). The GEMMs run in `small` mode (bounded
  // Eigen packing buffers on the stack), which is what makes a step allocation-free.
  void decode_impl(cache_type& c, vector_view<const token_t> tokens, matrix_view<S> logits, S* values) const {
    const index_t B = c.batch(), V = cfg_.vocab_size, d = cfg_.d_model, F = cfg_.ff(), H = cfg_.n_heads, dh = d / H;
    const index_t ctx = cfg_.context_length;
    const index_t cap = c.cap_;
    RLVR_EXPECTS(c.d_ == d && c.ctx_ == ctx && c.layers_ == cfg_.n_layers && static_cast<index_t>(c.u_.size()) == cap * F,
                 config, "transformer::decode: the cache was made by a model of a different shape");
    // Every precondition is checked before anything is written, so a failed call leaves the
    // cache and its positions unchanged.
    RLVR_EXPECTS(tokens.size() == B && logits.rows() == B && logits.cols() == V, shape,
                 "transformer::decode: cache for ", B, " sequences, ", tokens.size(), " tokens, logits ", logits.rows(),
                 "x", logits.cols(), " (vocab_size ", V, ")");
    for (index_t i = 0; i < B; ++i) {
      RLVR_EXPECTS(tokens[i] >= 0 && tokens[i] < V, range, "transformer::decode: token ", tokens[i], " of sequence ",
                   i, " not in [0, ", V, ")");
      RLVR_EXPECTS(c.pos_[static_cast<std::size_t>(i)] < ctx, range, "transformer::decode: sequence ", i,
                   " already holds ", c.pos_[static_cast<std::size_t>(i)], " tokens (context_length ", ctx, ")");
    }
    // An empty (fully retained-away) cache: nothing to compute, positions unchanged.
    if (B == 0) return;
    const int th = cfg_.threads;
    const S eps = static_cast<S>(cfg_.ln_eps);
    const S scale = S(1) / std::sqrt(static_cast<S>(dh));
    using namespace detail::tfm;
    S* x = c.x_.data();
    for (index_t i = 0; i < B; ++i) {
      // Row i's embedding: its token plus the position it is about to occupy.
      const S* e = P(off_tok_) + tokens[i] * d;
      const S* p = P(off_pos_) + c.pos_[static_cast<std::size_t>(i)] * d;
      for (index_t j = 0; j < d; ++j) x[i * d + j] = e[j] + p[j];
    }
    for (std::size_t l = 0; l < layers_.size(); ++l) {
      const layer_off& o = layers_[l];
      // No backward follows a decode, so LayerNorm is asked for its output only (null x̂ and rstd).
      layernorm(x, static_cast<S*>(nullptr), static_cast<S*>(nullptr), c.h_.data(), P(o.ln1_g), P(o.ln1_b), B, d, eps, th);
      gemm(c.h_.data(), d, P(o.w_qkv), P(o.b_qkv), c.qkv_.data(), 3 * d, B, d, 3 * d, th, false, true);
      S* K = c.k_.data() + static_cast<index_t>(l) * cap * ctx * d;
      S* Vc = c.v_.data() + static_cast<index_t>(l) * cap * ctx * d;
      parallel_for(B, th, [&](index_t i0, index_t i1) {
        for (index_t i = i0; i < i1; ++i) {
          // Row i's own position: rows of one step may differ (after `reset` or `retain`).
          const index_t pos = c.pos_[static_cast<std::size_t>(i)];
          const S* qkv = c.qkv_.data() + i * 3 * d;
          S* krow = K + (i * ctx) * d;
          S* vrow = Vc + (i * ctx) * d;
          // The new position's k and v go into the cache before attention, so the row attends to itself
          // (j ≤ pos) exactly as the causal mask of forward allows.
          std::copy_n(qkv + d, d, krow + pos * d);
          std::copy_n(qkv + 2 * d, d, vrow + pos * d);
          S* pr = c.p_.data() + i * ctx;
          S* out = c.o_.data() + i * d;
          // Per head: scores_j = k_j·q/√d_h for j ≤ pos, max-shifted exp, then o = Σ_j e_j·v_j scaled
          // once by 1/Σ_j e_j (normalising after the product saves a pass over the scores; forward
          // normalises P first, one reason decode matches forward only to rounding). The scores live in
          // the row's p_ scratch of length context_length.
          for (index_t h = 0; h < H; ++h) { // scores = K·q, softmax, o = pᵀ·V over the prefix
            using vec_t = Eigen::Matrix<S, Eigen::Dynamic, 1>;
            const auto q = Eigen::Map<const vec_t>(qkv + h * dh, dh);
            auto sc = Eigen::Map<vec_t>(pr, pos + 1);
            sc.noalias() = cv(krow + h * dh, pos + 1, dh, d) * q;
            sc *= scale;
            const S mx = sc.maxCoeff();
            sc = (sc.array() - mx).exp().matrix();
            const S inv = S(1) / sc.sum();
            auto oh = Eigen::Map<Eigen::Matrix<S, 1, Eigen::Dynamic>>(out + h * dh, dh);
            oh.noalias() = sc.transpose() * cv(vrow + h * dh, pos + 1, dh, d);
            oh *= inv;
          }
        }
      // (8: at least 8 rows per worker, so a small batch is not split into tiny tasks.)
      }, 8);
      // Residual add (accumulate = true), as in forward.
      gemm(c.o_.data(), d, P(o.w_o), P(o.b_o), x, d, B, d, d, th, true, true);
      layernorm(x, static_cast<S*>(nullptr), static_cast<S*>(nullptr), c.h_.data(), P(o.ln2_g), P(o.ln2_b), B, d, eps, th);
      gemm(c.h_.data(), d, P(o.w1), P(o.b1), c.u_.data(), F, B, d, F, th, false, true);
      // In place: decode keeps no pre-activation, since no backward follows.
      gelu(c.u_.data(), c.u_.data(), B, F, th);
      gemm(c.u_.data(), F, P(o.w2), P(o.b2), x, d, B, F, d, th, true, true);
    }
    layernorm(x, static_cast<S*>(nullptr), static_cast<S*>(nullptr), c.h_.data(), P(off_lnf_g_), P(off_lnf_b_), B, d, eps,
              th);
    // The head writes straight into the caller's logits (row stride honoured): every row is
    // wanted in decode.
    gemm(c.h_.data(), d, P(off_head_w_), P(off_head_b_), logits.data(), logits.row_stride(), B, d, V, th, false, true);
    if (values) {
      const S* w = P(off_vw_);
      for (index_t i = 0; i < B; ++i) {
        S s = P(off_vb_)[0];
        // V = b_v + LN_f(x)·w_v per row, in index order, as in forward.
        for (index_t j = 0; j < d; ++j) s += c.h_[static_cast<std::size_t>(i * d + j)] * w[j];
        values[i] = s;
      }
    }
    // Positions advance only after every layer has written its k and v at the old position.
    for (auto& p : c.pos_) ++p;
  }

  // Parameter table: cfg_ as validated; names_, shapes_ (two entries per tensor, −1 as the second
  // for a 1-D one), offsets_ into the flat values_/grads_; refs_ are the `parameters()` views.
  transformer_config cfg_;
  std::vector<std::string> names_;
  std::vector<index_t> shapes_, offsets_;
  detail::tfm::avec<S> values_, grads_;
  std::vector<param_ref> refs_;
  std::vector<layer_off> layers_;
  index_t off_tok_ = 0, off_pos_ = 0, off_lnf_g_ = 0, off_lnf_b_ = 0, off_head_w_ = 0, off_head_b_ = 0, off_vw_ = 0,
          off_vb_ = 0;
  // activations of the last forward and backward scratch
  index_t last_b_ = 0, last_t_ = 0, last_n_ = 0;
  // last_b_, last_t_, last_n_ = B, T, B·T of the last training forward; last_n_ = 0 means "no
  // activations to differentiate" (fresh model, copy, or after forward_inference).
  bool last_head_ = false; // the last forward ran the vocabulary head (a `backward` from logits is possible)
  // tokens_ [N]: the last forward's token ids (for the embedding scatter); sel_: its wanted rows
  // in increasing order b·T + t; acts_: one layer_acts per block.
  std::vector<token_t> tokens_;
  std::vector<index_t> sel_;
  std::vector<layer_acts> acts_;
  // Forward: x_ residual stream [N, d]; xhatf_, rstdf_ LN_f's x̂ and rstd; hf_ = LN_f(x) [N, d];
  // hsel_ [M, d] and lsel_ [M, V] the wanted rows' head input and logits. Backward: dsel_ [M, V],
  // dhsel_ [M, d], dhf_ [N, d] = ∂L/∂hf, dx_ [N, d] = ∂L/∂x, dh_ [N, d] and du_ [N, F] per sub-block,
  // dqkv_ [N, 3d]. All grow-only.
  detail::tfm::avec<S> x_, xhatf_, rstdf_, hf_, hsel_, lsel_, dsel_, dhsel_, dhf_, dx_, dh_, dqkv_, du_;
};

//! The float32 reference transformer. Models `rlvr::ValueHeadPolicy` (and so `rlvr::Policy`).
//! The static_asserts below stop compilation if the class drifts from those interfaces.
using transformer_policy = basic_transformer<float>;
static_assert(Policy<transformer_policy>);
static_assert(InferenceForward<transformer_policy>);
static_assert(ValueHeadPolicy<transformer_policy>);
static_assert(FusedHeadPolicy<transformer_policy>);

} // namespace rlvr
