#!/usr/bin/python3
"""rlvr.torch.policy_loss against PyTorch's autograd and verl-style GRPO losses, in one process,
at bench_objectives' shapes (N tokens × V vocabulary, float32), with the same thread count.

    PYTHONPATH=build/release/python /usr/bin/python3 bench/python/bench_loss.py [--threads 2] [--out FILE]

Paths (median wall time and median process CPU time of --reps runs after one warm-up):
  rlvr      rlvr.torch.policy_loss(objective="grpo": PPO clip, k3 KL to a reference, entropy
            bonus, token-mean) + backward: the fused pass, its gradient handed to autograd
  rlvr_inplace  the same with inplace=True: the gradient overwrites the logits (no N × V allocation)
  autograd  log_softmax + gather + (-(A * logp).mean()) + backward   (bench/objectives/pytorch_baseline.py)
  verl_grpo verl's GRPO actor loss + backward                        (bench/objectives/pytorch_baseline.py)
Same inputs as bench/objectives/pytorch_baseline.py (logits ~ N(0, 2²), A ∈ {−0.8, 1.1}, old/ref
log-probs −11/−11.2). A shape/path is skipped (and said so) when MemAvailable cannot hold its
N × V buffers with a 3 GiB margin. --out writes the markdown table (docs/performance.md quotes it).
"""
import argparse
import datetime
import os
import statistics
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "objectives"))
import pytorch_baseline as base  # noqa: E402  (the baselines of bench_objectives, shared)

import rlvr  # noqa: E402
import rlvr.torch as rt  # noqa: E402


def run_rlvr(z, y, adv, old, ref, threads, inplace=False, **_):
    z.grad = None
    loss = rt.policy_loss(z, y, objective="grpo", advantages=adv, old_logp=old, ref_logp=ref, kl_beta=1e-3,
                          entropy_coef=1e-3, threads=threads, inplace=inplace)
    loss.backward()
    return loss


def run_rlvr_inplace(**kw):
    # the gradient overwrites the logits (z.grad then shares z's storage; later runs see gradient
    # values as logits, which costs the same: every exp is computed either way)
    return run_rlvr(inplace=True, **kw)


PATHS = {"rlvr": (run_rlvr, 2), "rlvr_inplace": (run_rlvr_inplace, 1),
         "autograd": (base.run_autograd, base.PEAK_BUFFERS["autograd"]),
         "verl_grpo": (base.run_verl, base.PEAK_BUFFERS["verl_grpo"])}


def measure(fn, reps, **kw):
    fn(**kw)  # warm-up
    times, cpu = [], []
    for _ in range(reps):
        t0, c0 = time.perf_counter(), time.process_time()
        fn(**kw)
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return statistics.median(times), statistics.median(cpu)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--shapes", default="", help="e.g. 512x32000,4096x151936 (default: bench_objectives' four)")
    ap.add_argument("--out", default="", help="also write the markdown table to this file")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    shapes = base.SHAPES if not args.shapes else [tuple(int(v) for v in s.split("x")) for s in args.shapes.split(",")]
    head = (f"rlvr {rlvr.__version__} ({rlvr.backend} backend), torch {torch.__version__}, threads {args.threads} "
            f"(torch and rlvr), {args.reps} reps, {datetime.datetime.utcnow():%Y-%m-%d %H:%M} UTC, "
            f"load average {os.getloadavg()[0]:.1f}")
    print(head, flush=True)
    results = {}
    g = torch.Generator().manual_seed(20251127)
    for n, v in shapes:
        for name, (fn, buffers) in PATHS.items():
            need = buffers * n * v * 4 + (3 << 30)
            if base.mem_available() < need:
                print(f"{name:10s} {n:5d} {v:7d}  skipped: needs ~{need / 2**30:.1f} GiB, "
                      f"{base.mem_available() / 2**30:.1f} GiB available", flush=True)
                continue
            z = (torch.randn(n, v, generator=g) * 2.0).requires_grad_(True)
            y = torch.randint(0, v, (n,), generator=g)
            adv = torch.where(torch.arange(n) % 3 == 0, -0.8, 1.1)
            old = torch.full((n,), -11.0)
            ref = torch.full((n,), -11.2)
            t, c = measure(fn, args.reps, z=z, y=y, adv=adv, old=old, ref=ref, threads=args.threads)
            results[(name, n, v)] = (t, c)
            print(f"{name:10s} {n:5d} {v:7d} {t * 1e3:10.1f} ms {c * 1e3:10.1f} cpu ms", flush=True)
            del z

    def cell(name, n, v):
        r = results.get((name, n, v))
        return f"{r[0] * 1e3:.1f} / {r[1] * 1e3:.1f}" if r else "skipped (memory)"

    def ratio(name, n, v):
        a, b = results.get((name, n, v)), results.get(("rlvr", n, v))
        return f"{a[1] / b[1]:.1f}× ({a[0] / b[0]:.1f}×)" if a and b else "—"

    def ratio2(name, n, v):
        a, b = results.get((name, n, v)), results.get(("rlvr_inplace", n, v))
        return f"{a[1] / b[1]:.1f}× ({a[0] / b[0]:.1f}×)" if a and b else "—"

    lines = [f"Measured by `bench/python/bench_loss.py`: {head}.", "",
             "| N × V | rlvr.torch GRPO loss+grad (ms, wall / CPU) | rlvr.torch in place | torch autograd | "
             "torch verl GRPO | autograd / rlvr (CPU; wall) | verl / rlvr | autograd / rlvr in place | "
             "verl / rlvr in place |",
             "|---|---|---|---|---|---|---|---|---|"]
    for n, v in shapes:
        lines.append(f"| {n} × {v} | {cell('rlvr', n, v)} | {cell('rlvr_inplace', n, v)} | {cell('autograd', n, v)} | "
                     f"{cell('verl_grpo', n, v)} | {ratio('autograd', n, v)} | {ratio('verl_grpo', n, v)} | "
                     f"{ratio2('autograd', n, v)} | {ratio2('verl_grpo', n, v)} |")
    table = "\n".join(lines) + "\n"
    print()
    print(table)
    if args.out:
        with open(args.out, "w") as f:
            f.write(table)


if __name__ == "__main__":
    main()
