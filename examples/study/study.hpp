#pragma once
// rlvr-study: the flagship study (issue 8) on rlvr's public API only.
//
// Pipeline, for each seed s:
//   1. base_s  = the reference transformer pretrained by supervised learning on the task's
//                mixture of correct and plausibly wrong short walks (cached as safetensors);
//   2. for each method m ∈ {psr, nsr, w_reinforce, ppo, grpo}: RL from base_s with rlvr::trainer
//      (G = 8 rollouts at τ = 1, PPO clip 0.2, 4 mini-batches per rollout batch, AdamW, grad
//      clip 1, entropy bonus c_H, GRPO k3 KL, PPO GAE + value head);
//   3. evaluation of base_s and every RL model on the same held-out problems: n samples each
//      at the evaluation temperature / top-p, Pass@k for k = 1, 2, …, n, greedy accuracy, mean
//      token entropy.
// Intervals: a two-level percentile bootstrap over seeds and problems (resample seeds, then
// problems within the resampled seeds), seeded, so reruns give identical numbers.
//
// Everything random is addressed by (seed, purpose, index) in Philox streams: the same flags
// give the same results.json byte for byte.

#include <algorithm>
#include <array>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include <rlvr/backends/eigen.hpp>
#include <rlvr/diagnostics/mass_flow.hpp>
#include <rlvr/dist/communicator.hpp>
#include <rlvr/evaluate.hpp>
#include <rlvr/generate.hpp>
#include <rlvr/io/safetensors.hpp>
#include <rlvr/io/sha256.hpp>
#include <rlvr/metrics/pass_at_k.hpp>
#include <rlvr/optim/adam.hpp>
#include <rlvr/optim/schedules.hpp>
#include <rlvr/policy/transformer.hpp>
#include <rlvr/random/philox.hpp>
#include <rlvr/sft.hpp>
#include <rlvr/tasks/reward.hpp>
#include <rlvr/trainer/metrics_writer.hpp>
#include <rlvr/trainer/trainer.hpp>

#include "task_registry.hpp"

namespace study {

using rlvr::index_t;
using rlvr::token_t;

// ---- configuration ---------------------------------------------------------------------------
//! The RL methods `--methods` accepts: the paper's five and the objective zoo's compositions
//! (rlvr::methods, docs/objectives.md).
inline const std::vector<std::string>& known_methods() {
  static const std::vector<std::string> names{"psr",   "nsr",  "w_reinforce", "ppo",      "grpo",   "gspo",
                                              "gmpo",  "cispo", "sapo",       "dapo",     "clip_cov", "kl_cov",
                                              "high_entropy", "reinforce_pp_baseline", "opo", "grpo_kl_full"};
  return names;
}
inline bool is_method(const std::string& m) {
  return std::find(known_methods().begin(), known_methods().end(), m) != known_methods().end();
}
inline std::string method_names() {
  std::string s;
  for (const auto& m : known_methods()) s += (s.empty() ? "" : ", ") + m;
  return s;
}

struct config {
  // task: a registered task (task_registry.hpp; built in: zp_walk, graph_path), its
  // `--task-option key=value` settings, and the share of plausibly wrong pretraining
  // demonstrations (default: the task's own)
  std::string task = "zp_walk";
  std::vector<std::string> task_options{};
  std::optional<double> wrong_fraction{};
  // held-out problems: "in-distribution" (unseen instances of the RL distribution, the paper's
  // MATH-train → MATH-test setting; RL never trains on them) or "harder" (the task's eval
  // split: disjoint from and harder than the RL problems)
  std::string eval_regime = "in-distribution";
  // model
  index_t d_model = 64, n_layers = 2, n_heads = 4;
  // pretraining
  index_t pretrain_steps = 1500, pretrain_batch = 64;
  double pretrain_lr = 3e-3;
  // RL
  index_t rl_steps = 40, prompts_per_step = 32, group_size = 8, mini_batches = 4, epochs = 1;
  double rl_lr = 3e-4, weight_decay = 0.0, clip = 0.2, grad_clip = 1.0, temperature = 1.0;
  double entropy_coef = 1e-3, kl_beta = 1e-3, lambda = 0.1;
  // evaluation
  index_t eval_problems = 256, samples = 256;
  double eval_temperature = 0.6, top_p = 0.95;
  index_t bootstrap_resamples = 2000;
  // runs
  std::vector<std::uint64_t> seeds{0, 1, 2};
  std::vector<std::string> methods{"psr", "nsr", "w_reinforce", "ppo", "grpo"};
  // beyond the paper
  std::vector<double> lambda_sweep{};  // extra W-REINFORCE runs
  bool nsr_ablation = false;           // NSR without clip, and with 1 mini-batch
  index_t long_steps = 0;              // NSR and W-REINFORCE for this many steps
  // the mass-flow diagnostic (rlvr/diagnostics/mass_flow.hpp) every this many RL steps (0 = off)
  index_t mass_flow_every = 5;
  // the RL update's LM head (trainer_config::lm_head): "materialised" (logits → loss_and_grad →
  // backward; the default, the path of every committed run) or "fused" (hidden states →
  // rlvr::fused_linear_loss_and_grad, no logits). Equal to rounding, which changes sampled
  // trajectories: results are reproducible per setting, not across them.
  std::string lm_head = "materialised";
  // plumbing
  std::filesystem::path out = "results";
  std::filesystem::path cache_dir{};   // default: <out>/cache
  int threads = 0;
  // processes (rlvr-study under mpirun): the trainer's canonical shards (results depend on it,
  // not on the rank count) and the ranks that share one run (the others run other runs)
  index_t shards = 1;
  int ranks_per_run = 1;
  bool progress = true;
  bool tty = false;
  std::string preset = "default";

  // checkpoints: each RL run saves its state every `checkpoint_every` steps (0 = only when it
  // ends) under <cache>/runs/, and a rerun resumes from there
  index_t checkpoint_every = 10;
  // tests only: stop (as if killed) once this many RL steps have run in this process (0 = never)
  index_t stop_after_rl_steps = 0;
  // where notes go ("cached base model failed its integrity check; retraining", "resuming …")
  std::function<void(const std::string&)> log = [](const std::string& m) { std::fprintf(stderr, "rlvr-study: %s\n", m.c_str()); };

