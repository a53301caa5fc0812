// Advantage estimators (spec §2, §8): closed forms, drop vs zero, GRPO edge cases (float residue,
// singletons, NaN rewards, arbitrary group ids), RLOO, REINFORCE++, GAE, and bad input.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <limits>
#include <rlvr/loss.hpp>
#include <vector>

namespace {
// B responses of `len` tokens each, laid out response after response.
template <class T> struct rollout {
  std::vector<T> rewards;
  std::vector<std::int64_t> groups;
  std::vector<std::int32_t> seq;
  std::vector<rlvr::mask_t> mask;
  std::vector<T> values;
  std::vector<T> adv, ret;
  std::vector<rlvr::mask_t> active;
  rollout(std::vector<T> r, std::vector<std::int64_t> g, int len) : rewards(std::move(r)), groups(std::move(g)) {
    for (std::size_t i = 0; i < rewards.size(); ++i)
      for (int t = 0; t < len; ++t) seq.push_back(static_cast<std::int32_t>(i));
    adv.resize(seq.size());
    ret.resize(seq.size());
    active.resize(seq.size());
  }
  template <class E> rlvr::advantage_report run(const E& e) {
    rlvr::advantage_input<T> i{};
    i.rewards = rewards;
    i.group_ids = groups;
    i.seq = seq;
    i.mask = mask;
    i.values = values;
    rlvr::advantage_output<T> o{};
    o.advantages = adv;
    o.active = active;
    if (!values.empty()) o.returns = ret;
    return e.estimate(i, o);
  }
  // advantage of response i (its first token)
  T a(std::size_t i, int len) const { return adv[i * static_cast<std::size_t>(len)]; }
};
} // namespace

TEST_CASE("sign split gives PSR, NSR, W-REINFORCE and REINFORCE advantages", "[objectives][advantages]") {
  rollout<double> r({1, 0, 1, 0, 0}, {}, 3);
  auto rep = r.run(rlvr::sign_split{.positive = 0.1, .negative = -1});
  CHECK(r.a(0, 3) == 0.1);
  CHECK(r.a(1, 3) == -1.0);
  CHECK(rep.dropped == 0);
  for (auto x : r.active) CHECK(x == 1);
  // PSR with drop: incorrect responses leave the batch
  rep = r.run(rlvr::sign_split{.positive = 1, .negative = 0, .unused = rlvr::unused_side::drop});
  CHECK(rep.dropped == 3);
  CHECK(r.active[0] == 1);
  CHECK(r.active[3] == 0); // response 1, token 0
  CHECK(r.adv[3] == 0.0);
  // PSR with zero: kept, A = 0
  rep = r.run(rlvr::sign_split{.positive = 1, .negative = 0, .unused = rlvr::unused_side::zero});
  CHECK(rep.dropped == 0);
  CHECK(r.active[3] == 1);
  CHECK(r.adv[3] == 0.0);
  // ±1 rewards work the same way as {0, 1}
  rollout<float> pm({1, -1}, {}, 1);
  pm.run(rlvr::sign_split{});
  CHECK(pm.adv[0] == 1.0f);
  CHECK(pm.adv[1] == -1.0f);
  CHECK_THROWS_AS(rlvr::sign_split{.positive = -1}.validate(), rlvr::config_error);
}

TEST_CASE("GRPO z-score: sample std, eps, arbitrary non-contiguous group ids", "[objectives][advantages][grpo]") {
  // group 42: rewards 1, 0, 0 (responses 0, 2, 4); group 7: 1, 1, 0 (responses 1, 3, 5)
  rollout<double> r({1, 1, 0, 1, 0, 0}, {42, 7, 42, 7, 42, 7}, 2);
  const auto rep = r.run(rlvr::group_zscore{.eps = 1e-6});
  CHECK(rep.groups == 2);
  const double mean = 1.0 / 3, sd = std::sqrt(((2.0 / 3) * (2.0 / 3) + 2 * (1.0 / 9)) / 2); // n − 1
  CHECK(r.a(0, 2) == Approx((1 - mean) / (sd + 1e-6)).epsilon(1e-12));
  CHECK(r.a(2, 2) == Approx((0 - mean) / (sd + 1e-6)).epsilon(1e-12));
  CHECK(r.a(1, 2) == Approx((1 - 2 * mean) / (sd + 1e-6)).epsilon(1e-12));
  CHECK(r.a(5, 2) == Approx((0 - 2 * mean) / (sd + 1e-6)).epsilon(1e-12));
  CHECK(r.adv[1] == r.adv[0]); // constant over a response's tokens
}

