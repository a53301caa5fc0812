#pragma once
// rlvr-study outputs: the Pass@k table (stdout), results.json, curves.csv and SVG figures.

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <sstream>
#include <string>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>
#include <rlvr/io/atomic_file.hpp>
#include <rlvr/metrics/bootstrap.hpp>
#include <rlvr/metrics/pass_at_k.hpp>

#include "study.hpp"

// The commit rlvr-study was configured from (examples/study/CMakeLists.txt passes it; "unknown"
// outside a git checkout). Recorded in results.json next to the version.
#ifndef RLVR_STUDY_COMMIT
#define RLVR_STUDY_COMMIT "unknown"
#endif

namespace study {

// ---- statistics -------------------------------------------------------------------------------
struct interval {
  double mean = 0, low = 0, high = 0;
};

inline std::vector<index_t> ks_for(index_t n) {
  std::vector<index_t> ks;
  for (index_t k = 1; k <= n; k *= 2) ks.push_back(k);
  return ks;
}

// Two-level percentile bootstrap of the mean of x[seed][problem] (95%): resamples the seeds, then
// the problems shared across the drawn seeds (rlvr::bootstrap_hierarchical_mean_ci). Seeded:
// reruns are identical.
inline interval bootstrap_seeds_problems(const std::vector<std::vector<double>>& x, index_t resamples,
                                         std::uint64_t seed) {
  const rlvr::confidence_interval ci =
      rlvr::bootstrap_hierarchical_mean_ci(x, {.resamples = resamples, .level = 0.95, .seed = seed});
  return {ci.mean, ci.low, ci.high};
}

// ---- stability per seed -------------------------------------------------------------------------
// A run collapses if its Pass@k_max (k_max: the largest k evaluated) falls more than 10 points
// below that seed's base model, or its held-out token entropy below a fifth of the base's.
inline constexpr double collapse_pass_drop = 0.10;
inline constexpr double collapse_entropy_fraction = 0.2;

struct seed_stability {
  std::uint64_t seed = 0;
  double pass1 = 0, pass_kmax = 0, entropy = 0; // this run
  double base_pass_kmax = 0, base_entropy = 0;  // the same seed's base model
  bool pass_collapse = false, entropy_collapse = false;
  [[nodiscard]] bool collapsed() const { return pass_collapse || entropy_collapse; }
};

struct stability {
  index_t k_max = 0;                 // 0: not assessed (the base model itself)
  std::vector<seed_stability> seeds; // in seed order
  [[nodiscard]] std::vector<std::uint64_t> collapsed_seeds() const {
    std::vector<std::uint64_t> out;
    for (const auto& s : seeds)
      if (s.collapsed()) out.push_back(s.seed);
    return out;
  }
  [[nodiscard]] double collapse_rate() const {
    return seeds.empty() ? 0.0 : static_cast<double>(collapsed_seeds().size()) / static_cast<double>(seeds.size());
  }
};

struct method_summary {
  std::string name;
  std::map<index_t, interval> pass;                           // k → interval over seeds × problems
  std::map<index_t, interval> delta;                          // k → paired (method − base) interval
  std::map<std::uint64_t, std::map<index_t, double>> per_seed; // seed → k → mean over problems
  std::map<std::uint64_t, double> entropy_seed, greedy_seed, length_seed;
  interval entropy, greedy;
  stability stab; // filled by assess_stability (not for the base model)
};

// Each seed of `s` against the same seed of `base` (both from summarise, or synthetic numbers
// with per_seed[seed][1], per_seed[seed][k_max] and entropy_seed[seed] set).
inline stability assess_stability(const method_summary& s, const method_summary& base, index_t k_max) {
  stability st;
  st.k_max = k_max;
  for (const auto& [seed, pk] : s.per_seed) {
    seed_stability e;
    e.seed = seed;
    e.pass1 = pk.at(1);
    e.pass_kmax = pk.at(k_max);
    e.entropy = s.entropy_seed.at(seed);
    e.base_pass_kmax = base.per_seed.at(seed).at(k_max);
    e.base_entropy = base.entropy_seed.at(seed);
    // 1e-12: a drop of exactly 10 points is not "more than" 10 after rounding
    e.pass_collapse = e.pass_kmax < e.base_pass_kmax - collapse_pass_drop - 1e-12;
    e.entropy_collapse = e.entropy < collapse_entropy_fraction * e.base_entropy;
    st.seeds.push_back(e);
  }
  return st;
}

inline method_summary summarise(const results& r, const std::string& name, const config& c) {
  method_summary s;
  s.name = name;
  std::vector<const eval_result*> ev, base;
  for (auto seed : c.seeds) {
    ev.push_back(&r.evals.at({name, seed}));
    base.push_back(&r.evals.at({"base", seed}));
  }
  for (index_t k : ks_for(c.samples)) {
    std::vector<std::vector<double>> x, d;
    for (std::size_t i = 0; i < ev.size(); ++i) {
      std::vector<double> row = rlvr::pass_at_k_per_problem(ev[i]->counts, k);
      const std::vector<double> brow = rlvr::pass_at_k_per_problem(base[i]->counts, k);
      double m = 0;
      for (double v : row) m += v;
      s.per_seed[c.seeds[i]][k] = m / static_cast<double>(row.size());
      std::vector<double> diff(row.size());
      for (std::size_t j = 0; j < row.size(); ++j) diff[j] = row[j] - brow[j];
      x.push_back(std::move(row));
      d.push_back(std::move(diff));
    }
    // the same bootstrap seed for a method and its difference: the resampled sets are paired
    const std::uint64_t bs = stream_seed(7, p_bootstrap) ^ static_cast<std::uint64_t>(k);
    s.pass[k] = bootstrap_seeds_problems(x, c.bootstrap_resamples, bs);
    s.delta[k] = bootstrap_seeds_problems(d, c.bootstrap_resamples, bs);
  }
  std::vector<std::vector<double>> ent(1), gr(1);
  for (std::size_t i = 0; i < ev.size(); ++i) {
    s.entropy_seed[c.seeds[i]] = ev[i]->entropy;
    s.greedy_seed[c.seeds[i]] = ev[i]->greedy_accuracy;
    s.length_seed[c.seeds[i]] = ev[i]->mean_length;
    ent[0].push_back(ev[i]->entropy);
    gr[0].push_back(ev[i]->greedy_accuracy);
  }
  // over seeds only (one number per seed): transpose so the "problems" level is the seeds
  std::vector<std::vector<double>> ent_t, gr_t;
  for (double v : ent[0]) ent_t.push_back({v});
  for (double v : gr[0]) gr_t.push_back({v});
  s.entropy = bootstrap_seeds_problems(ent_t, c.bootstrap_resamples, stream_seed(8, p_bootstrap));
  s.greedy = bootstrap_seeds_problems(gr_t, c.bootstrap_resamples, stream_seed(9, p_bootstrap));
  return s;
}

// ---- results.json -----------------------------------------------------------------------------
inline nlohmann::ordered_json to_json(const method_summary& s) {
  nlohmann::ordered_json j;
  nlohmann::ordered_json pk;
  for (const auto& [k, iv] : s.pass) pk[std::to_string(k)] = {{"mean", iv.mean}, {"ci_low", iv.low}, {"ci_high", iv.high}};
  j["pass_at_k"] = pk;
  if (s.name != "base") {
    nlohmann::ordered_json dk;
    for (const auto& [k, iv] : s.delta)
      dk[std::to_string(k)] = {{"mean", iv.mean}, {"ci_low", iv.low}, {"ci_high", iv.high}};
    j["delta_vs_base"] = dk;
  }
  j["entropy"] = s.entropy.mean;
  j["entropy_ci"] = {s.entropy.low, s.entropy.high};
  j["greedy_accuracy"] = s.greedy.mean;
  j["greedy_accuracy_ci"] = {s.greedy.low, s.greedy.high};
  nlohmann::ordered_json ps;
  for (const auto& [seed, m] : s.per_seed) {
    nlohmann::ordered_json e, pks;
    for (const auto& [k, v] : m) pks[std::to_string(k)] = v;
    e["pass_at_k"] = pks;
    e["entropy"] = s.entropy_seed.at(seed);
    e["greedy_accuracy"] = s.greedy_seed.at(seed);
    e["mean_response_length"] = s.length_seed.at(seed);
    ps[std::to_string(seed)] = e;
  }
  j["per_seed"] = ps;
  if (s.stab.k_max > 0) {
    nlohmann::ordered_json st, seeds;
    st["k_max"] = s.stab.k_max;
    st["rule"] = "collapsed: Pass@k_max more than 10 points below the seed's base, or entropy below 1/5 of the base's";
    st["collapsed_seeds"] = s.stab.collapsed_seeds();
    st["collapse_rate"] = s.stab.collapse_rate();
    for (const auto& e : s.stab.seeds)
      seeds[std::to_string(e.seed)] = {{"pass_at_1", e.pass1},
                                       {"pass_at_k_max", e.pass_kmax},
                                       {"entropy", e.entropy},
                                       {"base_pass_at_k_max", e.base_pass_kmax},
                                       {"base_entropy", e.base_entropy},
                                       {"pass_collapse", e.pass_collapse},
                                       {"entropy_collapse", e.entropy_collapse},
                                       {"collapsed", e.collapsed()}};
    st["per_seed"] = seeds;
    j["stability"] = st;
  }
  return j;
}

inline nlohmann::ordered_json config_json(const config& c) {
  nlohmann::ordered_json j;
  j["rlvr"] = {{"version", std::to_string(RLVR_VERSION_MAJOR) + "." + std::to_string(RLVR_VERSION_MINOR) + "." +
                             std::to_string(RLVR_VERSION_PATCH)},
               {"commit", RLVR_STUDY_COMMIT}};
  j["preset"] = c.preset;
  const built_task t = make_built_task(c);
  nlohmann::ordered_json task;
  task["name"] = c.task;
  for (const auto& [key, v] : t.options.resolved()) // the task's parameters as its factory resolved them
    std::visit([&, k = key](const auto& x) { task[k] = x; }, v);
  task["wrong_fraction"] = wrong_fraction_of(c);
  task["fingerprint"] = t.task.fingerprint();
  j["task"] = task;
  j["model"] = {{"d_model", c.d_model}, {"n_layers", c.n_layers}, {"n_heads", c.n_heads}};
  j["pretraining"] = {{"steps", c.pretrain_steps}, {"batch", c.pretrain_batch}, {"lr", c.pretrain_lr}};
  j["rl"] = {{"steps", c.rl_steps}, {"prompts_per_step", c.prompts_per_step}, {"group_size", c.group_size},
             {"mini_batches", c.mini_batches}, {"epochs", c.epochs}, {"lr", c.rl_lr},
             {"weight_decay", c.weight_decay}, {"clip", c.clip}, {"grad_clip", c.grad_clip},
             {"temperature", c.temperature}, {"entropy_coef", c.entropy_coef}, {"kl_beta", c.kl_beta},
             {"lambda", c.lambda}};
  if (c.shards != 1) j["rl"]["shards"] = c.shards; // results depend on S; not on the process count
  j["rl"]["lm_head"] = c.lm_head;                  // fused or materialised: equal to rounding, not bit for bit
  j["evaluation"] = {{"regime", c.eval_regime}, {"problems", c.eval_problems}, {"samples", c.samples}, {"temperature", c.eval_temperature},
                     {"top_p", c.top_p}, {"bootstrap_resamples", c.bootstrap_resamples},
                     {"interval", "95% percentile bootstrap over seeds and problems"}};
  j["seeds"] = c.seeds;
  return j;
}

//! Each method's mass-flow diagnostic, averaged over its measured steps and seeds (NaN entries,
//! where a side had no rows, skipped): name → value, for results.json.
inline std::map<std::string, double> mass_flow_means(const results& r, const std::string& method) {
  std::map<std::string, double> out;
  for (std::size_t f = 0; f < mass_fields; ++f) {
    double sum = 0;
    int n = 0;
    for (const auto& row : r.curves)
      if (row.method == method && !std::isnan(row.flow[f])) {
        sum += row.flow[f];
        ++n;
      }
    if (n > 0) out[mass_flow_names()[f]] = sum / n;
  }
  return out;
}

inline nlohmann::ordered_json results_json(const results& r, const std::vector<method_summary>& mains,
                                           const std::vector<method_summary>& extras, const config& c) {
  nlohmann::ordered_json j;
  for (const auto& s : mains) {
    j[s.name] = to_json(s);
    if (s.name != "base")
      if (const auto mf = mass_flow_means(r, s.name); !mf.empty()) {
        nlohmann::ordered_json x;
        for (const auto& [k, v] : mf) x[k] = v;
        j[s.name]["mass_flow"] = x;
      }
  }
  nlohmann::ordered_json ex;
  for (const auto& s : extras) ex[s.name] = to_json(s);
  j["extras"] = ex;
  j["config"] = config_json(c);
  return j;
}

// ---- curves.csv ---------------------------------------------------------------------------------
inline std::string curves_csv(const results& r) {
  std::string f =
      "method,seed,step,reward,accuracy,solved_fraction,unsolved_fraction,entropy,response_length,kept,dropped,"
      "updates,loss,grad_norm,clip_frac_low,clip_frac_high,approx_kl,ref_kl,value_loss";
  for (const char* n : mass_flow_names()) f += std::string(",") + n; // empty where not measured
  f += "\n";
  char buf[512];
  for (const auto& row : r.curves) {
    const auto& m = row.m;
    std::snprintf(buf, sizeof buf, "%s,%llu,%lld,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g,%lld,%lld,%lld,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g\n",
                  row.method.c_str(), static_cast<unsigned long long>(row.seed), static_cast<long long>(m.step),
                  m.reward_mean, m.accuracy, m.solved_fraction, m.unsolved_fraction, m.entropy, m.response_length,
                  static_cast<long long>(m.kept), static_cast<long long>(m.dropped), static_cast<long long>(m.updates),
                  m.loss, m.grad_norm, m.clip_frac_low, m.clip_frac_high, m.approx_kl, m.ref_kl, m.value_loss);
    f.append(buf, std::strlen(buf) - 1); // without its newline
    for (double v : row.flow) {
      if (std::isnan(v)) f += ",";
      else {
        std::snprintf(buf, sizeof buf, ",%.6g", v);
        f += buf;
      }
    }
    f += "\n";
  }
  return f;
}

// ---- SVG ---------------------------------------------------------------------------------------
struct series {
  std::string name, color;
  std::vector<double> x, y, lo, hi; // lo/hi empty: no band
};

inline const char* color_of(const std::string& m) {
  if (m == "base") return "#444444";
  if (m == "psr") return "#d62728";
  if (m == "nsr") return "#1f77b4";
  if (m == "w_reinforce") return "#2ca02c";
  if (m == "ppo") return "#9467bd";
  if (m == "grpo") return "#ff7f0e";
  return "#8c564b";
}

// ---- axis ticks -------------------------------------------------------------------------------
// "Nice numbers" ticks (Heckbert, Graphics Gems I, 1990): the step is m·10^e with m ∈ {1, 2, 5},
// the smallest such step that covers [lo, hi] with at most max_ticks ticks, and the axis runs
// from the multiple of the step at or below lo to the one at or above hi. Tick i is the integer
// k_i·m divided (or multiplied) by the exact power 10^|e|, so it is the double nearest the
// decimal k_i·m·10^e (0.3, never 0.30000000000000004), and its label prints max(−e, 0) decimals
// (the tick 0 is +0: never "-0"). `integers`: steps below 1 are skipped (an axis of RL steps).
struct axis_ticks {
  double lo = 0, hi = 0, step = 0; // the axis range (first and last tick) and the step
  int decimals = 0;                // digits after the point in every label
  std::vector<double> values;      // lo = values.front() < … < values.back() = hi
  std::vector<std::string> labels; // values[i] printed with `decimals` decimals
};

inline axis_ticks nice_ticks(double lo, double hi, int max_ticks = 6, bool integers = false) {
  RLVR_EXPECTS(std::isfinite(lo) && std::isfinite(hi) && lo <= hi, range, "nice_ticks: range [", lo, ", ", hi,
               "] must be finite with lo <= hi");
  // 3: a range that straddles a multiple of every step needs two intervals
  RLVR_EXPECTS(max_ticks >= 3, range, "nice_ticks: max_ticks = ", max_ticks, " must be >= 3");
  // a degenerate or (relative to its magnitude) vanishing range is widened around its centre, so
  // that every k·m below stays an integer far below 2^53
  const double mag = std::max(std::abs(lo), std::abs(hi));
  const double min_span = mag > 0 ? 1e-9 * mag : 1.0;
  if (hi - lo < min_span) {
    const double c = lo / 2 + hi / 2;
    lo = c - min_span / 2;
    hi = c + min_span / 2;
  }
  auto pow10 = [](int e) { // exact for |e| <= 22
    double p = 1;
    for (int i = 0; i < std::abs(e); ++i) p *= 10;
    return p;
  };
  auto value = [&](long long km, int e) {
    return e >= 0 ? static_cast<double>(km) * pow10(e) : static_cast<double>(km) / pow10(e);
  };
  const int e0 = static_cast<int>(std::floor(std::log10((hi - lo) / max_ticks))) - 1;
  for (int e = integers ? std::max(e0, 0) : e0;; ++e)
    for (const int m : {1, 2, 5}) {
      const double step = value(m, e);
      // first and last multiples; the slack keeps a bound that is a tick (0.3 / 0.1) from
      // adding a step through the rounding of the division
      const auto k0 = static_cast<long long>(std::floor(lo / step + 1e-9));
      const auto k1 = static_cast<long long>(std::ceil(hi / step - 1e-9));
      if (k1 - k0 + 1 > max_ticks) continue;
      axis_ticks t;
      t.step = step;
      t.decimals = std::max(-e, 0);
      for (long long k = k0; k <= k1; ++k) {
        t.values.push_back(value(k * m, e));
        char b[64];
        std::snprintf(b, sizeof b, "%.*f", t.decimals, t.values.back());
        t.labels.emplace_back(b);
      }
      t.lo = t.values.front();
      t.hi = t.values.back();
      return t;
    }
}

inline std::string svg_plot(const std::string& title, const std::string& xlabel, const std::string& ylabel,
                            const std::vector<series>& ss, bool log2x) {
  const double W = 640, H = 420, L = 70, R = 150, T = 40, B = 55;
  double x0 = 1e300, x1 = -1e300, y0 = 1e300, y1 = -1e300;
  auto tx = [&](double x) { return log2x ? std::log2(x) : x; };
  for (const auto& s : ss)
    for (std::size_t i = 0; i < s.x.size(); ++i) {
      x0 = std::min(x0, tx(s.x[i]));
      x1 = std::max(x1, tx(s.x[i]));
      const double lo = s.lo.empty() ? s.y[i] : s.lo[i], hi = s.hi.empty() ? s.y[i] : s.hi[i];
      y0 = std::min(y0, lo);
      y1 = std::max(y1, hi);
    }
  if (!(x1 >= x0)) x0 = x1 = 0; // no points
  if (!(y1 >= y0)) y0 = y1 = 0;
  if (!(x1 > x0)) x1 = x0 + 1;
  // round y ticks; the axis runs from the first tick to the last (the data lie within)
  const axis_ticks yt = nice_ticks(y0, y1);
  y0 = std::min(y0, yt.lo);
  y1 = std::max(y1, yt.hi);
  axis_ticks xt;
  if (!log2x) { // integer x ticks on the linear axis (RL steps)
    xt = nice_ticks(x0, x1, 6, true);
    x0 = std::min(x0, xt.lo);
    x1 = std::max(x1, xt.hi);
  }
  auto px = [&](double x) { return L + (tx(x) - x0) / (x1 - x0) * (W - L - R); };
  auto py = [&](double y) { return H - B - (y - y0) / (y1 - y0) * (H - T - B); };
  std::ostringstream o;
  o.precision(5);
  o << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << W << "\" height=\"" << H
    << "\" font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  o << "<text x=\"" << W / 2 << "\" y=\"22\" text-anchor=\"middle\" font-size=\"15\">" << title << "</text>\n";
  // axes and grid
  for (std::size_t i = 0; i < yt.values.size(); ++i) {
    const double y = yt.values[i];
    o << "<line x1=\"" << L << "\" x2=\"" << W - R << "\" y1=\"" << py(y) << "\" y2=\"" << py(y)
      << "\" stroke=\"#e5e5e5\"/><text x=\"" << L - 6 << "\" y=\"" << py(y) + 4 << "\" text-anchor=\"end\">"
      << yt.labels[i] << "</text>\n";
  }
  if (log2x) {
    for (double k = std::exp2(std::ceil(x0)); tx(k) <= x1 + 1e-9; k *= 2)
      o << "<text x=\"" << px(k) << "\" y=\"" << H - B + 16 << "\" text-anchor=\"middle\">" << k << "</text>\n";
  } else {
    for (std::size_t i = 0; i < xt.values.size(); ++i)
      o << "<text x=\"" << px(xt.values[i]) << "\" y=\"" << H - B + 16 << "\" text-anchor=\"middle\">" << xt.labels[i]
        << "</text>\n";
  }
  o << "<rect x=\"" << L << "\" y=\"" << T << "\" width=\"" << W - L - R << "\" height=\"" << H - T - B
    << "\" fill=\"none\" stroke=\"#333\"/>\n";
  o << "<text x=\"" << (L + W - R) / 2 << "\" y=\"" << H - 12 << "\" text-anchor=\"middle\">" << xlabel << "</text>\n";
  o << "<text transform=\"translate(18," << (T + H - B) / 2 << ") rotate(-90)\" text-anchor=\"middle\">" << ylabel
    << "</text>\n";
  int li = 0;
  for (const auto& s : ss) {
    if (!s.lo.empty()) {
      o << "<polygon fill=\"" << s.color << "\" fill-opacity=\"0.12\" stroke=\"none\" points=\"";
      for (std::size_t i = 0; i < s.x.size(); ++i) o << px(s.x[i]) << "," << py(s.hi[i]) << " ";
      for (std::size_t i = s.x.size(); i-- > 0;) o << px(s.x[i]) << "," << py(s.lo[i]) << " ";
      o << "\"/>\n";
    }
    o << "<polyline fill=\"none\" stroke=\"" << s.color << "\" stroke-width=\"2\" points=\"";
    for (std::size_t i = 0; i < s.x.size(); ++i) o << px(s.x[i]) << "," << py(s.y[i]) << " ";
    o << "\"/>\n";
    const double ly = T + 14 + 18 * li++;
    o << "<line x1=\"" << W - R + 10 << "\" x2=\"" << W - R + 30 << "\" y1=\"" << ly << "\" y2=\"" << ly
      << "\" stroke=\"" << s.color << "\" stroke-width=\"3\"/><text x=\"" << W - R + 36 << "\" y=\"" << ly + 4
      << "\">" << s.name << "</text>\n";
  }
  o << "</svg>\n";
  return o.str();
}

// Every output goes through here: rlvr::io::write_file_atomic (temporary file, every write and
// the close checked, rename); a failure raises rlvr::io_error naming the path.
inline void write_file(const std::filesystem::path& p, const std::string& s) { rlvr::io::write_file_atomic(p, s); }

inline void write_plots(const std::filesystem::path& dir, const results& r, const std::vector<method_summary>& mains) {
  // Figure 2: Pass@k on a log-k axis, with 95% bands
  std::vector<series> pk;
  for (const auto& s : mains) {
    series e{s.name, color_of(s.name), {}, {}, {}, {}};
    for (const auto& [k, iv] : s.pass) {
      e.x.push_back(static_cast<double>(k));
      e.y.push_back(iv.mean);
      e.lo.push_back(iv.low);
      e.hi.push_back(iv.high);
    }
    pk.push_back(std::move(e));
  }
  write_file(dir / "pass_at_k.svg", svg_plot("Pass@k on held-out problems (95% bootstrap bands)", "k", "Pass@k", pk, true));
  // paired differences to the base, with their 95% bands
  std::vector<series> dk;
  for (const auto& s : mains) {
    series e{s.name, color_of(s.name), {}, {}, {}, {}};
    for (const auto& [k, iv] : s.pass) {
      const interval d = s.name == "base" ? interval{} : s.delta.at(k);
      e.x.push_back(static_cast<double>(k));
      e.y.push_back(100.0 * d.mean);
      if (s.name != "base") {
        e.lo.push_back(100.0 * d.low);
        e.hi.push_back(100.0 * d.high);
      }
    }
    if (s.name == "base") {
      e.lo.clear();
      e.hi.clear();
    }
    dk.push_back(std::move(e));
  }
  write_file(dir / "pass_at_k_delta.svg",
             svg_plot("Pass@k minus base, paired (points, 95% bands)", "k", "difference (points)", dk, true));
  // Figure 4: training entropy and reward, mean over seeds per step
  for (int which = 0; which < 3; ++which) {
    std::vector<series> ss;
    for (const auto& s : mains) {
      if (s.name == "base") continue;
      std::map<index_t, std::pair<double, int>> acc;
      for (const auto& row : r.curves)
        if (row.method == s.name) {
          const double v = which == 0 ? row.m.entropy : which == 1 ? row.m.reward_mean : row.m.solved_fraction;
          auto& a = acc[row.m.step];
          a.first += v;
          a.second += 1;
        }
      series e{s.name, color_of(s.name), {}, {}, {}, {}};
      for (const auto& [st, a] : acc) {
        e.x.push_back(static_cast<double>(st));
        e.y.push_back(a.first / a.second);
      }
      ss.push_back(std::move(e));
    }
    const char* names[] = {"training_entropy.svg", "training_reward.svg", "training_solved.svg"};
    const char* titles[] = {"Rollout token entropy during RL (mean over seeds)", "Training reward (mean over seeds)",
                            "Fraction of training prompts with all G rollouts correct"};
    const char* ylabels[] = {"entropy (nats)", "reward", "fully solved"};
    write_file(dir / names[which], svg_plot(titles[which], "RL step", ylabels[which], ss, false));
  }
  // the mass-flow diagnostic over training (measured steps; mean over seeds)
  const std::array<std::pair<std::size_t, const char*>, 3> flows{
      {{1, "NSR side: rank correlation of the alternatives' gains with the prior"},
       {0, "NSR side: mass removed from a sampled wrong token (mean per token)"},
       {3, "PSR side: mass gained by a sampled correct token (mean per token)"}}};
  const char* flow_files[] = {"training_mass_flow_spearman.svg", "training_mass_flow_nsr.svg", "training_mass_flow_psr.svg"};
  const char* flow_y[] = {"Spearman rho", "mass (probability)", "mass (probability)"};
  bool any = false;
  for (const auto& row : r.curves) any = any || !std::isnan(row.flow[1]) || !std::isnan(row.flow[0]);
  for (std::size_t w = 0; any && w < flows.size(); ++w) {
    std::vector<series> ss;
    for (const auto& s : mains) {
      if (s.name == "base") continue;
      std::map<index_t, std::pair<double, int>> acc;
      for (const auto& row : r.curves)
        if (row.method == s.name && !std::isnan(row.flow[flows[w].first])) {
          auto& a = acc[row.m.step];
          a.first += row.flow[flows[w].first];
          a.second += 1;
        }
      series e{s.name, color_of(s.name), {}, {}, {}, {}};
      for (const auto& [st, a] : acc) {
        e.x.push_back(static_cast<double>(st));
        e.y.push_back(a.first / a.second);
      }
      ss.push_back(std::move(e));
    }
    write_file(dir / flow_files[w], svg_plot(flows[w].second, "RL step", flow_y[w], ss, false));
  }
}


// ---- the table --------------------------------------------------------------------------------
// Every run's Pass@1, Pass@k_max and held-out entropy, collapsed runs marked, and each method's
// collapse rate with its seeds.
inline std::string stability_table(const std::vector<method_summary>& ms, index_t k_max) {
  std::ostringstream o;
  char b[128];
  o << "per seed (! = collapsed: Pass@" << k_max
    << " more than 10 points below the seed's base, or entropy below 1/5 of the base's)\n";
  const std::string head = "pass@" + std::to_string(k_max);
  std::snprintf(b, sizeof b, "%-14s%4s  %7s  %7s  %7s\n", "method", "seed", "pass@1", head.c_str(), "entropy");
  o << b;
  for (const auto& s : ms) {
    for (const auto& [seed, pk] : s.per_seed) {
      std::snprintf(b, sizeof b, "%-14s%4llu  %7.1f  %7.1f  %7.3f", s.name.c_str(), static_cast<unsigned long long>(seed),
                    100.0 * pk.at(1), 100.0 * pk.at(k_max), s.entropy_seed.at(seed));
      o << b;
      for (const auto& e : s.stab.seeds)
        if (e.seed == seed && e.collapsed()) {
          o << "  !";
          if (e.pass_collapse) {
            std::snprintf(b, sizeof b, " pass@%lld %+.1f points vs base", static_cast<long long>(k_max),
                          100.0 * (e.pass_kmax - e.base_pass_kmax));
            o << b;
          }
          if (e.entropy_collapse) {
            std::snprintf(b, sizeof b, " entropy %.3f < %.3f / 5", e.entropy, e.base_entropy);
            o << b;
          }
        }
      o << "\n";
    }
  }
  o << "collapse rate:";
  for (const auto& s : ms) {
    if (s.stab.k_max == 0) continue;
    const auto bad = s.stab.collapsed_seeds();
    o << " " << s.name << " " << bad.size() << "/" << s.stab.seeds.size();
    if (!bad.empty()) {
      o << " (seed";
      for (std::size_t i = 0; i < bad.size(); ++i) o << (i ? "," : " ") << bad[i];
      o << ")";
    }
    o << ";";
  }
  o << "\n";
  return o.str();
}

inline std::string table(const std::vector<method_summary>& ms, const config& c) {
  std::ostringstream o;
  char b[64];
  const auto ks = ks_for(c.samples);
  o << "Pass@k (%) on " << c.eval_problems << " held-out problems x " << c.seeds.size()
    << " seeds, n = " << c.samples << ", T = " << c.eval_temperature << ", top-p = " << c.top_p << "\n";
  o << "method        ";
  for (index_t k : ks) {
    std::snprintf(b, sizeof b, "%7lld", static_cast<long long>(k));
    o << b;
  }
  o << "   greedy  entropy\n";
  for (const auto& s : ms) {
    std::snprintf(b, sizeof b, "%-14s", s.name.c_str());
    o << b;
    for (index_t k : ks) {
      std::snprintf(b, sizeof b, "%7.1f", 100.0 * s.pass.at(k).mean);
      o << b;
    }
    std::snprintf(b, sizeof b, "   %6.1f  %7.3f", 100.0 * s.greedy.mean, s.entropy.mean);
    o << b;
    // a mean never hides a collapsed seed
    if (const auto bad = s.stab.collapsed_seeds(); !bad.empty())
      o << "  ! " << bad.size() << "/" << s.stab.seeds.size() << " seeds collapsed";
    o << "\n";
  }
  o << "difference to base, paired over seeds and problems (points; * = 95% CI excludes 0)\n";
  for (const auto& s : ms) {
    if (s.name == "base") continue;
    std::snprintf(b, sizeof b, "%-14s", s.name.c_str());
    o << b;
    for (index_t k : ks) {
      const auto& d = s.delta.at(k);
      const bool sig = d.low > 0 || d.high < 0;
      std::snprintf(b, sizeof b, "%+6.1f%s", 100.0 * d.mean, sig ? "*" : " ");
      o << b;
    }
    o << "\n";
  }
  o << "95% CI width of Pass@k (points)\n";
  for (const auto& s : ms) {
    std::snprintf(b, sizeof b, "%-14s", s.name.c_str());
    o << b;
    for (index_t k : ks) {
      std::snprintf(b, sizeof b, "%7.1f", 100.0 * (s.pass.at(k).high - s.pass.at(k).low));
      o << b;
    }
    o << "\n";
  }
  o << stability_table(ms, ks.back());
  return o.str();
}

// ---- the verdict block ---------------------------------------------------------------------------
// The paper's findings F1–F5, each judged from this run's paired differences to the base (95 %
// intervals over seeds and problems) and held-out entropies, by fixed rules written before the
// numbers (docs/study.md, "The verdict"):
//   F1  NSR keeps or improves Pass@k at every k: holds if no k is significantly below the base,
//       reversed otherwise.
//   F2  PSR lifts Pass@1 and falls below the base at large k: holds if k = 1 is significantly
//       above and k_max significantly below; partly if k = 1 is significantly above and k_max's
//       point estimate is below (not significantly); reversed if k_max is significantly above;
//       not reproduced otherwise.
//   F3  W-REINFORCE is best or tied overall: at k = 1 and k = k_max, tied-or-best if its upper
//       bound reaches the best method's point estimate; holds at both, partly at one.
//   F4  PSR narrows entropy most, NSR keeps it nearest the base: holds if PSR's entropy is the
//       lowest and NSR's the highest of the RL methods run and their intervals are disjoint;
//       partly if PSR's mean is below NSR's; not reproduced otherwise.
//   F5  PPO and GRPO lie between PSR and NSR: holds if both lie between them in entropy and in
//       the k_max difference; partly if in entropy only.
// A finding whose methods were not run is "not run".
struct finding {
  std::string id, claim, verdict, evidence;
};

inline std::vector<finding> verdicts(const std::vector<method_summary>& ms, index_t k_max) {
  auto find = [&](const char* n) -> const method_summary* {
    for (const auto& s : ms)
      if (s.name == n) return &s;
    return nullptr;
  };
  auto pts = [](double x) {
    char b[32];
    std::snprintf(b, sizeof b, "%+.1f", 100.0 * x);
    return std::string(b);
  };
  auto ci = [&](const interval& d) { return pts(d.mean) + " [" + pts(d.low) + ", " + pts(d.high) + "]"; };
  auto sig_up = [](const interval& d) { return d.low > 0; };
  auto sig_down = [](const interval& d) { return d.high < 0; };
  const std::string km = "k=" + std::to_string(k_max);
  const method_summary *psr = find("psr"), *nsr = find("nsr"), *wr = find("w_reinforce"), *ppo = find("ppo"),
                       *grpo = find("grpo");
  std::vector<finding> out;
  {
    finding f{"F1", "NSR keeps or improves Pass@k at every k", "not run", ""};
    if (nsr) {
      std::string below;
      for (const auto& [k, d] : nsr->delta)
        if (sig_down(d)) below += (below.empty() ? "" : ", ") + std::to_string(k);
      f.verdict = below.empty() ? "holds" : "reversed";
      f.evidence = "NSR - base: k=1 " + ci(nsr->delta.at(1)) + ", " + km + " " + ci(nsr->delta.at(k_max)) +
                   (below.empty() ? "; no k significantly below" : "; significantly below at k = " + below);
    }
    out.push_back(f);
  }
  {
    finding f{"F2", "PSR lifts Pass@1 and falls below the base at large k", "not run", ""};
    if (psr) {
      const interval &d1 = psr->delta.at(1), &dk = psr->delta.at(k_max);
      f.verdict = sig_up(d1) && sig_down(dk) ? "holds"
                  : sig_up(dk)               ? "reversed"
                  : sig_up(d1) && dk.mean < 0 ? "partly"
                                              : "not reproduced";
      f.evidence = "PSR - base: k=1 " + ci(d1) + ", " + km + " " + ci(dk);
    }
    out.push_back(f);
  }
  {
    finding f{"F3", "W-REINFORCE is best or tied overall", "not run", ""};
    if (wr) {
      int tied = 0;
      std::string ev;
      for (index_t k : {index_t{1}, k_max}) {
        double best = -1e9;
        std::string who;
        for (const auto& s : ms)
          if (s.name != "base" && s.delta.at(k).mean > best) {
            best = s.delta.at(k).mean;
            who = s.name;
          }
        const bool ok = wr->delta.at(k).high >= best;
        tied += ok ? 1 : 0;
        ev += (ev.empty() ? "" : "; ") + std::string("k=") + std::to_string(k) + ": W-REINFORCE " + ci(wr->delta.at(k)) +
              ", best " + who + " " + pts(best) + (ok ? " (best or tied)" : " (below)");
      }
      f.verdict = tied == 2 ? "holds" : tied == 1 ? "partly" : "not reproduced";
      f.evidence = ev;
    }
    out.push_back(f);
  }
  auto ent = [](const method_summary* s) {
    char b[48];
    std::snprintf(b, sizeof b, "%.3f [%.3f, %.3f]", s->entropy.mean, s->entropy.low, s->entropy.high);
    return std::string(b);
  };
  {
    finding f{"F4", "PSR narrows entropy most; NSR keeps it nearest the base", "not run", ""};
    if (psr && nsr) {
      bool psr_lowest = true, nsr_highest = true;
      for (const auto& s : ms) {
        if (s.name == "base") continue;
        psr_lowest = psr_lowest && psr->entropy.mean <= s.entropy.mean;
        nsr_highest = nsr_highest && nsr->entropy.mean >= s.entropy.mean;
      }
      f.verdict = psr_lowest && nsr_highest && psr->entropy.high < nsr->entropy.low ? "holds"
                  : psr->entropy.mean < nsr->entropy.mean                          ? "partly"
                                                                                   : "not reproduced";
      f.evidence = "entropy: PSR " + ent(psr) + ", NSR " + ent(nsr);
      if (const auto* b = find("base")) f.evidence += ", base " + ent(b);
    }
    out.push_back(f);
  }
  {
    finding f{"F5", "PPO and GRPO lie between PSR and NSR", "not run", ""};
    if (psr && nsr && ppo && grpo) {
      auto between = [](double x, double a, double b) { return x >= std::min(a, b) && x <= std::max(a, b); };
      bool in_entropy = true, in_pass = true;
      for (const auto* s : {ppo, grpo}) {
        in_entropy = in_entropy && between(s->entropy.mean, psr->entropy.mean, nsr->entropy.mean);
        in_pass = in_pass && between(s->delta.at(k_max).mean, psr->delta.at(k_max).mean, nsr->delta.at(k_max).mean);
      }
      f.verdict = in_entropy && in_pass ? "holds" : in_entropy ? "partly" : "not reproduced";
      f.evidence = "entropy PPO " + ent(ppo) + ", GRPO " + ent(grpo) + "; " + km + " PPO " + pts(ppo->delta.at(k_max).mean) +
                   ", GRPO " + pts(grpo->delta.at(k_max).mean) + " (PSR " + pts(psr->delta.at(k_max).mean) + ", NSR " +
                   pts(nsr->delta.at(k_max).mean) + ")";
    }
    out.push_back(f);
  }
  return out;
}

inline std::string verdict_block(const std::vector<finding>& fs) {
  std::string o = "verdict (the paper's findings on this run; rules in docs/study.md)\n";
  for (const auto& f : fs) {
    char b[160];
    std::snprintf(b, sizeof b, "%-3s %-15s %s\n", f.id.c_str(), f.verdict.c_str(), f.claim.c_str());
    o += b;
    if (!f.evidence.empty()) o += "    " + f.evidence + "\n";
  }
  return o;
}

// Writes every output into c.out and returns the table; throws rlvr::io_error naming the first
// file that could not be written (nothing is reported written that was not).
//! Every run's summary (main methods, base first, and extras), with stability assessed.
struct summaries {
  std::vector<method_summary> mains, extras;
};
inline summaries summarise_all(const results& r, const config& c) {
  summaries out;
  for (const auto& m : r.methods) out.mains.push_back(summarise(r, m, c));
  for (const auto& m : r.extras) out.extras.push_back(summarise(r, m, c));
  const index_t k_max = ks_for(c.samples).back();
  const auto base =
      std::find_if(out.mains.begin(), out.mains.end(), [](const method_summary& s) { return s.name == "base"; });
  if (base != out.mains.end()) {
    for (auto& s : out.mains)
      if (s.name != "base") s.stab = assess_stability(s, *base, k_max);
    for (auto& s : out.extras) s.stab = assess_stability(s, *base, k_max);
  }
  return out;
}

inline std::string write_outputs(const results& r, const config& c) {
  const summaries all = summarise_all(r, c);
  const std::vector<method_summary>&mains = all.mains, &extras = all.extras;
  const index_t k_max = ks_for(c.samples).back();
  make_dirs(c.out, "output");
  const std::vector<finding> fs = !mains.empty() ? verdicts(mains, k_max) : std::vector<finding>{};
  nlohmann::ordered_json j = results_json(r, mains, extras, c);
  if (mains.size() > 1) {
    nlohmann::ordered_json v = nlohmann::ordered_json::array();
    for (const auto& f : fs) v.push_back({{"id", f.id}, {"claim", f.claim}, {"verdict", f.verdict}, {"evidence", f.evidence}});
    j["verdict"] = v;
  }
  write_file(c.out / "results.json", j.dump(2) + "\n");
  write_file(c.out / "curves.csv", curves_csv(r));
  write_plots(c.out, r, mains);
  std::string t = table(mains, c);
  if (mains.size() > 1 && !fs.empty()) t += "\n" + verdict_block(fs);
  if (!extras.empty()) {
    std::vector<method_summary> with_base{mains.front()};
    with_base.insert(with_base.end(), extras.begin(), extras.end());
    t += "\nBeyond the paper:\n" + table(with_base, c);
  }
  write_file(c.out / "table.txt", t);
  return t;
}

} // namespace study
