#pragma once
//! \file rlvr/rewards/normalize.hpp
//! \brief The MATH-benchmark answer normaliser and answer equivalence.
//!
//! `normalize_math_answer` rewrites a LaTeX answer into a canonical string so that answers a
//! grader would accept as "the same" compare equal; `math_equivalent` decides equivalence with
//! the normalised strings, exact rational arithmetic and element-wise tuple comparison. The rules
//! follow `strip_string` / `is_equiv` of the MATH reference code (Hendrycks et al. 2021,
//! `math_equivalence.py`) as RLVR pipelines use it (verl, the paper's code), made linear-time,
//! made safe on any byte string, and extended where noted (+). docs/rewards.md has the full
//! table with examples; in order of application:
//!
//! 1. *Units* (+ generalises MATH's `\text{ ` cut): a trailing `\text{…}`, `\textrm{…}`,
//!    `\mbox{…}` or `\mathrm{…}` (optionally followed by `^2`, `^3`, `^{2}`, `^{3}`) after
//!    something containing a digit is removed, repeatedly: `10\text{ cm}^2` → `10`,
//!    `5\mbox{ m}\text{/s}` → `5`.
//! 2. *Tokens*, one left-to-right pass:
//!    - every ASCII space, tab and newline is removed, as are `~`, `\,`, `\;`, `\:`, `\!`,
//!      `\ `, `\quad`, `\qquad`, `\displaystyle`, `\textstyle`;
//!    - `$` and `\$` (dollars and math delimiters), `%` and `\%` are removed;
//!    - `\left` and `\right` (and `\big…`/`\Big…` sizes) are removed — not `\leftarrow` or
//!      `\rightarrow`; `\left.`/`\right.` lose their dot;
//!    - `\dfrac`, `\tfrac`, `\cfrac` → `\frac`; `\dbinom`, `\tbinom` → `\binom`;
//!    - (+) `\le` → `\leq`, `\ge` → `\geq`, `\ne` → `\neq`, `\leqslant` → `\leq`,
//!      `\geqslant` → `\geq`, `\lbrace`/`\rbrace` → `\{`/`\}`, `\varnothing` → `\emptyset`,
//!      `\lvert`/`\rvert`/`\vert` → `|`, `\degree`, `°` removed, `−` (U+2212) → `-`;
//!    - text wrappers `\text{X}`, `\textrm`, `\textnormal`, `\textbf`, `\textit`, `\mbox`,
//!      `\mathrm`, `\mathbf`, `\mathit`, `\operatorname` are unwrapped to `X`.
//! 3. *Degrees and grouping*: `^\circ`, `^{\circ}` and a final `\circ` are removed; `{,}`
//!    (LaTeX's thousands comma) is removed.
//! 4. *Equations*: `x=5` → `5` when there is exactly one `=` and its left side is a variable
//!    name — one letter optionally followed by a letter or digit (MATH's "≤ 2 characters"), or
//!    a command such as `\theta`, either with an optional subscript `_1`/`_{…}`. (+) Without
//!    any `=`, the same holds for membership: `x\in[2,5)` → `[2,5)`.
//! 5. *Thousands*: an answer that is exactly a number with `,` thousands groups loses the commas
//!    (`1,000,000` → `1000000`; `(1,000)` and `1,2` keep theirs).
//! 6. *Arguments*: `\frac12` → `\frac{1}{2}`, `\frac1{72}` → `\frac{1}{72}`,
//!    `\frac{1}2` → `\frac{1}{2}`, `\binom52` → `\binom{5}{2}`, `\sqrt2` → `\sqrt{2}`,
//!    `\sqrt[3]8` → `\sqrt[3]{8}`; an
//!    unbraced argument is one character or one command, as TeX reads it.
//! 7. *Decimals*: in every decimal number, trailing zeros after the point go, then a bare point
//!    (`5.0` → `5`, `2.50` → `2.5`, `5.` → `5`), and a leading point gets a zero (`.5` → `0.5`).
//! 8. *Shape*: outer braces around the whole answer go (`{5}` → `5`); a final sentence period
//!    goes (`x+1.` → `x+1`); a lone choice letter loses its parentheses (`(B)` → `B`) (+);
//!    `a/b` of two integers becomes `\frac{a}{b}` (MATH's `_fix_a_slash_b`).
//!
//! `normalized_answers_equivalent(a, b)` compares two normal forms: true when neither is empty
//! and (i) they are equal strings, or (ii) both are exact numbers (`parse_number`) and equal as
//! rationals — `0.5`, `1/2`, `\frac{1}{2}`, `\frac12` agree, `0.333` and `\frac{1}{3}` do not —
//! or (iii) (+) both are tuples/intervals/lists with the same brackets and the same number ≥ 2 of
//! top-level comma-separated elements, equivalent pairwise by (i) or (ii) in order.
//!
//! `math_equivalent(a, b, options)` is the full decision (docs/rewards.md §4): doubled
//! backslashes read, equal normal forms, plain decimals exactly at any length, text answers
//! ignoring case, then the symbolic-numeric core (`rlvr/rewards/math_expr.hpp`), and where the
//! core cannot decide, `normalized_answers_equivalent`. `math_options` gates the leniencies of
//! rules 1 (units), 2 (`%`) and 4 (`x =`).
//!
//! Every step is O(n) time and O(n) extra memory with n the answer length; no step recurses,
//! so megabyte-long or million-deep inputs are safe. Any byte string is accepted (invalid UTF-8
//! passes through unchanged byte by byte); nothing here throws except `std::bad_alloc`.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "rlvr/rewards/extract.hpp"
#include "rlvr/rewards/math_expr.hpp"
#include "rlvr/rewards/numbers.hpp"

