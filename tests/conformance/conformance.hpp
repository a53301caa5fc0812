#pragma once
// rlvr's backend conformance suite: everything a type must do to be an rlvr backend, checked
// against the serial oracle. A user runs it on their own backend with one CMake call
// (cmake/rlvr_conformance.cmake):
//
//   rlvr_add_backend_conformance(NAME mine BACKEND my::backend HEADER my/backend.hpp LINK my_lib)
//
// which compiles `rlvr::conformance::run<my::backend>(my::backend{}, "mine", argc, argv)` into a
// test. No test framework is needed (a small harness is built in); the program prints one line
// per check and exits 0 (all passed), 1 (a check failed) or 77 (skipped: e.g. no GPU).
//
// What is checked, for float logits and — where the backend models LossBackend<B, double> —
// double logits:
//   spec_vectors         rlvr-math.md §6: log π, H, ∂(−log π)/∂z and ∂H/∂z at z = [2, 1, 0]
//   oracle_agreement     logp_entropy and fused_rows vs rlvr::serial_backend on random rows:
//                        contiguous, strided, masked (−inf), |z| ~ 1e4, temperature 0.6, V = 1,
//                        inactive rows (zero gradient, epilogue not called)
//   in_place             gradient written over the logits
//   bad_rows             NaN, +inf and all −inf rows reach the epilogue as lse = NaN, zero gradient
//   scale_overflow       a finite logit z whose z/τ overflows the logit type (τ = 1e-30 for float,
//                        1e-300 for double) makes a bad row, exactly as +inf does; a row whose
//                        scaled logits fit (or underflow to −inf) is computed as usual
//   deterministic        two identical calls give bitwise identical results
//   optional_outputs     logp_entropy with an empty entropy view / entropy only
// and, for every backend that models rlvr::Backend (host or device memory alike), through rlvr's
// public entry points:
//   entry_points         rlvr::loss_and_grad (GRPO, token-mean; W-REINFORCE) equals the oracle's
//                        diagnostics and gradient; rlvr::log_prob_entropy equals the oracle's;
//                        for a SamplingBackend, rlvr::sample equals the oracle's draws (also with
//                        per-row stream arrays, and greedy)
//   entry_point_errors   the objectives engine's bad-input errors (target out of range, NaN row,
//                        a temperature whose reciprocal overflows the logit type: 1e-39 for float
//                        is a config error before the backend runs; z/τ overflowing: numerical)
//   zoo_objectives       the objective zoo through rlvr::loss_and_grad equals the oracle: CISPO,
//                        SAPO, k3+, GSPO, GMPO, Clip-Cov, KL-Cov, DAPO, high-entropy selection,
//                        TIS and rollout masks (token and sequence level), in float and double
//
// Backends whose memory is not host memory (a GPU) specialise `rlvr::conformance::memory<B>`
// (see below and conformance_cuda.cuh).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <limits>
#include <sstream>
#include <string>
#include <type_traits>
#include <vector>

#include "rlvr/backends/concepts.hpp"
#include "rlvr/backends/serial.hpp"
#include "rlvr/config.hpp"
#include "rlvr/loss.hpp"
#include "rlvr/random/philox.hpp"
#include "rlvr/sampling/sampler.hpp"
#include "rlvr/view.hpp"

