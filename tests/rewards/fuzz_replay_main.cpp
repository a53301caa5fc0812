// Replays the libFuzzer targets of fuzz/ on their seed corpora in ordinary builds (any
// compiler, no libFuzzer), so the harnesses keep compiling and their invariants are checked on
// every seed by ctest. Usage: fuzz_replay_<target> <corpus directory>; exits non-zero when the
// directory is missing or empty (a harness that aborts fails the test by itself).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

int main(int argc, char** argv) {
  if (argc != 2 || !std::filesystem::is_directory(argv[1])) {
    std::fprintf(stderr, "usage: %s <corpus directory>\n", argv[0]);
    return 2;
  }
  std::size_t n = 0;
  for (const auto& entry : std::filesystem::directory_iterator(argv[1])) {
    if (!entry.is_regular_file()) continue;
    std::ifstream in(entry.path(), std::ios::binary);
    const std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    LLVMFuzzerTestOneInput(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
    ++n;
  }
  std::printf("replayed %zu inputs from %s\n", n, argv[1]);
  return n > 0 ? 0 : 1;
}
