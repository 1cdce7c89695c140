"""BPE from scratch learns the merges Hugging Face tokenizers learns, ties included."""

from __future__ import annotations

import json
import random
from collections import Counter

import pytest
from tokenizers import Tokenizer, models, pre_tokenizers, trainers

from course_lib.bpe import (
    bpe_split,
    byte_level_bpe,
    learn_bpe_merges,
    merge_pair,
    token_byte_lengths,
)


def tokenizers_merges(word_counts: dict[str, int], num_merges: int) -> list[tuple[str, str]]:
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    alphabet = {c for w in word_counts for c in w}
    trainer = trainers.BpeTrainer(vocab_size=len(alphabet) + num_merges, show_progress=False)
    tokenizer.train_from_iterator([w for w, c in word_counts.items() for _ in range(c)], trainer)
    merges = json.loads(tokenizer.to_str())["model"]["merges"]
    return [tuple(m) if isinstance(m, list) else tuple(m.split(" ")) for m in merges]


def random_corpus(seed: int) -> dict[str, int]:
    rng = random.Random(seed)
    words = ["".join(rng.choice("abcdef") for _ in range(rng.randint(1, 8))) for _ in range(15)]
    return dict(Counter({w: rng.randint(1, 6) for w in words}))


TOY = {"low": 5, "lower": 2, "newest": 6, "widest": 3}  # Sennrich et al.'s example


@pytest.mark.parametrize("seed", range(25))
def test_merges_equal_tokenizers_on_random_corpora(seed):
    corpus = random_corpus(seed)
    assert learn_bpe_merges(corpus, 15) == tokenizers_merges(corpus, 15)


def test_merges_equal_tokenizers_on_the_toy_corpus():
    ours = learn_bpe_merges(TOY, 10)
    assert ours == tokenizers_merges(TOY, 10)
    assert ours[:3] == [("e", "s"), ("es", "t"), ("l", "o")]


def test_ties_follow_the_id_rule_not_string_order():
    # After ("a", "b"), "zaba" is z|ab|a: (z, ab) and (ab, a) both count 3. Ids: a=0, b=1,
    # z=2, ab=3, so (z, ab) = (2, 3) beats (ab, a) = (3, 0), although "ab" < "z" as strings.
    corpus = {"zb": 2, "zaba": 3}
    merges = learn_bpe_merges(corpus, 3)
    assert merges == tokenizers_merges(corpus, 3)
    assert merges == [("a", "b"), ("z", "ab"), ("zab", "a")]


def test_merge_pair_is_left_to_right_without_overlaps():
    assert merge_pair(list("aaa"), ("a", "a")) == ["aa", "a"]
    assert merge_pair(["ca", "b", "a", "b"], ("a", "b")) == ["ca", "b", "ab"]


def test_split_applies_merges_in_order_and_stops_when_nothing_is_left():
    merges = learn_bpe_merges(TOY, 100)
    assert all(bpe_split(w, merges) == [w] for w in TOY)
    assert bpe_split("lowest", merges[:3]) == ["lo", "w", "est"]


def test_bad_input_says_what_to_do():
    with pytest.raises(ValueError, match="non-empty words"):
        learn_bpe_merges({"": 3}, 2)


def test_byte_level_bpe_round_trips_any_text_and_counts_bytes():
    corpus = ["the cat sat on the mat\n", "the hat, the bat\n"] * 20
    tokenizer = byte_level_bpe(corpus, 300, special_tokens=["<|endoftext|>"])
    assert tokenizer.token_to_id("<|endoftext|>") == 0
    lengths = token_byte_lengths(tokenizer)
    assert lengths.shape == (tokenizer.get_vocab_size(),) and lengths[0] == 0
    for text in ("the cat", "Grüße, ☃!\n\n  tabs\tand spaces", "unseen words: zyxw"):
        ids = tokenizer.encode(text).ids
        assert tokenizer.decode(ids) == text
        assert lengths[ids].sum() == len(text.encode("utf-8"))
    assert len(tokenizer.encode("the cat").ids) < len("the cat")  # merges were learned
    with pytest.raises(ValueError, match="256 byte tokens"):
        byte_level_bpe(corpus, 200)
