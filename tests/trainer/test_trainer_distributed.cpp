// The data-parallel trainer over rlvr::dist::thread_communicator (R ranks as R threads): bit-
// identical results on 1, 2, 3 and 4 ranks, shards that add up to the mini-batch (the global
// token-mean), the fast reduction, resumption across rank counts, and the configuration and
// fault errors. The same properties over MPI processes are tested in tests/dist.
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstring>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

#include <rlvr/backends/eigen.hpp>
#include <rlvr/dist/threads.hpp>
#include <rlvr/optim/adam.hpp>
#include <rlvr/optim/sgd.hpp>
#include <rlvr/policy/transformer.hpp>
#include <rlvr/tasks/reward.hpp>
#include <rlvr/tasks/zp_walk.hpp>
#include <rlvr/trainer/trainer.hpp>

#include "support/tiny_rl.hpp"

using namespace rlvr;

namespace {
using tiny_rl::bit_equal;
using tiny_rl::first_step_valid;
using tiny_rl::flat;
using tiny_rl::prompts_for;
transformer_config tiny_model() { return tiny_rl::model(); }
trainer_config tiny_trainer(index_t shards, gradient_reduction red = gradient_reduction::deterministic) {
  return tiny_rl::trainer(shards, red);
}
struct run_out {
  std::vector<std::vector<float>> weights; // per rank
  std::vector<step_metrics> metrics;       // rank 0's
};
// `steps` steps of objective `obj` on `ranks` thread ranks; every rank's final weights.
template <class Obj, class MakeOpt>
run_out run(int ranks, Obj obj, trainer_config cfg, index_t steps, MakeOpt make_opt, index_t first_step = 0,
            const state_dict* from = nullptr, state_dict* to = nullptr) {
  run_out out;
  out.weights.resize(static_cast<std::size_t>(ranks));
  std::mutex mu;
  dist::run_ranks(ranks, [&](dist::thread_communicator comm) {
    transformer_policy model(tiny_model());
    auto opt = make_opt();
    trainer tr(model, opt, first_step_valid{}, obj, eigen_backend{.threads = 1}, cfg, comm);
    if (from) tr.load_state(*from);
    std::vector<step_metrics> ms;
    for (index_t s = first_step; s < first_step + steps; ++s) ms.push_back(tr.step(prompts_for(s)));
    const std::lock_guard<std::mutex> l(mu);
    out.weights[static_cast<std::size_t>(comm.rank())] = flat(model);
    if (comm.rank() == 0) {
      out.metrics = ms;
      if (to) tr.save_state(*to);
    }
  });
  return out;
}
auto make_adam = [] { return adamw({.lr = 1e-2, .weight_decay = 0.0}); };
void same_metrics(const step_metrics& a, const step_metrics& b) {
  CHECK(a.loss == b.loss);
  CHECK(a.grad_norm == b.grad_norm);
  CHECK(a.reward_mean == b.reward_mean);
  CHECK(a.entropy == b.entropy);
  CHECK(a.value_loss == b.value_loss);
  CHECK(a.clip_frac_low == b.clip_frac_low);
  CHECK(a.clip_frac_high == b.clip_frac_high);
  CHECK(a.approx_kl == b.approx_kl);
  CHECK(a.ref_kl == b.ref_kl);
  CHECK(a.kept == b.kept);
}
} // namespace

TEST_CASE("canonical shards: 1, 2, 3 and 4 ranks give bit-identical weights and metrics", "[trainer][distributed]") {
  auto check_all = [](auto obj, const char* name) {
    INFO(name);
    const run_out one = run(1, obj, tiny_trainer(4), 3, make_adam);
    for (int ranks : {2, 3, 4}) {
      INFO("ranks = " << ranks);
      const run_out r = run(ranks, obj, tiny_trainer(4), 3, make_adam);
      for (const auto& w : r.weights) CHECK(bit_equal(w, one.weights[0]));
      REQUIRE(r.metrics.size() == one.metrics.size());
      for (std::size_t s = 0; s < r.metrics.size(); ++s) same_metrics(r.metrics[s], one.metrics[s]);
    }
  };
  check_all(ppo(), "ppo (values, GAE)");
  check_all(grpo(), "grpo (group statistics, k3 KL to the reference)");
  check_all(w_reinforce(), "w_reinforce (lambda = 0.1)");
}

