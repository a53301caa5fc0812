#pragma once
//! \file rlvr/dist/communicator.hpp
//! \brief The `rlvr::dist::Communicator` concept, its zero-cost `single_process` model, and the
//! collective helpers rlvr builds on it (variable-size gathers, scalar sums).
//!
//! A communicator is a fixed group of `size()` processes (*ranks*), each knowing its `rank()`,
//! that run the same sequence of *collectives*: every rank calls the same collective, in the
//! same order, with the same element counts. rlvr needs five:
//!
//! | collective                          | effect (R = size(), x_r = rank r's buffer)                   |
//! |-------------------------------------|--------------------------------------------------------------|
//! | `all_reduce(x, reduce_op::sum)`     | every x becomes Σ_r x_r, element-wise                       |
//! | `all_reduce(x, reduce_op::max)`     | every x becomes max_r x_r, element-wise                     |
//! | `all_gather(mine, all)`             | all = [mine_0, mine_1, …, mine_{R−1}] on every rank           |
//! | `broadcast(x, root)`                | every x becomes x_root                                      |
//! | `barrier()`                         | returns once every rank has entered it                      |
//!
//! over the element types `float`, `double`, `std::int64_t` and `std::uint8_t` (bytes; not
//! reduced). Integer sums are exact; a floating-point `all_reduce` sum is rounded in an order the
//! transport chooses — rlvr's *deterministic* paths therefore never sum floats with it: they
//! `all_gather` the parts and add them in a fixed order on every rank (see `rlvr/trainer`).
//!
//! **Models.** `single_process` (here: one rank, every collective a copy or nothing, the
//! default of everything distributed), `mpi_communicator` (`rlvr/dist/mpi.hpp`, component
//! `rlvr::mpi`) and `nccl_communicator` (`rlvr/dist/nccl.hpp`, component `rlvr::nccl`, buffers in
//! device memory). A transport's failure becomes `rlvr::comm_error` ("[rlvr.comm] …").
//!
//! **Memory.** A communicator reads and writes buffers in its memory space,
//! `rlvr::dist::comm_memory_space_t<C>` (`C::memory_space`; host when absent): host for
//! `single_process` and MPI, `cuda_space` for NCCL.
//!
//! **Which ranks call what.** Every collective here, and every helper below (`sum`, `max`,
//! `all_gather_v`, `all_gather_strings`), is called by *every* rank of the communicator, in the
//! same order, with consistent sizes — even a rank with nothing to contribute (it passes an empty
//! span). A rank that skips a call, or calls another one, leaves its peers waiting: what happens
//! then is the model's fault handling (`thread_communicator`: `comm_error` after its timeout;
//! `mpi_communicator`: the watchdog ends the process; `nccl_communicator`: the communicator is
//! aborted and `comm_error` thrown). Argument checks that every rank fails alike (a wrong output
//! size, a root outside [0, size())) throw before anything is sent, so they leave no one waiting.
//!
//! **Writing code over any communicator.** Take a `HostCommunicator` by reference and default it
//! to `single_process`; for results that must not depend on the rank count, gather the parts and
//! combine them in a fixed order instead of all-reducing floats:
//!
//!     template <rlvr::dist::HostCommunicator C>
//!     double mean_reward(C& c, std::span<const float> mine) {       // mine: this rank's rewards
//!       const auto all = rlvr::dist::all_gather_v<C, float>(c, mine); // global order, every rank
//!       double s = 0;
//!       for (float x : all) s += x;                                  // same order on every rank
//!       return all.empty() ? 0.0 : s / static_cast<double>(all.size());
//!     }
//!
//! The result is bit-identical on every rank and for every way of cutting the rewards into
//! consecutive rank blocks (e.g. with `block_share`), including one rank.

#include <algorithm>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "rlvr/config.hpp"
#include "rlvr/error.hpp"
#include "rlvr/view.hpp"

