#pragma once
// A small, strict JSON reader/writer for safetensors headers (RFC 8259 subset: every value kind
// is parsed; numbers are kept as text). Private to rlvr/io. Built for untrusted input: bounded
// nesting depth, every read bounds-checked, errors as rlvr::io_error with the byte offset.
#include <charconv>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "rlvr/error.hpp"

namespace rlvr::io::detail {

struct json_value {
  enum class kind { null, boolean, number, string, array, object };
  kind k = kind::null;
  bool boolean = false;
  std::string text; // string contents, or the number's literal text
  std::vector<json_value> array;    // array elements, or an object's values
  std::vector<std::string> keys;    // an object's keys (keys[i] names array[i]), in file order

  [[nodiscard]] const json_value* find(std::string_view key) const {
    for (std::size_t i = 0; i < keys.size(); ++i)
      if (keys[i] == key) return &array[i];
    return nullptr;
  }
};

class json_reader {
public:
  json_reader(std::string_view text, std::string_view what) : s_(text), what_(what) {}

  json_value parse_document() {
    json_value v = value(0);
    ws();
    if (i_ != s_.size()) error("unexpected trailing characters");
    return v;
  }

private:
  static constexpr int kMaxDepth = 64;

  [[noreturn]] void error(std::string_view msg) const {
    fail<io_error>(what_, ": corrupt safetensors header: JSON ", msg, " at byte ", i_);
  }
  void ws() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n' || s_[i_] == '\r')) ++i_;
  }
  char peek() {
    ws();
    if (i_ >= s_.size()) error("ends early");
    return s_[i_];
  }
  void expect(char c) {
    if (peek() != c) error(std::string("expected '") + c + "'");
    ++i_;
  }
  void literal(std::string_view lit) {
    if (s_.substr(i_, lit.size()) != lit) error("has an invalid literal");
    i_ += lit.size();
  }

  json_value value(int depth) {
    if (depth > kMaxDepth) error("nests too deeply");
    json_value v;
    const char c = peek();
    if (c == '{') {
      v.k = json_value::kind::object;
      ++i_;
      if (peek() == '}') {
        ++i_;
        return v;
      }
      for (;;) {
        if (peek() != '"') error("expected a string key");
        std::string key = string();
        expect(':');
        v.keys.push_back(std::move(key));
        v.array.push_back(value(depth + 1));
        const char d = peek();
        ++i_;
        if (d == '}') break;
        if (d != ',') error("expected ',' or '}'");
      }
    } else if (c == '[') {
      v.k = json_value::kind::array;
      ++i_;
      if (peek() == ']') {
        ++i_;
        return v;
      }
      for (;;) {
        v.array.push_back(value(depth + 1));
        const char d = peek();
        ++i_;
        if (d == ']') break;
        if (d != ',') error("expected ',' or ']'");
      }
    } else if (c == '"') {
      v.k = json_value::kind::string;
      v.text = string();
    } else if (c == 't') {
      literal("true");
      v.k = json_value::kind::boolean;
      v.boolean = true;
    } else if (c == 'f') {
      literal("false");
      v.k = json_value::kind::boolean;
    } else if (c == 'n') {
      literal("null");
    } else if (c == '-' || (c >= '0' && c <= '9')) {
      v.k = json_value::kind::number;
      const std::size_t b = i_;
      if (s_[i_] == '-') ++i_;
      auto digits = [&] {
        const std::size_t d0 = i_;
        while (i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '9') ++i_;
        if (i_ == d0) error("has a malformed number");
      };
      digits();
      if (i_ < s_.size() && s_[i_] == '.') ++i_, digits();
      if (i_ < s_.size() && (s_[i_] == 'e' || s_[i_] == 'E')) {
        ++i_;
        if (i_ < s_.size() && (s_[i_] == '+' || s_[i_] == '-')) ++i_;
        digits();
      }
      v.text = std::string(s_.substr(b, i_ - b));
    } else {
      error("has an unexpected character");
    }
    return v;
  }

  unsigned hex4() {
    if (i_ + 4 > s_.size()) error("ends inside a \\u escape");
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
  static void utf8(std::string& out, unsigned cp) {
    if (cp < 0x80) out += static_cast<char>(cp);
    else if (cp < 0x800) out += static_cast<char>(0xC0 | (cp >> 6)), out += static_cast<char>(0x80 | (cp & 0x3F));
    else if (cp < 0x10000)
      out += static_cast<char>(0xE0 | (cp >> 12)), out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F)),
          out += static_cast<char>(0x80 | (cp & 0x3F));
    else
      out += static_cast<char>(0xF0 | (cp >> 18)), out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F)),
          out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F)), out += static_cast<char>(0x80 | (cp & 0x3F));
  }
  std::string string() {
    ++i_; // opening quote
    std::string out;
    for (;;) {
      if (i_ >= s_.size()) error("ends inside a string");
      const char c = s_[i_++];
      if (c == '"') return out;
      if (static_cast<unsigned char>(c) < 0x20) error("has a control character in a string");
      if (c != '\\') {
        out += c;
        continue;
      }
      if (i_ >= s_.size()) error("ends inside an escape");
      const char e = s_[i_++];
      switch (e) {
      case '"': out += '"'; break;
      case '\\': out += '\\'; break;
      case '/': out += '/'; break;
      case 'b': out += '\b'; break;
      case 'f': out += '\f'; break;
      case 'n': out += '\n'; break;
      case 'r': out += '\r'; break;
      case 't': out += '\t'; break;
      case 'u': {
        unsigned cp = hex4();
        if (cp >= 0xD800 && cp <= 0xDBFF) {
          if (i_ + 2 > s_.size() || s_[i_] != '\\' || s_[i_ + 1] != 'u') error("has an unpaired surrogate");
          i_ += 2;
          const unsigned lo = hex4();
          if (lo < 0xDC00 || lo > 0xDFFF) error("has an unpaired surrogate");
          cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
        } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
          error("has an unpaired surrogate");
        }
        utf8(out, cp);
        break;
      }
      default: error("has an unknown escape");
      }
    }
  }

  std::string_view s_;
  std::string_view what_;
  std::size_t i_ = 0;
};

//! Appends `s` as a JSON string literal.
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

//! The number's text as a non-negative integer ≤ 2⁶³ − 1, or -1.
inline std::int64_t json_uint(const json_value& v) {
  if (v.k != json_value::kind::number) return -1;
  std::int64_t x = -1;
  auto r = std::from_chars(v.text.data(), v.text.data() + v.text.size(), x);
  if (r.ec != std::errc() || r.ptr != v.text.data() + v.text.size() || x < 0) return -1;
  return x;
}

} // namespace rlvr::io::detail
