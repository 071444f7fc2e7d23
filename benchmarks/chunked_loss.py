"""Causal-LM loss computed chunk by chunk from the last hidden states, without the full logits.

The usual path materialises logits of batch x block x vocab, upcasts them to float32 (a second
full copy), keeps the log-softmax for backward (a third) and builds its gradient (a fourth). For
GPT-2's 50k vocabulary at batch 8 x block 256 that is ~400 MiB per copy, and on a CPU the time
goes to moving it. Here each chunk of rows computes its logits, its loss and, right away, its
gradients for the hidden states and the lm_head weight, then frees the logits: the same three
matmuls as the usual forward + backward, with only one chunk of logits alive at a time.
The loss is the same mean over non-ignored labels as transformers' ForCausalLMLoss (checked
against it to 1e-7, values and gradients).

A lever measured by bench_ceiling.py, not used by the trainer: on an idle 2-core CPU, each
contender in its own process with the trainer's allocator setting, it trained the GPT-2 124M
shape at 0.88x the usual path in bf16 and the tiny shape at 0.97x in fp32 (the per-chunk softmax
and gradient passes cost more than the copies they save once freed memory is reused).
"""

from __future__ import annotations

import functools

IGNORE_INDEX = -100
CHUNK_ROWS = 1024  # rows (tokens) per chunk: 1024 x 50257 float32 logits = 196 MiB at most


def causal_lm_loss(hidden, weight, labels, *, chunk_rows: int = CHUNK_ROWS):
    """Mean next-token cross-entropy of ``hidden @ weight.T`` against ``labels`` shifted by one.

    ``hidden``: (batch, block, width) final hidden states (after the last layer norm);
    ``weight``: (vocab, width) lm_head weight; ``labels``: (batch, block), IGNORE_INDEX to skip.
    Under CPU/CUDA autocast the matmuls run in its dtype, the softmax always in float32.
    """
    import torch

    device_type = hidden.device.type
    compute = torch.get_autocast_dtype(device_type) if torch.is_autocast_enabled(device_type) else None
    h = hidden[:, :-1].reshape(-1, hidden.shape[-1])
    y = labels[:, 1:].reshape(-1)
    return _function().apply(h, weight, y, chunk_rows, compute or hidden.dtype)


@functools.cache
def _function():
    """The autograd Function, built on first use so that importing this module skips torch."""
    import torch

    class LinearCrossEntropy(torch.autograd.Function):
        @staticmethod
        def forward(ctx, hidden, weight, labels, chunk_rows, compute_dtype):
            with torch.autocast(hidden.device.type, enabled=False):
                valid_all = labels != IGNORE_INDEX
                denominator = valid_all.sum().clamp(min=1).float()
                w = weight.to(compute_dtype)
                grad_hidden = torch.empty_like(hidden)
                grad_weight = torch.zeros(weight.shape, dtype=torch.float32, device=weight.device)
                total = torch.zeros((), dtype=torch.float32, device=hidden.device)
                for start in range(0, hidden.shape[0], chunk_rows):
                    h = hidden[start : start + chunk_rows].to(compute_dtype)
                    y = labels[start : start + chunk_rows]
                    valid = valid_all[start : start + chunk_rows]
                    target = y.masked_fill(~valid, 0)
                    logits = (h @ w.T).float()
                    lse = torch.logsumexp(logits, dim=-1)
                    picked = logits.gather(1, target[:, None]).squeeze(1)
                    total += ((lse - picked) * valid).sum()
                    # d loss / d logits = (softmax - one_hot) / n_valid, zero on ignored rows.
                    grad = logits.sub_(lse[:, None]).exp_()
                    grad[torch.arange(grad.shape[0], device=grad.device), target] -= 1
                    grad.mul_((valid.float() / denominator)[:, None])
                    grad = grad.to(compute_dtype)
                    grad_hidden[start : start + chunk_rows] = grad @ w
                    grad_weight += (grad.T @ h).float()
            ctx.save_for_backward(grad_hidden, grad_weight.to(weight.dtype))
            return total / denominator

        @staticmethod
        def backward(ctx, grad_output):
            grad_hidden, grad_weight = ctx.saved_tensors
            return grad_hidden * grad_output, grad_weight * grad_output, None, None, None

    return LinearCrossEntropy
