"""Module 3: the Transformer encoder: encoder layers and the encoder stack.

One encoder layer (post-norm, as in the paper)::

    x = AddNorm(x, SelfAttention)      # LayerNorm(x + Dropout(MHA(x, x, x)))
    x = AddNorm(x, FeedForward)        # LayerNorm(x + Dropout(FFN(x)))

The stack embeds token ids, scales the embeddings by sqrt(d_model), adds the sinusoidal
positional encoding, then runs N layers; with pre-norm it ends with one more LayerNorm (as
``nn.TransformerEncoder(..., norm=LayerNorm)`` in pre-norm models does).

Padding: ``src_key_padding_mask`` ``(batch, seq)``, bool, True at padding (the name
``nn.TransformerEncoder`` uses; a layer takes it as ``key_padding_mask``, like
``nn.MultiheadAttention``). No real token attends to padding, so padding never changes the
outputs at real positions; the outputs *at* padded positions are meaningless.
"""

from __future__ import annotations

import torch
from torch import nn

from course_lib.add_norm import AddNorm
from course_lib.attention import MultiHeadAttention
from course_lib.embedding import EmbeddedStack, check_padding_mask, check_token_ids
from course_lib.feed_forward import PositionwiseFeedForward


class TransformerBlock(nn.Module):
    """Self-attention and a feed-forward network, each wrapped in :class:`AddNorm`: the block
    of the encoder (Module 3 teaches it as ``EncoderLayer``, the same class) and, given the
    causal mask, of the GPT (:class:`~course_lib.language_model.DecoderOnlyLM`, Module 4).

    ``norm_first=False`` is the paper's post-norm layer, ``True`` the pre-norm one; both
    compute what ``nn.TransformerEncoderLayer(..., batch_first=True, norm_first=...)`` does
    (see :func:`to_torch_encoder_layer`). ``fused=True`` runs attention through
    ``F.scaled_dot_product_attention`` whenever the weights are not asked for.
    ``activation`` is the feed-forward's ("relu", "gelu" or "gelu_tanh").
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
        activation: str = "relu",
    ):
        super().__init__()
        self.self_attn = MultiHeadAttention(d_model, num_heads, dropout=dropout, fused=fused)
        self.feed_forward = PositionwiseFeedForward(d_model, d_ff, dropout, activation)
        self.add_norm1 = AddNorm(d_model, dropout, norm_first, eps)
        self.add_norm2 = AddNorm(d_model, dropout, norm_first, eps)

    def forward(
        self,
        x: torch.Tensor,
        key_padding_mask: torch.Tensor | None = None,
        attn_mask: torch.Tensor | None = None,
        need_weights: bool = False,
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """``x`` ``(batch, seq, d_model)`` -> same shape.

        With ``need_weights`` also returns the attention weights ``(batch, heads, seq, seq)``.
        """
        if x.dim() != 3:
            raise ValueError(f"x must be (batch, seq, d_model), got shape {tuple(x.shape)}")
        check_padding_mask(key_padding_mask, x.shape[0], x.shape[1], "key_padding_mask")
        weights = []

        def self_attention(y: torch.Tensor) -> torch.Tensor:
            out, w = self.self_attn(
                y,
                y,
                y,
                key_padding_mask=key_padding_mask,
                attn_mask=attn_mask,
                need_weights=need_weights,
                average_attn_weights=False,
            )
            weights.append(w)
            return out

        x = self.add_norm1(x, self_attention)  # (batch, seq, d_model)
        x = self.add_norm2(x, self.feed_forward)  # (batch, seq, d_model)
        return (x, weights[0]) if need_weights else x


EncoderLayer = TransformerBlock  # the name Module 3 teaches (and nn.TransformerEncoderLayer's)


class Encoder(EmbeddedStack):
    """Embeddings * sqrt(d_model) + positional encoding, then ``num_layers`` encoder layers
    (and a final LayerNorm when pre-norm)."""

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
            EncoderLayer(d_model, num_heads, d_ff, dropout, norm_first, fused=fused)
            for _ in range(num_layers)
        )

    def forward(
        self,
        ids: torch.Tensor,
        src_key_padding_mask: torch.Tensor | None = None,
        need_weights: bool = False,
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """``ids`` ``(batch, seq)`` -> ``(batch, seq, d_model)``.

        With ``need_weights`` also returns every layer's attention weights
        ``(layers, batch, heads, seq, seq)``.
        """
        check_token_ids(ids)
        check_padding_mask(src_key_padding_mask, *ids.shape, name="src_key_padding_mask")
        x = self.embed(ids)  # (batch, seq, d_model)
        weights = []
        for layer in self.layers:
            if need_weights:
                x, w = layer(x, key_padding_mask=src_key_padding_mask, need_weights=True)
                weights.append(w)  # (batch, heads, seq, seq)
            else:
                x = layer(x, key_padding_mask=src_key_padding_mask)
        x = self.norm(x)
        return (x, torch.stack(weights)) if need_weights else x
