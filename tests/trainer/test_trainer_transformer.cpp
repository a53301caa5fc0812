// The trainer on the reference transformer and a real task: PPO through the value head, GRPO
// with its reference, and a checkpoint written to a safetensors file and resumed bit for bit.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <filesystem>

#include <rlvr/backends/eigen.hpp>
#include <rlvr/io/safetensors.hpp>
#include <rlvr/optim/adam.hpp>
#include <rlvr/policy/transformer.hpp>
#include <rlvr/tasks/reward.hpp>
#include <rlvr/tasks/zp_walk.hpp>
#include <rlvr/trainer/trainer.hpp>

using namespace rlvr;

namespace {
const tasks::zp_walk task({.modulus = 11, .walk = {.pretrain_max_steps = 2, .train_max_distance = 2,
                                                   .eval_min_distance = 3, .eval_max_distance = 4, .max_steps = 5}});
transformer_config tiny_model() {
  return {.vocab_size = task.vocab().size(), .context_length = 10, .d_model = 16, .n_layers = 1, .n_heads = 2,
          .value_head = true, .seed = 3, .threads = 2};
}
trainer_config tiny_trainer(std::uint64_t seed) {
  return {.group_size = 4, .temperature = 1.0, .max_response_tokens = task.max_response_length(),
          .eos = task.vocab().eos(), .pad = task.vocab().pad(), .mini_batches = 2, .max_grad_norm = 1.0, .seed = seed};
}
std::vector<std::vector<token_t>> prompts_for(index_t step) {
  philox_engine g(99, static_cast<std::uint64_t>(step));
  std::vector<std::vector<token_t>> p;
  for (int i = 0; i < 6; ++i) p.push_back(task.problem(g, tasks::split::train));
  return p;
}
// A lenient reward so that an untrained model sees both outcomes: the response starts with a
// number (about 11 of the 15 tokens).
struct first_step_valid {
  double operator()(std::span<const token_t> p, std::span<const token_t> r) const {
    return (p.size() == 4 && !r.empty() && r[0] < task.nodes()) ? 1.0 : 0.0;
  }
};
static_assert(TokenReward<first_step_valid>);
std::vector<float> flat(transformer_policy& m) {
  std::vector<float> w;
  for (const auto& p : m.parameters()) w.insert(w.end(), p.value.begin(), p.value.end());
  return w;
}
} // namespace

TEST_CASE("PPO trains the value head; rollouts respect the response format", "[trainer]") {
  transformer_policy model(tiny_model());
  adamw opt({.lr = 1e-2, .weight_decay = 0.0});
  trainer tr(model, opt, first_step_valid{}, ppo(), eigen_backend{.threads = 2}, tiny_trainer(1));
  std::vector<step_metrics> ms;
  tr.on_step([&](const step_metrics& m) { ms.push_back(m); });
  for (index_t s = 0; s < 3; ++s) tr.step(prompts_for(s));
  REQUIRE(ms.size() == 3);
  for (const auto& m : ms) {
    CHECK(m.responses == 24);
    CHECK(m.updates == 2);
    CHECK(m.value_loss > 0.0);
    CHECK((m.reward_mean > 0.0 && m.reward_mean < 1.0));
    CHECK(m.response_length >= 1.0);
    CHECK(m.response_length <= static_cast<double>(task.max_response_length()));
    CHECK(m.entropy > 0.0);
  }
  // every sampled response is eos-terminated or exactly max_response_tokens long
  const auto seqs = tr.last_sequences();
  const auto lens = tr.last_lengths();
  for (index_t i = 0; i < seqs.rows(); ++i) {
    const index_t l = lens[static_cast<std::size_t>(i)];
    const bool eos = seqs(i, 4 + l - 1) == task.vocab().eos();
    CHECK((eos || l == task.max_response_length()));
    for (index_t j = 4 + l; j < seqs.cols(); ++j) CHECK(seqs(i, j) == task.vocab().pad());
  }
  // the value head moved away from its zero initialisation
  bool moved = false;
  for (const auto& p : model.parameters())
    if (std::string_view(p.name).starts_with("value_head"))
      for (float v : p.value) moved = moved || v != 0.0f;
  CHECK(moved);
}

