// check_policy on the shipped policies (they pass) and on deliberately broken ones (flagged).
#include <rlvr/policy/conformance.hpp>
#include <rlvr/policy/tabular.hpp>
#include <rlvr/policy/transformer.hpp>

#include <catch2/catch.hpp>

#include <vector>

namespace {
using rlvr::index_t;
using rlvr::token_t;

// A tabular policy whose backward forgets half of the gradient.
struct half_backward : rlvr::tabular_policy {
  using tabular_policy::tabular_policy;
  void backward(rlvr::matrix_view<const float> d) {
    std::vector<float> h(static_cast<std::size_t>(d.rows() * d.cols()));
    for (index_t i = 0; i < d.rows(); ++i)
      for (index_t v = 0; v < d.cols(); ++v) h[static_cast<std::size_t>(i * d.cols() + v)] = 0.5f * d(i, v);
    tabular_policy::backward({h.data(), d.rows(), d.cols()});
  }
};
static_assert(rlvr::Policy<half_backward>);

// A tabular policy whose backward overwrites instead of accumulating.
struct assigning_backward : rlvr::tabular_policy {
  using tabular_policy::tabular_policy;
  void backward(rlvr::matrix_view<const float> d) {
    zero_grad();
    tabular_policy::backward(d);
  }
};

// A tabular policy whose decode is off by one position (returns the previous logits + 1).
struct shifted_decode : rlvr::tabular_policy {
  using tabular_policy::tabular_policy;
  void decode(rlvr::tabular_cache& c, rlvr::vector_view<const token_t> t, rlvr::matrix_view<float> out) const {
    tabular_policy::decode(c, t, out);
    if (c.length[0] > 1) out(0, 0) += 1.0f;
  }
};

const std::vector<token_t> tab_tokens{0, 1, 2, 1, 1, 0, 2, 2};
} // namespace

TEST_CASE("check_policy: the tabular policy conforms", "[policies][conformance]") {
  rlvr::tabular_policy pol(2, 4, 4);
  pol.set_logits(0, std::vector<float>{0.3f, -0.2f, 1.0f, 0.0f});
  const auto r = rlvr::check_policy(pol, {{tab_tokens.data(), 2, 4}, {}});
  INFO("decode " << r.decode_error << " grad " << r.gradient_error << " acc " << r.accumulate_error);
  CHECK(r.ok());
  CHECK(r.elements_checked == 8);
  CHECK(r.decode_error == 0.0);
}

TEST_CASE("check_policy: the transformer conforms", "[policies][conformance]") {
  rlvr::transformer_policy m({.vocab_size = 9, .context_length = 8, .d_model = 16, .n_layers = 2, .n_heads = 2,
                              .seed = 4, .init_std = 0.3, .threads = 1});
  std::vector<token_t> toks(3 * 7);
  for (std::size_t i = 0; i < toks.size(); ++i) toks[i] = static_cast<token_t>((i * 5 + 1) % 9);
  const auto before = std::vector<float>(m.parameters()[2].value.begin(), m.parameters()[2].value.end());
  const auto r = rlvr::check_policy(m, {{toks.data(), 3, 7}, {}});
  INFO("decode " << r.decode_error << " grad " << r.gradient_error << " at " << r.worst_parameter << "["
                 << r.worst_index << "] acc " << r.accumulate_error);
  CHECK(r.ok());
  CHECK(r.gradient_error < 2e-2); // float central differences, h = 1e-2: truncation and rounding ~1e-2
  CHECK(std::equal(before.begin(), before.end(), m.parameters()[2].value.begin())); // restored exactly
}

TEST_CASE("check_policy: broken policies are flagged", "[policies][conformance]") {
  const rlvr::token_batch batch{{tab_tokens.data(), 2, 4}, {}};
  {
    half_backward pol(2, 4, 4);
    const auto r = rlvr::check_policy(pol, batch);
    CHECK_FALSE(r.ok());
    CHECK(r.gradient_error > 0.2);
    CHECK(r.worst_parameter == "table");
  }
  {
    assigning_backward pol(2, 4, 4);
    const auto r = rlvr::check_policy(pol, batch);
    CHECK_FALSE(r.ok());
    CHECK(r.accumulate_error > 0.3);
  }
  {
    shifted_decode pol(2, 4, 4);
    const auto r = rlvr::check_policy(pol, batch);
    CHECK_FALSE(r.ok());
    CHECK(r.decode_error > 0.4);
  }
}
