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
//!
//! Costs: construction runs one BFS per node, O(n·(n + E)) time for E edges, and stores the
//! n × n distance table (4n² bytes) and both problem pools (up to n² pairs each). `problem`
//! and `pretraining_example` then cost O(1) and O(`pretrain_max_steps` · out-degree) plus a few
//! engine draws; `score` is O(L · out-degree). All members are const after construction and
//! use only the caller's engine, so one task may serve several threads, each with its own
//! engine, and the same engine state always gives the same problem.
//!
//!     // A 6-cycle with chords: node v → v + 1 and v → v + 2 (mod 6).
//!     std::vector<std::vector<int>> succ(6);
//!     for (int v = 0; v < 6; ++v) succ[v] = {(v + 1) % 6, (v + 2) % 6};
//!     rlvr::tasks::walk_task task("hexagon", succ,
//!         {.pretrain_max_steps = 2, .train_max_distance = 1, .eval_min_distance = 2,
//!          .eval_max_distance = 3, .max_steps = 4},
//!         [](const rlvr::tasks::walk_task&, int prev, int, std::uint64_t) { return (prev + 3) % 6; });

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
//!
//! All distances are graph distances d(s, t) in edges and all lengths count nodes written
//! (the response's `<eos>` not included). The constructor of `walk_task` requires
//! `pretrain_max_steps` ≥ 1, `train_max_distance` ≥ 1,
//! `train_max_distance` < `eval_min_distance` ≤ `eval_max_distance`, and `max_steps` ≥ both
//! `eval_max_distance` and `pretrain_max_steps` (every band's shortest walk must fit).
struct walk_config {
  int pretrain_max_steps = 4; //!< pretraining walks have 1..this many steps
  int train_max_distance = 3; //!< RL training problems: 1 ≤ d(s, t) ≤ this
  int eval_min_distance = 4;  //!< held-out problems: eval_min ≤ d(s, t) ≤ eval_max
  //! upper end of the held-out band
  int eval_max_distance = 5;
  int max_steps = 10; //!< longest accepted response, in nodes (plus `<eos>`)
};

//! A walk task over an explicit successor table. `succ[v]` lists the successors of node v
//! (duplicates allowed; a walk step picks one entry uniformly). `slip(task, prev, intended,
//! bits)` must return a node that is *not* a successor of `prev` (64 random bits given); it is
//! how the wrong pretraining examples go wrong.
//!
//! Nodes are numbered 0 … n − 1 with n = `succ.size()`; node v is the vocabulary word
//! `std::to_string(v)` and the token id v (see `vocabulary`). A walk task models `Task`.
class walk_task {
public:
  //! The slip hook: `slip(task, prev, intended, random_bits)` → a node that is not a successor of
  //! `prev`. `intended` is the successor the correct walk drew at this step (a task may derive
  //! a near miss from it); `random_bits` are 64 fresh bits from the caller's engine, the only
  //! randomness the hook may use, so that examples stay a function of the engine state.
  using slip_fn = std::function<int(const walk_task& task, int prev, int intended, std::uint64_t random_bits)>;

  //! Builds the task: validates `succ` and `cfg`, runs the BFS and collects both problem pools.
  //!
  //! Raises `config_error` if there are fewer than 2 nodes, a node has no successor or one
  //! outside [0, n), `cfg` breaks a rule of `walk_config`, or a split's band contains no (s, t)
  //! pair (for example a graph whose diameter is below `eval_min_distance`). The graph need
  //! not be strongly connected: unreachable pairs are simply in neither split. `slip` is
  //! stored, not checked here; a bad slip is reported when a wrong example is drawn.
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
    // Enumerate every ordered pair once and keep those in the band: the pools are what
    // `problem` draws from uniformly, so problems are uniform over pairs, not over distances.
    // Pairs are listed in (s, t) order, which fixes which pair a given draw selects.
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
  //! The node words "0" … "n−1" and the four specials (V = n + 4).
  [[nodiscard]] const vocabulary& vocab() const noexcept { return vocab_; }
  //! The name given to the constructor (`"zp_walk"`, `"graph_path"`).
  [[nodiscard]] std::string_view name() const noexcept { return name_; }
  //! 4: every prompt is `<bos> s t <sep>`.
  [[nodiscard]] index_t max_prompt_length() const noexcept { return 4; }
  //! `max_steps` nodes plus `<eos>`; longer responses score 0.
  [[nodiscard]] index_t max_response_length() const noexcept { return cfg_.max_steps + 1; }

