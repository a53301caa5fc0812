// bench_cuda: the CUDA backend's hot paths, timed with CUDA events (manual time).
//
// Paths covered, all at the issue's shapes (N = 4096 tokens × V = 151936, Qwen's vocabulary;
// sampling 64 rows × 151936):
//   BM_copy_d2d            the device-to-device copy of the logits (cudaMemcpyAsync): the
//                          bandwidth ceiling, measured in the same run (bytes read + written)
//   BM_fused_loss_grad     rlvr::cuda::fused_rows with GRPO's epilogue (PPO clip, k3 KL): log π,
//                          entropy, loss and dL/dlogits; float32 and bf16 logits (gradient in
//                          the logits' type), out of place and in place. Counter `frac_of_copy`:
//                          (2 reads + 1 write of the logits)/time ÷ the copy bandwidth above.
//   BM_logp_entropy        forward only (1 read of the logits)
//   BM_sample_top_p        rlvr::cuda::sample, τ = 0.6, top-p 0.95 (radix select, no sort), the
//                          default path (split rows — one thread-block cluster per row — on sm_90+)
//   BM_sample_temperature  rlvr::cuda::sample, τ = 1, no filter
//   BM_sample_top_k, _min_p  τ = 0.6 with top-k 50 / min-p 0.05
//   BM_sample_*_one_block  the same, forced onto the one-block-per-row kernel (the baseline of the
//                          split path, same run); BM_sample_top_p_split<B>x<T>: other cluster shapes
//   BM_sort_top_p          the sort-based idiom with CUB (softmax → segmented radix sort of
//                          (p, id) descending → per-row scan to the nucleus → inverse-CDF draw):
//                          the baseline the radix-select sampler is compared with
//   BM_group_stats         per-group reward mean/std, 65536 rewards in 8192 groups
// Compare bench/cuda/torch_reference.py (PyTorch eager on the same GPU, same shapes).
#if __has_include(<benchmark/benchmark.h>) && !defined(RLVR_MINI_BENCHMARK)
#include <benchmark/benchmark.h>
#else
#include "cuda/mini_benchmark.hpp"
#endif

#include <cstdint>
#include <cstdio>
#include <vector>

#include <cub/device/device_segmented_radix_sort.cuh>
#include <cub/block/block_scan.cuh>
#include <cuda_bf16.h>

#include "rlvr/backends/cuda/error.cuh"
#include "rlvr/backends/cuda/fused_loss.cuh"
#include "rlvr/backends/cuda/group_stats.cuh"
#include "rlvr/backends/cuda/memory.cuh"
#include "rlvr/backends/cuda/sampling.cuh"
#include "rlvr/loss.hpp"
#include "rlvr/sampling/sampler.hpp"

