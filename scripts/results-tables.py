#!/usr/bin/env python3
"""Renders the study's tables in the docs from committed results files, so that no number of
docs/results.md is typed by hand (issue 17, item 8).

Marker scheme. A generated region is

    <!-- results:PATH:KIND -->            (or <!-- results:PATH:KIND:ROWS -->)
    ...generated markdown...
    <!-- /results -->

each marker alone on its line. PATH is the results file, relative to the repository root (so
the page records which file every table comes from); KIND is one of

  pass_at_k         Pass@k (%) "mean [lo, hi]" per method (results.json order, base first), k =
                    1, 2, 4, ... k_max, then greedy accuracy (%) and held-out entropy (nats)
  delta             method - base (points), paired; `*` = the 95 % interval excludes 0
  stability         per method and seed: Pass@1, Pass@k_max, entropy, collapsed; then one
                    collapse-rate line per method (needs each method's "stability" object)
  extras            the "extras" runs: method - base per k, then greedy (%) and entropy
  extras_pass_at_k  the "extras" runs' Pass@k table (base first)
  config            one paragraph from results.json's "config"
  verdict           the paper's findings F1-F5 as judged by rlvr-study (results.json "verdict")
  mass_flow         each method's mass-flow diagnostic ("mass_flow": means over measured steps)
  calibration       PATH is an index {"runs": [results.json paths relative to it]}: one row per
                    run with its task options, mix, regime, seeds and the base's Pass@1 and
                    Pass@k_max (the base-only runs that chose the study's defaults)
  regime_map        one row per cell and method of a regimes.json (schema: render_regime_map)

ROWS (optional; pass_at_k, delta, stability, extras, extras_pass_at_k) is a comma-separated list
of method names, looked up among the main methods and then among "extras"; it replaces the
default rows (a main method may so appear in the extras table, next to its variants).

    python3 scripts/results-tables.py              # rewrite every region of the scanned pages
    python3 scripts/results-tables.py --check      # exit 1 listing every stale or broken region
    python3 scripts/results-tables.py --selftest   # the renderer's own tests (tests/docs/)
    python3 scripts/results-tables.py [--check] PAGE...   # only these pages

Scanned pages: every *.md under docs/ and examples/, and the top-level *.md files.
scripts/sync-docs.py calls this module, so `python3 scripts/sync-docs.py [--check]` covers
these regions together with the benchmark figures (ctest docs:figures_in_sync).

A missing results file, a missing key (named with its path in the file), an unknown kind, an
unclosed marker or a region whose text differs from its rendering all make --check fail.
"""
import argparse
import json
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

BEGIN = re.compile(r"^<!-- results:([^:\s]+):([a-z_]+)(?::(\S+))? -->$")
END = "<!-- /results -->"
MINUS = "\u2212"  # typographic minus, as in the hand-written tables


class RenderError(Exception):
    """A results file that cannot be rendered: missing file, missing key, bad value."""


# ---- access with clear errors --------------------------------------------------------------------
class Doc:
    """A loaded JSON file; get() names the file and the full key path in its errors."""

    def __init__(self, rel, root=ROOT):
        self.rel = rel
        path = os.path.join(root, rel)
        if not os.path.isfile(path):
            raise RenderError(f"{rel}: results file not found")
        try:
            with open(path, encoding="utf-8") as f:
                self.data = json.load(f)
        except json.JSONDecodeError as e:
            raise RenderError(f"{rel}: not valid JSON ({e})") from None

    def get(self, obj, where, *keys):
        for k in keys:
            where = f"{where}[{k}]" if isinstance(k, int) else (f"{where}.{k}" if where else str(k))
            if isinstance(k, int):
                if not isinstance(obj, list) or not -len(obj) <= k < len(obj):
                    raise RenderError(f"{self.rel}: missing key '{where}'")
            elif not isinstance(obj, dict) or k not in obj:
                raise RenderError(f"{self.rel}: missing key '{where}'")
            obj = obj[k]
        return obj

    def num(self, obj, where, *keys):
        v = self.get(obj, where, *keys)
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise RenderError(f"{self.rel}: key '{where}.{'.'.join(map(str, keys))}' is not a number")
        return float(v)


