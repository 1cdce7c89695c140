"""Checkers for Module 3: feed-forward, layer norm, AddNorm, encoder layer, encoder, pooling.

Each checker runs the learner's code on fresh random inputs against the course's reference
(or PyTorch's own module, with copied weights). When the output is wrong, it also compares it
with the outputs of the typical mistakes and names the one that matches.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from course_lib.add_norm import AddNorm
from course_lib.checkers.core import case, checker, expect_close, expect_shape
from course_lib.checkers.mistakes import (
    close,
    expect_close_or_explain,
    expect_deterministic,
    expect_gradients,
    own_rng,
    seed_cpu,
)
from course_lib.classifier import masked_mean_pool
from course_lib.data import padding_mask
from course_lib.encoder import Encoder
from course_lib.encoder import EncoderLayer as CourseEncoderLayer
from course_lib.feed_forward import PositionwiseFeedForward
from course_lib.torch_interop import to_torch_encoder_layer


def _random_mask(batch: int, seq: int, gen: torch.Generator) -> torch.Tensor:
    """A padding mask with one full row and the others shorter (at least one real token)."""
    lengths = torch.randint(1, seq, (batch,), generator=gen)
    lengths[0] = seq
    return padding_mask(lengths, seq)


def _require(module: nn.Module, names: tuple[str, ...], what: str) -> None:
    missing = [n for n in names if not hasattr(module, n)]
    if missing:
        raise AssertionError(
            f"your {what} has no attribute {', '.join(missing)}: name the parts "
            f"{', '.join(names)} (as in the exercise), so the checker can copy weights."
        )


def _load_learner_weights(
    reference: nn.Module, learner: nn.Module, advice: str, parts: tuple[str, ...] = ()
) -> None:
    """Copy the learner's parameters into ``reference``; a mismatch fails with ``advice``.

    With ``parts``, only those named submodules are copied (the learner may keep other
    submodules, e.g. an nn.Sequential holding the same layers); else the whole state dict.
    """
    try:
        for name in parts:
            getattr(reference, name).load_state_dict(getattr(learner, name).state_dict())
        if not parts:
            reference.load_state_dict(learner.state_dict())
    except RuntimeError as err:
        raise AssertionError(
            f"your parameters differ from the reference's ({err}); {advice}"
        ) from None


# ----------------------------------------------------------------------------- 3.1


@checker
@own_rng
def check_feed_forward(FeedForward, seed: int = 31) -> None:
    """``FeedForward(d_model, d_ff, dropout)``: linear1 -> ReLU -> dropout -> linear2.

    The contract: two ``nn.Linear`` named ``linear1`` (d_model -> d_ff) and ``linear2``
    (d_ff -> d_model); other submodules are allowed (only linear1/linear2 are copied), as
    long as the output is linear2(dropout(relu(linear1(x)))).
    """
    gen = torch.Generator().manual_seed(seed)
    seed_cpu(seed)
    d_model, d_ff = 12, 40
    with case(f"FeedForward({d_model}, {d_ff}, dropout=0.0)"):
        ffn = FeedForward(d_model, d_ff, dropout=0.0)
    _require(ffn, ("linear1", "linear2"), "feed-forward network")
    expect_shape(ffn.linear1.weight, (d_ff, d_model), "linear1.weight (maps d_model to d_ff)")
    expect_shape(ffn.linear2.weight, (d_model, d_ff), "linear2.weight (maps d_ff back to d_model)")
    x = torch.randn(3, 5, d_model, generator=gen)
    l1, l2 = ffn.linear1, ffn.linear2
    with torch.no_grad():
        expected = l2(F.relu(l1(x)))
        mistakes = {
            "there is no non-linearity: put a ReLU between linear1 and linear2 (without it the "
            "two layers collapse into one linear map).": l2(l1(x)),
            "the ReLU belongs between the two linear layers, not after linear2 (the output must "
            "be able to go negative).": F.relu(l2(l1(x))),
            "the ReLU is applied twice; use it once, between linear1 and linear2.": F.relu(
                l2(F.relu(l1(x)))
            ),
            "use ReLU, as the paper and nn.TransformerEncoderLayer's default do, not GELU.": l2(
                F.gelu(l1(x))
            ),
        }
        with case("FFN(x) for x of shape (3, 5, 12)"):
            out = ffn(x)
    expect_shape(out, x.shape, "FFN(x) for x of shape (3, 5, 12)")
    # Position-wise: changing one token changes only that token's output.
    x2 = x.clone()
    x2[:, 2] += 1.0
    with torch.no_grad():
        changed = (ffn(x2) - out).abs().amax(dim=-1) > 1e-6
    assert not changed[:, [0, 1, 3, 4]].any(), (
        "changing token 2 changed the output at other positions: the FFN must act on each "
        "position separately (linear layers over the last dimension only)."
    )
    expect_close_or_explain(out, expected, "FFN(x) for x of shape (3, 5, 12)", mistakes)
    # Dropout: on the hidden activations, only in training mode.
    ffn_drop = FeedForward(d_model, d_ff, dropout=0.5)
    ref = PositionwiseFeedForward(d_model, d_ff, dropout=0.5)
    _load_learner_weights(
        ref,
        ffn_drop,
        "linear1 must be nn.Linear(d_model, d_ff) and "
        "linear2 nn.Linear(d_ff, d_model), both with bias.",
        parts=("linear1", "linear2"),
    )
    ffn_drop.eval()
    with torch.no_grad():
        expect_close(
            ffn_drop(x),
            ref.eval()(x),
            "FFN(x) in eval mode with dropout=0.5",
            hint="dropout must be off in eval mode: use nn.Dropout (it knows the mode).",
        )
    ffn_drop.train()
    ref.train()
    with torch.no_grad():
        seed_cpu(seed)
        train_out = ffn_drop(x)
        seed_cpu(seed)
        ref_out = ref(x)
    assert not close(train_out, ffn_drop.eval()(x)), (
        "with dropout=0.5 in training mode the output equals the eval-mode output: dropout is "
        "missing. Apply nn.Dropout(dropout) to the hidden activations."
    )
    expect_close(
        train_out,
        ref_out,
        "FFN(x) in training mode (dropout=0.5, same seed)",
        hint="apply the dropout once, to the hidden activations after the ReLU and "
        "before linear2 (where nn.TransformerEncoderLayer applies it).",
    )
    expect_gradients(ffn, ffn(x), "FFN(x)", names=("linear1", "linear2"))


# ----------------------------------------------------------------------------- 3.2


def _norm_variant(x, dims, eps_in, unbiased=False, eps_out=0.0, one_pass=False):
    """(x - mean) / (sqrt(var + eps_in) + eps_out) over ``dims``: the what-if references."""
    mean = x.mean(dim=dims, keepdim=True)
    if one_pass:  # E[x^2] - E[x]^2, which cancels catastrophically in float32
        var = (x * x).mean(dim=dims, keepdim=True) - mean**2
    else:
        var = x.var(dim=dims, unbiased=unbiased, keepdim=True)
    return (x - mean) / (torch.sqrt(var + eps_in) + eps_out)


@checker
def check_layer_norm(layer_norm, seed: int = 32) -> None:
    """``layer_norm(x, weight, bias, eps)`` must equal ``F.layer_norm`` over the last dim,
    for the default eps and eps=0.01, for tokens of tiny variance and tokens far from 0."""
    gen = torch.Generator().manual_seed(seed)
    d = 8
    weight, bias = torch.randn(d, generator=gen), torch.randn(d, generator=gen)
    typical = torch.randn(4, 6, d, generator=gen) * 3 + 2
    tiny = torch.randn(4, 6, d, generator=gen) * 1e-3  # variance near eps: eps matters here
    offsets = torch.tensor([0.0, 20.0, -100.0, 300.0])[:, None, None]
    spreads = torch.tensor([1.0, 0.5, 2.0, 1.0])[:, None, None]
    far = offsets + spreads * torch.randn(4, 3, d, generator=gen)  # rows far from 0
    cases = (  # (x, eps, what, atol): float32 resolves x - mean only to ~3e-5 around 300
        (typical, 1e-5, "x of shape (4, 6, 8), eps=1e-5", 1e-5),
        (tiny, 1e-5, "x of shape (4, 6, 8) with a tiny variance, eps=1e-5", 1e-5),
        (tiny, 1e-2, "x of shape (4, 6, 8) with a tiny variance, eps=0.01", 1e-5),
        (far, 1e-5, "x of shape (4, 3, 8), rows around 0, 20, -100 and 300, eps=1e-5", 2e-4),
    )
    for x, eps, what, atol in cases:
        with case(f"layer_norm of {what}"):
            out = layer_norm(x, weight, bias, eps)
        mistakes = {
            "you normalised over the batch and positions, per feature: that is batch norm. "
            "Layer norm takes the mean and variance of each token's own features "
            "(dim=-1).": _norm_variant(x, (0, 1), eps) * weight + bias,
            "you normalised over the positions of each sequence (dim=1); layer norm uses each "
            "token's own features (dim=-1).": _norm_variant(x, 1, eps) * weight + bias,
            "use the biased variance (divide by d, as nn.LayerNorm does): "
            "x.var(dim=-1, unbiased=False), not torch.var's default.": _norm_variant(
                x, -1, eps, unbiased=True
            )
            * weight
            + bias,
            "eps goes inside the square root: sqrt(var + eps), not sqrt(var) + eps.": _norm_variant(
                x, -1, 0.0, eps_out=eps
            )
            * weight
            + bias,
            "add eps to the variance, inside the square root: sqrt(var + eps).": _norm_variant(
                x, -1, 0.0
            )
            * weight
            + bias,
            "scale and shift after normalising: multiply by weight, then add bias.": _norm_variant(
                x, -1, eps
            ),
            "multiply by weight and add bias; you swapped them.": _norm_variant(x, -1, eps) * bias
            + weight,
        }
        if eps != 1e-5:
            mistakes[
                f"the eps argument is ignored (this call passed eps={eps}): use eps, "
                "not a fixed 1e-5."
            ] = _norm_variant(x, -1, 1e-5) * weight + bias
        if x is far:
            mistakes[
                "the variance computed as E[x^2] - E[x]^2 loses its precision when the "
                "mean is large compared to the spread (float32): compute "
                "((x - mean) ** 2).mean(-1) instead."
            ] = _norm_variant(x, -1, eps, one_pass=True) * weight + bias
        expected = F.layer_norm(x, (d,), weight, bias, eps)
        expect_close_or_explain(
            out,
            expected,
            f"layer_norm of {what}",
            mistakes,
            hint="normalise each token over its own d features: (x - "
            "mean) / sqrt(var + eps) with the biased variance, then * "
            "weight + bias.",
            atol=atol,
        )
    leaves = [t.clone().requires_grad_(True) for t in (typical, weight, bias)]
    with case("layer_norm(x, weight, bias, eps) with x, weight and bias requiring grad"):
        out = layer_norm(*leaves, 1e-5)
    if not out.requires_grad:
        raise AssertionError(
            "layer_norm's output does not require grad, so weight and bias cannot be trained."
            "\nHint: compute it with torch operations (no .detach(), .item() or NumPy)."
        )
    constant = torch.full((2, d), 5.0)
    with case("layer_norm of a constant token (variance 0)"):
        out = layer_norm(constant, weight, bias, 1e-5)
    assert torch.isfinite(out).all(), (
        "a token whose features are all equal (variance 0) gave inf or NaN: add eps inside the "
        "square root."
    )
    expect_close(
        out,
        F.layer_norm(constant, (d,), weight, bias, 1e-5),
        "layer_norm of a constant token",
        hint="a constant token normalises to 0, so the output is just bias.",
    )


def _expect_affine_norm(block: nn.Module, kind: str) -> None:
    """``block.norm`` must be an ``nn.LayerNorm`` with its learnable scale and shift."""
    _require(block, ("norm",), "AddNorm")
    if not isinstance(block.norm, nn.LayerNorm):
        raise AssertionError(
            f"AddNorm {kind}: .norm should be an nn.LayerNorm(d_model), got "
            f"{type(block.norm).__name__}."
        )
    if block.norm.weight is None or block.norm.bias is None:
        raise AssertionError(
            f"AddNorm {kind}: .norm has no learnable scale and shift (elementwise_affine=False "
            "or bias=False).\nHint: use nn.LayerNorm(d_model) with its defaults: the layer "
            "norm's gamma and beta are trained, as in nn.TransformerEncoderLayer."
        )


@checker
@own_rng
def check_add_norm(AddNormClass, seed: int = 33) -> None:
    """``AddNorm(d_model, dropout, norm_first)``: post-norm and pre-norm residual blocks.

    The contract: an ``nn.LayerNorm(d_model)`` named ``norm`` (with weight and bias) and
    dropout on the sub-layer's output; only ``norm`` is copied into the reference.
    """
    gen = torch.Generator().manual_seed(seed)
    d = 16
    sub = nn.Linear(d, d)
    with torch.no_grad():
        for p in sub.parameters():
            p.copy_(torch.randn(p.shape, generator=gen) * 0.5)
    x = torch.randn(3, 5, d, generator=gen) * 2 + 1
    for norm_first in (False, True):
        kind = "pre-norm (norm_first=True)" if norm_first else "post-norm (norm_first=False)"
        with case(f"AddNorm({d}, dropout=0.0, norm_first={norm_first})"):
            block = AddNormClass(d, dropout=0.0, norm_first=norm_first)
        _expect_affine_norm(block, kind)
        with torch.no_grad():
            block.norm.weight.copy_(1 + 0.3 * torch.randn(d, generator=gen))
            block.norm.bias.copy_(0.3 * torch.randn(d, generator=gen))
        ln = block.norm
        calls = []

        def sublayer(y, calls=calls):
            calls.append(y)
            return sub(y)

        with torch.no_grad(), case(f"AddNorm {kind} on x of shape (3, 5, 16)"):
            out = block(x, sublayer)
        with torch.no_grad():
            post, pre = ln(x + sub(x)), x + sub(ln(x))
        assert len(calls) == 1, (
            f"{kind}: the sub-layer was called {len(calls)} times; call it exactly once (it may "
            "be an attention layer: calling it twice doubles the cost and the dropout)."
        )
        with torch.no_grad():
            mistakes = {
                "the residual connection is missing: add the block's input x.": ln(sub(x)),
                "the layer norm is missing.": x + sub(x),
                "you added the normalised input: the residual adds x itself.": ln(x) + sub(x),
                "pre-norm normalises the sub-layer's input, not its output: x + sublayer(norm(x))"
                ".": x + ln(sub(x)),
            }
            if norm_first:
                mistakes[
                    "norm_first=True asks for pre-norm, x + sublayer(norm(x)); you computed "
                    "post-norm."
                ] = post
                mistakes[
                    "pre-norm keeps the residual: x + sublayer(norm(x)), not sublayer(norm(x))."
                ] = sub(ln(x))
            else:
                mistakes[
                    "norm_first=False is the paper's post-norm, norm(x + sublayer(x)); you "
                    "computed pre-norm."
                ] = pre
        expect_close_or_explain(out, pre if norm_first else post, f"AddNorm {kind}", mistakes)
        # Dropout: on the sub-layer's output, before the residual is added.
        drop = AddNormClass(d, dropout=0.5, norm_first=norm_first)
        ref = AddNorm(d, dropout=0.5, norm_first=norm_first)
        _expect_affine_norm(drop, kind)
        _load_learner_weights(ref, drop, "norm must be nn.LayerNorm(d_model).", parts=("norm",))
        with torch.no_grad():
            expect_close(
                drop.eval()(x, sub),
                ref.eval()(x, sub),
                f"AddNorm {kind} in eval mode with dropout=0.5",
                hint="dropout must be off in eval mode: use nn.Dropout.",
            )
            drop.train(), ref.train()
            seed_cpu(seed)
            train_out = drop(x, sub)
            seed_cpu(seed)
            ref_out = ref(x, sub)
        assert not close(train_out, ref.eval()(x, sub)), (
            f"AddNorm {kind} with dropout=0.5 in training mode ignores the dropout: apply "
            "nn.Dropout to the sub-layer's output."
        )
        expect_close(
            train_out,
            ref_out,
            f"AddNorm {kind} in training mode (dropout=0.5)",
            hint="apply dropout to the sub-layer's output, before adding x (not to x, "
            "not to the sum).",
        )
        expect_gradients(block, block(x, sub), f"AddNorm {kind}", names=("norm",))


# ----------------------------------------------------------------------------- 3.3


def _torch_layer_out(layer, x, mask, train=True) -> torch.Tensor:
    theirs = to_torch_encoder_layer(layer)
    theirs.train(train)
    with torch.no_grad():
        return theirs(x, src_key_padding_mask=mask)


def _explicit_attention(module: nn.Module) -> None:
    """Run every course MultiHeadAttention inside ``module`` on its explicit path, so its
    attention dropout draws the same random numbers whether or not weights are asked for."""
    for sub in module.modules():
        if hasattr(sub, "fused"):
            sub.fused = False


def _train_mode_matches(ours_fn, reference_fn, seed: int, what: str, hint: str) -> None:
    """In training mode, under the same seed, ``ours_fn()`` must equal ``reference_fn()``."""
    with torch.no_grad():
        seed_cpu(seed)
        ours = ours_fn()
        seed_cpu(seed)
        expected = reference_fn()
        seed_cpu(seed + 1)
        other_draw = reference_fn()
    if close(expected, other_draw):
        raise AssertionError(
            f"{what}: two seeds gave the same output with dropout=0.3, so your module's "
            "dropout layers are missing or off: keep the __init__ you inherit."
        )
    expect_close(ours, expected, what, hint=hint)


def _eval_mode_matches(module: nn.Module, ours_fn, reference_fn, what: str) -> None:
    """Put ``module`` in eval mode: then ``ours_fn()`` is deterministic and equals
    ``reference_fn()`` (no dropout left on)."""
    module.eval()
    with torch.no_grad(), case(what):
        first = ours_fn()
        expect_deterministic(ours_fn, first, what)
        expect_close(
            first,
            reference_fn(),
            what,
            hint="dropout must be off in eval mode: use "
            "the modules' own dropout (nn.Dropout knows the mode); F.dropout(x, p) "
            "drops in eval mode too unless given training=self.training.",
        )


@checker
@own_rng
def check_encoder_layer(EncoderLayerClass, seed: int = 34) -> None:
    """``EncoderLayerClass(d_model, num_heads, d_ff, dropout, norm_first)`` must compute
    what ``nn.TransformerEncoderLayer`` computes, with a padding mask, post- and pre-norm,
    and in training mode (dropout 0.3) what the course's layer computes under the same seed."""
    gen = torch.Generator().manual_seed(seed)
    d, heads, d_ff, batch, seq = 32, 4, 64, 3, 7
    x = torch.randn(batch, seq, d, generator=gen)
    mask = _random_mask(batch, seq, gen)
    real = ~mask
    for norm_first in (False, True):
        kind = "pre-norm" if norm_first else "post-norm"
        seed_cpu(seed)
        layer = EncoderLayerClass(d, heads, d_ff, dropout=0.0, norm_first=norm_first)
        _require(layer, ("self_attn", "feed_forward", "add_norm1", "add_norm2"), "encoder layer")
        what = (
            f"EncoderLayer ({kind}) on x {tuple(x.shape)} with key_padding_mask {tuple(mask.shape)}"
        )
        with torch.no_grad(), case(what):
            out = layer(x, key_padding_mask=mask)
        if isinstance(out, tuple):
            raise AssertionError(
                "forward returned a tuple: return only the output tensor (batch, seq, d_model)."
            )
        expect_shape(out, (batch, seq, d), f"EncoderLayer output ({kind})")
        expected = _torch_layer_out(layer, x, mask)
        other = EncoderLayerClass(d, heads, d_ff, dropout=0.0, norm_first=not norm_first)
        other.load_state_dict(layer.state_dict())
        with torch.no_grad():
            mistakes = {
                "the padding mask is ignored: pass key_padding_mask to "
                "self_attn.": _torch_layer_out(layer, x, None),
                f"norm_first={norm_first} asks for {kind}; your layer computed the other one. "
                "The AddNorm blocks know norm_first: use add_norm1/add_norm2 rather than "
                "writing the norms yourself.": _torch_layer_out(other, x, mask),
            }
        # Compare only real positions: what a layer outputs at padding is meaningless.
        padded_rows = real & mask.any(dim=-1, keepdim=True)  # real tokens of padded rows
        if not close(out[real], expected[real]) and close(
            out[padded_rows], _torch_layer_out(layer, x, ~mask)[padded_rows]
        ):
            raise AssertionError(
                f"{what}: the padding mask is inverted: real tokens attended only to padding."
                "\nHint: key_padding_mask is True at padding (blocked), as in "
                "nn.MultiheadAttention: pass it on unchanged, not ~key_padding_mask or "
                "key_padding_mask == 0."
            )
        expect_close_or_explain(
            out[real],
            expected[real],
            f"EncoderLayer output at real tokens ({kind})",
            {h: m[real] for h, m in mistakes.items()},
            hint="the order is: x = add_norm1(x, self-attention), then "
            "x = add_norm2(x, feed_forward); self-attention uses x as query, key and value.",
        )
    # Training mode: dropout in every block, compared with the course's forward under one seed.
    seed_cpu(seed)
    drop = EncoderLayerClass(d, heads, d_ff, dropout=0.3, norm_first=True).train()
    _explicit_attention(drop)
    what = f"EncoderLayer (pre-norm) in training mode, dropout=0.3, x {tuple(x.shape)}"
    with case(what):
        _train_mode_matches(
            lambda: drop(x, key_padding_mask=mask),
            lambda: CourseEncoderLayer.forward(drop, x, key_padding_mask=mask),
            seed,
            what,
            hint="with dropout on, your layer differs from the course's under the same seed: "
            "call add_norm1(x, self-attention) then add_norm2(x, feed_forward), once each; "
            "the blocks apply dropout to each sub-layer's output and keep the residual.",
        )
    _eval_mode_matches(
        drop,
        lambda: drop(x, key_padding_mask=mask)[real],
        lambda: CourseEncoderLayer.forward(drop, x, key_padding_mask=mask)[real],
        "EncoderLayer (pre-norm) in eval mode, built with dropout=0.3",
    )
    # Padding never changes the outputs at real positions.
    layer.eval()
    longer = torch.cat([x, torch.randn(batch, 3, d, generator=gen)], dim=1)
    longer_mask = torch.cat([mask, torch.ones(batch, 3, dtype=torch.bool)], dim=1)
    with torch.no_grad():
        a = layer(x, key_padding_mask=mask)
        b = layer(longer, key_padding_mask=longer_mask)[:, :seq]
    expect_close(
        b[real],
        a[real],
        "outputs at real tokens after appending 3 padded positions",
        hint="real tokens must not attend to padding: pass key_padding_mask on.",
    )
    # Gradients reach every parameter.
    layer.train()
    layer.zero_grad()
    layer(x, key_padding_mask=mask)[real].pow(2).sum().backward()
    dead = [n for n, p in layer.named_parameters() if p.grad is None or p.grad.abs().sum() == 0]
    assert not dead, (
        f"no gradient reached {', '.join(dead)}: every sub-layer must take part in the output "
        "(did you detach a tensor or skip a block?)."
    )


