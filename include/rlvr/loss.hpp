#pragma once
//! \file rlvr/loss.hpp
//! \brief Entry points of the objectives engine: advantages, loss + dL/dlogits + diagnostics,
//! forward-only log π and entropy, and PPO's clipped value loss.
//!
//! A trainer step, for a rollout batch of B responses (N tokens) and an objective `obj`:
//!
//!     // once per rollout batch: per-token advantages and active flags, [K, N]
//!     auto adv = rlvr::estimate_advantages(obj, rlvr::advantage_input<float>{
//!         .rewards = rewards, .group_ids = prompt_ids, .seq = token_seq, .mask = token_mask});
//!     // per mini-batch of tokens [t0, t0 + n): the policy's logits rows for those tokens
//!     rlvr::loss_token_batch<float> mb = rlvr::slice(rlvr::loss_token_batch<float>{
//!         .logits = logits, .targets = tokens, .advantages = adv.advantages(), .active = adv.active(),
//!         .seq = token_seq, .num_sequences = B, .old_logp = old_logp, .ref_logp = ref_logp}, t0, n);
//!     auto diag = rlvr::loss_and_grad(rlvr::eigen_backend{.threads = 2}, obj, mb, grad,
//!                                     {.temperature = 1.0, .aggregation = {.global_tokens = n_total}});
//!
//! `loss_and_grad` computes, in one read pass and one write pass over each active row of logits
//! (x = z/τ, p = softmax(x)):
//!   log π_t = x_{t,y_t} − logsumexp(x_t),  H_t = −Σ_v p_tv log p_tv,
//!   L = Σ_k λ_k Σ_t w_kt ℓ_k(log π_t, log π_old,t, log π_ref,t, A_kt, H_t),
//!   grad_tv = ∂L/∂z_tv (into `grad`, which may be the logits themselves: in place).
//! The loss, its gradient and the diagnostics are deterministic: rows are independent, and the
//! reductions over tokens run in a fixed order after the parallel pass.
//!
//! Rows of tokens that are not active in any component (masked, dropped) get a zero gradient
//! row and are not read. Errors (all `rlvr::error`, naming the offending index or value):
//! shape mismatches (`shape`), target ids outside [0, V) or seq ids outside [0, B) (`range`),
//! bad numbers in the configuration (`config`; a temperature τ must be finite and > 0 with 1/τ
//! finite in the logit type: float needs τ ≥ ~2.94e-39), and — detected during the pass, raised
//! after it — an active row with a NaN or +inf logit, or a finite logit z with z/τ beyond the
//! logit type's range (every backend treats it as +inf), an all −inf row, or a target whose logit
//! is −inf (`numerical`); −inf entries elsewhere are masked vocabulary and are fine. With `kl_full`,
//! missing or misshapen `ref_logits` (`shape`) and a reference row whose KL is not finite — a NaN or
//! +inf entry, or −inf where the policy has mass (`numerical`, naming the row). After an error the
//! contents of `grad` are unspecified.
//!
//! **Entry points.**
//! - `estimate_advantages(obj, in)` → `advantage_result`: A and the active flags, [K, N], once per
//!   rollout batch (host).
//! - `slice(batch, first, count)`: a mini-batch of tokens as views into the rollout batch (no copy).
//! - `loss_and_grad(backend, obj, batch, grad, opts, out)` → `loss_diagnostics`: the fused pass.
//! - `log_prob_entropy(backend, logits, targets, logp, entropy, τ)`: forward only (old and reference
//!   log-probs, evaluation).
//! - `value_loss(values, old_values, returns, mask, clip, grad)`: PPO's value head.
//!
//! **PPO** adds the value head: GAE needs the rollout's values, and the head trains on the returns.
//!
//!     const auto obj = rlvr::ppo();
//!     auto adv = rlvr::estimate_advantages(obj, rlvr::advantage_input<float>{
//!         .rewards = rewards, .seq = token_seq, .mask = token_mask, .values = old_values,
//!         .old_logp = old_logp, .ref_logp = ref_logp});
//!     auto diag = rlvr::loss_and_grad(be, obj, mb, grad, {.aggregation = {.global_tokens = n_total}});
//!     auto vl = rlvr::value_loss<float>(values, old_values, adv.returns, token_mask, 0.2, dvalues);
//!
//! **Weighted sums** have one denominator per component:
//!
//!     const auto obj = 0.1 * rlvr::psr() + rlvr::nsr();   // K = 2
//!     auto adv = rlvr::estimate_advantages(obj, in);
//!     const auto counts = adv.global_counts();            // [2]
//!     rlvr::loss_and_grad(be, obj, mb, grad, {.aggregation = {.component_tokens = counts.data()}});
//!
//! **What each part needs in `loss_token_batch`** (beyond logits, targets and advantages):
//!
//! | part                                                      | needs                                   |
//! |-----------------------------------------------------------|-----------------------------------------|
//! | ratio surrogates (ppo_clip, cispo, sapo, gspo, gmpo, clip_cov, kl_cov) | old_logp off-policy (empty: ρ = 1) |
//! | kl_k1, kl_k2, kl_k3, kl_k3_plus                           | ref_logp                                |
//! | kl_full                                                   | ref_logits and a `RefKLBackend`         |
//! | seq_mean_* aggregations                                   | seq                                     |
//! | gspo, gmpo (per-response ratios)                          | seq, whole responses per call           |
//! | tis, rollout_mask, sequence_divergence_mask               | rollout_logp (old_logp as the other side) |
//! | entropy_top, clip_cov, kl_cov                             | nothing more: statistics of this call's active tokens |
//!
//! **Temperature.** Everything is computed from x = z/τ: log π, the entropy, the gradient (which
//! carries the 1/τ factor). `old_logp`, `ref_logp` and `ref_logits` must be at the same τ.
//!
//! **Backends.** `serial_backend` (one thread, double accumulation: the oracle the tests compare
//! with), `eigen_backend{.threads}` (vectorised, rows over threads; the same results for any
//! thread count), `xtensor_backend`, and `cuda_backend` (logits on the device; no `kl_full` yet).
//! See docs/concepts/backend.md for writing one.
//!
//! **Mini-batches and micro-batches.** The loss is linear in the per-token weights, so a rollout
//! batch split into pieces gives the full batch's loss and gradient as the sum of the pieces'
//! when every piece is given the *global* denominators (`loss_options::aggregation`:
//! `global_tokens`, or `component_tokens` = `advantage_result::global_counts()` for a weighted
//! sum). Without them each piece normalises by its own count and pieces of different sizes are
//! silently reweighted (spec §8). Sequence-level parts (seq-mean aggregations, GSPO/GMPO,
//! Clip-Cov, gates) need whole responses in a piece.
//!
//! **Diagnostics are per call.** For a rollout batch split into mini-batches, sum `loss` (with
//! global denominators the sum is the batch's loss) and average the means and fractions
//! weighted by `active_tokens`. docs/objectives.md walks through the same API.
//!
//! **Without the logits.** When the logits come from a linear head z = W·h + b,
//! `rlvr::fused_linear_loss_and_grad` (rlvr/fused_linear.hpp) runs the same per-token math from
//! the hidden states, one vocabulary chunk at a time, and never holds the N×V logits.
//!
//! See also: objectives/advantages.hpp (estimators), objectives/aggregation.hpp (weights),
//! objectives/terms.hpp (per-token terms), backends/concepts.hpp (what a backend implements).
//!
//! **Cost.** One read and one write of the N×V logits (plus one more read for objectives with
//! batch-level parts, and two reads of the reference logits with `kl_full`); O(K·N) host memory
//! for the weights and per-token arrays; no N×V temporary (the gradient may overwrite the logits).
//! The backend chooses the threads (`eigen_backend{.threads}`); results do not depend on their
//! number. The entry points keep no state between calls.
//!
//! **Common mistakes**, each silent (no error can catch them): splitting a batch without the
//! global denominators (pieces reweighted); `old_logp` or `ref_logp` computed at another
//! temperature than the loss's τ (ρ ≠ 1 on-policy, a biased KL); an `active` matrix from another
//! rollout batch, or a `slice` whose `grad` rows are not the same tokens' rows; padding tokens
//! left active (mask them in the advantage input, so they are inactive here).
//!
//! **Using the gradient.** `grad` holds ∂L/∂z for the logits rows given; backpropagate it through
//! the model that produced them (the policy's backward pass). In place: pass the logits buffer
//! itself as `grad` (same pointer and row stride) to save N×V memory; the logits are then gone.
//!
//!   rlvr::matrix_view<float> g(logits.data(), n, v);   // in place
//!   batch.logits = rlvr::matrix_view<const float>(logits.data(), n, v);
//!   rlvr::loss_and_grad(be, obj, batch, g);
//!
//! **Numerics.** Logits of magnitude 1e4 give finite, correct results: the write pass uses
//! (x − max) − log Σ, never x − lse rounded to T. −inf logits (masked vocabulary) are exact: p = 0
//! and a zero gradient, never 0·log 0. T = float or double for the logits; the per-token
//! reductions and the diagnostics are accumulated in double.
//!
//! **Check by hand** (spec §6's vector): one row z = [2, 1, 0], target 0, A = +1, τ = 1, the
//! REINFORCE surrogate and token-mean over that one token give L = −log π = 0.4076059644443806
//! and grad = p − e_0 = [−0.3347590442251782, 0.24472847105479764, 0.09003057317038046];
//! A = −1 flips the gradient's signs.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>
#include <vector>

