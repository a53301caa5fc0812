// The GPU samplers' threshold search (rlvr/backends/cuda/detail/radix_select.hpp), replayed
// sequentially on the host: the three-level radix select must give exactly the thresholds a sort
// gives (k-th largest weight; top-p by fixed-point mass, ties together), and the whole GPU
// algorithm (weights, thresholds, segment sums, inverse CDF) must draw the host samplers' tokens
// except at rounding boundaries. The kernel's parallel scan implements the same `radix_descend`
// rule, so this pins the digit layout, masks, fixed-point masses and fallbacks without a GPU.
#include <catch2/catch.hpp>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <functional>
#include <vector>

#include <rlvr/backends/cuda/detail/radix_select.hpp>
#include <rlvr/backends/serial.hpp>
#include <rlvr/random/philox.hpp>
#include <rlvr/sampling/sampler.hpp>

namespace {

using namespace rlvr::cuda::detail;

float radix_threshold(const std::vector<float>& w, bool by_mass, std::uint64_t k, double fraction, float lower) {
  std::uint32_t prefix = 0;
  unsigned long long above = 0, need = k;
  std::vector<unsigned long long> hist(radix_max_bins);
  for (int level = 0; level < 3; ++level) {
    std::fill(hist.begin(), hist.end(), 0ull);
    for (float x : w) {
      if (x < lower) continue;
      const auto bits = std::bit_cast<std::uint32_t>(x);
      if ((bits & radix_prefix_mask(level)) != prefix) continue;
      hist[radix_digit(bits, level)] += by_mass ? radix_mass(x) : 1ull;
    }
    if (by_mass && level == 0) {
      unsigned long long total = 0;
      for (auto h : hist) total += h;
      need = radix_mass_need(fraction, total);
    }
    prefix |= radix_descend(hist.data(), radix_bins(level), need, above) << radix_shift(level);
  }
  return std::bit_cast<float>(prefix);
}

float sorted_top_k(std::vector<float> w, std::size_t k) {
  std::sort(w.begin(), w.end(), std::greater<float>());
  return w[k - 1];
}

float sorted_top_p(const std::vector<float>& w, double fraction, float lower) {
  std::vector<float> kept;
  for (float x : w)
    if (x >= lower) kept.push_back(x);
  std::sort(kept.begin(), kept.end(), std::greater<float>());
  unsigned long long total = 0;
  for (float x : kept) total += radix_mass(x);
  const unsigned long long need = radix_mass_need(fraction, total);
  unsigned long long acc = 0;
  std::size_t i = 0;
  while (i < kept.size()) {
    const float x = kept[i];
    while (i < kept.size() && kept[i] == x) acc += radix_mass(kept[i++]);
    if (acc >= need) return x;
  }
  return kept.back();
}

std::vector<float> weights(rlvr::philox_engine& eng, std::size_t v, double scale, double tau, bool ties) {
  std::vector<float> z(v);
  for (auto& x : z) x = static_cast<float>(scale * (2.0 * eng.uniform() - 1.0));
  if (ties)
    for (auto& x : z) x = std::round(x);
  const float m = *std::max_element(z.begin(), z.end());
  const auto inv = static_cast<float>(1.0 / tau);
  std::vector<float> w(v);
  for (std::size_t j = 0; j < v; ++j) w[j] = std::exp((z[j] - m) * inv);
  return w;
}

} // namespace

TEST_CASE("radix select equals the sort-based thresholds exactly", "[backends][cuda][sampling]") {
  rlvr::philox_engine eng(99);
  for (int trial = 0; trial < 60; ++trial) {
    const std::size_t v = trial % 3 == 0 ? 50 : (trial % 3 == 1 ? 5000 : 40000);
    const bool ties = trial % 4 == 0;
    const auto w = weights(eng, v, trial % 2 ? 8.0 : 3.0, trial % 5 == 0 ? 1.0 : 0.6, ties);
    for (std::size_t k : {std::size_t{1}, std::size_t{2}, std::size_t{7}, std::size_t{50}, v / 2}) {
      if (k >= v) continue;
      INFO("trial " << trial << " V " << v << " k " << k);
      CHECK(radix_threshold(w, false, k, 0.0, 0.0f) == sorted_top_k(w, k));
    }
    for (double p : {0.1, 0.5, 0.9, 0.95, 0.999}) {
      INFO("trial " << trial << " V " << v << " p " << p);
      CHECK(radix_threshold(w, true, 0, p, 0.0f) == sorted_top_p(w, p, 0.0f));
      const float tk = sorted_top_k(w, std::min<std::size_t>(v - 1, 20));
      CHECK(radix_threshold(w, true, 0, p, tk) == sorted_top_p(w, p, tk)); // top-p after top-k
    }
  }
}