def _encoder_variant(enc: Encoder, ids, mask, scale=True, pe=True, use_mask=True, final=True):
    """The reference encoder's forward pass with one ingredient changed."""
    x = enc.embedding(ids)
    if scale is True:
        x = x * math.sqrt(enc.d_model)
    elif scale == "divide":
        x = x / math.sqrt(enc.d_model)
    if pe:
        x = enc.positional_encoding(x)
    for layer in enc.layers:
        x = layer(x, key_padding_mask=mask if use_mask else None)
    return enc.norm(x) if final else x


@checker
@own_rng
def check_encoder(EncoderClass, seed: int = 35) -> None:
    """``EncoderClass(vocab_size, d_model, num_heads, d_ff, num_layers, dropout, max_len,
    pad_id, norm_first)``: embeddings * sqrt(d_model) + positional encoding, N layers; in
    training mode (dropout 0.3) what the course's encoder computes under the same seed."""
    gen = torch.Generator().manual_seed(seed)
    vocab, d, heads, d_ff, layers, batch, seq = 50, 32, 4, 64, 2, 3, 9
    ids = torch.randint(1, vocab, (batch, seq), generator=gen)
    mask = _random_mask(batch, seq, gen)
    ids = ids.masked_fill(mask, 0)
    real = ~mask
    for norm_first in (False, True):
        kind = "pre-norm" if norm_first else "post-norm"
        seed_cpu(seed)
        enc = EncoderClass(
            vocab, d, heads, d_ff, layers, dropout=0.0, max_len=64, pad_id=0, norm_first=norm_first
        )
        ref = Encoder(
            vocab, d, heads, d_ff, layers, dropout=0.0, max_len=64, pad_id=0, norm_first=norm_first
        )
        _load_learner_weights(
            ref,
            enc,
            "keep the __init__ of the exercise (embedding, positional_encoding, layers, norm).",
        )
        ref.eval(), enc.eval()
        what = f"Encoder ({kind}) on ids {tuple(ids.shape)} with padding_mask {tuple(mask.shape)}"
        with torch.no_grad(), case(what):
            out = enc(ids, mask)
        with torch.no_grad():
            expected = ref(ids, mask)
            mistakes = {
                "scale the embeddings by sqrt(d_model) before adding the "
                "positional encoding.": _encoder_variant(ref, ids, mask, scale=False),
                "multiply the embeddings by sqrt(d_model); you divided.": _encoder_variant(
                    ref, ids, mask, scale="divide"
                ),
                "the positional encoding is missing: without it the encoder cannot tell word "
                "order (self-attention is permutation-equivariant).": _encoder_variant(
                    ref, ids, mask, pe=False
                ),
                "pass padding_mask to every layer (as key_padding_mask).": _encoder_variant(
                    ref, ids, mask, use_mask=False
                ),
            }
            if norm_first:
                mistakes["a pre-norm stack ends with one more layer norm: return self.norm(x)."] = (
                    _encoder_variant(ref, ids, mask, final=False)
                )
        if isinstance(out, tuple):
            raise AssertionError("forward returned a tuple: return only the output tensor.")
        expect_shape(out, (batch, seq, d), f"Encoder output ({kind})")
        expect_close_or_explain(
            out[real],
            expected[real],
            f"Encoder output at real tokens ({kind})",
            {h: m[real] for h, m in mistakes.items()},
            hint="embed, multiply by sqrt(d_model), add the positional encoding (the module "
            "also applies dropout), run each layer with key_padding_mask=padding_mask, then "
            "self.norm.",
        )
    # Training mode: dropout after the positional encoding and in every layer.
    seed_cpu(seed)
    drop = EncoderClass(
        vocab, d, heads, d_ff, layers, dropout=0.3, max_len=64, pad_id=0, norm_first=True
    ).train()
    _explicit_attention(drop)
    what = f"Encoder (pre-norm) in training mode, dropout=0.3, ids {tuple(ids.shape)}"
    with case(what):
        _train_mode_matches(
            lambda: drop(ids, mask)[real],
            lambda: Encoder.forward(drop, ids, mask)[real],
            seed,
            what,
            hint="with dropout on, your encoder differs from the course's under the same seed: "
            "add the positions with self.positional_encoding(x) (it applies the embedding "
            "dropout; adding the table yourself skips it), then run every layer once.",
        )
    _eval_mode_matches(
        drop,
        lambda: drop(ids, mask)[real],
        lambda: Encoder.forward(drop, ids, mask)[real],
        "Encoder (pre-norm) in eval mode, built with dropout=0.3",
    )


