"""Checkers for Module 5's sampling filters: temperature, top-k, top-p on next-token logits.

Each filter maps logits ``(batch, vocab)`` to logits of the same shape with removed tokens at
``-inf``. The learner's result is compared with the course's reference (itself tested equal
to ``transformers``' logits processors) on random logits, ties included, and a mismatch is
compared with the typical mistakes.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from course_lib.checkers.core import case, checker, expect_shape
from course_lib.checkers.mistakes import close, expect_close_or_explain, own_rng
from course_lib.sampling import apply_temperature, top_k_filter, top_p_filter

NEG_INF = float("-inf")


def _logits(seed: int, ties: bool = False) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    if ties:  # few distinct values: many ties
        return torch.randint(0, 4, (4, 12), generator=gen).float()
    return torch.randn(4, 30, generator=gen) * 2


def _kept(filtered: torch.Tensor) -> torch.Tensor:
    return torch.isfinite(filtered)


def _index_hint(err: BaseException) -> str:
    """The hint for an IndexError in a filter: an index past the end of the sorted row."""
    if isinstance(err, IndexError) or (isinstance(err, RuntimeError) and "out of" in str(err)):
        return (
            f"an index went past the end of the sorted tensor ({err}): when no position "
            "reaches p (at p = 1.0, or because a float running sum stays just below 1), "
            "searchsorted / nonzero / argmax find nothing or return the vocabulary size. "
            "Build a boolean mask over the sorted row (mass above each token >= p) instead of "
            "looking up one cut-off position."
        )
    return ""


def _call(fn: Callable, logits: torch.Tensor, value: float, what: str) -> torch.Tensor:
    """``fn(logits, value)``, failing when ``fn`` changed ``logits`` in place."""
    given = logits.clone()
    with case(f"{what} on logits {tuple(logits.shape)}", _index_hint):
        out = fn(given, value)
    if not torch.equal(given, logits):
        raise AssertionError(
            "your function modified the logits in place (e.g. div_, masked_fill_, or "
            "logits[...] = ...): work on a copy, the caller still needs the original logits."
        )
    return out


def _expect_filter(got, expected, what: str, mistakes: dict[str, torch.Tensor]) -> None:
    """Same tokens kept (finite) and the kept logits unchanged; name the mistake if known."""
    expect_shape(got, expected.shape, what)
    removed = ~_kept(expected)
    if bool(torch.isnan(got).any()):
        raise AssertionError(
            f"{what}: your result holds NaN. Hint: a softmax written as exp(x) / sum(exp(x)) "
            "overflows for large logits (after a low temperature): use logits.softmax(-1), "
            "which subtracts the maximum first; and set removed tokens to -inf, not NaN."
        )
    if (
        removed.any()
        and bool((got[removed] != NEG_INF).any())
        and bool((got[removed] <= -1e4).all())
    ):
        raise AssertionError(
            f"{what}: removed tokens must be -inf, not a large negative number such as -1e9 "
            "(got {:.3g}): with -inf softmax gives them exactly 0, as transformers does.".format(
                got[removed].max().item()
            )
        )
    if torch.equal(_kept(got), _kept(expected)) and close(
        got.masked_fill(~_kept(got), 0.0), expected.masked_fill(~_kept(expected), 0.0)
    ):
        if not bool((got[~_kept(got)] == NEG_INF).all()):
            raise AssertionError(f"{what}: set removed tokens to -inf (not NaN or +inf).")
        return
    for hint, wrong in mistakes.items():
        if torch.equal(_kept(got), _kept(wrong)):
            raise AssertionError(f"{what} keeps the wrong tokens.\nHint: {hint}")
    missing = (_kept(expected) & ~_kept(got)).sum().item()
    extra = (_kept(got) & ~_kept(expected)).sum().item()
    if missing or extra:
        raise AssertionError(
            f"{what}: {missing} token(s) removed that should stay, {extra} kept that should go."
            " Removed tokens must be -inf, kept ones keep their logit."
        )
    raise AssertionError(
        f"{what}: the right tokens are kept, but their logits were changed; "
        "return the kept logits unchanged."
    )


@checker
@own_rng
def check_temperature(
    temperature_fn: Callable[[torch.Tensor, float], torch.Tensor], seed: int = 0
) -> None:
    """``temperature_fn(logits, t)``: the logits divided by ``t``."""
    for offset in range(3):
        logits = _logits(seed + offset)
        for t in (0.5, 2.0, 0.05):
            what = f"temperature_fn(logits, {t})"
            got = _call(temperature_fn, logits, t, what)
            expect_close_or_explain(
                got,
                apply_temperature(logits, t),
                what,
                {
                    "divide the logits by the temperature, do not multiply: t < 1 must "
                    "sharpen the distribution.": logits * t,
                    "apply the temperature to the logits, before softmax: dividing the "
                    "probabilities by t only rescales them (softmax undoes it).": logits.softmax(-1)
                    / t,
                    "return logits, not probabilities: the filters that follow work on "
                    "logits, and generate applies softmax at the very end.": (logits / t).softmax(
                        -1
                    ),
                    "divide by t; the logits minus their maximum would give the same "
                    "probabilities but are not what the library returns.": (
                        logits - logits.amax(-1, keepdim=True)
                    )
                    / t,
                    "the log-softmax of logits / t gives the same probabilities, but return "
                    "the logits divided by t, as the library does.": (logits / t).log_softmax(-1),
                    "divide by t itself, not by 1 / t or t squared.": logits / t**2,
                },
            )


@checker
@own_rng
def check_top_k(top_k_fn: Callable[[torch.Tensor, int], torch.Tensor], seed: int = 0) -> None:
    """``top_k_fn(logits, k)``: keep the k largest logits per row (ties with the k-th too)."""
    for offset in range(4):
        for ties in (False, True):
            logits = _logits(seed + offset, ties)
            for k in (1, 3, 5):
                expected = top_k_filter(logits, k)
                idx = torch.topk(logits, k, dim=-1).indices
                exactly_k = torch.full_like(logits, NEG_INF).scatter(
                    -1, idx, logits.gather(-1, idx)
                )
                kth = torch.topk(logits, k, dim=-1).values[..., -1:]
                what = f"top_k_fn(logits, k={k})"
                mistakes = {
                    "keep every token tied with the k-th largest logit (compare each logit "
                    "with the k-th value, as transformers does), not exactly k indices.": exactly_k,
                    "keep the logits >= the k-th largest, not > it: with k=1 the best "
                    "token itself must stay.": logits.masked_fill(logits <= kth, NEG_INF),
                    "keep the *largest* logits: torch.topk(..., largest=True), or sort "
                    "descending.": logits.masked_fill(
                        logits > torch.topk(logits, k, largest=False).values[..., -1:], NEG_INF
                    ),
                    "take the top k along the vocabulary (dim=-1), per row, not over the "
                    "whole batch.": logits.masked_fill(
                        logits < torch.topk(logits.flatten(), k).values[-1], NEG_INF
                    ),
                    "you keep k + 1 tokens: the k-th largest is at index k - 1 of the "
                    "descending sort (indices start at 0).": top_k_filter(logits, k + 1),
                }
                if k > 1:  # before the strict comparison, which keeps k - 1 without ties
                    mistakes = {
                        "you keep k - 1 tokens: keep the k largest, the k-th included "
                        "(values[..., k - 1], or topk(k).values[..., -1]).": top_k_filter(
                            logits, k - 1
                        ),
                        **mistakes,
                    }
                _expect_filter(_call(top_k_fn, logits, k, what), expected, what, mistakes)


def _nucleus(
    logits: torch.Tensor,
    p: float,
    *,
    descending: bool = True,
    keep_crossing: bool = True,
    of_probs: bool | str = True,
    unsort: bool = True,
    dim: int = -1,
    strict: bool = False,
):
    """Top-p with one knob turned (the typical mistakes); the defaults give the right answer."""
    if of_probs == "naive":  # exp / sum: inf / inf = NaN once a logit passes ~88
        scores = logits.exp() / logits.exp().sum(dim, keepdim=True)
    else:
        scores = logits.softmax(dim) if of_probs else logits
    values, order = scores.sort(-1, descending=descending)
    cum = values.cumsum(-1)
    if strict:
        remove = cum - values > p
    else:
        remove = (cum - values >= p) if keep_crossing else (cum > p)
    remove[..., 0] = False
    if unsort:
        remove = remove.scatter(-1, order, remove)
    return logits.masked_fill(remove, NEG_INF)


@checker
@own_rng
def check_top_p(top_p_fn: Callable[[torch.Tensor, float], torch.Tensor], seed: int = 0) -> None:
    """``top_p_fn(logits, p)``: keep the most likely tokens until their probability reaches p.

    Also at p = 1.0 (every token stays) and on large logits (those of a low temperature)."""
    gen = torch.Generator().manual_seed(seed)
    cases = [(_logits(seed + offset), p) for offset in range(4) for p in (0.3, 0.7, 0.95)]
    # probabilities 1/2, 1/4, ... exactly, shuffled: the mass above a token can equal p
    dyadic = torch.tensor([0.5, 0.25, 0.125, 0.0625, 0.0625]).log()
    dyadic = torch.stack([dyadic[torch.randperm(5, generator=gen)] for _ in range(4)])
    cases += [(dyadic, p) for p in (0.5, 0.75, 0.875)]
    cases += [
        (torch.randn(16, 12, generator=gen), 1.0),
        (torch.randn(4, 30, generator=gen) * 2 / 0.02, 0.9),  # temperature 0.02
        (torch.randn(4, 30, generator=gen) * 40 + 60, 0.95),
    ]
    for logits, p in cases:
        what = f"top_p_fn(logits, p={p})" + (
            f" on large logits (up to {logits.abs().max():.0f})" if logits.abs().max() > 30 else ""
        )
        overflow = (
            {
                "the probabilities hold NaN: exp(x) / sum(exp(x)) overflows for large logits "
                "(after a low temperature): use logits.softmax(-1), which subtracts the maximum "
                "first.": _nucleus(logits, p, of_probs="naive")
            }
            if logits.abs().max() > 80
            else {}
        )
        _expect_filter(
            _call(top_p_fn, logits, p, what),
            top_p_filter(logits, p),
            what,
            {
                **overflow,
                "keep the token whose probability carries the running total across p: "
                "remove a token only when the tokens ranked above it already reach p "
                "(compare cumsum minus the token's own probability with p).": _nucleus(
                    logits, p, keep_crossing=False
                ),
                "a token whose higher-ranked tokens already hold exactly p is outside the "
                "nucleus: remove it when that mass is >= p, not > p.": _nucleus(
                    logits, p, strict=True
                ),
                "sort the probabilities in descending order before the running sum: "
                "the nucleus is made of the most likely tokens.": _nucleus(
                    logits, p, descending=False
                ),
                "map the decision back to the vocabulary order (scatter with the sort "
                "indices): the mask you built is in sorted order.": _nucleus(
                    logits, p, unsort=False
                ),
                "the running sum is over probabilities (softmax of the logits), not over "
                "the logits themselves.": _nucleus(logits, p, of_probs=False),
                "take the softmax over the vocabulary (dim=-1), each row on its own, not "
                "over the batch.": _nucleus(logits, p, dim=0),
            },
        )
    tiny = torch.tensor([[5.0, 0.0, -1.0]])
    kept = _kept(_call(top_p_fn, tiny, 0.01, "top_p_fn(logits, p=0.01)"))
    assert kept[0, 0] and kept.sum() == 1, (
        "with a small p only the most likely token stays, and it always stays."
    )
