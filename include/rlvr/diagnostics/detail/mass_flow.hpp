#pragma once
//! \file rlvr/diagnostics/detail/mass_flow.hpp
//! \brief Implementation of `<rlvr/diagnostics/mass_flow.hpp>`: ranks, the per-row statistics,
//! the softmax differences and the argument checks. Not a public interface.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <numeric>
#include <vector>

#include "rlvr/config.hpp"
#include "rlvr/error.hpp"
#include "rlvr/view.hpp"

namespace rlvr {

namespace detail {

// Average ranks (1-based) of x; ties share the mean of their positions.
inline void average_ranks(const std::vector<double>& x, std::vector<double>& rank, std::vector<std::size_t>& order) {
  const std::size_t n = x.size();
  order.resize(n);
  rank.resize(n);
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return x[a] < x[b]; });
  for (std::size_t i = 0; i < n;) {
    std::size_t j = i + 1;
    while (j < n && x[order[j]] == x[order[i]]) ++j;
    const double r = 0.5 * static_cast<double>(i + j + 1); // mean of positions i+1 … j
    for (std::size_t k = i; k < j; ++k) rank[order[k]] = r;
    i = j;
  }
}

// Pearson correlation of two rank vectors; NaN if either is constant or n < 2.
inline double rank_correlation(const std::vector<double>& a, const std::vector<double>& b) {
  const std::size_t n = a.size();
  if (n < 2) return std::numeric_limits<double>::quiet_NaN();
  const double mean = 0.5 * static_cast<double>(n + 1); // ranks always average to (n+1)/2
  double sab = 0, saa = 0, sbb = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const double da = a[i] - mean, db = b[i] - mean;
    sab += da * db;
    saa += da * da;
    sbb += db * db;
  }
  if (!(saa > 0) || !(sbb > 0)) return std::numeric_limits<double>::quiet_NaN();
  return sab / std::sqrt(saa * sbb);
}

// One row's statistics (the fields of rlvr::mass_flow_row).
struct row_flow {
  double net_to_alternatives = 0, gained_by_alternatives = 0, lost_by_alternatives = 0;
  double spearman = std::numeric_limits<double>::quiet_NaN();
  double proportionality_tv = std::numeric_limits<double>::quiet_NaN();
};

struct mass_flow_scratch {
  std::vector<double> s, pi, rs, rpi;
  std::vector<std::size_t> order;
};

// The row statistics from p (before) and Δ = q − p, both length V, sampled token y.
inline row_flow mass_flow_of_row(const double* p, const double* delta, index_t V, index_t y,
                                      mass_flow_scratch& w) {
  row_flow r;
  double F = 0;
  for (index_t j = 0; j < V; ++j) {
    if (j == y) continue;
    F += delta[j];
    if (delta[j] > 0) r.gained_by_alternatives += delta[j];
    else r.lost_by_alternatives -= delta[j];
  }
  r.net_to_alternatives = F;
  if (F == 0) return r;
  double rest = 0; // 1 − p_y summed over the alternatives (exact for normalised rows)
  for (index_t j = 0; j < V; ++j)
    if (j != y) rest += p[j];
  w.s.clear();
  w.pi.clear();
  double tv = 0;
  for (index_t j = 0; j < V; ++j) {
    if (j == y) continue;
    const double s = delta[j] / F, pi = rest > 0 ? p[j] / rest : 0.0;
    tv += std::abs(s - pi);
    w.s.push_back(s);
    w.pi.push_back(pi);
  }
  r.proportionality_tv = 0.5 * tv;
  average_ranks(w.s, w.rs, w.order);
  average_ranks(w.pi, w.rpi, w.order);
  r.spearman = rank_correlation(w.rs, w.rpi);
  return r;
}

template <class A, class B, class Tok, class C>
void check_mass_flow_args(const char* who, matrix_view<A> before, matrix_view<B> after, vector_view<Tok> tokens,
                          vector_view<C> correct) {
  RLVR_EXPECTS(before.rows() == after.rows() && before.cols() == after.cols(), shape, who, ": before is ",
               before.rows(), "x", before.cols(), " but after is ", after.rows(), "x", after.cols());
  RLVR_EXPECTS(before.cols() >= 2, shape, who, ": before/after have ", before.cols(),
               " columns; at least 2 tokens are needed");
  expect_size(tokens, before.rows(), "mass_flow: tokens");
  expect_size(correct, before.rows(), "mass_flow: correct");
  for (index_t i = 0; i < tokens.size(); ++i)
    RLVR_EXPECTS(static_cast<long long>(tokens[i]) >= 0 && static_cast<long long>(tokens[i]) < before.cols(), range,
                 who, ": tokens[", i, "] = ", static_cast<long long>(tokens[i]), " is outside [0, ", before.cols(), ")");
}

