#pragma once
//! \file rlvr/rewards/bignum.hpp
//! \brief Arbitrary-length integers and rationals for the math verifier — small, exact, bounded.
//!
//! `big_int` holds a value of any length: an `int64` inline while |v| < 2^62 (no allocation, the
//! common case), otherwise a sign and base-10^9 limbs, least significant first. Base 10^9 makes
//! reading and comparing a decimal literal linear in its length. `rational` is num/den with
//! den > 0 and gcd(num, den) = 1, so equal values have equal representations.
//!
//! ## Bounds
//! Every operation that is not linear in its operands (multiplication, division, gcd, powers)
//! is charged to a `step_budget` (one step per limb-by-limb product) and refuses — returns
//! `false`, leaving the result unspecified — when the budget is exhausted or a result would
//! exceed `max_limbs` limbs (≈ 18 000 decimal digits). A crafted `10^{10^{10}}` therefore costs a
//! size estimate, not gigabytes. Nothing here throws except `std::bad_alloc`.
//!
//! Tests: tests/rewards/test_math_expr.cpp checks the arithmetic against known values (products
//! past 2^64, sums across the 2^62 inline/limb boundary, 25!/20!, truncating division of a
//! negative dividend, gcd(2^100, 25!)) and the identity a = q·b + r on random operands;
//! `fuzz/fuzz_math_core.cpp` checks the same identity with 0 ≤ r < b on fuzzer-chosen digit
//! strings.
//!
//! Formulas: long division is the schoolbook algorithm in base 10^9 with each quotient limb
//! estimated from the top three limbs of remainder and divisor in `long double` and corrected
//! by at most a few add/subtract steps; gcd is Euclid's algorithm; powers square and multiply.
//!
//! ## Where it is used
//! These types live in `rlvr::detail::rewards`: they are the arithmetic of the symbolic-numeric
//! core (`rlvr/rewards/math_expr.hpp`, docs/rewards.md §4.1), which reads number literals of any
//! length with `big_int::from_digits`, evaluates `+ − × ÷`, integer powers, factorials and
//! binomials on `rational`s, and compares the results exactly. They are not a general-purpose
//! bignum: there is no Karatsuba, no FFT, no shifts or bit operations — at the sizes the caps
//! allow (2000 limbs) schoolbook arithmetic is fast enough and easy to audit, and the fuzz target
//! the tests below check every operation against known values.
//!
//! ## Conventions
//! - Fallible operations are free functions `bool f(inputs…, out&, step_budget&)`: `true` means
//!   `out` holds the exact result; `false` means "refused" (a zero divisor, the size cap, or the
//!   budget) and `out` may hold anything. Callers treat a refusal as "cannot decide", never as a
//!   value; the verifier then falls back to string rules instead of approximating.
//! - Addition and subtraction never refuse (their cost is linear and the result grows by at most
//!   one limb), so `add`/`sub` on `big_int` return the value directly.
//! - There are no arithmetic operators: an operator could only throw or approximate when it
//!   cannot compute a result, and the verifier must do neither, so every call site spells out
//!   what a refusal means there.
//! - Costs are stated in limbs (n = number of base-10^9 limbs of an operand). Memory is the size
//!   of the result plus copies of the limb operands (`magnitude()` copies).
//! - Representations are canonical — a value that fits the inline `int64` form is always stored
//!   there, and a `rational` is always reduced — so `operator==` is plain member equality.
//! - Thread safety: the types are values with no shared state; distinct objects may be used from
//!   different threads freely. A `step_budget` is mutable and belongs to one evaluation at a time.
//! - Determinism: every result is exact and independent of the platform, except the `to_double`
//!   conversions and the quotient-limb estimate of division, which use `long double` (80-bit on
//!   x86, possibly plain `double` elsewhere); the estimate is corrected exactly, so only the
//!   number of correction steps, never the quotient, depends on it.
//!
//! Why exact: 0.1 + 0.2 and 0.3 are the same rational, so the verifier can call them equal
//! without a tolerance, and 1/3 and 0.3333333333333333 are different rationals, so it never
//! confuses them — the behaviour docs/rewards.md §4.1 promises ("tolerance only where a value is
//! inexact").
//!   step_budget budget;
//!   rational a, b, s;
//!   make_rational(big_int(1), big_int(10), a, budget);
//!   make_rational(big_int(2), big_int(10), b, budget);
//!   add(a, b, s, budget);                 // s == rational{big_int(3), big_int(10)}
//!
//! Usage (as math_expr.hpp does):
//!   step_budget budget;                                   // 4·10⁶ steps
//!   rational x;
//!   if (make_rational(big_int::from_digits("12345678901234567890"), big_int(10), x, budget))
//!     ;                                                   // x = 1234567890123456789/1

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace rlvr::detail::rewards {

// 128-bit integers hold the exact product or sum of two inline values (|v| < 2^62, so a product
// is below 2^124) before it is split back into the inline form or limbs; no overflow checks are
// needed on the fast paths.
// Portability: `__int128` is available with GCC and Clang on 64-bit targets; MSVC has no such
// type, so this header needs one of the former.
__extension__ using i128 = __int128;          // GCC/Clang extension; __extension__ keeps -Wpedantic quiet
__extension__ using u128 = unsigned __int128;

//! Work allowance shared by one evaluation; `spend` returns false once it is exhausted.
//!
//! One step is one limb-by-limb product (a 9-digit × 9-digit multiplication with carry): `mul`
//! charges |a|·|b| limbs, `divmod` charges 2·(|a| − |b| + 1)·|b|, `gcd` the sum of its divisions.
//! The default of 4·10⁶ steps is ample for real answers (1000! by successive products spends
//! ≈ 1.3·10⁵, 2^{10000} ≈ 4.3·10⁴) and bounds a crafted input. The charge counts products only,
//! not the linear passes around them, so time per step varies: on the development machine
//! (g++ -O2, loaded) 10^{17000} spends 1.2·10⁶ steps in ≈ 8 ms, while a gcd of two ≈ 4000-digit
//! numbers, whose divisions are charged little each, exhausts the budget in ≈ 0.1 s — the
//! slowest case we measured. `compare_math` (math_expr.hpp) builds one comparer, which owns
//! its budget, per call, so every answer pair gets a fresh allowance and a verdict does not
//! depend on which pairs were scored before it.
struct step_budget {
  //! Steps still allowed; negative once overdrawn. Construct with another value to change the
  //! allowance (the tests use `step_budget{1'000'000'000}` to check large exact results).
  std::int64_t left = 4'000'000;
  //! Deducts `n` steps; true while the allowance is not overdrawn (`left ≥ 0` after deducting).
  //! A refused charge stays deducted, so once it fails every later `spend` fails too.
  bool spend(std::int64_t n) noexcept {
    left -= n;
    return left >= 0;
  }
  //! True while the allowance has not been overdrawn.
  [[nodiscard]] bool ok() const noexcept { return left >= 0; }
};

//! Largest big_int the evaluator builds by arithmetic (limbs of 9 decimal digits).
//!
//! 2000 limbs are 18 000 decimal digits: `mul` refuses a product whose operands have more than
//! `max_limbs + 1` limbs together, and `pow_int` refuses a power whose estimated size exceeds
//! 9·`max_limbs` digits. Literals read by `from_digits` are not capped here; math_expr.hpp checks
//! their length against the same bound before scaling them. Roughly, 1000! (2568 digits) and
//! 2^{10000} (3011 digits) fit, 10^{20000} does not.
inline constexpr std::size_t max_limbs = 2000;

//! An integer of any sign and length, exact, with an inline fast path.
//!
//! Representation (invariant kept by every member):
//! - |v| ≤ `small_max` = 2^62 − 1: stored in `small_` (signed), `mag_` empty, `neg_` false;
//! - otherwise: `mag_` holds |v| in base 10^9, least significant limb first, with no leading
//!   zero limb, and `neg_` holds the sign; `small_` is 0.
//!
//! The bound 2^62 − 1 (not 2^63 − 1) makes the inline range symmetric, so negation, `abs` and
//! the int64 division and remainder of the fast paths cannot overflow (there is no INT64_MIN to
//! negate or divide by −1); sums and products go through 128 bits. Because the form is unique,
//! `operator==` compares members and `is_small()` is a property of the value, not of its history.
//!
//! Copying is cheap for inline values and O(limbs) otherwise. Nothing is thrown except
//! `std::bad_alloc` from the limb vector.
class big_int {
public:
  //! Limb storage: base-10^9 digits, least significant first.
  using limbs = std::vector<std::uint32_t>;
  //! The limb base, 10^9: the largest power of ten whose square (plus carries) fits in 64 bits,
  //! so limb products accumulate in `uint64_t` and decimal I/O is a fixed 9 digits per limb.
  static constexpr std::uint32_t base = 1'000'000'000u;
  //! Largest magnitude stored inline (2^62 − 1 ≈ 4.6·10^18).
  static constexpr std::int64_t small_max = (std::int64_t{1} << 62) - 1;

  //! Zero.
  big_int() = default;
  //! Converts any `int64`. Values beyond ±`small_max` (such as INT64_MIN) are stored in limbs.
  //! Implicit, so that integer literals convert where a big_int is expected.
  big_int(std::int64_t v) { set_small128(v); } // NOLINT: implicit from integers is intended

  //! Reads decimal digits (only '0'–'9', at least one). Linear in `digits.size()`.
  //!
  //! Leading zeros are skipped (`"007"` is 7). Up to 18 significant digits (< 10^18 < 2^62) are
  //! accumulated directly into the inline form; longer runs are cut into 9-digit chunks from the
  //! right, and the result is re-normalised, so a 19-digit value that fits `small_max` still ends
  //! up inline. No sign, separator or bound is handled here: the caller strips signs and commas
  //! and enforces the length cap. Precondition: every byte is a digit (not checked — other bytes
  //! give a meaningless value); an empty view reads as 0.
  //!
  //!   big_int::from_digits("000123")                  // 123, inline
  //!   big_int::from_digits("18446744073709551616")    // 2^64, three limbs
  static big_int from_digits(std::string_view digits) {
    std::size_t b = 0;
    while (b + 1 < digits.size() && digits[b] == '0') ++b;
    digits = digits.substr(b);
    big_int r;
    // 18 digits cannot overflow an int64 (10^18 − 1 < 2^62 − 1), so no limb arithmetic is needed.
    if (digits.size() <= 18) {
      std::int64_t v = 0;
      for (char c : digits) v = v * 10 + (c - '0');
      r.small_ = v;
      return r;
    }
    limbs m;
    m.reserve(digits.size() / 9 + 1);
    // Walk 9-digit chunks from the least significant end; the leftmost chunk may be shorter.
    for (std::size_t end = digits.size(); end > 0;) {
      const std::size_t start = end >= 9 ? end - 9 : 0;
      std::uint32_t limb = 0;
      for (std::size_t i = start; i < end; ++i) limb = limb * 10 + static_cast<std::uint32_t>(digits[i] - '0');
      m.push_back(limb);
      end = start;
    }
    r.assign(false, std::move(m));
    return r;
  }

  //! True when the value is stored inline (|v| ≤ `small_max`); then `small()` is the value.
  [[nodiscard]] bool is_small() const noexcept { return mag_.empty(); }
  //! The inline value; meaningful only when `is_small()` (0 otherwise).
  [[nodiscard]] std::int64_t small() const noexcept { return small_; }
  //! v = 0 (zero is always inline).
  [[nodiscard]] bool is_zero() const noexcept { return is_small() && small_ == 0; }
  //! −1, 0 or +1 (from `small_` or `neg_`; a limb value is never zero).
  [[nodiscard]] int sign() const noexcept {
    if (is_small()) return (small_ > 0) - (small_ < 0);
    return neg_ ? -1 : 1;
  }
  //! Number of base-10^9 limbs (1 for small values).
  //! A cheap length measure for the size estimates of math_expr.hpp and `pow_int`; note that an
  //! inline value reports one limb although it may have up to 19 digits.
  [[nodiscard]] std::size_t size() const noexcept { return is_small() ? 1 : mag_.size(); }

  //! Exact equality (the representation is canonical, so members are compared directly).
  friend bool operator==(const big_int& a, const big_int& b) noexcept {
    if (a.is_small() != b.is_small()) return false;
    if (a.is_small()) return a.small_ == b.small_;
    return a.neg_ == b.neg_ && a.mag_ == b.mag_;
  }
  //! Three-way comparison: −1, 0 or +1 as a < b, a = b, a > b. Linear in the number of limbs;
  //! by sign first, then by magnitude (more limbs is larger because there are no leading zeros).
  //! For two negative values the magnitude order is reversed: compare(−10^20, −(10^20 − 1)) < 0.
  //! Not noexcept: a mixed inline/limb comparison converts the inline operand to limbs.
  friend int compare(const big_int& a, const big_int& b) {
    if (a.is_small() && b.is_small()) return (a.small_ > b.small_) - (a.small_ < b.small_);
    const int sa = a.sign(), sb = b.sign();
    if (sa != sb) return sa < sb ? -1 : 1;
    const int m = cmp_mag(a.magnitude(), b.magnitude());
    return sa < 0 ? -m : m;
  }

  //! −v. Never refuses: the inline range is symmetric, so negating an inline value stays inline.
  [[nodiscard]] big_int negated() const {
    big_int r = *this;
    if (r.is_small()) r.small_ = -r.small_;
    else r.neg_ = !r.neg_;
    return r;
  }
  //! |v|.
  [[nodiscard]] big_int abs() const { return sign() < 0 ? negated() : *this; }

  //! a + b, exact; never refuses. Two inline values are added in 128 bits; otherwise the limbs
  //! are added or subtracted by sign, O(max(|a|, |b|)) limbs. Not charged to any budget: the
  //! result has at most one more limb than the larger operand.
  //!
  //!   add(big_int(4611686018427387903), big_int(1))   // 2^62: leaves the inline form for limbs
  friend big_int add(const big_int& a, const big_int& b) {
    if (a.is_small() && b.is_small()) {
      big_int r;
      r.set_small128(static_cast<i128>(a.small_) + b.small_);
      return r;
    }
    return add_signed(a.sign() < 0, a.magnitude(), b.sign() < 0, b.magnitude());
  }
  //! a − b, exact; never refuses (same costs as `add`).
  friend big_int sub(const big_int& a, const big_int& b) {
    if (a.is_small() && b.is_small()) {
      big_int r;
      r.set_small128(static_cast<i128>(a.small_) - b.small_);
      return r;
    }
    // Subtracting b is adding −b: b is "negative" for add_signed exactly when it is > 0.
    return add_signed(a.sign() < 0, a.magnitude(), b.sign() >= 0 && !b.is_zero(), b.magnitude());
  }
  //! a·b; false when the budget or the size cap refuses.
  //!
  //! Two inline values multiply in 128 bits, free of charge. Otherwise the schoolbook product
  //! costs |a|·|b| steps and refuses when |a| + |b| > `max_limbs` + 1 limbs (the product may need
  //! that many); a zero operand gives 0 without a charge. O(|a|·|b|) time, O(|a| + |b|) memory.
  //!
  //!   big_int p;
  //!   mul(big_int(4294967296), big_int(4294967296), p, b);   // true, p = 2^64 (limbs), free
  friend bool mul(const big_int& a, const big_int& b, big_int& out, step_budget& budget) {
    if (a.is_small() && b.is_small()) {
      out.set_small128(static_cast<i128>(a.small_) * b.small_);
      return true;
    }
    if (a.is_zero() || b.is_zero()) {
      out = big_int(0);
      return true;
    }
    // Copies of both magnitudes (an inline operand is converted to limbs here).
    const limbs ma = a.magnitude(), mb = b.magnitude();
    if (ma.size() + mb.size() > max_limbs + 1) return false;
    if (!budget.spend(static_cast<std::int64_t>(ma.size() * mb.size()))) return false;
    out.assign((a.sign() < 0) != (b.sign() < 0), mul_mag(ma, mb));
    return true;
  }
  //! Truncating division a = q·b + r with |r| < |b|, sign(r) = sign(a); false when b = 0 or the
  //! budget refuses.
  //!
  //! The quotient rounds toward zero, as C++'s `/` and `%` do: divmod(−7, 2) gives q = −3,
  //! r = −1. Inline operands use the hardware division (no overflow: |a| < 2^62). |a| < |b| gives
  //! q = 0, r = a with no charge. Otherwise the charge is 2·(|a| − |b| + 1)·|b| steps — one
  //! estimate-and-multiply per quotient limb, each with a product and a subtraction. The time is
  //! O(|a|·|b|) nonetheless: every limb of a is brought down into the running remainder and
  //! compared with b, also where the quotient limb is 0, and that linear work is not charged
  //! (see `step_budget`). There is no size cap: the quotient is never longer than the dividend.
  //!
  //!   divmod(from_digits("100000000000000000007").negated(), from_digits("10000000000"), q, r, b);
  //!   // true: q = −10^10, r = −7
  friend bool divmod(const big_int& a, const big_int& b, big_int& q, big_int& r, step_budget& budget) {
    if (b.is_zero()) return false;
    if (a.is_small() && b.is_small()) {
      const std::int64_t x = a.small_, y = b.small_;
      q = big_int(x / y);
      r = big_int(x % y);
      return true;
    }
    // |a| < |b|: the quotient is 0 and the remainder a itself (truncation keeps a's sign).
    const limbs ma = a.magnitude(), mb = b.magnitude();
    if (cmp_mag(ma, mb) < 0) {
      q = big_int(0);
      r = a;
      return true;
    }
    if (!budget.spend(static_cast<std::int64_t>((ma.size() - mb.size() + 1) * mb.size() * 2))) return false;
    limbs qm, rm;
    divmod_mag(ma, mb, qm, rm);
    q.assign((a.sign() < 0) != (b.sign() < 0), std::move(qm));
    r.assign(a.sign() < 0, std::move(rm));
    return true;
  }
  //! gcd(|a|, |b|) ≥ 0.
  //!
  //! Euclid's algorithm by repeated `divmod`, switching to a plain int64 loop as soon as both
  //! values are inline. gcd(0, 0) = 0,
  //! gcd(a, 0) = |a|. Each division is charged to `budget`; false when it refuses (the number of
  //! divisions grows with the length of the operands, each charged as above).
  //!
  //!   gcd(from_digits("1267650600228229401496703205376"),   // 2^100
  //!       from_digits("15511210043330985984000000"), g, b);  // 25!  → true, g = 2^22 = 4194304
  friend bool gcd(big_int a, big_int b, big_int& out, step_budget& budget) {
    a = a.abs(), b = b.abs();
    while (!b.is_zero()) {
      if (a.is_small() && b.is_small()) {
        std::int64_t x = a.small_, y = b.small_;
        while (y != 0) x = std::exchange(y, x % y);
        out = big_int(x);
        return true;
      }
      big_int q, r;
      if (!divmod(a, b, q, r, budget)) return false;
      a = std::move(b), b = std::move(r);
    }
    out = std::move(a);
    return true;
  }

  //! Nearest double (±inf when out of range).
  //!
  //! Inline values convert directly (correctly rounded). Larger values use their top three limbs
  //! (19–27 significant digits) scaled by 10^(9·e) in `long double`, so the result is the nearest
  //! double up to a last-bit difference in rare cases; beyond ≈ 1.8·10^308 it is ±inf.
  [[nodiscard]] double to_double() const {
    if (is_small()) return static_cast<double>(small_);
    long double x = 0;
    int exp = 0;
    lead(x, exp);
    const long double v = x * std::pow(static_cast<long double>(base), static_cast<long double>(exp));
    return static_cast<double>(neg_ ? -v : v);
  }
  //! |v| ≈ m · (10^9)^e with m from the top limbs (for ratios of huge numbers).
  //!
  //! m is the value of the top min(3, limbs) limbs (so 1 ≤ m < 10^27 for a non-zero value) and e
  //! the number of limbs below them; for an inline value m = |v| and e = 0. Ratios are formed as
  //! m₁/m₂ · 10^(9(e₁ − e₂)), which stays in range when both numbers are far beyond double's.
  //! Example: 10^30 has limbs [0, 0, 0, 1000] (least significant first), so m = 10^21, e = 1.
  void lead(long double& m, int& e) const {
    if (is_small()) {
      m = static_cast<long double>(small_ < 0 ? -small_ : small_);
      e = 0;
      return;
    }
    const std::size_t n = mag_.size(), k = std::min<std::size_t>(3, n);
    m = 0;
    for (std::size_t i = 0; i < k; ++i) m = m * base + mag_[n - 1 - i];
    e = static_cast<int>(n - k);
  }

  //! Decimal text with a leading '-' for negative values and no leading zeros ("0" for zero).
  //! Every limb below the top one is padded to exactly 9 digits. O(limbs) time and memory.
  //! `from_digits(s).to_string() == s` for any digit string s without leading zeros; the tests
  //! compare results this way (e.g. (10^30 + 1)(10^30 − 1) prints as sixty 9s).
  [[nodiscard]] std::string to_string() const {
    if (is_small()) return std::to_string(small_);
    // The top limb is printed as is; every lower limb is a fixed-width group of 9 digits.
    std::string s = neg_ ? "-" : "";
    s += std::to_string(mag_.back());
    for (std::size_t i = mag_.size() - 1; i-- > 0;) {
      const std::string d = std::to_string(mag_[i]);
      s.append(9 - d.size(), '0');
      s += d;
    }
    return s;
  }

private:
  // Inline value; valid only while mag_ is empty.
  std::int64_t small_ = 0;
  // Sign of a limb value; always false for an inline value, so equal values compare equal.
  bool neg_ = false;
  limbs mag_; // non-empty only when |value| > small_max

  // Stores a 128-bit intermediate, inline when |v| ≤ small_max, else as limbs (at most 5 limbs
  // for the |v| < 2^124 products and sums this receives, so negating v cannot overflow).
  void set_small128(i128 v) {
    if (v >= -static_cast<i128>(small_max) && v <= small_max) {
      small_ = static_cast<std::int64_t>(v);
      neg_ = false;
      mag_.clear();
      return;
    }
    const bool neg = v < 0;
    u128 u = neg ? static_cast<u128>(-v) : static_cast<u128>(v);
    limbs m;
    while (u != 0) {
      m.push_back(static_cast<std::uint32_t>(u % base));
      u /= base;
    }
    assign(neg, std::move(m));
  }
  //! Stores sign and magnitude, going back to the inline form when it fits.
  //!
  //! Every limb result goes through here: leading zero limbs are dropped, and a magnitude of at
  //! most three limbs (< 10^27, which fits in 128 bits) is tested against `small_max`, so the
  //! canonical-form invariant holds after every operation. A zero magnitude becomes inline 0,
  //! whatever `neg`.
  void assign(bool neg, limbs m) {
    while (!m.empty() && m.back() == 0) m.pop_back();
    if (m.size() <= 3) {
      u128 u = 0;
      for (std::size_t i = m.size(); i-- > 0;) u = u * base + m[i];
      if (u <= static_cast<u128>(small_max)) {
        const auto v = static_cast<std::int64_t>(u);
        small_ = neg ? -v : v;
        neg_ = false;
        mag_.clear();
        return;
      }
    }
    small_ = 0;
    neg_ = neg;
    mag_ = std::move(m);
  }
  // |v| as limbs, also for an inline value (empty for zero). Returns a copy, O(limbs), even for a
  // limb value; the inline fast paths of add/sub/mul/divmod avoid calling it.
  [[nodiscard]] limbs magnitude() const {
    if (!is_small()) return mag_;
    limbs m;
    std::uint64_t u = small_ < 0 ? static_cast<std::uint64_t>(-small_) : static_cast<std::uint64_t>(small_);
    while (u != 0) {
      m.push_back(static_cast<std::uint32_t>(u % base));
      u /= base;
    }
    return m;
  }
  // Compares magnitudes without leading zeros: the longer one is larger, else the first differing
  // limb from the top decides.
  static int cmp_mag(const limbs& a, const limbs& b) noexcept {
    if (a.size() != b.size()) return a.size() < b.size() ? -1 : 1;
    for (std::size_t i = a.size(); i-- > 0;)
      if (a[i] != b[i]) return a[i] < b[i] ? -1 : 1;
    return 0;
  }
  // |a| + |b| limb by limb; the extra top limb takes the final carry (assign() trims it).
  // A limb sum is at most 2·(10^9 − 1) + 1 < 2^32, so uint32 arithmetic cannot overflow.
  static limbs add_mag(const limbs& a, const limbs& b) {
    limbs r(std::max(a.size(), b.size()) + 1, 0);
    std::uint32_t carry = 0;
    for (std::size_t i = 0; i < r.size(); ++i) {
      std::uint32_t s = carry;
      if (i < a.size()) s += a[i];
      if (i < b.size()) s += b[i];
      carry = s >= base;
      r[i] = carry ? s - base : s;
    }
    return r;
  }
  // |a| − |b| for |a| ≥ |b|; the borrow is propagated in int64 so that a limb difference may go
  // negative before it is corrected by adding the base. Leaves leading zeros for the caller.
  static limbs sub_mag(const limbs& a, const limbs& b) { // |a| ≥ |b|
    limbs r(a.size(), 0);
    std::int64_t borrow = 0;
    for (std::size_t i = 0; i < a.size(); ++i) {
      std::int64_t d = static_cast<std::int64_t>(a[i]) - borrow - (i < b.size() ? b[i] : 0);
      borrow = d < 0;
      r[i] = static_cast<std::uint32_t>(d < 0 ? d + base : d);
    }
    return r;
  }
  // Signed addition of magnitudes: equal signs add; otherwise the smaller magnitude is subtracted
  // from the larger and the result takes the larger one's sign.
  static big_int add_signed(bool na, const limbs& a, bool nb, const limbs& b) {
    big_int r;
    if (na == nb) {
      r.assign(na, add_mag(a, b));
    } else if (cmp_mag(a, b) >= 0) {
      r.assign(na, sub_mag(a, b));
    } else {
      r.assign(nb, sub_mag(b, a));
    }
    return r;
  }
  // Schoolbook product. Each step is at most (10^9 − 1)² + 2·(10^9 − 1) < 10^18 < 2^64, so one
  // uint64 accumulator per output limb holds a partial sum and a carry without overflow; the
  // carry is pushed up immediately, so accumulators stay below the base between rows.
  static limbs mul_mag(const limbs& a, const limbs& b) {
    std::vector<std::uint64_t> acc(a.size() + b.size() + 1, 0);
    for (std::size_t i = 0; i < a.size(); ++i) {
      std::uint64_t carry = 0;
      for (std::size_t j = 0; j < b.size(); ++j) {
        const std::uint64_t cur = acc[i + j] + static_cast<std::uint64_t>(a[i]) * b[j] + carry;
        acc[i + j] = cur % base;
        carry = cur / base;
      }
      std::size_t k = i + b.size();
      while (carry != 0) {
        const std::uint64_t cur = acc[k] + carry;
        acc[k++] = cur % base;
        carry = cur / base;
      }
    }
    limbs r(acc.size());
    for (std::size_t i = 0; i < acc.size(); ++i) r[i] = static_cast<std::uint32_t>(acc[i]);
    return r;
  }
  // b·q for one limb q < base (a candidate quotient digit times the divisor), trimmed of leading
  // zero limbs so it can be compared with cmp_mag directly.
  static limbs mul_small(const limbs& b, std::uint32_t q) {
    limbs r(b.size() + 1, 0);
    std::uint64_t carry = 0;
    for (std::size_t i = 0; i < b.size(); ++i) {
      const std::uint64_t cur = static_cast<std::uint64_t>(b[i]) * q + carry;
      r[i] = static_cast<std::uint32_t>(cur % base);
      carry = cur / base;
    }
    r[b.size()] = static_cast<std::uint32_t>(carry);
    while (!r.empty() && r.back() == 0) r.pop_back();
    return r;
  }
  // The same leading-limb summary as big_int::lead, for a bare magnitude (used by the division
  // estimate).
  static long double lead_of(const limbs& v, int& e) {
    const std::size_t n = v.size(), k = std::min<std::size_t>(3, n);
    long double m = 0;
    for (std::size_t i = 0; i < k; ++i) m = m * base + v[n - 1 - i];
    e = static_cast<int>(n - k);
    return m;
  }
  // Long division in base 10^9, one quotient limb per dividend limb from the top.
  // Invariant before each step: 0 ≤ r < b; after bringing down a[i], r < b·base, so the quotient
  // digit d lies in [0, base − 1]. d is estimated from the ratio of the leading limbs of r and b,
  // clamped to [1, base − 1] (r ≥ b here, so d ≥ 1), then corrected exactly: lowered
  // while b·d > r, raised while the remainder is still ≥ b. The corrections terminate because
  // d = 1 always satisfies b·d ≤ r, and each pass moves d by one toward the true digit.
  // The prefixes carry at least 18 significant digits (exact when a number has ≤ 3 limbs) and
  // d < 10^9, so the estimate is within about one of the true digit and the correction loops
  // run at most a step or two; their cost is O(|b|) per step either way.
  // Each quotient limb q[i] lands at the position of the dividend limb just brought down, so q
  // has |a| limbs with leading zeros that assign() removes.
  static void divmod_mag(const limbs& a, const limbs& b, limbs& q, limbs& rem) {
    q.assign(a.size(), 0);
    limbs r;
    int eb = 0;
    const long double lb = lead_of(b, eb);
    for (std::size_t i = a.size(); i-- > 0;) {
      // Bringing down the next dividend limb shifts r by one limb, O(|b|) per quotient limb; this
      // and the comparison are the linear work that the budget charge (products only) leaves out.
      r.insert(r.begin(), a[i]); // r = r·base + a[i]
      while (!r.empty() && r.back() == 0) r.pop_back();
      if (cmp_mag(r, b) < 0) continue;
      int er = 0;
      const long double lr = lead_of(r, er);
      long double est = lr / lb * std::pow(static_cast<long double>(base), static_cast<long double>(er - eb));
      std::uint32_t d = est >= base - 1 ? base - 1 : (est < 1 ? 1 : static_cast<std::uint32_t>(est));
      limbs prod = mul_small(b, d);
      while (cmp_mag(prod, r) > 0) --d, prod = mul_small(b, d);
      r = sub_mag(r, prod);
      while (!r.empty() && r.back() == 0) r.pop_back();
      while (cmp_mag(r, b) >= 0) {
        ++d;
        r = sub_mag(r, b);
        while (!r.empty() && r.back() == 0) r.pop_back();
      }
      q[i] = d;
    }
    rem = std::move(r);
  }
};

//! An exact rational num/den, den > 0, gcd(num, den) = 1.
//!
//! The invariant is established by `make_rational` and preserved by the arithmetic below
//! (`add`, `sub`, `mul`, `div`, `pow_int`), so equality of values is equality of members and
//! an integer has den = 1. Aggregate-initialising with an unreduced pair breaks `operator==`;
//! build values through `make_rational` unless the pair is known to be reduced (an integer over
//! 1, or a power of a reduced rational). Default: 0/1.
//!
//!   rational half{big_int(1), big_int(2)};   // reduced already: a valid aggregate
//!   rational two_quarters{big_int(2), big_int(4)};
//!   half == two_quarters;                    // false — the invariant was broken by hand
//!   step_budget b; rational r;
//!   make_rational(big_int(2), big_int(4), r, b) && r == half;   // true
//!
//! Memory: two big_ints; values up to 2^62 − 1 in both parts allocate nothing.
struct rational {
  //! Numerator (carries the sign) and denominator (> 0); 0/1 by default.
  big_int num{0}, den{1};

  //! Exact equality (both sides are reduced, so members are compared).
  friend bool operator==(const rational& a, const rational& b) noexcept { return a.num == b.num && a.den == b.den; }
  //! v = 0.
  [[nodiscard]] bool is_zero() const noexcept { return num.is_zero(); }
  //! den = 1.
  [[nodiscard]] bool is_integer() const noexcept { return den.is_small() && den.small() == 1; }
  //! Sign of the numerator (the denominator is positive).
  [[nodiscard]] int sign() const noexcept { return num.sign(); }
  //! num/den as a double. Inline parts divide in double (one rounding each for num and den, then
  //! the division); larger ones use the leading-limb ratio of `big_int::lead` in `long double`,
  //! so a quotient of two 10 000-digit numbers is still accurate, and ±inf or 0 only when the
  //! value itself is outside double's range.
  [[nodiscard]] double to_double() const {
    if (num.is_small() && den.is_small()) return static_cast<double>(num.small()) / static_cast<double>(den.small());
    long double mn = 0, md = 0;
    int en = 0, ed = 0;
    num.lead(mn, en);
    den.lead(md, ed);
    const long double v = mn / md * std::pow(static_cast<long double>(big_int::base), static_cast<long double>(en - ed));
    return static_cast<double>(num.sign() < 0 ? -v : v);
  }
  //! −v (reduction is preserved).
  [[nodiscard]] rational negated() const { return {num.negated(), den}; }
};

//! num/den reduced; false when den = 0 or the budget refuses.
//!
//! Moves the sign to the numerator and divides both parts by gcd(|num|, den): 6/−8 → −3/4,
//! 0/d → 0/1. When both are inline the gcd is a plain int64 loop and nothing is charged;
//! otherwise the gcd and the two exact divisions are charged to `budget`. This is the one place
//! where reduction happens; every other function here either calls it or keeps coprimality by
//! construction (integer sums, powers).
//!
//!   step_budget b; rational r;
//!   make_rational(big_int(6), big_int(-8), r, b);   // true, r = {-3, 4}
inline bool make_rational(big_int num, big_int den, rational& out, step_budget& budget) {
  if (den.is_zero()) return false;
  if (den.sign() < 0) num = num.negated(), den = den.negated();
  if (num.is_small() && den.is_small()) {
    // |num| and den are ≤ small_max < 2^63, so neither the negation nor the loop can overflow.
    std::int64_t x = num.small() < 0 ? -num.small() : num.small(), y = den.small();
    while (y != 0) x = std::exchange(y, x % y);
    if (x > 1) num = big_int(num.small() / x), den = big_int(den.small() / x);
    out = {std::move(num), std::move(den)};
    return true;
  }
  big_int g, q, r;
  if (!gcd(num, den, g, budget)) return false;
  // g = 1 is the common case for values that are already reduced; skip both divisions then.
  if (!(g == big_int(1))) {
    if (!divmod(num, g, q, r, budget)) return false;
    num = std::move(q);
    if (!divmod(den, g, q, r, budget)) return false;
    den = std::move(q);
  }
  out = {std::move(num), std::move(den)};
  return true;
}

//! a + b, reduced. Two integers add without any charge or reduction; otherwise
//! (a.num·b.den + b.num·a.den) / (a.den·b.den) is formed and reduced; the products and the
//! reduction are charged to `budget`. False when the size cap or the budget refuses.
//! The common denominator is the full product a.den·b.den (no lcm), so for n-limb parts the
//! intermediate has about 2n limbs before the gcd brings it back down.
inline bool add(const rational& a, const rational& b, rational& out, step_budget& budget) {
  // Integers: a plain big_int sum, already reduced (denominator 1).
  if (a.is_integer() && b.is_integer()) {
    out = {add(a.num, b.num), big_int(1)};
    return true;
  }
  big_int x, y, d;
  if (!mul(a.num, b.den, x, budget) || !mul(b.num, a.den, y, budget) || !mul(a.den, b.den, d, budget)) return false;
  return make_rational(add(x, y), std::move(d), out, budget);
}
//! a − b, reduced (a + (−b)); same costs and refusals as `add`.
inline bool sub(const rational& a, const rational& b, rational& out, step_budget& budget) {
  return add(a, b.negated(), out, budget);
}
//! a·b, reduced. The products of numerators and denominators are reduced by one gcd, skipped
//! when the denominator product is 1 (both integers, so nothing to reduce). False when the size
//! cap or the budget refuses. The full products are formed before reduction (no
//! cross-cancellation), so the intermediates have |a| + |b| limbs — the size the cap checks.
inline bool mul(const rational& a, const rational& b, rational& out, step_budget& budget) {
  big_int n, d;
  if (!mul(a.num, b.num, n, budget) || !mul(a.den, b.den, d, budget)) return false;
  // den = 1 means both factors were integers: the product is already reduced.
  if (d.is_small() && d.small() == 1) {
    out = {std::move(n), std::move(d)};
    return true;
  }
  return make_rational(std::move(n), std::move(d), out, budget);
}
//! a / b, reduced; false when b = 0 or the size cap or the budget refuses. Computes
//! (a.num·b.den) / (a.den·b.num) and lets `make_rational` move the sign and reduce:
//! div(1/2, −3/4) forms 4 / −6 and returns −2/3.
inline bool div(const rational& a, const rational& b, rational& out, step_budget& budget) {
  if (b.is_zero()) return false;
  big_int n, d;
  if (!mul(a.num, b.den, n, budget) || !mul(a.den, b.num, d, budget)) return false;
  return make_rational(std::move(n), std::move(d), out, budget);
}
//! a^e for an integer e (a ≠ 0 when e < 0); refuses when the result would pass `max_limbs`.
//!
//! Square-and-multiply on numerator and denominator separately: O(log |e|) products and no gcd,
//! because powers of coprime numbers are coprime. a^0 = 1 (also 0^0); 0^e = 0 for e > 0; 0^e for
//! e < 0 refuses (division by zero). a^(−k) is (1/a)^k, with the sign moved to the numerator.
//! ±1 to any power is computed from the parity of e alone, so (−1)^{10^18} is instant. Before
//! any multiplication the size of the result is estimated as |e|·digits(a) (digits from log10 of
//! the larger part, at least log10 2) and the power is refused when that exceeds
//! 9·`max_limbs` digits — so `10^{10^{10}}` costs one estimate, not gigabytes. Each product is
//! also charged to `budget` and checked against the size cap.
//!
//!   pow_int({big_int(2), big_int(3)}, -2, r, budget);    // true, r = 9/4
//!   pow_int({big_int(10), big_int(1)}, 20000, r, budget); // false: 20 000 digits > 18 000
inline bool pow_int(const rational& a, std::int64_t e, rational& out, step_budget& budget) {
  if (e == 0) {
    out = {big_int(1), big_int(1)};
    return true;
  }
  if (a.is_zero()) {
    if (e < 0) return false;
    out = a;
    return true;
  }
  const bool inv = e < 0;
  // |e| as unsigned without overflow when e = INT64_MIN: −(e + 1) is representable, then add 1.
  std::uint64_t k = inv ? static_cast<std::uint64_t>(-(e + 1)) + 1 : static_cast<std::uint64_t>(e);
  // Size estimate: digits(a^k) ≈ k · digits(a). For inline parts digits(a) is log10 of the
  // larger part plus one (a slight overestimate, so the refusal errs on the safe side); for limb
  // parts it is 9 digits per limb of the longer one, an upper bound. The floor log10 2 covers
  // the smallest non-unit base; ±1 is exempt below.
  const double digits = a.num.is_small() && a.den.is_small()
                            ? std::max(std::log10(std::fabs(a.num.to_double()) + 1.0), std::log10(a.den.to_double() + 1.0))
                            : 9.0 * static_cast<double>(std::max(a.num.size(), a.den.size()));
  const bool unit = (a.num == big_int(1) || a.num == big_int(-1)) && a.is_integer();
  if (!unit && static_cast<double>(k) * std::max(digits, 0.30103) > 9.0 * static_cast<double>(max_limbs)) return false;
  // (±1)^k depends only on the parity of k: compute a square or the base itself.
  if (unit) k = k % 2 == 0 ? 2 : 1;
  rational result{big_int(1), big_int(1)}, b = a;
  // Binary exponentiation: result accumulates b^(bits of k); b is squared only while bits remain,
  // so the last (largest) square is never computed in vain.
  while (k != 0) {
    if (k & 1) {
      big_int n, d;
      if (!mul(result.num, b.num, n, budget) || !mul(result.den, b.den, d, budget)) return false;
      result = {std::move(n), std::move(d)}; // coprime factors stay coprime
    }
    k >>= 1;
    if (k != 0) {
      big_int n, d;
      if (!mul(b.num, b.num, n, budget) || !mul(b.den, b.den, d, budget)) return false;
      b = {std::move(n), std::move(d)};
    }
  }
  // a^(−k) = den^k / num^k; keep the denominator positive by moving num's sign up.
  if (inv) {
    if (result.num.sign() < 0) result = {result.den.negated(), result.num.negated()};
    else result = {result.den, result.num};
  }
  out = std::move(result);
  return true;
}

} // namespace rlvr::detail::rewards
