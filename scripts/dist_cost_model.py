#!/usr/bin/env python3
"""Analytical cost model of one data-parallel RLVR training step (rlvr's trainer), projected to
the paper's setup: Qwen2.5-Math-7B, 1024 prompts x 8 rollouts per step, 4 mini-batch updates.

This is a MODEL, not a measurement: every input below is a named constant with its source or the
word ASSUMPTION, and the output says which inputs the result is most sensitive to.

Usage:
    python3 scripts/dist_cost_model.py > bench/results/dist-cost-model.md   # Markdown report
    python3 scripts/dist_cost_model.py --json                              # raw numbers

Python 3 standard library only. Units: bytes (B), GB = 1e9 B, GiB = 2**30 B, GB/s = 1e9 B/s,
Gb/s = 1e9 bit/s, FLOP/s. Times in seconds.

The scheme modelled (include/rlvr/trainer/trainer.hpp, "Canonical shards and data parallelism"):
rank r of R owns the canonical shards k with k mod R = r (S shards per rollout batch and per
mini-batch). Per step each rank rolls out its shards' prompts, computes old log-probs of its
shards, all-gathers rollouts and log-probs; then per mini-batch it runs forward+backward of its
shards and combines the gradients:
  fast          - sums its own S/R shard gradients, then one ring all-reduce of the fp32 gradient
                  (2(R-1)/R * 4N bytes sent per rank);
  deterministic - all-gathers the S fp32 shard gradients ((R-1)/R * S * 4N bytes received per
                  rank) and every rank sums all S in the order k = 0 .. S-1.
"""

import argparse
import json
import sys

# =============================================================================================
# 1. The paper's training setup (Zhu et al. 2025, "The Surprising Effectiveness of Negative
#    Reinforcement in LLM Reasoning", NeurIPS 2025). The paper's own numbers are in its reference
#    scripts, github.com/TianHongZXY/RLVR-Decomposed, run_qwen2.5-math-7b_psr_nsr.sh (verl
#    main_ppo overrides), and in /work/shared/docs/rlvr-math.md section 9.
# =============================================================================================
PROMPTS_PER_STEP = 1024        # data.train_batch_size=1024 (script); rlvr-math.md s9 "1024 prompts"
ROLLOUTS_PER_PROMPT = 8        # actor_rollout_ref.rollout.n=8 (script); rlvr-math.md s9 "x 8 rollouts"
MINI_BATCH_PROMPTS = 256       # actor.ppo_mini_batch_size=256 -> 1024/256 = 4 updates per step
PPO_EPOCHS = 1                 # not overridden in the script: verl's default ppo_epochs = 1
MAX_PROMPT_TOKENS = 1024       # data.max_prompt_length=1024 (script)
MAX_RESPONSE_TOKENS = 3072     # data.max_response_length=3072 (script; Qwen2.5-Math-7B context 4096)
LEARNING_RATE = 1e-6           # actor.optim.lr=1e-6 (script; rlvr-math.md s9) - no effect on cost
PAPER_GPUS = 8                 # trainer.n_gpus_per_node=8, trainer.nnodes=1 (script)
KL_IN_PSR_NSR = False          # PSR/NSR/W-REINFORCE script: kl_coef=0.0, no use_kl_loss -> rlvr
                               # runs no reference forward (trainer.hpp: only with a KL term).
                               # GRPO script: use_kl_loss=True, kl_loss_coef=0.001 -> reference
                               # forward; reported as a separate row, not in the step total.

# ASSUMPTIONS (the paper does not report mean lengths): prompt = a MATH problem in the Qwen
# math chat template; mean response of the base model on MATH under the 3072-token cap.
MEAN_PROMPT_TOKENS = 150       # ASSUMPTION
MEAN_RESPONSE_TOKENS = 600     # ASSUMPTION (sensitivity: 300 ... 1200, and the 3072 cap)
KEPT_FRACTION = 1.0            # responses entering the updates: 1.0 for W-REINFORCE/PPO/GRPO;
                               # PSR keeps only correct, NSR only incorrect ones (trainer.hpp
                               # step 3: the other side is dropped) - see the sensitivity table.

# =============================================================================================
# 2. The model: Qwen/Qwen2.5-Math-7B config.json (huggingface.co/Qwen/Qwen2.5-Math-7B; the same
#    values in the mirror huggingface.co/unsloth/Qwen2.5-Math-7B/blob/main/config.json).
# =============================================================================================
HIDDEN = 3584                  # hidden_size
LAYERS = 28                    # num_hidden_layers
HEADS = 28                     # num_attention_heads
KV_HEADS = 4                   # num_key_value_heads (GQA)
HEAD_DIM = HIDDEN // HEADS     # 128
FFN = 18944                    # intermediate_size (SwiGLU: gate, up, down)
VOCAB = 152064                 # vocab_size
TIED_EMBEDDINGS = False        # tie_word_embeddings = false -> separate lm_head
QKV_BIAS = True                # Qwen2 attention has q/k/v biases, no o bias

# =============================================================================================
# 3. Hardware: NVIDIA H100 SXM5 80 GB, 8 per node (HGX/DGX H100), one 400 Gb/s NIC per GPU.
# =============================================================================================
H100_BF16_DENSE_FLOPS = 989.4e12   # datasheet "BF16 Tensor Core 1,979 TFLOPS" is with 2:4 sparsity;
                                   # dense = half. https://www.nvidia.com/en-us/data-center/h100/
H100_HBM_BYTES_PER_S = 3.35e12     # HBM3 3.35 TB/s (same datasheet, H100 SXM)
H100_HBM_CAPACITY = 80e9           # 80 GB (same datasheet)
NVLINK4_BYTES_PER_S = 450e9        # NVLink 4: 900 GB/s per GPU total = 450 GB/s per direction
                                   # (datasheet "NVLink: 900GB/s"; 18 links x 25 GB/s each way)
