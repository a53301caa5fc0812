#pragma once
//! \file rlvr/rewards/numbers.hpp
//! \brief Parsing a written number into an exact rational (when it is one) and comparing two
//!        numbers exactly or with absolute/relative tolerance.
//!
//! ## Accepted forms (`parse_number`)
//! Surrounding ASCII whitespace is ignored; otherwise the *whole* text must be one number:
//!
//! | form                          | examples                                  | value        |
//! |-------------------------------|-------------------------------------------|--------------|
//! | integer                       | `42`, `-7`, `+3`, `007`                   | exact        |
//! | thousands separators          | `1,234,567`, `1{,}000`, `-12,000.5`       | exact        |
//! | decimal                       | `0.5`, `.5`, `5.`, `-2.50`                | exact (10^k) |
//! | scientific                    | `1.5e-3`, `2E6`, `1.5\times10^{-3}`, `3\cdot10^4` | exact when it fits |
//! | fraction                      | `3/4`, `-3/4`, `\frac{3}{4}`, `-\frac{3}{4}`, `\frac{-3}{4}`, `\frac{1.5}{2}` | exact |
//! | Unicode minus                 | `−5` (U+2212)                             | exact        |
//!
//! Not numbers: `1/0`, `\frac{1}{0}`, `1,23` (a group is exactly three digits), `1e`, `inf`,
//! `nan`, `1e400` (not a finite double), mixed numbers `1\frac{1}{2}` (LaTeX would read a
//! product), anything with a letter or a unit (strip those first: `normalize_math_answer`).
//!
//! ## Exactness
//! A value is *exact* when it is a rational num/den with |num|, den < 2^63 after reduction:
//! every integer and decimal of up to 18 significant digits, and every fraction of such numbers
//! whose cross products do not overflow. Exact values compare exactly (`0.1 + 0.2`-style
//! rounding never enters: `0.3` and `\frac{3}{10}` are the same rational). Longer numbers get
//! `exact = false` and only their nearest double.
//!
//! ## Comparison (`numbers_close`)
//! Like Python's `math.isclose`: a and b match when they are the same exact rational, or
//! |a − b| ≤ max(abs_tol, rel_tol · max(|a|, |b|)). With both tolerances 0, only equal values
//! match (for a number that is not exact: an equal double).
//!
//! ## Relation to the other number code
//! This header stays within int64: a number longer than 18 significant digits is compared
//! through its double. The symbolic core (math_expr.hpp, on bignum.hpp) evaluates numbers of
//! any length exactly, and `math_equivalent` compares plain decimals of any length digit by
//! digit before either is used; `numeric_match` relies on this header alone.
//!
//! ## Determinism
//! Results do not depend on the platform or the locale: the exact part is integer arithmetic,
//! and the double comes from `std::from_chars`, which rounds correctly. The relative tolerance
//! scales with max(|a|, |b|), not with one side, so `numbers_close(a, b)` = `numbers_close(b, a)`.
//!
//! ## Where it is used
//! `numeric_match` (verifiers.hpp) parses the normalised answer and reference with
//! `parse_number` and compares them with `numbers_close`; normalize.hpp's element-wise fallback
//! compares tuple elements as exact numbers. Both functions are pure (no state, thread-safe)
//! and linear in the text; `parse_number` never throws, `numbers_close` only for bad tolerances.
//!
//! Examples (value, then the exact rational when there is one):
//!   parse_number("-2.50")               // −2.5, −5/2
//!   parse_number("1.5\\times10^{-3}")    // 0.0015, 3/2000
//!   parse_number("\\frac{1.5}{2}")       // 0.75, 3/4
//!   parse_number("1e-30")               // 1e-30, inexact (exponent beyond ±18)
//!   parse_number("2\\times10^12")        // nullopt: an unbraced exponent is one digit, as in TeX
//!   parse_number(" 42 ")                // 42, 42/1 (surrounding spaces are ignored)
//!   parse_number("3/4/5")               // nullopt: at most one `/`
//!
//! ## Errors
//! `parse_number` reports "not a number" as nullopt — model output is never an error; a caller
//! that needs a number from its own data turns nullopt into an exception (`numeric_match` throws
//! `rlvr::parse_error` for a reference that is not a number). `numbers_close` throws
//! `rlvr::config_error` for a negative or non-finite tolerance, naming the value.

