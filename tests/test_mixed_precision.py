"""Mixed precision really on: fp16 autocast + grad scaler on the CPU (as on a GPU) in ``fit``,
``train_language_model`` and ``train``; overflowing steps skipped, a diverged run stopped,
the scaler's state resumed exactly; ``safe_mixed_precision`` for models that overflow."""

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from course_lib.checkpoints import latest_checkpoint, read_checkpoint
from course_lib.device import MAX_NONFINITE_STEPS, check_mixed_precision, safe_mixed_precision
from course_lib.engine import TrainConfig, train
from course_lib.language_model import LSTMLanguageModel, train_language_model
from course_lib.schedules import linear_warmup_schedule
from course_lib.training import fit


def data(n=128, seed=0):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 8, generator=gen)
    return TensorDataset(x, (x[:, :4].sum(1) > 0).long())


def make_model(seed=1):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 2))


def loss_fn(model, batch):
    x, y = batch
    return nn.functional.cross_entropy(model(x).float(), y)


def overflowing_at(calls_that_overflow):
    """``loss_fn`` whose loss is inf at the given calls (counted from 1), as when fp16
    activations overflow; returns the function and its call counter."""
    calls = {"n": 0}

    def loss(model, batch):
        calls["n"] += 1
        value = loss_fn(model, batch)
        return value * float("inf") if calls["n"] in calls_that_overflow else value

    return loss, calls


def record_first_layer(model):
    seen = []
    model[0].register_forward_hook(
        lambda module, args, out: seen.append((torch.is_autocast_enabled("cpu"), out.dtype))
    )
    return seen


def test_fit_in_fp16_autocasts_learns_and_skips_an_overflowing_step():
    model = make_model()
    seen = record_first_layer(model)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    scheduler = linear_warmup_schedule(optimizer, 2, 40)
    loss, _ = overflowing_at({3})
    before_step_3 = {}

    def snapshot(opt, *_):
        before_step_3.setdefault(
            len(before_step_3), [p.detach().clone() for p in model.parameters()]
        )

    optimizer.register_step_pre_hook(snapshot)
    history = fit(
        model,
        DataLoader(data(), batch_size=16),
        loss,
        optimizer,
        5,
        scheduler=scheduler,
        progress=False,
        mixed_precision="fp16",
    )
    assert set(seen) == {(True, torch.float16)} and len(seen) == 40
    # the overflowing 3rd batch never reached the optimizer: 39 steps, and the scheduler
    # (stepped only after real steps) is one short of the 40 batches
    assert len(before_step_3) == 39 and scheduler.last_epoch == 39
    assert all(p.dtype == torch.float32 for p in model.parameters())
    assert all(torch.isfinite(p).all() for p in model.parameters())
    assert history["train_loss"][-1] < 0.6 * history["train_loss"][0]


def test_fit_stops_after_too_many_non_finite_steps_in_a_row_and_says_so():
    model = make_model()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    first_weight = model[0].weight.detach().clone()
    loss, calls = overflowing_at(set(range(2, 1000)))
    with pytest.raises(
        FloatingPointError,
        match=f"{MAX_NONFINITE_STEPS} optimizer steps in a row were skipped.*bf16",
    ):
        fit(
            model,
            DataLoader(data(), batch_size=2),
            loss,
            optimizer,
            10,
            progress=False,
            mixed_precision="fp16",
        )
    assert calls["n"] == 1 + MAX_NONFINITE_STEPS  # one good step, then the limit
    assert not torch.equal(model[0].weight, first_weight)  # the good step was taken
    assert torch.isfinite(model[0].weight).all()  # no skipped step touched the weights
    with pytest.raises(FloatingPointError, match="training loss became inf"):  # fp32: at once
        fit(
            model,
            DataLoader(data(), batch_size=2),
            overflowing_at({1})[0],
            optimizer,
            1,
            progress=False,
        )


