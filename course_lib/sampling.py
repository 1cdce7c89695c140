"""Module 5: sampling the next token: temperature, top-k and top-p (nucleus) filters on logits.

Each filter takes next-token logits ``(batch, vocab)`` and returns logits of the same shape,
with removed tokens set to ``-inf`` (so softmax gives them probability 0). They compute what
``transformers``' ``TemperatureLogitsWarper``, ``TopKLogitsWarper`` and ``TopPLogitsWarper``
compute (tested); :func:`sample_next` combines them in that order, as ``generate`` does.
"""

from __future__ import annotations

import torch


def _check_logits(logits: torch.Tensor) -> None:
    if not isinstance(logits, torch.Tensor) or logits.dim() != 2 or not logits.is_floating_point():
        got = tuple(logits.shape) if isinstance(logits, torch.Tensor) else type(logits).__name__
        raise ValueError(f"logits must be a float tensor (batch, vocab), got {got}.")


def apply_temperature(logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """``logits / temperature``: below 1 sharpens the distribution, above 1 flattens it."""
    _check_logits(logits)
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature} (use greedy for 0).")
    return logits / temperature


def top_k_filter(logits: torch.Tensor, k: int) -> torch.Tensor:
    """Keep the ``k`` largest logits of each row (and every logit tied with the k-th)."""
    _check_logits(logits)
    if k < 1:
        raise ValueError(f"top_k must be >= 1, got {k}.")
    kth = torch.topk(logits, min(k, logits.shape[-1]), dim=-1).values[..., -1:]
    return logits.masked_fill(logits < kth, float("-inf"))


def top_p_filter(logits: torch.Tensor, p: float) -> torch.Tensor:
    """Keep the smallest set of most likely tokens whose probability reaches ``p``.

    The token whose probability carries the running total across ``p`` is kept; the most
    likely token is always kept.
    """
    _check_logits(logits)
    if not 0 < p <= 1:
        raise ValueError(f"top_p must be in (0, 1], got {p}.")
    if p == 1.0:  # everything (a running sum of floats may reach 1 before the last token)
        return logits.clone()
    sorted_logits, order = torch.sort(logits, dim=-1, descending=True)
    probs = sorted_logits.softmax(dim=-1)
    mass_before = probs.cumsum(dim=-1) - probs  # probability of the tokens ranked above
    remove_sorted = mass_before >= p
    remove_sorted[..., 0] = False
    remove = remove_sorted.scatter(-1, order, remove_sorted)
    return logits.masked_fill(remove, float("-inf"))


def filter_logits(
    logits: torch.Tensor, top_k: int | None = None, top_p: float | None = None
) -> torch.Tensor:
    """``logits`` ``(batch, vocab)`` with every token outside the top-k / nucleus set to -inf.

    ``top_k`` keeps the k most likely tokens; ``top_p`` keeps the smallest set of most likely
    tokens whose probabilities sum to at least ``top_p`` (the most likely one always stays).
    The filters equal transformers' logits processors (tested).
    """
    if top_k is not None:
        logits = top_k_filter(logits, top_k)
    if top_p is not None:
        logits = top_p_filter(logits, top_p)
    return logits


def sample_next(
    logits: torch.Tensor,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """One token id per row ``(batch,)``: temperature, then top-k, then top-p, then sample.

    The order is the one ``generate(do_sample=True, ...)`` applies.
    """
    logits = filter_logits(apply_temperature(logits, temperature), top_k, top_p)
    return torch.multinomial(logits.softmax(dim=-1), 1, generator=generator).squeeze(-1)
