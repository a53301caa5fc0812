// generate / evaluate / sft on the reference transformer and a real task: samples do not depend
// on the thread count, a prompt's responses do not depend on the other prompts of the call (of
// any length), a task is accepted where a reward is wanted, and SFT lowers the loss.
#include <catch2/catch.hpp>

#include <rlvr/backends/eigen.hpp>
#include <rlvr/evaluate.hpp>
#include <rlvr/generate.hpp>
#include <rlvr/optim/adam.hpp>
#include <rlvr/optim/clip.hpp>
#include <rlvr/policy/transformer.hpp>
#include <rlvr/sft.hpp>
#include <rlvr/tasks/zp_walk.hpp>

using namespace rlvr;

namespace {
const tasks::zp_walk task({.modulus = 11, .walk = {.pretrain_max_steps = 2, .train_max_distance = 2,
                                                   .eval_min_distance = 3, .eval_max_distance = 4, .max_steps = 5}});
transformer_config tiny_model(int threads) {
  return {.vocab_size = task.vocab().size(), .context_length = 12, .d_model = 16, .n_layers = 1, .n_heads = 2,
          .seed = 3, .threads = threads};
}
std::vector<std::vector<token_t>> problems(int n) {
  philox_engine g(5, 0);
  std::vector<std::vector<token_t>> p;
  for (int i = 0; i < n; ++i) p.push_back(task.problem(g, tasks::split::eval));
  return p;
}
generation_config gen() {
  return {.sampling = {.temperature = 1.0}, .max_tokens = task.max_response_length(), .eos = task.vocab().eos(),
          .pad = task.vocab().pad(), .entropy = true};
}
} // namespace

TEST_CASE("generate on a transformer: thread count and batch company do not change a response", "[generate]") {
  const transformer_policy one(tiny_model(1)), two(tiny_model(2));
  const auto ps = problems(3);
  const generation a = generate(one, ps, 4, gen(), {.seed = 8});
  const generation b = generate(two, ps, 4, gen(), {.seed = 8}, eigen_backend{.threads = 2});
  CHECK(a.responses == b.responses);
  CHECK(a.entropy == b.entropy);
  // prompts of different lengths in one call: prompt 1 with a shorter and a longer neighbour
  std::vector<std::vector<token_t>> mixed{{ps[0][0], ps[0][3]}, ps[1], {ps[2][0], ps[2][1], ps[2][2], ps[2][3], ps[2][1], ps[2][3]}};
  const generation m = generate(one, mixed, 4, gen(), {.seed = 8});
  const generation solo = generate(one, std::vector<std::vector<token_t>>{ps[1]}, 4, gen(),
                                   {.seed = 8, .first_subsequence = 4});
  for (index_t i = 0; i < 4; ++i) {
    CHECK(m.response(1, i) == a.response(1, i));
    CHECK(solo.response(0, i) == a.response(1, i));
  }
  for (index_t p : {0, 2}) {
    const generation s = generate(one, std::vector<std::vector<token_t>>{mixed[static_cast<std::size_t>(p)]}, 4, gen(),
                                  {.seed = 8, .first_subsequence = static_cast<std::uint64_t>(4 * p)});
    for (index_t i = 0; i < 4; ++i) CHECK(s.response(0, i) == m.response(p, i));
  }
}

TEST_CASE("evaluate accepts a task where a reward is wanted", "[evaluate]") {
  const transformer_policy model(tiny_model(2));
  const auto ps = problems(4);
  const evaluation_config cfg{.generation = gen(), .bootstrap = {.resamples = 50}};
  const evaluation a = evaluate(model, task, ps, 8, {1, 8}, cfg, {.seed = 1});
  const evaluation b = evaluate(model, tasks::verifier{task}, ps, 8, {1, 8}, cfg, {.seed = 1});
  CHECK(a.rewards == b.rewards);
  CHECK(a.pass_at_k[1].mean == b.pass_at_k[1].mean);
  CHECK(a.mean_entropy == b.mean_entropy);
  CHECK(a.mean_entropy > 0.5); // an untrained model is close to uniform over 15 tokens
  // unset max_tokens / eos / pad come from the task
  const evaluation c = evaluate(model, task, ps, 8, {1, 8}, {.bootstrap = {.resamples = 50}}, {.seed = 1});
  CHECK(c.rewards == a.rewards);
  CHECK(c.mean_length == a.mean_length);
}

TEST_CASE("sft on a transformer lowers the cross-entropy of correct demonstrations", "[sft]") {
  transformer_policy model(tiny_model(2));
  adamw opt({.lr = 1e-2, .weight_decay = 0.0});
  sft_batch batch(16, model.context_length(), task.vocab().pad());
  double first = 0, last = 0;
  for (index_t step = 0; step < 30; ++step) {
    philox_engine g(17, static_cast<std::uint64_t>(step % 2)); // two fixed batches
    batch.clear();
    for (int b = 0; b < 16; ++b) {
      const tasks::example ex = task.pretraining_example(g, true);
      batch.add(ex.prompt, ex.response);
    }
    model.zero_grad();
    const sft_result r = sft_loss_and_grad(model, batch.view(), {}, eigen_backend{.threads = 2});
    if (step < 2) first += r.loss;
    if (step >= 28) last += r.loss;
    clip_grad_norm(model.parameters(), 1.0);
    opt.step(model.parameters());
  }
  CHECK(last < 0.5 * first);
}
