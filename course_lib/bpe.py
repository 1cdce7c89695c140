"""Modules 4-5: byte-pair encoding (BPE) from scratch: learn merges, then split words.

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
from collections.abc import Iterable, Mapping

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

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


def byte_level_bpe(
    texts: Iterable[str], vocab_size: int, special_tokens: Iterable[str] = ()
) -> Tokenizer:
    """GPT-2's kind of tokenizer, learned with Hugging Face ``tokenizers`` on ``texts``.

    Byte-level BPE: the text is read as UTF-8 bytes, all 256 of them are in the vocabulary, so
    any text round-trips exactly (spaces and newlines included) and nothing is ever unknown.
    ``special_tokens`` (e.g. ``"<|endoftext|>"``) get the first ids.
    """
    if vocab_size <= 256:
        raise ValueError(f"vocab_size must exceed the 256 byte tokens, got {vocab_size}")
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=list(special_tokens),
        show_progress=False,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tokenizer.train_from_iterator(texts, trainer)
    return tokenizer


def token_byte_lengths(tokenizer: Tokenizer) -> torch.Tensor:
    """``(vocab,)``: how many bytes of text each id of a :func:`byte_level_bpe` tokenizer stands
    for (0 for special tokens). On ASCII text, bytes are characters."""
    specials = {t.content for t in tokenizer.get_added_tokens_decoder().values()}
    return torch.tensor(
        [
            0 if (token := tokenizer.id_to_token(i)) in specials else len(token)
            for i in range(tokenizer.get_vocab_size())
        ]
    )
