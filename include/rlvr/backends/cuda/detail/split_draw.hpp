#pragma once
// The index arithmetic of the CUDA split-row sampler's draw (private; host and device).
//
// The split-row kernel (rlvr/backends/cuda/sampling.cuh, `sample_split_kernel`) gives each of the
// `Blocks` blocks of a cluster one contiguous chunk of the row (`split_chunk`), each of a block's
// warps one contiguous segment of its chunk (`split_chunk` again, over the chunk), and finds the
// inverse-CDF crossing hierarchically: the chunk from the per-block totals in rank order, then
// the segment from that block's per-warp sums (`find_crossing`, the same rule at both levels).
// tests/backends/test_split_draw.cpp replays this partition on the host against a sequential
// inverse CDF.
#include "rlvr/config.hpp"

namespace rlvr::cuda::detail {

//! Part `rank` of `parts` contiguous parts of [begin, end): [lo, hi) with ⌈(end − begin)/parts⌉
//! elements per part (the last parts may be shorter or empty).
RLVR_HD constexpr void split_chunk(index_t begin, index_t end, int parts, int rank, index_t& lo, index_t& hi) {
  const index_t len = end - begin;
  const index_t per = (len + parts - 1) / parts;
  const index_t off = static_cast<index_t>(rank) * per;
  lo = begin + (off < len ? off : len);
  hi = lo + per < end ? lo + per : end;
}

//! Where a running sum crosses `target`.
struct crossing {
  int index;   //!< the part holding the crossing
  double base; //!< base + the sums of the parts before it
};

//! The first part r of `count` with base + Σ_{<r} sums + sums[r] > target (running sum, in
//! order); if rounding leaves target at or past the end, the last non-empty part (0 if none).
RLVR_HD constexpr crossing find_crossing(const double* sums, int count, double target, double base) {
  double c = base;
  for (int r = 0; r < count; ++r) {
    if (c + sums[r] > target) return {r, c};
    c += sums[r];
  }
  int last = count - 1;
  while (last > 0 && sums[last] == 0.0) --last;
  c = base;
  for (int r = 0; r < last; ++r) c += sums[r];
  return {last, c};
}

} // namespace rlvr::cuda::detail
