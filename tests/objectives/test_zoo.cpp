// The objective zoo (issue 18): every new part against numbers computed by hand from its
// published formula (closed forms in double) and, through the fused pass, against central
// finite differences of the loss in every logit (serial oracle, double).
#include <catch2/catch.hpp>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <rlvr/backends/serial.hpp>
#include <rlvr/loss.hpp>
#include <rlvr/objectives/kl_control.hpp>
#include <vector>

namespace {
using rlvr::index_t;
using ti = rlvr::token_input<double>;

// constexpr: the new per-token terms are usable in constant expressions (and so on devices)
static_assert(rlvr::cispo{}(ti{-1.0, -1.0, 0, 2.0, 0}).dlogp == -2.0); // ρ = 1: REINFORCE
static_assert(rlvr::sapo{}(ti{-1.0, -1.0, 0, 2.0, 0}).dlogp == -2.0);  // ρ = 1: f' = 1
static_assert(rlvr::kl_k3_plus{.beta = 1}(ti{-1.0, -1.0, -1.0, 0, 0}).loss == 0.0);
static_assert(rlvr::Surrogate<rlvr::cispo> && rlvr::Surrogate<rlvr::sapo> && rlvr::Regularizer<rlvr::kl_k3_plus>);
static_assert(rlvr::BatchSurrogate<rlvr::gspo> && rlvr::BatchSurrogate<rlvr::gmpo>);
static_assert(rlvr::BatchSurrogate<rlvr::clip_cov> && rlvr::BatchSurrogate<rlvr::kl_cov>);
static_assert(!rlvr::BatchSurrogate<rlvr::ppo_clip>);
static_assert(rlvr::TokenGate<rlvr::tis> && rlvr::TokenGate<rlvr::rollout_mask> &&
              rlvr::TokenGate<rlvr::sequence_divergence_mask> && rlvr::TokenGate<rlvr::entropy_top>);

// A small batch in double: B responses of 1…4 tokens, V logits per token, per-response
// advantages, old and rollout log-probs near the current ones.
struct zoo_batch {
  index_t n = 0, v = 0, b = 0;
  std::vector<double> z, adv, old_logp, rollout_logp, ref_logp;
  std::vector<rlvr::token_t> y;
  std::vector<std::int32_t> seq;

  zoo_batch(index_t responses, index_t v_, std::uint64_t seed, double ratio_spread = 0.3) : v(v_), b(responses) {
    std::mt19937_64 rng(seed);
    std::normal_distribution<double> nd(0.0, 1.0);
    std::uniform_int_distribution<int> len(1, 4);
    std::vector<double> a;
    for (index_t i = 0; i < b; ++i) {
      a.push_back(nd(rng));
      const int l = len(rng);
      for (int t = 0; t < l; ++t) seq.push_back(static_cast<std::int32_t>(i));
    }
    n = static_cast<index_t>(seq.size());
    std::uniform_int_distribution<int> tok(0, static_cast<int>(v - 1));
    for (index_t t = 0; t < n; ++t) {
      for (index_t j = 0; j < v; ++j) z.push_back(1.5 * nd(rng));
      y.push_back(tok(rng));
      adv.push_back(a[static_cast<std::size_t>(seq[static_cast<std::size_t>(t)])]);
    }
    for (index_t t = 0; t < n; ++t) {
      const double lp = logp(t);
      old_logp.push_back(lp + ratio_spread * nd(rng));
      rollout_logp.push_back(old_logp.back() + ratio_spread * nd(rng));
      ref_logp.push_back(lp + ratio_spread * nd(rng));
    }
  }
  // log softmax of row t at its target, by the textbook formula
  double logp(index_t t) const {
    double m = -1e300, s = 0;
    for (index_t j = 0; j < v; ++j) m = std::max(m, z[static_cast<std::size_t>(t * v + j)]);
    for (index_t j = 0; j < v; ++j) s += std::exp(z[static_cast<std::size_t>(t * v + j)] - m);
    return z[static_cast<std::size_t>(t * v + y[static_cast<std::size_t>(t)])] - m - std::log(s);
  }
  double entropy(index_t t) const {
    double m = -1e300, s = 0, h = 0;
    for (index_t j = 0; j < v; ++j) m = std::max(m, z[static_cast<std::size_t>(t * v + j)]);
    for (index_t j = 0; j < v; ++j) s += std::exp(z[static_cast<std::size_t>(t * v + j)] - m);
    for (index_t j = 0; j < v; ++j) {
      const double p = std::exp(z[static_cast<std::size_t>(t * v + j)] - m) / s;
      h -= p * std::log(p);
    }
    return h;
  }
  rlvr::loss_token_batch<double> tokens() const {
    rlvr::loss_token_batch<double> tb{};
    tb.logits = {z.data(), n, v};
    tb.targets = y;
    tb.advantages = {adv.data(), 1, n};
    tb.seq = seq;
    tb.num_sequences = b;
    tb.old_logp = old_logp;
    tb.ref_logp = ref_logp;
    tb.rollout_logp = rollout_logp;
    return tb;
  }
  std::vector<double> lengths() const {
    std::vector<double> l(static_cast<std::size_t>(b), 0.0);
    for (auto s : seq) l[static_cast<std::size_t>(s)] += 1;
    return l;
  }
};

template <class O>
rlvr::loss_diagnostics run(const O& obj, const zoo_batch& d, std::vector<double>& g, std::vector<double>* per_token = nullptr) {
  g.assign(d.z.size(), 0.0);
  rlvr::token_outputs<double> out{};
  if (per_token) {
    per_token->assign(static_cast<std::size_t>(d.n), 0.0);
    out.loss = *per_token;
  }
  return rlvr::loss_and_grad(rlvr::serial_backend{}, obj, d.tokens(), rlvr::matrix_view<double>(g.data(), d.n, d.v), {}, out);
}

// worst |FD − analytic| over every logit; the sequence/batch statistics are recomputed at each
// perturbed point, so this checks the gradient of the true (non-detached) objective.
template <class O> double fd_worst(const O& obj, zoo_batch d) {
  std::vector<double> g, scratch;
  run(obj, d, g);
  const double h = 1e-6;
  double worst = 0;
  for (std::size_t k = 0; k < d.z.size(); ++k) {
    const double keep = d.z[k];
    d.z[k] = keep + h;
    const double lp = run(obj, d, scratch).loss;
    d.z[k] = keep - h;
    const double lm = run(obj, d, scratch).loss;
    d.z[k] = keep;
    worst = std::max(worst, std::abs((lp - lm) / (2 * h) - g[k]));
  }
  return worst;
}

double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }
} // namespace

