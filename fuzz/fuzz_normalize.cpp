// libFuzzer target: the MATH normaliser, equivalence and the number parser.
// The input is split at its first NUL byte into two answers a and b. Invariants:
//  - normalisation and equivalence finish for any bytes (ASan/UBSan/-timeout catch the rest);
//  - math_equivalent is symmetric, and true whenever the normal forms are equal and non-empty;
//  - normalized_answers_equivalent is symmetric, and reflexive exactly when the form is non-empty;
//  - a parsed number is finite; an exact one is reduced with a positive denominator, and its
//    double agrees with num/den.
#include <rlvr/rewards/normalize.hpp>
#include <rlvr/rewards/numbers.hpp>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <numeric>
#include <string>
#include <string_view>

namespace {
void require(bool ok) {
  if (!ok) std::abort();
}
void check_number(std::string_view s) {
  const auto v = rlvr::parse_number(s);
  if (!v) return;
  require(std::isfinite(v->value));
  if (v->exact) {
    require(v->den > 0);
    require(std::gcd(v->num, v->den) == 1 || v->num == 0);
    const double q = static_cast<double>(v->num) / static_cast<double>(v->den);
    require(std::fabs(q - v->value) <= 1e-12 * std::fabs(q) + 1e-300);
  }
}
} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  const std::size_t cut = in.find('\0');
  const std::string_view a = in.substr(0, cut);
  const std::string_view b = cut == std::string_view::npos ? std::string_view{} : in.substr(cut + 1);

  const std::string na = rlvr::normalize_math_answer(a);
  const std::string nb = rlvr::normalize_math_answer(b);
  require(rlvr::normalized_answers_equivalent(na, na) == !na.empty());
  require(rlvr::normalized_answers_equivalent(na, nb) == rlvr::normalized_answers_equivalent(nb, na));
  const bool eq = rlvr::math_equivalent(a, b);
  require(eq == rlvr::math_equivalent(b, a));
  if (!na.empty() && na == nb) require(eq);
  (void)rlvr::normalize_math_answer(na);
  check_number(a);
  check_number(na);
  check_number(b);
  return 0;
}
