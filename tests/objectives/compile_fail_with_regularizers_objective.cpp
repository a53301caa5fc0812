// Compile-fail: with_regularizers given a part (a surrogate) where the objective belongs. The
// diagnostic says a plain rlvr::objective is expected.
#include <rlvr/objectives/objective.hpp>
int main() {
#ifdef RLVR_COMPILE_FAIL_CONTROL
  auto obj = rlvr::with_regularizers(rlvr::make_objective(rlvr::group_zscore{}, rlvr::ppo_clip{}, rlvr::token_mean{}),
                                     rlvr::kl_k3{.beta = 1e-3});
#else
  auto obj = rlvr::with_regularizers(rlvr::ppo_clip{}, rlvr::kl_k3{.beta = 1e-3});
#endif
  (void)obj;
}
