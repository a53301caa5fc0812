// examples/custom_reward: write your own verifiable reward, check it against rlvr::Reward at
// compile time, combine it with rlvr's verifiers, and score a batch of responses on all cores.
//
// The task: "answer with a comma-separated list of the prime factors of N, in increasing
// order". Our reward parses the final line of the response and checks it exactly; a bonus for
// brevity and a gate on the output format are composed from rlvr's building blocks.
#include <rlvr/rewards/compose.hpp>
#include <rlvr/rewards/concepts.hpp>
#include <rlvr/rewards/verifiers.hpp>

#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

// 1. A reward is any type callable as r(prompt, response, reference) -> double, const and
//    thread-safe. Bad model output scores 0; it must never throw or crash.
struct prime_factors_reward {
  double operator()(std::string_view /*prompt*/, std::string_view response,
                    std::string_view reference) const {
    // The answer is the last non-empty line of the response.
    response = rlvr::trim(response);
    const std::size_t nl = response.rfind('\n');
    std::string_view answer = rlvr::trim(nl == std::string_view::npos ? response : response.substr(nl + 1));
    // Compare the lists ignoring spaces: "2, 3, 5" == "2,3,5".
    auto strip = [](std::string_view s) {
      std::string out;
      for (char c : s)
        if (c != ' ') out.push_back(c);
      return out;
    };
    return !answer.empty() && strip(answer) == strip(reference) ? 1.0 : 0.0;
  }
};
static_assert(rlvr::Reward<prime_factors_reward>); // 2. check the concept where you define it

// 3. A format check written as a lambda: the last line holds only digits, commas and spaces.
inline constexpr auto digits_only = [](std::string_view, std::string_view response, std::string_view) {
  response = rlvr::trim(response);
  const std::size_t nl = response.rfind('\n');
  const std::string_view last = nl == std::string_view::npos ? response : response.substr(nl + 1);
  if (last.empty()) return 0.0;
  for (char c : last)
    if (!((c >= '0' && c <= '9') || c == ',' || c == ' ')) return 0.0;
  return 1.0;
};
static_assert(rlvr::Reward<decltype(digits_only)>);

int main() {
  // 4. Compose: correct answers get 1, well-formatted wrong ones 0.1, anything else -0.5.
  const auto reward = rlvr::gated(digits_only,
                                  rlvr::weighted(0.9, prime_factors_reward{}) +
                                      rlvr::weighted(0.1, digits_only),
                                  /*otherwise=*/-0.5);
  static_assert(rlvr::Reward<decltype(reward)>);

  // 5. A batch: two prompts with four sampled responses each (contiguous groups, as GRPO lays
  //    them out); one reference per prompt is broadcast over its group.
  const std::vector<std::string_view> prompts = {"Prime factors of 30?", "Prime factors of 12?"};
  const std::vector<std::string_view> references = {"2, 3, 5", "2, 3"};
  const std::vector<std::string_view> responses = {
      "30 = 2 * 15 = 2 * 3 * 5\n2, 3, 5",       // correct            → 1.0
      "30 = 2 * 15\n2,3,5",                       // correct, no spaces → 1.0
      "I think\n2, 5",                             // wrong, formatted   → 0.1
      "The factors are two, three and five.",      // unformatted        → -0.5
      "12 = 4 * 3\n2, 3",                          // correct            → 1.0
      "12 = 2 * 2 * 3\n2, 2, 3",                   // wrong (repeats)    → 0.1
      "",                                          // empty              → -0.5
      "\xFF\xFE",                                  // invalid bytes      → -0.5
  };
  std::vector<double> rewards(responses.size());
  rlvr::score_batch(reward, prompts, responses, references, rewards, /*threads=*/0);

  double mean = 0.0;
  for (std::size_t i = 0; i < rewards.size(); ++i) {
    std::printf("response %zu: reward %+.2f\n", i, rewards[i]);
    mean += rewards[i];
  }
  mean /= static_cast<double>(rewards.size());
  std::printf("mean reward %.4f over %zu responses\n", mean, rewards.size());

  // The values the comments above promise (this example is also a test).
  const double expected[] = {1.0, 1.0, 0.1, -0.5, 1.0, 0.1, -0.5, -0.5};
  for (std::size_t i = 0; i < rewards.size(); ++i)
    if (rewards[i] < expected[i] - 1e-12 || rewards[i] > expected[i] + 1e-12) return 1;
  return 0;
}
