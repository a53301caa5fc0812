// rlvr::mass_flow_*: where one update moves probability mass (Zhu et al. 2025, §4; docs/math.md §6).
// Closed forms: an update that lowers only z_y is exactly prior-proportional; a softmax gradient
// step (NSR or PSR) moves F = η·p_y·((1 − p_y)² + Σ_{k≠y} p_k²) and shares the mass as
// p_j·(p_j + p_y − S), so its proportionality error tends to TV₀(p) ≠ 0 with an O(η) remainder.
#include <rlvr/diagnostics/mass_flow.hpp>
#include <rlvr/optim/sgd.hpp>
#include <rlvr/policy/tabular.hpp>

#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

namespace {
using rlvr::index_t;
using rlvr::token_t;
using vec = std::vector<double>;

vec softmax(const vec& z) {
  double m = z[0];
  for (double x : z) m = std::max(m, x);
  vec p(z.size());
  double s = 0;
  for (std::size_t j = 0; j < z.size(); ++j) s += (p[j] = std::exp(z[j] - m));
  for (double& x : p) x /= s;
  return p;
}

// One descent step of size eta on ℓ = −A·log p_y, on the logits: z − η·A·(p − e_y).
vec logit_step(const vec& z, index_t y, double A, double eta) {
  const vec p = softmax(z);
  vec out = z;
  for (std::size_t j = 0; j < z.size(); ++j) out[j] -= eta * A * (p[j] - (static_cast<index_t>(j) == y ? 1.0 : 0.0));
  return out;
}

// First-order predictions for that step (docs/math.md §6): F/η and the limit TV₀ of the
// proportionality error, from p and y.
struct first_order {
  double flow_per_eta, tv0;
  vec shares;
};
first_order predict(const vec& p, index_t yi) {
  const auto y = static_cast<std::size_t>(yi);
  double S = 0, alt2 = 0, norm = 0;
  for (double x : p) S += x * x;
  for (std::size_t j = 0; j < p.size(); ++j)
    if (j != y) alt2 += p[j] * p[j];
  vec s;
  for (std::size_t j = 0; j < p.size(); ++j)
    if (j != y) norm += p[j] * (p[j] + p[y] - S);
  double tv = 0;
  for (std::size_t j = 0; j < p.size(); ++j)
    if (j != y) {
      s.push_back(p[j] * (p[j] + p[y] - S) / norm);
      tv += std::abs(s.back() - p[j] / (1 - p[y]));
    }
  return {p[y] * ((1 - p[y]) * (1 - p[y]) + alt2), 0.5 * tv, s};
}

rlvr::mass_flow_report flow_of_logits(const vec& before, const vec& after, index_t y, bool correct) {
  const auto V = static_cast<index_t>(before.size());
  const std::vector<index_t> tok{y};
  const std::vector<std::uint8_t> ok{static_cast<std::uint8_t>(correct)};
  return rlvr::mass_flow_from_logits(rlvr::matrix_view<const double>(before.data(), 1, V),
                                     rlvr::matrix_view<const double>(after.data(), 1, V), rlvr::vector_view(tok),
                                     rlvr::vector_view(ok));
}

const vec z_flat = {2.0, 1.0, 0.5, 0.0, -1.0};  // y = 0: p_y ≥ S, the shares keep the prior's order
const vec z_peaked = {0.0, 3.0, -1.0, -1.5, -2.0}; // y = 0 with a dominant alternative (S > p_y + p_j)
} // namespace

TEST_CASE("mass flow: lowering only the sampled logit is exactly prior-proportional", "[diagnostics][mass_flow]") {
  const vec p = softmax(z_flat);
  for (double delta : {1e-6, 0.1, 2.0}) {
    vec after = z_flat;
    after[0] -= delta;
    const auto r = flow_of_logits(z_flat, after, 0, false);
    const double qy = p[0] * std::exp(-delta) / (1 - p[0] + p[0] * std::exp(-delta));
    CHECK(r.nsr.rows == 1);
    CHECK(r.psr.rows == 0);
    CHECK(std::isnan(r.psr.mean_mass_moved)); // the empty side stays undefined
    CHECK(std::isnan(r.psr.proportionality_tv));
    CHECK(r.nsr.mass_moved == Approx(p[0] - qy).epsilon(1e-9));
    CHECK(r.nsr.proportionality_tv < 1e-9);
    CHECK(r.nsr.spearman == 1.0);
    CHECK(r.nsr.counter_flow == 0.0);
  }
}

