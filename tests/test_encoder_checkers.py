"""Module 3's checkers accept the reference, report stubs, and name typical mistakes."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from course_lib.add_norm import AddNorm, layer_norm
from course_lib.checkers import STUB_MARKER, CheckFailed
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

ACROSS_SEEDS = [{}] + [{"seed": seed} for seed in range(20)]


def stub(*args, **kwargs):
    raise NotImplementedError(STUB_MARKER)


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


class SequentialFFN(nn.Module):
    """Correct, written differently: the named layers also live in an nn.Sequential."""

    def __init__(self, d_model, d_ff, dropout=0.1):
        super().__init__()
        self.linear1, self.linear2 = nn.Linear(d_model, d_ff), nn.Linear(d_ff, d_model)
        self.net = nn.Sequential(self.linear1, nn.ReLU(), nn.Dropout(dropout), self.linear2)

    def forward(self, x):
        return self.net(x)


class NoBias(FFN):
    def __init__(self, d_model, d_ff, dropout=0.1):
        super().__init__(d_model, d_ff, dropout)
        self.linear1 = nn.Linear(d_model, d_ff, bias=False)


class DetachedFFN(FFN):
    def forward(self, x):
        return super().forward(x).detach()


class MisspelledForward(FFN):
    forwad = FFN.forward
    forward = nn.Module.forward


def test_feed_forward_checker_accepts_a_sequential_holding_the_layers():
    assert check_feed_forward(SequentialFFN)


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
        (NoBias, "both with bias"),
        (MisspelledForward, "no method named `forward`"),
        (DetachedFFN, "does not require grad"),
    ],
)
def test_feed_forward_checker_names_the_mistake(wrong, hint):
    for kwargs in ACROSS_SEEDS:  # the default seed, then 20 others
        with pytest.raises(CheckFailed, match=hint):
            check_feed_forward(wrong, **kwargs)


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


def fixed_eps(x, weight, bias, eps=1e-5):
    return layer_norm(x, weight, bias, eps=1e-5)


def one_pass_variance(x, weight, bias, eps=1e-5):
    mean = x.mean(-1, keepdim=True)
    var = (x * x).mean(-1, keepdim=True) - mean**2
    return (x - mean) / torch.sqrt(var + eps) * weight + bias


def detached_layer_norm(x, weight, bias, eps=1e-5):
    return layer_norm(x, weight, bias, eps).detach()


def rsqrt_layer_norm(x, weight, bias, eps=1e-5):
    """Correct, written differently: centred first, rsqrt, addcmul."""
    centred = x - x.mean(dim=-1, keepdim=True)
    inv_std = torch.rsqrt(centred.pow(2).mean(dim=-1, keepdim=True) + eps)
    return torch.addcmul(bias, centred * inv_std, weight)


def test_layer_norm_checker_accepts_a_different_formula():
    assert check_layer_norm(rsqrt_layer_norm)


@pytest.mark.parametrize(
    "wrong, hint",
    [
        (fixed_eps, "eps argument is ignored"),
        (detached_layer_norm, "weight and bias cannot be trained"),
        (one_pass_variance, r"E\[x\^2\] - E\[x\]\^2"),
        (batch_norm_like, "that is batch norm"),
        (unbiased_var, "biased variance"),
        (eps_outside, "eps goes inside the square root"),
        (no_affine, "multiply by weight"),
        (no_eps, "add eps to the variance"),
    ],
)
def test_layer_norm_checker_names_the_mistake(wrong, hint):
    for kwargs in ACROSS_SEEDS:  # the default seed, then 20 others
        with pytest.raises(CheckFailed, match=hint):
            check_layer_norm(wrong, **kwargs)


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


class NoAffine(AddNorm):
    def __init__(self, d_model, dropout=0.0, norm_first=False):
        super().__init__(d_model, dropout, norm_first)
        self.norm = nn.LayerNorm(d_model, elementwise_affine=False)


class NormUnderNoGrad(AddNorm):
    def forward(self, x, sublayer):
        if self.norm_first:
            with torch.no_grad():
                normed = self.norm(x)
            return x + self.dropout(sublayer(normed))
        y = x + self.dropout(sublayer(x))
        with torch.no_grad():
            return self.norm(y)


class FunctionalAddNorm(nn.Module):
    """Correct, written differently: F.dropout with the module's mode, an extra buffer."""

    def __init__(self, d_model, dropout=0.0, norm_first=False):
        super().__init__()
        self.p, self.norm_first = dropout, norm_first
        self.norm = nn.LayerNorm(d_model)
        self.register_buffer("calls", torch.zeros(()))

    def forward(self, x, sublayer):
        if self.norm_first:
            return x + F.dropout(sublayer(self.norm(x)), self.p, self.training)
        return self.norm(x + F.dropout(sublayer(x), self.p, self.training))


def test_add_norm_checker_accepts_a_functional_version():
    assert check_add_norm(FunctionalAddNorm)


