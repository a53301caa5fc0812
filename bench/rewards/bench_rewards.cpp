// bench_rewards: verifications per second on a realistic MATH-style mix.
//
// The mix (fixed seed): 4096 responses of 300–3000 bytes of chain-of-thought-like text (words,
// inline LaTeX, numbers) ending in an answer drawn from the 197-pair table of
// tests/rewards/answer_pairs.hpp; 80% end with one \boxed{…}, 10% with two (a corrected
// answer), 5% with none, 5% are cut off inside the box. References are the table's other side.
//
// The short mix: every usable pair of both tables (answer_pairs and the core table of issue 16),
// the response being just `\boxed{a}` and the reference b — the verifier's own cost, without the
// scan of a long chain of thought.
//
// Paths covered:
//   BM_math_verifier_short/rlvr    rlvr::math_verifier on the short mix, one thread (issue 16's
//                                  ≥ 200k verifications/s floor)
//   BM_math_verifier_short/naive_regex  the regex baseline on the short mix
//   BM_math_verifier/rlvr          rlvr::math_verifier, one thread (extract + normalise + equiv.)
//   BM_math_verifier/naive_regex   the baseline many Python-to-C++ ports start from: std::regex
//                                  to find the last \boxed{…} (one nesting level), then the MATH
//                                  rules as a chain of std::regex_replace, then string equality
//   BM_extract/rlvr, /naive_regex  extraction only (bytes/s)
//   BM_score_batch/threads:T       rlvr::score_batch over the whole mix with T threads
//   BM_score_batch_G8/…            8 responses per reference: math_verifier's batched member
//                                  (each reference normalised once) vs the generic loop
//   BM_numeric_match/rlvr          rlvr::numeric_match (boxed or last number) on the same mix
// Report speed as the ratio rlvr / naive_regex measured in the same run.
#include <rlvr/random/philox.hpp>
#include <rlvr/rewards/concepts.hpp>
#include <rlvr/rewards/verifiers.hpp>

#include <benchmark/benchmark.h>

#include <cstdint>
#include <regex>
#include <string>
#include <vector>

#include "rewards/answer_pairs.hpp"

