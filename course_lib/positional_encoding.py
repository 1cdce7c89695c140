"""Sinusoidal positional encoding ("Attention Is All You Need", section 3.5).

PE[pos, 2i] = sin(pos / 10000^(2i / d_model)),  PE[pos, 2i+1] = cos(pos / 10000^(2i / d_model)).
"""

from __future__ import annotations

import math

import torch
from torch import nn


def sinusoidal_positional_encoding(max_len: int, d_model: int) -> torch.Tensor:
    """The encoding matrix ``(max_len, d_model)``: sines in even columns, cosines in odd ones."""
    if max_len < 1 or d_model < 1:
        raise ValueError(f"max_len and d_model must be >= 1, got {max_len} and {d_model}")
    position = torch.arange(max_len, dtype=torch.float32)[:, None]
    two_i = torch.arange(0, d_model, 2, dtype=torch.float32)
    div_term = torch.exp(two_i * (-math.log(10000.0) / d_model))  # 1 / 10000^(2i / d_model)
    pe = torch.zeros(max_len, d_model)
    pe[:, 0::2] = torch.sin(position * div_term)
    pe[:, 1::2] = torch.cos(position * div_term[: d_model // 2])
    return pe


class SinusoidalPositionalEncoding(nn.Module):
    """Adds the sinusoidal encoding to a batch of embeddings, then dropout."""

    def __init__(self, d_model: int, max_len: int = 5000, dropout: float = 0.0):
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        pe = sinusoidal_positional_encoding(max_len, d_model)
        self.register_buffer("pe", pe, persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` ``(batch, seq, d_model)`` -> ``x + PE[:seq]``, same shape."""
        if x.dim() != 3 or x.shape[-1] != self.pe.shape[1]:
            raise ValueError(f"x must be (batch, seq, {self.pe.shape[1]}), got {tuple(x.shape)}")
        if x.shape[1] > self.pe.shape[0]:
            raise ValueError(
                f"sequence length {x.shape[1]} exceeds max_len={self.pe.shape[0]}; "
                "build the encoding with a larger max_len."
            )
        return self.dropout(x + self.pe[: x.shape[1]].to(x.dtype))