namespace {

using rlvr::index_t;
using namespace rlvr::cuda;

constexpr index_t kTokens = 4096;
constexpr index_t kVocab = 151936;
constexpr index_t kSampleRows = 64;

bool have_device() { return device_count() > 0; }

// Fills a device buffer with logits ~ 3·N(0,1)-ish (a cheap hash, deterministic).
template <class T> __global__ void fill_kernel(T* x, index_t n, std::uint32_t seed) {
  for (index_t i = blockIdx.x * static_cast<index_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<index_t>(gridDim.x) * blockDim.x) {
    std::uint32_t h = static_cast<std::uint32_t>(i) * 2654435761u ^ seed;
    h ^= h >> 15;
    h *= 2246822519u;
    h ^= h >> 13;
    const float u = static_cast<float>(h & 0xFFFFFF) / 16777216.0f; // [0, 1)
    const float v = 6.0f * (u - 0.5f) + ((h >> 24) == 0 ? 8.0f : 0.0f); // a few large logits
    if constexpr (std::is_same_v<T, __nv_bfloat16>)
      x[i] = __float2bfloat16_rn(v);
    else
      x[i] = static_cast<T>(v);
  }
}
template <class T> void fill(device_buffer<T>& b, std::uint32_t seed) {
  fill_kernel<<<4096, 256, 0, b.get_stream()>>>(b.data(), b.size(), seed);
  RLVR_CUDA_CHECK_LAUNCH();
}

// CUDA-event timing of one enqueued piece of work.
struct event_timer {
  cudaEvent_t a{}, b{};
  event_timer() {
    RLVR_CUDA_CHECK(cudaEventCreate(&a));
    RLVR_CUDA_CHECK(cudaEventCreate(&b));
  }
  ~event_timer() {
    (void)cudaEventDestroy(a);
    (void)cudaEventDestroy(b);
  }
  template <class F> double seconds(cudaStream_t s, F&& work) {
    RLVR_CUDA_CHECK(cudaEventRecord(a, s));
    work();
    RLVR_CUDA_CHECK(cudaEventRecord(b, s));
    RLVR_CUDA_CHECK(cudaEventSynchronize(b));
    float ms = 0;
    RLVR_CUDA_CHECK(cudaEventElapsedTime(&ms, a, b));
    return static_cast<double>(ms) * 1e-3;
  }
};

// Device-to-device copy bandwidth (bytes read + written per second) of the float logits, measured
// once per run and shared with the fused-loss benchmarks' `frac_of_copy` counter.
double& copy_bandwidth() {
  static double bw = 0.0;
  return bw;
}

// Sums the event-timed iteration times, so that counters which are not rates (frac_of_copy) can
// use the mean iteration time: rates use Counter::kIsIterationInvariantRate (value per iteration
// ÷ time per iteration), never kIsRate (which divides a per-iteration value by the total time).
struct timed_loop {
  double total = 0;
  std::int64_t iters = 0;
  void record(benchmark::State& state, double sec) {
    state.SetIterationTime(sec);
    total += sec;
    ++iters;
  }
  // (bytes / mean time) / copy bandwidth, a plain fraction (1 = as fast as the copy).
  [[nodiscard]] double frac_of_copy(double bytes) const {
    return total > 0 ? bytes * static_cast<double>(iters) / total / copy_bandwidth() : 0.0;
  }
};

void BM_copy_d2d(benchmark::State& state) {
  if (!have_device()) return state.SkipWithError("no CUDA device");
  stream s;
  const index_t n = kTokens * kVocab;
  device_buffer<float> src(n, s.get()), dst(n, s.get());
  fill(src, 1);
  event_timer t;
  double total = 0;
  std::int64_t iters = 0;
  for (auto _ : state) {
    const double sec = t.seconds(s.get(), [&] {
      RLVR_CUDA_CHECK(cudaMemcpyAsync(dst.data(), src.data(), src.bytes(), cudaMemcpyDeviceToDevice, s.get()));
    });
    state.SetIterationTime(sec);
    total += sec;
    ++iters;
  }
  const double bytes = 2.0 * static_cast<double>(src.bytes());
  copy_bandwidth() = bytes * static_cast<double>(iters) / total;
  state.counters["bytes_per_second"] = benchmark::Counter(bytes, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["GBps"] = benchmark::Counter(bytes * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_copy_d2d)->UseManualTime()->Unit(benchmark::kMillisecond);

// GRPO's epilogue with device arrays (advantages, weights, old/ref log-probs, per-token outputs).
struct grpo_fixture {
  using O = rlvr::grpo_objective;
  O obj = rlvr::grpo();
  device_buffer<float> adv, w, old, ref, logp, ent, loss;
  device_buffer<std::uint8_t> flags;
  device_buffer<rlvr::token_t> targets;
  explicit grpo_fixture(cudaStream_t s)
      : adv(kTokens, s), w(kTokens, s), old(kTokens, s), ref(kTokens, s), logp(kTokens, s), ent(kTokens, s),
        loss(kTokens, s), flags(kTokens, s), targets(kTokens, s) {
    std::vector<float> a(kTokens), ww(kTokens, 1.0f / kTokens), o(kTokens), r(kTokens);
    std::vector<rlvr::token_t> y(kTokens);
    for (index_t i = 0; i < kTokens; ++i) {
      a[i] = (i % 3 == 0) ? 1.0f : -0.5f;
      o[i] = -5.0f - 0.001f * static_cast<float>(i % 100);
      r[i] = -5.0f + 0.001f * static_cast<float>(i % 50);
      y[i] = static_cast<rlvr::token_t>((i * 7919) % kVocab);
    }
    adv.upload(a);
    w.upload(ww);
    old.upload(o);
    ref.upload(r);
    targets.upload(y);
  }
  [[nodiscard]] rlvr::detail::loss_epilogue<float, O> epilogue() const {
    return {obj,        adv.data(), w.data(),    kTokens,     kTokens,     1, old.data(), ref.data(),
            logp.data(), ent.data(), loss.data(), flags.data()};
  }
};

template <class T, bool InPlace> void BM_fused_loss_grad(benchmark::State& state) {
  if (!have_device()) return state.SkipWithError("no CUDA device");
  stream s;
  const index_t n = kTokens * kVocab;
  device_buffer<T> x(n, s.get());
  device_buffer<T> g(InPlace ? 0 : n, s.get());
  fill(x, 2);
  grpo_fixture fx(s.get());
  const auto ep = fx.epilogue();
  const rlvr::matrix_view<const T, rlvr::cuda_space> z(x.data(), kTokens, kVocab);
  const rlvr::matrix_view<T, rlvr::cuda_space> gv(InPlace ? x.data() : g.data(), kTokens, kVocab);
  const rlvr::vector_view<const rlvr::token_t, rlvr::cuda_space> y(fx.targets.data(), kTokens);
  event_timer t;
  timed_loop loop;
  for (auto _ : state) {
    if (InPlace) fill(x, 2); // restore the logits; enqueued before the timed region
    loop.record(state, t.seconds(s.get(), [&] { fused_rows(s.backend(), z, y, 1.0f, ep, gv); }));
  }
  const double bytes = 3.0 * static_cast<double>(n) * sizeof(T); // 2 reads + 1 write
  state.counters["bytes_per_second"] = benchmark::Counter(bytes, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["tokens_per_second"] = benchmark::Counter(static_cast<double>(kTokens), benchmark::Counter::kIsIterationInvariantRate);
  // fraction of the copy bandwidth, a plain number: (bytes / mean iteration time) / copy bandwidth
  if (copy_bandwidth() > 0) state.counters["frac_of_copy"] = loop.frac_of_copy(bytes);
}
void BM_fused_loss_grad_f32(benchmark::State& s) { BM_fused_loss_grad<float, false>(s); }
void BM_fused_loss_grad_bf16(benchmark::State& s) { BM_fused_loss_grad<__nv_bfloat16, false>(s); }
void BM_fused_loss_grad_f32_in_place(benchmark::State& s) { BM_fused_loss_grad<float, true>(s); }
BENCHMARK(BM_fused_loss_grad_f32)->UseManualTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_fused_loss_grad_bf16)->UseManualTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_fused_loss_grad_f32_in_place)->UseManualTime()->Unit(benchmark::kMillisecond);

template <class T> void BM_logp_entropy(benchmark::State& state) {
  if (!have_device()) return state.SkipWithError("no CUDA device");
  stream s;
  const index_t n = kTokens * kVocab;
  device_buffer<T> x(n, s.get());
  fill(x, 3);
  grpo_fixture fx(s.get());
  event_timer t;
  timed_loop loop;
  for (auto _ : state)
    loop.record(state, t.seconds(s.get(), [&] {
      logp_entropy(s.backend(), rlvr::matrix_view<const T, rlvr::cuda_space>(x.data(), kTokens, kVocab),
                   rlvr::vector_view<const rlvr::token_t, rlvr::cuda_space>(fx.targets.data(), kTokens), 1.0f, fx.logp.view(),
                   fx.ent.view());
    }));
  const double bytes = static_cast<double>(n) * sizeof(T);
  state.counters["bytes_per_second"] = benchmark::Counter(bytes, benchmark::Counter::kIsIterationInvariantRate);
  if (copy_bandwidth() > 0) state.counters["frac_of_copy"] = loop.frac_of_copy(bytes);
}
void BM_logp_entropy_f32(benchmark::State& s) { BM_logp_entropy<float>(s); }
void BM_logp_entropy_bf16(benchmark::State& s) { BM_logp_entropy<__nv_bfloat16>(s); }
BENCHMARK(BM_logp_entropy_f32)->UseManualTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_logp_entropy_bf16)->UseManualTime()->Unit(benchmark::kMillisecond);

// Split-row shapes other than the default's (8 blocks × 256 threads per row), for tuning.
struct split8x512 : policy900 {
  static constexpr split_sampling_policy split_sampling{8, 512, 2, 32768, 1};
};
struct split4x512 : policy900 {
  static constexpr split_sampling_policy split_sampling{4, 512, 2, 32768, 1};
};
struct split4x256 : policy900 {
  static constexpr split_sampling_policy split_sampling{4, 256, 4, 32768, 1};
};

template <class Policy = policy900>
void run_sampler(benchmark::State& state, const rlvr::sampling_config& cfg,
                 sample_path path = sample_path::automatic, index_t rows = kSampleRows) {
  if (!have_device()) return state.SkipWithError("no CUDA device");
  if (path == sample_path::split && sample_path_for<split4x256>(1, 1 << 20) != sample_path::split)
    return state.SkipWithError("no thread-block clusters on this device");
  stream s;
  const index_t n = rows * kVocab;
  device_buffer<float> x(n, s.get());
  fill(x, 4);
  device_buffer<rlvr::token_draw<float>> out(rows, s.get());
  device_buffer<std::uint8_t> status(rows, s.get());
  const auto p = cfg.params();
  event_timer t;
  std::uint64_t step = 0;
  for (auto _ : state)
    state.SetIterationTime(t.seconds(s.get(), [&] {
      sample<Policy>(s.backend(), rlvr::matrix_view<const float, rlvr::cuda_space>(x.data(), rows, kVocab), p,
                     rlvr::basic_stream_batch<rlvr::cuda_space>{.seed = 1, .offset = step++}, out.data(), status.data(),
                     path);
    }));
  state.counters["rows_per_second"] =
      benchmark::Counter(static_cast<double>(rows), benchmark::Counter::kIsIterationInvariantRate);
  const bool split = path == sample_path::split ||
                     (path == sample_path::automatic &&
                      sample_path_for<Policy>(rows, kVocab) == sample_path::split);
  state.SetLabel(split ? "split rows" : "one block per row");
}
const rlvr::sampling_config kTopP{.temperature = 0.6, .top_p = 0.95};
const rlvr::sampling_config kTemperature{.temperature = 1.0};
const rlvr::sampling_config kTopK{.temperature = 0.6, .top_k = 50};
const rlvr::sampling_config kMinP{.temperature = 0.6, .min_p = 0.05};
constexpr auto kOneBlock = sample_path::one_block_per_row;
constexpr auto kSplit = sample_path::split;
// The default path (split rows on sm_90+ at 64 rows) and, in the same run, the one-block-per-row
// kernel and other split shapes.
void BM_sample_top_p(benchmark::State& state) { run_sampler(state, kTopP); }
void BM_sample_temperature(benchmark::State& state) { run_sampler(state, kTemperature); }
void BM_sample_top_k(benchmark::State& state) { run_sampler(state, kTopK); }
void BM_sample_min_p(benchmark::State& state) { run_sampler(state, kMinP); }
void BM_sample_top_p_one_block(benchmark::State& state) { run_sampler(state, kTopP, kOneBlock); }
void BM_sample_temperature_one_block(benchmark::State& state) { run_sampler(state, kTemperature, kOneBlock); }
void BM_sample_top_k_one_block(benchmark::State& state) { run_sampler(state, kTopK, kOneBlock); }
void BM_sample_top_p_split8x512(benchmark::State& state) { run_sampler<split8x512>(state, kTopP, kSplit); }
void BM_sample_top_p_split4x512(benchmark::State& state) { run_sampler<split4x512>(state, kTopP, kSplit); }
void BM_sample_top_p_split4x256(benchmark::State& state) { run_sampler<split4x256>(state, kTopP, kSplit); }
// 256 rows (beyond the default split rule's rows ≤ SM count): both kernels, for tuning that rule.
void BM_sample_top_p_256rows_split(benchmark::State& state) { run_sampler(state, kTopP, kSplit, 256); }
void BM_sample_top_p_256rows_one_block(benchmark::State& state) { run_sampler(state, kTopP, kOneBlock, 256); }
BENCHMARK(BM_sample_top_p)->UseManualTime()->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_sample_temperature)->UseManualTime()->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_sample_top_k)->UseManualTime()->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_sample_min_p)->UseManualTime()->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_sample_top_p_one_block)->UseManualTime()->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_sample_temperature_one_block)->UseManualTime()->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_sample_top_k_one_block)->UseManualTime()->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_sample_top_p_split8x512)->UseManualTime()->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_sample_top_p_split4x512)->UseManualTime()->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_sample_top_p_split4x256)->UseManualTime()->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_sample_top_p_256rows_split)->UseManualTime()->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_sample_top_p_256rows_one_block)->UseManualTime()->Unit(benchmark::kMicrosecond);

