"""rlvr for PyTorch: the fused policy loss as an autograd function, and rlvr's samplers,
advantage estimators, Pass@k and verifier with torch tensors in and out.

Pure Python over the ``rlvr._rlvr`` extension; tensors cross through DLPack (no copy, no libtorch
link), so any PyTorch version with ``__dlpack__`` works. Host (CPU) tensors only in this build:
a CUDA tensor raises ``rlvr.UnsupportedError``.

    import rlvr.torch as rt
    loss = rt.policy_loss(logits, responses, response_mask, objective="grpo",
                          rewards=rewards, group_ids=prompt_ids, old_logp=old_logp, ref_logp=ref_logp)
    loss.backward()   # dL/dlogits comes from the fused pass, scaled by the incoming gradient

By default the functions use ``torch.get_num_threads()`` threads, the same count as PyTorch.
"""
import numpy as _np
import torch as _torch

from . import _rlvr
from . import objective as _objective
from . import math_verify, pass_at_k  # noqa: F401  (same functions for torch users)


def _threads(threads):
    return _torch.get_num_threads() if threads is None else int(threads)


def _host(x, name):
    """A torch tensor (or array-like) as a detached tensor; None stays None."""
    if x is None:
        return None
    t = x if isinstance(x, _torch.Tensor) else _torch.as_tensor(_np.asarray(x))
    if t.device.type != "cpu":
        raise _rlvr.UnsupportedError(
            f"[rlvr.unsupported] {name}: a {t.device.type} tensor; this build of the rlvr module runs on host (CPU) "
            "tensors only (built without CUDA)")
    return t.detach()


def _mask_u8(m):
    return None if m is None else (m.to(_torch.uint8) if m.dtype != _torch.uint8 else m)


def advantages(rewards, group_ids=None, seq=None, mask=None, *, objective="grpo", values=None, old_logp=None,
               ref_logp=None, **options):
    """Advantages of a rollout batch by ``objective``'s estimator(s).

    ``rewards`` [B] (one per response), ``group_ids`` [B] (prompt of each response), ``seq`` [N]
    (response of each token; default: one token per response), ``mask`` [N]. Returns
    ``(advantages, active)``, each [K, N] (K = the objective's components; squeezed to [N] when
    K = 1); GAE's value targets and the estimator's report are in ``advantages.returns`` and
    ``advantages.report`` (attributes of the returned tensor)."""
    obj = _objective(objective, **options)
    r = _host(rewards, "rewards")
    if r.dtype not in (_torch.float32, _torch.float64):
        r = r.float()
    s = _torch.arange(r.shape[0], dtype=_torch.int32) if seq is None else _host(seq, "seq")
    n = s.numel()
    adv = _torch.empty((obj.components, n), dtype=r.dtype)
    act = _torch.empty((obj.components, n), dtype=_torch.uint8)
    ret = _torch.empty(n, dtype=r.dtype)
    rep = _rlvr.estimate_advantages(obj, r, s, adv, act, ret, group_ids=_host(group_ids, "group_ids"),
                                    mask=_mask_u8(_host(mask, "mask")), values=_host(values, "values"),
                                    old_logp=_host(old_logp, "old_logp"), ref_logp=_host(ref_logp, "ref_logp"))
    if obj.components == 1:
        adv, act = adv[0], act[0]
    adv.returns = ret
    adv.report = rep
    return adv, act


class _PolicyLoss(_torch.autograd.Function):
    """forward: the fused pass (loss, dL/dlogits, diagnostics); backward: the kept gradient
    scaled in place by the incoming gradient (one N × V buffer in all)."""

    @staticmethod
    def forward(ctx, logits, call):
        z = logits.detach()
        if call["inplace"]:
            grad = z
        else:
            # a fresh N × V buffer: advised for transparent huge pages before its first touch (its
            # 4 KiB page faults can cost more than the fused pass that fills it)
            grad = _torch.empty_like(z, memory_format=_torch.contiguous_format)
            _rlvr.advise_hugepages(grad)
        call["diagnostics"].update(_rlvr.loss_and_grad(call["objective"], z, grad=grad, **call["args"]))
        if call["inplace"]:
            # the logits' storage now holds the gradient: bump their version counter (an in-place op
            # on an empty view), so that autograd refuses any backward that saved them
            z[:0].zero_()
        ctx.grad = grad
        return z.new_tensor(call["diagnostics"]["loss"])

    @staticmethod
    def backward(ctx, g):
        grad = ctx.grad
        if grad is None:
            raise RuntimeError("rlvr.torch.policy_loss: backward ran twice; the gradient buffer was handed to autograd "
                               "the first time (call policy_loss again instead of retain_graph=True)")
        ctx.grad = None
        if g.numel() != 1 or float(g) != 1.0:
            grad.mul_(g.to(grad.dtype))
        return grad, None


