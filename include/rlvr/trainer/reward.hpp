#pragma once
//! \file rlvr/trainer/reward.hpp
//! \brief `TokenReward`: the trainer's view of a verifier — a reward of token sequences — and
//! `detokenized`, which turns any text `rlvr::Reward` into one.
//!
//! The trainer samples token ids; verifiers judge text. Two ways in:
//! - a callable on token spans, `r(prompt_tokens, response_tokens) → double` (an exact task
//!   verifier such as `rlvr::tasks::zp_walk::score`, wrapped by `rlvr::tasks::verifier`), or
//! - a text `rlvr::Reward` (rewards/concepts.hpp) plus a decoder from tokens to text:
//!   `rlvr::detokenized{reward, decode}` calls `reward(decode(prompt), decode(response), "")`.
//! The response span includes its end-of-response token when the policy produced one.

#include <concepts>
#include <span>
#include <string>
#include <string_view>
#include <utility>

#include "rlvr/config.hpp"
#include "rlvr/rewards/concepts.hpp"

namespace rlvr {

//! Token ids (the same alias as in rlvr/policy/concepts.hpp).
using token_t = std::int32_t;

//! A type R models `TokenReward` if, for `const R r` and two `std::span<const token_t>`
//! `prompt`, `response`,
//! 1. `r(prompt, response)` returns a value convertible to `double` (the reward; binary
//!    verifiable rewards return 0 or 1), and
//! 2. (semantic) it is a pure function of the two sequences that never throws on a malformed
//!    response (bad model output scores low).
template <class R>
concept TokenReward = requires(const std::remove_cvref_t<R>& r, std::span<const token_t> prompt,
                               std::span<const token_t> response) {
  { r(prompt, response) } -> std::convertible_to<double>;
};

//! A text `Reward` seen through a decoder: `decode(span<const token_t>) → std::string`.
//! Models `TokenReward`. Each call decodes both spans into fresh strings (two allocations per
//! scored response) and passes an empty reference answer: the verifier must carry the answer
//! itself (e.g. bound per prompt) or read it from the decoded prompt. The call is const and
//! thread-safe as long as `reward` and `decode` are.
//!
//!   rlvr::detokenized scorer{my_text_reward, [&](std::span<const rlvr::token_t> t) { return tok.decode(t); }};
//!   double r = scorer(prompt_ids, response_ids);
template <Reward Rw, class Decode>
  requires requires(const Decode& d, std::span<const token_t> t) {
    { d(t) } -> std::convertible_to<std::string>;
  }
struct detokenized {
  //! The text verifier, stored by value.
  Rw reward;
  //! Token ids → text; must accept any id the policy can emit.
  Decode decode;
  //! reward(decode(prompt), decode(response), "") converted to double.
  double operator()(std::span<const token_t> prompt, std::span<const token_t> response) const {
    const std::string p = decode(prompt), r = decode(response);
    return static_cast<double>(reward(std::string_view(p), std::string_view(r), std::string_view{}));
  }
};
//! Deduces the stored types from a brace initialiser, as in the example above.
template <class Rw, class Decode> detokenized(Rw, Decode) -> detokenized<Rw, Decode>;

} // namespace rlvr
