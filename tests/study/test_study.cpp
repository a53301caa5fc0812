// rlvr-study end to end at tiny scale: the pipeline runs, results.json has the documented
// schema, the outputs are written, and the same seed gives the same results.json.
#include <catch2/catch.hpp>

#include <algorithm>
#include <array>
#include <set>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <functional>
#include <limits>
#include <string>
#include <vector>
#include <fstream>
#include <sstream>

#include <memory>

#include <rlvr/dist/threads.hpp>

#include "builtin_tasks.hpp"
#include "register_two_strategies.hpp"
#include "regime_map.hpp"
#include "report.hpp"
#include "study.hpp"

// A task of the test's own, registered as a user's plugin task is (nothing in the study names
// it): the last of m numbers in Z_q, with prompts of different lengths (training m 1–2,
// held-out m 3–4), "size" = q a --task-option.
namespace test_tasks {
class last_number {
public:
  explicit last_number(int q) : q_(q), vocab_(words(q)) {
    RLVR_EXPECTS(q >= 2 && q <= 50, config, "last_number: size = ", q, " must be in [2, 50]");
  }
  const rlvr::tasks::vocabulary& vocab() const noexcept { return vocab_; }
  std::string_view name() const noexcept { return "last_number"; }
  rlvr::index_t max_prompt_length() const noexcept { return 6; }
  rlvr::index_t max_response_length() const noexcept { return 2; }
  template <rlvr::tasks::BitEngine G> std::vector<rlvr::token_t> problem(G& g, rlvr::tasks::split s) const {
    const bool train = s == rlvr::tasks::split::train;
    const auto m = static_cast<int>(rlvr::tasks::uniform_below(g, 2)) + (train ? 1 : 3);
    std::vector<rlvr::token_t> p{vocab_.bos()};
    for (int i = 0; i < m; ++i) p.push_back(static_cast<rlvr::token_t>(rlvr::tasks::uniform_below(g, static_cast<std::uint64_t>(q_))));
    p.push_back(vocab_.sep());
    return p;
  }
  template <rlvr::tasks::BitEngine G> rlvr::tasks::example pretraining_example(G& g, bool correct) const {
    auto p = problem(g, rlvr::tasks::split::train);
    const auto last = p[p.size() - 2];
    const auto answer = correct ? last : static_cast<rlvr::token_t>((last + 1) % q_);
    return {std::move(p), {answer, vocab_.eos()}};
  }
  float score(std::span<const rlvr::token_t> prompt, std::span<const rlvr::token_t> response) const noexcept {
    if (prompt.size() < 3 || response.size() < 2 || response[1] != vocab_.eos()) return 0.0f;
    return response[0] == prompt[prompt.size() - 2] ? 1.0f : 0.0f;
  }

private:
  static std::vector<std::string> words(int q) {
    std::vector<std::string> w;
    for (int i = 0; i < q; ++i) w.push_back(std::to_string(i));
    return w;
  }
  int q_;
  rlvr::tasks::vocabulary vocab_;
};
static_assert(rlvr::tasks::Task<last_number>);
} // namespace test_tasks

RLVR_STUDY_TASK(last_number, {.name = "last_number",
                              .summary = "the last of m numbers (a test task)",
                              .wrong_fraction = 0.3,
                              .map_wrong_fractions = {0.3},
                              .make = [](study::task_options& o) {
                                return study::any_task(test_tasks::last_number(o.get_int("size", 7)));
                              }});

namespace {
study::config tiny(const std::filesystem::path& out) {
  study::config c;
  c.preset = "test";
  c.seeds = {0, 1};
  c.d_model = 16;
  c.n_heads = 2;
  c.n_layers = 1;
  c.pretrain_steps = 40;
  c.pretrain_batch = 16;
  c.rl_steps = 2;
  c.prompts_per_step = 4;
  c.eval_problems = 6;
  c.samples = 16;
  c.bootstrap_resamples = 100;
  c.threads = 2;
  c.progress = false;
  c.out = out;
  return c;
}
std::string slurp(const std::filesystem::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}
} // namespace

TEST_CASE("the study pipeline runs end to end and writes the documented outputs", "[study]") {
  const auto dir = std::filesystem::temp_directory_path() / "rlvr_study_smoke_a";
  std::filesystem::remove_all(dir);
  auto c = tiny(dir);
  c.lambda_sweep = {0.5};
  const study::results r = study::run(c);
  const std::string table = study::write_outputs(r, c);
  CHECK(table.find("w_reinforce") != std::string::npos);
  for (const char* f : {"results.json", "curves.csv", "table.txt", "pass_at_k.svg", "training_entropy.svg",
                        "training_reward.svg", "training_solved.svg"})
    CHECK(std::filesystem::exists(dir / f));
  // cached base models: one per seed
  int cached = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir / "cache")) cached += e.path().extension() == ".safetensors";
  CHECK(cached == 2);

  const auto j = nlohmann::json::parse(slurp(dir / "results.json"));
  for (const char* m : {"base", "psr", "nsr", "w_reinforce", "ppo", "grpo"}) {
    INFO(m);
    REQUIRE(j.contains(m));
    const auto& e = j[m];
    REQUIRE(e["pass_at_k"].size() == 5); // k = 1, 2, 4, 8, 16
    double prev = -1;
    for (const char* k : {"1", "2", "4", "8", "16"}) {
      const auto& p = e["pass_at_k"][k];
      const double mean = p["mean"], lo = p["ci_low"], hi = p["ci_high"];
      CHECK(lo <= mean + 1e-12);
      CHECK(mean <= hi + 1e-12);
      CHECK(mean >= prev - 1e-12); // Pass@k is non-decreasing in k
      CHECK((mean >= 0.0 && mean <= 1.0));
      prev = mean;
    }
    CHECK(e["entropy"].is_number());
    CHECK(e["greedy_accuracy"].is_number());
    REQUIRE(e["per_seed"].size() == 2);
    CHECK(e["per_seed"]["0"]["pass_at_k"]["16"].is_number());
    CHECK(e["per_seed"]["1"]["entropy"].is_number());
  }
  // stability per seed: every method (not the base) says which seeds collapsed
  CHECK_FALSE(j["base"].contains("stability"));
  for (const char* m : {"psr", "nsr", "w_reinforce", "ppo", "grpo"}) {
    INFO(m);
    const auto& st = j[m]["stability"];
    CHECK(st["k_max"] == 16);
    REQUIRE(st["per_seed"].size() == 2);
    CHECK(st["per_seed"]["1"]["collapsed"].is_boolean());
    CHECK(st["per_seed"]["0"]["base_entropy"] == j["base"]["per_seed"]["0"]["entropy"]);
    CHECK(st["collapsed_seeds"].is_array());
  }
  CHECK(j["extras"]["w_reinforce_l0.5"].contains("stability"));
  CHECK(table.find("collapse rate: psr ") != std::string::npos);
  CHECK(j["extras"].contains("w_reinforce_l0.5"));
  CHECK(j["config"]["evaluation"]["samples"] == 16);
  CHECK(j["config"]["rlvr"]["version"] == std::to_string(RLVR_VERSION_MAJOR) + "." + std::to_string(RLVR_VERSION_MINOR) +
                                            "." + std::to_string(RLVR_VERSION_PATCH));
  CHECK(j["config"]["rlvr"]["commit"].is_string());
  // curves: header + methods × seeds × steps rows (5 methods + 1 extra, 2 seeds, 2 steps)
  const std::string csv = slurp(dir / "curves.csv");
  CHECK(std::count(csv.begin(), csv.end(), '\n') == 1 + 6 * 2 * 2);
  CHECK(csv.rfind("method,seed,step,reward", 0) == 0);
  // per-run evaluation counts add up
  for (const auto& [key, ev] : r.evals) {
    REQUIRE(ev.counts.size() == 6);
    for (const auto& pc : ev.counts) REQUIRE(pc.n == 16);
  }
}

