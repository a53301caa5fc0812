#pragma once
//! \file rlvr/objectives/advantages.hpp
//! \brief Advantage estimators: per-response rewards + group ids (+ values) → per-token advantages.
//!
//! Every estimator models `rlvr::AdvantageEstimator` and fills, for each of the N tokens of a
//! rollout batch, A_t and an *active* flag (the token is in the estimator's batch: its mask is 1
//! and its response was kept). A response-level estimator gives all tokens of response i the
//! same A_i (spec §2). Compute advantages once per rollout batch (group statistics need whole
//! groups), then feed mini-batches of tokens to the loss.
//!
//! | estimator              | A_i (r = reward, g = group of i, n = valid members of g)                  |
//! |------------------------|---------------------------------------------------------------------------|
//! | `sign_split`           | +positive if r > 0, negative otherwise; a side whose weight is 0 is *unused*: dropped or zeroed |
//! | `group_zscore` (GRPO)  | (r − mean_g) / (std_g + ε), std with n − 1, two centred passes in double  |
//! | `group_mean_baseline`  | r − mean_g (Dr. GRPO; REINFORCE++-baseline before whitening)              |
//! | `rloo`                 | r − mean_{g∖i} = n/(n−1)·(r − mean_g)                                     |
//! | `raw_reward`           | r (REINFORCE++ before whitening)                                          |
//! | `whitened<E>`          | E's token advantages, whitened over the active tokens of the batch        |
//! | `gae`                  | GAE(γ, λ) over r_t = −β_KL·k1_t + [t = last]·r, optionally whitened; also returns A + V |
//! | `dynamic_sampling<E>`  | DAPO: groups whose rewards are all equal are dropped before E runs (counted) |
//! | `overlong_penalty<E>`  | DAPO: E on r + p(|y|), a linear penalty in the buffer before the length limit |
//! | `remax`                | r − b_i, b_i the greedy response's reward (supplied in `baselines`)        |
//! | `opo`                  | r − Σ_g |y|·r / Σ_g |y| (length-weighted optimal baseline)                 |
//! | `gdpo`                 | Σ_k z-score_g(r_k), then whitened over the batch (several rewards)         |
//!
//! REINFORCE++-baseline (Hu et al.: group mean subtracted, then batch whitening) is
//! `whitened<group_mean_baseline>`.
//!
//! **Conventions (spec §8), and rlvr's choice for each fork:**
//! - ε added to the group std: `group_zscore::eps`, default 1e-6 (verl's).
//! - sample std (n − 1), computed in double in two centred passes: the float32 trap where a std
//!   that should be 0 comes out ~1e-4 and multiplies advantages by thousands cannot happen.
//!   A group whose rewards are all equal, or whose std ≤ `std_floor`·max(1, |mean|), is a
//!   *zero-std group*: A = 0 (all three frameworks agree), and it is counted in
//!   `advantage_report::zero_std_groups`.
//! - a group of one: `singleton_policy::zero` (default) gives A = 0 — one sample has no baseline,
//!   so it carries no relative signal; `singleton_policy::raw` reproduces verl (mean 0, std 1:
//!   A = r / (1 + ε)).
//! - a NaN reward (an unscored response) does not poison its group: the response is dropped
//!   (inactive, A = 0) and the group's statistics use the other members.
//! - group ids are arbitrary non-negative 64-bit integers; members need not be contiguous.
//!
//! **Once per rollout batch.** Advantages are computed from the rollout (rewards, and for GAE
//! the rollout's values and log-probs) and reused unchanged by every mini-batch and epoch of
//! updates on that batch: they do not follow the policy as it moves. Which responses an
//! estimator drops decides the aggregation's denominators (aggregation.hpp, "Drop versus
//! zero"). A response-level estimator gives all active tokens of a response the same A, which
//! `response_advantages[i]` (when requested) reports once per response.
//!
//! **Float inputs.** With T = float, rewards are promoted exactly to double before any
//! arithmetic (0.1f stays 0.100000001490116…), so the all-equal test (min = max) is exact on the
//! values given: eight 0.1f rewards form a zero-std group (A = 0) whatever the rounding of
//! their computed std.
//!
//! **Input layout.** Rewards, group ids and baselines are per response ([B]); seq, mask, values
//! and log-probs per token ([N]), token t belonging to response seq[t]. Example, two responses
//! of 3 and 2 tokens whose last token of the first is padding:
//!   rewards = [1, 0], group_ids = [7, 7], seq = [0, 0, 0, 1, 1], mask = [1, 1, 0, 1, 1].
//! Token-level estimators (GAE) read a response's tokens in the order they appear in seq.
//!
//! **Choosing.** `sign_split` reproduces the paper's PSR / NSR / W-REINFORCE and needs no groups;
//! the group estimators need several samples per prompt and subtract a per-prompt baseline:
//! `group_zscore` also rescales each prompt to unit spread (GRPO), `group_mean_baseline` keeps the
//! reward scale (Dr. GRPO), `rloo` excludes the sample from its own baseline, `opo` weights the
//! baseline by length. `gae` is the only one that uses a learned value function. The wrappers
//! (`whitened`, `dynamic_sampling`, `overlong_penalty`) compose with any of them.
//!
//! **Tests** (tests/objectives/test_advantages.cpp; the zoo's estimators in test_zoo.cpp): the
//! closed forms of each estimator, the GRPO edge cases above (float residue, all-equal groups,
//! singletons, NaN rewards), GAE against the recursion by hand, and the error messages.
//!
//! **Writing an estimator.** A type models `AdvantageEstimator` (objectives/concepts.hpp) with
//! `estimate(in, out)` for T = float and double, `validate()` and the two `needs_*` constants.
//! It must write A_t and the active flag of every token (A = 0 where inactive), zero the
//! `returns` and `response_advantages` it does not compute, drop NaN rewards, and report what
//! it did; the library's estimators start with `detail::check_advantage_io` for the input
//! checks. `group_mean_baseline` is the shortest model to copy.
//!
//! **Worked example** (ε = 1e-6, two prompts of four samples, rewards {0, 1}):
//! group 1 = [1, 0, 0, 1], group 2 = [1, 0, 0, 0].
//! - `group_zscore`: group 1 has mean 0.5, std 0.5773502691896257 (n − 1), A = ±0.8660239037870368;
//!   group 2 has mean 0.25, std 0.5, A = 1.499997000006 for the correct one and
//!   −0.499999000002 for the others.
//! - `group_mean_baseline`: ±0.5; then 0.75 and −0.25.
//! - `rloo`: ±0.6666666666666666; then 1 and −0.3333333333333333.
//! - `sign_split` as PSR: +1 on the three correct responses, the five others dropped; as NSR: −1
//!   on the five incorrect ones, the correct ones dropped.
//!
//! **What each estimator reports** (`advantage_report`; every estimator sets `responses` = B and
//! counts NaN rewards in `nan_rewards` and `dropped`):
//! - `sign_split`, `remax`, `gae`: no group counts (they read no group ids); `sign_split` adds
//!   the responses of a dropped side to `dropped`.
//! - `group_zscore`, `group_mean_baseline`, `rloo`, `opo`: `groups`, `singleton_groups`,
//!   `zero_std_groups`; `raw_reward` the first two (its A never depends on the group).
//! - `gdpo`: `groups` only (zero-std and singleton status differ per reward).
//! - `whitened<E>`, `overlong_penalty<E>`: E's report unchanged.
//! - `dynamic_sampling<E>`: E's report with `filtered_groups` added, the filtered responses in
//!   `dropped` (not in `nan_rewards`) and `zero_std_groups` = 0.
//!
//! **Usage.** Most callers go through `rlvr::estimate_advantages(objective, input)`
//! (rlvr/loss.hpp), which validates the objective, allocates the [K, N] outputs and calls
//! `estimate`. Calling an estimator directly:
//!
//!   rlvr::group_zscore est{.eps = 1e-6};
//!   est.validate();                                  // config_error on a bad ε
//!   std::vector<float> adv(n);
//!   std::vector<rlvr::mask_t> active(n);
//!   rlvr::advantage_report rep = est.estimate(
//!       rlvr::advantage_input<float>{.rewards = rewards, .group_ids = prompt_ids, .seq = seq, .mask = mask},
//!       rlvr::advantage_output<float>{.advantages = adv, .active = active});
//!
//! **Errors** (every estimator, before anything is written; `detail::check_advantage_io`):
//! `shape_error` for a view whose length disagrees with B (rewards) or N (seq), for missing
//! group ids where the estimator needs them, and for missing values / returns (GAE);
//! `range_error` for a negative group id or a `seq[t]` outside [0, B); `numerical_error` for an
//! infinite reward (NaN is allowed: it means "unscored" and drops the response). Estimators
//! with more inputs (GAE's values and log-probs, ReMax's baselines, GDPO's reward matrix) check
//! those too, naming the element.
//!
//! **Numerics, cost, threads.** All statistics are accumulated in double whatever T is, and
//! only the final advantages are rounded to T. One call is O(N + B log B) time (the sort that
//! numbers the groups) and O(N + B) temporary memory; it runs on the calling thread, serially,
//! so the output is bit-identical run to run. Estimators are const aggregates of numbers: one
//! object may be used from several threads at once (on different outputs).