NCCL_NVLINK_BUSBW = 370e9          # realistic NCCL bus bandwidth on 8 x H100 NVLink for ring
                                   # algorithms (all-gather, reduce-scatter, NCCL_ALGO=RING
                                   # all-reduce): "450GB/s is the line rate. With the protocol
                                   # overhead (~20%) NCCL can get an effective NVLink bandwidth of
                                   # 370GB/s" - NCCL maintainer, github.com/NVIDIA/nccl-tests/issues/212
                                   # (NVLink SHARP all-reduce reaches ~480 GB/s busBw, same thread;
                                   # not used: conservative, and all-gather gains nothing from it)
IB_NDR_BITS_PER_S = 400e9          # InfiniBand NDR, ConnectX-7: 400 Gb/s per port per direction
IB_NDR_BYTES_PER_S = IB_NDR_BITS_PER_S / 8   # = 50 GB/s per direction
NCCL_IB_BUSBW_PER_NIC = 40e9       # ASSUMPTION, derated: NVIDIA says "For NDR @ 400Gbps you should
                                   # see 46-48GB/s per NIC" (github.com/NVIDIA/nccl-tests/issues/290);
                                   # real clusters often see less (e.g. ~27 GB/s per rail on 400G
                                   # RoCE, github.com/NVIDIA/nccl/issues/2409). 40 GB/s = 80% of line.
GPUS_PER_NODE = 8                  # HGX/DGX H100
NICS_PER_NODE = 8                  # one NIC per GPU (rail-optimised fabric), per the brief

# Efficiencies (ASSUMPTIONS, stated in the report; see the sensitivity table)
MFU_TRAIN = 0.40               # model FLOP utilisation of forward+backward, and of the no-grad
                               # forwards (log-probs, prefill); 40% is typical of well-tuned 7B
                               # FSDP/ZeRO training with activation checkpointing counted as
                               # overhead (i.e. not counted as useful FLOPs)
DECODE_HBM_EFF = 0.60          # fraction of HBM bandwidth a decode step achieves (weights + KV
                               # cache streamed once per step; kernel/launch/sampling overheads)
DECODE_MFU = 0.40              # tensor-core utilisation of decode GEMMs when compute bound
MAX_DECODE_BATCH = 256         # ASSUMPTION: concurrent sequences per GPU in decode, continuous
                               # batching; 256 = vLLM (V0 engine) default max_num_seqs
                               # (docs.vllm.ai engine args); newer engines may allow more
ELEMENTWISE_HBM_EFF = 0.60     # HBM efficiency of streaming kernels (gradient sums, AdamW)

# rlvr's trainer configuration modelled
SHARDS = 64                    # S canonical shards (trainer_config::shards); R must divide work <= S
RANKS = (1, 8, 64)             # R = 1 (baseline), 8 (one node, NVLink), 64 (8 nodes, NVLink + IB)
GRAD_BYTES = 4                 # fp32 gradients (trainer.hpp: std::vector<float> shard_grads_)
PARAM_BYTES_BF16 = 2           # bf16 weights for rollout and forward
TOKEN_BYTES = 4                # token_t = std::int32_t (rollout rows all-gathered, padded)
PER_TOKEN_FLOATS_GATHERED = 2  # old log-prob + entropy, float32, packed per response token
ADAMW_BYTES_PER_PARAM = 30     # AdamW step traffic per parameter: read fp32 master, grad, m, v
                               # (16 B), write master, m, v (12 B), write bf16 weight (2 B)

BASE = {k: v for k, v in globals().items() if k.isupper()}


# =============================================================================================
# Derived quantities
# =============================================================================================
def param_counts(c):
    h, f, v = c["HIDDEN"], c["FFN"], c["VOCAB"]
    kv = c["KV_HEADS"] * c["HEAD_DIM"]
    attn = h * h + 2 * h * kv + h * h + ((h + 2 * kv) if c["QKV_BIAS"] else 0)   # q,k,v,o (+bias)
    mlp = 3 * h * f
    norms = 2 * h
    per_layer = attn + mlp + norms
    embed = v * h
    lm_head = 0 if c["TIED_EMBEDDINGS"] else v * h
    total = c["LAYERS"] * per_layer + embed + lm_head + h          # + final norm
    matmul = c["LAYERS"] * (attn - ((h + 2 * kv) if c["QKV_BIAS"] else 0) + mlp) + lm_head
    return {"per_layer": per_layer, "embedding": embed, "lm_head": lm_head, "total": total,
            "matmul": matmul}


def collective_all_reduce(nbytes, R, c):
    """Time and per-rank link bytes of an all-reduce of `nbytes` (same buffer on every rank).
    R <= GPUS_PER_NODE: one ring over NVLink. Larger R: hierarchical, rail-aligned -
      1. reduce-scatter inside the node over NVLink (each GPU ends with 1/8 of the sum),
      2. ring all-reduce of that 1/8 across the nodes among the GPUs with the same local index,
         each over its own NIC (one NIC per GPU),
      3. all-gather inside the node over NVLink.
    (NCCL's multi-channel rings or NVLS trees move the same bytes per link; this is the textbook
    2-level decomposition.)"""
    if R == 1:
        return {"time": 0.0, "nvlink_bytes": 0.0, "ib_bytes": 0.0}
    g = c["GPUS_PER_NODE"]
    if R <= g:
        b = 2 * (R - 1) / R * nbytes
        return {"time": b / c["NCCL_NVLINK_BUSBW"], "nvlink_bytes": b, "ib_bytes": 0.0}
    nodes = R // g
    nv = 2 * (g - 1) / g * nbytes                       # reduce-scatter + all-gather in the node
    ib = 2 * (nodes - 1) / nodes * (nbytes / g)         # ring all-reduce of a 1/g slice, per rail
    return {"time": nv / c["NCCL_NVLINK_BUSBW"] + ib / c["NCCL_IB_BUSBW_PER_NIC"],
            "nvlink_bytes": nv, "ib_bytes": ib}