// ---- the sort-based baseline (CUB) ----------------------------------------------------------------
constexpr int kSortThreads = 512;

// p = softmax(z/τ) per row, and the ids 0..V−1 (one block per row).
__global__ void softmax_ids_kernel(const float* z, index_t v, float inv_tau, float* p, int* ids) {
  using reduce_t = cub::BlockReduce<float, kSortThreads>;
  __shared__ typename reduce_t::TempStorage tmp;
  __shared__ float sm_max, sm_sum;
  const float* row = z + blockIdx.x * v;
  float m = -INFINITY;
  for (index_t j = threadIdx.x; j < v; j += kSortThreads) m = fmaxf(m, row[j] * inv_tau);
  const float bm = reduce_t(tmp).Reduce(m, [](float a, float b) { return fmaxf(a, b); });
  if (threadIdx.x == 0) sm_max = bm;
  __syncthreads();
  float sum = 0;
  for (index_t j = threadIdx.x; j < v; j += kSortThreads) sum += __expf(row[j] * inv_tau - sm_max);
  const float bs = reduce_t(tmp).Sum(sum);
  if (threadIdx.x == 0) sm_sum = bs;
  __syncthreads();
  for (index_t j = threadIdx.x; j < v; j += kSortThreads) {
    p[blockIdx.x * v + j] = __expf(row[j] * inv_tau - sm_max) / sm_sum;
    ids[blockIdx.x * v + j] = static_cast<int>(j);
  }
}

