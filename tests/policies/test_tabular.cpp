// The tabular softmax policy: interface behaviour and the closed-form gradient analysis of
// rlvr-math §6 (Zhu et al. 2025, §3–4) — NSR hands the freed mass to the other tokens in
// proportion to their probability; PSR sharpens; a confident token gets a vanishing NSR update.
#include <rlvr/optim/sgd.hpp>
#include <rlvr/policy/reference.hpp>
#include <rlvr/policy/tabular.hpp>

#include <catch2/catch.hpp>

#include <cmath>
#include <numeric>
#include <vector>

namespace {
using Catch::Matchers::WithinAbs;
using Catch::Matchers::WithinRel;
using rlvr::index_t;
using rlvr::token_t;

static_assert(rlvr::ReferencePolicy<rlvr::frozen_reference<rlvr::tabular_policy>>);

// ∂ℓ/∂z for ℓ = −A·log π_y: A·(p − e_y)   (rlvr-math §6)
std::vector<float> log_form_grad(const std::vector<double>& p, index_t y, double A) {
  std::vector<float> g(p.size());
  for (std::size_t v = 0; v < p.size(); ++v)
    g[v] = static_cast<float>(A * (p[v] - (static_cast<index_t>(v) == y ? 1.0 : 0.0)));
  return g;
}

// One SGD step of size eta on the one-token loss −A·log π_y for prompt 0, through the policy's
// forward/backward and the optimizer (the path the trainer takes).
void sgd_step(rlvr::tabular_policy& pol, token_t y, double A, double eta) {
  const token_t toks[2] = {0, y};
  const rlvr::mask_t mask[2] = {1, 0};
  rlvr::token_batch batch{{toks, 1, 2}, {mask, 1, 2}};
  std::vector<float> logits(static_cast<std::size_t>(2 * pol.vocab_size()));
  pol.forward(batch, {logits.data(), 2, pol.vocab_size()});
  std::vector<float> d(logits.size(), 0.0f);
  auto g = log_form_grad(pol.probabilities(0), y, A);
  std::copy(g.begin(), g.end(), d.begin()); // row 0 predicts token 1; row 1 is masked out
  pol.zero_grad();
  pol.backward({d.data(), 2, pol.vocab_size()});
  rlvr::sgd opt({.lr = eta});
  opt.step(pol.parameters());
}

double entropy(const std::vector<double>& p) {
  double h = 0;
  for (double q : p)
    if (q > 0) h -= q * std::log(q);
  return h;
}
} // namespace

TEST_CASE("tabular: forward rows are the prompt's logits; decode agrees", "[policies][tabular]") {
  rlvr::tabular_policy pol(3, 4, 4);
  pol.set_logits(1, std::vector<float>{0.5f, -1.0f, 2.0f, 0.0f});
  pol.set_logits(2, std::vector<float>{1.0f, 1.0f, 1.0f, 3.0f});
  const token_t toks[6] = {1, 3, 0, 2, 2, 1};
  std::vector<float> logits(6 * 4);
  pol.forward({{toks, 2, 3}, {}}, {logits.data(), 6, 4});
  for (int t = 0; t < 3; ++t) {
    CHECK(logits[static_cast<std::size_t>(t * 4 + 2)] == 2.0f);
    CHECK(logits[static_cast<std::size_t>((3 + t) * 4 + 3)] == 3.0f);
  }
  auto cache = pol.make_cache(2);
  std::vector<float> step(2 * 4);
  for (int t = 0; t < 3; ++t) {
    const token_t col[2] = {toks[t], toks[3 + t]};
    pol.decode(cache, {col, 2}, {step.data(), 2, 4});
    for (int b = 0; b < 2; ++b)
      for (int v = 0; v < 4; ++v)
        CHECK(step[static_cast<std::size_t>(b * 4 + v)] == logits[static_cast<std::size_t>((b * 3 + t) * 4 + v)]);
  }
  const token_t more[2] = {0, 0};
  pol.decode(cache, {more, 2}, {step.data(), 2, 4});                         // 4th token: fits
  CHECK_THROWS_AS(pol.decode(cache, {more, 2}, {step.data(), 2, 4}), rlvr::range_error); // 5th: too long
}

TEST_CASE("tabular: the spec's test vector through backward", "[policies][tabular]") {
  // z = [2, 1, 0], y = 0: ∂ℓ/∂z = [−0.33475904, 0.24472847, 0.09003057] for A = +1.
  rlvr::tabular_policy pol(1, 3);
  pol.set_logits(0, std::vector<float>{2, 1, 0});
  const auto p = pol.probabilities(0);
  CHECK_THAT(p[0], WithinRel(0.6652409557748218, 1e-7));
  CHECK_THAT(p[1], WithinRel(0.24472847105479764, 1e-7));
  sgd_step(pol, 0, +1.0, 0.0); // lr 0: only the gradient
  const auto g = pol.grad(0);
  CHECK_THAT(g[0], WithinRel(-0.3347590442251782f, 1e-6f));
  CHECK_THAT(g[1], WithinRel(0.24472847105479764f, 1e-6f));
  CHECK_THAT(g[2], WithinRel(0.09003057317038046f, 1e-6f));
}

