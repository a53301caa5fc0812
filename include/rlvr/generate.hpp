#pragma once
//! \file rlvr/generate.hpp
//! \brief `rlvr::generate`: n sampled responses per prompt from any `Policy`, batched through its
//! KV cache, every token addressed in rlvr's Philox streams; prompts may differ in length.
//!
//!     rlvr::generation out = rlvr::generate(policy, prompts, /*n=*/16,
//!         {.sampling = {.temperature = 0.6, .top_p = 0.95}, .max_tokens = 32, .eos = eos},
//!         {.seed = 7});
//!     out.response(p, i);   // response i of prompt p (its eos included when it produced one)
//!
//! ## Layout and streams (exact statement)
//! Response i of prompt p is row r = p·n + i. Its token j (j = 0 is the first response token)
//! is drawn by `rlvr::sample` from the Philox block (seed, subsequence = first_subsequence + r,
//! offset = j) — the address the trainer uses for its rollouts (`trainer::step` generates with
//! first_subsequence = step·P·G), so a response is a pure function of (weights, prompt, config,
//! seed, r): it does not depend on the thread count, on `max_batch`, or on which other prompts
//! are in the call, as far as the policy's `decode` rows are independent of each other (they are
//! exactly for the shipped policies at a fixed batch split; the transformer's rows are computed
//! independently of the thread count).
//!
//! ## Prompts of different lengths
//! The KV cache advances every sequence by one token per `decode` call. Sequence r is fed its
//! own prompt tokens at calls 0…L_r − 1 and samples its first response token from the logits of
//! call L_r − 1; from then on it is fed its last sampled token. A short prompt therefore starts
//! answering while a longer one is still being read — nothing is padded on the left, and no
//! attention mask is needed (the cache holds each sequence's own tokens in order). A finished
//! sequence (it sampled `eos`, or reached `max_tokens`) is fed `pad` until the batch is done; its
//! logits are no longer read. Every sequence needs L_r + max_tokens ≤ `policy.context_length()`.
//!
//! ## Cost
//! One `decode` call per position up to max_r(L_r + |response_r|) − 1 per chunk of at most
//! `max_batch` rows (whole prompts per chunk), one `rlvr::sample` over the rows that draw a
//! token at that call (gathered into one contiguous block), and with `entropy = true` one
//! `rlvr::token_entropy` over the same rows. Finished rows stay in the batch (fed `pad`) until
//! the chunk's longest response ends, so a chunk costs as many decode calls as its slowest row.
//!
//! Memory: the policy's cache for one chunk, plus two float buffers of at most
//! (rows per chunk)·V each (the decode logits and the gathered rows): with the default
//! `max_batch` = 4096 and V = 151936 that is 2 × 2.5 GB, so lower `max_batch` for large
//! vocabularies. Responses grow as they are sampled; nothing is allocated per token otherwise.
//!
//! Thread-safety: `policy` is read only (`make_cache` and `decode` are `const`), so several
//! `generate` calls may share a policy when its `decode` is safe to call concurrently on
//! distinct caches (see the policy's documentation). Parallelism inside a call is the backend's
//! (`backend.threads` for the sampler and the entropy) and the policy's own.
//!
//! ## Errors
//! `rlvr::shape_error`: no prompts, an empty prompt, n < 1, per-row stream arrays (`streams`
//! takes only `seed` and `first_subsequence`). `rlvr::range_error`: a prompt token outside
//! [0, V). `rlvr::config_error`: max_tokens < 1, eos or pad outside the vocabulary, max_batch < 0,
//! a prompt too long for max_tokens and the context, or a bad sampling field (see
//! `sampling_config`). `rlvr::numerical_error` (from `rlvr::sample`): the policy produced a row
//! of logits with a NaN or +inf entry, or with every entry −inf. Its message names the row by
//! its index among the rows drawing at that decode call, not by r = p·n + i.

#include <algorithm>
#include <cstdint>
#include <span>
#include <vector>

#include "rlvr/backends/serial.hpp"
#include "rlvr/config.hpp"
#include "rlvr/error.hpp"
#include "rlvr/metrics/entropy.hpp"
#include "rlvr/policy/concepts.hpp"
#include "rlvr/sampling/sampler.hpp"
#include "rlvr/view.hpp"

