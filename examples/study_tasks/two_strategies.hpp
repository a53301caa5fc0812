#pragma once
//! \file two_strategies.hpp
//! \brief An example `rlvr::tasks::Task` for `rlvr-study`: sums in Z_p that the base model solves
//! with one of two competing strategies — a dominant heuristic that is right on half the
//! problems, and a rarer general method that is always right when carried out without a slip.
//!
//! ## The problem
//!
//! A problem is m numbers x_1 … x_m in Z_p (p = 7 by default); the answer is their sum mod p.
//!
//!     prompt   <bos> x_1 … x_m <sep>
//!
//! Training problems have m in [`min_terms`, `max_terms`] (default 3); held-out problems
//! (`split::eval`) have m in [`eval_min_terms`, `eval_max_terms`] (default 4), so the two splits
//! are disjoint by their number of terms, the held-out ones need a longer computation, and
//! prompts differ in length (`max_prompt_length()` = 2 + the largest m). With `fixed_width`
//! every prompt is instead filled with the word `_` to eval_max_terms numbers,
//! `<bos> x_1 … x_m _ … _ <sep>` (measured to make the base learn worse, see below).
//!
//! Each problem is a *shortcut* problem with probability `shortcut_share` (default ½, one draw
//! per problem): its tail x_3 … x_m sums to 0 mod p (x_1 … x_{m−1} uniform, x_m the value that
//! makes the tail 0). The other problems have a tail ≠ 0 (x_m uniform among the p − 1 values that
//! do not cancel the rest). So "shortcut" means exactly "tail ≡ 0", and the heuristic below is
//! right on a problem iff it is a shortcut problem.
//!
//! ## The two strategies
//!
//! A response names its strategy with its first word:
//!
//! - **H (heuristic)**: `H a <eos>` with a = x_1 + x_2 mod p — the general method stopped after
//!   its first step ("the rest probably cancels"). Short and confident; right exactly on the
//!   shortcut problems.
//! - **G (general)**: `G s_2 s_3 … s_m <eos>`, the running sums s_j = x_1 + … + x_j mod p. Always
//!   right when every step is right; m − 1 additions, so a model that slips anywhere fails.
//!
//! Worked example, p = 7, a training problem (m = 3):
//!
//!     prompt   <bos> 5 4 0 <sep>          tail x_3 = 0: a shortcut problem; sum 9 ≡ 2
//!     H        H 2 <eos>                  5 + 4 = 9 ≡ 2: correct
//!     G        G 2 2 <eos>                s_2 = 2, s_3 = 2 + 0 = 2: correct
//!
//!     prompt   <bos> 5 4 3 <sep>          tail 3 ≢ 0; sum 12 ≡ 5
//!     H        H 2 <eos>                  wrong
//!     G        G 2 5 <eos>                correct
//!     G, slip  G 3 6 <eos>                s_2 written as 3; the chain goes on from the slip
//!                                         (3 + 3 = 6), so the final answer is wrong
//!
//!     prompt   <bos> 5 4 3 4 <sep>        held out (m = 4): tail 3 + 4 ≡ 0; H 2 and G 2 5 2 right
//!
//! ## Why the layout is what it is (measured, see README.md)
//!
//! The study's base model is a 2-layer transformer with *learned absolute positions*, pretrained
//! for 1500 steps. The first draft had the heuristic "add the ends" x_1 + x_m, p = 13, training
//! m 3–4 and held-out m 5–6 (prompts of 5–8 tokens). In 12 runs with that heuristic and 2–4
//! prompt lengths in the pretraining data (p 5–13, wrong fraction 0–0.5) the base never learned
//! the addition (every strategy's accuracy ≈ 1/p), and pretrained on the training band only it
//! wrote no well-formed answer to the longer held-out prompts (positions never trained; hence
//! `pretrain_max_terms`). Filling prompts to one length with a heuristic that reads fixed
//! positions (x_1 + x_2) did not help at 6 numbers (p 7 and 13; also at 4000 steps). What the
//! base learns: p = 7, one training length, the held-out length in the pretraining data,
//! H = x_1 + x_2 and `heuristic_share` 0.6. At 1500 steps the addition is learned as a sudden,
//! seed-dependent transition: with these defaults H was exact on 3 of 3 seeds at wrong fraction
//! 0.25 (G 61–99 % on training problems) and ≥ 96 % on 2 of 3 at 0.5 (the third 72 %); with
//! `fixed_width` only 2 of 3 and 1 of 3 seeds learned. Check the base (H accuracy 1 on shortcut
//! problems, G well above 1/p) before reading an RL result.
//!
//! ## The verifier
//!
//! `score(prompt, response)` is 1 iff the response is well formed — H or G, then numbers only,
//! then `<eos>` within `max_response_length()` tokens; exactly 1 number after H and exactly m − 1
//! after G — and its *last* number is the true sum mod p. By default (`check_steps = false`)
//! the intermediate running sums of a G chain are not checked, as a math verifier checks only
//! the final answer: a chain with two compensating slips passes. Nor is the strategy word
//! checked against the method: `H s <eos>` with the true sum s scores 1 on any problem — a
//! policy may learn to "answer directly", which a final-answer verifier allows. With
//! `check_steps = true`, every s_j must be the true running sum. Tokens after `<eos>` are
//! ignored; nothing throws on a malformed response or prompt (it scores 0). A prompt scores
//! only in the task's layout (`numbers_of`) with m in [`min_terms`, `eval_max_terms`].
//!
//! ## The base model's data
//!
//! `pretraining_example(g, correct)` writes strategy H with probability `heuristic_share`
//! (default 0.6), else G, on a problem with m in [`min_terms`, `pretrain_max_terms`] (default
//! 3–4: the base sees the held-out length, as zp_walk's base sees walks as long as the shorter
//! held-out ones; set it to `max_terms` for a base that never saw held-out lengths):
//! - H, correct: a shortcut problem (H is right); H, wrong: a non-shortcut problem (H is
//!   confidently wrong). H examples ignore `shortcut_share`.
//! - G, correct: a correct chain; G, wrong: one running sum off by ±1 mod p at a uniformly chosen
//!   step, the chain continuing consistently from the slip (so the final answer is off by the
//!   same ±1). G problems are shortcut problems with probability `shortcut_share`.
//! The study mixes correct and wrong examples with its wrong fraction w. A consequence for H:
//! correct H examples are all shortcut problems and wrong ones all non-shortcut, so at w = ½
//! (with `shortcut_share` ½) the base's choice of H does not depend on the problem, while at
//! w < ½ H is more frequent on shortcut problems — which a model can see (at m = 3 the tail
//! is x_3 alone: a shortcut problem has x_3 = 0).
//!
//! ## Why this task
//!
//! It is the *competing strategies* regime of Zhu et al. 2025 ("The Surprising Effectiveness
//! of Negative Reinforcement in LLM Reasoning"). The base samples H most of the time. PSR
//! (reinforcing correct samples only) rewards H on every shortcut problem and G wherever its
//! chain is right, so it can sharpen onto the dominant H and lose the rarer G (Pass@1 up,
//! Pass@k at large k down on non-shortcut problems). NSR (pushing probability off wrong samples
//! only) removes H from the non-shortcut problems — but it also removes mass from failed G
//! chains; if G fails more often than H, NSR may collapse onto H instead. W-REINFORCE sits
//! between. The held-out problems (one more term) ask whether the kept strategy generalises: H
//! stays right on exactly the shortcut half, G only if the model's running sums extend to the
//! longer chain. `strategy_of(response)` tells the two apart for diagnostics (the share of H).
//!
//! The header includes only rlvr's task headers and the standard library, so it can be copied
//! into a user's project as the template of a study task.