// ---- token-level terms -----------------------------------------------------------------------------

TEST_CASE("CISPO: detached clipped IS weight times log pi", "[objectives][zoo][cispo]") {
  const double rho = std::exp(0.5);
  // default: no lower bound, cap 1 + 4 = 5: weight ρ
  auto r = rlvr::cispo{}(ti{-1.0, -1.5, 0, 2.0, 0});
  CHECK(r.loss == Approx(-rho * 2.0 * -1.0).epsilon(1e-14));
  CHECK(r.dlogp == Approx(-rho * 2.0).epsilon(1e-14)); // the weight is a constant: ∂ℓ/∂log π = −ŵ·A
  CHECK(r.flags == 0);
  // clip-higher cap 1.28: weight 1.28, the token keeps its gradient (PPO would zero it)
  r = rlvr::cispo{.eps_low = 0.2, .eps_high = 0.28}(ti{-1.0, -1.5, 0, 2.0, 0});
  CHECK(r.loss == Approx(2.56).epsilon(1e-14));
  CHECK(r.dlogp == Approx(-2.56).epsilon(1e-14));
  CHECK(r.flags == rlvr::clipped_high);
  r = rlvr::cispo{.eps_low = 0.2, .eps_high = 0.28}(ti{-1.5, -1.0, 0, -3.0, 0});
  CHECK(r.dlogp == Approx(0.8 * 3.0).epsilon(1e-14));
  CHECK(r.loss == Approx(-0.8 * 3.0 * 1.5).epsilon(1e-14));
  CHECK(r.flags == rlvr::clipped_low);
  CHECK_THROWS_WITH(rlvr::cispo{.eps_low = 1.5}.validate(), Catch::Contains("cispo: eps_low = 1.5"));
}

TEST_CASE("SAPO: soft gate with separate temperatures, value and finite differences", "[objectives][zoo][sapo]") {
  const rlvr::sapo s{.tau_pos = 1.0, .tau_neg = 1.05};
  for (double lr : {-0.7, -0.1, 0.0, 0.3, 1.2})
    for (double a : {1.3, -0.8}) {
      const ti in{-1.0 + lr, -1.0, 0, a, 0};
      const double rho = std::exp(lr), tau = a > 0 ? 1.0 : 1.05;
      const auto r = s(in);
      CHECK(r.loss == Approx(-4.0 / tau * sigmoid(tau * (rho - 1)) * a).epsilon(1e-13));
      ti p = in, m = in;
      p.logp += 1e-6;
      m.logp -= 1e-6;
      CHECK(r.dlogp == Approx((s(p).loss - s(m).loss) / 2e-6).epsilon(1e-7));
    }
  // at ρ = 1 the gate is 2/τ and the gradient is REINFORCE's
  CHECK(s(ti{-1, -1, 0, -2.0, 0}).loss == Approx(2.0 * 2.0 / 1.05).epsilon(1e-14));
  CHECK(s(ti{-1, -1, 0, -2.0, 0}).dlogp == Approx(2.0).epsilon(1e-14));
}

