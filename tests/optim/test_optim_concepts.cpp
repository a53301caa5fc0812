// Static tests of the Optimizer and LearningRateSchedule concepts.
#include "concept_mocks.hpp"

#include <catch2/catch.hpp>

namespace {
using namespace rlvr;
using rlvr::test::mock_optimizer;
using rlvr::test::mock_stateless_optimizer;

static_assert(Optimizer<mock_optimizer>);
static_assert(Optimizer<mock_optimizer&>);
static_assert(!Optimizer<mock_stateless_optimizer>);
static_assert(!StatefulOptimizer<mock_stateless_optimizer>);
static_assert(ParameterUpdater<mock_stateless_optimizer> && LearningRateControl<mock_stateless_optimizer>);

struct no_opt_in : mock_optimizer {
  [[maybe_unused]] static constexpr bool is_optimizer = false;
};
static_assert(!Optimizer<no_opt_in> && StatefulOptimizer<no_opt_in>);

struct const_load : mock_optimizer { // load_state must take a const state_dict
  void load_state(state_dict&) {}
};
static_assert(!StatefulOptimizer<const_load>);

struct no_setter {
  static constexpr bool is_optimizer = true;
  void step(std::span<const parameter_ref>) {}
  double learning_rate() const { return 0.1; }
  void save_state(state_dict&) const {}
  void load_state(const state_dict&) {}
};
static_assert(!LearningRateControl<no_setter> && !Optimizer<no_setter>);

struct steps_doubles : mock_optimizer {
  void step(std::span<const basic_parameter_ref<double>>) {}
};
static_assert(!ParameterUpdater<steps_doubles>);

struct sched {
  double operator()(index_t s) const { return 1.0 / double(s + 1); }
};
static_assert(LearningRateSchedule<sched>);
static_assert(!LearningRateSchedule<int>);
static_assert(!LearningRateSchedule<mock_optimizer>);
} // namespace

TEST_CASE("parameter_ref: size is the number of scalars", "[optim][concepts]") {
  float v[6] = {}, g[6] = {};
  const rlvr::index_t shape[2] = {2, 3};
  rlvr::parameter_ref p{"w", v, g, shape};
  CHECK(p.size() == 6);
  CHECK(p.name == "w");
}
