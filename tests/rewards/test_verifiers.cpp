// The shipped verifiers, the format reward, composition and multi-threaded batch scoring.
#include <rlvr/rewards/compose.hpp>
#include <rlvr/rewards/verifiers.hpp>

#include <catch2/catch.hpp>

#include <array>
#include <limits>
#include <span>
#include <string>
#include <vector>

#include "answer_pairs.hpp"

namespace {
constexpr double nan_v = std::numeric_limits<double>::quiet_NaN();
constexpr double inf_v = std::numeric_limits<double>::infinity();
} // namespace

TEST_CASE("math_verifier: the last boxed answer against the reference", "[rewards][verifiers]") {
  const rlvr::math_verifier v;
  CHECK(v("p", "so the probability is $\\boxed{\\dfrac12}$.", "0.5") == 1.0);
  CHECK(v("p", "so the probability is $\\boxed{\\dfrac13}$.", "0.5") == 0.0);
  CHECK(v("p", "the answer is 0.5", "0.5") == 0.0);        // no box: no answer
  CHECK(v("p", "\\boxed{1} wait \\boxed{2}", "2") == 1.0); // the last box counts
  CHECK(v("p", "\\boxed{2} wait \\boxed{1", "2") == 0.0);  // the last box is broken
  CHECK(v("p", "", "2") == 0.0);
  CHECK(v("p", "\\boxed{\xFF}", "2") == 0.0);              // invalid UTF-8 answer scores 0
  CHECK(v("p", "\\fbox{x = 5}", " 5 ") == 1.0);
  // The reference may be a whole MATH solution: its last box is the answer.
  CHECK(v("p", "\\boxed{10}", "We add: $4 + 6 = \\boxed{10}$.") == 1.0);
  CHECK(v("p", "\\boxed{11}", "We add: $4 + 6 = \\boxed{10}$.") == 0.0);
  // Custom reward values (the paper's ±1).
  const rlvr::math_verifier pm{.correct = 1.0, .incorrect = -1.0};
  CHECK(pm("", "\\boxed{3}", "3") == 1.0);
  CHECK(pm("", "\\boxed{4}", "3") == -1.0);
  CHECK(pm("", "no answer", "3") == -1.0);
}

TEST_CASE("math_verifier scores every pair of the table like math_equivalent", "[rewards][verifiers]") {
  const rlvr::math_verifier v;
  for (const auto& p : rlvr_test::answer_pairs) {
    if (rlvr::trim(p.b).empty() || !rlvr::is_valid_utf8(p.b)) continue; // a bad reference throws
    const std::string response = "Reasoning... so the answer is $\\boxed{" + std::string(p.a) + "}$.";
    INFO("a = '" << p.a << "', b = '" << p.b << "'");
    // Answers with unbalanced braces cannot be boxed intact; skip those.
    const auto boxed = rlvr::last_boxed(response);
    if (!boxed || *boxed != p.a) continue;
    CHECK(v("", response, p.b) == (p.equivalent ? 1.0 : 0.0));
  }
}

TEST_CASE("math_verifier: bad references are clear parse errors", "[rewards][verifiers]") {
  const rlvr::math_verifier v;
  CHECK_THROWS_WITH(v("", "\\boxed{1}", ""), Catch::Contains("[rlvr.parse]") && Catch::Contains("reference answer is empty"));
  CHECK_THROWS_WITH(v("", "\\boxed{1}", "  \n"), Catch::Contains("empty"));
  CHECK_THROWS_WITH(v("", "\\boxed{1}", "1\xFF"), Catch::Contains("not valid UTF-8"));
  CHECK_THROWS_WITH(v("", "\\boxed{1}", "so \\boxed{1"), Catch::Contains("never closed"));
  CHECK_THROWS_WITH(v("", "\\boxed{1}", "\\boxed{}"), Catch::Contains("empty"));
  const std::string long_ref = std::string(500, 'x') + "\xFF";
  CHECK_THROWS_WITH(v("", "\\boxed{1}", long_ref), Catch::Contains("...") && !Catch::Contains(std::string(100, 'x')));
  const rlvr::math_verifier bad{.correct = nan_v};
  CHECK_THROWS_WITH(bad("", "\\boxed{1}", "1"), Catch::Contains("[rlvr.config]") && Catch::Contains("correct = nan"));
  CHECK(rlvr::math_verifier::reference_answer("We get \\boxed{ 7 }.") == "7");
  CHECK(rlvr::math_verifier::reference_answer(" 7 ") == "7");
}

