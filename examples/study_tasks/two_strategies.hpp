#pragma once
//! \file two_strategies.hpp
//! \brief An example `rlvr::tasks::Task` for `rlvr-study`: sums in Z_p that the base model solves
//! with one of two competing strategies — a dominant heuristic that is right on half the
//! problems, and a rarer general method that is always right when carried out without a slip.
//!
//! ## The problem
//!
//! A problem is m numbers x_1 … x_m in Z_p (p = 13 by default); the answer is their sum mod p.
//!
//!     prompt   <bos> x_1 x_2 … x_m <sep>
//!
//! Training problems have m in [`min_terms`, `max_terms`] (default 3–4); held-out problems
//! (`split::eval`) have m in [`eval_min_terms`, `eval_max_terms`] (default 5–6), so the two
//! splits are disjoint by their length and the held-out ones are longer than anything in the
//! pretraining data. Prompts therefore differ in length (`max_prompt_length()` = 2 + the
//! largest m).
//!
//! Each problem is a *shortcut* problem with probability `shortcut_share` (default ½, one draw
//! per problem): its middle numbers x_2 … x_{m−1} sum to 0 mod p (x_2 … x_{m−2} uniform, x_{m−1}
//! the value that makes the sum 0). The other problems have a middle sum ≠ 0 (x_{m−1} uniform
//! among the p − 1 values that do not cancel the rest). So "shortcut" means exactly "middle sum
//! ≡ 0", and the heuristic below is right on a problem iff it is a shortcut problem.
//!
//! ## The two strategies
//!
//! A response names its strategy with its first word:
//!
//! - **H (heuristic)**: `H a <eos>` with a = x_1 + x_m mod p — "add the ends". Short and
//!   confident; right exactly on the shortcut problems.
//! - **G (general)**: `G s_2 s_3 … s_m <eos>`, the running sums s_j = x_1 + … + x_j mod p. Always
//!   right when every step is right; the chain is long (m − 1 numbers), so a model that makes
//!   a slip somewhere fails.
//!
//! Worked example, p = 13, m = 4:
//!
//!     prompt   <bos> 5 9 4 7 <sep>            middle 9 + 4 = 13 ≡ 0: a shortcut problem
//!     H        H 12 <eos>                      5 + 7 = 12 ≡ the sum: correct
//!     G        G 1 5 12 <eos>                  5+9 = 14 ≡ 1, 1+4 = 5, 5+7 = 12: correct
//!
//!     prompt   <bos> 5 9 3 7 <sep>            middle 9 + 3 = 12 ≢ 0
//!     H        H 12 <eos>                      wrong (the sum is 11)
//!     G        G 1 4 11 <eos>                  correct
//!     G, slip  G 1 5 12 <eos>                  1 + 3 written as 5; the chain goes on from the
//!                                              slip, so the final answer is wrong
//!
//! ## The verifier
//!
//! `score(prompt, response)` is 1 iff the response is well formed — H or G, then numbers only,
//! then `<eos>` within `max_response_length()` tokens; exactly 1 number after H and exactly m − 1
//! after G — and its *last* number is the true sum mod p. By default (`check_steps = false`)
//! the intermediate running sums of a G chain are not checked, as a math verifier checks only
//! the final answer: a chain with two compensating slips passes. Nor is the strategy word
//! checked against the method: `H s <eos>` with the true sum s scores 1 on any problem — a
//! policy may learn to "answer directly", which is what RL on a final-answer verifier allows.
//! With `check_steps = true`, every s_j must be the true running sum. Tokens after `<eos>` are
//! ignored; nothing throws on a malformed response or prompt (it scores 0). A prompt scores
//! only if it has the task's layout and m in [`min_terms`, `eval_max_terms`].
//!
//! ## The base model's data
//!
//! `pretraining_example(g, correct)` writes strategy H with probability `heuristic_share`
//! (default 0.8), else G, on a problem from the training band:
//! - H, correct: a shortcut problem (H is right); H, wrong: a non-shortcut problem (H is
//!   confidently wrong);
//! - G, correct: a correct chain; G, wrong: one running sum off by ±1 mod p at a uniformly chosen
//!   step, the chain continuing consistently from the slip (so the final answer is off by the
//!   same ±1). G problems are shortcut problems with probability `shortcut_share`.
//! The study mixes correct and wrong examples with its wrong fraction w. Note the consequence
//! for H: correct H examples are all shortcut problems and wrong ones all non-shortcut, so at
//! w = ½ (with the default shares) the base's choice of H does not depend on the problem type,
//! while at w < ½ H is more frequent on shortcut problems — the base then "recognises" some of
//! them, which a model can learn since the shortcut is visible in the prompt.
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
//! between. The held-out problems (longer m) ask whether the kept strategy generalises: H stays
//! right on exactly the shortcut half, G only if the model's running sums extend to longer
//! chains. `strategy_of(response)` tells the two apart for diagnostics (the share of H samples).
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

