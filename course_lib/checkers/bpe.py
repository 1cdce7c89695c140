"""Checker for Module 5's BPE exercise: learn merges from ``{word: count}``.

The learner's ``learn_merges(word_counts, num_merges) -> list[(left, right)]`` runs on several
random corpora; its merges must equal the reference's (which equal Hugging Face
``tokenizers``'). A wrong answer is compared with the merges of the typical mistakes.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable, Mapping

from course_lib.bpe import Pair, learn_bpe_merges, merge_pair
from course_lib.checkers.core import case, checker

MergeFn = Callable[[Mapping[str, int], int], list[Pair]]


def _variant(
    word_counts: Mapping[str, int],
    num_merges: int,
    *,
    weighted=True,
    tie="id",
    across_words=False,
    merge=merge_pair,
) -> list[Pair]:
    """BPE with one knob turned the wrong way (the typical mistakes)."""
    words = {w: list(w) for w in word_counts}
    if across_words:  # the corpus glued into one string
        glued = "".join(w * c for w, c in word_counts.items())
        words, word_counts = {glued: list(glued)}, {glued: 1}
    ids = {c: i for i, c in enumerate(sorted({c for w in words for c in w}))}
    merges: list[Pair] = []
    for _ in range(num_merges):
        pairs: Counter[Pair] = Counter()
        for word, symbols in words.items():
            for pair in zip(symbols, symbols[1:]):
                pairs[pair] += word_counts[word] if weighted else 1
        if not pairs:
            break
        if tie == "id":
            unknown = 10**9  # symbols a wrong merge invents rank last
            best = max(
                pairs, key=lambda p: (pairs[p], -ids.get(p[0], unknown), -ids.get(p[1], unknown))
            )
        elif tie == "largest id":
            best = max(pairs, key=lambda p: (pairs[p], ids.get(p[0], -1), ids.get(p[1], -1)))
        elif tie == "string":
            best = min(pairs, key=lambda p: (-pairs[p], p))
        else:  # "first seen": Counter.most_common keeps insertion order among ties
            best = pairs.most_common(1)[0][0]
        merges.append(best)
        ids.setdefault(best[0] + best[1], len(ids))
        words = {w: merge(s, best) for w, s in words.items()}
    return merges


def _merge_by_text(symbols: list[str], pair: Pair) -> list[str]:
    """Wrong: string replacement on the space-joined symbols also matches inside symbols."""
    return " ".join(symbols).replace(f"{pair[0]} {pair[1]}", pair[0] + pair[1]).split(" ")


def _merge_right_to_left(symbols: list[str], pair: Pair) -> list[str]:
    """Wrong: scanning from the right merges 'a a a' into 'a aa', not 'aa a'."""
    return [
        s[::-1]
        for s in merge_pair([s[::-1] for s in symbols[::-1]], (pair[1][::-1], pair[0][::-1]))
    ][::-1]


def _merge_first_only(symbols: list[str], pair: Pair) -> list[str]:
    """Wrong: merges only the first occurrence of the pair in each word."""
    for i in range(len(symbols) - 1):
        if (symbols[i], symbols[i + 1]) == pair:
            return symbols[:i] + [pair[0] + pair[1]] + symbols[i + 2 :]
    return symbols


def _merge_overlapping(symbols: list[str], pair: Pair) -> list[str]:
    """Wrong: after a merge the scan moves on by one symbol, not two: 'a a a' -> 'aa aa'."""
    out, i = [], 0
    while i < len(symbols):
        if i + 1 < len(symbols) and (symbols[i], symbols[i + 1]) == pair:
            out.append(pair[0] + pair[1])
            if i + 2 == len(symbols):
                break
        else:
            out.append(symbols[i])
        i += 1
    return out


MISTAKES = [
    (
        {"weighted": False},
        "count each pair once per occurrence *times the word's count*: a "
        "word seen 5 times contributes its pairs 5 times.",
    ),
    (
        {"tie": "string"},
        "ties: among equally frequent pairs pick the smallest (left id, right id), "
        "where characters get ids in code-point order and each merged symbol the next id when it "
        "is created; comparing the strings themselves breaks ties differently once merged "
        "symbols compete with characters.",
    ),
    (
        {"tie": "first"},
        "ties: do not take the pair seen first; pick the smallest (left id, right "
        "id), characters in code-point order, then merged symbols in creation order.",
    ),
    (
        {"across_words": True},
        "count pairs inside words only: gluing the corpus into one string "
        "creates pairs across word boundaries.",
    ),
    (
        {"merge": _merge_by_text},
        "merge whole symbols only: replacing the text 'a b' in the "
        "space-joined word also hits 'ca b' (symbol 'ca' followed by 'b'); walk the list of "
        "symbols and compare (symbols[i], symbols[i+1]) with the pair.",
    ),
    (
        {"merge": _merge_right_to_left},
        "merge from left to right: 'a a a' with the merge (a, a) "
        "becomes 'aa a', not 'a aa'. Walk the symbols from the start and skip both symbols of a "
        "merged pair.",
    ),
    (
        {"merge": _merge_first_only},
        "merge *every* occurrence of the pair in each word (left to "
        "right, without overlaps), not only the first.",
    ),
    (
        {"merge": _merge_overlapping},
        "after merging symbols[i] and symbols[i + 1], continue at "
        "i + 2: moving on by one merges overlapping pairs and duplicates symbols ('a a a' "
        "becomes 'aa aa' instead of 'aa a').",
    ),
    ({"tie": "largest id"}, "ties: the *smallest* (left id, right id) wins, not the largest."),
]


def _crash_hint(err: BaseException) -> str:
    """The hint for a crash inside the learner's BPE."""
    if isinstance(err, KeyError):
        return (
            f"a dictionary has no key {err}. Counting pairs: counts[pair] += n fails the first "
            "time a pair is seen; use counts.get(pair, 0) + n or collections.Counter. Looking "
            "up ids: give every merged symbol the next id when it is created "
            "(ids[left + right] = len(ids)), or merged symbols have no id when they tie."
        )
    return ""


