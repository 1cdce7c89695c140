"""Module 4: the Transformer decoder: decoder layers and the decoder stack, with a key/value cache.

One decoder layer (post-norm, as in the paper)::

    x = AddNorm(x, MaskedSelfAttention)    # queries, keys, values from the target; causal
    x = AddNorm(x, CrossAttention)         # queries from x, keys and values from the memory
    x = AddNorm(x, FeedForward)

Masks are bool, True = blocked: ``tgt_mask`` ``(tgt_len, tgt_len)`` (the causal mask),
``tgt_key_padding_mask`` ``(batch, tgt_len)`` and ``memory_key_padding_mask``
``(batch, src_len)`` (the source padding), as in ``nn.TransformerDecoderLayer``.

Generating one token at a time, a :class:`DecoderCache` keeps each layer's projected keys and
values: each step feeds only the new token, its self-attention reads the cached keys and
values of the earlier positions, and its cross-attention reuses the projected memory.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from course_lib.add_norm import AddNorm
from course_lib.attention import KeyValueCache, MultiHeadAttention
from course_lib.embedding import EmbeddedStack, check_padding_mask, check_token_ids
from course_lib.feed_forward import PositionwiseFeedForward

__all__ = ["Decoder", "DecoderCache", "DecoderLayer", "LayerCache"]


@dataclass
class LayerCache:
    """One decoder layer's caches: self-attention (growing) and cross-attention (static)."""

    self_attn: KeyValueCache = field(default_factory=KeyValueCache)
    cross_attn: KeyValueCache = field(default_factory=lambda: KeyValueCache(static=True))


@dataclass
class DecoderCache:
    """The caches of every layer of a decoder stack; ``len`` = positions decoded so far."""

    layers: list[LayerCache]

    @classmethod
    def for_decoder(cls, decoder: Decoder) -> DecoderCache:
        return cls([LayerCache() for _ in decoder.layers])

    def __len__(self) -> int:
        return len(self.layers[0].self_attn) if self.layers else 0

    def reorder(self, index: torch.Tensor) -> None:
        """Keep batch rows ``index`` ``(new_batch,)`` in every layer's cache."""
        for layer in self.layers:
            layer.self_attn.reorder(index)
            layer.cross_attn.reorder(index)


