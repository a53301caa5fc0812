// The fused loss pass (spec §5, §6): test vectors, finite differences for every ready-made
// objective, the NSR mass-redistribution formula, drop vs zero denominators, weighted sums,
// aggregation modes and global counts, serial vs Eigen typed tests, in-place gradients, large
// logits, and the bad-input errors.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <type_traits>
#include <rlvr/backends/serial.hpp>
#include <rlvr/loss.hpp>
#include <support/typed.hpp>
#include <vector>
#if RLVR_TEST_EIGEN
#include <rlvr/backends/eigen.hpp>
#endif

namespace {
using rlvr::index_t;
constexpr double ninf = -std::numeric_limits<double>::infinity();

// A random mini-batch: B responses of varying length, N tokens in total, V logits per token.
template <class T> struct batch_data {
  index_t n = 0, v = 0, stride = 0, b = 0;
  std::vector<T> z;
  std::vector<rlvr::token_t> y;
  std::vector<std::int32_t> seq;
  std::vector<T> rewards, old_logp, ref_logp, values;
  std::vector<std::int64_t> groups;

  batch_data(index_t responses, index_t v_, std::uint64_t seed, index_t pad = 0, double scale = 2.0) : v(v_), b(responses) {
    std::mt19937_64 rng(seed);
    std::normal_distribution<double> nd(0.0, scale);
    std::uniform_int_distribution<int> len(1, 4);
    for (index_t i = 0; i < b; ++i) {
      const int l = len(rng);
      for (int t = 0; t < l; ++t) seq.push_back(static_cast<std::int32_t>(i));
      rewards.push_back(static_cast<T>(rng() % 2));
      groups.push_back(static_cast<std::int64_t>(100 + (i % 3) * 17)); // non-contiguous ids
    }
    n = static_cast<index_t>(seq.size());
    stride = v + pad;
    z.resize(static_cast<std::size_t>(n * stride), T(123)); // padding must never be read
    std::uniform_int_distribution<int> tok(0, static_cast<int>(v - 1));
    for (index_t t = 0; t < n; ++t) {
      for (index_t j = 0; j < v; ++j) z[static_cast<std::size_t>(t * stride + j)] = static_cast<T>(nd(rng));
      y.push_back(tok(rng));
      old_logp.push_back(static_cast<T>(-1.5 + 0.3 * nd(rng)));
      ref_logp.push_back(static_cast<T>(-1.4 + 0.3 * nd(rng)));
      values.push_back(static_cast<T>(0.2 * nd(rng)));
    }
  }
  rlvr::matrix_view<const T> logits() const { return {z.data(), n, v, stride}; }
  rlvr::advantage_input<T> adv_input() const {
    rlvr::advantage_input<T> in{};
    in.rewards = rewards;
    in.group_ids = groups;
    in.seq = seq;
    in.values = values;
    in.old_logp = old_logp;
    in.ref_logp = ref_logp;
    return in;
  }
  template <class O> rlvr::loss_token_batch<T> tokens(const rlvr::advantage_result<T>& a, bool use_old = true) const {
    rlvr::loss_token_batch<T> tb{};
    tb.logits = logits();
    tb.targets = y;
    tb.advantages = a.advantages();
    tb.active = a.active();
    tb.seq = seq;
    tb.num_sequences = b;
    if (use_old) tb.old_logp = old_logp;
    if (O::uses_ref_logp) tb.ref_logp = ref_logp;
    return tb;
  }
};

template <class B, class O, class T>
rlvr::loss_diagnostics run(const B& be, const O& obj, const rlvr::loss_token_batch<T>& tb, std::vector<T>& g, double tau = 1.0,
                           rlvr::aggregation_options agg = {}) {
  g.assign(static_cast<std::size_t>(tb.logits.rows() * tb.logits.cols()), T(0));
  return rlvr::loss_and_grad(be, obj, tb, rlvr::matrix_view<T>(g.data(), tb.logits.rows(), tb.logits.cols()),
                             {.temperature = tau, .aggregation = agg, .advantages = nullptr});
}

// Central finite differences of the loss in every logit (double, serial oracle). The advantages
// (and old log-probs) are held fixed, as in a training step.
template <class O> void check_objective_fd(const O& obj, double tau, std::uint64_t seed) {
  batch_data<double> d(5, 7, seed, 3);
  const auto adv = rlvr::estimate_advantages(obj, d.adv_input());
  const rlvr::serial_backend be;
  std::vector<double> g;
  auto tb = d.template tokens<O>(adv);
  run(be, obj, tb, g, tau);
  const double h = 1e-5;
  std::vector<double> scratch;
  double worst = 0;
  for (index_t t = 0; t < d.n; ++t)
    for (index_t j = 0; j < d.v; ++j) {
      double& zz = d.z[static_cast<std::size_t>(t * d.stride + j)];
      const double keep = zz;
      zz = keep + h;
      const double lp = run(be, obj, tb, scratch, tau).loss;
      zz = keep - h;
      const double lm = run(be, obj, tb, scratch, tau).loss;
      zz = keep;
      const double fd = (lp - lm) / (2 * h);
      worst = std::max(worst, std::abs(fd - g[static_cast<std::size_t>(t * d.v + j)]));
    }
  CHECK(worst < 1e-8);
}
} // namespace

