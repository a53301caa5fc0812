#include <catch2/catch.hpp>
#include <rlvr/metrics/entropy.hpp>

#include <cmath>
#include <limits>
#include <vector>

namespace {
struct cpu {
  static constexpr bool host_backend = true;
  int threads = 1;
};
} // namespace

TEST_CASE("token entropy matches the spec's test vector and closed forms", "[metrics][entropy]") {
  // rlvr-math.md §4/§6: z = [2, 1, 0] → H = 0.8323955818399389.
  const std::vector<double> z = {2, 1, 0};
  rlvr::matrix_view<const double> one(z.data(), 1, 3);
  CHECK(rlvr::mean_token_entropy(cpu{}, one) == Approx(0.8323955818399389).epsilon(1e-14));
  const std::vector<float> zf = {2, 1, 0};
  CHECK(rlvr::mean_token_entropy(cpu{}, rlvr::matrix_view<const float>(zf.data(), 1, 3)) ==
        Approx(0.8323955818399389).epsilon(1e-7));
  // Uniform over V finite tokens (−inf ones excluded): log V; temperature scales z.
  const double ninf = -std::numeric_limits<double>::infinity();
  const std::vector<double> u = {3, 3, ninf, 3, 3, ninf, ninf, ninf};
  rlvr::matrix_view<const double> two(u.data(), 2, 4);
  std::vector<double> h(2);
  rlvr::token_entropy(cpu{2}, two, rlvr::vector_view<double>(h));
  CHECK(h[0] == Approx(std::log(3.0)));
  CHECK(h[1] == 0.0);
  CHECK(rlvr::mean_token_entropy(cpu{}, one, 2.0) ==
        Approx(rlvr::mean_token_entropy(cpu{}, rlvr::matrix_view<const double>(std::vector<double>{1, 0.5, 0}.data(), 1, 3))));
  const std::vector<double> bad = {0, std::nan("")};
  CHECK_THROWS_WITH(rlvr::mean_token_entropy(cpu{}, rlvr::matrix_view<const double>(bad.data(), 1, 2)),
                    Catch::Contains("row 0"));
  CHECK_THROWS_WITH(rlvr::mean_token_entropy(cpu{}, one, 0.0), Catch::Contains("temperature = 0"));
}