TEST_CASE("exact_match: sources and options", "[rewards][verifiers]") {
  const rlvr::exact_match em;
  CHECK(em("", "  Paris ", "Paris") == 1.0); // boxed_or_whole, trimmed
  CHECK(em("", "I think \\boxed{Paris}", "Paris") == 1.0);
  CHECK(em("", "paris", "Paris") == 0.0);
  CHECK(em("", "Par is", "Paris") == 0.0);
  const rlvr::exact_match ci{.ignore_case = true, .ignore_whitespace = true};
  CHECK(ci("", "par IS", "Paris") == 1.0);
  CHECK(ci("", "pariss", "Paris") == 0.0);
  const rlvr::exact_match gsm{.source = rlvr::answer_source::after_marker, .marker = "####"};
  CHECK(gsm("", "work...\n#### 42\n", "42") == 1.0);
  CHECK(gsm("", "work... 42", "42") == 0.0);
  const rlvr::exact_match boxed_only{.source = rlvr::answer_source::last_boxed};
  CHECK(boxed_only("", "B", "B") == 0.0);
  CHECK(boxed_only("", "\\boxed{B}", "B") == 1.0);
  CHECK(em("", "\xFF", "a") == 0.0); // invalid UTF-8 answer scores 0
  CHECK_THROWS_AS(em("", "x", ""), rlvr::parse_error);
  CHECK_THROWS_AS(em("", "x", "\xFF"), rlvr::parse_error);
  const rlvr::exact_match bad{.incorrect = inf_v};
  CHECK_THROWS_AS(bad("", "x", "x"), rlvr::config_error);
}

TEST_CASE("numeric_match: forms, tolerances, sources", "[rewards][verifiers]") {
  const rlvr::numeric_match nm;
  CHECK(nm("", "The total is 1,234.5 dollars.", "1234.5") == 1.0);
  CHECK(nm("", "so \\boxed{\\frac{3}{4}} and then 7", "0.75") == 1.0); // box wins over the last number
  CHECK(nm("", "answer: 3/4", "\\frac{3}{4}") == 1.0);
  CHECK(nm("", "answer: 1.5e3", "1,500") == 1.0);
  CHECK(nm("", "\\boxed{\\$1{,}500.00}", "1500") == 1.0);
  CHECK(nm("", "\\boxed{50\\%}", "50") == 1.0);
  CHECK(nm("", "answer: 0.333", "1/3") == 0.0);
  CHECK(nm("", "no number", "1") == 0.0);
  CHECK(nm("", "\\boxed{x}", "1") == 0.0);
  CHECK(nm("", "\\boxed{1}", " -0 ") == 0.0);
  CHECK(nm("", "it is 0", "-0") == 1.0);
  const rlvr::numeric_match loose{.abs_tol = 1e-3};
  CHECK(loose("", "answer: 0.333", "1/3") == 1.0);
  CHECK(loose("", "answer: 0.33", "1/3") == 0.0);
  const rlvr::numeric_match rel{.rel_tol = 0.01};
  CHECK(rel("", "answer: 101", "100") == 1.0);
  CHECK(rel("", "answer: 102", "100") == 0.0);
  const rlvr::numeric_match gsm{.source = rlvr::answer_source::after_marker, .marker = "####"};
  CHECK(gsm("", "3 + 4 = 7\n#### 7", "7") == 1.0);
  CHECK(gsm("", "3 + 4 = 7", "7") == 0.0);
  CHECK_THROWS_WITH(nm("", "1", "seven"), Catch::Contains("[rlvr.parse]") && Catch::Contains("'seven' is not a number"));
  const rlvr::numeric_match bad_tol{.abs_tol = -1.0};
  CHECK_THROWS_WITH(bad_tol("", "1", "1"), Catch::Contains("[rlvr.config]") && Catch::Contains("abs_tol = -1"));
  const rlvr::numeric_match nan_tol{.rel_tol = nan_v};
  CHECK_THROWS_AS(nan_tol("", "1", "1"), rlvr::config_error);
}

