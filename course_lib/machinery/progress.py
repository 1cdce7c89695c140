"""Progress bars that read correctly both live and in an executed notebook's saved copy.

In a live notebook :func:`progress_bar` is ``tqdm.auto``'s widget bar. A headless run
(``course run``, ``pytest``/nbval: they set ``COURSE_HEADLESS=1``) saves outputs that nobody
watches update, and a widget's saved text is its *first* state ("epochs: 0%| 0/3"). There the
bar is tqdm's text bar, redrawn rarely, whose carriage returns ``course run`` collapses to the
final line ("epochs: 100%| 3/3 ...").
"""

from __future__ import annotations

import os
import sys

HEADLESS_ENV = "COURSE_HEADLESS"  # set to 1 by the headless runners


def headless() -> bool:
    """True when the notebook runs without a live front end (``COURSE_HEADLESS=1``)."""
    return os.environ.get(HEADLESS_ENV, "").strip().lower() in {"1", "true", "yes"}


def progress_bar(iterable=None, **kwargs):
    """A tqdm bar: the widget bar live, a text bar on stdout in headless runs."""
    if headless():
        from tqdm.std import tqdm

        kwargs.setdefault("file", sys.stdout)
        kwargs.setdefault("mininterval", 30.0)  # few redraws: the saved copy stays small
        kwargs.setdefault("ascii", True)
        return tqdm(iterable, **kwargs)
    from tqdm.auto import tqdm

    return tqdm(iterable, **kwargs)
