"""progress.output_problems finds what an executed copy should not show, and
quiet_library_bars switches the Hugging Face bars off (issue 27)."""

import os
from pathlib import Path

import pytest

from course_lib.machinery import progress
from course_lib.machinery.progress import output_problems, quiet_library_bars


def notebook(*cells):
    return {
        "cells": [{"cell_type": "markdown", "source": "# title"}]
        + [{"cell_type": "code", "source": "", "outputs": list(o)} for o in cells]
    }


def widget(text, model_id="abc"):
    return {
        "output_type": "display_data",
        "data": {
            "application/vnd.jupyter.widget-view+json": {"model_id": model_id},
            "text/plain": text,
        },
    }


def stream(text):
    return {"output_type": "stream", "name": "stdout", "text": text}


def table(loss, value):
    html = (
        f"<table><tr><th>Training Loss</th><th>Validation Loss</th></tr>"
        f"<tr><td>{loss}</td><td>{value}</td></tr></table>"
    )
    return {"output_type": "display_data", "data": {"text/html": html, "text/plain": "<HTML>"}}


def test_a_clean_notebook_has_no_problems():
    nb = notebook(
        [stream("train: 100%|##########| 40/40 [00:03<00:00]\nloss 1.2\n")],
        [widget("explorer", "w1")],
        [table("0.53", "0.61")],
    )
    assert output_problems(nb) == []


@pytest.mark.parametrize(
    "text",
    [
        "Map:   0%|          | 0/256 [00:00<?, ? examples/s]",
        ["Loading weights:  ", " 0%|  | 0/103"],
    ],
)
def test_a_frozen_widget_bar_is_found(text):
    (problem,) = output_problems(notebook([widget(text)]))
    assert problem.startswith("cell 1: a progress bar stopped at 0%")


def test_a_text_bar_counts_by_its_last_state():
    finished = stream("epochs:   0%|  | 0/3\repochs:  67%|## | 2/3\repochs: 100%|###| 3/3\n")
    stopped = stream("train:   0%|  | 441/116000 [15:00<65:31:37, 2.04s/step]\n")
    assert output_problems(notebook([finished])) == []
    (problem,) = output_problems(notebook([finished], [stopped]))
    assert "cell 2" in problem and "0%" in problem


def test_a_text_bar_split_into_stream_chunks_is_read_whole():
    chunks = [stream("epochs:   0%|  | 0/3"), stream("\repochs: 100%|###| 3/3\n")]
    assert output_problems(notebook(chunks)) == []
    assert len(output_problems(notebook([chunks[0], widget("x"), chunks[1]]))) == 1


def test_duplicated_outputs_and_evaluate_tables_are_found():
    explorer = widget("explorer", "same-id")
    problems = output_problems(notebook([explorer, dict(explorer)]))
    assert problems == ["cell 1: the same output shown twice"]
    problems = output_problems(notebook([table("No log", "5.13"), table("No log", "5.13")]))
    assert sum("No log" in p for p in problems) == 2 and any("twice" in p for p in problems)
    assert output_problems(notebook([widget("a", "1"), widget("a", "2")])) == []
    cleared = {"output_type": "display_data", "data": {"text/html": [], "text/plain": "<HTML>"}}
    assert output_problems(notebook([cleared, dict(cleared)])) == []
    bar = {"output_type": "display_data", "data": {"text/html": "<progress value='0' max='8'>"}}
    assert output_problems(notebook([bar, dict(bar)])) == []


def test_bad_input_gets_a_clear_error():
    with pytest.raises(ValueError, match="parsed notebook"):
        output_problems("notebook.ipynb")


def test_quiet_library_bars_uses_the_libraries_switches(monkeypatch):
    for name in progress.LIBRARY_BAR_SWITCHES:
        monkeypatch.delenv(name, raising=False)
    import datasets  # already imported: its switch function must be called

    quiet_library_bars()
    assert all(os.environ[name] == "1" for name in progress.LIBRARY_BAR_SWITCHES)
    assert not datasets.is_progress_bar_enabled()
    datasets.enable_progress_bars()


def test_a_learner_can_keep_the_bars(monkeypatch):
    monkeypatch.setenv("HF_HUB_DISABLE_PROGRESS_BARS", "0")
    monkeypatch.setenv("HF_DATASETS_DISABLE_PROGRESS_BARS", "0")
    quiet_library_bars()
    assert os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] == "0"


pytest_plugins = ["pytester"]


def test_the_conftest_hook_fails_a_notebook_cell_whose_output_reads_wrong(pytester):
    """conftest.py applies output_problems to every cell nbval runs (one kernel, ~2 s)."""
    import nbformat

    root = Path(__file__).resolve().parents[1]
    pytester.makeconftest((root / "conftest.py").read_text())
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell('print("a finished bar: 100%|##| 3/3")'),
        nbformat.v4.new_code_cell('print("Map:   0%|          | 0/256")'),
        nbformat.v4.new_code_cell(
            'from IPython.display import HTML, display\nh = HTML("<b>x</b>")\ndisplay(h)\n'
            "display(h)"
        ),
    ]
    nbformat.write(nb, pytester.path / "probe.ipynb")
    result = pytester.runpytest_subprocess("--nbval-lax", "-p", "no:cacheprovider", "probe.ipynb")
    result.assert_outcomes(passed=1, failed=2)
    result.stdout.fnmatch_lines(["*progress bar stopped at 0%*", "*the same output shown twice*"])
