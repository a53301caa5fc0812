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
//!
//! ## Where it fits
//! `math_verifier` (verifiers.hpp) calls `math_equivalent` on the last box of a response and the
//! reference answer; `numeric_match` uses `normalize_math_answer` to clean a number before
//! `parse_number` (numbers.hpp). The normal form is a comparison key, not a display form (see
//! "Limits" for what removing all whitespace merges).
//!
//! ## Examples (input → normal form)
//!   `\left( \dfrac{1}{2}, 3.50 \right)`   → `(\frac{1}{2},3.5)`
//!   `10 \text{cm}^2`                       → `10`          (rule 1)
//!   `x\text{ cm}`                          → `xcm`         (no digit before the group: kept)
//!   `\left. x \right|_0`                   → `x|_0`        (rule 2)
//!   `a_{n} = 2^n`                          → `2^n`         (rule 4)
//!   `f(x) = 2`                             → `f(x)=2`      (not a variable on the left: kept)
//!   `\frac123`                             → `\frac{1}{2}3` (rule 6, TeX's reading)
//!   `x^{2.0}`                              → `x^{2}`       (rule 7)
//!   `-3/4`                                 → `-\frac{3}{4}` (rule 8)
//!
//! ## Options (`math_options`, defined in math_expr.hpp)
//! | option                  | here                                    | in the core (math_expr.hpp)     |
//! |-------------------------|-----------------------------------------|---------------------------------|
//! | `strip_units`           | rule 1; units cut before the core       | —                               |
//! | `strip_variable_prefix` | rule 4                                  | `x =` / `x \in` retried without |
//! | `percent`               | rule 2: `%` dropped, or kept as `\%`    | `\%` read as nothing, or as /100 |
//! | `fold_text_case`        | rule (iv), text answers ignoring case   | —                               |
//! The defaults reproduce MATH's grading; `math_options::strict()` turns all four off.
//!
//! ## Limits of a string normaliser
//! The normaliser rewrites spelling, not mathematics: `\frac{\sqrt3}{3}` vs `\frac{1}{\sqrt3}`
//! and `2\sqrt2` vs `\sqrt8` have different normal forms and are left to the core. Removing all
//! whitespace can merge tokens (`2 \pi r` and `2\pir` share a key, as in MATH's code). Two
//! quirks of the passes, harmless for real answers: `1..5` becomes `1.0.5` (rule 7), and a
//! command that merely starts with `\frac`, `\binom` or `\sqrt` is braced as if it were that
//! command (`\binomial` → `\binom{i}{a}l`, rule 6).
//!
//! ## Cost
//! docs/rewards.md §7 (`bench_rewards`) measures the whole verifier — normaliser and core — on
//! short boxed answers at about 4.5 µs per verification on the development machine.
//!
//! ## Divergences from the MATH reference
//! The reference `is_equiv` calls two empty (or blank) answers equal; here an empty answer is
//! never equivalent to anything. The reference deletes the `\right` of `\rightarrow` (so
//! `x\rightarrow1` "equals" `xarrow1`); here only the commands `\left` and `\right` themselves
//! are removed. On the test tables these are the only pairs the reference accepts and this
//! code rejects (docs/rewards.md §4.3; `tests/rewards/math_reference.py` recomputes the
//! reference's verdicts in ctest).
//!
//! ## Threads and determinism
//! All functions are pure: no state, no locale, no randomness (the core's random points come
//! from a fixed Philox seed), so results are identical across runs, threads and platforms. Each
//! call allocates its own strings; concurrent calls share nothing.
//!
//!   rlvr::math_equivalent("\\dfrac12", "0.5")                        // true
//!   rlvr::math_equivalent("10\\text{ cm}", "10")                     // true (units dropped)
//!   rlvr::math_equivalent("10\\text{ cm}", "10", rlvr::math_options::strict())   // false
//!
//! ## Tests
//! tests/rewards/test_normalize.cpp checks the canonical form of every rule, the 197-pair answer
//! table (both outcomes, symmetry, agreement with the MATH reference), that the normaliser is
//! idempotent on the table (normalising a normal form changes nothing), and linear time on
//! adversarial shapes for each pass — 2^17 repetitions of `{…}`, `\frac`, `\sqrt[`, `\text{`,
//! `1\text{a}`, `0.`, `\left(`, `1,000`, `x=`, `^\circ`, `\in`, `(…)`, `1/`, `\\` — where 8×
//! the input must cost under 30× the time plus 0.2 s (quadratic work would cost 64×).
//! `fuzz/fuzz_normalize.cpp` checks symmetry (lenient and strict) and that equal non-empty
//! normal forms are equivalent, on arbitrary bytes.

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

// The "no index" value of the brace tables below.
inline constexpr std::size_t npos = std::string_view::npos;

//! For each `}` the index of its matching `{` (npos for every other byte and for unmatched
//! braces). Escapes (`\{`, `\}`, any `\x`) are skipped.
//! One pass with an explicit stack (no recursion, so nesting depth only costs memory); the
//! table has one entry per byte, O(n) memory. Used by `strip_units` to find where a trailing
//! `{…}` group starts.
//!   open_of_close("{a}{b}")   // {npos, npos, 0, npos, npos, 3}
inline std::vector<std::size_t> open_of_close(std::string_view s) {
  // `open` has one slot per byte; `stack` holds the positions of the `{` not yet closed.
  std::vector<std::size_t> open(s.size(), npos), stack;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\') {
      ++i;
    } else if (s[i] == '{') {
      stack.push_back(i);
    } else if (s[i] == '}' && !stack.empty()) {
      // Pair this `}` with the innermost open `{` (an unmatched `}` keeps npos).
      open[i] = stack.back();
      stack.pop_back();
    }
  }
  return open;
}

