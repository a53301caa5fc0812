#pragma once
//! \file rlvr/random/philox.hpp
//! \brief Philox4x32-10 (Salmon et al., SC'11), counter-based streams and uniform conversions.
//!
//! Every random number in rlvr comes from this header. Philox4x32-R is a keyed bijection of a
//! 128-bit counter: `philox4x32<R>(ctr, key)` maps four 32-bit counter words and two 32-bit key
//! words to four 32-bit outputs with R rounds of
//!
//!     (c0, c1, c2, c3) ← (hi(M1·c2) ⊕ c1 ⊕ k0,  lo(M1·c2),  hi(M0·c0) ⊕ c3 ⊕ k1,  lo(M0·c0))
//!     (k0, k1)         ← (k0 + W0, k1 + W1)            (between rounds)
//!
//! with M0 = 0xD2511F53, M1 = 0xCD9E8D57, W0 = 0x9E3779B9, W1 = 0xBB67AE85 (Random123's
//! constants). R = 10 is the standard, crush-resistant choice and what `philox4x32_10` computes;
//! it reproduces Random123's published known-answer vectors (`tests/kat_vectors`), which the
//! tests check.
//!
//! ## Stream addressing (the contract other backends reproduce bit for bit)
//! A stream is named by (seed, subsequence); position `offset` in it is one 128-bit block:
//!
//! | Philox word | holds                                   |
//! |-------------|-----------------------------------------|
//! | key[0]      | seed bits 0–31                          |
//! | key[1]      | seed bits 32–63                         |
//! | ctr[0]      | offset bits 0–31                        |
//! | ctr[1]      | offset bits 32–63                       |
//! | ctr[2]      | subsequence bits 0–31                   |
//! | ctr[3]      | subsequence bits 32–63                  |
//!
//! so `block(seed, subsequence, offset) = philox4x32_10({lo(offset), hi(offset), lo(sub),
//! hi(sub)}, {lo(seed), hi(seed)})`. This is the layout of cuRAND's `curandStatePhilox4_32_10`
//! (key = seed; counter words 2–3 = subsequence; words 0–1 = offset / 4), so on a GPU
//! `curand_init(seed, sub, 4 * offset, &s); curand4(&s)` is expected to give the same block (not
//! tested here: no device). Because the block is a pure function of its address, a value never
//! depends on how many threads, rows per thread or kernels produced its neighbours.
//!
//! The samplers use one block per draw: (seed, subsequence = sequence id, offset = decode step);
//! see rlvr/sampling/sampler.hpp. Other uses (bootstrap resampling, test data) take their own
//! seeds or subsequences.
//!
//! Capacity: 2⁶⁴ seeds × 2⁶⁴ subsequences × 2⁶⁴ offsets, all distinct counters (Philox is a
//! bijection for a fixed key, so distinct addresses under one seed never give the same block by
//! construction, and blocks under different seeds are independent in practice). An offset is
//! never "consumed": reading block (s, q, t) twice gives the same value, which is the point — a
//! rerun, a resumed checkpoint or another backend reads exactly the numbers the first run read.
//!
//!     rlvr::philox_stream st{.seed = 42, .subsequence = 7};    // e.g. sequence 7 of a batch
//!     double u = st.uniform(/*offset=*/3);                       // decode step 3
//!     rlvr::philox_engine eng(42, 7);                            // host-side sequential words
//!     std::uint32_t i = eng.uniform_index(100);                  // uniform in [0, 100)
//!
//! ## Uniforms
//! - `u01_from_u32(x)  = (x >> 8) · 2⁻²⁴` ∈ [0, 1): 24 bits, every value exactly a float.
//! - `u01_from_u64(lo, hi) = ((hi·2³² + lo) >> 11) · 2⁻⁵³` ∈ [0, 1): 53 bits, exactly a double.
//! Both can return 0 and never return 1.
//!
//! Everything here is `constexpr` and `RLVR_HD`: usable in constant expressions, host loops and
//! CUDA kernels alike, with no state beyond its arguments.

#include <cstdint>

#include "rlvr/config.hpp"

