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

#include <concepts>
#include <type_traits>

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

} // namespace rlvr
