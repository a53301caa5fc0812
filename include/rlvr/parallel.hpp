#pragma once
//! \file rlvr/parallel.hpp
//! \brief A small persistent thread pool and `parallel_for` over index ranges.
//!
//! The CPU backends, the samplers, batch reward scoring and the reference transformer split
//! work over rows with `parallel_for(n, threads, body)`. The split is *static*: for a given
//! `n` and thread count every chunk boundary is fixed, and every rlvr kernel computes each row
//! independently of the split, so results never depend on the number of threads (a tested
//! property: same seed → same tokens for 1 and 2 threads).
//!
//! Threads are created once per process (lazily, on the first parallel call) and reused, so a
//! parallel call costs a few microseconds of wake-up rather than a thread spawn; the calling
//! thread runs the first chunk and any chunk no worker has started yet. A
//! `parallel_for` issued from inside a pool worker runs inline (no nested parallelism, no
//! deadlock). Exceptions thrown by the body are captured and the first one is rethrown in the
//! caller after every chunk has finished. A parallel region allocates nothing once the workers
//! exist (the job is passed by reference, not in a `std::function`).
//!
//! `threads = 0` means "all hardware threads" (`std::thread::hardware_concurrency()`, or the
//! `RLVR_NUM_THREADS` environment variable when set).
//!
//! The pool itself is private (`rlvr/detail/thread_pool.hpp`): on POSIX systems it uses
//! `<pthread.h>` rather than `<thread>`, `<mutex>` and `<condition_variable>`, which would add
//! about 17 000 preprocessed lines to every translation unit that includes an rlvr backend;
//! define `RLVR_THREAD_POOL_STD` to build it on the standard thread library instead.

#include <algorithm>
#include <cstdlib>
#include <utility>

#include "rlvr/config.hpp"
#include "rlvr/detail/thread_pool.hpp"

namespace rlvr {

//! Number of hardware threads rlvr uses by default (`RLVR_NUM_THREADS` overrides; ≥ 1).
inline int default_num_threads() {
  static const int n = [] {
    if (const char* env = std::getenv("RLVR_NUM_THREADS")) {
      const int v = std::atoi(env);
      if (v > 0) return v;
    }
    const unsigned hc = detail::hardware_threads();
    return hc == 0 ? 1 : static_cast<int>(hc);
  }();
  return n;
}

//! Calls `body(begin, end)` on disjoint contiguous chunks covering [0, n), using at most
//! `threads` threads (0 = `default_num_threads()`), each chunk at least `min_chunk` long.
//! Chunk boundaries depend only on (n, threads, min_chunk). Blocks until all chunks are done.
template <class Body>
void parallel_for(index_t n, int threads, Body&& body, index_t min_chunk = 1) {
  if (n <= 0) return;
  if (threads <= 0) threads = default_num_threads();
  min_chunk = std::max<index_t>(min_chunk, 1);
  const index_t max_chunks = std::max<index_t>(1, n / min_chunk);
  const int chunks = static_cast<int>(std::min<index_t>(threads, max_chunks));
  if (chunks <= 1 || detail::thread_pool::inside_worker()) {
    body(index_t{0}, n);
    return;
  }
  const index_t base = n / chunks, extra = n % chunks;
  auto bounds = [&](int c) {
    const index_t b = c * base + std::min<index_t>(c, extra);
    return std::pair<index_t, index_t>{b, b + base + (c < extra ? 1 : 0)};
  };
  const auto chunk = [&](int c) {
    const auto [b, e] = bounds(c);
    body(b, e);
  };
  detail::thread_pool::instance().run(chunks, detail::thread_pool::ref(chunk));
}

} // namespace rlvr
