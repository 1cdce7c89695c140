"""The course's two recurring pictures: attention heat maps and training curves.

Every module uses these two helpers rather than drawing its own.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch


def _as_grid(weights) -> np.ndarray:
    """Weights as a 4-D array ``(layers, heads, queries, keys)``."""
    array = (
        weights.detach().float().cpu().numpy() if torch.is_tensor(weights) else np.asarray(weights)
    )
    if array.ndim < 2 or array.ndim > 4:
        raise ValueError(
            f"attention weights must have shape (queries, keys), (heads, queries, keys) or "
            f"(layers, heads, queries, keys); got {array.shape}. Drop the batch dimension first "
            f"(weights[0])."
        )
    while array.ndim < 4:
        array = array[None]
    return array


def plot_attention(
    weights,
    keys: Sequence[str] | None = None,
    queries: Sequence[str] | None = None,
    titles: Sequence[str] | None = None,
    cell_size: float = 2.6,
    cmap: str = "viridis",
    suptitle: str | None = None,
    vmin: float | None = 0.0,
    vmax: float | None = None,
    xlabel: str = "keys",
    ylabel: str = "queries",
    colorbar_label: str | None = None,
):
    """Heat maps of attention weights: a grid of layers (rows) x heads (columns).

    ``weights``: ``(queries, keys)``, ``(heads, queries, keys)`` or
    ``(layers, heads, queries, keys)``; ``keys``/``queries`` label the axes with tokens.
    Other matrices (a positional-encoding table, similarities) can pass ``vmin=None`` (the
    colour scale then starts at their minimum, e.g. with ``cmap="RdBu_r"``), axis names and
    ``colorbar_label``.
    Returns the matplotlib Figure.
    """
    grid = _as_grid(weights)
    n_layers, n_heads, n_q, n_k = grid.shape
    for labels, n, axis in ((keys, n_k, "keys"), (queries, n_q, "queries")):
        if labels is not None and len(labels) != n:
            raise ValueError(f"{len(labels)} {axis} labels for {n} {axis} positions.")
    fig, axes = plt.subplots(
        n_layers,
        n_heads,
        figsize=(cell_size * n_heads + 1, cell_size * n_layers + 0.4),
        squeeze=False,
        constrained_layout=True,
    )
    for layer in range(n_layers):
        for head in range(n_heads):
            ax = axes[layer, head]
            image = ax.imshow(
                grid[layer, head], cmap=cmap,
                vmin=grid.min() if vmin is None else vmin,
                vmax=max(grid.max(), 1e-9) if vmax is None else vmax,
            )
            index = layer * n_heads + head
            if titles is not None:
                ax.set_title(titles[index], fontsize=9)
            elif n_layers * n_heads > 1:
                ax.set_title(f"layer {layer} head {head}", fontsize=9)
            for labels, setter, rot in ((keys, ax.set_xticks, 90), (queries, ax.set_yticks, 0)):
                if labels is not None:
                    setter(range(len(labels)), labels, rotation=rot, fontsize=8)
            if layer == n_layers - 1:
                ax.set_xlabel(xlabel)
            if head == 0:
                ax.set_ylabel(ylabel)
    fig.colorbar(image, ax=axes, shrink=0.8, label=colorbar_label or "")
    if suptitle:
        fig.suptitle(suptitle)
    return fig


def plot_history(
    history: Mapping[str, Sequence[float]],
    xlabel: str | None = None,
    title: str | None = None,
    x: Sequence[float] | None = None,
    metric_label: str = "metric",
):
    """Training curves: every ``*loss*`` key on the left axes, other metrics on the right.

    ``history`` maps names to one value per epoch (or step), e.g.
    ``{"train_loss": [...], "val_loss": [...], "val_accuracy": [...]}``.
    ``x`` gives the x value of each point, shared by every curve (default 1, 2, 3, ...), for
    curves over something else than epochs, e.g. accuracy by sequence length. A ``"step"``
    entry (``train``'s history has one) is used as ``x``, labelled "optimizer step".
    ``metric_label`` names the right axis (with its unit, e.g. "decoding time (s)").
    Returns the matplotlib Figure.
    """
    if "step" in history and x is None:
        x, xlabel = history["step"], xlabel or "optimizer step"
        history = {k: v for k, v in history.items() if k != "step"}
    xlabel = xlabel or "epoch"
    if not history or not any(len(v) for v in history.values()):
        raise ValueError("history is empty: train for at least one epoch before plotting.")
    losses = {k: v for k, v in history.items() if "loss" in k and len(v)}
    metrics = {k: v for k, v in history.items() if "loss" not in k and len(v)}
    named = ((losses, "loss"), (metrics, metric_label))
    panels = [(panel, label) for panel, label in named if panel]
    fig, axes = plt.subplots(1, len(panels), figsize=(5.5 * len(panels), 3.6), squeeze=False)
    for ax, (panel, ylabel) in zip(axes[0], panels):
        for name, values in panel.items():
            steps = np.arange(1, len(values) + 1) if x is None else np.asarray(x)
            if len(steps) != len(values):
                raise ValueError(f"{name!r} has {len(values)} values but x has {len(steps)}.")
            ax.plot(steps, values, marker="o" if len(values) <= 30 else None, label=name)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig
