#pragma once
// rlvr-study --regime-map: where does negative reinforcement win? A grid of cells
//   task × data mix (the task's registered map_wrong_fractions: base coverage levels) × evaluation
//   regime (in-distribution, harder),
// each a whole study (every method, every seed) written to <out>/map/<cell>/ as a default run's
// outputs are, then summarised in <out>/regimes.json and <out>/regimes.svg: per cell the base's
// Pass@1 and Pass@k_max, each method's paired difference to the base at k = 1 and k = k_max,
// its collapse rate and the verdict of each finding F1–F5; and per finding the simplest rule that
// predicts in which cells it holds (a one-condition rule on the base's Pass@k_max, the regime or
// the task, chosen by how many cells it gets right; ties go to the earlier candidate).
// Base models are shared across the regimes of a (task, mix) through the cache; every RL run is
// checkpointed, so a killed map resumes.

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "report.hpp"
#include "study.hpp"

namespace study {

struct map_cell {
  std::string task, regime;
  double wrong_fraction = 0;
  std::string dir; // relative to the map's --out
  std::vector<method_summary> mains; // base first
  std::vector<finding> verdict;
  [[nodiscard]] const method_summary& base() const { return mains.front(); }
};

//! The cell's directory name: "<task>_w<mix in %>_<regime>".
inline std::string cell_dir(const std::string& task, double mix, const std::string& regime) {
  char b[32];
  std::snprintf(b, sizeof b, "_w%g_", 100.0 * mix);
  return task + b + regime;
}

//! One finding's rule: among candidate one-condition rules ("base Pass@k_max >= t" for each
//! observed level t, "< t", "regime = r", "task = x"), the one that predicts "holds" in the most
//! cells (ties: the first in that order). Returns the rule and its score as text.
inline std::string simplest_rule(const std::vector<map_cell>& cells, std::size_t f, index_t k_max) {
  struct candidate {
    std::string text;
    std::function<bool(const map_cell&)> pred;
  };
  std::vector<candidate> cs;
  std::vector<double> levels;
  for (const auto& c : cells) levels.push_back(c.base().pass.at(k_max).mean);
  std::sort(levels.begin(), levels.end());
  levels.erase(std::unique(levels.begin(), levels.end()), levels.end());
  const std::string km = std::to_string(k_max);
  cs.push_back({"in every cell", [](const map_cell&) { return true; }});
  cs.push_back({"in no cell", [](const map_cell&) { return false; }});
  for (double t : levels) {
    char b[96];
    std::snprintf(b, sizeof b, "where the base's Pass@%s >= %.1f %%", km.c_str(), 100.0 * t);
    cs.push_back({b, [t, k_max](const map_cell& c) { return c.base().pass.at(k_max).mean >= t; }});
    std::snprintf(b, sizeof b, "where the base's Pass@%s < %.1f %%", km.c_str(), 100.0 * t);
    cs.push_back({b, [t, k_max](const map_cell& c) { return c.base().pass.at(k_max).mean < t; }});
  }
  for (const char* r : {"in-distribution", "harder"})
    cs.push_back({std::string("in the ") + r + " regime", [r = std::string(r)](const map_cell& c) { return c.regime == r; }});
  std::vector<std::string> tasks;
  for (const auto& c : cells)
    if (std::find(tasks.begin(), tasks.end(), c.task) == tasks.end()) tasks.push_back(c.task);
  for (const auto& t : tasks) cs.push_back({"on " + t, [t](const map_cell& c) { return c.task == t; }});
  std::size_t best = 0, best_hits = 0, n = 0;
  for (std::size_t i = 0; i < cs.size(); ++i) {
    std::size_t hits = 0;
    n = 0;
    for (const auto& c : cells) {
      if (c.verdict.size() <= f || c.verdict[f].verdict == "not run") continue;
      ++n;
      hits += (c.verdict[f].verdict == "holds") == cs[i].pred(c) ? 1 : 0;
    }
    if (hits > best_hits) {
      best = i;
      best_hits = hits;
    }
  }
  return "holds " + cs[best].text + " (right in " + std::to_string(best_hits) + " of " + std::to_string(n) + " cells)";
}

inline nlohmann::ordered_json iv_json(const interval& iv) {
  return {{"mean", iv.mean}, {"ci_low", iv.low}, {"ci_high", iv.high}};
}

inline nlohmann::ordered_json regimes_json(const std::vector<map_cell>& cells, const config& c) {
  const index_t k_max = ks_for(c.samples).back();
  nlohmann::ordered_json j;
  nlohmann::ordered_json cfg = config_json(c);
  cfg.erase("task");
  cfg["preset"] = "regime-map";
  j["config"] = cfg;
  nlohmann::ordered_json arr = nlohmann::ordered_json::array();
  for (const auto& cell : cells) {
    nlohmann::ordered_json x;
    x["task"] = cell.task;
    x["wrong_fraction"] = cell.wrong_fraction;
    x["eval"] = cell.regime;
    x["results"] = "map/" + cell.dir + "/results.json";
    nlohmann::ordered_json b;
    b["pass_at_1"] = iv_json(cell.base().pass.at(1));
    b["pass_at_" + std::to_string(k_max)] = iv_json(cell.base().pass.at(k_max));
    b["entropy"] = cell.base().entropy.mean;
    x["base"] = b;
    nlohmann::ordered_json ms;
    for (const auto& s : cell.mains) {
      if (s.name == "base") continue;
      nlohmann::ordered_json m;
      m["delta_1"] = iv_json(s.delta.at(1));
      m["delta_" + std::to_string(k_max)] = iv_json(s.delta.at(k_max));
      m["entropy"] = s.entropy.mean;
      m["collapse_rate"] = s.stab.collapse_rate();
      m["collapsed_seeds"] = s.stab.collapsed_seeds();
      ms[s.name] = m;
    }
    x["methods"] = ms;
    nlohmann::ordered_json v;
    for (const auto& f : cell.verdict) v[f.id] = f.verdict;
    x["verdict"] = v;
    arr.push_back(x);
  }
  j["cells"] = arr;
  nlohmann::ordered_json rule;
  if (!cells.empty())
    for (std::size_t f = 0; f < cells.front().verdict.size(); ++f)
      rule[cells.front().verdict[f].id] = simplest_rule(cells, f, k_max);
  j["rule"] = rule;
  return j;
}

//! Two panels (k = 1, k = k_max): each method's paired difference to the base (points, 95 %
//! interval as a bar) against the base's Pass@k_max (%); one colour per method, one marker per
//! task (filled: in-distribution, open: harder).
inline std::string regimes_svg(const std::vector<map_cell>& cells, index_t k_max) {
  const double W = 980, H = 430, L = 60, T = 40, B = 55, PW = 330, GAP = 80;
  double x0 = 1e300, x1 = -1e300, y0 = 0, y1 = 0;
  for (const auto& c : cells) {
    x0 = std::min(x0, 100.0 * c.base().pass.at(k_max).mean);
    x1 = std::max(x1, 100.0 * c.base().pass.at(k_max).mean);
    for (const auto& s : c.mains)
      if (s.name != "base")
        for (index_t k : {index_t{1}, k_max}) {
          y0 = std::min(y0, 100.0 * s.delta.at(k).low);
          y1 = std::max(y1, 100.0 * s.delta.at(k).high);
        }
  }
  if (!(x1 >= x0)) x0 = x1 = 0;
  const axis_ticks xt = nice_ticks(x0, std::max(x1, x0 + 1.0), 6), yt = nice_ticks(y0, y1, 7);
  std::vector<std::string> tasks, methods;
  for (const auto& c : cells) {
    if (std::find(tasks.begin(), tasks.end(), c.task) == tasks.end()) tasks.push_back(c.task);
    for (const auto& s : c.mains)
      if (s.name != "base" && std::find(methods.begin(), methods.end(), s.name) == methods.end()) methods.push_back(s.name);
  }
  std::ostringstream o;
  o.precision(5);
  o << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << W << "\" height=\"" << H
    << "\" font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  o << "<text x=\"" << (L + 2 * PW + GAP) / 2 << "\" y=\"22\" text-anchor=\"middle\" font-size=\"15\">"
    << "Method minus base (points, paired 95% intervals) against the base's Pass@" << k_max << "</text>\n";
  const double methods_n = static_cast<double>(std::max<std::size_t>(methods.size(), 1));
  for (int panel = 0; panel < 2; ++panel) {
    const index_t k = panel == 0 ? 1 : k_max;
    const double ox = L + panel * (PW + GAP);
    auto px = [&](double x) { return ox + (x - xt.lo) / (xt.hi - xt.lo) * PW; };
    auto py = [&](double y) { return H - B - (y - yt.lo) / (yt.hi - yt.lo) * (H - T - B); };
    for (std::size_t i = 0; i < yt.values.size(); ++i)
      o << "<line x1=\"" << ox << "\" x2=\"" << ox + PW << "\" y1=\"" << py(yt.values[i]) << "\" y2=\"" << py(yt.values[i])
        << "\" stroke=\"" << (yt.values[i] == 0.0 ? "#888" : "#e5e5e5") << "\"/><text x=\"" << ox - 6 << "\" y=\""
        << py(yt.values[i]) + 4 << "\" text-anchor=\"end\">" << yt.labels[i] << "</text>\n";
    for (std::size_t i = 0; i < xt.values.size(); ++i)
      o << "<text x=\"" << px(xt.values[i]) << "\" y=\"" << H - B + 16 << "\" text-anchor=\"middle\">" << xt.labels[i]
        << "</text>\n";
    o << "<rect x=\"" << ox << "\" y=\"" << T << "\" width=\"" << PW << "\" height=\"" << H - T - B
      << "\" fill=\"none\" stroke=\"#333\"/>\n";
    o << "<text x=\"" << ox + PW / 2 << "\" y=\"" << H - 12 << "\" text-anchor=\"middle\">base Pass@" << k_max
      << " (%) -- panel: k = " << k << "</text>\n";
    for (const auto& c : cells) {
      const double bx = 100.0 * c.base().pass.at(k_max).mean;
      const std::size_t ti = static_cast<std::size_t>(std::find(tasks.begin(), tasks.end(), c.task) - tasks.begin());
      const bool filled = c.regime == "in-distribution";
      for (const auto& s : c.mains) {
        if (s.name == "base") continue;
        const auto mi = static_cast<double>(std::find(methods.begin(), methods.end(), s.name) - methods.begin());
        const double x = px(bx) + (mi - (methods_n - 1) / 2) * 3.0; // spread the methods of one cell
        const interval& d = s.delta.at(k);
        const char* col = color_of(s.name);
        o << "<line x1=\"" << x << "\" x2=\"" << x << "\" y1=\"" << py(100.0 * d.low) << "\" y2=\"" << py(100.0 * d.high)
          << "\" stroke=\"" << col << "\" stroke-opacity=\"0.6\"/>";
        const std::string fill = filled ? col : "white";
        if (ti % 2 == 0)
          o << "<circle cx=\"" << x << "\" cy=\"" << py(100.0 * d.mean) << "\" r=\"4\" fill=\"" << fill << "\" stroke=\""
            << col << "\"/>\n";
        else
          o << "<rect x=\"" << x - 4 << "\" y=\"" << py(100.0 * d.mean) - 4 << "\" width=\"8\" height=\"8\" fill=\"" << fill
            << "\" stroke=\"" << col << "\"/>\n";
      }
    }
  }
  o << "<text transform=\"translate(16," << (T + H - B) / 2 << ") rotate(-90)\" text-anchor=\"middle\">"
    << "method - base (points)</text>\n";
  const double lx = L + 2 * PW + GAP + 20;
  double ly = T + 10;
  for (const auto& m : methods) {
    o << "<line x1=\"" << lx << "\" x2=\"" << lx + 20 << "\" y1=\"" << ly << "\" y2=\"" << ly << "\" stroke=\""
      << color_of(m) << "\" stroke-width=\"3\"/><text x=\"" << lx + 26 << "\" y=\"" << ly + 4 << "\">" << m << "</text>\n";
    ly += 18;
  }
  ly += 8;
  for (std::size_t ti = 0; ti < tasks.size(); ++ti) {
    if (ti % 2 == 0) o << "<circle cx=\"" << lx + 10 << "\" cy=\"" << ly << "\" r=\"4\" fill=\"#555\"/>";
    else o << "<rect x=\"" << lx + 6 << "\" y=\"" << ly - 4 << "\" width=\"8\" height=\"8\" fill=\"#555\"/>";
    o << "<text x=\"" << lx + 26 << "\" y=\"" << ly + 4 << "\">" << tasks[ti] << "</text>\n";
    ly += 18;
  }
  o << "<text x=\"" << lx << "\" y=\"" << ly + 4 << "\">filled: in-distribution</text>\n";
  o << "<text x=\"" << lx << "\" y=\"" << ly + 22 << "\">open: harder</text>\n";
  o << "</svg>\n";
  return o.str();
}

//! Runs the map: for each task in `tasks`, each of its map mixes and both regimes, the study of
//! `c` (its methods, seeds and sizes; the task's default options) into <c.out>/map/<cell>/, with
//! one cache for all cells. Writes regimes.json and regimes.svg into c.out; returns the cells.
inline std::vector<map_cell> run_regime_map(const config& c, const std::vector<std::string>& tasks) {
  RLVR_EXPECTS(!tasks.empty(), config, "rlvr-study: --map-tasks is empty");
  std::vector<config> runs;
  std::vector<map_cell> cells;
  for (const auto& t : tasks) {
    const registered_task& e = find_task(t);
    for (double w : e.map_wrong_fractions)
      for (const char* regime : {"in-distribution", "harder"}) {
        config x = c;
        x.task = t;
        x.task_options = {};
        x.wrong_fraction = w;
        x.eval_regime = regime;
        x.cache_dir = cache_dir_of(c);
        map_cell cell{t, regime, w, cell_dir(t, w, regime), {}, {}};
        x.out = c.out / "map" / cell.dir;
        preflight(x); // every cell's settings before any work
        runs.push_back(std::move(x));
        cells.push_back(std::move(cell));
      }
  }
  const index_t k_max = ks_for(c.samples).back();
  for (std::size_t i = 0; i < runs.size(); ++i) {
    if (c.progress) std::printf("regime map: cell %zu of %zu: %s\n", i + 1, runs.size(), cells[i].dir.c_str());
    std::fflush(stdout);
    const results r = run(runs[i]);
    (void)write_outputs(r, runs[i]);
    cells[i].mains = summarise_all(r, runs[i]).mains;
    cells[i].verdict = verdicts(cells[i].mains, k_max);
  }
  write_file(c.out / "regimes.json", regimes_json(cells, c).dump(2) + "\n");
  write_file(c.out / "regimes.svg", regimes_svg(cells, k_max));
  return cells;
}

//! A text summary of the map (stdout).
inline std::string regimes_table(const std::vector<map_cell>& cells, index_t k_max) {
  std::ostringstream o;
  char b[200];
  std::snprintf(b, sizeof b, "%-34s %9s %9s  %-12s %8s %8s  %s\n", "cell", "base@1", "base@max", "method", "d@1",
                "d@max", "collapsed");
  o << b;
  for (const auto& c : cells) {
    for (const auto& s : c.mains) {
      if (s.name == "base") continue;
      auto sig = [](const interval& d) { return d.low > 0 || d.high < 0 ? "*" : " "; };
      std::snprintf(b, sizeof b, "%-34s %9.1f %9.1f  %-12s %+7.1f%s %+7.1f%s  %zu/%zu\n", c.dir.c_str(),
                    100.0 * c.base().pass.at(1).mean, 100.0 * c.base().pass.at(k_max).mean, s.name.c_str(),
                    100.0 * s.delta.at(1).mean, sig(s.delta.at(1)), 100.0 * s.delta.at(k_max).mean,
                    sig(s.delta.at(k_max)), s.stab.collapsed_seeds().size(), s.stab.seeds.size());
      o << b;
    }
    std::string v;
    for (const auto& f : c.verdict) v += " " + f.id + " " + f.verdict + ";";
    o << "  verdict:" << v << "\n";
  }
  if (!cells.empty())
    for (std::size_t f = 0; f < cells.front().verdict.size(); ++f)
      o << cells.front().verdict[f].id << ": " << simplest_rule(cells, f, k_max) << "\n";
  return o.str();
}

} // namespace study
