#pragma once
// A deliberately wrong backend: the serial oracle with the target's gradient entry off by 1e-3 of
// its coefficient (a typical "forgot 1/τ on the correction" class of bug). The conformance suite
// must reject it (ctest runs conformance:broken with WILL_FAIL).
#include "rlvr/backends/serial.hpp"

namespace rlvr::conformance_test {

struct broken_backend : serial_backend {
  template <class T, class E>
    requires RowEpilogue<E, T>
  void fused_rows(matrix_view<const T> z, vector_view<const token_t> y, T temperature, const E& ep,
                  matrix_view<T> g) const {
    serial_backend::fused_rows(z, y, temperature, ep, g);
    for (index_t i = 0; i < z.rows(); ++i)
      if (ep.active(i)) g(i, y[i]) += static_cast<T>(1e-3);
  }
};
static_assert(Backend<broken_backend>);

} // namespace rlvr::conformance_test
