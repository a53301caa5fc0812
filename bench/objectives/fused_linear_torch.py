#!/usr/bin/python3
"""PyTorch's eager LM head + GRPO loss beside bench_fused_linear (issue 13, item 4).

Run with Debian's python3-torch (the pyenv `python3` on PATH has no torch):

    /usr/bin/python3 bench/objectives/fused_linear_torch.py check --dump-exe build/release/bench/objectives/fused_linear_dump
    /usr/bin/python3 bench/objectives/fused_linear_torch.py bench --vocab 32000,151936 --threads 2 --reps 5
    /usr/bin/python3 bench/objectives/fused_linear_torch.py report --cpp CPP_OUT --torch TORCH_JSON --check-log LOG --out MD

bench/objectives/run_fused_linear_torch.sh runs all three (and the C++ bench) in one go.

The computation (the problem and objective of bench_fused_linear.cpp, float32):
  H [N, d] ~ N(0, 1), W [V, d] ~ N(0, 4/d), b [V] ~ N(0, 0.1²) from the bench's own generator
  (64-bit LCG + Box–Muller, replicated here in numpy), targets y_t = 7919·t mod V, advantages
  ±1 in blocks of 16 tokens, log π_old, log π_ref = −10 + N(0, 0.3²); N = 1024, d = 512, τ = 1.
  rlvr::grpo({.entropy = {.coef = 1e-3}}) with the advantages given (no estimator), all tokens
  active, token-mean aggregation:
      logp_all = log_softmax(F.linear(H, W, b) / τ)          [N, V]
      logp     = logp_all.gather(y);  H_t = −Σ_v exp(logp_all)·logp_all
      ρ        = exp(clamp(logp − old, ±20))
      pg       = max(−A·ρ, −A·clamp(ρ, 1 − 0.2, 1 + 0.2))
      Δ        = clamp(ref − logp, ±20);  kl = min(e^Δ − Δ − 1, 10)
      L        = mean_t(pg + 1e-3·kl − 1e-3·H_t);  L.backward() → ∂H, ∂W, ∂b
  written as one chain, so the [N, V] logits are not kept alive by a Python variable (only by
  what autograd saves).

Time: median wall time (and median process CPU time, all threads) per call (forward + backward,
gradients set to None before each call, as zero_grad(set_to_none=True)) over --reps calls after
one warm-up, torch.set_num_threads(--threads); OPENBLAS_NUM_THREADS must be set to the same count
by the caller (run_fused_linear_torch.sh does) since Debian's torch calls BLAS through
libblas.so.3 and torch.set_num_threads does not reach OpenBLAS's pthreads.

Extra peak memory: each V runs in a fresh subprocess. After the timed calls the gradients are
dropped, gc.collect() and malloc_trim(0) return freed memory to the kernel, VmRSS is read
(`base`: interpreter, torch, inputs H, W, b and per-token arrays), the peak-RSS counter is reset
(`echo 5 > /proc/self/clear_refs`), one call runs, and VmHWM is read. extra = VmHWM − base −
bytes of the outputs ∂H, ∂W, ∂b (alive after the call as .grad). That is the memory the call
needs beyond its inputs and outputs, the quantity bench_fused_linear reports as extra_MiB
(there: peak of live operator-new bytes minus those before the call, outputs preallocated).
Differences: RSS counts touched pages (all of these buffers are written) and includes BLAS
packing buffers and allocator slack; the C++ figure excludes Eigen's GEMM packing buffers.
"""
import argparse
import ctypes
import gc
import json
import math
import os
import platform
import re
import resource
import statistics
import subprocess
import sys
import time

import numpy as np

N_TOKENS, D_MODEL = 1024, 512
EPS, BETA, KL_CLAMP, C_H = 0.2, 1e-3, 10.0, 1e-3


# ---- the bench's generator (bench_fused_linear.cpp, normals()) -------------------------------
A_LCG, C_LCG = np.uint64(6364136223846793005), np.uint64(1442695040888963407)


