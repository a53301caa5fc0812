#include <catch2/catch.hpp>
#include <rlvr/sampling/sampler.hpp>

#include "support.hpp"

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

using rlvr::index_t;
using rlvr::sampling_config;
using rlvr::stream_batch;
using rlvr::test::local_backend;

namespace {

constexpr double ninf = -std::numeric_limits<double>::infinity();

// 12 logits with a three-way tie, two −inf and a token far below the rest.
const std::vector<double> small_row = {2.0, 1.0, 1.0, 0.5, ninf, 0.0, -1.0, 3.0, 1.0, -2.0, ninf, 0.25};

// Draws `n` tokens from one row, broadcast with row stride 0 (rows differ only by subsequence).
template <class T>
std::vector<rlvr::token_draw<T>> draw_many(const std::vector<double>& zd, const sampling_config& c, index_t n,
                                           std::uint64_t seed, int threads = 1) {
  std::vector<T> z(zd.begin(), zd.end());
  rlvr::matrix_view<const T> logits(z.data(), n, static_cast<index_t>(z.size()), 0);
  return rlvr::sample(local_backend{threads}, logits, c, stream_batch{.seed = seed});
}

template <class T>
std::vector<std::size_t> histogram(const std::vector<rlvr::token_draw<T>>& d, std::size_t V) {
  std::vector<std::size_t> c(V, 0);
  for (const auto& x : d) c[static_cast<std::size_t>(x.token)] += 1;
  return c;
}

// Normal logits from a Philox stream (Box–Muller), scaled by sigma.
std::vector<double> normal_logits(index_t V, double sigma, std::uint64_t seed) {
  rlvr::philox_engine eng(seed);
  std::vector<double> z(static_cast<std::size_t>(V));
  for (auto& x : z) {
    const double u1 = 1.0 - eng.uniform(), u2 = eng.uniform();
    x = sigma * std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
  }
  return z;
}

const sampling_config configs[] = {
    {.temperature = 1.0},
    {.temperature = 0.6},
    {.temperature = 1.0, .top_k = 3},
    {.temperature = 1.0, .top_k = 2},                       // tie at the k-th weight: 4 kept
    {.temperature = 0.7, .top_p = 0.9},
    {.temperature = 1.0, .min_p = 0.1},
    {.temperature = 1.3, .top_k = 6, .top_p = 0.8, .min_p = 0.05},
    {.temperature = 0.6, .top_p = 0.95, .policy_logprob = false},
};

} // namespace

TEMPLATE_TEST_CASE("each sampler draws exactly the filtered distribution (chi-square)", "[sampling][chi2]",
                   float, double) {
  const index_t N = 60000;
  int idx = 0;
  for (const auto& c : configs) {
    CAPTURE(idx++);
    const auto p = rlvr::test::reference_probs(small_row, c);
    const auto d = draw_many<TestType>(small_row, c, N, 1234);
    const auto r = rlvr::test::chi2_test(histogram(d, small_row.size()), p, static_cast<double>(N));
    CAPTURE(r.stat, r.df, r.critical);
    CHECK(r.forbidden_hits == 0);
    CHECK(r.accepted());
  }
}

TEMPLATE_TEST_CASE("large-vocabulary threshold search draws the filtered distribution", "[sampling][chi2]",
                   float, double) {
  // V above the small-vocabulary cut-over, so top-k/top-p use the histogram + one-bin sort path.
  const index_t V = 2048, N = 16000;
  auto z = normal_logits(V, 2.0, 99);
  z[17] = z[18] = z[19] = 9.0; // ties at the top
  z[100] = ninf;
  const sampling_config cs[] = {
      {.temperature = 0.6, .top_p = 0.95},
      {.temperature = 1.0, .top_k = 50},
      {.temperature = 0.8, .top_k = 400, .top_p = 0.7},
      {.temperature = 1.0, .top_p = 0.5, .min_p = 0.001},
      {.temperature = 1.0},
      {.temperature = 1.0, .top_k = 20},                   // sampled-bound path (k ≤ V/64)
      {.temperature = 0.8, .top_k = 30, .top_p = 0.6},
      {.temperature = 1.0, .top_k = 2},                    // tie of three at the top: 3 kept
  };
  int idx = 0;
  for (const auto& c : cs) {
    CAPTURE(idx++);
    const auto p = rlvr::test::reference_probs(z, c);
    const auto d = draw_many<TestType>(z, c, N, 77);
    const auto r = rlvr::test::chi2_test(histogram(d, z.size()), p, static_cast<double>(N));
    CAPTURE(r.stat, r.df, r.critical);
    CHECK(r.forbidden_hits == 0);
    CHECK(r.accepted());
  }
}

