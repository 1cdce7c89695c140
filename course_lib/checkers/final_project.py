"""Checkers for the final project's decisions (Module 6)."""

from __future__ import annotations

import random

from course_lib.checkers.core import case, checker
from course_lib.project.final_project import (
    APPROACHES,
    FULL_FINE_TUNING_FROM,
    choose_approach,
    estimate_epoch_minutes,
)


def _approach_hint(num_examples: int, gpu: bool, fits: bool) -> str:
    """What the rule says for this case, and why."""
    if not fits:
        if gpu and num_examples >= FULL_FINE_TUNING_FROM:
            return (
                "without a pre-trained model that fits, there is nothing to fine-tune: "
                "train from scratch, however much data and compute you have."
            )
        return (
            "without a pre-trained model that fits, there is nothing to fine-tune: train "
            "from scratch, whatever the data size or device."
        )
    if not gpu:
        return (
            "without a GPU, full fine-tuning of a pre-trained model is slow: LoRA, "
            "whatever the data size."
        )
    if num_examples >= FULL_FINE_TUNING_FROM:
        return (
            f"with a GPU and at least {FULL_FINE_TUNING_FROM:,} examples (inclusive: >=), "
            "full fine-tuning."
        )
    if num_examples < FULL_FINE_TUNING_FROM // 10:
        return (
            "a pre-trained model fits and data is small: LoRA (full fine-tuning of every "
            "weight overfits small data and costs more memory; from scratch wastes the "
            "pre-training)."
        )
    return f"below {FULL_FINE_TUNING_FROM:,} examples, LoRA even with a GPU."


def _approach_cases(seed: int) -> list[tuple[int, bool, bool]]:
    """Both sides of every boundary of the rule, then random sizes (``seed`` picks them)."""
    first = [
        (500, False, False),
        (1_000_000, True, False),
        (2_000, True, True),
        (1_000_000, False, True),
        (FULL_FINE_TUNING_FROM, True, True),
        (FULL_FINE_TUNING_FROM - 1, True, True),
    ]
    sizes = (
        1,
        2_000,
        FULL_FINE_TUNING_FROM - 1,
        FULL_FINE_TUNING_FROM,
        FULL_FINE_TUNING_FROM + 1,
        10 * FULL_FINE_TUNING_FROM,
    )
    grid = [(n, gpu, fits) for n in sizes for gpu in (True, False) for fits in (True, False)]
    rng = random.Random(seed)
    drawn = [
        (int(10 ** rng.uniform(1, 7)), rng.random() < 0.5, rng.random() < 0.5) for _ in range(10)
    ]
    return first + grid + drawn


@checker
def check_choose_approach(choose, seed: int = 0) -> None:
    """``choose(num_examples, gpu, pretrained_fits)`` must follow the rule in the text, on
    both sides of every boundary (the example count, the GPU, a fitting pre-trained model)."""
    for num_examples, gpu, fits in _approach_cases(seed):
        with case(f"choose_approach({num_examples}, gpu={gpu}, pretrained_fits={fits})"):
            answer = choose(num_examples, gpu, fits)
        if answer not in APPROACHES:
            raise AssertionError(
                f"choose_approach({num_examples}, gpu={gpu}, pretrained_fits={fits}) returned "
                f"{answer!r}; return one of {', '.join(repr(a) for a in APPROACHES)}."
            )
        expected = choose_approach(num_examples, gpu, fits)
        if answer != expected:
            raise AssertionError(
                f"choose_approach({num_examples:,}, gpu={gpu}, pretrained_fits={fits}) returned "
                f"{answer!r}, expected {expected!r}.\nHint: "
                f"{_approach_hint(num_examples, gpu, fits)}"
            )


@checker
def check_estimate_epoch_minutes(estimate, seed: int = 6) -> None:
    """``estimate(source_lengths, target_lengths, tokens_per_second)`` in minutes."""
    rng = random.Random(seed)
    for _ in range(3):
        sources = [rng.randint(5, 60) for _ in range(rng.randint(20, 200))]
        targets = [rng.randint(1, 30) for _ in range(len(sources))]
        speed = rng.uniform(500, 20_000)
        expected = estimate_epoch_minutes(sources, targets, speed)
        with case(f"estimate on {len(sources)} examples at {speed:,.0f} tokens/s"):
            answer = estimate(sources, targets, speed)
        if not isinstance(answer, (int, float)):
            raise AssertionError(f"return a number of minutes, got {type(answer).__name__}.")
        if abs(answer - expected) <= 1e-6 * expected:
            continue
        source_total, target_total = sum(sources), sum(targets)
        tokens = source_total + target_total
        mistakes = {
            "seconds, not minutes: divide by 60.": expected * 60,
            "count the target tokens too: the decoder reads them all.": source_total / speed / 60,
            "count the source tokens too: the encoder reads them all.": target_total / speed / 60,
            "count tokens, not examples: sum the lengths.": 2 * len(sources) / speed / 60,
            "time is tokens divided by tokens per second, not multiplied.": tokens * speed / 60,
            "hours, not minutes: divide by 60 once.": expected / 60,
            "count the real tokens (the sum of the lengths): the longest length times the "
            "number of examples counts padding too.": (max(sources) + max(targets))
            * len(sources)
            / speed
            / 60,
            "divide with /, not //: floor division rounds the seconds down.": (tokens // speed)
            / 60,
        }
        for hint, wrong in mistakes.items():
            if abs(answer - wrong) <= 1e-6 * abs(wrong):
                raise AssertionError(
                    f"estimate gave {answer:.4g} minutes, expected {expected:.4g}.\nHint: {hint}"
                )
        raise AssertionError(
            f"estimate gave {answer:.4g} minutes for {len(sources)} examples of "
            f"{source_total:,} source and {target_total:,} target tokens at {speed:,.0f} "
            f"tokens/s; expected {expected:.4g}."
        )
