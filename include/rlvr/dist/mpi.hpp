#pragma once
//! \file rlvr/dist/mpi.hpp
//! \brief `rlvr::dist::mpi_communicator`: the `Communicator` concept over MPI (host buffers), with
//! a timeout on every collective, and `mpi_session`, the RAII owner of MPI_Init / MPI_Finalize.
//!
//! Link the CMake component `rlvr::mpi` (it finds MPI with `find_package(MPI)`; Debian:
//! `libopenmpi-dev openmpi-bin`). Collectives map one to one: `all_reduce` → `MPI_Allreduce`
//! (`MPI_IN_PLACE`), `all_gather` → `MPI_Allgather`, `broadcast` → `MPI_Bcast`, `barrier` →
//! `MPI_Barrier`, over `MPI_FLOAT`, `MPI_DOUBLE`, `MPI_INT64_T` and `MPI_UINT8_T`.
//!
//! **Errors.** The communicator sets `MPI_ERRORS_RETURN` on its MPI communicator, so a failed
//! call returns and becomes `rlvr::comm_error` naming the call, the rank and MPI's own message.
//!
//! **Faults: a dead or hung peer.** A collective with a dead peer may block forever in MPI. Every
//! collective therefore runs under a watchdog: if it has not returned after
//! `mpi_options::timeout_seconds` (default 300 s; ≤ 0 disables), the watchdog thread prints
//!
//!     [rlvr.comm] rank 0 of 2: MPI_Allgather did not complete within 5 s: a peer rank died or
//!     hangs (rlvr::dist::mpi_options::timeout_seconds); exiting with status 3
//!
//! to stderr and ends the process with `std::_Exit(mpi_options::timeout_exit_code)`; `mpirun`
//! then ends the other ranks. A blocking MPI call cannot be interrupted, so exiting is the only
//! way out that leaves no rank waiting; checkpoints are written atomically (temporary file and
//! rename), so an exit never leaves a half-written one. A rank that *dies* (signal, `exit`) is
//! noticed by `mpirun` itself, which ends the job.
//!
//! **Exceptions.** `mpi_session`'s destructor calls `MPI_Abort` instead of `MPI_Finalize` when
//! it runs during stack unwinding (an exception on one rank would otherwise leave the others
//! waiting in their next collective); `mpi_session::abort(code)` does so explicitly.
//!
//! **A data-parallel trainer over MPI.** Every rank runs the same program; the session comes
//! first, so that it is destroyed last:
//!
//!     int main(int argc, char** argv) {
//!       rlvr::dist::mpi_session mpi(&argc, &argv);            // MPI_Init_thread … MPI_Finalize
//!       try {
//!         rlvr::dist::mpi_communicator comm;                  // MPI_COMM_WORLD, 300 s watchdog
//!         rlvr::transformer_policy model(model_cfg);          // same initial weights everywhere
//!         rlvr::adamw opt({.lr = 1e-3});
//!         rlvr::trainer_config cfg = my_config();             // identical on every rank (checked)
//!         cfg.shards = 12;                                    // ≥ ranks; results: S's, not R's
//!         rlvr::trainer tr(model, opt, task, rlvr::grpo(), backend, cfg, comm);
//!         tr.fit(prompts, {.steps = 100, .checkpoint_every = 10, .checkpoint = ckpt_path});
//!       } catch (const std::exception& e) {
//!         std::fprintf(stderr, "rank %d: %s\n", rlvr::dist::mpi_session::world_rank(), e.what());
//!         rlvr::dist::mpi_session::abort(1);                  // ends every rank, status 1
//!       }
//!     }
//!     // mpirun -np 4 ./train — bit-identical to any -np from 1 to 12 (same shards, default
//!     // deterministic reduction)
//!
//! (`fit` writes the checkpoint and metrics on rank 0 only; see "Canonical shards and data
//! parallelism" in `rlvr/trainer/trainer.hpp`.) Catch in `main` as above: whether the stack is
//! unwound for an exception that escapes `main` is implementation-defined, so without the
//! `catch` the session's destructor may never run (the process then dies by `std::terminate`,
//! which `mpirun` also notices, but with no chosen status).
//!
//! **Determinism.** `all_gather`, `broadcast`, and integer `all_reduce` (sum and max) are exact:
//! every rank gets the same bits, on any rank count. A floating-point `all_reduce` sum is rounded
//! in an order MPI picks (its algorithm depends on the implementation, its tuning, R and the
//! message size), so it may differ from a rank-order sum and between rank counts; rlvr's
//! deterministic paths gather instead (`rlvr/dist/communicator.hpp`).
//!
//! **Cost** (per rank, n elements of T, R ranks; typical MPI algorithms): `all_reduce` sends and
//! receives about 2 · n · sizeof(T) bytes for large n (ring / reduce-scatter + all-gather), about
//! log2(R) · n · sizeof(T) for small n, in O(log R) latency steps; `all_gather` receives
//! (R − 1) · n · sizeof(T) bytes into the R · n output; `broadcast` receives n · sizeof(T) bytes
//! (tree: O(log R) steps); `barrier` O(log R) empty messages. No staging copy is made here.
//! The watchdog adds two uncontended locks and one condition-variable signal per collective.
//!
//! **Threads.** `mpi_session` asks for `MPI_THREAD_FUNNELED`: only the thread that initialised
//! MPI may call MPI, so make every collective (on every copy of every `mpi_communicator`) from
//! the main thread. The watchdog threads never call MPI.
//!
//! **Subgroups.** Wrap any intra-communicator, e.g. one from `MPI_Comm_split` (the study runs one
//! data-parallel trainer per subgroup so, `examples/study/main.cpp`); the `MPI_Comm` is not owned
//! — free it yourself after the last collective on it.