// Row i: p = softmax(before_i) and Δ = softmax(after_i) − p (see the public header for the
// cancellation-free form); rejects non-finite logits, naming `who` and the entry.
template <class L, class M>
void softmax_and_delta(const char* who, matrix_view<L> before, matrix_view<M> after, index_t i,
                       std::vector<double>& p, std::vector<double>& dz, std::vector<double>& d) {
  const index_t V = before.cols();
    double m = -std::numeric_limits<double>::infinity();
    for (index_t j = 0; j < V; ++j) {
      const double a = static_cast<double>(before(i, j)), b = static_cast<double>(after(i, j));
      RLVR_EXPECTS(std::isfinite(a), numerical, who, ": before(", i, ", ", j, ") = ", a, " is not finite");
      RLVR_EXPECTS(std::isfinite(b), numerical, who, ": after(", i, ", ", j, ") = ", b, " is not finite");
      m = std::max(m, a);
      dz[static_cast<std::size_t>(j)] = b - a;
    }
    double s = 0;
    for (index_t j = 0; j < V; ++j) s += (p[static_cast<std::size_t>(j)] = std::exp(static_cast<double>(before(i, j)) - m));
    for (double& x : p) x /= s;
    // c = log Σ_u p_u e^{d_u}: the change of log-sum-exp, through log1p/expm1 for small updates
    double t = 0;
    for (std::size_t j = 0; j < p.size(); ++j) t += p[j] * std::expm1(dz[j]);
    if (t > -0.5 && std::isfinite(t)) {
      const double c = std::log1p(t);
      for (std::size_t j = 0; j < p.size(); ++j) d[j] = p[j] * std::expm1(dz[j] - c);
    } else { // a large update: q − p from the two softmaxes is accurate enough
      double m2 = -std::numeric_limits<double>::infinity();
      for (index_t j = 0; j < V; ++j) m2 = std::max(m2, static_cast<double>(after(i, j)));
      double s2 = 0;
      for (index_t j = 0; j < V; ++j) s2 += (d[static_cast<std::size_t>(j)] = std::exp(static_cast<double>(after(i, j)) - m2));
      for (std::size_t j = 0; j < p.size(); ++j) d[j] = d[j] / s2 - p[j];
    }
}

// Accumulates the rows into the two sides of a Report (rlvr::mass_flow_report), in row order.
template <class Report> class mass_flow_accumulator {
  using side = decltype(Report::nsr);

public:
  void add(const row_flow& r, bool correct) {
    side& s = correct ? out_.psr : out_.nsr;
    acc& a = correct ? psr_ : nsr_;
    ++s.rows;
    s.mass_moved += correct ? -r.net_to_alternatives : r.net_to_alternatives;
    s.counter_flow += correct ? r.gained_by_alternatives : r.lost_by_alternatives;
    const double w = std::abs(r.net_to_alternatives);
    if (r.net_to_alternatives != 0) {
      ++s.flow_rows;
      a.w_tv += w;
      a.tv += w * r.proportionality_tv;
      s.max_proportionality_tv = std::isnan(s.max_proportionality_tv)
                                     ? r.proportionality_tv
                                     : std::max(s.max_proportionality_tv, r.proportionality_tv);
    }
    if (!std::isnan(r.spearman)) {
      ++s.ranked_rows;
      a.w_rho += w;
      a.rho += w * r.spearman;
      s.min_spearman = std::isnan(s.min_spearman) ? r.spearman : std::min(s.min_spearman, r.spearman);
    }
  }
  [[nodiscard]] Report finish() const {
    Report out = out_;
    finish_side(out.nsr, nsr_);
    finish_side(out.psr, psr_);
    return out;
  }

private:
  struct acc {
    double w_tv = 0, tv = 0, w_rho = 0, rho = 0;
  };
  static void finish_side(side& s, const acc& a) {
    if (s.rows > 0) s.mean_mass_moved = s.mass_moved / static_cast<double>(s.rows);
    if (a.w_tv > 0) s.proportionality_tv = a.tv / a.w_tv;
    if (a.w_rho > 0) s.spearman = a.rho / a.w_rho;
  }
  Report out_;
  acc nsr_, psr_;
};

// Row i of probabilities: p = p_before_i and Δ = p_after_i − p, every entry finite and in [0, 1],
// each row summing to 1 within `tolerance`; errors name `who` and the entry or row.
template <class P, class Q>
void probs_and_delta(const char* who, matrix_view<P> p_before, matrix_view<Q> p_after, index_t i, double tolerance,
                     std::vector<double>& p, std::vector<double>& d) {
  const index_t V = p_before.cols();
    double sp = 0, sq = 0;
    for (index_t j = 0; j < V; ++j) {
      const double a = static_cast<double>(p_before(i, j)), b = static_cast<double>(p_after(i, j));
      RLVR_EXPECTS(std::isfinite(a), numerical, who, ": p_before(", i, ", ", j, ") = ", a, " is not finite");
      RLVR_EXPECTS(std::isfinite(b), numerical, who, ": p_after(", i, ", ", j, ") = ", b, " is not finite");
      RLVR_EXPECTS(a >= 0 && a <= 1, range, who, ": p_before(", i, ", ", j, ") = ", a, " is outside [0, 1]");
      RLVR_EXPECTS(b >= 0 && b <= 1, range, who, ": p_after(", i, ", ", j, ") = ", b, " is outside [0, 1]");
      sp += a;
      sq += b;
      p[static_cast<std::size_t>(j)] = a;
      d[static_cast<std::size_t>(j)] = b - a;
    }
    RLVR_EXPECTS(std::abs(sp - 1) <= tolerance, range, who, ": row ", i, " of p_before sums to ", sp,
                 ", not 1 within tolerance ", tolerance);
    RLVR_EXPECTS(std::abs(sq - 1) <= tolerance, range, who, ": row ", i, " of p_after sums to ", sq,
                 ", not 1 within tolerance ", tolerance);
}

} // namespace detail

} // namespace rlvr
