#pragma once
// A tiny RL setup shared by the distributed tests (thread ranks in tests/trainer, MPI processes
// in tests/dist): a 1-layer transformer with a value head on a small Z_p walk task, 6 prompts
// per step, G = 4, 2 mini-batches, and a lenient reward so an untrained model sees both outcomes.
#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

#include <rlvr/policy/transformer.hpp>
#include <rlvr/random/philox.hpp>
#include <rlvr/tasks/zp_walk.hpp>
#include <rlvr/trainer/trainer.hpp>

namespace tiny_rl {
using rlvr::index_t;
using rlvr::token_t;
inline const rlvr::tasks::zp_walk& task() {
  static const rlvr::tasks::zp_walk t({.modulus = 11, .walk = {.pretrain_max_steps = 2, .train_max_distance = 2,
                                                               .eval_min_distance = 3, .eval_max_distance = 4,
                                                               .max_steps = 5}});
  return t;
}
inline rlvr::transformer_config model() {
  return {.vocab_size = task().vocab().size(), .context_length = 10, .d_model = 16, .n_layers = 1, .n_heads = 2,
          .value_head = true, .seed = 3, .threads = 1};
}
inline rlvr::trainer_config trainer(index_t shards,
                                    rlvr::gradient_reduction red = rlvr::gradient_reduction::deterministic) {
  return {.group_size = 4, .temperature = 1.0, .max_response_tokens = task().max_response_length(),
          .eos = task().vocab().eos(), .pad = task().vocab().pad(), .mini_batches = 2, .max_grad_norm = 1.0, .seed = 5,
          .shards = shards, .reduction = red};
}
inline std::vector<std::vector<token_t>> prompts_for(index_t step) {
  rlvr::philox_engine g(99, static_cast<std::uint64_t>(step));
  std::vector<std::vector<token_t>> p;
  for (int i = 0; i < 6; ++i) p.push_back(task().problem(g, rlvr::tasks::split::train));
  return p;
}
//! 1 when the response starts with a number (about 11 of the 15 tokens).
struct first_step_valid {
  double operator()(std::span<const token_t> p, std::span<const token_t> r) const {
    return (p.size() == 4 && !r.empty() && r[0] < task().nodes()) ? 1.0 : 0.0;
  }
};
inline std::vector<float> flat(rlvr::transformer_policy& m) {
  std::vector<float> w;
  for (const auto& p : m.parameters()) w.insert(w.end(), p.value.begin(), p.value.end());
  return w;
}
inline bool bit_equal(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}
} // namespace tiny_rl
