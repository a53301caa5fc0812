// state_dict: typed access, metadata that round-trips numbers exactly, composition by prefix,
// parameter store/load, and the errors for missing or mismatched entries.
#include <rlvr/optim/state_dict.hpp>

#include <catch2/catch.hpp>

#include <array>
#include <cmath>
#include <limits>
#include <vector>

TEST_CASE("state_dict: typed put/get/read and shape checks", "[optim][state_dict]") {
  rlvr::state_dict d;
  d.put<float>("w", std::vector<float>{1, 2, 3, 4, 5, 6}, {2, 3});
  d.put<std::int64_t>("n", std::vector<std::int64_t>{42});
  CHECK(d.size() == 2);
  CHECK(d.contains("w"));
  CHECK(d.at("w").shape == std::vector<std::int64_t>{2, 3});
  CHECK(d.get<float>("w")[5] == 6.0f);
  std::vector<float> out(6);
  d.read<float>("w", out);
  CHECK(out[0] == 1.0f);
  std::vector<float> small(5);
  CHECK_THROWS_AS(d.read<float>("w", small), rlvr::shape_error);
  CHECK_THROWS_WITH(d.get<double>("w"), Catch::Contains("dtype F32, expected F64"));
  CHECK_THROWS_WITH(d.get<float>("missing"), Catch::Contains("no tensor named 'missing'"));
  CHECK_THROWS_AS(d.put<float>("w", std::vector<float>{1}), rlvr::config_error);        // duplicate
  CHECK_THROWS_AS(d.put<float>("x", std::vector<float>{1, 2}, {3}), rlvr::shape_error); // 2 values, 3 slots
}

TEST_CASE("state_dict: metadata numbers round-trip exactly", "[optim][state_dict]") {
  rlvr::state_dict d;
  for (double x : {0.1, 1e-6 / 3, std::numeric_limits<double>::denorm_min(), -123456789.123456789, 1e300}) {
    d.set_meta_number("x", x);
    CHECK(d.meta_number("x") == x);
  }
  d.set_meta_int("i", std::numeric_limits<std::int64_t>::min());
  CHECK(d.meta_int("i") == std::numeric_limits<std::int64_t>::min());
  d.set_meta("s", "not a number");
  CHECK_THROWS_AS(d.meta_number("s"), rlvr::parse_error);
  CHECK_THROWS_AS(d.meta_int("s"), rlvr::parse_error);
  CHECK_THROWS_AS(d.meta("absent"), rlvr::io_error);
  CHECK(d.find_meta("absent") == nullptr);
  d.set_meta("s", "replaced");
  CHECK(d.meta("s") == "replaced");
  CHECK(d.metadata().size() == 3);
}

TEST_CASE("state_dict: merge and extract by prefix", "[optim][state_dict]") {
  rlvr::state_dict a, b;
  a.put<float>("w", std::vector<float>{1});
  a.set_meta("step", "3");
  b.merge(a, "optim.");
  b.put<float>("w", std::vector<float>{2});
  CHECK(b.contains("optim.w"));
  CHECK(b.meta("optim.step") == "3");
  const rlvr::state_dict back = b.extract("optim.");
  CHECK(back == a);
  CHECK_FALSE(back == b);
}

TEST_CASE("state_dict: store and load parameters", "[optim][state_dict]") {
  std::vector<float> v{1, 2, 3, 4}, g(4), u{9};
  std::vector<float> gu(1);
  const std::array<rlvr::index_t, 2> s22{2, 2};
  const std::array<rlvr::index_t, 1> s1{1};
  const std::array<rlvr::parameter_ref, 2> ps{rlvr::parameter_ref{"a", v, g, s22}, rlvr::parameter_ref{"b", u, gu, s1}};
  rlvr::state_dict d;
  rlvr::store_parameters(d, ps, "policy.");
  CHECK(d.at("policy.a").shape == std::vector<std::int64_t>{2, 2});
  v = {0, 0, 0, 0};
  u = {0};
  rlvr::load_parameters(d, ps, "policy.");
  CHECK(v == std::vector<float>{1, 2, 3, 4});
  CHECK(u[0] == 9.0f);
  std::vector<float> v4(4), g4(4);
  const std::array<rlvr::index_t, 1> s4{4};
  const std::array<rlvr::parameter_ref, 1> flat{rlvr::parameter_ref{"a", v4, g4, s4}};
  CHECK_THROWS_AS(rlvr::load_parameters(d, flat, "policy."), rlvr::shape_error); // [4] vs stored [2, 2]
  CHECK_THROWS_AS(rlvr::load_parameters(d, flat, "other."), rlvr::io_error);
}
