"""Module 4: the training engine, ``train(model, loader, loss_fn, optimizer, ...)``.

Built on Hugging Face accelerate: mixed precision, gradient accumulation, clipping, a
per-step scheduler, evaluation every N steps, early stopping, the best checkpoint, time
budgets, checkpoints that resume exactly, and the same code on several GPUs (``accelerate
launch``). As in ``fit`` (training.py), the model-specific part is one function,
``loss_fn(model, batch) -> scalar loss`` (or ``(loss_sum, n_tokens)``); ``train`` returns a
``TrainResult`` whose ``history`` goes to ``plot_history``.
"""

from __future__ import annotations

import contextlib
import itertools
import math
import os
import time
import warnings
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from torch import nn

from course_lib.checkpoints import (
    BEST_MODEL_NAME,
    CheckpointError,
    FolderLock,
    apply_checkpoint,
    check_free_space,
    checkpoint_bytes,
    checkpoint_name,
    checkpoint_paths,
    format_size,
    prune_checkpoints,
    read_checkpoint,
    remove_temporary_files,
    rng_state,
    save_checkpoint,
    set_rng_state,
)
from course_lib.device import (
    MIXED_PRECISION,
    check_finite_loss,
    check_mixed_precision,
    count_skipped_steps,
    to_device,
)
from course_lib.machinery.settings import seed_everything
from course_lib.training import History

if TYPE_CHECKING:
    from accelerate import Accelerator


@dataclass
class TrainConfig:
    """How ``train`` runs. It stops at whichever limit comes first: ``epochs``,
    ``max_steps`` (optimizer steps) or ``max_minutes`` (wall time). A resumed run counts the
    steps and the minutes of the runs before it."""

    epochs: int = 1  # passes over the training data
    max_steps: int | None = None  # optimizer steps in all (a resumed run counts the earlier ones)
    max_minutes: float | None = None  # wall-clock budget in all, evaluation included
    grad_accum_steps: int = 1  # micro-batches whose gradients add up into one optimizer step
    clip_grad_norm: float | None = None  # clip the global gradient norm to this value
    mixed_precision: str = "no"  # "no" | "bf16" | "fp16" (fp16 with a grad scaler that skips
    # overflowing steps; see safe_mixed_precision for models that overflow in fp16, like T5)
    eval_every: int | None = None  # optimizer steps between evaluations (None: each epoch)
    early_stopping_patience: int | None = None  # evaluations without improvement before stopping
    best_metric: str = "val_loss"  # the metric that picks the best checkpoint
    best_mode: str = "min"  # "min" (losses) or "max" (accuracy, BLEU)
    checkpoint_every: int | None = None  # optimizer steps between checkpoints
    checkpoint_minutes: float | None = None  # wall-time minutes between checkpoints (with
    # neither set: a checkpoint at each evaluation; always one at the end)
    keep_checkpoints: int = 2  # periodic checkpoints of this run kept (older ones deleted)
    seed: int = 0  # seeds every generator at the start (a resumed run restores them instead)
    progress: bool = True  # show a tqdm bar (loss, learning rate, tokens/s)

    def __post_init__(self) -> None:
        positive = {
            "epochs": self.epochs,
            "grad_accum_steps": self.grad_accum_steps,
            "keep_checkpoints": self.keep_checkpoints,
        }
        optional = {
            "max_steps": self.max_steps,
            "max_minutes": self.max_minutes,
            "eval_every": self.eval_every,
            "checkpoint_every": self.checkpoint_every,
            "checkpoint_minutes": self.checkpoint_minutes,
            "early_stopping_patience": self.early_stopping_patience,
            "clip_grad_norm": self.clip_grad_norm,
        }
        for name, value in {**positive, **optional}.items():
            if (value is not None or name in positive) and not value > 0:
                raise ValueError(
                    f"TrainConfig.{name} must be > 0 (or None where allowed), got {value!r}"
                )
        if self.mixed_precision not in MIXED_PRECISION:
            raise ValueError(
                f"TrainConfig.mixed_precision must be one of {MIXED_PRECISION}, got "
                f"{self.mixed_precision!r}"
            )
        if self.best_mode not in ("min", "max"):
            raise ValueError(
                f"TrainConfig.best_mode must be 'min' or 'max', got {self.best_mode!r}"
            )


