"""Reference runs: each module's solved notebook, executed in the ``cpu`` profile, kept with
its outputs in ``docs/reference/NN_topic.ipynb`` so a learner sees every figure and result
before running anything (and the course site shows them).

``COURSE_PROFILE=cpu course run N --solution --reference`` records one (add ``--record`` to
store the run time too). The copy is stamped, in ``metadata["course_reference"]`` and in a
first markdown cell, with the date, machine, profile, torch threads, wall time, load average
at the start and the lesson it was run from: :func:`code_hash` of the solved notebook's code
cells (a prose edit keeps a run fresh, a code edit makes it stale) and the git commit.
Widget state and widget outputs, which a static page cannot show, are dropped (their text
fallback stays), and large PNGs are re-encoded so the folder stays small.
:func:`reference_status` lists the stale and missing runs for ``course build --check``.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import io
import os
import platform
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import nbformat

from course_lib.machinery import run_times

FOLDER = Path("docs") / "reference"  # relative to the repository root
STAMP_KEY = "course_reference"
STAMP_CELL_ID = "reference-stamp"
WIDGET_MIME = "application/vnd.jupyter.widget"  # view and state outputs start with it
PNG_MAX_BYTES = 120_000  # a larger figure is re-encoded with a 256-colour palette
FOLDER_MAX_BYTES = 15_000_000  # the whole folder, 7 notebooks


def reference_path(root: Path, stem: str) -> Path:
    """Where the reference run of lesson ``stem`` lives."""
    return root / FOLDER / f"{stem}.ipynb"


def rerecord_command(stem: str) -> str:
    """The one command that (re-)records the reference run of ``stem``."""
    return f"COURSE_PROFILE=cpu course run {stem[:2]} --solution --reference"


def code_hash(nb) -> str:
    """A short hash of the code cells of ``nb`` (trailing spaces ignored): prose does not count."""
    digest = hashlib.sha256()
    for cell in nb.cells:
        if cell.cell_type == "code":
            lines = [line.rstrip() for line in cell.source.strip().splitlines()]
            digest.update("\n".join(lines).encode() + b"\n\x00")
    return digest.hexdigest()[:16]


def _git_commit(root: Path) -> str:
    """The checkout's commit (with ``-dirty`` if it has changes), or "" without git."""

    def git(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, timeout=10)

    try:
        commit = git("rev-parse", "--short=12", "HEAD")
        if commit.returncode != 0:
            return ""
        dirty = git("status", "--porcelain", "--untracked-files=no").stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return commit.stdout.strip() + ("-dirty" if dirty else "")


SETUP_THREADS = re.compile(r"\| threads (\d+) \|")  # setup()'s line: "... | threads 2 | ..."


def kernel_threads(nb) -> int | None:
    """The torch threads the run used, as ``setup()`` printed them in ``nb``'s outputs."""
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            found = SETUP_THREADS.search(output.get("text", ""))
            if found:
                return int(found.group(1))
    return None


def machine_stamp(profile: str, seconds: float, load_at_start: float, root: Path) -> dict:
    """Where and how a run was made (the torch threads come from the run's own outputs)."""
    return {
        "date": datetime.date.today().isoformat(),
        "machine": f"{os.cpu_count()} CPU cores, {platform.machine()}",
        "profile": profile,
        "seconds": round(seconds, 1),
        "load_average_at_start": round(load_at_start, 2),
        "git_commit": _git_commit(root),
    }


def load_average() -> float:
    """The 1-minute load average (0.0 where the system has none)."""
    try:
        return os.getloadavg()[0]
    except (OSError, AttributeError):
        return 0.0


def shrink_png(data: bytes, max_bytes: int = PNG_MAX_BYTES) -> bytes:
    """``data`` (a PNG) re-encoded with a 256-colour palette if it is over ``max_bytes``, and
    scaled down (never below 400 px wide) if that is not enough; the smaller version wins."""
    if len(data) <= max_bytes:
        return data
    from PIL import Image

    image = Image.open(io.BytesIO(data)).convert("RGB")
    best = data
    while True:
        buffer = io.BytesIO()
        image.quantize(256).save(buffer, format="PNG", optimize=True)
        if len(buffer.getvalue()) < len(best):
            best = buffer.getvalue()
        if len(best) <= max_bytes or image.width <= 400:
            return best
        scale = max(0.5, (max_bytes / len(best)) ** 0.5)
        image = image.resize((int(image.width * scale), int(image.height * scale)), Image.LANCZOS)


def slim(nb):
    """``nb`` ready for a static page: widget state and widget outputs dropped (their
    text/plain fallback kept; an output left with nothing is removed), PNGs shrunk."""
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        kept = []
        for output in cell.get("outputs", []):
            data = output.get("data")
            if data is not None:
                for mime in [m for m in data if m.startswith(WIDGET_MIME)]:
                    del data[mime]
                if not data:
                    continue
                if "image/png" in data:
                    png = shrink_png(base64.b64decode(data["image/png"]))
                    data["image/png"] = base64.b64encode(png).decode("ascii")
            kept.append(output)
        cell.outputs = kept
    return nb


def stamp_text(stem: str, stamp: dict) -> str:
    """The first markdown cell of a reference run: what it is and how it was made."""
    commit = f", commit `{stamp['git_commit']}`" if stamp.get("git_commit") else ""
    return (
        f"> **Reference run** of `solutions/{stem}.ipynb`: executed on {stamp['date']} in the "
        f"`{stamp['profile']}` profile on {stamp['machine']}, {stamp['torch_threads'] or '?'} "
        f"torch thread(s), in {run_times.format_seconds(stamp['seconds'])} (load average "
        f"{stamp['load_average_at_start']} at the start). Lesson code `{stamp['code_hash']}`"
        f"{commit}. Your own run will differ a little; re-record with "
        f"`{rerecord_command(stem)}`."
    )


