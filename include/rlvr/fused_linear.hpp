#pragma once
//! \file rlvr/fused_linear.hpp
//! \brief The LM head fused with the objective: loss, gradients and diagnostics from the hidden
//! states, without ever materialising the [N, V] logits (host backends; needs Eigen).
//!
//! The last layer of a language model maps hidden states h_t ∈ R^d to logits over a vocabulary
//! of V tokens, z_t = W·h_t + b (W ∈ R^{V×d}, the PyTorch `nn.Linear` layout, b ∈ R^V optional;
//! a head stored transposed, [d, V], is taken as it is with `weight_layout::d_by_v`,
//! rlvr/linear_head.hpp).
//! `rlvr::loss_and_grad` takes the logits as an [N, V] matrix, and the gradient is another — at
//! N = 1024 tokens and V = 151 936, 622 MB each in float. The entry points here compute the same
//! numbers from H = [h_t] ∈ R^{N×d}, W and b, one vocabulary *chunk* of C columns at a time:
//!
//! 1. **Read pass.** For each chunk [c0, c0 + C): Z_c = H·W_cᵀ + b_c (a GEMM, rows in fixed
//!    blocks of 64), and each row's online log-sum-exp state (`rlvr/objectives/row_math.hpp`:
//!    running max m, s = Σ e^{x−m}, t = Σ e^{x−m}(x − m), x = z/τ) absorbs the chunk with
//!    `lse_merge`; the target's scaled logit x_y is taken from the chunk that holds it. At the end,
//!    per row: lse = m + log s, H_t = log s − t/s, log π_t = x_y − lse — the `row_stats` of the
//!    unfused pass.
//! 2. **Epilogue.** Exactly the path of `loss_and_grad`: `detail::prepare_loss` (validation,
//!    aggregation weights), the batch-level parts when the objective has them
//!    (`detail::prepare_batch_context`: GSPO/GMPO sequence ratios, Clip-Cov/KL-Cov, token gates —
//!    they read the log π and H of step 1, so they are supported), the objective's per-token
//!    `detail::loss_epilogue` (coefficients c.dlogp = ∂L/∂log π_t, c.dentropy = ∂L/∂H_t), and
//!    `detail::summarize_loss` (diagnostics; a bad row raises here, before any gradient is
//!    written).
//! 3. **Write pass.** For each chunk again: recompute Z_c, turn it in place into
//!    G_c = ∂L/∂Z_c with the row's write plan (`make_grad_plan`):
//!      G_tv = p_tv·(a_t + b_t·log p_tv) + [v = y_t]·c.dlogp/τ,
//!      a_t = −(c.dlogp + c.dentropy·H_t)/τ,  b_t = −c.dentropy/τ,
//!    then  ∂L/∂H += G_c·W_c,   ∂L/∂W_c = G_cᵀ·H,   ∂L/∂b_c = Σ_t G_c[t, :].
//!
//! Cost: the GEMM of the head once forward and three times in the write pass (recompute, two
//! gradient GEMMs) — one GEMM more than the unfused path (z = H·Wᵀ, loss_and_grad, two gradient
//! GEMMs). Extra memory (bytes, T the scalar type):
//!     C·N_act·sizeof(T)  +  ~100·N  +  [some rows inactive] 2·N_act·d·sizeof(T)  +  O(K·N),
//! where N_act is the number of active rows (rows inactive in every component are not read:
//! their hidden state may hold anything, their ∂L/∂h row is 0), instead of N·V·sizeof(T) for the
//! logits (and as much again for an out-of-place gradient).
//!
//! **Choosing the chunk C** (`fused_linear_options::vocab_chunk`, default 1024): the scratch
//! block is C·N_act·sizeof(T) — 4 MiB at N = 1024, C = 1024, float. In bench_fused_linear
//! (N = 1024, d = 512, 2 threads) smaller chunks are faster down to a few hundred columns: G_c
//! stays in cache between the write pass and the two gradient GEMMs; below ~256 columns the
//! GEMMs get thin. Keep C·N·sizeof(T) within a few MiB and C ≥ 256 (docs/fused-linear.md,
//! docs/performance.md). Any C ≥ 1 gives the same numbers up to rounding (C ≥ V: one chunk).
//!
//! **Determinism.** Rows are cut into fixed blocks of 64 and ∂L/∂W into fixed tiles of 256
//! vocabulary rows, whatever the thread count: every output element is computed by the same
//! operations in the same order, so results do not depend on `backend.threads`.
//!
//! **Backends.** Host backends only (`HostBackend`: `serial_backend`, `eigen_backend`,
//! `xtensor_backend`, user host backends); the GEMMs are Eigen's on `backend.threads` threads
//! (through `rlvr::parallel_for`), the row math is the backend's row evaluator
//! (`rlvr/backends/detail/host_rows.hpp`: the SIMD-packet evaluator for `eigen_backend`, the
//! scalar double-accumulating oracle otherwise). **The CUDA path is not in this version**: on a
//! GPU, materialise the logits and call `rlvr::loss_and_grad`.
//!
//! Example (docs/fused-linear.md has a complete program, compiled and run by `ctest -L docs`):
//!
//!     // hidden [N, d], weight [V, d], bias [V] (may be empty); batch as for loss_and_grad,
//!     // without logits
//!     rlvr::loss_token_batch<float> tb{.targets = y, .advantages = adv.advantages(), .active = adv.active()};
//!     auto diag = rlvr::fused_linear_loss_and_grad(rlvr::eigen_backend{.threads = 2}, obj, hidden, weight,
//!         bias, tb, grad_hidden, grad_weight, grad_bias, {.loss = {.temperature = 0.7}, .vocab_chunk = 1024});
//!
//! Errors are those of `loss_and_grad` (same messages, `who` = the entry point's name), plus
//! shape errors naming `hidden`, `weight`, `bias`, `grad_hidden`, `grad_weight`, `grad_bias` or
//! `batch.logits` (which must be empty), a `config` error for `vocab_chunk` < 1, and a `shape`
//! error when an output overlaps an input.

