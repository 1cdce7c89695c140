"""Module 4: label-smoothed cross-entropy that ignores padding, written out.

With smoothing ``eps`` over ``V`` classes the target distribution puts ``1 - eps + eps / V``
on the true token and ``eps / V`` on every other one, so the loss per token is

    (1 - eps) * (-log p[target]) + eps * mean_over_classes(-log p)

which is what ``F.cross_entropy(..., label_smoothing=eps)`` computes.
"""

from __future__ import annotations

import torch


def label_smoothed_cross_entropy(
    logits: torch.Tensor,
    targets: torch.Tensor,
    ignore_index: int = -100,
    smoothing: float = 0.0,
    reduction: str = "mean",
) -> torch.Tensor:
    """Cross-entropy of ``logits`` ``(B, T, V)`` or ``(N, V)`` against ``targets`` ``(B, T)`` or
    ``(N,)``, skipping positions where the target is ``ignore_index`` (pass the padding id; the name
    is ``F.cross_entropy``'s).

    ``reduction="mean"`` averages over the non-ignored tokens (0 when there are none);
    ``"sum"`` adds them up (pair it with the token count for ``train``'s
    ``(loss_sum, n_tokens)`` form); ``"none"`` returns one value per position (0 at padding).
    """
    if not 0.0 <= smoothing < 1.0:
        raise ValueError(f"smoothing must be in [0, 1), got {smoothing}")
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}")
    if logits.shape[:-1] != targets.shape or logits.dim() < 2:
        raise ValueError(
            f"logits {tuple(logits.shape)} and targets {tuple(targets.shape)} do not match: "
            "logits must be (..., vocab) and targets (...), e.g. (B, T, V) and (B, T)."
        )
    if targets.dtype.is_floating_point or targets.dtype == torch.bool:
        raise TypeError(f"targets must hold integer token ids, got {targets.dtype}")
    log_probs = logits.float().log_softmax(dim=-1)
    keep = targets != ignore_index
    safe_targets = targets.masked_fill(~keep, 0).long()
    nll = -log_probs.gather(-1, safe_targets.unsqueeze(-1)).squeeze(-1)
    uniform = -log_probs.mean(dim=-1)
    per_token = ((1.0 - smoothing) * nll + smoothing * uniform) * keep
    if reduction == "none":
        return per_token
    if reduction == "sum":
        return per_token.sum()
    return per_token.sum() / keep.sum().clamp(min=1)