@dataclass
class TrainResult:
    """What ``train`` did. ``history`` has one value per evaluation under each name, and
    ``history["step"]`` the optimizer step of each: ``plot_history(result.history)``."""

    history: History
    steps: int  # optimizer steps done, earlier runs included when resumed
    epochs: float  # passes over the data done (fractional when stopped mid-epoch)
    stopped_by: str  # "epochs" | "max_steps" | "time" | "early_stopping"
    best_metric: float | None  # best value of config.best_metric seen (None: not tracked)
    best_checkpoint: Path | None  # best_model.pt in output_dir (None without output_dir)
    tokens_per_second: float | None  # training tokens / training seconds of this call
    seconds: float  # wall time of this call
    step_losses: list[float] = field(default_factory=list)  # training loss of every step
    learning_rates: list[float] = field(default_factory=list)  # learning rate of every step
    last_checkpoint: Path | None = None  # the checkpoint to resume from


@dataclass
class _Progress:
    """Everything about the run's position that a checkpoint stores (besides the states)."""

    step: int = 0  # optimizer steps done
    epoch: int = 0  # the epoch under way (from 0)
    batches_done: int = 0  # micro-batches of this epoch already used
    history: History = field(default_factory=lambda: {"step": [], "train_loss": []})
    step_losses: list[float] = field(default_factory=list)
    learning_rates: list[float] = field(default_factory=list)
    best_metric: float | None = None
    evaluations_without_improvement: int = 0
    stopped_by: str | None = None
    seconds: float = 0.0  # wall time used up to the last checkpoint, earlier runs included
    skipped_in_a_row: int = 0  # fp16: the latest steps the grad scaler skipped (overflow)

    def state_dict(self) -> dict:
        return dict(vars(self))

    def load_state_dict(self, state: dict) -> None:
        for name in vars(self):  # checkpoints older than a field keep its default
            setattr(self, name, state.get(name, getattr(self, name)))


def _single_process() -> bool:
    """True unless started by ``accelerate launch`` / ``torchrun`` with several processes."""
    return int(os.environ.get("WORLD_SIZE", "1")) == 1


def _forget_mixed_precision(cpu: bool = False) -> None:
    """Clear accelerate's process-wide mixed-precision setting, so that a notebook can train
    in bf16, then without (accelerate otherwise refuses a second, different setting); also
    its device when a CPU run follows a GPU one. Single process only: under
    ``accelerate launch`` the state is the launcher's."""
    from accelerate.state import AcceleratorState, PartialState

    if not _single_process():
        return
    device = PartialState._shared_state.get("device")
    AcceleratorState._reset_state(
        reset_partial_state=cpu and device is not None and device.type != "cpu"
    )


def make_accelerator(mixed_precision: str = "no", seed: int = 0, cpu: bool = False):
    """An ``accelerate.Accelerator`` for ``train``: the given mixed precision, and a data
    order that depends only on ``(seed, epoch)`` so a resumed run sees the same batches."""
    from accelerate import Accelerator, DataLoaderConfiguration

    _forget_mixed_precision(cpu)
    accelerator = Accelerator(
        mixed_precision=mixed_precision,
        cpu=cpu,
        dataloader_config=DataLoaderConfiguration(use_seedable_sampler=True, data_seed=seed),
    )
    if mixed_precision == "fp16" and accelerator.scaler is None:
        # accelerate leaves fp16 off on the CPU without a word; torch has autocast and a grad
        # scaler there, and accelerate's fp16 code path runs with them (set before prepare).
        accelerator.scaler = torch.amp.GradScaler(accelerator.device.type)
        accelerator.native_amp = True
    return accelerator


def _split_loss(output) -> tuple[torch.Tensor, int | None]:
    """``loss_fn``'s output as ``(loss, n)``: a mean loss counts once, ``(sum, n_tokens)``
    counts ``n_tokens`` times."""
    if isinstance(output, (tuple, list)):
        if len(output) != 2:
            raise ValueError("loss_fn must return a scalar loss or (loss_sum, n_tokens).")
        loss_sum, count = output
        return loss_sum, int(count)
    return output, None


