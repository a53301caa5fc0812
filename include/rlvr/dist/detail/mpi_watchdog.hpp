#pragma once
//! \file rlvr/dist/detail/mpi_watchdog.hpp
//! \brief The MPI communicator's pieces below the public API: the MPI datatype of each transport
//! type, `mpi_options`, and the watchdog thread that ends a process whose collective outlives its
//! deadline (see rlvr/dist/mpi.hpp).

#include <mpi.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <thread>
#include <type_traits>

namespace rlvr::dist {

//! Run-time settings of `mpi_communicator` (public, though it lives in this detail header:
//! `rlvr/dist/mpi.hpp` includes it). Aggregate: `mpi_communicator(MPI_COMM_WORLD,
//! {.timeout_seconds = 60})`. Choose the timeout above the slowest legitimate collective — a
//! rank's clock starts when *it* enters, so the time a slower peer still spends computing before
//! entering counts — and below the job scheduler's patience; the study passes 0.
struct mpi_options {
  double timeout_seconds = 300; //!< a collective that has not returned by then ends the process; ≤ 0: none
  int timeout_exit_code = 3;    //!< the exit status of a timed-out rank
};

namespace detail {
//! MPI's datatype for a `transport_type`: `float` → `MPI_FLOAT`, `double` → `MPI_DOUBLE`,
//! `std::int64_t` → `MPI_INT64_T`, `std::uint8_t` → `MPI_UINT8_T`.
template <class T> MPI_Datatype mpi_type() {
  if constexpr (std::is_same_v<T, float>) return MPI_FLOAT;
  else if constexpr (std::is_same_v<T, double>) return MPI_DOUBLE;
  else if constexpr (std::is_same_v<T, std::int64_t>) return MPI_INT64_T;
  else return MPI_UINT8_T;
}

//! Ends the process when an armed deadline passes (see the file comment).
//!
//! One thread, started only when `timeout_seconds > 0`, asleep on a condition variable while
//! disarmed; armed, it sleeps until the deadline, then prints the `[rlvr.comm] … did not complete
//! within …` line to stderr (flushed; stdout is not) and calls `std::_Exit(timeout_exit_code)`
//! (no destructors, no atexit handlers). It never calls MPI. Not copyable; shared by the copies
//! of one `mpi_communicator` through a `shared_ptr`.
class mpi_watchdog {
public:
  //! `rank` and `size` only label the message; starts the thread when `o.timeout_seconds > 0`.
  mpi_watchdog(int rank, int size, mpi_options o) : rank_(rank), size_(size), opt_(o) {
    if (opt_.timeout_seconds > 0) thread_ = std::thread([this] { loop(); });
  }
  mpi_watchdog(const mpi_watchdog&) = delete;
  mpi_watchdog& operator=(const mpi_watchdog&) = delete;
  //! Stops and joins the thread (an armed deadline is dropped).
  ~mpi_watchdog() {
    if (!thread_.joinable()) return;
    {
      const std::lock_guard<std::mutex> l(m_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  //! Arms the deadline for collective `what`; `disarm` (or the next `arm`) clears it.
  //! The deadline is now + `timeout_seconds`; `what` must be a string literal (it is kept).
  void arm(const char* what) {
    if (!thread_.joinable()) return;
    {
      const std::lock_guard<std::mutex> l(m_);
      what_ = what;
      deadline_ = clock::now() + std::chrono::duration_cast<clock::duration>(
                                     std::chrono::duration<double>(opt_.timeout_seconds));
      armed_ = true;
    }
    cv_.notify_all();
  }
  //! Clears the deadline: the collective returned (normally or by an exception).
  void disarm() {
    if (!thread_.joinable()) return;
    const std::lock_guard<std::mutex> l(m_);
    armed_ = false;
  }

private:
  using clock = std::chrono::steady_clock;
  //! The thread's body: wait while disarmed, wait until the deadline while armed (re-checking
  //! after every wake-up, since `arm`/`disarm` may have moved it), end the process once it passes.
  void loop() {
    std::unique_lock<std::mutex> l(m_);
    while (!stop_) {
      if (!armed_) {
        cv_.wait(l);
        continue;
      }
      if (clock::now() >= deadline_) {
        std::fprintf(stderr,
                     "[rlvr.comm] rank %d of %d: %s did not complete within %g s: a peer rank died or hangs "
                     "(rlvr::dist::mpi_options::timeout_seconds); exiting with status %d\n",
                     rank_, size_, what_, opt_.timeout_seconds, opt_.timeout_exit_code);
        std::fflush(stderr);
        std::_Exit(opt_.timeout_exit_code);
      }
      cv_.wait_until(l, deadline_);
    }
  }
  //! For the message.
  int rank_, size_;
  //! The timeout and the exit status.
  mpi_options opt_;
  //! Guards armed_, stop_, what_ and deadline_.
  std::mutex m_;
  //! Signalled by arm and by the destructor.
  std::condition_variable cv_;
  bool armed_ = false, stop_ = false;
  //! The MPI call of the armed collective.
  const char* what_ = "";
  //! Valid while armed_.
  clock::time_point deadline_{};
  //! Not joinable when the timeout is disabled.
  std::thread thread_;
};
} // namespace detail

} // namespace rlvr::dist
