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
//! This is an integrity check against corruption (a flipped bit, a truncated copy), computed
//! in portable C++ at a few hundred MB/s; it is not meant as a constant-time primitive.

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
  using digest = std::array<std::uint8_t, 32>;

  sha256() noexcept = default;

  //! Appends bytes to the message.
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
  void update(std::string_view s) noexcept { update(std::as_bytes(std::span<const char>(s.data(), s.size()))); }
  //! Appends `x` as 8 little-endian bytes (for hashing lengths and extents unambiguously).
  void update_u64(std::uint64_t x) noexcept {
    std::byte b[8];
    for (int i = 0; i < 8; ++i) b[i] = static_cast<std::byte>((x >> (8 * i)) & 0xFF);
    update(std::span<const std::byte>(b, 8));
  }

  //! Pads, processes the last block(s) and returns the digest.
  [[nodiscard]] digest finish() noexcept {
    const std::uint64_t bits = bits_;
    block_[fill_++] = 0x80;
    if (fill_ > 56) {
      while (fill_ < 64) block_[fill_++] = 0;
      compress();
      fill_ = 0;
    }
    while (fill_ < 56) block_[fill_++] = 0;
    for (int i = 7; i >= 0; --i) block_[fill_++] = static_cast<std::uint8_t>(bits >> (8 * i));
    compress();
    digest out{};
    for (std::size_t i = 0; i < 8; ++i)
      for (std::size_t k = 0; k < 4; ++k) out[4 * i + k] = static_cast<std::uint8_t>(h_[i] >> (24 - 8 * k));
    return out;
  }

private:
  static constexpr std::uint32_t rotr(std::uint32_t x, int n) noexcept { return (x >> n) | (x << (32 - n)); }
  void compress() noexcept {
    static constexpr std::uint32_t k[64] = {
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
        0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
        0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
        0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
        0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
        0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
        0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
        0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};
    std::uint32_t w[64];
    for (int t = 0; t < 16; ++t)
      w[t] = static_cast<std::uint32_t>(block_[4 * t]) << 24 | static_cast<std::uint32_t>(block_[4 * t + 1]) << 16 |
             static_cast<std::uint32_t>(block_[4 * t + 2]) << 8 | static_cast<std::uint32_t>(block_[4 * t + 3]);
    for (int t = 16; t < 64; ++t) {
      const std::uint32_t s0 = rotr(w[t - 15], 7) ^ rotr(w[t - 15], 18) ^ (w[t - 15] >> 3);
      const std::uint32_t s1 = rotr(w[t - 2], 17) ^ rotr(w[t - 2], 19) ^ (w[t - 2] >> 10);
      w[t] = s1 + w[t - 7] + s0 + w[t - 16];
    }
    std::uint32_t a = h_[0], b = h_[1], c = h_[2], d = h_[3], e = h_[4], f = h_[5], g = h_[6], h = h_[7];
    for (int t = 0; t < 64; ++t) {
      const std::uint32_t t1 = h + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + k[t] + w[t];
      const std::uint32_t t2 = (rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
      h = g;
      g = f;
      f = e;
      e = d + t1;
      d = c;
      c = b;
      b = a;
      a = t1 + t2;
    }
    h_[0] += a;
    h_[1] += b;
    h_[2] += c;
    h_[3] += d;
    h_[4] += e;
    h_[5] += f;
    h_[6] += g;
    h_[7] += h;
  }

  std::uint32_t h_[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
  std::uint8_t block_[64] = {};
  std::size_t fill_ = 0;
  std::uint64_t bits_ = 0;
};

//! Lower-case hex of a digest.
inline std::string to_hex(const sha256::digest& d) {
  static constexpr char hex[] = "0123456789abcdef";
  std::string s;
  s.reserve(64);
  for (std::uint8_t b : d) s += hex[b >> 4], s += hex[b & 15];
  return s;
}

//! SHA-256 of `s` as 64 hex digits.
inline std::string sha256_hex(std::string_view s) {
  sha256 h;
  h.update(s);
  return to_hex(h.finish());
}

} // namespace rlvr::io
