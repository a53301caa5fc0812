#pragma once
// A user's own tensor type made into an rlvr backend, in one short header.
//
// `mylib::strided_tensor<T>` stands for the tensor type of "your" library: a plain strided buffer
// (pointer, rows, cols, row stride) with its own element-wise and row-reduction helpers. To run
// rlvr's objectives on it, a backend type provides the two row operations of
// rlvr/backends/concepts.hpp — written here with the library's own row loops and rlvr's shared
// per-element math (rlvr/objectives/row_math.hpp), so the numerics are rlvr's, the loops are
// yours — plus a zero-copy conversion to rlvr's views. See docs/backends.md.
#include <cstddef>
#include <limits>
#include <vector>

#include <rlvr/backends/concepts.hpp>
#include <rlvr/objectives/row_math.hpp>
#include <rlvr/parallel.hpp>
#include <rlvr/view.hpp>

namespace mylib {

// ---- the user's tensor type (exists before rlvr) -----------------------------------------------------
template <class T> struct strided_tensor {
  T* data = nullptr;
  std::ptrdiff_t rows = 0, cols = 0, row_stride = 0;
  T& operator()(std::ptrdiff_t i, std::ptrdiff_t j) const { return data[i * row_stride + j]; }
  T* row(std::ptrdiff_t i) const { return data + i * row_stride; }
};
// the library's own row loop: f(i) for every row, on `threads` threads
template <class F> void for_each_row(std::ptrdiff_t rows, int threads, F&& f) {
  rlvr::parallel_for(rows, threads, [&](rlvr::index_t b, rlvr::index_t e) {
    for (rlvr::index_t i = b; i < e; ++i) f(i);
  });
}

// ---- the rlvr backend ---------------------------------------------------------------------------------
struct rlvr_backend {
  static constexpr bool host_backend = true; // data in host memory: rlvr's entry points accept it
  int threads = 1;

  // Operation 1: log π(target) and entropy per row (either output may be empty).
  template <class T>
  void logp_entropy(rlvr::matrix_view<const T> z, rlvr::vector_view<const rlvr::token_t> y, T temperature,
                    rlvr::vector_view<T> logp, rlvr::vector_view<T> entropy) const {
    const double inv_tau = 1.0 / static_cast<double>(temperature);
    for_each_row(z.rows(), threads, [&](std::ptrdiff_t i) {
      const rlvr::row_stats<double> s = read(z.row(i).data(), z.cols(), inv_tau, logp.empty() ? -1 : y[i]);
      if (!logp.empty()) logp[i] = static_cast<T>(s.logp);
      if (!entropy.empty()) entropy[i] = static_cast<T>(s.entropy);
    });
  }

  // Operation 2: the fused loss pass — ask the epilogue for the row's coefficients, write the
  // gradient row once. `g` may alias `z` (in place).
  template <class T, class E>
    requires rlvr::RowEpilogue<E, T>
  void fused_rows(rlvr::matrix_view<const T> z, rlvr::vector_view<const rlvr::token_t> y, T temperature, const E& ep,
                  rlvr::matrix_view<T> g) const {
    const double inv_tau = 1.0 / static_cast<double>(temperature);
    for_each_row(z.rows(), threads, [&](std::ptrdiff_t i) {
      T* out = g.row(i).data();
      const T* in = z.row(i).data();
      const std::ptrdiff_t v = z.cols();
      if (!ep.active(i)) {
        for (std::ptrdiff_t j = 0; j < v; ++j) out[j] = T(0);
        return;
      }
      // Statistics in double: for logits of magnitude 1e4 a float lse is off by ~1e-3, which the
      // conformance suite detects. The epilogue sees them in T.
      const rlvr::row_stats<double> s = read(in, v, inv_tau, y[i]);
      const rlvr::row_coeffs<T> c =
          ep(i, rlvr::row_stats<T>{static_cast<T>(s.lse), static_cast<T>(s.entropy), static_cast<T>(s.logp)});
      if (!(s.lse == s.lse)) { // NaN/+inf or all −inf: the epilogue has recorded it
        for (std::ptrdiff_t j = 0; j < v; ++j) out[j] = T(0);
        return;
      }
      const auto plan = rlvr::make_grad_plan<double>(s, {c.dlogp, c.dentropy}, inv_tau);
      for (std::ptrdiff_t j = 0; j < v; ++j) out[j] = rlvr::grad_element(in[j], inv_tau, s.lse, plan);
      out[y[i]] = static_cast<T>(static_cast<double>(out[y[i]]) + plan.target);
    });
  }

private:
  template <class T> static rlvr::row_stats<double> read(const T* r, std::ptrdiff_t v, double inv_tau, std::ptrdiff_t y) {
    rlvr::lse_state<double> st;
    // rlvr's rule (conformance check scale_overflow): a scaled logit beyond T's range is +inf, a bad row
    constexpr double top = static_cast<double>(std::numeric_limits<T>::max());
    for (std::ptrdiff_t j = 0; j < v; ++j) {
      const double x = static_cast<double>(r[j]) * inv_tau;
      rlvr::lse_push(st, x > top ? std::numeric_limits<double>::infinity() : x);
    }
    return rlvr::lse_finish<double>(st, y >= 0 ? static_cast<double>(r[y]) * inv_tau : 0.0);
  }
};
static_assert(rlvr::HostBackend<rlvr_backend>);
static_assert(rlvr::LossBackend<rlvr_backend, float> && rlvr::LossBackend<rlvr_backend, double>);

// ---- zero-copy conversions ----------------------------------------------------------------------------
template <class T> rlvr::matrix_view<T> view(const strided_tensor<T>& t) {
  return rlvr::make_matrix_view(t.data, t.rows, t.cols, t.row_stride);
}
template <class T> rlvr::matrix_view<const T> cview(const strided_tensor<T>& t) { return view(t); }

} // namespace mylib
