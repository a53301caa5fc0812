// The CUDA split-row sampler's draw (rlvr/backends/cuda/detail/split_draw.hpp), replayed on the
// host with the kernel's partition: chunks per block of the cluster, segments per warp, lane-
// strided segment sums reduced by the warp's xor butterfly, per-block totals in warp order, S_K
// in rank order, the crossing chunk and then the crossing segment by `find_crossing`, and a walk
// of that segment. The token must be the exact inverse CDF's (smallest id j with
// Σ_{v ≤ j} w_v > u·S_K, computed in long double) except where u·S_K lies within rounding of a
// CDF step, and always a kept token. Chunk shapes include rows shorter than the cluster (empty
// chunks) and rows whose kept tokens sit in a single chunk.
#include <catch2/catch.hpp>

#include <array>
#include <cmath>
#include <cstdint>
#include <vector>

#include <rlvr/backends/cuda/detail/split_draw.hpp>

namespace {

using rlvr::index_t;
using namespace rlvr::cuda::detail;

struct lcg {
  std::uint64_t s;
  double next() {
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    return static_cast<double>(s >> 11) * 0x1.0p-53;
  }
};

// The kernel's draw for kept weights `w` (0 = not kept) and uniform u, with `blocks` blocks of
// `warps` warps.
index_t replay_draw(const std::vector<float>& w, int blocks, int warps, double u) {
  const auto n = static_cast<index_t>(w.size());
  std::vector<double> part(static_cast<std::size_t>(blocks));
  std::vector<std::vector<double>> seg(static_cast<std::size_t>(blocks), std::vector<double>(static_cast<std::size_t>(warps)));
  for (int r = 0; r < blocks; ++r) {
    index_t lo = 0, hi = 0;
    split_chunk(0, n, blocks, r, lo, hi);
    double bsum = 0.0;
    for (int g = 0; g < warps; ++g) {
      index_t b0 = 0, b1 = 0;
      split_chunk(lo, hi, warps, g, b0, b1);
      std::array<double, 32> lane{};
      for (index_t v = b0; v < b1; ++v) lane[static_cast<std::size_t>((v - b0) % 32)] += static_cast<double>(w[static_cast<std::size_t>(v)]);
      for (int o = 16; o > 0; o /= 2) { // __shfl_xor_sync butterfly: every lane ends with lane 0's value
        std::array<double, 32> next{};
        for (int l = 0; l < 32; ++l) next[static_cast<std::size_t>(l)] = lane[static_cast<std::size_t>(l)] + lane[static_cast<std::size_t>(l ^ o)];
        lane = next;
      }
      seg[static_cast<std::size_t>(r)][static_cast<std::size_t>(g)] = lane[0];
      bsum += lane[0];
    }
    part[static_cast<std::size_t>(r)] = bsum;
  }
  double sk = 0.0;
  for (double p : part) sk += p;
  const double target = u * sk;
  const crossing cb = find_crossing(part.data(), blocks, target, 0.0);
  const crossing cw = find_crossing(seg[static_cast<std::size_t>(cb.index)].data(), warps, target, cb.base);
  index_t lo = 0, hi = 0, b0 = 0, b1 = 0;
  split_chunk(0, n, blocks, cb.index, lo, hi);
  split_chunk(lo, hi, warps, cw.index, b0, b1);
  double c = cw.base;
  index_t last = -1;
  for (index_t v = b0; v < b1; ++v) {
    const float x = w[static_cast<std::size_t>(v)];
    if (x <= 0.0f) continue;
    last = v;
    c += static_cast<double>(x);
    if (c > target) return v;
  }
  return last;
}

// The exact answer and whether u·S lies within `tol` (relative) of a CDF step.
index_t exact_draw(const std::vector<float>& w, double u, double tol, bool& near_step) {
  long double s = 0;
  for (float x : w) s += static_cast<long double>(x);
  const long double target = static_cast<long double>(u) * s;
  long double c = 0;
  index_t pick = -1;
  near_step = false;
  for (std::size_t v = 0; v < w.size(); ++v) {
    if (w[v] <= 0.0f) continue;
    c += static_cast<long double>(w[v]);
    if (std::fabs(static_cast<double>(c - target)) <= tol * static_cast<double>(s)) near_step = true;
    if (pick < 0 && c > target) pick = static_cast<index_t>(v);
  }
  if (pick < 0) near_step = true; // u·S at the very end: the rounding fallback decides
  return pick;
}

} // namespace