#include <algorithm>
#include <cmath>
#include <limits>
#include <cstdint>
#include <numeric>
#include <utility>
#include <vector>

#include "rlvr/config.hpp"
#include "rlvr/error.hpp"
#include "rlvr/objectives/concepts.hpp"
#include "rlvr/view.hpp"

namespace rlvr {

//! What happens to the responses of a side whose sign-split weight is 0.
//! The difference shows under token-mean aggregation: PSR with `drop` averages over the correct
//! responses' tokens only, with `zero` over all tokens (its gradient is then scaled by the
//! fraction of tokens that are correct). Dropped responses are counted in
//! `advantage_report::dropped`.
enum class unused_side : std::uint8_t {
  drop, //!< removed from the batch (the paper's code): they leave the aggregation denominators
  zero, //!< kept with A = 0: they stay in the denominators
};

//! A KL estimator (spec §4), for folding the KL into rewards (`gae::kl`). With
//! Δ = log π_ref − log π_old: k1 = −Δ (unbiased, either sign), k2 = ½Δ² (≥ 0),
//! k3 = e^Δ − Δ − 1 (≥ 0, unbiased; Δ clamped to [−20, 20] before exp).
enum class kl_kind : std::uint8_t { k1, k2, k3 };

//! What a group of one valid response gets (`group_zscore::singleton`). verl's convention
//! comes from its code setting mean 0 and std 1 for a group of one, so (r − 0)/(1 + ε). "Valid" counts the
//! non-NaN rewards: a group of four with three unscored responses is a group of one.
enum class singleton_policy : std::uint8_t {
  zero, //!< A = 0 (rlvr's default)
  raw,  //!< verl: mean 0, std 1, A = r / (1 + ε)
};

// Helpers shared by the estimators below; internal (not part of the API, names may change).
namespace detail {

//! Checks an estimator's inputs and outputs; names the offending argument and index.
//! `needs_groups`: raise `shape_error` when group ids are empty (and B > 0); `needs_values`:
//! `values` and `returns` must have length N. Empty optional views (group ids, mask,
//! `response_advantages`, `returns` when not needed) pass, and so does an empty batch
//! (B = N = 0). O(N + B).
template <class T>
void check_advantage_io(const advantage_input<T>& in, const advantage_output<T>& out, const char* who,
                        bool needs_groups, bool needs_values) {
  const index_t b = in.rewards.size();
  const index_t n = in.seq.size();
  // Shapes first, then values: a wrong length is reported before any element is indexed.
  RLVR_EXPECTS(in.group_ids.empty() || in.group_ids.size() == b, shape, who, ": group_ids has length ",
               in.group_ids.size(), " but rewards has ", b);
  RLVR_EXPECTS(!needs_groups || !in.group_ids.empty() || b == 0, shape, who, ": group_ids are required");
  RLVR_EXPECTS(in.mask.empty() || in.mask.size() == n, shape, who, ": mask has length ", in.mask.size(),
               " but seq has ", n);
  RLVR_EXPECTS(out.advantages.size() == n, shape, who, ": advantages has length ", out.advantages.size(),
               " but seq has ", n);
  RLVR_EXPECTS(out.active.size() == n, shape, who, ": active has length ", out.active.size(), " but seq has ", n);
  RLVR_EXPECTS(out.response_advantages.empty() || out.response_advantages.size() == b, shape, who,
               ": response_advantages has length ", out.response_advantages.size(), " but rewards has ", b);
  if (needs_values) {
    RLVR_EXPECTS(in.values.size() == n, shape, who, ": values has length ", in.values.size(), " but seq has ", n);
    RLVR_EXPECTS(out.returns.size() == n, shape, who, ": returns has length ", out.returns.size(), " but seq has ", n);
  } else {
    RLVR_EXPECTS(out.returns.empty() || out.returns.size() == n, shape, who, ": returns has length ",
                 out.returns.size(), " but seq has ", n);
  }
  for (index_t i = 0; i < in.group_ids.size(); ++i)
    RLVR_EXPECTS(in.group_ids[i] >= 0, range, who, ": group_ids[", i, "] = ", in.group_ids[i], " is negative");
  for (index_t t = 0; t < n; ++t)
    RLVR_EXPECTS(in.seq[t] >= 0 && in.seq[t] < b, range, who, ": seq[", t, "] = ", in.seq[t],
                 " is outside [0, ", b, ")");
  // NaN is the "unscored" marker and allowed; an infinite reward would turn its group's mean
  // and std into inf/NaN and poison every member, so it is an error.
  for (index_t i = 0; i < b; ++i)
    RLVR_EXPECTS(!std::isinf(static_cast<double>(in.rewards[i])), numerical, who, ": rewards[", i, "] = ",
                 in.rewards[i], " is infinite");
}

//! Dense group index per response (0 … G−1, in order of first appearance of each id). The ids
//! need not be sorted, dense or contiguous.
//! Empty `ids`: every response is in group 0 (one group, none for B = 0). Numbering by first
//! appearance (not by id value) makes the result, and every report built on it, independent
//! of how ids were chosen (no estimator depends on the order of a group's members either).
//! O(B log B): a stable sort of the responses by id.
inline std::vector<index_t> dense_groups(vector_view<const std::int64_t> ids, index_t b, index_t& num_groups) {
  std::vector<index_t> g(static_cast<std::size_t>(b), 0);
  if (ids.empty()) {
    num_groups = b > 0 ? 1 : 0;
    return g;
  }
  std::vector<index_t> order(static_cast<std::size_t>(b));
  std::iota(order.begin(), order.end(), index_t{0});
  std::stable_sort(order.begin(), order.end(), [&](index_t a, index_t c) { return ids[a] < ids[c]; });
  // first appearance index of each id, to number groups in order of appearance
  std::vector<std::pair<index_t, index_t>> first; // (first index, sorted-run start)
  // Each run of equal ids in sorted order is one group; the stable sort makes order[k] the
  // run's earliest response.
  for (std::size_t k = 0; k < order.size();) {
    std::size_t e = k;
    while (e < order.size() && ids[order[e]] == ids[order[k]]) ++e;
    first.emplace_back(order[k], static_cast<index_t>(k));
    k = e;
  }
  // Sorting the runs by their first index numbers them in order of appearance.
  std::sort(first.begin(), first.end());
  std::vector<index_t> run_group(order.size(), 0);
  for (std::size_t gi = 0; gi < first.size(); ++gi) run_group[static_cast<std::size_t>(first[gi].second)] = static_cast<index_t>(gi);
  // Walk the sorted order again; a new id starts a new run, whose number was set above.
  index_t cur = 0;
  for (std::size_t k = 0; k < order.size(); ++k) {
    if (k == 0 || ids[order[k]] != ids[order[k - 1]]) cur = run_group[k];
    g[static_cast<std::size_t>(order[k])] = cur;
  }
  num_groups = static_cast<index_t>(first.size());
  return g;
}

//! Per-group statistics over the non-NaN rewards, in double, two centred passes.
//! `lo` and `hi` (min and max) detect an all-equal group exactly (lo == hi), independently of
//! any rounding in the std: that is how the float32 zero-std trap is avoided.
struct group_stats {
  //! Non-NaN rewards in the group (0 when all are NaN: then the other fields stay 0).
  index_t n = 0;
  //! Mean of the valid rewards; the std is the sample std.
  double mean = 0, std = 0; // sample std (n − 1); 0 for n < 2
  //! Min and max of the valid rewards.
  double lo = 0, hi = 0;
};
//! Mean, sample std, min and max of each group's non-NaN rewards. Two passes: the first sums
//! (mean, min, max), the second sums squared deviations from the mean. The centred second pass
//! avoids the cancellation of E[x²] − E[x]², which turns a zero variance into a small positive
//! (or negative) number. `g[i]` is response i's dense group (dense_groups). O(B).
template <class T>
std::vector<group_stats> compute_group_stats(vector_view<const T> r, const std::vector<index_t>& g, index_t groups) {
  std::vector<group_stats> s(static_cast<std::size_t>(groups));
  for (std::size_t i = 0; i < g.size(); ++i) {
    const double x = static_cast<double>(r[static_cast<index_t>(i)]);
    if (std::isnan(x)) continue;
    auto& gs = s[static_cast<std::size_t>(g[i])];
    // The first valid member initialises min and max (0 would be wrong for negative rewards).
    if (gs.n == 0) gs.lo = gs.hi = x;
    gs.lo = std::min(gs.lo, x);
    gs.hi = std::max(gs.hi, x);
    gs.mean += x;
    ++gs.n;
  }
  for (auto& gs : s)
    if (gs.n > 0) gs.mean /= static_cast<double>(gs.n);
  std::vector<double> ss(s.size(), 0.0);
  for (std::size_t i = 0; i < g.size(); ++i) {
    const double x = static_cast<double>(r[static_cast<index_t>(i)]);
    if (std::isnan(x)) continue;
    const auto k = static_cast<std::size_t>(g[i]);
    const double d = x - s[k].mean;
    ss[k] += d * d;
  }
  // n − 1 (sample std, as verl, TRL and OpenRLHF); undefined for n < 2, left at 0.
  for (std::size_t k = 0; k < s.size(); ++k)
    if (s[k].n > 1) s[k].std = std::sqrt(ss[k] / static_cast<double>(s[k].n - 1));
  return s;
}

//! Broadcasts per-response advantages to tokens: active = mask ∧ keep[seq].
//! Inactive tokens get A = 0 (the `AdvantageEstimator` contract), `response_advantages` (if
//! given) gets a[i] for kept responses and 0 for dropped ones, and `returns` (if given) is
//! zeroed, since response-level estimators have no value targets. O(N + B).
template <class T>
void broadcast_to_tokens(const advantage_input<T>& in, const advantage_output<T>& out, const std::vector<double>& a,
                         const std::vector<std::uint8_t>& keep) {
  for (index_t t = 0; t < in.seq.size(); ++t) {
    const auto i = static_cast<std::size_t>(in.seq[t]);
    const bool on = keep[i] && (in.mask.empty() || in.mask[t] != 0);
    out.active[t] = on ? 1 : 0;
    out.advantages[t] = on ? static_cast<T>(a[i]) : T(0);
  }
  for (index_t i = 0; i < out.response_advantages.size(); ++i)
    out.response_advantages[i] = keep[static_cast<std::size_t>(i)] ? static_cast<T>(a[static_cast<std::size_t>(i)]) : T(0);
  for (index_t t = 0; t < out.returns.size(); ++t) out.returns[t] = T(0);
}

//! Shared driver of the group-based estimators: `f(reward, stats) -> (advantage, zero_std)`.
//! For each response with a non-NaN reward, `f` gets the reward and its group's statistics and
//! returns A_i and whether the group counts as zero-std; NaN rewards are dropped and counted
//! (`nan_rewards`, `dropped`) before `f` is called. The report also counts the groups, the
//! singleton groups (one valid reward) and the zero-std groups (each once, however many of its
//! members `f` flagged). Responses are never dropped for any other reason here.
template <class T, class F>
advantage_report group_estimate(const advantage_input<T>& in, const advantage_output<T>& out, const char* who, F&& f) {
  check_advantage_io(in, out, who, false, false);
  const index_t b = in.rewards.size();
  advantage_report rep;
  rep.responses = b;
  const auto g = dense_groups(in.group_ids, b, rep.groups);
  const auto stats = compute_group_stats(in.rewards, g, rep.groups);
  // A flag per group, so that a zero-std group is counted once, not once per member.
  std::vector<std::uint8_t> zero_std(static_cast<std::size_t>(rep.groups), 0);
  // A group with one valid reward has no baseline of its own; `f` decides its A.
  for (std::size_t k = 0; k < stats.size(); ++k) {
    if (stats[k].n == 1) ++rep.singleton_groups;
  }
  std::vector<double> a(static_cast<std::size_t>(b), 0.0);
  std::vector<std::uint8_t> keep(static_cast<std::size_t>(b), 1);
  for (index_t i = 0; i < b; ++i) {
    const double r = static_cast<double>(in.rewards[i]);
    const auto k = static_cast<std::size_t>(g[static_cast<std::size_t>(i)]);
    if (std::isnan(r)) {
      keep[static_cast<std::size_t>(i)] = 0;
      ++rep.nan_rewards;
      ++rep.dropped;
      continue;
    }
    const auto [adv, zs] = f(r, stats[k]);
    a[static_cast<std::size_t>(i)] = adv;
    if (zs) zero_std[k] = 1;
  }
  for (auto z : zero_std) rep.zero_std_groups += z;
  broadcast_to_tokens(in, out, a, keep);
  return rep;
}

//! Masked whitening over the active tokens: (A − mean)/sqrt(var + ε), var with n − 1 (verl's
//! masked_whiten). Fewer than two active tokens: centred only.
//! Statistics are over tokens, not responses: a long response weighs more in the mean and
//! variance, as in verl. Inactive tokens are set to 0 and do not enter the statistics. No
//! active token: nothing changes. Two passes in double (centred variance), O(N).
//! ε > 0 is what keeps an all-equal set of advantages (var = 0) finite: with ε = 0 the scale
//! is 1/0 = ∞ and every active token gets 0·∞ = NaN. `validate()` accepts ε = 0.
template <class T> void whiten_active(vector_view<T> adv, vector_view<const std::uint8_t> active, double eps) {
  double n = 0, mean = 0;
  for (index_t t = 0; t < adv.size(); ++t)
    if (active[t]) {
      mean += static_cast<double>(adv[t]);
      n += 1;
    }
  if (n == 0) return;
  mean /= n;
  double ss = 0;
  for (index_t t = 0; t < adv.size(); ++t)
    if (active[t]) {
      const double d = static_cast<double>(adv[t]) - mean;
      ss += d * d;
    }
  // One active token has no sample variance: centre it (A = 0) without scaling.
  const double scale = n > 1 ? 1.0 / std::sqrt(ss / (n - 1) + eps) : 1.0;
  for (index_t t = 0; t < adv.size(); ++t)
    adv[t] = active[t] ? static_cast<T>((static_cast<double>(adv[t]) - mean) * scale) : T(0);
}

} // namespace detail

//! Sign split (spec §2): PSR, NSR, W-REINFORCE(λ), REINFORCE ±1 are all this estimator.
//! A response is *correct* if its reward is > 0 (works for {0, 1} and ±1 rewards): 0 and −1
//! are both incorrect, and a partial-credit reward such as 0.5 counts as correct.
//! A_i = `positive` if correct, `negative` otherwise. A side whose weight is exactly 0 is
//! *unused*; `unused` says whether its responses are dropped from the batch or kept with A = 0.
//!
//!     psr:           {.positive = 1,   .negative = 0}
//!     nsr:           {.positive = 0,   .negative = -1}
//!     w_reinforce λ: {.positive = λ,   .negative = -1}
//!     reinforce:     {.positive = 1,   .negative = -1}
//!
//! In the paper's terms (R = ±1), `positive` weighs L_PSR and `negative` L_NSR: A = +λ / −1 is
//! λ·L_PSR + L_NSR. With `unused = zero`, 0.1·PSR + NSR as a weighted sum equals
//! W-REINFORCE(0.1) exactly; with `drop` it does not (each side then has its own token-mean).
//!
//! No group statistics: each response's advantage depends on its own reward only, so group
//! ids are not needed and the report's group counts stay 0. A NaN reward drops the response
//! (counted in `nan_rewards` and `dropped`). Errors: `config_error` from `validate()`, the
//! common input checks from `estimate`. O(N + B).
struct sign_split {
  //! A of a correct response (reward > 0), finite and ≥ 0.
  double positive = 1.0;
  //! A of an incorrect response (reward ≤ 0), finite and ≤ 0.
  double negative = -1.0;
  //! What a side with weight exactly 0 does: `drop` (the paper's code) or `zero`. A side with a
  //! nonzero weight is always kept; with both weights 0 every response is unused.
  unused_side unused = unused_side::drop;

