"""The character-level name model: shapes, conditioning, loss, sampling, from-scratch LSTM."""

from __future__ import annotations

import math

import pytest
import torch

from course_lib.data import Vocab, make_loader
from course_lib.recurrent.char_model import (
    CharRNN,
    char_lm_loss,
    collate_names,
    encode_names,
    sample,
)
from course_lib.recurrent.lstm import copy_lstm_weights

NAMES = {"A": ["Abba", "Abel", "Adam"], "B": ["Bo", "Bob", "Boris"]}
VOCAB = Vocab.build([n for group in NAMES.values() for n in group])


def test_encode_and_collate():
    items = encode_names(NAMES, VOCAB, ["A", "B"])
    inputs, targets, lang = items[3]
    assert inputs[0] == VOCAB.bos_id and targets[-1] == VOCAB.eos_id and lang == 1
    assert inputs[1:] == targets[:-1]
    batch = collate_names(items[:3])
    assert batch["inputs"].shape == batch["targets"].shape == (3, 5)
    assert batch["languages"].tolist() == [0, 0, 0]


@pytest.mark.parametrize("languages", [0, 2])
def test_untrained_loss_near_uniform_and_training_lowers_it(languages):
    torch.manual_seed(0)
    model = CharRNN(len(VOCAB), 8, 16, num_languages=languages)
    items = encode_names(NAMES, VOCAB, ["A", "B"])
    batch = next(iter(make_loader(items, 6, collate=collate_names)))
    first = char_lm_loss(model, batch).item()
    assert abs(first - math.log(len(VOCAB))) < 0.3
    opt = torch.optim.Adam(model.parameters(), lr=0.05)
    for _ in range(60):
        loss = char_lm_loss(model, batch)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 0.5 * first


def test_conditioned_model_needs_languages():
    model = CharRNN(len(VOCAB), 8, 16, num_languages=2)
    with pytest.raises(ValueError, match="pass languages"):
        model(torch.ones(1, 3, dtype=torch.long))
    with pytest.raises(ValueError, match="pass language"):
        sample(model, VOCAB, n=2)


def test_sample_is_seeded_and_temperature_sharpens():
    torch.manual_seed(1)
    model = CharRNN(len(VOCAB), 8, 16)
    a = sample(model, VOCAB, n=5, temperature=1.0, generator=torch.Generator().manual_seed(3))
    b = sample(model, VOCAB, n=5, temperature=1.0, generator=torch.Generator().manual_seed(3))
    assert a == b and len(a) == 5 and all(isinstance(s, str) for s in a)
    cold = sample(model, VOCAB, n=20, temperature=0.01, generator=torch.Generator().manual_seed(4))
    assert len(set(cold)) == 1  # near-zero temperature is greedy: every sample the same
    with pytest.raises(ValueError, match="temperature"):
        sample(model, VOCAB, temperature=0.0)


def test_from_scratch_lstm_gives_the_same_logits():
    torch.manual_seed(2)
    fast = CharRNN(len(VOCAB), 8, 16, num_languages=2)
    slow = CharRNN(len(VOCAB), 8, 16, num_languages=2, from_scratch=True)
    shared = {k: v for k, v in fast.state_dict().items() if not k.startswith("rnn.")}
    slow.load_state_dict(shared, strict=False)
    copy_lstm_weights(fast.rnn, slow.rnn)
    ids, langs = torch.randint(4, len(VOCAB), (3, 6)), torch.tensor([0, 1, 1])
    torch.testing.assert_close(slow(ids, langs)[0], fast(ids, langs)[0])
