"""The checker framework every exercise uses.

A checker runs the learner's code on fresh random inputs against the reference. It prints
"passed", or raises :class:`CheckFailed` (an AssertionError) whose message teaches: which
shape, which property, which likely mistake. Only the exercise's own stub (the
NotImplementedError whose message starts with :data:`STUB_MARKER`, written by ``course
build``) is reported as "not attempted", and the notebook carries on; any other exception
(a misspelled ``forward`` raises PyTorch's own NotImplementedError) is a failure.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import torch

STUB_MARKER = "Exercise not attempted yet"  # how ``course build``'s stub message starts


class CheckFailed(AssertionError):
    """A learner's implementation does not match the reference; the message says why."""


@dataclass(frozen=True)
class CheckResult:
    """What a checker returns: truthy when passed, falsy when not attempted."""

    name: str
    passed: bool

    def __bool__(self) -> bool:
        return self.passed

    def _ipython_display_(self) -> None:
        """Show nothing in a notebook: the checker has already printed its verdict."""


def is_stub(err: BaseException) -> bool:
    """True when ``err`` is the NotImplementedError of an exercise's untouched stub."""
    return isinstance(err, NotImplementedError) and str(err).startswith(STUB_MARKER)


def crash_hint(err: BaseException) -> str:
    """The most useful hint for an exception raised by the learner's code."""
    text = str(err)
    if isinstance(err, NotImplementedError) and '"forward" function' in text:
        return (
            "PyTorch found no method named `forward` in your module: check its spelling and "
            "that `def forward(self, ...)` is indented inside the class."
        )
    if "does not require grad" in text or "does not have a grad_fn" in text:
        return (
            "the result is cut off from autograd: it was computed under torch.no_grad(), or "
            "detached (.detach(), .data, .item(), NumPy). Compute it with torch operations "
            "on the inputs and parameters themselves."
        )
    if isinstance(err, AttributeError) and "NoneType" in text:
        return (
            "something you use is None: a layer built without the parameters the exercise "
            "asks for (e.g. bias=False, elementwise_affine=False), an optional argument "
            "(a mask) that was not given, or a function that returns nothing (a missing "
            "`return`)."
        )
    if isinstance(err, TypeError) and "NoneType" in text:
        return (
            "an operation received None: an optional argument (e.g. a mask) may be None, so "
            "test `if mask is not None` before using it, and check every function returns."
        )
    if isinstance(err, KeyError):
        return (
            f"a dictionary has no key {text}: look it up only after adding it, or use "
            "dict.get(key, default), collections.Counter or defaultdict, which start missing "
            "keys at a default."
        )
    if isinstance(err, IndexError):
        return (
            f"an index is out of range ({text}): check the length of what you index (a list, "
            "or a tensor's dimension) and the largest index your code can reach, e.g. i + 1 "
            "at the last position, or a position past the end of a sorted tensor."
        )
    if isinstance(err, AttributeError):
        return (
            f"an attribute is missing ({text}): check its spelling, that __init__ builds it "
            "(self.name = ...) before forward uses it, and that you call it on the right "
            "object (a module, a tensor)."
        )
    if isinstance(err, NameError):
        return (
            f"a name is not defined ({text}): a missing import, a typo, or a variable used "
            "before it is assigned (inside the function, not only in another cell)."
        )
    if isinstance(err, ValueError):
        return (
            "a function rejected its input: the message above says which argument; compare "
            "the shapes and values you pass with the docstring."
        )
    if isinstance(err, ZeroDivisionError):
        return "a division by zero: a count or a length can be 0 here; guard it."
    if isinstance(err, TypeError):
        return (
            f"a call received the wrong kind or number of arguments ({text}): compare your "
            "call with the function's signature in the docstring."
        )
    return (
        "print the shapes of your intermediate tensors and compare them with the shapes in "
        "the docstring."
    )


Hint = str | Callable[[BaseException], str]


