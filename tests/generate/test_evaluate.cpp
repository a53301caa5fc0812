// rlvr::evaluate: Pass@k, pass^k and maj@k are the metrics of generate's own samples, with
// bootstrap intervals around them; the accuracy converges to the closed form; errors name k.
#include <catch2/catch.hpp>

#include <cmath>
#include <string>
#include <vector>

#include <rlvr/evaluate.hpp>
#include <rlvr/policy/tabular.hpp>

using namespace rlvr;

namespace {
constexpr index_t V = 5;
struct first_token_below_two {
  double operator()(std::span<const token_t>, std::span<const token_t> r) const {
    return (!r.empty() && r[0] < 2) ? 1.0 : 0.0;
  }
};
tabular_policy make_policy() {
  tabular_policy p(3, V, 4);
  p.set_logits(0, std::vector<float>{1.0f, 0.0f, 0.0f, 0.0f, 0.0f});
  p.set_logits(1, std::vector<float>{-2.0f, -2.0f, 1.0f, 0.0f, 0.0f});
  p.set_logits(2, std::vector<float>{0.0f, 3.0f, 0.0f, 0.0f, 0.0f});
  return p;
}
} // namespace

TEST_CASE("evaluate: metrics are those of the generated samples, intervals bracket the means", "[evaluate]") {
  const auto pol = make_policy();
  const std::vector<std::vector<token_t>> prompts{{0}, {1}, {2}};
  const index_t n = 8;
  const evaluation_config cfg{.generation = {.sampling = {.temperature = 1.0}, .max_tokens = 2, .eos = V - 1},
                              .bootstrap = {.resamples = 500, .level = 0.9, .seed = 4},
                              .keep_responses = true};
  const evaluation e = evaluate(pol, first_token_below_two{}, prompts, n, {1, 2, 8}, cfg, {.seed = 11});
  const generation g = generate(pol, prompts, n, cfg.generation, {.seed = 11});
  REQUIRE(e.samples.responses == g.responses);
  REQUIRE(e.ks == std::vector<index_t>{1, 2, 8});
  std::vector<problem_counts> counts;
  double correct = 0, len = 0;
  for (index_t p = 0; p < 3; ++p) {
    problem_counts c{};
    std::vector<std::string> answers;
    std::vector<std::uint8_t> ok;
    for (index_t i = 0; i < n; ++i) {
      const auto& r = g.response(p, i);
      const bool good = r[0] < 2;
      c.n += 1;
      c.c += good ? 1 : 0;
      correct += good ? 1 : 0;
      len += static_cast<double>(r.size());
      std::vector<token_t> a = r;
      if (a.back() == V - 1) a.pop_back();
      answers.emplace_back(reinterpret_cast<const char*>(a.data()), a.size() * sizeof(token_t));
      ok.push_back(good ? 1 : 0);
      CHECK(e.rewards[static_cast<std::size_t>(p * n + i)] == (good ? 1.0f : 0.0f));
    }
    CHECK(e.counts[static_cast<std::size_t>(p)].n == c.n);
    CHECK(e.counts[static_cast<std::size_t>(p)].c == c.c);
    counts.push_back(c);
    CHECK(maj_at_k(answers, ok, 2) >= 0.0); // consistent verdicts per answer string
  }
  for (std::size_t q = 0; q < 3; ++q) {
    const index_t k = e.ks[q];
    CHECK(e.pass_at_k[q].mean == Approx(mean_pass_at_k(counts, k)).epsilon(1e-12));
    CHECK(e.pass_hat_k[q].mean == Approx(mean_pass_hat_k(counts, k)).epsilon(1e-12));
    for (const auto* ci : {&e.pass_at_k[q], &e.pass_hat_k[q], &e.maj_at_k[q]}) {
      CHECK(ci->low <= ci->mean + 1e-12);
      CHECK(ci->mean <= ci->high + 1e-12);
      CHECK(ci->level == 0.9);
    }
  }
  CHECK(e.accuracy == Approx(correct / 24.0));
  CHECK(e.mean_length == Approx(len / 24.0));
  CHECK(e.pass_at_k[0].mean == Approx(e.accuracy));
  CHECK(e.mean_entropy > 0.0);
  // maj@1 = pass@1 (a vote of one); reruns are identical
  const evaluation e2 = evaluate(pol, first_token_below_two{}, prompts, n, {1}, cfg, {.seed = 11});
  CHECK(e2.maj_at_k[0].mean == Approx(e2.pass_at_k[0].mean));
  CHECK(e2.pass_at_k[0].low == e.pass_at_k[0].low);
}

TEST_CASE("evaluate: accuracy and maj@k converge to their closed forms", "[evaluate]") {
  // prompt 2: correct iff the first token is 0 or 1; p(1) = e^3/(e^3+4) dominates, so a majority
  // of k votes on one-token answers is correct with probability → 1 as k grows.
  const auto pol = make_policy();
  const std::vector<std::vector<token_t>> prompts{{0}, {2}};
  const index_t n = 4096;
  const evaluation e = evaluate(pol, first_token_below_two{}, prompts, n, {1, 64},
                                {.generation = {.sampling = {.temperature = 1.0}, .max_tokens = 1},
                                 .bootstrap = {.resamples = 200}},
                                {.seed = 5});
  const double p0 = (std::exp(1.0) + 1.0) / (std::exp(1.0) + 4.0), p2 = (1.0 + std::exp(3.0)) / (std::exp(3.0) + 4.0);
  CHECK(e.accuracy == Approx((p0 + p2) / 2).margin(0.02));
  CHECK(e.maj_at_k[1].mean > 0.95); // maj@64: prompt 0's plurality answer (token 0, p = 0.40) wins, and prompt 2's
  const double h0 = [] {
    const double z = std::exp(1.0) + 4.0;
    return -(std::exp(1.0) / z) * std::log(std::exp(1.0) / z) - 4.0 * (1.0 / z) * std::log(1.0 / z);
  }();
  const double h2 = [] {
    const double z = std::exp(3.0) + 4.0;
    return -(std::exp(3.0) / z) * std::log(std::exp(3.0) / z) - 4.0 * (1.0 / z) * std::log(1.0 / z);
  }();
  CHECK(e.mean_entropy == Approx((h0 + h2) / 2).epsilon(1e-6)); // every response has one token
}

TEST_CASE("evaluate: default ks are 1, 2, 4, ..., n and k outside [1, n] is named", "[evaluate]") {
  const auto pol = make_policy();
  const std::vector<std::vector<token_t>> prompts{{0}};
  const evaluation_config cfg{.generation = {.max_tokens = 1}, .bootstrap = {.resamples = 10}};
  const evaluation e = evaluate(pol, first_token_below_two{}, prompts, 6, {}, cfg);
  CHECK(e.ks == std::vector<index_t>{1, 2, 4, 6});
  CHECK_THROWS_WITH(evaluate(pol, first_token_below_two{}, prompts, 6, {7}, cfg), Catch::Contains("k = 7"));
  CHECK_THROWS_WITH(evaluate(pol, first_token_below_two{}, prompts, 6, {0}, cfg), Catch::Contains("k = 0"));
}