class DecoderLayer(nn.Module):
    """Masked self-attention, cross-attention and a feed-forward network, each in AddNorm.

    ``norm_first=False`` is the paper's post-norm layer, ``True`` the pre-norm one; both
    compute what ``nn.TransformerDecoderLayer(..., batch_first=True, norm_first=...)`` does
    (see :func:`to_torch_decoder_layer`).
    """

    def __init__(
        self,
        d_model: int,
        num_heads: int,
        d_ff: int,
        dropout: float = 0.1,
        norm_first: bool = False,
        eps: float = 1e-5,
        fused: bool = True,
    ):
        super().__init__()
        self.self_attn = MultiHeadAttention(d_model, num_heads, dropout=dropout, fused=fused)
        self.cross_attn = MultiHeadAttention(d_model, num_heads, dropout=dropout, fused=fused)
        self.feed_forward = PositionwiseFeedForward(d_model, d_ff, dropout)
        self.add_norm1 = AddNorm(d_model, dropout, norm_first, eps)
        self.add_norm2 = AddNorm(d_model, dropout, norm_first, eps)
        self.add_norm3 = AddNorm(d_model, dropout, norm_first, eps)

    def forward(
        self,
        x: torch.Tensor,
        memory: torch.Tensor,
        tgt_mask: torch.Tensor | None = None,
        tgt_key_padding_mask: torch.Tensor | None = None,
        memory_key_padding_mask: torch.Tensor | None = None,
        need_weights: bool = False,
        cache: LayerCache | None = None,
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``x`` ``(batch, tgt_len, d_model)``, ``memory`` ``(batch, src_len, d_model)`` ->
        ``(batch, tgt_len, d_model)``.

        With ``need_weights`` also returns the self- and cross-attention weights
        ``(batch, heads, tgt_len, tgt_len)`` and ``(batch, heads, tgt_len, src_len)``.
        With ``cache``, ``x`` holds only the new positions; the masks then cover the cached
        positions too (``tgt_mask`` ``(new, cached + new)``).
        """
        if x.dim() != 3 or memory.dim() != 3:
            raise ValueError(
                "x and memory must be (batch, seq, d_model), got shapes "
                f"{tuple(x.shape)} and {tuple(memory.shape)}"
            )
        check_padding_mask(memory_key_padding_mask, *memory.shape[:2], "memory_key_padding_mask")
        weights = []

        def self_attention(y: torch.Tensor) -> torch.Tensor:
            out, w = self.self_attn(
                y,
                y,
                y,
                key_padding_mask=tgt_key_padding_mask,
                attn_mask=tgt_mask,
                need_weights=need_weights,
                average_attn_weights=False,
                cache=None if cache is None else cache.self_attn,
            )
            weights.append(w)
            return out

        def cross_attention(y: torch.Tensor) -> torch.Tensor:
            out, w = self.cross_attn(
                y,
                memory,
                memory,
                key_padding_mask=memory_key_padding_mask,
                need_weights=need_weights,
                average_attn_weights=False,
                cache=None if cache is None else cache.cross_attn,
            )
            weights.append(w)
            return out

        x = self.add_norm1(x, self_attention)  # (batch, tgt_len, d_model)
        x = self.add_norm2(x, cross_attention)  # (batch, tgt_len, d_model)
        x = self.add_norm3(x, self.feed_forward)  # (batch, tgt_len, d_model)
        return (x, weights[0], weights[1]) if need_weights else x


class Decoder(EmbeddedStack):
    """Target embeddings * sqrt(d_model) + positional encoding, then ``num_layers`` decoder
    layers (and a final LayerNorm when pre-norm). Returns hidden states, not logits."""

    def __init__(
        self,
        vocab_size: int,
        d_model: int,
        num_heads: int,
        d_ff: int,
        num_layers: int,
        dropout: float = 0.1,
        max_len: int = 512,
        pad_id: int = 0,
        norm_first: bool = False,
        fused: bool = True,
        scale_embeddings: bool = True,
        positions: bool = True,
    ):
        super().__init__(
            vocab_size, d_model, dropout, max_len, pad_id, norm_first, scale_embeddings, positions
        )
        self.layers = nn.ModuleList(
            DecoderLayer(d_model, num_heads, d_ff, dropout, norm_first, fused=fused)
            for _ in range(num_layers)
        )

    def forward(
        self,
        ids: torch.Tensor,
        memory: torch.Tensor,
        memory_key_padding_mask: torch.Tensor | None = None,
        tgt_key_padding_mask: torch.Tensor | None = None,
        cache: DecoderCache | None = None,
        need_weights: bool = False,
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``ids`` ``(batch, tgt_len)``, ``memory`` ``(batch, src_len, d_model)`` ->
        ``(batch, tgt_len, d_model)``; the causal mask is built here.

        ``memory_key_padding_mask`` ``(batch, src_len)`` and ``tgt_key_padding_mask``
        ``(batch, tgt_len)`` (True = padding); with a ``cache``, ``ids`` are the new tokens
        only (positions continue after the cached ones) and ``tgt_key_padding_mask`` covers
        cached + new positions. With ``need_weights`` also returns every layer's
        weights, ``(layers, batch, heads, tgt_len, tgt_len)`` and ``(..., src_len)``.
        """
        check_token_ids(ids)
        past = 0 if cache is None else len(cache)
        check_padding_mask(
            tgt_key_padding_mask, ids.shape[0], past + ids.shape[1], "tgt_key_padding_mask"
        )
        new = ids.shape[1]
        # (new, past + new), True = blocked: each new position sees the cached ones and the
        # new ones up to itself (without a cache: causal_mask(new))
        mask = torch.ones(new, past + new, dtype=torch.bool, device=ids.device).triu(past + 1)
        x = self.embed(ids, offset=past)  # (batch, new, d_model)
        self_weights, cross_weights = [], []
        for i, layer in enumerate(self.layers):
            out = layer(
                x,
                memory,
                tgt_mask=mask,
                tgt_key_padding_mask=tgt_key_padding_mask,
                memory_key_padding_mask=memory_key_padding_mask,
                need_weights=need_weights,
                cache=None if cache is None else cache.layers[i],
            )
            if need_weights:
                x, w_self, w_cross = out
                self_weights.append(w_self)
                cross_weights.append(w_cross)
            else:
                x = out
        x = self.norm(x)
        if need_weights:
            return x, torch.stack(self_weights), torch.stack(cross_weights)
        return x