namespace rlvr::conformance {

// ---- where a backend's data lives -------------------------------------------------------------------
//! How the suite moves data to and from a backend's memory. The default is host memory.
//! A specialisation provides: `buffer<T>` (owning), `upload(std::vector<T>) -> buffer<T>`,
//! `download(const buffer<T>&) -> std::vector<T>`, `data(buffer<T>&) -> T*`, and
//! `synchronize(const B&)` (wait for the backend's asynchronous work).
template <class B> struct memory {
  template <class T> using buffer = std::vector<T>;
  template <class T> static buffer<T> upload(const std::vector<T>& h) { return h; }
  template <class T> static std::vector<T> download(const buffer<T>& b) { return b; }
  template <class T> static T* data(buffer<T>& b) { return b.data(); }
  static void synchronize(const B&) {}
  //! Non-null: the suite cannot run here (the program exits 77, "skipped").
  static const char* skip_reason() { return nullptr; }
};

// ---- a tiny harness -----------------------------------------------------------------------------------
struct results {
  int checks = 0;
  int failures = 0;
  std::string current;
};
inline results& state() {
  static results r;
  return r;
}
template <class... A> std::string str(const A&... a) {
  std::ostringstream os;
  os.precision(10);
  (os << ... << a);
  return os.str();
}
inline void expect(bool ok, const std::string& what, const char* file, int line) {
  ++state().checks;
  if (ok) return;
  ++state().failures;
  std::fprintf(stderr, "%s:%d: [%s] FAILED: %s\n", file, line, state().current.c_str(), what.c_str());
}
#define RLVR_CONF_CHECK(cond, ...) ::rlvr::conformance::expect((cond), ::rlvr::conformance::str(#cond, " ", __VA_ARGS__), __FILE__, __LINE__)

template <class T> constexpr double tolerance() { return std::is_same_v<T, float> ? 2e-5 : 1e-11; }

// ---- the probe epilogue -------------------------------------------------------------------------------
//! Records the row statistics it is given (in backend memory) and returns per-row coefficients
//! dlogp = c_lp[i], dentropy = c_h[i]; rows with `active[i] == 0` must not be visited.
template <class T> struct probe_epilogue {
  const std::uint8_t* active_flags;
  const T* c_lp;
  const T* c_h;
  T* lse;
  T* entropy;
  T* logp;
  std::uint8_t* visited;
  RLVR_HD bool active(index_t i) const { return active_flags[i] != 0; }
  RLVR_HD row_coeffs<T> operator()(index_t i, const row_stats<T>& s) const {
    lse[i] = s.lse;
    entropy[i] = s.entropy;
    logp[i] = s.logp;
    visited[i] = 1;
    return {c_lp[i], c_h[i]};
  }
};
static_assert(RowEpilogue<probe_epilogue<float>, float>);

// ---- one problem, run on a backend --------------------------------------------------------------------
template <class T> struct problem {
  index_t rows = 0, cols = 0, stride = 0;
  T temperature = T(1);
  std::vector<T> z;
  std::vector<token_t> y;
  std::vector<std::uint8_t> active;
  std::vector<T> c_lp, c_h;
};

template <class T> struct outcome {
  std::vector<T> grad, lse, entropy, logp, f_logp, f_entropy;
  std::vector<std::uint8_t> visited;
};

template <class B, class T> outcome<T> run_problem(const B& be, const problem<T>& p, bool in_place) {
  using M = memory<B>;
  const auto n = static_cast<std::size_t>(p.rows);
  auto z = M::upload(p.z);
  auto y = M::upload(p.y);
  auto act = M::upload(p.active);
  auto clp = M::upload(p.c_lp);
  auto ch = M::upload(p.c_h);
  auto g = M::upload(std::vector<T>(p.z.size(), T(-7))); // poison: every element must be written
  auto lse = M::upload(std::vector<T>(n, T(0)));
  auto ent = M::upload(std::vector<T>(n, T(0)));
  auto lp = M::upload(std::vector<T>(n, T(0)));
  auto flp = M::upload(std::vector<T>(n, T(0)));
  auto fent = M::upload(std::vector<T>(n, T(0)));
  auto vis = M::upload(std::vector<std::uint8_t>(n, 0));
  const probe_epilogue<T> ep{M::data(act), M::data(clp), M::data(ch), M::data(lse), M::data(ent), M::data(lp), M::data(vis)};
  using S = memory_space_t<B>;
  const matrix_view<const T, S> zv(M::data(z), p.rows, p.cols, p.stride);
  const vector_view<const token_t, S> yv(M::data(y), p.rows);
  be.logp_entropy(zv, yv, p.temperature, vector_view<T, S>(M::data(flp), p.rows), vector_view<T, S>(M::data(fent), p.rows));
  const matrix_view<T, S> gv(in_place ? M::data(z) : M::data(g), p.rows, p.cols, p.stride);
  be.fused_rows(zv, yv, p.temperature, ep, gv);
  M::synchronize(be);
  outcome<T> o;
  o.grad = in_place ? M::download(z) : M::download(g);
  o.lse = M::download(lse);
  o.entropy = M::download(ent);
  o.logp = M::download(lp);
  o.f_logp = M::download(flp);
  o.f_entropy = M::download(fent);
  o.visited = M::download(vis);
  return o;
}

inline double rel_err(double a, double b) {
  if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b) ? 0.0 : 1e300;
  if (std::isinf(a) || std::isinf(b)) return a == b ? 0.0 : 1e300;
  return std::abs(a - b) / std::max(1.0, std::abs(b));
}

