"""Module 4's checkers accept correct answers (also written differently), report stubs, and
name typical mistakes, across seeds."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from course_lib.attention import MultiHeadAttention, causal_mask, merge_heads, split_heads
from course_lib.checkers import CheckFailed
from course_lib.checkers.decoder import (
    check_causal_mask,
    check_cross_attention,
    check_decoder_layer,
    check_transformer,
)
from course_lib.decoder import DecoderLayer
from course_lib.encoder import EncoderLayer
from course_lib.positional_encoding import SinusoidalPositionalEncoding

SEEDS = [0, 1, 2]


def stub(*args, **kwargs):
    raise NotImplementedError("Exercise not attempted yet")


class StubModule(nn.Module):
    def __init__(self, *args, **kwargs):
        stub()


# ------------------------------------------------------------------ 4.1 causal mask


def mask_by_comparison(size):
    """Correct, written differently: compare row and column indices."""
    i = torch.arange(size)
    return i[None, :] > i[:, None]


@pytest.mark.parametrize("seed", SEEDS)
def test_causal_mask_checker_accepts_correct_versions(seed):
    assert check_causal_mask(causal_mask, seed=seed)
    assert check_causal_mask(mask_by_comparison, seed=seed)


def test_stubs_are_not_attempted(capsys):
    assert not check_causal_mask(stub)
    assert not check_cross_attention(stub)
    assert not check_decoder_layer(StubModule)
    assert not check_transformer(StubModule)
    assert capsys.readouterr().out.count("[not attempted]") == 4


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize(
    "wrong, hint",
    [
        (lambda n: torch.ones(n, n, dtype=torch.bool).tril(), "True where attention is \\*allowed"),
        (lambda n: torch.ones(n, n, dtype=torch.bool).tril(-1), "blocks the past"),
        (lambda n: torch.ones(n, n, dtype=torch.bool).triu(0), "also blocks the diagonal"),
        (lambda n: torch.ones(n, n, dtype=torch.bool).triu(2), "one step of the future"),
        (lambda n: torch.full((n, n), float("-inf")).triu(1), "float mask"),
        (lambda n: torch.zeros(n, n, dtype=torch.bool), "exactly above the diagonal"),
        (lambda n: torch.ones(n, n + 1, dtype=torch.bool).triu(1), "has shape"),
    ],
)
def test_causal_mask_checker_names_the_mistake(seed, wrong, hint):
    with pytest.raises(CheckFailed, match=hint):
        check_causal_mask(wrong, seed=seed)


# ------------------------------------------------------------------ 4.2 cross-attention


def cross_attention(mha, x, memory, memory_key_padding_mask):
    """Correct, written differently from the reference: explicit einsum and -inf."""
    h, d_head = mha.num_heads, mha.d_head
    q, k, v = (split_heads(t, h) for t in (mha.q_proj(x), mha.k_proj(memory), mha.v_proj(memory)))
    scores = torch.einsum("bhqd,bhkd->bhqk", q, k) / math.sqrt(d_head)
    scores = scores.masked_fill(memory_key_padding_mask[:, None, None, :], float("-inf"))
    return mha.out_proj(merge_heads(scores.softmax(-1) @ v))


def using_the_module(mha, x, memory, memory_key_padding_mask):
    return mha(x, memory, memory, key_padding_mask=memory_key_padding_mask)[0]


def _attend(mha, q_in, kv_in, mask=None, out=True):
    q, k, v = (split_heads(t, mha.num_heads) for t in
               (mha.q_proj(q_in), mha.k_proj(kv_in), mha.v_proj(kv_in)))
    context = merge_heads(F.scaled_dot_product_attention(q, k, v, attn_mask=mask))
    return mha.out_proj(context) if out else context


def no_mask(mha, x, memory, pad):
    return _attend(mha, x, memory)


def inverted_mask(mha, x, memory, pad):
    return _attend(mha, x, memory, pad[:, None, None, :])  # SDPA's True = *allowed*


def self_attention(mha, x, memory, pad):
    return _attend(mha, x, x)


def queries_from_memory(mha, x, memory, pad):
    return _attend(mha, memory, x)


def no_out_proj(mha, x, memory, pad):
    return _attend(mha, x, memory, ~pad[:, None, None, :], out=False)


def returns_weights(mha, x, memory, pad):
    return mha(x, memory, memory, key_padding_mask=pad)


@pytest.mark.parametrize("seed", SEEDS)
def test_cross_attention_checker_accepts_correct_versions(seed):
    assert check_cross_attention(cross_attention, seed=seed)
    assert check_cross_attention(using_the_module, seed=seed)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize(
    "wrong, hint",
    [
        (no_mask, "memory padding mask is ignored"),
        (inverted_mask, "mask is inverted"),
        (self_attention, "that is self-attention"),
        (queries_from_memory, "one row per \\*source\\* position"),
        (no_out_proj, "output projection is missing"),
        (returns_weights, "not a tuple"),
    ],
)
def test_cross_attention_checker_names_the_mistake(seed, wrong, hint):
    with pytest.raises(CheckFailed, match=hint):
        check_cross_attention(wrong, seed=seed)


# ------------------------------------------------------------------ 4.3 decoder layer


class WrittenDifferently(DecoderLayer):
    """Correct: pre/post-norm written out by hand instead of calling AddNorm."""

    def forward(self, x, memory, tgt_mask=None, tgt_key_padding_mask=None,
                memory_key_padding_mask=None):
        def sa(y):
            return self.self_attn(y, y, y, key_padding_mask=tgt_key_padding_mask,
                                  attn_mask=tgt_mask, need_weights=False)[0]

        def ca(y):
            return self.cross_attn(y, memory, memory, key_padding_mask=memory_key_padding_mask,
                                   need_weights=False)[0]

        for block, sub in ((self.add_norm1, sa), (self.add_norm2, ca),
                           (self.add_norm3, self.feed_forward)):
            if block.norm_first:
                x = x + block.dropout(sub(block.norm(x)))
            else:
                x = block.norm(x + block.dropout(sub(x)))
        return x


class Configurable(DecoderLayer):
    """A decoder layer with one deliberate mistake, chosen by the subclass."""

    order = (0, 1, 2)
    residual = True
    memory_mask = True
    causal = True
    and_masks = False
    dropout_p = None

    def __init__(self, d_model, num_heads, d_ff, dropout=0.1, norm_first=False):
        super().__init__(d_model, num_heads, d_ff,
                         dropout if self.dropout_p is None else self.dropout_p, norm_first)

    def forward(self, x, memory, tgt_mask=None, tgt_key_padding_mask=None,
                memory_key_padding_mask=None):
        def sa(y):
            if self.and_masks:
                m = tgt_mask[None, None] & tgt_key_padding_mask[:, None, None, :]
                return self.self_attn(y, y, y, attn_mask=m, need_weights=False)[0]
            return self.self_attn(y, y, y, key_padding_mask=tgt_key_padding_mask,
                                  attn_mask=tgt_mask if self.causal else None,
                                  need_weights=False)[0]

        def ca(y):
            mask = memory_key_padding_mask if self.memory_mask else None
            return self.cross_attn(y, memory, memory, key_padding_mask=mask,
                                   need_weights=False)[0]

        subs = (sa, ca, self.feed_forward)
        for block, i in zip((self.add_norm1, self.add_norm2, self.add_norm3), self.order,
                            strict=True):
            if self.residual:
                x = block(x, subs[i])
            else:
                x = subs[i](block.norm(x)) if block.norm_first else block.norm(subs[i](x))
        return x


class NoResidual(Configurable):
    residual = False


class CrossFirst(Configurable):
    order = (1, 0, 2)


class MemoryMaskIgnored(Configurable):
    memory_mask = False


class NotCausal(Configurable):
    causal = False


class MasksAnded(Configurable):
    and_masks = True


class NoDropout(Configurable):
    dropout_p = 0.0


class AlwaysPostNorm(Configurable):
    def __init__(self, d_model, num_heads, d_ff, dropout=0.1, norm_first=False):
        super().__init__(d_model, num_heads, d_ff, dropout, norm_first=False)


class BadNames(nn.Module):
    def __init__(self, d_model, num_heads, d_ff, dropout=0.1, norm_first=False):
        super().__init__()
        self.attn = MultiHeadAttention(d_model, num_heads)


@pytest.mark.parametrize("seed", SEEDS)
def test_decoder_layer_checker_accepts_correct_versions(seed):
    assert check_decoder_layer(DecoderLayer, seed=seed)
    assert check_decoder_layer(WrittenDifferently, seed=seed)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize(
    "wrong, hint",
    [
        (NoResidual, "residual connections are missing"),
        (CrossFirst, "wrong order"),
        (MemoryMaskIgnored, "memory padding mask is ignored"),
        (NotCausal, "causal mask is ignored"),
        (MasksAnded, "with AND"),
        (NoDropout, "gave the output of dropout=0"),
        (AlwaysPostNorm, "pre-norm"),
        (BadNames, "no attribute self_attn"),
    ],
)
def test_decoder_layer_checker_names_the_mistake(seed, wrong, hint):
    with pytest.raises(CheckFailed, match=hint):
        check_decoder_layer(wrong, seed=seed)


# ------------------------------------------------------------------ 4.4 the full Transformer


class TransformerSkeleton(nn.Module):
    """The exercise's __init__ (given to the learner), as in the notebook."""

    scale, positions, causal, memory_mask, encoder_mask = True, True, True, True, True

    def __init__(self, src_vocab_size, tgt_vocab_size, d_model, num_heads, d_ff, num_layers,
                 dropout=0.1):
        super().__init__()
        self.d_model = d_model
        self.src_embedding = nn.Embedding(src_vocab_size, d_model, padding_idx=0)
        self.tgt_embedding = nn.Embedding(tgt_vocab_size, d_model, padding_idx=0)
        self.positional_encoding = SinusoidalPositionalEncoding(d_model, 512, dropout)
        self.encoder_layers = nn.ModuleList(
            EncoderLayer(d_model, num_heads, d_ff, dropout) for _ in range(num_layers))
        self.decoder_layers = nn.ModuleList(
            DecoderLayer(d_model, num_heads, d_ff, dropout) for _ in range(num_layers))
        self.output = nn.Linear(d_model, tgt_vocab_size)
        self.output.weight = self.tgt_embedding.weight

    def embed(self, embedding, ids):
        x = embedding(ids) * (math.sqrt(self.d_model) if self.scale else 1.0)
        return self.positional_encoding(x) if self.positions else x

    def forward(self, src, tgt_in, src_key_padding_mask=None, tgt_key_padding_mask=None):
        memory = self.embed(self.src_embedding, src)
        for layer in self.encoder_layers:
            src_mask = src_key_padding_mask if self.encoder_mask else None
            memory = layer(memory, key_padding_mask=src_mask)
        x = self.embed(self.tgt_embedding, tgt_in)
        mask = causal_mask(tgt_in.shape[1]) if self.causal else None
        for layer in self.decoder_layers:
            x = layer(x, memory, mask, tgt_key_padding_mask,
                      src_key_padding_mask if self.memory_mask else None)
        return self.output(x)