TEST_CASE("k3+: the value of k3 with the gradient of k2", "[objectives][zoo][kl]") {
  for (double d : {-2.0, -0.3, 0.0, 0.4, 1.7}) {
    const ti in{-1.0, -1.0, -1.0 + d, 0, 0};
    const auto plus = rlvr::kl_k3_plus{.beta = 0.1}(in);
    CHECK(plus.loss == Approx(0.1 * (std::exp(d) - d - 1)).margin(1e-15));
    CHECK(plus.loss == rlvr::kl_k3{.beta = 0.1}(in).loss);
    CHECK(plus.dlogp == Approx(rlvr::kl_k2{.beta = 0.1}(in).dlogp).margin(1e-15));
    CHECK(plus.dlogp == Approx(-0.1 * d).margin(1e-15));
  }
  // the clamp still applies: value capped, no gradient, flagged
  const auto c = rlvr::kl_k3_plus{.beta = 1, .clamp = 1}(ti{-5.0, -5.0, 0.0, 0, 0});
  CHECK(c.loss == 1.0);
  CHECK(c.dlogp == 0.0);
  CHECK(c.flags == rlvr::kl_clamped);
}

TEST_CASE("INTELLECT-2 two-sided clipping is ppo_clip's dual clip with c = delta", "[objectives][zoo][clip]") {
  const double eps = 0.2, delta = 4.0;
  const rlvr::ppo_clip clip{.eps_low = eps, .eps_high = eps, .dual_clip = delta};
  for (double rho : {0.3, 0.9, 1.1, 1.5, 3.0, 4.5, 9.0})
    for (double a : {1.3, -1.3}) {
      // TRL / INTELLECT-2: ℓ = −min(min(ρ, δ)·A, clip(ρ, 1 − ε, 1 + ε)·A)
      const double want = -std::min(std::min(rho, delta) * a, std::clamp(rho, 1 - eps, 1 + eps) * a);
      const auto r = clip(ti{std::log(rho) - 1.0, -1.0, 0, a, 0});
      CHECK(r.loss == Approx(want).epsilon(1e-13));
      // gradient: −Aρ on the unclipped branch, 0 where a bound is taken
      const bool unclipped = (a > 0 && rho < 1 + eps) || (a < 0 && rho > 1 - eps && rho < delta);
      CHECK(r.dlogp == Approx(unclipped ? -a * rho : 0.0).margin(1e-13));
    }
}

// ---- sequence-level ratios ----------------------------------------------------------------------------

TEST_CASE("GSPO: loss equals the sequence-level formula; gradient matches finite differences", "[objectives][zoo][gspo]") {
  const zoo_batch d(6, 5, 11);
  const rlvr::gspo s{.eps_low = 0.05, .eps_high = 0.08};
  const auto obj = rlvr::make_objective(rlvr::group_zscore{}, s, rlvr::seq_mean_token_mean{});
  // by hand: s_i = exp(mean_t (log π − log π_old)), ℓ_i = max(−A s_i, −A clip(s_i)), L = mean_i ℓ_i
  const auto len = d.lengths();
  std::vector<double> sum(static_cast<std::size_t>(d.b), 0.0), a(sum.size(), 0.0);
  for (index_t t = 0; t < d.n; ++t) {
    const auto i = static_cast<std::size_t>(d.seq[static_cast<std::size_t>(t)]);
    sum[i] += d.logp(t) - d.old_logp[static_cast<std::size_t>(t)];
    a[i] = d.adv[static_cast<std::size_t>(t)];
  }
  double want = 0;
  int clipped = 0;
  for (std::size_t i = 0; i < sum.size(); ++i) {
    const double si = std::exp(sum[i] / len[i]);
    const double l1 = -a[i] * si, l2 = -a[i] * std::clamp(si, 0.95, 1.08);
    clipped += l2 > l1;
    want += std::max(l1, l2) / static_cast<double>(d.b);
  }
  std::vector<double> g;
  const auto diag = run(obj, d, g);
  CHECK(diag.loss == Approx(want).epsilon(1e-13));
  CHECK(clipped > 0); // the case exercises both branches
  CHECK(clipped < d.b);
  CHECK(fd_worst(obj, d) < 1e-8);
  // the ready-made uses the paper's clip range and is the same composition
  CHECK(rlvr::methods::gspo().surrogate.eps_low == 3e-4);
  CHECK(rlvr::methods::gspo().surrogate.eps_high == 4e-4);
}

