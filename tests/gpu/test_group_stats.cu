// GPU: per-group reward statistics (arbitrary ids, NaN rewards, singletons, empty groups) against a
// host double computation; bitwise determinism; id range errors.
#include <cmath>
#include <cstdint>
#include <vector>

#include "gpu/gpu_test.cuh"
#include "gpu/reference.hpp"
#include "rlvr/backends/cuda/group_stats.cuh"
#include "rlvr/objectives/advantages.hpp"

using rlvr::index_t;
using namespace rlvr::cuda;

namespace {
struct stats {
  std::vector<double> mean, std;
  std::vector<std::int32_t> count, nans;
};
stats run(const std::vector<float>& r, const std::vector<std::int32_t>& g, index_t G) {
  stream s;
  auto dr = to_device(r, s.get());
  auto dg = to_device(g, s.get());
  device_buffer<double> mean(G, s.get()), sd(G, s.get());
  device_buffer<std::int32_t> count(G, s.get()), nans(G, s.get());
  group_stats(s.backend(), rlvr::vector_view<const float, rlvr::cuda_space>(dr.data(), dr.size()),
              rlvr::vector_view<const std::int32_t, rlvr::cuda_space>(dg.data(), dg.size()), G,
              group_stats_outputs{mean.data(), sd.data(), count.data(), nans.data()});
  return {mean.download(), sd.download(), count.download(), nans.download()};
}
} // namespace

RLVR_GPU_TEST(matches_host_two_pass_statistics) {
  rlvr::gpu_test::splitmix rng{3};
  const index_t n = 10000, G = 700; // ids scattered, some groups empty, some singletons
  std::vector<float> r(n);
  std::vector<std::int32_t> g(n);
  for (index_t i = 0; i < n; ++i) {
    g[i] = static_cast<std::int32_t>((rng.next() % 600) * 7 % G);
    r[i] = rng.uniform() < 0.01 ? NAN : static_cast<float>(rng.uniform() < 0.5);
  }
  r[0] = 1.0f;
  g[0] = 699; // a singleton (no other member draws 699: (k·7) % 700 = 699 has no solution k < 600)
  const auto out = run(r, g, G);
  for (index_t k = 0; k < G; ++k) {
    double sum = 0;
    int c = 0, nn = 0;
    for (index_t i = 0; i < n; ++i)
      if (g[i] == k) {
        if (std::isnan(r[i])) ++nn;
        else { sum += r[i]; ++c; }
      }
    const double mean = c ? sum / c : 0.0;
    double ss = 0;
    for (index_t i = 0; i < n; ++i)
      if (g[i] == k && !std::isnan(r[i])) ss += (r[i] - mean) * (r[i] - mean);
    const double sd = c > 1 ? std::sqrt(ss / (c - 1)) : 0.0;
    RLVR_GPU_CHECK(out.count[k] == c && out.nans[k] == nn);
    RLVR_GPU_CHECK_CLOSE(out.mean[k], mean, 1e-14, 1e-15);
    RLVR_GPU_CHECK_CLOSE(out.std[k], sd, 1e-13, 1e-15);
  }
  RLVR_GPU_CHECK(out.count[699] == 1 && out.std[699] == 0.0);
}

RLVR_GPU_TEST(equal_non_dyadic_rewards_have_no_std_residue) {
  // rlvr-math.md §8: 0.1f repeated must give a std of (essentially) zero, not ~1e-4.
  const std::vector<float> r(64, 0.1f);
  std::vector<std::int32_t> g(64);
  for (int i = 0; i < 64; ++i) g[i] = i % 4;
  const auto out = run(r, g, 4);
  for (int k = 0; k < 4; ++k) {
    RLVR_GPU_CHECK(out.count[k] == 16);
    RLVR_GPU_CHECK_MSG(out.std[k] < 1e-15, "std residue ", out.std[k]);
    RLVR_GPU_CHECK_CLOSE(out.mean[k], 0.1f, 1e-15, 0);
  }
}

