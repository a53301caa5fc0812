#pragma once
//! \file rlvr/backends/xtensor.hpp
//! \brief The xtensor backend: rlvr's fused loss pass, forward log π / entropy and sampling over
//! `xt::xtensor` data, vectorised with xsimd, multi-threaded over rows; and zero-copy adapters
//! between xtensor containers and rlvr's views.
//!
//!     #include <rlvr/backends/xtensor.hpp>
//!     xt::xtensor<float, 2> logits = ...;                 // [N, V], row-major
//!     xt::xtensor<rlvr::token_t, 1> targets = ...;        // [N]
//!     xt::xtensor<float, 2> grad = xt::empty_like(logits);
//!     rlvr::xtensor_backend be{.threads = 2};
//!     auto diag = rlvr::loss_and_grad(be, rlvr::grpo(),
//!         rlvr::loss_token_batch<float>{.logits = rlvr::xt_matrix(logits), .targets = rlvr::xt_vector(targets), …},
//!         rlvr::xt_matrix(grad));
//!     xt::xtensor<float, 1> logp({n}), entropy({n});
//!     rlvr::log_prob_entropy(be, rlvr::xt_matrix(logits), rlvr::xt_vector(targets),
//!                            rlvr::xt_vector(logp), rlvr::xt_vector(entropy));
//!
//! The entry points (`rlvr::loss_and_grad`, `rlvr::log_prob_entropy`, `rlvr::sample`) are the
//! same for every backend; this header only provides the backend and the adapters (it includes
//! no entry point: backends sit below them).
//!
//! ## Adapters (no copies)
//! - `xt_matrix(c)` / `xt_vector(c)`: a `matrix_view` / `vector_view` over an xtensor container
//!   or adaptor (`xt::xtensor`, `xt::xarray`, `xt::xtensor_adaptor`, results of `xt::adapt`) with
//!   row-major element layout: the last stride must be 1, the row stride may be anything ≥ the
//!   row length (a column block of a wider tensor). Anything else (a transposed or lazily
//!   evaluated expression) is rejected with `rlvr::shape_error` naming the strides — evaluate it
//!   first, rlvr never stores a lazy expression.
//! - `as_xtensor(view)`: an `xt::adapt` over a view's memory, shape {rows, cols} and strides
//!   {row_stride, 1}, so rlvr outputs (a gradient in a caller buffer, a device-to-host copy) are
//!   used as xtensor expressions in place.
//!
//! ## Kernels
//! The two backend operations of `rlvr/backends/concepts.hpp`, per row, with x = z/τ:
//! - read pass: online log-sum-exp with entropy in chunks of 2048 elements (chunk maximum, then
//!   one `xsimd::exp` per element into lane-wise sums s = Σ e^{x−m}, t = Σ e^{x−m}(x−m), the
//!   difference x − m floored at −1000 so masked −inf entries add exactly 0); chunk sums are
//!   merged in double. lse = m + log s, H = log s − t/s (clamped at 0), log π = x_y − lse.
//! - write pass: g_v = p_v·(a + b·u_v) (+ t_y at v = y), u_v = (x_v − m) − log s floored at −1000,
//!   p_v = e^{u_v}, with (a, b, t_y) from `make_grad_plan` (`rlvr/objectives/row_math.hpp`):
//!   one exp and three FMAs per element; splitting lse into m + log s keeps u exact for logits of
//!   magnitude 1e4.
//! `xsimd::exp` is accurate to ~1 ulp; accumulation is in T lanes within a chunk and double
//! across chunks, so float results agree with the serial oracle to ~1e-6 relative.
//! Rows are split with `rlvr::parallel_for(rows, threads, …)`: results do not depend on the
//! thread count.
//!
//! ## Sampling
//! `xtensor_backend` models `SamplingBackend` (the shared host row sampler, rows over `threads`),
//! so `rlvr::sample(be, rlvr::xt_matrix(logits), config, streams)` draws on it.

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <limits>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include <xsimd/xsimd.hpp>
#include <xtensor/xadapt.hpp>
#include <xtensor/xtensor.hpp>

#include "rlvr/backends/concepts.hpp"
#include "rlvr/config.hpp"
#include "rlvr/error.hpp"
#include "rlvr/objectives/row_math.hpp"
#include "rlvr/sampling/detail/host_row.hpp"
#include "rlvr/sampling/processors.hpp"
#include "rlvr/sampling/streams.hpp"
#include "rlvr/parallel.hpp"
#include "rlvr/view.hpp"

