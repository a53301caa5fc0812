#include <catch2/catch.hpp>
#include <rlvr/random/philox.hpp>

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

using rlvr::u32x2;
using rlvr::u32x4;

// philox.hpp does not include <random>, so the concept is checked here.
static_assert(std::uniform_random_bit_generator<rlvr::philox_engine>);

// Random123 tests/kat_vectors, the three "philox4x32 10" lines.
static_assert(rlvr::philox4x32_10(u32x4{{0, 0, 0, 0}}, u32x2{{0, 0}}) ==
              u32x4{{0x6627e8d5u, 0xe169c58du, 0xbc57ac4cu, 0x9b00dbd8u}});

TEST_CASE("Philox4x32-10 reproduces Random123's known-answer vectors", "[sampling][philox]") {
  struct kat {
    u32x4 ctr;
    u32x2 key;
    u32x4 want;
  };
  const kat kats[] = {
      {{{0, 0, 0, 0}}, {{0, 0}}, {{0x6627e8d5u, 0xe169c58du, 0xbc57ac4cu, 0x9b00dbd8u}}},
      {{{0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu}},
       {{0xffffffffu, 0xffffffffu}},
       {{0x408f276du, 0x41c83b0eu, 0xa20bc7c6u, 0x6d5451fdu}}},
      {{{0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u}},
       {{0xa4093822u, 0x299f31d0u}},
       {{0xd16cfe09u, 0x94fdccebu, 0x5001e420u, 0x24126ea1u}}},
  };
  for (const auto& k : kats) {
    const u32x4 got = rlvr::philox4x32_10(k.ctr, k.key);
    for (int i = 0; i < 4; ++i) CHECK(got[i] == k.want[i]);
  }
  // A different round count is a different function.
  CHECK(!(rlvr::philox4x32<7>(kats[0].ctr, kats[0].key) == kats[0].want));
}

TEST_CASE("stream addressing puts offset in ctr words 0-1 and subsequence in words 2-3 and seed in the key",
          "[sampling][philox]") {
  const std::uint64_t seed = 0x0123456789abcdefULL, sub = 0xfedcba9876543210ULL, off = 0x1122334455667788ULL;
  const u32x4 want = rlvr::philox4x32_10(u32x4{{0x55667788u, 0x11223344u, 0x76543210u, 0xfedcba98u}},
                                         u32x2{{0x89abcdefu, 0x01234567u}});
  CHECK(rlvr::philox_block(seed, sub, off) == want);
  CHECK(rlvr::philox_stream{seed, sub}.block(off) == want);
  // Neighbouring addresses differ in every coordinate.
  CHECK(!(rlvr::philox_block(seed + 1, sub, off) == want));
  CHECK(!(rlvr::philox_block(seed, sub + 1, off) == want));
  CHECK(!(rlvr::philox_block(seed, sub, off + 1) == want));
}

TEST_CASE("uniform conversions cover the unit interval exactly", "[sampling][philox]") {
  CHECK(rlvr::u01_from_u32(0) == 0.0f);
  CHECK(rlvr::u01_from_u32(0xffffffffu) == 1.0f - std::ldexp(1.0f, -24));
  CHECK(rlvr::u01_from_u64(0, 0) == 0.0);
  CHECK(rlvr::u01_from_u64(0xffffffffu, 0xffffffffu) == 1.0 - std::ldexp(1.0, -53));
  CHECK(rlvr::u01_from_u64(0, 0x80000000u) == 0.5);
  const u32x4 b = rlvr::philox_block(7, 3, 11);
  CHECK(rlvr::philox_stream{7, 3}.uniform(11) == rlvr::u01_from_u64(b[0], b[1]));
}

TEST_CASE("philox_engine yields the stream's words in order", "[sampling][philox]") {
  rlvr::philox_engine eng(42, 5, 10);
  for (std::uint64_t j = 0; j < 4 * 6; ++j) {
    const u32x4 b = rlvr::philox_block(42, 5, 10 + j / 4);
    CHECK(eng() == b[static_cast<int>(j % 4)]);
  }
}

TEST_CASE("philox uniforms and uniform_index are uniform (seeded moments and chi-square)",
          "[sampling][philox]") {
  rlvr::philox_engine eng(2024);
  const int n = 200000;
  double s = 0, s2 = 0;
  for (int i = 0; i < n; ++i) {
    const double u = eng.uniform();
    REQUIRE(u >= 0.0);
    REQUIRE(u < 1.0);
    s += u;
    s2 += u * u;
  }
  const double mean = s / n, var = s2 / n - mean * mean;
  CHECK(std::abs(mean - 0.5) < 5 * std::sqrt(1.0 / 12 / n));
  CHECK(std::abs(var - 1.0 / 12) < 0.002);
  // uniform_index over 7 cells (not a power of two: rejection is exercised)
  std::vector<double> cnt(7, 0.0);
  for (int i = 0; i < 70000; ++i) {
    const auto k = eng.uniform_index(7);
    REQUIRE(k < 7u);
    cnt[k] += 1;
  }
  double chi = 0;
  for (double c : cnt) chi += (c - 10000) * (c - 10000) / 10000;
  CHECK(chi < 40.0); // χ²(6) upper 1e-6 point ≈ 35.9… 40 is α < 1e-6
  CHECK(eng.uniform_index(1) == 0u);
}