TEST_CASE("GSPO on-policy: the gradient is -A/|y| per token (sequence-level REINFORCE)", "[objectives][zoo][gspo]") {
  zoo_batch d(4, 6, 12);
  for (index_t t = 0; t < d.n; ++t) d.old_logp[static_cast<std::size_t>(t)] = d.logp(t); // s_i = 1
  const auto obj = rlvr::methods::gspo();
  std::vector<double> g, per;
  run(obj, d, g, &per);
  const auto len = d.lengths();
  for (index_t t = 0; t < d.n; ++t) {
    const auto i = static_cast<std::size_t>(d.seq[static_cast<std::size_t>(t)]);
    // ℓ_t·w_t = −A_i/(B·|y_i|); ∂/∂z_y = −A_i/(B·|y_i|)·(1 − π_y)
    CHECK(per[static_cast<std::size_t>(t)] == Approx(-d.adv[static_cast<std::size_t>(t)] / (static_cast<double>(d.b) * len[i])).epsilon(1e-12));
    const double p = std::exp(d.logp(t));
    CHECK(g[static_cast<std::size_t>(t * d.v + d.y[static_cast<std::size_t>(t)])] ==
          Approx(-d.adv[static_cast<std::size_t>(t)] / (static_cast<double>(d.b) * len[i]) * (1 - p)).epsilon(1e-10));
  }
}

TEST_CASE("GMPO: geometric mean of log-clipped ratios; finite differences", "[objectives][zoo][gmpo]") {
  const zoo_batch d(6, 5, 13, 0.5);
  const rlvr::gmpo s{.eps_low = 0.3, .eps_high = 0.3};
  const auto obj = rlvr::make_objective(rlvr::group_zscore{}, s, rlvr::seq_mean_token_mean{});
  const auto len = d.lengths();
  std::vector<double> sum(static_cast<std::size_t>(d.b), 0.0), a(sum.size(), 0.0);
  int clipped = 0;
  for (index_t t = 0; t < d.n; ++t) {
    const auto i = static_cast<std::size_t>(d.seq[static_cast<std::size_t>(t)]);
    const double lr = d.logp(t) - d.old_logp[static_cast<std::size_t>(t)], av = d.adv[static_cast<std::size_t>(t)];
    const double sg = av > 0 ? 1.0 : -1.0;
    const double c = sg * std::min(sg * lr, sg * std::clamp(lr, -0.3, 0.3));
    clipped += c != lr;
    sum[i] += c;
    a[i] = av;
  }
  double want = 0;
  for (std::size_t i = 0; i < sum.size(); ++i) want += -a[i] * std::exp(sum[i] / len[i]) / static_cast<double>(d.b);
  std::vector<double> g;
  CHECK(run(obj, d, g).loss == Approx(want).epsilon(1e-13));
  CHECK(clipped > 0);
  CHECK(fd_worst(obj, d) < 1e-8);
}

// ---- entropy-mechanism surrogates ----------------------------------------------------------------------

TEST_CASE("KL-Cov: the top-covariance tokens get c|log rho|; loss by hand and finite differences", "[objectives][zoo][kl_cov]") {
  const zoo_batch d(8, 5, 14);
  const rlvr::kl_cov s{.select_ratio = 0.2, .coef = 0.7};
  const auto obj = rlvr::make_objective(rlvr::group_zscore{}, s, rlvr::token_mean{});
  std::vector<double> cov(static_cast<std::size_t>(d.n));
  double ma = 0, ml = 0;
  for (index_t t = 0; t < d.n; ++t) {
    ma += d.adv[static_cast<std::size_t>(t)] / static_cast<double>(d.n);
    ml += d.logp(t) / static_cast<double>(d.n);
  }
  for (index_t t = 0; t < d.n; ++t) cov[static_cast<std::size_t>(t)] = (d.adv[static_cast<std::size_t>(t)] - ma) * (d.logp(t) - ml);
  std::vector<double> sorted = cov;
  std::sort(sorted.begin(), sorted.end(), std::greater<>());
  const auto k = std::max<std::size_t>(static_cast<std::size_t>(0.2 * static_cast<double>(d.n)), 1);
  double want = 0;
  for (index_t t = 0; t < d.n; ++t) {
    const double lr = d.logp(t) - d.old_logp[static_cast<std::size_t>(t)];
    double l = -d.adv[static_cast<std::size_t>(t)] * std::exp(lr);
    if (cov[static_cast<std::size_t>(t)] >= sorted[k - 1]) l += 0.7 * std::abs(lr);
    want += l / static_cast<double>(d.n);
  }
  std::vector<double> g;
  CHECK(run(obj, d, g).loss == Approx(want).epsilon(1e-13));
  CHECK(fd_worst(obj, d) < 1e-8);
}

