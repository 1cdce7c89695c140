"""Checkpoints that survive a crash and resume a run exactly.

A checkpoint is one file written by ``torch.save`` and read back with
``torch.load(..., weights_only=True)`` (no pickled code runs on loading). It is written to a
temporary file in the same folder and then renamed over its final name, so a crash or a full
disk mid-write never leaves a half-written checkpoint under a real name: the previous one
stays usable. On loading, the file's CRC-32 checksums (``torch.save`` writes a zip archive)
are verified, so a truncated or damaged file is reported by name instead of loading garbage.

``train`` (in ``course_lib.training``) stores, besides the weights: optimizer, scheduler and
grad-scaler states, every random number generator (Python, NumPy, torch, CUDA), the epoch and
the position in the data, and the history; see ``rng_state`` / ``set_rng_state``.
"""

from __future__ import annotations

import os
import random
import re
import zipfile
from pathlib import Path

import numpy as np
import torch
from torch import nn

CHECKPOINT_PATTERN = "checkpoint-*.pt"
BEST_MODEL_NAME = "best_model.pt"


class CheckpointError(RuntimeError):
    """A checkpoint file that cannot be used (truncated, damaged, or for another model)."""


def checkpoint_name(step: int) -> str:
    """File name of the checkpoint written after optimizer step ``step``."""
    return f"checkpoint-{step:08d}.pt"


def save_checkpoint(path: str | os.PathLike, state: dict) -> Path:
    """Write ``state`` (tensors, numbers, strings, lists, dicts) to ``path`` atomically.

    The bytes go to a temporary file beside ``path``, are flushed to disk, and the file is
    renamed to ``path`` only once complete; if anything fails, ``path`` is untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(temporary, "wb") as file:
            torch.save(state, file)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    return path


def read_checkpoint(path: str | os.PathLike, map_location="cpu") -> dict:
    """The dict stored in ``path``, after checking that the file is complete and undamaged.

    Raises ``FileNotFoundError`` for a missing file and ``CheckpointError`` (naming the file)
    for a truncated or damaged one.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint file at {path}")
    advice = (
        "It was probably cut short (a crash, a full disk, an interrupted copy or sync): "
        "delete it and load an earlier checkpoint of the same folder."
    )
    try:
        with zipfile.ZipFile(path) as archive:
            damaged = archive.testzip()
    except (zipfile.BadZipFile, OSError, EOFError) as error:
        raise CheckpointError(f"checkpoint {path} is truncated or not a checkpoint ({error}). "
                              f"{advice}") from error
    if damaged is not None:
        raise CheckpointError(f"checkpoint {path} is damaged: its part {damaged!r} fails its "
                              f"checksum. {advice}")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as error:  # torch reports damage as RuntimeError, UnpicklingError, ...
        raise CheckpointError(f"checkpoint {path} cannot be read ({error}). {advice}") from error
    if not isinstance(state, dict):
        raise CheckpointError(f"checkpoint {path} holds a {type(state).__name__}, not a dict "
                              "of states: was it written by save_checkpoint?")
    return state


def load_checkpoint(
    path: str | os.PathLike,
    model: nn.Module | None = None,
    optimizer: torch.optim.Optimizer | None = None,
    scheduler=None,
    scaler=None,
    map_location="cpu",
) -> dict:
    """Load ``path`` into whichever of ``model``, ``optimizer``, ``scheduler`` and ``scaler``
    are given (``weights_only=True``); returns the whole stored dict (step, history, ...).

    Works with the periodic checkpoints of ``train`` and with its ``best_model.pt`` (weights
    only: pass just the model).
    """
    state = read_checkpoint(path, map_location)
    parts = {"model": model, "optimizer": optimizer, "scheduler": scheduler, "scaler": scaler}
    for key, target in parts.items():
        if target is None:
            continue
        if state.get(key) is None:
            raise CheckpointError(f"checkpoint {path} has no {key} state to load (it holds: "
                                  f"{', '.join(k for k, v in state.items() if v is not None)}).")
        try:
            target.load_state_dict(state[key])
        except (RuntimeError, ValueError, KeyError) as error:
            raise CheckpointError(f"checkpoint {path} does not fit this {key}: {error}") from error
    return state


def checkpoint_paths(directory: str | os.PathLike) -> list[Path]:
    """The periodic checkpoints in ``directory``, oldest (lowest step) first."""
    directory = Path(directory)
    if not directory.is_dir():
        return []
    found = [p for p in directory.glob(CHECKPOINT_PATTERN) if re.fullmatch(r"checkpoint-\d+\.pt",
                                                                          p.name)]
    return sorted(found, key=lambda p: int(p.stem.split("-")[1]))


def latest_checkpoint(directory: str | os.PathLike) -> Path | None:
    """The most recent periodic checkpoint in ``directory``, or None."""
    paths = checkpoint_paths(directory)
    return paths[-1] if paths else None


def prune_checkpoints(directory: str | os.PathLike, keep: int) -> None:
    """Delete all but the ``keep`` most recent periodic checkpoints in ``directory``."""
    if keep < 1:
        raise ValueError(f"keep must be >= 1 (the checkpoint to resume from), got {keep}")
    for path in checkpoint_paths(directory)[:-keep]:
        path.unlink(missing_ok=True)


def rng_state() -> dict:
    """The state of every random number generator: Python, NumPy, torch CPU and CUDA."""
    kind, keys, position, has_gauss, gauss = np.random.get_state(legacy=True)
    return {
        "python": random.getstate(),
        "numpy": (kind, torch.from_numpy(keys.astype(np.int64)), position, has_gauss, gauss),
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }


def set_rng_state(state: dict) -> None:
    """Restore the generators saved by ``rng_state`` (CUDA only when saved and available)."""
    random.setstate(state["python"])
    kind, keys, position, has_gauss, gauss = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), position, has_gauss, gauss))
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
