#pragma once
//! \file rlvr/rewards/concepts.hpp
//! \brief The `Reward` concept — how a verifier plugs into rlvr — and `score_batch`, the one
//!        entry point the trainer (and any user) calls to score many responses at once.
//!
//! ## What a reward is
//! A reward maps one sampled text to a number:
//!
//!     r = reward(prompt, response, reference)
//!
//! - `prompt`    — the text the policy was conditioned on;
//! - `response`  — the text it generated (what is being judged);
//! - `reference` — the ground truth for this prompt, when the task has one (the MATH answer
//!                 `\frac{1}{2}`, a unit-test id, …), or an empty view when it has none.
//!
//! The reference is an explicit argument, rather than something a reward looks up from the
//! prompt, because every RLVR dataset carries it beside the prompt (verl's `compute_score`
//! receives `ground_truth`, TRL forwards the dataset columns), and a lookup table keyed by prompt
//! text would be slower and would break on duplicate prompts. Rewards that need no ground truth
//! (format checks, length penalties) ignore it.
//!
//! Binary verifiable rewards — 1 if the answer is correct, 0 if not (spec §1, the paper's
//! R = ±1 after the trainer's transform) — are the main case, but any finite real is allowed,
//! which is what weighted sums and shaped rewards need (`rlvr/rewards/compose.hpp`).
//!
//! ## The batched form
//! `rlvr::score_batch(reward, prompts, responses, references, out, threads)` scores n responses
//! into `out[0..n)`. Responses come in *contiguous groups* (the G rollouts of a prompt, as GRPO
//! lays them out): `prompts` and `references` hold either n entries (one per response), or
//! P entries with n a multiple of P (response i uses entry i / (n / P)), or none (every response
//! sees an empty view). A reward type that can do better than a loop over single calls (a
//! batched model on an accelerator, a shared parse of the references) provides a member
//! `score_batch` with the same arguments and models `BatchReward`; `rlvr::score_batch` then
//! calls it after checking the shapes. Otherwise the single calls are spread over threads with
//! `rlvr::parallel_for`; each `out[i]` depends only on response i, so the result never depends
//! on the thread count.
//!
//! ## Writing one
//!
//!     struct contains_42 {
//!       double operator()(std::string_view, std::string_view response, std::string_view) const {
//!         return response.find("42") != std::string_view::npos ? 1.0 : 0.0;
//!       }
//!     };
//!     static_assert(rlvr::Reward<contains_42>);
//!
//! A lambda with the same parameters models `Reward` too. See examples/custom_reward/.

#include <concepts>
#include <cstddef>
#include <ranges>
#include <span>
#include <string_view>
#include <type_traits>
#include <vector>

#include "rlvr/config.hpp"
#include "rlvr/error.hpp"
#include "rlvr/parallel.hpp"

