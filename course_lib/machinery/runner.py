"""Run a module's notebook headless, end to end, in the current profile.

``course run 1`` executes ``notebooks/01_*.ipynb`` (``--solution`` for the solved one) cell by
cell with a progress bar, writes the executed copy with its outputs to the output folder
(on Drive when on Colab) and prints the wall time. It is how a learner runs a whole module on
Colab, and how a maintainer times a module.
"""

from __future__ import annotations

import time
from pathlib import Path

import nbformat

from course_lib.machinery import paths


class NotebookFailed(RuntimeError):
    """A cell raised; the message names the cell and the error."""


def find_notebook(module: str, solution: bool = False, root: Path | None = None) -> Path:
    """The notebook of ``module`` ("1", "01" or "01_rnn..."), learner or solution version."""
    root = root or paths.repo_root()
    if root is None:
        raise FileNotFoundError("No course repository found: run this from a clone of the course.")
    folder = root / ("solutions" if solution else "notebooks")
    prefix = module if not module.isdigit() else f"{int(module):02d}"
    matches = sorted(folder.glob(f"{prefix}*.ipynb"))
    if not matches:
        known = ", ".join(p.stem for p in sorted(folder.glob("*.ipynb"))) or "none"
        raise FileNotFoundError(f"No notebook for module {module!r} in {folder}; known: {known}.")
    return matches[0]


def run_notebook(
    path: Path, output_dir: Path | None = None, timeout: int = 1800
) -> tuple[Path, float]:
    """Execute ``path``; returns the executed copy's path and the wall time in seconds."""
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError
    from tqdm.auto import tqdm

    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
    )
    out_dir = (output_dir or paths.output_dir()) / "executed"
    out_dir.mkdir(parents=True, exist_ok=True)
    out_path = out_dir / path.name
    start = time.perf_counter()
    failure = None
    with client.setup_kernel():
        for index, cell in enumerate(tqdm(nb.cells, desc=path.stem, unit="cell")):
            try:
                client.execute_cell(cell, index)
            except CellExecutionError as err:
                failure = NotebookFailed(f"{path.name}, cell {index} failed:\n{err}")
                break
    seconds = time.perf_counter() - start
    nbformat.write(nb, out_path)
    if failure is not None:
        raise failure
    return out_path, seconds
