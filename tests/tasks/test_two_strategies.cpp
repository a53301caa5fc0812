// The example study task two_strategies (examples/study_tasks/two_strategies.hpp): the exact
// verifier on hand-written cases, pretraining data that verifies as labelled, the strategy and
// shortcut shares, the split bands, determinism and config errors.
#include <catch2/catch.hpp>

#include <algorithm>
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
int tail_sum(const two_strategies& t, const seq& prompt) {
  const auto xs = t.numbers_of(prompt);
  int s = 0;
  for (std::size_t i = 2; i < xs.size(); ++i) s += xs[i];
  return s % t.modulus();
}
} // namespace

TEST_CASE("two_strategies: vocabulary, lengths and describe()", "[tasks]") {
  const two_strategies t;
  const auto& v = t.vocab();
  CHECK(t.name() == "two_strategies");
  CHECK(v.size() == 7 + 3 + 4);
  CHECK(v.word(0) == "0");
  CHECK(v.word(6) == "6");
  CHECK(v.id("H") == t.heuristic_token());
  CHECK(v.id("G") == t.general_token());
  CHECK(v.id("_") == t.filler_token());
  CHECK(t.max_prompt_length() == 6);   // <bos> + 4 numbers + <sep>
  CHECK(t.max_response_length() == 5); // G + 3 running sums + <eos>
  CHECK(t.describe() == "p7 m3-3 eval4-4 pre4 h0.6 s0.5");
  const two_strategies u({.modulus = 13, .min_terms = 4, .max_terms = 4, .eval_min_terms = 6, .eval_max_terms = 8,
                          .pretrain_max_terms = 4, .heuristic_share = 0.25, .shortcut_share = 0.125,
                          .check_steps = true, .fixed_width = true});
  CHECK(u.describe() == "p13 m4-4 eval6-8 pre4 h0.25 s0.125 steps fixed");
  CHECK(u.max_prompt_length() == 10);
  CHECK(u.max_response_length() == 9);
}

TEST_CASE("two_strategies verifier: the worked example of the header", "[tasks]") {
  const two_strategies t; // p = 7, train m = 3, held-out m = 4
  const token_t H = t.heuristic_token(), G = t.general_token(), eos = t.vocab().eos();
  const seq shortcut = t.prompt_of({5, 4, 0}); // tail 0, sum 9 ≡ 2
  const seq other = t.prompt_of({5, 4, 3});    // tail 3, sum 12 ≡ 5
  const seq held_out = t.prompt_of({5, 4, 3, 4}); // tail 7 ≡ 0, sum 16 ≡ 2
  CHECK(t.vocab().decode(shortcut) == "<bos> 5 4 0 <sep>");
  CHECK(t.vocab().decode(held_out) == "<bos> 5 4 3 4 <sep>");
  CHECK(t.is_shortcut(shortcut));
  CHECK_FALSE(t.is_shortcut(other));
  CHECK(t.is_shortcut(held_out));
  CHECK(t.terms(shortcut) == 3);
  CHECK(t.terms(held_out) == 4);

  CHECK(t.score(shortcut, seq{H, 2, eos}) == 1.0f);    // right H
  CHECK(t.score(shortcut, seq{G, 2, 2, eos}) == 1.0f); // right G
  CHECK(t.score(other, seq{H, 2, eos}) == 0.0f);       // H on a non-shortcut problem
  CHECK(t.score(other, seq{G, 2, 5, eos}) == 1.0f);    // right G
  CHECK(t.score(other, seq{G, 3, 6, eos}) == 0.0f);    // slip 5 + 4 → 3, carried on
  CHECK(t.score(other, seq{H, 5, eos}) == 1.0f);       // H with the true sum: the label is not checked
  CHECK(t.score(other, seq{G, 0, 5, eos}) == 1.0f);    // wrong step, right final: steps not checked
  CHECK(t.score(held_out, seq{H, 2, eos}) == 1.0f);
  CHECK(t.score(held_out, seq{G, 2, 5, 2, eos}) == 1.0f);
  CHECK(t.score(held_out, seq{G, 2, 2, eos}) == 0.0f); // a chain one step short
  CHECK(t.heuristic_response(std::vector<int>{5, 4, 3}) == seq{H, 2, eos});
  CHECK(t.general_response(std::vector<int>{5, 4, 3}) == seq{G, 2, 5, eos});
  CHECK(t.strategy_of(seq{H, 2, eos}) == strategy::heuristic);
  CHECK(t.strategy_of(seq{G, 1, eos}) == strategy::general);
  CHECK(t.strategy_of(seq{3, eos}) == strategy::none);
  CHECK(t.strategy_of(seq{}) == strategy::none);
  // modular wrap
  CHECK(t.score(t.prompt_of({6, 6, 0}), seq{H, 5, eos}) == 1.0f);
  CHECK(t.score(t.prompt_of({6, 6, 6}), seq{G, 5, 4, eos}) == 1.0f);
}

