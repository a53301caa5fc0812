// Reference draws of the C++ sampler for tests/python/test_functions.py: fixed logits
// z(i, j) = 3·sin(0.7·i + 1.3·j) (N = 16, V = 50), double and float, serial backend, one line
// per (config, row): "<config> <row> <token> <logprob> <policy_logprob>" with 17 digits.
#include <rlvr/backends/serial.hpp>
#include <rlvr/sampling/sampler.hpp>

#include <cmath>
#include <cstdio>
#include <vector>

template <class T> void emit(const char* name, const rlvr::sampling_config& cfg, const rlvr::stream_batch& st) {
  constexpr rlvr::index_t n = 16, v = 50;
  std::vector<T> z(static_cast<std::size_t>(n * v));
  for (rlvr::index_t i = 0; i < n; ++i)
    for (rlvr::index_t j = 0; j < v; ++j)
      z[static_cast<std::size_t>(i * v + j)] = static_cast<T>(3.0 * std::sin(0.7 * static_cast<double>(i) + 1.3 * static_cast<double>(j)));
  const auto d = rlvr::sample(rlvr::serial_backend{}, rlvr::matrix_view<const T>(z.data(), n, v), cfg, st);
  for (std::size_t i = 0; i < d.size(); ++i)
    std::printf("%s %zu %td %.17g %.17g\n", name, i, d[i].token, static_cast<double>(d[i].logprob),
                static_cast<double>(d[i].policy_logprob));
}

int main() {
  emit<double>("f64_plain", {}, {.seed = 7});
  emit<double>("f64_topp", {.temperature = 0.6, .top_p = 0.9}, {.seed = 11, .first_subsequence = 100, .offset = 3});
  emit<double>("f64_topk_minp", {.temperature = 1.3, .top_k = 5, .min_p = 0.05}, {.seed = 5, .offset = 9});
  emit<float>("f32_topp", {.temperature = 0.8, .top_p = 0.95}, {.seed = 42, .first_subsequence = 7, .offset = 1});
  emit<float>("f32_greedy", {.greedy = true}, {.seed = 1});
  return 0;
}