namespace rlvr::dist {

//! The reduction of `all_reduce`. Neither is defined for `std::uint8_t` (bytes are only gathered
//! and broadcast). How a NaN input propagates through `max` is the transport's business.
enum class reduce_op : std::uint8_t {
  sum, //!< Σ over ranks (exact for integers; transport-ordered for floating point)
  max, //!< max over ranks
};

//! The element types a communicator moves: `float`, `double`, `std::int64_t`, `std::uint8_t`.
//! Anything else crosses as one of these: `std::int32_t` widened to `std::int64_t`
//! (`rlvr/dist/statistics.hpp` does so for token maps), strings and structs as bytes.
template <class T>
concept transport_type = std::same_as<T, float> || std::same_as<T, double> || std::same_as<T, std::int64_t> ||
                         std::same_as<T, std::uint8_t>;

namespace detail {
//! `comm_memory_space_t`'s implementation: `host_space` unless C declares `memory_space`.
template <class C> struct comm_space { using type = host_space; };
template <class C>
  requires requires { typename C::memory_space; }
struct comm_space<C> { using type = typename C::memory_space; };
} // namespace detail

//! The memory space of a communicator's buffers: `C::memory_space`, or `host_space` if C has none.
template <class C> using comm_memory_space_t = typename detail::comm_space<std::remove_cvref_t<C>>::type;

//! A type C models `Communicator` if, for `c` an lvalue of C, `x` a `std::span<T>`, `in` a
//! `std::span<const T>` (T each of `float`, `double`, `std::int64_t`) and `b`, `bin` the same over
//! `std::uint8_t`,
//! 1. `c.rank()` and `c.size()` return `int`, with 0 ≤ rank < size, fixed for c's lifetime;
//! 2. `c.all_reduce(x, op)` (T not `uint8_t`) replaces x, on every rank, by the element-wise sum or
//!    maximum over ranks, and the result is the same on every rank;
//! 3. `c.all_gather(in, x)` requires `x.size() == size() * in.size()` (the same `in.size()` on every
//!    rank) and writes rank r's `in` at `x[r·in.size() …]`; likewise for bytes;
//! 4. `c.broadcast(x, root)` copies the root's x into every rank's x (same size everywhere);
//! 5. `c.barrier()` returns once every rank has entered it;
//! 6. the buffers live in `comm_memory_space_t<C>`; a failure of the transport (a dead peer, a
//!    timeout, a mismatched size it can detect) throws `rlvr::comm_error` or ends the process
//!    with a message — never returns wrong data.
//! Every rank calls the same collectives in the same order (the MPI rule).
template <class C>
concept Communicator =
    requires(C& c, std::span<float> f, std::span<const float> cf, std::span<double> d, std::span<const double> cd,
             std::span<std::int64_t> i, std::span<const std::int64_t> ci, std::span<std::uint8_t> b,
             std::span<const std::uint8_t> cb, reduce_op op, int root) {
      { c.rank() } -> std::same_as<int>;
      { c.size() } -> std::same_as<int>;
      c.all_reduce(f, op);
      c.all_reduce(d, op);
      c.all_reduce(i, op);
      c.all_gather(cf, f);
      c.all_gather(cd, d);
      c.all_gather(ci, i);
      c.all_gather(cb, b);
      c.broadcast(f, root);
      c.broadcast(d, root);
      c.broadcast(i, root);
      c.broadcast(b, root);
      c.barrier();
    } && MemorySpace<comm_memory_space_t<C>>;

//! A `Communicator` whose buffers the host may read: the trainer's and the study's collectives,
//! and every helper in this file and in `rlvr/dist/statistics.hpp`. Models: `single_process`,
//! `thread_communicator`, `mpi_communicator` (not `nccl_communicator`: its spans are device
//! pointers).
template <class C>
concept HostCommunicator = Communicator<C> && host_accessible_v<comm_memory_space_t<C>>;

//! One process, one rank: every collective is a copy or nothing, and costs nothing. The default
//! communicator of everything distributed in rlvr, so single-process code pays no price.
//!
//! An empty, stateless value: copy it freely, use it from any number of threads at once. The
//! trainer over `single_process` with `trainer_config::shards` = S is the reference that every
//! distributed run with the same S reproduces bit for bit (deterministic reduction).
struct single_process {
  //! Host buffers.
  using memory_space = host_space;
  //! Always 0.
  [[nodiscard]] constexpr int rank() const noexcept { return 0; }
  //! Always 1.
  [[nodiscard]] constexpr int size() const noexcept { return 1; }
  //! The sum or maximum over one rank is x itself: does nothing.
  template <transport_type T> void all_reduce(std::span<T>, reduce_op) const noexcept {}
  //! Copies `in` to `out` (`std::memmove`: the two may overlap or be the same span). Throws
  //! `rlvr::shape_error` unless `out.size() == in.size()` (the contract's size() · in.size()).
  template <transport_type T> void all_gather(std::span<const T> in, std::span<T> out) const {
    RLVR_EXPECTS(out.size() == in.size(), shape, "dist::single_process::all_gather: output has ", out.size(),
                 " elements for an input of ", in.size(), " (size() = 1)");
    if (!in.empty() && out.data() != in.data()) std::memmove(out.data(), in.data(), in.size() * sizeof(T));
  }
  //! x is already the root's: does nothing, but throws `rlvr::range_error` unless `root == 0`, so
  //! a wrong root is caught on one process before it reaches a real transport.
  template <transport_type T> void broadcast(std::span<T>, int root) const {
    RLVR_EXPECTS(root == 0, range, "dist::single_process::broadcast: root = ", root, " but size() = 1");
  }
  //! Does nothing.
  void barrier() const noexcept {}
};
static_assert(Communicator<single_process>);
static_assert(HostCommunicator<single_process>);

// ---- helpers over any host communicator --------------------------------------------------------

//! Σ over ranks of one integer, returned on every rank (exact; no overflow check). One
//! `all_reduce` of one `std::int64_t`; every rank calls it. Typical use: a global count (tokens,
//! responses, failures) that every rank needs, e.g. `if (dist::sum(c, bad) > 0) …` so that every
//! rank takes the same branch.
template <HostCommunicator C> [[nodiscard]] std::int64_t sum(C& c, std::int64_t x) {
  c.all_reduce(std::span<std::int64_t>(&x, 1), reduce_op::sum);
  return x;
}
//! max over ranks of one integer, returned on every rank (exact). One `all_reduce` of one
//! `std::int64_t`; every rank calls it. Typical use: the longest sequence over ranks, to pad to.
template <HostCommunicator C> [[nodiscard]] std::int64_t max(C& c, std::int64_t x) {
  c.all_reduce(std::span<std::int64_t>(&x, 1), reduce_op::max);
  return x;
}

//! Every rank's `mine`, concatenated in rank order, on every rank (sizes may differ by rank):
//! one `all_gather` of the sizes, then one of the parts padded to the largest.
//!
//! Layout: with n_r = rank r's `mine.size()` and o_r = n_0 + … + n_{r−1}, the result has
//! N = n_0 + … + n_{R−1} elements and `out[o_r + i] == mine_r[i]` for 0 ≤ i < n_r — rank 0's part
//! first; e.g. parts {a}, {}, {b, c} on 3 ranks give {a, b, c} on each. The copies are exact, so
//! the result is bit-identical on every rank.
//!
//! Cost: two `all_gather`s — R `std::int64_t` (the sizes), then R · max_r n_r elements (each part
//! zero-padded to the longest) — so a balanced split is cheapest: a lopsided one moves as much as
//! if every rank held the longest part. Memory per rank: max_r n_r + R · max_r n_r + N elements
//! (padded copy, gathered buffer, result). Every rank calls it, an empty `mine` included. Spell
//! T when `mine` is not already a `std::span<const T>`: `all_gather_v<C, float>(c, v)`. Throws
//! what the communicator's `all_gather` throws (`rlvr::comm_error` from a failed transport).
template <HostCommunicator C, transport_type T> [[nodiscard]] std::vector<T> all_gather_v(C& c, std::span<const T> mine) {
  const auto r = static_cast<std::size_t>(c.size());
  std::int64_t n = static_cast<std::int64_t>(mine.size());
  std::vector<std::int64_t> sizes(r);
  c.all_gather(std::span<const std::int64_t>(&n, 1), std::span<std::int64_t>(sizes));
  const std::int64_t longest = *std::max_element(sizes.begin(), sizes.end());
  std::vector<T> padded(static_cast<std::size_t>(longest), T{});
  std::copy(mine.begin(), mine.end(), padded.begin());
  std::vector<T> all(r * static_cast<std::size_t>(longest));
  c.all_gather(std::span<const T>(padded), std::span<T>(all));
  std::vector<T> out;
  out.reserve(static_cast<std::size_t>(std::max<std::int64_t>(0, [&] {
    std::int64_t t = 0;
    for (auto s : sizes) t += s;
    return t;
  }())));
  for (std::size_t k = 0; k < r; ++k)
    out.insert(out.end(), all.begin() + static_cast<std::ptrdiff_t>(k * static_cast<std::size_t>(longest)),
               all.begin() + static_cast<std::ptrdiff_t>(k * static_cast<std::size_t>(longest) +
                                                         static_cast<std::size_t>(sizes[k])));
  return out;
}

//! Every rank's byte string, in rank order, on every rank (the study's and the tests' way to
//! collect serialised results): `out[r]` is rank r's `mine`, byte for byte (embedded NULs kept;
//! an empty string is fine). Cost: `all_gather_v` over the bytes plus one more `all_gather` of R
//! sizes — three `all_gather`s, R · (longest string) bytes received per rank. Every rank calls
//! it; a rank with nothing to say passes an empty string (the study shares rank 0's results so):
//!
//!     const std::string mine = comm.rank() == 0 ? serialise(r) : std::string();
//!     const auto parts = rlvr::dist::all_gather_strings(comm, mine); // parts[0]: rank 0's
template <HostCommunicator C> [[nodiscard]] std::vector<std::string> all_gather_strings(C& c, std::string_view mine) {
  const auto r = static_cast<std::size_t>(c.size());
  std::int64_t n = static_cast<std::int64_t>(mine.size());
  std::vector<std::int64_t> sizes(r);
  c.all_gather(std::span<const std::int64_t>(&n, 1), std::span<std::int64_t>(sizes));
  const std::vector<std::uint8_t> all = all_gather_v<C, std::uint8_t>(
      c, std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(mine.data()), mine.size()));
  std::vector<std::string> out(r);
  std::size_t at = 0;
  for (std::size_t k = 0; k < r; ++k) {
    out[k].assign(reinterpret_cast<const char*>(all.data()) + at, static_cast<std::size_t>(sizes[k]));
    at += static_cast<std::size_t>(sizes[k]);
  }
  return out;
}