@pytest.mark.parametrize(
    "wrong, hint",
    [
        (NoAffine, "no learnable scale and shift"),
        (NormUnderNoGrad, "does not require grad|no gradient reached norm"),
        (NoResidual, "residual connection is missing"),
        (AlwaysPostNorm, "asks for pre-norm"),
        (AlwaysPreNorm, "paper's post-norm"),
        (NormsOutput, "normalises the sub-layer's input"),
        (CallsTwice, "called 2 times"),
        (DropsTheSum, "before adding x"),
    ],
)
def test_add_norm_checker_names_the_mistake(wrong, hint):
    for kwargs in ACROSS_SEEDS:  # the default seed, then 20 others
        with pytest.raises(CheckFailed, match=hint):
            check_add_norm(wrong, **kwargs)


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


class InvertedMask(EncoderLayer):
    def forward(self, x, key_padding_mask=None):
        return super().forward(x, ~key_padding_mask)


class NoDropoutInLayer(EncoderLayer):
    """Right in eval mode; writes the residual and norm itself, skipping the dropout."""

    def forward(self, x, key_padding_mask=None):
        def attend(y):
            return self.self_attn(y, y, y, key_padding_mask=key_padding_mask)[0]

        if self.add_norm1.norm_first:
            x = x + attend(self.add_norm1.norm(x))
            return x + self.feed_forward(self.add_norm2.norm(x))
        x = self.add_norm1.norm(x + attend(x))
        return self.add_norm2.norm(x + self.feed_forward(x))


class DropoutOnResidual(EncoderLayer):
    """Right in eval mode; in training, dropout hits the residual sum, not the sub-layer."""

    def forward(self, x, key_padding_mask=None):
        def attend(y):
            return self.self_attn(y, y, y, key_padding_mask=key_padding_mask)[0]

        for block, sub in ((self.add_norm1, attend), (self.add_norm2, self.feed_forward)):
            if block.norm_first:
                x = block.dropout(x + sub(block.norm(x)))
            else:
                x = block.norm(block.dropout(x + sub(x)))
        return x


class ExplicitLayer(EncoderLayer):
    """Correct, written differently: the AddNorm logic spelled out with the blocks' parts."""

    def forward(self, x, key_padding_mask=None):
        def attend(y):
            return self.self_attn(y, y, y, key_padding_mask=key_padding_mask)[0]

        for block, sub in ((self.add_norm1, attend), (self.add_norm2, self.feed_forward)):
            if block.norm_first:
                x = x + block.dropout(sub(block.norm(x)))
            else:
                x = block.norm(x + block.dropout(sub(x)))
        return x


def test_encoder_layer_checker_accepts_an_explicit_version():
    assert check_encoder_layer(ExplicitLayer)


@pytest.mark.parametrize(
    "wrong, hint",
    [
        (InvertedMask, "padding mask is inverted"),
        (NoDropoutInLayer, "training mode"),
        (DropoutOnResidual, "training mode"),
        (IgnoresMask, "padding mask is ignored"),
        (AlwaysPostNormLayer, "asks for pre-norm"),
        (FeedForwardFirst, "the order is"),
        (ReturnsWeights, "returned a tuple"),
        (DetachesAttention, "no gradient reached self_attn"),
    ],
)
def test_encoder_layer_checker_names_the_mistake(wrong, hint):
    for kwargs in ACROSS_SEEDS:  # the default seed, then 20 others
        with pytest.raises(CheckFailed, match=hint):
            check_encoder_layer(wrong, **kwargs)


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


class NoEmbeddingDropout(EncoderVariant):
    """Adds the positional table itself, skipping the module's dropout."""

    def forward(self, ids, padding_mask=None):
        x = self.embedding(ids) * math.sqrt(self.d_model)
        x = x + self.positional_encoding.pe[: ids.shape[1]]
        for layer in self.layers:
            x = layer(x, key_padding_mask=padding_mask)
        return self.norm(x)


class LayersInTrainingOnly(EncoderVariant):
    """Skips the last layer in training mode."""

    def forward(self, ids, padding_mask=None):
        x = self.positional_encoding(self.embedding(ids) * math.sqrt(self.d_model))
        layers = self.layers[:-1] if self.training else self.layers
        for layer in layers:
            x = layer(x, key_padding_mask=padding_mask)
        return self.norm(x)


class ReduceEncoder(Encoder):
    """Correct, written differently: functools.reduce over the layers, scale as a tensor."""

    def forward(self, ids, padding_mask=None):
        import functools

        scale = torch.tensor(float(self.d_model)).sqrt()
        x = self.positional_encoding(self.embedding(ids) * scale)
        x = functools.reduce(
            lambda h, layer: layer(h, key_padding_mask=padding_mask), self.layers, x
        )
        return self.norm(x)


