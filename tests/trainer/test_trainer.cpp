// The trainer on the tabular policy: closed-form updates, PSR/NSR dropping and their effect on
// the distribution, determinism, thread independence, checkpoint/resume bit for bit.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <span>
#include <sstream>
#include <string>
#include <vector>

#include <rlvr/backends/serial.hpp>
#include <rlvr/optim/adam.hpp>
#include <rlvr/optim/sgd.hpp>
#include <rlvr/policy/tabular.hpp>
#include <rlvr/trainer/trainer.hpp>

using namespace rlvr;

namespace {
// Prompt x is answered by one token; tokens < correct_below are correct. Token V−1 is `eos`.
struct first_tokens_correct {
  token_t correct_below = 2;
  double operator()(std::span<const token_t>, std::span<const token_t> r) const {
    return (!r.empty() && r[0] < correct_below) ? 1.0 : 0.0;
  }
};
static_assert(TokenReward<first_tokens_correct>);

constexpr index_t V = 6;
trainer_config bandit_config(std::uint64_t seed = 1) {
  return {.group_size = 16, .temperature = 1.0, .max_response_tokens = 1, .eos = V - 1, .pad = 0,
          .mini_batches = 1, .epochs = 1, .max_grad_norm = 0.0, .seed = seed};
}
tabular_policy make_bandit(index_t prompts = 2) {
  tabular_policy p(prompts, V, 2);
  const std::vector<float> z{1.0f, 0.2f, 0.5f, 0.0f, -0.5f, -4.0f};
  for (index_t x = 0; x < prompts; ++x) p.set_logits(x, z);
  return p;
}
std::vector<std::vector<token_t>> bandit_prompts(index_t n) {
  std::vector<std::vector<token_t>> p;
  for (index_t x = 0; x < n; ++x) p.push_back({static_cast<token_t>(x)});
  return p;
}
double entropy_of(const std::vector<double>& p) {
  double h = 0;
  for (double q : p)
    if (q > 0) h -= q * std::log(q);
  return h;
}
std::vector<float> weights_of(tabular_policy& p) {
  std::vector<float> w;
  for (const auto& r : p.parameters()) w.insert(w.end(), r.value.begin(), r.value.end());
  return w;
}
} // namespace

TEST_CASE("one REINFORCE step equals the closed-form token-mean gradient step", "[trainer]") {
  auto pol = make_bandit(2);
  const auto p0 = pol.probabilities(0), p1 = pol.probabilities(1);
  std::vector<float> th0(pol.logits(0).begin(), pol.logits(0).end()), th1(pol.logits(1).begin(), pol.logits(1).end());
  const double eta = 0.5;
  sgd opt({.lr = eta});
  trainer tr(pol, opt, first_tokens_correct{}, reinforce(), serial_backend{}, bandit_config());
  const auto prompts = bandit_prompts(2);
  const step_metrics m = tr.step(prompts);
  REQUIRE(m.responses == 32);
  REQUIRE(m.updates == 1);
  // ℓ = −A log π(y), A = ±1, token mean over all 32 tokens: ∂L/∂θ_x = (1/32) Σ_{i of x} A_i (p − e_y)
  const auto seqs = tr.last_sequences();
  std::vector<double> g0(V, 0.0), g1(V, 0.0);
  for (index_t i = 0; i < 32; ++i) {
    const token_t x = seqs(i, 0), y = seqs(i, 1);
    const double a = y < 2 ? 1.0 : -1.0;
    auto& g = x == 0 ? g0 : g1;
    const auto& p = x == 0 ? p0 : p1;
    for (index_t v = 0; v < V; ++v) g[static_cast<std::size_t>(v)] += a * (p[static_cast<std::size_t>(v)] - (v == y ? 1.0 : 0.0)) / 32.0;
  }
  for (index_t v = 0; v < V; ++v) {
    CHECK(pol.logits(0)[static_cast<std::size_t>(v)] == Approx(th0[static_cast<std::size_t>(v)] - eta * g0[static_cast<std::size_t>(v)]).margin(1e-6));
    CHECK(pol.logits(1)[static_cast<std::size_t>(v)] == Approx(th1[static_cast<std::size_t>(v)] - eta * g1[static_cast<std::size_t>(v)]).margin(1e-6));
  }
  // metrics: the accuracy is the fraction of sampled tokens < 2
  double acc = 0;
  for (index_t i = 0; i < 32; ++i) acc += seqs(i, 1) < 2 ? 1.0 : 0.0;
  CHECK(m.accuracy == Approx(acc / 32.0));
  CHECK(m.reward_mean == Approx(acc / 32.0));
  CHECK(m.response_length == 1.0);
  CHECK(m.truncated_fraction == 1.0); // one token, never eos (p(eos) tiny but possible: see below)
  CHECK(m.entropy == Approx(entropy_of(p0)).epsilon(1e-5));
}

