"""Samplers (the C++ sampler's draws, determinism, thread independence, distribution), advantages
on NumPy input, Pass@k, the math verifier and the Z_p walk task from Python."""
import math
import os
import subprocess

import numpy as np
import pytest
import torch

import rlvr
import rlvr.torch as rt


def reference_logits(dtype):
    i = np.arange(16, dtype=np.float64)[:, None]
    j = np.arange(50, dtype=np.float64)[None, :]
    return (3.0 * np.sin(0.7 * i + 1.3 * j)).astype(dtype)


CONFIGS = {  # name: (dtype, sample kwargs) — the same calls as tests/python/sampler_reference.cpp
    "f64_plain": (np.float64, dict(seed=7)),
    "f64_topp": (np.float64, dict(temperature=0.6, top_p=0.9, seed=11, first_subsequence=100, offset=3)),
    "f64_topk_minp": (np.float64, dict(temperature=1.3, top_k=5, min_p=0.05, seed=5, offset=9)),
    "f32_topp": (np.float32, dict(temperature=0.8, top_p=0.95, seed=42, first_subsequence=7, offset=1)),
    "f32_greedy": (np.float32, dict(greedy=True, seed=1)),
}


def test_sampler_streams_equal_the_cpp_sampler():
    exe = os.environ.get("RLVR_SAMPLER_REFERENCE")
    if not exe:
        pytest.skip("RLVR_SAMPLER_REFERENCE is not set (run through ctest)")
    lines = subprocess.run([exe], check=True, capture_output=True, text=True).stdout.split("\n")
    rows = {}
    for line in filter(None, lines):
        name, i, tok, lp, plp = line.split()
        rows.setdefault(name, []).append((int(tok), float(lp), float(plp)))
    assert set(rows) == set(CONFIGS)
    for name, (dtype, kw) in CONFIGS.items():
        greedy = kw.pop("greedy", False)
        first = kw.pop("first_subsequence", 0)
        z = reference_logits(dtype)
        tok, lp, plp = rlvr.sample(z, greedy=greedy, first_subsequence=first, **kw)
        ttok, tlp, tplp = rt.sample(torch.from_numpy(z), greedy=greedy, first_subsequence=first, **kw)
        exp = np.array(rows[name])
        np.testing.assert_array_equal(tok, exp[:, 0].astype(np.int64), err_msg=name)
        tol = 1e-6 if dtype == np.float32 else 1e-14
        np.testing.assert_allclose(lp, exp[:, 1], rtol=tol, atol=tol, err_msg=name)
        np.testing.assert_allclose(plp, exp[:, 2], rtol=tol, atol=tol, err_msg=name)
        np.testing.assert_array_equal(ttok.numpy(), tok)
        assert len(set(tok.tolist())) > 1 or greedy


def test_sampler_is_deterministic_and_thread_independent():
    g = torch.Generator().manual_seed(1)
    z = torch.randn(300, 257, generator=g) * 2
    a = rt.sample(z, temperature=0.7, top_p=0.9, seed=3, offset=5, threads=1)
    b = rt.sample(z, temperature=0.7, top_p=0.9, seed=3, offset=5, threads=2)
    for x, y in zip(a, b):
        assert torch.equal(x, y)
    c = rt.sample(z, temperature=0.7, top_p=0.9, seed=3, offset=6)
    assert not torch.equal(a[0], c[0])
    # a row's draw depends on its own stream only: row 5 alone with subsequence 5
    d = rt.sample(z[5:6], temperature=0.7, top_p=0.9, seed=3, offset=5, subsequences=torch.tensor([5]))
    assert int(d[0][0]) == int(a[0][5])


def test_sampler_distribution_matches_softmax():
    z = np.log(np.array([[0.1, 0.2, 0.3, 0.4]] * 20000))
    tok, lp, plp = rlvr.sample(z, seed=2024)
    freq = np.bincount(tok, minlength=4) / len(tok)
    p = np.array([0.1, 0.2, 0.3, 0.4])
    assert np.all(np.abs(freq - p) < 4 * np.sqrt(p * (1 - p) / len(tok)))
    np.testing.assert_allclose(lp, np.log(p[tok]), rtol=1e-12)


def test_sampler_errors():
    with pytest.raises(rlvr.RangeError, match=r"top_p = 1.5 is outside \(0, 1\]"):
        rt.sample(torch.zeros(2, 3), top_p=1.5)
    with pytest.raises(rlvr.NumericalError, match="row 1 has logit nan"):
        rt.sample(torch.tensor([[0.0, 1.0], [float("nan"), 0.0]]))


