"""Checkers for Module 4: causal mask, cross-attention, decoder layer, full Transformer.

Each checker runs the learner's code on fresh random inputs (``seed`` picks them) against the
course's reference, and when the output is wrong compares it with the outputs of the typical
mistakes, to name the one that matches.
"""

from __future__ import annotations

import copy
import math
from functools import partial

import torch
import torch.nn.functional as F
from torch import nn

from course_lib.attention import MultiHeadAttention, causal_mask, merge_heads, split_heads
from course_lib.checkers.core import case, checker, expect_close, expect_shape
from course_lib.checkers.encoder import _explicit_attention
from course_lib.checkers.mistakes import (
    close,
    expect_close_or_explain,
    expect_deterministic,
    own_rng,
    randomise_norms,
    seed_cpu,
)
from course_lib.data import padding_mask
from course_lib.decoder import DecoderLayer
from course_lib.transformer import Transformer


@torch.no_grad()
def _at(variant, index) -> torch.Tensor:
    """``variant()[index]``: a typical mistake's output, computed only when needed."""
    return variant()[index]


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


def _cross_variant(
    mha,
    x,
    memory,
    mask,
    *,
    kv_src=None,
    use_mask=True,
    invert=False,
    out_proj=True,
    scale="d_head",
    mask_after_softmax=False,
):
    """Cross-attention written out, with one ingredient changed (the typical mistakes)."""
    kv_src = memory if kv_src is None else kv_src
    q, k, v = (
        split_heads(t, mha.num_heads)
        for t in (mha.q_proj(x), mha.k_proj(kv_src), mha.v_proj(kv_src))
    )
    d_head = q.shape[-1]
    divisor = {
        "d_head": math.sqrt(d_head),
        "d_model": math.sqrt(mha.d_model),
        "isqrt": math.isqrt(d_head),
        "none": 1.0,
        "linear": d_head,
    }[scale]
    scores = q @ k.transpose(-2, -1) / divisor
    blocked = None
    if use_mask:
        km = mask if kv_src is memory else torch.zeros(x.shape[:2], dtype=torch.bool)
        blocked = (~km if invert else km)[:, None, None, :]
    if blocked is None:
        weights = scores.softmax(-1)
    elif mask_after_softmax:
        weights = scores.softmax(-1).masked_fill(blocked, 0.0)
    else:
        weights = scores.masked_fill(blocked, float("-inf")).softmax(-1).nan_to_num(0.0)
    context = merge_heads(weights @ v)
    return mha.out_proj(context) if out_proj else context


def _cross_crash_hint(tgt_len: int, src_len: int):
    """The hint for a crash in cross-attention: shapes that mix tgt_len and src_len."""

    def hint(err: BaseException) -> str:
        if isinstance(err, RuntimeError | ValueError) and any(
            w in str(err) for w in ("size", "shape", "broadcast", "match")
        ):
            return (
                f"the query length (tgt_len={tgt_len}) and the key length (src_len={src_len}) "
                "differ here. If your keys and values come from x, that is self-attention: "
                "keys and values must come from the encoder memory (k_proj(memory), "
                "v_proj(memory)), the queries from x, and the padding mask, (batch, src_len), "
                "covers the keys: mask[:, None, None, :] broadcasts over heads and queries."
            )
        return ""

    return hint


# (d_model, heads): d_head 12, 6 and 3 (sqrt(d_head) is not an integer), and 4
_CROSS_CONFIGS = ((12, 1), (12, 2), (12, 4), (16, 4))