TEST_CASE("PSR keeps only correct responses, NSR only incorrect ones", "[trainer]") {
  for (int mode = 0; mode < 2; ++mode) {
    auto pol = make_bandit(2);
    sgd opt({.lr = 0.1});
    auto obj = mode == 0 ? psr() : nsr();
    trainer tr(pol, opt, first_tokens_correct{}, obj, serial_backend{}, bandit_config(3));
    const auto m = tr.step(bandit_prompts(2));
    index_t correct = 0;
    for (float r : tr.last_rewards()) correct += r > 0 ? 1 : 0;
    CHECK(m.kept == (mode == 0 ? correct : 32 - correct));
    CHECK(m.dropped == 32 - m.kept);
  }
}

TEST_CASE("PSR sharpens the distribution; NSR raises accuracy and keeps the entropy", "[trainer]") {
  const auto p_init = make_bandit(1).probabilities(0);
  const double acc0 = p_init[0] + p_init[1];
  auto run = [&](auto obj) {
    auto pol = make_bandit(1);
    sgd opt({.lr = 0.3});
    auto cfg = bandit_config(11);
    cfg.group_size = 64;
    trainer tr(pol, opt, first_tokens_correct{}, obj, serial_backend{}, cfg);
    for (int s = 0; s < 8; ++s) tr.step(bandit_prompts(1));
    return pol.probabilities(0);
  };
  const auto pp = run(psr()), pn = run(nsr());
  const double acc_p = pp[0] + pp[1], acc_n = pn[0] + pn[1];
  INFO("acc0 " << acc0 << " psr " << acc_p << " nsr " << acc_n << " H0 " << entropy_of(p_init) << " Hpsr "
                << entropy_of(pp) << " Hnsr " << entropy_of(pn) << " r0 " << p_init[0] / p_init[1] << " rpsr "
                << pp[0] / pp[1] << " rnsr " << pn[0] / pn[1]);
  CHECK(acc_p > acc0 + 0.1);
  CHECK(acc_n > acc0 + 0.1);
  // Both sharpen: PSR directly; NSR removes the wrong tokens' mass. Among the survivors NSR is
  // *not* ratio-preserving: to first order Δ log p_v = η(p_v + p_y − Σ p²) (spec §6), which
  // favours the larger p_v, so the prior's ranking is kept (never inverted) but stretched.
  CHECK(entropy_of(pp) < entropy_of(p_init));
  CHECK(entropy_of(pn) < entropy_of(p_init));
  CHECK(pp[0] > pp[1]);
  CHECK(pn[0] > pn[1]);
  // NSR's updates never raise a token it sampled; PSR's never raise one it did not sample: the
  // wrong tokens only lose mass under both.
  for (std::size_t v = 2; v < 5; ++v) {
    CHECK(pp[v] < p_init[v]);
    CHECK(pn[v] < p_init[v]);
  }
}

