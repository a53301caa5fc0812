#pragma once
// A stand-in for the small part of Google Benchmark that bench_cuda uses, for machines where the
// library is not installed (the GPU machine has the CUDA toolkit but no libbenchmark). Same
// source, same counters: `for (auto _ : state)`, `state.SetIterationTime`, `state.counters`,
// `state.range`, `state.SetLabel`, BENCHMARK(...)->UseManualTime()->Unit()->Args()->Name(),
// BENCHMARK_MAIN(). Each benchmark runs 3 warm-up iterations, then iterations until 0.5 s of
// manual time or 100 iterations; it prints the mean manual time per iteration and the counters
// (as Google Benchmark computes them: kIsRate divides by the total time, kIsIterationInvariantRate
// divides a per-iteration value by the mean iteration time).
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace benchmark {

enum TimeUnit { kNanosecond, kMicrosecond, kMillisecond, kSecond };

struct Counter {
  // Google Benchmark's values: kIsRate divides by the total time of all iterations;
  // kIsIterationInvariant multiplies by the iteration count; their union divides a per-iteration
  // value by the mean iteration time; kAvgIterations divides by the iteration count.
  enum Flags {
    kDefaults = 0,
    kIsRate = 1 << 0,
    kIsIterationInvariant = 1 << 2,
    kIsIterationInvariantRate = kIsRate | kIsIterationInvariant,
    kAvgIterations = 1 << 3
  };
  enum OneK { kIs1000 = 1000, kIs1024 = 1024 };
  double value = 0;
  int flags = kDefaults;
  Counter(double v = 0, int f = kDefaults, OneK = kIs1000) : value(v), flags(f) {}
};

class State {
public:
  State(std::vector<std::int64_t> args, std::int64_t max_iters, double min_time)
      : args_(std::move(args)), max_iters_(max_iters), min_time_(min_time) {}
  struct iterator {
    State* s;
    bool operator!=(const iterator&) const { return s->keep_running(); }
    void operator++() {}
    int operator*() const { return 0; }
  };
  iterator begin() { return {this}; }
  iterator end() { return {this}; }
  [[nodiscard]] std::int64_t range(std::size_t i = 0) const { return args_.at(i); }
  void SetIterationTime(double seconds) {
    if (done_ > warmup) total_ += seconds;
  }
  void SetLabel(const std::string& l) { label_ = l; }
  void SkipWithError(const char* msg) {
    error_ = msg;
    skipped_ = true;
  }
  [[nodiscard]] std::int64_t iterations() const { return done_ > warmup ? done_ - warmup : 0; }
  std::map<std::string, Counter> counters;
  static constexpr std::int64_t warmup = 3;
  double total_ = 0;
  std::string label_, error_;

private:
  bool keep_running() {
    if (skipped_) return false;
    if (done_ >= warmup + 1 && (total_ >= min_time_ || done_ - warmup >= max_iters_)) return false;
    ++done_;
    return true;
  }
  std::vector<std::int64_t> args_;
  std::int64_t max_iters_;
  double min_time_;
  std::int64_t done_ = 0;
  bool skipped_ = false;
};

namespace internal {
struct Benchmark {
  std::string name;
  std::function<void(State&)> fn;
  std::vector<std::vector<std::int64_t>> args;
  TimeUnit unit = kNanosecond;
  Benchmark* UseManualTime() { return this; }
  Benchmark* Unit(TimeUnit u) {
    unit = u;
    return this;
  }
  Benchmark* Args(std::vector<std::int64_t> a) {
    args.push_back(std::move(a));
    return this;
  }
  Benchmark* Arg(std::int64_t a) { return Args({a}); }
  Benchmark* Name(const std::string& n) {
    name = n;
    return this;
  }
  Benchmark* Iterations(std::int64_t) { return this; }
  Benchmark* MinTime(double) { return this; }
};
inline std::vector<Benchmark*>& registry() {
  static std::vector<Benchmark*> r;
  return r;
}
inline Benchmark* RegisterBenchmarkInternal(const char* name, std::function<void(State&)> fn) {
  auto* b = new Benchmark{name, std::move(fn), {}, kNanosecond};
  registry().push_back(b);
  return b;
}
inline int run_all(int argc, char** argv) {
  const char* filter = nullptr;
  for (int i = 1; i < argc; ++i)
    if (std::strncmp(argv[i], "--benchmark_filter=", 19) == 0) filter = argv[i] + 19;
  std::printf("%-60s %14s %10s  %s\n", "Benchmark (mini_benchmark: manual time)", "Time", "Iters", "Counters");
  for (auto* b : registry()) {
    auto arglists = b->args.empty() ? std::vector<std::vector<std::int64_t>>{{}} : b->args;
    for (const auto& a : arglists) {
      std::string name = b->name;
      for (auto v : a) {
        name.push_back('/');
        name.append(std::to_string(v));
      }
      name += "/manual_time";
      if (filter && name.find(filter) == std::string::npos) continue;
      State st(a, 100, 0.5);
      b->fn(st);
      if (!st.error_.empty()) {
        std::printf("%-60s ERROR: %s\n", name.c_str(), st.error_.c_str());
        continue;
      }
      const double per = st.iterations() ? st.total_ / static_cast<double>(st.iterations()) : 0.0;
      const double scale = b->unit == kMicrosecond ? 1e6 : b->unit == kMillisecond ? 1e3 : b->unit == kSecond ? 1 : 1e9;
      const char* u = b->unit == kMicrosecond ? "us" : b->unit == kMillisecond ? "ms" : b->unit == kSecond ? "s" : "ns";
      std::string cs;
      for (const auto& [k, c] : st.counters) {
        double v = c.value;
        const double iters = static_cast<double>(st.iterations());
        if (c.flags & Counter::kIsIterationInvariant) v *= iters;
        if (c.flags & Counter::kAvgIterations) v = iters > 0 ? v / iters : 0.0;
        if (c.flags & Counter::kIsRate) v = st.total_ > 0 ? v / st.total_ : 0.0;
        char buf[96];
        std::snprintf(buf, sizeof buf, " %s=%.6g", k.c_str(), v);
        cs += buf;
      }
      std::printf("%-60s %11.3f %s %10lld %s %s\n", name.c_str(), per * scale, u,
                  static_cast<long long>(st.iterations()), cs.c_str(), st.label_.c_str());
      std::fflush(stdout);
    }
  }
  return 0;
}
} // namespace internal

template <class T> inline void DoNotOptimize(const T&) {}
inline void Initialize(int*, char**) {}

} // namespace benchmark

#define RLVR_MB_CAT2(a, b) a##b
#define RLVR_MB_CAT(a, b) RLVR_MB_CAT2(a, b)
#define BENCHMARK(fn)                                                                              \
  static ::benchmark::internal::Benchmark* RLVR_MB_CAT(rlvr_mb_, __LINE__) =                       \
      ::benchmark::internal::RegisterBenchmarkInternal(#fn, fn)
#define BENCHMARK_MAIN()                                                                           \
  int main(int argc, char** argv) { return ::benchmark::internal::run_all(argc, argv); }