TEST_CASE("GRPO on the transformer resumes bit for bit through a safetensors file", "[trainer]") {
  const auto path = std::filesystem::temp_directory_path() / "rlvr_trainer_resume.safetensors";
  auto run_uninterrupted = [] {
    transformer_policy m(tiny_model());
    adamw o({.lr = 1e-2});
    trainer t(m, o, first_step_valid{}, grpo(), eigen_backend{.threads = 2}, tiny_trainer(5));
    for (index_t s = 0; s < 4; ++s) CHECK(t.step(prompts_for(s)).updates > 0);
    return flat(m);
  };
  const auto wa = run_uninterrupted();
  {
    transformer_policy m(tiny_model());
    adamw o({.lr = 1e-2});
    trainer t(m, o, first_step_valid{}, grpo(), eigen_backend{.threads = 1}, tiny_trainer(5));
    for (index_t s = 0; s < 2; ++s) t.step(prompts_for(s));
    state_dict d;
    t.save_state(d);
    io::save_safetensors(path, d);
  }
  auto cfg = tiny_model();
  cfg.seed = 77; // different initial weights: the file must restore them
  transformer_policy m(cfg);
  adamw o({.lr = 1e-2});
  trainer t(m, o, first_step_valid{}, grpo(), eigen_backend{.threads = 2}, tiny_trainer(5));
  t.load_state(io::load_safetensors(path));
  REQUIRE(t.steps_done() == 2);
  for (index_t s = 2; s < 4; ++s) t.step(prompts_for(s));
  const auto wc = flat(m);
  REQUIRE(wa.size() == wc.size());
  CHECK(std::memcmp(wa.data(), wc.data(), wa.size() * sizeof(float)) == 0);
  std::filesystem::remove(path);
}

TEST_CASE("PPO on the transformer times every phase inside step_seconds", "[trainer]") {
  transformer_policy model(tiny_model());
  adamw opt({.lr = 1e-2, .weight_decay = 0.0});
  trainer tr(model, opt, first_step_valid{}, ppo(), eigen_backend{.threads = 2}, tiny_trainer(2));
  for (index_t s = 0; s < 2; ++s) {
    const step_metrics m = tr.step(prompts_for(s));
    REQUIRE(m.updates == 2);
    const double phases[] = {m.rollout_seconds, m.logprob_seconds,  m.advantage_seconds, m.forward_seconds,
                             m.loss_seconds,    m.backward_seconds, m.optimizer_seconds};
    double sum = 0;
    for (double x : phases) {
      CHECK(std::isfinite(x));
      CHECK(x >= 0.0);
      sum += x;
    }
    INFO("sum of phases " << sum << " s, step " << m.step_seconds << " s");
    CHECK(sum <= m.step_seconds * (1.0 + 1e-9) + 1e-9);
    // every phase here runs real kernels (decode, forward, GEMMs, the value loss): each interval
    // spans at least one steady_clock tick
    CHECK(m.rollout_seconds > 0.0);
    CHECK(m.logprob_seconds > 0.0);
    CHECK(m.forward_seconds > 0.0);
    CHECK(m.loss_seconds > 0.0);
    CHECK(m.backward_seconds > 0.0);
    CHECK(m.optimizer_seconds > 0.0);
  }
}

TEST_CASE("a task is accepted as the reward; the response budget and eos come from it", "[trainer]") {
  transformer_policy model(tiny_model());
  adamw opt({.lr = 1e-3, .weight_decay = 0.0});
  trainer tr(model, opt, task, grpo(), eigen_backend{.threads = 2}, {.group_size = 4, .mini_batches = 2, .seed = 4});
  CHECK(tr.config().max_response_tokens == task.max_response_length());
  CHECK(tr.config().eos == task.vocab().eos());
  CHECK(tr.config().pad == task.vocab().pad());
  const step_metrics m = tr.step(prompts_for(0));
  CHECK(m.responses == 24);
  // the same run through an explicit verifier gives the same step
  transformer_policy model2(tiny_model());
  adamw opt2({.lr = 1e-3, .weight_decay = 0.0});
  trainer tr2(model2, opt2, tasks::verifier{task}, grpo(), eigen_backend{.threads = 2},
              {.group_size = 4, .mini_batches = 2, .seed = 4});
  CHECK(tr2.step(prompts_for(0)).loss == m.loss);
}

TEST_CASE("PPO on a transformer without a value head fails at construction with the fix", "[trainer]") {
  auto cfg = tiny_model();
  cfg.value_head = false;
  transformer_policy model(cfg);
  adamw opt;
  CHECK_THROWS_WITH(trainer(model, opt, first_step_valid{}, ppo(), eigen_backend{.threads = 2}, tiny_trainer(1)),
                    Catch::Contains("no value head") && Catch::Contains(".value_head = true"));
}
