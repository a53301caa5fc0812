#!/usr/bin/python3
"""The PyTorch sampling idiom (Hugging Face / vLLM style) at bench_sampling's shapes, on the CPU.

Run with Debian's interpreter, which has python3-torch:  /usr/bin/python3 bench/sampling/torch_idiom.py
Shapes and logits distribution match bench_sampling: 64 rows x V in {32000, 151936}, float32,
N(0, 2^2) logits (torch's own generator; the distribution, not the bits, matters for timing).

  temperature : probs = softmax(logits / T); torch.multinomial(probs, 1)
  top_p       : sort descending, softmax, cumsum, mask tokens whose preceding mass >= p,
                scatter back, softmax, multinomial            (T = 0.6, p = 0.95)

Prints the median CPU time (time.process_time) of repeated calls in ms, for the default thread
count and for 1 thread; on a shared machine CPU time is steadier than wall time.
"""
import statistics
import time

import torch


def temperature_sample(logits, t):
    probs = torch.softmax(logits / t, dim=-1)
    return torch.multinomial(probs, 1)


def top_p_sample(logits, t, p):
    logits = logits / t
    sorted_logits, sorted_idx = torch.sort(logits, descending=True, dim=-1)
    sorted_probs = torch.softmax(sorted_logits, dim=-1)
    cum = torch.cumsum(sorted_probs, dim=-1)
    remove = (cum - sorted_probs) >= p  # keep the smallest prefix with mass >= p
    sorted_logits = sorted_logits.masked_fill(remove, float("-inf"))
    filtered = torch.full_like(logits, float("-inf")).scatter(-1, sorted_idx, sorted_logits)
    probs = torch.softmax(filtered, dim=-1)
    return torch.multinomial(probs, 1)


def bench(fn, reps):
    fn()  # warm-up
    ts = []
    for _ in range(reps):
        t0 = time.process_time()  # CPU time, comparable to Google Benchmark's "CPU" column
        fn()
        ts.append((time.process_time() - t0) * 1e3)
    return statistics.median(ts)


def main():
    torch.manual_seed(20251127)
    print(f"torch {torch.__version__}, default threads = {torch.get_num_threads()}")
    default_threads = torch.get_num_threads()
    for threads in sorted({default_threads, 1}, reverse=True):
        torch.set_num_threads(threads)
        for V in (32000, 151936):
            logits = torch.randn(64, V, dtype=torch.float32) * 2.0
            reps = 20 if V == 32000 else 7
            t_temp = bench(lambda: temperature_sample(logits, 1.0), reps)
            t_topp = bench(lambda: top_p_sample(logits, 0.6, 0.95), reps)
            print(f"threads={threads} V={V:6d}  temperature {t_temp:8.2f} ms   top_p(0.95, T=0.6) {t_topp:8.2f} ms")


if __name__ == "__main__":
    main()