namespace rlvr {

namespace detail::xsimd_rows {

//! Elements per chunk of the read pass (8 KiB of float stays in L1 between max and exp-sum).
inline constexpr index_t chunk = 2048;

//! The instruction set of the kernels: AVX2 (+FMA) where available, else xsimd's default. Not
//! AVX-512: GCC 12 warns (-Wmaybe-uninitialized, a false positive) inside its own AVX-512
//! intrinsics as xsimd inlines them, and on the CPUs rlvr targets AVX-512 exp is not faster.
#if XSIMD_WITH_AVX2
using arch = xsimd::avx2;
#else
using arch = xsimd::default_arch;
#endif
template <class T> using batch = xsimd::batch<T, arch>;
template <class T> inline constexpr index_t width = static_cast<index_t>(batch<T>::size);

template <class T> RLVR_FORCEINLINE batch<T> load_tail(const T* p, index_t n, T fill) {
  alignas(64) T buf[width<T>];
  for (index_t i = 0; i < width<T>; ++i) buf[i] = i < n ? p[i] : fill;
  return batch<T>::load_aligned(buf);
}
template <class T> RLVR_FORCEINLINE void store_tail(T* p, const batch<T>& v, index_t n) {
  alignas(64) T buf[width<T>];
  v.store_aligned(buf);
  for (index_t i = 0; i < n; ++i) p[i] = buf[i];
}
template <class T> RLVR_FORCEINLINE T hmax(const batch<T>& v) {
  alignas(64) T buf[width<T>];
  v.store_aligned(buf);
  T m = buf[0];
  for (index_t i = 1; i < width<T>; ++i) m = buf[i] > m ? buf[i] : m;
  return m;
}

//! The read pass of one row into rlvr's `lse_state` (m, s, t, bad) in double.
template <class T> lse_state<double> read_row(const T* z, index_t n, T inv_tau) {
  constexpr index_t W = width<T>;
  constexpr T ninf = -std::numeric_limits<T>::infinity();
  lse_state<double> st;
  const batch<T> itau(inv_tau), floor(static_cast<T>(exp_floor));
  for (index_t c0 = 0; c0 < n; c0 += chunk) {
    const index_t cn = std::min(chunk, n - c0);
    const T* p = z + c0;
    const index_t full = cn / W * W;
    batch<T> mx(ninf);
    auto bad = batch<T>(T(0)) != batch<T>(T(0)); // all false
    for (index_t j = 0; j < full; j += W) {
      const batch<T> x = batch<T>::load_unaligned(p + j);
      mx = xsimd::max(mx, x);
      bad = bad | xsimd::isnan(x);
    }
    if (full < cn) {
      const batch<T> x = load_tail(p + full, cn - full, ninf);
      mx = xsimd::max(mx, x);
      bad = bad | xsimd::isnan(x);
    }
    const T cmax = hmax(mx);
    if (xsimd::any(bad) || cmax == std::numeric_limits<T>::infinity()) {
      st.bad = true;
      return st;
    }
    if (cmax == ninf) continue; // a fully masked chunk adds nothing
    lse_rebase(st, static_cast<double>(cmax * inv_tau));
    const batch<T> neg_m(static_cast<T>(-st.m));
    batch<T> s(T(0)), t(T(0));
    for (index_t j = 0; j < full; j += W) {
      const batch<T> d = xsimd::max(xsimd::fma(batch<T>::load_unaligned(p + j), itau, neg_m), floor);
      const batch<T> e = xsimd::exp(d);
      s += e;
      t = xsimd::fma(e, d, t);
    }
    if (full < cn) {
      const batch<T> d = xsimd::max(xsimd::fma(load_tail(p + full, cn - full, ninf), itau, neg_m), floor);
      const batch<T> e = xsimd::exp(d);
      s += e;
      t = xsimd::fma(e, d, t);
    }
    st.s += static_cast<double>(xsimd::hadd(s));
    st.t += static_cast<double>(xsimd::hadd(t));
  }
  return st;
}

//! The write pass: g_v = p_v·(a + b·u_v), u_v = max((x_v − m) − log_s, −1000). `g` may be `z`.
template <class T> void write_row(const T* z, T* g, index_t n, T inv_tau, T m, T log_s, T a, T b) {
  constexpr index_t W = width<T>;
  const batch<T> itau(inv_tau), neg_m(-m), ls(log_s), va(a), vb(b), floor(static_cast<T>(exp_floor));
  const index_t full = n / W * W;
  for (index_t j = 0; j < full; j += W) {
    const batch<T> u = xsimd::max(xsimd::fma(batch<T>::load_unaligned(z + j), itau, neg_m) - ls, floor);
    (xsimd::exp(u) * xsimd::fma(vb, u, va)).store_unaligned(g + j);
  }
  if (full < n) {
    const batch<T> u =
        xsimd::max(xsimd::fma(load_tail(z + full, n - full, -std::numeric_limits<T>::infinity()), itau, neg_m) - ls,
                   floor);
    store_tail(g + full, xsimd::exp(u) * xsimd::fma(vb, u, va), n - full);
  }
}

} // namespace detail::xsimd_rows

//! The xtensor backend (xsimd kernels, `threads` worker threads over rows; 0 = all hardware
//! threads). Models `HostBackend` and `LossBackend<·, float>` / `LossBackend<·, double>`.
struct xtensor_backend {
  static constexpr bool host_backend = true;
  int threads = 0; //!< threads for the row loop; 0 = `rlvr::default_num_threads()`

