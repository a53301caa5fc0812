#pragma once
//! \file rlvr/rewards/compose.hpp
//! \brief Composition of rewards at compile time: weighting, weighted sums, gating.
//!
//! | expression                          | reward of (x, y, a)                                  |
//! |-------------------------------------|------------------------------------------------------|
//! | `weighted(w, r)`                    | w · r(x, y, a)                                       |
//! | `weighted(w1, r1) + weighted(w2, r2)` | w1 · r1(x, y, a) + w2 · r2(x, y, a)                |
//! | `reward_sum(r1, r2, …)`             | r1(x, y, a) + r2(x, y, a) + …  (terms left to right) |
//! | `gated(g, r, otherwise, threshold)` | r(x, y, a) if g(x, y, a) ≥ threshold, else `otherwise` |
//!
//! Each result is a `Reward` holding its parts by value, so the whole tree is one type and the
//! calls inline. Sums add in a fixed left-to-right order, so results are bit-identical across
//! runs and thread counts. A gate evaluates its reward only when the gate passes (a failed
//! format check skips the math verification), and a NaN gate value fails the gate.
//!
//!     // 1 for a correct, well-formatted answer; 0.1 for a well-formatted wrong one; −1 for
//!     // anything without exactly one box:
//!     auto r = rlvr::gated(rlvr::boxed_format{},
//!                          rlvr::weighted(0.9, rlvr::math_verifier{}) +
//!                              rlvr::weighted(0.1, rlvr::boxed_format{}),
//!                          /*otherwise=*/-1.0);
//!     static_assert(rlvr::Reward<decltype(r)>);
//!
//! Errors: the factory functions (`weighted`, `gated`) throw `rlvr::config_error` for a
//! non-finite weight, `otherwise` or threshold when the composite is built, so a typo in a
//! config fails before training starts; calling a composite throws only what its parts throw.
//! Thread safety: every `operator()` is `const` and keeps no state, so a composite is as
//! thread-safe as its parts — the library's verifiers are, which is what lets `score_batch`
//! call one composite from all cores.

#include <cmath>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>

#include "rlvr/error.hpp"
#include "rlvr/rewards/concepts.hpp"