def write_reference(
    root: Path, solved: Path, executed: Path, profile: str, seconds: float, load_at_start: float
) -> Path:
    """Store the executed copy of the solved notebook ``solved`` as its reference run."""
    nb = slim(nbformat.read(executed, as_version=4))
    stamp = machine_stamp(profile, seconds, load_at_start, root)
    stamp["torch_threads"] = kernel_threads(nb)
    stamp["code_hash"] = code_hash(nbformat.read(solved, as_version=4))
    nb.metadata[STAMP_KEY] = stamp
    cell = nbformat.v4.new_markdown_cell(stamp_text(solved.stem, stamp))
    cell.id = STAMP_CELL_ID
    nb.cells = [c for c in nb.cells if c.get("id") != STAMP_CELL_ID]
    nb.cells.insert(0, cell)
    target = reference_path(root, solved.stem)
    target.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, target)
    return target


RESULTS_BEGIN = "<!-- results:begin (generated by `course build` from docs/reference/) -->"
RESULTS_END = "<!-- results:end -->"
ASSERTED = re.compile(r"^(?P<name>.+): (?P<value>\S+) \(required (?P<bar>[^)]+)\)$")


def asserted_results(nb) -> list[tuple[str, str, str]]:
    """``(name, value, bar)`` of every result ``nb``'s outputs assert (``assert_metric``
    prints "name: value (required >= bar)")."""
    found = []
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            text = output.get("text", "") or output.get("data", {}).get("text/plain", "")
            for line in text.splitlines():
                match = ASSERTED.match(line.strip())
                if match:
                    found.append((match["name"], match["value"], match["bar"]))
    return found


def results_table(root: Path, stems: list[str]) -> str:
    """The README's table of what each reference run measured and the bar it asserted."""
    lines = ["| notebook | result | measured | asserted |", "|---|---|---:|---|"]
    for stem in stems:
        path = reference_path(root, stem)
        if not path.is_file():
            lines.append(f"| `{stem}` | no reference run yet | | |")
            continue
        nb = nbformat.read(path, as_version=4)
        date = nb.metadata.get(STAMP_KEY, {}).get("date", "?")
        for i, (name, value, bar) in enumerate(asserted_results(nb)):
            first = f"`{stem}` ({date})" if i == 0 else ""
            lines.append(f"| {first} | {name.replace('|', '/')} | {value} | {bar} |")
    return "\n".join(lines)


@dataclass(frozen=True)
class Status:
    stale: list[str]  # lesson stems whose code changed since their reference run
    missing: list[str]  # lesson stems without a reference run
    recorded: list[str]  # lesson stems with a reference run (fresh or stale)


def reference_status(root: Path) -> Status:
    """Which reference runs are stale (lesson code hash changed) and which are missing."""
    from course_lib.machinery.lessons import find_lessons

    stale, missing, recorded = [], [], []
    for lesson in find_lessons(root):
        path = reference_path(root, lesson.stem)
        if not path.is_file():
            missing.append(lesson.stem)
            continue
        recorded.append(lesson.stem)
        stamp = nbformat.read(path, as_version=4).metadata.get(STAMP_KEY, {})
        current = code_hash(nbformat.read(lesson.solution_path(), as_version=4))
        if stamp.get("code_hash") != current:
            stale.append(lesson.stem)
    return Status(stale, missing, recorded)


def refresh_prose(root: Path, check: bool = False) -> list[Path]:
    """Copy the lessons' current markdown into their fresh reference runs (same code, so the
    outputs still hold; a stale run is left for re-recording); returns the runs that changed
    (with ``check``, that would change, and nothing is written)."""
    from course_lib.machinery.lessons import find_lessons

    changed = []
    for lesson in find_lessons(root):
        path = reference_path(root, lesson.stem)
        if not path.is_file():
            continue
        run = nbformat.read(path, as_version=4)
        solved = nbformat.read(lesson.solution_path(), as_version=4)
        if run.metadata.get(STAMP_KEY, {}).get("code_hash") != code_hash(solved):
            continue
        stamp = [c for c in run.cells if c.get("id") == STAMP_CELL_ID]
        cells = [c for c in run.cells if c.get("id") != STAMP_CELL_ID]
        recorded = iter([c for c in cells if c.cell_type == "code"])
        # the same code (same hash): keep each recorded code cell with its outputs, and take
        # every other cell from the lesson, so markdown added or removed lines up too
        lined_up = []
        for cell in solved.cells:
            if cell.cell_type == "code":
                cell = nbformat.from_dict({**next(recorded), "id": cell.get("id")})
            lined_up.append(cell)
        if [(c.cell_type, c.get("id"), c.source) for c in lined_up] == [
            (c.cell_type, c.get("id"), c.source) for c in cells
        ]:
            continue
        changed.append(path)
        if not check:
            run.cells = stamp + lined_up
            nbformat.write(run, path)
    return changed


def status_lines(status: Status) -> list[str]:
    """One line per stale or missing reference run, with the command that records it."""
    lines = [
        f"stale reference run: {s} (lesson code changed; run `{rerecord_command(s)}`)"
        for s in status.stale
    ]
    lines += [f"no reference run yet: {s} (`{rerecord_command(s)}`)" for s in status.missing]
    return lines