TEST_CASE("Clip-Cov: exactly max(floor(r N), 1) unclipped candidates are detached, by seed", "[objectives][zoo][clip_cov]") {
  const zoo_batch d(8, 5, 15);
  const rlvr::clip_cov s{.clip = {.eps_low = 0.2, .eps_high = 0.2}, .select_ratio = 0.25, .cov_lb = -1e9, .cov_ub = 1e9, .seed = 7};
  const auto obj = rlvr::make_objective(rlvr::group_zscore{}, s, rlvr::token_mean{});
  std::vector<double> g, per;
  const auto diag = run(obj, d, g, &per);
  const rlvr::ppo_clip ppo{.eps_low = 0.2, .eps_high = 0.2};
  index_t detached = 0, candidates = 0;
  double kept = 0;
  for (index_t t = 0; t < d.n; ++t) {
    const auto r = ppo(ti{d.logp(t), d.old_logp[static_cast<std::size_t>(t)], 0, d.adv[static_cast<std::size_t>(t)], 0});
    const bool cand = r.flags == 0;
    candidates += cand;
    if (per[static_cast<std::size_t>(t)] == 0.0 && r.loss != 0.0) {
      CHECK(cand); // only unclipped tokens are selected
      ++detached;
      for (index_t j = 0; j < d.v; ++j) CHECK(g[static_cast<std::size_t>(t * d.v + j)] == 0.0);
    } else {
      CHECK(per[static_cast<std::size_t>(t)] == Approx(r.loss / static_cast<double>(d.n)).epsilon(1e-13));
      kept += r.loss / static_cast<double>(d.n);
    }
  }
  CHECK(detached == std::min<index_t>(std::max<index_t>(static_cast<index_t>(0.25 * static_cast<double>(d.n)), 1), candidates));
  CHECK(diag.loss == Approx(kept).epsilon(1e-13));
  CHECK(fd_worst(obj, d) < 1e-8);
  // the selection is a function of the seed: same seed, same tokens; another seed, a different draw
  std::vector<double> per2, per3;
  run(obj, d, g, &per2);
  CHECK(per2 == per);
  auto other = obj;
  other.surrogate.seed = 8;
  run(other, d, g, &per3);
  CHECK(per3 != per);
}

// ---- token gates -------------------------------------------------------------------------------------------

TEST_CASE("token gates: TIS, rollout masks, divergence mask and entropy top-rho by hand", "[objectives][zoo][gates]") {
  // 5 tokens, responses {0, 0, 1, 1, 1}
  const std::vector<double> lp{-1.0, -2.0, -0.5, -0.7, -1.2}, ent{0.1, 0.5, 0.9, 0.3, 0.7};
  const std::vector<double> old{-1.0, -2.0, -0.5, -0.7, -1.2};
  const std::vector<double> roll{-1.5, -1.0, -0.5, -0.6, -1.3};
  const std::vector<double> adv(5, 1.0), w(5, 0.2);
  const std::vector<std::int32_t> seq{0, 0, 1, 1, 1};
  const rlvr::batch_context<double> ctx{lp, ent, old, roll, adv, w, seq, 2};
  auto gate_of = [&](const auto& g) {
    std::vector<double> out(5, 1.0);
    g.apply(ctx, rlvr::vector_view<double>(out));
    return out;
  };
  // log w = old − rollout = {0.5, −1, 0, −0.1, 0.1}
  auto g = gate_of(rlvr::tis{.cap = 1.5});
  CHECK(g[0] == Approx(1.5));
  CHECK(g[1] == Approx(std::exp(-1.0)).epsilon(1e-14));
  CHECK(g[2] == Approx(1.0));
  CHECK(g[4] == Approx(std::exp(0.1)).epsilon(1e-14));
  g = gate_of(rlvr::tis{.cap = 1.5, .level = rlvr::correction_level::sequence});
  CHECK(g[0] == Approx(std::exp(-0.5)).epsilon(1e-14)); // Π w over response 0
  CHECK(g[1] == g[0]);
  CHECK(g[2] == Approx(1.0).epsilon(1e-14)); // exp(0 − 0.1 + 0.1)
  g = gate_of(rlvr::rollout_mask{.lower = 0.5, .upper = 1.5});
  CHECK(g == std::vector<double>{0, 0, 1, 1, 1}); // e^0.5 = 1.65 and e^−1 = 0.37 are outside
  // geometric means: response 0 e^{−0.25} = 0.7788, response 1 e^0 = 1
  g = gate_of(rlvr::rollout_mask{.lower = 0.8, .upper = 1.5, .level = rlvr::correction_level::sequence});
  CHECK(g == std::vector<double>{0, 0, 1, 1, 1});
  g = gate_of(rlvr::rollout_mask{.lower = 0.7, .upper = 1.5, .level = rlvr::correction_level::sequence});
  CHECK(g == std::vector<double>{1, 1, 1, 1, 1});
  // k3 per token: w − 1 − log w; response 0 mean = (e^.5 − 1.5 + e^−1 − 1 + 1)/2
  const double k0 = (std::exp(0.5) - 1.5 + std::exp(-1.0)) / 2;
  const double k1 = (0.0 + (std::exp(-0.1) - 1 + 0.1) + (std::exp(0.1) - 1 - 0.1)) / 3;
  g = gate_of(rlvr::sequence_divergence_mask{.max_kl = (k0 + k1) / 2});
  CHECK(g == std::vector<double>{0, 0, 1, 1, 1});
  // entropy quantile over the batch: sorted H = {.1,.3,.5,.7,.9}; ρ = 0.4 → q at 0.6·4 = 2.4 → 0.58
  g = gate_of(rlvr::entropy_top{.rho = 0.4});
  CHECK(g == std::vector<double>{0, 0, 1, 0, 1});
  g = gate_of(rlvr::entropy_top{.rho = 1.0});
  CHECK(g == std::vector<double>{1, 1, 1, 1, 1});
}

