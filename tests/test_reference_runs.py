"""Reference runs (docs/reference/NN_topic.ipynb): fresh, small, stamped; staleness follows
the lesson's code, not its prose."""

from __future__ import annotations

import base64
import io
import shutil

import matplotlib
import nbformat
import pytest

from course_lib.machinery import cli, paths, reference
from course_lib.machinery.lessons import build, build_bootstrap

matplotlib.use("Agg")

ROOT = paths.repo_root()
STEM = "00_how_this_course_works"


def test_no_reference_run_is_stale_or_missing():
    """Stale runs (lesson code changed since the recording) always fail. Missing runs fail only
    once docs/reference/ holds at least one run: before the first recording none is expected."""
    status = reference.reference_status(ROOT)
    assert not status.stale, "stale reference runs, re-record them:\n" + "\n".join(
        reference.status_lines(reference.Status(status.stale, [], []))
    )
    if status.recorded:
        assert not status.missing, "modules without a reference run, record them:\n" + "\n".join(
            reference.status_lines(reference.Status([], status.missing, []))
        )


def test_the_reference_folder_stays_small():
    folder = ROOT / reference.FOLDER
    size = sum(p.stat().st_size for p in folder.glob("*.ipynb")) if folder.is_dir() else 0
    assert size < reference.FOLDER_MAX_BYTES, f"docs/reference/ holds {size / 1e6:.1f} MB"


@pytest.fixture
def course(tmp_path):
    """A copy of one lesson (source and generated notebooks) in a repository of its own."""
    (tmp_path / "pyproject.toml").write_text("")
    (tmp_path / "solutions").mkdir()
    shutil.copy(ROOT / "solutions" / f"{STEM}.py", tmp_path / "solutions")
    build(tmp_path)
    build_bootstrap(tmp_path)
    return tmp_path


def _figure_png(dpi: int) -> str:
    import matplotlib.pyplot as plt
    import numpy as np

    fig, ax = plt.subplots(figsize=(8.5, 4))
    for seed in range(6):
        ax.plot(np.random.default_rng(seed).standard_normal(400).cumsum())
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode()


def _executed_copy(course, tmp_path):
    """The solved notebook with a widget output, a widget-only output and a big figure."""
    nb = nbformat.read(course / "solutions" / f"{STEM}.ipynb", as_version=4)
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {}}}
    code = next(c for c in nb.cells if c.cell_type == "code")
    widget = "application/vnd.jupyter.widget-view+json"
    code.outputs = [
        nbformat.v4.new_output("stream", text="[course] module 00 | profile cpu | threads 2 |\n"),
        nbformat.v4.new_output(
            "display_data", data={widget: {"model_id": "a"}, "text/plain": "Slider(value=1)"}
        ),
        nbformat.v4.new_output("display_data", data={widget: {"model_id": "b"}}),
        nbformat.v4.new_output("display_data", data={"image/png": _figure_png(dpi=300)}),
    ]
    path = tmp_path / "executed.ipynb"
    nbformat.write(nb, path)
    return path


def test_a_recorded_run_is_stamped_slim_and_fresh(course, tmp_path):
    solved = course / "solutions" / f"{STEM}.ipynb"
    target = reference.write_reference(
        course, solved, _executed_copy(course, tmp_path), "cpu", 75.3, 0.42
    )
    assert target == course / "docs" / "reference" / f"{STEM}.ipynb"
    nb = nbformat.read(target, as_version=4)
    stamp = nb.metadata[reference.STAMP_KEY]
    assert stamp["profile"] == "cpu" and stamp["seconds"] == 75.3
    assert stamp["load_average_at_start"] == 0.42 and stamp["torch_threads"] == 2
    assert stamp["code_hash"] == reference.code_hash(nbformat.read(solved, as_version=4))
    assert {"date", "machine", "git_commit"} <= set(stamp)
    assert "Reference run" in nb.cells[0].source and "1 min 15 s" in nb.cells[0].source
    assert "widgets" not in nb.metadata
    outputs = next(c for c in nb.cells if c.cell_type == "code").outputs
    assert len(outputs) == 3, "the widget-only output is dropped, the others kept"
    assert outputs[1].data == {"text/plain": "Slider(value=1)"}
    png = base64.b64decode(outputs[2].data["image/png"])
    assert png.startswith(b"\x89PNG") and len(png) <= reference.PNG_MAX_BYTES
    assert reference.reference_status(course) == reference.Status([], [], [STEM])


def test_prose_edits_keep_a_run_fresh_and_code_edits_make_it_stale(course, tmp_path, monkeypatch):
    solved = course / "solutions" / f"{STEM}.ipynb"
    reference.write_reference(course, solved, _executed_copy(course, tmp_path), "cpu", 30, 0.1)
    source = course / "solutions" / f"{STEM}.py"
    text = source.read_text(encoding="utf-8")
    source.write_text(text.replace("# %% [markdown]\n", "# %% [markdown]\n# A new sentence.\n", 1))
    build(course)
    assert reference.reference_status(course).stale == []
    source.write_text(text.replace("import ", "import os  # edited\nimport ", 1))
    build(course)
    status = reference.reference_status(course)
    assert status.stale == [STEM]
    command = "COURSE_PROFILE=cpu course run 00 --solution --reference"
    assert command in "\n".join(reference.status_lines(status))
    monkeypatch.setattr(paths, "repo_root", lambda: course)
    assert cli.main(["build", "--check"]) == 1, "course build --check fails on a stale run"