TEST_CASE("GRPO edge cases: float residue, all-equal groups, singletons, NaN rewards", "[objectives][advantages][grpo]") {
  // all-equal non-dyadic float rewards: a float32 one-pass std is ~1e-4 and blows advantages up;
  // rlvr's double two-pass std is 0 → zero-std group, A = 0
  rollout<float> r({0.1f, 0.1f, 0.1f, 0.1f, 0.1f, 0.1f, 0.1f, 0.1f, 0.7f, 0.2f}, {0, 0, 0, 0, 0, 0, 0, 0, 1, 1}, 1);
  auto rep = r.run(rlvr::group_zscore{});
  for (int i = 0; i < 8; ++i) CHECK(r.adv[static_cast<std::size_t>(i)] == 0.0f);
  CHECK(rep.zero_std_groups == 1);
  CHECK(rep.zero_std_fraction() == 0.5);
  CHECK(std::abs(r.adv[8]) == Approx(1 / std::sqrt(2.0)).epsilon(1e-5)); // ±(0.25)/(0.3536) = ±0.7071
  // singleton groups: A = 0 by default, verl's r/(1 + eps) on request
  rollout<double> s({1, 0, 1}, {5, 6, 6}, 1);
  rep = s.run(rlvr::group_zscore{});
  CHECK(rep.singleton_groups == 1);
  CHECK(s.adv[0] == 0.0);
  s.run(rlvr::group_zscore{.eps = 1e-6, .std_floor = 1e-6, .singleton = rlvr::singleton_policy::raw});
  CHECK(s.adv[0] == Approx(1 / (1 + 1e-6)));
  // a NaN reward is dropped and does not poison its group
  rollout<double> n({1, std::nan(""), 0, 0}, {3, 3, 3, 3}, 2);
  rep = n.run(rlvr::group_zscore{});
  CHECK(rep.nan_rewards == 1);
  CHECK(rep.dropped == 1);
  CHECK(n.active[2] == 0);
  CHECK(n.adv[2] == 0.0);
  const double mean = 1.0 / 3, sd = std::sqrt(((2.0 / 3) * (2.0 / 3) + 2.0 / 9) / 2);
  CHECK(n.a(0, 2) == Approx((1 - mean) / (sd + 1e-6)));
  CHECK(std::isfinite(n.a(3, 2)));
}

TEST_CASE("Dr. GRPO, RLOO and REINFORCE++ have their closed forms", "[objectives][advantages]") {
  rollout<double> r({1, 0, 0, 1, 1, 1}, {0, 0, 0, 0, 1, 1}, 1);
  auto rep = r.run(rlvr::group_mean_baseline{});
  CHECK(r.adv[0] == Approx(0.5));
  CHECK(r.adv[1] == Approx(-0.5));
  CHECK(r.adv[4] == 0.0);
  CHECK(rep.zero_std_groups == 1);
  r.run(rlvr::rloo{});
  CHECK(r.adv[0] == Approx(1 - 1.0 / 3)); // r − mean of the other three
  CHECK(r.adv[1] == Approx(0 - 2.0 / 3));
  // REINFORCE++: raw rewards whitened over the active tokens
  r.run(rlvr::whitened<rlvr::raw_reward>{});
  double s = 0, ss = 0;
  for (double a : r.adv) {
    s += a;
    ss += a * a;
  }
  CHECK(s == Approx(0).margin(1e-12));
  CHECK(ss / 5 == Approx(1).epsilon(1e-6)); // unbiased variance 1
  // REINFORCE++ with a group baseline: group-centred, then whitened
  r.run(rlvr::whitened<rlvr::group_mean_baseline>{});
  CHECK(r.adv[0] > 0);
  CHECK(r.adv[4] == Approx(r.adv[5]));
}