// On sorted probabilities: cut at cumulative ≥ top_p, draw u·mass by inverse CDF (block scan).
__global__ void nucleus_draw_kernel(const float* sp, const int* sid, index_t v, float top_p, std::uint64_t seed,
                                    std::uint64_t offset, int* out) {
  using scan_t = cub::BlockScan<float, kSortThreads>;
  __shared__ typename scan_t::TempStorage tmp;
  __shared__ float carry, cutoff_mass, target;
  __shared__ int cut, pick;
  const float* row = sp + blockIdx.x * v;
  if (threadIdx.x == 0) {
    carry = 0;
    cut = static_cast<int>(v);
    pick = -1;
  }
  __syncthreads();
  // pass 1: where does the cumulative mass reach top_p?
  for (index_t base = 0; base < v; base += kSortThreads) {
    const index_t j = base + threadIdx.x;
    const float x = j < v ? row[j] : 0.0f;
    float incl, agg;
    scan_t(tmp).InclusiveSum(x, incl, agg);
    const float c = carry + incl;
    if (j < v && c >= top_p && c - x < top_p) {
      cut = static_cast<int>(j) + 1;
      cutoff_mass = c;
    }
    __syncthreads();
    if (threadIdx.x == 0) carry += agg;
    __syncthreads();
    if (cut < v) break;
  }
  if (threadIdx.x == 0) {
    if (cut == v) cutoff_mass = carry;
    target = static_cast<float>(rlvr::philox_stream{seed, blockIdx.x}.uniform(offset)) * cutoff_mass;
    carry = 0;
  }
  __syncthreads();
  // pass 2: inverse CDF within the nucleus
  for (index_t base = 0; base < cut; base += kSortThreads) {
    const index_t j = base + threadIdx.x;
    const float x = j < cut ? row[j] : 0.0f;
    float incl, agg;
    scan_t(tmp).InclusiveSum(x, incl, agg);
    const float c = carry + incl;
    if (j < cut && c > target && c - x <= target) pick = sid[blockIdx.x * v + j];
    __syncthreads();
    if (threadIdx.x == 0) carry += agg;
    __syncthreads();
    if (pick >= 0) break;
  }
  if (threadIdx.x == 0) out[blockIdx.x] = pick >= 0 ? pick : sid[blockIdx.x * v + cut - 1];
}