TEST_CASE("mass flow: an NSR logit step moves eta*p_y*((1-p_y)^2 + sum p_k^2) and shares it as p_j (p_j + p_y - S)",
          "[diagnostics][mass_flow][nsr]") {
  const vec p = softmax(z_flat);
  const first_order f = predict(p, 0);
  // the limit is not prior-proportional: the likelier alternatives get more than their share
  CHECK(f.tv0 == Approx(0.08291270150803265).epsilon(1e-12)); // p = [.563, .207, .126, .076, .028]
  double prev_err = 0;
  for (double eta : {4e-3, 2e-3, 1e-3, 5e-4}) {
    const auto r = flow_of_logits(z_flat, logit_step(z_flat, 0, -1.0, eta), 0, false);
    CHECK(r.nsr.spearman == 1.0);
    CHECK(r.nsr.counter_flow == 0.0);
    CHECK(r.nsr.mass_moved / eta == Approx(f.flow_per_eta).epsilon(2 * eta));
    const double err = std::abs(r.nsr.proportionality_tv - f.tv0);
    CHECK(err < 0.5 * eta);
    CHECK(err > 1e-3 * eta); // a genuine O(η) remainder, not an exact match
    if (prev_err > 0) CHECK(prev_err / err == Approx(2.0).epsilon(0.05)); // halves with η: O(η)
    prev_err = err;
  }
}

TEST_CASE("mass flow: with a dominant alternative an NSR step takes mass from the rare alternatives",
          "[diagnostics][mass_flow][nsr]") {
  const vec p = softmax(z_peaked);
  const first_order f = predict(p, 0);
  const double eta = 1e-3;
  const auto r = flow_of_logits(z_peaked, logit_step(z_peaked, 0, -1.0, eta), 0, false);
  // s_j ∝ p_j (p_j + p_y − S) < 0 for the three rare tokens, and is larger the rarer the token:
  // ranks (s) = [4, 1, 2, 3] against (π) = [4, 3, 2, 1], so ρ = 1 − 6·8/(4·15) = 0.2
  CHECK(r.nsr.spearman == Approx(0.2).epsilon(1e-12));
  double lost = 0;
  for (index_t j = 1; j < 5; ++j)
    if (f.shares[static_cast<std::size_t>(j - 1)] < 0) lost -= f.shares[static_cast<std::size_t>(j - 1)];
  CHECK(lost == Approx(0.3269994512448087).epsilon(1e-12));
  CHECK(r.nsr.counter_flow / eta == Approx(lost * f.flow_per_eta).epsilon(0.01));
  CHECK(r.nsr.proportionality_tv == Approx(f.tv0).epsilon(0.01));
  CHECK(f.tv0 == Approx(0.3618999418043029).epsilon(1e-12)); // 33% of the flow runs against it
}

TEST_CASE("mass flow: a PSR step gains the same mass and takes it in the same shares", "[diagnostics][mass_flow][psr]") {
  const vec p = softmax(z_flat);
  const first_order f = predict(p, 0);
  double prev_err = 0;
  for (double eta : {2e-3, 1e-3}) {
    const auto r = flow_of_logits(z_flat, logit_step(z_flat, 0, +1.0, eta), 0, true);
    CHECK(r.nsr.rows == 0);
    CHECK(r.psr.rows == 1);
    CHECK(r.psr.mass_moved > 0); // y gains
    CHECK(r.psr.mass_moved / eta == Approx(f.flow_per_eta).epsilon(2 * eta));
    CHECK(r.psr.spearman == 1.0);
    CHECK(r.psr.counter_flow == 0.0);
    const double err = std::abs(r.psr.proportionality_tv - f.tv0);
    CHECK(err < 0.5 * eta);
    if (prev_err > 0) CHECK(prev_err / err == Approx(2.0).epsilon(0.05));
    prev_err = err;
  }
}