template <class B, class T> void compare(const B& be, const problem<T>& p, bool in_place, const char* label) {
  const auto ref = run_problem(serial_backend{}, p, in_place);
  const auto got = run_problem(be, p, in_place);
  const double tol = tolerance<T>();
  double gmax = 0;
  for (index_t i = 0; i < p.rows; ++i)
    for (index_t v = 0; v < p.cols; ++v)
      gmax = std::max(gmax, std::abs(static_cast<double>(ref.grad[static_cast<std::size_t>(i * p.stride + v)])));
  gmax = std::max(gmax, 1e-30);
  double worst = 0;
  int unwritten = 0;
  for (index_t i = 0; i < p.rows; ++i) {
    const auto u = static_cast<std::size_t>(i);
    const bool act = p.active[u] != 0;
    RLVR_CONF_CHECK(got.visited[u] == (act ? 1 : 0), label, ": row ", i, act ? " active but not visited" : " inactive but visited");
    if (act) {
      RLVR_CONF_CHECK(rel_err(got.lse[u], ref.lse[u]) <= tol, label, ": lse row ", i, ": ", got.lse[u], " vs ", ref.lse[u]);
      RLVR_CONF_CHECK(rel_err(got.entropy[u], ref.entropy[u]) <= 10 * tol, label, ": entropy row ", i, ": ", got.entropy[u], " vs ", ref.entropy[u]);
      RLVR_CONF_CHECK(rel_err(got.logp[u], ref.logp[u]) <= 10 * tol, label, ": logp row ", i, ": ", got.logp[u], " vs ", ref.logp[u]);
    }
    RLVR_CONF_CHECK(rel_err(got.f_logp[u], ref.f_logp[u]) <= 10 * tol, label, ": forward logp row ", i, ": ", got.f_logp[u], " vs ", ref.f_logp[u]);
    RLVR_CONF_CHECK(rel_err(got.f_entropy[u], ref.f_entropy[u]) <= 10 * tol, label, ": forward entropy row ", i, ": ", got.f_entropy[u], " vs ", ref.f_entropy[u]);
    for (index_t v = 0; v < p.cols; ++v) {
      const auto k = static_cast<std::size_t>(i * p.stride + v);
      const double a = static_cast<double>(got.grad[k]), b = static_cast<double>(ref.grad[k]);
      if (!act || std::isnan(static_cast<double>(ref.lse[u]))) {
        unwritten += a != 0.0;
        continue;
      }
      worst = std::max(worst, std::abs(a - b) / gmax);
    }
  }
  RLVR_CONF_CHECK(unwritten == 0, label, ": ", unwritten, " gradient entries of inactive or bad rows are not 0");
  const double gtol = std::is_same_v<T, float> ? 1e-5 : 1e-11;
  RLVR_CONF_CHECK(worst <= gtol, label, ": worst gradient difference ", worst, " (relative to max |grad|)");
}

template <class T> problem<T> random_problem(index_t rows, index_t cols, index_t stride, double scale, double tau,
                                             bool masked, std::uint64_t seed) {
  philox_engine eng(seed, 77);
  problem<T> p;
  p.rows = rows;
  p.cols = cols;
  p.stride = stride;
  p.temperature = static_cast<T>(tau);
  p.z.assign(static_cast<std::size_t>(rows * stride), T(0));
  for (auto& v : p.z) v = static_cast<T>(scale * (2.0 * eng.uniform() - 1.0));
  for (index_t i = 0; i < rows; ++i) {
    const auto yi = static_cast<token_t>(eng.uniform_index(static_cast<std::uint32_t>(cols)));
    p.y.push_back(yi);
    if (masked)
      for (index_t v = 0; v < cols; v += 3)
        if (v != yi) p.z[static_cast<std::size_t>(i * stride + v)] = -std::numeric_limits<T>::infinity();
    p.active.push_back(i % 7 == 6 ? 0 : 1);
    p.c_lp.push_back(static_cast<T>(2.0 * eng.uniform() - 1.0));
    p.c_h.push_back(static_cast<T>(0.1 * (2.0 * eng.uniform() - 1.0)));
  }
  return p;
}

// ---- the checks -----------------------------------------------------------------------------------------
template <class B, class T> void spec_vectors(const B& be) {
  problem<T> p;
  p.rows = 2;
  p.cols = p.stride = 3;
  p.z = {2, 1, 0, 2, 1, 0};
  p.y = {0, 0};
  p.active = {1, 1};
  p.c_lp = {T(-1), T(0)}; // row 0: ℓ = −log π (A = +1); row 1: ℓ = H
  p.c_h = {T(0), T(1)};
  const auto o = run_problem(be, p, false);
  const double g[3] = {-0.3347590442251782, 0.24472847105479764, 0.09003057317038046};
  const double dh[3] = {-0.28258745107944216, 0.14077035746963013, 0.14181709360981215};
  const double tol = std::is_same_v<T, float> ? 1e-6 : 1e-14;
  for (int v = 0; v < 3; ++v) {
    RLVR_CONF_CHECK(std::abs(o.grad[static_cast<std::size_t>(v)] - g[v]) <= tol, "grad[", v, "] = ", o.grad[static_cast<std::size_t>(v)]);
    RLVR_CONF_CHECK(std::abs(o.grad[static_cast<std::size_t>(3 + v)] - dh[v]) <= tol, "dH[", v, "] = ", o.grad[static_cast<std::size_t>(3 + v)]);
  }
  RLVR_CONF_CHECK(std::abs(o.entropy[0] - 0.8323955818399389) <= tol, "H = ", o.entropy[0]);
  RLVR_CONF_CHECK(std::abs(o.logp[0] - std::log(0.6652409557748218)) <= tol, "log pi = ", o.logp[0]);
  RLVR_CONF_CHECK(std::abs(o.f_entropy[1] - 0.8323955818399389) <= tol, "forward H = ", o.f_entropy[1]);
}

template <class B, class T> void oracle_agreement(const B& be) {
  compare(be, random_problem<T>(29, 1000, 1000, 4.0, 1.0, false, 1), false, "contiguous");
  compare(be, random_problem<T>(13, 4099, 4110, 3.0, 1.0, false, 2), false, "strided rows");
  compare(be, random_problem<T>(11, 2051, 2051, 3.0, 1.0, true, 3), false, "masked -inf");
  compare(be, random_problem<T>(7, 3000, 3000, 1e4, 1.0, false, 4), false, "|z| ~ 1e4");
  compare(be, random_problem<T>(9, 777, 780, 5.0, 0.6, false, 5), false, "temperature 0.6");
  compare(be, random_problem<T>(4, 1, 1, 1.0, 1.0, false, 6), false, "V = 1");
  compare(be, random_problem<T>(3, 70000, 70000, 2.0, 1.0, false, 7), false, "V = 70000");
}