def policy_loss(logits, targets, mask=None, *, objective="grpo", advantages=None, rewards=None, group_ids=None,
                seq=None, num_sequences=0, old_logp=None, ref_logp=None, values=None, temperature=1.0,
                global_tokens=0.0, global_sequences=0.0, threads=None, inplace=False, return_diagnostics=False,
                **options):
    """The policy loss of ``objective`` as a differentiable scalar, by rlvr's fused pass.

    logits   [N, V] or [B, T, V] (float32/float64; rows may be strided, the last dim contiguous)
    targets  [N] or [B, T] token ids (int64 or int32)
    mask     [N] or [B, T] (bool/uint8): tokens that count (verl's response_mask); default all
    Advantages come either from ``advantages`` ([N]/[B, T] per token, [B] per response when
    logits are [B, T, V], or [K, N] for a K-component objective) or are estimated from
    ``rewards`` [B] (+ ``group_ids`` [B]) by the objective's estimator; ``seq`` [N] maps tokens
    to responses (default: row b of [B, T, V] is response b). ``old_logp``/``ref_logp`` [N]
    (or [B, T]) are the rollout and reference log-probs (PPO ratio; KL term). Objective options
    (clip_low, kl_beta, aggregation, …) as in ``rlvr.objective``. Returns the loss (0-d tensor of
    the logits' dtype), and the diagnostics dict with ``return_diagnostics=True``.

    ``inplace=True`` writes dL/dlogits over the logits (no N × V allocation at all: the fastest
    and leanest mode, as Liger's fused losses do). The logits are then gone; their version counter
    is bumped, so a backward that saved them (anything else computed from the same logits) raises
    autograd's "modified by an inplace operation" error instead of reading the gradient. Fine for
    the usual ``logits = lm_head(h)``, whose backward needs h and the weights, not the logits.
    """
    obj = _objective(objective, **options)
    z = _host(logits, "logits")
    if z.dim() not in (2, 3):
        raise _rlvr.ShapeError(f"[rlvr.shape] policy_loss: logits have shape {list(z.shape)} (need [N, V] or [B, T, V])")
    rows = z.shape[0] if z.dim() == 2 else z.shape[0] * z.shape[1]
    y = _host(targets, "targets")
    m = _mask_u8(_host(mask, "mask"))
    if seq is None and z.dim() == 3:
        seq = _torch.arange(z.shape[0], dtype=_torch.int32).repeat_interleave(z.shape[1])
    s = _host(seq, "seq")
    old = _host(old_logp, "old_logp")
    ref = _host(ref_logp, "ref_logp")
    if old is not None:
        old = old.to(z.dtype)
    if ref is not None:
        ref = ref.to(z.dtype)
    if advantages is None:
        if rewards is None:
            raise _rlvr.ConfigError("[rlvr.config] policy_loss: give advantages or rewards")
        if s is None:
            raise _rlvr.ShapeError("[rlvr.shape] policy_loss: rewards are per response; give seq (the response of each "
                                   "token) or [B, T, V] logits")
        r = _host(rewards, "rewards").to(z.dtype)
        adv = _torch.empty((obj.components, rows), dtype=z.dtype)
        act = _torch.empty((obj.components, rows), dtype=_torch.uint8)
        ret = _torch.empty(rows, dtype=z.dtype)
        _rlvr.estimate_advantages(obj, r, s, adv, act, ret, group_ids=_host(group_ids, "group_ids"),
                                  mask=None if m is None else m.reshape(-1),
                                  values=None if values is None else _host(values, "values").to(z.dtype),
                                  old_logp=old, ref_logp=ref)
    else:
        adv = _host(advantages, "advantages").to(z.dtype)
        if z.dim() == 3 and adv.dim() == 1 and adv.shape[0] == z.shape[0] and obj.components == 1:
            adv = adv[:, None].expand(z.shape[0], z.shape[1])  # per-response advantages
        adv = adv.contiguous()
        act = None if m is None else m.reshape(1, -1).expand(obj.components, rows).contiguous()
    diagnostics = {}
    call = {"objective": obj, "diagnostics": diagnostics, "inplace": inplace,
            "args": dict(targets=y, advantages=adv, active=act, seq=s, num_sequences=num_sequences, old_logp=old,
                         ref_logp=ref, temperature=temperature, global_tokens=global_tokens,
                         global_sequences=global_sequences, threads=_threads(threads))}
    loss = _PolicyLoss.apply(logits, call)
    return (loss, diagnostics) if return_diagnostics else loss


def log_prob_entropy(logits, targets, temperature=1.0, threads=None):
    """log π of each target and the entropy of each row at temperature τ, without gradient:
    (logp, entropy), each of the logits' leading shape."""
    z = _host(logits, "logits")
    lead = z.shape[:-1]
    logp = _torch.empty(lead, dtype=z.dtype)
    ent = _torch.empty(lead, dtype=z.dtype)
    _rlvr.log_prob_entropy(z, _host(targets, "targets"), logp, ent, temperature=temperature, threads=_threads(threads))
    return logp, ent


def sample(logits, temperature=1.0, top_k=None, top_p=1.0, min_p=0.0, seed=0, offset=0, *, first_subsequence=0,
           subsequences=None, offsets=None, greedy=False, threads=None):
    """One token per row of [N, V] logits on rlvr's Philox streams — row i draws at (seed,
    first_subsequence + i (or subsequences[i]), offset (or offsets[i])), the same draw as C++
    ``rlvr::sample`` — filtered by temperature → top-k → top-p → min-p. Returns (tokens int64,
    logprob under the processed distribution, policy logprob at τ = 1)."""
    z = _host(logits, "logits")
    n = z.shape[0]
    tok = _torch.empty(n, dtype=_torch.int64)
    lp = _torch.empty(n, dtype=z.dtype)
    plp = _torch.empty(n, dtype=z.dtype)
    _rlvr.sample(z, tok, lp, plp, temperature=temperature, top_k=top_k, top_p=top_p, min_p=min_p, greedy=greedy,
                 seed=seed, first_subsequence=first_subsequence, offset=offset,
                 subsequences=_host(subsequences, "subsequences"), offsets=_host(offsets, "offsets"),
                 threads=_threads(threads))
    return tok, lp, plp