  //! Throws `rlvr::config_error` naming the first bad setting by its flag (the task and the model
  //! check theirs too). `run` calls it before any work; so does the program, before its banner.
  void validate() const {
    auto finite = [](double x) { return std::isfinite(x); };
    auto at_least = [](const char* flag, index_t v, index_t lo) {
      RLVR_EXPECTS(v >= lo, config, "rlvr-study: ", flag, " = ", v, " must be >= ", lo);
    };
    auto positive = [&](const char* flag, double v) {
      RLVR_EXPECTS(finite(v) && v > 0.0, config, "rlvr-study: ", flag, " = ", v, " must be finite and > 0");
    };
    auto non_negative = [&](const char* flag, double v) {
      RLVR_EXPECTS(finite(v) && v >= 0.0, config, "rlvr-study: ", flag, " = ", v, " must be finite and >= 0");
    };
    RLVR_EXPECTS(!seeds.empty(), config, "rlvr-study: --seeds is empty");
    at_least("--samples", samples, 1);
    at_least("--eval-problems", eval_problems, 1);
    at_least("--pretrain-steps", pretrain_steps, 1);
    at_least("pretrain_batch", pretrain_batch, 1);
    positive("pretrain_lr", pretrain_lr);
    at_least("--rl-steps", rl_steps, 0);
    at_least("--prompts", prompts_per_step, 1);
    at_least("--group-size", group_size, 1);
    at_least("--mini-batches", mini_batches, 1);
    at_least("epochs", epochs, 1);
    positive("--rl-lr", rl_lr);
    non_negative("weight_decay", weight_decay);
    RLVR_EXPECTS(finite(clip) && clip > 0.0 && clip < 1.0, config, "rlvr-study: clip = ", clip, " is outside (0, 1)");
    positive("grad_clip", grad_clip);
    positive("temperature (RL rollouts)", temperature);
    non_negative("--entropy-coef", entropy_coef);
    non_negative("kl_beta", kl_beta);
    non_negative("--lambda", lambda);
    for (double l : lambda_sweep) non_negative("--lambda-sweep", l);
    at_least("--long-steps", long_steps, 0);
    at_least("--mass-flow-every", mass_flow_every, 0);
    RLVR_EXPECTS(lm_head == "fused" || lm_head == "materialised", config, "rlvr-study: --lm-head = '", lm_head,
                 "' is not one of: fused, materialised");
    if (wrong_fraction)
      RLVR_EXPECTS(finite(*wrong_fraction) && *wrong_fraction >= 0.0 && *wrong_fraction <= 1.0, config,
                   "rlvr-study: --wrong-fraction = ", *wrong_fraction, " is outside [0, 1]");
    RLVR_EXPECTS(eval_regime == "harder" || eval_regime == "in-distribution", config, "rlvr-study: --eval = '",
                 eval_regime, "' is not a regime (harder, in-distribution)");
    positive("--temperature", eval_temperature);
    RLVR_EXPECTS(finite(top_p) && top_p > 0.0 && top_p <= 1.0, config, "rlvr-study: --top-p = ", top_p,
                 " is outside (0, 1]");
    at_least("bootstrap_resamples", bootstrap_resamples, 1);
    at_least("--d-model", d_model, 1);
    at_least("--layers", n_layers, 0);
    at_least("n_heads", n_heads, 1);
    RLVR_EXPECTS(d_model % n_heads == 0, config, "rlvr-study: --d-model = ", d_model,
                 " must be a multiple of the number of heads (", n_heads, ")");
    RLVR_EXPECTS(threads >= 0, config, "rlvr-study: --threads = ", threads, " must be >= 0");
    at_least("--shards", shards, 1);
    RLVR_EXPECTS(ranks_per_run >= 1, config, "rlvr-study: --ranks-per-run = ", ranks_per_run, " must be >= 1");
    RLVR_EXPECTS(ranks_per_run <= shards, config, "rlvr-study: --ranks-per-run = ", ranks_per_run,
                 " exceeds --shards = ", shards, ": every rank of a run needs a shard of its batch");
    at_least("--checkpoint-every", checkpoint_every, 0);
    at_least("stop_after_rl_steps", stop_after_rl_steps, 0);
    for (const auto& m : methods)
      RLVR_EXPECTS(is_method(m), config, "rlvr-study: unknown method '", m, "' (", method_names(), ")");
    std::vector<std::uint64_t> sorted = seeds;
    std::sort(sorted.begin(), sorted.end());
    RLVR_EXPECTS(std::adjacent_find(sorted.begin(), sorted.end()) == sorted.end(), config,
                 "rlvr-study: --seeds lists a seed twice");
  }
};

//! Thrown by `run` when `config::stop_after_rl_steps` is reached (a simulated kill, for tests).
struct interrupted : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// ---- progress with ETA ----------------------------------------------------------------------
class progress {
public:
  progress(double total, bool enabled, bool tty) : total_(total), enabled_(enabled), tty_(tty),
                                                   t0_(std::chrono::steady_clock::now()) {}
  void set_stage(std::string s) {
    stage_ = std::move(s);
    show_rl_ = false;
    print(true);
  }
  void advance(double units) {
    done_ += units;
    print(false);
  }
  //! Unit costs of a pretraining step, an RL step and one evaluated problem.
  void set_weights(double pre, double rl, double eval) {
    w_pre_ = pre;
    w_rl_ = rl;
    w_eval_ = eval;
  }
  void pretrain_step() { advance(w_pre_); }
  //! One RL step done; its reward and KL (to the reference, else to the rollout policy) are shown.
  void rl_step(const rlvr::step_metrics& m) {
    reward_ = m.reward_mean;
    kl_ = m.ref_kl != 0.0 ? m.ref_kl : m.approx_kl;
    show_rl_ = true;
    advance(w_rl_);
  }
  void eval_problems(double n) { advance(w_eval_ * n); }
  void finish() {
    if (enabled_ && tty_) {
      print(true); // the final state, even if the last redraw was throttled
      std::fputs("\n", stdout);
    }
    std::fflush(stdout);
  }
  [[nodiscard]] double elapsed() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0_).count();
  }

private:
  void print(bool stage_changed) {
    if (!enabled_) return;
    const double f = total_ > 0 ? std::min(1.0, done_ / total_) : 1.0;
    const double el = elapsed();
    // a terminal line is redrawn at most 4 times per second (and on every stage change)
    if (tty_ && !stage_changed && el - last_draw_ < 0.25) return;
    last_draw_ = el;
    const double eta = f > 0.01 ? el * (1.0 - f) / f : -1.0;
    char eta_s[32];
    if (eta < 0) std::snprintf(eta_s, sizeof eta_s, "--:--");
    else std::snprintf(eta_s, sizeof eta_s, "%02d:%02d", static_cast<int>(eta) / 60, static_cast<int>(eta) % 60);
    if (tty_) {
      const int width = 30, fill = static_cast<int>(f * width);
      std::string bar(static_cast<std::size_t>(fill), '#');
      bar.resize(width, '.');
      std::printf("\r[%s] %5.1f%%  %6.0fs  ETA %s  %-44.44s %-24.24s", bar.c_str(), 100.0 * f, el, eta_s,
                  stage_.c_str(), rl_text().c_str());
      std::fflush(stdout);
    } else {
      const int pct = static_cast<int>(100.0 * f);
      if (stage_changed || pct >= last_pct_ + 10) {
        last_pct_ = pct - pct % 10;
        std::printf("[%3d%%] %6.0fs  ETA %s  %s %s\n", pct, el, eta_s, stage_.c_str(), rl_text().c_str());
        std::fflush(stdout);
      }
    }
  }
  [[nodiscard]] std::string rl_text() const {
    if (!show_rl_) return "";
    char b[48];
    std::snprintf(b, sizeof b, "reward %.3f  KL %.4f", reward_, kl_);
    return b;
  }
  double total_, done_ = 0, last_draw_ = -1.0, reward_ = 0, kl_ = 0;
  bool show_rl_ = false;
  double w_pre_ = 1, w_rl_ = 1, w_eval_ = 1;
  bool enabled_, tty_;
  std::chrono::steady_clock::time_point t0_;
  std::string stage_;
  int last_pct_ = -10;
};

// ---- results --------------------------------------------------------------------------------
struct eval_result {
  std::vector<rlvr::problem_counts> counts; // one per held-out problem
  double entropy = 0;                       // mean token entropy of the samples (at eval τ)
  double greedy_accuracy = 0;
  double mean_length = 0;
};

//! The mass-flow diagnostic of one RL step (NaN where not measured): per side (NSR: tokens of
//! wrong responses, PSR: of correct ones) the mean mass moved per token row, the |F|-weighted
//! Spearman correlation of the alternatives' shares with their prior shares, and the
//! proportionality error TV (rlvr::mass_flow_side).
inline constexpr index_t mass_fields = 6;
using mass_flow_values = std::array<double, mass_fields>;
inline mass_flow_values no_mass_flow() {
  mass_flow_values v;
  v.fill(std::numeric_limits<double>::quiet_NaN());
  return v;
}
inline const std::array<const char*, mass_fields>& mass_flow_names() {
  static const std::array<const char*, mass_fields> n{"nsr_mass_moved", "nsr_spearman", "nsr_tv",
                                                      "psr_mass_moved", "psr_spearman", "psr_tv"};
  return n;
}

