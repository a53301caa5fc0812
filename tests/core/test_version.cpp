#include <catch2/catch.hpp>
#include <rlvr/config.hpp>
#include <string>

TEST_CASE("header version equals the CMake project version", "[core]") {
  const std::string v = std::to_string(RLVR_VERSION_MAJOR) + "." + std::to_string(RLVR_VERSION_MINOR) +
                        "." + std::to_string(RLVR_VERSION_PATCH);
  CHECK(v == RLVR_CMAKE_VERSION);
  CHECK(rlvr::version == RLVR_VERSION_MAJOR * 10000 + RLVR_VERSION_MINOR * 100 + RLVR_VERSION_PATCH);
}
