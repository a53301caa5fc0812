#pragma once
//! \file rlvr/trainer/trainer.hpp
//! \brief The RLVR trainer: rollouts, verification, advantages and clipped mini-batch updates,
//! generic over Policy × TokenReward × Objective × Optimizer × Backend.
//!
//! One call of `trainer::step(prompts)` is one *rollout batch* of the paper's loop (spec §9):
//!
//! 1. **Rollout.** Each of the P prompts is answered G times (`group_size`) by sampling the
//!    policy at `temperature` through its KV cache, one token per sequence per decode call, up
//!    to `max_response_tokens` tokens or `eos`. Response i of prompt p draws token j from the
//!    Philox block (seed, subsequence = step·P·G + p·G + i, offset = j) — rlvr's sampler
//!    contract, so a rollout is a pure function of (weights, seed, step).
//! 2. **Verification.** `reward(prompt, response)` (a `TokenReward`; the response includes its
//!    `eos` when it has one).
//! 3. **Old log-probs and advantages.** One forward pass over the whole rollout batch gives
//!    log π_old of every response token (and, for PPO, the values V(s_t)); a frozen copy of the
//!    initial policy gives log π_ref when the objective has a KL term. The objective's estimator
//!    turns rewards into per-token advantages and *active* flags: PSR and NSR drop the other
//!    side's responses here (`rlvr::sign_split` with `unused_side::drop`).
//! 4. **Updates.** The responses with at least one active token are shuffled (Philox, seed, step
//!    and epoch) and cut into `mini_batches` nearly equal mini-batches; for each of `epochs` passes
//!    and each mini-batch: forward, `rlvr::loss_and_grad` (token-mean over the mini-batch, as
//!    verl), PPO's clipped value loss when the objective needs values, backward, global-norm
//!    clipping at `max_grad_norm`, one optimizer step. After the first update the policy differs
//!    from the rollout policy, so the PPO ratio ρ and its clip matter — that is why the paper's
//!    code takes 4 mini-batches per rollout batch.
//! 5. **Metrics.** A `step_metrics` record goes to the callback (`on_step`), including the
//!    wall-clock time of each phase (`step_metrics::rollout_seconds` … `step_seconds`, measured
//!    with `std::chrono::steady_clock`). Timings are observations only: they feed no computed
//!    number and never enter `save_state`, so determinism and resumption are unaffected.
//!
//! **Determinism and resumption.** All randomness is counter-based and addressed by
//! (seed, step), and every kernel is thread-count independent, so the run is a pure function of
//! (initial weights, config, prompts). `save_state` stores the policy weights, the optimizer
//! state, the reference weights and the step counter (the RNG position) in a `state_dict`
//! (write it with `rlvr::io::save_safetensors`); `load_state` restores them and the resumed run
//! reproduces the uninterrupted one bit for bit (tested).
//!
//! **Prompts of different lengths** share one step: the rollout is `rlvr::generate` (each
//! sequence reads its own prompt through the KV cache and starts answering when it is read), the
//! rollout batch is right-padded to the longest prompt + `max_response_tokens`, and the loss
//! runs over the response tokens only (gathered rows; no padded row enters the loss pass).
//!
//! **Tasks as rewards.** A task (`rlvr::tasks::TaskVerifier`) may be passed where the reward is
//! wanted: the trainer wraps it in `tasks::verifier` and, when `max_response_tokens` is 0 or
//! `eos` is −1, takes them from the task (`max_response_length()`, `vocab().eos()`; `pad` from
//! `vocab().pad()` as well). The same happens for an explicit `tasks::verifier{task}`.

#include <algorithm>
#include <chrono>
#include <concepts>
#include <filesystem>
#include <cmath>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "rlvr/config.hpp"
#include "rlvr/error.hpp"
#include "rlvr/generate.hpp"
#include "rlvr/io/safetensors.hpp"
#include "rlvr/loss.hpp"
#include "rlvr/optim/clip.hpp"
#include "rlvr/optim/concepts.hpp"
#include "rlvr/optim/state_dict.hpp"
#include "rlvr/policy/concepts.hpp"
#include "rlvr/random/philox.hpp"
#include "rlvr/sampling/sampler.hpp"
#include "rlvr/tasks/concepts.hpp"
#include "rlvr/tasks/reward.hpp"
#include "rlvr/trainer/reward.hpp"
#include "rlvr/trainer/metrics_writer.hpp"
#include "rlvr/trainer/step_metrics.hpp"

namespace rlvr {

//! The trainer's run-time numbers (structure — objective, policy, … — is in the types).
//! Aggregate: designated initialisers must follow the field order `group_size, temperature,
//! max_response_tokens, eos, pad, mini_batches, epochs, max_grad_norm, shuffle, seed, value_clip,
//! value_coef, track_reference_kl` (any subset, in that order).
struct trainer_config {
  index_t group_size = 8;           //!< G responses per prompt (≥ 1)
  double temperature = 1.0;         //!< rollout temperature τ (> 0); the loss uses the same τ
  index_t max_response_tokens = 0;  //!< response budget, `eos` included (≥ 1; 0 = the task's
                                    //!< `max_response_length()` when the reward is a task)
  token_t eos = -1;                 //!< end-of-response token (≥ 0; −1 = the task's eos)
  token_t pad = 0;                  //!< filler after `eos` in the padded batch (any valid id)
  index_t mini_batches = 4;         //!< optimizer updates per rollout batch and epoch (≥ 1)
  index_t epochs = 1;               //!< passes over the rollout batch (≥ 1)
  double max_grad_norm = 1.0;       //!< global-norm clip; ≤ 0 disables it
  bool shuffle = true;              //!< shuffle responses before cutting mini-batches
  std::uint64_t seed = 0;           //!< the run's seed (rollouts and shuffles)
  double value_clip = 0.5;          //!< PPO value-loss clip (verl's cliprange_value)
  double value_coef = 0.5;          //!< weight of the value loss in the trunk's gradient
  bool track_reference_kl = false;  //!< report KL to the initial policy even without a KL term

