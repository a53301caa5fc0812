#pragma once
//! \file rlvr/sampling/sampler.hpp
//! \brief Batched, reproducible sampling of tokens from rows of logits on any backend that
//! models `SamplingBackend` (the host backends, `rlvr::cuda_backend`, a user backend).
//!
//!     rlvr::serial_backend cpu{.threads = 0};
//!     rlvr::sampling_config cfg{.temperature = 0.6, .top_p = 0.95};
//!     rlvr::stream_batch rng{.seed = 42, .first_subsequence = 0, .offset = step};
//!     std::vector<rlvr::token_draw<float>> out = rlvr::sample(cpu, logits, cfg, rng);
//!
//! Each row of `logits` (an N×V `matrix_view<const float or double>`) yields one `token_draw`:
//! the token id, its log-probability under the processed distribution and under the
//! unprocessed policy at temperature 1. The processing order (temperature → top-k → top-p →
//! min-p), the tie rule and the inverse-CDF draw are specified in rlvr/sampling/processors.hpp.
//!
//! ## Reproducibility (exact statement)
//! Row i draws its one uniform from the Philox4x32-10 block at
//! (seed, subsequence_i, offset_i) (rlvr/random/philox.hpp gives the word layout), with
//! subsequence_i = `subsequences[i]` if given, else `first_subsequence + i`, and offset_i =
//! `offsets[i]` if given, else `offset`; u = u01_from_u64(block.w[0], block.w[1]). A trainer uses
//! (seed, sequence id, decode step). Consequently:
//! - the same (logits, config, streams) give bit-identical draws for any thread count of the
//!   backend, any batch composition and any row order (a row's result depends on its own logits
//!   and address only) — tested for 1 and 2 threads;
//! - float rows and double rows, or two backends, share the uniform bit for bit; their tokens agree
//!   except when u·S_K falls within rounding of a CDF step (probability ~1e-7 per draw for float);
//! - changing any of seed, subsequence or offset gives an independent draw.
//!
//! ## Cost
//! Per row: one max pass, one exp pass (two exps per logit only when τ ≠ 1 and the policy
//! log-prob is requested; set `policy_logprob = false` for evaluation-only sampling), and with
//! top-k/top-p a compaction pass or two over the candidates (docs/sampling.md gives the
//! algorithms; no full sort); the draw itself is O(V/64 + 64). Measured at 64 × 151936 floats on
//! one core: τ = 1 in 1.4×, top-p 0.95/τ = 0.6 in 3.0× (2.3× without the policy log-prob) the
//! time of one vectorised softmax pass; ~100× faster than PyTorch's sort/cumsum/multinomial idiom.
//! Rows are split over `backend.threads` with `rlvr::parallel_for`, in chunks of at least
//! ~16k logits so that tiny vocabularies (the study's 20–60 tokens) do not pay thread wake-ups
//! per row. Scratch space is thread-local and reused across calls (no allocation in steady state
//! inside the row sampler; the entry point allocates N status bytes per call, and the overload
//! that returns a vector allocates the N draws).
//!
//! ## Errors
//! `rlvr::range_error`: temperature ≤ 0 or NaN (greedy decoding must be requested with
//! `greedy = true`), top_p ∉ (0, 1], top_k < 1, min_p ∉ [0, 1]. `rlvr::shape_error`: zero columns,
//! an output or per-row stream array whose length is not the row count.
//! `rlvr::numerical_error`: a row containing NaN or +inf, or whose logits are all −inf (the first
//! such row is named, with the column and value).

#include <cmath>
#include <concepts>
#include <cstdint>
#include <limits>
#include <optional>
#include <type_traits>
#include <vector>

#include "rlvr/backends/concepts.hpp"
#include "rlvr/config.hpp"
#include "rlvr/error.hpp"
#include "rlvr/parallel.hpp"
#include "rlvr/random/philox.hpp"
#include "rlvr/sampling/detail/host_row.hpp"
#include "rlvr/sampling/processors.hpp"
#include "rlvr/sampling/streams.hpp"
#include "rlvr/view.hpp"

