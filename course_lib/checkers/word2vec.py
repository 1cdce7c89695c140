"""Checker for the word-embedding exercise: the skip-gram negative-sampling loss."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from course_lib.checkers.core import checker
from course_lib.checkers.mistakes import expect_close_or_explain
from course_lib.word2vec import negative_sampling_loss as reference


@checker
def check_negative_sampling_loss(loss_fn) -> None:
    """``loss_fn(center, context, negatives)`` must equal the reference on random vectors."""
    gen = torch.Generator().manual_seed(2024)
    batch, k, dim = 6, 4, 8
    center = torch.randn(batch, dim, generator=gen, requires_grad=True)
    context = torch.randn(batch, dim, generator=gen)
    negatives = torch.randn(batch, k, dim, generator=gen)
    ours = loss_fn(center, context, negatives)
    if not isinstance(ours, torch.Tensor) or ours.dim() != 0:
        raise AssertionError("the loss must be a scalar tensor: the mean over the batch.")
    with torch.no_grad():
        pos = (center * context).sum(-1)
        neg = torch.einsum("bkd,bd->bk", negatives, center)
        mistakes = [
            (-(F.logsigmoid(pos) + F.logsigmoid(neg).sum(-1)).mean(),
             "the noise words are pushed the wrong way: use log sigma(-u_k . v_c) (note the "
             "minus sign), so their score is driven down."),
            (-(F.logsigmoid(pos) + F.logsigmoid(-neg).sum(-1)).sum(),
             "the loss is summed over the batch: take the mean."),
            (-(F.logsigmoid(pos) + F.logsigmoid(-neg).mean(-1)).mean(),
             "the noise terms are averaged: sum them over the K negatives, then average over "
             "the batch."),
            (-(torch.sigmoid(pos) + torch.sigmoid(-neg).sum(-1)).mean(),
             "the log is missing: the loss is -log sigma(...), use F.logsigmoid (stable)."),
        ]
    expect_close_or_explain(
        ours, reference(center, context, negatives), "the negative-sampling loss", mistakes,
        hint="loss = mean over the batch of -[log sigma(u_o . v_c) + sum_k log sigma(-u_k . v_c)].",
    )
    big = 40.0 * torch.ones(1, dim)
    value = loss_fn(big, -big, big[:, None, :].expand(1, k, dim))
    if not torch.isfinite(value):
        raise AssertionError(
            "huge scores gave inf or NaN: log(sigmoid(x)) underflows; use F.logsigmoid(x)."
        )
