"""Module 1: recurrent encoder-decoder models, without and with attention.

The encoder reads the source and hands the decoder its final state ``(h, c)``: without
attention that one vector pair is all the decoder ever learns about the source (the fixed-size
bottleneck). The attention decoder also looks back, at every step, at all the encoder's
outputs (Luong et al., 2015, "global" attention with the dot score):

    scores_j = s_t . e_j     a_t = softmax(scores)     context_t = sum_j a_tj e_j
    logits_t = W_out tanh(W_c [s_t; context_t])

Both decoders share one interface, ``decoder(tgt_in, state, memory, memory_mask)`` returning
``(logits, state, weights)``, so :class:`Seq2Seq`, :func:`teacher_forcing_loss` and
:func:`greedy_decode` work with either. The recurrent layers are ``torch.nn.LSTM`` (fast, fused
kernels); it computes exactly what :class:`course_lib.recurrent.lstm.LSTM` computes.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from course_lib.attention import scaled_dot_product_attention
from course_lib.data.batching import make_loader, padding_mask, shift_right
from course_lib.data.vocab import Vocab

State = tuple[torch.Tensor, torch.Tensor]


class EncoderOutput(NamedTuple):
    memory: torch.Tensor  # (batch, src_len, hidden): the encoder's output at every position
    mask: torch.Tensor  # (batch, src_len) bool: True at padding
    state: State  # (h, c), each (1, batch, hidden): the state after the last real token


class RecurrentEncoder(nn.Module):
    """Embedding + LSTM over the source; padding is skipped (packed sequences)."""

    def __init__(self, vocab_size: int, emb_dim: int, hidden_size: int, pad_id: int = 0):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, emb_dim, padding_idx=pad_id)
        self.rnn = nn.LSTM(emb_dim, hidden_size, batch_first=True)

    def forward(self, src: torch.Tensor, src_lengths: torch.Tensor) -> EncoderOutput:
        """src ``(batch, src_len)`` token ids, src_lengths ``(batch,)``."""
        if src.dim() != 2 or src.dtype != torch.long:
            raise ValueError(
                f"src must be (batch, src_len) int64 ids, got {tuple(src.shape)} {src.dtype}"
            )
        if src_lengths.shape != src.shape[:1] or int(src_lengths.min()) < 1:
            raise ValueError("src_lengths must be (batch,) with every length >= 1")
        packed = pack_padded_sequence(
            self.embedding(src), src_lengths.cpu(), batch_first=True, enforce_sorted=False
        )
        out, state = self.rnn(packed)
        memory, _ = pad_packed_sequence(out, batch_first=True, total_length=src.shape[1])
        return EncoderOutput(memory, padding_mask(src_lengths.to(src.device), src.shape[1]), state)


class RecurrentDecoder(nn.Module):
    """Embedding + LSTM + output layer; starts from the encoder's final state, no attention."""

    def __init__(self, vocab_size: int, emb_dim: int, hidden_size: int, pad_id: int = 0):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, emb_dim, padding_idx=pad_id)
        self.rnn = nn.LSTM(emb_dim, hidden_size, batch_first=True)
        self.out = nn.Linear(hidden_size, vocab_size)

    def forward(
        self,
        tgt_in: torch.Tensor,
        state: State,
        memory: torch.Tensor | None = None,
        memory_mask: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, State, None]:
        """tgt_in ``(batch, tgt_len)`` -> logits ``(batch, tgt_len, vocab)``, new state, None.

        ``memory`` and ``memory_mask`` are accepted and ignored: this decoder sees the source
        only through ``state``.
        """
        output, state = self.rnn(self.embedding(tgt_in), state)
        return self.out(output), state, None


class RecurrentAttentionDecoder(nn.Module):
    """The :class:`RecurrentDecoder` plus dot-product attention over the encoder outputs (Luong)."""

    def __init__(self, vocab_size: int, emb_dim: int, hidden_size: int, pad_id: int = 0):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, emb_dim, padding_idx=pad_id)
        self.rnn = nn.LSTM(emb_dim, hidden_size, batch_first=True)
        self.combine = nn.Linear(2 * hidden_size, hidden_size)  # W_c
        self.out = nn.Linear(hidden_size, vocab_size)  # W_out

    def forward(
        self,
        tgt_in: torch.Tensor,
        state: State,
        memory: torch.Tensor,
        memory_mask: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, State, torch.Tensor]:
        """tgt_in ``(batch, tgt_len)``; memory ``(batch, src_len, hidden)``; memory_mask
        ``(batch, src_len)`` True at padding.

        Returns logits ``(batch, tgt_len, vocab)``, the new state and the attention weights
        ``(batch, tgt_len, src_len)``.
        """
        if memory is None:
            raise ValueError(
                "RecurrentAttentionDecoder needs the encoder outputs (memory) to attend to."
            )
        queries, state = self.rnn(self.embedding(tgt_in), state)  # s_t: (batch, tgt_len, hidden)
        mask = None if memory_mask is None else memory_mask[:, None, :]
        # Plain dot-product scores (scale=1.0), Luong's "dot" attention; the 1/sqrt(d) scale
        # of Transformers is the subject of Module 2.
        context, weights = scaled_dot_product_attention(queries, memory, memory, mask, scale=1.0)
        attentional = torch.tanh(self.combine(torch.cat([queries, context], dim=-1)))
        return self.out(attentional), state, weights


