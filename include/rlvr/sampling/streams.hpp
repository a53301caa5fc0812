#pragma once
//! \file rlvr/sampling/streams.hpp
//! \brief `stream_batch` (where each sampled row's random number comes from) and the
//! `SamplingBackend` concept (floor 2).
//!
//! Row i of a sampling call draws one uniform u ∈ [0, 1) from the Philox4x32-10 block at
//! (seed, subsequence_i, offset_i) (`rlvr/random/philox.hpp` gives the word layout):
//!
//!     subsequence_i = subsequences[i]  if `subsequences` is given, else first_subsequence + i
//!     offset_i      = offsets[i]       if `offsets` is given,      else offset
//!     u             = u01_from_u64(block.w[0], block.w[1])
//!
//! A trainer uses (seed, sequence id, decode step), so a row's draw depends on its own address
//! only: not on the batch composition, the row order, the thread count or the backend.
//!
//! The per-row arrays are views in a memory space (`basic_stream_batch<Space>`); the plain
//! `stream_batch` is the host one users fill. `rlvr::sample` uploads the per-row arrays when the
//! backend reads another space, so users never build a device `basic_stream_batch` themselves;
//! backend authors receive one in their `sample_rows`.
//!
//! This header sits on floor 2 (it includes only floors 0 and 1), so backends may include it.

#include <cstdint>
#include <type_traits>

#include "rlvr/config.hpp"
#include "rlvr/error.hpp"
#include "rlvr/backends/concepts.hpp"
#include "rlvr/random/philox.hpp"
#include "rlvr/sampling/processors.hpp"
#include "rlvr/view.hpp"

namespace rlvr {

//! Where each row's random number comes from, with the per-row arrays in memory space `Space`.
//! Trivially copyable: passed by value into device kernels.
template <class Space = host_space> struct basic_stream_batch {
  using memory_space = Space;                              //!< where `subsequences` / `offsets` live
  std::uint64_t seed = 0;                                  //!< the Philox key
  std::uint64_t first_subsequence = 0;                     //!< row i: first_subsequence + i …
  vector_view<const std::uint64_t, Space> subsequences{};  //!< … unless given per row (length N)
  std::uint64_t offset = 0;                                //!< every row: offset …
  vector_view<const std::uint64_t, Space> offsets{};       //!< … unless given per row (length N)

  //! The subsequence of row i (see the file comment).
  [[nodiscard]] RLVR_HD constexpr std::uint64_t subsequence_of(index_t i) const {
    return subsequences.empty() ? first_subsequence + static_cast<std::uint64_t>(i) : subsequences[i];
  }
  //! The offset of row i (see the file comment).
  [[nodiscard]] RLVR_HD constexpr std::uint64_t offset_of(index_t i) const {
    return offsets.empty() ? offset : offsets[i];
  }
  //! Row i's uniform in [0, 1).
  [[nodiscard]] RLVR_HD constexpr double uniform(index_t i) const {
    const u32x4 b = philox_block(seed, subsequence_of(i), offset_of(i));
    return u01_from_u64(b.w[0], b.w[1]);
  }
  //! The same streams without per-row arrays, in another space. Throws `rlvr::shape_error` if
  //! `subsequences` or `offsets` is given: those must be copied to the other space (the entry
  //! point `rlvr::sample` does it).
  template <class Other> [[nodiscard]] basic_stream_batch<Other> without_arrays_in() const {
    RLVR_EXPECTS(subsequences.empty() && offsets.empty(), shape, "stream_batch: per-row subsequences/offsets live in ",
                 Space::name, " memory and cannot be handed to code reading ", Other::name, " memory");
    return {seed, first_subsequence, {}, offset, {}};
  }
};

//! The host stream batch users fill (per-row arrays in host memory).
using stream_batch = basic_stream_batch<host_space>;

//! A type B models `SamplingBackend<B, T>` — it draws tokens from rows of T logits itself — if
//! `b.sample_rows(logits, params, streams, out, status)` is valid for `const B& b`,
//! `matrix_view<const T, S> logits`, `const sampling_params& params` (validated),
//! `const basic_stream_batch<S>& streams`, `vector_view<token_draw<T>, S> out` and
//! `vector_view<std::uint8_t, S> status`, S = `memory_space_t<B>`, and for every row i it writes
//! the draw of `rlvr/sampling/processors.hpp` with uniform `streams.uniform(i)` to `out[i]` and the
//! row's status to `status[i]` (0 ok, 1 a NaN or +inf logit, 2 every logit −inf). It may return
//! before the work is done (device backends); `rlvr::sample` waits through `SpaceMemory`.
template <class B, class T>
concept SamplingBackend =
    requires(const std::remove_cvref_t<B>& b, matrix_view<const T, memory_space_t<B>> z, const sampling_params& p,
             const basic_stream_batch<memory_space_t<B>>& s, vector_view<token_draw<T>, memory_space_t<B>> out,
             vector_view<std::uint8_t, memory_space_t<B>> status) { b.sample_rows(z, p, s, out, status); };

} // namespace rlvr
