#pragma once
//! \file rlvr/dist/nccl.hpp
//! \brief `rlvr::dist::nccl_communicator`: the `Communicator` concept over NCCL (buffers in
//! device memory), with a timeout on every collective that aborts the communicator.
//!
//! Link the CMake component `rlvr::nccl` (NCCL next to the CUDA toolkit: `nccl.h`, `libnccl`).
//! The header uses the CUDA runtime API and `nccl.h` only (no kernels), so g++ compiles it.
//! Collectives map one to one: `all_reduce` → `ncclAllReduce` (in place; `ncclSum`, `ncclMax`),
//! `all_gather` → `ncclAllGather`, `broadcast` → `ncclBroadcast` (in place), `barrier` → an
//! `ncclAllReduce` of one device `int64` (a scratch word the communicator owns), over
//! `ncclFloat32`, `ncclFloat64`, `ncclInt64` and `ncclUint8`.
//!
//! **Memory and streams.** `memory_space` is `rlvr::cuda_space`: every span is a *device* pointer
//! (device or managed memory of the communicator's device; anything else is an
//! `rlvr::device_error` before NCCL sees it). Work is enqueued on the communicator's stream, and
//! **every collective waits for that stream before returning**, so its result is visible to the
//! caller, to the host after a copy, and to any other stream. (An asynchronous variant, which
//! would leave the wait to the caller, is deliberately left out: the `Communicator` contract is
//! synchronous, and the wait is where the timeout below lives.) The wait covers everything
//! enqueued on the stream before the collective, too.
//!
//! **Making one.** Either wrap a communicator you made yourself (`nccl_communicator(comm,
//! stream)`: not owned, never destroyed here), or let `nccl_communicator::create` make one from
//! an `ncclUniqueId` (owned: destroyed by the last copy). The id is made once, on rank 0, by
//! `make_unique_id()`, and **the caller distributes it** to every rank — for example with an
//! `mpi_communicator`'s broadcast of its 128 bytes (`unique_id_bytes`):
//!
//!     rlvr::dist::mpi_session mpi(&argc, &argv);
//!     rlvr::dist::mpi_communicator world;
//!     RLVR_CUDA_CHECK(cudaSetDevice(local_rank));                // the rank's GPU, first
//!     ncclUniqueId id{};
//!     if (world.rank() == 0) id = rlvr::dist::nccl_communicator::make_unique_id();
//!     world.broadcast(rlvr::dist::unique_id_bytes(id), 0);       // host bytes, over MPI
//!     rlvr::cuda::stream s;                                       // rlvr/backends/cuda/memory.cuh
//!     auto nccl = rlvr::dist::nccl_communicator::create(id, world.rank(), world.size(), s.get());
//!     nccl.all_reduce(std::span<float>(grad.data(), grad.size()), rlvr::dist::reduce_op::sum);
//!
//! **Errors.** A call that returns anything but `ncclSuccess` (or `ncclInProgress`, the normal
//! answer of a non-blocking communicator) throws `rlvr::comm_error` naming the call, the rank,
//! the size, `ncclGetErrorString` and NCCL's last message (`ncclGetLastError`), for example
//!
//!     [rlvr.comm] ncclAllGather failed on rank 1 of 4: invalid argument (run with
//!     NCCL_DEBUG=WARN for details) (4); NCCL: ...
//!
//! A CUDA runtime error takes rlvr's device-error path (`RLVR_CUDA_CHECK`, host code only, from
//! `rlvr/backends/cuda/error.cuh`): `rlvr::device_error`, or `rlvr::unsupported_error` without a
//! device.
//! Contract violations are checked first: a wrong `all_gather` output size is an
//! `rlvr::shape_error`, a root outside [0, size()) an `rlvr::range_error`.
//!
//! **Faults: a dead or hung peer.** The wait never blocks in CUDA or NCCL: it polls
//! `ncclCommGetAsyncError` and `cudaStreamQuery` (yielding, then sleeping 100 µs between polls).
//! An asynchronous NCCL error (`ncclRemoteError`, `ncclSystemError`, …), or a collective not done
//! after `nccl_options::timeout_seconds` (default 300 s; ≤ 0 waits forever), **aborts the
//! communicator** (`ncclCommAbort`, which also ends its kernels still running on the device) and
//! throws `rlvr::comm_error`:
//!
//!     [rlvr.comm] ncclAllReduce did not complete within 5 s on rank 0 of 2: a peer rank died or
//!     hangs (rlvr::dist::nccl_options::timeout_seconds); the communicator was aborted
//!
//! Every later collective on it (and on its copies) throws `rlvr::comm_error`; `aborted()` says
//! so. This holds for a wrapped communicator too: once `aborted()`, its handle is freed and its
//! owner must not destroy it again. Owned communicators are made *non-blocking*
//! (`ncclConfig_t::blocking = 0`), so `create` itself (which waits for every rank to join) is
//! under the same timeout.
//!
//! **Threads and devices.** One thread at a time per communicator (NCCL's rule), one GPU per
//! rank: NCCL refuses two ranks of one communicator on the same device. A process driving
//! several GPUs makes one communicator per GPU and calls each from its own thread.

