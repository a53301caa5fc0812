// Compile-fail: two KL penalties in one objective. The diagnostic names the rule "one KL term".
#include <rlvr/objectives/objective.hpp>
int main() {
#ifdef RLVR_COMPILE_FAIL_CONTROL
  auto obj = rlvr::make_objective(rlvr::group_zscore{}, rlvr::ppo_clip{}, rlvr::token_mean{}, rlvr::kl_k3{.beta = 0.003});
#else
  auto obj = rlvr::make_objective(rlvr::group_zscore{}, rlvr::ppo_clip{}, rlvr::token_mean{}, rlvr::kl_k1{.beta = 0.001},
                                  rlvr::kl_k3{.beta = 0.002});
#endif
  (void)obj;
}
