"""Module 4's greedy decoding on a T5 gives generate's tokens; beam search runs on it."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from transformers import T5Config, T5ForConditionalGeneration

from course_lib.decoding import beam_search, transformer_greedy_decode
from course_lib.seq2seq_adapter import HuggingFaceSeq2Seq


def tiny_t5(seed: int) -> T5ForConditionalGeneration:
    config = T5Config(vocab_size=40, d_model=32, d_ff=64, d_kv=8, num_heads=4, num_layers=2,
                      pad_token_id=0, eos_token_id=1, decoder_start_token_id=0)
    torch.manual_seed(seed)
    return T5ForConditionalGeneration(config).eval()


def batch(seed: int):
    gen = torch.Generator().manual_seed(seed)
    src = torch.randint(2, 40, (4, 9), generator=gen)
    mask = torch.zeros_like(src, dtype=torch.bool)
    mask[1, 6:] = True
    mask[3, 3:] = True
    return src.masked_fill(mask, 0), mask


def strip(row: torch.Tensor) -> list[int]:
    ids = row.tolist()
    return ids[: ids.index(1) + 1] if 1 in ids else ids


@pytest.mark.parametrize("seed", range(3))
def test_greedy_decode_equals_generate(seed):
    model = tiny_t5(seed)
    adapter = HuggingFaceSeq2Seq(model)
    src, mask = batch(seed)
    ours = transformer_greedy_decode(adapter, src, mask, adapter.bos_id, adapter.eos_id, 12,
                                     use_cache=False)
    theirs = model.generate(input_ids=src, attention_mask=(~mask).long(), max_new_tokens=12,
                            do_sample=False, num_beams=1)[:, 1:]  # drop the start token
    assert [strip(r) for r in ours] == [strip(r) for r in theirs]


def test_the_wrapped_model_stays_in_eval_mode():
    model = tiny_t5(0)
    src, mask = batch(0)
    transformer_greedy_decode(HuggingFaceSeq2Seq(model), src, mask, 0, 1, 3, use_cache=False)
    assert not model.training


def test_beam_search_runs_and_a_beam_of_one_is_greedy():
    model = tiny_t5(0)
    adapter = HuggingFaceSeq2Seq(model)
    src, mask = batch(0)
    greedy = transformer_greedy_decode(adapter, src, mask, 0, 1, 10, use_cache=False)
    one = beam_search(adapter, src, mask, 0, 1, 10, beam_size=1, use_cache=False)
    assert [strip(r) for r in one] == [strip(r) for r in greedy]
    assert beam_search(adapter, src, mask, 0, 1, 10, beam_size=3, use_cache=False).shape[0] == 4


def test_clear_errors():
    not_seq2seq = nn.Linear(2, 2)
    not_seq2seq.config = object()
    with pytest.raises(TypeError, match="not an encoder-decoder"):
        HuggingFaceSeq2Seq(not_seq2seq)
    adapter = HuggingFaceSeq2Seq(tiny_t5(0))
    with pytest.raises(ValueError, match="use_cache=False"):
        adapter.decode(torch.zeros(1, 1, dtype=torch.long), torch.zeros(1, 2, 32), None, cache=[])
