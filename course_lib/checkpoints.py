"""Module 4: checkpoints that survive a crash and resume a run exactly.

A checkpoint is one file written by ``torch.save`` and read back with
``torch.load(..., weights_only=True)`` (no pickled code runs on loading). It is written to a
temporary file in the same folder and then renamed over its final name, so a crash or a full
disk mid-write never leaves a half-written checkpoint under a real name: the previous one
stays usable. On loading, the file's CRC-32 checksums (``torch.save`` writes a zip archive)
are verified, so a truncated or damaged file is reported by name instead of loading garbage.

``train`` (in ``course_lib.engine``) stores, besides the weights: optimizer, scheduler and
grad-scaler states, every random number generator (Python, NumPy, torch, CUDA), the epoch and
the position in the data, and the history; see ``rng_state`` / ``set_rng_state``.

A run owns its folder: ``FolderLock`` holds a lock file with the pid of the training using
it, ``check_free_space`` and ``checkpoint_bytes`` check the disk before training starts.
"""

from __future__ import annotations

import copy
import os
import random
import re
import shutil
import zipfile
from pathlib import Path

import numpy as np
import torch
from torch import nn

from course_lib.machinery.locks import LockHeld, ProcessLock

CHECKPOINT_PATTERN = "checkpoint-*.pt"
BEST_MODEL_NAME = "best_model.pt"
LOCK_NAME = ".train.lock"  # holds "pid host" of the training using the folder
TEMPORARY_PATTERN = ".*.pt.*.tmp"  # save_checkpoint's files being written


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
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(temporary, "wb") as file:
            torch.save(state, file)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except (OSError, RuntimeError) as error:  # torch reports a full disk as a RuntimeError
        free = _free_bytes(path.parent)
        raise CheckpointError(
            f"could not write the checkpoint {path} ({type(error).__name__}: {error}). The "
            f"disk there has {format_size(free)} free and the checkpoint needs about "
            f"{format_size(state_bytes(state))}: free some space or choose another folder; the "
            "previous checkpoints are intact."
        ) from error
    finally:
        temporary.unlink(missing_ok=True)
    return path


def _free_bytes(directory: Path) -> int | None:
    """Free bytes on the disk of ``directory`` (or its nearest existing parent), or None."""
    for folder in (directory, *directory.parents):
        if folder.exists():
            try:
                return shutil.disk_usage(folder).free
            except OSError:
                return None
    return None


def format_size(count: int | None) -> str:
    """``count`` bytes for a reader: "580.3 MB", "1.8 kB" (or "an unknown amount")."""
    if count is None:
        return "an unknown amount"
    return f"{count / 1e6:,.1f} MB" if count >= 10**5 else f"{count / 1e3:,.1f} kB"


def state_bytes(state) -> int:
    """Bytes of the tensors in ``state`` (nested dicts, lists, tuples), storage shared once."""
    seen, total, stack = set(), 0, [state]
    while stack:
        item = stack.pop()
        if torch.is_tensor(item):
            storage = item.untyped_storage()
            if storage.data_ptr() not in seen or storage.data_ptr() == 0:
                seen.add(storage.data_ptr())
                total += storage.nbytes()
        elif isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, (list, tuple)):
            stack.extend(item)
    return total


def checkpoint_bytes(model: nn.Module, optimizer: torch.optim.Optimizer | None = None) -> int:
    """What one checkpoint of ``model`` and ``optimizer`` weighs on disk, in bytes: the
    weights plus the optimizer's state. Before the first step an optimizer holds no state
    yet; it is then counted as Adam's two moments per trainable weight (AdamW's, the course's
    optimizer; SGD without momentum needs none, so this is an upper estimate)."""
    total = state_bytes(model.state_dict())
    if optimizer is not None:
        if optimizer.state:
            total += state_bytes(optimizer.state_dict()["state"])
        else:
            total += 2 * sum(
                p.numel() * p.element_size()
                for group in optimizer.param_groups
                for p in group["params"]
                if p.requires_grad
            )
    return total


def check_free_space(directory: str | os.PathLike, needed: int) -> None:
    """Raise ``CheckpointError`` when the disk of ``directory`` has less than ``needed``
    bytes free (checked before training, not at the first checkpoint)."""
    free = _free_bytes(Path(directory))
    if free is not None and free < needed:
        raise CheckpointError(
            f"not enough free disk space for the checkpoints in {directory}: they need about "
            f"{format_size(needed)}, the disk has {format_size(free)} free. Free some space, "
            "choose another output_dir, or train without one (no checkpoints)."
        )


def remove_temporary_files(directory: str | os.PathLike) -> list[Path]:
    """Delete the temporary files of writes that were killed midway (``save_checkpoint``
    names them ``.<name>.<pid>.tmp``); call only while holding the folder's lock."""
    removed = sorted(Path(directory).glob(TEMPORARY_PATTERN))
    for path in removed:
        path.unlink(missing_ok=True)
    return removed


