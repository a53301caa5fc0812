// rlvr::generate: every token is the sampler's draw at its documented Philox address, the
// trainer's rollouts are generate's output, prompts of different lengths share one batch, the
// token frequencies follow the closed-form softmax, and nothing depends on threads or chunking.
#include <catch2/catch.hpp>

#include <cmath>
#include <vector>

#include <rlvr/backends/serial.hpp>
#include <rlvr/generate.hpp>
#include <rlvr/optim/sgd.hpp>
#include <rlvr/policy/tabular.hpp>
#include <rlvr/trainer/trainer.hpp>

using namespace rlvr;

namespace {
constexpr index_t V = 6;
// A tabular policy (π(·|x) = softmax(θ_x) at every position) whose prompts may carry extra
// tokens after the prompt id: [x, a, b, …] is answered from θ_x, so lengths can differ.
tabular_policy make_policy(index_t prompts = 3, index_t context = 10) {
  tabular_policy p(prompts, V, context);
  p.set_logits(0, std::vector<float>{1.0f, 0.2f, 0.5f, 0.0f, -0.5f, -1.0f});
  p.set_logits(1, std::vector<float>{-1.0f, 2.0f, 0.0f, 0.3f, 0.1f, -0.2f});
  if (prompts > 2) p.set_logits(2, std::vector<float>{0.0f, 0.0f, 3.0f, 0.0f, 0.0f, 0.5f});
  return p;
}
struct first_token_below_two {
  double operator()(std::span<const token_t>, std::span<const token_t> r) const {
    return (!r.empty() && r[0] < 2) ? 1.0 : 0.0;
  }
};
} // namespace

TEST_CASE("generate: token j of row p*n+i is the sampler's draw at (seed, first + p*n + i, j)", "[generate]") {
  const auto pol = make_policy();
  const std::vector<std::vector<token_t>> prompts{{0}, {1, 3, 4}, {2, 0}}; // lengths 1, 3, 2
  const index_t n = 5;
  const generation_config cfg{.sampling = {.temperature = 0.8, .top_p = 0.9}, .max_tokens = 4, .eos = V - 1};
  const stream_batch sb{.seed = 77, .first_subsequence = 1000};
  const generation g = generate(pol, prompts, n, cfg, sb);
  REQUIRE(g.size() == 15);
  index_t tokens = 0;
  for (index_t p = 0; p < 3; ++p) {
    const auto x = prompts[static_cast<std::size_t>(p)][0];
    const auto theta = pol.logits(x);
    for (index_t i = 0; i < n; ++i) {
      const auto& r = g.response(p, i);
      REQUIRE(!r.empty());
      REQUIRE(static_cast<index_t>(r.size()) <= 4);
      const bool ends = r.back() == V - 1;
      CHECK(g.truncated[static_cast<std::size_t>(p * n + i)] == (ends ? 0 : 1));
      if (!ends) CHECK(r.size() == 4u);
      double lp = 0;
      for (std::size_t j = 0; j < r.size(); ++j) {
        const stream_batch one{.seed = 77, .first_subsequence = 1000 + static_cast<std::uint64_t>(p * n + i),
                               .offset = j};
        const auto d = sample(serial_backend{}, matrix_view<const float>(theta.data(), 1, V), cfg.sampling, one);
        CHECK(d[0].token == r[j]);
        if (j + 1 < r.size()) CHECK(r[j] != V - 1);
        lp += d[0].logprob;
      }
      CHECK(g.logprob[static_cast<std::size_t>(p * n + i)] == Approx(lp).epsilon(1e-12));
      tokens += static_cast<index_t>(r.size());
    }
  }
  CHECK(g.tokens() == tokens);
}

TEST_CASE("generate: the same rows whatever the batch split, prompt set and backend threads", "[generate]") {
  const auto pol = make_policy();
  const std::vector<std::vector<token_t>> prompts{{0, 1}, {1}, {2, 2, 2, 2}, {0}};
  const generation_config cfg{.sampling = {.temperature = 1.0}, .max_tokens = 5, .eos = V - 1, .max_batch = 0,
                              .entropy = true};
  const generation all = generate(pol, prompts, 7, cfg, {.seed = 3});
  auto chunked = cfg;
  chunked.max_batch = 7; // one prompt per decode batch
  const generation one = generate(pol, prompts, 7, chunked, {.seed = 3}, serial_backend{.threads = 2});
  CHECK(one.responses == all.responses);
  CHECK(one.entropy == all.entropy);
  // prompt 2 alone, addressed where it sat in the full call (rows 14…20)
  const std::vector<std::vector<token_t>> just2{{2, 2, 2, 2}};
  const generation solo = generate(pol, just2, 7, cfg, {.seed = 3, .first_subsequence = 14});
  for (index_t i = 0; i < 7; ++i) CHECK(solo.response(0, i) == all.response(2, i));
  // token entropy: each response's sum is (tokens) × H(softmax(θ_x)) in closed form
  for (index_t p = 0; p < 4; ++p) {
    const auto probs = pol.probabilities(prompts[static_cast<std::size_t>(p)][0]);
    double h = 0;
    for (double q : probs) h -= q * std::log(q);
    for (index_t i = 0; i < 7; ++i)
      CHECK(all.entropy[static_cast<std::size_t>(p * 7 + i)] ==
            Approx(h * static_cast<double>(all.response(p, i).size())).epsilon(1e-6));
  }
}