TEST_CASE("mass flow: a non-proportional update is flagged; rows aggregate by moved mass",
          "[diagnostics][mass_flow]") {
  // rows: (0) NSR, y = 0 hands its 0.1 to the least likely token; (1) NSR, y = 0 hands 0.3 to the
  // others in proportion; (2) PSR, y = 1 takes 0.1 from the others in proportion; (3) NSR, no change.
  const double k = 0.6 / 0.7;
  const vec before = {0.4, 0.3, 0.2, 0.1, 0.4, 0.3, 0.2, 0.1, 0.4, 0.3, 0.2, 0.1, 0.4, 0.3, 0.2, 0.1};
  const vec after = {0.3, 0.3, 0.2, 0.2, 0.1, 0.45, 0.3, 0.15, 0.4 * k, 0.4, 0.2 * k, 0.1 * k, 0.4, 0.3, 0.2, 0.1};
  const std::vector<int> tok{0, 0, 1, 0};
  const std::vector<std::uint8_t> ok{0, 0, 1, 0};
  rlvr::matrix_view<const double> b(before.data(), 4, 4), a(after.data(), 4, 4);
  const auto one = rlvr::mass_flow_of_row(std::span(before).first(4), std::span(after).first(4), 0);
  CHECK(one.net_to_alternatives == Approx(0.1).epsilon(1e-12));
  CHECK(one.proportionality_tv == Approx(5.0 / 6.0).epsilon(1e-12)); // ½(0.5 + 1/3 + 5/6)
  CHECK(one.spearman == Approx(-std::sqrt(3.0) / 2).epsilon(1e-12));  // ranks (1.5, 1.5, 3) vs (3, 2, 1)
  const auto r = rlvr::mass_flow_from_probs(b, a, rlvr::vector_view(tok), rlvr::vector_view(ok));
  CHECK(r.nsr.rows == 3);
  CHECK(r.nsr.flow_rows == 2);
  CHECK(r.nsr.ranked_rows == 2);
  CHECK(r.nsr.mass_moved == Approx(0.4).epsilon(1e-12));
  CHECK(r.nsr.mean_mass_moved == Approx(0.4 / 3).epsilon(1e-12));
  CHECK(r.nsr.proportionality_tv == Approx(0.1 * (5.0 / 6.0) / 0.4).epsilon(1e-12));
  CHECK(r.nsr.max_proportionality_tv == Approx(5.0 / 6.0).epsilon(1e-12));
  CHECK(r.nsr.spearman == Approx((0.1 * -std::sqrt(3.0) / 2 + 0.3) / 0.4).epsilon(1e-12));
  CHECK(r.nsr.min_spearman == Approx(-std::sqrt(3.0) / 2).epsilon(1e-12));
  CHECK(r.psr.rows == 1);
  CHECK(r.psr.mass_moved == Approx(0.1).epsilon(1e-12));
  CHECK(r.psr.proportionality_tv < 1e-12);
  CHECK(r.psr.spearman == 1.0);
  // deterministic: the same call gives the same bits
  const auto r2 = rlvr::mass_flow_from_probs(b, a, rlvr::vector_view(tok), rlvr::vector_view(ok));
  CHECK(r2.nsr.proportionality_tv == r.nsr.proportionality_tv);
  CHECK(r2.nsr.spearman == r.nsr.spearman);
}

TEST_CASE("mass flow: one real NSR and PSR step of the tabular policy", "[diagnostics][mass_flow][tabular]") {
  // The trainer's path for one one-token response: forward, ∂ℓ/∂z = A (p − e_y), backward, SGD.
  const double eta = 0.01;
  for (double A : {-1.0, +1.0}) {
    rlvr::tabular_policy pol(1, 5);
    pol.set_logits(0, std::vector<float>(z_flat.begin(), z_flat.end()));
    const std::vector<float> before(pol.logits(0).begin(), pol.logits(0).end());
    const token_t toks[2] = {0, 0};
    const rlvr::mask_t mask[2] = {1, 0};
    rlvr::token_batch batch{{toks, 1, 2}, {mask, 1, 2}};
    std::vector<float> logits(10), d(10, 0.0f);
    pol.forward(batch, {logits.data(), 2, 5});
    const vec p = pol.probabilities(0);
    for (std::size_t v = 0; v < 5; ++v) d[v] = static_cast<float>(A * (p[v] - (v == 0 ? 1.0 : 0.0)));
    pol.zero_grad();
    pol.backward({d.data(), 2, 5});
    rlvr::sgd opt({.lr = eta});
    opt.step(pol.parameters());
    const std::vector<float> after(pol.logits(0).begin(), pol.logits(0).end());
    const std::vector<index_t> tok{0};
    const std::vector<std::uint8_t> ok{static_cast<std::uint8_t>(A > 0)};
    const auto r = rlvr::mass_flow_from_logits(rlvr::matrix_view<const float>(before.data(), 1, 5),
                                               rlvr::matrix_view<const float>(after.data(), 1, 5),
                                               rlvr::vector_view(tok), rlvr::vector_view(ok));
    const first_order f = predict(p, 0);
    const auto& side = A < 0 ? r.nsr : r.psr;
    CHECK(side.rows == 1);
    CHECK(side.mass_moved / eta == Approx(f.flow_per_eta).epsilon(3e-3)); // float logits, O(η)
    CHECK(side.spearman == 1.0);
    CHECK(side.proportionality_tv == Approx(f.tv0).margin(1e-3));
  }
}

