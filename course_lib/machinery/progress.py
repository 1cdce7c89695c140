"""Progress bars that read correctly both live and in an executed notebook's saved copy.

In a live notebook :func:`progress_bar` is ``tqdm.auto``'s widget bar. A headless run
(``course run``, ``pytest``/nbval: they set ``COURSE_HEADLESS=1``) saves outputs that nobody
watches update, and a widget's saved text is its *first* state ("epochs: 0%| 0/3"). There the
bar is tqdm's text bar, redrawn rarely, whose carriage returns ``course run`` collapses to the
final line ("epochs: 100%| 3/3 ...").
"""

from __future__ import annotations

import os
import re
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


LIBRARY_BAR_SWITCHES = ("HF_HUB_DISABLE_PROGRESS_BARS", "HF_DATASETS_DISABLE_PROGRESS_BARS")


def quiet_library_bars() -> None:
    """Switch off the Hugging Face libraries' own bars ("Map", "Loading weights", "Writing
    model shards"), where the course prints its own line about the step.

    Saved in an executed copy, such a widget shows its first state ("0%| 0/103") forever.
    Uses the libraries' switches: the environment variables above (read at import, so call
    this before importing them) and, for a library already imported, its disable function.
    A learner who sets either variable to 0 keeps the bars.
    """
    for name in LIBRARY_BAR_SWITCHES:
        os.environ.setdefault(name, "1")
    if os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] == "1":
        if "huggingface_hub" in sys.modules:
            sys.modules["huggingface_hub"].utils.disable_progress_bars()
        if "transformers" in sys.modules:
            from transformers.utils import logging as transformers_logging

            transformers_logging.disable_progress_bar()
    if os.environ["HF_DATASETS_DISABLE_PROGRESS_BARS"] == "1" and "datasets" in sys.modules:
        sys.modules["datasets"].disable_progress_bars()


_PERCENT = re.compile(r"(\d{1,3})%\|")


def _text(value) -> str:
    return "".join(value) if isinstance(value, list) else value


def _as_shown(outputs: list[dict]) -> list[dict]:
    """``outputs`` with consecutive stream chunks of one stream joined, as a notebook shows
    them (a text bar's "0%" chunk and its later redraws become one text)."""
    shown: list[dict] = []
    for output in outputs:
        previous = shown[-1] if shown else None
        if (
            output.get("output_type") == "stream"
            and previous is not None
            and previous.get("output_type") == "stream"
            and previous.get("name") == output.get("name")
        ):
            shown[-1] = {**previous, "text": _text(previous["text"]) + _text(output["text"])}
        else:
            shown.append(output)
    return shown


def _plain_text(output: dict) -> str:
    """The plain text an output shows: a stream's text, or a display's text/plain."""
    if output.get("output_type") == "stream":
        return _text(output.get("text", ""))
    return _text(output.get("data", {}).get("text/plain", ""))


def output_problems(notebook: dict) -> list[str]:
    """What in an executed notebook's saved outputs reads wrong, one line per problem:

    - a progress bar whose last state is below 100% (a widget saved at "0%| 0/103", or a
      text bar that stopped early);
    - the same rich output twice in one cell (a widget both returned and displayed);
    - a ``Trainer`` table with "No log" in its training-loss column (``evaluate``'s table).

    ``notebook`` is the parsed ``.ipynb`` JSON (``json.load`` or ``nbformat.read``).
    """
    if not isinstance(notebook, dict) or "cells" not in notebook:
        raise ValueError("output_problems() needs a parsed notebook: json.load(open(path)).")
    problems = []
    for number, cell in enumerate(notebook["cells"]):  # numbered as `course run` numbers them
        if cell.get("cell_type") != "code":
            continue
        seen = []
        for output in _as_shown(cell.get("outputs", [])):
            for line in _plain_text(output).split("\n"):
                last = line.split("\r")[-1]
                match = _PERCENT.search(last)
                if match and int(match.group(1)) < 100:
                    problems.append(
                        f"cell {number}: a progress bar stopped at "
                        f"{match.group(1)}%: {last.strip()[:80]!r}"
                    )
            data = output.get("data")
            if output.get("output_type") in ("display_data", "execute_result") and data:
                html = _text(data.get("text/html", ""))
                if "Training Loss" in html and "No log" in html:
                    problems.append(
                        f"cell {number}: a Trainer table with no training loss "
                        "('No log'): evaluate()'s table"
                    )
                if "text/html" in data and (not html.strip() or "<progress" in html):
                    # a cleared display, or Trainer's HTML bar: redrawn in place by its
                    # display_id (nbval keeps only its first state, a saved copy its last)
                    continue
                if data in seen:  # a widget returned and displayed: the same model_id twice
                    problems.append(f"cell {number}: the same output shown twice")
                seen.append(data)
    return problems
