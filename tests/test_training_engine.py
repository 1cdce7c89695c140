"""The training engine: exact resume, accumulation, mixed precision, limits, best checkpoint."""

import warnings

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from course_lib.checkpoints import (
    BEST_MODEL_NAME,
    checkpoint_paths,
    latest_checkpoint,
    load_checkpoint,
    read_checkpoint,
    save_checkpoint,
)
from course_lib.device import check_mixed_precision
from course_lib.engine import TrainConfig, make_accelerator, train, train_step
from course_lib.losses import label_smoothed_cross_entropy
from course_lib.machinery.profiles import PROFILES, training_settings
from course_lib.plots import plot_history
from course_lib.schedules import linear_warmup_schedule

FEATURES, CLASSES = 6, 3


def dataset(n=96, seed=0):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, FEATURES, generator=gen)
    y = (x[:, :3] @ torch.tensor([1.0, -1.0, 0.5])).gt(0).long() + (x[:, 3] > 1).long()
    return TensorDataset(x, y)


def make_model(seed=1, dropout=0.2):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(FEATURES, 32), nn.ReLU(), nn.Dropout(dropout),
                         nn.Linear(32, CLASSES))


def loss_fn(model, batch):
    x, y = batch
    return nn.functional.cross_entropy(model(x), y)


def fresh_run(total_steps=40, dropout=0.2):
    """Model, optimizer and scheduler built the same way each time (as after a restart)."""
    model = make_model(dropout=dropout)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    return model, optimizer, linear_warmup_schedule(optimizer, 5, total_steps)


def quiet(**kwargs):
    return TrainConfig(progress=False, **kwargs)


def assert_same_weights(a: nn.Module, b: nn.Module):
    for (name, x), y in zip(a.state_dict().items(), b.state_dict().values()):
        assert torch.equal(x, y), f"{name} differs"


def full_and_resumed(tmp_path, stop_at, config_kwargs, loader_fn, evaluate=None):
    """The uninterrupted run, and the same run stopped at ``stop_at`` then resumed."""
    model, optimizer, scheduler = fresh_run()
    full = train(model, loader_fn(), loss_fn, optimizer, scheduler, quiet(**config_kwargs),
                 evaluate=evaluate, output_dir=tmp_path / "full")
    first, first_opt, first_sched = fresh_run()
    stopped = train(first, loader_fn(), loss_fn, first_opt, first_sched,
                    quiet(**config_kwargs, max_steps=stop_at), evaluate=evaluate,
                    output_dir=tmp_path / "split")
    assert stopped.stopped_by == "max_steps" and stopped.steps == stop_at
    again, again_opt, again_sched = fresh_run()  # a new process: nothing but the checkpoint
    torch.manual_seed(12345)  # and whatever the generators were doing meanwhile
    resumed = train(again, loader_fn(), loss_fn, again_opt, again_sched, quiet(**config_kwargs),
                    evaluate=evaluate, output_dir=tmp_path / "split", resume=True)
    return (model, full), (again, resumed), (again_opt, optimizer)


# 96 examples in batches of 8, two micro-batches per step: 6 optimizer steps per epoch.
@pytest.mark.parametrize("stop_at", [3, 6, 7, 16])  # mid-epoch, at the boundary, just after
def test_resume_is_bit_identical(tmp_path, stop_at):
    config = {"epochs": 3, "grad_accum_steps": 2, "clip_grad_norm": 0.5, "checkpoint_every": 4}

    def loader():
        return DataLoader(dataset(), batch_size=8, shuffle=True)

    (model, full), (again, resumed), (again_opt, optimizer) = full_and_resumed(
        tmp_path, stop_at, config, loader)
    assert full.steps == resumed.steps == 18 and resumed.stopped_by == "epochs"
    assert resumed.step_losses == full.step_losses  # exactly, step by step
    assert resumed.learning_rates == full.learning_rates
    assert_same_weights(model, again)
    moments = [s["exp_avg"] for s in optimizer.state_dict()["state"].values()]
    resumed_moments = [s["exp_avg"] for s in again_opt.state_dict()["state"].values()]
    assert all(torch.equal(a, b) for a, b in zip(moments, resumed_moments))
    assert resumed.epochs == full.epochs == 3.0


