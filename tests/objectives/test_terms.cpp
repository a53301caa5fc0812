// Per-token terms (spec §3, §4): constexpr values, branches, flags, and derivatives against
// central finite differences in double.
#include <catch2/catch.hpp>
#include <cmath>
#include <limits>
#include <rlvr/objectives/row_math.hpp>
#include <rlvr/objectives/terms.hpp>

namespace {
using ti = rlvr::token_input<double>;

// the terms are usable in constant expressions
constexpr ti on_policy{-0.5, -0.5, -0.7, 2.0, 1.3};
static_assert(rlvr::reinforce_surrogate{}(on_policy).loss == 1.0);
static_assert(rlvr::reinforce_surrogate{}(on_policy).dlogp == -2.0);
static_assert(rlvr::ppo_clip{}(on_policy).dlogp == -2.0); // ρ = 1: REINFORCE's gradient
static_assert(rlvr::ppo_clip{}(on_policy).loss == -2.0);
static_assert(rlvr::kl_k3{}(ti{-0.5, -0.5, -0.5, 0, 0}).loss == 0.0);
static_assert(rlvr::entropy_bonus{.coef = 0.5}(on_policy).dentropy == -0.5);
static_assert(rlvr::TokenTerm<rlvr::ppo_clip> && rlvr::Surrogate<rlvr::ppo_clip>);
static_assert(rlvr::Surrogate<rlvr::reinforce_surrogate>);
static_assert(rlvr::Regularizer<rlvr::kl_k1> && rlvr::Regularizer<rlvr::kl_k2> && rlvr::Regularizer<rlvr::kl_k3>);
static_assert(rlvr::Regularizer<rlvr::entropy_bonus>);
static_assert(!rlvr::Surrogate<rlvr::kl_k3> && !rlvr::Regularizer<rlvr::ppo_clip>);
// constexpr exp/log agree with the library's to ~1 ulp
static_assert(rlvr::detail::constexpr_exp(1.0) > 2.718281828459044 && rlvr::detail::constexpr_exp(1.0) < 2.718281828459047);
static_assert(rlvr::detail::constexpr_log(10.0) > 2.302585092994045 && rlvr::detail::constexpr_log(10.0) < 2.302585092994047);

template <class Term> void check_fd(const Term& term, ti in, double tol = 1e-7) {
  const double h = 1e-6;
  ti a = in, b = in;
  a.logp += h;
  b.logp -= h;
  const double fd = (term(a).loss - term(b).loss) / (2 * h);
  CHECK(term(in).dlogp == Approx(fd).margin(tol));
  ti c = in, d = in;
  c.entropy += h;
  d.entropy -= h;
  const double fdh = (term(c).loss - term(d).loss) / (2 * h);
  CHECK(term(in).dentropy == Approx(fdh).margin(tol));
}
} // namespace

TEST_CASE("PPO clip takes the documented branch and flags it", "[objectives][terms]") {
  const rlvr::ppo_clip clip{.eps_low = 0.2, .eps_high = 0.28};
  // A > 0, ρ = e^{0.5} > 1.28: clipped high, loss −A·1.28, no gradient
  auto r = clip(ti{0.0, -0.5, 0, 1.5, 0});
  CHECK(r.loss == Approx(-1.5 * 1.28));
  CHECK(r.dlogp == 0.0);
  CHECK(r.flags == rlvr::clipped_high);
  // A < 0, ρ = e^{-0.5} < 0.8: clipped low
  r = clip(ti{-0.5, 0.0, 0, -2.0, 0});
  CHECK(r.loss == Approx(2.0 * 0.8));
  CHECK(r.dlogp == 0.0);
  CHECK(r.flags == rlvr::clipped_low);
  // A > 0, ρ < 1 − ε: the unclipped branch (pessimistic min of the objective), gradient −Aρ
  r = clip(ti{-0.5, 0.0, 0, 2.0, 0});
  CHECK(r.loss == Approx(-2.0 * std::exp(-0.5)));
  CHECK(r.dlogp == Approx(-2.0 * std::exp(-0.5)));
  CHECK(r.flags == 0);
  // dual clip: A < 0, ρ = e^{2} huge, −Aρ > −cA: the loss is bounded by 3·|A|
  const rlvr::ppo_clip dual{.eps_low = 0.2, .eps_high = 0.2, .dual_clip = 3.0};
  r = dual(ti{2.0, 0.0, 0, -1.0, 0});
  CHECK(r.loss == Approx(3.0));
  CHECK(r.dlogp == 0.0);
  CHECK(r.flags == rlvr::clipped_dual);
  // without dual clip the same token has loss −Aρ
  CHECK(clip(ti{2.0, 0.0, 0, -1.0, 0}).loss == Approx(std::exp(2.0)));
  // log-ratio clamp: log ρ = 50 is clamped at 20; the clamp stops the gradient
  const rlvr::ppo_clip wide{.eps_low = 0.2, .eps_high = 1e12};
  r = wide(ti{50.0, 0.0, 0, 1.0, 0});
  CHECK(r.loss == Approx(-std::exp(20.0)));
  CHECK(r.dlogp == 0.0);
}

