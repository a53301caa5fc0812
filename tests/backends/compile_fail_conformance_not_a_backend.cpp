// Compile-fail: running the conformance suite on a type that lacks the fused pass names the
// missing capability (rlvr::LossBackend and its two members) instead of a template backtrace.
#include <rlvr/backends/serial.hpp>

#include "conformance/conformance.hpp"

struct half_backend { // forward pass only: no fused_rows
  static constexpr bool host_backend = true;
  int threads = 1;
  template <class T>
  void logp_entropy(rlvr::matrix_view<const T> z, rlvr::vector_view<const rlvr::token_t> y, T tau,
                    rlvr::vector_view<T> logp, rlvr::vector_view<T> entropy) const {
    rlvr::serial_backend{}.logp_entropy(z, y, tau, logp, entropy);
  }
};

int main(int argc, char** argv) {
#ifdef RLVR_COMPILE_FAIL_CONTROL
  return rlvr::conformance::run(rlvr::serial_backend{}, "serial", argc, argv);
#else
  return rlvr::conformance::run(half_backend{}, "half", argc, argv);
#endif
}