namespace rlvr {

namespace detail::rewards {

inline constexpr std::size_t npos = std::string_view::npos;

//! For each `}` the index of its matching `{` (npos for every other byte and for unmatched
//! braces). Escapes (`\{`, `\}`, any `\x`) are skipped.
inline std::vector<std::size_t> open_of_close(std::string_view s) {
  std::vector<std::size_t> open(s.size(), npos), stack;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\') {
      ++i;
    } else if (s[i] == '{') {
      stack.push_back(i);
    } else if (s[i] == '}' && !stack.empty()) {
      open[i] = stack.back();
      stack.pop_back();
    }
  }
  return open;
}

//! For each `{` the index of its matching `}` (npos otherwise).
inline std::vector<std::size_t> close_of_open(std::string_view s) {
  std::vector<std::size_t> close(s.size(), npos), stack;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\') {
      ++i;
    } else if (s[i] == '{') {
      stack.push_back(i);
    } else if (s[i] == '}' && !stack.empty()) {
      close[stack.back()] = i;
      stack.pop_back();
    }
  }
  return close;
}

inline std::string_view rtrim(std::string_view s) noexcept {
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

inline bool ends_with(std::string_view s, std::string_view suffix) noexcept {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

//! `s` without trailing whitespace and TeX spacing commands (`\ `, `\,`, `\;`, `\:`, `\!`,
//! `~`, `\quad`, `\qquad`): what is left before a unit once the unit is cut.
inline std::string_view trim_spacing(std::string_view s) {
  for (;;) {
    s = trim(s);
    std::size_t slashes = 0; // trailing backslashes: an odd count ends in `\ ` whose space trim() took
    while (slashes < s.size() && s[s.size() - 1 - slashes] == '\\') ++slashes;
    if (slashes % 2 == 1) {
      s.remove_suffix(1);
    } else if (s.size() >= 2 && s[s.size() - 2] == '\\' &&
               (s.back() == ',' || s.back() == ';' || s.back() == ':' || s.back() == '!')) {
      s.remove_suffix(2);
    } else if (!s.empty() && s.back() == '~') {
      s.remove_suffix(1);
    } else if (ends_with(s, "\\qquad")) {
      s.remove_suffix(6);
    } else if (ends_with(s, "\\quad")) {
      s.remove_suffix(5);
    } else {
      return s;
    }
  }
}

//! Step 1: strip trailing unit groups.
inline std::string_view strip_units(std::string_view s) {
  s = trim(s);
  if (s.empty() || (s.back() != '}' && s.back() != '2' && s.back() != '3')) return s;
  const std::vector<std::size_t> open = open_of_close(s);
  std::size_t first_digit = 0; // the prefix test below is O(1), so the loop stays linear
  while (first_digit < s.size() && !is_digit(s[first_digit])) ++first_digit;
  for (;;) {
    std::string_view t = trim(s);
    for (std::string_view pow : {"^{2}", "^{3}", "^2", "^3"}) {
      if (ends_with(t, pow)) {
        t = trim(t.substr(0, t.size() - pow.size()));
        break;
      }
    }
    if (t.empty() || t.back() != '}' || open[t.size() - 1] == npos) return s;
    const std::string_view before = t.substr(0, open[t.size() - 1]);
    const std::string_view cmd_end = rtrim(before);
    std::size_t cmd = npos;
    for (std::string_view c : {"\\text", "\\textrm", "\\mbox", "\\mathrm"}) {
      if (ends_with(cmd_end, c)) cmd = cmd_end.size() - c.size();
    }
    if (cmd == npos) return s;
    const std::string_view prefix = before.substr(0, cmd);
    if (first_digit >= prefix.size()) return s; // no digit before the group: not a unit
    s = trim_spacing(prefix);
  }
}

inline bool is_one_of(std::string_view name, std::initializer_list<std::string_view> set) noexcept {
  for (std::string_view x : set)
    if (name == x) return true;
  return false;
}

//! Step 2: the token pass.
inline std::string token_pass(std::string_view s, bool drop_percent = true) {
  std::string out;
  out.reserve(s.size());
  std::vector<char> keep_close; // one entry per open `{`: emit its `}`?
  const std::size_t n = s.size();
  auto skip_spaces = [&](std::size_t k) {
    while (k < n && is_space(s[k])) ++k;
    return k;
  };
  std::size_t i = 0;
  while (i < n) {
    const char c = s[i];
    if (is_space(c) || c == '$' || c == '~' || (c == '%' && drop_percent)) {
      ++i;
    } else if (c == '%') {
      out += "\\%";
      ++i;
    } else if (c == '{') {
      keep_close.push_back(1);
      out.push_back('{');
      ++i;
    } else if (c == '}') {
      if (keep_close.empty() || keep_close.back()) out.push_back('}');
      if (!keep_close.empty()) keep_close.pop_back();
      ++i;
    } else if (s.substr(i, 2) == "\xC2\xB0") { // DEGREE SIGN
      i += 2;
    } else if (s.substr(i, 3) == "\xE2\x88\x92") { // MINUS SIGN
      out.push_back('-');
      i += 3;
    } else if (c != '\\') {
      out.push_back(c);
      ++i;
    } else if (i + 1 >= n) {
      out.push_back('\\');
      ++i;
    } else if (!is_ascii_letter(s[i + 1])) {
      const char d = s[i + 1];
      if (d == '!' || d == ',' || d == ';' || d == ':' || d == ' ' || d == '$' || (d == '%' && drop_percent) ||
          d == '\n' || d == '\t') {
        // spacing, escaped dollar or percent: dropped
      } else {
        out.push_back('\\');
        out.push_back(d);
      }
      i += 2;
    } else {
      std::size_t e = i + 1;
      while (e < n && is_ascii_letter(s[e])) ++e;
      const std::string_view name = s.substr(i + 1, e - i - 1);
      i = e;
      if (is_one_of(name, {"quad", "qquad", "displaystyle", "textstyle", "degree", "big", "Big",
                           "bigg", "Bigg", "bigl", "bigr", "Bigl", "Bigr", "biggl", "biggr",
                           "Biggl", "Biggr"})) {
      } else if (name == "left" || name == "right") {
        const std::size_t k = skip_spaces(i);
        if (k < n && s[k] == '.') i = k + 1;
      } else if (is_one_of(name, {"dfrac", "tfrac", "cfrac"})) {
        out += "\\frac";
      } else if (is_one_of(name, {"dbinom", "tbinom"})) {
        out += "\\binom";
      } else if (name == "le" || name == "leqslant") {
        out += "\\leq";
      } else if (name == "ge" || name == "geqslant") {
        out += "\\geq";
      } else if (name == "ne") {
        out += "\\neq";
      } else if (name == "lbrace") {
        out += "\\{";
      } else if (name == "rbrace") {
        out += "\\}";
      } else if (name == "varnothing") {
        out += "\\emptyset";
      } else if (is_one_of(name, {"lvert", "rvert", "vert"})) {
        out += '|';
      } else if (is_one_of(name, {"text", "textrm", "textnormal", "textbf", "textit", "mbox",
                                  "mathrm", "mathbf", "mathit", "operatorname"})) {
        const std::size_t k = skip_spaces(i);
        if (k < n && s[k] == '{') {
          keep_close.push_back(0);
          i = k + 1;
        }
      } else {
        out.push_back('\\');
        out.append(name);
      }
    }
  }
  return out;
}

//! Step 3: degrees and `{,}`.
inline std::string degrees_pass(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  std::size_t i = 0;
  while (i < s.size()) {
    if (s.substr(i, 8) == "^{\\circ}") {
      i += 8;
    } else if (s.substr(i, 6) == "^\\circ" && (i + 6 >= s.size() || !is_ascii_letter(s[i + 6]))) {
      i += 6;
    } else if (s.substr(i, 3) == "{,}") {
      i += 3;
    } else if (s[i] == '\\' && i + 1 < s.size()) {
      out.append(s.substr(i, 2));
      i += 2;
    } else {
      out.push_back(s[i++]);
    }
  }
  if (ends_with(out, "\\circ")) out.resize(out.size() - 5);
  return out;
}

//! Step 5: whole-answer thousands separators.
inline void thousands_pass(std::string& s) {
  std::size_t i = 0;
  if (i < s.size() && (s[i] == '-' || s[i] == '+')) ++i;
  const std::size_t d0 = i;
  while (i < s.size() && is_digit(s[i])) ++i;
  if (i == d0 || i - d0 > 3 || i >= s.size() || s[i] != ',') return;
  while (i + 3 < s.size() && s[i] == ',' && is_digit(s[i + 1]) && is_digit(s[i + 2]) &&
         is_digit(s[i + 3]))
    i += 4;
  if (i < s.size() && s[i] == '.') {
    ++i;
    while (i < s.size() && is_digit(s[i])) ++i;
  }
  if (i != s.size()) return;
  std::string out;
  out.reserve(s.size());
  for (char c : s)
    if (c != ',') out.push_back(c);
  s = std::move(out);
}

//! Step 4: `x=5` → `5`, `x\in[2,5)` → `[2,5)`.
inline void equation_pass(std::string& s) {
  std::size_t eq = npos, count = 0, rel_len = 1;
  for (std::size_t i = 0; i < s.size(); ++i)
    if (s[i] == '=') eq = i, ++count;
  if (count == 0) { // `x\in S`: the first `\in` not followed by a letter (not `\infty`, `\int`)
    for (std::size_t p = s.find("\\in"); p != npos; p = s.find("\\in", p + 1)) {
      if (p + 3 >= s.size() || !is_ascii_letter(s[p + 3])) {
        eq = p, count = 1, rel_len = 3;
        break;
      }
    }
  }
  if (count != 1 || eq + rel_len >= s.size()) return;
  const std::string_view lhs = std::string_view(s).substr(0, eq);
  std::size_t i = 0;
  if (!lhs.empty() && is_ascii_letter(lhs[0])) {
    i = 1;
    if (i < lhs.size() && (is_ascii_letter(lhs[i]) || is_digit(lhs[i]))) ++i;
  } else if (lhs.size() >= 2 && lhs[0] == '\\' && is_ascii_letter(lhs[1])) {
    i = 1;
    while (i < lhs.size() && is_ascii_letter(lhs[i])) ++i;
  } else {
    return;
  }
  if (i < lhs.size() && lhs[i] == '_') { // subscript: one char or one {group} without braces inside
    ++i;
    if (i < lhs.size() && lhs[i] == '{') {
      const std::size_t close = lhs.find('}', i);
      if (close == npos) return;
      i = close + 1;
    } else if (i < lhs.size()) {
      ++i;
    } else {
      return;
    }
  }
  if (i != lhs.size()) return;
  s.erase(0, eq + rel_len);
}

//! One TeX argument token at `i`: a `\command`, an escaped symbol, or one (UTF-8) character.
inline std::size_t tex_token_length(std::string_view s, std::size_t i) noexcept {
  if (s[i] == '\\') {
    if (i + 1 >= s.size()) return 1;
    if (!is_ascii_letter(s[i + 1])) return 2;
    std::size_t e = i + 1;
    while (e < s.size() && is_ascii_letter(s[e])) ++e;
    return e - i;
  }
  std::size_t e = i + 1;
  while (e < s.size() && (static_cast<unsigned char>(s[e]) & 0xC0) == 0x80) ++e;
  return e - i;
}

//! Step 6: brace the arguments of `\frac`, `\binom` and `\sqrt`.
inline std::string argument_pass(std::string_view s) {
  const std::size_t n = s.size();
  const std::vector<std::size_t> close = close_of_open(s);
  std::vector<unsigned char> fix_after(n, 0); // at this `}`, the next token is \frac's 2nd argument
  std::string out;
  out.reserve(n + n / 4 + 8);
  std::size_t i = 0;
  // Wraps the token at k in braces (and advances k) unless k is at a brace or the end.
  auto wrap_token = [&](std::size_t& k) {
    if (k >= n || s[k] == '{' || s[k] == '}') return;
    const std::size_t len = tex_token_length(s, k);
    out.push_back('{');
    out.append(s.substr(k, len));
    out.push_back('}');
    k += len;
  };
  while (i < n) {
    if (s.compare(i, 5, "\\frac") == 0 || s.compare(i, 6, "\\binom") == 0) {
      const std::size_t len = s[i + 1] == 'f' ? 5 : 6;
      out.append(s.substr(i, len));
      i += len;
      if (i < n && s[i] == '{') {
        if (close[i] != npos) fix_after[close[i]] = 1; // second argument checked at its `}`
      } else if (i < n && s[i] != '}') {
        wrap_token(i);
        wrap_token(i);
      }
      continue;
    }
    if (s.compare(i, 5, "\\sqrt") == 0) {
      out += "\\sqrt";
      i += 5;
      if (i < n && s[i] == '[') {
        const std::size_t rb = s.find(']', i);
        const std::size_t end = rb == npos ? n : rb + 1;
        out.append(s.substr(i, end - i));
        i = end;
      }
      wrap_token(i);
      continue;
    }
    const char c = s[i];
    if (c == '\\') {
      const std::size_t len = i + 1 < n ? 2 : 1;
      out.append(s.substr(i, len));
      i += len;
      continue;
    }
    out.push_back(c);
    ++i;
    if (c == '}' && fix_after[i - 1]) wrap_token(i);
  }
  return out;
}

//! Step 7: decimals.
inline std::string decimal_pass(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 4);
  const std::size_t n = s.size();
  std::size_t i = 0;
  while (i < n) {
    const char c = s[i];
    const bool starts_number =
        is_digit(c) || (c == '.' && i + 1 < n && is_digit(s[i + 1]) && (i == 0 || !is_digit(s[i - 1])));
    if (!starts_number) {
      out.push_back(c);
      if (c == '\\' && i + 1 < n) out.push_back(s[++i]);
      ++i;
      continue;
    }
    std::size_t e = i;
    while (e < n && is_digit(s[e])) ++e;
    const std::string_view int_part = s.substr(i, e - i);
    if (e < n && s[e] == '.' && (e + 1 >= n || s[e + 1] != '.')) { // not `1..5`
      std::size_t f = e + 1;
      while (f < n && is_digit(s[f])) ++f;
      std::string_view frac = s.substr(e + 1, f - e - 1);
      while (!frac.empty() && frac.back() == '0') frac.remove_suffix(1);
      out.append(int_part.empty() ? std::string_view("0") : int_part);
      if (!frac.empty()) out.push_back('.'), out.append(frac);
      i = f;
    } else {
      out.append(int_part);
      i = e;
    }
  }
  return out;
}

//! Step 8: outer braces, final period, choice letters, a/b.
inline void shape_pass(std::string& s) {
  if (s.size() >= 2 && s.front() == '{') { // every outer layer: {{{{5}}}} → 5
    const std::vector<std::size_t> close = close_of_open(s);
    std::size_t k = 0;
    while (2 * k + 1 < s.size() && s[k] == '{' && close[k] == s.size() - 1 - k) ++k;
    if (k > 0) s = s.substr(k, s.size() - 2 * k);
  }
  if (s.size() >= 2 && s.back() == '.' && s[s.size() - 2] != '\\') s.pop_back();
  if (s.size() == 3 && s[0] == '(' && s[2] == ')' && s[1] >= 'A' && s[1] <= 'Z') s = s.substr(1, 1);
  const std::size_t slash = s.find('/');
  if (slash != npos && slash > 0 && slash + 1 < s.size()) {
    std::size_t i = s[0] == '-' ? 1 : 0;
    bool ok = i < slash;
    for (; i < slash && ok; ++i) ok = is_digit(s[i]);
    for (i = slash + 1; i < s.size() && ok; ++i) ok = is_digit(s[i]);
    if (ok) {
      const bool neg = s[0] == '-';
      s = std::string(neg ? "-" : "") + "\\frac{" + s.substr(neg ? 1 : 0, slash - (neg ? 1 : 0)) +
          "}{" + s.substr(slash + 1) + "}";
    }
  }
}

} // namespace detail::rewards

