#pragma once
//! \file rlvr/rewards/verifiers.hpp
//! \brief The shipped verifiers — `exact_match`, `numeric_match`, `math_verifier` — and the
//!        `boxed_format` reward. Each models `rlvr::Reward`.
//!
//! All four are small aggregates configured with designated initialisers and called as
//! `r(prompt, response, reference)`; the prompt is ignored. They share one policy for bad input:
//!
//! | input                                          | result                                  |
//! |------------------------------------------------|-----------------------------------------|
//! | response with no extractable answer            | `incorrect` (0 by default)              |
//! | extracted answer that is not valid UTF-8       | `incorrect`                             |
//! | empty / megabyte / deeply nested response      | scored normally, in time linear in size |
//! | reference empty, not valid UTF-8, or (numeric) not a number | `rlvr::parse_error`        |
//! | non-finite reward values or tolerances         | `rlvr::config_error`                    |
//!
//! Bad *model output* is a low reward — RLVR must be able to punish it, and a trainer must not
//! stop on it. Bad *caller data* (the dataset's reference) is a programming error and throws,
//! naming the value.
//!
//! ## Where the answer is read (`answer_source`)
//! | value                  | the answer is                                                  |
//! |------------------------|----------------------------------------------------------------|
//! | `whole`                | the whole response, trimmed                                    |
//! | `last_boxed`           | the last `\boxed{…}` (`rlvr::last_boxed`)                       |
//! | `boxed_or_whole`       | the last box if there is one, else the whole response          |
//! | `last_number`          | the last number token (`rlvr::last_number`)                     |
//! | `boxed_or_last_number` | the last box if there is one, else the last number             |
//! | `after_marker`         | the rest of the line after the last `marker` (GSM8K's `####`)  |
//!
//! ## Threads and determinism
//! Every verifier is an immutable aggregate with `const` call operators and no caches, so one
//! object may score from any number of threads at once — `rlvr::score_batch` does exactly that.
//! Each score depends only on (response, reference, configuration), never on the thread count
//! or on other rows. The configuration is checked on every call (a few comparisons), so a
//! verifier built with a non-finite value fails on first use, in whichever thread.
//!
//! ## Choosing a verifier
//! - `math_verifier` for MATH-style LaTeX answers (the paper's reward);
//! - `numeric_match` for plain numeric answers with a tolerance (GSM8K with `after_marker`);
//! - `exact_match` for closed vocabularies (choice letters, words, labels);
//! - `boxed_format` as a format bonus or as the gate of `rlvr::gated` (compose.hpp).

#include <cmath>
#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "rlvr/error.hpp"
#include "rlvr/parallel.hpp"
#include "rlvr/rewards/concepts.hpp"
#include "rlvr/rewards/extract.hpp"
#include "rlvr/rewards/normalize.hpp"
#include "rlvr/rewards/numbers.hpp"