struct curve_row {
  std::string method;
  std::uint64_t seed = 0;
  rlvr::step_metrics m;
  mass_flow_values flow = no_mass_flow();
};

struct run_key {
  std::string method; // "base", "psr", …, or an extra ("w_reinforce_l0.3", "nsr_noclip", …)
  std::uint64_t seed = 0;
  auto operator<=>(const run_key&) const = default;
};

//! RL steps this process ran and restored from checkpoints (for the progress and for tests).
struct rl_counters {
  index_t run = 0;
  index_t resumed = 0;
};

struct results {
  std::map<run_key, eval_result> evals;
  std::vector<curve_row> curves;
  std::vector<std::string> methods;  // main methods, in order (base first)
  std::vector<std::string> extras;   // extra runs, in order
  double seconds = 0;
  double base_pass1_train = 0;       // base accuracy on training problems (for calibration notes)
  rl_counters rl;                    // RL steps run here / restored from checkpoints (not in outputs)
};

// ---- the task and the model -------------------------------------------------------------------
//! The registered task `c.task` with its `--task-option` settings (throws `rlvr::config_error`
//! naming an unknown task or option, or a value the task rejects).
inline built_task make_built_task(const config& c) { return make_registered_task(c.task, c.task_options); }
inline any_task make_task(const config& c) { return make_built_task(c).task; }
//! The pretraining mix: `--wrong-fraction`, else the task's own default.
inline double wrong_fraction_of(const config& c) {
  return c.wrong_fraction ? *c.wrong_fraction : find_task(c.task).wrong_fraction;
}

inline rlvr::transformer_config model_config(const config& c, const any_task& task, std::uint64_t seed) {
  return {.vocab_size = task.vocab().size(),
          .context_length = task.max_prompt_length() + task.max_response_length(),
          .d_model = c.d_model,
          .n_layers = c.n_layers,
          .n_heads = c.n_heads,
          .value_head = true, // PPO's critic; zero-initialised, untouched by pretraining
          .seed = seed,
          .threads = c.threads};
}

// Philox stream purposes (subsequence high bits), so that no two uses share a stream.
enum purpose : std::uint64_t {
  p_pretrain = 1, p_train_prompts = 2, p_eval_problems = 3, p_eval_sampling = 4, p_rl = 5, p_bootstrap = 6,
  p_mass_flow = 7
};
inline std::uint64_t stream_seed(std::uint64_t seed, purpose p) { return seed * 0x9E3779B97F4A7C15ULL ^ (p << 56); }

// ---- pretraining ------------------------------------------------------------------------------
// Supervised learning on task.pretraining_example: rlvr::sft_loss_and_grad (cross-entropy on the
// response tokens, token mean), AdamW with warm-up + cosine decay, grad clip 1.
inline void pretrain(rlvr::transformer_policy& model, const any_task& task, const config& c,
                     std::uint64_t seed, progress& prog) {
  rlvr::adamw opt({.lr = c.pretrain_lr, .weight_decay = 0.0});
  const rlvr::cosine_schedule sched{.lr = c.pretrain_lr, .total_steps = c.pretrain_steps,
                                    .warmup_steps = std::min<index_t>(100, c.pretrain_steps / 10),
                                    .min_lr = 0.0};
  // P(wrong) = w exactly for w = 0 (never) and w = 1 (always: 2^32 would wrap to 0)
  const double w = wrong_fraction_of(c);
  const auto wrong_threshold = static_cast<std::uint64_t>(w * 4294967296.0);
  const rlvr::eigen_backend be{.threads = c.threads};
  rlvr::sft_batch batch(c.pretrain_batch, model.context_length(), task.vocab().pad());
  for (index_t step = 0; step < c.pretrain_steps; ++step) {
    rlvr::philox_engine g(stream_seed(seed, p_pretrain), static_cast<std::uint64_t>(step));
    batch.clear();
    for (index_t b = 0; b < c.pretrain_batch; ++b) {
      const bool correct = static_cast<std::uint64_t>(g()) >= wrong_threshold;
      const rlvr::tasks::example ex = task.pretraining_example(g, correct);
      batch.add(ex.prompt, ex.response);
    }
    model.zero_grad();
    (void)rlvr::sft_loss_and_grad(model, batch.view(), {}, be);
    const auto params = model.parameters();
    rlvr::clip_grad_norm(params, 1.0);
    rlvr::apply_schedule(opt, sched, step);
    opt.step(params);
    prog.pretrain_step();
  }
}

inline std::string hex64(std::uint64_t x) {
  char b[17];
  std::snprintf(b, sizeof b, "%016llx", static_cast<unsigned long long>(x));
  return b;
}

// SHA-256 over a state_dict's tensors, in order: for each, its name, dtype, rank, extents, byte
// count and bytes (lengths as 8 little-endian bytes, so no two different dicts share an input).
inline std::string tensors_sha256(const rlvr::state_dict& d) {
  rlvr::io::sha256 h;
  h.update_u64(d.tensors().size());
  for (const auto& [name, t] : d.tensors()) {
    h.update_u64(name.size());
    h.update(name);
    h.update(rlvr::dtype_name(t.type));
    h.update_u64(t.shape.size());
    for (std::int64_t e : t.shape) h.update_u64(static_cast<std::uint64_t>(e));
    h.update_u64(t.bytes.size());
    h.update(std::span<const std::byte>(t.bytes));
  }
  return rlvr::io::to_hex(h.finish());
}

inline std::filesystem::path cache_dir_of(const config& c) { return c.cache_dir.empty() ? c.out / "cache" : c.cache_dir; }

// Creates `dir` (and its parents); a failure is an io_error naming it.
inline void make_dirs(const std::filesystem::path& dir, const char* what) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  RLVR_EXPECTS(!ec && std::filesystem::is_directory(dir), io, "rlvr-study: cannot create the ", what, " directory ",
               dir.string(), ": ", ec ? ec.message() : std::string("a file of that name exists"));
}

// Reads a cached or checkpointed state_dict and checks its recipe and content hash: nullopt (and a
// note saying why) when the file is missing, unreadable, from another recipe or corrupt.
inline std::optional<rlvr::state_dict> load_verified(const std::filesystem::path& path, const std::string& recipe,
                                                     const config& c, const char* what, const char* instead) {
  if (!std::filesystem::exists(path)) return std::nullopt;
  try {
    rlvr::state_dict d = rlvr::io::load_safetensors(path);
    const std::string* r = d.find_meta("rlvr.study.recipe");
    const std::string* h = d.find_meta("rlvr.study.sha256");
    if (r == nullptr || *r != recipe) {
      c.log(std::string(what) + " " + path.string() + " was made by another recipe (or an older rlvr-study); " +
            instead);
      return std::nullopt;
    }
    if (h == nullptr || *h != tensors_sha256(d)) {
      c.log(std::string(what) + " " + path.string() + " failed its integrity check (SHA-256 of the tensors " +
            (h ? "differs from the stored " + *h : std::string("is not stored")) + "); " + instead);
      return std::nullopt;
    }
    return d;
  } catch (const rlvr::io_error& e) {
    c.log(std::string(what) + " " + path.string() + " cannot be read (" + e.what() + "); " + instead);
    return std::nullopt;
  }
}

// Writes `d` with its recipe and content hash (atomically).
inline void save_verified(const std::filesystem::path& path, rlvr::state_dict d, const std::string& recipe) {
  d.set_meta("rlvr.study.recipe", recipe);
  d.set_meta("rlvr.study.sha256", tensors_sha256(d));
  rlvr::io::save_safetensors(path, d);
}

inline std::string fnv_hex(const std::string& s) {
  std::uint64_t h = 1469598103934665603ULL; // FNV-1a: a short file name; the full recipe is checked inside
  for (char ch : s) h = (h ^ static_cast<unsigned char>(ch)) * 1099511628211ULL;
  return hex64(h);
}

