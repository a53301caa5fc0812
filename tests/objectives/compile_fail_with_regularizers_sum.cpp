// Compile-fail: regularisers appended to a weighted sum (whose weight would they get?). The
// diagnostic says to add them to a component before summing.
#include <rlvr/objectives/objective.hpp>
int main() {
#ifdef RLVR_COMPILE_FAIL_CONTROL
  auto obj = 0.1 * rlvr::with_regularizers(rlvr::psr(), rlvr::entropy_bonus{.coef = 1e-3}) + rlvr::nsr();
#else
  auto obj = rlvr::with_regularizers(0.1 * rlvr::psr() + rlvr::nsr(), rlvr::entropy_bonus{.coef = 1e-3});
#endif
  (void)obj;
}
