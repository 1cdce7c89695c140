"""Module 3's checkers accept the reference, report stubs, and name typical mistakes."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from course_lib.add_norm import AddNorm, layer_norm
from course_lib.checkers import CheckFailed
from course_lib.checkers.encoder import (
    check_add_norm,
    check_encoder,
    check_encoder_layer,
    check_feed_forward,
    check_layer_norm,
    check_masked_mean_pool,
)
from course_lib.classifier import masked_mean_pool
from course_lib.encoder import Encoder, EncoderLayer
from course_lib.feed_forward import PositionwiseFeedForward


def stub(*args, **kwargs):
    raise NotImplementedError("Exercise not attempted yet")


class StubModule(nn.Module):
    def __init__(self, *args, **kwargs):
        stub()


@pytest.mark.parametrize(
    "check, reference",
    [
        (check_feed_forward, PositionwiseFeedForward),
        (check_layer_norm, layer_norm),
        (check_add_norm, AddNorm),
        (check_encoder_layer, EncoderLayer),
        (check_encoder, Encoder),
        (check_masked_mean_pool, masked_mean_pool),
    ],
)
def test_reference_passes_and_stub_is_not_attempted(check, reference, capsys):
    assert check(reference)
    assert not check(StubModule if isinstance(reference, type) else stub)
    assert "[not attempted]" in capsys.readouterr().out


# ------------------------------------------------------------------ 3.1 feed-forward


class FFN(nn.Module):
    """A configurable feed-forward network with the reference's parameter names."""

    activation = staticmethod(F.relu)
    dropout_after = False

    def __init__(self, d_model, d_ff, dropout=0.1):
        super().__init__()
        self.linear1, self.linear2 = nn.Linear(d_model, d_ff), nn.Linear(d_ff, d_model)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x):
        if self.dropout_after:
            return self.dropout(self.linear2(self.activation(self.linear1(x))))
        return self.linear2(self.dropout(self.activation(self.linear1(x))))


class NoReLU(FFN):
    activation = staticmethod(lambda h: h)


class GELU(FFN):
    activation = staticmethod(F.gelu)


class ReLUAtEnd(FFN):
    def forward(self, x):
        return F.relu(self.linear2(self.linear1(x)))


class NoDropout(FFN):
    def forward(self, x):
        return self.linear2(F.relu(self.linear1(x)))


class DropoutAfter(FFN):
    dropout_after = True


class MixesPositions(FFN):
    def forward(self, x):
        return super().forward(x).cumsum(dim=1)


class ExtraParameters(FFN):
    def __init__(self, d_model, d_ff, dropout=0.1):
        super().__init__(d_model, d_ff, dropout)
        self.scale = nn.Parameter(torch.ones(1))


class BadNames(nn.Module):
    def __init__(self, d_model, d_ff, dropout=0.1):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(d_model, d_ff), nn.ReLU(), nn.Linear(d_ff, d_model))

    def forward(self, x):
        return self.net(x)


@pytest.mark.parametrize(
    "wrong, hint",
    [
        (NoReLU, "no non-linearity"),
        (GELU, "use ReLU"),
        (ReLUAtEnd, "not after linear2"),
        (NoDropout, "dropout is missing"),
        (DropoutAfter, "before linear2"),
        (MixesPositions, "each position separately"),
        (BadNames, "no attribute linear1, linear2"),
        (ExtraParameters, "keep exactly two nn.Linear layers"),
    ],
)
def test_feed_forward_checker_names_the_mistake(wrong, hint):
    with pytest.raises(CheckFailed, match=hint):
        check_feed_forward(wrong)


# ------------------------------------------------------------------ 3.2 layer norm


def batch_norm_like(x, weight, bias, eps=1e-5):
    mean, var = x.mean(dim=(0, 1), keepdim=True), x.var(dim=(0, 1), unbiased=False, keepdim=True)
    return (x - mean) / torch.sqrt(var + eps) * weight + bias


def unbiased_var(x, weight, bias, eps=1e-5):
    centred = x - x.mean(-1, keepdim=True)
    return centred / torch.sqrt(x.var(-1, keepdim=True) + eps) * weight + bias


def eps_outside(x, weight, bias, eps=1e-5):
    sd = x.var(-1, unbiased=False, keepdim=True).sqrt()
    return (x - x.mean(-1, keepdim=True)) / (sd + eps) * weight + bias


def no_affine(x, weight, bias, eps=1e-5):
    return F.layer_norm(x, x.shape[-1:], eps=eps)


def no_eps(x, weight, bias, eps=1e-5):
    return layer_norm(x, weight, bias, eps=0.0)


@pytest.mark.parametrize(
    "wrong, hint",
    [
        (batch_norm_like, "that is batch norm"),
        (unbiased_var, "biased variance"),
        (eps_outside, "eps goes inside the square root"),
        (no_affine, "multiply by weight"),
        (no_eps, "add eps to the variance"),
    ],
)
def test_layer_norm_checker_names_the_mistake(wrong, hint):
    with pytest.raises(CheckFailed, match=hint):
        check_layer_norm(wrong)


# ------------------------------------------------------------------ 3.2 AddNorm


class NoResidual(AddNorm):
    def forward(self, x, sublayer):
        if self.norm_first:
            return self.dropout(sublayer(self.norm(x)))
        return self.norm(self.dropout(sublayer(x)))