class ShufflingBatches:
    """A plain iterable (not a DataLoader) that reshuffles with torch's generator each pass."""

    def __init__(self, data, batch_size):
        self.data, self.batch_size = data, batch_size

    def __iter__(self):
        order = torch.randperm(len(self.data))
        for i in range(0, len(order), self.batch_size):
            yield self.data[order[i : i + self.batch_size]]


def test_resume_after_a_crash_across_an_epoch_boundary(tmp_path):
    """A run killed mid-epoch 2 resumes from its last checkpoint (in epoch 1)."""
    data = dataset()
    config = quiet(epochs=3, checkpoint_every=5)
    model, optimizer, scheduler = fresh_run()
    full = train(model, ShufflingBatches(data, 16), loss_fn, optimizer, scheduler, config)

    calls = {"n": 0}

    def crashing_loss(model, batch):
        calls["n"] += 1
        if calls["n"] == 9:  # 6 steps per epoch: dies in epoch 2, after the step-5 checkpoint
            raise KeyboardInterrupt
        return loss_fn(model, batch)

    first, first_opt, first_sched = fresh_run()
    with pytest.raises(KeyboardInterrupt):
        train(first, ShufflingBatches(data, 16), crashing_loss, first_opt, first_sched, config,
              output_dir=tmp_path)
    assert [p.name for p in checkpoint_paths(tmp_path)] == ["checkpoint-00000005.pt"]
    again, again_opt, again_sched = fresh_run()
    torch.manual_seed(999)
    resumed = train(again, ShufflingBatches(data, 16), loss_fn, again_opt, again_sched, config,
                    output_dir=tmp_path, resume=True)
    assert resumed.step_losses == full.step_losses
    assert resumed.history == full.history  # one point per epoch, same values
    assert_same_weights(model, again)


def test_resume_skips_a_damaged_latest_checkpoint(tmp_path):
    model, optimizer, scheduler = fresh_run()
    loader = DataLoader(dataset(), batch_size=16)
    train(model, loader, loss_fn, optimizer, scheduler, quiet(epochs=2, checkpoint_every=4,
                                                              keep_checkpoints=3),
          output_dir=tmp_path)
    paths = checkpoint_paths(tmp_path)
    assert [p.name[-6:-3] for p in paths] == ["004", "008", "012"]
    paths[-1].write_bytes(paths[-1].read_bytes()[:1000])
    again, again_opt, again_sched = fresh_run()
    with pytest.warns(UserWarning, match=paths[-1].name):
        resumed = train(again, loader, loss_fn, again_opt, again_sched, quiet(epochs=2),
                        output_dir=tmp_path, resume=True)
    assert resumed.steps == 12 and len(resumed.step_losses) == 12


def gradients_of_one_step(micro_batches, step_loss):
    """The gradients ``train_step`` hands to the optimizer, and the step's reported loss."""
    torch.manual_seed(4)
    model = nn.Linear(micro_batches[0][0].shape[-1], CLASSES)
    optimizer = torch.optim.SGD(model.parameters(), lr=1.0)
    captured = []
    optimizer.register_step_pre_hook(
        lambda opt, *_: captured.append([p.grad.clone() for p in model.parameters()]))
    accelerator = make_accelerator(cpu=True)
    model, optimizer = accelerator.prepare(model, optimizer)
    loss, tokens = train_step(accelerator, model, optimizer, None, step_loss, micro_batches)
    return captured[0], loss, tokens


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_accumulating_4_micro_batches_of_8_equals_one_batch_of_32(seed):
    x, y = dataset(32, seed)[:]
    one, one_loss, _ = gradients_of_one_step([(x, y)], loss_fn)
    four, four_loss, _ = gradients_of_one_step(
        [(x[i : i + 8], y[i : i + 8]) for i in range(0, 32, 8)], loss_fn)
    for a, b in zip(one, four):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
    assert four_loss == pytest.approx(one_loss, rel=1e-6)
    first_only, _, _ = gradients_of_one_step([(x[:8], y[:8])], loss_fn)
    assert not torch.allclose(first_only[0], one[0], rtol=1e-3)  # the comparison can fail