# ---- number formats ------------------------------------------------------------------------------
def pct(x):
    return f"{100.0 * x:.1f}"


def signed_points(x):
    return f"{100.0 * x:+.1f}".replace("-", MINUS)


def interval_pct(d, iv, where):
    return f"{pct(d.num(iv, where, 'mean'))} [{pct(d.num(iv, where, 'ci_low'))}, {pct(d.num(iv, where, 'ci_high'))}]"


def significant(d, iv, where):
    return d.num(iv, where, "ci_low") > 0 or d.num(iv, where, "ci_high") < 0


def delta_cell(d, iv, where, with_interval=False):
    s = signed_points(d.num(iv, where, "mean")) + ("*" if significant(d, iv, where) else "")
    if with_interval:
        s += f" [{signed_points(d.num(iv, where, 'ci_low'))}, {signed_points(d.num(iv, where, 'ci_high'))}]"
    return s


def with_ci(d, m, where, key, fmt):
    """`key` formatted, with `key_ci` ([lo, hi]) when the file has it."""
    v = fmt(d.num(m, where, key))
    if isinstance(m, dict) and f"{key}_ci" in m:
        lo, hi = d.num(m, where, f"{key}_ci", 0), d.num(m, where, f"{key}_ci", 1)
        v += f" [{fmt(lo)}, {fmt(hi)}]"
    return v


def row(cells):
    return "| " + " | ".join(cells) + " |"


def header(cells):
    return row(cells) + "\n" + "|" + "---|" * len(cells)


# ---- results.json --------------------------------------------------------------------------------
NOT_METHODS = ("extras", "config", "verdict")


def main_methods(d):
    names = [k for k in d.get(d.data, "") if k not in NOT_METHODS]
    if "base" not in names:
        raise RenderError(f"{d.rel}: missing key 'base'")
    return ["base"] + [n for n in names if n != "base"]


def lookup(d, name):
    """(method object, its key path) among the main methods, then the extras."""
    if name in d.data and name not in NOT_METHODS:
        return d.data[name], name
    extras = d.data.get("extras", {})
    if isinstance(extras, dict) and name in extras:
        return extras[name], f"extras.{name}"
    raise RenderError(f"{d.rel}: missing key '{name}' (neither a method nor an extras run)")


def ks_of(d, rows):
    """The k of pass_at_k, ascending; every row must have the same."""
    ks = None
    for _, m, where in rows:
        these = sorted(int(k) for k in d.get(m, where, "pass_at_k"))
        if ks is None:
            ks = these
        elif these != ks:
            raise RenderError(f"{d.rel}: '{where}.pass_at_k' has k = {these}, '{rows[0][2]}.pass_at_k' {ks}")
    if not ks:
        raise RenderError(f"{d.rel}: '{rows[0][2]}.pass_at_k' is empty")
    return ks


def resolve_rows(d, spec, default):
    names = spec.split(",") if spec else default
    return [(n, *lookup(d, n)) for n in names]


def render_pass_at_k(d, rows):
    ks = ks_of(d, rows)
    out = [header(["method"] + [f"k={k}" for k in ks] + ["greedy", "entropy"])]
    for name, m, where in rows:
        cells = [interval_pct(d, d.get(m, where, "pass_at_k", str(k)), f"{where}.pass_at_k.{k}") for k in ks]
        cells.append(with_ci(d, m, where, "greedy_accuracy", pct))
        cells.append(with_ci(d, m, where, "entropy", lambda x: f"{x:.3f}"))
        out.append(row([name] + cells))
    return "\n".join(out)


def render_delta(d, rows, extra_columns=False, title="method \u2212 base (points)"):
    rows = [r for r in rows if r[0] != "base"]
    if not rows:
        raise RenderError(f"{d.rel}: no method other than base to compare")
    ks = ks_of(d, rows)
    cols = [title] + [f"k={k}" for k in ks] + (["greedy (%)", "entropy"] if extra_columns else [])
    out = [header(cols)]
    for name, m, where in rows:
        cells = [delta_cell(d, d.get(m, where, "delta_vs_base", str(k)), f"{where}.delta_vs_base.{k}") for k in ks]
        if extra_columns:
            cells += [pct(d.num(m, where, "greedy_accuracy")), f"{d.num(m, where, 'entropy'):.3f}"]
        out.append(row([name] + cells))
    return "\n".join(out)