TEST_CASE("spec test vectors: z = [2, 1, 0], y = 0", "[objectives][loss]") {
  std::vector<double> z{2, 1, 0}, g(3);
  std::vector<rlvr::token_t> y{0};
  const double p[] = {0.6652409557748218, 0.24472847105479764, 0.09003057317038046};
  for (double a : {1.0, -1.0}) {
    std::vector<double> adv{a};
    rlvr::loss_token_batch<double> tb{};
    tb.logits = {z.data(), 1, 3};
    tb.targets = y;
    tb.advantages = {adv.data(), 1, 1};
    const auto d = run(rlvr::serial_backend{}, rlvr::reinforce(), tb, g);
    CHECK(d.loss == Approx(-a * std::log(p[0])).epsilon(1e-15));
    // log form: ∂ℓ/∂z = A·(p − e_y)
    CHECK(g[0] == Approx(a * -0.3347590442251782).epsilon(1e-14));
    CHECK(g[1] == Approx(a * 0.24472847105479764).epsilon(1e-14));
    CHECK(g[2] == Approx(a * 0.09003057317038046).epsilon(1e-14));
    if (a == 1.0) { // probability form = π_y × log form
      CHECK(p[0] * g[0] == Approx(-0.2226954265346234).epsilon(1e-14));
      CHECK(p[0] * g[1] == Approx(0.1628034019898044).epsilon(1e-14));
      CHECK(p[0] * g[2] == Approx(0.05989202454481893).epsilon(1e-14));
    }
  }
  // entropy and its gradient: an objective whose loss is H (entropy bonus with c_H = −1)
  const auto ent = rlvr::make_objective(rlvr::sign_split{.positive = 0, .negative = 0, .unused = rlvr::unused_side::zero},
                                        rlvr::reinforce_surrogate{}, rlvr::token_sum{}, rlvr::entropy_bonus{.coef = -1});
  std::vector<double> adv{0.0};
  rlvr::loss_token_batch<double> tb{};
  tb.logits = {z.data(), 1, 3};
  tb.targets = y;
  tb.advantages = {adv.data(), 1, 1};
  const auto d = run(rlvr::serial_backend{}, ent, tb, g);
  CHECK(d.loss == Approx(0.8323955818399389).epsilon(1e-15));
  CHECK(d.mean_entropy == Approx(0.8323955818399389).epsilon(1e-15));
  CHECK(g[0] == Approx(-0.28258745107944216).epsilon(1e-14));
  CHECK(g[1] == Approx(0.14077035746963013).epsilon(1e-14));
  CHECK(g[2] == Approx(0.14181709360981215).epsilon(1e-14));
}

TEST_CASE("every ready-made objective's gradient matches finite differences", "[objectives][loss][fd]") {
  SECTION("psr") { check_objective_fd(rlvr::psr(), 1.0, 1); }
  SECTION("nsr") { check_objective_fd(rlvr::nsr({.unused = rlvr::unused_side::zero}), 0.7, 2); }
  SECTION("w_reinforce") { check_objective_fd(rlvr::w_reinforce({.lambda = 0.1}), 1.3, 3); }
  SECTION("reinforce") { check_objective_fd(rlvr::reinforce(), 1.0, 4); }
  SECTION("ppo") { check_objective_fd(rlvr::ppo({.entropy = {.coef = 0.01}}), 0.9, 5); }
  SECTION("grpo") { check_objective_fd(rlvr::grpo({.kl = {.beta = 0.05}, .entropy = {.coef = 0.02}}), 1.0, 6); }
  SECTION("dr_grpo") { check_objective_fd(rlvr::dr_grpo({.max_length = 8}), 0.6, 7); }
  SECTION("k1 and k2 in the loss, seq-mean aggregations, dual clip") {
    check_objective_fd(rlvr::make_objective(rlvr::rloo{}, rlvr::ppo_clip{.eps_low = 0.2, .eps_high = 0.28, .dual_clip = 3},
                                            rlvr::seq_mean_token_mean{}, rlvr::kl_k1{.beta = 0.1}),
                       1.0, 8);
    // one KL term per objective (make_objective's rule): k2 in a second objective
    check_objective_fd(rlvr::make_objective(rlvr::rloo{}, rlvr::ppo_clip{.eps_low = 0.2, .eps_high = 0.28, .dual_clip = 3},
                                            rlvr::seq_mean_token_mean{}, rlvr::kl_k2{.beta = 0.2}),
                       1.0, 8);
    check_objective_fd(rlvr::make_objective(rlvr::whitened<rlvr::raw_reward>{}, rlvr::reinforce_surrogate{},
                                            rlvr::seq_mean_token_sum{}, rlvr::entropy_bonus{.coef = 0.1}),
                       1.1, 9);
  }
  SECTION("weighted sum") { check_objective_fd(0.3 * rlvr::psr() + rlvr::grpo(), 1.0, 10); }
}

TEST_CASE("NSR redistributes mass in proportion to the current probabilities", "[objectives][loss][nsr]") {
  // one gradient-descent step of size η on ℓ = +log π_y (A = −1): to first order
  // Δ log p_v = η (p_v + p_y − Σ_u p_u²) for v ≠ y (spec §6)
  std::vector<double> z{1.2, -0.3, 0.5, 2.0, -1.0}, g(5);
  std::vector<rlvr::token_t> y{3};
  std::vector<double> adv{-1.0};
  rlvr::loss_token_batch<double> tb{};
  tb.logits = {z.data(), 1, 5};
  tb.targets = y;
  tb.advantages = {adv.data(), 1, 1};
  run(rlvr::serial_backend{}, rlvr::reinforce(), tb, g);
  auto logp = [](const std::vector<double>& x) {
    double m = -1e300, s = 0;
    for (double v : x) m = std::max(m, v);
    for (double v : x) s += std::exp(v - m);
    std::vector<double> r;
    for (double v : x) r.push_back(v - m - std::log(s));
    return r;
  };
  const auto l0 = logp(z);
  double sq = 0;
  for (double l : l0) sq += std::exp(2 * l);
  const double py = std::exp(l0[3]);
  const double eta = 1e-4;
  std::vector<double> z1(z);
  for (std::size_t v = 0; v < 5; ++v) z1[v] -= eta * g[v];
  const auto l1 = logp(z1);
  for (std::size_t v = 0; v < 5; ++v) {
    if (v == 3) continue;
    const double predicted = eta * (std::exp(l0[v]) + py - sq);
    CHECK((l1[v] - l0[v]) == Approx(predicted).epsilon(1e-3));
    CHECK(l1[v] > l0[v]); // every other token gains
  }
  CHECK(l1[3] < l0[3]);
  // the gradient is c·(p − e_y) with c = −1: the target's logit falls by η(1 − p_y)
  CHECK(-eta * g[3] == Approx(-eta * (1 - py)).epsilon(1e-12));
}

