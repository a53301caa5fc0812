#pragma once
//! \file rlvr/diagnostics/mass_flow.hpp
//! \brief Where one update moves probability mass: for rows of rejected (NSR) and accepted (PSR)
//! responses, how much mass leaves or reaches the sampled token and how the other tokens share it,
//! compared with the prior-proportional split (Zhu et al. 2025, §4: NSR "redistributes mass
//! according to the model's prior").
//!
//! Input: for N rows (for example the positions of sampled responses) the policy's distribution
//! over V ≥ 2 tokens before the update, p, and after it, q (as logits or as probabilities), the
//! sampled token y of each row and whether that row's response was correct. Per row, with
//! Δ_j = q_j − p_j:
//!
//!     F   = Σ_{j≠y} Δ_j                  net mass onto the alternatives (= −Δ_y; F > 0: y lost mass)
//!     s_j = Δ_j / F            (j ≠ y)   the share of the moved mass that token j received (gave)
//!     π_j = p_j / (1 − p_y)    (j ≠ y)   the prior-proportional share
//!     ρ   = Spearman(s, π)               rank correlation over j ≠ y (average ranks for ties)
//!     TV  = ½ Σ_{j≠y} |s_j − π_j|        the proportionality error (a total-variation distance
//!                                        while every s_j ≥ 0; it may exceed 1 when some
//!                                        alternatives move against the net flow)
//!
//! ρ = 1 and TV = 0 mean "the mass went to (came from) the alternatives in proportion to their
//! current probability". The shares are the same formula for both sides: for a PSR row F < 0 and
//! s_j is the share of y's gain that was taken from token j.
//!
//! What a softmax gradient step actually does (docs/math.md §6). On logits z, one descent step of
//! size η on ℓ = −A·log p_y moves z by −η·A·(p − e_y); to first order, with S = Σ_u p_u²,
//!
//!     Δp_j = −A · η · p_j · (p_j + p_y − S)      (j ≠ y; A = −1 for NSR, +1 for PSR)
//!     F    = −A · η · p_y · ((1 − p_y)² + Σ_{k≠y} p_k²)
//!
//! so the logit change is prior-proportional (Δz_j = η·p_j) but the probability change is not:
//! s_j ∝ p_j·(p_j + p_y − S), which favours the likelier alternatives, and when a dominant
//! alternative makes p_j + p_y − S < 0, a rare alternative *loses* mass under NSR. TV therefore
//! tends to a non-zero limit TV₀(p) as η → 0 (the tests pin it, and that |TV − TV₀| = O(η)).
//! The split is exactly prior-proportional (TV = 0) for an update that changes only z_y.
//!
//! Per side (NSR rows: `correct == 0`; PSR rows: `correct != 0`) the summary holds
//! - `mass_moved`: Σ_rows F for NSR (mass removed from the sampled wrong tokens), Σ_rows (−F) for
//!   PSR (mass gained by the sampled correct tokens); `mean_mass_moved` divides by `rows`;
//! - `counter_flow`: Σ_rows Σ_{j≠y} of the mass moving against the expected direction
//!   (NSR: max(0, −Δ_j), alternatives that lost mass; PSR: max(0, Δ_j), alternatives that gained);
//! - `proportionality_tv`: the |F|-weighted mean of the rows' TV, which equals
//!   Σ_rows ½ Σ_{j≠y} |Δ_j − F·π_j| / Σ_rows |F|: the misallocated mass over the moved mass;
//!   `max_proportionality_tv` is the largest row TV among rows with F ≠ 0;
//! - `spearman`: the |F|-weighted mean of the rows' ρ over rows where ρ is defined (at least two
//!   alternatives and neither s nor π constant); `min_spearman` is the smallest such ρ;
//! - counts: `rows`, `flow_rows` (F ≠ 0: the shares are defined), `ranked_rows` (ρ defined).
//! Undefined summaries (no rows of that kind) are NaN. Weighting by |F| makes a row that moved
//! almost nothing, whose shares are rounding noise, count almost nothing.
//!
//! Arithmetic is in double and serial, in row order: results are deterministic. From logits,
//! Δ_j is computed without cancellation: with d_j = z′_j − z_j and c = log1p(Σ_u p_u·expm1(d_u))
//! (the change of log-sum-exp), Δ_j = p_j·expm1(d_j − c); tiny updates keep their precision.
//! Logits are used as given (divide by a sampling temperature first if the policy samples at one).
//!
//! Errors (the message names the argument and the offending row/index): before/after extents
//! that differ, V < 2, `tokens` or `correct` of the wrong length (`shape_error`); a token id
//! outside [0, V), probabilities outside [0, 1] or a row whose sum differs from 1 by more than
//! `tolerance`, a tolerance ≤ 0 (`range_error`); a NaN or infinite logit/probability
//! (`numerical_error`).