TEST_CASE("the chi-square check rejects a deliberately wrong top-p sampler", "[sampling][chi2]") {
  // The classic off-by-one: keep only tokens whose mass *before* them is < p, minus the token that
  // crosses p. Drawn with the same Philox uniforms and inverse CDF as the real sampler.
  const sampling_config c{.temperature = 0.7, .top_p = 0.9};
  const auto p = rlvr::test::reference_probs(small_row, c);
  std::vector<double> wrong = p;
  double smallest = 2;
  std::size_t drop = 0;
  for (std::size_t v = 0; v < p.size(); ++v)
    if (p[v] > 0 && p[v] < smallest) smallest = p[v], drop = v;
  wrong[drop] = 0;
  double s = 0;
  for (double x : wrong) s += x;
  for (double& x : wrong) x /= s;
  const index_t N = 60000;
  const stream_batch st{.seed = 1234};
  std::vector<std::size_t> counts(p.size(), 0);
  for (index_t i = 0; i < N; ++i) {
    const double u = st.uniform(i);
    double acc = 0;
    std::size_t v = 0;
    for (; v < wrong.size(); ++v) {
      acc += wrong[v];
      if (acc > u && wrong[v] > 0) break;
    }
    counts[std::min(v, wrong.size() - 1)] += 1;
  }
  const auto bad = rlvr::test::chi2_test(counts, p, static_cast<double>(N));
  CAPTURE(bad.stat, bad.critical);
  CHECK(!bad.accepted());
  // A subtler bug: temperature 0.75 instead of 0.7 (no token is forbidden; only the χ² catches it).
  const auto p2 = rlvr::test::reference_probs(small_row, {.temperature = 0.75, .top_p = 0.9});
  const auto d2 = draw_many<double>(small_row, {.temperature = 0.75, .top_p = 0.9}, N, 1234);
  const auto r2 = rlvr::test::chi2_test(histogram(d2, small_row.size()), p, static_cast<double>(N));
  CAPTURE(r2.stat, r2.critical);
  CHECK(r2.forbidden_hits == 0);
  CHECK(!r2.accepted());
  CHECK(rlvr::test::chi2_test(histogram(d2, small_row.size()), p2, static_cast<double>(N)).accepted());
}

TEST_CASE("double rows: every token is the inverse CDF of its Philox uniform", "[sampling]") {
  for (const auto& c : configs) {
    const auto p = rlvr::test::reference_probs(small_row, c);
    const index_t N = 5000;
    const auto d = draw_many<double>(small_row, c, N, 555);
    const stream_batch st{.seed = 555};
    for (index_t i = 0; i < N; ++i) {
      const double u = st.uniform(i);
      double acc = 0;
      std::size_t v = 0, last = 0;
      for (; v < p.size(); ++v) {
        if (p[v] > 0) last = v;
        acc += p[v];
        if (acc > u && p[v] > 0) break;
      }
      if (v == p.size()) v = last;
      REQUIRE(d[static_cast<std::size_t>(i)].token == static_cast<index_t>(v));
      // log-probs: processed and policy (τ = 1, unfiltered)
      CHECK(d[static_cast<std::size_t>(i)].logprob == Approx(std::log(p[v])).epsilon(1e-12));
      if (c.policy_logprob) {
        double lse = 0;
        for (double z : small_row) lse += std::isinf(z) ? 0.0 : std::exp(z - 3.0);
        CHECK(d[static_cast<std::size_t>(i)].policy_logprob == Approx(small_row[v] - 3.0 - std::log(lse)).epsilon(1e-12));
      } else {
        CHECK(std::isnan(d[static_cast<std::size_t>(i)].policy_logprob));
      }
    }
  }
}

