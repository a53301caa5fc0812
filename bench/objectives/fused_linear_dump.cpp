// fused_linear_dump: one call of rlvr::fused_linear_loss_and_grad at a small shape, inputs and
// outputs written to a binary file, so that fused_linear_torch.py can check that PyTorch's
// Linear → log_softmax → gather → GRPO loss → backward computes the same loss and gradients as
// the problem bench_fused_linear times (same generator, same objective, same batch layout).
//
//   fused_linear_dump OUT [N d V chunk temperature]     (default 96 32 1000 256 1.0)
//
// File layout (little-endian): int64 N, d, V; float64 temperature; float32 H [N, d], W [V, d],
// b [V]; int32 targets [N]; float32 advantages [N], old_logp [N], ref_logp [N]; float64 loss;
// float32 ∂H [N, d], ∂W [V, d], ∂b [V].
#include <rlvr/backends/eigen.hpp>
#include <rlvr/fused_linear.hpp>
#include <rlvr/loss.hpp>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace {
using rlvr::index_t;

// The generator of bench_fused_linear.cpp, unchanged: N(0, σ²) from a 64-bit LCG + Box–Muller.
std::vector<float> normals(std::size_t count, double sigma, std::uint64_t seed) {
  std::vector<float> out(count);
  std::uint64_t s = seed;
  for (std::size_t i = 0; i < count; i += 2) {
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    const double u1 = (static_cast<double>(s >> 11) + 1.0) * 0x1.0p-53;
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    const double u2 = static_cast<double>(s >> 11) * 0x1.0p-53;
    const double r = sigma * std::sqrt(-2.0 * std::log(u1));
    out[i] = static_cast<float>(r * std::cos(6.283185307179586 * u2));
    if (i + 1 < count) out[i + 1] = static_cast<float>(r * std::sin(6.283185307179586 * u2));
  }
  return out;
}

template <class T> void put(std::FILE* f, const T* p, std::size_t n) {
  if (std::fwrite(p, sizeof(T), n, f) != n) {
    std::perror("fused_linear_dump: fwrite");
    std::exit(1);
  }
}
} // namespace

int main(int argc, char** argv) {
  if (argc != 2 && argc != 7) {
    std::fprintf(stderr, "usage: %s OUT [N d V chunk temperature]\n", argv[0]);
    return 2;
  }
  const index_t n = argc == 7 ? std::atoll(argv[2]) : 96, d = argc == 7 ? std::atoll(argv[3]) : 32,
                v = argc == 7 ? std::atoll(argv[4]) : 1000, chunk = argc == 7 ? std::atoll(argv[5]) : 256;
  const double tau = argc == 7 ? std::atof(argv[6]) : 1.0;

  // The problem of bench_fused_linear.cpp (struct problem) at N × d × V.
  const auto h = normals(static_cast<std::size_t>(n * d), 1.0, 1);
  const auto w = normals(static_cast<std::size_t>(v * d), 2.0 / std::sqrt(double(d)), 2);
  const auto b = normals(static_cast<std::size_t>(v), 0.1, 3);
  const auto noise = normals(static_cast<std::size_t>(2 * n), 0.3, 4);
  std::vector<rlvr::token_t> y;
  std::vector<float> adv, old_logp, ref_logp;
  for (index_t t = 0; t < n; ++t) {
    y.push_back(static_cast<rlvr::token_t>((t * 7919) % v));
    adv.push_back((t / 16) % 2 ? 1.0f : -1.0f);
    old_logp.push_back(-10.0f + noise[static_cast<std::size_t>(t)]);
    ref_logp.push_back(-10.0f + noise[static_cast<std::size_t>(n + t)]);
  }
  rlvr::loss_token_batch<float> tb{};
  tb.targets = y;
  tb.advantages = {adv.data(), 1, n};
  tb.old_logp = old_logp;
  tb.ref_logp = ref_logp;

  std::vector<float> gh(h.size()), gw(w.size()), gb(b.size());
  const auto objective = rlvr::grpo({.entropy = {.coef = 1e-3}}); // as bench_fused_linear.cpp
  const auto diag = rlvr::fused_linear_loss_and_grad(
      rlvr::eigen_backend{.threads = 2}, objective, rlvr::matrix_view<const float>(h.data(), n, d),
      rlvr::matrix_view<const float>(w.data(), v, d), rlvr::vector_view<const float>(b), tb,
      rlvr::matrix_view<float>(gh.data(), n, d), rlvr::matrix_view<float>(gw.data(), v, d), rlvr::vector_view<float>(gb),
      {.loss = {.temperature = tau}, .vocab_chunk = chunk});

  std::FILE* f = std::fopen(argv[1], "wb");
  if (f == nullptr) {
    std::perror(argv[1]);
    return 1;
  }
  const std::int64_t dims[3] = {n, d, v};
  put(f, dims, 3);
  put(f, &tau, 1);
  put(f, h.data(), h.size());
  put(f, w.data(), w.size());
  put(f, b.data(), b.size());
  static_assert(sizeof(rlvr::token_t) == 4);
  put(f, y.data(), y.size());
  put(f, adv.data(), adv.size());
  put(f, old_logp.data(), old_logp.size());
  put(f, ref_logp.data(), ref_logp.size());
  put(f, &diag.loss, 1);
  put(f, gh.data(), gh.size());
  put(f, gw.data(), gw.size());
  put(f, gb.data(), gb.size());
  std::fclose(f);
  std::printf("fused_linear_dump: N=%lld d=%lld V=%lld chunk=%lld tau=%g loss=%.9g -> %s\n", static_cast<long long>(n),
              static_cast<long long>(d), static_cast<long long>(v), static_cast<long long>(chunk), tau, diag.loss, argv[1]);
  return 0;
}