def train_step(
    accelerator: Accelerator,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler | None,
    loss_fn: Callable[[nn.Module, object], torch.Tensor | tuple[torch.Tensor, int]],
    micro_batches: list,
    clip_grad_norm: float | None = None,
    count_tokens: Callable[[object], int] | None = None,
) -> tuple[float, int]:
    """One optimizer step on ``micro_batches`` (a list; more than one = accumulation).

    forward -> loss -> backward for each micro-batch (gradients add up), then the gradients
    are divided by the number of micro-batches (mean losses) or of tokens (``(sum, n)``
    losses) over all processes, clipped, and the optimizer and scheduler step once.
    Returns the mean training loss of the step and the number of tokens it saw.
    """
    model.train()
    loss_total = torch.zeros((), device=accelerator.device)
    denominator, tokens = 0, 0
    for i, batch in enumerate(micro_batches):
        batch = to_device(batch, accelerator.device)
        last = i == len(micro_batches) - 1
        # Processes exchange gradients once per step: on the last micro-batch only.
        with contextlib.nullcontext() if last else accelerator.no_sync(model):
            with accelerator.autocast():
                loss, n = _split_loss(loss_fn(model, batch))  # forward and loss
            check_finite_loss(loss, accelerator.scaler is not None)
            accelerator.backward(loss)  # backward: gradients add up in .grad
        loss_total += loss.detach().float()
        denominator += 1 if n is None else n
        if count_tokens is not None:
            tokens += int(count_tokens(batch))
        elif n is not None:
            tokens += n
    totals = torch.tensor([denominator, tokens], device=accelerator.device, dtype=torch.float64)
    totals = accelerator.reduce(totals, "sum")  # over processes (a no-op on one)
    loss_total = accelerator.reduce(loss_total, "sum")
    if totals[0].item() == 0:
        raise ValueError(
            "loss_fn counted 0 tokens in every batch of this step: are all the "
            "targets padding? Check the data, or how loss_fn counts tokens."
        )
    # DDP averaged the gradients over processes; turn the sum into a mean over all examples.
    scale = accelerator.num_processes / totals[0].item()
    if scale != 1.0:
        for parameter in model.parameters():
            if parameter.grad is not None:
                parameter.grad.mul_(scale)
    if clip_grad_norm is not None:
        accelerator.clip_grad_norm_(model.parameters(), clip_grad_norm)
    optimizer.step()  # step (skipped by the fp16 grad scaler after an overflow)
    if scheduler is not None and not accelerator.optimizer_step_was_skipped:
        scheduler.step()
    optimizer.zero_grad(set_to_none=True)
    return loss_total.item() / totals[0].item(), int(totals[1].item())


class _DistributedDataParallel(nn.parallel.DistributedDataParallel):
    """DistributedDataParallel that also answers the wrapped model's own attributes
    (``model.pad_id``), so a ``loss_fn`` written for one process runs unchanged on several."""

    def __getattr__(self, name: str):
        try:
            return super().__getattr__(name)
        except AttributeError:
            return getattr(self.module, name)


def _batch_windows(batches: Iterable, size: int):
    """Lists of ``size`` consecutive batches (the last one may be shorter)."""
    iterator = iter(batches)
    while window := list(itertools.islice(iterator, size)):
        yield window


