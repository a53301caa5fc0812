#pragma once
//! \file rlvr/metrics/majority.hpp
//! \brief maj@k (self-consistency / majority voting) from answer strings, and distinct answers.
//!
//! Each sample of a problem yields an extracted final-answer string (canonicalised by the caller
//! or the verifier; the empty string means "no answer") and a correctness flag. A vote over a
//! group of k samples picks the most frequent non-empty answer. rlvr defines
//!
//!     maj@k = mean over the ⌊n/k⌋ disjoint groups {0..k−1}, {k..2k−1}, … of the group's credit,
//!     credit = (number of correct answers among the t tied winners) / t   (0 if no answer),
//!
//! i.e. the expected correctness of the vote with ties broken uniformly at random. With iid
//! samples every group is an independent size-k vote, so the mean is an unbiased estimate of the
//! sampler's maj@k (its variance falls as n/k grows). It needs k ≤ n; n − k⌊n/k⌋ trailing samples
//! are unused. Pass the samples in draw order (any fixed order works; the groups follow it).
//!
//! An answer string is correct or not as a whole: if one string carries both flags the input is
//! inconsistent and a `rlvr::range_error` names the answer and the two samples.
//!
//! Answers are compared as exact byte strings: "1/2", "0.5" and " 0.5" are three different
//! votes, so canonicalise first (`rlvr/rewards/normalize.hpp`). `rlvr::evaluate`
//! calls `maj_at_k` with the response tokens (without the final eos) or the answers its
//! `evaluation_config::answer` extracts.
//!
//! Example (k = 4, n = 8: two groups):
//!
//!     std::vector<std::string> a = {"12", "12", "7", "", "7", "7", "3", "12"};
//!     double m = rlvr::maj_at_k(a, std::string_view("12"), 4);
//!     // group 0 votes "12" (2 of 3 answers): credit 1; group 1 votes "7" (2 of 4): credit 0 → 0.5
//!
//! Cost: O(n) expected time (hash maps of string views; no string is copied), O(distinct answers)
//! memory. Results are deterministic: the credit of a group depends only on vote counts, not on
//! the hash maps' iteration order.

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "rlvr/config.hpp"
#include "rlvr/error.hpp"

namespace rlvr {

//! maj@k of one problem from its answers and correctness flags (see the file comment).
//!
//! `answers[i]` and `correct[i]` (0 or 1) describe sample i; k ∈ [1, n]. Errors: n = 0, k < 1,
//! k > n, a flag other than 0/1, or one answer string flagged both ways (`range_error`), and
//! `correct.size() ≠ answers.size()` (`shape_error`). Every sample is validated, including the
//! n − k⌊n/k⌋ trailing ones that do not vote. The result is in [0, 1]; k = 1 gives the fraction
//! of correct samples (an empty answer counts as wrong).
[[nodiscard]] inline double maj_at_k(std::span<const std::string> answers, std::span<const std::uint8_t> correct,
                                     index_t k) {
  const auto n = static_cast<index_t>(answers.size());
  RLVR_EXPECTS(n >= 1, range, "maj_at_k: n = 0 (a problem needs at least one sample)");
  RLVR_EXPECTS(correct.size() == answers.size(), shape, "maj_at_k: ", correct.size(),
               " correctness flags for ", answers.size(), " answers");
  RLVR_EXPECTS(k >= 1, range, "maj_at_k: k = ", k, " must be >= 1");
  RLVR_EXPECTS(k <= n, range, "maj_at_k: k = ", k, " exceeds n = ", n);
  // One verdict per answer string, checked for consistency. The verdict of a winning answer is
  // then looked up through its first sample, so the vote loop below stores counts only. Keys are
  // views into `answers`, which outlives both maps.
  std::unordered_map<std::string_view, std::size_t> first_seen; // answer → first sample index
  for (std::size_t i = 0; i < answers.size(); ++i) {
    RLVR_EXPECTS(correct[i] <= 1, range, "maj_at_k: flag ", static_cast<int>(correct[i]), " at sample ", i,
                 " (0 or 1 expected)");
    if (answers[i].empty()) continue;
    auto [it, fresh] = first_seen.try_emplace(answers[i], i);
    RLVR_EXPECTS(fresh || correct[it->second] == correct[i], range, "maj_at_k: answer \"", answers[i],
                 "\" is marked ", static_cast<int>(correct[it->second]), " at sample ", it->second, " but ",
                 static_cast<int>(correct[i]), " at sample ", i);
  }
  const index_t groups = n / k;
  double total = 0.0;
  std::unordered_map<std::string_view, index_t> votes;
  for (index_t g = 0; g < groups; ++g) {
    votes.clear();
    index_t best = 0;
    for (index_t i = g * k; i < (g + 1) * k; ++i) {
      const auto& a = answers[static_cast<std::size_t>(i)];
      if (a.empty()) continue;
      const index_t c = ++votes[a];
      best = c > best ? c : best;
    }
    // A group that gave no non-empty answer abstains: credit 0 (it still counts in `groups`).
    if (best == 0) continue;
    index_t tied = 0, tied_correct = 0;
    for (const auto& [a, c] : votes) {
      if (c != best) continue;
      ++tied;
      tied_correct += correct[first_seen.at(a)];
    }
    total += static_cast<double>(tied_correct) / static_cast<double>(tied);
  }
  return total / static_cast<double>(groups);
}

//! maj@k of one problem whose correct answer is the string `reference` (exact match).
//! An empty answer is never correct, even if `reference` is empty; the errors are those of the
//! overload above (except the flag checks, which cannot fail here).
[[nodiscard]] inline double maj_at_k(std::span<const std::string> answers, std::string_view reference, index_t k) {
  std::vector<std::uint8_t> correct(answers.size());
  for (std::size_t i = 0; i < answers.size(); ++i)
    correct[i] = static_cast<std::uint8_t>(!answers[i].empty() && answers[i] == reference);
  return maj_at_k(answers, correct, k);
}

//! Number of distinct non-empty answers among a problem's samples (a diversity diagnostic: a
//! policy whose entropy collapsed repeats itself). Exact string comparison, empty answers
//! excluded: the result is in [0, n], 0 when no sample gave an answer. Never throws except
//! `std::bad_alloc`.
[[nodiscard]] inline index_t distinct_answers(std::span<const std::string> answers) {
  std::unordered_set<std::string_view> seen;
  for (const auto& a : answers)
    if (!a.empty()) seen.insert(a);
  return static_cast<index_t>(seen.size());
}

//! Mean of `distinct_answers` over problems (each problem weighted once, whatever its sample
//! count, so compare runs with equal n per problem). No problems is a `shape_error`.
[[nodiscard]] inline double mean_distinct_answers(std::span<const std::vector<std::string>> problems) {
  RLVR_EXPECTS(!problems.empty(), shape, "mean_distinct_answers: no problems");
  double s = 0.0;
  for (const auto& p : problems) s += static_cast<double>(distinct_answers(p));
  return s / static_cast<double>(problems.size());
}

} // namespace rlvr
