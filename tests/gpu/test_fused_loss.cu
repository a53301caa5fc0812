// GPU: the fused loss+grad+entropy kernel against a double-precision reference and the spec's
// test vectors (rlvr-math.md §6), in float32 and bfloat16, strided and in place.
#include <cstdint>
#include <vector>

#include "gpu/gpu_test.cuh"
#include "gpu/reference.hpp"
#include "rlvr/backends/cuda/fused_loss.cuh"
#include "rlvr/backends/cuda/memory.cuh"
#include "rlvr/backends/serial.hpp"
#include "rlvr/loss.hpp"

using rlvr::index_t;
using namespace rlvr::cuda;
using rlvr::gpu_test::reference_row;
using rlvr::gpu_test::splitmix;

namespace rlvr::gpu_test {

//! ℓ_i = −A_i·log π_i − c_H·H_i with aggregation weight w_i, recording the row statistics:
//! the simplest `RowEpilogue` (all pointers are device memory).
struct reinforce_epilogue {
  const float* adv;
  const float* w; // nullable: all 1
  float entropy_coef;
  float* logp;
  float* entropy;
  float* lse;
  RLVR_HD bool active(index_t i) const { return w == nullptr || w[i] != 0.0f; }
  RLVR_HD rlvr::row_coeffs<float> operator()(index_t i, const rlvr::row_stats<float>& s) const {
    logp[i] = s.logp;
    entropy[i] = s.entropy;
    lse[i] = s.lse;
    const float wi = w ? w[i] : 1.0f;
    return {-adv[i] * wi, -entropy_coef * wi};
  }
};
static_assert(rlvr::RowEpilogue<reinforce_epilogue, float>);

} // namespace rlvr::gpu_test
using rlvr::gpu_test::reinforce_epilogue;

