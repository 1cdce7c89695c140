"""Modules 4-6: result sentences rendered from the run's own numbers.

A notebook sentence that quotes a measured value is written as an f-string and shown with
``say``, so the text can never disagree with the output it describes::

    say(f"Attention reaches **{attn:.2f}** exact match on the longest strings.")

Results too slow for a notebook come from a script in ``benchmarks/``, which writes a Markdown
file with its machine, versions and date; ``show_benchmark`` displays that file as written.
"""

from __future__ import annotations

from pathlib import Path

from course_lib.machinery import paths


def say(markdown: str) -> None:
    """Display ``markdown`` as formatted text in a notebook (plain text elsewhere)."""
    if not isinstance(markdown, str) or not markdown.strip():
        raise ValueError(
            "say() needs a non-empty Markdown string, e.g. say(f'accuracy {acc:.2f}')."
        )
    try:
        from IPython import get_ipython
        from IPython.display import Markdown, display
    except ImportError:  # IPython is a dependency of the notebooks, not of the library
        print(markdown)
        return
    if get_ipython() is None:
        print(markdown)
    else:
        display(Markdown(markdown))


def show_benchmark(name: str, root: Path | None = None) -> None:
    """Display ``benchmarks/results/<name>`` as written, or say which script produces it.

    ``root`` is the repository checkout (default: the one holding this package, else the
    working directory).
    """
    root = root or paths.repo_root() or Path.cwd()
    path = root / "benchmarks" / "results" / name
    if not path.is_file():
        script = Path("benchmarks") / (Path(name).stem + ".py")
        print(f"{path} is missing: run `python {script} --help` in the repository to produce it.")
        return
    say(path.read_text())


OUTCOMES = ("better", "level", "worse")
TOO_SMALL = "this profile is too small to show the effect"


def compare(
    value: float,
    reference: float,
    noise: float = 0.0,
    higher_is_better: bool = True,
    digits: int = 2,
) -> str:
    """``"better"``, ``"level"`` or ``"worse"``: ``value`` against ``reference``.

    Level when the two are equal as shown (rounded to ``digits`` decimals) or differ by no
    more than ``noise`` (e.g. the distance another seed moved the result).
    """
    for name, number in (("value", value), ("reference", reference), ("noise", noise)):
        if not isinstance(number, (int, float)) or number != number:
            raise ValueError(f"compare() needs real numbers, got {name}={number!r}")
    if noise < 0:
        raise ValueError(f"noise is a distance and must be >= 0, got {noise}")
    diff = round(value, digits) - round(reference, digits)
    if round(diff, digits) == 0 or round(abs(value - reference), 12) <= noise:
        return "level"
    return "better" if (diff > 0) == higher_is_better else "worse"


def compare_sentence(
    subject: str,
    value: float,
    other: str,
    reference: float,
    *,
    unit: str = "",
    digits: int = 2,
    higher_is_better: bool = True,
    noise: float | None = None,
    expected: str | None = None,
    verb: str = "scores",
) -> str:
    """A Markdown sentence comparing two shown values, its words chosen from them.

    "{subject} {verb} **{value}**, better than / level with / worse than {other}
    ({reference})"; with ``noise`` it adds whether the gap is beyond it, and with
    ``expected`` (one of :data:`OUTCOMES`) a result that differs from it ends with
    :data:`TOO_SMALL` instead of reading as a finding.
    """
    if expected is not None and expected not in OUTCOMES:
        raise ValueError(f"expected must be one of {OUTCOMES}, got {expected!r}")
    outcome = compare(value, reference, noise or 0.0, higher_is_better, digits)
    unit = f" {unit}" if unit else ""
    phrase = {"better": "better than", "level": "level with", "worse": "worse than"}[outcome]
    text = (
        f"{subject} {verb} **{value:.{digits}f}{unit}**, {phrase} {other} "
        f"({reference:.{digits}f}{unit})"
    )
    if noise is not None and noise > 0:
        within = "within" if outcome == "level" else "beyond"
        text += f", {within} the noise of one run (±{noise:.{digits}f})"
    if expected is not None and outcome != expected:
        text += f": {TOO_SMALL} (expected: {expected})"
    return text + "."