RLVR_GPU_TEST(bitwise_deterministic) {
  rlvr::gpu_test::splitmix rng{11};
  std::vector<float> r(50000);
  std::vector<std::int32_t> g(50000);
  for (std::size_t i = 0; i < r.size(); ++i) {
    r[i] = static_cast<float>(rng.normal());
    g[i] = static_cast<std::int32_t>(rng.next() % 997);
  }
  const auto a = run(r, g, 997), b = run(r, g, 997);
  RLVR_GPU_CHECK(a.mean == b.mean && a.std == b.std);
}

RLVR_GPU_TEST(bad_ids_are_range_errors) {
  try {
    run({1, 2, 3}, {0, 5, 1}, 3);
    RLVR_GPU_CHECK(false);
  } catch (const rlvr::range_error& e) {
    RLVR_GPU_CHECK_MSG(std::string(e.what()).find("group_ids[1] = 5 is outside [0, 3)") != std::string::npos, e.what());
  }
  RLVR_GPU_CHECK_THROWS_AS(run({1, 2, 3}, {0, -1, 1}, 3), rlvr::range_error);
  stream s;
  auto dr = to_device(std::vector<float>{1, 2}, s.get());
  auto dg = to_device(std::vector<std::int32_t>{0}, s.get());
  RLVR_GPU_CHECK_THROWS_AS(group_stats(s.backend(), rlvr::vector_view<const float, rlvr::cuda_space>(dr.data(), 2),
                                       rlvr::vector_view<const std::int32_t, rlvr::cuda_space>(dg.data(), 1), 1, group_stats_outputs{}),
                           rlvr::shape_error);
}

// GRPO advantages on the device equal the host estimator's (same ε, floor, singleton policy).
static void check_zscore(const rlvr::group_zscore& cfg) {
  rlvr::gpu_test::splitmix rng{17};
  const index_t n = 4000, G = 500;
  std::vector<float> r(n);
  std::vector<std::int32_t> g(n), seq(n);
  std::vector<std::int64_t> g64(n);
  for (index_t i = 0; i < n; ++i) {
    g[i] = static_cast<std::int32_t>(rng.next() % G);
    g64[i] = g[i];
    seq[i] = static_cast<std::int32_t>(i);
    const double u = rng.uniform();
    r[i] = u < 0.02 ? NAN : (g[i] % 5 == 0 ? 0.1f : static_cast<float>(rng.uniform() < 0.5)); // some all-equal groups
  }
  // a singleton group
  g[0] = g64[0] = G - 1;
  r[0] = 1.0f;
  for (index_t i = 1; i < n; ++i)
    if (g[i] == G - 1) g[i] = g64[i] = static_cast<std::int32_t>(G - 2);
  std::vector<float> host_adv(n);
  std::vector<std::uint8_t> host_act(n);
  const rlvr::advantage_input<float> in{.rewards = r, .group_ids = g64, .seq = seq};
  (void)cfg.estimate(in, rlvr::advantage_output<float>{.advantages = host_adv, .active = host_act});
  stream s;
  auto dr = to_device(r, s.get());
  auto dg = to_device(g, s.get());
  device_buffer<float> adv(n, s.get());
  device_buffer<std::uint8_t> keep(n, s.get());
  group_zscore_advantages(s.backend(), rlvr::vector_view<const float, rlvr::cuda_space>(dr.data(), n),
                          rlvr::vector_view<const std::int32_t, rlvr::cuda_space>(dg.data(), n), G, cfg, adv.data(), keep.data());
  const auto a = adv.download();
  const auto k = keep.download();
  int bad = 0;
  for (index_t i = 0; i < n; ++i) {
    const float want = host_act[i] ? host_adv[i] : 0.0f;
    bad += !(rlvr::gpu_test::close(a[i], want, 1e-6, 1e-7) && k[i] == host_act[i]);
  }
  RLVR_GPU_CHECK_MSG(bad == 0, bad, " of ", n, " advantages differ from the host estimator");
}

RLVR_GPU_TEST(grpo_advantages_match_the_host_estimator) {
  check_zscore(rlvr::group_zscore{});
  check_zscore(rlvr::group_zscore{.eps = 1e-4, .std_floor = 0.0, .singleton = rlvr::singleton_policy::raw});
}

RLVR_GPU_TEST_MAIN()