@checker
def check_cross_attention(cross_attention, seed: int = 42) -> None:
    """``cross_attention(mha, x, memory, memory_key_padding_mask)`` -> ``(batch, tgt_len,
    d_model)``: queries from ``x``, keys and values from ``memory``, source padding blocked.

    Runs with 1, 2 and 4 heads (head sizes whose square root is not an integer too)."""
    gen = torch.Generator().manual_seed(seed)
    batch, tgt_len, src_len = 3, 5, 7
    for i, (d, heads) in enumerate(_CROSS_CONFIGS):
        mha = _seeded(lambda d=d, heads=heads: MultiHeadAttention(d, heads), seed + i).eval()
        x = torch.randn(batch, tgt_len, d, generator=gen)
        memory = torch.randn(batch, src_len, d, generator=gen)
        mask = _lengths_mask(batch, src_len, gen)
        what = (
            f"cross_attention with {heads} head(s), d_model={d}: x {tuple(x.shape)}, memory "
            f"{tuple(memory.shape)}, memory_key_padding_mask {tuple(mask.shape)}"
        )
        with torch.no_grad(), case(what, _cross_crash_hint(tgt_len, src_len)):
            out = cross_attention(mha, x, memory, mask)
        if isinstance(out, tuple):
            raise AssertionError(
                "return only the output tensor (batch, tgt_len, d_model), not "
                "a tuple with the weights."
            )
        if isinstance(out, torch.Tensor) and out.shape == (batch, src_len, d):
            raise AssertionError(
                f"the output has one row per *source* position {tuple(out.shape)}: the queries "
                "come from the decoder (x), the keys and values from the memory."
            )
        expect_shape(out, (batch, tgt_len, d), f"{what}: output (batch, tgt_len, d)")
        args = (mha, x, memory, mask)
        with torch.no_grad():
            expected = mha(x, memory, memory, key_padding_mask=mask, need_weights=False)[0]
            mistakes = {
                "the memory padding mask is ignored: block the padded source positions "
                "(mask[:, None, None, :] over (batch, heads, tgt_len, src_len)).": partial(
                    _cross_variant, *args, use_mask=False
                ),
                "the mask is inverted: True marks padding, which must be *blocked*.": partial(
                    _cross_variant, *args, invert=True
                ),
                "keys and values come from x: that is self-attention. In cross-attention they "
                "come from the encoder memory.": partial(_cross_variant, *args, kv_src=x),
                "the output projection is missing: merge the heads, then apply "
                "mha.out_proj.": partial(_cross_variant, *args, out_proj=False),
                "scale the scores by 1/sqrt(d_head), the size of one head (d_model // heads), "
                "not of d_model.": partial(_cross_variant, *args, scale="d_model"),
                "math.isqrt rounds the square root down to an integer: divide by "
                "math.sqrt(d_head).": partial(_cross_variant, *args, scale="isqrt"),
                "the scores are not scaled: divide them by sqrt(d_head).": partial(
                    _cross_variant, *args, scale="none"
                ),
                "divide the scores by sqrt(d_head), not by d_head.": partial(
                    _cross_variant, *args, scale="linear"
                ),
                "mask the scores before the softmax (fill padded keys with -inf): zeroing "
                "weights after the softmax leaves rows that no longer sum to 1.": partial(
                    _cross_variant, *args, mask_after_softmax=True
                ),
            }
            if heads != 4:  # the head count hard-coded to 4
                four = copy.copy(mha)
                four.num_heads = 4
                mistakes[
                    f"your output is what 4 heads would give; this layer has {heads}: use "
                    "mha.num_heads, never a fixed number."
                ] = partial(_cross_variant, four, *args[1:])
        expect_close_or_explain(
            out,
            expected,
            f"{what}: output",
            mistakes,
            hint="q = q_proj(x), k = k_proj(memory), v = v_proj(memory), "
            "split into mha.num_heads heads, attend with the padding mask, "
            "merge, out_proj.",
        )


# ----------------------------------------------------------------------------- 4.3


def _layer_variant(
    ref: DecoderLayer,
    x,
    memory,
    tgt_mask,
    tgt_pad,
    mem_pad,
    *,
    order=(0, 1, 2),
    residual=True,
    use_mem_mask=True,
    use_tgt_mask=True,
    and_masks=False,
    use_tgt_pad=True,
    norms=(0, 1, 2),
    plain_norm=False,
    flip_norm=False,
):
    """The reference decoder layer's forward pass with one ingredient changed."""
    if not use_tgt_pad:
        tgt_pad = None

    def self_attn(y):
        if and_masks:  # a position blocked only when causal AND padding both say so
            combined = tgt_mask[None, None] & tgt_pad[:, None, None, :]
            return ref.self_attn(y, y, y, attn_mask=combined, need_weights=False)[0]
        return ref.self_attn(
            y,
            y,
            y,
            key_padding_mask=tgt_pad,
            attn_mask=tgt_mask if use_tgt_mask else None,
            need_weights=False,
        )[0]

    def cross_attn(y):
        return ref.cross_attn(
            y,
            memory,
            memory,
            key_padding_mask=mem_pad if use_mem_mask else None,
            need_weights=False,
        )[0]

    subs = (self_attn, cross_attn, ref.feed_forward)
    blocks = (ref.add_norm1, ref.add_norm2, ref.add_norm3)
    for j, i in zip(norms, order, strict=True):
        block = blocks[j]
        norm = block.norm
        if plain_norm:
            norm = partial(F.layer_norm, normalized_shape=block.norm.normalized_shape)
        pre = block.norm_first != flip_norm
        if residual:
            x = x + subs[i](norm(x)) if pre else norm(x + subs[i](x))
        else:
            x = subs[i](norm(x)) if pre else norm(subs[i](x))
    return x


