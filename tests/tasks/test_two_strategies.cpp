// The example study task two_strategies (examples/study_tasks/two_strategies.hpp): the exact
// verifier on hand-written cases, pretraining data that verifies as labelled, the strategy and
// shortcut shares, the split bands, determinism and config errors.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <map>
#include <vector>

#include <rlvr/random/philox.hpp>

#include "two_strategies.hpp"

using namespace rlvr;
using namespace rlvr::tasks;
using study_tasks::strategy;
using study_tasks::two_strategies;
using study_tasks::two_strategies_config;
using seq = std::vector<token_t>;

static_assert(Task<two_strategies> && TaskWith<two_strategies, philox_engine>);

namespace {
// |count − n·q| within 5 binomial standard deviations.
bool within_5_sigma(double count, double n, double q) {
  return std::abs(count - n * q) <= 5.0 * std::sqrt(n * q * (1.0 - q)) + 1e-9;
}
int middle_sum(const two_strategies& t, const seq& prompt) {
  int s = 0;
  for (std::size_t i = 2; i + 2 < prompt.size(); ++i) s += prompt[i];
  return s % t.modulus();
}
} // namespace

TEST_CASE("two_strategies: vocabulary, lengths and describe()", "[tasks]") {
  const two_strategies t;
  const auto& v = t.vocab();
  CHECK(t.name() == "two_strategies");
  CHECK(v.size() == 13 + 2 + 4);
  CHECK(v.word(0) == "0");
  CHECK(v.word(12) == "12");
  CHECK(v.id("H") == t.heuristic_token());
  CHECK(v.id("G") == t.general_token());
  CHECK(t.max_prompt_length() == 8);   // <bos> + 6 numbers + <sep>
  CHECK(t.max_response_length() == 7); // G + 5 running sums + <eos>
  CHECK(t.describe() == "p13 m3-4 eval5-6 pre6 h0.8 s0.5");
  const two_strategies u({.modulus = 7, .min_terms = 4, .max_terms = 4, .eval_min_terms = 6, .eval_max_terms = 8,
                          .pretrain_max_terms = 4, .heuristic_share = 0.25, .shortcut_share = 0.125, .check_steps = true});
  CHECK(u.describe() == "p7 m4-4 eval6-8 pre4 h0.25 s0.125 steps");
  CHECK(u.max_prompt_length() == 10);
  CHECK(u.max_response_length() == 9);
}

TEST_CASE("two_strategies verifier: the worked example of the header", "[tasks]") {
  const two_strategies t; // p = 13
  const token_t H = t.heuristic_token(), G = t.general_token(), eos = t.vocab().eos();
  const seq shortcut = t.prompt_of({5, 9, 4, 7}); // middle 9 + 4 ≡ 0, sum 25 ≡ 12
  const seq other = t.prompt_of({5, 9, 3, 7});    // middle 12, sum 24 ≡ 11
  CHECK(t.vocab().decode(shortcut) == "<bos> 5 9 4 7 <sep>");
  CHECK(t.is_shortcut(shortcut));
  CHECK_FALSE(t.is_shortcut(other));
  CHECK(t.terms(shortcut) == 4);

  CHECK(t.score(shortcut, seq{H, 12, eos}) == 1.0f);       // right H
  CHECK(t.score(shortcut, seq{G, 1, 5, 12, eos}) == 1.0f); // right G
  CHECK(t.score(other, seq{H, 12, eos}) == 0.0f);          // H on a non-shortcut problem
  CHECK(t.score(other, seq{G, 1, 4, 11, eos}) == 1.0f);    // right G
  CHECK(t.score(other, seq{G, 1, 5, 12, eos}) == 0.0f);    // slip 1 + 3 → 5, carried on
  CHECK(t.score(other, seq{H, 11, eos}) == 1.0f);          // H with the true sum: the label is not checked
  CHECK(t.score(other, seq{G, 0, 0, 11, eos}) == 1.0f);    // wrong steps, right final: steps not checked
  CHECK(t.heuristic_response(std::vector<int>{5, 9, 3, 7}) == seq{H, 12, eos});
  CHECK(t.general_response(std::vector<int>{5, 9, 3, 7}) == seq{G, 1, 4, 11, eos});
  CHECK(t.strategy_of(seq{H, 12, eos}) == strategy::heuristic);
  CHECK(t.strategy_of(seq{G, 1, eos}) == strategy::general);
  CHECK(t.strategy_of(seq{3, eos}) == strategy::none);
  CHECK(t.strategy_of(seq{}) == strategy::none);

  // modular wrap and the shortest problems (m = 3: the middle is x_2 alone)
  CHECK(t.score(t.prompt_of({12, 0, 12}), seq{H, 11, eos}) == 1.0f);
  CHECK(t.score(t.prompt_of({12, 0, 12}), seq{G, 12, 11, eos}) == 1.0f);
  CHECK(t.score(t.prompt_of({12, 1, 12}), seq{H, 11, eos}) == 0.0f);
  CHECK(t.score(t.prompt_of({12, 1, 12}), seq{G, 0, 12, eos}) == 1.0f);
}

