// The Reward concept and score_batch: positive and negative static checks, the broadcast rule,
// shape errors, thread-count independence, and the BatchReward dispatch.
#include <rlvr/rewards/concepts.hpp>

#include <catch2/catch.hpp>

#include <atomic>
#include <string>
#include <vector>

namespace {

struct length_reward { // reward = |response| + |prompt| / 1000 + |reference| / 1e6: pins each side
  double operator()(std::string_view p, std::string_view y, std::string_view ref) const {
    return static_cast<double>(y.size()) + static_cast<double>(p.size()) / 1000.0 +
           static_cast<double>(ref.size()) / 1e6;
  }
};
static_assert(rlvr::Reward<length_reward>);
static_assert(!rlvr::BatchReward<length_reward>);

struct bool_reward {
  bool operator()(std::string_view, std::string_view y, std::string_view) const { return !y.empty(); }
};
static_assert(rlvr::Reward<bool_reward>);

struct two_arg {
  double operator()(std::string_view, std::string_view) const { return 0; }
};
static_assert(!rlvr::Reward<two_arg>);
struct non_const {
  double operator()(std::string_view, std::string_view, std::string_view) { return 0; }
};
static_assert(!rlvr::Reward<non_const>); // batch scoring calls a const reward from many threads
struct returns_string {
  std::string operator()(std::string_view, std::string_view, std::string_view) const { return {}; }
};
static_assert(!rlvr::Reward<returns_string>);
static_assert(!rlvr::Reward<int>);

struct counting_batch {
  std::atomic<int>* batch_calls;
  double operator()(std::string_view, std::string_view y, std::string_view) const {
    return static_cast<double>(y.size());
  }
  void score_batch(std::span<const std::string_view>, std::span<const std::string_view> ys,
                   std::span<const std::string_view>, std::span<double> out, int) const {
    ++*batch_calls;
    for (std::size_t i = 0; i < ys.size(); ++i) out[i] = 2.0 * static_cast<double>(ys[i].size());
  }
};
static_assert(rlvr::BatchReward<counting_batch>);

} // namespace

TEST_CASE("a lambda with (prompt, response, reference) models Reward", "[rewards][concepts]") {
  auto lam = [](std::string_view, std::string_view y, std::string_view r) { return y == r ? 1.0 : 0.0; };
  STATIC_REQUIRE(rlvr::Reward<decltype(lam)>);
  const std::string_view ys[] = {"a", "b", "a"};
  const std::string_view refs[] = {"a"};
  std::vector<double> out(3, -1.0);
  rlvr::score_batch(lam, {}, ys, refs, out, 2);
  CHECK(out == std::vector<double>{1.0, 0.0, 1.0});
}

TEST_CASE("score_batch broadcasts prompts and references over contiguous groups", "[rewards][concepts]") {
  const std::string_view prompts[] = {"p", "pp"};        // P = 2 groups of 3
  const std::string_view ys[] = {"", "a", "ab", "abc", "abcd", "abcde"};
  const std::string_view refs[] = {"r", "rr", "rrr", "rrrr", "rrrrr", "rrrrrr"}; // one each
  std::vector<double> out(6);
  rlvr::score_batch(length_reward{}, prompts, ys, refs, out, 1);
  for (std::size_t i = 0; i < 6; ++i) {
    const double p = i < 3 ? 1.0 : 2.0;
    CHECK(out[i] == Approx(static_cast<double>(i) + p / 1000.0 + static_cast<double>(i + 1) / 1e6).epsilon(1e-15));
  }
  rlvr::score_batch(length_reward{}, {}, ys, {}, out, 1); // empty sides → empty views
  for (std::size_t i = 0; i < 6; ++i) CHECK(out[i] == static_cast<double>(i));
}

TEST_CASE("score_batch rejects inconsistent shapes with a shape error naming the side", "[rewards][concepts]") {
  const std::string_view ys[] = {"a", "b", "c", "d"};
  const std::string_view three[] = {"x", "y", "z"};
  std::vector<double> out(4), short_out(3);
  CHECK_THROWS_WITH(rlvr::score_batch(length_reward{}, three, ys, {}, out),
                    Catch::Contains("[rlvr.shape]") && Catch::Contains("prompts has 3 entries for 4"));
  CHECK_THROWS_WITH(rlvr::score_batch(length_reward{}, {}, ys, three, out),
                    Catch::Contains("references has 3 entries"));
  CHECK_THROWS_AS(rlvr::score_batch(length_reward{}, {}, ys, {}, short_out), rlvr::shape_error);
  // Empty batch is fine.
  rlvr::score_batch(length_reward{}, {}, std::span<const std::string_view>{}, {}, std::span<double>{});
}

TEST_CASE("score_batch gives the same values for 1, 2 and 7 threads", "[rewards][concepts]") {
  std::vector<std::string> store;
  for (int i = 0; i < 1000; ++i) store.push_back(std::string(static_cast<std::size_t>(i % 37), 'x'));
  std::vector<std::string_view> ys(store.begin(), store.end());
  std::vector<double> a(ys.size()), b(ys.size()), c(ys.size());
  rlvr::score_batch(length_reward{}, {}, ys, {}, a, 1);
  rlvr::score_batch(length_reward{}, {}, ys, {}, b, 2);
  rlvr::score_batch(length_reward{}, {}, ys, {}, c, 7);
  CHECK(a == b);
  CHECK(a == c);
  CHECK(a[36] == 36.0);
}

TEST_CASE("score_batch calls a BatchReward's member once, after the shape checks", "[rewards][concepts]") {
  std::atomic<int> calls{0};
  const counting_batch r{&calls};
  const std::string_view ys[] = {"ab", "abc"};
  std::vector<double> out(2);
  rlvr::score_batch(r, {}, ys, {}, out);
  CHECK(calls == 1);
  CHECK(out == std::vector<double>{4.0, 6.0});
  std::vector<double> bad(1);
  CHECK_THROWS_AS(rlvr::score_batch(r, {}, ys, {}, bad), rlvr::shape_error);
  CHECK(calls == 1);
}

TEST_CASE("an exception thrown by a reward reaches the caller of score_batch", "[rewards][concepts]") {
  auto throwing = [](std::string_view, std::string_view y, std::string_view) -> double {
    if (y == "bad") rlvr::fail<rlvr::parse_error>("reward: bad input");
    return 1.0;
  };
  std::vector<std::string_view> ys(100, "ok");
  ys[77] = "bad";
  std::vector<double> out(ys.size());
  CHECK_THROWS_AS(rlvr::score_batch(throwing, {}, ys, {}, out, 4), rlvr::parse_error);
}