#include <Eigen/Core> // the GEMMs (included here so that builds without Eigen skip this header)
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>
#include <vector>

#include "rlvr/backends/concepts.hpp"
#include "rlvr/backends/detail/host_rows.hpp"
#include "rlvr/config.hpp"
#include "rlvr/detail/fused_linear.hpp"
#include "rlvr/error.hpp"
#include "rlvr/linear_head.hpp"
#include "rlvr/loss.hpp"
#include "rlvr/objectives/concepts.hpp"
#include "rlvr/objectives/row_math.hpp"
#include "rlvr/parallel.hpp"
#include "rlvr/view.hpp"

namespace rlvr {

//! The default vocabulary chunk C of the fused LM head (columns of logits per GEMM).
inline constexpr index_t default_vocab_chunk = 1024;

//! Run-time options of `fused_linear_loss_and_grad`.
struct fused_linear_options {
  loss_options loss{};                      //!< temperature, aggregation, advantage report (as `loss_and_grad`)
  index_t vocab_chunk = default_vocab_chunk; //!< C ≥ 1: logits columns per chunk (see the file comment)
  bool accumulate = false;                  //!< add into grad_hidden / grad_weight / grad_bias instead of overwriting
  weight_layout layout = weight_layout::v_by_d; //!< [V, d] (default) or [d, V] weight and grad_weight (rlvr/linear_head.hpp)
};

//! Forward only: log π of each target and the entropy of each row of the logits
//! z_t = W·h_t + b at temperature τ, one vocabulary chunk at a time (steps 1 of the file comment):
//! the numbers of `rlvr::log_prob_entropy` on the materialised logits, with O(N·C) extra memory.
//! `hidden` [N, d], `weight` [V, d], `bias` [V] or empty, `targets` [N] in [0, V), `logp` [N],
//! `entropy` [N] or empty; all host memory. Throws `rlvr::numerical_error` naming the first row
//! whose log π is not finite (as `log_prob_entropy`).
//! T is deduced from `logp`; the other views convert (a `matrix_view<T>` is accepted for `hidden`).
//! `layout` says whether `weight` is [V, d] (default) or [d, V] (`weight_layout`).
template <class B, class T>
void fused_linear_log_prob_entropy(const B& backend, std::type_identity_t<matrix_view<const T>> hidden,
                                   std::type_identity_t<matrix_view<const T>> weight,
                                   std::type_identity_t<vector_view<const T>> bias, vector_view<const token_t> targets,
                                   vector_view<T> logp, std::type_identity_t<vector_view<T>> entropy,
                                   double temperature = 1.0, index_t vocab_chunk = default_vocab_chunk,
                                   weight_layout layout = weight_layout::v_by_d) {
  detail::flin::check_backend<B, T>();
  constexpr const char* who = "fused_linear_log_prob_entropy";
  const bool wt = layout == weight_layout::d_by_v;
  detail::check_temperature<T>(temperature);
  detail::flin::check_head(hidden, weight, bias, targets, vocab_chunk, who, wt);
  expect_size(logp, hidden.rows(), "fused_linear_log_prob_entropy: logp");
  RLVR_EXPECTS(entropy.empty() || entropy.size() == hidden.rows(), shape, who, ": entropy has length ",
               entropy.size(), " but hidden has ", hidden.rows(), " rows");
  const index_t n = hidden.rows();
  if (n == 0) return;
  const index_t chunk = std::min(vocab_chunk, detail::flin::vocab_of(weight, wt));
  std::vector<T> own, z(static_cast<std::size_t>(n * chunk));
  const auto hd = detail::flin::compact_head(hidden, weight, bias, {}, true, own, wt);
  const auto ev = detail::flin::evaluator_of(backend);
  const auto rows = detail::flin::read_pass(ev, hd, targets.data(), 1.0 / static_cast<double>(static_cast<T>(temperature)),
                                            chunk, backend.threads, z);
  for (index_t i = 0; i < n; ++i) {
    const row_stats<double>& s = rows[static_cast<std::size_t>(i)].stats;
    logp[i] = static_cast<T>(std::isnan(s.lse) ? s.lse : s.logp);
    if (!entropy.empty()) entropy[i] = static_cast<T>(s.entropy);
  }
  for (index_t i = 0; i < n; ++i)
    if (!std::isfinite(static_cast<double>(logp[i]))) detail::fail_row(i, targets, logp.data(), who);
}

//! The fused LM head + objective (file comment): loss, ∂L/∂hidden into `grad_hidden` [N, d],
//! ∂L/∂weight into `grad_weight` ([V, d], or [d, V] with `opt.layout = d_by_v`), ∂L/∂bias into `grad_bias` ([V], or empty when not
//! wanted) and the diagnostics — the numbers of `loss_and_grad` on the materialised logits
//! z = H·Wᵀ + b followed by the two gradient GEMMs, without the [N, V] logits.
//!
//! `batch` is a `loss_token_batch` with empty `logits` (they are computed here); its other
//! fields, `opt.loss` and `out` mean what they mean for `loss_and_grad`. The gradients are
//! overwritten, or added to with `opt.accumulate` (micro-batches). Every input and output is
//! host memory; gradients must not overlap the inputs or each other. After an error the
//! gradients are unchanged (everything, bad rows included, is checked before the write pass);
//! the per-token outputs `out` are unspecified. T is deduced from `batch`; the views convert
//! (a `matrix_view<T>` or a `std::vector<T>` is accepted where a view of `const T` is taken).
template <class B, Objective O, class T>
loss_diagnostics fused_linear_loss_and_grad(const B& backend, const O& obj,
                                            std::type_identity_t<matrix_view<const T>> hidden,
                                            std::type_identity_t<matrix_view<const T>> weight,
                                            std::type_identity_t<vector_view<const T>> bias,
                                            const loss_token_batch<T>& batch,
                                            std::type_identity_t<matrix_view<T>> grad_hidden,
                                            std::type_identity_t<matrix_view<T>> grad_weight,
                                            std::type_identity_t<vector_view<T>> grad_bias,
                                            const fused_linear_options& opt = {},
                                            std::type_identity_t<token_outputs<T>> out = {}) {
  detail::flin::check_backend<B, T>();
  static_assert(!detail::uses_ref_logits<O>(),
                "rlvr::fused_linear_loss_and_grad: rule 'kl_full needs materialised logits': the exact "
                "full-vocabulary KL (rlvr::kl_full) reads the reference logits rows, which the chunked LM-head pass "
                "never holds; use rlvr::loss_and_grad with loss_token_batch::ref_logits, or a sampled estimator "
                "(kl_k3, kl_k3_plus) here");
  constexpr const char* who = "fused_linear_loss_and_grad";
  constexpr index_t k = O::components;
  RLVR_EXPECTS(batch.logits.data() == nullptr && batch.logits.rows() == 0, shape, who,
               ": batch.logits must be empty (the logits are computed here from hidden and weight), got ",
               batch.logits.rows(), "x", batch.logits.cols());
  const bool wt = opt.layout == weight_layout::d_by_v;
  detail::flin::check_head(hidden, weight, bias, batch.targets, opt.vocab_chunk, who, wt);
  const index_t n = hidden.rows(), d = hidden.cols(), v = detail::flin::vocab_of(weight, wt);
  detail::flin::check_outputs(hidden, weight, bias, grad_hidden, grad_weight, grad_bias, who, wt);
  const std::vector<T> w = detail::prepare_loss(obj, batch, n, opt.loss, out, who);

  // per-token outputs: the caller's views, or owned buffers when not wanted
  detail::token_arrays<T> arrays(out, n);
  T* logp = arrays.logp;
  T* ent = arrays.entropy;
  T* tl = arrays.loss;
  std::vector<std::uint8_t>& flags = arrays.flags;
  const auto active = [&](index_t i) {
    for (index_t c = 0; c < k; ++c)
      if (w[static_cast<std::size_t>(c * n + i)] != T(0)) return true;
    return false;
  };
  // rows inactive in every component (masked, dropped) are not read: the passes run over the
  // active rows only (their hidden states gathered when some rows are inactive), and their
  // per-token outputs are 0, as in loss_and_grad
  std::vector<index_t> idx; // the active rows, in order
  std::vector<token_t> y_act;
  for (index_t i = 0; i < n; ++i) {
    logp[i] = ent[i] = tl[i] = T(0);
    if (active(i)) {
      idx.push_back(i);
      y_act.push_back(batch.targets[i]);
    }
  }
  const index_t m = static_cast<index_t>(idx.size());
  const bool all = m == n;

  // step 1: the read pass over the active rows — per chunk, Z_c = H·W_cᵀ + b_c and each row's
  // online log-sum-exp state absorbs it; at the end the row_stats {lse, H, log π} of each row
  const index_t chunk = std::min(opt.vocab_chunk, v);
  const double inv_tau = 1.0 / static_cast<double>(static_cast<T>(opt.loss.temperature));
  std::vector<T> h_own, z(static_cast<std::size_t>(m * chunk));
  const auto hd = detail::flin::compact_head(hidden, weight, bias, idx, all, h_own, wt);
  const auto ev = detail::flin::evaluator_of(backend);
  const auto rows = detail::flin::read_pass(ev, hd, y_act.data(), inv_tau, chunk, backend.threads, z);

  // step 2: the epilogue of loss_and_grad — the batch-level parts first when the objective has
  // them (they read every token's log π and H, which step 1 has just produced)
  std::vector<T> stat, gate;
  if constexpr (detail::has_batch_context<O>()) { // sequence/batch statistics need log π first
    for (index_t i = 0; i < m; ++i) {
      const row_stats<double>& s = rows[static_cast<std::size_t>(i)].stats;
      logp[idx[static_cast<std::size_t>(i)]] = static_cast<T>(std::isnan(s.lse) ? s.lse : s.logp);
      ent[idx[static_cast<std::size_t>(i)]] = static_cast<T>(s.entropy);
    }
    detail::prepare_batch_context(obj, batch, w, n, logp, ent, stat, gate);
  }
  // the per-token math: c.dlogp = ∂L/∂log π_t, c.dentropy = ∂L/∂H_t, turned into the write
  // plan G_tv = p_tv·(a_t + b_t·log p_tv) + [v = y_t]·t_y of each active row (a bad row keeps a
  // zero plan; summarize_loss raises for it below, before any gradient is written)
  const auto ep = detail::host_epilogue(obj, batch, w, n, logp, ent, tl, flags.data(), stat, gate);
  std::vector<row_grad_plan<double>> plans(static_cast<std::size_t>(m), row_grad_plan<double>{0, 0, 0});
  for (index_t i = 0; i < m; ++i) {
    const row_stats<double>& s = rows[static_cast<std::size_t>(i)].stats;
    const row_coeffs<T> c = ep(idx[static_cast<std::size_t>(i)], detail::narrow_stats<T>(s));
    if (!std::isnan(s.lse))
      plans[static_cast<std::size_t>(i)] = make_grad_plan(
          s, row_coeffs<double>{static_cast<double>(c.dlogp), static_cast<double>(c.dentropy)}, inv_tau);
  }
  loss_diagnostics diag = detail::summarize_loss(batch, w.data(), k, n, logp, ent, tl, flags.data(), opt.loss, who);
  detail::gate_diagnostics(diag, gate, w.data(), k, n);

  // step 3: the write pass — per chunk, Z_c again, G_c in place, ∂L/∂H += G_c·W_c,
  // ∂L/∂W_c (=|+=) G_cᵀ·H, ∂L/∂b_c (=|+=) Σ_t G_c; with inactive rows, ∂L/∂H goes through a
  // compact buffer scattered at the end
  std::vector<T> gh_own;
  T* gh = grad_hidden.data();
  index_t ldgh = grad_hidden.row_stride();
  if (!all) {
    gh_own.assign(static_cast<std::size_t>(m * d), T(0));
    gh = gh_own.data();
    ldgh = d;
  } else if (!opt.accumulate) {
    for (index_t i = 0; i < n; ++i) std::fill_n(grad_hidden.row(i).data(), d, T(0));
  }
  detail::flin::write_pass(ev, hd, y_act.data(), inv_tau, chunk, backend.threads, rows, plans, gh, ldgh,
                           grad_weight.data(), grad_weight.row_stride(), grad_bias.empty() ? nullptr : grad_bias.data(),
                           opt.accumulate, z);
  if (!all) detail::flin::scatter_rows(gh_own, idx, grad_hidden, opt.accumulate);
  return diag;
}

} // namespace rlvr