namespace rlvr {

//! The scalar types the samplers accept for logits: a type T models `SamplingScalar` if it is
//! `float` or `double` (a `const` view of either is accepted by `sample`); the caller widens
//! other logit types first.
template <class T>
concept SamplingScalar = std::same_as<T, float> || std::same_as<T, double>;

//! What to sample. Aggregate with designated initialisers; `params()` validates it.
//! The defaults (τ = 1, no filter) sample the policy itself; any filter makes the sampled
//! distribution differ from π (the trainer's rollouts set only τ). The paper's evaluation setting
//! is {.temperature = 0.6, .top_p = 0.95} (docs/math.md).
struct sampling_config {
  double temperature = 1.0;      //!< τ > 0 (0 is an error: ask for `greedy` explicitly)
  bool greedy = false;           //!< argmax decoding (τ and the filters are then ignored)
  std::optional<index_t> top_k{}; //!< keep the k largest (ties kept together); unset = off; k ≥ 1
                                  //!< (k ≥ V keeps every token)
  double top_p = 1.0;            //!< nucleus mass in (0, 1]; 1 = off
  double min_p = 0.0;            //!< keep p_v ≥ min_p · max p, in [0, 1]; 0 = off
  bool policy_logprob = true;    //!< also return log π at τ = 1 (costs one exp per logit if τ ≠ 1)