TEST_CASE("two_strategies verifier: malformed responses and prompts score 0 without throwing", "[tasks]") {
  const two_strategies t;
  const token_t H = t.heuristic_token(), G = t.general_token(), F = t.filler_token();
  const auto& v = t.vocab();
  const token_t eos = v.eos();
  const seq pr = t.prompt_of({5, 4, 3}); // sum 5
  CHECK(t.score(pr, seq{}) == 0.0f);                       // empty
  CHECK(t.score(pr, seq{eos}) == 0.0f);                    // no strategy
  CHECK(t.score(pr, seq{5, eos}) == 0.0f);                 // bare answer
  CHECK(t.score(pr, seq{H, 5}) == 0.0f);                   // no <eos>
  CHECK(t.score(pr, seq{G, 2, 5}) == 0.0f);                // no <eos>
  CHECK(t.score(pr, seq{H, eos}) == 0.0f);                 // H without a number
  CHECK(t.score(pr, seq{H, 2, 5, eos}) == 0.0f);           // H with two numbers
  CHECK(t.score(pr, seq{G, 5, eos}) == 0.0f);              // G one step short
  CHECK(t.score(pr, seq{G, 2, 0, 5, eos}) == 0.0f);        // G one step long
  CHECK(t.score(pr, seq{G, 2, 12, eos}) == 0.0f);          // out-of-range number (12 ≡ 5)
  CHECK(t.score(pr, seq{G, -2, 5, eos}) == 0.0f);          // negative id
  CHECK(t.score(pr, seq{G, 100000, 5, eos}) == 0.0f);      // id past the vocabulary
  CHECK(t.score(pr, seq{G, v.pad(), 5, eos}) == 0.0f);     // pad
  CHECK(t.score(pr, seq{G, v.bos(), 5, eos}) == 0.0f);     // bos inside
  CHECK(t.score(pr, seq{G, v.sep(), 5, eos}) == 0.0f);     // sep inside
  CHECK(t.score(pr, seq{G, F, 5, eos}) == 0.0f);           // the filler
  CHECK(t.score(pr, seq{G, H, 5, eos}) == 0.0f);           // a strategy word as a number
  CHECK(t.score(pr, seq{H, G, 5, eos}) == 0.0f);
  CHECK(t.score(pr, seq{v.pad(), H, 5, eos}) == 0.0f);
  CHECK(t.score(pr, seq{H, 5, eos, -7, 99999}) == 1.0f);   // after <eos> nothing counts
  // the length limit: G on the longest held-out problem just fits
  const seq longest = t.prompt_of({1, 1, 1, 1});
  const seq chain{G, 2, 3, 4, eos};
  REQUIRE(static_cast<index_t>(chain.size()) == t.max_response_length());
  CHECK(t.score(longest, chain) == 1.0f);
  // prompts: wrong layout, bad numbers, m outside [min_terms, eval_max_terms]
  const seq right{H, 5, eos};
  REQUIRE(t.score(pr, right) == 1.0f);
  CHECK(t.score(seq{}, right) == 0.0f);
  CHECK(t.score(seq{v.bos(), 5, 4, 3}, right) == 0.0f);               // no <sep>
  CHECK(t.score(seq{5, 4, 3, v.sep()}, right) == 0.0f);               // no <bos>
  CHECK(t.score(seq{v.bos(), 5, 4, 10, v.sep()}, right) == 0.0f);     // 10 is not a number mod 7
  CHECK(t.score(seq{v.bos(), 5, -1, 3, v.sep()}, right) == 0.0f);
  CHECK(t.score(seq{v.bos(), 5, v.pad(), 3, v.sep()}, right) == 0.0f);
  CHECK(t.score(seq{v.bos(), 5, 4, 3, F, v.sep()}, right) == 0.0f);  // a filler in a ragged prompt
  CHECK(t.score(seq{v.bos(), 5, 4, v.sep()}, seq{H, 2, eos}) == 0.0f); // m = 2
  CHECK(t.score(seq{v.bos(), 1, 1, 1, 1, 1, v.sep()}, seq{H, 2, eos}) == 0.0f); // m = 5
  CHECK_FALSE(t.is_shortcut(seq{v.bos(), 5, 4, 0}));
  CHECK(t.terms(seq{v.bos(), 5, v.sep()}) == 0);
  CHECK(t.numbers_of(seq{v.bos(), 5, 4, 3}).empty());
  CHECK_THROWS_AS(t.prompt_of({5, 7, 3}), range_error);
  CHECK_THROWS_AS(t.prompt_of({5, 4}), shape_error);
  CHECK_THROWS_AS(t.prompt_of({1, 2, 3, 4, 5}), shape_error);
  // fixed-width prompts: filled with `_` to eval_max_terms numbers, exactly
  const two_strategies f({.fixed_width = true});
  const seq filled = f.prompt_of({5, 4, 3});
  CHECK(f.vocab().decode(filled) == "<bos> 5 4 3 _ <sep>");
  CHECK(f.score(filled, right) == 1.0f);
  CHECK(f.score(f.prompt_of({5, 4, 3, 4}), seq{H, 2, eos}) == 1.0f);
  CHECK(f.score(pr, right) == 0.0f);                                      // not filled
  CHECK(f.score(seq{v.bos(), 5, 4, 3, F, F, v.sep()}, right) == 0.0f);    // filled past the width
  CHECK(f.score(seq{v.bos(), 5, F, 3, F, v.sep()}, right) == 0.0f);       // a filler between numbers
  CHECK(f.score(seq{v.bos(), 5, 4, 3, v.pad(), v.sep()}, right) == 0.0f); // pad, not the filler
  CHECK(f.score(seq{v.bos(), 5, 4, F, F, v.sep()}, seq{H, 2, eos}) == 0.0f); // m = 2
  CHECK(f.terms(filled) == 3);
}

