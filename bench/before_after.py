#!/usr/bin/env python3
"""Before/after comparison of two builds of the same Google Benchmark binaries, in one run.

    python3 bench/before_after.py --before OLD_BUILD_DIR --after NEW_BUILD_DIR \
        [--rounds 3] [--out bench/results/before_after.md] [--label-before 0.1.0 --label-after HEAD]

Runs bench_objectives (the fused loss, in place, forward-only and the streaming copy it is
measured against) and bench_policy (a whole trainer step at the study's sizes) from both build
directories, alternating before/after for --rounds rounds so that both see the same machine
state, and keeps the best (minimum) CPU time of each benchmark. Prints a Markdown table:
CPU ms before and after, after/before, and — for the loss passes — each build's time as a
multiple of the streaming copy measured in the same binary and round (the figure that does not
depend on how loaded the machine was). Exits non-zero if a binary is missing or fails.
"""
import argparse
import datetime
import json
import os
import subprocess
import sys

OBJ_FILTER = r"^(fused|fused_inplace|forward|copy)/(512/32000|4096/151936)/"
POL_FILTER = r"BM_train_step_(w_reinforce|grpo)/threads:1/"


def run(binary, flt):
    if not os.access(binary, os.X_OK):
        sys.exit(f"before_after: {binary} is missing or not executable")
    out = subprocess.run([binary, f"--benchmark_filter={flt}", "--benchmark_format=json"],
                         capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"before_after: {binary} failed ({out.returncode}):\n{out.stderr[-2000:]}")
    data = json.loads(out.stdout)
    res = {}
    for b in data["benchmarks"]:
        if b.get("run_type", "iteration") != "iteration":
            continue
        unit = {"ns": 1e-6, "us": 1e-3, "ms": 1.0, "s": 1e3}[b.get("time_unit", "ns")]
        res[b["name"]] = (b["cpu_time"] * unit, b["real_time"] * unit)
    return res


def short(name):
    return name.replace("/process_time/real_time", "").replace("/iterations:10/real_time", "")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--before", required=True)
    ap.add_argument("--after", required=True)
    ap.add_argument("--label-before", default="before")
    ap.add_argument("--label-after", default="after")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--out")
    a = ap.parse_args()
    best = {"before": {}, "after": {}}
    copy_ratio = {"before": {}, "after": {}}
    for r in range(a.rounds):
        for side, d in (("before", a.before), ("after", a.after)) if r % 2 == 0 else (("after", a.after), ("before", a.before)):
            o = run(os.path.join(d, "bench/objectives/bench_objectives"), OBJ_FILTER)
            p = run(os.path.join(d, "bench/policy/bench_policy"), POL_FILTER)
            for k, (cpu, _) in {**o, **p}.items():
                best[side][k] = min(cpu, best[side].get(k, float("inf")))
            for k, (cpu, _) in o.items():
                shape = "/".join(k.split("/")[1:3])
                c = o.get(f"copy/{shape}/process_time/real_time")
                if c and not k.startswith("copy/"):
                    copy_ratio[side][k] = min(cpu / c[0], copy_ratio[side].get(k, float("inf")))
    load = os.getloadavg()
    lines = [f"Measured by `bench/before_after.py --rounds {a.rounds}`: {a.label_before} (`{a.before}`) vs "
             f"{a.label_after} (`{a.after}`), {datetime.datetime.utcnow():%Y-%m-%d %H:%M} UTC, "
             f"load average {load[0]:.1f}, {os.cpu_count()} CPUs. CPU time, best of the rounds.",
             "",
             f"| benchmark | {a.label_before} CPU ms | {a.label_after} CPU ms | after / before | "
             f"{a.label_before} / copy | {a.label_after} / copy |",
             "|---|---:|---:|---:|---:|---:|"]
    for k in sorted(best["after"], key=lambda s: (not s.startswith("BM_"), s)):
        if k not in best["before"]:
            continue
        b, n = best["before"][k], best["after"][k]
        cb, ca = copy_ratio["before"].get(k), copy_ratio["after"].get(k)
        fmt = lambda x: f"{x:.2f}×" if x is not None else "—"
        lines.append(f"| `{short(k)}` | {b:.2f} | {n:.2f} | {n / b:.3f} | {fmt(cb)} | {fmt(ca)} |")
    text = "\n".join(lines) + "\n"
    sys.stdout.write(text)
    if a.out:
        with open(a.out + ".tmp", "w") as f:
            f.write(text)
        os.replace(a.out + ".tmp", a.out)


if __name__ == "__main__":
    main()