//! The canonical form of a MATH answer under rules 1–8 (file comment; docs/rewards.md).
//! Examples: `\left( \dfrac{1}{2}, 3.50 \right)` → `(\frac{1}{2},3.5)`; `x = \frac12` →
//! `\frac{1}{2}`; `90^\circ` → `90`; `\$1,000` → `1000`; `10\text{ cm}` → `10`.
//! O(|answer|); accepts any bytes.
//! `opt` gates the leniencies: units (rule 1), `%` (rule 2) and `x =` (rule 4).
[[nodiscard]] inline std::string normalize_math_answer(std::string_view answer, const math_options& opt = {}) {
  std::string s = detail::rewards::token_pass(opt.strip_units ? detail::rewards::strip_units(answer) : answer,
                                              opt.percent == percent_rule::drop);
  s = detail::rewards::degrees_pass(s);
  if (opt.strip_variable_prefix) detail::rewards::equation_pass(s);
  detail::rewards::thousands_pass(s);
  s = detail::rewards::argument_pass(s);
  s = detail::rewards::decimal_pass(s);
  detail::rewards::shape_pass(s);
  return s;
}

namespace detail::rewards {

//! Splits a normalised answer into its bracket pair and top-level comma-separated elements.
struct tuple_parts {
  std::string_view open, close;
  std::vector<std::string_view> elements;
};

inline tuple_parts split_tuple(std::string_view s) {
  tuple_parts t;
  std::string_view body = s;
  if (s.size() >= 4 && s.substr(0, 2) == "\\{" && ends_with(s, "\\}")) {
    t.open = s.substr(0, 2), t.close = s.substr(s.size() - 2);
    body = s.substr(2, s.size() - 4);
  } else if (s.size() >= 2 && (s.front() == '(' || s.front() == '[') &&
             (s.back() == ')' || s.back() == ']')) {
    t.open = s.substr(0, 1), t.close = s.substr(s.size() - 1);
    body = s.substr(1, s.size() - 2);
  }
  std::size_t depth = 0, start = 0;
  for (std::size_t i = 0; i < body.size(); ++i) {
    const char c = body[i];
    if (c == '\\') {
      ++i;
    } else if (c == '(' || c == '[' || c == '{') {
      ++depth;
    } else if (c == ')' || c == ']' || c == '}') {
      if (depth == 0) return {}; // the outer pair was not one pair: `(1)+(2)`
      --depth;
    } else if (c == ',' && depth == 0) {
      t.elements.push_back(body.substr(start, i - start));
      start = i + 1;
    }
  }
  if (depth != 0) return {};
  t.elements.push_back(body.substr(start));
  return t;
}

inline bool atoms_equivalent(std::string_view a, std::string_view b) {
  if (a.empty() || b.empty()) return false;
  if (a == b) return true;
  const auto x = parse_number(a);
  if (!x) return false;
  const auto y = parse_number(b);
  if (!y) return false;
  // Two exact rationals compare exactly (0.3333333333 is not 1/3). Longer numbers are compared
  // by the symbolic-numeric core (arbitrary precision), never as doubles here.
  return x->exact && y->exact && numbers_close(*x, *y);
}

} // namespace detail::rewards