void BM_sort_top_p(benchmark::State& state) {
  if (!have_device()) return state.SkipWithError("no CUDA device");
  stream s;
  const index_t n = kSampleRows * kVocab;
  device_buffer<float> x(n, s.get()), p(n, s.get()), sp(n, s.get());
  device_buffer<int> ids(n, s.get()), sid(n, s.get()), out(kSampleRows, s.get());
  fill(x, 4);
  std::vector<int> offs(kSampleRows + 1);
  for (index_t i = 0; i <= kSampleRows; ++i) offs[i] = static_cast<int>(i * kVocab);
  auto d_offs = to_device(offs, s.get());
  std::size_t temp_bytes = 0;
  RLVR_CUDA_CHECK(cub::DeviceSegmentedRadixSort::SortPairsDescending(
      nullptr, temp_bytes, p.data(), sp.data(), ids.data(), sid.data(), static_cast<int>(n),
      static_cast<int>(kSampleRows), d_offs.data(), d_offs.data() + 1, 0, 32, s.get()));
  device_buffer<unsigned char> temp(static_cast<index_t>(temp_bytes), s.get());
  event_timer t;
  std::uint64_t step = 0;
  for (auto _ : state)
    state.SetIterationTime(t.seconds(s.get(), [&] {
      softmax_ids_kernel<<<kSampleRows, kSortThreads, 0, s.get()>>>(x.data(), kVocab, 1.0f / 0.6f, p.data(), ids.data());
      RLVR_CUDA_CHECK(cub::DeviceSegmentedRadixSort::SortPairsDescending(
          temp.data(), temp_bytes, p.data(), sp.data(), ids.data(), sid.data(), static_cast<int>(n),
          static_cast<int>(kSampleRows), d_offs.data(), d_offs.data() + 1, 0, 32, s.get()));
      nucleus_draw_kernel<<<kSampleRows, kSortThreads, 0, s.get()>>>(sp.data(), sid.data(), kVocab, 0.95f, 1, step++,
                                                                     out.data());
    }));
  state.counters["rows_per_second"] = benchmark::Counter(static_cast<double>(kSampleRows), benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_sort_top_p)->UseManualTime()->Unit(benchmark::kMicrosecond);

void BM_group_stats(benchmark::State& state) {
  if (!have_device()) return state.SkipWithError("no CUDA device");
  stream s;
  const index_t n = 65536, groups = 8192;
  std::vector<float> r(n);
  std::vector<std::int32_t> g(n);
  for (index_t i = 0; i < n; ++i) {
    r[i] = static_cast<float>((i * 37) % 2);
    g[i] = static_cast<std::int32_t>((i * 7919) % groups);
  }
  auto dr = to_device(r, s.get());
  auto dg = to_device(g, s.get());
  device_buffer<double> mean(groups, s.get()), sd(groups, s.get());
  event_timer t;
  for (auto _ : state)
    state.SetIterationTime(t.seconds(s.get(), [&] {
      group_stats(s.backend(), rlvr::vector_view<const float, rlvr::cuda_space>(dr.data(), n),
                  rlvr::vector_view<const std::int32_t, rlvr::cuda_space>(dg.data(), n), groups,
                  group_stats_outputs{mean.data(), sd.data(), nullptr, nullptr});
    }));
}
BENCHMARK(BM_group_stats)->UseManualTime()->Unit(benchmark::kMicrosecond);

} // namespace

BENCHMARK_MAIN();