TEST_CASE("drop and zero semantics give different token-mean denominators", "[objectives][loss][drop]") {
  batch_data<double> d(6, 5, 21);
  d.rewards = {1, 0, 1, 0, 0, 1};
  std::vector<double> g;
  const rlvr::serial_backend be;
  // per-token −log π on the correct responses, by hand from the oracle's log-probs
  std::vector<double> logp(static_cast<std::size_t>(d.n));
  rlvr::log_prob_entropy(be, d.logits(), rlvr::vector_view<const rlvr::token_t>(d.y), rlvr::vector_view<double>(logp),
                         rlvr::vector_view<double>{});
  double sum_correct = 0, n_correct = 0;
  for (index_t t = 0; t < d.n; ++t)
    if (d.rewards[static_cast<std::size_t>(d.seq[static_cast<std::size_t>(t)])] > 0) {
      sum_correct += -logp[static_cast<std::size_t>(t)];
      n_correct += 1;
    }
  // −A·log π surrogate: the loss is the mean NLL of the correct tokens over each denominator
  auto psr_pg = [](rlvr::unused_side u) {
    return rlvr::make_objective(rlvr::sign_split{.positive = 1, .negative = 0, .unused = u}, rlvr::reinforce_surrogate{},
                                rlvr::token_mean{});
  };
  const auto drop = psr_pg(rlvr::unused_side::drop);
  const auto zero = psr_pg(rlvr::unused_side::zero);
  const auto ad = rlvr::estimate_advantages(drop, d.adv_input());
  const auto az = rlvr::estimate_advantages(zero, d.adv_input());
  const auto ld = run(be, drop, d.tokens<decltype(drop)>(ad, false), g).loss;
  const auto lz = run(be, zero, d.tokens<decltype(zero)>(az, false), g).loss;
  CHECK(ld == Approx(sum_correct / n_correct).epsilon(1e-12));
  CHECK(lz == Approx(sum_correct / static_cast<double>(d.n)).epsilon(1e-12));
  CHECK(ad.report.dropped == 3);
  // the paper's psr (PPO clip, on-policy: loss −A·ρ with ρ = 1) shows the same denominators
  const auto pd = rlvr::psr(), pz = rlvr::psr({.unused = rlvr::unused_side::zero});
  CHECK(run(be, pd, d.tokens<decltype(pd)>(rlvr::estimate_advantages(pd, d.adv_input()), false), g).loss == Approx(-1.0));
  CHECK(run(be, pz, d.tokens<decltype(pz)>(rlvr::estimate_advantages(pz, d.adv_input()), false), g).loss ==
        Approx(-n_correct / static_cast<double>(d.n)));
}

TEST_CASE("0.1·psr + nsr equals w_reinforce(0.1)", "[objectives][loss][sum]") {
  batch_data<double> d(8, 11, 31);
  const rlvr::serial_backend be;
  const auto sum = 0.1 * rlvr::psr({.unused = rlvr::unused_side::zero}) + rlvr::nsr({.unused = rlvr::unused_side::zero});
  const auto wr = rlvr::w_reinforce({.lambda = 0.1});
  const auto as = rlvr::estimate_advantages(sum, d.adv_input());
  const auto aw = rlvr::estimate_advantages(wr, d.adv_input());
  std::vector<double> gs, gw;
  const auto ds = run(be, sum, d.tokens<decltype(sum)>(as), gs, 0.8);
  const auto dw = run(be, wr, d.tokens<decltype(wr)>(aw), gw, 0.8);
  CHECK(ds.loss == Approx(dw.loss).epsilon(1e-13));
  for (std::size_t i = 0; i < gs.size(); ++i) CHECK(gs[i] == Approx(gw[i]).margin(1e-15));
  // with the paper's drop semantics the two differ: each part divides by its own token count
  const auto sum_drop = 0.1 * rlvr::psr() + rlvr::nsr();
  const auto ad = rlvr::estimate_advantages(sum_drop, d.adv_input());
  const auto dd = run(be, sum_drop, d.tokens<decltype(sum_drop)>(ad), gs, 0.8);
  CHECK(dd.loss != Approx(dw.loss).epsilon(1e-6));
}

// with_regularizers: a ready-made objective plus regularisers is the hand-made composition, in
// type, in its parts' numbers and (through the serial oracle) bit for bit in loss and gradient.
static_assert(std::is_same_v<decltype(rlvr::with_regularizers(rlvr::psr(), rlvr::entropy_bonus{})),
                             rlvr::objective<rlvr::sign_split, rlvr::ppo_clip, rlvr::token_mean, rlvr::entropy_bonus>>);
static_assert(std::is_same_v<decltype(rlvr::with_regularizers(rlvr::grpo(), rlvr::tis{})),
                             rlvr::objective<rlvr::group_zscore, rlvr::ppo_clip, rlvr::token_mean, rlvr::kl_k3,
                                             rlvr::entropy_bonus, rlvr::tis>>);
static_assert(std::is_same_v<decltype(rlvr::with_regularizers(rlvr::nsr())), rlvr::nsr_objective>);
static_assert(rlvr::Objective<decltype(rlvr::with_regularizers(rlvr::w_reinforce(), rlvr::kl_k3{}, rlvr::entropy_bonus{}))>);