#include <charconv>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>

#include "rlvr/error.hpp"
#include "rlvr/rewards/extract.hpp"

namespace rlvr {

//! A parsed number: its nearest double, and the exact reduced rational when there is one.
//!
//! When `exact` is true, num/den is the value and `value` is its nearest double (up to one
//! rounding of the decimal text, done by `std::from_chars`); when false, `num`/`den` are 0/1
//! and only `value` counts. Zero is always exact, 0/1, and `-0` parses as +0.
//!   parse_number("0.5")    // {.value = 0.5, .exact = true, .num = 1, .den = 2}
//! A plain aggregate: copying is trivial, and values built by hand are not checked for
//! reduction (`numbers_close` compares exact values member-wise, so keep them reduced).
struct number_value {
  double value = 0.0;     //!< nearest double (always finite)
  bool exact = false;     //!< true iff num/den is the exact value
  std::int64_t num = 0;   //!< numerator (sign carried here); meaningful when `exact`
  std::int64_t den = 1;   //!< denominator > 0, gcd(num, den) = 1; meaningful when `exact`
};

namespace detail::rewards {

//! a·b into `out`; false on int64 overflow (GCC/Clang builtin, no undefined behaviour).
inline bool mul_i64(std::int64_t a, std::int64_t b, std::int64_t& out) noexcept {
  return !__builtin_mul_overflow(a, b, &out);
}

//! num/den reduced with the sign moved to the numerator, tagged with its double `value`.
//! Precondition: num and den are not INT64_MIN (std::gcd and the negation need |x| < 2^63).
//! The callers do not rule it out in every case: `-\frac{-576460752303423488}{0.0625}` makes
//! `divide` produce num = −2^63 (2^59 · 16), and `parse_number` then negates it.
inline number_value make_rational(std::int64_t num, std::int64_t den, double value) noexcept {
  if (den < 0) num = -num, den = -den;
  const std::int64_t g = std::gcd(num, den);
  if (g > 1) num /= g, den /= g;
  return {value, true, num, den};
}

//! Parses an unsigned decimal with optional thousands groups and exponent starting at `i`;
//! on success advances `i`. `sign` is applied. Grammar: (D{1,3}((,|{,})DDD)+ | D*)(.D*)?
//! (e[+-]?D+ | (\times|\cdot)10^(D|{[+-]?D+}))?, at least one mantissa digit.
//! Returns nullopt for text that is not such a number; otherwise the value
//! with `exact` set when the significand has at most 18 digits, the scaled exponent is within
//! ±18 and the product fits an int64. Leading zeros are not significant (`007` is 7) and
//! trailing zeros move into the exponent, so `2.50` and `2.5` give the same rational.
inline std::optional<number_value> parse_unsigned_decimal(std::string_view s, std::size_t& i,
                                                          bool negative) {
  const std::size_t n = s.size();
  std::string digits; // significant mantissa digits, leading zeros dropped
  long long frac_len = 0;
  std::size_t int_digits = 0;
  bool any_digit = false;
  // Collect significant digits: leading zeros are skipped (but still count as "a digit was
  // seen", so `0.000` is 0), so `digits` holds the significand without its scale.
  // Appends one mantissa digit; every digit marks that the number has one.
  auto take = [&](char c) {
    any_digit = true;
    if (digits.empty() && c == '0') return;
    digits.push_back(c);
  };
  std::size_t j = i;
  while (j < n && is_digit(s[j])) take(s[j++]), ++int_digits;
  // Groups are allowed only after a first run of one to three digits; `,` and `{,}` may mix.
  if (int_digits >= 1 && int_digits <= 3) { // thousands groups
    for (;;) {
      std::size_t k = j;
      if (k < n && s[k] == ',') k += 1;
      else if (s.substr(k, 3) == "{,}") k += 3;
      else break;
      // A group is exactly three digits and must not be followed by a fourth.
      if (k + 3 <= n && is_digit(s[k]) && is_digit(s[k + 1]) && is_digit(s[k + 2]) &&
          (k + 3 == n || !is_digit(s[k + 3]))) {
        take(s[k]), take(s[k + 1]), take(s[k + 2]);
        j = k + 3;
      } else {
        return std::nullopt; // `1,23`: a comma that is not a thousands group
      }
    }
  }
  // The fractional part; `5.` (no digits after the point) is accepted as 5.
  if (j < n && s[j] == '.') {
    ++j;
    while (j < n && is_digit(s[j])) {
      take(s[j++]);
      ++frac_len;
    }
  }
  // No digit at all (`.`, `,`, an empty string).
  if (!any_digit) return std::nullopt;
  // Exponent.
  long long exp10 = 0;
  // 10^D (one digit, as LaTeX reads it) or 10^{[+-]D+}.
  // Reads the exponent of `10^…` starting at k (after `{` when braced); sets exp10 and moves j
  // past it, or returns false for a malformed exponent.
  auto read_exp = [&](std::size_t k, bool braced) -> bool {
    bool neg = false;
    if (k < n && (s[k] == '+' || s[k] == '-')) neg = s[k] == '-', ++k;
    const std::size_t k0 = k;
    long long e = 0;
    // Capping e at 100000 keeps the arithmetic bounded; such exponents overflow or underflow
    // the double below and are rejected there.
    while (k < n && is_digit(s[k]) && (braced || k == k0)) { // unbraced 10^k takes one digit
      if (e < 100000) e = e * 10 + (s[k] - '0');
      ++k;
    }
    if (k == k0) return false;
    // `10^{-3}` needs its closing brace.
    if (braced) {
      if (k >= n || s[k] != '}') return false;
      ++k;
    }
    exp10 = neg ? -e : e;
    j = k;
    return true;
  };
  // Exponent: e[+-]D+ | \times10^… | \cdot10^….
  if (j + 1 < n && (s[j] == 'e' || s[j] == 'E')) {
    std::size_t k = j + 1;
    bool neg = false;
    if (k < n && (s[k] == '+' || s[k] == '-')) neg = s[k] == '-', ++k;
    const std::size_t k0 = k;
    long long e = 0;
    while (k < n && is_digit(s[k])) {
      if (e < 100000) e = e * 10 + (s[k] - '0');
      ++k;
    }
    // An `e` without digits after it: the text is not a number (`2em`, `1e+`).
    if (k == k0) return std::nullopt;
    exp10 = neg ? -e : e;
    j = k;
  } else {
    // LaTeX scientific notation: `\times10^` or `\cdot10^` (no spaces: run the normaliser first).
    for (std::string_view op : {std::string_view("\\times10^"), std::string_view("\\cdot10^")}) {
      if (s.substr(j, op.size()) == op) {
        const std::size_t k = j + op.size();
        const bool braced = k < n && s[k] == '{';
        if (!read_exp(braced ? k + 1 : k, braced)) return std::nullopt;
        break;
      }
    }
  }
  // The number ends here; the caller checks what follows (`/`, `}` or the end).
  i = j;
  // Drop trailing zeros of the significand into the exponent (2.50 → 25e-1).
  long long e10 = exp10 - frac_len;
  while (!digits.empty() && digits.back() == '0') digits.pop_back(), ++e10;
  // Zero in any spelling (`0`, `0.000`, `-0`, `0e5`) is exactly 0/1.
  if (digits.empty()) return number_value{0.0, true, 0, 1};
  // Nearest double.
  // The double is parsed from the significand and its exponent by std::from_chars: one
  // correctly rounded conversion, independent of the locale.
  // (Only the significand's digits are copied, so a literal with many leading zeros costs no
  // extra conversion work.)
  std::string buf = digits;
  buf.push_back('e');
  buf += std::to_string(e10);
  double v = 0.0;
  const auto [ptr, ec] = std::from_chars(buf.data(), buf.data() + buf.size(), v);
  if (ec != std::errc() || ptr != buf.data() + buf.size() || !std::isfinite(v) || v == 0.0)
    return std::nullopt; // overflow, or a nonzero value that underflows
  if (negative) v = -v;
  // Exact rational when it fits.
  // |significand| < 10^18 and 10^|e10| ≤ 10^18 fit an int64; only a positive scale can overflow
  // the product, which mul_i64 checks.
  if (digits.size() <= 18 && e10 <= 18 && e10 >= -18) {
    std::int64_t m = 0;
    for (char c : digits) m = m * 10 + (c - '0');
    if (negative) m = -m;
    std::int64_t p10 = 1;
    // 10^|e10| ≤ 10^18 < 2^63.
    for (long long k = 0; k < (e10 < 0 ? -e10 : e10); ++k) p10 *= 10;
    if (e10 >= 0) {
      std::int64_t num = 0;
      if (mul_i64(m, p10, num)) return make_rational(num, 1, v);
    } else {
      // A negative scale is a denominator: 0.25 → 25/100 → 1/4.
      return make_rational(m, p10, v);
    }
  }
  // Too many digits or too large a scale for int64: the double only.
  return number_value{v, false, 0, 1};
}

//! An optional sign (`+`, `-` or U+2212 `−`) followed by `parse_unsigned_decimal`; advances `i`.
//! The sign applies to the value and to the exact numerator. One sign only: `--5` and `+-5`
//! are not numbers.
inline std::optional<number_value> parse_signed_decimal(std::string_view s, std::size_t& i) {
  bool negative = false;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) {
    negative = s[i] == '-';
    ++i;
  } else if (s.substr(i, 3) == "\xE2\x88\x92") { // U+2212 MINUS SIGN
    negative = true;
    i += 3;
  }
  return parse_unsigned_decimal(s, i, negative);
}

//! a / b: nullopt when b is 0 or the quotient is not a finite double; exact (reduced) when both
//! are exact and the cross products fit an int64, else the double quotient only.
//! `\frac{1}{3}` is exact 1/3 (value 0.333…); `\frac{1}{0}` and `1/0` are nullopt.
inline std::optional<number_value> divide(const number_value& a, const number_value& b) {
  // b's double is 0 only when b is 0: a nonzero value that underflows was rejected by the parser.
  if (b.value == 0.0) return std::nullopt;
  const double v = a.value / b.value;
  // `1e300/1e-300` overflows: not a finite number.
  if (!std::isfinite(v)) return std::nullopt;
  if (a.exact && b.exact) {
    std::int64_t num = 0, den = 0;
    if (mul_i64(a.num, b.den, num) && mul_i64(a.den, b.num, den)) return make_rational(num, den, v);
  }
  return number_value{v, false, 0, 1};
}

} // namespace detail::rewards