#include <mpi.h>

#include <atomic>
#include <chrono>
#include <climits>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <thread>

#include "rlvr/dist/communicator.hpp"
#include "rlvr/dist/detail/mpi_watchdog.hpp"
#include "rlvr/error.hpp"

namespace rlvr::dist {


//! The `Communicator` over an MPI communicator (default `MPI_COMM_WORLD`; MPI must be
//! initialised, e.g. by an `mpi_session`). A cheap handle: copies share the MPI communicator and
//! the watchdog. Collectives must be called from the thread that initialised MPI
//! (MPI_THREAD_FUNNELED), one at a time. Models `HostCommunicator`: spans are host memory.
class mpi_communicator {
public:
  //! Host buffers.
  using memory_space = host_space;
  //! Wraps `comm` (not owned; it must stay valid while any copy is used). Local: it makes no
  //! collective call, so ranks need not construct theirs at the same moment. It sets
  //! `MPI_ERRORS_RETURN` as `comm`'s error handler — for `MPI_COMM_WORLD` that holds for all the
  //! process's code, so other MPI calls on it then return their errors instead of aborting — and,
  //! when `opt.timeout_seconds > 0`, starts the watchdog thread that its copies share (it ends
  //! with the last copy). Throws `rlvr::comm_error` if MPI is not initialised, or if
  //! `MPI_Comm_set_errhandler`, `MPI_Comm_rank` or `MPI_Comm_size` fails.

  explicit mpi_communicator(MPI_Comm comm = MPI_COMM_WORLD, mpi_options opt = {}) : comm_(comm) {
    int init = 0;
    MPI_Initialized(&init);
    RLVR_EXPECTS(init != 0, comm, "dist::mpi_communicator: MPI is not initialised (create an rlvr::dist::mpi_session "
                 "first, or call MPI_Init)");
    check(MPI_Comm_set_errhandler(comm_, MPI_ERRORS_RETURN), "MPI_Comm_set_errhandler");
    check(MPI_Comm_rank(comm_, &rank_), "MPI_Comm_rank");
    check(MPI_Comm_size(comm_, &size_), "MPI_Comm_size");
    dog_ = std::make_shared<detail::mpi_watchdog>(rank_, size_, opt);
  }