  //! Checks every field (throws `rlvr::range_error` naming the bad one) and returns the
  //! device-friendly parameters. The filters are validated even when `greedy` is set (so a bad
  //! value is caught before it is switched on); τ is checked only without `greedy`, and greedy
  //! parameters carry τ = 1. An unset `top_k` becomes 0, the kernels' "off".
  [[nodiscard]] sampling_params params() const {
    sampling_params p;
    p.greedy = greedy;
    p.policy_logprob = policy_logprob;
    if (!greedy) {
      RLVR_EXPECTS(temperature > 0.0 && std::isfinite(temperature), range, "sample: temperature = ",
                   temperature, " must be finite and > 0 (request greedy decoding with greedy = true)");
    }
    RLVR_EXPECTS(top_p > 0.0 && top_p <= 1.0, range, "sample: top_p = ", top_p,
                 " is outside (0, 1]");
    RLVR_EXPECTS(!top_k || *top_k >= 1, range, "sample: top_k = ", top_k.value_or(0),
                 " must be >= 1 (leave top_k unset to disable it)");
    RLVR_EXPECTS(min_p >= 0.0 && min_p <= 1.0, range, "sample: min_p = ", min_p,
                 " is outside [0, 1]");
    p.temperature = greedy ? 1.0 : temperature;
    p.top_k = top_k ? *top_k : 0;
    p.top_p = top_p;
    p.min_p = min_p;
    return p;
  }
};

//! Samples one token per row of `logits` into `out` (length N, host memory) on backend `backend`,
//! through the backend's `sample_rows` (`SamplingBackend`). `logits` live in the backend's memory
//! space (a host view for a host backend, a `cuda_space` view for `rlvr::cuda_backend`); `streams`
//! and `out` are host memory whatever the backend (per-row stream arrays are uploaded, the draws
//! downloaded: O(N) bytes). Rows are processed independently and in parallel; see the file comment
//! for guarantees.
//!
//! Per row, `out[i]` holds the token id in [0, V), `logprob` = log of its probability under the
//! processed distribution (the one actually sampled) and `policy_logprob` = log π(token) at τ = 1
//! (NaN when `policy_logprob = false`). Greedy rows take the lowest id among tied maxima, with
//! `logprob` = 0, and use no random number. The order of checks is: the configuration
//! (`range_error`), then extents (`shape_error`), then the draw; every row is drawn before the
//! first bad row (lowest index) raises `numerical_error`, so `out` is then fully written but its
//! bad rows are unspecified. N = 0 returns without calling the backend.
template <class B, class L, class S>
  requires SamplingScalar<std::remove_const_t<L>>
void sample(const B& backend, matrix_view<L, S> logits, const sampling_config& config, const stream_batch& streams,
            vector_view<token_draw<std::remove_const_t<L>>> out) {
  using T = std::remove_const_t<L>;
  static_assert(std::is_same_v<S, memory_space_t<B>>,
                "rlvr::sample: the logits view and the backend live in different memory spaces (for example a host "
                "matrix_view<T> given to rlvr::cuda_backend): pass a view of the backend's memory_space");
  static_assert(SamplingBackend<B, T>, "rlvr::sample: the backend does not model rlvr::SamplingBackend for this logit "
                                       "type (a member sample_rows(logits, params, streams, out, status))");
  const sampling_params p = config.params();
  const index_t n = logits.rows(), v = logits.cols();
  RLVR_EXPECTS(v > 0 || n == 0, shape, "sample: logits have ", v, " columns (a vocabulary of at least 1 is needed)");
  expect_size(out, n, "sample: out");
  if (!streams.subsequences.empty()) expect_size(streams.subsequences, n, "sample: streams.subsequences");
  if (!streams.offsets.empty()) expect_size(streams.offsets, n, "sample: streams.offsets");
  if (n == 0) return;
  const matrix_view<const T, S> z = logits;
  // Backends report bad rows as status bytes rather than by throwing: a device kernel cannot
  // throw, and a host worker that threw would abandon the rest of its chunk of rows.
  std::vector<std::uint8_t> status(static_cast<std::size_t>(n), 0);
  if constexpr (host_accessible_v<S>) {
    backend.sample_rows(z, p, streams, out, vector_view<std::uint8_t>(status));
  } else {
    static_assert(SpaceMemory<B>, "rlvr::sample: a backend of a non-host memory space must model rlvr::SpaceMemory");
    const detail::space_buffer<B, std::uint64_t> sub(backend, streams.subsequences.data(), streams.subsequences.size());
    const detail::space_buffer<B, std::uint64_t> off(backend, streams.offsets.data(), streams.offsets.size());
    const basic_stream_batch<S> ds{streams.seed, streams.first_subsequence, sub.view(), streams.offset, off.view()};
    const detail::space_buffer<B, token_draw<T>> d_out(backend, n);
    const detail::space_buffer<B, std::uint8_t> d_status(backend, n);
    backend.sample_rows(z, p, ds, d_out.view(), d_status.view());
    d_out.download(out.data());
    d_status.download(status.data());
  }
  for (index_t i = 0; i < n; ++i) {
    const auto st = static_cast<detail::row_status>(status[static_cast<std::size_t>(i)]);
    if (st == detail::row_status::ok) continue;
    if (st == detail::row_status::all_neg_inf)
      fail<numerical_error>("sample: row ", i, " has every logit = -inf (no token has positive probability)");
    // On the host the row is rescanned for the message's column and value (only on this error
    // path); device rows are not copied back for a message.
    if constexpr (host_accessible_v<S>) {
      const row_scan<T> sc = scan_row(z.row(i).data(), v);
      fail<numerical_error>("sample: row ", i, " has logit ", z(i, sc.first_bad), " at column ", sc.first_bad,
                            " (NaN and +inf are not allowed)");
    } else {
      fail<numerical_error>("sample: row ", i, " holds a NaN or +inf logit (NaN and +inf are not allowed)");
    }
  }
}

//! As above, returning the draws in a new host vector (length N).
template <class B, class L, class S>
  requires SamplingScalar<std::remove_const_t<L>>
[[nodiscard]] std::vector<token_draw<std::remove_const_t<L>>>
sample(const B& backend, matrix_view<L, S> logits, const sampling_config& config, const stream_batch& streams) {
  std::vector<token_draw<std::remove_const_t<L>>> out(static_cast<std::size_t>(logits.rows()));
  sample(backend, logits, config, streams, vector_view<token_draw<std::remove_const_t<L>>>(out));
  return out;
}

} // namespace rlvr
