#pragma once
//! \file rlvr/evaluate.hpp
//! \brief `rlvr::evaluate`: sample n responses per prompt with `rlvr::generate`, score them with
//! a reward (or a task's exact verifier), and report Pass@k, pass^k and maj@k with percentile
//! bootstrap intervals over the prompts, plus the mean token entropy and response length.
//!
//!     rlvr::evaluation e = rlvr::evaluate(policy, task, prompts, /*n=*/64, /*ks=*/{1, 8, 64},
//!         {.generation = {.sampling = {.temperature = 0.6, .top_p = 0.95}, .max_tokens = 16,
//!                         .eos = eos}},
//!         {.seed = 3});
//!     e.pass_at_k[1].mean, e.pass_at_k[1].low, e.pass_at_k[1].high;   // k = ks[1] = 8
//!
//! Definitions (per prompt, over its n samples; a sample is *correct* when its reward is > 0):
//! - pass@k = 1 − C(n−c, k)/C(n, k) and pass^k = C(c, k)/C(n, k) (rlvr/metrics/pass_at_k.hpp);
//! - maj@k = the mean over ⌊n/k⌋ disjoint groups of k samples (in draw order) of the majority
//!   vote's correctness, ties split evenly (rlvr/metrics/majority.hpp). A sample's *answer* is
//!   `answer(prompt, response)` when `evaluation_config::answer` is set, else the response tokens
//!   without a final `eos`; an empty answer abstains.
//! Each reported value is the mean over prompts with its percentile-bootstrap interval
//! (`evaluation_config::bootstrap`: resamples of the prompt set, seeded; every k and metric uses
//! the same resampled sets). `mean_entropy` is the mean over all sampled tokens of the token
//! entropy at the sampling temperature (before top-k/top-p); `mean_length` the mean response
//! length in tokens (`eos` included).
//!
//! Reproducibility: the samples are `rlvr::generate`'s (addressed by `streams`), the bootstrap
//! is seeded, and every sum runs in a fixed order, so the result is a pure function of
//! (weights, prompts, config, streams) for any thread count.
//!
//! With a task as the reward (or `tasks::verifier{task}`), an unset `max_tokens` (0) and `eos`
//! (−1) come from the task (`max_response_length()`, `vocab().eos()`, and `pad` from
//! `vocab().pad()`).
//!
//! Errors: those of `generate`; k < 1 or k > n (`rlvr::range_error`, naming k); an empty `ks`
//! means k = 1, 2, 4, …, n. The ks are checked after sampling, so a bad k costs a whole
//! generation: validate user-supplied ks first. Exceptions from the reward or from `answer`
//! propagate unchanged (a `TokenReward` should not throw on malformed output).
//!
//! Choosing n and ks: pass@k and pass^k are unbiased for every k ≤ n, but their variance grows
//! as k approaches n, and maj@k uses only ⌊n/k⌋ groups per prompt (a single vote at k = n). The
//! paper's protocol is n = 256 with k = 1, 2, 4, …, 256 (docs/math.md); for a quick check, n = 16
//! with ks {1, 4, 16}. The intervals reflect the prompt set only (see rlvr/metrics/bootstrap.hpp);
//! compare runs on the same prompts and streams to remove sampling noise from the comparison.

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "rlvr/backends/serial.hpp"
#include "rlvr/config.hpp"
#include "rlvr/error.hpp"
#include "rlvr/generate.hpp"
#include "rlvr/metrics/bootstrap.hpp"
#include "rlvr/metrics/majority.hpp"
#include "rlvr/metrics/pass_at_k.hpp"
#include "rlvr/policy/concepts.hpp"
#include "rlvr/tasks/reward.hpp"
#include "rlvr/trainer/reward.hpp"

