#!/usr/bin/python3
"""CALIBRATION TOOL ONLY (not used by the C++ rlvr-study program).

A PyTorch prototype of the Z_p walk study, used to pick the task knobs, the base-model data mix,
the model size and the RL learning rate / step count before porting to C++ on rlvr's API.
Run with /usr/bin/python3 (it has torch):  /usr/bin/python3 calibrate.py --help
"""
import argparse, math, random, time
import torch, torch.nn as nn, torch.nn.functional as F

ap = argparse.ArgumentParser()
ap.add_argument('--p', type=int, default=53)
ap.add_argument('--pre-len', type=int, default=4)     # pretraining walks have 1..pre_len steps
ap.add_argument('--wrong', type=float, default=0.5)   # fraction of honestly wrong demonstrations
ap.add_argument('--train-dmax', type=int, default=3)  # RL training problems: distance <= this
ap.add_argument('--test-dmin', type=int, default=4)   # held-out problems: distance >= this
ap.add_argument('--test-dmax', type=int, default=5)
ap.add_argument('--maxlen', type=int, default=8)
ap.add_argument('--d', type=int, default=64)
ap.add_argument('--layers', type=int, default=2)
ap.add_argument('--pre-steps', type=int, default=1500)
ap.add_argument('--pre-bs', type=int, default=64)
ap.add_argument('--ntest', type=int, default=64)
ap.add_argument('--n', type=int, default=256)
ap.add_argument('--rl', default='')
ap.add_argument('--rl-steps', type=int, default=30)
ap.add_argument('--rl-lr', type=float, default=1e-4)
ap.add_argument('--prompts', type=int, default=32)
ap.add_argument('--temp', type=float, default=1.0)
ap.add_argument('--seed', type=int, default=0)
a = ap.parse_args()
torch.set_num_threads(1)
P = a.p
BOS, SEP, EOS, PAD = P, P + 1, P + 2, P + 3
V = P + 4
CTX = 3 + a.maxlen + 1
rng = random.Random(a.seed)
torch.manual_seed(a.seed)

def dist_from(s):
    d = {s: 0}; fr = [s]
    while fr:
        nf = []
        for v in fr:
            for w in ((v + 1) % P, (2 * v) % P):
                if w not in d: d[w] = d[v] + 1; nf.append(w)
        fr = nf
    return d
DIST = [dist_from(s) for s in range(P)]

def demo(correct):
    s = rng.randrange(P); L = rng.randint(1, a.pre_len)
    walk = []; v = s
    slip = rng.randrange(L) if not correct else -1
    for i in range(L):
        v = (v + 1) % P if rng.random() < 0.5 else (2 * v) % P
        if i == slip:
            v = (v + rng.choice([-1, 1])) % P
        walk.append(v)
    return [BOS, s, walk[-1], SEP] + walk + [EOS]

def valid(s, t, resp):
    v = s
    for i, w in enumerate(resp):
        if w == EOS:
            return i > 0 and v == t
        if w >= P or w not in ((v + 1) % P, (2 * v) % P): return False
        v = w
    return False

def problems(dmin, dmax, n, r):
    out = []
    while len(out) < n:
        s = r.randrange(P); t = r.randrange(P)
        if dmin <= DIST[s].get(t, 99) <= dmax: out.append((s, t))
    return out

class Block(nn.Module):
    def __init__(s, d, h):
        super().__init__(); s.ln1 = nn.LayerNorm(d); s.att = nn.MultiheadAttention(d, h, batch_first=True)
        s.ln2 = nn.LayerNorm(d); s.mlp = nn.Sequential(nn.Linear(d, 4 * d), nn.GELU(), nn.Linear(4 * d, d))
    def forward(s, x, mask):
        h = s.ln1(x); x = x + s.att(h, h, h, attn_mask=mask, need_weights=False)[0]
        return x + s.mlp(s.ln2(x))
class GPT(nn.Module):
    def __init__(s, d, L):
        super().__init__(); s.tok = nn.Embedding(V, d); s.pos = nn.Embedding(CTX, d)
        s.blocks = nn.ModuleList([Block(d, 4) for _ in range(L)]); s.lnf = nn.LayerNorm(d); s.head = nn.Linear(d, V)
    def forward(s, x):
        T = x.shape[1]; mask = torch.triu(torch.ones(T, T, dtype=torch.bool), 1)
        h = s.tok(x) + s.pos(torch.arange(T))
        for b in s.blocks: h = b(h, mask)
        return s.head(s.lnf(h))

model = GPT(a.d, a.layers)
print('params', sum(p.numel() for p in model.parameters()))
opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.0)
t0 = time.time()
for step in range(a.pre_steps):
    seqs = [demo(rng.random() >= a.wrong) for _ in range(a.pre_bs)]
    T = max(map(len, seqs)); x = torch.full((a.pre_bs, T), PAD); 
    for i, q in enumerate(seqs): x[i, :len(q)] = torch.tensor(q)
    logits = model(x[:, :-1]); tgt = x[:, 1:].clone(); tgt[:, :3] = PAD; 
    loss = F.cross_entropy(logits.reshape(-1, V), tgt.reshape(-1), ignore_index=PAD)
    lr = 3e-3 * min(1, (step + 1) / 100) * 0.5 * (1 + math.cos(math.pi * step / a.pre_steps))
    for g in opt.param_groups: g['lr'] = lr
    opt.zero_grad(); loss.backward(); opt.step()
    if step % 500 == 0: print('pre', step, round(loss.item(), 4), round(time.time() - t0, 1), 's', flush=True)

