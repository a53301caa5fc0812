#pragma once
//! \file rlvr/io/sha256.hpp
//! \brief SHA-256 (FIPS 180-4), self-contained: content hashes for cached models and checkpoints.
//!
//!     rlvr::io::sha256 h;
//!     h.update(bytes);                       // any number of times
//!     std::string hex = rlvr::io::to_hex(h.finish());   // 64 lower-case hex digits
//!
//! The message is padded with a 1 bit, zeros and its length in bits (64-bit big-endian) to a
//! multiple of 512 bits; each 512-bit block W_0..15 is expanded to 64 words with
//! σ0(x) = ROTR7 ⊕ ROTR18 ⊕ SHR3, σ1(x) = ROTR17 ⊕ ROTR19 ⊕ SHR10,
//! W_t = σ1(W_{t−2}) + W_{t−7} + σ0(W_{t−15}) + W_{t−16}, and 64 rounds with
//! Σ0(a) = ROTR2 ⊕ ROTR13 ⊕ ROTR22, Σ1(e) = ROTR6 ⊕ ROTR11 ⊕ ROTR25, Ch(e,f,g) = (e∧f) ⊕ (¬e∧g),
//! Maj(a,b,c) = (a∧b) ⊕ (a∧c) ⊕ (b∧c), T1 = h + Σ1(e) + Ch + K_t + W_t, T2 = Σ0(a) + Maj
//! update the eight working words; the digest is H_0..7 big-endian. The tests check the FIPS
//! 180-4 example vectors ("abc", the empty message, the 448- and 896-bit messages, one million
//! 'a') and that any split of the input into `update` calls gives the same digest.
//!
//! ## What it is for
//! An integrity check against corruption — a flipped bit on disk, a truncated or half-copied
//! file — of files rlvr writes itself: rlvr-study stores the SHA-256 of a model's tensors in the
//! safetensors metadata and recomputes it on load. It is portable C++ (no platform crypto
//! library, no dependency), byte-order independent, and deterministic across compilers.
//!
//! ## What it is not
//! Not a constant-time primitive and not tuned for speed (one block at a time, no SIMD or SHA
//! instructions): fine for model checkpoints of megabytes to a few gigabytes, not meant for
//! authenticating secrets. For a keyed check, use a vetted library's HMAC.
//!
//! ## Interface
//! - `update(bytes)` / `update(string_view)` / `update_u64(x)` append to the message;
//! - `finish()` pads and returns the 32-byte digest (call it once);
//! - `to_hex(digest)` and `sha256_hex(string_view)` give the usual 64-hex-digit spelling.
//!
//! Hashing structured data: feed every variable-length part with its length first
//! (`update_u64(s.size()); update(s);`), so that two different sequences of parts can never
//! produce the same byte stream ("ab" + "c" vs "a" + "bc"). rlvr-study hashes a `state_dict`
//! that way: the tensor count, then per tensor its name, dtype, rank, extents and bytes.

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace rlvr::io {

//! Incremental SHA-256. `finish` may be called once; the object is then spent.
class sha256 {
public:
  //! The 256-bit result, H_0..H_7 as 32 big-endian bytes.
  using digest = std::array<std::uint8_t, 32>;

  //! An empty message (H = H^(0)).
  sha256() noexcept = default;

  //! Appends bytes to the message: fills the 64-byte block buffer and compresses each full
  //! block, so the digest depends only on the concatenation of all `update` inputs.
  void update(std::span<const std::byte> data) noexcept {
    for (const std::byte b : data) {
      block_[fill_++] = static_cast<std::uint8_t>(b);
      if (fill_ == 64) {
        compress();
        fill_ = 0;
      }
    }
    bits_ += static_cast<std::uint64_t>(data.size()) * 8u;
  }
  //! Appends the bytes of `s`.
  void update(std::string_view s) noexcept { update(std::as_bytes(std::span<const char>(s.data(), s.size()))); }
  //! Appends `x` as 8 little-endian bytes (for hashing lengths and extents unambiguously: a
  //! fixed width, so a length can never be confused with the data after it).
  void update_u64(std::uint64_t x) noexcept {
    std::byte b[8];
    for (int i = 0; i < 8; ++i) b[i] = static_cast<std::byte>((x >> (8 * i)) & 0xFF);
    update(std::span<const std::byte>(b, 8));
  }

  //! Pads, processes the last block(s) and returns the digest.
  [[nodiscard]] digest finish() noexcept {
    const std::uint64_t bits = bits_;
    // the 1 bit, then zeros up to 56 bytes mod 64 (one more block if the length does not fit)
    block_[fill_++] = 0x80;
    if (fill_ > 56) {
      while (fill_ < 64) block_[fill_++] = 0;
      compress();
      fill_ = 0;
    }
    while (fill_ < 56) block_[fill_++] = 0;
    // the message length in bits, 64-bit big-endian, closes the last block
    for (int i = 7; i >= 0; --i) block_[fill_++] = static_cast<std::uint8_t>(bits >> (8 * i));
    compress();
    // H_0..H_7, each big-endian
    digest out{};
    for (std::size_t i = 0; i < 8; ++i)
      for (std::size_t k = 0; k < 4; ++k) out[4 * i + k] = static_cast<std::uint8_t>(h_[i] >> (24 - 8 * k));
    return out;
  }

private:
  //! ROTR^n: rotation right by n (0 < n < 32).
  static constexpr std::uint32_t rotr(std::uint32_t x, int n) noexcept { return (x >> n) | (x << (32 - n)); }
  //! One application of the compression function to the 64-byte `block_` (FIPS 180-4 §6.2.2).
  void compress() noexcept {
    // K_0..K_63: the first 32 bits of the fractional parts of the cube roots of the first 64
    // primes (§4.2.2)
    static constexpr std::uint32_t k[64] = {
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
        0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
        0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
        0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
        0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
        0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
        0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
        0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};
    // message schedule: W_0..15 are the block's big-endian words, W_16..63 the σ recurrence
    std::uint32_t w[64];
    for (int t = 0; t < 16; ++t)
      w[t] = static_cast<std::uint32_t>(block_[4 * t]) << 24 | static_cast<std::uint32_t>(block_[4 * t + 1]) << 16 |
             static_cast<std::uint32_t>(block_[4 * t + 2]) << 8 | static_cast<std::uint32_t>(block_[4 * t + 3]);
    for (int t = 16; t < 64; ++t) {
      const std::uint32_t s0 = rotr(w[t - 15], 7) ^ rotr(w[t - 15], 18) ^ (w[t - 15] >> 3);
      const std::uint32_t s1 = rotr(w[t - 2], 17) ^ rotr(w[t - 2], 19) ^ (w[t - 2] >> 10);
      w[t] = s1 + w[t - 7] + s0 + w[t - 16];
    }
    // 64 rounds over the working variables v = (a, b, c, d, e, f, g, h), initialised from the
    // current hash value; each round computes T1 and T2, shifts the variables down by one
    // (h ← g, …, b ← a), adds T1 to the new e (the old d) and sets a = T1 + T2.
    std::uint32_t v[8];
    for (int i = 0; i < 8; ++i) v[i] = h_[i];
    for (int t = 0; t < 64; ++t) {
      const std::uint32_t e = v[4], a = v[0];
      const std::uint32_t t1 = v[7] + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & v[5]) ^ (~e & v[6])) + k[t] + w[t];
      const std::uint32_t t2 = (rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & v[1]) ^ (a & v[2]) ^ (v[1] & v[2]));
      for (int i = 7; i > 0; --i) v[i] = v[i - 1];
      v[4] += t1;
      v[0] = t1 + t2;
    }
    // the intermediate hash value: H_i += v_i (mod 2^32)
    for (int i = 0; i < 8; ++i) h_[i] += v[i];
  }

  //! H^(0): the first 32 bits of the fractional parts of the square roots of the first 8 primes
  //! (§5.3.3), then the running hash value.
  std::uint32_t h_[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
  std::uint8_t block_[64] = {}; //!< the block being filled
  std::size_t fill_ = 0;          //!< bytes of `block_` in use (< 64 between calls)
  std::uint64_t bits_ = 0;        //!< message length so far, in bits (mod 2^64, as the standard says)
};

//! Lower-case hex of a digest (64 characters, most significant byte first), the usual spelling
//! (`sha256sum`, Python's `hashlib.sha256(...).hexdigest()`).
inline std::string to_hex(const sha256::digest& d) {
  static constexpr char hex[] = "0123456789abcdef";
  std::string s;
  s.reserve(64);
  for (std::uint8_t b : d) s += hex[b >> 4], s += hex[b & 15];
  return s;
}

//! SHA-256 of `s` as 64 hex digits: `sha256_hex("abc")` is
//! "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad".
inline std::string sha256_hex(std::string_view s) {
  sha256 h;
  h.update(s);
  return to_hex(h.finish());
}

} // namespace rlvr::io
