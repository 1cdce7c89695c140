"""scripts/train_translation.py (the multi-GPU command of docs/multi_gpu.md), in one process
at the ci sizes: it trains, stops, and resumes with the tokenizer it saved."""

import pytest

from course_lib.checkpoints import CheckpointError

pytest.importorskip("course_lib.transformer", reason="Module 4's Transformer is not here yet")
pytest.importorskip("course_lib.translation", reason="Module 4's translation data is not here")


def test_the_script_trains_stops_and_resumes(tmp_path, load_script):
    script = load_script("scripts/train_translation.py")
    common = ["--profile", "ci", "--output-dir", str(tmp_path), "--val-pairs", "20", "--cpu"]
    first = script.main([*common, "--max-steps", "2"])
    assert (first.stopped_by, first.steps) == ("max_steps", 2)
    tokenizer = (tmp_path / script.TOKENIZER_FILE).read_bytes()
    assert first.best_checkpoint == tmp_path / "best_model.pt"
    resumed = script.main([*common, "--max-steps", "4", "--resume"])
    assert (resumed.stopped_by, resumed.steps) == ("max_steps", 4)
    assert resumed.step_losses[:2] == first.step_losses
    assert (tmp_path / script.TOKENIZER_FILE).read_bytes() == tokenizer
    with pytest.raises(CheckpointError, match="checkpoints of another run.*resume=True"):
        script.main([*common, "--max-steps", "2"])  # neither --resume nor --overwrite
