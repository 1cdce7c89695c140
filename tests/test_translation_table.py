"""benchmarks/translation_table.py: the models it compares, the throughput ratio, the file."""

from __future__ import annotations

import pytest
import torch

from course_lib.data import load_multi30k
from course_lib.machinery.profiles import sizes_for
from course_lib.translation import bucketed_loader, tokenize_pairs, tokenizer_for_pairs


@pytest.fixture(scope="module")
def table(load_script):
    return load_script("benchmarks/translation_table.py")


def test_the_two_transformers_have_the_same_size(table):
    sizes = sizes_for(4, "cpu")["translation"]
    models = table.build_models(8000, sizes)
    assert list(models) == [table.LSTM_NO_ATTENTION, table.LSTM_ATTENTION, table.FROM_SCRATCH,
                            table.TORCH]
    count = {n: sum(p.numel() for p in m.parameters()) for n, m in models.items()}
    # nn.Transformer adds a final LayerNorm to each stack (2 x 2 x d_model), nothing else
    assert count[table.TORCH] - count[table.FROM_SCRATCH] == 4 * sizes["d_model"]


def test_throughput_ratio_and_markdown(table):
    sizes = sizes_for(4, "ci")["translation"]
    pairs = load_multi30k("train")[:200]
    tokenizer = tokenizer_for_pairs(pairs, sizes["vocab_size"])
    loader = bucketed_loader(tokenize_pairs(tokenizer, pairs), sizes["batch_tokens"])
    torch.manual_seed(0)
    speed = table.throughput_ratio(table.build_models(600, sizes), loader, steps=2)
    assert speed["ratio"] == pytest.approx(
        speed["from_scratch_tokens_per_s"] / speed["torch_tokens_per_s"]
    )
    assert speed["from_scratch_tokens_per_s"] > 0 and speed["timed_steps"] == 2
    row = {"model": table.FROM_SCRATCH, "parameters": 6_000_000, "steps": 10,
           "tokens_per_s": 1234.0, "load_during_training": 3.0, "bleu_greedy": 30.04,
           "bleu_beam": 31.16}
    report = {
        "machine": table.machine(), "rows": [row, {**row, "model": "x", "bleu_beam": None}],
        "budget": {"profile": "cpu", "minutes_per_model": 10, "train_pairs": 29000,
                   "test_pairs": 1000, "vocab_size": 8000, "max_tokens": 4096, "beam_size": 4},
        "throughput": speed, "load_before": 1.0, "load_after": 2.0, "unfinished": [],
    }
    text = table.to_markdown(report)
    assert "--profile cpu --minutes 10" in text and "torch " + torch.__version__ in text
    assert "| 6.0M | 10 | 1,234 | 3.0 | 30.0 | 31.2 |" in text
    assert "| x | 6.0M | 10 | 1,234 | 3.0 | 30.0 |  |" in text
    for name, bleu in table.PUBLISHED:
        assert f"| {name} | {bleu} |" in text
    assert "Not finished" not in text
    partial = table.to_markdown({**report, "throughput": None, "unfinished": ["throughput"]})
    assert "not measured yet" in partial
    assert "Not finished when the run stopped: throughput" in partial


def test_resume_keeps_finished_rows_of_the_same_budget_only(table, tmp_path):
    budget = {"profile": "cpu", "minutes_per_model": 12, "train_pairs": 29000,
              "test_pairs": 1000, "vocab_size": 8000, "max_tokens": 4096, "beam_size": 4}
    earlier = {"machine": {"date_utc": "2026-11-23 15:42 UTC"}, "budget": budget,
               "rows": [{"model": table.FROM_SCRATCH}], "throughput": None,
               "unfinished": [table.TORCH, "throughput"], "load_before": 1.2}
    (tmp_path / "translation_table.json").write_text(__import__("json").dumps(earlier))
    fresh = {"machine": {"date_utc": "2026-11-23 16:30 UTC"}, "budget": dict(budget),
             "rows": [], "throughput": None, "unfinished": [table.FROM_SCRATCH, table.TORCH,
                                                            "throughput"], "load_before": 0.5}
    report = table.resumed(fresh, tmp_path / "translation_table.json")
    assert report["rows"] == earlier["rows"] and report["unfinished"] == [table.TORCH, "throughput"]
    assert report["machine"]["date_utc"] == "2026-11-23 15:42 UTC"
    assert report["resumed"] == ["2026-11-23 16:30 UTC"]
    redone = table.resumed(fresh, tmp_path / "translation_table.json", (table.FROM_SCRATCH,))
    assert redone["rows"] == [] and redone["unfinished"] == [table.TORCH, "throughput",
                                                             table.FROM_SCRATCH]
    shown = {**redone, "machine": table.machine(), "load_after": 1.0,
             "by_resume": [table.FROM_SCRATCH]}
    assert (f"2026-11-23 16:30 UTC, on the same machine: {table.FROM_SCRATCH}."
            in table.to_markdown(shown))
    assert "Measured by `--resume`" not in table.to_markdown({**shown, "by_resume": []})
    with pytest.raises(SystemExit, match="another budget"):
        table.resumed({**fresh, "budget": {**budget, "minutes_per_model": 10}},
                      tmp_path / "translation_table.json")
    with pytest.raises(SystemExit, match="does not exist"):
        table.resumed(fresh, tmp_path / "missing.json")