TEST_CASE("a run is a pure function of the seed and independent of the thread count", "[trainer]") {
  auto run = [](std::uint64_t seed, int threads) {
    auto pol = make_bandit(3);
    adamw opt({.lr = 0.05});
    auto cfg = bandit_config(seed);
    cfg.mini_batches = 4;
    cfg.max_grad_norm = 1.0;
    trainer tr(pol, opt, first_tokens_correct{}, grpo(), serial_backend{.threads = threads}, cfg);
    std::vector<double> rewards;
    for (int s = 0; s < 5; ++s) rewards.push_back(tr.step(bandit_prompts(3)).reward_mean);
    return std::make_pair(weights_of(pol), rewards);
  };
  const auto a = run(7, 1), b = run(7, 2), c = run(8, 1);
  CHECK(a.first == b.first);
  CHECK(a.second == b.second);
  CHECK(a.first != c.first);
}

TEST_CASE("resuming from a checkpoint reproduces the uninterrupted run bit for bit", "[trainer]") {
  auto cfg = bandit_config(21);
  cfg.mini_batches = 4;
  cfg.max_grad_norm = 1.0;
  const auto prompts = bandit_prompts(2);
  // uninterrupted: 6 steps
  auto pa = make_bandit(2);
  adamw oa({.lr = 0.05});
  trainer ta(pa, oa, first_tokens_correct{}, grpo(), serial_backend{}, cfg);
  std::vector<step_metrics> ma;
  for (int s = 0; s < 6; ++s) ma.push_back(ta.step(prompts));
  // interrupted after 3 steps, resumed in fresh objects
  state_dict ckpt;
  {
    auto pb = make_bandit(2);
    adamw ob({.lr = 0.05});
    trainer tb(pb, ob, first_tokens_correct{}, grpo(), serial_backend{}, cfg);
    for (int s = 0; s < 3; ++s) tb.step(prompts);
    tb.save_state(ckpt);
  }
  tabular_policy pc(2, V, 2); // different (uniform) weights: the checkpoint must restore them
  adamw oc({.lr = 0.05});
  trainer tc(pc, oc, first_tokens_correct{}, grpo(), serial_backend{}, cfg);
  tc.load_state(ckpt);
  CHECK(tc.steps_done() == 3);
  for (int s = 3; s < 6; ++s) {
    const auto m = tc.step(prompts);
    CHECK(m.step == s);
    CHECK(m.reward_mean == ma[static_cast<std::size_t>(s)].reward_mean);
    CHECK(m.loss == ma[static_cast<std::size_t>(s)].loss);
    CHECK(m.ref_kl == ma[static_cast<std::size_t>(s)].ref_kl);
  }
  const auto wa = weights_of(pa), wc = weights_of(pc);
  REQUIRE(wa.size() == wc.size());
  CHECK(std::memcmp(wa.data(), wc.data(), wa.size() * sizeof(float)) == 0);
  // a checkpoint from another seed is refused
  auto other = cfg;
  other.seed = 22;
  tabular_policy pd(2, V, 2);
  adamw od({.lr = 0.05});
  trainer td(pd, od, first_tokens_correct{}, grpo(), serial_backend{}, other);
  CHECK_THROWS_WITH(td.load_state(ckpt), Catch::Contains("seed 21"));
}

TEST_CASE("mini-batches after the first see ratios away from 1 (the PPO clip engages)", "[trainer]") {
  auto pol = make_bandit(2);
  adamw opt({.lr = 0.5});
  auto cfg = bandit_config(5);
  cfg.mini_batches = 4;
  trainer tr(pol, opt, first_tokens_correct{}, w_reinforce(), serial_backend{}, cfg);
  const auto m = tr.step(bandit_prompts(2));
  CHECK(m.updates == 4);
  CHECK(m.approx_kl != 0.0);
  CHECK(m.clip_frac_low + m.clip_frac_high > 0.0);
  // epochs multiply the updates; a PSR batch with no correct response takes none
  auto pol2 = make_bandit(2);
  adamw opt2({.lr = 0.5});
  cfg.epochs = 2;
  trainer tr2(pol2, opt2, first_tokens_correct{}, w_reinforce(), serial_backend{}, cfg);
  CHECK(tr2.step(bandit_prompts(2)).updates == 8);
  auto pol3 = make_bandit(1);
  sgd opt3({.lr = 0.5});
  trainer tr3(pol3, opt3, first_tokens_correct{.correct_below = 0}, psr(), serial_backend{}, bandit_config());
  const auto w_before = weights_of(pol3);
  const auto m3 = tr3.step(bandit_prompts(1));
  CHECK(m3.kept == 0);
  CHECK(m3.updates == 0);
  CHECK(weights_of(pol3) == w_before);
}