_LAYER_PARTS = ("self_attn", "cross_attn", "feed_forward", "add_norm1", "add_norm2", "add_norm3")


def _load_layer(layer: nn.Module, d, heads, d_ff, dropout, norm_first) -> DecoderLayer:
    """The reference layer holding the learner's parameters (attention on its explicit path,
    so that its dropout draws the same random numbers as the learner's)."""
    missing = [n for n in _LAYER_PARTS if not hasattr(layer, n)]
    assert not missing, (
        f"your decoder layer has no attribute {', '.join(missing)}: name the parts "
        f"{', '.join(_LAYER_PARTS)} as in the exercise, so the checker can copy weights."
    )
    first_name = {}
    for name, param in layer.named_parameters(remove_duplicate=False):
        other = first_name.setdefault(id(param), name)
        assert other == name, (
            f"{other} and {name} are the same parameter: each sub-layer needs its own "
            "modules (two MultiHeadAttention, three AddNorm), not one shared by two."
        )
    for name in ("self_attn", "cross_attn"):
        got = getattr(getattr(layer, name), "num_heads", heads)
        assert got == heads, (
            f"{name} has {got} heads, but the layer was built with num_heads={heads}: pass "
            "num_heads on, never a fixed number."
        )
    ref = DecoderLayer(d, heads, d_ff, dropout=dropout, norm_first=norm_first)
    try:
        ref.load_state_dict(layer.state_dict())
    except RuntimeError as err:
        raise AssertionError(
            f"your parameters differ from the reference's ({err}); build "
            "exactly the modules of the exercise."
        ) from None
    _explicit_attention(layer), _explicit_attention(ref)
    return ref


def _mask_crash_hint(err: BaseException) -> str:
    """The hint for a shape crash in a decoder layer or model: which mask goes where."""
    if isinstance(err, RuntimeError | ValueError) and any(
        w in str(err) for w in ("size", "shape", "broadcast", "match")
    ):
        return (
            "the target and source lengths differ here, so check which mask goes where: "
            "tgt_mask (tgt_len, tgt_len) and tgt_key_padding_mask (batch, tgt_len) belong to "
            "the self-attention, memory_key_padding_mask (batch, src_len) to the "
            "cross-attention, whose keys and values are the encoder memory (not x)."
        )
    return ""


# (d_model, heads, norm_first, target padding, masks given): head sizes 12, 6, 3 and 4
_LAYER_CONFIGS = (
    (12, 1, False, "left", True),
    (12, 2, True, "left", True),
    (16, 4, False, "right", True),
    (12, 4, True, "left", True),
    (12, 2, False, "left", False),
    (12, 4, True, "right", False),
)


