#pragma once
//! \file rlvr/fused_linear.hpp
//! \brief The LM head fused with the objective: loss, gradients and diagnostics from the hidden
//! states, without ever materialising the [N, V] logits (host backends; needs Eigen).
//!
//! The last layer of a language model maps hidden states h_t ∈ R^d to logits over a vocabulary
//! of V tokens, z_t = W·h_t + b (W ∈ R^{V×d}, the PyTorch `nn.Linear` layout, b ∈ R^V optional).
//! `rlvr::loss_and_grad` takes the logits as an [N, V] matrix, and the gradient is another — at
//! N = 1024 tokens and V = 151 936, 622 MB each in float. The entry points here compute the same
//! numbers from H = [h_t] ∈ R^{N×d}, W and b, one vocabulary *chunk* of C columns at a time:
//!
//! 1. **Read pass.** For each chunk [c0, c0 + C): Z_c = H·W_cᵀ + b_c (a GEMM, rows in fixed
//!    blocks of 64), and each row's online log-sum-exp state (`rlvr/objectives/row_math.hpp`:
//!    running max m, s = Σ e^{x−m}, t = Σ e^{x−m}(x − m), x = z/τ) absorbs the chunk with
//!    `lse_merge`; the target's scaled logit x_y is taken from the chunk that holds it. At the end,
//!    per row: lse = m + log s, H_t = log s − t/s, log π_t = x_y − lse — the `row_stats` of the
//!    unfused pass.
//! 2. **Epilogue.** Exactly the path of `loss_and_grad`: `detail::prepare_loss` (validation,
//!    aggregation weights), the batch-level parts when the objective has them
//!    (`detail::prepare_batch_context`: GSPO/GMPO sequence ratios, Clip-Cov/KL-Cov, token gates —
//!    they read the log π and H of step 1, so they are supported), the objective's per-token
//!    `detail::loss_epilogue` (coefficients c.dlogp = ∂L/∂log π_t, c.dentropy = ∂L/∂H_t), and
//!    `detail::summarize_loss` (diagnostics; a bad row raises here, before any gradient is
//!    written).
//! 3. **Write pass.** For each chunk again: recompute Z_c, turn it in place into
//!    G_c = ∂L/∂Z_c with the row's write plan (`make_grad_plan`):
//!      G_tv = p_tv·(a_t + b_t·log p_tv) + [v = y_t]·c.dlogp/τ,
//!      a_t = −(c.dlogp + c.dentropy·H_t)/τ,  b_t = −c.dentropy/τ,
//!    then  ∂L/∂H += G_c·W_c,   ∂L/∂W_c = G_cᵀ·H,   ∂L/∂b_c = Σ_t G_c[t, :].
//!
//! Cost: the GEMM of the head once forward and three times in the write pass (recompute, two
//! gradient GEMMs) — one GEMM more than the unfused path (z = H·Wᵀ, loss_and_grad, two gradient
//! GEMMs). Extra memory (bytes, T the scalar type):
//!     C·N_act·sizeof(T)  +  ~100·N  +  [some rows inactive] 2·N_act·d·sizeof(T)  +  O(K·N),
//! where N_act is the number of active rows (rows inactive in every component are not read:
//! their hidden state may hold anything, their ∂L/∂h row is 0), instead of N·V·sizeof(T) for the
//! logits (and as much again for an out-of-place gradient).
//!
//! **Choosing the chunk C** (`fused_linear_options::vocab_chunk`, default 4096): the scratch
//! block is C·N_act·sizeof(T) — 16 MiB at N = 1024, C = 4096, float. Smaller C saves memory but
//! makes the GEMMs thinner (W_c has C rows; below a few hundred the GEMMs lose efficiency); larger
//! C buys little speed once the GEMMs are efficient. Choose C so that C·N·sizeof(T) fits the
//! memory you can spare; the measured trade-off is in docs/performance.md. Any C ≥ 1 gives the
//! same numbers up to rounding (C ≥ V: one chunk).
//!
//! **Determinism.** Rows are cut into fixed blocks of 64 and ∂L/∂W into fixed tiles of 256
//! vocabulary rows, whatever the thread count: every output element is computed by the same
//! operations in the same order, so results do not depend on `backend.threads`.
//!
//! **Backends.** Host backends only (`HostBackend`: `serial_backend`, `eigen_backend`,
//! `xtensor_backend`, user host backends); the GEMMs are Eigen's on `backend.threads` threads
//! (through `rlvr::parallel_for`), the row math is the backend's row evaluator
//! (`rlvr/backends/detail/host_rows.hpp`: the SIMD-packet evaluator for `eigen_backend`, the
//! scalar double-accumulating oracle otherwise). **The CUDA path is not in this version**: on a
//! GPU, materialise the logits and call `rlvr::loss_and_grad`.
//!
//! Example (see docs/fused-linear.md; the test `test_fused_linear` compiles the same code):
//!
//!     // hidden [N, d], weight [V, d], bias [V] (may be empty); batch as for loss_and_grad,
//!     // without logits
//!     rlvr::loss_token_batch<float> tb{.targets = y, .advantages = adv.advantages(), .active = adv.active()};
//!     auto diag = rlvr::fused_linear_loss_and_grad(rlvr::eigen_backend{.threads = 2}, obj, hidden, weight,
//!         bias, tb, grad_hidden, grad_weight, grad_bias, {.loss = {.temperature = 0.7}, .vocab_chunk = 4096});
//!
//! Errors are those of `loss_and_grad` (same messages, `who` = the entry point's name), plus
//! shape errors naming `hidden`, `weight`, `bias`, `grad_hidden`, `grad_weight`, `grad_bias` or
//! `batch.logits` (which must be empty), a `config` error for `vocab_chunk` < 1, and a `shape`
//! error when an output overlaps an input.

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>
#include <vector>

