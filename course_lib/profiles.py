"""Run profiles: the same notebook at three sizes.

``ci``  tiny data and models, offline, about a minute per notebook on 2 CPU cores.
``cpu`` a laptop CPU: about 10 minutes per notebook, still showing real learning.
``gpu`` CUDA (Colab T4 class): full sizes, mixed precision on.

Every size a notebook uses (data subset, model width, epochs, asserted thresholds) is looked
up here, in one table keyed by module and profile, never scattered through cells.
"""

from __future__ import annotations

import os

PROFILES = ("ci", "cpu", "gpu")

# Module 0 is the course machinery itself (used by the tests and the pilot cells).
MODULE_00 = {  # the course tour: a bigram character model of surnames
    "ci": {
        "steps": 150,  # optimisation steps of the bigram model
        "min_gain_nats": 0.3,  # asserted: validation loss this far below the uniform baseline
    },
    "cpu": {"steps": 400, "min_gain_nats": 0.5},
    "gpu": {"steps": 400, "min_gain_nats": 0.5},
}

SIZES: dict[int, dict[str, dict]] = {
    0: MODULE_00,
}


def detect_profile(cuda_available: bool | None = None) -> str:
    """The profile named by ``COURSE_PROFILE``, else ``gpu`` with CUDA and ``cpu`` without."""
    name = os.environ.get("COURSE_PROFILE", "").strip().lower()
    if name:
        if name not in PROFILES:
            raise ValueError(
                f"COURSE_PROFILE={name!r} is not a profile of this course; "
                f"use one of {', '.join(PROFILES)} (or unset it to choose automatically)."
            )
        return name
    if cuda_available is None:
        import torch

        cuda_available = torch.cuda.is_available()
    return "gpu" if cuda_available else "cpu"


def sizes_for(module: int, profile: str) -> dict:
    """The size table of one module in one profile (a fresh copy, safe to edit)."""
    if profile not in PROFILES:
        raise ValueError(f"Unknown profile {profile!r}; use one of {', '.join(PROFILES)}.")
    if module not in SIZES:
        known = ", ".join(str(m) for m in sorted(SIZES))
        raise KeyError(f"No sizes for module {module}; modules with sizes: {known}.")
    return dict(SIZES[module][profile])
