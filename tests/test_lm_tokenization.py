"""benchmarks/lm_tokenization.py: both tokenizations score the same text, per character."""

from __future__ import annotations

import pytest
import torch

from course_lib.data import load_tinyshakespeare
from course_lib.machinery.profiles import sizes_for

SIZES = {**sizes_for(4, "ci")["lm"], "steps": 25, "val_chars": 1500}


@pytest.fixture(scope="module")
def script(load_script):
    return load_script("benchmarks/lm_tokenization.py")


@pytest.fixture(scope="module")
def splits(script):
    return script.tokenized_splits(SIZES)


def test_both_tokenizations_cover_the_same_validation_characters(script, splits):
    text = load_tinyshakespeare()
    val_text = text[int(0.9 * len(text)):][: SIZES["val_chars"]]
    chars, subwords = splits[script.CHARACTERS], splits[script.SUBWORDS]
    for data in (chars, subwords):
        assert data["lengths"][data["val"]].sum() == len(val_text)
        assert data["lengths"][data["train"]].sum() == int(0.9 * len(text))
    assert chars["chars_per_token"] == 1.0
    assert subwords["chars_per_token"] > 1.2  # the merges join characters
    assert len(subwords["lengths"]) == SIZES["bpe_vocab"]


def test_rows_and_markdown(script):
    rows = script.run(SIZES, seeds=[0, 1])
    models = (script.LSTM, script.TRANSFORMER)
    assert [(r["tokens"], r["model"]) for r in rows[::2]] == [
        (t, m) for t in (script.CHARACTERS, script.SUBWORDS) for m in models
    ]
    assert [r["seed"] for r in rows] == [0, 1] * 4
    for r in rows:  # 25 steps learn something: below the uniform guess of 69 characters
        assert 1.0 < r["ppl"] < 60, r
    # a seed changes the run
    assert rows[0]["ppl"] != rows[1]["ppl"]
    about = {"date_utc": "2026-12-06 00:00 UTC", "platform": "test", "cpu_count": 2,
             "torch_threads": 2, "torch": torch.__version__, "tokenizers": "0"}
    text = script.to_markdown(rows, SIZES, "ci", about)
    assert "--profile ci --seeds 0 1" in text
    table = [line for line in text.splitlines() if line.startswith("| characters")
             or line.startswith("| byte-level")]
    assert len(table) == 4
    mean = (rows[0]["ppl"] + rows[1]["ppl"]) / 2
    first = f"{rows[0]['ppl']:.2f}, {rows[1]['ppl']:.2f} | {mean:.2f} |"
    assert table[0].endswith(first)