class AlwaysPostNorm(AddNorm):
    def forward(self, x, sublayer):
        return self.norm(x + self.dropout(sublayer(x)))


class AlwaysPreNorm(AddNorm):
    def forward(self, x, sublayer):
        return x + self.dropout(sublayer(self.norm(x)))


class NormsOutput(AddNorm):
    def forward(self, x, sublayer):
        if self.norm_first:
            return x + self.norm(self.dropout(sublayer(x)))
        return self.norm(x + self.dropout(sublayer(x)))


class CallsTwice(AddNorm):
    def forward(self, x, sublayer):
        sublayer(x)
        return super().forward(x, sublayer)


class DropsTheSum(AddNorm):
    def forward(self, x, sublayer):
        if self.norm_first:
            return self.dropout(x + sublayer(self.norm(x)))
        return self.norm(self.dropout(x + sublayer(x)))


@pytest.mark.parametrize(
    "wrong, hint",
    [
        (NoResidual, "residual connection is missing"),
        (AlwaysPostNorm, "asks for pre-norm"),
        (AlwaysPreNorm, "paper's post-norm"),
        (NormsOutput, "normalises the sub-layer's input"),
        (CallsTwice, "called 2 times"),
        (DropsTheSum, "before adding x"),
    ],
)
def test_add_norm_checker_names_the_mistake(wrong, hint):
    with pytest.raises(CheckFailed, match=hint):
        check_add_norm(wrong)


# ------------------------------------------------------------------ 3.3 encoder layer


class IgnoresMask(EncoderLayer):
    def forward(self, x, key_padding_mask=None):
        return super().forward(x)


class AlwaysPostNormLayer(EncoderLayer):
    def forward(self, x, key_padding_mask=None):
        def attend(y):
            return self.self_attn(y, y, y, key_padding_mask=key_padding_mask)[0]

        x = self.add_norm1.norm(x + attend(x))
        return self.add_norm2.norm(x + self.feed_forward(x))


class FeedForwardFirst(EncoderLayer):
    def forward(self, x, key_padding_mask=None):
        def attend(y):
            return self.self_attn(y, y, y, key_padding_mask=key_padding_mask)[0]

        x = self.add_norm1(x, self.feed_forward)
        return self.add_norm2(x, attend)


class ReturnsWeights(EncoderLayer):
    def forward(self, x, key_padding_mask=None):
        return super().forward(x, key_padding_mask, need_weights=True)


class DetachesAttention(EncoderLayer):
    def forward(self, x, key_padding_mask=None):
        def attend(y):
            return self.self_attn(y, y, y, key_padding_mask=key_padding_mask)[0].detach()

        x = self.add_norm1(x, attend)
        return self.add_norm2(x, self.feed_forward)


@pytest.mark.parametrize(
    "wrong, hint",
    [
        (IgnoresMask, "padding mask is ignored"),
        (AlwaysPostNormLayer, "asks for pre-norm"),
        (FeedForwardFirst, "the order is"),
        (ReturnsWeights, "returned a tuple"),
        (DetachesAttention, "no gradient reached self_attn"),
    ],
)
def test_encoder_layer_checker_names_the_mistake(wrong, hint):
    with pytest.raises(CheckFailed, match=hint):
        check_encoder_layer(wrong)


# ------------------------------------------------------------------ 3.3 encoder


class EncoderVariant(Encoder):
    scale, pe, use_mask, final = True, True, True, True

    def forward(self, ids, padding_mask=None):
        x = self.embedding(ids) * (math.sqrt(self.d_model) if self.scale else 1.0)
        x = self.positional_encoding(x) if self.pe else x
        for layer in self.layers:
            x = layer(x, key_padding_mask=padding_mask if self.use_mask else None)
        return self.norm(x) if self.final else x


class NoScale(EncoderVariant):
    scale = False


class NoPositions(EncoderVariant):
    pe = False


class NoMask(EncoderVariant):
    use_mask = False


class NoFinalNorm(EncoderVariant):
    final = False


@pytest.mark.parametrize(
    "wrong, hint",
    [
        (NoScale, "scale the embeddings by sqrt"),
        (NoPositions, "positional encoding is missing"),
        (NoMask, "pass padding_mask to every layer"),
        (NoFinalNorm, "ends with one more layer norm"),
    ],
)
def test_encoder_checker_names_the_mistake(wrong, hint):
    with pytest.raises(CheckFailed, match=hint):
        check_encoder(wrong)


# ------------------------------------------------------------------ pooling


def mean_with_padding(x, padding_mask):
    return x.mean(dim=1)


def divides_by_seq(x, padding_mask):
    return (x * (~padding_mask).unsqueeze(-1)).sum(1) / x.shape[1]


def inverted(x, padding_mask):
    return masked_mean_pool(x, ~padding_mask)


@pytest.mark.parametrize(
    "wrong, hint",
    [
        (mean_with_padding, "averaged over the padded positions"),
        (divides_by_seq, "divided by the padded length"),
        (inverted, "mask is inverted"),
    ],
)
def test_pooling_checker_names_the_mistake(wrong, hint):
    with pytest.raises(CheckFailed, match=hint):
        check_masked_mean_pool(wrong)