class Seq2Seq(nn.Module):
    """A recurrent encoder and decoder (plain or with attention)."""

    def __init__(
        self,
        encoder: RecurrentEncoder,
        decoder: nn.Module,
        bos_id: int,
        eos_id: int,
        pad_id: int = 0,
    ):
        super().__init__()
        self.encoder, self.decoder = encoder, decoder
        self.bos_id, self.eos_id, self.pad_id = bos_id, eos_id, pad_id

    def encode(self, src: torch.Tensor, src_lengths: torch.Tensor) -> EncoderOutput:
        return self.encoder(src, src_lengths)

    def forward(
        self, src: torch.Tensor, src_lengths: torch.Tensor, tgt_in: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Teacher-forced pass: logits ``(batch, tgt_len, vocab)`` and weights (or None)."""
        enc = self.encode(src, src_lengths)
        logits, _, weights = self.decoder(tgt_in, enc.state, enc.memory, enc.mask)
        return logits, weights


def build_seq2seq(vocab: Vocab, emb_dim: int, hidden_size: int, attention: bool = False) -> Seq2Seq:
    """A :class:`Seq2Seq` over one shared vocabulary, with or without attention."""
    decoder_cls = RecurrentAttentionDecoder if attention else RecurrentDecoder
    return Seq2Seq(
        RecurrentEncoder(len(vocab), emb_dim, hidden_size, vocab.pad_id),
        decoder_cls(len(vocab), emb_dim, hidden_size, vocab.pad_id),
        bos_id=vocab.bos_id,
        eos_id=vocab.eos_id,
        pad_id=vocab.pad_id,
    )


def teacher_forcing_loss(model: Seq2Seq, batch: dict) -> torch.Tensor:
    """Mean cross-entropy of the target tokens (padding ignored), decoder fed the true prefix.

    ``batch`` comes from ``collate_pairs``: ``src``, ``src_lengths``, ``tgt`` (ending in
    ``<eos>``). Use it as ``loss_fn`` of :func:`course_lib.training.fit`.
    """
    tgt = batch["tgt"]
    logits, _ = model(batch["src"], batch["src_lengths"], shift_right(tgt, model.bos_id))
    return F.cross_entropy(logits.flatten(0, 1), tgt.flatten(), ignore_index=model.pad_id)


@torch.no_grad()
def greedy_decode(
    model: Seq2Seq, src: torch.Tensor, src_lengths: torch.Tensor, max_len: int
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Generate up to ``max_len`` tokens per row, each the argmax given the model's own past.

    Returns ids ``(batch, max_len)`` (read each row up to its first ``<eos>``) and the
    attention weights ``(batch, max_len, src_len)`` (None without attention).
    """
    enc = model.encode(src, src_lengths)
    prev = torch.full((src.shape[0], 1), model.bos_id, dtype=torch.long, device=src.device)
    state, tokens, weights = enc.state, [], []
    for _ in range(max_len):
        logits, state, w = model.decoder(prev, state, enc.memory, enc.mask)
        prev = logits[:, -1].argmax(dim=-1, keepdim=True)
        tokens.append(prev)
        if w is not None:
            weights.append(w)
    return torch.cat(tokens, dim=1), (torch.cat(weights, dim=1) if weights else None)


def encode_pairs(
    pairs: Sequence[tuple[str, str]], vocab: Vocab
) -> list[tuple[list[int], list[int]]]:
    """``(source, target)`` strings -> id lists; each target ends with ``<eos>``."""
    return [(vocab.encode(src), vocab.encode(tgt, eos=True)) for src, tgt in pairs]


@torch.no_grad()
def recurrent_predict_strings(
    model: Seq2Seq,
    sources: Sequence[str],
    vocab: Vocab,
    max_len: int,
    batch_size: int = 256,
    device: torch.device | str = "cpu",
) -> list[str]:
    """Greedy predictions (strings) for ``sources``, decoded up to the first ``<eos>``."""
    model.eval()
    items = [(vocab.encode(s), [vocab.eos_id]) for s in sources]
    predictions = []
    for batch in make_loader(items, batch_size, pad_id=vocab.pad_id):
        src, lengths = batch["src"].to(device), batch["src_lengths"].to(device)
        ids, _ = greedy_decode(model, src, lengths, max_len)
        predictions.extend("".join(vocab.decode(row.tolist())) for row in ids)
    return predictions


def exact_match_by_length(
    pairs: Sequence[tuple[str, str]], predictions: Sequence[str]
) -> dict[int, float]:
    """Per source length, the fraction of predictions equal to their target exactly."""
    if len(pairs) != len(predictions):
        raise ValueError(f"{len(pairs)} pairs but {len(predictions)} predictions")
    hits, totals = defaultdict(int), defaultdict(int)
    for (src, tgt), pred in zip(pairs, predictions, strict=True):
        totals[len(src)] += 1
        hits[len(src)] += pred == tgt
    return {length: hits[length] / totals[length] for length in sorted(totals)}


def char_accuracy(pairs: Sequence[tuple[str, str]], predictions: Sequence[str]) -> float:
    """Fraction of target characters predicted right, position by position."""
    if len(pairs) != len(predictions):
        raise ValueError(f"{len(pairs)} pairs but {len(predictions)} predictions")
    right = sum(
        sum(a == b for a, b in zip(pred, tgt, strict=False))  # a prediction may be short or long
        for (_, tgt), pred in zip(pairs, predictions, strict=True)
    )
    return right / max(1, sum(len(tgt) for _, tgt in pairs))
