"""Module 5: your GPT is GPT-2: copy a ``GPT2LMHeadModel``'s weights into ``DecoderOnlyLM``.

The two models compute the same function once four differences in *layout* are handled:

- GPT-2's ``Conv1D`` stores weights as ``(in, out)``; ``nn.Linear`` as ``(out, in)``:
  transpose every matrix.
- GPT-2 fuses the query, key and value projections into one ``c_attn`` of width
  ``3 * d_model``: split it in three.
- GPT-2 is pre-norm with a final LayerNorm (``ln_f``), GELU in its tanh form ("gelu_new"),
  learned positions and an LM head tied to the token embedding: build the course model with
  ``norm_first=True, activation="gelu_tanh", positional="learned", tie_weights=True``.
"""

from __future__ import annotations

import torch

from course_lib.language_model import DecoderOnlyLM


def decoder_only_lm_for(config) -> DecoderOnlyLM:
    """A course ``DecoderOnlyLM`` shaped like a ``GPT2Config`` (dropout 0: for comparisons)."""
    if config.activation_function not in ("gelu_new", "gelu_pytorch_tanh"):
        raise ValueError(
            f"GPT-2 activation {config.activation_function!r} is not the tanh GELU the course "
            "model offers; use a config with activation_function='gelu_new'."
        )
    return DecoderOnlyLM(
        vocab_size=config.vocab_size,
        d_model=config.n_embd,
        num_heads=config.n_head,
        d_ff=config.n_inner or 4 * config.n_embd,
        num_layers=config.n_layer,
        max_len=config.n_positions,
        dropout=0.0,
        norm_first=True,
        positional="learned",
        activation="gelu_tanh",
        tie_weights=True,
        final_norm=True,
        eps=config.layer_norm_epsilon,
    )


@torch.no_grad()
def load_gpt2_weights(model: DecoderOnlyLM, gpt2) -> DecoderOnlyLM:
    """Copy the weights of ``gpt2`` (a ``GPT2LMHeadModel``) into ``model``, in place.

    ``model`` must have GPT-2's sizes (build it with :func:`decoder_only_lm_for`).
    """
    source = gpt2.transformer
    if len(model.layers) != len(source.h) or model.d_model != source.embed_dim:
        raise ValueError(
            f"size mismatch: the course model has {len(model.layers)} layers of width "
            f"{model.d_model}, GPT-2 {len(source.h)} of width {source.embed_dim}; build the "
            "course model with decoder_only_lm_for(gpt2.config)."
        )
    model.token_embedding.weight.copy_(source.wte.weight)
    model.positional.embedding.weight.copy_(source.wpe.weight)
    for ours, theirs in zip(model.layers, source.h):
        q, k, v = theirs.attn.c_attn.weight.T.chunk(3, dim=0)  # Conv1D (in, 3d) -> 3 x (d, in)
        qb, kb, vb = theirs.attn.c_attn.bias.chunk(3)
        attn = ours.self_attn
        for linear, weight, bias in (
            (attn.q_proj, q, qb),
            (attn.k_proj, k, kb),
            (attn.v_proj, v, vb),
        ):
            linear.weight.copy_(weight)
            linear.bias.copy_(bias)
        attn.out_proj.weight.copy_(theirs.attn.c_proj.weight.T)
        attn.out_proj.bias.copy_(theirs.attn.c_proj.bias)
        ffn = ours.feed_forward
        ffn.linear1.weight.copy_(theirs.mlp.c_fc.weight.T)
        ffn.linear1.bias.copy_(theirs.mlp.c_fc.bias)
        ffn.linear2.weight.copy_(theirs.mlp.c_proj.weight.T)
        ffn.linear2.bias.copy_(theirs.mlp.c_proj.bias)
        ours.add_norm1.norm.load_state_dict(theirs.ln_1.state_dict())
        ours.add_norm2.norm.load_state_dict(theirs.ln_2.state_dict())
    model.final_norm.load_state_dict(source.ln_f.state_dict())
    return model


def decoder_only_lm_from_gpt2(gpt2) -> DecoderOnlyLM:
    """A course ``DecoderOnlyLM`` computing the same logits as ``gpt2`` (in eval mode)."""
    model = decoder_only_lm_for(gpt2.config)
    load_gpt2_weights(model, gpt2)
    return model.to(gpt2.device).eval()