TEST_CASE("the trainer names bad configuration and prompts", "[trainer]") {
  auto pol = make_bandit(2);
  sgd opt;
  CHECK_THROWS_WITH(trainer(pol, opt, first_tokens_correct{}, psr(), serial_backend{}, trainer_config{}),
                    Catch::Contains("max_response_tokens = 0") && Catch::Contains("pass a task"));
  CHECK_THROWS_WITH(trainer(pol, opt, first_tokens_correct{}, psr(), serial_backend{},
                            trainer_config{.max_response_tokens = 1}),
                    Catch::Contains("eos = -1"));
  auto cfg = bandit_config();
  cfg.group_size = 0;
  CHECK_THROWS_WITH(trainer(pol, opt, first_tokens_correct{}, psr(), serial_backend{}, cfg),
                    Catch::Contains("group_size = 0"));
  trainer tr(pol, opt, first_tokens_correct{}, psr(), serial_backend{}, bandit_config());
  const std::vector<std::vector<token_t>> ragged{{0}, {1, 0}};
  CHECK_THROWS_WITH(tr.step(ragged), Catch::Contains("prompt 1 has 2 tokens"));
  const std::vector<std::vector<token_t>> bad{{0}, {9}};
  CHECK_THROWS_AS(tr.step(bad), range_error);
  cfg = bandit_config();
  cfg.max_response_tokens = 2; // prompt 1 + 2 > context 2
  trainer tr2(pol, opt, first_tokens_correct{}, psr(), serial_backend{}, cfg);
  CHECK_THROWS_WITH(tr2.step(bandit_prompts(1)), Catch::Contains("context_length"));
}

TEST_CASE("track_reference_kl reports the k3 KL to the initial policy", "[trainer]") {
  auto pol = make_bandit(2);
  sgd opt({.lr = 0.5});
  auto cfg = bandit_config(13);
  cfg.track_reference_kl = true;
  trainer tr(pol, opt, first_tokens_correct{}, psr(), serial_backend{}, cfg);
  CHECK(tr.step(bandit_prompts(2)).ref_kl == 0.0); // rollout policy == reference at step 0
  const double kl1 = tr.step(bandit_prompts(2)).ref_kl;
  CHECK(kl1 > 0.0);
  // k3 = E[exp(Δ) − Δ − 1] ≥ 0 over the sampled tokens; compare with the closed form of one
  // categorical: the trainer's value is a Monte-Carlo estimate of KL(π‖π_ref) on 32 samples
  CHECK(kl1 < 1.0);
}

namespace {
// The phase timings are disjoint intervals inside step_seconds (steady_clock, so never negative).
void check_phase_times(const step_metrics& m) {
  const double phases[] = {m.rollout_seconds, m.logprob_seconds,  m.advantage_seconds, m.forward_seconds,
                           m.loss_seconds,    m.backward_seconds, m.optimizer_seconds};
  double sum = 0;
  for (double s : phases) {
    CHECK(std::isfinite(s));
    CHECK(s >= 0.0);
    sum += s;
  }
  INFO("sum of phases " << sum << " s, step " << m.step_seconds << " s");
  CHECK(m.step_seconds > 0.0);
  CHECK(sum <= m.step_seconds * (1.0 + 1e-9) + 1e-9);
}
} // namespace

