// Compile-fail: a batch-level part (GSPO's sequence statistic) inside a weighted sum of
// objectives. The diagnostic names the rule.
#include <rlvr/objectives/objective.hpp>
int main() {
#ifdef RLVR_COMPILE_FAIL_CONTROL
  auto obj = 0.5 * rlvr::grpo() + rlvr::methods::sapo();
#else
  auto obj = 0.5 * rlvr::grpo() + rlvr::methods::gspo();
#endif
  (void)obj;
}
