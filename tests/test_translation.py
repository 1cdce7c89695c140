"""The Multi30k pipeline: tokenizer, token-budget batches, loss, decoding helpers, BLEU."""

from __future__ import annotations

import random

import pytest
import torch

from course_lib.data import load_multi30k
from course_lib.translation import (
    BOS_ID,
    EOS_ID,
    PAD_ID,
    SPECIAL_TOKENS,
    TorchTransformer,
    bucketed_loader,
    corpus_bleu,
    real_tokens,
    recurrent_translator,
    token_budget_batches,
    tokenize_pairs,
    tokenizer_for_pairs,
    translate,
    translation_loss,
)


@pytest.fixture(scope="module")
def pairs():
    return load_multi30k("train")[:3000]


@pytest.fixture(scope="module")
def tokenizer(pairs):
    return tokenizer_for_pairs(pairs, vocab_size=1000)


def test_tokenizer_round_trip_and_special_ids(pairs, tokenizer):
    for token, expected in zip(SPECIAL_TOKENS, (PAD_ID, 1, BOS_ID, EOS_ID), strict=True):
        assert tokenizer.token_to_id(token) == expected
    test = load_multi30k("test_2016_flickr")[:200]
    texts = [s for pair in pairs[:500] + test for s in pair]  # unseen text, umlauts, punctuation
    for text in texts:
        assert tokenizer.decode(tokenizer.encode(text).ids) == text
    # subwords: fewer tokens than characters, and a shared vocabulary covers both languages
    de, en = pairs[0]
    assert len(tokenizer.encode(de).ids) < len(de) / 2
    assert tokenizer.get_vocab_size() == 1000


def test_tokenize_pairs_appends_eos_and_drops_only_long_pairs(pairs, tokenizer):
    encoded = tokenize_pairs(tokenizer, pairs[:100])
    assert len(encoded) == 100
    assert all(t[-1] == EOS_ID and EOS_ID not in s for s, t in encoded)
    short = tokenize_pairs(tokenizer, pairs[:100], max_tokens=12)
    assert 0 < len(short) < 100
    assert all(max(len(s), len(t)) <= 12 for s, t in short)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("shuffle", [False, True])
def test_token_budget_batches_cover_every_pair_once_within_budget(seed, shuffle):
    rng = random.Random(seed)
    lengths = [(rng.randint(1, 40), rng.randint(1, 40)) for _ in range(1000)] + [(90, 3)]
    budget = 80 + 37 * seed
    batches = token_budget_batches(lengths, budget, shuffle=shuffle, seed=seed)
    flat = sorted(i for batch in batches for i in batch)
    assert flat == list(range(len(lengths)))
    for batch in batches:
        padded = len(batch) * max(max(lengths[i]) for i in batch)
        assert padded <= budget or len(batch) == 1  # a pair longer than the budget goes alone
    # length bucketing: little padding (random batches of this size would be ~50% padding)
    real = sum(max(s, t) for s, t in lengths)
    padded = sum(len(b) * max(max(lengths[i]) for i in b) for b in batches)
    assert real / padded > 0.9


def test_token_budget_batches_shuffle_is_seeded_and_changes_order():
    lengths = [(i % 30 + 1, i % 17 + 1) for i in range(500)]
    a = token_budget_batches(lengths, 200, shuffle=True, seed=3)
    assert a == token_budget_batches(lengths, 200, shuffle=True, seed=3)
    assert a != token_budget_batches(lengths, 200, shuffle=True, seed=4)
    with pytest.raises(ValueError, match="max_tokens"):
        token_budget_batches(lengths, 0)


def test_bucketed_loader_batches_and_reshuffles_each_pass(pairs, tokenizer):
    encoded = tokenize_pairs(tokenizer, pairs[:600])
    loader = bucketed_loader(encoded, max_tokens=500, seed=0)
    first = [b["src"].tolist() for b in loader]
    second = [b["src"].tolist() for b in loader]
    assert first != second  # a new order each epoch
    loader.batch_sampler.set_epoch(1)  # what the training engine does when it resumes
    assert [b["src"].tolist() for b in loader] == second
    assert len(loader) == len(first)
    assert sum(len(b) for b in first) == 600
    for batch in loader:
        assert batch["src"].shape[0] * max(batch["src"].shape[1], batch["tgt"].shape[1]) <= 500
        assert (batch["src"][batch["src_key_padding_mask"]] == PAD_ID).all()
    assert sum(real_tokens(b) for b in loader) == sum(len(s) + len(t) for s, t in encoded)
    with pytest.raises(ValueError, match="no pairs"):
        bucketed_loader([])


def test_corpus_bleu_is_cased_sacrebleu():
    refs = ["A man is riding a horse .", "Two dogs play in the snow."]
    assert corpus_bleu(refs, refs) == pytest.approx(100.0)
    assert corpus_bleu([r.lower() for r in refs], refs) < 100.0  # cased
    assert corpus_bleu(["A man rides a horse.", "Dogs play in snow."], refs) < 50.0
    with pytest.raises(ValueError, match="references"):
        corpus_bleu(refs, refs[:1])


