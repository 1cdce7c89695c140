"""Fault injection: a training killed (SIGKILL) at random points resumes to bit-identical
weights, and damaged checkpoint files (flipped bytes, truncations) give a clear
``CheckpointError`` or a clean fallback to the previous checkpoint, never a silent load.

The counts are printed (``pytest -s``): cases tried, clear errors, harmless damage (the file
still reads back exactly), crashes, silent results, data lost.
"""

import multiprocessing
import random
import signal
import time
import warnings
from pathlib import Path

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from course_lib.checkpoints import (
    CheckpointError,
    checkpoint_name,
    checkpoint_paths,
    read_checkpoint,
    save_checkpoint,
)
from course_lib.engine import TrainConfig, train
from course_lib.schedules import linear_warmup_schedule

KILLS = 6
STEPS = 24  # 2 epochs of 12 batches: the kills fall on both sides of the epoch boundary


def train_tiny(folder: Path | None, resume: bool = True, max_steps: int = STEPS):
    """The same training each time: dropout, shuffling, AdamW, a schedule, a checkpoint at
    every step (2 kept); resumed from ``folder``'s latest checkpoint if any."""
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(96, 6, generator=gen)
    data = TensorDataset(x, (x[:, :3].sum(1) > 0).long())
    torch.manual_seed(1)
    model = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Dropout(0.2), nn.Linear(16, 2))
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    scheduler = linear_warmup_schedule(optimizer, 5, STEPS)

    def loss_fn(model, batch):
        return nn.functional.cross_entropy(model(batch[0]), batch[1])

    config = TrainConfig(
        epochs=2, max_steps=max_steps, checkpoint_every=1, keep_checkpoints=2, progress=False
    )
    train(
        model,
        DataLoader(data, batch_size=8, shuffle=True),
        loss_fn,
        optimizer,
        scheduler,
        config,
        output_dir=folder,
        resume=resume and folder is not None,
        device="cpu",
    )
    return model


def latest_step(folder: Path) -> int:
    paths = checkpoint_paths(folder)
    return int(paths[-1].stem.split("-")[1]) if paths else 0


def test_killed_at_random_points_the_resumed_run_is_bit_identical(tmp_path):
    """A forked process (torch already imported: the kill times fall in the training) is
    killed with SIGKILL at random times, mid-step or mid-write; then the run is resumed."""
    expected = train_tiny(None).state_dict()  # uninterrupted, no checkpoints
    folder = tmp_path / "run"
    started = time.perf_counter()
    train_tiny(tmp_path / "timed", resume=False)
    seconds = time.perf_counter() - started  # one whole run, checkpoints included
    rng = random.Random(2026)  # fixed kill times
    counts = {"kills": 0, "mid_write": 0, "finished_before_kill": 0, "data_lost": 0}
    previous = 0
    for _ in range(KILLS):
        worker = multiprocessing.get_context("fork").Process(target=train_tiny, args=(folder,))
        worker.start()
        time.sleep(rng.uniform(0.05, 0.5) * seconds)
        worker.kill()  # SIGKILL
        worker.join()
        if worker.exitcode != -signal.SIGKILL:
            counts["finished_before_kill"] += 1
            continue
        counts["kills"] += 1
        counts["mid_write"] += any(folder.glob(".*.tmp"))
        step = latest_step(folder)
        counts["data_lost"] += step < previous  # a completed checkpoint must never vanish
        previous = step
    resumed = train_tiny(folder).state_dict()
    print(f"\nSIGKILL: {counts}; the last kill left step {previous} of {STEPS}")
    assert counts["kills"] >= KILLS - 1 and counts["data_lost"] == 0
    assert not any(folder.glob(".*.tmp")) and not (folder / ".train.lock").exists()
    for name, value in expected.items():
        assert torch.equal(resumed[name], value), name


def same(a, b) -> bool:
    """Deep equality of two checkpoint states (tensors bit for bit)."""
    if torch.is_tensor(a) or torch.is_tensor(b):
        return (
            torch.is_tensor(a)
            and torch.is_tensor(b)
            and a.dtype == b.dtype
            and (a.shape == b.shape and torch.equal(a, b))
        )
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return type(a) is type(b) and a == b


@pytest.fixture(scope="module")
def good_checkpoints(tmp_path_factory):
    folder = tmp_path_factory.mktemp("good")
    train_tiny(folder, resume=False, max_steps=4)
    return folder, checkpoint_paths(folder)  # steps 3 and 4


def damaged_copies(data: bytes, rng: random.Random, flips: int, truncations: int):
    for _ in range(flips):
        damaged = bytearray(data)
        for position in rng.sample(range(len(data)), rng.choice([1, 1, 1, 2, 8])):
            damaged[position] ^= rng.randrange(1, 256)
        yield "flip", bytes(damaged)
    for _ in range(truncations):
        yield "truncate", data[: rng.randrange(0, len(data))]


def test_damaged_checkpoints_give_a_clear_error_never_a_silent_load(good_checkpoints, tmp_path):
    _, (_, latest) = good_checkpoints
    data = latest.read_bytes()
    original = read_checkpoint(latest)
    counts = {"cases": 0, "clear_errors": 0, "harmless": 0, "crashes": 0, "silent": 0}
    crashes = []
    path = tmp_path / checkpoint_name(4)
    for kind, damaged in damaged_copies(data, random.Random(7), flips=500, truncations=60):
        counts["cases"] += 1
        path.write_bytes(damaged)
        try:
            state = read_checkpoint(path)
        except CheckpointError as error:
            assert path.name in str(error)
            counts["clear_errors"] += 1
            continue
        except Exception as error:  # noqa: BLE001 (what the test counts)
            counts["crashes"] += 1
            crashes.append(f"{kind}: {type(error).__name__}: {error}")
            continue
        if same(state, original):
            counts["harmless"] += 1  # e.g. a byte of zip padding: the data is intact
        else:
            counts["silent"] += 1
    print(f"\ncheckpoint damage ({len(data):,} bytes): {counts}")
    assert counts["crashes"] == 0, crashes[:5]
    assert counts["silent"] == 0 and counts["clear_errors"] > 0.8 * counts["cases"]


def test_resume_falls_back_past_damaged_files_to_the_previous_good_one(good_checkpoints, tmp_path):
    """Through ``train(resume=True)``: the damaged latest file is skipped with a warning naming
    it, and the run continues from the one before exactly as from an intact folder."""
    source, (before, latest) = good_checkpoints
    expected = train_tiny(None, max_steps=6).state_dict()
    rng = random.Random(11)
    counts = {"cases": 0, "fallbacks": 0, "harmless": 0}
    for index, (kind, damaged) in enumerate(damaged_copies(latest.read_bytes(), rng, 8, 4)):
        folder = tmp_path / f"case{index}"
        folder.mkdir()
        save_checkpoint(folder / before.name, read_checkpoint(before))
        (folder / latest.name).write_bytes(damaged)
        counts["cases"] += 1
        with warnings.catch_warnings(record=True) as warned:
            warnings.simplefilter("always")
            model = train_tiny(folder, max_steps=6)
        skipped = [w for w in warned if latest.name in str(w.message)]
        counts["fallbacks" if skipped else "harmless"] += 1
        for name, value in expected.items():
            assert torch.equal(model.state_dict()[name], value), (kind, name)
    print(f"\nresume past damage: {counts}")
    assert counts["fallbacks"] >= 8
