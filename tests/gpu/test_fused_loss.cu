// GPU: the fused loss+grad+entropy kernel against a double-precision reference and the spec's
// test vectors (rlvr-math.md §6), in float32 and bfloat16, strided and in place.
#include <cstdint>
#include <vector>

#include "gpu/gpu_test.cuh"
#include "gpu/reference.hpp"
#include "rlvr/backends/cuda/fused_loss.cuh"
#include "rlvr/backends/cuda/memory.cuh"

using rlvr::index_t;
using namespace rlvr::cuda;
using rlvr::gpu_test::reference_row;
using rlvr::gpu_test::splitmix;

namespace {

struct case_result {
  std::vector<float> grad, log_pi, entropy, loss;
  std::vector<std::uint32_t> flags;
};

template <class T, class G>
case_result run_fused(const std::vector<float>& x, index_t N, index_t V, index_t stride,
                      const std::vector<std::int32_t>& y, float tau, const std::vector<float>& A, float cH,
                      const std::vector<float>& w, bool in_place = false) {
  stream s;
  std::vector<T> xt(x.size());
  for (std::size_t k = 0; k < x.size(); ++k) xt[k] = static_cast<T>(x[k]);
  auto dx = to_device(xt, s.get());
  auto dy = to_device(y, s.get());
  auto dA = to_device(A, s.get());
  auto dw = to_device(w, s.get());
  device_buffer<G> dg(N * stride, s.get());
  device_buffer<float> lp(N, s.get()), ent(N, s.get()), loss(N, s.get());
  device_buffer<std::uint32_t> flags(N, s.get());
  rlvr::matrix_view<G> gview = in_place ? rlvr::matrix_view<G>(reinterpret_cast<G*>(dx.data()), N, V, stride)
                                        : dg.matrix(N, V, stride);
  fused_loss_grad(s.backend(), rlvr::matrix_view<const T>(dx.data(), N, V, stride),
                  rlvr::vector_view<const std::int32_t>(dy.data(), N), tau, reinforce_rule{dA.data(), cH},
                  dw.data(), gview, fused_outputs{lp.data(), ent.data(), loss.data(), flags.data()});
  case_result r;
  if (in_place) {
    const auto g = dx.download();
    r.grad.resize(g.size());
    for (std::size_t k = 0; k < g.size(); ++k) r.grad[k] = static_cast<float>(g[k]);
  } else {
    const auto g = dg.download();
    r.grad.resize(g.size());
    for (std::size_t k = 0; k < g.size(); ++k) r.grad[k] = static_cast<float>(g[k]);
  }
  r.log_pi = lp.download();
  r.entropy = ent.download();
  r.loss = loss.download();
  r.flags = flags.download();
  return r;
}

} // namespace

RLVR_GPU_TEST(spec_test_vectors) {
  // z = [2, 1, 0], y = 0 (rlvr-math.md §6): log form with A = +1 and A = −1; entropy and ∂H/∂z.
  const std::vector<float> x{2, 1, 0, 2, 1, 0, 2, 1, 0};
  const std::vector<std::int32_t> y{0, 0, 0};
  // rows: (A = 1, cH = 0), (A = −1, cH = 0), (A = 0, cH = −1 → ℓ = H)
  auto r = run_fused<float, float>(x, 3, 3, 3, y, 1.0f, {1, -1, 0}, 0.0f, {1, 1, 1});
  const double g1[3] = {-0.3347590442251782, 0.24472847105479764, 0.09003057317038046};
  for (int v = 0; v < 3; ++v) {
    RLVR_GPU_CHECK_CLOSE(r.grad[v], g1[v], 1e-6, 1e-7);
    RLVR_GPU_CHECK_CLOSE(r.grad[3 + v], -g1[v], 1e-6, 1e-7);
  }
  RLVR_GPU_CHECK_CLOSE(r.entropy[0], 0.8323955818399389, 1e-6, 0);
  RLVR_GPU_CHECK_CLOSE(r.log_pi[0], std::log(0.6652409557748218), 1e-6, 0);
  auto h = run_fused<float, float>(x, 3, 3, 3, y, 1.0f, {0, 0, 0}, -1.0f, {1, 1, 1});
  const double dH[3] = {-0.28258745107944216, 0.14077035746963013, 0.14181709360981215};
  for (int v = 0; v < 3; ++v) RLVR_GPU_CHECK_CLOSE(h.grad[v], dH[v], 1e-6, 1e-7);
  RLVR_GPU_CHECK_CLOSE(h.loss[0], 0.8323955818399389, 1e-6, 0);
}

