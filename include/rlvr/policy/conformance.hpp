#pragma once
//! \file rlvr/policy/conformance.hpp
//! \brief `check_policy`: numerical conformance checks for any `Policy`, a user's included.
//!
//! The `Policy` concept checks signatures; this checks behaviour. On a batch of the caller's
//! tokens it measures
//!
//! 1. **decode vs forward**: feeding the tokens one column at a time through a fresh cache must
//!    reproduce row `b·T + t` of `forward` (max |Δ|, relative to 1 + |logit|);
//! 2. **backward vs central finite differences**: with the probe loss
//!    L(θ) = Σ_{n,v} R_{n,v}·z_{n,v}(θ) for fixed random R ∈ [−1, 1] (so dL/dlogits = R), the
//!    gradient from `backward(R)` is compared with (L(θ + h·e_j) − L(θ − h·e_j)) / 2h for up to
//!    `samples_per_parameter` elements j of every parameter (chosen by a seeded Philox stream),
//!    L accumulated in double; the error is |fd − g| / (|fd| + |g| + `grad_floor` + noise), where
//!    noise = 8·2⁻²⁴·Σ|R ⊙ z| / h bounds the float rounding of the difference quotient;
//! 3. **accumulation**: a second `backward(R)` must double every gradient (`grad += …`, not `=`),
//!    to float rounding (tolerance 1e-3).
//!
//! The policy's parameters are restored exactly afterwards and its gradients zeroed. With float
//! parameters, h = 1e-2 and a well-conditioned model, a correct backward typically shows errors
//! below 1e-3, and a wrong one (a missing term, a factor, a transposed weight) errors of order
//! 0.1–1: the default tolerance 2e-2 separates them (the tests feed a deliberately broken
//! policy and check that it is flagged).
//!
//! Cost: about 2·Σ_params min(`samples_per_parameter`, size) + 3 forward passes, 3 backward
//! passes and T decode calls over the batch, so keep the batch and the model small (a few
//! sequences of a few tokens suffice; sampled elements that the batch does not reach, such as
//! embedding rows of absent tokens, have zero gradient and zero difference, and pass). The
//! check mutates the policy (parameters perturbed and restored, gradients overwritten and left
//! at zero, the forward's saved state replaced), so nothing else may use the policy meanwhile;
//! it is deterministic for a given seed.
//!
//!     const auto r = rlvr::check_policy(my_policy, {{tokens.data(), B, T}, {}});
//!     if (!r.ok()) std::printf("worst: %s[%td]: backward %g, finite difference %g\n",
//!                              r.worst_parameter.c_str(), r.worst_index, r.worst_backward,
//!                              r.worst_finite_difference);

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "rlvr/policy/concepts.hpp"
#include "rlvr/random/philox.hpp"

namespace rlvr {

//! Options of `check_policy`. The defaults suit float32 models with O(1) weights; a policy
//! whose loss is badly conditioned (huge logits, sharp nonlinearities near the sampled
//! elements) may need a smaller `fd_step` or a larger `grad_floor` before blaming `backward`.
//!
//! h = 1e-2 is large for a finite difference on purpose: a float32 forward rounds L at about
//! 6e-8 relative, and that error enters the quotient divided by h, while the truncation error
//! of a central difference only grows like h²·L'''. The floor keeps elements whose true
//! gradient is about 0 from showing a relative error near 1 from rounding alone.
struct policy_check_options {
  std::uint64_t seed = 1;             //!< for R and the sampled parameter elements
  double fd_step = 1e-2;              //!< h of the central differences
  index_t samples_per_parameter = 8;  //!< elements checked per parameter (all if it has fewer)
  double grad_floor = 1e-2;           //!< absolute floor in the relative gradient error (float noise)
};

//! What `check_policy` measured. All errors are ≥ 0 and dimensionless; 0 means "no difference".
//! The `worst_*` fields locate the largest gradient error so that a failure can be debugged.
struct policy_check_result {
  double decode_error = 0;     //!< max |decode − forward| / (1 + |forward|)
  double gradient_error = 0;   //!< max relative error of backward vs finite differences
  double accumulate_error = 0; //!< max |g₂ − 2g₁| / (|2g₁| + grad_floor)
  std::string worst_parameter; //!< where `gradient_error` was reached
  //! flat (row-major) index of that element in the parameter; −1 if no element was checked
  index_t worst_index = -1;
  //! the two values compared there: `backward`'s gradient and the central difference
  double worst_backward = 0, worst_finite_difference = 0;
  //! number of (parameter, element) finite-difference comparisons made
  index_t elements_checked = 0;