//! Parses `text` as one number (forms in the file comment); nullopt when it is not exactly one
//! finite number. Never throws for any input; O(|text|).
//!
//! Three shapes are tried: `\frac{A}{B}` (optionally signed, A and B signed decimals, nothing
//! before or after), `A/B`, and a lone signed decimal. Spaces are allowed only around the whole
//! text (`3 / 4` and `\frac {3}{4}` are not numbers — `normalize_math_answer` removes spaces
//! first). Only `std::bad_alloc` can escape (a temporary string of the digits).
//! `-\frac{3}{4}`, `\frac{-3}{4}` and `−\frac{3}{4}` (U+2212) all parse as −3/4.
[[nodiscard]] inline std::optional<number_value> parse_number(std::string_view text) {
  const std::string_view s = trim(text);
  if (s.empty()) return std::nullopt;
  std::size_t i = 0;
  bool negative = false;
  // A sign in front of `\frac` applies to the whole fraction; a sign in front of a decimal is
  // read by parse_signed_decimal below.
  if (s[0] == '-' || s[0] == '+') {
    if (s.substr(1, 5) == "\\frac") negative = s[0] == '-', i = 1;
  } else if (s.substr(0, 3) == "\xE2\x88\x92" && s.substr(3, 5) == "\\frac") {
    negative = true, i = 3;
  }
  if (s.substr(i, 5) == "\\frac") { // \frac{A}{B}, A and B signed decimals
    std::size_t k = i + 5;
    if (k >= s.size() || s[k] != '{') return std::nullopt;
    ++k;
    const auto a = detail::rewards::parse_signed_decimal(s, k);
    // Exactly `\frac{A}{B}`: A, then `}{`, then B, then the final `}` and nothing after it.
    if (!a || k + 1 >= s.size() || s[k] != '}' || s[k + 1] != '{') return std::nullopt;
    k += 2;
    const auto b = detail::rewards::parse_signed_decimal(s, k);
    if (!b || k + 1 != s.size() || s[k] != '}') return std::nullopt;
    auto q = detail::rewards::divide(*a, *b);
    // The numerator carries the sign; the denominator stays positive.
    if (q && negative) q->value = -q->value, q->num = -q->num;
    return q;
  }
  std::size_t k = 0;
  // A decimal, optionally followed by `/` and a second decimal (`3/4`, `-1.5/2`).
  const auto a = detail::rewards::parse_signed_decimal(s, k);
  if (!a) return std::nullopt;
  if (k == s.size()) return a;
  // Anything else after the first decimal: not one number.
  if (s[k] != '/') return std::nullopt;
  ++k;
  const auto b = detail::rewards::parse_signed_decimal(s, k);
  if (!b || k != s.size()) return std::nullopt;
  return detail::rewards::divide(*a, *b);
}