// A double as its shortest round-trip decimal (recipes must tell every two values apart).
inline std::string exact(double x) {
  char b[32];
  return std::string(b, std::to_chars(b, b + sizeof b, x).ptr);
}

// Everything that determines a base model's weights: the task (name, resolved options and the
// fingerprint of what it draws), the data mix, the model and the pretraining.
inline std::string base_recipe(const config& c, std::uint64_t seed) {
  const built_task t = make_built_task(c);
  std::ostringstream recipe;
  recipe << "v4 " << c.task << " [" << t.options.describe() << "] task" << t.task.fingerprint().substr(0, 16)
         << " wrong" << exact(wrong_fraction_of(c)) << " d" << c.d_model << " L" << c.n_layers << " H" << c.n_heads
         << " steps" << c.pretrain_steps << " B" << c.pretrain_batch << " lr" << exact(c.pretrain_lr) << " seed" << seed;
  return recipe.str();
}

// The base model of `seed`, from the cache when a model with the same recipe exists and its
// content hash (SHA-256 of the tensors, stored in the file's metadata with the recipe) matches;
// otherwise pretrained (saying why when a cached file was rejected) and cached.
inline rlvr::transformer_policy base_model(const any_task& task, const config& c, std::uint64_t seed,
                                           progress& prog) {
  const std::string recipe = base_recipe(c, seed);
  const auto dir = cache_dir_of(c);
  const auto path = dir / ("base_" + fnv_hex(recipe) + ".safetensors");
  rlvr::transformer_policy model(model_config(c, task, seed));
  if (const auto d = load_verified(path, recipe, c, "cached base model", "retraining it")) {
    model.load_state(*d);
    for (index_t i = 0; i < c.pretrain_steps; ++i) prog.pretrain_step();
    return model;
  }
  pretrain(model, task, c, seed, prog);
  make_dirs(dir, "cache");
  save_verified(path, model.state(), recipe);
  return model;
}

// ---- evaluation -------------------------------------------------------------------------------
//! Up to `want` distinct problems of split `s`, in the order first drawn from Philox stream
//! (seed, subsequence), within 64·want + 4096 draws (a split may hold fewer problems: the Task
//! concept does not say how many, so a shortfall is measured, not assumed).
inline std::vector<std::vector<token_t>> distinct_problems(const any_task& task, rlvr::tasks::split s, index_t want,
                                                           std::uint64_t seed, std::uint64_t subsequence) {
  rlvr::philox_engine g(seed, subsequence);
  std::vector<std::vector<token_t>> out;
  std::set<std::vector<token_t>> seen;
  for (index_t draws = 0, budget = 64 * want + 4096; static_cast<index_t>(out.size()) < want && draws < budget; ++draws) {
    auto p = task.problem(g, s);
    if (seen.insert(p).second) out.push_back(std::move(p));
  }
  return out;
}

//! The held-out problems: one fixed set for every seed and method, drawn without repetition.
//! "harder": `--eval-problems` distinct problems of the task's eval split (fewer, with a note,
//! if the split holds fewer). "in-distribution": the first `--eval-problems` distinct problems of
//! the *train* split from their own stream; RL then skips them (`training_prompts`). It is an
//! error if the train split cannot spare them: fewer found, or more than half of 4·N fresh
//! training draws landing on a held-out problem (RL would have too little left to train on).
inline std::vector<std::vector<token_t>> heldout_problems(const any_task& task, const config& c) {
  const std::uint64_t stream = stream_seed(12345, p_eval_problems);
  if (c.eval_regime == "harder") {
    auto out = distinct_problems(task, rlvr::tasks::split::eval, c.eval_problems, stream, 0);
    if (static_cast<index_t>(out.size()) < c.eval_problems)
      c.log("task '" + c.task + "' gave only " + std::to_string(out.size()) + " distinct held-out problems of the " +
            std::to_string(c.eval_problems) + " asked for (--eval-problems); evaluating on those");
    return out;
  }
  auto out = distinct_problems(task, rlvr::tasks::split::train, c.eval_problems, stream, 1);
  RLVR_EXPECTS(static_cast<index_t>(out.size()) == c.eval_problems, config, "rlvr-study: --eval in-distribution: task '",
               c.task, "' gave only ", out.size(), " distinct training problems, fewer than --eval-problems = ",
               c.eval_problems, " (and RL needs problems left over)");
  const std::set<std::vector<token_t>> held(out.begin(), out.end());
  rlvr::philox_engine g(stream, 2);
  const index_t probes = 4 * c.eval_problems;
  index_t hits = 0;
  for (index_t i = 0; i < probes; ++i) hits += held.contains(task.problem(g, rlvr::tasks::split::train)) ? 1 : 0;
  RLVR_EXPECTS(2 * hits <= probes, config, "rlvr-study: --eval in-distribution: ", hits, " of ", probes,
               " fresh training draws of task '", c.task, "' are among the ", c.eval_problems,
               " held-out problems: the train split is too small to hold them out (lower --eval-problems)");
  return out;
}

// ---- processes -----------------------------------------------------------------------------
// Results cross processes as byte strings (rlvr::dist::all_gather_strings): a minimal writer and
// reader of trivially copyable values and strings, in the machine's byte order (every rank of
// one job runs on the same kind of machine).
struct blob_writer {
  std::string s;
  template <class T> void put(const T& x) {
    static_assert(std::is_trivially_copyable_v<T>);
    s.append(reinterpret_cast<const char*>(&x), sizeof(T));
  }
  void put_string(const std::string& x) {
    put(static_cast<std::uint64_t>(x.size()));
    s += x;
  }
};
struct blob_reader {
  std::string_view s;
  template <class T> T get() {
    static_assert(std::is_trivially_copyable_v<T>);
    RLVR_EXPECTS(s.size() >= sizeof(T), io, "rlvr-study: a rank's results are truncated");
    T x;
    std::memcpy(&x, s.data(), sizeof(T));
    s.remove_prefix(sizeof(T));
    return x;
  }
  std::string get_string() {
    const auto n = static_cast<std::size_t>(get<std::uint64_t>());
    RLVR_EXPECTS(s.size() >= n, io, "rlvr-study: a rank's results are truncated");
    std::string x(s.substr(0, n));
    s.remove_prefix(n);
    return x;
  }
};

