// Compile-fail: a reward whose call operator takes (response) only — the most common mistake —
// does not model rlvr::Reward. The diagnostic names the concept and the unsatisfied piece
// (`RewardFunction`), so the user sees which requirement to fix.
#include <rlvr/rewards/concepts.hpp>

#include <string_view>

#ifdef RLVR_COMPILE_FAIL_CONTROL
struct my_reward {
  double operator()(std::string_view, std::string_view response, std::string_view) const {
    return response.empty() ? 0.0 : 1.0;
  }
};
#else
struct my_reward {
  double operator()(std::string_view response) const { return response.empty() ? 0.0 : 1.0; }
};
#endif

int main() {
  const my_reward r;
  const std::string_view responses[] = {"a", ""};
  double out[2] = {};
  rlvr::score_batch(r, {}, responses, {}, out, 1);
  return out[0] == 1.0 ? 0 : 1;
}