namespace rlvr {

//! Settings of `evaluate`. Aggregate: designated initialisers in the field order
//! `generation, bootstrap, answer, keep_responses`.
//!
//! `bootstrap` defaults to 2000 resamples, fewer than `bootstrap_options`' 10 000: evaluate
//! computes 3·|ks| intervals per call, each O(resamples · P); raise it for final tables.
//! `generation.entropy` is forced on (the report includes the mean entropy).
struct evaluation_config {
  generation_config generation{};                                //!< what to sample (see generate.hpp)
  bootstrap_options bootstrap{.resamples = 2000, .level = 0.95}; //!< intervals over prompts
  //! maj@k's answer of a sample; unset: the response tokens without a final `eos`. Return the
  //! canonical final answer ("" when none was found: the sample abstains). It only affects
  //! maj@k; correctness always comes from the reward. Called once per sample, on this thread.
  std::function<std::string(std::span<const token_t> prompt, std::span<const token_t> response)> answer{};
  bool keep_responses = false; //!< keep the samples in `evaluation::samples`
};

//! What `evaluate` reports. Vectors indexed like `ks`.
//!
//! `counts` and `rewards` are the raw material: `counts` can be fed to any function of
//! rlvr/metrics (other ks, other bootstrap settings, `bootstrap_hierarchical_mean_ci` across
//! seeds) without sampling again, and `rewards` keeps non-binary rewards that the correct/incorrect
//! split (reward > 0) discards. `mean_entropy` is per token over every sampled response token
//! (Σ_r Σ_j H_rj / Σ_r |response_r|), not a mean of per-response means; `mean_length` counts
//! `eos`. Without `keep_responses`, `samples` is empty (P = n = 0).
struct evaluation {
  std::vector<index_t> ks;                      //!< the k values
  std::vector<confidence_interval> pass_at_k;   //!< mean pass@k over prompts, with its interval
  std::vector<confidence_interval> pass_hat_k;  //!< mean pass^k (all k correct)
  std::vector<confidence_interval> maj_at_k;    //!< mean maj@k
  std::vector<problem_counts> counts;           //!< per prompt: n samples, c correct
  std::vector<float> rewards;                   //!< [P·n] reward of each sample (row p·n + i)
  double accuracy = 0;                          //!< fraction of correct samples (= pass@1's mean)
  double mean_entropy = 0;                      //!< mean token entropy (nats; 0 for greedy decoding)
  double mean_length = 0;                       //!< mean response length in tokens
  generation samples;                           //!< the responses, when `keep_responses`
};

namespace detail {
//! A task (anything with the exact verifier `score(prompt, response)` of `tasks::TaskVerifier`)
//! is accepted where a reward is wanted: it is wrapped in `tasks::verifier`.
//! A `TokenReward` is returned by reference, a task wrapped by value (`tasks::verifier` holds a
//! copy of the task for the call's duration).
template <class R> decltype(auto) as_token_reward(const R& r) {
  if constexpr (tasks::TaskVerifier<R>) return tasks::verifier<R>{r};
  else return (r);
}
//! The task behind a reward, if any: the reward itself, or the task of a `tasks::verifier`.
//! Its type is `const void*` exactly when there is none, which `evaluate` tests at compile time
//! to decide whether the task can supply `max_tokens`, `eos` and `pad`.
template <class R> const auto* task_behind(const R& r) {
  if constexpr (tasks::TaskVerifier<R>) return &r;
  else if constexpr (requires { r.task; }) {
    if constexpr (tasks::TaskVerifier<std::remove_cvref_t<decltype(r.task)>>) return &r.task;
    else return static_cast<const void*>(nullptr);
  } else {
    return static_cast<const void*>(nullptr);
  }
}
} // namespace detail

//! Samples, scores and summarises (see the file comment).
//! - `policy`: any `rlvr::Policy` (read only); `reward`: a `TokenReward` or a task;
//! - `prompts`: P token sequences, lengths may differ; `n` samples each (n ≥ 1);
//! - `ks`: the k values reported (each in [1, n]; empty: 1, 2, 4, …, n), in the caller's order
//!   (duplicates allowed: each is reported);
//! - `streams`: the Philox addresses of the samples (same streams ⇒ same samples as
//!   `rlvr::generate`); `backend`: the host backend that samples.
//! A sample counts as correct when `reward(prompt, response)` > 0, so a graded reward in [0, 1]
//! counts any partial credit as a success; threshold it in a wrapper if that is not wanted.
//! Cost: one `generate` call (P·n responses) plus O(P·n) scoring and O(resamples · P · |ks|)
//! for the intervals. Memory: besides `generate`'s, the P·n rewards, one answer string per
//! sample of the current prompt, and |ks| × P maj@k values.
//!
//! The call sets `generation.entropy` (and, with a task, the unset budget and tokens) on a copy
//! of `cfg.generation`; `cfg` itself is not modified.
template <Policy P, class R, HostBackend B = serial_backend>
  requires TokenReward<R> || tasks::TaskVerifier<R>
[[nodiscard]] evaluation evaluate(const P& policy, const R& reward, std::span<const std::vector<token_t>> prompts,
                                  index_t n, std::span<const index_t> ks, const evaluation_config& cfg,
                                  const stream_batch& streams = {}, const B& backend = B{}) {
  const auto& score = detail::as_token_reward(reward);
  generation_config gc = cfg.generation;
  gc.entropy = true;
  // Task defaults: only fields left at their "unset" values are filled; `pad` is taken from the
  // task only together with `eos`, so an explicit eos keeps the caller's pad.
  if constexpr (!std::is_same_v<decltype(detail::task_behind(reward)), const void*>) {
    const auto* task = detail::task_behind(reward);
    if (gc.max_tokens == 0) gc.max_tokens = task->max_response_length();
    if (gc.eos == -1) {
      gc.eos = task->vocab().eos();
      if (gc.pad == 0) gc.pad = task->vocab().pad();
    }
  }
  generation g = generate(policy, prompts, n, gc, streams, backend);
  evaluation e;
  e.ks.assign(ks.begin(), ks.end());
  if (e.ks.empty()) e.ks = curve_ks(n);
  for (index_t k : e.ks)
    RLVR_EXPECTS(k >= 1 && k <= n, range, "evaluate: k = ", k, " is outside [1, n = ", n, "]");
  const index_t np = g.prompts;
  e.counts.assign(static_cast<std::size_t>(np), {});
  e.rewards.assign(static_cast<std::size_t>(np * n), 0.0f);
  std::vector<std::vector<double>> maj(e.ks.size(), std::vector<double>(static_cast<std::size_t>(np)));
  // Per-prompt scratch, reused for every prompt: the n answers and correctness flags feed
  // count_correct and maj_at_k, which see one prompt at a time.
  std::vector<std::string> answers(static_cast<std::size_t>(n));
  std::vector<std::uint8_t> correct(static_cast<std::size_t>(n));
  double ent = 0, len = 0, ok = 0;
  for (index_t p = 0; p < np; ++p) {
    const std::span<const token_t> pr(prompts[static_cast<std::size_t>(p)]);
    for (index_t i = 0; i < n; ++i) {
      const auto r = static_cast<std::size_t>(p * n + i);
      const std::vector<token_t>& resp = g.responses[r];
      const std::span<const token_t> rs(resp);
      // Correctness is decided on the reward as returned; `rewards` stores it as float, the
      // trainer's reward type, which is exact for the 0/1 rewards of verifiers.
      const double x = static_cast<double>(score(pr, rs));
      e.rewards[r] = static_cast<float>(x);
      correct[static_cast<std::size_t>(i)] = x > 0.0 ? 1 : 0;
      if (cfg.answer) {
        answers[static_cast<std::size_t>(i)] = cfg.answer(pr, rs);
      } else {
        // The answer is the bytes of the token ids: equal strings ⇔ equal token sequences, which
        // is all a vote needs (the string is never printed). Only the final eos is dropped.
        const std::size_t m = !resp.empty() && resp.back() == gc.eos ? resp.size() - 1 : resp.size();
        answers[static_cast<std::size_t>(i)].assign(reinterpret_cast<const char*>(resp.data()), m * sizeof(token_t));
      }
      ok += correct[static_cast<std::size_t>(i)];
      len += static_cast<double>(resp.size());
      if (!g.entropy.empty()) ent += g.entropy[r];
    }
    e.counts[static_cast<std::size_t>(p)] = count_correct(std::span<const std::uint8_t>(correct));
    for (std::size_t q = 0; q < e.ks.size(); ++q)
      maj[q][static_cast<std::size_t>(p)] = maj_at_k(answers, correct, e.ks[q]);
  }
  const double rows = static_cast<double>(np * n), toks = static_cast<double>(g.tokens());
  e.accuracy = ok / rows;
  e.mean_length = len / rows;
  e.mean_entropy = toks > 0 ? ent / toks : 0.0;
  // Every interval uses cfg.bootstrap's seed and the same P, hence the same resampled prompt sets:
  // differences between ks or metrics are not resampling noise.
  for (std::size_t q = 0; q < e.ks.size(); ++q) {
    e.pass_at_k.push_back(pass_at_k_ci(e.counts, e.ks[q], cfg.bootstrap));
    e.pass_hat_k.push_back(pass_hat_k_ci(e.counts, e.ks[q], cfg.bootstrap));
    e.maj_at_k.push_back(bootstrap_mean_ci(maj[q], cfg.bootstrap));
  }
  if (cfg.keep_responses) e.samples = std::move(g);
  return e;
}

//! As above for a `std::vector` of prompts and a braced list of k values (neither converts to a
//! `std::span` implicitly in a call such as `evaluate(policy, task, {{1, 2}}, 8, {1, 8}, cfg)`).
template <Policy P, class R, HostBackend B = serial_backend>
  requires TokenReward<R> || tasks::TaskVerifier<R>
[[nodiscard]] evaluation evaluate(const P& policy, const R& reward, const std::vector<std::vector<token_t>>& prompts,
                                  index_t n, const std::vector<index_t>& ks, const evaluation_config& cfg,
                                  const stream_batch& streams = {}, const B& backend = B{}) {
  return evaluate(policy, reward, std::span<const std::vector<token_t>>(prompts), n, std::span<const index_t>(ks), cfg,
                  streams, backend);
}

} // namespace rlvr
