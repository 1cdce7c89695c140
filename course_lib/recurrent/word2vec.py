"""Module 1: word embeddings from skip-gram with negative sampling (word2vec, Mikolov 2013).

Each word has two vectors: ``v_w`` when it is the centre word and ``u_w`` when it is a
context word. For a centre ``c``, a true context word ``o`` (within ``window`` positions) and
``K`` noise words drawn from the unigram distribution raised to 3/4, the loss is

    -log sigma(u_o . v_c) - sum_k log sigma(-u_k . v_c)

so words that share contexts get similar centre vectors. The centre vectors are the
embeddings; :func:`nearest_neighbours` and :func:`project_2d` look at them.
"""

from __future__ import annotations

import math
import random
import re
from collections import Counter
from collections.abc import Iterator, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from course_lib.data.vocab import SPECIALS, Vocab


def tokenize(text: str) -> list[str]:
    """Lower-case words (runs of a-z): ``"Two dogs, ran."`` -> ``["two", "dogs", "ran"]``."""
    return re.findall(r"[a-z]+", text.lower())


def negative_sampling_loss(
    center: torch.Tensor, context: torch.Tensor, negatives: torch.Tensor
) -> torch.Tensor:
    """Mean skip-gram negative-sampling loss over the batch.

    center ``(batch, dim)`` (v_c), context ``(batch, dim)`` (u_o), negatives
    ``(batch, K, dim)`` (u_k). Returns a scalar.
    """
    bad = negatives.dim() != 3 or negatives.shape[::2] != center.shape
    if center.shape != context.shape or bad:
        raise ValueError(
            f"need center and context (batch, dim) and negatives (batch, K, dim); got "
            f"{tuple(center.shape)}, {tuple(context.shape)}, {tuple(negatives.shape)}"
        )
    positive = F.logsigmoid((center * context).sum(dim=-1))  # (batch,)
    negative = F.logsigmoid(-(negatives @ center[:, :, None]).squeeze(-1)).sum(dim=-1)  # (batch,)
    return -(positive + negative).mean()


class SkipGram(nn.Module):
    """Two embedding tables: centre vectors (the embeddings we keep) and context vectors."""

    def __init__(self, vocab_size: int, dim: int):
        super().__init__()
        self.center = nn.Embedding(vocab_size, dim)
        self.context = nn.Embedding(vocab_size, dim)
        nn.init.uniform_(self.center.weight, -0.5 / dim, 0.5 / dim)
        nn.init.zeros_(self.context.weight)  # word2vec's own initialisation

    def forward(
        self, center: torch.Tensor, context: torch.Tensor, negatives: torch.Tensor
    ) -> torch.Tensor:
        """Ids: center ``(batch,)``, context ``(batch,)``, negatives ``(batch, K)``; scalar loss."""
        return negative_sampling_loss(
            self.center(center), self.context(context), self.context(negatives)
        )

    @property
    def embeddings(self) -> torch.Tensor:
        """The learned word vectors ``(vocab, dim)``."""
        return self.center.weight.detach()


def skipgram_loss(model: SkipGram, batch: dict) -> torch.Tensor:
    """``loss_fn`` for :func:`course_lib.training.fit` on :class:`SkipGramBatches`."""
    return model(batch["center"], batch["context"], batch["negatives"])


def subsample(
    sentences: Sequence[Sequence[int]],
    counts: Sequence[int],
    threshold: float = 1e-3,
    seed: int = 0,
) -> list[list[int]]:
    """Drop each occurrence of word w with probability ``1 - sqrt(threshold / freq(w))``.

    Very frequent words ("a", "the") carry little information about their neighbours;
    thinning them speeds training and improves the vectors. ``counts[w]`` is w's count.
    """
    total = float(sum(counts))
    keep = [min(1.0, math.sqrt(threshold * total / c)) if c else 0.0 for c in counts]
    rng = random.Random(seed)
    return [[w for w in sent if rng.random() < keep[w]] for sent in sentences]


