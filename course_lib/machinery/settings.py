"""One call at the top of every notebook: ``cfg = setup(module=1)``.

It picks the profile and the device, seeds every random number generator, finds the data and
output folders, looks up the module's sizes, and prints a one-line banner.
"""

from __future__ import annotations

import os
import random
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from course_lib.machinery import paths
from course_lib.machinery.profiles import detect_profile, sizes_for
from course_lib.machinery.progress import quiet_library_bars


@dataclass(frozen=True)
class Settings:
    """The settings of one notebook run."""

    module: int  # course module number (1-5)
    profile: str  # "ci", "cpu" or "gpu"
    device: torch.device  # where tensors and models go
    seed: int  # the seed every RNG was given
    threads: int  # CPU threads torch uses (1 in the ci profile: tiny models, shared cores)
    data_dir: Path  # where data sets are read from (or cached to)
    output_dir: Path  # where checkpoints and executed notebooks go
    sizes: dict = field(default_factory=dict)  # this module's sizes in this profile

    def banner(self) -> str:
        return (
            f"[course] module {self.module:02d} | profile {self.profile} | "
            f"device {self.device} | threads {self.threads} | seed {self.seed} | "
            f"data {self.data_dir} | "
            f"outputs {self.output_dir}"
        )


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and PyTorch (CPU and CUDA) so runs repeat exactly on CPU."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)


def pick_device(profile: str) -> torch.device:
    """``COURSE_DEVICE`` if set; else cuda, then mps, then cpu (always cpu for ``ci``).

    Raises ValueError when ``COURSE_DEVICE`` names no device, or one this machine lacks.
    """
    name = os.environ.get("COURSE_DEVICE", "").strip()
    if name:
        return _named_device(name)
    if profile == "ci":
        return torch.device("cpu")
    if torch.cuda.is_available():
        return torch.device("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def _named_device(name: str) -> torch.device:
    """The device ``COURSE_DEVICE=name`` asks for, if this machine has it."""
    fix = "set COURSE_DEVICE to cpu (or cuda / mps on a machine that has one), or unset it"
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ValueError(f"COURSE_DEVICE={name!r} is not a device name: {fix}.") from None
    if device.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise ValueError(f"COURSE_DEVICE={name!r} but this machine has no CUDA GPU: {fix}.")
        if device.index is not None and device.index >= count:
            raise ValueError(f"COURSE_DEVICE={name!r} but this machine has {count} GPU(s): {fix}.")
    elif device.type == "mps":
        mps = getattr(torch.backends, "mps", None)
        if mps is None or not mps.is_available():
            raise ValueError(f"COURSE_DEVICE={name!r} but this machine has no MPS GPU: {fix}.")
    elif device.type != "cpu":
        raise ValueError(f"COURSE_DEVICE={name!r}: the course runs on cpu, cuda or mps; {fix}.")
    return device


def pick_threads(profile: str) -> int:
    """``COURSE_THREADS`` if set; 1 in the ``ci`` profile; else torch's default.

    The ``ci`` models are tiny: one thread runs them as fast as several, and several threads
    that wait on each other slow down badly when another process shares the cores.
    """
    value = os.environ.get("COURSE_THREADS", "").strip()
    if value:
        if not value.isdigit() or int(value) < 1:
            raise ValueError(f"COURSE_THREADS={value!r}: use a whole number >= 1, or unset it.")
        return int(value)
    return 1 if profile == "ci" else torch.get_num_threads()


def check_environment(profile: str) -> None:
    """Raise ValueError, in one line with its fix, for any bad ``COURSE_*`` setting.

    Checks ``COURSE_THREADS``, ``COURSE_DEVICE``, ``COURSE_DATA_DIR`` and the output folder,
    so that ``course run`` refuses before starting a kernel (``COURSE_PROFILE`` is checked
    by ``detect_profile``).
    """
    pick_threads(profile)
    pick_device(profile)
    paths.data_dir()
    paths.output_dir()


def setup(module: int, seed: int = 0, verbose: bool = True) -> Settings:
    """Settings for this run of ``module``'s notebook; prints the banner when ``verbose``.

    A bad ``COURSE_*`` setting raises ValueError saying which and how to fix it.
    """
    profile = detect_profile()
    quiet_library_bars()  # before any Hugging Face import: the course prints its own lines
    seed_everything(seed)
    threads = pick_threads(profile)
    torch.set_num_threads(threads)
    from course_lib.data.registry import data_root

    cfg = Settings(
        module=module,
        profile=profile,
        device=pick_device(profile),
        seed=seed,
        threads=threads,
        data_dir=data_root(),
        output_dir=paths.output_dir(),
        sizes=sizes_for(module, profile),
    )
    if verbose:
        print(cfg.banner())
    return cfg
