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
//!
//! Range: 0 ≤ H ≤ log V (0 for a one-hot row, log V for uniform logits); at τ → ∞ every row tends
//! to log V, at small τ to the log of the number of tied maxima. Cost: one read of the N×V
//! logits, one exp per logit, no allocation in `token_entropy` (N doubles in
//! `mean_token_entropy`). These functions only read logits: use them on evaluation batches, not
//! inside the loss (the fused loss pass already returns the entropy of the rows it reads).
//!
//!     rlvr::matrix_view<const float> logits(z.data(), n, v);   // N response tokens × V
//!     std::vector<double> h(n);
//!     rlvr::token_entropy(rlvr::serial_backend{}, logits, h, /*temperature=*/0.6);
//!     double mean_h = rlvr::mean_token_entropy(rlvr::eigen_backend{.threads = 4}, logits);

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
// The markers are out-of-range values of H on purpose: the parallel region cannot throw with a row
// index cheaply, so `token_entropy` checks them afterwards on the calling thread. The running
// maximum keeps every exp argument ≤ 0, so |z| ~ 1e4 logits neither overflow nor lose the sum.
// z/τ is formed in double, so a float logit whose z/τ exceeds FLT_MAX is still an ordinary value.
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
//!
//! `backend` supplies only the thread count (`backend.threads`, 0 = all hardware threads); any
//! `HostBackend` works, with float or double logits, contiguous or strided rows. `temperature`
//! τ > 0 is the sampling temperature whose distribution is measured (1 for the raw policy).
//! Rows are handed out in chunks of at least max(1, ⌊16384/V⌋) so small vocabularies do not pay a thread
//! wake-up per row. On a bad row every row's `out` value has already been written when the
//! `numerical_error` for the first bad row (lowest index) is raised.
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
//! Every row counts once (the caller selects the response-token rows: prompt and padding rows
//! would bias it); the sum is a plain double sum in row order, deterministic for any thread count.
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
