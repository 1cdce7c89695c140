"""Checkpoints: atomic writes, damaged files named in a clear error, exact RNG round trips."""

import os
import random
import shutil
import socket
import subprocess
import sys

import numpy as np
import pytest
import torch
from torch import nn

from course_lib import checkpoints
from course_lib.checkpoints import (
    CheckpointError,
    FolderLock,
    check_free_space,
    checkpoint_bytes,
    checkpoint_name,
    checkpoint_paths,
    latest_checkpoint,
    load_checkpoint,
    prune_checkpoints,
    read_checkpoint,
    remove_temporary_files,
    rng_state,
    save_checkpoint,
    set_rng_state,
)


def model_and_optimizer(seed=0):
    torch.manual_seed(seed)
    model = nn.Linear(20, 30)
    optimizer = torch.optim.AdamW(model.parameters(), lr=0.1)
    model(torch.randn(4, 20)).sum().backward()
    optimizer.step()  # so the optimizer has moment tensors to save
    return model, optimizer


def full_state(model, optimizer, step):
    return {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "step": step}


def two_checkpoints(tmp_path):
    model, optimizer = model_and_optimizer(0)
    first = save_checkpoint(tmp_path / checkpoint_name(10), full_state(model, optimizer, 10))
    later, later_optimizer = model_and_optimizer(1)
    second = save_checkpoint(tmp_path / checkpoint_name(20),
                             full_state(later, later_optimizer, 20))
    return model, first, second


def test_round_trip_restores_model_and_optimizer(tmp_path):
    model, optimizer = model_and_optimizer(0)
    path = save_checkpoint(tmp_path / "sub" / "c.pt", full_state(model, optimizer, 7))
    fresh, fresh_optimizer = model_and_optimizer(5)
    state = load_checkpoint(path, fresh, fresh_optimizer)
    assert state["step"] == 7
    for a, b in zip(model.state_dict().values(), fresh.state_dict().values()):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    moments = fresh_optimizer.state_dict()["state"][0]["exp_avg"]
    torch.testing.assert_close(moments, optimizer.state_dict()["state"][0]["exp_avg"])
    assert list(tmp_path.joinpath("sub").iterdir()) == [path]  # no temporary file left