@checker
@own_rng
def check_decoder_layer(DecoderLayerClass, seed: int = 43) -> None:
    """``DecoderLayerClass(d_model, num_heads, d_ff, dropout, norm_first)`` with
    ``forward(x, memory, tgt_mask, tgt_key_padding_mask, memory_key_padding_mask)`` must equal
    the course's layer (itself equal to ``nn.TransformerDecoderLayer``): masked
    self-attention, cross-attention, feed-forward, each in its AddNorm.

    Runs post-norm and pre-norm with 1, 2 and 4 heads, random LayerNorm weights, left- and
    right-padded targets, masks given or None; with dropout, in eval mode (none), in training
    mode at dropout=0 (none) and at 0.3 (under the same seed as the reference)."""
    gen = torch.Generator().manual_seed(seed)
    d_ff, batch, tgt_len, src_len = 24, 3, 6, 5
    for i, (d, heads, norm_first, side, masked) in enumerate(_LAYER_CONFIGS):
        kind = "pre-norm" if norm_first else "post-norm"
        seed_cpu(seed + i)
        with case(f"DecoderLayer({d}, {heads}, {d_ff}, dropout=0.0, norm_first={norm_first})"):
            layer = DecoderLayerClass(d, heads, d_ff, dropout=0.0, norm_first=norm_first)
        randomise_norms(layer, gen)
        ref = _load_layer(layer, d, heads, d_ff, 0.0, norm_first)
        layer.eval(), ref.eval()
        x = torch.randn(batch, tgt_len, d, generator=gen)
        memory = torch.randn(batch, src_len, d, generator=gen)
        tgt_pad = _lengths_mask(batch, tgt_len, gen)
        if side == "left":  # left padding: the padding mask matters next to the causal one
            tgt_pad = tgt_pad.flip(1)
        mem_pad = _lengths_mask(batch, src_len, gen)
        tgt_mask = causal_mask(tgt_len)
        if not masked:  # no padding: the padding masks are None
            tgt_pad = torch.zeros(batch, tgt_len, dtype=torch.bool)
            mem_pad = torch.zeros(batch, src_len, dtype=torch.bool)
        masks = (tgt_mask, tgt_pad, mem_pad) if masked else (tgt_mask, None, None)
        what = (
            f"DecoderLayer ({kind}, {heads} head(s), d_model={d}) on x {tuple(x.shape)}, "
            f"memory {tuple(memory.shape)}, "
            + (f"{side}-padded targets" if masked else "padding masks None")
        )
        with torch.no_grad(), case(what, _mask_crash_hint):
            out = layer(x, memory, *masks)
        if isinstance(out, tuple):
            raise AssertionError("forward returned a tuple: return only the output tensor.")
        expect_shape(out, (batch, tgt_len, d), f"{what}: output")
        with torch.no_grad():
            expect_deterministic(partial(layer, x, memory, *masks), out, what)
        real = ~tgt_pad
        with torch.no_grad():
            args = (ref, x, memory, tgt_mask, tgt_pad, mem_pad)
            expected = _layer_variant(*args)
            mistakes = {
                "the residual connections are missing: wrap every sub-layer in its AddNorm, "
                "x = add_norm(x, sublayer), which adds x back.": partial(
                    _layer_variant, *args, residual=False
                ),
                "the sub-layers are in the wrong order: masked self-attention first, then "
                "cross-attention, then the feed-forward network.": partial(
                    _layer_variant, *args, order=(1, 0, 2)
                ),
                "the causal mask is ignored: pass tgt_mask as attn_mask of the "
                "self-attention.": partial(_layer_variant, *args, use_tgt_mask=False),
                "each sub-layer must have its own AddNorm (add_norm1, add_norm2, add_norm3 in "
                "that order): yours use another one's layer norm.": partial(
                    _layer_variant, *args, norms=(0, 0, 0)
                ),
                "each sub-layer must have its own AddNorm (add_norm1, add_norm2, add_norm3 in "
                "that order): yours are swapped.": partial(_layer_variant, *args, norms=(1, 0, 2)),
                "use the AddNorm's layer norm with its weight and bias (add_norm.norm, or "
                "the block itself): F.layer_norm without them ignores the trained scale and "
                "shift.": partial(_layer_variant, *args, plain_norm=True),
                f"norm_first={norm_first} asks for {kind}; your layer computed the other one. "
                "The AddNorm blocks know norm_first: call them rather than writing the norms "
                "yourself.": partial(_layer_variant, *args, flip_norm=True),
            }
            if masked:
                mistakes.update(
                    {
                        "the memory padding mask is ignored: pass memory_key_padding_mask to the "
                        "cross-attention.": partial(_layer_variant, *args, use_mem_mask=False),
                        "the target padding mask is ignored: pass tgt_key_padding_mask to the "
                        "self-attention.": partial(_layer_variant, *args, use_tgt_pad=False),
                        "you combined the causal and padding masks with AND: a key is blocked when "
                        "*either* mask blocks it (OR). Pass them separately as attn_mask and "
                        "key_padding_mask.": partial(_layer_variant, *args, and_masks=True),
                    }
                )
        expect_close_or_explain(
            out[real],
            expected[real],
            f"{what}: output at real positions",
            {h: partial(_at, m, real) for h, m in mistakes.items()},
            hint="x = add_norm1(x, masked self-attention of x), x = add_norm2(x, "
            "cross-attention to memory), x = add_norm3(x, feed_forward).",
        )
        if i < 2:  # post-norm and pre-norm, all masks given
            _layer_dropout(
                DecoderLayerClass,
                d,
                heads,
                d_ff,
                norm_first,
                seed + i,
                (x, memory, *masks),
                real,
                kind,
            )


