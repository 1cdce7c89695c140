"""Module 6: optimise a trained model for use: measure speed, size and quality of each variant.

Every speed-up is a trade-off until measured. :func:`measure_variant` times one way of
predicting (one text at a time or batched, with or without the key/value cache, int8
weights...) on the same texts and scores its predictions, so a table of variants shows what
each one buys and what it costs.

- :func:`quantize_int8`: dynamic int8 quantisation of every ``nn.Linear`` (weights stored as
  int8, activations quantised on the fly; CPU only), via ``torch.ao.quantization``;
- ``course_lib.lora.merge_lora``: fold a LoRA adapter into its base weights (``W + B A``),
  so inference pays nothing for it;
- :func:`model_size_mb`: the size of the saved weights, quantised or not.
"""

from __future__ import annotations

import copy
import io
import time
import warnings
from collections.abc import Callable, Sequence

import torch
from torch import nn


def model_size_mb(model: nn.Module) -> float:
    """Megabytes (10^6 bytes) of ``model``'s state dict as ``torch.save`` writes it
    (quantised layers count their int8 weights)."""
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    return buffer.tell() / 1e6


def quantize_int8(model: nn.Module) -> nn.Module:
    """A copy of ``model`` with every ``nn.Linear`` dynamically quantised to int8 (CPU).

    ``torch.ao.quantization`` still does this in one call; PyTorch plans to move it to the
    ``torchao`` package (its ``quantize_`` API), which is where to look when it is removed.
    """
    from torch.ao.quantization import quantize_dynamic

    if any(p.device.type != "cpu" for p in model.parameters()):
        raise ValueError(
            "Dynamic int8 quantisation runs on the CPU: quantize_int8(model.cpu()) (it is a "
            "way to serve a model without a GPU)."
        )
    with warnings.catch_warnings():  # torch.ao.quantization announces its move to torchao
        warnings.filterwarnings("ignore", message=".*(torch.ao.quantization|quantize_per_tensor)")
        return quantize_dynamic(copy.deepcopy(model).eval(), {nn.Linear}, dtype=torch.qint8)


def measure_variant(
    name: str,
    predict_fn: Callable[[Sequence[str]], list[str]],
    texts: Sequence[str],
    score_fn: Callable[[list[str]], float],
    size_mb: float,
    repeats: int = 1,
) -> dict:
    """Time ``predict_fn(texts)`` (the fastest of ``repeats`` runs) and score its predictions.

    Returns ``{"variant", "ms per text", "texts per s", "size MB", "score", "predictions"}``.
    """
    if not texts:
        raise ValueError("measure_variant needs at least one text.")
    best, predictions = float("inf"), []
    for _ in range(max(1, repeats)):
        start = time.perf_counter()
        predictions = predict_fn(texts)
        best = min(best, time.perf_counter() - start)
    if len(predictions) != len(texts):
        raise ValueError(f"{name}: {len(predictions)} predictions for {len(texts)} texts.")
    return {
        "variant": name,
        "ms per text": 1000 * best / len(texts),
        "texts per s": len(texts) / best,
        "size MB": size_mb,
        "score": score_fn(predictions),
        "predictions": predictions,
    }


def markdown_table(
    rows: Sequence[dict], columns: Sequence[str] | None = None, digits: int = 2
) -> str:
    """``rows`` (dicts) as a Markdown table, for ``display(Markdown(...))``; floats are
    rounded to ``digits`` decimals and ``columns`` picks and orders the keys shown."""
    if not rows:
        raise ValueError("markdown_table got no rows.")
    columns = list(columns or rows[0])

    def cell(value) -> str:
        return f"{value:,.{digits}f}" if isinstance(value, float) else str(value)

    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell(row[c]) for c in columns) + " |" for row in rows]
    return "\n".join(lines)
