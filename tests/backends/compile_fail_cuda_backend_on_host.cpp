// Compile-fail: the CUDA backend handed to the host entry point rlvr::loss_and_grad. Its data live
// in device memory, so it deliberately does not model rlvr::FusedLossBackend: the user gets rlvr's
// static_assert naming the concept (use rlvr::cuda::loss_and_grad from
// <rlvr/backends/cuda/fused_loss.cuh> instead), not a crash at run time.
#include <vector>

#include <rlvr/backends/cuda.hpp>
#include <rlvr/backends/serial.hpp>
#include <rlvr/loss.hpp>

int main() {
  std::vector<float> z{2, 1, 0}, g(3), adv{1};
  std::vector<rlvr::token_t> y{0};
  const rlvr::loss_token_batch<float> batch{.logits = {z.data(), 1, 3}, .targets = y, .advantages = {adv.data(), 1, 1}};
#ifdef RLVR_COMPILE_FAIL_CONTROL
  const rlvr::serial_backend be;
#else
  const rlvr::cuda_backend be;
#endif
  (void)rlvr::loss_and_grad(be, rlvr::nsr(), batch, rlvr::matrix_view<float>(g.data(), 1, 3));
}