namespace {

// Deterministic data: rlvr's own Philox stream (uniform_index is exact and portable).
std::size_t below(rlvr::philox_engine& g, std::size_t n) {
  return static_cast<std::size_t>(g.uniform_index(static_cast<std::uint32_t>(n)));
}

struct mix {
  std::vector<std::string> responses, references;
  std::vector<std::string_view> resp_views, ref_views;
  std::size_t bytes = 0;
};

const mix& get_mix() {
  static const mix m = [] {
    mix out;
    rlvr::philox_engine rng(20250601);
    const char* words[] = {"Let", "the", "number", "of", "ways", "be", "$x$", "so", "we", "get",
                           "$\\frac{a}{b}$", "Then", "$2^{10} = 1024$", "therefore", "$x + y = 7$",
                           "and", "substituting", "gives", "$\\sqrt{3}$", "which", "is", "12.5",
                           "Hence", "$\\left(1, 2\\right)$", "Note", "that", "$\\{1,2\\}$", "wait"};
    const std::size_t n_words = sizeof(words) / sizeof(words[0]);
    const auto& pairs = rlvr_test::answer_pairs;
    const std::size_t n_pairs = sizeof(pairs) / sizeof(pairs[0]);
    for (int i = 0; i < 4096; ++i) {
      const auto& p = pairs[below(rng, n_pairs)];
      if (rlvr::trim(p.b).empty() || !rlvr::is_valid_utf8(p.b)) { --i; continue; }
      std::string r;
      const std::size_t len = 300 + below(rng, 2700);
      while (r.size() < len) {
        r += words[below(rng, n_words)];
        r += ' ';
      }
      const std::size_t kind = below(rng, 100);
      if (kind < 80) {
        r += "So the answer is $\\boxed{" + std::string(p.a) + "}$.";
      } else if (kind < 90) {
        r += "So $\\boxed{" + std::string(p.b) + "0}$? No: the answer is $\\boxed{" + std::string(p.a) + "}$.";
      } else if (kind < 95) {
        r += "I am not sure.";
      } else {
        r += "So the answer is $\\boxed{" + std::string(p.a).substr(0, p.a.size() / 2);
      }
      out.bytes += r.size();
      out.responses.push_back(std::move(r));
      out.references.emplace_back(p.b);
    }
    out.resp_views.assign(out.responses.begin(), out.responses.end());
    out.ref_views.assign(out.references.begin(), out.references.end());
    return out;
  }();
  return m;
}

struct short_mix {
  std::vector<std::string> responses, references;
  std::vector<std::string_view> resp_views, ref_views;
};

const short_mix& get_short_mix() {
  static const short_mix m = [] {
    short_mix out;
    auto take = [&](const auto& table) {
      for (const auto& p : table) {
        if (rlvr::trim(p.b).empty() || !rlvr::is_valid_utf8(p.b)) continue;
        out.responses.push_back("\\boxed{" + std::string(p.a) + "}");
        out.references.emplace_back(p.b);
      }
    };
    take(rlvr_test::answer_pairs);
    take(rlvr_test::core_pairs);
    out.resp_views.assign(out.responses.begin(), out.responses.end());
    out.ref_views.assign(out.references.begin(), out.references.end());
    return out;
  }();
  return m;
}

// ---- the naive baseline --------------------------------------------------------------------
std::string naive_extract(const std::string& s) {
  static const std::regex boxed(R"(\\boxed\{((?:[^{}]|\{[^{}]*\})*)\})");
  std::string last;
  for (auto it = std::sregex_iterator(s.begin(), s.end(), boxed); it != std::sregex_iterator(); ++it)
    last = (*it)[1].str();
  return last;
}

std::string naive_normalize(std::string s) {
  static const std::pair<std::regex, const char*> rules[] = {
      {std::regex(R"(\s+)"), ""},
      {std::regex(R"(\\!)"), ""},
      {std::regex(R"(\\[dt]frac)"), "\\frac"},
      {std::regex(R"(\\left|\\right)"), ""},
      {std::regex(R"(\^\{?\\circ\}?)"), ""},
      {std::regex(R"(\\\$|\$)"), ""},
      {std::regex(R"(\\text\{[^}]*\}$)"), ""},
      {std::regex(R"(\\%|%)"), ""},
      {std::regex(R"(^\.)"), "0."},
      {std::regex(R"(\{\.)"), "{0."},
      {std::regex(R"(^[a-zA-Z]{1,2}=)"), ""},
      {std::regex(R"(\\sqrt(\w))"), "\\sqrt{$1}"},
      {std::regex(R"(\\frac(\d)(\d))"), "\\frac{$1}{$2}"},
      {std::regex(R"((\d)\.0+$)"), "$1"},
      {std::regex(R"(^0\.5$)"), "\\frac{1}{2}"},
      {std::regex(R"(^(\d+)/(\d+)$)"), "\\frac{$1}{$2}"},
  };
  for (const auto& [re, with] : rules) s = std::regex_replace(s, re, with);
  return s;
}

double naive_verify(const std::string& response, const std::string& reference) {
  const std::string a = naive_extract(response);
  if (a.empty()) return 0.0;
  return naive_normalize(a) == naive_normalize(reference) ? 1.0 : 0.0;
}

// ---- benchmarks ----------------------------------------------------------------------------
// One verification per iteration, cycling through a mix: `verify(i)` scores response i.
template <class Mix, class Verify> void verify_loop(benchmark::State& state, const Mix& m, Verify verify) {
  std::size_t i = 0;
  double correct = 0;
  for (auto _ : state) {
    correct += verify(i);
    if (++i == m.responses.size()) i = 0;
  }
  benchmark::DoNotOptimize(correct);
  state.SetItemsProcessed(state.iterations());
}

void BM_math_verifier_rlvr(benchmark::State& state) {
  const mix& m = get_mix();
  const rlvr::math_verifier v;
  verify_loop(state, m, [&](std::size_t i) { return v("", m.resp_views[i], m.ref_views[i]); });
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * static_cast<std::int64_t>(m.bytes / m.responses.size()));
}
BENCHMARK(BM_math_verifier_rlvr)->Name("BM_math_verifier/rlvr");

void BM_math_verifier_naive(benchmark::State& state) {
  const mix& m = get_mix();
  verify_loop(state, m, [&](std::size_t i) { return naive_verify(m.responses[i], m.references[i]); });
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * static_cast<std::int64_t>(m.bytes / m.responses.size()));
}
BENCHMARK(BM_math_verifier_naive)->Name("BM_math_verifier/naive_regex");

