#pragma once
//! \file rlvr/backends/concepts.hpp
//! \brief The backend concepts: what a tensor backend must provide to run rlvr's kernels.
//!
//! A backend is a *type*: a small value that says where and how rlvr's kernels run (on the host
//! with N threads, on a CUDA stream, …). Algorithms dispatch on it at compile time; there is no
//! global default backend.
//!
//! This header grows with the library: the objectives engine adds the loss capabilities, the
//! sampling layer its own. Small named concepts are combined into larger ones, so a diagnostic
//! names the piece that failed.
//!
//! ## The loss capability: two per-row operations
//!
//! Everything the objectives engine needs from a backend is two operations over the rows of a
//! row-major logits matrix z ∈ R^{N×V} (rows possibly strided), with temperature τ and
//! x = z / τ:
//!
//! 1. `b.logp_entropy(logits, targets, temperature, logp, entropy)` — forward only. For every
//!    row i, with lse_i = log Σ_v exp(x_iv):
//!      logp[i]    = x_{i,y_i} − lse_i                          (log π of the target token)
//!      entropy[i] = lse_i − Σ_v p_iv x_iv = −Σ_v p_iv log p_iv  (never 0·log 0)
//!    `entropy` may be an empty view (not wanted).
//!
//! 2. `b.fused_rows(logits, targets, temperature, epilogue, grad)` — the fused loss pass. For
//!    every row i:
//!      - if `!epilogue.active(i)`: write zeros to grad row i and skip the row (dropped or
//!        masked tokens cost one streaming store);
//!      - else read the row once (online log-sum-exp) to get `row_stats{lse, entropy, logp}`,
//!        call `row_coeffs c = epilogue(i, stats)` — the objective's per-token math, supplied by
//!        rlvr as a `constexpr RLVR_HD` functor, so the same code runs in every backend — and
//!        write the row of the gradient once:
//!          grad_iv = ∂L/∂z_iv = (1/τ)·[ c.dlogp·(1[v = y_i] − p_iv)
//!                                      − c.dentropy·p_iv·(log p_iv + H_i) ]
//!        where c.dlogp = ∂L/∂ log π_i and c.dentropy = ∂L/∂H_i (see
//!        `rlvr/objectives/row_math.hpp` for the shared scalar helpers, including the
//!        factorisation grad_iv = p_iv·(a_i + b_i·log p_iv) + [v = y_i]·t_i that vector code uses).
//!    `grad` may alias `logits` exactly (same pointer and row stride): in-place gradient.
//!    Rows are independent; a backend may run them in any order or in parallel. A row that
//!    contains NaN or +inf, or whose entries are all −inf, yields `stats.lse` = NaN (the
//!    epilogue records it; the entry point raises `rlvr::numerical_error` naming the row).
//!
//! Extents and indices are checked by rlvr's entry points before a backend is called, so
//! backends never validate.

#include <concepts>
#include <cstdint>
#include <type_traits>

#include "rlvr/config.hpp"
#include "rlvr/view.hpp"