class ByHand(TransformerSkeleton):
    """Correct, written differently: the mask by comparison, the scale as a power."""

    def forward(self, src, tgt_in, src_key_padding_mask=None, tgt_key_padding_mask=None):
        memory = self.positional_encoding(self.src_embedding(src) * self.d_model**0.5)
        for layer in self.encoder_layers:
            memory = layer(memory, src_key_padding_mask)
        x = self.positional_encoding(self.tgt_embedding(tgt_in) * self.d_model**0.5)
        i = torch.arange(tgt_in.shape[1])
        for layer in self.decoder_layers:
            x = layer(x, memory, tgt_mask=i[None, :] > i[:, None],
                      tgt_key_padding_mask=tgt_key_padding_mask,
                      memory_key_padding_mask=src_key_padding_mask)
        return F.linear(x, self.output.weight, self.output.bias)


class Unscaled(TransformerSkeleton):
    scale = False


class NoPositions(TransformerSkeleton):
    positions = False


class SeesFuture(TransformerSkeleton):
    causal = False


class MemoryMaskDropped(TransformerSkeleton):
    memory_mask = False


class EncoderMaskDropped(TransformerSkeleton):
    encoder_mask = False


@pytest.mark.parametrize("seed", SEEDS)
def test_transformer_checker_accepts_correct_versions(seed):
    assert check_transformer(TransformerSkeleton, seed=seed)
    assert check_transformer(ByHand, seed=seed)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize(
    "wrong, hint",
    [
        (Unscaled, "not scaled"),
        (NoPositions, "positional encoding is missing"),
        (SeesFuture, "sees the future"),
        (MemoryMaskDropped, "cross-attention ignores the source padding"),
        (EncoderMaskDropped, "encoder ignores the source padding"),
    ],
)
def test_transformer_checker_names_the_mistake(seed, wrong, hint):
    with pytest.raises(CheckFailed, match=hint):
        check_transformer(wrong, seed=seed)


