"""A run owns its output folder: it refuses another run's checkpoints, prunes only its own,
locks the folder, resumes only with its own settings, checks the disk before training, saves
by wall time, and shows a time budget as minutes."""

import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from course_lib import checkpoints
from course_lib.checkpoints import BEST_MODEL_NAME, CheckpointError, checkpoint_paths
from course_lib.engine import TrainConfig, train

sys.path.insert(0, str(Path(__file__).parent))
from test_checkpoints import make_read_only  # noqa: E402


def data():
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(64, 6, generator=gen)
    return TensorDataset(x, (x[:, :3].sum(1) > 0).long())


def loss_fn(model, batch):
    x, y = batch
    return nn.functional.cross_entropy(model(x), y)


def run(output_dir, seed_model=1, **kwargs):
    """A tiny training with dropout and shuffling (so the seeding shows in the weights)."""
    torch.manual_seed(seed_model)
    model = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Dropout(0.3), nn.Linear(16, 2))
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    config = {"epochs": 2, "progress": False, **kwargs.pop("config", {})}
    result = train(
        model,
        DataLoader(data(), batch_size=8, shuffle=True),
        loss_fn,
        optimizer,
        config=TrainConfig(**config),
        output_dir=output_dir,
        **kwargs,
    )
    return model, result


def names(folder):
    return sorted(p.name for p in folder.iterdir())


def same_weights(a, b):
    return all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))


def test_a_new_run_refuses_a_folder_holding_another_run_and_overwrite_replaces_it(tmp_path):
    folder = tmp_path / "run"
    run(folder, config={"checkpoint_every": 2, "max_steps": 8})
    old = {p.name: p.read_bytes() for p in folder.iterdir()}
    (folder / "tokenizer.json").write_text("{}")  # the user's file: never touched
    with pytest.raises(
        CheckpointError,
        match=f"folder {folder} holds the checkpoints of another "
        "run .*checkpoint-00000008.pt.*resume=True.*"
        "new folder.*overwrite=True",
    ):
        run(folder, config={"checkpoint_every": 2, "max_steps": 6})
    assert {p.name: p.read_bytes() for p in folder.iterdir() if p.suffix == ".pt"} == old
    # overwrite: the new, shorter run; stopped at step 4 and resumed, it is not the old run
    full_model, full = run(
        tmp_path / "full", seed_model=2, config={"checkpoint_every": 2, "max_steps": 6}
    )
    run(folder, seed_model=2, overwrite=True, config={"checkpoint_every": 2, "max_steps": 4})
    assert names(folder) == ["checkpoint-00000002.pt", "checkpoint-00000004.pt", "tokenizer.json"]
    model, resumed = run(
        folder, seed_model=2, resume=True, config={"checkpoint_every": 2, "max_steps": 6}
    )
    assert resumed.steps == 6 and resumed.step_losses == full.step_losses
    assert same_weights(model, full_model)
    with pytest.raises(ValueError, match="pass one of them"):
        run(folder, resume=True, overwrite=True)


def test_a_run_prunes_only_its_own_checkpoints(tmp_path):
    """Resumed from an older checkpoint of the folder, the run keeps its own last ones and
    leaves the later file it did not write."""
    folder = tmp_path / "run"
    run(folder, config={"checkpoint_every": 1, "max_steps": 3, "keep_checkpoints": 3})
    assert [p.name[-5:-3] for p in checkpoint_paths(folder)] == ["01", "02", "03"]
    run(
        folder,
        resume=folder / "checkpoint-00000001.pt",
        config={"checkpoint_every": 1, "max_steps": 2, "keep_checkpoints": 1},
    )
    assert [p.name[-5:-3] for p in checkpoint_paths(folder)] == ["02", "03"]


def test_a_second_training_in_a_locked_folder_refuses_until_its_holder_is_gone(tmp_path):
    folder = tmp_path / "run"
    folder.mkdir()
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (folder / ".train.lock").write_text(f"{holder.pid} {socket.gethostname()}\n")
        with pytest.raises(CheckpointError, match=f"another training \\(process {holder.pid}\\)"):
            run(folder)
    finally:
        holder.kill()
        holder.wait()
    _, result = run(folder, config={"keep_checkpoints": 1})  # the holder died: lock taken over
    assert result.steps == 16 and names(folder) == ["checkpoint-00000016.pt"]


def test_resume_refuses_other_settings_and_allows_other_limits(tmp_path):
    folder = tmp_path / "run"
    run(folder, config={"max_steps": 4, "grad_accum_steps": 1})
    with pytest.raises(
        ValueError,
        match="cannot resume .*checkpoint-00000004.pt.*other settings "
        r"\(grad_accum_steps: 1 in the checkpoint, 2 now; "
        r"clip_grad_norm: None in the checkpoint, 1.0 now\)",
    ):
        run(folder, resume=True, config={"grad_accum_steps": 2, "clip_grad_norm": 1.0})
    _, result = run(folder, resume=True, config={"epochs": 3, "max_minutes": 5})
    assert result.steps == 24 and result.stopped_by == "epochs"


