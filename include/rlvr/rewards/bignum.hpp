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
//! Formulas: long division is the schoolbook algorithm in base 10^9 with each quotient limb
//! estimated from the top three limbs of remainder and divisor in `long double` and corrected
//! by at most a few add/subtract steps; gcd is Euclid's algorithm; powers square and multiply.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace rlvr::detail::rewards {

__extension__ using i128 = __int128;          // GCC/Clang extension; __extension__ keeps -Wpedantic quiet
__extension__ using u128 = unsigned __int128;

//! Work allowance shared by one evaluation; `spend` returns false once it is exhausted.
struct step_budget {
  std::int64_t left = 4'000'000;
  bool spend(std::int64_t n) noexcept {
    left -= n;
    return left >= 0;
  }
  [[nodiscard]] bool ok() const noexcept { return left >= 0; }
};

//! Largest big_int the evaluator builds by arithmetic (limbs of 9 decimal digits).
inline constexpr std::size_t max_limbs = 2000;

class big_int {
public:
  using limbs = std::vector<std::uint32_t>;
  static constexpr std::uint32_t base = 1'000'000'000u;
  static constexpr std::int64_t small_max = (std::int64_t{1} << 62) - 1;

  big_int() = default;
  big_int(std::int64_t v) { set_small128(v); } // NOLINT: implicit from integers is intended

