// A first hour with rlvr: own task, SFT warm start, NSR + GRPO via fit, Pass@k with intervals, checkpoints.
#include <rlvr/backends/eigen.hpp>
#include <rlvr/evaluate.hpp>
#include <rlvr/optim/adam.hpp>
#include <rlvr/policy/transformer.hpp>
#include <rlvr/sft.hpp>
#include <rlvr/trainer/trainer.hpp>
#include <cstdio>
#include <filesystem>
using rlvr::token_t;
struct next_digit { // "<bos> a b <sep>" → "(a + 1) mod 10 <eos>"; the digits are tokens 0–9
  rlvr::tasks::vocabulary words{{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"}};
  const rlvr::tasks::vocabulary& vocab() const { return words; }
  std::string_view name() const { return "next_digit"; } // the rest of rlvr::tasks::TaskVerifier:
  rlvr::index_t max_prompt_length() const { return 4; }  rlvr::index_t max_response_length() const { return 2; }
  float score(std::span<const token_t> p, std::span<const token_t> r) const {
    return r.size() == 2 && r[1] == words.eos() && r[0] == (p[1] + 1) % 10 ? 1.0f : 0.0f;
  }
  std::vector<token_t> prompt(long i) const { return {words.bos(), token_t(i % 10), token_t(i / 10 % 10), words.sep()}; }
};
int main() {
  const next_digit task;  const rlvr::eigen_backend cpu{.threads = 2};
  const rlvr::transformer_config shape{.vocab_size = task.vocab().size(), .context_length = 6, .d_model = 32,
                                       .n_layers = 1, .n_heads = 2, .seed = 1, .threads = 2};
  rlvr::transformer_policy model(shape);  rlvr::adamw opt({.lr = 3e-3, .weight_decay = 0.0});
  rlvr::sft_batch batch(64, shape.context_length, task.vocab().pad());
  for (long step = 0; step < 200; ++step, batch.clear()) { // SFT warm start; 1 demonstration in 3 is off by one
    for (long b = 0; b < 64; ++b) {
      const auto p = task.prompt(step * 64 + b);
      batch.add(p, std::vector<token_t>{token_t((p[1] + 1 + (b % 3 == 0)) % 10), task.vocab().eos()});
    }
    model.zero_grad(); // sft_loss_and_grad runs forward, the fused cross-entropy and backward
    rlvr::sft_loss_and_grad(model, batch.view(), {}, cpu);
    opt.step(model.parameters());
  }
  std::vector<std::vector<token_t>> held_out, train;
  for (long i = 3; i < 100; i += 7) held_out.push_back(task.prompt(i));
  const auto pass_at_k = [&](const rlvr::transformer_policy& m, const char* name) {
    const auto e = rlvr::evaluate(m, task, held_out, 16, {1, 4, 16}, {}, {.seed = 9}, cpu);
    std::printf("%-5s", name);
    for (std::size_t q = 0; q < e.ks.size(); ++q)
      std::printf("  pass@%-2td %.3f [%.3f, %.3f]", e.ks[q], e.pass_at_k[q].mean, e.pass_at_k[q].low, e.pass_at_k[q].high);
    std::printf("  entropy %.3f\n", e.mean_entropy);
    return e.pass_at_k[0].mean;
  };
  const double base = pass_at_k(model, "base");
  const auto prompts = [&](rlvr::index_t s) { train.clear(); for (long i = 0; i < 16; ++i) train.push_back(task.prompt(s * 16 + i)); return train; };
  std::filesystem::remove_all("first_hour_out"); // a fresh run (fit resumes from an existing checkpoint)
  rlvr::metrics_writer log("first_hour_out/nsr.jsonl"); // one JSON line of step metrics per step
  rlvr::adamw rl_opt({.lr = 3e-4, .weight_decay = 0.0});
  rlvr::trainer nsr(model, rl_opt, task, rlvr::nsr(), cpu, {.group_size = 8, .mini_batches = 2, .seed = 1});
  nsr.fit(prompts, {.steps = 8, .checkpoint_every = 4, .log = &log, .checkpoint = "first_hour_out/nsr.safetensors"});
  const double after_nsr = pass_at_k(model, "nsr");
  rlvr::transformer_policy restored(shape); // checkpoint round trip: a fresh model from the file
  rlvr::trainer(restored, rl_opt, task, rlvr::nsr(), cpu, {.seed = 1}).load_state(rlvr::io::load_safetensors("first_hour_out/nsr.safetensors"));
  rlvr::trainer grpo(model, rl_opt, task, rlvr::grpo(), cpu, {.group_size = 8, .mini_batches = 2, .seed = 2});
  grpo.fit(prompts, {.steps = 8});
  return pass_at_k(restored, "load") == after_nsr && pass_at_k(model, "grpo") > base ? 0 : 1;
}
