"""Checkers for Module 4: causal mask, cross-attention, decoder layer, full Transformer.

Each checker runs the learner's code on fresh random inputs (``seed`` picks them) against the
course's reference, and when the output is wrong compares it with the outputs of the typical
mistakes, to name the one that matches.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from course_lib.attention import (
    MultiHeadAttention,
    causal_mask,
    merge_heads,
    scaled_dot_product_attention,
    split_heads,
)
from course_lib.checkers.core import checker, expect_shape
from course_lib.checkers.mistakes import close, expect_close_or_explain, own_rng
from course_lib.data import padding_mask
from course_lib.decoder import DecoderLayer
from course_lib.transformer import Transformer


def _lengths_mask(batch: int, seq: int, gen: torch.Generator) -> torch.Tensor:
    """A padding mask: row 0 full, the others between 1 and seq - 1 real positions."""
    lengths = torch.randint(1, seq, (batch,), generator=gen)
    lengths[0] = seq
    return padding_mask(lengths, seq)


# ----------------------------------------------------------------------------- 4.1


@checker
def check_causal_mask(causal_mask_fn, seed: int = 41) -> None:
    """``causal_mask_fn(size)`` -> bool ``(size, size)``, True where position j > i (future)."""
    gen = torch.Generator().manual_seed(seed)
    for size in (int(torch.randint(6, 12, (1,), generator=gen)), 5, 2, 1):
        mask = causal_mask_fn(size)
        expect_shape(mask, (size, size), f"causal_mask({size})")
        if mask.dtype != torch.bool:
            raise AssertionError(
                f"causal_mask({size}) has dtype {mask.dtype}: return a bool tensor with True "
                "where attention is blocked (the course's convention, and nn's for bool masks),"
                " not a float mask of 0 / -inf."
            )
        ones = torch.ones(size, size, dtype=torch.bool)
        expected = ones.triu(diagonal=1)
        if size > 1 and torch.equal(mask, ones.tril(diagonal=0)):
            raise AssertionError(
                "your mask is True where attention is *allowed*: in this course True means "
                "blocked. Invert it: True strictly above the diagonal."
            )
        if size > 1 and torch.equal(mask, ones.tril(diagonal=-1)):
            raise AssertionError(
                "your mask blocks the past (below the diagonal) instead of the future: row i is "
                "the query, column j the key; block j > i, i.e. triu(diagonal=1)."
            )
        if torch.equal(mask, ones.triu(diagonal=0)):
            raise AssertionError(
                "your mask also blocks the diagonal: a position must see itself (and everything "
                "before it). Use triu(diagonal=1), not triu(diagonal=0)."
            )
        if size > 2 and torch.equal(mask, ones.triu(diagonal=2)):
            raise AssertionError(
                "your mask lets position i see position i + 1 (one step of the future): block "
                "every j > i with triu(diagonal=1)."
            )
        assert torch.equal(mask, expected), (
            f"causal_mask({size}) should be True exactly above the diagonal (j > i); got\n"
            f"{mask.int()}"
        )
    # Used in attention, the mask makes outputs before t independent of token t.
    mha = _seeded(lambda: MultiHeadAttention(16, 2), seed).eval()
    x = torch.randn(2, 6, 16, generator=gen)
    t = int(torch.randint(0, 6, (1,), generator=gen))
    x2 = x.clone()
    x2[:, t] += 1.0
    with torch.no_grad():
        a = mha(x, x, x, attn_mask=causal_mask_fn(6))[0]
        b = mha(x2, x2, x2, attn_mask=causal_mask_fn(6))[0]
    assert close(a[:, :t], b[:, :t]), (
        f"with your mask, changing token {t} changed the attention outputs before it: the "
        "future leaks."
    )


@own_rng
def _seeded(build, seed: int):
    torch.manual_seed(seed)
    return build()


# ----------------------------------------------------------------------------- 4.2


def _cross_variant(mha, x, memory, mask, *, q_src=None, kv_src=None, use_mask=True,
                   invert=False, out_proj=True):
    """Reference cross-attention with one ingredient changed."""
    q_src = x if q_src is None else q_src
    kv_src = memory if kv_src is None else kv_src
    q, k, v = (split_heads(t, mha.num_heads) for t in
               (mha.q_proj(q_src), mha.k_proj(kv_src), mha.v_proj(kv_src)))
    m = None
    if use_mask:
        km = mask if kv_src is memory else torch.zeros(x.shape[:2], dtype=torch.bool)
        m = (~km if invert else km)[:, None, None, :]
    context = merge_heads(scaled_dot_product_attention(q, k, v, m)[0])
    return mha.out_proj(context) if out_proj else context


@checker
def check_cross_attention(cross_attention, seed: int = 42) -> None:
    """``cross_attention(mha, x, memory, memory_padding_mask)`` -> ``(batch, tgt_len,
    d_model)``: queries from ``x``, keys and values from ``memory``, source padding blocked."""
    gen = torch.Generator().manual_seed(seed)
    d, heads, batch, tgt_len, src_len = 16, 4, 3, 5, 7
    mha = _seeded(lambda: MultiHeadAttention(d, heads), seed).eval()
    x = torch.randn(batch, tgt_len, d, generator=gen)
    memory = torch.randn(batch, src_len, d, generator=gen)
    mask = _lengths_mask(batch, src_len, gen)
    with torch.no_grad():
        out = cross_attention(mha, x, memory, mask)
        if isinstance(out, tuple):
            raise AssertionError("return only the output tensor (batch, tgt_len, d_model), not "
                                 "a tuple with the weights.")
        if isinstance(out, torch.Tensor) and out.shape == (batch, src_len, d):
            raise AssertionError(
                f"the output has one row per *source* position {tuple(out.shape)}: the queries "
                "come from the decoder (x), the keys and values from the memory."
            )
        expect_shape(out, (batch, tgt_len, d), "cross_attention output (batch, tgt_len, d)")
        expected = mha(x, memory, memory, key_padding_mask=mask, need_weights=False)[0]
        mistakes = {
            "the memory padding mask is ignored: block the padded source positions "
            "(mask[:, None, None, :] over (batch, heads, tgt_len, src_len)).":
                _cross_variant(mha, x, memory, mask, use_mask=False),
            "the mask is inverted: True marks padding, which must be *blocked*.":
                _cross_variant(mha, x, memory, mask, invert=True),
            "keys and values come from x: that is self-attention. In cross-attention they come "
            "from the encoder memory.": _cross_variant(mha, x, memory, mask, kv_src=x),
            "the output projection is missing: merge the heads, then apply mha.out_proj.":
                _cross_variant(mha, x, memory, mask, out_proj=False),
        }
    expect_close_or_explain(out, expected, "cross_attention output", mistakes,
                            hint="q = q_proj(x), k = k_proj(memory), v = v_proj(memory), split "
                            "into heads, attend with the padding mask, merge, out_proj.")


# ----------------------------------------------------------------------------- 4.3


def _layer_variant(ref: DecoderLayer, x, memory, tgt_mask, tgt_pad, mem_pad, *, order=(0, 1, 2),
                   residual=True, use_mem_mask=True, use_tgt_mask=True, and_masks=False):
    """The reference decoder layer's forward pass with one ingredient changed."""

    def self_attn(y):
        if and_masks:  # a position blocked only when causal AND padding both say so
            combined = tgt_mask[None, None] & tgt_pad[:, None, None, :]
            return ref.self_attn(y, y, y, attn_mask=combined, need_weights=False)[0]
        return ref.self_attn(y, y, y, key_padding_mask=tgt_pad,
                             attn_mask=tgt_mask if use_tgt_mask else None, need_weights=False)[0]

    def cross_attn(y):
        return ref.cross_attn(y, memory, memory, key_padding_mask=mem_pad if use_mem_mask else None,
                              need_weights=False)[0]

    subs = (self_attn, cross_attn, ref.feed_forward)
    blocks = (ref.add_norm1, ref.add_norm2, ref.add_norm3)
    for block, i in zip(blocks, order, strict=True):
        if residual:
            x = block(x, subs[i])
        elif block.norm_first:
            x = subs[i](block.norm(x))
        else:
            x = block.norm(subs[i](x))
    return x


