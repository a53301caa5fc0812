// rlvr over MPI processes (ctest label `distributed`; tests/dist/CMakeLists.txt runs it under
// `mpirun -np 2` and `-np 3` on the loopback). One program, one scenario per subcommand:
//   collectives            every collective of mpi_communicator, and its errors
//   trainer                deterministic: bit-identical to the single-process trainer (same S);
//                          fast: the same weights on every rank, within 1e-5 of deterministic
//   stats                  distributed advantages with groups split across ranks, gathered Pass@k
//   checkpoint PATH N      fit() N steps, a checkpoint every step (rank 0 writes it)
//   resume PATH N          fit() to N steps from PATH: equal to an uninterrupted single-process run
//   hang SECONDS           rank 1 sleeps; rank 0's barrier times out after SECONDS (exits 3)
//   die PATH               rank 1 dies in step 2 of a checkpointing fit(); the job must end
//   verify PATH STEP       (one process) PATH is a complete checkpoint of step STEP
// Every rank checks what it can; the exit status is non-zero if any check failed on any rank.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include <rlvr/backends/eigen.hpp>
#include <rlvr/dist/mpi.hpp>
#include <rlvr/dist/statistics.hpp>
#include <rlvr/io/safetensors.hpp>
#include <rlvr/metrics/pass_at_k.hpp>
#include <rlvr/optim/adam.hpp>

#include "support/tiny_rl.hpp"

using namespace rlvr;
using namespace tiny_rl;

