"""Modules 1-3: ``fit``, the small training loop, and ``evaluate_loss``.

The model-specific part is one function, ``loss_fn(model, batch) -> scalar loss``; the loop
moves batches to the device, steps the optimizer, shows a progress bar, and returns a history
for ``plot_history``. Module 4's engine, ``train`` (checkpoints, accumulation, several GPUs),
is in engine.py; the classifier metrics of Module 3 are in metrics.py.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping

import torch
from torch import nn

from course_lib.device import (
    autocast,
    check_finite_loss,
    check_mixed_precision,
    count_skipped_steps,
    to_device,
)

History = dict[str, list[float]]  # metric name -> one value per epoch (engine: per step)


LossFn = Callable[[nn.Module, dict], torch.Tensor]


@torch.no_grad()
def evaluate_loss(model: nn.Module, loader: Iterable, loss_fn: LossFn, device="cpu") -> float:
    """Mean of ``loss_fn`` over the batches of ``loader``, in eval mode."""
    model.eval()
    total, count = 0.0, 0
    for batch in loader:
        total += loss_fn(model, to_device(batch, device)).item()
        count += 1
    if count == 0:
        raise ValueError("evaluate_loss got an empty loader.")
    return total / count


def fit(
    model: nn.Module,
    train_loader: Iterable,
    loss_fn: LossFn,
    optimizer: torch.optim.Optimizer,
    epochs: int,
    device: torch.device | str = "cpu",
    evaluate: Callable[[nn.Module], Mapping[str, float]] | None = None,
    clip_grad_norm: float | None = None,
    scheduler=None,
    progress: bool = True,
    patience: int | None = None,
    monitor: str = "val_loss",
    mixed_precision: str = "no",
) -> History:
    """Train ``model`` for ``epochs``; returns ``{"train_loss": [...], **evaluate(model)}``.

    ``evaluate(model)`` runs after each epoch and returns metrics such as
    ``{"val_loss": 1.2, "val_accuracy": 0.8}``; each is appended to the history.

    ``mixed_precision`` ("no", "bf16", "fp16"; e.g. ``training_settings(profile)``'s) runs the
    forward pass under ``torch.autocast``; fp16 adds a ``torch.amp.GradScaler`` that skips a
    step whose gradients overflow (see ``MAX_NONFINITE_STEPS``).

    Early stopping: with ``patience``, training stops once ``monitor`` (a metric of
    ``evaluate``, lower is better) has not improved for ``patience`` epochs, and the model is
    given back the weights of its best epoch. The history keeps every epoch that ran.
    """
    from course_lib.machinery.progress import progress_bar

    if epochs < 1:
        raise ValueError(f"epochs must be >= 1, got {epochs}")
    if patience is not None and (evaluate is None or patience < 1):
        raise ValueError("early stopping needs patience >= 1 and an evaluate callback.")
    device_type = torch.device(device).type
    check_mixed_precision(mixed_precision, device_type)
    model.to(device)
    history: History = {"train_loss": []}
    best_value, best_state, since_best = math.inf, None, 0
    scaler = torch.amp.GradScaler(device_type, enabled=mixed_precision == "fp16")
    skipped_in_a_row = 0
    bar = progress_bar(total=epochs, desc="epochs", disable=not progress)
    for _ in range(epochs):
        model.train()
        total, count = 0.0, 0
        for batch in train_loader:
            with autocast(mixed_precision, device_type):
                loss = loss_fn(model, to_device(batch, device))
            check_finite_loss(loss, scaler.is_enabled())
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            if clip_grad_norm is not None:
                scaler.unscale_(optimizer)
                nn.utils.clip_grad_norm_(model.parameters(), clip_grad_norm)
            scale = scaler.get_scale()
            scaler.step(optimizer)  # skipped when the gradients hold inf or nan (fp16 only)
            scaler.update()
            skipped = scaler.is_enabled() and scaler.get_scale() < scale
            skipped_in_a_row = count_skipped_steps(skipped, skipped_in_a_row, loss.item())
            if scheduler is not None and not skipped:
                scheduler.step()
            if math.isfinite(loss.item()):
                total += loss.item()
                count += 1
        history["train_loss"].append(total / max(count, 1))
        if evaluate is not None:
            for name, value in evaluate(model).items():
                history.setdefault(name, []).append(float(value))
        bar.set_postfix({k: f"{v[-1]:.3f}" for k, v in history.items()}, refresh=False)
        bar.update(1)  # after the epoch, so an early stop reads "4/20", not "3/20"
        if patience is None:
            continue
        if monitor not in history:
            raise KeyError(f"monitor={monitor!r} is not among evaluate's metrics {list(history)}.")
        if history[monitor][-1] < best_value:
            best_value, since_best = history[monitor][-1], 0
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        else:
            since_best += 1
            if since_best >= patience:
                break
    bar.close()
    if best_state is not None:
        model.load_state_dict(best_state)
    return history