TEST_CASE("the same seeds give the same results.json, with and without the cache", "[study]") {
  const auto da = std::filesystem::temp_directory_path() / "rlvr_study_smoke_b";
  const auto db = std::filesystem::temp_directory_path() / "rlvr_study_smoke_c";
  std::filesystem::remove_all(da);
  std::filesystem::remove_all(db);
  auto ca = tiny(da), cb = tiny(db);
  cb.threads = 1; // thread count must not matter
  cb.methods = ca.methods;
  study::write_outputs(study::run(ca), ca);
  study::write_outputs(study::run(cb), cb);
  const std::string a = slurp(da / "results.json"), b = slurp(db / "results.json");
  REQUIRE(!a.empty());
  CHECK(a == b);
  CHECK(slurp(da / "curves.csv") == slurp(db / "curves.csv"));
  // rerun into the same directory: base models come from the cache, results unchanged
  study::write_outputs(study::run(ca), ca);
  CHECK(slurp(da / "results.json") == a);
  // another seed set gives different numbers
  auto cc = tiny(std::filesystem::temp_directory_path() / "rlvr_study_smoke_d");
  std::filesystem::remove_all(cc.out);
  cc.seeds = {5, 6};
  study::write_outputs(study::run(cc), cc);
  CHECK(slurp(cc.out / "results.json") != a);
}

TEST_CASE("bad study settings are named before any work starts", "[study]") {
  auto c = tiny(std::filesystem::temp_directory_path() / "rlvr_study_smoke_e");
  c.samples = 0;
  CHECK_THROWS_WITH(study::run(c), Catch::Contains("--samples = 0"));
  c = tiny(c.out);
  c.methods = {"psr", "dpo"};
  CHECK_THROWS_WITH(study::run(c), Catch::Contains("unknown method 'dpo'"));
  c = tiny(c.out);
  c.seeds = {1, 1};
  CHECK_THROWS_AS(study::run(c), rlvr::config_error);
  c = tiny(c.out);
  c.task_options = {"eval_min_distance=3"}; // overlaps the training band
  CHECK_THROWS_WITH(study::run(c), Catch::Contains("eval_min_distance = 3"));
  // every numeric flag, by name, before any pretraining (the run would take seconds otherwise)
  const double inf = std::numeric_limits<double>::infinity(), nan = std::numeric_limits<double>::quiet_NaN();
  struct bad {
    std::function<void(study::config&)> set;
    const char* needle;
  };
  const std::vector<bad> cases = {
      {[](study::config& x) { x.long_steps = -1; }, "--long-steps = -1"},
      {[](study::config& x) { x.group_size = 0; }, "--group-size = 0"},
      {[&](study::config& x) { x.eval_temperature = inf; }, "--temperature = inf"},
      {[&](study::config& x) { x.rl_lr = nan; }, "--rl-lr = nan"},
      {[](study::config& x) { x.rl_lr = -1e-3; }, "--rl-lr = -0.001"},
      {[](study::config& x) { x.rl_steps = -2; }, "--rl-steps = -2"},
      {[](study::config& x) { x.mini_batches = 0; }, "--mini-batches = 0"},
      {[&](study::config& x) { x.entropy_coef = nan; }, "--entropy-coef = nan"},
      {[&](study::config& x) { x.top_p = nan; }, "--top-p = nan"},
      {[&](study::config& x) { x.wrong_fraction = nan; }, "--wrong-fraction = nan"},
      {[&](study::config& x) { x.lambda_sweep = {0.5, -inf}; }, "--lambda-sweep = -inf"},
      {[](study::config& x) { x.d_model = 15; }, "--d-model = 15"},
      {[](study::config& x) { x.threads = -1; }, "--threads = -1"},
      {[](study::config& x) { x.checkpoint_every = -5; }, "--checkpoint-every = -5"},
      {[](study::config& x) { x.pretrain_steps = 0; }, "--pretrain-steps = 0"},
  };
  for (const auto& b : cases) {
    c = tiny(std::filesystem::temp_directory_path() / "rlvr_study_smoke_e");
    std::filesystem::remove_all(c.out);
    b.set(c);
    INFO(b.needle);
    const auto t0 = std::chrono::steady_clock::now();
    CHECK_THROWS_MATCHES(study::run(c), rlvr::config_error,
                         Catch::Matchers::Predicate<rlvr::config_error>([&](const rlvr::config_error& e) {
                           return std::string(e.what()).find(b.needle) != std::string::npos;
                         }));
    CHECK(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() < 2.0);
    CHECK_FALSE(std::filesystem::exists(c.out)); // nothing was written either
  }
}