#include <cuda_runtime.h>
#include <nccl.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <memory>
#include <span>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>

#include "rlvr/backends/cuda/error.cuh"
#include "rlvr/dist/communicator.hpp"
#include "rlvr/error.hpp"
#include "rlvr/view.hpp"

namespace rlvr::dist {

//! Run-time settings of `nccl_communicator`.
//!
//! One knob, like `mpi_options`: the bound on how long a rank waits for its peers. Choose it above
//! the slowest legitimate collective (a first call also sets up NCCL's connections, which takes
//! seconds on a large job) and below the job scheduler's patience.
struct nccl_options {
  //! A collective (or `create`, or the final `ncclCommFinalize`) not done after this many seconds
  //! aborts the communicator and throws `rlvr::comm_error`; ≤ 0: wait forever.
  double timeout_seconds = 300;
};

//! The 128 bytes of an NCCL unique id, as a host span a host communicator can broadcast (the id
//! is plain bytes: NCCL copies it by value). The span views `id` itself: broadcast into it on
//! every rank, then pass `id` to `nccl_communicator::create`.
[[nodiscard]] inline std::span<std::uint8_t, NCCL_UNIQUE_ID_BYTES> unique_id_bytes(ncclUniqueId& id) noexcept {
  return std::span<std::uint8_t, NCCL_UNIQUE_ID_BYTES>(reinterpret_cast<std::uint8_t*>(id.internal),
                                                       NCCL_UNIQUE_ID_BYTES);
}

namespace detail {
//! NCCL's datatype for a `transport_type`: `float` → `ncclFloat32`, `double` → `ncclFloat64`,
//! `std::int64_t` → `ncclInt64`, `std::uint8_t` → `ncclUint8`.
template <class T> constexpr ncclDataType_t nccl_type() noexcept {
  if constexpr (std::is_same_v<T, float>) return ncclFloat32;
  else if constexpr (std::is_same_v<T, double>) return ncclFloat64;
  else if constexpr (std::is_same_v<T, std::int64_t>) return ncclInt64;
  else return ncclUint8;
}

//! NCCL's last message (`ncclGetLastError`, NCCL ≥ 2.13) as "; NCCL: <text>", or nothing.
inline std::string nccl_last_error([[maybe_unused]] ncclComm_t comm) {
#if defined(NCCL_VERSION_CODE) && NCCL_VERSION_CODE >= NCCL_VERSION(2, 13, 0)
  const char* m = ncclGetLastError(comm);
  if (m != nullptr && *m != '\0') return std::string("; NCCL: ") + m;
#endif
  return {};
}

//! The state every copy of an `nccl_communicator` shares; releases the communicator (when
//! owned) and the barrier's scratch word with the last copy.
struct nccl_state {
  //! The NCCL communicator; null once aborted (`ncclCommAbort` frees it).
  ncclComm_t comm = nullptr;
  //! The stream collectives are enqueued on and waited for; never owned.
  cudaStream_t stream = nullptr;
  //! The timeout.
  nccl_options opt{};
  //! This process's rank and the number of ranks; -1 until NCCL has told them.
  int rank = -1, size = -1;
  //! The communicator's CUDA device (`ncclCommCuDevice`).
  int device = -1;
  //! Made by `create`: finalized and destroyed with the last copy.
  bool owned = false;
  //! `ncclCommAbort` was called (a timeout or an asynchronous error): the communicator is gone.
  bool aborted = false;
  //! One device word on `device`, the buffer of the barrier's all-reduce (zeroed; its value is
  //! never read, only the completion of the all-reduce matters).
  std::int64_t* scratch = nullptr;
  //! Exceptions in flight when the state was made: more at destruction means stack unwinding.
  int unwinding_at_start = std::uncaught_exceptions();

