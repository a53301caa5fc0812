// rlvr-study end to end at tiny scale: the pipeline runs, results.json has the documented
// schema, the outputs are written, and the same seed gives the same results.json.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "report.hpp"
#include "study.hpp"

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
  CHECK(j["extras"].contains("w_reinforce_l0.5"));
  CHECK(j["config"]["evaluation"]["samples"] == 16);
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
  c.eval_min_distance = 3; // overlaps the training band
  CHECK_THROWS_WITH(study::run(c), Catch::Contains("eval_min_distance = 3"));
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