#include <charconv>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <rlvr/config.hpp>
#include <rlvr/error.hpp>
#include <rlvr/tasks/concepts.hpp>
#include <rlvr/tasks/vocabulary.hpp>

namespace study_tasks {

using rlvr::index_t;
using rlvr::token_t;

//! Parameters of `two_strategies` (defaults: p = 7, train m = 3, held-out m = 4, pretraining m 3–4).
//! Aggregate: designated initialisers in field order.
struct two_strategies_config {
  int modulus = 7;              //!< p ≥ 3: numbers are 0 … p − 1, sums are mod p
  int min_terms = 3;            //!< training problems: min_terms ≤ m ≤ max_terms (min_terms ≥ 3)
  int max_terms = 3;
  int eval_min_terms = 4;       //!< held-out problems: eval_min_terms ≤ m ≤ eval_max_terms
  int eval_max_terms = 4;       //!<   (eval_min_terms > max_terms: the splits are disjoint)
  int pretrain_max_terms = 4;   //!< pretraining problems: min_terms ≤ m ≤ this (max_terms … eval_max_terms)
  double heuristic_share = 0.6; //!< pretraining examples written with H (the rest with G), in [0, 1]
  double shortcut_share = 0.5;  //!< problems whose tail x_3 … x_m sums to 0 (H is right), in [0, 1]
  bool check_steps = false;     //!< also verify every running sum of a G chain
  bool fixed_width = false;     //!< fill every prompt with `_` to eval_max_terms numbers
};

//! Which strategy a response uses (its first token).
enum class strategy : std::uint8_t { none = 0, heuristic = 1, general = 2 };

//! The two-strategies task (see the file comment). A regular value; models `rlvr::tasks::Task`.
class two_strategies {
public:
  //! Throws `rlvr::config_error` naming the first bad field of `cfg`.
  explicit two_strategies(two_strategies_config cfg = {}) : cfg_(validated(cfg)), vocab_(make_words(cfg_.modulus)) {}

