"""Module 6: evaluate a project's predictions: its metric, a baseline to beat, error analysis.

One metric per task, each from a maintained package:

- ``translation``: corpus BLEU from ``sacrebleu`` (0-100, Module 4's ``corpus_bleu``);
- ``summarisation``: ROUGE-1/2/L F1 from ``rouge-score`` (0-100, stemmed);
- ``classification``: accuracy and macro F1 (``course_lib.metrics.classification_metrics``).

A score means little without a baseline: copy the source (translation), its first N
sentences (summarisation, "lead-3"), or always the most frequent training label
(classification). Error analysis: the worst examples by a per-example score, and the
metric by source-length bucket.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence

import torch

from course_lib.metrics import classification_metrics

TASKS = ("translation", "summarisation", "classification")
MAIN_METRIC = {"translation": "bleu", "summarisation": "rougeL", "classification": "accuracy"}


def _check_task(task: str) -> None:
    if task not in TASKS:
        raise ValueError(f"Unknown task {task!r}; use one of {', '.join(TASKS)}.")


def _check_lengths(predictions: Sequence[str], references: Sequence[str]) -> None:
    if len(predictions) != len(references) or not references:
        raise ValueError(
            f"need as many predictions as references (at least one), got {len(predictions)} "
            f"and {len(references)}."
        )


def bleu(predictions: Sequence[str], references: Sequence[str]) -> float:
    """Corpus BLEU (0-100) of detokenised predictions against one reference each
    (``course_lib.translation.corpus_bleu``: sacrebleu, cased, 13a tokenisation)."""
    from course_lib.translation import corpus_bleu

    return corpus_bleu(predictions, references)


def _rouge_scorer():
    from rouge_score import rouge_scorer

    return rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=True)


def rouge(predictions: Sequence[str], references: Sequence[str]) -> dict[str, float]:
    """Mean ROUGE-1, ROUGE-2 and ROUGE-L F1 (0-100): ``{"rouge1", "rouge2", "rougeL"}``."""
    _check_lengths(predictions, references)
    scorer = _rouge_scorer()
    totals = Counter()
    for prediction, reference in zip(predictions, references):
        for name, score in scorer.score(reference, prediction).items():
            totals[name] += score.fmeasure
    return {name: 100 * totals[name] / len(references) for name in ("rouge1", "rouge2", "rougeL")}


def classification_scores(predictions: Sequence[str], labels: Sequence[str]) -> dict[str, float]:
    """``{"accuracy", "f1"}`` (macro F1) of predicted labels against true labels, any strings."""
    _check_lengths(predictions, labels)
    names = {name: i for i, name in enumerate(sorted(set(labels) | set(predictions)))}
    predicted = torch.tensor([names[p] for p in predictions])
    true = torch.tensor([names[t] for t in labels])
    return classification_metrics(predicted, true, len(names))


def score(task: str, predictions: Sequence[str], references: Sequence[str]) -> dict[str, float]:
    """The task's metrics: ``{"bleu"}``, ``{"rouge1", "rouge2", "rougeL"}`` or
    ``{"accuracy", "f1"}``; ``MAIN_METRIC[task]`` names the one to report first."""
    _check_task(task)
    if task == "translation":
        return {"bleu": bleu(predictions, references)}
    if task == "summarisation":
        return rouge(predictions, references)
    return classification_scores(predictions, references)


def example_scores(task: str, predictions: Sequence[str], references: Sequence[str]) -> list[float]:
    """One score per example, to rank them: sentence BLEU, ROUGE-L F1 (0-100) or 1/0 correct."""
    _check_task(task)
    _check_lengths(predictions, references)
    if task == "translation":
        import sacrebleu

        return [sacrebleu.sentence_bleu(p, [r]).score for p, r in zip(predictions, references)]
    if task == "summarisation":
        scorer = _rouge_scorer()
        return [
            100 * scorer.score(r, p)["rougeL"].fmeasure for p, r in zip(predictions, references)
        ]
    return [float(p == r) for p, r in zip(predictions, references)]


# ----------------------------------------------------------------------------- baselines


def copy_source(sources: Sequence[str]) -> list[str]:
    """The copy-the-source baseline: each source returned unchanged as its own prediction."""
    return list(sources)


_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def lead_n(texts: Sequence[str], n: int = 3) -> list[str]:
    """The lead-N summarisation baseline: the first ``n`` sentences of each text."""
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    return [" ".join(_SENTENCE_END.split(text.strip())[:n]) for text in texts]


def majority_class(train_labels: Sequence[str], count: int) -> list[str]:
    """The majority-class baseline: the most frequent training label, ``count`` times."""
    if not train_labels:
        raise ValueError("majority_class needs the training labels, got none.")
    return [Counter(train_labels).most_common(1)[0][0]] * count


def baseline(
    task: str, sources: Sequence[str], train_targets: Sequence[str], lead: int = 3
) -> tuple[str, list[str]]:
    """``(name, predictions)`` of the task's baseline on ``sources``."""
    _check_task(task)
    if task == "translation":
        return "copy the source", copy_source(sources)
    if task == "summarisation":
        return f"lead-{lead}", lead_n(sources, lead)
    return "majority class", majority_class(train_targets, len(sources))


# ------------------------------------------------------------------------- error analysis


def worst_examples(
    sources: Sequence[str],
    predictions: Sequence[str],
    references: Sequence[str],
    scores: Sequence[float],
    k: int = 5,
) -> list[dict]:
    """The ``k`` lowest-scoring examples, worst first, as dicts with ``source``,
    ``prediction``, ``reference`` and ``score`` (ties keep the data's order)."""
    if not len(sources) == len(predictions) == len(references) == len(scores):
        raise ValueError("sources, predictions, references and scores must have one entry each.")
    order = sorted(range(len(scores)), key=lambda i: scores[i])[:k]
    return [
        {
            "source": sources[i],
            "prediction": predictions[i],
            "reference": references[i],
            "score": scores[i],
        }
        for i in order
    ]


def length_buckets(lengths: Sequence[int], count: int = 4) -> list[tuple[int, int]]:
    """``count`` contiguous ``(shortest, longest)`` ranges holding about equal numbers of
    examples (fewer ranges when many lengths are equal)."""
    if not lengths or count < 1:
        raise ValueError("length_buckets needs lengths and count >= 1.")
    ordered = sorted(lengths)
    cuts = sorted(
        {ordered[min(len(ordered) - 1, (i * len(ordered)) // count)] for i in range(1, count)}
    )
    edges = [e for e in cuts if e > ordered[0]]
    lows = [ordered[0], *edges]
    highs = [e - 1 for e in edges] + [ordered[-1]]
    return list(zip(lows, highs))


def score_by_length(
    task: str,
    lengths: Sequence[int],
    predictions: Sequence[str],
    references: Sequence[str],
    count: int = 4,
) -> list[dict]:
    """The task's main metric on each source-length bucket: rows of ``{"lengths",
    "examples", metric}`` (corpus BLEU per bucket for translation, not a mean of sentences)."""
    _check_lengths(predictions, references)
    if len(lengths) != len(references):
        raise ValueError("lengths must have one entry per example.")
    metric = MAIN_METRIC[task]
    rows = []
    for low, high in length_buckets(lengths, count):
        chosen = [i for i, n in enumerate(lengths) if low <= n <= high]
        value = score(task, [predictions[i] for i in chosen], [references[i] for i in chosen])
        rows.append({"lengths": f"{low}-{high}", "examples": len(chosen), metric: value[metric]})
    return rows
