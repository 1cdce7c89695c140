"""benchmarks/initial_weights.py: the four variants differ only where they claim to."""

from __future__ import annotations

import math

import pytest
import torch

from course_lib.data import load_multi30k
from course_lib.machinery.profiles import sizes_for
from course_lib.translation import bucketed_loader, tokenize_pairs, tokenizer_for_pairs

SIZES = sizes_for(4, "ci")["translation"]


@pytest.fixture(scope="module")
def script(load_script):
    return load_script("benchmarks/initial_weights.py")


@pytest.fixture(scope="module")
def models(script):
    return script.variants(600, SIZES)


def test_only_the_copied_variant_starts_from_the_from_scratch_weights(script, models):
    scratch = models[script.FROM_SCRATCH]
    as_built, copied = models[script.AS_BUILT], models[script.COPIED]
    first = scratch.encoder.layers[0].feed_forward.linear2.weight
    assert torch.equal(copied.transformer.encoder.layers[0].linear2.weight, first)
    assert not torch.equal(as_built.transformer.encoder.layers[0].linear2.weight, first)
    last = scratch.decoder.layers[-1].feed_forward.linear1.weight
    assert torch.equal(copied.transformer.decoder.layers[-1].linear1.weight, last)
    # xavier-uniform draws a wider range than nn.Linear's default for the 4x-wide layer
    assert as_built.transformer.encoder.layers[0].linear2.weight.abs().max() > first.abs().max()


def test_final_layer_norms_removed_only_where_said(script, models):
    assert models[script.NO_FINAL_NORMS].transformer.encoder.norm is None
    assert models[script.NO_FINAL_NORMS].transformer.decoder.norm is None
    for name in (script.AS_BUILT, script.COPIED):
        assert isinstance(models[name].transformer.encoder.norm, torch.nn.LayerNorm), name


def test_final_losses_and_markdown(script):
    pairs = load_multi30k("train")[:200]
    tokenizer = tokenizer_for_pairs(pairs, SIZES["vocab_size"])
    loader = bucketed_loader(tokenize_pairs(tokenizer, pairs), SIZES["batch_tokens"])
    models = script.variants(tokenizer.get_vocab_size(), SIZES)
    losses = script.final_losses(models, loader, SIZES, steps=3, last=2)
    assert list(losses) == list(models)
    assert all(math.isfinite(v) and 0 < v < 2 * math.log(tokenizer.get_vocab_size())
               for v in losses.values())
    with pytest.raises(ValueError, match="last <= steps"):
        script.final_losses(models, loader, SIZES, steps=2, last=3)
    about = {"date_utc": "2026-12-06 00:00 UTC", "platform": "test", "cpu_count": 2,
             "torch_threads": 2, "torch": torch.__version__}
    text = script.to_markdown(losses, 3, "ci", about, last=2)
    assert "of steps 2-3," in text and "--steps 3" in text
    assert all(f"| {name} | {loss:.3f} |" in text for name, loss in losses.items())
