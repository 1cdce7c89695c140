"""Module 6's checkers accept correct answers written differently and name the mistakes."""

import pytest

from course_lib.checkers import CheckFailed
from course_lib.checkers.final_project import check_choose_approach, check_estimate_epoch_minutes
from course_lib.project.final_project import choose_approach, estimate_epoch_minutes


def stub(*args):
    raise NotImplementedError("Exercise not attempted yet")


@pytest.mark.parametrize(
    "check, reference",
    [
        (check_choose_approach, choose_approach),
        (check_estimate_epoch_minutes, estimate_epoch_minutes),
    ],
)
def test_reference_passes_and_stub_is_not_attempted(check, reference, capsys):
    assert check(reference)
    assert not check(stub)
    assert "[not attempted]" in capsys.readouterr().out


def test_choose_approach_written_differently_passes():
    def table(n, gpu, fits):
        return {
            (False, False): "from scratch",
            (False, True): "from scratch",
            (True, False): "LoRA",
        }.get((fits, gpu and n >= 100_000), "full fine-tuning")

    assert check_choose_approach(table)


@pytest.mark.parametrize(
    "wrong, hint",
    [
        (lambda n, gpu, fits: "LoRA" if fits or n < 10_000 else "from scratch", "nothing to"),
        (
            lambda n, gpu, fits: (
                "LoRA" if fits else "from scratch" if n < 1e5 else "full fine-tuning"
            ),
            "however much data",
        ),
        (
            lambda n, gpu, fits: "from scratch" if not fits or n < 10_000 else "LoRA",
            "data is small",
        ),
        (
            lambda n, gpu, fits: (
                "from scratch" if not fits else "full fine-tuning" if n >= 1e5 else "LoRA"
            ),
            "without a GPU",
        ),
        (
            lambda n, gpu, fits: (
                "from scratch"
                if not fits
                else "full fine-tuning"
                if gpu and n > 100_000
                else "LoRA"
            ),
            "inclusive",
        ),
        (
            lambda n, gpu, fits: (
                "from scratch"
                if not fits
                else "full fine-tuning"
                if gpu and n >= 10_000
                else "LoRA"
            ),
            "below 100,000",
        ),
        (lambda n, gpu, fits: "lora" if fits else "scratch", "return one of"),
    ],
)
def test_choose_approach_mistakes_are_named(wrong, hint):
    with pytest.raises(CheckFailed, match=hint):
        check_choose_approach(wrong)


def test_estimate_written_differently_passes():
    def per_example(src, tgt, speed):
        return sum((s + t) / speed for s, t in zip(src, tgt)) / 60

    assert check_estimate_epoch_minutes(per_example)


@pytest.mark.parametrize(
    "wrong, hint",
    [
        (lambda s, t, v: (sum(s) + sum(t)) / v, "seconds, not minutes"),
        (lambda s, t, v: sum(s) / v / 60, "target tokens too"),
        (lambda s, t, v: sum(t) / v / 60, "source tokens too"),
        (lambda s, t, v: (len(s) + len(t)) / v / 60, "tokens, not examples"),
        (lambda s, t, v: (sum(s) + sum(t)) * v / 60, "not multiplied"),
        (lambda s, t, v: (sum(s) + sum(t)) / v / 3600, "hours, not minutes"),
        (lambda s, t, v: (sum(s) + sum(t)) // v / 60, "expected"),  # rounded down: no hint
        (lambda s, t, v: str((sum(s) + sum(t)) / v / 60), "a number of minutes"),
    ],
)
def test_estimate_mistakes_are_named(wrong, hint):
    with pytest.raises(CheckFailed, match=hint):
        check_estimate_epoch_minutes(wrong)


# ------------------------------------------------------------------ held against many seeds

SEEDS = list(range(100, 120))  # with each checker's default seed: 21 seeds


def nested(n, gpu, fits):
    """Correct, written differently: nested conditions, the threshold as a float."""
    if fits:
        if not gpu or n < 1e5:
            return "LoRA"
        return "full fine-tuning"
    return "from scratch"


def table(n, gpu, fits):
    return {(False, False): "from scratch", (False, True): "from scratch",
            (True, False): "LoRA"}.get((fits, gpu and n >= 100_000), "full fine-tuning")


def rule(threshold=100_000, inclusive=True, use_gpu=True, use_fits=True):
    def choose(n, gpu, fits):
        if use_fits and not fits:
            return "from scratch"
        enough = n >= threshold if inclusive else n > threshold
        return "full fine-tuning" if (gpu or not use_gpu) and enough else "LoRA"

    return choose


def test_choose_approach_checker_holds_over_many_seeds():
    for right in (choose_approach, nested, table):
        for seed in [0, *SEEDS]:
            assert check_choose_approach(right, seed=seed)
    for wrong, hint in [
        (rule(inclusive=False), "inclusive"),
        (rule(threshold=10_000), "below 100,000"),
        (rule(threshold=1_000_000), "at least 100,000"),
        (rule(use_gpu=False), "without a GPU"),
        (rule(use_fits=False), "nothing to fine-tune"),
        (lambda n, gpu, fits: "LoRA" if fits or n < 100_000 else "from scratch", "nothing to"),
        (lambda n, gpu, fits: "from scratch" if not (fits and gpu) else rule()(n, gpu, fits),
         "without a GPU"),
        # from scratch only for small data or with a GPU: the old checker's cases missed it
        (lambda n, gpu, fits: "from scratch" if not fits and (gpu or n < 10_000)
         else rule()(n, gpu, True), "nothing to fine-tune"),
    ]:
        for seed in [0, *SEEDS]:
            with pytest.raises(CheckFailed, match=hint):
                check_choose_approach(wrong, seed=seed)


def test_estimate_checker_holds_over_many_seeds():
    rights = (
        estimate_epoch_minutes,
        lambda s, t, v: sum(a + b for a, b in zip(s, t)) / (v * 60),
        lambda s, t, v: (sum(s) / len(s) + sum(t) / len(t)) * len(s) / v / 60,
    )
    for right in rights:
        for seed in [6, *SEEDS]:
            assert check_estimate_epoch_minutes(right, seed=seed)
    for wrong, hint in [
        (lambda s, t, v: (max(s) + max(t)) * len(s) / v / 60, "counts padding"),
        (lambda s, t, v: ((sum(s) + sum(t)) // v) / 60, "floor division"),
        (lambda s, t, v: (sum(s) + sum(t)) / v, "seconds, not minutes"),
        (lambda s, t, v: sum(s) / v / 60, "target tokens too"),
        (lambda s, t, v: (sum(s) + sum(t)) / v / 60 / len(s), "expected"),  # per example
        (lambda s, t, v: (sum(s) + sum(t)) / (v / 60), "expected"),
    ]:
        for seed in [6, *SEEDS]:
            with pytest.raises(CheckFailed, match=hint):
                check_estimate_epoch_minutes(wrong, seed=seed)
