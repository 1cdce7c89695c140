"""Greedy and beam decoding: cached == uncached, beam 1 == greedy, EOS per row, padding."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from course_lib.data import padding_mask
from course_lib.decoding import (
    beam_search,
    length_penalty_factor,
    predict_strings,
    transformer_greedy_decode,
)
from course_lib.transformer import Transformer

V, BOS, EOS, PAD = 15, 1, 2, 0


def random_model(seed: int, norm_first: bool = False) -> Transformer:
    torch.manual_seed(seed)
    model = Transformer(V, V, 32, 4, 64, 2, 2, dropout=0.1, norm_first=norm_first)
    with torch.no_grad():  # make <eos> rare so that outputs run long
        model.output.bias[EOS] = -3.0
    return model


def random_src(seed: int):
    gen = torch.Generator().manual_seed(seed)
    src = torch.randint(3, V, (4, 7), generator=gen)
    mask = padding_mask(torch.tensor([7, 3, 5, 6]), 7)
    return src.masked_fill(mask, PAD), mask


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("norm_first", [False, True])
def test_cached_greedy_equals_uncached_token_for_token(seed, norm_first):
    model = random_model(seed, norm_first)
    src, mask = random_src(seed)
    cached = transformer_greedy_decode(model, src, mask, BOS, EOS, max_len=12, use_cache=True)
    uncached = transformer_greedy_decode(model, src, mask, BOS, EOS, max_len=12, use_cache=False)
    assert cached.shape[0] == 4 and 1 <= cached.shape[1] <= 12
    assert torch.equal(cached, uncached)
    assert model.training  # the mode is restored


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_beam_size_one_equals_greedy(seed):
    model = random_model(seed)
    src, mask = random_src(seed)
    greedy = transformer_greedy_decode(model, src, mask, BOS, EOS, max_len=10)
    for use_cache in (True, False):
        beam = beam_search(model, src, mask, BOS, EOS, 10, beam_size=1, use_cache=use_cache)
        assert torch.equal(beam, greedy)


@pytest.mark.parametrize("seed", [0, 1])
def test_beam_cached_equals_uncached_and_scores_at_least_greedy(seed):
    model = random_model(seed).eval()
    src, mask = random_src(seed)
    cached = beam_search(model, src, mask, BOS, EOS, 8, beam_size=4, length_penalty=0.0)
    uncached = beam_search(model, src, mask, BOS, EOS, 8, 4, 0.0, use_cache=False)
    assert torch.equal(cached, uncached)
    greedy = transformer_greedy_decode(model, src, mask, BOS, EOS, max_len=8)

    def log_prob(ids):  # summed log-probability of each row's output, up to its <eos>
        tgt_in = torch.cat([torch.full((4, 1), BOS), ids[:, :-1]], dim=1)
        logp = model(src, tgt_in, mask).log_softmax(-1).gather(-1, ids[..., None])[..., 0]
        ended = (ids == EOS).long().cumsum(1) - (ids == EOS).long()
        return logp.masked_fill(ended > 0, 0.0).sum(1)

    assert (log_prob(cached) >= log_prob(greedy) - 1e-4).all()


class ScriptedModel(nn.Module):
    """A fake model whose row r always predicts script[r][t] at step t (then <eos>)."""

    pad_id = PAD

    def __init__(self, scripts: list[list[int]]):
        super().__init__()
        self.scripts = scripts

    def encode(self, src, src_key_padding_mask=None):
        return torch.arange(len(src), dtype=torch.float)[:, None, None]  # row index as memory

    def new_cache(self):
        return None

    def decode(self, tgt_in, memory, memory_key_padding_mask=None, cache=None):
        step = tgt_in.shape[1] - 1
        logits = torch.zeros(len(tgt_in), tgt_in.shape[1], V)
        for i, row in enumerate(memory[:, 0, 0].long().tolist()):
            script = self.scripts[row] + [EOS]
            logits[i, -1, script[min(step, len(script) - 1)]] = 5.0
        return logits


def test_rows_stop_at_their_own_eos_and_are_padded():
    model = ScriptedModel([[5, 6, 7, 8], [9], [3, 4]])
    src = torch.ones(3, 2, dtype=torch.long)
    out = transformer_greedy_decode(model, src, None, BOS, EOS, max_len=10, use_cache=False)
    assert out.tolist() == [
        [5, 6, 7, 8, EOS], [9, EOS, PAD, PAD, PAD], [3, 4, EOS, PAD, PAD]
    ]
    cut = transformer_greedy_decode(model, src, None, BOS, EOS, max_len=3, use_cache=False)
    assert cut.tolist() == [[5, 6, 7], [9, EOS, PAD], [3, 4, EOS]]
    beam = beam_search(model, src, None, BOS, EOS, 10, beam_size=3, use_cache=False)
    assert torch.equal(beam, out)


def test_length_penalty():
    lengths = torch.tensor([1, 5, 10])
    torch.testing.assert_close(length_penalty_factor(lengths, 0.0), torch.ones(3))
    torch.testing.assert_close(length_penalty_factor(torch.tensor([1]), 0.6), torch.ones(1))
    assert (length_penalty_factor(lengths, 0.6).diff() > 0).all()


def test_bad_inputs_have_clear_errors():
    model = random_model(0)
    src, mask = random_src(0)
    with pytest.raises(ValueError, match="src_key_padding_mask"):
        transformer_greedy_decode(model, src, mask[:, :3], BOS, EOS, 5)
    with pytest.raises(ValueError, match="beam_size"):
        beam_search(model, src, mask, BOS, EOS, 5, beam_size=0)
    with pytest.raises(ValueError, match="max_len"):
        transformer_greedy_decode(model, src, mask, BOS, EOS, 0)


def test_predict_strings_reads_up_to_eos():
    from course_lib.data import Vocab

    vocab = Vocab.build(["abc"])
    a, b, c = (vocab.stoi[ch] for ch in "abc")
    model = ScriptedModel([[a, b], [c, c, c]])
    assert predict_strings(model, ["ab", "abc"], vocab, max_len=8) == ["ab", "ccc"]
    assert predict_strings(model, ["ab", "abc"], vocab, max_len=8, beam_size=2) == ["ab", "ccc"]
    assert predict_strings(model, ["ab", "abc"], vocab, max_len=2) == ["ab", "cc"]
