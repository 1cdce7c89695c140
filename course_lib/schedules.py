"""Learning-rate schedules, stepped once per optimizer step.

Both return a ``torch.optim.lr_scheduler.LambdaLR``: the learning rate at step ``s`` is the
optimizer's own ``lr`` times a factor ``f(s)``, where ``s`` counts optimizer steps from 0.
"""

from __future__ import annotations

import torch
from torch.optim.lr_scheduler import LambdaLR


def linear_warmup_schedule(
    optimizer: torch.optim.Optimizer, warmup_steps: int, total_steps: int
) -> LambdaLR:
    """Learning rate rising linearly for ``warmup_steps``, then falling linearly to 0 at
    ``total_steps``; step it once per optimizer step (``fit`` and ``train`` do)."""
    if warmup_steps < 0 or total_steps < 1:
        raise ValueError(
            f"need warmup_steps >= 0 and total_steps >= 1, got {warmup_steps}, {total_steps}"
        )

    def factor(step: int) -> float:
        warm = (step + 1) / warmup_steps if warmup_steps else 1.0
        return max(0.0, min(warm, (total_steps - step) / max(1, total_steps - warmup_steps)))

    return LambdaLR(optimizer, factor)


def noam_factor(step: int, d_model: int, warmup_steps: int) -> float:
    """The paper's rate ``d_model**-0.5 * min(n**-0.5, n * warmup_steps**-1.5)`` at
    ``n = step + 1`` (``step`` counts from 0): linear warm-up, then inverse square root."""
    n = step + 1
    return d_model**-0.5 * min(n**-0.5, n * warmup_steps**-1.5)


def noam_schedule(optimizer: torch.optim.Optimizer, d_model: int, warmup_steps: int) -> LambdaLR:
    """"Attention is all you need" (section 5.3): warm up for ``warmup_steps``, then decay as
    ``1 / sqrt(step)``; the peak, at ``warmup_steps``, is ``(d_model * warmup_steps)**-0.5``.

    The optimizer's ``lr`` multiplies the formula: create it with ``lr=1.0`` for the paper's
    rate (and ``betas=(0.9, 0.98), eps=1e-9`` for the paper's Adam), ``lr=2.0`` for twice it.
    """
    if d_model < 1 or warmup_steps < 1:
        raise ValueError(f"need d_model >= 1 and warmup_steps >= 1, got {d_model}, {warmup_steps}")
    return LambdaLR(optimizer, lambda step: noam_factor(step, d_model, warmup_steps))
