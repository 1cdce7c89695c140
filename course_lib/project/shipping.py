"""Module 6: ship a trained model: safetensors weights, a model card, a ``predict`` to call.

``save_for_use(folder, model, tokenizer, card, example=...)`` writes the model with
``save_pretrained`` (weights as ``model.safetensors``), its tokenizer, a model card
(``README.md``: data, metrics, limits) and ``usage.json`` (task, prefix, generation settings,
and one example with the prediction the model made before saving). ``load_for_use(folder)``
gives back a :class:`ShippedModel` whose ``predict_texts(texts)`` is the whole interface, and
``reproduce_in_fresh_process(folder)`` proves the folder is complete: a new Python process,
with nothing from the notebook, loads it and must reproduce the saved prediction exactly.

The folder checks itself: ``manifest.json`` lists every file with its SHA-256, and loading
refuses (:class:`ShippedModelError`, naming the file) a folder with a file missing or changed
since it was saved: lost tokenizer files, a flipped bit in the weights, an edited config.

Run ``python -m course_lib.project.shipping FOLDER ["text" ...]`` to predict from a shell.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch

from course_lib.data.registry import sha256_of

USAGE_FILE = "usage.json"
CARD_FILE = "README.md"
WEIGHTS_FILE = "model.safetensors"
MANIFEST_FILE = "manifest.json"
# Required whatever the manifest says (every tokenizer's save_pretrained writes its config).
REQUIRED_FILES = (USAGE_FILE, WEIGHTS_FILE, "config.json", "tokenizer_config.json")
GENERATIVE_TASKS = ("translation", "summarisation")


class ShippedModelError(ValueError):
    """A shipped model folder is incomplete or damaged; the message names the file."""


def _write_manifest(folder: Path) -> None:
    """``manifest.json``: every file of ``folder`` (all required) with its SHA-256."""
    names = sorted(p.name for p in folder.iterdir() if p.is_file() and p.name != MANIFEST_FILE)
    files = {name: sha256_of(folder / name) for name in names}
    (folder / MANIFEST_FILE).write_text(json.dumps({"files": files}, indent=2) + "\n")


def verify_folder(folder: str | Path) -> None:
    """Raise :class:`ShippedModelError` unless every file in ``manifest.json`` is there,
    unchanged (SHA-256). A changed model card (README.md) only warns: nothing loads it."""
    folder = Path(folder)
    again = "Copy the folder again from where it was saved, or save the model again"
    if not folder.is_dir():
        what = "a file, not a folder" if folder.exists() else "no such folder"
        raise ShippedModelError(f"{folder}: {what}. Pass the folder save_for_use wrote.")
    manifest = folder / MANIFEST_FILE
    try:
        files = json.loads(manifest.read_text(encoding="utf-8"))["files"]
    except FileNotFoundError:
        raise ShippedModelError(
            f"{folder} has no {MANIFEST_FILE}: it was not written by save_for_use, or was copied "
            f"incompletely. {again} with save_for_use(folder, ...)."
        ) from None
    except (ValueError, KeyError, TypeError, UnicodeDecodeError):
        raise ShippedModelError(
            f"{manifest} is damaged (not the JSON save_for_use wrote). {again}."
        ) from None
    wanted = list(dict.fromkeys([*REQUIRED_FILES, *files]))
    missing = [name for name in wanted if not (folder / name).is_file()]
    if missing:
        raise ShippedModelError(
            f"{folder} lacks {', '.join(missing)} (required: the model cannot be used without "
            f"{'them' if len(missing) > 1 else 'it'}). {again}."
        )
    for name, expected in files.items():
        if sha256_of(folder / name) == expected:
            continue
        message = (
            f"{folder / name} has changed since it was saved (SHA-256 differs from "
            f"{MANIFEST_FILE}): a damaged copy or an edit."
        )
        if name == CARD_FILE:
            warnings.warn(message + " The model card is not used to predict.", stacklevel=3)
            continue
        raise ShippedModelError(f"{message} {again}.")


@contextlib.contextmanager
def _quiet_transformers():
    """No progress bars from ``transformers`` while saving or loading (one notebook line
    each, with nothing to report)."""
    from transformers.utils import logging as hf_logging

    was_enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was_enabled:
            hf_logging.enable_progress_bar()


@torch.no_grad()
def predict_texts(
    texts: Sequence[str],
    model,
    tokenizer,
    task: str,
    prefix: str = "",
    max_source_tokens: int = 512,
    batch_size: int = 32,
    **generation,
) -> list[str]:
    """Predictions for ``texts`` from a Hugging Face model, in order.

    Translation and summarisation (a sequence-to-sequence model): ``generate`` with the
    keyword arguments in ``generation`` (``max_new_tokens``, ``num_beams``, ``use_cache``...),
    decoded without special tokens. Classification: the label name of the largest logit.
    ``prefix`` is put before every text (T5's "summarize: "); sources are cut to
    ``max_source_tokens`` tokens.
    """
    if isinstance(texts, str):
        raise TypeError(
            "predict_texts takes a list of texts: predict_texts([text], ...), not a string."
        )
    model.eval()
    device = next(model.parameters()).device
    out: list[str] = []
    for start in range(0, len(texts), batch_size):
        chunk = [prefix + t for t in texts[start : start + batch_size]]
        batch = tokenizer(
            chunk, return_tensors="pt", padding=True, truncation=True, max_length=max_source_tokens
        ).to(device)
        batch.pop("token_type_ids", None)
        if task in GENERATIVE_TASKS:
            ids = model.generate(**batch, **generation)
            out += tokenizer.batch_decode(ids, skip_special_tokens=True)
        elif task == "classification":
            labels = model(**batch).logits.argmax(dim=-1).tolist()
            out += [model.config.id2label[i] for i in labels]
        else:
            raise ValueError(
                f"Unknown task {task!r}; use translation, summarisation or classification."
            )
    return [text.strip() for text in out]


@dataclass
class ModelCard:
    """What a user of the model must know: what it does, on what data, how well, its limits."""

    title: str
    task: str
    model: str  # architecture and where it started from (a Hub name, or "trained from scratch")
    data: str  # the data it was trained and evaluated on: source, size, splits
    metrics: dict[str, float]  # held-out test scores
    baseline: dict[str, float]  # the same scores for the baseline, on the same examples
    limits: list[str] = field(default_factory=list)
    training: str = ""  # how it was trained: steps, time, hardware
    baseline_name: str = "baseline"  # e.g. "copy the source", "lead-3", "majority class"

    def to_markdown(self) -> str:
        def row(scores: dict[str, float]) -> str:
            return " | ".join(f"{scores[k]:.2f}" for k in self.metrics)

        lines = [
            f"# {self.title}",
            "",
            f"**Task:** {self.task}. **Model:** {self.model}.",
            "",
            "## Data",
            "",
            self.data,
            "",
            "## Results on the held-out test split",
            "",
            "| | " + " | ".join(self.metrics) + " |",
            "|---|" + "---|" * len(self.metrics),
            f"| this model | {row(self.metrics)} |",
        ]
        if self.baseline:
            lines.append(f"| baseline: {self.baseline_name} | {row(self.baseline)} |")
        if self.training:
            lines += ["", "## Training", "", self.training]
        lines += ["", "## Limits", ""] + [f"- {limit}" for limit in self.limits or ["not stated"]]
        lines += [
            "",
            "## Use",
            "",
            "```python",
            "from course_lib.project.shipping import load_for_use",
            'model = load_for_use("path/to/this/folder")',
            'print(model.predict(["your text"]))',
            "```",
        ]
        return "\n".join(lines) + "\n"


@dataclass
class ShippedModel:
    """A loaded model folder: ``predict_texts(texts)`` returns one prediction per text."""

    model: object
    tokenizer: object
    usage: dict

    def predict(self, texts: Sequence[str]) -> list[str]:
        usage = self.usage
        return predict_texts(
            texts,
            self.model,
            self.tokenizer,
            usage["task"],
            usage.get("prefix", ""),
            usage.get("max_source_tokens", 512),
            **usage.get("generation", {}),
        )


def save_for_use(
    folder: str | Path,
    model,
    tokenizer,
    card: ModelCard,
    example: str,
    prefix: str = "",
    max_source_tokens: int = 512,
    generation: dict | None = None,
) -> Path:
    """Write ``folder``: safetensors weights, tokenizer, model card and ``usage.json``.

    ``example`` is predicted now, with the model in memory, and stored with its prediction,
    so that :func:`reproduce_in_fresh_process` can check the saved folder against it. Merge
    LoRA adapters first (``merge_and_unload``): the folder holds one plain model.
    """
    if card.task not in (*GENERATIVE_TASKS, "classification"):
        raise ValueError(
            f"card.task {card.task!r} is not translation, summarisation or classification."
        )
    if hasattr(model, "peft_config"):
        raise ValueError("This is a PEFT model with an adapter: ship model.merge_and_unload().")
    folder = Path(folder)
    if folder.exists() and not (folder / USAGE_FILE).is_file() and any(folder.iterdir()):
        raise ValueError(
            f"{folder} holds other files and no shipped model: save into a new or empty folder."
        )
    staging = folder.with_name(f".{folder.name}.saving-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    with _quiet_transformers():
        model.save_pretrained(staging, safe_serialization=True)
        tokenizer.save_pretrained(staging)
    usage = {
        "task": card.task,
        "prefix": prefix,
        "max_source_tokens": max_source_tokens,
        "generation": dict(generation or {}),
    }
    prediction = ShippedModel(model, tokenizer, usage).predict([example])[0]
    usage["example"] = {"input": example, "prediction": prediction}
    (staging / USAGE_FILE).write_text(json.dumps(usage, indent=2, ensure_ascii=False) + "\n")
    (staging / CARD_FILE).write_text(card.to_markdown(), encoding="utf-8")
    _write_manifest(staging)
    shutil.rmtree(folder, ignore_errors=True)  # a previous save: no stale file survives
    staging.rename(folder)
    return folder


def load_for_use(folder: str | Path, device: str | torch.device = "cpu") -> ShippedModel:
    """Load a folder written by :func:`save_for_use` (safetensors only, no remote code).

    Raises :class:`ShippedModelError`, naming the file, when a file is missing or changed
    (see :func:`verify_folder`), or when the weights do not fit the model's config.
    """
    from transformers import (
        AutoModelForSeq2SeqLM,
        AutoModelForSequenceClassification,
        AutoTokenizer,
    )

    folder = Path(folder)
    verify_folder(folder)
    usage = json.loads((folder / USAGE_FILE).read_text(encoding="utf-8"))
    auto = (
        AutoModelForSequenceClassification
        if usage["task"] == "classification"
        else (AutoModelForSeq2SeqLM)
    )
    with _quiet_transformers():
        model, info = auto.from_pretrained(folder, use_safetensors=True, output_loading_info=True)
    misfits = {k: v for k, v in info.items() if k != "error_msgs" and v}
    if misfits or info.get("error_msgs"):
        found = "; ".join(f"{k}: {', '.join(map(str, v))[:200]}" for k, v in misfits.items())
        raise ShippedModelError(
            f"{folder / WEIGHTS_FILE} does not fit {folder / 'config.json'} ({found}): the "
            f"model would run with random weights. Save the model again with save_for_use."
        )
    return ShippedModel(model.to(device).eval(), AutoTokenizer.from_pretrained(folder), usage)


def reproduce_in_fresh_process(folder: str | Path, timeout: float = 600) -> dict:
    """Load ``folder`` in a new Python process and predict its saved example there.

    Returns ``{"input", "expected", "prediction", "identical", "seconds"}``; raises
    :class:`ShippedModelError` for a missing or changed file (checked here first, and again
    in the new process), AssertionError when the new process predicts anything else than the
    saved prediction.
    """
    import time

    folder = Path(folder).resolve()
    verify_folder(folder)
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "course_lib.project.shipping", str(folder), "--json"],
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if done.returncode != 0:
        raise RuntimeError(f"the fresh process failed:\n{done.stderr[-2000:]}")
    answer = json.loads(done.stdout.strip().splitlines()[-1])
    expected = json.loads((folder / USAGE_FILE).read_text(encoding="utf-8"))["example"]
    result = {
        "input": expected["input"],
        "expected": expected["prediction"],
        "prediction": answer["predictions"][0],
        "identical": answer["predictions"][0] == expected["prediction"],
        "seconds": time.perf_counter() - start,
    }
    if not result["identical"]:
        raise AssertionError(
            f"The reloaded model predicts {result['prediction']!r}, but the model saved "
            f"{result['expected']!r}: something the prediction depends on is not in {folder} "
            f"(tokenizer, prefix, generation settings?)."
        )
    return result


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m course_lib.project.shipping FOLDER [TEXT ...] [--json]``: print predictions
    (of the TEXTs, else of the saved example)."""
    args = list(sys.argv[1:] if argv is None else argv)
    as_json = "--json" in args
    args = [a for a in args if a != "--json"]
    if not args:
        raise SystemExit(main.__doc__)
    torch.manual_seed(0)
    try:
        shipped = load_for_use(args[0])
    except ShippedModelError as err:
        raise SystemExit(f"course_lib.project.shipping: {err}") from None
    texts = args[1:] or [shipped.usage["example"]["input"]]
    predictions = shipped.predict(texts)
    if as_json:
        print(json.dumps({"texts": texts, "predictions": predictions}, ensure_ascii=False))
    else:
        for text, prediction in zip(texts, predictions):
            print(f"{text}\n  -> {prediction}")


if __name__ == "__main__":
    main()
