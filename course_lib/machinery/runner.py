"""Run a module's notebook headless, end to end, in the current profile.

``course run 1`` executes ``notebooks/01_*.ipynb`` (``--solution`` for the solved one) cell by
cell with a progress bar, writes the executed copy with its outputs to the output folder
(on Drive when on Colab) and prints the wall time. It is how a learner runs a whole module on
Colab, and how a maintainer times a module (``--record``: see :mod:`run_times`).

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
from pathlib import Path

import nbformat

from course_lib.machinery import paths
from course_lib.machinery.progress import HEADLESS_ENV

ANSI_CODES = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


class NotebookFailed(RuntimeError):
    """A cell raised; the message names the cell, the error and the partial copy."""


def available_notebooks(folder: Path) -> list[str]:
    """The notebook names (without ``.ipynb``) in ``folder``, in module order."""
    return [p.stem for p in sorted(folder.glob("[0-9][0-9]_*.ipynb"))]


def find_notebook(module: str, solution: bool = False, root: Path | None = None) -> Path:
    """The notebook of ``module`` ("1", "01" or "01_rnn..."), learner or solution version.

    Raises FileNotFoundError with one line naming the modules that exist.
    """
    root = root or paths.repo_root()
    if root is None:
        raise FileNotFoundError("No course repository found: run this from a clone of the course.")
    folder = root / ("solutions" if solution else "notebooks")
    prefix = module if not module.isdigit() else f"{int(module):02d}"
    matches = sorted(folder.glob(f"{prefix}*.ipynb"))
    if not matches:
        known = ", ".join(available_notebooks(folder)) or "none"
        kind = "solved notebook" if solution else "notebook"
        raise FileNotFoundError(
            f"Module {module} has no {kind} in this copy of the course (in {folder.name}/: "
            f"{known}); update the course or pick one of these."
        )
    return matches[0]


def plain_text(text: str) -> str:
    """``text`` without terminal colour codes (tracebacks from the kernel carry them)."""
    return ANSI_CODES.sub("", text)


def run_notebook(
    path: Path, output_dir: Path | None = None, timeout: int = 1800
) -> tuple[Path, float]:
    """Execute ``path``; returns the executed copy's path and the wall time in seconds."""
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError
    from tqdm.auto import tqdm
    from traitlets.config import Config

    nb = nbformat.read(path, as_version=4)
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
    out_path = out_dir / path.name
    start = time.perf_counter()
    failure = None
    previous = os.environ.get(HEADLESS_ENV)
    os.environ[HEADLESS_ENV] = "1"  # the kernel inherits it
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
    nbformat.write(nb, out_path)
    if failure is not None:
        index, error = failure
        raise NotebookFailed(
            f"{path.name}: cell {index} failed after {seconds:.1f} s. The executed copy, up to "
            f"that cell, is {out_path}\n{error}"
        )
    return out_path, seconds
