"""Checkpoints: atomic writes, damaged files named in a clear error, exact RNG round trips."""

import random

import numpy as np
import pytest
import torch
from torch import nn

from course_lib.checkpoints import (
    CheckpointError,
    checkpoint_name,
    checkpoint_paths,
    latest_checkpoint,
    load_checkpoint,
    prune_checkpoints,
    read_checkpoint,
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
    with pytest.raises(OSError, match="No space"):
        save_checkpoint(path, full_state(model, optimizer, 2))
    assert path.read_bytes() == before and list(tmp_path.iterdir()) == [path]
    monkeypatch.undo()
    assert read_checkpoint(path)["step"] == 1


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
