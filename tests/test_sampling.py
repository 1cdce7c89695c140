"""The sampling filters compute what transformers' logits processors compute."""

from __future__ import annotations

import pytest
import torch
from transformers import TemperatureLogitsWarper, TopKLogitsWarper, TopPLogitsWarper

from course_lib.sampling import apply_temperature, sample_next, top_k_filter, top_p_filter


def logits(seed: int, ties: bool = False) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    if ties:
        return torch.randint(0, 5, (4, 40), generator=gen).float()
    return torch.randn(4, 100, generator=gen) * 3


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("t", [0.3, 1.0, 2.5])
def test_temperature_equals_the_library(seed, t):
    x = logits(seed)
    torch.testing.assert_close(apply_temperature(x, t), TemperatureLogitsWarper(t)(None, x.clone()))


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("ties", [False, True])
@pytest.mark.parametrize("k", [1, 2, 10, 200])
def test_top_k_equals_the_library_ties_included(seed, ties, k):
    x = logits(seed, ties)
    torch.testing.assert_close(top_k_filter(x, k), TopKLogitsWarper(k)(None, x.clone()))


@pytest.mark.parametrize("seed", range(10))
@pytest.mark.parametrize("p", [0.05, 0.3, 0.8, 0.99, 1.0])
def test_top_p_equals_the_library(seed, p):
    x = logits(seed)
    torch.testing.assert_close(top_p_filter(x, p), TopPLogitsWarper(p)(None, x.clone()))


def test_top_p_keeps_the_token_that_crosses_the_threshold():
    x = torch.tensor([[0.5, 0.3, 0.2]]).log()
    assert torch.isfinite(top_p_filter(x, 0.6)).tolist() == [[True, True, False]]
    assert torch.isfinite(top_p_filter(x, 0.5)).tolist() == [[True, False, False]]


def test_sample_next_draws_like_the_library_pipeline():
    x = logits(3)
    expected = TopPLogitsWarper(0.9)(None, TopKLogitsWarper(20)(None, x / 0.7)).softmax(-1)
    ours = sample_next(x, 0.7, 20, 0.9, torch.Generator().manual_seed(0))
    theirs = torch.multinomial(expected, 1, generator=torch.Generator().manual_seed(0))
    assert torch.equal(ours, theirs.squeeze(-1))
    assert torch.equal(sample_next(x, 0.7, top_k=1), x.argmax(-1))


def test_bad_input_says_what_to_do():
    with pytest.raises(ValueError, match=r"\(batch, vocab\)"):
        top_k_filter(torch.randn(10), 3)
    with pytest.raises(ValueError, match="temperature must be > 0"):
        apply_temperature(logits(0), 0.0)
    with pytest.raises(ValueError, match=r"top_p must be in \(0, 1\]"):
        top_p_filter(logits(0), 1.5)
