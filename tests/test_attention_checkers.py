"""The Module 2 checkers accept the references, reject the usual mistakes with their hint,
and report an untouched stub as not attempted."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from course_lib.attention import MultiHeadAttention, SelfAttention, scaled_dot_product_attention
from course_lib.checkers import STUB_MARKER, CheckFailed
from course_lib.checkers.attention import (
    check_multi_head_attention,
    check_positional_encoding,
    check_scaled_dot_product_attention,
    check_self_attention,
)
from course_lib.positional_encoding import sinusoidal_encoding

ACROSS_SEEDS = [{}] + [{"seed": seed} for seed in range(20)]


def stub(*args, **kwargs):
    raise NotImplementedError(STUB_MARKER)


# -- 2.1 scaled dot-product attention ---------------------------------------------------------


def make_attention(scale="sqrt", dim=-1, mask_mode="before", transpose_weights=False):
    """A learner's attention with one typical mistake switched on."""

    def attention(q, k, v, mask=None):
        d_k = q.shape[-1]
        scores = q @ k.transpose(-2, -1)
        scores = {"sqrt": scores / math.sqrt(d_k), "none": scores, "d_k": scores / d_k}[scale]
        if mask is not None and mask_mode == "before":
            scores = scores.masked_fill(mask, float("-inf"))
        if mask is not None and mask_mode == "inverted":  # the "mask == 0" convention
            scores = scores.masked_fill(~mask, -1e9)
        weights = scores.softmax(dim=dim)
        if mask is not None and mask_mode == "after":
            weights = weights.masked_fill(mask, 0.0)
        out = weights @ v
        return out, weights.transpose(-2, -1) if transpose_weights else weights

    return attention


def test_attention_checker_accepts_references():
    assert check_scaled_dot_product_attention(scaled_dot_product_attention)
    assert check_scaled_dot_product_attention(make_attention())


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (make_attention(scale="none"), "not scaled"),
        (make_attention(scale="d_k"), "divided by d_k"),
        (make_attention(dim=-2), "wrong axis"),
        (make_attention(mask_mode="ignored"), "mask was ignored"),
        (make_attention(mask_mode="inverted"), "mask is inverted"),
        (make_attention(mask_mode="after"), "to the weights after the softmax"),
        (make_attention(transpose_weights=True), "last two axes are swapped"),
        (lambda q, k, v, mask=None: q, "should return a tuple"),
    ],
)
def test_attention_checker_rejects_typical_mistakes(wrong, hint):
    for kwargs in ACROSS_SEEDS:  # the default seed, then 20 others
        with pytest.raises(CheckFailed, match=hint):
            check_scaled_dot_product_attention(wrong, **kwargs)


def test_attention_checker_reports_stub():
    assert not check_scaled_dot_product_attention(stub)


# -- 2.2 self-attention ------------------------------------------------------------------------


class LearnerSelfAttention(nn.Module):
    scale_by = "d_k"
    softmax_dim = -1
    use_keys_as_values = False
    ignore_mask = False
    detach_queries = False
    under_no_grad = False

    def __init__(self, d_model, d_k):
        super().__init__()
        self.d_model, self.d_k = d_model, d_k
        self.q_proj = nn.Linear(d_model, d_k, bias=False)
        self.k_proj = nn.Linear(d_model, d_k, bias=False)
        self.v_proj = nn.Linear(d_model, d_k, bias=False)

    def forward(self, x, mask=None):
        if self.under_no_grad:
            with torch.no_grad():
                return self._forward(x, mask)
        return self._forward(x, mask)

    def _forward(self, x, mask):
        q, k, v = self.q_proj(x), self.k_proj(x), self.v_proj(x)
        if self.detach_queries:
            q = q.detach()
        width = self.d_k if self.scale_by == "d_k" else self.d_model
        scores = q @ k.transpose(-2, -1) / math.sqrt(width)
        if mask is not None and not self.ignore_mask:
            scores = scores.masked_fill(mask, float("-inf"))
        weights = scores.softmax(dim=self.softmax_dim)
        return weights @ (k if self.use_keys_as_values else v), weights


def variant(base, **changes):
    return type("Wrong", (base,), changes)


class Misnamed(nn.Module):
    def __init__(self, d_model, d_k):
        super().__init__()
        self.W_q = nn.Linear(d_model, d_k)