@checker
def check_decoder_layer(DecoderLayerClass, seed: int = 43) -> None:
    """``DecoderLayerClass(d_model, num_heads, d_ff, dropout, norm_first)`` with
    ``forward(x, memory, tgt_mask, tgt_key_padding_mask, memory_key_padding_mask)`` must equal
    ``nn.TransformerDecoderLayer``: masked self-attention, cross-attention, feed-forward,
    each in its AddNorm, post-norm and pre-norm."""
    gen = torch.Generator().manual_seed(seed)
    d, heads, d_ff, batch, tgt_len, src_len = 16, 4, 32, 3, 6, 5
    x = torch.randn(batch, tgt_len, d, generator=gen)
    memory = torch.randn(batch, src_len, d, generator=gen)
    tgt_pad = _lengths_mask(batch, tgt_len, gen).flip(1)  # left padding: visible to the mask
    mem_pad = _lengths_mask(batch, src_len, gen)
    tgt_mask, real = causal_mask(tgt_len), ~tgt_pad
    names = ("self_attn", "cross_attn", "feed_forward", "add_norm1", "add_norm2", "add_norm3")
    for norm_first in (False, True):
        kind = "pre-norm" if norm_first else "post-norm"
        layer = _seeded(lambda nf=norm_first: DecoderLayerClass(d, heads, d_ff, dropout=0.0,
                                                                  norm_first=nf), seed)
        missing = [n for n in names if not hasattr(layer, n)]
        assert not missing, (
            f"your decoder layer has no attribute {', '.join(missing)}: name the parts "
            f"{', '.join(names)} as in the exercise, so the checker can copy weights."
        )
        ref = DecoderLayer(d, heads, d_ff, dropout=0.0, norm_first=norm_first)
        try:
            ref.load_state_dict(layer.state_dict())
        except RuntimeError as err:
            raise AssertionError(f"your parameters differ from the reference's ({err}); build "
                                 "exactly the modules of the exercise.") from None
        layer.eval(), ref.eval()
        with torch.no_grad():
            out = layer(x, memory, tgt_mask, tgt_pad, mem_pad)
            if isinstance(out, tuple):
                raise AssertionError("forward returned a tuple: return only the output tensor.")
            expect_shape(out, (batch, tgt_len, d), f"DecoderLayer output ({kind})")
            args = (ref, x, memory, tgt_mask, tgt_pad, mem_pad)
            expected = _layer_variant(*args)
            mistakes = {
                "the residual connections are missing: wrap every sub-layer in its AddNorm, "
                "x = add_norm(x, sublayer), which adds x back.": _layer_variant(
                    *args, residual=False),
                "the sub-layers are in the wrong order: masked self-attention first, then "
                "cross-attention, then the feed-forward network.": _layer_variant(
                    *args, order=(1, 0, 2)),
                "the memory padding mask is ignored: pass memory_key_padding_mask to the "
                "cross-attention.": _layer_variant(*args, use_mem_mask=False),
                "the causal mask is ignored: pass tgt_mask as attn_mask of the self-attention.":
                    _layer_variant(*args, use_tgt_mask=False),
                "you combined the causal and padding masks with AND: a key is blocked when "
                "*either* mask blocks it (OR). Pass them separately as attn_mask and "
                "key_padding_mask.": _layer_variant(*args, and_masks=True),
            }
        expect_close_or_explain(
            out[real], expected[real], f"DecoderLayer output at real positions ({kind})",
            {h: m[real] for h, m in mistakes.items()},
            hint="x = add_norm1(x, masked self-attention of x), x = add_norm2(x, "
            "cross-attention to memory), x = add_norm3(x, feed_forward).",
        )
    # Dropout in training mode: the layer's output must be random, like the reference's.
    layer = _seeded(lambda: DecoderLayerClass(d, heads, d_ff, dropout=0.5, norm_first=False),
                    seed).train()
    with torch.no_grad():
        a = layer(x, memory, tgt_mask, tgt_pad, mem_pad)
        b = layer(x, memory, tgt_mask, tgt_pad, mem_pad)
    assert not close(a, b), (
        "with dropout=0.5 in training mode two calls gave the same output: pass dropout on to "
        "the attention, feed-forward and AddNorm modules."
    )


