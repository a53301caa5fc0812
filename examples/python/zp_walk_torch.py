"""rlvr in a PyTorch training loop: a tiny causal transformer (plain torch) learns the Z_p walk
task of rlvr-study, then is trained with NSR and with GRPO through rlvr.torch.policy_loss, and
each model's Pass@k on held-out problems is printed.

    PYTHONPATH=build/release/python python3 examples/python/zp_walk_torch.py [--quick]

rlvr provides the task (rlvr.ZpWalk: problems, exact verifier), the sampler (rlvr.torch.sample on
Philox streams: the run is reproducible), the fused policy loss and Pass@k; everything else is
ordinary PyTorch.
"""
import argparse
import copy
import time

import numpy as np
import torch
import torch.nn as nn

import rlvr
import rlvr.torch as rt


class CausalTransformer(nn.Module):
    """Token + position embeddings, pre-norm transformer blocks with a causal mask, LM head."""

    def __init__(self, vocab, length, d_model=64, heads=4, layers=2):
        super().__init__()
        self.tok = nn.Embedding(vocab, d_model)
        self.pos = nn.Embedding(length, d_model)
        layer = nn.TransformerEncoderLayer(d_model, heads, 4 * d_model, dropout=0.0, batch_first=True, norm_first=True)
        self.blocks = nn.TransformerEncoder(layer, layers)
        self.norm = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, vocab)

    def forward(self, x):
        n = x.shape[1]
        causal = torch.triu(torch.full((n, n), float("-inf")), diagonal=1)
        h = self.tok(x) + self.pos(torch.arange(n))[None]
        return self.head(self.norm(self.blocks(h, mask=causal)))


def pad_batch(prompts, responses, pad):
    """[B, L] token matrix of prompt + response (+ pad) and the response mask over targets."""
    lp = len(prompts[0])
    length = lp + max(len(r) for r in responses)
    x = torch.full((len(prompts), length), pad, dtype=torch.long)
    mask = torch.zeros(len(prompts), length - 1, dtype=torch.bool)
    for i, (p, r) in enumerate(zip(prompts, responses)):
        x[i, :lp] = torch.tensor(p)
        x[i, lp:lp + len(r)] = torch.tensor(r)
        mask[i, lp - 1:lp - 1 + len(r)] = True  # logits at position t predict token t + 1
    return x, mask


@torch.no_grad()
def generate(model, task, prompts, seed, offset0, temperature=1.0):
    """One response per prompt, decoded token by token with rlvr's sampler: row i draws from the
    Philox stream (seed, i, offset0 + step)."""
    x = torch.tensor(prompts)
    done = torch.zeros(len(prompts), dtype=torch.bool)
    out = [[] for _ in prompts]
    for step in range(task.max_response_length):
        logits = model(x)[:, -1, :].contiguous()
        tok, _, _ = rt.sample(logits, temperature=temperature, seed=seed, offset=offset0 + step)
        for i in range(len(prompts)):
            if not done[i]:
                out[i].append(int(tok[i]))
                done[i] = int(tok[i]) == task.eos
        if bool(done.all()):
            break
        x = torch.cat([x, tok[:, None]], dim=1)
    return out


def pretrain(model, task, steps, batch, wrong_fraction, seed, lr=3e-3):
    """Supervised next-token training on correct and plausibly wrong walks (the base model)."""
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    k = 0
    for step in range(steps):
        prompts, responses = [], []
        for _ in range(batch):
            correct = (k * 0.6180339887) % 1.0 >= wrong_fraction
            p, r = task.pretraining_example(seed, k, correct)
            k += 1
            prompts.append(p)
            responses.append(r)
        x, mask = pad_batch(prompts, responses, task.pad)
        logits = model(x[:, :-1])
        loss = nn.functional.cross_entropy(logits[mask], x[:, 1:][mask])
        opt.zero_grad()
        loss.backward()
        opt.step()
    return float(loss)


def rl(model, task, objective, steps, prompts_per_step, group, seed, lr=1e-3, **options):
    """On-policy RL with rlvr's fused loss: G samples per training prompt, verifier rewards,
    rlvr.torch.policy_loss(objective), one Adam step per rollout batch."""
    ref = copy.deepcopy(model).eval()
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    rewards_seen = []
    for step in range(steps):
        probs = [task.problem(seed, step * prompts_per_step + i, "train") for i in range(prompts_per_step)]
        prompts = [p for p in probs for _ in range(group)]
        group_ids = torch.arange(prompts_per_step).repeat_interleave(group)
        responses = generate(model, task, prompts, seed=seed + 1, offset0=step * 64)
        rewards = torch.tensor([task.score(p, r) for p, r in zip(prompts, responses)])
        rewards_seen.append(float(rewards.mean()))
        x, mask = pad_batch(prompts, responses, task.pad)
        targets = x[:, 1:].contiguous()
        logits = model(x[:, :-1])  # [B, T, V]
        with torch.no_grad():
            ref_logp, _ = rt.log_prob_entropy(ref(x[:, :-1]), targets)
        loss = rt.policy_loss(logits, targets, mask, objective=objective, rewards=rewards, group_ids=group_ids,
                              ref_logp=ref_logp if objective == "grpo" else None, **options)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return rewards_seen


@torch.no_grad()
def pass_at_k(model, task, problems, n, seed, ks):
    """Unbiased Pass@k over held-out problems from n samples each."""
    prompts = [p for p in problems for _ in range(n)]
    responses = generate(model, task, prompts, seed=seed, offset0=0)
    correct = np.array([task.score(p, r) for p, r in zip(prompts, responses)]).reshape(len(problems), n)
    c = correct.sum(axis=1).astype(np.int64)
    return {k: float(rlvr.pass_at_k(np.full(len(problems), n), c, k).mean()) for k in ks}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="a few seconds: the smoke test the tests run")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--threads", type=int, default=1, help="torch and rlvr threads (tiny model: 1 is fastest)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    q = args.quick
    pre_steps, rl_steps = (60, 4) if q else (600, 60)
    n_eval, problems = (8, 6) if q else (32, 64)
    ks = [1, 4, 8] if q else [1, 4, 16, 32]

    task = rlvr.ZpWalk(modulus=13 if q else 53)
    t0 = time.time()
    base = CausalTransformer(task.vocab_size, task.max_prompt_length + task.max_response_length)
    pre_loss = pretrain(base, task, pre_steps, 64, wrong_fraction=0.75, seed=args.seed)
    held_out = [task.problem(args.seed + 100, i, "eval") for i in range(problems)]
    rows = [("base", pass_at_k(base, task, held_out, n_eval, args.seed + 7, ks))]
    for name, options in [("nsr", {}), ("grpo", dict(kl_beta=1e-3))]:
        model = copy.deepcopy(base)
        rewards = rl(model, task, name, rl_steps, 8, 8, seed=args.seed + 3, **options)
        print(f"{name}: training reward {rewards[0]:.3f} -> {rewards[-1]:.3f} over {rl_steps} steps")
        rows.append((name, pass_at_k(model, task, held_out, n_eval, args.seed + 7, ks)))

    print(f"zp_walk (p = {13 if q else 53}): pretraining loss {pre_loss:.3f}, {problems} held-out problems, "
          f"{n_eval} samples each, {time.time() - t0:.1f} s")
    print("model  " + "  ".join(f"Pass@{k:<3d}" for k in ks))
    for name, pk in rows:
        print(f"{name:5s}  " + "  ".join(f"{pk[k]:8.3f}" for k in ks))


if __name__ == "__main__":
    main()