# ------------------------------------------------------------------ held against many seeds

MANY_SEEDS = list(range(100, 120))  # with each checker's default seed: 21 seeds


def _rejected_everywhere(check, wrong, hint, default_seed):
    for seed in [default_seed, *MANY_SEEDS]:
        with pytest.raises(CheckFailed, match=hint):
            check(wrong, seed=seed)


def _accepted_everywhere(check, right, default_seed):
    for seed in [default_seed, *MANY_SEEDS[:4]]:
        assert check(right, seed=seed), f"rejected at seed {seed}"


def mask_with_triu(size):
    """Correct, written differently: a float triu turned into bool."""
    return torch.triu(torch.ones(size, size), diagonal=1) > 0


def test_causal_mask_checker_holds_over_many_seeds():
    for right in (causal_mask, mask_by_comparison, mask_with_triu):
        _accepted_everywhere(check_causal_mask, right, 41)
    for wrong, hint in [
        (lambda n: torch.ones(n, n, dtype=torch.bool).tril(), "True where attention is"),
        (lambda n: torch.ones(n, n, dtype=torch.bool).triu(0), "also blocks the diagonal"),
        (lambda n: torch.ones(n, n, dtype=torch.bool).triu(2), "one step of the future"),
        (lambda n: torch.ones(n, n).triu(1), "has dtype"),
    ]:
        _rejected_everywhere(check_causal_mask, wrong, hint, 41)


