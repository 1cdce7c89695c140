import pytest
import torch
from torch import nn

from course_lib.checkers import (
    STUB_MARKER,
    CheckFailed,
    assert_metric,
    case,
    checker,
    expect_close,
    expect_shape,
)
from course_lib.checkers.softmax import check_softmax
from course_lib.machinery.lessons import STUB_MESSAGE


@checker
def check_double(fn):
    x = torch.randn(4)
    expect_close(fn(x), 2 * x, "fn(x)", hint="multiply by two")


def test_checker_passes_reports_and_returns_true(capsys):
    assert check_double(lambda x: 2 * x)
    assert "[passed] check_double" in capsys.readouterr().out


def test_stub_is_reported_not_attempted(capsys):
    assert STUB_MESSAGE.startswith(STUB_MARKER)  # the build's stub is what checkers recognise

    def stub(x):
        raise NotImplementedError(STUB_MESSAGE)

    assert not check_double(stub)
    assert "[not attempted] check_double" in capsys.readouterr().out


def test_other_not_implemented_errors_are_failures():
    def unfinished(x):
        raise NotImplementedError

    with pytest.raises(CheckFailed, match="your code raised NotImplementedError"):
        check_double(unfinished)

    class Misspelled(nn.Module):
        def forwad(self, x):
            return 2 * x

    with pytest.raises(CheckFailed, match="no method named `forward`"):
        check_double(Misspelled())


def test_crash_hints_name_no_grad_and_none():
    def no_grad(x):
        with torch.no_grad():
            return (2 * x).sum().backward()

    with pytest.raises(CheckFailed, match="cut off from autograd"):
        check_double(no_grad)

    def none_attribute(x):
        return None.weight

    with pytest.raises(CheckFailed, match="something you use is None"):
        check_double(none_attribute)


def test_case_names_the_failing_case_and_lets_stubs_through():
    with pytest.raises(AssertionError, match=r"cross-attention \(q_len 5, k_len 7\): your code"):
        with case("cross-attention (q_len 5, k_len 7)"):
            torch.zeros(5).view(7)
    with pytest.raises(NotImplementedError), case("anything"):
        raise NotImplementedError(STUB_MESSAGE)


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


def _no_max_shift(x, dim=-1):
    return x.exp() / x.exp().sum(dim=dim, keepdim=True)


def _always_last_axis(x, dim=-1):
    return torch.softmax(x, dim=-1)


def _not_normalised(x, dim=-1):
    return (x - x.max(dim=dim, keepdim=True).values).exp()


def _global_max(x, dim=-1):
    e = (x - x.max()).exp()
    return e / e.sum(dim=dim, keepdim=True)


def _min_shift(x, dim=-1):
    e = (x - x.min(dim=dim, keepdim=True).values).exp()
    return e / e.sum(dim=dim, keepdim=True)


def _clipped(x, dim=-1):
    e = x.clamp(-80, 80).exp()
    return e / e.sum(dim=dim, keepdim=True)


def _max_over_last_axis(x, dim=-1):
    e = (x - x.max(dim=-1, keepdim=True).values).exp()
    return e / e.sum(dim=dim, keepdim=True)


def _softmax_by_logsumexp(x, dim=-1):
    """Correct, written differently."""
    return (x - torch.logsumexp(x, dim=dim, keepdim=True)).exp()


def test_softmax_checker_accepts_reference_and_a_logsumexp_version():
    assert check_softmax(torch.softmax)
    assert check_softmax(_softmax_by_logsumexp)


@pytest.mark.parametrize(
    "wrong, hint",
    [
        (_no_max_shift, "subtract the maximum"),
        (_always_last_axis, "(?s)dim=1.*normalise along `dim`"),
        (_not_normalised, "normalise along `dim`"),
        (_global_max, r"(?s)rows \[.*2.*\] gave inf or NaN.*One global maximum"),
        (_min_shift, r"(?s)rows \[3\] gave inf or NaN"),
        (_clipped, "scores were clipped"),
        (_max_over_last_axis, "differs from the reference"),
    ],
)
def test_softmax_checker_rejects_typical_mistakes_across_seeds(wrong, hint):
    for kwargs in [{}] + [{"seed": seed} for seed in range(20)]:
        with pytest.raises(CheckFailed, match=hint):
            check_softmax(wrong, **kwargs)


def test_assert_metric_prints_and_enforces(capsys):
    assert_metric("accuracy", 0.9, at_least=0.5)
    assert "accuracy: 0.9000 (required >= 0.5)" in capsys.readouterr().out
    with pytest.raises(AssertionError, match="below the required 0.95"):
        assert_metric("accuracy", 0.9, at_least=0.95)
    with pytest.raises(AssertionError, match="above the allowed 1"):
        assert_metric("loss", 2.0, at_most=1.0)
    with pytest.raises(AssertionError):
        assert_metric("loss", float("nan"), at_most=1.0)


@pytest.mark.parametrize(
    "error, hint",
    [
        (KeyError("ab"), "dictionary has no key 'ab'"),
        (IndexError("index 30 is out of bounds"), "index is out of range"),
        (TypeError("'NoneType' object is not subscriptable"), "may be None"),
        (TypeError("f() takes 2 positional arguments but 3 were given"), "signature"),
        (ZeroDivisionError("division by zero"), "division by zero"),
        (AttributeError("'Tensor' object has no attribute 'lenght'"), "attribute is missing"),
        (NameError("name 'F' is not defined"), "missing import"),
        (ValueError("mask of shape (2, 3) does not broadcast"), "rejected its input"),
        (RuntimeError("The size of tensor a (5) must match"), "print the shapes"),
    ],
)
def test_crash_hints_name_each_kind_of_exception(error, hint):
    def crash(x):
        raise error

    with pytest.raises(CheckFailed, match=hint):
        check_double(crash)
    with pytest.raises(AssertionError, match=hint), case("a case"):
        crash(None)


def test_case_hint_function_falls_back_on_the_generic_hint():
    def only_runtime(err):
        return "a specific hint" if isinstance(err, RuntimeError) else ""

    with pytest.raises(AssertionError, match="a specific hint"), case("x", hint=only_runtime):
        raise RuntimeError("size mismatch")
    with pytest.raises(AssertionError, match="dictionary has no key"), case("x", only_runtime):
        raise KeyError("a")
