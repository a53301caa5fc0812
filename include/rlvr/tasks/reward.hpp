#pragma once
//! \file rlvr/tasks/reward.hpp
//! \brief A task's exact verifier as a `TokenReward` (for the trainer) and as a text `Reward`
//! (for `rlvr::score_batch` and anything else that judges text).
//!
//!     rlvr::tasks::zp_walk task;
//!     rlvr::tasks::verifier v{task};          // v(prompt_tokens, response_tokens) → 0 or 1
//!     rlvr::tasks::text_verifier tv{task};    // tv("<bos> 3 7 <sep>", "6 7 <eos>", "") → 1
//!
//! The text form splits on whitespace and maps words through the task's vocabulary; a word
//! that is not in the vocabulary makes the response wrong (score 0) — model output never throws.
//! An unknown word in the *prompt* is caller error and raises `rlvr::parse_error`.
//!
//! The trainer also accepts a task directly where a reward is wanted (docs/trainer.md,
//! "Rewards"); `verifier{task}` is the explicit form, and either way the task supplies the
//! response budget and the `<eos>`/`<pad>` ids. Both adapters are as thread-safe as the task's
//! `score`, which is a const pure function (`TaskVerifier`), so batch scoring may call them
//! concurrently.

#include <span>
#include <string_view>
#include <vector>

#include "rlvr/rewards/concepts.hpp"
#include "rlvr/tasks/concepts.hpp"
#include "rlvr/trainer/reward.hpp"

namespace rlvr::tasks {

//! Token-level verifier of a task (models `rlvr::TokenReward`). Holds a copy of the task.
//!
//! Returns `task.score(prompt, response)` (1.0 or 0.0) widened to double. The response span
//! may include the policy's `<eos>` (the walk tasks require it); a malformed prompt or
//! response scores 0 and nothing throws.
template <TaskVerifier T> struct verifier {
  //! The task, by value: tasks are small copyable values, and a copy keeps the reward valid
  //! however long the trainer holds it.
  T task;
  double operator()(std::span<const token_t> prompt, std::span<const token_t> response) const noexcept {
    return static_cast<double>(task.score(prompt, response));
  }
};
template <class T> verifier(T) -> verifier<T>;

//! Text-level verifier of a task (models `rlvr::Reward`): the reference argument is ignored
//! (the prompt determines the problem).
//!
//! The response is tokenized here rather than with `vocab().encode`, which throws on an
//! unknown word: a response is model output and must score 0 instead. Whitespace is the same
//! set `vocabulary` splits on (space, tab, CR, LF). Cost: O(length · log V) plus the score.
template <TaskVerifier T> struct text_verifier {
  //! The task, by value (as in `verifier`).
  T task;
  double operator()(std::string_view prompt, std::string_view response, std::string_view /*reference*/) const {
    // The prompt is the caller's text: an unknown word is their error and raises parse_error.
    const std::vector<token_t> p = task.vocab().encode(prompt);
    std::vector<token_t> r;
    std::size_t i = 0;
    while (i < response.size()) {
      while (i < response.size() && (response[i] == ' ' || response[i] == '\t' || response[i] == '\n' || response[i] == '\r')) ++i;
      std::size_t j = i;
      while (j < response.size() && !(response[j] == ' ' || response[j] == '\t' || response[j] == '\n' || response[j] == '\r')) ++j;
      if (j > i) {
        const std::string_view w = response.substr(i, j - i);
        if (!task.vocab().contains(w)) return 0.0;
        r.push_back(task.vocab().id(w));
      }
      i = j;
    }
    return static_cast<double>(task.score(p, r));
  }
};
template <class T> text_verifier(T) -> text_verifier<T>;

} // namespace rlvr::tasks