def render_stability(d, rows):
    rows = [r for r in rows if r[0] != "base"]
    if not rows:
        raise RenderError(f"{d.rel}: no method other than base to assess")
    k_max = None
    body, rates = [], []
    for name, m, where in rows:
        st = d.get(m, where, "stability")
        sw = f"{where}.stability"
        k = int(d.num(st, sw, "k_max"))
        if k_max is None:
            k_max = k
        elif k != k_max:
            raise RenderError(f"{d.rel}: '{sw}.k_max' is {k}, the first method's {k_max}")
        per_seed = d.get(st, sw, "per_seed")
        if not isinstance(per_seed, dict) or not per_seed:
            raise RenderError(f"{d.rel}: '{sw}.per_seed' is empty")
        for seed in sorted(per_seed, key=lambda s: int(s) if s.isdigit() else s):
            e, ew = per_seed[seed], f"{sw}.per_seed.{seed}"
            p1, pk = d.num(e, ew, "pass_at_1"), d.num(e, ew, "pass_at_k_max")
            ent = d.num(e, ew, "entropy")
            if d.get(e, ew, "collapsed"):
                why = []
                if d.get(e, ew, "pass_collapse"):
                    why.append(f"Pass@{k} {signed_points(pk - d.num(e, ew, 'base_pass_at_k_max'))} points vs base")
                if d.get(e, ew, "entropy_collapse"):
                    why.append(f"entropy {ent:.3f} < {d.num(e, ew, 'base_entropy'):.3f} / 5")
                flag = "**yes**" + (f" ({'; '.join(why)})" if why else "")
            else:
                d.get(e, ew, "pass_collapse"), d.get(e, ew, "entropy_collapse")  # present, or fail
                flag = "no"
            body.append(row([name, str(seed), pct(p1), pct(pk), f"{ent:.3f}", flag]))
        bad = d.get(st, sw, "collapsed_seeds")
        rate = d.num(st, sw, "collapse_rate")
        line = f"- {name}: {len(bad)}/{len(per_seed)} seeds collapsed ({100.0 * rate:.0f} %"
        line += (f"; seed{'s' if len(bad) > 1 else ''} {', '.join(str(s) for s in bad)})" if bad else ")")
        rates.append(line)
    out = [header(["method", "seed", "Pass@1", f"Pass@{k_max}", "entropy", "collapsed"])] + body
    out += ["", f"Collapsed: Pass@{k_max} more than 10 points below the seed's base, or entropy below 1/5 of "
                "the base's. Collapse rate per method:", ""] + rates
    return "\n".join(out)


def fmt_value(v):
    if isinstance(v, float):
        return f"{v:g}"
    if isinstance(v, list):
        return ", ".join(fmt_value(x) for x in v)
    return str(v)


def render_config(d):
    c = d.get(d.data, "", "config")
    task = d.get(c, "config", "task")
    name = d.get(task, "config.task", "name")
    params = ", ".join(f"{k} = {fmt_value(v)}" for k, v in task.items() if k not in ("name", "fingerprint"))
    ev = d.get(c, "config", "evaluation")
    seeds = d.get(c, "config", "seeds")
    if not isinstance(seeds, list):
        raise RenderError(f"{d.rel}: key 'config.seeds' is not a list")
    parts = [f"Task `{name}`" + (f" ({params})" if params else "")]
    if "model" in c:
        parts.append("model " + ", ".join(f"{k} = {fmt_value(v)}" for k, v in c["model"].items()))
    if "pretraining" in c:
        p = c["pretraining"]
        parts.append("pretraining " + ", ".join(f"{k} = {fmt_value(v)}" for k, v in p.items()))
    if "rl" in c:
        parts.append("RL " + ", ".join(f"{k} = {fmt_value(v)}" for k, v in c["rl"].items()))
    parts.append(f"{len(seeds)} seeds ({fmt_value(seeds)})")
    e = (f"{fmt_value(d.get(ev, 'config.evaluation', 'problems'))} held-out problems, "
         f"n = {fmt_value(d.get(ev, 'config.evaluation', 'samples'))} samples per problem at "
         f"T = {fmt_value(d.get(ev, 'config.evaluation', 'temperature'))}")
    if "top_p" in ev:
        e += f", top-p = {fmt_value(ev['top_p'])}"
    if "regime" in ev:
        e += f", evaluation regime {fmt_value(ev['regime'])}"
    parts.append(e)
    if "interval" in ev:
        parts.append(f"intervals: {ev['interval']}"
                     + (f" ({ev['bootstrap_resamples']} resamples)" if "bootstrap_resamples" in ev else ""))
    head = "Configuration"
    if "preset" in c:
        head += f" (preset `{c['preset']}`"
        if isinstance(c.get("rlvr"), dict) and "version" in c["rlvr"]:
            head += f", rlvr {c['rlvr']['version']}"
        head += ")"
    return f"{head}, from `{d.rel}`: " + "; ".join(parts) + "."


