// The sampler on every shipped host backend (serial, Eigen when available, a user-defined one)
// × {float, double}: identical draws to the serial oracle, for several thread counts.
#include <catch2/catch.hpp>
#include <rlvr/backends/serial.hpp>
#include <rlvr/sampling/sampler.hpp>
#if RLVR_TEST_HAVE_EIGEN
#include <rlvr/backends/eigen.hpp>
#endif

#include "support.hpp"
#include "support/typed.hpp"

#include <cstring>
#include <tuple>
#include <vector>

namespace {
#if RLVR_TEST_HAVE_EIGEN
using host_backends = std::tuple<rlvr::serial_backend, rlvr::eigen_backend, rlvr::test::local_backend>;
static_assert(rlvr::HostBackend<rlvr::eigen_backend>);
#else
using host_backends = std::tuple<rlvr::serial_backend, rlvr::test::local_backend>;
#endif
static_assert(rlvr::HostBackend<rlvr::serial_backend>);
using cases = rlvr::test::product_t<host_backends, std::tuple<float, double>>;

template <class B> B with_threads(int t) {
  B b{};
  b.threads = t;
  return b;
}
} // namespace

TEMPLATE_LIST_TEST_CASE("every host backend draws what the serial backend draws", "[sampling][backends]", cases) {
  using backend = typename TestType::backend;
  using scalar = typename TestType::scalar;
  const rlvr::index_t N = 96, V = 1500;
  rlvr::philox_engine eng(3);
  std::vector<scalar> z(static_cast<std::size_t>(N * V));
  for (auto& x : z) x = static_cast<scalar>(6.0 * eng.uniform() - 3.0);
  z[5] = -std::numeric_limits<scalar>::infinity();
  rlvr::matrix_view<const scalar> logits(z.data(), N, V);
  for (const rlvr::sampling_config& c :
       {rlvr::sampling_config{}, rlvr::sampling_config{.temperature = 0.6, .top_p = 0.95},
        rlvr::sampling_config{.temperature = 0.9, .top_k = 40, .min_p = 0.02}, rlvr::sampling_config{.greedy = true}}) {
    const rlvr::stream_batch st{.seed = 77, .first_subsequence = 1000, .offset = 12};
    const auto want = rlvr::sample(rlvr::serial_backend{}, logits, c, st);
    for (int threads : {1, 2, 0}) {
      const auto got = rlvr::sample(with_threads<backend>(threads), logits, c, st);
      for (std::size_t i = 0; i < want.size(); ++i) {
        REQUIRE(got[i].token == want[i].token);
        REQUIRE(std::memcmp(&got[i].logprob, &want[i].logprob, sizeof(scalar)) == 0);
        REQUIRE(std::memcmp(&got[i].policy_logprob, &want[i].policy_logprob, sizeof(scalar)) == 0);
      }
    }
  }
}