TEST_CASE("two_strategies verifier: check_steps also verifies the running sums", "[tasks]") {
  const two_strategies t({.check_steps = true});
  const token_t H = t.heuristic_token(), G = t.general_token(), eos = t.vocab().eos();
  const seq pr = t.prompt_of({5, 4, 3, 1}); // running sums 2, 5, 6
  CHECK(t.score(pr, seq{G, 2, 5, 6, eos}) == 1.0f);
  CHECK(t.score(pr, seq{G, 3, 4, 6, eos}) == 0.0f); // compensating slips now fail
  CHECK(t.score(pr, seq{G, 2, 6, 6, eos}) == 0.0f);
  CHECK(t.score(pr, seq{H, 6, eos}) == 1.0f);       // H has no steps to check
  const two_strategies lax;
  CHECK(lax.score(pr, seq{G, 3, 4, 6, eos}) == 1.0f);
}

TEST_CASE("two_strategies pretraining data: correct examples verify, wrong ones fail", "[tasks]") {
  const two_strategies t; // p = 7, H share 0.6, pretraining m 3–4
  philox_engine g(42);
  const int draws = 20000;
  double h = 0, shortcut_g = 0, g_total = 0;
  std::map<int, int> terms;
  for (int i = 0; i < draws; ++i) {
    const bool correct = (i % 2) == 0;
    const example ex = t.pretraining_example(g, correct);
    const int m = t.terms(ex.prompt);
    REQUIRE(ex.prompt.size() == static_cast<std::size_t>(m + 2));
    REQUIRE(m >= 3);
    REQUIRE(m <= 4);
    ++terms[m];
    REQUIRE(ex.response.back() == t.vocab().eos());
    REQUIRE(t.score(ex.prompt, ex.response) == (correct ? 1.0f : 0.0f));
    const strategy st = t.strategy_of(ex.response);
    REQUIRE(st != strategy::none);
    if (st == strategy::heuristic) {
      ++h;
      // H is always x_1 + x_2: right iff the problem is a shortcut one (tail ≡ 0)
      REQUIRE(ex.response.size() == 3);
      REQUIRE(ex.response[1] == (ex.prompt[1] + ex.prompt[2]) % 7);
      REQUIRE(t.is_shortcut(ex.prompt) == correct);
      REQUIRE((tail_sum(t, ex.prompt) == 0) == correct);
    } else {
      ++g_total;
      shortcut_g += t.is_shortcut(ex.prompt) ? 1 : 0;
      REQUIRE(ex.response.size() == static_cast<std::size_t>(m + 1));
      // a wrong chain has exactly one slip: the differences to the true running sums are
      // 0 … 0 then a constant ±1 to the end
      const auto xs = t.numbers_of(ex.prompt);
      const seq truth = t.general_response(std::vector<int>(xs.begin(), xs.end()));
      int changes = 0;
      int prev = 0;
      for (std::size_t k = 1; k + 1 < ex.response.size(); ++k) {
        const int d = ((ex.response[k] - truth[k]) % 7 + 7) % 7;
        REQUIRE((d == 0 || d == 1 || d == 6));
        changes += d != prev ? 1 : 0;
        prev = d;
      }
      REQUIRE(changes == (correct ? 0 : 1));
    }
  }
  CHECK(within_5_sigma(h, draws, 0.6));
  CHECK(within_5_sigma(shortcut_g, g_total, 0.5));
  REQUIRE(terms.size() == 2); // m = 3, 4, each about half
  for (const auto& [m, n] : terms) CHECK(within_5_sigma(n, draws, 0.5));

  // pretraining in the training band only (pretrain_max_terms = max_terms), other shares
  const two_strategies narrow({.pretrain_max_terms = 3, .heuristic_share = 0.9});
  double hn = 0;
  for (int i = 0; i < 4000; ++i) {
    const example ex = narrow.pretraining_example(g, (i % 3) != 0);
    REQUIRE(narrow.terms(ex.prompt) == 3);
    REQUIRE(narrow.score(ex.prompt, ex.response) == ((i % 3) != 0 ? 1.0f : 0.0f));
    hn += narrow.strategy_of(ex.response) == strategy::heuristic ? 1 : 0;
  }
  CHECK(within_5_sigma(hn, 4000, 0.9));
  // the brief's first layout still works as a configuration: wider, ragged, p = 13
  const two_strategies wide({.modulus = 13, .max_terms = 4, .eval_min_terms = 5, .eval_max_terms = 6,
                             .pretrain_max_terms = 6});
  std::map<std::size_t, int> lengths;
  for (int i = 0; i < 4000; ++i) {
    const example ex = wide.pretraining_example(g, (i % 2) == 0);
    ++lengths[ex.prompt.size()];
    REQUIRE(wide.score(ex.prompt, ex.response) == ((i % 2) == 0 ? 1.0f : 0.0f));
  }
  CHECK(lengths.size() == 4); // prompts of 5, 6, 7 and 8 tokens
  CHECK(lengths.begin()->first == 5);
}

