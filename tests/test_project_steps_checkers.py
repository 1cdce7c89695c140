"""The final project's decision checkers: right versions pass, realistic wrong ones fail."""

import re
from collections import Counter

import pytest

from course_lib.checkers import CheckFailed
from course_lib.checkers.project_steps import (
    check_baseline_predictions,
    check_choose_metric,
    check_drop_reason,
    reference_drop_reason,
)


def drop_reason_alternative(source, target, max_source_words):
    a, b = source.strip(), target.strip()
    if "" in (a, b):
        return "empty"
    if a.casefold() == b.casefold():
        return "copy"
    return "too long" if len(a.split()) >= max_source_words + 1 else None


def no_strip(source, target, max_source_words):
    if source == "" or target == "":
        return "empty"
    if source.lower() == target.lower():
        return "copy"
    return "too long" if len(source.split()) > max_source_words else None


def limit_exclusive(source, target, max_source_words):
    reason = reference_drop_reason(source, target, max_source_words)
    if reason is None and len(source.split()) >= max_source_words:
        return "too long"
    return reason


def case_sensitive_copy(source, target, max_source_words):
    if not source.strip() or not target.strip():
        return "empty"
    if source.strip() == target.strip():
        return "copy"
    return "too long" if len(source.split()) > max_source_words else None


def counts_characters(source, target, max_source_words):
    reason = reference_drop_reason(source, target, 10**9)
    return reason or ("too long" if len(source) > max_source_words * 6 else None)


@pytest.mark.parametrize("fn", [reference_drop_reason, drop_reason_alternative])
def test_right_drop_reasons_pass(fn):
    assert check_drop_reason(fn)


@pytest.mark.parametrize("fn", [no_strip, limit_exclusive, case_sensitive_copy, counts_characters])
def test_wrong_drop_reasons_fail(fn):
    with pytest.raises(CheckFailed, match="expected"):
        check_drop_reason(fn)


def right_metric(task, balanced=True):
    if task == "classification":
        return "accuracy" if balanced else "f1"
    return {"translation": "bleu", "summarisation": "rougeL"}[task]


def always_accuracy(task, balanced=True):
    return "accuracy" if task == "classification" else right_metric(task)


def rouge1(task, balanced=True):
    return "rouge1" if task == "summarisation" else right_metric(task, balanced)


def metric_from_a_table(task, balanced=True):
    """Right, written as a lookup table."""
    table = {("classification", True): "accuracy", ("classification", False): "f1",
             ("translation", True): "bleu", ("summarisation", True): "rougeL"}
    return table[(task, balanced or task != "classification")]


def bleu_for_summaries(task, balanced=True):
    return "bleu" if task == "summarisation" else right_metric(task, balanced)


def always_f1(task, balanced=True):
    return "f1" if task == "classification" else right_metric(task)


def test_metric_choices():
    assert check_choose_metric(right_metric)
    assert check_choose_metric(metric_from_a_table)
    for wrong in (bleu_for_summaries, always_f1):
        with pytest.raises(CheckFailed):
            check_choose_metric(wrong)
    with pytest.raises(CheckFailed, match="macro F1"):
        check_choose_metric(always_accuracy)
    with pytest.raises(CheckFailed, match="rougeL"):
        check_choose_metric(rouge1)


def right_baseline(task, sources, train_targets):
    if task == "translation":
        return list(sources)
    if task == "summarisation":
        return [" ".join(re.split(r"(?<=[.!?])\s+", s.strip())[:3]) for s in sources]
    return [Counter(train_targets).most_common(1)[0][0]] * len(sources)


def by_hand_majority(task, sources, train_targets):
    if task != "classification":
        return right_baseline(task, sources, train_targets)
    counts = {}
    for label in train_targets:
        counts[label] = counts.get(label, 0) + 1
    best = max(counts.values())
    return [next(lbl for lbl in train_targets if counts[lbl] == best)] * len(sources)


def copies_the_references(task, sources, train_targets):
    if task == "translation":
        return list(train_targets[: len(sources)])
    return right_baseline(task, sources, train_targets)


def lead_one(task, sources, train_targets):
    if task == "summarisation":
        return [re.split(r"(?<=[.!?])\s+", s.strip())[0] for s in sources]
    return right_baseline(task, sources, train_targets)


def last_label(task, sources, train_targets):
    if task == "classification":
        return [train_targets[-1]] * len(sources)
    return right_baseline(task, sources, train_targets)


def alphabetical_tie(task, sources, train_targets):
    if task == "classification":
        counts = Counter(train_targets)
        return [min(counts, key=lambda k: (-counts[k], k))] * len(sources)
    return right_baseline(task, sources, train_targets)


@pytest.mark.parametrize("fn", [right_baseline, by_hand_majority])
def test_right_baselines_pass(fn):
    assert check_baseline_predictions(fn)


@pytest.mark.parametrize(
    "fn, hint",
    [
        (copies_the_references, "copy each source"),
        (lead_one, "lead-3"),
        (last_label, "most frequent"),
        (alphabetical_tie, "seen first"),
    ],
)
def test_wrong_baselines_fail(fn, hint):
    with pytest.raises(CheckFailed, match=hint):
        check_baseline_predictions(fn)


def test_stubs_are_not_attempted(capsys):
    def stub(*args):
        raise NotImplementedError("Exercise not attempted yet: replace this line")

    assert not check_drop_reason(stub)
    assert not check_choose_metric(stub)
    assert not check_baseline_predictions(stub)
    assert capsys.readouterr().out.count("[not attempted]") == 3