  // ---- the Task interface ----
  [[nodiscard]] const rlvr::tasks::vocabulary& vocab() const noexcept { return vocab_; }
  [[nodiscard]] std::string_view name() const noexcept { return "two_strategies"; }
  //! `<bos>`, the largest m numbers (or m numbers and their `_` filler), `<sep>`.
  [[nodiscard]] index_t max_prompt_length() const noexcept { return 2 + cfg_.eval_max_terms; }
  //! The longest G chain: G, m − 1 running sums, `<eos>` for the largest m.
  [[nodiscard]] index_t max_response_length() const noexcept { return cfg_.eval_max_terms + 1; }

  //! A fresh problem of split `s`: m uniform in the split's band, then the shortcut draw and
  //! the numbers (see the file comment).
  template <rlvr::tasks::BitEngine G>
  [[nodiscard]] std::vector<token_t> problem(G& g, rlvr::tasks::split s) const {
    const bool train = s == rlvr::tasks::split::train;
    const int m = draw_terms(g, train ? cfg_.min_terms : cfg_.eval_min_terms, train ? cfg_.max_terms : cfg_.eval_max_terms);
    const bool shortcut = rlvr::tasks::uniform_unit(g) < cfg_.shortcut_share;
    return prompt_of(draw_numbers(g, m, shortcut));
  }

  //! A pretraining sequence on a training-band problem: H with probability `heuristic_share`,
  //! else G; right if `correct`, else confidently wrong (see the file comment).
  template <rlvr::tasks::BitEngine G>
  [[nodiscard]] rlvr::tasks::example pretraining_example(G& g, bool correct) const {
    const bool use_h = rlvr::tasks::uniform_unit(g) < cfg_.heuristic_share;
    const int m = draw_terms(g, cfg_.min_terms, cfg_.pretrain_max_terms);
    if (use_h) {
      const std::vector<int> xs = draw_numbers(g, m, /*shortcut=*/correct);
      return {prompt_of(xs), heuristic_response(xs)};
    }
    const bool shortcut = rlvr::tasks::uniform_unit(g) < cfg_.shortcut_share;
    const std::vector<int> xs = draw_numbers(g, m, shortcut);
    std::vector<token_t> resp = general_response(xs);
    if (!correct) {
      // slip at running sum s_j, j = 2 … m (response index j − 1), by ±1; later sums follow it
      const auto at = 1 + static_cast<std::size_t>(rlvr::tasks::uniform_below(g, static_cast<std::uint64_t>(m - 1)));
      const int delta = (rlvr::tasks::next_u64(g) & 1u) ? 1 : cfg_.modulus - 1;
      for (std::size_t i = at; i < static_cast<std::size_t>(m); ++i) resp[i] = static_cast<token_t>((resp[i] + delta) % cfg_.modulus);
    }
    return {prompt_of(xs), std::move(resp)};
  }