TEST_CASE("GAE matches the recursion by hand and returns A + V", "[objectives][advantages][gae]") {
  rollout<double> r({1, 0}, {}, 3);
  r.values = {0.5, 0.6, 0.7, 0.2, 0.1, 0.3};
  const double g = 0.9, l = 0.8;
  r.run(rlvr::gae{.gamma = g, .lambda = l, .kl_beta = 0, .whiten = false, .whiten_eps = 1e-8});
  // response 0: rewards (0, 0, 1)
  const double d2 = 1 - 0.7, d1 = 0 + g * 0.7 - 0.6, d0 = 0 + g * 0.6 - 0.5;
  const double a2 = d2, a1 = d1 + g * l * a2, a0 = d0 + g * l * a1;
  CHECK(r.adv[2] == Approx(a2));
  CHECK(r.adv[1] == Approx(a1));
  CHECK(r.adv[0] == Approx(a0));
  CHECK(r.ret[0] == Approx(a0 + 0.5));
  // γ = λ = 1, no values: A_t = R for every token
  rollout<double> u({1, 0}, {}, 4);
  u.values.assign(8, 0.0);
  u.run(rlvr::gae{.gamma = 1, .lambda = 1, .kl_beta = 0, .whiten = false, .whiten_eps = 0});
  CHECK(u.adv[0] == 1.0);
  CHECK(u.adv[7] == 0.0);
  // masked tokens are skipped: the reward lands on the last *active* token
  rollout<double> m({1}, {}, 4);
  m.values.assign(4, 0.0);
  m.mask = {1, 1, 0, 0};
  m.run(rlvr::gae{.gamma = 0.5, .lambda = 1, .kl_beta = 0, .whiten = false, .whiten_eps = 0});
  CHECK(m.adv[1] == 1.0);
  CHECK(m.adv[0] == 0.5);
  CHECK(m.active[2] == 0);
  // KL folded into the reward: r_t −= β (old − ref)
  rollout<double> k({0}, {}, 1);
  k.values = {0.0};
  std::vector<double> old{-1.0}, ref{-1.5};
  rlvr::advantage_input<double> in{};
  in.rewards = k.rewards;
  in.seq = k.seq;
  in.values = k.values;
  in.old_logp = old;
  in.ref_logp = ref;
  rlvr::advantage_output<double> out{};
  out.advantages = k.adv;
  out.active = k.active;
  out.returns = k.ret;
  rlvr::gae{.gamma = 1, .lambda = 1, .kl_beta = 0.1, .whiten = false, .whiten_eps = 0}.estimate(in, out);
  CHECK(k.adv[0] == Approx(-0.1 * 0.5));
  rlvr::gae{.gamma = 1, .lambda = 1, .kl_beta = 0.1, .whiten = false, .whiten_eps = 0, .kl = rlvr::kl_kind::k2}.estimate(in, out);
  CHECK(k.adv[0] == Approx(-0.1 * 0.125));
  rlvr::gae{.gamma = 1, .lambda = 1, .kl_beta = 0.1, .whiten = false, .whiten_eps = 0, .kl = rlvr::kl_kind::k3}.estimate(in, out);
  CHECK(k.adv[0] == Approx(-0.1 * (std::exp(-0.5) + 0.5 - 1)));
}

TEST_CASE("estimators reject bad input naming the offender", "[objectives][advantages][errors]") {
  rollout<double> r({1, 0}, {0, -3}, 2);
  CHECK_THROWS_WITH(r.run(rlvr::group_zscore{}), Catch::Contains("group_ids[1] = -3"));
  r.groups = {0};
  CHECK_THROWS_AS(r.run(rlvr::group_zscore{}), rlvr::shape_error);
  r.groups = {};
  CHECK_THROWS_WITH(r.run(rlvr::group_zscore{}), Catch::Contains("group_ids are required"));
  r.groups = {0, 0};
  r.seq[3] = 9;
  CHECK_THROWS_WITH(r.run(rlvr::group_zscore{}), Catch::Contains("seq[3] = 9 is outside [0, 2)"));
  r.seq[3] = 1;
  r.rewards[1] = std::numeric_limits<double>::infinity();
  CHECK_THROWS_AS(r.run(rlvr::group_zscore{}), rlvr::numerical_error);
  r.rewards[1] = 0;
  r.mask = {1, 1};
  CHECK_THROWS_WITH(r.run(rlvr::group_zscore{}), Catch::Contains("mask has length 2"));
  // through the objective entry point: a mask that selects nothing
  std::vector<std::uint8_t> none(4, 0);
  rlvr::advantage_input<double> in{};
  in.rewards = r.rewards;
  in.group_ids = r.groups;
  in.seq = r.seq;
  in.mask = none;
  CHECK_THROWS_WITH(rlvr::estimate_advantages(rlvr::grpo(), in), Catch::Contains("mask selects no token"));
  CHECK_THROWS_AS(rlvr::estimate_advantages(rlvr::ppo(), in), rlvr::error);
  CHECK_THROWS_AS((rlvr::gae{.gamma = 2.0}.validate()), rlvr::config_error);
  CHECK_THROWS_AS(rlvr::group_zscore{.eps = -1}.validate(), rlvr::config_error);
}