@pytest.mark.parametrize("damage", ["truncate", "flip_tensor_bytes", "flip_header", "empty"])
def test_damaged_checkpoint_is_named_and_the_previous_one_still_loads(tmp_path, damage):
    model, first, second = two_checkpoints(tmp_path)
    data = bytearray(second.read_bytes())
    if damage == "truncate":
        data = data[: len(data) // 2]
    elif damage == "flip_tensor_bytes":  # the middle of the file is weight data
        data[len(data) // 2] ^= 0xFF
    elif damage == "flip_header":
        data[100] ^= 0xFF
    else:
        data = b""
    second.write_bytes(bytes(data))
    fresh, _ = model_and_optimizer(3)
    with pytest.raises(CheckpointError, match=str(second.name)) as error:
        load_checkpoint(second, fresh)
    assert "earlier checkpoint" in str(error.value)
    assert load_checkpoint(first, fresh)["step"] == 10
    torch.testing.assert_close(fresh.weight, model.weight, rtol=0, atol=0)


def test_a_failed_write_leaves_the_previous_file_intact(tmp_path, monkeypatch):
    model, optimizer = model_and_optimizer(0)
    path = save_checkpoint(tmp_path / "c.pt", full_state(model, optimizer, 1))
    before = path.read_bytes()

    def crash_mid_write(obj, file, *args, **kwargs):
        file.write(b"PK\x03\x04 half a checkpoint")
        raise OSError("No space left on device")

    monkeypatch.setattr(torch, "save", crash_mid_write)
    with pytest.raises(CheckpointError, match="could not write the checkpoint .*c.pt.*No space"):
        save_checkpoint(path, full_state(model, optimizer, 2))
    assert path.read_bytes() == before and list(tmp_path.iterdir()) == [path]
    monkeypatch.undo()
    assert read_checkpoint(path)["step"] == 1


@pytest.mark.parametrize("failure", ["dev_full", "inline_container"])
def test_a_full_disk_gives_a_clear_checkpoint_error(tmp_path, monkeypatch, failure):
    """A real ENOSPC (the write goes to /dev/full), and torch's own wording of it."""
    model, optimizer = model_and_optimizer(0)
    if failure == "dev_full":
        real_open = open
        monkeypatch.setattr(checkpoints, "open", lambda path, mode="r", *args, **kwargs: real_open(
            "/dev/full" if str(path).endswith(".tmp") else path, mode, *args, **kwargs),
            raising=False)
    else:
        def torch_save_fails(*args, **kwargs):
            raise RuntimeError("[enforce fail at inline_container.cc:664] . unexpected pos 64 "
                               "vs 0")
        monkeypatch.setattr(torch, "save", torch_save_fails)
    with pytest.raises(CheckpointError, match=r"c\.pt.*free some space.*previous checkpoints "
                                              "are intact") as error:
        save_checkpoint(tmp_path / "c.pt", full_state(model, optimizer, 1))
    assert "MB free" in str(error.value) and list(tmp_path.iterdir()) == []


def test_missing_file_and_wrong_model_give_clear_errors(tmp_path):
    model, optimizer = model_and_optimizer(0)
    with pytest.raises(FileNotFoundError, match="no checkpoint file"):
        load_checkpoint(tmp_path / "nothing.pt", model)
    path = save_checkpoint(tmp_path / "c.pt", {"model": model.state_dict()})
    with pytest.raises(CheckpointError, match="does not fit this model"):
        load_checkpoint(path, nn.Linear(20, 31))
    with pytest.raises(CheckpointError, match="no optimizer state"):
        load_checkpoint(path, model, optimizer)
    torch.save([1, 2], tmp_path / "list.pt")
    with pytest.raises(CheckpointError, match="not a dict"):
        read_checkpoint(tmp_path / "list.pt")


class Sneaky:
    """An arbitrary object: weights_only loading refuses to unpickle it."""


def test_only_weights_load_no_pickled_code(tmp_path):
    torch.save({"model": {}, "extra": Sneaky()}, tmp_path / "c.pt")
    with pytest.raises(CheckpointError, match="cannot be read"):
        read_checkpoint(tmp_path / "c.pt")


def test_listing_and_pruning_by_step(tmp_path):
    for step in (5, 100, 20):
        save_checkpoint(tmp_path / checkpoint_name(step), {"step": step})
    (tmp_path / "best_model.pt").write_bytes(b"")
    (tmp_path / "checkpoint-notes.pt").write_bytes(b"")
    assert [p.name for p in checkpoint_paths(tmp_path)] == [
        checkpoint_name(5), checkpoint_name(20), checkpoint_name(100)]
    assert latest_checkpoint(tmp_path).name == checkpoint_name(100)
    prune_checkpoints(tmp_path, keep=2)
    assert [read_checkpoint(p)["step"] for p in checkpoint_paths(tmp_path)] == [20, 100]
    assert latest_checkpoint(tmp_path / "missing") is None


def test_rng_state_round_trips_through_a_file(tmp_path):
    random.seed(1), np.random.seed(2), torch.manual_seed(3)
    random.random(), np.random.normal(), torch.rand(3)  # noqa: B018 (advance the generators)
    save_checkpoint(tmp_path / "rng.pt", {"rng": rng_state()})
    expected = (random.random(), np.random.normal(), torch.rand(3))
    random.seed(9), np.random.seed(9), torch.manual_seed(9)
    set_rng_state(read_checkpoint(tmp_path / "rng.pt")["rng"])
    got = (random.random(), np.random.normal(), torch.rand(3))
    assert got[:2] == expected[:2] and torch.equal(got[2], expected[2])


def test_grad_scaler_state_round_trips(tmp_path):
    scaler = torch.amp.GradScaler("cpu", init_scale=1024.0)
    scaler.scale(torch.ones(()))  # the scale exists once used
    scaler.update(new_scale=256.0)
    save_checkpoint(tmp_path / "c.pt", {"scaler": scaler.state_dict()})
    fresh = torch.amp.GradScaler("cpu")
    load_checkpoint(tmp_path / "c.pt", scaler=fresh)
    assert fresh.get_scale() == 256.0


def test_loading_is_all_or_nothing(tmp_path):
    """A checkpoint of another shape (here: the first layer only differs) leaves the model
    untouched; an optimizer state that does not load rolls back the scheduler loaded first."""
    torch.manual_seed(0)
    stored = nn.Sequential(nn.Linear(4, 8), nn.Linear(8, 2))
    path = save_checkpoint(tmp_path / "c.pt", {"model": stored.state_dict()})
    other = nn.Sequential(nn.Linear(4, 8), nn.Linear(8, 3))
    before = {k: v.clone() for k, v in other.state_dict().items()}
    with pytest.raises(CheckpointError, match=r"2 differences: 1.weight: stored \(2, 8\) "
                                              r"torch.float32, model \(3, 8\).*left unchanged"):
        load_checkpoint(path, other)
    assert all(torch.equal(before[k], v) for k, v in other.state_dict().items())
    with pytest.raises(CheckpointError, match="0.weight: stored .* torch.float32, model .* "
                                              "torch.float64"):
        load_checkpoint(path, nn.Sequential(nn.Linear(4, 8), nn.Linear(8, 2)).double())

    model, optimizer = model_and_optimizer(0)
    state = full_state(model, optimizer, 1)
    state["scheduler"] = {"step_size": 99, "last_epoch": 7}
    state["scaler"] = {}  # an empty scaler state: GradScaler refuses it, after the others
    path = save_checkpoint(tmp_path / "bad_scaler.pt", state)
    fresh, fresh_optimizer = model_and_optimizer(5)
    fresh_scheduler = torch.optim.lr_scheduler.StepLR(fresh_optimizer, 1)
    moments = fresh_optimizer.state_dict()["state"][0]["exp_avg"].clone()
    weight = fresh.weight.clone()
    with pytest.raises(CheckpointError, match="does not fit this scaler.*nothing was loaded"):
        load_checkpoint(path, fresh, fresh_optimizer, fresh_scheduler,
                        torch.amp.GradScaler("cpu"))
    assert torch.equal(fresh.weight, weight) and fresh_scheduler.step_size == 1
    assert fresh_scheduler.last_epoch == 0
    assert torch.equal(fresh_optimizer.state_dict()["state"][0]["exp_avg"], moments)
    assert not torch.equal(moments, optimizer.state_dict()["state"][0]["exp_avg"])
    state["optimizer"]["param_groups"].append(dict(state["optimizer"]["param_groups"][0]))
    path = save_checkpoint(tmp_path / "bad_optimizer.pt", state)
    with pytest.raises(CheckpointError, match="does not fit this optimizer"):
        load_checkpoint(path, fresh, fresh_optimizer)
    assert torch.equal(fresh.weight, weight)


def test_the_folder_lock_refuses_a_live_holder_and_takes_over_a_dead_one(tmp_path, capsys):
    first = FolderLock(tmp_path / "run")
    first.acquire()
    assert (tmp_path / "run" / ".train.lock").read_text().split()[0] == str(os.getpid())
    with pytest.raises(CheckpointError, match=f"another training \\(process {os.getpid()}\\) "
                                              "is using the folder .*run"):
        FolderLock(tmp_path / "run").acquire()
    first.release()
    assert not (tmp_path / "run" / ".train.lock").exists()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()  # a finished process: its pid holds no lock any more
    (tmp_path / "run" / ".train.lock").write_text(f"{dead.pid} {socket.gethostname()}\n")
    second = FolderLock(tmp_path / "run")
    second.acquire()
    assert f"stale lock of {tmp_path / 'run'} (process {dead.pid}" in capsys.readouterr().out
    second.release()


def make_read_only(monkeypatch, folder):
    """Create ``folder`` and refuse to create files in it, as a read-only disk does (simulated
    through ``os.open``: this suite may run as root, who can write anywhere)."""
    folder.mkdir()
    real_open = os.open

    def read_only(path, flags, *args):
        if str(path).startswith(str(folder)) and flags & os.O_CREAT:
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, flags, *args)

    monkeypatch.setattr(os, "open", read_only)


def test_an_unwritable_folder_fails_when_the_lock_is_taken(tmp_path, monkeypatch):
    """Before any training: a read-only folder and a path below a file."""
    make_read_only(monkeypatch, tmp_path / "ro")
    with pytest.raises(CheckpointError, match="cannot write to the output folder .*ro.*"
                                              "Permission denied.*read-only"):
        FolderLock(tmp_path / "ro").acquire()
    (tmp_path / "file").write_text("")
    with pytest.raises(CheckpointError, match="cannot write to the output folder"):
        FolderLock(tmp_path / "file" / "run").acquire()


def test_temporary_files_of_killed_writes_are_removed(tmp_path):
    save_checkpoint(tmp_path / checkpoint_name(3), {"step": 3})
    left = [tmp_path / ".checkpoint-00000004.pt.123.tmp", tmp_path / ".best_model.pt.9.tmp"]
    for path in left:
        path.write_bytes(b"PK half")
    (tmp_path / "notes.tmp").write_text("not ours")
    assert remove_temporary_files(tmp_path) == sorted(left)
    assert sorted(p.name for p in tmp_path.iterdir()) == [checkpoint_name(3), "notes.tmp"]


def test_checkpoint_weight_and_free_space(tmp_path, monkeypatch):
    torch.manual_seed(0)
    model = nn.Linear(200, 300)  # 60,300 float32 weights: 241,200 bytes
    optimizer = torch.optim.AdamW(model.parameters())
    estimate = checkpoint_bytes(model, optimizer)  # before the first step: Adam's 2 moments
    assert checkpoint_bytes(model) == 241_200 and estimate == 3 * 241_200
    model(torch.randn(2, 200)).sum().backward()
    optimizer.step()
    assert checkpoint_bytes(model, optimizer) == estimate + 2 * 4  # + the step counters
    path = save_checkpoint(tmp_path / "c.pt", full_state(model, optimizer, 1))
    assert estimate < path.stat().st_size < estimate * 1.05  # the file: tensors + a header
    check_free_space(tmp_path, estimate)
    monkeypatch.setattr(checkpoints.shutil, "disk_usage",
                        lambda path: shutil._ntuple_diskusage(10**9, 10**9 - 10**5, 10**5))
    with pytest.raises(CheckpointError, match=r"need about 0.7 MB, the disk has 0.1 MB free"):
        check_free_space(tmp_path, estimate)