TEST_CASE("split_chunk tiles a range into ordered contiguous parts", "[backends][cuda][split]") {
  for (index_t n : {0, 1, 5, 7, 8, 9, 16, 100, 151936}) {
    for (int parts : {1, 2, 3, 4, 8, 16}) {
      index_t expect = 3;
      index_t per = (n + parts - 1) / parts;
      for (int r = 0; r < parts; ++r) {
        index_t lo = 0, hi = 0;
        split_chunk(3, 3 + n, parts, r, lo, hi);
        CHECK(lo == expect);
        CHECK(hi >= lo);
        CHECK(hi - lo <= per);
        expect = hi;
      }
      CHECK(expect == 3 + n);
    }
  }
  index_t lo = 0, hi = 0;
  split_chunk(0, 5, 8, 6, lo, hi); // 5 tokens over 8 blocks: blocks 5…7 own nothing
  CHECK(lo == 5);
  CHECK(hi == 5);
}

TEST_CASE("find_crossing: first part whose running sum exceeds the target, else the last non-empty",
          "[backends][cuda][split]") {
  const double sums[] = {1.0, 0.0, 2.0, 0.5, 0.0};
  auto c = find_crossing(sums, 5, 0.0, 0.0);
  CHECK(c.index == 0);
  CHECK(c.base == 0.0);
  c = find_crossing(sums, 5, 1.0, 0.0); // running sum 1 is not > 1: part 2 (part 1 is empty)
  CHECK(c.index == 2);
  CHECK(c.base == 1.0);
  c = find_crossing(sums, 5, 3.2, 10.0); // base 10 already exceeds 3.2: part 0
  CHECK(c.index == 0);
  CHECK(c.base == 10.0);
  c = find_crossing(sums, 5, 3.25, 0.0);
  CHECK(c.index == 3);
  CHECK(c.base == 3.0);
  c = find_crossing(sums, 5, 3.5, 0.0); // at the end (rounding): the last non-empty part, 3
  CHECK(c.index == 3);
  CHECK(c.base == 3.0);
  const double zeros[] = {0.0, 0.0, 0.0};
  c = find_crossing(zeros, 3, 0.0, 0.0);
  CHECK(c.index == 0);
  CHECK(c.base == 0.0);
}

TEST_CASE("split-row draw replay equals the exact inverse CDF", "[backends][cuda][split]") {
  lcg rng{12345};
  struct shape {
    index_t n;
    int blocks, warps;
    double keep; // fraction of kept tokens
  };
  const shape shapes[] = {{5, 8, 8, 1.0},    {16, 8, 8, 0.5},    {97, 4, 4, 0.9},     {1000, 2, 16, 0.3},
                          {5000, 8, 8, 0.05}, {5000, 4, 4, 1.0},  {20000, 8, 8, 0.001}, {151936, 8, 8, 0.0005},
                          {151936, 8, 8, 1.0}, {151936, 2, 16, 0.01}};
  int draws = 0, near = 0;
  for (const auto& sh : shapes) {
    std::vector<float> w(static_cast<std::size_t>(sh.n));
    for (auto& x : w) {
      const double e = rng.next();
      x = rng.next() < sh.keep ? static_cast<float>(std::exp(-30.0 * e)) : 0.0f;
    }
    w[static_cast<std::size_t>((sh.n * 3) / 4)] = 1.0f; // the max is kept
    for (int k = 0; k < 200; ++k) {
      const double u = k == 0 ? 0.0 : k == 1 ? std::nextafter(1.0, 0.0) : rng.next();
      bool near_step = false;
      const index_t want = exact_draw(w, u, 1e-12, near_step);
      const index_t got = replay_draw(w, sh.blocks, sh.warps, u);
      ++draws;
      REQUIRE(got >= 0);
      REQUIRE(got < sh.n);
      REQUIRE(w[static_cast<std::size_t>(got)] > 0.0f); // never a token outside the kept set
      if (near_step) {
        ++near;
        continue;
      }
      INFO("n " << sh.n << " blocks " << sh.blocks << " warps " << sh.warps << " u " << u);
      REQUIRE(got == want);
    }
  }
  CHECK(near <= draws / 100); // boundary cases stay rare
}

TEST_CASE("split-row draw: all the kept mass in one chunk", "[backends][cuda][split]") {
  // Only tokens 40…47 of 1000 kept: block 0 of 8 owns them; the other blocks' totals are 0.
  std::vector<float> w(1000, 0.0f);
  for (int v = 40; v < 48; ++v) w[static_cast<std::size_t>(v)] = 1.0f;
  for (int k = 0; k < 8; ++k) {
    const double u = (k + 0.5) / 8.0;
    CHECK(replay_draw(w, 8, 8, u) == 40 + k);
  }
  // u at the top end: the last kept token, 47.
  CHECK(replay_draw(w, 8, 8, std::nextafter(1.0, 0.0)) == 47);
  // Only the last token kept: the last chunk.
  std::vector<float> z(1000, 0.0f);
  z[999] = 0.25f;
  CHECK(replay_draw(z, 8, 8, 0.0) == 999);
  CHECK(replay_draw(z, 8, 8, 0.999) == 999);
}