TEST_CASE("float log-probs agree with the double reference", "[sampling]") {
  const sampling_config c{.temperature = 0.6, .top_k = 5, .top_p = 0.9};
  const auto p = rlvr::test::reference_probs(small_row, c);
  const auto d = draw_many<float>(small_row, c, 2000, 3);
  double lse = 0;
  for (double z : small_row) lse += std::isinf(z) ? 0.0 : std::exp(z - 3.0);
  for (const auto& x : d) {
    const auto v = static_cast<std::size_t>(x.token);
    REQUIRE(p[v] > 0);
    CHECK(x.logprob == Approx(std::log(p[v])).margin(2e-6));
    CHECK(x.policy_logprob == Approx(small_row[v] - 3.0 - std::log(lse)).margin(2e-6));
  }
}

TEST_CASE("greedy returns the first maximal logit with log-prob 0 and the policy log-prob", "[sampling]") {
  const std::vector<float> z = {1.f, 4.f, -2.f, 4.f, 0.f, -std::numeric_limits<float>::infinity()};
  rlvr::matrix_view<const float> logits(z.data(), 2, 3); // rows {1,4,-2} and {4,0,-inf}
  const auto d = rlvr::sample(local_backend{}, logits, {.greedy = true}, {});
  CHECK(d[0].token == 1);
  CHECK(d[1].token == 0);
  CHECK(d[0].logprob == 0.0f);
  CHECK(d[0].policy_logprob == Approx(4.0 - std::log(std::exp(1.0) + std::exp(4.0) + std::exp(-2.0))).margin(1e-6));
  CHECK(d[1].policy_logprob == Approx(-std::log(1.0 + std::exp(-4.0))).margin(1e-6));
  // Ties: the first of equal maxima.
  const std::vector<double> t = {0.5, 2.0, 2.0, 2.0};
  CHECK(rlvr::sample(local_backend{}, rlvr::matrix_view<const double>(t.data(), 1, 4), {.greedy = true}, {})[0].token == 1);
}

TEST_CASE("tokens of zero probability are never drawn", "[sampling]") {
  // exp(−200) underflows in float and is a −inf-like zero weight; −inf is exactly zero.
  const std::vector<double> z = {0.0, -200.0, ninf, -1.0};
  for (const sampling_config& c : {sampling_config{}, sampling_config{.temperature = 0.3},
                                   sampling_config{.top_p = 0.99}}) {
    const auto d = draw_many<float>(z, c, 20000, 8);
    const auto h = histogram(d, z.size());
    CHECK(h[1] == 0);
    CHECK(h[2] == 0);
    CHECK(h[0] + h[3] == 20000);
  }
  // A row with one finite logit always gives it, log-prob 0.
  const std::vector<double> one = {ninf, ninf, 5.0, ninf};
  for (const auto& x : draw_many<double>(one, {.temperature = 0.5, .top_p = 0.5}, 100, 1)) {
    CHECK(x.token == 2);
    CHECK(x.logprob == 0.0);
  }
}

TEST_CASE("same seed gives the same draws for 1 2 and 3 threads and rows depend only on their own address",
          "[sampling][threads]") {
  const index_t N = 257, V = 3000;
  std::vector<float> z(static_cast<std::size_t>(N * V));
  {
    const auto zz = normal_logits(N * V, 3.0, 5);
    for (std::size_t i = 0; i < z.size(); ++i) z[i] = static_cast<float>(zz[i]);
  }
  rlvr::matrix_view<const float> logits(z.data(), N, V);
  for (const sampling_config& c : {sampling_config{}, sampling_config{.temperature = 0.6, .top_p = 0.95},
                                   sampling_config{.top_k = 20, .min_p = 0.01}}) {
    const stream_batch st{.seed = 9, .first_subsequence = 100, .offset = 3};
    const auto a = rlvr::sample(local_backend{1}, logits, c, st);
    const auto b = rlvr::sample(local_backend{2}, logits, c, st);
    const auto e = rlvr::sample(local_backend{3}, logits, c, st);
    for (index_t i = 0; i < N; ++i) {
      const auto k = static_cast<std::size_t>(i);
      REQUIRE(a[k].token == b[k].token);
      REQUIRE(a[k].token == e[k].token);
      REQUIRE(std::memcmp(&a[k].logprob, &b[k].logprob, sizeof(float)) == 0);
      REQUIRE(std::memcmp(&a[k].policy_logprob, &b[k].policy_logprob, sizeof(float)) == 0);
    }
    // Row 37 sampled alone with its own address gives the same draw.
    const std::uint64_t sub[1] = {137};
    const auto one = rlvr::sample(local_backend{1}, logits.block_rows(37, 1), c,
                                  {.seed = 9, .subsequences = rlvr::vector_view<const std::uint64_t>(sub, 1), .offset = 3});
    CHECK(one[0].token == a[37].token);
    CHECK(one[0].logprob == a[37].logprob);
    // Another offset (decode step) changes the draws.
    const auto later = rlvr::sample(local_backend{2}, logits, c, {.seed = 9, .first_subsequence = 100, .offset = 4});
    index_t same = 0;
    for (index_t i = 0; i < N; ++i) same += later[static_cast<std::size_t>(i)].token == a[static_cast<std::size_t>(i)].token;
    CHECK(same < N);
  }
}

