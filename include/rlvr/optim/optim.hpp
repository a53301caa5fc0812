#pragma once
//! \file rlvr/optim/optim.hpp
//! \brief Everything in rlvr/optim: the concepts, SGD, Adam, AdamW, clipping and schedules.
//!
//! A training step with these parts reads
//!
//!     policy.zero_grad();  …forward, loss, backward…
//!     rlvr::clip_grad_norm(policy.parameters(), 1.0);
//!     rlvr::apply_schedule(opt, sched, opt.steps());
//!     opt.step(policy.parameters());

#include "rlvr/optim/adam.hpp"
#include "rlvr/optim/clip.hpp"
#include "rlvr/optim/concepts.hpp"
#include "rlvr/optim/parameter.hpp"
#include "rlvr/optim/schedules.hpp"
#include "rlvr/optim/sgd.hpp"
#include "rlvr/optim/state_dict.hpp"
