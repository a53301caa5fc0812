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
//! **Metrics are identical on every rank** except the timings: the rollout metrics come from
//! the gathered batch, the update metrics from the gathered shard diagnostics.
//!
//! **Prompts of different lengths** share one step: the rollout is `rlvr::generate` (each
//! sequence reads its own prompt through the KV cache and starts answering when it is read), the
//! rollout batch is right-padded to the longest prompt + `max_response_tokens`, and the loss
//! runs over the response tokens only (gathered rows; no padded row enters the loss pass).
//! The policy's forwards still compute every row of T = longest prompt + budget for each
//! sequence: very unequal prompt lengths cost padding rows there.
//!
//! **Tasks as rewards.** A task (`rlvr::tasks::TaskVerifier`) may be passed where the reward is
//! wanted: the trainer wraps it in `tasks::verifier` and, when `max_response_tokens` is 0 or
//! `eos` is −1, takes them from the task (`max_response_length()`, `vocab().eos()`; `pad` from
//! `vocab().pad()` as well). The same happens for an explicit `tasks::verifier{task}`.
//!
//! **Canonical shards and data parallelism.** `trainer_config::shards` = S cuts the rollout
//! batch into S blocks of consecutive prompts (block k: prompts ⌊P·k/S⌋ … ⌊P·(k+1)/S⌋ − 1, each
//! rolled out by one `generate` call and scored by one forward) and every mini-batch into S
//! blocks of consecutive responses (one forward, loss and backward each); the mini-batch gradient
//! is the sum of the S shard gradients *in the order k = 0 … S − 1*, and each shard's loss uses
//! the whole mini-batch's token and sequence counts (`aggregation_options::component_tokens`,
//! `component_sequences`), so the shards add up to the mini-batch loss — the per-micro-batch
//! token-mean bug cannot happen. Batch statistics of the zoo's batch surrogates and gates
//! (Clip-Cov, KL-Cov, entropy selection) are per shard, as verl's are per micro-batch.
//! With a communicator `C` of R ranks (`rlvr/dist/communicator.hpp`; the default
//! `dist::single_process` is one rank), rank r computes the shards k with k mod R = r and the
//! results are exchanged: rollouts, rewards and log-probs by `all_gather` (so every rank holds the
//! whole rollout batch and computes the advantages — group statistics are right however a
//! prompt's G responses fall), gradients by `trainer_config::reduction`:
//! - `gradient_reduction::deterministic` (default): the shard gradients are all-gathered and
//!   every rank adds them in the order k = 0 … S − 1, so **1, 2, …, S ranks give bit-identical
//!   parameters, metrics and checkpoints** for a given S. Cost per update: each rank receives
//!   ⌈S/R⌉·R·|θ| floats instead of an all-reduce's ≈ 2|θ| (S/2 times the bytes), and holds its
//!   own ⌈S/R⌉ shard gradients plus one gathered chunk of R·⌈S/R⌉·2²⁰ floats;
//! - `gradient_reduction::fast`: each rank adds its own shards into one accumulator as they are
//!   computed (memory |θ|), then one `all_reduce` sums the ranks in the transport's order — equal
//!   to the deterministic sum within float rounding (relative L2 difference of the weights after 3
//!   Adam steps below 1e-5 on 2 and 3 ranks, tested), identical on every rank.
//! Every rank steps the optimizer on the same gradient, so the replicas never drift. Every rank
//! must pass the same prompts to `step` (checked: a mismatch is a `config_error` naming the
//! rank) and build the trainer with the same configuration (checked). S = 1 on one rank is the
//! plain single-process trainer, bit for bit; R must not exceed S (an idle rank is a
//! configuration error). `fit` writes checkpoints and metrics on rank 0 only (atomically); every
//! rank resumes from the same checkpoint path (shared storage), on any rank count.
//!
//! **Data layout.** Sequence i = p·G + j (response j of prompt p) is row i of the rollout batch
//! [P·G, T]: its prompt (L_i tokens), its response (`eos` included when produced) and padding.
//! The logits row i·T + L_i − 1 + j predicts response token j, so the N response tokens are
//! these rows, contiguous per sequence; the forward's mask marks them. Prompt and padding rows
//! are computed by the forward but never enter the loss (the loss writes their gradient rows
//! to zero). `last_sequences()` shows this layout.
//!
//! **What each objective costs the trainer:**
//!
//! | objective                                   | extra work per step                                   |
//! |---------------------------------------------|-------------------------------------------------------|
//! | psr, nsr, w_reinforce, reinforce, the zoo   | none beyond the policy                                |
//! | with kl_k1 … kl_k3_plus (grpo)              | the reference's forward over the rollout batch        |
//! | with kl_full                                | that, plus the reference's forward on every mini-batch |
//! | ppo (GAE)                                   | a value head, values at rollout, the value loss, and the reference's forward |
//! | any, with `track_reference_kl`              | the reference's forward over the rollout batch        |
//!
//! **PSR and NSR in the trainer.** Their estimators drop the other side's responses, which then
//! cost no forward or backward in the updates (`step_metrics::kept`, `dropped`); the token-mean
//! of each mini-batch runs over the kept responses' tokens. A rollout batch with nothing on the
//! trained side (NSR on an all-correct batch) runs no update: the step counts, the policy does
//! not move.
//!
//! **On- and off-policy updates.** The first mini-batch of the first epoch sees the rollout
//! policy (ρ = 1 up to the rounding between the inference and the training forward); every
//! later update is off-policy and the PPO clip can act. `step_metrics::approx_kl` and the clip
//! fractions show how far the updates went; `mini_batches = 1`, `epochs = 1` is a single
//! on-policy update per rollout batch.
//!
//! **The reference policy** is a copy of the policy made at construction, never updated. Its
//! forward runs every step (log π_ref of the rollout) and, with `kl_full`, on every mini-batch
//! (its logits rows); `save_state` stores it, so a resumed run keeps the same reference.
//!
//! **Reproducing the paper's runs** (spec §9: 8 rollouts per prompt, 4 updates per rollout batch,
//! rollout temperature 1.0, clip 0.2, gradient clip 1.0, AdamW at 1e-6):
//!
//!   rlvr::adamw opt({.lr = 1e-6});
//!   rlvr::trainer tr(model, opt, verifier, rlvr::w_reinforce({.lambda = 0.1}), backend,
//!                    {.group_size = 8, .temperature = 1.0, .max_response_tokens = budget,
//!                     .eos = eos, .mini_batches = 4, .max_grad_norm = 1.0, .seed = 1});
//!
//! with `rlvr::psr()`, `rlvr::nsr()`, `rlvr::grpo()` or `rlvr::ppo()` for the other modes (the
//! defaults of the ready-made objectives are the paper's).
//!
//! **Learning-rate schedules** belong to the optimizer (`LearningRateControl`): the trainer reads
//! `opt.learning_rate()` at each step, so a schedule may call `opt.set_learning_rate(…)` between
//! steps, e.g. from the `on_step` callback; the optimizer's state (saved with it) keeps the rate.
//!
//! **Gradient clipping** applies to the mini-batch gradient after the shard sum (the same on
//! every rank), with `rlvr::clip_grad_norm`'s rule; the norm before clipping is reported.
//!
//! **PPO's value head.** The rollout's values V(s_t) are GAE's baseline and the centre of the
//! value clip; GAE's returns are the value targets. Each update adds the value loss's gradient,
//! scaled by `value_coef`, to the same backward as the policy loss.
//!
//! **What the trainer leaves to others.** Rollouts sample at τ only (no top-p / top-k); the
//! trainer never changes the learning rate (it reports `Opt::learning_rate()`); evaluation runs
//! through `fit_config::eval`; prompts come from the caller.
//!
//! **Callbacks.** `on_step`'s callback runs on every rank after the step counter advanced, so an
//! exception it throws leaves a completed step behind.
//!
//! **Choosing S.** `shards` fixes the trajectory (the summation order and the per-shard batch
//! statistics of the zoo's batch parts): keep it for a whole run, and choose it ≥ the largest
//! rank count you will use. More shards mean smaller forwards (less activation memory per pass)
//! and more gradient traffic with the deterministic reduction. A multiple of the rank count
//! balances the ranks (each owns S/R shards).
//!
//! **Several processes** (docs/distributed.md): every rank builds the same trainer with the
//! same `shards` and its communicator, and calls `step` / `fit` with the same prompts:
//!
//!   rlvr::dist::mpi_session mpi(&argc, &argv);        // launched by mpirun
//!   rlvr::trainer tr(model, opt, task, rlvr::grpo(), backend, {.shards = 4}, rlvr::dist::mpi_communicator{});
//!
//! **What the trainer calls on its parts.** Policy: `vocab_size()`, `context_length()`,
//! `make_cache` / `decode` (through `rlvr::generate`), `forward(batch, logits[, values])`,
//! `forward_inference` when it has one, `zero_grad()`, `backward(dlogits[, dvalues])`,
//! `parameters()`, `has_value_head()` when it has one. Optimizer: `step(parameters)`,
//! `learning_rate()`, `save_state` / `load_state`. Reward: once per response per step, on the
//! rank that owns the response's shard, serially in response order. Communicator: the
//! collectives named in "Canonical shards", with every rank calling them in the same order.
//!
//! **Rewards and responses.** A response is the tokens after the prompt up to and including
//! `eos`, or `max_response_tokens` tokens without it (truncated). Rewards are stored as float
//! for the estimators; they need not be binary, and a NaN marks an unscored response (the
//! estimator drops it).
//!
//! **Changing the configuration of a resumed run.** `load_state` refuses another seed or shard
//! count; other changes (mini_batches, epochs, group_size, the objective's numbers) are accepted
//! and the run continues on another trajectory than the original would have.
//!
//! **Tests** (tests/trainer, `ctest -L trainer`): a closed-form REINFORCE step on the tabular
//! policy, PSR/NSR dropping and their effect on the distribution, seed determinism and
//! thread-count independence, resuming bit for bit, the clip engaging after the first
//! mini-batch, the error messages, the phase timings, and the compile-fail test for PPO without
//! a value head.
//!
//! **Usage** (docs/trainer.md has the full walk-through):
//!
//!   rlvr::tasks::zp_walk task;
//!   rlvr::transformer_policy model({.vocab_size = task.vocab().size(), .context_length = 15});
//!   rlvr::adamw opt({.lr = 3e-4, .weight_decay = 0.0});
//!   rlvr::trainer tr(model, opt, task, rlvr::nsr(), rlvr::eigen_backend{.threads = 0},
//!                    {.group_size = 8, .mini_batches = 4, .seed = 42});   // budget, eos, pad: the task's
//!   tr.on_step([](const rlvr::step_metrics& m) { std::printf("%.3f\n", m.reward_mean); });
//!   tr.step(prompts);                                 // or tr.fit(source, {.steps = 400, …})
//!
//! **Requirements on the types** (checked at compile time, each with a message naming the rule):
//! an objective that needs values (PPO's GAE) needs a `ValueHeadPolicy`; the backend must run the
//! loss and log-probs over float logits (`FusedLossBackend`, `LogProbBackend`) in the policy's
//! memory space, and that space must be host-accessible (the trainer's buffers are host memory).
//! Objectives with a KL term, with `kl_full`, or with values also need a copy-constructible
//! policy: the frozen reference is a copy of it made at construction.
//!
//! **Memory.** The trainer keeps its per-step buffers between steps (reused, grown to the
//! largest step): the rollout batch [P·G, T] of tokens and masks (T = longest prompt +
//! `max_response_tokens`), per-token arrays over its N response tokens (log-probs, values,
//! advantages), the logits of one rollout shard [P·G/S·T, V] for the log-prob forward, and those
//! of one mini-batch shard for the update (twice with `kl_full`). The policy's own activations
//! come on top.
//!
//! **Threads.** A trainer is used by one thread at a time (`step` mutates its buffers, the policy
//! and the optimizer); parallelism is inside the backend (`eigen_backend{.threads}`) and across
//! ranks (the communicator). Results never depend on the thread count.
//!
//! **Errors.** Construction: `config_error` for a bad `trainer_config` (naming the field), for
//! ranks that disagree on the configuration, for more ranks than shards, for `eos` or `pad`
//! outside the vocabulary, for a PPO objective on a policy built without its value head, and for
//! `track_reference_kl` with a policy that cannot be copied.
//! `step`: `shape_error` for no prompts or an empty prompt, `range_error` for a prompt token
//! outside the vocabulary, `config_error` for a prompt that does not fit the context with
//! `max_response_tokens`, or for ranks given different prompts; the errors of the parts (the
//! loss's numerical errors, a policy's or communicator's) pass through. After an exception
//! inside `step` the trainer's state (policy, optimizer, step counter) is unspecified: reload a
//! checkpoint.