  //! All three within tolerance: `decode_tol` for check 1, `grad_tol` for check 2 and a fixed
  //! 1e-3 for check 3 (a correct accumulation differs from 2·g₁ only by float rounding).
  //! A policy computed in lower precision may pass a looser `decode_tol`/`grad_tol`.
  [[nodiscard]] bool ok(double decode_tol = 1e-4, double grad_tol = 2e-2) const noexcept {
    return decode_error <= decode_tol && gradient_error <= grad_tol && accumulate_error <= 1e-3;
  }
};

//! Runs the checks above on `batch` (tokens valid for `p`, no mask needed); see the file comment.
//!
//! The batch's mask, if any, is ignored: every row is compared. T must not exceed the policy's
//! context length. Raises `shape_error` for an empty batch, `config_error` for `fd_step` ≤ 0,
//! and whatever the policy raises for tokens it rejects. `samples_per_parameter` ≤ 0 checks no
//! element (only checks 1 and 3 then mean anything).
template <Policy P> policy_check_result check_policy(P& p, const token_batch& batch, const policy_check_options& o = {}) {
  const index_t B = batch.batch(), T = batch.length(), N = B * T, V = p.vocab_size();
  RLVR_EXPECTS(B >= 1 && T >= 1, shape, "check_policy: empty batch (", B, "x", T, ")");
  RLVR_EXPECTS(o.fd_step > 0, config, "check_policy: fd_step = ", o.fd_step, " must be > 0");
  policy_check_result res;
  std::vector<float> logits(static_cast<std::size_t>(N * V));
  // The mask is dropped: a policy may leave masked rows as zeros, which decode would not match.
  const token_batch full{batch.tokens, {}};
  p.forward(full, matrix_view<float>(logits.data(), N, V));

  // 1. decode vs forward
  // Column t of the tokens is fed to every sequence at once; the decoded logits predict token
  // t + 1, as row b·T + t of the forward does. decode is called on a const view of p, as the
  // `IncrementalDecoder` concept requires.
  {
    auto cache = p.make_cache(B);
    std::vector<float> step(static_cast<std::size_t>(B * V));
    std::vector<token_t> col(static_cast<std::size_t>(B));
    for (index_t t = 0; t < T; ++t) {
      for (index_t b = 0; b < B; ++b) col[static_cast<std::size_t>(b)] = batch.tokens(b, t);
      std::as_const(p).decode(cache, vector_view<const token_t>(col.data(), B), matrix_view<float>(step.data(), B, V));
      for (index_t b = 0; b < B; ++b)
        for (index_t v = 0; v < V; ++v) {
          const double f = logits[static_cast<std::size_t>((b * T + t) * V + v)];
          const double d = step[static_cast<std::size_t>(b * V + v)];
          // Absolute for small logits, relative for large ones.
          res.decode_error = std::max(res.decode_error, std::abs(d - f) / (1.0 + std::abs(f)));
        }
    }
  }

  // 2. backward vs finite differences of L = Σ R·z
  // One Philox stream (a fixed subsequence of the seed) draws R first, then the sampled
  // element indices, so a given seed always checks the same elements.
  philox_engine rng(o.seed, 0x5eed);
  std::vector<float> R(logits.size());
  for (float& r : R) r = static_cast<float>(2.0 * rng.uniform() - 1.0);
  // L(θ) at the current parameters: a full forward, then Σ R·z in double.
  auto probe = [&] {
    p.forward(full, matrix_view<float>(logits.data(), N, V));
    double L = 0;
    for (std::size_t i = 0; i < logits.size(); ++i) L += double(R[i]) * double(logits[i]);
    return L;
  };
  probe();
  // float rounding of L is about 2⁻²⁴·Σ|R·z| per evaluation; its share of a difference quotient
  // joins the floor, so gradients that vanish exactly are not flagged for noise
  double mass = 0;
  for (std::size_t i = 0; i < logits.size(); ++i) mass += std::abs(double(R[i]) * double(logits[i]));
  const double noise = 8.0 * 5.96e-8 * mass / o.fd_step;
  p.zero_grad();
  p.backward(matrix_view<const float>(R.data(), N, V));
  // g₁, a copy of the analytic gradient: the probes below run forwards that may overwrite the
  // policy's saved state, and check 3 compares against it.
  const auto params = p.parameters();
  std::vector<std::vector<float>> g1;
  for (const parameter_ref& q : params) g1.emplace_back(q.grad.begin(), q.grad.end());
  for (std::size_t i = 0; i < params.size(); ++i) {
    const parameter_ref& q = params[i];
    const auto n = static_cast<std::uint32_t>(q.value.size());
    const index_t k = std::min<index_t>(o.samples_per_parameter, n);
    for (index_t s = 0; s < k; ++s) {
      // Every element when there are at most k, else k draws with replacement (an element may
      // be checked twice; the count is still k).
      const std::size_t j = k == static_cast<index_t>(n) ? static_cast<std::size_t>(s) : rng.uniform_index(n);
      const float keep = q.value[j];
      const float h = static_cast<float>(o.fd_step);
      q.value[j] = keep + h;
      const double up = probe();
      q.value[j] = keep - h;
      const double down = probe();
      q.value[j] = keep;
      const double hh = (double(keep + h) - double(keep - h)); // the step actually taken
      const double fd = (up - down) / hh, g = g1[i][j];
      // Symmetric relative error, ≤ 1 whatever the scale; the floor and the rounding bound in
      // the denominator keep near-zero gradients from dominating.
      const double err = std::abs(fd - g) / (std::abs(fd) + std::abs(g) + o.grad_floor + noise);
      ++res.elements_checked;
      if (err > res.gradient_error) {
        res.gradient_error = err;
        res.worst_parameter = std::string(q.name);
        res.worst_index = static_cast<index_t>(j);
        res.worst_backward = g;
        res.worst_finite_difference = fd;
      }
    }
  }

  // 3. accumulation: a fresh forward at the restored parameters, then two backward passes
  // with the same R must give exactly twice g₁ (up to rounding).
  probe();
  p.zero_grad();
  p.backward(matrix_view<const float>(R.data(), N, V));
  p.backward(matrix_view<const float>(R.data(), N, V));
  for (std::size_t i = 0; i < params.size(); ++i)
    for (std::size_t j = 0; j < params[i].grad.size(); ++j) {
      // Every element is compared, not a sample: the check is cheap and a partial `=` (some
      // parameters overwritten instead of accumulated) shows up only where it happens.
      const double want = 2.0 * g1[i][j];
      res.accumulate_error =
          std::max(res.accumulate_error, std::abs(params[i].grad[j] - want) / (std::abs(want) + o.grad_floor));
    }
  p.zero_grad();
  return res;
}

} // namespace rlvr