TEST_CASE("mass flow: bad input is rejected with errors naming the argument", "[diagnostics][mass_flow][errors]") {
  const vec p = {0.5, 0.5, 0.25, 0.75};
  const std::vector<int> t2{0, 1}, t1{0}, tbad{0, 2};
  const std::vector<std::uint8_t> c2{0, 1}, c1{0};
  rlvr::matrix_view<const double> m(p.data(), 2, 2), m1(p.data(), 1, 2), col(p.data(), 2, 1);
  using rlvr::vector_view;
  CHECK_THROWS_AS(rlvr::mass_flow_from_probs(m, m1, vector_view(t2), vector_view(c2)), rlvr::shape_error);
  CHECK_THROWS_WITH(rlvr::mass_flow_from_probs(m, m1, vector_view(t2), vector_view(c2)), Catch::Contains("after is 1x2"));
  CHECK_THROWS_AS(rlvr::mass_flow_from_probs(col, col, vector_view(t2), vector_view(c2)), rlvr::shape_error);
  CHECK_THROWS_WITH(rlvr::mass_flow_from_probs(m, m, vector_view(t1), vector_view(c2)), Catch::Contains("tokens"));
  CHECK_THROWS_WITH(rlvr::mass_flow_from_probs(m, m, vector_view(t2), vector_view(c1)), Catch::Contains("correct"));
  CHECK_THROWS_AS(rlvr::mass_flow_from_probs(m, m, vector_view(tbad), vector_view(c2)), rlvr::range_error);
  CHECK_THROWS_WITH(rlvr::mass_flow_from_probs(m, m, vector_view(tbad), vector_view(c2)), Catch::Contains("tokens[1] = 2"));
  CHECK_THROWS_WITH(rlvr::mass_flow_from_probs(m, m, vector_view(t2), vector_view(c2), 0.0),
                    Catch::Contains("tolerance = 0"));
  const vec off = {0.5, 0.5, 0.25, 0.7};
  rlvr::matrix_view<const double> moff(off.data(), 2, 2);
  CHECK_THROWS_AS(rlvr::mass_flow_from_probs(m, moff, vector_view(t2), vector_view(c2)), rlvr::range_error);
  CHECK_THROWS_WITH(rlvr::mass_flow_from_probs(m, moff, vector_view(t2), vector_view(c2)),
                    Catch::Contains("row 1 of p_after sums to"));
  CHECK_NOTHROW(rlvr::mass_flow_from_probs(m, moff, vector_view(t2), vector_view(c2), 0.1));
  const vec neg = {1.5, -0.5, 0.25, 0.75};
  rlvr::matrix_view<const double> mneg(neg.data(), 2, 2);
  CHECK_THROWS_WITH(rlvr::mass_flow_from_probs(mneg, m, vector_view(t2), vector_view(c2)),
                    Catch::Contains("p_before(0, 0) = 1.5"));
  const vec nan = {0.5, std::nan(""), 0.25, 0.75};
  rlvr::matrix_view<const double> mnan(nan.data(), 2, 2);
  CHECK_THROWS_AS(rlvr::mass_flow_from_probs(m, mnan, vector_view(t2), vector_view(c2)), rlvr::numerical_error);
  CHECK_THROWS_AS(rlvr::mass_flow_from_logits(m, mnan, vector_view(t2), vector_view(c2)), rlvr::numerical_error);
  CHECK_THROWS_WITH(rlvr::mass_flow_from_logits(m, mnan, vector_view(t2), vector_view(c2)),
                    Catch::Contains("after(0, 1) = nan"));
  const vec inf = {0.0, -std::numeric_limits<double>::infinity(), 0.0, 1.0};
  rlvr::matrix_view<const double> minf(inf.data(), 2, 2);
  CHECK_THROWS_WITH(rlvr::mass_flow_from_logits(minf, m, vector_view(t2), vector_view(c2)),
                    Catch::Contains("before(0, 1) = -inf"));
  CHECK_THROWS_AS(rlvr::mass_flow_of_row(std::span(p).first(2), std::span(p).first(3), 0), rlvr::shape_error);
  CHECK_THROWS_AS(rlvr::mass_flow_of_row(std::span(p).first(2), std::span(p).last(2), 2), rlvr::range_error);
}
