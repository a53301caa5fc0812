#include <catch2/catch.hpp>
#include <rlvr/loss.hpp>
#include <rlvr/backends/serial.hpp>
#include <vector>

TEST_CASE("smoke", "[objectives]") {
  std::vector<double> z{2, 1, 0};
  std::vector<rlvr::token_t> y{0};
  std::vector<double> adv{1.0};
  std::vector<double> g(3);
  rlvr::token_batch<double> b{.logits = {z.data(), 1, 3}, .targets = y, .advantages = {adv.data(), 1, 1}};
  auto d = rlvr::loss_and_grad(rlvr::serial_backend{}, rlvr::reinforce(), b, rlvr::matrix_view<double>(g.data(), 1, 3));
  CHECK(d.loss == Approx(-std::log(0.6652409557748218)));
  CHECK(g[0] == Approx(-0.3347590442251782));
  CHECK(g[1] == Approx(0.24472847105479764));
}
