"""Metrics, baselines and error analysis of the final project (course_lib.project.evaluation)."""

import pytest
import sacrebleu

from course_lib.project.evaluation import (
    MAIN_METRIC,
    baseline,
    bleu,
    classification_scores,
    copy_source,
    example_scores,
    lead_n,
    length_buckets,
    majority_class,
    rouge,
    score,
    score_by_length,
    worst_examples,
)

REFS = ["a man is riding a horse .", "two dogs play in the snow .", "a child eats ice cream ."]
HYPS = ["a man rides a horse .", "two dogs play in snow .", "the sky is blue ."]


def test_bleu_is_sacrebleu_corpus_bleu():
    assert bleu(REFS, REFS) == pytest.approx(100.0)
    assert bleu(HYPS, REFS) == pytest.approx(sacrebleu.corpus_bleu(HYPS, [REFS]).score)
    assert 0 < bleu(HYPS, REFS) < 100
    assert score("translation", HYPS, REFS) == {"bleu": bleu(HYPS, REFS)}


def test_rouge_bounds_stemming_and_order_of_arguments():
    assert rouge(REFS, REFS) == pytest.approx({"rouge1": 100, "rouge2": 100, "rougeL": 100})
    assert rouge(["x y z"], ["a b c"]) == {"rouge1": 0.0, "rouge2": 0.0, "rougeL": 0.0}
    assert rouge(["dogs running"], ["dog runs"])["rouge1"] == pytest.approx(100.0)  # stemmed
    # precision vs recall: a short prediction inside a long reference has F1 < 100
    assert rouge(["a man"], ["a man is riding a horse"])["rouge1"] == pytest.approx(50.0)
    assert MAIN_METRIC["summarisation"] in score("summarisation", HYPS, REFS)


def test_classification_scores_on_string_labels():
    result = classification_scores(["pos", "pos", "neg", "pos"], ["pos", "neg", "neg", "pos"])
    assert result["accuracy"] == pytest.approx(0.75)
    assert result["f1"] == pytest.approx((0.8 + 2 / 3) / 2)  # pos: P=2/3 R=1; neg: P=1 R=1/2
    assert score("classification", ["1", "0"], ["1", "1"])["accuracy"] == 0.5


def test_example_scores_rank_like_the_metric():
    for task in ("translation", "summarisation"):
        values = example_scores(task, HYPS, REFS)
        assert len(values) == 3 and values[2] == min(values) and max(values) > 50
    assert example_scores("classification", ["a", "b"], ["a", "a"]) == [1.0, 0.0]


def test_baselines():
    assert copy_source(["Hallo Welt"]) == ["Hallo Welt"]
    article = "First one. Second! Third? Fourth sentence.  Fifth."
    assert lead_n([article], 3) == ["First one. Second! Third?"]
    assert lead_n(["No full stop"], 3) == ["No full stop"]
    assert majority_class(["a", "b", "b"], 2) == ["b", "b"]
    assert baseline("summarisation", [article], [], lead=2) == ("lead-2", ["First one. Second!"])
    assert baseline("translation", ["x"], [])[0] == "copy the source"
    assert baseline("classification", ["t1", "t2"], ["neg", "pos", "pos"]) == (
        "majority class",
        ["pos", "pos"],
    )


@pytest.mark.parametrize(
    "call",
    [
        lambda: bleu(["a"], ["a", "b"]),
        lambda: rouge([], []),
        lambda: score("poetry", ["a"], ["a"]),
        lambda: lead_n(["a"], 0),
        lambda: majority_class([], 3),
        lambda: worst_examples(["s"], ["p"], ["r"], [1.0, 2.0]),
        lambda: length_buckets([]),
        lambda: score_by_length("translation", [1], ["a", "b"], ["a", "b"]),
    ],
)
def test_bad_arguments_raise(call):
    with pytest.raises(ValueError):
        call()


def test_worst_examples_are_sorted_worst_first():
    worst = worst_examples(["s0", "s1", "s2"], HYPS, REFS, [50.0, 10.0, 30.0], k=2)
    assert [w["source"] for w in worst] == ["s1", "s2"]
    assert worst[0] == {"source": "s1", "prediction": HYPS[1], "reference": REFS[1], "score": 10.0}


def test_length_buckets_cover_every_length_once():
    lengths = [3, 5, 5, 6, 8, 9, 12, 12, 15, 20]
    buckets = length_buckets(lengths, 4)
    assert buckets[0][0] == 3 and buckets[-1][1] == 20
    assert all(high + 1 == low for (_, high), (low, _) in zip(buckets, buckets[1:]))
    assert sum(any(lo <= n <= hi for lo, hi in buckets) for n in lengths) == len(lengths)
    assert length_buckets([7, 7, 7], 4) == [(7, 7)]


def test_score_by_length_uses_the_corpus_metric_per_bucket():
    refs = REFS * 2
    hyps = REFS[:3] + ["wrong words here"] * 3
    rows = score_by_length("translation", [1, 2, 3, 10, 11, 12], hyps, refs, count=2)
    assert [r["examples"] for r in rows] == [3, 3]
    assert rows[0]["bleu"] == pytest.approx(100.0) and rows[1]["bleu"] < 5
    assert rows[0]["lengths"] == "1-9"