TEST_CASE("per-row offsets address the Philox block of seed subsequence and offset exactly", "[sampling]") {
  const std::vector<double> z = {0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7};
  const std::uint64_t subs[3] = {5, 5, 6}, offs[3] = {0, 1, 0};
  rlvr::matrix_view<const double> logits(z.data(), 3, 8, 0);
  const stream_batch st{.seed = 3, .subsequences = {subs, 3}, .offsets = {offs, 3}};
  const auto d = rlvr::sample(local_backend{}, logits, {}, st);
  for (index_t i = 0; i < 3; ++i) {
    const double u = rlvr::philox_stream{3, subs[i]}.uniform(offs[i]);
    CHECK(st.uniform(i) == u);
    const auto p = rlvr::test::reference_probs(z, {});
    double acc = 0;
    index_t v = 0;
    for (; v < 8; ++v) {
      acc += p[static_cast<std::size_t>(v)];
      if (acc > u) break;
    }
    CHECK(d[static_cast<std::size_t>(i)].token == v);
  }
}

TEST_CASE("bad input raises rlvr errors naming the value", "[sampling][errors]") {
  std::vector<float> z = {0.f, 1.f, 2.f};
  rlvr::matrix_view<const float> logits(z.data(), 1, 3);
  const local_backend cpu{};
  auto msg_of = [&](const sampling_config& c) -> std::string {
    try {
      (void)rlvr::sample(cpu, logits, c, {});
    } catch (const rlvr::range_error& e) {
      return e.what();
    }
    return "no error";
  };
  CHECK_THAT(msg_of({.temperature = 0.0}), Catch::Contains("temperature = 0") && Catch::Contains("greedy"));
  CHECK_THAT(msg_of({.temperature = -1.5}), Catch::Contains("temperature = -1.5"));
  CHECK_THAT(msg_of({.temperature = std::nan("")}), Catch::Contains("temperature = nan"));
  CHECK_THAT(msg_of({.top_p = 0.0}), Catch::Contains("top_p = 0 is outside (0, 1]"));
  CHECK_THAT(msg_of({.top_p = 1.5}), Catch::Contains("top_p = 1.5"));
  CHECK_THAT(msg_of({.top_k = 0}), Catch::Contains("top_k = 0 must be >= 1"));
  CHECK_THAT(msg_of({.top_k = -3}), Catch::Contains("top_k = -3"));
  CHECK_THAT(msg_of({.min_p = 1.25}), Catch::Contains("min_p = 1.25"));
  CHECK_THAT(msg_of({.min_p = -0.1}), Catch::Contains("[rlvr.range]"));
  CHECK(msg_of({.temperature = 0.0, .greedy = true}) == "no error"); // τ is ignored for greedy

  z = {0.f, std::nanf(""), 2.f, 0.f, 1.f, 2.f};
  rlvr::matrix_view<const float> two(z.data(), 2, 3);
  try {
    (void)rlvr::sample(local_backend{2}, two, {}, {});
    FAIL("no error");
  } catch (const rlvr::numerical_error& e) {
    CHECK_THAT(e.what(), Catch::Contains("row 0") && Catch::Contains("column 1") && Catch::Contains("nan"));
  }
  z = {0.f, 1.f, 2.f, 0.f, std::numeric_limits<float>::infinity(), 2.f};
  CHECK_THROWS_WITH(rlvr::sample(cpu, two, {}, {}), Catch::Contains("row 1") && Catch::Contains("inf"));
  const float ni = -std::numeric_limits<float>::infinity();
  z = {0.f, 1.f, 2.f, ni, ni, ni};
  CHECK_THROWS_WITH(rlvr::sample(cpu, two, {.top_p = 0.5}, {}), Catch::Contains("row 1 has every logit = -inf"));
  CHECK_THROWS_WITH(rlvr::sample(cpu, two, {.greedy = true}, {}), Catch::Contains("row 1 has every logit = -inf"));

  std::vector<rlvr::token_draw<float>> out(1);
  CHECK_THROWS_AS(rlvr::sample(cpu, two, {}, {}, rlvr::vector_view<rlvr::token_draw<float>>(out)), rlvr::shape_error);
  const std::uint64_t subs[1] = {0};
  CHECK_THROWS_WITH(rlvr::sample(cpu, two, {}, {.subsequences = {subs, 1}}),
                    Catch::Contains("streams.subsequences: length 1 but 2 expected"));
  rlvr::matrix_view<const float> empty_cols(z.data(), 2, 0);
  CHECK_THROWS_AS(rlvr::sample(cpu, empty_cols, {}, {}), rlvr::shape_error);
  rlvr::matrix_view<const float> no_rows(z.data(), 0, 3);
  CHECK(rlvr::sample(cpu, no_rows, {}, {}).empty());
}