namespace rlvr {

//! What `generate` samples. Aggregate: designated initialisers in the field order
//! `sampling, max_tokens, eos, pad, max_batch, entropy`.
//!
//! `max_tokens` has no default on purpose: a response budget is part of the task. With
//! `eos` = −1 every response has exactly `max_tokens` tokens and `truncated` is 1 for all of
//! them. `max_batch` trades memory (see the file comment) for decode calls; the trainer uses 0
//! (one chunk) for its rollouts. When n > `max_batch` a chunk holds one prompt, i.e. n rows.
//!
//! Cost knobs: `generation` keeps only the processed log-probability, so set
//! `sampling.policy_logprob = false` (it saves one exp per logit when τ ≠ 1, as the trainer does);
//! `entropy = true` adds one read of the drawing rows per call (one exp per logit).
struct generation_config {
  sampling_config sampling{}; //!< temperature, greedy, top-k/p, min-p (set `policy_logprob` to
                              //!< false: `generation` keeps only the processed log-probability)
  index_t max_tokens = 0;     //!< response budget, `eos` included (≥ 1; required)
  token_t eos = -1;           //!< end-of-response token; −1: none (responses stop at max_tokens)
  token_t pad = 0;            //!< fed to finished sequences (any valid id; never in a response)
  index_t max_batch = 4096;   //!< rows per decode batch (whole prompts; a prompt's n rows are
                              //!< never split); 0 = every row at once
  bool entropy = false;       //!< also record each response's token entropies (at the sampling τ)

  //! Throws `rlvr::config_error` naming the first bad field (the vocabulary is checked by
  //! `generate`). The sampling fields are checked first, by `sampling_config::params`, whose
  //! errors are `rlvr::range_error`s.
  void validate() const {
    (void)sampling.params();
    RLVR_EXPECTS(max_tokens >= 1, config, "generation_config: max_tokens = ", max_tokens,
                 " must be >= 1 (the response budget, eos included)");
    RLVR_EXPECTS(eos >= -1, config, "generation_config: eos = ", eos, " must be a token id or -1 (none)");
    RLVR_EXPECTS(pad >= 0, config, "generation_config: pad = ", pad, " must be a valid token id");
    RLVR_EXPECTS(max_batch >= 0, config, "generation_config: max_batch = ", max_batch, " must be >= 0");
  }
};

//! The responses of one `generate` call: P prompts × n samples, row r = p·n + i.
//!
//! `logprob[r]` is the log-probability of the whole response under the distribution actually
//! sampled (after temperature and filters), the sum of `token_draw::logprob`; `entropy[r]` sums
//! the token entropies of softmax(z/τ) before the filters, so entropy[r] / responses[r].size()
//! is the response's mean token entropy. Both are accumulated in double in token order.
//!
//! `truncated[r]` = 1 marks a response cut by the budget rather than ended by `eos`: its answer
//! may be incomplete (a verifier typically gives it reward 0), and a high truncation rate says
//! `max_tokens` is too small. With `eos` = −1 every response is marked truncated.
struct generation {
  index_t prompts = 0;                        //!< P
  index_t samples = 0;                        //!< n per prompt
  std::vector<std::vector<token_t>> responses; //!< [P·n] response tokens (`eos` included when produced)
  std::vector<std::uint8_t> truncated;        //!< [P·n] 1 = stopped at max_tokens without `eos`
  std::vector<double> logprob;                //!< [P·n] Σ_j log π(y_j) under the processed distribution
  std::vector<double> entropy;                //!< [P·n] Σ_j H_j at the sampling τ (empty unless asked)

