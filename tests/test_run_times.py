"""Measured run times: recorded by runs, rendered into the first cells and the README."""

from __future__ import annotations

import json

import pytest

from course_lib.machinery import lessons, paths, run_times

ROOT = paths.repo_root()


def test_format_seconds():
    assert run_times.format_seconds(7.4) == "7 s"
    assert run_times.format_seconds(59.6) == "1 min 0 s"
    assert run_times.format_seconds(125) == "2 min 5 s"


def test_record_then_first_cell_line(tmp_path):
    record = run_times.load(tmp_path)
    assert run_times.first_cell_line(record, "03_x") == "*Measured run time: not measured yet.*"
    run_times.record_run(tmp_path, "03_x", "ci", 9.2)
    run_times.record_run(tmp_path, "03_x", "cpu", 125.0, note="busy machine")
    record = run_times.load(tmp_path)
    line = run_times.first_cell_line(record, "03_x")
    assert line == "*Measured run time: ci 9 s · cpu 2 min 5 s (gpu: not measured yet).*"
    assert record["runs"]["03_x"]["cpu"]["note"] == "busy machine"


@pytest.mark.parametrize("profile, seconds", [("laptop", 3.0), ("ci", 0.0)])
def test_record_rejects_bad_input(tmp_path, profile, seconds):
    with pytest.raises(ValueError):
        run_times.record_run(tmp_path, "00_x", profile, seconds)


def test_readme_table_needs_its_markers():
    with pytest.raises(ValueError, match="markers"):
        run_times.readme_with_table("# README without markers\n", "| table |")


def test_build_writes_times_into_notebooks_and_readme(tmp_path):
    (tmp_path / "solutions").mkdir()
    lesson = "# %% [markdown]\n# # 01 · Demo\n\n# %%\nx = 1\n"
    (tmp_path / "solutions" / "01_demo.py").write_text(lesson)
    (tmp_path / "README.md").write_text(
        f"# Course\n\n{run_times.README_BEGIN}\nold\n{run_times.README_END}\n\nmore\n"
    )
    lessons.build(tmp_path)
    lessons.build_readme(tmp_path)
    first = json.loads((tmp_path / "notebooks" / "01_demo.ipynb").read_text())["cells"][0]
    assert "not measured yet" in "".join(first["source"])
    assert "| `01_demo` | - | - | - |" in (tmp_path / "README.md").read_text()
    run_times.record_run(tmp_path, "01_demo", "cpu", 61.0)
    assert lessons.build(tmp_path, check=True), "a new measurement makes the notebooks stale"
    assert lessons.build_readme(tmp_path, check=True) == [tmp_path / "README.md"]
    lessons.build(tmp_path)
    lessons.build_readme(tmp_path)
    first = json.loads((tmp_path / "notebooks" / "01_demo.ipynb").read_text())["cells"][0]
    assert "cpu 1 min 1 s" in "".join(first["source"])
    assert "| `01_demo` | - | 1 min 1 s | - |" in (tmp_path / "README.md").read_text()
    assert (tmp_path / "README.md").read_text().endswith("\n\nmore\n")


def test_readme_table_agrees_with_the_record():
    assert lessons.build_readme(ROOT, check=True) == [], "README's times are stale: course build"


def test_every_lesson_is_measured_or_says_not_measured():
    record = run_times.load(ROOT)
    for lesson in lessons.find_lessons(ROOT):
        first = json.loads(lesson.learner_path().read_text(encoding="utf-8"))["cells"][0]
        assert run_times.first_cell_line(record, lesson.stem) in "".join(first["source"])