namespace rlvr {

//! `boxed_or_whole` suits references that may come with or without a box; the `…_number`
//! sources suit arithmetic word problems, whose responses end with the number.
//! Where a verifier reads the answer inside a response (table in the file comment).
enum class answer_source { whole, last_boxed, boxed_or_whole, last_number, boxed_or_last_number, after_marker };

//! The answer part of `response` per `source` (trimmed), or nullopt when there is none.
//! `marker` is used by `answer_source::after_marker` only. O(|response|), never throws.
//!
//!   extract_answer("… so she pays $18.\n#### 18", answer_source::after_marker, "####")  // "18"
//!   extract_answer("\\boxed{3} then \\boxed{4}", answer_source::boxed_or_whole)     // "4"
//!   extract_answer("no box here", answer_source::last_boxed)                           // nullopt
//!   extract_answer("   ", answer_source::whole)                                         // nullopt
[[nodiscard]] inline std::optional<std::string_view> extract_answer(std::string_view response,
                                                                    answer_source source,
                                                                    std::string_view marker = {}) noexcept {
  // Extract per source; every extractor returns a view into `response` (or nullopt), so the
  // answer is never copied.
  std::optional<std::string_view> a;
  switch (source) {
  case answer_source::whole: a = response; break;
  case answer_source::last_boxed: a = last_boxed(response); break;
  case answer_source::boxed_or_whole:
    a = last_boxed(response);
    if (!a) a = response;
    break;
  case answer_source::last_number: a = last_number(response); break;
  case answer_source::boxed_or_last_number:
    a = last_boxed(response);
    if (!a) a = last_number(response);
    break;
  case answer_source::after_marker: a = after_last_marker(response, marker); break;
  }
  // Surrounding whitespace never belongs to an answer, and an all-blank answer is no answer.
  if (!a) return std::nullopt;
  const std::string_view t = trim(*a);
  if (t.empty()) return std::nullopt;
  return t;
}

namespace detail::rewards {
//! At most 80 bytes of `s` for an error message, with an ellipsis when cut.
inline std::string excerpt(std::string_view s) {
  if (s.size() <= 80) return std::string(s);
  return std::string(s.substr(0, 77)) + "...";
}

//! Throws `rlvr::config_error` naming the verifier (`who`) and the field when a reward value is
//! not finite; called at the top of every scoring call.
inline void check_reward_values(const char* who, double correct, double incorrect) {
  RLVR_EXPECTS(std::isfinite(correct), config, who, ": correct = ", correct, " is not finite");
  RLVR_EXPECTS(std::isfinite(incorrect), config, who, ": incorrect = ", incorrect, " is not finite");
}

//! Validates a reference answer (non-empty after trimming, valid UTF-8); returns it trimmed.
inline std::string_view checked_reference(const char* who, std::string_view reference) {
  const std::string_view r = trim(reference);
  RLVR_EXPECTS(!r.empty(), parse, who, ": the reference answer is empty");
  RLVR_EXPECTS(is_valid_utf8(r), parse, who, ": the reference answer '", excerpt(r),
               "' is not valid UTF-8");
  return r;
}

//! ASCII-only case folding (A–Z ↔ a–z); other bytes, including UTF-8 sequences, must match
//! exactly.
inline bool ascii_iequal(char a, char b) noexcept {
  auto lower = [](char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; };
  return lower(a) == lower(b);
}
} // namespace detail::rewards

//! Exact string match: `correct` iff the extracted answer equals the trimmed reference, byte for
//! byte — or ASCII-case-insensitively with `ignore_case`, or ignoring every ASCII whitespace
//! byte with `ignore_whitespace`. For tasks with one canonical spelling (a letter choice, a
//! word, a token sequence).
//!
//!     rlvr::exact_match em{.source = rlvr::answer_source::after_marker, .marker = "####",
//!                          .ignore_case = true};
//!     em("", "… #### Paris", "paris") == 1.0
struct exact_match {
  answer_source source = answer_source::boxed_or_whole; //!< where the answer is read
  std::string marker = {};                              //!< for `answer_source::after_marker`
  bool ignore_case = false;                             //!< ASCII letters only
  bool ignore_whitespace = false;                       //!< drop ' ', \t, \n, \r, \f, \v
  //! The reward for a match (any finite value).
  double correct = 1.0;
  //! The reward for no match, no answer, or an answer that is not valid UTF-8.
  double incorrect = 0.0;

  //! O(|response| + |reference|). Throws `rlvr::parse_error` for an empty or non-UTF-8
  //! reference, `rlvr::config_error` for non-finite reward values.
  double operator()(std::string_view /*prompt*/, std::string_view response,
                    std::string_view reference) const {
    detail::rewards::check_reward_values("exact_match", correct, incorrect);
    const std::string_view ref = detail::rewards::checked_reference("exact_match", reference);
    const auto ans = extract_answer(response, source, marker);
    if (!ans || !is_valid_utf8(*ans)) return incorrect;
    return equal(*ans, ref) ? correct : incorrect;
  }

private:
  // Walks both strings once, skipping whitespace on both sides when asked; equal iff both
  // reach their ends together. No allocation (no lowercased or stripped copies).
  bool equal(std::string_view a, std::string_view b) const noexcept {
    std::size_t i = 0, j = 0;
    for (;;) {
      if (ignore_whitespace) {
        while (i < a.size() && detail::rewards::is_space(a[i])) ++i;
        while (j < b.size() && detail::rewards::is_space(b[j])) ++j;
      }
      if (i == a.size() || j == b.size()) return i == a.size() && j == b.size();
      if (ignore_case ? !detail::rewards::ascii_iequal(a[i], b[j]) : a[i] != b[j]) return false;
      ++i, ++j;
    }
  }
};
static_assert(Reward<exact_match>);

//! Numeric match: `correct` iff the extracted answer and the reference are numbers
//! (`rlvr::parse_number`, after `rlvr::normalize_math_answer` strips `$`, `%`, units, spaces,
//! thousands separators) and `rlvr::numbers_close(answer, reference, abs_tol, rel_tol)`:
//! the same exact rational, or |a − b| ≤ max(abs_tol, rel_tol · max(|a|, |b|)).
//! Defaults: abs_tol = 0, rel_tol = 1e-9 (Python's `math.isclose`), so `0.5`, `1/2`,
//! `\frac{1}{2}`, `5e-1` all match `0.5`, and `0.333` does not match `1/3`.
//!
//!     rlvr::numeric_match nm{.abs_tol = 1e-6};
//!     nm("", "The total is 1,234.5 dollars.", "1234.5") == 1.0   // boxed_or_last_number
struct numeric_match {
  double abs_tol = 0.0;                                       //!< ≥ 0, finite
  double rel_tol = 1e-9;                                      //!< ≥ 0, finite
  answer_source source = answer_source::boxed_or_last_number; //!< where the answer is read
  std::string marker = {};                                    //!< for `answer_source::after_marker`
  //! The reward for a number within tolerance.
  double correct = 1.0;
  //! The reward for anything else, including no number at all.
  double incorrect = 0.0;