TEST_CASE("boxed_format: exactly one non-empty, closed box", "[rewards][verifiers]") {
  const rlvr::boxed_format f;
  CHECK(f("", "reasoning \\boxed{5}", "") == 1.0);
  CHECK(f("", "\\fbox{x}", "ignored") == 1.0);
  CHECK(f("", "no box", "") == 0.0);
  CHECK(f("", "\\boxed{1} \\boxed{2}", "") == 0.0);
  CHECK(f("", "\\boxed{\\boxed{1}}", "") == 0.0);
  CHECK(f("", "\\boxed{ }", "") == 0.0);
  CHECK(f("", "\\boxed{1", "") == 0.0);
  CHECK(f("", "\\boxed{\xC3}", "") == 0.0);
  const rlvr::boxed_format g{.pass = 0.2, .fail = -0.2};
  CHECK(g("", "\\boxed{5}", "") == 0.2);
  CHECK(g("", "5", "") == -0.2);
}

TEST_CASE("composition: weights, sums, gates", "[rewards][compose]") {
  const auto sum = rlvr::weighted(0.9, rlvr::math_verifier{}) + rlvr::weighted(0.1, rlvr::boxed_format{});
  STATIC_REQUIRE(rlvr::Reward<decltype(sum)>);
  CHECK(sum("", "\\boxed{2}", "2") == Approx(1.0).epsilon(1e-15));
  CHECK(sum("", "\\boxed{3}", "2") == Approx(0.1).epsilon(1e-15));
  CHECK(sum("", "\\boxed{2} \\boxed{2}", "2") == Approx(0.9).epsilon(1e-15));
  CHECK(sum("", "2", "2") == 0.0);
  const auto three = sum + rlvr::weighted(-0.5, rlvr::exact_match{});
  CHECK(three("", "\\boxed{2}", "2") == Approx(0.5).epsilon(1e-15));
  const auto plain = rlvr::reward_sum(rlvr::math_verifier{}, rlvr::boxed_format{}, rlvr::boxed_format{});
  CHECK(plain("", "\\boxed{2}", "2") == 3.0);

  const auto g = rlvr::gated(rlvr::boxed_format{}, rlvr::math_verifier{}, -1.0);
  STATIC_REQUIRE(rlvr::Reward<decltype(g)>);
  CHECK(g("", "\\boxed{2}", "2") == 1.0);
  CHECK(g("", "\\boxed{3}", "2") == 0.0);
  CHECK(g("", "\\boxed{2}\\boxed{2}", "2") == -1.0);
  // The gated reward is not evaluated when the gate fails: an invalid reference is not seen.
  CHECK(g("", "no box", "") == -1.0);
  CHECK_THROWS_AS(g("", "\\boxed{1}", ""), rlvr::parse_error);
  // Threshold, and NaN gates fail.
  auto half = [](std::string_view, std::string_view, std::string_view) { return 0.5; };
  auto nan_gate = [](std::string_view, std::string_view, std::string_view) { return nan_v; };
  CHECK(rlvr::gated(half, rlvr::boxed_format{}, 7.0, 0.5)("", "\\boxed{1}", "") == 1.0);
  CHECK(rlvr::gated(half, rlvr::boxed_format{}, 7.0, 0.6)("", "\\boxed{1}", "") == 7.0);
  CHECK(rlvr::gated(nan_gate, rlvr::boxed_format{}, 7.0)("", "\\boxed{1}", "") == 7.0);
  CHECK_THROWS_WITH(rlvr::weighted(inf_v, rlvr::boxed_format{}), Catch::Contains("[rlvr.config]") && Catch::Contains("weight = inf"));
  CHECK_THROWS_AS(rlvr::gated(half, half, nan_v), rlvr::config_error);
  CHECK_THROWS_AS(rlvr::gated(half, half, 0.0, inf_v), rlvr::config_error);
}