  //! Throws `rlvr::config_error` naming the first bad field.
  void validate() const {
    RLVR_EXPECTS(group_size >= 1, config, "trainer_config: group_size = ", group_size, " must be >= 1");
    RLVR_EXPECTS(temperature > 0.0 && std::isfinite(temperature), config, "trainer_config: temperature = ",
                 temperature, " must be finite and > 0");
    RLVR_EXPECTS(max_response_tokens >= 1, config, "trainer_config: max_response_tokens = ", max_response_tokens,
                 " must be >= 1: set it to the response budget (eos included), or pass a task (or "
                 "rlvr::tasks::verifier{task}) as the reward to use task.max_response_length()");
    RLVR_EXPECTS(eos >= 0, config, "trainer_config: eos = ", eos, " must be set to the end-of-response token id (or "
                 "pass a task as the reward to use task.vocab().eos())");
    RLVR_EXPECTS(pad >= 0, config, "trainer_config: pad = ", pad, " must be a valid token id");
    RLVR_EXPECTS(mini_batches >= 1, config, "trainer_config: mini_batches = ", mini_batches, " must be >= 1");
    RLVR_EXPECTS(epochs >= 1, config, "trainer_config: epochs = ", epochs, " must be >= 1");
    RLVR_EXPECTS(std::isfinite(max_grad_norm), config, "trainer_config: max_grad_norm = ", max_grad_norm,
                 " must be finite");
    RLVR_EXPECTS(value_clip > 0.0, config, "trainer_config: value_clip = ", value_clip, " must be > 0");
    RLVR_EXPECTS(value_coef >= 0.0 && std::isfinite(value_coef), config, "trainer_config: value_coef = ", value_coef,
                 " must be finite and >= 0");
  }
};

//! A type S models `PromptSource` if, for `s` an lvalue of S and `step` an `index_t`,
//! 1. `s(step)` returns the prompts of rollout batch `step` as something convertible to
//!    `std::vector<std::vector<token_t>>` (P ≥ 1 prompts, lengths may differ), and
//! 2. (semantic) the result is a pure function of `step`, so that a resumed `fit` sees the
//!    prompts the uninterrupted run saw.
template <class S>
concept PromptSource = requires(S& s, index_t step) {
  { s(step) } -> std::convertible_to<std::vector<std::vector<token_t>>>;
};

//! What `trainer::fit` runs. Aggregate: designated initialisers in the field order `steps,
//! eval_every, checkpoint_every, log, checkpoint, eval, resume`.
struct fit_config {
  index_t steps = 0;            //!< run until `steps_done() == steps` (rollout batches in total)
  index_t eval_every = 0;       //!< call `eval` after every this many steps and after the last; 0 = never
  index_t checkpoint_every = 0; //!< save to `checkpoint` after every this many steps and after the last; 0 = never
  metrics_writer* log = nullptr; //!< each step's metrics (JSONL or CSV); null = none
  std::filesystem::path checkpoint{};         //!< safetensors checkpoint (written atomically)
  std::function<void(index_t steps_done)> eval{}; //!< the evaluation hook (e.g. `rlvr::evaluate`)
  bool resume = true; //!< start from `checkpoint` when that file exists

