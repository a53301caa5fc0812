// A downstream program that needs only the core target: the umbrella header, rlvr::generate on
// the tabular policy, and the version macros.
#include <rlvr/rlvr.hpp>

#include <cstdio>
#include <vector>

int main() {
  rlvr::tabular_policy policy(1, 4, 3);
  const std::vector<std::vector<rlvr::token_t>> prompts{{0}};
  const rlvr::generation g = rlvr::generate(policy, prompts, 8, {.max_tokens = 2, .eos = 3}, {.seed = 1});
  if (g.size() != 8) return 1;
  std::printf("rlvr %d.%d.%d core consumer: %lld response tokens\n", RLVR_VERSION_MAJOR, RLVR_VERSION_MINOR,
              RLVR_VERSION_PATCH, static_cast<long long>(g.tokens()));
  return 0;
}