  //! Number of responses, P·n.
  [[nodiscard]] index_t size() const noexcept { return static_cast<index_t>(responses.size()); }
  //! Response i of prompt p; (p, i) outside [0, P) × [0, n) is a `range_error`.
  [[nodiscard]] const std::vector<token_t>& response(index_t p, index_t i) const {
    RLVR_EXPECTS(p >= 0 && p < prompts && i >= 0 && i < samples, range, "generation::response: (", p, ", ", i,
                 ") is outside [0, ", prompts, ") x [0, ", samples, ")");
    return responses[static_cast<std::size_t>(p * samples + i)];
  }
  //! Total response tokens (`eos` included): the denominator of a per-token mean. O(P·n).
  [[nodiscard]] index_t tokens() const noexcept {
    index_t t = 0;
    for (const auto& r : responses) t += static_cast<index_t>(r.size());
    return t;
  }
};

//! Samples n responses for each prompt (see the file comment). `streams.seed` and
//! `streams.first_subsequence` address the draws; `backend` runs the sampler (and the entropy).
//!
//! Preconditions (checked before any decode, in this order): `cfg` valid; P ≥ 1 and n ≥ 1; no
//! per-row stream arrays; `eos` and `pad` below V; every prompt non-empty, its tokens in [0, V),
//! and L_p + max_tokens ≤ `policy.context_length()`. Two calls with disjoint subsequence ranges
//! (first_subsequence values P·n apart) give independent samples; the same streams give the
//! same responses, so an evaluation can be rerun exactly or extended with new subsequences:
//!
//!     auto a = rlvr::generate(policy, prompts, 16, cfg, {.seed = 7});                   // rows 0 … 16P−1
//!     auto b = rlvr::generate(policy, prompts, 16, cfg, {.seed = 7, .first_subsequence = 16 * P});
//!     // a and b are 32 independent samples per prompt; rerunning either gives it bit for bit
template <Policy P, HostBackend B = serial_backend>
[[nodiscard]] generation generate(const P& policy, std::span<const std::vector<token_t>> prompts, index_t n,
                                  const generation_config& cfg, const stream_batch& streams = {},
                                  const B& backend = B{}) {
  cfg.validate();
  const index_t np = static_cast<index_t>(prompts.size()), v = policy.vocab_size(), ctx = policy.context_length();
  RLVR_EXPECTS(np >= 1, shape, "generate: no prompts");
  RLVR_EXPECTS(n >= 1, shape, "generate: n = ", n, " samples per prompt must be >= 1");
  RLVR_EXPECTS(streams.subsequences.empty() && streams.offsets.empty(), shape,
               "generate: streams takes seed and first_subsequence only (rows are addressed p*n + i, tokens by "
               "their position in the response)");
  RLVR_EXPECTS(cfg.eos < v && cfg.pad < v, config, "generate: eos = ", cfg.eos, " or pad = ", cfg.pad,
               " is outside the policy's vocabulary [0, ", v, ")");
  for (index_t p = 0; p < np; ++p) {
    const auto& pr = prompts[static_cast<std::size_t>(p)];
    RLVR_EXPECTS(!pr.empty(), shape, "generate: prompt ", p, " is empty");
    for (std::size_t t = 0; t < pr.size(); ++t)
      RLVR_EXPECTS(pr[t] >= 0 && pr[t] < v, range, "generate: prompt ", p, " has token ", pr[t], " at position ", t,
                   " outside [0, ", v, ")");
    RLVR_EXPECTS(static_cast<index_t>(pr.size()) + cfg.max_tokens <= ctx, config, "generate: prompt ", p, " has ",
                 pr.size(), " tokens; with max_tokens = ", cfg.max_tokens, " it exceeds the policy's context_length ",
                 ctx);
  }
  // Greedy decoding records no entropy (the vector stays empty): the sampled distribution is a
  // point mass, and the temperature is not a meaningful parameter there.
  const bool want_entropy = cfg.entropy && !cfg.sampling.greedy;
  generation out;
  out.prompts = np;
  out.samples = n;
  const auto rows = static_cast<std::size_t>(np * n);
  out.responses.assign(rows, {});
  out.truncated.assign(rows, 0);
  out.logprob.assign(rows, 0.0);
  if (want_entropy) out.entropy.assign(rows, 0.0);

  // Prompts per chunk: whole prompts only, so a prompt's n rows share a cache and a chunk, and at
  // least one prompt even when n alone exceeds max_batch.
  const index_t chunk = cfg.max_batch == 0 ? np : std::max<index_t>(1, cfg.max_batch / n);
  // Work buffers, reused by every chunk and every decode step (sized on first use).
  std::vector<token_t> feed;
  std::vector<float> logits, ready_logits;
  std::vector<index_t> ready;
  std::vector<std::uint64_t> sub, off;
  std::vector<token_draw<float>> draws;
  std::vector<double> ent;
  std::vector<std::uint8_t> done;
  for (index_t p0 = 0; p0 < np; p0 += chunk) {
    const index_t pc = std::min(chunk, np - p0), nb = pc * n;
    const index_t r0 = p0 * n; // first global row of the chunk
    // A fresh cache per chunk: its sequences start empty, and the previous chunk's is released.
    auto cache = policy.make_cache(nb);
    feed.assign(static_cast<std::size_t>(nb), cfg.pad);
    logits.assign(static_cast<std::size_t>(nb * v), 0.0f);
    done.assign(static_cast<std::size_t>(nb), 0);
    const matrix_view<float> lv(logits.data(), nb, v);
    // Chunk-local row i belongs to prompt p0 + i / n (rows of a prompt are consecutive).
    auto prompt_of = [&](index_t i) -> const std::vector<token_t>& {
      return prompts[static_cast<std::size_t>(p0 + i / n)];
    };
    // t counts decode calls; the chunk ends when its last row has sampled eos or max_tokens
    // tokens, which takes at most max_p L_p + max_tokens − 1 calls (within the context check).
    index_t remaining = nb;
    for (index_t t = 0; remaining > 0; ++t) {
      for (index_t i = 0; i < nb; ++i) {
        const auto& pr = prompt_of(i);
        const auto lp = static_cast<index_t>(pr.size());
        if (t < lp) feed[static_cast<std::size_t>(i)] = pr[static_cast<std::size_t>(t)];
        // else: the token sampled at call t − 1 (set below), or pad once finished
      }
      policy.decode(cache, vector_view<const token_t>(feed), lv);
      // rows drawing a token after this call: prompt read, not finished. Response token j of a
      // row is drawn after call L − 1 + j, hence offset j = t − (L − 1).
      ready.clear();
      sub.clear();
      off.clear();
      for (index_t i = 0; i < nb; ++i) {
        const auto lp = static_cast<index_t>(prompt_of(i).size());
        if (done[static_cast<std::size_t>(i)] || t < lp - 1) continue;
        ready.push_back(i);
        sub.push_back(streams.first_subsequence + static_cast<std::uint64_t>(r0 + i));
        off.push_back(static_cast<std::uint64_t>(t - (lp - 1)));
      }
      const auto m = static_cast<index_t>(ready.size());
      // Every row is still reading its prompt (t < L − 1 for all): nothing to draw at this call.
      if (m == 0) continue;
      // Gather the drawing rows into one contiguous block: one batched `sample` (and one
      // `token_entropy`) over exactly the rows that need it, rows of finished or still-reading
      // sequences never reach the sampler.
      ready_logits.resize(static_cast<std::size_t>(m * v));
      for (index_t k = 0; k < m; ++k)
        std::copy_n(logits.data() + ready[static_cast<std::size_t>(k)] * v, v, ready_logits.data() + k * v);
      const matrix_view<const float> rl(ready_logits.data(), m, v);
      draws.resize(static_cast<std::size_t>(m));
      // Per-row subsequences and offsets, since the drawing rows are a sparse subset of the chunk.
      const stream_batch sb{.seed = streams.seed, .subsequences = vector_view<const std::uint64_t>(sub),
                            .offsets = vector_view<const std::uint64_t>(off)};
      // The policy's logits are float, so the float sampler; its thread-local scratch is reused
      // across decode calls.
      sample(backend, rl, cfg.sampling, sb, vector_view<token_draw<float>>(draws));
      if (want_entropy) {
        ent.resize(static_cast<std::size_t>(m));
        token_entropy(backend, rl, vector_view<double>(ent), cfg.sampling.temperature);
      }
      for (index_t k = 0; k < m; ++k) {
        const index_t i = ready[static_cast<std::size_t>(k)];
        const auto r = static_cast<std::size_t>(r0 + i);
        const auto tok = static_cast<token_t>(draws[static_cast<std::size_t>(k)].token);
        auto& resp = out.responses[r];
        resp.push_back(tok);
        out.logprob[r] += static_cast<double>(draws[static_cast<std::size_t>(k)].logprob);
        if (want_entropy) out.entropy[r] += ent[static_cast<std::size_t>(k)];
        feed[static_cast<std::size_t>(i)] = tok;
        const bool hit_eos = tok == cfg.eos;
        if (hit_eos || static_cast<index_t>(resp.size()) == cfg.max_tokens) {
          done[static_cast<std::size_t>(i)] = 1;
          out.truncated[r] = hit_eos ? 0 : 1;
          --remaining;
        }
      }
      // finished rows are fed their last token once (it is in their sequence), then pad.
      // done: 0 running, 1 finished at this call (its last token is still to be fed), 2 fed.
      for (index_t i = 0; i < nb; ++i)
        if (done[static_cast<std::size_t>(i)] == 1) done[static_cast<std::size_t>(i)] = 2;
        else if (done[static_cast<std::size_t>(i)] == 2) feed[static_cast<std::size_t>(i)] = cfg.pad;
    }
  }
  return out;
}

//! As above for a `std::vector` of prompts (braced lists and vectors convert without a span).
//! The overload exists because a braced list does not convert to a `std::span`.
template <Policy P, HostBackend B = serial_backend>
[[nodiscard]] generation generate(const P& policy, const std::vector<std::vector<token_t>>& prompts, index_t n,
                                  const generation_config& cfg, const stream_batch& streams = {},
                                  const B& backend = B{}) {
  return generate(policy, std::span<const std::vector<token_t>>(prompts), n, cfg, streams, backend);
}

} // namespace rlvr
