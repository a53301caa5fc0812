#pragma once
//! \file rlvr/detail/fused_linear.hpp
//! \brief The passes of the fused LM head (private header of `rlvr/fused_linear.hpp`): the
//! chunked logits GEMM, the read pass (row statistics merged over vocabulary chunks) and the write
//! pass (the gradient of each chunk and the three gradient GEMMs). The formulas are in
//! `rlvr/fused_linear.hpp`; the row math is the host row evaluators'
//! (`rlvr/backends/detail/host_rows.hpp`).

#include <Eigen/Core>
#include <algorithm>
#include <cstddef>
#include <vector>

#include "rlvr/backends/concepts.hpp"
#include "rlvr/backends/detail/host_rows.hpp"
#include "rlvr/config.hpp"
#include "rlvr/error.hpp"
#include "rlvr/objectives/row_math.hpp"
#include "rlvr/parallel.hpp"
#include "rlvr/view.hpp"

namespace rlvr {

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

//! The head's operands: n (compact) hidden rows [n, d], weight [v, d] — or [d, v] when `wt`
//! (the layout z = h·W of a model that stores its head input-major) — and bias (nullable).
template <class T> struct head {
  const T* h;
  index_t ldh;
  const T* w;
  index_t ldw;
  const T* bias;
  index_t n, d, v;
  bool wt = false;
};

//! The weight columns [c0, c0 + cn) of the head as a [cn, d] matrix expression W_c (a block of
//! rows of a [v, d] weight, or the transpose of a block of columns of a [d, v] one).
template <class T> auto weight_chunk(const head<T>& hd, index_t c0, index_t cn) {
  return hd.wt ? cmap<T>(hd.w + c0, hd.d, cn, Eigen::OuterStride<>(hd.ldw))
               : cmap<T>(hd.w + c0 * hd.ldw, cn, hd.d, Eigen::OuterStride<>(hd.ldw));
}

//! Z[r0, r0 + rn) × [0, cn) = H[r0, r0 + rn)·W[c0, c0 + cn)ᵀ + b[c0, c0 + cn), Z row-major with ld = cn.
template <class T> void logits_block(const head<T>& hd, index_t r0, index_t rn, index_t c0, index_t cn, T* z) {
  mmap<T> zb(z + r0 * cn, rn, cn, Eigen::OuterStride<>(cn));
  const cmap<T> hb(hd.h + r0 * hd.ldh, rn, hd.d, Eigen::OuterStride<>(hd.ldh));
  if (hd.wt)
    zb.noalias() = hb * weight_chunk(hd, c0, cn);
  else
    zb.noalias() = hb * weight_chunk(hd, c0, cn).transpose();
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
//! not accumulating), ∂L/∂W (=|+=) Gᵀ·H into `gw` ([v, d], ld `ldgw`; [d, v] = Hᵀ·G when
//! `hd.wt`), ∂L/∂b (=|+=) Σ_t G[t, :] into `gb` (nullable).
template <class Ev, class T>
void write_pass(const Ev& ev, const head<T>& hd, const token_t* y, double inv_tau, index_t chunk, int threads,
                const std::vector<row_summary>& rows, const std::vector<row_grad_plan<double>>& plans, T* gh,
                index_t ldgh, T* gw, index_t ldgw, T* gb, bool accumulate, std::vector<T>& z) {
  (void)ev;
  const index_t nb = (hd.n + row_block - 1) / row_block;
  const cmap<T> h_all(hd.h, hd.n, hd.d, Eigen::OuterStride<>(hd.ldh));
  for (index_t c0 = 0; c0 < hd.v; c0 += chunk) {
    const index_t cn = std::min(chunk, hd.v - c0);
    const cmap<T> wc = weight_chunk(hd, c0, cn); // [cn, d], or [d, cn] when hd.wt
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
        const cmap<T> gc(z.data() + r0 * cn, rn, cn, Eigen::OuterStride<>(cn));
        if (hd.wt)
          ghb.noalias() += gc * wc.transpose();
        else
          ghb.noalias() += gc * wc;
      }
    });
    const index_t nt = (cn + vocab_tile - 1) / vocab_tile;
    parallel_for(nt, threads, [&](index_t t0, index_t t1) {
      for (index_t t = t0; t < t1; ++t) {
        const index_t j0 = t * vocab_tile, jn = std::min(vocab_tile, cn - j0);
        const cmap<T> gt(z.data() + j0, hd.n, jn, Eigen::OuterStride<>(cn));
        if (hd.wt) { // the tile is the columns [c0 + j0, c0 + j0 + jn) of the [d, v] gradient
          mmap<T> gwt(gw + c0 + j0, hd.d, jn, Eigen::OuterStride<>(ldgw));
          if (accumulate)
            gwt.noalias() += h_all.transpose() * gt;
          else
            gwt.noalias() = h_all.transpose() * gt;
        } else {
          mmap<T> gwt(gw + (c0 + j0) * ldgw, jn, hd.d, Eigen::OuterStride<>(ldgw));
          if (accumulate)
            gwt.noalias() += gt.transpose() * h_all;
          else
            gwt.noalias() = gt.transpose() * h_all;
        }
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

//! The vocabulary size V of a weight in either layout ([V, d], or [d, V] when `wt`).
template <class T> index_t vocab_of(matrix_view<const T> weight, bool wt) { return wt ? weight.cols() : weight.rows(); }

//! Shapes of hidden / weight / bias / targets / chunk (every entry point); `wt`: weight is [d, V].
template <class T>
void check_head(matrix_view<const T> hidden, matrix_view<const T> weight, vector_view<const T> bias,
                vector_view<const token_t> y, index_t chunk, const char* who, bool wt = false) {
  RLVR_EXPECTS(hidden.rows() >= 0 && hidden.cols() >= 1 && hidden.row_stride() >= hidden.cols(), shape, who,
               ": hidden is ", hidden.rows(), "x", hidden.cols(), " with row_stride ", hidden.row_stride(),
               " (need d >= 1 columns and row_stride >= d)");
  RLVR_EXPECTS(hidden.data() != nullptr || hidden.rows() == 0, shape, who, ": null hidden");
  const index_t v = vocab_of(weight, wt), wd = wt ? weight.rows() : weight.cols();
  RLVR_EXPECTS(v >= 1 && wd == hidden.cols() && weight.row_stride() >= weight.cols(), shape, who, ": weight is ",
               weight.rows(), "x", weight.cols(), " with row_stride ", weight.row_stride(), " but hidden has d = ",
               hidden.cols(), " columns (need ", wt ? "d x V (weight_layout d_by_v)" : "V x d", ", V >= 1, row_stride >= ",
               wt ? "V" : "d", ")");
  RLVR_EXPECTS(weight.data() != nullptr, shape, who, ": null weight");
  RLVR_EXPECTS(bias.empty() || bias.size() == v, shape, who, ": bias has length ", bias.size(), " but weight has V = ",
               v, " (need V or empty)");
  RLVR_EXPECTS(chunk >= 1, config, who, ": vocab_chunk = ", chunk, " must be >= 1");
  RLVR_EXPECTS(y.size() == hidden.rows(), shape, who, ": targets has length ", y.size(), " but hidden has ",
               hidden.rows(), " rows");
  for (index_t i = 0; i < y.size(); ++i)
    RLVR_EXPECTS(y[i] >= 0 && y[i] < v, range, who, ": targets[", i, "] = ", y[i], " is outside [0, ", v, ")");
}

//! The head's operands for the rows `idx` of `hidden` (all rows, not copied, when idx is empty).
template <class T>
head<T> compact_head(matrix_view<const T> hidden, matrix_view<const T> weight, vector_view<const T> bias,
                     const std::vector<index_t>& idx, bool all, std::vector<T>& own, bool wt = false) {
  const index_t d = hidden.cols();
  head<T> hd{hidden.data(), hidden.row_stride(), weight.data(), weight.row_stride(),
             bias.empty() ? nullptr : bias.data(), hidden.rows(), d, vocab_of(weight, wt), wt};
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

//! The outputs' extents ([N, d], the weight's shape, [V] or empty) and that no output overlaps an
//! input or another output.
template <class T>
void check_outputs(matrix_view<const T> hidden, matrix_view<const T> weight, vector_view<const T> bias,
                   matrix_view<T> grad_hidden, matrix_view<T> grad_weight, vector_view<T> grad_bias, const char* who,
                   bool wt = false) {
  const index_t n = hidden.rows(), d = hidden.cols(), v = vocab_of(weight, wt);
  RLVR_EXPECTS(grad_hidden.rows() == n && grad_hidden.cols() == d && grad_hidden.row_stride() >= d &&
                   (grad_hidden.data() != nullptr || n == 0),
               shape, who, ": grad_hidden is ", grad_hidden.rows(), "x", grad_hidden.cols(), " but hidden is ", n, "x",
               d);
  RLVR_EXPECTS(grad_weight.rows() == weight.rows() && grad_weight.cols() == weight.cols() &&
                   grad_weight.row_stride() >= weight.cols() && grad_weight.data() != nullptr,
               shape, who, ": grad_weight is ", grad_weight.rows(), "x", grad_weight.cols(), " but weight is ",
               weight.rows(), "x", weight.cols());
  RLVR_EXPECTS(grad_bias.empty() || grad_bias.size() == v, shape, who, ": grad_bias has length ", grad_bias.size(),
               " but weight has V = ", v, " rows (need V or empty)");
  const matrix_view<const T> gh(grad_hidden), gw(grad_weight);
  const std::size_t sh = span_of(hidden), sw = span_of(weight), sgh = span_of(gh), sgw = span_of(gw);
  const std::size_t sb = static_cast<std::size_t>(bias.size()), sgb = static_cast<std::size_t>(grad_bias.size());
  const T* gb = grad_bias.data();
  const bool clash = overlaps(gh.data(), sgh, hidden.data(), sh) || overlaps(gh.data(), sgh, weight.data(), sw) ||
                     overlaps(gh.data(), sgh, bias.data(), sb) || overlaps(gw.data(), sgw, hidden.data(), sh) ||
                     overlaps(gw.data(), sgw, weight.data(), sw) || overlaps(gw.data(), sgw, bias.data(), sb) ||
                     overlaps(gw.data(), sgw, gh.data(), sgh) || overlaps(gb, sgb, hidden.data(), sh) ||
                     overlaps(gb, sgb, weight.data(), sw) || overlaps(gb, sgb, bias.data(), sb) ||
                     overlaps(gb, sgb, gh.data(), sgh) || overlaps(gb, sgb, gw.data(), sgw);
  RLVR_EXPECTS(!clash, shape, who,
               ": grad_hidden, grad_weight and grad_bias must not overlap each other, hidden, weight or bias");
}

//! Scatters the compact ∂L/∂h rows `src` ([m, d], m = idx.size()) to rows `idx` of `dst` (= or
//! += with `accumulate`); the other rows get 0 (or are left as they are with `accumulate`).
template <class T>
void scatter_rows(const std::vector<T>& src, const std::vector<index_t>& idx, matrix_view<T> dst, bool accumulate) {
  const index_t n = dst.rows(), d = dst.cols(), m = static_cast<index_t>(idx.size());
  for (index_t i = 0, a = 0; i < n; ++i) {
    T* out = dst.row(i).data();
    if (a < m && idx[static_cast<std::size_t>(a)] == i) {
      const T* in = src.data() + a * d;
      for (index_t j = 0; j < d; ++j) out[j] = accumulate ? out[j] + in[j] : in[j];
      ++a;
    } else if (!accumulate) {
      std::fill_n(out, d, T(0));
    }
  }
}

} // namespace detail::flin

} // namespace rlvr
