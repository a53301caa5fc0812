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
enum class unused_side : std::uint8_t {
  drop, //!< removed from the batch (the paper's code): they leave the aggregation denominators
  zero, //!< kept with A = 0: they stay in the denominators
};

//! A KL estimator (spec §4), for folding the KL into rewards.
enum class kl_kind : std::uint8_t { k1, k2, k3 };

//! What a group of one valid response gets.
enum class singleton_policy : std::uint8_t {
  zero, //!< A = 0 (rlvr's default)
  raw,  //!< verl: mean 0, std 1, A = r / (1 + ε)
};

namespace detail {

//! Checks an estimator's inputs and outputs; names the offending argument and index.
template <class T>
void check_advantage_io(const advantage_input<T>& in, const advantage_output<T>& out, const char* who,
                        bool needs_groups, bool needs_values) {
  const index_t b = in.rewards.size();
  const index_t n = in.seq.size();
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
  for (index_t i = 0; i < b; ++i)
    RLVR_EXPECTS(!std::isinf(static_cast<double>(in.rewards[i])), numerical, who, ": rewards[", i, "] = ",
                 in.rewards[i], " is infinite");
}

//! Dense group index per response (0 … G−1, in order of first appearance of each id).
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
  for (std::size_t k = 0; k < order.size();) {
    std::size_t e = k;
    while (e < order.size() && ids[order[e]] == ids[order[k]]) ++e;
    first.emplace_back(order[k], static_cast<index_t>(k));
    k = e;
  }
  std::sort(first.begin(), first.end());
  std::vector<index_t> run_group(order.size(), 0);
  for (std::size_t gi = 0; gi < first.size(); ++gi) run_group[static_cast<std::size_t>(first[gi].second)] = static_cast<index_t>(gi);
  index_t cur = 0;
  for (std::size_t k = 0; k < order.size(); ++k) {
    if (k == 0 || ids[order[k]] != ids[order[k - 1]]) cur = run_group[k];
    g[static_cast<std::size_t>(order[k])] = cur;
  }
  num_groups = static_cast<index_t>(first.size());
  return g;
}

//! Per-group statistics over the non-NaN rewards, in double, two centred passes.
struct group_stats {
  index_t n = 0;
  double mean = 0, std = 0; // sample std (n − 1); 0 for n < 2
  double lo = 0, hi = 0;
};
template <class T>
std::vector<group_stats> compute_group_stats(vector_view<const T> r, const std::vector<index_t>& g, index_t groups) {
  std::vector<group_stats> s(static_cast<std::size_t>(groups));
  for (std::size_t i = 0; i < g.size(); ++i) {
    const double x = static_cast<double>(r[static_cast<index_t>(i)]);
    if (std::isnan(x)) continue;
    auto& gs = s[static_cast<std::size_t>(g[i])];
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
  for (std::size_t k = 0; k < s.size(); ++k)
    if (s[k].n > 1) s[k].std = std::sqrt(ss[k] / static_cast<double>(s[k].n - 1));
  return s;
}

//! Broadcasts per-response advantages to tokens: active = mask ∧ keep[seq].
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
template <class T, class F>
advantage_report group_estimate(const advantage_input<T>& in, const advantage_output<T>& out, const char* who, F&& f) {
  check_advantage_io(in, out, who, false, false);
  const index_t b = in.rewards.size();
  advantage_report rep;
  rep.responses = b;
  const auto g = dense_groups(in.group_ids, b, rep.groups);
  const auto stats = compute_group_stats(in.rewards, g, rep.groups);
  std::vector<std::uint8_t> zero_std(static_cast<std::size_t>(rep.groups), 0);
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
  const double scale = n > 1 ? 1.0 / std::sqrt(ss / (n - 1) + eps) : 1.0;
  for (index_t t = 0; t < adv.size(); ++t)
    adv[t] = active[t] ? static_cast<T>((static_cast<double>(adv[t]) - mean) * scale) : T(0);
}

} // namespace detail

