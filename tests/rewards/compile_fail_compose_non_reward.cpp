// Compile-fail: composing something that is not a Reward (here a function of the response only)
// is rejected at the call to rlvr::weighted, and the diagnostic names the unsatisfied
// `rlvr::Reward` constraint instead of failing deep inside the sum.
#include <rlvr/rewards/compose.hpp>
#include <rlvr/rewards/verifiers.hpp>

#include <string_view>

int main() {
#ifdef RLVR_COMPILE_FAIL_CONTROL
  auto length_bonus = [](std::string_view, std::string_view y, std::string_view) {
    return y.size() < 100 ? 0.1 : 0.0;
  };
#else
  auto length_bonus = [](std::string_view y) { return y.size() < 100 ? 0.1 : 0.0; };
#endif
  const auto r = rlvr::weighted(1.0, rlvr::math_verifier{}) + rlvr::weighted(1.0, length_bonus);
  return r("", "\\boxed{1}", "1") > 0.0 ? 0 : 1;
}