#include "rlvr/backends/concepts.hpp"
#include "rlvr/config.hpp"
#include "rlvr/error.hpp"
#include "rlvr/objectives/concepts.hpp"
#include "rlvr/objectives/objective.hpp"
#include "rlvr/objectives/row_math.hpp"
#include "rlvr/view.hpp"

namespace rlvr {

//! One (mini-)batch of response tokens for the loss. [K, N] matrices have one row per objective
//! component (K = 1 for a plain objective); their row stride may exceed N (a column block of a
//! rollout-wide matrix, see `slice`).
//!
//! Memory: the logits live in memory space `Space` — the backend's (`rlvr::memory_space_t<B>`),
//! host by default. Every other field is a per-token array of O(N) bytes in *host* memory,
//! whatever the backend: the entry point validates it there and stages what the kernels read.
//! T is the logit type (float or double); the log-probs and advantages share it.
//!
//! All fields are non-owning views: the caller keeps the arrays alive during the call. A field
//! that the objective does not read may stay empty; one that it reads and is missing raises
//! `shape_error` naming it (ref_logp for a KL term, rollout_logp for a gate that reads it,
//! ref_logits for `kl_full`, seq for the seq-mean aggregations). Build one per rollout batch and
//! cut mini-batches with `slice`.
template <class T, class Space = host_space> struct loss_token_batch {
  using memory_space = Space;               //!< where `logits` live
  //! Raw logits z, before the temperature (the entry point divides by τ). −inf entries are
  //! masked vocabulary; NaN / +inf in an active row is a `numerical_error`.
  matrix_view<const T, Space> logits{};     //!< [N, V] policy logits, row-major, rows may be strided
  //! The token the policy sampled at each position (the row's y_t); its log π is the one trained.
  vector_view<const token_t> targets{};     //!< [N] the sampled token of each row, in [0, V)
  //! From `advantage_result::advantages()`; must be finite on active tokens (`numerical_error`).
  matrix_view<const T> advantages{};        //!< [K, N] A_kt
  //! From `advantage_result::active()`. Empty makes every token active in every component
  //! (the response mask is then the caller's business).
  matrix_view<const mask_t> active{};       //!< [K, N] nonzero = token in component k's batch; empty = all active
  //! The same token → response map as the advantage input's; also read by batch-level parts
  //! (GSPO/GMPO's per-response ratios). Empty: the whole batch is one sequence.
  vector_view<const std::int32_t> seq{};    //!< [N] response index of each token (needed by seq-mean aggregations)
  //! Every seq[t] must lie in [0, num_sequences) (`range_error`). It only sizes the per-response
  //! counts: the aggregation's B counts the responses that have active tokens, so 0 and the
  //! rollout's B give the same weights.
  index_t num_sequences = 0;              //!< range of seq ids; 0 = max(seq) + 1
  //! log π_old at the loss temperature (from `log_prob_entropy` on the rollout policy); must be
  //! finite on active tokens. Empty: ρ = 1 and the clipped surrogates reduce to REINFORCE.
  vector_view<const T> old_logp{};          //!< [N] rollout log π; empty = on-policy (ρ = 1)
  //! log π_ref of the frozen reference policy; when given (even without a KL term) it also feeds
  //! `loss_diagnostics::ref_kl`.
  vector_view<const T> ref_logp{};          //!< [N] reference log π; required iff the objective has a KL term
  //! The inference engine's own log-probs for the sampled tokens, which may differ from
  //! `old_logp` (recomputed by the trainer); rollout-correction gates use the ratio of the two.
  vector_view<const T> rollout_logp{};      //!< [N] the rollout engine's log π; required iff a gate reads it (tis, …)
  //! [N, V] the reference policy's logits rows (same extents as `logits`, in the same memory
  //! space, never overlapping the gradient); required iff the objective has `kl_full` (the exact
  //! full-vocabulary KL), read at the same temperature τ.
  matrix_view<const T, Space> ref_logits{};
};

//! Tokens [first, first + count) of a batch (the logits rows, targets and columns of [K, N]).
//! O(1): every field of the result is a view into `b` (no copy), with the same row strides, so
//! the [K, N] advantages and active flags keep their rollout-wide stride. Empty fields stay
//! empty. `seq` values are not renumbered and `num_sequences` is kept, so response ids stay
//! those of the rollout batch. Raises `range_error` unless 0 ≤ first, 0 ≤ count and
//! first + count ≤ N (N = the length of `targets`).
//!
//!   for (index_t t0 = 0; t0 < n; t0 += mb) {
//!     const index_t c = std::min(mb, n - t0);
//!     rlvr::loss_and_grad(be, obj, rlvr::slice(all, t0, c), grad.block_rows(t0, c), opts);
//!   }
template <class T, class Space>
loss_token_batch<T, Space> slice(const loss_token_batch<T, Space>& b, index_t first, index_t count) {
  const index_t n = b.targets.size();
  RLVR_EXPECTS(first >= 0 && count >= 0 && first + count <= n, range, "slice: tokens [", first, ", ",
               first + count, ") are outside [0, ", n, ")");
  // A per-token vector: elements [first, first + count).
  auto vec = [&](auto v) { return v.empty() ? v : decltype(v)(v.data() + first, count); };
  // A [K, N] matrix: the same K rows, columns [first, first + count), the original row stride.
  auto cols = [&](auto m) {
    return m.rows() == 0 ? m : decltype(m)(m.data() + first, m.rows(), count, m.row_stride());
  };
  // Pointer arithmetic only: valid for device views too (nothing is dereferenced).
  loss_token_batch<T, Space> s = b;
  s.logits = b.logits.block_rows(first, count);
  s.targets = vec(b.targets);
  s.advantages = cols(b.advantages);
  s.active = cols(b.active);
  s.seq = vec(b.seq);
  s.old_logp = vec(b.old_logp);
  s.ref_logp = vec(b.ref_logp);
  s.rollout_logp = vec(b.rollout_logp);
  // The reference rows follow the logits rows when there are any.
  if (b.ref_logits.rows() != 0) s.ref_logits = b.ref_logits.block_rows(first, count);
  return s;
}

//! Run-time options of `loss_and_grad`.
struct loss_options {
  //! The loss temperature: use the rollout's sampling temperature so that log π matches the
  //! distribution the responses were drawn from (spec §9: 1.0 in the paper's training). Checked
  //! by `detail::check_temperature` (`config_error`).
  double temperature = 1.0;                      //!< τ: log π is computed from z/τ (> 0)
  //! Global denominators for split batches (see the file comment); all zero = local counts.
  //! Negative or non-finite counts raise `config_error`.
  aggregation_options aggregation{};             //!< global token / sequence counts
  //! The rollout batch's `advantage_result::report`: its zero-std fraction and dropped count are
  //! copied into `loss_diagnostics` (borrowed for the call only).
  const advantage_report* advantages = nullptr;  //!< copied into the diagnostics when given
};

//! Optional per-token outputs of `loss_and_grad` (each empty or of length N; host memory).
//! Tokens that are active in no component get 0 in all three. Asking for them costs nothing
//! extra: the pass computes them anyway (the entry point otherwise writes them to scratch).
//!
//!   std::vector<float> lp(n), h(n);
//!   rlvr::loss_and_grad(be, obj, mb, grad, opts, {.logp = lp, .entropy = h});
template <class T> struct token_outputs {
  //! log π_t and H_t at the loss temperature, as computed in the pass (before the update).
  vector_view<T> logp{};    //!< log π_t
  vector_view<T> entropy{}; //!< H_t
  //! Each token's weighted share of L: summing it over tokens (in double) gives `loss_diagnostics::loss`.
  vector_view<T> loss{};    //!< Σ_k λ_k w_kt ℓ_kt (sums to the loss)
};

//! What `loss_and_grad` reports. Fractions and means are over the active tokens.
//! Every sum is taken in double, in token order, after the parallel pass: the numbers are the
//! same for any thread count. With no active token all means and fractions stay at their
//! defaults (0, and 1 for `mean_gate`). The clip fractions count the `token_flag` bits of the
//! terms (objectives/concepts.hpp); a weighted sum ORs the components' flags per token.
struct loss_diagnostics {
  //! The objective value of this call (of this micro-batch's share, with global denominators).
  double loss = 0;            //!< L
  //! Fractions of active tokens whose loss took a clipped branch (no gradient through ρ there).
  //! Near 0 on the first mini-batch of a rollout batch; a large value means the policy moved
  //! far within one batch (lower the learning rate or the updates per batch).
  double clip_frac_low = 0;   //!< PPO: ρ < 1 − ε_low with the clipped branch taken
  //! High: A > 0 tokens whose ratio passed 1 + ε_high (the update wanted to go further).
  double clip_frac_high = 0;  //!< PPO: ρ > 1 + ε_high with the clipped branch taken
  //! Dual: A < 0 tokens whose ratio passed c, their loss capped at −c·A.
  double clip_frac_dual = 0;  //!< dual clip taken
  //! Tokens where `kl_k3` / `kl_k3_plus` hit a clamp (value capped, gradient 0).
  double kl_clamp_frac = 0;   //!< k3 clamp hit
  //! How far the policy has moved since the rollout: the k1 estimate of KL(π_old‖π) on the
  //! rollout's tokens; grows over the mini-batches and epochs of one rollout batch. A sample
  //! mean of k1, so it may be slightly negative.
  double approx_kl = 0;       //!< mean(log π_old − log π) (verl's ppo_kl; 0 on-policy)
  //! Distance to the reference policy, k3 = e^Δ − Δ − 1 with Δ = log π_ref − log π clamped to
  //! [−20, 20], reported whether or not the objective penalises it.
  double ref_kl = 0;          //!< mean k3(log π_ref − log π) when reference log-probs are given
  //! Entropy of the policy at the loss temperature, in nats: the collapse diagnostic of the
  //! paper (PSR lowers it, NSR keeps it near the base model; spec §9).
  double mean_entropy = 0;    //!< mean H_t
  //! Mean log-likelihood of the sampled tokens (≤ 0; rises as the policy sharpens).
  double mean_logp = 0;       //!< mean log π_t
  //! Rows active in at least one component (the others got a zero gradient row unread).
  index_t active_tokens = 0;  //!< rows that entered the pass
  //! All rows of the call, active or not.
  index_t rows = 0;           //!< N
  //! Copied from `loss_options::advantages` (0 without it): groups with no reward spread, which
  //! give no GRPO signal, and responses the estimator removed.
  double zero_std_fraction = 0; //!< from the advantage report, when given
  index_t dropped = 0;        //!< responses dropped by the estimator, when given
  //! Token gates only (`detail::gate_diagnostics`); 1 and 0 for objectives without gates.
  double mean_gate = 1;       //!< token gates (TIS, masks, entropy selection): mean gate over the active tokens
  double gated_out_frac = 0;  //!< token gates: fraction of active tokens whose gate is 0
  //! Averaged in double over the rows' exact KLs; compare with `ref_kl`, its sampled k3 estimate.
  double full_kl = 0;         //!< `kl_full`: mean exact KL(π‖π_ref) over the active tokens (0 without it)
};

namespace detail {

// Flag bits the epilogue sets for a row it could not use, above the `token_flag` bits of the
// terms (1…8): row_bad = the policy row is unusable (NaN/+inf, all −inf, or the target at −inf),
// row_bad_ref = its exact KL to the reference is not finite. `summarize_loss` raises for the
// first such active row after the pass, so the kernels themselves never throw.
enum : std::uint8_t { row_bad = 0x80, row_bad_ref = 0x40 };

//! The objective's epilogue for `fused_rows` (trivially copyable, RLVR_HD).
//! A `RowEpilogue` (backends/concepts.hpp): the backend reads a row, hands its statistics to
//! `operator()`, and writes the gradient row from the two (three with `kl_full`) coefficients
//! returned. All pointers are in the backend's memory space (host arrays for host backends,
//! staged copies for a device); it owns nothing, so copying it into a kernel is free.
template <class T, class O> struct loss_epilogue {
  // The objective by value: a kernel cannot follow a host pointer (objectives are trivially copyable).
  O obj;
  //! [K, N] advantages and weights, component c of token i at c·stride + i.
  const T* adv;
  const T* w;
  index_t stride_adv;
  index_t stride_w;
  //! K, the objective's components.
  index_t k;
  // Per-token inputs, null when the batch has none (old: on-policy; ref: no KL term).
  const T* old_logp; // nullable
  const T* ref_logp; // nullable
  // Per-token outputs, length N, in the backend's space; inactive rows are not written here.
  T* logp_out;
  T* entropy_out;
  T* loss_out;
  std::uint8_t* flags_out;
  const T* stat = nullptr; // nullable: token_input::stat per token (batch-level surrogates)
  const T* gate = nullptr; // nullable: token_input::gate per token (token gates)
  T* kl_out = nullptr;     // nullable: the row's exact KL(π‖π_ref) (objectives with kl_full)

  //! A row is visited iff some component weighs it; the backend zeroes the others' gradient rows.
  RLVR_HD bool active(index_t i) const {
    for (index_t c = 0; c < k; ++c)
      if (w[c * stride_w + i] != T(0)) return true;
    return false;
  }
  //! Stores log π, H (and the KL) of row i, evaluates the objective's weighted token terms and
  //! returns ∂L/∂log π, ∂L/∂H (and ∂L/∂KL) for the backend's gradient write. A row whose
  //! statistics are not finite gets a flag and zero coefficients, and the entry point raises
  //! after the pass (the gradient is then unspecified).
  RLVR_HD row_coeffs<T> operator()(index_t i, const row_stats<T>& s) const {
    logp_out[i] = s.logp;
    entropy_out[i] = s.entropy;
    // lse is NaN for a NaN/+inf row; log π is −inf for an all −inf row or a −inf target.
    if (!(s.lse == s.lse) || !is_finite(s.logp)) {
      loss_out[i] = T(0);
      flags_out[i] = row_bad;
      return {T(0), T(0)};
    }
    if (kl_out) kl_out[i] = s.kl;
    if (!is_finite(s.kl)) { // kl_full with a reference row that is NaN/+inf or 0 under the policy's mass
      loss_out[i] = T(0);
      flags_out[i] = row_bad_ref;
      return {T(0), T(0)};
    }
    // On-policy (no old_logp): old = current log π, ρ = 1. adv is filled per component by obj.token.
    token_input<T> in{s.logp, old_logp ? old_logp[i] : s.logp, ref_logp ? ref_logp[i] : T(0), T(0), s.entropy};
    if (stat) in.stat = stat[i];
    if (gate) in.gate = gate[i];
    // 0 unless the backend computed the exact KL (kl_full).
    in.kl = s.kl;
    token_terms<T> r;
    // obj.token reads component c at c·stride: possible in place when both matrices share the
    // stride, else the K values are gathered into contiguous arrays (stride 1).
    if (O::components == 1 || stride_adv == stride_w) {
      r = obj.token(adv + i, w + i, stride_w, in);
    } else { // gather the K advantages and weights (different strides)
      // K is a compile-time constant: the arrays live on the stack, in a kernel too.
      T a[O::components], ww[O::components];
      for (index_t c = 0; c < O::components; ++c) {
        a[c] = adv[c * stride_adv + i];
        ww[c] = w[c * stride_w + i];
      }
      r = obj.token(a, ww, 1, in);
    }
    // The backend turns these coefficients into the gradient row (spec §6).
    loss_out[i] = r.loss;
    flags_out[i] = r.flags;
    return {r.dlogp, r.dentropy, r.dkl};
  }
};

// The epilogue fits the backends' concept for a plain and for a weighted-sum objective.
static_assert(RowEpilogue<loss_epilogue<float, grpo_objective>, float>);
static_assert(RowEpilogue<loss_epilogue<double, weighted_sum<psr_objective, nsr_objective>>, double>);

//! Raises `numerical_error` naming `what[i]` for the first non-finite element of v.
template <class T> void check_finite_vec(vector_view<const T> v, const char* what) {
  for (index_t i = 0; i < v.size(); ++i)
    RLVR_EXPECTS(std::isfinite(static_cast<double>(v[i])), numerical, what, "[", i, "] = ", v[i], " is not finite");
}

//! τ must be finite and > 0, and representable in the logit type T with a finite reciprocal (every
//! backend scales logits by 1/τ in T or in double): float needs τ ≥ 1/FLT_MAX ≈ 2.94e-39 and
//! τ ≤ FLT_MAX. One rule for every backend, checked before any runs.
//! Example: τ = 1e-40 is a valid double and a (subnormal) float, but 1/τ overflows float, so
//! float logits reject it.
template <class T = double> void check_temperature(double tau) {
  RLVR_EXPECTS(tau > 0.0 && std::isfinite(tau), config, "temperature = ", tau, " must be finite and > 0");
  // τ in double can be fine and still round to 0 or ∞ in T, or have a reciprocal that
  // overflows T: test τ and 1/τ after the conversion, computed both in T and in double.
  const T t = static_cast<T>(tau);
  const bool ok = t > T(0) && std::isfinite(static_cast<double>(t)) && std::isfinite(static_cast<double>(T(1) / t)) &&
                  std::isfinite(static_cast<double>(static_cast<T>(1.0 / static_cast<double>(t))));
  RLVR_EXPECTS(ok, config, "temperature = ", tau, " is outside the range of ",
               std::is_same_v<T, float> ? "float" : std::is_same_v<T, double> ? "double" : "the logit type",
               " logits: τ and 1/τ must both be finite and > 0 in that type (τ ≥ about ",
               1.0 / static_cast<double>(std::numeric_limits<T>::max()), ")");
}

// Reads the targets (host) and the extents of z; never dereferences z (it may be device memory).
// shape_error for empty columns, a row stride below V, null data with rows, or a targets length
// other than N; range_error for a target outside [0, V).
template <class T, class S>
void check_logits_targets(matrix_view<const T, S> z, vector_view<const token_t> y, const char* who) {
  RLVR_EXPECTS(z.rows() >= 0 && z.cols() >= 1, shape, who, ": logits are ", z.rows(), "x", z.cols(),
               " (need at least one column)");
  RLVR_EXPECTS(z.row_stride() >= z.cols(), shape, who, ": logits row_stride = ", z.row_stride(),
               " is smaller than cols = ", z.cols());
  RLVR_EXPECTS(z.data() != nullptr || z.rows() == 0, shape, who, ": null logits");
  RLVR_EXPECTS(y.size() == z.rows(), shape, who, ": targets has length ", y.size(), " but logits have ", z.rows(),
               " rows");
  for (index_t i = 0; i < y.size(); ++i)
    RLVR_EXPECTS(y[i] >= 0 && y[i] < z.cols(), range, who, ": targets[", i, "] = ", y[i], " is outside [0, ",
                 z.cols(), ")");
}

// Extents and addresses only (never dereferences: z and g may be device memory).
// The gradient may be the logits exactly (same pointer and row stride: each row is read
// completely before it is written) or disjoint from them; a partial overlap would let one row's
// gradient overwrite logits another row has not read yet, so it is a shape_error.
template <class T, class U, class S>
void check_grad_alias(matrix_view<const T, S> z, matrix_view<U, S> g, const char* who) {
  RLVR_EXPECTS(g.rows() == z.rows() && g.cols() == z.cols(), shape, who, ": grad is ", g.rows(), "x", g.cols(),
               " but logits are ", z.rows(), "x", z.cols());
  RLVR_EXPECTS(g.row_stride() >= g.cols(), shape, who, ": grad row_stride = ", g.row_stride(), " is smaller than cols");
  RLVR_EXPECTS(g.data() != nullptr || g.rows() == 0, shape, who, ": null grad");
  if (z.rows() == 0) return;
  // Byte ranges [begin, end) spanned by each matrix (strided rows included), compared as chars.
  const auto* zb = reinterpret_cast<const char*>(z.data());
  const auto* ze = reinterpret_cast<const char*>(z.data() + (z.rows() - 1) * z.row_stride() + z.cols());
  const auto* gb = reinterpret_cast<const char*>(g.data());
  const auto* ge = reinterpret_cast<const char*>(g.data() + (g.rows() - 1) * g.row_stride() + g.cols());
  // In place means the identical layout; anything else must be disjoint.
  const bool same = static_cast<const void*>(g.data()) == static_cast<const void*>(z.data()) &&
                    g.row_stride() == z.row_stride();
  RLVR_EXPECTS(same || ge <= zb || ze <= gb, shape, who,
               ": grad overlaps logits without being in place (same pointer and row stride)");
}

// Extents and addresses only: `r` (read) must not overlap `g` (written). Unlike the logits,
// the reference may not even be "in place": the write pass reads a reference row again while
// it writes the gradient row.
template <class T, class U, class S>
void check_no_overlap(matrix_view<const T, S> r, matrix_view<U, S> g, const char* who) {
  if (r.rows() == 0 || g.rows() == 0) return;
  const auto* rb = reinterpret_cast<const char*>(r.data());
  const auto* re = reinterpret_cast<const char*>(r.data() + (r.rows() - 1) * r.row_stride() + r.cols());
  const auto* gb = reinterpret_cast<const char*>(g.data());
  const auto* ge = reinterpret_cast<const char*>(g.data() + (g.rows() - 1) * g.row_stride() + g.cols());
  RLVR_EXPECTS(ge <= rb || re <= gb, shape, who, ": ref_logits overlap grad (the gradient would overwrite the "
               "reference while it is read)");
}

//! Raises the `numerical_error` for bad row i with the most specific message: the reference row
//! (logp == nullptr, a `row_bad_ref` row), the target at −inf (the sampled token has probability
//! 0 under these logits, e.g. a sampler that masked differently), or a NaN/+inf or all −inf
//! policy row.
template <class T> [[noreturn]] void fail_row(index_t i, vector_view<const token_t> y, const T* logp, const char* who) {
  if (logp == nullptr)
    fail<numerical_error>(who, ": ref_logits row ", i, " gives KL(pi || pi_ref) = inf or NaN: it contains NaN or +inf, ",
                          "or is -inf (probability 0) where the policy's row ", i, " has probability mass");
  if (logp[i] == -std::numeric_limits<T>::infinity())
    fail<numerical_error>(who, ": targets[", i, "] = ", y[i], " has logit -inf (probability 0) in row ", i);
  fail<numerical_error>(who, ": logits row ", i, " contains NaN or +inf, or every entry is -inf");
}

} // namespace detail

//! Owned advantages of a rollout batch for a K-component objective ([K, N], row k = component k).
//! Returned by `estimate_advantages`; keep it alive while mini-batches use its views (the
//! `advantages()` / `active()` views point into its vectors). T is the advantage input's type.
//! Row-major, row stride N, so a
//! `slice` of a batch built on it selects columns.
template <class T> struct advantage_result {
  //! K (rows).
  index_t components = 0;
  //! N (columns), the rollout batch's tokens.
  index_t tokens = 0;
  // Public storage: a caller may post-process the advantages (clip, rescale) before the loss;
  // the views below see the change.
  std::vector<T> adv;                //!< [K·N]
  std::vector<mask_t> act;           //!< [K·N]
  //! PPO's value-head targets for `value_loss`.
  std::vector<T> returns;            //!< [N] (GAE's value targets; zeros otherwise)
  //! The estimators' report (merged over components); pass its address as
  //! `loss_options::advantages` to see it in the diagnostics.
  advantage_report report;

  //! [K, N] view of `adv` for `loss_token_batch::advantages`.
  [[nodiscard]] matrix_view<const T> advantages() const { return {adv.data(), components, tokens}; }
  //! [K, N] view of `act` for `loss_token_batch::active`.
  [[nodiscard]] matrix_view<const mask_t> active() const { return {act.data(), components, tokens}; }
  //! Active tokens of each component over the whole rollout batch: the per-component token-mean
  //! denominators to pass as `aggregation_options::component_tokens` when the batch is split.
  //! For a plain objective element 0 is the `global_tokens` to pass. O(K·N). Over several
  //! ranks, sum the vectors over ranks first (the denominator is the global one).
  //!
  //!   const auto counts = adv.global_counts();
  //!   rlvr::loss_options opts{.aggregation = {.component_tokens = counts.data()}};
  [[nodiscard]] std::vector<double> global_counts() const {
    // Counted in double, the type of the aggregation options (exact up to 2^53 tokens).
    std::vector<double> c(static_cast<std::size_t>(components), 0.0);
    for (index_t k = 0; k < components; ++k)
      for (index_t t = 0; t < tokens; ++t) c[static_cast<std::size_t>(k)] += act[static_cast<std::size_t>(k * tokens + t)] ? 1.0 : 0.0;
    return c;
  }
  //! Sequences with at least one active token, per component (for `component_sequences`);
  //! `seq` is the rollout batch's token → response map. O(K·N log N) (a sort per component);
  //! tokens beyond `seq`'s length are ignored.
  [[nodiscard]] std::vector<double> global_sequences(vector_view<const std::int32_t> seq) const {
    std::vector<double> c(static_cast<std::size_t>(components), 0.0);
    for (index_t k = 0; k < components; ++k) {
      std::vector<std::int32_t> ids;
      for (index_t t = 0; t < tokens && t < seq.size(); ++t)
        if (act[static_cast<std::size_t>(k * tokens + t)]) ids.push_back(seq[t]);
      // The number of distinct responses among the active tokens.
      std::sort(ids.begin(), ids.end());
      c[static_cast<std::size_t>(k)] = static_cast<double>(std::unique(ids.begin(), ids.end()) - ids.begin());
    }
    return c;
  }
};

//! Runs the objective's estimator(s) over a rollout batch (see `rlvr/objectives/advantages.hpp`).
//! Throws if the mask selects no token.
//!
//! Validates the objective (`config_error`), checks the mask length (`shape_error`), that a
//! non-empty mask selects at least one token (`range_error`: an empty selection would make every
//! denominator 0), and that an objective that needs values (GAE) got N of them (`shape_error`);
//! the estimators then check the rest (advantages.hpp). Allocates K·N advantages, K·N flags and
//! N returns (zeros unless the objective produces them). Host only, single-threaded,
//! deterministic. Call it once per rollout batch, before any mini-batch, since group statistics
//! need the whole batch.
//!
//!   auto adv = rlvr::estimate_advantages(rlvr::grpo(), rlvr::advantage_input<float>{
//!       .rewards = rewards, .group_ids = prompt_ids, .seq = seq, .mask = mask});
//!   // adv.advantages(), adv.active(): [1, N]; adv.report.zero_std_groups, …
template <Objective O, class T>
advantage_result<T> estimate_advantages(const O& obj, const advantage_input<T>& in) {
  obj.validate();
  const index_t n = in.seq.size();
  if (!in.mask.empty()) {
    RLVR_EXPECTS(in.mask.size() == n, shape, "estimate_advantages: mask has length ", in.mask.size(),
                 " but seq has ", n);
    bool any = false;
    for (index_t t = 0; t < n && !any; ++t) any = in.mask[t] != 0;
    RLVR_EXPECTS(any || n == 0, range, "estimate_advantages: the mask selects no token (all ", n, " entries are 0)");
  }
  RLVR_EXPECTS(!O::needs_values || in.values.size() == n, shape, "estimate_advantages: the objective needs values of ",
               "length ", n, " (got ", in.values.size(), ")");
  advantage_result<T> r;
  r.components = O::components;
  r.tokens = n;
  // Zero-initialised; the estimators write every element anyway (inactive tokens get 0).
  r.adv.assign(static_cast<std::size_t>(O::components * n), T(0));
  r.act.assign(static_cast<std::size_t>(O::components * n), 0);
  r.returns.assign(static_cast<std::size_t>(n), T(0));
  // Estimators that do not produce returns get an empty view (and write nothing there).
  r.report = obj.estimate(in, matrix_view<T>(r.adv.data(), O::components, n),
                          matrix_view<std::uint8_t>(r.act.data(), O::components, n),
                          O::needs_values ? vector_view<T>(r.returns) : vector_view<T>{});
  return r;
}

//! Forward only: log π of each target and the entropy of each row, at temperature τ, on any
//! backend (`LogProbBackend`). One read pass per row; nothing else is kept (no activations, no
//! gradient buffer): the path for old and reference log-probs.
//!
//! `logits` live in the backend's memory space (a host view for a host backend, a `cuda_space`
//! view for `rlvr::cuda_backend`); `targets`, `logp` and `entropy` are host memory whatever the
//! backend (O(N) bytes staged through `SpaceMemory` for a device backend). `entropy` may be empty.
//! Throws `rlvr::numerical_error` naming the first row whose log π is not finite.
//!
//! log π_t = x_{t,y_t} − logsumexp(x_t) and H_t = −Σ_v p_tv log p_tv with x = z/τ, the formulas
//! of the fused pass, so log-probs taken here as `old_logp` give ρ ≈ 1 on the first update
//! (use the same τ). Other errors: `config_error` for τ,
//! `shape_error` / `range_error` for logits, targets and output lengths (as `loss_and_grad`).
//! Unlike `loss_and_grad` every row is computed (there is no active set). Deterministic for any
//! thread count.
//!
//!   std::vector<float> old_logp(n);
//!   rlvr::log_prob_entropy(rlvr::eigen_backend{.threads = 2}, logits, tokens,
//!                          rlvr::vector_view<float>(old_logp), {}, /*temperature=*/1.0);
template <class B, class T, class S>
void log_prob_entropy(const B& backend, matrix_view<const T, S> logits, vector_view<const token_t> targets,
                      vector_view<T> logp, vector_view<T> entropy, double temperature = 1.0) {
  static_assert(std::is_same_v<S, memory_space_t<B>>,
                "rlvr::log_prob_entropy: the logits view and the backend live in different memory spaces (for "
                "example a host matrix_view<T> given to rlvr::cuda_backend): pass a view of the backend's "
                "memory_space (matrix_view<const T, rlvr::memory_space_t<B>>)");
  static_assert(LogProbBackend<B, T>, "rlvr::log_prob_entropy: the backend does not model rlvr::LogProbBackend for "
                                      "this logit type; include <rlvr/backends/serial.hpp> or <rlvr/backends/eigen.hpp> "
                                      "and pass rlvr::serial_backend{} or rlvr::eigen_backend{}");
  // All checks before the pass: τ, logits and targets, output lengths.
  detail::check_temperature<T>(temperature);
  detail::check_logits_targets(logits, targets, "log_prob_entropy");
  // logp is required (length N); entropy is optional.
  expect_size(logp, logits.rows(), "log_prob_entropy: logp");
  RLVR_EXPECTS(entropy.empty() || entropy.size() == logits.rows(), shape, "log_prob_entropy: entropy has length ",
               entropy.size(), " but logits have ", logits.rows(), " rows");
  if constexpr (host_accessible_v<S>) {
    backend.logp_entropy(logits, targets, static_cast<T>(temperature), logp, entropy);
  } else {
    // device: targets up, log π (and H) down; the logits stay where they are
    static_assert(SpaceMemory<B>, "rlvr::log_prob_entropy: a backend of a non-host memory space must model "
                                  "rlvr::SpaceMemory");
    const index_t n = logits.rows();
    const detail::space_buffer<B, token_t> y(backend, targets.data(), n);
    const detail::space_buffer<B, T> lp(backend, n), ent(backend, entropy.empty() ? 0 : n);
    backend.logp_entropy(logits, vector_view<const token_t, S>(y.view()), static_cast<T>(temperature), lp.view(),
                         ent.view());
    lp.download(logp.data());
    if (!entropy.empty()) ent.download(entropy.data());
  }
  // Checked after the pass, on the host copy: the kernels never throw.
  for (index_t i = 0; i < logp.size(); ++i)
    if (!std::isfinite(static_cast<double>(logp[i])))
      detail::fail_row(i, targets, logp.data(), "log_prob_entropy");
}

namespace detail {

//! The part of `loss_and_grad` that does not touch the logits, shared by every entry point
//! (host and device): validates the objective, the options and every per-token input of `batch`
//! for `n` tokens, with messages naming `who`, and returns the aggregation weights w [K, N]
//! (w_kt = 0: token t is not in component k's batch).
//! Errors, in order: the objective's `config_error`s; τ; negative or non-finite global counts
//! (`config_error`); [K, N] shapes of advantages / active, and the lengths of seq, old_logp,
//! ref_logp (required with a KL term), ref_logits (with `kl_full`), rollout_logp (with a gate
//! that reads it) and the outputs (`shape_error`); missing seq for a seq-mean aggregation
//! (`shape_error`); seq ids out of range (`range_error`); a non-finite advantage, old, ref or
//! rollout log-prob on an active token (`numerical_error`). O(K·N) time and memory.
template <Objective O, class T, class S>
std::vector<T> prepare_loss(const O& obj, const loss_token_batch<T, S>& batch, index_t n, const loss_options& opt,
                            const token_outputs<T>& out, const char* who) {
  constexpr index_t k = O::components;
  // Configuration first (objective numbers, τ, global counts), then shapes, then values.
  obj.validate();
  detail::check_temperature<T>(opt.temperature);
  RLVR_EXPECTS(opt.aggregation.global_tokens >= 0 && std::isfinite(opt.aggregation.global_tokens), config, who,
               ": global_tokens = ", opt.aggregation.global_tokens, " must be finite and >= 0");
  RLVR_EXPECTS(opt.aggregation.global_sequences >= 0 && std::isfinite(opt.aggregation.global_sequences), config, who,
               ": global_sequences = ", opt.aggregation.global_sequences, " must be finite and >= 0");
  // The per-component arrays are read for exactly K entries (the caller owns their length).
  for (index_t c = 0; c < k; ++c) {
    if (opt.aggregation.component_tokens)
      RLVR_EXPECTS(opt.aggregation.component_tokens[c] >= 0 && std::isfinite(opt.aggregation.component_tokens[c]), config,
                   who, ": component_tokens[", c, "] = ", opt.aggregation.component_tokens[c], " must be finite and >= 0");
    if (opt.aggregation.component_sequences)
      RLVR_EXPECTS(opt.aggregation.component_sequences[c] >= 0 && std::isfinite(opt.aggregation.component_sequences[c]),
                   config, who, ": component_sequences[", c, "] = ", opt.aggregation.component_sequences[c],
                   " must be finite and >= 0");
  }
  // Shapes of the per-token inputs (N = the logits' rows).
  RLVR_EXPECTS(batch.advantages.rows() == k && batch.advantages.cols() == n, shape, who, ": advantages are ",
               batch.advantages.rows(), "x", batch.advantages.cols(), " but the objective has ", k,
               " component(s) and there are ", n, " tokens (need ", k, "x", n, ")");
  RLVR_EXPECTS(batch.active.rows() == 0 || (batch.active.rows() == k && batch.active.cols() == n), shape, who,
               ": active is ", batch.active.rows(), "x", batch.active.cols(), " (need ", k, "x", n, " or empty)");
  RLVR_EXPECTS(batch.seq.empty() || batch.seq.size() == n, shape, who, ": seq has length ", batch.seq.size(),
               " but there are ", n, " tokens");
  RLVR_EXPECTS(batch.old_logp.empty() || batch.old_logp.size() == n, shape, who, ": old_logp has length ",
               batch.old_logp.size(), " but there are ", n, " tokens");
  RLVR_EXPECTS(!O::uses_ref_logp || batch.ref_logp.size() == n, shape, who, ": the objective has a KL term and needs ",
               "ref_logp of length ", n, " (got ", batch.ref_logp.size(), ")");
  RLVR_EXPECTS(batch.ref_logp.empty() || batch.ref_logp.size() == n, shape, who, ": ref_logp has length ",
               batch.ref_logp.size(), " but there are ", n, " tokens");
  // kl_full: the reference rows must have the logits' extents (their stride may differ).
  if constexpr (detail::uses_ref_logits<O>()) {
    const auto& r = batch.ref_logits;
    RLVR_EXPECTS(r.rows() == n && r.cols() == batch.logits.cols(), shape, who,
                 ": the objective has kl_full (the exact KL over the vocabulary) and needs ref_logits of ", n, "x",
                 batch.logits.cols(), " like the logits (got ", r.rows(), "x", r.cols(), ")");
    RLVR_EXPECTS(r.row_stride() >= r.cols(), shape, who, ": ref_logits row_stride = ", r.row_stride(),
                 " is smaller than cols = ", r.cols());
    RLVR_EXPECTS(r.data() != nullptr || n == 0, shape, who, ": null ref_logits");
  }
  RLVR_EXPECTS(!detail::uses_rollout_logp<O>() || batch.rollout_logp.size() == n, shape, who,
               ": the objective corrects for the rollout engine and needs rollout_logp of length ", n, " (got ",
               batch.rollout_logp.size(), ")");
  for (const auto* v : {&out.logp, &out.entropy, &out.loss})
    RLVR_EXPECTS(v->empty() || v->size() == n, shape, who, ": a per-token output has length ", v->size(),
                 " but there are ", n, " tokens");

  // active flags (all ones when not given), sequence ids; the *_own vectors hold the defaults
  // for the duration of this call only
  std::vector<std::uint8_t> act_own;
  matrix_view<const std::uint8_t> act = batch.active;
  // No active matrix: every token counts in every component.
  if (act.rows() == 0) {
    act_own.assign(static_cast<std::size_t>(k * n), 1);
    act = {act_own.data(), k, n};
  }
  index_t num_seq = batch.num_sequences;
  std::vector<std::int32_t> seq_own;
  vector_view<const std::int32_t> seq = batch.seq;
  RLVR_EXPECTS(!O::needs_seq || !seq.empty() || n == 0, shape, who,
               ": the objective aggregates per sequence and needs seq (length ", n, ")");
  if (seq.empty()) { // token-level aggregations do not look at sequences
    seq_own.assign(static_cast<std::size_t>(n), 0);
    seq = seq_own;
    num_seq = n > 0 ? 1 : 0;
  } else {
    RLVR_EXPECTS(num_seq >= 0, range, who, ": num_sequences = ", num_seq, " is negative");
    // num_sequences = 0: infer it (the range check below then only rejects negative ids).
    if (num_seq == 0)
      for (index_t t = 0; t < n; ++t) num_seq = std::max<index_t>(num_seq, static_cast<index_t>(seq[t]) + 1);
    for (index_t t = 0; t < n; ++t)
      RLVR_EXPECTS(seq[t] >= 0 && seq[t] < num_seq, range, who, ": seq[", t, "] = ", seq[t], " is outside [0, ",
                   num_seq, ")");
  }
  // numbers the epilogue will read must be finite on active tokens (inactive ones may hold
  // anything: padding, NaN placeholders), so a bad input is named here, not found as a NaN loss
  for (index_t c = 0; c < k; ++c)
    for (index_t t = 0; t < n; ++t)
      if (act(c, t)) {
        RLVR_EXPECTS(std::isfinite(static_cast<double>(batch.advantages(c, t))), numerical, who, ": advantages(", c,
                     ", ", t, ") = ", batch.advantages(c, t), " is not finite");
        if (!batch.old_logp.empty())
          RLVR_EXPECTS(std::isfinite(static_cast<double>(batch.old_logp[t])), numerical, who, ": old_logp[", t,
                       "] = ", batch.old_logp[t], " is not finite");
        if (O::uses_ref_logp)
          RLVR_EXPECTS(std::isfinite(static_cast<double>(batch.ref_logp[t])), numerical, who, ": ref_logp[", t,
                       "] = ", batch.ref_logp[t], " is not finite");
        if (detail::uses_rollout_logp<O>())
          RLVR_EXPECTS(std::isfinite(static_cast<double>(batch.rollout_logp[t])), numerical, who, ": rollout_logp[",
                       t, "] = ", batch.rollout_logp[t], " is not finite");
      }

  // w is contiguous [K, n] (row stride n), unlike the batch's advantages, whose stride is the
  // rollout batch's N: the epilogue handles both strides.
  std::vector<T> w(static_cast<std::size_t>(k * n));
  obj.weights(act, seq, num_seq, opt.aggregation, matrix_view<T>(w.data(), k, n));
  return w;
}

//! Runs the batch-level parts of a plain objective (`has_batch_context`: GSPO/GMPO's sequence
//! ratios, Clip-Cov/KL-Cov's covariance selections, the token gates; see
//! rlvr/objectives/batch_terms.hpp). From the per-token log π and H of a forward-only pre-pass
//! (`logp`, `entropy`, host memory, length n) and the batch, fills `stat` and `gate` (length n;
//! gate starts at 1). Shared by host and device entry points.
//! The context holds component 0's weights (batch-level parts are only allowed in plain
//! objectives, K = 1), the batch's old log-probs or the pre-pass's log π when the batch is
//! on-policy, and the batch's sequence ids (all one sequence when the batch has none). A row
//! whose pre-pass log π is not finite is left out of the statistics (the fused pass then
//! reports it). Cost: O(N) host memory and the parts' own work.
template <Objective O, class T, class S>
void prepare_batch_context(const O& obj, const loss_token_batch<T, S>& batch, const std::vector<T>& w, index_t n,
                           const T* logp, const T* entropy, std::vector<T>& stat, std::vector<T>& gate) {
  // gate starts at 1: each gate multiplies its factor in.
  stat.assign(static_cast<std::size_t>(n), T(0));
  gate.assign(static_cast<std::size_t>(n), T(1));
  // Component 0's weights, with bad rows zeroed so that one NaN row cannot spoil a sequence
  // ratio or a batch quantile; the fused pass will raise for it anyway.
  std::vector<T> wctx(w.begin(), w.begin() + n); // component 0 (plain objectives only)
  for (index_t t = 0; t < n; ++t)
    if (!std::isfinite(static_cast<double>(logp[t]))) wctx[static_cast<std::size_t>(t)] = T(0);
  std::vector<std::int32_t> seq_own;
  vector_view<const std::int32_t> seq = batch.seq;
  index_t num_seq = batch.num_sequences;
  // Same defaults as prepare_loss: no seq = one sequence, num_sequences = 0 = max(seq) + 1.
  if (seq.empty()) {
    seq_own.assign(static_cast<std::size_t>(n), 0);
    seq = seq_own;
    num_seq = n > 0 ? 1 : 0;
  } else if (num_seq == 0) {
    for (index_t t = 0; t < n; ++t) num_seq = std::max<index_t>(num_seq, static_cast<index_t>(seq[t]) + 1);
  }
  // The parts see the pre-pass's log π as the current policy, and row 0 of the advantages
  // (K = 1 here).
  const vector_view<const T> lp(logp, n);
  const batch_context<T> ctx{lp,
                             vector_view<const T>(entropy, n),
                             batch.old_logp.empty() ? lp : batch.old_logp,
                             batch.rollout_logp,
                             vector_view<const T>(batch.advantages.data(), n),
                             vector_view<const T>(wctx),
                             seq,
                             num_seq};
  obj.prepare_context(ctx, vector_view<T>(stat), vector_view<T>(gate));
}

//! The reduction at the end of every `loss_and_grad` (host and device): raises for the first
//! active row the pass marked bad, and turns the per-token log π, entropy, loss and flags (host
//! memory, length n) into `loss_diagnostics`, in a fixed order (deterministic).
//! `w` is the [K, n] weight matrix (stride n): a row counts as active if any component weighs
//! it. `ref_kl` needs `batch.ref_logp`, `approx_kl` `batch.old_logp`; each is 0 without.
template <class T, class S>
loss_diagnostics summarize_loss(const loss_token_batch<T, S>& batch, const T* w, index_t k, index_t n, const T* logp,
                                const T* ent, const T* tl, const std::uint8_t* flags, const loss_options& opt,
                                const char* who) {
  // The epilogue's active test, on the host weights.
  const auto active = [&](index_t i) {
    for (index_t c = 0; c < k; ++c)
      if (w[c * n + i] != T(0)) return true;
    return false;
  };
  loss_diagnostics d;
  d.rows = n;
  // Serial sums in double in token order: the result does not depend on how the pass was split.
  double n_act = 0, low = 0, high = 0, dual = 0, klc = 0, akl = 0, rkl = 0, ment = 0, mlogp = 0, loss = 0;
  for (index_t i = 0; i < n; ++i) {
    if (!active(i)) continue;
    // Only active rows can raise: a bad row that no component weighs was never visited.
    if (flags[i] & detail::row_bad) fail_row(i, batch.targets, logp, who);
    if (flags[i] & detail::row_bad_ref) fail_row<T>(i, batch.targets, nullptr, who);
    n_act += 1;
    const std::uint8_t f = flags[i];
    low += (f & clipped_low) ? 1 : 0;
    high += (f & clipped_high) ? 1 : 0;
    dual += (f & clipped_dual) ? 1 : 0;
    klc += (f & kl_clamped) ? 1 : 0;
    loss += static_cast<double>(tl[i]);
    ment += static_cast<double>(ent[i]);
    mlogp += static_cast<double>(logp[i]);
    // k1 of KL(π_old‖π) on the sampled token: log π_old − log π.
    if (!batch.old_logp.empty()) akl += static_cast<double>(batch.old_logp[i]) - static_cast<double>(logp[i]);
    // k3 with the same ±20 clamp on Δ as the kl_k3 term, but no clamp on the value.
    if (!batch.ref_logp.empty()) {
      const double delta = std::clamp(static_cast<double>(batch.ref_logp[i]) - static_cast<double>(logp[i]), -20.0, 20.0);
      rkl += std::exp(delta) - delta - 1.0;
    }
  }
  d.loss = loss;
  d.active_tokens = static_cast<index_t>(n_act);
  if (n_act > 0) {
    d.clip_frac_low = low / n_act;
    d.clip_frac_high = high / n_act;
    d.clip_frac_dual = dual / n_act;
    d.kl_clamp_frac = klc / n_act;
    d.approx_kl = akl / n_act;
    d.ref_kl = rkl / n_act;
    d.mean_entropy = ment / n_act;
    d.mean_logp = mlogp / n_act;
  }
  if (opt.advantages) {
    d.zero_std_fraction = opt.advantages->zero_std_fraction();
    d.dropped = opt.advantages->dropped;
  }
  return d;
}

//! The per-token host arrays of a loss entry point: log π, entropy and loss point into the
//! caller's `token_outputs` where given, else into owned zeroed buffers of length n; `flags` is
//! owned. Not copyable (the pointers may point into the object).
//! This way the pass always writes through plain pointers, whether or not the caller asked for
//! the outputs; the owned buffers cost O(N) host memory per call.
template <class T> struct token_arrays {
  // Scratch for the outputs the caller did not ask for (empty when it did).
  std::vector<T> own_logp, own_entropy, own_loss;
  // The pass's per-row flags: `token_flag` bits and row_bad / row_bad_ref.
  std::vector<std::uint8_t> flags;
  T* logp;
  T* entropy;
  T* loss;
  token_arrays(const token_outputs<T>& out, index_t n)
      : flags(static_cast<std::size_t>(n), 0), logp(pick(out.logp, own_logp, n)),
        entropy(pick(out.entropy, own_entropy, n)), loss(pick(out.loss, own_loss, n)) {}
  token_arrays(const token_arrays&) = delete;
  token_arrays& operator=(const token_arrays&) = delete;

private:
  // The caller's array if given (its length was checked against n), else zeroed scratch.
  static T* pick(vector_view<T> v, std::vector<T>& own, index_t n) {
    if (!v.empty()) return v.data();
    own.assign(static_cast<std::size_t>(n), T(0));
    return own.data();
  }
};

//! The objective's epilogue over host memory: the batch's advantages and old/ref log π, the
//! weights `w` [K, n], the per-token outputs (length n) and, when not empty, the batch-level
//! statistics and gates of `prepare_batch_context`.
//! The advantages keep the batch's row stride (a slice of a rollout-wide matrix), the weights
//! have stride n: the epilogue's two strides.
template <class T, class O, class S>
loss_epilogue<T, O> host_epilogue(const O& obj, const loss_token_batch<T, S>& batch, const std::vector<T>& w, index_t n,
                                  T* logp, T* ent, T* tl, std::uint8_t* flags, const std::vector<T>& stat,
                                  const std::vector<T>& gate) {
  loss_epilogue<T, O> ep{obj,
                         batch.advantages.data(),
                         w.data(),
                         batch.advantages.row_stride(),
                         n,
                         O::components,
                         batch.old_logp.empty() ? nullptr : batch.old_logp.data(),
                         batch.ref_logp.empty() ? nullptr : batch.ref_logp.data(),
                         logp,
                         ent,
                         tl,
                         flags};
  if (!stat.empty()) ep.stat = stat.data();
  if (!gate.empty()) ep.gate = gate.data();
  return ep;
}

//! The token gates' part of the diagnostics (after `summarize_loss`): their mean and the fraction
//! of active tokens they zero (TIS weights, masks, selection); nothing when `gate` is empty.
//! The mean includes the gated-out zeros, so `mean_gate` < 1 also when a mask removes tokens.
template <class T>
void gate_diagnostics(loss_diagnostics& d, const std::vector<T>& gate, const T* w, index_t k, index_t n) {
  // No gates (gate empty) or nothing active: keep the defaults 1 and 0.
  if (gate.empty() || d.active_tokens == 0) return;
  double sum = 0, zero = 0;
  for (index_t i = 0; i < n; ++i) {
    bool act = false;
    for (index_t c = 0; c < k && !act; ++c) act = w[c * n + i] != T(0);
    if (!act) continue;
    sum += static_cast<double>(gate[static_cast<std::size_t>(i)]);
    zero += gate[static_cast<std::size_t>(i)] == T(0) ? 1.0 : 0.0;
  }
  d.mean_gate = sum / static_cast<double>(d.active_tokens);
  d.gated_out_frac = zero / static_cast<double>(d.active_tokens);
}

} // namespace detail

//! The fused loss pass on any backend (`FusedLossBackend`): loss, dL/dlogits into `grad` (may
//! alias `batch.logits`: in place) and diagnostics.
//!
//! `batch.logits` and `grad` live in the backend's memory space (checked at compile time); the
//! per-token fields of `batch` and `out` are host memory. For a backend whose space is not
//! host-accessible (`rlvr::cuda_backend`), the entry point stages the per-token arrays through
//! `SpaceMemory` — O(K·N) bytes up (weights, advantages, targets, old/ref log π), O(N) down
//! (log π, entropy, per-token loss, flags) — and waits for the pass; the logits never cross.
//!
//! What it computes, for the weights w_kt of the objective's aggregation(s) (aggregation.hpp):
//!   L = Σ_k λ_k Σ_t w_kt ℓ_kt,   grad_tv = ∂L/∂z_tv = (1/τ)·[ c_t·(1[v = y_t] − p_tv)
//!                                                   − d_t·p_tv·(log p_tv + H_t) ]
//! with c_t = ∂L/∂log π_t and d_t = ∂L/∂H_t summed over the terms (spec §6; `kl_full` adds its
//! exact-KL term). `grad` is overwritten, not accumulated: every row is written, inactive rows
//! with zeros. To accumulate over micro-batches, give each micro-batch its own rows of `grad`
//! (rows follow tokens) with the global denominators in `opt.aggregation`.
//!
//! Steps: (1) validate the objective, options, shapes and per-token inputs and compute the
//! weights (`prepare_loss`); (2) for objectives with batch-level parts, a forward-only pass and
//! `prepare_batch_context`; (3) the fused pass (`fused_rows`, or `fused_rows_ref` with
//! `kl_full`); (4) the diagnostics, raising for the first bad active row. Every error of step 1
//! is raised before `grad` is touched.
//!
//!   std::vector<float> g(n * v);
//!   rlvr::matrix_view<float> grad(g.data(), n, v);
//!   auto d = rlvr::loss_and_grad(rlvr::serial_backend{}, rlvr::grpo(), batch, grad);
//!   // d.loss, d.clip_frac_high, d.mean_entropy, …
//!
//! Parameters: `backend` runs the pass (its memory space and thread count); `obj` is taken by
//! const reference and copied into the epilogue; `batch` the tokens (see `loss_token_batch`);
//! `grad` [N, V] in the logits' space, the same extents as `batch.logits`; `opt` τ, global
//! denominators and the advantage report; `out` the optional per-token outputs. Time
//! O(N·V) (about 6 instructions per logit element on the Eigen backend, docs/objectives.md),
//! plus the objective's batch-level work.
template <class B, Objective O, class T, class S>
loss_diagnostics loss_and_grad(const B& backend, const O& obj, const loss_token_batch<T, S>& batch,
                               matrix_view<T, S> grad, const loss_options& opt = {}, token_outputs<T> out = {}) {
  static_assert(std::is_same_v<S, memory_space_t<B>>,
                "rlvr::loss_and_grad: the logits view and the backend live in different memory spaces (for "
                "example a host matrix_view<T> given to rlvr::cuda_backend): pass loss_token_batch<T, "
                "rlvr::memory_space_t<B>> and a gradient view of that space");
  static_assert(FusedLossBackend<B, T>, "rlvr::loss_and_grad: the backend does not model rlvr::FusedLossBackend for "
                                        "this logit type; include <rlvr/backends/serial.hpp> or "
                                        "<rlvr/backends/eigen.hpp> and pass rlvr::serial_backend{} or rlvr::eigen_backend{}");
  // Compile-time rules first: a wrong backend or memory space is a type error, not a run-time one.
  constexpr bool full_kl = detail::uses_ref_logits<O>();
  static_assert(!full_kl || RefKLBackend<B, T>,
                "rlvr::loss_and_grad: rule 'kl_full needs a RefKLBackend': the objective has rlvr::kl_full (the exact "
                "KL to the reference over the whole vocabulary, computed in the fused pass from "
                "loss_token_batch::ref_logits) and the backend does not model rlvr::RefKLBackend "
                "(b.fused_rows_ref); serial_backend, eigen_backend and xtensor_backend do, cuda_backend does not "
                "yet: use a sampled estimator there (kl_k3, kl_k3_plus with ref_logp)");
  // Every message names the entry point.
  constexpr const char* who = "loss_and_grad";
  constexpr index_t k = O::components;
  const matrix_view<const T, S> z = batch.logits;
  detail::check_logits_targets(z, batch.targets, who);
  detail::check_grad_alias(z, grad, who);
  const index_t n = z.rows();
  // (1) validation and weights: every error that does not need the logits' values
  const std::vector<T> w = detail::prepare_loss(obj, batch, n, opt, out, who);
  // The fused pass reads the reference rows while writing grad: they must not share memory.
  if constexpr (full_kl) detail::check_no_overlap(batch.ref_logits, grad, who);

  // (2) per-token arrays, then the batch-level pre-pass for the objectives that need one
  detail::token_arrays<T> arrays(out, n);
  T* logp = arrays.logp;
  T* ent = arrays.entropy;
  T* tl = arrays.loss;
  std::vector<std::uint8_t>& flags = arrays.flags;
  std::vector<T> stat, gate;
  constexpr bool batch_parts = detail::has_batch_context<O>();
  if constexpr (batch_parts)
    static_assert(LogProbBackend<B, T>, "rlvr::loss_and_grad: this objective has sequence/batch-level parts "
                                        "(gspo, gmpo, clip_cov, kl_cov, token gates) and needs a forward-only pass: "
                                        "the backend must also model rlvr::LogProbBackend");
  if constexpr (batch_parts && host_accessible_v<S>) { // sequence/batch statistics need log π first
    backend.logp_entropy(z, batch.targets, static_cast<T>(opt.temperature), vector_view<T>(logp, n),
                         vector_view<T>(ent, n));
    detail::prepare_batch_context(obj, batch, w, n, logp, ent, stat, gate);
  } else if constexpr (batch_parts) { // the same pre-pass in the backend's space, statistics on the host
    const detail::space_buffer<B, token_t> y(backend, batch.targets.data(), n);
    const detail::space_buffer<B, T> lp(backend, n), en(backend, n);
    backend.logp_entropy(z, vector_view<const token_t, S>(y.view()), static_cast<T>(opt.temperature), lp.view(),
                         en.view());
    // The statistics are computed on the host from the downloaded log π and H.
    lp.download(logp);
    en.download(ent);
    detail::prepare_batch_context(obj, batch, w, n, logp, ent, stat, gate);
  }
  // rows not active are not visited by the epilogue: clear their per-token outputs
  const auto active = [&](index_t i) {
    for (index_t c = 0; c < k; ++c)
      if (w[static_cast<std::size_t>(c * n + i)] != T(0)) return true;
    return false;
  };
  for (index_t i = 0; i < n; ++i)
    if (!active(i)) logp[i] = ent[i] = tl[i] = T(0);

  // (3) the fused pass, in one of three forms: host with the exact KL, host, device (staged).
  std::vector<T> kl_rows;
  if constexpr (full_kl && host_accessible_v<S>) {
    // Each active row's exact KL, averaged into full_kl after the pass.
    kl_rows.assign(static_cast<std::size_t>(n), T(0));
    auto ep = detail::host_epilogue(obj, batch, w, n, logp, ent, tl, flags.data(), stat, gate);
    ep.kl_out = kl_rows.data();
    backend.fused_rows_ref(z, batch.ref_logits, batch.targets, static_cast<T>(opt.temperature), ep, grad);
  } else if constexpr (host_accessible_v<S>) {
    const auto ep = detail::host_epilogue(obj, batch, w, n, logp, ent, tl, flags.data(), stat, gate);
    backend.fused_rows(z, batch.targets, static_cast<T>(opt.temperature), ep, grad);
  } else {
    // Device path: stage the per-token arrays, run the pass, bring the per-token results back.
    static_assert(!full_kl, "rlvr::loss_and_grad: kl_full on a device backend is not implemented");
    static_assert(SpaceMemory<B>, "rlvr::loss_and_grad: a backend of a non-host memory space must model "
                                  "rlvr::SpaceMemory");
    // Pack the (possibly strided) [K, n] advantages contiguously so that one upload suffices;
    // on the device both matrices then have stride n.
    std::vector<T> adv(static_cast<std::size_t>(k * n));
    for (index_t c = 0; c < k; ++c)
      for (index_t t = 0; t < n; ++t) adv[static_cast<std::size_t>(c * n + t)] = batch.advantages(c, t);
    // Uploads: advantages, weights, old/ref log π (empty buffers for absent inputs), targets,
    // the zeroed outputs, flags, and the batch statistics and gates when there are any.
    const detail::space_buffer<B, T> d_adv(backend, adv.data(), k * n), d_w(backend, w.data(), k * n);
    const detail::space_buffer<B, T> d_old(backend, batch.old_logp.data(), batch.old_logp.size());
    const detail::space_buffer<B, T> d_ref(backend, batch.ref_logp.data(), batch.ref_logp.size());
    const detail::space_buffer<B, token_t> d_y(backend, batch.targets.data(), n);
    const detail::space_buffer<B, T> d_logp(backend, logp, n), d_ent(backend, ent, n), d_tl(backend, tl, n);
    const detail::space_buffer<B, std::uint8_t> d_flags(backend, flags.data(), n);
    const detail::space_buffer<B, T> d_stat(backend, stat.data(), stat.size()), d_gate(backend, gate.data(), gate.size());
    detail::loss_epilogue<T, O> ep{obj,
                                         d_adv.data(),
                                         d_w.data(),
                                         n,
                                         n,
                                         k,
                                         batch.old_logp.empty() ? nullptr : d_old.data(),
                                         batch.ref_logp.empty() ? nullptr : d_ref.data(),
                                         d_logp.data(),
                                         d_ent.data(),
                                         d_tl.data(),
                                         d_flags.data()};
    if (!stat.empty()) ep.stat = d_stat.data();
    if (!gate.empty()) ep.gate = d_gate.data();
    backend.fused_rows(z, vector_view<const token_t, S>(d_y.view()), static_cast<T>(opt.temperature), ep, grad);
    // Downloads wait for the pass: the per-token results are on the host before summarize_loss.
    d_logp.download(logp);
    d_ent.download(ent);
    d_tl.download(tl);
    d_flags.download(flags.data());
  }
  // (4) diagnostics (and the deferred numerical errors), then the gates' and the exact KL's parts.
  loss_diagnostics d = detail::summarize_loss(batch, w.data(), k, n, logp, ent, tl, flags.data(), opt, who);
  detail::gate_diagnostics(d, gate, w.data(), k, n);
  // full_kl: mean of the rows' exact KLs over the active tokens, in double and token order.
  if (!kl_rows.empty() && d.active_tokens > 0) {
    double sum = 0;
    for (index_t i = 0; i < n; ++i)
      if (active(i)) sum += static_cast<double>(kl_rows[static_cast<std::size_t>(i)]);
    d.full_kl = sum / static_cast<double>(d.active_tokens);
  }
  return d;
}

//! Result of `value_loss`. The value loss is separate from the policy loss: its gradient is with
//! respect to the value-head outputs, not the logits.
struct value_loss_result {
  double loss = 0;      //!< ½·Σ m max((V − R)², (V_clip − R)²) / D
  double clip_frac = 0; //!< fraction of active tokens where the clipped branch was taken
};

//! PPO's clipped value loss (verl's): with V_clip = clamp(V, V_old − c, V_old + c),
//!   L_V = ½ · Σ_t m_t max((V_t − R_t)², (V_clip,t − R_t)²) / D,   D = Σ m (or `global_tokens`),
//! and its gradient with respect to the value-head outputs V into `grad` (length N). R are
//! GAE's returns (`advantage_result::returns`). `clip` > 0 (use infinity for no clipping).
//!
//! `values`: V from the value head now; `old_values`: V at rollout (the values given to GAE);
//! `returns`: R; `mask`: nonzero = the token counts (empty: all); `clip`: c, in the reward's
//! units; `grad`: ∂L_V/∂V out (length N); `global_tokens`: D for a split batch (0 = local).
//!
//! Gradient per active token: (V − R)/D on the unclipped branch, and 0 where the clipped branch
//! is larger (there V is outside [V_old − c, V_old + c] and V_clip does not depend on V); masked
//! tokens get 0. The max makes the loss pessimistic, as PPO's policy clip: the value head is not
//! rewarded for jumping past the clip range. Sums in double, in token order (deterministic).
//! Errors: `shape_error` for lengths other than N (mask may be empty: all count), `config_error`
//! for clip ≤ 0 or NaN and for a negative or non-finite `global_tokens`, `numerical_error` for
//! a non-finite V, V_old or R on an active token (raised mid-loop: `grad` is then partly
//! written). No active token and no global count: loss 0, zero gradient.
//!
//!   auto vr = rlvr::value_loss<float>(values, old_values, adv.returns, mask, /*clip=*/0.2, dvalues);
template <class T>
value_loss_result value_loss(vector_view<const T> values, vector_view<const T> old_values, vector_view<const T> returns,
                             vector_view<const mask_t> mask, double clip, vector_view<T> grad,
                             double global_tokens = 0) {
  const index_t n = values.size();
  expect_size(old_values, n, "value_loss: old_values");
  expect_size(returns, n, "value_loss: returns");
  expect_size(grad, n, "value_loss: grad");
  RLVR_EXPECTS(mask.empty() || mask.size() == n, shape, "value_loss: mask has length ", mask.size(), " but values has ", n);
  RLVR_EXPECTS(clip > 0.0, config, "value_loss: clip = ", clip, " must be > 0");
  RLVR_EXPECTS(global_tokens >= 0 && std::isfinite(global_tokens), config, "value_loss: global_tokens = ", global_tokens,
               " must be finite and >= 0");
  // D: the local active count, or the caller's global one for a split batch (as token-mean).
  double count = 0;
  for (index_t t = 0; t < n; ++t) count += (mask.empty() || mask[t]) ? 1.0 : 0.0;
  const double d = global_tokens > 0 ? global_tokens : count;
  value_loss_result r;
  // Nothing counts: loss 0 and a zero gradient rather than 0/0.
  if (d <= 0) {
    for (index_t t = 0; t < n; ++t) grad[t] = T(0);
    return r;
  }
  double clipped = 0;
  for (index_t t = 0; t < n; ++t) {
    // Masked tokens: no loss, zero gradient, and their values are not read.
    if (!(mask.empty() || mask[t])) {
      grad[t] = T(0);
      continue;
    }
    const double v = static_cast<double>(values[t]), vo = static_cast<double>(old_values[t]);
    const double ret = static_cast<double>(returns[t]);
    // Checked per token and only where the mask counts, like the policy loss's inputs.
    RLVR_EXPECTS(std::isfinite(v) && std::isfinite(vo) && std::isfinite(ret), numerical, "value_loss: token ", t,
                 " has a non-finite value, old value or return");
    // The clipped prediction stays within c of the rollout's value; l1, l2 are the squared
    // errors of the unclipped and clipped predictions.
    const double vc = std::clamp(v, vo - clip, vo + clip);
    const double l1 = (v - ret) * (v - ret), l2 = (vc - ret) * (vc - ret);
    double g;
    // l2 > l1 implies V was clipped (V ≠ V_clip), so this gradient is 0 in practice; the test
    // keeps the rule "gradient through V only if V_clip follows V" explicit.
    if (l2 > l1) {
      clipped += 1;
      g = (v == vc) ? (vc - ret) : 0.0;
      r.loss += 0.5 * l2;
    } else {
      g = v - ret;
      r.loss += 0.5 * l1;
    }
    grad[t] = static_cast<T>(g / d);
  }
  // The loss uses D; the clip fraction is over this call's active tokens, whatever D is.
  r.loss /= d;
  r.clip_frac = count > 0 ? clipped / count : 0.0;
  return r;
}

} // namespace rlvr