def render_verdict(d):
    v = d.get(d.data, "", "verdict")
    if not isinstance(v, list) or not v:
        raise RenderError(f"{d.rel}: key 'verdict' is not a non-empty list")
    out = [header(["finding", "claim (the paper)", "here", "evidence (points; 95 % paired intervals)"])]
    for i, f in enumerate(v):
        w = f"verdict[{i}]"
        out.append(row([str(d.get(f, w, "id")), str(d.get(f, w, "claim")), f"**{d.get(f, w, 'verdict')}**",
                        re.sub(r"(?<![\w.])-(?=\d)", "\u2212", str(d.get(f, w, "evidence")).replace(" - ", " \u2212 "))]))
    return "\n".join(out)


MASS_FLOW_COLUMNS = [("nsr_mass_moved", "NSR side: mass moved / token"), ("nsr_spearman", "NSR side: Spearman \u03c1"),
                     ("nsr_tv", "NSR side: TV"), ("psr_mass_moved", "PSR side: mass moved / token"),
                     ("psr_spearman", "PSR side: Spearman \u03c1"), ("psr_tv", "PSR side: TV")]


def render_mass_flow(d, rows):
    out = [header(["method"] + [t for _, t in MASS_FLOW_COLUMNS])]
    for name, m, where in rows:
        if name == "base":
            continue
        mf = d.get(m, where, "mass_flow")
        cells = []
        for key, _ in MASS_FLOW_COLUMNS:
            if key not in mf:
                cells.append("\u2013")
                continue
            v = f"{d.num(mf, where + '.mass_flow', key):.4f}"
            cells.append("0.0000" if v == "-0.0000" else v.replace("-", "\u2212"))
        out.append(row([name] + cells))
    return "\n".join(out)


def render_calibration(d, root):
    runs = d.get(d.data, "", "runs")
    if not isinstance(runs, list) or not runs:
        raise RenderError(f"{d.rel}: key 'runs' is not a non-empty list")
    out = None
    for i, rel in enumerate(runs):
        r = Doc(os.path.join(os.path.dirname(d.rel), str(rel)), root)
        c = r.get(r.data, "", "config")
        task = r.get(c, "config", "task")
        opts = ", ".join(f"{k} = {fmt_value(v)}" for k, v in task.items()
                         if k not in ("name", "fingerprint", "wrong_fraction"))
        base = r.get(r.data, "", "base", "pass_at_k")
        k_max = max(int(k) for k in base)
        if out is None:
            out = [header(["run", "task", "options", "wrong", "eval", "seeds", "base Pass@1", f"base Pass@{k_max}"])]
        seeds = r.get(c, "config", "seeds")
        out.append(row([f"`{os.path.dirname(str(rel))}`", str(r.get(task, "config.task", "name")), opts,
                        f"{100.0 * r.num(task, 'config.task', 'wrong_fraction'):.0f} %",
                        str(r.get(c, "config", "evaluation", "regime")), fmt_value(seeds),
                        interval_pct(r, r.get(base, "base.pass_at_k", "1"), "base.pass_at_k.1"),
                        interval_pct(r, r.get(base, "base.pass_at_k", str(k_max)), f"base.pass_at_k.{k_max}")]))
    return "\n".join(out)


