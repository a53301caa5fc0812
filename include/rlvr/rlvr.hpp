#pragma once
//! \file rlvr/rlvr.hpp
//! \brief The umbrella header: every host-side part of rlvr that needs no optional dependency.
//!
//! Backends with dependencies are included on their own: `<rlvr/backends/eigen.hpp>` (Eigen),
//! `<rlvr/backends/xtensor.hpp>` (xtensor + xsimd), `<rlvr/backends/cuda.hpp>` (CUDA runtime;
//! kernels in `<rlvr/backends/cuda/*.cuh>`, nvcc only).

#include "rlvr/config.hpp"
#include "rlvr/error.hpp"
#include "rlvr/parallel.hpp"
#include "rlvr/view.hpp"
#include "rlvr/backends/concepts.hpp"
