"""Name the mistake, not just the mismatch.

A checker that knows the typical wrong versions of an exercise computes what each of them
would return on the same inputs. When the learner's result differs from the reference but
equals one of those, the failure message says exactly which mistake it is.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence

import torch

from course_lib.checkers.core import expect_close

Mistake = tuple[torch.Tensor, str]  # (what the wrong version returns, the hint for it)


def own_rng(fn: Callable) -> Callable:
    """Run ``fn`` on a private copy of PyTorch's CPU random state.

    A checker that seeds PyTorch (to build reference modules) then leaves the notebook's own
    random stream exactly where it was.
    """

    @functools.wraps(fn)
    def run(*args, **kwargs):
        with torch.random.fork_rng(devices=[]):
            return fn(*args, **kwargs)

    return run


def seed_cpu(seed: int) -> None:
    """Seed PyTorch's CPU generator only (checkers build and run their modules on the CPU).

    Unlike ``torch.manual_seed`` it leaves the GPU generators, which :func:`own_rng` does not
    save, untouched, and it is cheaper.
    """
    torch.default_generator.manual_seed(seed)


def expect_gradients(
    module: torch.nn.Module, output: torch.Tensor, what: str, names: tuple[str, ...] | None = None
) -> None:
    """``output`` must keep its gradient, and a backward pass must reach ``module``'s
    parameters (those whose names start with one of ``names``, or all of them)."""
    if not isinstance(output, torch.Tensor) or not output.requires_grad:
        raise AssertionError(
            f"{what} does not require grad, so it cannot be trained.\nHint: compute it with "
            "torch operations on the inputs and parameters (no torch.no_grad(), .detach(), "
            ".data or NumPy)."
        )
    module.zero_grad()
    output.pow(2).sum().backward()
    for name, param in module.named_parameters():
        if names is not None and not name.startswith(names):
            continue
        if param.grad is None or param.grad.abs().sum() == 0:
            raise AssertionError(
                f"{what}: no gradient reached {name}: every parameter must take part in the "
                "output (no .detach(), .data or torch.no_grad())."
            )


def randomise_norms(module: torch.nn.Module, gen: torch.Generator) -> None:
    """Give every ``nn.LayerNorm`` in ``module`` a random weight (around 1) and bias (around 0).

    Compared at their initial values (weight 1, bias 0), a norm used twice, two norms swapped,
    or ``F.layer_norm`` called without the module's weight and bias all look right.
    """
    with torch.no_grad():
        for sub in module.modules():
            if isinstance(sub, torch.nn.LayerNorm) and sub.weight is not None:
                sub.weight.copy_(1 + 0.5 * torch.randn(sub.weight.shape, generator=gen))
                if sub.bias is not None:
                    sub.bias.copy_(0.5 * torch.randn(sub.bias.shape, generator=gen))


def expect_deterministic(run: Callable[[], torch.Tensor], first: torch.Tensor, what: str) -> None:
    """A second call ``run()`` in eval mode must give ``first`` again."""
    if isinstance(first, torch.Tensor) and not close(run(), first):
        raise AssertionError(
            f"{what}: two calls in eval mode gave different outputs, so something is random in "
            "eval mode.\nHint: use nn.Dropout modules (they know the mode); F.dropout(x, p) "
            "drops in eval mode too unless given training=self.training."
        )


def close(a: torch.Tensor, b: torch.Tensor, atol: float = 1e-5, rtol: float = 1e-4) -> bool:
    """True when ``a`` has ``b``'s shape and values (within tolerance)."""
    if not isinstance(a, torch.Tensor) or a.shape != b.shape:
        return False
    a, b = a.detach().to(b.dtype), b.detach()
    return bool(torch.allclose(a, b, atol=atol, rtol=rtol, equal_nan=False))


def expect_close_or_explain(
    actual: torch.Tensor,
    expected: torch.Tensor,
    what: str,
    mistakes: Sequence[Mistake] | Mapping[str, torch.Tensor] = (),
    hint: str = "",
    atol: float = 1e-5,
    rtol: float = 1e-4,
) -> None:
    """Like :func:`expect_close`; on a mismatch, name the first known mistake ``actual`` equals.

    ``mistakes`` pairs each typical wrong result with the hint that explains it, as
    ``(wrong_result, hint)`` pairs or as a mapping ``{hint: wrong_result}``; a wrong result
    may be a function returning it, computed only when ``actual`` is wrong.
    """
    if not isinstance(actual, torch.Tensor):
        raise AssertionError(f"{what} should be a torch.Tensor, got {type(actual).__name__}.")
    if close(actual, expected, atol, rtol):
        return
    if isinstance(mistakes, Mapping):
        mistakes = [(wrong, why) for why, wrong in mistakes.items()]
    for wrong, why in mistakes:
        if close(actual, wrong() if callable(wrong) else wrong, atol, rtol):
            raise AssertionError(f"{what} differs from the reference.\nHint: {why}")
    expect_close(actual, expected, what, hint=hint, atol=atol, rtol=rtol)