TEST_CASE("batch scoring: G responses per prompt, thread-count independent", "[rewards][batch]") {
  // 64 prompts × 16 responses; references broadcast per prompt group.
  const std::size_t P = 64, G = 16;
  std::vector<std::string> refs_s, resp_s, prompts_s;
  for (std::size_t p = 0; p < P; ++p) {
    prompts_s.push_back("Problem " + std::to_string(p));
    refs_s.push_back("\\frac{" + std::to_string(p + 1) + "}{" + std::to_string(p + 2) + "}");
    for (std::size_t g = 0; g < G; ++g) {
      const bool right = (p + g) % 3 == 0;
      const std::size_t num = right ? p + 1 : p + 3;
      resp_s.push_back("Let me think " + std::string(g * 10, '.') + " so $\\boxed{\\dfrac{" +
                       std::to_string(num) + "}{" + std::to_string(p + 2) + "}}$.");
    }
  }
  const std::vector<std::string_view> prompts(prompts_s.begin(), prompts_s.end()),
      refs(refs_s.begin(), refs_s.end()), resp(resp_s.begin(), resp_s.end());
  const auto reward = rlvr::gated(rlvr::boxed_format{}, rlvr::math_verifier{}, -1.0);
  std::vector<double> one(P * G), two(P * G), many(P * G);
  rlvr::score_batch(reward, prompts, resp, refs, one, 1);
  rlvr::score_batch(reward, prompts, resp, refs, two, 2);
  rlvr::score_batch(reward, prompts, resp, refs, many, 0);
  CHECK(one == two);
  CHECK(one == many);
  std::size_t correct = 0;
  for (std::size_t i = 0; i < P * G; ++i) {
    const std::size_t p = i / G, g = i % G;
    const bool right = (p + g) % 3 == 0 || (p + 3) * (p + 2) == (p + 1) * (p + 2); // never the latter
    CHECK(one[i] == (right ? 1.0 : 0.0));
    correct += right;
  }
  CHECK(correct == 342);
}

TEST_CASE("batch scoring: bad model output scores low, a bad reference throws", "[rewards][batch]") {
  std::vector<std::string> resp_s = {"", std::string(3u << 20, '{'), "\\boxed{" + std::string(1u << 20, '{'),
                                     "\xFF\xFE\\boxed{\xC0}", "\\boxed{5}"};
  std::string deep = "\\boxed{" + std::string(1u << 20, '{') + "5" + std::string(1u << 20, '}') + "}";
  resp_s.push_back(deep);
  const std::vector<std::string_view> resp(resp_s.begin(), resp_s.end());
  const std::string_view ref[] = {"5"};
  std::vector<double> out(resp.size(), -7.0);
  rlvr::score_batch(rlvr::math_verifier{}, {}, resp, ref, out, 2);
  CHECK(out == std::vector<double>{0.0, 0.0, 0.0, 0.0, 1.0, 1.0}); // {{…{5}…}} is 5
  const std::string_view bad_ref[] = {""};
  CHECK_THROWS_AS(rlvr::score_batch(rlvr::math_verifier{}, {}, resp, bad_ref, out, 2), rlvr::parse_error);
}

