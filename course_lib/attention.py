"""Module 2: attention, the scaled dot-product, masks, and multi-head attention.

Mask convention, everywhere in the course (the one ``torch.nn.MultiheadAttention`` and
``torch.nn.Transformer`` use for boolean masks): ``True`` marks a position that may **not**
be attended to (padding, or the future). ``F.scaled_dot_product_attention`` uses the opposite
convention; the fused path below inverts it.

Fully masked rows (a query whose keys are all blocked, e.g. a batch row that is all padding)
are defined, not NaN: their attention weights are all zero and their attention output (the
weighted sum of values, before the output projection) is zero, so a ``MultiHeadAttention``
returns ``out_proj.bias`` there. ``nn.MultiheadAttention`` returns NaN for such rows when it
computes weights (``need_weights=True``); the unit tests compare the other rows only.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "KeyValueCache",
    "MultiHeadAttention",
    "SelfAttention",
    "causal_mask",
    "combine_masks",
    "merge_heads",
    "scaled_dot_product_attention",
    "split_heads",
]


def causal_mask(size: int, device: torch.device | str | None = None) -> torch.Tensor:
    """Bool ``(size, size)``: True above the diagonal, so position i never sees j > i."""
    return torch.ones(size, size, dtype=torch.bool, device=device).triu(diagonal=1)


def _check_bool_mask(mask: torch.Tensor, name: str) -> None:
    if not isinstance(mask, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of dtype bool, got {type(mask).__name__}")
    if mask.dtype != torch.bool:
        raise TypeError(
            f"{name} must be a bool tensor (True = blocked), got {mask.dtype}. A float mask of "
            "0 / -inf (e.g. nn.Transformer.generate_square_subsequent_mask) converts with "
            "`mask.isinf()`; for a causal mask use course_lib.attention.causal_mask(size)."
        )


def _zero_fully_masked_rows(x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """``x`` ``(..., q_len, any)`` with the rows of queries whose keys are all masked set to 0."""
    if mask is None:
        return x
    blocked_rows = mask.all(dim=-1, keepdim=True)  # (..., q_len, 1)
    # On CPU skip the pass when no row is blocked; on a GPU that test would cost a sync.
    if blocked_rows.device.type == "cpu" and not blocked_rows.any():
        return x
    return x.masked_fill(blocked_rows, 0.0)


def _check_attention_inputs(query, key, value, mask) -> None:
    """Clear errors for inputs ``scaled_dot_product_attention`` cannot take."""
    for name, tensor in (("query", query), ("key", key), ("value", value)):
        if not isinstance(tensor, torch.Tensor):
            raise TypeError(f"{name} must be a torch.Tensor, got {type(tensor).__name__}")
        if tensor.dim() < 2:
            raise ValueError(f"{name} must be at least (seq, dim), got shape {tuple(tensor.shape)}")
        if not tensor.is_floating_point():
            raise TypeError(f"{name} must be a float tensor, got {tensor.dtype}; call .float()")
    if key.shape[-1] != query.shape[-1]:
        raise ValueError(f"query and key must share d_k, got {query.shape[-1]} and {key.shape[-1]}")
    if key.shape[-2] != value.shape[-2]:
        raise ValueError(
            f"key and value must have the same length, got {key.shape[-2]} and {value.shape[-2]}"
        )
    if mask is None:
        return
    _check_bool_mask(mask, "mask")
    try:
        leading = torch.broadcast_shapes(query.shape[:-2], key.shape[:-2])
    except RuntimeError:
        raise ValueError(
            f"query {tuple(query.shape)} and key {tuple(key.shape)} must have leading "
            "(batch, heads) dimensions that broadcast"
        ) from None
    scores_shape = (*leading, query.shape[-2], key.shape[-2])
    try:
        torch.broadcast_shapes(mask.shape, scores_shape)
    except RuntimeError:
        raise ValueError(
            f"mask of shape {tuple(mask.shape)} does not broadcast to the scores "
            f"{scores_shape} = (..., q_len, k_len)"
        ) from None


def scaled_dot_product_attention(
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    mask: torch.Tensor | None = None,
    scale: float | None = None,
    dropout_p: float = 0.0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """softmax(Q K^T * scale) V, with ``scale`` = 1/sqrt(d_k) by default.

    query ``(..., q_len, d_k)``, key ``(..., k_len, d_k)``, value ``(..., k_len, d_v)``;
    ``mask`` (bool, True = blocked) broadcastable to ``(..., q_len, k_len)``.
    ``dropout_p`` > 0 zeroes attention weights at random (for training; pass 0.0 in
    evaluation); the weights returned are then the dropped ones, as in nn.MultiheadAttention.
    Returns the output ``(..., q_len, d_v)`` and the weights ``(..., q_len, k_len)``, each row
    summing to 1 (a fully masked row is all zeros and its output is zero).
    """
    _check_attention_inputs(query, key, value, mask)
    scale = 1.0 / math.sqrt(query.shape[-1]) if scale is None else scale
    scores = query @ key.transpose(-2, -1) * scale  # (..., q_len, k_len)
    if mask is not None:
        # The most negative float, not -inf: a fully masked row then stays finite (uniform),
        # and is zeroed below instead of turning into 0/0 = NaN.
        scores = scores.masked_fill(mask, torch.finfo(scores.dtype).min)
    weights = _zero_fully_masked_rows(scores.softmax(dim=-1), mask)  # (..., q_len, k_len)
    if dropout_p > 0.0:
        weights = F.dropout(weights, p=dropout_p)
    return weights @ value, weights  # (..., q_len, d_v)


def _torch_attention(q, k, v, mask, dropout_p: float) -> torch.Tensor:
    """``F.scaled_dot_product_attention`` (fused kernels) with the course's masks: True =
    blocked, and a fully masked row gives 0 on every backend. Returns ``(..., q_len, d_v)``."""
    context = F.scaled_dot_product_attention(
        q, k, v, attn_mask=None if mask is None else ~mask, dropout_p=dropout_p
    )
    return _zero_fully_masked_rows(context, mask)


def split_heads(x: torch.Tensor, num_heads: int) -> torch.Tensor:
    """``(batch, seq, d_model)`` -> ``(batch, heads, seq, d_model // heads)``."""
    if x.dim() != 3:
        raise ValueError(f"split_heads expects (batch, seq, d_model), got shape {tuple(x.shape)}")
    batch, seq, d_model = x.shape
    if d_model % num_heads != 0:
        raise ValueError(f"d_model={d_model} is not divisible by num_heads={num_heads}")
    return x.view(batch, seq, num_heads, d_model // num_heads).transpose(1, 2)


def merge_heads(x: torch.Tensor) -> torch.Tensor:
    """``(batch, heads, seq, d_head)`` -> ``(batch, seq, heads * d_head)``."""
    if x.dim() != 4:
        raise ValueError(
            f"merge_heads expects (batch, heads, seq, d_head), got shape {tuple(x.shape)}"
        )
    batch, heads, seq, d_head = x.shape
    return x.transpose(1, 2).reshape(batch, seq, heads * d_head)


def combine_masks(
    key_padding_mask: torch.Tensor | None, attn_mask: torch.Tensor | None
) -> torch.Tensor | None:
    """One bool mask ``(batch, 1, q_len, k_len)``-broadcastable from the two kinds.

    ``key_padding_mask`` ``(batch, k_len)``; ``attn_mask`` ``(q_len, k_len)`` (the same for
    every sequence) or ``(batch, heads or 1, q_len, k_len)``; True = blocked.
    """
    mask = None
    if key_padding_mask is not None:
        _check_bool_mask(key_padding_mask, "key_padding_mask")
        if key_padding_mask.dim() != 2:
            raise ValueError(
                "key_padding_mask must be (batch, k_len), True at padding, got shape "
                f"{tuple(key_padding_mask.shape)}"
            )
        mask = key_padding_mask[:, None, None, :]
    if attn_mask is not None:
        _check_bool_mask(attn_mask, "attn_mask")
        if attn_mask.dim() not in (2, 4):
            raise ValueError(
                "attn_mask must be (q_len, k_len) or (batch, heads, q_len, k_len), got shape "
                f"{tuple(attn_mask.shape)}"
            )
        mask = attn_mask if mask is None else mask | attn_mask
    return mask


class KeyValueCache:
    """The projected keys and values ``(batch, heads, seen, d_head)`` one attention layer has
    already computed, for decoding one token at a time.

    ``static=False`` (masked self-attention): each call appends the new positions' keys and
    values, and the new queries attend to all of them. ``static=True`` (cross-attention): the
    encoder memory is projected on the first call and reused at every later step.
    """

    def __init__(self, static: bool = False):
        self.static = static
        self.key: torch.Tensor | None = None
        self.value: torch.Tensor | None = None

    def __len__(self) -> int:
        """Number of positions cached."""
        return 0 if self.key is None else self.key.shape[-2]

    def update(self, key: torch.Tensor, value: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Append the new positions' keys and values ``(batch, heads, new, d_head)``; returns
        all those cached ``(batch, heads, seen, d_head)``."""
        if self.key is not None:
            key, value = torch.cat([self.key, key], dim=-2), torch.cat([self.value, value], dim=-2)
        self.key, self.value = key, value
        return key, value

    def reorder(self, index: torch.Tensor) -> None:
        """Keep batch rows ``index`` ``(new_batch,)`` (beam search picks its survivors)."""
        if self.key is not None:
            self.key, self.value = self.key[index], self.value[index]


class SelfAttention(nn.Module):
    """One attention head over one sequence: Q, K and V are learned projections of ``x``.

    ``q_proj``/``k_proj`` map ``d_model -> d_k``, ``v_proj`` maps ``d_model -> d_v``
    (``d_v`` defaults to ``d_k``); no output projection (that comes with several heads).
    """

    def __init__(self, d_model: int, d_k: int, d_v: int | None = None, bias: bool = False):
        super().__init__()
        self.d_model, self.d_k, self.d_v = d_model, d_k, d_k if d_v is None else d_v
        self.q_proj = nn.Linear(d_model, d_k, bias=bias)
        self.k_proj = nn.Linear(d_model, d_k, bias=bias)
        self.v_proj = nn.Linear(d_model, self.d_v, bias=bias)

    def forward(
        self, x: torch.Tensor, mask: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """x ``(batch, seq, d_model)``; ``mask`` bool broadcastable to ``(batch, seq, seq)``.

        Returns the output ``(batch, seq, d_v)`` and the weights ``(batch, seq, seq)``.
        """
        if x.dim() != 3 or x.shape[-1] != self.d_model:
            raise ValueError(f"x must be (batch, seq, {self.d_model}), got {tuple(x.shape)}")
        return scaled_dot_product_attention(self.q_proj(x), self.k_proj(x), self.v_proj(x), mask)


class MultiHeadAttention(nn.Module):
    """Multi-head attention (batch first), computing what ``nn.MultiheadAttention`` computes.

    Each head attends in its own ``d_head = d_model // num_heads`` subspace; the heads are
    concatenated and projected by ``out_proj``. ``fused=True`` runs the attention itself
    through ``F.scaled_dot_product_attention`` (faster, less memory) whenever no weights are
    asked for (``need_weights=False``); with weights it takes the explicit path.
    ``from_torch``/``to_torch`` copy weights from and to ``nn.MultiheadAttention``
    (:mod:`course_lib.torch_interop`).
    """

    def __init__(
        self,
        d_model: int,
        num_heads: int,
        dropout: float = 0.0,
        bias: bool = True,
        fused: bool = False,
    ):
        super().__init__()
        if d_model % num_heads != 0:
            raise ValueError(f"d_model={d_model} is not divisible by num_heads={num_heads}")
        self.d_model, self.num_heads, self.fused = d_model, num_heads, fused
        self.d_head = d_model // num_heads
        self.q_proj = nn.Linear(d_model, d_model, bias=bias)
        self.k_proj = nn.Linear(d_model, d_model, bias=bias)
        self.v_proj = nn.Linear(d_model, d_model, bias=bias)
        self.out_proj = nn.Linear(d_model, d_model, bias=bias)
        self.dropout = nn.Dropout(dropout)

    def extra_repr(self) -> str:
        return f"d_model={self.d_model}, num_heads={self.num_heads}, fused={self.fused}"

    def _check_inputs(self, query, key, value, key_padding_mask, attn_mask, past=0):
        for name, x in (("query", query), ("key", key), ("value", value)):
            if not isinstance(x, torch.Tensor):
                raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
            if x.dim() != 3 or x.shape[-1] != self.d_model:
                raise ValueError(
                    f"{name} must be (batch, seq, {self.d_model}) (batch first), got "
                    f"{tuple(x.shape)}"
                )
        if not (query.shape[0] == key.shape[0] == value.shape[0]):
            raise ValueError(
                f"query, key and value must share the batch size, got {query.shape[0]}, "
                f"{key.shape[0]} and {value.shape[0]}"
            )
        if key.shape[1] != value.shape[1]:
            raise ValueError(
                f"key and value must have the same length, got {key.shape[1]} and {value.shape[1]}"
            )
        batch, q_len, k_len = query.shape[0], query.shape[1], past + key.shape[1]
        for name, mask in (("key_padding_mask", key_padding_mask), ("attn_mask", attn_mask)):
            if mask is not None:
                _check_bool_mask(mask, name)
        if key_padding_mask is not None and tuple(key_padding_mask.shape) != (batch, k_len):
            raise ValueError(
                f"key_padding_mask must be (batch, k_len) = {(batch, k_len)}, got "
                f"{tuple(key_padding_mask.shape)}"
            )
        if attn_mask is not None and tuple(attn_mask.shape[-2:]) != (q_len, k_len):
            raise ValueError(
                f"attn_mask must end in (q_len, k_len) = {(q_len, k_len)}, got "
                f"{tuple(attn_mask.shape)}"
            )
        if (
            attn_mask is not None
            and attn_mask.dim() == 3
            and attn_mask.shape[0] != batch * self.num_heads
        ):
            raise ValueError(
                "a 3-D attn_mask must be (batch * heads, q_len, k_len) as in "
                f"nn.MultiheadAttention, got {tuple(attn_mask.shape)} for batch {batch} and "
                f"{self.num_heads} heads"
            )

    def forward(
        self,
        query: torch.Tensor,
        key: torch.Tensor,
        value: torch.Tensor,
        key_padding_mask: torch.Tensor | None = None,
        attn_mask: torch.Tensor | None = None,
        need_weights: bool = True,
        average_attn_weights: bool = True,
        cache: KeyValueCache | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """query ``(batch, q_len, d_model)``, key/value ``(batch, k_len, d_model)``.

        ``key_padding_mask`` ``(batch, k_len)`` and ``attn_mask`` ``(q_len, k_len)``,
        ``(batch * heads, q_len, k_len)`` (as in nn) or ``(batch, heads, q_len, k_len)``:
        bool, True = blocked. Returns the output ``(batch, q_len, d_model)`` and the weights:
        ``(batch, q_len, k_len)`` averaged over heads, ``(batch, heads, q_len, k_len)`` per
        head, or None. With a ``cache`` (see :class:`KeyValueCache`), k_len in the masks
        counts the cached positions too.
        """
        past = 0 if cache is None or cache.static else len(cache)
        self._check_inputs(query, key, value, key_padding_mask, attn_mask, past)
        if attn_mask is not None and attn_mask.dim() == 3:  # nn's (batch * heads, q_len, k_len)
            attn_mask = attn_mask.view(-1, self.num_heads, *attn_mask.shape[-2:])
        q = split_heads(self.q_proj(query), self.num_heads)  # (batch, heads, q_len, d_head)
        if cache is not None and cache.static and cache.key is not None:
            k, v = cache.key, cache.value  # the memory, projected at the first step
        else:
            k = split_heads(self.k_proj(key), self.num_heads)  # (batch, heads, k_len, d_head)
            v = split_heads(self.v_proj(value), self.num_heads)  # (batch, heads, k_len, d_head)
            if cache is not None:
                k, v = cache.update(k, v)  # (batch, heads, past + k_len, d_head)
        mask = combine_masks(key_padding_mask, attn_mask)  # (batch, 1 or heads, q_len, k_len)
        dropout_p = self.dropout.p if self.training else 0.0
        if self.fused and not need_weights:
            context, weights = _torch_attention(q, k, v, mask, dropout_p), None
        else:
            context, weights = scaled_dot_product_attention(q, k, v, mask, dropout_p=dropout_p)
        out = self.out_proj(merge_heads(context))  # (batch, q_len, d_model)
        if not need_weights:
            return out, None
        return out, weights.mean(dim=1) if average_attn_weights else weights

    # -- weights from and to torch.nn.MultiheadAttention (course_lib.torch_interop) ----------

    @classmethod
    def from_torch(
        cls, torch_mha: nn.MultiheadAttention, fused: bool = False
    ) -> MultiHeadAttention:
        """A course layer with the weights (and dropout) of ``torch_mha``."""
        from course_lib.torch_interop import mha_from_torch

        return mha_from_torch(torch_mha, fused)

    def to_torch(self) -> nn.MultiheadAttention:
        """An ``nn.MultiheadAttention(batch_first=True)`` with this layer's weights."""
        from course_lib.torch_interop import mha_to_torch

        return mha_to_torch(self)
