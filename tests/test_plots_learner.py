"""Figures of notebooks 04-05 readable at their printed size (issue 27)."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from course_lib.plots import plot_history  # noqa: E402


def test_a_learning_rate_gets_its_own_axis_not_a_flat_line_on_0_1():
    rates = [5e-4 * min(1, s / 10) * (1 - s / 100) for s in range(100)]
    fig = plot_history({"training loss": [3.0] * 100, "learning rate": rates}, x=range(100))
    lr_ax = fig.axes[1]
    low, high = lr_ax.get_ylim()
    assert high < 1e-3 and high >= max(rates)  # the schedule fills its panel
    plt.close(fig)


@pytest.mark.parametrize("values", [[0.0, 0.0], [0.2, 0.9], [0.04, 0.3]])
def test_scores_keep_the_0_1_axis(values):
    fig = plot_history({"val_accuracy": values})
    assert fig.axes[0].get_ylim() == pytest.approx((-0.02, 1.02))
    plt.close(fig)


def test_next_token_distributions_draw_one_labelled_panel_per_setting():
    import torch

    from course_lib.plots import plot_next_token_distributions, unlabelled_parts

    logits = torch.randn(50)
    top_k = logits.masked_fill(logits < logits.topk(5).values[-1], float("-inf"))
    fig = plot_next_token_distributions(
        {"T = 1": logits, "T = 0.5": logits / 0.5, "top-k = 5": top_k},
        [f"tok{i}" for i in range(50)],
        top=8,
    )
    visible = [ax for ax in fig.axes if ax.get_visible()]
    assert len(visible) == 3 and unlabelled_parts(fig) == []
    assert "keeps 5 of 50" in visible[2].get_title()
    bars = [patch.get_height() for patch in visible[2].patches]
    assert len(bars) == 9 and sum(bars) == pytest.approx(1.0)  # the 8 tokens + all others
    assert fig.get_figwidth() <= 8.5 + 1e-9
    plt.close(fig)


def test_next_token_distributions_reject_mismatched_labels():
    import torch

    from course_lib.plots import plot_next_token_distributions

    with pytest.raises(ValueError, match="token labels"):
        plot_next_token_distributions({"T = 1": torch.randn(5)}, ["a", "b"])