  //! A fresh problem of split `s`: a uniformly drawn (s, t) pair among those of the split's
  //! distance band, as the prompt `<bos> s t <sep>`.
  //!
  //! One `uniform_below` draw (exact, so the result is the same on every standard library).
  //! Train and eval prompts never coincide: the bands are disjoint.
  //!
  //!     rlvr::philox_engine g(/*seed*/ 1);
  //!     const std::vector<rlvr::token_t> p = task.problem(g, rlvr::tasks::split::train);
  template <BitEngine G> [[nodiscard]] std::vector<token_t> problem(G& g, split s) const {
    const auto& pool = s == split::train ? train_pairs_ : eval_pairs_;
    const auto& [a, b] = pool[static_cast<std::size_t>(uniform_below(g, pool.size()))];
    return prompt_of(a, b);
  }

  //! A pretraining sequence: a random walk of 1..`pretrain_max_steps` steps from a uniform
  //! start; if `!correct`, one uniformly chosen step is a slip (see the file comment).
  //!
  //! The prompt is `<bos> s t <sep>` with t the walk's end, so t = s is possible (a walk that
  //! returns, or a self-loop) and d(s, t) may be anything up to the walk's length: the pair is
  //! not drawn from either split's pool. The response is the walk's nodes followed by `<eos>`. A
  //! correct example scores 1; a wrong one scores 0 (its slip step is not an edge). Raises
  //! `config_error` if the task's slip hook returns a successor or a node outside [0, n).
  template <BitEngine G> [[nodiscard]] example pretraining_example(G& g, bool correct) const {
    const int n = nodes();
    const int s = static_cast<int>(uniform_below(g, static_cast<std::uint64_t>(n)));
    const int len = 1 + static_cast<int>(uniform_below(g, static_cast<std::uint64_t>(cfg_.pretrain_max_steps)));
    const int slip_at = correct ? -1 : static_cast<int>(uniform_below(g, static_cast<std::uint64_t>(len)));
    std::vector<token_t> resp;
    int v = s;
    for (int i = 0; i < len; ++i) {
      const auto& out = succ_[static_cast<std::size_t>(v)];
      // The correct successor is drawn even at the slip step, so the slip hook sees what the
      // walk was about to write, and the engine is advanced identically for both kinds.
      const int w = out[static_cast<std::size_t>(uniform_below(g, out.size()))];
      v = i == slip_at ? checked_slip(v, w, next_u64(g)) : w;
      resp.push_back(static_cast<token_t>(v));
    }
    resp.push_back(vocab_.eos());
    return {prompt_of(s, v), std::move(resp)};
  }

