"""Where the course reads data and writes outputs.

Data: ``COURSE_DATA_DIR`` if set, else the cache folder ``data/`` of the repository
(``~/.cache/course_lib/data`` when the package is installed without the repository).
Outputs: ``COURSE_OUTPUT_DIR`` if set, else a folder on Google Drive when running on Colab
with Drive mounted (so a disconnected runtime loses nothing), else ``outputs/`` of the
repository.
"""

from __future__ import annotations

import os
from pathlib import Path

DRIVE_ROOT = Path("/content/drive/MyDrive")  # where Colab shows "My Drive" once mounted
DRIVE_FOLDER = "transformers-course"  # the course's folder on Drive


def repo_root() -> Path | None:
    """The repository checkout holding this package, or None for a plain install."""
    root = Path(__file__).resolve().parents[2]
    return root if (root / "pyproject.toml").is_file() else None


def cache_dir() -> Path:
    """The download cache for data sets (created on first download)."""
    root = repo_root()
    return root / "data" if root else Path.home() / ".cache" / "course_lib" / "data"


def data_dir() -> Path | None:
    """The folder named by ``COURSE_DATA_DIR``, or None when it is unset.

    Raises ValueError when it names no folder (missing, or a file): a typo there would
    otherwise be ignored in silence and the data read from somewhere else.
    """
    value = os.environ.get("COURSE_DATA_DIR", "").strip()
    if not value:
        return None
    path = Path(value).expanduser().resolve()
    if not path.is_dir():
        what = "a file" if path.exists() else "missing"
        raise ValueError(
            f"COURSE_DATA_DIR={value!r} is not a folder ({path} is {what}): set "
            f"COURSE_DATA_DIR to the folder that holds the data sets (the one with names/ in "
            f"it), or unset it to use the download cache."
        )
    return path


def drive_mounted(drive_root: Path | None = None) -> bool:
    """True on Colab once ``drive.mount('/content/drive')`` has run."""
    return (drive_root or DRIVE_ROOT).is_dir()


def drive_output_dir(drive_root: Path | None = None) -> Path:
    """The course's output folder on Google Drive (``DRIVE_ROOT`` unless ``drive_root``)."""
    return (drive_root or DRIVE_ROOT) / DRIVE_FOLDER / "outputs"


def output_dir(drive_root: Path | None = None) -> Path:
    """Where notebooks write checkpoints, executed copies and results (created if needed).

    Raises ValueError, naming the folder and the fix, when it is a file or cannot be created.
    """
    value = os.environ.get("COURSE_OUTPUT_DIR", "").strip()
    if value:
        path = Path(value).expanduser()
    elif drive_mounted(drive_root):
        path = drive_output_dir(drive_root)
    else:
        root = repo_root()
        path = root / "outputs" if root else Path.cwd() / "outputs"
    where = f"COURSE_OUTPUT_DIR={value!r}" if value else f"the output folder {path}"
    fix = "set COURSE_OUTPUT_DIR to a folder you can write to"
    if path.exists() and not path.is_dir():
        raise ValueError(f"{where} is a file, not a folder: {fix} (or move the file away).")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ValueError(f"{where} cannot be created ({err.strerror}): {fix}.") from None
    return path
