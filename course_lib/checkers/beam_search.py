"""Checker for Module 4's stretch exercise: beam search over a next-token scorer.

``search(next_log_probs, bos_id, eos_id, max_len, beam_size)`` decodes one sequence.
``next_log_probs(prefixes)`` takes ``(n, t)`` token ids (each row starts with ``bos_id``) and
returns ``(n, vocab)`` log-probabilities of the next token. A hypothesis' score is the sum of
its tokens' log-probabilities. Every step extends each unfinished hypothesis by every token,
keeps finished ones (they ended with ``eos_id``) as they are with their score, and keeps the
``beam_size`` best of all; it stops when every kept hypothesis is finished or after
``max_len`` tokens. It returns the best kept hypothesis as a list of ids without ``bos_id``
(``eos_id`` included when produced).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from course_lib.checkers.core import case, checker

Scorer = Callable[[torch.Tensor], torch.Tensor]


def markov_scorer(vocab: int, seed: int, eos_bias: float = 0.0) -> Scorer:
    """A random next-token scorer whose log-probabilities depend on the last token and the
    position: ``(n, t)`` ids -> ``(n, vocab)``. ``eos_bias`` is added to id 1's logit."""
    gen = torch.Generator().manual_seed(seed)
    by_token = torch.randn(vocab, vocab, generator=gen) * 2.0
    by_position = torch.randn(64, vocab, generator=gen)
    by_token[:, 1] += eos_bias

    def next_log_probs(prefixes: torch.Tensor) -> torch.Tensor:
        logits = by_token[prefixes[:, -1]] + by_position[prefixes.shape[1] - 1]
        return logits.log_softmax(dim=-1)

    return next_log_probs


def garden_path_scorer() -> Scorer:
    """The textbook case where greedy loses. Ids: 0 bos, 1 eos. The first token is surely 2;
    then the likelier 3 (p=0.6) is followed by nothing above 0.35, the other, 4 (p=0.4), by
    7 with p=0.9; every later token is followed by eos. Greedy: 2, 3, 5, eos (probability
    0.21); a beam of 2: 2, 4, 7, eos (0.36)."""
    table = torch.full((8, 8), 1e-6)
    table[0, 2] = 1.0  # after bos
    table[2, 3], table[2, 4] = 0.6, 0.4  # the fork
    table[3, 1], table[3, 5], table[3, 6] = 0.3, 0.35, 0.35  # after 3: nothing sure
    table[4, 7], table[4, 1] = 0.9, 0.1  # after 4: almost surely 7
    table[5:, 1] = 1.0  # then eos
    log_table = (table / table.sum(-1, keepdim=True)).log()

    def next_log_probs(prefixes: torch.Tensor) -> torch.Tensor:
        return log_table[prefixes[:, -1]]

    return next_log_probs


def reference_beam_search(
    next_log_probs: Scorer, bos_id: int, eos_id: int, max_len: int, beam_size: int
) -> list[int]:
    """The specification above, written plainly (one prefix at a time)."""
    beams = [([bos_id], 0.0, False)]
    for _ in range(max_len):
        candidates = []
        for seq, score, done in beams:
            if done:
                candidates.append((seq, score, True))
                continue
            logp = next_log_probs(torch.tensor([seq]))[0].tolist()
            candidates += [(seq + [tok], score + lp, tok == eos_id) for tok, lp in enumerate(logp)]
        beams = sorted(candidates, key=lambda c: -c[1])[:beam_size]
        if all(done for _, _, done in beams):
            break
    return max(beams, key=lambda c: c[1])[0][1:]


def _score(next_log_probs: Scorer, bos_id: int, tokens: list[int]) -> float:
    seq = [bos_id] + tokens
    return sum(
        next_log_probs(torch.tensor([seq[: i + 1]]))[0, seq[i + 1]].item()
        for i in range(len(tokens))
    )


def _as_ids(result, what: str) -> list[int]:
    if isinstance(result, torch.Tensor):
        result = result.flatten().tolist()
    if not isinstance(result, (list, tuple)) or not all(isinstance(i, int) for i in result):
        raise AssertionError(f"{what} should be a list of token ids, got {result!r}.")
    return list(result)


def _run(search, scorer, max_len, beam_size, what) -> list[int]:
    with case(
        what,
        "next_log_probs takes a (n, t) LongTensor of prefixes that start with "
        "bos_id and returns (n, vocab) log-probabilities.",
    ):
        return _as_ids(search(scorer, 0, 1, max_len, beam_size), what)


@checker
def check_beam_search(search, seed: int = 46) -> None:
    """``search(next_log_probs, bos_id=0, eos_id=1, max_len, beam_size) -> list[int]``."""
    # 1. One beam is greedy decoding.
    for trial in range(3):
        scorer = markov_scorer(7, seed + trial, eos_bias=0.5 * trial)
        expected = reference_beam_search(scorer, 0, 1, 8, 1)
        got = _run(search, scorer, 8, 1, f"beam_size=1 (random scorer {trial})")
        if got != expected:
            raise AssertionError(
                f"with beam_size=1 your search returned {got}, greedy decoding gives {expected}"
                ": one beam must take the single best token at every step."
            )
    # 2. The garden path: greedy loses, a beam of 2 finds the better sequence.
    path = garden_path_scorer()
    got = _run(search, path, 5, 2, "beam_size=2 on the garden-path scorer")
    if got != [2, 4, 7, 1]:
        raise AssertionError(
            f"on the garden-path case (after 2, token 3: p=0.6 then nothing above 0.35; token "
            f"4: p=0.4 then 7 with p=0.9) a beam of 2 should return [2, 4, 7, 1] (probability "
            f"0.36); greedy's [2, 3, 5, 1] has 0.21; you returned {got}. Keep the 2 best of all "
            "the candidates of both beams, ranked by summed log-probability."
        )
    # 3. Random scorers, several beam sizes: the specification's result.
    for trial in range(4):
        scorer = markov_scorer(6, seed + 10 + trial, eos_bias=float(trial % 2))
        for beam_size in (2, 3):
            expected = reference_beam_search(scorer, 0, 1, 7, beam_size)
            what = f"beam_size={beam_size} (random scorer {trial})"
            got = _run(search, scorer, 7, beam_size, what)
            if got == expected:
                continue
            hint = "keep the beam_size best of *all* candidates of *all* beams (one top-k)"
            if 1 in got[:-1]:
                hint = "a hypothesis that produced eos is finished: keep it unchanged"
            elif len(got) > 7:
                hint = f"stop after max_len = 7 tokens (you returned {len(got)})"
            raise AssertionError(
                f"{what}: you returned {got} (score {_score(scorer, 0, got):.3f}), the "
                f"specification gives {expected} (score {_score(scorer, 0, expected):.3f}).\n"
                f"Hint: {hint}."
            )
    print("  beam 1 = greedy; the garden path is found; random cases match the specification")