class _Engine:
    """The bookkeeping around ``train_step``: epochs, limits, evaluation, checkpoints."""

    def __init__(
        self,
        accelerator,
        model,
        optimizer,
        scheduler,
        loss_fn,
        loader,
        config,
        evaluate,
        output_dir,
        count_tokens,
        original_loader,
    ):
        self.accelerator, self.model, self.optimizer = accelerator, model, optimizer
        self.scheduler, self.loss_fn, self.loader, self.config = scheduler, loss_fn, loader, config
        self.original_loader = original_loader  # as passed to train, before accelerate
        self.evaluate_fn, self.count_tokens = evaluate, count_tokens
        self.output_dir = None if output_dir is None else Path(output_dir)
        self.progress = _Progress()
        self.epoch_rng: dict | None = None  # generators at the start of the current epoch
        self.resume_rng: dict | None = None  # generators to restore once the data is skipped
        self.last_checkpoint: Path | None = None
        self.best_checkpoint: Path | None = None
        self.start = time.perf_counter()
        self.seconds_before = 0.0  # wall time of the runs this one resumes
        self.saved_at = 0.0  # used_seconds() at the last checkpoint
        self.train_seconds, self.tokens = 0.0, 0
        self.own: list[Path] = []  # this run's periodic checkpoints, oldest first
        self.lock = None if self.output_dir is None else FolderLock(self.output_dir)

    def used_seconds(self) -> float:
        """Wall time of the whole run so far, earlier (resumed) runs included."""
        return self.seconds_before + time.perf_counter() - self.start

    # -- checkpoints ------------------------------------------------------------------------
    def save(self) -> None:
        """Write a checkpoint of everything (rank 0 writes; every process waits)."""
        acc, progress = self.accelerator, self.progress
        path = None if self.output_dir is None else self.output_dir / checkpoint_name(progress.step)
        if path is None or path == self.last_checkpoint:
            return  # no folder, or this very step is saved already
        progress.seconds = self.used_seconds()
        rngs = [rng_state()]
        if acc.num_processes > 1:
            from accelerate.utils import gather_object

            rngs = gather_object(rngs)
        self.saved_at = progress.seconds
        if acc.is_main_process:
            save_checkpoint(
                path,
                {
                    "model": acc.unwrap_model(self.model).state_dict(),
                    "optimizer": self.optimizer.state_dict(),
                    "scheduler": None if self.scheduler is None else self.scheduler.state_dict(),
                    "scaler": None if acc.scaler is None else acc.scaler.state_dict(),
                    "rng": rngs,
                    "epoch_rng": self.epoch_rng,
                    "progress": progress.state_dict(),
                    "config": asdict(self.config),
                },
            )
            self.own = [p for p in self.own if p != path] + [path]
            prune_checkpoints(self.output_dir, self.config.keep_checkpoints, own=self.own)
            self.own = self.own[-self.config.keep_checkpoints :]
        acc.wait_for_everyone()
        self.last_checkpoint = path

    def claim_folder(self, resume, overwrite: bool) -> None:
        """Lock ``output_dir`` (it must be writable), clean killed writes' temporary files,
        refuse a new run where another run's checkpoints are (unless ``overwrite``), and check
        the free disk space; on the main process, every process raising alike."""
        acc, error = self.accelerator, None
        if acc.is_main_process:
            try:
                self.lock.acquire()
                for path in remove_temporary_files(self.output_dir):
                    acc.print(f"[train] removed {path.name}, left by a write that was killed")
                found = checkpoint_paths(self.output_dir)
                best = self.output_dir / BEST_MODEL_NAME
                found += [best] if best.is_file() else []
                if found and not resume:
                    if not overwrite:
                        raise CheckpointError(
                            f"the folder {self.output_dir} holds the checkpoints of another "
                            f"run ({', '.join(p.name for p in found)}). Pass resume=True to "
                            "continue that run, or choose a new folder (output_dir=...) or "
                            "overwrite=True to delete them and start a new run."
                        )
                    for path in found:
                        path.unlink()
                    acc.print(
                        f"[train] overwrite=True: deleted {len(found)} checkpoint(s) of "
                        f"the previous run in {self.output_dir}"
                    )
                size = checkpoint_bytes(acc.unwrap_model(self.model), self.optimizer)
                # the checkpoints kept, the one being written, and best_model.pt (weights)
                check_free_space(
                    self.output_dir,
                    (self.config.keep_checkpoints + 1) * size
                    + checkpoint_bytes(acc.unwrap_model(self.model)),
                )
                acc.print(
                    f"[train] checkpoints of {format_size(size)} (weights + optimizer "
                    f"state) in {self.output_dir}; the last "
                    f"{self.config.keep_checkpoints} and {BEST_MODEL_NAME} are kept"
                )
            except CheckpointError as raised:
                self.lock.release()
                error = raised
        if acc.num_processes > 1:
            from accelerate.utils import broadcast_object_list

            message = broadcast_object_list([None if error is None else str(error)])[0]
            error = error or (None if message is None else CheckpointError(message))
        if error is not None:
            raise error

    def restore(self, resume: bool | str | os.PathLike) -> None:
        """Continue from ``resume`` (a checkpoint file) or, with ``True``, from the latest
        usable checkpoint of ``output_dir``: a damaged one is skipped, with a warning naming
        it, for the one before; without any checkpoint the run starts as a fresh one."""
        if resume is True:
            if self.output_dir is None:
                raise ValueError("resume=True needs output_dir, the folder of the checkpoints.")
            candidates = list(reversed(checkpoint_paths(self.output_dir)))
        else:
            candidates = [Path(resume)]
        acc, skipped = self.accelerator, []
        for path in candidates:
            try:
                state = read_checkpoint(path)
                self.check_config(path, state.get("config"))
                progress, rngs, epoch_rng = self.resume_state(path, state)
                apply_checkpoint(
                    state,
                    path,
                    acc.unwrap_model(self.model),
                    self.optimizer,
                    self.scheduler,
                    acc.scaler,
                )
            except CheckpointError as error:
                if resume is not True:
                    raise
                warnings.warn(f"{error} Trying the previous checkpoint.", stacklevel=3)
                skipped.append(path.name)
                continue
            self.progress = progress
            self.seconds_before = self.saved_at = progress.seconds
            self.epoch_rng = epoch_rng
            if len(rngs) != acc.num_processes:
                warnings.warn(
                    f"{path} was written by {len(rngs)} processes, this run has "
                    f"{acc.num_processes}: the random numbers will differ.",
                    stacklevel=3,
                )
            self.resume_rng = rngs[min(acc.process_index, len(rngs) - 1)]
            set_rng_state(self.resume_rng)
            self.last_checkpoint = path
            if self.output_dir is not None:
                self.own = [
                    p
                    for p in checkpoint_paths(self.output_dir)
                    if int(p.stem.split("-")[1]) <= progress.step
                ]
            best = self.output_dir / BEST_MODEL_NAME if self.output_dir else None
            self.best_checkpoint = best if best is not None and best.is_file() else None
            note = f" (skipped the damaged {', '.join(skipped)})" if skipped else ""
            acc.print(f"[train] resumed from {path} at step {progress.step}{note}")
            return
        if skipped:
            raise CheckpointError(
                f"no usable checkpoint in {self.output_dir}: {', '.join(skipped)} could not be "
                "used (damaged, or for another model: see the warnings). Nothing was loaded. "
                "Build the model the run was trained with, restore a copy of the folder, or "
                "start a new run (overwrite=True without resume)."
            )
        seed_everything(self.config.seed)  # as a fresh run starts
        acc.print(f"[train] no checkpoint in {self.output_dir}: starting from scratch")

    # The settings a resumed run may change: its limits and how it saves; the others shape the
    # training itself, and a run resumed with other values would not be the run it continues.
    RESUMABLE_CHANGES = (
        "epochs",
        "max_steps",
        "max_minutes",
        "progress",
        "checkpoint_every",
        "checkpoint_minutes",
        "keep_checkpoints",
    )

    def check_config(self, path: Path, stored: dict | None) -> None:
        """Refuse (``ValueError``) to resume a run stored with other training settings."""
        if not isinstance(stored, dict):
            return  # written before checkpoints stored their configuration
        current = asdict(self.config)
        differing = [
            f"{key}: {stored.get(key)!r} in the checkpoint, {value!r} now"
            for key, value in current.items()
            if key not in self.RESUMABLE_CHANGES and stored.get(key, value) != value
        ]
        if differing:
            raise ValueError(
                f"cannot resume from {path}: it was trained with other settings ("
                f"{'; '.join(differing)}). Resume with the same settings, or start a new run "
                "(a new output_dir, or overwrite=True without resume)."
            )

    @staticmethod
    def resume_state(path: Path, state: dict) -> tuple[_Progress, list, dict | None]:
        """The position, generators and epoch generators stored in ``state``, checked."""
        try:
            progress = _Progress()
            progress.load_state_dict(state["progress"])
            progress.stopped_by = None  # the new call sets its own limits
            rngs, epoch_rng = state["rng"], state["epoch_rng"]
            current = rng_state()
            for rng in [*rngs, *([epoch_rng] if epoch_rng is not None else [])]:
                set_rng_state(rng)  # each must load; the current ones come back below
            set_rng_state(current)
            if not rngs or not isinstance(progress.step, int) or progress.step < 0:
                raise ValueError("no generator states or no step")
        except Exception as error:  # KeyError, TypeError, ValueError: not train's checkpoint
            raise CheckpointError(
                f"checkpoint {path} is not a complete checkpoint of train "
                f"({type(error).__name__}: {error})."
            ) from error
        return progress, rngs, epoch_rng

    # -- evaluation ---------------------------------------------------------------------------
    def evaluate(self) -> None:
        """Record train loss and ``evaluate(model)`` at this step; best checkpoint; patience."""
        progress, acc = self.progress, self.accelerator
        history = progress.history
        if history["step"] and history["step"][-1] == progress.step:
            return  # already evaluated at this step
        since = history["step"][-1] if history["step"] else 0
        recent = progress.step_losses[since:] or progress.step_losses[-1:]
        recent = [loss for loss in recent if math.isfinite(loss)] or recent  # fp16 skips
        record = {"train_loss": sum(recent) / max(len(recent), 1)}
        if self.evaluate_fn is not None:
            rng = rng_state()  # evaluation must not change the training's random numbers
            self.model.eval()
            with torch.no_grad(), acc.autocast():
                metrics = {
                    k: float(v) for k, v in self.evaluate_fn(acc.unwrap_model(self.model)).items()
                }
            self.model.train()
            set_rng_state(rng)
            if acc.num_processes > 1:
                from accelerate.utils import broadcast_object_list

                metrics = broadcast_object_list([metrics])[0]  # every process decides alike
            record.update(metrics)
        if history["step"] and set(record) != set(history) - {"step"}:
            raise ValueError(
                f"evaluate returned {sorted(record)} this time but "
                f"{sorted(set(history) - {'step'})} before: keep the same names."
            )
        history["step"].append(progress.step)
        for name, value in record.items():
            history.setdefault(name, []).append(value)
        self.track_best(record)

    def track_best(self, record: dict) -> None:
        config, progress = self.config, self.progress
        if config.best_metric not in record:
            if self.evaluate_fn is not None:
                raise KeyError(
                    f"best_metric={config.best_metric!r} is not among the metrics "
                    f"{sorted(record)}: set TrainConfig(best_metric=...) to one."
                )
            return
        value = record[config.best_metric]
        best = progress.best_metric
        better = best is None or (value < best if config.best_mode == "min" else value > best)
        if better:
            progress.best_metric, progress.evaluations_without_improvement = value, 0
            self.save_best()
        else:
            progress.evaluations_without_improvement += 1
            patience = config.early_stopping_patience
            if patience is not None and progress.evaluations_without_improvement >= patience:
                progress.stopped_by = "early_stopping"

    def save_best(self) -> None:
        acc = self.accelerator
        if self.output_dir is None:
            return
        path = self.output_dir / BEST_MODEL_NAME
        if acc.is_main_process:
            save_checkpoint(
                path,
                {
                    "model": acc.unwrap_model(self.model).state_dict(),
                    "step": self.progress.step,
                    "metric": self.config.best_metric,
                    "value": self.progress.best_metric,
                },
            )
        acc.wait_for_everyone()
        self.best_checkpoint = path

    # -- the loop ---------------------------------------------------------------------------
    def epoch_batches(self) -> Iterable:
        """This epoch's batches, after those a resumed run already used."""
        progress = self.progress
        # The data order of an epoch must depend on the epoch alone: tell the loader (and a
        # custom batch sampler, which accelerate wraps without passing the epoch on).
        for part in (self.loader, getattr(self.original_loader, "batch_sampler", None)):
            if hasattr(part, "set_epoch"):
                part.set_epoch(progress.epoch)
        skip = progress.batches_done
        if skip == 0:
            self.epoch_rng = rng_state()
            return self.loader
        # Resumed mid-epoch: start the data under the epoch's first generators (a loader may
        # draw its shuffling seed then), skip the used batches, then restore the generators.
        set_rng_state(self.epoch_rng)
        if isinstance(self.loader, torch.utils.data.DataLoader):
            iterator = iter(self.accelerator.skip_first_batches(self.loader, skip))
        else:
            iterator = itertools.islice(iter(self.loader), skip, None)
        first = next(iterator, None)
        set_rng_state(self.resume_rng)
        return iterator if first is None else itertools.chain([first], iterator)

    def out_of_limits(self) -> tuple[str | None, bool]:
        """Why the run must stop now (or None), and whether a checkpoint is due by time."""
        config, progress = self.config, self.progress
        reason, used = None, self.used_seconds()
        if config.max_steps is not None and progress.step >= config.max_steps:
            reason = "max_steps"
        elif config.max_minutes is not None and used >= 60 * config.max_minutes:
            reason = "time"
        due = (
            config.checkpoint_minutes is not None
            and used - self.saved_at >= 60 * config.checkpoint_minutes
        )
        if self.accelerator.num_processes > 1:  # rank 0's clock decides for everyone
            from accelerate.utils import broadcast_object_list

            reason, due = broadcast_object_list([(reason, due)])[0]
        return reason, due

    def run(self, bar) -> None:
        config, progress = self.config, self.progress
        checkpoint_every = config.checkpoint_every
        save_at_evaluations = checkpoint_every is None and config.checkpoint_minutes is None
        while progress.stopped_by is None:
            if progress.epoch >= config.epochs:
                progress.stopped_by = "epochs"
                break
            for window in _batch_windows(self.epoch_batches(), config.grad_accum_steps):
                began = time.perf_counter()
                loss, tokens = train_step(
                    self.accelerator,
                    self.model,
                    self.optimizer,
                    self.scheduler,
                    self.loss_fn,
                    window,
                    config.clip_grad_norm,
                    self.count_tokens,
                )
                self.train_seconds += time.perf_counter() - began
                progress.skipped_in_a_row = count_skipped_steps(
                    self.accelerator.optimizer_step_was_skipped, progress.skipped_in_a_row, loss
                )
                self.tokens += tokens
                progress.step += 1
                progress.batches_done += len(window)
                progress.step_losses.append(loss)
                progress.learning_rates.append(self.optimizer.param_groups[0]["lr"])
                self.show(bar, loss)
                if config.eval_every is not None and progress.step % config.eval_every == 0:
                    self.evaluate()
                    if save_at_evaluations:
                        self.save()
                if checkpoint_every is not None and progress.step % checkpoint_every == 0:
                    self.save()
                reason, due = self.out_of_limits()
                if due:
                    self.save()
                progress.stopped_by = progress.stopped_by or reason
                if progress.stopped_by is not None:
                    break
            else:  # the epoch ran to its end
                progress.epoch += 1
                progress.batches_done = 0
                if config.eval_every is None:
                    self.evaluate()
                    if save_at_evaluations:
                        self.save()
        self.evaluate()  # the final values, unless evaluated at this very step
        self.save()
        if self.config.max_minutes is not None:  # the time bar ends at 100%: the budget used
            if progress.stopped_by != "time":  # or, stopped by another limit, the minutes used
                bar.total = bar.n
            bar.update(bar.total - bar.n)

    def show(self, bar, loss: float) -> None:
        """Advance ``bar``: one step, or with a time budget the minutes used of those allowed."""
        if self.config.max_minutes is None:
            bar.update(1)
        else:
            bar.update(min(self.used_seconds() / 60, bar.total) - bar.n)
        if bar.disable:
            return
        postfix = {"step": self.progress.step} if self.config.max_minutes is not None else {}
        postfix |= {"loss": f"{loss:.3f}", "lr": f"{self.progress.learning_rates[-1]:.2e}"}
        if self.tokens:
            postfix["tok/s"] = f"{self.tokens / max(self.train_seconds, 1e-9):,.0f}"
        bar.set_postfix(postfix)

    def passes(self) -> float:
        """Epochs done, with the fraction of the current one when the loader has a length."""
        try:
            fraction = self.progress.batches_done / len(self.loader)
        except TypeError:
            fraction = 0.0
        return self.progress.epoch + fraction