def _expect_dropout(build, inputs, real, seed: int, what: str, hints: dict[str, str]) -> None:
    """Dropout as the reference's: none in eval mode, none at dropout=0, and at 0.3 in
    training mode the reference's random drops under the same seed.

    ``build(p)`` -> the learner's module built with dropout ``p``, the reference module and
    the reference's forward passes (each a correct order of the random draws). ``hints``:
    what to say when dropout is on in eval mode ("eval"), at dropout=0 ("zero"), missing
    ("missing") or in the wrong places ("seed")."""
    outputs = {}
    for p in (0.0, 0.3):
        ours, ref, ref_runs = build(p)
        with torch.no_grad(), case(f"{what} built with dropout={p}"):
            ours.eval(), ref.eval()
            first = ours(*inputs)
            expect_deterministic(partial(ours, *inputs), first, f"{what}, dropout={p}")
            expect_close(
                first[real],
                ref_runs[0]()[real],
                f"{what} in eval mode, built with dropout={p}",
                hint=hints["eval"],
            )
            ours.train(), ref.train()
            seed_cpu(seed)
            outputs[p] = ours(*inputs)[real]
            expected = []
            for run in ref_runs:
                seed_cpu(seed)
                expected.append(run()[real])
        if p == 0.0:
            expect_close(
                outputs[p],
                expected[0],
                f"{what} in training mode with dropout=0.0",
                hint="dropout=0.0 means no dropping: pass the dropout argument on to "
                "every module, never a fixed rate such as 0.1.",
            )
        elif not any(close(outputs[p], e) for e in expected):
            assert not close(outputs[p], outputs[0.0]), (
                f"{what} with dropout={p} in training mode gave the output of dropout=0: "
                + hints["missing"]
            )
            expect_close(
                outputs[p],
                expected[0],
                f"{what} in training mode, dropout={p}, under the same seed as the reference",
                hint=hints["seed"],
            )


def _layer_dropout(DecoderLayerClass, d, heads, d_ff, norm_first, seed, inputs, real, kind) -> None:
    """The decoder layer's dropout (see :func:`_expect_dropout`)."""

    def build(p):
        seed_cpu(seed)
        with case(f"DecoderLayer({d}, {heads}, {d_ff}, dropout={p}, norm_first={norm_first})"):
            layer = DecoderLayerClass(d, heads, d_ff, dropout=p, norm_first=norm_first)
        randomise_norms(layer, torch.Generator().manual_seed(seed))
        ref = _load_layer(layer, d, heads, d_ff, p, norm_first)
        return layer, ref, [partial(ref, *inputs)]

    _expect_dropout(
        build,
        inputs,
        real,
        seed,
        f"DecoderLayer ({kind}, {heads} head(s))",
        {
            "eval": "dropout must be off in eval mode: use nn.Dropout modules (the attention's and "
            "the AddNorm's), which know the mode; F.dropout(x, p) drops in eval mode too "
            "unless given training=self.training.",
            "missing": "pass dropout on to the two attentions, the feed-forward network and the "
            "AddNorms.",
            "seed": "build self_attn and cross_attn with MultiHeadAttention(d_model, num_heads, "
            "dropout=dropout), feed_forward with PositionwiseFeedForward(d_model, d_ff, "
            "dropout) and each AddNorm with (d_model, dropout, norm_first); call each "
            "AddNorm once, in order.",
        },
    )


# ----------------------------------------------------------------------------- 4.4


