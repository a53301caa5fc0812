// bench_sampling: rlvr's host samplers against baselines measured in the same binary.
//
// Shapes: 64 rows × V ∈ {32000, 151936} float logits, N(0, 2²) per logit (fixed Philox seed).
// Paths covered (all single-threaded unless the name ends in /threads:2):
//   softmax_pass        one vectorised softmax pass (detail/vexp.hpp: row_max, row_exp into a
//                       buffer with its sum, then the 1/S scale): the floor
//   rlvr_temperature    rlvr::sample, τ = 1 (the rollout path)
//   rlvr_top_p          rlvr::sample, τ = 0.6, top-p 0.95, with the policy log-prob (2 exps/logit)
//   rlvr_top_p_nopolicy the same without the policy log-prob (evaluation sampling)
//   rlvr_top_k50        rlvr::sample, τ = 0.6, top-k 50, no policy log-prob (histogram path)
//   sort_top_p          the sort-based idiom in C++: softmax, std::sort of (prob, id), cumsum,
//                       cut at p, inverse CDF over the kept prefix
//   rlvr_small_vocab    the study's case: 256 rows × V = 40, τ = 0.6, top-p 0.95
// Counters: logits/s (rows × V per second). PyTorch's idiom at the same shapes:
//   /usr/bin/python3 bench/sampling/torch_idiom.py
#include <benchmark/benchmark.h>

#include <rlvr/random/philox.hpp>
#include <rlvr/sampling/sampler.hpp>

#include <algorithm>
#include <cmath>
#include <functional>
#include <utility>
#include <vector>

namespace {

// A host backend with rlvr's host row sampler, rows over `threads` (what serial/Eigen/xtensor do).
struct cpu_backend {
  static constexpr bool host_backend = true;
  int threads = 1;
  template <class T>
  void sample_rows(rlvr::matrix_view<const T> z, const rlvr::sampling_params& p, const rlvr::stream_batch& s,
                   rlvr::vector_view<rlvr::token_draw<T>> out, rlvr::vector_view<std::uint8_t> status) const {
    rlvr::detail::sample_rows_host(z, p, s, out, status, threads);
  }
};

std::vector<float> make_logits(rlvr::index_t rows, rlvr::index_t V, float sigma = 2.0f) {
  rlvr::philox_engine eng(20251127);
  std::vector<float> z(static_cast<std::size_t>(rows * V));
  for (auto& x : z) {
    const double u1 = 1.0 - eng.uniform(), u2 = eng.uniform();
    x = static_cast<float>(sigma * std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2));
  }
  return z;
}

void set_counters(benchmark::State& st, rlvr::index_t rows, rlvr::index_t V) {
  st.counters["logits/s"] = benchmark::Counter(static_cast<double>(rows * V), benchmark::Counter::kIsIterationInvariantRate);
}

void softmax_pass(benchmark::State& st) {
  const rlvr::index_t rows = 64, V = st.range(0);
  const auto z = make_logits(rows, V);
  std::vector<float> p(z.size());
  for (auto _ : st) {
    for (rlvr::index_t i = 0; i < rows; ++i) {
      const float* zr = z.data() + i * V;
      float* pr = p.data() + i * V;
      const float m = rlvr::detail::row_max(zr, V);
      const auto s = static_cast<float>(rlvr::detail::row_exp(zr, pr, V, 1.0f, m));
      const float inv = 1.0f / s;
      rlvr::index_t v = 0;
      for (v = 0; v < V; ++v) pr[v] *= inv;
    }
    benchmark::DoNotOptimize(p.data());
    benchmark::ClobberMemory();
  }
  set_counters(st, rows, V);
}

void run_rlvr(benchmark::State& st, const rlvr::sampling_config& cfg, rlvr::index_t rows, int threads) {
  const rlvr::index_t V = st.range(0);
  const auto z = make_logits(rows, V);
  rlvr::matrix_view<const float> logits(z.data(), rows, V);
  std::vector<rlvr::token_draw<float>> out(static_cast<std::size_t>(rows));
  std::uint64_t step = 0;
  for (auto _ : st) {
    rlvr::sample(cpu_backend{threads}, logits, cfg, {.seed = 1, .offset = step++},
                 rlvr::vector_view<rlvr::token_draw<float>>(out));
    benchmark::DoNotOptimize(out.data());
  }
  set_counters(st, rows, V);
}

