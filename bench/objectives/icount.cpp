// objectives_icount: one fused loss+grad+entropy pass (GRPO) over N×V float logits on one thread,
// for instruction counts under callgrind:
//   valgrind --tool=callgrind --toggle-collect='*fused_rows*' build/…/objectives_icount 64 32000
// Instructions per logit element = Ir / (N·V).
#include <cstdio>
#include <cstdlib>
#include <rlvr/backends/eigen.hpp>
#include <rlvr/loss.hpp>
#include <vector>

int main(int argc, char** argv) {
  const rlvr::index_t n = argc > 1 ? std::atol(argv[1]) : 64, v = argc > 2 ? std::atol(argv[2]) : 32000;
  std::vector<float> z(static_cast<std::size_t>(n * v)), g(z.size());
  unsigned s = 1;
  for (auto& x : z) {
    s = s * 1664525u + 1013904223u;
    x = static_cast<float>(s >> 8) * (8.0f / 16777216.0f) - 4.0f;
  }
  std::vector<rlvr::token_t> y(static_cast<std::size_t>(n), 3);
  std::vector<float> adv(static_cast<std::size_t>(n), 1.0f), old(static_cast<std::size_t>(n), -10.0f), ref(old);
  rlvr::loss_token_batch<float> b{};
  b.logits = {z.data(), n, v};
  b.targets = y;
  b.advantages = {adv.data(), 1, n};
  b.old_logp = old;
  b.ref_logp = ref;
  const auto d = rlvr::loss_and_grad(rlvr::eigen_backend{.threads = 1}, rlvr::grpo({.entropy = {.coef = 1e-3}}), b,
                                     rlvr::matrix_view<float>(g.data(), n, v));
  std::printf("elements %ld loss %g entropy %g\n", static_cast<long>(n * v), d.loss, d.mean_entropy);
}
