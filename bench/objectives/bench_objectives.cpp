// bench_objectives: the objectives engine's hot paths, with their baselines in the same binary.
//
// Shapes: N ∈ {512, 4096} tokens × V ∈ {32000, 151936}, float32 logits ~ N(0, 2²), 2 threads.
// Paths (counters: bytes/s counts the compulsory traffic — logits read twice and the gradient
// written once for loss+grad, logits read once for forward — and tokens/s):
//   fused/…          rlvr::loss_and_grad, eigen_backend{.threads = 2}, GRPO (clip, k3 KL, entropy
//                    bonus) into a separate gradient buffer: one read pass + one write pass per row
//   fused_park/N/V/P the same with eigen_backend::park_max_row_bytes = P (0: recompute the exp in the
//                    write pass; 2^30: always park the exponentials in the gradient row)
//   fused_inplace/…  the same, gradient written over the logits
//   fused_kl_full/…  GRPO with the exact full-vocabulary KL (`kl_full`, reference logits = the
//                    logits of the next row) in place of k3: read pass over logits and reference,
//                    write pass over both (5 N×V streams); compare with fused/… at the same shape
//   forward/…        rlvr::log_prob_entropy (log π + entropy, one read pass)
//   naive/…          the multi-pass baseline a straightforward C++ port of the PyTorch graph would
//                    be: per row max, Σ exp (std::exp), log-softmax into an N×V temporary,
//                    gather, entropy from the temporary, then softmax − one-hot into the gradient
//                    (std::exp again), 2 threads over rows
//   copy/…           the streaming floor: memcpy of the N×V logits into the gradient buffer,
//                    2 threads (one read + one write)
//   serial/…         the serial oracle (1 thread), smallest shape only
//   exp/…            exp over 1 Mi floats: rlvr's simd::exp, std::exp, Eigen's packet exp, xsimd::exp
// Ratios are what to report (the machine is shared and noisy): fused vs naive, fused vs copy.
// "Time" is wall time; "CPU" is the process's CPU time over all threads (MeasureProcessCPUTime),
// which a loaded machine inflates far less than wall time — compare it with the PyTorch script's
// "cpu ms" column (time.process_time) when other work shares the cores.
#include <benchmark/benchmark.h>

#include <rlvr/backends/eigen.hpp>
#include <rlvr/backends/serial.hpp>
#include <rlvr/detail/vexp.hpp>
#include <rlvr/loss.hpp>
#include <rlvr/parallel.hpp>

#include <Eigen/Core>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>
#if RLVR_BENCH_XSIMD
#include <xsimd/xsimd.hpp>
#endif