TEST_CASE("shards add up to the mini-batch: S = 3 matches S = 1 within rounding (global token-mean)",
          "[trainer][distributed]") {
  // Plain SGD without clipping: the weight change is lr x the gradient itself, so a shard that
  // divided by its own token count (the per-micro-batch-mean bug) would change it by a factor.
  auto sgd_opt = [] { return sgd({.lr = 0.5}); };
  auto check = [&](auto obj, const char* name) {
    INFO(name);
    trainer_config c1 = tiny_trainer(1), c3 = tiny_trainer(3);
    c1.max_grad_norm = c3.max_grad_norm = 0.0;
    c1.mini_batches = c3.mini_batches = 1;
    transformer_policy init(tiny_model());
    const std::vector<float> w0 = flat(init);
    const run_out a = run(1, obj, c1, 1, sgd_opt), b = run(1, obj, c3, 1, sgd_opt), b2 = run(3, obj, c3, 1, sgd_opt);
    CHECK(bit_equal(b.weights[0], b2.weights[2]));
    double num = 0, den = 0;
    for (std::size_t i = 0; i < w0.size(); ++i) {
      const double da = a.weights[0][i] - w0[i], db = b.weights[0][i] - w0[i];
      num += (da - db) * (da - db);
      den += da * da;
    }
    REQUIRE(den > 1e-8); // the step moved the weights
    CHECK(std::sqrt(num / den) < 1e-4);
    CHECK(b.metrics[0].loss == Approx(a.metrics[0].loss).epsilon(1e-5));
    CHECK(b.metrics[0].value_loss == Approx(a.metrics[0].value_loss).epsilon(1e-5));
    CHECK(b.metrics[0].clip_frac_low == Approx(a.metrics[0].clip_frac_low).margin(1e-12));
  };
  check(ppo(), "ppo");
  check(grpo(), "grpo");
  check(nsr(), "nsr");
}

TEST_CASE("the fast reduction: the same weights on every rank, within rounding of the deterministic one",
          "[trainer][distributed]") {
  const run_out det = run(1, grpo(), tiny_trainer(4), 3, make_adam);
  for (int ranks : {2, 3}) {
    const run_out f = run(ranks, grpo(), tiny_trainer(4, gradient_reduction::fast), 3, make_adam);
    for (const auto& w : f.weights) CHECK(bit_equal(w, f.weights[0]));
    double num = 0, den = 0;
    for (std::size_t i = 0; i < det.weights[0].size(); ++i) {
      const double d = f.weights[0][i] - det.weights[0][i];
      num += d * d;
      den += static_cast<double>(det.weights[0][i]) * det.weights[0][i];
    }
    CHECK(std::sqrt(num / den) < 1e-5);
  }
  // one rank: the fast and deterministic sums are the same additions in the same order
  const run_out f1 = run(1, grpo(), tiny_trainer(4, gradient_reduction::fast), 3, make_adam);
  CHECK(bit_equal(f1.weights[0], det.weights[0]));
}

TEST_CASE("a checkpoint resumes on another rank count with the same trajectory", "[trainer][distributed]") {
  const run_out straight = run(1, ppo(), tiny_trainer(6), 4, make_adam);
  state_dict mid;
  (void)run(2, ppo(), tiny_trainer(6), 2, make_adam, 0, nullptr, &mid);
  const run_out resumed = run(3, ppo(), tiny_trainer(6), 2, make_adam, 2, &mid);
  for (const auto& w : resumed.weights) CHECK(bit_equal(w, straight.weights[0]));
  same_metrics(resumed.metrics.back(), straight.metrics.back());
  // another shard count would be another trajectory: refused, naming the field
  CHECK_THROWS_WITH(run(1, ppo(), tiny_trainer(3), 1, make_adam, 2, &mid),
                    Catch::Contains("written with trainer_config::shards = 6 but this trainer has 3"));
}