// Samples `n` responses per problem with rlvr::evaluate (Philox stream of the seed's evaluation
// purpose, row p·n + i) and one greedy response with rlvr::generate; returns per-problem correct
// counts, mean token entropy, mean length and greedy accuracy. Problems go in chunks of
// 4096 / n so that the progress bar moves during an evaluation (the streams do not depend on it);
// the ranks of `group` share the chunks (chunk j on group rank j mod k) and add their results in
// chunk order, so the result does not depend on k.
template <rlvr::dist::HostCommunicator C = rlvr::dist::single_process>
eval_result evaluate(const rlvr::transformer_policy& model, const any_task& task,
                     const std::vector<std::vector<token_t>>& problems, const config& c, std::uint64_t seed,
                     progress* prog, C group = C{}) {
  eval_result res;
  const rlvr::eigen_backend be{.threads = c.threads};
  const index_t np = static_cast<index_t>(problems.size()), n = c.samples;
  const rlvr::generation_config gen{.sampling = {.temperature = c.eval_temperature, .top_p = c.top_p,
                                                 .policy_logprob = false},
                                    .max_tokens = task.max_response_length(),
                                    .eos = task.vocab().eos(),
                                    .pad = task.vocab().pad()};
  const std::uint64_t stream = stream_seed(seed, p_eval_sampling);
  const index_t chunk = std::max<index_t>(1, 4096 / n);
  const index_t chunks = (np + chunk - 1) / chunk;
  blob_writer mine; // per owned chunk: its index, counts, tokens and entropy·tokens
  for (index_t j = 0; j < chunks; ++j) {
    const index_t p0 = j * chunk;
    const auto first = problems.begin() + p0, last = problems.begin() + std::min(np, p0 + chunk);
    if (j % group.size() != group.rank()) {
      if (prog) prog->eval_problems(static_cast<double>(last - first)); // the chunk is done elsewhere
      continue;
    }
    const std::vector<std::vector<token_t>> part(first, last);
    const rlvr::evaluation e = rlvr::evaluate(model, task, part, n, {1}, {.generation = gen, .bootstrap = {.resamples = 1}},
                                              {.seed = stream, .first_subsequence = static_cast<std::uint64_t>(p0 * n)}, be);
    const double toks = e.mean_length * static_cast<double>(part.size()) * static_cast<double>(n);
    mine.put(j);
    mine.put(static_cast<std::uint64_t>(e.counts.size()));
    for (const auto& pc : e.counts) mine.put(pc);
    mine.put(toks);
    mine.put(e.mean_entropy * toks);
    if (prog) prog->eval_problems(static_cast<double>(part.size()));
  }
  // every chunk's results, in chunk order
  std::vector<std::vector<rlvr::problem_counts>> counts(static_cast<std::size_t>(chunks));
  std::vector<double> chunk_toks(static_cast<std::size_t>(chunks), 0.0), chunk_ent(static_cast<std::size_t>(chunks), 0.0);
  const std::vector<std::string> parts =
      group.size() > 1 ? rlvr::dist::all_gather_strings(group, mine.s) : std::vector<std::string>{mine.s};
  for (const std::string& part : parts) {
    blob_reader in{part};
    while (!in.s.empty()) {
      const auto j = static_cast<std::size_t>(in.get<index_t>());
      RLVR_EXPECTS(j < counts.size(), io, "rlvr-study: a rank sent results for evaluation chunk ", j, " of ", chunks);
      counts[j].resize(static_cast<std::size_t>(in.get<std::uint64_t>()));
      for (auto& pc : counts[j]) pc = in.get<rlvr::problem_counts>();
      chunk_toks[j] = in.get<double>();
      chunk_ent[j] = in.get<double>();
    }
  }
  double ent_sum = 0, tokens = 0;
  for (index_t j = 0; j < chunks; ++j) {
    res.counts.insert(res.counts.end(), counts[static_cast<std::size_t>(j)].begin(), counts[static_cast<std::size_t>(j)].end());
    ent_sum += chunk_ent[static_cast<std::size_t>(j)];
    tokens += chunk_toks[static_cast<std::size_t>(j)];
  }
  RLVR_EXPECTS(static_cast<index_t>(res.counts.size()) == np, io, "rlvr-study: the evaluation gathered ",
               res.counts.size(), " problems of ", np);
  rlvr::generation_config greedy = gen;
  greedy.sampling = {.greedy = true, .policy_logprob = false};
  const rlvr::generation g = rlvr::generate(model, problems, 1, greedy, {.seed = stream}, be);
  index_t greedy_ok = 0;
  for (index_t p = 0; p < np; ++p)
    greedy_ok += task.score(problems[static_cast<std::size_t>(p)], g.response(p, 0)) > 0.0f ? 1 : 0;
  res.entropy = tokens > 0 ? ent_sum / tokens : 0.0;
  res.greedy_accuracy = np ? static_cast<double>(greedy_ok) / static_cast<double>(np) : 0.0;
  res.mean_length = tokens / static_cast<double>(std::max<index_t>(np * n, 1));
  return res;
}

// ---- RL ---------------------------------------------------------------------------------------
struct method_spec {
  std::string name;   // key in results
  std::string kind;   // psr | nsr | w_reinforce | ppo | grpo
  double lambda = 0.1;
  bool clip = true;
  index_t mini_batches = 4;
  index_t steps = 0;
};

//! `max_response` is the generation limit (DAPO's overlong penalty: the last quarter is its buffer).
template <class F> void with_objective(const method_spec& m, const config& c, index_t max_response, F&& f) {
  // "no clip": ρ is clipped only below 1e-6 and above 1e9, i.e. never in practice.
  const rlvr::ppo_clip clip = m.clip ? rlvr::ppo_clip{.eps_low = c.clip, .eps_high = c.clip}
                                     : rlvr::ppo_clip{.eps_low = 0.999999, .eps_high = 1e9};
  const rlvr::entropy_bonus ent{.coef = c.entropy_coef};
  if (m.kind == "psr") f(rlvr::with_regularizers(rlvr::psr({.unused = rlvr::unused_side::drop, .clip = clip}), ent));
  else if (m.kind == "nsr") f(rlvr::with_regularizers(rlvr::nsr({.unused = rlvr::unused_side::drop, .clip = clip}), ent));
  else if (m.kind == "w_reinforce") f(rlvr::with_regularizers(rlvr::w_reinforce({.lambda = m.lambda, .clip = clip}), ent));
  else if (m.kind == "ppo") {
    rlvr::ppo_config pc;
    pc.advantage.kl_beta = c.kl_beta;
    pc.clip = clip;
    pc.entropy = ent;
    f(rlvr::ppo(pc));
  } else if (m.kind == "grpo") {
    rlvr::grpo_config gc;
    gc.kl.beta = c.kl_beta;
    gc.clip = clip;
    gc.entropy = ent;
    f(rlvr::grpo(gc));
  } else if (m.kind == "gspo") f(rlvr::make_objective(rlvr::group_zscore{}, rlvr::gspo{}, rlvr::seq_mean_token_mean{}, ent));
  else if (m.kind == "gmpo") f(rlvr::make_objective(rlvr::group_zscore{}, rlvr::gmpo{}, rlvr::seq_mean_token_mean{}, ent));
  else if (m.kind == "cispo") f(rlvr::make_objective(rlvr::group_zscore{}, rlvr::cispo{}, rlvr::token_mean{}, ent));
  else if (m.kind == "sapo") f(rlvr::make_objective(rlvr::group_zscore{}, rlvr::sapo{}, rlvr::seq_mean_token_mean{}, ent));
  else if (m.kind == "dapo") {
    const auto d = rlvr::methods::dapo({.max_length = static_cast<double>(max_response),
                                        .buffer = std::max(1.0, 0.25 * static_cast<double>(max_response))});
    f(rlvr::make_objective(d.estimator, d.surrogate, rlvr::token_mean{}, ent));
  } else if (m.kind == "clip_cov") f(rlvr::make_objective(rlvr::group_zscore{}, rlvr::clip_cov{}, rlvr::token_mean{}, ent));
  else if (m.kind == "kl_cov") f(rlvr::make_objective(rlvr::group_zscore{}, rlvr::kl_cov{}, rlvr::token_mean{}, ent));
  else if (m.kind == "high_entropy") {
    const auto h = rlvr::methods::high_entropy();
    f(rlvr::make_objective(h.estimator, h.surrogate, rlvr::token_mean{}, ent, rlvr::entropy_top{}));
  } else if (m.kind == "reinforce_pp_baseline")
    f(rlvr::make_objective(rlvr::whitened<rlvr::group_mean_baseline>{}, clip, rlvr::token_mean{}, ent));
  else if (m.kind == "opo") f(rlvr::make_objective(rlvr::opo{}, clip, rlvr::token_mean{}, ent));
  else if (m.kind == "grpo_kl_full") // GRPO with the exact full-vocabulary KL in place of k3
    f(rlvr::make_objective(rlvr::group_zscore{}, clip, rlvr::token_mean{}, rlvr::kl_full{.beta = c.kl_beta}, ent));
  else rlvr::fail<rlvr::config_error>("rlvr-study: unknown method '", m.kind, "' (", method_names(), ")");
}

//! The held-out problems, for the RL prompt draw to skip.
using heldout_set = std::set<std::vector<token_t>>;

