#!/usr/bin/python3
"""PyTorch baselines for bench_objectives, at the same shapes (N tokens x V vocabulary, float32).

Run with Debian's python3-torch:  /usr/bin/python3 bench/objectives/pytorch_baseline.py [--threads 2]

Paths (median wall time, and median process CPU time over all threads, of --reps runs after one
warm-up; on a shared machine the CPU time is the steadier figure):
  autograd  log_softmax + gather + (-(A * logp).mean()) + backward      (the loss+grad baseline)
  verl_grpo verl's GRPO actor loss: logits / tau, log_softmax-gather log-probs, entropy_from_logits
            (logsumexp - sum(softmax * logits)), ratio = exp(clamp(logp - old, -20, 20)), PPO clip,
            k3 KL to a reference (clamped to [-10, 10]), loss = pg - c_H * entropy + beta * kl
            (token-mean), backward
  forward   no_grad log_softmax + gather + entropy_from_logits         (rollout/eval log-probs)
Logits ~ N(0, 2^2), as in bench_objectives. A shape is skipped (and said so) when the machine's
MemAvailable cannot hold the path's temporaries with a 3 GiB margin.
"""
import argparse
import statistics
import time

import torch
import torch.nn.functional as F

SHAPES = [(512, 32000), (512, 151936), (4096, 32000), (4096, 151936)]
# N x V float32 buffers alive at the peak of each path (logits included), measured roughly.
PEAK_BUFFERS = {"autograd": 4, "verl_grpo": 9, "forward": 3}


def mem_available():
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    return 0


def entropy_from_logits(logits):
    pd = torch.softmax(logits, dim=-1)
    return torch.logsumexp(logits, dim=-1) - torch.sum(pd * logits, dim=-1)


def run_autograd(z, y, adv, **_):
    z.grad = None
    logp = F.log_softmax(z, dim=-1).gather(1, y[:, None]).squeeze(1)
    loss = -(adv * logp).mean()
    loss.backward()
    return loss


def run_verl(z, y, adv, old, ref, tau=1.0, eps=0.2, beta=1e-3, c_h=1e-3, **_):
    z.grad = None
    logits = z / tau
    logp = F.log_softmax(logits, dim=-1).gather(1, y[:, None]).squeeze(1)
    entropy = entropy_from_logits(logits)
    ratio = torch.exp(torch.clamp(logp - old, -20.0, 20.0))
    pg = torch.maximum(-adv * ratio, -adv * torch.clamp(ratio, 1 - eps, 1 + eps)).mean()
    d = torch.clamp(ref - logp, -20.0, 20.0)
    kl = torch.clamp(torch.exp(d) - d - 1, -10.0, 10.0).mean()
    loss = pg - c_h * entropy.mean() + beta * kl
    loss.backward()
    return loss


def run_forward(z, y, **_):
    with torch.no_grad():
        logp = F.log_softmax(z, dim=-1).gather(1, y[:, None]).squeeze(1)
        ent = entropy_from_logits(z)
    return logp, ent


PATHS = {"autograd": run_autograd, "verl_grpo": run_verl, "forward": run_forward}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--paths", default="autograd,verl_grpo,forward")
    ap.add_argument("--shapes", default="", help="e.g. 512x32000,4096x151936 (default: all four)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    shapes = SHAPES if not args.shapes else [tuple(int(v) for v in s.split("x")) for s in args.shapes.split(",")]
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}")
    print(f"{'path':10s} {'N':>5s} {'V':>7s} {'ms':>10s} {'cpu ms':>10s} {'tokens/s':>10s}")
    g = torch.Generator().manual_seed(20251127)
    for n, v in shapes:
        need_base = n * v * 4
        for name in args.paths.split(","):
            need = PEAK_BUFFERS[name] * need_base + (3 << 30)
            if mem_available() < need:
                print(f"{name:10s} {n:5d} {v:7d}    skipped: needs ~{need / 2**30:.1f} GiB, "
                      f"{mem_available() / 2**30:.1f} GiB available")
                continue
            z = (torch.randn(n, v, generator=g) * 2.0).requires_grad_(name != "forward")
            y = torch.randint(0, v, (n,), generator=g)
            adv = torch.where(torch.arange(n) % 3 == 0, -0.8, 1.1)
            old = torch.full((n,), -11.0)
            ref = torch.full((n,), -11.2)
            fn = PATHS[name]
            fn(z=z, y=y, adv=adv, old=old, ref=ref)  # warm-up
            times, cpu = [], []
            for _ in range(args.reps):
                t0, c0 = time.perf_counter(), time.process_time()
                fn(z=z, y=y, adv=adv, old=old, ref=ref)
                times.append(time.perf_counter() - t0)
                cpu.append(time.process_time() - c0)
            t, c = statistics.median(times), statistics.median(cpu)
            print(f"{name:10s} {n:5d} {v:7d} {t * 1e3:10.2f} {c * 1e3:10.2f} {n / t:10.0f}", flush=True)
            del z


if __name__ == "__main__":
    main()
