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
//!
//! ## Memory spaces
//! Every backend names the memory space its kernels read and write (`rlvr::memory_space_t<B>`:
//! the member type `B::memory_space`, `rlvr::host_space` when there is none — so a host backend
//! written before memory spaces existed keeps working). The two operations above take views of
//! that space, and rlvr's entry points reject a view of another space at compile time with a
//! diagnostic naming both. A backend whose space is not host-accessible (the CUDA backend) also
//! models `SpaceMemory`: the entry points stage their small per-token arrays (O(N) bytes: weights,
//! advantages, per-token outputs) through it, never the V-wide logits.
//!
//! ## Sampling
//! A backend that models `SamplingBackend` draws tokens itself (`b.sample_rows(…)`); `rlvr::sample`
//! dispatches to it (see `rlvr/sampling/sampler.hpp`). The host backends share one host row
//! sampler and differ in how they split rows over threads.
//!
//! ## Floors
//! This header is floor 1 (see DEVELOPERS.md): it includes only `config.hpp` and `view.hpp`.
//! Backends (floor 3) include it; the entry points (floor 4: `loss.hpp`, `sampling/sampler.hpp`)
//! include backends' concepts, never a backend's kernels, and no backend includes an entry point.

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "rlvr/config.hpp"
#include "rlvr/view.hpp"