#include <algorithm>
#include <chrono>
#include <bit>
#include <concepts>
#include <filesystem>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <iterator>
#include <optional>
#include <span>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "rlvr/config.hpp"
#include "rlvr/dist/communicator.hpp"
#include "rlvr/error.hpp"
#include "rlvr/generate.hpp"
#include "rlvr/io/safetensors.hpp"
#include "rlvr/linear_head.hpp"
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
#if __has_include(<Eigen/Core>) // the fused LM head's GEMMs are Eigen's (rlvr::eigen on the include path)
#include "rlvr/fused_linear.hpp"
#define RLVR_TRAINER_FUSED_HEAD 1
#else
#define RLVR_TRAINER_FUSED_HEAD 0
#endif

namespace rlvr {

//! How shard gradients are summed across ranks (see the file comment).
//! Only matters with several ranks: on one rank both add the S shard gradients in shard order
//! into one accumulator, so they give the same bits.
//! Both sum the shards of a mini-batch; they differ only in how the ranks combine their parts.
enum class gradient_reduction : std::uint8_t {
  deterministic, //!< all-gather the S shard gradients, add them in order: bit-identical on any rank count
  fast,          //!< add own shards, then one all-reduce: equal within rounding, one collective
};

//! Where the trainer's update computes the loss (`trainer_config::lm_head`).
//! - `materialised`: the policy's forward writes the [B·T, V] logits of the mini-batch,
//!   `rlvr::loss_and_grad` turns them into ∂L/∂z in place, the policy's backward reads them.
//! - `fused`: the policy's `forward_hidden` writes the head's inputs [B·T, d],
//!   `rlvr::fused_linear_loss_and_grad` computes the loss and ∂L/∂h, ∂L/∂W, ∂L/∂b one vocabulary
//!   chunk at a time (rlvr/fused_linear.hpp: extra memory O(B·T·C) instead of O(B·T·V)) and
//!   `backward_hidden` takes ∂L/∂h through the trunk. Needs a policy that models
//!   `rlvr::FusedHeadPolicy`, Eigen on the include path and an objective without `kl_full`
//!   (which reads whole reference logits rows); otherwise the trainer's constructor throws a
//!   `config_error` saying which. The two paths agree to rounding, not bit for bit (tested:
//!   the same rollouts and weights within 1e-4 relative L2 after 5 AdamW steps of W-REINFORCE,
//!   GRPO and PPO on the reference transformer).
//! - `automatic` (default): `fused` where it is available, else `materialised`. Measured on the
//!   reference transformer (bench_policy `BM_update_lm_head`, docs/performance.md): at the
//!   study's V = 32 the two paths cost about the same, from V = 512 on the fused one is faster
//!   (about 10× at V = 4096 and 32768); its extra memory is O(rows·C) instead of O(rows·V).
enum class lm_head_mode : std::uint8_t { automatic, materialised, fused };

//! The trainer's run-time numbers (structure — objective, policy, … — is in the types).
//! Aggregate: designated initialisers must follow the field order `group_size, temperature,
//! max_response_tokens, eos, pad, mini_batches, epochs, max_grad_norm, shuffle, seed, value_clip,
//! value_coef, track_reference_kl, shards, reduction, lm_head, vocab_chunk` (any subset, in that order).
//! The defaults are the paper's settings where it has one (G = 8 rollouts per prompt,
//! τ = 1.0, 4 mini-batches per rollout batch, gradient clip 1.0; spec §9).
//!
//!   rlvr::trainer_config cfg{.group_size = 8, .temperature = 1.0, .max_response_tokens = 64,
//!                            .eos = 2, .mini_batches = 4, .seed = 7};
struct trainer_config {
  //! The group estimators (GRPO, RLOO, …) need G ≥ 2 for a baseline; G = 1 gives every
  //! response a group of one (A = 0 under rlvr's singleton convention).
  index_t group_size = 8;           //!< G responses per prompt (≥ 1)
  //! Also the temperature of the old / reference log-probs and of the loss, so that log π_old is
  //! the log-probability the sampler actually used.
  double temperature = 1.0;         //!< rollout temperature τ (> 0); the loss uses the same τ
  //! Every prompt's length plus this budget must fit the policy's `context_length`.
  index_t max_response_tokens = 0;  //!< response budget, `eos` included (≥ 1; 0 = the task's
                                    //!< `max_response_length()` when the reward is a task)
  //! Sampling stops at it; it belongs to the response (scored by the reward, trained by the loss).
  //! Must be < the policy's vocabulary size (checked at construction).
  token_t eos = -1;                 //!< end-of-response token (≥ 0; −1 = the task's eos)
  //! Never trained: padding rows are inactive in the loss. Must be < the vocabulary size.
  token_t pad = 0;                  //!< filler after `eos` in the padded batch (any valid id)
  //! The kept responses (those with an active token) are cut into this many nearly equal
  //! mini-batches; with fewer kept responses than mini-batches each gets one response. More
  //! mini-batches means more off-policy updates per rollout (the PPO clip then matters).
  index_t mini_batches = 4;         //!< optimizer updates per rollout batch and epoch (≥ 1)
  //! Each epoch reshuffles (a fresh Philox order per epoch) and runs all mini-batches again.
  index_t epochs = 1;               //!< passes over the rollout batch (≥ 1)
  //! Must be finite; the norm before clipping is reported either way (`step_metrics::grad_norm`).
  double max_grad_norm = 1.0;       //!< global-norm clip; ≤ 0 disables it
  //! false: mini-batches take the kept responses in rollout order (prompt by prompt).
  bool shuffle = true;              //!< shuffle responses before cutting mini-batches
  //! Together with the step counter it addresses every random draw; checkpoints record it and
  //! `load_state` refuses another.
  std::uint64_t seed = 0;           //!< the run's seed (rollouts and shuffles)
  //! c of `rlvr::value_loss`, in reward units (> 0; infinity disables the clip). PPO only.
  double value_clip = 0.5;          //!< PPO value-loss clip (verl's cliprange_value)
  //! The value head's gradient is scaled by this before the shared backward (finite, ≥ 0);
  //! `step_metrics::value_loss` reports the unscaled loss. PPO only.
  double value_coef = 0.5;          //!< weight of the value loss in the trunk's gradient
  //! Keeps a frozen copy of the initial policy (a copy-constructible policy is required) and
  //! runs its forward each step to report `step_metrics::ref_kl`; the loss is unchanged.
  bool track_reference_kl = false;  //!< report KL to the initial policy even without a KL term
  //! S changes the numbers (summation order, per-shard batch statistics); the rank count does not.
  index_t shards = 1;               //!< canonical shards S of the rollout batch and of each mini-batch (≥ 1, ≥ ranks)
  //! `fast` saves the gathered gradient memory and traffic; its results may differ in the last
  //! bits between rank counts.
  gradient_reduction reduction = gradient_reduction::deterministic; //!< across ranks (with S ≥ 2 or R ≥ 2)
  lm_head_mode lm_head = lm_head_mode::automatic; //!< materialised logits or the fused LM head (see lm_head_mode)
  index_t vocab_chunk = 1024;       //!< the fused head's vocabulary chunk C (≥ 1; rlvr/fused_linear.hpp)

