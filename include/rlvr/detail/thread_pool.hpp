#pragma once
// The persistent worker pool behind `rlvr::parallel_for` (private; rlvr/parallel.hpp is the
// public interface and documents the behaviour).
//
// Why a header of its own: every rlvr header that splits rows over threads includes
// parallel.hpp, so whatever the pool includes lands in nearly every translation unit. On POSIX
// systems the pool is built on <pthread.h> directly, about 1 300 preprocessed lines, where
// <thread>, <mutex> and <condition_variable> add about 17 000 to a TU that already has
// <vector>, <string> and <algorithm> (docs/getting-started.md, "Compile time"). Elsewhere, or
// with `RLVR_THREAD_POOL_STD` defined, the same pool runs on std::thread / std::mutex /
// std::condition_variable. Only the three primitives below differ between the two; the pool
// logic is written once.
//
// Scheduling: a parallel region is `chunks` calls task(0) … task(chunks − 1). The calling thread
// runs chunk 0 and then takes any chunk no worker has started yet; workers take the others in
// order. Which thread runs a chunk never changes what the chunk computes (parallel_for fixes the
// boundaries beforehand), so results do not depend on it. If the system refuses a worker thread,
// the pool keeps the workers it has and the caller runs the rest of the chunks itself.

#include <exception>
#include <vector>

#if !defined(RLVR_THREAD_POOL_STD) && __has_include(<pthread.h>) && __has_include(<unistd.h>)
#define RLVR_DETAIL_POOL_PTHREAD 1
#include <pthread.h>
#include <unistd.h>
#else
#define RLVR_DETAIL_POOL_PTHREAD 0
#include <condition_variable>
#include <mutex>
#include <thread>
#endif

namespace rlvr::detail {

#if RLVR_DETAIL_POOL_PTHREAD

//! Hardware threads as std::thread::hardware_concurrency() counts them (online processors);
//! 0 if unknown.
inline unsigned hardware_threads() noexcept {
  const long n = ::sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? static_cast<unsigned>(n) : 0u;
}

class pool_mutex {
public:
  pool_mutex() = default;
  pool_mutex(const pool_mutex&) = delete;
  pool_mutex& operator=(const pool_mutex&) = delete;
  ~pool_mutex() { ::pthread_mutex_destroy(&m_); }
  void lock() noexcept { ::pthread_mutex_lock(&m_); }
  void unlock() noexcept { ::pthread_mutex_unlock(&m_); }
  ::pthread_mutex_t* native() noexcept { return &m_; }

private:
  ::pthread_mutex_t m_ = PTHREAD_MUTEX_INITIALIZER;
};

//! Holds `m` locked from construction to destruction, except between unlock() and lock().
class pool_lock {
public:
  explicit pool_lock(pool_mutex& m) noexcept : m_(m) { m_.lock(); }
  pool_lock(const pool_lock&) = delete;
  pool_lock& operator=(const pool_lock&) = delete;
  ~pool_lock() {
    if (owns_) m_.unlock();
  }
  void lock() noexcept {
    m_.lock();
    owns_ = true;
  }
  void unlock() noexcept {
    m_.unlock();
    owns_ = false;
  }
  pool_mutex& mutex() noexcept { return m_; }

private:
  pool_mutex& m_;
  bool owns_ = true;
};

class pool_cond {
public:
  pool_cond() = default;
  pool_cond(const pool_cond&) = delete;
  pool_cond& operator=(const pool_cond&) = delete;
  ~pool_cond() { ::pthread_cond_destroy(&c_); }
  void wait(pool_lock& lk) noexcept { ::pthread_cond_wait(&c_, lk.mutex().native()); }
  void notify_one() noexcept { ::pthread_cond_signal(&c_); }
  void notify_all() noexcept { ::pthread_cond_broadcast(&c_); }

private:
  ::pthread_cond_t c_ = PTHREAD_COND_INITIALIZER;
};

//! A joinable thread running `fn(arg)`; `start` returns false if the system refuses one.
class pool_thread {
public:
  bool start(void* (*fn)(void*), void* arg) noexcept {
    return ::pthread_create(&t_, nullptr, fn, arg) == 0;
  }
  void join() noexcept { ::pthread_join(t_, nullptr); }

private:
  ::pthread_t t_{};
};

#else // std::thread

inline unsigned hardware_threads() noexcept { return std::thread::hardware_concurrency(); }

using pool_mutex = std::mutex;

class pool_lock {
public:
  explicit pool_lock(pool_mutex& m) : lk_(m) {}
  void lock() { lk_.lock(); }
  void unlock() { lk_.unlock(); }
  std::unique_lock<std::mutex>& native() noexcept { return lk_; }

private:
  std::unique_lock<std::mutex> lk_;
};

class pool_cond {
public:
  void wait(pool_lock& lk) { c_.wait(lk.native()); }
  void notify_one() noexcept { c_.notify_one(); }
  void notify_all() noexcept { c_.notify_all(); }

private:
  std::condition_variable c_;
};

class pool_thread {
public:
  bool start(void* (*fn)(void*), void* arg) noexcept {
    try {
      t_ = std::thread(fn, arg);
      return true;
    } catch (...) {
      return false;
    }
  }
  void join() { t_.join(); }

private:
  std::thread t_;
};

#endif

//! The process-wide pool: workers are started lazily (on the first region that needs them) and
//! live until static destruction.
class thread_pool {
public:
  static thread_pool& instance() {
    static thread_pool pool;
    return pool;
  }
  //! True on a pool worker and on a caller while it runs chunks: a nested region runs inline.
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
  template <class F>
  static task_ref ref(const F& f) {
    return {&f, [](const void* o, int c) { (*static_cast<const F*>(o))(c); }};
  }