//! Parameters of `two_strategies` (defaults: p = 13, train m 3–4, held-out m 5–6).
//! Aggregate: designated initialisers in field order.
struct two_strategies_config {
  int modulus = 13;            //!< p ≥ 3: numbers are 0 … p − 1, sums are mod p
  int min_terms = 3;           //!< training problems: min_terms ≤ m ≤ max_terms (min_terms ≥ 3)
  int max_terms = 4;
  int eval_min_terms = 5;      //!< held-out problems: eval_min_terms ≤ m ≤ eval_max_terms
  int eval_max_terms = 6;      //!<   (eval_min_terms > max_terms: the splits are disjoint)
  int pretrain_max_terms = 6;  //!< pretraining problems: min_terms ≤ m ≤ this (max_terms … eval_max_terms)
  double heuristic_share = 0.8; //!< pretraining examples written with H (the rest with G), in [0, 1]
  double shortcut_share = 0.5;  //!< problems whose middle sum is 0 (H is right), in [0, 1]
  bool check_steps = false;     //!< also verify every running sum of a G chain
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
  //! `<bos>`, the largest m numbers, `<sep>`.
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
    if (!valid_prompt(prompt)) return 0.0f;
    const std::span<const token_t> xs = prompt.subspan(1, prompt.size() - 2);
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