//! True when `a` and `b` are the same exact rational, or |a − b| ≤ max(abs_tol, rel_tol ·
//! max(|a|, |b|)). Throws `rlvr::config_error` if a tolerance is negative or not finite.
//!
//! Two exact values with both tolerances 0 are compared as rationals only: `0.3` and
//! `\frac{3}{10}` match, distinct rationals never do even when their doubles coincide
//! (`0.1` and `0.10000000000000001` are different exact rationals). A number that is not exact
//! is compared through its double, so with zero tolerances it matches any number with the same
//! nearest double (`0.1` matches the 36-digit decimal expansion of the double 0.1).
//! Symmetric in a and b; O(1).
//!   numbers_close(*parse_number("1/3"), *parse_number("0.333"), 0, 1e-9)    // false
//!   numbers_close(*parse_number("1/3"), *parse_number("0.333"), 1e-3, 0)    // true
[[nodiscard]] inline bool numbers_close(const number_value& a, const number_value& b,
                                        double abs_tol = 0.0, double rel_tol = 0.0) {
  RLVR_EXPECTS(abs_tol >= 0.0 && std::isfinite(abs_tol), config,
               "numbers_close: abs_tol = ", abs_tol, " must be finite and >= 0");
  RLVR_EXPECTS(rel_tol >= 0.0 && std::isfinite(rel_tol), config,
               "numbers_close: rel_tol = ", rel_tol, " must be finite and >= 0");
  // Exact pairs: identical rationals match; with zero tolerances nothing else does. Otherwise
  // (inexact, or a tolerance given) the doubles decide.
  if (a.exact && b.exact) {
    if (a.num == b.num && a.den == b.den) return true;
    if (abs_tol == 0.0 && rel_tol == 0.0) return false; // distinct rationals, even if the doubles tie
  } else if (a.value == b.value) {
    return true;
  }
  const double diff = std::fabs(a.value - b.value);
  const double scale = std::fmax(std::fabs(a.value), std::fabs(b.value));
  return diff <= std::fmax(abs_tol, rel_tol * scale);
}

} // namespace rlvr