  static constexpr bool needs_values = false;
  static constexpr bool needs_group_ids = false;

  //! `config_error` unless positive is finite ≥ 0 and negative finite ≤ 0 (the signs are what
  //! make the two sides PSR and NSR).
  void validate() const {
    RLVR_EXPECTS(std::isfinite(positive) && positive >= 0.0, config, "sign_split: positive = ", positive,
                 " must be finite and >= 0");
    RLVR_EXPECTS(std::isfinite(negative) && negative <= 0.0, config, "sign_split: negative = ", negative,
                 " must be finite and <= 0");
  }
  template <class T> advantage_report estimate(const advantage_input<T>& in, const advantage_output<T>& out) const {
    detail::check_advantage_io(in, out, "sign_split", false, false);
    const index_t b = in.rewards.size();
    advantage_report rep;
    rep.responses = b;
    std::vector<double> a(static_cast<std::size_t>(b), 0.0);
    std::vector<std::uint8_t> keep(static_cast<std::size_t>(b), 1);
    for (index_t i = 0; i < b; ++i) {
      const double r = static_cast<double>(in.rewards[i]);
      const auto k = static_cast<std::size_t>(i);
      // NaN first: an unscored response is dropped whatever the side weights are.
      if (std::isnan(r)) {
        keep[k] = 0;
        ++rep.nan_rewards;
        ++rep.dropped;
        continue;
      }
      // r > 0 is "correct" for {0, 1} and ±1 rewards alike; a reward of exactly 0 is incorrect.
      const double w = r > 0 ? positive : negative;
      a[k] = w;
      // Only an exactly-zero weight makes a side unused; a tiny nonzero λ keeps its responses.
      if (w == 0.0 && unused == unused_side::drop) {
        keep[k] = 0;
        ++rep.dropped;
      }
    }
    detail::broadcast_to_tokens(in, out, a, keep);
    return rep;
  }
};
static_assert(AdvantageEstimator<sign_split>);

//! GRPO's group z-score: A = (r − mean_g)/(std_g + ε) (see the conventions above).
//! Shao et al. 2024 (DeepSeekMath) with spec §8's conventions.
//! mean_g and std_g are over the group's non-NaN rewards, std with n − 1. Per group, in order:
//! one valid member → the singleton policy; all equal (min = max) or std ≤ floor·max(1, |mean|)
//! → A = 0 for every member and the group counts in `zero_std_groups`; otherwise the z-score.
//! With {0, 1} rewards and c of n correct (p = c/n), correct members get (1 − p)/(std_g + ε),
//! incorrect ones −p/(std_g + ε), std_g = √(n·p(1 − p)/(n − 1)); Σ_g A = 0.
//! Needs group ids (`shape_error` when empty). O(N + B log B).
//!
//!   rlvr::group_zscore trl_like{.eps = 1e-4};       // TRL's ε
//!   rlvr::group_zscore verl_like{.singleton = rlvr::singleton_policy::raw};
struct group_zscore {
  //! ε ≥ 0, finite. Only matters for small std; the default is verl's.
  double eps = 1e-6;                            //!< added to the std (verl 1e-6, TRL 1e-4, OpenRLHF 1e-9)
  //! Relative threshold ≥ 0, finite: a group whose spread is at rounding level (rewards that
  //! should be equal but are not bit-identical) gets A = 0 instead of amplified noise. 0 keeps
  //! only the exact min = max test.
  double std_floor = 1e-6;                      //!< std ≤ floor·max(1, |mean|) counts as zero
  //! A group of one valid reward: A = 0 (default) or verl's r/(1 + ε), whose sign is then the
  //! reward's own (with {0, 1} rewards a lone correct sample is pushed up, a lone wrong one not).
  singleton_policy singleton = singleton_policy::zero;

