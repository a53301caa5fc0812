// Compile-fail: an objective with rlvr::kl_full (the exact full-vocabulary KL, computed in the fused
// pass from the reference logits) on a backend that has the fused pass but not its reference
// variant. The diagnostic names the rule and the capability (rlvr::RefKLBackend).
#include <rlvr/backends/serial.hpp>
#include <rlvr/loss.hpp>
#ifdef RLVR_COMPILE_FAIL_CONTROL
using backend = rlvr::serial_backend;
#else
struct backend { // a Backend: both loss operations, no fused_rows_ref
  static constexpr bool host_backend = true;
  int threads = 1;
  template <class T>
  void logp_entropy(rlvr::matrix_view<const T> z, rlvr::vector_view<const rlvr::token_t> y, T tau,
                    rlvr::vector_view<T> lp, rlvr::vector_view<T> ent) const {
    rlvr::serial_backend{}.logp_entropy(z, y, tau, lp, ent);
  }
  template <class T, class E>
  void fused_rows(rlvr::matrix_view<const T> z, rlvr::vector_view<const rlvr::token_t> y, T tau, const E& ep,
                  rlvr::matrix_view<T> g) const {
    rlvr::serial_backend{}.fused_rows(z, y, tau, ep, g);
  }
};
static_assert(rlvr::Backend<backend> && !rlvr::RefKLBackend<backend, float>);
#endif
int main() {
  float z[3] = {0, 1, 2}, r[3] = {1, 1, 1}, g[3], a[1] = {1};
  rlvr::token_t y[1] = {0};
  rlvr::loss_token_batch<float> b{};
  b.logits = {z, 1, 3};
  b.targets = {y, 1};
  b.advantages = {a, 1, 1};
  b.ref_logits = {r, 1, 3};
  const auto obj = rlvr::make_objective(rlvr::group_zscore{}, rlvr::ppo_clip{}, rlvr::token_mean{}, rlvr::kl_full{});
  (void)rlvr::loss_and_grad(backend{}, obj, b, rlvr::matrix_view<float>(g, 1, 3));
}
