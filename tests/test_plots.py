"""The plotting standard: every helper draws labelled, correctly scaled figures."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from matplotlib.ticker import MaxNLocator

from course_lib.plots import (
    NOTEBOOK_WIDTH,
    colour_scale,
    human_name,
    plot_attention,
    plot_confusion_matrix,
    plot_distributions,
    plot_history,
    plot_lines,
    plot_matrix,
    unlabelled_parts,
)
from course_lib.report import say, show_benchmark

HISTORY = {
    "train_loss": [2.0, 1.5, 1.2],
    "val_loss": [2.1, 1.7, 1.6],
    "val_accuracy": [0.5, 0.6, 0.7],
}


def every_helper():
    """Each figure helper called with its defaults (plus the arguments it requires)."""
    weights = torch.rand(2, 3, 5, 5).softmax(-1)
    return {
        "plot_attention, one map": lambda: plot_attention(weights[0, 0]),
        "plot_attention, layers x heads": lambda: plot_attention(weights, keys=list("abcde")),
        "plot_history": lambda: plot_history(HISTORY),
        "plot_history, losses only": lambda: plot_history({"train_loss": [3, 2, 1]}),
        "plot_lines": lambda: plot_lines({"a": [1, 2]}, xlabel="x (s)", ylabel="y (m)").figure,
        "plot_matrix": lambda: (
            plot_matrix(np.eye(3), xlabel="j", ylabel="i", colorbar_label="value").figure
        ),
        "plot_confusion_matrix": lambda: (
            plot_confusion_matrix([0, 1, 1], [0, 1, 0], ["neg", "pos"]).figure
        ),
        "plot_distributions": lambda: (
            plot_distributions({"a": [0.1, 0.2], "b": [0.9]}, xlabel="P (0 to 1)").figure
        ),
    }


@pytest.mark.parametrize("name", list(every_helper()))
def test_every_helper_labels_every_axis_and_colour_bar_and_fits_the_notebook(name):
    fig = every_helper()[name]()
    assert unlabelled_parts(fig) == []
    assert fig.get_figwidth() <= NOTEBOOK_WIDTH + 1e-9
    plt.close("all")


def test_unlabelled_parts_catches_a_bare_axis_and_a_bare_colour_bar():
    fig, ax = plt.subplots()
    image = ax.imshow(np.eye(3))
    fig.colorbar(image, ax=ax)
    assert unlabelled_parts(fig) == [
        "axes 0: x axis without a label",
        "axes 0: y axis without a label",
        "axes 1: colour bar without a label",
    ]
    ax.set_xlabel("key")
    ax.set_ylabel("query")
    assert unlabelled_parts(fig) == ["axes 1: colour bar without a label"]
    plt.close(fig)


def test_colour_scales_sequential_from_zero_and_diverging_centred_on_zero():
    cmap, norm = colour_scale(np.array([13.0, 32.0]))
    assert cmap == "viridis" and (norm.vmin, norm.vmax) == (0.0, 32.0)
    cmap, norm = colour_scale(np.array([-0.3, 0.9]))
    assert cmap == "RdBu_r" and (norm.vmin, norm.vmax) == (-0.9, 0.9)
    _, norm = colour_scale(np.array([0.2, 0.5]), cmap="coolwarm")  # asked-for diverging map
    assert (norm.vmin, norm.vmax) == (-0.5, 0.5)
    _, norm = colour_scale(np.array([-0.5, 0.2]), cmap="RdBu_r", vmin=-1, vmax=1)
    assert (norm.vmin, norm.vmax) == (-1, 1)


def test_attention_panels_share_one_scale_and_one_labelled_colour_bar():
    weights = torch.stack([torch.full((4, 4), 0.25), torch.eye(4)])
    fig = plot_attention(weights, titles=["uniform", "identity"])
    images = [image for ax in fig.axes for image in ax.images]
    assert len(images) == 2 and {image.norm.vmax for image in images} == {1.0}
    assert {image.norm.vmin for image in images} == {0.0}
    colour_bars = [ax for ax in fig.axes if hasattr(ax, "_colorbar")]
    assert len(colour_bars) == 1 and colour_bars[0].get_ylabel() == "attention weight"
    plt.close(fig)


def test_signed_matrices_get_a_diverging_map_centred_on_zero():
    table = torch.tensor([[-0.5, 0.2], [0.1, 0.9]])
    image = (
        plot_attention(table, xlabel="dimension", ylabel="position", colorbar_label="value")
        .axes[0]
        .images[0]
    )
    assert image.get_cmap().name == "RdBu_r" and image.get_clim() == pytest.approx((-0.9, 0.9))
    plt.close("all")


def test_masked_cells_are_hatched_not_drawn_as_zero():
    weights = torch.tensor([[1.0, 0.0], [0.5, 0.5]])
    mask = torch.tensor([[False, True], [False, False]])
    fig = plot_attention(weights, mask=mask)
    ax = fig.axes[0]
    (hatched,) = ax.collections
    assert hatched.get_hatch() == "///" and len(hatched.get_paths()) == 1  # one blocked cell
    assert hatched.get_paths()[0].get_extents().bounds == pytest.approx((0.5, -0.5, 1, 1))
    assert any(
        text.get_text() == "masked (blocked)"
        for legend in fig.legends
        for text in legend.get_texts()
    )
    plt.close(fig)
    with pytest.raises(ValueError, match="does not broadcast"):
        plot_attention(weights, mask=torch.zeros(3, dtype=torch.bool))


def test_single_character_tokens_stay_upright_and_legible():
    fig = plot_attention(
        torch.rand(12, 12), keys=list("abcdefghijkl"), queries=list("abcdefghijkl")
    )
    ax = fig.axes[0]
    labels = ax.get_xticklabels()
    assert [t.get_text() for t in labels] == list("abcdefghijkl")
    assert all(t.get_rotation() == 0 and t.get_fontsize() >= 8 for t in labels)
    long_words = ["movie", "dull", "but", "charming", "and", "witty", "overall", "fine"]
    fig = plot_attention(torch.rand(8, 8), keys=long_words)
    fig.canvas.draw()
    words = fig.axes[0].get_xticklabels()
    assert {t.get_text() for t in words if t.get_rotation() == 90} >= {"charming", "overall"}
    boxes = [t.get_window_extent() for t in words]
    assert all(left.x1 <= right.x0 for left, right in zip(boxes, boxes[1:]))  # no overlap
    tokens = ["<bos>", *"abcdefghijkl", "<eos>"]
    mixed = plot_attention(torch.rand(14, 14), keys=tokens).axes[0].get_xticklabels()
    assert [t.get_rotation() for t in mixed] == [90] + [0] * 12 + [90]  # only long tokens turn
    fig = plot_attention(torch.rand(64, 64), cell_size=4.5)  # two-digit positions, thinned
    fig.canvas.draw()
    boxes = [t.get_window_extent() for t in fig.axes[0].get_xticklabels()]
    assert all(left.x1 <= right.x0 for left, right in zip(boxes, boxes[1:]))  # no overlap
    plt.close("all")


def test_many_heads_still_fit_the_notebook_width():
    fig = plot_attention(torch.rand(8, 16, 16).softmax(-1), cell_size=4)
    assert fig.get_figwidth() <= NOTEBOOK_WIDTH + 1e-9
    plt.close(fig)


def test_history_has_human_names_integer_epochs_unit_range_and_baselines():
    fig = plot_history(
        HISTORY, loss_baselines={"uniform guess": 2.3}, metric_baselines={"majority class": 0.5}
    )
    loss_ax, metric_ax = fig.axes
    assert [line.get_label() for line in loss_ax.lines] == [
        "training loss",
        "validation loss",
        "uniform guess",
    ]
    assert loss_ax.lines[-1].get_ydata()[0] == 2.3
    assert loss_ax.get_ylabel() == "cross-entropy loss (nats)"
    assert metric_ax.get_ylabel() == "accuracy"
    assert metric_ax.get_ylim() == pytest.approx((-0.02, 1.02))
    ticks = [t for t in loss_ax.get_xticks() if 1 <= t <= 3]
    assert ticks and all(float(t).is_integer() for t in ticks)
    plt.close(fig)


def test_history_outside_unit_range_keeps_its_own_range_and_names_are_overridable():
    fig = plot_history(
        {"val_perplexity": [30.0, 20.0]},
        names={"val_perplexity": "held-out ppl"},
        metric_label="perplexity (tokens)",
    )
    ax = fig.axes[0]
    assert ax.lines[0].get_label() == "held-out ppl" and ax.get_ylim()[1] < 40
    plt.close(fig)


def test_human_names():
    assert human_name("train_loss") == "training loss"
    assert human_name("val_f1") == "validation macro F1"
    assert human_name("test_exact_match") == "test exact match"


def test_log_axis_marks_underflow_instead_of_drawing_it():
    ax = plot_lines(
        {"vanishing": [1.0, 1e-20, 0.0, 0.0]},
        xlabel="distance (steps)",
        ylabel="gradient norm",
        logy=True,
    )
    line, marks = ax.lines
    assert np.isnan(line.get_ydata()[2:]).all() and list(marks.get_xdata()) == [3, 4]
    assert "below float precision" in marks.get_label()
    plt.close("all")


def test_plot_lines_rejects_mismatched_lengths():
    with pytest.raises(ValueError, match="x has 2"):
        plot_lines({"a": [1, 2, 3]}, [1, 2], xlabel="x", ylabel="y")
    with pytest.raises(ValueError, match="empty"):
        plot_lines({}, xlabel="x", ylabel="y")


def test_confusion_matrix_counts_and_annotates():
    ax = plot_confusion_matrix([0, 0, 1, 1, 1], [0, 1, 1, 1, 0], ["negative", "positive"])
    assert [t.get_text() for t in ax.texts] == ["1", "1", "1", "2"]
    assert ax.get_xlabel() == "predicted class" and ax.get_ylabel() == "true class"
    plt.close("all")
    with pytest.raises(ValueError, match="class names"):
        plot_confusion_matrix([0, 2], [0, 1], ["a", "b"])


def test_say_prints_outside_a_notebook_and_rejects_empty(capsys):
    say("accuracy **0.78**")
    assert capsys.readouterr().out == "accuracy **0.78**\n"
    with pytest.raises(ValueError, match="non-empty"):
        say("  ")


def test_integer_ticks_do_not_replace_a_log_axis():
    from matplotlib.ticker import LogLocator

    ax = plot_lines({"var": [4, 16, 64]}, [4, 16, 64], xlabel="d_k", ylabel="variance", logx=True)
    assert isinstance(ax.xaxis.get_major_locator(), LogLocator)
    ax = plot_lines({"loss": [3, 2, 1]}, xlabel="epoch", ylabel="loss (nats)")
    assert isinstance(ax.xaxis.get_major_locator(), MaxNLocator)
    plt.close("all")


def test_helpers_draw_into_given_axes_of_one_figure():
    fig, axes = plt.subplots(1, 2)
    assert plot_confusion_matrix([0, 1], [0, 1], ["a", "b"], ax=axes[0]) is axes[0]
    assert plot_distributions({"a": [0.5]}, xlabel="p (0 to 1)", ax=axes[1]) is axes[1]
    assert plt.get_fignums() == [fig.number]
    plt.close(fig)


def test_show_benchmark_displays_the_file_or_names_the_script(capsys, tmp_path):
    results = tmp_path / "benchmarks" / "results"
    results.mkdir(parents=True)
    (results / "lm_tokenization.md").write_text("| model | perplexity |\n|---|---:|\n")
    show_benchmark("lm_tokenization.md", root=tmp_path)
    assert capsys.readouterr().out.startswith("| model | perplexity |")
    show_benchmark("translation_table.md", root=tmp_path)
    out = capsys.readouterr().out
    assert "is missing" in out and "benchmarks/translation_table.py --help" in out
    show_benchmark("initial_weights.md")  # the repository's own results are committed
    assert capsys.readouterr().out.startswith("# Why nn.Transformer trails")
