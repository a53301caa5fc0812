"""Plain PyTorch (autograd) and NumPy statements of rlvr's objectives, written from
docs/objectives.md (verl's conventions), for the tests to compare the fused pass with.

Nothing here calls rlvr: advantages follow the estimator table, per-token terms the term table,
weights the aggregation table, and the gradient comes from torch autograd through
log_softmax/softmax.
"""
import numpy as np
import torch


# ---- estimators: per-response advantages A_i and kept flags (docs/objectives.md) ------------------
def group_stats(r, g):
    """mean and sample std (n − 1) of each group's non-NaN rewards, in float64."""
    out = {}
    for gid in np.unique(g):
        x = r[(g == gid) & ~np.isnan(r)].astype(np.float64)
        n = len(x)
        mean = x.mean() if n else 0.0
        std = np.sqrt(((x - mean) ** 2).sum() / (n - 1)) if n > 1 else 0.0
        out[gid] = (n, mean, std, x.min() if n else 0, x.max() if n else 0)
    return out


def response_advantages(kind, r, g, cfg):
    """(A [B] float64, keep [B] bool) of one estimator."""
    r = np.asarray(r, dtype=np.float64)
    b = len(r)
    g = np.zeros(b, dtype=np.int64) if g is None else np.asarray(g)
    keep = ~np.isnan(r)
    a = np.zeros(b)
    if kind == "sign":
        pos, neg, unused = cfg["positive"], cfg["negative"], cfg.get("unused", "drop")
        for i in range(b):
            if not keep[i]:
                continue
            a[i] = pos if r[i] > 0 else neg
            if a[i] == 0 and unused == "drop":
                keep[i] = False
        return a, keep
    st = group_stats(r, g)
    for i in range(b):
        if not keep[i]:
            continue
        n, mean, std, lo, hi = st[g[i]]
        if kind == "zscore":
            eps = cfg.get("eps", 1e-6)
            if n == 1:
                a[i] = 0.0
            elif lo == hi or std <= 1e-6 * max(1.0, abs(mean)):
                a[i] = 0.0
            else:
                a[i] = (r[i] - mean) / (std + eps)
        elif kind == "baseline":
            a[i] = 0.0 if n < 2 or lo == hi else r[i] - mean
        elif kind == "rloo":
            a[i] = 0.0 if n < 2 or lo == hi else n / (n - 1) * (r[i] - mean)
        elif kind == "raw":
            a[i] = r[i]
    return a, keep


def whiten(adv, active, eps):
    """(A − mean)/sqrt(var + ε) over the active tokens, var with n − 1 (verl's masked_whiten)."""
    x = adv[active].astype(np.float64)
    out = np.zeros_like(adv, dtype=np.float64)
    if len(x) == 0:
        return out
    mean = x.mean()
    scale = 1.0 / np.sqrt(((x - mean) ** 2).sum() / (len(x) - 1) + eps) if len(x) > 1 else 1.0
    out[active] = (adv[active] - mean) * scale
    return out


def gae_advantages(r, seq, mask, values, old, ref, gamma, lam, beta, whiten_eps):
    """GAE over r_t = −β·k1_t + [t = last]·r_i, k1 = log π_old − log π_ref; whitened."""
    n = len(seq)
    adv = np.zeros(n)
    active = np.zeros(n, dtype=bool)
    for i in range(len(r)):
        toks = [t for t in range(n) if seq[t] == i and mask[t]]
        nv, na = 0.0, 0.0
        for j, t in enumerate(reversed(toks)):
            rt = r[i] if j == 0 else 0.0
            rt -= beta * (old[t] - ref[t])
            delta = rt + gamma * nv - values[t]
            na = delta + gamma * lam * na
            nv = values[t]
            adv[t] = na
            active[t] = True
    return whiten(adv, active, whiten_eps), active


# ---- aggregation weights ----------------------------------------------------------------------------
def weights(mode, active, seq, max_length=1024.0):
    """w_t of the aggregation table: token_mean m/Σm, seq_mean_token_mean m/(B·n_i),
    seq_mean_token_sum m/B, seq_mean_token_sum_norm m/(B·L), token_sum m."""
    m = active.astype(np.float64)
    n_i = {s: m[seq == s].sum() for s in np.unique(seq)}
    bcount = sum(1 for v in n_i.values() if v > 0)
    w = np.zeros(len(m))
    for t in range(len(m)):
        if not active[t]:
            continue
        if mode == "token_mean":
            w[t] = 1.0 / m.sum()
        elif mode == "seq_mean_token_mean":
            w[t] = 1.0 / (bcount * n_i[seq[t]])
        elif mode == "seq_mean_token_sum":
            w[t] = 1.0 / bcount
        elif mode == "seq_mean_token_sum_norm":
            w[t] = 1.0 / (bcount * max_length)
        else:
            w[t] = 1.0
    return w


# ---- the loss, by autograd -------------------------------------------------------------------------
def loss(z, y, adv, w, *, surrogate="ppo", old=None, ref=None, kl=None, beta=1e-3, kl_clamp=10.0, eps_low=0.2,
         eps_high=0.2, dual_clip=0.0, entropy_coef=0.0, tau=1.0):
    """L = Σ_t w_t ℓ_t with ℓ = surrogate + KL + entropy terms (docs/objectives.md's term table);
    z requires grad; all per-token tensors are of z's dtype."""
    x = z / tau
    logp_all = torch.log_softmax(x, dim=-1)
    logp = logp_all.gather(1, y[:, None]).squeeze(1)
    entropy = -(torch.softmax(x, dim=-1) * logp_all).sum(-1)
    if surrogate == "ppo":
        o = logp.detach() if old is None else old
        ratio = torch.exp(torch.clamp(logp - o, -20.0, 20.0))
        ell = torch.maximum(-adv * ratio, -adv * torch.clamp(ratio, 1 - eps_low, 1 + eps_high))
        if dual_clip > 0:
            ell = torch.where(adv < 0, torch.minimum(ell, -dual_clip * adv), ell)
    else:
        ell = -adv * logp
    if kl == "k1":
        ell = ell + beta * (logp - ref)
    elif kl == "k2":
        ell = ell + beta * 0.5 * (ref - logp) ** 2
    elif kl == "k3":
        d = torch.clamp(ref - logp, -20.0, 20.0)
        ell = ell + beta * torch.clamp(torch.exp(d) - d - 1, max=kl_clamp)
    ell = ell - entropy_coef * entropy
    return (w * ell).sum()