namespace {
using rlvr::index_t;

// N(0, 2²) logits: 2V Box–Muller normals from a 64-bit LCG, row i a window of them starting at
// (i·7919) mod V (cheap to build at 4096 × 151936; every row differs).
std::vector<float> make_logits(index_t n, index_t v) {
  std::vector<float> base(static_cast<std::size_t>(2 * v));
  std::uint64_t s = 0x9E3779B97F4A7C15ull;
  for (std::size_t i = 0; i < base.size(); i += 2) {
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    const double u1 = (static_cast<double>(s >> 11) + 1.0) * 0x1.0p-53;
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    const double u2 = static_cast<double>(s >> 11) * 0x1.0p-53;
    const double r = 2.0 * std::sqrt(-2.0 * std::log(u1));
    base[i] = static_cast<float>(r * std::cos(6.283185307179586 * u2));
    base[i + 1] = static_cast<float>(r * std::sin(6.283185307179586 * u2));
  }
  std::vector<float> z(static_cast<std::size_t>(n * v));
  for (index_t i = 0; i < n; ++i)
    std::memcpy(z.data() + i * v, base.data() + (i * 7919) % v, static_cast<std::size_t>(v) * sizeof(float));
  return z;
}

struct problem {
  index_t n, v;
  std::vector<float> z, g;
  std::vector<rlvr::token_t> y;
  std::vector<float> adv, old_logp, ref_logp;
  problem(index_t n_, index_t v_) : n(n_), v(v_), z(make_logits(n_, v_)), g(z.size()) {
    for (index_t i = 0; i < n; ++i) {
      y.push_back(static_cast<rlvr::token_t>((i * 7919) % v));
      adv.push_back(i % 3 == 0 ? -0.8f : 1.1f);
      old_logp.push_back(-11.0f + 0.01f * static_cast<float>(i % 7));
      ref_logp.push_back(-11.2f);
    }
  }
  rlvr::loss_token_batch<float> batch() const {
    rlvr::loss_token_batch<float> b{};
    b.logits = {z.data(), n, v};
    b.targets = y;
    b.advantages = {adv.data(), 1, n};
    b.old_logp = old_logp;
    b.ref_logp = ref_logp;
    return b;
  }
};

void counters(benchmark::State& st, index_t n, index_t v, double passes) {
  st.counters["bytes/s"] = benchmark::Counter(passes * 4.0 * static_cast<double>(n * v), benchmark::Counter::kIsIterationInvariantRate);
  st.counters["tokens/s"] = benchmark::Counter(static_cast<double>(n), benchmark::Counter::kIsIterationInvariantRate);
}

const auto objective = rlvr::grpo({.kl = {.beta = 1e-3}, .entropy = {.coef = 1e-3}});

void fused(benchmark::State& st) {
  problem p(st.range(0), st.range(1));
  const auto b = p.batch();
  const rlvr::eigen_backend be{.threads = 2};
  for (auto _ : st) {
    auto d = rlvr::loss_and_grad(be, objective, b, rlvr::matrix_view<float>(p.g.data(), p.n, p.v));
    benchmark::DoNotOptimize(d);
    benchmark::ClobberMemory();
  }
  counters(st, p.n, p.v, 3);
}

// the same with an explicit parking threshold (arg 2): 0 = recompute the exp in the write pass,
// 1 << 30 = always park exponentials in the gradient row
void fused_park(benchmark::State& st) {
  problem p(st.range(0), st.range(1));
  const auto b = p.batch();
  const rlvr::eigen_backend be{.threads = 2, .park_max_row_bytes = st.range(2)};
  for (auto _ : st) {
    auto d = rlvr::loss_and_grad(be, objective, b, rlvr::matrix_view<float>(p.g.data(), p.n, p.v));
    benchmark::DoNotOptimize(d);
    benchmark::ClobberMemory();
  }
  counters(st, p.n, p.v, 3);
}

void fused_kl_full(benchmark::State& st) {
  problem p(st.range(0), st.range(1));
  std::vector<float> r(p.z.size());
  for (index_t i = 0; i < p.n; ++i) // the reference row i is the policy's row i + 1
    std::memcpy(r.data() + i * p.v, p.z.data() + ((i + 1) % p.n) * p.v, static_cast<std::size_t>(p.v) * sizeof(float));
  auto b = p.batch();
  b.ref_logits = {r.data(), p.n, p.v};
  const auto obj = rlvr::make_objective(rlvr::group_zscore{}, rlvr::ppo_clip{}, rlvr::token_mean{},
                                        rlvr::kl_full{.beta = 1e-3}, rlvr::entropy_bonus{.coef = 1e-3});
  const rlvr::eigen_backend be{.threads = 2};
  for (auto _ : st) {
    auto d = rlvr::loss_and_grad(be, obj, b, rlvr::matrix_view<float>(p.g.data(), p.n, p.v));
    benchmark::DoNotOptimize(d);
    benchmark::ClobberMemory();
  }
  counters(st, p.n, p.v, 5);
}

void fused_inplace(benchmark::State& st) {
  problem p(st.range(0), st.range(1));
  const auto b = p.batch();
  const rlvr::eigen_backend be{.threads = 2};
  for (auto _ : st) { // the logits are overwritten by gradients each time: values stay finite
    auto d = rlvr::loss_and_grad(be, objective, b, rlvr::matrix_view<float>(p.z.data(), p.n, p.v));
    benchmark::DoNotOptimize(d);
    benchmark::ClobberMemory();
  }
  counters(st, p.n, p.v, 3);
}

void forward(benchmark::State& st) {
  problem p(st.range(0), st.range(1));
  std::vector<float> lp(static_cast<std::size_t>(p.n)), h(lp.size());
  const rlvr::eigen_backend be{.threads = 2};
  for (auto _ : st) {
    rlvr::log_prob_entropy(be, rlvr::matrix_view<const float>(p.z.data(), p.n, p.v),
                           rlvr::vector_view<const rlvr::token_t>(p.y), rlvr::vector_view<float>(lp),
                           rlvr::vector_view<float>(h));
    benchmark::DoNotOptimize(lp.data());
    benchmark::ClobberMemory();
  }
  counters(st, p.n, p.v, 1);
}

// The naive multi-pass baseline (see the file comment). REINFORCE-style coefficient −A and an
// entropy bonus, so it does the same work as the fused path's hot loop.
void naive(benchmark::State& st) {
  problem p(st.range(0), st.range(1));
  std::vector<float> logsm(p.z.size()); // the N×V temporary
  std::vector<float> lp(static_cast<std::size_t>(p.n)), h(lp.size());
  const float ch = 1e-3f;
  for (auto _ : st) {
    rlvr::parallel_for(p.n, 2, [&](index_t b, index_t e) {
      for (index_t i = b; i < e; ++i) {
        const float* z = p.z.data() + i * p.v;
        float* ls = logsm.data() + i * p.v;
        float* g = p.g.data() + i * p.v;
        float m = -INFINITY;
        for (index_t j = 0; j < p.v; ++j) m = std::max(m, z[j]);
        float s = 0;
        for (index_t j = 0; j < p.v; ++j) s += std::exp(z[j] - m);
        const float lse = m + std::log(s);
        for (index_t j = 0; j < p.v; ++j) ls[j] = z[j] - lse;
        const auto iu = static_cast<std::size_t>(i);
        lp[iu] = ls[p.y[iu]];
        float ent = 0;
        for (index_t j = 0; j < p.v; ++j) ent -= std::exp(ls[j]) * ls[j];
        h[iu] = ent;
        const float c = -p.adv[iu] / static_cast<float>(p.n);
        for (index_t j = 0; j < p.v; ++j) {
          const float pj = std::exp(ls[j]);
          g[j] = c * pj + ch / static_cast<float>(p.n) * pj * (ls[j] + ent);
        }
        g[p.y[iu]] -= c;
      }
    });
    benchmark::DoNotOptimize(p.g.data());
    benchmark::ClobberMemory();
  }
  counters(st, p.n, p.v, 3);
}

void copy(benchmark::State& st) {
  problem p(st.range(0), st.range(1));
  for (auto _ : st) {
    rlvr::parallel_for(p.n, 2, [&](index_t b, index_t e) {
      std::memcpy(p.g.data() + b * p.v, p.z.data() + b * p.v, static_cast<std::size_t>((e - b) * p.v) * sizeof(float));
    });
    benchmark::DoNotOptimize(p.g.data());
    benchmark::ClobberMemory();
  }
  counters(st, p.n, p.v, 2);
}

void serial(benchmark::State& st) {
  problem p(st.range(0), st.range(1));
  const auto b = p.batch();
  for (auto _ : st) {
    auto d = rlvr::loss_and_grad(rlvr::serial_backend{}, objective, b, rlvr::matrix_view<float>(p.g.data(), p.n, p.v));
    benchmark::DoNotOptimize(d);
  }
  counters(st, p.n, p.v, 3);
}

constexpr index_t exp_n = 1 << 20;
std::vector<float> exp_input() {
  std::vector<float> x(exp_n);
  for (index_t i = 0; i < exp_n; ++i) x[static_cast<std::size_t>(i)] = -30.0f + 30.0f * static_cast<float>(i) / exp_n;
  return x;
}
void exp_rlvr(benchmark::State& st) {
  const auto x = exp_input();
  std::vector<float> y(x.size());
  for (auto _ : st) {
    rlvr::detail::exp_array(x.data(), y.data(), exp_n);
    benchmark::DoNotOptimize(y.data());
  }
  st.counters["exp/s"] = benchmark::Counter(exp_n, benchmark::Counter::kIsIterationInvariantRate);
}
void exp_std(benchmark::State& st) {
  const auto x = exp_input();
  std::vector<float> y(x.size());
  for (auto _ : st) {
    for (std::size_t i = 0; i < x.size(); ++i) y[i] = std::exp(x[i]);
    benchmark::DoNotOptimize(y.data());
  }
  st.counters["exp/s"] = benchmark::Counter(exp_n, benchmark::Counter::kIsIterationInvariantRate);
}
void exp_eigen(benchmark::State& st) {
  const auto x = exp_input();
  std::vector<float> y(x.size());
  Eigen::Map<const Eigen::ArrayXf> xm(x.data(), exp_n);
  Eigen::Map<Eigen::ArrayXf> ym(y.data(), exp_n);
  for (auto _ : st) {
    ym = xm.exp();
    benchmark::DoNotOptimize(y.data());
  }
  st.counters["exp/s"] = benchmark::Counter(exp_n, benchmark::Counter::kIsIterationInvariantRate);
}
#if RLVR_BENCH_XSIMD
void exp_xsimd(benchmark::State& st) {
  const auto x = exp_input();
  std::vector<float> y(x.size());
  using bt = xsimd::batch<float>;
  for (auto _ : st) {
    for (std::size_t i = 0; i < x.size(); i += bt::size) xsimd::exp(bt::load_unaligned(x.data() + i)).store_unaligned(y.data() + i);
    benchmark::DoNotOptimize(y.data());
  }
  st.counters["exp/s"] = benchmark::Counter(exp_n, benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(exp_xsimd);
#endif

void shapes(benchmark::internal::Benchmark* b) {
  for (long n : {512, 4096})
    for (long v : {32000, 151936}) b->Args({n, v});
  b->Unit(benchmark::kMillisecond)->UseRealTime()->MeasureProcessCPUTime();
}
} // namespace

BENCHMARK(fused)->Apply(shapes);
BENCHMARK(fused_inplace)->Apply(shapes);
BENCHMARK(fused_park)
    ->Args({512, 32000, 0})
    ->Args({512, 32000, 1 << 30})
    ->Args({512, 151936, 0})
    ->Args({512, 151936, 1 << 30})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->MeasureProcessCPUTime();
BENCHMARK(fused_kl_full)->Args({512, 32000})->Unit(benchmark::kMillisecond)->UseRealTime()->MeasureProcessCPUTime();
BENCHMARK(forward)->Apply(shapes);
BENCHMARK(naive)->Apply(shapes);
BENCHMARK(copy)->Apply(shapes);
BENCHMARK(serial)->Args({512, 32000})->Unit(benchmark::kMillisecond)->UseRealTime()->MeasureProcessCPUTime();
BENCHMARK(exp_rlvr);
BENCHMARK(exp_std);
BENCHMARK(exp_eigen);

BENCHMARK_MAIN();