  //! The exact verifier (see the file comment). Never throws.
  [[nodiscard]] float score(std::span<const token_t> prompt, std::span<const token_t> response) const noexcept {
    const std::span<const token_t> xs = numbers_of(prompt);
    if (xs.empty()) return 0.0f;
    const auto m = xs.size();
    const auto limit = static_cast<std::size_t>(max_response_length());
    if (response.empty()) return 0.0f;
    const strategy st = strategy_of(response);
    if (st == strategy::none) return 0.0f;
    const std::size_t want = st == strategy::heuristic ? 1 : m - 1; // numbers before <eos>
    if (want + 2 > limit || response.size() < want + 2 || response[want + 1] != vocab_.eos()) return 0.0f;
    int run = static_cast<int>(xs[0]);
    for (std::size_t i = 1; i <= want; ++i) {
      const token_t w = response[i];
      if (!is_number(w)) return 0.0f;
      if (st == strategy::general && cfg_.check_steps) {
        run = (run + static_cast<int>(xs[i])) % cfg_.modulus;
        if (w != run) return 0.0f;
      }
    }
    return response[want] == sum_mod(xs) ? 1.0f : 0.0f;
  }

  // ---- task-specific queries ----
  [[nodiscard]] const two_strategies_config& config() const noexcept { return cfg_; }
  [[nodiscard]] int modulus() const noexcept { return cfg_.modulus; }
  //! The token of the strategy words "H" and "G" (the numbers 0 … p − 1 are tokens 0 … p − 1).
  [[nodiscard]] token_t heuristic_token() const noexcept { return static_cast<token_t>(cfg_.modulus); }
  [[nodiscard]] token_t general_token() const noexcept { return static_cast<token_t>(cfg_.modulus + 1); }
  //! The token of the filler word "_" of fixed-width prompts.
  [[nodiscard]] token_t filler_token() const noexcept { return static_cast<token_t>(cfg_.modulus + 2); }

  //! The parameters in one short string for cache keys and reports: "p7 m3-3 eval4-4 pre4 h0.6
  //! s0.5", with " steps" appended when `check_steps` and " fixed" when `fixed_width`. Doubles
  //! in their shortest exact form.
  [[nodiscard]] std::string describe() const {
    // appended piece by piece (GCC 12's -Wrestrict misfires on chains of operator+)
    std::string s = "p";
    s += std::to_string(cfg_.modulus);
    s += " m";
    s += std::to_string(cfg_.min_terms);
    s += '-';
    s += std::to_string(cfg_.max_terms);
    s += " eval";
    s += std::to_string(cfg_.eval_min_terms);
    s += '-';
    s += std::to_string(cfg_.eval_max_terms);
    s += " pre";
    s += std::to_string(cfg_.pretrain_max_terms);
    s += " h";
    s += shortest(cfg_.heuristic_share);
    s += " s";
    s += shortest(cfg_.shortcut_share);
    if (cfg_.check_steps) s += " steps";
    if (cfg_.fixed_width) s += " fixed";
    return s;
  }

  //! The strategy a response announces (its first token); `none` for anything else.
  [[nodiscard]] strategy strategy_of(std::span<const token_t> response) const noexcept {
    if (response.empty()) return strategy::none;
    if (response[0] == heuristic_token()) return strategy::heuristic;
    if (response[0] == general_token()) return strategy::general;
    return strategy::none;
  }
  //! True if `prompt` is a well-formed prompt of this task whose tail x_3 … x_m sums to 0 mod p
  //! (H is right on it).
  [[nodiscard]] bool is_shortcut(std::span<const token_t> prompt) const noexcept {
    const std::span<const token_t> xs = numbers_of(prompt);
    if (xs.empty()) return false;
    int tail = 0;
    for (std::size_t i = 2; i < xs.size(); ++i) tail = (tail + static_cast<int>(xs[i])) % cfg_.modulus;
    return tail == 0;
  }
  //! The number of terms m of a well-formed prompt; 0 otherwise.
  [[nodiscard]] int terms(std::span<const token_t> prompt) const noexcept {
    return static_cast<int>(numbers_of(prompt).size());
  }
  //! The numbers x_1 … x_m of a well-formed prompt (a view into it); empty otherwise. A prompt
  //! is well formed if it is `<bos>`, m numbers with min_terms ≤ m ≤ eval_max_terms, then (with
  //! `fixed_width`) exactly eval_max_terms − m fillers `_`, then `<sep>`.
  [[nodiscard]] std::span<const token_t> numbers_of(std::span<const token_t> prompt) const noexcept {
    const auto width = static_cast<std::size_t>(cfg_.eval_max_terms);
    if (prompt.size() < 2 || prompt.size() > width + 2) return {};
    if (prompt.front() != vocab_.bos() || prompt.back() != vocab_.sep()) return {};
    if (cfg_.fixed_width && prompt.size() != width + 2) return {};
    std::size_t m = 0;
    while (m + 2 < prompt.size() && is_number(prompt[m + 1])) ++m;
    for (std::size_t i = m + 1; i + 1 < prompt.size(); ++i)
      if (!cfg_.fixed_width || prompt[i] != filler_token()) return {};
    if (m < static_cast<std::size_t>(cfg_.min_terms)) return {};
    return prompt.subspan(1, m);
  }