  nccl_state() = default;
  nccl_state(const nccl_state&) = delete;
  nccl_state& operator=(const nccl_state&) = delete;
  //! Owned: `ncclCommFinalize`, polled under the timeout, then `ncclCommDestroy` — or
  //! `ncclCommAbort` when that fails, times out, or the last copy dies during stack unwinding
  //! (a peer may be waiting in a collective this rank will never enter). Never throws.
  ~nccl_state() {
    if (owned && comm != nullptr) {
      if (std::uncaught_exceptions() > unwinding_at_start) (void)ncclCommAbort(comm);
      else finalize_and_destroy();
    }
    if (scratch != nullptr) (void)cudaFree(scratch);
  }

private:
  //! The orderly end of an owned communicator, bounded by the timeout.
  void finalize_and_destroy() noexcept {
    using clock = std::chrono::steady_clock;
    const auto start = clock::now();
    // Non-blocking communicator: ncclCommFinalize returns ncclInProgress and the state turns to
    // ncclSuccess once every operation issued has been flushed; a blocking one returns when done.
    ncclResult_t st = ncclCommFinalize(comm);
    for (unsigned polls = 0; st == ncclInProgress; ++polls) {
      // A failing query is treated as an error: abort below rather than destroy.
      if (ncclCommGetAsyncError(comm, &st) != ncclSuccess) st = ncclInternalError;
      if (st == ncclInProgress && opt.timeout_seconds > 0 &&
          std::chrono::duration<double>(clock::now() - start).count() >= opt.timeout_seconds)
        break;
      if (polls < 1000) std::this_thread::yield();
      else std::this_thread::sleep_for(std::chrono::microseconds(100));
    }
    // Destroy only a quiescent communicator; anything else (error, timeout) is aborted, which
    // never waits for a peer.
    if (st == ncclSuccess) (void)ncclCommDestroy(comm);
    else (void)ncclCommAbort(comm);
  }
};
} // namespace detail

//! The `Communicator` over an NCCL communicator and a CUDA stream (see the file comment): buffers
//! in device memory of the communicator's device, every collective synchronous (it waits for the
//! stream), under a timeout that aborts. A cheap handle: copies share the communicator, the
//! stream and the aborted state; the last copy destroys an owned communicator. Collectives on one
//! communicator must be called from one thread at a time, in the same order on every rank.
class nccl_communicator {
public:
  //! Buffers are device pointers.
  using memory_space = cuda_space;

  //! Wraps `comm` (made by `ncclCommInitRank`, `ncclCommInitAll`, `ncclCommSplit`, …; *not*
  //! owned: destroy it yourself after the last copy of this handle is gone, unless `aborted()`)
  //! and enqueues on `stream` (not owned; `nullptr` = the legacy default stream). Waits, under
  //! the timeout, for a non-blocking `comm` still initialising; queries rank, size and device.
  //! Throws `rlvr::comm_error` for an invalid (e.g. null) or failed `comm`.
  nccl_communicator(ncclComm_t comm, cudaStream_t stream, nccl_options opt = {})
      : s_(std::make_shared<detail::nccl_state>()) {
    s_->comm = comm;
    s_->stream = stream;
    s_->opt = opt;
    wait("initialisation of the given ncclComm_t", false);
    query();
  }

  //! A new NCCL communicator of `size` ranks in which this process is `rank`, from `id` (the
  //! same on every rank: `make_unique_id()` on rank 0, then distributed by the caller), on the
  //! *current* CUDA device (call `cudaSetDevice` first), enqueuing on `stream` (not owned).
  //! Owned (destroyed by the last copy) and non-blocking; returns once every rank has joined,
  //! or throws `rlvr::comm_error` after `opt.timeout_seconds` (having aborted it). `size < 1` or
  //! `rank` outside [0, size) is an `rlvr::range_error`.
  [[nodiscard]] static nccl_communicator create(const ncclUniqueId& id, int rank, int size,
                                                cudaStream_t stream = nullptr, nccl_options opt = {}) {
    RLVR_EXPECTS(size >= 1, range, "dist::nccl_communicator::create: size = ", size, " (need at least 1 rank)");
    RLVR_EXPECTS(rank >= 0 && rank < size, range, "dist::nccl_communicator::create: rank = ", rank,
                 " is outside [0, ", size, ")");
    auto s = std::make_shared<detail::nccl_state>();
    s->stream = stream;
    s->opt = opt;
    s->rank = rank;
    s->size = size;
    s->owned = true;
    nccl_communicator c(std::move(s));
    // Non-blocking: ncclCommInitRankConfig returns at once (ncclInProgress) instead of waiting
    // for every rank to join, so a rank that never comes is caught by `wait`'s timeout.
    ncclConfig_t config = NCCL_CONFIG_INITIALIZER;
    config.blocking = 0;
    ncclComm_t comm = nullptr;
    const ncclResult_t rc = ncclCommInitRankConfig(&comm, size, id, rank, &config);
    c.s_->comm = comm;
    try {
      // An immediate failure (bad id, no device), then the asynchronous end of initialisation,
      // then rank, size, device and the barrier's scratch word.
      c.check(rc, "ncclCommInitRankConfig");
      c.wait("ncclCommInitRankConfig", false);
      c.query();
    } catch (...) {
      c.abort(); // never leave a half-made communicator to the destructor's finalize
      throw;
    }
    return c;
  }