TEST_CASE("two_strategies verifier: malformed responses and prompts score 0 without throwing", "[tasks]") {
  const two_strategies t;
  const token_t H = t.heuristic_token(), G = t.general_token();
  const auto& v = t.vocab();
  const token_t eos = v.eos();
  const seq pr = t.prompt_of({5, 9, 3, 7}); // sum 11
  CHECK(t.score(pr, seq{}) == 0.0f);                        // empty
  CHECK(t.score(pr, seq{eos}) == 0.0f);                     // no strategy
  CHECK(t.score(pr, seq{11, eos}) == 0.0f);                 // bare answer
  CHECK(t.score(pr, seq{H, 11}) == 0.0f);                   // no <eos>
  CHECK(t.score(pr, seq{G, 1, 4, 11}) == 0.0f);             // no <eos>
  CHECK(t.score(pr, seq{H, eos}) == 0.0f);                  // H without a number
  CHECK(t.score(pr, seq{H, 4, 11, eos}) == 0.0f);           // H with two numbers
  CHECK(t.score(pr, seq{G, 4, 11, eos}) == 0.0f);           // G one step short
  CHECK(t.score(pr, seq{G, 1, 4, 0, 11, eos}) == 0.0f);     // G one step long
  CHECK(t.score(pr, seq{G, 11, eos}) == 0.0f);
  CHECK(t.score(pr, seq{G, 1, 4, 24, eos}) == 0.0f);        // out-of-range number (24 ≡ 11)
  CHECK(t.score(pr, seq{G, 1, -2, 11, eos}) == 0.0f);       // negative id
  CHECK(t.score(pr, seq{G, 1, 100000, 11, eos}) == 0.0f);   // id past the vocabulary
  CHECK(t.score(pr, seq{G, 1, v.pad(), 11, eos}) == 0.0f);  // pad
  CHECK(t.score(pr, seq{G, 1, v.bos(), 11, eos}) == 0.0f);  // bos inside
  CHECK(t.score(pr, seq{G, 1, v.sep(), 11, eos}) == 0.0f);  // sep inside
  CHECK(t.score(pr, seq{G, 1, H, 11, eos}) == 0.0f);        // a strategy word as a number
  CHECK(t.score(pr, seq{H, G, 11, eos}) == 0.0f);
  CHECK(t.score(pr, seq{v.pad(), H, 11, eos}) == 0.0f);
  CHECK(t.score(pr, seq{H, 11, eos, -7, 99999}) == 1.0f);   // after <eos> nothing counts
  // the length limit: G on the longest held-out problem just fits
  const seq longest = t.prompt_of({1, 1, 1, 1, 1, 1});
  const seq chain{G, 2, 3, 4, 5, 6, eos};
  REQUIRE(static_cast<index_t>(chain.size()) == t.max_response_length());
  CHECK(t.score(longest, chain) == 1.0f);
  // prompts: wrong layout, bad numbers, m outside [min_terms, eval_max_terms]
  const seq right{H, 11, eos};
  CHECK(t.score(seq{}, right) == 0.0f);
  CHECK(t.score(seq{v.bos(), 5, 9, 3, 7}, right) == 0.0f);             // no <sep>
  CHECK(t.score(seq{5, 9, 3, 7, v.sep()}, right) == 0.0f);             // no <bos>
  CHECK(t.score(seq{v.bos(), 5, 9, 3, 13, v.sep()}, right) == 0.0f);   // 13 is not a number mod 13
  CHECK(t.score(seq{v.bos(), 5, -1, 3, 7, v.sep()}, right) == 0.0f);
  CHECK(t.score(seq{v.bos(), 5, 6, v.sep()}, seq{H, 11, eos}) == 0.0f); // m = 2
  CHECK(t.score(seq{v.bos(), 1, 1, 1, 1, 1, 1, 1, v.sep()}, seq{H, 7, eos}) == 0.0f); // m = 7
  CHECK_FALSE(t.is_shortcut(seq{v.bos(), 5, 0, 7}));
  CHECK(t.terms(seq{v.bos(), 5, v.sep()}) == 0);
  CHECK_THROWS_AS(t.prompt_of({5, 13, 7}), range_error);
}