def _model(seed=0, vocab=50):
    torch.manual_seed(seed)
    return TorchTransformer(vocab, vocab, 16, 2, 32, 2, 2, dropout=0.0).eval()


def test_torch_transformer_padding_never_changes_real_positions():
    model = _model()
    src = torch.randint(4, 50, (1, 7))
    tgt = torch.randint(4, 50, (1, 5))
    alone = model(src, tgt)
    src_pad = torch.cat([src, torch.full((1, 4), PAD_ID)], dim=1)
    tgt_pad = torch.cat([tgt, torch.full((1, 3), PAD_ID)], dim=1)
    src_mask, tgt_mask = src_pad == PAD_ID, tgt_pad == PAD_ID
    padded = model(src_pad, tgt_pad, src_mask, tgt_mask)
    torch.testing.assert_close(padded[:, :5], alone, atol=1e-5, rtol=1e-5)


def test_torch_transformer_is_causal_and_ties_output():
    model = _model(seed=1)
    src, tgt = torch.randint(4, 50, (2, 6)), torch.randint(4, 50, (2, 8))
    changed = tgt.clone()
    changed[:, 5] = (changed[:, 5] + 1 - 4) % 46 + 4
    torch.testing.assert_close(model(src, changed)[:, :5], model(src, tgt)[:, :5])
    assert not torch.allclose(model(src, changed)[:, 5], model(src, tgt)[:, 5])
    assert model.output.weight is model.tgt_embedding.weight
    with pytest.raises(ValueError, match="int64"):
        model(src.float(), tgt)


@pytest.mark.parametrize("attention", [False, True])
def test_translation_loss_trains_recurrent_models_and_skips_padding(pairs, tokenizer, attention):
    torch.manual_seed(0)
    model = recurrent_translator(tokenizer.get_vocab_size(), 16, 32, attention)
    batch = next(iter(bucketed_loader(tokenize_pairs(tokenizer, pairs[:64]), 400, shuffle=False)))
    loss = translation_loss(model, batch)
    assert loss.item() == pytest.approx(torch.log(torch.tensor(1000.0)).item(), rel=0.1)
    smoothed = translation_loss(model, batch, label_smoothing=0.1)
    assert smoothed.item() != loss.item()
    # extra padding columns change nothing
    wider = {k: v for k, v in batch.items()}
    wider["tgt"] = torch.cat([batch["tgt"], torch.full_like(batch["tgt"][:, :2], PAD_ID)], 1)
    torch.testing.assert_close(translation_loss(model, wider), loss)


def test_translate_returns_text_in_input_order(pairs, tokenizer):
    torch.manual_seed(0)
    model = recurrent_translator(tokenizer.get_vocab_size(), 16, 32, attention=True)
    sources = [de for de, _ in pairs[:9]]
    out = translate(model, sources, tokenizer, max_extra_tokens=3, batch_size=4)
    assert len(out) == 9 and all(isinstance(s, str) for s in out)
    one_by_one = [translate(model, [s], tokenizer, max_extra_tokens=3)[0] for s in sources[:3]]
    assert out[:3] == one_by_one
    with pytest.raises(ValueError, match="empty sentence"):
        translate(model, [""], tokenizer)


def test_translate_transformers_greedy_equals_beam_of_one(pairs, tokenizer):
    from course_lib.transformer import Transformer

    vocab = tokenizer.get_vocab_size()
    sources = [de for de, _ in pairs[:6]]
    for build in (Transformer, TorchTransformer):
        torch.manual_seed(0)
        model = build(vocab, vocab, 16, 2, 32, 1, 1, dropout=0.0, share_embeddings=True)
        greedy = translate(model, sources, tokenizer, max_extra_tokens=4)
        assert greedy == translate(model, sources, tokenizer, beam_size=1, max_extra_tokens=4)
        assert len(greedy) == 6 and all(isinstance(s, str) for s in greedy)
    with pytest.raises(ValueError, match="use_cache=False"):
        model.decode(torch.ones(1, 2, dtype=torch.long), torch.zeros(1, 3, 16), cache=object())


def test_translation_loss_of_a_transformer_ignores_padding(pairs, tokenizer):
    model = _model(vocab=tokenizer.get_vocab_size())
    encoded = tokenize_pairs(tokenizer, pairs[:8])
    batch = next(iter(bucketed_loader(encoded, 10_000, shuffle=False)))
    loss = translation_loss(model, batch, label_smoothing=0.1)
    per_pair = [translation_loss(model, next(iter(bucketed_loader([p], 100, shuffle=False))), 0.1)
                for p in encoded]
    tokens = torch.tensor([len(t) for _, t in encoded], dtype=torch.float)
    weighted = (torch.stack(per_pair) * tokens).sum() / tokens.sum()  # a mean over tokens
    torch.testing.assert_close(loss, weighted, atol=1e-5, rtol=1e-5)
