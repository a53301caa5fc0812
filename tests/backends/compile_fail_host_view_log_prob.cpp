// Compile-fail: a host matrix_view<const float> given to rlvr::log_prob_entropy with the CUDA
// backend names the memory-space mismatch. The control uses a cuda_space view.
#include <vector>

#include <rlvr/backends/cuda.hpp>
#include <rlvr/loss.hpp>

int main() {
  std::vector<float> z{2, 1, 0}, lp(1);
  std::vector<rlvr::token_t> y{0};
#ifdef RLVR_COMPILE_FAIL_CONTROL
  const rlvr::matrix_view<const float, rlvr::cuda_space> logits(z.data(), 1, 3);
#else
  const rlvr::matrix_view<const float> logits(z.data(), 1, 3);
#endif
  if (z.empty()) // only compiled
    rlvr::log_prob_entropy(rlvr::cuda_backend{}, logits, rlvr::vector_view<const rlvr::token_t>(y),
                           rlvr::vector_view<float>(lp), rlvr::vector_view<float>{});
}