  //! This process's rank in the wrapped communicator (read once, at construction).
  [[nodiscard]] int rank() const noexcept { return rank_; }
  //! The wrapped communicator's number of ranks R.
  [[nodiscard]] int size() const noexcept { return size_; }
  //! The wrapped `MPI_Comm`, for MPI calls of your own (not under the watchdog; their errors are
  //! returned, per `MPI_ERRORS_RETURN`, so check them).
  [[nodiscard]] MPI_Comm native() const noexcept { return comm_; }

  //! `MPI_Allreduce` in place (`MPI_SUM` or `MPI_MAX`) under the watchdog: x, on every rank,
  //! becomes the element-wise sum or maximum over ranks (see Determinism above). Every rank
  //! passes the same `x.size()`: MPI does not always detect a mismatch (it may fail with
  //! `comm_error`, hang until the watchdog fires, or return garbage). Throws `rlvr::comm_error`
  //! if `x.size()` exceeds `INT_MAX` (MPI's count type) or MPI reports an error.
  template <transport_type T>
    requires(!std::is_same_v<T, std::uint8_t>)
  void all_reduce(std::span<T> x, reduce_op op) {
    const guard g(*dog_, "MPI_Allreduce");
    check(MPI_Allreduce(MPI_IN_PLACE, x.data(), count(x.size(), "MPI_Allreduce"), detail::mpi_type<T>(),
                        op == reduce_op::sum ? MPI_SUM : MPI_MAX, comm_),
          "MPI_Allreduce");
  }
  //! `MPI_Allgather` under the watchdog: rank r's `in` lands at `out[r · in.size() …]` on every
  //! rank. Throws `rlvr::shape_error` unless `out.size() == size() · in.size()` (before any MPI
  //! call), `rlvr::comm_error` if `in.size()` exceeds `INT_MAX` or MPI reports an error. Every
  //! rank passes the same `in.size()` (not checked across ranks, see `all_reduce`); `in` and
  //! `out` must not overlap (MPI's rule: use separate buffers).
  template <transport_type T> void all_gather(std::span<const T> in, std::span<T> out) {
    RLVR_EXPECTS(out.size() == in.size() * static_cast<std::size_t>(size_), shape, "dist::mpi_communicator::all_gather: ",
                 "output has ", out.size(), " elements, expected size() x input = ", size_, " x ", in.size());
    const guard g(*dog_, "MPI_Allgather");
    const int n = count(in.size(), "MPI_Allgather");
    check(MPI_Allgather(in.data(), n, detail::mpi_type<T>(), out.data(), n, detail::mpi_type<T>(), comm_),
          "MPI_Allgather");
  }
  //! `MPI_Bcast` under the watchdog: the root's x is copied into every rank's x. Every rank
  //! passes the same root and `x.size()`. Throws `rlvr::range_error` unless 0 ≤ root < size()
  //! (before any MPI call), `rlvr::comm_error` if `x.size()` exceeds `INT_MAX` or MPI reports an
  //! error.
  template <transport_type T> void broadcast(std::span<T> x, int root) {
    RLVR_EXPECTS(root >= 0 && root < size_, range, "dist::mpi_communicator::broadcast: root = ", root,
                 " is outside [0, ", size_, ")");
    const guard g(*dog_, "MPI_Bcast");
    check(MPI_Bcast(x.data(), count(x.size(), "MPI_Bcast"), detail::mpi_type<T>(), root, comm_), "MPI_Bcast");
  }
  //! `MPI_Barrier` under the watchdog; `rlvr::comm_error` if MPI reports an error.
  void barrier() {
    const guard g(*dog_, "MPI_Barrier");
    check(MPI_Barrier(comm_), "MPI_Barrier");
  }

private:
  //! Arms the watchdog for one collective (`what`: the MPI call's name) and disarms it on scope
  //! exit, exception or not.
  struct guard {
    detail::mpi_watchdog& d;
    guard(detail::mpi_watchdog& w, const char* what) : d(w) { d.arm(what); }
    guard(const guard&) = delete;
    guard& operator=(const guard&) = delete;
    ~guard() { d.disarm(); }
  };
  //! n as MPI's `int` count; `comm_error` above `INT_MAX`.
  [[nodiscard]] int count(std::size_t n, const char* what) const {
    RLVR_EXPECTS(n <= static_cast<std::size_t>(INT_MAX), comm, "dist::mpi_communicator: ", what, " of ", n,
                 " elements exceeds MPI's int count");
    return static_cast<int>(n);
  }
  //! Turns an MPI return code other than `MPI_SUCCESS` into `comm_error`: "<call> failed on rank
  //! r of R: <MPI_Error_string>".
  void check(int rc, const char* what) const {
    if (rc == MPI_SUCCESS) [[likely]]
      return;
    char msg[MPI_MAX_ERROR_STRING] = {};
    int len = 0;
    MPI_Error_string(rc, msg, &len);
    fail<comm_error>(what, " failed on rank ", rank_, " of ", size_, ": ", std::string(msg, static_cast<std::size_t>(len)));
  }

