import pytest
import torch

from course_lib.checkers import CheckFailed, assert_metric, checker, expect_close, expect_shape
from course_lib.checkers.softmax import check_softmax


@checker
def check_double(fn):
    x = torch.randn(4)
    expect_close(fn(x), 2 * x, "fn(x)", hint="multiply by two")


def test_checker_passes_reports_and_returns_true(capsys):
    assert check_double(lambda x: 2 * x)
    assert "[passed] check_double" in capsys.readouterr().out


def test_stub_is_reported_not_attempted(capsys):
    def stub(x):
        raise NotImplementedError("Exercise not attempted yet")

    assert not check_double(stub)
    assert "[not attempted] check_double" in capsys.readouterr().out


def test_wrong_answer_raises_with_hint():
    with pytest.raises(
        CheckFailed, match="(?s)check_double failed: fn\\(x\\) differs.*multiply by two"
    ):
        check_double(lambda x: 3 * x)


def test_crash_in_learner_code_is_explained():
    with pytest.raises(CheckFailed, match="your code raised RuntimeError"):
        check_double(lambda x: x @ torch.ones(3, 3))


def test_expect_shape_names_both_shapes():
    with pytest.raises(AssertionError, match=r"\(2, 3\), expected \(3, 2\)"):
        expect_shape(torch.zeros(2, 3), (3, 2), "out")
    with pytest.raises(AssertionError, match="torch.Tensor"):
        expect_shape([1, 2], (2,), "out")


def test_softmax_checker_accepts_reference_and_rejects_typical_mistakes():
    assert check_softmax(torch.softmax)

    def no_max_shift(x, dim=-1):
        return x.exp() / x.exp().sum(dim=dim, keepdim=True)

    def always_last_axis(x, dim=-1):
        return torch.softmax(x, dim=-1)

    def not_normalised(x, dim=-1):
        return (x - x.max(dim=dim, keepdim=True).values).exp()

    with pytest.raises(CheckFailed, match="subtract the maximum"):
        check_softmax(no_max_shift)
    with pytest.raises(CheckFailed, match="(?s)dim=1.*normalise along `dim`"):
        check_softmax(always_last_axis)
    with pytest.raises(CheckFailed, match="normalise along `dim`"):
        check_softmax(not_normalised)


def test_assert_metric_prints_and_enforces(capsys):
    assert_metric("accuracy", 0.9, at_least=0.5)
    assert "accuracy: 0.9000 (required >= 0.5)" in capsys.readouterr().out
    with pytest.raises(AssertionError, match="below the required 0.95"):
        assert_metric("accuracy", 0.9, at_least=0.95)
    with pytest.raises(AssertionError, match="above the allowed 1"):
        assert_metric("loss", 2.0, at_most=1.0)
    with pytest.raises(AssertionError):
        assert_metric("loss", float("nan"), at_most=1.0)
