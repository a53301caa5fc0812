#pragma once
//! \file rlvr/tasks/walk.hpp
//! \brief Walk tasks: reach node t from node s in a fixed directed graph, writing every node.
//!
//! A *walk task* is a directed graph on nodes 0..n−1, each node a word of the vocabulary. A
//! problem is a pair (s, t); the prompt is `<bos> s t <sep>` and a response is a sequence of
//! nodes v_1 … v_L followed by `<eos>`. The verifier accepts it iff every step is an edge
//! (v_0 = s, v_{i−1} → v_i), L ≥ 1, v_L = t and L + 1 ≤ `max_response_length()`. Problems have
//! many correct answers (every walk from s to t of admissible length).
//!
//! Difficulty is the graph distance d(s, t) (BFS, computed once at construction): training
//! problems have 1 ≤ d ≤ `train_max_distance`, held-out problems
//! `eval_min_distance` ≤ d ≤ `eval_max_distance`, so the two splits are disjoint whenever
//! `eval_min_distance > train_max_distance` (checked).
//!
//! Pretraining data are *short* random walks (1..`pretrain_max_steps` uniformly chosen edges
//! from a uniform start; the target is wherever the walk ends). A plausibly wrong example has
//! one step replaced by a *slip*: a node that is not a successor of the previous node but looks
//! like one (the task decides: an off-by-one arithmetic error, a wrong neighbour); the walk then
//! continues correctly from the slip and its target is where it ends, so the text is
//! well-formed, confident and ends at its target — only the verifier can tell.
//!
//! Two walk tasks ship: `zp_walk` (tasks/zp_walk.hpp) and `graph_path` (tasks/graph_path.hpp).
//! Both derive from `walk_task`, which a user can also construct from any successor table.

#include <algorithm>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "rlvr/config.hpp"
#include "rlvr/error.hpp"
#include "rlvr/tasks/concepts.hpp"
#include "rlvr/tasks/vocabulary.hpp"

namespace rlvr::tasks {

//! Sizes and difficulty bands of a walk task (defaults: the calibrated Z_53 study setting).
struct walk_config {
  int pretrain_max_steps = 4; //!< pretraining walks have 1..this many steps
  int train_max_distance = 3; //!< RL training problems: 1 ≤ d(s, t) ≤ this
  int eval_min_distance = 4;  //!< held-out problems: eval_min ≤ d(s, t) ≤ eval_max
  int eval_max_distance = 5;
  int max_steps = 10; //!< longest accepted response, in nodes (plus `<eos>`)
};

//! A walk task over an explicit successor table. `succ[v]` lists the successors of node v
//! (duplicates allowed; a walk step picks one entry uniformly). `slip(task, prev, intended,
//! bits)` must return a node that is *not* a successor of `prev` (64 random bits given); it is
//! how the wrong pretraining examples go wrong.
class walk_task {
public:
  using slip_fn = std::function<int(const walk_task& task, int prev, int intended, std::uint64_t random_bits)>;