  //! Sampling (`rlvr::SamplingBackend`, called by `rlvr::sample`): the host row sampler of
  //! `rlvr/sampling/processors.hpp` on every row, rows split over `threads`.
  template <class T>
  void sample_rows(matrix_view<const T> z, const sampling_params& p, const stream_batch& streams,
                   vector_view<token_draw<T>> out, vector_view<std::uint8_t> status) const {
    detail::sample_rows_host(z, p, streams, out, status, threads);
  }

  //! Operation 1 (see concepts.hpp): log π(target) and entropy per row. `logp` (with `targets`)
  //! and `entropy` may each be empty.
  template <class T>
  void logp_entropy(matrix_view<const T> z, vector_view<const token_t> y, T temperature, vector_view<T> logp,
                    vector_view<T> entropy) const {
    const T inv_tau = T(1) / temperature;
    parallel_for(
        z.rows(), threads,
        [&](index_t b, index_t e) {
          for (index_t i = b; i < e; ++i) {
            const T* row = z.row(i).data();
            const lse_state<double> st = detail::xsimd_rows::read_row(row, z.cols(), inv_tau);
            const double xt = logp.empty() ? 0.0 : static_cast<double>(row[y[i]] * inv_tau);
            const row_stats<T> s = lse_finish<T>(st, xt);
            if (!logp.empty()) logp[i] = s.logp;
            if (!entropy.empty()) entropy[i] = s.entropy;
          }
        },
        rows_per_chunk(z.cols()));
  }

