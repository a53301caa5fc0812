// Compile-fail: a host view handed to the CUDA backend. Views carry their memory space, and the
// one entry point rlvr::loss_and_grad refuses a view whose space is not the backend's, with a
// readable static_assert naming both (instead of an illegal-address fault inside a kernel).
// The control passes device-space views (g++ only compiles it: the members are defined for nvcc).
#include <vector>

#include <rlvr/backends/cuda.hpp>
#include <rlvr/loss.hpp>

int main() {
  std::vector<float> z{2, 1, 0}, g(3), adv{1};
  std::vector<rlvr::token_t> y{0};
#ifdef RLVR_COMPILE_FAIL_CONTROL
  using space = rlvr::cuda_space;
#else
  using space = rlvr::host_space;
#endif
  const rlvr::loss_token_batch<float, space> batch{
      .logits = {z.data(), 1, 3}, .targets = y, .advantages = {adv.data(), 1, 1}};
  if (z.empty()) // never taken: a device run needs nvcc; this file is only compiled
    (void)rlvr::loss_and_grad(rlvr::cuda_backend{}, rlvr::nsr(), batch, rlvr::matrix_view<float, space>(g.data(), 1, 3));
}
