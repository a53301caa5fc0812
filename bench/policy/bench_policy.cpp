// bench_policy: the reference transformer at the flagship study's sizes (V = 32, T = 32,
// B = 256 sequences, 2 layers, d ∈ {64, 128}).
//
// Paths covered, each reporting tokens/s:
//   BM_forward          transformer_policy::forward over [B, T] (batched GEMMs on [B·T, d])
//   BM_forward_backward forward + backward (all parameter gradients)
//   BM_decode           KV-cache decoding: B sequences advance one token per call, T calls
//   BM_naive_forward    baseline: the same network computed token by token with plain loops
//                       (matrix-vector products, attention over the prefix) — what a direct
//                       transcription of the formulas costs
//   BM_decode_no_cache  baseline: sampling without a cache, re-running forward over the prefix
//                       at each of the T steps
//   BM_update_lm_head   one update's forward + loss + backward of the reference transformer (d = 64,
//                       2 layers, 64 sequences × 32 positions, 24 response rows each, W-REINFORCE)
//                       through the materialised logits (forward → loss_and_grad in place →
//                       backward; mode 0) or the fused LM head (forward_hidden →
//                       fused_linear_loss_and_grad → backward_hidden; mode 1), for V from the
//                       study's 32 to 32768: where the trainer's lm_head_mode::automatic switches
//   BM_train_step_*     real rlvr::trainer steps at the flagship study's sizes (zp_walk p = 53,
//                       d = 64, 2 layers, 4 heads, value head, 32 prompts × G = 8, 4 mini-batches,
//                       AdamW; W-REINFORCE λ = 0.1 and GRPO): each phase's share of the step
//                       (step_metrics' *_seconds over step_seconds, summed over the iterations;
//                       `other` = 1 − their sum), tokens/s (prompt + response tokens per step
//                       second), response tokens/s, mean response length and accuracy. The model
//                       is first fitted briefly (200 supervised steps on correct demonstrations,
//                       not timed) so that responses have a realistic length instead of running
//                       to the budget as an untrained model's do.
// Ratios are meaningful only between benchmarks of one run (same machine, same threads).
// Threads: the benchmark argument `threads` (1 or 2); RLVR_NUM_THREADS does not apply here.
#include <benchmark/benchmark.h>

#include <rlvr/backends/eigen.hpp>
#include <rlvr/fused_linear.hpp>
#include <rlvr/optim/adam.hpp>
#include <rlvr/optim/clip.hpp>
#include <rlvr/policy/transformer.hpp>
#include <rlvr/random/philox.hpp>
#include <rlvr/sft.hpp>
#include <rlvr/tasks/reward.hpp>
#include <rlvr/tasks/zp_walk.hpp>
#include <rlvr/trainer/trainer.hpp>

#include <algorithm>
#include <cmath>
#include <map>
#include <vector>

