"""Module 5: an interactive explorer of sampling: prompt, temperature, top-k, top-p.

In Jupyter or Colab it shows ipywidgets sliders and a *Generate* button. Without a widget
front-end (the tests run notebooks headless, with ``COURSE_HEADLESS=1``) it prints a table
of texts generated with a grid of settings instead, so the cell still shows something real.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence

GenerateFn = Callable[[str, float, int, float, int], str]
"""``generate(prompt, temperature, top_k, top_p, max_new_tokens) -> text``; temperature 0
means greedy; top_k 0 and top_p 1.0 mean "no filter"."""

DEFAULT_GRID = (  # (temperature, top_k, top_p): greedy, then ever more adventurous sampling
    (0.0, 0, 1.0),
    (0.7, 0, 1.0),
    (1.0, 10, 1.0),
    (1.0, 0, 0.9),
    (1.5, 0, 1.0),
)


def widget_frontend_available() -> bool:
    """True in a Jupyter/Colab kernel that can show widgets (and ``COURSE_HEADLESS`` unset)."""
    if os.environ.get("COURSE_HEADLESS", "").strip().lower() in {"1", "true", "yes"}:
        return False
    try:
        import ipywidgets  # noqa: F401
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and type(shell).__name__ in {"ZMQInteractiveShell", "Shell"}


def settings_table(
    generate: GenerateFn,
    prompt: str,
    grid: Sequence[tuple[float, int, float]] = DEFAULT_GRID,
    max_new_tokens: int = 40,
) -> list[tuple[str, str]]:
    """Print one generated text per ``(temperature, top_k, top_p)``; return (setting, text)."""
    rows = []
    for temperature, top_k, top_p in grid:
        label = (
            "greedy"
            if temperature == 0
            else (
                f"T={temperature:g}"
                + (f", top_k={top_k}" if top_k else "")
                + (f", top_p={top_p:g}" if top_p < 1 else "")
            )
        )
        text = generate(prompt, temperature, top_k, top_p, max_new_tokens).replace("\n", " / ")
        rows.append((label, text))
    width = max(len(label) for label, _ in rows)
    print(f"prompt: {prompt!r}")
    for label, text in rows:
        print(f"  {label:<{width}} | {text}")
    return rows


def generation_explorer(generate: GenerateFn, prompt: str, max_new_tokens: int = 40):
    """Sliders and a button in a notebook; the printed :func:`settings_table` headless."""
    if not widget_frontend_available():
        print("(no widget front-end here: a table of fixed settings instead of the sliders)")
        settings_table(generate, prompt, max_new_tokens=max_new_tokens)
        return None
    import ipywidgets as w
    from IPython.display import display

    text = w.Text(value=prompt, description="prompt", layout=w.Layout(width="95%"))
    temperature = w.FloatSlider(value=1.0, min=0.0, max=2.0, step=0.05, description="temperature")
    top_k = w.IntSlider(value=0, min=0, max=100, description="top_k (0: off)")
    top_p = w.FloatSlider(value=1.0, min=0.05, max=1.0, step=0.05, description="top_p")
    length = w.IntSlider(value=max_new_tokens, min=5, max=200, description="new tokens")
    button, output = w.Button(description="Generate", button_style="primary"), w.Output()

    def on_click(_):
        with output:
            output.clear_output()
            print(generate(text.value, temperature.value, top_k.value, top_p.value, length.value))

    button.on_click(on_click)
    box = w.VBox([text, w.HBox([temperature, top_k]), w.HBox([top_p, length]), button, output])
    display(box)
    return box
