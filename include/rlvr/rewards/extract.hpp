#pragma once
//! \file rlvr/rewards/extract.hpp
//! \brief Finding the answer inside a response: the last `\boxed{…}`, the last number, the text
//!        after a marker; UTF-8 validation. Every function is linear in the input, allocation
//!        free, recursion free, and total (any byte string is accepted; none throws).
//!
//! ## The boxed answer (MATH conventions, Hendrycks et al. 2021)
//! `last_boxed(text)` returns the argument of the *last* occurrence of `\boxed` or `\fbox` in
//! `text` — the answer a model commits to after its reasoning:
//!
//! | response                                   | `last_boxed`         |
//! |--------------------------------------------|----------------------|
//! | `so x = \boxed{\frac{1}{2}}.`              | `\frac{1}{2}`        |
//! | `\boxed{3} … no, \boxed{4}`                | `4`                  |
//! | `\boxed{\{1, 2\}}`                         | `\{1, 2\}`           |
//! | `\fbox{7}`                                 | `7`                  |
//! | `\boxed 5$`                                | `5`                  |
//! | `\boxed \$5`                               | `\$5`                |
//! | `\boxed{x + {y}`  (never closed)           | none                 |
//! | `\boxedtext{1}`  (another command)         | none                 |
//!
//! Rules: (1) the command must not be followed by a letter (`\boxedtext` is another command);
//! (2) spaces between the command and its `{` are allowed; (3) braces are counted with
//! LaTeX's escapes in mind — `\{` and `\}` are literal braces and do not count, and a backslash
//! always consumes the next byte; (4) if the *last* occurrence is never closed, there is no
//! answer (the MATH reference code's choice: an earlier box does not stand in for a broken final
//! one); (5) the brace-less form `\boxed 5` takes one token, up to the next space or unescaped `$`
//! (a backslash keeps the next byte: `\boxed \$5` is `\$5`).
//! Nesting depth is a counter, so `\boxed{{{…}}}` a million levels deep is just a long scan.
//!
//! ## The last number
//! `last_number(text)` returns the last token matching
//! `[+-]?(D{1,3}(,DDD)+|D+)(.D+)?([eE][+-]?D+)?(/D+)?` with D a digit — the GSM8K-style answer
//! ("… so she has 1,234 apples.") — sign, thousands separators, decimals, exponent and a simple
//! fraction included. A `,` not followed by exactly three digits ends the number, so `1,2,3`
//! yields `3` and `(1,234)` yields `1,234`.

#include <cstddef>
#include <optional>
#include <string_view>

namespace rlvr {

//! True iff `s` is well-formed UTF-8 (RFC 3629: no overlong forms, no surrogates, ≤ U+10FFFF).
//! O(|s|).
[[nodiscard]] constexpr bool is_valid_utf8(std::string_view s) noexcept {
  const std::size_t n = s.size();
  std::size_t i = 0;
  while (i < n) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    std::size_t len = 0;
    unsigned char lo = 0x80, hi = 0xBF; // allowed range of the second byte
    if (c >= 0xC2 && c <= 0xDF) {
      len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
      len = 3;
      if (c == 0xE0) lo = 0xA0;       // overlong
      if (c == 0xED) hi = 0x9F;       // surrogates
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4;
      if (c == 0xF0) lo = 0x90;       // overlong
      if (c == 0xF4) hi = 0x8F;       // > U+10FFFF
    } else {
      return false;
    }
    if (n - i < len) return false;
    const auto c1 = static_cast<unsigned char>(s[i + 1]);
    if (c1 < lo || c1 > hi) return false;
    for (std::size_t k = 2; k < len; ++k) {
      const auto ck = static_cast<unsigned char>(s[i + k]);
      if (ck < 0x80 || ck > 0xBF) return false;
    }
    i += len;
  }
  return true;
}