//! Equivalence of two answers that are already normalised (`normalize_math_answer`): rules
//! (i)–(iii) of the file comment. O(|a| + |b|).
[[nodiscard]] inline bool normalized_answers_equivalent(std::string_view a, std::string_view b) {
  if (detail::rewards::atoms_equivalent(a, b)) return true;
  if (a.empty() || b.empty()) return false;
  const detail::rewards::tuple_parts ta = detail::rewards::split_tuple(a);
  if (ta.elements.size() < 2) return false;
  const detail::rewards::tuple_parts tb = detail::rewards::split_tuple(b);
  if (ta.elements.size() != tb.elements.size() || ta.open != tb.open || ta.close != tb.close)
    return false;
  for (std::size_t i = 0; i < ta.elements.size(); ++i)
    if (!detail::rewards::atoms_equivalent(ta.elements[i], tb.elements[i])) return false;
  return true;
}

namespace detail::rewards {

//! JSON-escaped LaTeX (`\\frac{1}{2}`, `50\\%`): when every run of backslashes has even length
//! and some `\\` precedes a letter, `%`, `$`, `{` or `}`, every run is halved. Otherwise `s` is returned.
inline std::string_view undouble_backslashes(std::string_view s, std::string& buf) {
  bool doubled = false;
  for (std::size_t i = 0; i < s.size();) {
    if (s[i] != '\\') {
      ++i;
      continue;
    }
    std::size_t j = i;
    while (j < s.size() && s[j] == '\\') ++j;
    if ((j - i) % 2 == 1) return s;
    if (j < s.size() && (is_ascii_letter(s[j]) || s[j] == '%' || s[j] == '$' || s[j] == '{' || s[j] == '}'))
      doubled = true;
    i = j;
  }
  if (!doubled) return s;
  buf.clear();
  buf.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    buf.push_back(s[i]);
    if (s[i] == '\\') ++i; // keep one of each pair
  }
  return buf;
}