TEST_CASE("with_regularizers(psr/nsr/w_reinforce, ...) is the hand-made composition, bit for bit",
          "[objectives][loss][with_regularizers]") {
  const rlvr::ppo_clip clip{.eps_low = 0.15, .eps_high = 0.25};
  const rlvr::entropy_bonus ent{.coef = 3e-3};
  const rlvr::kl_k3 kl{.beta = 2e-3};
  auto same = [](const auto& made, const auto& by_hand, std::uint64_t seed) {
    using M = std::decay_t<decltype(made)>;
    static_assert(std::is_same_v<M, std::decay_t<decltype(by_hand)>>);
    batch_data<double> d(7, 9, seed);
    const rlvr::serial_backend be;
    const auto am = rlvr::estimate_advantages(made, d.adv_input());
    const auto ah = rlvr::estimate_advantages(by_hand, d.adv_input());
    std::vector<double> gm, gh;
    const auto dm = run(be, made, d.tokens<M>(am), gm, 0.9);
    const auto dh = run(be, by_hand, d.tokens<M>(ah), gh, 0.9);
    CHECK(dm.loss == dh.loss);
    CHECK(dm.mean_entropy == dh.mean_entropy);
    CHECK(dm.ref_kl == dh.ref_kl);
    REQUIRE(gm.size() == gh.size());
    std::size_t differing = 0;
    for (std::size_t i = 0; i < gm.size(); ++i) differing += gm[i] != gh[i] ? 1u : 0u;
    CHECK(differing == 0);
    CHECK(dm.loss != 0.0);
  };
  const auto drop = rlvr::unused_side::drop, zero = rlvr::unused_side::zero;
  same(rlvr::with_regularizers(rlvr::psr({.unused = drop, .clip = clip}), ent),
       rlvr::make_objective(rlvr::sign_split{1.0, 0.0, drop}, clip, rlvr::token_mean{}, ent), 41);
  same(rlvr::with_regularizers(rlvr::nsr({.unused = drop, .clip = clip}), ent),
       rlvr::make_objective(rlvr::sign_split{0.0, -1.0, drop}, clip, rlvr::token_mean{}, ent), 42);
  same(rlvr::with_regularizers(rlvr::w_reinforce({.lambda = 0.3, .clip = clip}), ent),
       rlvr::make_objective(rlvr::sign_split{0.3, -1.0, zero}, clip, rlvr::token_mean{}, ent), 43);
  // two parts, appended one at a time or together, keep their order
  same(rlvr::with_regularizers(rlvr::with_regularizers(rlvr::psr({.unused = zero}), kl), ent),
       rlvr::make_objective(rlvr::sign_split{1.0, 0.0, zero}, rlvr::ppo_clip{}, rlvr::token_mean{}, kl, ent), 44);
  same(rlvr::with_regularizers(rlvr::psr({.unused = zero}), kl, ent),
       rlvr::make_objective(rlvr::sign_split{1.0, 0.0, zero}, rlvr::ppo_clip{}, rlvr::token_mean{}, kl, ent), 45);
  // the existing parts and numbers are copied unchanged
  const auto g = rlvr::with_regularizers(rlvr::grpo({.kl = {.beta = 0.01, .clamp = 10.0}}), rlvr::tis{});
  CHECK(g.regularizers.head.beta == 0.01);
  CHECK(g.regularizers.tail.tail.head.cap == rlvr::tis{}.cap);
}

TEST_CASE("aggregation modes and global token counts", "[objectives][loss][aggregation]") {
  batch_data<double> d(4, 6, 41);
  const rlvr::serial_backend be;
  std::vector<double> logp(static_cast<std::size_t>(d.n)), g;
  rlvr::log_prob_entropy(be, d.logits(), rlvr::vector_view<const rlvr::token_t>(d.y), rlvr::vector_view<double>(logp),
                         rlvr::vector_view<double>{});
  // ℓ_t = −A·log π with A = ±1 (reinforce), by hand per sequence
  std::vector<double> sum(4, 0), cnt(4, 0);
  double total = 0;
  for (std::size_t t = 0; t < logp.size(); ++t) {
    const auto i = static_cast<std::size_t>(d.seq[t]);
    const double a = d.rewards[i] > 0 ? 1.0 : -1.0;
    sum[i] += -a * logp[t];
    cnt[i] += 1;
    total += -a * logp[t];
  }
  auto with = [&](auto agg) {
    const auto obj = rlvr::make_objective(rlvr::sign_split{}, rlvr::reinforce_surrogate{}, agg);
    const auto a = rlvr::estimate_advantages(obj, d.adv_input());
    return run(be, obj, d.tokens<decltype(obj)>(a, false), g).loss;
  };
  double smtm = 0, smts = 0;
  for (std::size_t i = 0; i < 4; ++i) {
    smtm += sum[i] / cnt[i] / 4;
    smts += sum[i] / 4;
  }
  CHECK(with(rlvr::token_mean{}) == Approx(total / static_cast<double>(d.n)).epsilon(1e-13));
  CHECK(with(rlvr::token_sum{}) == Approx(total).epsilon(1e-13));
  CHECK(with(rlvr::seq_mean_token_mean{}) == Approx(smtm).epsilon(1e-13));
  CHECK(with(rlvr::seq_mean_token_sum{}) == Approx(smts).epsilon(1e-13));
  CHECK(with(rlvr::seq_mean_token_sum_norm{.max_length = 16}) == Approx(total / (4 * 16)).epsilon(1e-13));

  // micro-batches with the global token count sum to the full-batch loss and gradient
  const auto obj = rlvr::reinforce();
  const auto a = rlvr::estimate_advantages(obj, d.adv_input());
  const auto full = d.tokens<decltype(obj)>(a, false);
  std::vector<double> gfull, g1, g2;
  const double lfull = run(be, obj, full, gfull).loss;
  const index_t half = d.n / 2;
  const rlvr::aggregation_options global{.global_tokens = static_cast<double>(d.n), .global_sequences = 0};
  const double l1 = run(be, obj, rlvr::slice(full, 0, half), g1, 1.0, global).loss;
  const double l2 = run(be, obj, rlvr::slice(full, half, d.n - half), g2, 1.0, global).loss;
  CHECK(l1 + l2 == Approx(lfull).epsilon(1e-13));
  for (std::size_t i = 0; i < g1.size(); ++i) CHECK(g1[i] == Approx(gfull[i]).margin(1e-16));
  for (std::size_t i = 0; i < g2.size(); ++i) CHECK(g2[i] == Approx(gfull[g1.size() + i]).margin(1e-16));
  // without it the micro-batch means reweight tokens (the spec §8 trap)
  const double bad1 = run(be, obj, rlvr::slice(full, 0, half), g1).loss;
  const double bad2 = run(be, obj, rlvr::slice(full, half, d.n - half), g2).loss;
  CHECK((bad1 + bad2) / 2 != Approx(lfull).epsilon(1e-9));
}

