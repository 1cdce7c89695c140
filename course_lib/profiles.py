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

# Module 2 on a laptop CPU (MODULE_02["ci"] below comments every entry); gpu differs only
# in the lengths of the cost-of-attention measurement.
_MODULE_02_CPU = {
    "scale_dims": [4, 16, 64, 256, 1024],
    "scale_samples": 4000,
    "min_unscaled_max_weight": 0.9,
    "max_scaled_max_weight": 0.35,
    "task_train": 3000,
    "task_val": 1000,
    "task_epochs": 8,
    "task_d_model": 32,
    "task_lr": 0.02,
    "batch_size": 64,
    "min_task_accuracy": 0.95,
    "max_accuracy_without_positions": 0.3,
    "min_head_focus": 0.6,
    "cost_lengths": [64, 128, 256, 512, 1024, 2048],
    "cost_repeats": 5,
    "min_time_slope": 1.2,
}

MODULE_02 = {  # self-attention, multi-head attention, positional encoding
    "ci": {
        "scale_dims": [4, 16, 64, 256, 1024],  # d_k values of the "why scale?" measurements
        "scale_samples": 1000,  # random (query, 16 keys) draws per d_k
        "min_unscaled_max_weight": 0.85,  # asserted: unscaled softmax saturates at the largest d_k
        "max_scaled_max_weight": 0.4,  # asserted: scaled softmax stays spread out
        "task_train": 800,  # training strings of the neighbour task (random letters, 4-12 long)
        "task_val": 300,  # held-out strings of the neighbour task
        "task_epochs": 6,  # epochs per model (no positions, sinusoidal, learned)
        "task_d_model": 32,  # width of the one-layer, two-head attention model
        "task_lr": 0.03,  # Adam learning rate
        "batch_size": 64,  # batch size of the neighbour task
        "min_task_accuracy": 0.6,  # asserted: with positions, neighbours are predicted
        "max_accuracy_without_positions": 0.35,  # asserted: without positions, they are not
        "min_head_focus": 0.4,  # asserted: weight one head puts on the left (right) neighbour
        "cost_lengths": [64, 128, 256, 512, 1024],  # sequence lengths of the cost measurement
        "cost_repeats": 3,  # timed calls per length, on one thread (the fastest is kept)
        "min_time_slope": 0.5,  # asserted loosely (shared machines are noisy): log-log time slope
    },
    "cpu": _MODULE_02_CPU,
    "gpu": {**_MODULE_02_CPU, "cost_lengths": [256, 512, 1024, 2048, 4096], "min_time_slope": 1.0},
}

SIZES: dict[int, dict[str, dict]] = {
    0: MODULE_00,
    2: MODULE_02,
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
