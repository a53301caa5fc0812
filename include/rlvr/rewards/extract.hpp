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
//!
//! ## Conventions
//! Every function takes and returns `std::string_view`: results are views into the argument
//! (never copies), so they live as long as the text they were found in. All are `constexpr`
//! and `noexcept`, hold no state and are safe to call from any number of threads. "Space"
//! means the six ASCII whitespace bytes (space, \t, \n, \r, \f, \v); UTF-8 text passes through
//! untouched, and only `is_valid_utf8` looks at multi-byte sequences. verifiers.hpp combines
//! these extractors into `answer_source` choices; normalize.hpp and math_expr.hpp use the
//! character classes and `match_brace`.
//!
//! ## Linear time, tested
//! tests/rewards/test_extract.cpp ("multi-megabyte and deeply nested inputs") runs every
//! extractor on adversarial inputs: 8 MiB of text before the answer, 2^20 nested braces (closed
//! and unclosed), 2^20 fake commands `\boxedx` (the worst case for a naive right-to-left search),
//! 2^20 real boxes, 2^18 unclosed boxes, and 4 MiB of digits — each in one linear scan.

#include <cstddef>
#include <optional>
#include <string_view>

namespace rlvr {

//! True iff `s` is well-formed UTF-8 (RFC 3629: no overlong forms, no surrogates, ≤ U+10FFFF).
//! O(|s|).
//!
//! Accepted lead bytes and the range of the byte after them (later bytes are 80–BF):
//! 00–7F alone; C2–DF then 80–BF; E0 then A0–BF; E1–EC, EE–EF then 80–BF; ED then 80–9F (no
//! UTF-16 surrogates); F0 then 90–BF; F1–F3 then 80–BF; F4 then 80–8F (nothing above
//! U+10FFFF). C0, C1 and F5–FF never occur, and a sequence cut off by the end of `s` is
//! invalid. The verifiers check extracted answers with it, so an answer holding invalid bytes
//! scores `incorrect` instead of reaching the parsers; the rest of a response may hold any
//! bytes.
//!   is_valid_utf8("x ≤ 3")          // true
//!   is_valid_utf8("\xC0\xAF")       // false: overlong '/'
//!   is_valid_utf8("\xED\xA0\x80")   // false: a surrogate
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
    // A lead byte fixes the sequence length and narrows the range of the second byte.
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
    // A sequence cut off by the end of the text.
    if (n - i < len) return false;
    const auto c1 = static_cast<unsigned char>(s[i + 1]);
    if (c1 < lo || c1 > hi) return false;
    // Bytes three and four (when present) are plain continuation bytes, 80–BF.
    for (std::size_t k = 2; k < len; ++k) {
      const auto ck = static_cast<unsigned char>(s[i + k]);
      if (ck < 0x80 || ck > 0xBF) return false;
    }
    i += len;
  }
  return true;
}

namespace detail::rewards {

//! ASCII letters A–Z, a–z (the bytes that extend a LaTeX command name).
constexpr bool is_ascii_letter(char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
//! ASCII digits 0–9.
constexpr bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }
//! The six ASCII whitespace bytes; no Unicode spaces.
constexpr bool is_space(char c) noexcept {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

//! Given `text[open] == '{'`, the index of its matching `}` (escapes respected), or npos.
//! A single forward scan with a depth counter — no recursion, so nesting depth costs nothing
//! but time — in which a backslash skips the byte after it (`\{`, `\}`, and the `\\` of a line
//! break are not structure). O(distance to the match), or O(|text| − open) when unmatched.
//!   match_brace("\\frac{a}{b}", 5)   // 7
//!   match_brace("{\\}}", 0)           // 3: the first '}' is escaped
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
//! Used by `last_boxed` (the first result only) and `count_box_commands` (the whole walk).
//! Holds a view of the text and two positions; constexpr and allocation free.
class box_command_walker {
public:
  explicit constexpr box_command_walker(std::string_view text) noexcept
      //! Starts at the rightmost match of each pattern.
      : text_(text), b_(find(text, "\\boxed", text.size())), f_(find(text, "\\fbox", text.size())) {}

  //! The next command to the left: its position (npos when none is left) and its length.
  //! The two patterns are merged by position: the later of the pending `\boxed` and `\fbox`
  //! matches is taken first, and only that pattern is searched again, further left. A match
  //! followed by a letter (`\boxedtext`, `\fboxsep`) is skipped and the walk continues.
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
      // A command name ends at a non-letter or at the end of the text; `\boxedx` is skipped.
      if (p + len >= text_.size() || !is_ascii_letter(text_[p + len])) return p;
    }
  }

private:
  static constexpr std::size_t npos = std::string_view::npos;
  //! Last occurrence of `pat` starting strictly before `end`.
  //! (`rfind(pat, end − 1)` finds matches *starting* at or before end − 1; end = 0 means none.)
  static constexpr std::size_t find(std::string_view t, std::string_view pat, std::size_t end) noexcept {
    return end == 0 ? npos : t.rfind(pat, end - 1);
  }
  // The text, and the pending (not yet returned) match of each pattern, npos when exhausted.
  std::string_view text_;
  std::size_t b_, f_;
};

