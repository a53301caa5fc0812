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
template <class T, class Space = host_space> struct loss_token_batch {
  using memory_space = Space;               //!< where `logits` live
  matrix_view<const T, Space> logits{};     //!< [N, V] policy logits, row-major, rows may be strided
  vector_view<const token_t> targets{};     //!< [N] the sampled token of each row, in [0, V)
  matrix_view<const T> advantages{};        //!< [K, N] A_kt
  matrix_view<const mask_t> active{};       //!< [K, N] nonzero = token in component k's batch; empty = all active
  vector_view<const std::int32_t> seq{};    //!< [N] response index of each token (needed by seq-mean aggregations)
  index_t num_sequences = 0;              //!< range of seq ids; 0 = max(seq) + 1
  vector_view<const T> old_logp{};          //!< [N] rollout log π; empty = on-policy (ρ = 1)
  vector_view<const T> ref_logp{};          //!< [N] reference log π; required iff the objective has a KL term
  vector_view<const T> rollout_logp{};      //!< [N] the rollout engine's log π; required iff a gate reads it (tis, …)
  //! [N, V] the reference policy's logits rows (same extents as `logits`, in the same memory
  //! space, never overlapping the gradient); required iff the objective has `kl_full` (the exact
  //! full-vocabulary KL), read at the same temperature τ.
  matrix_view<const T, Space> ref_logits{};
};

//! Tokens [first, first + count) of a batch (the logits rows, targets and columns of [K, N]).
template <class T, class Space>
loss_token_batch<T, Space> slice(const loss_token_batch<T, Space>& b, index_t first, index_t count) {
  const index_t n = b.targets.size();
  RLVR_EXPECTS(first >= 0 && count >= 0 && first + count <= n, range, "slice: tokens [", first, ", ",
               first + count, ") are outside [0, ", n, ")");
  auto vec = [&](auto v) { return v.empty() ? v : decltype(v)(v.data() + first, count); };
  auto cols = [&](auto m) {
    return m.rows() == 0 ? m : decltype(m)(m.data() + first, m.rows(), count, m.row_stride());
  };
  loss_token_batch<T, Space> s = b;
  s.logits = b.logits.block_rows(first, count);
  s.targets = vec(b.targets);
  s.advantages = cols(b.advantages);
  s.active = cols(b.active);
  s.seq = vec(b.seq);
  s.old_logp = vec(b.old_logp);
  s.ref_logp = vec(b.ref_logp);
  s.rollout_logp = vec(b.rollout_logp);
  if (b.ref_logits.rows() != 0) s.ref_logits = b.ref_logits.block_rows(first, count);
  return s;
}

//! Run-time options of `loss_and_grad`.
struct loss_options {
  double temperature = 1.0;                      //!< τ: log π is computed from z/τ (> 0)
  aggregation_options aggregation{};             //!< global token / sequence counts
  const advantage_report* advantages = nullptr;  //!< copied into the diagnostics when given
};

//! Optional per-token outputs of `loss_and_grad` (each empty or of length N).
template <class T> struct token_outputs {
  vector_view<T> logp{};    //!< log π_t
  vector_view<T> entropy{}; //!< H_t
  vector_view<T> loss{};    //!< Σ_k λ_k w_kt ℓ_kt (sums to the loss)
};

//! What `loss_and_grad` reports. Fractions and means are over the active tokens.
struct loss_diagnostics {
  double loss = 0;            //!< L
  double clip_frac_low = 0;   //!< PPO: ρ < 1 − ε_low with the clipped branch taken
  double clip_frac_high = 0;  //!< PPO: ρ > 1 + ε_high with the clipped branch taken
  double clip_frac_dual = 0;  //!< dual clip taken
  double kl_clamp_frac = 0;   //!< k3 clamp hit
  double approx_kl = 0;       //!< mean(log π_old − log π) (verl's ppo_kl; 0 on-policy)
  double ref_kl = 0;          //!< mean k3(log π_ref − log π) when reference log-probs are given
  double mean_entropy = 0;    //!< mean H_t
  double mean_logp = 0;       //!< mean log π_t
  index_t active_tokens = 0;  //!< rows that entered the pass
  index_t rows = 0;           //!< N
  double zero_std_fraction = 0; //!< from the advantage report, when given
  index_t dropped = 0;        //!< responses dropped by the estimator, when given
  double mean_gate = 1;       //!< token gates (TIS, masks, entropy selection): mean gate over the active tokens
  double gated_out_frac = 0;  //!< token gates: fraction of active tokens whose gate is 0
  double full_kl = 0;         //!< `kl_full`: mean exact KL(π‖π_ref) over the active tokens (0 without it)
};

