"""Checkers for Module 2: scaled dot-product attention, self-attention, multi-head attention
and the sinusoidal positional encoding.

Each runs the learner's code on fresh random inputs against PyTorch's own implementation
(``F.scaled_dot_product_attention``, ``nn.MultiheadAttention`` with copied weights) or the
course's reference, and when something differs it tries the usual mistakes (no scaling,
softmax over the wrong axis, mask ignored or inverted, heads split or merged in the wrong
order...) to say which one it is.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from course_lib.attention import causal_mask, merge_heads, split_heads
from course_lib.checkers.core import case, checker, expect_close, expect_shape
from course_lib.checkers.mistakes import close, seed_cpu
from course_lib.positional_encoding import sinusoidal_encoding

__all__ = [
    "check_multi_head_attention",
    "check_positional_encoding",
    "check_scaled_dot_product_attention",
    "check_self_attention",
]


def _pair(result, what: str) -> tuple[torch.Tensor, torch.Tensor]:
    if not (isinstance(result, tuple) and len(result) == 2):
        raise AssertionError(
            f"{what} should return a tuple (output, weights), got {type(result).__name__}."
        )
    return result


def _weights(q: torch.Tensor, k: torch.Tensor, scale: float, mask=None) -> torch.Tensor:
    """softmax(q k^T * scale), blocked scores (mask True) set to -inf: the what-if references."""
    scores = q @ k.transpose(-2, -1) * scale
    if mask is not None:
        scores = scores.masked_fill(mask, float("-inf"))
    return scores.softmax(dim=-1)


def _expect_rows_sum_to_one(weights: torch.Tensor, what: str) -> None:
    rows = weights.detach().sum(dim=-1)
    if torch.allclose(rows, torch.ones_like(rows), atol=1e-4):
        return
    cols = weights.detach().sum(dim=-2)
    if torch.allclose(cols, torch.ones_like(cols), atol=1e-4):
        raise AssertionError(
            f"{what}: the columns sum to 1, the rows do not: the softmax ran over the wrong "
            "axis (the queries).\nHint: each query distributes its attention over the keys, "
            "so normalise the scores over the last axis: scores.softmax(dim=-1)."
        )
    raise AssertionError(
        f"{what}: each row (one query's weights over the keys) must sum to 1; the sums range "
        f"from {rows.min().item():.3g} to {rows.max().item():.3g}.\nHint: apply the softmax to "
        "the scores over the last axis (the keys), and apply any mask *before* the softmax."
    )


def _diagnose_scale(
    weights: torch.Tensor, q, k, d_k: int, what: str, mask=None, d_model: int | None = None
) -> None:
    """Raise with the matching hint when ``weights`` used a wrong scale; else generic."""
    wrong = [
        (
            1.0,
            f"the scores were not scaled. Divide Q K^T by sqrt(d_k) = sqrt({d_k}) before the "
            "softmax, else the softmax saturates as d_k grows.",
        ),
        (1.0 / d_k, f"the scores were divided by d_k = {d_k}; divide by sqrt(d_k) instead."),
        (math.sqrt(d_k), "the scores were multiplied by sqrt(d_k); divide by it instead."),
    ]
    if d_model is not None and d_model != d_k:
        wrong.append(
            (
                1.0 / math.sqrt(d_model),
                f"the scores were divided by sqrt(d_model) = sqrt({d_model}); the scale uses the "
                f"width of one query/key vector, d_k = {d_k}: divide by sqrt({d_k}).",
            )
        )
    for scale, hint in wrong:
        if close(weights, _weights(q, k, scale, mask)):
            raise AssertionError(f"{what} differ from the reference: {hint}")
    raise AssertionError(
        f"{what} differ from softmax(Q K^T / sqrt(d_k)).\nHint: scores = query @ "
        "key.transpose(-2, -1) / math.sqrt(d_k), then softmax over the last axis."
    )


def _diagnose_mask(weights, unmasked_weights, mask, what: str) -> None:
    """Raise with a hint when ``weights`` do not respect ``mask`` (True = blocked)."""
    w = weights.detach()
    if (w[mask.expand_as(w)].abs() < 1e-6).all():
        rows = w.sum(dim=-1)
        if not torch.allclose(rows, torch.ones_like(rows), atol=1e-4):
            raise AssertionError(
                f"{what}: the blocked weights are 0 but the rows no longer sum to 1: the mask "
                "was applied to the weights after the softmax.\nHint: mask the scores before "
                "the softmax (masked_fill(mask, float('-inf'))), so the remaining keys share "
                "all of the attention."
            )
        return
    if close(w, unmasked_weights):
        raise AssertionError(
            f"{what}: the mask was ignored (the weights equal those without a mask).\nHint: "
            "before the softmax, set the blocked scores to -inf: "
            "scores.masked_fill(mask, float('-inf')). True means 'blocked'."
        )
    # Inverted: zero weight on the allowed keys (in rows where the inverted mask leaves a key).
    allowed = (~mask & mask.any(dim=-1, keepdim=True)).expand_as(w)
    if allowed.any() and (w.nan_to_num(0.0)[allowed].abs() < 1e-6).all():
        raise AssertionError(
            f"{what}: the mask is inverted: the weights are zero where the mask is False. In "
            "this course, as in nn.MultiheadAttention, True means 'blocked': use "
            "masked_fill(mask, -inf), not masked_fill(mask == 0, ...)."
        )
    raise AssertionError(
        f"{what}: positions where the mask is True (blocked) got non-zero weights (largest "
        f"{w[mask.expand_as(w)].abs().max().item():.3g}).\nHint: fill the blocked *scores* "
        "with -inf before the softmax, so their weights come out exactly 0."
    )


@checker
def check_scaled_dot_product_attention(attention, seed: int = 2021) -> None:
    """``attention(query, key, value, mask=None) -> (output, weights)``, as in 2.1.

    Compared with ``F.scaled_dot_product_attention`` (which returns no weights) and with
    softmax(Q K^T / sqrt(d_k)), on batched multi-head shapes with q_len != k_len, d_v != d_k.
    """
    gen = torch.Generator().manual_seed(seed)
    batch, heads, q_len, k_len, d_k, d_v = 2, 3, 5, 7, 8, 4
    q = torch.randn(batch, heads, q_len, d_k, generator=gen)
    k = torch.randn(batch, heads, k_len, d_k, generator=gen) * 1.5
    v = torch.randn(batch, heads, k_len, d_v, generator=gen)
    with case("attention(query, key, value) with q (2, 3, 5, 8), k (2, 3, 7, 8), v (2, 3, 7, 4)"):
        out, weights = _pair(attention(q, k, v), "attention(query, key, value)")
    if isinstance(weights, torch.Tensor) and weights.shape[-2:] == (k_len, q_len):
        raise AssertionError(
            f"weights have shape {tuple(weights.shape)}: the last two axes are swapped.\n"
            "Hint: scores = query @ key.transpose(-2, -1) is (..., q_len, k_len)."
        )
    expect_shape(
        weights, (batch, heads, q_len, k_len), "weights for q (2, 3, 5, 8), k (2, 3, 7, 8)"
    )
    expect_shape(out, (batch, heads, q_len, d_v), "output for v (2, 3, 7, 4)")
    _expect_rows_sum_to_one(weights, "attention weights")
    reference_weights = _weights(q, k, 1 / math.sqrt(d_k))
    if not close(weights, reference_weights):
        _diagnose_scale(weights, q, k, d_k, "attention weights")
    expect_close(
        out,
        F.scaled_dot_product_attention(q, k, v),
        "output vs F.scaled_dot_product_attention",
        hint="the output is the weighted sum of the values: weights @ value.",
    )

    mask = torch.rand(batch, 1, q_len, k_len, generator=gen) < 0.4
    mask[..., 0] = False  # every query keeps at least one key
    with case("attention(query, key, value, mask) with a (2, 1, 5, 7) mask"):
        out, weights = _pair(attention(q, k, v, mask=mask), "attention(query, key, value, mask)")
    _diagnose_mask(weights, reference_weights, mask, "with a (batch, 1, q_len, k_len) mask")
    _expect_rows_sum_to_one(weights, "masked attention weights")
    expect_close(
        out,
        F.scaled_dot_product_attention(q, k, v, attn_mask=~mask),
        "masked output vs F.scaled_dot_product_attention (which takes True = keep, so ~mask)",
        hint="mask the scores before the softmax; the output is weights @ value.",
    )

    x = torch.randn(batch, 6, d_k, generator=gen)  # 3-D inputs and a 2-D causal mask
    with case("attention(x, x, x, mask) with x (2, 6, 8) and a causal (6, 6) mask"):
        out, weights = _pair(attention(x, x, x, mask=causal_mask(6)), "attention(x, x, x, causal)")
    _diagnose_mask(
        weights,
        _weights(x, x, 1 / math.sqrt(d_k)),
        causal_mask(6),
        "with a causal (seq, seq) mask broadcast over the batch",
    )
    expect_close(
        out,
        F.scaled_dot_product_attention(x, x, x, is_causal=True),
        "causal output vs F.scaled_dot_product_attention(is_causal=True)",
    )


@checker
def check_self_attention(SelfAttention, seed: int = 7) -> None:
    """``SelfAttention(d_model, d_k)`` with ``q_proj``, ``k_proj``, ``v_proj``
    (``nn.Linear(d_model, d_k)``); ``forward(x, mask=None) -> (output, weights)``.
    """
    d_model, d_k, seq = 12, 4, 6
    with torch.random.fork_rng(devices=[]):  # the notebook's random stream stays untouched
        seed_cpu(seed)
        layer = SelfAttention(d_model, d_k)
    _expect_linears(
        layer,
        ("q_proj", "k_proj", "v_proj"),
        d_model,
        d_k,
        "self.{name} = nn.Linear(d_model, d_k).",
    )
    gen = torch.Generator().manual_seed(seed + 1)
    x = torch.randn(2, seq, d_model, generator=gen)
    with case(f"layer(x) for x of shape {tuple(x.shape)}"):
        out, weights = _pair(layer(x), "layer(x)")
    expect_shape(weights, (2, seq, seq), f"weights for x of shape (2, {seq}, {d_model})")
    expect_shape(out, (2, seq, d_k), f"output for x of shape (2, {seq}, {d_model})")
    _expect_rows_sum_to_one(weights, "self-attention weights")
    with torch.no_grad():
        q, k, v = layer.q_proj(x), layer.k_proj(x), layer.v_proj(x)
    reference = _weights(q, k, 1 / math.sqrt(d_k))
    if not close(weights, reference):
        _diagnose_scale(weights, q, k, d_k, "self-attention weights", d_model=d_model)
    if not close(out, reference @ v):
        hint = "the output is weights @ V with V = v_proj(x)."
        if close(out, reference @ k):
            hint = "you multiplied the weights by the keys; use the values V = v_proj(x)."
        expect_close(out, reference @ v, "self-attention output", hint=hint)

    mask = causal_mask(seq)
    with case(f"layer(x, mask=causal_mask({seq})) for x of shape {tuple(x.shape)}"):
        out, weights = _pair(layer(x, mask=mask), "layer(x, mask=causal_mask(seq))")
    _diagnose_mask(weights, reference, mask, "with a causal mask")
    expect_close(out, _weights(q, k, 1 / math.sqrt(d_k), mask) @ v, "causally masked output")

    layer.zero_grad()
    out = layer(x)[0]
    if not out.requires_grad:
        raise AssertionError(
            "the output does not require grad, so the layer cannot be trained.\nHint: compute "
            "Q, K and V with the layer's projections outside torch.no_grad(), without .detach()."
        )
    out.pow(2).sum().backward()
    for name, param in layer.named_parameters():
        if param.grad is None or param.grad.abs().sum() == 0:
            raise AssertionError(
                f"no gradient reached {name}: compute Q, K and V with the layer's own "
                "projections (no torch.no_grad(), no .detach())."
            )


def _expect_linears(layer, names, in_features: int, out_features: int, hint: str) -> None:
    """Each ``layer.<name>`` must be ``nn.Linear(in_features, out_features)``."""
    for name in names:
        proj = getattr(layer, name, None)
        if not isinstance(proj, nn.Linear) or (proj.in_features, proj.out_features) != (
            in_features,
            out_features,
        ):
            raise AssertionError(
                f"layer.{name} should be nn.Linear({in_features}, {out_features}), got "
                f"{proj!r}.\nHint: " + hint.format(name=name)
            )


def _copy_into_torch(layer: nn.Module, d_model: int, num_heads: int) -> nn.MultiheadAttention:
    """An ``nn.MultiheadAttention(batch_first=True)`` holding the learner's weights."""
    _expect_linears(
        layer,
        ("q_proj", "k_proj", "v_proj", "out_proj"),
        d_model,
        d_model,
        "name the four projections q_proj, k_proj, v_proj and out_proj, so the "
        "checker can copy them into nn.MultiheadAttention.",
    )
    bias = layer.q_proj.bias is not None
    with torch.random.fork_rng(devices=[]):  # its initial weights are overwritten below
        torch_mha = nn.MultiheadAttention(d_model, num_heads, bias=bias, batch_first=True)
    with torch.no_grad():
        torch_mha.in_proj_weight.copy_(
            torch.cat([layer.q_proj.weight, layer.k_proj.weight, layer.v_proj.weight])
        )
        torch_mha.out_proj.weight.copy_(layer.out_proj.weight)
        if bias:
            torch_mha.in_proj_bias.copy_(
                torch.cat([layer.q_proj.bias, layer.k_proj.bias, layer.v_proj.bias])
            )
            torch_mha.out_proj.bias.copy_(layer.out_proj.bias)
    return torch_mha.eval()