def test_advantages_from_numpy():
    adv, act, ret, rep = rlvr.advantages(np.array([1.0, 0.0, 1.0, 1.0]), group_ids=np.array([0, 0, 1, 1]),
                                         objective="grpo")
    # group 0: mean 0.5, std 0.7071 → ±0.7071/(0.7071 + 1e-6); group 1: all equal → 0 (zero-std)
    s = math.sqrt(0.5)
    np.testing.assert_allclose(adv[0], [0.5 / (s + 1e-6), -0.5 / (s + 1e-6), 0, 0], rtol=1e-6)
    assert rep["zero_std_groups"] == 1 and rep["groups"] == 2
    a, active = rt.advantages(torch.tensor([1.0, 0.0, 0.0]), objective="psr")
    assert active.tolist() == [1, 0, 0] and a.tolist() == [1.0, 0.0, 0.0]
    with pytest.raises(rlvr.ShapeError, match="group_ids has length 2 but rewards has 3"):
        rt.advantages(torch.tensor([1.0, 0.0, 0.0]), torch.tensor([0, 1]))


def test_pass_at_k():
    assert rlvr.pass_at_k(10, 3, 2) == pytest.approx(1 - math.comb(7, 2) / math.comb(10, 2), abs=1e-15)
    assert rt.pass_at_k(5, 0, 3) == 0.0
    out = rlvr.pass_at_k(np.array([10, 10, 4]), np.array([3, 0, 4]), 2)
    np.testing.assert_allclose(out, [1 - 21 / 45, 0.0, 1.0], rtol=1e-15)
    out_t = rlvr.pass_at_k(torch.tensor([10, 10]), torch.tensor([3, 0]), 2)
    np.testing.assert_allclose(out_t, [1 - 21 / 45, 0.0], rtol=1e-15)
    with pytest.raises(rlvr.RangeError, match=r"\[rlvr.range\] pass_at_k: k = 5 exceeds n = 4"):
        rlvr.pass_at_k(4, 1, 5)


def test_math_verify():
    assert rt.math_verify(r"so the answer is $\boxed{\dfrac12}$.", "0.5")
    assert not rlvr.math_verify(r"\boxed{3}", "4")
    assert rlvr.math_verify(r"\boxed{\frac{1}{2}}", r"the solution ... so it is \boxed{0.5}")
    np.testing.assert_array_equal(rlvr.math_verify_batch([r"\boxed{2}", r"\boxed{3}", "none"], ["2", "2", "2"]),
                                  [1.0, 0.0, 0.0])
    with pytest.raises(rlvr.ParseError, match=r"\[rlvr.parse\]"):
        rlvr.math_verify(r"\boxed{1}", "")


def walk(s, t, p):
    """A shortest walk s → t under v → v+1, v → 2v (mod p), by BFS."""
    prev = {s: None}
    q = [s]
    while t not in prev:
        nq = []
        for v in q:
            for w in ((v + 1) % p, (2 * v) % p):
                if w not in prev:
                    prev[w] = v
                    nq.append(w)
        q = nq
    path = [t]
    while prev[path[-1]] is not None:
        path.append(prev[path[-1]])
    return path[::-1][1:]


def test_zp_walk_task():
    task = rlvr.ZpWalk()
    assert task.vocab_size == 53 + 4
    prompt = task.problem(seed=9, index=4, split="eval")
    assert prompt[0] == task.bos and prompt[-1] == task.sep and task.distance(prompt) in (4, 5)
    s, t = prompt[1], prompt[2]  # node v is token v
    good = walk(s, t, 53) + [task.eos]
    assert task.score(prompt, good) == 1.0
    bad = good[:]
    bad[0] = next(w for w in range(53) if w not in ((s + 1) % 53, (2 * s) % 53))  # not a step from s
    assert task.score(prompt, bad) == 0.0
    assert task.problem(9, 4, "eval") == prompt  # one Philox stream per (seed, index)
    p, r = task.pretraining_example(1, 0, correct=True)
    assert task.score(p, r) == 1.0
    p, r = task.pretraining_example(1, 1, correct=False)
    assert task.score(p, r) == 0.0
    with pytest.raises(rlvr.ConfigError, match="split = 'test'"):
        task.problem(1, 1, "test")