TEST_CASE("gates multiply the surrogate only, compose with any surrogate, and match finite differences", "[objectives][zoo][gates]") {
  const zoo_batch d(7, 5, 16);
  const auto base = rlvr::make_objective(rlvr::group_zscore{}, rlvr::cispo{}, rlvr::token_mean{}, rlvr::kl_k1{.beta = 0.3});
  const auto gated = rlvr::make_objective(rlvr::group_zscore{}, rlvr::cispo{}, rlvr::token_mean{}, rlvr::kl_k1{.beta = 0.3},
                                          rlvr::tis{.cap = 1.2}, rlvr::entropy_top{.rho = 0.5});
  double want = 0;
  std::vector<double> h;
  for (index_t t = 0; t < d.n; ++t) h.push_back(d.entropy(t));
  std::vector<double> hs = h;
  std::sort(hs.begin(), hs.end());
  const double pos = 0.5 * static_cast<double>(d.n - 1);
  const auto lo = static_cast<std::size_t>(pos);
  const double q = hs[lo] + (pos - static_cast<double>(lo)) * (hs[std::min(lo + 1, hs.size() - 1)] - hs[lo]);
  for (index_t t = 0; t < d.n; ++t) {
    const auto u = static_cast<std::size_t>(t);
    const ti in{d.logp(t), d.old_logp[u], d.ref_logp[u], d.adv[u], h[u]};
    const double gate = std::min(std::exp(d.old_logp[u] - d.rollout_logp[u]), 1.2) * (h[u] >= q ? 1.0 : 0.0);
    want += (gate * rlvr::cispo{}(in).loss + rlvr::kl_k1{.beta = 0.3}(in).loss) / static_cast<double>(d.n);
  }
  std::vector<double> g;
  const auto diag = run(gated, d, g);
  CHECK(diag.loss == Approx(want).epsilon(1e-13));
  double gsum = 0, gzero = 0;
  for (index_t t = 0; t < d.n; ++t) {
    const auto u = static_cast<std::size_t>(t);
    const double gate = std::min(std::exp(d.old_logp[u] - d.rollout_logp[u]), 1.2) * (h[u] >= q ? 1.0 : 0.0);
    gsum += gate;
    gzero += gate == 0.0;
  }
  CHECK(diag.mean_gate == Approx(gsum / static_cast<double>(d.n)).epsilon(1e-13));
  CHECK(diag.gated_out_frac == Approx(gzero / static_cast<double>(d.n)));
  CHECK(run(base, d, g).loss != Approx(want)); // the gates change something here
  // TIS with PPO: FD (the gate is a constant in the logits; CISPO's weight is detached by design)
  const auto tis_ppo = rlvr::make_objective(rlvr::group_zscore{}, rlvr::ppo_clip{}, rlvr::token_mean{},
                                            rlvr::tis{.cap = 1.2, .level = rlvr::correction_level::sequence});
  CHECK(fd_worst(tis_ppo, d) < 1e-8);
  const auto top = rlvr::methods::high_entropy({.select = {.rho = 0.5}});
  CHECK(fd_worst(top, d) < 1e-8);
  // a gate that reads rollout log-probs needs them
  auto tb = d.tokens();
  tb.rollout_logp = {};
  std::vector<double> gg(d.z.size());
  CHECK_THROWS_WITH(rlvr::loss_and_grad(rlvr::serial_backend{}, tis_ppo, tb, rlvr::matrix_view<double>(gg.data(), d.n, d.v)),
                    Catch::Contains("needs rollout_logp of length"));
}

// ---- estimators ----------------------------------------------------------------------------------------------