namespace detail {

enum : std::uint8_t { row_bad = 0x80, row_bad_ref = 0x40 };

//! The objective's epilogue for `fused_rows` (trivially copyable, RLVR_HD).
template <class T, class O> struct loss_epilogue {
  O obj;
  const T* adv;
  const T* w;
  index_t stride_adv;
  index_t stride_w;
  index_t k;
  const T* old_logp; // nullable
  const T* ref_logp; // nullable
  T* logp_out;
  T* entropy_out;
  T* loss_out;
  std::uint8_t* flags_out;
  const T* stat = nullptr; // nullable: token_input::stat per token (batch-level surrogates)
  const T* gate = nullptr; // nullable: token_input::gate per token (token gates)
  T* kl_out = nullptr;     // nullable: the row's exact KL(π‖π_ref) (objectives with kl_full)

  RLVR_HD bool active(index_t i) const {
    for (index_t c = 0; c < k; ++c)
      if (w[c * stride_w + i] != T(0)) return true;
    return false;
  }
  RLVR_HD row_coeffs<T> operator()(index_t i, const row_stats<T>& s) const {
    logp_out[i] = s.logp;
    entropy_out[i] = s.entropy;
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
    token_input<T> in{s.logp, old_logp ? old_logp[i] : s.logp, ref_logp ? ref_logp[i] : T(0), T(0), s.entropy};
    if (stat) in.stat = stat[i];
    if (gate) in.gate = gate[i];
    in.kl = s.kl;
    token_terms<T> r;
    if (O::components == 1 || stride_adv == stride_w) {
      r = obj.token(adv + i, w + i, stride_w, in);
    } else { // gather the K advantages and weights (different strides)
      T a[O::components], ww[O::components];
      for (index_t c = 0; c < O::components; ++c) {
        a[c] = adv[c * stride_adv + i];
        ww[c] = w[c * stride_w + i];
      }
      r = obj.token(a, ww, 1, in);
    }
    loss_out[i] = r.loss;
    flags_out[i] = r.flags;
    return {r.dlogp, r.dentropy, r.dkl};
  }
};

static_assert(RowEpilogue<loss_epilogue<float, grpo_objective>, float>);
static_assert(RowEpilogue<loss_epilogue<double, weighted_sum<psr_objective, nsr_objective>>, double>);

template <class T> void check_finite_vec(vector_view<const T> v, const char* what) {
  for (index_t i = 0; i < v.size(); ++i)
    RLVR_EXPECTS(std::isfinite(static_cast<double>(v[i])), numerical, what, "[", i, "] = ", v[i], " is not finite");
}

//! τ must be finite and > 0, and representable in the logit type T with a finite reciprocal (every
//! backend scales logits by 1/τ in T or in double): float needs τ ≥ 1/FLT_MAX ≈ 2.94e-39 and
//! τ ≤ FLT_MAX. One rule for every backend, checked before any runs.
template <class T = double> void check_temperature(double tau) {
  RLVR_EXPECTS(tau > 0.0 && std::isfinite(tau), config, "temperature = ", tau, " must be finite and > 0");
  const T t = static_cast<T>(tau);
  const bool ok = t > T(0) && std::isfinite(static_cast<double>(t)) && std::isfinite(static_cast<double>(T(1) / t)) &&
                  std::isfinite(static_cast<double>(static_cast<T>(1.0 / static_cast<double>(t))));
  RLVR_EXPECTS(ok, config, "temperature = ", tau, " is outside the range of ",
               std::is_same_v<T, float> ? "float" : std::is_same_v<T, double> ? "double" : "the logit type",
               " logits: τ and 1/τ must both be finite and > 0 in that type (τ ≥ about ",
               1.0 / static_cast<double>(std::numeric_limits<T>::max()), ")");
}

// Reads the targets (host) and the extents of z; never dereferences z (it may be device memory).
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
template <class T, class U, class S>
void check_grad_alias(matrix_view<const T, S> z, matrix_view<U, S> g, const char* who) {
  RLVR_EXPECTS(g.rows() == z.rows() && g.cols() == z.cols(), shape, who, ": grad is ", g.rows(), "x", g.cols(),
               " but logits are ", z.rows(), "x", z.cols());
  RLVR_EXPECTS(g.row_stride() >= g.cols(), shape, who, ": grad row_stride = ", g.row_stride(), " is smaller than cols");
  RLVR_EXPECTS(g.data() != nullptr || g.rows() == 0, shape, who, ": null grad");
  if (z.rows() == 0) return;
  const auto* zb = reinterpret_cast<const char*>(z.data());
  const auto* ze = reinterpret_cast<const char*>(z.data() + (z.rows() - 1) * z.row_stride() + z.cols());
  const auto* gb = reinterpret_cast<const char*>(g.data());
  const auto* ge = reinterpret_cast<const char*>(g.data() + (g.rows() - 1) * g.row_stride() + g.cols());
  const bool same = static_cast<const void*>(g.data()) == static_cast<const void*>(z.data()) &&
                    g.row_stride() == z.row_stride();
  RLVR_EXPECTS(same || ge <= zb || ze <= gb, shape, who,
               ": grad overlaps logits without being in place (same pointer and row stride)");
}

// Extents and addresses only: `r` (read) must not overlap `g` (written).
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
template <class T> struct advantage_result {
  index_t components = 0;
  index_t tokens = 0;
  std::vector<T> adv;                //!< [K·N]
  std::vector<mask_t> act;           //!< [K·N]
  std::vector<T> returns;            //!< [N] (GAE's value targets; zeros otherwise)
  advantage_report report;

  [[nodiscard]] matrix_view<const T> advantages() const { return {adv.data(), components, tokens}; }
  [[nodiscard]] matrix_view<const mask_t> active() const { return {act.data(), components, tokens}; }
  //! Active tokens of each component over the whole rollout batch: the per-component token-mean
  //! denominators to pass as `aggregation_options::component_tokens` when the batch is split.
  [[nodiscard]] std::vector<double> global_counts() const {
    std::vector<double> c(static_cast<std::size_t>(components), 0.0);
    for (index_t k = 0; k < components; ++k)
      for (index_t t = 0; t < tokens; ++t) c[static_cast<std::size_t>(k)] += act[static_cast<std::size_t>(k * tokens + t)] ? 1.0 : 0.0;
    return c;
  }
  //! Sequences with at least one active token, per component (for `component_sequences`);
  //! `seq` is the rollout batch's token → response map.
  [[nodiscard]] std::vector<double> global_sequences(vector_view<const std::int32_t> seq) const {
    std::vector<double> c(static_cast<std::size_t>(components), 0.0);
    for (index_t k = 0; k < components; ++k) {
      std::vector<std::int32_t> ids;
      for (index_t t = 0; t < tokens && t < seq.size(); ++t)
        if (act[static_cast<std::size_t>(k * tokens + t)]) ids.push_back(seq[t]);
      std::sort(ids.begin(), ids.end());
      c[static_cast<std::size_t>(k)] = static_cast<double>(std::unique(ids.begin(), ids.end()) - ids.begin());
    }
    return c;
  }
};

//! Runs the objective's estimator(s) over a rollout batch (see `rlvr/objectives/advantages.hpp`).
//! Throws if the mask selects no token.
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
  r.adv.assign(static_cast<std::size_t>(O::components * n), T(0));
  r.act.assign(static_cast<std::size_t>(O::components * n), 0);
  r.returns.assign(static_cast<std::size_t>(n), T(0));
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
  detail::check_temperature<T>(temperature);
  detail::check_logits_targets(logits, targets, "log_prob_entropy");
  expect_size(logp, logits.rows(), "log_prob_entropy: logp");
  RLVR_EXPECTS(entropy.empty() || entropy.size() == logits.rows(), shape, "log_prob_entropy: entropy has length ",
               entropy.size(), " but logits have ", logits.rows(), " rows");
  if constexpr (host_accessible_v<S>) {
    backend.logp_entropy(logits, targets, static_cast<T>(temperature), logp, entropy);
  } else {
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
  for (index_t i = 0; i < logp.size(); ++i)
    if (!std::isfinite(static_cast<double>(logp[i])))
      detail::fail_row(i, targets, logp.data(), "log_prob_entropy");
}

namespace detail {

//! The part of `loss_and_grad` that does not touch the logits, shared by every entry point
//! (host and device): validates the objective, the options and every per-token input of `batch`
//! for `n` tokens, with messages naming `who`, and returns the aggregation weights w [K, N]
//! (w_kt = 0: token t is not in component k's batch).
template <Objective O, class T, class S>
std::vector<T> prepare_loss(const O& obj, const loss_token_batch<T, S>& batch, index_t n, const loss_options& opt,
                            const token_outputs<T>& out, const char* who) {
  constexpr index_t k = O::components;
  obj.validate();
  detail::check_temperature<T>(opt.temperature);
  RLVR_EXPECTS(opt.aggregation.global_tokens >= 0 && std::isfinite(opt.aggregation.global_tokens), config, who,
               ": global_tokens = ", opt.aggregation.global_tokens, " must be finite and >= 0");
  RLVR_EXPECTS(opt.aggregation.global_sequences >= 0 && std::isfinite(opt.aggregation.global_sequences), config, who,
               ": global_sequences = ", opt.aggregation.global_sequences, " must be finite and >= 0");
  for (index_t c = 0; c < k; ++c) {
    if (opt.aggregation.component_tokens)
      RLVR_EXPECTS(opt.aggregation.component_tokens[c] >= 0 && std::isfinite(opt.aggregation.component_tokens[c]), config,
                   who, ": component_tokens[", c, "] = ", opt.aggregation.component_tokens[c], " must be finite and >= 0");
    if (opt.aggregation.component_sequences)
      RLVR_EXPECTS(opt.aggregation.component_sequences[c] >= 0 && std::isfinite(opt.aggregation.component_sequences[c]),
                   config, who, ": component_sequences[", c, "] = ", opt.aggregation.component_sequences[c],
                   " must be finite and >= 0");
  }
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

  // active flags (all ones when not given), sequence ids
  std::vector<std::uint8_t> act_own;
  matrix_view<const std::uint8_t> act = batch.active;
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
    if (num_seq == 0)
      for (index_t t = 0; t < n; ++t) num_seq = std::max<index_t>(num_seq, static_cast<index_t>(seq[t]) + 1);
    for (index_t t = 0; t < n; ++t)
      RLVR_EXPECTS(seq[t] >= 0 && seq[t] < num_seq, range, who, ": seq[", t, "] = ", seq[t], " is outside [0, ",
                   num_seq, ")");
  }
  // numbers the epilogue will read must be finite on active tokens
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
  stat.assign(static_cast<std::size_t>(n), T(0));
  gate.assign(static_cast<std::size_t>(n), T(1));
  std::vector<T> wctx(w.begin(), w.begin() + n); // component 0 (plain objectives only)
  for (index_t t = 0; t < n; ++t)
    if (!std::isfinite(static_cast<double>(logp[t]))) wctx[static_cast<std::size_t>(t)] = T(0);
  std::vector<std::int32_t> seq_own;
  vector_view<const std::int32_t> seq = batch.seq;
  index_t num_seq = batch.num_sequences;
  if (seq.empty()) {
    seq_own.assign(static_cast<std::size_t>(n), 0);
    seq = seq_own;
    num_seq = n > 0 ? 1 : 0;
  } else if (num_seq == 0) {
    for (index_t t = 0; t < n; ++t) num_seq = std::max<index_t>(num_seq, static_cast<index_t>(seq[t]) + 1);
  }
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
template <class T, class S>
loss_diagnostics summarize_loss(const loss_token_batch<T, S>& batch, const T* w, index_t k, index_t n, const T* logp,
                                const T* ent, const T* tl, const std::uint8_t* flags, const loss_options& opt,
                                const char* who) {
  const auto active = [&](index_t i) {
    for (index_t c = 0; c < k; ++c)
      if (w[c * n + i] != T(0)) return true;
    return false;
  };
  loss_diagnostics d;
  d.rows = n;
  double n_act = 0, low = 0, high = 0, dual = 0, klc = 0, akl = 0, rkl = 0, ment = 0, mlogp = 0, loss = 0;
  for (index_t i = 0; i < n; ++i) {
    if (!active(i)) continue;
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
    if (!batch.old_logp.empty()) akl += static_cast<double>(batch.old_logp[i]) - static_cast<double>(logp[i]);
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
template <class T> struct token_arrays {
  std::vector<T> own_logp, own_entropy, own_loss;
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
  static T* pick(vector_view<T> v, std::vector<T>& own, index_t n) {
    if (!v.empty()) return v.data();
    own.assign(static_cast<std::size_t>(n), T(0));
    return own.data();
  }
};

//! The objective's epilogue over host memory: the batch's advantages and old/ref log π, the
//! weights `w` [K, n], the per-token outputs (length n) and, when not empty, the batch-level
//! statistics and gates of `prepare_batch_context`.
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
template <class T>
void gate_diagnostics(loss_diagnostics& d, const std::vector<T>& gate, const T* w, index_t k, index_t n) {
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
  constexpr bool full_kl = detail::uses_ref_logits<O>();
  static_assert(!full_kl || RefKLBackend<B, T>,
                "rlvr::loss_and_grad: rule 'kl_full needs a RefKLBackend': the objective has rlvr::kl_full (the exact "
                "KL to the reference over the whole vocabulary, computed in the fused pass from "
                "loss_token_batch::ref_logits) and the backend does not model rlvr::RefKLBackend "
                "(b.fused_rows_ref); serial_backend, eigen_backend and xtensor_backend do, cuda_backend does not "
                "yet: use a sampled estimator there (kl_k3, kl_k3_plus with ref_logp)");
  constexpr const char* who = "loss_and_grad";
  constexpr index_t k = O::components;
  const matrix_view<const T, S> z = batch.logits;
  detail::check_logits_targets(z, batch.targets, who);
  detail::check_grad_alias(z, grad, who);
  const index_t n = z.rows();
  const std::vector<T> w = detail::prepare_loss(obj, batch, n, opt, out, who);
  if constexpr (full_kl) detail::check_no_overlap(batch.ref_logits, grad, who);

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

  std::vector<T> kl_rows;
  if constexpr (full_kl && host_accessible_v<S>) {
    kl_rows.assign(static_cast<std::size_t>(n), T(0));
    auto ep = detail::host_epilogue(obj, batch, w, n, logp, ent, tl, flags.data(), stat, gate);
    ep.kl_out = kl_rows.data();
    backend.fused_rows_ref(z, batch.ref_logits, batch.targets, static_cast<T>(opt.temperature), ep, grad);
  } else if constexpr (host_accessible_v<S>) {
    const auto ep = detail::host_epilogue(obj, batch, w, n, logp, ent, tl, flags.data(), stat, gate);
    backend.fused_rows(z, batch.targets, static_cast<T>(opt.temperature), ep, grad);
  } else {
    static_assert(!full_kl, "rlvr::loss_and_grad: kl_full on a device backend is not implemented");
    static_assert(SpaceMemory<B>, "rlvr::loss_and_grad: a backend of a non-host memory space must model "
                                  "rlvr::SpaceMemory");
    std::vector<T> adv(static_cast<std::size_t>(k * n));
    for (index_t c = 0; c < k; ++c)
      for (index_t t = 0; t < n; ++t) adv[static_cast<std::size_t>(c * n + t)] = batch.advantages(c, t);
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
    d_logp.download(logp);
    d_ent.download(ent);
    d_tl.download(tl);
    d_flags.download(flags.data());
  }
  loss_diagnostics d = detail::summarize_loss(batch, w.data(), k, n, logp, ent, tl, flags.data(), opt, who);
  detail::gate_diagnostics(d, gate, w.data(), k, n);
  if (!kl_rows.empty() && d.active_tokens > 0) {
    double sum = 0;
    for (index_t i = 0; i < n; ++i)
      if (active(i)) sum += static_cast<double>(kl_rows[static_cast<std::size_t>(i)]);
    d.full_kl = sum / static_cast<double>(d.active_tokens);
  }
  return d;
}

//! Result of `value_loss`.
struct value_loss_result {
  double loss = 0;      //!< ½·Σ m max((V − R)², (V_clip − R)²) / D
  double clip_frac = 0; //!< fraction of active tokens where the clipped branch was taken
};

//! PPO's clipped value loss (verl's): with V_clip = clamp(V, V_old − c, V_old + c),
//!   L_V = ½ · Σ_t m_t max((V_t − R_t)², (V_clip,t − R_t)²) / D,   D = Σ m (or `global_tokens`),
//! and its gradient with respect to the value-head outputs V into `grad` (length N). R are
//! GAE's returns (`advantage_result::returns`). `clip` > 0 (use infinity for no clipping).
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
  double count = 0;
  for (index_t t = 0; t < n; ++t) count += (mask.empty() || mask[t]) ? 1.0 : 0.0;
  const double d = global_tokens > 0 ? global_tokens : count;
  value_loss_result r;
  if (d <= 0) {
    for (index_t t = 0; t < n; ++t) grad[t] = T(0);
    return r;
  }
  double clipped = 0;
  for (index_t t = 0; t < n; ++t) {
    if (!(mask.empty() || mask[t])) {
      grad[t] = T(0);
      continue;
    }
    const double v = static_cast<double>(values[t]), vo = static_cast<double>(old_values[t]);
    const double ret = static_cast<double>(returns[t]);
    RLVR_EXPECTS(std::isfinite(v) && std::isfinite(vo) && std::isfinite(ret), numerical, "value_loss: token ", t,
                 " has a non-finite value, old value or return");
    const double vc = std::clamp(v, vo - clip, vo + clip);
    const double l1 = (v - ret) * (v - ret), l2 = (vc - ret) * (vc - ret);
    double g;
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
  r.loss /= d;
  r.clip_frac = count > 0 ? clipped / count : 0.0;
  return r;
}

} // namespace rlvr
