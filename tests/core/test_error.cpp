#include <catch2/catch.hpp>
#include <rlvr/error.hpp>

TEST_CASE("errors carry a stable id and the offending value", "[core][error]") {
  try {
    const int k = 5, n = 4;
    RLVR_EXPECTS(k <= n, range, "pass_at_k: k = ", k, " exceeds n = ", n);
    FAIL("no throw");
  } catch (const rlvr::range_error& e) {
    CHECK(std::string(e.what()) == "[rlvr.range] pass_at_k: k = 5 exceeds n = 4");
    CHECK(e.code() == rlvr::errc::range);
    CHECK(e.id() == "rlvr.range");
    CHECK(e.message() == "pass_at_k: k = 5 exceeds n = 4");
  }
}

TEST_CASE("every error kind derives from rlvr::error and std::runtime_error", "[core][error]") {
  CHECK_THROWS_AS(rlvr::fail<rlvr::shape_error>("x"), rlvr::error);
  CHECK_THROWS_AS(rlvr::fail<rlvr::numerical_error>("x"), std::runtime_error);
  CHECK_THROWS_WITH(rlvr::fail<rlvr::io_error>("file ", "a.bin", " truncated"),
                    "[rlvr.io] file a.bin truncated");
  CHECK(rlvr::errc_id(rlvr::errc::config) == "rlvr.config");
  CHECK(rlvr::errc_id(rlvr::errc::parse) == "rlvr.parse");
  CHECK(rlvr::errc_id(rlvr::errc::unsupported) == "rlvr.unsupported");
  CHECK(rlvr::errc_id(rlvr::errc::device) == "rlvr.device");
  CHECK(rlvr::errc_id(rlvr::errc::comm) == "rlvr.comm");
  CHECK_THROWS_AS(rlvr::fail<rlvr::comm_error>("x"), rlvr::error);
  CHECK(rlvr::errc_id(rlvr::errc::shape) == "rlvr.shape");
  CHECK(rlvr::errc_id(rlvr::errc::numerical) == "rlvr.numerical");
}

TEST_CASE("messages print doubles with full precision", "[core][error]") {
  CHECK_THROWS_WITH(rlvr::fail<rlvr::range_error>("top_p = ", 0.1), "[rlvr.range] top_p = 0.10000000000000001");
}
