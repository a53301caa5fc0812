#!/usr/bin/env python3
"""PyTorch eager baselines for bench_cuda, on the same GPU and at the same shapes.

  fused loss+grad : logits [4096, 151936] (float32 and bfloat16) with requires_grad;
                    logp = log_softmax(logits / tau).gather(targets); loss = -(adv * logp).mean();
                    loss.backward()   (the autograd path a trainer would take)
  top-p sampling  : logits [64, 151936] float32, tau = 0.6, p = 0.95, the sort idiom:
                    softmax -> sort descending -> cumsum -> mask (cum - p_i > p) -> renormalise ->
                    multinomial -> gather the id
  copy            : logits.clone() (device-to-device copy; bytes read + written)

Times are CUDA-event medians of 20 runs after 3 warm-ups; one JSON object per line on stdout.
Run: python3 bench/cuda/torch_reference.py   (scripts/gpu-check.sh does).
"""
import json
import sys

try:
    import torch
except ImportError:
    print(json.dumps({"error": "torch not installed"}))
    sys.exit(0)

if not torch.cuda.is_available():
    print(json.dumps({"error": "no CUDA device visible to torch"}))
    sys.exit(0)

N, V, ROWS = 4096, 151936, 64
dev = torch.device("cuda")


def timed(fn, reps=20, warm=3, setup=None):
    times = []
    for i in range(warm + reps):
        if setup is not None:
            setup()
        a = torch.cuda.Event(enable_timing=True)
        b = torch.cuda.Event(enable_timing=True)
        a.record()
        fn()
        b.record()
        torch.cuda.synchronize()
        if i >= warm:
            times.append(a.elapsed_time(b) * 1e-3)
    times.sort()
    return times[len(times) // 2]


def report(name, seconds, **extra):
    d = {"name": name, "seconds": seconds, "ms": seconds * 1e3}
    d.update(extra)
    print(json.dumps(d), flush=True)


def copy_bench():
    x = torch.randn(N, V, device=dev, dtype=torch.float32)
    t = timed(lambda: x.clone())
    bytes_moved = 2 * x.numel() * 4
    report("torch_copy_f32", t, GBps=bytes_moved / t * 1e-9)
    del x


def fused_bench(dtype, name):
    g = torch.Generator(device=dev)
    g.manual_seed(0)
    logits = (3 * torch.randn(N, V, device=dev, generator=g)).to(dtype).requires_grad_(True)
    targets = torch.randint(0, V, (N, 1), device=dev, generator=g)
    adv = torch.randn(N, 1, device=dev, generator=g)

    def step():
        logits.grad = None
        logp = torch.log_softmax(logits.float() / 1.0 if dtype != torch.float32 else logits / 1.0, dim=-1)
        lp = logp.gather(1, targets)
        loss = -(adv * lp).mean()
        loss.backward()

    t = timed(step)
    bytes_moved = 3 * logits.numel() * logits.element_size()
    report(name, t, GBps_compulsory=bytes_moved / t * 1e-9, tokens_per_second=N / t)
    del logits


def top_p_bench():
    g = torch.Generator(device=dev)
    g.manual_seed(1)
    logits = 3 * torch.randn(ROWS, V, device=dev, generator=g)

    def sample():
        probs = torch.softmax(logits / 0.6, dim=-1)
        sp, si = torch.sort(probs, dim=-1, descending=True)
        cum = torch.cumsum(sp, dim=-1)
        sp = sp.masked_fill(cum - sp > 0.95, 0.0)
        sp = sp / sp.sum(dim=-1, keepdim=True)
        pick = torch.multinomial(sp, 1)
        return si.gather(1, pick)

    t = timed(sample)
    report("torch_top_p_sort_idiom", t, rows_per_second=ROWS / t)

    def temperature_only():
        probs = torch.softmax(logits / 1.0, dim=-1)
        return torch.multinomial(probs, 1)

    t = timed(temperature_only)
    report("torch_temperature_multinomial", t, rows_per_second=ROWS / t)


if __name__ == "__main__":
    print(json.dumps({"torch": torch.__version__, "device": torch.cuda.get_device_name(0)}), flush=True)
    copy_bench()
    fused_bench(torch.float32, "torch_log_softmax_gather_backward_f32")
    torch.cuda.empty_cache()
    fused_bench(torch.bfloat16, "torch_log_softmax_gather_backward_bf16")
    torch.cuda.empty_cache()
    top_p_bench()
