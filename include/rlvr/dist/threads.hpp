#pragma once
//! \file rlvr/dist/threads.hpp
//! \brief `rlvr::dist::thread_communicator`: R ranks as R threads of one process — the
//! `Communicator` for tests, for laptops without MPI, and for checking that a distributed
//! program gives the same results on any rank count without launching processes.
//!
//!     rlvr::dist::run_ranks(3, [&](rlvr::dist::thread_communicator comm) {
//!       rlvr::transformer_policy model(model_cfg);              // every rank its own replica
//!       rlvr::adamw opt({.lr = 1e-3});
//!       rlvr::trainer tr(model, opt, task, rlvr::grpo(), backend, cfg, comm); // cfg.shards ≥ 3
//!       for (rlvr::index_t s = 0; s < steps; ++s) tr.step(prompts_for(s)); // same on every rank
//!       if (comm.rank() == 0) save(model);                       // the replicas are identical
//!     }); // rethrows the lowest rank's own exception after every thread has ended
//!
//! Everything a rank owns (policy, optimizer, trainer) is made *inside* the function, on that
//! rank's thread; what the function shares by reference with the other ranks (the outputs above)
//! needs the caller's own synchronisation — `f` runs on R threads at once.
//!
//! **How a collective works.** The ranks of one `thread_group` meet twice per collective at a
//! shared generation barrier (one mutex, one condition variable): each rank copies its bytes into
//! its slot, waits until all R have, reads what it needs from every slot, and waits again before
//! the slots are reused. Every rank checks every slot's size, so a size mismatch between ranks is
//! an `rlvr::shape_error` on every rank that sees it, not silent garbage.
//!
//! **Determinism.** An `all_reduce` adds (or maximises) the ranks' buffers **in rank order**,
//! ((x_0 + x_1) + x_2) + …, in T's precision, on every rank: bit-identical on every rank and from
//! run to run — but for floats not necessarily equal to MPI's or NCCL's sum, nor to the sum on
//! another rank count. Gathers and broadcasts copy bytes, so they are exact.
//!
//! **Cost.** A collective of n elements copies n · sizeof(T) bytes into the rank's slot; then an
//! `all_gather` copies R · n out, a `broadcast` n (the root sends, the others copy), and an
//! `all_reduce` allocates an n-element accumulator and does (R − 1) · n additions — on *every*
//! rank, so R · (R − 1) · n in all: fine for tests and statistics, not a gradient all-reduce
//! engine. The slots keep their capacity: a group holds about the sum of its ranks' largest
//! messages until it is destroyed. Two barrier waits per collective (each waking every rank).
//!
//! **Faults.** A rank that throws marks the group failed (`run_ranks` does this for you; with a
//! `thread_group` of your own, call `fail_rank`): every rank waiting in (or later entering) a
//! collective throws `rlvr::comm_error` ("rank 1 failed: …") instead of waiting forever; a rank
//! whose wait at a meeting point exceeds `timeout_seconds` fails the group with "rank 0: barrier
//! did not complete within … s (a peer rank died or hangs)" and throws `comm_error`. A failed
//! group stays failed: every later collective on it throws (make a new group to start over).
//! A rank that simply *returns* while its peers are still in a collective is not a failure: the
//! peers wait out the timeout — so every rank must make the same sequence of collectives.
//!
//! **Threads.** One thread per rank: a `thread_communicator` (a copyable handle) may be handed to
//! another thread, but two threads must never run collectives for the same rank at once. Ranks
//! of different groups never interfere, so a thread may hold ranks of several groups (the study
//! runs a world group and per-run subgroups this way, `tests/study/test_study.cpp`).

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "rlvr/dist/communicator.hpp"
#include "rlvr/dist/detail/thread_group.hpp"
#include "rlvr/error.hpp"

