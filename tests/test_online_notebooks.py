"""The online pass: notebooks 05 and 06, both versions, under nbval in the ``ci`` profile
against the tests' local Hub (conftest.py ``local_hub``), beside the default offline pass.

``COURSE_CI_HUB=1`` gives the ci profile the Hub names (profiles.CI_HUB); the kernel's
environment points at the hub with the offline variables removed, so every online branch of
the two notebooks runs: the Hub models in 5.1.1-5.1.3 and 5.3, t5-small with LoRA and the
CNN/DailyMail summaries in 06. Each test checks from the hub's log that the notebook did load
its Hub models and data, not the stand-ins.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
LOADED_FROM_HUB = {  # repositories whose weights (or data) each notebook must ask the hub for
    "05_pretrained_transformers": (
        "bert-base-uncased",
        "gpt2",
        "Helsinki-NLP/opus-mt-de-en",
    ),
    "06_final_project": ("t5-small", "datasets/abisee/cnn_dailymail"),
}


@pytest.mark.parametrize("folder", ["solutions", "notebooks"])
@pytest.mark.parametrize("stem", sorted(LOADED_FROM_HUB))
def test_notebook_runs_online_against_the_local_hub(stem, folder, local_hub, tmp_path):
    env = local_hub.environment(tmp_path / "hf_home")  # an empty cache: every file is fetched
    env.update(COURSE_PROFILE="ci", COURSE_CI_HUB="1", COURSE_OUTPUT_DIR=str(tmp_path / "out"))
    start = len(local_hub.requests)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "--nbval-lax",
            "-p",
            "no:cacheprovider",
            f"{folder}/{stem}.ipynb",
        ],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
    asked = [path for _, path in local_hub.requests[start:]]
    for repo in LOADED_FROM_HUB[stem]:
        weights = "model.safetensors" if not repo.startswith("datasets/") else ".parquet"
        assert any(path.startswith(f"/{repo}/resolve/") and weights in path for path in asked), (
            f"{folder}/{stem} did not load {repo} from the hub"
        )