template <class T, class G> static void check_random(index_t N, index_t V, index_t stride, float tau, bool masked,
                                                     double scale, double tol, bool in_place = false) {
  splitmix rng{static_cast<std::uint64_t>(N * 131 + V + stride)};
  std::vector<float> x(static_cast<std::size_t>(N * stride), 0.0f);
  std::vector<std::int32_t> y(static_cast<std::size_t>(N));
  std::vector<float> A(static_cast<std::size_t>(N)), w(static_cast<std::size_t>(N));
  for (index_t i = 0; i < N; ++i) {
    for (index_t v = 0; v < V; ++v) {
      float val = static_cast<float>(scale * rng.normal());
      if constexpr (!std::is_same_v<T, float>) val = static_cast<float>(static_cast<T>(val)); // exact in T
      x[static_cast<std::size_t>(i * stride + v)] = val;
    }
    y[static_cast<std::size_t>(i)] = static_cast<std::int32_t>(rng.next() % static_cast<std::uint64_t>(V));
    if (masked)
      for (index_t v = 0; v < V; v += 3)
        if (v != y[static_cast<std::size_t>(i)]) x[static_cast<std::size_t>(i * stride + v)] = -INFINITY;
    A[static_cast<std::size_t>(i)] = i % 3 == 0 ? 1.0f : (i % 3 == 1 ? -1.0f : 0.37f);
    w[static_cast<std::size_t>(i)] = 1.0f / static_cast<float>(N);
  }
  const float cH = 1e-3f;
  auto r = run_fused<T, G>(x, N, V, stride, y, tau, A, cH, w, in_place);
  double worst = 0;
  for (index_t i = 0; i < N; ++i) {
    const auto ref = reference_row(&x[static_cast<std::size_t>(i * stride)], V, y[static_cast<std::size_t>(i)], tau,
                                   A[static_cast<std::size_t>(i)], cH, w[static_cast<std::size_t>(i)]);
    RLVR_GPU_CHECK_CLOSE(r.log_pi[static_cast<std::size_t>(i)], ref.log_pi, 1e-5, 1e-5);
    RLVR_GPU_CHECK_CLOSE(r.entropy[static_cast<std::size_t>(i)], ref.entropy, 1e-5, 1e-5);
    RLVR_GPU_CHECK(r.flags[static_cast<std::size_t>(i)] == 0);
    double gmax = 0;
    for (double g : ref.grad) gmax = std::max(gmax, std::abs(g));
    for (index_t v = 0; v < V; ++v) {
      const double d = std::abs(r.grad[static_cast<std::size_t>(i * stride + v)] - ref.grad[static_cast<std::size_t>(v)]);
      worst = std::max(worst, d / gmax);
    }
  }
  RLVR_GPU_CHECK_MSG(worst <= tol, "N=", N, " V=", V, " stride=", stride, " worst relative gradient error ", worst);
}

RLVR_GPU_TEST(float32_matches_double_reference) {
  check_random<float, float>(64, 1000, 1000, 1.0f, false, 2.0, 2e-6);
  check_random<float, float>(33, 4099, 4099, 0.6f, false, 3.0, 2e-6); // odd V: scalar head/tail
  check_random<float, float>(17, 1003, 1011, 1.0f, true, 2.0, 2e-6);  // strided, masked −inf
  check_random<float, float>(8, 50000, 50000, 1.0f, false, 1e4, 1e-5); // |z| ~ 1e4 stays finite
  check_random<float, float>(16, 2048, 2048, 1.0f, false, 2.0, 2e-6, true); // in place
}

RLVR_GPU_TEST(bfloat16_logits_accumulate_in_float) {
  // Logits exactly representable in bf16, so only the gradient's rounding to bf16 (2^-8
  // relative) and float accumulation separate the results.
  check_random<__nv_bfloat16, float>(32, 5000, 5000, 1.0f, false, 2.0, 2e-6);
  check_random<__nv_bfloat16, __nv_bfloat16>(32, 5000, 5000, 1.0f, false, 2.0, 8e-3);
  check_random<__nv_bfloat16, __nv_bfloat16>(9, 3001, 3005, 0.7f, true, 2.0, 8e-3);
}