TEST_CASE("a weighted sum split into micro-batches sums to the full batch with per-component counts",
          "[objectives][loss][aggregation][sum]") {
  batch_data<double> d(7, 9, 51);
  const rlvr::serial_backend be;
  const auto obj = 0.1 * rlvr::psr() + rlvr::make_objective(rlvr::sign_split{.positive = 0, .negative = -1},
                                                            rlvr::reinforce_surrogate{}, rlvr::seq_mean_token_mean{});
  const auto a = rlvr::estimate_advantages(obj, d.adv_input());
  const auto full = d.tokens<decltype(obj)>(a);
  std::vector<double> gfull, g1, g2;
  const double lfull = run(be, obj, full, gfull).loss;
  const auto toks = a.global_counts();
  const auto seqs = a.global_sequences(rlvr::vector_view<const std::int32_t>(d.seq));
  CHECK(toks.size() == 2);
  const rlvr::aggregation_options global{.global_tokens = 0, .global_sequences = 0, .component_tokens = toks.data(),
                                         .component_sequences = seqs.data()};
  index_t cut = d.n / 3; // at a response boundary: seq-mean-token-mean needs whole responses
  while (cut < d.n && d.seq[static_cast<std::size_t>(cut)] == d.seq[static_cast<std::size_t>(cut - 1)]) ++cut;
  const double l1 = run(be, obj, rlvr::slice(full, 0, cut), g1, 1.0, global).loss;
  const double l2 = run(be, obj, rlvr::slice(full, cut, d.n - cut), g2, 1.0, global).loss;
  CHECK(l1 + l2 == Approx(lfull).epsilon(1e-13));
  for (std::size_t i = 0; i < g1.size(); ++i) CHECK(g1[i] == Approx(gfull[i]).margin(1e-16));
  for (std::size_t i = 0; i < g2.size(); ++i) CHECK(g2[i] == Approx(gfull[g1.size() + i]).margin(1e-16));
}

TEST_CASE("diagnostics: clip fractions, approx KL, entropy, advantage report", "[objectives][loss][diagnostics]") {
  // two tokens with hand-made ratios: token 0 A > 0, ρ = e^{0.5} (clipped high); token 1 A < 0, ρ = e^{-0.5} (clipped low)
  std::vector<double> z{0, 0, 0, 0, 0, 0}, g;
  std::vector<rlvr::token_t> y{0, 1};
  const double lp = -std::log(3.0);
  std::vector<double> old{lp - 0.5, lp + 0.5}, adv{1.0, -1.0};
  rlvr::loss_token_batch<double> tb{};
  tb.logits = {z.data(), 2, 3};
  tb.targets = y;
  tb.advantages = {adv.data(), 1, 2};
  tb.old_logp = old;
  const auto obj = rlvr::make_objective(rlvr::sign_split{}, rlvr::ppo_clip{}, rlvr::token_mean{});
  rlvr::advantage_report rep;
  rep.groups = 4;
  rep.zero_std_groups = 1;
  rep.dropped = 3;
  g.assign(6, 0);
  const auto d = rlvr::loss_and_grad(rlvr::serial_backend{}, obj, tb, rlvr::matrix_view<double>(g.data(), 2, 3),
                                     {.temperature = 1.0, .aggregation = {}, .advantages = &rep});
  CHECK(d.clip_frac_high == 0.5);
  CHECK(d.clip_frac_low == 0.5);
  CHECK(d.approx_kl == Approx(0.0).margin(1e-15)); // (−0.5 + 0.5)/2
  CHECK(d.mean_entropy == Approx(std::log(3.0)));
  CHECK(d.mean_logp == Approx(lp));
  CHECK(d.zero_std_fraction == 0.25);
  CHECK(d.dropped == 3);
  CHECK(d.active_tokens == 2);
  for (double x : g) CHECK(x == 0.0); // both clipped: no gradient
}

