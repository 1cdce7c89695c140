"""Where the course is running (Colab or not) and which modules want a GPU.

Shared by the Colab bootstrap (``colab.py``), the environment doctor (``doctor.py``) and the
notebook builder (``lessons.py``), which otherwise would import one another.
"""

from __future__ import annotations

import sys

GPU_HEAVY_MODULES = frozenset({4, 5, 6})  # modules that should run on a GPU runtime on Colab


def gpu_heavy_modules_in_words() -> str:
    """``GPU_HEAVY_MODULES`` in words: "4, 5 and 6"."""
    *first, last = (str(m) for m in sorted(GPU_HEAVY_MODULES))
    return f"{', '.join(first)} and {last}" if first else last


def in_colab() -> bool:
    """True inside a Google Colab runtime (which imports ``google.colab`` at start-up)."""
    return "google.colab" in sys.modules