def skipgram_pairs(sentences: Sequence[Sequence[int]], window: int) -> torch.Tensor:
    """Every ``(center, context)`` pair within ``window`` positions: ``(num_pairs, 2)`` int64."""
    if window < 1:
        raise ValueError(f"window must be >= 1, got {window}")
    pairs = []
    for sent in sentences:
        n = len(sent)
        for i, center in enumerate(sent):
            for j in range(max(0, i - window), min(n, i + window + 1)):
                if j != i:
                    pairs.append((center, sent[j]))
    if not pairs:
        raise ValueError("no skip-gram pairs: the sentences are too short for any window")
    return torch.tensor(pairs, dtype=torch.long)


def noise_distribution(counts: Sequence[int], power: float = 0.75) -> torch.Tensor:
    """Unigram frequencies raised to ``power`` and renormalised: ``(vocab,)``."""
    weights = torch.tensor(counts, dtype=torch.float) ** power
    return weights / weights.sum()


class SkipGramBatches:
    """Iterable of shuffled batches ``{"center", "context", "negatives"}`` (one pass = epoch)."""

    def __init__(
        self,
        pairs: torch.Tensor,
        noise: torch.Tensor,
        batch_size: int,
        num_negatives: int = 5,
        seed: int = 0,
    ):
        self.pairs, self.noise = pairs, noise
        self.batch_size, self.num_negatives = batch_size, num_negatives
        self.generator = torch.Generator().manual_seed(seed)

    def __len__(self) -> int:
        return math.ceil(len(self.pairs) / self.batch_size)

    def __iter__(self) -> Iterator[dict[str, torch.Tensor]]:
        order = torch.randperm(len(self.pairs), generator=self.generator)
        for start in range(0, len(order), self.batch_size):
            batch = self.pairs[order[start : start + self.batch_size]]
            negatives = torch.multinomial(
                self.noise,
                batch.shape[0] * self.num_negatives,
                replacement=True,
                generator=self.generator,
            ).view(batch.shape[0], self.num_negatives)
            yield {"center": batch[:, 0], "context": batch[:, 1], "negatives": negatives}


def word_counts(sentences: Sequence[Sequence[str]], vocab: Vocab) -> list[int]:
    """``counts[id]``: occurrences of each vocabulary token in ``sentences`` (unknowns to <unk>)."""
    counter = Counter(vocab.stoi.get(tok, vocab.unk_id) for sent in sentences for tok in sent)
    return [counter.get(i, 0) for i in range(len(vocab))]


def nearest_neighbours(
    embeddings: torch.Tensor, vocab: Vocab, word: str, k: int = 5
) -> list[tuple[str, float]]:
    """The ``k`` words whose vectors have the highest cosine similarity with ``word``'s."""
    if word not in vocab:
        raise KeyError(f"{word!r} is not in the vocabulary (rare words were dropped)")
    unit = F.normalize(embeddings.float(), dim=-1)
    sims = unit @ unit[vocab.stoi[word]]
    sims[vocab.stoi[word]] = -float("inf")
    sims[: len(SPECIALS)] = -float("inf")  # never the special tokens
    top = sims.topk(k)
    return [
        (vocab.itos[i], s) for s, i in zip(top.values.tolist(), top.indices.tolist(), strict=True)
    ]


def cosine(embeddings: torch.Tensor, vocab: Vocab, a: str, b: str) -> float:
    """Cosine similarity of the vectors of words ``a`` and ``b``."""
    return F.cosine_similarity(embeddings[vocab.stoi[a]], embeddings[vocab.stoi[b]], dim=0).item()


def project_2d(vectors: torch.Tensor) -> np.ndarray:
    """PCA: ``(n, dim)`` vectors -> ``(n, 2)`` coordinates on their two main directions."""
    x = vectors.detach().float()
    x = x - x.mean(dim=0, keepdim=True)
    _, _, v = torch.linalg.svd(x, full_matrices=False)
    return (x @ v[:2].T).numpy()
