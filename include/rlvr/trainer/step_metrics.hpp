#pragma once
//! \file rlvr/trainer/step_metrics.hpp
//! \brief `rlvr::step_metrics`: what one `trainer::step` reports (rewards, entropy, update
//! diagnostics and phase timings); written to files by `rlvr::metrics_writer`.

#include "rlvr/config.hpp"

namespace rlvr {

//! What one `trainer::step` reports. Means over responses unless said otherwise.
//!
//! Three groups: the rollout (rewards, accuracy, solved/unsolved prompts, entropy, lengths; from
//! the P·G responses sampled this step), the update (kept/dropped responses, the optimizer steps
//! taken and the loss diagnostics averaged over them: loss, gradient norm, clip fractions, KL),
//! and the phase timings. `trainer::on_step` receives it after every step and `trainer::fit`
//! writes it, one row per step, through `rlvr::metrics_writer` (JSONL or CSV, the fields in the
//! order declared here). Every field except the timings is a pure function of the seed, the
//! weights and the prompts: two runs with one seed report the same numbers.
struct step_metrics {
  index_t step = 0;              //!< 0-based index of this rollout batch
  index_t prompts = 0;           //!< P
  index_t responses = 0;         //!< P·G
  double reward_mean = 0;        //!< mean reward
  double accuracy = 0;           //!< fraction of responses with reward > 0
  double solved_fraction = 0;    //!< prompts whose G responses all have reward > 0
  double unsolved_fraction = 0;  //!< prompts whose G responses all have reward ≤ 0
  double entropy = 0;            //!< mean token entropy H_t of the rollout policy (τ applied)
  double response_length = 0;    //!< mean response length in tokens (`eos` included)
  double truncated_fraction = 0; //!< responses that hit `max_response_tokens` without `eos`
  index_t kept = 0;              //!< responses with an active token (in the update batch)
  index_t dropped = 0;           //!< responses the estimator removed (PSR/NSR drop the other side)
  index_t updates = 0;           //!< optimizer steps taken (mini-batches × epochs, empty ones skipped)
  double loss = 0;               //!< mean policy loss over the updates
  double grad_norm = 0;          //!< mean global gradient norm before clipping
  double clip_frac_low = 0;      //!< PPO clip fractions, token means over the updates
  double clip_frac_high = 0;
  double approx_kl = 0;          //!< mean(log π_old − log π) over the updates (0 on the first)
  double ref_kl = 0;             //!< mean KL to the reference (KL objectives or track_reference_kl): k3, exact for kl_full
  double value_loss = 0;         //!< PPO value loss (0 without a value head)
  double learning_rate = 0;      //!< the optimizer's rate at this step

  //! \name Phase timings
  //! Wall-clock seconds (`std::chrono::steady_clock`) of this step's phases. They are disjoint
  //! intervals inside `step_seconds`, so rollout + logprob + advantage + forward + loss +
  //! backward + optimizer ≤ step_seconds; the rest (input checks, the per-epoch shuffle) is
  //! unaccounted overhead. Observations only: no computed number depends on them, `save_state`
  //! does not store them, and two runs with one seed differ only in these fields.
  //! @{
  double rollout_seconds = 0;   //!< sampling through the KV cache (prompt prefill + one `decode` per
                                //!< response token, `rlvr::sample`) and verification (`reward` calls)
  double logprob_seconds = 0;   //!< the forward pass over the whole rollout batch for log π_old, entropy
                                //!< and V(s_t), and the reference forward for log π_ref and its KL
  double advantage_seconds = 0; //!< `rlvr::estimate_advantages`, the rollout metrics and the kept set
  double forward_seconds = 0;   //!< per mini-batch: assembling its tensors and the policy forward
                                //!< (logits, and values for PPO), summed over updates
  double loss_seconds = 0;      //!< per mini-batch: `rlvr::loss_and_grad` (fused loss + dL/dlogits)
                                //!< and PPO's clipped value loss with dL/dV, summed over updates
  double backward_seconds = 0;  //!< per mini-batch: `zero_grad` and the policy backward (the
                                //!< gradient is already in the [B·T, V] layout), summed over updates
  double optimizer_seconds = 0; //!< per mini-batch: global-norm clipping and the optimizer step
  double step_seconds = 0;      //!< the whole `step` call, from entry to just before the callback
  //! @}
};

} // namespace rlvr
