"""The one-line replacement of a verl-style actor loss by rlvr's fused pass.

verl computes log-probs from the logits (log_softmax + gather: two N × V temporaries), then
`compute_policy_loss(old_log_prob, log_prob, advantages, response_mask, ...)`, then autograd
walks back through softmax. rlvr does it in one pass over the logits and hands autograd the
gradient it already computed:

    # before (verl)
    log_prob = logprobs_from_logits(logits, responses)
    pg_loss = compute_policy_loss(old_log_prob, log_prob, advantages, response_mask,
                                  cliprange_low=0.2, cliprange_high=0.28)
    # after (rlvr)
    pg_loss = rlvr.torch.policy_loss(logits, responses, response_mask, objective="grpo", kl="none",
                                     advantages=advantages, old_logp=old_log_prob, clip_high=0.28)

Run: PYTHONPATH=build/release/python python3 examples/python/verl_drop_in.py (prints both and
exits non-zero if they differ).
"""
import torch

import rlvr.torch as rt


def logprobs_from_logits(logits, labels):
    return torch.log_softmax(logits, dim=-1).gather(-1, labels[..., None]).squeeze(-1)


def compute_policy_loss(old_log_prob, log_prob, advantages, response_mask, cliprange_low=0.2, cliprange_high=0.2):
    """verl's PPO clip loss, token-mean over the response mask."""
    ratio = torch.exp(torch.clamp(log_prob - old_log_prob, -20.0, 20.0))
    losses = torch.maximum(-advantages * ratio, -advantages * torch.clamp(ratio, 1 - cliprange_low, 1 + cliprange_high))
    return (losses * response_mask).sum() / response_mask.sum()


def main():
    g = torch.Generator().manual_seed(0)
    b, t, v = 8, 32, 1000
    logits = torch.randn(b, t, v, generator=g, requires_grad=True)
    responses = torch.randint(0, v, (b, t), generator=g)
    response_mask = torch.rand(b, t, generator=g) > 0.2
    advantages = torch.randn(b, t, generator=g)
    old_log_prob = logprobs_from_logits(logits.detach(), responses) + 0.3 * torch.randn(b, t, generator=g)

    before = compute_policy_loss(old_log_prob, logprobs_from_logits(logits, responses), advantages, response_mask,
                                 cliprange_low=0.2, cliprange_high=0.28)
    (grad_before,) = torch.autograd.grad(before, logits)
    after = rt.policy_loss(logits, responses, response_mask, objective="grpo", kl="none", advantages=advantages,
                           old_logp=old_log_prob, clip_high=0.28)
    (grad_after,) = torch.autograd.grad(after, logits)
    diff = float((grad_after - grad_before).abs().max())
    print(f"verl loss {float(before):.6f}  rlvr loss {float(after):.6f}  max |grad difference| {diff:.2e}")
    if abs(float(before) - float(after)) > 1e-5 or diff > 1e-6:
        raise SystemExit("verl_drop_in: the losses or gradients differ")


if __name__ == "__main__":
    main()