  //! Operation 2 (see concepts.hpp): the fused pass. `g` may alias `z` exactly (in place).
  template <class T, class E>
    requires RowEpilogue<E, T>
  void fused_rows(matrix_view<const T> z, vector_view<const token_t> y, T temperature, const E& ep,
                  matrix_view<T> g) const {
    const T inv_tau = T(1) / temperature;
    const index_t v = z.cols();
    parallel_for(
        z.rows(), threads,
        [&](index_t b, index_t e) {
          for (index_t i = b; i < e; ++i) {
            T* out = g.row(i).data();
            if (!ep.active(i)) {
              std::fill(out, out + v, T(0));
              continue;
            }
            const T* in = z.row(i).data();
            const lse_state<double> st = detail::xsimd_rows::read_row(in, v, inv_tau);
            const row_stats<T> s = lse_finish<T>(st, static_cast<double>(in[y[i]] * inv_tau));
            const row_coeffs<T> c = ep(i, s);
            if (!(s.lse == s.lse)) { // bad row: the epilogue recorded it
              std::fill(out, out + v, T(0));
              continue;
            }
            const row_grad_plan<T> plan = make_grad_plan(s, c, inv_tau);
            detail::xsimd_rows::write_row(in, out, v, inv_tau, static_cast<T>(st.m), static_cast<T>(std::log(st.s)),
                                          plan.a, plan.b);
            out[y[i]] += plan.target;
          }
        },
        rows_per_chunk(v));
  }

private:
  //! At least ~16k logits per parallel chunk, so small vocabularies do not pay a wake-up per row.
  static index_t rows_per_chunk(index_t cols) { return std::max<index_t>(1, 16384 / std::max<index_t>(cols, 1)); }
};
static_assert(HostBackend<xtensor_backend>);
static_assert(LossBackend<xtensor_backend, float>);
static_assert(LossBackend<xtensor_backend, double>);
static_assert(Backend<xtensor_backend>);
static_assert(SamplingBackend<xtensor_backend, float>);
static_assert(SamplingBackend<xtensor_backend, double>);

namespace detail {
template <class C> using xt_value_t = std::remove_const_t<typename std::remove_reference_t<C>::value_type>;
template <class C>
using xt_elem_t = std::conditional_t<std::is_const_v<std::remove_reference_t<C>>, const xt_value_t<C>, xt_value_t<C>>;
//! Address of element (0, …, 0): `data()` plus `data_offset()` (non-zero for views such as
//! `xt::view(t, xt::all(), xt::range(1, 4))`).
template <class C> auto* xt_first(C& c) {
  if constexpr (requires { c.data_offset(); })
    return c.data() + c.data_offset();
  else
    return c.data();
}
} // namespace detail

//! A row-major `matrix_view` over a 2-D xtensor container or adaptor, without a copy. Throws
//! `rlvr::shape_error` unless the container is 2-D with unit column stride and a row stride ≥
//! its number of columns.
template <class C>
  requires requires(C& c) {
    c.data();
    c.shape();
    c.strides();
  }
matrix_view<detail::xt_elem_t<C>> xt_matrix(C& c) {
  RLVR_EXPECTS(c.dimension() == 2, shape, "xt_matrix: a ", c.dimension(), "-D container (need 2-D)");
  const auto rows = static_cast<index_t>(c.shape()[0]), cols = static_cast<index_t>(c.shape()[1]);
  const auto s0 = static_cast<index_t>(c.strides()[0]), s1 = static_cast<index_t>(c.strides()[1]);
  RLVR_EXPECTS((s1 == 1 || cols <= 1) && (s0 >= cols || rows <= 1), shape, "xt_matrix: strides (", s0, ", ", s1,
               ") of a ", rows, "x", cols, " container are not row-major with unit column stride; evaluate it into a "
               "row-major xt::xtensor first");
  return make_matrix_view(detail::xt_first(c), rows, cols, rows <= 1 ? cols : s0);
}

//! A `vector_view` over a 1-D xtensor container or adaptor with unit stride, without a copy.
template <class C>
  requires requires(C& c) {
    c.data();
    c.shape();
    c.strides();
  }
vector_view<detail::xt_elem_t<C>> xt_vector(C& c) {
  RLVR_EXPECTS(c.dimension() == 1, shape, "xt_vector: a ", c.dimension(), "-D container (need 1-D)");
  const auto n = static_cast<index_t>(c.shape()[0]);
  RLVR_EXPECTS(n <= 1 || c.strides()[0] == 1, shape, "xt_vector: stride ", c.strides()[0], " (need 1)");
  return {detail::xt_first(c), n};
}

//! An xtensor adaptor over a view's memory (shape {rows, cols}, strides {row_stride, 1}); no copy.
//! The adaptor refers to the view's memory and must not outlive it.
template <class T> auto as_xtensor(matrix_view<T> m) {
  // xtensor sizes an adaptor's buffer as rows·cols whatever the strides (it never walks a
  // non-contiguous buffer linearly), so that is the size it must be given.
  const auto span = static_cast<std::size_t>(m.rows() * m.cols());
  const std::array<std::size_t, 2> shape{static_cast<std::size_t>(m.rows()), static_cast<std::size_t>(m.cols())};
  const std::array<std::ptrdiff_t, 2> strides{m.row_stride(), 1};
  return xt::adapt(m.data(), span, xt::no_ownership(), shape, strides);
}
//! An xtensor adaptor over a vector view's memory; no copy.
template <class T> auto as_xtensor(vector_view<T> v) {
  const std::array<std::size_t, 1> shape{static_cast<std::size_t>(v.size())};
  return xt::adapt(v.data(), static_cast<std::size_t>(v.size()), xt::no_ownership(), shape);
}

} // namespace rlvr
