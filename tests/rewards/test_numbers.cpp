// parse_number: every accepted form with its exact rational; rejected forms; numbers_close.
#include <rlvr/rewards/numbers.hpp>

#include <catch2/catch.hpp>

#include <cstdint>
#include <limits>
#include <string>

namespace {
struct exact_case {
  std::string_view text;
  std::int64_t num, den;
};
} // namespace

TEST_CASE("parse_number: exact rationals for integers, decimals, scientific and fractions", "[rewards][numbers]") {
  const exact_case cases[] = {
      {"42", 42, 1},          {"-7", -7, 1},         {"+3", 3, 1},           {"007", 7, 1},
      {"0", 0, 1},            {"-0", 0, 1},          {"0.0", 0, 1},          {" 12 ", 12, 1},
      {"1,234,567", 1234567, 1}, {"1{,}000", 1000, 1}, {"-12,000.5", -24001, 2},
      {"0.5", 1, 2},          {".5", 1, 2},          {"5.", 5, 1},           {"-2.50", -5, 2},
      {"0.1", 1, 10},         {"0.3", 3, 10},        {"3.14159", 314159, 100000},
      {"1.5e-3", 3, 2000},    {"2E6", 2000000, 1},   {"1.5\\times10^{-3}", 3, 2000},
      {"3\\cdot10^4", 30000, 1}, {"2.5e+2", 250, 1}, {"1e18", 1000000000000000000, 1},
      {"3/4", 3, 4},          {"-3/4", -3, 4},       {"6/8", 3, 4},          {"3/-4", -3, 4},
      {"\\frac{3}{4}", 3, 4}, {"-\\frac{3}{4}", -3, 4}, {"\\frac{-3}{4}", -3, 4},
      {"\\frac{1.5}{2}", 3, 4}, {"\\frac{10}{4}", 5, 2}, {"\xE2\x88\x92" "5", -5, 1},
      {"\xE2\x88\x92\\frac{1}{2}", -1, 2}, {"999999999999999999", 999999999999999999, 1},
      {"0.000000000000000001", 1, 1000000000000000000},
  };
  for (const auto& c : cases) {
    INFO("text: '" << c.text << "'");
    const auto v = rlvr::parse_number(c.text);
    REQUIRE(v.has_value());
    CHECK(v->exact);
    CHECK(v->num == c.num);
    CHECK(v->den == c.den);
    CHECK(v->value == Approx(static_cast<double>(c.num) / static_cast<double>(c.den)).epsilon(1e-15));
  }
}

TEST_CASE("parse_number: inexact but finite values beyond 18 digits", "[rewards][numbers]") {
  const auto a = rlvr::parse_number("12345678901234567890123");
  REQUIRE(a.has_value());
  CHECK_FALSE(a->exact);
  CHECK(a->value == Approx(1.2345678901234568e22).epsilon(1e-15));
  const auto b = rlvr::parse_number("1e300");
  REQUIRE(b.has_value());
  CHECK_FALSE(b->exact);
  CHECK(b->value == 1e300);
  const auto c = rlvr::parse_number("1e-30"); // den 10^30 does not fit
  REQUIRE(c.has_value());
  CHECK_FALSE(c->exact);
  CHECK(c->value == Approx(1e-30).epsilon(1e-15));
  const auto d = rlvr::parse_number("9999999999/0.0000000001"); // cross products overflow
  REQUIRE(d.has_value());
  CHECK_FALSE(d->exact);
  CHECK(d->value == Approx(9.999999999e19).epsilon(1e-12));
}

TEST_CASE("parse_number: rejects everything that is not exactly one finite number", "[rewards][numbers]") {
  const std::string_view bad[] = {
      "", " ", "-", "+", ".", "1/0", "\\frac{1}{0}", "1,23", "1,2345", "12,34,567", "1e", "1e+",
      "inf", "nan", "1e400", "1e-400", "1\\frac{1}{2}", "5cm", "x", "1/2/3", "1 2", "--5",
      "\\frac{1}{2", "\\frac{1}", "\\frac12", "\\frac{a}{2}", "1.2.3", "1..2", "0x10", "1,000,",
      "\\times10^{3}", "2\\times10^{", "\xFF", "\xE2\x88", "1/", "/2",
  };
  for (std::string_view s : bad) {
    INFO("text: '" << s << "'");
    CHECK_FALSE(rlvr::parse_number(s).has_value());
  }
}

TEST_CASE("parse_number: a megabyte of digits parses in linear time", "[rewards][numbers][linear]") {
  std::string s(1 << 20, '7');
  const auto v = rlvr::parse_number(s);
  CHECK_FALSE(v.has_value()); // 7.77…e1048575 is not a finite double
  std::string t = "0." + std::string(1 << 20, '0') + "1";
  CHECK_FALSE(rlvr::parse_number(t).has_value()); // underflows to 0: not representable
  std::string u = "1." + std::string(1 << 20, '0');
  const auto w = rlvr::parse_number(u);
  REQUIRE(w.has_value());
  CHECK(w->exact);
  CHECK(w->num == 1);
}

TEST_CASE("numbers_close: exact rationals compare exactly, others like math.isclose", "[rewards][numbers]") {
  auto n = [](std::string_view s) { return *rlvr::parse_number(s); };
  CHECK(rlvr::numbers_close(n("0.5"), n("1/2")));
  CHECK(rlvr::numbers_close(n("0.3"), n("\\frac{3}{10}")));
  CHECK_FALSE(rlvr::numbers_close(n("0.333"), n("1/3")));
  CHECK_FALSE(rlvr::numbers_close(n("0.333"), n("1/3"), 0.0, 1e-6));
  CHECK(rlvr::numbers_close(n("0.333"), n("1/3"), 1e-3, 0.0));
  CHECK(rlvr::numbers_close(n("0.333"), n("1/3"), 0.0, 1e-3));
  CHECK_FALSE(rlvr::numbers_close(n("100"), n("101"), 0.5, 0.0));
  CHECK(rlvr::numbers_close(n("100"), n("101"), 0.0, 0.01));   // 1 ≤ 0.01 · 101
  CHECK_FALSE(rlvr::numbers_close(n("100"), n("102"), 0.0, 0.01));
  // Distinct 18-digit rationals whose doubles coincide are still distinct without tolerance.
  const auto a = n("100000000000000001"), b = n("100000000000000002");
  REQUIRE(a.value == b.value);
  CHECK_FALSE(rlvr::numbers_close(a, b));
  CHECK(rlvr::numbers_close(a, b, 0.0, 1e-9));
  CHECK_THROWS_WITH(rlvr::numbers_close(a, b, -1.0, 0.0), Catch::Contains("[rlvr.config]") && Catch::Contains("abs_tol = -1"));
  CHECK_THROWS_AS(rlvr::numbers_close(a, b, 0.0, std::numeric_limits<double>::quiet_NaN()), rlvr::config_error);
}
