// Optimizers against hand-computed steps and against reference values printed by PyTorch 2.x
// (torch.optim.{SGD, Adam, AdamW}, float32, foreach=False) for the same three gradients.
#include <rlvr/optim/optim.hpp>

#include <catch2/catch.hpp>

#include <array>
#include <cmath>
#include <vector>

namespace {
using Catch::Matchers::WithinRel;

// One 3-element parameter `w` driven by a fixed gradient sequence.
struct toy {
  std::vector<float> value{1.0f, -2.0f, 0.5f};
  std::vector<float> grad{0.f, 0.f, 0.f};
  rlvr::index_t shape[1] = {3};
  std::array<rlvr::parameter_ref, 1> params{rlvr::parameter_ref{"w", value, grad, shape}};
  static constexpr float grads[3][3] = {{0.5f, 0.25f, -1.0f}, {-0.25f, 0.75f, 0.125f}, {0.1f, -0.3f, 2.0f}};

  template <class O> void run(O& opt, int from, int to) {
    for (int s = from; s < to; ++s) {
      for (int i = 0; i < 3; ++i) grad[static_cast<std::size_t>(i)] = grads[s][i];
      opt.step(params);
    }
  }
};

template <class O> void check_against(O opt, std::array<double, 3> expected) {
  toy t;
  t.run(opt, 0, 3);
  for (std::size_t i = 0; i < 3; ++i) CHECK_THAT(t.value[i], WithinRel(static_cast<float>(expected[i]), 2e-6f));
}
} // namespace

TEST_CASE("sgd: a hand-computed momentum step", "[optim][sgd]") {
  toy t;
  rlvr::sgd opt({.lr = 0.1, .momentum = 0.9});
  t.run(opt, 0, 1); // b = g; θ −= 0.1·g
  CHECK_THAT(t.value[0], WithinRel(1.0f - 0.05f, 1e-7f));
  CHECK_THAT(t.value[2], WithinRel(0.5f + 0.1f, 1e-7f));
  t.run(opt, 1, 2); // b = 0.9·0.5 − 0.25 = 0.2; θ = 0.95 − 0.02
  CHECK_THAT(t.value[0], WithinRel(0.93f, 1e-6f));
  CHECK(opt.steps() == 2);
}

TEST_CASE("sgd: matches torch.optim.SGD", "[optim][sgd]") {
  check_against(rlvr::sgd({.lr = 0.1, .momentum = 0.9}), {0.9020000100135803, -2.1802501678466797, 0.5472500324249268});
  check_against(rlvr::sgd({.lr = 0.1, .momentum = 0.9, .weight_decay = 0.01, .nesterov = true}),
                {0.8691892027854919, -2.2156269550323486, 0.42502346634864807});
  check_against(rlvr::sgd({.lr = 0.05, .momentum = 0.5, .dampening = 0.3}),
                {0.965874969959259, -2.0507500171661377, 0.510937511920929});
}

TEST_CASE("adam: the first step moves every coordinate by lr against the gradient's sign", "[optim][adam]") {
  // m̂ = g, v̂ = g², so the step is lr·g/(|g| + ε) ≈ lr·sign(g).
  toy t;
  rlvr::adam opt({.lr = 0.1});
  t.run(opt, 0, 1);
  CHECK_THAT(t.value[0], WithinRel(0.9f, 1e-6f));
  CHECK_THAT(t.value[1], WithinRel(-2.1f, 1e-6f));
  CHECK_THAT(t.value[2], WithinRel(0.6f, 1e-6f));
}

TEST_CASE("adam: a hand-computed second step", "[optim][adam]") {
  toy t;
  rlvr::adam opt({.lr = 0.1});
  t.run(opt, 0, 2);
  // coordinate 0: g = 0.5 then −0.25
  const double m = 0.1 * 0.5 * 0.9 + 0.1 * -0.25, v = 0.001 * 0.25 * 0.999 + 0.001 * 0.0625;
  const double bc1 = 1 - 0.9 * 0.9, bc2 = 1 - 0.999 * 0.999;
  const double expected = 0.9 - 0.1 / bc1 * m / (std::sqrt(v) / std::sqrt(bc2) + 1e-8);
  CHECK_THAT(t.value[0], WithinRel(static_cast<float>(expected), 1e-6f));
}