  //! The parameters in one short string for cache keys and reports: "p13 m3-4 eval5-6 h0.8
  //! s0.5", with " steps" appended when `check_steps`. Doubles in their shortest exact form.
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
    return s;
  }

  //! The strategy a response announces (its first token); `none` for anything else.
  [[nodiscard]] strategy strategy_of(std::span<const token_t> response) const noexcept {
    if (response.empty()) return strategy::none;
    if (response[0] == heuristic_token()) return strategy::heuristic;
    if (response[0] == general_token()) return strategy::general;
    return strategy::none;
  }
  //! True if `prompt` is a well-formed prompt of this task whose middle numbers sum to 0 mod p
  //! (H is right on it).
  [[nodiscard]] bool is_shortcut(std::span<const token_t> prompt) const noexcept {
    if (!valid_prompt(prompt)) return false;
    int mid = 0;
    for (std::size_t i = 2; i + 2 < prompt.size(); ++i) mid = (mid + static_cast<int>(prompt[i])) % cfg_.modulus;
    return mid == 0;
  }
  //! The number of terms m of a well-formed prompt; 0 otherwise.
  [[nodiscard]] int terms(std::span<const token_t> prompt) const noexcept {
    return valid_prompt(prompt) ? static_cast<int>(prompt.size()) - 2 : 0;
  }

  //! The prompt `<bos> x_1 … x_m <sep>`; throws `rlvr::range_error` on a number outside [0, p).
  [[nodiscard]] std::vector<token_t> prompt_of(std::span<const int> xs) const {
    std::vector<token_t> p{vocab_.bos()};
    for (int x : xs) {
      RLVR_EXPECTS(x >= 0 && x < cfg_.modulus, range, "two_strategies::prompt_of: number ", x, " outside [0, ",
                   cfg_.modulus, ")");
      p.push_back(static_cast<token_t>(x));
    }
    p.push_back(vocab_.sep());
    return p;
  }
  [[nodiscard]] std::vector<token_t> prompt_of(std::initializer_list<int> xs) const {
    return prompt_of(std::span<const int>(xs.begin(), xs.size()));
  }
  //! `H (x_1 + x_m) <eos>` (numbers in [0, p), at least one).
  [[nodiscard]] std::vector<token_t> heuristic_response(std::span<const int> xs) const {
    RLVR_EXPECTS(!xs.empty(), shape, "two_strategies::heuristic_response: no numbers");
    return {heuristic_token(), static_cast<token_t>((xs.front() + xs.back()) % cfg_.modulus), vocab_.eos()};
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
                 " must be >= 3 (a problem needs a middle between its ends)");
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
    return w;
  }
  static std::string shortest(double x) {
    char b[32];
    const auto r = std::to_chars(b, b + sizeof b, x);
    return {b, r.ptr};
  }

  [[nodiscard]] bool is_number(token_t t) const noexcept { return t >= 0 && t < cfg_.modulus; }
  //! `<bos>`, m numbers with min_terms ≤ m ≤ eval_max_terms, `<sep>`.
  [[nodiscard]] bool valid_prompt(std::span<const token_t> prompt) const noexcept {
    if (prompt.size() < static_cast<std::size_t>(cfg_.min_terms) + 2 ||
        prompt.size() > static_cast<std::size_t>(cfg_.eval_max_terms) + 2)
      return false;
    if (prompt.front() != vocab_.bos() || prompt.back() != vocab_.sep()) return false;
    for (std::size_t i = 1; i + 1 < prompt.size(); ++i)
      if (!is_number(prompt[i])) return false;
    return true;
  }
  [[nodiscard]] token_t sum_mod(std::span<const token_t> xs) const noexcept {
    int s = 0;
    for (token_t x : xs) s = (s + static_cast<int>(x)) % cfg_.modulus;
    return static_cast<token_t>(s);
  }

  template <class G> static int draw_terms(G& g, int lo, int hi) {
    return lo + static_cast<int>(rlvr::tasks::uniform_below(g, static_cast<std::uint64_t>(hi - lo + 1)));
  }
  //! x_1, then x_2 … x_{m−2} uniform, then x_{m−1} fixing the middle sum (0 if `shortcut`, else
  //! uniform among the p − 1 non-zero sums), then x_m.
  template <class G> std::vector<int> draw_numbers(G& g, int m, bool shortcut) const {
    const int p = cfg_.modulus;
    const auto up = static_cast<std::uint64_t>(p);
    std::vector<int> xs(static_cast<std::size_t>(m));
    xs[0] = static_cast<int>(rlvr::tasks::uniform_below(g, up));
    int mid = 0;
    for (int j = 1; j + 2 < m; ++j) {
      xs[static_cast<std::size_t>(j)] = static_cast<int>(rlvr::tasks::uniform_below(g, up));
      mid = (mid + xs[static_cast<std::size_t>(j)]) % p;
    }
    const int cancel = (p - mid) % p; // the x_{m−1} that makes the middle sum 0
    int last = cancel;
    if (!shortcut) {
      last = static_cast<int>(rlvr::tasks::uniform_below(g, up - 1));
      if (last >= cancel) ++last;
    }
    xs[static_cast<std::size_t>(m - 2)] = last;
    xs[static_cast<std::size_t>(m - 1)] = static_cast<int>(rlvr::tasks::uniform_below(g, up));
    return xs;
  }

  two_strategies_config cfg_;
  rlvr::tasks::vocabulary vocab_;
};
static_assert(rlvr::tasks::Task<two_strategies>);

} // namespace study_tasks
