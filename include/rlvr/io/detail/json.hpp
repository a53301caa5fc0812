#pragma once
// A small, strict, streaming JSON reader/writer for safetensors headers (RFC 8259). Private to
// rlvr/io. Built for untrusted input:
//  - no document tree: the caller walks the header's fixed schema with a cursor and keeps only
//    what it needs, so memory is proportional to the header (never to the number of values, with
//    a large constant per value as a DOM would);
//  - values the schema does not use are validated and skipped without allocating;
//  - nesting depth is bounded, every read is bounds-checked, strings must be valid UTF-8;
//  - errors are rlvr::io_error naming the input and the byte offset.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "rlvr/error.hpp"

namespace rlvr::io::detail {

//! Index of the first byte of `s` where it stops being well-formed UTF-8 (RFC 3629: shortest
//! form, no surrogates, at most U+10FFFF), or `s.size()` if it is valid.
inline std::size_t utf8_error_at(std::string_view s) noexcept {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const std::size_t n = s.size();
  std::size_t i = 0;
  while (i < n) {
    const unsigned c = p[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    std::size_t len = 0;
    unsigned lo = 0x80, hi = 0xBF; // allowed range of the second byte
    if (c >= 0xC2 && c <= 0xDF) len = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
      len = 3;
      if (c == 0xE0) lo = 0xA0;      // no overlong 3-byte forms
      else if (c == 0xED) hi = 0x9F; // no UTF-16 surrogates
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4;
      if (c == 0xF0) lo = 0x90;      // no overlong 4-byte forms
      else if (c == 0xF4) hi = 0x8F; // nothing above U+10FFFF
    } else {
      return i;
    }
    if (n - i < len || p[i + 1] < lo || p[i + 1] > hi) return i;
    for (std::size_t k = 2; k < len; ++k)
      if (p[i + k] < 0x80 || p[i + k] > 0xBF) return i;
    i += len;
  }
  return n;
}

//! True if `s` is well-formed UTF-8.
inline bool valid_utf8(std::string_view s) noexcept { return utf8_error_at(s) == s.size(); }

//! `s` for an error message: at most `limit` bytes, bytes outside printable ASCII as \xNN.
inline std::string printable(std::string_view s, std::size_t limit = 64) {
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  for (std::size_t i = 0; i < s.size() && i < limit; ++i) {
    const auto u = static_cast<unsigned char>(s[i]);
    if (u >= 0x20 && u < 0x7F) out += s[i];
    else out += "\\x", out += hex[u >> 4], out += hex[u & 15];
  }
  if (s.size() > limit) out += "...";
  return out;
}

//! A cursor over JSON text. The caller drives it through the grammar it expects; every method
//! raises `io_error` ("<what>: corrupt safetensors header: JSON … at byte i") on malformed text.
class json_cursor {
public:
  static constexpr int max_depth = 64;

  json_cursor(std::string_view text, std::string_view what) : s_(text), what_(what) {}

  [[noreturn]] void error(std::string_view msg) const {
    fail<io_error>(what_, ": corrupt safetensors header: JSON ", msg, " at byte ", i_);
  }
  [[nodiscard]] std::size_t pos() const noexcept { return i_; }
  [[nodiscard]] std::string_view text() const noexcept { return s_; }

  //! The next non-blank character (not consumed); an error at the end of the text.
  char peek() {
    ws();
    if (i_ >= s_.size()) error("ends early");
    return s_[i_];
  }
  //! Consumes `c` (after blanks) or fails.
  void expect(char c) {
    if (peek() != c) error(std::string("expected '") + c + "'");
    ++i_;
  }
  //! Consumes `c` if it comes next.
  bool accept(char c) {
    if (peek() != c) return false;
    ++i_;
    return true;
  }
  //! After an element of an array (close = ']') or object (close = '}'): true if another follows.
  bool next(char close) {
    const char d = peek();
    ++i_;
    if (d == close) return false;
    if (d != ',') error(close == ']' ? "expected ',' or ']'" : "expected ',' or '}'");
    return true;
  }
  //! Only blanks remain.
  void finish() {
    ws();
    if (i_ != s_.size()) error("has unexpected trailing characters");
  }

  //! Reads a string literal (the next character must be '"') into `out`, decoding escapes; the
  //! result must be valid UTF-8.
  void string(std::string& out) {
    if (peek() != '"') error("expected a string");
    ++i_;
    out.clear();
    for (;;) {
      if (i_ >= s_.size()) error("ends inside a string");
      const char c = s_[i_++];
      if (c == '"') break;
      if (static_cast<unsigned char>(c) < 0x20) error("has a control character in a string");
      if (c != '\\') {
        out += c;
        continue;
      }
      if (i_ >= s_.size()) error("ends inside an escape");
      switch (s_[i_++]) {
      case '"': out += '"'; break;
      case '\\': out += '\\'; break;
      case '/': out += '/'; break;
      case 'b': out += '\b'; break;
      case 'f': out += '\f'; break;
      case 'n': out += '\n'; break;
      case 'r': out += '\r'; break;
      case 't': out += '\t'; break;
      case 'u': append_utf8(out, escaped_code_point()); break;
      default: error("has an unknown escape");
      }
    }
    // Escapes append complete sequences, never a lone continuation byte, so checking the decoded
    // string is the same as checking every raw run between escapes.
    if (!valid_utf8(out)) error("has a string that is not valid UTF-8");
  }