namespace rlvr {

//! w · r. Build with `rlvr::weighted(w, r)`, which checks that w is finite.
//! A plain aggregate: aggregate-initialising it directly skips the finiteness check of the
//! factory. The reward's value is converted to double before the product.
template <Reward R> struct weighted_reward {
  //! The factor w (any finite double; negative weights turn a reward into a penalty).
  double weight = 1.0;
  //! The wrapped reward, held by value.
  R reward;

  //! w · reward(prompt, response, reference); a NaN from the reward stays NaN.
  double operator()(std::string_view prompt, std::string_view response, std::string_view reference) const {
    return weight * static_cast<double>(reward(prompt, response, reference));
  }
};

//! Σ_k r_k, evaluated left to right. Build with `reward_sum(…)` or `operator+` on weighted
//! terms.
template <Reward... Rs> struct summed_reward {
  //! The terms, held by value in call order.
  static_assert(sizeof...(Rs) >= 1, "rlvr::summed_reward needs at least one term");
  std::tuple<Rs...> terms;

  //! The sum of every term's value, starting from 0.0 and adding in tuple order (a comma fold),
  //! so the floating-point result does not depend on the compiler's evaluation order.
  double operator()(std::string_view prompt, std::string_view response, std::string_view reference) const {
    return std::apply(
        [&](const auto&... r) {
          double s = 0.0;
          ((s += static_cast<double>(r(prompt, response, reference))), ...);
          return s;
        },
        terms);
  }
};

//! `reward` if `gate ≥ threshold`, else `otherwise`. Build with `rlvr::gated(…)`.
//! The gate is any Reward used as a predicate — typically `boxed_format` (1 or 0) — compared
//! with `threshold`.
template <Reward G, Reward R> struct gated_reward {
  //! Evaluated first, on every call.
  G gate;
  //! Evaluated only when the gate passes (an expensive verifier is skipped for malformed output).
  R reward;
  //! The value returned when the gate fails (0 by default; −1 is a common format penalty).
  double otherwise = 0.0;
  //! The pass mark: 0.5 separates the 0/1 values of the library's format checks.
  double threshold = 0.5;

  //! `reward(…)` if gate(…) ≥ threshold, else `otherwise`; `g >= threshold` is false for a NaN
  //! gate value, so a NaN fails the gate.
  double operator()(std::string_view prompt, std::string_view response, std::string_view reference) const {
    const double g = static_cast<double>(gate(prompt, response, reference));
    return g >= threshold ? static_cast<double>(reward(prompt, response, reference)) : otherwise;
  }
};

//! w · r. Throws `rlvr::config_error` if `w` is not finite.
//! (`auto` return types keep the `Reward` constraint the first thing a diagnostic names.)
template <Reward R> [[nodiscard]] auto weighted(double w, R&& r) {
  RLVR_EXPECTS(std::isfinite(w), config, "weighted: weight = ", w, " is not finite");
  return weighted_reward<std::remove_cvref_t<R>>{w, std::forward<R>(r)};
}

//! r1 + r2 + … (wrap terms in `weighted` for weights).
//! The arguments are moved or copied into the composite (`std::remove_cvref_t` of each type);
//! at least one term is required (a static_assert in `summed_reward`).
template <Reward... Rs> [[nodiscard]] auto reward_sum(Rs&&... rs) {
  return summed_reward<std::remove_cvref_t<Rs>...>{std::tuple<std::remove_cvref_t<Rs>...>(std::forward<Rs>(rs)...)};
}

//! `reward` where `gate(x, y, a) ≥ threshold`, else `otherwise`. Throws `rlvr::config_error` if
//! `otherwise` or `threshold` is not finite.
template <Reward G, Reward R>
[[nodiscard]] auto gated(G&& gate, R&& reward, double otherwise = 0.0, double threshold = 0.5) {
  RLVR_EXPECTS(std::isfinite(otherwise), config, "gated: otherwise = ", otherwise, " is not finite");
  RLVR_EXPECTS(std::isfinite(threshold), config, "gated: threshold = ", threshold, " is not finite");
  return gated_reward<std::remove_cvref_t<G>, std::remove_cvref_t<R>>{std::forward<G>(gate), std::forward<R>(reward),
                                                                      otherwise, threshold};
}

//! There is no `operator+` for unweighted rewards: write `weighted(1.0, r)` or use `reward_sum`,
//! so that every term of a `+` chain shows its weight. The chain is flat: `a + b + c` is one
//! three-term `summed_reward`, not a nested sum.
//! weighted(a) + weighted(b) → a two-term sum.
template <class A, class B>
[[nodiscard]] summed_reward<weighted_reward<A>, weighted_reward<B>> operator+(weighted_reward<A> a,
                                                                          weighted_reward<B> b) {
  return {{std::move(a), std::move(b)}};
}

//! (sum) + weighted(b) → the sum with one more term.
template <class... As, class B>
[[nodiscard]] summed_reward<As..., weighted_reward<B>> operator+(summed_reward<As...> s, weighted_reward<B> b) {
  return {std::tuple_cat(std::move(s.terms), std::tuple<weighted_reward<B>>(std::move(b)))};
}

namespace detail::rewards {
//! A minimal Reward used to check the composite templates against the concept.
struct reward_probe {
  double operator()(std::string_view, std::string_view, std::string_view) const { return 1.0; }
};
} // namespace detail::rewards
static_assert(Reward<weighted_reward<detail::rewards::reward_probe>>);
static_assert(Reward<summed_reward<detail::rewards::reward_probe, weighted_reward<detail::rewards::reward_probe>>>);
static_assert(Reward<gated_reward<detail::rewards::reward_probe, detail::rewards::reward_probe>>);

} // namespace rlvr