TEST_CASE("two_strategies verifier: check_steps also verifies the running sums", "[tasks]") {
  const two_strategies t({.check_steps = true});
  const token_t H = t.heuristic_token(), G = t.general_token(), eos = t.vocab().eos();
  const seq pr = t.prompt_of({5, 9, 3, 7});
  CHECK(t.score(pr, seq{G, 1, 4, 11, eos}) == 1.0f);
  CHECK(t.score(pr, seq{G, 0, 0, 11, eos}) == 0.0f); // compensating slips now fail
  CHECK(t.score(pr, seq{G, 1, 5, 11, eos}) == 0.0f);
  CHECK(t.score(pr, seq{H, 11, eos}) == 1.0f);       // H has no steps to check
}

TEST_CASE("two_strategies pretraining data: correct examples verify, wrong ones fail", "[tasks]") {
  const two_strategies t;
  philox_engine g(42);
  const int draws = 20000;
  double h = 0, shortcut_g = 0, g_total = 0;
  std::map<int, int> terms;
  for (int i = 0; i < draws; ++i) {
    const bool correct = (i % 2) == 0;
    const example ex = t.pretraining_example(g, correct);
    const int m = t.terms(ex.prompt);
    REQUIRE(m >= 3);
    REQUIRE(m <= t.config().pretrain_max_terms);
    ++terms[m];
    REQUIRE(ex.response.back() == t.vocab().eos());
    REQUIRE(t.score(ex.prompt, ex.response) == (correct ? 1.0f : 0.0f));
    const strategy st = t.strategy_of(ex.response);
    REQUIRE(st != strategy::none);
    if (st == strategy::heuristic) {
      ++h;
      // H is always "add the ends": right iff the problem is a shortcut one
      REQUIRE(ex.response.size() == 3);
      REQUIRE(ex.response[1] == (ex.prompt[1] + ex.prompt[ex.prompt.size() - 2]) % 13);
      REQUIRE(t.is_shortcut(ex.prompt) == correct);
      REQUIRE((middle_sum(t, ex.prompt) == 0) == correct);
    } else {
      ++g_total;
      shortcut_g += t.is_shortcut(ex.prompt) ? 1 : 0;
      REQUIRE(ex.response.size() == static_cast<std::size_t>(m + 1));
      // a wrong chain has exactly one slip: the differences to the true running sums are
      // 0 … 0 then a constant ±1 to the end
      const seq truth = t.general_response(std::vector<int>(ex.prompt.begin() + 1, ex.prompt.end() - 1));
      int changes = 0;
      int prev = 0;
      for (std::size_t k = 1; k + 1 < ex.response.size(); ++k) {
        const int d = ((ex.response[k] - truth[k]) % 13 + 13) % 13;
        REQUIRE((d == 0 || d == 1 || d == 12));
        changes += d != prev ? 1 : 0;
        prev = d;
      }
      REQUIRE(changes == (correct ? 0 : 1));
    }
  }
  CHECK(within_5_sigma(h, draws, 0.8));
  CHECK(within_5_sigma(shortcut_g, g_total, 0.5));
  REQUIRE(terms.size() == 4); // m = 3, 4, 5, 6, each about a quarter
  for (const auto& [m, n] : terms) CHECK(within_5_sigma(n, draws, 0.25));

  // pretraining in the training band only (pretrain_max_terms = max_terms)
  const two_strategies narrow({.pretrain_max_terms = 4});
  for (int i = 0; i < 2000; ++i) {
    const example ex = narrow.pretraining_example(g, (i % 3) != 0);
    REQUIRE(narrow.terms(ex.prompt) >= 3);
    REQUIRE(narrow.terms(ex.prompt) <= 4);
  }
}