def test_self_attention_checker_accepts_references():
    assert check_self_attention(SelfAttention)
    assert check_self_attention(LearnerSelfAttention)


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (variant(LearnerSelfAttention, scale_by="d_model"), r"sqrt\(d_model\)"),
        (variant(LearnerSelfAttention, softmax_dim=-2), "wrong axis"),
        (
            variant(LearnerSelfAttention, use_keys_as_values=True),
            "multiplied the weights by the keys",
        ),
        (variant(LearnerSelfAttention, ignore_mask=True), "mask was ignored"),
        (variant(LearnerSelfAttention, detach_queries=True), "no gradient reached q_proj"),
        (variant(LearnerSelfAttention, under_no_grad=True), "does not require grad"),
        (Misnamed, "q_proj should be nn.Linear"),
    ],
)
def test_self_attention_checker_rejects_typical_mistakes(wrong, hint):
    for kwargs in ACROSS_SEEDS:  # the default seed, then 20 others
        with pytest.raises(CheckFailed, match=hint):
            check_self_attention(wrong, **kwargs)


def test_self_attention_checker_reports_stub():
    assert not check_self_attention(stub)


# -- 2.3 multi-head attention ------------------------------------------------------------------


class LearnerMHA(nn.Module):
    split = "right"
    merge = "right"
    scale_by = "d_head"
    out_projection = True
    ignore_padding = False
    average = True
    combine = "or"  # how key_padding_mask and attn_mask are combined when both are given
    under_no_grad = False
    split_with_query_length = False

    def __init__(self, d_model, num_heads):
        super().__init__()
        self.d_model, self.h = d_model, num_heads
        self.q_proj = nn.Linear(d_model, d_model)
        self.k_proj = nn.Linear(d_model, d_model)
        self.v_proj = nn.Linear(d_model, d_model)
        self.out_proj = nn.Linear(d_model, d_model)

    def _split(self, x, n=None):
        b = x.shape[0]
        n = x.shape[1] if n is None else n
        if self.split == "wrong":
            return x.reshape(b, self.h, n, -1)
        return x.view(b, n, self.h, -1).transpose(1, 2)

    def forward(self, query, key, value, key_padding_mask=None, attn_mask=None):
        if self.under_no_grad:
            with torch.no_grad():
                return self._forward(query, key, value, key_padding_mask, attn_mask)
        return self._forward(query, key, value, key_padding_mask, attn_mask)

    def _forward(self, query, key, value, key_padding_mask, attn_mask):
        n = query.shape[1] if self.split_with_query_length else None
        q, k, v = (
            self._split(self.q_proj(query)),
            self._split(self.k_proj(key), n),
            self._split(self.v_proj(value), n),
        )
        width = self.d_model // self.h if self.scale_by == "d_head" else self.d_model
        scores = q @ k.transpose(-2, -1) / math.sqrt(width)
        padding = None if self.ignore_padding else key_padding_mask
        if padding is not None and attn_mask is not None and self.combine != "or":
            both = padding[:, None, None, :] & attn_mask
            mask = {"and": both, "padding_only": padding[:, None, None, :],
                    "attn_only": attn_mask}[self.combine]
            scores = scores.masked_fill(mask, float("-inf"))
        else:
            if padding is not None:
                scores = scores.masked_fill(padding[:, None, None, :], float("-inf"))
            if attn_mask is not None:
                scores = scores.masked_fill(attn_mask, float("-inf"))
        weights = scores.softmax(dim=-1)
        context = weights @ v  # (batch, heads, q_len, d_head)
        b, _, n, _ = context.shape
        if self.merge == "wrong":
            context = context.reshape(b, n, self.d_model)
        else:
            context = context.transpose(1, 2).reshape(b, n, self.d_model)
        out = self.out_proj(context) if self.out_projection else context
        return out, weights.mean(dim=1) if self.average else weights


