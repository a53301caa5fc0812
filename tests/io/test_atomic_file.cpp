// write_file_atomic: replaces atomically, leaves no temporary, and every failure is an io_error
// naming the path (a missing directory, a path through a regular file, a device that refuses
// writes) — never a silent success. We run as root in CI, so permissions cannot make a directory
// unwritable; a path under a regular file (ENOTDIR) and /dev/full (ENOSPC) can.
#include <rlvr/io/atomic_file.hpp>

#include <catch2/catch.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <span>
#include <sstream>
#include <string>

namespace {
namespace fs = std::filesystem;
std::string slurp(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}
} // namespace

TEST_CASE("write_file_atomic writes, replaces and leaves no temporaries", "[io][atomic_file]") {
  const fs::path dir = fs::temp_directory_path() / "rlvr_atomic_file_test";
  fs::remove_all(dir);
  fs::create_directories(dir);
  const fs::path p = dir / "out.txt";
  rlvr::io::write_file_atomic(p, std::string_view("first"));
  CHECK(slurp(p) == "first");
  rlvr::io::write_file_atomic(p, std::string_view(""));
  CHECK(slurp(p).empty());
  const std::string big(3'000'000, 'x');
  rlvr::io::write_file_atomic(p, big);
  CHECK(slurp(p) == big);
  CHECK(std::distance(fs::directory_iterator(dir), fs::directory_iterator()) == 1);
  fs::remove_all(dir);
}

TEST_CASE("write_file_atomic fails loudly, naming the path", "[io][atomic_file]") {
  const fs::path file = fs::temp_directory_path() / "rlvr_atomic_file_plain";
  std::ofstream(file) << "a regular file";
  const fs::path under = file / "results.json";
  CHECK_THROWS_MATCHES(rlvr::io::write_file_atomic(under, std::string_view("x")), rlvr::io_error,
                       Catch::Matchers::Predicate<rlvr::io_error>([&](const rlvr::io_error& e) {
                         const std::string w = e.what();
                         return w.find("[rlvr.io]") == 0 && w.find(under.string()) != std::string::npos &&
                                w.find("Not a directory") != std::string::npos;
                       }));
  CHECK_THROWS_WITH(rlvr::io::write_file_atomic("/nonexistent-rlvr-dir/x/results.json", std::string_view("x")),
                    Catch::Contains("/nonexistent-rlvr-dir/x/results.json"));
  CHECK_THROWS_WITH(rlvr::io::write_file_atomic("/proc/version/results.json", std::string_view("x")),
                    Catch::Contains("/proc/version/results.json"));
  fs::remove(file);
}

TEST_CASE("the checked write path reports a device that refuses writes", "[io][atomic_file]") {
  // /dev/full accepts the open and fails every write with ENOSPC ("a full disk")
  std::FILE* f = std::fopen("/dev/full", "wb");
  REQUIRE(f != nullptr); // Linux has /dev/full
  const std::string data(100'000, 'x');
  CHECK_THROWS_WITH(rlvr::io::detail::write_and_close(f, std::as_bytes(std::span<const char>(data.data(), data.size())),
                                                      "/dev/full"),
                    Catch::Contains("writing /dev/full failed") && Catch::Contains("No space left on device"));
  // small writes are buffered: the failure surfaces at the flush, and is still reported
  std::FILE* g = std::fopen("/dev/full", "wb");
  REQUIRE(g != nullptr);
  CHECK_THROWS_WITH(rlvr::io::detail::write_and_close(g, std::as_bytes(std::span<const char>("ok", 2)), "/dev/full"),
                    Catch::Contains("No space left on device"));
}