TEST_CASE("an output directory that cannot be written fails the run before any work, naming it", "[study][io]") {
  // As root a chmod'ed directory is still writable; a path under a regular file is not.
  const auto file = std::filesystem::temp_directory_path() / "rlvr_study_regular_file";
  std::ofstream(file) << "not a directory";
  auto c = tiny(file / "results");
  const auto t0 = std::chrono::steady_clock::now();
  CHECK_THROWS_MATCHES(study::run(c), rlvr::io_error,
                       Catch::Matchers::Predicate<rlvr::io_error>([&](const rlvr::io_error& e) {
                         return std::string(e.what()).find((file / "results").string()) != std::string::npos;
                       }));
  CHECK(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() < 2.0);
  // a cache directory that cannot be written: the same, before any pretraining
  c = tiny(std::filesystem::temp_directory_path() / "rlvr_study_smoke_g");
  c.cache_dir = file / "cache";
  CHECK_THROWS_WITH(study::run(c), Catch::Contains((file / "cache").string()));
  // write_outputs itself: every file goes through the checked atomic writer
  study::results r;
  r.methods = {};
  auto w = tiny(file / "out");
  CHECK_THROWS_AS(study::write_outputs(r, w), rlvr::io_error);
  std::filesystem::remove(file);
}

TEST_CASE("a corrupted cached base model is detected by its SHA-256 and retrained", "[study][io]") {
  const auto dir = std::filesystem::temp_directory_path() / "rlvr_study_hash";
  std::filesystem::remove_all(dir);
  auto c = tiny(dir);
  c.seeds = {0};
  c.methods = {"nsr"};
  std::vector<std::string> notes;
  c.log = [&](const std::string& m) { notes.push_back(m); };
  study::write_outputs(study::run(c), c);
  const std::string first = slurp(dir / "results.json");
  std::filesystem::path cached;
  for (const auto& e : std::filesystem::directory_iterator(dir / "cache"))
    if (e.path().filename().string().starts_with("base_")) cached = e.path();
  REQUIRE(!cached.empty());
  const rlvr::state_dict d = rlvr::io::load_safetensors(cached);
  CHECK(d.meta("rlvr.study.sha256").size() == 64);
  CHECK(d.meta("rlvr.study.recipe").find("seed0") != std::string::npos);
  CHECK(d.meta("rlvr.study.sha256") == study::tensors_sha256(d));
  CHECK(notes.empty());
  // flip one bit of the last weight: the file still parses, only the hash can tell
  {
    std::fstream f(cached, std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(-1, std::ios::end);
    char b = 0;
    f.get(b);
    f.seekp(-1, std::ios::end);
    f.put(static_cast<char>(b ^ 0x10));
  }
  CHECK(study::tensors_sha256(rlvr::io::load_safetensors(cached)) != d.meta("rlvr.study.sha256"));
  std::filesystem::remove_all(dir / "cache" / "runs"); // RL reruns from the (retrained) base
  study::write_outputs(study::run(c), c);
  REQUIRE(notes.size() == 1);
  CHECK_THAT(notes[0], Catch::Contains("cached base model " + cached.string()) &&
                           Catch::Contains("failed its integrity check") && Catch::Contains("retraining it"));
  CHECK(slurp(dir / "results.json") == first);
  CHECK(rlvr::io::load_safetensors(cached) == d); // rewritten, identical to the original
}

TEST_CASE("a study stopped mid-way resumes from its checkpoints to byte-identical results", "[study][io]") {
  const auto da = std::filesystem::temp_directory_path() / "rlvr_study_resume_a";
  const auto db = std::filesystem::temp_directory_path() / "rlvr_study_resume_b";
  std::filesystem::remove_all(da);
  std::filesystem::remove_all(db);
  auto ca = tiny(da);
  ca.seeds = {0};
  ca.methods = {"nsr", "ppo", "grpo"}; // ppo: value head + GAE; grpo: reference model + KL
  ca.rl_steps = 4;
  ca.checkpoint_every = 2;
  auto cb = ca;
  cb.out = db;
  std::vector<std::string> notes;
  cb.log = [&](const std::string& m) { notes.push_back(m); };
  const study::results ra = study::run(ca);
  study::write_outputs(ra, ca);
  CHECK(ra.rl.run == 12);
  CHECK(ra.rl.resumed == 0);
  // "killed" after 7 RL steps: nsr done (checkpoints at 2 and 4), ppo past step 3 (checkpoint at 2)
  cb.stop_after_rl_steps = 7;
  CHECK_THROWS_AS(study::run(cb), study::interrupted);
  CHECK_FALSE(std::filesystem::exists(db / "results.json"));
  cb.stop_after_rl_steps = 0;
  const study::results rb = study::run(cb);
  study::write_outputs(rb, cb);
  CHECK(rb.rl.resumed == 4 + 2); // nsr from its final checkpoint, ppo from step 2
  CHECK(rb.rl.run == 2 + 4);     // ppo's steps 3–4 (3 again: it was not checkpointed), grpo's 4
  REQUIRE(notes.size() == 1);
  CHECK_THAT(notes[0], Catch::Contains("resuming RL run ppo (seed 0) at step 2 of 4"));
  CHECK(slurp(db / "results.json") == slurp(da / "results.json"));
  CHECK(slurp(db / "curves.csv") == slurp(da / "curves.csv"));
  // a rerun of a finished study restores every run from its final checkpoint
  const study::results rc = study::run(cb);
  CHECK(rc.rl.run == 0);
  CHECK(rc.rl.resumed == 12);
  study::write_outputs(rc, cb);
  CHECK(slurp(db / "results.json") == slurp(da / "results.json"));
}

TEST_CASE("the study runs on the second task (graph_path) too", "[study]") {
  auto c = tiny(std::filesystem::temp_directory_path() / "rlvr_study_smoke_f");
  std::filesystem::remove_all(c.out);
  c.task = "graph_path";
  c.seeds = {0};
  c.methods = {"nsr", "grpo"};
  study::write_outputs(study::run(c), c);
  const auto j = nlohmann::json::parse(slurp(c.out / "results.json"));
  CHECK(j["config"]["task"]["name"] == "graph_path");
  CHECK(j["config"]["task"]["nodes"] == 24);
  CHECK(j.contains("nsr"));
  CHECK_FALSE(j.contains("psr"));
  c.task = "sudoku";
  CHECK_THROWS_WITH(study::run(c), Catch::Contains("unknown task 'sudoku'"));
}

TEST_CASE("the objective zoo's methods join the comparison with one flag", "[study]") {
  auto c = tiny(std::filesystem::temp_directory_path() / "rlvr_study_smoke_zoo");
  std::filesystem::remove_all(c.out);
  c.seeds = {0};
  c.methods = {"gspo", "gmpo", "cispo", "sapo", "dapo", "clip_cov", "kl_cov", "high_entropy", "reinforce_pp_baseline", "opo",
               "grpo_kl_full"};
  study::write_outputs(study::run(c), c);
  const auto j = nlohmann::json::parse(slurp(c.out / "results.json"));
  for (const auto& m : c.methods) {
    INFO(m);
    REQUIRE(j.contains(m));
    CHECK(j[m].contains("pass_at_k"));
  }
}

TEST_CASE("a collapsed seed is flagged in the table and results.json, never hidden by the mean", "[study]") {
  study::config c;
  c.seeds = {0, 1, 2};
  c.samples = 16;
  c.eval_problems = 8;
  const auto ks = study::ks_for(c.samples);
  // synthetic per-seed numbers: k → Pass@k, linear from Pass@1 to Pass@16
  auto make = [&](const std::string& name, std::vector<std::array<double, 3>> seeds) {
    study::method_summary s;
    s.name = name;
    for (std::size_t i = 0; i < seeds.size(); ++i) {
      const auto [p1, p16, h] = seeds[i];
      for (study::index_t k : ks) s.per_seed[i][k] = p1 + (p16 - p1) * std::log2(static_cast<double>(k)) / 4.0;
      s.entropy_seed[i] = h;
      s.greedy_seed[i] = p1;
      s.length_seed[i] = 5;
    }
    for (study::index_t k : ks) {
      double m = 0;
      for (const auto& [seed, pk] : s.per_seed) m += pk.at(k) / 3.0;
      s.pass[k] = {m, m - 0.01, m + 0.01};
      s.delta[k] = {0, -0.01, 0.01};
    }
    double h = 0;
    for (const auto& [seed, e] : s.entropy_seed) h += e / 3.0;
    s.entropy = {h, h, h};
    return s;
  };
  const auto base = make("base", {{0.25, 0.50, 0.50}, {0.20, 0.60, 0.60}, {0.30, 0.55, 0.40}});
  // seed 0: 9 points below (kept); seed 1: 15 points below (Pass@16 collapse); seed 2: entropy
  // 0.07 < 0.40 / 5 with Pass@16 above the base (entropy collapse)
  auto psr = make("psr", {{0.35, 0.41, 0.30}, {0.40, 0.45, 0.20}, {0.45, 0.60, 0.07}});
  // entropy exactly at a fifth is not a collapse; Pass@16 10 points below is not either
  auto nsr = make("nsr", {{0.25, 0.50, 0.10}, {0.20, 0.55, 0.12}, {0.30, 0.45, 0.40}});
  psr.stab = study::assess_stability(psr, base, 16);
  nsr.stab = study::assess_stability(nsr, base, 16);
  REQUIRE(psr.stab.seeds.size() == 3);
  CHECK_FALSE(psr.stab.seeds[0].collapsed());
  CHECK(psr.stab.seeds[1].pass_collapse);
  CHECK_FALSE(psr.stab.seeds[1].entropy_collapse);
  CHECK(psr.stab.seeds[2].entropy_collapse);
  CHECK_FALSE(psr.stab.seeds[2].pass_collapse);
  CHECK(psr.stab.collapsed_seeds() == std::vector<std::uint64_t>{1, 2});
  CHECK(psr.stab.collapse_rate() == Approx(2.0 / 3.0));
  CHECK(nsr.stab.collapsed_seeds().empty());
  CHECK(nsr.stab.collapse_rate() == 0.0);
  // the mean Pass@16 of psr (48.7) is within 10 points of the base's (55.0): only the seeds show it
  CHECK(psr.pass.at(16).mean > base.pass.at(16).mean - 0.10);

  const std::string t = study::table({base, psr, nsr}, c);
  INFO(t);
  std::istringstream lines(t);
  std::string line;
  int flagged = 0;
  while (std::getline(lines, line)) {
    if (line.rfind("psr ", 0) == 0 && line.find("greedy") == std::string::npos && line.find('!') != std::string::npos)
      ++flagged;
    if (line.rfind("nsr ", 0) == 0) CHECK(line.find('!') == std::string::npos);
  }
  CHECK(flagged == 3); // the mean row and seeds 1 and 2
  CHECK(t.find("! 2/3 seeds collapsed") != std::string::npos);
  CHECK(t.find("pass@16 -15.0 points vs base") != std::string::npos);
  CHECK(t.find("entropy 0.070 < 0.400 / 5") != std::string::npos);
  CHECK(t.find("collapse rate: psr 2/3 (seed 1,2); nsr 0/3;") != std::string::npos);

  const auto j = study::to_json(psr);
  CHECK(j["stability"]["collapsed_seeds"] == nlohmann::ordered_json::array({1, 2}));
  CHECK(j["stability"]["collapse_rate"] == Approx(2.0 / 3.0));
  CHECK(j["stability"]["per_seed"]["0"]["collapsed"] == false);
  CHECK(j["stability"]["per_seed"]["1"]["pass_collapse"] == true);
  CHECK(j["stability"]["per_seed"]["2"]["entropy_collapse"] == true);
  CHECK(j["stability"]["per_seed"]["1"]["pass_at_k_max"] == Approx(0.45));
  CHECK(j["stability"]["per_seed"]["1"]["base_pass_at_k_max"] == Approx(0.60));
  CHECK_FALSE(study::to_json(base).contains("stability"));
}

// The study over R thread ranks (rlvr::dist::thread_communicator; `mpirun -np R rlvr-study` does
// the same over processes, tests/study/CMakeLists.txt): world rank 0's results.json equals one
// process's byte for byte — runs spread over ranks, and runs shared data-parallel by a group.
namespace {
std::string threaded_results(study::config c, int ranks, int per_run) {
  c.ranks_per_run = per_run;
  std::vector<std::unique_ptr<rlvr::dist::thread_group>> groups;
  for (int g = 0; g < (ranks + per_run - 1) / per_run; ++g) groups.push_back(std::make_unique<rlvr::dist::thread_group>(per_run));
  rlvr::dist::run_ranks(ranks, [&](rlvr::dist::thread_communicator world) {
    rlvr::dist::thread_communicator group(*groups[static_cast<std::size_t>(world.rank() / per_run)],
                                          world.rank() % per_run);
    study::config mine = c;
    mine.threads = 1;
    const study::results r = study::run(mine, world, group);
    if (world.rank() == 0) (void)study::write_outputs(r, mine);
  });
  return slurp(c.out / "results.json") + slurp(c.out / "curves.csv");
}
} // namespace

TEST_CASE("the study on several ranks writes the single-process results.json and curves.csv", "[study][distributed]") {
  const auto root = std::filesystem::temp_directory_path() / "rlvr_study_ranks";
  std::filesystem::remove_all(root);
  auto c = tiny(root / "one");
  c.methods = {"psr", "nsr", "grpo"};
  c.threads = 1;
  const study::results r1 = study::run(c);
  (void)study::write_outputs(r1, c);
  const std::string one = slurp(c.out / "results.json") + slurp(c.out / "curves.csv");
  REQUIRE(one.size() > 100);
  c.out = root / "r2";
  CHECK(threaded_results(c, 2, 1) == one); // a seed per rank
  c.out = root / "r3";
  CHECK(threaded_results(c, 3, 1) == one); // single runs round-robin (fewer seeds than ranks)
  // 3 seeds on 2 ranks: seeds 0 and 1 whole, seed 2's runs spread over both
  c.seeds = {0, 1, 2};
  c.out = root / "one3";
  const study::results r3 = study::run(c);
  (void)study::write_outputs(r3, c);
  const std::string one3 = slurp(c.out / "results.json") + slurp(c.out / "curves.csv");
  c.out = root / "r2_3seeds";
  CHECK(threaded_results(c, 2, 1) == one3);
  // data-parallel runs: the same as one process with the same --shards
  auto s2 = tiny(root / "s2_one");
  s2.methods = {"nsr", "ppo"};
  s2.seeds = {0};
  s2.shards = 2;
  s2.threads = 1;
  const study::results rs = study::run(s2);
  (void)study::write_outputs(rs, s2);
  const std::string sharded = slurp(s2.out / "results.json") + slurp(s2.out / "curves.csv");
  CHECK(sharded.find("\"shards\": 2") != std::string::npos);
  s2.out = root / "s2_ranks";
  CHECK(threaded_results(s2, 2, 2) == sharded);
  // --ranks-per-run must divide the ranks and not exceed --shards
  s2.out = root / "bad";
  CHECK_THROWS_WITH(threaded_results(s2, 3, 2), Catch::Contains("does not divide"));
  auto bad = tiny(root / "bad2");
  bad.ranks_per_run = 2;
  CHECK_THROWS_WITH(bad.validate(), Catch::Contains("--ranks-per-run = 2 exceeds --shards = 1"));
}

// ---- figure axes: "nice numbers" ticks ----------------------------------------------------------
namespace {
// every tick is k·step for an integer k, is the double its label parses to, and the labels are
// round decimals (no 0.30000000000000004, no "-0")
void check_ticks(const study::axis_ticks& t, double lo, double hi, int max_ticks) {
  REQUIRE(t.values.size() >= 2);
  REQUIRE(t.values.size() == t.labels.size());
  CHECK(static_cast<int>(t.values.size()) <= max_ticks);
  CHECK(t.lo == t.values.front());
  CHECK(t.hi == t.values.back());
  CHECK(t.lo <= lo + 1e-9 * t.step);
  CHECK(t.hi >= hi - 1e-9 * t.step);
  // the step is 1, 2 or 5 times a power of ten
  const double e = std::floor(std::log10(t.step) + 1e-9);
  const double m = t.step / std::pow(10.0, e);
  CHECK((std::abs(m - 1) < 1e-9 || std::abs(m - 2) < 1e-9 || std::abs(m - 5) < 1e-9));
  for (std::size_t i = 0; i < t.values.size(); ++i) {
    const double k = t.values[i] / t.step;
    CHECK(std::abs(k - std::round(k)) < 1e-9 * std::max(1.0, std::abs(k)));
    if (i > 0) CHECK(std::round(t.values[i] / t.step) - std::round(t.values[i - 1] / t.step) == 1.0);
    // the label is the value, with exactly the step's decimals (the double nearest the decimal)
    CHECK(std::stod(t.labels[i]) == t.values[i]);
    const auto dot = t.labels[i].find('.');
    CHECK((dot == std::string::npos ? 0 : static_cast<int>(t.labels[i].size() - dot - 1)) == t.decimals);
    CHECK(t.decimals == std::max(0, static_cast<int>(-e)));
    CHECK((t.labels[i].rfind("-0", 0) != 0 || t.labels[i].find_first_of("123456789") != std::string::npos));
  }
}
std::vector<std::string> labels(const study::axis_ticks& t) { return t.labels; }
} // namespace

TEST_CASE("nice ticks: round steps, exact multiples, round labels", "[study][figures]") {
  using V = std::vector<std::string>;
  const auto a = study::nice_ticks(0.177, 0.9);
  check_ticks(a, 0.177, 0.9, 6);
  CHECK(a.step == 0.2);
  CHECK(labels(a) == V{"0.0", "0.2", "0.4", "0.6", "0.8", "1.0"});
  const auto b = study::nice_ticks(-3.76, 5.72);
  check_ticks(b, -3.76, 5.72, 6);
  CHECK(labels(b) == V{"-4", "-2", "0", "2", "4", "6"});
  const auto c = study::nice_ticks(0.0, 1.0);
  check_ticks(c, 0.0, 1.0, 6);
  CHECK(labels(c) == V{"0.0", "0.2", "0.4", "0.6", "0.8", "1.0"});
  const auto d = study::nice_ticks(0.1, 0.3, 6); // 0.3 / 0.1 rounds above 3: no extra step
  check_ticks(d, 0.1, 0.3, 6);
  CHECK(labels(d) == V{"0.10", "0.15", "0.20", "0.25", "0.30"});
  CHECK(d.values.back() == 0.3);
  // a range inside (−1, 0) ends at the tick 0, printed "0.0" (not "-0.0")
  const auto n = study::nice_ticks(-0.93, -0.01);
  check_ticks(n, -0.93, -0.01, 6);
  CHECK(labels(n).back() == "0.0");
  // more ticks allowed: a finer step
  const auto f = study::nice_ticks(0.0, 1.0, 11);
  check_ticks(f, 0.0, 1.0, 11);
  CHECK(f.step == 0.1);
  CHECK(f.labels[3] == "0.3");
  CHECK(f.values[3] == 0.3);
}

TEST_CASE("nice ticks: degenerate and tiny ranges, integer axes, bad input", "[study][figures]") {
  const auto z = study::nice_ticks(0.0, 0.0); // all-zero data (a Pass@k curve of a weak model)
  check_ticks(z, 0.0, 0.0, 6);
  CHECK(z.lo < 0.0);
  CHECK(z.hi > 0.0);
  const auto one = study::nice_ticks(3.9, 3.9);
  check_ticks(one, 3.9, 3.9, 6);
  CHECK(one.lo < 3.9);
  CHECK(one.hi > 3.9);
  const auto tiny = study::nice_ticks(0.5, 0.5 + 3e-7);
  check_ticks(tiny, 0.5, 0.5 + 3e-7, 6);
  CHECK(tiny.step == 1e-7); // 5e-8 would need 7 ticks
  CHECK(tiny.labels == std::vector<std::string>{"0.5000000", "0.5000001", "0.5000002", "0.5000003"});
  const auto small = study::nice_ticks(1e-5, 4.2e-5);
  check_ticks(small, 1e-5, 4.2e-5, 6);
  CHECK(small.labels.back() == "0.00005");
  const auto big = study::nice_ticks(1234.0, 98765.0);
  check_ticks(big, 1234.0, 98765.0, 6);
  CHECK(big.labels.back() == "100000");
  // RL steps: integer ticks only, even for a short run
  const auto steps = study::nice_ticks(0.0, 3.0, 6, true);
  check_ticks(steps, 0.0, 3.0, 6);
  CHECK(steps.labels == std::vector<std::string>{"0", "1", "2", "3"});
  const auto steps40 = study::nice_ticks(1.0, 40.0, 6, true);
  check_ticks(steps40, 1.0, 40.0, 6);
  CHECK(steps40.labels == std::vector<std::string>{"0", "10", "20", "30", "40"});
  CHECK_THROWS_WITH(study::nice_ticks(1.0, 0.0), Catch::Contains("nice_ticks: range [1, 0]"));
  CHECK_THROWS_WITH(study::nice_ticks(0.0, std::nan("")), Catch::Contains("must be finite"));
  CHECK_THROWS_WITH(study::nice_ticks(0.0, 1.0, 2), Catch::Contains("max_ticks = 2 must be >= 3"));
}

TEST_CASE("a task registered outside the study runs through it, prompts of any length included", "[study][tasks]") {
  auto c = tiny(std::filesystem::temp_directory_path() / "rlvr_study_plugin");
  std::filesystem::remove_all(c.out);
  c.task = "last_number";
  c.task_options = {"size=5"};
  c.eval_regime = "harder"; // held-out m = 3-4, training m = 1-2
  c.seeds = {0};
  c.methods = {"nsr"};
  const auto task = study::make_task(c);
  const auto held = study::heldout_problems(task, c);
  REQUIRE(held.size() == 6);
  std::set<std::size_t> lengths;
  for (const auto& p : held) lengths.insert(p.size());
  CHECK(lengths.size() == 2); // m = 3 and m = 4: prompts of two lengths in one evaluation
  const study::results r = study::run(c);
  study::write_outputs(r, c);
  const auto j = nlohmann::json::parse(slurp(c.out / "results.json"));
  CHECK(j["config"]["task"]["name"] == "last_number");
  CHECK(j["config"]["task"]["size"] == 5);
  CHECK(j["config"]["task"]["wrong_fraction"] == 0.3); // the task's own default mix
  CHECK(j["config"]["task"]["fingerprint"].get<std::string>().size() == 64);
  CHECK(j["config"]["evaluation"]["regime"] == "harder");
  for (const auto& [key, e] : r.evals) CHECK(e.counts.size() == 6);
  // the task through any_task draws exactly what it draws called directly
  const test_tasks::last_number direct(5);
  rlvr::philox_engine g1(77, 3), g2(77, 3);
  for (int i = 0; i < 50; ++i) {
    CHECK(task.problem(g1, rlvr::tasks::split::eval) == direct.problem(g2, rlvr::tasks::split::eval));
    const auto a = task.pretraining_example(g1, i % 2 == 0), b = direct.pretraining_example(g2, i % 2 == 0);
    CHECK(a.prompt == b.prompt);
    CHECK(a.response == b.response);
  }
}

TEST_CASE("task options: typed, recorded, and an unknown or malformed one is named", "[study][tasks]") {
  auto c = tiny(std::filesystem::temp_directory_path() / "rlvr_study_options");
  const auto b = study::make_built_task(c);
  CHECK(b.options.describe() ==
        "modulus=53 pretrain_max_steps=4 train_max_distance=4 eval_min_distance=5 eval_max_distance=6 max_steps=10");
  c.task_options = {"modulus=31", "max_steps=9"};
  CHECK(study::make_built_task(c).options.describe() ==
        "modulus=31 pretrain_max_steps=4 train_max_distance=4 eval_min_distance=5 eval_max_distance=6 max_steps=9");
  c.task_options = {"moduls=31"};
  CHECK_THROWS_WITH(study::make_task(c), Catch::Contains("--task-option moduls is not an option of task 'zp_walk' (modulus, "));
  c.task_options = {"modulus=3.5"};
  CHECK_THROWS_WITH(study::make_task(c), Catch::Contains("modulus=3.5 is not an integer"));
  c.task_options = {"modulus"};
  CHECK_THROWS_WITH(study::make_task(c), Catch::Contains("'modulus' is not of the form key=value"));
  c.task_options = {"modulus=31", "modulus=37"};
  CHECK_THROWS_WITH(study::make_task(c), Catch::Contains("modulus is given twice"));
  c.task = "two_strategies";
  c.task_options = {"heuristic_share=nan"};
  CHECK_THROWS_WITH(study::make_task(c), Catch::Contains("heuristic_share=nan is not a finite number"));
  c.task_options = {"check_steps=yes"};
  CHECK_THROWS_WITH(study::make_task(c), Catch::Contains("check_steps=yes is not a boolean"));
  c.task_options = {"check_steps=true", "modulus=11"};
  CHECK(study::make_built_task(c).options.describe().find("check_steps=true") != std::string::npos);
  c.task = "last_number";
  c.task_options = {"size=1"};
  CHECK_THROWS_WITH(study::make_task(c), Catch::Contains("last_number: size = 1 must be in [2, 50]"));
  // a second registration of a name is reported (by name) at the next lookup
  const auto names = study::task_names();
  CHECK(std::count(names.begin(), names.end(), "zp_walk") == 1);
  CHECK(std::find(names.begin(), names.end(), "two_strategies") != names.end());
  CHECK(std::find(names.begin(), names.end(), "last_number") != names.end());
}

TEST_CASE("the base model's cache key holds the task's options and fingerprint and the mix", "[study][tasks]") {
  auto c = tiny(std::filesystem::temp_directory_path() / "rlvr_study_key");
  const std::string k0 = study::base_recipe(c, 0);
  CHECK(k0 == study::base_recipe(c, 0));
  c.task_options = {"modulus=47"};
  const std::string k1 = study::base_recipe(c, 0);
  CHECK(k1 != k0);
  CHECK(k1.find("modulus=47") != std::string::npos);
  c.task_options = {"modulus=53"}; // the default, given explicitly: the same task, the same key
  CHECK(study::base_recipe(c, 0) == k0);
  c.wrong_fraction = 0.9; // zp_walk's own default, given explicitly
  CHECK(study::base_recipe(c, 0) == k0);
  c.wrong_fraction = 0.5;
  CHECK(study::base_recipe(c, 0) != k0);
  c.wrong_fraction.reset();
  c.task = "graph_path";
  c.task_options = {"graph_seed=2"};
  const auto a = study::make_task(c).fingerprint();
  c.task_options = {"graph_seed=3"};
  CHECK(study::make_task(c).fingerprint() != a); // another graph draws other problems
}

TEST_CASE("a base-only run (methods: base) evaluates the base model only", "[study]") {
  auto c = tiny(std::filesystem::temp_directory_path() / "rlvr_study_base_only");
  std::filesystem::remove_all(c.out);
  c.seeds = {0};
  c.methods = {};
  const study::results r = study::run(c);
  CHECK(r.evals.size() == 1);
  CHECK(r.curves.empty());
  const std::string table = study::write_outputs(r, c);
  CHECK(table.find("base") != std::string::npos);
  const auto j = nlohmann::json::parse(slurp(c.out / "results.json"));
  CHECK(j.contains("base"));
  CHECK_FALSE(j.contains("nsr"));
}

TEST_CASE("in-distribution evaluation: held-out problems from the RL distribution, never trained on", "[study]") {
  auto c = tiny(std::filesystem::temp_directory_path() / "rlvr_study_indist");
  std::filesystem::remove_all(c.out);
  c.eval_regime = "in-distribution";
  c.eval_problems = 40;
  const auto task = study::make_task(c);
  const auto held = study::heldout_problems(task, c);
  REQUIRE(held.size() == 40);
  std::set<std::vector<rlvr::token_t>> train_split; // 1104 pairs at distance 1-4 in Z_53
  rlvr::philox_engine g(9, 0);
  for (int i = 0; i < 40000; ++i) train_split.insert(task.problem(g, rlvr::tasks::split::train));
  CHECK(train_split.size() == 1104);
  const study::heldout_set hs(held.begin(), held.end());
  CHECK(hs.size() == held.size());
  for (const auto& p : held) CHECK(train_split.contains(p)); // instances of the RL distribution
  // RL's prompts skip them: 200 steps of 4 prompts, none held out, and the same prompts as an
  // unfiltered draw wherever that draw missed the held-out set
  int skipped = 0;
  for (rlvr::index_t step = 0; step < 200; ++step) {
    const auto prompts = study::training_prompts(task, hs, c, 0, step);
    REQUIRE(prompts.size() == 4);
    for (const auto& p : prompts) CHECK_FALSE(hs.contains(p));
    const auto unfiltered = study::training_prompts(task, {}, c, 0, step);
    for (const auto& p : unfiltered) skipped += hs.contains(p) ? 1 : 0;
  }
  CHECK(skipped > 0); // the filter did something
  // the harder regime's held-out problems are the eval split's, as before
  c.eval_regime = "harder";
  for (const auto& p : study::heldout_problems(task, c)) CHECK_FALSE(train_split.contains(p));
  // a train split too small to spare the held-out problems is an error naming the flag
  c.eval_regime = "in-distribution";
  c.task = "last_number";
  c.task_options = {"size=2"}; // 2 + 4 distinct training problems
  c.eval_problems = 7;
  CHECK_THROWS_WITH(study::heldout_problems(study::make_task(c), c), Catch::Contains("fewer than --eval-problems = 7"));
  c.eval_problems = 5; // 5 of the 6: at least 3 in 4 fresh draws land on them
  CHECK_THROWS_WITH(study::heldout_problems(study::make_task(c), c), Catch::Contains("too small to hold them out"));
  // a whole in-distribution run, recorded in results.json
  c = tiny(c.out);
  c.eval_regime = "in-distribution";
  c.seeds = {0};
  c.methods = {"nsr"};
  study::write_outputs(study::run(c), c);
  const auto j = nlohmann::json::parse(slurp(c.out / "results.json"));
  CHECK(j["config"]["evaluation"]["regime"] == "in-distribution");
}

TEST_CASE("the verdict block judges F1-F5 by its written rules", "[study][verdict]") {
  using study::interval;
  auto m = [](const char* name, interval d1, interval dk, interval ent) {
    study::method_summary s;
    s.name = name;
    s.delta[1] = d1;
    s.delta[2] = {0, -0.01, 0.01};
    s.delta[4] = dk;
    s.entropy = ent;
    return s;
  };
  const std::vector<study::method_summary> ms = {
      m("base", {0, 0, 0}, {0, 0, 0}, {0.40, 0.39, 0.41}),
      m("psr", {0.10, 0.08, 0.12}, {-0.03, -0.05, -0.01}, {0.20, 0.19, 0.21}),
      m("nsr", {0.05, 0.03, 0.07}, {0.01, -0.01, 0.03}, {0.35, 0.34, 0.36}),
      m("w_reinforce", {0.06, 0.04, 0.11}, {0.00, -0.02, 0.015}, {0.30, 0.29, 0.31}),
      m("ppo", {0.08, 0.06, 0.10}, {-0.01, -0.03, 0.01}, {0.25, 0.24, 0.26}),
      m("grpo", {0.09, 0.07, 0.11}, {0.02, 0.00, 0.04}, {0.27, 0.26, 0.28}),
  };
  auto v = study::verdicts(ms, 4);
  REQUIRE(v.size() == 5);
  CHECK(v[0].verdict == "holds");     // NSR never significantly below
  CHECK(v[1].verdict == "holds");     // PSR up at k = 1, significantly down at k = 4
  CHECK(v[2].verdict == "partly");    // W-R tied at k = 1 (0.11 >= 0.10), below GRPO's +2 at k = 4
  CHECK(v[3].verdict == "holds");     // PSR lowest, NSR highest, disjoint
  CHECK(v[4].verdict == "partly");    // between in entropy; GRPO's k = 4 (+2) outside [PSR −3, NSR +1]
  CHECK(v[0].evidence.find("NSR - base: k=1 +5.0 [+3.0, +7.0], k=4 +1.0 [-1.0, +3.0]") == 0);
  auto ms2 = ms;
  ms2[2].delta[2] = {-0.02, -0.03, -0.01}; // NSR significantly below at k = 2
  ms2[1].delta[4] = {-0.01, -0.03, 0.01};  // PSR's large-k drop not significant
  ms2[5].delta[4] = {0.00, -0.02, 0.02};   // GRPO between
  v = study::verdicts(ms2, 4);
  CHECK(v[0].verdict == "reversed");
  CHECK(v[0].evidence.find("significantly below at k = 2") != std::string::npos);
  CHECK(v[1].verdict == "partly");
  CHECK(v[2].verdict == "holds");     // tied at k = 4 too (upper +1.5 >= NSR's +1)
  CHECK(v[4].verdict == "holds");
  ms2[1].delta[4] = {0.03, 0.01, 0.05};    // PSR significantly above at large k
  ms2[1].entropy = {0.36, 0.355, 0.365};  // and above NSR in entropy
  v = study::verdicts(ms2, 4);
  CHECK(v[1].verdict == "reversed");
  CHECK(v[3].verdict == "not reproduced");
  // a finding whose methods did not run says so
  v = study::verdicts({ms[0], ms[2]}, 4);
  CHECK(v[0].verdict == "holds");
  CHECK(v[1].verdict == "not run");
  CHECK(v[4].verdict == "not run");
  CHECK(study::verdict_block(v).find("F2  not run") != std::string::npos);
}

TEST_CASE("the regime map runs every cell and writes regimes.json, its figure and each cell's outputs", "[study][map]") {
  auto c = tiny(std::filesystem::temp_directory_path() / "rlvr_study_map");
  std::filesystem::remove_all(c.out);
  c.seeds = {0, 1};
  c.methods = {"psr", "nsr"};
  c.eval_problems = 4;
  const auto cells = study::run_regime_map(c, {"last_number"});
  REQUIRE(cells.size() == 2); // one mix (0.3) x two regimes
  CHECK(cells[0].dir == "last_number_w30_in-distribution");
  CHECK(cells[1].dir == "last_number_w30_harder");
  const auto j = nlohmann::json::parse(slurp(c.out / "regimes.json"));
  REQUIRE(j["cells"].size() == 2);
  CHECK(j["cells"][1]["eval"] == "harder");
  CHECK(j["cells"][0]["wrong_fraction"] == 0.3);
  CHECK(j["cells"][0]["methods"].contains("nsr"));
  CHECK(j["cells"][0]["methods"]["nsr"].contains("delta_16"));
  CHECK(j["cells"][0]["verdict"]["F1"].is_string());
  CHECK(j["cells"][0]["verdict"]["F3"] == "not run");
  CHECK(j["rule"]["F1"].get<std::string>().find("holds ") == 0);
  CHECK(std::filesystem::exists(c.out / "regimes.svg"));
  for (const auto& cell : cells) CHECK(std::filesystem::exists(c.out / "map" / cell.dir / "results.json"));
  // each cell is the study run with the cell's settings: its results.json says so
  const auto r1 = nlohmann::json::parse(slurp(c.out / "map" / cells[1].dir / "results.json"));
  CHECK(r1["config"]["evaluation"]["regime"] == "harder");
  CHECK(r1["config"]["task"]["wrong_fraction"] == 0.3);
}

TEST_CASE("the simplest rule of a finding is the one-condition rule right in the most cells", "[study][map]") {
  auto cell = [](const char* task, const char* regime, double base_max, const char* f1) {
    study::map_cell c{task, regime, 0.5, "", {}, {}};
    study::method_summary b;
    b.name = "base";
    b.pass[1] = {0.3, 0.2, 0.4};
    b.pass[256] = {base_max, base_max, base_max};
    c.mains.push_back(b);
    c.verdict.push_back({"F1", "", f1, ""});
    return c;
  };
  std::vector<study::map_cell> cells = {cell("a", "harder", 0.5, "reversed"), cell("a", "in-distribution", 0.97, "holds"),
                                        cell("b", "harder", 0.6, "reversed"), cell("b", "in-distribution", 0.9, "holds")};
  CHECK(study::simplest_rule(cells, 0, 256) == "holds where the base's Pass@256 >= 90.0 % (right in 4 of 4 cells)");
  cells[0].verdict[0].verdict = "holds"; // now no rule is perfect: the first best one wins
  CHECK(study::simplest_rule(cells, 0, 256) == "holds in every cell (right in 3 of 4 cells)");
}

TEST_CASE("the mass-flow diagnostic is reported per method over training", "[study][mass_flow]") {
  auto c = tiny(std::filesystem::temp_directory_path() / "rlvr_study_flow");
  std::filesystem::remove_all(c.out);
  c.seeds = {0};
  c.methods = {"psr", "nsr"};
  c.rl_steps = 3;
  c.mass_flow_every = 2; // steps 0 and 2 (the last)
  const study::results r = study::run(c);
  study::write_outputs(r, c);
  int measured = 0;
  for (const auto& row : r.curves) {
    INFO(row.method << " step " << row.m.step);
    const bool want = row.m.step == 0 || row.m.step == 2;
    CHECK(std::isnan(row.flow[0]) != want);
    if (!want) continue;
    ++measured;
    // the NSR side: mass leaves the sampled wrong tokens (>= 0 up to rounding) for NSR; the
    // correlation is a correlation
    if (row.method == "nsr") CHECK(row.flow[0] > -1e-6);
    if (!std::isnan(row.flow[1])) CHECK(std::abs(row.flow[1]) <= 1.0 + 1e-12);
  }
  CHECK(measured == 4);
  const std::string csv = slurp(c.out / "curves.csv");
  CHECK(csv.find(",nsr_mass_moved,nsr_spearman,nsr_tv,psr_mass_moved,psr_spearman,psr_tv\n") != std::string::npos);
  const auto j = nlohmann::json::parse(slurp(c.out / "results.json"));
  CHECK(j["nsr"]["mass_flow"].contains("nsr_mass_moved"));
  CHECK(std::filesystem::exists(c.out / "training_mass_flow_spearman.svg"));
  // the diagnostic does not touch the training trajectory
  auto c0 = c;
  c0.out = c.out / "off";
  c0.mass_flow_every = 0;
  const study::results r0 = study::run(c0);
  REQUIRE(r0.curves.size() == r.curves.size());
  for (std::size_t i = 0; i < r.curves.size(); ++i) {
    CHECK(r0.curves[i].m.loss == r.curves[i].m.loss);
    CHECK(std::isnan(r0.curves[i].flow[0]));
  }
  for (const auto& [key, e] : r.evals)
    for (std::size_t i = 0; i < e.counts.size(); ++i) CHECK(r0.evals.at(key).counts[i].c == e.counts[i].c);
}