template <class B, class T> void in_place(const B& be) {
  compare(be, random_problem<T>(21, 1500, 1500, 3.0, 1.0, false, 8), true, "in place");
  compare(be, random_problem<T>(5, 999, 1001, 3.0, 0.8, true, 9), true, "in place, strided, masked");
}

template <class B, class T> void bad_rows(const B& be) {
  constexpr T inf = std::numeric_limits<T>::infinity();
  problem<T> p;
  p.rows = 4;
  p.cols = p.stride = 3;
  p.z = {0, 1, 2, std::numeric_limits<T>::quiet_NaN(), 1, 2, 0, inf, 1, -inf, -inf, -inf};
  p.y = {0, 1, 0, 2};
  p.active = {1, 1, 1, 1};
  p.c_lp = {T(1), T(1), T(1), T(1)};
  p.c_h = {T(0), T(0), T(0), T(0)};
  const auto o = run_problem(be, p, false);
  RLVR_CONF_CHECK(std::isfinite(static_cast<double>(o.lse[0])), "good row lse ", o.lse[0]);
  for (std::size_t i = 1; i < 4; ++i) {
    RLVR_CONF_CHECK(std::isnan(static_cast<double>(o.lse[i])), "bad row ", i, " lse = ", o.lse[i], " (NaN expected)");
    RLVR_CONF_CHECK(std::isnan(static_cast<double>(o.f_logp[i])), "bad row ", i, " forward logp = ", o.f_logp[i]);
    for (std::size_t v = 0; v < 3; ++v)
      RLVR_CONF_CHECK(o.grad[i * 3 + v] == T(0), "bad row ", i, " grad[", v, "] = ", o.grad[i * 3 + v]);
  }
}

template <class B, class T> void scale_overflow(const B& be) {
  // τ with 1/τ finite in T, and logits whose scaled values z/τ overflow T (row 0), fit (row 1),
  // or underflow towards −inf (row 2: probability 0, not an error)
  const bool is_float = std::is_same_v<T, float>;
  const T tau = is_float ? T(1e-30) : T(1e-300);
  const T small = is_float ? T(1e-31) : T(1e-301); // small / τ = 0.1
  problem<T> p;
  p.rows = 3;
  p.cols = p.stride = 3;
  p.temperature = tau;
  p.z = {T(1e9), T(0), T(1), T(0), small, T(2) * small, T(-1e9), T(0), small};
  p.y = {1, 2, 2};
  p.active = {1, 1, 1};
  p.c_lp = {T(1), T(1), T(1)};
  p.c_h = {T(0), T(0), T(0)};
  const auto o = run_problem(be, p, false);
  RLVR_CONF_CHECK(std::isnan(static_cast<double>(o.lse[0])), "overflowing row lse = ", o.lse[0], " (NaN expected)");
  RLVR_CONF_CHECK(std::isnan(static_cast<double>(o.f_logp[0])), "overflowing row forward logp = ", o.f_logp[0]);
  for (std::size_t v = 0; v < 3; ++v)
    RLVR_CONF_CHECK(o.grad[v] == T(0), "overflowing row grad[", v, "] = ", o.grad[v]);
  compare(be, p, false, "scale overflow");
  for (std::size_t i = 1; i < 3; ++i)
    RLVR_CONF_CHECK(std::isfinite(static_cast<double>(o.lse[i])) && std::isfinite(static_cast<double>(o.f_logp[i])),
                    "row ", i, " lse = ", o.lse[i], ", logp = ", o.f_logp[i], " (finite expected)");
}

template <class B, class T> void deterministic(const B& be) {
  const auto p = random_problem<T>(40, 5000, 5000, 3.0, 0.9, false, 10);
  const auto a = run_problem(be, p, false), b = run_problem(be, p, false);
  RLVR_CONF_CHECK(std::memcmp(a.grad.data(), b.grad.data(), a.grad.size() * sizeof(T)) == 0, "gradients differ between calls");
  RLVR_CONF_CHECK(std::memcmp(a.lse.data(), b.lse.data(), a.lse.size() * sizeof(T)) == 0, "lse differs between calls");
}

