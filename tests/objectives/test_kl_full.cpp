// The exact full-vocabulary KL to the reference (issue 18 item 5, `rlvr::kl_full`): the value and
// gradient of β·KL(π‖π_ref) computed inside the fused pass, against the textbook formula in
// double, central finite differences of the loss, invariances (row shifts, identical rows),
// masked vocabulary, the errors a bad reference row raises, in-place and thread-count
// determinism, and every host backend against the serial oracle.
#include <catch2/catch.hpp>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <rlvr/backends/serial.hpp>
#include <rlvr/loss.hpp>
#include <string>
#include <vector>
#ifdef RLVR_TEST_EIGEN
#include <rlvr/backends/eigen.hpp>
#endif

namespace {
using rlvr::index_t;
constexpr double inf = std::numeric_limits<double>::infinity();

static_assert(rlvr::Regularizer<rlvr::kl_full>);
static_assert(rlvr::kl_full{.beta = 2}(rlvr::token_input<double>{.logp = -1, .old_logp = -1, .ref_logp = 0, .adv = 0,
                                                                  .entropy = 0, .kl = 0.25})
                  .loss == 0.5);
static_assert(rlvr::RefKLBackend<rlvr::serial_backend, float> && rlvr::RefKLBackend<rlvr::serial_backend, double>);
static_assert(decltype(rlvr::make_objective(rlvr::group_zscore{}, rlvr::ppo_clip{}, rlvr::token_mean{},
                                            rlvr::kl_full{}))::uses_ref_logits);
static_assert(!rlvr::grpo_objective::uses_ref_logits);

// log p of a row at temperature tau, by the textbook formula (max subtracted)
std::vector<double> log_softmax(const double* z, index_t v, double tau) {
  double m = -inf;
  for (index_t j = 0; j < v; ++j) m = std::max(m, z[j] / tau);
  double s = 0;
  for (index_t j = 0; j < v; ++j) s += std::exp(z[j] / tau - m);
  std::vector<double> l(static_cast<std::size_t>(v));
  for (index_t j = 0; j < v; ++j) l[static_cast<std::size_t>(j)] = z[j] / tau - m - std::log(s);
  return l;
}
// KL(p‖q) = Σ p (log p − log q), terms with p = 0 dropped
double kl_textbook(const double* z, const double* r, index_t v, double tau) {
  const auto lp = log_softmax(z, v, tau), lq = log_softmax(r, v, tau);
  double kl = 0;
  for (std::size_t j = 0; j < lp.size(); ++j)
    if (std::exp(lp[j]) > 0) kl += std::exp(lp[j]) * (lp[j] - lq[j]);
  return kl;
}

// N tokens of V logits, reference logits near the policy's, per-response advantages
struct kl_batch {
  index_t n, v, b;
  std::vector<double> z, r, adv, old_logp;
  std::vector<rlvr::token_t> y;
  std::vector<std::int32_t> seq;
  kl_batch(index_t n_, index_t v_, std::uint64_t seed, double spread = 0.7) : n(n_), v(v_), b((n_ + 2) / 3) {
    std::mt19937_64 rng(seed);
    std::normal_distribution<double> nd(0.0, 1.0);
    std::uniform_int_distribution<int> tok(0, static_cast<int>(v - 1));
    for (index_t t = 0; t < n; ++t) {
      for (index_t j = 0; j < v; ++j) {
        z.push_back(1.5 * nd(rng));
        r.push_back(z.back() + spread * nd(rng));
      }
      y.push_back(tok(rng));
      seq.push_back(static_cast<std::int32_t>(t / 3));
    }
    for (index_t i = 0; i < b; ++i) {
      const double a = nd(rng);
      for (index_t t = 0; t < n; ++t)
        if (seq[static_cast<std::size_t>(t)] == i) adv.push_back(a);
    }
    for (index_t t = 0; t < n; ++t) old_logp.push_back(log_softmax(&z[static_cast<std::size_t>(t * v)], v, 1.0)
                                                           [static_cast<std::size_t>(y[static_cast<std::size_t>(t)])] +
                                                       0.2 * nd(rng));
  }
  rlvr::loss_token_batch<double> tokens() const {
    rlvr::loss_token_batch<double> tb{};
    tb.logits = {z.data(), n, v};
    tb.targets = y;
    tb.advantages = {adv.data(), 1, n};
    tb.seq = seq;
    tb.num_sequences = b;
    tb.old_logp = old_logp;
    tb.ref_logits = {r.data(), n, v};
    return tb;
  }
};

template <class B, class O>
rlvr::loss_diagnostics run(const B& be, const O& obj, const kl_batch& d, std::vector<double>& g, double tau = 1.0) {
  g.assign(d.z.size(), 0.0);
  return rlvr::loss_and_grad(be, obj, d.tokens(), rlvr::matrix_view<double>(g.data(), d.n, d.v), {.temperature = tau});
}

// only the KL: A = 0 makes REINFORCE's term vanish, token-mean over the N tokens
auto kl_only(double beta) {
  return rlvr::make_objective(rlvr::sign_split{0.0, 0.0, rlvr::unused_side::zero}, rlvr::reinforce_surrogate{},
                              rlvr::token_mean{}, rlvr::kl_full{.beta = beta});
}

std::string message_of(auto&& f) {
  try {
    f();
  } catch (const rlvr::error& e) {
    return e.what();
  }
  return "no error";
}
} // namespace