  //! The wrapped communicator (not owned).
  MPI_Comm comm_;
  //! Read at construction.
  int rank_ = 0, size_ = 1;
  //! Shared by the copies.
  std::shared_ptr<detail::mpi_watchdog> dog_;
};
static_assert(Communicator<mpi_communicator>);
static_assert(HostCommunicator<mpi_communicator>);

//! Owns MPI's lifetime: `MPI_Init_thread` (FUNNELED) unless MPI is already initialised, and at
//! scope exit `MPI_Finalize` — or `MPI_Abort(MPI_COMM_WORLD, 1)` when the scope is left by an
//! exception, so that no other rank is left waiting.
//!
//! Make one at the top of `main`, before any `mpi_communicator`, and at most one per process;
//! neither copyable nor movable (hold it in a `std::optional` to make it conditionally, as the
//! study does when not launched by `mpirun`).
class mpi_session {
public:
  //! Initialises MPI with `MPI_THREAD_FUNNELED` (argc/argv as for `MPI_Init`; both may be null)
  //! and becomes its owner — or, if MPI is already initialised, does nothing and owns nothing
  //! (its destructor then does nothing either). The thread level MPI provides is not checked.
  //! Throws `rlvr::comm_error` if `MPI_Init_thread` fails.
  mpi_session(int* argc, char*** argv) {
    int init = 0;
    MPI_Initialized(&init);
    if (init) return;
    int provided = 0;
    if (MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS)
      fail<comm_error>("dist::mpi_session: MPI_Init_thread failed");
    owner_ = true;
  }
  mpi_session(const mpi_session&) = delete;
  mpi_session& operator=(const mpi_session&) = delete;
  //! If it initialised MPI and MPI is not finalised yet: `MPI_Abort(MPI_COMM_WORLD, 1)` when
  //! destroyed by stack unwinding (more uncaught exceptions than at construction), which ends
  //! every rank; otherwise `MPI_Finalize`, which every rank must reach (after its last collective:
  //! copies of `mpi_communicator` must not be used afterwards).
  ~mpi_session() {
    if (!owner_) return;
    int fin = 0;
    MPI_Finalized(&fin);
    if (fin) return;
    if (std::uncaught_exceptions() > unwinding_at_start_) MPI_Abort(MPI_COMM_WORLD, 1);
    else MPI_Finalize();
  }
  //! Ends every rank of `MPI_COMM_WORLD` with status `code` (after printing your message).
  //! Flushes stdout and stderr first; falls back to `std::_Exit(code)` should `MPI_Abort`
  //! return. No destructors run. Call it while MPI is initialised, from any rank alone.
  [[noreturn]] static void abort(int code) {
    std::fflush(stdout);
    std::fflush(stderr);
    MPI_Abort(MPI_COMM_WORLD, code);
    std::_Exit(code);
  }
  //! The rank of this process in `MPI_COMM_WORLD` (MPI's return code is not checked). Call it
  //! while MPI is initialised; handy in messages printed before `abort`.
  [[nodiscard]] static int world_rank() {
    int r = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &r);
    return r;
  }

private:
  //! This session initialised MPI.
  bool owner_ = false;
  //! To tell unwinding from a normal exit.
  int unwinding_at_start_ = std::uncaught_exceptions();
};

} // namespace rlvr::dist