  //! Throws `rlvr::config_error` naming the first bad field.
  //! The trainer calls it after filling the task defaults, so `max_response_tokens = 0` and
  //! `eos = −1` are accepted there only when the reward is a task.
  void validate() const {
    RLVR_EXPECTS(group_size >= 1, config, "trainer_config: group_size = ", group_size, " must be >= 1");
    RLVR_EXPECTS(temperature > 0.0 && std::isfinite(temperature), config, "trainer_config: temperature = ",
                 temperature, " must be finite and > 0");
    RLVR_EXPECTS(max_response_tokens >= 1, config, "trainer_config: max_response_tokens = ", max_response_tokens,
                 " must be >= 1: set it to the response budget (eos included), or pass a task (or "
                 "rlvr::tasks::verifier{task}) as the reward to use task.max_response_length()");
    RLVR_EXPECTS(eos >= 0, config, "trainer_config: eos = ", eos, " must be set to the end-of-response token id (or "
                 "pass a task as the reward to use task.vocab().eos())");
    // eos and pad are checked against the vocabulary by the trainer, which knows the policy.
    RLVR_EXPECTS(pad >= 0, config, "trainer_config: pad = ", pad, " must be a valid token id");
    RLVR_EXPECTS(mini_batches >= 1, config, "trainer_config: mini_batches = ", mini_batches, " must be >= 1");
    RLVR_EXPECTS(epochs >= 1, config, "trainer_config: epochs = ", epochs, " must be >= 1");
    // ≤ 0 is allowed (clipping off); NaN and infinity are not.
    RLVR_EXPECTS(std::isfinite(max_grad_norm), config, "trainer_config: max_grad_norm = ", max_grad_norm,
                 " must be finite");
    // +infinity passes (no value clip); NaN fails the comparison.
    RLVR_EXPECTS(value_clip > 0.0, config, "trainer_config: value_clip = ", value_clip, " must be > 0");
    RLVR_EXPECTS(value_coef >= 0.0 && std::isfinite(value_coef), config, "trainer_config: value_coef = ", value_coef,
                 " must be finite and >= 0");
    RLVR_EXPECTS(shards >= 1, config, "trainer_config: shards = ", shards, " must be >= 1");
    RLVR_EXPECTS(reduction == gradient_reduction::deterministic || reduction == gradient_reduction::fast, config,
                 "trainer_config: reduction = ", static_cast<int>(reduction), " is not a gradient_reduction");
    RLVR_EXPECTS(lm_head == lm_head_mode::automatic || lm_head == lm_head_mode::materialised ||
                     lm_head == lm_head_mode::fused,
                 config, "trainer_config: lm_head = ", static_cast<int>(lm_head), " is not an lm_head_mode");
    RLVR_EXPECTS(vocab_chunk >= 1, config, "trainer_config: vocab_chunk = ", vocab_chunk, " must be >= 1");
  }
};

//! A type S models `PromptSource` if, for `s` an lvalue of S and `step` an `index_t`,
//! 1. `s(step)` returns the prompts of rollout batch `step` as something convertible to
//!    `std::vector<std::vector<token_t>>` (P ≥ 1 prompts, lengths may differ), and
//! 2. (semantic) the result is a pure function of `step`, so that a resumed `fit` sees the
//!    prompts the uninterrupted run saw, and, on several ranks, every rank's source returns the
//!    same prompts (`step` checks it).
//!
//!   auto source = [&](rlvr::index_t step) {                // a counter-based draw: pure in step
//!     rlvr::philox_engine g(seed, static_cast<std::uint64_t>(step));
//!     std::vector<std::vector<rlvr::token_t>> p;
//!     for (int i = 0; i < 32; ++i) p.push_back(task.problem(g, rlvr::tasks::split::train));
//!     return p;
//!   };
template <class S>
concept PromptSource = requires(S& s, index_t step) {
  { s(step) } -> std::convertible_to<std::vector<std::vector<token_t>>>;
};

//! What `trainer::fit` runs. Aggregate: designated initialisers in the field order `steps,
//! eval_every, checkpoint_every, log, checkpoint, eval, resume`.
//! Every number is a count of rollout batches (steps). A `fit` with `steps` ≤ `steps_done()` runs
//! nothing (a finished run restarted is a no-op after the resume).
struct fit_config {
  //! The run's total, not the number of steps of this call: a resumed run continues to it.
  index_t steps = 0;            //!< run until `steps_done() == steps` (rollout batches in total)
  //! Intervals count the run's steps (steps_done() % every == 0), not this call's, so a resumed
  //! run keeps the schedule; "after the last" makes the final state always evaluated / saved.
  index_t eval_every = 0;       //!< call `eval` after every this many steps and after the last; 0 = never
  index_t checkpoint_every = 0; //!< save to `checkpoint` after every this many steps and after the last; 0 = never
  //! Borrowed; written on rank 0 only. Steps re-run after a resume are logged again.
  metrics_writer* log = nullptr; //!< each step's metrics (JSONL or CSV); null = none
  //! One file, overwritten at each checkpoint (temporary file + rename). On several ranks, a
  //! path every rank can read (shared storage).
  std::filesystem::path checkpoint{};         //!< safetensors checkpoint (written atomically)
  //! Called on every rank with the number of steps done; the trainer is between steps then, so
  //! the hook may read the policy (sample, score) but should not train it.
  std::function<void(index_t steps_done)> eval{}; //!< the evaluation hook (e.g. `rlvr::evaluate`)
  //! false: start from the trainer's current state and overwrite the checkpoint.
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

//! What `trainer::fit` did. `first_step + steps_run` is `steps_done()` on return.
struct fit_result {
  index_t first_step = 0;  //!< `steps_done()` when the loop started (> 0 after a resume)
  index_t steps_run = 0;   //!< rollout batches run by this call
  bool resumed = false;    //!< the state came from `fit_config::checkpoint`
  //! Counted on every rank (rank 0 wrote them).
  index_t checkpoints = 0; //!< checkpoints written
  step_metrics last{};     //!< the last step's metrics (zeros when no step ran)
};

namespace detail {
//! The task type behind a `tasks::verifier<Task>` reward (no `type` for other rewards): how
//! `with_task_defaults` knows the reward can supply the budget, eos and pad.
template <class R> struct task_of {};
template <class T> struct task_of<tasks::verifier<T>> {
  using type = T;
};
//! `cfg` with the unset response budget, eos and pad taken from the reward's task (when it is one).
//! pad is taken only together with eos (eos = −1 and pad = 0), so an explicit eos keeps the
//! caller's pad.
// Only fields left at their "unset" values change; an explicit value always wins.
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
// XOR-ed into the seed for the mini-batch shuffles: their Philox key differs from the
// sampler's (which uses the seed itself).
inline constexpr std::uint64_t shuffle_stream_tag = 0x5348'5546'464C'4521ULL; // "SHUFFLE!"

//! A lap timer over `std::chrono::steady_clock`: `lap()` returns the seconds since the previous
//! lap (or construction) and starts the next interval. steady_clock is monotonic: a change of
//! the system clock cannot make a phase negative.
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
//! model), `Opt` by reference, the reward, objective, backend and communicator by value.
//!
//! Template parameters: `P` the policy (`Policy`; `ValueHeadPolicy` for PPO), `R` the verifier
//! (`TokenReward`; a task is wrapped, see the deduction guides at the end), `O` the objective
//! (`Objective`: `rlvr::nsr()`, `rlvr::grpo()`, a weighted sum, …), `Opt` the optimizer
//! (`Optimizer`, e.g. `rlvr::adamw`), `B` the loss backend, `C` the communicator
//! (`dist::HostCommunicator`; one process by default). The policy and the optimizer must
//! outlive the trainer, and nothing else may step them while it runs.
template <Policy P, TokenReward R, Objective O, Optimizer Opt, Backend B,
          dist::HostCommunicator C = dist::single_process>
class trainer {
public:
  //! Receives each step's metrics, on every rank, after the step's updates.
  using callback_type = std::function<void(const step_metrics&)>;
  //! The objective reads a frozen reference policy: its log-probs (kl_k1…k3+) or its whole logits
  //! rows (kl_full, recomputed per mini-batch by a forward of the reference).
  static constexpr bool uses_reference = O::uses_ref_logp || detail::uses_ref_logits<O>();
  //! `kl_full`: the reference's logits rows are recomputed per mini-batch.
  static constexpr bool uses_ref_logits = detail::uses_ref_logits<O>();
  //! GAE: values at rollout, a value loss in each update, and the reference (KL in the reward).
  static constexpr bool uses_values = O::needs_values;
  // The type requirements of the file comment, each failing with a message naming its rule.
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

  //! `comm`: the ranks this trainer runs on (every rank constructs its trainer with the same
  //! arguments; see "Canonical shards and data parallelism" in the file comment).
  //!
  //! Fills the task defaults of `cfg` (when the reward is a task), validates it, checks the
  //! ranks against each other (a collective: every rank must construct at the same time), the
  //! value head, the objective's numbers and eos / pad against the vocabulary, then copies the
  //! policy as the frozen reference when the objective (or `track_reference_kl`) needs one. The
  //! reference is the policy *as passed*: load pretrained weights before constructing. Errors:
  //! see the file comment.
  trainer(P& policy, Opt& optimizer, R reward, O objective, B backend, trainer_config cfg, C comm = C{})
      : policy_(policy), opt_(optimizer), reward_(std::move(reward)), obj_(objective), be_(backend),
        cfg_(detail::with_task_defaults(cfg, reward_)), comm_(std::move(comm)) {
    cfg_.validate();
    RLVR_EXPECTS(cfg_.shards >= comm_.size(), config, "trainer: ", comm_.size(), " ranks but trainer_config::shards = ",
                 cfg_.shards, ": every rank needs at least one shard; set shards to a multiple of the rank count "
                 "(e.g. 12 runs on 1, 2, 3, 4 or 6 ranks with the same results)");
    if (comm_.size() > 1) check_same_config();
    if constexpr (uses_values && requires(const P& p) { { p.has_value_head() } -> std::convertible_to<bool>; })
      RLVR_EXPECTS(policy_.has_value_head(), config, "trainer: the objective needs values V(s_t) (PPO with GAE) but ",
                   "the policy has no value head: build it with one (e.g. transformer_config{..., .value_head = true})");
    obj_.validate();
    RLVR_EXPECTS(cfg_.eos < policy_.vocab_size() && cfg_.pad < policy_.vocab_size(), config, "trainer: eos = ",
                 cfg_.eos, " or pad = ", cfg_.pad, " is outside the policy's vocabulary [0, ", policy_.vocab_size(),
                 ")");
    fused_head_ = use_fused_head();
    // PPO keeps the reference even with gae::kl_beta = 0 (its forward then runs for nothing).
    if constexpr (uses_reference || uses_values) reference_.emplace(policy_); // GAE folds β·k1 into rewards
    else if (cfg_.track_reference_kl) {
      if constexpr (std::copy_constructible<P>) reference_.emplace(policy_);
      else fail<config_error>("trainer: track_reference_kl needs a copy-constructible policy");
    }
  }

  //! A task where the reward is wanted: the trainer scores with `tasks::verifier{task}`.
  //! Then `max_response_tokens = 0`, `eos = −1` (and `pad = 0` with it) take the task's values.
  template <tasks::TaskVerifier T>
    requires std::same_as<R, tasks::verifier<T>>
  trainer(P& policy, Opt& optimizer, T task, O objective, B backend, trainer_config cfg, C comm = C{})
      : trainer(policy, optimizer, R{std::move(task)}, objective, backend, cfg, std::move(comm)) {}

  //! Sets the per-step callback (replaces the previous one). On several ranks every rank's
  //! callback runs, with identical metrics apart from the timings.
  void on_step(callback_type cb) { callback_ = std::move(cb); }
  //! Rollout batches completed (the next `step` has this index); after `load_state`, the
  //! checkpoint's count.
  [[nodiscard]] index_t steps_done() const noexcept { return step_; }
  //! The configuration in use: `cfg` as given, with the task's defaults filled in.
  [[nodiscard]] const trainer_config& config() const noexcept { return cfg_; }
  //! The communicator (rank and size of this process among the trainer's ranks). Rank 0 writes
  //! `fit`'s files.
  [[nodiscard]] const C& communicator() const noexcept { return comm_; }

