"""Attention: the scaled dot-product, masks, and multi-head attention.

Mask convention, everywhere in the course (the one ``torch.nn.MultiheadAttention`` and
``torch.nn.Transformer`` use for boolean masks): ``True`` marks a position that may **not**
be attended to (padding, or the future). ``F.scaled_dot_product_attention`` uses the opposite
convention; the fused path below inverts it.

A query whose keys are all masked (a fully padded row) gets all-zero weights and a zero
output, never NaN.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def causal_mask(size: int, device: torch.device | str | None = None) -> torch.Tensor:
    """Bool ``(size, size)``: True above the diagonal, so position i never sees j > i."""
    return torch.ones(size, size, dtype=torch.bool, device=device).triu(diagonal=1)


def scaled_dot_product_attention(
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    mask: torch.Tensor | None = None,
    scale: float | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """softmax(Q K^T * scale) V, with ``scale`` = 1/sqrt(d_k) by default.

    query ``(..., q_len, d_k)``, key ``(..., k_len, d_k)``, value ``(..., k_len, d_v)``;
    ``mask`` (bool, True = blocked) broadcastable to ``(..., q_len, k_len)``.
    Returns the output ``(..., q_len, d_v)`` and the weights ``(..., q_len, k_len)``.
    """
    d_k = query.shape[-1]
    if key.shape[-1] != d_k:
        raise ValueError(f"query and key must share d_k, got {query.shape[-1]} and {key.shape[-1]}")
    if key.shape[-2] != value.shape[-2]:
        raise ValueError(
            f"key and value must have the same length, got {key.shape[-2]} and {value.shape[-2]}"
        )
    scale = 1.0 / math.sqrt(d_k) if scale is None else scale
    scores = query @ key.transpose(-2, -1) * scale
    if mask is not None:
        if mask.dtype != torch.bool:
            raise TypeError(f"mask must be a bool tensor (True = blocked), got {mask.dtype}")
        scores = scores.masked_fill(mask, torch.finfo(scores.dtype).min)
    weights = scores.softmax(dim=-1)
    if mask is not None:
        weights = weights.masked_fill(mask.all(dim=-1, keepdim=True), 0.0)
    return weights @ value, weights


def split_heads(x: torch.Tensor, num_heads: int) -> torch.Tensor:
    """``(batch, seq, d_model)`` -> ``(batch, heads, seq, d_model // heads)``."""
    batch, seq, d_model = x.shape
    return x.view(batch, seq, num_heads, d_model // num_heads).transpose(1, 2)


def merge_heads(x: torch.Tensor) -> torch.Tensor:
    """``(batch, heads, seq, d_head)`` -> ``(batch, seq, heads * d_head)``."""
    batch, heads, seq, d_head = x.shape
    return x.transpose(1, 2).reshape(batch, seq, heads * d_head)


def combine_masks(
    key_padding_mask: torch.Tensor | None, attn_mask: torch.Tensor | None
) -> torch.Tensor | None:
    """One bool mask ``(batch, 1, q_len, k_len)``-broadcastable from the two kinds.

    ``key_padding_mask`` ``(batch, k_len)``; ``attn_mask`` ``(q_len, k_len)``; True = blocked.
    """
    mask = None
    if key_padding_mask is not None:
        mask = key_padding_mask[:, None, None, :]
    if attn_mask is not None:
        mask = attn_mask if mask is None else mask | attn_mask
    return mask


class MultiHeadAttention(nn.Module):
    """Multi-head attention (batch first), computing what ``nn.MultiheadAttention`` computes.

    ``fused=True`` runs the attention itself through ``F.scaled_dot_product_attention``
    (faster; it returns no weights).
    """

    def __init__(
        self, d_model: int, num_heads: int, dropout: float = 0.0, bias: bool = True,
        fused: bool = False,
    ):
        super().__init__()
        if d_model % num_heads != 0:
            raise ValueError(f"d_model={d_model} is not divisible by num_heads={num_heads}")
        self.d_model, self.num_heads, self.fused = d_model, num_heads, fused
        self.q_proj = nn.Linear(d_model, d_model, bias=bias)
        self.k_proj = nn.Linear(d_model, d_model, bias=bias)
        self.v_proj = nn.Linear(d_model, d_model, bias=bias)
        self.out_proj = nn.Linear(d_model, d_model, bias=bias)
        self.dropout = nn.Dropout(dropout)

    def forward(
        self,
        query: torch.Tensor,
        key: torch.Tensor,
        value: torch.Tensor,
        key_padding_mask: torch.Tensor | None = None,
        attn_mask: torch.Tensor | None = None,
        need_weights: bool = True,
        average_attn_weights: bool = True,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """query ``(batch, q_len, d_model)``, key/value ``(batch, k_len, d_model)``.

        Returns the output ``(batch, q_len, d_model)`` and the weights: ``(batch, q_len,
        k_len)`` averaged over heads, ``(batch, heads, q_len, k_len)`` per head, or None.
        """
        if query.dim() != 3 or query.shape[-1] != self.d_model:
            raise ValueError(
                f"query must be (batch, seq, {self.d_model}), got {tuple(query.shape)}"
            )
        q = split_heads(self.q_proj(query), self.num_heads)
        k = split_heads(self.k_proj(key), self.num_heads)
        v = split_heads(self.v_proj(value), self.num_heads)
        mask = combine_masks(key_padding_mask, attn_mask)
        if self.fused and not need_weights:
            out = F.scaled_dot_product_attention(
                q, k, v, attn_mask=None if mask is None else ~mask,
                dropout_p=self.dropout.p if self.training else 0.0,
            )
            if mask is not None:
                out = out.masked_fill(mask.all(dim=-1, keepdim=True), 0.0)
            return self.out_proj(merge_heads(out)), None
        context, weights = scaled_dot_product_attention(q, k, v, mask)
        if self.dropout.p > 0 and self.training:
            context = self.dropout(weights) @ v
        out = self.out_proj(merge_heads(context))
        if not need_weights:
            return out, None
        return out, weights.mean(dim=1) if average_attn_weights else weights