namespace detail::rewards {

constexpr bool is_ascii_letter(char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
constexpr bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }
constexpr bool is_space(char c) noexcept {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

//! Given `text[open] == '{'`, the index of its matching `}` (escapes respected), or npos.
constexpr std::size_t match_brace(std::string_view text, std::size_t open) noexcept {
  std::size_t depth = 0;
  for (std::size_t i = open; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '\\') {
      ++i; // a backslash consumes the next byte: \{ \} \\ are not structure
    } else if (c == '{') {
      ++depth;
    } else if (c == '}') {
      if (--depth == 0) return i;
    }
  }
  return std::string_view::npos;
}

//! Walks the `\boxed` / `\fbox` commands of a text from right to left. A command counts only
//! when no letter follows it (`\boxedfoo` is another command). Each pattern is searched with
//! `rfind` over a region disjoint from its previous search, so a full walk is O(|text|) even
//! for adversarial inputs (a million `\boxedx` and no `\fbox`).
class box_command_walker {
public:
  explicit constexpr box_command_walker(std::string_view text) noexcept
      : text_(text), b_(find(text, "\\boxed", text.size())), f_(find(text, "\\fbox", text.size())) {}

  //! The next command to the left: its position (npos when none is left) and its length.
  constexpr std::size_t next(std::size_t& len) noexcept {
    for (;;) {
      std::size_t p;
      if (b_ != npos && (f_ == npos || b_ > f_)) {
        p = b_, len = 6;
        b_ = find(text_, "\\boxed", p);
      } else if (f_ != npos) {
        p = f_, len = 5;
        f_ = find(text_, "\\fbox", p);
      } else {
        return npos;
      }
      if (p + len >= text_.size() || !is_ascii_letter(text_[p + len])) return p;
    }
  }

private:
  static constexpr std::size_t npos = std::string_view::npos;
  //! Last occurrence of `pat` starting strictly before `end`.
  static constexpr std::size_t find(std::string_view t, std::string_view pat, std::size_t end) noexcept {
    return end == 0 ? npos : t.rfind(pat, end - 1);
  }
  std::string_view text_;
  std::size_t b_, f_;
};

//! The argument of the box command at `p` (length `len`), or nullopt if it is unclosed/empty.
constexpr std::optional<std::string_view> box_argument(std::string_view text, std::size_t p,
                                                       std::size_t len) noexcept {
  std::size_t i = p + len;
  const std::size_t after_cmd = i;
  while (i < text.size() && is_space(text[i])) ++i;
  if (i >= text.size()) return std::nullopt;
  if (text[i] == '{') {
    const std::size_t close = match_brace(text, i);
    if (close == std::string_view::npos) return std::nullopt;
    return text.substr(i + 1, close - i - 1);
  }
  if (i == after_cmd) return std::nullopt; // `\boxed5` is not a box (no space, no brace)
  std::size_t e = i;
  while (e < text.size() && !is_space(text[e]) && text[e] != '$') {
    if (text[e] == '\\' && e + 1 < text.size() && !is_space(text[e + 1])) ++e; // `\$5` is one token
    ++e;
  }
  if (e == i) return std::nullopt;
  return text.substr(i, e - i);
}

} // namespace detail::rewards

//! The argument of the last `\boxed`/`\fbox` in `text` (rules in the file comment), or
//! `std::nullopt` when there is none or the last one is never closed. The view points into
//! `text`. O(|text|).
[[nodiscard]] constexpr std::optional<std::string_view> last_boxed(std::string_view text) noexcept {
  std::size_t len = 0;
  detail::rewards::box_command_walker walk(text);
  const std::size_t p = walk.next(len);
  if (p == std::string_view::npos) return std::nullopt;
  return detail::rewards::box_argument(text, p, len);
}

//! Number of `\boxed`/`\fbox` commands in `text`, nested ones and unclosed ones included — the
//! count the format reward uses ("exactly one box"). O(|text|).
[[nodiscard]] constexpr std::size_t count_box_commands(std::string_view text) noexcept {
  std::size_t count = 0, len = 0;
  detail::rewards::box_command_walker walk(text);
  while (walk.next(len) != std::string_view::npos) ++count;
  return count;
}