  //! One rollout batch and its updates over `prompts` (P ≥ 1 token sequences; lengths may differ).
  //! `step_metrics::entropy` is the rollout policy's mean token entropy at τ over all response
  //! tokens (from the log-prob forward), not the loss's per-mini-batch entropy.
  //!
  //! Runs phases 1–5 of the file comment, increments `steps_done()`, calls the `on_step`
  //! callback and returns the same metrics. Every rank passes the whole rollout batch's prompts
  //! (the same on every rank, checked) and rolls out its own shards. The prompts are only read
  //! (copied into the trainer's buffers): the caller may reuse them after the call.
  //! A step where the estimator drops every response (e.g. NSR on a batch with no wrong answer)
  //! runs no update: `updates` = 0, the policy is unchanged, and the step still counts.
  //! Cost: at most P·G·`max_response_tokens` sampled tokens, one forward over the rollout batch
  //! (two with a reference), and per update a forward, the fused loss and a backward over the
  //! mini-batch. Errors: see the file comment.
  //!
  //! `step_metrics::ref_kl` is, for an objective with a KL term, the last update's value as the
  //! loss saw it (k3 = `loss_diagnostics::ref_kl`, or the exact `full_kl` with `kl_full`); with a
  //! reference but no KL term in the loss (PPO, `track_reference_kl`), or when no update ran,
  //! the rollout policy's mean k3 over all response tokens; without a reference, 0. The other
  //! update metrics are means over the step's updates.
  step_metrics step(std::span<const std::vector<token_t>> prompts) {
    // total: the whole step; clk: one lap per phase (the laps never overlap).
    const detail::lap_timer total;
    detail::lap_timer clk;
    const index_t np = static_cast<index_t>(prompts.size());
    RLVR_EXPECTS(np >= 1, shape, "trainer::step: no prompts");
    // Input checks before any work, so that a bad prompt leaves the trainer untouched.
    index_t lmax = 0;
    for (index_t p = 0; p < np; ++p) {
      const auto& pr = prompts[static_cast<std::size_t>(p)];
      RLVR_EXPECTS(!pr.empty(), shape, "trainer::step: prompt ", p, " is empty");
      for (token_t t : pr)
        RLVR_EXPECTS(t >= 0 && t < policy_.vocab_size(), range, "trainer::step: prompt ", p, " has token ", t,
                     " outside [0, ", policy_.vocab_size(), ")");
      // Each sequence needs its own prompt + the budget ≤ the context; the longest prompt
      // passing makes every padded row of T tokens fit too.
      RLVR_EXPECTS(static_cast<index_t>(pr.size()) + cfg_.max_response_tokens <= policy_.context_length(), config,
                   "trainer::step: prompt ", p, " has ", pr.size(), " tokens; with max_response_tokens ",
                   cfg_.max_response_tokens, " it exceeds the policy's context_length ", policy_.context_length());
      lmax = std::max(lmax, static_cast<index_t>(pr.size()));
    }
    // nb = P·G sequences, each a row of tt = longest prompt + response budget tokens.
    const index_t g = cfg_.group_size, nb = np * g, lr_tok = cfg_.max_response_tokens, tt = lmax + lr_tok;
    const index_t v = policy_.vocab_size();
    // Prompt length per sequence: sequence i answers prompt ⌊i/G⌋.
    plen_.resize(static_cast<std::size_t>(nb));
    for (index_t i = 0; i < nb; ++i) plen_[static_cast<std::size_t>(i)] = static_cast<index_t>(prompts[static_cast<std::size_t>(i / g)].size());
    step_metrics m;
    m.step = step_;
    m.prompts = np;
    m.responses = nb;
    // The rate this step's updates use (the trainer never changes it).
    m.learning_rate = opt_.learning_rate();

    // A collective: every rank must call step together, with the same prompts.
    if (comm_.size() > 1) check_same_prompts(prompts);
    // the canonical rollout shards: prompts ⌊P·k/S⌋ … of shard k, its sequences ×G
    const index_t ns = cfg_.shards;
    roll_first_.assign(static_cast<std::size_t>(ns + 1), 0);
    for (index_t k = 0; k <= ns; ++k) roll_first_[static_cast<std::size_t>(k)] = (np * k / ns) * g;

    // ---- 1. rollout ----
    clk.lap(); // input checks are overhead
    // Rows start as padding; each rank fills its shards, then all ranks exchange them.
    seqs_.assign(static_cast<std::size_t>(nb * tt), cfg_.pad);
    len_.assign(static_cast<std::size_t>(nb), 0);
    for (index_t k = 0; k < ns; ++k)
      if (owns(k)) rollout(prompts, k, tt);
    // Every rank now receives the other ranks' rows: each holds the whole rollout batch.
    gather_rows(seqs_, tt);
    gather_rows(len_, 1);
    // ---- 2. verification ----
    // Each rank scores its own shards' responses (the reward sees the response without
    // padding: its first len_ tokens, `eos` included); rewards are stored as float.
    rewards_.assign(static_cast<std::size_t>(nb), 0.0f);
    for (index_t k = 0; k < ns; ++k) {
      if (!owns(k)) continue;
      for (index_t i = roll_first_[static_cast<std::size_t>(k)]; i < roll_first_[static_cast<std::size_t>(k + 1)]; ++i) {
        const auto& pr = prompts[static_cast<std::size_t>(i / g)];
        const token_t* row = seqs_.data() + i * tt + plen_[static_cast<std::size_t>(i)];
        rewards_[static_cast<std::size_t>(i)] = static_cast<float>(reward_(
            std::span<const token_t>(pr), std::span<const token_t>(row, static_cast<std::size_t>(len_[static_cast<std::size_t>(i)]))));
      }
    }
    // Every rank holds every reward: the group statistics need them all.
    gather_rows(rewards_, 1);
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
    // token ranges of each sequence (tokens of sequence i are contiguous, in order)
    // first_tok[i] … first_tok[i + 1] − 1 are sequence i's tokens in the flat list.
    std::vector<index_t> first_tok(static_cast<std::size_t>(nb + 1), 0);
    for (index_t i = 0; i < nb; ++i) first_tok[static_cast<std::size_t>(i + 1)] = first_tok[static_cast<std::size_t>(i)] + len_[static_cast<std::size_t>(i)];
    build_mask(nb, tt);
    // Per-token buffers over the N response tokens (entropy: for the rollout metrics only).
    old_logp_.assign(static_cast<std::size_t>(n), 0.0f);
    std::vector<float> ent(static_cast<std::size_t>(n));
    // Zeros when unused: the loss gets them only if the objective reads them.
    old_values_.assign(static_cast<std::size_t>(n), 0.0f);
    ref_logp_.assign(static_cast<std::size_t>(n), 0.0f);
    // One forward per owned rollout shard over its rows: old log-probs (a forward that keeps no
    // activations when the policy has one), values, then the reference's log-probs — log π read in
    // place from the logits (the rows of sequence i are contiguous: i·T + L_i − 1 …).
    for (index_t k = 0; k < ns; ++k) {
      if (!owns(k)) continue;
      const index_t s0 = roll_first_[static_cast<std::size_t>(k)], s1 = roll_first_[static_cast<std::size_t>(k + 1)];
      // A shard without prompts (S > P) has nothing to compute.
      if (s1 == s0) continue;
      // The shard's sequences are consecutive rows of the rollout batch: views, no copy.
      const index_t rows = (s1 - s0) * tt;
      logits_.resize(static_cast<std::size_t>(rows * v));
      const matrix_view<float> full(logits_.data(), rows, v);
      const rlvr::token_batch pb{matrix_view<const token_t>(seqs_.data() + s0 * tt, s1 - s0, tt),
                                 matrix_view<const mask_t>(mask_.data() + s0 * tt, s1 - s0, tt)};
      // The shard's tokens: [k0, k0 + nk) of the flat list.
      const index_t k0 = first_tok[static_cast<std::size_t>(s0)], nk = first_tok[static_cast<std::size_t>(s1)] - k0;
      if constexpr (uses_values) {
        // The value forward is the training forward (V needs the value head); V(s_t) of each
        // response token is read at the token's logits row.
        values_.assign(static_cast<std::size_t>(rows), 0.0f);
        policy_.forward(pb, full, vector_view<float>(values_));
        for (index_t t = k0; t < k0 + nk; ++t)
          old_values_[static_cast<std::size_t>(t)] = values_[static_cast<std::size_t>(tok_row_[static_cast<std::size_t>(t)] - s0 * tt)];
      } else {
        forward_only(policy_, pb, full);
      }
      // log π_old and the rollout entropy of the shard's response tokens, read in place.
      response_log_probs(full, tt, s0, s1, vector_view<float>(old_logp_.data() + k0, nk), vector_view<float>(ent.data() + k0, nk));
      // The reference reuses the same logits buffer once the policy's log-probs are read.
      if (reference_) {
        forward_only(*reference_, pb, full);
        response_log_probs(full, tt, s0, s1, vector_view<float>(ref_logp_.data() + k0, nk), vector_view<float>{});
      }
    }
    // Every rank now holds every token's log-probs (and values): the advantages need the batch.
    gather_tokens(old_logp_, first_tok);
    gather_tokens(ent, first_tok);
    if constexpr (uses_values) gather_tokens(old_values_, first_tok);
    if (reference_) {
      gather_tokens(ref_logp_, first_tok);
      // The rollout policy's k3 KL to the reference over all response tokens; for objectives
      // with a KL term the updates below replace it with the loss's own value.
      double kl = 0;
      for (index_t k = 0; k < n; ++k) {
        const double d = static_cast<double>(ref_logp_[static_cast<std::size_t>(k)]) - old_logp_[static_cast<std::size_t>(k)];
        kl += std::exp(d) - d - 1.0;
      }
      m.ref_kl = n ? kl / static_cast<double>(n) : 0.0;
    }
    m.logprob_seconds = clk.lap();
    // ---- advantages ----
    // One group per prompt (its G responses); every rank holds the whole batch, so the group
    // statistics are the same on every rank. No mask: every response token counts.
    group_ids_.resize(static_cast<std::size_t>(nb));
    for (index_t i = 0; i < nb; ++i) group_ids_[static_cast<std::size_t>(i)] = i / g;
    advantage_input<float> ain{};
    ain.rewards = vector_view<const float>(rewards_);
    ain.group_ids = vector_view<const std::int64_t>(group_ids_);
    ain.seq = vector_view<const std::int32_t>(tok_seq_);
    // GAE reads the values and both log-probs (the KL folded into the reward).
    if constexpr (uses_values) ain.values = vector_view<const float>(old_values_);
    ain.old_logp = vector_view<const float>(old_logp_);
    if (reference_) ain.ref_logp = vector_view<const float>(ref_logp_);
    // Raises for bad rewards (an infinite one: numerical_error) before any update.
    const advantage_result<float> adv = estimate_advantages(obj_, ain);

    // ---- metrics of the rollout ----
    // Computed on every rank from the gathered batch.
    fill_rollout_metrics(m, np, g, tt, ent);
    // Kept = active in at least one component; only kept responses enter the mini-batches, so
    // dropped ones cost no forward or backward.
    std::vector<std::uint8_t> kept(static_cast<std::size_t>(nb), 0);
    for (index_t c = 0; c < O::components; ++c)
      for (index_t k = 0; k < n; ++k)
        if (adv.act[static_cast<std::size_t>(c * n + k)]) kept[static_cast<std::size_t>(tok_seq_[static_cast<std::size_t>(k)])] = 1;
    // The kept responses in rollout order; each epoch shuffles this list in place.
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
      // Fisher–Yates with Philox's unbiased uniform_index: every permutation equally likely.
      for (std::size_t i = order.size() - 1; i > 0; --i)
        std::swap(order[i], order[eng.uniform_index(static_cast<std::uint32_t>(i + 1))]);
    };
    // Mini-batch b takes kept responses [nk·b/mbs, nk·(b+1)/mbs) of the shuffled order: sizes
    // differ by at most one. Response-level cuts keep every response whole in one update.
    const index_t nk = static_cast<index_t>(order.size());
    const index_t mbs = std::min(cfg_.mini_batches, std::max<index_t>(nk, 1));
    // Sums over the updates, for the step's means.
    double sum_loss = 0, sum_norm = 0, sum_clo = 0, sum_chi = 0, sum_kl = 0, sum_vl = 0;
    for (index_t e = 0; e < cfg_.epochs && nk > 0; ++e) {
      shuffle(e);
      for (index_t b = 0; b < mbs; ++b) {
        const index_t lo = nk * b / mbs, hi = nk * (b + 1) / mbs;
        // Cannot happen while mbs ≤ nk; kept so that an empty mini-batch never steps.
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
    // The step's update metrics are plain means over its updates (each update weighs the same).
    if (m.updates > 0) {
      const double inv = 1.0 / static_cast<double>(m.updates);
      m.loss = sum_loss * inv;
      m.grad_norm = sum_norm * inv;
      m.clip_frac_low = sum_clo * inv;
      m.clip_frac_high = sum_chi * inv;
      m.approx_kl = sum_kl * inv;
      m.value_loss = sum_vl * inv;
    }
    // The step is done (also without updates): the RNG position advances. The callback is not
    // timed.
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
  //! again). The manual API (`step`, `save_state`, `load_state`) stays available. On several
  //! ranks, rank 0 decides whether to resume and alone writes the metrics and checkpoints (the
  //! ranks meet at a barrier after each); every rank loads the checkpoint from the same path.
  //!
  //!   rlvr::metrics_writer log("run/metrics.jsonl");
  //!   auto r = tr.fit(source, {.steps = 400, .eval_every = 50, .checkpoint_every = 50, .log = &log,
  //!                            .checkpoint = "run/state.safetensors",
  //!                            .eval = [&](rlvr::index_t s) { /* rlvr::evaluate(…) */ }});
  //!
  //! Errors: `config_error` from `cfg.validate()` (a checkpoint or eval interval without its
  //! path or hook), from `load_state` (a checkpoint of another seed or shard count), `io_error`
  //! from reading or writing the checkpoint, and whatever `step`, the source or the hooks raise.
  //! Steps completed before an exception stay done (and checkpointed if their turn came).
  //! A trainer that already ran steps (through `step`) continues from `steps_done()`.
  template <PromptSource S> fit_result fit(S&& source, const fit_config& cfg) {
    cfg.validate();
    fit_result r;
    // rank 0 decides whether to resume (every rank then reads the same file: shared storage)
    std::int64_t resume = cfg.resume && !cfg.checkpoint.empty() && comm_.rank() == 0 && std::filesystem::exists(cfg.checkpoint);
    if (comm_.size() > 1) comm_.broadcast(std::span<std::int64_t>(&resume, 1), 0);
    // Every rank loads the same file, so all replicas resume from identical state.
    if (resume) {
      load_state(io::load_safetensors(cfg.checkpoint));
      r.resumed = true;
    }
    r.first_step = step_;
    // The source is asked for step s's prompts with the trainer's own counter, so a resumed run
    // asks for exactly the steps it has not done. Every rank calls it.
    while (step_ < cfg.steps) {
      const std::vector<std::vector<token_t>> prompts = source(step_);
      r.last = step(prompts);
      ++r.steps_run;
      // Files are written by rank 0 only; the others have the same metrics and state.
      const bool rank0 = comm_.rank() == 0;
      if (cfg.log && rank0) cfg.log->write(r.last);
      // The run's last step (not only this call's): checkpoint and evaluate regardless of the
      // intervals.
      const bool last = step_ == cfg.steps;
      if (cfg.checkpoint_every > 0 && (step_ % cfg.checkpoint_every == 0 || last)) {
        if (rank0) {
          state_dict d;
          save_state(d);
          io::save_safetensors(cfg.checkpoint, d);
        }
        if (comm_.size() > 1) comm_.barrier(); // a rank that stops here finds the checkpoint complete
        ++r.checkpoints;
      }
      // Evaluation after the checkpoint: a failing hook never costs the step's checkpoint.
      if (cfg.eval_every > 0 && (step_ % cfg.eval_every == 0 || last)) cfg.eval(step_);
    }
    return r;
  }

  //! The sampled sequences of the last step: [P·G, T] tokens (prompt, response, padding), the
  //! response lengths and the rewards — for inspection and tests.
  //! Views into the trainer's buffers: valid until the next `step`. Row i is response i mod G of
  //! prompt ⌊i/G⌋.
  [[nodiscard]] matrix_view<const token_t> last_sequences() const {
    return {seqs_.data(), static_cast<index_t>(len_.size()), len_.empty() ? 0 : static_cast<index_t>(seqs_.size() / len_.size())};
  }
  //! Response lengths of the last step's P·G sequences (tokens after the prompt, `eos` included).
  //! A length equal to `max_response_tokens` whose last token is not `eos` is a truncation.
  [[nodiscard]] std::span<const index_t> last_lengths() const { return len_; }
  //! True when the updates run the fused LM head (`trainer_config::lm_head`, resolved at
  //! construction: `automatic` becomes one of the two paths here).
  [[nodiscard]] bool fused_lm_head() const noexcept { return fused_head_; }
  //! Rewards of the last step's P·G sequences, as the estimator saw them (float).
  [[nodiscard]] std::span<const float> last_rewards() const { return rewards_; }

  //! Adds everything a resumed run needs to `d`: `policy.*` weights, `reference.*` weights (when
  //! there is a reference), `optim.*` optimizer state and the metadata `trainer.step` and
  //! `trainer.seed` (and `trainer.shards` when S ≠ 1).
  //! Nothing else is needed: the step counter is the RNG position, the configuration and the
  //! objective come from the constructor. Timings and the callback are not stored.
  //!
  //!   rlvr::state_dict d;
  //!   tr.save_state(d);
  //!   rlvr::io::save_safetensors("state.safetensors", d);   // later: tr.load_state(io::load_safetensors(…))
  void save_state(state_dict& d) const {
    store_parameters(d, policy_.parameters(), "policy.");
    if (reference_) store_parameters(d, reference_->parameters(), "reference.");
    state_dict o;
    opt_.save_state(o);
    d.merge(o, "optim.");
    d.set_meta("trainer.step", std::to_string(step_));
    d.set_meta("trainer.seed", std::to_string(cfg_.seed));
    if (cfg_.shards != 1) d.set_meta("trainer.shards", std::to_string(cfg_.shards));
  }
  //! Restores what `save_state` stored. Throws `rlvr::config_error` if the checkpoint's seed
  //! differs from this trainer's (a resumed run would silently diverge).
  //! The same for a different `shards` (another trajectory). The trainer must be built like the
  //! one that saved (same policy architecture, optimizer type, objective); a missing or
  //! misshapen tensor raises from `load_parameters` / the optimizer's `load_state`. The
  //! checks come before anything is loaded. The policy's and the reference's weights, the
  //! optimizer's state and the step counter are replaced; the configuration is the constructor's.
  void load_state(const state_dict& d) {
    const std::string& seed = d.meta("trainer.seed");
    RLVR_EXPECTS(seed == std::to_string(cfg_.seed), config, "trainer::load_state: checkpoint seed ", seed,
                 " differs from the trainer's seed ", cfg_.seed);
    const std::string* shards = d.find_meta("trainer.shards");
    const std::string mine = std::to_string(cfg_.shards);
    RLVR_EXPECTS((shards ? *shards : std::string("1")) == mine, config, "trainer::load_state: the checkpoint was written "
                 "with trainer_config::shards = ", shards ? *shards : std::string("1"), " but this trainer has ", mine,
                 ": the run would continue on another trajectory; use the same shards (any rank count <= shards works)");
    load_parameters(d, policy_.parameters(), "policy.");
    if (reference_) load_parameters(d, reference_->parameters(), "reference.");
    opt_.load_state(d.extract("optim."));
    step_ = static_cast<index_t>(d.meta_int("trainer.step"));
  }

private:
  // What one optimizer update reports: the mini-batch's loss diagnostics, the gradient norm
  // before clipping and the PPO value loss (0 without values).
  struct update_result {
    loss_diagnostics diag;
    double grad_norm = 0;
    double value_loss = 0;
  };

  // Rolls out canonical shard k with rlvr::generate (one decode batch over its prompts; sequence
  // i = p·G + j at Philox subsequence step·P·G + i, so a sequence's draws do not depend on S or
  // on the rank count) and lays it out as rows of [P·G, T] = prompt, response, padding.
  void rollout(std::span<const std::vector<token_t>> prompts, index_t k, index_t tt) {
    const index_t g = cfg_.group_size, nb = static_cast<index_t>(prompts.size()) * g;
    const index_t s0 = roll_first_[static_cast<std::size_t>(k)], s1 = roll_first_[static_cast<std::size_t>(k + 1)];
    if (s1 == s0) return;
    // Plain sampling at τ (top-p / top-k left off: the loss's log π is that of the sampled
    // distribution); log π_old comes from the forward afterwards, so the sampler's own log-prob
    // (`policy_logprob`) is not requested.
    const generation_config gc{.sampling = {.temperature = cfg_.temperature, .policy_logprob = false},
                               .max_tokens = cfg_.max_response_tokens,
                               .eos = cfg_.eos,
                               .pad = cfg_.pad,
                               .max_batch = 0};
    // max_batch = 0 above: the whole shard in one decode batch. The draws do not depend on it.
    const generation out =
        generate(policy_, prompts.subspan(static_cast<std::size_t>(s0 / g), static_cast<std::size_t>((s1 - s0) / g)), g, gc,
                 {.seed = cfg_.seed,
                  .first_subsequence = static_cast<std::uint64_t>(step_) * static_cast<std::uint64_t>(nb) +
                                       static_cast<std::uint64_t>(s0)},
                 be_);
    // Row i: the prompt, then the response (eos included), then the padding left by assign().
    for (index_t i = s0; i < s1; ++i) {
      const auto& pr = prompts[static_cast<std::size_t>(i / g)];
      const auto& resp = out.responses[static_cast<std::size_t>(i - s0)];
      std::copy(pr.begin(), pr.end(), seqs_.begin() + i * tt);
      std::copy(resp.begin(), resp.end(), seqs_.begin() + i * tt + static_cast<index_t>(pr.size()));
      len_[static_cast<std::size_t>(i)] = static_cast<index_t>(resp.size());
    }
  }

  // ---- data parallelism (see the file comment) ----
  // Does this rank compute canonical shard k? Round-robin: shard k belongs to rank k mod R, so
  // ranks own ⌈S/R⌉ or ⌊S/R⌋ shards.
  // On one rank every shard is owned (k mod 1 = 0).
  [[nodiscard]] bool owns(index_t k) const noexcept { return k % comm_.size() == comm_.rank(); }

  // Every rank's owned shards of `buf` onto every rank; shard k occupies elements [lo(k), hi(k)).
  // One variable-size all_gather of bytes: rank r sends its shards r, r + R, … in order, so the
  // receiver knows where each shard's bytes start. A no-op on one rank. A short or long message
  // raises a `comm` error naming the rank (a peer that ran another configuration).
  template <class T, class Lo, class Hi> void gather_shards(std::vector<T>& buf, index_t ns, Lo lo, Hi hi) {
    // The shards travel as raw bytes.
    static_assert(std::is_trivially_copyable_v<T>);
    if (comm_.size() == 1) return;
    std::vector<std::uint8_t> mine;
    for (index_t k = 0; k < ns; ++k)
      if (owns(k)) {
        const auto* b = reinterpret_cast<const std::uint8_t*>(buf.data() + lo(k));
        mine.insert(mine.end(), b, b + static_cast<std::size_t>(hi(k) - lo(k)) * sizeof(T));
      }
    const std::vector<std::uint8_t> all = dist::all_gather_v<C, std::uint8_t>(comm_, std::span<const std::uint8_t>(mine));
    // Rank r's message holds its shards r, r + R, … in that order.
    std::size_t at = 0;
    const index_t nr = comm_.size();
    for (index_t r = 0; r < nr; ++r)
      for (index_t k = r; k < ns; k += nr) {
        const std::size_t bytes = static_cast<std::size_t>(hi(k) - lo(k)) * sizeof(T);
        RLVR_EXPECTS(at + bytes <= all.size(), comm, "trainer: rank ", r, " sent fewer bytes than shard ", k, " needs");
        if (bytes) std::memcpy(reinterpret_cast<std::uint8_t*>(buf.data() + lo(k)), all.data() + at, bytes);
        at += bytes;
      }
    // A longer message than the shards need is a mismatch too.
    RLVR_EXPECTS(at == all.size(), comm, "trainer: the ranks sent ", all.size(), " bytes of rollout data, expected ", at);
  }
  // Per-sequence rows (`per` elements each) of the rollout shards: tokens (per = T), lengths
  // and rewards (per = 1).
  template <class T> void gather_rows(std::vector<T>& buf, index_t per) {
    gather_shards(buf, cfg_.shards, [&](index_t k) { return roll_first_[static_cast<std::size_t>(k)] * per; },
                  [&](index_t k) { return roll_first_[static_cast<std::size_t>(k + 1)] * per; });
  }
  // Per-token values of the rollout shards (log π_old, entropy, values, log π_ref): a shard's
  // tokens are those of its sequences, contiguous in the flat token list.
  template <class T> void gather_tokens(std::vector<T>& buf, const std::vector<index_t>& first_tok) {
    gather_shards(buf, cfg_.shards,
                  [&](index_t k) { return first_tok[static_cast<std::size_t>(roll_first_[static_cast<std::size_t>(k)])]; },
                  [&](index_t k) { return first_tok[static_cast<std::size_t>(roll_first_[static_cast<std::size_t>(k + 1)])]; });
  }

  // A policy whose hidden-state forward/backward also carry values (PPO with GAE on the fused path).
  template <class Q>
  static constexpr bool fused_values = requires(Q& p, const rlvr::token_batch& b, matrix_view<float> h,
                                                vector_view<float> v, matrix_view<const float> dh,
                                                vector_view<const float> dv) {
    p.forward_hidden(b, h, v);
    p.backward_hidden(dh, dv);
  };
  // Every static requirement of the fused update: a linear head, no kl_full, Eigen, and the value
  // overloads when the objective needs values (the run-time choice is `fused_head_`).
  static constexpr bool fused_head_possible = [] {
    if constexpr (!FusedHeadPolicy<P> || uses_ref_logits || !RLVR_TRAINER_FUSED_HEAD) return false;
    else if constexpr (uses_values) return fused_values<P>;
    else return true;
  }();

  // The update's path (lm_head_mode): true = the fused LM head. `fused` where it cannot run is a
  // config_error naming the missing piece.
  bool use_fused_head() const {
    const char* why = nullptr;
    if constexpr (!FusedHeadPolicy<P>)
      why = "the policy does not model rlvr::FusedHeadPolicy (lm_head(), forward_hidden, backward_hidden)";
    else if constexpr (uses_ref_logits)
      why = "the objective has kl_full, which reads whole reference logits rows";
    else if constexpr (!RLVR_TRAINER_FUSED_HEAD)
      why = "Eigen is not on the include path (link rlvr::eigen)";
    else if constexpr (uses_values && !fused_values<P>)
      why = "the objective needs values and the policy has no forward_hidden/backward_hidden with values";
    if (cfg_.lm_head == lm_head_mode::materialised) return false;
    if (cfg_.lm_head == lm_head_mode::fused) {
      RLVR_EXPECTS(why == nullptr, config, "trainer: trainer_config::lm_head = fused, but ", why,
                   "; use lm_head_mode::materialised or automatic");
      return true;
    }
    return why == nullptr;
  }

  // Every rank must run the same configuration: a differing seed or shape would desynchronise the
  // collectives or silently split different batches.
  // Compared: every field of trainer_config (a differing temperature or clip would not hang, but
  // would silently give the ranks different updates).
  void check_same_config() {
    // every field, doubles by their bits (the ranks must agree exactly, not to rounding)
    const auto bits = [](double x) { return std::bit_cast<std::int64_t>(x); };
    const std::int64_t mine[] = {static_cast<std::int64_t>(cfg_.seed), cfg_.shards, cfg_.group_size, cfg_.mini_batches,
                                 cfg_.epochs, cfg_.max_response_tokens, static_cast<std::int64_t>(cfg_.reduction),
                                 static_cast<std::int64_t>(cfg_.shuffle), static_cast<std::int64_t>(cfg_.lm_head),
                                 cfg_.vocab_chunk, bits(cfg_.temperature), cfg_.eos, cfg_.pad, bits(cfg_.max_grad_norm),
                                 bits(cfg_.value_clip), bits(cfg_.value_coef),
                                 static_cast<std::int64_t>(cfg_.track_reference_kl)};
    constexpr std::size_t f = std::size(mine);
    constexpr const char* names[f] = {"seed", "shards", "group_size", "mini_batches", "epochs", "max_response_tokens",
                                      "reduction", "shuffle", "lm_head", "vocab_chunk", "temperature (bits)", "eos",
                                      "pad", "max_grad_norm (bits)", "value_clip (bits)", "value_coef (bits)",
                                      "track_reference_kl"};
    std::vector<std::int64_t> all(f * static_cast<std::size_t>(comm_.size()));
    comm_.all_gather(std::span<const std::int64_t>(mine, f), std::span<std::int64_t>(all));
    for (int r = 1; r < comm_.size(); ++r)
      for (std::size_t i = 0; i < f; ++i)
        RLVR_EXPECTS(all[static_cast<std::size_t>(r) * f + i] == all[i], config, "trainer: rank ", r, " has trainer_config::",
                     names[i], " = ", all[static_cast<std::size_t>(r) * f + i], " but rank 0 has ", all[i],
                     ": every rank must construct its trainer with the same configuration");
  }
  // Every rank must pass the same prompts to `step` (FNV-1a over the prompts, gathered).
  // A 64-bit hash, not the prompts: one all_gather of R integers per step. Lengths are mixed in
  // so that prompts that concatenate to the same tokens differ.
  void check_same_prompts(std::span<const std::vector<token_t>> prompts) {
    // The 64-bit FNV-1a offset basis and prime.
    std::uint64_t h = 1469598103934665603ULL;
    auto mix = [&](std::uint64_t x) { h = (h ^ x) * 1099511628211ULL; };
    mix(prompts.size());
    for (const auto& pr : prompts) {
      mix(pr.size());
      for (token_t t : pr) mix(static_cast<std::uint32_t>(t));
    }
    const std::int64_t mine = static_cast<std::int64_t>(h);
    std::vector<std::int64_t> all(static_cast<std::size_t>(comm_.size()));
    comm_.all_gather(std::span<const std::int64_t>(&mine, 1), std::span<std::int64_t>(all));
    for (int r = 1; r < comm_.size(); ++r)
      RLVR_EXPECTS(all[static_cast<std::size_t>(r)] == all[0], config, "trainer::step: rank ", r,
                   " was given other prompts than rank 0 (step ", step_, "): every rank passes the whole rollout "
                   "batch's prompts and rolls out its share");
  }

  // The [B, T] mask of the forward's token_batch: 1 on the rows whose logits predict a response
  // token (position L_i − 1 + j predicts response token j), 0 on prompt and padding rows.
  void build_mask(index_t nb, index_t tt) {
    mask_.assign(static_cast<std::size_t>(nb * tt), mask_t{0});
    for (index_t i = 0; i < nb; ++i) {
      const index_t lp = plen_[static_cast<std::size_t>(i)];
      for (index_t j = 0; j < len_[static_cast<std::size_t>(i)]; ++j) mask_[static_cast<std::size_t>(i * tt + lp - 1 + j)] = 1;
    }
  }

  // The forward for log-probs only: `forward_inference` (no activations kept) when the policy
  // models InferenceForward, else its training forward. Its logits equal the training
  // forward's to rounding, so ρ is 1 to rounding on the first update.
  template <class Q> static void forward_only(Q& q, const rlvr::token_batch& pb, matrix_view<float> full) {
    if constexpr (InferenceForward<Q>) q.forward_inference(pb, full);
    else q.forward(pb, full);
  }

  // log π (and optionally H) of every response token of sequences [s0, s1), read in place from
  // their [(s1 − s0)·T, V] logits: one call per sequence over its contiguous block of rows (token
  // order = tok_target_ order; logp and ent start at the first token of sequence s0).
  void response_log_probs(matrix_view<const float> full, index_t tt, index_t s0, index_t s1, vector_view<float> logp,
                          vector_view<float> ent) {
    // k0: the flat index of sequence s0's first token (targets are indexed globally).
    index_t k = 0, k0 = 0;
    for (index_t i = 0; i < s0; ++i) k0 += len_[static_cast<std::size_t>(i)];
    for (index_t i = s0; i < s1; ++i) {
      const index_t l = len_[static_cast<std::size_t>(i)];
      if (l == 0) continue;
      const index_t lp = plen_[static_cast<std::size_t>(i)];
      log_prob_entropy(be_, full.block_rows((i - s0) * tt + lp - 1, l), vector_view<const token_t>(tok_target_.data() + k0 + k, l),
                       vector_view<float>(logp.data() + k, l),
                       ent.empty() ? vector_view<float>{} : vector_view<float>(ent.data() + k, l), cfg_.temperature);
      k += l;
    }
  }

  // The rollout part of step_metrics, from the whole batch (identical on every rank): rewards
  // and accuracy over the P·G responses (correct = reward > 0), solved / unsolved prompts (all
  // G correct / none), mean response length, truncation (the budget reached without eos) and
  // the rollout policy's mean token entropy over all response tokens.
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
        // Truncated: the budget used up and the last token is not eos.
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
    // H over all response tokens of the batch (every rank has them all).
    double h = 0;
    for (float x : ent) h += x;
    m.entropy = ent.empty() ? 0.0 : h / static_cast<double>(ent.size());
  }

  // One optimizer update over the mini-batch `seqs`: its S canonical shards' gradients (this rank
  // computes its own), summed in shard order across the ranks, clipped, one optimizer step. Adds
  // its phase times to m.forward_seconds, loss_seconds, backward_seconds and optimizer_seconds
  // (and nothing else to m).
  // Memory with several ranks and the deterministic reduction: ⌈S/R⌉·|θ| floats of this rank's
  // shard gradients, the |θ| sum, and one gathered chunk; otherwise the sum only.
  update_result update(std::span<const index_t> seqs, const std::vector<index_t>& first_tok,
                       const advantage_result<float>& adv, index_t tt, index_t v, step_metrics& m) {
    const index_t ns = cfg_.shards, nm = static_cast<index_t>(seqs.size()), nr = comm_.size();
    const auto params = policy_.parameters();
    // S = 1 on one rank: the loss sees the whole mini-batch, its own counts are the right
    // denominators, and the gradient stays in the parameters.
    if (ns == 1 && nr == 1) { // the single-process trainer
      update_result u = shard_pass(seqs, first_tok, adv, tt, v, m, nullptr, 1.0);
      detail::lap_timer clk;
      optimizer_step(params, u);
      m.optimizer_seconds += clk.lap();
      return u;
    }
    // The whole mini-batch's active tokens and sequences per component: every shard's loss
    // divides by these, so the shard losses (and gradients) add up to the mini-batch's.
    constexpr index_t kc = O::components;
    std::vector<double> ctok(static_cast<std::size_t>(kc), 0.0), cseq(static_cast<std::size_t>(kc), 0.0);
    // all_tokens: the mini-batch's response tokens, the value loss's denominator.
    double all_tokens = 0;
    for (const index_t i : seqs) {
      const index_t t0 = first_tok[static_cast<std::size_t>(i)], t1 = first_tok[static_cast<std::size_t>(i + 1)];
      all_tokens += static_cast<double>(t1 - t0);
      for (index_t c = 0; c < kc; ++c) {
        bool any = false;
        for (index_t t = t0; t < t1; ++t)
          if (adv.act[static_cast<std::size_t>(c * adv.tokens + t)]) {
            ctok[static_cast<std::size_t>(c)] += 1.0;
            any = true;
          }
        cseq[static_cast<std::size_t>(c)] += any ? 1.0 : 0.0;
      }
    }
    // Handed to every shard's loss: the whole mini-batch's denominators.
    aggregation_options agg{};
    agg.component_tokens = ctok.data();
    agg.component_sequences = cseq.data();
    index_t np_all = 0; // scalars in the policy's parameters
    for (const parameter_ref& p : params) np_all += p.size();
    const index_t slots = (ns + nr - 1) / nr; // shards per rank (the last ranks may own one fewer)
    constexpr index_t nf = 9; // loss, clip low, clip high, approx KL, ref KL, full KL, active, value loss, tokens
    // Deterministic on several ranks: this rank keeps its ⌈S/R⌉ shard gradients, then gathers
    // them chunk by chunk and adds all S in shard order. Otherwise (fast, or one rank) each shard
    // is added to one accumulator as it is computed — the same additions in the same order when
    // R = 1 — and the fast mode all-reduces that once.
    const bool gather = cfg_.reduction == gradient_reduction::deterministic && nr > 1;
    // The mini-batch gradient, flattened over the parameters in `parameters()` order.
    std::vector<float> sum(static_cast<std::size_t>(np_all), 0.0f);
    shard_grads_.assign(gather ? static_cast<std::size_t>(slots * np_all) : 0, 0.0f);
    // This rank's shards' diagnostics, one row of nf per slot (zeros for empty slots).
    std::vector<double> diag(static_cast<std::size_t>(slots * nf), 0.0);
    // Shard k of the mini-batch: its responses [nm·k/S, nm·(k+1)/S); empty when S > nm.
    auto shard_lo = [&](index_t k) { return nm * k / ns; };
    auto nonempty = [&](index_t k) { return shard_lo(k + 1) > shard_lo(k); };
    bool first = true;
    // This rank's shards: k = rank + j·R.
    for (index_t j = 0; j < slots; ++j) {
      const index_t k = comm_.rank() + j * nr;
      if (k >= ns || !nonempty(k)) continue;
      const auto part = seqs.subspan(static_cast<std::size_t>(shard_lo(k)), static_cast<std::size_t>(shard_lo(k + 1) - shard_lo(k)));
      // The shard's response tokens: its share of the mini-batch's value loss.
      double part_tokens = 0;
      for (const index_t i : part) part_tokens += static_cast<double>(len_[static_cast<std::size_t>(i)]);
      const update_result u = shard_pass(part, first_tok, adv, tt, v, m, &agg, part_tokens / all_tokens);
      // Copy the shard's gradient out of the parameters (the next shard_pass zeroes them): into
      // its own slot (deterministic gather) or added to the running sum (the first shard copied
      // rather than added to zeros).
      float* g = gather ? shard_grads_.data() + j * np_all : sum.data();
      for (const parameter_ref& p : params) {
        if (gather || first) std::copy(p.grad.begin(), p.grad.end(), g);
        else
          for (std::size_t e = 0; e < p.grad.size(); ++e) g[e] += p.grad[e];
        g += p.size();
      }
      first = false;
      const double d[nf] = {u.diag.loss,     u.diag.clip_frac_low, u.diag.clip_frac_high,
                            u.diag.approx_kl, u.diag.ref_kl,        u.diag.full_kl,
                            static_cast<double>(u.diag.active_tokens), u.value_loss, part_tokens};
      std::copy(d, d + nf, diag.begin() + j * nf);
    }
    // From here on the time counts as optimizer time: the exchanges of diagnostics and
    // gradients, the sum, the clip and the step.
    detail::lap_timer clk;
    std::vector<double> all_d(static_cast<std::size_t>(nr * slots * nf));
    comm_.all_gather(std::span<const double>(diag), std::span<double>(all_d));
    auto slot_of = [&](index_t k) { return (k % nr) * slots + k / nr; }; // shard k's slot in the gathered arrays
    if (gather) {
      constexpr index_t chunk = index_t{1} << 20; // elements per gather: R·⌈S/R⌉·4 MiB in flight
      std::vector<float> mine, all;
      for (index_t e0 = 0; e0 < np_all; e0 += chunk) {
        const index_t w = std::min(chunk, np_all - e0);
        // This rank's ⌈S/R⌉ slots of the chunk (a slot with no shard stays zero and is skipped).
        mine.resize(static_cast<std::size_t>(slots * w));
        for (index_t j = 0; j < slots; ++j)
          std::copy_n(shard_grads_.data() + j * np_all + e0, w, mine.data() + j * w);
        all.resize(static_cast<std::size_t>(nr * slots * w));
        comm_.all_gather(std::span<const float>(mine), std::span<float>(all));
        // Add the S shard gradients of this chunk in shard order 0 … S − 1, whatever rank sent
        // them: the same additions on every rank count.
        bool head = true;
        for (index_t k = 0; k < ns; ++k) {
          if (!nonempty(k)) continue;
          const float* g = all.data() + slot_of(k) * w;
          float* out = sum.data() + e0;
          if (head) std::copy(g, g + w, out);
          else
            for (index_t e = 0; e < w; ++e) out[e] += g[e];
          head = false;
        }
      }
    } else if (nr > 1) {
      // fast: one all-reduce of the ranks' partial sums, in the transport's order.
      comm_.all_reduce(std::span<float>(sum), dist::reduce_op::sum);
    }
    // The summed gradient goes back into the parameters for the clip and the optimizer.
    {
      const float* g = sum.data();
      for (const parameter_ref& p : params) {
        std::copy(g, g + p.size(), p.grad.begin());
        g += p.size();
      }
    }
    // the diagnostics of the mini-batch from its shards' (one shard: its own, exactly)
    update_result u;
    index_t filled = 0, last = 0;
    double act = 0;
    for (index_t k = 0; k < ns; ++k)
      if (nonempty(k)) {
        ++filled;
        last = k;
        act += all_d[static_cast<std::size_t>(slot_of(k) * nf + 6)];
      }
    // Field f of shard k's gathered diagnostics (the order of `d` above).
    auto field = [&](index_t k, index_t f) { return all_d[static_cast<std::size_t>(slot_of(k) * nf + f)]; };
    // One non-empty shard: its diagnostics as they are, with no recombination rounding.
    if (filled == 1) {
      u.diag.loss = field(last, 0);
      u.diag.clip_frac_low = field(last, 1);
      u.diag.clip_frac_high = field(last, 2);
      u.diag.approx_kl = field(last, 3);
      u.diag.ref_kl = field(last, 4);
      u.diag.full_kl = field(last, 5);
      u.value_loss = field(last, 7);
    } else {
      // Several shards: losses add up (global denominators); fractions and KLs are token means,
      // so they are recombined weighted by each shard's active tokens; the value loss by its
      // response tokens.
      double fr[6] = {0, 0, 0, 0, 0, 0}, vl = 0;
      for (index_t k = 0; k < ns; ++k) {
        if (!nonempty(k)) continue;
        fr[0] += field(k, 0);
        for (index_t f = 1; f < 6; ++f) fr[f] += field(k, f) * field(k, 6);
        vl += field(k, 7) * field(k, 8);
      }
      u.diag.loss = fr[0];
      const double inv = act > 0 ? 1.0 / act : 0.0;
      u.diag.clip_frac_low = fr[1] * inv;
      u.diag.clip_frac_high = fr[2] * inv;
      u.diag.approx_kl = fr[3] * inv;
      u.diag.ref_kl = fr[4] * inv;
      u.diag.full_kl = fr[5] * inv;
      u.value_loss = all_tokens > 0 ? vl / all_tokens : 0.0;
    }
    // Counts over the whole mini-batch, as shard_pass reports them for one shard.
    u.diag.active_tokens = static_cast<index_t>(act);
    u.diag.rows = static_cast<index_t>(all_tokens);
    optimizer_step(params, u);
    m.optimizer_seconds += clk.lap();
    return u;
  }

  // Global-norm clipping and one optimizer step (every rank holds the same summed gradient).
  // With clipping off the norm is still computed, for the metrics.
  void optimizer_step(std::span<const parameter_ref> params, update_result& u) {
    u.grad_norm = cfg_.max_grad_norm > 0 ? clip_grad_norm(params, cfg_.max_grad_norm) : global_grad_norm(params);
    opt_.step(params);
  }

  // The loss batch: float logits in host memory (the trainer's buffers are host memory).
  using loss_batch_type = rlvr::loss_token_batch<float>;

  // Forward, loss and backward of one shard (or of the whole mini-batch): leaves the shard's
  // gradient in the policy's parameters (zeroed first). `agg`: the mini-batch's counts when the
  // shard is part of one (null: this is the whole mini-batch); `vscale`: the shard's share of the
  // mini-batch's tokens (the value loss is a mean over them).
  // Cost: a forward, the fused loss (in place) and a backward over the shard's nm·T rows;
  // prompt and padding rows are computed by the policy but skipped by the loss.
  update_result shard_pass(std::span<const index_t> seqs, const std::vector<index_t>& first_tok,
                           const advantage_result<float>& adv, index_t tt, index_t v, step_metrics& m,
                           const aggregation_options* agg, double vscale) {
    detail::lap_timer clk;
    const index_t nm = static_cast<index_t>(seqs.size());
    const index_t k_comp = O::components, n_all = adv.tokens;
    // mini-batch tensors: sequences [nm, T] and their tokens (in mini-batch order)
    // rows[t]: the logits row of token t in the mini-batch's [nm·T, V] logits; src[t]: its
    // index in the rollout batch's flat token list (where its advantage and log-probs are).
    mb_seqs_.resize(static_cast<std::size_t>(nm * tt));
    // 1 on the rows that predict response tokens, as build_mask does for the rollout batch.
    mb_mask_.assign(static_cast<std::size_t>(nm * tt), mask_t{0});
    std::vector<index_t> rows;
    std::vector<index_t> src; // flat token index in the rollout batch
    // Copy sequence i's row to mini-batch row s and list its response tokens.
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
    // Zeros: rows that are not response tokens stay inactive in every component.
    std::vector<mask_t> act(static_cast<std::size_t>(k_comp * rr), 0);
    std::vector<token_t> tgt(static_cast<std::size_t>(rr), 0);
    // Every row's response index in the mini-batch (row r belongs to sequence r / T), so the
    // seq-mean aggregations and sequence-level parts see whole responses.
    std::vector<std::int32_t> row_seq(static_cast<std::size_t>(rr));
    for (index_t r = 0; r < rr; ++r) row_seq[static_cast<std::size_t>(r)] = static_cast<std::int32_t>(r / tt);
    // Scatter each token's advantages, flags, log-probs and target to its logits row; returns
    // and old values stay per token (the value loss runs over the token list).
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
    // The mini-batch's rows and mask for the training forward.
    const rlvr::token_batch pb{matrix_view<const token_t>(mb_seqs_.data(), nm, tt),
                               matrix_view<const mask_t>(mb_mask_.data(), nm, tt)};
    // PPO: the values of every row come with the logits (or hidden states), from the same forward.
    std::vector<float> vals;
    if constexpr (uses_values) vals.assign(static_cast<std::size_t>(rr), 0.0f);
#if RLVR_TRAINER_FUSED_HEAD
    if constexpr (fused_head_possible)
      if (fused_head_) {
        const lm_head_ref<float> head = policy_.lm_head();
        const index_t d = head.input_size();
        mb_hidden_.resize(static_cast<std::size_t>(rr * d));
        mb_dhidden_.resize(static_cast<std::size_t>(rr * d));
        const matrix_view<float> hid(mb_hidden_.data(), rr, d), dhid(mb_dhidden_.data(), rr, d);
        if constexpr (uses_values) policy_.forward_hidden(pb, hid, vector_view<float>(vals));
        else policy_.forward_hidden(pb, hid);
        m.forward_seconds += clk.lap();
        const loss_batch_type lb = make_loss_batch({}, tgt, a, act, row_seq, olp, rlp, nm, rr);
        policy_.zero_grad(); // the fused pass writes the head's gradients, backward_hidden adds the rest
        fused_linear_options fo{};
        fo.loss.temperature = cfg_.temperature;
        if (agg) fo.loss.aggregation = *agg;
        fo.vocab_chunk = cfg_.vocab_chunk;
        fo.accumulate = false; // overwrite: ∂L/∂h (every row, inactive ones 0) and the just-zeroed head gradients
        fo.layout = head.layout;
        update_result u;
        u.diag = fused_linear_loss_and_grad(be_, obj_, matrix_view<const float>(hid), head.weight, head.bias, lb, dhid,
                                            head.grad_weight, head.grad_bias, fo);
        u.diag.rows = n; // report response tokens, as the materialised path
        m.loss_seconds += clk.lap();
        if constexpr (uses_values) {
          const std::vector<float> dvals = value_grad(u, vals, rows, oval, ret, n, nm * tt, vscale);
          m.loss_seconds += clk.lap();
          policy_.backward_hidden(matrix_view<const float>(dhid), vector_view<const float>(dvals));
        } else {
          policy_.backward_hidden(matrix_view<const float>(dhid));
        }
        m.backward_seconds += clk.lap();
        return u;
      }
#endif
    // The training forward (activations kept for the backward), into the reused logits buffer.
    mb_logits_.resize(static_cast<std::size_t>(rr * v));
    const matrix_view<float> full(mb_logits_.data(), rr, v);
    if constexpr (uses_values) policy_.forward(pb, full, vector_view<float>(vals));
    else policy_.forward(pb, full);
    m.forward_seconds += clk.lap();
    loss_batch_type lb = make_loss_batch(matrix_view<const float>(full), tgt, a, act, row_seq, olp, rlp, nm, rr);
    if constexpr (uses_ref_logits) { // kl_full: the reference's logits rows of this mini-batch
      mb_ref_logits_.resize(static_cast<std::size_t>(rr * v));
      const matrix_view<float> ref_full(mb_ref_logits_.data(), rr, v);
      forward_only(*reference_, pb, ref_full);
      lb.ref_logits = matrix_view<const float>(ref_full);
      m.forward_seconds += clk.lap();
    }
    // Shards divide by the whole mini-batch's counts (agg); alone, the mini-batch uses its own.
    loss_options lo{};
    lo.temperature = cfg_.temperature;
    if (agg) lo.aggregation = *agg;
    update_result u;
    u.diag = loss_and_grad(be_, obj_, lb, full, lo); // in place: the logits become dL/dlogits
    u.diag.rows = n;                                 // report response tokens, as before
    m.loss_seconds += clk.lap();
    // Each shard's backward starts from zero gradients: the shard sum is formed in update().
    policy_.zero_grad();
    m.backward_seconds += clk.lap();
    if constexpr (uses_values) {
      const std::vector<float> dvals = value_grad(u, vals, rows, oval, ret, n, nm * tt, vscale);
      m.loss_seconds += clk.lap();
      // One backward through both heads: dL/dlogits (in `full`) and value_coef·dL_V/dV.
      policy_.backward(matrix_view<const float>(full), vector_view<const float>(dvals));
    } else {
      // The policy loss's gradient only.
      policy_.backward(matrix_view<const float>(full));
    }
    m.backward_seconds += clk.lap();
    return u;
  }

  // The loss batch of a shard: `logits` (empty for the fused head) and the per-row arrays.
  loss_batch_type make_loss_batch(matrix_view<const float> logits, const std::vector<token_t>& tgt,
                                  const std::vector<float>& a, const std::vector<mask_t>& act,
                                  const std::vector<std::int32_t>& row_seq, const std::vector<float>& olp,
                                  const std::vector<float>& rlp, index_t nm, index_t rr) const {
    loss_batch_type lb{};
    lb.logits = logits;
    // one sequence id per mini-batch response (row_seq), nm of them; only the inputs the
    // objective reads are passed
    lb.targets = vector_view<const token_t>(tgt);
    lb.advantages = matrix_view<const float>(a.data(), O::components, rr);
    lb.active = matrix_view<const mask_t>(act.data(), O::components, rr);
    lb.seq = vector_view<const std::int32_t>(row_seq);
    lb.num_sequences = nm;
    if constexpr (O::uses_old_logp) lb.old_logp = vector_view<const float>(olp);
    if constexpr (O::uses_ref_logp) lb.ref_logp = vector_view<const float>(rlp);
    return lb;
  }

  // PPO's value loss over the shard's response tokens: records it in `u` and returns ∂L/∂values
  // [rows of the mini-batch] (value_coef·vscale·∂(value loss)/∂V at the response rows, 0 elsewhere).
  std::vector<float> value_grad(update_result& u, const std::vector<float>& vals, const std::vector<index_t>& rows,
                                const std::vector<float>& oval, const std::vector<float>& ret, index_t n, index_t nrows,
                                double vscale) const {
    // current V at each response token's row; over all of the shard's response tokens (no mask),
    // D = their count; the gradient is scaled by value_coef and by the shard's token share, so the
    // shards' value gradients add up to the mini-batch mean's
    std::vector<float> cur(static_cast<std::size_t>(n)), dv(static_cast<std::size_t>(n));
    for (index_t t = 0; t < n; ++t) cur[static_cast<std::size_t>(t)] = vals[static_cast<std::size_t>(rows[static_cast<std::size_t>(t)])];
    const value_loss_result vr = value_loss(vector_view<const float>(cur), vector_view<const float>(oval),
                                            vector_view<const float>(ret), vector_view<const mask_t>{},
                                            cfg_.value_clip, vector_view<float>(dv));
    u.value_loss = vr.loss;
    // back to the [nm·T] row layout of the values, zero off the response rows
    std::vector<float> dvals(static_cast<std::size_t>(nrows), 0.0f);
    for (index_t t = 0; t < n; ++t)
      dvals[static_cast<std::size_t>(rows[static_cast<std::size_t>(t)])] =
          static_cast<float>(cfg_.value_coef * vscale) * dv[static_cast<std::size_t>(t)];
    return dvals;
  }

  // The caller's model and optimizer (borrowed) and the parts held by value.
  P& policy_;
  Opt& opt_;
  R reward_;
  O obj_;
  B be_;
  // Validated, with the task's defaults filled in.
  trainer_config cfg_;
  mutable std::optional<P> reference_; // mutable: parameters() is non-const in the Policy concept
  callback_type callback_;
  C comm_;
  // Rollout batches done: the next step's index and, with the seed, the RNG position.
  index_t step_ = 0;
  // per-step buffers (reused)
  std::vector<index_t> roll_first_; // [S + 1] first sequence of each canonical rollout shard
  std::vector<float> shard_grads_;  // deterministic, R > 1: this rank's shard gradients, ⌈S/R⌉ × |θ|
  // [P·G, T] rollout tokens: prompt, response, padding per row.
  std::vector<token_t> seqs_;
  std::vector<index_t> len_, plen_; // response and prompt length of each sequence
  // Per sequence: rewards. Per token: values at rollout, log π_old, log π_ref. Per rollout
  // shard: its logits and per-row values (log-prob forward).
  std::vector<float> rewards_, logits_, values_, old_values_, old_logp_, ref_logp_;
  std::vector<mask_t> mask_; // [B, T] response rows of the rollout batch (token_batch::mask)
  // The flat list of the N response tokens: sequence, logits row in the rollout batch's
  // [P·G·T, V] layout, and the sampled token; group id (prompt) per sequence.
  std::vector<std::int32_t> tok_seq_;
  std::vector<index_t> tok_row_;
  std::vector<token_t> tok_target_;
  std::vector<std::int64_t> group_ids_;
  // [nm, T] tokens of the current mini-batch shard (rows copied from seqs_).
  std::vector<token_t> mb_seqs_;
  std::vector<mask_t> mb_mask_; // [nm, T] response rows of the mini-batch
  // [nm·T, V] logits of the current mini-batch shard (in place: they become dL/dlogits), and
  // the reference's for kl_full.
  std::vector<float> mb_logits_, mb_ref_logits_;
  std::vector<float> mb_hidden_, mb_dhidden_; // the fused head's [rows, d] inputs and ∂L/∂h
  bool fused_head_ = false;                   // the update runs the fused LM head (lm_head_mode)
};

//! A task passed as the reward deduces `trainer<…, tasks::verifier<Task>, …>`.
//! (`requires(!TokenReward<T>)`: a type that is already a token reward is used as it is.)
template <Policy P, tasks::TaskVerifier T, Objective O, Optimizer Opt, Backend B>
  requires(!TokenReward<T>)
trainer(P&, Opt&, T, O, B, trainer_config) -> trainer<P, tasks::verifier<T>, O, Opt, B>;
//! … and with a communicator.
template <Policy P, tasks::TaskVerifier T, Objective O, Optimizer Opt, Backend B, dist::HostCommunicator C>
  requires(!TokenReward<T>)
trainer(P&, Opt&, T, O, B, trainer_config, C) -> trainer<P, tasks::verifier<T>, O, Opt, B, C>;

} // namespace rlvr
