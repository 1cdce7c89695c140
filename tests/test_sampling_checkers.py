"""The sampling checkers accept differently written filters and name typical mistakes."""

from __future__ import annotations

import pytest
import torch

from course_lib.checkers import STUB_MARKER, CheckFailed
from course_lib.checkers.sampling import check_temperature, check_top_k, check_top_p
from course_lib.sampling import apply_temperature, top_k_filter, top_p_filter


def stub(logits, value):
    raise NotImplementedError(STUB_MARKER)


def top_k_by_sorting(logits, k):
    kth = logits.sort(dim=-1, descending=True).values[:, k - 1 : k]
    return torch.where(logits >= kth, logits, torch.tensor(float("-inf")))


def top_p_ascending(logits, p):
    """HF's formulation: drop the low tail whose total stays within 1 - p."""
    probs, order = logits.softmax(-1).sort(-1)
    drop = probs.cumsum(-1) <= 1 - p
    drop[:, -1] = False
    return logits.masked_fill(drop.scatter(-1, order, drop), float("-inf"))


@pytest.mark.parametrize(
    "check, reference, variant",
    [
        (check_temperature, apply_temperature, lambda x, t: x * (1.0 / t)),
        (check_top_k, top_k_filter, top_k_by_sorting),
        (check_top_p, top_p_filter, top_p_ascending),
    ],
)
def test_reference_and_variant_pass_stub_not_attempted(check, reference, variant, capsys):
    assert check(reference)
    assert check(variant)
    assert not check(stub)
    assert "[not attempted]" in capsys.readouterr().out


@pytest.mark.parametrize(
    "wrong, hint",
    [
        (lambda x, t: x * t, "do not multiply"),
        (lambda x, t: x.softmax(-1) / t, "before softmax"),
        (lambda x, t: (x / t).softmax(-1), "return logits, not probabilities"),
        (lambda x, t: (x - x.amax(-1, keepdim=True)) / t, "minus their maximum"),
        (lambda x, t: x.div_(t), "in place"),
    ],
)
def test_temperature_mistakes(wrong, hint):
    with pytest.raises(CheckFailed, match=hint):
        check_temperature(wrong)


def exactly_k(x, k):
    idx = x.topk(k, -1).indices
    return torch.full_like(x, float("-inf")).scatter(-1, idx, x.gather(-1, idx))


@pytest.mark.parametrize(
    "wrong, hint",
    [
        (exactly_k, "every token tied"),
        (lambda x, k: x.masked_fill(x <= x.topk(k, -1).values[:, -1:], float("-inf")), "not > it"),
        (lambda x, k: x.masked_fill(x > x.topk(k, -1, largest=False).values[:, -1:],
                                    float("-inf")), "largest"),
        (lambda x, k: x.masked_fill(x < x.flatten().topk(k).values[-1], float("-inf")), "per row"),
        (lambda x, k: x.masked_fill(x < x.topk(k, -1).values[:, -1:], 0.0), "-inf"),
    ],
)
def test_top_k_mistakes(wrong, hint):
    with pytest.raises(CheckFailed, match=hint):
        check_top_k(wrong)


def nucleus(x, p, keep_crossing=True, descending=True, unsort=True, of_probs=True):
    scores = x.softmax(-1) if of_probs else x
    values, order = scores.sort(-1, descending=descending)
    cum = values.cumsum(-1)
    drop = (cum - values >= p) if keep_crossing else (cum > p)
    drop[:, 0] = False
    if unsort:
        drop = drop.scatter(-1, order, drop)
    return x.masked_fill(drop, float("-inf"))


@pytest.mark.parametrize(
    "knob, hint",
    [
        ({"keep_crossing": False}, "carries the running total across p"),
        ({"descending": False}, "descending order"),
        ({"unsort": False}, "back to the vocabulary order"),
        ({"of_probs": False}, "over probabilities"),
    ],
)
def test_top_p_mistakes(knob, hint):
    with pytest.raises(CheckFailed, match=hint):
        check_top_p(lambda x, p: nucleus(x, p, **knob))


def test_top_p_that_can_remove_every_token_is_caught():
    def no_guard(x, p):
        probs, order = x.softmax(-1).sort(-1, descending=True)
        drop = probs.cumsum(-1) - probs >= p
        drop |= probs.cumsum(-1) > p  # also drops the crossing token, even the first
        return x.masked_fill(drop.scatter(-1, order, drop), float("-inf"))

    with pytest.raises(CheckFailed):
        check_top_p(no_guard)


# ------------------------------------------------------------------ held against many seeds

SEEDS = [0, *range(100, 120)]  # the default seed and 20 others


def _rejected_everywhere(check, wrong, hint):
    for seed in SEEDS:
        with pytest.raises(CheckFailed, match=hint):
            check(wrong, seed=seed)