namespace rlvr {

//! Opt-in flag for host (CPU) backends. Specialise to `true`, or give the type a
//! `static constexpr bool host_backend = true` member.
template <class B> inline constexpr bool enable_host_backend = requires { requires B::host_backend; };

//! A type B models `HostBackend` if
//! 1. it opts in through `rlvr::enable_host_backend<B>` (see above), and
//! 2. an object `b` of type `const B` has a member `b.threads` convertible to `int`: the number
//!    of threads its kernels may use, 0 meaning "all hardware threads"
//!    (`rlvr::default_num_threads()`).
//! Host backends run on memory the caller can read and write directly; every host algorithm
//! splits work over rows with `rlvr::parallel_for(rows, b.threads, …)`.
template <class B>
concept HostBackend = enable_host_backend<std::remove_cvref_t<B>> && requires(const std::remove_cvref_t<B>& b) {
  { b.threads } -> std::convertible_to<int>;
};

//! Token ids cross the API as 32-bit signed integers (vocabularies are < 2^31).
using token_t = std::int32_t;

//! What the read pass of one row produces (x = z / τ).
template <class T> struct row_stats {
  T lse;     //!< log Σ_v exp(x_v); NaN for a bad row (NaN or +inf entry, or every entry −inf)
  T entropy; //!< H = −Σ_v p_v log p_v ≥ 0
  T logp;    //!< log π(y) = x_y − lse
};

//! What the objective asks of the write pass of one row: the derivatives of the total loss L
//! with respect to this row's log π(y) and entropy H. Everything else (the aggregation weight,
//! the surrogate, the regularisers) has already been folded in by the epilogue.
template <class T> struct row_coeffs {
  T dlogp;    //!< ∂L/∂ log π(y)
  T dentropy; //!< ∂L/∂H
};

namespace detail {
//! The minimal epilogue, used only to state the concepts below.
template <class T> struct epilogue_archetype {
  RLVR_HD constexpr bool active(index_t) const { return true; }
  RLVR_HD constexpr row_coeffs<T> operator()(index_t, const row_stats<T>&) const { return {T(1), T(0)}; }
};
} // namespace detail

//! A type E models `RowEpilogue<E, T>` if, for `const E& e`, an index `i` and `row_stats<T> s`,
//! 1. `e.active(i)` is convertible to `bool` (false: the row contributes nothing; its gradient
//!    row is zero), and
//! 2. `e(i, s)` returns `row_coeffs<T>`;
//! 3. both are callable concurrently for distinct rows (they may write per-row outputs through
//!    views they hold, at index i only). rlvr's epilogues are `RLVR_HD` and trivially copyable,
//!    so they can be passed by value into a GPU kernel.
template <class E, class T>
concept RowEpilogue = requires(const E& e, index_t i, const row_stats<T>& s) {
  { e.active(i) } -> std::convertible_to<bool>;
  { e(i, s) } -> std::same_as<row_coeffs<T>>;
};
static_assert(RowEpilogue<detail::epilogue_archetype<float>, float>);

//! A type B models `LogProbBackend<B, T>` (forward-only log π and entropy over T logits) if
//! `b.logp_entropy(logits, targets, temperature, logp, entropy)` is valid for `const B& b`,
//! `matrix_view<const T> logits`, `vector_view<const token_t> targets`, `T temperature` and
//! `vector_view<T> logp, entropy`, with the semantics of operation 1 above.
template <class B, class T>
concept LogProbBackend = requires(const std::remove_cvref_t<B>& b, matrix_view<const T> z,
                                  vector_view<const token_t> y, T tau, vector_view<T> out) {
  b.logp_entropy(z, y, tau, out, out);
};

//! A type B models `FusedLossBackend<B, T>` if `b.fused_rows(logits, targets, temperature, e,
//! grad)` is valid for `const B& b`, `matrix_view<const T> logits`, `vector_view<const token_t>
//! targets`, `T temperature`, any `RowEpilogue<T>` e (checked with rlvr's archetype) and
//! `matrix_view<T> grad`, with the semantics of operation 2 above.
template <class B, class T>
concept FusedLossBackend = requires(const std::remove_cvref_t<B>& b, matrix_view<const T> z,
                                    vector_view<const token_t> y, T tau,
                                    const detail::epilogue_archetype<T>& e, matrix_view<T> g) {
  b.fused_rows(z, y, tau, e, g);
};

//! A type B models `LossBackend<B, T>` — it can run every rlvr objective over T logits — if
//! 1. it models `LogProbBackend<B, T>` (forward log π and entropy), and
//! 2. it models `FusedLossBackend<B, T>` (the fused loss-and-gradient pass).
//! The scalar-level math is not the backend's business: it comes from rlvr's functors.
template <class B, class T>
concept LossBackend = LogProbBackend<B, T> && FusedLossBackend<B, T>;

//! A type B models `Backend` if it is a loss backend for `float` logits (the common case);
//! double support is checked where it is used (`LossBackend<B, double>`).
template <class B>
concept Backend = std::copy_constructible<std::remove_cvref_t<B>> && LossBackend<B, float>;

} // namespace rlvr
