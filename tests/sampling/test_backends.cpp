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

namespace {
// A backend whose sampler is not rlvr's: it always draws the last column, and counts its calls.
// rlvr::sample must return exactly what the backend drew (the dispatch goes through the backend).
struct last_token_backend {
  int threads = 1;
  int* calls = nullptr;
  template <class T>
  void sample_rows(rlvr::matrix_view<const T> z, const rlvr::sampling_params&, const rlvr::stream_batch& s,
                   rlvr::vector_view<rlvr::token_draw<T>> out, rlvr::vector_view<std::uint8_t> status) const {
    ++*calls;
    for (rlvr::index_t i = 0; i < z.rows(); ++i) {
      out[i] = {z.cols() - 1, static_cast<T>(s.uniform(i)), T(-1)};
      status[i] = 0;
    }
  }
};
static_assert(rlvr::SamplingBackend<last_token_backend, float>);
} // namespace

TEST_CASE("sample() draws through the backend it is given", "[sampling][backends]") {
  const std::vector<float> z = {0.f, 9.f, 1.f, 8.f, 0.f, 2.f};
  const rlvr::matrix_view<const float> logits(z.data(), 2, 3);
  int calls = 0;
  const rlvr::stream_batch st{.seed = 5, .first_subsequence = 7};
  const auto d = rlvr::sample(last_token_backend{.threads = 1, .calls = &calls}, logits, {}, st);
  CHECK(calls == 1);
  REQUIRE(d.size() == 2);
  CHECK(d[0].token == 2); // the serial sampler would almost surely draw column 1 (p ≈ 0.9991)
  CHECK(d[1].token == 2);
  CHECK(d[0].logprob == static_cast<float>(st.uniform(0)));
  CHECK(d[1].policy_logprob == -1.0f);
  // and the serial backend really samples: row 0's mass is on column 1
  const auto s = rlvr::sample(rlvr::serial_backend{}, logits, {.greedy = true}, st);
  CHECK(s[0].token == 1);
  CHECK(s[1].token == 0);
}

namespace {
// Reports row 1 as all −inf.
struct bad_row_backend {
  int threads = 1;
  void sample_rows(rlvr::matrix_view<const float> z, const rlvr::sampling_params&, const rlvr::stream_batch&,
                   rlvr::vector_view<rlvr::token_draw<float>> out, rlvr::vector_view<std::uint8_t> status) const {
    for (rlvr::index_t i = 0; i < z.rows(); ++i) {
      out[i] = {};
      status[i] = i == 1 ? std::uint8_t{2} : std::uint8_t{0};
    }
  }
};
} // namespace

TEST_CASE("a backend reporting a bad row makes sample() raise for that row", "[sampling][backends]") {
  const std::vector<float> z = {0.f, 1.f, 2.f, 3.f};
  CHECK_THROWS_WITH(rlvr::sample(bad_row_backend{}, rlvr::matrix_view<const float>(z.data(), 2, 2), {}, {}),
                    Catch::Contains("row 1 has every logit = -inf"));
}