template <class B, class T> void optional_outputs(const B& be) {
  using M = memory<B>;
  const auto p = random_problem<T>(6, 300, 300, 3.0, 1.0, false, 11);
  auto z = M::upload(p.z);
  auto y = M::upload(p.y);
  auto a = M::upload(std::vector<T>(6, T(0)));
  auto h = M::upload(std::vector<T>(6, T(0)));
  using S = memory_space_t<B>;
  const matrix_view<const T, S> zv(M::data(z), 6, 300);
  be.logp_entropy(zv, vector_view<const token_t, S>(M::data(y), 6), T(1), vector_view<T, S>(M::data(a), 6),
                  vector_view<T, S>{});
  be.logp_entropy(zv, vector_view<const token_t, S>{}, T(1), vector_view<T, S>{}, vector_view<T, S>(M::data(h), 6));
  M::synchronize(be);
  const auto ref = run_problem(serial_backend{}, p, false);
  const auto la = M::download(a), lh = M::download(h);
  for (std::size_t i = 0; i < 6; ++i) {
    RLVR_CONF_CHECK(rel_err(la[i], ref.f_logp[i]) <= 10 * tolerance<T>(), "logp only, row ", i);
    RLVR_CONF_CHECK(rel_err(lh[i], ref.f_entropy[i]) <= 10 * tolerance<T>(), "entropy only, row ", i);
  }
}

template <class B> void entry_points(const B& be) {
  const index_t n = 64, v = 1200, seqs = 8;
  const auto p = random_problem<float>(n, v, v, 3.0, 1.0, false, 12);
  philox_engine eng(13);
  std::vector<float> adv(static_cast<std::size_t>(n)), old(static_cast<std::size_t>(n)), ref(static_cast<std::size_t>(n));
  std::vector<std::int32_t> seq(static_cast<std::size_t>(n));
  for (index_t t = 0; t < n; ++t) {
    const auto u = static_cast<std::size_t>(t);
    adv[u] = static_cast<float>(2.0 * eng.uniform() - 1.0);
    old[u] = static_cast<float>(-7.1 + 0.4 * eng.uniform());
    ref[u] = static_cast<float>(-7.1 + 0.4 * eng.uniform());
    seq[u] = static_cast<std::int32_t>(t * seqs / n);
  }
  // the same entry points for every backend: logits and gradient in the backend's memory space,
  // per-token arrays on the host
  using M = memory<B>;
  using S = memory_space_t<B>;
  auto dz = M::upload(p.z);
  auto dg = M::upload(std::vector<float>(p.z.size(), -7.0f));
  const matrix_view<const float, S> zb(M::data(dz), n, v);
  const matrix_view<float, S> gb(M::data(dg), n, v);
  const loss_token_batch<float> batch{.logits = {p.z.data(), n, v}, .targets = p.y, .advantages = {adv.data(), 1, n},
                                      .seq = seq, .num_sequences = seqs, .old_logp = old, .ref_logp = ref};
  loss_token_batch<float, S> batch_b{.logits = zb, .targets = p.y, .advantages = {adv.data(), 1, n},
                                     .seq = seq, .num_sequences = seqs, .old_logp = old, .ref_logp = ref};
  std::vector<float> g1(p.z.size());
  const auto d1 = loss_and_grad(serial_backend{}, grpo(), batch, matrix_view<float>(g1.data(), n, v), {.temperature = 0.7});
  const auto d2 = loss_and_grad(be, grpo(), batch_b, gb, {.temperature = 0.7});
  std::vector<float> g2 = M::download(dg);
  RLVR_CONF_CHECK(rel_err(d2.loss, d1.loss) <= 1e-5, "grpo loss ", d2.loss, " vs ", d1.loss);
  RLVR_CONF_CHECK(rel_err(d2.mean_entropy, d1.mean_entropy) <= 1e-5, "mean entropy ", d2.mean_entropy, " vs ", d1.mean_entropy);
  RLVR_CONF_CHECK(d2.active_tokens == d1.active_tokens, "active tokens ", d2.active_tokens, " vs ", d1.active_tokens);
  double worst = 0, gmax = 1e-30;
  for (float x : g1) gmax = std::max(gmax, static_cast<double>(std::abs(x)));
  for (std::size_t k = 0; k < g1.size(); ++k) worst = std::max(worst, std::abs(static_cast<double>(g2[k] - g1[k])) / gmax);
  RLVR_CONF_CHECK(worst <= 1e-5, "grpo gradient worst difference ", worst);
  const loss_token_batch<float> plain{.logits = {p.z.data(), n, v}, .targets = p.y, .advantages = {adv.data(), 1, n}};
  const loss_token_batch<float, S> plain_b{.logits = zb, .targets = p.y, .advantages = {adv.data(), 1, n}};
  const auto w1 = loss_and_grad(serial_backend{}, w_reinforce(), plain, matrix_view<float>(g1.data(), n, v));
  const auto w2 = loss_and_grad(be, w_reinforce(), plain_b, gb);
  RLVR_CONF_CHECK(rel_err(w2.loss, w1.loss) <= 1e-5, "w_reinforce loss ", w2.loss, " vs ", w1.loss);
  // forward-only log π and entropy through the entry point
  std::vector<float> l1(static_cast<std::size_t>(n)), h1(l1.size()), l2(l1.size()), h2(l1.size());
  log_prob_entropy(serial_backend{}, matrix_view<const float>(p.z.data(), n, v), vector_view<const token_t>(p.y),
                   vector_view<float>(l1), vector_view<float>(h1), 0.7);
  log_prob_entropy(be, zb, vector_view<const token_t>(p.y), vector_view<float>(l2), vector_view<float>(h2), 0.7);
  double lworst = 0;
  for (std::size_t i = 0; i < l1.size(); ++i)
    lworst = std::max({lworst, rel_err(l2[i], l1[i]), rel_err(h2[i], h1[i])});
  RLVR_CONF_CHECK(lworst <= 1e-5, "log_prob_entropy worst relative difference ", lworst);
  // sampling through the backend's own sampler (a backend that models SamplingBackend)
  if constexpr (SamplingBackend<B, float>) {
    const sampling_config cfg{.temperature = 0.6, .top_p = 0.95};
    const std::vector<std::uint64_t> subs{11, 3, 7}; // per-row stream arrays travel to the backend's space
    const auto s1 = sample(serial_backend{}, matrix_view<const float>(p.z.data(), n, v), cfg, {.seed = 5});
    const auto s2 = sample(be, zb, cfg, {.seed = 5});
    int same = 0;
    for (std::size_t i = 0; i < s1.size(); ++i) same += s1[i].token == s2[i].token;
    // tokens agree except when u·S_K falls within rounding of a CDF step (~1e-7 per draw)
    RLVR_CONF_CHECK(same == static_cast<int>(n), "sampled tokens: ", same, " of ", n, " equal the oracle's");
    const auto r1 = sample(serial_backend{}, matrix_view<const float>(p.z.data(), 3, v), cfg,
                           {.seed = 5, .subsequences = subs});
    const auto r2 = sample(be, zb.block_rows(0, 3), cfg, {.seed = 5, .subsequences = subs});
    for (std::size_t i = 0; i < 3; ++i)
      RLVR_CONF_CHECK(r1[i].token == r2[i].token, "per-row subsequences, row ", i, ": ", r2[i].token, " vs ", r1[i].token);
    // greedy decoding is exact on every backend
    const auto gr1 = sample(serial_backend{}, matrix_view<const float>(p.z.data(), n, v), {.greedy = true}, {});
    const auto gr2 = sample(be, zb, {.greedy = true}, {});
    for (std::size_t i = 0; i < gr1.size(); ++i)
      RLVR_CONF_CHECK(gr1[i].token == gr2[i].token, "greedy row ", i, ": ", gr2[i].token, " vs ", gr1[i].token);
  }
}