//! The prompts of RL step `step`: `--prompts` training problems from Philox stream (seed's
//! train-prompt purpose, subsequence step), skipping held-out problems (none in the "harder"
//! regime, whose splits are disjoint; the held-out set in "in-distribution"), so RL never sees a
//! problem it is evaluated on.
inline std::vector<std::vector<token_t>> training_prompts(const any_task& task, const heldout_set& heldout,
                                                          const config& c, std::uint64_t seed, index_t step) {
  rlvr::philox_engine g(stream_seed(seed, p_train_prompts), static_cast<std::uint64_t>(step));
  std::vector<std::vector<token_t>> prompts;
  for (index_t draws = 0; static_cast<index_t>(prompts.size()) < c.prompts_per_step; ++draws) {
    RLVR_EXPECTS(draws < 64 * c.prompts_per_step + 4096, config, "rlvr-study: task '", c.task,
                 "': almost every training problem drawn is a held-out one (RL step ", step, ")");
    auto p = task.problem(g, rlvr::tasks::split::train);
    if (!heldout.contains(p)) prompts.push_back(std::move(p));
  }
  return prompts;
}

// Everything that determines an RL run's trajectory (on top of its base model's recipe).
inline std::string run_recipe(const config& c, const method_spec& m, std::uint64_t seed, index_t steps) {
  std::ostringstream r;
  r << base_recipe(c, seed) << " | rl v3 eval-" << c.eval_regime << " flow" << c.mass_flow_every << " head-"
    << c.lm_head;
  if (c.eval_regime != "harder") r << " heldout" << c.eval_problems; // RL skips the held-out problems
  r << " " << m.name << " " << m.kind << " lambda" << exact(m.lambda) << " clip"
    << (m.clip ? exact(c.clip) : std::string("off")) << " mb" << m.mini_batches << " steps" << steps << " P"
    << c.prompts_per_step << " G" << c.group_size << " epochs" << c.epochs << " lr" << exact(c.rl_lr) << " wd"
    << exact(c.weight_decay) << " gclip" << exact(c.grad_clip) << " tau" << exact(c.temperature) << " ent"
    << exact(c.entropy_coef) << " kl" << exact(c.kl_beta);
  if (c.shards != 1) r << " shards" << c.shards; // the trajectory depends on S (not on the ranks)
  return r.str();
}

// step_metrics ↔ a row of doubles, for checkpoints: the first `metric_fields` fields of
// rlvr::for_each_metric, everything before the phase timings (observations, not kept; every
// integer field is < 2^53, so the round trip is exact).
inline constexpr index_t metric_fields = 21;
inline std::array<double, metric_fields> metrics_row(const rlvr::step_metrics& m) {
  std::array<double, metric_fields> r{};
  index_t k = 0;
  rlvr::for_each_metric(m, [&](std::string_view, auto v) {
    if (k < metric_fields) r[static_cast<std::size_t>(k)] = static_cast<double>(v);
    ++k;
  });
  return r;
}
inline rlvr::step_metrics metrics_from_row(const double* x) {
  rlvr::step_metrics m;
  index_t k = 0;
  rlvr::for_each_metric(m, [&](std::string_view, auto& v) {
    if (k < metric_fields) v = static_cast<std::remove_reference_t<decltype(v)>>(x[k]);
    ++k;
  });
  return m;
}

// The mass-flow diagnostic of one RL step (the trainer's mini-batch updates of that step):
// G = --group-size responses per prompt of the step, sampled from the policy *before* the step
// at the rollout temperature (their own Philox stream, so the training trajectory is untouched,
// and every rank of a run computes the same numbers), scored by the task; then, on every
// response token, the distributions before and after the step go to rlvr::mass_flow_from_logits.
inline mass_flow_values measure_mass_flow(const rlvr::transformer_policy& before, const rlvr::transformer_policy& after,
                                          const any_task& task, const std::vector<std::vector<token_t>>& prompts,
                                          const config& c, std::uint64_t seed, index_t step) {
  const rlvr::eigen_backend be{.threads = c.threads};
  const index_t G = c.group_size, P = static_cast<index_t>(prompts.size());
  const rlvr::generation_config gen{.sampling = {.temperature = c.temperature, .policy_logprob = false},
                                    .max_tokens = task.max_response_length(),
                                    .eos = task.vocab().eos(),
                                    .pad = task.vocab().pad()};
  const rlvr::generation g = rlvr::generate(before, prompts, G, gen,
                                            {.seed = stream_seed(seed, p_mass_flow),
                                             .first_subsequence = static_cast<std::uint64_t>(step * P * G)},
                                            be);
  index_t T = 1;
  for (index_t r = 0; r < P * G; ++r)
    T = std::max<index_t>(T, static_cast<index_t>(prompts[static_cast<std::size_t>(r / G)].size() +
                                                  g.responses[static_cast<std::size_t>(r)].size()));
  std::vector<token_t> tokens(static_cast<std::size_t>(P * G * T), task.vocab().pad());
  for (index_t r = 0; r < P * G; ++r) {
    const auto& pr = prompts[static_cast<std::size_t>(r / G)];
    const auto& re = g.responses[static_cast<std::size_t>(r)];
    std::copy(pr.begin(), pr.end(), tokens.begin() + r * T);
    std::copy(re.begin(), re.end(), tokens.begin() + r * T + static_cast<index_t>(pr.size()));
  }
  const index_t V = before.vocab_size();
  const rlvr::token_batch batch{.tokens = rlvr::matrix_view<const token_t>(tokens.data(), P * G, T), .mask = {}};
  std::vector<float> lb(static_cast<std::size_t>(P * G * T * V)), la(lb.size());
  rlvr::transformer_policy b = before, a = after; // forward_inference uses the models' scratch
  b.forward_inference(batch, rlvr::matrix_view<float>(lb.data(), P * G * T, V));
  a.forward_inference(batch, rlvr::matrix_view<float>(la.data(), P * G * T, V));
  // the rows that predict a response token: row r·T + L_p − 1 + j predicts response token j
  std::vector<float> sb, sa;
  std::vector<token_t> ys;
  std::vector<std::uint8_t> ok;
  const float inv_tau = static_cast<float>(1.0 / c.temperature);
  for (index_t r = 0; r < P * G; ++r) {
    const auto& pr = prompts[static_cast<std::size_t>(r / G)];
    const auto& re = g.responses[static_cast<std::size_t>(r)];
    const bool correct = task.score(pr, re) > 0.0f;
    for (std::size_t j = 0; j < re.size(); ++j) {
      const index_t row = r * T + static_cast<index_t>(pr.size() + j) - 1;
      for (index_t v = 0; v < V; ++v) {
        sb.push_back(lb[static_cast<std::size_t>(row * V + v)] * inv_tau);
        sa.push_back(la[static_cast<std::size_t>(row * V + v)] * inv_tau);
      }
      ys.push_back(re[j]);
      ok.push_back(correct ? 1 : 0);
    }
  }
  const auto N = static_cast<index_t>(ys.size());
  const rlvr::mass_flow_report f = rlvr::mass_flow_from_logits(
      rlvr::matrix_view<const float>(sb.data(), N, V), rlvr::matrix_view<const float>(sa.data(), N, V),
      rlvr::vector_view<const token_t>(ys.data(), N), rlvr::vector_view<const std::uint8_t>(ok.data(), N));
  return {f.nsr.mean_mass_moved, f.nsr.spearman, f.nsr.proportionality_tv,
          f.psr.mean_mass_moved, f.psr.spearman, f.psr.proportionality_tv};
}

