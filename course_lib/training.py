"""A small training loop that every module reuses (and Module 4 extends).

The model-specific part is one function, ``loss_fn(model, batch) -> scalar loss``; the loop
moves batches to the device, steps the optimizer (with optional gradient clipping and a
per-step scheduler), shows a progress bar, and returns a history for ``plot_history``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

import torch
from torch import nn

History = dict[str, list[float]]
LossFn = Callable[[nn.Module, dict], torch.Tensor]


def to_device(batch, device: torch.device | str):
    """``batch`` (a tensor, or a dict/list/tuple of them) with every tensor on ``device``."""
    if torch.is_tensor(batch):
        return batch.to(device)
    if isinstance(batch, Mapping):
        return {k: to_device(v, device) for k, v in batch.items()}
    if isinstance(batch, (list, tuple)):
        return type(batch)(to_device(v, device) for v in batch)
    return batch


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
) -> History:
    """Train ``model`` for ``epochs``; returns ``{"train_loss": [...], **evaluate(model)}``.

    ``evaluate(model)`` runs after each epoch and returns metrics such as
    ``{"val_loss": 1.2, "val_accuracy": 0.8}``; each is appended to the history.
    """
    from tqdm.auto import tqdm

    if epochs < 1:
        raise ValueError(f"epochs must be >= 1, got {epochs}")
    model.to(device)
    history: History = {"train_loss": []}
    bar = tqdm(range(epochs), desc="epochs", disable=not progress)
    for _ in bar:
        model.train()
        total, count = 0.0, 0
        for batch in train_loader:
            loss = loss_fn(model, to_device(batch, device))
            if not torch.isfinite(loss):
                raise FloatingPointError(
                    f"training loss became {loss.item()}: lower the learning rate or clip "
                    "gradients (clip_grad_norm=1.0)."
                )
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if clip_grad_norm is not None:
                nn.utils.clip_grad_norm_(model.parameters(), clip_grad_norm)
            optimizer.step()
            if scheduler is not None:
                scheduler.step()
            total += loss.item()
            count += 1
        history["train_loss"].append(total / max(count, 1))
        if evaluate is not None:
            for name, value in evaluate(model).items():
                history.setdefault(name, []).append(float(value))
        bar.set_postfix({k: f"{v[-1]:.3f}" for k, v in history.items()})
    return history