template <class B> void entry_point_errors(const B& be) {
  std::vector<float> z{0, 1, 2, 0, std::numeric_limits<float>::quiet_NaN(), 2};
  std::vector<token_t> y{0, 3};
  std::vector<float> adv{1, 1};
  using M = memory<B>;
  using S = memory_space_t<B>;
  auto dz = M::upload(z);
  auto dg = M::upload(std::vector<float>(6, 0.0f));
  const matrix_view<float, S> g(M::data(dg), 2, 3);
  loss_token_batch<float, S> batch{.logits = {M::data(dz), 2, 3}, .targets = y, .advantages = {adv.data(), 1, 2}};
  auto message_of = [&](auto&& f) -> std::string {
    try {
      f();
    } catch (const error& e) {
      return e.what();
    }
    return "no error";
  };
  const std::string m1 = message_of([&] { (void)loss_and_grad(be, nsr(), batch, g); });
  RLVR_CONF_CHECK(m1.find("[rlvr.range]") == 0 && m1.find("targets[1] = 3") != std::string::npos, "message: ", m1);
  y[1] = 1;
  const std::string m2 = message_of([&] { (void)loss_and_grad(be, reinforce(), batch, g); });
  RLVR_CONF_CHECK(m2.find("[rlvr.numerical]") == 0 && m2.find("row 1") != std::string::npos, "message: ", m2);
  // a temperature whose reciprocal overflows float: one config error, before the backend runs
  z[4] = 1;
  dz = M::upload(z);
  batch.logits = {M::data(dz), 2, 3};
  std::vector<float> lp(2);
  const std::string m3 = message_of([&] { (void)loss_and_grad(be, reinforce(), batch, g, {.temperature = 1e-39}); });
  RLVR_CONF_CHECK(m3.find("[rlvr.config]") == 0 && m3.find("outside the range of float") != std::string::npos,
                  "message: ", m3);
  const std::string m4 = message_of([&] {
    log_prob_entropy(be, matrix_view<const float, S>(M::data(dz), 2, 3), vector_view<const token_t>(y),
                     vector_view<float>(lp), vector_view<float>{}, 1e-39);
  });
  RLVR_CONF_CHECK(m4.find("[rlvr.config]") == 0 && m4.find("outside the range of float") != std::string::npos,
                  "message: ", m4);
  // a representable temperature at which a finite logit's z/τ overflows float: that row is bad
  z[3] = 1e9f;
  dz = M::upload(z);
  batch.logits = {M::data(dz), 2, 3};
  const std::string m5 = message_of([&] { (void)loss_and_grad(be, reinforce(), batch, g, {.temperature = 1e-30}); });
  RLVR_CONF_CHECK(m5.find("[rlvr.numerical]") == 0 && m5.find("row 1") != std::string::npos, "message: ", m5);
}