TEST_CASE("kl_full: value and gradient equal the textbook KL and its derivative", "[objectives][zoo][kl_full]") {
  for (const double tau : {1.0, 0.7, 1.6}) {
    kl_batch d(5, 7, 3);
    std::fill(d.adv.begin(), d.adv.end(), 0.0);
    std::vector<double> g;
    const double beta = 0.3;
    const auto diag = run(rlvr::serial_backend{}, kl_only(beta), d, g, tau);
    double mean = 0;
    for (index_t t = 0; t < d.n; ++t) {
      const double* zt = &d.z[static_cast<std::size_t>(t * d.v)];
      const double* rt = &d.r[static_cast<std::size_t>(t * d.v)];
      const double kl = kl_textbook(zt, rt, d.v, tau);
      mean += kl / static_cast<double>(d.n);
      const auto lp = log_softmax(zt, d.v, tau), lq = log_softmax(rt, d.v, tau);
      for (index_t j = 0; j < d.v; ++j) {
        const auto u = static_cast<std::size_t>(j);
        // ∂(β/N·KL)/∂z_j = (β/N)(1/τ) p_j (log p_j − log q_j − KL)
        const double want = beta / static_cast<double>(d.n) / tau * std::exp(lp[u]) * (lp[u] - lq[u] - kl);
        CHECK(g[static_cast<std::size_t>(t * d.v + j)] == Approx(want).margin(1e-15).epsilon(1e-12));
      }
    }
    CHECK(diag.loss == Approx(beta * mean).epsilon(1e-13));
    CHECK(diag.full_kl == Approx(mean).epsilon(1e-13));
  }
}

TEST_CASE("kl_full composes with any surrogate: finite differences of the whole loss", "[objectives][zoo][kl_full][fd]") {
  kl_batch d(7, 6, 11);
  const auto grpo_full = rlvr::make_objective(rlvr::group_zscore{}, rlvr::ppo_clip{.eps_low = 0.2, .eps_high = 0.28},
                                              rlvr::token_mean{}, rlvr::kl_full{.beta = 0.4},
                                              rlvr::entropy_bonus{.coef = 0.05});
  const auto sum = 0.1 * rlvr::psr({.unused = rlvr::unused_side::zero}) +
                   rlvr::make_objective(rlvr::sign_split{0.0, -1.0, rlvr::unused_side::zero}, rlvr::ppo_clip{},
                                        rlvr::token_mean{}, rlvr::kl_full{.beta = 0.25});
  static_assert(decltype(sum)::uses_ref_logits);
  auto check_fd = [&](const auto& obj, double tau) {
    // advantages for the weighted sum's two components: A for PSR (sign of A), A for NSR
    std::vector<double> g, scratch;
    auto loss_of = [&](kl_batch& e, std::vector<double>& out) {
      auto tb = e.tokens();
      std::vector<double> a2;
      if constexpr (std::remove_cvref_t<decltype(obj)>::components == 2) {
        a2 = e.adv;
        a2.insert(a2.end(), e.adv.begin(), e.adv.end());
        tb.advantages = {a2.data(), 2, e.n};
      }
      out.assign(e.z.size(), 0.0);
      return rlvr::loss_and_grad(rlvr::serial_backend{}, obj, tb, rlvr::matrix_view<double>(out.data(), e.n, e.v),
                                 {.temperature = tau})
          .loss;
    };
    loss_of(d, g);
    const double h = 1e-6;
    double worst = 0, gmax = 0;
    for (std::size_t k = 0; k < d.z.size(); ++k) {
      const double keep = d.z[k];
      d.z[k] = keep + h;
      const double lp = loss_of(d, scratch);
      d.z[k] = keep - h;
      const double lm = loss_of(d, scratch);
      d.z[k] = keep;
      worst = std::max(worst, std::abs((lp - lm) / (2 * h) - g[k]));
      gmax = std::max(gmax, std::abs(g[k]));
    }
    CHECK(gmax > 1e-3);
    CHECK(worst < 1e-8);
  };
  check_fd(grpo_full, 1.0);
  check_fd(grpo_full, 0.8);
  check_fd(sum, 1.0);
}

