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
//! match.

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
struct number_value {
  double value = 0.0;     //!< nearest double (always finite)
  bool exact = false;     //!< true iff num/den is the exact value
  std::int64_t num = 0;   //!< numerator (sign carried here); meaningful when `exact`
  std::int64_t den = 1;   //!< denominator > 0, gcd(num, den) = 1; meaningful when `exact`
};

namespace detail::rewards {

inline bool mul_i64(std::int64_t a, std::int64_t b, std::int64_t& out) noexcept {
  return !__builtin_mul_overflow(a, b, &out);
}

inline number_value make_rational(std::int64_t num, std::int64_t den, double value) noexcept {
  if (den < 0) num = -num, den = -den;
  const std::int64_t g = std::gcd(num, den);
  if (g > 1) num /= g, den /= g;
  return {value, true, num, den};
}

//! Parses an unsigned decimal with optional thousands groups and exponent starting at `i`;
//! on success advances `i`. `sign` is applied. Grammar: (D{1,3}((,|{,})DDD)+ | D*)(.D*)?
//! (e[+-]?D+ | (\times|\cdot)10^(D|{[+-]?D+}))?, at least one mantissa digit.
inline std::optional<number_value> parse_unsigned_decimal(std::string_view s, std::size_t& i,
                                                          bool negative) {
  const std::size_t n = s.size();
  std::string digits; // significant mantissa digits, leading zeros dropped
  long long frac_len = 0;
  std::size_t int_digits = 0;
  bool any_digit = false;
  auto take = [&](char c) {
    any_digit = true;
    if (digits.empty() && c == '0') return;
    digits.push_back(c);
  };
  std::size_t j = i;
  while (j < n && is_digit(s[j])) take(s[j++]), ++int_digits;
  if (int_digits >= 1 && int_digits <= 3) { // thousands groups
    for (;;) {
      std::size_t k = j;
      if (k < n && s[k] == ',') k += 1;
      else if (s.substr(k, 3) == "{,}") k += 3;
      else break;
      if (k + 3 <= n && is_digit(s[k]) && is_digit(s[k + 1]) && is_digit(s[k + 2]) &&
          (k + 3 == n || !is_digit(s[k + 3]))) {
        take(s[k]), take(s[k + 1]), take(s[k + 2]);
        j = k + 3;
      } else {
        return std::nullopt; // `1,23`: a comma that is not a thousands group
      }
    }
  }
  if (j < n && s[j] == '.') {
    ++j;
    while (j < n && is_digit(s[j])) {
      take(s[j++]);
      ++frac_len;
    }
  }
  if (!any_digit) return std::nullopt;
  // Exponent.
  long long exp10 = 0;
  // 10^D (one digit, as LaTeX reads it) or 10^{[+-]D+}.
  auto read_exp = [&](std::size_t k, bool braced) -> bool {
    bool neg = false;
    if (k < n && (s[k] == '+' || s[k] == '-')) neg = s[k] == '-', ++k;
    const std::size_t k0 = k;
    long long e = 0;
    while (k < n && is_digit(s[k]) && (braced || k == k0)) { // unbraced 10^k takes one digit
      if (e < 100000) e = e * 10 + (s[k] - '0');
      ++k;
    }
    if (k == k0) return false;
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
    if (k == k0) return std::nullopt;
    exp10 = neg ? -e : e;
    j = k;
  } else {
    for (std::string_view op : {std::string_view("\\times10^"), std::string_view("\\cdot10^")}) {
      if (s.substr(j, op.size()) == op) {
        const std::size_t k = j + op.size();
        const bool braced = k < n && s[k] == '{';
        if (!read_exp(braced ? k + 1 : k, braced)) return std::nullopt;
        break;
      }
    }
  }
  i = j;
  // Drop trailing zeros of the significand into the exponent (2.50 → 25e-1).
  long long e10 = exp10 - frac_len;
  while (!digits.empty() && digits.back() == '0') digits.pop_back(), ++e10;
  if (digits.empty()) return number_value{0.0, true, 0, 1};
  // Nearest double.
  std::string buf = digits;
  buf.push_back('e');
  buf += std::to_string(e10);
  double v = 0.0;
  const auto [ptr, ec] = std::from_chars(buf.data(), buf.data() + buf.size(), v);
  if (ec != std::errc() || ptr != buf.data() + buf.size() || !std::isfinite(v) || v == 0.0)
    return std::nullopt; // overflow, or a nonzero value that underflows
  if (negative) v = -v;
  // Exact rational when it fits.
  if (digits.size() <= 18 && e10 <= 18 && e10 >= -18) {
    std::int64_t m = 0;
    for (char c : digits) m = m * 10 + (c - '0');
    if (negative) m = -m;
    std::int64_t p10 = 1;
    for (long long k = 0; k < (e10 < 0 ? -e10 : e10); ++k) p10 *= 10;
    if (e10 >= 0) {
      std::int64_t num = 0;
      if (mul_i64(m, p10, num)) return make_rational(num, 1, v);
    } else {
      return make_rational(m, p10, v);
    }
  }
  return number_value{v, false, 0, 1};
}

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

inline std::optional<number_value> divide(const number_value& a, const number_value& b) {
  if (b.value == 0.0) return std::nullopt;
  const double v = a.value / b.value;
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
[[nodiscard]] inline std::optional<number_value> parse_number(std::string_view text) {
  const std::string_view s = trim(text);
  if (s.empty()) return std::nullopt;
  std::size_t i = 0;
  bool negative = false;
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
    if (!a || k + 1 >= s.size() || s[k] != '}' || s[k + 1] != '{') return std::nullopt;
    k += 2;
    const auto b = detail::rewards::parse_signed_decimal(s, k);
    if (!b || k + 1 != s.size() || s[k] != '}') return std::nullopt;
    auto q = detail::rewards::divide(*a, *b);
    if (q && negative) q->value = -q->value, q->num = -q->num;
    return q;
  }
  std::size_t k = 0;
  const auto a = detail::rewards::parse_signed_decimal(s, k);
  if (!a) return std::nullopt;
  if (k == s.size()) return a;
  if (s[k] != '/') return std::nullopt;
  ++k;
  const auto b = detail::rewards::parse_signed_decimal(s, k);
  if (!b || k != s.size()) return std::nullopt;
  return detail::rewards::divide(*a, *b);
}

//! True when `a` and `b` are the same exact rational, or |a − b| ≤ max(abs_tol, rel_tol ·
//! max(|a|, |b|)). Throws `rlvr::config_error` if a tolerance is negative or not finite.
[[nodiscard]] inline bool numbers_close(const number_value& a, const number_value& b,
                                        double abs_tol = 0.0, double rel_tol = 0.0) {
  RLVR_EXPECTS(abs_tol >= 0.0 && std::isfinite(abs_tol), config,
               "numbers_close: abs_tol = ", abs_tol, " must be finite and >= 0");
  RLVR_EXPECTS(rel_tol >= 0.0 && std::isfinite(rel_tol), config,
               "numbers_close: rel_tol = ", rel_tol, " must be finite and >= 0");
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
