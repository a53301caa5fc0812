// Compile-fail: a backend that has the forward operation but not the fused loss pass. The
// diagnostic names the missing capability and says which headers provide backends.
#include <rlvr/loss.hpp>
#ifdef RLVR_COMPILE_FAIL_CONTROL
#include <rlvr/backends/serial.hpp>
using backend = rlvr::serial_backend;
#else
struct backend {
  template <class T>
  void logp_entropy(rlvr::matrix_view<const T>, rlvr::vector_view<const rlvr::token_t>, T, rlvr::vector_view<T>,
                    rlvr::vector_view<T>) const {}
};
#endif
int main() {
  float z[3] = {0, 1, 2}, g[3], a[1] = {1};
  rlvr::token_t y[1] = {0};
  rlvr::loss_token_batch<float> b{};
  b.logits = {z, 1, 3};
  b.targets = {y, 1};
  b.advantages = {a, 1, 1};
  (void)rlvr::loss_and_grad(backend{}, rlvr::reinforce(), b, rlvr::matrix_view<float>(g, 1, 3));
}
