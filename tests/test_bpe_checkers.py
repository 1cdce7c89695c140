"""The BPE checker accepts a differently written correct BPE and names typical mistakes."""

from __future__ import annotations

import re
from collections import Counter

import pytest

from course_lib.bpe import learn_bpe_merges, merge_pair
from course_lib.checkers import STUB_MARKER, CheckFailed
from course_lib.checkers.bpe import check_bpe_merges


def stub(word_counts, num_merges):
    raise NotImplementedError(STUB_MARKER)


def bpe(word_counts, num_merges, *, weighted=True, tie="id", glue=False, text_merge=False,
        direction="left", first_only=False, overlap=False):
    """A learner-style BPE on lists of symbols; the keywords switch on one mistake each."""
    if glue:
        word_counts = {"".join(w * c for w, c in word_counts.items()): 1}
    rank = {c: i for i, c in enumerate(sorted(set("".join(word_counts))))}
    splits = [(list(w), c) for w, c in word_counts.items()]
    merges = []
    while len(merges) < num_merges:
        counts = {}
        for symbols, c in splits:
            for i in range(len(symbols) - 1):
                pair = (symbols[i], symbols[i + 1])
                counts[pair] = counts.get(pair, 0) + (c if weighted else 1)
        if not counts:
            break
        top = max(counts.values())
        tied = [p for p in counts if counts[p] == top]
        if tie == "id":
            best = min(tied, key=lambda p: (rank.get(p[0], 1e9), rank.get(p[1], 1e9)))
        elif tie == "string":
            best = min(tied)
        elif tie == "largest":
            best = max(tied, key=lambda p: (rank.get(p[0], -1), rank.get(p[1], -1)))
        else:
            best = tied[0]
        merges.append(best)
        rank.setdefault(best[0] + best[1], len(rank))
        new = []
        for symbols, c in splits:
            if text_merge:
                joined = " ".join(symbols).replace(f"{best[0]} {best[1]}", best[0] + best[1])
                new.append((joined.split(" "), c))
                continue
            if direction == "right":  # scan from the end: 'a a a' -> 'a aa'
                out, i = [], len(symbols) - 1
                while i >= 0:
                    if i > 0 and (symbols[i - 1], symbols[i]) == best:
                        out.insert(0, best[0] + best[1])
                        i -= 2
                    else:
                        out.insert(0, symbols[i])
                        i -= 1
                new.append((out, c))
                continue
            out, i, done = [], 0, False
            while i < len(symbols):
                if tuple(symbols[i:i + 2]) == best and not done:
                    out.append(best[0] + best[1])
                    i += 1 if overlap else 2
                    done = first_only
                    if overlap and i == len(symbols) - 1:
                        break
                else:
                    out.append(symbols[i])
                    i += 1
            new.append((out, c))
        splits = new
    return merges


def test_reference_and_a_differently_written_bpe_pass_and_stub_is_not_attempted(capsys):
    assert check_bpe_merges(learn_bpe_merges)
    assert check_bpe_merges(bpe)
    assert not check_bpe_merges(stub)
    assert "[not attempted]" in capsys.readouterr().out


@pytest.mark.parametrize(
    "mistake, hint",
    [
        ({"weighted": False}, "times the word's count"),
        ({"tie": "string"}, "comparing the strings themselves"),
        ({"tie": "first"}, "do not take the pair seen first"),
        ({"glue": True}, "inside words only"),
        ({"text_merge": True}, "merge whole symbols only"),
    ],
)
def test_typical_mistakes_are_named(mistake, hint):
    with pytest.raises(CheckFailed, match=hint):
        check_bpe_merges(lambda counts, n: bpe(counts, n, **mistake))


def test_wrong_return_type_and_no_stop_are_reported():
    with pytest.raises(CheckFailed, match="list of \\(left, right\\)"):
        check_bpe_merges(lambda counts, n: ["".join(p) for p in learn_bpe_merges(counts, n)])

    def never_stops(counts, n):
        merges = learn_bpe_merges(counts, n)
        return merges + [merges[-1]] * (n - len(merges))

    with pytest.raises(CheckFailed, match="stop when no pair is left"):
        check_bpe_merges(never_stops)


# ------------------------------------------------------------------ held against many seeds

SEEDS = [0, *range(100, 120)]  # the default seed and 20 others


def bpe_with_counter(word_counts, num_merges):
    """Correct, written differently: tuples of symbols, a Counter, ids as a growing list,
    the merge done by a regular expression on space-joined symbols (anchored on spaces)."""
    order = sorted({c for w in word_counts for c in w})
    words = Counter({" ".join(w): c for w, c in word_counts.items()})
    merges = []
    while len(merges) < num_merges:
        pairs = Counter()
        for text, c in words.items():
            symbols = text.split(" ")
            for pair in zip(symbols, symbols[1:]):
                pairs[pair] += c
        if not pairs:
            return merges
        best = sorted(pairs, key=lambda p: (-pairs[p], order.index(p[0]), order.index(p[1])))[0]
        merges.append(best)
        order.append(best[0] + best[1])
        pattern = re.compile(rf"(?<!\S){re.escape(best[0])} {re.escape(best[1])}(?!\S)")
        words = Counter({pattern.sub(best[0] + best[1], t): c for t, c in words.items()})
    return merges


def bpe_counts_without_default(word_counts, num_merges):
    """counts[pair] += c on a plain dict: KeyError the first time a pair is seen."""
    counts = {}
    for word, c in word_counts.items():
        for pair in zip(word, word[1:]):
            counts[pair] += c
    return sorted(counts)[:num_merges]


def bpe_merged_symbols_without_ids(word_counts, num_merges):
    """Forgets to give merged symbols an id: KeyError once one is in a counted pair."""
    ids = {c: i for i, c in enumerate(sorted({c for w in word_counts for c in w}))}
    symbols = {w: list(w) for w in word_counts}
    merges = []
    for _ in range(num_merges):
        counts = Counter()
        for word, parts in symbols.items():
            for pair in zip(parts, parts[1:]):
                counts[pair] += word_counts[word]
        if not counts:
            break
        best = min(counts, key=lambda p: (-counts[p], ids[p[0]], ids[p[1]]))
        merges.append(best)
        symbols = {w: merge_pair(parts, best) for w, parts in symbols.items()}
    return merges


def test_bpe_checker_holds_over_many_seeds():
    for right in (learn_bpe_merges, bpe, bpe_with_counter):
        for seed in SEEDS:
            assert check_bpe_merges(right, seed=seed), f"rejected at seed {seed}"
    wrong_versions = [
        (lambda c, n: bpe(c, n, weighted=False), "times the word's count"),
        (lambda c, n: bpe(c, n, tie="string"), "comparing the strings themselves"),
        (lambda c, n: bpe(c, n, tie="first"), "do not take the pair seen first"),
        (lambda c, n: bpe(c, n, glue=True), "inside words only"),
        (lambda c, n: bpe(c, n, text_merge=True), "merge whole symbols only"),
        (lambda c, n: bpe(c, n, direction="right"), "from left to right"),
        (lambda c, n: bpe(c, n, first_only=True), "not only the first"),
        (lambda c, n: bpe(c, n, overlap=True), "continue at i \\+ 2"),
        (lambda c, n: bpe(c, n, tie="largest"), "not the largest"),
        (bpe_counts_without_default, "counts.get\\(pair, 0\\)"),
        (bpe_merged_symbols_without_ids, "give every merged symbol the next id"),
    ]
    for wrong, hint in wrong_versions:
        for seed in SEEDS:
            with pytest.raises(CheckFailed, match=hint):
                check_bpe_merges(wrong, seed=seed)