TEST_CASE("math_verifier's batched path equals its single calls", "[rewards][batch]") {
  STATIC_REQUIRE(rlvr::BatchReward<rlvr::math_verifier>);
  // Per-response references: every usable pair of the table, boxed in a response.
  std::vector<std::string> resp_s, ref_s;
  for (const auto& p : rlvr_test::answer_pairs) {
    if (rlvr::trim(p.b).empty() || !rlvr::is_valid_utf8(p.b)) continue;
    resp_s.push_back("so \\boxed{" + std::string(p.a) + "}");
    ref_s.emplace_back(p.b);
  }
  const rlvr::math_verifier v{.correct = 2.0, .incorrect = -3.0};
  std::vector<double> batched(resp_s.size()), single(resp_s.size());
  rlvr::score_batch(v, std::vector<std::string>{}, resp_s, ref_s, batched, 2); // TextRange overload
  for (std::size_t i = 0; i < resp_s.size(); ++i) single[i] = v("", resp_s[i], ref_s[i]);
  CHECK(batched == single);
  // Grouped references: 3 references × 4 responses.
  const std::vector<std::string_view> refs = {"\\frac12", "x = 3", "(1, 2)"};
  const std::vector<std::string_view> ys = {"\\boxed{0.5}", "\\boxed{1/2}", "\\boxed{2}", "nothing",
                                            "\\boxed{3}", "\\boxed{3.0}", "\\boxed{x=3}", "\\boxed{4}",
                                            "\\boxed{(1,2)}", "\\boxed{(1.0, 2)}", "\\boxed{[1,2]}", "\\boxed{(2,1)}"};
  std::vector<double> out(ys.size());
  rlvr::score_batch(rlvr::math_verifier{}, {}, ys, refs, out, 3);
  CHECK(out == std::vector<double>{1, 1, 0, 0, 1, 1, 1, 0, 1, 1, 0, 0});
  // A bad reference entry throws from the batched path too; no references at all is an error.
  const std::vector<std::string_view> bad = {"1", ""};
  std::vector<double> out4(4);
  CHECK_THROWS_AS(rlvr::score_batch(rlvr::math_verifier{}, {}, std::span(ys).first(4), bad, out4), rlvr::parse_error);
  CHECK_THROWS_AS(rlvr::score_batch(rlvr::math_verifier{}, {}, std::span(ys).first(4), {}, out4), rlvr::parse_error);
}

TEST_CASE("score_batch accepts any random-access range of strings", "[rewards][batch]") {
  const std::array<const char*, 2> prompts = {"p0", "p1"};
  const std::vector<std::string> responses = {"\\boxed{1}", "\\boxed{2}", "\\boxed{3}", "x"};
  const std::array<std::string_view, 1> refs = {"3"};
  std::vector<double> out(4);
  rlvr::score_batch(rlvr::numeric_match{}, prompts, responses, refs, out, 2);
  CHECK(out == std::vector<double>{0, 0, 1, 0});
  std::vector<double> short_out(3);
  CHECK_THROWS_AS(rlvr::score_batch(rlvr::numeric_match{}, prompts, responses, refs, short_out), rlvr::shape_error);
}

TEST_CASE("math_verifier::score_batch called directly checks its shapes", "[rewards][batch][errors]") {
  const rlvr::math_verifier v{};
  const std::vector<std::string_view> ys = {"\\boxed{1}", "\\boxed{2}", "\\boxed{3}", "\\boxed{4}"};
  const std::vector<std::string_view> refs3 = {"1", "2", "3"}, refs2 = {"1", "3"};
  std::vector<double> out(4), short_out(3);
  // a reference count that does not divide n (divided by zero before: n / 3 = 1, i / 1 = 3)
  CHECK_THROWS_WITH(v.score_batch({}, ys, refs3, out, 1),
                    Catch::Contains("[rlvr.shape]") && Catch::Contains("references has 3 entries for 4"));
  CHECK_THROWS_WITH(v.score_batch({}, ys, refs2, short_out, 1),
                    Catch::Contains("[rlvr.shape]") && Catch::Contains("out has 3 entries for 4"));
  CHECK_THROWS_WITH(v.score_batch(refs3, ys, refs2, out, 1), Catch::Contains("prompts has 3 entries"));
  // more references than responses: 4 / 8 = 0 would divide by zero
  const std::vector<std::string_view> refs8(8, "1");
  CHECK_THROWS_AS(v.score_batch({}, ys, refs8, out, 1), rlvr::shape_error);
  v.score_batch({}, ys, refs2, out, 1);
  CHECK(out == std::vector<double>{1, 0, 1, 0});
}