namespace rlvr {

//! A type R models `RewardFunction` if an object `r` of type `const R` can be called as
//! `r(prompt, response, reference)` with three `std::string_view`s and the result converts to
//! `double`. (The syntactic half of `Reward`; named separately so a diagnostic says which piece
//! failed.)
template <class R>
concept RewardFunction = requires(const std::remove_cvref_t<R>& r, std::string_view prompt,
                                  std::string_view response, std::string_view reference) {
  { r(prompt, response, reference) } -> std::convertible_to<double>;
};

//! A type R models `Reward` if
//! 1. it models `RewardFunction`: `r(prompt, response, reference)` on a `const R` returns a value
//!    convertible to `double` — the reward of `response` to `prompt`, where `reference` is the
//!    task's ground truth or an empty view;
//! 2. it is move-constructible (composition stores rewards by value);
//! 3. (semantic) the call is a pure function of its three arguments: the same inputs give the
//!    same reward, and concurrent calls on one object from several threads are safe — batch
//!    scoring relies on both;
//! 4. (semantic) the reward is finite for every input, including empty, huge, or malformed
//!    text (invalid UTF-8, unbalanced braces): bad *model output* scores low, it never throws,
//!    crashes or hangs. Bad *caller data* (for example an empty reference answer where one is
//!    required) may throw an `rlvr::error`.
template <class R>
concept Reward = RewardFunction<R> && std::move_constructible<std::remove_cvref_t<R>>;

//! A type R models `BatchReward` if
//! 1. it models `Reward`, and
//! 2. an object `r` of type `const R` has a member
//!    `r.score_batch(prompts, responses, references, out, threads)` taking three
//!    `std::span<const std::string_view>`, a `std::span<double>` and an `int`, which writes
//!    `out[i]` = the reward of `responses[i]` for every i, with the broadcast rule of
//!    `rlvr::score_batch` (above) — the same values the single call would give.
//! Only types with a genuinely better batched path need this; `rlvr::score_batch` checks the
//! shapes before calling the member, so the member may assume them.
template <class R>
concept BatchReward = Reward<R> && requires(const std::remove_cvref_t<R>& r,
                                            std::span<const std::string_view> texts,
                                            std::span<double> out, int threads) {
  r.score_batch(texts, texts, texts, out, threads);
};

namespace detail::rewards {
//! Entry for response i out of n when `side` holds n, P | n, or 0 entries (see file comment).
inline std::string_view broadcast_at(std::span<const std::string_view> side, std::size_t i,
                                     std::size_t n) noexcept {
  if (side.empty()) return {};
  if (side.size() == n) return side[i];
  return side[i / (n / side.size())];
}

inline void check_broadcast(std::span<const std::string_view> side, std::size_t n,
                            const char* what) {
  RLVR_EXPECTS(side.empty() || side.size() == n || (side.size() < n && n % side.size() == 0),
               shape, "score_batch: ", what, " has ", side.size(), " entries for ", n,
               " responses (expected ", n, ", a divisor of ", n, ", or 0)");
}
} // namespace detail::rewards

//! Scores `responses[i]` into `out[i]` for i in [0, n), n = `responses.size()`, on at most
//! `threads` threads (0 = all hardware threads, `rlvr::default_num_threads()`).
//!
//! `prompts` and `references` each hold n entries, P entries with P dividing n (contiguous
//! groups of n/P responses share one), or 0 entries (empty views). Throws `rlvr::shape_error`
//! if `out.size() != n` or a side has any other length. Exceptions thrown by the reward (for
//! example `rlvr::parse_error` for an invalid reference) propagate to the caller after all
//! threads have stopped. The result does not depend on `threads`.
template <Reward R>
void score_batch(const R& reward, std::span<const std::string_view> prompts,
                 std::span<const std::string_view> responses,
                 std::span<const std::string_view> references, std::span<double> out,
                 int threads = 0) {
  const std::size_t n = responses.size();
  RLVR_EXPECTS(out.size() == n, shape, "score_batch: out has ", out.size(), " entries for ", n,
               " responses");
  detail::rewards::check_broadcast(prompts, n, "prompts");
  detail::rewards::check_broadcast(references, n, "references");
  if constexpr (BatchReward<R>) {
    reward.score_batch(prompts, responses, references, out, threads);
  } else {
    // Verifications cost microseconds: chunks of ≥ 8 keep the wake-up cost negligible.
    parallel_for(
        static_cast<index_t>(n), threads,
        [&](index_t b, index_t e) {
          for (index_t k = b; k < e; ++k) {
            const auto i = static_cast<std::size_t>(k);
            out[i] = static_cast<double>(reward(detail::rewards::broadcast_at(prompts, i, n), responses[i],
                                                detail::rewards::broadcast_at(references, i, n)));
          }
        },
        8);
  }
}

//! A type T models `TextRange` if a `const T` is a random-access, sized range whose elements
//! convert to `std::string_view` — `std::vector<std::string>`, `std::array<const char*, N>`,
//! `std::deque<std::string_view>`, …
template <class T>
concept TextRange = std::ranges::random_access_range<const T> && std::ranges::sized_range<const T> &&
                    std::convertible_to<std::ranges::range_reference_t<const T>, std::string_view>;

//! `score_batch` over any `TextRange`s (a `std::vector<std::string>` of decoded responses, …):
//! views the elements as `std::string_view` (O(n) pointers, no text copies) and calls the span
//! form above, with the same broadcast rule, errors and thread-count independence.
template <Reward R, TextRange P, TextRange Y, TextRange A>
void score_batch(const R& reward, const P& prompts, const Y& responses, const A& references,
                 std::span<double> out, int threads = 0) {
  auto views = [](const auto& r) {
    std::vector<std::string_view> v;
    v.reserve(std::ranges::size(r));
    for (auto&& x : r) v.emplace_back(static_cast<std::string_view>(x));
    return v;
  };
  const std::vector<std::string_view> p = views(prompts), y = views(responses), a = views(references);
  score_batch(reward, std::span<const std::string_view>(p), std::span<const std::string_view>(y),
              std::span<const std::string_view>(a), out, threads);
}

} // namespace rlvr