  //! Runs `task(c)` for every c in [0, chunks) and returns when all have finished; rethrows the
  //! first exception a chunk threw.
  void run(int chunks, task_ref task) {
    pool_lock call_lock(call_mutex_); // one parallel region at a time
    ensure_workers(chunks - 1);
    std::exception_ptr first_error;
    pool_mutex error_mutex;
    const auto guarded_fn = [&](int c) {
      try {
        task(c);
      } catch (...) {
        pool_lock g(error_mutex);
        if (!first_error) first_error = std::current_exception();
      }
    };
    const task_ref guarded = ref(guarded_fn);
    {
      pool_lock g(mutex_);
      job_ = &guarded;
      job_chunks_ = chunks;
      next_chunk_ = 1;
      pending_ = chunks - 1;
      ++generation_;
    }
    cv_.notify_all();
    inside_worker() = true;
    guarded(0);
    pool_lock lk(mutex_);
    while (next_chunk_ < job_chunks_) { // chunks no worker has taken yet
      const int c = next_chunk_++;
      lk.unlock();
      guarded(c);
      lk.lock();
      --pending_;
    }
    inside_worker() = false;
    while (pending_ != 0) done_cv_.wait(lk);
    job_ = nullptr;
    lk.unlock();
    if (first_error) std::rethrow_exception(first_error);
  }

  thread_pool(const thread_pool&) = delete;
  thread_pool& operator=(const thread_pool&) = delete;
  ~thread_pool() {
    {
      pool_lock g(mutex_);
      stop_ = true;
    }
    cv_.notify_all();
    for (auto& t : workers_) t.join();
  }

private:
  thread_pool() = default;

  void ensure_workers(int n) {
    pool_lock g(mutex_);
    if (static_cast<int>(workers_.size()) >= n) return;
    while (static_cast<int>(workers_.size()) < n) {
      workers_.emplace_back();
      if (!workers_.back().start(&thread_pool::worker_main, this)) { // keep the ones we have
        workers_.pop_back();
        return;
      }
    }
  }

  static void* worker_main(void* self) {
    static_cast<thread_pool*>(self)->loop();
    return nullptr;
  }

  void loop() {
    inside_worker() = true;
    unsigned long long seen = 0;
    pool_lock lk(mutex_);
    for (;;) {
      while (!(stop_ || (generation_ != seen && next_chunk_ < job_chunks_))) cv_.wait(lk);
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

  pool_mutex call_mutex_;
  pool_mutex mutex_;
  pool_cond cv_;
  pool_cond done_cv_;
  std::vector<pool_thread> workers_;
  const task_ref* job_ = nullptr;
  int job_chunks_ = 0;
  int next_chunk_ = 0;
  int pending_ = 0;
  unsigned long long generation_ = 0;
  bool stop_ = false;
};

} // namespace rlvr::detail