template <class B, class T, class O>
void zoo_case(const B& be, const O& obj, const char* label, std::uint64_t seed) {
  const index_t n = 48, v = 700, seqs = 9;
  const auto p = random_problem<T>(n, v, v, 3.0, 1.0, false, seed);
  philox_engine eng(seed, 3);
  std::vector<T> adv(static_cast<std::size_t>(n)), old(static_cast<std::size_t>(n)), ref(static_cast<std::size_t>(n)),
      roll(static_cast<std::size_t>(n)), lp(static_cast<std::size_t>(n));
  std::vector<std::int32_t> seq(static_cast<std::size_t>(n));
  log_prob_entropy(serial_backend{}, matrix_view<const T>(p.z.data(), n, v), vector_view<const token_t>(p.y),
                   vector_view<T>(lp), vector_view<T>{}, 0.8);
  std::vector<double> seq_adv(static_cast<std::size_t>(seqs));
  for (auto& a : seq_adv) a = 2.0 * eng.uniform() - 1.0;
  for (index_t t = 0; t < n; ++t) {
    const auto u = static_cast<std::size_t>(t);
    seq[u] = static_cast<std::int32_t>(t * seqs / n);
    adv[u] = static_cast<T>(seq_adv[static_cast<std::size_t>(seq[u])]);
    old[u] = static_cast<T>(static_cast<double>(lp[u]) + 0.4 * (eng.uniform() - 0.5));
    ref[u] = static_cast<T>(static_cast<double>(lp[u]) + 0.4 * (eng.uniform() - 0.5));
    roll[u] = static_cast<T>(static_cast<double>(old[u]) + 0.6 * (eng.uniform() - 0.5));
  }
  // reference logits near the policy's (kl_full), from their own stream
  philox_engine reng(seed, 4);
  std::vector<T> rz(p.z.size());
  for (std::size_t k = 0; k < rz.size(); ++k) rz[k] = static_cast<T>(static_cast<double>(p.z[k]) + 1.2 * (reng.uniform() - 0.5));
  const loss_token_batch<T> batch{.logits = {p.z.data(), n, v}, .targets = p.y, .advantages = {adv.data(), 1, n},
                                  .seq = seq, .num_sequences = seqs, .old_logp = old, .ref_logp = ref,
                                  .rollout_logp = roll, .ref_logits = {rz.data(), n, v}};
  using M = memory<B>;
  using S = memory_space_t<B>;
  auto dz = M::upload(p.z);
  auto dr = M::upload(rz);
  auto dg = M::upload(std::vector<T>(p.z.size(), T(0)));
  loss_token_batch<T, S> dbatch{.logits = {M::data(dz), n, v}, .targets = p.y, .advantages = {adv.data(), 1, n},
                                .seq = seq, .num_sequences = seqs, .old_logp = old, .ref_logp = ref,
                                .rollout_logp = roll, .ref_logits = {M::data(dr), n, v}};
  std::vector<T> g1(p.z.size());
  const loss_options opt{.temperature = 0.8};
  const auto d1 = loss_and_grad(serial_backend{}, obj, batch, matrix_view<T>(g1.data(), n, v), opt);
  const auto d2 = loss_and_grad(be, obj, dbatch, matrix_view<T, S>(M::data(dg), n, v), opt);
  M::synchronize(be);
  const std::vector<T> g2 = M::download(dg);
  const double tol = std::is_same_v<T, float> ? 1e-5 : 1e-11;
  RLVR_CONF_CHECK(rel_err(d2.loss, d1.loss) <= tol, label, " loss ", d2.loss, " vs ", d1.loss);
  RLVR_CONF_CHECK(rel_err(d2.full_kl, d1.full_kl) <= tol, label, " full KL ", d2.full_kl, " vs ", d1.full_kl);
  RLVR_CONF_CHECK(d2.clip_frac_low == d1.clip_frac_low && d2.clip_frac_high == d1.clip_frac_high, label,
                  " clip fractions ", d2.clip_frac_low, "/", d2.clip_frac_high, " vs ", d1.clip_frac_low, "/", d1.clip_frac_high);
  double worst = 0, gmax = 1e-30;
  for (T x : g1) gmax = std::max(gmax, static_cast<double>(std::abs(x)));
  for (std::size_t k = 0; k < g1.size(); ++k) worst = std::max(worst, std::abs(static_cast<double>(g2[k] - g1[k])) / gmax);
  RLVR_CONF_CHECK(worst <= tol, label, " gradient worst difference ", worst);
}

