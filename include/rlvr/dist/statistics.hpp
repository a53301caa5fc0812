#pragma once
//! \file rlvr/dist/statistics.hpp
//! \brief Batch statistics that stay right when the batch is split across ranks: group
//! advantages (GRPO, RLOO, Dr. GRPO, … — a prompt's G responses may fall on several ranks), the
//! global token and sequence counts of the loss's denominators, and gathered Pass@k counts.
//!
//! **Right by construction.** Rather than combine per-rank partial statistics (a group's mean
//! and standard deviation from partial sums, a token-mean from local means — where the
//! per-micro-batch-mean bug lives), every function here *gathers the inputs* in global order
//! (rank 0's block first) and evaluates the single-process formula on the whole. The inputs
//! are small (one reward per response, one flag or float per token, two integers per problem),
//! and the results are the single-process results bit for bit, on any rank count:
//!
//! | function                       | gathers                                      | returns (every rank)                         |
//! |--------------------------------|----------------------------------------------|----------------------------------------------|
//! | `estimate_advantages(c, o, in)`| rewards, group ids, token maps, values, …    | this rank's slice of the global advantages    |
//! | `global_counts(c, adv)`        | per-component active token counts (int sums)  | D_k = Σ_ranks active tokens of component k    |
//! | `global_sequences(c, adv, seq)`| per-component active responses (int sums)     | B_k for the seq-mean modes                    |
//! | `gather_counts(c, counts)`     | (n, c) per problem                           | every problem's counts, in global order       |
//!
//! Pass the counts to the loss as `aggregation_options::component_tokens` /
//! `component_sequences`: the ranks' losses then add up to the whole batch's loss (token-mean:
//! L = Σ_ranks Σ_{t∈rank} m_t ℓ_t / D). The trainer (`rlvr/trainer/trainer.hpp`) does all of
//! this itself; these are for a loop of your own:
//!
//!     // this rank's responses: a block of the global batch, rank order = global order
//!     rlvr::advantage_input<float> in{.rewards = my_rewards, .group_ids = my_global_group_ids,
//!                                     .seq = my_local_seq, .mask = my_mask};
//!     const auto adv = rlvr::dist::estimate_advantages(comm, obj, in);  // this rank's tokens
//!     const std::vector<double> d = rlvr::dist::global_counts(comm, adv);  // D_k, every rank
//!     // pass d.data() as aggregation_options::component_tokens to this rank's loss; the
//!     // gradients then sum over ranks to the whole batch's gradient
//!
//! **Which ranks, what order.** Every function here is collective: every rank of `c` calls it,
//! the same functions in the same order, with the same objective, the same optional inputs
//! present (see `estimate_advantages`), and its part of the data in global order (rank r holds
//! the block after rank r − 1's; `block_share` cuts such blocks). A precondition that fails on
//! one rank only throws there and leaves its peers in their next collective, where the
//! communicator's fault handling ends the wait (`comm_error` for thread ranks, the watchdog's
//! exit for MPI).
//!
//! **Determinism.** Gathers are exact and integer sums are exact, so every result is
//! bit-identical on every rank and equal, bit for bit, to the single-process result for every
//! rank count and every cut of the batch into consecutive blocks (tested on 1–4 thread ranks and
//! on 2 and 3 MPI processes, `tests/dist/scenarios.hpp`).
//!
//! **Cost.** Small messages, but the whole batch's *inputs* on every rank: `estimate_advantages`
//! makes every rank hold and process all B responses and N tokens (the estimator runs once per
//! rank on the whole batch — its time is not divided by R); the counts are one all-reduce of K
//! integers; `gather_counts` moves two integers per problem.

#include <cstdint>
#include <span>
#include <vector>

#include "rlvr/dist/communicator.hpp"
#include "rlvr/error.hpp"
#include "rlvr/loss.hpp"
#include "rlvr/metrics/pass_at_k.hpp"