  //! O(|response| + |reference|). Throws `rlvr::parse_error` when the reference is empty, not
  //! UTF-8 or not a number; `rlvr::config_error` for bad tolerances or reward values.
  double operator()(std::string_view /*prompt*/, std::string_view response,
                    std::string_view reference) const {
    detail::rewards::check_reward_values("numeric_match", correct, incorrect);
    RLVR_EXPECTS(abs_tol >= 0.0 && std::isfinite(abs_tol), config, "numeric_match: abs_tol = ",
                 abs_tol, " must be finite and >= 0");
    RLVR_EXPECTS(rel_tol >= 0.0 && std::isfinite(rel_tol), config, "numeric_match: rel_tol = ",
                 rel_tol, " must be finite and >= 0");
    const std::string_view ref = detail::rewards::checked_reference("numeric_match", reference);
    // The reference is normalised and parsed on every call; a reference that is not a number is a
    // data error and throws even when the response would be wrong anyway.
    const auto want = parse_number(normalize_math_answer(ref));
    RLVR_EXPECTS(want.has_value(), parse, "numeric_match: the reference answer '",
                 detail::rewards::excerpt(ref), "' is not a number");
    const auto ans = extract_answer(response, source, marker);
    if (!ans || !is_valid_utf8(*ans)) return incorrect;
    const auto got = parse_number(normalize_math_answer(*ans));
    if (!got) return incorrect;
    return numbers_close(*got, *want, abs_tol, rel_tol) ? correct : incorrect;
  }
};
static_assert(Reward<numeric_match>);

//! The MATH-benchmark verifier: `correct` iff the last `\boxed{…}`/`\fbox{…}` of the response
//! is `rlvr::math_equivalent` to the reference under `options` (MATH-compatible leniencies by
//! default; `rlvr::math_options::strict()` for none). The reference may be the bare answer
//! (`\frac{1}{2}`) or a whole MATH solution, whose last box is then the answer. This is the
//! binary reward of the paper's experiments (spec §1: r ∈ {0, 1}).
//!
//!     rlvr::math_verifier v;
//!     v("", "… so the probability is $\\boxed{\\dfrac12}$.", "0.5") == 1.0
//!     rlvr::math_verifier strict{.options = rlvr::math_options::strict()};
//!     strict("", "\\boxed{10\\text{ cm}}", "10") == 0.0
struct math_verifier {
  //! The reward for an equivalent answer (1 in the paper).
  double correct = 1.0;
  //! The reward for a wrong, missing, unclosed or non-UTF-8 answer (0 in the paper).
  double incorrect = 0.0;
  math_options options = {}; //!< the leniencies (docs/rewards.md, "Policy")

  //! O(|response| + |reference|) plus the core's bounded evaluation. Throws `rlvr::parse_error`
  //! for an empty or non-UTF-8 reference (or a reference solution whose last box is empty or
  //! never closed); model output never throws (bad output scores `incorrect`).
  double operator()(std::string_view /*prompt*/, std::string_view response,
                    std::string_view reference) const {
    detail::rewards::check_reward_values("math_verifier", correct, incorrect);
    const std::string_view ref = reference_answer(reference);
    return score_answer(response, ref);
  }

