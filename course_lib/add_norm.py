"""Module 3: Add & Norm: the residual connection and layer normalisation around every sub-layer.

Post-norm (the paper, and ``nn.TransformerEncoderLayer``'s default)::

    y = LayerNorm(x + Dropout(sublayer(x)))

Pre-norm (``norm_first=True``; GPT-2, most models since, train deep stacks without warm-up)::

    y = x + Dropout(sublayer(LayerNorm(x)))

Layer norm normalises each token's feature vector on its own (over the last dimension), so a
token's output never depends on the other tokens of the batch, nor on padding.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn


def layer_norm(
    x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, eps: float = 1e-5
) -> torch.Tensor:
    """``(x - mean) / sqrt(var + eps) * weight + bias`` over the last dimension.

    ``x`` ``(..., d)``, ``weight`` and ``bias`` ``(d,)``; the variance is the biased one
    (divide by d), as in ``nn.LayerNorm``.
    """
    if weight.shape != x.shape[-1:] or bias.shape != x.shape[-1:]:
        raise ValueError(
            f"weight and bias must have shape ({x.shape[-1]},) for x of shape {tuple(x.shape)}, "
            f"got {tuple(weight.shape)} and {tuple(bias.shape)}"
        )
    mean = x.mean(dim=-1, keepdim=True)
    var = x.var(dim=-1, unbiased=False, keepdim=True)
    return (x - mean) / torch.sqrt(var + eps) * weight + bias


class AddNorm(nn.Module):
    """Residual connection plus layer norm around a sub-layer, post-norm or pre-norm.

    ``forward(x, sublayer)`` takes the sub-layer as a callable, because pre-norm must
    normalise *before* calling it.
    """

    def __init__(
        self, d_model: int, dropout: float = 0.0, norm_first: bool = False, eps: float = 1e-5
    ):
        super().__init__()
        self.norm = nn.LayerNorm(d_model, eps=eps)
        self.dropout = nn.Dropout(dropout)
        self.norm_first = norm_first

    def forward(
        self, x: torch.Tensor, sublayer: Callable[[torch.Tensor], torch.Tensor]
    ) -> torch.Tensor:
        """``x`` ``(batch, seq, d_model)``; ``sublayer`` maps that shape to itself."""
        if x.shape[-1] != self.norm.normalized_shape[0]:
            raise ValueError(
                f"the last dimension of x must be d_model={self.norm.normalized_shape[0]}, "
                f"got shape {tuple(x.shape)}"
            )
        if self.norm_first:
            return x + self.dropout(sublayer(self.norm(x)))
        return self.norm(x + self.dropout(sublayer(x)))