  walk_task(std::string name, std::vector<std::vector<int>> succ, walk_config cfg, slip_fn slip)
      : name_(std::move(name)), succ_(std::move(succ)), cfg_(cfg), slip_(std::move(slip)),
        vocab_(make_words(static_cast<int>(succ_.size()))) {
    const int n = nodes();
    RLVR_EXPECTS(n >= 2, config, name_, ": needs at least 2 nodes, got ", n);
    for (int v = 0; v < n; ++v) {
      RLVR_EXPECTS(!succ_[static_cast<std::size_t>(v)].empty(), config, name_, ": node ", v,
                   " has no successor");
      for (int w : succ_[static_cast<std::size_t>(v)])
        RLVR_EXPECTS(w >= 0 && w < n, config, name_, ": successor ", w, " of node ", v,
                     " outside [0, ", n, ")");
    }
    RLVR_EXPECTS(cfg_.pretrain_max_steps >= 1, config, name_,
                 ": pretrain_max_steps = ", cfg_.pretrain_max_steps, " must be >= 1");
    RLVR_EXPECTS(cfg_.train_max_distance >= 1, config, name_,
                 ": train_max_distance = ", cfg_.train_max_distance, " must be >= 1");
    RLVR_EXPECTS(cfg_.eval_min_distance > cfg_.train_max_distance, config, name_,
                 ": eval_min_distance = ", cfg_.eval_min_distance,
                 " must exceed train_max_distance = ", cfg_.train_max_distance,
                 " (held-out problems must be disjoint from and harder than training ones)");
    RLVR_EXPECTS(cfg_.eval_max_distance >= cfg_.eval_min_distance, config, name_,
                 ": eval_max_distance = ", cfg_.eval_max_distance, " < eval_min_distance = ",
                 cfg_.eval_min_distance);
    RLVR_EXPECTS(cfg_.max_steps >= std::max(cfg_.eval_max_distance, cfg_.pretrain_max_steps), config,
                 name_, ": max_steps = ", cfg_.max_steps,
                 " cannot hold the longest required walk (", std::max(cfg_.eval_max_distance,
                 cfg_.pretrain_max_steps), ")");
    compute_distances();
    for (split s : {split::train, split::eval}) {
      auto& pool = s == split::train ? train_pairs_ : eval_pairs_;
      const int lo = s == split::train ? 1 : cfg_.eval_min_distance;
      const int hi = s == split::train ? cfg_.train_max_distance : cfg_.eval_max_distance;
      for (int a = 0; a < n; ++a)
        for (int b = 0; b < n; ++b) {
          const int d = distance(a, b);
          if (d >= lo && d <= hi) pool.emplace_back(a, b);
        }
      RLVR_EXPECTS(!pool.empty(), config, name_, ": no (s, t) pair has distance in [", lo, ", ",
                   hi, "] (", s == split::train ? "train" : "eval", " split)");
    }
  }

  // ---- the Task interface ----
  [[nodiscard]] const vocabulary& vocab() const noexcept { return vocab_; }
  [[nodiscard]] std::string_view name() const noexcept { return name_; }
  [[nodiscard]] index_t max_prompt_length() const noexcept { return 4; }
  [[nodiscard]] index_t max_response_length() const noexcept { return cfg_.max_steps + 1; }

  //! A fresh problem of split `s`: a uniformly drawn (s, t) pair among those of the split's
  //! distance band, as the prompt `<bos> s t <sep>`.
  template <BitEngine G> [[nodiscard]] std::vector<token_t> problem(G& g, split s) const {
    const auto& pool = s == split::train ? train_pairs_ : eval_pairs_;
    const auto& [a, b] = pool[static_cast<std::size_t>(uniform_below(g, pool.size()))];
    return prompt_of(a, b);
  }

  //! A pretraining sequence: a random walk of 1..`pretrain_max_steps` steps from a uniform
  //! start; if `!correct`, one uniformly chosen step is a slip (see the file comment).
  template <BitEngine G> [[nodiscard]] example pretraining_example(G& g, bool correct) const {
    const int n = nodes();
    const int s = static_cast<int>(uniform_below(g, static_cast<std::uint64_t>(n)));
    const int len = 1 + static_cast<int>(uniform_below(g, static_cast<std::uint64_t>(cfg_.pretrain_max_steps)));
    const int slip_at = correct ? -1 : static_cast<int>(uniform_below(g, static_cast<std::uint64_t>(len)));
    std::vector<token_t> resp;
    int v = s;
    for (int i = 0; i < len; ++i) {
      const auto& out = succ_[static_cast<std::size_t>(v)];
      const int w = out[static_cast<std::size_t>(uniform_below(g, out.size()))];
      v = i == slip_at ? checked_slip(v, w, next_u64(g)) : w;
      resp.push_back(static_cast<token_t>(v));
    }
    resp.push_back(vocab_.eos());
    return {prompt_of(s, v), std::move(resp)};
  }