TEST_CASE("phase timings are non-negative, disjoint and within step_seconds", "[trainer]") {
  auto pol = make_bandit(3);
  adamw opt({.lr = 0.05});
  auto cfg = bandit_config(3);
  cfg.mini_batches = 4;
  cfg.epochs = 2;
  cfg.max_grad_norm = 1.0;
  cfg.track_reference_kl = true; // the reference forward is part of logprob_seconds
  trainer tr(pol, opt, first_tokens_correct{}, grpo(), serial_backend{}, cfg);
  std::vector<step_metrics> seen;
  tr.on_step([&](const step_metrics& m) { seen.push_back(m); });
  for (int s = 0; s < 3; ++s) {
    const step_metrics m = tr.step(bandit_prompts(3));
    CHECK(m.updates == 8);
    check_phase_times(m);
    // the callback sees the finished timings
    REQUIRE(seen.size() == static_cast<std::size_t>(s + 1));
    CHECK(seen.back().step_seconds == m.step_seconds);
    CHECK(seen.back().optimizer_seconds == m.optimizer_seconds);
  }
}

TEST_CASE("a step without updates spends no time in the update phases", "[trainer]") {
  // Every response is correct (all tokens < correct_below = V), so NSR drops them all.
  auto pol = make_bandit(2);
  sgd opt({.lr = 0.1});
  trainer tr(pol, opt, first_tokens_correct{static_cast<token_t>(V)}, nsr(), serial_backend{}, bandit_config(4));
  const step_metrics m = tr.step(bandit_prompts(2));
  REQUIRE(m.updates == 0);
  REQUIRE(m.kept == 0);
  check_phase_times(m);
  CHECK(m.forward_seconds == 0.0);
  CHECK(m.loss_seconds == 0.0);
  CHECK(m.backward_seconds == 0.0);
  CHECK(m.optimizer_seconds == 0.0);
}

TEST_CASE("prompts of different lengths in one step: the same update as their one-token equivalents", "[trainer]") {
  // The tabular policy answers [x, …] from theta_x whatever follows x, and response i draws from
  // the same Philox address in both runs, so the two steps see the same tokens and rewards: the
  // weights must agree bit for bit although the padded layouts differ.
  auto a = make_bandit(2);
  auto b = make_bandit(2);
  tabular_policy wide(2, V, 6);
  tabular_policy narrow(2, V, 6);
  for (index_t x = 0; x < 2; ++x) {
    wide.set_logits(x, a.logits(x));
    narrow.set_logits(x, a.logits(x));
  }
  sgd o1({.lr = 0.5}), o2({.lr = 0.5});
  auto cfg = bandit_config(3);
  cfg.max_response_tokens = 2;
  cfg.mini_batches = 2;
  trainer t1(wide, o1, first_tokens_correct{}, w_reinforce(), serial_backend{}, cfg);
  trainer t2(narrow, o2, first_tokens_correct{}, w_reinforce(), serial_backend{}, cfg);
  const std::vector<std::vector<token_t>> mixed{{0, 3, 3, 1}, {1}}, ones{{0}, {1}};
  for (int s = 0; s < 3; ++s) {
    const step_metrics m1 = t1.step(mixed);
    const step_metrics m2 = t2.step(ones);
    CHECK(m1.loss == m2.loss);
    CHECK(m1.reward_mean == m2.reward_mean);
    CHECK(m1.response_length == m2.response_length);
  }
  CHECK(weights_of(wide) == weights_of(narrow));
  // the padded layout: prompt, response, then pad, to the longest prompt + max_response_tokens
  const auto seqs = t1.last_sequences();
  REQUIRE(seqs.cols() == 4 + 2);
  CHECK(seqs(0, 0) == 0);
  CHECK(seqs(0, 3) == 1);
  CHECK(seqs(16, 0) == 1);
  CHECK(seqs(16, 1) == t2.last_sequences()(16, 1)); // first response token right after the 1-token prompt
  (void)b;
}

