"""Module 3: how good is a classifier? Probabilities, confusion matrix, accuracy and macro F1.

``logits_fn(model, batch) -> (batch, classes)`` is the model-specific part: ``class_probabilities``
collects probabilities, ``classification_metrics`` turns predictions into accuracy and F1, and
``evaluate_classifier`` does both (plus the loss) in the shape ``fit``'s ``evaluate`` callback
wants.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import torch
from torch import nn

from course_lib.device import to_device

LogitsFn = Callable[[nn.Module, dict], torch.Tensor]


@torch.no_grad()
def class_probabilities(
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
        raise ValueError("class_probabilities got an empty loader.")
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
    probs, labels = class_probabilities(model, loader, logits_fn, device, label_key)
    loss = torch.nn.functional.nll_loss(probs.clamp(min=1e-12).log(), labels).item()
    metrics = classification_metrics(probs.argmax(dim=-1), labels, probs.shape[1])
    return {f"{prefix}loss": loss, **{f"{prefix}{k}": v for k, v in metrics.items()}}
