#pragma once
//! \file rlvr/metrics/entropy.hpp
//! \brief Token entropy of a policy over rows of logits: per row and the mean (an evaluation
//! diagnostic; the paper tracks test-set entropy to show PSR collapsing and NSR preserving it).
//!
//! For a row z and temperature τ, with d_v = (z_v − m)/τ, m = max z, w_v = e^{d_v}, S = Σ w_v:
//!
//!     H = log S − Σ_v w_v d_v / S       (nats; terms with w_v = 0 contribute 0, never 0·(−∞))
//!
//! which is −Σ p log p without forming log p. Accumulation is in double for float and double
//! rows alike. Rows are split over `backend.threads`; each row's value is independent of the split,
//! and the mean sums rows in index order, so results do not depend on the thread count.
//!
//! Errors: temperature ≤ 0 or NaN (`range_error`), a row with NaN/+inf or only −inf
//! (`numerical_error`, naming the row), an output of the wrong length (`shape_error`).

#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>
#include <vector>

#include "rlvr/backends/concepts.hpp"
#include "rlvr/config.hpp"
#include "rlvr/error.hpp"
#include "rlvr/objectives/row_math.hpp"
#include "rlvr/parallel.hpp"
#include "rlvr/view.hpp"

namespace rlvr {

namespace detail {
// Entropy of one row with the scalar row evaluator of `rlvr/objectives/row_math.hpp` (online
// log-sum-exp with entropy, in double); NaN marks a row with NaN/+inf, +inf a row that is all −inf.
template <class T> double row_entropy(const T* z, index_t n, double tau) {
  lse_state<double> st;
  const double inv_tau = 1.0 / tau;
  for (index_t v = 0; v < n; ++v) lse_push(st, static_cast<double>(z[v]) * inv_tau);
  if (st.bad) return std::numeric_limits<double>::quiet_NaN();
  if (!(st.s > 0.0)) return std::numeric_limits<double>::infinity();
  return lse_finish<double>(st, 0.0).entropy;
}
} // namespace detail

//! Entropy H of softmax(z/τ) for each row of `logits`, into `out` (length rows).
template <HostBackend B, class L>
  requires std::is_floating_point_v<std::remove_const_t<L>>
void token_entropy(const B& backend, matrix_view<L> logits, vector_view<double> out, double temperature = 1.0) {
  RLVR_EXPECTS(temperature > 0.0 && std::isfinite(temperature), range, "token_entropy: temperature = ",
               temperature, " must be finite and > 0");
  expect_size(out, logits.rows(), "token_entropy: out");
  const index_t n = logits.rows(), v = logits.cols();
  RLVR_EXPECTS(v > 0 || n == 0, shape, "token_entropy: logits have 0 columns");
  parallel_for(n, static_cast<int>(backend.threads), [&](index_t b, index_t e) {
    for (index_t i = b; i < e; ++i) out[i] = detail::row_entropy(logits.data() + i * logits.row_stride(), v, temperature);
  }, std::max<index_t>(1, 16384 / std::max<index_t>(v, 1)));
  for (index_t i = 0; i < n; ++i) {
    RLVR_EXPECTS(!std::isnan(out[i]), numerical, "token_entropy: row ", i, " holds a NaN or +inf logit");
    RLVR_EXPECTS(!std::isinf(out[i]), numerical, "token_entropy: row ", i, " has every logit = -inf");
  }
}

//! Mean token entropy over the rows of `logits` (nats); 0 rows is a `shape_error`.
template <HostBackend B, class L>
  requires std::is_floating_point_v<std::remove_const_t<L>>
[[nodiscard]] double mean_token_entropy(const B& backend, matrix_view<L> logits, double temperature = 1.0) {
  RLVR_EXPECTS(logits.rows() > 0, shape, "mean_token_entropy: no rows");
  std::vector<double> h(static_cast<std::size_t>(logits.rows()));
  token_entropy(backend, logits, vector_view<double>(h), temperature);
  double s = 0.0;
  for (double x : h) s += x;
  return s / static_cast<double>(h.size());
}

} // namespace rlvr
