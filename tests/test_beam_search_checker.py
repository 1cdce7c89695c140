"""The beam-search stretch exercise's checker: right versions pass, typical wrong ones fail
with a hint, on several seeds; the garden-path case really separates beam from greedy."""

import pytest
import torch

from course_lib.checkers import CheckFailed
from course_lib.checkers.beam_search import (
    check_beam_search,
    garden_path_scorer,
    reference_beam_search,
)

SEEDS = (46, 3, 2024)


def vectorised(next_log_probs, bos_id, eos_id, max_len, beam_size):
    """All beams at once with one top-k, as course_lib.decoding.beam_search does."""
    ys = torch.tensor([[bos_id]])
    scores = torch.zeros(1)
    done = torch.zeros(1, dtype=torch.bool)
    for _ in range(max_len):
        logp = next_log_probs(ys)
        logp[done] = float("-inf")
        logp[done, eos_id] = 0.0  # a finished hypothesis stays as it is (one candidate)
        flat = (scores[:, None] + logp).flatten()
        scores, index = flat.topk(min(beam_size, flat.numel()))
        rows, tokens = index // logp.shape[1], index % logp.shape[1]
        finished_before = done[rows]
        ys = torch.cat([ys[rows], tokens[:, None]], dim=1)
        done = finished_before | (tokens == eos_id)
        ys[finished_before, -1] = -1  # padding after eos
        if done.all():
            break
    best = ys[scores.argmax()].tolist()[1:]
    return [t for t in best if t != -1]


def per_beam_top_k_then_merge(next_log_probs, bos_id, eos_id, max_len, beam_size):
    """Each beam proposes its own top-k; the k best of those survive: the same result."""
    beams = [([bos_id], 0.0, False)]
    for _ in range(max_len):
        proposals = []
        for seq, score, done in beams:
            if done:
                proposals.append((seq, score, True))
                continue
            logp = next_log_probs(torch.tensor([seq]))[0]
            top = logp.topk(beam_size)
            proposals += [
                (seq + [t], score + lp, t == eos_id)
                for lp, t in zip(top.values.tolist(), top.indices.tolist())
            ]
        beams = sorted(proposals, key=lambda c: -c[1])[:beam_size]
        if all(d for _, _, d in beams):
            break
    return max(beams, key=lambda c: c[1])[0][1:]


def multiplies_probabilities(next_log_probs, bos_id, eos_id, max_len, beam_size):
    """Products of probabilities rank like sums of log-probabilities."""
    beams = [([bos_id], 1.0, False)]
    for _ in range(max_len):
        candidates = []
        for seq, p, done in beams:
            if done:
                candidates.append((seq, p, True))
                continue
            probs = next_log_probs(torch.tensor([seq]))[0].exp().tolist()
            candidates += [(seq + [t], p * q, t == eos_id) for t, q in enumerate(probs)]
        beams = sorted(candidates, key=lambda c: -c[1])[:beam_size]
        if all(d for _, _, d in beams):
            break
    return max(beams, key=lambda c: c[1])[0][1:]


def independent_greedy_paths(next_log_probs, bos_id, eos_id, max_len, beam_size):
    """Wrong: each beam only ever takes its own best next token."""
    first = next_log_probs(torch.tensor([[bos_id]]))[0]
    beams = [
        ([bos_id, t], lp, t == eos_id)
        for lp, t in zip(*(v.tolist() for v in first.topk(beam_size)))
    ]
    for _ in range(max_len - 1):
        new = []
        for seq, score, done in beams:
            if done:
                new.append((seq, score, done))
                continue
            logp = next_log_probs(torch.tensor([seq]))[0]
            t = int(logp.argmax())
            new.append((seq + [t], score + logp[t].item(), t == eos_id))
        beams = new
    return max(beams, key=lambda c: c[1])[0][1:]


def ranks_by_last_token(next_log_probs, bos_id, eos_id, max_len, beam_size):
    """Wrong: keeps the hypotheses whose newest token was likeliest."""
    beams = [([bos_id], 0.0, 0.0, False)]
    for _ in range(max_len):
        candidates = []
        for seq, score, last, done in beams:
            if done:
                candidates.append((seq, score, last, True))
                continue
            logp = next_log_probs(torch.tensor([seq]))[0].tolist()
            candidates += [(seq + [t], score + lp, lp, t == eos_id) for t, lp in enumerate(logp)]
        beams = sorted(candidates, key=lambda c: -c[2])[:beam_size]
        if all(c[3] for c in beams):
            break
    return max(beams, key=lambda c: c[1])[0][1:]


def continues_after_eos(next_log_probs, bos_id, eos_id, max_len, beam_size):
    """Wrong: a hypothesis that produced eos keeps being extended."""
    beams = [([bos_id], 0.0)]
    for _ in range(max_len):
        candidates = []
        for seq, score in beams:
            logp = next_log_probs(torch.tensor([seq]))[0].tolist()
            candidates += [(seq + [t], score + lp) for t, lp in enumerate(logp)]
        beams = sorted(candidates, key=lambda c: -c[1])[:beam_size]
    return max(beams, key=lambda c: c[1])[0][1:]


def one_beam_too_few(next_log_probs, bos_id, eos_id, max_len, beam_size):
    """Wrong: keeps beam_size - 1 hypotheses (an off-by-one slice; beam 1 still works)."""
    return per_beam_top_k_then_merge(next_log_probs, bos_id, eos_id, max_len, max(1, beam_size - 1))


def never_finishes(next_log_probs, bos_id, eos_id, max_len, beam_size):
    """Wrong: eos is never chosen, so every hypothesis runs to max_len."""

    def without_eos(ys):
        logp = next_log_probs(ys).clone()
        logp[:, eos_id] = float("-inf")
        return logp

    return per_beam_top_k_then_merge(without_eos, bos_id, eos_id, max_len, beam_size)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize(
    "search",
    [reference_beam_search, vectorised, per_beam_top_k_then_merge, multiplies_probabilities],
)
def test_right_versions_pass(search, seed, capsys):
    assert check_beam_search(search, seed=seed)
    assert "[passed]" in capsys.readouterr().out


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize(
    "search, message",
    [
        (independent_greedy_paths, "garden-path"),
        (ranks_by_last_token, "garden-path|random scorer"),
        (continues_after_eos, "finished|greedy decoding gives"),
        (one_beam_too_few, "."),
        (never_finishes, "."),
    ],
)
def test_typical_mistakes_fail(search, message, seed):
    with pytest.raises(CheckFailed, match=message):
        check_beam_search(search, seed=seed)


def test_the_garden_path_separates_beam_from_greedy():
    scorer = garden_path_scorer()
    assert reference_beam_search(scorer, 0, 1, 6, 1) == [2, 3, 5, 1]  # greedy: the likelier fork
    assert reference_beam_search(scorer, 0, 1, 6, 2) == [2, 4, 7, 1]


def test_a_crash_names_the_case():
    def crashes(next_log_probs, bos_id, eos_id, max_len, beam_size):
        return next_log_probs(torch.tensor([bos_id]))  # 1-D: not (n, t)

    with pytest.raises(CheckFailed, match="(?s)beam_size=1.*\\(n, t\\)"):
        check_beam_search(crashes)
