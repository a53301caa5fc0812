// rlvr-study: reproduces the Pass@k findings of Zhu et al. 2025 ("The Surprising Effectiveness
// of Negative Reinforcement in LLM Reasoning") at laptop scale, on rlvr's public API.
//   rlvr-study --out results            # default run (≤ 10 minutes on 2 cores)
//   rlvr-study --out results --full     # the larger run behind docs/results.md
//   rlvr-study --help
//   mpirun -np 4 rlvr-study --out results   # the same results.json, the runs spread over 4 processes
#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdlib>
#include <optional>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <iostream>
#include <sstream>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include <unistd.h>

#ifdef RLVR_STUDY_MPI
#include <rlvr/dist/mpi.hpp>
#endif

#include <CLI/CLI.hpp>

#include "builtin_tasks.hpp"
#include "regime_map.hpp"
#include "report.hpp"
#include "study.hpp"
// Tasks added at build time (rlvr_add_study(... TASKS ...) in CMake): a generated header that
// includes each task header, whose RLVR_STUDY_TASK registers it.
#ifdef RLVR_STUDY_EXTRA_TASKS_HEADER
#include RLVR_STUDY_EXTRA_TASKS_HEADER
#endif

#ifdef RLVR_STUDY_MPI
namespace {
// rlvr-study under mpirun: every rank runs its share (study::run), rank 0 writes the outputs.
int run_mpi(study::config& c) {
  rlvr::dist::mpi_communicator world(MPI_COMM_WORLD, {.timeout_seconds = 0}); // runs take what they take
  MPI_Comm sub = MPI_COMM_NULL;
  if (world.size() % c.ranks_per_run != 0) {
    if (world.rank() == 0)
      std::fprintf(stderr, "rlvr-study: --ranks-per-run = %d does not divide the %d processes\n", c.ranks_per_run,
                   world.size());
    return 1; // every rank sees the same numbers: all exit
  }
  MPI_Comm_split(MPI_COMM_WORLD, world.rank() / c.ranks_per_run, world.rank(), &sub);
  rlvr::dist::mpi_communicator group(sub, {.timeout_seconds = 0});
  c.progress = c.progress && world.rank() == 0;
  if (c.threads == 0) { // "all cores": this machine's cores shared by the ranks on it (results do not depend on it)
    MPI_Comm node = MPI_COMM_NULL;
    int local = 1;
    MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, world.rank(), MPI_INFO_NULL, &node);
    MPI_Comm_size(node, &local);
    MPI_Comm_free(&node);
    c.threads = std::max(1, static_cast<int>(std::thread::hardware_concurrency()) / local);
  }
  if (world.rank() == 0)
    std::printf("rlvr-study %d.%d.%d (%s): %zu seeds x {base, %zu methods}, %d processes (%d per run, --shards %lld)\n",
                RLVR_VERSION_MAJOR, RLVR_VERSION_MINOR, RLVR_VERSION_PATCH, c.preset.c_str(), c.seeds.size(),
                c.methods.size(), world.size(), c.ranks_per_run, static_cast<long long>(c.shards));
  const study::results r = study::run(c, world, group);
  int ok = 1;
  if (world.rank() == 0) {
    try {
      const std::string t = study::write_outputs(r, c);
      std::printf("\n%s\nwrote %s/{results.json, curves.csv, table.txt, pass_at_k.svg, training_*.svg} in %.0f s\n",
                  t.c_str(), c.out.string().c_str(), r.seconds);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "rlvr-study: %s\n", e.what());
      ok = 0;
    }
  }
  std::int64_t flag = ok;
  world.broadcast(std::span<std::int64_t>(&flag, 1), 0);
  MPI_Comm_free(&sub);
  return flag ? 0 : 1;
}
} // namespace
#endif

