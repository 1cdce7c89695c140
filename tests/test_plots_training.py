import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pytest
import torch
from torch import nn

from course_lib.plots import plot_attention, plot_history
from course_lib.training import evaluate_loss, fit, to_device


@pytest.mark.parametrize(
    "shape, grid", [((4, 5), (1, 1)), ((3, 4, 5), (1, 3)), ((2, 3, 4, 5), (2, 3))]
)
def test_plot_attention_draws_layers_by_heads(shape, grid):
    weights = torch.rand(shape).softmax(-1)
    fig = plot_attention(weights, keys=list("abcde"), queries=list("wxyz"))
    heat_axes = [ax for ax in fig.axes if ax.images]
    assert len(heat_axes) == grid[0] * grid[1]
    assert [t.get_text() for t in heat_axes[0].get_xticklabels()] == list("abcde")
    plt.close(fig)


def test_plot_attention_rejects_bad_input():
    with pytest.raises(ValueError, match="weights\\[0\\]"):
        plot_attention(torch.rand(1, 2, 3, 4, 5))
    with pytest.raises(ValueError, match="3 keys labels for 5 keys"):
        plot_attention(torch.rand(4, 5), keys=list("abc"))


def test_plot_history_splits_losses_and_metrics():
    fig = plot_history(
        {"train_loss": [3, 2, 1], "val_loss": [3, 2.5, 2], "val_accuracy": [0.5, 0.6, 0.7]}
    )
    assert len(fig.axes) == 2
    assert len(fig.axes[0].lines) == 2 and len(fig.axes[1].lines) == 1
    plt.close(fig)
    with pytest.raises(ValueError, match="empty"):
        plot_history({})


def regression_problem():
    torch.manual_seed(0)
    x = torch.randn(64, 3)
    y = x @ torch.tensor([1.0, -2.0, 0.5]) + 0.3
    batches = [{"x": x[i : i + 16], "y": y[i : i + 16]} for i in range(0, 64, 16)]
    return batches, lambda model, batch: nn.functional.mse_loss(
        model(batch["x"]).squeeze(-1), batch["y"]
    )


def test_fit_learns_and_records_history():
    batches, loss_fn = regression_problem()
    model = nn.Linear(3, 1)
    before = evaluate_loss(model, batches, loss_fn)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    history = fit(
        model,
        batches,
        loss_fn,
        optimizer,
        epochs=20,
        progress=False,
        clip_grad_norm=5.0,
        evaluate=lambda m: {"val_loss": evaluate_loss(m, batches, loss_fn)},
    )
    assert set(history) == {"train_loss", "val_loss"} and len(history["val_loss"]) == 20
    assert history["val_loss"][-1] < 0.01 * before


def test_fit_early_stopping_keeps_the_best_epoch(monkeypatch, capsys):
    monkeypatch.setenv("COURSE_HEADLESS", "1")  # a text bar on stdout, as in executed copies
    batches, loss_fn = regression_problem()
    model = nn.Linear(3, 1)
    scores = iter([1.0, 0.5, 0.7, 0.9, 0.2, 0.1])  # best at epoch 2, then two worse epochs
    weights = []

    def evaluate(m):
        weights.append(m.weight.detach().clone())
        return {"val_loss": next(scores)}

    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    history = fit(model, batches, loss_fn, optimizer, epochs=6, evaluate=evaluate, patience=2)
    assert history["val_loss"] == [1.0, 0.5, 0.7, 0.9], "stops after 2 epochs without progress"
    assert "4/6" in capsys.readouterr().out, "the bar's last state counts the epochs that ran"
    torch.testing.assert_close(model.weight, weights[1])  # the weights of epoch 2 are back
    with pytest.raises(ValueError, match="early stopping needs"):
        fit(model, batches, loss_fn, optimizer, epochs=2, progress=False, patience=1)
    with pytest.raises(KeyError, match="monitor='val_acc'"):
        fit(model, batches, loss_fn, optimizer, epochs=2, progress=False, patience=1,
            evaluate=lambda m: {"val_loss": 1.0}, monitor="val_acc")


def test_fit_stops_on_non_finite_loss_with_advice():
    batches, _ = regression_problem()
    model = nn.Linear(3, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(FloatingPointError, match="learning rate"):
        fit(
            model,
            batches,
            lambda m, b: m(b["x"]).sum() * float("nan"),
            optimizer,
            1,
            progress=False,
        )
    with pytest.raises(ValueError, match="epochs"):
        fit(model, batches, lambda m, b: m(b["x"]).sum(), optimizer, 0, progress=False)


def test_to_device_walks_nested_batches():
    batch = {"a": torch.zeros(1), "b": [torch.ones(1), 3], "c": (torch.ones(2),)}
    moved = to_device(batch, "meta")
    assert moved["a"].device.type == "meta" and moved["b"][1] == 3
    assert isinstance(moved["c"], tuple) and moved["c"][0].device.type == "meta"
