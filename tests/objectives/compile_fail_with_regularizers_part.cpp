// Compile-fail: with_regularizers given a surrogate where a regulariser belongs. The diagnostic
// names the concepts the part must model.
#include <rlvr/objectives/objective.hpp>
int main() {
#ifdef RLVR_COMPILE_FAIL_CONTROL
  auto obj = rlvr::with_regularizers(rlvr::nsr(), rlvr::kl_k3{.beta = 1e-3});
#else
  auto obj = rlvr::with_regularizers(rlvr::nsr(), rlvr::ppo_clip{});
#endif
  (void)obj;
}