  //! The exact verifier (see the file comment). Never throws.
  [[nodiscard]] float score(std::span<const token_t> prompt, std::span<const token_t> response) const noexcept {
    int s = 0, t = 0;
    if (!parse_prompt(prompt, s, t)) return 0.0f;
    const auto limit = static_cast<std::size_t>(max_response_length());
    int v = s;
    for (std::size_t i = 0; i < response.size() && i < limit; ++i) {
      const token_t w = response[i];
      if (w == vocab_.eos()) return (i > 0 && v == t) ? 1.0f : 0.0f;
      if (w < 0 || w >= nodes() || !is_edge(v, static_cast<int>(w))) return 0.0f;
      v = static_cast<int>(w);
    }
    return 0.0f;
  }

  // ---- walk-specific queries ----
  [[nodiscard]] int nodes() const noexcept { return static_cast<int>(succ_.size()); }
  [[nodiscard]] const walk_config& config() const noexcept { return cfg_; }
  //! Graph distance d(a, b) in edges; −1 if b is unreachable from a (d(a, a) = 0).
  [[nodiscard]] int distance(int a, int b) const {
    RLVR_EXPECTS(a >= 0 && a < nodes() && b >= 0 && b < nodes(), range, name_, ": distance(", a,
                 ", ", b, ") outside [0, ", nodes(), ")");
    return dist_[static_cast<std::size_t>(a) * succ_.size() + static_cast<std::size_t>(b)];
  }
  [[nodiscard]] bool is_edge(int a, int b) const noexcept {
    const auto& out = succ_[static_cast<std::size_t>(a)];
    return std::find(out.begin(), out.end(), b) != out.end();
  }
  [[nodiscard]] const std::vector<int>& successors(int v) const { return succ_.at(static_cast<std::size_t>(v)); }
  //! Number of distinct (s, t) problems in a split.
  [[nodiscard]] index_t problem_count(split s) const noexcept {
    return static_cast<index_t>(s == split::train ? train_pairs_.size() : eval_pairs_.size());
  }
  //! The prompt `<bos> s t <sep>`.
  [[nodiscard]] std::vector<token_t> prompt_of(int s, int t) const {
    return {vocab_.bos(), static_cast<token_t>(s), static_cast<token_t>(t), vocab_.sep()};
  }
  //! Parses `<bos> s t <sep>`; false on anything else.
  [[nodiscard]] bool parse_prompt(std::span<const token_t> prompt, int& s, int& t) const noexcept {
    if (prompt.size() != 4 || prompt[0] != vocab_.bos() || prompt[3] != vocab_.sep()) return false;
    if (prompt[1] < 0 || prompt[1] >= nodes() || prompt[2] < 0 || prompt[2] >= nodes()) return false;
    s = static_cast<int>(prompt[1]);
    t = static_cast<int>(prompt[2]);
    return true;
  }

private:
  static std::vector<std::string> make_words(int n) {
    std::vector<std::string> w;
    for (int i = 0; i < n; ++i) w.push_back(std::to_string(i));
    return w;
  }
  int checked_slip(int prev, int intended, std::uint64_t bits) const {
    const int w = slip_(*this, prev, intended, bits);
    RLVR_EXPECTS(w >= 0 && w < nodes() && !is_edge(prev, w), config, name_, ": slip(", prev, ", ",
                 intended, ") returned ", w, ", which is not a non-successor node");
    return w;
  }
  void compute_distances() {
    const auto n = succ_.size();
    dist_.assign(n * n, -1);
    std::vector<int> frontier, next;
    for (std::size_t a = 0; a < n; ++a) {
      int* d = dist_.data() + a * n;
      d[a] = 0;
      frontier.assign(1, static_cast<int>(a));
      for (int depth = 1; !frontier.empty(); ++depth) {
        next.clear();
        for (int v : frontier)
          for (int w : succ_[static_cast<std::size_t>(v)])
            if (d[w] < 0) {
              d[w] = depth;
              next.push_back(w);
            }
        frontier.swap(next);
      }
    }
  }

  std::string name_;
  std::vector<std::vector<int>> succ_;
  walk_config cfg_;
  slip_fn slip_;
  vocabulary vocab_;
  std::vector<int> dist_;
  std::vector<std::pair<int, int>> train_pairs_, eval_pairs_;
};
static_assert(Task<walk_task>);

} // namespace rlvr::tasks
