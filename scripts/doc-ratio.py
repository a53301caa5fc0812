#!/usr/bin/env python3
"""Documentation density of rlvr's public headers (issue 12: every public header >= 40%).

A header's ratio is (comment lines) / (non-blank lines), comment lines being those that start
with `//` after indentation. Public headers are include/rlvr/**/*.hpp outside `detail/`.

    python3 scripts/doc-ratio.py                 # table, worst first
    python3 scripts/doc-ratio.py --check         # exit 1 if a header is below --min (0.40) and
                                                 # not in the backlog, or below its backlog floor

The backlog (scripts/doc-ratio-backlog.txt: "<ratio> <path>" per line) lists the headers not yet
at the bar with the ratio they had when listed; a listed header may not get *less* documented,
and a header that reaches the bar must leave the list (so the list only shrinks).
"""
import argparse
import os
import sys


def ratio(path):
    lines = [l.strip() for l in open(path, encoding="utf-8")]
    body = [l for l in lines if l]
    doc = [l for l in body if l.startswith("//")]
    return len(doc) / max(1, len(body)), len(body)


def headers(root):
    base = os.path.join(root, "include", "rlvr")
    for dp, _, files in os.walk(base):
        if "/detail" in dp.replace(os.sep, "/"):
            continue
        for f in files:
            if f.endswith(".hpp"):
                p = os.path.join(dp, f)
                yield os.path.relpath(p, root).replace(os.sep, "/"), p


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", default=os.path.dirname(here))
    ap.add_argument("--min", type=float, default=0.40)
    ap.add_argument("--backlog", default=os.path.join(here, "doc-ratio-backlog.txt"))
    ap.add_argument("--check", action="store_true")
    a = ap.parse_args()
    backlog = {}
    if os.path.exists(a.backlog):
        for line in open(a.backlog, encoding="utf-8"):
            line = line.strip()
            if line and not line.startswith("#"):
                r, p = line.split(None, 1)
                backlog[p] = float(r)
    rows = sorted((ratio(p)[0], rel) for rel, p in headers(a.root))
    bad = []
    for r, rel in rows:
        if not a.check:
            print(f"{r:5.2f}  {rel}")
        if r >= a.min:
            if rel in backlog:
                bad.append(f"{rel}: {r:.2f} reaches the bar {a.min:.2f}: remove it from the backlog")
        elif rel not in backlog:
            bad.append(f"{rel}: {r:.2f} documentation lines, below {a.min:.2f} (document it, see DEVELOPERS.md)")
        elif r + 1e-9 < backlog[rel] - 0.005:
            bad.append(f"{rel}: {r:.2f} documentation lines, below its backlog floor {backlog[rel]:.2f}")
    for p in backlog:
        if p not in {rel for _, rel in rows}:
            bad.append(f"{p}: in the backlog but not a public header")
    at_bar = sum(1 for r, _ in rows if r >= a.min)
    print(f"doc-ratio: {at_bar} of {len(rows)} public headers at >= {a.min:.0%}; backlog {len(backlog)}")
    for b in bad:
        print("doc-ratio: " + b, file=sys.stderr)
    return 1 if (a.check and bad) else 0


if __name__ == "__main__":
    sys.exit(main())
