"""Module 3: a sentence classifier on top of the Transformer encoder.

ids ``(batch, seq)`` -> Encoder -> ``(batch, seq, d_model)`` -> mean over the real (non-padded)
tokens -> ``(batch, d_model)`` -> dropout -> linear head -> logits ``(batch, num_classes)``.
"""

from __future__ import annotations

import torch
from torch import nn

from course_lib.embedding import check_padding_mask
from course_lib.encoder import Encoder


def masked_mean_pool(x: torch.Tensor, padding_mask: torch.Tensor | None = None) -> torch.Tensor:
    """Mean of ``x`` ``(batch, seq, d)`` over the positions where ``padding_mask`` is False.

    ``padding_mask`` ``(batch, seq)``, bool, True at padding (None: no padding). Returns
    ``(batch, d)``. A row with no real token at all pools to zeros.
    """
    if x.dim() != 3:
        raise ValueError(f"x must be (batch, seq, d), got shape {tuple(x.shape)}")
    if padding_mask is None:
        return x.mean(dim=1)
    check_padding_mask(padding_mask, x.shape[0], x.shape[1])
    keep = (~padding_mask).unsqueeze(-1).to(x.dtype)  # (batch, seq, 1): 1 at real tokens
    return (x * keep).sum(dim=1) / keep.sum(dim=1).clamp(min=1.0)


class TransformerClassifier(nn.Module):
    """An :class:`Encoder`, masked mean pooling and a linear head: logits per sentence."""

    def __init__(
        self,
        vocab_size: int,
        num_classes: int,
        d_model: int = 64,
        num_heads: int = 4,
        d_ff: int = 128,
        num_layers: int = 2,
        dropout: float = 0.1,
        max_len: int = 512,
        pad_id: int = 0,
        norm_first: bool = False,
    ):
        super().__init__()
        self.encoder = Encoder(
            vocab_size, d_model, num_heads, d_ff, num_layers, dropout, max_len, pad_id, norm_first
        )
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(d_model, num_classes)

    def forward(self, ids: torch.Tensor, padding_mask: torch.Tensor | None = None) -> torch.Tensor:
        """``ids`` ``(batch, seq)``, ``padding_mask`` ``(batch, seq)`` -> ``(batch, classes)``."""
        hidden = self.encoder(ids, padding_mask)
        return self.head(self.dropout(masked_mean_pool(hidden, padding_mask)))
