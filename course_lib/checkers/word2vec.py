"""Checker for the word-embedding exercise: the skip-gram negative-sampling loss."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from course_lib.checkers.core import case, checker
from course_lib.checkers.mistakes import expect_close_or_explain
from course_lib.recurrent.word2vec import negative_sampling_loss as reference


def _mistakes(center, context, negatives) -> list[tuple[torch.Tensor, str]]:
    """What the usual wrong losses return on these inputs."""
    with torch.no_grad():
        pos = (center * context).sum(-1)
        neg = torch.einsum("bkd,bd->bk", negatives, center)
        return [
            (
                -(F.logsigmoid(pos) + F.logsigmoid(neg).sum(-1)).mean(),
                "the noise words are pushed the wrong way: use log sigma(-u_k . v_c) (note the "
                "minus sign), so their score is driven down.",
            ),
            (
                -(F.logsigmoid(pos) + F.logsigmoid(-neg).sum(-1)).sum(),
                "the loss is summed over the batch: take the mean.",
            ),
            (
                -(F.logsigmoid(pos) + F.logsigmoid(-neg).mean(-1)).mean(),
                "the noise terms are averaged: sum them over the K negatives, then average over "
                "the batch.",
            ),
            (
                -(torch.sigmoid(pos) + torch.sigmoid(-neg).sum(-1)).mean(),
                "the log is missing: the loss is -log sigma(...), use F.logsigmoid (stable).",
            ),
        ]


@checker
def check_negative_sampling_loss(loss_fn, seed: int = 2024) -> None:
    """``loss_fn(center, context, negatives)`` must equal the reference, keep the gradient,
    and stay exact for dot products from -150 to 150."""
    gen = torch.Generator().manual_seed(seed)
    batch, k, dim = 6, 4, 8
    shapes = f"center ({batch}, {dim}), context ({batch}, {dim}), negatives ({batch}, {k}, {dim})"
    for what, big in (("random vectors", False), ("scores from -150 to 150", True)):
        center = torch.randn(batch, dim, generator=gen)
        context = torch.randn(batch, dim, generator=gen)
        negatives = torch.randn(batch, k, dim, generator=gen)
        if big:  # dot products of set sizes (where log(sigmoid(x)) goes wrong) in every row
            center = F.normalize(center, dim=-1)
            sizes = torch.tensor([150.0, 100.0, 40.0, 25.0, 8.0, 3.0])
            signs = torch.randint(0, 2, (batch, k + 1), generator=gen) * 2.0 - 1.0
            scores = signs * sizes[torch.randperm(batch, generator=gen)][:, None]
            context = center * scores[:, :1] + 0.1 * context
            negatives = center[:, None, :] * scores[:, 1:, None] + 0.1 * negatives
        leaves = [t.clone().requires_grad_(True) for t in (center, context, negatives)]
        where = f"the loss for {what}, {shapes}"
        with case(where):
            ours = loss_fn(*leaves)
        if not isinstance(ours, torch.Tensor) or ours.dim() != 0:
            raise AssertionError(
                f"{where}: the loss must be a scalar tensor, the mean over the batch; got "
                f"{getattr(ours, 'shape', type(ours).__name__)}."
            )
        if not ours.requires_grad:
            raise AssertionError(
                f"{where}: the loss does not require grad, so training cannot learn from it."
                "\nHint: compute it with torch operations on center, context and negatives "
                "(no torch.no_grad(), .detach(), .item() or NumPy)."
            )
        refs = [t.clone().requires_grad_(True) for t in (center, context, negatives)]
        expected = reference(*refs)
        expect_close_or_explain(
            ours,
            expected,
            where,
            _mistakes(center, context, negatives),
            hint="loss = mean over the batch of -[log sigma(u_o . v_c) + sum_k "
            "log sigma(-u_k . v_c)]; log(sigmoid(x)) underflows for large negative x (the "
            "value goes wrong, not only to inf): use F.logsigmoid(x).",
        )
        grads = torch.autograd.grad(ours, leaves, allow_unused=True)
        ref_grads = torch.autograd.grad(expected, refs)
        for name, got, want in zip(
            ("center", "context", "negatives"), grads, ref_grads, strict=True
        ):
            if got is None or not torch.allclose(got, want, atol=1e-5, rtol=1e-4):
                raise AssertionError(
                    f"{where}: the gradient with respect to {name} differs from the "
                    "reference's.\nHint: use every input inside the loss with torch "
                    "operations; F.logsigmoid has an exact gradient where "
                    "log(sigmoid(x)) or a clamp does not."
                )