TEST_CASE("bad input raises errors naming the offender", "[objectives][loss][errors]") {
  std::vector<double> z{0, 1, 2, 3, 4, 5}, g(6), adv{1, 1};
  std::vector<rlvr::token_t> y{0, 2};
  rlvr::loss_token_batch<double> tb{};
  tb.logits = {z.data(), 2, 3};
  tb.targets = y;
  tb.advantages = {adv.data(), 1, 2};
  const rlvr::serial_backend be;
  const rlvr::matrix_view<double> gv(g.data(), 2, 3);
  const auto obj = rlvr::reinforce();
  auto call = [&](const rlvr::loss_token_batch<double>& b, double tau = 1.0) {
    return rlvr::loss_and_grad(be, obj, b, gv, {.temperature = tau, .aggregation = {}, .advantages = nullptr});
  };
  CHECK_NOTHROW(call(tb));
  y[1] = 3;
  CHECK_THROWS_WITH(call(tb), "[rlvr.range] loss_and_grad: targets[1] = 3 is outside [0, 3)");
  y[1] = -1;
  CHECK_THROWS_AS(call(tb), rlvr::range_error);
  y[1] = 2;
  auto short_y = tb;
  short_y.targets = {y.data(), 1};
  CHECK_THROWS_WITH(call(short_y), Catch::Contains("targets has length 1 but logits have 2 rows"));
  auto bad_adv = tb;
  bad_adv.advantages = {adv.data(), 1, 1};
  CHECK_THROWS_AS(call(bad_adv), rlvr::shape_error);
  CHECK_THROWS_WITH(call(tb, 0.0), Catch::Contains("temperature = 0"));
  CHECK_THROWS_AS(call(tb, std::nan("")), rlvr::config_error);
  // NaN / +inf logits, an all −inf row, a target at −inf
  z[4] = std::nan("");
  CHECK_THROWS_WITH(call(tb), "[rlvr.numerical] loss_and_grad: logits row 1 contains NaN or +inf, or every entry is -inf");
  z[4] = std::numeric_limits<double>::infinity();
  CHECK_THROWS_AS(call(tb), rlvr::numerical_error);
  z[3] = z[4] = z[5] = ninf;
  CHECK_THROWS_WITH(call(tb), Catch::Contains("logits row 1"));
  z[3] = 4;
  z[4] = 4;
  CHECK_THROWS_WITH(call(tb), "[rlvr.numerical] loss_and_grad: targets[1] = 2 has logit -inf (probability 0) in row 1");
  z[5] = 5;
  // −inf elsewhere is masked vocabulary: fine, and its gradient is exactly 0
  z[1] = ninf;
  CHECK_NOTHROW(call(tb));
  CHECK(g[1] == 0.0);
  // NaN advantages on active tokens, missing ref log-probs for a KL objective, seq out of range
  adv[0] = std::nan("");
  CHECK_THROWS_WITH(call(tb), Catch::Contains("advantages(0, 0) = nan"));
  adv[0] = 1;
  std::vector<double> two(2, 0.0);
  tb.advantages = {adv.data(), 1, 2};
  CHECK_THROWS_WITH(rlvr::loss_and_grad(be, rlvr::grpo(), tb, gv), Catch::Contains("needs ref_logp of length 2"));
  std::vector<std::int32_t> seq{0, 5};
  auto bad_seq = tb;
  bad_seq.seq = seq;
  bad_seq.num_sequences = 2;
  CHECK_THROWS_WITH(call(bad_seq), Catch::Contains("seq[1] = 5 is outside [0, 2)"));
  CHECK_THROWS_WITH(rlvr::loss_and_grad(be, rlvr::dr_grpo(), tb, gv), Catch::Contains("needs seq"));
  // grad of the wrong shape, or overlapping the logits without being in place
  CHECK_THROWS_AS(rlvr::loss_and_grad(be, obj, tb, rlvr::matrix_view<double>(g.data(), 1, 3)), rlvr::shape_error);
  CHECK_THROWS_WITH(rlvr::loss_and_grad(be, obj, tb, rlvr::matrix_view<double>(z.data() + 1, 2, 3, 3)),
                    Catch::Contains("overlaps"));
  CHECK_THROWS_AS(call(tb, -1.0), rlvr::config_error);
  CHECK_THROWS_AS(rlvr::loss_and_grad(be, rlvr::psr({.clip = {.eps_low = 2.0}}), tb, gv), rlvr::config_error);
  CHECK_THROWS_AS(rlvr::loss_and_grad(be, obj, tb, gv,
                                      {.temperature = 1, .aggregation = {.global_tokens = -1}, .advantages = nullptr}),
                  rlvr::config_error);
  // forward-only path checks too
  std::vector<double> lp(2);
  CHECK_THROWS_AS(rlvr::log_prob_entropy(be, tb.logits, tb.targets, rlvr::vector_view<double>(lp.data(), 1),
                                         rlvr::vector_view<double>{}),
                  rlvr::shape_error);
}

TEST_CASE("inactive rows are not read and get a zero gradient", "[objectives][loss]") {
  std::vector<double> z{0, 1, 2, std::nan(""), 0, 0}, g(6, 7.0), adv{1, 0};
  std::vector<std::uint8_t> act{1, 0};
  std::vector<rlvr::token_t> y{0, 1};
  rlvr::loss_token_batch<double> tb{};
  tb.logits = {z.data(), 2, 3};
  tb.targets = y;
  tb.advantages = {adv.data(), 1, 2};
  tb.active = {act.data(), 1, 2};
  const auto d = rlvr::loss_and_grad(rlvr::serial_backend{}, rlvr::reinforce(), tb, rlvr::matrix_view<double>(g.data(), 2, 3));
  CHECK(d.active_tokens == 1);
  CHECK(g[3] == 0.0);
  CHECK(g[5] == 0.0);
}

// ---- serial vs Eigen (and any other backend): typed tests over backend × scalar ------------------
#if RLVR_TEST_EIGEN
// the Eigen backend with its second write-pass strategy (recompute the exp instead of parking it)
struct eigen_recompute : rlvr::eigen_backend {
  eigen_recompute() : rlvr::eigen_backend{.threads = 0, .park_max_row_bytes = 0} {}
};
static_assert(rlvr::LossBackend<eigen_recompute, float>);
using backends = std::tuple<rlvr::serial_backend, rlvr::eigen_backend, eigen_recompute>;
#else
using backends = std::tuple<rlvr::serial_backend>;
#endif
using cases = rlvr::test::product_t<backends, std::tuple<float, double>>;

