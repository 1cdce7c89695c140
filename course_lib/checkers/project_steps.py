"""Checkers for the final project's decisions: the data validation rule, the metric for the
task, and the baseline to beat.

Each runs the learner's function on cases chosen to sit on both sides of every rule and
compares with the course's answer (``course_lib.project.evaluation`` for metrics and baselines,
:func:`reference_drop_reason` for the data rule).
"""

from __future__ import annotations

from course_lib.checkers.core import case, checker
from course_lib.project.evaluation import MAIN_METRIC, baseline

DROP_REASONS = ("empty", "copy", "too long")


def reference_drop_reason(source: str, target: str, max_source_words: int) -> str | None:
    """Why a pair should not be trained on, or None: ``"empty"`` (a side is blank),
    ``"copy"`` (the target repeats the source, ignoring case and outer spaces) or ``"too
    long"`` (more than ``max_source_words`` words in the source), checked in that order."""
    if not source.strip() or not target.strip():
        return "empty"
    if source.strip().lower() == target.strip().lower():
        return "copy"
    if len(source.split()) > max_source_words:
        return "too long"
    return None


_DROP_CASES = [
    (("Ein Hund rennt.", "A dog runs."), None, "an ordinary pair"),
    (("", "A dog runs."), "empty", "an empty source"),
    (("Ein Hund rennt.", "   "), "empty", "a target of spaces only"),
    (("  \n", "\t"), "empty", "two blank sides (empty comes before copy)"),
    (("Rock climbing.", "rock climbing. "), "copy", "a copy differing in case and spaces"),
    (("Rock climbing.", "Rock climbing, indoors."), None, "a target that only starts alike"),
    ((" ".join(["Wort"] * 5), "five words"), None, "exactly the word limit (5): kept"),
    ((" ".join(["Wort"] * 6), "six words"), "too long", "one word over the limit"),
    ((" ".join(["x"] * 6), " ".join(["X"] * 6)), "copy", "a long copy (copy comes first)"),
    (
        ("Straßenmusikerinnenwettbewerb", "street musicians' contest"),
        None,
        "one long word (count words, not characters)",
    ),
]


@checker
def check_drop_reason(drop_reason) -> None:
    """``drop_reason(source, target, max_source_words) -> "empty" | "copy" | "too long" |
    None``."""
    for (source, target), expected, what in _DROP_CASES:
        with case(f"{what}: drop_reason({source!r}, {target!r}, 5)"):
            got = drop_reason(source, target, 5)
        if got != expected:
            raise AssertionError(
                f"{what}: drop_reason({source!r}, {target!r}, 5) returned {got!r}, expected "
                f"{expected!r}. The rules, in order: 'empty' when a side is blank after "
                "strip(); 'copy' when the stripped, lower-cased sides are equal; 'too long' "
                "when the source has more than max_source_words words (split()); else None."
            )
    print("  blank sides, copies and over-long sources are found; the limit is inclusive")


@checker
def check_choose_metric(choose_metric) -> None:
    """``choose_metric(task, balanced=True)`` -> the key of ``evaluation.score`` to report."""
    expected = {
        ("translation", True): MAIN_METRIC["translation"],
        ("summarisation", True): MAIN_METRIC["summarisation"],
        ("classification", True): MAIN_METRIC["classification"],
        ("classification", False): "f1",
    }
    why = {
        "translation": "BLEU ('bleu') compares n-grams with the reference translation",
        "summarisation": "ROUGE-L ('rougeL') rewards the longest common subsequence with the "
        "reference summary, whatever the wording around it",
        "classification": "with balanced classes accuracy ('accuracy') is clear; when one "
        "class dominates, a model that always answers it scores a high accuracy, so report "
        "macro F1 ('f1'), the mean of the per-class F1",
    }
    for (task, balanced), answer in expected.items():
        with case(f"choose_metric({task!r}, balanced={balanced})"):
            got = choose_metric(task, balanced)
        if got != answer:
            raise AssertionError(
                f"choose_metric({task!r}, balanced={balanced}) returned {got!r}, expected "
                f"{answer!r}: {why[task]}."
            )
    print("  one metric per task; macro F1 when the classes are imbalanced")


_SOURCES = ["Ein Mann fährt Rad.", "Zwei Kinder spielen im Park.", "Eine Frau liest."]
_ARTICLES = [
    "First sentence here. Second one! Third one? Fourth one. Fifth.",
    "Only one sentence without an end",
    "Short. Text.",
]


@checker
def check_baseline_predictions(baseline_predictions) -> None:
    """``baseline_predictions(task, sources, train_targets) -> list[str]``, one per source."""
    cases = [
        ("translation", _SOURCES, ["A man rides.", "Kids play.", "A woman reads."]),
        ("summarisation", _ARTICLES, ["a summary", "another", "a third"]),
        ("classification", ["good film", "bad film", "fine"], ["neg", "pos", "neg", "neg", "pos"]),
        ("classification", ["x", "y"], ["b", "a", "a", "b"]),  # a tie: the label seen first
    ]
    hints = {
        "translation": "copy each source unchanged: a model must at least beat the text it "
        "was given (names and numbers often carry over)",
        "summarisation": "lead-3: the first three sentences of each source, split after '.', "
        "'!' or '?' followed by whitespace (re.split(r'(?<=[.!?])\\s+', text.strip())) and "
        "joined with one space",
        "classification": "the most frequent training label (collections.Counter("
        "train_targets).most_common(1); a tie goes to the label seen first), once per source",
    }
    for task, sources, train_targets in cases:
        with case(f"baseline_predictions({task!r}, {len(sources)} sources, ...)"):
            got = baseline_predictions(task, list(sources), list(train_targets))
        _, expected = baseline(task, sources, train_targets)
        if list(got) != expected:
            raise AssertionError(
                f"{task}: you predicted {list(got)!r}, the baseline is {expected!r}.\n"
                f"Hint: {hints[task]}."
            )
    print("  copy the source, lead-3 and the majority label, as course_lib.project.evaluation")