  //! The prompt `<bos> x_1 … x_m <sep>` (with `fixed_width`: `<bos> x_1 … x_m _ … _ <sep>`, the
  //! numbers filled to eval_max_terms). Throws `rlvr::range_error` on a number outside [0, p)
  //! and `rlvr::shape_error` on m outside [min_terms, eval_max_terms].
  [[nodiscard]] std::vector<token_t> prompt_of(std::span<const int> xs) const {
    RLVR_EXPECTS(xs.size() >= static_cast<std::size_t>(cfg_.min_terms) &&
                     xs.size() <= static_cast<std::size_t>(cfg_.eval_max_terms),
                 shape, "two_strategies::prompt_of: ", xs.size(), " numbers, outside [min_terms, eval_max_terms] = [",
                 cfg_.min_terms, ", ", cfg_.eval_max_terms, "]");
    std::vector<token_t> p{vocab_.bos()};
    for (int x : xs) {
      RLVR_EXPECTS(x >= 0 && x < cfg_.modulus, range, "two_strategies::prompt_of: number ", x, " outside [0, ",
                   cfg_.modulus, ")");
      p.push_back(static_cast<token_t>(x));
    }
    if (cfg_.fixed_width) p.resize(static_cast<std::size_t>(cfg_.eval_max_terms) + 1, filler_token());
    p.push_back(vocab_.sep());
    return p;
  }
  [[nodiscard]] std::vector<token_t> prompt_of(std::initializer_list<int> xs) const {
    return prompt_of(std::span<const int>(xs.begin(), xs.size()));
  }
  //! `H (x_1 + x_2) <eos>` (numbers in [0, p), at least two).
  [[nodiscard]] std::vector<token_t> heuristic_response(std::span<const int> xs) const {
    RLVR_EXPECTS(xs.size() >= 2, shape, "two_strategies::heuristic_response: ", xs.size(), " numbers (needs >= 2)");
    return {heuristic_token(), static_cast<token_t>((xs[0] + xs[1]) % cfg_.modulus), vocab_.eos()};
  }
  //! `G s_2 … s_m <eos>`, the correct running sums (numbers in [0, p), at least two).
  [[nodiscard]] std::vector<token_t> general_response(std::span<const int> xs) const {
    RLVR_EXPECTS(xs.size() >= 2, shape, "two_strategies::general_response: ", xs.size(), " numbers (needs >= 2)");
    std::vector<token_t> r{general_token()};
    int run = xs[0];
    for (std::size_t i = 1; i < xs.size(); ++i) {
      run = (run + xs[i]) % cfg_.modulus;
      r.push_back(static_cast<token_t>(run));
    }
    r.push_back(vocab_.eos());
    return r;
  }

private:
  static two_strategies_config validated(const two_strategies_config& c) {
    RLVR_EXPECTS(c.modulus >= 3, config, "two_strategies: modulus = ", c.modulus, " must be >= 3");
    RLVR_EXPECTS(c.modulus <= 100000, config, "two_strategies: modulus = ", c.modulus,
                 " must be <= 100000 (one word per number)");
    RLVR_EXPECTS(c.min_terms >= 3, config, "two_strategies: min_terms = ", c.min_terms,
                 " must be >= 3 (H adds x_1 + x_2; a problem needs a tail after them)");
    RLVR_EXPECTS(c.max_terms >= c.min_terms, config, "two_strategies: max_terms = ", c.max_terms,
                 " < min_terms = ", c.min_terms);
    RLVR_EXPECTS(c.eval_min_terms > c.max_terms, config, "two_strategies: eval_min_terms = ", c.eval_min_terms,
                 " must exceed max_terms = ", c.max_terms,
                 " (held-out problems must be disjoint from and longer than training ones)");
    RLVR_EXPECTS(c.eval_max_terms >= c.eval_min_terms, config, "two_strategies: eval_max_terms = ",
                 c.eval_max_terms, " < eval_min_terms = ", c.eval_min_terms);
    RLVR_EXPECTS(c.pretrain_max_terms >= c.max_terms && c.pretrain_max_terms <= c.eval_max_terms, config,
                 "two_strategies: pretrain_max_terms = ", c.pretrain_max_terms, " is outside [max_terms, eval_max_terms] = [",
                 c.max_terms, ", ", c.eval_max_terms, "]");
    RLVR_EXPECTS(c.eval_max_terms <= 1000, config, "two_strategies: eval_max_terms = ", c.eval_max_terms,
                 " must be <= 1000");
    RLVR_EXPECTS(std::isfinite(c.heuristic_share) && c.heuristic_share >= 0.0 && c.heuristic_share <= 1.0, config,
                 "two_strategies: heuristic_share = ", c.heuristic_share, " is outside [0, 1]");
    RLVR_EXPECTS(std::isfinite(c.shortcut_share) && c.shortcut_share >= 0.0 && c.shortcut_share <= 1.0, config,
                 "two_strategies: shortcut_share = ", c.shortcut_share, " is outside [0, 1]");
    return c;
  }
  static std::vector<std::string> make_words(int p) {
    std::vector<std::string> w;
    for (int i = 0; i < p; ++i) w.push_back(std::to_string(i));
    w.emplace_back("H");
    w.emplace_back("G");
    w.emplace_back("_");
    return w;
  }
  static std::string shortest(double x) {
    char b[32];
    const auto r = std::to_chars(b, b + sizeof b, x);
    return {b, r.ptr};
  }

