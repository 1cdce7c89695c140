"""Modules 3-4: what every Transformer stack does with its inputs: check the token ids and
the padding mask, embed the ids (scaled by sqrt(d_model)) and add the positional encoding.

The encoder and decoder stacks are :class:`EmbeddedStack` subclasses; the language model and
the classifier use the checks.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from course_lib.positional_encoding import SinusoidalPositionalEncoding


def check_token_ids(ids: torch.Tensor) -> None:
    """Raise a clear error unless ``ids`` is an integer ``(batch, seq)`` tensor."""
    if not isinstance(ids, torch.Tensor) or ids.dim() != 2:
        shape = tuple(ids.shape) if isinstance(ids, torch.Tensor) else type(ids).__name__
        raise ValueError(f"ids must be (batch, seq) token ids, got {shape}")
    if ids.dtype.is_floating_point or ids.dtype == torch.bool:
        raise TypeError(f"ids must be integer token ids, got {ids.dtype}")


def check_padding_mask(
    padding_mask: torch.Tensor | None, batch: int, seq: int, name: str = "padding_mask"
) -> None:
    """Raise a clear error unless ``padding_mask`` (called ``name``) is None or bool
    ``(batch, seq)``."""
    if padding_mask is None:
        return
    if padding_mask.dtype != torch.bool:
        raise TypeError(
            f"{name} must be a bool tensor (True = padding), got {padding_mask.dtype}; "
            "build it with course_lib.data.padding_mask(lengths)."
        )
    if tuple(padding_mask.shape) != (batch, seq):
        raise ValueError(
            f"{name} must have shape (batch, seq) = ({batch}, {seq}), "
            f"got {tuple(padding_mask.shape)}"
        )


class EmbeddedStack(nn.Module):
    """What the encoder and decoder stacks share: token embeddings scaled by sqrt(d_model)
    plus the sinusoidal positional encoding (:meth:`embed`), and a final LayerNorm for
    pre-norm stacks (``norm``). Subclasses add ``layers``.

    Embeddings are initialised with std ``d_model ** -0.5`` so that, once scaled by
    sqrt(d_model), they have unit scale, like the positional encoding added to them.
    ``scale_embeddings=False`` and ``positions=False`` (an all-zero table) exist for ablations.
    """

    def __init__(
        self,
        vocab_size: int,
        d_model: int,
        dropout: float,
        max_len: int,
        pad_id: int,
        norm_first: bool,
        scale_embeddings: bool = True,
        positions: bool = True,
    ):
        super().__init__()
        self.d_model = d_model
        self.embed_scale = math.sqrt(d_model) if scale_embeddings else 1.0
        self.embedding = nn.Embedding(vocab_size, d_model, padding_idx=pad_id)
        nn.init.normal_(self.embedding.weight, std=d_model**-0.5)
        with torch.no_grad():
            self.embedding.weight[pad_id].zero_()
        self.positional_encoding = SinusoidalPositionalEncoding(d_model, max_len, dropout)
        if not positions:
            self.positional_encoding.pe.zero_()
        self.norm = nn.LayerNorm(d_model) if norm_first else nn.Identity()

    def embed(self, ids: torch.Tensor, offset: int = 0) -> torch.Tensor:
        """``ids`` ``(batch, seq)`` at positions ``offset, offset+1, ...`` -> ``(batch, seq,
        d_model)``: embedding * sqrt(d_model) + positional encoding, then dropout."""
        check_token_ids(ids)
        return self.positional_encoding(self.embedding(ids) * self.embed_scale, offset)