namespace {
struct est_case {
  std::vector<double> r;
  std::vector<std::int64_t> g;
  std::vector<std::int32_t> seq;
  std::vector<double> adv;
  std::vector<std::uint8_t> act;
  rlvr::advantage_input<double> in() const {
    rlvr::advantage_input<double> x{};
    x.rewards = r;
    x.group_ids = g;
    x.seq = seq;
    return x;
  }
  template <class E> rlvr::advantage_report run(const E& e, rlvr::advantage_input<double> x) {
    adv.assign(seq.size(), 0.0);
    act.assign(seq.size(), 0);
    return e.estimate(x, rlvr::advantage_output<double>{adv, act, {}, {}});
  }
};
} // namespace

TEST_CASE("DAPO dynamic sampling drops all-equal groups before the estimator and reports them", "[objectives][zoo][estimators]") {
  est_case c{{1, 1, 0, 1, 0, 0, 1}, {0, 0, 1, 1, 2, 2, 3}, {0, 1, 2, 3, 4, 5, 6}, {}, {}};
  const auto rep = c.run(rlvr::dynamic_sampling<rlvr::group_zscore>{}, c.in());
  CHECK(rep.filtered_groups == 3); // all correct, all wrong, singleton
  CHECK(rep.dropped == 5);
  CHECK(rep.nan_rewards == 0);
  CHECK(c.act == std::vector<std::uint8_t>{0, 0, 1, 1, 0, 0, 0});
  const double sd = std::sqrt(0.5);
  CHECK(c.adv[2] == Approx(-0.5 / (sd + 1e-6)).epsilon(1e-14));
  CHECK(c.adv[3] == Approx(0.5 / (sd + 1e-6)).epsilon(1e-14));
  // with a batch-whitened inner, the dropped groups leave the whitening statistics
  const auto rep2 = c.run(rlvr::dynamic_sampling<rlvr::whitened<rlvr::raw_reward>>{}, c.in());
  CHECK(rep2.dropped == 5);
  CHECK(c.adv[2] == Approx(-0.5 / std::sqrt(0.5 + 1e-8)).epsilon(1e-12)); // {0, 1}: var (n − 1) = 0.5
}

TEST_CASE("overlong reward shaping: linear penalty in the buffer before the limit", "[objectives][zoo][estimators]") {
  // three responses of lengths 5, 8, 11 (mask tokens); L_max = 10, buffer 4
  est_case c{{1, 1, 0}, {}, {}, {}, {}};
  for (int i = 0; i < 3; ++i)
    for (int t = 0; t < (i == 0 ? 5 : i == 1 ? 8 : 11); ++t) c.seq.push_back(i);
  const rlvr::overlong_penalty<rlvr::raw_reward> e{{}, 10, 4, 1.0};
  CHECK(e.penalty(6) == 0.0);
  CHECK(e.penalty(8) == Approx(-0.5));
  CHECK(e.penalty(10) == Approx(-1.0));
  CHECK(e.penalty(11) == -1.0);
  c.run(e, c.in());
  CHECK(c.adv[0] == Approx(1.0));
  CHECK(c.adv[5] == Approx(0.5));
  CHECK(c.adv[13] == Approx(-1.0));
  CHECK_THROWS_WITH((rlvr::overlong_penalty<rlvr::raw_reward>{{}, 10, 12, 1.0}.validate()), Catch::Contains("buffer = 12"));
}

TEST_CASE("ReMax, OPO, GDPO and REINFORCE++-baseline advantages by hand", "[objectives][zoo][estimators]") {
  SECTION("remax: r - greedy baseline") {
    est_case c{{1, 0, 1}, {}, {0, 1, 2}, {}, {}};
    std::vector<double> base{0.5, 1.0, 1.0};
    auto x = c.in();
    x.baselines = base;
    c.run(rlvr::remax{}, x);
    CHECK(c.adv == std::vector<double>{0.5, -1.0, 0.0});
    CHECK_THROWS_WITH(c.run(rlvr::remax{}, c.in()), Catch::Contains("remax: baselines has length 0"));
  }
  SECTION("opo: length-weighted baseline") {
    // group 0: lengths 1, 3, rewards 1, 0 → b = 1/4; group 1 all equal → 0
    est_case c{{1, 0, 1, 1}, {0, 0, 1, 1}, {0, 1, 1, 1, 2, 3}, {}, {}};
    const auto rep = c.run(rlvr::opo{}, c.in());
    CHECK(c.adv[0] == Approx(0.75));
    CHECK(c.adv[1] == Approx(-0.25));
    CHECK(c.adv[4] == 0.0);
    CHECK(rep.zero_std_groups == 1);
  }
  SECTION("gdpo: each reward z-scored in its group, summed, whitened") {
    est_case c{{0, 0, 0, 0}, {5, 5, 5, 5}, {0, 1, 2, 3}, {}, {}};
    const std::vector<double> rc{1, 0, 1, 0, /* second reward */ 0, 0, 0, 3};
    auto x = c.in();
    x.reward_components = {rc.data(), 2, 4};
    c.run(rlvr::gdpo{.eps = 0}, x);
    const double z1 = 0.5 / std::sqrt(1.0 / 3.0); // ±0.866
    const std::vector<double> sum{z1 - 0.5, -z1 - 0.5, z1 - 0.5, -z1 + 1.5};
    double ss = 0;
    for (double s : sum) ss += s * s; // mean is 0
    const double sd = std::sqrt(ss / 3);
    for (std::size_t i = 0; i < 4; ++i) CHECK(c.adv[i] == Approx(sum[i] / sd).epsilon(1e-12));
    // a single summed reward normalised once would rank response 3 first by far; decoupled it does not
    CHECK(c.adv[3] < 1.0);
  }
  SECTION("reinforce++-baseline: group mean subtracted, then whitened") {
    est_case c{{1, 0, 1, 1}, {0, 0, 1, 1}, {0, 1, 2, 3}, {}, {}};
    c.run(rlvr::methods::reinforce_pp_baseline().estimator, c.in());
    // r − mean_g = {0.5, −0.5, 0, 0}; batch mean 0, var (n − 1) = 0.5/3
    const double sc = 1.0 / std::sqrt(0.5 / 3 + 1e-8);
    CHECK(c.adv[0] == Approx(0.5 * sc).epsilon(1e-12));
    CHECK(c.adv[1] == Approx(-0.5 * sc).epsilon(1e-12));
    CHECK(c.adv[2] == Approx(0.0).margin(1e-15));
  }
}

