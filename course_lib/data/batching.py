"""Padding, masks, teacher-forcing inputs and batching.

Mask convention (the one ``torch.nn.MultiheadAttention`` uses for ``key_padding_mask``):
``True`` marks a padding position, to be ignored.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial

import torch
from torch.utils.data import DataLoader


def _as_ids(seq, index: int) -> torch.Tensor:
    ids = torch.as_tensor(seq)
    if ids.dim() != 1:
        raise ValueError(
            f"sequence {index} has shape {tuple(ids.shape)}; each sequence must be 1-D (a list "
            f"of token ids)."
        )
    if ids.dtype.is_floating_point or ids.dtype == torch.bool:
        raise TypeError(
            f"sequence {index} holds {ids.dtype} values; token ids must be integers "
            f"(encode text with Vocab.encode first)."
        )
    return ids.long()


def pad_sequences(seqs: Sequence, pad_id: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-pad token-id sequences into one tensor.

    Returns ``ids`` of shape ``(batch, max_len)`` and ``lengths`` of shape ``(batch,)``.
    """
    if len(seqs) == 0:
        raise ValueError("pad_sequences got no sequences; a batch needs at least one.")
    tensors = [_as_ids(s, i) for i, s in enumerate(seqs)]
    lengths = torch.tensor([len(t) for t in tensors], dtype=torch.long)
    ids = torch.full((len(tensors), max(int(lengths.max()), 1)), pad_id, dtype=torch.long)
    for row, t in enumerate(tensors):
        ids[row, : len(t)] = t
    return ids, lengths


def padding_mask(lengths: torch.Tensor, max_len: int | None = None) -> torch.Tensor:
    """Bool mask ``(batch, max_len)``: True where position >= the row's length (padding)."""
    lengths = torch.as_tensor(lengths)
    if lengths.dim() != 1:
        raise ValueError(f"lengths must be 1-D (batch,), got shape {tuple(lengths.shape)}")
    max_len = int(lengths.max()) if max_len is None else max_len
    return torch.arange(max_len, device=lengths.device)[None, :] >= lengths[:, None]


def shift_right(tgt: torch.Tensor, bos_id: int) -> torch.Tensor:
    """The decoder's input under teacher forcing: ``<bos>`` then ``tgt`` without its last token.

    tgt ``(batch, tgt_len)`` -> ``(batch, tgt_len)``: at step t the decoder sees the true
    tokens before t and must predict ``tgt[:, t]``.
    """
    bos = torch.full_like(tgt[:, :1], bos_id)
    return torch.cat([bos, tgt[:, :-1]], dim=1)


def collate_pairs(batch: Sequence[tuple], pad_id: int = 0) -> dict[str, torch.Tensor]:
    """Batch ``(src_ids, tgt_ids)`` pairs for sequence-to-sequence models.

    Returns ``src``/``tgt`` ``(batch, len)``, their ``*_lengths`` ``(batch,)`` and
    ``*_padding_mask`` ``(batch, len)`` (True at padding).
    """
    src, src_len = pad_sequences([pair[0] for pair in batch], pad_id)
    tgt, tgt_len = pad_sequences([pair[1] for pair in batch], pad_id)
    return {
        "src": src,
        "src_lengths": src_len,
        "src_key_padding_mask": padding_mask(src_len, src.shape[1]),
        "tgt": tgt,
        "tgt_lengths": tgt_len,
        "tgt_key_padding_mask": padding_mask(tgt_len, tgt.shape[1]),
    }


def collate_labelled(batch: Sequence[tuple], pad_id: int = 0) -> dict[str, torch.Tensor]:
    """Batch ``(ids, label)`` examples for classification.

    Returns ``ids`` ``(batch, len)``, ``lengths`` ``(batch,)``, ``padding_mask``
    ``(batch, len)`` and ``labels`` ``(batch,)``.
    """
    ids, lengths = pad_sequences([example[0] for example in batch], pad_id)
    return {
        "ids": ids,
        "lengths": lengths,
        "padding_mask": padding_mask(lengths, ids.shape[1]),
        "labels": torch.tensor([int(example[1]) for example in batch], dtype=torch.long),
    }


def make_loader(
    items: Sequence,
    batch_size: int,
    collate: Callable = collate_pairs,
    pad_id: int = 0,
    shuffle: bool = False,
    seed: int = 0,
) -> DataLoader:
    """A DataLoader over encoded ``items`` that pads each batch with ``collate``.

    Shuffling is seeded, so two loaders built alike yield the same batches.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    generator = torch.Generator().manual_seed(seed)
    return DataLoader(
        list(items),
        batch_size=batch_size,
        shuffle=shuffle,
        collate_fn=partial(collate, pad_id=pad_id),
        generator=generator,
    )