def test_train_language_model_passes_mixed_precision_on():
    model = LSTMLanguageModel(8, 8, 16)
    seen = []
    model.rnn.embedding.register_forward_hook(
        lambda module, args, out: seen.append(torch.is_autocast_enabled("cpu"))
    )
    tokens = torch.arange(8).repeat(40)
    loss = train_language_model(model, tokens, 30, 8, 4, 1e-2, mixed_precision="bf16")
    assert seen[:10] == [True] * 10 and seen[-1] is False  # held-out loss in float32
    assert 0 < loss < 2.2


def fp16_run(output_dir, overflow_at=(3,), resume=False, **config):
    model = make_model()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    scheduler = linear_warmup_schedule(optimizer, 3, 24)
    loss, _ = overflowing_at(set(overflow_at))
    result = train(
        model,
        DataLoader(data(), batch_size=16, shuffle=True),
        loss,
        optimizer,
        scheduler,
        TrainConfig(progress=False, mixed_precision="fp16", **config),
        output_dir=output_dir,
        resume=resume,
        device="cpu",
    )
    return model, result


def test_train_in_fp16_skips_overflow_and_resumes_the_scaler_exactly(tmp_path):
    model, full = fp16_run(tmp_path / "full", epochs=3, checkpoint_every=5)
    assert full.steps == 24 and full.stopped_by == "epochs"
    assert full.step_losses[2] == float("inf")  # the skipped step, recorded as it was
    assert full.history["train_loss"][-1] < 0.75 * full.history["train_loss"][0]
    assert all(torch.isfinite(p).all() for p in model.parameters())
    scaler = read_checkpoint(latest_checkpoint(tmp_path / "full"))["scaler"]
    assert scaler["scale"] == 2.0**15 and scaler["_growth_tracker"] == 21  # halved once

    first, stopped = fp16_run(tmp_path / "split", epochs=3, checkpoint_every=5, max_steps=10)
    assert stopped.steps == 10
    again, resumed = fp16_run(
        tmp_path / "split", overflow_at=(), epochs=3, checkpoint_every=5, resume=True
    )  # the overflow happened before the stop
    assert resumed.step_losses == full.step_losses
    for a, b in zip(model.state_dict().values(), again.state_dict().values()):
        assert torch.equal(a, b)
    assert read_checkpoint(latest_checkpoint(tmp_path / "split"))["scaler"] == scaler
    model_probe = make_model()  # and the forward pass really runs in float16
    seen = record_first_layer(model_probe)
    train(
        model_probe,
        DataLoader(data(), batch_size=16),
        loss_fn,
        torch.optim.SGD(model_probe.parameters(), lr=0.1),
        config=TrainConfig(progress=False, mixed_precision="fp16", max_steps=2),
        device="cpu",
    )
    assert seen == [(True, torch.float16)] * 2


def test_train_stops_after_too_many_skipped_steps(tmp_path):
    with pytest.raises(FloatingPointError, match=f"{MAX_NONFINITE_STEPS} optimizer steps in a row"):
        fp16_run(None, overflow_at=range(1, 1000), epochs=20)


def test_safe_mixed_precision_picks_bf16_or_fp32_for_models_that_overflow(monkeypatch):
    assert safe_mixed_precision("fp16", "cpu", overflows_in_fp16=True) == "bf16"
    assert safe_mixed_precision("fp16", "cpu") == "fp16"
    assert safe_mixed_precision("no", "cuda", overflows_in_fp16=True) == "no"
    assert safe_mixed_precision("bf16", "cpu", overflows_in_fp16=True) == "bf16"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    for native, expected in ((False, "no"), (True, "bf16")):  # a T4, then an A100
        monkeypatch.setattr(
            torch.cuda, "is_bf16_supported", lambda including_emulation=True, native=native: native
        )
        assert safe_mixed_precision("fp16", "cuda", overflows_in_fp16=True) == expected
        assert safe_mixed_precision("fp16", torch.device("cuda"), False) == "fp16"
    with pytest.raises(ValueError, match="mixed_precision must be one of"):
        safe_mixed_precision("fp32", "cpu")
    check_mixed_precision("fp16", "cpu")  # torch has fp16 autocast and a grad scaler there
    with pytest.raises(ValueError, match="on mps use 'bf16' or 'no'"):
        check_mixed_precision("fp16", "mps")
