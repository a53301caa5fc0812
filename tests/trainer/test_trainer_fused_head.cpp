// The fused LM head in the trainer (trainer_config::lm_head): the transformer's forward_hidden /
// backward_hidden with rlvr::fused_linear_loss_and_grad give the gradients of the materialised
// path; whole training runs (W-REINFORCE, GRPO, PPO with values) on either path agree to
// rounding; the mode is resolved at construction and `fused` where it cannot run is an error.
#include <catch2/catch.hpp>

#include <cmath>
#include <string>
#include <vector>

#include <rlvr/backends/eigen.hpp>
#include <rlvr/fused_linear.hpp>
#include <rlvr/optim/adam.hpp>
#include <rlvr/policy/tabular.hpp>
#include <rlvr/policy/transformer.hpp>
#include <rlvr/tasks/zp_walk.hpp>
#include <rlvr/trainer/trainer.hpp>

using namespace rlvr;

namespace {
const tasks::zp_walk task({.modulus = 11, .walk = {.pretrain_max_steps = 2, .train_max_distance = 2,
                                                   .eval_min_distance = 3, .eval_max_distance = 4, .max_steps = 5}});
transformer_config model_cfg(bool value_head, index_t vocab = 0) {
  return {.vocab_size = vocab > 0 ? vocab : task.vocab().size(), .context_length = 10, .d_model = 16, .n_layers = 1,
          .n_heads = 2, .value_head = value_head, .seed = 3, .threads = 2};
}
trainer_config trainer_cfg(lm_head_mode mode) {
  trainer_config c{.group_size = 4, .temperature = 1.0, .max_response_tokens = task.max_response_length(),
                   .eos = task.vocab().eos(), .pad = task.vocab().pad(), .mini_batches = 2, .max_grad_norm = 1.0,
                   .seed = 11};
  c.lm_head = mode;
  c.vocab_chunk = 5; // several chunks over the task's vocabulary, one not dividing it
  return c;
}
std::vector<std::vector<token_t>> prompts_for(index_t step) {
  philox_engine g(99, static_cast<std::uint64_t>(step));
  std::vector<std::vector<token_t>> p;
  for (int i = 0; i < 6; ++i) p.push_back(task.problem(g, tasks::split::train));
  return p;
}
// A lenient reward so that an untrained model sees both outcomes.
struct first_step_valid {
  double operator()(std::span<const token_t> p, std::span<const token_t> r) const {
    return (p.size() == 4 && !r.empty() && r[0] < task.nodes()) ? 1.0 : 0.0;
  }
};
std::vector<float> flat(transformer_policy& m) {
  std::vector<float> w;
  for (const auto& p : m.parameters()) w.insert(w.end(), p.value.begin(), p.value.end());
  return w;
}
std::vector<float> flat_grads(transformer_policy& m) {
  std::vector<float> w;
  for (const auto& p : m.parameters()) w.insert(w.end(), p.grad.begin(), p.grad.end());
  return w;
}
double rel_l2(const std::vector<float>& a, const std::vector<float>& b) {
  REQUIRE(a.size() == b.size());
  double num = 0, den = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    num += (static_cast<double>(a[i]) - b[i]) * (static_cast<double>(a[i]) - b[i]);
    den += static_cast<double>(b[i]) * b[i];
  }
  return std::sqrt(num / std::max(den, 1e-300));
}

template <class O> void same_training(const O& obj, bool value_head, const char* what) {
  INFO(what);
  transformer_policy a(model_cfg(value_head)), b(model_cfg(value_head));
  adamw oa({.lr = 1e-2, .weight_decay = 0.0}), ob({.lr = 1e-2, .weight_decay = 0.0});
  trainer ta(a, oa, first_step_valid{}, obj, eigen_backend{.threads = 2}, trainer_cfg(lm_head_mode::materialised));
  trainer tb(b, ob, first_step_valid{}, obj, eigen_backend{.threads = 2}, trainer_cfg(lm_head_mode::fused));
  CHECK_FALSE(ta.fused_lm_head());
  CHECK(tb.fused_lm_head());
  const std::vector<float> w0 = flat(a);
  for (index_t s = 0; s < 5; ++s) {
    const step_metrics ma = ta.step(prompts_for(s));
    const step_metrics mb = tb.step(prompts_for(s));
    // the rollouts are the same (same Philox streams, weights equal to rounding)
    CHECK(ma.reward_mean == mb.reward_mean);
    CHECK(ma.response_length == mb.response_length);
    CHECK(mb.loss == Approx(ma.loss).margin(1e-5).epsilon(1e-4));
    INFO("step " << s);
    CHECK(rel_l2(flat(b), flat(a)) < 1e-4); // rounding, amplified by Adam on near-zero gradients
  }
  const std::vector<float> wa = flat(a), wb = flat(b);
  CHECK(rel_l2(wa, w0) > 1e-3); // the runs trained
  CHECK(rel_l2(wb, wa) < 1e-4);
}
} // namespace