#include <algorithm>
#include <cmath>
#include <concepts>
#include <cstddef>
#include <limits>
#include <numeric>
#include <span>
#include <type_traits>
#include <vector>

#include "rlvr/config.hpp"
#include "rlvr/error.hpp"
#include "rlvr/view.hpp"
#include "rlvr/diagnostics/detail/mass_flow.hpp"

namespace rlvr {

//! One row's mass flow (see the file comment): F, the counter-flowing mass in each direction,
//! the rank correlation ρ and the proportionality error TV (NaN where undefined).
struct mass_flow_row {
  double net_to_alternatives = 0;  //!< F = Σ_{j≠y} Δ_j
  double gained_by_alternatives = 0; //!< Σ_{j≠y} max(0, Δ_j)
  double lost_by_alternatives = 0;   //!< Σ_{j≠y} max(0, −Δ_j)
  double spearman = std::numeric_limits<double>::quiet_NaN();           //!< ρ(s, π); NaN if undefined
  double proportionality_tv = std::numeric_limits<double>::quiet_NaN(); //!< ½ Σ |s − π|; NaN if F = 0
};

//! The summary of one side (rows of rejected or of accepted responses); see the file comment.
struct mass_flow_side {
  index_t rows = 0;        //!< rows of this side
  index_t flow_rows = 0;   //!< rows with F ≠ 0 (shares defined)
  index_t ranked_rows = 0; //!< rows with ρ defined
  double mass_moved = 0;   //!< NSR: Σ F (removed from y); PSR: Σ −F (gained by y)
  double mean_mass_moved = std::numeric_limits<double>::quiet_NaN(); //!< mass_moved / rows
  double counter_flow = 0; //!< mass moving against the expected direction, summed over rows
  double spearman = std::numeric_limits<double>::quiet_NaN();               //!< |F|-weighted mean ρ
  double min_spearman = std::numeric_limits<double>::quiet_NaN();           //!< smallest row ρ
  double proportionality_tv = std::numeric_limits<double>::quiet_NaN();     //!< |F|-weighted mean TV
  double max_proportionality_tv = std::numeric_limits<double>::quiet_NaN(); //!< largest row TV
};

//! Both sides of one update: `nsr` over rows with `correct == 0`, `psr` over the others.
struct mass_flow_report {
  mass_flow_side nsr;
  mass_flow_side psr;
};

//! The mass-flow statistics of one row from probabilities before (`p_before`) and after
//! (`p_after`) an update, sampled token `y`. Unchecked apart from the lengths and `y`: use
//! `mass_flow_from_probs` for validated batches.
[[nodiscard]] inline mass_flow_row mass_flow_of_row(std::span<const double> p_before, std::span<const double> p_after,
                                                    index_t y) {
  RLVR_EXPECTS(p_before.size() == p_after.size() && p_before.size() >= 2, shape, "mass_flow_of_row: p_before has ",
               p_before.size(), " entries and p_after ", p_after.size(), " (equal, at least 2, expected)");
  const auto V = static_cast<index_t>(p_before.size());
  RLVR_EXPECTS(y >= 0 && y < V, range, "mass_flow_of_row: y = ", y, " is outside [0, ", V, ")");
  std::vector<double> d(p_before.size());
  for (std::size_t j = 0; j < d.size(); ++j) d[j] = p_after[j] - p_before[j];
  detail::mass_flow_scratch w;
  const detail::row_flow r = detail::mass_flow_of_row(p_before.data(), d.data(), V, y, w);
  return {r.net_to_alternatives, r.gained_by_alternatives, r.lost_by_alternatives, r.spearman, r.proportionality_tv};
}

//! Mass flow of one update from probability rows `p_before`, `p_after` [N, V], the sampled
//! token of each row (`tokens`, length N) and whether its response was correct (`correct`,
//! length N, non-zero = correct). Every entry must be finite and in [0, 1] and every row must sum
//! to 1 within `tolerance`.
template <class P, class Q, class Tok, class C>
  requires std::is_floating_point_v<std::remove_const_t<P>> && std::is_floating_point_v<std::remove_const_t<Q>> &&
           std::integral<std::remove_const_t<Tok>> &&
           std::integral<std::remove_const_t<C>>
[[nodiscard]] mass_flow_report mass_flow_from_probs(matrix_view<P> p_before, matrix_view<Q> p_after,
                                                    vector_view<Tok> tokens, vector_view<C> correct,
                                                    double tolerance = 1e-6) {
  constexpr const char* who = "mass_flow_from_probs";
  RLVR_EXPECTS(tolerance > 0 && std::isfinite(tolerance), range, who, ": tolerance = ", tolerance,
               " must be finite and > 0");
  detail::check_mass_flow_args(who, p_before, p_after, tokens, correct);
  const index_t N = p_before.rows(), V = p_before.cols();
  std::vector<double> p(static_cast<std::size_t>(V)), d(static_cast<std::size_t>(V));
  detail::mass_flow_scratch w;
  detail::mass_flow_accumulator<mass_flow_report> acc;
  for (index_t i = 0; i < N; ++i) {
    detail::probs_and_delta(who, p_before, p_after, i, tolerance, p, d);
    acc.add(detail::mass_flow_of_row(p.data(), d.data(), V, static_cast<index_t>(tokens[i]), w), correct[i] != 0);
  }
  return acc.finish();
}

//! Mass flow of one update from logit rows `before`, `after` [N, V] (softmax at temperature 1,
//! every logit finite), the sampled tokens and the correctness flags, as `mass_flow_from_probs`.
template <class L, class M, class Tok, class C>
  requires std::is_floating_point_v<std::remove_const_t<L>> && std::is_floating_point_v<std::remove_const_t<M>> &&
           std::integral<std::remove_const_t<Tok>> &&
           std::integral<std::remove_const_t<C>>
[[nodiscard]] mass_flow_report mass_flow_from_logits(matrix_view<L> before, matrix_view<M> after,
                                                     vector_view<Tok> tokens, vector_view<C> correct) {
  constexpr const char* who = "mass_flow_from_logits";
  detail::check_mass_flow_args(who, before, after, tokens, correct);
  const index_t N = before.rows(), V = before.cols();
  std::vector<double> p(static_cast<std::size_t>(V)), dz(static_cast<std::size_t>(V)), d(static_cast<std::size_t>(V));
  detail::mass_flow_scratch w;
  detail::mass_flow_accumulator<mass_flow_report> acc;
  for (index_t i = 0; i < N; ++i) {
    detail::softmax_and_delta(who, before, after, i, p, dz, d);
    acc.add(detail::mass_flow_of_row(p.data(), d.data(), V, static_cast<index_t>(tokens[i]), w), correct[i] != 0);
  }
  return acc.finish();
}

} // namespace rlvr
