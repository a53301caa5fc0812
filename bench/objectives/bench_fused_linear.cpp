// bench_fused_linear: the LM head fused with the objective (rlvr/fused_linear.hpp) against the
// unfused rlvr path, in the same binary.
//
// Shapes: N = 1024 tokens, d = 512, V ∈ {32000, 151936}, float32, GRPO (clip, k3 KL, entropy
// bonus 1e-3), τ = 1, eigen_backend{.threads = 2}. Paths:
//   unfused/V      z = H·Wᵀ + b (Eigen GEMM over fixed 64-row blocks, 2 threads), then
//                  rlvr::loss_and_grad in place (the gradient overwrites z), then ∂H = G·W
//                  (64-row blocks) and ∂W = Gᵀ·H, ∂b = Σ_t G (256-row tiles of W): the same
//                  GEMM engine and thread split as the fused path, with the [N, V] logits
//   fused/V/C      rlvr::fused_linear_loss_and_grad with vocab_chunk C (several, to show the
//                  chunk trade-off)
// Memory: this binary replaces the global operator new/delete and tracks the bytes live on the
// heap; "extra_MiB" is the peak of live bytes during one call minus the bytes live before it,
// i.e. everything the path allocates beyond its inputs (H, W, b, per-token arrays) and outputs
// (∂H, ∂W, ∂b): the logits for the unfused path, the chunk buffer and per-row state for the
// fused one. Eigen's GEMM packing buffers (std::malloc, a few hundred KiB per thread, the same
// in both paths) are not counted.
// Time: wall time per call (UseRealTime) and the process's CPU time over all threads
// (MeasureProcessCPUTime). The machine may be shared: compare ratios from one run only. After the
// Google Benchmark table the binary prints a Markdown table of the ratios (fused / unfused),
// computed from the same run (docs/performance.md copies it from the committed output).
#include <benchmark/benchmark.h>

#include <rlvr/backends/eigen.hpp>
#include <rlvr/fused_linear.hpp>
#include <rlvr/loss.hpp>
#include <rlvr/parallel.hpp>

#include <Eigen/Core>
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <new>
#include <string>
#include <vector>

// ---- heap accounting -------------------------------------------------------------------------
namespace {
std::atomic<long long> live_bytes{0}, peak_bytes{0};
constexpr std::size_t header = alignof(std::max_align_t);
void* counted_alloc(std::size_t n) {
  auto* p = static_cast<unsigned char*>(std::malloc(n + header));
  if (p == nullptr) throw std::bad_alloc();
  *reinterpret_cast<std::size_t*>(p) = n;
  const long long now = live_bytes.fetch_add(static_cast<long long>(n)) + static_cast<long long>(n);
  long long pk = peak_bytes.load();
  while (now > pk && !peak_bytes.compare_exchange_weak(pk, now)) {
  }
  return p + header;
}
void counted_free(void* q) noexcept {
  if (q == nullptr) return;
  auto* p = static_cast<unsigned char*>(q) - header;
  live_bytes.fetch_sub(static_cast<long long>(*reinterpret_cast<std::size_t*>(p)));
  std::free(p);
}
} // namespace
void* operator new(std::size_t n) { return counted_alloc(n); }
void* operator new[](std::size_t n) { return counted_alloc(n); }
void operator delete(void* p) noexcept { counted_free(p); }
void operator delete[](void* p) noexcept { counted_free(p); }
void operator delete(void* p, std::size_t) noexcept { counted_free(p); }
void operator delete[](void* p, std::size_t) noexcept { counted_free(p); }

