"""rlvr from Python: fused RLVR objectives, Philox samplers, Pass@k and verifiers.

Tensors cross into the C++ library through DLPack without a copy: any object with
``__dlpack__`` (a torch tensor, a NumPy array, JAX/CuPy arrays on the host) is accepted; outputs
of the functions here are NumPy arrays. ``rlvr.torch`` gives the same functions with torch
outputs, and ``rlvr.torch.policy_loss`` as an autograd function.

Errors are ``rlvr.Error`` subclasses (``ShapeError``, ``RangeError``, ``NumericalError``,
``ConfigError``, ``ParseError``, ``UnsupportedError``, ...); ``str(e)`` starts with the stable id
(``[rlvr.shape] ...``), also in ``e.id``.
"""
import numpy as _np

from ._rlvr import (  # noqa: F401  (re-exported)
    ConfigError,
    DeviceError,
    Error,
    IOError,
    NumericalError,
    Objective,
    ParseError,
    RangeError,
    ShapeError,
    UnsupportedError,
    ZpWalk,
    backend,
    default_num_threads,
    math_verify,
    objective_names,
    pass_hat_k,
    philox_uniform,
    version,
)
from . import _rlvr

__version__ = "%d.%d.%d" % version


def objective(name, **options):
    """The objective ``name`` with its options (rlvr's C++ defaults where omitted).

    Names: psr, nsr, w_reinforce, reinforce, ppo, grpo, dr_grpo, rloo, reinforce_pp
    ("reinforce++"). Options (each objective accepts those it uses; an unknown one is a
    ``ConfigError``): clip_low, clip_high, dual_clip, log_ratio_clamp (PPO clip);
    aggregation ("token_mean", "seq_mean_token_mean", "seq_mean_token_sum",
    "seq_mean_token_sum_norm", "token_sum"), max_length; kl ("none", "k1", "k2", "k3"), kl_beta,
    kl_clamp (KL to the reference in the loss); entropy_coef; unused ("drop"/"zero": psr, nsr);
    lam (w_reinforce); positive, negative (reinforce); eps, std_floor, singleton (grpo);
    whiten_eps (reinforce_pp, ppo); gamma, gae_lambda, reward_kl_beta, reward_kl, whiten (ppo).
    A combination of aggregation and kl that is not compiled into the module raises
    ``UnsupportedError`` listing those that are.
    """
    if isinstance(name, Objective):
        if options:
            raise ConfigError("[rlvr.config] objective: options given with an Objective object")
        return name
    return _rlvr.objective(name, **options)


def _u8(x):
    """A mask as uint8 (bool arrays are viewed, not copied)."""
    if x is None:
        return None
    a = _np.asarray(x)
    return a.view(_np.uint8) if a.dtype == _np.bool_ else a


def advantages(rewards, group_ids=None, seq=None, mask=None, *, objective="grpo", values=None, old_logp=None,
               ref_logp=None, **options):
    """Per-token advantages of a rollout batch: returns (advantages [K, N], active [K, N] uint8,
    returns [N], report dict). ``seq`` maps each token to its response (default: one token per
    response, so the advantages are per response); K is the objective's component count."""
    obj = globals()["objective"](objective, **options)
    r = _np.asarray(rewards)
    if r.dtype not in (_np.float32, _np.float64):
        r = r.astype(_np.float32)
    s = _np.arange(r.shape[0], dtype=_np.int32) if seq is None else _np.asarray(seq)
    n = s.size
    adv = _np.empty((obj.components, n), dtype=r.dtype)
    act = _np.empty((obj.components, n), dtype=_np.uint8)
    ret = _np.empty(n, dtype=r.dtype)
    rep = _rlvr.estimate_advantages(obj, r, s, adv, act, ret, group_ids=group_ids, mask=_u8(mask), values=values,
                                    old_logp=old_logp, ref_logp=ref_logp)
    return adv, act, ret, rep


def loss_and_grad(logits, targets, advantages, *, objective="grpo", grad=None, active=None, seq=None,
                  num_sequences=0, old_logp=None, ref_logp=None, temperature=1.0, global_tokens=0.0,
                  global_sequences=0.0, threads=0, **options):
    """The fused pass on host arrays: returns (loss, grad, diagnostics). ``grad`` may be given
    (written in place; it may be ``logits`` itself) or is allocated like the logits."""
    obj = globals()["objective"](objective, **options)
    if grad is None:
        z = _np.asarray(logits)
        grad = _np.empty(z.shape, dtype=z.dtype)
    d = _rlvr.loss_and_grad(obj, logits, targets, advantages, grad, active=_u8(active), seq=seq,
                            num_sequences=num_sequences, old_logp=old_logp, ref_logp=ref_logp,
                            temperature=temperature, global_tokens=global_tokens,
                            global_sequences=global_sequences, threads=threads)
    return d["loss"], grad, d


def log_prob_entropy(logits, targets, *, temperature=1.0, threads=0):
    """log π of each target and the entropy of each row at temperature τ: (logp [N], entropy [N])."""
    z = _np.asarray(logits)
    rows = z.shape[0] if z.ndim == 2 else int(_np.prod(z.shape[:-1]))
    logp = _np.empty(rows, dtype=z.dtype)
    ent = _np.empty(rows, dtype=z.dtype)
    _rlvr.log_prob_entropy(logits, targets, logp, ent, temperature=temperature, threads=threads)
    return logp, ent


def sample(logits, temperature=1.0, top_k=None, top_p=1.0, min_p=0.0, seed=0, offset=0, *, first_subsequence=0,
           subsequences=None, offsets=None, greedy=False, threads=0):
    """One token per row on rlvr's Philox streams (row i: (seed, first_subsequence + i, offset)):
    returns (tokens int64 [N], logprob [N] of the processed distribution, policy logprob [N] at
    τ = 1). Same draws as the C++ ``rlvr::sample`` for the same streams."""
    z = _np.asarray(logits)
    n = z.shape[0]
    tok = _np.empty(n, dtype=_np.int64)
    lp = _np.empty(n, dtype=z.dtype)
    plp = _np.empty(n, dtype=z.dtype)
    _rlvr.sample(logits, tok, lp, plp, temperature=temperature, top_k=top_k, top_p=top_p, min_p=min_p,
                 greedy=greedy, seed=seed, first_subsequence=first_subsequence, offset=offset,
                 subsequences=subsequences, offsets=offsets, threads=threads)
    return tok, lp, plp


def pass_at_k(n, c, k):
    """Unbiased pass@k: 1 − C(n − c, k)/C(n, k). Scalars give a float; arrays of n and c (one
    entry per problem) give a float64 array."""
    if _np.isscalar(n) and _np.isscalar(c):
        return _rlvr.pass_at_k(int(n), int(c), int(k))
    nn = _np.ascontiguousarray(n, dtype=_np.int64)
    cc = _np.ascontiguousarray(c, dtype=_np.int64)
    out = _np.empty(nn.shape, dtype=_np.float64)
    _rlvr.pass_at_k_many(nn, cc, int(k), out)
    return out


def math_verify_batch(responses, golds, threads=0):
    """math_verify over lists (golds: one per response, or one per group of responses)."""
    return _np.asarray(_rlvr.math_verify_batch(list(responses), list(golds), threads), dtype=_np.float64)