namespace rlvr {

//! Four 32-bit words: a Philox counter or output block. `operator[]` is unchecked (i ∈ [0, 4)).
struct u32x4 {
  std::uint32_t w[4] = {0, 0, 0, 0};
  RLVR_HD constexpr std::uint32_t operator[](int i) const { return w[i]; }
  friend RLVR_HD constexpr bool operator==(const u32x4& a, const u32x4& b) {
    return a.w[0] == b.w[0] && a.w[1] == b.w[1] && a.w[2] == b.w[2] && a.w[3] == b.w[3];
  }
};

//! Two 32-bit words: a Philox key (k0 = w[0], k1 = w[1]).
struct u32x2 {
  std::uint32_t w[2] = {0, 0};
  RLVR_HD constexpr std::uint32_t operator[](int i) const { return w[i]; }
};

//! Philox constants (Random123 names: PHILOX_M4x32_0/1, PHILOX_W32_0/1).
inline constexpr std::uint32_t philox_m0 = 0xD2511F53u;
inline constexpr std::uint32_t philox_m1 = 0xCD9E8D57u;
inline constexpr std::uint32_t philox_w0 = 0x9E3779B9u;
inline constexpr std::uint32_t philox_w1 = 0xBB67AE85u;

namespace detail {
// One Philox S-box round (the formula in the file comment). The 32×32 → 64-bit products are formed
// in uint64_t so that hi/lo are exact on every host and device (no mulhi intrinsic needed);
// unsigned arithmetic wraps, so there is no undefined behaviour for any input.
RLVR_HD constexpr void philox_round(std::uint32_t (&c)[4], std::uint32_t k0, std::uint32_t k1) {
  const std::uint64_t p0 = static_cast<std::uint64_t>(philox_m0) * c[0];
  const std::uint64_t p1 = static_cast<std::uint64_t>(philox_m1) * c[2];
  const std::uint32_t hi0 = static_cast<std::uint32_t>(p0 >> 32), lo0 = static_cast<std::uint32_t>(p0);
  const std::uint32_t hi1 = static_cast<std::uint32_t>(p1 >> 32), lo1 = static_cast<std::uint32_t>(p1);
  c[0] = hi1 ^ c[1] ^ k0;
  c[1] = lo1;
  c[2] = hi0 ^ c[3] ^ k1;
  c[3] = lo0;
}
} // namespace detail

//! Philox4x32 with `Rounds` rounds: the keyed bijection of the 128-bit counter `ctr`.
//! Rounds ∈ [1, 16] (checked at compile time); 10 is the standard round count, with a safety
//! margin over the fewest rounds that pass statistical tests, so other counts are for tests and
//! experiments only. The key is bumped by (W0, W1) before every round but the first (Random123's
//! schedule).
template <int Rounds>
[[nodiscard]] RLVR_HD constexpr u32x4 philox4x32(u32x4 ctr, u32x2 key) noexcept {
  static_assert(Rounds >= 1 && Rounds <= 16, "philox4x32: Rounds must be in [1, 16] (10 is standard)");
  std::uint32_t c[4] = {ctr.w[0], ctr.w[1], ctr.w[2], ctr.w[3]};
  std::uint32_t k0 = key.w[0], k1 = key.w[1];
  for (int r = 0; r < Rounds; ++r) {
    if (r > 0) {
      k0 += philox_w0;
      k1 += philox_w1;
    }
    detail::philox_round(c, k0, k1);
  }
  return u32x4{{c[0], c[1], c[2], c[3]}};
}

//! Philox4x32-10, the standard variant.
[[nodiscard]] RLVR_HD constexpr u32x4 philox4x32_10(u32x4 ctr, u32x2 key) noexcept {
  return philox4x32<10>(ctr, key);
}

//! The block at (seed, subsequence, offset); word layout in the file comment. The address →
//! block map is the contract shared by every backend (and by a resumed run): do not change it.
[[nodiscard]] RLVR_HD constexpr u32x4 philox_block(std::uint64_t seed, std::uint64_t subsequence,
                                                   std::uint64_t offset) noexcept {
  const u32x4 ctr{{static_cast<std::uint32_t>(offset), static_cast<std::uint32_t>(offset >> 32),
                   static_cast<std::uint32_t>(subsequence),
                   static_cast<std::uint32_t>(subsequence >> 32)}};
  const u32x2 key{{static_cast<std::uint32_t>(seed), static_cast<std::uint32_t>(seed >> 32)}};
  return philox4x32_10(ctr, key);
}

//! (x >> 8) · 2⁻²⁴ ∈ [0, 1): a float uniform with 24 random bits. The low 8 bits are dropped so
//! that every result is exactly representable: converting all 32 bits would round values near 1
//! up to 1.0f.
[[nodiscard]] RLVR_HD constexpr float u01_from_u32(std::uint32_t x) noexcept {
  return static_cast<float>(x >> 8) * (1.0f / 16777216.0f);
}

//! ((hi·2³² + lo) >> 11) · 2⁻⁵³ ∈ [0, 1): a double uniform with 53 random bits.
[[nodiscard]] RLVR_HD constexpr double u01_from_u64(std::uint32_t lo, std::uint32_t hi) noexcept {
  const std::uint64_t x = (static_cast<std::uint64_t>(hi) << 32) | lo;
  return static_cast<double>(x >> 11) * (1.0 / 9007199254740992.0);
}

//! A named stream: (seed, subsequence). Positions in it are offsets; see the file comment.
//! Stateless: random access to any offset in O(1) (10 rounds), safe to share between threads.
struct philox_stream {
  std::uint64_t seed = 0;
  std::uint64_t subsequence = 0;