# ---- regimes.json --------------------------------------------------------------------------------
def render_regime_map(d):
    """regimes.json: {"config": {...}, "cells": [{"task", "wrong_fraction", "eval", "base":
    {"pass_at_K": {mean, ci_low, ci_high}, ..., "entropy"}, "methods": {name: {"delta_K": {...},
    ..., "collapse_rate", "collapsed_seeds"}}}], "rule": {free text fields, optional}}.
    The K columns are those of the first cell; every cell must have the same."""
    cells = d.get(d.data, "", "cells")
    if not isinstance(cells, list) or not cells:
        raise RenderError(f"{d.rel}: key 'cells' is not a non-empty list")
    first_base = d.get(cells[0], "cells[0]", "base")
    ks = sorted(int(k[len("pass_at_"):]) for k in first_base if re.fullmatch(r"pass_at_\d+", k))
    if not ks:
        raise RenderError(f"{d.rel}: missing key 'cells[0].base.pass_at_<k>'")
    out = [header(["task", "mix (wrong)", "eval"] + [f"base Pass@{k}" for k in ks] + ["method"]
                  + [f"\u0394@{k}" for k in ks] + ["collapses"])]
    for i, cell in enumerate(cells):
        w = f"cells[{i}]"
        task = str(d.get(cell, w, "task"))
        mix = f"{100.0 * d.num(cell, w, 'wrong_fraction'):.0f} %"
        ev = str(d.get(cell, w, "eval"))
        base = d.get(cell, w, "base")
        bcells = [interval_pct(d, d.get(base, f"{w}.base", f"pass_at_{k}"), f"{w}.base.pass_at_{k}") for k in ks]
        d.num(base, f"{w}.base", "entropy")
        methods = d.get(cell, w, "methods")
        if not isinstance(methods, dict) or not methods:
            raise RenderError(f"{d.rel}: key '{w}.methods' is empty")
        for name, m in methods.items():
            mw = f"{w}.methods.{name}"
            dcells = [delta_cell(d, d.get(m, mw, f"delta_{k}"), f"{mw}.delta_{k}", with_interval=True) for k in ks]
            rate = d.num(m, mw, "collapse_rate")
            bad = d.get(m, mw, "collapsed_seeds")
            if not isinstance(bad, list):
                raise RenderError(f"{d.rel}: key '{mw}.collapsed_seeds' is not a list")
            coll = f"{100.0 * rate:.0f} %" + (f" (seed{'s' if len(bad) > 1 else ''} {', '.join(map(str, bad))})"
                                               if bad else "")
            out.append(row([task, mix, ev] + bcells + [name] + dcells + [coll]))
    # the findings' verdicts per cell, when the map recorded them
    if all(isinstance(c, dict) and isinstance(c.get("verdict"), dict) for c in cells):
        fids = list(cells[0]["verdict"])
        out += ["", header(["task", "mix (wrong)", "eval", f"base Pass@{ks[-1]}"] + fids)]
        for i, cell in enumerate(cells):
            w = f"cells[{i}]"
            base = cell["base"]
            out.append(row([str(cell["task"]), f"{100.0 * d.num(cell, w, 'wrong_fraction'):.0f} %", str(cell["eval"]),
                            pct(d.num(d.get(base, f"{w}.base", f"pass_at_{ks[-1]}"), f"{w}.base.pass_at_{ks[-1]}", "mean"))]
                           + [str(d.get(cell["verdict"], f"{w}.verdict", f)) for f in fids]))
    rule = d.data.get("rule")
    if isinstance(rule, dict) and rule:
        out += ["", "Rule: " + "; ".join(f"{k}: {fmt_value(v)}" for k, v in rule.items()) + "."]
    elif rule is not None and not isinstance(rule, dict):
        raise RenderError(f"{d.rel}: key 'rule' is not an object")
    return "\n".join(out)


# ---- dispatch ------------------------------------------------------------------------------------
ROW_KINDS = {"pass_at_k", "delta", "stability", "extras", "extras_pass_at_k", "mass_flow"}
KINDS = ROW_KINDS | {"config", "regime_map", "verdict", "calibration"}