namespace {
std::string slurp_file(const std::filesystem::path& p) {
  std::ifstream f(p);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}
std::vector<std::string> lines_of(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream in(s);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}
} // namespace

TEST_CASE("fit: metrics log, checkpoints, evaluation hook, and a resumed run equal to an uninterrupted one",
          "[trainer][fit]") {
  const auto dir = std::filesystem::temp_directory_path() / "rlvr_trainer_fit";
  std::filesystem::remove_all(dir);
  const auto prompts = [](index_t step) {
    return std::vector<std::vector<token_t>>{{static_cast<token_t>(step % 2)}, {1}};
  };
  auto cfg = bandit_config(7);
  cfg.mini_batches = 2;
  // uninterrupted: 6 steps
  auto ref = make_bandit(2);
  adam opt_ref({.lr = 0.1});
  trainer t_ref(ref, opt_ref, first_tokens_correct{}, w_reinforce(), serial_backend{}, cfg);
  metrics_writer jsonl(dir / "ref.jsonl");
  std::vector<index_t> evals;
  const fit_result r_ref = t_ref.fit(prompts, {.steps = 6, .eval_every = 2, .log = &jsonl,
                                               .eval = [&](index_t s) { evals.push_back(s); }});
  CHECK(r_ref.steps_run == 6);
  CHECK(!r_ref.resumed);
  CHECK(evals == std::vector<index_t>{2, 4, 6});
  const auto lines = lines_of(slurp_file(dir / "ref.jsonl"));
  REQUIRE(lines.size() == 6);
  CHECK(lines[0].rfind("{\"step\":0,\"prompts\":2,\"responses\":32,", 0) == 0);
  CHECK(lines[5].rfind("{\"step\":5,", 0) == 0);
  CHECK(lines[5].back() == '}');
  CHECK(lines[5].find("\"loss\":") != std::string::npos);

  // interrupted after 4 steps (checkpoints every 3 and at the end), then resumed to 6
  const auto ckpt = dir / "run.safetensors";
  {
    auto pol = make_bandit(2);
    adam opt({.lr = 0.1});
    trainer t(pol, opt, first_tokens_correct{}, w_reinforce(), serial_backend{}, cfg);
    metrics_writer csv(dir / "run.csv");
    const fit_result r = t.fit(prompts, {.steps = 4, .checkpoint_every = 3, .log = &csv, .checkpoint = ckpt});
    CHECK(r.checkpoints == 2); // after steps 3 and 4
    const auto rows = lines_of(slurp_file(dir / "run.csv"));
    REQUIRE(rows.size() == 5);
    CHECK(rows[0].rfind("step,prompts,responses,reward_mean,", 0) == 0);
    CHECK(rows[1].rfind("0,2,32,", 0) == 0);
  }
  auto pol = make_bandit(2);
  adam opt({.lr = 0.1});
  trainer t(pol, opt, first_tokens_correct{}, w_reinforce(), serial_backend{}, cfg);
  metrics_writer csv(dir / "run.csv", /*append=*/true);
  const fit_result r = t.fit(prompts, {.steps = 6, .checkpoint_every = 3, .log = &csv, .checkpoint = ckpt});
  CHECK(r.resumed);
  CHECK(r.first_step == 4);
  CHECK(r.steps_run == 2);
  CHECK(t.steps_done() == 6);
  CHECK(weights_of(pol) == weights_of(ref));
  CHECK(r.last.loss == r_ref.last.loss);
  CHECK(lines_of(slurp_file(dir / "run.csv")).size() == 7); // one header, six steps
  CHECK_THROWS_WITH(t.fit(prompts, {.steps = 8, .checkpoint_every = 2}), Catch::Contains("no checkpoint path"));
  CHECK_THROWS_WITH(t.fit(prompts, {.steps = 8, .eval_every = 2}), Catch::Contains("no eval hook"));
  std::filesystem::remove_all(dir);
}