class MHAWithOneMask(nn.Module):
    """Correct, written differently: one additive float mask, heads via einsum, no bias."""

    def __init__(self, d_model, num_heads):
        super().__init__()
        self.h = num_heads
        self.q_proj, self.k_proj, self.v_proj, self.out_proj = (
            nn.Linear(d_model, d_model, bias=False) for _ in range(4)
        )

    def forward(self, query, key, value, key_padding_mask=None, attn_mask=None):
        b, n, d = query.shape
        m = key.shape[1]
        q = self.q_proj(query).reshape(b, n, self.h, -1)
        k = self.k_proj(key).reshape(b, m, self.h, -1)
        v = self.v_proj(value).reshape(b, m, self.h, -1)
        scores = torch.einsum("bnhd,bmhd->bhnm", q, k) / math.sqrt(d // self.h)
        bias = torch.zeros(b, 1, n, m)
        if key_padding_mask is not None:
            bias = bias.masked_fill(key_padding_mask[:, None, None, :], float("-inf"))
        if attn_mask is not None:
            bias = bias.masked_fill(attn_mask, float("-inf"))
        weights = (scores + bias).softmax(dim=-1)
        out = torch.einsum("bhnm,bmhd->bnhd", weights, v).reshape(b, n, d)
        return self.out_proj(out), weights.mean(dim=1)


def test_mha_checker_accepts_references():
    assert check_multi_head_attention(MHAWithOneMask)
    assert check_multi_head_attention(MultiHeadAttention)
    assert check_multi_head_attention(lambda d, h: MultiHeadAttention(d, h, fused=True))
    assert check_multi_head_attention(LearnerMHA)


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (variant(LearnerMHA, split="wrong"), "split in the wrong order"),
        (variant(LearnerMHA, merge="wrong"), "merged in the wrong order"),
        (variant(LearnerMHA, scale_by="d_model"), r"sqrt\(d_model\)"),
        (variant(LearnerMHA, out_projection=False), "skips the output projection"),
        (variant(LearnerMHA, ignore_padding=True), "mask was ignored"),
        (variant(LearnerMHA, average=False), "averaged over the heads"),
        (variant(LearnerMHA, combine="and"), "combined with AND"),
        (variant(LearnerMHA, combine="padding_only"), "attn_mask was dropped"),
        (variant(LearnerMHA, combine="attn_only"), "key_padding_mask was dropped"),
        (variant(LearnerMHA, under_no_grad=True), "does not require grad"),
        (
            variant(LearnerMHA, split_with_query_length=True),
            r"(?s)cross-attention \(query \(3, 5, 16\), key/value \(3, 7, 16\)\).*its own length",
        ),
    ],
)
def test_mha_checker_rejects_typical_mistakes(wrong, hint):
    for kwargs in ACROSS_SEEDS:  # the default seed, then 20 others
        with pytest.raises(CheckFailed, match=hint):
            check_multi_head_attention(wrong, **kwargs)


def test_mha_checker_reports_stub():
    class Stub(nn.Module):
        def __init__(self, d_model, num_heads):
            super().__init__()
            raise NotImplementedError(STUB_MARKER)

    assert not check_multi_head_attention(Stub)


def test_mha_checker_leaves_global_rng_alone():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    check_multi_head_attention(MultiHeadAttention)
    torch.testing.assert_close(torch.rand(3), expected)


# -- 2.4 sinusoidal positional encoding --------------------------------------------------------


def _angles(max_len, d_model):
    position = torch.arange(max_len, dtype=torch.float32)[:, None]
    return position / 10000 ** (torch.arange(0, d_model, 2, dtype=torch.float32) / d_model)


def swapped(max_len, d_model):
    a = _angles(max_len, d_model)
    return torch.stack((a.cos(), a.sin()), dim=-1).flatten(1)


def halves(max_len, d_model):
    a = _angles(max_len, d_model)
    return torch.cat((a.sin(), a.cos()), dim=1)


def per_column(max_len, d_model):
    column = torch.arange(d_model, dtype=torch.float32)
    a = torch.arange(max_len, dtype=torch.float32)[:, None] / 10000 ** (column / d_model)
    return torch.where(column % 2 == 0, a.sin(), a.cos())


def pe_by_exp_log(max_len, d_model):
    """Correct, written differently: frequencies via exp(-log(10000) * 2i / d), a loop."""
    pe = torch.zeros(max_len, d_model)
    position = torch.arange(max_len, dtype=torch.float32)
    for i in range(0, d_model, 2):
        angle = position * math.exp(-math.log(10000.0) * i / d_model)
        pe[:, i], pe[:, i + 1] = torch.sin(angle), torch.cos(angle)
    return pe


def test_positional_encoding_checker_accepts_reference():
    assert check_positional_encoding(sinusoidal_encoding)
    assert check_positional_encoding(pe_by_exp_log)


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (swapped, "sines and cosines are swapped"),
        (halves, "interleaves them"),
        (per_column, "pair index"),
        (lambda n, d: sinusoidal_encoding(n, d).T, r"rows should be positions"),
        (lambda n, d: sinusoidal_encoding(n, d) * 2, "differs from the reference"),
    ],
)
def test_positional_encoding_checker_rejects_typical_mistakes(wrong, hint):
    with pytest.raises(CheckFailed, match=hint):
        check_positional_encoding(wrong)


def test_positional_encoding_checker_reports_stub():
    assert not check_positional_encoding(stub)