# ----------------------------------------------------------------------------- 4.4


def _copy_into_reference(model: nn.Module, ref: Transformer) -> None:
    """Copy the exercise skeleton's modules (fixed names) into the reference Transformer."""
    pairs = (
        ("src_embedding", ref.encoder.embedding), ("tgt_embedding", ref.decoder.embedding),
        ("encoder_layers", ref.encoder.layers), ("decoder_layers", ref.decoder.layers),
        ("output", ref.output),
    )
    for name, target in pairs:
        if not hasattr(model, name):
            raise AssertionError(f"your model has no attribute {name!r}: keep the __init__ of "
                                 "the exercise and write forward only.")
        target.load_state_dict(getattr(model, name).state_dict())


def _transformer_variant(ref: Transformer, src, tgt, src_pad, tgt_pad, *, scale=True, pe=True,
                         causal=True, mem_mask=True, enc_mask=True):
    """The reference Transformer's forward pass with one ingredient changed."""
    ref = copy.deepcopy(ref)
    for stack in (ref.encoder, ref.decoder):
        if not scale:
            stack.embed_scale = 1.0
        if not pe:
            stack.positional_encoding.pe.zero_()
    memory = ref.encoder(src, src_pad if enc_mask else None)
    x = ref.decoder.embed(tgt)
    for layer in ref.decoder.layers:
        x = layer(x, memory, causal_mask(tgt.shape[1]) if causal else None, tgt_pad,
                  src_pad if mem_mask else None)
    return ref.output(ref.decoder.norm(x))