  static constexpr bool needs_values = false;
  static constexpr bool needs_group_ids = true;

  //! `config_error` unless eps and std_floor are finite and ≥ 0.
  void validate() const {
    RLVR_EXPECTS(eps >= 0.0 && std::isfinite(eps), config, "group_zscore: eps = ", eps, " must be finite and >= 0");
    RLVR_EXPECTS(std_floor >= 0.0 && std::isfinite(std_floor), config, "group_zscore: std_floor = ", std_floor,
                 " must be finite and >= 0");
  }
  template <class T> advantage_report estimate(const advantage_input<T>& in, const advantage_output<T>& out) const {
    detail::check_advantage_io(in, out, "group_zscore", true, false);
    return detail::group_estimate(in, out, "group_zscore", [&](double r, const detail::group_stats& s) {
      // The singleton test comes first: a group of one also has lo == hi, but it is reported
      // as a singleton, not as a zero-std group. The floor is relative for large |mean| and
      // absolute (floor itself) for |mean| ≤ 1.
      if (s.n == 1) return std::pair<double, bool>{singleton == singleton_policy::raw ? r / (1.0 + eps) : 0.0, false};
      if (s.lo == s.hi || s.std <= std_floor * std::max(1.0, std::abs(s.mean))) return std::pair<double, bool>{0.0, true};
      return std::pair<double, bool>{(r - s.mean) / (s.std + eps), false};
    });
  }
};
static_assert(AdvantageEstimator<group_zscore>);

//! Dr. GRPO / group baseline: A = r − mean_g (no std). A group of one gets A = 0.
//! Liu et al. 2025 ("Understanding R1-Zero-like training").
//! Without the division by std_g every group's advantages keep the reward's scale (Dr. GRPO's
//! argument: the std reweights prompts by their difficulty). An all-equal group (min = max) has
//! A = 0 and counts as zero-std; there is no `std_floor` here, since without a division a tiny
//! spread stays tiny. NaN rewards are dropped. Needs group ids. No parameters.
//! O(N + B log B), like every estimator built on the shared group driver (also `rloo`,
//! `raw_reward`).
struct group_mean_baseline {
  static constexpr bool needs_values = false;
  static constexpr bool needs_group_ids = true;
  void validate() const {}
  template <class T> advantage_report estimate(const advantage_input<T>& in, const advantage_output<T>& out) const {
    detail::check_advantage_io(in, out, "group_mean_baseline", true, false);
    return detail::group_estimate(in, out, "group_mean_baseline", [](double r, const detail::group_stats& s) {
      if (s.n < 2) return std::pair<double, bool>{0.0, false};
      if (s.lo == s.hi) return std::pair<double, bool>{0.0, true};
      return std::pair<double, bool>{r - s.mean, false};
    });
  }
};
static_assert(AdvantageEstimator<group_mean_baseline>);

//! RLOO: A_i = r_i − mean of the other members = n/(n−1)·(r_i − mean_g). A group of one gets 0.
//! Kool et al. 2019; Ahmadian et al. 2024 ("Back to basics") for LLMs.
//! The identity: mean_{g∖i} = (n·mean_g − r_i)/(n − 1), so r_i − mean_{g∖i} = n(r_i − mean_g)/(n − 1);
//! the baseline excludes the response itself, which keeps the gradient estimate unbiased. n
//! counts the non-NaN members (NaN rewards are dropped first). An all-equal group gets A = 0
//! and counts as zero-std. Needs group ids. No parameters. Compared with
//! `group_mean_baseline` the direction is the same and the step larger by n/(n − 1).
struct rloo {
  static constexpr bool needs_values = false;
  static constexpr bool needs_group_ids = true;
  void validate() const {}
  template <class T> advantage_report estimate(const advantage_input<T>& in, const advantage_output<T>& out) const {
    detail::check_advantage_io(in, out, "rloo", true, false);
    return detail::group_estimate(in, out, "rloo", [](double r, const detail::group_stats& s) {
      if (s.n < 2) return std::pair<double, bool>{0.0, false};
      if (s.lo == s.hi) return std::pair<double, bool>{0.0, true};
      const double n = static_cast<double>(s.n);
      return std::pair<double, bool>{n / (n - 1.0) * (r - s.mean), false};
    });
  }
};
static_assert(AdvantageEstimator<rloo>);

//! A = r, no baseline (REINFORCE++ feeds it to `whitened`). NaN rewards are dropped.
//! Group ids are optional: when given, the report still counts groups and singletons (the
//! shared group driver computes them), but they do not change A. Used alone, every response of
//! a {0, 1} reward gets A ≥ 0 and no incorrect response is pushed down.
struct raw_reward {
  static constexpr bool needs_values = false;
  static constexpr bool needs_group_ids = false;
  void validate() const {}
  template <class T> advantage_report estimate(const advantage_input<T>& in, const advantage_output<T>& out) const {
    return detail::group_estimate(in, out, "raw_reward", [](double r, const detail::group_stats&) {
      return std::pair<double, bool>{r, false};
    });
  }
};
static_assert(AdvantageEstimator<raw_reward>);

//! Batch whitening of any estimator's token advantages: A ← (A − mean)/sqrt(var + ε) over the
//! active tokens (var with n − 1). `whitened<raw_reward>` is REINFORCE++;
//! `whitened<group_mean_baseline>` is REINFORCE++ with a group baseline.
//! The inner estimator runs first (its report is returned unchanged); then A is whitened over
//! the active tokens, and `response_advantages` (if given) is rewritten with each response's
//! whitened value (0 for responses with no active token). Needs what E needs. Cost: E's plus
//! two O(N) passes.
//!
//!   rlvr::whitened<rlvr::group_mean_baseline> rpp{.eps = 1e-8};   // REINFORCE++-baseline
template <AdvantageEstimator E> struct whitened {
  //! The estimator whose token advantages are whitened.
  E inner{};
  //! ε ≥ 0, finite, added to the variance (not the std): 1e-8 as in verl's masked_whiten.
  //! Keep it > 0 (see `detail::whiten_active`: ε = 0 gives NaN when all advantages are equal).
  double eps = 1e-8;
  static constexpr bool needs_values = E::needs_values;
  static constexpr bool needs_group_ids = E::needs_group_ids;
  //! Validates the inner estimator, then `config_error` unless eps is finite and ≥ 0.
  void validate() const {
    inner.validate();
    RLVR_EXPECTS(eps >= 0.0 && std::isfinite(eps), config, "whitened: eps = ", eps, " must be finite and >= 0");
  }
  template <class T> advantage_report estimate(const advantage_input<T>& in, const advantage_output<T>& out) const {
    // E has set inactive tokens to 0; the whitening keeps them at 0 and ignores them.
    const advantage_report rep = inner.estimate(in, out);
    detail::whiten_active(out.advantages, vector_view<const std::uint8_t>(out.active), eps);
    for (index_t i = 0; i < out.response_advantages.size(); ++i) out.response_advantages[i] = T(0);
    // Every active token of a response has the same whitened value for a response-level E;
    // for a token-level E (gae) this keeps the response's last active token's value.
    for (index_t t = 0; t < out.advantages.size(); ++t) // per-response value after whitening
      if (out.active[t] && !out.response_advantages.empty()) out.response_advantages[in.seq[t]] = out.advantages[t];
    return rep;
  }
};
static_assert(AdvantageEstimator<whitened<raw_reward>>);

//! Generalised advantage estimation for PPO (no group ids: the baseline is the value V_t).
//! For each response, over its active tokens in time
//! order t = 1…T, with token rewards r_t = −kl_beta·k(log π_old,t, log π_ref,t) + [t = T]·r_i
//! (spec §2: the KL folded into the reward; k is k1 = log π_old − log π_ref by default, as in the
//! paper's PPO, or k2 = ½Δ² / k3 = e^Δ − Δ − 1 with Δ = log π_ref − log π_old, `gae::kl`):
//!   δ_t = r_t + γ V_{t+1} − V_t  (V_{T+1} = 0),   A_t = δ_t + γλ A_{t+1},   returns_t = A_t + V_t.
//! Schulman et al. 2016. returns_t is the λ-return, the value head's regression target
//! (`rlvr::value_loss`, rlvr/loss.hpp).
//! Then, if `whiten`, A is whitened over the batch's active tokens (returns are not).
//! Values and log-probs of masked tokens are never read here, so they may hold anything.
//! Inputs: every value V_t, and every old_logp / ref_logp given (length N), of a token that counts
//! (mask 1, reward not NaN) must be finite; otherwise `numerical_error` names the element
//! (`values[t]`, its token and response) before anything is computed.
//!
//! The reward sits on the last active token of each response, so with γ = λ = 1 and no KL
//! A_t = r_i − V_t: every token's advantage is the final reward minus its own value estimate.
//! Tokens are visited in the order they appear in `seq` for their response (time order, per
//! the `advantage_input` contract); masked tokens are skipped and do not break the recursion.
//! A NaN reward drops its response (inactive, A = returns = 0). `response_advantages` is set to
//! 0 (advantages are per token here). Errors: the common checks, `shape_error` when kl_beta > 0
//! and old_logp / ref_logp are missing, `numerical_error` as above. O(N + B) time and memory
//! (a counting sort groups the tokens by response).
//!
//!   rlvr::gae est{.gamma = 1.0, .lambda = 0.95, .kl_beta = 1e-3, .kl = rlvr::kl_kind::k3};
struct gae {
  //! Discount γ ∈ [0, 1] (`config_error` otherwise); 1: no discount within a response. With
  //! γ < 1 the final reward reaches token t scaled by γ^(T−t).
  double gamma = 1.0;
  //! GAE's λ ∈ [0, 1]: 1 gives Monte-Carlo returns minus V (unbiased, high variance), 0 the
  //! one-step TD error (low variance, biased by V).
  double lambda = 1.0;
  //! β ≥ 0, finite. The default 0 folds nothing; `rlvr::ppo()` sets 1e-3 (the paper's).
  double kl_beta = 0.0; //!< > 0 folds β·k1 into the rewards (needs old_logp and ref_logp)
  //! Whiten A over the batch's active tokens after GAE (returns stay unwhitened: they are the
  //! value head's targets).
  bool whiten = true;
  //! ε ≥ 0 added to the variance of the whitening; keep it > 0 (as for `whitened::eps`).
  double whiten_eps = 1e-8;
  //! k1 is the paper's PPO (and the spec §2 table's); k2 and k3 are non-negative per token.
  kl_kind kl = kl_kind::k1; //!< the estimator folded into the rewards