def _copy_into_reference(model: nn.Module, ref: Transformer) -> None:
    """Copy the exercise skeleton's modules (fixed names) into the reference Transformer."""
    pairs = (
        ("src_embedding", ref.encoder.embedding),
        ("tgt_embedding", ref.decoder.embedding),
        ("encoder_layers", ref.encoder.layers),
        ("decoder_layers", ref.decoder.layers),
        ("output", ref.output),
    )
    for name, target in pairs:
        if not hasattr(model, name):
            raise AssertionError(
                f"your model has no attribute {name!r}: keep the __init__ of "
                "the exercise and write forward only."
            )
        target.load_state_dict(getattr(model, name).state_dict())


def _transformer_variant(
    ref: Transformer,
    src,
    tgt,
    src_pad,
    tgt_pad,
    *,
    scale=True,
    pe=True,
    causal=True,
    mem_mask=True,
    enc_mask=True,
    tgt_first=False,
    extra_norm=False,
):
    """The reference Transformer's forward pass with one ingredient changed (``tgt_first``
    embeds the target before encoding: the same function, other random draws)."""
    if not (scale and pe):
        ref = copy.deepcopy(ref)
    for stack in (ref.encoder, ref.decoder):
        if not scale:
            stack.embed_scale = 1.0
        if not pe:
            stack.positional_encoding.pe.zero_()
    if tgt_first:
        x = ref.decoder.embed(tgt)
    memory = ref.encoder(src, src_pad if enc_mask else None)
    if not tgt_first:
        x = ref.decoder.embed(tgt)
    size = tgt.shape[1]
    mask = {
        True: causal_mask(size),
        False: None,
        "diagonal": torch.ones(size, size, dtype=torch.bool).triu(0),
    }[causal]
    for layer in ref.decoder.layers:
        x = layer(x, memory, mask, tgt_pad, src_pad if mem_mask else None)
    x = ref.decoder.norm(x)
    return ref.output(F.layer_norm(x, x.shape[-1:]) if extra_norm else x)


# (d_model, heads, layers, target padding, masks given)
_MODEL_CONFIGS = ((12, 2, 2, "right", True), (12, 4, 1, "left", True), (16, 1, 1, "right", False))


def _build_model(TransformerClass, sizes, dropout, seed):
    """The learner's model (random LayerNorm weights) and the reference holding its weights,
    both with attention on its explicit path (the same random draws)."""
    src_v, tgt_v, d, heads, d_ff, n = sizes
    seed_cpu(seed)
    with case(f"TransformerClass({src_v}, {tgt_v}, {d}, {heads}, {d_ff}, {n}, dropout={dropout})"):
        model = TransformerClass(src_v, tgt_v, d, heads, d_ff, n, dropout=dropout)
    randomise_norms(model, torch.Generator().manual_seed(seed))
    ref = Transformer(src_v, tgt_v, d, heads, d_ff, n, n, dropout=dropout)
    _copy_into_reference(model, ref)
    _explicit_attention(model), _explicit_attention(ref)
    return model, ref