TEST_CASE("adaptive KL controller: proportional update toward the target", "[objectives][zoo][kl]") {
  rlvr::adaptive_kl_controller c{.value = 0.1, .target = 6.0, .horizon = 10000};
  c.update(9.0, 256); // error clipped to +0.2
  CHECK(c.value == Approx(0.1 * (1 + 0.2 * 256 / 10000.0)).epsilon(1e-15));
  const double v = c.value;
  c.update(5.7, 256); // error −0.05
  CHECK(c.value == Approx(v * (1 - 0.05 * 256 / 10000.0)).epsilon(1e-15));
  c.update(0.0, 100); // error clipped to −0.2
  CHECK(c.value < v);
  CHECK_THROWS_WITH((rlvr::adaptive_kl_controller{.target = 0}.validate()), Catch::Contains("target = 0"));
  rlvr::fixed_kl_controller f{.value = 0.05};
  f.update(100, 100);
  CHECK(f.value == 0.05);
}

TEST_CASE("every zoo method trains through loss_and_grad with finite differences", "[objectives][zoo][fd]") {
  const zoo_batch d(6, 5, 17);
  SECTION("cispo with clip-higher") {
    // CISPO's weight is detached: FD of a composition that holds the weight fixed is REINFORCE
    // weighted by ŵ; check the gradient of the ready-made against that by hand instead
    std::vector<double> g;
    run(rlvr::methods::cispo(), d, g);
    for (index_t t = 0; t < d.n; ++t) {
      const auto u = static_cast<std::size_t>(t);
      const double w = std::clamp(std::exp(d.logp(t) - d.old_logp[u]), 0.0, 5.0);
      const double p = std::exp(d.logp(t));
      CHECK(g[static_cast<std::size_t>(t * d.v + d.y[u])] == Approx(-w * d.adv[u] * (1 - p) / static_cast<double>(d.n)).epsilon(1e-10));
    }
  }
  SECTION("sapo") { CHECK(fd_worst(rlvr::methods::sapo(), d) < 1e-8); }
  SECTION("dapo") {
    const auto o = rlvr::methods::dapo();
    CHECK(fd_worst(o, d) < 1e-8);
  }
  SECTION("grpo with k3+") {
    // straight-through: the loss of the k3 composition, the gradient of the k2 composition
    const auto plus = rlvr::make_objective(rlvr::group_zscore{}, rlvr::ppo_clip{}, rlvr::token_mean{}, rlvr::kl_k3_plus{.beta = 0.2});
    const auto k3 = rlvr::make_objective(rlvr::group_zscore{}, rlvr::ppo_clip{}, rlvr::token_mean{}, rlvr::kl_k3{.beta = 0.2});
    const auto k2 = rlvr::make_objective(rlvr::group_zscore{}, rlvr::ppo_clip{}, rlvr::token_mean{}, rlvr::kl_k2{.beta = 0.2});
    std::vector<double> gp, g3, g2;
    CHECK(run(plus, d, gp).loss == Approx(run(k3, d, g3).loss).epsilon(1e-15));
    run(k2, d, g2);
    for (std::size_t k = 0; k < gp.size(); ++k) CHECK(gp[k] == Approx(g2[k]).margin(1e-15));
    CHECK(fd_worst(k2, d) < 1e-8);
  }
}