//! Sign split (spec §2): PSR, NSR, W-REINFORCE(λ), REINFORCE ±1 are all this estimator.
//! A response is *correct* if its reward is > 0 (works for {0, 1} and ±1 rewards).
//! A_i = `positive` if correct, `negative` otherwise. A side whose weight is exactly 0 is
//! *unused*; `unused` says whether its responses are dropped from the batch or kept with A = 0.
//!
//!     psr:           {.positive = 1,   .negative = 0}
//!     nsr:           {.positive = 0,   .negative = -1}
//!     w_reinforce λ: {.positive = λ,   .negative = -1}
//!     reinforce:     {.positive = 1,   .negative = -1}
struct sign_split {
  double positive = 1.0;
  double negative = -1.0;
  unused_side unused = unused_side::drop;

  static constexpr bool needs_values = false;
  static constexpr bool needs_group_ids = false;

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
      if (std::isnan(r)) {
        keep[k] = 0;
        ++rep.nan_rewards;
        ++rep.dropped;
        continue;
      }
      const double w = r > 0 ? positive : negative;
      a[k] = w;
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
struct group_zscore {
  double eps = 1e-6;                            //!< added to the std (verl 1e-6, TRL 1e-4, OpenRLHF 1e-9)
  double std_floor = 1e-6;                      //!< std ≤ floor·max(1, |mean|) counts as zero
  singleton_policy singleton = singleton_policy::zero;

  static constexpr bool needs_values = false;
  static constexpr bool needs_group_ids = true;

  void validate() const {
    RLVR_EXPECTS(eps >= 0.0 && std::isfinite(eps), config, "group_zscore: eps = ", eps, " must be finite and >= 0");
    RLVR_EXPECTS(std_floor >= 0.0 && std::isfinite(std_floor), config, "group_zscore: std_floor = ", std_floor,
                 " must be finite and >= 0");
  }
  template <class T> advantage_report estimate(const advantage_input<T>& in, const advantage_output<T>& out) const {
    detail::check_advantage_io(in, out, "group_zscore", true, false);
    return detail::group_estimate(in, out, "group_zscore", [&](double r, const detail::group_stats& s) {
      if (s.n == 1) return std::pair<double, bool>{singleton == singleton_policy::raw ? r / (1.0 + eps) : 0.0, false};
      if (s.lo == s.hi || s.std <= std_floor * std::max(1.0, std::abs(s.mean))) return std::pair<double, bool>{0.0, true};
      return std::pair<double, bool>{(r - s.mean) / (s.std + eps), false};
    });
  }
};
static_assert(AdvantageEstimator<group_zscore>);

//! Dr. GRPO / group baseline: A = r − mean_g (no std). A group of one gets A = 0.
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
template <AdvantageEstimator E> struct whitened {
  E inner{};
  double eps = 1e-8;
  static constexpr bool needs_values = E::needs_values;
  static constexpr bool needs_group_ids = E::needs_group_ids;
  void validate() const {
    inner.validate();
    RLVR_EXPECTS(eps >= 0.0 && std::isfinite(eps), config, "whitened: eps = ", eps, " must be finite and >= 0");
  }
  template <class T> advantage_report estimate(const advantage_input<T>& in, const advantage_output<T>& out) const {
    const advantage_report rep = inner.estimate(in, out);
    detail::whiten_active(out.advantages, vector_view<const std::uint8_t>(out.active), eps);
    for (index_t i = 0; i < out.response_advantages.size(); ++i) out.response_advantages[i] = T(0);
    for (index_t t = 0; t < out.advantages.size(); ++t) // per-response value after whitening
      if (out.active[t] && !out.response_advantages.empty()) out.response_advantages[in.seq[t]] = out.advantages[t];
    return rep;
  }
};
static_assert(AdvantageEstimator<whitened<raw_reward>>);

//! Generalised advantage estimation for PPO. For each response, over its active tokens in time
//! order t = 1…T, with token rewards r_t = −kl_beta·k(log π_old,t, log π_ref,t) + [t = T]·r_i
//! (spec §2: the KL folded into the reward; k is k1 = log π_old − log π_ref by default, as in the
//! paper's PPO, or k2 = ½Δ² / k3 = e^Δ − Δ − 1 with Δ = log π_ref − log π_old, `gae::kl`):
//!   δ_t = r_t + γ V_{t+1} − V_t  (V_{T+1} = 0),   A_t = δ_t + γλ A_{t+1},   returns_t = A_t + V_t.
//! Then, if `whiten`, A is whitened over the batch's active tokens (returns are not).
//! Inputs: every value V_t, and every old_logp / ref_logp given (length N), of a token that counts
//! (mask 1, reward not NaN) must be finite; otherwise `numerical_error` names the element
//! (`values[t]`, its token and response) before anything is computed.
struct gae {
  double gamma = 1.0;
  double lambda = 1.0;
  double kl_beta = 0.0; //!< > 0 folds β·k1 into the rewards (needs old_logp and ref_logp)
  bool whiten = true;
  double whiten_eps = 1e-8;
  kl_kind kl = kl_kind::k1; //!< the estimator folded into the rewards