  //! A fresh NCCL unique id (`ncclGetUniqueId`), to be made on rank 0 only and sent to every
  //! other rank by the caller (see `unique_id_bytes` and the file comment). Throws
  //! `rlvr::comm_error` when NCCL cannot make one (no network interface, …).
  [[nodiscard]] static ncclUniqueId make_unique_id() {
    ncclUniqueId id{};
    const ncclResult_t rc = ncclGetUniqueId(&id);
    if (rc != ncclSuccess)
      fail<comm_error>("ncclGetUniqueId failed: ", ncclGetErrorString(rc), " (", static_cast<int>(rc), ")",
                       detail::nccl_last_error(nullptr));
    return id;
  }

  //! This process's rank, in [0, size()).
  [[nodiscard]] int rank() const noexcept { return s_->rank; }
  //! The number of ranks.
  [[nodiscard]] int size() const noexcept { return s_->size; }
  //! The NCCL communicator (null once aborted).
  [[nodiscard]] ncclComm_t native() const noexcept { return s_->comm; }
  //! The stream collectives are enqueued on (and waited for).
  [[nodiscard]] cudaStream_t stream() const noexcept { return s_->stream; }
  //! The communicator's CUDA device (`ncclCommCuDevice`): buffers must live there.
  [[nodiscard]] int device() const noexcept { return s_->device; }
  //! Whether this handle destroys the communicator (made by `create`).
  [[nodiscard]] bool owns() const noexcept { return s_->owned; }
  //! Whether a timeout or an asynchronous error aborted the communicator (it is then unusable).
  [[nodiscard]] bool aborted() const noexcept { return s_->aborted; }
  //! The settings given at construction.
  [[nodiscard]] const nccl_options& options() const noexcept { return s_->opt; }