TEMPLATE_LIST_TEST_CASE("backends agree with the serial oracle", "[objectives][backends]", cases) {
  using B = typename TestType::backend;
  using T = typename TestType::scalar;
  const T tol = rlvr::test::loose_tol<T>();
  for (index_t v : {1, 7, 33, 3000}) {
    batch_data<T> d(9, v, static_cast<std::uint64_t>(v) * 13, 5);
    if (v > 4) // masked vocabulary in a few rows
      for (index_t t = 0; t < d.n; t += 3) d.z[static_cast<std::size_t>(t * d.stride + (d.y[static_cast<std::size_t>(t)] + 1) % v)] = -std::numeric_limits<T>::infinity();
    const auto obj = rlvr::grpo({.kl = {.beta = 0.01}, .entropy = {.coef = 0.003}});
    const auto a = rlvr::estimate_advantages(obj, d.adv_input());
    const auto tb = d.template tokens<decltype(obj)>(a);
    std::vector<T> go, gb, lpo(static_cast<std::size_t>(d.n)), lpb(static_cast<std::size_t>(d.n)), ho(lpo), hb(lpo);
    const auto doracle = rlvr::loss_and_grad(rlvr::serial_backend{}, obj, tb,
                                             rlvr::matrix_view<T>((go.assign(static_cast<std::size_t>(d.n * v), T(0)), go.data()), d.n, v),
                                             {.temperature = 0.9, .aggregation = {}, .advantages = nullptr},
                                             {.logp = lpo, .entropy = ho, .loss = {}});
    const auto db = rlvr::loss_and_grad(B{}, obj, tb,
                                        rlvr::matrix_view<T>((gb.assign(static_cast<std::size_t>(d.n * v), T(0)), gb.data()), d.n, v),
                                        {.temperature = 0.9, .aggregation = {}, .advantages = nullptr},
                                        {.logp = lpb, .entropy = hb, .loss = {}});
    CHECK(db.loss == Approx(doracle.loss).epsilon(static_cast<double>(tol) * 10).margin(1e-6));
    CHECK(db.mean_entropy == Approx(doracle.mean_entropy).epsilon(static_cast<double>(tol)).margin(static_cast<double>(tol)));
    CHECK(db.clip_frac_high == doracle.clip_frac_high);
    for (std::size_t t = 0; t < lpo.size(); ++t) {
      CHECK(rlvr::test::close(lpb[t], lpo[t], tol, tol));
      CHECK(rlvr::test::close(hb[t], ho[t], tol, tol));
    }
    T worst = 0;
    for (std::size_t i = 0; i < go.size(); ++i) worst = std::max(worst, std::abs(gb[i] - go[i]));
    CHECK(worst <= tol);
    // forward-only path
    std::vector<T> fl(lpo.size()), fh(lpo.size());
    rlvr::log_prob_entropy(B{}, d.logits(), rlvr::vector_view<const rlvr::token_t>(d.y), rlvr::vector_view<T>(fl),
                           rlvr::vector_view<T>(fh), 0.9);
    for (std::size_t t = 0; t < fl.size(); ++t) {
      CHECK(rlvr::test::close(fl[t], lpo[t], tol, tol));
      CHECK(rlvr::test::close(fh[t], ho[t], tol, tol));
    }
    // in place over contiguous logits gives the same gradient
    std::vector<T> zc(static_cast<std::size_t>(d.n * v));
    for (index_t t = 0; t < d.n; ++t)
      for (index_t j = 0; j < v; ++j) zc[static_cast<std::size_t>(t * v + j)] = d.z[static_cast<std::size_t>(t * d.stride + j)];
    auto tip = tb;
    tip.logits = {zc.data(), d.n, v};
    rlvr::loss_and_grad(B{}, obj, tip, rlvr::matrix_view<T>(zc.data(), d.n, v), {.temperature = 0.9, .aggregation = {}, .advantages = nullptr});
    for (std::size_t i = 0; i < zc.size(); ++i) CHECK(zc[i] == gb[i]);
  }
}

TEMPLATE_LIST_TEST_CASE("logits of magnitude 1e4 give finite, correct results", "[objectives][backends]", cases) {
  using B = typename TestType::backend;
  using T = typename TestType::scalar;
  // z = 1e4 + [2, 1, 0] and −1e4: same softmax as [2, 1, 0] (the extra entry has p = 0)
  std::vector<T> z{T(10002), T(10001), T(10000), T(-10000)}, g(4);
  std::vector<rlvr::token_t> y{0};
  std::vector<T> adv{T(1)};
  rlvr::loss_token_batch<T> tb{};
  tb.logits = {z.data(), 1, 4};
  tb.targets = y;
  tb.advantages = {adv.data(), 1, 1};
  const auto d = rlvr::loss_and_grad(B{}, rlvr::reinforce(), tb, rlvr::matrix_view<T>(g.data(), 1, 4));
  CHECK(d.loss == Approx(-std::log(0.6652409557748218)).epsilon(1e-6));
  CHECK(static_cast<double>(g[0]) == Approx(-0.3347590442251782).epsilon(1e-5));
  CHECK(static_cast<double>(g[1]) == Approx(0.24472847105479764).epsilon(1e-5));
  CHECK(g[3] == T(0));
}

#if RLVR_TEST_EIGEN
TEST_CASE("the Eigen backend's results do not depend on the thread count", "[objectives][backends]") {
  batch_data<float> d(40, 777, 99);
  const auto obj = rlvr::ppo();
  const auto a = rlvr::estimate_advantages(obj, d.adv_input());
  const auto tb = d.tokens<decltype(obj)>(a);
  std::vector<float> g1, g2;
  const auto d1 = run(rlvr::eigen_backend{.threads = 1}, obj, tb, g1);
  const auto d2 = run(rlvr::eigen_backend{.threads = 2}, obj, tb, g2);
  CHECK(d1.loss == d2.loss);
  CHECK(g1 == g2);
}