RLVR_GPU_TEST(bad_rows_and_targets_are_reported) {
  stream s;
  std::vector<float> x{0, 1, 2, NAN, 1, 2, -INFINITY, -INFINITY, -INFINITY};
  auto dx = to_device(x, s.get());
  auto dy = to_device(std::vector<std::int32_t>{0, 1, 2}, s.get());
  auto dA = to_device(std::vector<float>{1, 1, 1}, s.get());
  device_buffer<std::uint32_t> flags(3, s.get());
  fused_loss_grad(s.backend(), rlvr::matrix_view<const float>(dx.data(), 3, 3),
                  rlvr::vector_view<const std::int32_t>(dy.data(), 3), 1.0f, reinforce_rule{dA.data(), 0.0f},
                  nullptr, rlvr::matrix_view<float>{}, fused_outputs{nullptr, nullptr, nullptr, flags.data()});
  const auto f = flags.download();
  RLVR_GPU_CHECK(f[0] == 0 && (f[1] & flag_nonfinite_row) && (f[2] & flag_nonfinite_row));
  try {
    check_rows(s.backend(), rlvr::vector_view<const std::uint32_t>(flags.data(), 3));
    RLVR_GPU_CHECK(false);
  } catch (const rlvr::numerical_error& e) {
    RLVR_GPU_CHECK_MSG(std::string(e.what()).find("row 1") != std::string::npos, e.what());
  }
  auto bad = to_device(std::vector<std::int64_t>{0, 2, 3, -1}, s.get());
  try {
    check_targets(s.backend(), rlvr::vector_view<const std::int64_t>(bad.data(), 4), 3);
    RLVR_GPU_CHECK(false);
  } catch (const rlvr::range_error& e) {
    RLVR_GPU_CHECK_MSG(std::string(e.what()).find("targets[2] = 3") != std::string::npos, e.what());
  }
  RLVR_GPU_CHECK_THROWS_AS(fused_loss_grad(s.backend(), rlvr::matrix_view<const float>(dx.data(), 3, 3),
                                           rlvr::vector_view<const std::int32_t>(dy.data(), 2), 1.0f,
                                           reinforce_rule{dA.data(), 0.0f}, nullptr, rlvr::matrix_view<float>{}),
                           rlvr::shape_error);
  RLVR_GPU_CHECK_THROWS_AS(fused_loss_grad(s.backend(), rlvr::matrix_view<const float>(dx.data(), 3, 3),
                                           rlvr::vector_view<const std::int32_t>(dy.data(), 3), 0.0f,
                                           reinforce_rule{dA.data(), 0.0f}, nullptr, rlvr::matrix_view<float>{}),
                           rlvr::range_error);
}

RLVR_GPU_TEST(forward_only_matches_fused) {
  stream s;
  splitmix rng{7};
  const index_t N = 20, V = 3000;
  std::vector<float> x(static_cast<std::size_t>(N * V));
  for (auto& v : x) v = static_cast<float>(2 * rng.normal());
  std::vector<std::int32_t> y(static_cast<std::size_t>(N));
  for (auto& t : y) t = static_cast<std::int32_t>(rng.next() % V);
  auto dx = to_device(x, s.get());
  auto dy = to_device(y, s.get());
  device_buffer<float> lp(N, s.get()), ent(N, s.get());
  log_prob_entropy(s.backend(), rlvr::matrix_view<const float>(dx.data(), N, V),
                   rlvr::vector_view<const std::int32_t>(dy.data(), N), 0.8f, lp.data(), ent.data());
  const auto a = lp.download(), h = ent.download();
  for (index_t i = 0; i < N; ++i) {
    const auto ref = reference_row(&x[static_cast<std::size_t>(i * V)], V, y[static_cast<std::size_t>(i)], 0.8, 0, 0, 0);
    RLVR_GPU_CHECK_CLOSE(a[static_cast<std::size_t>(i)], ref.log_pi, 1e-5, 1e-5);
    RLVR_GPU_CHECK_CLOSE(h[static_cast<std::size_t>(i)], ref.entropy, 1e-5, 1e-5);
  }
}

RLVR_GPU_TEST_MAIN()
