#pragma once
//! \file rlvr/tasks/graph_path.hpp
//! \brief The graph-path task: write a path from s to t edge by edge in a fixed random
//! directed graph (drawn once from a seed).
//!
//!     prompt   <bos> 4 11 <sep>
//!     response 9 2 11 <eos>          (4 → 9, 9 → 2, 2 → 11 are edges)
//!
//! The graph has `nodes` vertices; each vertex gets `out_degree` distinct successors drawn
//! uniformly (never itself), plus the edge v → v + 1 (mod n) so that it is strongly connected.
//! A plausible wrong step is a *wrong neighbour*: a uniformly drawn node that is not a
//! successor of the previous node.
//!
//! Known behaviour at small scale (issue 8): RL learns a routing skill here that transfers to
//! held-out pairs, so the paper's large-k effect tends to disappear — a useful contrast to
//! `zp_walk`, shipped as the second task and the template for a user's own.
//!
//! The graph is a pure function of (`nodes`, `out_degree`, `graph_seed`): it is drawn with the
//! header's own SplitMix64 and `uniform_below`, so it is the same on every platform and
//! standard library, and two tasks built from one config are interchangeable. Construction
//! costs O(n²) memory and O(n²·out_degree) time (all-pairs BFS distances, see `walk_task`).
//!
//!     rlvr::tasks::graph_path task({.nodes = 32, .out_degree = 3, .graph_seed = 7});
//!     rlvr::philox_engine g(/*seed*/ 1);
//!     auto prompt = task.problem(g, rlvr::tasks::split::eval);   // <bos> s t <sep>, d(s, t) ∈ [3, 5]

#include <algorithm>
#include <cstdint>
#include <vector>

#include "rlvr/error.hpp"
#include "rlvr/tasks/concepts.hpp"
#include "rlvr/tasks/walk.hpp"

namespace rlvr::tasks {

//! Parameters of `graph_path`.
//!
//! The default bands differ from `walk_config`'s (`zp_walk`'s) for this smaller graph: training
//! distances 1–2 (zp_walk: 1–3), held-out 3–5 (4–5), pretraining walks of at most 3 steps (4)
//! and responses of at most 8 nodes (10). All fields are validated by the constructor
//! (`config_error`). The vocabulary is the node numbers plus the four special words, so the
//! policy's V = nodes + 4.
struct graph_path_config {
  int nodes = 24;                //!< vertices (≥ 4)
  int out_degree = 2;            //!< random successors per vertex, plus v → v + 1
  std::uint64_t graph_seed = 1;  //!< seeds the graph (a SplitMix64 stream; fixed per task)
  walk_config walk{.pretrain_max_steps = 3, .train_max_distance = 2, .eval_min_distance = 3,
                   .eval_max_distance = 5, .max_steps = 8};
};

//! The graph-path task (a `walk_task` over a seeded random digraph).
class graph_path : public walk_task {
public:
  //! Raises `config_error` if `nodes` < 4, `out_degree` ∉ [1, nodes − 2], `cfg.walk` is
  //! inconsistent, or a split's distance band holds no (s, t) pair in the drawn graph (possible
  //! for an unlucky seed or a dense graph whose diameter is below `eval_min_distance`).
  explicit graph_path(graph_path_config cfg = {})
      : walk_task("graph_path", make_graph(cfg), cfg.walk, slip_for(cfg.nodes)) {}

private:
  // SplitMix64 (Steele, Lea & Flood 2014): a tiny full-period 64-bit generator, enough to draw a
  // graph and fully specified here, so the graph does not depend on <random>'s engines. It
  // models BitEngine (full 64-bit range), which `uniform_below` requires.
  struct splitmix64 {
    using result_type = std::uint64_t;
    static constexpr result_type min() { return 0; }
    static constexpr result_type max() { return ~result_type{0}; }
    std::uint64_t s;
    std::uint64_t operator()() {
      std::uint64_t z = (s += 0x9E3779B97F4A7C15ULL);
      z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
      z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
      return z ^ (z >> 31);
    }
  };
  static std::vector<std::vector<int>> make_graph(const graph_path_config& c) {
    RLVR_EXPECTS(c.nodes >= 4, config, "graph_path: nodes = ", c.nodes, " must be >= 4");
    RLVR_EXPECTS(c.out_degree >= 1 && c.out_degree <= c.nodes - 2, config,
                 "graph_path: out_degree = ", c.out_degree, " outside [1, nodes - 2 = ", c.nodes - 2, "]");
    splitmix64 g{c.graph_seed};
    const int n = c.nodes;
    std::vector<std::vector<int>> s(static_cast<std::size_t>(n));
    // Rejection sampling per node: draw until out_degree distinct successors other than v and
    // v + 1 are found. out_degree ≤ n − 2 guarantees enough candidates, so this terminates
    // (expected O(out_degree) draws while out_degree is small against n). The ring edge comes
    // first, so the successor lists, and hence every later draw, are fixed by the seed.
    for (int v = 0; v < n; ++v) {
      auto& out = s[static_cast<std::size_t>(v)];
      out.push_back((v + 1) % n);
      while (static_cast<int>(out.size()) < c.out_degree + 1) {
        const int w = static_cast<int>(uniform_below(g, static_cast<std::uint64_t>(n)));
        if (w != v && std::find(out.begin(), out.end(), w) == out.end()) out.push_back(w);
      }
    }
    return s;
  }
  static slip_fn slip_for(int n) {
    // A non-successor of `prev`: the first one at or after a uniformly drawn start (cyclically).
    // Not exactly uniform over the non-successors (a node right after a run of successors is
    // more likely), which is fine for plausibly wrong data. `prev` itself qualifies: no node is
    // its own successor. `intended` is unused: a wrong neighbour need not resemble the right one.
    return [n](const walk_task& task, int prev, int intended, std::uint64_t bits) {
      (void)intended;
      const int start = static_cast<int>(bits % static_cast<std::uint64_t>(n));
      for (int i = 0; i < n; ++i) {
        const int w = (start + i) % n;
        if (!task.is_edge(prev, w)) return w;
      }
      return prev; // unreachable: out_degree + 1 < n leaves a non-successor
    };
  }
};
static_assert(Task<graph_path>);

} // namespace rlvr::tasks