namespace {

struct case_result {
  std::vector<float> grad, log_pi, entropy, lse;
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
  dg.zero();
  device_buffer<float> lp(N, s.get()), ent(N, s.get()), lse(N, s.get());
  rlvr::matrix_view<G, rlvr::cuda_space> gview = in_place ? rlvr::matrix_view<G, rlvr::cuda_space>(reinterpret_cast<G*>(dx.data()), N, V, stride)
                                        : dg.matrix(N, V, stride);
  fused_rows(s.backend(), rlvr::matrix_view<const T, rlvr::cuda_space>(dx.data(), N, V, stride),
             rlvr::vector_view<const std::int32_t, rlvr::cuda_space>(dy.data(), N), tau,
             reinforce_epilogue{dA.data(), dw.data(), cH, lp.data(), ent.data(), lse.data()}, gview);
  case_result r;
  auto widen = [](const auto& v) {
    std::vector<float> o(v.size());
    for (std::size_t k = 0; k < v.size(); ++k) o[k] = static_cast<float>(v[k]);
    return o;
  };
  r.grad = in_place ? widen(dx.download()) : widen(dg.download());
  r.log_pi = lp.download();
  r.entropy = ent.download();
  r.lse = lse.download();
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
    RLVR_GPU_CHECK(std::isfinite(r.lse[static_cast<std::size_t>(i)]));
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

RLVR_GPU_TEST(bad_rows_and_inactive_rows) {
  // row 0 fine, row 1 NaN, row 2 all −inf, row 3 inactive (weight 0): NaN statistics and zero
  // gradient rows for 1 and 2 (as the serial backend), zero gradient and no visit for 3.
  const std::vector<float> x{0, 1, 2, NAN, 1, 2, -INFINITY, -INFINITY, -INFINITY, 5, 6, 7};
  const auto r = run_fused<float, float>(x, 4, 3, 3, {0, 1, 2, 0}, 1.0f, {1, 1, 1, 1}, 0.0f, {1, 1, 1, 0});
  RLVR_GPU_CHECK(std::isfinite(r.lse[0]) && std::isnan(r.lse[1]) && std::isnan(r.lse[2]));
  RLVR_GPU_CHECK(std::isnan(r.log_pi[1]) && std::isnan(r.entropy[2]));
  for (int v = 3; v < 12; ++v) RLVR_GPU_CHECK_MSG(r.grad[v] == 0.0f, "grad[", v, "] = ", r.grad[v]);
  RLVR_GPU_CHECK(r.grad[0] != 0.0f);
}

RLVR_GPU_TEST(argument_errors) {
  stream s;
  auto dx = to_device(std::vector<float>(9, 0.0f), s.get());
  auto dy = to_device(std::vector<std::int32_t>{0, 1, 2}, s.get());
  auto bad = to_device(std::vector<std::int32_t>{0, 2, 3, -1}, s.get());
  device_buffer<float> g(9, s.get()), st(3, s.get());
  const reinforce_epilogue ep{st.data(), nullptr, 0.0f, st.data(), st.data(), st.data()};
  try {
    check_targets(s.backend(), rlvr::vector_view<const std::int32_t, rlvr::cuda_space>(bad.data(), 4), 3);
    RLVR_GPU_CHECK(false);
  } catch (const rlvr::range_error& e) {
    RLVR_GPU_CHECK_MSG(std::string(e.what()).find("targets[2] = 3") != std::string::npos, e.what());
  }
  const rlvr::matrix_view<const float, rlvr::cuda_space> z(dx.data(), 3, 3);
  RLVR_GPU_CHECK_THROWS_AS(fused_rows(s.backend(), z, rlvr::vector_view<const std::int32_t, rlvr::cuda_space>(dy.data(), 2), 1.0f, ep,
                                      g.matrix(3, 3)),
                           rlvr::shape_error);
  RLVR_GPU_CHECK_THROWS_AS(fused_rows(s.backend(), z, rlvr::vector_view<const std::int32_t, rlvr::cuda_space>(dy.data(), 3), 0.0f, ep,
                                      g.matrix(3, 3)),
                           rlvr::range_error);
  RLVR_GPU_CHECK_THROWS_AS(fused_rows(s.backend(), z, rlvr::vector_view<const std::int32_t, rlvr::cuda_space>(dy.data(), 3), 1.0f, ep,
                                      g.matrix(3, 2)),
                           rlvr::shape_error);
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
  logp_entropy(s.backend(), rlvr::matrix_view<const float, rlvr::cuda_space>(dx.data(), N, V),
               rlvr::vector_view<const std::int32_t, rlvr::cuda_space>(dy.data(), N), 0.8f, lp.view(), ent.view());
  const auto a = lp.download(), h = ent.download();
  for (index_t i = 0; i < N; ++i) {
    const auto ref = reference_row(&x[static_cast<std::size_t>(i * V)], V, y[static_cast<std::size_t>(i)], 0.8, 0, 0, 0);
    RLVR_GPU_CHECK_CLOSE(a[static_cast<std::size_t>(i)], ref.log_pi, 1e-5, 1e-5);
    RLVR_GPU_CHECK_CLOSE(h[static_cast<std::size_t>(i)], ref.entropy, 1e-5, 1e-5);
  }
}

// The one entry point rlvr::loss_and_grad on the CUDA backend against the serial oracle.
template <class O>
static void check_objective(const char* name, const O& obj, bool with_old, bool with_ref) {
  rlvr::gpu_test::splitmix rng{101};
  const index_t N = 96, V = 2000, B = 12;
  std::vector<float> x(static_cast<std::size_t>(N * V));
  for (auto& v : x) v = static_cast<float>(2.0 * rng.normal());
  std::vector<rlvr::token_t> y(N);
  std::vector<std::int32_t> seq(N);
  std::vector<float> adv(static_cast<std::size_t>(O::components * N)), old(N), ref(N);
  std::vector<std::uint8_t> act(static_cast<std::size_t>(O::components * N));
  for (index_t t = 0; t < N; ++t) {
    y[t] = static_cast<rlvr::token_t>(rng.next() % V);
    seq[t] = static_cast<std::int32_t>(t * B / N);
    old[t] = static_cast<float>(-7.0 + 0.3 * rng.normal());
    ref[t] = static_cast<float>(-7.0 + 0.3 * rng.normal());
  }
  for (std::size_t k = 0; k < adv.size(); ++k) {
    adv[k] = static_cast<float>(rng.normal());
    act[k] = rng.uniform() < 0.85 ? 1 : 0;
  }
  rlvr::loss_token_batch<float> batch{.logits = {x.data(), N, V},
                                 .targets = y,
                                 .advantages = {adv.data(), O::components, N},
                                 .active = {act.data(), O::components, N},
                                 .seq = seq,
                                 .num_sequences = B};
  if (with_old) batch.old_logp = old;
  if (with_ref) batch.ref_logp = ref;
  std::vector<float> g_cpu(x.size());
  const auto d_cpu = rlvr::loss_and_grad(rlvr::serial_backend{}, obj, batch,
                                         rlvr::matrix_view<float>(g_cpu.data(), N, V), {.temperature = 0.9});
  // the same entry point, the same batch: only the logits (and gradient) live on the device
  stream s;
  auto dx = to_device(x, s.get());
  device_buffer<float> dg(N * V, s.get());
  rlvr::loss_token_batch<float, rlvr::cuda_space> dbatch{.logits = dx.matrix(N, V),
                                                          .targets = batch.targets,
                                                          .advantages = batch.advantages,
                                                          .active = batch.active,
                                                          .seq = batch.seq,
                                                          .num_sequences = batch.num_sequences,
                                                          .old_logp = batch.old_logp,
                                                          .ref_logp = batch.ref_logp};
  const rlvr::loss_diagnostics d_gpu = rlvr::loss_and_grad(s.backend(), obj, dbatch, dg.matrix(N, V), {.temperature = 0.9});
  const std::vector<float> g_gpu = dg.download();
  double gmax = 0, worst = 0;
  for (float v : g_cpu) gmax = std::max(gmax, static_cast<double>(std::abs(v)));
  for (std::size_t k = 0; k < g_cpu.size(); ++k)
    worst = std::max(worst, static_cast<double>(std::abs(g_gpu[k] - g_cpu[k])) / gmax);
  RLVR_GPU_CHECK_MSG(worst < 1e-5, name, ": worst relative gradient difference ", worst);
  RLVR_GPU_CHECK_CLOSE(d_gpu.loss, d_cpu.loss, 1e-5, 1e-6);
  RLVR_GPU_CHECK_CLOSE(d_gpu.mean_entropy, d_cpu.mean_entropy, 1e-5, 0);
  RLVR_GPU_CHECK_CLOSE(d_gpu.mean_logp, d_cpu.mean_logp, 1e-5, 0);
  RLVR_GPU_CHECK_CLOSE(d_gpu.approx_kl, d_cpu.approx_kl, 1e-4, 1e-6);
  RLVR_GPU_CHECK(d_gpu.active_tokens == d_cpu.active_tokens);
  RLVR_GPU_CHECK_CLOSE(d_gpu.clip_frac_low + d_gpu.clip_frac_high, d_cpu.clip_frac_low + d_cpu.clip_frac_high, 0, 0.02);
}

RLVR_GPU_TEST(objectives_match_the_serial_oracle) {
  check_objective("grpo", rlvr::grpo(), true, true);
  check_objective("ppo", rlvr::ppo(), true, false);
  check_objective("w_reinforce", rlvr::w_reinforce(), true, false);
  check_objective("nsr", rlvr::nsr(), false, false);
  check_objective("psr", rlvr::psr(), false, false);
  // the objective zoo's token-level terms run on the device unchanged
  check_objective("cispo", rlvr::methods::cispo({.surrogate = {.eps_low = 0.2, .eps_high = 0.1}}), true, false);
  check_objective("sapo", rlvr::methods::sapo(), true, false);
  check_objective("grpo with k3+", rlvr::make_objective(rlvr::group_zscore{}, rlvr::ppo_clip{.dual_clip = 4},
                                                        rlvr::token_mean{}, rlvr::kl_k3_plus{.beta = 0.05}),
                  true, true);
}

RLVR_GPU_TEST(entry_point_errors_match_the_host) {
  stream s;
  std::vector<float> x(6, 0.0f);
  auto dx = to_device(x, s.get());
  device_buffer<float> dg(6, s.get());
  std::vector<rlvr::token_t> y{0, 5};
  std::vector<float> adv{1, 1};
  rlvr::loss_token_batch<float, rlvr::cuda_space> batch{
      .logits = dx.matrix(2, 3), .targets = y, .advantages = {adv.data(), 1, 2}};
  try {
    (void)rlvr::loss_and_grad(s.backend(), rlvr::nsr(), batch, dg.matrix(2, 3));
    RLVR_GPU_CHECK(false);
  } catch (const rlvr::range_error& e) {
    RLVR_GPU_CHECK_MSG(std::string(e.what()).find("targets[1] = 5") != std::string::npos, e.what());
  }
  std::vector<float> xnan{0, 1, 2, NAN, 0, 0};
  auto dn = to_device(xnan, s.get());
  y[1] = 1;
  batch.logits = dn.matrix(2, 3);
  try {
    (void)rlvr::loss_and_grad(s.backend(), rlvr::reinforce(), batch, dg.matrix(2, 3));
    RLVR_GPU_CHECK(false);
  } catch (const rlvr::numerical_error& e) {
    RLVR_GPU_CHECK_MSG(std::string(e.what()).find("row 1") != std::string::npos, e.what());
  }
}

RLVR_GPU_TEST_MAIN()
