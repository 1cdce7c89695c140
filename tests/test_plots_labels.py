"""The axis and colour-bar labels Module 4 passes to the shared plots reach the figure."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import torch

from course_lib.plots import plot_attention, plot_history


def test_colorbar_label_and_metric_label():
    fig = plot_attention(torch.rand(2, 3, 3), colorbar_label="attention weight")
    assert fig.axes[-1].get_ylabel() == "attention weight"
    plt.close(fig)
    fig = plot_attention(torch.rand(3, 3))
    assert fig.axes[-1].get_ylabel() == ""
    plt.close(fig)
    fig = plot_history({"cached": [0.1, 0.2]}, x=[8, 16], metric_label="time (s)")
    assert fig.axes[0].get_ylabel() == "time (s)"
    plt.close(fig)