def collective_all_gather(total_bytes, R, c):
    """Time and per-rank received bytes of an all-gather whose result is `total_bytes` on every
    rank (each rank contributes total/R). R <= 8: one NVLink ring. Larger R: hierarchical -
      1. all-gather across nodes among same-local-index GPUs over their own NIC (each rail
         gathers its 1/8 of the result),
      2. all-gather of the 8 rail blocks inside the node over NVLink."""
    if R == 1:
        return {"time": 0.0, "nvlink_bytes": 0.0, "ib_bytes": 0.0}
    g = c["GPUS_PER_NODE"]
    if R <= g:
        b = (R - 1) / R * total_bytes
        return {"time": b / c["NCCL_NVLINK_BUSBW"], "nvlink_bytes": b, "ib_bytes": 0.0}
    nodes = R // g
    ib = (nodes - 1) / nodes * (total_bytes / g)
    nv = (g - 1) / g * total_bytes
    return {"time": ib / c["NCCL_IB_BUSBW_PER_NIC"] + nv / c["NCCL_NVLINK_BUSBW"],
            "nvlink_bytes": nv, "ib_bytes": ib}


def decode_step(b, ctx, c, pc):
    """One decode step of b sequences at mean context ctx: roofline of (weights + KV cache read)
    against (GEMM + attention FLOPs)."""
    kv_per_token = 2 * c["LAYERS"] * c["KV_HEADS"] * c["HEAD_DIM"] * c["PARAM_BYTES_BF16"]
    weight_bytes = c["PARAM_BYTES_BF16"] * pc["matmul"]      # the embedding table is gathered, not streamed
    kv_bytes = b * ctx * kv_per_token
    flops = b * (2 * pc["matmul"] + 4 * c["LAYERS"] * c["HEADS"] * c["HEAD_DIM"] * ctx)
    t_mem = (weight_bytes + kv_bytes) / (c["H100_HBM_BYTES_PER_S"] * c["DECODE_HBM_EFF"])
    t_flop = flops / (c["H100_BF16_DENSE_FLOPS"] * c["DECODE_MFU"])
    return {"time": max(t_mem, t_flop), "t_mem": t_mem, "t_flop": t_flop, "weight_bytes": weight_bytes,
            "kv_bytes": kv_bytes, "kv_per_token": kv_per_token, "bound": "memory" if t_mem >= t_flop else "compute"}


def fwd_flops_per_token(seq_len, c, pc):
    """Forward FLOPs per token of a packed sequence of length seq_len: 2 x matmul params plus
    causal attention (QK^T and AV over a mean context of seq_len/2: 4 * layers * d * seq_len/2)."""
    return 2 * pc["matmul"] + 2 * c["LAYERS"] * c["HEADS"] * c["HEAD_DIM"] * seq_len


def rollout_time(R, c, pc, variant="continuous"):
    seqs = c["PROMPTS_PER_STEP"] * c["ROLLOUTS_PER_PROMPT"] / R
    Lp, Lr = c["MEAN_PROMPT_TOKENS"], c["MEAN_RESPONSE_TOKENS"]
    peak = c["H100_BF16_DENSE_FLOPS"] * c["MFU_TRAIN"]
    # prefill: every sequence reads its own prompt (no prefix sharing across the G rollouts:
    # conservative; rlvr's generate reads each sequence's prompt through its own KV cache)
    prefill = seqs * Lp * fwd_flops_per_token(Lp, c, pc) / peak
    if variant == "continuous":
        # continuous batching: b sequences in flight, refilled as they finish; decode steps =
        # generated tokens / b; mean context of a sequence over its life = prompt + response/2
        b = min(seqs, c["MAX_DECODE_BATCH"])
        st = decode_step(b, Lp + Lr / 2, c, pc)
        steps = seqs * Lr / b
    elif variant == "tail":
        # as continuous, but the rank cannot finish before its longest response: if one response
        # runs to the cap, >= MAX_RESPONSE_TOKENS steps, the last ones with few sequences in flight
        b = min(seqs, c["MAX_DECODE_BATCH"])
        st = decode_step(b, Lp + Lr / 2, c, pc)
        steps = seqs * Lr / b
        tail = decode_step(1, Lp + c["MAX_RESPONSE_TOKENS"] / 2, c, pc)
        if c["MAX_RESPONSE_TOKENS"] * tail["time"] > steps * st["time"]:
            st, steps = tail, c["MAX_RESPONSE_TOKENS"]
    elif variant == "static_shards":
        # rlvr as written: one generate call per owned shard, P*G/S sequences each, static batch
        # that runs until its longest response ends (assumed: the cap, i.e. >= 1 truncation in the
        # call); finished sequences keep their slot
        # (rlvr/generate.hpp: a finished sequence is fed pad until the batch is done). Prompts are
        # read through the same decode calls (no separate prefill).
        b = c["PROMPTS_PER_STEP"] * c["ROLLOUTS_PER_PROMPT"] / c["SHARDS"]
        st = decode_step(b, (Lp + c["MAX_RESPONSE_TOKENS"]) / 2, c, pc)
        steps = (c["SHARDS"] / R) * (Lp + c["MAX_RESPONSE_TOKENS"])
        prefill = 0.0
    else:
        raise ValueError(variant)
    return {"seqs_per_rank": seqs, "batch": b, "decode_steps": steps, "step": st,
            "decode": steps * st["time"], "prefill": prefill, "total": steps * st["time"] + prefill}