def _recorded_run(course, tmp_path):
    """``(run path, the run as recorded, lesson source path, lesson source text)``."""
    solved = course / "solutions" / f"{STEM}.ipynb"
    target = reference.write_reference(
        course, solved, _executed_copy(course, tmp_path), "cpu", 30, 0.1
    )
    source = course / "solutions" / f"{STEM}.py"
    return target, nbformat.read(target, as_version=4), source, source.read_text(encoding="utf-8")


def test_course_build_copies_prose_edits_into_a_fresh_run_and_keeps_its_outputs(
    course, tmp_path, monkeypatch, capsys
):
    target, before, source, text = _recorded_run(course, tmp_path)
    source.write_text(text.replace("# %% [markdown]\n", "# %% [markdown]\n# A new sentence.\n", 1))
    monkeypatch.setattr(paths, "repo_root", lambda: course)
    build(course)
    assert cli.main(["build", "--check"]) == 1, "the run's text is behind the lesson's"
    assert f"docs/reference/{STEM}.ipynb" in capsys.readouterr().out
    assert cli.main(["build"]) == 0 and cli.main(["build", "--check"]) == 0
    after = nbformat.read(target, as_version=4)
    assert any("A new sentence." in c.source for c in after.cells if c.cell_type == "markdown")
    assert after.cells[0].source == before.cells[0].source, "the stamp stays"
    code = [(c.source, c.outputs) for c in after.cells if c.cell_type == "code"]
    assert code == [(c.source, c.outputs) for c in before.cells if c.cell_type == "code"]
    source.write_text(text.replace("import ", "import os  # edited\nimport ", 1))
    source.write_text(source.read_text().replace("A new sentence.", "Another sentence."))
    build(course)
    assert reference.refresh_prose(course) == [], "a stale run keeps its recorded text"


def test_course_build_lines_up_markdown_cells_added_to_a_fresh_run(course, tmp_path, monkeypatch):
    target, before, source, text = _recorded_run(course, tmp_path)
    second = text.index("# %%\n", text.index("# %%\n") + 1)  # before the second code cell
    source.write_text(text[:second] + "# %% [markdown]\n# An inserted cell.\n\n" + text[second:])
    monkeypatch.setattr(paths, "repo_root", lambda: course)
    build(course)
    assert reference.reference_status(course).stale == [], "prose only: the run stays fresh"
    assert cli.main(["build"]) == 0 and cli.main(["build", "--check"]) == 0
    after = nbformat.read(target, as_version=4)
    assert len(after.cells) == len(before.cells) + 1
    new = nbformat.read(course / "solutions" / f"{STEM}.ipynb", as_version=4)
    kinds = [(c.cell_type, c.source) for c in after.cells[1:]]
    assert kinds == [(c.cell_type, c.source) for c in new.cells], "lined up with the lesson"
    code = [(c.source, c.outputs) for c in after.cells if c.cell_type == "code"]
    assert code == [(c.source, c.outputs) for c in before.cells if c.cell_type == "code"]


def test_a_missing_run_is_listed_without_failing_the_build_check(course, monkeypatch, capsys):
    monkeypatch.setattr(paths, "repo_root", lambda: course)
    assert cli.main(["build", "--check"]) == 0
    assert f"no reference run yet: {STEM}" in capsys.readouterr().out


def test_the_hash_is_stable_and_ignores_trailing_spaces():
    nb = nbformat.read(ROOT / "solutions" / f"{STEM}.ipynb", as_version=4)
    before = reference.code_hash(nb)
    assert reference.code_hash(nbformat.read(ROOT / "solutions" / f"{STEM}.ipynb", 4)) == before
    code = next(c for c in nb.cells if c.cell_type == "code")
    code.source += "   \n"
    assert reference.code_hash(nb) == before
    code.source += "x = 1"
    assert reference.code_hash(nb) != before


def test_reference_needs_the_solved_notebook(capsys):
    assert cli.main(["run", "0", "--reference"]) == 2
    assert "--solution" in capsys.readouterr().err


def test_the_results_table_lists_each_asserted_result_of_each_run(course, tmp_path):
    solved = course / "solutions" / f"{STEM}.ipynb"
    executed = _executed_copy(course, tmp_path)
    nb = nbformat.read(executed, as_version=4)
    code = next(c for c in nb.cells if c.cell_type == "code")
    code.outputs.append(
        nbformat.v4.new_output(
            "stream",
            text=(
                "model           bleu   2.48\n"
                "validation loss: 2.4652 (required <= 2.611)\n"
                "bleu: model minus copy | source: 2.2984 (required >= 0.5)\n"
            ),
        )
    )
    nbformat.write(nb, executed)
    reference.write_reference(course, solved, executed, "cpu", 30, 0.1)
    assert reference.asserted_results(nbformat.read(executed, as_version=4)) == [
        ("validation loss", "2.4652", "<= 2.611"),
        ("bleu: model minus copy | source", "2.2984", ">= 0.5"),
    ]
    table = reference.results_table(course, [STEM, "07_missing"]).splitlines()
    assert table[2].startswith(f"| `{STEM}` (")
    assert table[2].endswith("| validation loss | 2.4652 | <= 2.611 |")
    assert table[3] == "|  | bleu: model minus copy / source | 2.2984 | >= 0.5 |", "| escaped"
    assert table[4] == "| `07_missing` | no reference run yet | | |"
