#pragma once
// Building blocks of the reference transformer: thread-count-independent blocked GEMMs on Eigen
// maps, LayerNorm, GELU and causal attention, forward and backward. Private to rlvr/policy.
//
// Determinism: every parallel split below uses *fixed* blocks (row blocks of kRowBlock rows,
// weight-gradient tiles of kTileK × kTileM), and the threads only decide which thread runs which
// block. Each block is one Eigen product of fixed shape, so results are bitwise identical for any
// thread count.
// GCC 12 reports a false -Wmaybe-uninitialized inside its own AVX-512 intrinsics as Eigen's
// packet transposes inline; the pragma covers the intrinsic headers, which Eigen/Core includes.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <Eigen/Core>
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>

#include "rlvr/config.hpp"
#include "rlvr/parallel.hpp"

namespace rlvr::detail::tfm {

inline constexpr index_t kRowBlock = 128; // rows per forward GEMM block
inline constexpr index_t kTileK = 64;     // weight-gradient tile: rows of dW
inline constexpr index_t kTileM = 128;    //                      columns of dW

template <class S> using rmat = Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
template <class S> using mmap = Eigen::Map<rmat<S>, Eigen::Unaligned, Eigen::OuterStride<>>;
template <class S> using cmap = Eigen::Map<const rmat<S>, Eigen::Unaligned, Eigen::OuterStride<>>;

template <class S> mmap<S> mv(S* p, index_t r, index_t c, index_t ld) { return mmap<S>(p, r, c, Eigen::OuterStride<>(ld)); }
template <class S> cmap<S> cv(const S* p, index_t r, index_t c, index_t ld) {
  return cmap<S>(p, r, c, Eigen::OuterStride<>(ld));
}

//! Y[N, M] (=|+=) X[N, K] · W[K, M] (+ bias[M]), over fixed blocks of `row_block` rows (and,
//! when `small` is set, of columns too) in parallel.
//!
//! `small` bounds every Eigen product so that its packing buffers (≤ 32 Ki floats each: 64 rows
//! × K and ⌊32 Ki / K⌋ columns × K) stay under Eigen's stack-allocation limit
//! (EIGEN_STACK_ALLOCATION_LIMIT, 128 KiB): the decode step then performs no heap allocation.
template <class S>
void gemm(const S* X, index_t ldx, const S* W, const S* bias, S* Y, index_t ldy, index_t N, index_t K, index_t M,
          int threads, bool accumulate = false, bool small = false) {
  const index_t rb = small ? std::min<index_t>(kRowBlock, std::max<index_t>(1, 32768 / std::max<index_t>(K, 1))) : kRowBlock;
  const index_t cb = small ? std::max<index_t>(16, (32768 / std::max<index_t>(K, 1)) / 16 * 16) : M;
  const index_t nb = (N + rb - 1) / rb;
  parallel_for(nb, threads, [&](index_t b0, index_t b1) {
    for (index_t blk = b0; blk < b1; ++blk) {
      const index_t r0 = blk * rb, rn = std::min(rb, N - r0);
      auto x = cv(X + r0 * ldx, rn, K, ldx);
      for (index_t c0 = 0; c0 < M; c0 += cb) {
        const index_t cn = std::min(cb, M - c0);
        auto y = mv(Y + r0 * ldy + c0, rn, cn, ldy);
        auto w = cv(W + c0, K, cn, M);
        if (accumulate) y.noalias() += x * w;
        else y.noalias() = x * w;
        if (bias) y.rowwise() += Eigen::Map<const Eigen::Matrix<S, 1, Eigen::Dynamic>>(bias + c0, cn);
      }
    }
  });
}

//! dX[N, K] (=|+=) dY[N, M] · W[K, M]ᵀ, over fixed row blocks.
template <class S>
void gemm_bt(const S* dY, index_t ldd, const S* W, S* dX, index_t ldx, index_t N, index_t K, index_t M, int threads,
             bool accumulate = false) {
  const index_t nb = (N + kRowBlock - 1) / kRowBlock;
  parallel_for(nb, threads, [&](index_t b0, index_t b1) {
    for (index_t blk = b0; blk < b1; ++blk) {
      const index_t r0 = blk * kRowBlock, rn = std::min(kRowBlock, N - r0);
      auto dx = mv(dX + r0 * ldx, rn, K, ldx);
      auto dy = cv(dY + r0 * ldd, rn, M, ldd);
      auto w = cv(W, K, M, M);
      if (accumulate) dx.noalias() += dy * w.transpose();
      else dx.noalias() = dy * w.transpose();
    }
  });
}

//! dW[K, M] += X[N, K]ᵀ · dY[N, M] and dbias[M] += Σ_n dY[n, :], over fixed tiles of dW.
template <class S>
void gemm_at(const S* X, index_t ldx, const S* dY, index_t ldd, S* dW, S* dbias, index_t N, index_t K, index_t M,
             int threads) {
  const index_t tk = (K + kTileK - 1) / kTileK, tm = (M + kTileM - 1) / kTileM;
  parallel_for(tk * tm, threads, [&](index_t t0, index_t t1) {
    for (index_t t = t0; t < t1; ++t) {
      const index_t k0 = (t / tm) * kTileK, m0 = (t % tm) * kTileM;
      const index_t kn = std::min(kTileK, K - k0), mn = std::min(kTileM, M - m0);
      auto dw = mv(dW + k0 * M + m0, kn, mn, M);
      dw.noalias() += cv(X + k0, N, kn, ldx).transpose() * cv(dY + m0, N, mn, ldd);
      if (dbias && k0 == 0) {
        auto db = Eigen::Map<Eigen::Matrix<S, 1, Eigen::Dynamic>>(dbias + m0, mn);
        for (index_t n = 0; n < N; ++n) db += Eigen::Map<const Eigen::Matrix<S, 1, Eigen::Dynamic>>(dY + n * ldd + m0, mn);
      }
    }
  });
}

//! LayerNorm over rows: xhat = (x − μ)/√(σ² + ε), y = xhat·γ + β; stores xhat and rstd when
//! given. Two-pass mean and variance (biased), vectorised per row.
template <class S>
void layernorm(const S* X, S* xhat, S* rstd, S* Y, const S* g, const S* b, index_t N, index_t d, S eps, int threads) {
  using row_t = Eigen::Array<S, 1, Eigen::Dynamic>;
  const auto G = Eigen::Map<const row_t>(g, d);
  const auto Bv = Eigen::Map<const row_t>(b, d);
  parallel_for(N, threads, [&](index_t r0, index_t r1) {
    for (index_t n = r0; n < r1; ++n) {
      const auto x = Eigen::Map<const row_t>(X + n * d, d);
      const S mean = x.sum() / static_cast<S>(d);
      const S var = (x - mean).square().sum() / static_cast<S>(d);
      const S rs = S(1) / std::sqrt(var + eps);
      if (rstd) rstd[n] = rs;
      auto y = Eigen::Map<row_t>(Y + n * d, d);
      if (xhat) {
        auto xh = Eigen::Map<row_t>(xhat + n * d, d);
        xh = (x - mean) * rs;
        y = xh * G + Bv;
      } else {
        y = (x - mean) * rs * G + Bv;
      }
    }
  }, 16);
}

//! LayerNorm backward: dX (+)= rstd·(dxhat − mean(dxhat) − xhat·mean(dxhat·xhat)), dxhat = dY·γ;
//! dγ += Σ dY·xhat, dβ += Σ dY (serial over rows: fixed order).
template <class S>
void layernorm_backward(const S* dY, const S* xhat, const S* rstd, const S* g, S* dX, S* dg, S* db, index_t N, index_t d,
                        int threads, bool accumulate) {
  using row_t = Eigen::Array<S, 1, Eigen::Dynamic>;
  const auto G = Eigen::Map<const row_t>(g, d);
  parallel_for(N, threads, [&](index_t r0, index_t r1) {
    for (index_t n = r0; n < r1; ++n) {
      const auto dy = Eigen::Map<const row_t>(dY + n * d, d);
      const auto xh = Eigen::Map<const row_t>(xhat + n * d, d);
      const S a = (dy * G).sum() / static_cast<S>(d);
      const S c = (dy * G * xh).sum() / static_cast<S>(d);
      auto dx = Eigen::Map<row_t>(dX + n * d, d);
      if (accumulate) dx += rstd[n] * (dy * G - a - xh * c);
      else dx = rstd[n] * (dy * G - a - xh * c);
    }
  }, 16);
  auto DG = Eigen::Map<row_t>(dg, d);
  auto DB = Eigen::Map<row_t>(db, d);
  for (index_t n = 0; n < N; ++n) {
    const auto dy = Eigen::Map<const row_t>(dY + n * d, d);
    DG += dy * Eigen::Map<const row_t>(xhat + n * d, d);
    DB += dy;
  }
}

// GELU, tanh form (GPT-2): g(u) = ½u(1 + tanh(c(u + 0.044715u³))), c = √(2/π).
template <class S> inline constexpr S gelu_c = static_cast<S>(0.7978845608028654);
template <class S> inline constexpr S gelu_a = static_cast<S>(0.044715);

//! G = gelu(U) elementwise, in place allowed, parallel over fixed row blocks.
template <class S> void gelu(const S* U, S* G, index_t N, index_t F, int threads) {
  const index_t nb = (N + kRowBlock - 1) / kRowBlock;
  parallel_for(nb, threads, [&](index_t b0, index_t b1) {
    for (index_t blk = b0; blk < b1; ++blk) { // one fixed block at a time: packet/tail split fixed
      const index_t r0 = blk * kRowBlock, r1 = std::min(N, r0 + kRowBlock);
      auto u = Eigen::Map<const Eigen::Array<S, Eigen::Dynamic, 1>>(U + r0 * F, (r1 - r0) * F);
      auto g = Eigen::Map<Eigen::Array<S, Eigen::Dynamic, 1>>(G + r0 * F, (r1 - r0) * F);
      g = S(0.5) * u * (S(1) + (gelu_c<S> * (u + gelu_a<S> * u * u * u)).tanh());
    }
  });
}

//! dU = dG · g'(U), g'(u) = ½(1 + t) + ½u(1 − t²)·c(1 + 3a u²), t = tanh(c(u + a u³)).
template <class S> void gelu_backward(const S* U, S* dG_to_dU, index_t N, index_t F, int threads) {
  const index_t nb = (N + kRowBlock - 1) / kRowBlock;
  parallel_for(nb, threads, [&](index_t b0, index_t b1) {
    for (index_t blk = b0; blk < b1; ++blk) {
      const index_t r0 = blk * kRowBlock, r1 = std::min(N, r0 + kRowBlock);
      auto u = Eigen::Map<const Eigen::Array<S, Eigen::Dynamic, 1>>(U + r0 * F, (r1 - r0) * F);
      auto dg = Eigen::Map<Eigen::Array<S, Eigen::Dynamic, 1>>(dG_to_dU + r0 * F, (r1 - r0) * F);
      for (index_t i = 0; i < u.size(); i += 1024) { // small slices: the tanh temporary stays in L1
        const index_t n = std::min<index_t>(1024, u.size() - i);
        auto us = u.segment(i, n);
        Eigen::Array<S, 1024, 1> t;
        t.head(n) = (gelu_c<S> * (us + gelu_a<S> * us * us * us)).tanh();
        auto th = t.head(n);
        dg.segment(i, n) *= S(0.5) * (S(1) + th) +
                            S(0.5) * us * (S(1) - th * th) * gelu_c<S> * (S(1) + S(3) * gelu_a<S> * us * us);
      }
    }
  });
}

} // namespace rlvr::detail::tfm