  //! The 128-bit block at `offset`.
  [[nodiscard]] RLVR_HD constexpr u32x4 block(std::uint64_t offset) const noexcept {
    return philox_block(seed, subsequence, offset);
  }
  //! The double uniform of block `offset`: `u01_from_u64(w[0], w[1])`.
  [[nodiscard]] RLVR_HD constexpr double uniform(std::uint64_t offset) const noexcept {
    const u32x4 b = block(offset);
    return u01_from_u64(b.w[0], b.w[1]);
  }
};

//! A sequential view of one stream as a C++ `std::uniform_random_bit_generator` yielding 32-bit
//! words: word j is `block(j / 4).w[j % 4]`. Deterministic and cheap to copy; use it for host-side
//! randomness (bootstrap resampling, test data). Prefer `uniform_index` over
//! `std::uniform_int_distribution`, whose algorithm differs between standard libraries.
//! (Models `std::uniform_random_bit_generator`; tests/sampling/test_philox.cpp asserts it, so
//! that this header need not include `<random>`.) Constructed with an `offset`, word j (counting
//! from construction) is `block(offset + j / 4).w[j % 4]`. One engine is not thread-safe; give
//! each thread or task its own (seed, subsequence) instead, which keeps results independent of
//! the thread count. The default-constructed engine is the stream (0, 0).
class philox_engine {
public:
  using result_type = std::uint32_t;
  constexpr philox_engine() = default;
  constexpr explicit philox_engine(std::uint64_t seed, std::uint64_t subsequence = 0,
                                   std::uint64_t offset = 0) noexcept
      : stream_{seed, subsequence}, next_block_(offset) {}

  static constexpr result_type min() noexcept { return 0; }
  static constexpr result_type max() noexcept { return 0xFFFFFFFFu; }

  constexpr result_type operator()() noexcept {
    if (lane_ == 4) {
      buf_ = stream_.block(next_block_++);
      lane_ = 0;
    }
    return buf_.w[lane_++];
  }
  //! A double uniform in [0, 1) from the next two words (53 bits).
  constexpr double uniform() noexcept {
    const std::uint32_t lo = (*this)(), hi = (*this)();
    return u01_from_u64(lo, hi);
  }
  //! An exactly uniform integer in [0, n) (Lemire's multiply-and-reject on 32 bits); 0 for n = 0.
  //! The result is the high word of x·n for a random 32-bit x; the low word falls below
  //! 2³² mod n (the `threshold`) for the biased x, which are rejected: at most n / 2³² of draws
  //! cost an extra word, and the modulo runs only when a rejection is possible (low < n).
  constexpr std::uint32_t uniform_index(std::uint32_t n) noexcept {
    if (n == 0) return 0;
    std::uint64_t m = static_cast<std::uint64_t>((*this)()) * n;
    std::uint32_t low = static_cast<std::uint32_t>(m);
    if (low < n) {
      const std::uint32_t threshold = static_cast<std::uint32_t>(-n) % n;
      while (low < threshold) {
        m = static_cast<std::uint64_t>((*this)()) * n;
        low = static_cast<std::uint32_t>(m);
      }
    }
    return static_cast<std::uint32_t>(m >> 32);
  }

private:
  philox_stream stream_{};
  std::uint64_t next_block_ = 0;
  u32x4 buf_{};
  int lane_ = 4;
};
} // namespace rlvr
