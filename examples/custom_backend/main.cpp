// Runs an rlvr objective on a user's own tensor type (strided_backend.hpp) and checks the result
// against rlvr's serial backend. Exits non-zero on any disagreement.
#include <cmath>
#include <cstdio>
#include <vector>

#include <rlvr/backends/serial.hpp>
#include <rlvr/loss.hpp>
#include <rlvr/random/philox.hpp>

#include "strided_backend.hpp"

int main() {
  // 12 tokens of a 3-response batch over a 50-token vocabulary, stored with row padding (stride
  // 64) in the user's own strided tensor.
  const std::ptrdiff_t n = 12, v = 50, stride = 64;
  std::vector<float> storage(static_cast<std::size_t>(n * stride), 0.0f), grad_storage(storage.size(), 0.0f);
  mylib::strided_tensor<float> logits{storage.data(), n, v, stride}, grad{grad_storage.data(), n, v, stride};
  rlvr::philox_engine rng(2024);
  for (std::ptrdiff_t i = 0; i < n; ++i)
    for (std::ptrdiff_t j = 0; j < v; ++j) logits(i, j) = static_cast<float>(4.0 * rng.uniform() - 2.0);
  std::vector<rlvr::token_t> tokens(n);
  std::vector<std::int32_t> seq(n);
  for (std::ptrdiff_t i = 0; i < n; ++i) {
    tokens[static_cast<std::size_t>(i)] = static_cast<rlvr::token_t>(rng.uniform_index(static_cast<std::uint32_t>(v)));
    seq[static_cast<std::size_t>(i)] = static_cast<std::int32_t>(i / 4);
  }
  // NSR: only the incorrect response 1 contributes (advantage −1 on its tokens).
  std::vector<float> adv(n, 0.0f);
  std::vector<rlvr::mask_t> active(n, 0);
  for (std::ptrdiff_t i = 4; i < 8; ++i) {
    adv[static_cast<std::size_t>(i)] = -1.0f;
    active[static_cast<std::size_t>(i)] = 1;
  }
  const rlvr::loss_token_batch<float> batch{.logits = mylib::cview(logits), .targets = tokens,
                                            .advantages = {adv.data(), 1, n}, .active = {active.data(), 1, n},
                                            .seq = seq, .num_sequences = 3};
  const auto diag = rlvr::loss_and_grad(mylib::rlvr_backend{.threads = 2}, rlvr::nsr(), batch, mylib::view(grad));

  std::vector<float> ref(storage.size(), 0.0f);
  const auto ref_diag = rlvr::loss_and_grad(rlvr::serial_backend{}, rlvr::nsr(), batch,
                                            rlvr::matrix_view<float>(ref.data(), n, v, stride));
  int bad = 0;
  for (std::ptrdiff_t i = 0; i < n; ++i)
    for (std::ptrdiff_t j = 0; j < v; ++j)
      bad += std::abs(grad(i, j) - ref[static_cast<std::size_t>(i * stride + j)]) > 1e-6f;
  std::printf("NSR on mylib::strided_tensor: loss %.6f (serial %.6f), %d active tokens, %d gradient mismatches\n",
              diag.loss, ref_diag.loss, static_cast<int>(diag.active_tokens), bad);
  // NSR lowers the sampled tokens: their gradient entries are positive (descent lowers them).
  for (std::ptrdiff_t i = 4; i < 8; ++i) bad += !(grad(i, tokens[static_cast<std::size_t>(i)]) > 0.0f);
  // and inactive rows get zero gradient
  for (std::ptrdiff_t j = 0; j < v; ++j) bad += grad(0, j) != 0.0f;
  return bad == 0 && std::abs(diag.loss - ref_diag.loss) < 1e-6 ? 0 : 1;
}
