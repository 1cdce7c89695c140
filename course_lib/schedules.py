"""Modules 3-4: learning-rate schedules, stepped once per optimizer step.

The step-based ones return a ``torch.optim.lr_scheduler.LambdaLR``: the learning rate at step
``s`` is the optimizer's own ``lr`` times a factor ``f(s)``, where ``s`` counts optimizer steps
from 0. ``TimeBudgetSchedule`` decays by wall time instead, for runs with a time budget.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import torch
from torch.optim.lr_scheduler import LambdaLR, LRScheduler


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
    """ "Attention is all you need" (section 5.3): warm up for ``warmup_steps``, then decay as
    ``1 / sqrt(step)``; the peak, at ``warmup_steps``, is ``(d_model * warmup_steps)**-0.5``.

    The optimizer's ``lr`` multiplies the formula: create it with ``lr=1.0`` for the paper's
    rate (and ``betas=(0.9, 0.98), eps=1e-9`` for the paper's Adam), ``lr=2.0`` for twice it.
    """
    if d_model < 1 or warmup_steps < 1:
        raise ValueError(f"need d_model >= 1 and warmup_steps >= 1, got {d_model}, {warmup_steps}")
    return LambdaLR(optimizer, lambda step: noam_factor(step, d_model, warmup_steps))


class TimeBudgetSchedule(LRScheduler):
    """Warm up linearly for ``warmup_steps``, then fall linearly to 0 when ``minutes`` of wall
    time have passed since the schedule was made: a budget-aware schedule (Li et al. 2020,
    "Budgeted training"; Geiping & Goldstein 2022, "Cramming").

    With a wall-time budget a step-based schedule does not know where the run will stop: a
    run cut while the rate is high keeps the noise of its last steps. This one ends at rate 0
    whenever the budget ends. Pair it with ``TrainConfig(max_minutes=minutes)``. The time
    used is part of its state, so a run resumed from a checkpoint goes on where it stopped.
    """

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        warmup_steps: int,
        minutes: float,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        if warmup_steps < 0 or not minutes > 0:
            raise ValueError(
                f"need warmup_steps >= 0 and minutes > 0, got {warmup_steps}, {minutes}"
            )
        self.warmup_steps, self.budget_seconds, self.clock = warmup_steps, 60.0 * minutes, clock
        self.seconds_before, self.started = 0.0, clock()
        super().__init__(optimizer)

    def elapsed(self) -> float:
        """Seconds of the budget used, earlier runs included when resumed."""
        return self.seconds_before + self.clock() - self.started

    def factor(self) -> float:
        step = self.last_epoch  # optimizer steps taken
        warm = (step + 1) / self.warmup_steps if self.warmup_steps else 1.0
        return max(0.0, min(warm, 1.0 - self.elapsed() / self.budget_seconds))

    def get_lr(self) -> list[float]:
        return [base * self.factor() for base in self.base_lrs]

    def state_dict(self) -> dict:
        state = {k: v for k, v in vars(self).items() if k not in ("optimizer", "clock")}
        state.update(seconds_before=self.elapsed(), started=None)
        return state

    def load_state_dict(self, state_dict: dict) -> None:
        vars(self).update(state_dict)
        self.started = self.clock()  # the clock goes on from the time already used