def test_token_sums_weigh_every_token_alike_across_micro_batches():
    """With ``(loss_sum, n_tokens)``, micro-batches holding different numbers of real tokens
    give the gradient of one big batch: a mean over tokens, not a mean of means."""
    gen = torch.Generator().manual_seed(0)
    features = torch.randn(8, 6, FEATURES, generator=gen)
    targets = torch.randint(1, CLASSES, (8, 6), generator=gen)
    targets[:4, 2:] = 0  # the first four rows are mostly padding

    def token_loss(model, batch):
        x, y = batch
        loss_sum = label_smoothed_cross_entropy(model(x), y, ignore_index=0, smoothing=0.1,
                                                reduction="sum")
        return loss_sum, int((y != 0).sum())

    def mean_loss(model, batch):
        x, y = batch
        return label_smoothed_cross_entropy(model(x), y, ignore_index=0, smoothing=0.1)

    whole, whole_loss, tokens = gradients_of_one_step([(features, targets)], token_loss)
    halves = [(features[:4], targets[:4]), (features[4:], targets[4:])]
    split, split_loss, split_tokens = gradients_of_one_step(halves, token_loss)
    assert tokens == split_tokens == int((targets != 0).sum())
    for a, b in zip(whole, split):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
    assert split_loss == pytest.approx(whole_loss, rel=1e-6)
    mean_of_means, _, _ = gradients_of_one_step(halves, mean_loss)
    assert not torch.allclose(mean_of_means[0], whole[0], rtol=1e-3)  # what (sum, n) avoids


def test_accumulation_through_train_matches_bigger_batches():
    results = []
    for batch_size, accum in ((32, 1), (8, 4)):
        model = make_model(dropout=0.0)
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
        result = train(model, DataLoader(dataset(), batch_size=batch_size), loss_fn, optimizer,
                       config=quiet(epochs=2, grad_accum_steps=accum))
        results.append((model, result))
    (big, big_result), (small, small_result) = results
    assert big_result.steps == small_result.steps == 6
    torch.testing.assert_close(big_result.step_losses, small_result.step_losses, rtol=1e-5,
                               atol=1e-6)
    for a, b in zip(big.parameters(), small.parameters()):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)


def test_bf16_autocast_runs_on_cpu_and_leaves_the_model_in_float32():
    seen = []  # (autocast on?, dtype the first layer computed in) at every forward

    def autocast_loss(model, batch):
        return nn.functional.cross_entropy(model(batch[0]).float(), batch[1])

    model, optimizer, scheduler = fresh_run()
    model[0].register_forward_hook(
        lambda module, args, out: seen.append((torch.is_autocast_enabled("cpu"), out.dtype)))
    loader = DataLoader(dataset(), batch_size=16, shuffle=True)
    result = train(model, loader, autocast_loss, optimizer, scheduler,
                   quiet(epochs=4, mixed_precision="bf16"), device="cpu")
    assert len(seen) == 24 and set(seen) == {(True, torch.bfloat16)}
    assert result.history["train_loss"][-1] < 0.8 * result.history["train_loss"][0]
    assert all(p.dtype == torch.float32 for p in model.parameters())
    seen.clear()
    model(torch.randn(2, FEATURES))  # after training: plain float32 again
    assert seen == [(False, torch.float32)]
    seen.clear()  # ... and a later run without mixed precision really runs without it
    train(model, loader, autocast_loss, optimizer, config=quiet(max_steps=1))
    assert seen == [(False, torch.float32)]


def test_mixed_precision_settings_are_checked_without_a_gpu():
    check_mixed_precision("fp16", "cuda")
    check_mixed_precision("bf16", "cpu")
    check_mixed_precision("fp16", "cpu")  # autocast + torch.amp.GradScaler("cpu")
    with pytest.raises(ValueError, match="fp16.*CUDA GPU or the CPU.*bf16"):
        check_mixed_precision("fp16", "mps")
    model, optimizer, _ = fresh_run()
    with pytest.raises(ValueError, match="CUDA GPU or the CPU"):
        train(model, [], loss_fn, optimizer, config=quiet(mixed_precision="fp16"), device="mps")
    with pytest.raises(ValueError, match="mixed_precision"):
        TrainConfig(mixed_precision="fp8")


