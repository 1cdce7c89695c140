"""Result sentences rendered from the run's own numbers.

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