@torch.no_grad()
def sample(prompts, n, temp, top_p=1.0):
    x = torch.tensor([[BOS, s, t, SEP] for s, t in prompts]).repeat_interleave(n, 0)
    done = torch.zeros(x.shape[0], dtype=torch.bool); ent = []
    for _ in range(a.maxlen + 1):
        lg = model(x)[:, -1] / temp
        pr = F.softmax(lg, -1)
        ent.append((-(pr * F.log_softmax(lg, -1)).sum(-1))[~done].mean().item() if (~done).any() else 0)
        if top_p < 1:
            sp, si = pr.sort(-1, descending=True); cs = sp.cumsum(-1); sp[(cs - sp) > top_p] = 0
            tok = si.gather(1, torch.multinomial(sp, 1))[:, 0]
        else:
            tok = torch.multinomial(pr, 1)[:, 0]
        tok = torch.where(done, torch.full_like(tok, PAD), tok)
        x = torch.cat([x, tok[:, None]], 1); done |= tok == EOS
        if done.all(): break
    return x[:, 4:], sum(ent) / len(ent)

def passk(n, c, k):
    if n - c < k: return 1.0
    return 1 - math.prod(1 - k / i for i in range(n - c + 1, n + 1))

test = problems(a.test_dmin, a.test_dmax, a.ntest, random.Random(12345))
def evaluate(tag, temp=0.6, top_p=0.95):
    t0 = time.time(); cs = []
    for s, t in test:
        r, _ = sample([(s, t)], a.n, temp, top_p)
        cs.append(sum(valid(s, t, row.tolist()) for row in r))
    ks = [1, 4, 16, 64, 256]
    print(tag, ' '.join(f'p@{k}={sum(passk(a.n, c, k) for c in cs) / len(cs):.3f}' for k in ks), f'({time.time() - t0:.0f}s)', flush=True)
evaluate('base')
import copy
base_state = copy.deepcopy(model.state_dict())
for mode in [m for m in a.rl.split(',') if m]:
    model.load_state_dict(base_state)
    opt = torch.optim.AdamW(model.parameters(), lr=a.rl_lr, weight_decay=0.0)
    prng = random.Random(7)
    for step in range(a.rl_steps):
        prompts = problems(1, a.train_dmax, a.prompts, prng)
        x, ent = sample(prompts, 8, 1.0)
        full = torch.cat([torch.tensor([[BOS, s, t, SEP] for s, t in prompts]).repeat_interleave(8, 0), x], 1)
        rew = torch.tensor([float(valid(s, t, row.tolist())) for (s, t), row in zip([p for p in prompts for _ in range(8)], x)])
        m = torch.zeros_like(x, dtype=torch.float)
        for i, row in enumerate(x.tolist()):
            L = row.index(EOS) + 1 if EOS in row else len(row); m[i, :L] = 1
        if mode == 'psr': A = torch.where(rew > 0, 1.0, 0.0); keep = rew > 0
        elif mode == 'nsr': A = torch.where(rew > 0, 0.0, -1.0); keep = rew == 0
        elif mode == 'wr': A = torch.where(rew > 0, 0.1, -1.0); keep = torch.ones_like(rew, dtype=torch.bool)
        else:
            g = rew.view(-1, 8); A = ((g - g.mean(1, keepdim=True)) / (g.std(1, keepdim=True) + 1e-6)).view(-1); keep = torch.ones_like(rew, dtype=torch.bool)
        with torch.no_grad():
            lp_old = torch.log_softmax(model(full[:, :-1]), -1).gather(2, full[:, 1:, None])[:, :, 0][:, 3:]
        idx = torch.nonzero(keep)[:, 0]; idx = idx[torch.randperm(len(idx))]
        for mb in idx.chunk(4):
            if len(mb) == 0: continue
            lp = torch.log_softmax(model(full[mb, :-1]), -1)
            lpt = lp.gather(2, full[mb, 1:, None])[:, :, 0][:, 3:]
            ratio = torch.exp((lpt - lp_old[mb]).clamp(-20, 20)); Am = A[mb][:, None]
            l = torch.max(-Am * ratio, -Am * ratio.clamp(0.8, 1.2)); mm = m[mb]
            loss = (l * mm).sum() / mm.sum()
            opt.zero_grad(); loss.backward(); torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0); opt.step()
        if step % 10 == 0 or step == a.rl_steps - 1:
            print(mode, step, 'reward', round(rew.mean().item(), 3), 'ent', round(ent, 3), flush=True)
    evaluate(mode)