TEMPLATE_TEST_CASE("large-vocabulary top-p threshold inside a wide tie keeps the tied tokens together",
                   "[sampling][chi2]", float, double) {
  // 10 tokens at 2, 1200 tied at 0, the rest at -1: p = 0.5 puts the boundary inside the tie, so
  // the whole tied group is kept (the search must stop refining a range of equal values).
  const index_t V = 3000, N = 12000;
  std::vector<double> z(static_cast<std::size_t>(V), -1.0);
  for (std::size_t v = 0; v < 10; ++v) z[v * 7] = 2.0;
  for (std::size_t v = 0; v < 1200; ++v) z[100 + v] = 0.0;
  const sampling_config c{.temperature = 1.0, .top_p = 0.5};
  const auto p = rlvr::test::reference_probs(z, c);
  index_t kept = 0;
  for (double x : p) kept += x > 0;
  CHECK(kept == 1210);
  const auto d = draw_many<TestType>(z, c, N, 4242);
  const auto r = rlvr::test::chi2_test(histogram(d, z.size()), p, static_cast<double>(N));
  CAPTURE(r.stat, r.df, r.critical);
  CHECK(r.forbidden_hits == 0);
  CHECK(r.accepted());
}

TEST_CASE("min_p = 1 keeps exactly the maximal tokens and top_p = 1 is no filter", "[sampling]") {
  const std::vector<double> z = {1.0, 3.0, 2.0, 3.0, -1.0};
  const auto d = draw_many<float>(z, {.min_p = 1.0}, 4000, 21);
  const auto h = histogram(d, z.size());
  CHECK(h[1] + h[3] == 4000);
  CHECK(h[1] > 1800);
  CHECK(h[3] > 1800);
  for (const auto& x : d) CHECK(x.logprob == Approx(std::log(0.5)).margin(1e-6));
  const auto all = draw_many<double>(z, {.top_p = 1.0}, 3000, 22);
  const auto free = draw_many<double>(z, {}, 3000, 22);
  for (std::size_t i = 0; i < all.size(); ++i) REQUIRE(all[i].token == free[i].token);
}

TEMPLATE_TEST_CASE("top-k falls back to the histogram when the sampled bound is too high",
                   "[sampling][chi2]", float, double) {
  // Only the strided sample positions (every 4th of 4096) are large, so the bound from the sample
  // admits fewer than k = 60 weights and the exact histogram path must take over.
  const index_t V = 4096, N = 12000;
  auto z = normal_logits(V, 1.0, 31);
  for (index_t v = 0; v < V; ++v)
    if (v % 4 != 0) z[static_cast<std::size_t>(v)] -= 12.0;
  for (const sampling_config& c : {sampling_config{.top_k = 60}, sampling_config{.temperature = 0.7, .top_k = 64, .top_p = 0.8}}) {
    const auto p = rlvr::test::reference_probs(z, c);
    const auto d = draw_many<TestType>(z, c, N, 17);
    const auto r = rlvr::test::chi2_test(histogram(d, z.size()), p, static_cast<double>(N));
    CAPTURE(r.stat, r.df, r.critical);
    CHECK(r.forbidden_hits == 0);
    CHECK(r.accepted());
  }
}
