#!/usr/bin/env python3
"""Copies figures from committed outputs into the docs, between markers, so that no number in
the docs is typed by hand:

  docs/distributed.md  <!-- dist-scaling-begin/end -->       the table of bench/results/dist-scaling.md
                       <!-- dist-cost-begin/end -->          the headline of bench/results/dist-cost-model.md
  docs/performance.md  <!-- perf-dist-scaling-begin/end -->  the table of bench/results/dist-scaling.md
                       <!-- perf-lm-head-begin/end -->       the medians of bench/policy/results/lm_head.txt
                       <!-- perf-python-begin/end -->        bench/python/bench_loss.out.md
                       <!-- perf-fused-linear-torch-begin/end -->  the run lines and table of
                                                   bench/objectives/results/fused_linear_torch.md

and renders the study's tables (docs/results.md) from committed results files through
scripts/results-tables.py (its docstring: the <!-- results:PATH:KIND --> marker scheme):

    python3 scripts/sync-docs.py           # rewrite the regions
    python3 scripts/sync-docs.py --check   # exit 1 if a region differs from its source (a ctest)
"""
import argparse
import importlib.util
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def read(rel):
    with open(os.path.join(ROOT, rel), encoding="utf-8") as f:
        return f.read()


def table(text):
    return "\n".join(l for l in text.splitlines() if l.startswith("|"))


def section(text, title):
    m = re.search(r"^## " + re.escape(title) + r"\n(.*?)(?=^## |\Z)", text, re.S | re.M)
    if not m:
        sys.exit(f"sync-docs: no '## {title}' section")
    return m.group(1).strip()


def lm_head_table(text):
    """BM_update_lm_head medians (bench_policy): V, materialised and fused wall/CPU ms, the ratio."""
    rows = {}
    for l in text.splitlines():
        m = re.match(r"BM_update_lm_head/V:(\d+)/fused:([01])/real_time_median\s+([\d.]+) ms\s+([\d.]+) ms", l)
        if m:
            rows.setdefault(int(m.group(1)), {})[m.group(2)] = (float(m.group(3)), float(m.group(4)))
    if not rows:
        sys.exit("sync-docs: no BM_update_lm_head medians in bench/policy/results/lm_head.txt")
    out = ["| V | materialised: wall ms (CPU ms) | fused: wall ms (CPU ms) | materialised / fused (wall) |",
           "|---:|---:|---:|---:|"]
    for v in sorted(rows):
        a, b = rows[v]["0"], rows[v]["1"]
        out.append(f"| {v} | {a[0]:g} ({a[1]:g}) | {b[0]:g} ({b[1]:g}) | {a[0] / b[0]:.2f} |")
    return "\n".join(out)


def run_and_first_table(text):
    """The '- date/machine/CI/threads' lines and the first Markdown table of a results file."""
    lines = text.splitlines()
    head = [l for l in lines if re.match(r"- (date|machine|CI on this machine during the run|threads):", l)]
    first = next(i for i, l in enumerate(lines) if l.startswith("|"))
    end = next((i for i in range(first, len(lines)) if not lines[i].startswith("|")), len(lines))
    return "\n".join(head + [""] + lines[first:end])


REGIONS = [
    ("docs/distributed.md", "dist-scaling", lambda: table(read("bench/results/dist-scaling.md")),
     "bench/results/dist-scaling.md"),
    ("docs/distributed.md", "dist-cost", lambda: section(read("bench/results/dist-cost-model.md"), "Headline"),
     "bench/results/dist-cost-model.md"),
    ("docs/performance.md", "perf-dist-scaling", lambda: table(read("bench/results/dist-scaling.md")),
     "bench/results/dist-scaling.md"),
    ("docs/performance.md", "perf-python", lambda: read("bench/python/bench_loss.out.md").strip(),
     "bench/python/bench_loss.out.md"),
    ("docs/performance.md", "perf-lm-head", lambda: lm_head_table(read("bench/policy/results/lm_head.txt")),
     "bench/policy/results/lm_head.txt"),
    ("docs/performance.md", "perf-fused-linear-torch",
     lambda: run_and_first_table(read("bench/objectives/results/fused_linear_torch.md")),
     "bench/objectives/results/fused_linear_torch.md"),
]


def results_tables():
    """scripts/results-tables.py as a module (its name has a dash)."""
    spec = importlib.util.spec_from_file_location("results_tables", os.path.join(ROOT, "scripts", "results-tables.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--check", action="store_true")
    a = ap.parse_args()
    stale = []
    pages = {}
    for page, name, body, src in REGIONS:
        text = pages.get(page) or read(page)
        begin, end = f"<!-- {name}-begin -->", f"<!-- {name}-end -->"
        i, j = text.find(begin), text.find(end)
        if i < 0 or j < i:
            sys.exit(f"sync-docs: {page} has no {begin} ... {end} region")
        want = begin + "\n" + body() + "\n" + end
        if text[i:j + len(end)] != want:
            stale.append(f"{page}: region {name} differs from {src}")
            text = text[:i] + want + text[j + len(end):]
        pages[page] = text
    if a.check:
        for s in stale:
            print(f"sync-docs: {s} (run python3 scripts/sync-docs.py)")
    else:
        for page, text in pages.items():
            with open(os.path.join(ROOT, page), "w", encoding="utf-8") as f:
                f.write(text)
        for s in stale:
            print(f"sync-docs: updated {s.split(':')[0]} ({s.split(': ', 1)[1]})")
    # the study's tables: stale regions rewritten (or, with --check, listed); broken ones fail
    broken = results_tables().sync(a.check)
    return 1 if (a.check and stale) or broken else 0


if __name__ == "__main__":
    sys.exit(main())