namespace detail::rewards {
//! Length of the number token (grammar in the file comment) starting at `i`, or 0.
constexpr std::size_t number_token_length(std::string_view s, std::size_t i) noexcept {
  const std::size_t n = s.size(), start = i;
  if (i < n && (s[i] == '+' || s[i] == '-')) ++i;
  const std::size_t digits0 = i;
  while (i < n && is_digit(s[i])) ++i;
  if (i == digits0) return 0;
  if (i - digits0 <= 3) { // thousands groups: ,DDD not followed by another digit
    while (i + 3 < n && s[i] == ',' && is_digit(s[i + 1]) && is_digit(s[i + 2]) &&
           is_digit(s[i + 3]) && (i + 4 >= n || !is_digit(s[i + 4])))
      i += 4;
  }
  if (i + 1 < n && s[i] == '.' && is_digit(s[i + 1])) {
    i += 1;
    while (i < n && is_digit(s[i])) ++i;
  }
  if (i + 1 < n && (s[i] == 'e' || s[i] == 'E')) {
    std::size_t j = i + 1;
    if (j < n && (s[j] == '+' || s[j] == '-')) ++j;
    if (j < n && is_digit(s[j])) {
      while (j < n && is_digit(s[j])) ++j;
      if (j >= n || !is_ascii_letter(s[j])) i = j; // `2e5` yes, `2em` (a unit) no
    }
  }
  if (i + 1 < n && s[i] == '/' && is_digit(s[i + 1])) {
    i += 1;
    while (i < n && is_digit(s[i])) ++i;
  }
  return i - start;
}
} // namespace detail::rewards

//! The last number token in `text` (grammar in the file comment), or nullopt. A sign counts only
//! when it is not preceded by a letter or digit (`x-3` yields `3`, `= -3` yields `-3`).
//! O(|text|).
[[nodiscard]] constexpr std::optional<std::string_view> last_number(std::string_view text) noexcept {
  std::optional<std::string_view> last;
  std::size_t i = 0;
  while (i < text.size()) {
    const char c = text[i];
    const bool sign_ok = (c == '+' || c == '-') &&
                         (i == 0 || !(detail::rewards::is_digit(text[i - 1]) || detail::rewards::is_ascii_letter(text[i - 1])));
    if (detail::rewards::is_digit(c) || sign_ok) {
      const std::size_t len = detail::rewards::number_token_length(text, i);
      if (len > 0) {
        last = text.substr(i, len);
        i += len;
        continue;
      }
    }
    ++i;
  }
  return last;
}

//! The text after the last occurrence of `marker`, up to the end of that line, with spaces
//! trimmed (GSM8K's `#### 42`); nullopt if `marker` is empty, absent, or nothing follows it.
[[nodiscard]] constexpr std::optional<std::string_view> after_last_marker(std::string_view text,
                                                                          std::string_view marker) noexcept {
  if (marker.empty()) return std::nullopt;
  const std::size_t p = text.rfind(marker);
  if (p == std::string_view::npos) return std::nullopt;
  std::size_t b = p + marker.size(), e = b;
  while (e < text.size() && text[e] != '\n') ++e;
  while (b < e && detail::rewards::is_space(text[b])) ++b;
  while (e > b && detail::rewards::is_space(text[e - 1])) --e;
  if (b == e) return std::nullopt;
  return text.substr(b, e - b);
}

//! `s` without leading and trailing ASCII whitespace.
[[nodiscard]] constexpr std::string_view trim(std::string_view s) noexcept {
  std::size_t b = 0, e = s.size();
  while (b < e && detail::rewards::is_space(s[b])) ++b;
  while (e > b && detail::rewards::is_space(s[e - 1])) --e;
  return s.substr(b, e - b);
}

} // namespace rlvr