  [[nodiscard]] bool is_number(token_t t) const noexcept { return t >= 0 && t < cfg_.modulus; }
  [[nodiscard]] token_t sum_mod(std::span<const token_t> xs) const noexcept {
    int s = 0;
    for (token_t x : xs) s = (s + static_cast<int>(x)) % cfg_.modulus;
    return static_cast<token_t>(s);
  }

  template <class G> static int draw_terms(G& g, int lo, int hi) {
    return lo + static_cast<int>(rlvr::tasks::uniform_below(g, static_cast<std::uint64_t>(hi - lo + 1)));
  }
  //! x_1 … x_{m−1} uniform, then x_m fixing the tail sum x_3 + … + x_m (0 if `shortcut`, else
  //! uniform among the p − 1 non-zero sums).
  template <class G> std::vector<int> draw_numbers(G& g, int m, bool shortcut) const {
    const int p = cfg_.modulus;
    const auto up = static_cast<std::uint64_t>(p);
    std::vector<int> xs(static_cast<std::size_t>(m));
    int tail = 0;
    for (int j = 0; j + 1 < m; ++j) {
      xs[static_cast<std::size_t>(j)] = static_cast<int>(rlvr::tasks::uniform_below(g, up));
      if (j >= 2) tail = (tail + xs[static_cast<std::size_t>(j)]) % p;
    }
    const int cancel = (p - tail) % p; // the x_m that makes the tail sum 0
    int last = cancel;
    if (!shortcut) {
      last = static_cast<int>(rlvr::tasks::uniform_below(g, up - 1));
      if (last >= cancel) ++last;
    }
    xs[static_cast<std::size_t>(m - 1)] = last;
    return xs;
  }

  two_strategies_config cfg_;
  rlvr::tasks::vocabulary vocab_;
};
static_assert(rlvr::tasks::Task<two_strategies>);

} // namespace study_tasks