void rlvr_temperature(benchmark::State& st) { run_rlvr(st, {.temperature = 1.0}, 64, 1); }
void rlvr_top_p(benchmark::State& st) { run_rlvr(st, {.temperature = 0.6, .top_p = 0.95}, 64, 1); }
void rlvr_top_p_nopolicy(benchmark::State& st) {
  run_rlvr(st, {.temperature = 0.6, .top_p = 0.95, .policy_logprob = false}, 64, 1);
}
void rlvr_top_k50(benchmark::State& st) { run_rlvr(st, {.temperature = 0.6, .top_k = 50, .policy_logprob = false}, 64, 1); }
void rlvr_top_p_threads2(benchmark::State& st) { run_rlvr(st, {.temperature = 0.6, .top_p = 0.95}, 64, 2); }
void rlvr_small_vocab(benchmark::State& st) { run_rlvr(st, {.temperature = 0.6, .top_p = 0.95}, 256, 1); }
void rlvr_small_vocab_t1(benchmark::State& st) { run_rlvr(st, {.temperature = 1.0}, 256, 1); }

// The sort-based idiom, done well in C++ (one thread).
void sort_top_p(benchmark::State& st) {
  const rlvr::index_t rows = 64, V = st.range(0);
  const auto z = make_logits(rows, V);
  std::vector<std::pair<float, int>> pv(static_cast<std::size_t>(V));
  std::uint64_t step = 0;
  long sink = 0;
  for (auto _ : st) {
    for (rlvr::index_t i = 0; i < rows; ++i) {
      const float* zr = z.data() + i * V;
      const float m = *std::max_element(zr, zr + V);
      double s = 0;
      for (rlvr::index_t v = 0; v < V; ++v) {
        const float e = std::exp((zr[v] - m) / 0.6f);
        pv[static_cast<std::size_t>(v)] = {e, static_cast<int>(v)};
        s += e;
      }
      std::sort(pv.begin(), pv.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
      double c = 0;
      std::size_t keep = 0;
      while (keep < pv.size() && c < 0.95 * s) c += pv[keep++].first;
      const double target = rlvr::philox_stream{1, static_cast<std::uint64_t>(i)}.uniform(step) * c;
      double a = 0;
      std::size_t j = 0;
      while (j + 1 < keep && (a += pv[j].first) <= target) ++j;
      sink += pv[j].second;
    }
    ++step;
    benchmark::DoNotOptimize(sink);
  }
  set_counters(st, rows, V);
}

} // namespace

BENCHMARK(softmax_pass)->Arg(32000)->Arg(151936)->Unit(benchmark::kMillisecond);
BENCHMARK(rlvr_temperature)->Arg(32000)->Arg(151936)->Unit(benchmark::kMillisecond);
BENCHMARK(rlvr_top_p)->Arg(32000)->Arg(151936)->Unit(benchmark::kMillisecond);
BENCHMARK(rlvr_top_p_nopolicy)->Arg(32000)->Arg(151936)->Unit(benchmark::kMillisecond);
BENCHMARK(rlvr_top_k50)->Arg(32000)->Arg(151936)->Unit(benchmark::kMillisecond);
BENCHMARK(rlvr_top_p_threads2)->Arg(151936)->Unit(benchmark::kMillisecond);
BENCHMARK(sort_top_p)->Arg(32000)->Arg(151936)->Unit(benchmark::kMillisecond);
BENCHMARK(rlvr_small_vocab)->Arg(40)->Unit(benchmark::kMicrosecond);
BENCHMARK(rlvr_small_vocab_t1)->Arg(40)->Unit(benchmark::kMicrosecond);

BENCHMARK_MAIN();
