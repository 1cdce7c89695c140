"""README's gpu column: FLOP-count estimates (benchmarks/gpu_estimate.py), labelled as such."""

from __future__ import annotations

import json
from pathlib import Path

from course_lib.machinery import run_times

ROOT = Path(__file__).parent.parent


def test_the_committed_estimate_is_what_the_script_computes(load_script):
    script = load_script("benchmarks/gpu_estimate.py")
    fresh = script.estimate(run_times.load(ROOT))
    committed = json.loads(script.RESULT.read_text(encoding="utf-8"))
    assert committed == json.loads(json.dumps(fresh))


def test_no_notebook_takes_over_30_minutes_on_a_t4_by_the_estimate(load_script):
    script = load_script("benchmarks/gpu_estimate.py")
    estimates = script.estimate(run_times.load(ROOT))["notebooks"]
    assert len(estimates) == 7
    for stem, entry in estimates.items():
        assert 0 < entry["seconds"] <= 30 * 60, stem
        assert all(work["seconds"] > 0 for work in entry["work"]), stem


def test_readme_marks_each_gpu_estimate_as_one():
    record = run_times.load(ROOT)
    table = run_times.readme_table(record, sorted(record["runs"]))
    estimated = {s: r["gpu"] for s, r in record["runs"].items() if r["gpu"].get("estimate")}
    assert estimated  # until GPU runs are recorded
    for stem, gpu in estimated.items():
        assert "estimate" in gpu["note"], stem
        row = next(line for line in table.splitlines() if f"`{stem}`" in line)
        assert row.endswith("(estimate) |") and "~" in row


def test_a_measured_gpu_run_shows_without_the_estimate_label():
    record = {"runs": {"x": {"gpu": {"seconds": 75.0, "note": "measured"}}}}
    assert "| 1 min 15 s |" in run_times.readme_table(record, ["x"])
