// PPO (GAE) needs a value head: a tabular policy has none, and the diagnostic says so.
#include <rlvr/backends/serial.hpp>
#include <rlvr/optim/sgd.hpp>
#include <rlvr/policy/tabular.hpp>
#include <rlvr/trainer/trainer.hpp>

struct always_one {
  double operator()(std::span<const rlvr::token_t>, std::span<const rlvr::token_t>) const { return 1.0; }
};

int main() {
  rlvr::tabular_policy pol(1, 4);
  rlvr::sgd opt;
#ifdef RLVR_COMPILE_FAIL_CONTROL
  auto obj = rlvr::grpo();
#else
  auto obj = rlvr::ppo();
#endif
  rlvr::trainer tr(pol, opt, always_one{}, obj, rlvr::serial_backend{}, rlvr::trainer_config{.eos = 3});
  return static_cast<int>(tr.steps_done());
}
