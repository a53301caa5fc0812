#pragma once
//! \file rlvr/tasks/zp_walk.hpp
//! \brief The Z_p walk task: reach t from s in Z_p with the steps v → v + 1 and v → 2v (mod p),
//! writing every intermediate value. The flagship study's task.
//!
//!     prompt   <bos> 3 40 <sep>
//!     response 6 12 24 48 44 … 40 <eos>      (each value is the previous + 1 or × 2, mod p)
//!
//! The graph v → {v + 1, 2v} on Z_p (p prime) is strongly connected with diameter about
//! log2(p) + a few, so problems of distance 4–5 (the default held-out band) need a planned walk,
//! while the base model only ever saw walks of 1..`pretrain_max_steps` = 4 steps and RL trains
//! on distances ≤ 3. A plausible wrong step is an *arithmetic
//! slip*: the intended value ± 1 (mod p), the next that is not a valid successor (so "5 × 2 =
//! 11" — confident and well-formed, and wrong).
//!
//! Why this task (see docs/study.md): RL cannot simply learn it outright at this scale (a
//! two-layer model does not plan five steps ahead in Z_53), the base model's wrong answers are
//! confident well-formed steps, and the held-out problems are longer than anything in the
//! pretraining data or the RL training set.

#include <cstdint>
#include <string>
#include <vector>

#include "rlvr/error.hpp"
#include "rlvr/tasks/concepts.hpp"
#include "rlvr/tasks/walk.hpp"

namespace rlvr::tasks {

//! Parameters of `zp_walk`: the modulus p (≥ 5) and the walk bands (`walk_config`).
//!
//! p is not checked for primality: v → v + 1 alone visits every node, so the graph is strongly
//! connected for any p; the study uses primes. The vocabulary is the p numbers plus the four
//! special words (V = p + 4).
struct zp_walk_config {
  //! p, the number of nodes; 53 is the calibrated study setting
  int modulus = 53;
  //! distance bands and lengths; the defaults are calibrated for p = 53
  walk_config walk{};
};

//! The Z_p walk task (a `walk_task` over v → v + 1, v → 2v mod p).
class zp_walk : public walk_task {
public:
  //! Raises `config_error` if p < 5 or `cfg.walk` is inconsistent (see `walk_task`), or if no
  //! (s, t) pair falls in a split's distance band.
  explicit zp_walk(zp_walk_config cfg = {}) : walk_task("zp_walk", successors_of(cfg.modulus), cfg.walk, slip_for(cfg.modulus)),
                                              p_(cfg.modulus) {}
  //! The modulus p.
  [[nodiscard]] int modulus() const noexcept { return p_; }

private:
  // succ[v] = {v + 1, 2v} mod p. Node 0 has the self-loop 0 → 0 (2·0 = 0) and node 1 lists 2
  // twice; both are harmless (a walk step picks an entry uniformly).
  static std::vector<std::vector<int>> successors_of(int p) {
    RLVR_EXPECTS(p >= 5, config, "zp_walk: modulus = ", p, " must be >= 5");
    std::vector<std::vector<int>> s(static_cast<std::size_t>(p));
    for (int v = 0; v < p; ++v) s[static_cast<std::size_t>(v)] = {(v + 1) % p, (2 * v) % p};
    return s;
  }
  static slip_fn slip_for(int p) {
    return [p](const walk_task& task, int prev, int intended, std::uint64_t bits) {
      // intended ± 1, ± 2, … (sign from one random bit), the first that is not a successor.
      const int sign = (bits & 1u) ? 1 : -1;
      for (int off = 1; off < p; ++off)
        for (int sg : {sign, -sign}) {
          const int w = ((intended + sg * off) % p + p) % p;
          if (!task.is_edge(prev, w)) return w;
        }
      return intended; // unreachable for p >= 5
    };
  }
  int p_;
};
static_assert(Task<zp_walk>);

} // namespace rlvr::tasks
