// Compile-fail: an objective whose surrogate slot holds a regulariser (a term that does not read
// the advantage). The diagnostic names the piece: "the second part must model rlvr::Surrogate".
#include <rlvr/objectives/objective.hpp>
int main() {
#ifdef RLVR_COMPILE_FAIL_CONTROL
  auto obj = rlvr::make_objective(rlvr::group_zscore{}, rlvr::ppo_clip{}, rlvr::token_mean{}, rlvr::kl_k3{});
#else
  auto obj = rlvr::make_objective(rlvr::group_zscore{}, rlvr::kl_k3{}, rlvr::token_mean{});
#endif
  (void)obj;
}