TEST_CASE("adam and adamw: match torch.optim.Adam / AdamW", "[optim][adam]") {
  check_against(rlvr::adam({.lr = 0.1}), {0.841841995716095, -2.2354276180267334, 0.6200932860374451});
  check_against(rlvr::adam({.lr = 0.1, .weight_decay = 0.1}),
                {0.8024038076400757, -2.1809935569763184, 0.610576868057251});
  check_against(rlvr::adamw({.lr = 0.1, .weight_decay = 0.1}),
                {0.8143973350524902, -2.1731181144714355, 0.6026802659034729});
  check_against(rlvr::adamw({.lr = 0.01, .beta1 = 0.8, .beta2 = 0.99, .eps = 1e-3, .weight_decay = 0.5}),
                {0.9703470468521118, -1.9932222366333008, 0.5030590891838074});
}

TEST_CASE("adamw: decoupled decay shrinks the weight before the Adam step", "[optim][adam]") {
  toy t;
  rlvr::adamw opt({.lr = 0.1, .weight_decay = 0.1});
  t.run(opt, 0, 1); // θ·(1 − 0.01) − 0.1·sign(g)
  CHECK_THAT(t.value[0], WithinRel(0.99f - 0.1f, 1e-6f));
  CHECK_THAT(t.value[1], WithinRel(-1.98f - 0.1f, 1e-6f));
}

TEMPLATE_TEST_CASE("optimizer state: save, load, continue bit for bit", "[optim][state]", rlvr::sgd, rlvr::adam,
                   rlvr::adamw) {
  auto make = [] {
    if constexpr (std::is_same_v<TestType, rlvr::sgd>) return rlvr::sgd({.lr = 0.1, .momentum = 0.9, .nesterov = true});
    else return TestType({.lr = 0.05, .weight_decay = 0.02});
  };
  toy straight;
  auto a = make();
  straight.run(a, 0, 3);

  toy resumed;
  auto b = make();
  resumed.run(b, 0, 1);
  rlvr::state_dict d;
  b.save_state(d);
  const std::vector<float> weights = resumed.value;

  toy restarted; // a fresh process: new optimizer (with a different lr: the state restores it)
  restarted.value = weights;
  auto c = make();
  c.set_learning_rate(123.0);
  c.load_state(d);
  CHECK(c.steps() == 1);
  CHECK(c.learning_rate() == b.learning_rate());
  restarted.run(c, 1, 3);
  for (std::size_t i = 0; i < 3; ++i) CHECK(std::bit_cast<std::uint32_t>(restarted.value[i]) ==
                                            std::bit_cast<std::uint32_t>(straight.value[i]));
}

TEST_CASE("optimizer state: loading another optimizer's state is an error", "[optim][state]") {
  toy t;
  rlvr::adam a;
  t.run(a, 0, 1);
  rlvr::state_dict d;
  a.save_state(d);
  rlvr::sgd s;
  CHECK_THROWS_AS(s.load_state(d), rlvr::config_error);
  rlvr::adamw w;
  CHECK_THROWS_WITH(w.load_state(d), Catch::Contains("saved by optimizer 'adam'"));
  rlvr::state_dict empty;
  CHECK_THROWS_AS(a.load_state(empty), rlvr::io_error);
  // a negative step count is refused by every optimizer (sgd would skip its buffer's initialisation)
  rlvr::sgd s2({.momentum = 0.9});
  t.run(s2, 0, 1);
  rlvr::state_dict ds;
  s2.save_state(ds);
  ds.set_meta_int("step", -1);
  rlvr::sgd s3({.momentum = 0.9});
  CHECK_THROWS_WITH(s3.load_state(ds), Catch::Contains("step = -1 is negative"));
  d.set_meta_int("step", -1);
  rlvr::adam a2;
  CHECK_THROWS_WITH(a2.load_state(d), Catch::Contains("step = -1 is negative"));
}

TEST_CASE("optimizers: a different parameter list is rejected", "[optim]") {
  toy t;
  rlvr::adam opt;
  t.run(opt, 0, 1);
  std::vector<float> v(3), g(3);
  rlvr::index_t shape[1] = {3};
  std::array<rlvr::parameter_ref, 1> other{rlvr::parameter_ref{"u", v, g, shape}};
  CHECK_THROWS_WITH(opt.step(other), Catch::Contains("'u'") && Catch::Contains("'w'"));
  std::vector<float> v4(4), g4(4);
  rlvr::index_t shape4[1] = {4};
  std::array<rlvr::parameter_ref, 1> bigger{rlvr::parameter_ref{"w", v4, g4, shape4}};
  CHECK_THROWS_AS(opt.step(bigger), rlvr::shape_error);
}

