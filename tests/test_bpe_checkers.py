"""The BPE checker accepts a differently written correct BPE and names typical mistakes."""

from __future__ import annotations

import pytest

from course_lib.bpe import learn_bpe_merges
from course_lib.checkers import STUB_MARKER, CheckFailed
from course_lib.checkers.bpe import check_bpe_merges


def stub(word_counts, num_merges):
    raise NotImplementedError(STUB_MARKER)


def bpe(word_counts, num_merges, *, weighted=True, tie="id", glue=False, text_merge=False):
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
            out, i = [], 0
            while i < len(symbols):
                if tuple(symbols[i:i + 2]) == best:
                    out.append(best[0] + best[1])
                    i += 2
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