TEST_CASE("generate: first-token frequencies follow softmax(theta_x) (chi-square)", "[generate]") {
  const auto pol = make_policy(2);
  const std::vector<std::vector<token_t>> prompts{{1, 0, 0}};
  const index_t n = 20000;
  const generation g = generate(pol, prompts, n, {.sampling = {.temperature = 1.0}, .max_tokens = 1}, {.seed = 9});
  std::vector<double> count(V, 0.0);
  for (const auto& r : g.responses) count[static_cast<std::size_t>(r[0])] += 1;
  const auto p = pol.probabilities(1);
  double chi2 = 0;
  for (index_t v = 0; v < V; ++v) {
    const double e = static_cast<double>(n) * p[static_cast<std::size_t>(v)];
    chi2 += (count[static_cast<std::size_t>(v)] - e) * (count[static_cast<std::size_t>(v)] - e) / e;
  }
  CHECK(chi2 < 20.5); // 5 degrees of freedom: P(χ² > 20.5) ≈ 0.001
  CHECK(g.truncated[0] == 1); // no eos configured: every response stops at max_tokens
}

TEST_CASE("generate reproduces the trainer's rollouts (same streams)", "[generate][trainer]") {
  auto pol = make_policy(2, 4);
  const tabular_policy before = pol;
  sgd opt({.lr = 0.0});
  const trainer_config tc{.group_size = 4, .temperature = 1.0, .max_response_tokens = 3, .eos = V - 1, .pad = 0,
                          .mini_batches = 1, .seed = 21};
  trainer tr(pol, opt, first_token_below_two{}, reinforce(), serial_backend{}, tc);
  const std::vector<std::vector<token_t>> prompts{{0}, {1}};
  tr.step(prompts); // step 0
  tr.step(prompts); // step 1 (lr 0: same weights)
  const auto seqs = tr.last_sequences();
  const auto lens = tr.last_lengths();
  const generation g = generate(before, prompts, 4, {.sampling = {.temperature = 1.0}, .max_tokens = 3, .eos = V - 1},
                                {.seed = 21, .first_subsequence = 1 * 8});
  for (index_t r = 0; r < 8; ++r) {
    const auto& resp = g.responses[static_cast<std::size_t>(r)];
    REQUIRE(static_cast<index_t>(resp.size()) == lens[static_cast<std::size_t>(r)]);
    for (std::size_t j = 0; j < resp.size(); ++j) CHECK(seqs(r, 1 + static_cast<index_t>(j)) == resp[j]);
  }
}

TEST_CASE("generate: greedy decoding and errors that name the bad value", "[generate]") {
  const auto pol = make_policy();
  const std::vector<std::vector<token_t>> prompts{{0}, {1}};
  const generation g = generate(pol, prompts, 2, {.sampling = {.greedy = true}, .max_tokens = 2});
  CHECK(g.response(0, 0) == std::vector<token_t>{0, 0});
  CHECK(g.response(1, 1) == std::vector<token_t>{1, 1});
  CHECK(g.entropy.empty());
  const generation_config ok{.max_tokens = 2};
  CHECK_THROWS_WITH(generate(pol, prompts, 2, generation_config{}), Catch::Contains("max_tokens = 0"));
  CHECK_THROWS_WITH(generate(pol, prompts, 0, ok), Catch::Contains("n = 0"));
  CHECK_THROWS_WITH(generate(pol, std::vector<std::vector<token_t>>{{0}, {}}, 1, ok), Catch::Contains("prompt 1 is empty"));
  CHECK_THROWS_WITH(generate(pol, std::vector<std::vector<token_t>>{{0, 9}}, 1, ok),
                    Catch::Contains("token 9 at position 1"));
  CHECK_THROWS_WITH(generate(pol, std::vector<std::vector<token_t>>{{0, 1, 2, 3, 4, 5, 0, 1, 2}}, 1, ok),
                    Catch::Contains("context_length 10"));
  CHECK_THROWS_WITH(generate(pol, prompts, 1, {.max_tokens = 2, .eos = V}), Catch::Contains("eos = 6"));
  CHECK_THROWS_AS(generate(pol, prompts, 1, {.sampling = {.temperature = 0.0}, .max_tokens = 2}), range_error);
}