TEST_CASE("descend: exact crossing, ties and the rounding fallback", "[backends][cuda][sampling]") {
  const unsigned long long h[6] = {4, 0, 3, 0, 2, 1}; // bins 5 (top) … 0
  unsigned long long above = 0;
  CHECK(radix_descend(h, 6, 1, above) == 5);
  CHECK(above == 0);
  above = 0;
  CHECK(radix_descend(h, 6, 3, above) == 4);
  CHECK(above == 1);
  above = 0;
  CHECK(radix_descend(h, 6, 4, above) == 2); // 1 + 2 = 3 < 4 ≤ 6
  CHECK(above == 3);
  above = 0;
  CHECK(radix_descend(h, 6, 100, above) == 0); // short: lowest non-empty bin, everything above it
  CHECK(above == 6);
  CHECK(radix_mass_need(0.95, 100) == 95);
  CHECK(radix_mass_need(0.951, 100) == 96);
  CHECK(radix_mass_need(0.0, 100) == 1);
  CHECK(radix_mass(1.0f) == (1ull << 40));
  CHECK(radix_digit(std::bit_cast<std::uint32_t>(1.0f), 0) == 2032);
}

TEST_CASE("the GPU sampling algorithm, replayed on the host, draws the host samplers' tokens",
          "[backends][cuda][sampling]") {
  const rlvr::index_t n = 600, v = 3000;
  rlvr::philox_engine eng(7);
  std::vector<float> z(static_cast<std::size_t>(n * v));
  for (auto& x : z) x = static_cast<float>(6.0 * (eng.uniform() - 0.5));
  for (const rlvr::sampling_config& cfg :
       {rlvr::sampling_config{.temperature = 1.0}, rlvr::sampling_config{.temperature = 0.6, .top_p = 0.95},
        rlvr::sampling_config{.temperature = 0.7, .top_k = 40}, rlvr::sampling_config{.temperature = 0.8, .min_p = 0.05},
        rlvr::sampling_config{.temperature = 0.7, .top_k = 200, .top_p = 0.9}}) {
    const rlvr::stream_batch streams{.seed = 11, .first_subsequence = 3};
    const auto host = rlvr::sample(rlvr::serial_backend{}, rlvr::matrix_view<const float>(z.data(), n, v), cfg, streams);
    const auto p = cfg.params();
    int differ = 0;
    for (rlvr::index_t i = 0; i < n; ++i) {
      const float* row = z.data() + i * v;
      const float m = *std::max_element(row, row + v);
      const auto inv = static_cast<float>(1.0 / p.temperature);
      std::vector<float> w(static_cast<std::size_t>(v));
      for (rlvr::index_t j = 0; j < v; ++j) w[static_cast<std::size_t>(j)] = std::exp((row[j] - m) * inv);
      float tk = 0.0f, tp = 0.0f;
      if (p.top_k > 0 && p.top_k < v) tk = radix_threshold(w, false, static_cast<std::uint64_t>(p.top_k), 0.0, 0.0f);
      if (p.top_p < 1.0) tp = radix_threshold(w, true, 0, p.top_p, tk);
      const float t = std::max({tk, tp, static_cast<float>(p.min_p)});
      // 16 contiguous segments (the kernel's warps), summed in order in double
      constexpr rlvr::index_t warps = 16;
      const rlvr::index_t seg = (v + warps - 1) / warps;
      double sums[warps] = {};
      for (rlvr::index_t j = 0; j < v; ++j) {
        const float x = w[static_cast<std::size_t>(j)];
        if (x >= t && x > 0.0f) sums[j / seg] += x;
      }
      double sk = 0;
      for (double s : sums) sk += s;
      const double target = streams.uniform(i) * sk;
      double c = 0;
      rlvr::index_t token = -1;
      for (rlvr::index_t j = 0; j < v && token < 0; ++j) {
        const float x = w[static_cast<std::size_t>(j)];
        if (x >= t && x > 0.0f) {
          c += x;
          if (c > target) token = j;
        }
      }
      differ += token != host[static_cast<std::size_t>(i)].token;
    }
    INFO("temperature " << p.temperature << " top_k " << p.top_k << " top_p " << p.top_p << " min_p " << p.min_p);
    CHECK(differ <= 2); // of 600 rows; rounding boundaries only
  }
}