def step_model(R, mode, c, rollout_variant="continuous"):
    pc = param_counts(c)
    N = pc["total"]
    P, G = c["PROMPTS_PER_STEP"], c["ROLLOUTS_PER_PROMPT"]
    seqs = P * G
    Lp, Lr = c["MEAN_PROMPT_TOKENS"], c["MEAN_RESPONSE_TOKENS"]
    seq_len = Lp + Lr
    tokens = seqs * seq_len                                    # packed (no padding)
    updates = (P // c["MINI_BATCH_PROMPTS"]) * c["PPO_EPOCHS"]
    peak = c["H100_BF16_DENSE_FLOPS"] * c["MFU_TRAIN"]
    fwd_tok = fwd_flops_per_token(seq_len, c, pc)
    S = c["SHARDS"]
    assert S % R == 0, "the model assumes R divides S"
    hbm = c["H100_HBM_BYTES_PER_S"] * c["ELEMENTWISE_HBM_EFF"]

    ro = rollout_time(R, c, pc, rollout_variant)
    logp = tokens * fwd_tok / R / peak                         # old-policy log-probs
    ref = logp                                                 # reference forward (KL only)
    upd_tokens = tokens * c["KEPT_FRACTION"]
    fb_flops_step = 3 * upd_tokens * fwd_tok * c["PPO_EPOCHS"]    # = 6 N tokens + attention
    fwdbwd = fb_flops_step / R / peak

    # rollout + log-prob exchange (all-gather; rlvr gathers padded token rows and packed floats)
    row = c["MAX_PROMPT_TOKENS"] + c["MAX_RESPONSE_TOKENS"]
    data_total = seqs * row * c["TOKEN_BYTES"] + seqs * Lr * c["PER_TOKEN_FLOATS_GATHERED"] * 4
    data = collective_all_gather(data_total, R, c)

    grad = c["GRAD_BYTES"] * N                                 # one fp32 gradient, bytes
    if mode == "fast":
        coll = collective_all_reduce(grad, R, c)
        flat_bytes = 2 * (R - 1) / R * grad                    # ring all-reduce bytes sent per rank
        summed = S // R                                        # own shards summed locally
    else:
        coll = collective_all_gather(S * grad, R, c)
        flat_bytes = (R - 1) / R * S * grad                    # received per rank
        summed = S                                             # every rank sums all S in order
    local_sum = (summed + 1) * grad / hbm if summed > 1 else 0.0   # read k buffers, write 1
    optim = c["ADAMW_BYTES_PER_PARAM"] * N / R / hbm           # AdamW on a 1/R shard (ZeRO)

    per_update_comm = coll["time"]
    comm = updates * per_update_comm + data["time"]
    compute = ro["total"] + logp + fwdbwd + updates * (local_sum + optim)
    if c["KL_IN_PSR_NSR"]:
        compute += ref
    total = compute + comm
    return {
        "R": R, "mode": mode, "rollout_variant": rollout_variant,
        "rollout": ro["total"], "rollout_decode": ro["decode"], "rollout_prefill": ro["prefill"],
        "decode_batch": ro["batch"], "decode_steps": ro["decode_steps"],
        "decode_step_ms": ro["step"]["time"] * 1e3, "decode_bound": ro["step"]["bound"],
        "logprob_fwd": logp, "ref_fwd_if_kl": ref, "fwd_bwd": fwdbwd,
        "grad_comm_per_update": per_update_comm, "grad_comm": updates * per_update_comm,
        "grad_bytes_per_rank_per_update": flat_bytes,
        "grad_nvlink_bytes_per_update": coll["nvlink_bytes"], "grad_ib_bytes_per_update": coll["ib_bytes"],
        "local_sum": updates * local_sum, "optimizer": updates * optim,
        "data_exchange": data["time"], "data_exchange_bytes_total": data_total,
        "comm": comm, "step": total, "comm_share": comm / total, "updates": updates,
        "compute_and_memory_time": compute,
    }


def project(c, rollout_variant="continuous"):
    res = {}
    for mode in ("fast", "deterministic"):
        base = step_model(1, mode, c, rollout_variant)
        for R in c["RANKS"]:
            r = step_model(R, mode, c, rollout_variant)
            r["speedup"] = base["step"] / r["step"]
            r["efficiency"] = r["speedup"] / R
            res[f"{mode}/R={R}"] = r
    return res


SENSITIVITY = [  # (input, low, high, why that range)
    ("MEAN_RESPONSE_TOKENS", 300, 1200, "mean response length: half / double the assumed 600"),
    ("MFU_TRAIN", 0.30, 0.50, "training/forward MFU"),
    ("DECODE_HBM_EFF", 0.40, 0.80, "decode HBM efficiency"),
    ("NCCL_IB_BUSBW_PER_NIC", 25e9, 48e9, "IB bus bandwidth per NIC (RoCE-like low; NVIDIA's 48 GB/s high)"),
    ("NCCL_NVLINK_BUSBW", 300e9, 450e9, "NVLink bus bandwidth (line rate high)"),
    ("MEAN_PROMPT_TOKENS", 100, 300, "mean prompt length"),
    ("MAX_DECODE_BATCH", 128, 512, "decode batch per GPU"),
    ("ELEMENTWISE_HBM_EFF", 0.40, 0.80, "gradient-sum / AdamW HBM efficiency"),
]
WATCH = ("fast/R=8", "fast/R=64", "deterministic/R=8", "deterministic/R=64")


def sensitivity(c):
    base = project(c)
    rows = []
    for name, lo, hi, why in SENSITIVITY:
        entry = {"input": name, "low": lo, "high": hi, "why": why, "base": c[name]}
        worst = worst_eff = 0.0
        for tag, val in (("low", lo), ("high", hi)):
            cc = dict(c)
            cc[name] = val
            p = project(cc)
            entry[tag] = {"value": val}
            for w in WATCH:
                entry[tag][w] = {"step": p[w]["step"], "efficiency": p[w]["efficiency"]}
                worst = max(worst, abs(p[w]["step"] / base[w]["step"] - 1))
                worst_eff = max(worst_eff, abs(p[w]["efficiency"] - base[w]["efficiency"]))
        entry["max_rel_step_change"] = worst
        entry["max_efficiency_change"] = worst_eff
        rows.append(entry)
    rows.sort(key=lambda e: -e["max_rel_step_change"])
    return rows


def memory_table(c):
    pc = param_counts(c)
    N = pc["total"]
    out = {}
    for R in c["RANKS"]:
        out[R] = {
            "replicated (2+4+4+4+4 B)": 18 * N,
            "ZeRO-1 (optimizer+master sharded)": (2 + 4) * N + 12 * N / R,
            "ZeRO-2 (+ gradients sharded)": 2 * N + 16 * N / R,
            "ZeRO-3/FSDP (+ weights sharded)": 18 * N / R,
            "rlvr fast: S/R shard gradients held": (c["SHARDS"] // R) * 4 * N,
            "rlvr deterministic: S gathered shard gradients": c["SHARDS"] * 4 * N,
        }
    return out


# =============================================================================================
# Report
# =============================================================================================
def fmt_s(x):
    return f"{x:,.2f}" if x < 100 else f"{x:,.0f}"


def gb(x):
    return f"{x / 1e9:,.1f}"


def report(c):
    pc = param_counts(c)
    N = pc["total"]
    P, G = c["PROMPTS_PER_STEP"], c["ROLLOUTS_PER_PROMPT"]
    seqs = P * G
    seq_len = c["MEAN_PROMPT_TOKENS"] + c["MEAN_RESPONSE_TOKENS"]
    tokens = seqs * seq_len
    res = project(c)
    sens = sensitivity(c)
    tail = project(c, "tail")
    static = project(c, "static_shards")
    mem = memory_table(c)
    d1 = decode_step(min(seqs, c["MAX_DECODE_BATCH"]), c["MEAN_PROMPT_TOKENS"] + c["MEAN_RESPONSE_TOKENS"] / 2, c, pc)
    fwd_tok = fwd_flops_per_token(seq_len, c, pc)
    L = []
    w = L.append
    w("# Cost model: one data-parallel RLVR step at the paper's 7B scale (projection)")
    w("")
    w("Generated by `python3 scripts/dist_cost_model.py > bench/results/dist-cost-model.md`; do not edit by hand.")
    w("**This is an analytical model, not a measurement.** Nothing here ran on a GPU: the numbers follow from the")
    w("named constants in the script (each with its source, or marked ASSUMPTION) and the formulas below. Use them")
    w("for orders of magnitude and for where the time goes, not as a benchmark.")
    w("")
    w("## Headline")
    w("")
    for R in c["RANKS"][1:]:
        f_, d_ = res[f"fast/R={R}"], res[f"deterministic/R={R}"]
        where = "one node, NVLink" if R <= c["GPUS_PER_NODE"] else f"{R // c['GPUS_PER_NODE']} nodes, NVLink + IB NDR"
        w(f"- R = {R} ({where}): fast {fmt_s(f_['step'])} s per step, efficiency {f_['efficiency']:.1%}, "
          f"communication {f_['comm_share']:.1%} of the step; deterministic {fmt_s(d_['step'])} s, "
          f"{d_['efficiency']:.1%}, communication {d_['comm_share']:.1%}.")
    w(f"- R = 1 (hypothetical single GPU): {fmt_s(res['fast/R=1']['step'])} s per step; rollout "
      f"{res['fast/R=1']['rollout'] / res['fast/R=1']['step']:.0%}, log-probs "
      f"{res['fast/R=1']['logprob_fwd'] / res['fast/R=1']['step']:.0%}, forward+backward "
      f"{res['fast/R=1']['fwd_bwd'] / res['fast/R=1']['step']:.0%} of it.")
    w("")
    w("## Setup")
    w("")
    w(f"- Model: Qwen2.5-Math-7B, {c['LAYERS']} layers, hidden {c['HIDDEN']}, FFN {c['FFN']}, {c['HEADS']} heads / "
      f"{c['KV_HEADS']} KV heads × {c['HEAD_DIM']}, vocab {c['VOCAB']:,}, untied lm_head: N = {N:,} parameters "
      f"({N / 1e9:.3f} B; {pc['matmul'] / 1e9:.3f} B in matmuls incl. lm_head, {pc['embedding'] / 1e9:.3f} B embedding table).")
    w(f"- Step (paper): {P} prompts × {G} rollouts = {seqs:,} responses; mini-batch {c['MINI_BATCH_PROMPTS']} prompts "
      f"→ {P // c['MINI_BATCH_PROMPTS'] * c['PPO_EPOCHS']} updates per step; max prompt {c['MAX_PROMPT_TOKENS']}, "
      f"max response {c['MAX_RESPONSE_TOKENS']} tokens; lr {c['LEARNING_RATE']:g}; the paper ran on {c['PAPER_GPUS']} GPUs, one node.")
    w(f"- Assumed mean lengths: prompt {c['MEAN_PROMPT_TOKENS']}, response {c['MEAN_RESPONSE_TOKENS']} tokens → "
      f"{tokens / 1e6:.2f} M tokens per step (packed, no padding).")
    w(f"- rlvr: S = {c['SHARDS']} canonical shards; R ∈ {{{', '.join(str(r) for r in c['RANKS'])}}} ranks, one H100 SXM each; "
      f"R = 8 is one node (NVLink), R = 64 is 8 nodes (NVLink inside, InfiniBand NDR between, one NIC per GPU).")
    w("- Objective: PSR / NSR / W-REINFORCE (no KL term, so no reference forward; GRPO's KL would add the row "
      "\"reference forward\" below). Phases run one after another: no overlap of communication with compute.")
    w("")
    w("## Intermediate values (to check the arithmetic)")
    w("")
    w("| quantity | value |")
    w("|---|---:|")
    w(f"| fp32 gradient 4N | {gb(4 * N)} GB ({4 * N / 2**30:,.1f} GiB) |")
    w(f"| bf16 weights 2N | {gb(2 * N)} GB |")
    w(f"| forward FLOPs per token (2·N_matmul + attention at {seq_len} tokens) | {fwd_tok / 1e9:.2f} GFLOP "
      f"(attention {100 * (fwd_tok - 2 * pc['matmul']) / fwd_tok:.1f}%) |")
    w(f"| forward+backward FLOPs per step (3 × forward × {tokens / 1e6:.2f} M tokens) | {3 * fwd_tok * tokens:.3e} FLOP |")
    w(f"| sustained training FLOP/s per GPU ({c['MFU_TRAIN']:.0%} of {c['H100_BF16_DENSE_FLOPS'] / 1e12:.1f} TFLOP/s) | "
      f"{c['H100_BF16_DENSE_FLOPS'] * c['MFU_TRAIN'] / 1e12:.1f} TFLOP/s |")
    w(f"| KV cache per token (2 × {c['LAYERS']} layers × {c['KV_HEADS']} × {c['HEAD_DIM']} × 2 B) | {d1['kv_per_token']:,} B |")
    w(f"| decode step at R = 1 (batch {min(seqs, c['MAX_DECODE_BATCH'])}): weights + KV read | "
      f"{gb(d1['weight_bytes'])} + {gb(d1['kv_bytes'])} GB → {d1['t_mem'] * 1e3:.2f} ms memory vs {d1['t_flop'] * 1e3:.2f} ms compute "
      f"({d1['bound']} bound) |")
    kv_res = min(seqs, c["MAX_DECODE_BATCH"]) * seq_len * d1["kv_per_token"]
    w(f"| KV cache resident at batch {min(seqs, c['MAX_DECODE_BATCH'])}, {seq_len} tokens each (upper end) | {gb(kv_res)} GB |")
    w(f"| decode throughput per GPU at R = 1 | {min(seqs, c['MAX_DECODE_BATCH']) / d1['time']:,.0f} tokens/s |")
    w(f"| IB NDR per NIC | {c['IB_NDR_BITS_PER_S'] / 1e9:.0f} Gb/s = {c['IB_NDR_BYTES_PER_S'] / 1e9:.0f} GB/s per direction; "
      f"modelled NCCL busBw {c['NCCL_IB_BUSBW_PER_NIC'] / 1e9:.0f} GB/s |")
    w(f"| NVLink 4 per GPU | {c['NVLINK4_BYTES_PER_S'] / 1e9:.0f} GB/s per direction; modelled NCCL busBw "
      f"{c['NCCL_NVLINK_BUSBW'] / 1e9:.0f} GB/s |")
    w("")
    w("## Step time by phase (seconds per step, per rank; all ranks in lock-step)")
    w("")
    w("| R | mode | rollout | old log-probs | fwd+bwd (4 updates) | gradient comm | local shard sum | AdamW (1/R shard) "
      "| rollout/log-prob all-gather | **step** | speedup | efficiency | comm share |")
    w("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for mode in ("fast", "deterministic"):
        for R in c["RANKS"]:
            r = res[f"{mode}/R={R}"]
            w(f"| {R} | {mode} | {fmt_s(r['rollout'])} | {fmt_s(r['logprob_fwd'])} | {fmt_s(r['fwd_bwd'])} | "
              f"{fmt_s(r['grad_comm'])} | {fmt_s(r['local_sum'])} | {fmt_s(r['optimizer'])} | {r['data_exchange']:.3f} | "
              f"**{fmt_s(r['step'])}** | {r['speedup']:.2f}× | {r['efficiency']:.1%} | {r['comm_share']:.1%} |")
    w("")
    w("Comm share = (gradient communication + rollout/log-prob all-gather) / step time. Efficiency = speedup / R, "
      "against R = 1 of the same mode. Reference forward (GRPO's KL only, not in the totals): "
      + ", ".join(f"{fmt_s(res[f'fast/R={R}']['ref_fwd_if_kl'])} s at R = {R}" for R in c["RANKS"]) + ".")
    w("")
    r1 = res["fast/R=1"]
    w(f"Rollout detail: decode batch {int(r1['decode_batch'])} at R = 1 and 8, "
      f"{int(res['fast/R=64']['decode_batch'])} at R = 64 ({int(seqs / 64)} sequences per rank); decode steps "
      + ", ".join(f"{res[f'fast/R={R}']['decode_steps']:,.0f} at R = {R} ({res[f'fast/R={R}']['decode_step_ms']:.2f} ms each, "
                  f"{res[f'fast/R={R}']['decode_bound']} bound)" for R in c["RANKS"])
      + f"; prefill {fmt_s(r1['rollout_prefill'])} s at R = 1.")
    w("")
    w("## Gradient communication per update (per rank)")
    w("")
    w("| R | mode | formula | bytes per rank | of which NVLink | of which IB | time per update | × updates |")
    w("|---:|---|---|---:|---:|---:|---:|---:|")
    for mode in ("fast", "deterministic"):
        for R in c["RANKS"][1:]:
            r = res[f"{mode}/R={R}"]
            f = "2(R−1)/R · 4N (ring all-reduce)" if mode == "fast" else f"(R−1)/R · S · 4N (all-gather, S = {c['SHARDS']})"
            w(f"| {R} | {mode} | {f} | {gb(r['grad_bytes_per_rank_per_update'])} GB | {gb(r['grad_nvlink_bytes_per_update'])} GB | "
              f"{gb(r['grad_ib_bytes_per_update'])} GB | {r['grad_comm_per_update']:.3f} s | {r['updates']} → {r['grad_comm']:.2f} s |")
    w("")
    w("R = 64 is modelled as a hierarchical, rail-aligned collective: all-reduce = NVLink reduce-scatter inside the node "
      "(7/8 · 4N per GPU), ring all-reduce of the resulting 1/8 slice across the 8 nodes over each GPU's own NIC "
      "(2 · 7/8 · 4N/8 per GPU), NVLink all-gather inside the node (7/8 · 4N). All-gather of S shard gradients = "
      "inter-node all-gather per rail (7/8 · S·4N/8 over IB) then intra-node all-gather of the 8 rail blocks "
      "(7/8 · S·4N over NVLink); the two add up to (R−1)/R · S · 4N received. The flat-ring byte count of the brief "
      "(column 'bytes per rank') is the total a rank moves; the split shows which link carries it.")
    w("")
    w("## Memory per GPU (model states only; activations and KV cache excluded)")
    w("")
    w("| layout | " + " | ".join(f"R = {R}" for R in c["RANKS"]) + " |")
    w("|---|" + "---:|" * len(c["RANKS"]))
    for k in mem[c["RANKS"][0]]:
        cells = []
        for R in c["RANKS"]:
            v = mem[R][k]
            cells.append(f"{gb(v)} GB{'' if v <= c['H100_HBM_CAPACITY'] else ' ✗'}")
        w(f"| {k} | " + " | ".join(cells) + " |")
    w("")
    w(f"✗ = exceeds one H100's {c['H100_HBM_CAPACITY'] / 1e9:.0f} GB. Replicated data parallelism (rlvr's trainer today: every rank "
      "holds weights, gradients and AdamW state) does not fit 7B on an 80 GB GPU at any R. **The model assumes ZeRO-2-style "
      "sharding** (AdamW state, fp32 master and gradients sharded over the R ranks; AdamW cost charged on a 1/R shard). "
      "Its communication is a reduce-scatter of the gradient plus an all-gather of the updated parameters: in fp32 exactly "
      "the ring all-reduce's 2(R−1)/R · 4N bytes (charged here), in bf16 25% less. R = 1 is therefore a hypothetical "
      "compute baseline (one GPU would need optimizer offload). rlvr also keeps each shard's gradient in its own fp32 buffer "
      "(⌈S/R⌉ in fast mode, S after the deterministic all-gather): at 7B that is the last two rows, far beyond 80 GB; "
      "a 7B run needs the fast mode to accumulate shards into one buffer and the deterministic mode to gather and sum "
      "in parameter chunks (same bytes, bounded memory).")
    w("")
    w("## Sensitivity (one input at a time, others at their base value)")
    w("")
    w("| input | base | low / high | " + " | ".join(f"{t}: step (eff.) low / high" for t in WATCH)
      + " | max step change | max eff. change |")
    w("|---|---:|---|" + "---:|" * len(WATCH) + "---:|---:|")
    for e in sens:
        cells = []
        for t in WATCH:
            cells.append(f"{fmt_s(e['low'][t]['step'])} ({e['low'][t]['efficiency']:.0%}) / "
                         f"{fmt_s(e['high'][t]['step'])} ({e['high'][t]['efficiency']:.0%})")
        bv = e["base"]
        show = (lambda v: f"{v / 1e9:g} GB/s") if "BUSBW" in e["input"] else (lambda v: f"{v:g}")
        w(f"| `{e['input']}` ({e['why']}) | {show(bv)} | {show(e['low']['value'])} / {show(e['high']['value'])} | "
          + " | ".join(cells) + f" | {e['max_rel_step_change']:.0%} | {100 * e['max_efficiency_change']:.0f} pp |")
    w("")
    w("Sorted by the largest relative change of step time over the four configurations; efficiency (eff.) is against "
      f"R = 1 under the same inputs. Most sensitive step time: {', '.join('`' + e['input'] + '`' for e in sens[:3])}; "
      "most sensitive efficiency: "
      + ", ".join("`" + e["input"] + "`" for e in sorted(sens, key=lambda e: -e["max_efficiency_change"])[:3]) + ".")
    w("")
    w("Structural and workload variants (same inputs otherwise; step time, efficiency in parentheses):")
    w("")
    w("| variant | " + " | ".join(WATCH) + " |")
    w("|---|" + "---:|" * len(WATCH))
    cnsr = dict(c)
    cnsr["KEPT_FRACTION"] = 0.3
    variants = (
        ("base: continuous batching, mean length (the tables above)", res),
        (f"length tail: a rank ends no earlier than one response at the {c['MAX_RESPONSE_TOKENS']} cap "
         "(last steps with one sequence in flight)", tail),
        (f"rlvr's generate as written: S/R static calls of {seqs // c['SHARDS']} sequences, prompts read by decode, "
         "each call running to the cap (assumed: ≥ 1 truncation per call)", static),
        ("NSR-like: 30% of the responses enter the updates (ASSUMED share of incorrect responses; PSR keeps the other side)",
         project(cnsr)),
    )
    for name, p in variants:
        w(f"| {name} | " + " | ".join(f"{fmt_s(p[t]['step'])} s ({p[t]['efficiency']:.0%})" for t in WATCH) + " |")
    w("")
    w("## Assumptions and sources")
    w("")
    src = [
        "Paper setup: Zhu et al. 2025 (arXiv 2506.01347), reference scripts github.com/TianHongZXY/RLVR-Decomposed "
        "`run_qwen2.5-math-7b_psr_nsr.sh` (verl): train_batch_size 1024, rollout.n 8, ppo_mini_batch_size 256, "
        "max_prompt_length 1024, max_response_length 3072, lr 1e-6, kl_coef 0 (PSR/NSR; GRPO: kl_loss_coef 0.001), "
        "8 GPUs × 1 node, FSDP actor, vLLM rollout with tensor_model_parallel_size 2, gradient checkpointing on; "
        "also /work/shared/docs/rlvr-math.md §9. Qwen3-4B uses the same batch sizes with max_response_length 31744 "
        "(`run_qwen3-4b_psr_nsr.sh`); not modelled.",
        "Model shape: Qwen2.5-Math-7B config.json (hidden 3584, 28 layers, 28/4 heads, FFN 18944, vocab 152064, "
        "untied embeddings); N counted from it.",
        "H100 SXM5: 989.4 TFLOP/s dense BF16 (half the datasheet's 1,979 with sparsity), 3.35 TB/s HBM3, 80 GB, "
        "NVLink 900 GB/s total (450 GB/s per direction) — https://www.nvidia.com/en-us/data-center/h100/.",
        "NCCL NVLink busBw 370 GB/s for ring algorithms (\"~20% protocol overhead\"), NVLS all-reduce ~480 GB/s — "
        "NCCL maintainer, github.com/NVIDIA/nccl-tests/issues/212.",
        "InfiniBand NDR 400 Gb/s = 50 GB/s per direction per NIC, one NIC per GPU; NVIDIA expects 46–48 GB/s NCCL busBw "
        "per NIC (github.com/NVIDIA/nccl-tests/issues/290); modelled at 40 GB/s (ASSUMPTION, derated).",
        f"ASSUMPTION: MFU {c['MFU_TRAIN']:.0%} for forward+backward and for the no-grad forwards (log-probs, prefill); "
        "backward = 2 × forward FLOPs (6·N·tokens plus attention); activation-checkpoint recompute counted as MFU loss.",
        f"ASSUMPTION: decode is a roofline of HBM traffic (bf16 matmul weights + the KV cache of every sequence in "
        f"flight, at {c['DECODE_HBM_EFF']:.0%} of 3.35 TB/s) against GEMM FLOPs ({c['DECODE_MFU']:.0%} MFU); continuous "
        f"batching with up to {c['MAX_DECODE_BATCH']} sequences per GPU (vLLM V0's default max_num_seqs), tensor parallelism 1 "
        "(7B in bf16 fits one GPU); prefill of every sequence's prompt, no prefix sharing across the 8 rollouts.",
        f"ASSUMPTION: mean prompt {c['MEAN_PROMPT_TOKENS']} and mean response {c['MEAN_RESPONSE_TOKENS']} tokens (the paper reports neither); "
        "forwards run on packed tokens (verl's use_remove_padding=True), not on rows padded to 1024 + 3072.",
        f"ASSUMPTION: gradient sums and AdamW stream HBM at {c['ELEMENTWISE_HBM_EFF']:.0%}; AdamW moves "
        f"{c['ADAMW_BYTES_PER_PARAM']} B per parameter; ZeRO-2 sharding (see Memory).",
        "Rollout/log-prob exchange: rlvr all-gathers int32 token rows padded to max prompt + max response and two "
        "float32 values per response token (trainer.hpp); modelled with the same collective formulas.",
        "Collectives: bandwidth terms only (messages are GBs, so per-hop latency of ~10 µs is negligible); "
        "busBw as defined by nccl-tests (time = bytes moved per rank / busBw).",
    ]
    for s in src:
        w(f"- {s}")
    w("")
    w("## What this model leaves out")
    w("")
    left = [
        "Stragglers and load imbalance from response lengths: ranks wait for the slowest at every collective; the "
        "'length tail' row above bounds the rollout part of this, and the imbalance of forward/backward work between "
        "shards is not modelled.",
        "Overlap of gradient communication with the backward pass (bucketed all-reduce as in DDP/FSDP): would hide most "
        "of the fast mode's communication; the deterministic mode can overlap only if shard gradients are streamed.",
        "Optimizer-state sharding is assumed (ZeRO-2) but rlvr does not implement it; ZeRO-3/FSDP (what verl uses) adds "
        "two bf16 parameter all-gathers per update (forward and backward) and shards the weights too — in fp32-equivalent "
        "bytes still ≈ one all-reduce.",
        "Pipeline or tensor parallelism: not needed for 7B with ZeRO-2/3 on 80 GB GPUs, and not modelled; the paper's verl "
        "run used tensor parallelism 2 for vLLM rollout only.",
        "Activation memory and activation checkpointing recompute (the paper enables gradient checkpointing: +1 forward, "
        "≈ 8·N instead of 6·N FLOPs per token, unless absorbed by the MFU assumption).",
        "Weight transfer between the training and rollout engines (verl resharding FSDP → vLLM); rlvr rolls out from the "
        "trained replica, so there is none.",
        "Reward verification (CPU, string-level; small), data loading, checkpointing, evaluation, logging.",
        "Collective latency terms, NCCL protocol choice, network congestion and SHARP/NVLS acceleration.",
        "Per-shard statistics of batch-level surrogates (exact in rlvr), numerics, and anything about convergence: the "
        "deterministic mode buys bit-identical results across R, not speed.",
    ]
    for s in left:
        w(f"- {s}")
    w("")
    return "\n".join(L)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--json", action="store_true", help="print the raw numbers as JSON")
    a = ap.parse_args(argv)
    c = dict(BASE)
    if a.json:
        out = {
            "inputs": {k: v for k, v in c.items() if not isinstance(v, tuple)} | {"RANKS": list(c["RANKS"])},
            "param_counts": param_counts(c),
            "projection": project(c),
            "projection_tail": project(c, "tail"),
            "projection_static_shards": project(c, "static_shards"),
            "memory_bytes_per_gpu": {str(k): v for k, v in memory_table(c).items()},
            "sensitivity": sensitivity(c),
        }
        json.dump(out, sys.stdout, indent=1, sort_keys=True)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(report(c))


if __name__ == "__main__":
    main()