def _corpus(seed: int) -> dict[str, int]:
    rng = random.Random(seed)
    letters = rng.choice(["abcde", "edcba", "xbyaz", "aab"])  # code-point order != first seen
    words = ["".join(rng.choice(letters) for _ in range(rng.randint(1, 7))) for _ in range(14)]
    words += ["aaaa", "abab", "aaa", "ba" * rng.randint(2, 4)]  # overlaps and repeats
    return {w: rng.randint(1, 6) for w in words}


@checker
def check_bpe_merges(learn_merges: MergeFn, seed: int = 0) -> None:
    """``learn_merges(word_counts, num_merges)``: the BPE merges, most frequent pair first.

    Runs on 8 random corpora (``seed`` picks them), with overlapping pairs and ties."""
    for offset in range(8):
        counts, n = _corpus(seed + offset), 10
        expected = learn_bpe_merges(counts, n)
        with case(f"learn_merges on the corpus {counts}, num_merges={n}", _crash_hint):
            got = learn_merges(dict(counts), n)
        if not isinstance(got, list) or not all(isinstance(m, tuple) and len(m) == 2 for m in got):
            raise AssertionError(
                f"return a list of (left, right) string pairs, got {type(got).__name__} "
                f"{str(got)[:80]}"
            )
        got = [(str(a), str(b)) for a, b in got]
        if got == expected:
            continue
        for knobs, hint in MISTAKES:
            if got == _variant(counts, n, **knobs):
                raise AssertionError(f"your merges differ from the reference.\nHint: {hint}")
        first = next(
            (i for i, (a, b) in enumerate(zip(got, expected)) if a != b),
            min(len(got), len(expected)),
        )
        raise AssertionError(
            f"on the corpus {counts} your merges differ from merge {first + 1} on: you have "
            f"{got[first : first + 2]}, expected {expected[first : first + 2]} "
            f"({len(got)} vs {len(expected)} merges)."
        )
    with case("learn_merges({'ab': 1}, 5)", _crash_hint):
        got = learn_merges({"ab": 1}, 5)
    assert got == [("a", "b")], (
        "stop when no pair is left: {'ab': 1} has one merge, however many are asked for."
    )
