"""Every objective's advantages, loss and dL/dlogits through rlvr.torch.policy_loss against the
plain PyTorch autograd statement of docs/objectives.md (reference.py): 1e-5 in float32, 1e-10 in
float64."""
import os
import sys

import numpy as np
import pytest
import torch

sys.path.insert(0, os.path.dirname(__file__))
import reference as ref  # noqa: E402

import rlvr  # noqa: E402
import rlvr.torch as rt  # noqa: E402

TOL = {torch.float32: 1e-5, torch.float64: 1e-10}


def batch(dtype, seed=3):
    """Six responses in two groups of three (lengths 3..6), V = 23, some tokens masked; logits
    ~ N(0, 2²); old log-probs off by up to ±0.4 (so some ratios clip); reference log-probs."""
    g = torch.Generator().manual_seed(seed)
    lengths = [3, 5, 4, 6, 3, 5]
    seq = np.concatenate([np.full(n, i, dtype=np.int32) for i, n in enumerate(lengths)])
    n, v = len(seq), 23
    z = (torch.randn(n, v, generator=g, dtype=torch.float64) * 2.0)
    y = torch.randint(0, v, (n,), generator=g)
    mask = torch.ones(n, dtype=torch.bool)
    mask[[2, 9, 17]] = False
    logp = torch.log_softmax(z, -1).gather(1, y[:, None]).squeeze(1)
    old = logp + (torch.rand(n, generator=g, dtype=torch.float64) - 0.5) * 0.8
    refl = logp + (torch.rand(n, generator=g, dtype=torch.float64) - 0.5) * 0.6
    values = torch.randn(n, generator=g, dtype=torch.float64) * 0.3
    rewards = np.array([1.0, 0.0, 1.0, 0.0, 0.0, 1.0])
    groups = np.array([7, 7, 7, 2, 2, 2], dtype=np.int64)
    return dict(z=z.to(dtype), y=y, seq=seq, mask=mask, old=old.to(dtype), ref=refl.to(dtype),
                values=values.to(dtype), rewards=rewards, groups=groups)


# (name, rlvr options, estimator (kind, cfg), surrogate, kl, aggregation, uses old/ref)
CASES = [
    ("psr", {}, ("sign", dict(positive=1.0, negative=0.0)), "ppo", None, "token_mean"),
    ("psr", dict(unused="zero", aggregation="seq_mean_token_mean"),
     ("sign", dict(positive=1.0, negative=0.0, unused="zero")), "ppo", None, "seq_mean_token_mean"),
    ("nsr", dict(clip_low=0.1, clip_high=0.3), ("sign", dict(positive=0.0, negative=-1.0)), "ppo", None, "token_mean"),
    ("w_reinforce", dict(lam=0.1, aggregation="token_sum"),
     ("sign", dict(positive=0.1, negative=-1.0, unused="zero")), "ppo", None, "token_sum"),
    ("reinforce", {}, ("sign", dict(positive=1.0, negative=-1.0, unused="zero")), "reinforce", None, "token_mean"),
    ("reinforce", dict(kl="k2", kl_beta=0.05), ("sign", dict(positive=1.0, negative=-1.0, unused="zero")),
     "reinforce", "k2", "token_mean"),
    ("grpo", dict(clip_high=0.28, dual_clip=3.0, entropy_coef=1e-3), ("zscore", {}), "ppo", "k3", "token_mean"),
    ("grpo", dict(kl="k1", kl_beta=0.02), ("zscore", {}), "ppo", "k1", "token_mean"),
    ("grpo", dict(kl="k2", kl_beta=0.02, eps=1e-4), ("zscore", dict(eps=1e-4)), "ppo", "k2", "token_mean"),
    ("grpo", dict(aggregation="seq_mean_token_mean", kl_beta=0.1, kl_clamp=0.01), ("zscore", {}), "ppo", "k3",
     "seq_mean_token_mean"),
    ("grpo", dict(kl="none", aggregation="seq_mean_token_sum"), ("zscore", {}), "ppo", None, "seq_mean_token_sum"),
    ("dr_grpo", dict(max_length=16), ("baseline", {}), "ppo", None, "seq_mean_token_sum_norm"),
    ("dr_grpo", dict(max_length=16, kl="k3", kl_beta=0.01), ("baseline", {}), "ppo", "k3", "seq_mean_token_sum_norm"),
    ("rloo", dict(entropy_coef=0.01), ("rloo", {}), "ppo", None, "token_mean"),
    ("rloo", dict(kl="k1", kl_beta=0.01), ("rloo", {}), "ppo", "k1", "token_mean"),
    ("reinforce_pp", dict(whiten_eps=1e-8), ("raw_whitened", {}), "ppo", None, "token_mean"),
    ("ppo", dict(gamma=0.9, gae_lambda=0.8, reward_kl_beta=0.05), ("gae", {}), "ppo", None, "token_mean"),
]