  static constexpr bool needs_values = true;
  static constexpr bool needs_group_ids = false;

  //! `config_error` unless γ, λ ∈ [0, 1], kl_beta finite ≥ 0 and whiten_eps ≥ 0.
  void validate() const {
    RLVR_EXPECTS(gamma >= 0.0 && gamma <= 1.0, config, "gae: gamma = ", gamma, " is outside [0, 1]");
    RLVR_EXPECTS(lambda >= 0.0 && lambda <= 1.0, config, "gae: lambda = ", lambda, " is outside [0, 1]");
    RLVR_EXPECTS(kl_beta >= 0.0 && std::isfinite(kl_beta), config, "gae: kl_beta = ", kl_beta, " must be finite and >= 0");
    RLVR_EXPECTS(whiten_eps >= 0.0, config, "gae: whiten_eps = ", whiten_eps, " must be >= 0");
  }
  template <class T> advantage_report estimate(const advantage_input<T>& in, const advantage_output<T>& out) const {
    detail::check_advantage_io(in, out, "gae", false, true);
    const index_t b = in.rewards.size(), n = in.seq.size();
    if (kl_beta > 0) {
      RLVR_EXPECTS(in.old_logp.size() == n, shape, "gae: kl_beta > 0 needs old_logp of length ", n, " (got ",
                   in.old_logp.size(), ")");
      RLVR_EXPECTS(in.ref_logp.size() == n, shape, "gae: kl_beta > 0 needs ref_logp of length ", n, " (got ",
                   in.ref_logp.size(), ")");
    }
    // A non-finite value or log-prob would be spread over every response by the whitening and
    // surface later as a NaN loss naming the wrong thing: reject it here, naming the element.
    // Only the tokens the estimator reads count (mask 1, reward not NaN); old_logp and ref_logp are
    // checked whenever they are given (the PPO loss reads old_logp too).
    const bool check_old = in.old_logp.size() == n, check_ref = in.ref_logp.size() == n;
    for (index_t t = 0; t < n; ++t) {
      if ((!in.mask.empty() && in.mask[t] == 0) || std::isnan(static_cast<double>(in.rewards[in.seq[t]]))) continue;
      RLVR_EXPECTS(std::isfinite(static_cast<double>(in.values[t])), numerical, "gae: values[", t, "] = ",
                   in.values[t], " is not finite (token ", t, " of response ", in.seq[t], ")");
      RLVR_EXPECTS(!check_old || std::isfinite(static_cast<double>(in.old_logp[t])), numerical, "gae: old_logp[", t,
                   "] = ", in.old_logp[t], " is not finite (token ", t, " of response ", in.seq[t], ")");
      RLVR_EXPECTS(!check_ref || std::isfinite(static_cast<double>(in.ref_logp[t])), numerical, "gae: ref_logp[", t,
                   "] = ", in.ref_logp[t], " is not finite (token ", t, " of response ", in.seq[t], ")");
    }
    advantage_report rep;
    rep.responses = b;
    // token lists per response, in order of appearance (a counting sort: count[i] becomes the
    // start of response i's tokens in `order`, stable so time order is kept)
    std::vector<index_t> count(static_cast<std::size_t>(b) + 1, 0);
    for (index_t t = 0; t < n; ++t) ++count[static_cast<std::size_t>(in.seq[t]) + 1];
    for (std::size_t i = 1; i < count.size(); ++i) count[i] += count[i - 1];
    std::vector<index_t> order(static_cast<std::size_t>(n));
    {
      std::vector<index_t> fill(count.begin(), count.end() - 1);
      for (index_t t = 0; t < n; ++t) order[static_cast<std::size_t>(fill[static_cast<std::size_t>(in.seq[t])]++)] = t;
    }
    // Every token starts inactive with A = returns = 0; the loop below sets the ones it visits.
    for (index_t t = 0; t < n; ++t) {
      out.advantages[t] = T(0);
      out.returns[t] = T(0);
      out.active[t] = 0;
    }
    for (index_t i = 0; i < b; ++i) {
      const double r = static_cast<double>(in.rewards[i]);
      if (std::isnan(r)) {
        ++rep.nan_rewards;
        ++rep.dropped;
        continue;
      }
      const auto first = count[static_cast<std::size_t>(i)], last = count[static_cast<std::size_t>(i) + 1];
      // Backwards in time: V_{T+1} = 0 and A_{T+1} = 0 past the last token; the reward goes to
      // the last token that counts (is_last), not to a masked trailing token.
      double next_value = 0, next_adv = 0;
      bool is_last = true;
      for (index_t k = last - 1; k >= first; --k) {
        const index_t t = order[static_cast<std::size_t>(k)];
        if (!in.mask.empty() && in.mask[t] == 0) continue;
        double rt = is_last ? r : 0.0;
        is_last = false;
        // The KL penalty is per token, at the rollout policy (old_logp): it is part of the
        // reward, not differentiated.
        if (kl_beta > 0) {
          const double delta = static_cast<double>(in.ref_logp[t]) - static_cast<double>(in.old_logp[t]);
          const double k = kl == kl_kind::k1   ? -delta
                           : kl == kl_kind::k2 ? 0.5 * delta * delta
                                               : std::exp(std::clamp(delta, -20.0, 20.0)) - delta - 1.0;
          rt -= kl_beta * k;
        }
        // δ_t and the recursion, in double; next_* carry V_{t+1} and A_{t+1} of the next active token.
        const double v = static_cast<double>(in.values[t]);
        const double delta = rt + gamma * next_value - v;
        next_adv = delta + gamma * lambda * next_adv;
        next_value = v;
        out.advantages[t] = static_cast<T>(next_adv);
        out.returns[t] = static_cast<T>(next_adv + v);
        out.active[t] = 1;
      }
    }
    // The returns were stored before whitening: value targets stay in the reward's scale.
    if (whiten) detail::whiten_active(out.advantages, vector_view<const std::uint8_t>(out.active), whiten_eps);
    // Token-level advantages have no single per-response value.
    for (index_t i = 0; i < out.response_advantages.size(); ++i) out.response_advantages[i] = T(0);
    return rep;
  }
};
static_assert(AdvantageEstimator<gae>);

namespace detail {
//! Number of active (mask) tokens of each response: its length |y_i|.
//! Returned as double because it only enters weighted sums (OPO) and the overlong penalty.
//! Without a mask every token counts. O(N).
template <class T> std::vector<double> response_lengths(const advantage_input<T>& in) {
  std::vector<double> len(static_cast<std::size_t>(in.rewards.size()), 0.0);
  for (index_t t = 0; t < in.seq.size(); ++t)
    if (in.mask.empty() || in.mask[t] != 0) len[static_cast<std::size_t>(in.seq[t])] += 1;
  return len;
}
} // namespace detail

//! DAPO's dynamic sampling as a batch filter (Yu et al. 2025, arXiv:2503.14476): a group whose
//! (non-NaN) rewards are all equal — all correct or all wrong, including a group of one — has
//! no relative signal; its responses are removed from the batch (inactive, A = 0, counted in
//! `advantage_report::dropped`, the groups in `filtered_groups`) *before* the inner estimator
//! runs, so they leave its statistics (e.g. a batch whitening) and the aggregation denominators.
//! DAPO then samples more prompts until the batch is full; rlvr reports how many were dropped
//! and leaves refilling to the caller. verl: `algorithm.filter_groups.enable`.
//! Why filter: such a group gets A = 0 from a group estimator but its tokens would still count
//! in a token-mean denominator, diluting the gradient of the groups that carry signal. The
//! filter is per group, so `dynamic_sampling<E>` needs group ids whatever E needs.
//!
//! Implementation: the filtered responses' rewards are replaced by NaN in a copy, so the inner
//! estimator drops them through its usual NaN path; the report is then corrected
//! (`nan_rewards` back to the real count, `filtered_groups` added, `zero_std_groups` = 0
//! since every all-equal group is gone). Needs group ids. O(N + B log B) plus E's cost.
//!
//!   rlvr::dynamic_sampling<rlvr::group_zscore> ds{};   // DAPO's filter around GRPO
template <AdvantageEstimator E> struct dynamic_sampling {
  //! The estimator that sees the filtered batch.
  E inner{};
  static constexpr bool needs_values = E::needs_values;
  static constexpr bool needs_group_ids = true;
  void validate() const { inner.validate(); }
  template <class T> advantage_report estimate(const advantage_input<T>& in, const advantage_output<T>& out) const {
    detail::check_advantage_io(in, out, "dynamic_sampling", true, false);
    const index_t b = in.rewards.size();
    index_t groups = 0;
    const auto g = detail::dense_groups(in.group_ids, b, groups);
    const auto stats = detail::compute_group_stats(in.rewards, g, groups);
    // A copy of the rewards: the caller's input is never modified.
    std::vector<T> r(in.rewards.begin(), in.rewards.end());
    index_t filtered = 0, removed = 0;
    // s.n > 0: a group whose rewards are all NaN has no statistics; its members are dropped by
    // the inner estimator as unscored, not filtered here.
    for (const auto& s : stats) filtered += (s.n > 0 && s.lo == s.hi) ? 1 : 0;
    for (index_t i = 0; i < b; ++i) {
      const auto& s = stats[static_cast<std::size_t>(g[static_cast<std::size_t>(i)])];
      if (s.n > 0 && s.lo == s.hi && !std::isnan(static_cast<double>(r[static_cast<std::size_t>(i)]))) {
        r[static_cast<std::size_t>(i)] = std::numeric_limits<T>::quiet_NaN();
        ++removed;
      }
    }
    // Only the rewards differ from the caller's input (the other views are shared).
    advantage_input<T> sub = in;
    sub.rewards = vector_view<const T>(r);
    advantage_report rep = inner.estimate(sub, out);
    rep.nan_rewards -= removed; // the inner estimator saw them as unscored
    rep.filtered_groups += filtered;
    rep.zero_std_groups = 0;    // none is left
    return rep;
  }
};
static_assert(AdvantageEstimator<dynamic_sampling<group_zscore>>);

//! DAPO's overlong reward shaping: with L_max the generation limit and a buffer L_c, a response
//! of length |y| (its mask tokens) gets r + p(|y|),
//!   p = 0 for |y| ≤ L_max − L_c,   p = (L_max − L_c − |y|)/L_c · factor inside the buffer,
//!   p = −factor for |y| > L_max,
//! and the inner estimator runs on the shaped rewards (NaN stays NaN). verl:
//! `reward_model.overlong_buffer` {len, penalty_factor}. Defaults: L_max = 1024, L_c = 256.
//! Why: a response truncated at the limit is judged on an unfinished answer, so its reward is
//! noisy; the soft penalty teaches the length limit gradually instead. The penalty is per
//! response, so `overlong_penalty<E>` needs group ids exactly when E does.
//! The penalty only lowers rewards (p ≤ 0) and is linear in the buffer: −factor/2 halfway
//! through it. With a group estimator the penalty acts relative to the group (a long correct
//! response gets a smaller advantage than a short correct one). Lengths count mask tokens
//! (all tokens without a mask). Errors: `config_error` from `validate()` (0 < L_c ≤ L_max,
//! factor finite ≥ 0, and the inner estimator's), the inner estimator's input checks. O(N + B)
//! plus E's cost; the shaped rewards are a copy.
//!
//!   rlvr::overlong_penalty<rlvr::group_zscore> op{.max_length = 4096, .buffer = 512};
template <AdvantageEstimator E> struct overlong_penalty {
  //! The estimator run on the shaped rewards.
  E inner{};
  //! Set L_max to the generation limit actually used: responses cut at the limit are the ones
  //! the penalty is for. In tokens, like |y|.
  double max_length = 1024; //!< L_max > 0
  double buffer = 256;      //!< L_c in (0, L_max]
  //! With {0, 1} rewards, factor = 1 makes a correct response past the limit worth no more than
  //! an incorrect one inside it.
  double factor = 1.0;      //!< penalty at the limit, ≥ 0
  static constexpr bool needs_values = E::needs_values;
  static constexpr bool needs_group_ids = E::needs_group_ids;
  //! Validates the inner estimator, then `config_error` unless 0 < buffer ≤ max_length and
  //! factor is finite ≥ 0.
  void validate() const {
    inner.validate();
    RLVR_EXPECTS(max_length > 0 && buffer > 0 && buffer <= max_length, config, "overlong_penalty: max_length = ",
                 max_length, ", buffer = ", buffer, " (need 0 < buffer <= max_length)");
    RLVR_EXPECTS(factor >= 0 && std::isfinite(factor), config, "overlong_penalty: factor = ", factor,
                 " must be finite and >= 0");
  }
  //! Example, L_max = 1024, L_c = 256, factor = 1: p(768) = 0, p(896) = −0.5, p(1024) = −1.
  //! p(|y|) (see above). 0 up to L_max − L_c, then linear down to −factor at L_max (the bound
  //! is inclusive: |y| = L_max gets −factor), −factor beyond.
  [[nodiscard]] double penalty(double length) const {
    const double start = max_length - buffer;
    if (length <= start) return 0.0;
    if (length > max_length) return -factor;
    return (start - length) / buffer * factor;
  }
  template <class T> advantage_report estimate(const advantage_input<T>& in, const advantage_output<T>& out) const {
    detail::check_advantage_io(in, out, "overlong_penalty", false, false);
    const auto len = detail::response_lengths(in);
    std::vector<T> r(in.rewards.begin(), in.rewards.end());
    // NaN + p = NaN: an unscored response stays unscored.
    for (std::size_t i = 0; i < r.size(); ++i) r[i] = static_cast<T>(static_cast<double>(r[i]) + penalty(len[i]));
    advantage_input<T> sub = in;
    sub.rewards = vector_view<const T>(r);
    return inner.estimate(sub, out);
  }
};
static_assert(AdvantageEstimator<overlong_penalty<group_zscore>>);

//! ReMax (Li et al. 2023, arXiv:2310.10505): A_i = r_i − b_i with b_i the reward of the greedy
//! response to the same prompt, supplied by the caller in `advantage_input::baselines` [B].
//! No normalisation (verl `adv_estimator=remax`). The greedy response costs one more
//! generation per prompt but gives a baseline without groups of samples.
//! The baseline is given per response (the caller repeats a prompt's greedy reward for each of
//! its samples), so no group ids are needed.
//! Errors: `shape_error` unless `baselines` has length B, `numerical_error` for a non-finite
//! baseline; NaN rewards are dropped as usual. No parameters. O(N + B).
struct remax {
  static constexpr bool needs_values = false;
  static constexpr bool needs_group_ids = false;
  void validate() const {}
  template <class T> advantage_report estimate(const advantage_input<T>& in, const advantage_output<T>& out) const {
    detail::check_advantage_io(in, out, "remax", false, false);
    const index_t b = in.rewards.size();
    // Baselines are checked for every response, including one whose reward is NaN (unscored).
    RLVR_EXPECTS(in.baselines.size() == b, shape, "remax: baselines has length ", in.baselines.size(),
                 " but rewards has ", b, " (the greedy response's reward per response)");
    for (index_t i = 0; i < b; ++i)
      RLVR_EXPECTS(std::isfinite(static_cast<double>(in.baselines[i])), numerical, "remax: baselines[", i, "] = ",
                   in.baselines[i], " is not finite");
    advantage_report rep;
    rep.responses = b;
    std::vector<double> a(static_cast<std::size_t>(b), 0.0);
    std::vector<std::uint8_t> keep(static_cast<std::size_t>(b), 1);
    for (index_t i = 0; i < b; ++i) {
      const double r = static_cast<double>(in.rewards[i]);
      if (std::isnan(r)) {
        keep[static_cast<std::size_t>(i)] = 0;
        ++rep.nan_rewards;
        ++rep.dropped;
        continue;
      }
      a[static_cast<std::size_t>(i)] = r - static_cast<double>(in.baselines[i]);
    }
    detail::broadcast_to_tokens(in, out, a, keep);
    return rep;
  }
};
static_assert(AdvantageEstimator<remax>);

//! OPO (On-Policy RL with Optimal reward baseline, Hao et al. 2025, arXiv:2505.23585): the
//! variance-minimising baseline of a sequence-level REINFORCE is length-weighted,
//!   b_g = Σ_{j∈g} |y_j|·r_j / Σ_{j∈g} |y_j|,   A_i = r_i − b_g,
//! |y| the response's mask tokens. The optimal baseline weights each sample's reward by its
//! squared score-function norm, which for a sequence-level REINFORCE grows with |y|; OPO uses
//! |y| as that weight. A group of one, or one whose lengths are all 0, gets A = 0
//! (rlvr's singleton convention; verl `adv_estimator=opo` uses b = 0 there); a group whose
//! rewards are all equal gets A = 0 and counts as zero-std. NaN rewards are dropped.
//! Lengths |y| are computed from the mask (all tokens without one), and only non-NaN members
//! enter b_g. With equal lengths OPO reduces to `group_mean_baseline`. Needs group ids. No
//! parameters. O(N + B log B).
struct opo {
  static constexpr bool needs_values = false;
  static constexpr bool needs_group_ids = true;
  void validate() const {}
  template <class T> advantage_report estimate(const advantage_input<T>& in, const advantage_output<T>& out) const {
    detail::check_advantage_io(in, out, "opo", true, false);
    const index_t b = in.rewards.size();
    advantage_report rep;
    rep.responses = b;
    const auto g = detail::dense_groups(in.group_ids, b, rep.groups);
    const auto stats = detail::compute_group_stats(in.rewards, g, rep.groups);
    const auto len = detail::response_lengths(in);
    // b_g = num/den: Σ |y|·r and Σ |y| over the group's scored members.
    std::vector<double> num(static_cast<std::size_t>(rep.groups), 0.0), den(num.size(), 0.0);
    for (index_t i = 0; i < b; ++i) {
      const double r = static_cast<double>(in.rewards[i]);
      if (std::isnan(r)) continue;
      const auto k = static_cast<std::size_t>(g[static_cast<std::size_t>(i)]);
      num[k] += len[static_cast<std::size_t>(i)] * r;
      den[k] += len[static_cast<std::size_t>(i)];
    }
    // The same counts the shared group driver reports: singletons, all-equal groups of ≥ 2.
    for (const auto& s : stats) {
      rep.singleton_groups += s.n == 1 ? 1 : 0;
      rep.zero_std_groups += (s.n > 1 && s.lo == s.hi) ? 1 : 0;
    }
    std::vector<double> a(static_cast<std::size_t>(b), 0.0);
    std::vector<std::uint8_t> keep(static_cast<std::size_t>(b), 1);
    for (index_t i = 0; i < b; ++i) {
      const double r = static_cast<double>(in.rewards[i]);
      const auto k = static_cast<std::size_t>(g[static_cast<std::size_t>(i)]);
      if (std::isnan(r)) {
        keep[static_cast<std::size_t>(i)] = 0;
        ++rep.nan_rewards;
        ++rep.dropped;
        continue;
      }
      const auto& s = stats[k];
      // A stays 0: a singleton, an all-equal group, or all lengths 0 (b_g undefined).
      if (s.n < 2 || s.lo == s.hi || den[k] <= 0) continue;
      a[static_cast<std::size_t>(i)] = r - num[k] / den[k];
    }
    detail::broadcast_to_tokens(in, out, a, keep);
    return rep;
  }
};
static_assert(AdvantageEstimator<opo>);

//! GDPO-style decoupled normalisation of several rewards (GDPO: group reward-decoupled
//! normalisation policy optimisation): with R rewards per response in `advantage_input::reward_components` [R, B],
//! each reward is z-scored within its group separately (as `group_zscore`, ε added to the
//! sample std, zero-std groups give 0 for that reward), the R normalised values are summed,
//! and the sum is whitened over the batch's responses (mean 0, std 1 with n − 1, + ε). Summing
//! first and normalising once (GRPO on r = Σ_k r_k) lets a reward with a large spread drown the
//! others; decoupling gives each reward the same scale. The sum of R unit-scale z-scores has a
//! spread that grows with R; the final whitening brings A back to unit scale whatever R is.
//! A response with a NaN in any reward is
//! dropped. `rewards` is only used for its length B. The rewards may be on different scales
//! (a {0, 1} correctness and a graded format score): each is normalised before summing.
//!
//! A_i = (S_i − mean S)/(std S + ε),  S_i = Σ_k (r_k,i − mean_g(r_k))/(std_g(r_k) + ε),
//! the batch statistics over the kept responses (sample std). A group of one, or a group where
//! reward k is constant, contributes 0 for that reward. A batch with fewer than two kept
//! responses gets A = 0. The report counts groups, NaN responses and drops, but not zero-std or
//! singleton groups (they differ per reward). Errors: `shape_error` unless reward_components is
//! R × B with R ≥ 1, the common checks (group ids required). O(R·B + N + B log B).
//!
//!   // rows: correctness, format; one column per response
//!   in.reward_components = rlvr::matrix_view<const float>(rewards_rb.data(), 2, b);
struct gdpo {
  //! ε ≥ 0, finite (`config_error` otherwise). Keep it > 0: with ε = 0 a batch whose sums are
  //! all equal (e.g. every group constant in every reward) gets A = 0/0 = NaN.
  double eps = 1e-6; //!< added to each group std and to the batch std
  static constexpr bool needs_values = false;
  static constexpr bool needs_group_ids = true;
  //! `config_error` unless eps is finite and ≥ 0.
  void validate() const {
    RLVR_EXPECTS(eps >= 0.0 && std::isfinite(eps), config, "gdpo: eps = ", eps, " must be finite and >= 0");
  }
  template <class T> advantage_report estimate(const advantage_input<T>& in, const advantage_output<T>& out) const {
    detail::check_advantage_io(in, out, "gdpo", true, false);
    const index_t b = in.rewards.size(), nr = in.reward_components.rows();
    RLVR_EXPECTS(nr >= 1 && in.reward_components.cols() == b, shape, "gdpo: reward_components is ", nr, "x",
                 in.reward_components.cols(), " (need R x ", b, " with R >= 1)");
    advantage_report rep;
    rep.responses = b;
    const auto g = detail::dense_groups(in.group_ids, b, rep.groups);
    // A response with any NaN component is dropped from every reward's statistics, so all R
    // z-scores of a group are computed over the same members.
    std::vector<std::uint8_t> keep(static_cast<std::size_t>(b), 1);
    for (index_t i = 0; i < b; ++i)
      for (index_t k = 0; k < nr; ++k)
        if (std::isnan(static_cast<double>(in.reward_components(k, i)))) keep[static_cast<std::size_t>(i)] = 0;
    std::vector<double> sum(static_cast<std::size_t>(b), 0.0);
    // One reward's row at a time, NaN for dropped responses so that the statistics skip them.
    std::vector<T> row(static_cast<std::size_t>(b));
    for (index_t k = 0; k < nr; ++k) {
      for (index_t i = 0; i < b; ++i)
        row[static_cast<std::size_t>(i)] = keep[static_cast<std::size_t>(i)] ? in.reward_components(k, i)
                                                                              : std::numeric_limits<T>::quiet_NaN();
      const auto stats = detail::compute_group_stats(vector_view<const T>(row), g, rep.groups);
      for (index_t i = 0; i < b; ++i) {
        if (!keep[static_cast<std::size_t>(i)]) continue;
        const auto& s = stats[static_cast<std::size_t>(g[static_cast<std::size_t>(i)])];
        // This reward carries no relative signal in this group: it contributes 0.
        if (s.n < 2 || s.lo == s.hi) continue;
        sum[static_cast<std::size_t>(i)] += (static_cast<double>(row[static_cast<std::size_t>(i)]) - s.mean) / (s.std + eps);
      }
    }
    // Whitening of the sums over the kept responses (per response, not per token, unlike
    // `whitened`), centred two-pass variance in double.
    double n = 0, mean = 0, ss = 0;
    for (index_t i = 0; i < b; ++i)
      if (keep[static_cast<std::size_t>(i)]) {
        n += 1;
        mean += sum[static_cast<std::size_t>(i)];
      }
    if (n > 0) mean /= n;
    for (index_t i = 0; i < b; ++i)
      if (keep[static_cast<std::size_t>(i)]) ss += (sum[static_cast<std::size_t>(i)] - mean) * (sum[static_cast<std::size_t>(i)] - mean);
    const double sd = n > 1 ? std::sqrt(ss / (n - 1)) : 0.0;
    std::vector<double> a(static_cast<std::size_t>(b), 0.0);
    for (index_t i = 0; i < b; ++i) {
      if (!keep[static_cast<std::size_t>(i)]) {
        ++rep.nan_rewards;
        ++rep.dropped;
        continue;
      }
      // One kept response has no batch spread: A = 0.
      a[static_cast<std::size_t>(i)] = n > 1 ? (sum[static_cast<std::size_t>(i)] - mean) / (sd + eps) : 0.0;
    }
    detail::broadcast_to_tokens(in, out, a, keep);
    return rep;
  }
};
static_assert(AdvantageEstimator<gdpo>);

} // namespace rlvr