//! The contiguous share [first, last) of `n` items that rank `rank` of `ranks` owns (the result of
//! `block_share`).
struct share {
  //! The first item owned.
  index_t first = 0;
  //! One past the last item owned (== first: none).
  index_t last = 0;
  //! last − first, the number of items owned (≥ 0).
  [[nodiscard]] index_t size() const noexcept { return last - first; }
};
//! Cuts `n` items into `ranks` consecutive blocks in order and returns block `rank`:
//!
//!     first = ⌊n · rank / ranks⌋,   last = ⌊n · (rank + 1) / ranks⌋
//!
//! so the blocks tile [0, n) without gaps or overlap, in rank order, and each has ⌊n/ranks⌋ or
//! ⌈n/ranks⌉ items (which blocks are the longer ones follows from the formula: n = 7 on 3 ranks
//! gives [0, 2), [2, 4), [4, 7)). With n < ranks some ranks get nothing. This is the cut the
//! trainer uses for its canonical shards (⌊P·k/S⌋) and the tests use for rank blocks; it pairs
//! with the rank-order concatenation of `all_gather_v`, which puts the blocks back in place:
//!
//!     const auto mine = rlvr::dist::block_share(n, comm.size(), comm.rank());
//!     std::vector<float> part(scores.begin() + mine.first, scores.begin() + mine.last);
//!     // ... work on part ...; all_gather_v<C, float>(comm, part) is the whole, in order
//!
//! Preconditions, not checked (constexpr, noexcept): n ≥ 0, ranks ≥ 1, 0 ≤ rank < ranks, and
//! n · ranks fits in `index_t`.
[[nodiscard]] constexpr share block_share(index_t n, int ranks, int rank) noexcept {
  const auto r = static_cast<index_t>(ranks), k = static_cast<index_t>(rank);
  return {n * k / r, n * (k + 1) / r};
}

} // namespace rlvr::dist