namespace rlvr {

//! The memory space a backend's kernels read and write: `B::memory_space` when B declares one,
//! else `rlvr::host_space`.
template <class B> using memory_space_t = typename detail::memory_space_of<std::remove_cvref_t<B>>::type;

//! Opt-in flag for host (CPU) backends. Specialise to `true`, or give the type a
//! `static constexpr bool host_backend = true` member.
template <class B> inline constexpr bool enable_host_backend = requires { requires B::host_backend; };

//! Opt-in flag for backends whose data lives in accelerator memory. Specialise to `true`, or give
//! the type a `static constexpr bool device_backend = true` member.
template <class B> inline constexpr bool enable_device_backend = requires { requires B::device_backend; };

//! A type B models `HostBackend` if
//! 1. it opts in through `rlvr::enable_host_backend<B>` (see above),
//! 2. an object `b` of type `const B` has a member `b.threads` convertible to `int`: the number
//!    of threads its kernels may use, 0 meaning "all hardware threads"
//!    (`rlvr::default_num_threads()`), and
//! 3. its memory space (`memory_space_t<B>`) is `rlvr::host_space`.
//! Host backends run on memory the caller can read and write directly; every host algorithm
//! splits work over rows with `rlvr::parallel_for(rows, b.threads, …)`.
template <class B>
concept HostBackend = enable_host_backend<std::remove_cvref_t<B>> && std::is_same_v<memory_space_t<B>, host_space> &&
                      requires(const std::remove_cvref_t<B>& b) {
  { b.threads } -> std::convertible_to<int>;
};

//! Token ids cross the API as 32-bit signed integers (vocabularies are < 2^31).
using token_t = std::int32_t;

//! What the read pass of one row produces (x = z / τ).
template <class T> struct row_stats {
  T lse;     //!< log Σ_v exp(x_v); NaN for a bad row (NaN or +inf entry, or every entry −inf)
  T entropy; //!< H = −Σ_v p_v log p_v ≥ 0
  T logp;    //!< log π(y) = x_y − lse
  T kl = 0;  //!< KL(π‖π_ref) over the row (`fused_rows_ref` only; +inf or NaN for a bad reference row)
};

//! What the objective asks of the write pass of one row: the derivatives of the total loss L
//! with respect to this row's log π(y) and entropy H. Everything else (the aggregation weight,
//! the surrogate, the regularisers) has already been folded in by the epilogue.
template <class T> struct row_coeffs {
  T dlogp;    //!< ∂L/∂ log π(y)
  T dentropy; //!< ∂L/∂H
  T dkl = 0;  //!< ∂L/∂KL(π‖π_ref) (`fused_rows_ref` only)
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
//! `matrix_view<const T, S> logits`, `vector_view<const token_t, S> targets`, `T temperature` and
//! `vector_view<T, S> logp, entropy`, S = `memory_space_t<B>`, with the semantics of operation 1
//! above.
template <class B, class T>
concept LogProbBackend = requires(const std::remove_cvref_t<B>& b, matrix_view<const T, memory_space_t<B>> z,
                                  vector_view<const token_t, memory_space_t<B>> y, T tau,
                                  vector_view<T, memory_space_t<B>> out) {
  b.logp_entropy(z, y, tau, out, out);
};

//! A type B models `FusedLossBackend<B, T>` if `b.fused_rows(logits, targets, temperature, e,
//! grad)` is valid for `const B& b`, `matrix_view<const T, S> logits`, `vector_view<const token_t,
//! S> targets`, `T temperature`, any `RowEpilogue<T>` e (checked with rlvr's archetype) and
//! `matrix_view<T, S> grad`, S = `memory_space_t<B>`, with the semantics of operation 2 above.
template <class B, class T>
concept FusedLossBackend = requires(const std::remove_cvref_t<B>& b, matrix_view<const T, memory_space_t<B>> z,
                                    vector_view<const token_t, memory_space_t<B>> y, T tau,
                                    const detail::epilogue_archetype<T>& e, matrix_view<T, memory_space_t<B>> g) {
  b.fused_rows(z, y, tau, e, g);
};

//! A type B models `LossBackend<B, T>` — it can run every rlvr objective over T logits — if
//! 1. it models `LogProbBackend<B, T>` (forward log π and entropy), and
//! 2. it models `FusedLossBackend<B, T>` (the fused loss-and-gradient pass).
//! The scalar-level math is not the backend's business: it comes from rlvr's functors.
template <class B, class T>
concept LossBackend = LogProbBackend<B, T> && FusedLossBackend<B, T>;

//! A type B models `RefKLBackend<B, T>` (the fused pass with an exact KL to a reference, for
//! `rlvr::kl_full`) if `b.fused_rows_ref(logits, ref_logits, targets, temperature, e, grad)` is
//! valid for `const B& b`, `matrix_view<const T, S> logits, ref_logits` (same extents),
//! `vector_view<const token_t, S> targets`, `T temperature`, any `RowEpilogue<T>` e and
//! `matrix_view<T, S> grad`, S = `memory_space_t<B>`, with the semantics of operation 2 extended
//! by the reference row r_i (xr = r/τ, q = softmax(xr)):
//!   - the read pass also gives `stats.kl` = KL(π_i‖π_ref,i) = Σ_v p_iv (log p_iv − log q_iv)
//!     (+inf when q_iv = 0 where p_iv > 0, NaN when r_i holds a NaN or +inf; such a row's
//!     gradient is zero and the epilogue records it), and
//!   - the write pass adds c.dkl·∂KL/∂z_iv = (c.dkl/τ)·p_iv·(log p_iv − log q_iv − KL_i).
//! `grad` may alias `logits` exactly; `ref_logits` never aliases `grad`. The host backends model
//! it (`rlvr/objectives/row_math.hpp`'s `kl_push` / `kl_finish`, in double); a backend that does
//! not is still a `Backend` — only objectives with `kl_full` need this capability.
template <class B, class T>
concept RefKLBackend = requires(const std::remove_cvref_t<B>& b, matrix_view<const T, memory_space_t<B>> z,
                                vector_view<const token_t, memory_space_t<B>> y, T tau,
                                const detail::epilogue_archetype<T>& e, matrix_view<T, memory_space_t<B>> g) {
  b.fused_rows_ref(z, z, y, tau, e, g);
};

//! A type B models `SpaceMemory` — rlvr's entry points can stage small arrays in its memory
//! space — if, for `const B& b`, a byte count `n`, a pointer `d` of B's space and a host pointer `h`,
//! 1. `b.allocate_bytes(n)` returns a `void*` in B's space (aligned for any scalar; throws on
//!    failure) and `b.free_bytes(d)` releases it (after the work queued on b that uses it);
//! 2. `b.upload_bytes(d, h, n)` copies n bytes from the host to B's space (it may return before the
//!    copy is done; the host buffer must then stay alive until the next download), and
//! 3. `b.download_bytes(h, d, n)` copies n bytes to the host and returns when they are there
//!    (it waits for the work queued on b before it).
//! Host backends need none of this (rlvr uses host memory directly).
template <class B>
concept SpaceMemory = requires(const std::remove_cvref_t<B>& b, std::size_t n, void* d, const void* h, void* hm) {
  { b.allocate_bytes(n) } -> std::same_as<void*>;
  b.free_bytes(d);
  b.upload_bytes(d, h, n);
  b.download_bytes(hm, static_cast<const void*>(d), n);
};

//! A type B models `Backend` if
//! 1. it is copy constructible (backends are small values passed by copy),
//! 2. it is a loss backend for `float` logits in its memory space (double support is checked
//!    where it is used: `LossBackend<B, double>`), and
//! 3. its memory space is host-accessible, or it models `SpaceMemory` (so the entry points can
//!    stage per-token arrays there).
template <class B>
concept Backend = std::copy_constructible<std::remove_cvref_t<B>> && LossBackend<B, float> &&
                  (host_accessible_v<memory_space_t<B>> || SpaceMemory<B>);

namespace detail {
//! An array of `n` T in backend B's memory space, allocated through `SpaceMemory` (the staging
//! area of rlvr's entry points for a device backend: O(N) per-token arrays, never logits).
//! Move-free, non-copyable; released through `b.free_bytes`. T must be trivially copyable.
template <class B, class T> class space_buffer {
public:
  using space = memory_space_t<B>;
  //! Uninitialised storage for `n` elements (none for n = 0).
  space_buffer(const B& b, index_t n) : b_(&b), n_(n) {
    if (n_ > 0) p_ = static_cast<T*>(b.allocate_bytes(bytes()));
  }
  //! Storage for `n` elements holding a copy of the host array `src` (may be null when n = 0).
  space_buffer(const B& b, const T* src, index_t n) : space_buffer(b, n) {
    if (n_ > 0) b.upload_bytes(p_, src, bytes());
  }
  space_buffer(const space_buffer&) = delete;
  space_buffer& operator=(const space_buffer&) = delete;
  ~space_buffer() {
    if (p_ != nullptr) b_->free_bytes(p_);
  }
  [[nodiscard]] T* data() const { return p_; }                                    //!< pointer in B's space
  [[nodiscard]] vector_view<T, space> view() const { return {p_, n_}; }          //!< the whole buffer
  [[nodiscard]] std::size_t bytes() const { return static_cast<std::size_t>(n_) * sizeof(T); } //!< size in bytes
  //! Copies the buffer to the host array `dst` (waits for the backend's queued work).
  void download(T* dst) const {
    if (n_ > 0) b_->download_bytes(dst, p_, bytes());
  }

private:
  const B* b_;
  index_t n_;
  T* p_ = nullptr;
};
} // namespace detail

} // namespace rlvr