namespace rlvr::dist {

namespace detail {
//! `all_gather_v` of a view: every rank's `x`, concatenated in rank order. `std::int32_t` (not a
//! `transport_type`) crosses widened to `std::int64_t` and comes back narrowed (exact: the values
//! came from int32). An empty view contributes nothing but still takes part (two `all_gather`s).
template <HostCommunicator C, class T> std::vector<T> gather_view(C& c, vector_view<const T> x) {
  if constexpr (std::is_same_v<T, std::int32_t>) {
    std::vector<std::int64_t> w(x.begin(), x.end());
    const auto all = all_gather_v<C, std::int64_t>(c, std::span<const std::int64_t>(w));
    return std::vector<T>(all.begin(), all.end());
  } else {
    return all_gather_v<C, T>(c, std::span<const T>(x.data(), static_cast<std::size_t>(x.size())));
  }
}
} // namespace detail

//! The objective's advantages for this rank's part of a rollout batch split across ranks:
//! `in` holds this rank's responses (rank order = global order: rank 0's responses first) with
//! **global** `group_ids`, and `in.seq` maps this rank's tokens to its *local* response indices
//! [0, B_rank). Every input is gathered, the single-process estimator runs on the whole batch,
//! and this rank's tokens are returned ([K × n_rank] advantages and active flags, [n_rank]
//! returns); `report` is the whole batch's. Equal, bit for bit, to slicing the single-process
//! result — whichever ranks a group's responses fall on.
//!
//! Layout: with B_r responses and N_r tokens on rank r, b0 = B_0 + … + B_{r−1} and
//! n0 = N_0 + … + N_{r−1}, this rank's token t (local response `in.seq[t]`) is global token
//! n0 + t of global response b0 + `in.seq[t]`, and the result holds `adv[k·n + t]` = the
//! whole batch's A_k at token n0 + t (likewise `act`, `returns[t]`); `components` = K,
//! `tokens` = n = N_r (this rank's), `report` the whole batch's (the same on every rank).
//!
//! Preconditions: every rank passes the same objective, and the same optional inputs present
//! (`group_ids`, `mask`, `values`, `old_logp`, `ref_logp`, `baselines`) with the same number of
//! `reward_components` rows — an absent input is gathered as nothing and each rank decides from
//! its own whether to use it, so ranks that disagree evaluate different batches (or fail a
//! length check on some ranks only), and a different row count desynchronises the collectives.
//! Consequently every rank should hold at least one response (a rank with none has only empty
//! views). `group_ids` are global (a group's responses share an id whichever rank
//! holds them); a response's tokens all lie on one rank.
//!
//! Throws `rlvr::shape_error` if `group_ids` is neither empty nor B_r long (before any
//! collective) and `rlvr::range_error` if some `in.seq[t]` is outside [0, B_r) (after the size
//! exchange, before the gathers) — both checked on this rank only (see "Which ranks" above).
//! Then whatever
//! `rlvr::estimate_advantages` throws for the whole batch (`shape_error`, `range_error`,
//! `config_error`, …: the same on every rank, global indices in the message), and
//! `rlvr::comm_error` from the transport.
//!
//! Cost: 1 + 2 · (8 + rows of `reward_components`) `all_gather`s (sizes, then one `all_gather_v`
//! per input, present or not); per rank it receives each input padded to the longest rank's part
//! (R · max_r B_r or R · max_r N_r elements; `seq` as int64) and holds the whole batch's inputs
//! and the whole K × N result before keeping its slice.
template <HostCommunicator C, Objective O, class T>
[[nodiscard]] advantage_result<T> estimate_advantages(C& c, const O& obj, const advantage_input<T>& in) {
  const index_t b = in.rewards.size(), n = in.seq.size();
  RLVR_EXPECTS(in.group_ids.empty() || in.group_ids.size() == b, shape, "dist::estimate_advantages: group_ids has ",
               in.group_ids.size(), " entries for ", b, " responses");
  // offsets of this rank's responses and tokens in the global batch
  const std::int64_t mine[2] = {b, n};
  std::vector<std::int64_t> sizes(2 * static_cast<std::size_t>(c.size()));
  c.all_gather(std::span<const std::int64_t>(mine, 2), std::span<std::int64_t>(sizes));
  std::int64_t b0 = 0, n0 = 0, n_all = 0;
  for (int r = 0; r < c.size(); ++r) {
    if (r < c.rank()) {
      b0 += sizes[2 * static_cast<std::size_t>(r)];
      n0 += sizes[2 * static_cast<std::size_t>(r) + 1];
    }
    n_all += sizes[2 * static_cast<std::size_t>(r) + 1];
  }
  std::vector<std::int32_t> seq(static_cast<std::size_t>(n));
  for (index_t t = 0; t < n; ++t) {
    RLVR_EXPECTS(in.seq[t] >= 0 && in.seq[t] < b, range, "dist::estimate_advantages: seq[", t, "] = ", in.seq[t],
                 " is outside this rank's responses [0, ", b, ")");
    seq[static_cast<std::size_t>(t)] = static_cast<std::int32_t>(in.seq[t] + b0);
  }
  const auto rewards = detail::gather_view(c, in.rewards);
  const auto groups = detail::gather_view(c, in.group_ids);
  const auto gseq = detail::gather_view(c, vector_view<const std::int32_t>(seq));
  const auto mask = detail::gather_view(c, in.mask);
  const auto values = detail::gather_view(c, in.values);
  const auto old_logp = detail::gather_view(c, in.old_logp);
  const auto ref_logp = detail::gather_view(c, in.ref_logp);
  const auto baselines = detail::gather_view(c, in.baselines);
  std::vector<T> comps; // [R, B_all]: gathered row by row
  const index_t nrew = in.reward_components.rows();
  index_t b_all = 0;
  for (int r = 0; r < c.size(); ++r) b_all += sizes[2 * static_cast<std::size_t>(r)];
  RLVR_EXPECTS(nrew == 0 || in.reward_components.cols() == b, shape, "dist::estimate_advantages: reward_components has ",
               in.reward_components.cols(), " columns for ", b, " responses");
  for (index_t k = 0; k < nrew; ++k) {
    const auto row = detail::gather_view(
        c, vector_view<const T>(in.reward_components.data() + k * in.reward_components.row_stride(), b));
    comps.insert(comps.end(), row.begin(), row.end());
  }
  // optional inputs by the *gathered* arrays, the same on every rank (a rank with no responses
  // passes empty views)
  advantage_input<T> whole{};
  whole.rewards = vector_view<const T>(rewards);
  if (!groups.empty()) whole.group_ids = vector_view<const std::int64_t>(groups);
  whole.seq = vector_view<const std::int32_t>(gseq);
  if (!mask.empty()) whole.mask = vector_view<const mask_t>(mask);
  if (!values.empty()) whole.values = vector_view<const T>(values);
  if (!old_logp.empty()) whole.old_logp = vector_view<const T>(old_logp);
  if (!ref_logp.empty()) whole.ref_logp = vector_view<const T>(ref_logp);
  if (!baselines.empty()) whole.baselines = vector_view<const T>(baselines);
  if (nrew > 0) whole.reward_components = matrix_view<const T>(comps.data(), nrew, b_all);
  const advantage_result<T> all = rlvr::estimate_advantages(obj, whole);
  advantage_result<T> out;
  out.components = all.components;
  out.tokens = n;
  out.report = all.report;
  out.adv.resize(static_cast<std::size_t>(all.components * n));
  out.act.resize(static_cast<std::size_t>(all.components * n));
  for (index_t k = 0; k < all.components; ++k)
    for (index_t t = 0; t < n; ++t) {
      out.adv[static_cast<std::size_t>(k * n + t)] = all.adv[static_cast<std::size_t>(k * n_all + n0 + t)];
      out.act[static_cast<std::size_t>(k * n + t)] = all.act[static_cast<std::size_t>(k * n_all + n0 + t)];
    }
  out.returns.assign(all.returns.begin() + n0, all.returns.begin() + n0 + n);
  return out;
}

//! D_k: the active tokens of each component over all ranks (exact integer sums), for
//! `aggregation_options::component_tokens`.
//!
//! `adv` is this rank's result (e.g. from `dist::estimate_advantages`), K = `adv.components` the
//! same on every rank. One `all_reduce` of K `std::int64_t`; returns K doubles (exact below
//! 2^53), identical on every rank, equal to the single-process `global_counts()` of the whole
//! batch. Throws only what the communicator throws.
template <HostCommunicator C, class T> [[nodiscard]] std::vector<double> global_counts(C& c, const advantage_result<T>& adv) {
  const std::vector<double> local = adv.global_counts();
  std::vector<std::int64_t> k(local.begin(), local.end());
  c.all_reduce(std::span<std::int64_t>(k), reduce_op::sum);
  return {k.begin(), k.end()};
}

//! B_k: the responses with an active token of each component over all ranks, for
//! `aggregation_options::component_sequences` (`seq`: this rank's token → response map; no
//! response is split across ranks).
//!
//! Each rank counts the distinct responses of `seq` with an active token (`adv.global_sequences`)
//! and one `all_reduce` of K `std::int64_t` sums them — exact because no response is counted on
//! two ranks. Returns K doubles, identical on every rank: the single-process counts of the whole
//! batch. Needed only by the sequence-mean aggregations.
template <HostCommunicator C, class T>
[[nodiscard]] std::vector<double> global_sequences(C& c, const advantage_result<T>& adv, vector_view<const std::int32_t> seq) {
  const std::vector<double> local = adv.global_sequences(seq);
  std::vector<std::int64_t> k(local.begin(), local.end());
  c.all_reduce(std::span<std::int64_t>(k), reduce_op::sum);
  return {k.begin(), k.end()};
}

//! Every rank's per-problem counts, in global order (rank 0's problems first): feed them to
//! `mean_pass_at_k`, `pass_at_k_curve` or the bootstrap for the whole evaluation's numbers.
//!
//!     const auto mine = rlvr::dist::block_share(problems, comm.size(), comm.rank());
//!     std::vector<rlvr::problem_counts> local = evaluate(mine.first, mine.last); // yours
//!     const auto all = rlvr::dist::gather_counts(comm, local);  // every rank, global order
//!     const double p4 = rlvr::mean_pass_at_k(all, 4);           // the single-process number
//!
//! The counts are not validated here (`mean_pass_at_k` and friends do). A rank may hold no
//! problem (it passes an empty span). Cost: one `all_gather_v` of 2 integers per problem (two
//! `all_gather`s, 16 · R · max_r P_r bytes received per rank); exact, identical on every rank.
template <HostCommunicator C>
[[nodiscard]] std::vector<problem_counts> gather_counts(C& c, std::span<const problem_counts> local) {
  std::vector<std::int64_t> flat;
  flat.reserve(2 * local.size());
  for (const problem_counts& p : local) flat.insert(flat.end(), {p.n, p.c});
  const auto all = all_gather_v<C, std::int64_t>(c, std::span<const std::int64_t>(flat));
  std::vector<problem_counts> out(all.size() / 2);
  for (std::size_t i = 0; i < out.size(); ++i) out[i] = {all[2 * i], all[2 * i + 1]};
  return out;
}
//! … from a vector (the same collective; every rank may use either overload).
template <HostCommunicator C>
[[nodiscard]] std::vector<problem_counts> gather_counts(C& c, const std::vector<problem_counts>& local) {
  return gather_counts(c, std::span<const problem_counts>(local));
}

} // namespace rlvr::dist