// One RL run from `base`. Every `checkpoint_every` steps, and when it ends, the trainer's state
// (weights, optimizer, reference, step) and the run's curve rows are saved atomically, with the
// run's recipe and a SHA-256 of the tensors, to <cache>/runs/rl_<hash>.safetensors; a rerun
// resumes from the last checkpoint (the trainer's resume is bit-exact, so the results are the
// same as an uninterrupted run's, byte for byte). The ranks of `group` run it data-parallel
// (the trainer's canonical shards: the same trajectory on any number of them); group rank 0
// writes the checkpoints.
template <rlvr::dist::HostCommunicator C = rlvr::dist::single_process>
rlvr::transformer_policy train_rl(const rlvr::transformer_policy& base, const any_task& task,
                                  const heldout_set& heldout, const method_spec& m, const config& c, std::uint64_t seed,
                                  std::vector<curve_row>& curves, progress& prog, rl_counters& counters,
                                  C group = C{}) {
  rlvr::transformer_policy model = base;
  rlvr::adamw opt({.lr = c.rl_lr, .weight_decay = c.weight_decay});
  const rlvr::trainer_config tc{.group_size = c.group_size,
                                .temperature = c.temperature,
                                .max_response_tokens = task.max_response_length(),
                                .eos = task.vocab().eos(),
                                .pad = task.vocab().pad(),
                                .mini_batches = m.mini_batches,
                                .epochs = c.epochs,
                                .max_grad_norm = c.grad_clip,
                                .seed = stream_seed(seed, p_rl),
                                .shards = c.shards,
                                .lm_head = c.lm_head == "fused" ? rlvr::lm_head_mode::fused
                                                                : rlvr::lm_head_mode::materialised};
  const index_t steps = m.steps > 0 ? m.steps : c.rl_steps;
  const std::string recipe = run_recipe(c, m, seed, steps);
  const auto dir = cache_dir_of(c) / "runs";
  const auto path = dir / ("rl_" + fnv_hex(recipe) + ".safetensors");
  with_objective(m, c, task.max_response_length(), [&](auto obj) {
    rlvr::trainer tr(model, opt, rlvr::tasks::verifier{task}, obj, rlvr::eigen_backend{.threads = c.threads}, tc, group);
    std::vector<double> rows; // this run's curve rows so far, row_fields each (metrics, then mass flow)
    constexpr index_t row_fields = metric_fields + mass_fields;
    auto record = [&](const rlvr::step_metrics& sm) {
      curves.push_back({m.name, seed, sm, no_mass_flow()});
      const auto row = metrics_row(sm);
      rows.insert(rows.end(), row.begin(), row.end());
      const auto flow = no_mass_flow();
      rows.insert(rows.end(), flow.begin(), flow.end());
      prog.rl_step(sm);
    };
    index_t start = 0;
    if (const auto d = load_verified(path, recipe, c, "RL checkpoint", "running the RL run from its start")) {
      tr.load_state(*d);
      start = static_cast<index_t>(d->meta_int("study.rl_step"));
      const std::vector<double> saved = d->get<double>("study.curves");
      RLVR_EXPECTS(start >= 0 && start <= steps && static_cast<index_t>(saved.size()) == start * row_fields, io,
                   "rlvr-study: RL checkpoint ", path.string(), " holds ", saved.size(), " curve values for step ",
                   start);
      for (index_t k = 0; k < start; ++k) {
        record(metrics_from_row(saved.data() + k * row_fields));
        std::copy_n(saved.data() + k * row_fields + metric_fields, mass_fields, curves.back().flow.begin());
        std::copy_n(saved.data() + k * row_fields + metric_fields, mass_fields, rows.end() - mass_fields);
      }
      counters.resumed += start;
      if (start < steps)
        c.log("resuming RL run " + m.name + " (seed " + std::to_string(seed) + ") at step " + std::to_string(start) +
              " of " + std::to_string(steps) + " from " + path.string());
    }
    tr.on_step(record);
    for (index_t s = start; s < steps; ++s) {
      const auto prompts = training_prompts(task, heldout, c, seed, s);
      const bool measure = c.mass_flow_every > 0 && (s % c.mass_flow_every == 0 || s + 1 == steps);
      std::optional<rlvr::transformer_policy> before;
      if (measure) before.emplace(model);
      tr.step(prompts);
      if (measure) {
        const mass_flow_values flow = measure_mass_flow(*before, model, task, prompts, c, seed, s);
        curves.back().flow = flow;
        std::copy(flow.begin(), flow.end(), rows.end() - mass_fields);
      }
      ++counters.run;
      if (group.rank() == 0 && (s + 1 == steps || (c.checkpoint_every > 0 && (s + 1) % c.checkpoint_every == 0))) {
        rlvr::state_dict d;
        tr.save_state(d);
        d.put<double>("study.curves", std::span<const double>(rows), {s + 1, row_fields});
        d.set_meta_int("study.rl_step", s + 1);
        make_dirs(dir, "checkpoint");
        save_verified(path, std::move(d), recipe);
      }
      if (c.stop_after_rl_steps > 0 && counters.run == c.stop_after_rl_steps)
        throw interrupted("stopped after " + std::to_string(counters.run) + " RL steps (stop_after_rl_steps)");
    }
  });
  return model;
}

inline std::vector<method_spec> main_methods(const config& c) {
  std::vector<method_spec> v;
  for (const auto& name : c.methods) v.push_back({name, name, c.lambda, true, c.mini_batches, 0});
  return v;
}
inline std::string fmt_double(double x) {
  std::ostringstream s;
  s << x;
  return s.str();
}
inline std::vector<method_spec> extra_methods(const config& c) {
  std::vector<method_spec> v;
  for (double l : c.lambda_sweep) v.push_back({"w_reinforce_l" + fmt_double(l), "w_reinforce", l, true, c.mini_batches, 0});
  if (c.nsr_ablation) {
    v.push_back({"nsr_noclip", "nsr", c.lambda, false, c.mini_batches, 0});
    v.push_back({"nsr_1mb", "nsr", c.lambda, true, 1, 0});
    v.push_back({"nsr_noclip_1mb", "nsr", c.lambda, false, 1, 0});
  }
  if (c.long_steps > 0) {
    v.push_back({"nsr_long", "nsr", c.lambda, true, c.mini_batches, c.long_steps});
    v.push_back({"w_reinforce_long", "w_reinforce", c.lambda, true, c.mini_batches, c.long_steps});
  }
  return v;
}

// ---- the whole study --------------------------------------------------------------------------
//! Checks every setting (`config::validate`, the task's and the model's) and that the output and
//! cache directories can be created and written, before any work: a bad flag or an unwritable
//! `--out` fails in well under a second, naming the flag or the path.
inline void preflight(const config& c) {
  c.validate();
  const auto task = make_task(c); // the task and its options (unknown ones are named)
  model_config(c, task, c.seeds.front()).validate();
  (void)wrong_fraction_of(c);
  make_dirs(c.out, "output");
  make_dirs(cache_dir_of(c), "cache");
  for (const auto& dir : {c.out, cache_dir_of(c)}) {
    const auto probe = dir / ".rlvr-study-write-test";
    rlvr::io::write_file_atomic(probe, std::string_view("ok\n"));
    std::error_code ec;
    std::filesystem::remove(probe, ec);
  }
}