#include "rlvr/backends/concepts.hpp"
#include "rlvr/backends/detail/host_rows.hpp"
#include "rlvr/config.hpp"
#include "rlvr/error.hpp"
#include "rlvr/loss.hpp"
#include "rlvr/objectives/concepts.hpp"
#include "rlvr/objectives/row_math.hpp"
#include "rlvr/parallel.hpp"
#include "rlvr/view.hpp"

namespace rlvr {

//! The default vocabulary chunk C of the fused LM head (columns of logits per GEMM).
inline constexpr index_t default_vocab_chunk = 4096;

//! Run-time options of `fused_linear_loss_and_grad`.
struct fused_linear_options {
  loss_options loss{};                      //!< temperature, aggregation, advantage report (as `loss_and_grad`)
  index_t vocab_chunk = default_vocab_chunk; //!< C ≥ 1: logits columns per chunk (see the file comment)
  bool accumulate = false;                  //!< add into grad_hidden / grad_weight / grad_bias instead of overwriting
};

namespace detail::flin {

template <class T> using rmat = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
template <class T> using cmap = Eigen::Map<const rmat<T>, 0, Eigen::OuterStride<>>;
template <class T> using mmap = Eigen::Map<rmat<T>, 0, Eigen::OuterStride<>>;
template <class T> using crow = Eigen::Map<const Eigen::Matrix<T, 1, Eigen::Dynamic>>;

inline constexpr index_t row_block = 64;   //!< rows per GEMM block (fixed: results do not depend on threads)
inline constexpr index_t vocab_tile = 256; //!< vocabulary rows per ∂L/∂W tile (fixed)

//! The row evaluator of a host backend: its own (`b.evaluator()`) or the scalar oracle.
template <class B> auto evaluator_of(const B& b) {
  if constexpr (requires { b.evaluator(); })
    return b.evaluator();
  else
    return scalar_row_evaluator{};
}

//! The head's operands: n (compact) hidden rows [n, d], weight [v, d], bias (nullable).
template <class T> struct head {
  const T* h;
  index_t ldh;
  const T* w;
  index_t ldw;
  const T* bias;
  index_t n, d, v;
};

//! Z[r0, r0 + rn) × [0, cn) = H[r0, r0 + rn)·W[c0, c0 + cn)ᵀ + b[c0, c0 + cn), Z row-major with ld = cn.
template <class T> void logits_block(const head<T>& hd, index_t r0, index_t rn, index_t c0, index_t cn, T* z) {
  mmap<T> zb(z + r0 * cn, rn, cn, Eigen::OuterStride<>(cn));
  const cmap<T> hb(hd.h + r0 * hd.ldh, rn, hd.d, Eigen::OuterStride<>(hd.ldh));
  const cmap<T> wc(hd.w + c0 * hd.ldw, cn, hd.d, Eigen::OuterStride<>(hd.ldw));
  zb.noalias() = hb * wc.transpose();
  if (hd.bias != nullptr) zb.rowwise() += crow<T>(hd.bias + c0, cn);
}

//! A row's state after the read pass.
struct row_summary {
  lse_state<double> st;
  row_stats<double> stats{};
};

//! Step 1 (the read pass): the row statistics of the n rows, chunk by chunk; `y` holds the n
//! targets; `z` is scratch of n·min(chunk, v) elements.
template <class Ev, class T>
std::vector<row_summary> read_pass(const Ev& ev, const head<T>& hd, const token_t* y, double inv_tau, index_t chunk,
                                   int threads, std::vector<T>& z) {
  (void)ev;
  std::vector<row_summary> rows(static_cast<std::size_t>(hd.n));
  std::vector<double> xt(static_cast<std::size_t>(hd.n), 0.0);
  const index_t nb = (hd.n + row_block - 1) / row_block;
  for (index_t c0 = 0; c0 < hd.v; c0 += chunk) {
    const index_t cn = std::min(chunk, hd.v - c0);
    parallel_for(nb, threads, [&](index_t b0, index_t b1) {
      for (index_t blk = b0; blk < b1; ++blk) {
        const index_t r0 = blk * row_block, rn = std::min(row_block, hd.n - r0);
        logits_block(hd, r0, rn, c0, cn, z.data());
        for (index_t i = r0; i < r0 + rn; ++i) {
          const T* zr = z.data() + i * cn;
          Ev::push_chunk(rows[static_cast<std::size_t>(i)].st, zr, cn, inv_tau);
          if (y[i] >= c0 && y[i] < c0 + cn) xt[static_cast<std::size_t>(i)] = Ev::scaled(zr[y[i] - c0], inv_tau);
        }
      }
    });
  }
  for (index_t i = 0; i < hd.n; ++i) {
    auto& r = rows[static_cast<std::size_t>(i)];
    r.stats = lse_finish<double>(r.st, xt[static_cast<std::size_t>(i)]);
  }
  return rows;
}

//! Step 3 (the write pass): ∂L/∂H (+)= G·W into `gh` ([n, d], ld `ldgh`; zeroed by the caller when
//! not accumulating), ∂L/∂W (=|+=) Gᵀ·H into `gw` ([v, d], ld `ldgw`), ∂L/∂b (=|+=) Σ_t G[t, :]
//! into `gb` (nullable).
template <class Ev, class T>
void write_pass(const Ev& ev, const head<T>& hd, const token_t* y, double inv_tau, index_t chunk, int threads,
                const std::vector<row_summary>& rows, const std::vector<row_grad_plan<double>>& plans, T* gh,
                index_t ldgh, T* gw, index_t ldgw, T* gb, bool accumulate, std::vector<T>& z) {
  (void)ev;
  const index_t nb = (hd.n + row_block - 1) / row_block;
  const cmap<T> h_all(hd.h, hd.n, hd.d, Eigen::OuterStride<>(hd.ldh));
  for (index_t c0 = 0; c0 < hd.v; c0 += chunk) {
    const index_t cn = std::min(chunk, hd.v - c0);
    const cmap<T> wc(hd.w + c0 * hd.ldw, cn, hd.d, Eigen::OuterStride<>(hd.ldw));
    parallel_for(nb, threads, [&](index_t b0, index_t b1) {
      for (index_t blk = b0; blk < b1; ++blk) {
        const index_t r0 = blk * row_block, rn = std::min(row_block, hd.n - r0);
        logits_block(hd, r0, rn, c0, cn, z.data());
        for (index_t i = r0; i < r0 + rn; ++i) {
          T* g = z.data() + i * cn;
          const auto& r = rows[static_cast<std::size_t>(i)];
          const auto& plan = plans[static_cast<std::size_t>(i)];
          Ev::write_chunk(g, g, cn, inv_tau, r.st, r.stats, plan);
          if (y[i] >= c0 && y[i] < c0 + cn)
            g[y[i] - c0] = static_cast<T>(static_cast<double>(g[y[i] - c0]) + plan.target);
        }
        mmap<T> ghb(gh + r0 * ldgh, rn, hd.d, Eigen::OuterStride<>(ldgh));
        ghb.noalias() += cmap<T>(z.data() + r0 * cn, rn, cn, Eigen::OuterStride<>(cn)) * wc;
      }
    });
    const index_t nt = (cn + vocab_tile - 1) / vocab_tile;
    parallel_for(nt, threads, [&](index_t t0, index_t t1) {
      for (index_t t = t0; t < t1; ++t) {
        const index_t j0 = t * vocab_tile, jn = std::min(vocab_tile, cn - j0);
        const cmap<T> gt(z.data() + j0, hd.n, jn, Eigen::OuterStride<>(cn));
        mmap<T> gwt(gw + (c0 + j0) * ldgw, jn, hd.d, Eigen::OuterStride<>(ldgw));
        if (accumulate)
          gwt.noalias() += gt.transpose() * h_all;
        else
          gwt.noalias() = gt.transpose() * h_all;
        if (gb != nullptr) { // column sums in row order, in double (an explicit order: Eigen's
                             // reductions peel to the data's alignment, which varies between calls)
          double acc[vocab_tile] = {};
          for (index_t i = 0; i < hd.n; ++i) {
            const T* g = z.data() + i * cn + j0;
            for (index_t j = 0; j < jn; ++j) acc[j] += static_cast<double>(g[j]);
          }
          for (index_t j = 0; j < jn; ++j)
            gb[c0 + j0 + j] = static_cast<T>(accumulate ? static_cast<double>(gb[c0 + j0 + j]) + acc[j] : acc[j]);
        }
      }
    });
  }
}

//! True when the element ranges of two views (or a view and a vector) overlap.
template <class A, class B> bool overlaps(const A* a, std::size_t na, const B* b, std::size_t nb) {
  if (na == 0 || nb == 0) return false;
  const auto* ab = reinterpret_cast<const char*>(a);
  const auto* bb = reinterpret_cast<const char*>(b);
  return ab < bb + nb * sizeof(B) && bb < ab + na * sizeof(A);
}
template <class T> std::size_t span_of(matrix_view<T> m) {
  return m.rows() == 0 ? 0 : static_cast<std::size_t>((m.rows() - 1) * m.row_stride() + m.cols());
}

//! Shapes of hidden / weight / bias / targets / chunk (every entry point).
template <class T>
void check_head(matrix_view<const T> hidden, matrix_view<const T> weight, vector_view<const T> bias,
                vector_view<const token_t> y, index_t chunk, const char* who) {
  RLVR_EXPECTS(hidden.rows() >= 0 && hidden.cols() >= 1 && hidden.row_stride() >= hidden.cols(), shape, who,
               ": hidden is ", hidden.rows(), "x", hidden.cols(), " with row_stride ", hidden.row_stride(),
               " (need d >= 1 columns and row_stride >= d)");
  RLVR_EXPECTS(hidden.data() != nullptr || hidden.rows() == 0, shape, who, ": null hidden");
  RLVR_EXPECTS(weight.rows() >= 1 && weight.cols() == hidden.cols() && weight.row_stride() >= weight.cols(), shape,
               who, ": weight is ", weight.rows(), "x", weight.cols(), " with row_stride ", weight.row_stride(),
               " but hidden has d = ", hidden.cols(), " columns (need V x d, V >= 1, row_stride >= d)");
  RLVR_EXPECTS(weight.data() != nullptr, shape, who, ": null weight");
  RLVR_EXPECTS(bias.empty() || bias.size() == weight.rows(), shape, who, ": bias has length ", bias.size(),
               " but weight has V = ", weight.rows(), " rows (need V or empty)");
  RLVR_EXPECTS(chunk >= 1, config, who, ": vocab_chunk = ", chunk, " must be >= 1");
  RLVR_EXPECTS(y.size() == hidden.rows(), shape, who, ": targets has length ", y.size(), " but hidden has ",
               hidden.rows(), " rows");
  for (index_t i = 0; i < y.size(); ++i)
    RLVR_EXPECTS(y[i] >= 0 && y[i] < weight.rows(), range, who, ": targets[", i, "] = ", y[i], " is outside [0, ",
                 weight.rows(), ")");
}

//! The head's operands for the rows `idx` of `hidden` (all rows, not copied, when idx is empty).
template <class T>
head<T> compact_head(matrix_view<const T> hidden, matrix_view<const T> weight, vector_view<const T> bias,
                     const std::vector<index_t>& idx, bool all, std::vector<T>& own) {
  const index_t d = hidden.cols();
  head<T> hd{hidden.data(), hidden.row_stride(), weight.data(), weight.row_stride(),
             bias.empty() ? nullptr : bias.data(), hidden.rows(), d, weight.rows()};
  if (all) return hd;
  own.resize(idx.size() * static_cast<std::size_t>(d));
  for (std::size_t i = 0; i < idx.size(); ++i)
    std::copy_n(hidden.row(idx[i]).data(), d, own.data() + i * static_cast<std::size_t>(d));
  hd.h = own.data();
  hd.ldh = d;
  hd.n = static_cast<index_t>(idx.size());
  return hd;
}

template <class B, class T> void check_backend() {
  static_assert(HostBackend<B>, "rlvr::fused_linear: the backend must model rlvr::HostBackend (serial_backend, "
                                "eigen_backend, xtensor_backend); the CUDA path is not in this version: materialise "
                                "the logits and call rlvr::loss_and_grad");
  static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>,
                "rlvr::fused_linear: the scalar type must be float or double");
}

} // namespace detail::flin