TEST_CASE("two_strategies problems: bands per split, shortcut share", "[tasks]") {
  const two_strategies t;
  philox_engine g(5);
  const int draws = 20000;
  for (split s : {split::train, split::eval}) {
    std::map<int, int> terms;
    double shortcuts = 0;
    for (int i = 0; i < draws; ++i) {
      const seq p = t.problem(g, s);
      REQUIRE(static_cast<index_t>(p.size()) <= t.max_prompt_length());
      const int m = t.terms(p);
      ++terms[m];
      shortcuts += t.is_shortcut(p) ? 1 : 0;
      // the heuristic's answer is right exactly on the shortcut problems
      const std::vector<int> xs(p.begin() + 1, p.end() - 1);
      REQUIRE((t.score(p, t.heuristic_response(xs)) == 1.0f) == t.is_shortcut(p));
      REQUIRE(t.score(p, t.general_response(xs)) == 1.0f);
    }
    const int lo = s == split::train ? 3 : 5;
    REQUIRE(terms.size() == 2); // train m ∈ {3, 4}, eval m ∈ {5, 6}: disjoint
    CHECK(terms.begin()->first == lo);
    CHECK(terms.rbegin()->first == lo + 1);
    for (const auto& [m, n] : terms) CHECK(within_5_sigma(n, draws, 0.5));
    CHECK(within_5_sigma(shortcuts, draws, 0.5));
  }
  // other shares: none, all, a fifth
  for (double q : {0.0, 1.0, 0.2}) {
    const two_strategies u({.shortcut_share = q});
    double shortcuts = 0;
    for (int i = 0; i < 5000; ++i) shortcuts += u.is_shortcut(u.problem(g, split::train)) ? 1 : 0;
    if (q == 0.0 || q == 1.0)
      CHECK(shortcuts == 5000 * q);
    else
      CHECK(within_5_sigma(shortcuts, 5000, q));
  }
}

TEST_CASE("two_strategies generation is a pure function of the engine's seed", "[tasks]") {
  const two_strategies t;
  philox_engine a(9, 3), b(9, 3), c(10, 3);
  seq ra, rb, rc;
  for (int i = 0; i < 50; ++i) {
    for (split s : {split::train, split::eval}) {
      for (auto x : t.problem(a, s)) ra.push_back(x);
      for (auto x : t.problem(b, s)) rb.push_back(x);
      for (auto x : t.problem(c, s)) rc.push_back(x);
    }
    for (auto x : t.pretraining_example(a, i % 2 == 0).response) ra.push_back(x);
    for (auto x : t.pretraining_example(b, i % 2 == 0).response) rb.push_back(x);
    for (auto x : t.pretraining_example(c, i % 2 == 0).response) rc.push_back(x);
  }
  CHECK(ra == rb);
  CHECK(ra != rc);
  // pinned: the first problems of seed 9 / subsequence 3 (guards against silent changes)
  philox_engine d(9, 3);
  CHECK(t.vocab().decode(t.problem(d, split::train)) == "<bos> 4 8 3 <sep>");
  CHECK(t.vocab().decode(t.problem(d, split::eval)) == "<bos> 11 8 8 10 11 <sep>");
}

TEST_CASE("two_strategies config errors name the field", "[tasks]") {
  using C = two_strategies_config;
  const auto rejects = [](const C& c, const char* field) {
    CHECK_THROWS_WITH(two_strategies(c), Catch::Contains("[rlvr.config]") && Catch::Contains(field));
  };
  rejects(C{.modulus = 2}, "modulus = 2");
  rejects(C{.modulus = 200000}, "modulus = 200000");
  rejects(C{.min_terms = 2}, "min_terms = 2");
  rejects(C{.min_terms = 4, .max_terms = 3}, "max_terms = 3");
  rejects(C{.eval_min_terms = 4}, "eval_min_terms = 4");
  rejects(C{.eval_max_terms = 4}, "eval_max_terms = 4"); // below eval_min_terms
  rejects(C{.eval_min_terms = 6, .eval_max_terms = 5}, "eval_max_terms = 5");
  rejects(C{.pretrain_max_terms = 3}, "pretrain_max_terms = 3");
  rejects(C{.pretrain_max_terms = 7}, "pretrain_max_terms = 7");
  rejects(C{.heuristic_share = -0.1}, "heuristic_share");
  rejects(C{.heuristic_share = 1.5}, "heuristic_share");
  rejects(C{.heuristic_share = std::numeric_limits<double>::quiet_NaN()}, "heuristic_share");
  rejects(C{.shortcut_share = 2.0}, "shortcut_share");
  CHECK_NOTHROW(two_strategies(C{.modulus = 3, .heuristic_share = 0.0, .shortcut_share = 1.0}));
}