//! The argument of the box command at `p` (length `len`), or nullopt if it is unclosed/empty.
//! After optional spaces, either a `{…}` group (its contents, which may be empty) or, when at
//! least one space separated it from the command, one token up to the next space or `$` —
//! `\boxed 5$` gives `5`. A backslash inside the token keeps the byte after it, unless that is
//! a space, so `\$5` stays one token.
constexpr std::optional<std::string_view> box_argument(std::string_view text, std::size_t p,
                                                       std::size_t len) noexcept {
  std::size_t i = p + len;
  const std::size_t after_cmd = i;
  while (i < text.size() && is_space(text[i])) ++i;
  if (i >= text.size()) return std::nullopt;
  // The braced form: everything up to the matching brace, nested groups included.
  if (text[i] == '{') {
    const std::size_t close = match_brace(text, i);
    if (close == std::string_view::npos) return std::nullopt;
    return text.substr(i + 1, close - i - 1);
  }
  if (i == after_cmd) return std::nullopt; // `\boxed5` is not a box (no space, no brace)
  std::size_t e = i;
  // The brace-less form: one token, ended by a space or an unescaped `$` (the end of math mode).
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
//!
//! The last command in the text wins, so for `\boxed{\boxed{9}}` it is the inner one (`9`).
//! An empty box `\boxed{}` gives an empty view, not nullopt; the verifiers trim and treat an
//! empty answer as none. Cost: a right-to-left search for the last command, then one forward
//! scan of its argument.
//!   last_boxed("so $\\boxed{\\dfrac12}$.")     // "\\dfrac12"
//!   last_boxed("\\boxed{1} and \\boxed{2")      // nullopt: the last box is never closed
[[nodiscard]] constexpr std::optional<std::string_view> last_boxed(std::string_view text) noexcept {
  std::size_t len = 0;
  detail::rewards::box_command_walker walk(text);
  const std::size_t p = walk.next(len);
  if (p == std::string_view::npos) return std::nullopt;
  return detail::rewards::box_argument(text, p, len);
}

//! Number of `\boxed`/`\fbox` commands in `text`, nested ones and unclosed ones included — the
//! count the format reward uses ("exactly one box"). O(|text|).
//!   count_box_commands("\\boxed{\\boxed{1}}")   // 2
//!   count_box_commands("\\fbox{1} \\boxedx")     // 1: `\boxedx` is another command
[[nodiscard]] constexpr std::size_t count_box_commands(std::string_view text) noexcept {
  std::size_t count = 0, len = 0;
  detail::rewards::box_command_walker walk(text);
  while (walk.next(len) != std::string_view::npos) ++count;
  return count;
}

namespace detail::rewards {
//! Length of the number token (grammar in the file comment) starting at `i`, or 0.
//! Greedy, left to right: optional sign, a digit run, `,DDD` groups (only after a run of at most
//! three digits, and only when the group is not followed by a fourth digit), a decimal part
//! (`.` must be followed by a digit, so a sentence's final period is left out), an exponent
//! (not when a letter follows it, which would be a unit like `2em`), then `/D+` for a simple
//! fraction. Returns 0 when no digit follows the optional sign.
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
  // A simple fraction `3/4`: the denominator is a plain digit run (no sign, decimals or groups).
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
//!
//! Tokens are read left to right and never overlap: after a token the scan continues behind it,
//! so `1,234` is one token and not `234`. Digits right after a letter still start a token
//! (`x2` yields `2`, `width 2em` yields `2`).
//!   last_number("so she has 1,234 apples.")   // "1,234"
//!   last_number("1,2,3")                       // "3"
//!   last_number("no digits")                   // nullopt
[[nodiscard]] constexpr std::optional<std::string_view> last_number(std::string_view text) noexcept {
  std::optional<std::string_view> last;
  std::size_t i = 0;
  while (i < text.size()) {
    const char c = text[i];
    // A sign belongs to the number only at the start of a word: in `x-3` and `2-3` it is an
    // operator.
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
//! The marker is matched as bytes (no word boundary). Only the last occurrence counts, so a
//! model that writes the marker twice is graded on its final line. O(|text|).
//!   after_last_marker("… 6 + 12 = 18\n#### 18", "####")   // "18"
//!   after_last_marker("#### \n", "####")                   // nullopt: nothing follows
[[nodiscard]] constexpr std::optional<std::string_view> after_last_marker(std::string_view text,
                                                                          std::string_view marker) noexcept {
  if (marker.empty()) return std::nullopt;
  const std::size_t p = text.rfind(marker);
  if (p == std::string_view::npos) return std::nullopt;
  std::size_t b = p + marker.size(), e = b;
  // The rest of the marker's line, then trimmed on both sides.
  while (e < text.size() && text[e] != '\n') ++e;
  while (b < e && detail::rewards::is_space(text[b])) ++b;
  while (e > b && detail::rewards::is_space(text[e - 1])) --e;
  if (b == e) return std::nullopt;
  return text.substr(b, e - b);
}

//! `s` without leading and trailing ASCII whitespace.
//! (Only the six ASCII whitespace bytes; a non-breaking space U+00A0 is kept.) O(|s|).
//!   trim("  \\boxed{1}\n")   // "\\boxed{1}"
[[nodiscard]] constexpr std::string_view trim(std::string_view s) noexcept {
  std::size_t b = 0, e = s.size();
  while (b < e && detail::rewards::is_space(s[b])) ++b;
  while (e > b && detail::rewards::is_space(s[e - 1])) --e;
  return s.substr(b, e - b);
}

} // namespace rlvr