@pytest.mark.parametrize("profile", PROFILES)
def test_each_profile_s_training_settings_make_a_valid_config(profile):
    settings = training_settings(profile)
    config = TrainConfig(**settings, epochs=2)
    device = "cuda" if profile == "gpu" else "cpu"
    check_mixed_precision(config.mixed_precision, device)
    if profile == "gpu":
        assert config.mixed_precision in ("fp16", "bf16") and config.progress
    else:
        assert config.mixed_precision == "no"


def test_max_steps_time_budget_and_epochs_stop_the_run():
    loader = DataLoader(dataset(), batch_size=16)
    model, optimizer, _ = fresh_run()
    by_steps = train(model, loader, loss_fn, optimizer, config=quiet(epochs=5, max_steps=8))
    assert (by_steps.stopped_by, by_steps.steps, by_steps.epochs) == ("max_steps", 8, 8 / 6)
    assert by_steps.history["step"] == [6, 8]  # end of epoch 1, then the stop
    by_time = train(model, loader, loss_fn, optimizer, config=quiet(epochs=5, max_minutes=1e-9))
    assert (by_time.stopped_by, by_time.steps) == ("time", 1)
    by_epochs = train(model, loader, loss_fn, optimizer, config=quiet(epochs=2))
    assert (by_epochs.stopped_by, by_epochs.steps) == ("epochs", 12)


def test_a_resumed_run_counts_the_minutes_of_the_runs_before_it(tmp_path):
    loader = DataLoader(dataset(), batch_size=16)  # 6 steps per epoch
    model, optimizer, scheduler = fresh_run()
    first = train(model, loader, loss_fn, optimizer, scheduler,
                  quiet(epochs=5, max_steps=4, checkpoint_every=2), output_dir=tmp_path)
    assert first.stopped_by == "max_steps"
    path = latest_checkpoint(tmp_path)
    state = read_checkpoint(path)
    assert 0 < state["progress"]["seconds"] < 60  # the wall time used up to this checkpoint
    state["progress"]["seconds"] = 600.0  # pretend the first run took 10 minutes
    save_checkpoint(path, state)
    for budget, stopped_by, steps in [(5, "time", 5), (60, "epochs", 30)]:
        model, optimizer, scheduler = fresh_run()
        resumed = train(model, loader, loss_fn, optimizer, scheduler,
                        quiet(epochs=5, max_minutes=budget), output_dir=tmp_path, resume=path)
        assert (resumed.stopped_by, resumed.steps) == (stopped_by, steps)
    del state["progress"]["seconds"]  # a checkpoint written before the field existed
    save_checkpoint(path, state)
    model, optimizer, scheduler = fresh_run()
    resumed = train(model, loader, loss_fn, optimizer, scheduler,
                    quiet(epochs=5, max_minutes=5), output_dir=tmp_path, resume=path)
    assert (resumed.stopped_by, resumed.steps) == ("epochs", 30)  # counted from 0 minutes


def test_early_stopping_keeps_the_best_checkpoint(tmp_path):
    model, optimizer, _ = fresh_run()
    scores = iter([0.5, 0.7, 0.6, 0.65, 0.4, 0.9])
    snapshots = {}

    def evaluate(m):
        snapshots[len(snapshots)] = {k: v.clone() for k, v in m.state_dict().items()}
        return {"val_accuracy": next(scores)}

    result = train(model, DataLoader(dataset(), batch_size=16), loss_fn, optimizer,
                   config=quiet(epochs=10, eval_every=2, best_metric="val_accuracy",
                                best_mode="max", early_stopping_patience=3),
                   evaluate=evaluate, output_dir=tmp_path)
    assert result.stopped_by == "early_stopping"
    assert result.history["step"] == [2, 4, 6, 8, 10] and result.steps == 10
    assert result.history["val_accuracy"] == [0.5, 0.7, 0.6, 0.65, 0.4]
    assert result.best_metric == 0.7 and result.best_checkpoint == tmp_path / BEST_MODEL_NAME
    best = make_model()
    stored = load_checkpoint(result.best_checkpoint, best)
    assert stored["step"] == 4 and stored["value"] == 0.7
    for name, value in best.state_dict().items():
        assert torch.equal(value, snapshots[1][name])
    assert not torch.equal(best[0].weight, model[0].weight)  # training went on after it