TEST_CASE("tabular: an NSR step raises the other logits by eta * p_v", "[policies][tabular][nsr]") {
  rlvr::tabular_policy pol(1, 5);
  const std::vector<float> z0{1.5f, 0.2f, -0.7f, 0.9f, 0.0f};
  pol.set_logits(0, z0);
  const auto p = pol.probabilities(0);
  const double eta = 0.25;
  const token_t y = 3; // an incorrect sample
  sgd_step(pol, y, -1.0, eta);
  const auto z1 = pol.logits(0);
  for (index_t v = 0; v < 5; ++v) {
    const double dz = double(z1[static_cast<std::size_t>(v)]) - double(z0[static_cast<std::size_t>(v)]);
    if (v == y) CHECK_THAT(dz, WithinAbs(-eta * (1 - p[static_cast<std::size_t>(y)]), 1e-6));
    else CHECK_THAT(dz, WithinAbs(eta * p[static_cast<std::size_t>(v)], 1e-6));
  }
  // the total logit change is zero: Σ_v Δz_v = η(Σ_{v≠y} p_v − (1 − p_y)) = 0
  double total = 0;
  for (index_t v = 0; v < 5; ++v) total += double(z1[static_cast<std::size_t>(v)]) - double(z0[static_cast<std::size_t>(v)]);
  CHECK_THAT(total, WithinAbs(0.0, 1e-6));
}

TEST_CASE("tabular: NSR's first-order change of log p_v is eta (p_v + p_y - sum p^2)", "[policies][tabular][nsr]") {
  const std::vector<float> z0{1.0f, 0.3f, -0.4f, 0.8f};
  const token_t y = 0;
  double prev_err = 0;
  for (double eta : {4e-2, 2e-2, 1e-2}) {
    rlvr::tabular_policy pol(1, 4);
    pol.set_logits(0, z0);
    const auto p = pol.probabilities(0);
    const double sum_sq = std::inner_product(p.begin(), p.end(), p.begin(), 0.0);
    sgd_step(pol, y, -1.0, eta);
    const auto q = pol.probabilities(0);
    double err = 0;
    for (std::size_t v = 1; v < 4; ++v) {
      const double predicted = eta * (p[v] + p[0] - sum_sq);
      const double actual = std::log(q[v]) - std::log(p[v]);
      CHECK(actual > 0); // every other token gains
      err = std::max(err, std::abs(actual - predicted));
    }
    CHECK(err < 0.5 * eta * eta); // second order
    if (prev_err > 0) CHECK(err < 0.3 * prev_err); // halving η divides the error by ~4
    prev_err = err;
    // the sampled token loses probability
    CHECK(q[0] < p[0]);
  }
}

TEST_CASE("tabular: the NSR update on a confident token vanishes as p_y -> 1", "[policies][tabular][nsr]") {
  double last = 1.0;
  for (float margin : {2.0f, 5.0f, 10.0f}) {
    rlvr::tabular_policy pol(1, 3);
    pol.set_logits(0, std::vector<float>{margin, 0.0f, 0.0f});
    const auto p = pol.probabilities(0);
    sgd_step(pol, 0, -1.0, 1.0);
    const double dz = margin - double(pol.logits(0)[0]);
    CHECK_THAT(dz, WithinAbs(1.0 - p[0], 4e-6)); // float logits near 10: ulp 1e-6
    CHECK(dz < last);
    last = dz;
  }
  CHECK(last < 1e-4);
}

TEST_CASE("tabular: PSR sharpens (entropy falls), NSR on the mode flattens", "[policies][tabular]") {
  const std::vector<float> z0{1.2f, 0.4f, 0.1f, -0.5f};
  rlvr::tabular_policy psr(1, 4), nsr(1, 4);
  psr.set_logits(0, z0);
  nsr.set_logits(0, z0);
  const double h0 = entropy(psr.probabilities(0));
  for (int i = 0; i < 10; ++i) {
    sgd_step(psr, 0, +1.0, 0.1);
    sgd_step(nsr, 0, -1.0, 0.1);
  }
  CHECK(entropy(psr.probabilities(0)) < h0);
  CHECK(entropy(nsr.probabilities(0)) > h0);
  // NSR keeps the prior's order among the other tokens (mass goes to them ∝ p_v)
  const auto q = nsr.probabilities(0);
  CHECK(q[1] > q[2]);
  CHECK(q[2] > q[3]);
}

