"""scripts/train_translation.py (the multi-GPU command of docs/multi_gpu.md), in one process
at the ci sizes: it trains, stops, and resumes with the tokenizer it saved."""

import importlib.util
from pathlib import Path

import pytest

pytest.importorskip("course_lib.transformer", reason="Module 4's Transformer is not here yet")
pytest.importorskip("course_lib.translation", reason="Module 4's translation data is not here")

SCRIPT = Path(__file__).parents[1] / "scripts" / "train_translation.py"


def load_script():
    spec = importlib.util.spec_from_file_location("train_translation", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_script_trains_stops_and_resumes(tmp_path):
    script = load_script()
    common = ["--profile", "ci", "--output-dir", str(tmp_path), "--val-pairs", "20", "--cpu"]
    first = script.main([*common, "--max-steps", "2"])
    assert (first.stopped_by, first.steps) == ("max_steps", 2)
    tokenizer = (tmp_path / script.TOKENIZER_FILE).read_bytes()
    assert first.best_checkpoint == tmp_path / "best_model.pt"
    resumed = script.main([*common, "--max-steps", "4", "--resume"])
    assert (resumed.stopped_by, resumed.steps) == ("max_steps", 4)
    assert resumed.step_losses[:2] == first.step_losses
    assert (tmp_path / script.TOKENIZER_FILE).read_bytes() == tokenizer