//! A plain decimal `[+-]?D+(.D+)?` (the whole string) in canonical form — no leading zeros, no
//! trailing fractional zeros, `-0` → `0` — or nullopt. Linear; any length.
inline std::optional<std::string> canonical_decimal(std::string_view s) {
  std::size_t i = 0;
  bool neg = false;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) neg = s[i++] == '-';
  const std::size_t d0 = i;
  while (i < s.size() && is_digit(s[i])) ++i;
  if (i == d0) return std::nullopt;
  std::string_view ip = s.substr(d0, i - d0), fp;
  if (i < s.size() && s[i] == '.') {
    const std::size_t f0 = ++i;
    while (i < s.size() && is_digit(s[i])) ++i;
    if (i == f0) return std::nullopt;
    fp = s.substr(f0, i - f0);
  }
  if (i != s.size()) return std::nullopt;
  while (ip.size() > 1 && ip.front() == '0') ip.remove_prefix(1);
  while (!fp.empty() && fp.back() == '0') fp.remove_suffix(1);
  std::string out;
  if (neg && !(ip == "0" && fp.empty())) out.push_back('-');
  out.append(ip);
  if (!fp.empty()) out.push_back('.'), out.append(fp);
  return out;
}

//! Text answers: both consist of ASCII letters only, and either is wrapped in a text command or
//! has at least three letters (single letters and letter pairs stay case-sensitive variables).
inline bool same_text_ignoring_case(std::string_view na, std::string_view nb, std::string_view a,
                                    std::string_view b) {
  if (na.size() != nb.size() || na.size() < 2) return false;
  for (std::size_t i = 0; i < na.size(); ++i)
    if (!is_ascii_letter(na[i]) || !is_ascii_letter(nb[i])) return false;
  const bool wrapped = a.find("\\text") != std::string_view::npos || b.find("\\text") != std::string_view::npos;
  if (!wrapped && na.size() < 3) return false;
  for (std::size_t i = 0; i < na.size(); ++i)
    if ((na[i] | 0x20) != (nb[i] | 0x20)) return false;
  return true;
}

