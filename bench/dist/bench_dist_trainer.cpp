// One trainer step (rollout, verification, log-probs, 4 mini-batch updates) of the study's model
// (a 2-layer d = 64 transformer, the Z_53 walk task, G = 8, NSR) on R MPI ranks, against the same
// step on rank 0 alone in the same run (the baseline). Run it under mpirun (scripts/bench-dist.sh):
//
//   strong/<mode>  the global batch is 32 prompts, cut into S = 4 shards, on R ranks
//   weak/<mode>    8 prompts per rank (R·8 in all), S = 4 shards per rank's worth
//   */single       the same step on rank 0 alone (single_process communicator, the same S), while
//                  the other ranks wait — the baseline the ratio is taken against
//
// `warmup` runs first and is not reported. Every benchmark runs a fixed number of iterations
// (every rank must run the same collectives);
// rank 0 reports, the others print nothing. Wall-clock time (UseRealTime).
#include <benchmark/benchmark.h>

#include <cstdio>
#include <optional>
#include <utility>
#include <string_view>
#include <string>
#include <vector>

#include <rlvr/backends/eigen.hpp>
#include <rlvr/dist/mpi.hpp>
#include <rlvr/optim/adam.hpp>
#include <rlvr/policy/transformer.hpp>
#include <rlvr/tasks/reward.hpp>
#include <rlvr/tasks/zp_walk.hpp>
#include <rlvr/trainer/trainer.hpp>

namespace {
using namespace rlvr;
dist::mpi_communicator* g_world = nullptr;

const tasks::zp_walk& task() {
  static const tasks::zp_walk t({.modulus = 53});
  return t;
}
std::vector<std::vector<token_t>> prompts(index_t n, index_t step) {
  philox_engine g(7, static_cast<std::uint64_t>(step));
  std::vector<std::vector<token_t>> p;
  for (index_t i = 0; i < n; ++i) p.push_back(task().problem(g, tasks::split::train));
  return p;
}
template <class C> void run_steps(benchmark::State& state, C comm, index_t n_prompts, index_t shards, bool active) {
  transformer_policy model({.vocab_size = task().vocab().size(), .context_length = 32, .d_model = 64, .n_layers = 2,
                            .n_heads = 4, .seed = 1, .threads = 1});
  adamw opt({.lr = 3e-4});
  const trainer_config cfg{.group_size = 8, .max_response_tokens = task().max_response_length(),
                           .eos = task().vocab().eos(), .pad = task().vocab().pad(), .mini_batches = 4,
                           .seed = 3, .shards = shards};
  std::optional<trainer<transformer_policy, tasks::verifier<tasks::zp_walk>, nsr_objective, adamw, eigen_backend, C>> tr;
  if (active) tr.emplace(model, opt, tasks::verifier{task()}, nsr(), eigen_backend{.threads = 1}, cfg, comm);
  index_t step = 0, tokens = 0;
  for (auto _ : state) {
    if (!active) continue;
    const step_metrics m = tr->step(prompts(n_prompts, step++));
    tokens += static_cast<index_t>(m.response_length * static_cast<double>(m.responses));
  }
  state.counters["prompts"] = static_cast<double>(n_prompts);
  state.counters["tokens/s"] = benchmark::Counter(static_cast<double>(tokens), benchmark::Counter::kIsRate);
  g_world->barrier(); // the next benchmark starts together
}
constexpr int iters = 8;
void strong_ranks(benchmark::State& s) { run_steps(s, *g_world, 32, 4, true); }
void strong_single(benchmark::State& s) { run_steps(s, dist::single_process{}, 32, 4, g_world->rank() == 0); }
void weak_ranks(benchmark::State& s) { run_steps(s, *g_world, 8 * g_world->size(), 4 * g_world->size(), true); }
void weak_single(benchmark::State& s) { run_steps(s, dist::single_process{}, 8, 4, g_world->rank() == 0); }
void strong_fast(benchmark::State& s) {
  // the fast reduction: one all-reduce instead of the gather of every shard's gradient
  transformer_policy model({.vocab_size = task().vocab().size(), .context_length = 32, .d_model = 64, .n_layers = 2,
                            .n_heads = 4, .seed = 1, .threads = 1});
  adamw opt({.lr = 3e-4});
  trainer tr(model, opt, tasks::verifier{task()}, nsr(), eigen_backend{.threads = 1},
             {.group_size = 8, .max_response_tokens = task().max_response_length(), .eos = task().vocab().eos(),
              .pad = task().vocab().pad(), .mini_batches = 4, .seed = 3, .shards = 4,
              .reduction = gradient_reduction::fast},
             *g_world);
  index_t step = 0;
  for (auto _ : s) tr.step(prompts(32, step++));
  g_world->barrier();
}
} // namespace

int main(int argc, char** argv) {
  dist::mpi_session session(&argc, &argv);
  dist::mpi_communicator world;
  g_world = &world;
  // only rank 0 writes --benchmark_out: the others drop the flag
  std::vector<char*> args(argv, argv + argc);
  if (world.rank() != 0)
    std::erase_if(args, [](const char* a) { return std::string_view(a).starts_with("--benchmark_out"); });
  int n = static_cast<int>(args.size());
  benchmark::Initialize(&n, args.data());
  // A discarded warm-up first (page faults, allocator and thread start-up land there), then the
  // variants *interleaved*, `reps` rounds of each: a slow minute of a shared machine then hits
  // every variant alike, and scripts/bench-dist.sh takes each variant's median over the rounds.
  constexpr int reps = 7;
  const std::pair<const char*, void (*)(benchmark::State&)> variants[] = {
      {"strong_single", strong_single}, {"strong_ranks", strong_ranks}, {"strong_fast", strong_fast},
      {"weak_single", weak_single},     {"weak_ranks", weak_ranks}};
  benchmark::RegisterBenchmark("warmup", strong_ranks)->Iterations(iters)->UseRealTime()->Unit(benchmark::kMillisecond);
  for (int rep = 0; rep < reps; ++rep)
    for (const auto& [name, fn] : variants)
      benchmark::RegisterBenchmark((std::string(name) + "/rep:" + std::to_string(rep)).c_str(), fn)
          ->Iterations(iters)
          ->UseRealTime()
          ->Unit(benchmark::kMillisecond);
  if (world.rank() == 0) {
    benchmark::AddCustomContext("ranks", std::to_string(world.size()));
    benchmark::RunSpecifiedBenchmarks();
  } else {
    struct silent : benchmark::BenchmarkReporter {
      bool ReportContext(const Context&) override { return true; }
      void ReportRuns(const std::vector<Run>&) override {}
    } quiet;
    benchmark::RunSpecifiedBenchmarks(&quiet);
  }
  benchmark::Shutdown();
  return 0;
}