def render(path, kind, rows_spec=None, root=ROOT):
    """The markdown of one region (without its markers); raises RenderError."""
    if kind not in KINDS:
        raise RenderError(f"{path}: unknown table kind '{kind}' (one of {', '.join(sorted(KINDS))})")
    if rows_spec and kind not in ROW_KINDS:
        raise RenderError(f"{path}: kind '{kind}' takes no row list")
    d = Doc(path, root)
    if not isinstance(d.data, dict):
        raise RenderError(f"{path}: the top level is not an object")
    if kind == "regime_map":
        return render_regime_map(d)
    if kind == "config":
        return render_config(d)
    if kind == "verdict":
        return render_verdict(d)
    if kind == "calibration":
        return render_calibration(d, root)
    if kind in ("extras", "extras_pass_at_k"):
        ex = d.get(d.data, "", "extras")
        if not isinstance(ex, dict) or not ex:
            raise RenderError(f"{path}: key 'extras' is empty")
        default = list(ex) if kind == "extras" else ["base"] + list(ex)
    else:
        default = main_methods(d)
    rows = resolve_rows(d, rows_spec, default)
    if kind == "pass_at_k" or kind == "extras_pass_at_k":
        return render_pass_at_k(d, rows)
    if kind == "delta":
        return render_delta(d, rows)
    if kind == "mass_flow":
        return render_mass_flow(d, rows)
    if kind == "extras":
        return render_delta(d, rows, extra_columns=True, title="run \u2212 base (points)")
    return render_stability(d, rows)


def process(text, page, root=ROOT):
    """(new text, problems): every region re-rendered; problems lists stale and broken regions."""
    lines = text.split("\n")
    out, problems = [], []
    i = 0
    while i < len(lines):
        m = BEGIN.match(lines[i])
        if not m:
            if lines[i] == END:
                problems.append(f"{page}:{i + 1}: {END} without an opening results marker")
            out.append(lines[i])
            i += 1
            continue
        j = i + 1
        while j < len(lines) and lines[j] != END and not BEGIN.match(lines[j]):
            j += 1
        if j == len(lines) or lines[j] != END:
            problems.append(f"{page}:{i + 1}: {lines[i]} has no {END} before the next marker or the end")
            out.append(lines[i])
            i += 1
            continue
        path, kind, spec = m.groups()
        old = "\n".join(lines[i + 1:j])
        try:
            new = render(path, kind, spec, root)
        except RenderError as e:
            problems.append(f"{page}:{i + 1}: {e}")
            new = old  # a broken region is left as it is
        else:
            if new != old:
                problems.append(f"{page}:{i + 1}: region {path}:{kind} differs from its rendering")
        out.append(lines[i])
        out.extend(new.split("\n") if new else [])
        out.append(END)
        i = j + 1
    return "\n".join(out), problems


def pages(root=ROOT):
    found = [f for f in sorted(os.listdir(root)) if f.endswith(".md")]
    for top in ("docs", "examples"):
        for dirpath, dirnames, files in os.walk(os.path.join(root, top)):
            dirnames[:] = sorted(n for n in dirnames if not n.startswith("."))
            found += [os.path.relpath(os.path.join(dirpath, f), root) for f in sorted(files) if f.endswith(".md")]
    return found


def sync(check, only=None, root=ROOT, log=print):
    """Re-renders the regions of `only` (default: pages()); returns the number of problems.
    Without check, stale regions are rewritten (broken ones are reported, not touched)."""
    n, stale = 0, 0
    for page in only or pages(root):
        path = os.path.join(root, page)
        with open(path, encoding="utf-8") as f:
            text = f.read()
        new, problems = process(text, page, root)
        broken = [p for p in problems if "differs from its rendering" not in p]
        for p in problems:
            if check or p in broken:
                log(f"results-tables: {p}")
        n += len(problems) if check else len(broken)
        stale += len(problems) - len(broken)
        if not check and new != text:
            with open(path, "w", encoding="utf-8") as f:
                f.write(new)
            log(f"results-tables: updated {page}")
    if check and stale:
        log("results-tables: run `python3 scripts/sync-docs.py` to regenerate the stale regions")
    return n


