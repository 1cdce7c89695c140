"""Checker for the warm-up exercise of Module 0: a numerically stable softmax."""

from __future__ import annotations

import torch

from course_lib.checkers.core import checker, expect_close


@checker
def check_softmax(softmax) -> None:
    """``softmax(x, dim)`` must equal ``torch.softmax`` on random and on huge inputs."""
    gen = torch.Generator().manual_seed(1234)
    x = torch.randn(3, 4, 5, generator=gen)
    for dim in (-1, 1):
        out = softmax(x, dim=dim)
        expect_close(
            out,
            torch.softmax(x, dim=dim),
            f"softmax(x, dim={dim}) on x of shape (3, 4, 5)",
            hint="normalise along `dim` only: divide by exp(x).sum(dim=dim, keepdim=True).",
        )
    sums = softmax(x, dim=-1).sum(dim=-1)
    assert torch.allclose(sums, torch.ones_like(sums), atol=1e-5), (
        "the outputs along `dim` must sum to 1."
    )
    big = torch.tensor([[1000.0, 1001.0, 1002.0]])
    out = softmax(big, dim=-1)
    assert torch.isfinite(out).all(), (
        "softmax([1000, 1001, 1002]) gave inf or NaN: exp(1000) overflows.\n"
        "Hint: subtract the maximum along `dim` before exponentiating; the result is unchanged."
    )
    expect_close(out, torch.softmax(big, dim=-1), "softmax of large inputs")