TEST_CASE("estimate_advantages fills one row per component of a weighted sum", "[objectives][advantages]") {
  std::vector<double> rewards{1, 0, 1};
  std::vector<std::int32_t> seq{0, 0, 1, 2, 2};
  rlvr::advantage_input<double> in{};
  in.rewards = rewards;
  in.seq = seq;
  const auto obj = 0.1 * rlvr::psr() + rlvr::nsr();
  static_assert(decltype(obj)::components == 2);
  const auto res = rlvr::estimate_advantages(obj, in);
  CHECK(res.advantages().rows() == 2);
  CHECK(res.advantages()(0, 0) == 1.0);  // psr row
  CHECK(res.active()(0, 2) == 0);        // incorrect response dropped from psr
  CHECK(res.advantages()(1, 2) == -1.0); // nsr row
  CHECK(res.active()(1, 0) == 0);        // correct response dropped from nsr
  CHECK(res.report.dropped == 3);
}

TEST_CASE("GAE rejects a non-finite value or log-prob naming the element, not the whole batch",
          "[objectives][advantages][gae][errors]") {
  const double nan = std::numeric_limits<double>::quiet_NaN(), inf = std::numeric_limits<double>::infinity();
  // 3 responses × 2 tokens; token 3 (response 1) carries the bad number
  std::vector<double> rewards{1, 0, 1}, values{0.1, 0.2, 0.3, nan, 0.5, 0.6};
  std::vector<double> old(6, -1.0), ref(6, -1.2);
  std::vector<std::int32_t> seq{0, 0, 1, 1, 2, 2};
  std::vector<double> adv(6), ret(6);
  std::vector<std::uint8_t> active(6), mask(6, 1);
  auto run = [&](double kl_beta) {
    rlvr::advantage_input<double> in{};
    in.rewards = rewards;
    in.seq = seq;
    in.mask = mask;
    in.values = values;
    in.old_logp = old;
    in.ref_logp = ref;
    rlvr::advantage_output<double> out{};
    out.advantages = adv;
    out.active = active;
    out.returns = ret;
    return rlvr::gae{.kl_beta = kl_beta}.estimate(in, out);
  };
  CHECK_THROWS_MATCHES(run(0), rlvr::numerical_error,
                       Catch::Matchers::Predicate<rlvr::numerical_error>([](const rlvr::numerical_error& e) {
                         return std::string(e.what()).find("gae: values[3] = nan is not finite (token 3 of response 1)") !=
                                std::string::npos;
                       }));
  values[3] = -inf;
  CHECK_THROWS_WITH(run(0), Catch::Contains("values[3] = -inf"));
  values[3] = 0.4;
  old[4] = nan;
  CHECK_THROWS_WITH(run(0), Catch::Contains("old_logp[4] = nan") && Catch::Contains("response 2"));
  old[4] = -1.0;
  ref[5] = -inf;
  CHECK_THROWS_WITH(run(0.1), Catch::Contains("ref_logp[5] = -inf"));
  ref[5] = -1.2;
  // the same through estimate_advantages with the PPO objective
  {
    old[0] = nan;
    rlvr::advantage_input<double> in{};
    in.rewards = rewards;
    in.seq = seq;
    in.values = values;
    in.old_logp = old;
    in.ref_logp = ref;
    CHECK_THROWS_WITH(rlvr::estimate_advantages(rlvr::ppo(), in), Catch::Contains("old_logp[0] = nan"));
    old[0] = -1.0;
  }
  // tokens the estimator does not read may hold anything: masked out, or of a response whose
  // reward is NaN (dropped)
  values[1] = nan;
  mask[1] = 0;
  rewards[2] = nan;
  values[4] = inf;
  old[5] = nan;
  const rlvr::advantage_report rep = run(0);
  CHECK(rep.dropped == 1);
  for (std::size_t t = 0; t < 6; ++t) CHECK(std::isfinite(adv[t]));
  CHECK(active[1] == 0);
  CHECK(active[4] == 0);
}
