#pragma once
//! \file rlvr/dist/detail/thread_group.hpp
//! \brief The shared state of `rlvr::dist::thread_communicator` (see rlvr/dist/threads.hpp): a
//! generation barrier with per-rank byte slots, a failure flag and a timeout.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "rlvr/error.hpp"

namespace rlvr::dist {

//! The state R thread ranks share: create one, and give thread r a `thread_communicator(g, r)`
//! (`run_ranks` does both). Neither copyable nor movable (handles point at it); it must outlive
//! every handle. All members but `size` are called concurrently by the ranks' threads, and are
//! safe so: one rank per thread, at most one `exchange` per rank at a time.
class thread_group {
public:
  //! `size` ranks (≥ 1, else `config_error`); a rank waiting longer than `timeout_seconds` at a
  //! meeting point fails the group and throws `comm_error` (≤ 0: no timeout, as `mpi_options`).
  explicit thread_group(int size, double timeout_seconds = 300) : size_(size), timeout_(timeout_seconds) {
    RLVR_EXPECTS(size >= 1, config, "dist::thread_group: size = ", size, " must be >= 1");
    slots_.resize(static_cast<std::size_t>(size));
  }
  thread_group(const thread_group&) = delete;
  thread_group& operator=(const thread_group&) = delete;
  //! The number of ranks R.
  [[nodiscard]] int size() const noexcept { return size_; }
  //! Marks the group failed (a rank's exception): waiting and later collectives throw. The first
  //! failure wins ("rank <rank> failed: <what>"); later calls only wake the waiters. Never cleared.
  void fail_rank(int rank, const std::string& what) {
    {
      const std::lock_guard<std::mutex> l(m_);
      if (failed_.empty()) failed_ = "rank " + std::to_string(rank) + " failed: " + what;
    }
    cv_.notify_all();
  }

  //! Deposits `bytes` as `rank`'s contribution, waits for all ranks, calls `read(slots)`, and
  //! waits again (so the slots stay valid while every rank reads). `slots[r]` holds rank r's
  //! bytes (empty for a rank that sent none); `read` runs without the lock, concurrently on every
  //! rank, and must only read. `what` names the collective in error messages. Throws
  //! `comm_error` if the group has failed or a wait times out; an exception from `read` leaves
  //! the rank before the second meeting (its peers then wait there until the group fails).
  void exchange(int rank, const char* what, std::span<const std::uint8_t> bytes,
                const std::function<void(const std::vector<std::vector<std::uint8_t>>&)>& read) {
    {
      std::unique_lock<std::mutex> l(m_);
      slots_[static_cast<std::size_t>(rank)].assign(bytes.begin(), bytes.end());
    }
    arrive(rank, what);
    read(slots_);
    arrive(rank, what);
  }

private:
  //! One meeting: the R-th arrival starts a new generation and wakes everyone; the others wait
  //! for the generation to change, for a failure, or for their deadline (now + timeout), which
  //! fails the group with the timeout message and throws.
  void arrive(int rank, const char* what) {
    std::unique_lock<std::mutex> l(m_);
    throw_if_failed(rank, what);
    const std::uint64_t gen = generation_;
    if (++arrived_ == size_) {
      arrived_ = 0;
      ++generation_;
      cv_.notify_all();
      return;
    }
    const auto deadline = std::chrono::steady_clock::now() +
                          std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                              std::chrono::duration<double>(timeout_ > 0 ? timeout_ : 0.0));
    while (generation_ == gen) {
      throw_if_failed(rank, what);
      if (timeout_ <= 0) { // no timeout: wait for the others (or a failure) however long
        cv_.wait(l);
        continue;
      }
      if (cv_.wait_until(l, deadline) == std::cv_status::timeout && generation_ == gen) {
        failed_ = "rank " + std::to_string(rank) + ": " + what + " did not complete within " + std::to_string(timeout_) +
                  " s (a peer rank died or hangs)";
        cv_.notify_all();
        fail<comm_error>("dist::thread_communicator: ", failed_);
      }
    }
  }
  //! Throws `comm_error` naming this rank, the collective and the group's failure, if any
  //! (called with the lock held).
  void throw_if_failed(int rank, const char* what) const {
    if (!failed_.empty()) fail<comm_error>("dist::thread_communicator: rank ", rank, " in ", what, ": ", failed_);
  }

  //! The number of ranks R.
  int size_;
  //! Seconds a rank waits at one meeting.
  double timeout_;
  //! Guards everything below.
  std::mutex m_;
  //! Signalled on a new generation or a failure.
  std::condition_variable cv_;
  //! Ranks at the current meeting.
  int arrived_ = 0;
  //! Meetings completed so far.
  std::uint64_t generation_ = 0;
  //! The failure; empty while the group is healthy.
  std::string failed_;
  //! [R] each rank's bytes of the current collective.
  std::vector<std::vector<std::uint8_t>> slots_;
};

} // namespace rlvr::dist