# ----------------------------------------------------------------------------- pooling


@checker
def check_masked_mean_pool(pool, seed: int = 36) -> None:
    """``pool(x, padding_mask)``: the mean of ``x`` over the real (non-padded) positions."""
    gen = torch.Generator().manual_seed(seed)
    batch, seq, d = 4, 6, 5
    x = torch.randn(batch, seq, d, generator=gen) + 3.0  # padded positions hold junk too
    mask = _random_mask(batch, seq, gen)
    with case(f"pool(x, padding_mask) with x {tuple(x.shape)}, padding_mask {tuple(mask.shape)}"):
        out = pool(x, mask)
    expected = masked_mean_pool(x, mask)
    keep = (~mask).unsqueeze(-1).float()
    mistakes = {
        "you averaged over the padded positions too: sum only where padding_mask is False.": x.mean(
            dim=1
        ),
        "you zeroed the padding but divided by the padded length: divide by the number of "
        "real tokens of each row.": (x * keep).sum(dim=1) / seq,
        "that is a sum: divide by the number of real tokens to get a mean.": (x * keep).sum(1),
        "the mask is inverted: True marks padding, so keep the positions where it is False.": (
            x * (1 - keep)
        ).sum(1)
        / (1 - keep).sum(1).clamp(min=1),
    }
    expect_close_or_explain(out, expected, "masked mean of x (4, 6, 5)", mistakes)
    x_leaf = x.clone().requires_grad_(True)
    with case("pool(x, padding_mask) with x requiring grad"):
        pooled = pool(x_leaf, mask)
    if not pooled.requires_grad:
        raise AssertionError(
            "the pooled vectors do not require grad, so the encoder below cannot be trained."
            "\nHint: compute the mean with torch operations on x (no .detach(), .item(), NumPy)."
        )