namespace rlvr::dist {

//! Rank `rank` of a `thread_group` (a cheap handle; the group must outlive it).
//!
//! Made for you by `run_ranks`; make one yourself for a group of your own (e.g. a subgroup):
//!
//!     rlvr::dist::thread_group g(2);                         // shared by the two threads
//!     // on thread r (r = 0, 1):
//!     rlvr::dist::thread_communicator comm(g, r);
//!
//! Copies refer to the same rank of the same group. Models `HostCommunicator` (host buffers).
class thread_communicator {
public:
  //! Host buffers.
  using memory_space = host_space;
  //! Rank `rank` of `g`. Throws `rlvr::range_error` unless 0 ≤ rank < g.size(). Stores a pointer
  //! to `g`, which must outlive the handle and its copies; sends nothing.
  thread_communicator(thread_group& g, int rank) : g_(&g), rank_(rank) {
    RLVR_EXPECTS(rank >= 0 && rank < g.size(), range, "dist::thread_communicator: rank ", rank, " is outside [0, ",
                 g.size(), ")");
  }
  //! This handle's rank, in [0, size()).
  [[nodiscard]] int rank() const noexcept { return rank_; }
  //! The group's number of ranks R.
  [[nodiscard]] int size() const noexcept { return g_->size(); }

  //! Replaces x, on every rank, by the element-wise sum or maximum over ranks, folded in rank
  //! order (see the file comment: deterministic). Every rank passes the same `x.size()`; a
  //! mismatch throws `rlvr::shape_error` on every rank. `rlvr::comm_error` if the group has
  //! failed or a peer does not arrive within the timeout.
  template <transport_type T>
    requires(!std::is_same_v<T, std::uint8_t>)
  void all_reduce(std::span<T> x, reduce_op op) {
    g_->exchange(rank_, "all_reduce", bytes_of(std::span<const T>(x)), [&](const auto& slots) {
      for (std::size_t r = 0; r < slots.size(); ++r) {
        RLVR_EXPECTS(slots[r].size() == x.size() * sizeof(T), shape, "dist::thread_communicator::all_reduce: rank ", r,
                     " sent ", slots[r].size() / sizeof(T), " elements, rank ", rank_, " ", x.size());
      }
      std::vector<T> acc(x.size());
      std::memcpy(acc.data(), slots[0].data(), x.size() * sizeof(T));
      for (std::size_t r = 1; r < slots.size(); ++r)
        for (std::size_t e = 0; e < x.size(); ++e) {
          T y;
          std::memcpy(&y, slots[r].data() + e * sizeof(T), sizeof(T));
          acc[e] = op == reduce_op::sum ? static_cast<T>(acc[e] + y) : (y > acc[e] ? y : acc[e]);
        }
      std::copy(acc.begin(), acc.end(), x.begin());
    });
  }
  //! Writes rank r's `in` at `out[r · in.size() …]` on every rank. Throws `rlvr::shape_error`
  //! unless `out.size() == size() · in.size()` (checked before the rank meets its peers), or if
  //! another rank's `in` has a different size (every rank sees it); `rlvr::comm_error` as
  //! `all_reduce`. `in` is copied before `out` is written, so the two may overlap.
  template <transport_type T> void all_gather(std::span<const T> in, std::span<T> out) {
    RLVR_EXPECTS(out.size() == in.size() * static_cast<std::size_t>(size()), shape,
                 "dist::thread_communicator::all_gather: output has ", out.size(), " elements, expected size() x input = ",
                 size(), " x ", in.size());
    g_->exchange(rank_, "all_gather", bytes_of(in), [&](const auto& slots) {
      for (std::size_t r = 0; r < slots.size(); ++r) {
        RLVR_EXPECTS(slots[r].size() == in.size() * sizeof(T), shape, "dist::thread_communicator::all_gather: rank ", r,
                     " sent ", slots[r].size() / sizeof(T), " elements, rank ", rank_, " ", in.size());
        if (!slots[r].empty()) std::memcpy(out.data() + r * in.size(), slots[r].data(), slots[r].size());
      }
    });
  }
  //! Copies the root's x into every rank's x (only the root deposits its bytes). Throws
  //! `rlvr::range_error` unless 0 ≤ root < size() (before meeting the peers), and
  //! `rlvr::shape_error` on a rank whose `x.size()` differs from the root's (that rank leaves the
  //! collective early; its peers then fail through `run_ranks`, or time out). `rlvr::comm_error`
  //! as `all_reduce`.
  template <transport_type T> void broadcast(std::span<T> x, int root) {
    RLVR_EXPECTS(root >= 0 && root < size(), range, "dist::thread_communicator::broadcast: root = ", root,
                 " is outside [0, ", size(), ")");
    g_->exchange(rank_, "broadcast", rank_ == root ? bytes_of(std::span<const T>(x)) : std::span<const std::uint8_t>{},
                 [&](const auto& slots) {
                   const auto& s = slots[static_cast<std::size_t>(root)];
                   RLVR_EXPECTS(s.size() == x.size() * sizeof(T), shape, "dist::thread_communicator::broadcast: root sent ",
                                s.size() / sizeof(T), " elements, rank ", rank_, " expects ", x.size());
                   if (rank_ != root && !s.empty()) std::memcpy(x.data(), s.data(), s.size());
                 });
  }
  //! Returns once every rank has entered it (two meetings, no data). `rlvr::comm_error` as
  //! `all_reduce`.
  void barrier() {
    g_->exchange(rank_, "barrier", {}, [](const auto&) {});
  }

private:
  //! x's object representation, the bytes that go into the rank's slot.
  template <class T> static std::span<const std::uint8_t> bytes_of(std::span<const T> x) {
    return {reinterpret_cast<const std::uint8_t*>(x.data()), x.size() * sizeof(T)};
  }
  thread_group* g_;
  int rank_;
};
static_assert(Communicator<thread_communicator>);
static_assert(HostCommunicator<thread_communicator>);

//! Runs `f(thread_communicator)` on `ranks` threads (rank r on thread r) and waits for all; an
//! exception on any rank fails the group (the others' collectives throw instead of waiting) and
//! the lowest-ranked *original* exception is rethrown (a peer's resulting `comm_error` is not).
//!
//! - `f` is called as an lvalue, concurrently, from `ranks` new threads (one `thread_group` and
//!   R `std::thread`s per call; nothing is pooled): it must be safe to call from several threads
//!   at once (shared outputs need a mutex, as in the tests).
//! - Returns when every rank's `f` has returned or thrown, never earlier. If no rank threw, that
//!   is all; otherwise it rethrows the exception *object* (type and message kept) of the lowest
//!   rank whose exception is its own — anything but a `comm_error` whose message reports another
//!   rank's failure (" failed: ") — and only if every exception is such a report, the lowest
//!   rank's. So `if (c.rank() == 2) throw std::runtime_error("boom")` makes run_ranks throw
//!   "boom", not rank 0's "rank 2 failed: boom"; after a timeout the error rethrown names the
//!   rank and the collective that timed out ("rank 0: barrier did not complete within …").
//! - `ranks` ≥ 1, else `rlvr::config_error` (before any thread starts). `timeout_seconds` bounds
//!   each wait at a meeting point; ≤ 0 means no timeout (as in `mpi_options`).
//! - Results are those of the ranks' own code: over this communicator, a rank-count-independent
//!   program (e.g. the trainer with the same `shards`) gives bit-identical results for every
//!   `ranks`, which is what the distributed tests check
//!   (`tests/trainer/test_trainer_distributed.cpp`).
template <class F> void run_ranks(int ranks, F&& f, double timeout_seconds = 300) {
  thread_group g(ranks, timeout_seconds);
  std::vector<std::exception_ptr> errors(static_cast<std::size_t>(ranks));
  std::vector<char> secondary(static_cast<std::size_t>(ranks), 0); // not vector<bool>: ranks write concurrently
  std::vector<std::thread> threads;
  threads.reserve(static_cast<std::size_t>(ranks));
  for (int r = 0; r < ranks; ++r)
    threads.emplace_back([&, r] {
      try {
        f(thread_communicator(g, r));
      } catch (const comm_error& e) {
        errors[static_cast<std::size_t>(r)] = std::current_exception();
        secondary[static_cast<std::size_t>(r)] = std::string_view(e.what()).find(" failed: ") != std::string_view::npos ? 1 : 0;
        g.fail_rank(r, e.what());
      } catch (const std::exception& e) {
        errors[static_cast<std::size_t>(r)] = std::current_exception();
        g.fail_rank(r, e.what());
      } catch (...) {
        errors[static_cast<std::size_t>(r)] = std::current_exception();
        g.fail_rank(r, "unknown exception");
      }
    });
  for (auto& t : threads) t.join();
  for (int pass = 0; pass < 2; ++pass)
    for (int r = 0; r < ranks; ++r)
      if (errors[static_cast<std::size_t>(r)] && (pass == 1 || !secondary[static_cast<std::size_t>(r)]))
        std::rethrow_exception(errors[static_cast<std::size_t>(r)]);
}

} // namespace rlvr::dist