TEST_CASE("kl_full: invariances, identical rows and masked vocabulary", "[objectives][zoo][kl_full]") {
  kl_batch d(4, 9, 5);
  std::fill(d.adv.begin(), d.adv.end(), 0.0);
  std::vector<double> g0, g1;
  const auto d0 = run(rlvr::serial_backend{}, kl_only(1.0), d, g0);
  SECTION("a per-row shift of either logits row changes nothing, also at magnitude 1e4") {
    kl_batch s = d;
    for (index_t t = 0; t < s.n; ++t)
      for (index_t j = 0; j < s.v; ++j) {
        s.z[static_cast<std::size_t>(t * s.v + j)] += 1e4 * static_cast<double>(t + 1);
        s.r[static_cast<std::size_t>(t * s.v + j)] -= 3e3 * static_cast<double>(t + 2);
      }
    const auto d1 = run(rlvr::serial_backend{}, kl_only(1.0), s, g1);
    CHECK(d1.full_kl == Approx(d0.full_kl).epsilon(1e-9));
    for (std::size_t k = 0; k < g0.size(); ++k) CHECK(g1[k] == Approx(g0[k]).margin(1e-9));
  }
  SECTION("identical policy and reference rows: KL and its gradient are exactly 0") {
    kl_batch s = d;
    s.r = s.z;
    const auto d1 = run(rlvr::serial_backend{}, kl_only(1.0), s, g1);
    CHECK(d1.full_kl == 0.0);
    CHECK(d1.loss == 0.0);
    for (double x : g1) CHECK(x == 0.0);
  }
  SECTION("-inf in both rows (masked vocabulary) and -inf in the policy row only are fine") {
    kl_batch s = d;
    s.z[1] = s.r[1] = -inf;             // masked in both: dropped from both distributions
    s.z[static_cast<std::size_t>(s.v + 2)] = -inf; // policy gives 0: contributes 0 whatever q is
    if (s.y[0] == 1) s.y[0] = 0;        // targets must keep probability > 0
    if (s.y[1] == 2) s.y[1] = 0;
    const auto d1 = run(rlvr::serial_backend{}, kl_only(1.0), s, g1);
    const double k0 = kl_textbook(&s.z[0], &s.r[0], s.v, 1.0), k1 = kl_textbook(&s.z[static_cast<std::size_t>(s.v)], &s.r[static_cast<std::size_t>(s.v)], s.v, 1.0);
    double rest = 0;
    for (index_t t = 2; t < s.n; ++t)
      rest += kl_textbook(&s.z[static_cast<std::size_t>(t * s.v)], &s.r[static_cast<std::size_t>(t * s.v)], s.v, 1.0);
    CHECK(std::isfinite(k0));
    CHECK(d1.full_kl == Approx((k0 + k1 + rest) / static_cast<double>(s.n)).epsilon(1e-12));
    CHECK(g1[1] == 0.0);
    CHECK(g1[static_cast<std::size_t>(s.v + 2)] == 0.0);
    for (double x : g1) CHECK(std::isfinite(x));
  }
  SECTION("a reference row with probability 0 where the policy has mass, or a NaN, is an error naming the row") {
    for (const double bad : {-inf, std::numeric_limits<double>::quiet_NaN(), inf}) {
      kl_batch s = d;
      s.r[static_cast<std::size_t>(2 * s.v + 4)] = bad;
      const std::string m = message_of([&] { run(rlvr::serial_backend{}, kl_only(1.0), s, g1); });
      CHECK(m.find("[rlvr.numerical]") == 0);
      CHECK(m.find("ref_logits row 2") != std::string::npos);
    }
  }
  SECTION("missing or misshapen reference logits, and a reference that overlaps the gradient, are shape errors") {
    auto tb = d.tokens();
    tb.ref_logits = {};
    std::vector<double> g(d.z.size());
    std::string m = message_of([&] {
      (void)rlvr::loss_and_grad(rlvr::serial_backend{}, kl_only(1.0), tb, rlvr::matrix_view<double>(g.data(), d.n, d.v));
    });
    CHECK(m.find("[rlvr.shape]") == 0);
    CHECK(m.find("needs ref_logits of 4x9") != std::string::npos);
    tb.ref_logits = {d.r.data(), d.n, d.v - 1};
    m = message_of([&] {
      (void)rlvr::loss_and_grad(rlvr::serial_backend{}, kl_only(1.0), tb, rlvr::matrix_view<double>(g.data(), d.n, d.v));
    });
    CHECK(m.find("(got 4x8)") != std::string::npos);
    std::vector<double> r = d.r;
    tb.ref_logits = {r.data(), d.n, d.v};
    m = message_of([&] {
      (void)rlvr::loss_and_grad(rlvr::serial_backend{}, kl_only(1.0), tb, rlvr::matrix_view<double>(r.data(), d.n, d.v));
    });
    CHECK(m.find("ref_logits overlap grad") != std::string::npos);
    CHECK(message_of([] { rlvr::kl_full{.beta = -1}.validate(); }).find("kl_full: beta = -1") != std::string::npos);
  }
}