TEST_CASE("term derivatives match central finite differences", "[objectives][terms]") {
  const ti points[] = {{-0.3, -0.35, -0.1, 1.2, 0.9}, {-2.0, -1.9, -2.5, -0.7, 2.1}, {-0.05, -0.3, -0.02, 0.4, 0.2},
                       {-1.0, -1.02, -3.0, -1.5, 4.0}};
  for (const ti& p : points) {
    check_fd(rlvr::reinforce_surrogate{}, p);
    check_fd(rlvr::ppo_clip{.eps_low = 0.2, .eps_high = 0.28, .dual_clip = 3.0}, p);
    check_fd(rlvr::kl_k1{.beta = 0.3}, p);
    check_fd(rlvr::kl_k2{.beta = 0.3}, p);
    check_fd(rlvr::kl_k3{.beta = 0.3}, p);
    check_fd(rlvr::entropy_bonus{.coef = 0.01}, p);
  }
}

TEST_CASE("KL estimators have their closed forms", "[objectives][terms]") {
  const ti in{-1.0, -1.0, -1.5, 0, 0}; // Δ = log π_ref − log π = −0.5
  CHECK(rlvr::kl_k1{.beta = 1}(in).loss == Approx(0.5));
  CHECK(rlvr::kl_k2{.beta = 1}(in).loss == Approx(0.125));
  CHECK(rlvr::kl_k3{.beta = 1}(in).loss == Approx(std::exp(-0.5) + 0.5 - 1));
  // k3 ≥ 0 everywhere and clamps at 10
  const auto big = rlvr::kl_k3{.beta = 1, .clamp = 10}(ti{-20.0, 0, 0.0, 0, 0}); // e^{20} − 21
  CHECK(big.loss == 10.0);
  CHECK(big.dlogp == 0.0);
  CHECK(big.flags == rlvr::kl_clamped);
}

TEST_CASE("term configurations are validated", "[objectives][terms]") {
  CHECK_THROWS_WITH(rlvr::ppo_clip{.eps_low = 1.5}.validate(), Catch::Contains("eps_low = 1.5"));
  CHECK_THROWS_AS(rlvr::ppo_clip{.eps_low = -0.1}.validate(), rlvr::config_error);
  CHECK_THROWS_WITH((rlvr::ppo_clip{.eps_low = 0.2, .eps_high = 0.2, .dual_clip = 0.5}.validate()),
                    Catch::Contains("dual_clip = 0.5"));
  CHECK_THROWS_AS(rlvr::kl_k3{.beta = -1}.validate(), rlvr::config_error);
  CHECK_THROWS_AS(rlvr::entropy_bonus{.coef = std::nan("")}.validate(), rlvr::config_error);
  CHECK_NOTHROW(rlvr::ppo_clip{}.validate());
}

TEST_CASE("online log-sum-exp equals the two-pass value and handles -inf, NaN and +inf", "[objectives][row_math]") {
  const double z[] = {2.0, -1.0, 7.5, 0.25, -1e300, 3.0};
  rlvr::lse_state<double> st;
  for (double x : z) rlvr::lse_push(st, x);
  double m = 7.5, s = 0, t = 0;
  for (double x : z) {
    s += std::exp(x - m);
    t += std::exp(x - m) * (x - m);
  }
  const auto r = rlvr::lse_finish<double>(st, 2.0);
  CHECK(r.lse == Approx(m + std::log(s)).epsilon(1e-15));
  CHECK(r.entropy == Approx(std::log(s) - t / s).epsilon(1e-14));
  CHECK(r.logp == Approx(2.0 - m - std::log(s)).epsilon(1e-14));
  // merging split halves gives the same state
  rlvr::lse_state<double> a, b;
  for (int i = 0; i < 3; ++i) rlvr::lse_push(a, z[i]);
  for (int i = 3; i < 6; ++i) rlvr::lse_push(b, z[i]);
  const auto mr = rlvr::lse_finish<double>(rlvr::lse_merge(a, b), 2.0);
  CHECK(mr.lse == Approx(r.lse).epsilon(1e-15));
  CHECK(mr.entropy == Approx(r.entropy).epsilon(1e-14));
  // −inf entries are masked vocabulary; a row of only −inf, a NaN or +inf is bad
  rlvr::lse_state<double> masked;
  rlvr::lse_push(masked, -std::numeric_limits<double>::infinity());
  rlvr::lse_push(masked, 0.0);
  rlvr::lse_push(masked, -std::numeric_limits<double>::infinity());
  const auto mk = rlvr::lse_finish<double>(masked, 0.0);
  CHECK(mk.lse == 0.0);
  CHECK(mk.entropy == 0.0);
  rlvr::lse_state<double> none;
  rlvr::lse_push(none, -std::numeric_limits<double>::infinity());
  CHECK(std::isnan(rlvr::lse_finish<double>(none, 0.0).lse));
  rlvr::lse_state<double> nan;
  rlvr::lse_push(nan, 1.0);
  rlvr::lse_push(nan, std::nan(""));
  CHECK(std::isnan(rlvr::lse_finish<double>(nan, 0.0).lse));
  rlvr::lse_state<double> inf;
  rlvr::lse_push(inf, std::numeric_limits<double>::infinity());
  CHECK(std::isnan(rlvr::lse_finish<double>(inf, 0.0).lse));
}