TEST_CASE("Eigen adapters view row-major matrices without copies", "[objectives][backends]") {
  rlvr::row_matrix<double> m(3, 4);
  m.setZero();
  const auto v = rlvr::as_matrix_view(m);
  CHECK(v.data() == m.data());
  CHECK(v.rows() == 3);
  CHECK(v.row_stride() == 4);
  const auto blk = rlvr::as_matrix_view(m.block(1, 0, 2, 3));
  CHECK(blk.row_stride() == 4);
  CHECK(blk.data() == m.data() + 4);
  auto w = rlvr::as_mutable_matrix_view(m);
  w(2, 3) = 5;
  CHECK(m(2, 3) == 5);
  // a column vector (column-major, one column): its rows are consecutive elements (row stride 1,
  // not its outerStride() = length, which read past the end before)
  Eigen::VectorXf c(4);
  c << 1, 2, 3, 4;
  const auto cv = rlvr::as_matrix_view(c);
  CHECK(cv.rows() == 4);
  CHECK(cv.cols() == 1);
  CHECK(cv.row_stride() == 1);
  CHECK(cv(3, 0) == 4.0f);
  auto cw = rlvr::as_mutable_matrix_view(c);
  cw(2, 0) = 7;
  CHECK(c(2) == 7.0f);
  // a column of a column-major matrix
  Eigen::MatrixXd cm(3, 2);
  cm << 1, 2, 3, 4, 5, 6;
  const auto col = rlvr::as_matrix_view(cm.col(1));
  CHECK(col.row_stride() == 1);
  CHECK(col(2, 0) == 6.0);
  // empty objects give empty views (no element is touched)
  rlvr::row_matrix<float> e(0, 3);
  CHECK(rlvr::as_mutable_matrix_view(e).rows() == 0);
}
#endif

TEST_CASE("PPO's clipped value loss matches its formula and finite differences", "[objectives][value]") {
  std::vector<double> v{0.5, 1.4, -0.2, 0.9}, vo{0.4, 0.9, 0.0, 1.0}, ret{1.0, 0.2, 0.1, 0.8}, g(4), gs(4);
  std::vector<std::uint8_t> mask{1, 1, 1, 0};
  const auto r = rlvr::value_loss(rlvr::vector_view<const double>(v), rlvr::vector_view<const double>(vo),
                                  rlvr::vector_view<const double>(ret), rlvr::vector_view<const std::uint8_t>(mask), 0.2,
                                  rlvr::vector_view<double>(g));
  // token 0: v inside [0.2, 0.6]: ½(0.5−1)²; token 1: clip 1.1 → max((1.2)², (0.9)²) = 1.44;
  // token 2: clip −0.2 → same; token 3 masked
  CHECK(r.loss == Approx((0.5 * 0.25 + 0.5 * 1.44 + 0.5 * 0.09) / 3));
  const double h = 1e-6;
  for (std::size_t t = 0; t < 4; ++t) {
    auto vp = v, vm = v;
    vp[t] += h;
    vm[t] -= h;
    const double lp = rlvr::value_loss(rlvr::vector_view<const double>(vp), rlvr::vector_view<const double>(vo),
                                       rlvr::vector_view<const double>(ret), rlvr::vector_view<const std::uint8_t>(mask), 0.2,
                                       rlvr::vector_view<double>(gs)).loss;
    const double lm = rlvr::value_loss(rlvr::vector_view<const double>(vm), rlvr::vector_view<const double>(vo),
                                       rlvr::vector_view<const double>(ret), rlvr::vector_view<const std::uint8_t>(mask), 0.2,
                                       rlvr::vector_view<double>(gs)).loss;
    CHECK(g[t] == Approx((lp - lm) / (2 * h)).margin(1e-7));
  }
  CHECK_THROWS_AS(rlvr::value_loss(rlvr::vector_view<const double>(v), rlvr::vector_view<const double>(vo),
                                   rlvr::vector_view<const double>(ret), rlvr::vector_view<const std::uint8_t>(mask), 0.0,
                                   rlvr::vector_view<double>(g)),
                  rlvr::config_error);
}

#if RLVR_TEST_EIGEN
// The "One training step" snippet of docs/objectives.md, compiled and run.
TEST_CASE("docs example: one training step", "[objectives][docs]") {
  const index_t B = 4, N = 10, V = 50, t0 = 2, n = 6;
  std::vector<float> rewards{1, 0, 0, 1}, rollout_logp(N, -3.0f), reference_logp(N, -3.1f), logits_buf(N * V, 0.5f),
      grad_buf(n * V);
  std::vector<std::int64_t> prompt_ids{7, 7, 9, 9};
  std::vector<std::int32_t> token_seq{0, 0, 1, 1, 1, 2, 2, 3, 3, 3};
  std::vector<rlvr::mask_t> token_mask(N, 1);
  std::vector<rlvr::token_t> tokens(N, 3);
  const rlvr::matrix_view<const float> logits(logits_buf.data(), N, V);
  const rlvr::matrix_view<float> grad(grad_buf.data(), n, V);
  // example-begin training-step
  const auto obj = rlvr::w_reinforce({.lambda = 0.1});
  rlvr::advantage_input<float> in{};
  in.rewards = rewards;
  in.group_ids = prompt_ids;
  in.seq = token_seq;
  in.mask = token_mask;
  const auto adv = rlvr::estimate_advantages(obj, in);
  rlvr::loss_token_batch<float> all{};
  all.logits = logits;
  all.targets = tokens;
  all.seq = token_seq;
  all.num_sequences = B;
  all.advantages = adv.advantages();
  all.active = adv.active();
  all.old_logp = rollout_logp;
  all.ref_logp = reference_logp;
  const auto mb = rlvr::slice(all, t0, n);
  const double total_active_tokens = adv.global_counts()[0];
  const auto diag = rlvr::loss_and_grad(rlvr::eigen_backend{.threads = 2}, obj, mb, grad,
      {.temperature = 1.0, .aggregation = {.global_tokens = total_active_tokens}, .advantages = &adv.report});
  // example-end training-step
  CHECK(diag.active_tokens == n);
  CHECK(diag.mean_entropy == Approx(std::log(50.0)).epsilon(1e-5));
  CHECK(std::isfinite(diag.loss));
}
#endif