# ---- self-test -----------------------------------------------------------------------------------
def selftest():
    """The renderer against tests/docs/: the golden page renders to itself, and each broken
    input fails with a message that names the file and the key."""
    fails = []

    def expect(cond, what):
        if not cond:
            fails.append(what)

    golden = "tests/docs/expected.md"
    with open(os.path.join(ROOT, golden), encoding="utf-8") as f:
        text = f.read()
    new, problems = process(text, golden)
    expect(not problems and new == text, f"{golden} is not what the renderer produces: {problems}")
    for kind in ("pass_at_k", "delta", "stability", "extras", "extras_pass_at_k", "config", "verdict", "mass_flow"):
        expect(f"results:tests/docs/results.json:{kind} -->" in text, f"{golden} has no {kind} region")
    expect("results:tests/docs/regimes.json:regime_map -->" in text, f"{golden} has no regime_map region")

    # spot checks against numbers worked out by hand from the fixture
    expect("| base | 22.1 [19.7, 24.6] |" in text, "pass_at_k: base's k=1 cell")
    expect("| nsr | +5.2* | +0.7 | \u22122.4* |" in text, "delta: signs, typographic minus and *")
    expect("**yes** (Pass@4 \u221212.0 points vs base)" in text, "stability: a pass collapse")
    expect("- nsr: 1/2 seeds collapsed (50 %; seed 1)" in text, "stability: collapse-rate line")
    expect("| F2 | PSR lifts Pass@1 and falls below the base at large k | **partly** | PSR \u2212 base: k=1" in text,
           "verdict: a row, its bold verdict and the typographic minus")
    expect("| nsr | 0.0123 | 0.8100 | 0.2500 | 0.0040 | \u2013 | \u2013 |" in text, "mass_flow: values and a missing side")

    # a stale number is found
    stale = text.replace("22.1 [19.7, 24.6]", "22.2 [19.7, 24.6]", 1)
    _, problems = process(stale, golden)
    expect(len(problems) == 1 and "differs from its rendering" in problems[0], f"stale region: {problems}")

    def fails_with(path, kind, needle):
        try:
            render(path, kind)
        except RenderError as e:
            expect(needle in str(e), f"{path}:{kind}: message '{e}' does not contain '{needle}'")
        else:
            fails.append(f"{path}:{kind}: rendered, should have failed ({needle})")

    fails_with("tests/docs/no-such.json", "pass_at_k", "tests/docs/no-such.json: results file not found")
    fails_with("tests/docs/results.json", "no_such_kind", "unknown table kind 'no_such_kind'")
    fails_with("tests/docs/broken-results.json", "pass_at_k", "missing key 'psr.pass_at_k.2.ci_high'")
    fails_with("tests/docs/broken-results.json", "stability", "missing key 'psr.stability'")
    fails_with("tests/docs/broken-results.json", "config", "missing key 'config.evaluation.samples'")
    fails_with("tests/docs/broken-results.json", "verdict", "missing key 'verdict'")
    cal = render("tests/docs/calibration/index.json", "calibration")
    expect("| `..` | zp_walk | nodes = 53 | 75 % |" in cal and "| 22.1 [19.7, 24.6] |" in cal,
           f"calibration: a row from the index's run: {cal}")
    fails_with("tests/docs/results.json", "calibration", "missing key 'runs'")
    fails_with("tests/docs/broken-results.json", "mass_flow", "missing key 'psr.mass_flow'")
    fails_with("tests/docs/broken-regimes.json", "regime_map", "missing key 'cells[1].methods.nsr.delta_4'")

    # a marker referencing a missing file, and an unclosed marker, are problems too
    _, p = process("<!-- results:tests/docs/gone.json:delta -->\nx\n<!-- /results -->", "t.md")
    expect(len(p) == 1 and "gone.json: results file not found" in p[0], f"missing file: {p}")
    _, p = process("<!-- results:tests/docs/results.json:delta -->\nx\n", "t.md")
    expect(len(p) == 1 and "has no <!-- /results -->" in p[0], f"unclosed marker: {p}")

    for f in fails:
        print(f"results-tables selftest: FAIL {f}")
    print(f"results-tables selftest: {'ok' if not fails else f'{len(fails)} failure(s)'}")
    return 1 if fails else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--check", action="store_true", help="exit 1 if a region is stale or broken")
    ap.add_argument("--selftest", action="store_true", help="test the renderer on tests/docs/")
    ap.add_argument("pages", nargs="*", help="pages relative to the repository root (default: all)")
    a = ap.parse_args()
    if a.selftest:
        return selftest()
    return 1 if sync(a.check, a.pages or None) else 0


if __name__ == "__main__":
    sys.exit(main())