@checker
@own_rng
def check_transformer(TransformerClass, seed: int = 44) -> None:
    """``TransformerClass(src_vocab_size, tgt_vocab_size, d_model, num_heads, d_ff,
    num_layers, dropout)`` (the exercise's ``__init__``) with ``forward(src, tgt_in,
    src_key_padding_mask, tgt_key_padding_mask)`` -> logits ``(batch, tgt_len, tgt_vocab)``.

    Runs with 1, 2 and 4 heads, random LayerNorm weights, right- and left-padded targets and
    masks None; with dropout, in eval mode, at dropout=0 and at 0.3 in training mode (the
    source and target embedding dropout included, under the same seed as the reference)."""
    gen = torch.Generator().manual_seed(seed)
    src_v, tgt_v, d_ff, batch, s_len, t_len = 23, 19, 24, 3, 7, 6
    for i, (d, heads, n, side, masked) in enumerate(_MODEL_CONFIGS):
        sizes = (src_v, tgt_v, d, heads, d_ff, n)
        model, ref = _build_model(TransformerClass, sizes, 0.0, seed + i)
        model.eval(), ref.eval()
        src_pad, tgt_pad = _lengths_mask(batch, s_len, gen), _lengths_mask(batch, t_len, gen)
        if side == "left":
            tgt_pad = tgt_pad.flip(1)
        if not masked:
            src_pad = torch.zeros(batch, s_len, dtype=torch.bool)
            tgt_pad = torch.zeros(batch, t_len, dtype=torch.bool)
        src = torch.randint(1, src_v, (batch, s_len), generator=gen).masked_fill(src_pad, 0)
        tgt = torch.randint(1, tgt_v, (batch, t_len), generator=gen).masked_fill(tgt_pad, 0)
        masks = (src_pad, tgt_pad) if masked else ()
        real = ~tgt_pad
        what = (
            f"the model ({heads} head(s), d_model={d}, {n} layer(s)) on src "
            f"{tuple(src.shape)}, tgt_in {tuple(tgt.shape)}, "
            + (f"{side}-padded targets" if masked else "no padding masks (None)")
        )
        with torch.no_grad(), case(what, _mask_crash_hint):
            out = model(src, tgt, *masks)
        expect_shape(out, (batch, t_len, tgt_v), f"{what}: logits (batch, tgt_len, tgt_vocab)")
        with torch.no_grad():
            expect_deterministic(partial(model, src, tgt, *masks), out, what)
        with torch.no_grad():
            args = (ref, src, tgt, src_pad, tgt_pad)
            expected = _transformer_variant(*args)
            mistakes = {
                "the embeddings are not scaled: multiply both embeddings by sqrt(d_model) "
                "before adding the positional encoding.": partial(
                    _transformer_variant, *args, scale=False
                ),
                "the positional encoding is missing: add self.positional_encoding to both "
                "scaled embeddings.": partial(_transformer_variant, *args, pe=False),
                "the decoder sees the future: pass causal_mask(tgt_len) as tgt_mask to every "
                "decoder layer.": partial(_transformer_variant, *args, causal=False),
                "your causal mask also blocks the diagonal: a position must see itself. Use "
                "causal_mask(tgt_len), True strictly above the diagonal "
                "(triu(diagonal=1)).": partial(_transformer_variant, *args, causal="diagonal"),
                "the post-norm layers end in their own layer norm: apply the output projection "
                "to the last decoder layer's output, with no extra layer norm.": partial(
                    _transformer_variant, *args, extra_norm=True
                ),
            }
            if masked:
                mistakes.update(
                    {
                        "the decoder's cross-attention ignores the source padding: pass "
                        "src_key_padding_mask as memory_key_padding_mask.": partial(
                            _transformer_variant, *args, mem_mask=False
                        ),
                        "the encoder ignores the source padding: pass src_key_padding_mask to "
                        "every encoder layer.": partial(
                            _transformer_variant, *args, enc_mask=False
                        ),
                        "the decoder ignores the target padding: pass tgt_key_padding_mask as "
                        "tgt_key_padding_mask to every decoder layer.": partial(
                            _transformer_variant, ref, src, tgt, src_pad, None
                        ),
                    }
                )
        expect_close_or_explain(
            out[real],
            expected[real],
            f"{what}: logits at real target positions",
            {h: partial(_at, m, real) for h, m in mistakes.items()},
            hint="memory = encoder layers over embed(src); x = decoder layers over "
            "embed(tgt_in) with the causal mask and both padding masks; logits = output(x).",
        )
        if i == 0:
            _expect_model_dropout(TransformerClass, sizes, seed, (src, tgt, *masks), args, real)


def _expect_model_dropout(TransformerClass, sizes, seed, inputs, args, real) -> None:
    """The model's dropout (see :func:`_expect_dropout`); the target may be embedded before
    or after the encoder runs."""

    def build(p):
        model, ref = _build_model(TransformerClass, sizes, p, seed)
        ref_args = (ref, *args[1:])
        return (
            model,
            ref,
            [partial(_transformer_variant, *ref_args, tgt_first=first) for first in (False, True)],
        )

    _expect_dropout(
        build,
        inputs,
        real,
        seed,
        "the model",
        {
            "eval": "dropout must be off in eval mode: use the modules' own dropout "
            "(self.positional_encoding applies it), which knows the mode.",
            "missing": "add the positions with self.positional_encoding(x), which applies the "
            "embedding dropout, and keep the layers' own dropout.",
            "seed": "both embeddings go through self.positional_encoding(x) (it applies the "
            "embedding dropout; adding its table by hand skips it), then every layer "
            "once, in order.",
        },
    )
