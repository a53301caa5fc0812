// Compile-fail: RLVR_EXPECTS with a kind that is not in rlvr's error hierarchy names the missing
// `rlvr::banana_error` in its diagnostic.
#include <rlvr/error.hpp>
int main() {
#ifdef RLVR_COMPILE_FAIL_CONTROL
  RLVR_EXPECTS(true, range, "fine");
#else
  RLVR_EXPECTS(true, banana, "not a kind");
#endif
}