TEST_CASE("transformer: forward_hidden + the fused head give forward's logits and backward's gradients",
          "[trainer][fused_linear]") {
  transformer_policy m(model_cfg(true));
  const index_t B = 3, T = 6, V = m.vocab_size(), d = 16;
  std::vector<token_t> toks;
  philox_engine g(5, 0);
  for (index_t i = 0; i < B * T; ++i) toks.push_back(static_cast<token_t>(g() % static_cast<std::uint64_t>(V)));
  std::vector<mask_t> mask(static_cast<std::size_t>(B * T), 0);
  for (index_t b = 0; b < B; ++b)
    for (index_t t = 2; t < T - b; ++t) mask[static_cast<std::size_t>(b * T + t)] = 1;
  const token_batch tb{matrix_view<const token_t>(toks.data(), B, T), matrix_view<const mask_t>(mask.data(), B, T)};
  const index_t N = B * T;
  // the materialised path: forward → loss_and_grad (GRPO-like advantages) → backward
  std::vector<float> logits(static_cast<std::size_t>(N * V)), vals(static_cast<std::size_t>(N));
  m.forward(tb, matrix_view<float>(logits.data(), N, V), vector_view<float>(vals));
  std::vector<token_t> y(static_cast<std::size_t>(N));
  std::vector<float> adv(static_cast<std::size_t>(N));
  std::vector<mask_t> act(static_cast<std::size_t>(N));
  for (index_t i = 0; i < N; ++i) {
    y[static_cast<std::size_t>(i)] = static_cast<token_t>((i * 7 + 3) % V);
    adv[static_cast<std::size_t>(i)] = (i % 3 == 0) ? 1.0f : -0.5f;
    act[static_cast<std::size_t>(i)] = mask[static_cast<std::size_t>(i)];
  }
  loss_token_batch<float> lb{};
  lb.targets = vector_view<const token_t>(y);
  lb.advantages = matrix_view<const float>(adv.data(), 1, N);
  lb.active = matrix_view<const mask_t>(act.data(), 1, N);
  const auto obj = rlvr::w_reinforce();
  std::vector<float> dvals(static_cast<std::size_t>(N));
  for (index_t i = 0; i < N; ++i) dvals[static_cast<std::size_t>(i)] = 0.01f * static_cast<float>(i % 5);
  m.zero_grad();
  loss_token_batch<float> lbm = lb;
  lbm.logits = matrix_view<const float>(logits.data(), N, V);
  const auto dm = loss_and_grad(eigen_backend{.threads = 2}, obj, lbm, matrix_view<float>(logits.data(), N, V),
                                loss_options{.temperature = 0.9});
  m.backward(matrix_view<const float>(logits.data(), N, V), vector_view<const float>(dvals));
  const std::vector<float> g_mat = flat_grads(m);

  // the fused path
  std::vector<float> hid(static_cast<std::size_t>(N * d)), dhid(static_cast<std::size_t>(N * d)),
      vals2(static_cast<std::size_t>(N));
  m.forward_hidden(tb, matrix_view<float>(hid.data(), N, d), vector_view<float>(vals2));
  CHECK(vals2 == vals);
  m.zero_grad();
  const lm_head_ref<float> head = m.lm_head();
  CHECK(head.layout == weight_layout::d_by_v);
  CHECK(head.vocab_size() == V);
  CHECK(head.input_size() == d);
  const auto df = fused_linear_loss_and_grad(
      eigen_backend{.threads = 2}, obj, matrix_view<const float>(hid.data(), N, d), head.weight, head.bias, lb,
      matrix_view<float>(dhid.data(), N, d), head.grad_weight, head.grad_bias,
      fused_linear_options{.loss = {.temperature = 0.9}, .vocab_chunk = 4, .accumulate = true, .layout = head.layout});
  CHECK(df.loss == Approx(dm.loss).epsilon(1e-5));
  m.backward_hidden(matrix_view<const float>(dhid.data(), N, d), vector_view<const float>(dvals));
  CHECK(rel_l2(flat_grads(m), g_mat) < 1e-5);
  // a backward from logits after forward_hidden is refused
  CHECK_THROWS_WITH(m.backward(matrix_view<const float>(logits.data(), N, V)), Catch::Contains("use backward_hidden"));
  CHECK_THROWS_WITH(m.forward_hidden(tb, matrix_view<float>(hid.data(), N, d - 1)),
                    Catch::Contains("transformer::forward_hidden: hidden is"));
}