namespace {
using rlvr::index_t;
using rlvr::token_t;

constexpr index_t kV = 32, kT = 32, kB = 256;

rlvr::transformer_config config(index_t d, int threads) {
  return {.vocab_size = kV, .context_length = kT, .d_model = d, .n_layers = 2, .n_heads = d / 32,
          .seed = 1, .init_std = 0.1, .threads = threads};
}
std::vector<token_t> tokens(index_t n) {
  rlvr::philox_engine e(7);
  std::vector<token_t> t(static_cast<std::size_t>(n));
  for (auto& x : t) x = static_cast<token_t>(e.uniform_index(kV));
  return t;
}

void BM_forward(benchmark::State& st) {
  const index_t d = st.range(0);
  rlvr::transformer_policy m(config(d, static_cast<int>(st.range(1))));
  const auto toks = tokens(kB * kT);
  std::vector<float> logits(static_cast<std::size_t>(kB * kT * kV));
  for (auto _ : st) {
    m.forward({{toks.data(), kB, kT}, {}}, {logits.data(), kB * kT, kV});
    benchmark::DoNotOptimize(logits.data());
  }
  st.counters["tokens/s"] = benchmark::Counter(double(kB * kT), benchmark::Counter::kIsIterationInvariantRate);
}

void BM_forward_backward(benchmark::State& st) {
  const index_t d = st.range(0);
  rlvr::transformer_policy m(config(d, static_cast<int>(st.range(1))));
  const auto toks = tokens(kB * kT);
  std::vector<float> logits(static_cast<std::size_t>(kB * kT * kV)), dlogits(logits.size(), 1e-3f);
  for (auto _ : st) {
    m.forward({{toks.data(), kB, kT}, {}}, {logits.data(), kB * kT, kV});
    m.backward({dlogits.data(), kB * kT, kV});
    benchmark::DoNotOptimize(m.parameters()[0].grad.data());
  }
  st.counters["tokens/s"] = benchmark::Counter(double(kB * kT), benchmark::Counter::kIsIterationInvariantRate);
}

void BM_decode(benchmark::State& st) {
  const index_t d = st.range(0);
  rlvr::transformer_policy m(config(d, static_cast<int>(st.range(1))));
  const auto toks = tokens(kB * kT);
  auto cache = m.make_cache(kB);
  std::vector<float> logits(static_cast<std::size_t>(kB * kV));
  std::vector<token_t> col(static_cast<std::size_t>(kB));
  for (auto _ : st) {
    cache.clear();
    for (index_t t = 0; t < kT; ++t) {
      for (index_t b = 0; b < kB; ++b) col[static_cast<std::size_t>(b)] = toks[static_cast<std::size_t>(b * kT + t)];
      m.decode(cache, {col.data(), kB}, {logits.data(), kB, kV});
    }
    benchmark::DoNotOptimize(logits.data());
  }
  st.counters["tokens/s"] = benchmark::Counter(double(kB * kT), benchmark::Counter::kIsIterationInvariantRate);
}

void BM_decode_no_cache(benchmark::State& st) {
  const index_t d = st.range(0);
  rlvr::transformer_policy m(config(d, static_cast<int>(st.range(1))));
  const auto toks = tokens(kB * kT);
  std::vector<float> logits(static_cast<std::size_t>(kB * kT * kV));
  std::vector<token_t> prefix(static_cast<std::size_t>(kB * kT));
  for (auto _ : st) {
    for (index_t t = 1; t <= kT; ++t) { // step t: forward over the first t tokens of every sequence
      for (index_t b = 0; b < kB; ++b)
        for (index_t s = 0; s < t; ++s) prefix[static_cast<std::size_t>(b * t + s)] = toks[static_cast<std::size_t>(b * kT + s)];
      m.forward({{prefix.data(), kB, t}, {}}, {logits.data(), kB * t, kV});
    }
    benchmark::DoNotOptimize(logits.data());
  }
  st.counters["tokens/s"] = benchmark::Counter(double(kB * kT), benchmark::Counter::kIsIterationInvariantRate);
}

// The same network, token by token with plain loops, reading the model's parameters.
struct naive_net {
  rlvr::transformer_policy& m;
  index_t d, F, H, L;
  std::vector<std::span<const float>> p;
  explicit naive_net(rlvr::transformer_policy& model) : m(model) {
    d = m.config().d_model, F = m.config().ff(), H = m.config().n_heads, L = m.config().n_layers;
    for (const auto& q : m.parameters()) p.emplace_back(q.value.data(), q.value.size());
  }
  static void ln(const float* x, const float* g, const float* b, float* y, index_t d) {
    float mu = 0, var = 0;
    for (index_t j = 0; j < d; ++j) mu += x[j];
    mu /= float(d);
    for (index_t j = 0; j < d; ++j) var += (x[j] - mu) * (x[j] - mu);
    const float rs = 1.0f / std::sqrt(var / float(d) + 1e-5f);
    for (index_t j = 0; j < d; ++j) y[j] = (x[j] - mu) * rs * g[j] + b[j];
  }
  static void matvec(const float* x, const float* W, const float* b, float* y, index_t in, index_t out, bool add) {
    for (index_t o = 0; o < out; ++o) {
      float s = b[o];
      for (index_t i = 0; i < in; ++i) s += x[i] * W[i * out + o];
      y[o] = add ? y[o] + s : s;
    }
  }
  // one sequence of length T; logits [T, V]
  void run(const token_t* toks, index_t T, float* logits) {
    std::vector<float> x(static_cast<std::size_t>(T * d)), h(static_cast<std::size_t>(d)),
        qkv(static_cast<std::size_t>(L * T * 3 * d)), o(static_cast<std::size_t>(d)), u(static_cast<std::size_t>(F)),
        sc(static_cast<std::size_t>(T));
    const index_t dh = d / H;
    for (index_t t = 0; t < T; ++t) {
      float* xt = x.data() + t * d;
      for (index_t j = 0; j < d; ++j) xt[j] = p[0][static_cast<std::size_t>(toks[t] * d + j)] + p[1][static_cast<std::size_t>(t * d + j)];
      for (index_t l = 0; l < L; ++l) {
        const auto* P = &p[static_cast<std::size_t>(2 + 12 * l)];
        float* q = qkv.data() + (l * T + t) * 3 * d;
        ln(xt, P[0].data(), P[1].data(), h.data(), d);
        matvec(h.data(), P[2].data(), P[3].data(), q, d, 3 * d, false);
        for (index_t hh = 0; hh < H; ++hh) {
          float mx = -1e30f, sum = 0;
          for (index_t s = 0; s <= t; ++s) {
            const float* k = qkv.data() + (l * T + s) * 3 * d + d + hh * dh;
            float dot = 0;
            for (index_t e = 0; e < dh; ++e) dot += q[hh * dh + e] * k[e];
            sc[static_cast<std::size_t>(s)] = dot / std::sqrt(float(dh));
            mx = std::max(mx, sc[static_cast<std::size_t>(s)]);
          }
          for (index_t s = 0; s <= t; ++s) sum += (sc[static_cast<std::size_t>(s)] = std::exp(sc[static_cast<std::size_t>(s)] - mx));
          for (index_t e = 0; e < dh; ++e) {
            float acc = 0;
            for (index_t s = 0; s <= t; ++s) acc += sc[static_cast<std::size_t>(s)] * qkv[static_cast<std::size_t>((l * T + s) * 3 * d + 2 * d + hh * dh + e)];
            o[static_cast<std::size_t>(hh * dh + e)] = acc / sum;
          }
        }
        matvec(o.data(), P[4].data(), P[5].data(), xt, d, d, true);
        ln(xt, P[6].data(), P[7].data(), h.data(), d);
        matvec(h.data(), P[8].data(), P[9].data(), u.data(), d, F, false);
        for (float& v : u) v = 0.5f * v * (1.0f + std::tanh(0.7978845608f * (v + 0.044715f * v * v * v)));
        matvec(u.data(), P[10].data(), P[11].data(), xt, F, d, true);
      }
      const auto* Pf = &p[static_cast<std::size_t>(2 + 12 * L)];
      ln(xt, Pf[0].data(), Pf[1].data(), h.data(), d);
      matvec(h.data(), Pf[2].data(), Pf[3].data(), logits + t * kV, d, kV, false);
    }
  }
};

void BM_naive_forward(benchmark::State& st) {
  const index_t d = st.range(0);
  rlvr::transformer_policy m(config(d, 1));
  naive_net net(m);
  const auto toks = tokens(kB * kT);
  std::vector<float> logits(static_cast<std::size_t>(kB * kT * kV));
  // agreement check with the batched forward (not timed)
  {
    std::vector<float> ref(logits.size());
    m.forward({{toks.data(), kB, kT}, {}}, {ref.data(), kB * kT, kV});
    net.run(toks.data(), kT, logits.data());
    double worst = 0;
    for (index_t i = 0; i < kT * kV; ++i) worst = std::max(worst, double(std::abs(ref[static_cast<std::size_t>(i)] - logits[static_cast<std::size_t>(i)])));
    if (worst > 1e-3) st.SkipWithError("naive baseline disagrees with transformer_policy::forward");
  }
  for (auto _ : st) {
    for (index_t b = 0; b < kB; ++b) net.run(toks.data() + b * kT, kT, logits.data() + b * kT * kV);
    benchmark::DoNotOptimize(logits.data());
  }
  st.counters["tokens/s"] = benchmark::Counter(double(kB * kT), benchmark::Counter::kIsIterationInvariantRate);
}

// ---- BM_train_step ----------------------------------------------------------------------------
// The study's task as of 0.1 (RL band d <= 3; the 0.2 default trains on d <= 4, which changes no size:
// the same p = 53, vocabulary and response limit) and model.
const rlvr::tasks::zp_walk& study_task() {
  static const rlvr::tasks::zp_walk t({.modulus = 53,
                                       .walk = {.pretrain_max_steps = 4, .train_max_distance = 3,
                                                .eval_min_distance = 4, .eval_max_distance = 5, .max_steps = 10}});
  return t;
}

// A study-sized model after 200 supervised steps on correct demonstrations (rlvr::sft_loss_and_grad on
// the response tokens, AdamW 3e-3, batch 64, clip 1) — built once per process, then copied.
const rlvr::transformer_policy& fitted_model() {
  static const rlvr::transformer_policy model = [] {
    const auto& task = study_task();
    rlvr::transformer_policy m({.vocab_size = task.vocab().size(),
                                .context_length = task.max_prompt_length() + task.max_response_length(),
                                .d_model = 64, .n_layers = 2, .n_heads = 4, .value_head = true, .seed = 1,
                                .threads = 2});
    rlvr::adamw opt({.lr = 3e-3, .weight_decay = 0.0});
    rlvr::sft_batch batch(64, m.context_length(), task.vocab().pad());
    for (index_t step = 0; step < 200; ++step) {
      rlvr::philox_engine g(11, static_cast<std::uint64_t>(step));
      batch.clear();
      for (index_t b = 0; b < 64; ++b) {
        const rlvr::tasks::example ex = task.pretraining_example(g, true);
        batch.add(ex.prompt, ex.response);
      }
      m.zero_grad();
      (void)rlvr::sft_loss_and_grad(m, batch.view(), {}, rlvr::eigen_backend{.threads = 2});
      const auto params = m.parameters();
      rlvr::clip_grad_norm(params, 1.0);
      opt.step(params);
    }
    return m;
  }();
  return model;
}

template <class Objective> void train_step(benchmark::State& st, Objective obj) {
  const auto& task = study_task();
  const int threads = static_cast<int>(st.range(0));
  rlvr::transformer_policy model = fitted_model();
  model.set_threads(threads);
  rlvr::adamw opt({.lr = 3e-4, .weight_decay = 0.0});
  const rlvr::trainer_config tc{.group_size = 8, .temperature = 1.0, .max_response_tokens = task.max_response_length(),
                                .eos = task.vocab().eos(), .pad = task.vocab().pad(), .mini_batches = 4,
                                .epochs = 1, .max_grad_norm = 1.0, .seed = 5};
  rlvr::trainer tr(model, opt, rlvr::tasks::verifier{task}, obj, rlvr::eigen_backend{.threads = threads}, tc);
  rlvr::step_metrics sum{};
  double resp_tokens = 0, all_tokens = 0, accuracy = 0;
  index_t s = 0;
  for (auto _ : st) {
    rlvr::philox_engine g(13, static_cast<std::uint64_t>(s++));
    std::vector<std::vector<token_t>> prompts;
    for (int i = 0; i < 32; ++i) prompts.push_back(task.problem(g, rlvr::tasks::split::train));
    const rlvr::step_metrics m = tr.step(prompts);
    sum.rollout_seconds += m.rollout_seconds;
    sum.logprob_seconds += m.logprob_seconds;
    sum.advantage_seconds += m.advantage_seconds;
    sum.forward_seconds += m.forward_seconds;
    sum.loss_seconds += m.loss_seconds;
    sum.backward_seconds += m.backward_seconds;
    sum.optimizer_seconds += m.optimizer_seconds;
    sum.step_seconds += m.step_seconds;
    resp_tokens += m.response_length * static_cast<double>(m.responses);
    all_tokens += (static_cast<double>(prompts[0].size()) + m.response_length) * static_cast<double>(m.responses);
    accuracy += m.accuracy;
    if (m.updates != 4) st.SkipWithError("expected 4 updates per rollout batch");
  }
  const double T = sum.step_seconds, n = static_cast<double>(std::max<index_t>(s, 1));
  st.counters["rollout"] = sum.rollout_seconds / T;
  st.counters["logprob"] = sum.logprob_seconds / T;
  st.counters["advantage"] = sum.advantage_seconds / T;
  st.counters["forward"] = sum.forward_seconds / T;
  st.counters["loss"] = sum.loss_seconds / T;
  st.counters["backward"] = sum.backward_seconds / T;
  st.counters["optimizer"] = sum.optimizer_seconds / T;
  st.counters["other"] = 1.0 - (sum.rollout_seconds + sum.logprob_seconds + sum.advantage_seconds +
                                sum.forward_seconds + sum.loss_seconds + sum.backward_seconds + sum.optimizer_seconds) / T;
  st.counters["tokens/s"] = all_tokens / T; // prompt + response tokens of the rollout batch
  st.counters["resp_tokens/s"] = resp_tokens / T;
  st.counters["resp_len"] = resp_tokens / (n * 256.0);
  st.counters["accuracy"] = accuracy / n;
}
void BM_train_step_w_reinforce(benchmark::State& st) { train_step(st, rlvr::w_reinforce()); }
void BM_train_step_grpo(benchmark::State& st) { train_step(st, rlvr::grpo()); }

// ---- BM_update_lm_head ------------------------------------------------------------------------
void BM_update_lm_head(benchmark::State& st) {
  const index_t V = st.range(0), d = 64, B = 64, T = 32, N = B * T;
  const bool fused = st.range(1) != 0;
  rlvr::transformer_policy m({.vocab_size = V, .context_length = T, .d_model = d, .n_layers = 2, .n_heads = 2,
                              .seed = 1, .init_std = 0.1, .threads = 2});
  rlvr::philox_engine e(7);
  std::vector<token_t> toks(static_cast<std::size_t>(N)), y(static_cast<std::size_t>(N));
  for (auto& x : toks) x = static_cast<token_t>(e.uniform_index(static_cast<std::uint32_t>(V)));
  std::vector<rlvr::mask_t> mask(static_cast<std::size_t>(N), 0), act(static_cast<std::size_t>(N), 0);
  std::vector<float> adv(static_cast<std::size_t>(N), 0.0f);
  for (index_t i = 0; i < N; ++i) {
    const bool resp = i % T >= 7 && i % T < 31; // 24 response rows per sequence
    mask[static_cast<std::size_t>(i)] = act[static_cast<std::size_t>(i)] = resp ? 1 : 0;
    y[static_cast<std::size_t>(i)] = toks[static_cast<std::size_t>(i + 1 < N ? i + 1 : i)];
    adv[static_cast<std::size_t>(i)] = (i / T) % 2 == 0 ? 1.0f : -1.0f;
  }
  const rlvr::token_batch tb{rlvr::matrix_view<const token_t>(toks.data(), B, T),
                             rlvr::matrix_view<const rlvr::mask_t>(mask.data(), B, T)};
  rlvr::loss_token_batch<float> lb{};
  lb.targets = rlvr::vector_view<const token_t>(y);
  lb.advantages = rlvr::matrix_view<const float>(adv.data(), 1, N);
  lb.active = rlvr::matrix_view<const rlvr::mask_t>(act.data(), 1, N);
  const auto obj = rlvr::w_reinforce();
  const rlvr::eigen_backend be{.threads = 2};
  std::vector<float> logits, hid, dhid;
  for (auto _ : st) {
    m.zero_grad();
    if (fused) {
      hid.resize(static_cast<std::size_t>(N * d));
      dhid.resize(static_cast<std::size_t>(N * d));
      m.forward_hidden(tb, rlvr::matrix_view<float>(hid.data(), N, d));
      const rlvr::lm_head_ref<float> h = m.lm_head();
      const auto diag = rlvr::fused_linear_loss_and_grad(be, obj, rlvr::matrix_view<const float>(hid.data(), N, d), h.weight,
                                                         h.bias, lb, rlvr::matrix_view<float>(dhid.data(), N, d),
                                                         h.grad_weight, h.grad_bias, {.layout = h.layout});
      benchmark::DoNotOptimize(diag.loss);
      m.backward_hidden(rlvr::matrix_view<const float>(dhid.data(), N, d));
    } else {
      logits.resize(static_cast<std::size_t>(N * V));
      const rlvr::matrix_view<float> z(logits.data(), N, V);
      m.forward(tb, z);
      rlvr::loss_token_batch<float> l = lb;
      l.logits = rlvr::matrix_view<const float>(z);
      const auto diag = rlvr::loss_and_grad(be, obj, l, z, {});
      benchmark::DoNotOptimize(diag.loss);
      m.backward(rlvr::matrix_view<const float>(z));
    }
  }
  st.counters["tokens/s"] = benchmark::Counter(static_cast<double>(N), benchmark::Counter::kIsIterationInvariantRate);
}

void sizes(benchmark::internal::Benchmark* b) {
  b->ArgNames({"d", "threads"});
  for (int d : {64, 128})
    for (int t : {1, 2}) b->Args({d, t});
  b->Unit(benchmark::kMillisecond)->UseRealTime();
}
} // namespace

BENCHMARK(BM_forward)->Apply(sizes);
BENCHMARK(BM_forward_backward)->Apply(sizes);
BENCHMARK(BM_decode)->Apply(sizes);
BENCHMARK(BM_decode_no_cache)->Apply(sizes);
BENCHMARK(BM_naive_forward)->ArgNames({"d", "threads"})->Args({64, 1})->Args({128, 1})->Unit(benchmark::kMillisecond)->UseRealTime();

BENCHMARK(BM_update_lm_head)->ArgNames({"V", "fused"})->ArgsProduct({{32, 512, 4096, 32768}, {0, 1}})->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_train_step_w_reinforce)->ArgName("threads")->Arg(1)->Arg(2)->Iterations(10)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_train_step_grpo)->ArgName("threads")->Arg(1)->Arg(2)->Iterations(10)->Unit(benchmark::kMillisecond)->UseRealTime();

BENCHMARK_MAIN();