// The results this process computed, as bytes (for the merge on rank 0).
inline std::string serialise(const results& r) {
  blob_writer w;
  w.put(static_cast<std::uint64_t>(r.evals.size()));
  for (const auto& [key, e] : r.evals) {
    w.put_string(key.method);
    w.put(key.seed);
    w.put(static_cast<std::uint64_t>(e.counts.size()));
    for (const auto& pc : e.counts) w.put(pc);
    w.put(e.entropy);
    w.put(e.greedy_accuracy);
    w.put(e.mean_length);
  }
  w.put(static_cast<std::uint64_t>(r.curves.size()));
  for (const auto& row : r.curves) {
    w.put_string(row.method);
    w.put(row.seed);
    w.put(metrics_row(row.m));
    w.put(row.flow);
  }
  w.put(r.rl.run);
  w.put(r.rl.resumed);
  return std::move(w.s);
}
inline void merge_into(results& r, std::string_view bytes) {
  blob_reader in{bytes};
  for (auto k = in.get<std::uint64_t>(); k > 0; --k) {
    run_key key;
    key.method = in.get_string();
    key.seed = in.get<std::uint64_t>();
    eval_result e;
    e.counts.resize(static_cast<std::size_t>(in.get<std::uint64_t>()));
    for (auto& pc : e.counts) pc = in.get<rlvr::problem_counts>();
    e.entropy = in.get<double>();
    e.greedy_accuracy = in.get<double>();
    e.mean_length = in.get<double>();
    r.evals[key] = std::move(e);
  }
  for (auto k = in.get<std::uint64_t>(); k > 0; --k) {
    curve_row row;
    row.method = in.get_string();
    row.seed = in.get<std::uint64_t>();
    const auto x = in.get<std::array<double, metric_fields>>();
    row.m = metrics_from_row(x.data());
    row.flow = in.get<mass_flow_values>();
    r.curves.push_back(std::move(row));
  }
  r.rl.run += in.get<index_t>();
  r.rl.resumed += in.get<index_t>();
}

//! Runs the study. On several processes (`rlvr-study` under `mpirun`), `world` holds them all and
//! `group` this process's run group (`config::ranks_per_run` consecutive ranks): the groups share
//! out the seeds (or, with fewer seeds than groups, the single runs), a group's ranks run each of
//! its runs together (data-parallel training, shared evaluation chunks), and world rank 0 receives
//! everything and returns the whole results — the same, byte for byte, as one process's — while
//! the other ranks return theirs only.
template <rlvr::dist::HostCommunicator C = rlvr::dist::single_process>
results run(const config& c, C world = C{}, C group = C{}) {
  preflight(c);
  const auto task = make_task(c);
  const auto problems = heldout_problems(task, c);
  const heldout_set heldout = c.eval_regime == "harder" ? heldout_set{} : heldout_set(problems.begin(), problems.end());
  const auto mains = main_methods(c), extras = extra_methods(c);
  const int groups = world.size() / group.size(), my_group = world.rank() / group.size();
  RLVR_EXPECTS(groups * group.size() == world.size(), config, "rlvr-study: --ranks-per-run = ", group.size(),
               " does not divide the ", world.size(), " ranks");
  // the units of work in the single-process order: per seed, its base model, then each RL run
  struct unit {
    std::size_t seed_index;
    const method_spec* method; // null: the base model's evaluation
  };
  std::vector<unit> units;
  for (std::size_t si = 0; si < c.seeds.size(); ++si) {
    units.push_back({si, nullptr});
    for (const auto* list : {&mains, &extras})
      for (const auto& m : *list) units.push_back({si, &m});
  }
  // Whole seeds to groups as far as they go round evenly (each such base model is pretrained
  // once); the remaining seeds' runs one by one, round-robin (each group pretrains, or loads from
  // the cache, the bases it needs). 3 seeds on 2 groups: seeds 0 and 1 whole, seed 2's six units
  // three each.
  const std::size_t whole = c.seeds.size() / static_cast<std::size_t>(groups) * static_cast<std::size_t>(groups);
  std::vector<int> owner(units.size());
  std::size_t spread = 0;
  for (std::size_t u = 0; u < units.size(); ++u)
    owner[u] = static_cast<int>((units[u].seed_index < whole ? units[u].seed_index : spread++) %
                                static_cast<std::size_t>(groups));
  const double ns = static_cast<double>(c.seeds.size());
  // Progress units ≈ seconds on one core at the default sizes: an RL step ≈ 1, a pretraining
  // step ≈ 0.17, one held-out problem's n = 256 samples ≈ 0.4.
  constexpr double w_pre = 0.17, w_rl = 1.0;
  const double w_eval = 0.4 * static_cast<double>(c.samples) / 256.0;
  double rl_units = 0;
  for (const auto& m : mains) rl_units += static_cast<double>(m.steps > 0 ? m.steps : c.rl_steps);
  for (const auto& m : extras) rl_units += static_cast<double>(m.steps > 0 ? m.steps : c.rl_steps);
  const double np = static_cast<double>(problems.size());
  const double models = 1.0 + static_cast<double>(mains.size() + extras.size());
  // the progress of world rank 0 (its own share of the work, scaled to the whole)
  progress prog(ns * (w_pre * static_cast<double>(c.pretrain_steps) + w_rl * rl_units + w_eval * models * np) /
                    static_cast<double>(groups),
                c.progress && world.rank() == 0, c.tty);
  prog.set_weights(w_pre, w_rl, w_eval);
  results r;
  r.methods.push_back("base");
  for (const auto& m : mains) r.methods.push_back(m.name);
  for (const auto& m : extras) r.extras.push_back(m.name);
  std::map<std::size_t, rlvr::transformer_policy> bases; // this group's base models, by seed index
  auto base_of = [&](std::size_t si) -> const rlvr::transformer_policy& {
    auto it = bases.find(si);
    if (it == bases.end()) {
      prog.set_stage("seed " + std::to_string(c.seeds[si]) + ": pretraining the base model");
      if (group.size() > 1) { // group rank 0 pretrains and caches it; the others then load it
        if (group.rank() == 0) it = bases.emplace(si, base_model(task, c, c.seeds[si], prog)).first;
        group.barrier();
        if (group.rank() != 0) it = bases.emplace(si, base_model(task, c, c.seeds[si], prog)).first;
      } else {
        it = bases.emplace(si, base_model(task, c, c.seeds[si], prog)).first;
      }
    }
    return it->second;
  };
  for (std::size_t u = 0; u < units.size(); ++u) {
    if (owner[u] != my_group) continue;
    const std::uint64_t seed = c.seeds[units[u].seed_index];
    const rlvr::transformer_policy& base = base_of(units[u].seed_index);
    if (!units[u].method) {
      prog.set_stage("seed " + std::to_string(seed) + ": evaluating base");
      r.evals[{"base", seed}] = evaluate(base, task, problems, c, seed, &prog, group);
      continue;
    }
    const method_spec& m = *units[u].method;
    prog.set_stage("seed " + std::to_string(seed) + ": RL " + m.name);
    const auto model = train_rl(base, task, heldout, m, c, seed, r.curves, prog, r.rl, group);
    prog.set_stage("seed " + std::to_string(seed) + ": evaluating " + m.name);
    r.evals[{m.name, seed}] = evaluate(model, task, problems, c, seed, &prog, group);
    bases.erase(bases.begin(), bases.lower_bound(units[u].seed_index)); // done with earlier seeds
  }
  prog.finish();
  r.seconds = prog.elapsed();
  if (world.size() == 1) return r;
  // Merge on every rank (a group's rank 0 speaks for it), then restore the single-process order
  // of the curves: seed by seed, run by run.
  const std::vector<std::string> parts = rlvr::dist::all_gather_strings(world, group.rank() == 0 ? serialise(r) : std::string());
  results all;
  all.methods = r.methods;
  all.extras = r.extras;
  for (const std::string& p : parts)
    if (!p.empty()) merge_into(all, p); // a group's other ranks send nothing
  std::map<std::pair<std::uint64_t, std::string>, std::size_t> rank_of_run;
  for (std::size_t u = 0; u < units.size(); ++u)
    if (units[u].method) rank_of_run[{c.seeds[units[u].seed_index], units[u].method->name}] = u;
  std::stable_sort(all.curves.begin(), all.curves.end(), [&](const curve_row& a, const curve_row& b) {
    return rank_of_run.at({a.seed, a.method}) < rank_of_run.at({b.seed, b.method});
  });
  all.seconds = r.seconds;
  return all;
}

} // namespace study