class DropoutBeforePositions(EncoderVariant):
    """Drops the scaled embeddings, then adds the table: the positions escape the dropout."""

    def forward(self, ids, padding_mask=None):
        pe = self.positional_encoding
        x = pe.dropout(self.embedding(ids) * math.sqrt(self.d_model)) + pe.pe[: ids.shape[1]]
        for layer in self.layers:
            x = layer(x, key_padding_mask=padding_mask)
        return self.norm(x)


class FunctionalDropoutEncoder(EncoderVariant):
    """F.dropout without training=self.training: it drops in eval mode too."""

    def forward(self, ids, padding_mask=None):
        x = self.embedding(ids) * math.sqrt(self.d_model) + self.positional_encoding.pe[
            : ids.shape[1]]
        x = F.dropout(x, self.positional_encoding.dropout.p)
        for layer in self.layers:
            x = layer(x, key_padding_mask=padding_mask)
        return self.norm(x)


class FunctionalDropoutLayer(EncoderLayer):
    """The AddNorm written out with F.dropout, left on in eval mode."""

    def forward(self, x, key_padding_mask=None):
        def block(add_norm, sub, y):
            p = add_norm.dropout.p
            if add_norm.norm_first:
                return y + F.dropout(sub(add_norm.norm(y)), p)
            return add_norm.norm(y + F.dropout(sub(y), p))

        x = block(self.add_norm1, lambda y: self.self_attn(
            y, y, y, key_padding_mask=key_padding_mask, need_weights=False)[0], x)
        return block(self.add_norm2, self.feed_forward, x)


class PositionsWithItsDropout(Encoder):
    """Correct, written differently: the table added by hand, then the module's dropout."""

    def forward(self, ids, padding_mask=None):
        pe = self.positional_encoding
        x = pe.dropout(self.embedding(ids) * math.sqrt(self.d_model) + pe.pe[: ids.shape[1]])
        for layer in self.layers:
            x = layer(x, padding_mask)
        return self.norm(x)


def test_dropout_left_on_in_eval_mode_is_caught_over_many_seeds():
    for kwargs in ACROSS_SEEDS:
        with pytest.raises(CheckFailed, match="two calls in eval mode"):
            check_encoder(FunctionalDropoutEncoder, **kwargs)
        with pytest.raises(CheckFailed, match="two calls in eval mode"):
            check_encoder_layer(FunctionalDropoutLayer, **kwargs)
        with pytest.raises(CheckFailed, match="same seed"):
            check_encoder(DropoutBeforePositions, **kwargs)
    for kwargs in ACROSS_SEEDS[:5]:
        assert check_encoder(PositionsWithItsDropout, **kwargs)


def test_encoder_checker_accepts_a_different_loop():
    assert check_encoder(ReduceEncoder)


@pytest.mark.parametrize(
    "wrong, hint",
    [
        (NoEmbeddingDropout, "skips it"),
        (LayersInTrainingOnly, "training mode"),
        (NoScale, "scale the embeddings by sqrt"),
        (NoPositions, "positional encoding is missing"),
        (NoMask, "pass padding_mask to every layer"),
        (NoFinalNorm, "ends with one more layer norm"),
    ],
)
def test_encoder_checker_names_the_mistake(wrong, hint):
    for kwargs in ACROSS_SEEDS:  # the default seed, then 20 others
        with pytest.raises(CheckFailed, match=hint):
            check_encoder(wrong, **kwargs)


# ------------------------------------------------------------------ pooling


def mean_with_padding(x, padding_mask):
    return x.mean(dim=1)


def divides_by_seq(x, padding_mask):
    return (x * (~padding_mask).unsqueeze(-1)).sum(1) / x.shape[1]


def inverted(x, padding_mask):
    return masked_mean_pool(x, ~padding_mask)


def sums_only(x, padding_mask):
    return x.masked_fill(padding_mask.unsqueeze(-1), 0.0).sum(1)


def detached_pool(x, padding_mask):
    return masked_mean_pool(x, padding_mask).detach()


def pool_by_einsum(x, padding_mask):
    """Correct, written differently: weights that sum to 1 per row, einsum."""
    keep = (~padding_mask).float()
    return torch.einsum("bs,bsd->bd", keep / keep.sum(1, keepdim=True), x)


def test_pooling_checker_accepts_einsum():
    assert check_masked_mean_pool(pool_by_einsum)


@pytest.mark.parametrize(
    "wrong, hint",
    [
        (sums_only, "that is a sum"),
        (detached_pool, "cannot be trained"),
        (mean_with_padding, "averaged over the padded positions"),
        (divides_by_seq, "divided by the padded length"),
        (inverted, "mask is inverted"),
    ],
)
def test_pooling_checker_names_the_mistake(wrong, hint):
    for kwargs in ACROSS_SEEDS:  # the default seed, then 20 others
        with pytest.raises(CheckFailed, match=hint):
            check_masked_mean_pool(wrong, **kwargs)
