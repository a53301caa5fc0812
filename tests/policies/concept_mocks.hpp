#pragma once
// Minimal types for the static tests of the Policy concepts: one complete policy, then one per
// missing piece.
#include <rlvr/policy/concepts.hpp>

#include <vector>

namespace rlvr::test {

struct mock_cache {};

struct mock_policy {
  static constexpr bool is_policy = true;
  using cache_type = mock_cache;
  index_t vocab_size() const { return 4; }
  index_t context_length() const { return 8; }
  void forward(const token_batch&, matrix_view<float>) {}
  void backward(matrix_view<const float>) {}
  void zero_grad() {}
  std::span<const parameter_ref> parameters() { return {}; }
  mock_cache make_cache(index_t) const { return {}; }
  void decode(mock_cache&, vector_view<const token_t>, matrix_view<float>) const {}
};

struct mock_no_decode {
  static constexpr bool is_policy = true;
  index_t vocab_size() const { return 4; }
  index_t context_length() const { return 8; }
  void forward(const token_batch&, matrix_view<float>) {}
  void backward(matrix_view<const float>) {}
  void zero_grad() {}
  std::span<const parameter_ref> parameters() { return {}; }
};

} // namespace rlvr::test