void BM_math_verifier_short_rlvr(benchmark::State& state) {
  const short_mix& m = get_short_mix();
  const rlvr::math_verifier v;
  verify_loop(state, m, [&](std::size_t i) { return v("", m.resp_views[i], m.ref_views[i]); });
  state.counters["pairs"] = static_cast<double>(m.responses.size());
}
BENCHMARK(BM_math_verifier_short_rlvr)->Name("BM_math_verifier_short/rlvr");

void BM_math_verifier_short_naive(benchmark::State& state) {
  const short_mix& m = get_short_mix();
  verify_loop(state, m, [&](std::size_t i) { return naive_verify(m.responses[i], m.references[i]); });
}
BENCHMARK(BM_math_verifier_short_naive)->Name("BM_math_verifier_short/naive_regex");

void BM_extract_rlvr(benchmark::State& state) {
  const mix& m = get_mix();
  std::size_t i = 0, total = 0;
  for (auto _ : state) {
    const auto a = rlvr::last_boxed(m.resp_views[i]);
    total += a ? a->size() : 0;
    if (++i == m.responses.size()) i = 0;
  }
  benchmark::DoNotOptimize(total);
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * static_cast<std::int64_t>(m.bytes / m.responses.size()));
}
BENCHMARK(BM_extract_rlvr)->Name("BM_extract/rlvr");

void BM_extract_naive(benchmark::State& state) {
  const mix& m = get_mix();
  std::size_t i = 0, total = 0;
  for (auto _ : state) {
    total += naive_extract(m.responses[i]).size();
    if (++i == m.responses.size()) i = 0;
  }
  benchmark::DoNotOptimize(total);
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * static_cast<std::int64_t>(m.bytes / m.responses.size()));
}
BENCHMARK(BM_extract_naive)->Name("BM_extract/naive_regex");

void BM_numeric_match_rlvr(benchmark::State& state) {
  const mix& m = get_mix();
  const rlvr::numeric_match v;
  const std::string_view ref = "0.5";
  std::size_t i = 0;
  double correct = 0;
  for (auto _ : state) {
    correct += v("", m.resp_views[i], ref);
    if (++i == m.responses.size()) i = 0;
  }
  benchmark::DoNotOptimize(correct);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_numeric_match_rlvr)->Name("BM_numeric_match/rlvr");

void BM_score_batch(benchmark::State& state) {
  const mix& m = get_mix();
  std::vector<double> out(m.responses.size());
  const int threads = static_cast<int>(state.range(0));
  for (auto _ : state) {
    rlvr::score_batch(rlvr::math_verifier{}, {}, m.resp_views, m.ref_views, out, threads);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(m.responses.size()));
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(m.bytes));
}
BENCHMARK(BM_score_batch)->ArgName("threads")->Arg(1)->Arg(2)->UseRealTime();

// Grouped references (8 responses per prompt share one reference, as in GRPO): math_verifier's
// BatchReward path validates and extracts each reference once; the generic path (the same
// verifier hidden in a lambda, so it is not a BatchReward) does it for every response.
template <bool Batched> void BM_score_batch_grouped(benchmark::State& state) {
  const mix& m = get_mix();
  std::vector<std::string_view> refs;
  for (std::size_t g = 0; g < m.responses.size(); g += 8) refs.push_back(m.ref_views[g]);
  std::vector<double> out(m.responses.size());
  const rlvr::math_verifier v;
  auto generic = [&v](std::string_view p, std::string_view y, std::string_view a) { return v(p, y, a); };
  for (auto _ : state) {
    if constexpr (Batched) {
      rlvr::score_batch(v, {}, m.resp_views, refs, out, 1);
    } else {
      rlvr::score_batch(generic, {}, m.resp_views, refs, out, 1);
    }
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(m.responses.size()));
}
BENCHMARK(BM_score_batch_grouped<true>)->Name("BM_score_batch_G8/batched_member")->UseRealTime();
BENCHMARK(BM_score_batch_grouped<false>)->Name("BM_score_batch_G8/generic")->UseRealTime();

} // namespace

BENCHMARK_MAIN();
