// GPU: per-group reward statistics (arbitrary ids, NaN rewards, singletons, empty groups) against a
// host double computation; bitwise determinism; id range errors.
#include <cmath>
#include <cstdint>
#include <vector>

#include "gpu/gpu_test.cuh"
#include "gpu/reference.hpp"
#include "rlvr/backends/cuda/group_stats.cuh"

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
  group_stats(s.backend(), rlvr::vector_view<const float>(dr.data(), dr.size()),
              rlvr::vector_view<const std::int32_t>(dg.data(), dg.size()), G,
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
  RLVR_GPU_CHECK_THROWS_AS(group_stats(s.backend(), rlvr::vector_view<const float>(dr.data(), 2),
                                       rlvr::vector_view<const std::int32_t>(dg.data(), 1), 1, group_stats_outputs{}),
                           rlvr::shape_error);
}

RLVR_GPU_TEST_MAIN()