template <class B, class T> void zoo_objectives(const B& be) {
  zoo_case<B, T>(be, methods::cispo({.surrogate = {.eps_low = 0.2, .eps_high = 0.1}}), "cispo", 20);
  zoo_case<B, T>(be, methods::sapo(), "sapo", 21);
  zoo_case<B, T>(be, make_objective(group_zscore{}, ppo_clip{}, token_mean{}, kl_k3_plus{.beta = 0.1}), "k3+", 22);
  zoo_case<B, T>(be, methods::gspo({.surrogate = {.eps_low = 0.02, .eps_high = 0.03}}), "gspo", 23);
  zoo_case<B, T>(be, methods::gmpo({.surrogate = {.eps_low = 0.1, .eps_high = 0.1}}), "gmpo", 24);
  zoo_case<B, T>(be, methods::clip_cov({.surrogate = {.select_ratio = 0.1, .cov_lb = -1e9, .cov_ub = 1e9, .seed = 3}}),
                 "clip_cov", 25);
  zoo_case<B, T>(be, methods::kl_cov({.surrogate = {.select_ratio = 0.1}}), "kl_cov", 26);
  zoo_case<B, T>(be, methods::dapo(), "dapo", 27);
  zoo_case<B, T>(be, methods::high_entropy(), "high_entropy", 28);
  zoo_case<B, T>(be, make_objective(group_zscore{}, ppo_clip{}, token_mean{}, tis{.cap = 1.1}, rollout_mask{.lower = 0.8, .upper = 1.2}),
                 "tis+mask (token)", 29);
  zoo_case<B, T>(be, make_objective(group_zscore{}, sapo{}, seq_mean_token_mean{}, tis{.cap = 1.3, .level = correction_level::sequence},
                                    sequence_divergence_mask{.max_kl = 5e-3}),
                 "tis+divergence mask (sequence)", 30);
  // the exact full-vocabulary KL: a capability of its own (RefKLBackend), on the backends that have it
  if constexpr (RefKLBackend<B, T>)
    zoo_case<B, T>(be, make_objective(group_zscore{}, ppo_clip{}, token_mean{}, kl_full{.beta = 0.3}), "kl_full", 31);
}

// ---- the driver --------------------------------------------------------------------------------------------
template <class F> void run_check(const char* name, const char* filter, F&& f) {
  if (filter != nullptr && std::strstr(name, filter) == nullptr) return;
  state().current = name;
  const int before = state().failures;
  try {
    f();
  } catch (const std::exception& e) {
    expect(false, std::string("unexpected exception: ") + e.what(), __FILE__, __LINE__);
  }
  std::printf("[%s] %s\n", state().failures == before ? "pass" : "FAIL", name);
  std::fflush(stdout);
}

//! Runs the suite on `be`; returns the process exit code: 0 pass, 1 fail, 77 skipped (when
//! `memory<B>::skip_reason()` gives a reason, e.g. "no CUDA device").
template <class B> int run(const B& be, const char* name, int argc, char** argv) {
  static_assert(LossBackend<B, float>,
                "rlvr conformance: the backend does not model rlvr::LossBackend<B, float>: it needs "
                "logp_entropy(logits, targets, temperature, logp, entropy) and fused_rows(logits, targets, "
                "temperature, epilogue, grad) members (see rlvr/backends/concepts.hpp and docs/backends.md)");
  if (const char* skip = memory<B>::skip_reason(); skip != nullptr) {
    std::printf("conformance %s: skipped (%s)\n", name, skip);
    return 77;
  }
  const char* filter = argc > 1 ? argv[1] : nullptr;
  std::printf("conformance suite for backend '%s'%s\n", name,
              LossBackend<B, double> ? " (float and double)" : " (float)");
  run_check("float/spec_vectors", filter, [&] { spec_vectors<B, float>(be); });
  run_check("float/oracle_agreement", filter, [&] { oracle_agreement<B, float>(be); });
  run_check("float/in_place", filter, [&] { in_place<B, float>(be); });
  run_check("float/bad_rows", filter, [&] { bad_rows<B, float>(be); });
  run_check("float/scale_overflow", filter, [&] { scale_overflow<B, float>(be); });
  run_check("float/deterministic", filter, [&] { deterministic<B, float>(be); });
  run_check("float/optional_outputs", filter, [&] { optional_outputs<B, float>(be); });
  if constexpr (LossBackend<B, double>) {
    run_check("double/spec_vectors", filter, [&] { spec_vectors<B, double>(be); });
    run_check("double/oracle_agreement", filter, [&] { oracle_agreement<B, double>(be); });
    run_check("double/in_place", filter, [&] { in_place<B, double>(be); });
    run_check("double/bad_rows", filter, [&] { bad_rows<B, double>(be); });
    run_check("double/scale_overflow", filter, [&] { scale_overflow<B, double>(be); });
    run_check("double/deterministic", filter, [&] { deterministic<B, double>(be); });
    run_check("double/optional_outputs", filter, [&] { optional_outputs<B, double>(be); });
  }
  if constexpr (Backend<B>) { // the public entry points, whatever the memory space
    run_check("entry_points", filter, [&] { entry_points(be); });
    run_check("entry_point_errors", filter, [&] { entry_point_errors(be); });
    run_check("float/zoo_objectives", filter, [&] { zoo_objectives<B, float>(be); });
    if constexpr (LossBackend<B, double>) run_check("double/zoo_objectives", filter, [&] { zoo_objectives<B, double>(be); });
  }
  std::printf("%d checks, %d failed\n", state().checks, state().failures);
  return state().failures == 0 && state().checks > 0 ? 0 : 1;
}

} // namespace rlvr::conformance
