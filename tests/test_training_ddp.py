"""The same ``train`` call on 2 CPU processes (gloo), launched as a learner would on 2 GPUs."""

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from course_lib.engine import TrainConfig, train

PER_PROCESS_BATCH = 8
PROCESSES = 2


def dataset():
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(96, 5, generator=gen)
    return TensorDataset(x, (x.sum(1) > 0).long())


def make_model():
    torch.manual_seed(1)
    model = nn.Sequential(nn.Linear(5, 16), nn.Tanh(), nn.Linear(16, 2))
    model.temperature = 2.0  # an attribute of the model that loss_fn reads
    return model


def loss_fn(model, batch):
    """Reads ``model.temperature``: under 2 processes ``model`` is a DistributedDataParallel
    wrapper, which must still answer it."""
    x, y = batch
    return nn.functional.cross_entropy(model(x) / model.temperature, y)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def two_process_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("ddp")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join(
        [str(Path(__file__).parents[1]), os.environ.get("PYTHONPATH", "")])}
    command = [sys.executable, "-m", "torch.distributed.run", f"--nproc_per_node={PROCESSES}",
               f"--master_port={free_port()}", str(Path(__file__).with_name("ddp_worker.py")),
               str(out)]
    start = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return out, time.perf_counter() - start


def outputs(out: Path, name: str):
    infos = [json.loads((out / f"{name}-rank{r}.json").read_text()) for r in range(PROCESSES)]
    weights = [torch.load(out / f"{name}-rank{r}.pt", weights_only=True)
               for r in range(PROCESSES)]
    return infos, weights


def single_process_run(epochs: int):
    """One process, batches of 2 x 8: the same global batch as the 2-process run."""
    model = make_model()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    loader = DataLoader(dataset(), batch_size=PROCESSES * PER_PROCESS_BATCH)
    config = TrainConfig(epochs=epochs, grad_accum_steps=2, progress=False)
    return model, train(model, loader, loss_fn, optimizer, config=config, device="cpu")


@pytest.mark.parametrize("name, steps", [("first", 6), ("resumed", 9)])
def test_two_processes_end_with_identical_parameters(two_process_run, name, steps):
    out, seconds = two_process_run
    infos, weights = outputs(out, name)
    assert all(i["processes"] == PROCESSES and i["backend"] == "gloo" for i in infos)
    # 96 examples, 2 processes x batch 8 x 2 micro-batches = 32 per step: 3 steps per epoch
    assert infos[0]["steps"] == infos[1]["steps"] == steps
    assert infos[0]["step_losses"] == infos[1]["step_losses"]  # averaged over processes
    for key, value in weights[0].items():
        assert torch.equal(value, weights[1][key]), key
    print(f"2-process runs: {seconds:.1f} s (launch included)")


def test_only_the_main_process_writes_checkpoints(two_process_run):
    out, _ = two_process_run
    names = sorted(p.name for p in (out / "checkpoints").iterdir())
    assert names == ["checkpoint-00000006.pt", "checkpoint-00000009.pt"]  # no temporary files


@pytest.mark.parametrize("name, epochs", [("first", 2), ("resumed", 3)])
def test_two_processes_match_one_process_with_the_same_global_batch(two_process_run, name,
                                                                    epochs):
    out, _ = two_process_run
    infos, weights = outputs(out, name)
    model, single = single_process_run(epochs)
    # Same examples per step, summed in another order: equal up to float32 rounding.
    torch.testing.assert_close(infos[0]["step_losses"], single.step_losses, rtol=1e-5,
                               atol=1e-6)
    for key, value in model.state_dict().items():
        torch.testing.assert_close(weights[0][key], value, rtol=1e-4, atol=1e-5)
