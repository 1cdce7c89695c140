"""Modules 2-4: the course's layers to and from PyTorch's, weights copied, so that the
equality tests and the lessons can show both compute the same function.

``nn.MultiheadAttention`` packs the q, k, v projections into one ``in_proj_weight`` (rows in
the order Q, K, V); ``nn.TransformerEncoderLayer`` / ``nn.TransformerDecoderLayer`` call the
feed-forward ``linear1``/``linear2`` and the norms ``norm1``...; ``nn.Transformer`` has no
embeddings nor output layer. Everything else is the same layer.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING

import torch
from torch import nn

from course_lib.attention import MultiHeadAttention
from course_lib.feed_forward import ACTIVATIONS

if TYPE_CHECKING:
    from course_lib.decoder import DecoderLayer
    from course_lib.encoder import TransformerBlock
    from course_lib.transformer import Transformer


@torch.no_grad()
def load_torch_mha(
    layer: MultiHeadAttention, torch_mha: nn.MultiheadAttention
) -> MultiHeadAttention:
    """Copy the weights of ``torch_mha`` into the course's ``layer`` (in place); returns it."""
    if not isinstance(torch_mha, nn.MultiheadAttention):
        raise TypeError(f"expected nn.MultiheadAttention, got {type(torch_mha).__name__}")
    if (torch_mha.embed_dim, torch_mha.num_heads) != (layer.d_model, layer.num_heads):
        raise ValueError(
            f"nn.MultiheadAttention has embed_dim={torch_mha.embed_dim}, "
            f"num_heads={torch_mha.num_heads}; this layer has d_model={layer.d_model}, "
            f"num_heads={layer.num_heads}"
        )
    if not torch_mha._qkv_same_embed_dim or torch_mha.bias_k is not None or torch_mha.add_zero_attn:
        raise ValueError(
            "only nn.MultiheadAttention without kdim/vdim, add_bias_kv and "
            "add_zero_attn can be copied"
        )
    has_bias = torch_mha.in_proj_bias is not None
    if has_bias != (layer.q_proj.bias is not None):
        raise ValueError(f"bias mismatch: nn.MultiheadAttention has bias={has_bias}")
    projections = (layer.q_proj, layer.k_proj, layer.v_proj)
    for proj, weight in zip(projections, torch_mha.in_proj_weight.chunk(3), strict=True):
        proj.weight.copy_(weight)
    if has_bias:
        for proj, bias in zip(projections, torch_mha.in_proj_bias.chunk(3), strict=True):
            proj.bias.copy_(bias)
        layer.out_proj.bias.copy_(torch_mha.out_proj.bias)
    layer.out_proj.weight.copy_(torch_mha.out_proj.weight)
    return layer


def mha_from_torch(torch_mha: nn.MultiheadAttention, fused: bool = False) -> MultiHeadAttention:
    """A course ``MultiHeadAttention`` with the weights (and dropout) of ``torch_mha``."""
    layer = MultiHeadAttention(
        torch_mha.embed_dim,
        torch_mha.num_heads,
        dropout=torch_mha.dropout,
        bias=torch_mha.in_proj_bias is not None,
        fused=fused,
    )
    return load_torch_mha(layer.to(torch_mha.in_proj_weight), torch_mha)


@torch.no_grad()
def copy_mha_to_torch(
    layer: MultiHeadAttention, torch_mha: nn.MultiheadAttention
) -> nn.MultiheadAttention:
    """Copy ``layer``'s q/k/v/out projections into ``torch_mha``'s packed weights; returns it."""
    torch_mha.in_proj_weight.copy_(
        torch.cat([layer.q_proj.weight, layer.k_proj.weight, layer.v_proj.weight])
    )
    torch_mha.out_proj.weight.copy_(layer.out_proj.weight)
    if layer.q_proj.bias is not None:
        torch_mha.in_proj_bias.copy_(
            torch.cat([layer.q_proj.bias, layer.k_proj.bias, layer.v_proj.bias])
        )
        torch_mha.out_proj.bias.copy_(layer.out_proj.bias)
    return torch_mha


def mha_to_torch(layer: MultiHeadAttention) -> nn.MultiheadAttention:
    """An ``nn.MultiheadAttention(batch_first=True)`` with ``layer``'s weights."""
    torch_mha = nn.MultiheadAttention(
        layer.d_model,
        layer.num_heads,
        dropout=layer.dropout.p,
        bias=layer.q_proj.bias is not None,
        batch_first=True,
    ).to(layer.q_proj.weight)
    return copy_mha_to_torch(layer, torch_mha)


def _require_parts(layer: nn.Module, kind: str, names: tuple[str, ...]) -> None:
    """A clear error when a learner's ``kind`` layer renamed a part the copy needs."""
    for name in names:
        if not hasattr(layer, name):
            raise AttributeError(
                f"the {kind.lower()} layer has no attribute {name!r}: keep the attribute names "
                f"of {kind}Layer.__init__ ({', '.join(names)})."
            )