namespace {
using rlvr::index_t;
template <class T> using cmap = Eigen::Map<const rlvr::row_matrix<T>>;
template <class T> using mmap = Eigen::Map<rlvr::row_matrix<T>>;

constexpr index_t n_tokens = 1024, d_model = 512;
constexpr int threads = 2;

// N(0, σ²) numbers from a 64-bit LCG + Box–Muller (deterministic, cheap).
std::vector<float> normals(std::size_t count, double sigma, std::uint64_t seed) {
  std::vector<float> out(count);
  std::uint64_t s = seed;
  for (std::size_t i = 0; i < count; i += 2) {
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    const double u1 = (static_cast<double>(s >> 11) + 1.0) * 0x1.0p-53;
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    const double u2 = static_cast<double>(s >> 11) * 0x1.0p-53;
    const double r = sigma * std::sqrt(-2.0 * std::log(u1));
    out[i] = static_cast<float>(r * std::cos(6.283185307179586 * u2));
    if (i + 1 < count) out[i + 1] = static_cast<float>(r * std::sin(6.283185307179586 * u2));
  }
  return out;
}

// One problem: H [N, d] ~ N(0, 1), W [V, d] ~ N(0, 4/d) (logits ~ N(0, 2²), as bench_objectives),
// b ~ N(0, 0.1²), GRPO advantages ±1 by group, log π_old and log π_ref near −10.
struct problem {
  index_t v;
  std::vector<float> h, w, b, adv, old_logp, ref_logp;
  std::vector<rlvr::token_t> y;
  std::vector<float> gh, gw, gb; // outputs
  explicit problem(index_t v_)
      : v(v_), h(normals(static_cast<std::size_t>(n_tokens * d_model), 1.0, 1)),
        w(normals(static_cast<std::size_t>(v_ * d_model), 2.0 / std::sqrt(double(d_model)), 2)),
        b(normals(static_cast<std::size_t>(v_), 0.1, 3)) {
    const auto noise = normals(static_cast<std::size_t>(2 * n_tokens), 0.3, 4);
    for (index_t t = 0; t < n_tokens; ++t) {
      y.push_back(static_cast<rlvr::token_t>((t * 7919) % v));
      adv.push_back((t / 16) % 2 ? 1.0f : -1.0f);
      old_logp.push_back(-10.0f + noise[static_cast<std::size_t>(t)]);
      ref_logp.push_back(-10.0f + noise[static_cast<std::size_t>(n_tokens + t)]);
    }
    gh.resize(h.size());
    gw.resize(w.size());
    gb.resize(b.size());
  }
  rlvr::loss_token_batch<float> batch() const {
    rlvr::loss_token_batch<float> tb{};
    tb.targets = y;
    tb.advantages = {adv.data(), 1, n_tokens};
    tb.old_logp = old_logp;
    tb.ref_logp = ref_logp;
    return tb;
  }
};

const auto objective = rlvr::grpo({.entropy = {.coef = 1e-3}});

rlvr::loss_diagnostics run_unfused(problem& p) {
  const index_t n = n_tokens, d = d_model, v = p.v, rb = 64, tile = 256;
  std::vector<float> z(static_cast<std::size_t>(n * v));
  const cmap<float> h(p.h.data(), n, d), w(p.w.data(), v, d);
  rlvr::parallel_for((n + rb - 1) / rb, threads, [&](index_t b0, index_t b1) {
    for (index_t blk = b0; blk < b1; ++blk) {
      const index_t r0 = blk * rb, rn = std::min(rb, n - r0);
      mmap<float> zb(z.data() + r0 * v, rn, v);
      zb.noalias() = h.middleRows(r0, rn) * w.transpose();
      zb.rowwise() += Eigen::Map<const Eigen::RowVectorXf>(p.b.data(), v);
    }
  });
  auto tb = p.batch();
  tb.logits = {z.data(), n, v};
  const auto diag = rlvr::loss_and_grad(rlvr::eigen_backend{.threads = threads}, objective, tb,
                                        rlvr::matrix_view<float>(z.data(), n, v));
  const cmap<float> g(z.data(), n, v);
  rlvr::parallel_for((n + rb - 1) / rb, threads, [&](index_t b0, index_t b1) {
    for (index_t blk = b0; blk < b1; ++blk) {
      const index_t r0 = blk * rb, rn = std::min(rb, n - r0);
      mmap<float>(p.gh.data() + r0 * d, rn, d).noalias() = g.middleRows(r0, rn) * w;
    }
  });
  rlvr::parallel_for((v + tile - 1) / tile, threads, [&](index_t t0, index_t t1) {
    for (index_t t = t0; t < t1; ++t) {
      const index_t j0 = t * tile, jn = std::min(tile, v - j0);
      mmap<float>(p.gw.data() + j0 * d, jn, d).noalias() = g.middleCols(j0, jn).transpose() * h;
      Eigen::Map<Eigen::RowVectorXf>(p.gb.data() + j0, jn) = g.middleCols(j0, jn).colwise().sum();
    }
  });
  return diag;
}

rlvr::loss_diagnostics run_fused(problem& p, index_t chunk) {
  return rlvr::fused_linear_loss_and_grad(
      rlvr::eigen_backend{.threads = threads}, objective, rlvr::matrix_view<const float>(p.h.data(), n_tokens, d_model),
      rlvr::matrix_view<const float>(p.w.data(), p.v, d_model), rlvr::vector_view<const float>(p.b), p.batch(),
      rlvr::matrix_view<float>(p.gh.data(), n_tokens, d_model), rlvr::matrix_view<float>(p.gw.data(), p.v, d_model),
      rlvr::vector_view<float>(p.gb), {.vocab_chunk = chunk});
}

struct record {
  double ms = 0, cpu_ms = 0, mib = 0, loss = 0;
};
std::vector<std::pair<std::string, record>> results; // in run order

template <class F> void measure(benchmark::State& st, const std::string& key, F&& call) {
  record r;
  for (auto _ : st) {
    const long long base = live_bytes.load();
    peak_bytes.store(base);
    const auto d = call();
    r.mib = std::max(r.mib, static_cast<double>(peak_bytes.load() - base) / (1024.0 * 1024.0));
    r.loss = d.loss;
    benchmark::DoNotOptimize(d);
  }
  st.counters["extra_MiB"] = r.mib;
  st.counters["loss"] = r.loss;
  results.emplace_back(key, r);
}

void unfused(benchmark::State& st) {
  problem p(st.range(0));
  measure(st, "unfused/" + std::to_string(p.v), [&] { return run_unfused(p); });
}
void fused(benchmark::State& st) {
  problem p(st.range(0));
  measure(st, "fused/" + std::to_string(p.v) + "/" + std::to_string(st.range(1)), [&] { return run_fused(p, st.range(1)); });
}

void common(benchmark::internal::Benchmark* b) {
  b->Unit(benchmark::kMillisecond)->UseRealTime()->MeasureProcessCPUTime()->Iterations(2);
}
BENCHMARK(unfused)->Arg(32000)->Apply(common);
BENCHMARK(fused)->Args({32000, 256})->Args({32000, 1024})->Args({32000, 2048})->Args({32000, 4096})->Args({32000, 16384})->Apply(common);
BENCHMARK(unfused)->Arg(151936)->Apply(common)->Iterations(1);
BENCHMARK(fused)->Args({151936, 1024})->Args({151936, 4096})->Apply(common)->Iterations(1);

// Times per call come back through a reporter that also records them by name.
class recording_reporter : public benchmark::ConsoleReporter {
public:
  recording_reporter() : ConsoleReporter(OO_Tabular) {} // no colour codes (the output is committed)
  void ReportRuns(const std::vector<Run>& runs) override {
    for (const auto& r : runs) {
      // "fused/32000/4096/iterations:2/process_time/real_time" → "fused/32000/4096"
      std::string name = r.benchmark_name();
      for (const char* suffix : {"/iterations", "/process_time", "/real_time"})
        name = name.substr(0, name.find(suffix));
      times[name] = {r.GetAdjustedRealTime(), r.GetAdjustedCPUTime()};
    }
    ConsoleReporter::ReportRuns(runs);
  }
  std::map<std::string, std::pair<double, double>> times; // name → (ms wall, ms CPU)
};
} // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  recording_reporter rep;
  benchmark::RunSpecifiedBenchmarks(&rep);
  auto& t = rep.times;
  std::printf("\nfused vs unfused (N = %lld, d = %lld, float, GRPO, %d threads; ratios from this run)\n\n",
              static_cast<long long>(n_tokens), static_cast<long long>(d_model), threads);
  std::printf("| V | chunk C | unfused ms (CPU ms) | fused ms (CPU ms) | time fused/unfused (CPU) | unfused extra MiB | "
              "fused extra MiB | memory fused/unfused | loss difference |\n|---|---|---|---|---|---|---|---|---|\n");
  for (const auto& [key, f] : results) {
    if (key.rfind("fused/", 0) != 0) continue;
    const std::string rest = key.substr(6);
    const std::string v = rest.substr(0, rest.find('/')), c = rest.substr(rest.find('/') + 1);
    const auto u = std::find_if(results.begin(), results.end(), [&](const auto& e) { return e.first == "unfused/" + v; });
    if (u == results.end() || !t.count(key) || !t.count("unfused/" + v)) continue;
    const auto tf = t[key], tu = t["unfused/" + v];
    std::printf("| %s | %s | %.0f (%.0f) | %.0f (%.0f) | %.2f (%.2f) | %.1f | %.1f | %.4f | %.2g |\n", v.c_str(), c.c_str(),
                tu.first, tu.second, tf.first, tf.second, tf.first / tu.first, tf.second / tu.second, u->second.mib, f.mib,
                f.mib / u->second.mib, std::abs(f.loss - u->second.loss));
  }
  benchmark::Shutdown();
  return 0;
}
