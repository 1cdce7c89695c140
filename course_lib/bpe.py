"""Byte-pair encoding (BPE) from scratch: learn merges from word counts, then split words.

BPE starts from single characters and repeatedly merges the most frequent adjacent pair of
symbols into a new symbol. Pairs are counted inside words only, each occurrence weighted by
the word's count.

Tie-breaking rule (the one Hugging Face ``tokenizers``' ``BpeTrainer`` uses): every symbol has
an id, the characters first in code-point order, then each merged symbol in the order it was
created; among equally frequent pairs the one with the smallest ``(left id, right id)`` wins.
With that rule, :func:`learn_bpe_merges` returns exactly the merges ``tokenizers`` learns.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping

Pair = tuple[str, str]


def merge_pair(symbols: list[str], pair: Pair) -> list[str]:
    """Replace every non-overlapping occurrence of ``pair`` in ``symbols``, left to right."""
    merged, i = [], 0
    while i < len(symbols):
        if i + 1 < len(symbols) and (symbols[i], symbols[i + 1]) == pair:
            merged.append(symbols[i] + symbols[i + 1])
            i += 2
        else:
            merged.append(symbols[i])
            i += 1
    return merged


def learn_bpe_merges(word_counts: Mapping[str, int], num_merges: int) -> list[Pair]:
    """The first ``num_merges`` BPE merges of a corpus given as ``{word: count}``.

    Stops early when no pair is left (every word is one symbol).
    """
    if any(not isinstance(w, str) or not w for w in word_counts):
        raise ValueError("word_counts needs non-empty words (strings) as keys.")
    ids = {c: i for i, c in enumerate(sorted({c for w in word_counts for c in w}))}
    words = {w: list(w) for w in word_counts}
    merges: list[Pair] = []
    for _ in range(num_merges):
        pairs: Counter[Pair] = Counter()
        for word, symbols in words.items():
            for pair in zip(symbols, symbols[1:]):
                pairs[pair] += word_counts[word]
        if not pairs:
            break
        best = max(pairs, key=lambda p: (pairs[p], -ids[p[0]], -ids[p[1]]))
        merges.append(best)
        ids.setdefault(best[0] + best[1], len(ids))
        words = {w: merge_pair(s, best) for w, s in words.items()}
    return merges


def bpe_split(word: str, merges: list[Pair]) -> list[str]:
    """Split ``word`` into symbols by applying ``merges`` in the order they were learned."""
    symbols = list(word)
    for pair in merges:
        symbols = merge_pair(symbols, pair)
    return symbols