  //! The exact verifier (see the file comment). Never throws.
  //!
  //! 1.0f iff `prompt` parses as `<bos> s t <sep>` and `response` starts with v_1 … v_L
  //! `<eos>`, 1 ≤ L ≤ `max_steps`, every step an edge and v_L = t; 0.0f otherwise (a bad
  //! prompt, a token that is not a node, a non-edge, a missing or late `<eos>`, an empty walk).
  //! Tokens after the first `<eos>` are ignored, so a padded response scores like the unpadded
  //! one. Revisiting nodes is allowed: any admissible walk counts, not only shortest paths.
  //!
  //!     const auto ex = task.pretraining_example(g, /*correct*/ true);
  //!     assert(task.score(ex.prompt, ex.response) == 1.0f);
  //!     const auto bad = task.pretraining_example(g, false);
  //!     assert(task.score(bad.prompt, bad.response) == 0.0f);
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
  //! n, the number of nodes.
  [[nodiscard]] int nodes() const noexcept { return static_cast<int>(succ_.size()); }
  //! The bands and lengths the task was built with.
  [[nodiscard]] const walk_config& config() const noexcept { return cfg_; }
  //! Graph distance d(a, b) in edges; −1 if b is unreachable from a (d(a, a) = 0).
  //! A table lookup, O(1); raises `range_error` if a or b is not a node. The splits are defined
  //! by it: `distance(s, t)` of a drawn problem lies in its split's band, which is how the
  //! tests check that held-out problems are longer than training ones.
  [[nodiscard]] int distance(int a, int b) const {
    RLVR_EXPECTS(a >= 0 && a < nodes() && b >= 0 && b < nodes(), range, name_, ": distance(", a,
                 ", ", b, ") outside [0, ", nodes(), ")");
    return dist_[static_cast<std::size_t>(a) * succ_.size() + static_cast<std::size_t>(b)];
  }
  //! Whether a → b is an edge: a linear scan of `successors(a)`. Precondition (unchecked, this is
  //! the verifier's inner loop): 0 ≤ a < n; any b is fine (a non-node is simply not a successor).
  [[nodiscard]] bool is_edge(int a, int b) const noexcept {
    const auto& out = succ_[static_cast<std::size_t>(a)];
    return std::find(out.begin(), out.end(), b) != out.end();
  }
  //! The successor list of node v as given to the constructor (duplicates kept). Checked with
  //! `std::vector::at`, so a bad v throws `std::out_of_range`, not an `rlvr::error`.
  [[nodiscard]] const std::vector<int>& successors(int v) const { return succ_.at(static_cast<std::size_t>(v)); }
  //! Number of distinct (s, t) problems in a split (≥ 1, checked at construction); with
  //! `problem` drawing uniformly among them, this bounds how many different prompts a run sees.
  [[nodiscard]] index_t problem_count(split s) const noexcept {
    return static_cast<index_t>(s == split::train ? train_pairs_.size() : eval_pairs_.size());
  }
  //! The prompt `<bos> s t <sep>`. s and t are not checked: pass nodes (an out-of-range value
  //! gives a prompt that `parse_prompt` rejects and that scores 0).
  [[nodiscard]] std::vector<token_t> prompt_of(int s, int t) const {
    return {vocab_.bos(), static_cast<token_t>(s), static_cast<token_t>(t), vocab_.sep()};
  }
  //! Parses `<bos> s t <sep>`; false on anything else (another length, a special or out-of-range
  //! token in place of s or t). On false, `s` and `t` are left unchanged.
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
  // Calls the user's slip hook and enforces its contract, so a faulty hook fails loudly instead
  // of producing "wrong" examples that the verifier would accept.
  int checked_slip(int prev, int intended, std::uint64_t bits) const {
    const int w = slip_(*this, prev, intended, bits);
    RLVR_EXPECTS(w >= 0 && w < nodes() && !is_edge(prev, w), config, name_, ": slip(", prev, ", ",
                 intended, ") returned ", w, ", which is not a non-successor node");
    return w;
  }
  // All-pairs distances by one breadth-first search per source over the successor lists; row a
  // of dist_ holds d(a, ·), −1 marking unreachable nodes (which also means "not yet visited").
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
  // n × n, row-major by source: dist_[a·n + b] = d(a, b).
  std::vector<int> dist_;
  // The (s, t) pairs of each split's band; `problem` draws from them.
  std::vector<std::pair<int, int>> train_pairs_, eval_pairs_;
};
static_assert(Task<walk_task>);

} // namespace rlvr::tasks
