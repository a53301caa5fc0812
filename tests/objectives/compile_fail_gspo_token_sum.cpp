// Compile-fail: GSPO's sequence-level ratio aggregated with token_sum (each response weighted by
// its length, which the paper forbids). The diagnostic names the rule.
#include <rlvr/objectives/objective.hpp>
int main() {
#ifdef RLVR_COMPILE_FAIL_CONTROL
  auto obj = rlvr::make_objective(rlvr::group_zscore{}, rlvr::gspo{}, rlvr::seq_mean_token_mean{});
#else
  auto obj = rlvr::make_objective(rlvr::group_zscore{}, rlvr::gspo{}, rlvr::token_sum{});
#endif
  (void)obj;
}