def expected_advantages(kind, cfg, d):
    seq, mask = d["seq"], d["mask"].numpy()
    if kind == "gae":
        return ref.gae_advantages(d["rewards"], seq, mask, d["values"].double().numpy(), d["old"].double().numpy(),
                                  d["ref"].double().numpy(), 0.9, 0.8, 0.05, 1e-8)
    a_resp, keep = ref.response_advantages({"raw_whitened": "raw"}.get(kind, kind), d["rewards"], d["groups"], cfg)
    active = keep[seq] & mask
    adv = np.where(active, a_resp[seq], 0.0)
    if kind == "raw_whitened":
        adv = ref.whiten(adv, active, 1e-8)
    return adv, active


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("case", CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_loss_and_gradient_match_autograd(case, dtype):
    name, options, (kind, cfg), surrogate, kl, agg = case
    d = batch(dtype)
    tol = TOL[dtype]
    adv_np, active = expected_advantages(kind, cfg, d)
    obj = rlvr.objective(name, **options)
    needs_old = surrogate == "ppo"

    # advantages: the estimator alone
    a, act = rt.advantages(d["rewards"].astype(np.float64 if dtype == torch.float64 else np.float32),
                           d["groups"], d["seq"], d["mask"], objective=obj, values=d["values"], old_logp=d["old"],
                           ref_logp=d["ref"])
    np.testing.assert_array_equal(act.numpy().astype(bool), active)
    np.testing.assert_allclose(a.double().numpy(), adv_np, rtol=tol, atol=tol)

    # the loss and its gradient, by the fused pass and by autograd
    w = torch.tensor(ref.weights(agg, active, d["seq"], options.get("max_length", 1024.0)), dtype=dtype)
    z_ref = d["z"].clone().requires_grad_(True)
    beta = options.get("kl_beta", 1e-3)
    expected = ref.loss(z_ref, d["y"], torch.tensor(adv_np, dtype=dtype), w, surrogate=surrogate,
                        old=d["old"] if needs_old else None, ref=d["ref"], kl=kl, beta=beta,
                        kl_clamp=options.get("kl_clamp", 10.0), eps_low=options.get("clip_low", 0.2),
                        eps_high=options.get("clip_high", 0.2), dual_clip=options.get("dual_clip", 0.0),
                        entropy_coef=options.get("entropy_coef", 0.0))
    expected.backward()

    z = d["z"].clone().requires_grad_(True)
    got, diag = rt.policy_loss(z, d["y"], d["mask"], objective=obj, rewards=d["rewards"], group_ids=d["groups"],
                               seq=d["seq"], old_logp=d["old"] if needs_old else None,
                               ref_logp=d["ref"] if (kl or name == "ppo") else None, values=d["values"],
                               return_diagnostics=True)
    got.backward()
    assert got.dtype == dtype
    assert abs(float(got) - float(expected)) <= tol * max(1.0, abs(float(expected)))
    np.testing.assert_allclose(z.grad.double().numpy(), z_ref.grad.double().numpy(), rtol=tol, atol=tol)
    assert diag["active_tokens"] == int(active.sum())
    # no token gates and no exact KL in the Python objectives: the neutral values
    assert diag["mean_gate"] == 1.0 and diag["gated_out_frac"] == 0.0 and diag["full_kl"] == 0.0
    if needs_old and name != "ppo":
        assert diag["clip_frac_low"] + diag["clip_frac_high"] > 0  # the ±0.4 log-ratio noise clips some tokens


def test_backward_scales_by_the_incoming_gradient_and_runs_once():
    d = batch(torch.float64)
    z = d["z"].clone().requires_grad_(True)
    loss = rt.policy_loss(z, d["y"], objective="grpo", rewards=d["rewards"], group_ids=d["groups"], seq=d["seq"],
                          ref_logp=d["ref"])
    (2.5 * loss).backward(retain_graph=True)
    z2 = d["z"].clone().requires_grad_(True)
    rt.policy_loss(z2, d["y"], objective="grpo", rewards=d["rewards"], group_ids=d["groups"], seq=d["seq"],
                   ref_logp=d["ref"]).backward()
    np.testing.assert_allclose(z.grad.numpy(), 2.5 * z2.grad.numpy(), rtol=1e-14, atol=1e-16)
    with pytest.raises(RuntimeError, match="backward ran twice"):
        loss.backward()


def test_inplace_gives_the_same_gradient_and_guards_saved_logits():
    d = batch(torch.float64)
    kw = dict(objective="grpo", rewards=d["rewards"], group_ids=d["groups"], seq=d["seq"], ref_logp=d["ref"])
    z = d["z"].clone().requires_grad_(True)
    rt.policy_loss(z, d["y"], **kw).backward()
    w = d["z"].clone().requires_grad_(True)
    h = w * 1.0  # logits as a non-leaf, as lm_head's output is
    loss = rt.policy_loss(h, d["y"], inplace=True, **kw)
    assert torch.equal(h.detach(), z.grad)  # the gradient now lives in the logits' storage
    loss.backward()
    np.testing.assert_array_equal(w.grad.numpy(), z.grad.numpy())
    # something else that saved the logits for its backward: autograd refuses instead of reading the gradient
    w2 = d["z"].clone().requires_grad_(True)
    h2 = w2 * 1.0
    other2 = (h2 * h2).sum()  # mul saves h2 for its backward
    loss2 = rt.policy_loss(h2, d["y"], inplace=True, **kw)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        (loss2 + other2).backward()


def test_verl_style_batch_with_given_advantages():
    """[B, T, V] logits, response_mask and per-token advantages (verl's compute_policy_loss
    inputs): token-mean PPO clip loss over the mask."""
    g = torch.Generator().manual_seed(5)
    b, t, v = 4, 7, 19
    z = torch.randn(b, t, v, generator=g, dtype=torch.float64, requires_grad=True)
    y = torch.randint(0, v, (b, t), generator=g)
    mask = torch.rand(b, t, generator=g) > 0.25
    adv = torch.randn(b, t, generator=g, dtype=torch.float64)
    logp = torch.log_softmax(z.detach(), -1).gather(2, y[..., None]).squeeze(2)
    old = logp + (torch.rand(b, t, generator=g, dtype=torch.float64) - 0.5) * 0.6
    # verl: pg_losses = max(-A·ratio, -A·clip(ratio)), masked mean
    zr = z.detach().clone().requires_grad_(True)
    lp = torch.log_softmax(zr, -1).gather(2, y[..., None]).squeeze(2)
    ratio = torch.exp(torch.clamp(lp - old, -20, 20))
    pg = torch.maximum(-adv * ratio, -adv * torch.clamp(ratio, 0.8, 1.28))
    expected = (pg * mask).sum() / mask.sum()
    expected.backward()
    got = rt.policy_loss(z, y, mask, objective="grpo", kl="none", clip_high=0.28, advantages=adv, old_logp=old)
    got.backward()
    assert abs(float(got) - float(expected)) < 1e-12
    np.testing.assert_allclose(z.grad.numpy(), zr.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_micro_batches_with_global_tokens_sum_to_the_full_batch():
    d = batch(torch.float64)
    full = d["z"].clone().requires_grad_(True)
    a, act = rt.advantages(d["rewards"], d["groups"], d["seq"], objective="grpo")
    rt.policy_loss(full, d["y"], objective="grpo", advantages=a, seq=d["seq"], ref_logp=d["ref"]).backward()
    n = full.shape[0]
    parts = d["z"].clone().requires_grad_(True)
    total = 0.0
    for lo, hi in [(0, 10), (10, n)]:
        loss = rt.policy_loss(parts[lo:hi], d["y"][lo:hi], objective="grpo", advantages=a[lo:hi], ref_logp=d["ref"][lo:hi],
                              global_tokens=n)
        loss.backward()
        total += float(loss)
    np.testing.assert_allclose(parts.grad.numpy(), full.grad.numpy(), rtol=1e-12, atol=1e-15)


def test_objective_errors_name_the_problem():
    with pytest.raises(rlvr.ConfigError, match=r"\[rlvr.config\] objective: unknown name 'grpoo'"):
        rlvr.objective("grpoo")
    with pytest.raises(rlvr.ConfigError, match="unknown option 'lam'"):
        rlvr.objective("grpo", lam=0.1)
    with pytest.raises(rlvr.ConfigError, match="clip_low"):  # reinforce has no clip
        rlvr.objective("reinforce", clip_low=0.1)
    with pytest.raises(rlvr.UnsupportedError, match=r"\[rlvr.unsupported\].*token_sum.*k2.*compiled"):
        rlvr.objective("rloo", aggregation="token_sum", kl="k2")
    with pytest.raises(rlvr.ConfigError, match="eps_low"):
        rlvr.objective("grpo", clip_low=1.5)
    with pytest.raises(rlvr.ConfigError, match="aggregation = 'mean'"):
        rlvr.objective("grpo", aggregation="mean")
    e = None
    try:
        rlvr.objective("grpo", kl_beta=-1)
    except rlvr.Error as err:
        e = err
    assert e is not None and e.id == "rlvr.config" and str(e).startswith("[rlvr.config]")
    assert isinstance(e, ValueError)
    assert set(rlvr.objective_names()) >= {"psr", "nsr", "w_reinforce", "reinforce", "ppo", "grpo", "dr_grpo",
                                           "rloo", "reinforce_pp"}
    assert rlvr.objective("reinforce++").name == "reinforce_pp"
    assert rlvr.objective("grpo").uses_ref_logp and not rlvr.objective("grpo", kl="none").uses_ref_logp
