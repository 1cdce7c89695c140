"""Module 2: positional encodings: how a Transformer learns where each token is.

Attention treats its input as a set: permute the tokens and the outputs are permuted the same
way. Order enters only through a position signal:

- :func:`sinusoidal_encoding` / :class:`SinusoidalPositionalEncoding` ("Attention Is All You
  Need"): fixed sines and cosines of geometrically spaced frequencies, added to the embeddings;
- :class:`LearnedPositionalEmbedding` (BERT, GPT-2): one trained vector per position, added;
- :class:`RotaryEmbedding` (RoPE, RoFormer; LLaMA): rotates each query and key pair of
  dimensions by an angle proportional to the position, so that the score ``q_m . k_n``
  depends on the positions only through ``m - n``.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = [
    "LearnedPositionalEmbedding",
    "RotaryEmbedding",
    "SinusoidalPositionalEncoding",
    "apply_rotary",
    "rotary_angles",
    "sinusoidal_encoding",
]


def _check_sizes(max_len: int, dim: int, what: str) -> None:
    if max_len < 1 or dim < 2:
        raise ValueError(f"need max_len >= 1 and {what} >= 2, got {max_len} and {dim}")
    if dim % 2:
        raise ValueError(f"{what} must be even (dimensions come in sin/cos pairs), got {dim}")


def _frequencies(dim: int, base: float) -> torch.Tensor:
    """``(dim // 2,)``: omega_i = base^(-2i / dim), from 1 down to about 1/base."""
    return base ** (-torch.arange(0, dim, 2, dtype=torch.float64) / dim)


def sinusoidal_encoding(max_len: int, d_model: int, base: float = 10000.0) -> torch.Tensor:
    """The ``(max_len, d_model)`` sinusoidal table of Vaswani et al. (2017).

    ``PE[pos, 2i] = sin(pos * omega_i)``, ``PE[pos, 2i + 1] = cos(pos * omega_i)``, with
    ``omega_i = base^(-2i / d_model)``: even columns sines, odd columns cosines, interleaved.
    """
    _check_sizes(max_len, d_model, "d_model")
    angles = torch.arange(max_len, dtype=torch.float64)[:, None] * _frequencies(d_model, base)
    pe = torch.empty(max_len, d_model, dtype=torch.float64)
    pe[:, 0::2] = angles.sin()
    pe[:, 1::2] = angles.cos()
    return pe.float()


class _AddedPositions(nn.Module):
    """Shared checks of the encodings that are added to ``(batch, seq, d_model)`` inputs."""

    max_len: int
    d_model: int

    def _check(self, x: torch.Tensor, offset: int) -> int:
        if x.dim() != 3 or x.shape[-1] != self.d_model:
            raise ValueError(
                f"expected (batch, seq, {self.d_model}) embeddings, got {tuple(x.shape)}"
            )
        end = offset + x.shape[1]
        if offset < 0 or end > self.max_len:
            raise ValueError(
                f"positions {offset}..{end - 1} exceed max_len={self.max_len}; build the "
                "encoding with a larger max_len"
            )
        return end


class SinusoidalPositionalEncoding(_AddedPositions):
    """Adds the fixed sinusoidal table to embeddings ``(batch, seq, d_model)``, then dropout.

    ``offset`` shifts the positions (the first token is at ``offset``), for generating one
    token at a time. The table is a non-persistent buffer: not trained, not saved.
    """

    def __init__(
        self, d_model: int, max_len: int = 5000, dropout: float = 0.0, base: float = 10000.0
    ):
        super().__init__()
        self.d_model, self.max_len = d_model, max_len
        self.register_buffer("pe", sinusoidal_encoding(max_len, d_model, base), persistent=False)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, offset: int = 0) -> torch.Tensor:
        end = self._check(x, offset)
        return self.dropout(x + self.pe[offset:end].to(x.dtype))


class LearnedPositionalEmbedding(_AddedPositions):
    """Adds a trained vector per position (``nn.Embedding(max_len, d_model)``), then dropout.

    Initialised ``N(0, init_std^2)`` (0.02, as in BERT and GPT-2). Cannot represent positions
    beyond ``max_len``, unlike the sinusoidal table.
    """

    def __init__(self, max_len: int, d_model: int, dropout: float = 0.0, init_std: float = 0.02):
        super().__init__()
        self.d_model, self.max_len = d_model, max_len
        self.embedding = nn.Embedding(max_len, d_model)
        nn.init.normal_(self.embedding.weight, std=init_std)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, offset: int = 0) -> torch.Tensor:
        end = self._check(x, offset)
        positions = torch.arange(offset, end, device=x.device)
        return self.dropout(x + self.embedding(positions))


def rotary_angles(max_len: int, d_head: int, base: float = 10000.0) -> torch.Tensor:
    """``(max_len, d_head // 2)`` rotation angles ``pos * omega_i`` (the sinusoidal ones)."""
    _check_sizes(max_len, d_head, "d_head")
    return (
        torch.arange(max_len, dtype=torch.float64)[:, None] * _frequencies(d_head, base)
    ).float()


def apply_rotary(x: torch.Tensor, angles: torch.Tensor) -> torch.Tensor:
    """Rotate each pair ``(x[..., 2i], x[..., 2i+1])`` of ``x`` ``(..., seq, d_head)`` by
    ``angles`` ``(seq, d_head // 2)``. Norms are unchanged; returns ``(..., seq, d_head)``.
    """
    if x.shape[-1] % 2 or angles.shape != (x.shape[-2], x.shape[-1] // 2):
        raise ValueError(
            f"angles must be (seq, d_head // 2) = {(x.shape[-2], x.shape[-1] // 2)} for x of "
            f"shape {tuple(x.shape)}, got {tuple(angles.shape)}"
        )
    cos, sin = angles.cos().to(x.dtype), angles.sin().to(x.dtype)
    even, odd = x[..., 0::2], x[..., 1::2]
    rotated = torch.stack((even * cos - odd * sin, even * sin + odd * cos), dim=-1)
    return rotated.flatten(-2)


class RotaryEmbedding(nn.Module):
    """Rotary position embedding (RoPE, Su et al. 2021) for queries and keys of one head.

    ``rope(q)`` rotates ``q`` ``(..., seq, d_head)`` by its positions ``offset, offset+1, ...``
    (or by explicit integer ``positions`` ``(seq,)``). Apply it to queries and keys, not to
    values: then ``rope(q)[m] . rope(k)[n]`` depends on ``m - n`` only.
    """

    def __init__(self, d_head: int, max_len: int = 2048, base: float = 10000.0):
        super().__init__()
        self.d_head, self.max_len = d_head, max_len
        self.register_buffer("angles", rotary_angles(max_len, d_head, base), persistent=False)

    def forward(
        self, x: torch.Tensor, offset: int = 0, positions: torch.Tensor | None = None
    ) -> torch.Tensor:
        if x.dim() < 2 or x.shape[-1] != self.d_head:
            raise ValueError(f"expected (..., seq, {self.d_head}), got {tuple(x.shape)}")
        if positions is None:
            positions = torch.arange(offset, offset + x.shape[-2], device=self.angles.device)
        if positions.numel() and (positions.min() < 0 or positions.max() >= self.max_len):
            raise ValueError(f"positions must lie in [0, {self.max_len}); raise max_len")
        return apply_rotary(x, self.angles[positions])
