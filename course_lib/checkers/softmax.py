"""Checker for the warm-up exercise of Module 0: a numerically stable softmax."""

from __future__ import annotations

import torch

from course_lib.checkers.core import case, checker, expect_close
from course_lib.checkers.mistakes import expect_close_or_explain

# Rows far apart in magnitude, with spreads wider than exp() tolerates in float32 (e^88):
# only subtracting each slice's own maximum gets all of them right.
CENTRES = (0.0, 1000.0, -1000.0, 300.0)
SPREADS = (2.0, 3.0, 1.0, 80.0)


def stress_rows(
    gen: torch.Generator, width: int = 6, centres=CENTRES, spreads=SPREADS
) -> torch.Tensor:
    """(len(centres), width) scores: row r around centres[r], spanning about 2 * spreads[r]."""
    noise = 0.1 * torch.randn(len(centres), width, generator=gen, dtype=torch.float64)
    ramp = torch.linspace(-1.0, 1.0, width, dtype=torch.float64) + noise
    scores = (
        torch.tensor(centres, dtype=torch.float64)[:, None]
        + torch.tensor(spreads, dtype=torch.float64)[:, None] * ramp
    )
    return scores[:, torch.randperm(width, generator=gen)]


def _explain_not_finite(out: torch.Tensor, what: str) -> None:
    """Fail naming the stress rows (of ``out``, (4, width)) that hold inf or NaN."""
    rows = (~torch.isfinite(out)).any(dim=-1).nonzero().flatten().tolist()
    raise AssertionError(
        f"{what}: rows {rows} gave inf or NaN (their scores lie around "
        f"{[CENTRES[r] for r in rows]}).\n"
        "Hint: subtract the maximum along `dim` of each row, x.max(dim=dim, keepdim=True)"
        ".values, before exponentiating. One global maximum leaves rows far below it to "
        "underflow to 0/0, and the minimum lets exp overflow."
    )


@checker
def check_softmax(softmax, seed: int = 1234) -> None:
    """``softmax(x, dim)`` must equal ``torch.softmax`` on random inputs and on rows of very
    different magnitudes (around 0, 1000, -1000, 300, some spanning 160), along either axis."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(3, 4, 5, generator=gen)
    for dim in (-1, 1):
        with case(f"softmax(x, dim={dim}) on x of shape (3, 4, 5)"):
            out = softmax(x, dim=dim)
        expect_close(
            out,
            torch.softmax(x, dim=dim),
            f"softmax(x, dim={dim}) on x of shape (3, 4, 5)",
            hint="normalise along `dim` only: divide by exp(x).sum(dim=dim, keepdim=True).",
        )
    big = stress_rows(gen).float()
    for scores, dim in ((big, -1), (big.T.contiguous(), 0)):
        what = (
            f"softmax(x, dim={dim}) on x of shape {tuple(scores.shape)} with "
            + ("rows" if dim == -1 else "columns")
            + " around 0, 1000, -1000 and 300"
        )
        with case(what):
            out = softmax(scores, dim=dim)
        if isinstance(out, torch.Tensor) and out.shape == scores.shape:
            if not torch.isfinite(out).all():
                _explain_not_finite(out if dim == -1 else out.T, what)
        clipped = scores.clamp(-80.0, 80.0)
        expect_close_or_explain(
            out,
            torch.softmax(scores, dim=dim),
            what,
            {
                "the scores were clipped: that changes the probabilities. Subtract the "
                "maximum along `dim` instead (the result is then exact).": torch.softmax(
                    clipped, dim=dim
                )
            },
            hint="subtract each slice's own maximum along `dim`, exponentiate, divide by "
            "the sum along `dim`.",
        )
