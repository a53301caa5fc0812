// libFuzzer target: the math verifier's symbolic-numeric core — the LaTeX-subset parser, the
// evaluator (bignum rationals, surds, random points) and structured comparison — plus the
// bignum division it rests on. The input is split at its first NUL byte into answers a and b.
// Invariants:
//  - parsing, evaluation and comparison finish for any bytes, without exceptions other than
//    std::bad_alloc (ASan/UBSan/-timeout catch crashes, undefined behaviour and hangs);
//  - compare_math(a, a) is never `different` (a value always equals itself, or is undecidable);
//  - math_equivalent is symmetric, with the default and with strict options;
//  - for the leading digit runs x, y of a and b (y ≠ 0): x = q·y + r with 0 ≤ r < y.
#include <rlvr/rewards/bignum.hpp>
#include <rlvr/rewards/math_expr.hpp>
#include <rlvr/rewards/normalize.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

namespace {
void require(bool ok) {
  if (!ok) std::abort();
}
std::string_view leading_digits(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size() && i < 400 && s[i] >= '0' && s[i] <= '9') ++i;
  return s.substr(0, i);
}
} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  const std::size_t cut = in.find('\0');
  const std::string_view a = in.substr(0, cut);
  const std::string_view b = cut == std::string_view::npos ? std::string_view{} : in.substr(cut + 1);

  require(rlvr::compare_math(a, a) != rlvr::math_comparison::different);
  (void)rlvr::compare_math(a, b);
  const bool lenient = rlvr::math_equivalent(a, b);
  require(lenient == rlvr::math_equivalent(b, a));
  const rlvr::math_options strict = rlvr::math_options::strict();
  const bool s = rlvr::math_equivalent(a, b, strict);
  require(s == rlvr::math_equivalent(b, a, strict));

  namespace rw = rlvr::detail::rewards;
  const std::string_view x = leading_digits(a), y = leading_digits(b);
  if (!x.empty() && !y.empty()) {
    const rw::big_int bx = rw::big_int::from_digits(x), by = rw::big_int::from_digits(y);
    if (!by.is_zero()) {
      rw::step_budget budget;
      rw::big_int q, r, qy;
      require(divmod(bx, by, q, r, budget));
      require(mul(q, by, qy, budget));
      require(add(qy, r) == bx);
      require(r.sign() >= 0 && compare(r, by) < 0);
    }
  }
  return 0;
}
