"""Optimisation for use: int8 quantisation, LoRA merge, measured variants, the table."""

import pytest
import torch
from torch import nn

from course_lib.project.final_project import stand_in_t5, stand_in_tokenizer
from course_lib.project.optimise import (
    markdown_table,
    measure_variant,
    model_size_mb,
    quantize_int8,
)
from course_lib.project.shipping import predict_texts

PAIRS = [(f"ein hund {i} läuft", f"a dog {i} runs") for i in range(30)]


@pytest.fixture(scope="module")
def tiny():
    torch.manual_seed(0)
    tokenizer = stand_in_tokenizer(PAIRS, 90)
    return stand_in_t5(tokenizer, 32, 1, 2, 64, dropout=0.0).eval(), tokenizer


def test_int8_linear_layers_shrink_the_model_and_keep_the_interface(tiny):
    model = nn.Sequential(nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 4)).eval()
    int8 = quantize_int8(model)
    assert model_size_mb(int8) < 0.4 * model_size_mb(model)
    assert isinstance(model[0], nn.Linear)  # the original is left alone
    x = torch.randn(8, 256)
    assert (int8(x) - model(x)).abs().max() < 0.05 * model(x).abs().max()
    t5, tokenizer = tiny
    texts = [s for s, _ in PAIRS[:4]]
    out = predict_texts(texts, quantize_int8(t5), tokenizer, "translation", max_new_tokens=6)
    assert len(out) == 4


def test_cache_and_batching_leave_greedy_predictions_unchanged(tiny):
    model, tokenizer = tiny
    texts = [s for s, _ in PAIRS[:6]] + ["ein sehr langer satz mit vielen wörtern hund"]

    def run(batch_size, **options):
        return predict_texts(
            texts,
            model,
            tokenizer,
            "translation",
            batch_size=batch_size,
            max_new_tokens=8,
            **options,
        )

    reference = run(1, use_cache=False)
    assert run(1) == reference and run(32) == reference


def test_measure_variant_times_scores_and_checks_counts():
    row = measure_variant(
        "upper",
        lambda xs: [x.upper() for x in xs],
        ["a", "b"],
        lambda preds: float(preds == ["A", "B"]),
        size_mb=1.5,
        repeats=2,
    )
    assert row["variant"] == "upper" and row["score"] == 1.0 and row["size MB"] == 1.5
    assert row["ms per text"] > 0 and row["texts per s"] > 0
    with pytest.raises(ValueError, match="1 predictions for 2 texts"):
        measure_variant("short", lambda xs: xs[:1], ["a", "b"], len, 1.0)
    with pytest.raises(ValueError):
        measure_variant("none", list, [], len, 1.0)


def test_markdown_table():
    table = markdown_table(
        [{"variant": "a", "ms": 1.234, "n": 3}, {"variant": "b", "ms": 10.0, "n": 4}],
        ["variant", "ms"],
    )
    assert table.splitlines() == ["| variant | ms |", "|---|---|", "| a | 1.23 |", "| b | 10.00 |"]
    with pytest.raises(ValueError):
        markdown_table([])