def _accepted_everywhere(check, right):
    for seed in SEEDS:
        assert check(right, seed=seed), f"rejected at seed {seed}"


def test_temperature_checker_holds_over_many_seeds():
    for right in (apply_temperature, lambda x, t: x * (1.0 / t), lambda x, t: torch.div(x, t),
                  lambda x, t: x.clone().div_(t)):
        _accepted_everywhere(check_temperature, right)
    for wrong, hint in [
        (lambda x, t: x * t, "do not multiply"),
        (lambda x, t: x.softmax(-1) / t, "before softmax"),
        (lambda x, t: (x / t).log_softmax(-1), "log-softmax"),
        (lambda x, t: x / t**2, "not by 1 / t or t squared"),
        (lambda x, t: x / max(t, 0.1), "differs from the reference"),  # a clamped temperature
    ]:
        _rejected_everywhere(check_temperature, wrong, hint)


def top_k_by_min_of_topk(x, k):
    """Correct, written differently: the smallest of the top k values as the threshold."""
    threshold = x.topk(k, dim=-1).values.min(dim=-1, keepdim=True).values
    return torch.where(x >= threshold, x, torch.full_like(x, float("-inf")))


def top_k_large_negative(x, k):
    return x.masked_fill(x < x.topk(k, -1).values[:, -1:], -1e9)


def top_k_plus_one(x, k):
    kth = x.sort(dim=-1, descending=True).values[:, k : k + 1]
    return x.masked_fill(x < kth, float("-inf"))


def top_k_minus_one(x, k):
    kth = x.sort(dim=-1, descending=True).values[:, max(k - 2, 0) : max(k - 1, 1)]
    return x.masked_fill(x < kth, float("-inf"))


def test_top_k_checker_holds_over_many_seeds():
    for right in (top_k_filter, top_k_by_sorting, top_k_by_min_of_topk):
        _accepted_everywhere(check_top_k, right)
    for wrong, hint in [
        (top_k_large_negative, "must be -inf, not a large negative number"),
        (top_k_plus_one, "k \\+ 1 tokens"),
        (top_k_minus_one, "k - 1 tokens"),
        (exactly_k, "every token tied"),
        (lambda x, k: x.masked_fill(x <= x.topk(k, -1).values[:, -1:], float("-inf")), "not > it"),
    ]:
        _rejected_everywhere(check_top_k, wrong, hint)


def top_p_row_by_row(logits, p):
    """Correct, written differently: a Python loop over each row's sorted tokens."""
    out = torch.full_like(logits, float("-inf"))
    for row in range(logits.shape[0]):
        probs = logits[row].softmax(-1)
        total = 0.0
        for i in probs.argsort(descending=True).tolist():
            if total >= p:
                break
            out[row, i] = logits[row, i]
            total += probs[i].item()
    return out


def naive_softmax(logits, p):
    probs = logits.exp() / logits.exp().sum(-1, keepdim=True)  # overflows for large logits
    probs, order = probs.sort(-1, descending=True)
    drop = probs.cumsum(-1) - probs >= p
    return logits.masked_fill(drop.scatter(-1, order, drop), float("-inf"))


def cut_off_position(logits, p):
    """Looks up the position where the running sum reaches p: none may exist at p = 1.0."""
    out = logits.clone()
    for row in range(logits.shape[0]):
        probs, order = logits[row].softmax(-1).sort(descending=True)
        cut = int(torch.searchsorted(probs.cumsum(-1), torch.tensor([p]))[0])
        out[row, order[cut + 1:]] = float("-inf")
        probs[cut]  # the probability of the crossing token, past the end when none crosses
    return out


def top_p_strict(logits, p):
    """Removes a token only when the mass above it is *more* than p."""
    probs, order = logits.softmax(-1).sort(-1, descending=True)
    drop = probs.cumsum(-1) - probs > p
    return logits.masked_fill(drop.scatter(-1, order, drop), float("-inf"))


def top_p_large_negative(logits, p):
    return nucleus(logits, p).clamp(min=-1e9)


def test_top_p_checker_holds_over_many_seeds():
    for right in (top_p_filter, top_p_ascending, top_p_row_by_row):
        _accepted_everywhere(check_top_p, right)
    for wrong, hint in [
        (naive_softmax, "overflows for large logits"),
        (cut_off_position, "past the end of the sorted tensor"),
        (top_p_large_negative, "must be -inf"),
        (top_p_strict, "not > p"),
        (lambda x, p: nucleus(x, p, keep_crossing=False), "carries the running total"),
        (lambda x, p: nucleus(x, p, unsort=False), "back to the vocabulary order"),
    ]:
        _rejected_everywhere(check_top_p, wrong, hint)
