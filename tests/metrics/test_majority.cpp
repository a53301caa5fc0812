#include <catch2/catch.hpp>
#include <rlvr/metrics/majority.hpp>

#include <string>
#include <vector>

TEST_CASE("maj@k votes over disjoint groups with fractional credit for ties", "[metrics][majority]") {
  const std::vector<std::string> a = {"4", "4", "5", "", "5", "5", "7", "4"};
  // reference "4"
  CHECK(rlvr::maj_at_k(a, "4", 8) == 0.5); // "4" ×3 and "5" ×3 tie: credit 1/2
  CHECK(rlvr::maj_at_k(a, "4", 1) == Approx(3.0 / 8.0)); // maj@1 = pass@1 over non-empty answers
  // groups of 4: {4,4,5,""} → "4" wins → 1; {5,5,7,4} → "5" → 0
  CHECK(rlvr::maj_at_k(a, "4", 4) == 0.5);
  // groups of 2: {4,4}→1, {5,""}→0, {5,5}→0, {7,4}→ tie → 1/2
  CHECK(rlvr::maj_at_k(a, "4", 2) == Approx((1 + 0 + 0 + 0.5) / 4));
  // groups of 3 (2 groups, 2 samples unused): {4,4,5}→1, {"",5,5}→0
  CHECK(rlvr::maj_at_k(a, "4", 3) == 0.5);
}

TEST_CASE("maj@k with per-sample flags and all-empty groups scoring 0", "[metrics][majority]") {
  const std::vector<std::string> a = {"x", "y", "y", "", "", ""};
  const std::vector<std::uint8_t> ok = {1, 0, 0, 0, 0, 0};
  CHECK(rlvr::maj_at_k(a, ok, 3) == 0.0);
  CHECK(rlvr::maj_at_k(a, ok, 6) == 0.0);
  const std::vector<std::uint8_t> ok2 = {0, 1, 1, 0, 0, 0};
  CHECK(rlvr::maj_at_k(a, ok2, 3) == 0.5);
  const std::vector<std::uint8_t> inconsistent = {0, 1, 0, 0, 0, 0};
  CHECK_THROWS_WITH(rlvr::maj_at_k(a, inconsistent, 2),
                    Catch::Contains("answer \"y\" is marked 1 at sample 1 but 0 at sample 2"));
}

TEST_CASE("maj@k errors and distinct answers", "[metrics][majority][errors]") {
  const std::vector<std::string> a = {"1", "2", "2", "", "3"};
  CHECK_THROWS_WITH(rlvr::maj_at_k(a, "2", 6), Catch::Contains("k = 6 exceeds n = 5"));
  CHECK_THROWS_WITH(rlvr::maj_at_k(a, "2", 0), Catch::Contains("k = 0"));
  CHECK_THROWS_WITH(rlvr::maj_at_k(std::vector<std::string>{}, "2", 1), Catch::Contains("n = 0"));
  const std::vector<std::uint8_t> short_flags = {1, 0};
  CHECK_THROWS_AS(rlvr::maj_at_k(a, short_flags, 1), rlvr::shape_error);
  CHECK(rlvr::distinct_answers(a) == 3);
  const std::vector<std::vector<std::string>> probs = {a, {"a", "a"}};
  CHECK(rlvr::mean_distinct_answers(probs) == 2.0);
}