  //! Skips one value of any kind, checking its syntax; allocates nothing. Returns the raw text.
  std::string_view skip(int depth = 0) {
    if (depth > max_depth) error("nests too deeply");
    const char c = peek();
    const std::size_t b = i_;
    if (c == '{') {
      ++i_;
      if (!accept('}')) {
        do {
          skip_string();
          expect(':');
          (void)skip(depth + 1);
        } while (next('}'));
      }
    } else if (c == '[') {
      ++i_;
      if (!accept(']')) {
        do (void)skip(depth + 1);
        while (next(']'));
      }
    } else if (c == '"') {
      skip_string();
    } else if (c == 't') {
      literal("true");
    } else if (c == 'f') {
      literal("false");
    } else if (c == 'n') {
      literal("null");
    } else if (c == '-' || (c >= '0' && c <= '9')) {
      number();
    } else {
      error("has an unexpected character");
    }
    return s_.substr(b, i_ - b);
  }

  //! Reads one value that should be a non-negative integer ≤ 2⁶³ − 1. Returns it, or -1 if the
  //! value is valid JSON of another kind or range (`raw` gets its text for the message).
  std::int64_t uint_value(std::string_view& raw) {
    raw = skip(1);
    if (raw.empty() || raw[0] < '0' || raw[0] > '9') return -1;
    if (raw.size() > 1 && raw[0] == '0') return -1; // a fraction or exponent ("0.5", "0e1")
    std::uint64_t x = 0;
    for (char ch : raw) {
      if (ch < '0' || ch > '9') return -1; // fraction or exponent
      const auto d = static_cast<std::uint64_t>(ch - '0');
      if (x > (static_cast<std::uint64_t>(INT64_MAX) - d) / 10) return -1;
      x = x * 10 + d;
    }
    return static_cast<std::int64_t>(x);
  }

private:
  void ws() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n' || s_[i_] == '\r')) ++i_;
  }
  void literal(std::string_view lit) {
    if (s_.substr(i_, lit.size()) != lit) error("has an invalid literal");
    i_ += lit.size();
  }
  void number() {
    if (s_[i_] == '-') ++i_;
    if (i_ < s_.size() && s_[i_] == '0') ++i_; // RFC 8259: no leading zeros
    else digits();
    if (i_ < s_.size() && s_[i_] == '.') ++i_, digits();
    if (i_ < s_.size() && (s_[i_] == 'e' || s_[i_] == 'E')) {
      ++i_;
      if (i_ < s_.size() && (s_[i_] == '+' || s_[i_] == '-')) ++i_;
      digits();
    }
  }
  void digits() {
    const std::size_t d0 = i_;
    while (i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '9') ++i_;
    if (i_ == d0) error("has a malformed number");
  }
  void skip_string() {
    if (peek() != '"') error("expected a string");
    const std::size_t b = ++i_;
    for (;;) {
      if (i_ >= s_.size()) error("ends inside a string");
      const char c = s_[i_++];
      if (c == '"') break;
      if (static_cast<unsigned char>(c) < 0x20) error("has a control character in a string");
      if (c != '\\') continue;
      if (i_ >= s_.size()) error("ends inside an escape");
      const char e = s_[i_++];
      if (e == 'u') (void)escaped_code_point();
      else if (std::string_view("\"\\/bfnrt").find(e) == std::string_view::npos) error("has an unknown escape");
    }
    // Raw bytes between escapes must be UTF-8; escapes are well-formed by construction.
    const std::string_view body = s_.substr(b, i_ - 1 - b);
    if (!valid_utf8(body)) error("has a string that is not valid UTF-8");
  }
  unsigned hex4() {
    if (s_.size() - i_ < 4) error("ends inside a \\u escape");
    unsigned u = 0;
    for (int k = 0; k < 4; ++k) {
      const char h = s_[i_++];
      u <<= 4;
      if (h >= '0' && h <= '9') u |= static_cast<unsigned>(h - '0');
      else if (h >= 'a' && h <= 'f') u |= static_cast<unsigned>(h - 'a' + 10);
      else if (h >= 'A' && h <= 'F') u |= static_cast<unsigned>(h - 'A' + 10);
      else error("has a bad \\u escape");
    }
    return u;
  }
  // After "\u": the code point of one escape, or of a surrogate pair "\uD8xx\uDCxx".
  unsigned escaped_code_point() {
    unsigned cp = hex4();
    if (cp >= 0xD800 && cp <= 0xDBFF) {
      if (s_.size() - i_ < 2 || s_[i_] != '\\' || s_[i_ + 1] != 'u') error("has an unpaired surrogate");
      i_ += 2;
      const unsigned lo = hex4();
      if (lo < 0xDC00 || lo > 0xDFFF) error("has an unpaired surrogate");
      cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
    } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
      error("has an unpaired surrogate");
    }
    return cp;
  }
  static void append_utf8(std::string& out, unsigned cp) {
    if (cp < 0x80) out += static_cast<char>(cp);
    else if (cp < 0x800) out += static_cast<char>(0xC0 | (cp >> 6)), out += static_cast<char>(0x80 | (cp & 0x3F));
    else if (cp < 0x10000)
      out += static_cast<char>(0xE0 | (cp >> 12)), out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F)),
          out += static_cast<char>(0x80 | (cp & 0x3F));
    else
      out += static_cast<char>(0xF0 | (cp >> 18)), out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F)),
          out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F)), out += static_cast<char>(0x80 | (cp & 0x3F));
  }

  std::string_view s_;
  std::string_view what_;
  std::size_t i_ = 0;
};

//! Appends `s` as a JSON string literal (`s` must be valid UTF-8; the caller checks).
inline void json_write_string(std::string& out, std::string_view s) {
  out += '"';
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"') out += "\\\"";
    else if (c == '\\') out += "\\\\";
    else if (u < 0x20) {
      static constexpr char hex[] = "0123456789abcdef";
      out += "\\u00";
      out += hex[u >> 4];
      out += hex[u & 15];
    } else out += c;
  }
  out += '"';
}

} // namespace rlvr::io::detail