  //! The batched path (`rlvr::BatchReward`): checks the shapes like `rlvr::score_batch` (so a
  //! direct call is as safe), validates each distinct reference entry once — with G responses
  //! per prompt and one reference per prompt, G times fewer — then scores the responses in
  //! parallel. Same values as the single calls. Throws `rlvr::shape_error` for `out.size() ≠ n`
  //! or a side whose length is not n, a divisor of n, or 0; `rlvr::parse_error` when
  //! `references` is empty (there is nothing to compare with) or an entry is invalid.
  void score_batch(std::span<const std::string_view> prompts,
                   std::span<const std::string_view> responses,
                   std::span<const std::string_view> references, std::span<double> out,
                   int threads) const {
    detail::rewards::check_reward_values("math_verifier", correct, incorrect);
    const std::size_t n = responses.size();
    RLVR_EXPECTS(out.size() == n, shape, "math_verifier::score_batch: out has ", out.size(), " entries for ", n,
                 " responses");
    detail::rewards::check_broadcast(prompts, n, "prompts");
    detail::rewards::check_broadcast(references, n, "references");
    if (n == 0) return;
    // One validated answer per reference entry (or one for an empty side, which then throws as an
    // empty reference); the parallel loop only reads them.
    std::vector<std::string_view> refs(references.empty() ? 1 : references.size());
    for (std::size_t i = 0; i < refs.size(); ++i)
      refs[i] = reference_answer(references.empty() ? std::string_view{} : references[i]);
    // Chunks of at least 8 responses, as in rlvr::score_batch: a verification costs microseconds,
    // so smaller chunks would be dominated by the pool's wake-up cost.
    parallel_for(
        static_cast<index_t>(n), threads,
        [&](index_t b, index_t e) {
          for (index_t k = b; k < e; ++k) {
            const auto i = static_cast<std::size_t>(k);
            // Broadcast: with P references for n responses, contiguous groups of n/P share one.
            const std::string_view ref = refs.size() == 1 ? refs[0] : refs[i / (n / refs.size())];
            out[i] = score_answer(responses[i], ref);
          }
        },
        8);
  }

  //! The answer inside a reference: its last box if it has a box command, else all of it.
  //! Throws `rlvr::parse_error` when that is empty or not UTF-8.
  static std::string_view reference_answer(std::string_view reference) {
    const std::string_view r = detail::rewards::checked_reference("math_verifier", reference);
    // No box command at all: the reference is a bare answer. With one, the reference is a solution
    // and its last box must be usable — a broken reference is a data error, not a wrong answer.
    if (count_box_commands(r) == 0) return r;
    const auto boxed = last_boxed(r);
    RLVR_EXPECTS(boxed.has_value() && !trim(*boxed).empty(), parse,
                 "math_verifier: the reference solution '", detail::rewards::excerpt(r),
                 "' has a \\boxed command but its last box is empty or never closed");
    return trim(*boxed);
  }

private:
  //! The score of `response` against a validated reference answer; never throws except
  //! `std::bad_alloc` (a reward must not stop a trainer on model output).
  double score_answer(std::string_view response, std::string_view ref) const {
    // Only the last box counts: an answer stated elsewhere, or an unclosed final box, scores
    // `incorrect` (MATH's rule; docs/rewards.md §1).
    const auto ans = last_boxed(response);
    if (!ans || !is_valid_utf8(*ans)) return incorrect;
    return math_equivalent(*ans, ref, options) ? correct : incorrect;
  }
};
static_assert(BatchReward<math_verifier>);

//! A format reward: `pass` iff the response contains exactly one `\boxed`/`\fbox` command
//! (nested and unclosed ones count) and its argument is non-empty valid UTF-8; `fail`
//! otherwise. Ignores the prompt and the reference. Typical use: a small bonus, or a gate
//! (`rlvr::gated`), that teaches a policy to commit to one final answer.
struct boxed_format {
  //! The reward for exactly one non-empty box.
  double pass = 1.0;
  //! The reward otherwise (0: no bonus).
  double fail = 0.0;

  //! O(|response|); throws `rlvr::config_error` only for non-finite `pass`/`fail`.
  double operator()(std::string_view /*prompt*/, std::string_view response,
                    std::string_view /*reference*/) const {
    detail::rewards::check_reward_values("boxed_format", pass, fail);
    // Counting first (every `\boxed`/`\fbox` command, closed or not) rejects a response with two
    // answers, even if the last box alone would be fine.
    if (count_box_commands(response) != 1) return fail;
    const auto a = last_boxed(response);
    return a && !trim(*a).empty() && is_valid_utf8(*a) ? pass : fail;
  }
};
static_assert(Reward<boxed_format>);

} // namespace rlvr