TEST_CASE("tabular: the probability form's gradient is the log form times pi_y", "[policies][tabular]") {
  // L = −R·π_y: ∂L/∂z = −R·π_y(e_y − π) (rlvr-math §6 test vector for R = +1, z = [2, 1, 0], y = 0)
  rlvr::tabular_policy pol(1, 3);
  pol.set_logits(0, std::vector<float>{2, 1, 0});
  const auto p = pol.probabilities(0);
  auto g = log_form_grad(p, 0, 1.0);
  for (float& x : g) x *= static_cast<float>(p[0]);
  CHECK_THAT(g[0], WithinRel(-0.2226954265346234f, 1e-6f));
  CHECK_THAT(g[1], WithinRel(0.1628034019898044f, 1e-6f));
  CHECK_THAT(g[2], WithinRel(0.05989202454481893f, 1e-6f));
}

TEST_CASE("tabular: backward sums wanted rows of every sequence into its prompt", "[policies][tabular]") {
  rlvr::tabular_policy pol(2, 2, 3);
  const token_t toks[6] = {1, 0, 1, 1, 1, 0};
  std::vector<float> logits(12), d(12);
  pol.forward({{toks, 2, 3}, {}}, {logits.data(), 6, 2});
  for (std::size_t i = 0; i < 12; ++i) d[i] = static_cast<float>(i);
  pol.backward({d.data(), 6, 2});
  pol.backward({d.data(), 6, 2}); // accumulates
  CHECK(pol.grad(1)[0] == 2 * (0 + 2 + 4 + 6 + 8 + 10));
  CHECK(pol.grad(1)[1] == 2 * (1 + 3 + 5 + 7 + 9 + 11));
  CHECK(pol.grad(0)[0] == 0);
  pol.zero_grad();
  CHECK(pol.grad(1)[0] == 0);
}

TEST_CASE("tabular: a frozen reference keeps the old log-probs", "[policies][tabular][reference]") {
  rlvr::tabular_policy pol(1, 3, 3);
  pol.set_logits(0, std::vector<float>{2, 1, 0});
  rlvr::frozen_reference ref(pol);
  pol.set_logits(0, std::vector<float>{0, 0, 0}); // the policy moves on
  const token_t toks[3] = {0, 1, 2};
  const rlvr::mask_t mask[3] = {1, 1, 0};
  float out[3] = {9, 9, 9};
  ref.reference_log_probs({{toks, 1, 3}, {mask, 1, 3}}, {out, 1, 3});
  CHECK_THAT(out[0], WithinRel(static_cast<float>(std::log(0.24472847105479764)), 1e-6f));
  CHECK_THAT(out[1], WithinRel(static_cast<float>(std::log(0.09003057317038046)), 1e-6f));
  CHECK(out[2] == 0.0f);
}

TEST_CASE("tabular: bad input names the value", "[policies][tabular]") {
  rlvr::tabular_policy pol(2, 3, 2);
  std::vector<float> logits(6);
  const token_t bad_prompt[2] = {2, 0};
  CHECK_THROWS_WITH(pol.forward({{bad_prompt, 1, 2}, {}}, {logits.data(), 2, 3}), Catch::Contains("prompt id 2"));
  const token_t bad_token[2] = {0, 3};
  CHECK_THROWS_AS(pol.forward({{bad_token, 1, 2}, {}}, {logits.data(), 2, 3}), rlvr::range_error);
  const token_t ok[2] = {0, 1};
  CHECK_THROWS_AS(pol.forward({{ok, 1, 2}, {}}, {logits.data(), 1, 3}), rlvr::shape_error);
  const token_t too_long[3] = {0, 1, 1};
  CHECK_THROWS_AS(pol.forward({{too_long, 1, 3}, {}}, {logits.data(), 2, 3}), rlvr::shape_error);
  CHECK_THROWS_AS(rlvr::tabular_policy(0, 3), rlvr::config_error);
  rlvr::tabular_policy fresh(1, 2);
  float d[4] = {};
  CHECK_THROWS_AS(fresh.backward({d, 2, 2}), rlvr::config_error);
}

TEST_CASE("tabular: copies own their parameters", "[policies][tabular]") {
  rlvr::tabular_policy a(1, 2);
  a.set_logits(0, std::vector<float>{1, 2});
  rlvr::tabular_policy b = a;
  b.parameters()[0].value[0] = 7.0f;
  CHECK(a.logits(0)[0] == 1.0f);
  CHECK(b.logits(0)[0] == 7.0f);
  CHECK(b.parameters()[0].value.data() != a.parameters()[0].value.data());
}
