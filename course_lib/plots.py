"""Every module: the course's figures, drawn to one standard.

Every module draws through these helpers, so every figure:

- fits the notebook's width (``NOTEBOOK_WIDTH`` inches, legible at 100% zoom);
- labels every axis (with its unit) and every colour bar, and names curves for humans
  (``train_loss`` becomes "training loss");
- puts integer ticks on epoch axes and metrics in [0, 1] on their natural 0-1 range;
- draws the baselines the text compares against;
- uses a sequential colour map for non-negative data and a diverging one, centred on 0,
  only for signed data; marks masked cells visibly; shares one colour scale between
  heat maps drawn together, so they can be compared;
- never draws a numerical artefact as data: on a log axis a value that underflowed to 0
  is marked "below float precision" at the bottom edge, not plotted.

``unlabelled_parts(fig)`` checks a figure against the labelling rules (the tests use it).
Heat maps of attention use matplotlib; annotated matrices and confusion matrices seaborn.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns
import torch
from matplotlib.collections import PatchCollection
from matplotlib.colors import Colormap, Normalize
from matplotlib.figure import Figure
from matplotlib.patches import Patch, Rectangle
from matplotlib.ticker import MaxNLocator

NOTEBOOK_WIDTH = 8.5  # inches: 850 px at the inline backend's 100 dpi, a notebook's output width
MIN_FONT = 8  # points: the smallest tick label drawn
SEQUENTIAL = "viridis"  # non-negative data
DIVERGING = "RdBu_r"  # signed data, always centred on 0
MASK_STYLE = {"hatch": "///", "edgecolor": "0.6", "facecolor": "0.88"}  # grey, in no map

_DIVERGING = {
    "RdBu",
    "RdBu_r",
    "coolwarm",
    "bwr",
    "seismic",
    "vlag",
    "icefire",
    "PuOr",
    "PRGn",
    "RdYlBu",
    "RdYlGn",
    "Spectral",
    "BrBG",
    "PiYG",
    "RdGy",
    "Spectral_r",
    "coolwarm_r",
    "bwr_r",
    "PuOr_r",
    "PRGn_r",
    "RdYlBu_r",
    "BrBG_r",
    "PiYG_r",
    "RdGy_r",
    "vlag_r",
}
_PREFIXES = {"train_": "training ", "val_": "validation ", "test_": "test "}
_WORDS = {"f1": "macro F1", "acc": "accuracy", "ppl": "perplexity", "lr": "learning rate"}


def human_name(key: str) -> str:
    """A legend name for a history key: ``"val_accuracy"`` -> ``"validation accuracy"``."""
    for prefix, words in _PREFIXES.items():
        if key.startswith(prefix):
            return words + human_name(key[len(prefix) :])
    return " ".join(_WORDS.get(word, word) for word in key.split("_"))


def notebook_figure(
    ncols: int = 1, nrows: int = 1, height: float = 3.4, width: float = NOTEBOOK_WIDTH
):
    """A figure as wide as the notebook with a grid of axes: ``(fig, axes (nrows, ncols))``."""
    if width > NOTEBOOK_WIDTH:
        raise ValueError(
            f"width {width} in is wider than the notebook ({NOTEBOOK_WIDTH} in): "
            "use more rows instead."
        )
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(width, height * nrows), squeeze=False, layout="constrained"
    )
    return fig, axes


def _numpy(values) -> np.ndarray:
    if torch.is_tensor(values):
        return values.detach().double().cpu().numpy()
    return np.asarray(values, dtype=float)


def _is_diverging(cmap: str | Colormap) -> bool:
    return (cmap.name if isinstance(cmap, Colormap) else cmap) in _DIVERGING


def colour_scale(
    values, cmap: str | Colormap | None = None, vmin: float | None = None, vmax: float | None = None
) -> tuple[str | Colormap, Normalize]:
    """The colour map and scale for ``values``, by the standard.

    ``cmap=None`` picks ``SEQUENTIAL`` for non-negative data and ``DIVERGING`` for signed
    data. A diverging map is always centred on 0 (symmetric limits); a sequential one starts
    at 0 for non-negative data unless ``vmin`` says otherwise.
    """
    array = _numpy(values)
    finite = array[np.isfinite(array)]
    low, high = (finite.min(), finite.max()) if finite.size else (0.0, 1.0)
    if cmap is None:
        cmap = DIVERGING if low < 0 else SEQUENTIAL
    if _is_diverging(cmap):
        limit = max(abs(v) for v in (low, high, vmin or 0.0, vmax or 0.0)) or 1.0
        return cmap, Normalize(-limit, limit)
    vmin = min(low, 0.0) if vmin is None else vmin
    vmax = high if vmax is None else vmax
    return cmap, Normalize(vmin, max(vmax, vmin + 1e-9))


def _as_grid(weights) -> np.ndarray:
    """Weights as a 4-D array ``(layers, heads, queries, keys)``."""
    array = _numpy(weights)
    if array.ndim < 2 or array.ndim > 4:
        raise ValueError(
            f"attention weights must have shape (queries, keys), (heads, queries, keys) or "
            f"(layers, heads, queries, keys); got {array.shape}. Drop the batch dimension first "
            f"(weights[0])."
        )
    while array.ndim < 4:
        array = array[None]
    return array


def _token_ticks(ax, labels, n: int, axis: str, panel_inches: float) -> None:
    """Tokens as tick labels: short ones upright, long ones turned on the x axis, thinned
    when they would overlap."""
    cell_points = panel_inches * 72 / n
    size = max(MIN_FONT, min(10, 0.6 * cell_points))
    texts = [str(i) for i in range(n)] if labels is None else [str(t) for t in labels]
    widest = max(len(t) for t in texts)
    upright_width = 0.65 * size * widest + 3  # points taken by an upright label
    need = upright_width if axis == "x" and widest <= 3 else 1.3 * size
    step = max(1, int(np.ceil(need / cell_points)))
    positions = list(range(0, n, step))
    setter = ax.set_xticks if axis == "x" else ax.set_yticks
    setter(positions, [texts[i] for i in positions], fontsize=size)
    if axis == "x":
        for label in ax.get_xticklabels():  # upright when it fits its cell(s), else turned
            fits = 0.65 * size * len(label.get_text()) + 3 <= step * cell_points
            label.set_rotation(0 if fits else 90)


def _hatch_cells(ax, blocked: np.ndarray) -> None:
    """Cover the cells where ``blocked`` (queries, keys) is True with hatched squares."""
    rows, cols = np.nonzero(blocked)
    squares = [Rectangle((c - 0.5, r - 0.5), 1, 1) for r, c in zip(rows, cols)]
    ax.add_collection(PatchCollection(squares, linewidth=0, **MASK_STYLE))


def plot_attention(
    weights,
    keys: Sequence[str] | None = None,
    queries: Sequence[str] | None = None,
    titles: Sequence[str] | None = None,
    cell_size: float | None = None,
    cmap: str | None = None,
    suptitle: str | None = None,
    vmin: float | None = None,
    vmax: float | None = None,
    xlabel: str = "key position",
    ylabel: str = "query position",
    *,
    colorbar_label: str = "attention weight",
    mask=None,
) -> Figure:
    """Heat maps of attention weights: a grid of layers (rows) x heads (columns).

    ``weights``: ``(queries, keys)``, ``(heads, queries, keys)`` or
    ``(layers, heads, queries, keys)``; ``keys``/``queries`` label the axes with tokens.
    All panels share one colour scale (``colour_scale``: sequential from 0 for weights,
    diverging and centred on 0 for signed matrices such as a positional-encoding table).
    ``mask`` (bool, True = blocked, broadcastable to ``weights``) hatches the blocked cells,
    so they do not pass for near-zero weights. ``cell_size`` is a panel's side in inches
    (default: from the number of tokens); the figure never exceeds ``NOTEBOOK_WIDTH``.
    Other matrices pass their own axis names and ``colorbar_label``. Returns the Figure.
    """
    raw = _numpy(weights)
    grid = _as_grid(raw)
    n_layers, n_heads, n_q, n_k = grid.shape
    for labels, n, axis in ((keys, n_k, "keys"), (queries, n_q, "queries")):
        if labels is not None and len(labels) != n:
            raise ValueError(f"{len(labels)} {axis} labels for {n} {axis} positions.")
    blocked = None
    if mask is not None:
        try:
            blocked = _as_grid(np.broadcast_to(_numpy(mask) > 0, raw.shape))
        except ValueError as err:
            raise ValueError(
                f"mask of shape {tuple(np.shape(mask))} does not broadcast to the weights "
                f"{raw.shape}; pass the mask used by attention (True = blocked)."
            ) from err
    cmap, norm = colour_scale(grid, cmap, vmin, vmax)
    side = cell_size or float(np.clip(0.3 * max(n_q, n_k), 2.6, 4.5))
    side = min(side, (NOTEBOOK_WIDTH - 1.2) / n_heads)
    fig, axes = plt.subplots(
        n_layers,
        n_heads,
        figsize=(side * n_heads + 1.2, side * n_layers + 0.6),
        squeeze=False,
        layout="constrained",
    )
    for layer in range(n_layers):
        for head in range(n_heads):
            ax = axes[layer, head]
            data = grid[layer, head]
            ax.imshow(data, cmap=cmap, norm=norm)
            if blocked is not None:
                _hatch_cells(ax, blocked[layer, head])
            index = layer * n_heads + head
            if titles is not None:
                ax.set_title(titles[index], fontsize=10)
            elif n_layers * n_heads > 1:
                ax.set_title(f"layer {layer}, head {head}", fontsize=10)
            _token_ticks(ax, keys, n_k, "x", side)
            if head == 0:
                _token_ticks(ax, queries, n_q, "y", side)
            else:
                ax.set_yticks([])
    if n_layers * n_heads == 1:
        axes[0, 0].set_xlabel(xlabel)
        axes[0, 0].set_ylabel(ylabel)
    else:
        fig.supxlabel(xlabel, fontsize=10)
        fig.supylabel(ylabel, fontsize=10)
    colorbar = fig.colorbar(plt.cm.ScalarMappable(norm, cmap), ax=axes, shrink=0.85)
    colorbar.set_label(colorbar_label)
    if blocked is not None and blocked.any():
        fig.legend(
            handles=[Patch(**MASK_STYLE, label="masked (blocked)")],
            loc="outside lower right",
            fontsize=9,
        )
    if suptitle:
        fig.suptitle(suptitle)
    return fig


def _mark_below_precision(ax, x: np.ndarray, y: np.ndarray, color, label_done: bool) -> bool:
    """On a log y axis, mark the x where y is 0 (underflow) at the bottom edge; True if any."""
    lost = ~(np.isfinite(y) & (y > 0))
    if not lost.any():
        return False
    ax.plot(
        x[lost],
        np.full(lost.sum(), 0.0),
        "v",
        color=color,
        clip_on=False,
        transform=ax.get_xaxis_transform(),
        markersize=6,
        label=None if label_done else "0: below float precision (not drawn)",
    )
    return True


def plot_lines(
    curves: Mapping[str, Sequence[float]],
    x: Sequence[float] | None = None,
    *,
    xlabel: str,
    ylabel: str,
    title: str | None = None,
    ax=None,
    logx: bool = False,
    logy: bool = False,
    baselines: Mapping[str, float] | None = None,
    ylim: tuple[float | None, float | None] | None = None,
    markers: bool | None = None,
    legend_outside: bool | None = None,
):
    """Curves sharing one x axis, labelled by the standard; returns the Axes.

    ``curves`` maps a legend name (already human) to y values; ``x`` defaults to 1, 2, 3...
    and gets integer ticks when all its values are integers. ``baselines`` maps names to y
    values drawn as dashed horizontal lines. On a log y axis values that are 0 (underflow)
    are not drawn but marked at the bottom edge. The legend goes under the axes when it
    has more than four entries (or ``legend_outside=True``). ``ax`` draws into existing axes.
    """
    if not curves or not any(len(v) for v in curves.values()):
        raise ValueError("nothing to plot: every curve is empty.")
    if ax is None:
        ax = notebook_figure(width=min(NOTEBOOK_WIDTH, 6.5))[1][0, 0]
    marked = False
    for name, values in curves.items():
        y = _numpy(values)
        xs = np.arange(1, len(y) + 1) if x is None else _numpy(x)
        if len(xs) != len(y):
            raise ValueError(f"{name!r} has {len(y)} values but x has {len(xs)}.")
        draw = markers if markers is not None else len(y) <= 30
        shown = np.where(np.isfinite(y) & (y > 0), y, np.nan) if logy else y
        (line,) = ax.plot(xs, shown, marker="o" if draw else None, markersize=4, label=name)
        if logy:
            marked |= _mark_below_precision(ax, xs, y, line.get_color(), marked)
    for (name, value), style in zip((baselines or {}).items(), ("--", ":", "-.", (0, (5, 5)))):
        ax.axhline(value, color="0.35", ls=style, lw=1.2, label=name)
    if logx:
        ax.set_xscale("log")
    if logy:
        ax.set_yscale("log")
    if not logx and (x is None or np.allclose(_numpy(x), np.round(_numpy(x)))):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if ylim is not None:
        ax.set_ylim(*ylim)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title, fontsize=11)
    ax.grid(alpha=0.3, which="both" if logy or logx else "major")
    entries = len(ax.get_legend_handles_labels()[1])
    outside = entries > 4 if legend_outside is None else legend_outside
    if outside:
        ax.legend(
            fontsize=9,
            loc="upper center",
            bbox_to_anchor=(0.5, -0.22),
            ncols=1 if max(len(t) for t in ax.get_legend_handles_labels()[1]) > 30 else 2,
        )
    elif entries > 1 or baselines:
        ax.legend(fontsize=9)
    return ax


def _kind(key: str) -> str:
    """What a history key measures, without its split: ``"val_f1"`` -> ``"macro F1"``."""
    for prefix in _PREFIXES:
        if key.startswith(prefix):
            return human_name(key[len(prefix) :])
    return human_name(key)


def _in_unit_range(panel: Mapping[str, Sequence[float]]) -> bool:
    """Scores in [0, 1] (accuracy, F1) share the 0-1 axis; a quantity on a small scale (all
    values under 0.05 but not all 0: a learning rate) keeps its own, or it would draw flat."""
    values = np.concatenate([_numpy(v) for v in panel.values()])
    small_scale = 0 < values.max() < 0.05
    return bool(np.all((values >= 0) & (values <= 1))) and not small_scale


def plot_history(
    history: Mapping[str, Sequence[float]],
    xlabel: str | None = None,
    title: str | None = None,
    x: Sequence[float] | None = None,
    *,
    loss_label: str = "cross-entropy loss (nats)",
    metric_label: str | None = None,
    loss_baselines: Mapping[str, float] | None = None,
    metric_baselines: Mapping[str, float] | None = None,
    names: Mapping[str, str] | None = None,
) -> Figure:
    """Training curves: every ``*loss*`` key on the left axes, other metrics on the right.

    ``history`` maps keys to one value per epoch (or step), e.g.
    ``{"train_loss": [...], "val_loss": [...], "val_accuracy": [...]}``; legends show
    ``names[key]`` or ``human_name(key)``. ``x`` gives the x value of each point (default
    1, 2, 3...), for curves over something else, e.g. accuracy by sequence length.
    Metrics that all lie in [0, 1] (accuracy, F1, exact match) get the 0-1 axis;
    ``metric_label`` names that axis (default: the metric's human name). Baselines the text
    compares against (a uniform guess, a simpler model) go in ``*_baselines`` as
    ``{name: value}``. A ``"step"`` entry (``train``'s history has one) is used as ``x``,
    labelled "optimizer step". Returns the Figure (one or two panels, notebook width).
    """
    if "step" in history and x is None:
        x, xlabel = history["step"], xlabel or "optimizer step"
        history = {k: v for k, v in history.items() if k != "step"}
    xlabel = xlabel or "epoch"
    if not history or not any(len(v) for v in history.values()):
        raise ValueError("history is empty: train for at least one epoch before plotting.")
    names = names or {}
    losses = {k: v for k, v in history.items() if "loss" in k and len(v)}
    metrics = {k: v for k, v in history.items() if "loss" not in k and len(v)}
    if metric_label is None and metrics:
        metric_label = ", ".join(sorted({_kind(k) for k in metrics}))
    panels = [
        (panel, label, baselines)
        for panel, label, baselines in (
            (losses, loss_label, loss_baselines),
            (metrics, metric_label, metric_baselines),
        )
        if panel
    ]
    fig, axes = notebook_figure(
        len(panels), width=NOTEBOOK_WIDTH if len(panels) > 1 else 6.0, height=3.3
    )
    for ax, (panel, ylabel, baselines) in zip(axes[0], panels):
        unit_range = panel is metrics and _in_unit_range(panel)
        plot_lines(
            {names.get(k, human_name(k)): v for k, v in panel.items()},
            x,
            xlabel=xlabel,
            ylabel=ylabel,
            ax=ax,
            baselines=baselines,
            ylim=(-0.02, 1.02) if unit_range else None,
        )
    if title:
        fig.suptitle(title)
    return fig


def plot_matrix(
    matrix,
    row_labels: Sequence[str] | None = None,
    col_labels: Sequence[str] | None = None,
    *,
    xlabel: str,
    ylabel: str,
    colorbar_label: str,
    title: str | None = None,
    annotate: bool = True,
    fmt: str = ".2f",
    cmap: str | None = None,
    vmin: float | None = None,
    vmax: float | None = None,
    ax=None,
):
    """An annotated heat map of a small matrix (seaborn), each cell's value written in it.

    ``matrix`` ``(rows, cols)``; colour scale by ``colour_scale`` (sequential from 0 for
    non-negative values, diverging centred on 0 otherwise). Returns the Axes.
    """
    array = matrix.detach().cpu().numpy() if torch.is_tensor(matrix) else np.asarray(matrix)
    if array.ndim != 2:
        raise ValueError(f"plot_matrix draws a 2-D matrix; got shape {array.shape}.")
    cmap, norm = colour_scale(array, cmap, vmin, vmax)
    if ax is None:
        rows, cols = array.shape
        width = min(NOTEBOOK_WIDTH, 1.6 + 0.75 * cols)
        ax = notebook_figure(width=width, height=0.9 + 0.55 * rows)[1][0, 0]
    sns.heatmap(
        array,
        ax=ax,
        cmap=cmap,
        vmin=norm.vmin,
        vmax=norm.vmax,
        annot=annotate,
        fmt=fmt,
        xticklabels=col_labels if col_labels is not None else "auto",
        yticklabels=row_labels if row_labels is not None else "auto",
        cbar_kws={"label": colorbar_label},
        linewidths=0.5,
        linecolor="white",
    )
    ax.tick_params(axis="y", rotation=0)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title, fontsize=11)
    return ax


def plot_confusion_matrix(
    labels,
    predictions,
    class_names: Sequence[str],
    title: str | None = None,
    unit: str = "examples",
    ax=None,
):
    """Counts of (true class, predicted class) pairs, annotated (seaborn); returns the Axes.

    ``labels`` and ``predictions`` are class ids ``(n,)``; the diagonal holds the right answers.
    """
    true, pred = _numpy(labels).astype(int), _numpy(predictions).astype(int)
    if true.shape != pred.shape:
        raise ValueError(f"{true.shape} labels but {pred.shape} predictions.")
    k = len(class_names)
    if true.size and max(true.max(), pred.max()) >= k:
        raise ValueError(f"a class id is >= the {k} class names given.")
    counts = np.zeros((k, k), dtype=int)
    np.add.at(counts, (true, pred), 1)
    return plot_matrix(
        counts,
        class_names,
        class_names,
        xlabel="predicted class",
        ylabel="true class",
        colorbar_label=f"number of {unit}",
        fmt="d",
        title=title,
        ax=ax,
    )


def plot_distributions(
    samples: Mapping[str, Sequence[float]],
    *,
    xlabel: str,
    title: str | None = None,
    bins: int = 20,
    binrange: tuple[float, float] | None = None,
    ax=None,
):
    """Histograms of several samples on one axis (seaborn), as shares of each sample.

    ``samples`` maps a legend name to values; each histogram is normalised to its own
    size, so samples of different sizes compare. Returns the Axes.
    """
    if ax is None:
        ax = notebook_figure(width=6.0, height=3.2)[1][0, 0]
    rows = [(name, float(v)) for name, values in samples.items() for v in _numpy(values)]
    if not rows:
        raise ValueError("nothing to plot: every sample is empty.")
    data = {"sample": [n for n, _ in rows], "value": [v for _, v in rows]}
    sns.histplot(
        data,
        x="value",
        hue="sample",
        stat="proportion",
        common_norm=False,
        bins=bins,
        binrange=binrange,
        element="step",
        ax=ax,
    )
    ax.set_xlabel(xlabel)
    ax.set_ylabel("share of the sample")
    legend = ax.get_legend()
    if legend is not None:
        legend.set_title(None)
    if title:
        ax.set_title(title, fontsize=11)
    return ax


def plot_next_token_distributions(
    logits: Mapping[str, torch.Tensor], token_labels: Sequence[str], top: int = 10, ncols: int = 3
) -> Figure:
    """The next-token distribution under several decoding settings, one bar panel each.

    ``logits`` maps a setting's name (e.g. "T = 0.5", "top-k = 5") to its processed logits
    ``(vocab,)`` (removed tokens at ``-inf``); the first entry is the reference, whose
    ``top`` likeliest tokens are drawn in every panel, in the same order, with one more bar
    for the probability left to all other tokens. ``token_labels[i]`` names token id ``i``.
    Each panel's title says how many tokens the setting keeps. Returns the Figure.
    """
    if not logits:
        raise ValueError("give at least one setting: {'T = 1': logits}.")
    probs = {
        name: torch.as_tensor(v).detach().float().cpu().softmax(-1) for name, v in logits.items()
    }
    sizes = {p.shape for p in probs.values()}
    if len(sizes) != 1 or len(next(iter(sizes))) != 1:
        raise ValueError(f"every setting needs logits of one shape (vocab,), got {sizes}.")
    vocab = next(iter(sizes))[0]
    if len(token_labels) != vocab:
        raise ValueError(f"{len(token_labels)} token labels for a vocabulary of {vocab}.")
    top = min(top, vocab)
    shown = next(iter(probs.values())).topk(top).indices
    labels = [repr(str(token_labels[i]))[1:-1] or "(empty)" for i in shown.tolist()] + ["other"]
    nrows = -(-len(probs) // ncols)
    fig, axes = notebook_figure(min(ncols, len(probs)), nrows, height=2.8)
    highest = max(float(p[shown].max()) for p in probs.values())
    highest = max(highest, max(float(1 - p[shown].sum()) for p in probs.values()))
    for ax, (name, p) in zip(axes.flat, probs.items()):
        heights = p[shown].tolist() + [max(0.0, float(1 - p[shown].sum()))]
        colours = ["C0"] * top + ["0.6"]
        ax.bar(range(top + 1), heights, color=colours)
        ax.set_xticks(range(top + 1), labels, rotation=90, fontsize=MIN_FONT)
        ax.set_ylim(0, 1.05 * highest)
        ax.set_title(f"{name}: keeps {int((p > 0).sum()):,} of {vocab:,}", fontsize=10)
        ax.set_ylabel("probability")
        ax.set_xlabel("next token")
    for ax in list(axes.flat)[len(probs) :]:
        ax.set_visible(False)
    return fig


def unlabelled_parts(fig: Figure) -> list[str]:
    """What in ``fig`` breaks the labelling rules: an axis or colour bar without a label.

    Returns one description per problem (empty when the figure is fine). A figure-level
    ``supxlabel``/``supylabel`` labels the axes of a grid.
    """
    problems = []
    sup_x = getattr(fig, "_supxlabel", None)
    sup_y = getattr(fig, "_supylabel", None)
    for index, ax in enumerate(fig.axes):
        colorbar = getattr(ax, "_colorbar", None)
        if colorbar is not None:
            label = ax.get_ylabel() if colorbar.orientation == "vertical" else ax.get_xlabel()
            if not label.strip():
                problems.append(f"axes {index}: colour bar without a label")
            continue
        if not ax.has_data() or not ax.get_visible():
            continue
        if not ax.get_xlabel().strip() and not (sup_x and sup_x.get_text().strip()):
            problems.append(f"axes {index}: x axis without a label")
        if not ax.get_ylabel().strip() and not (sup_y and sup_y.get_text().strip()):
            problems.append(f"axes {index}: y axis without a label")
    return problems