def normals(count, sigma, seed, block=1 << 20):
    """N(0, σ²) float32 numbers, the same sequence as the C++ normals(count, sigma, seed)."""
    steps = 2 * ((count + 1) // 2)
    with np.errstate(over="ignore"):
        pw = np.cumprod(np.full(block, A_LCG, dtype=np.uint64))  # a^(j+1)
        geo = np.cumsum(np.concatenate(([np.uint64(1)], pw[:-1])))  # 1 + a + ... + a^j
        out = np.empty(steps, dtype=np.float32)
        s = np.uint64(seed)
        for k0 in range(0, steps, block):
            m = min(block, steps - k0)
            st = pw[:m] * s + C_LCG * geo[:m]  # states after steps k0+1 .. k0+m
            s = st[-1]
            x = (st >> np.uint64(11)).astype(np.float64)
            u1 = (x[0::2] + 1.0) * 2.0 ** -53
            u2 = x[1::2] * 2.0 ** -53
            r = sigma * np.sqrt(-2.0 * np.log(u1))
            out[k0:k0 + m:2] = (r * np.cos(6.283185307179586 * u2)).astype(np.float32)
            out[k0 + 1:k0 + m:2] = (r * np.sin(6.283185307179586 * u2)).astype(np.float32)
    return out[:count]


def problem(n, d, v):
    """H, W, b, y, adv, old, ref as numpy arrays: struct problem of bench_fused_linear.cpp."""
    h = normals(n * d, 1.0, 1).reshape(n, d)
    w = normals(v * d, 2.0 / math.sqrt(d), 2).reshape(v, d)
    b = normals(v, 0.1, 3)
    noise = normals(2 * n, 0.3, 4)
    t = np.arange(n)
    y = ((t * 7919) % v).astype(np.int64)
    adv = np.where((t // 16) % 2 == 1, 1.0, -1.0).astype(np.float32)
    old = (np.float32(-10.0) + noise[:n]).astype(np.float32)
    ref = (np.float32(-10.0) + noise[n:]).astype(np.float32)
    return h, w, b, y, adv, old, ref


# ---- the PyTorch path ---------------------------------------------------------------------------
def grpo_loss(torch, F, h, w, b, y, adv, old, ref, tau=1.0):
    z = F.linear(h, w, b)
    logp_all = F.log_softmax(z if tau == 1.0 else z / tau, dim=-1)
    del z
    logp = logp_all.gather(1, y[:, None]).squeeze(1)
    ent = -(logp_all.exp() * logp_all).sum(-1)
    del logp_all
    ratio = torch.exp(torch.clamp(logp - old, -20.0, 20.0))
    pg = torch.maximum(-adv * ratio, -adv * torch.clamp(ratio, 1 - EPS, 1 + EPS))
    delta = torch.clamp(ref - logp, -20.0, 20.0)
    kl = torch.clamp(torch.exp(delta) - delta - 1, max=KL_CLAMP)
    return (pg + BETA * kl - C_H * ent).mean()


def status_kib(key):
    with open("/proc/self/status") as f:
        return int(re.search(key + r":\s+(\d+)", f.read()).group(1))


def blas_library():
    with open("/proc/self/maps") as f:
        libs = {l.split()[-1] for l in f if re.search(r"blas", l.split()[-1] if len(l.split()) > 5 else "")}
    return ", ".join(sorted(os.path.basename(l) for l in libs)) or "none mapped"


# ---- subcommand: one case in this process (called in a fresh subprocess by `bench`) ------------
def run_case(v, threads, reps):
    import torch
    import torch.nn.functional as F
    torch.set_num_threads(threads)
    hn, wn, bn, yn, an, on, rn = problem(N_TOKENS, D_MODEL, v)
    h = torch.from_numpy(hn).requires_grad_()
    w = torch.from_numpy(wn).requires_grad_()
    b = torch.from_numpy(bn).requires_grad_()
    y, adv, old, ref = (torch.from_numpy(x) for x in (yn, an, on, rn))
    del hn, wn, bn, yn, an, on, rn

    def call():
        h.grad = w.grad = b.grad = None
        loss = grpo_loss(torch, F, h, w, b, y, adv, old, ref)
        loss.backward()
        return float(loss)

    loss = call()  # warm-up
    wall, cpu, sys_s = [], [], []
    for _ in range(reps):
        t0, c0, s0 = time.perf_counter(), time.process_time(), resource.getrusage(resource.RUSAGE_SELF).ru_stime
        call()
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
        sys_s.append(resource.getrusage(resource.RUSAGE_SELF).ru_stime - s0)
    # extra peak memory of one more call (see the module docstring)
    h.grad = w.grad = b.grad = None
    gc.collect()
    libc = ctypes.CDLL("libc.so.6")
    libc.malloc_trim(0)
    base = status_kib("VmRSS")
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    hwm0 = status_kib("VmHWM")
    call()
    peak = status_kib("VmHWM")
    gc.collect()
    libc.malloc_trim(0)
    after = status_kib("VmRSS")
    out_bytes = sum(t.grad.numel() * t.grad.element_size() for t in (h, w, b))
    inputs = sum(t.numel() * t.element_size() for t in (h, w, b, y, adv, old, ref))
    mib = 1024.0 * 1024.0
    return {
        "V": v, "threads": torch.get_num_threads(), "reps": reps, "loss": loss,
        "ms": 1e3 * statistics.median(wall), "cpu_ms": 1e3 * statistics.median(cpu),
        "ms_all": [round(1e3 * t, 1) for t in wall], "cpu_ms_all": [round(1e3 * t, 1) for t in cpu],
        "sys_ms_all": [round(1e3 * t, 1) for t in sys_s],
        "extra_MiB": (peak - base) * 1024 / mib - out_bytes / mib,
        "base_rss_MiB": base / 1024, "hwm_after_reset_MiB": hwm0 / 1024, "peak_rss_MiB": peak / 1024,
        "rss_after_MiB": after / 1024, "outputs_MiB": out_bytes / mib, "inputs_MiB": inputs / mib,
        "torch": torch.__version__, "blas": blas_library(),
        "OPENBLAS_NUM_THREADS": os.environ.get("OPENBLAS_NUM_THREADS", "unset"),
    }


def cmd_case(a):
    print(json.dumps(run_case(a.v, a.threads, a.reps)))


def cmd_gemm_rate(a):
    """GFLOP/s of one float32 GEMM H·Wᵀ (1024 × 512 × 4096) through this process's BLAS."""
    import torch
    torch.set_num_threads(a.threads)
    h, w = torch.randn(1024, 512), torch.randn(4096, 512)
    h @ w.T
    t = []
    for _ in range(3):
        t0 = time.perf_counter()
        h @ w.T
        t.append(time.perf_counter() - t0)
    print(f"{2 * 1024 * 512 * 4096 / min(t) / 1e9:.1f} GFLOP/s (float32 GEMM 1024x512x4096, best of 3, "
          f"{torch.get_num_threads()} threads, BLAS {blas_library()})")


def cmd_bench(a):
    results = []
    for v in [int(x) for x in a.vocab.split(",")]:
        p = subprocess.run([sys.executable, os.path.abspath(__file__), "case", "--v", str(v), "--threads",
                            str(a.threads), "--reps", str(a.reps)], capture_output=True, text=True)
        if p.returncode != 0:
            sys.exit(f"fused_linear_torch: case V={v} failed:\n{p.stderr}")
        r = json.loads(p.stdout.strip().splitlines()[-1])
        print(f"torch V={v}: {r['ms']:.0f} ms (CPU {r['cpu_ms']:.0f} ms), extra {r['extra_MiB']:.1f} MiB, "
              f"loss {r['loss']:.6g}", file=sys.stderr, flush=True)
        results.append(r)
    text = json.dumps(results, indent=1)
    if a.out:
        with open(a.out, "w") as f:
            f.write(text + "\n")
    else:
        print(text)


# ---- subcommand: numerical check against rlvr's fused_linear_loss_and_grad ----------------------
def load_dump(path):
    raw = open(path, "rb").read()
    n, d, v = np.frombuffer(raw, np.int64, 3, 0)
    off = 24
    tau = float(np.frombuffer(raw, np.float64, 1, off)[0]); off += 8

    def take(dtype, count):
        nonlocal off
        x = np.frombuffer(raw, dtype, count, off)
        off += x.nbytes
        return x

    r = {"n": int(n), "d": int(d), "v": int(v), "tau": tau}
    r["h"] = take(np.float32, n * d).reshape(n, d)
    r["w"] = take(np.float32, v * d).reshape(v, d)
    r["b"] = take(np.float32, v)
    r["y"] = take(np.int32, n).astype(np.int64)
    r["adv"], r["old"], r["ref"] = take(np.float32, n), take(np.float32, n), take(np.float32, n)
    r["loss"] = float(take(np.float64, 1)[0])
    r["gh"] = take(np.float32, n * d).reshape(n, d)
    r["gw"] = take(np.float32, v * d).reshape(v, d)
    r["gb"] = take(np.float32, v)
    assert off == len(raw), "fused_linear_dump: unexpected file size"
    return r


def check_one(torch, F, dump, lines):
    r = load_dump(dump)
    n, d, v = r["n"], r["d"], r["v"]
    # 1. the numpy replica of the bench's generator gives the same inputs as the C++ one
    hn, wn, bn, yn, an, on, rn = problem(n, d, v)
    gen_diff = max(float(np.max(np.abs(x - r[k]))) for x, k in
                   ((hn, "h"), (wn, "w"), (bn, "b"), (an, "adv"), (on, "old"), (rn, "ref")))
    gen_ok = gen_diff <= 1e-6 and np.array_equal(yn, r["y"])
    ok = gen_ok
    lines.append(f"- dump N={n} d={d} V={v} τ={r['tau']:g}: generator replica vs C++ inputs max |diff| "
                 f"{gen_diff:.1e}, targets equal {np.array_equal(yn, r['y'])} → {'ok' if gen_ok else 'FAIL'}")
    # 2. PyTorch's loss and gradients (float32, and float64 as the reference) vs rlvr's
    res = {}
    for dt in (torch.float32, torch.float64):
        t = lambda x: torch.from_numpy(np.array(x)).to(dt)
        h, w, b = (t(r[k]).requires_grad_() for k in ("h", "w", "b"))
        loss = grpo_loss(torch, F, h, w, b, torch.from_numpy(r["y"]), t(r["adv"]), t(r["old"]), t(r["ref"]),
                         tau=r["tau"])
        loss.backward()
        res[dt] = (float(loss), h.grad.double().numpy(), w.grad.double().numpy(), b.grad.double().numpy())
    ref = res[torch.float64]

    def rel(g, gref):
        return float(np.max(np.abs(g - gref)) / max(np.max(np.abs(gref)), 1e-30))

    for name, (lo, gh, gw, gb) in (("rlvr fused (float32)", (r["loss"], r["gh"], r["gw"], r["gb"])),
                                   ("torch float32", res[torch.float32])):
        dl = abs(lo - ref[0])
        eh, ew, eb = rel(gh, ref[1]), rel(gw, ref[2]), rel(gb, ref[3])
        good = dl <= 1e-5 * max(1.0, abs(ref[0])) and max(eh, ew, eb) <= 1e-3
        ok = ok and good
        lines.append(f"  - {name}: loss {lo:.9g} (torch float64 {ref[0]:.9g}, |diff| {dl:.1e}); gradients' max |diff| / "
                     f"max |ref|: ∂H {eh:.1e}, ∂W {ew:.1e}, ∂b {eb:.1e} → {'ok' if good else 'FAIL'}")
    dl = abs(r["loss"] - res[torch.float32][0])
    # which terms carry gradient here: tokens on PPO's unclipped branch (∂pg/∂logp ≠ 0)
    with torch.no_grad():
        z = torch.tensor(r["h"], dtype=torch.float64) @ torch.tensor(r["w"], dtype=torch.float64).T + torch.tensor(r["b"], dtype=torch.float64)
        logp = torch.log_softmax(z / r["tau"], -1).gather(1, torch.from_numpy(r["y"])[:, None]).squeeze(1).numpy()
    rho = np.exp(np.clip(logp - r["old"], -20, 20))
    a = r["adv"].astype(np.float64)
    unclipped = int(np.sum(-a * rho >= -a * np.clip(rho, 1 - EPS, 1 + EPS)))
    lines.append(f"  - rlvr vs torch float32: loss |diff| {dl:.1e}; tokens on PPO's unclipped branch: {unclipped} of {n}")
    return ok


def cmd_check(a):
    import torch
    import torch.nn.functional as F
    lines = [f"Numerical check (bench/objectives/fused_linear_torch.py check, torch {torch.__version__}): "
             "rlvr::fused_linear_loss_and_grad (fused_linear_dump) against the PyTorch path of this script, "
             "float64 PyTorch as the reference; pass = loss within 1e-5, each gradient within 1e-3 of its max "
             "magnitude."]
    ok = True
    for args in (["96", "32", "1000", "256", "1.0"], ["64", "48", "3001", "512", "0.7"]):
        path = os.path.join(a.tmp, "fused_linear_dump_%s.bin" % "_".join(args))
        p = subprocess.run([a.dump_exe, path] + args, capture_output=True, text=True)
        if p.returncode != 0:
            sys.exit(f"fused_linear_torch: {a.dump_exe} failed:\n{p.stderr}")
        ok = check_one(torch, F, path, lines) and ok
        os.remove(path)
    lines.append(f"- overall: {'PASS' if ok else 'FAIL'}")
    text = "\n".join(lines)
    print(text)
    if a.out:
        with open(a.out, "w") as f:
            f.write(text + "\n")
    sys.exit(0 if ok else 1)


# ---- subcommand: the combined Markdown report ---------------------------------------------------
def parse_cpp(text):
    """The ratio table and the per-benchmark losses of bench_fused_linear's output."""
    rows = {}
    for l in text.splitlines():
        m = re.match(r"\| (\d+) \| (\d+) \| (\d+) \((\d+)\) \| (\d+) \((\d+)\) \| [^|]+\| ([\d.]+) \| ([\d.]+) \|", l)
        if m:
            v, c, um, uc, fm, fc, umib, fmib = m.groups()
            rows[(int(v), int(c))] = dict(unfused_ms=float(um), unfused_cpu=float(uc), fused_ms=float(fm),
                                          fused_cpu=float(fc), unfused_mib=float(umib), fused_mib=float(fmib))
    losses = {}
    for l in text.splitlines():
        m = re.match(r"((?:un)?fused/\d+(?:/\d+)?)/iterations.*\s([-\d.e+]+)\s*$", l)
        if m:
            losses[m.group(1)] = float(m.group(2))
    return rows, losses


def cmd_report(a):
    cpp = open(a.cpp).read()
    torch_res = json.load(open(a.torch))
    check = open(a.check_log).read().strip() if a.check_log else ""
    rows, losses = parse_cpp(cpp)
    cpu_model = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    t0 = torch_res[0]
    out = [
        "# bench_fused_linear against PyTorch eager (issue 13, item 4)",
        "",
        "Written by `bench/objectives/run_fused_linear_torch.sh` (do not edit by hand). rlvr's numbers are "
        "those of the C++ bench run below, PyTorch's of bench/objectives/fused_linear_torch.py, run right "
        "after it in the same invocation.",
        "",
        f"- date: {a.date}; commit {a.commit}",
        f"- machine: {os.cpu_count()} CPUs (nproc {a.nproc}), {cpu_model}; {a.load}",
        f"- CI on this machine during the run: {a.ci}",
        f"- threads: {t0['threads']} (rlvr eigen_backend{{.threads = 2}}; torch.set_num_threads({t0['threads']}), "
        f"OPENBLAS_NUM_THREADS={t0['OPENBLAS_NUM_THREADS']})",
        f"- PyTorch {t0['torch']} (Debian python3-torch, /usr/bin/python3), BLAS: {t0['blas']}. {a.blas_note}",
        f"- shapes: N = {N_TOKENS}, d = {D_MODEL}, float32, GRPO (clip 0.2, k3 KL β = 1e-3, entropy bonus 1e-3, "
        "token mean), τ = 1; rlvr fused at its default vocab chunk C = 1024; PyTorch: median of "
        f"{t0['reps']} calls after one warm-up.",
        "- time: wall ms per call (process CPU ms over all threads in parentheses). Extra MiB: peak memory "
        "of one call beyond its inputs (H, W, b, per-token arrays) and outputs (∂H, ∂W, ∂b); rlvr: live "
        "operator-new bytes (bench_fused_linear.cpp), PyTorch: VmHWM − VmRSS before the call − outputs "
        "(fused_linear_torch.py docstring). The two counters differ (heap bytes vs resident pages), so the "
        "memory ratio is indicative.",
        "",
        "- rlvr's times are Google Benchmark's mean of its iterations (2 at V = 32000, 1 at V = 151936, no "
        "warm-up call), PyTorch's the median after a warm-up; the PyTorch process's CPU time includes the "
        "kernel's (page faults of its [N, V] temporaries: sys_ms_all in the raw results).",
        "",
        "| V | rlvr fused ms (CPU) | rlvr unfused ms (CPU) | PyTorch ms (CPU) | time PyTorch / rlvr fused "
        "| rlvr fused extra MiB | rlvr unfused extra MiB | PyTorch extra MiB | memory PyTorch / rlvr fused "
        "| loss rlvr fused / PyTorch |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in torch_res:
        v = r["V"]
        c = rows.get((v, 1024))
        if c is None:
            out.append(f"| {v} | — | — | {r['ms']:.0f} ({r['cpu_ms']:.0f}) | — | — | — | {r['extra_MiB']:.1f} | — | — |")
            continue
        lf = losses.get(f"fused/{v}/1024")
        out.append(
            f"| {v} | {c['fused_ms']:.0f} ({c['fused_cpu']:.0f}) | {c['unfused_ms']:.0f} ({c['unfused_cpu']:.0f}) | "
            f"{r['ms']:.0f} ({r['cpu_ms']:.0f}) | {r['ms'] / c['fused_ms']:.2f} ({r['cpu_ms'] / c['fused_cpu']:.2f}) | "
            f"{c['fused_mib']:.1f} | {c['unfused_mib']:.1f} | {r['extra_MiB']:.1f} | "
            f"{r['extra_MiB'] / c['fused_mib']:.0f}× | {lf if lf is None else f'{lf:.6g}'} / {r['loss']:.6g} |")
    out += ["", "## Numerical check", "", check, "",
            "## PyTorch raw results", "", "```json", json.dumps(torch_res, indent=1), "```", "",
            "## bench_fused_linear output (this run)", "", "```", cpp.strip(), "```", ""]
    with open(a.out, "w") as f:
        f.write("\n".join(out))
    print("\n".join(out[:out.index("## Numerical check")]))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("case")
    p.add_argument("--v", type=int, required=True)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--reps", type=int, default=5)
    p.set_defaults(fn=cmd_case)
    p = sub.add_parser("gemm-rate")
    p.add_argument("--threads", type=int, default=2)
    p.set_defaults(fn=cmd_gemm_rate)
    p = sub.add_parser("bench")
    p.add_argument("--vocab", default="32000,151936")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--out", default="")
    p.set_defaults(fn=cmd_bench)
    p = sub.add_parser("check")
    p.add_argument("--dump-exe", required=True)
    p.add_argument("--tmp", default="/tmp")
    p.add_argument("--out", default="")
    p.set_defaults(fn=cmd_check)
    p = sub.add_parser("report")
    for k in ("--cpp", "--torch", "--out"):
        p.add_argument(k, required=True)
    for k in ("--check-log", "--date", "--commit", "--nproc", "--load", "--ci", "--blas-note"):
        p.add_argument(k, default="")
    p.set_defaults(fn=cmd_report)
    a = ap.parse_args()
    a.fn(a)


if __name__ == "__main__":
    main()
