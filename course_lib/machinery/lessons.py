"""One source per lesson: build the notebooks from the jupytext scripts in ``solutions/``.

``solutions/NN_topic.py`` (jupytext "percent" format) is the only file a maintainer edits.
The build writes two notebooks without outputs:

- ``solutions/NN_topic.ipynb``: every exercise solved (the fence markers removed);
- ``notebooks/NN_topic.ipynb``: the learner's version, where each fenced block becomes a stub.

Code fences (indentation is kept)::

    # BEGIN SOLUTION
    ...solution code...
    # END SOLUTION

become ``# YOUR CODE HERE`` and ``raise NotImplementedError(...)``. In markdown cells,
``<!-- BEGIN SOLUTION -->`` ... ``<!-- END SOLUTION -->`` (an answer to a self-check
question) becomes a line inviting the learner's own answer.

Both notebooks also get, from :mod:`course_lib.machinery.colab`, an "Open in Colab" badge as
their first cell (with the measured run times from :mod:`run_times` and a GPU-runtime note for
the GPU-heavy modules) and, before the lesson's first code cell, the cell that sets a Colab
runtime up (it does nothing anywhere else). :func:`build_bootstrap` writes
``colab_bootstrap.ipynb`` and :func:`build_readme` the README's run-time table (``course
build`` runs all three).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import jupytext
import nbformat

from course_lib.machinery import colab, run_times
from course_lib.machinery.runtime import GPU_HEAVY_MODULES

CODE_BEGIN = re.compile(r"^(?P<indent>\s*)# BEGIN SOLUTION\s*$")
CODE_END = re.compile(r"^\s*# END SOLUTION\s*$")
MD_BEGIN = re.compile(r"^\s*<!-- BEGIN SOLUTION -->\s*$")
MD_END = re.compile(r"^\s*<!-- END SOLUTION -->\s*$")
STUB_MESSAGE = "Exercise not attempted yet: replace this line with your code"
MD_STUB = "*Your answer here.*"
LESSON_GLOB = "[0-9][0-9]_*.py"

BOOTSTRAP = "colab_bootstrap.ipynb"  # generated at the repository root, for Colab
KERNELSPEC = {"display_name": "Python 3", "language": "python", "name": "python3"}


class LessonError(ValueError):
    """A lesson source is malformed (for example an unclosed solution fence)."""


@dataclass(frozen=True)
class Lesson:
    source: Path  # solutions/NN_topic.py

    @property
    def stem(self) -> str:
        return self.source.stem

    def solution_path(self) -> Path:
        return self.source.with_suffix(".ipynb")

    def learner_path(self) -> Path:
        return self.source.parent.parent / "notebooks" / f"{self.stem}.ipynb"


def find_lessons(root: Path) -> list[Lesson]:
    """Every lesson source under ``root/solutions``, in module order."""
    return [Lesson(p) for p in sorted((root / "solutions").glob(LESSON_GLOB))]


def _strip_fences(lines: list[str], begin: re.Pattern, end: re.Pattern, stub, where: str):
    """Lines with each fenced block kept (``stub`` None) or replaced by ``stub(indent)``."""
    out, inside, indent = [], False, ""
    for number, line in enumerate(lines, 1):
        start = begin.match(line)
        if start:
            if inside:
                raise LessonError(f"{where}, line {number}: BEGIN SOLUTION inside another fence.")
            inside, indent = True, start.groupdict().get("indent", "")
            if stub is not None:
                out.extend(stub(indent))
        elif end.match(line):
            if not inside:
                raise LessonError(f"{where}, line {number}: END SOLUTION without BEGIN.")
            inside = False
        elif not inside or stub is None:
            out.append(line)
    if inside:
        raise LessonError(f"{where}: BEGIN SOLUTION is never closed by END SOLUTION.")
    return out


def _code_stub(indent: str) -> list[str]:
    return [f"{indent}# YOUR CODE HERE", f'{indent}raise NotImplementedError("{STUB_MESSAGE}")']


def _md_stub(indent: str) -> list[str]:
    return [MD_STUB]


def badge_source(stem: str, learner: bool, record: dict | None = None) -> str:
    """The first cell of a generated notebook: its Open-in-Colab badge, its measured run
    times (from ``record``, see :mod:`run_times`) and, for GPU-heavy modules, a GPU note."""
    folder = "notebooks" if learner else "solutions"
    url = colab.colab_url(f"{folder}/{stem}.ipynb")
    lines = [f"[![Open In Colab]({colab.COLAB_BADGE})]({url})"]
    if not learner:
        exercises = colab.colab_url(f"notebooks/{stem}.ipynb")
        lines[0] += f" *Solved version* (the exercises: [notebooks/{stem}.ipynb]({exercises}))"
    lines += ["", run_times.first_cell_line(record or {"runs": {}}, stem)]
    if int(stem[:2]) in GPU_HEAVY_MODULES:
        lines += [
            "",
            "> **On Colab, use a GPU runtime for this module:** *Runtime > Change runtime type >*"
            " a GPU (T4 is free). On a CPU it still runs, at the smaller `cpu` profile sizes.",
        ]
    return "\n".join(lines)


def _variant(nb, learner: bool, stem: str, record: dict):
    out = nbformat.v4.new_notebook()
    out.metadata = {"kernelspec": dict(KERNELSPEC), "language_info": {"name": "python"}}
    for index, cell in enumerate(nb.cells):
        where = f"{stem}.py, cell {index}"
        lines = cell.source.split("\n")
        if cell.cell_type == "code":
            lines = _strip_fences(
                lines, CODE_BEGIN, CODE_END, _code_stub if learner else None, where
            )
            new = nbformat.v4.new_code_cell("\n".join(lines))
        else:
            lines = _strip_fences(lines, MD_BEGIN, MD_END, _md_stub if learner else None, where)
            new = nbformat.v4.new_markdown_cell("\n".join(lines))
        new.id = f"{stem[:2]}-{index:03d}"
        out.cells.append(new)
    _add_colab_cells(out, learner, stem, record)
    return out


def _add_colab_cells(nb, learner: bool, stem: str, record: dict) -> None:
    """The badge on top, the Colab setup cell before the first code cell, GPU metadata."""
    first_code = next((i for i, cell in enumerate(nb.cells) if cell.cell_type == "code"), None)
    if first_code is not None:
        on_colab = nbformat.v4.new_code_cell(colab.setup_cell_source())
        on_colab.id = f"{stem[:2]}-colab"
        nb.cells.insert(first_code, on_colab)
    badge = nbformat.v4.new_markdown_cell(badge_source(stem, learner, record))
    badge.id = f"{stem[:2]}-badge"
    nb.cells.insert(0, badge)
    if int(stem[:2]) in GPU_HEAVY_MODULES:  # Colab opens these on a GPU runtime
        nb.metadata.update(accelerator="GPU", colab={"gpuType": "T4", "provenance": []})


def build_notebooks(lesson: Lesson) -> dict[Path, str]:
    """The text of both generated notebooks of ``lesson``, by output path."""
    nb = jupytext.reads(lesson.source.read_text(encoding="utf-8"), fmt="py:percent")
    record = run_times.load(lesson.source.parent.parent)
    return {
        lesson.solution_path(): nbformat.writes(_variant(nb, False, lesson.stem, record)) + "\n",
        lesson.learner_path(): nbformat.writes(_variant(nb, True, lesson.stem, record)) + "\n",
    }


def write_generated(generated: dict[Path, str], check: bool = False) -> list[Path]:
    """Write each text to its path (with ``check``, only compare); returns the stale paths."""
    stale = []
    for path, text in generated.items():
        current = path.read_text(encoding="utf-8") if path.exists() else None
        if current != text:
            stale.append(path)
            if not check:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(text, encoding="utf-8")
    return stale


def build(root: Path, check: bool = False) -> list[Path]:
    """Write (or, with ``check``, only compare) every generated notebook.

    Returns the paths that were stale (written, or found stale in check mode).
    """
    generated = {}
    for lesson in find_lessons(root):
        generated.update(build_notebooks(lesson))
    return write_generated(generated, check)


def build_bootstrap(root: Path, check: bool = False) -> list[Path]:
    """Write (or compare) ``colab_bootstrap.ipynb``; returns it if it was stale."""
    text = nbformat.writes(colab.bootstrap_notebook()) + "\n"
    return write_generated({root / BOOTSTRAP: text}, check)


def build_readme(root: Path, check: bool = False) -> list[Path]:
    """Write (or compare) the README's run-time table from the record and its results table
    from the reference runs; returns README if stale.

    A checkout without a README (a test's copy of the lessons) has nothing to write.
    """
    readme = root / "README.md"
    if not readme.is_file():
        return []
    stems = [lesson.stem for lesson in find_lessons(root)]
    from course_lib.machinery import reference

    table = run_times.readme_table(run_times.load(root), stems)
    text = run_times.readme_with_table(readme.read_text(encoding="utf-8"), table)
    if reference.RESULTS_BEGIN in text:  # optional: a README may leave the results out
        results = reference.results_table(root, stems)
        text = run_times.readme_with_table(
            text, results, (reference.RESULTS_BEGIN, reference.RESULTS_END)
        )
    return write_generated({readme: text}, check)