//! For each `{` the index of its matching `}` (npos otherwise).
//! The mirror of `open_of_close` (same escapes, same cost); used by `argument_pass` to find the
//! end of a `\frac`'s first argument and by `shape_pass` to test for outer braces.
//!   close_of_open("{a}{b}")   // {2, npos, npos, 5, npos, npos}
inline std::vector<std::size_t> close_of_open(std::string_view s) {
  std::vector<std::size_t> close(s.size(), npos), stack;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\') {
      ++i;
    } else if (s[i] == '{') {
      stack.push_back(i);
    } else if (s[i] == '}' && !stack.empty()) {
      // Record the `}` at the position of the `{` it closes.
      close[stack.back()] = i;
      stack.pop_back();
    }
  }
  return close;
}

//! `s` without trailing ASCII whitespace.
inline std::string_view rtrim(std::string_view s) noexcept {
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

//! True when `s` ends with `suffix`.
inline bool ends_with(std::string_view s, std::string_view suffix) noexcept {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

//! `s` without trailing whitespace and TeX spacing commands (`\ `, `\,`, `\;`, `\:`, `\!`,
//! `~`, `\quad`, `\qquad`): what is left before a unit once the unit is cut.
//! Repeats until nothing more can be removed, so `10\ \quad~` → `10`. A trailing `\\` (a line
//! break, an even run of backslashes) is not spacing and stays. Linear: every round removes at
//! least one byte.
inline std::string_view trim_spacing(std::string_view s) {
  for (;;) {
    s = trim(s);
    std::size_t slashes = 0; // trailing backslashes: an odd count ends in `\ ` whose space trim() took
    while (slashes < s.size() && s[s.size() - 1 - slashes] == '\\') ++slashes;
    // `\ ` (backslash-space): trim() already took the space, leaving an odd backslash run.
    if (slashes % 2 == 1) {
      s.remove_suffix(1);
    } else if (s.size() >= 2 && s[s.size() - 2] == '\\' &&
               (s.back() == ',' || s.back() == ';' || s.back() == ':' || s.back() == '!')) {
      // `\,` `\;` `\:` `\!`: thin, medium, thick and negative spaces.
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
//! Removes, repeatedly from the right, a trailing `\text{…}`, `\textrm{…}`, `\mbox{…}` or
//! `\mathrm{…}` group — optionally followed by `^2`, `^3`, `^{2}` or `^{3}` (square and cubic
//! units) — together with the spacing before it, as long as some digit occurs before the group
//! (`x\text{ cm}` is not a number with a unit). Returns a view into `s`: units are only ever
//! cut from the end, so nothing is copied. MATH's reference cut everything after `\text{ `;
//! this keeps answers like `\text{(A)}` and `5\text{ and }6`, whose text is not at the end.
//!   strip_units("5\\mbox{ m}\\text{/s}")   // "5"
//!   strip_units("18 \\text{ square units}") // "18"
inline std::string_view strip_units(std::string_view s) {
  s = trim(s);
  // Quick exit: a unit group ends with `}`, possibly followed by a power 2 or 3.
  if (s.empty() || (s.back() != '}' && s.back() != '2' && s.back() != '3')) return s;
  const std::vector<std::size_t> open = open_of_close(s);
  std::size_t first_digit = 0; // the prefix test below is O(1), so the loop stays linear
  while (first_digit < s.size() && !is_digit(s[first_digit])) ++first_digit;
  // Each round looks at the current end only; `open` (computed once for the original string) is
  // valid for every prefix, because a prefix keeps the positions of its braces.
  for (;;) {
    std::string_view t = trim(s);
    for (std::string_view pow : {"^{2}", "^{3}", "^2", "^3"}) {
      if (ends_with(t, pow)) {
        t = trim(t.substr(0, t.size() - pow.size()));
        break;
      }
    }
    // No trailing group (or an unmatched `}`): nothing more to cut.
    if (t.empty() || t.back() != '}' || open[t.size() - 1] == npos) return s;
    const std::string_view before = t.substr(0, open[t.size() - 1]);
    const std::string_view cmd_end = rtrim(before);
    std::size_t cmd = npos;
    // The group must be preceded (spaces allowed) by one of the unit commands.
    for (std::string_view c : {"\\text", "\\textrm", "\\mbox", "\\mathrm"}) {
      if (ends_with(cmd_end, c)) cmd = cmd_end.size() - c.size();
    }
    if (cmd == npos) return s;
    const std::string_view prefix = before.substr(0, cmd);
    if (first_digit >= prefix.size()) return s; // no digit before the group: not a unit
    // Cut the unit and the spacing before it, then look for another one (`5\mbox{ m}\text{/s}`).
    s = trim_spacing(prefix);
  }
}

//! True when `name` is one of `set` (a linear scan over a short list).
inline bool is_one_of(std::string_view name, std::initializer_list<std::string_view> set) noexcept {
  for (std::string_view x : set)
    if (name == x) return true;
  return false;
}

//! Step 2: the token pass.
//! One left-to-right pass that drops spacing, math delimiters and sizing commands, maps
//! synonyms to one spelling, and unwraps text wrappers (their `{` is dropped here and their
//! `}` later, when the matching close brace is reached — `keep_close` remembers which open
//! braces belong to a wrapper). `drop_percent` is `percent_rule::drop`; otherwise `%` and `\%`
//! both become `\%`, so the two spellings still compare equal. Commands the pass does not know
//! are copied unchanged. O(n).
//!   token_pass("\\left( \\dfrac{1}{2} , 3 \\right)")   // "(\\frac{1}{2},3)"
//!   token_pass("x \\le 3")                               // "x\\leq3"
//!   token_pass("\\text{Evelyn}")                         // "Evelyn"
//!   token_pass("50\\%", false)                           // "50\\%" (percent_rule::divide)
inline std::string token_pass(std::string_view s, bool drop_percent = true) {
  std::string out;
  out.reserve(s.size());
  std::vector<char> keep_close; // one entry per open `{`: emit its `}`?
  const std::size_t n = s.size();
  // The first non-space position at or after k (for `\left .` and `\text {…}`).
  auto skip_spaces = [&](std::size_t k) {
    while (k < n && is_space(s[k])) ++k;
    return k;
  };
  std::size_t i = 0;
  while (i < n) {
    const char c = s[i];
    // Whitespace, `$` (math delimiters), `~` (a non-breaking space) and, by default, `%`.
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
      // A `}` is emitted unless it closes a text wrapper; an unmatched `}` is kept.
      if (keep_close.empty() || keep_close.back()) out.push_back('}');
      if (!keep_close.empty()) keep_close.pop_back();
      ++i;
    } else if (s.substr(i, 2) == "\xC2\xB0") { // DEGREE SIGN
      i += 2;
    } else if (s.substr(i, 3) == "\xE2\x88\x92") { // MINUS SIGN
      out.push_back('-');
      i += 3;
    } else if (c != '\\') {
      // Any other byte, including the bytes of UTF-8 characters, is copied.
      out.push_back(c);
      ++i;
    } else if (i + 1 >= n) {
      // A lone backslash at the very end is kept as is.
      out.push_back('\\');
      ++i;
    } else if (!is_ascii_letter(s[i + 1])) {
      // `\` + non-letter: TeX spaces and escaped `$`/`%` vanish; `\{`, `\}`, `\\`, `\|` … stay.
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
      // `\` + letters: a command name, read whole (`\leftarrow` is not `\left`).
      std::size_t e = i + 1;
      while (e < n && is_ascii_letter(s[e])) ++e;
      const std::string_view name = s.substr(i + 1, e - i - 1);
      i = e;
      // Spacing, style, `\degree` and delimiter sizes vanish.
      if (is_one_of(name, {"quad", "qquad", "displaystyle", "textstyle", "degree", "big", "Big",
                           "bigg", "Bigg", "bigl", "bigr", "Bigl", "Bigr", "biggl", "biggr",
                           "Biggl", "Biggr"})) {
      } else if (name == "left" || name == "right") {
        // `\left(` → `(`; `\left.` (an invisible delimiter) → nothing.
        // Spaces between `\left` and its delimiter are allowed (`\left .`).
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
        // Text wrappers lose their braces, not their contents: `\text{Evelyn}` → `Evelyn`.
        // Without a following `{` the command just disappears.
        const std::size_t k = skip_spaces(i);
        if (k < n && s[k] == '{') {
          keep_close.push_back(0);
          i = k + 1;
        }
      } else {
        // Unknown to this pass: copied as written (the core or a literal comparison deals with it).
        out.push_back('\\');
        out.append(name);
      }
    }
  }
  return out;
}

//! Step 3: degrees and `{,}`.
//! Removes `^{\circ}`, `^\circ` (not `^\circle…`) and `{,}` anywhere, and a `\circ` at the very
//! end (`90\circ` is a degree sign; `f\circ g`, composition in the middle, stays). Escaped pairs
//! are copied as units, so `\{,}` is not mistaken for a thousands comma. O(n).
//!   `90^\circ` → `90`;  `45^{\circ}` → `45`;  `1{,}000` → `1000`;  `f\circg` unchanged.
inline std::string degrees_pass(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  std::size_t i = 0;
  while (i < s.size()) {
    // `^{\circ}` and `^\circ` (a degree mark after a number or a variable) vanish.
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
  // A final `\circ` left after the scan is a degree sign too.
  if (ends_with(out, "\\circ")) out.resize(out.size() - 5);
  return out;
}

//! Step 5: whole-answer thousands separators.
//! Only when the whole answer is one number — optional sign, a first group of one to three
//! digits, then `,DDD` groups, then an optional decimal part — are the commas removed:
//! `1,000,000` → `1000000`, `-12,000.5` → `-12000.5`; `(1,000)`, `1,2` and `1,0000` keep their
//! commas (a tuple, a list, or not thousands groups). In place, O(n).
inline void thousands_pass(std::string& s) {
  std::size_t i = 0;
  if (i < s.size() && (s[i] == '-' || s[i] == '+')) ++i;
  const std::size_t d0 = i;
  while (i < s.size() && is_digit(s[i])) ++i;
  // Needs a first group of 1–3 digits followed by a comma.
  if (i == d0 || i - d0 > 3 || i >= s.size() || s[i] != ',') return;
  while (i + 3 < s.size() && s[i] == ',' && is_digit(s[i + 1]) && is_digit(s[i + 2]) &&
         is_digit(s[i + 3]))
    i += 4;
  // An optional decimal part after the groups (`12,000.5`).
  if (i < s.size() && s[i] == '.') {
    ++i;
    while (i < s.size() && is_digit(s[i])) ++i;
  }
  // Something follows the number: not a plain number, keep the commas.
  if (i != s.size()) return;
  std::string out;
  out.reserve(s.size());
  for (char c : s)
    if (c != ',') out.push_back(c);
  s = std::move(out);
}

//! Step 4: `x=5` → `5`, `x\in[2,5)` → `[2,5)`.
//! Only with exactly one `=` (so `x = y = 5` and `a=b, c=d` are kept) or, without any `=`, the
//! first `\in` that is not the start of a longer command (`\infty`, `\int`). The left side must
//! be a variable name and nothing else: one letter, optionally followed by one letter or
//! digit (MATH's "at most 2 characters": `x`, `xy`, `x1`), or one command (`\theta`), then an
//! optional subscript of one character or one `{…}` group without nested braces (`a_1`,
//! `a_{n}`). `f(x) = 2`, `2x = 4` and `x + y = 5` are kept whole. In place, O(n).
//!   `k=3` → `3`;  `\theta=\frac{\pi}{2}` → `\frac{\pi}{2}`;  `a_{n}=2^n` → `2^n`;
//!   `x\in[2,5)` → `[2,5)`;  `x\infty` and `x=y=5` unchanged.
inline void equation_pass(std::string& s) {
  std::size_t eq = npos, count = 0, rel_len = 1;
  for (std::size_t i = 0; i < s.size(); ++i)
    // Count the `=` signs, remembering the last.
    if (s[i] == '=') eq = i, ++count;
  if (count == 0) { // `x\in S`: the first `\in` not followed by a letter (not `\infty`, `\int`)
    for (std::size_t p = s.find("\\in"); p != npos; p = s.find("\\in", p + 1)) {
      if (p + 3 >= s.size() || !is_ascii_letter(s[p + 3])) {
        eq = p, count = 1, rel_len = 3;
        break;
      }
    }
  }
  // Nothing after the relation (`x =`): keep the answer as it is.
  if (count != 1 || eq + rel_len >= s.size()) return;
  // Match the left side against the variable-name grammar; i is how far it got.
  const std::string_view lhs = std::string_view(s).substr(0, eq);
  std::size_t i = 0;
  // A letter, optionally followed by one letter or digit; or a command (`\alpha`, `\theta`).
  if (!lhs.empty() && is_ascii_letter(lhs[0])) {
    i = 1;
    if (i < lhs.size() && (is_ascii_letter(lhs[i]) || is_digit(lhs[i]))) ++i;
  } else if (lhs.size() >= 2 && lhs[0] == '\\' && is_ascii_letter(lhs[1])) {
    i = 1;
    while (i < lhs.size() && is_ascii_letter(lhs[i])) ++i;
  } else {
    return;
  }
  // The subscript group ends at the first `}`: nested braces are not variable names.
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
  // The whole left side must have been consumed by the variable-name grammar.
  if (i != lhs.size()) return;
  // Keep only the right side: `x=5` → `5`, `x\in[2,5)` → `[2,5)`.
  s.erase(0, eq + rel_len);
}

//! One TeX argument token at `i`: a `\command`, an escaped symbol, or one (UTF-8) character.
//! Precondition: i < s.size(). A command is `\` plus its letters; `\` plus another byte is two
//! bytes; a lone final `\` is one; otherwise one character with its UTF-8 continuation bytes,
//! so `\frac½2` braces `½` whole.
//!   tex_token_length("\\alpha2", 0)   // 6: `\alpha`
//!   tex_token_length("\\,x", 0)       // 2
//!   tex_token_length("½", 0)          // 2: one character, two bytes
inline std::size_t tex_token_length(std::string_view s, std::size_t i) noexcept {
  if (s[i] == '\\') {
    if (i + 1 >= s.size()) return 1;
    // `\,`, `\{`, `\\`: a control symbol is two bytes.
    if (!is_ascii_letter(s[i + 1])) return 2;
    std::size_t e = i + 1;
    while (e < s.size() && is_ascii_letter(s[e])) ++e;
    return e - i;
  }
  std::size_t e = i + 1;
  // One character: the lead byte plus its UTF-8 continuation bytes (10xxxxxx).
  while (e < s.size() && (static_cast<unsigned char>(s[e]) & 0xC0) == 0x80) ++e;
  return e - i;
}

//! Step 6: brace the arguments of `\frac`, `\binom` and `\sqrt`.
//! Unbraced arguments are taken the way TeX reads them — one token each (`tex_token_length`) —
//! so `\frac12` → `\frac{1}{2}`, `\frac123` → `\frac{1}{2}3`, `\frac\pi2` → `\frac{\pi}{2}`,
//! `\frac1{72}` → `\frac{1}{72}`, `\frac{1}2` → `\frac{1}{2}`, `\sqrt23` → `\sqrt{2}3`,
//! `\sqrt[3]8` → `\sqrt[3]{8}`. The second argument of a braced first argument is found through
//! `close_of_open` and marked in `fix_after`, so it is handled when the copy reaches that `}`:
//! one pass, O(n) time and memory. `\dfrac`/`\tbinom` were renamed by the token pass already.
inline std::string argument_pass(std::string_view s) {
  const std::size_t n = s.size();
  // Matching braces of the whole input, so a `\frac{…}`'s second argument is found at once.
  const std::vector<std::size_t> close = close_of_open(s);
  std::vector<unsigned char> fix_after(n, 0); // at this `}`, the next token is \frac's 2nd argument
  std::string out;
  // Bracing adds two bytes per bare argument; reserve a margin for it.
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
    // `\frac`/`\binom`, matched by prefix: a longer name is treated as the command followed by
    // letters (`\binomial` → `\binom{i}{a}l`).
    if (s.compare(i, 5, "\\frac") == 0 || s.compare(i, 6, "\\binom") == 0) {
      const std::size_t len = s[i + 1] == 'f' ? 5 : 6;
      out.append(s.substr(i, len));
      i += len;
      if (i < n && s[i] == '{') {
        if (close[i] != npos) fix_after[close[i]] = 1; // second argument checked at its `}`
      } else if (i < n && s[i] != '}') {
        // Both arguments bare (`\frac12`, `\frac\pi2`): one token each.
        wrap_token(i);
        wrap_token(i);
      }
      continue;
    }
    // `\sqrt[n]x`: the optional index is copied verbatim up to its `]`, then the radicand is braced.
    if (s.compare(i, 5, "\\sqrt") == 0) {
      out += "\\sqrt";
      i += 5;
      if (i < n && s[i] == '[') {
        // An unclosed `[` copies the rest of the answer as the index.
        const std::size_t rb = s.find(']', i);
        const std::size_t end = rb == npos ? n : rb + 1;
        out.append(s.substr(i, end - i));
        i = end;
      }
      wrap_token(i);
      continue;
    }
    const char c = s[i];
    // Any other escape is copied as a pair, so `\{` never looks like a group opening here.
    if (c == '\\') {
      const std::size_t len = i + 1 < n ? 2 : 1;
      out.append(s.substr(i, len));
      i += len;
      continue;
    }
    out.push_back(c);
    ++i;
    // This `}` closes a `\frac{…}` first argument: brace the second one if it is bare.
    if (c == '}' && fix_after[i - 1]) wrap_token(i);
  }
  return out;
}

//! Step 7: decimals.
//! In every decimal number: trailing zeros after the point are removed, then a bare point, and
//! a missing integer part becomes `0` (`5.0` → `5`, `2.50` → `2.5`, `5.` → `5`, `.5` → `0.5`,
//! `(1.0, 2.0)` → `(1,2)`, `x^{2.0}` → `x^{2}`). A point followed by a second point does not
//! make a decimal, but the second point then starts `.5`: `1..5` → `1.0.5`. The byte after a
//! backslash is copied untouched. O(n).
inline std::string decimal_pass(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 4);
  const std::size_t n = s.size();
  std::size_t i = 0;
  while (i < n) {
    const char c = s[i];
    // A number starts at a digit, or at a point followed by a digit that does not continue a
    // previous digit run.
    const bool starts_number =
        is_digit(c) || (c == '.' && i + 1 < n && is_digit(s[i + 1]) && (i == 0 || !is_digit(s[i - 1])));
    // Not a number: copy the byte, and after a backslash the escaped byte with it.
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
      // Trailing zeros carry no value: `2.50` is `2.5`, `5.0` is `5`.
      while (!frac.empty() && frac.back() == '0') frac.remove_suffix(1);
      // `.5` → `0.5`: the integer part is never empty in a normal form.
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
//! In order: every layer of braces around the whole answer goes when each layer's `{` matches
//! the last `}` (`{{5}}` → `5`, but `{1}+{2}` is kept); one final period goes unless escaped
//! (`x+1.` → `x+1`); `(B)` with a capital letter becomes `B`; an answer that is exactly
//! `[-]D+/D+` becomes `[-]\frac{D}{D}` (MATH's `_fix_a_slash_b`: `-3/4` → `-\frac{3}{4}`).
//! In place, O(n).
inline void shape_pass(std::string& s) {
  if (s.size() >= 2 && s.front() == '{') { // every outer layer: {{{{5}}}} → 5
    const std::vector<std::size_t> close = close_of_open(s);
    std::size_t k = 0;
    // Peel layers while the k-th `{` from the left matches the k-th `}` from the right.
    while (2 * k + 1 < s.size() && s[k] == '{' && close[k] == s.size() - 1 - k) ++k;
    if (k > 0) s = s.substr(k, s.size() - 2 * k);
  }
  // A sentence's final period (`\.` is kept: it is a command, not punctuation).
  if (s.size() >= 2 && s.back() == '.' && s[s.size() - 2] != '\\') s.pop_back();
  // A multiple-choice letter: `(B)` and `B` are the same answer.
  if (s.size() == 3 && s[0] == '(' && s[2] == ')' && s[1] >= 'A' && s[1] <= 'Z') s = s.substr(1, 1);
  // a/b: both sides plain digit runs (one leading minus allowed), nothing else in the answer.
  // `a/b` of two integers (MATH's `_fix_a_slash_b`); the first `/` decides.
  const std::size_t slash = s.find('/');
  if (slash != npos && slash > 0 && slash + 1 < s.size()) {
    std::size_t i = s[0] == '-' ? 1 : 0;
    bool ok = i < slash;
    for (; i < slash && ok; ++i) ok = is_digit(s[i]);
    for (i = slash + 1; i < s.size() && ok; ++i) ok = is_digit(s[i]);
    if (ok) {
      // Rebuild as `[-]\frac{a}{b}`, the form `\frac` answers have after rule 6.
      const bool neg = s[0] == '-';
      s = std::string(neg ? "-" : "") + "\\frac{" + s.substr(neg ? 1 : 0, slash - (neg ? 1 : 0)) +
          "}{" + s.substr(slash + 1) + "}";
    }
  }
}

} // namespace detail::rewards

//! The canonical form of a MATH answer under rules 1–8 (file comment; docs/rewards.md).
//! Examples: `\left( \dfrac{1}{2}, 3.50 \right)` → `(\frac{1}{2},3.5)`; `x = \frac12` →
//! `\frac{1}{2}`; `90^\circ` → `90`; `\$1,000` → `1000`; `10\text{ cm}` → `10`;
//! `x \in [2, 5)` → `[2,5)`; `\sqrt2` → `\sqrt{2}`.
//! O(|answer|); accepts any bytes.
//! `opt` gates the leniencies: units (rule 1), `%` (rule 2) and `x =` (rule 4).
//!
//! The passes run in the order of the file comment's rules (rule 4 before rule 5, so
//! `x = 1,000` → `1000`); each is one linear scan producing a new string or editing in place.
//! With `math_options::strict()`: units are kept, `x =` is kept, and `%` is written `\%`.
[[nodiscard]] inline std::string normalize_math_answer(std::string_view answer, const math_options& opt = {}) {
  // Rule 1 on the answer as written (a unit is recognised by its `\text` spelling, before the
  // token pass unwraps it), then rule 2.
  std::string s = detail::rewards::token_pass(opt.strip_units ? detail::rewards::strip_units(answer) : answer,
                                              opt.percent == percent_rule::drop);
  // Rule 3, then rule 4 (a leniency: `x = 5` → `5`).
  s = detail::rewards::degrees_pass(s);
  if (opt.strip_variable_prefix) detail::rewards::equation_pass(s);
  // Rules 5 to 8, each on the result of the previous one.
  detail::rewards::thousands_pass(s);
  s = detail::rewards::argument_pass(s);
  s = detail::rewards::decimal_pass(s);
  detail::rewards::shape_pass(s);
  return s;
}

namespace detail::rewards {

//! Splits a normalised answer into its bracket pair and top-level comma-separated elements.
//! `open`/`close`: `(`, `[`, `)`, `]` or `\{`, `\}` — empty when the answer has no outer
//! brackets (then the whole answer is split, as a bare list); `elements`: views into the
//! answer, possibly empty strings (`(1,)`); empty when the outer pair is not one pair.
struct tuple_parts {
  //! The outer brackets (`(`/`[`/`\{` and `)`/`]`/`\}`); empty views for a bare list.
  std::string_view open, close;
  //! The top-level elements, as views into the normalised answer.
  std::vector<std::string_view> elements;
};

//! Splits at commas of nesting depth 0, counting `()`, `[]` and `{}` together (a half-open
//! interval `[0,1)` is one pair). A closing bracket at depth 0 means the outer brackets are
//! two different pairs (`(1)+(2)`): the result has no elements. O(n).
//!   split_tuple("[0,1)")      // open "[", close ")", elements {"0", "1"}
//!   split_tuple("\\{1,2\\}")    // open "\\{", close "\\}", elements {"1", "2"}
//!   split_tuple("1,2")        // no brackets, elements {"1", "2"}
//!   split_tuple("(1)+(2)")    // no elements
inline tuple_parts split_tuple(std::string_view s) {
  tuple_parts t;
  std::string_view body = s;
  // A set `\{…\}`, or a tuple/interval with any of `(` `[` and `)` `]` at its ends (`[0,1)`).
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
    // Escapes are skipped with their byte: `\{` inside a set does not nest.
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
  // Unbalanced brackets inside: not a tuple.
  if (depth != 0) return {};
  t.elements.push_back(body.substr(start));
  return t;
}

//! Two normalised atoms (elements): equal strings, or both exact numbers that are the same
//! rational (`0.5`, `\frac{1}{2}`, `1/2`). Never equal when either is empty.
//!   atoms_equivalent("\\frac{1}{2}", "0.5")     // true
//!   atoms_equivalent("0.333", "\\frac{1}{3}")   // false: different rationals
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
//! The last resort of `math_equivalent`, used when the symbolic core cannot decide (an answer
//! outside its subset). Element-wise only for two or more elements with identical brackets:
//!   normalized_answers_equivalent("(\\frac{1}{2},3)", "(0.5,3)")   // true
//!   normalized_answers_equivalent("(1,2)", "[1,2]")                 // false: brackets differ
//!   normalized_answers_equivalent("", "")                           // false: empty
[[nodiscard]] inline bool normalized_answers_equivalent(std::string_view a, std::string_view b) {
  if (detail::rewards::atoms_equivalent(a, b)) return true;
  if (a.empty() || b.empty()) return false;
  const detail::rewards::tuple_parts ta = detail::rewards::split_tuple(a);
  // A single element was already compared as an atom above.
  if (ta.elements.size() < 2) return false;
  const detail::rewards::tuple_parts tb = detail::rewards::split_tuple(b);
  // Same brackets and arity, then element by element in order (no set semantics here: sets are
  // the core's job).
  if (ta.elements.size() != tb.elements.size() || ta.open != tb.open || ta.close != tb.close)
    return false;
  for (std::size_t i = 0; i < ta.elements.size(); ++i)
    if (!detail::rewards::atoms_equivalent(ta.elements[i], tb.elements[i])) return false;
  return true;
}

namespace detail::rewards {

//! JSON-escaped LaTeX (`\\frac{1}{2}`, `50\\%`): when every run of backslashes has even length
//! and some `\\` precedes a letter, `%`, `$`, `{` or `}`, every run is halved. Otherwise `s` is returned.
//! The halved text goes into `buf` and the returned view points into it; when nothing is
//! halved the view is `s` itself, so callers can tell by comparing data pointers. A single odd
//! run (a real `\frac` next to a `\\` line break) means the text is not doubled, and nothing
//! changes. O(n).
//!   undouble_backslashes("\\\\frac{1}{2}", buf)   // "\\frac{1}{2}" (in buf)
//!   undouble_backslashes("1 \\\\ 2", buf)          // unchanged: `\\` before a space is a line break
inline std::string_view undouble_backslashes(std::string_view s, std::string& buf) {
  bool doubled = false;
  for (std::size_t i = 0; i < s.size();) {
    if (s[i] != '\\') {
      ++i;
      continue;
    }
    std::size_t j = i;
    while (j < s.size() && s[j] == '\\') ++j;
    // An odd run cannot come from doubling: leave the text alone.
    if ((j - i) % 2 == 1) return s;
    // `\\` before a letter, `%`, `$` or a brace reads as a doubled command or escape; before
    // anything else (a space, a digit) it may be a genuine line break.
    if (j < s.size() && (is_ascii_letter(s[j]) || s[j] == '%' || s[j] == '$' || s[j] == '{' || s[j] == '}'))
      doubled = true;
    i = j;
  }
  if (!doubled) return s;
  // Halve: copy the first backslash of each pair, skip the second.
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
//! Used for rule (ii) of `math_equivalent`: two normal forms that are both plain decimals are
//! equal iff their canonical strings are, which compares numbers of any length exactly in
//! linear time (`123456789012345678901234567891` ≢ `…890`, `2.50` ≡ `2.5`, `-0` ≡ `0`).
//! Exponents, fractions and thousands separators are not plain decimals here (the normaliser
//! has already removed the separators of a whole-answer number).
//!   canonical_decimal("-007.250")   // "-7.25"
//!   canonical_decimal("-0.0")       // "0"
//!   canonical_decimal("1e3")        // nullopt
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
  // `007` → `7`, while `0.5` keeps its single `0`.
  while (ip.size() > 1 && ip.front() == '0') ip.remove_prefix(1);
  while (!fp.empty() && fp.back() == '0') fp.remove_suffix(1);
  std::string out;
  // Negative zero is written as zero, so `-0` and `0` get the same key.
  if (neg && !(ip == "0" && fp.empty())) out.push_back('-');
  out.append(ip);
  if (!fp.empty()) out.push_back('.'), out.append(fp);
  return out;
}

//! Text answers: both consist of ASCII letters only, and either is wrapped in a text command or
//! has at least three letters (single letters and letter pairs stay case-sensitive variables).
//! `na`, `nb` are the normal forms, `a`, `b` the answers as written (to see a `\text`): two-letter
//! words count only when written as text (`\text{No}` ≡ `no`, but `xy` ≢ `XY`, which may be
//! products of variables). Equal lengths are required; only ASCII letters fold. Rule (iv) of
//! `math_equivalent`, applied only with `math_options::fold_text_case`. O(n).
//!   math_equivalent("\\text{No}", "no")   // true: a two-letter word written as text
//!   math_equivalent("xy", "XY")            // false: may be products of variables
inline bool same_text_ignoring_case(std::string_view na, std::string_view nb, std::string_view a,
                                    std::string_view b) {
  if (na.size() != nb.size() || na.size() < 2) return false;
  for (std::size_t i = 0; i < na.size(); ++i)
    if (!is_ascii_letter(na[i]) || !is_ascii_letter(nb[i])) return false;
  // Any `\text…` command in either answer (the normaliser has unwrapped it) marks a word answer.
  const bool wrapped = a.find("\\text") != std::string_view::npos || b.find("\\text") != std::string_view::npos;
  if (!wrapped && na.size() < 3) return false;
  for (std::size_t i = 0; i < na.size(); ++i)
    // Setting bit 5 lower-cases an ASCII letter; both bytes are letters here.
    if ((na[i] | 0x20) != (nb[i] | 0x20)) return false;
  return true;
}

//! `s` trimmed, without enclosing `$…$` / `$$…$$` math delimiters.
//! Repeats while the answer both starts and ends with `$` (so `$$x$$` loses both layers); a
//! final `\$` (an escaped dollar sign) is not a delimiter. Returns a view into `s`. O(n).
//!   strip_math_delimiters(" $$x$$ ")   // "x"
//!   strip_math_delimiters("$5\\$")     // "$5\\$": the last `$` is escaped
inline std::string_view strip_math_delimiters(std::string_view s) noexcept {
  s = trim(s);
  while (s.size() >= 2 && s.front() == '$' && s.back() == '$' && s[s.size() - 2] != '\\') s = trim(s.substr(1, s.size() - 2));
  return s;
}

//! `math_equivalent` for a pair already in canonical order (a ≤ b), so that every asymmetric
//! detail below (which side is undoubled, the core's budget) sees the pair the same way
//! whichever order the caller passed. The steps, each returning as soon as it decides:
//! 1. doubled backslashes are read as single ones (`undouble_backslashes`), after checking that
//!    the answers as written do not already have equal normal forms;
//! 2. `$…$` delimiters are dropped and both answers normalised; an empty normal form is never
//!    equivalent to anything;
//! 3. (i) equal normal forms; (ii) two plain decimals, exactly; (iv) text ignoring case;
//! 4. (v) `compare_math` on the answers (units cut when `strip_units`), whose `equal` and
//!    `different` are final;
//! 5. (iii) `normalized_answers_equivalent` when the core was undecided.
//! Cost: a constant number of linear passes over each answer, plus the core's bounded work.
inline bool math_equivalent_ordered(std::string_view a, std::string_view b, const math_options& opt) {
  std::string buf_a, buf_b;
  const std::string_view ua = undouble_backslashes(a, buf_a), ub = undouble_backslashes(b, buf_b);
  // At least one side was undoubled (its view now points into its buffer).
  if (ua.data() != a.data() || ub.data() != b.data()) {
    // Doubling read on one side only can split answers whose written normal forms agree
    // (`\\x` against `\\x\left`: the second has a single backslash, so it stays as written):
    // equal normal forms as written are equal answers, as rule (i) says.
    const std::string ra = normalize_math_answer(a, opt);
    if (!ra.empty() && ra == normalize_math_answer(b, opt)) return true;
  }
  // From here on the answers are the undoubled ones, without math delimiters.
  a = strip_math_delimiters(ua);
  b = strip_math_delimiters(ub);
  // Empty normal forms (a blank answer, `$$`, `\text{}`) are never equivalent: unlike MATH's
  // reference, two empty answers do not match.
  const std::string na = normalize_math_answer(a, opt), nb = normalize_math_answer(b, opt);
  if (na.empty() || nb.empty()) return false;
  if (na == nb) return true; // (i) equal normal forms
  // (ii) is decided only when both are plain decimals; one plain decimal against anything else
  // goes on to the core.
  const auto da = canonical_decimal(na);
  if (da) {
    const auto db = canonical_decimal(nb);
    if (db) return *da == *db; // (ii) plain decimals of any length, exactly
  }
  if (opt.fold_text_case && same_text_ignoring_case(na, nb, a, b)) return true; // (iv)
  // (v) the symbolic-numeric core
  // A plain number (thousands groups removed by the normaliser: `1,000,000`) enters the core as
  // its normal form; anything else as written (the core reads spacing, \left, \text itself).
  // Units are cut from the written answer with the same rule as the normaliser's rule 1, so the
  // core does not see `\text{ cm}` (which it cannot parse).
  const std::string_view pa = da ? std::string_view(na) : opt.strip_units ? trim_spacing(strip_units(a)) : a;
  const auto db = canonical_decimal(nb);
  const std::string_view pb = db ? std::string_view(nb) : opt.strip_units ? trim_spacing(strip_units(b)) : b;
  // The core decides when it can; "undecided" (outside its subset, or out of budget) falls
  // through to the string comparison below.
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
//!
//!   rlvr::math_equivalent("\\\\frac{1}{2}", "0.5")           // true: JSON-doubled backslashes
//!   rlvr::math_equivalent("\\text{Yes}", "yes")             // true: text, case folded
//!   rlvr::math_equivalent("x = -2, x = 3", "-2, 3")         // true: prefixes, order-free list
//!   rlvr::math_equivalent("x = -2, x = 3", "-2, 3", rlvr::math_options::strict())   // false
//!   rlvr::math_equivalent("123456789012345678901234567891",
//!                         "123456789012345678901234567890")  // false: exact at any length
//!   rlvr::math_equivalent("", "")                            // false
//! Thread-safe and deterministic (see the file comment); never throws except `std::bad_alloc`,
//! so it can score model output directly. Use `math_options::strict()` when what the defaults
//! forgive is part of the task — a unit that must be stated, a `%` that means /100, the case of
//! a word — and keep the defaults to reproduce MATH-style grading as in the paper.
[[nodiscard]] inline bool math_equivalent(std::string_view a, std::string_view b, const math_options& opt = {}) {
  // Order the pair (bytewise) so that math_equivalent(a, b) == math_equivalent(b, a) exactly.
  if (b < a) std::swap(a, b);
  return detail::rewards::math_equivalent_ordered(a, b, opt);
}

} // namespace rlvr
