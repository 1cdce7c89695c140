"""The course's DecoderOnlyLM with a GPT2LMHeadModel's weights gives GPT-2's logits."""

from __future__ import annotations

import pytest
import torch
from transformers import GPT2Config, GPT2LMHeadModel

from course_lib.gpt2 import decoder_only_lm_for, decoder_only_lm_from_gpt2, load_gpt2_weights


def tiny_gpt2(seed: int, **overrides) -> GPT2LMHeadModel:
    sizes = dict(vocab_size=97, n_embd=32, n_layer=2, n_head=4, n_positions=40, bos_token_id=0,
                 eos_token_id=0)
    config = GPT2Config(**{**sizes, **overrides})
    torch.manual_seed(seed)
    model = GPT2LMHeadModel(config).eval()
    with torch.no_grad():  # random layer norms and biases, so every parameter matters
        for name, p in model.named_parameters():
            if name.endswith("bias") or ".ln_" in name:
                p.normal_(0.0 if name.endswith("bias") else 1.0, 0.1)
    return model


@pytest.mark.parametrize("seed", range(3))
def test_same_logits_as_gpt2(seed):
    gpt2 = tiny_gpt2(seed)
    ours = decoder_only_lm_from_gpt2(gpt2)
    ids = torch.randint(0, 97, (3, 25), generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        torch.testing.assert_close(ours(ids), gpt2(ids).logits, atol=1e-4, rtol=1e-4)


def test_the_lm_head_stays_tied_and_every_weight_is_copied():
    gpt2 = tiny_gpt2(1)
    ours = decoder_only_lm_from_gpt2(gpt2)
    assert ours.lm_head.weight is ours.token_embedding.weight
    n_ours = sum(p.numel() for p in ours.parameters())
    assert n_ours == sum(p.numel() for p in gpt2.parameters())


def test_wrong_sizes_and_activation_are_explained():
    with pytest.raises(ValueError, match="decoder_only_lm_for"):
        load_gpt2_weights(decoder_only_lm_for(tiny_gpt2(0, n_layer=1).config), tiny_gpt2(0))
    with pytest.raises(ValueError, match="gelu_new"):
        decoder_only_lm_for(tiny_gpt2(0, activation_function="relu").config)