def test_history_feeds_plot_history_and_tokens_per_second():
    model, optimizer, _ = fresh_run()
    val = DataLoader(dataset(32, seed=5), batch_size=32)

    def evaluate(m):
        x, y = next(iter(val))
        return {"val_loss": loss_fn(m, (x, y)).item()}

    result = train(model, DataLoader(dataset(), batch_size=16), loss_fn, optimizer,
                   config=quiet(epochs=2, eval_every=4), evaluate=evaluate,
                   count_tokens=lambda batch: batch[0].shape[0])
    assert result.history["step"] == [4, 8, 12]
    assert {k: len(v) for k, v in result.history.items()} == {
        "step": 3, "train_loss": 3, "val_loss": 3}
    assert result.history["train_loss"][1] == pytest.approx(sum(result.step_losses[4:8]) / 4)
    assert result.tokens_per_second > 0 and result.seconds > 0
    fig = plot_history(result.history)
    assert fig.axes[0].get_xlabel() == "optimizer step"
    assert list(fig.axes[0].lines[0].get_xdata()) == [4, 8, 12]
    plt.close(fig)


def test_bad_settings_and_diverging_losses_give_advice():
    model, optimizer, _ = fresh_run()
    with pytest.raises(ValueError, match="grad_accum_steps"):
        TrainConfig(grad_accum_steps=0)
    with pytest.raises(ValueError, match="early_stopping_patience needs evaluate"):
        train(model, [], loss_fn, optimizer, config=quiet(early_stopping_patience=2))
    with pytest.raises(FloatingPointError, match="learning rate"):
        train(model, DataLoader(dataset(), batch_size=16),
              lambda m, b: loss_fn(m, b) * float("nan"), optimizer, config=quiet())
    with pytest.raises(ValueError, match="0 tokens"):
        train(model, DataLoader(dataset(), batch_size=16),
              lambda m, b: (loss_fn(m, b) * 0, 0), optimizer, config=quiet())
    with pytest.raises(KeyError, match="best_metric='val_loss'.*val_acc"):
        train(model, DataLoader(dataset(), batch_size=16), loss_fn, optimizer,
              config=quiet(), evaluate=lambda m: {"val_acc": 1.0})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ValueError, match="resume=True needs output_dir"):
            train(model, [], loss_fn, optimizer, config=quiet(), resume=True)


class EpochSeededBatches(torch.utils.data.Sampler):
    """A batch sampler like Module 4's token-budget one: the order of epoch e is seeded by e
    (through ``set_epoch``), not by how many passes this object has made."""

    def __init__(self, n, batch_size, seed=0):
        self.n, self.batch_size, self.seed, self.epoch = n, batch_size, seed, 0

    def set_epoch(self, epoch):
        self.epoch = epoch

    def __iter__(self):
        gen = torch.Generator().manual_seed(self.seed + self.epoch)
        order = torch.randperm(self.n, generator=gen).tolist()
        return iter([order[i : i + self.batch_size] for i in range(0, self.n, self.batch_size)])

    def __len__(self):
        return -(-self.n // self.batch_size)


def test_resume_is_exact_with_a_custom_batch_sampler(tmp_path):
    def loader():
        return DataLoader(dataset(), batch_sampler=EpochSeededBatches(96, 12))

    (model, full), (again, resumed), _ = full_and_resumed(
        tmp_path, 11, {"epochs": 3, "checkpoint_every": 5}, loader)
    assert resumed.step_losses == full.step_losses and full.steps == 24
    assert_same_weights(model, again)
