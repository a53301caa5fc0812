// rlvr::sft_loss_and_grad: the loss is the token-mean cross-entropy, its gradient matches
// central finite differences in double, the policy-level call equals the closed form on the
// tabular policy, and sft_batch lays out prompts and responses of different lengths.
#include <catch2/catch.hpp>

#include <cmath>
#include <vector>

#include <rlvr/backends/serial.hpp>
#include <rlvr/policy/tabular.hpp>
#include <rlvr/random/philox.hpp>
#include <rlvr/sft.hpp>

using namespace rlvr;

namespace {
double ce(const std::vector<double>& z, index_t n, index_t v, const std::vector<token_t>& y,
          const std::vector<std::uint8_t>& act, double tau) {
  double s = 0;
  index_t d = 0;
  for (index_t t = 0; t < n; ++t) {
    if (!act[static_cast<std::size_t>(t)]) continue;
    double m = -1e300;
    for (index_t j = 0; j < v; ++j) m = std::max(m, z[static_cast<std::size_t>(t * v + j)] / tau);
    double se = 0;
    for (index_t j = 0; j < v; ++j) se += std::exp(z[static_cast<std::size_t>(t * v + j)] / tau - m);
    s -= z[static_cast<std::size_t>(t * v + y[static_cast<std::size_t>(t)])] / tau - m - std::log(se);
    ++d;
  }
  return s / static_cast<double>(d);
}
} // namespace

TEST_CASE("sft_loss_and_grad: cross-entropy value and finite-difference gradient in double", "[sft]") {
  const index_t n = 7, v = 5;
  philox_engine g(3, 0);
  std::vector<double> z(static_cast<std::size_t>(n * v));
  for (auto& x : z) x = 4.0 * (g.uniform() - 0.5);
  std::vector<token_t> y{0, 4, 2, 2, 1, 3, 0};
  std::vector<std::uint8_t> act{1, 1, 0, 1, 1, 0, 1};
  for (double tau : {1.0, 0.7}) {
    INFO("tau " << tau);
    std::vector<double> grad(z.size(), 99.0);
    const sft_result r = sft_loss_and_grad(serial_backend{}, matrix_view<const double>(z.data(), n, v),
                                           vector_view<const token_t>(y), vector_view<const std::uint8_t>(act),
                                           matrix_view<double>(grad.data(), n, v), {.temperature = tau});
    CHECK(r.tokens == 5);
    CHECK(r.loss == Approx(ce(z, n, v, y, act, tau)).epsilon(1e-12));
    const double h = 1e-6;
    for (std::size_t i = 0; i < z.size(); ++i) {
      auto zp = z, zm = z;
      zp[i] += h;
      zm[i] -= h;
      const double fd = (ce(zp, n, v, y, act, tau) - ce(zm, n, v, y, act, tau)) / (2 * h);
      CHECK(grad[i] == Approx(fd).margin(1e-8));
    }
  }
  // global_tokens replaces the denominator
  std::vector<double> grad(z.size());
  const sft_result r2 = sft_loss_and_grad(serial_backend{}, matrix_view<const double>(z.data(), n, v),
                                          vector_view<const token_t>(y), vector_view<const std::uint8_t>(act),
                                          matrix_view<double>(grad.data(), n, v), {.global_tokens = 10});
  CHECK(r2.loss == Approx(ce(z, n, v, y, act, 1.0) * 5.0 / 10.0).epsilon(1e-12));
}

TEST_CASE("sft_loss_and_grad on a policy: the closed-form tabular gradient", "[sft]") {
  // tabular: every row of sequence b is theta_{x_b}; dL/dtheta_x = (1/D) sum over target rows of (p_x - e_y)
  const index_t V = 4;
  tabular_policy pol(2, V, 5);
  pol.set_logits(0, std::vector<float>{0.5f, -0.2f, 0.1f, 0.0f});
  pol.set_logits(1, std::vector<float>{-1.0f, 1.0f, 0.3f, 0.2f});
  sft_batch batch(3, 5, /*pad=*/0);
  batch.add(std::vector<token_t>{0}, std::vector<token_t>{1, 3});       // targets 1, 3 from theta_0
  batch.add(std::vector<token_t>{1, 2}, std::vector<token_t>{0});       // target 0 from theta_1
  batch.add(std::vector<token_t>{0, 0, 1}, std::vector<token_t>{2, 2}); // targets 2, 2 from theta_0
  REQUIRE(batch.size() == 3);
  const token_batch tb = batch.view();
  CHECK(tb.mask(0, 0) == 1);
  CHECK(tb.mask(0, 1) == 1);
  CHECK(tb.mask(0, 2) == 0);
  CHECK(tb.mask(1, 1) == 1);
  CHECK(tb.mask(2, 2) == 1);
  CHECK(tb.mask(2, 3) == 1);
  CHECK(tb.tokens(2, 4) == 2);
  pol.zero_grad();
  const sft_result r = sft_loss_and_grad(pol, tb);
  CHECK(r.tokens == 5);
  const auto p0 = pol.probabilities(0), p1 = pol.probabilities(1);
  double loss = -(std::log(p0[1]) + std::log(p0[3]) + std::log(p1[0]) + 2 * std::log(p0[2])) / 5.0;
  CHECK(r.loss == Approx(loss).epsilon(1e-6));
  const auto grad = pol.parameters()[0].grad;
  const std::vector<std::vector<token_t>> targets{{1, 3, 2, 2}, {0}};
  for (index_t x = 0; x < 2; ++x) {
    const auto& p = x == 0 ? p0 : p1;
    for (index_t v = 0; v < V; ++v) {
      double g = 0;
      for (token_t y : targets[static_cast<std::size_t>(x)]) g += p[static_cast<std::size_t>(v)] - (v == y ? 1.0 : 0.0);
      CHECK(grad[static_cast<std::size_t>(x * V + v)] == Approx(g / 5.0).margin(1e-6));
    }
  }
}

TEST_CASE("sft: errors name the bad input", "[sft]") {
  tabular_policy pol(2, 4, 4);
  sft_batch batch(1, 4);
  CHECK_THROWS_WITH(batch.add(std::vector<token_t>{0, 1}, std::vector<token_t>{1, 2, 3}),
                    Catch::Contains("has 5 tokens but the batch length is 4"));
  CHECK_THROWS_WITH(batch.add(std::vector<token_t>{}, std::vector<token_t>{1}), Catch::Contains("0-token prompt"));
  batch.add(std::vector<token_t>{0}, std::vector<token_t>{1});
  CHECK_THROWS_WITH(batch.add(std::vector<token_t>{0}, std::vector<token_t>{1}), Catch::Contains("full"));
  const std::vector<token_t> toks{0, 1, 2, 3};
  const std::vector<mask_t> last{0, 0, 0, 1};
  CHECK_THROWS_WITH(sft_loss_and_grad(pol, token_batch{{toks.data(), 1, 4}, {last.data(), 1, 4}}),
                    Catch::Contains("mask(0, 3) is set on the last position"));
  CHECK_THROWS_WITH(sft_loss_and_grad(pol, token_batch{{toks.data(), 1, 4}, {}}), Catch::Contains("needs a [1, 4] mask"));
  const std::vector<mask_t> none{0, 0, 0, 0};
  CHECK_THROWS_WITH(sft_loss_and_grad(pol, token_batch{{toks.data(), 1, 4}, {none.data(), 1, 4}}),
                    Catch::Contains("no row is selected"));
}
