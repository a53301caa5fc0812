// The CUDA fused kernel's per-thread arithmetic (rlvr/backends/cuda/detail/row_lse.hpp), replayed
// on the host with the kernel's thread partition (512 threads; an unaligned scalar head, 16-byte
// vector chunks of 4 floats dealt round-robin, a scalar tail; a tree of merges), against the
// serial oracle: log-sum-exp, entropy, log π and the gradient row, including masked −inf entries,
// logits of magnitude 1e4 and bad rows. The device differs only in using __expf.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <vector>

#include <rlvr/backends/cuda/detail/row_lse.hpp>
#include <rlvr/backends/serial.hpp>
#include <rlvr/random/philox.hpp>

namespace {

using namespace rlvr::cuda::detail;
constexpr int threads = 512;

row_summary replay(const std::vector<float>& x, int head) {
  const auto n = static_cast<int>(x.size());
  head = std::min(head, n);
  const int body = (n - head) / 4;
  std::vector<lse_part> parts(threads, lse_part{-INFINITY, 0.0f, 0.0f});
  for (int j = 0; j < head; ++j) {
    const float one[1] = {x[static_cast<std::size_t>(j)]};
    accumulate(parts[static_cast<std::size_t>(j % threads)], one);
  }
  for (int c = 0; c < body; ++c) {
    float z[4];
    for (int k = 0; k < 4; ++k) z[k] = x[static_cast<std::size_t>(head + 4 * c + k)];
    accumulate(parts[static_cast<std::size_t>(c % threads)], z);
  }
  for (int j = head + 4 * body; j < n; ++j) {
    const float one[1] = {x[static_cast<std::size_t>(j)]};
    accumulate(parts[static_cast<std::size_t>((j - head - 4 * body) % threads)], one);
  }
  for (int width = threads / 2; width > 0; width /= 2) // a reduction tree, as CUB's
    for (int t = 0; t < width; ++t)
      parts[static_cast<std::size_t>(t)] = merge(parts[static_cast<std::size_t>(t)], parts[static_cast<std::size_t>(t + width)]);
  return finish(parts[0]);
}

struct fixed_coeffs { // ℓ with ∂ℓ/∂log π = a, ∂ℓ/∂H = b
  float a, b;
  bool active(rlvr::index_t) const { return true; }
  rlvr::row_coeffs<float> operator()(rlvr::index_t, const rlvr::row_stats<float>&) const { return {a, b}; }
};

} // namespace

TEST_CASE("the fused kernel's row arithmetic matches the serial oracle", "[backends][cuda]") {
  rlvr::philox_engine eng(31);
  struct shape {
    int v;
    double scale;
    bool masked;
    int head;
  };
  for (const auto& sh : {shape{3, 1.0, false, 0}, shape{1000, 4.0, false, 1}, shape{4099, 3.0, true, 3},
                         shape{151936, 3.0, false, 2}, shape{3000, 1e4, false, 0}, shape{7, 2.0, false, 3},
                         shape{1, 1.0, false, 0}}) {
    std::vector<float> x(static_cast<std::size_t>(sh.v));
    for (auto& e : x) e = static_cast<float>(sh.scale * (2.0 * eng.uniform() - 1.0));
    const auto y = static_cast<rlvr::token_t>(eng.uniform_index(static_cast<std::uint32_t>(sh.v)));
    if (sh.masked)
      for (int j = 0; j < sh.v; j += 3)
        if (j != y) x[static_cast<std::size_t>(j)] = -INFINITY;
    INFO("V " << sh.v << " scale " << sh.scale << " head " << sh.head);
    const row_summary rs = replay(x, sh.head);
    // the oracle: statistics and the gradient of ℓ with dlogp = −0.8, dentropy = 0.3
    std::vector<float> lp(1), h(1), g(x.size());
    const std::vector<rlvr::token_t> yv{y};
    const rlvr::matrix_view<const float> z(x.data(), 1, sh.v);
    rlvr::serial_backend{}.logp_entropy(z, rlvr::vector_view<const rlvr::token_t>(yv), 1.0f, rlvr::vector_view<float>(lp),
                                        rlvr::vector_view<float>(h));
    rlvr::serial_backend{}.fused_rows(z, rlvr::vector_view<const rlvr::token_t>(yv), 1.0f, fixed_coeffs{-0.8f, 0.3f},
                                      rlvr::matrix_view<float>(g.data(), 1, sh.v));
    CHECK(rs.log_p(x[static_cast<std::size_t>(y)]) == Approx(lp[0]).epsilon(2e-6).margin(2e-6));
    CHECK(rs.entropy == Approx(h[0]).epsilon(2e-6).margin(2e-6));
    double gmax = 0, worst = 0;
    for (float e : g) gmax = std::max(gmax, static_cast<double>(std::abs(e)));
    for (int j = 0; j < sh.v; ++j) {
      float got = grad_value(rs, x[static_cast<std::size_t>(j)], -0.8f, 0.3f);
      if (j == y) got += -0.8f;
      worst = std::max(worst, std::abs(static_cast<double>(got - g[static_cast<std::size_t>(j)])) / gmax);
    }
    CHECK(worst < 2e-6);
  }
}

TEST_CASE("bad rows finish with NaN statistics", "[backends][cuda]") {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  CHECK(replay({0.0f, nan, 1.0f}, 0).bad());
  CHECK(replay({0.0f, INFINITY, 1.0f}, 1).bad());
  CHECK(replay({-INFINITY, -INFINITY}, 0).bad());
  std::vector<float> big(5000, 1.0f);
  big[4321] = nan;
  CHECK(replay(big, 2).bad());
  CHECK_FALSE(replay({0.0f, 1.0f, -INFINITY}, 0).bad());
}