TEST_CASE("optimizers: bad hyperparameters name the value", "[optim]") {
  CHECK_THROWS_WITH(rlvr::sgd({.lr = -1.0}), Catch::Contains("learning rate -1"));
  CHECK_THROWS_AS(rlvr::sgd({.momentum = 1.0}), rlvr::config_error);
  CHECK_THROWS_AS(rlvr::sgd({.nesterov = true}), rlvr::config_error);
  CHECK_THROWS_WITH(rlvr::adam({.beta1 = 1.0}), Catch::Contains("beta1 = 1"));
  CHECK_THROWS_AS(rlvr::adamw({.eps = 0.0}), rlvr::config_error);
  rlvr::adam a;
  CHECK_THROWS_AS(a.set_learning_rate(std::nan("")), rlvr::config_error);
}

TEST_CASE("clip_grad_norm: scales to the max norm and returns the norm before", "[optim][clip]") {
  std::vector<float> v1(2), g1{3.0f, 0.0f}, v2(1), g2{4.0f};
  rlvr::index_t s1[1] = {2}, s2[1] = {1};
  std::array<rlvr::parameter_ref, 2> ps{rlvr::parameter_ref{"a", v1, g1, s1}, rlvr::parameter_ref{"b", v2, g2, s2}};
  CHECK(rlvr::global_grad_norm(ps) == 5.0);
  CHECK(rlvr::clip_grad_norm(ps, 10.0) == 5.0); // below the threshold: untouched
  CHECK(g1[0] == 3.0f);
  CHECK(rlvr::clip_grad_norm(ps, 1.0) == 5.0);
  CHECK_THAT(g1[0], WithinRel(static_cast<float>(3.0 / (5.0 + 1e-6)), 1e-7f));
  CHECK_THAT(g2[0], WithinRel(static_cast<float>(4.0 / (5.0 + 1e-6)), 1e-7f));
  CHECK_THAT(rlvr::global_grad_norm(ps), WithinRel(1.0, 1e-6));
  g2[0] = std::numeric_limits<float>::infinity();
  CHECK(std::isinf(rlvr::clip_grad_norm(ps, 1.0)));
  CHECK(g1[0] > 0.5f); // untouched
  CHECK_THROWS_AS(rlvr::clip_grad_norm(ps, 1.0, true), rlvr::numerical_error);
  CHECK_THROWS_AS(rlvr::clip_grad_norm(ps, 0.0), rlvr::config_error);
}

TEST_CASE("schedules: constant, warm-up and cosine by hand", "[optim][schedules]") {
  CHECK(rlvr::constant_schedule{.lr = 0.5}(0) == 0.5);
  CHECK(rlvr::constant_schedule{.lr = 0.5}(1000) == 0.5);
  const rlvr::warmup_schedule w{.lr = 1.0, .warmup_steps = 4};
  CHECK(w(0) == 0.25);
  CHECK(w(1) == 0.5);
  CHECK(w(3) == 1.0);
  CHECK(w(100) == 1.0);
  CHECK(rlvr::warmup_schedule{.lr = 2.0, .warmup_steps = 0}(0) == 2.0);
  const rlvr::cosine_schedule c{.lr = 1.0, .total_steps = 12, .warmup_steps = 2, .min_lr = 0.1};
  CHECK(c(0) == 0.5);
  CHECK(c(1) == 1.0);
  CHECK(c(2) == 1.0);                                     // q = 0
  CHECK_THAT(c(7), WithinRel(0.1 + 0.9 * 0.5, 1e-15));    // q = 1/2
  CHECK_THAT(c(12), WithinRel(0.1, 1e-15));               // q = 1
  CHECK_THAT(c(50), WithinRel(0.1, 1e-15));               // stays at min_lr
  CHECK_THAT(c(4), WithinRel(0.1 + 0.45 * (1 + std::cos(3.141592653589793 * 0.2)), 1e-14));
  CHECK_THROWS_AS((rlvr::cosine_schedule{.lr = 1.0, .total_steps = 2, .warmup_steps = 2})(0), rlvr::config_error);
  CHECK_THROWS_AS(w(-1), rlvr::range_error);
  rlvr::adamw opt;
  CHECK(rlvr::apply_schedule(opt, w, 1) == 0.5);
  CHECK(opt.learning_rate() == 0.5);
}