TEST_CASE("trainer: the fused LM head trains as the materialised logits do (W-REINFORCE, GRPO, PPO)",
          "[trainer][fused_linear]") {
  same_training(rlvr::w_reinforce(), false, "w_reinforce");
  same_training(rlvr::grpo({.entropy = {.coef = 0.01}}), false, "grpo + entropy");
  same_training(rlvr::ppo(), true, "ppo with the value head");
}

TEST_CASE("trainer: lm_head is resolved at construction; fused where it cannot run says why", "[trainer][fused_linear]") {
  // automatic: fused where the policy has a linear head and the objective allows it
  {
    transformer_policy m(model_cfg(false));
    adamw o({.lr = 1e-2});
    trainer t(m, o, first_step_valid{}, rlvr::nsr(), eigen_backend{.threads = 1}, trainer_cfg(lm_head_mode::automatic));
    CHECK(t.fused_lm_head());
  }
  {
    tabular_policy m(4, task.vocab().size(), 10);
    adamw o({.lr = 1e-2});
    trainer t(m, o, first_step_valid{}, rlvr::nsr(), eigen_backend{.threads = 1}, trainer_cfg(lm_head_mode::automatic));
    CHECK_FALSE(t.fused_lm_head());
  }
  {
    transformer_policy m(model_cfg(false));
    adamw o({.lr = 1e-2});
    const auto obj = make_objective(group_zscore{}, ppo_clip{}, token_mean{}, kl_full{.beta = 0.1});
    trainer t(m, o, first_step_valid{}, obj, eigen_backend{.threads = 1}, trainer_cfg(lm_head_mode::automatic));
    CHECK_FALSE(t.fused_lm_head());
  }
  // fused on a policy without a linear head
  {
    tabular_policy m(4, task.vocab().size(), 10);
    adamw o({.lr = 1e-2});
    CHECK_THROWS_WITH(trainer(m, o, first_step_valid{}, rlvr::nsr(), eigen_backend{.threads = 1},
                              trainer_cfg(lm_head_mode::fused)),
                      Catch::Contains("lm_head = fused, but the policy does not model rlvr::FusedHeadPolicy"));
  }
  // fused with kl_full (reads whole reference logits rows)
  {
    transformer_policy m(model_cfg(false));
    adamw o({.lr = 1e-2});
    const auto obj = make_objective(group_zscore{}, ppo_clip{}, token_mean{}, kl_full{.beta = 0.1});
    CHECK_THROWS_WITH(trainer(m, o, first_step_valid{}, obj, eigen_backend{.threads = 1}, trainer_cfg(lm_head_mode::fused)),
                      Catch::Contains("kl_full"));
  }
  // a bad chunk
  {
    transformer_policy m(model_cfg(false));
    adamw o({.lr = 1e-2});
    trainer_config c = trainer_cfg(lm_head_mode::fused);
    c.vocab_chunk = 0;
    CHECK_THROWS_WITH(trainer(m, o, first_step_valid{}, rlvr::nsr(), eigen_backend{.threads = 1}, c),
                      Catch::Contains("vocab_chunk = 0"));
  }
}
