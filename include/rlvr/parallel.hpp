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
//! parallel call costs a few microseconds of wake-up rather than a thread spawn. A
//! `parallel_for` issued from inside a pool worker runs inline (no nested parallelism, no
//! deadlock). Exceptions thrown by the body are captured and the first one is rethrown in the
//! caller after every chunk has finished. A parallel region allocates nothing once the workers
//! exist (the job is passed by reference, not in a `std::function`).
//!
//! `threads = 0` means "all hardware threads" (`std::thread::hardware_concurrency()`, or the
//! `RLVR_NUM_THREADS` environment variable when set).

#include <algorithm>
#include <condition_variable>
#include <cstdlib>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#include "rlvr/config.hpp"

namespace rlvr {

//! Number of hardware threads rlvr uses by default (`RLVR_NUM_THREADS` overrides; ≥ 1).
inline int default_num_threads() {
  static const int n = [] {
    if (const char* env = std::getenv("RLVR_NUM_THREADS")) {
      const int v = std::atoi(env);
      if (v > 0) return v;
    }
    const unsigned hc = std::thread::hardware_concurrency();
    return hc == 0 ? 1 : static_cast<int>(hc);
  }();
  return n;
}

namespace detail {

class thread_pool {
public:
  static thread_pool& instance() {
    static thread_pool pool;
    return pool;
  }
  static bool& inside_worker() {
    thread_local bool flag = false;
    return flag;
  }

  //! A non-owning reference to a `void(int)` callable: no allocation per parallel region.
  struct task_ref {
    const void* obj;
    void (*call)(const void*, int);
    void operator()(int c) const { call(obj, c); }
  };
  template <class F> static task_ref ref(const F& f) {
    return {&f, [](const void* o, int c) { (*static_cast<const F*>(o))(c); }};
  }

  //! Runs `task(c)` for c in [0, chunks): chunk 0 on the calling thread, the others on workers.
  void run(int chunks, task_ref task) {
    std::unique_lock<std::mutex> call_lock(call_mutex_); // one parallel region at a time
    ensure_workers(chunks - 1);
    std::exception_ptr first_error;
    std::mutex error_mutex;
    const auto guarded_fn = [&](int c) {
      try {
        task(c);
      } catch (...) {
        std::lock_guard<std::mutex> g(error_mutex);
        if (!first_error) first_error = std::current_exception();
      }
    };
    const task_ref guarded = ref(guarded_fn);
    {
      std::lock_guard<std::mutex> g(mutex_);
      job_ = &guarded;
      job_chunks_ = chunks;
      next_chunk_ = 1;
      pending_ = chunks - 1;
      ++generation_;
    }
    cv_.notify_all();
    inside_worker() = true;
    guarded(0);
    inside_worker() = false;
    std::unique_lock<std::mutex> lk(mutex_);
    done_cv_.wait(lk, [&] { return pending_ == 0; });
    job_ = nullptr;
    lk.unlock();
    if (first_error) std::rethrow_exception(first_error);
  }

  ~thread_pool() {
    {
      std::lock_guard<std::mutex> g(mutex_);
      stop_ = true;
    }
    cv_.notify_all();
    for (auto& t : workers_) t.join();
  }

private:
  thread_pool() = default;

  void ensure_workers(int n) {
    std::lock_guard<std::mutex> g(mutex_);
    while (static_cast<int>(workers_.size()) < n) workers_.emplace_back([this] { loop(); });
  }

  void loop() {
    inside_worker() = true;
    unsigned long long seen = 0;
    std::unique_lock<std::mutex> lk(mutex_);
    for (;;) {
      cv_.wait(lk, [&] { return stop_ || (generation_ != seen && next_chunk_ < job_chunks_); });
      if (stop_) return;
      seen = generation_;
      while (next_chunk_ < job_chunks_) {
        const int c = next_chunk_++;
        auto* job = job_;
        lk.unlock();
        (*job)(c);
        lk.lock();
        if (--pending_ == 0) done_cv_.notify_one();
      }
    }
  }

  std::mutex call_mutex_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::condition_variable done_cv_;
  std::vector<std::thread> workers_;
  const task_ref* job_ = nullptr;
  int job_chunks_ = 0;
  int next_chunk_ = 0;
  int pending_ = 0;
  unsigned long long generation_ = 0;
  bool stop_ = false;
};

} // namespace detail

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