  static constexpr bool needs_values = true;
  static constexpr bool needs_group_ids = false;

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
    // token lists per response, in order of appearance
    std::vector<index_t> count(static_cast<std::size_t>(b) + 1, 0);
    for (index_t t = 0; t < n; ++t) ++count[static_cast<std::size_t>(in.seq[t]) + 1];
    for (std::size_t i = 1; i < count.size(); ++i) count[i] += count[i - 1];
    std::vector<index_t> order(static_cast<std::size_t>(n));
    {
      std::vector<index_t> fill(count.begin(), count.end() - 1);
      for (index_t t = 0; t < n; ++t) order[static_cast<std::size_t>(fill[static_cast<std::size_t>(in.seq[t])]++)] = t;
    }
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
      double next_value = 0, next_adv = 0;
      bool is_last = true;
      for (index_t k = last - 1; k >= first; --k) {
        const index_t t = order[static_cast<std::size_t>(k)];
        if (!in.mask.empty() && in.mask[t] == 0) continue;
        double rt = is_last ? r : 0.0;
        is_last = false;
        if (kl_beta > 0) {
          const double delta = static_cast<double>(in.ref_logp[t]) - static_cast<double>(in.old_logp[t]);
          const double k = kl == kl_kind::k1   ? -delta
                           : kl == kl_kind::k2 ? 0.5 * delta * delta
                                               : std::exp(std::clamp(delta, -20.0, 20.0)) - delta - 1.0;
          rt -= kl_beta * k;
        }
        const double v = static_cast<double>(in.values[t]);
        const double delta = rt + gamma * next_value - v;
        next_adv = delta + gamma * lambda * next_adv;
        next_value = v;
        out.advantages[t] = static_cast<T>(next_adv);
        out.returns[t] = static_cast<T>(next_adv + v);
        out.active[t] = 1;
      }
    }
    if (whiten) detail::whiten_active(out.advantages, vector_view<const std::uint8_t>(out.active), whiten_eps);
    for (index_t i = 0; i < out.response_advantages.size(); ++i) out.response_advantages[i] = T(0);
    return rep;
  }
};
static_assert(AdvantageEstimator<gae>);