TEST_CASE("distributed configuration errors name the problem", "[trainer][distributed]") {
  // more ranks than shards
  CHECK_THROWS_WITH(run(3, grpo(), tiny_trainer(2), 1, make_adam),
                    Catch::Contains("3 ranks but trainer_config::shards = 2"));
  // ranks with different seeds
  CHECK_THROWS_WITH(dist::run_ranks(2,
                                    [&](dist::thread_communicator comm) {
                                      transformer_policy model(tiny_model());
                                      auto opt = make_adam();
                                      trainer_config c = tiny_trainer(2);
                                      c.seed += static_cast<std::uint64_t>(comm.rank());
                                      trainer tr(model, opt, first_step_valid{}, grpo(), eigen_backend{.threads = 1}, c, comm);
                                    }),
                    Catch::Contains("rank 1 has trainer_config::seed = 6 but rank 0 has 5"));
  // ranks with different temperatures, or head paths (every field is compared)
  CHECK_THROWS_WITH(dist::run_ranks(2,
                                    [&](dist::thread_communicator comm) {
                                      transformer_policy model(tiny_model());
                                      auto opt = make_adam();
                                      trainer_config c = tiny_trainer(2);
                                      if (comm.rank() == 1) c.temperature = 0.9;
                                      trainer tr(model, opt, first_step_valid{}, grpo(), eigen_backend{.threads = 1}, c, comm);
                                    }),
                    Catch::Contains("rank 1 has trainer_config::temperature (bits)"));
  CHECK_THROWS_WITH(dist::run_ranks(2,
                                    [&](dist::thread_communicator comm) {
                                      transformer_policy model(tiny_model());
                                      auto opt = make_adam();
                                      trainer_config c = tiny_trainer(2);
                                      if (comm.rank() == 1) c.lm_head = lm_head_mode::materialised;
                                      trainer tr(model, opt, first_step_valid{}, grpo(), eigen_backend{.threads = 1}, c, comm);
                                    }),
                    Catch::Contains("rank 1 has trainer_config::lm_head"));
  // ranks given different prompts
  CHECK_THROWS_WITH(dist::run_ranks(2,
                                    [&](dist::thread_communicator comm) {
                                      transformer_policy model(tiny_model());
                                      auto opt = make_adam();
                                      trainer tr(model, opt, first_step_valid{}, grpo(), eigen_backend{.threads = 1},
                                                 tiny_trainer(2), comm);
                                      tr.step(prompts_for(comm.rank()));
                                    }),
                    Catch::Contains("rank 1 was given other prompts than rank 0"));
}

TEST_CASE("a failing or hung rank stops the others with a clear error, not a hang", "[trainer][distributed]") {
  // rank 1 throws before its second step: rank 0, waiting in a collective, gets comm_error, and
  // run_ranks reports rank 1's own error
  std::atomic<int> comm_errors{0};
  CHECK_THROWS_WITH(dist::run_ranks(2,
                                    [&](dist::thread_communicator comm) {
                                      transformer_policy model(tiny_model());
                                      auto opt = make_adam();
                                      trainer tr(model, opt, first_step_valid{}, grpo(), eigen_backend{.threads = 1},
                                                 tiny_trainer(2), comm);
                                      try {
                                        tr.step(prompts_for(0));
                                        if (comm.rank() == 1) throw std::runtime_error("verifier crashed on rank 1");
                                        tr.step(prompts_for(1));
                                      } catch (const comm_error&) {
                                        ++comm_errors;
                                        throw;
                                      }
                                    }),
                    "verifier crashed on rank 1");
  CHECK(comm_errors == 1);
  // rank 1 hangs: rank 0's collective times out
  const auto t0 = std::chrono::steady_clock::now();
  CHECK_THROWS_WITH(dist::run_ranks(
                        2,
                        [&](dist::thread_communicator comm) {
                          if (comm.rank() == 1) std::this_thread::sleep_for(std::chrono::milliseconds(1500));
                          else comm.barrier();
                        },
                        0.2),
                    Catch::Contains("rank 0: barrier did not complete within"));
  CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(10));
}