//! Forward only: log π of each target and the entropy of each row of the logits
//! z_t = W·h_t + b at temperature τ, one vocabulary chunk at a time (steps 1 of the file comment):
//! the numbers of `rlvr::log_prob_entropy` on the materialised logits, with O(N·C) extra memory.
//! `hidden` [N, d], `weight` [V, d], `bias` [V] or empty, `targets` [N] in [0, V), `logp` [N],
//! `entropy` [N] or empty; all host memory. Throws `rlvr::numerical_error` naming the first row
//! whose log π is not finite (as `log_prob_entropy`).
template <class B, class T>
void fused_linear_log_prob_entropy(const B& backend, matrix_view<const T> hidden, matrix_view<const T> weight,
                                   vector_view<const T> bias, vector_view<const token_t> targets, vector_view<T> logp,
                                   vector_view<T> entropy, double temperature = 1.0,
                                   index_t vocab_chunk = default_vocab_chunk) {
  detail::flin::check_backend<B, T>();
  constexpr const char* who = "fused_linear_log_prob_entropy";
  detail::check_temperature<T>(temperature);
  detail::flin::check_head(hidden, weight, bias, targets, vocab_chunk, who);
  expect_size(logp, hidden.rows(), "fused_linear_log_prob_entropy: logp");
  RLVR_EXPECTS(entropy.empty() || entropy.size() == hidden.rows(), shape, who, ": entropy has length ",
               entropy.size(), " but hidden has ", hidden.rows(), " rows");
  const index_t n = hidden.rows();
  if (n == 0) return;
  const index_t chunk = std::min(vocab_chunk, weight.rows());
  std::vector<T> own, z(static_cast<std::size_t>(n * chunk));
  const auto hd = detail::flin::compact_head(hidden, weight, bias, {}, true, own);
  const auto ev = detail::flin::evaluator_of(backend);
  const auto rows = detail::flin::read_pass(ev, hd, targets.data(), 1.0 / static_cast<double>(static_cast<T>(temperature)),
                                            chunk, backend.threads, z);
  for (index_t i = 0; i < n; ++i) {
    const row_stats<double>& s = rows[static_cast<std::size_t>(i)].stats;
    logp[i] = static_cast<T>(std::isnan(s.lse) ? s.lse : s.logp);
    if (!entropy.empty()) entropy[i] = static_cast<T>(s.entropy);
  }
  for (index_t i = 0; i < n; ++i)
    if (!std::isfinite(static_cast<double>(logp[i]))) detail::fail_row(i, targets, logp.data(), who);
}

