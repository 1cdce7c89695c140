"""Run a module's notebook headless, end to end, in the current profile.

``course run 1`` executes ``notebooks/01_*.ipynb`` (``--solution`` for the solved one) cell by
cell with a progress bar, writes the executed copy with its outputs to the output folder
(on Drive when on Colab) and prints the wall time. The solved notebook's copy has a name of
its own, and a run holds a lock on its copy, so two runs never write one file. It is how a
learner runs a whole module on Colab, and how a maintainer times a module (``--record``: see
:mod:`run_times`).

The kernel talks to the runner over local IPC sockets where the system has them (no
"running over TCP without encryption" warning), sees ``COURSE_HEADLESS=1`` (text progress
bars, see :mod:`progress`), and a failure is reported in plain text (no terminal colour
codes) with the path of the partial executed copy.
"""

from __future__ import annotations

import os
import re
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import nbformat

from course_lib.machinery import paths
from course_lib.machinery.locks import LockHeld, ProcessLock
from course_lib.machinery.progress import HEADLESS_ENV

ANSI_CODES = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


class NotebookFailed(RuntimeError):
    """A cell raised; the message names the cell, the error and the partial copy."""


def available_notebooks(folder: Path) -> list[str]:
    """The notebook names (without ``.ipynb``) in ``folder``, in module order."""
    return [p.stem for p in sorted(folder.glob("[0-9][0-9]_*.ipynb"))]


def course_lessons(root: Path) -> set[str]:
    """The names of the course's own notebooks: one per lesson source ``solutions/NN_*.py``."""
    return {p.stem for p in (root / "solutions").glob("[0-9][0-9]_*.py")}


def find_notebook(module: str, solution: bool = False, root: Path | None = None) -> Path:
    """The notebook of ``module`` ("1", "01" or "01_rnn..."), learner or solution version.

    A notebook named exactly ``module`` wins; of several matches, the course's own (one per
    lesson source) wins over a learner's ``01_mine.ipynb``. Raises FileNotFoundError with one
    line naming the modules that exist, and ValueError for an empty or ambiguous ``module``.
    """
    root = root or paths.repo_root()
    if root is None:
        raise FileNotFoundError("No course repository found: run this from a clone of the course.")
    module = module.strip()
    if not module:
        raise ValueError("no module given: name one by number (course run 1) or name prefix.")
    folder = root / ("solutions" if solution else "notebooks")
    prefix = f"{int(module):02d}_" if module.isdigit() else module
    matches = [p for p in sorted(folder.glob("*.ipynb")) if p.stem.startswith(prefix)]
    exact = [p for p in matches if p.stem == module]
    ours = [p for p in matches if p.stem in course_lessons(root)]
    for found in (exact, matches if len(matches) == 1 else [], ours):
        if len(found) == 1:
            return found[0]
    if not matches:
        known = ", ".join(available_notebooks(folder)) or "none"
        kind = "solved notebook" if solution else "notebook"
        raise FileNotFoundError(
            f"Module {module} has no {kind} in this copy of the course (in {folder.name}/: "
            f"{known}); update the course or pick one of these."
        )
    names = ", ".join(p.stem for p in matches)
    raise ValueError(
        f"{module!r} matches several notebooks in {folder.name}/ ({names}): give the full name."
    )


def plain_text(text: str) -> str:
    """``text`` without terminal colour codes (tracebacks from the kernel carry them)."""
    return ANSI_CODES.sub("", text)


def executed_name(path: Path) -> str:
    """The executed copy's file name: a solved notebook's never overwrites the learner's."""
    kind = ".solution" if path.parent.name == "solutions" else ""
    return f"{path.stem}{kind}.executed.ipynb"


class NotebookBusy(RuntimeError):
    """Another run is writing the same executed copy."""


@contextmanager
def _lock(target: Path):
    """Hold ``target``.lock while a run writes ``target`` (a :class:`ProcessLock`: a lock
    left by a run that is gone is taken over); NotebookBusy while a live run holds it."""
    lock = ProcessLock(target.with_name(target.name + ".lock"))
    try:
        lock.acquire()
    except LockHeld as held:
        who = f"another run (process {held.pid})" if held.pid else "other runs"
        raise NotebookBusy(
            f"{who} is writing {target}: wait for it to finish. If no run is going, "
            f"delete {lock.path}."
        ) from None
    try:
        yield
    finally:
        lock.release()


def _write_atomically(nb, target: Path) -> None:
    """Write ``nb`` to a unique temporary file beside ``target``, then rename it into place."""
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    os.close(fd)
    try:
        nbformat.write(nb, tmp)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_notebook(path: Path):
    """The notebook at ``path``; ValueError in one line if it is empty or not a notebook."""
    try:
        return nbformat.read(path, as_version=4)
    except Exception as err:  # noqa: BLE001 - nbformat raises many kinds for a broken file
        what = "an empty file" if path.stat().st_size == 0 else f"not a notebook ({err})"
        reason = " ".join(str(what).split())[:200]
        raise ValueError(
            f"{path}: {reason}. Restore it (git checkout -- {path.name}) or regenerate the "
            f"notebooks with `course build`."
        ) from None


def run_notebook(
    path: Path, output_dir: Path | None = None, timeout: int = 1800
) -> tuple[Path, float]:
    """Execute ``path``; returns the executed copy's path and the wall time in seconds.

    The copy is ``executed/<name>[.solution].executed.ipynb`` in the output folder, written
    atomically under a lock (:class:`NotebookBusy` if another run is writing it).
    """
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError
    from tqdm.auto import tqdm
    from traitlets.config import Config

    nb = read_notebook(path)
    config = Config()
    if os.name == "posix":  # local sockets: nothing on the network, no plain-TCP warning
        config.KernelManager.transport = "ipc"
        # an absolute socket path: the kernel starts in the notebook's folder, not ours
        config.KernelManager.ip = str(Path(tempfile.gettempdir()) / f"course-kernel-{os.getpid()}")
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
        coalesce_streams=True,  # text progress bars keep only their final state
        config=config,
    )
    out_dir = (output_dir or paths.output_dir()) / "executed"
    out_dir.mkdir(parents=True, exist_ok=True)
    out_path = out_dir / executed_name(path)
    failure = None
    previous = os.environ.get(HEADLESS_ENV)
    os.environ[HEADLESS_ENV] = "1"  # the kernel inherits it
    with _lock(out_path):
        start = time.perf_counter()
        try:
            with client.setup_kernel():
                for index, cell in enumerate(tqdm(nb.cells, desc=path.stem, unit="cell")):
                    try:
                        client.execute_cell(cell, index)
                    except CellExecutionError as err:
                        failure = (index, plain_text(str(err)).strip())
                        break
        finally:
            if previous is None:
                os.environ.pop(HEADLESS_ENV, None)
            else:
                os.environ[HEADLESS_ENV] = previous
        seconds = time.perf_counter() - start
        _write_atomically(nb, out_path)
    if failure is not None:
        index, error = failure
        raise NotebookFailed(
            f"{path.name}: cell {index} failed after {seconds:.1f} s. The executed copy, up to "
            f"that cell, is {out_path}\n{error}"
        )
    return out_path, seconds
