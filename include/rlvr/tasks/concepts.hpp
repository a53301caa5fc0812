#pragma once
//! \file rlvr/tasks/concepts.hpp
//! \brief The `Task` concept: a generated, exactly verifiable reasoning task (generator +
//! verifier + vocabulary) that the trainer and the `rlvr-study` program run on.
//!
//! A task owns everything about its problems: the words they are written in (a `vocabulary`),
//! how problems are drawn for each split, how to write a correct or a plausible-but-wrong
//! solution (the base model's pretraining data), and the exact verifier. Problems are identified
//! by their prompt tokens alone: `score(prompt, response)` re-parses the prompt, so a task's
//! verifier is a pure function of two token sequences and plugs into the `Reward` concept
//! through `rlvr::tasks::verifier` (token rewards) or `rlvr::tasks::text_verifier`
//! (tasks/reward.hpp).
//!
//! Sequences follow one layout: prompt = `<bos> … <sep>`, response = `… <eos>`. A response
//! that does not end with `<eos>` within `max_response_length()` tokens scores 0.
//!
//! Randomness comes from the caller's engine (rlvr's Philox streams in the study): any type
//! modelling `BitEngine`. Draws go through `uniform_below` (exact rejection sampling), never
//! through `std::uniform_int_distribution`, whose output is implementation-defined — the same
//! seed gives the same problems on every standard library.

#include <concepts>
#include <random>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "rlvr/config.hpp"
#include "rlvr/error.hpp"
#include "rlvr/tasks/vocabulary.hpp"

namespace rlvr::tasks {

//! A type G models `BitEngine` if
//! 1. it models `std::uniform_random_bit_generator`, and
//! 2. its range is all 32-bit or all 64-bit words (`G::min() == 0`, `G::max()` = 2³² − 1 or
//!    2⁶⁴ − 1).
//! rlvr's `philox_engine` (random/philox.hpp) and `std::mt19937_64` both do.
template <class G>
concept BitEngine = std::uniform_random_bit_generator<G> && (G::min() == 0) &&
                    (G::max() == 0xFFFFFFFFull || G::max() == ~std::uint64_t{0});

//! The next 64 random bits of `g` (two draws of a 32-bit engine, low word first).
template <BitEngine G> std::uint64_t next_u64(G& g) {
  if constexpr (G::max() == 0xFFFFFFFFull) {
    const auto lo = static_cast<std::uint64_t>(g());
    const auto hi = static_cast<std::uint64_t>(g());
    return lo | (hi << 32);
  } else {
    return static_cast<std::uint64_t>(g());
  }
}

//! A uniform integer in [0, n) from `g`, exact (rejection sampling on the 64-bit range;
//! expected draws < 2). `n` must be ≥ 1.
template <BitEngine G> std::uint64_t uniform_below(G& g, std::uint64_t n) {
  RLVR_EXPECTS(n >= 1, range, "uniform_below: n = ", n, " must be >= 1");
  // Largest multiple of n representable, minus one: accept x <= limit.
  const std::uint64_t limit = (~std::uint64_t{0}) - ((~std::uint64_t{0}) % n + 1) % n;
  for (;;) {
    const std::uint64_t x = next_u64(g);
    if (x <= limit) return x % n;
  }
}
//! A uniform double in [0, 1) with 53 random bits.
template <BitEngine G> double uniform_unit(G& g) {
  return static_cast<double>(next_u64(g) >> 11) * 0x1.0p-53;
}

//! Which set a problem is drawn for. `train` and `eval` problems are disjoint by construction
//! (each task documents how: the eval problems are harder than the training ones).
enum class split : std::uint8_t { train = 0, eval = 1 };

//! One pretraining sequence: a prompt and a response (correct or plausibly wrong).
struct example {
  std::vector<token_t> prompt;
  std::vector<token_t> response;
};

namespace detail {
//! A minimal `BitEngine` (a Weyl sequence) used to check a task's generator members, which are
//! templates over the engine.
struct probe_engine {
  using result_type = std::uint64_t;
  static constexpr result_type min() { return 0; }
  static constexpr result_type max() { return ~result_type{0}; }
  std::uint64_t state = 0;
  result_type operator()() { return state += 0x9E3779B97F4A7C15ULL; }
};
} // namespace detail

//! A type T models `TaskVerifier` if, for `const T t` and token spans `prompt`, `response`:
//! 1. `t.vocab()` returns the task's `const vocabulary&` (its size is the policy's V);
//! 2. `t.name()` returns a short identifier convertible to `std::string_view` ("zp_walk");
//! 3. `t.max_prompt_length()` and `t.max_response_length()` return `index_t` bounds (the
//!    response bound includes `<eos>`);
//! 4. `t.score(prompt, response)` is the exact verifier: 1.0f for a correct response, 0.0f
//!    otherwise, a pure function of the two sequences that never throws on a malformed
//!    response;
//! 5. T is copy-constructible (tasks are small regular values).
template <class T>
concept TaskVerifier = std::copy_constructible<T> &&
                       requires(const T& t, std::span<const token_t> prompt, std::span<const token_t> response) {
                         { t.vocab() } -> std::same_as<const vocabulary&>;
                         { t.name() } -> std::convertible_to<std::string_view>;
                         { t.max_prompt_length() } -> std::same_as<index_t>;
                         { t.max_response_length() } -> std::same_as<index_t>;
                         { t.score(prompt, response) } -> std::same_as<float>;
                       };

//! A type T models `TaskWith<G>` if
//! 1. it models `TaskVerifier`, and, for `const T t`, a `BitEngine` lvalue `g` of type G, a
//!    `split s` and a `bool correct`:
//! 2. `t.problem(g, s)` draws the prompt of a fresh problem of split `s` as
//!    `std::vector<token_t>` (`<bos> … <sep>`);
//! 3. `t.pretraining_example(g, correct)` draws a problem *and* a solution, correct or
//!    plausibly wrong (well-formed, confidently written, failing the verifier), as an
//!    `rlvr::tasks::example` — the base model's supervised data.
template <class T, class G>
concept TaskWith = TaskVerifier<T> && BitEngine<G> && requires(const T& t, G& g, split s, bool correct) {
  { t.problem(g, s) } -> std::same_as<std::vector<token_t>>;
  { t.pretraining_example(g, correct) } -> std::same_as<example>;
};

//! A type T models `Task` if it models `TaskWith<T, G>` for a representative engine G (the
//! generators are templates over the engine, so any `BitEngine` works the same way).
template <class T>
concept Task = TaskWith<T, detail::probe_engine>;

} // namespace rlvr::tasks
