// A downstream program: uses rlvr as an installed (or vendored) package would be used — the
// umbrella header, an objective composed at compile time, the Eigen backend, Pass@k.
#include <rlvr/backends/eigen.hpp>
#include <rlvr/rlvr.hpp>

#include <cmath>
#include <cstdio>
#include <vector>

int main() {
  // The spec's test vector: z = [2, 1, 0], y = 0, A = +1 gives dℓ/dz = p − e_y.
  std::vector<double> logits{2.0, 1.0, 0.0};
  std::vector<rlvr::token_t> tokens{0};
  std::vector<std::int32_t> seq{0};
  std::vector<double> rewards{1.0};
  const auto obj = rlvr::reinforce();
  const auto adv = rlvr::estimate_advantages(obj, rlvr::advantage_input<double>{.rewards = rewards, .seq = seq});
  std::vector<double> grad(3);
  const auto diag = rlvr::loss_and_grad(
      rlvr::eigen_backend{.threads = 2}, obj,
      rlvr::loss_token_batch<double>{.logits = {logits.data(), 1, 3}, .targets = tokens,
                                     .advantages = adv.advantages(), .active = adv.active(), .seq = seq},
      rlvr::matrix_view<double>(grad.data(), 1, 3));
  const double expect[3] = {-0.3347590442251782, 0.24472847105479764, 0.09003057317038046};
  for (int v = 0; v < 3; ++v)
    if (std::abs(grad[static_cast<std::size_t>(v)] - expect[v]) > 1e-12) return 1;
  try {
    (void)rlvr::pass_at_k(4, 2, 5);
    return 2; // k > n must throw
  } catch (const rlvr::range_error& e) {
    std::printf("consumer ok: loss %.6f, %s (version %d)\n", diag.loss, e.what(), rlvr::version);
  }
  return 0;
}
