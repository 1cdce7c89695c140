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

MODULE_03 = {  # the Transformer encoder, and a sentiment classifier built on it
    "ci": {
        "flow_depth": 12,  # encoder layers in the gradient-flow experiment (residuals or not)
        "flow_d_model": 32,  # width of those layers
        "min_freq": 2,  # a word enters the vocabulary when seen this often in training
        "max_tokens": 64,  # sentences are cut to this many tokens
        "d_model": 32,  # classifier: model width
        "num_heads": 2,  # classifier: attention heads per layer
        "d_ff": 64,  # classifier: inner width of the feed-forward network
        "num_layers": 1,  # classifier: encoder layers
        "dropout": 0.1,  # classifier: dropout everywhere (embeddings, attention, FFN, residual)
        "batch_size": 64,  # sentences per training batch
        "epochs": 2,  # passes over the 8,530 training sentences
        "lr": 5e-3,  # AdamW peak learning rate
        "warmup_steps": 20,  # linear warm-up steps, then linear decay to zero
        "min_test_accuracy": 0.62,  # asserted on the held-out test split (chance is 0.5)
        "min_test_f1": 0.6,  # asserted macro F1 on the test split
    },
    "cpu": {
        "flow_depth": 24, "flow_d_model": 64, "min_freq": 2, "max_tokens": 64,
        "d_model": 64, "num_heads": 4, "d_ff": 128, "num_layers": 2, "dropout": 0.3,
        "batch_size": 32, "epochs": 3, "lr": 2e-3, "warmup_steps": 100,
        "min_test_accuracy": 0.72, "min_test_f1": 0.72,
    },
    "gpu": {
        "flow_depth": 48, "flow_d_model": 64, "min_freq": 2, "max_tokens": 64,
        "d_model": 128, "num_heads": 8, "d_ff": 256, "num_layers": 2, "dropout": 0.3,
        "batch_size": 32, "epochs": 3, "lr": 1e-3, "warmup_steps": 100,
        "min_test_accuracy": 0.72, "min_test_f1": 0.72,
    },
}

SIZES: dict[int, dict[str, dict]] = {
    0: MODULE_00,
    3: MODULE_03,
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
