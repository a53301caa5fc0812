#pragma once
// Minimal types for the static tests of the Optimizer concepts.
#include <rlvr/optim/concepts.hpp>

namespace rlvr::test {

struct mock_optimizer {
  static constexpr bool is_optimizer = true;
  void step(std::span<const parameter_ref>) {}
  double learning_rate() const { return 0.1; }
  void set_learning_rate(double) {}
  void save_state(state_dict&) const {}
  void load_state(const state_dict&) {}
};

//! Forgets to make its state saveable.
struct mock_stateless_optimizer {
  static constexpr bool is_optimizer = true;
  void step(std::span<const parameter_ref>) {}
  double learning_rate() const { return 0.1; }
  void set_learning_rate(double) {}
};

} // namespace rlvr::test
