"""Seeded generators for toy sequence-to-sequence tasks.

Each returns a list of ``(source, target)`` string pairs, so a character :class:`Vocab`
encodes them directly. The same seed always gives the same pairs.
"""

from __future__ import annotations

import random
import string


def reversal_task(
    n: int,
    min_len: int = 3,
    max_len: int = 10,
    alphabet: str = string.ascii_lowercase,
    seed: int = 0,
) -> list[tuple[str, str]]:
    """``n`` pairs ``("abcd", "dcba")`` with lengths drawn uniformly in ``[min_len, max_len]``."""
    if n < 0 or not 1 <= min_len <= max_len:
        raise ValueError(f"need n >= 0 and 1 <= min_len <= max_len, got {n}, {min_len}, {max_len}")
    if not alphabet:
        raise ValueError("alphabet must not be empty")
    rng = random.Random(seed)
    pairs = []
    for _ in range(n):
        src = "".join(rng.choice(alphabet) for _ in range(rng.randint(min_len, max_len)))
        pairs.append((src, src[::-1]))
    return pairs


def addition_task(
    n: int, min_digits: int = 1, max_digits: int = 3, seed: int = 0
) -> list[tuple[str, str]]:
    """``n`` pairs ``("123+45", "168")``: each operand has ``min_digits..max_digits`` digits."""
    if n < 0 or not 1 <= min_digits <= max_digits:
        raise ValueError(
            f"need n >= 0 and 1 <= min_digits <= max_digits, got {n}, {min_digits}, {max_digits}"
        )
    rng = random.Random(seed)

    def operand() -> int:
        digits = rng.randint(min_digits, max_digits)
        low = 0 if digits == 1 else 10 ** (digits - 1)
        return rng.randint(low, 10**digits - 1)

    pairs = []
    for _ in range(n):
        a, b = operand(), operand()
        pairs.append((f"{a}+{b}", str(a + b)))
    return pairs