//! `s` trimmed, without enclosing `$…$` / `$$…$$` math delimiters.
inline std::string_view strip_math_delimiters(std::string_view s) noexcept {
  s = trim(s);
  while (s.size() >= 2 && s.front() == '$' && s.back() == '$' && s[s.size() - 2] != '\\') s = trim(s.substr(1, s.size() - 2));
  return s;
}

inline bool math_equivalent_ordered(std::string_view a, std::string_view b, const math_options& opt) {
  std::string buf_a, buf_b;
  const std::string_view ua = undouble_backslashes(a, buf_a), ub = undouble_backslashes(b, buf_b);
  if (ua.data() != a.data() || ub.data() != b.data()) {
    // Doubling read on one side only can split answers whose written normal forms agree
    // (`\\x` against `\\x\left`: the second has a single backslash, so it stays as written):
    // equal normal forms as written are equal answers, as rule (i) says.
    const std::string ra = normalize_math_answer(a, opt);
    if (!ra.empty() && ra == normalize_math_answer(b, opt)) return true;
  }
  a = strip_math_delimiters(ua);
  b = strip_math_delimiters(ub);
  const std::string na = normalize_math_answer(a, opt), nb = normalize_math_answer(b, opt);
  if (na.empty() || nb.empty()) return false;
  if (na == nb) return true; // (i) equal normal forms
  const auto da = canonical_decimal(na);
  if (da) {
    const auto db = canonical_decimal(nb);
    if (db) return *da == *db; // (ii) plain decimals of any length, exactly
  }
  if (opt.fold_text_case && same_text_ignoring_case(na, nb, a, b)) return true; // (iv)
  // (v) the symbolic-numeric core
  // A plain number (thousands groups removed by the normaliser: `1,000,000`) enters the core as
  // its normal form; anything else as written (the core reads spacing, \left, \text itself).
  const std::string_view pa = da ? std::string_view(na) : opt.strip_units ? trim_spacing(strip_units(a)) : a;
  const auto db = canonical_decimal(nb);
  const std::string_view pb = db ? std::string_view(nb) : opt.strip_units ? trim_spacing(strip_units(b)) : b;
  switch (compare_math(pa, pb, opt)) {
  case math_comparison::equal: return true;
  case math_comparison::different: return false;
  case math_comparison::undecided: break;
  }
  return normalized_answers_equivalent(na, nb); // (iii) element-wise on the normal forms
}

} // namespace detail::rewards

//! True when `a` and `b` are equivalent MATH answers under the options `opt` (defaults:
//! MATH-compatible leniencies; `math_options::strict()` for none). In order, after JSON-doubled
//! backslashes are read as single ones: (i) equal normal forms (rules 1–8); (ii) plain decimals
//! compared exactly at any length; (iv) text answers compared ignoring letter case; (v) the
//! symbolic-numeric core (`rlvr/rewards/math_expr.hpp`: exact arithmetic, surds, random points,
//! structured values); where the core cannot decide, (iii) element-wise on the normal forms.
//! Symmetric by construction (the pair is ordered before comparison). Two empty answers are
//! *not* equivalent. Linear in |a| + |b| up to the core's bounded evaluation.
[[nodiscard]] inline bool math_equivalent(std::string_view a, std::string_view b, const math_options& opt = {}) {
  if (b < a) std::swap(a, b);
  return detail::rewards::math_equivalent_ordered(a, b, opt);
}

} // namespace rlvr