namespace detail {
//! Number of active (mask) tokens of each response: its length |y_i|.
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
template <AdvantageEstimator E> struct dynamic_sampling {
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
    std::vector<T> r(in.rewards.begin(), in.rewards.end());
    index_t filtered = 0, removed = 0;
    for (const auto& s : stats) filtered += (s.n > 0 && s.lo == s.hi) ? 1 : 0;
    for (index_t i = 0; i < b; ++i) {
      const auto& s = stats[static_cast<std::size_t>(g[static_cast<std::size_t>(i)])];
      if (s.n > 0 && s.lo == s.hi && !std::isnan(static_cast<double>(r[static_cast<std::size_t>(i)]))) {
        r[static_cast<std::size_t>(i)] = std::numeric_limits<T>::quiet_NaN();
        ++removed;
      }
    }
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
template <AdvantageEstimator E> struct overlong_penalty {
  E inner{};
  double max_length = 1024; //!< L_max > 0
  double buffer = 256;      //!< L_c in (0, L_max]
  double factor = 1.0;      //!< penalty at the limit, ≥ 0
  static constexpr bool needs_values = E::needs_values;
  static constexpr bool needs_group_ids = E::needs_group_ids;
  void validate() const {
    inner.validate();
    RLVR_EXPECTS(max_length > 0 && buffer > 0 && buffer <= max_length, config, "overlong_penalty: max_length = ",
                 max_length, ", buffer = ", buffer, " (need 0 < buffer <= max_length)");
    RLVR_EXPECTS(factor >= 0 && std::isfinite(factor), config, "overlong_penalty: factor = ", factor,
                 " must be finite and >= 0");
  }
  //! p(|y|) (see above).
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
    for (std::size_t i = 0; i < r.size(); ++i) r[i] = static_cast<T>(static_cast<double>(r[i]) + penalty(len[i]));
    advantage_input<T> sub = in;
    sub.rewards = vector_view<const T>(r);
    return inner.estimate(sub, out);
  }
};
static_assert(AdvantageEstimator<overlong_penalty<group_zscore>>);

//! ReMax (Li et al. 2023, arXiv:2310.10505): A_i = r_i − b_i with b_i the reward of the greedy
//! response to the same prompt, supplied by the caller in `advantage_input::baselines` [B].
//! No normalisation (verl `adv_estimator=remax`).
struct remax {
  static constexpr bool needs_values = false;
  static constexpr bool needs_group_ids = false;
  void validate() const {}
  template <class T> advantage_report estimate(const advantage_input<T>& in, const advantage_output<T>& out) const {
    detail::check_advantage_io(in, out, "remax", false, false);
    const index_t b = in.rewards.size();
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
//! |y| the response's mask tokens. A group of one, or one whose lengths are all 0, gets A = 0
//! (rlvr's singleton convention; verl `adv_estimator=opo` uses b = 0 there); a group whose
//! rewards are all equal gets A = 0 and counts as zero-std. NaN rewards are dropped.
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
    std::vector<double> num(static_cast<std::size_t>(rep.groups), 0.0), den(num.size(), 0.0);
    for (index_t i = 0; i < b; ++i) {
      const double r = static_cast<double>(in.rewards[i]);
      if (std::isnan(r)) continue;
      const auto k = static_cast<std::size_t>(g[static_cast<std::size_t>(i)]);
      num[k] += len[static_cast<std::size_t>(i)] * r;
      den[k] += len[static_cast<std::size_t>(i)];
    }
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
//! others; decoupling gives each reward the same scale. A response with a NaN in any reward is
//! dropped. `rewards` is only used for its length B.
struct gdpo {
  double eps = 1e-6; //!< added to each group std and to the batch std
  static constexpr bool needs_values = false;
  static constexpr bool needs_group_ids = true;
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
    std::vector<std::uint8_t> keep(static_cast<std::size_t>(b), 1);
    for (index_t i = 0; i < b; ++i)
      for (index_t k = 0; k < nr; ++k)
        if (std::isnan(static_cast<double>(in.reward_components(k, i)))) keep[static_cast<std::size_t>(i)] = 0;
    std::vector<double> sum(static_cast<std::size_t>(b), 0.0);
    std::vector<T> row(static_cast<std::size_t>(b));
    for (index_t k = 0; k < nr; ++k) {
      for (index_t i = 0; i < b; ++i)
        row[static_cast<std::size_t>(i)] = keep[static_cast<std::size_t>(i)] ? in.reward_components(k, i)
                                                                              : std::numeric_limits<T>::quiet_NaN();
      const auto stats = detail::compute_group_stats(vector_view<const T>(row), g, rep.groups);
      for (index_t i = 0; i < b; ++i) {
        if (!keep[static_cast<std::size_t>(i)]) continue;
        const auto& s = stats[static_cast<std::size_t>(g[static_cast<std::size_t>(i)])];
        if (s.n < 2 || s.lo == s.hi) continue;
        sum[static_cast<std::size_t>(i)] += (static_cast<double>(row[static_cast<std::size_t>(i)]) - s.mean) / (s.std + eps);
      }
    }
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
      a[static_cast<std::size_t>(i)] = n > 1 ? (sum[static_cast<std::size_t>(i)] - mean) / (sd + eps) : 0.0;
    }
    detail::broadcast_to_tokens(in, out, a, keep);
    return rep;
  }
};
static_assert(AdvantageEstimator<gdpo>);

} // namespace rlvr