  //! Element-wise Σ or max over ranks of the device buffer `x`, in place (`ncclAllReduce`);
  //! returns when the result is in `x` (the stream is synchronised). Not for bytes.
  template <transport_type T>
    requires(!std::is_same_v<T, std::uint8_t>)
  void all_reduce(std::span<T> x, reduce_op op) {
    expect_usable("all_reduce");
    // Every rank passes the same count (the contract), so every rank skips an empty call alike.
    if (x.empty()) return;
    expect_device(x.data(), "all_reduce");
    // sendbuff == recvbuff: NCCL's in-place form.
    check(ncclAllReduce(x.data(), x.data(), x.size(), detail::nccl_type<T>(), op == reduce_op::sum ? ncclSum : ncclMax,
                        s_->comm, s_->stream),
          "ncclAllReduce");
    wait("ncclAllReduce", true);
  }
  //! Rank r's `in` at `out[r·in.size() …]` on every rank (`ncclAllGather`); `out` must hold
  //! `size() · in.size()` elements (else `rlvr::shape_error`). `in` may be `out`'s own slot
  //! (in place); any other overlap is undefined. Returns when `out` is complete.
  template <transport_type T> void all_gather(std::span<const T> in, std::span<T> out) {
    RLVR_EXPECTS(out.size() == in.size() * static_cast<std::size_t>(s_->size), shape,
                 "dist::nccl_communicator::all_gather: output has ", out.size(), " elements, expected size() x input = ",
                 s_->size, " x ", in.size());
    expect_usable("all_gather");
    // An empty input on every rank: nothing to move (and `out` is empty too).
    if (in.empty()) return;
    expect_device(in.data(), "all_gather (input)");
    expect_device(out.data(), "all_gather (output)");
    // NCCL's count is the per-rank count; rank r's part lands at out + r·count.
    check(ncclAllGather(in.data(), out.data(), in.size(), detail::nccl_type<T>(), s_->comm, s_->stream),
          "ncclAllGather");
    wait("ncclAllGather", true);
  }
  //! Copies the root's `x` into every rank's `x`, in place (`ncclBroadcast`); `root` outside
  //! [0, size()) is an `rlvr::range_error`. Returns when `x` holds the root's data.
  template <transport_type T> void broadcast(std::span<T> x, int root) {
    RLVR_EXPECTS(root >= 0 && root < s_->size, range, "dist::nccl_communicator::broadcast: root = ", root,
                 " is outside [0, ", s_->size, ")");
    expect_usable("broadcast");
    if (x.empty()) return;
    expect_device(x.data(), "broadcast");
    // In place: the root sends from x, every rank (the root too) receives into x.
    check(ncclBroadcast(x.data(), x.data(), x.size(), detail::nccl_type<T>(), root, s_->comm, s_->stream),
          "ncclBroadcast");
    wait("ncclBroadcast", true);
  }
  //! Returns once every rank has entered it: an `ncclAllReduce` of the communicator's one-word
  //! device scratch buffer, waited for like every collective.
  void barrier() {
    expect_usable("barrier");
    // An all-reduce cannot complete on any rank before every rank has contributed to it.
    check(ncclAllReduce(s_->scratch, s_->scratch, 1, ncclInt64, ncclSum, s_->comm, s_->stream),
          "ncclAllReduce (barrier)");
    wait("ncclAllReduce (barrier)", true);
  }

private:
  //! `create`'s constructor: a handle over a state not yet holding a communicator.
  explicit nccl_communicator(std::shared_ptr<detail::nccl_state> s) noexcept : s_(std::move(s)) {}

  //! Sets the current device to `d` for the scope (restored after), so that allocating the
  //! scratch word does not change the caller's current device.
  struct device_guard {
    //! The device current before the guard.
    int prev = -1;
    //! Makes `d` current (throws `rlvr::device_error` on failure).
    explicit device_guard(int d) {
      RLVR_CUDA_CHECK(cudaGetDevice(&prev));
      if (prev != d) RLVR_CUDA_CHECK(cudaSetDevice(d));
    }
    device_guard(const device_guard&) = delete;
    device_guard& operator=(const device_guard&) = delete;
    //! Restores the previous device; never throws.
    ~device_guard() {
      int now = -1;
      if (cudaGetDevice(&now) == cudaSuccess && now != prev) (void)cudaSetDevice(prev);
    }
  };

  //! Rank, size and device from NCCL; allocates (and zeroes) the barrier's scratch word there.
  //! Runs once, when the communicator is ready (after `wait`).
  void query() {
    int r = -1, n = -1, d = -1;
    check(ncclCommUserRank(s_->comm, &r), "ncclCommUserRank");
    check(ncclCommCount(s_->comm, &n), "ncclCommCount");
    check(ncclCommCuDevice(s_->comm, &d), "ncclCommCuDevice");
    s_->rank = r;
    s_->size = n;
    s_->device = d;
    // cudaMalloc allocates on the current device: make it the communicator's for the call.
    const device_guard g(d);
    RLVR_CUDA_CHECK(cudaMalloc(reinterpret_cast<void**>(&s_->scratch), sizeof(std::int64_t)));
    RLVR_CUDA_CHECK(cudaMemset(s_->scratch, 0, sizeof(std::int64_t)));
  }

  //! "on rank r of n", or a note that they are not known yet (a wrapped communicator that
  //! failed before NCCL told its rank: a null or broken `ncclComm_t`). Every error message of
  //! this class carries it, so the log of a multi-rank job says which rank failed.
  [[nodiscard]] std::string where() const {
    if (s_->rank < 0) return "(rank not yet known)";
    return rlvr::detail::concat("on rank ", s_->rank, " of ", s_->size);
  }

  //! Throws `rlvr::comm_error` for an NCCL result other than success / in progress, naming the
  //! call, where (rank of size), NCCL's string for the code, the code and NCCL's last message.
  //! `ncclInProgress` is the normal answer of a non-blocking communicator: `wait` follows it.
  void check(ncclResult_t rc, const char* what) const {
    if (rc == ncclSuccess || rc == ncclInProgress) [[likely]]
      return;
    fail<comm_error>(what, " failed ", where(), ": ", ncclGetErrorString(rc), " (", static_cast<int>(rc), ")",
                     detail::nccl_last_error(s_->comm));
  }