def train(
    model: nn.Module,
    train_loader: Iterable,
    loss_fn: Callable[[nn.Module, object], torch.Tensor | tuple[torch.Tensor, int]],
    optimizer: torch.optim.Optimizer,
    scheduler=None,
    config: TrainConfig | None = None,
    evaluate: Callable[[nn.Module], Mapping[str, float]] | None = None,
    output_dir: str | os.PathLike | None = None,
    resume: bool | str | os.PathLike = False,
    count_tokens: Callable[[object], int] | None = None,
    device: str | torch.device | None = None,
    overwrite: bool = False,
) -> TrainResult:
    """Train ``model`` with accelerate; returns a ``TrainResult`` (history, steps, ...).

    ``loss_fn(model, batch)`` gets a batch already on the device and returns the mean loss,
    or ``(loss_sum, n_tokens)`` so that accumulated and multi-process steps weigh every token
    alike. ``scheduler`` is stepped once per optimizer step. ``evaluate(model)`` returns
    metrics such as ``{"val_loss": ...}`` (run in eval mode, without gradients).
    ``output_dir`` receives ``checkpoint-<step>.pt`` files and ``best_model.pt``; the run
    locks it (one training per folder), and a new run refuses a folder holding another run's
    checkpoints unless ``overwrite=True`` (which deletes them). ``resume=True`` continues from
    the latest checkpoint there (or a given checkpoint path), exactly where it stopped, with
    the same settings (see ``_Engine.RESUMABLE_CHANGES``); with no checkpoint it starts as a
    fresh run. ``count_tokens(batch)`` gives the tokens of a batch for the tokens/s figure.
    ``device="cpu"`` keeps training on the CPU even with a GPU present. With ``max_minutes``
    the progress bar counts minutes used of the minutes allowed.

    The same call runs on several GPUs under ``accelerate launch`` (see docs/multi_gpu.md):
    each process gets its share of ``train_loader`` (a ``DataLoader``), only the main process
    writes checkpoints and prints.
    """
    from course_lib.machinery.progress import progress_bar

    config = config or TrainConfig()
    if resume and overwrite:
        raise ValueError(
            "resume=True continues the run in output_dir, overwrite=True deletes "
            "it: pass one of them."
        )
    if (
        config.early_stopping_patience is not None
        and evaluate is None
        and (config.best_metric != "train_loss")
    ):
        raise ValueError(
            "early_stopping_patience needs evaluate=... (or best_metric='train_loss')."
        )
    device_type = (
        torch.device(device).type
        if device is not None
        else ("cuda" if torch.cuda.is_available() else "cpu")
    )
    check_mixed_precision(config.mixed_precision, device_type)
    accelerator = make_accelerator(config.mixed_precision, config.seed, cpu=device_type == "cpu")
    if accelerator.num_processes > 1 and not isinstance(train_loader, torch.utils.data.DataLoader):
        raise TypeError(
            f"with {accelerator.num_processes} processes, train_loader must be a "
            "torch DataLoader so that accelerate can give each process its share."
        )
    try:
        model, optimizer, loader = accelerator.prepare(model, optimizer, train_loader)
        if type(model) is nn.parallel.DistributedDataParallel:
            model.__class__ = _DistributedDataParallel
        engine = _Engine(
            accelerator,
            model,
            optimizer,
            scheduler,
            loss_fn,
            loader,
            config,
            evaluate,
            output_dir,
            count_tokens,
            train_loader,
        )
        if engine.lock is not None:
            engine.claim_folder(resume, overwrite)
        if resume:
            engine.restore(resume)
        else:
            seed_everything(config.seed)
        try:
            per_epoch = -(-len(loader) // config.grad_accum_steps)
            total = config.epochs * per_epoch
        except TypeError:
            total = None
        if config.max_steps is not None:
            total = config.max_steps if total is None else min(total, config.max_steps)
        disable = not (config.progress and accelerator.is_main_process)
        bar_settings = {"total": total, "initial": engine.progress.step, "unit": "step"}
        if config.max_minutes is not None:  # a time budget: minutes used of those allowed
            bar_settings = {
                "total": config.max_minutes,
                "unit": "min",
                "initial": min(engine.seconds_before / 60, config.max_minutes),
                "bar_format": "{l_bar}{bar}| {n:.1f}/{total:.1f} min "
                "[{elapsed}<{remaining}{postfix}]",
            }
        with progress_bar(desc="train", disable=disable, **bar_settings) as bar:
            engine.run(bar)
        accelerator.unwrap_model(model, keep_fp32_wrapper=False)  # plain forward again
        progress = engine.progress
        return TrainResult(
            history=progress.history,
            steps=progress.step,
            epochs=engine.passes(),
            stopped_by=progress.stopped_by,
            best_metric=progress.best_metric,
            best_checkpoint=engine.best_checkpoint,
            tokens_per_second=(
                engine.tokens / engine.train_seconds
                if engine.tokens and engine.train_seconds
                else None
            ),
            seconds=time.perf_counter() - engine.start,
            step_losses=progress.step_losses,
            learning_rates=progress.learning_rates,
            last_checkpoint=engine.last_checkpoint,
        )
    finally:
        if "engine" in locals() and engine.lock is not None:
            engine.lock.release()
        _forget_mixed_precision()  # a later Accelerator (HF Trainer's) picks its own