class FolderLock:
    """The lock of a training's output folder: ``.train.lock`` holding ``pid host``
    (:class:`~course_lib.machinery.locks.ProcessLock`).

    ``acquire`` creates the folder and the file (so a folder that cannot be written fails
    here, before training), refuses while another live process on this machine holds it, and
    takes over a stale lock (its process dead, or written on another machine: a Colab
    runtime that was recycled). ``release`` deletes it.
    """

    def __init__(self, directory: str | os.PathLike):
        self.directory = Path(directory)
        self.lock = ProcessLock(self.directory / LOCK_NAME)
        self.path = self.lock.path

    def acquire(self) -> None:
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            stale = self.lock.acquire()
        except LockHeld as held:
            if held.pid is None:
                raise CheckpointError(
                    f"could not take the lock {self.path}: other trainings "
                    "keep starting in this folder; give each its own "
                    "output_dir."
                ) from None
            raise CheckpointError(
                f"another training (process {held.pid}) is using the folder {self.directory}: "
                f"two runs in one folder overwrite each other's checkpoints. Wait for it to "
                f"finish, or give this run another output_dir. (If no training runs, delete "
                f"{self.path}.)"
            ) from None
        except OSError as error:
            raise CheckpointError(
                f"cannot write to the output folder {self.directory} ({error}): choose a "
                "folder you can write to (output_dir=...), or check that the disk is mounted "
                "and not read-only."
            ) from error
        if stale is not None:
            print(
                f"[train] taking over the stale lock of {self.directory} (process "
                f"{stale[0]} on {stale[1]} is gone)"
            )

    def release(self) -> None:
        self.lock.release()


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
    except Exception as error:  # BadZipFile, EOFError, zlib.error, UnicodeDecodeError, ...
        raise CheckpointError(
            f"checkpoint {path} is truncated or not a checkpoint "
            f"({type(error).__name__}: {error}). {advice}"
        ) from error
    if damaged is not None:
        raise CheckpointError(
            f"checkpoint {path} is damaged: its part {damaged!r} fails its checksum. {advice}"
        )
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as error:  # torch reports damage as RuntimeError, UnpicklingError, ...
        raise CheckpointError(f"checkpoint {path} cannot be read ({error}). {advice}") from error
    if not isinstance(state, dict):
        raise CheckpointError(
            f"checkpoint {path} holds a {type(state).__name__}, not a dict "
            "of states: was it written by save_checkpoint?"
        )
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
    only: pass just the model). All or nothing: every tensor is checked against the model
    (names, shapes, dtypes) before anything is copied, and on any error the model, optimizer,
    scheduler and scaler keep their states.
    """
    state = read_checkpoint(path, map_location)
    apply_checkpoint(state, path, model, optimizer, scheduler, scaler)
    return state


def _model_differences(stored, model: nn.Module) -> list[str]:
    """How the tensors of ``stored`` (a state dict) differ from ``model``'s: names, shapes,
    dtypes (empty when they fit)."""
    if not isinstance(stored, dict):
        return [f"the model state is a {type(stored).__name__}, not a dict of tensors"]
    expected = model.state_dict()
    differences = [f"missing {name}" for name in expected if name not in stored]
    differences += [f"unexpected {name}" for name in stored if name not in expected]
    for name, tensor in expected.items():
        value = stored.get(name)
        if name not in stored:
            continue
        if not torch.is_tensor(value):
            differences.append(f"{name} is a {type(value).__name__}, not a tensor")
        elif value.shape != tensor.shape or value.dtype != tensor.dtype:
            differences.append(
                f"{name}: stored {tuple(value.shape)} {value.dtype}, model "
                f"{tuple(tensor.shape)} {tensor.dtype}"
            )
    return differences


def apply_checkpoint(
    state: dict, path, model=None, optimizer=None, scheduler=None, scaler=None
) -> None:
    """Copy the parts of ``state`` (read from ``path``) into the given objects, all or none:
    the model's tensors are checked first; the other parts are restored to their previous
    states if one of them does not load."""
    parts = {"model": model, "optimizer": optimizer, "scheduler": scheduler, "scaler": scaler}
    parts = {key: target for key, target in parts.items() if target is not None}
    for key in parts:
        if state.get(key) is None:
            raise CheckpointError(
                f"checkpoint {path} has no {key} state to load (it holds: "
                f"{', '.join(k for k, v in state.items() if v is not None)})."
            )
    if model is not None and (differences := _model_differences(state["model"], model)):
        shown = "; ".join(differences[:6]) + (" ..." if len(differences) > 6 else "")
        raise CheckpointError(
            f"checkpoint {path} does not fit this model ({len(differences)} "
            f"differences: {shown}); the model was left unchanged. Build the "
            "model with the sizes it was trained with."
        )
    others = [key for key in parts if key != "model"]
    before = {key: copy.deepcopy(parts[key].state_dict()) for key in others}
    for key in others:
        try:
            parts[key].load_state_dict(state[key])
        except Exception as error:
            for loaded in others:
                parts[loaded].load_state_dict(before[loaded])
            raise CheckpointError(
                f"checkpoint {path} does not fit this {key}: {error}; nothing was loaded."
            ) from error
    if model is not None:
        model.load_state_dict(state["model"])


def checkpoint_paths(directory: str | os.PathLike) -> list[Path]:
    """The periodic checkpoints in ``directory``, oldest (lowest step) first."""
    directory = Path(directory)
    if not directory.is_dir():
        return []
    found = [
        p for p in directory.glob(CHECKPOINT_PATTERN) if re.fullmatch(r"checkpoint-\d+\.pt", p.name)
    ]
    return sorted(found, key=lambda p: int(p.stem.split("-")[1]))


def latest_checkpoint(directory: str | os.PathLike) -> Path | None:
    """The most recent periodic checkpoint in ``directory``, or None."""
    paths = checkpoint_paths(directory)
    return paths[-1] if paths else None


def prune_checkpoints(
    directory: str | os.PathLike, keep: int, own: list[Path] | None = None
) -> None:
    """Delete all but the ``keep`` most recent periodic checkpoints in ``directory``; with
    ``own`` (one run's checkpoints, oldest first), only among those."""
    if keep < 1:
        raise ValueError(f"keep must be >= 1 (the checkpoint to resume from), got {keep}")
    for path in (checkpoint_paths(directory) if own is None else own)[:-keep]:
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
