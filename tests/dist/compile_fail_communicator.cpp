// A communicator whose buffers live on the device (as NCCL's do) cannot drive the trainer, whose
// exchanges are host memory: the diagnostic names rlvr::dist::HostCommunicator.
#include <rlvr/backends/serial.hpp>
#include <rlvr/dist/communicator.hpp>
#include <rlvr/optim/sgd.hpp>
#include <rlvr/policy/tabular.hpp>
#include <rlvr/trainer/trainer.hpp>

struct device_comm : rlvr::dist::single_process {
#ifndef RLVR_COMPILE_FAIL_CONTROL // the control build: the same communicator on the host compiles
  using memory_space = rlvr::cuda_space;
#endif
};
static_assert(rlvr::dist::Communicator<device_comm>);

struct reward {
  double operator()(std::span<const rlvr::token_t>, std::span<const rlvr::token_t>) const { return 1.0; }
};

int main() {
  rlvr::tabular_policy p(2, 4, 2);
  rlvr::sgd opt({.lr = 0.1});
  rlvr::trainer<rlvr::tabular_policy, reward, rlvr::nsr_objective, rlvr::sgd, rlvr::serial_backend, device_comm> tr(
      p, opt, reward{}, rlvr::nsr(), rlvr::serial_backend{}, {.max_response_tokens = 1, .eos = 3}, device_comm{});
  (void)tr;
}