namespace {
// The tabular policy with counters on its two forwards (shared with the trainer's reference copy).
struct counting_policy : tabular_policy {
  int* training = nullptr;
  int* inference = nullptr;
  counting_policy(tabular_policy p, int* t, int* i) : tabular_policy(std::move(p)), training(t), inference(i) {}
  void forward(const token_batch& b, matrix_view<float> out) {
    ++*training;
    tabular_policy::forward(b, out);
  }
  void forward_inference(const token_batch& b, matrix_view<float> out) {
    ++*inference;
    tabular_policy::forward_inference(b, out);
  }
};
static_assert(Policy<counting_policy>);
static_assert(InferenceForward<counting_policy>);
} // namespace

TEST_CASE("old and reference log-probs go through the forward that keeps no activations", "[trainer]") {
  int training = 0, inference = 0;
  counting_policy pol(make_bandit(2), &training, &inference);
  sgd opt({.lr = 0.1});
  auto cfg = bandit_config();
  cfg.mini_batches = 2;
  trainer tr(pol, opt, first_tokens_correct{}, grpo(), serial_backend{}, cfg);
  const step_metrics m = tr.step(bandit_prompts(2));
  REQUIRE(m.updates == 2);
  CHECK(inference == 2);        // log π_old (policy) and log π_ref (its frozen copy)
  CHECK(training == m.updates); // one differentiated forward per mini-batch update
  CHECK(std::isfinite(m.ref_kl));
}

namespace {
// KL(softmax(a) ‖ softmax(b)) in double
double kl_rows(std::span<const float> a, std::span<const float> b) {
  double ma = -1e300, mb = -1e300, sa = 0, sb = 0;
  for (float x : a) ma = std::max(ma, static_cast<double>(x));
  for (float x : b) mb = std::max(mb, static_cast<double>(x));
  for (float x : a) sa += std::exp(x - ma);
  for (float x : b) sb += std::exp(x - mb);
  double kl = 0;
  for (std::size_t j = 0; j < a.size(); ++j) {
    const double lp = a[j] - ma - std::log(sa), lq = b[j] - mb - std::log(sb);
    kl += std::exp(lp) * (lp - lq);
  }
  return kl;
}
} // namespace

TEST_CASE("kl_full: the trainer feeds the reference's logits rows; the exact KL holds the policy near it", "[trainer]") {
  const tabular_policy initial = make_bandit(1);
  const std::vector<float> ref(initial.logits(0).begin(), initial.logits(0).end());
  const auto train = [&](double beta) {
    auto pol = make_bandit(1);
    sgd opt({.lr = 1.0});
    auto cfg = bandit_config(21);
    const auto obj = make_objective(group_zscore{}, ppo_clip{}, token_mean{}, kl_full{.beta = beta});
    trainer tr(pol, opt, first_tokens_correct{}, obj, serial_backend{}, cfg);
    static_assert(decltype(tr)::uses_reference && decltype(tr)::uses_ref_logits);
    CHECK(tr.step(bandit_prompts(1)).ref_kl == 0.0); // the policy still equals the reference: exactly 0
    for (int s = 0; s < 12; ++s) {
      const std::vector<float> before(pol.logits(0).begin(), pol.logits(0).end());
      const step_metrics m = tr.step(bandit_prompts(1));
      // the loss saw the pre-update policy (one update per step): its exact KL to the reference
      if (m.updates > 0 && m.ref_kl > 0) CHECK(m.ref_kl == Approx(kl_rows(before, ref)).epsilon(1e-5));
    }
    return kl_rows(pol.logits(0), ref);
  };
  const double free_kl = train(0.0), held_kl = train(2.0);
  INFO("KL to the reference after 13 steps: beta 0 -> " << free_kl << ", beta 2 -> " << held_kl);
  CHECK(free_kl > 0.05);
  CHECK(held_kl < 0.5 * free_kl);
}
