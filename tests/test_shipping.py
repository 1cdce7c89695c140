"""Shipping: safetensors + model card + usage file; a fresh process reproduces a prediction."""

import json
import subprocess

import pytest
import torch
from torch.utils.data import DataLoader

from course_lib.final_project import Seq2SeqBatches, seq2seq_loss, stand_in_t5, stand_in_tokenizer
from course_lib.shipping import (
    ModelCard,
    load_for_use,
    predict,
    reproduce_in_fresh_process,
    save_for_use,
)
from course_lib.training import fit

PAIRS = [(f"zahl {a} plus {b}", f"number {a} plus {b}") for a in range(6) for b in range(6)]


def card(**changes) -> ModelCard:
    fields = dict(
        title="Tiny translator",
        task="translation",
        model="T5 from a config",
        data="36 generated pairs",
        metrics={"bleu": 12.5},
        baseline={"bleu": 3.25},
        limits=["toy vocabulary only"],
        baseline_name="copy the source",
        training="3 epochs on a CPU",
    )
    return ModelCard(**{**fields, **changes})


@pytest.fixture(scope="module")
def trained():
    """A tiny T5 trained for a moment on a toy translation task, and its tokenizer."""
    torch.manual_seed(0)
    tokenizer = stand_in_tokenizer(PAIRS, 80)
    model = stand_in_t5(tokenizer, d_model=32, num_layers=1, num_heads=2, d_ff=64, dropout=0.0)
    loader = DataLoader(PAIRS, batch_size=12, shuffle=True, collate_fn=Seq2SeqBatches(tokenizer))
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    fit(model, loader, seq2seq_loss, optimizer, epochs=4, progress=False)
    return model.eval(), tokenizer


def test_model_card_has_data_metrics_baseline_and_limits():
    text = card().to_markdown()
    assert text.startswith("# Tiny translator")
    for part in (
        "## Data",
        "36 generated pairs",
        "| this model | 12.50 |",
        "| baseline: copy the source | 3.25 |",
        "## Limits",
        "- toy vocabulary only",
        "load_for_use",
    ):
        assert part in text


def test_predict_wants_a_list_and_a_known_task(trained):
    model, tokenizer = trained
    with pytest.raises(TypeError, match="list of texts"):
        predict("zahl 1 plus 2", model, tokenizer, "translation")
    with pytest.raises(ValueError, match="Unknown task"):
        predict(["zahl 1 plus 2"], model, tokenizer, "poetry")
    batched = predict(
        [s for s, _ in PAIRS[:5]], model, tokenizer, "translation", max_new_tokens=8, batch_size=2
    )
    assert len(batched) == 5 and all(isinstance(p, str) for p in batched)


def test_save_writes_safetensors_card_and_usage(trained, tmp_path):
    model, tokenizer = trained
    folder = save_for_use(
        tmp_path / "ship",
        model,
        tokenizer,
        card(),
        "zahl 2 plus 3",
        generation={"max_new_tokens": 8},
    )
    assert (folder / "model.safetensors").is_file() and not list(folder.glob("*.bin"))
    usage = json.loads((folder / "usage.json").read_text())
    expected = predict(["zahl 2 plus 3"], model, tokenizer, "translation", max_new_tokens=8)[0]
    assert usage["example"] == {"input": "zahl 2 plus 3", "prediction": expected}
    assert "## Limits" in (folder / "README.md").read_text()
    shipped = load_for_use(folder)
    assert shipped.predict(["zahl 2 plus 3", "zahl 4 plus 1"])[0] == expected
    with pytest.raises(ValueError, match="not translation"):
        save_for_use(tmp_path / "bad", model, tokenizer, card(task="poetry"), "x")


def test_load_incomplete_folder_says_what_is_missing(tmp_path):
    with pytest.raises(FileNotFoundError, match="usage.json.*save_for_use"):
        load_for_use(tmp_path)


def test_a_fresh_process_reproduces_the_saved_prediction(trained, tmp_path):
    model, tokenizer = trained
    folder = save_for_use(
        tmp_path / "ship",
        model,
        tokenizer,
        card(),
        "zahl 5 plus 1",
        generation={"max_new_tokens": 8, "num_beams": 2},
    )
    result = reproduce_in_fresh_process(folder)
    assert result["identical"] and result["prediction"] == result["expected"]


def test_a_different_prediction_in_the_fresh_process_is_caught(trained, tmp_path, monkeypatch):
    model, tokenizer = trained
    folder = save_for_use(tmp_path / "ship", model, tokenizer, card(), "zahl 5 plus 1")
    answer = json.dumps({"texts": ["zahl 5 plus 1"], "predictions": ["something else"]})
    monkeypatch.setattr(
        subprocess, "run", lambda *a, **k: subprocess.CompletedProcess(a, 0, answer + "\n", "")
    )
    with pytest.raises(AssertionError, match="not in"):
        reproduce_in_fresh_process(folder)
    monkeypatch.setattr(
        subprocess, "run", lambda *a, **k: subprocess.CompletedProcess(a, 1, "", "boom")
    )
    with pytest.raises(RuntimeError, match="boom"):
        reproduce_in_fresh_process(folder)