namespace {
int g_rank = 0, g_failures = 0;
#define EXPECT(cond)                                                                                               \
  do {                                                                                                             \
    if (!(cond)) {                                                                                                 \
      std::fprintf(stderr, "rank %d: %s:%d: EXPECT(%s) failed\n", g_rank, __FILE__, __LINE__, #cond);              \
      ++g_failures;                                                                                                \
    }                                                                                                              \
  } while (0)
#define DIST_EXPECT(cond) EXPECT(cond)
#define DIST_EXPECT_THROWS(E, expr)                                                                                \
  do {                                                                                                             \
    try {                                                                                                          \
      expr;                                                                                                        \
      std::fprintf(stderr, "rank %d: %s:%d: %s did not throw\n", g_rank, __FILE__, __LINE__, #expr);               \
      ++g_failures;                                                                                                \
    } catch (const E&) {                                                                                           \
    }                                                                                                              \
  } while (0)

}  // namespace
#include "dist/scenarios.hpp"
namespace {

adamw make_adam() { return adamw({.lr = 1e-2, .weight_decay = 0.0}); }

template <class C, class Obj> std::vector<float> train(C comm, Obj obj, trainer_config cfg, index_t steps) {
  transformer_policy model(tiny_rl::model());
  adamw opt = make_adam();
  rlvr::trainer tr(model, opt, first_step_valid{}, obj, eigen_backend{.threads = 1}, cfg, comm);
  for (index_t s = 0; s < steps; ++s) tr.step(prompts_for(s));
  return flat(model);
}
std::uint64_t fnv(const std::vector<float>& w) {
  std::uint64_t h = 1469598103934665603ULL;
  const auto* b = reinterpret_cast<const unsigned char*>(w.data());
  for (std::size_t i = 0; i < w.size() * sizeof(float); ++i) h = (h ^ b[i]) * 1099511628211ULL;
  return h;
}
// every rank holds the same weights (their hashes, gathered, agree)
void expect_same_on_all_ranks(dist::mpi_communicator& c, const std::vector<float>& w) {
  const std::int64_t h = static_cast<std::int64_t>(fnv(w));
  std::vector<std::int64_t> all(static_cast<std::size_t>(c.size()));
  c.all_gather(std::span<const std::int64_t>(&h, 1), std::span<std::int64_t>(all));
  for (std::int64_t x : all) EXPECT(x == all[0]);
}

void trainer_bits(dist::mpi_communicator& c) {
  constexpr index_t shards = 6; // runs on 1, 2, 3 or 6 ranks (and 4, 5: ranks own 2 or 1 shards)
  for (int obj = 0; obj < 2; ++obj) {
    const auto dist_w = obj == 0 ? train(c, grpo(), tiny_rl::trainer(shards), 3) : train(c, ppo(), tiny_rl::trainer(shards), 3);
    expect_same_on_all_ranks(c, dist_w);
    if (c.rank() == 0) {
      const auto one = obj == 0 ? train(dist::single_process{}, grpo(), tiny_rl::trainer(shards), 3)
                                : train(dist::single_process{}, ppo(), tiny_rl::trainer(shards), 3);
      EXPECT(bit_equal(dist_w, one));
    }
  }
  const auto fast = train(c, grpo(), tiny_rl::trainer(shards, gradient_reduction::fast), 3);
  expect_same_on_all_ranks(c, fast);
  if (c.rank() == 0) {
    const auto det = train(dist::single_process{}, grpo(), tiny_rl::trainer(shards), 3);
    double num = 0, den = 0;
    for (std::size_t i = 0; i < det.size(); ++i) {
      num += (fast[i] - det[i]) * static_cast<double>(fast[i] - det[i]);
      den += static_cast<double>(det[i]) * det[i];
    }
    std::printf("fast vs deterministic on %d ranks: relative L2 difference %.3g\n", c.size(), std::sqrt(num / den));
    EXPECT(std::sqrt(num / den) < 1e-5);
  }
}

template <class C> fit_result fit_run(C comm, const std::filesystem::path& path, index_t steps, int die_rank = -1) {
  transformer_policy model(tiny_rl::model());
  adamw opt = make_adam();
  rlvr::trainer tr(model, opt, first_step_valid{}, grpo(), eigen_backend{.threads = 1}, tiny_rl::trainer(6), comm);
  auto source = [&](index_t s) {
    if (s == 2 && comm.rank() == die_rank) {
      std::fprintf(stderr, "rank %d: dying in step %lld (test)\n", comm.rank(), static_cast<long long>(s));
      std::fflush(stderr);
      std::_Exit(9);
    }
    return prompts_for(s);
  };
  return tr.fit(source, {.steps = steps, .checkpoint_every = 1, .checkpoint = path});
}
std::vector<float> weights_of_checkpoint(const std::filesystem::path& path) {
  const state_dict d = io::load_safetensors(path);
  transformer_policy model(tiny_rl::model());
  load_parameters(d, model.parameters(), "policy.");
  return flat(model);
}
} // namespace

int main(int argc, char** argv) {
  dist::mpi_session session(&argc, &argv);
  const std::string cmd = argc > 1 ? argv[1] : "";
  try {
    if (cmd == "verify") { // one process
      const state_dict d = io::load_safetensors(argv[2]);
      EXPECT(d.meta_int("trainer.step") == std::stoll(argv[3]));
      return g_failures ? 1 : 0;
    }
    const double timeout = cmd == "hang" ? std::stod(argv[2]) : 120.0;
    dist::mpi_communicator c(MPI_COMM_WORLD, {.timeout_seconds = timeout});
    g_rank = c.rank();
    if (cmd == "collectives") dist_scenarios::collectives(c);
    else if (cmd == "trainer") trainer_bits(c);
    else if (cmd == "stats") dist_scenarios::stats(c);
    else if (cmd == "checkpoint") {
      std::filesystem::remove(argv[2]);
      const fit_result r = fit_run(c, argv[2], std::stoll(argv[3]));
      EXPECT(!r.resumed && r.steps_run == std::stoll(argv[3]));
    } else if (cmd == "resume") {
      const index_t steps = std::stoll(argv[3]);
      const fit_result r = fit_run(c, argv[2], steps);
      EXPECT(r.resumed && r.first_step > 0 && r.first_step < steps);
      c.barrier();
      const auto resumed = weights_of_checkpoint(argv[2]);
      if (c.rank() == 0) {
        const auto path = std::filesystem::path(argv[2]).replace_extension(".straight.safetensors");
        std::filesystem::remove(path);
        (void)fit_run(dist::single_process{}, path, steps);
        EXPECT(bit_equal(resumed, weights_of_checkpoint(path)));
      }
    } else if (cmd == "hang") {
      if (c.rank() == 1) std::this_thread::sleep_for(std::chrono::seconds(60));
      c.barrier();
      EXPECT(false); // unreachable: rank 0's watchdog ends the job
    } else if (cmd == "die") {
      std::filesystem::remove(argv[2]);
      (void)fit_run(c, argv[2], 5, 1);
      EXPECT(false); // unreachable: rank 1 died in step 2, so rank 0 cannot finish step 2
    } else {
      std::fprintf(stderr, "usage: %s collectives|trainer|stats|checkpoint|resume|hang|die|verify ...\n", argv[0]);
      return 2;
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "rank %d: %s\n", g_rank, e.what());
    dist::mpi_session::abort(1);
  }
  if (g_failures) std::fprintf(stderr, "rank %d: %d checks failed\n", g_rank, g_failures);
  else if (g_rank == 0) std::printf("%s: all checks passed\n", cmd.c_str());
  return g_failures ? 1 : 0;
}
