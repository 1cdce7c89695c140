"""Result sentences choose their words from the values they show, on both sides of each
boundary (issue 27: "3.33 nats, worse than the masked model's 3.33")."""

import pytest

from course_lib.report import TOO_SMALL, compare, compare_sentence


@pytest.mark.parametrize(
    "value, reference, kwargs, outcome",
    [
        (3.334, 3.331, {}, "level"),  # equal as shown: never "worse"
        (3.36, 3.33, {}, "better"),
        (3.30, 3.33, {}, "worse"),
        (3.36, 3.33, {"higher_is_better": False}, "worse"),  # a loss: higher is worse
        (3.30, 3.33, {"higher_is_better": False}, "better"),
        (0.80, 0.75, {"noise": 0.06}, "level"),  # inside the noise
        (0.80, 0.75, {"noise": 0.04}, "better"),  # just beyond it
        (0.70, 0.75, {"noise": 0.04}, "worse"),
        (0.70, 0.75, {"noise": 0.05}, "level"),  # on the boundary: not beyond
        (0.7551, 0.7549, {"digits": 3}, "level"),
        (0.757, 0.754, {"digits": 3}, "better"),
    ],
)
def test_compare_on_both_sides_of_each_boundary(value, reference, kwargs, outcome):
    assert compare(value, reference, **kwargs) == outcome


def test_sentence_words_follow_the_values():
    worse = compare_sentence(
        "It", 3.5, "the masked model", 3.33, unit="nats", higher_is_better=False
    )
    assert "worse than the masked model (3.33 nats)" in worse and "**3.50 nats**" in worse
    level = compare_sentence(
        "It", 3.334, "the masked model", 3.331, unit="nats", higher_is_better=False
    )
    assert "level with" in level and "worse" not in level
    better = compare_sentence("It", 3.1, "the masked model", 3.33, higher_is_better=False)
    assert "better than" in better


def test_sentence_says_whether_the_gap_is_beyond_the_noise():
    beyond = compare_sentence("A", 0.9, "B", 0.75, digits=3, noise=0.05)
    within = compare_sentence("A", 0.78, "B", 0.75, digits=3, noise=0.05)
    assert "beyond the noise" in beyond and "better than" in beyond
    assert "within the noise" in within and "level with" in within
    assert "noise" not in compare_sentence("A", 0.9, "B", 0.75)


def test_an_unexpected_result_is_called_too_small_not_a_finding():
    # Module 5 in ci: the pre-trained model below Module 3's number
    below = compare_sentence(
        "The pre-trained encoder", 0.695, "Module 3's", 0.779, digits=3, expected="better"
    )
    assert "worse than" in below and TOO_SMALL in below
    above = compare_sentence(
        "The pre-trained encoder", 0.82, "Module 3's", 0.779, digits=3, expected="better"
    )
    assert TOO_SMALL not in above


def test_bad_input_gets_a_clear_error():
    with pytest.raises(ValueError, match="real numbers"):
        compare(float("nan"), 1.0)
    with pytest.raises(ValueError, match="noise"):
        compare(1.0, 1.0, noise=-1)
    with pytest.raises(ValueError, match="expected must be one of"):
        compare_sentence("A", 1.0, "B", 1.0, expected="wins")