def _hint_for(err: BaseException, hint: Hint) -> str:
    """``hint`` (a string, or a function of the exception returning "" when it has none),
    falling back on :func:`crash_hint`."""
    specific = hint(err) if callable(hint) else hint
    return specific or crash_hint(err)


@contextmanager
def case(what: str, hint: Hint = "") -> Iterator[None]:
    """Name the case (``what``: inputs' shapes, mask used) in a crash of the code inside.

    ``hint`` replaces the generic advice for a crash (e.g. what usually breaks when query and
    key lengths differ); as a function of the exception it may return "" to keep the generic
    advice for exceptions it does not know. Assertions and the exercise's stub pass through
    unchanged.
    """
    try:
        yield
    except AssertionError:
        raise
    except Exception as err:  # the learner's code crashed: say where, with the cause
        if is_stub(err):
            raise
        raise AssertionError(
            f"{what}: your code raised {type(err).__name__}: {err}\nHint: {_hint_for(err, hint)}"
        ) from err


def checker(fn: Callable[..., None]) -> Callable[..., CheckResult]:
    """Turn ``fn`` (which asserts) into a notebook checker; its result is truthy if passed."""

    @functools.wraps(fn)
    def run(*args, **kwargs) -> CheckResult:
        name = fn.__name__
        try:
            fn(*args, **kwargs)
        except AssertionError as err:
            raise CheckFailed(f"{name} failed: {err}") from None
        except Exception as err:  # the learner's code crashed: say so, with the cause
            if is_stub(err):
                print(
                    f"[not attempted] {name}: {err}. "
                    "The notebook carries on with the course's reference implementation."
                )
                return CheckResult(name, False)
            raise CheckFailed(
                f"{name} failed: your code raised {type(err).__name__}: {err}\n"
                f"Hint: {crash_hint(err)}"
            ) from err
        print(f"[passed] {name}")
        return CheckResult(name, True)

    run.check = fn  # the raw assertions, for tests that want the exception itself
    return run


def expect_shape(tensor: torch.Tensor, shape: Sequence[int], what: str) -> None:
    """Assert ``tensor`` is a tensor of ``shape``."""
    if not isinstance(tensor, torch.Tensor):
        raise AssertionError(f"{what} should be a torch.Tensor, got {type(tensor).__name__}.")
    if tuple(tensor.shape) != tuple(shape):
        raise AssertionError(f"{what} has shape {tuple(tensor.shape)}, expected {tuple(shape)}.")


def expect_close(
    actual: torch.Tensor,
    expected: torch.Tensor,
    what: str,
    hint: str = "",
    atol: float = 1e-5,
    rtol: float = 1e-4,
) -> None:
    """Assert ``actual`` equals ``expected`` (same shape, values within tolerance)."""
    expect_shape(actual, expected.shape, what)
    try:
        torch.testing.assert_close(
            actual.detach().to(expected.dtype), expected.detach(), atol=atol, rtol=rtol
        )
    except AssertionError:
        worst = (actual.detach().to(expected.dtype) - expected.detach()).abs().max().item()
        raise AssertionError(
            f"{what} differs from the reference (largest difference {worst:.3g})."
            + (f"\nHint: {hint}" if hint else "")
        ) from None


def assert_metric(
    name: str, value: float, at_least: float | None = None, at_most: float | None = None
) -> None:
    """Print a result and assert it is within the profile's threshold.

    Notebooks call this on every claim of learning, so CI fails when a model stops learning.
    """
    bounds = []
    if at_least is not None:
        bounds.append(f">= {at_least:.4g}")
    if at_most is not None:
        bounds.append(f"<= {at_most:.4g}")
    print(f"{name}: {value:.4f} (required {' and '.join(bounds) or 'nothing'})")
    if at_least is not None and not value >= at_least:
        raise AssertionError(f"{name} = {value:.4f} is below the required {at_least:.4g}.")
    if at_most is not None and not value <= at_most:
        raise AssertionError(f"{name} = {value:.4f} is above the allowed {at_most:.4g}.")