def _diagnose_mha(MultiHeadAttention, layer, got, expected, inputs, num_heads: int, what: str):
    """Raise the most specific hint for an MHA output that differs from nn's.

    ``got``/``expected``: (output, averaged weights) of the learner's layer and of nn's;
    ``inputs``: (query, key, value).
    """
    (out, weights), (expected_out, expected_weights) = got, expected
    query, key, value = inputs
    d_model = query.shape[-1]
    with torch.no_grad():
        q, k, v = (
            split_heads(p(t), num_heads)
            for p, t in ((layer.q_proj, query), (layer.k_proj, key), (layer.v_proj, value))
        )
        if close(weights, _weights(q, k, 1 / math.sqrt(d_model)).mean(dim=1)):
            raise AssertionError(
                f"{what}: the scores were divided by sqrt(d_model) = sqrt({d_model}); each head "
                f"works in d_head = d_model / num_heads = {d_model // num_heads} dimensions: "
                f"divide by sqrt({d_model // num_heads})."
            )
        if close(weights, _weights(q, k, 1.0).mean(dim=1)):
            raise AssertionError(
                f"{what}: the scores were not scaled: divide Q K^T by sqrt(d_head) in every head."
            )
        no_out_proj = merge_heads(_weights(q, k, 1 / math.sqrt(d_model // num_heads)) @ v)
    if close(out, no_out_proj):
        raise AssertionError(
            f"{what}: the output skips the output projection: return out_proj(concatenated heads)."
        )
    # A split or merge in the wrong order is invisible with one head: try that.
    try:
        with torch.random.fork_rng(devices=[]):
            seed_cpu(0)
            single = MultiHeadAttention(d_model, 1)
        torch_single = _copy_into_torch(single, d_model, 1)
        with torch.no_grad():
            out1, _ = single(query, key, value)
            ref1, _ = torch_single(query, key, value)
        one_head_ok = close(out1, ref1)
    except Exception:  # noqa: BLE001 - the diagnosis is best effort
        one_head_ok = False
    if one_head_ok and close(weights, expected_weights):
        raise AssertionError(
            f"{what}: the weights match but the output does not, and with one head everything "
            "matches: the heads are merged in the wrong order.\nHint: (batch, heads, seq, "
            "d_head) -> .transpose(1, 2) -> .reshape(batch, seq, d_model), not a bare reshape."
        )
    if one_head_ok:
        raise AssertionError(
            f"{what}: correct with one head, wrong with {num_heads}: the heads are split in the "
            "wrong order.\nHint: (batch, seq, d_model) -> .view(batch, seq, heads, d_head) -> "
            ".transpose(1, 2), so each head gets d_head consecutive features of every token; "
            "a bare .view(batch, heads, seq, d_head) mixes tokens."
        )
    expect_close(
        weights,
        expected_weights,
        f"{what}: averaged weights vs nn.MultiheadAttention",
        hint="softmax(Q K^T / sqrt(d_head)) per head, then the mean over heads.",
    )
    expect_close(
        out,
        expected_out,
        f"{what}: output vs nn.MultiheadAttention",
        hint="attend per head, concatenate the heads, apply out_proj.",
    )


def _diagnose_mask_combination(weights, torch_mha, inputs, masks, what: str) -> None:
    """Raise a hint when ``weights`` used one of two masks, or combined them with AND."""
    padding, attn = masks["key_padding_mask"], masks["attn_mask"]
    blocked_both = padding[:, None, :] & attn[None]
    wrong = [
        (
            {"key_padding_mask": padding},
            "only key_padding_mask was applied: attn_mask was dropped.",
        ),
        ({"attn_mask": attn}, "only attn_mask was applied: key_padding_mask was dropped."),
        (
            {"attn_mask": blocked_both.repeat_interleave(torch_mha.num_heads, dim=0)},
            "the masks were combined with AND: a key is blocked when *either* mask blocks it, "
            "so combine them with OR (mask = padding[:, None, None, :] | attn_mask).",
        ),
    ]
    with torch.no_grad():
        for given, hint in wrong:
            if close(weights, torch_mha(*inputs, **given)[1]):
                raise AssertionError(
                    f"{what}: {hint}\nHint: apply both: key_padding_mask (batch, k_len) "
                    "broadcast over heads and queries, attn_mask (q_len, k_len) broadcast over "
                    "batch and heads, combined with | (True = blocked)."
                )


def _mha_cases(d_model: int, seq: int, gen: torch.Generator):
    """(what, (query, key, value), masks, blocked) for every case the checker runs."""
    batch, mem_len = 3, seq + 2
    x = torch.randn(batch, seq, d_model, generator=gen)
    memory = torch.randn(batch, mem_len, d_model, generator=gen)
    lengths = torch.tensor([seq, 3, 1])[torch.randperm(batch, generator=gen)]
    padding = torch.arange(seq)[None, :] >= lengths[:, None]
    mem_lengths = torch.tensor([mem_len, 4, 2])[torch.randperm(batch, generator=gen)]
    mem_padding = torch.arange(mem_len)[None, :] >= mem_lengths[:, None]
    cross_mask = torch.rand(seq, mem_len, generator=gen) < 0.4
    cross_mask[:, 0] = False  # every query keeps key 0, which no padding blocks
    causal = causal_mask(seq)
    q, k = f"query {tuple(x.shape)}", f"key/value {tuple(memory.shape)}"
    return [
        ("self-attention", (x, x, x), {}),
        ("with key_padding_mask (True = padding)", (x, x, x), {"key_padding_mask": padding}),
        ("with a causal attn_mask", (x, x, x), {"attn_mask": causal}),
        (f"cross-attention ({q}, {k})", (x, memory, memory), {}),
        (
            f"cross-attention ({q}, {k}) with key_padding_mask {tuple(mem_padding.shape)}",
            (x, memory, memory),
            {"key_padding_mask": mem_padding},
        ),
        (
            "with both key_padding_mask and a causal attn_mask",
            (x, x, x),
            {"key_padding_mask": padding, "attn_mask": causal},
        ),
        (
            f"cross-attention ({q}, {k}) with both key_padding_mask {tuple(mem_padding.shape)} "
            f"and attn_mask {tuple(cross_mask.shape)}",
            (x, memory, memory),
            {"key_padding_mask": mem_padding, "attn_mask": cross_mask},
        ),
    ]


def _blocked(masks: dict) -> torch.Tensor | None:
    """(batch or 1, q_len or 1, k_len) True where the masks block a key."""
    blocked = None
    if "key_padding_mask" in masks:
        blocked = masks["key_padding_mask"][:, None, :]
    if "attn_mask" in masks:
        attn = masks["attn_mask"][None]
        blocked = attn if blocked is None else blocked | attn
    return blocked


@checker
def check_multi_head_attention(MultiHeadAttention, seed: int = 11) -> None:
    """``MultiHeadAttention(d_model, num_heads)`` with ``q_proj``, ``k_proj``, ``v_proj``,
    ``out_proj``; ``forward(query, key, value, key_padding_mask=None, attn_mask=None)``
    ``-> (output, weights averaged over heads)``, batch first.

    The weights are copied into ``nn.MultiheadAttention(batch_first=True)`` and both are run
    on the same inputs: self-attention, padding mask, causal mask, cross-attention (query 5
    tokens, key/value 7), with each mask and with both masks together (combined with OR).
    """
    d_model, num_heads, seq = 16, 4, 5
    with torch.random.fork_rng(devices=[]):
        seed_cpu(seed)
        layer = MultiHeadAttention(d_model, num_heads)
    torch_mha = _copy_into_torch(layer, d_model, num_heads)
    if hasattr(layer, "eval"):
        layer.eval()
    gen = torch.Generator().manual_seed(seed + 1)
    cases = _mha_cases(d_model, seq, gen)
    for what, (query, key, value), masks in cases:
        hint = (
            "query and key/value have different lengths here: split each of q, k and v with "
            "its own length (t.shape[1]), and merge the heads with the query's length."
            if query.shape != key.shape
            else ""
        )
        with case(f"layer(query, key, value) {what}", hint=hint):
            out, weights = _pair(layer(query, key, value, **masks), f"layer(...) {what}")
        with torch.no_grad():
            expected_out, expected_weights = torch_mha(query, key, value, **masks)
            unmasked_weights = torch_mha(query, key, value)[1]
        if isinstance(weights, torch.Tensor) and weights.dim() == 4:
            raise AssertionError(
                f"{what}: weights have shape {tuple(weights.shape)}, per head; return them "
                "averaged over the heads, weights.mean(dim=1), as nn.MultiheadAttention does."
            )
        expect_shape(out, expected_out.shape, f"{what}: output")
        expect_shape(weights, expected_weights.shape, f"{what}: weights (averaged over heads)")
        if len(masks) == 2 and not close(weights, expected_weights):
            _diagnose_mask_combination(weights, torch_mha, (query, key, value), masks, what)
        if masks:
            _diagnose_mask(weights, unmasked_weights, _blocked(masks), what)
        _expect_rows_sum_to_one(weights, f"{what}: weights")
        if not (close(out, expected_out) and close(weights, expected_weights)):
            _diagnose_mha(
                MultiHeadAttention,
                layer,
                (out, weights),
                (expected_out, expected_weights),
                (query, key, value),
                num_heads,
                what,
            )

    what, (x, _, _), masks = cases[1]
    if hasattr(layer, "zero_grad"):
        layer.zero_grad()
    out = layer(x, x, x, **masks)[0]
    if not out.requires_grad:
        raise AssertionError(
            f"the output {what} does not require grad, so the layer cannot be trained.\nHint: "
            "compute it with the layer's projections outside torch.no_grad(), without "
            ".detach()."
        )
    out.pow(2).sum().backward()
    for name, param in layer.named_parameters():
        if param.grad is None or param.grad.abs().sum() == 0:
            raise AssertionError(
                f"no gradient reached {name}: every projection must take part in the "
                "forward pass (no torch.no_grad(), no .detach())."
            )


@checker
def check_positional_encoding(positional_encoding) -> None:
    """``positional_encoding(max_len, d_model) -> (max_len, d_model)`` sinusoidal table:
    ``PE[pos, 2i] = sin(pos / 10000^(2i/d_model))``, ``PE[pos, 2i+1] = cos(...)``.
    """
    for max_len, d_model in ((50, 16), (9, 6)):
        pe = positional_encoding(max_len, d_model)
        if isinstance(pe, torch.Tensor) and tuple(pe.shape) == (d_model, max_len) != (
            max_len,
            d_model,
        ):
            raise AssertionError(
                f"the table has shape {tuple(pe.shape)}: rows should be positions, columns "
                f"dimensions, (max_len, d_model) = {(max_len, d_model)}."
            )
        expect_shape(pe, (max_len, d_model), f"positional_encoding({max_len}, {d_model})")
        reference = sinusoidal_encoding(max_len, d_model)
        if close(pe, reference, atol=1e-4):
            continue
        position = torch.arange(max_len, dtype=torch.float64)[:, None]
        pair = torch.arange(0, d_model, 2, dtype=torch.float64)
        angles = position / 10000 ** (pair / d_model)
        swapped = torch.stack((angles.cos(), angles.sin()), dim=-1).flatten(1)
        halves = torch.cat((angles.sin(), angles.cos()), dim=1)
        column = torch.arange(d_model, dtype=torch.float64)
        per_column = position / 10000 ** (column / d_model)
        per_column = torch.where(column % 2 == 0, per_column.sin(), per_column.cos())
        hints = [
            (
                swapped,
                "sines and cosines are swapped: even columns (0, 2, ...) hold sin, odd "
                "columns cos. Row 0 must read [0, 1, 0, 1, ...].",
            ),
            (
                halves,
                "the sines fill the first half and the cosines the second half; the "
                "paper interleaves them: pe[:, 0::2] = sin, pe[:, 1::2] = cos.",
            ),
            (
                per_column,
                "the frequency uses the column index j; it uses the pair index: "
                "columns 2i and 2i+1 share omega_i = 1 / 10000^(2i / d_model).",
            ),
        ]
        for wrong, hint in hints:
            if close(pe, wrong.float(), atol=1e-4):
                raise AssertionError(f"positional_encoding({max_len}, {d_model}): {hint}")
        expect_close(
            pe,
            reference,
            f"positional_encoding({max_len}, {d_model})",
            atol=1e-4,
            hint="angles = position / 10000 ** (2i / d_model) for i = 0 .. d_model/2 - 1; "
            "pe[:, 0::2] = sin(angles), pe[:, 1::2] = cos(angles).",
        )