@checker
def check_transformer(TransformerClass, seed: int = 44) -> None:
    """``TransformerClass(src_vocab_size, tgt_vocab_size, d_model, num_heads, d_ff,
    num_layers, dropout)`` (the exercise's ``__init__``) with ``forward(src, tgt_in,
    src_padding_mask, tgt_padding_mask)`` -> logits ``(batch, tgt_len, tgt_vocab)``."""
    gen = torch.Generator().manual_seed(seed)
    src_v, tgt_v, d, heads, d_ff, n, batch, s_len, t_len = 23, 19, 16, 4, 32, 2, 3, 7, 6
    model = _seeded(lambda: TransformerClass(src_v, tgt_v, d, heads, d_ff, n, dropout=0.0),
                    seed).eval()
    ref = Transformer(src_v, tgt_v, d, heads, d_ff, n, n, dropout=0.0).eval()
    _copy_into_reference(model, ref)
    src_pad, tgt_pad = _lengths_mask(batch, s_len, gen), _lengths_mask(batch, t_len, gen)
    src = torch.randint(1, src_v, (batch, s_len), generator=gen).masked_fill(src_pad, 0)
    tgt = torch.randint(1, tgt_v, (batch, t_len), generator=gen).masked_fill(tgt_pad, 0)
    real = ~tgt_pad
    with torch.no_grad():
        out = model(src, tgt, src_pad, tgt_pad)
        expect_shape(out, (batch, t_len, tgt_v), "logits (batch, tgt_len, tgt_vocab)")
        args = (ref, src, tgt, src_pad, tgt_pad)
        expected = _transformer_variant(*args)
        mistakes = {
            "the embeddings are not scaled: multiply both embeddings by sqrt(d_model) before "
            "adding the positional encoding.": _transformer_variant(*args, scale=False),
            "the positional encoding is missing: add self.positional_encoding to both scaled "
            "embeddings.": _transformer_variant(*args, pe=False),
            "the decoder sees the future: pass causal_mask(tgt_len) as tgt_mask to every "
            "decoder layer.": _transformer_variant(*args, causal=False),
            "the decoder's cross-attention ignores the source padding: pass src_padding_mask "
            "as memory_key_padding_mask.": _transformer_variant(*args, mem_mask=False),
            "the encoder ignores the source padding: pass src_padding_mask to every encoder "
            "layer.": _transformer_variant(*args, enc_mask=False),
        }
    expect_close_or_explain(
        out[real], expected[real], "logits at real target positions",
        {h: m[real] for h, m in mistakes.items()},
        hint="memory = encoder layers over embed(src); x = decoder layers over embed(tgt_in) "
        "with the causal mask and both padding masks; logits = output(x).",
    )