  //! `ncclCommAbort` once; the handle is then null and `aborted()` true, for every copy. Abort
  //! never waits for a peer, and ends this rank's NCCL kernels still on the device.
  void abort() noexcept {
    if (s_->comm != nullptr) (void)ncclCommAbort(s_->comm);
    s_->comm = nullptr;
    s_->aborted = true;
  }

  //! Throws `rlvr::comm_error` once the communicator was aborted: its handle is gone.
  void expect_usable(const char* what) const {
    RLVR_EXPECTS(!s_->aborted, comm, "dist::nccl_communicator::", what, " ", where(),
                 ": the communicator was aborted by an earlier timeout or error");
  }

  //! Refuses a pointer that is not device (or managed) memory of the communicator's device.
  void expect_device(const void* p, const char* what) const {
    // Since CUDA 11 an unregistered host pointer is not an error here but cudaMemoryTypeUnregistered;
    // pinned host memory is cudaMemoryTypeHost. Both would fault inside NCCL's kernels.
    cudaPointerAttributes a{};
    RLVR_CUDA_CHECK(cudaPointerGetAttributes(&a, p));
    if (a.type != cudaMemoryTypeDevice && a.type != cudaMemoryTypeManaged)
      fail<device_error>("dist::nccl_communicator::", what, ": pointer ", p, " is not device memory (a host ",
                         "pointer in a cuda_space span); copy the data to the device first");
    // Memory of another GPU would need peer access, which NCCL does not assume.
    if (a.type == cudaMemoryTypeDevice && a.device != s_->device)
      fail<device_error>("dist::nccl_communicator::", what, ": pointer ", p, " is memory of device ", a.device,
                         ", but the communicator's device is ", s_->device);
  }

  //! Polls `ncclCommGetAsyncError` until the communicator is ready, then (`on_stream`)
  //! `cudaStreamQuery` until the stream is done; aborts and throws on an asynchronous error or
  //! once the timeout has passed (see the file comment).
  void wait(const char* what, bool on_stream) {
    using clock = std::chrono::steady_clock;
    const auto start = clock::now();
    const double limit = s_->opt.timeout_seconds;
    for (unsigned polls = 0;; ++polls) {
      // 1. The communicator's state: ncclInProgress while a non-blocking call is still being
      //    issued (no other NCCL call is allowed then), an error once a peer or the network failed.
      ncclResult_t st = ncclSuccess;
      check(ncclCommGetAsyncError(s_->comm, &st), "ncclCommGetAsyncError");
      if (st != ncclSuccess && st != ncclInProgress) {
        // NCCL's rule: a communicator with an asynchronous error must be aborted.
        const std::string last = detail::nccl_last_error(s_->comm), at = where();
        abort();
        fail<comm_error>(what, " failed asynchronously ", at, ": ", ncclGetErrorString(st), " (",
                         static_cast<int>(st), ")", last, "; the communicator was aborted");
      }
      // 2. Issued: is the stream done? cudaStreamQuery never blocks (cudaErrorNotReady: not yet).
      if (st == ncclSuccess) {
        if (!on_stream) return;
        const cudaError_t q = cudaStreamQuery(s_->stream);
        if (q == cudaSuccess) return;
        if (q != cudaErrorNotReady) cuda::check(q, "cudaStreamQuery(stream)", __FILE__, __LINE__);
      }
      // 3. Past the deadline: abort (ends NCCL's kernels, so the stream drains) and report.
      if (limit > 0 && std::chrono::duration<double>(clock::now() - start).count() >= limit) {
        const std::string at = where();
        abort();
        fail<comm_error>(what, " did not complete within ", limit, " s ", at, ": a peer rank died or hangs ",
                         "(rlvr::dist::nccl_options::timeout_seconds); the communicator was aborted");
      }
      // Spin politely for a small collective's microseconds, then sleep to free the core.
      if (polls < 1000) std::this_thread::yield();
      else std::this_thread::sleep_for(std::chrono::microseconds(100));
    }
  }

  //! The state every copy shares.
  std::shared_ptr<detail::nccl_state> s_;
};
// The model: a `Communicator` whose buffers the host may not read (so the host helpers above,
// `sum`, `all_gather_v`, …, take a host communicator instead).
static_assert(Communicator<nccl_communicator>);
static_assert(!HostCommunicator<nccl_communicator>);

} // namespace rlvr::dist
