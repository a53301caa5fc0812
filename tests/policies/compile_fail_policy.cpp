// Compile-fail: a model without incremental decoding passed where a Policy is required. The
// diagnostic names the missing piece, rlvr::IncrementalDecoder.
#include "policies/concept_mocks.hpp"

template <rlvr::Policy P> void train(P&) {}

int main() {
#ifdef RLVR_COMPILE_FAIL_CONTROL
  rlvr::test::mock_policy p;
#else
  rlvr::test::mock_no_decode p;
#endif
  train(p);
}
