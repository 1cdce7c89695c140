"""Result sentences rendered from the run's own numbers.

A notebook sentence that quotes a measured value is written as an f-string and shown with
``say``, so the text can never disagree with the output it describes::

    say(f"Attention reaches **{attn:.2f}** exact match on the longest strings.")
"""

from __future__ import annotations


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
