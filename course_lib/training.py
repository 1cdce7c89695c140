"""A small training loop that every module reuses (and Module 4 extends).

The model-specific part is one function, ``loss_fn(model, batch) -> scalar loss``; the loop
moves batches to the device, steps the optimizer (with optional gradient clipping and a
per-step scheduler), shows a progress bar, and returns a history for ``plot_history``.

For classifiers, ``logits_fn(model, batch) -> (batch, classes)`` is the model-specific part:
``predict`` collects probabilities, ``classification_metrics`` turns predictions into accuracy
and F1, and ``evaluate_classifier`` does both (plus the loss) in the shape ``fit``'s
``evaluate`` callback wants.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping

import torch
from torch import nn

History = dict[str, list[float]]
LossFn = Callable[[nn.Module, dict], torch.Tensor]
LogitsFn = Callable[[nn.Module, dict], torch.Tensor]


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


def linear_warmup_schedule(
    optimizer: torch.optim.Optimizer, warmup_steps: int, total_steps: int
) -> torch.optim.lr_scheduler.LambdaLR:
    """Learning rate rising linearly for ``warmup_steps``, then falling linearly to 0 at
    ``total_steps``; step it once per batch (``fit(..., scheduler=...)`` does)."""
    if warmup_steps < 0 or total_steps < 1:
        raise ValueError(f"need warmup_steps >= 0 and total_steps >= 1, got {warmup_steps}, "
                         f"{total_steps}")

    def factor(step: int) -> float:
        warm = (step + 1) / warmup_steps if warmup_steps else 1.0
        return max(0.0, min(warm, (total_steps - step) / max(1, total_steps - warmup_steps)))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


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
) -> History:
    """Train ``model`` for ``epochs``; returns ``{"train_loss": [...], **evaluate(model)}``.

    ``evaluate(model)`` runs after each epoch and returns metrics such as
    ``{"val_loss": 1.2, "val_accuracy": 0.8}``; each is appended to the history.

    Early stopping: with ``patience``, training stops once ``monitor`` (a metric of
    ``evaluate``, lower is better) has not improved for ``patience`` epochs, and the model is
    given back the weights of its best epoch. The history keeps every epoch that ran.
    """
    from course_lib.machinery.progress import progress_bar

    if epochs < 1:
        raise ValueError(f"epochs must be >= 1, got {epochs}")
    if patience is not None and (evaluate is None or patience < 1):
        raise ValueError("early stopping needs patience >= 1 and an evaluate callback.")
    model.to(device)
    history: History = {"train_loss": []}
    best_value, best_state, since_best = math.inf, None, 0
    bar = progress_bar(total=epochs, desc="epochs", disable=not progress)
    for _ in range(epochs):
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


@torch.no_grad()
def predict(
    model: nn.Module, loader: Iterable, logits_fn: LogitsFn, device="cpu", label_key: str = "labels"
) -> tuple[torch.Tensor, torch.Tensor]:
    """Class probabilities ``(n, classes)`` and true labels ``(n,)`` over ``loader``, in order.

    Runs in eval mode; ``logits_fn(model, batch)`` returns ``(batch, classes)`` logits and
    ``batch[label_key]`` holds the labels.
    """
    model.eval()
    probs, labels = [], []
    for batch in loader:
        batch = to_device(batch, device)
        logits = logits_fn(model, batch)
        if logits.dim() != 2:
            raise ValueError(f"logits_fn must return (batch, classes), got {tuple(logits.shape)}")
        probs.append(logits.float().softmax(dim=-1).cpu())
        labels.append(batch[label_key].cpu())
    if not probs:
        raise ValueError("predict got an empty loader.")
    return torch.cat(probs), torch.cat(labels)


def confusion_matrix(
    predictions: torch.Tensor, labels: torch.Tensor, num_classes: int | None = None
) -> torch.Tensor:
    """``(classes, classes)`` counts: row = true class, column = predicted class."""
    predictions, labels = torch.as_tensor(predictions).long(), torch.as_tensor(labels).long()
    if predictions.shape != labels.shape or predictions.dim() != 1:
        raise ValueError(
            f"predictions and labels must be 1-D and of the same length, got "
            f"{tuple(predictions.shape)} and {tuple(labels.shape)}"
        )
    if num_classes is None:
        num_classes = int(max(predictions.max(), labels.max())) + 1 if len(labels) else 0
    flat = labels * num_classes + predictions
    return torch.bincount(flat, minlength=num_classes**2).reshape(num_classes, num_classes)


def classification_metrics(
    predictions: torch.Tensor, labels: torch.Tensor, num_classes: int | None = None
) -> dict[str, float]:
    """``{"accuracy", "f1"}`` of predicted classes ``(n,)`` against labels ``(n,)``.

    ``f1`` is the macro F1: per class 2 P R / (P + R) (P precision, R recall; 0 for a class
    never predicted nor present), averaged over classes, so a classifier that always answers
    the majority class scores low even on unbalanced data.
    """
    matrix = confusion_matrix(predictions, labels, num_classes).double()
    if matrix.sum() == 0:
        raise ValueError("classification_metrics got no examples.")
    true_pos = matrix.diag()
    denominator = matrix.sum(dim=0) + matrix.sum(dim=1)  # predicted + actual, per class
    f1 = torch.where(denominator > 0, 2 * true_pos / denominator.clamp(min=1), 0.0)
    return {"accuracy": (true_pos.sum() / matrix.sum()).item(), "f1": f1.mean().item()}


def evaluate_classifier(
    model: nn.Module,
    loader: Iterable,
    logits_fn: LogitsFn,
    device="cpu",
    prefix: str = "",
    label_key: str = "labels",
) -> dict[str, float]:
    """``{prefix+"loss", prefix+"accuracy", prefix+"f1"}`` of a classifier over ``loader``.

    The loss is the mean cross-entropy per example. With ``prefix="val_"`` it plugs straight
    into ``fit(..., evaluate=lambda m: evaluate_classifier(m, val_loader, fn, dev, "val_"))``.
    """
    probs, labels = predict(model, loader, logits_fn, device, label_key)
    loss = torch.nn.functional.nll_loss(probs.clamp(min=1e-12).log(), labels).item()
    metrics = classification_metrics(probs.argmax(dim=-1), labels, probs.shape[1])
    return {f"{prefix}loss": loss, **{f"{prefix}{k}": v for k, v in metrics.items()}}