namespace {
// The number of processes an MPI launcher started this one among (1 when not launched by one).
int launched_ranks() {
  for (const char* v : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE", "MPI_LOCALNRANKS"})
    if (const char* x = std::getenv(v)) return std::max(1, std::atoi(x));
  return std::getenv("PMIX_RANK") ? 2 : 1;
}
} // namespace

int main(int argc, char** argv) {
#ifdef RLVR_STUDY_MPI
  // MPI only when launched by mpirun: a plain run never initialises it
  std::optional<rlvr::dist::mpi_session> mpi;
  if (launched_ranks() > 1) mpi.emplace(&argc, &argv);
#else
  if (launched_ranks() > 1) {
    std::fprintf(stderr, "rlvr-study: started as one of %d MPI processes, but this rlvr-study was built without MPI: "
                         "install libopenmpi-dev and rebuild (the rlvr::mpi component), or run it without mpirun\n",
                 launched_ranks());
    return 1;
  }
#endif
  study::config c;
  CLI::App app{"rlvr-study: PSR, NSR, W-REINFORCE, PPO and GRPO on a verifiable task (--list-tasks); Pass@k vs the base model"};
  app.option_defaults()->always_capture_default(); // --help shows every default
  std::string out = "./results";
  bool full = false, quick = false, no_progress = false;
  std::vector<std::string> seeds_s; // parsed strictly below: "-1" must not wrap to 2^64 − 1
  app.add_option("--out", out, "output directory (results.json, curves.csv, *.svg, table.txt, cache/)")
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeLast); // scripts/study.sh passes --out results first
  app.add_flag("--full", full, "larger run: 5 seeds, 512 held-out problems, plus the λ sweep, the NSR clip/mini-batch ablation and 1000-step NSR / W-REINFORCE runs");
  std::string task_help = "the task (registered:";
  for (const auto& n : study::task_names()) task_help += " " + n;
  task_help += "; --list-tasks describes them)";
  app.add_option("--task", c.task, task_help);
  app.add_option("--task-option", c.task_options, "a task parameter key=value (repeatable; --list-tasks names each task's)");
  app.add_option("--eval", c.eval_regime,
                 "held-out problems: in-distribution (unseen problems of the RL distribution, the paper's setting) or harder (the task's harder split)");
  bool list_tasks = false, regime_map = false;
  std::vector<std::string> map_tasks{"zp_walk", "two_strategies"};
  app.add_flag("--regime-map", regime_map,
               "the regime map: every method on each --map-tasks task x its registered data mixes x both --eval regimes "
               "(5 seeds, 64 held-out problems unless given); writes regimes.json, regimes.svg and map/<cell>/");
  app.add_option("--map-tasks", map_tasks, "tasks of the regime map")->delimiter(',');
  app.add_flag("--list-tasks", list_tasks, "list the registered tasks with their defaults and options, then exit");
  app.add_flag("--quick", quick, "smoke test (seconds): tiny model, 2 RL steps, n = 16 -- checks the pipeline; its numbers say nothing about the methods");
  app.add_option("--seeds", seeds_s, "seeds (each: its own base model and RL runs)")->delimiter(',');
  app.add_option("--methods", c.methods, "RL methods: psr,nsr,w_reinforce,ppo,grpo and the objective zoo's gspo,gmpo,cispo,sapo,dapo,clip_cov,kl_cov,high_entropy,reinforce_pp_baseline,opo; 'base' alone: the base model only")->delimiter(',');
  app.add_option("--entropy-coef", c.entropy_coef, "entropy bonus c_H (paper 1e-4, its code 1e-3)");
  app.add_option("--lambda", c.lambda, "W-REINFORCE's λ for the main run (paper 0.1)");
  app.add_option("--lambda-sweep", c.lambda_sweep, "extra W-REINFORCE runs with these λ")->delimiter(',');
  app.add_flag("--nsr-ablation", c.nsr_ablation, "extra NSR runs: without the PPO clip, and with 1 mini-batch");
  app.add_option("--long-steps", c.long_steps, "extra long NSR and W-REINFORCE runs of this many steps");
  app.add_option("--mass-flow-every", c.mass_flow_every,
                 "measure where each RL step moves probability mass every N steps (0 = never; curves.csv, training_mass_flow_*.svg)");
  app.add_option("--lm-head", c.lm_head,
                 "the RL update's LM head: materialised (logits, the default: the committed runs' path) or fused "
                 "(hidden states through rlvr::fused_linear_loss_and_grad; equal to rounding, not bit for bit)");
  app.add_option("--rl-steps", c.rl_steps, "RL steps (rollout batches) per run");
  app.add_option("--rl-lr", c.rl_lr, "AdamW learning rate for RL");
  app.add_option("--prompts", c.prompts_per_step, "prompts per rollout batch");
  app.add_option("--group-size", c.group_size, "rollouts per prompt (G)");
  app.add_option("--mini-batches", c.mini_batches, "updates per rollout batch");
  app.add_option("--samples", c.samples, "samples per held-out problem (n; Pass@k for k = 1, 2, 4, ..., n)");
  app.add_option("--eval-problems", c.eval_problems, "held-out problems");
  app.add_option("--temperature", c.eval_temperature, "evaluation temperature (paper 0.6)");
  app.add_option("--top-p", c.top_p, "evaluation nucleus mass (paper 0.95)");
  app.add_option("--pretrain-steps", c.pretrain_steps, "supervised pretraining steps of each base model");
  double wrong_fraction = 0.0;
  CLI::Option* wrong_opt = app.add_option("--wrong-fraction", wrong_fraction,
                                          "share of plausibly wrong pretraining demonstrations (default: the task's own)")
                                ->default_str("task's");
  app.add_option("--d-model", c.d_model, "transformer width");
  app.add_option("--layers", c.n_layers, "transformer layers");
  app.add_option("--threads", c.threads, "threads (0 = all)");
  app.add_option("--shards", c.shards, "the trainer's canonical shards per batch (results depend on it, not on the process count)");
  app.add_option("--ranks-per-run", c.ranks_per_run,
                 "under mpirun: processes that share one RL run (data-parallel, <= --shards); the others run other seeds/methods");
  app.add_option("--cache", c.cache_dir, "base-model cache directory (default <out>/cache)");
  app.add_option("--checkpoint-every", c.checkpoint_every,
                 "save each RL run's state every N steps (0 = only at its end); a rerun resumes from it");
  app.add_option("--stop-after-rl-steps", c.stop_after_rl_steps, "tests: stop as if killed after N RL steps")
      ->group(""); // hidden
  app.add_flag("--no-progress", no_progress, "no progress lines");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  // presets first, then explicit flags win: re-parse after applying a preset
  if (full || quick || regime_map) {
    study::config p;
    if (regime_map) {
      p.preset = "regime-map";
      p.seeds = {0, 1, 2, 3, 4};
      p.eval_problems = 64; // two_strategies' RL distribution (343 problems) cannot spare 128 in-distribution
    }
    if (full) {
      p.preset = "full";
      p.seeds = {0, 1, 2, 3, 4};
      p.eval_problems = 512;
      p.lambda_sweep = {0.05, 0.3, 1.0};
      p.nsr_ablation = true;
      p.long_steps = 1000; // F6: does NSR degrade over long training?
    } else if (quick) {
      p.preset = "quick";
      p.seeds = {0, 1};
      p.d_model = 16;
      p.n_heads = 2;
      p.n_layers = 1;
      p.pretrain_steps = 30;
      p.pretrain_batch = 16;
      p.rl_steps = 2;
      p.prompts_per_step = 4;
      p.eval_problems = 6;
      p.samples = 16;
      p.bootstrap_resamples = 200;
    }
    c = p;
    app.clear();
    try {
      app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
      return app.exit(e);
    }
    c.preset = p.preset;
  }
  c.out = out;
  if (wrong_opt->count() > 0) c.wrong_fraction = wrong_fraction;
  // "base" is always evaluated: --methods base means no RL method
  std::erase(c.methods, std::string("base"));
  c.tty = isatty(fileno(stdout)) != 0;
  if (list_tasks) {
    try {
      for (const auto& name : study::task_names()) {
        const study::registered_task& e = study::find_task(name);
        const study::built_task t = study::make_registered_task(name, {});
        std::printf("%s\n  %s\n  default --wrong-fraction %g (--regime-map mixes:", name.c_str(), e.summary.c_str(),
                    e.wrong_fraction);
        for (double w : e.map_wrong_fractions) std::printf(" %g", w);
        std::printf(")\n  --task-option defaults: %s\n", t.options.describe().c_str());
      }
    } catch (const std::exception& e) {
      std::fprintf(stderr, "rlvr-study: %s\n", e.what());
      return 1;
    }
    return 0;
  }
  c.progress = !no_progress;
  try {
    if (!seeds_s.empty()) {
      c.seeds.clear();
      for (const std::string& s : seeds_s) {
        std::uint64_t v = 0;
        const auto r = std::from_chars(s.data(), s.data() + s.size(), v);
        RLVR_EXPECTS(!s.empty() && r.ec == std::errc() && r.ptr == s.data() + s.size(), config,
                     "rlvr-study: --seeds: '", s, "' is not a non-negative integer below 2^64");
        c.seeds.push_back(v);
      }
    }
    // every flag, the task, the model and the output directory, before any work
    study::preflight(c);
#ifdef RLVR_STUDY_MPI
    RLVR_EXPECTS(!(mpi && regime_map), config, "rlvr-study: --regime-map runs in one process (start it without mpirun)");
    if (mpi) return run_mpi(c);
#endif
    RLVR_EXPECTS(c.ranks_per_run == 1, config, "rlvr-study: --ranks-per-run = ", c.ranks_per_run,
                 " needs that many processes: start rlvr-study with mpirun");
    if (regime_map) {
      std::printf("rlvr-study %d.%d.%d: regime map, %zu seeds x {base, %zu methods}, %lld held-out problems x %lld samples\n",
                  RLVR_VERSION_MAJOR, RLVR_VERSION_MINOR, RLVR_VERSION_PATCH, c.seeds.size(), c.methods.size(),
                  static_cast<long long>(c.eval_problems), static_cast<long long>(c.samples));
      const auto t0 = std::chrono::steady_clock::now();
      const auto cells = study::run_regime_map(c, map_tasks);
      std::printf("\n%s\nwrote %s/{regimes.json, regimes.svg, map/} in %.0f s\n",
                  study::regimes_table(cells, study::ks_for(c.samples).back()).c_str(), c.out.string().c_str(),
                  std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
      return 0;
    }
    const std::size_t extras = study::extra_methods(c).size();
    std::printf("rlvr-study %d.%d.%d (%s): task %s, %zu seeds x {base, %zu methods%s}, %lld %s held-out problems x %lld samples\n",
                RLVR_VERSION_MAJOR, RLVR_VERSION_MINOR, RLVR_VERSION_PATCH, c.preset.c_str(), c.task.c_str(), c.seeds.size(),
                c.methods.size(), extras ? (" + " + std::to_string(extras) + " extra runs").c_str() : "",
                static_cast<long long>(c.eval_problems), c.eval_regime.c_str(), static_cast<long long>(c.samples));
    if (c.preset == "quick")
      std::printf("note: --quick is a smoke test of the pipeline; its Pass@k numbers are not meaningful\n");
    const study::results r = study::run(c);
    const std::string t = study::write_outputs(r, c);
    std::printf("\n%s\nwrote %s/{results.json, curves.csv, table.txt, pass_at_k.svg, training_*.svg} in %.0f s\n",
                t.c_str(), c.out.string().c_str(), r.seconds);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "rlvr-study: %s\n", e.what());
#ifdef RLVR_STUDY_MPI
    if (mpi) rlvr::dist::mpi_session::abort(1); // no rank is left waiting in a collective
#endif
    return 1;
  }
  return 0;
}
