"""Skip-gram with negative sampling: the loss, the data pipeline, the checker."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from course_lib.checkers import STUB_MARKER, CheckFailed
from course_lib.checkers.word2vec import check_negative_sampling_loss
from course_lib.data import Vocab
from course_lib.recurrent.word2vec import (
    SkipGram,
    SkipGramBatches,
    cosine,
    nearest_neighbours,
    negative_sampling_loss,
    noise_distribution,
    project_2d,
    skipgram_loss,
    skipgram_pairs,
    subsample,
    tokenize,
    word_counts,
)
from course_lib.training import fit

ACROSS_SEEDS = [{}] + [{"seed": seed} for seed in range(20)]


def test_loss_by_hand():
    center = torch.tensor([[1.0, 0.0]])
    context = torch.tensor([[2.0, 0.0]])
    negatives = torch.tensor([[[0.0, 1.0], [-1.0, 0.0]]])
    def sigma(x):
        return 1 / (1 + math.exp(-x))

    # u_o.v_c = 2; the negatives score 0 and -1, so -u_k.v_c = 0 and 1
    expected = -(math.log(sigma(2.0)) + math.log(sigma(0.0)) + math.log(sigma(1.0)))
    loss = negative_sampling_loss(center, context, negatives)
    assert loss.item() == pytest.approx(expected, rel=1e-6)


def test_untrained_loss_is_k_plus_one_ln2():
    model = SkipGram(10, 4)  # context vectors start at zero: every sigma is 1/2
    loss = model(torch.tensor([1, 2]), torch.tensor([3, 4]), torch.tensor([[5, 6, 7], [8, 9, 1]]))
    assert loss.item() == pytest.approx(4 * math.log(2))


def test_pairs_window_and_tokenize():
    assert tokenize("Two dogs, playing.") == ["two", "dogs", "playing"]
    pairs = skipgram_pairs([[1, 2, 3]], window=1).tolist()
    assert sorted(map(tuple, pairs)) == [(1, 2), (2, 1), (2, 3), (3, 2)]
    with pytest.raises(ValueError, match="window"):
        skipgram_pairs([[1, 2]], window=0)


def test_subsample_and_noise():
    counts = [0, 0, 0, 0, 1000, 1]
    kept = subsample([[4] * 1000 + [5]], counts, threshold=1e-3, seed=0)[0]
    assert 5 in kept and kept.count(4) < 200
    noise = noise_distribution([16, 1])
    torch.testing.assert_close(noise, torch.tensor([8 / 9, 1 / 9]))


def test_training_groups_words_that_share_contexts():
    torch.manual_seed(0)
    sentences = [["the", a, "runs"] for a in ("dog", "cat")] * 200 + [
        ["a", b, "is", "red"] for b in ("car", "bus")
    ] * 200
    vocab = Vocab.build(sentences)
    ids = [vocab.encode(s) for s in sentences]
    noise = noise_distribution(word_counts(sentences, vocab))
    batches = SkipGramBatches(skipgram_pairs(ids, 2), noise, 64, seed=0)
    model = SkipGram(len(vocab), 8)
    optimizer = torch.optim.Adam(model.parameters(), 0.05)
    fit(model, batches, skipgram_loss, optimizer, epochs=3, progress=False)
    emb = model.embeddings
    assert cosine(emb, vocab, "dog", "cat") > cosine(emb, vocab, "dog", "bus") + 0.5
    assert nearest_neighbours(emb, vocab, "car", k=1)[0][0] == "bus"
    assert project_2d(emb).shape == (len(vocab), 2)
    with pytest.raises(KeyError, match="not in the vocabulary"):
        nearest_neighbours(emb, vocab, "zebra")


def test_checker_accepts_reference_and_reports_stub():
    assert check_negative_sampling_loss(negative_sampling_loss)  # truthy: passed

    def stub(*args):
        raise NotImplementedError(STUB_MARKER)

    assert not check_negative_sampling_loss(stub)  # falsy: not attempted


def _wrong_sign(center, context, negatives):
    neg = (negatives @ center[:, :, None]).squeeze(-1)
    return -(F.logsigmoid((center * context).sum(-1)) + F.logsigmoid(neg).sum(-1)).mean()


def _summed(center, context, negatives):
    neg = (negatives @ center[:, :, None]).squeeze(-1)
    return -(F.logsigmoid((center * context).sum(-1)) + F.logsigmoid(-neg).sum(-1)).sum()


def _naive_log(center, context, negatives):
    neg = (negatives @ center[:, :, None]).squeeze(-1)
    pos = torch.log(torch.sigmoid((center * context).sum(-1)))
    return -(pos + torch.log(torch.sigmoid(-neg)).sum(-1)).mean()


def _log_plus_epsilon(center, context, negatives):
    neg = (negatives @ center[:, :, None]).squeeze(-1)
    pos = torch.log(torch.sigmoid((center * context).sum(-1)) + 1e-10)
    return -(pos + torch.log(torch.sigmoid(-neg) + 1e-10).sum(-1)).mean()


def _detached(center, context, negatives):
    return negative_sampling_loss(center, context, negatives).detach()


def _clamped_scores(center, context, negatives):
    neg = (negatives @ center[:, :, None]).squeeze(-1).clamp(-10, 10)
    pos = (center * context).sum(-1).clamp(-10, 10)
    return -(F.logsigmoid(pos) + F.logsigmoid(-neg).sum(-1)).mean()


def _by_softplus(center, context, negatives):
    """Correct, written differently: -log sigma(z) = softplus(-z), bmm, sum / batch."""
    pos = (center * context).sum(-1)
    neg = torch.bmm(negatives, center[:, :, None]).squeeze(-1)
    return (F.softplus(-pos).sum() + F.softplus(neg).sum()) / center.shape[0]


def test_checker_accepts_softplus_version():
    assert check_negative_sampling_loss(_by_softplus)


@pytest.mark.parametrize(
    "loss_fn, hint",
    [
        (_wrong_sign, "wrong way"),
        (_summed, "summed over the batch"),
        (_naive_log, "underflows"),
        (_log_plus_epsilon, "scores from -150 to 150"),
        (_detached, "does not require grad"),
        (_clamped_scores, "differs from the reference"),
    ],
)
def test_checker_names_mistakes(loss_fn, hint):
    for kwargs in ACROSS_SEEDS:  # the default seed, then 20 others
        with pytest.raises(CheckFailed, match=hint):
            check_negative_sampling_loss(loss_fn, **kwargs)
