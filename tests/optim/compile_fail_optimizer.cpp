// Compile-fail: an optimizer whose state cannot be saved is rejected where an Optimizer is
// required; the diagnostic names the missing piece, rlvr::StatefulOptimizer.
#include "optim/concept_mocks.hpp"

template <rlvr::Optimizer O> void train(O&) {}

int main() {
#ifdef RLVR_COMPILE_FAIL_CONTROL
  rlvr::test::mock_optimizer o;
#else
  rlvr::test::mock_stateless_optimizer o;
#endif
  train(o);
}