TEST_CASE("kl_full: in place, float, thread counts and host backends agree with the oracle", "[objectives][zoo][kl_full][backends]") {
  const kl_batch d(40, 300, 21);
  const auto obj = rlvr::make_objective(rlvr::group_zscore{}, rlvr::ppo_clip{}, rlvr::token_mean{}, rlvr::kl_full{.beta = 0.1});
  std::vector<double> g;
  const auto ref = run(rlvr::serial_backend{}, obj, d, g, 0.9);
  SECTION("in place: the logits become the same gradient, bit for bit") {
    std::vector<double> z = d.z;
    auto tb = d.tokens();
    tb.logits = {z.data(), d.n, d.v};
    const auto di = rlvr::loss_and_grad(rlvr::serial_backend{}, obj, tb, rlvr::matrix_view<double>(z.data(), d.n, d.v),
                                        {.temperature = 0.9});
    CHECK(di.loss == ref.loss);
    CHECK(z == g);
  }
  SECTION("float logits: within float rounding of the double oracle") {
    std::vector<float> zf(d.z.begin(), d.z.end()), rf(d.r.begin(), d.r.end()), af(d.adv.begin(), d.adv.end()),
        of(d.old_logp.begin(), d.old_logp.end()), gf(d.z.size());
    rlvr::loss_token_batch<float> tb{};
    tb.logits = {zf.data(), d.n, d.v};
    tb.targets = d.y;
    tb.advantages = {af.data(), 1, d.n};
    tb.seq = d.seq;
    tb.num_sequences = d.b;
    tb.old_logp = of;
    tb.ref_logits = {rf.data(), d.n, d.v};
    const auto df = rlvr::loss_and_grad(rlvr::serial_backend{}, obj, tb, rlvr::matrix_view<float>(gf.data(), d.n, d.v),
                                        {.temperature = 0.9});
    CHECK(df.loss == Approx(ref.loss).epsilon(1e-5));
    CHECK(df.full_kl == Approx(ref.full_kl).epsilon(1e-5));
    double gmax = 0, worst = 0;
    for (std::size_t k = 0; k < g.size(); ++k) gmax = std::max(gmax, std::abs(g[k]));
    for (std::size_t k = 0; k < g.size(); ++k) worst = std::max(worst, std::abs(static_cast<double>(gf[k]) - g[k]));
    CHECK(worst <= 1e-5 * gmax);
  }
#ifdef RLVR_TEST_EIGEN
  SECTION("eigen_backend on 1 and 2 threads: the serial oracle's numbers, bit for bit") {
    for (int th : {1, 2}) {
      std::vector<double> ge;
      const auto de = run(rlvr::eigen_backend{.threads = th}, obj, d, ge, 0.9);
      CHECK(de.loss == ref.loss);
      CHECK(de.full_kl == ref.full_kl);
      CHECK(ge == g);
    }
  }
#endif
}