def _torch_layer_settings(layer: nn.Module) -> dict:
    """The arguments that build PyTorch's encoder or decoder layer with ``layer``'s sizes,
    dropout, ``norm_first``, eps and activation."""
    ffn = layer.feed_forward
    return dict(
        d_model=layer.self_attn.d_model,
        nhead=layer.self_attn.num_heads,
        dim_feedforward=ffn.linear1.out_features,
        dropout=ffn.dropout.p,
        batch_first=True,
        norm_first=layer.add_norm1.norm_first,
        layer_norm_eps=layer.add_norm1.norm.eps,
        activation=ACTIVATIONS[ffn.activation],
    )


@torch.no_grad()
def _copy_feed_forward_and_norms(layer: nn.Module, theirs: nn.Module, norms: int) -> None:
    """``linear1``, ``linear2`` and ``norm1..norm{norms}`` of ``theirs`` from ``layer``."""
    pairs = [
        (layer.feed_forward.linear1, theirs.linear1),
        (layer.feed_forward.linear2, theirs.linear2),
    ]
    pairs += [
        (getattr(layer, f"add_norm{i}").norm, getattr(theirs, f"norm{i}"))
        for i in range(1, norms + 1)
    ]
    for mine, torch_module in pairs:
        torch_module.weight.copy_(mine.weight)
        torch_module.bias.copy_(mine.bias)


def to_torch_encoder_layer(layer: TransformerBlock) -> nn.TransformerEncoderLayer:
    """An ``nn.TransformerEncoderLayer`` (batch first) holding a copy of ``layer``'s weights.

    Same sizes, dropout, ``norm_first``, eps and activation; the two compute the same function.
    """
    _require_parts(layer, "Encoder", ("self_attn", "feed_forward", "add_norm1", "add_norm2"))
    theirs = nn.TransformerEncoderLayer(**_torch_layer_settings(layer))
    copy_mha_to_torch(layer.self_attn, theirs.self_attn)
    _copy_feed_forward_and_norms(layer, theirs, norms=2)
    return theirs.to(next(layer.parameters()).device)


def to_torch_decoder_layer(layer: DecoderLayer) -> nn.TransformerDecoderLayer:
    """An ``nn.TransformerDecoderLayer`` (batch first) holding a copy of ``layer``'s weights.

    Same sizes, dropout, ``norm_first``, eps and activation; the two compute the same function.
    """
    names = ("self_attn", "cross_attn", "feed_forward", "add_norm1", "add_norm2", "add_norm3")
    _require_parts(layer, "Decoder", names)
    theirs = nn.TransformerDecoderLayer(**_torch_layer_settings(layer))
    copy_mha_to_torch(layer.self_attn, theirs.self_attn)
    copy_mha_to_torch(layer.cross_attn, theirs.multihead_attn)
    _copy_feed_forward_and_norms(layer, theirs, norms=3)
    return theirs.to(next(layer.parameters()).device)


def to_torch_transformer(model: Transformer) -> nn.Transformer:
    """An ``nn.Transformer`` (batch first) whose encoder and decoder stacks hold copies of
    ``model``'s layers.

    ``nn.Transformer`` has no embeddings nor output layer: feed it ``model.encoder.embed(src)``
    and ``model.decoder.embed(tgt_in)`` and apply ``model.output`` to its result. It always
    ends each stack with a LayerNorm; for a post-norm model (the paper, no final norm) those
    are removed, for a pre-norm one they receive ``model``'s final norms.
    """
    first_enc = model.encoder.layers[0]
    with warnings.catch_warnings():  # pre-norm: "enable_nested_tensor is True, but ..."
        warnings.simplefilter("ignore", UserWarning)
        theirs = nn.Transformer(
            d_model=model.encoder.d_model,
            nhead=first_enc.self_attn.num_heads,
            num_encoder_layers=len(model.encoder.layers),
            num_decoder_layers=len(model.decoder.layers),
            dim_feedforward=first_enc.feed_forward.linear1.out_features,
            dropout=first_enc.feed_forward.dropout.p,
            batch_first=True,
            norm_first=first_enc.add_norm1.norm_first,
        )
    theirs.encoder.layers = nn.ModuleList(to_torch_encoder_layer(m) for m in model.encoder.layers)
    theirs.decoder.layers = nn.ModuleList(to_torch_decoder_layer(m) for m in model.decoder.layers)
    for mine, stack in ((model.encoder.norm, theirs.encoder), (model.decoder.norm, theirs.decoder)):
        if isinstance(mine, nn.LayerNorm):
            stack.norm.load_state_dict(mine.state_dict())
        else:
            stack.norm = None
    return theirs.to(model.output.weight.device)