  //! Throws `rlvr::config_error` naming the first bad field.
  void validate() const {
    RLVR_EXPECTS(steps >= 0, config, "fit_config: steps = ", steps, " must be >= 0");
    RLVR_EXPECTS(eval_every >= 0, config, "fit_config: eval_every = ", eval_every, " must be >= 0");
    RLVR_EXPECTS(checkpoint_every >= 0, config, "fit_config: checkpoint_every = ", checkpoint_every, " must be >= 0");
    RLVR_EXPECTS(checkpoint_every == 0 || !checkpoint.empty(), config, "fit_config: checkpoint_every = ",
                 checkpoint_every, " but no checkpoint path is set");
    RLVR_EXPECTS(eval_every == 0 || static_cast<bool>(eval), config, "fit_config: eval_every = ", eval_every,
                 " but no eval hook is set");
  }
};

//! What `trainer::fit` did.
struct fit_result {
  index_t first_step = 0;  //!< `steps_done()` when the loop started (> 0 after a resume)
  index_t steps_run = 0;   //!< rollout batches run by this call
  bool resumed = false;    //!< the state came from `fit_config::checkpoint`
  index_t checkpoints = 0; //!< checkpoints written
  step_metrics last{};     //!< the last step's metrics (zeros when no step ran)
};

namespace detail {
template <class R> struct task_of {};
template <class T> struct task_of<tasks::verifier<T>> {
  using type = T;
};
//! `cfg` with the unset response budget, eos and pad taken from the reward's task (when it is one).
template <class R> trainer_config with_task_defaults(trainer_config cfg, const R& reward) {
  if constexpr (requires { typename task_of<R>::type; }) {
    if (cfg.max_response_tokens == 0) cfg.max_response_tokens = reward.task.max_response_length();
    if (cfg.eos == -1) {
      cfg.eos = reward.task.vocab().eos();
      if (cfg.pad == 0) cfg.pad = reward.task.vocab().pad();
    }
  }
  return cfg;
}
inline constexpr std::uint64_t shuffle_stream_tag = 0x5348'5546'464C'4521ULL; // "SHUFFLE!"

//! A lap timer over `std::chrono::steady_clock`: `lap()` returns the seconds since the previous
//! lap (or construction) and starts the next interval.
class lap_timer {
public:
  lap_timer() noexcept : last_(clock::now()) {}
  double lap() noexcept {
    const auto now = clock::now();
    const double s = std::chrono::duration<double>(now - last_).count();
    last_ = now;
    return s;
  }
  //! Seconds since the previous lap (or construction), without starting a new interval.
  [[nodiscard]] double elapsed() const noexcept {
    return std::chrono::duration<double>(clock::now() - last_).count();
  }

private:
  using clock = std::chrono::steady_clock;
  clock::time_point last_;
};
} // namespace detail

//! The RLVR trainer (see the file comment). `P` is held by reference (the caller owns the
//! model), `Opt` by reference, the reward, objective and backend by value.
template <Policy P, TokenReward R, Objective O, Optimizer Opt, Backend B> class trainer {
public:
  using callback_type = std::function<void(const step_metrics&)>;
  //! The objective reads a frozen reference policy: its log-probs (kl_k1…k3+) or its whole logits
  //! rows (kl_full, recomputed per mini-batch by a forward of the reference).
  static constexpr bool uses_reference = O::uses_ref_logp || detail::uses_ref_logits<O>();
  static constexpr bool uses_ref_logits = detail::uses_ref_logits<O>();
  static constexpr bool uses_values = O::needs_values;
  static_assert(!uses_values || ValueHeadPolicy<P>,
                "rlvr::trainer: this objective needs values V(s_t) (PPO with GAE): the policy must model "
                "rlvr::ValueHeadPolicy (forward with a values output and backward with dvalues)");
  static_assert(FusedLossBackend<B, float> && LogProbBackend<B, float>,
                "rlvr::trainer: the backend must run rlvr's loss over float logits; include "
                "<rlvr/backends/serial.hpp> or <rlvr/backends/eigen.hpp> and pass that backend");
  static_assert(std::is_same_v<memory_space_t<B>, policy_memory_space_t<P>>,
                "rlvr::trainer: the backend and the policy keep their logits in different memory spaces "
                "(rlvr::memory_space_t<B> vs rlvr::policy_memory_space_t<P>)");
  static_assert(host_accessible_v<memory_space_t<B>>,
                "rlvr::trainer: the trainer's rollout and update buffers are host memory in this version; a "
                "device policy and backend run the same entry points (rlvr::loss_and_grad, rlvr::sample) directly");

  trainer(P& policy, Opt& optimizer, R reward, O objective, B backend, trainer_config cfg)
      : policy_(policy), opt_(optimizer), reward_(std::move(reward)), obj_(objective), be_(backend),
        cfg_(detail::with_task_defaults(cfg, reward_)) {
    cfg_.validate();
    if constexpr (uses_values && requires(const P& p) { { p.has_value_head() } -> std::convertible_to<bool>; })
      RLVR_EXPECTS(policy_.has_value_head(), config, "trainer: the objective needs values V(s_t) (PPO with GAE) but ",
                   "the policy has no value head: build it with one (e.g. transformer_config{..., .value_head = true})");
    obj_.validate();
    RLVR_EXPECTS(cfg_.eos < policy_.vocab_size() && cfg_.pad < policy_.vocab_size(), config, "trainer: eos = ",
                 cfg_.eos, " or pad = ", cfg_.pad, " is outside the policy's vocabulary [0, ", policy_.vocab_size(),
                 ")");
    if constexpr (uses_reference || uses_values) reference_.emplace(policy_); // GAE folds β·k1 into rewards
    else if (cfg_.track_reference_kl) {
      if constexpr (std::copy_constructible<P>) reference_.emplace(policy_);
      else fail<config_error>("trainer: track_reference_kl needs a copy-constructible policy");
    }
  }

  //! A task where the reward is wanted: the trainer scores with `tasks::verifier{task}`.
  template <tasks::TaskVerifier T>
    requires std::same_as<R, tasks::verifier<T>>
  trainer(P& policy, Opt& optimizer, T task, O objective, B backend, trainer_config cfg)
      : trainer(policy, optimizer, R{std::move(task)}, objective, backend, cfg) {}

  //! Sets the per-step callback (replaces the previous one).
  void on_step(callback_type cb) { callback_ = std::move(cb); }
  //! Rollout batches completed (the next `step` has this index).
  [[nodiscard]] index_t steps_done() const noexcept { return step_; }
  [[nodiscard]] const trainer_config& config() const noexcept { return cfg_; }

  //! One rollout batch and its updates over `prompts` (P ≥ 1 token sequences; lengths may differ).
  step_metrics step(std::span<const std::vector<token_t>> prompts) {
    const detail::lap_timer total;
    detail::lap_timer clk;
    const index_t np = static_cast<index_t>(prompts.size());
    RLVR_EXPECTS(np >= 1, shape, "trainer::step: no prompts");
    index_t lmax = 0;
    for (index_t p = 0; p < np; ++p) {
      const auto& pr = prompts[static_cast<std::size_t>(p)];
      RLVR_EXPECTS(!pr.empty(), shape, "trainer::step: prompt ", p, " is empty");
      for (token_t t : pr)
        RLVR_EXPECTS(t >= 0 && t < policy_.vocab_size(), range, "trainer::step: prompt ", p, " has token ", t,
                     " outside [0, ", policy_.vocab_size(), ")");
      RLVR_EXPECTS(static_cast<index_t>(pr.size()) + cfg_.max_response_tokens <= policy_.context_length(), config,
                   "trainer::step: prompt ", p, " has ", pr.size(), " tokens; with max_response_tokens ",
                   cfg_.max_response_tokens, " it exceeds the policy's context_length ", policy_.context_length());
      lmax = std::max(lmax, static_cast<index_t>(pr.size()));
    }
    const index_t g = cfg_.group_size, nb = np * g, lr_tok = cfg_.max_response_tokens, tt = lmax + lr_tok;
    const index_t v = policy_.vocab_size();
    plen_.resize(static_cast<std::size_t>(nb));
    for (index_t i = 0; i < nb; ++i) plen_[static_cast<std::size_t>(i)] = static_cast<index_t>(prompts[static_cast<std::size_t>(i / g)].size());
    step_metrics m;
    m.step = step_;
    m.prompts = np;
    m.responses = nb;
    m.learning_rate = opt_.learning_rate();

    // ---- 1. rollout ----
    clk.lap(); // input checks are overhead
    rollout(prompts, tt);
    // ---- 2. verification ----
    rewards_.assign(static_cast<std::size_t>(nb), 0.0f);
    for (index_t i = 0; i < nb; ++i) {
      const auto& pr = prompts[static_cast<std::size_t>(i / g)];
      const token_t* row = seqs_.data() + i * tt + plen_[static_cast<std::size_t>(i)];
      rewards_[static_cast<std::size_t>(i)] = static_cast<float>(
          reward_(std::span<const token_t>(pr), std::span<const token_t>(row, static_cast<std::size_t>(len_[static_cast<std::size_t>(i)]))));
    }
    m.rollout_seconds = clk.lap();
    // ---- 3. token layout, old log-probs, values, reference ----
    // Token n of the flat list is response token j of sequence i: logits row i·T + L_i − 1 + j.
    tok_seq_.clear();
    tok_row_.clear();
    tok_target_.clear();
    for (index_t i = 0; i < nb; ++i)
      for (index_t j = 0; j < len_[static_cast<std::size_t>(i)]; ++j) {
        tok_seq_.push_back(static_cast<std::int32_t>(i));
        const index_t lp = plen_[static_cast<std::size_t>(i)];
        tok_row_.push_back(i * tt + lp - 1 + j);
        tok_target_.push_back(seqs_[static_cast<std::size_t>(i * tt + lp + j)]);
      }
    const index_t n = static_cast<index_t>(tok_seq_.size());
    build_mask(nb, tt);
    logits_.resize(static_cast<std::size_t>(nb * tt * v));
    const matrix_view<float> full(logits_.data(), nb * tt, v);
    const rlvr::token_batch pb{matrix_view<const token_t>(seqs_.data(), nb, tt),
                               matrix_view<const mask_t>(mask_.data(), nb, tt)};
    values_.assign(static_cast<std::size_t>(nb * tt), 0.0f);
    // old log-probs: a forward that keeps no activations when the policy has one (nothing is
    // differentiated here), then log π over each response's rows of the logits in place — the
    // rows of sequence i are contiguous (i·T + L_i − 1 …), so no row is copied.
    if constexpr (uses_values) policy_.forward(pb, full, vector_view<float>(values_));
    else forward_only(policy_, pb, full);
    old_logp_.assign(static_cast<std::size_t>(n), 0.0f);
    std::vector<float> ent(static_cast<std::size_t>(n));
    response_log_probs(full, tt, vector_view<float>(old_logp_), vector_view<float>(ent));
    old_values_.assign(static_cast<std::size_t>(n), 0.0f);
    for (index_t k = 0; k < n; ++k) old_values_[static_cast<std::size_t>(k)] = values_[static_cast<std::size_t>(tok_row_[static_cast<std::size_t>(k)])];
    ref_logp_.assign(static_cast<std::size_t>(n), 0.0f);
    if (reference_) {
      forward_only(*reference_, pb, full);
      response_log_probs(full, tt, vector_view<float>(ref_logp_), vector_view<float>{});
      double kl = 0;
      for (index_t k = 0; k < n; ++k) {
        const double d = static_cast<double>(ref_logp_[static_cast<std::size_t>(k)]) - old_logp_[static_cast<std::size_t>(k)];
        kl += std::exp(d) - d - 1.0;
      }
      m.ref_kl = n ? kl / static_cast<double>(n) : 0.0;
    }
    m.logprob_seconds = clk.lap();
    // ---- advantages ----
    group_ids_.resize(static_cast<std::size_t>(nb));
    for (index_t i = 0; i < nb; ++i) group_ids_[static_cast<std::size_t>(i)] = i / g;
    advantage_input<float> ain{};
    ain.rewards = vector_view<const float>(rewards_);
    ain.group_ids = vector_view<const std::int64_t>(group_ids_);
    ain.seq = vector_view<const std::int32_t>(tok_seq_);
    if constexpr (uses_values) ain.values = vector_view<const float>(old_values_);
    ain.old_logp = vector_view<const float>(old_logp_);
    if (reference_) ain.ref_logp = vector_view<const float>(ref_logp_);
    const advantage_result<float> adv = estimate_advantages(obj_, ain);

    // ---- metrics of the rollout ----
    fill_rollout_metrics(m, np, g, tt, ent);
    std::vector<std::uint8_t> kept(static_cast<std::size_t>(nb), 0);
    for (index_t c = 0; c < O::components; ++c)
      for (index_t k = 0; k < n; ++k)
        if (adv.act[static_cast<std::size_t>(c * n + k)]) kept[static_cast<std::size_t>(tok_seq_[static_cast<std::size_t>(k)])] = 1;
    std::vector<index_t> order;
    for (index_t i = 0; i < nb; ++i)
      if (kept[static_cast<std::size_t>(i)]) order.push_back(i);
    m.kept = static_cast<index_t>(order.size());
    m.dropped = adv.report.dropped;
    m.advantage_seconds = clk.lap();

    // ---- 4. updates ----
    // Epoch e shuffles with the Philox stream (seed ^ tag, subsequence = step) at block offset
    // e·2³², so every epoch sees a fresh order and epoch 0 does not depend on `epochs`.
    auto shuffle = [&](index_t epoch) {
      if (!cfg_.shuffle || order.size() < 2) return;
      philox_engine eng(cfg_.seed ^ detail::shuffle_stream_tag, static_cast<std::uint64_t>(step_),
                        static_cast<std::uint64_t>(epoch) << 32);
      for (std::size_t i = order.size() - 1; i > 0; --i)
        std::swap(order[i], order[eng.uniform_index(static_cast<std::uint32_t>(i + 1))]);
    };
    // token ranges of each sequence (tokens of sequence i are contiguous, in order)
    std::vector<index_t> first_tok(static_cast<std::size_t>(nb + 1), 0);
    for (index_t i = 0; i < nb; ++i) first_tok[static_cast<std::size_t>(i + 1)] = first_tok[static_cast<std::size_t>(i)] + len_[static_cast<std::size_t>(i)];
    const index_t nk = static_cast<index_t>(order.size());
    const index_t mbs = std::min(cfg_.mini_batches, std::max<index_t>(nk, 1));
    double sum_loss = 0, sum_norm = 0, sum_clo = 0, sum_chi = 0, sum_kl = 0, sum_vl = 0;
    for (index_t e = 0; e < cfg_.epochs && nk > 0; ++e) {
      shuffle(e);
      for (index_t b = 0; b < mbs; ++b) {
        const index_t lo = nk * b / mbs, hi = nk * (b + 1) / mbs;
        if (hi <= lo) continue;
        const update_result u = update(std::span<const index_t>(order.data() + lo, static_cast<std::size_t>(hi - lo)),
                                       first_tok, adv, tt, v, m);
        sum_loss += u.diag.loss;
        sum_norm += u.grad_norm;
        sum_clo += u.diag.clip_frac_low;
        sum_chi += u.diag.clip_frac_high;
        sum_kl += u.diag.approx_kl;
        sum_vl += u.value_loss;
        ++m.updates;
        // last update's KL as seen by the loss: exact over the vocabulary for kl_full, else k3
        if constexpr (uses_ref_logits) m.ref_kl = u.diag.full_kl;
        else if constexpr (uses_reference) m.ref_kl = u.diag.ref_kl;
      }
    }
    if (m.updates > 0) {
      const double inv = 1.0 / static_cast<double>(m.updates);
      m.loss = sum_loss * inv;
      m.grad_norm = sum_norm * inv;
      m.clip_frac_low = sum_clo * inv;
      m.clip_frac_high = sum_chi * inv;
      m.approx_kl = sum_kl * inv;
      m.value_loss = sum_vl * inv;
    }
    ++step_;
    m.step_seconds = total.elapsed();
    if (callback_) callback_(m);
    return m;
  }

  //! The optional outer loop: resumes from `cfg.checkpoint` when it exists (and `cfg.resume`),
  //! then for each step s = steps_done() … cfg.steps − 1 runs `step(source(s))`, writes its
  //! metrics to `cfg.log`, saves a checkpoint every `checkpoint_every` steps and after the last
  //! (`save_state` through `io::save_safetensors`, which writes a temporary file and renames it:
  //! an interrupted write never leaves a partial checkpoint), and calls `cfg.eval(steps_done())`
  //! every `eval_every` steps and after the last. The `on_step` callback still fires. A run
  //! stopped at any point and restarted with the same arguments ends in the same state as an
  //! uninterrupted one (bit for bit; the steps after the last checkpoint are run, and logged,
  //! again). The manual API (`step`, `save_state`, `load_state`) stays available.
  template <PromptSource S> fit_result fit(S&& source, const fit_config& cfg) {
    cfg.validate();
    fit_result r;
    if (cfg.resume && !cfg.checkpoint.empty() && std::filesystem::exists(cfg.checkpoint)) {
      load_state(io::load_safetensors(cfg.checkpoint));
      r.resumed = true;
    }
    r.first_step = step_;
    while (step_ < cfg.steps) {
      const std::vector<std::vector<token_t>> prompts = source(step_);
      r.last = step(prompts);
      ++r.steps_run;
      if (cfg.log) cfg.log->write(r.last);
      const bool last = step_ == cfg.steps;
      if (cfg.checkpoint_every > 0 && (step_ % cfg.checkpoint_every == 0 || last)) {
        state_dict d;
        save_state(d);
        io::save_safetensors(cfg.checkpoint, d);
        ++r.checkpoints;
      }
      if (cfg.eval_every > 0 && (step_ % cfg.eval_every == 0 || last)) cfg.eval(step_);
    }
    return r;
  }

  //! The sampled sequences of the last step: [P·G, T] tokens (prompt, response, padding), the
  //! response lengths and the rewards — for inspection and tests.
  [[nodiscard]] matrix_view<const token_t> last_sequences() const {
    return {seqs_.data(), static_cast<index_t>(len_.size()), len_.empty() ? 0 : static_cast<index_t>(seqs_.size() / len_.size())};
  }
  [[nodiscard]] std::span<const index_t> last_lengths() const { return len_; }
  [[nodiscard]] std::span<const float> last_rewards() const { return rewards_; }

  //! Adds everything a resumed run needs to `d`: `policy.*` weights, `reference.*` weights (when
  //! there is a reference), `optim.*` optimizer state and the metadata `trainer.step` and
  //! `trainer.seed`.
  void save_state(state_dict& d) const {
    store_parameters(d, policy_.parameters(), "policy.");
    if (reference_) store_parameters(d, reference_->parameters(), "reference.");
    state_dict o;
    opt_.save_state(o);
    d.merge(o, "optim.");
    d.set_meta("trainer.step", std::to_string(step_));
    d.set_meta("trainer.seed", std::to_string(cfg_.seed));
  }
  //! Restores what `save_state` stored. Throws `rlvr::config_error` if the checkpoint's seed
  //! differs from this trainer's (a resumed run would silently diverge).
  void load_state(const state_dict& d) {
    const std::string& seed = d.meta("trainer.seed");
    RLVR_EXPECTS(seed == std::to_string(cfg_.seed), config, "trainer::load_state: checkpoint seed ", seed,
                 " differs from the trainer's seed ", cfg_.seed);
    load_parameters(d, policy_.parameters(), "policy.");
    if (reference_) load_parameters(d, reference_->parameters(), "reference.");
    opt_.load_state(d.extract("optim."));
    step_ = static_cast<index_t>(d.meta_int("trainer.step"));
  }

private:
  struct update_result {
    loss_diagnostics diag;
    double grad_norm = 0;
    double value_loss = 0;
  };

  // Samples the rollout batch with rlvr::generate (one decode batch, sequence i = p·G + k at
  // Philox subsequence step·P·G + i) and lays it out as [P·G, T] = prompt, response, padding.
  void rollout(std::span<const std::vector<token_t>> prompts, index_t tt) {
    const index_t g = cfg_.group_size, nb = static_cast<index_t>(prompts.size()) * g;
    const generation_config gc{.sampling = {.temperature = cfg_.temperature, .policy_logprob = false},
                               .max_tokens = cfg_.max_response_tokens,
                               .eos = cfg_.eos,
                               .pad = cfg_.pad,
                               .max_batch = 0};
    const generation out =
        generate(policy_, prompts, g, gc,
                 {.seed = cfg_.seed, .first_subsequence = static_cast<std::uint64_t>(step_) * static_cast<std::uint64_t>(nb)},
                 be_);
    seqs_.assign(static_cast<std::size_t>(nb * tt), cfg_.pad);
    len_.assign(static_cast<std::size_t>(nb), 0);
    for (index_t i = 0; i < nb; ++i) {
      const auto& pr = prompts[static_cast<std::size_t>(i / g)];
      const auto& resp = out.responses[static_cast<std::size_t>(i)];
      std::copy(pr.begin(), pr.end(), seqs_.begin() + i * tt);
      std::copy(resp.begin(), resp.end(), seqs_.begin() + i * tt + static_cast<index_t>(pr.size()));
      len_[static_cast<std::size_t>(i)] = static_cast<index_t>(resp.size());
    }
  }

  void build_mask(index_t nb, index_t tt) {
    mask_.assign(static_cast<std::size_t>(nb * tt), mask_t{0});
    for (index_t i = 0; i < nb; ++i) {
      const index_t lp = plen_[static_cast<std::size_t>(i)];
      for (index_t j = 0; j < len_[static_cast<std::size_t>(i)]; ++j) mask_[static_cast<std::size_t>(i * tt + lp - 1 + j)] = 1;
    }
  }

  // The forward for log-probs only: `forward_inference` (no activations kept) when the policy
  // models InferenceForward, else its training forward.
  template <class Q> static void forward_only(Q& q, const rlvr::token_batch& pb, matrix_view<float> full) {
    if constexpr (InferenceForward<Q>) q.forward_inference(pb, full);
    else q.forward(pb, full);
  }

  // log π (and optionally H) of every response token, read in place from the [nb·T, V] logits:
  // one call per sequence over its contiguous block of rows (token order = tok_target_ order).
  void response_log_probs(matrix_view<const float> full, index_t tt, vector_view<float> logp, vector_view<float> ent) {
    index_t k = 0;
    for (index_t i = 0; i < static_cast<index_t>(len_.size()); ++i) {
      const index_t l = len_[static_cast<std::size_t>(i)];
      if (l == 0) continue;
      const index_t lp = plen_[static_cast<std::size_t>(i)];
      log_prob_entropy(be_, full.block_rows(i * tt + lp - 1, l), vector_view<const token_t>(tok_target_.data() + k, l),
                       vector_view<float>(logp.data() + k, l),
                       ent.empty() ? vector_view<float>{} : vector_view<float>(ent.data() + k, l), cfg_.temperature);
      k += l;
    }
  }

  void fill_rollout_metrics(step_metrics& m, index_t np, index_t g, index_t tt,
                            const std::vector<float>& ent) const {
    const index_t nb = np * g;
    double rs = 0, acc = 0, len = 0, trunc = 0;
    index_t solved = 0, unsolved = 0;
    for (index_t p = 0; p < np; ++p) {
      index_t c = 0;
      for (index_t i = p * g; i < (p + 1) * g; ++i) {
        const float r = rewards_[static_cast<std::size_t>(i)];
        rs += r;
        c += r > 0.0f ? 1 : 0;
        len += static_cast<double>(len_[static_cast<std::size_t>(i)]);
        const index_t l = len_[static_cast<std::size_t>(i)];
        const index_t lp = plen_[static_cast<std::size_t>(i)];
        trunc += (l == cfg_.max_response_tokens && seqs_[static_cast<std::size_t>(i * tt + lp + l - 1)] != cfg_.eos) ? 1.0 : 0.0;
      }
      acc += static_cast<double>(c);
      solved += c == g ? 1 : 0;
      unsolved += c == 0 ? 1 : 0;
    }
    m.reward_mean = rs / static_cast<double>(nb);
    m.accuracy = acc / static_cast<double>(nb);
    m.solved_fraction = static_cast<double>(solved) / static_cast<double>(np);
    m.unsolved_fraction = static_cast<double>(unsolved) / static_cast<double>(np);
    m.response_length = len / static_cast<double>(nb);
    m.truncated_fraction = trunc / static_cast<double>(nb);
    double h = 0;
    for (float x : ent) h += x;
    m.entropy = ent.empty() ? 0.0 : h / static_cast<double>(ent.size());
  }

  // Adds its phase times to m.forward_seconds, loss_seconds, backward_seconds and
  // optimizer_seconds (and nothing else to m).
  update_result update(std::span<const index_t> seqs, const std::vector<index_t>& first_tok,
                       const advantage_result<float>& adv, index_t tt, index_t v, step_metrics& m) {
    detail::lap_timer clk;
    const index_t nm = static_cast<index_t>(seqs.size());
    const index_t k_comp = O::components, n_all = adv.tokens;
    // mini-batch tensors: sequences [nm, T] and their tokens (in mini-batch order)
    mb_seqs_.resize(static_cast<std::size_t>(nm * tt));
    mb_mask_.assign(static_cast<std::size_t>(nm * tt), mask_t{0});
    std::vector<index_t> rows;
    std::vector<index_t> src; // flat token index in the rollout batch
    for (index_t s = 0; s < nm; ++s) {
      const index_t i = seqs[static_cast<std::size_t>(s)];
      std::copy_n(seqs_.data() + i * tt, tt, mb_seqs_.data() + s * tt);
      const index_t lp = plen_[static_cast<std::size_t>(i)];
      for (index_t k = first_tok[static_cast<std::size_t>(i)]; k < first_tok[static_cast<std::size_t>(i + 1)]; ++k) {
        const index_t j = k - first_tok[static_cast<std::size_t>(i)];
        rows.push_back(s * tt + lp - 1 + j);
        src.push_back(k);
        mb_mask_[static_cast<std::size_t>(s * tt + lp - 1 + j)] = 1;
      }
    }
    const index_t n = static_cast<index_t>(src.size());
    // Per-row arrays over all R = nm·T rows of the mini-batch's logits (rows that are not response
    // tokens are inactive: the loss writes their gradient row to zero without reading it), so the
    // loss and its gradient are computed in place over the policy's logits — no V-wide copy.
    const index_t rr = nm * tt;
    std::vector<float> a(static_cast<std::size_t>(k_comp * rr), 0.0f), olp(static_cast<std::size_t>(rr), 0.0f),
        rlp(static_cast<std::size_t>(rr), 0.0f), ret(static_cast<std::size_t>(n)), oval(static_cast<std::size_t>(n));
    std::vector<mask_t> act(static_cast<std::size_t>(k_comp * rr), 0);
    std::vector<token_t> tgt(static_cast<std::size_t>(rr), 0);
    std::vector<std::int32_t> row_seq(static_cast<std::size_t>(rr));
    for (index_t r = 0; r < rr; ++r) row_seq[static_cast<std::size_t>(r)] = static_cast<std::int32_t>(r / tt);
    for (index_t t = 0; t < n; ++t) {
      const auto k = static_cast<std::size_t>(src[static_cast<std::size_t>(t)]);
      const auto r = static_cast<std::size_t>(rows[static_cast<std::size_t>(t)]);
      for (index_t c = 0; c < k_comp; ++c) {
        a[static_cast<std::size_t>(c * rr) + r] = adv.adv[static_cast<std::size_t>(c * n_all) + k];
        act[static_cast<std::size_t>(c * rr) + r] = adv.act[static_cast<std::size_t>(c * n_all) + k];
      }
      olp[r] = old_logp_[k];
      rlp[r] = ref_logp_[k];
      ret[static_cast<std::size_t>(t)] = adv.returns[k];
      oval[static_cast<std::size_t>(t)] = old_values_[k];
      tgt[r] = tok_target_[k];
    }
    const rlvr::token_batch pb{matrix_view<const token_t>(mb_seqs_.data(), nm, tt),
                               matrix_view<const mask_t>(mb_mask_.data(), nm, tt)};
    mb_logits_.resize(static_cast<std::size_t>(rr * v));
    const matrix_view<float> full(mb_logits_.data(), rr, v);
    std::vector<float> vals;
    if constexpr (uses_values) {
      vals.assign(static_cast<std::size_t>(rr), 0.0f);
      policy_.forward(pb, full, vector_view<float>(vals));
    } else {
      policy_.forward(pb, full);
    }
    m.forward_seconds += clk.lap();
    loss_batch_type lb{};
    lb.logits = matrix_view<const float>(full);
    lb.targets = vector_view<const token_t>(tgt);
    lb.advantages = matrix_view<const float>(a.data(), k_comp, rr);
    lb.active = matrix_view<const mask_t>(act.data(), k_comp, rr);
    lb.seq = vector_view<const std::int32_t>(row_seq);
    lb.num_sequences = nm;
    if constexpr (O::uses_old_logp) lb.old_logp = vector_view<const float>(olp);
    if constexpr (O::uses_ref_logp) lb.ref_logp = vector_view<const float>(rlp);
    if constexpr (uses_ref_logits) { // kl_full: the reference's logits rows of this mini-batch
      mb_ref_logits_.resize(static_cast<std::size_t>(rr * v));
      const matrix_view<float> ref_full(mb_ref_logits_.data(), rr, v);
      forward_only(*reference_, pb, ref_full);
      lb.ref_logits = matrix_view<const float>(ref_full);
      m.forward_seconds += clk.lap();
    }
    loss_options lo{};
    lo.temperature = cfg_.temperature;
    update_result u;
    u.diag = loss_and_grad(be_, obj_, lb, full, lo); // in place: the logits become dL/dlogits
    u.diag.rows = n;                                 // report response tokens, as before
    m.loss_seconds += clk.lap();
    policy_.zero_grad();
    m.backward_seconds += clk.lap();
    if constexpr (uses_values) {
      std::vector<float> cur(static_cast<std::size_t>(n)), dv(static_cast<std::size_t>(n));
      for (index_t t = 0; t < n; ++t) cur[static_cast<std::size_t>(t)] = vals[static_cast<std::size_t>(rows[static_cast<std::size_t>(t)])];
      const value_loss_result vr = value_loss(vector_view<const float>(cur), vector_view<const float>(oval),
                                              vector_view<const float>(ret), vector_view<const mask_t>{},
                                              cfg_.value_clip, vector_view<float>(dv));
      u.value_loss = vr.loss;
      std::vector<float> dvals(static_cast<std::size_t>(nm * tt), 0.0f);
      for (index_t t = 0; t < n; ++t)
        dvals[static_cast<std::size_t>(rows[static_cast<std::size_t>(t)])] =
            static_cast<float>(cfg_.value_coef) * dv[static_cast<std::size_t>(t)];
      m.loss_seconds += clk.lap();
      policy_.backward(matrix_view<const float>(full), vector_view<const float>(dvals));
    } else {
      policy_.backward(matrix_view<const float>(full));
    }
    m.backward_seconds += clk.lap();
    const auto params = policy_.parameters();
    u.grad_norm = cfg_.max_grad_norm > 0 ? clip_grad_norm(params, cfg_.max_grad_norm) : global_grad_norm(params);
    opt_.step(params);
    m.optimizer_seconds += clk.lap();
    return u;
  }

  using loss_batch_type = rlvr::loss_token_batch<float>;

  P& policy_;
  Opt& opt_;
  R reward_;
  O obj_;
  B be_;
  trainer_config cfg_;
  mutable std::optional<P> reference_; // mutable: parameters() is non-const in the Policy concept
  callback_type callback_;
  index_t step_ = 0;
  // per-step buffers (reused)
  std::vector<token_t> seqs_;
  std::vector<index_t> len_, plen_; // response and prompt length of each sequence
  std::vector<float> rewards_, logits_, values_, old_values_, old_logp_, ref_logp_;
  std::vector<mask_t> mask_; // [B, T] response rows of the rollout batch (token_batch::mask)
  std::vector<std::int32_t> tok_seq_;
  std::vector<index_t> tok_row_;
  std::vector<token_t> tok_target_;
  std::vector<std::int64_t> group_ids_;
  std::vector<token_t> mb_seqs_;
  std::vector<mask_t> mb_mask_; // [nm, T] response rows of the mini-batch
  std::vector<float> mb_logits_, mb_ref_logits_;
};

//! A task passed as the reward deduces `trainer<…, tasks::verifier<Task>, …>`.
template <Policy P, tasks::TaskVerifier T, Objective O, Optimizer Opt, Backend B>
  requires(!TokenReward<T>)
trainer(P&, Opt&, T, O, B, trainer_config) -> trainer<P, tasks::verifier<T>, O, Opt, B>;

} // namespace rlvr
