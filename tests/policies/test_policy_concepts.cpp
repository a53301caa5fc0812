// Static (compile-time) tests of the Policy concept family; the runtime case only reports them.
#include "concept_mocks.hpp"

#include <catch2/catch.hpp>

#include <type_traits>

#include "rlvr/objectives/concepts.hpp"

namespace {
using namespace rlvr;
using rlvr::test::mock_policy;

// one mask element type: token_batch::mask and advantage_input::mask are views of rlvr::mask_t,
// and a float mask view (token_batch::mask before 0.2.0) no longer converts
static_assert(std::is_same_v<decltype(token_batch::mask), matrix_view<const mask_t>>);
static_assert(std::is_same_v<decltype(advantage_input<float>::mask), vector_view<const mask_t>>);
static_assert(!std::is_convertible_v<matrix_view<const float>, matrix_view<const mask_t>>);
static_assert(!std::is_constructible_v<matrix_view<const mask_t>, const float*, index_t, index_t>);

// every piece, then one piece removed at a time
static_assert(Policy<mock_policy>);
static_assert(Policy<mock_policy&>);
static_assert(PolicyShape<mock_policy> && LogitsForward<mock_policy> && LogitsBackward<mock_policy> &&
              ParameterSource<mock_policy> && IncrementalDecoder<mock_policy>);

static_assert(!Policy<rlvr::test::mock_no_decode>);
static_assert(!IncrementalDecoder<rlvr::test::mock_no_decode>);
static_assert(LogitsForward<rlvr::test::mock_no_decode>);

struct no_opt_in : mock_policy {
  [[maybe_unused]] static constexpr bool is_policy = false;
};
static_assert(!Policy<no_opt_in>);
static_assert(PolicyShape<no_opt_in> && IncrementalDecoder<no_opt_in>);

struct opt_in_by_trait : mock_policy {
  [[maybe_unused]] static constexpr bool is_policy = false;
};
} // namespace
template <> inline constexpr bool rlvr::enable_policy<opt_in_by_trait> = true;
namespace {
static_assert(Policy<opt_in_by_trait>);

struct no_backward {
  static constexpr bool is_policy = true;
  using cache_type = rlvr::test::mock_cache;
  index_t vocab_size() const { return 4; }
  index_t context_length() const { return 8; }
  void forward(const token_batch&, matrix_view<float>) {}
  std::span<const parameter_ref> parameters() { return {}; }
  rlvr::test::mock_cache make_cache(index_t) const { return {}; }
  void decode(rlvr::test::mock_cache&, vector_view<const token_t>, matrix_view<float>) const {}
};
static_assert(!LogitsBackward<no_backward> && !Policy<no_backward>);

struct double_params : mock_policy {
  std::span<const basic_parameter_ref<double>> parameters() { return {}; }
};
static_assert(!ParameterSource<double_params> && !Policy<double_params>);

struct mutating_decode : mock_policy { // decode must be callable on a const policy
  void decode(rlvr::test::mock_cache&, vector_view<const token_t>, matrix_view<float>) {}
};
static_assert(!IncrementalDecoder<mutating_decode>);

struct wrong_cache_factory : mock_policy {
  int make_cache(index_t) const { return 0; }
};
static_assert(!IncrementalDecoder<wrong_cache_factory>);

struct with_value_head : mock_policy {
  using mock_policy::backward;
  using mock_policy::forward;
  void forward(const token_batch&, matrix_view<float>, vector_view<float>) {}
  void backward(matrix_view<const float>, vector_view<const float>) {}
};
static_assert(ValueHeadPolicy<with_value_head>);
static_assert(!ValueHeadPolicy<mock_policy>);

struct reference {
  void reference_log_probs(const token_batch&, matrix_view<float>) {}
};
static_assert(ReferencePolicy<reference>);
static_assert(!ReferencePolicy<mock_policy>);
static_assert(!Policy<reference>);
} // namespace

TEST_CASE("token_batch: shape accessors and the optional mask", "[policies][concepts]") {
  const rlvr::token_t toks[6] = {1, 2, 3, 4, 5, 6};
  const rlvr::mask_t mask[6] = {0, 1, 1, 0, 0, 1};
  rlvr::token_batch b{{toks, 2, 3}, {}};
  CHECK(b.batch() == 2);
  CHECK(b.length() == 3);
  CHECK(b.rows() == 6);
  CHECK_FALSE(b.has_mask());
  CHECK(b.wanted(1, 2));
  b.mask = {mask, 2, 3};
  CHECK(b.has_mask());
  CHECK_FALSE(b.wanted(0, 0));
  CHECK(b.wanted(0, 1));
  CHECK(b.wanted(1, 2));
  CHECK_FALSE(b.wanted(1, 1));
}