  //! Reads decimal digits (only '0'–'9', at least one). Linear in `digits.size()`.
  static big_int from_digits(std::string_view digits) {
    std::size_t b = 0;
    while (b + 1 < digits.size() && digits[b] == '0') ++b;
    digits = digits.substr(b);
    big_int r;
    if (digits.size() <= 18) {
      std::int64_t v = 0;
      for (char c : digits) v = v * 10 + (c - '0');
      r.small_ = v;
      return r;
    }
    limbs m;
    m.reserve(digits.size() / 9 + 1);
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

  [[nodiscard]] bool is_small() const noexcept { return mag_.empty(); }
  [[nodiscard]] std::int64_t small() const noexcept { return small_; }
  [[nodiscard]] bool is_zero() const noexcept { return is_small() && small_ == 0; }
  [[nodiscard]] int sign() const noexcept {
    if (is_small()) return (small_ > 0) - (small_ < 0);
    return neg_ ? -1 : 1;
  }
  //! Number of base-10^9 limbs (1 for small values).
  [[nodiscard]] std::size_t size() const noexcept { return is_small() ? 1 : mag_.size(); }

  friend bool operator==(const big_int& a, const big_int& b) noexcept {
    if (a.is_small() != b.is_small()) return false;
    if (a.is_small()) return a.small_ == b.small_;
    return a.neg_ == b.neg_ && a.mag_ == b.mag_;
  }
  friend int compare(const big_int& a, const big_int& b) {
    if (a.is_small() && b.is_small()) return (a.small_ > b.small_) - (a.small_ < b.small_);
    const int sa = a.sign(), sb = b.sign();
    if (sa != sb) return sa < sb ? -1 : 1;
    const int m = cmp_mag(a.magnitude(), b.magnitude());
    return sa < 0 ? -m : m;
  }

  [[nodiscard]] big_int negated() const {
    big_int r = *this;
    if (r.is_small()) r.small_ = -r.small_;
    else r.neg_ = !r.neg_;
    return r;
  }
  [[nodiscard]] big_int abs() const { return sign() < 0 ? negated() : *this; }

  friend big_int add(const big_int& a, const big_int& b) {
    if (a.is_small() && b.is_small()) {
      big_int r;
      r.set_small128(static_cast<i128>(a.small_) + b.small_);
      return r;
    }
    return add_signed(a.sign() < 0, a.magnitude(), b.sign() < 0, b.magnitude());
  }
  friend big_int sub(const big_int& a, const big_int& b) {
    if (a.is_small() && b.is_small()) {
      big_int r;
      r.set_small128(static_cast<i128>(a.small_) - b.small_);
      return r;
    }
    return add_signed(a.sign() < 0, a.magnitude(), b.sign() >= 0 && !b.is_zero(), b.magnitude());
  }
  //! a·b; false when the budget or the size cap refuses.
  friend bool mul(const big_int& a, const big_int& b, big_int& out, step_budget& budget) {
    if (a.is_small() && b.is_small()) {
      out.set_small128(static_cast<i128>(a.small_) * b.small_);
      return true;
    }
    if (a.is_zero() || b.is_zero()) {
      out = big_int(0);
      return true;
    }
    const limbs ma = a.magnitude(), mb = b.magnitude();
    if (ma.size() + mb.size() > max_limbs + 1) return false;
    if (!budget.spend(static_cast<std::int64_t>(ma.size() * mb.size()))) return false;
    out.assign((a.sign() < 0) != (b.sign() < 0), mul_mag(ma, mb));
    return true;
  }
  //! Truncating division a = q·b + r with |r| < |b|, sign(r) = sign(a); false when b = 0 or the
  //! budget refuses.
  friend bool divmod(const big_int& a, const big_int& b, big_int& q, big_int& r, step_budget& budget) {
    if (b.is_zero()) return false;
    if (a.is_small() && b.is_small()) {
      const std::int64_t x = a.small_, y = b.small_;
      q = big_int(x / y);
      r = big_int(x % y);
      return true;
    }
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
  [[nodiscard]] double to_double() const {
    if (is_small()) return static_cast<double>(small_);
    long double x = 0;
    int exp = 0;
    lead(x, exp);
    const long double v = x * std::pow(static_cast<long double>(base), static_cast<long double>(exp));
    return static_cast<double>(neg_ ? -v : v);
  }
  //! |v| ≈ m · (10^9)^e with m from the top limbs (for ratios of huge numbers).
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

  [[nodiscard]] std::string to_string() const {
    if (is_small()) return std::to_string(small_);
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
  std::int64_t small_ = 0;
  bool neg_ = false;
  limbs mag_; // non-empty only when |value| > small_max

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
  static int cmp_mag(const limbs& a, const limbs& b) noexcept {
    if (a.size() != b.size()) return a.size() < b.size() ? -1 : 1;
    for (std::size_t i = a.size(); i-- > 0;)
      if (a[i] != b[i]) return a[i] < b[i] ? -1 : 1;
    return 0;
  }
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
  static long double lead_of(const limbs& v, int& e) {
    const std::size_t n = v.size(), k = std::min<std::size_t>(3, n);
    long double m = 0;
    for (std::size_t i = 0; i < k; ++i) m = m * base + v[n - 1 - i];
    e = static_cast<int>(n - k);
    return m;
  }
  static void divmod_mag(const limbs& a, const limbs& b, limbs& q, limbs& rem) {
    q.assign(a.size(), 0);
    limbs r;
    int eb = 0;
    const long double lb = lead_of(b, eb);
    for (std::size_t i = a.size(); i-- > 0;) {
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
struct rational {
  big_int num{0}, den{1};

  friend bool operator==(const rational& a, const rational& b) noexcept { return a.num == b.num && a.den == b.den; }
  [[nodiscard]] bool is_zero() const noexcept { return num.is_zero(); }
  [[nodiscard]] bool is_integer() const noexcept { return den.is_small() && den.small() == 1; }
  [[nodiscard]] int sign() const noexcept { return num.sign(); }
  [[nodiscard]] double to_double() const {
    if (num.is_small() && den.is_small()) return static_cast<double>(num.small()) / static_cast<double>(den.small());
    long double mn = 0, md = 0;
    int en = 0, ed = 0;
    num.lead(mn, en);
    den.lead(md, ed);
    const long double v = mn / md * std::pow(static_cast<long double>(big_int::base), static_cast<long double>(en - ed));
    return static_cast<double>(num.sign() < 0 ? -v : v);
  }
  [[nodiscard]] rational negated() const { return {num.negated(), den}; }
};

//! num/den reduced; false when den = 0 or the budget refuses.
inline bool make_rational(big_int num, big_int den, rational& out, step_budget& budget) {
  if (den.is_zero()) return false;
  if (den.sign() < 0) num = num.negated(), den = den.negated();
  if (num.is_small() && den.is_small()) {
    std::int64_t x = num.small() < 0 ? -num.small() : num.small(), y = den.small();
    while (y != 0) x = std::exchange(y, x % y);
    if (x > 1) num = big_int(num.small() / x), den = big_int(den.small() / x);
    out = {std::move(num), std::move(den)};
    return true;
  }
  big_int g, q, r;
  if (!gcd(num, den, g, budget)) return false;
  if (!(g == big_int(1))) {
    if (!divmod(num, g, q, r, budget)) return false;
    num = std::move(q);
    if (!divmod(den, g, q, r, budget)) return false;
    den = std::move(q);
  }
  out = {std::move(num), std::move(den)};
  return true;
}

inline bool add(const rational& a, const rational& b, rational& out, step_budget& budget) {
  if (a.is_integer() && b.is_integer()) {
    out = {add(a.num, b.num), big_int(1)};
    return true;
  }
  big_int x, y, d;
  if (!mul(a.num, b.den, x, budget) || !mul(b.num, a.den, y, budget) || !mul(a.den, b.den, d, budget)) return false;
  return make_rational(add(x, y), std::move(d), out, budget);
}
inline bool sub(const rational& a, const rational& b, rational& out, step_budget& budget) {
  return add(a, b.negated(), out, budget);
}
inline bool mul(const rational& a, const rational& b, rational& out, step_budget& budget) {
  big_int n, d;
  if (!mul(a.num, b.num, n, budget) || !mul(a.den, b.den, d, budget)) return false;
  if (d.is_small() && d.small() == 1) {
    out = {std::move(n), std::move(d)};
    return true;
  }
  return make_rational(std::move(n), std::move(d), out, budget);
}
inline bool div(const rational& a, const rational& b, rational& out, step_budget& budget) {
  if (b.is_zero()) return false;
  big_int n, d;
  if (!mul(a.num, b.den, n, budget) || !mul(a.den, b.num, d, budget)) return false;
  return make_rational(std::move(n), std::move(d), out, budget);
}
//! a^e for an integer e (a ≠ 0 when e < 0); refuses when the result would pass `max_limbs`.
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
  std::uint64_t k = inv ? static_cast<std::uint64_t>(-(e + 1)) + 1 : static_cast<std::uint64_t>(e);
  // Size estimate: digits(a^k) ≈ k · digits(a).
  const double digits = a.num.is_small() && a.den.is_small()
                            ? std::max(std::log10(std::fabs(a.num.to_double()) + 1.0), std::log10(a.den.to_double() + 1.0))
                            : 9.0 * static_cast<double>(std::max(a.num.size(), a.den.size()));
  const bool unit = (a.num == big_int(1) || a.num == big_int(-1)) && a.is_integer();
  if (!unit && static_cast<double>(k) * std::max(digits, 0.30103) > 9.0 * static_cast<double>(max_limbs)) return false;
  if (unit) k = k % 2 == 0 ? 2 : 1;
  rational result{big_int(1), big_int(1)}, b = a;
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
  if (inv) {
    if (result.num.sign() < 0) result = {result.den.negated(), result.num.negated()};
    else result = {result.den, result.num};
  }
  out = std::move(result);
  return true;
}

} // namespace rlvr::detail::rewards
