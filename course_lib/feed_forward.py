"""Module 3: the position-wise feed-forward network of a Transformer layer.

FFN(x) = max(0, x W1 + b1) W2 + b2, applied to every position separately and identically:
the same two linear layers for every token, no mixing across positions (that is attention's
job). The inner width ``d_ff`` is usually 4 * d_model (2048 for d_model = 512 in the paper).
GPT-style models replace ReLU by GELU (GPT-2 uses its tanh approximation, ``"gelu_tanh"``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

ACTIVATIONS = {"relu": F.relu, "gelu": F.gelu, "gelu_tanh": lambda x: F.gelu(x, approximate="tanh")}


class PositionwiseFeedForward(nn.Module):
    """``linear2(dropout(activation(linear1(x))))``: d_model -> d_ff -> d_model.

    The attribute names (``linear1``, ``dropout``, ``linear2``) are those of
    ``nn.TransformerEncoderLayer``, so weights copy across by name.
    """

    def __init__(self, d_model: int, d_ff: int, dropout: float = 0.1, activation: str = "relu"):
        super().__init__()
        if d_model < 1 or d_ff < 1:
            raise ValueError(f"d_model and d_ff must be >= 1, got {d_model} and {d_ff}")
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {activation!r}")
        self.activation = activation
        self.linear1 = nn.Linear(d_model, d_ff)
        self.dropout = nn.Dropout(dropout)
        self.linear2 = nn.Linear(d_ff, d_model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` ``(..., d_model)`` -> ``(..., d_model)``, each position on its own."""
        if x.shape[-1] != self.linear1.in_features:
            raise ValueError(
                f"the last dimension of x must be d_model={self.linear1.in_features}, "
                f"got shape {tuple(x.shape)}"
            )
        return self.linear2(self.dropout(ACTIVATIONS[self.activation](self.linear1(x))))