//! The fused LM head + objective (file comment): loss, ∂L/∂hidden into `grad_hidden` [N, d],
//! ∂L/∂weight into `grad_weight` [V, d], ∂L/∂bias into `grad_bias` ([V], or empty when not
//! wanted) and the diagnostics — the numbers of `loss_and_grad` on the materialised logits
//! z = H·Wᵀ + b followed by the two gradient GEMMs, without the [N, V] logits.
//!
//! `batch` is a `loss_token_batch` with empty `logits` (they are computed here); its other
//! fields, `opt.loss` and `out` mean what they mean for `loss_and_grad`. The gradients are
//! overwritten, or added to with `opt.accumulate` (micro-batches). Every input and output is
//! host memory; gradients must not overlap the inputs or each other. After an error the
//! gradients are unchanged (everything, bad rows included, is checked before the write pass);
//! the per-token outputs `out` are unspecified.
template <class B, Objective O, class T>
loss_diagnostics fused_linear_loss_and_grad(const B& backend, const O& obj, matrix_view<const T> hidden,
                                            matrix_view<const T> weight, vector_view<const T> bias,
                                            const loss_token_batch<T>& batch, matrix_view<T> grad_hidden,
                                            matrix_view<T> grad_weight, vector_view<T> grad_bias,
                                            const fused_linear_options& opt = {}, token_outputs<T> out = {}) {
  detail::flin::check_backend<B, T>();
  constexpr const char* who = "fused_linear_loss_and_grad";
  constexpr index_t k = O::components;
  RLVR_EXPECTS(batch.logits.data() == nullptr && batch.logits.rows() == 0, shape, who,
               ": batch.logits must be empty (the logits are computed here from hidden and weight), got ",
               batch.logits.rows(), "x", batch.logits.cols());
  detail::flin::check_head(hidden, weight, bias, batch.targets, opt.vocab_chunk, who);
  const index_t n = hidden.rows(), d = hidden.cols(), v = weight.rows();
  RLVR_EXPECTS(grad_hidden.rows() == n && grad_hidden.cols() == d && grad_hidden.row_stride() >= d &&
                   (grad_hidden.data() != nullptr || n == 0),
               shape, who, ": grad_hidden is ", grad_hidden.rows(), "x", grad_hidden.cols(), " but hidden is ", n, "x",
               d);
  RLVR_EXPECTS(grad_weight.rows() == v && grad_weight.cols() == d && grad_weight.row_stride() >= d &&
                   grad_weight.data() != nullptr,
               shape, who, ": grad_weight is ", grad_weight.rows(), "x", grad_weight.cols(), " but weight is ", v, "x",
               d);
  RLVR_EXPECTS(grad_bias.empty() || grad_bias.size() == v, shape, who, ": grad_bias has length ", grad_bias.size(),
               " but weight has V = ", v, " rows (need V or empty)");
  {
    using detail::flin::overlaps;
    using detail::flin::span_of;
    const matrix_view<const T> gh(grad_hidden), gw(grad_weight);
    const std::size_t sh = span_of(hidden), sw = span_of(weight), sgh = span_of(gh), sgw = span_of(gw);
    const std::size_t sb = static_cast<std::size_t>(bias.size()), sgb = static_cast<std::size_t>(grad_bias.size());
    const bool clash = overlaps(gh.data(), sgh, hidden.data(), sh) || overlaps(gh.data(), sgh, weight.data(), sw) ||
                       overlaps(gh.data(), sgh, bias.data(), sb) || overlaps(gw.data(), sgw, hidden.data(), sh) ||
                       overlaps(gw.data(), sgw, weight.data(), sw) || overlaps(gw.data(), sgw, bias.data(), sb) ||
                       overlaps(gw.data(), sgw, gh.data(), sgh) || overlaps(grad_bias.data(), sgb, hidden.data(), sh) ||
                       overlaps(grad_bias.data(), sgb, weight.data(), sw) ||
                       overlaps(grad_bias.data(), sgb, bias.data(), sb) ||
                       overlaps(grad_bias.data(), sgb, gh.data(), sgh) || overlaps(grad_bias.data(), sgb, gw.data(), sgw);
    RLVR_EXPECTS(!clash, shape, who, ": grad_hidden, grad_weight and grad_bias must not overlap each other, hidden, "
                                     "weight or bias");
  }
  const std::vector<T> w = detail::prepare_loss(obj, batch, n, opt.loss, out, who);

  std::vector<T> logp_own, ent_own, loss_own;
  const auto ensure = [n](vector_view<T> o, std::vector<T>& own) {
    if (!o.empty()) return o.data();
    own.assign(static_cast<std::size_t>(n), T(0));
    return own.data();
  };
  T* logp = ensure(out.logp, logp_own);
  T* ent = ensure(out.entropy, ent_own);
  T* tl = ensure(out.loss, loss_own);
  std::vector<std::uint8_t> flags(static_cast<std::size_t>(n), 0);
  const auto active = [&](index_t i) {
    for (index_t c = 0; c < k; ++c)
      if (w[static_cast<std::size_t>(c * n + i)] != T(0)) return true;
    return false;
  };
  std::vector<index_t> idx; // the active rows, in order
  std::vector<token_t> y_act;
  for (index_t i = 0; i < n; ++i) {
    logp[i] = ent[i] = tl[i] = T(0);
    if (active(i)) {
      idx.push_back(i);
      y_act.push_back(batch.targets[i]);
    }
  }
  const index_t m = static_cast<index_t>(idx.size());
  const bool all = m == n;

  // step 1: the read pass over the active rows
  const index_t chunk = std::min(opt.vocab_chunk, v);
  const double inv_tau = 1.0 / static_cast<double>(static_cast<T>(opt.loss.temperature));
  std::vector<T> h_own, z(static_cast<std::size_t>(m * chunk));
  const auto hd = detail::flin::compact_head(hidden, weight, bias, idx, all, h_own);
  const auto ev = detail::flin::evaluator_of(backend);
  const auto rows = detail::flin::read_pass(ev, hd, y_act.data(), inv_tau, chunk, backend.threads, z);

  // step 2: the epilogue of loss_and_grad
  std::vector<T> stat, gate;
  if constexpr (detail::has_batch_context<O>()) { // sequence/batch statistics need log π first
    for (index_t i = 0; i < m; ++i) {
      const row_stats<double>& s = rows[static_cast<std::size_t>(i)].stats;
      logp[idx[static_cast<std::size_t>(i)]] = static_cast<T>(std::isnan(s.lse) ? s.lse : s.logp);
      ent[idx[static_cast<std::size_t>(i)]] = static_cast<T>(s.entropy);
    }
    detail::prepare_batch_context(obj, batch, w, n, logp, ent, stat, gate);
  }
  detail::loss_epilogue<T, O> ep{obj,
                                 batch.advantages.data(),
                                 w.data(),
                                 batch.advantages.row_stride(),
                                 n,
                                 k,
                                 batch.old_logp.empty() ? nullptr : batch.old_logp.data(),
                                 batch.ref_logp.empty() ? nullptr : batch.ref_logp.data(),
                                 logp,
                                 ent,
                                 tl,
                                 flags.data()};
  if (!stat.empty()) ep.stat = stat.data();
  if (!gate.empty()) ep.gate = gate.data();
  std::vector<row_grad_plan<double>> plans(static_cast<std::size_t>(m), row_grad_plan<double>{0, 0, 0});
  for (index_t i = 0; i < m; ++i) {
    const row_stats<double>& s = rows[static_cast<std::size_t>(i)].stats;
    const row_coeffs<T> c = ep(idx[static_cast<std::size_t>(i)], detail::narrow_stats<T>(s));
    if (!std::isnan(s.lse))
      plans[static_cast<std::size_t>(i)] = make_grad_plan(
          s, row_coeffs<double>{static_cast<double>(c.dlogp), static_cast<double>(c.dentropy)}, inv_tau);
  }
  loss_diagnostics diag = detail::summarize_loss(batch, w.data(), k, n, logp, ent, tl, flags.data(), opt.loss, who);
  detail::gate_diagnostics(diag, gate, w.data(), k, n);

  // step 3: the write pass
  std::vector<T> gh_own;
  T* gh = grad_hidden.data();
  index_t ldgh = grad_hidden.row_stride();
  if (!all) {
    gh_own.assign(static_cast<std::size_t>(m * d), T(0));
    gh = gh_own.data();
    ldgh = d;
  } else if (!opt.accumulate) {
    for (index_t i = 0; i < n; ++i) std::fill_n(grad_hidden.row(i).data(), d, T(0));
  }
  detail::flin::write_pass(ev, hd, y_act.data(), inv_tau, chunk, backend.threads, rows, plans, gh, ldgh,
                           grad_weight.data(), grad_weight.row_stride(), grad_bias.empty() ? nullptr : grad_bias.data(),
                           opt.accumulate, z);
  if (!all) { // scatter the active rows; inactive rows get a zero gradient
    for (index_t i = 0, a = 0; i < n; ++i) {
      T* dst = grad_hidden.row(i).data();
      const bool act = a < m && idx[static_cast<std::size_t>(a)] == i;
      if (act) {
        const T* src = gh_own.data() + a * d;
        for (index_t j = 0; j < d; ++j) dst[j] = opt.accumulate ? dst[j] + src[j] : src[j];
        ++a;
      } else if (!opt.accumulate) {
        std::fill_n(dst, d, T(0));
      }
    }
  }
  return diag;
}

} // namespace rlvr
