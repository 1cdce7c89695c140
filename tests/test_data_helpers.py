import pytest
import torch

from course_lib.data import (
    Vocab,
    addition_task,
    collate_labelled,
    collate_pairs,
    make_loader,
    pad_sequences,
    padding_mask,
    reversal_task,
    split_items,
)


def test_reversal_pairs_are_reversed_within_lengths_and_seeded():
    pairs = reversal_task(200, min_len=2, max_len=6, alphabet="abc", seed=3)
    assert all(tgt == src[::-1] for src, tgt in pairs)
    assert {len(src) for src, _ in pairs} == {2, 3, 4, 5, 6}
    assert set("".join(src for src, _ in pairs)) == set("abc")
    assert pairs == reversal_task(200, 2, 6, "abc", seed=3)
    assert pairs != reversal_task(200, 2, 6, "abc", seed=4)


def test_addition_pairs_are_correct_sums_with_digit_counts():
    pairs = addition_task(300, min_digits=2, max_digits=3, seed=1)
    for src, tgt in pairs:
        a, b = src.split("+")
        assert int(a) + int(b) == int(tgt)
        assert 2 <= len(a) <= 3 and 2 <= len(b) <= 3 and not a.startswith("0")
    assert pairs == addition_task(300, 2, 3, seed=1)


@pytest.mark.parametrize(
    "call",
    [
        lambda: reversal_task(5, 4, 3),
        lambda: reversal_task(5, alphabet=""),
        lambda: addition_task(5, 0, 2),
    ],
)
def test_toy_tasks_reject_bad_arguments(call):
    with pytest.raises(ValueError):
        call()


def test_vocab_specials_roundtrip_unknown_and_order():
    vocab = Vocab.build(["abba", "cab"])
    assert vocab.itos[:4] == ["<pad>", "<bos>", "<eos>", "<unk>"] and vocab.pad_id == 0
    assert vocab.itos[4:] == ["a", "b", "c"]  # most frequent first
    ids = vocab.encode("cab", bos=True, eos=True)
    assert ids[0] == vocab.bos_id and ids[-1] == vocab.eos_id
    assert "".join(vocab.decode(ids)) == "cab"
    assert vocab.encode("z") == [vocab.unk_id]
    assert vocab.decode([vocab.stoi["a"], vocab.eos_id, vocab.stoi["b"]]) == ["a"]


def test_vocab_min_freq_max_size_and_words():
    vocab = Vocab.build([s.split() for s in ["the cat", "the dog", "the cat sat"]], min_freq=2)
    assert vocab.itos[4:] == ["the", "cat"]
    assert len(Vocab.build(["abcdef"], max_size=6)) == 6
    with pytest.raises(ValueError, match="first tokens"):
        Vocab(["a", "b"])


def test_pad_sequences_and_padding_mask():
    ids, lengths = pad_sequences([[5, 6, 7], [8], torch.tensor([9, 9])], pad_id=0)
    assert ids.tolist() == [[5, 6, 7], [8, 0, 0], [9, 9, 0]]
    assert lengths.tolist() == [3, 1, 2]
    mask = padding_mask(lengths)
    assert mask.tolist() == [[False, False, False], [False, True, True], [False, False, True]]
    assert padding_mask(lengths, max_len=4)[:, 3].all()


@pytest.mark.parametrize(
    "seqs, error, message",
    [
        ([], ValueError, "at least one"),
        ([[1.5, 2.0]], TypeError, "integers"),
        ([[[1, 2]]], ValueError, "1-D"),
    ],
)
def test_pad_sequences_bad_input_says_what_to_do(seqs, error, message):
    with pytest.raises(error, match=message):
        pad_sequences(seqs)


def test_collate_pairs_and_labelled():
    batch = collate_pairs([([1, 2, 3], [4]), ([5], [6, 7])], pad_id=0)
    assert batch["src"].shape == (2, 3) and batch["tgt"].shape == (2, 2)
    assert batch["src_key_padding_mask"].tolist() == [[False] * 3, [False, True, True]]
    assert batch["tgt_key_padding_mask"].tolist() == [[False, True], [False, False]]
    labelled = collate_labelled([([1, 2], 1), ([3], 0)])
    assert labelled["labels"].tolist() == [1, 0]
    assert labelled["padding_mask"].tolist() == [[False, False], [False, True]]


def test_make_loader_is_seeded_and_pads_with_given_id():
    items = [([i] * (1 + i % 3), [i]) for i in range(20)]
    first = [b["src"].tolist() for b in make_loader(items, 4, shuffle=True, seed=5, pad_id=9)]
    again = [b["src"].tolist() for b in make_loader(items, 4, shuffle=True, seed=5, pad_id=9)]
    assert first == again
    assert any(9 in row for batch in first for row in batch)
    with pytest.raises(ValueError, match="batch_size"):
        make_loader(items, 0)


def test_split_items_is_a_seeded_partition():
    parts = split_items(range(100), (0.8, 0.1, 0.1), seed=2)
    assert [len(p) for p in parts] == [80, 10, 10]
    assert sorted(x for p in parts for x in p) == list(range(100))
    assert parts == split_items(range(100), (0.8, 0.1, 0.1), seed=2)
    with pytest.raises(ValueError, match="sum to 1"):
        split_items(range(10), (0.5, 0.1))