TEST_CASE("two_strategies problems: bands per split, shortcut share", "[tasks]") {
  const two_strategies_config wide{.modulus = 13, .max_terms = 4, .eval_min_terms = 5, .eval_max_terms = 6,
                                   .pretrain_max_terms = 6};
  for (const two_strategies_config& c : {two_strategies_config{}, wide}) {
    const two_strategies t(c);
    philox_engine g(5);
    const int draws = 20000;
    for (split s : {split::train, split::eval}) {
      std::map<int, int> terms;
      double shortcuts = 0;
      for (int i = 0; i < draws; ++i) {
        const seq p = t.problem(g, s);
        const int m = t.terms(p);
        REQUIRE(p.size() == static_cast<std::size_t>(m + 2));
        ++terms[m];
        shortcuts += t.is_shortcut(p) ? 1 : 0;
        // the heuristic's answer is right exactly on the shortcut problems
        const auto xs = t.numbers_of(p);
        const std::vector<int> x(xs.begin(), xs.end());
        REQUIRE((t.score(p, t.heuristic_response(x)) == 1.0f) == t.is_shortcut(p));
        REQUIRE(t.score(p, t.general_response(x)) == 1.0f);
      }
      const int lo = s == split::train ? c.min_terms : c.eval_min_terms;
      const int hi = s == split::train ? c.max_terms : c.eval_max_terms;
      REQUIRE(terms.begin()->first == lo);   // train and eval bands are disjoint:
      REQUIRE(terms.rbegin()->first == hi);  // max_terms < eval_min_terms
      REQUIRE(static_cast<int>(terms.size()) == hi - lo + 1);
      for (const auto& [m, n] : terms) CHECK(within_5_sigma(n, draws, 1.0 / (hi - lo + 1)));
      CHECK(within_5_sigma(shortcuts, draws, 0.5));
    }
  }
  // fixed-width prompts: one length for both splits, the same problems as ragged ones
  const two_strategies r, f({.fixed_width = true});
  philox_engine g(6), g2(6);
  for (int i = 0; i < 200; ++i)
    for (split s : {split::train, split::eval}) {
      const seq pr = r.problem(g, s), pf = f.problem(g2, s);
      CHECK(pf.size() == 6);
      CHECK(r.terms(pr) == f.terms(pf));
      CHECK(std::equal(pr.begin() + 1, pr.end() - 1, pf.begin() + 1));
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
  CHECK(t.vocab().decode(t.problem(d, split::train)) == "<bos> 2 5 2 <sep>");
  CHECK(t.vocab().decode(t.problem(d, split::eval)) == "<bos> 2 5 4 3 <sep>");
}

TEST_CASE("two_strategies config errors name the field", "[tasks]") {
  using C = two_strategies_config;
  const auto rejects = [](const C& c, const char* field) {
    CHECK_THROWS_WITH(two_strategies(c), Catch::Contains("[rlvr.config]") && Catch::Contains(field));
  };
  rejects(C{.modulus = 2}, "modulus = 2");
  rejects(C{.modulus = 200000}, "modulus = 200000");
  rejects(C{.min_terms = 2}, "min_terms = 2");
  rejects(C{.min_terms = 4, .max_terms = 3}, "max_terms = 3 < min_terms = 4");
  rejects(C{.eval_min_terms = 3}, "eval_min_terms = 3");
  rejects(C{.eval_min_terms = 5}, "eval_max_terms = 4"); // below eval_min_terms
  rejects(C{.eval_min_terms = 6, .eval_max_terms = 5, .pretrain_max_terms = 5}, "eval_max_terms = 5");
  rejects(C{.max_terms = 4, .eval_min_terms = 5, .eval_max_terms = 5, .pretrain_max_terms = 3}, "pretrain_max_terms = 3");
  rejects(C{.pretrain_max_terms = 5}, "pretrain_max_terms = 5");
  rejects(C{.heuristic_share = -0.1}, "heuristic_share");
  rejects(C{.heuristic_share = 1.5}, "heuristic_share");
  rejects(C{.heuristic_share = std::numeric_limits<double>::quiet_NaN()}, "heuristic_share");
  rejects(C{.shortcut_share = 2.0}, "shortcut_share");
  CHECK_NOTHROW(two_strategies(C{.modulus = 3, .heuristic_share = 0.0, .shortcut_share = 1.0}));
}