def with_sdpa(mha, x, memory, memory_key_padding_mask):
    """Correct, written differently: PyTorch's fused attention (True there = allowed)."""
    q, k, v = (split_heads(t, mha.num_heads) for t in (mha.q_proj(x), mha.k_proj(memory),
                                                        mha.v_proj(memory)))
    allowed = ~memory_key_padding_mask[:, None, None, :]
    return mha.out_proj(merge_heads(F.scaled_dot_product_attention(q, k, v, attn_mask=allowed)))


def _by_hand(mha, x, memory, pad, *, heads=None, divisor=None, mask_after=False, kv=None):
    h = heads or mha.num_heads
    kv = memory if kv is None else kv
    q, k, v = (split_heads(t, h) for t in (mha.q_proj(x), mha.k_proj(kv), mha.v_proj(kv)))
    scores = q @ k.transpose(-2, -1) / (divisor or math.sqrt(q.shape[-1]))
    blocked = pad[:, None, None, :]
    if mask_after:
        weights = scores.softmax(-1).masked_fill(blocked, 0.0)
    else:
        weights = scores.masked_fill(blocked, float("-inf")).softmax(-1)
    return mha.out_proj(merge_heads(weights @ v))


def isqrt_scale(mha, x, memory, pad):
    return _by_hand(mha, x, memory, pad, divisor=math.isqrt(mha.d_model // mha.num_heads))


def d_model_scale(mha, x, memory, pad):
    return _by_hand(mha, x, memory, pad, divisor=math.sqrt(mha.d_model))


def four_heads(mha, x, memory, pad):
    return _by_hand(mha, x, memory, pad, heads=4)


def softmax_before_mask(mha, x, memory, pad):
    return _by_hand(mha, x, memory, pad, mask_after=True)


def kv_from_decoder(mha, x, memory, pad):
    return _by_hand(mha, x, memory, pad, kv=x)


def test_cross_attention_checker_holds_over_many_seeds():
    for right in (cross_attention, using_the_module, with_sdpa):
        _accepted_everywhere(check_cross_attention, right, 42)
    for wrong, hint in [
        (isqrt_scale, "math.isqrt"),
        (d_model_scale, "not of d_model"),
        (four_heads, "what 4 heads would give"),
        (softmax_before_mask, "before the softmax"),
        (kv_from_decoder, "(?s)that is self-attention: keys and values must come from the "
         "encoder memory"),
        (no_mask, "memory padding mask is ignored"),
        (no_out_proj, "output projection is missing"),
    ]:
        _rejected_everywhere(check_cross_attention, wrong, hint, 42)


class ReusedNorm(WrittenDifferently):
    """One AddNorm's layer norm for all three sub-layers."""

    def forward(self, x, memory, tgt_mask=None, tgt_key_padding_mask=None,
                memory_key_padding_mask=None):
        self.add_norm2.norm = self.add_norm3.norm = self.add_norm1.norm
        return super().forward(x, memory, tgt_mask, tgt_key_padding_mask,
                               memory_key_padding_mask)


class SwappedNorms(DecoderLayer):
    def forward(self, x, memory, tgt_mask=None, tgt_key_padding_mask=None,
                memory_key_padding_mask=None):
        x = self.add_norm2(x, lambda y: self.self_attn(
            y, y, y, key_padding_mask=tgt_key_padding_mask, attn_mask=tgt_mask)[0])
        x = self.add_norm1(x, lambda y: self.cross_attn(
            y, memory, memory, key_padding_mask=memory_key_padding_mask)[0])
        return self.add_norm3(x, self.feed_forward)


class HandWritten(DecoderLayer):
    """A hand-written AddNorm; the subclasses change one ingredient."""

    def norm(self, block, y):
        return block.norm(y)

    def drop(self, block, y):
        return block.dropout(y)

    def forward(self, x, memory, tgt_mask=None, tgt_key_padding_mask=None,
                memory_key_padding_mask=None):
        subs = (
            lambda y: self.self_attn(y, y, y, key_padding_mask=tgt_key_padding_mask,
                                     attn_mask=tgt_mask)[0],
            lambda y: self.cross_attn(y, memory, memory,
                                      key_padding_mask=memory_key_padding_mask)[0],
            self.feed_forward,
        )
        for block, sub in zip((self.add_norm1, self.add_norm2, self.add_norm3), subs,
                              strict=True):
            if block.norm_first:
                x = x + self.drop(block, sub(self.norm(block, x)))
            else:
                x = self.norm(block, x + self.drop(block, sub(x)))
        return x


class PlainLayerNorm(HandWritten):
    def norm(self, block, y):
        return F.layer_norm(y, y.shape[-1:])


class FunctionalDropout(HandWritten):
    """F.dropout without training=self.training: drops in eval mode too."""

    def drop(self, block, y):
        return F.dropout(y, block.dropout.p)


class FixedDropout(HandWritten):
    def drop(self, block, y):
        return F.dropout(y, 0.1, self.training)


class BuiltWith(DecoderLayer):
    """The modules built with other arguments (the subclasses say which)."""

    attn_dropout = norm_dropout = None
    heads = None

    def __init__(self, d_model, num_heads, d_ff, dropout=0.1, norm_first=False):
        super().__init__(d_model, num_heads, d_ff, dropout, norm_first)
        h = self.heads or num_heads
        p = dropout if self.attn_dropout is None else self.attn_dropout
        self.self_attn = MultiHeadAttention(d_model, h, dropout=p)
        self.cross_attn = MultiHeadAttention(d_model, h, dropout=p)
        if self.norm_dropout is not None:
            for block in (self.add_norm1, self.add_norm2, self.add_norm3):
                block.dropout.p = self.norm_dropout


class NoAttentionDropout(BuiltWith):
    attn_dropout = 0.0


class NoAddNormDropout(BuiltWith):
    norm_dropout = 0.0


class FourHeads(BuiltWith):
    heads = 4


class TargetPaddingIgnored(DecoderLayer):
    def forward(self, x, memory, tgt_mask=None, tgt_key_padding_mask=None,
                memory_key_padding_mask=None):
        return super().forward(x, memory, tgt_mask, None, memory_key_padding_mask)


class CombinesMasksByHand(DecoderLayer):
    """Crashes when the target padding mask is None."""

    def forward(self, x, memory, tgt_mask=None, tgt_key_padding_mask=None,
                memory_key_padding_mask=None):
        mask = tgt_mask[None, None] | tgt_key_padding_mask[:, None, None, :]
        x = self.add_norm1(x, lambda y: self.self_attn(y, y, y, attn_mask=mask.expand(
            -1, self.self_attn.num_heads, -1, -1))[0])
        x = self.add_norm2(x, lambda y: self.cross_attn(
            y, memory, memory, key_padding_mask=memory_key_padding_mask)[0])
        return self.add_norm3(x, self.feed_forward)


class LastBlockPostNorm(DecoderLayer):
    def __init__(self, d_model, num_heads, d_ff, dropout=0.1, norm_first=False):
        super().__init__(d_model, num_heads, d_ff, dropout, norm_first)
        self.add_norm3.norm_first = False


class PaddingMasksSwapped(DecoderLayer):
    def forward(self, x, memory, tgt_mask=None, tgt_key_padding_mask=None,
                memory_key_padding_mask=None):
        return super().forward(x, memory, tgt_mask, memory_key_padding_mask,
                               tgt_key_padding_mask)


class CrossAttendsToItself(DecoderLayer):
    """Keys and values of the cross-attention from x, the memory mask kept: a shape crash."""

    def forward(self, x, memory, tgt_mask=None, tgt_key_padding_mask=None,
                memory_key_padding_mask=None):
        return super().forward(x, x, tgt_mask, tgt_key_padding_mask, memory_key_padding_mask)


class SharedAttention(DecoderLayer):
    """One attention module for the self- and the cross-attention."""

    def __init__(self, d_model, num_heads, d_ff, dropout=0.1, norm_first=False):
        super().__init__(d_model, num_heads, d_ff, dropout, norm_first)
        self.cross_attn = self.self_attn


class SharedAddNorm(DecoderLayer):
    def __init__(self, d_model, num_heads, d_ff, dropout=0.1, norm_first=False):
        super().__init__(d_model, num_heads, d_ff, dropout, norm_first)
        self.add_norm2 = self.add_norm3 = self.add_norm1


def test_decoder_layer_checker_holds_over_many_seeds():
    for right in (DecoderLayer, WrittenDifferently, HandWritten):
        _accepted_everywhere(check_decoder_layer, right, 43)
    for wrong, hint in [
        (ReusedNorm, "its own AddNorm"),
        (SwappedNorms, "yours are swapped"),
        (PlainLayerNorm, "F.layer_norm without them"),
        (FunctionalDropout, "two calls in eval mode"),
        (FixedDropout, "with dropout=0.0"),
        (NoAttentionDropout, "same seed as the reference"),
        (NoAddNormDropout, "same seed as the reference"),
        (FourHeads, "has 4 heads"),
        (TargetPaddingIgnored, "target padding mask is ignored"),
        (CombinesMasksByHand, "may be None"),
        (LastBlockPostNorm, "differs from the reference"),
        (PaddingMasksSwapped, "which mask goes where"),
        (SharedAttention, "are the same parameter"),
        (SharedAddNorm, "are the same parameter"),
        (CrossAttendsToItself, "keys and values are the encoder memory"),
    ]:
        _rejected_everywhere(check_decoder_layer, wrong, hint, 43)


class TargetFirst(TransformerSkeleton):
    """Correct, written differently: the target embedded before the encoder runs."""

    def forward(self, src, tgt_in, src_key_padding_mask=None, tgt_key_padding_mask=None):
        scale = math.sqrt(self.d_model)
        x = self.positional_encoding(scale * self.tgt_embedding(tgt_in))
        memory = self.positional_encoding(scale * self.src_embedding(src))
        for layer in self.encoder_layers:
            memory = layer(memory, src_key_padding_mask)
        size = tgt_in.shape[1]
        future = torch.triu(torch.ones(size, size, dtype=torch.bool), diagonal=1)
        for layer in self.decoder_layers:
            x = layer(x, memory, future, tgt_key_padding_mask, src_key_padding_mask)
        return x @ self.output.weight.T + self.output.bias


class ExtraFinalNorm(TransformerSkeleton):
    def forward(self, src, tgt_in, src_key_padding_mask=None, tgt_key_padding_mask=None):
        memory = self.embed(self.src_embedding, src)
        for layer in self.encoder_layers:
            memory = layer(memory, key_padding_mask=src_key_padding_mask)
        x = self.embed(self.tgt_embedding, tgt_in)
        for layer in self.decoder_layers:
            x = layer(x, memory, causal_mask(tgt_in.shape[1]), tgt_key_padding_mask,
                      src_key_padding_mask)
        return self.output(F.layer_norm(x, x.shape[-1:]))


class HandAddedPositions(TransformerSkeleton):
    """Adds the table itself: no embedding dropout."""

    def embed(self, embedding, ids):
        x = embedding(ids) * math.sqrt(self.d_model)
        return x + self.positional_encoding.pe[: ids.shape[1]]


class IsqrtScale(TransformerSkeleton):
    def embed(self, embedding, ids):
        return self.positional_encoding(embedding(ids) * math.isqrt(self.d_model))


class TargetPaddingDropped(TransformerSkeleton):
    def forward(self, src, tgt_in, src_key_padding_mask=None, tgt_key_padding_mask=None):
        return super().forward(src, tgt_in, src_key_padding_mask, None)


class CrashesWithoutMasks(TransformerSkeleton):
    def forward(self, src, tgt_in, src_key_padding_mask=None, tgt_key_padding_mask=None):
        src = src.masked_fill(src_key_padding_mask, 0)
        return super().forward(src, tgt_in, src_key_padding_mask, tgt_key_padding_mask)


class EvalModeDropout(TransformerSkeleton):
    def embed(self, embedding, ids):
        return F.dropout(super().embed(embedding, ids), 0.1)


class MaskedDiagonal(TransformerSkeleton):
    """The causal mask blocks the diagonal too: each position cannot see itself."""

    def forward(self, src, tgt_in, src_key_padding_mask=None, tgt_key_padding_mask=None):
        memory = self.embed(self.src_embedding, src)
        for layer in self.encoder_layers:
            memory = layer(memory, key_padding_mask=src_key_padding_mask)
        x = self.embed(self.tgt_embedding, tgt_in)
        size = tgt_in.shape[1]
        mask = torch.ones(size, size, dtype=torch.bool).triu(0)
        for layer in self.decoder_layers:
            x = layer(x, memory, mask, tgt_key_padding_mask, src_key_padding_mask)
        return self.output(x)


class SourceEmbeddingForTarget(TransformerSkeleton):
    def embed(self, embedding, ids):
        return super().embed(self.src_embedding, ids)


def test_transformer_checker_holds_over_many_seeds():
    for right in (TransformerSkeleton, ByHand, TargetFirst):
        _accepted_everywhere(check_transformer, right, 44)
    for wrong, hint in [
        (ExtraFinalNorm, "no extra layer norm"),
        (HandAddedPositions, "adding its table by hand skips it"),
        (IsqrtScale, "differs from the reference"),
        (TargetPaddingDropped, "decoder ignores the target padding"),
        (CrashesWithoutMasks, "may be None"),
        (EvalModeDropout, "two calls in eval mode"),
        (MaskedDiagonal, "also blocks the diagonal"),
        (SourceEmbeddingForTarget, "differs from the reference"),
    ]:
        _rejected_everywhere(check_transformer, wrong, hint, 44)