def test_resume_without_a_checkpoint_starts_as_a_fresh_run(tmp_path):
    torch.manual_seed(123)  # whatever the generators did before: the run seeds them
    fresh_model, fresh = run(tmp_path / "fresh")
    torch.manual_seed(456)
    model, resumed = run(tmp_path / "empty", resume=True)
    assert resumed.step_losses == fresh.step_losses and same_weights(model, fresh_model)


def test_storage_is_checked_before_training_starts(tmp_path, monkeypatch):
    calls = []

    def counting_loss(model, batch):
        calls.append(1)
        return loss_fn(model, batch)

    def train_counting(folder):
        torch.manual_seed(0)
        model = nn.Linear(6, 2)
        train(
            model,
            DataLoader(data(), batch_size=8),
            counting_loss,
            torch.optim.AdamW(model.parameters()),
            config=TrainConfig(progress=False),
            output_dir=folder,
        )

    with monkeypatch.context() as patch:
        make_read_only(patch, tmp_path / "ro")
        with pytest.raises(CheckpointError, match="cannot write to the output folder .*ro"):
            train_counting(tmp_path / "ro")
    with monkeypatch.context() as patch:
        patch.setattr(checkpoints, "_free_bytes", lambda directory: 100)
        with pytest.raises(
            CheckpointError, match="not enough free disk space .*full.*the disk has 0.1 kB free"
        ):
            train_counting(tmp_path / "full")
    assert calls == []  # neither started training
    assert not (tmp_path / "full" / ".train.lock").exists()  # and the lock was released
    (tmp_path / "kept").mkdir()
    (tmp_path / "kept" / ".checkpoint-00000003.pt.4242.tmp").write_bytes(b"PK killed write")
    train_counting(tmp_path / "kept")
    assert names(tmp_path / "kept") == ["checkpoint-00000008.pt"]


def test_checkpoints_by_wall_time_keep_the_last_and_the_best(tmp_path, monkeypatch):
    saved = []
    real_save = checkpoints.save_checkpoint

    def spy(path, state):
        saved.append(path.name)
        return real_save(path, state)

    monkeypatch.setattr("course_lib.engine.save_checkpoint", spy)
    run(
        tmp_path / "often",
        config={"checkpoint_minutes": 1e-7, "keep_checkpoints": 1, "best_metric": "train_loss"},
    )
    assert saved[:3] == [
        "checkpoint-00000001.pt",
        "checkpoint-00000002.pt",
        "checkpoint-00000003.pt",
    ]  # every step takes longer than 6 us
    assert names(tmp_path / "often") == [BEST_MODEL_NAME, "checkpoint-00000016.pt"]
    saved.clear()
    run(tmp_path / "rarely", config={"checkpoint_minutes": 60})
    assert [name for name in saved if name != BEST_MODEL_NAME] == ["checkpoint-00000016.pt"]


def test_a_time_budget_shows_minutes_and_ends_at_100_percent(tmp_path, capsys):
    _, result = run(None, config={"epochs": 1000, "max_minutes": 0.002, "progress": True})
    assert result.stopped_by == "time"
    bar = capsys.readouterr().out.strip().splitlines()[-1]
    assert "train: 100%" in bar and "0.0/0.0 min" in bar and "step=" in bar
    assert "1000" not in bar and "?" not in bar
    _, result = run(None, config={"epochs": 2, "max_minutes": 5, "progress": True})
    bar = capsys.readouterr().out.strip().splitlines()[-1]  # done early: the minutes it took
    assert result.stopped_by == "epochs" and "train: 100%" in bar and "0.0/0.0 min" in bar


def test_resuming_with_another_model_loads_nothing_and_says_so(tmp_path):
    folder = tmp_path / "run"
    run(folder, config={"max_steps": 4, "keep_checkpoints": 2, "checkpoint_every": 2})
    torch.manual_seed(5)
    wider = nn.Sequential(nn.Linear(6, 32), nn.ReLU(), nn.Dropout(0.3), nn.Linear(32, 2))
    before = [p.detach().clone() for p in wider.parameters()]
    with pytest.warns(UserWarning, match="does not fit this model"):
        with pytest.raises(
            CheckpointError,
            match="checkpoint-00000004.pt, checkpoint-00000002.pt "
            "could not be used.*Nothing was loaded",
        ):
            train(
                wider,
                DataLoader(data(), batch_size=8),
                loss_fn,
                torch.optim.AdamW(wider.parameters()),
                config=TrainConfig(progress=False),
                output_dir=folder,
                resume=True,
            )
    assert all(torch.equal(a, b) for a, b in zip(before, wider.parameters()))
