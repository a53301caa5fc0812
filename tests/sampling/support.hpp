#pragma once
// Shared helpers of the sampling tests: a local host backend, a sort-based double reference of
// the processed distribution, and a chi-square goodness-of-fit check.
#include <rlvr/backends/concepts.hpp>
#include <rlvr/sampling/sampler.hpp>

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <vector>

namespace rlvr::test {

//! A minimal host backend (the library's serial/eigen backends model the same concepts): it
//! samples with rlvr's host row sampler, rows over `threads`.
struct local_backend {
  static constexpr bool host_backend = true;
  int threads = 1;
  template <class T>
  void sample_rows(matrix_view<const T> z, const sampling_params& p, const stream_batch& s,
                   vector_view<token_draw<T>> out, vector_view<std::uint8_t> status) const {
    detail::sample_rows_host(z, p, s, out, status, threads);
  }
};
static_assert(HostBackend<local_backend>);
static_assert(SamplingBackend<local_backend, float>);

//! The processed distribution of `z` under `c`, in double, with a full sort: the oracle.
inline std::vector<double> reference_probs(const std::vector<double>& z, const sampling_config& c) {
  const auto V = z.size();
  const double m = *std::max_element(z.begin(), z.end());
  const double tau = c.greedy ? 1.0 : c.temperature;
  std::vector<double> w(V);
  for (std::size_t v = 0; v < V; ++v) w[v] = std::exp((z[v] - m) / tau);
  std::vector<double> s = w;
  std::sort(s.begin(), s.end(), std::greater<double>());
  double tk = 0.0;
  std::size_t len = V;
  if (c.top_k && static_cast<std::size_t>(*c.top_k) < V) {
    tk = s[static_cast<std::size_t>(*c.top_k) - 1];
    len = static_cast<std::size_t>(*c.top_k);
    while (len < V && s[len] == tk) ++len;
  }
  double mk = 0.0;
  for (std::size_t i = 0; i < len; ++i) mk += s[i];
  double tp = 0.0;
  if (c.top_p < 1.0) {
    double acc = 0.0;
    std::size_t i = 0;
    while (i < len) {
      const double x = s[i];
      while (i < len && s[i] == x) acc += s[i++];
      if (acc >= c.top_p * mk) {
        tp = x;
        break;
      }
    }
  }
  const double t = std::max({tk, tp, c.min_p});
  double sk = 0.0;
  for (double x : w) sk += (x >= t && x > 0) ? x : 0.0;
  std::vector<double> p(V);
  for (std::size_t v = 0; v < V; ++v) p[v] = (w[v] >= t && w[v] > 0) ? w[v] / sk : 0.0;
  return p;
}

//! Upper critical value of χ²(df) at z standard deviations (Wilson–Hilferty); z = 5 ↔ α ≈ 3e-7.
inline double chi2_critical(double df, double zsd = 5.0) {
  const double a = 2.0 / (9.0 * df);
  return df * std::pow(1.0 - a + zsd * std::sqrt(a), 3.0);
}

struct chi2_result {
  double stat = 0;
  double df = 0;
  double critical = 0;
  std::size_t forbidden_hits = 0; //!< draws of tokens with probability 0
  [[nodiscard]] bool accepted() const { return forbidden_hits == 0 && stat <= critical; }
};

//! Pearson χ² of token counts against probabilities p (N draws). Cells with expected count < 5
//! are pooled into one cell; tokens with p = 0 must never be drawn (counted separately).
inline chi2_result chi2_test(const std::vector<std::size_t>& counts, const std::vector<double>& p, double N) {
  chi2_result r;
  double pooled_e = 0, pooled_o = 0;
  int cells = 0;
  for (std::size_t v = 0; v < p.size(); ++v) {
    if (p[v] == 0.0) {
      r.forbidden_hits += counts[v];
      continue;
    }
    const double e = N * p[v];
    if (e < 5.0) {
      pooled_e += e;
      pooled_o += static_cast<double>(counts[v]);
      continue;
    }
    const double d = static_cast<double>(counts[v]) - e;
    r.stat += d * d / e;
    ++cells;
  }
  if (pooled_e > 0) {
    const double d = pooled_o - pooled_e;
    r.stat += d * d / pooled_e;
    ++cells;
  }
  r.df = std::max(1, cells - 1);
  r.critical = chi2_critical(r.df);
  return r;
}

} // namespace rlvr::test
