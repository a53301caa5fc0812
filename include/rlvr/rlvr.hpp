#pragma once
//! \file rlvr/rlvr.hpp
//! \brief The umbrella header: every host-side part of rlvr that needs no optional dependency.
//!
//! Parts with a dependency are included on their own:
//! - `<rlvr/backends/eigen.hpp>`, `<rlvr/policy/transformer.hpp>` and `<rlvr/fused_linear.hpp>`
//!   (the LM head fused with the objective) (Eigen; target `rlvr::eigen`),
//! - `<rlvr/backends/xtensor.hpp>` (xtensor + xsimd; target `rlvr::xtensor`),
//! - `<rlvr/backends/cuda.hpp>` (host declarations; target `rlvr::cuda`) and the kernels in
//!   `<rlvr/backends/cuda/*.cuh>`, which only nvcc compiles.
//! The umbrella never includes CUDA code. Of `rlvr/dist/` it brings only `communicator.hpp`
//! (through the trainer); `dist/threads.hpp`, `dist/statistics.hpp` and the MPI / NCCL
//! communicators are included on their own.
//!
//! A map of the library, in the order a training program meets it (details in docs/):
//! - tensors in and out: `view.hpp` (`matrix_view` / `vector_view` with memory spaces),
//!   `error.hpp` (the `rlvr.<kind>` errors), `parallel.hpp` (thread count 0 = all cores);
//! - rollouts: a `Policy` (`policy/concepts.hpp`; `policy/tabular.hpp`, the paper's §3 model),
//!   sampled by `generate.hpp` through `sampling/sampler.hpp`, with every token's randomness at a
//!   Philox counter (`random/philox.hpp`) — docs/sampling.md, docs/policies.md;
//! - verification: `rewards/` (`Reward`, the math verifier, composition) and `tasks/` (generated,
//!   exactly verifiable tasks) — docs/rewards.md;
//! - the update: `objectives/` (advantages, per-token terms, aggregations, the objective zoo),
//!   run by `loss.hpp` on a backend (`backends/serial.hpp` here; Eigen, xtensor, CUDA above),
//!   then `optim/` — docs/objectives.md, docs/math.md, docs/backends.md, docs/optim.md;
//! - the loop: `trainer/trainer.hpp` (rollout, verify, advantages, clipped mini-batches,
//!   checkpoints through `io/`) — docs/trainer.md; `sft.hpp` warm-starts a policy;
//! - measuring: `evaluate.hpp` and `metrics/` (pass@k, pass^k, maj@k, bootstrap intervals,
//!   entropy), `diagnostics/mass_flow.hpp` — docs/evaluation.md.
//!
//! Cost: the umbrella preprocesses to about 94 500 lines (docs/getting-started.md §4,
//! "Compile time"); a translation unit that needs one area includes that header instead (`rlvr/loss.hpp`
//! alone is under half), or precompiles the umbrella once per target.

// floor 0: configuration, errors, views, threads
#include "rlvr/config.hpp"
#include "rlvr/error.hpp"
#include "rlvr/parallel.hpp"
#include "rlvr/view.hpp"

// floor 1: RNG and concepts
#include "rlvr/random/philox.hpp"
#include "rlvr/backends/concepts.hpp"
#include "rlvr/objectives/concepts.hpp"
#include "rlvr/policy/concepts.hpp"
#include "rlvr/optim/concepts.hpp"
#include "rlvr/rewards/concepts.hpp"
#include "rlvr/tasks/concepts.hpp"

// floor 2: per-element math
#include "rlvr/objectives/terms.hpp"
#include "rlvr/objectives/row_math.hpp"
#include "rlvr/objectives/advantages.hpp"
#include "rlvr/objectives/aggregation.hpp"
// sequence- and batch-level surrogates and token gates (the objective zoo), KL controllers
#include "rlvr/objectives/batch_terms.hpp"
#include "rlvr/objectives/objective.hpp"
#include "rlvr/objectives/kl_control.hpp"
#include "rlvr/sampling/processors.hpp"

// floor 3: the dependency-free backend (the oracle)
#include "rlvr/backends/serial.hpp"

// floor 4: entry points
#include "rlvr/loss.hpp"
#include "rlvr/sampling/sampler.hpp"
#include "rlvr/metrics/pass_at_k.hpp"
#include "rlvr/metrics/bootstrap.hpp"
#include "rlvr/metrics/majority.hpp"
#include "rlvr/metrics/entropy.hpp"
#include "rlvr/diagnostics/mass_flow.hpp"

// floor 5: models, optimizers, rewards, tasks, the trainer, I/O
// files: checked atomic writes, safetensors, content hashes
#include "rlvr/io/atomic_file.hpp"
#include "rlvr/io/safetensors.hpp"
#include "rlvr/io/sha256.hpp"
#include "rlvr/policy/tabular.hpp"
#include "rlvr/policy/reference.hpp"
#include "rlvr/policy/conformance.hpp"
#include "rlvr/optim/optim.hpp"
#include "rlvr/rewards/extract.hpp"
#include "rlvr/rewards/numbers.hpp"
#include "rlvr/rewards/normalize.hpp"
#include "rlvr/rewards/verifiers.hpp"
#include "rlvr/rewards/compose.hpp"
#include "rlvr/tasks/vocabulary.hpp"
#include "rlvr/tasks/walk.hpp"
#include "rlvr/tasks/zp_walk.hpp"
#include "rlvr/tasks/graph_path.hpp"
#include "rlvr/tasks/reward.hpp"
#include "rlvr/trainer/reward.hpp"
#include "rlvr/trainer/trainer.hpp"
#include "rlvr/generate.hpp"
#include "rlvr/evaluate.hpp"
#include "rlvr/sft.hpp"
