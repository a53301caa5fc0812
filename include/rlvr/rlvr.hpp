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
//! The umbrella never includes CUDA code.

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
