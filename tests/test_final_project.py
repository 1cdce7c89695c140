"""The final project's worked examples, both code paths, on tiny local stand-ins.

The ``gpu`` path (t5-small + LoRA on CNN/DailyMail, ROUGE against lead-3) needs the network;
here it runs on a tiny T5 saved to a local folder and a few generated articles.
"""

import random

import pytest
import torch
from datasets import Dataset
from torch.utils.data import DataLoader

from course_lib.engine import TrainConfig, train
from course_lib.lora import count_trainable, merge_lora
from course_lib.project.evaluation import baseline, score
from course_lib.project.final_project import (
    OPTIMIZERS,
    Seq2SeqBatches,
    count_tokens,
    pretrained_seq2seq,
    project_optimizer,
    seq2seq_loss,
    stand_in_t5,
    stand_in_tokenizer,
    token_budget_loader,
    write_cnn_dailymail_jsonl,
    write_multi30k_jsonl,
)
from course_lib.project.project_data import load_pairs, load_project_data
from course_lib.project.shipping import predict_texts

WORDS = "the cat dog man woman city river council mayor storm team match won lost".split()


def articles(count: int, seed: int = 0) -> Dataset:
    """Generated news: three to six sentences; the highlight is the first sentence."""
    rng = random.Random(seed)
    rows = {"article": [], "highlights": []}
    for _ in range(count):
        sentences = [
            " ".join(rng.choices(WORDS, k=rng.randint(4, 8))).capitalize() + "."
            for _ in range(rng.randint(3, 6))
        ]
        rows["article"].append(" ".join(sentences))
        rows["highlights"].append(sentences[0] + "\n")
    return Dataset.from_dict(rows)


@pytest.fixture(scope="module")
def tiny_pretrained(tmp_path_factory):
    """A folder holding a tiny T5 and its tokenizer, as ``save_pretrained`` writes them."""
    folder = tmp_path_factory.mktemp("tiny-t5")
    data = articles(40)
    tokenizer = stand_in_tokenizer(list(zip(data["article"], data["highlights"])), 120)
    torch.manual_seed(0)
    stand_in_t5(tokenizer, d_model=32, num_layers=1, num_heads=2, d_ff=64).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def test_cnn_dailymail_file_from_rows_loads_as_project_data(tmp_path):
    path = write_cnn_dailymail_jsonl(tmp_path / "news.jsonl", 30, dataset=articles(50))
    pairs = load_pairs(path)
    assert len(pairs) == 30 and "\n" not in pairs[0][1]
    assert pairs[0][0].startswith(pairs[0][1])  # the highlight is the lead sentence
    data = load_project_data(path, seed=1)
    assert len(data.train) + len(data.val) + len(data.test) == 30


def test_multi30k_file_is_german_to_english(tmp_path):
    pairs = load_pairs(write_multi30k_jsonl(tmp_path / "m.jsonl", split="val"))
    assert len(pairs) == 1014 and pairs[0][0].startswith("Eine Gruppe von Männern")


def test_stand_in_tokenizer_round_trips_and_ends_with_eos():
    tokenizer = stand_in_tokenizer([("Ein Hund läuft.", "A dog runs.")] * 3, 300)
    ids = tokenizer("Ein Hund läuft.").input_ids
    assert ids[-1] == tokenizer.eos_token_id and tokenizer.pad_token_id == 0
    assert tokenizer.decode(ids, skip_special_tokens=True) == "Ein Hund läuft."


def test_batches_mask_padding_in_labels_and_count_real_tokens(tiny_pretrained):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_pretrained)
    long = "The cat won. The dog lost. The team won the match."
    batch = Seq2SeqBatches(tokenizer, prefix="summarize: ")([(long, long), ("Storm.", "Storm.")])
    assert set(batch) == {"input_ids", "attention_mask", "labels"}
    assert (batch["labels"][1] == -100).any() and not (batch["labels"][0] == -100).any()
    assert batch["attention_mask"][1].sum() < batch["attention_mask"][0].sum()
    cut = Seq2SeqBatches(tokenizer, max_target_tokens=4)([(long, long)])["labels"][0]
    assert len(cut) == 4 and cut[-1] == tokenizer.eos_token_id  # truncation keeps <eos>
    assert count_tokens(batch) == batch["attention_mask"].sum() + (batch["labels"] != -100).sum()


def test_gpu_path_lora_on_a_local_t5_learns_and_merges(tiny_pretrained):
    torch.manual_seed(0)
    model, tokenizer = pretrained_seq2seq(str(tiny_pretrained), lora_r=4, alpha=8, dropout=0.0)
    trainable, total = count_trainable(model)
    lora = sum(p.numel() for n, p in model.named_parameters() if "lora_" in n)
    assert trainable == lora and 0 < trainable < total / 4
    data = articles(64, seed=2)
    pairs = list(zip(data["article"], [h.strip() for h in data["highlights"]]))
    loader = DataLoader(pairs, batch_size=16, collate_fn=Seq2SeqBatches(tokenizer, "summarize: "))
    frozen = {n: p.clone() for n, p in model.named_parameters() if not p.requires_grad}
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    result = train(
        model,
        loader,
        seq2seq_loss,
        optimizer,
        config=TrainConfig(epochs=3, progress=False),
        count_tokens=count_tokens,
        device="cpu",
    )
    assert result.steps == 12 and result.tokens_per_second > 0
    assert result.history["train_loss"][-1] < result.history["train_loss"][0]
    assert all(torch.equal(p, frozen[n]) for n, p in model.named_parameters() if n in frozen)

    sources, targets = [s for s, _ in pairs[:8]], [t for _, t in pairs[:8]]
    generation = {"max_new_tokens": 12, "num_beams": 1}
    adapter = predict_texts(sources, model, tokenizer, "summarisation", "summarize: ", **generation)
    merged_model = merge_lora(model)
    assert not any("lora_" in n for n, _ in merged_model.named_parameters())
    merged = predict_texts(
        sources, merged_model, tokenizer, "summarisation", "summarize: ", **generation
    )
    assert merged == adapter
    name, lead = baseline("summarisation", sources, [], lead=3)
    assert name == "lead-3" and score("summarisation", lead, targets)["rougeL"] > 30
    assert set(score("summarisation", merged, targets)) == {"rouge1", "rouge2", "rougeL"}


def test_full_fine_tuning_trains_every_weight(tiny_pretrained):
    model, tokenizer = pretrained_seq2seq(str(tiny_pretrained))
    trainable, total = count_trainable(model)
    assert trainable == total and not hasattr(model, "peft_config")
    assert tokenizer.pad_token_id == 0


def test_multi30k_test_file_is_test_2016_and_shares_no_source_with_training(tmp_path):
    train_file = write_multi30k_jsonl(tmp_path / "train.jsonl")
    test_file = write_multi30k_jsonl(tmp_path / "test.jsonl", split="test_2016_flickr")
    data = load_project_data(train_file, test_file=test_file, val_fraction=0.035)
    assert len(data.test) == 1000 and len(data.val) == 1015  # Module 4's test pairs, all
    assert len(data.train) + len(data.val) == len(dict.fromkeys(load_pairs(train_file)))


def test_token_budget_loader_batches_every_pair_once_within_the_budget(tiny_pretrained):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_pretrained)
    data = articles(60, seed=3)
    pairs = list(zip(data["article"], [h.strip() for h in data["highlights"]]))
    collate = Seq2SeqBatches(tokenizer, max_source_tokens=40, max_target_tokens=40)
    loader = token_budget_loader(pairs, collate, max_tokens=200, seed=1)
    source_ids, target_ids = collate.encode(pairs)
    longest = {pair: max(len(s), len(t)) for pair, s, t in zip(pairs, source_ids, target_ids)}
    passes = []
    for _ in range(2):
        seen = []
        for indices in loader.batch_sampler:
            batch = [pairs[i] for i in indices]
            assert len(batch) * max(longest[p] for p in batch) <= 200 or len(batch) == 1
            seen += batch
        assert sorted(seen) == sorted(pairs)
        passes.append(seen)
    assert passes[0] != passes[1]  # a new order at every pass
    batch = next(iter(loader))
    assert batch["input_ids"].shape[1] <= 40
    assert set(batch) == {"input_ids", "attention_mask", "labels"}
    lengths = ([len(s) for s in source_ids], [len(t) for t in target_ids])
    assert collate.token_lengths(pairs) == lengths
    with pytest.raises(ValueError, match="no pairs"):
        token_budget_loader([], collate, 200)


def test_seq2seq_loss_with_label_smoothing_is_module_4s_loss(tiny_pretrained):
    from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

    from course_lib.losses import label_smoothed_cross_entropy

    tokenizer = AutoTokenizer.from_pretrained(tiny_pretrained)
    model = AutoModelForSeq2SeqLM.from_pretrained(tiny_pretrained).eval()
    batch = Seq2SeqBatches(tokenizer)([("The cat won.", "Cat won."), ("Storm.", "A storm.")])
    plain = seq2seq_loss(model, batch)
    assert torch.equal(plain, model(**batch).loss)
    logits = model(**batch).logits
    smoothed = seq2seq_loss(model, batch, label_smoothing=0.1)
    expected = label_smoothed_cross_entropy(logits, batch["labels"], smoothing=0.1)
    assert torch.allclose(smoothed, expected, atol=1e-5) and not torch.allclose(smoothed, plain)


def _relative_step(model, optimizer_name: str, lr: float = 1e-3) -> dict[str, float]:
    """One optimizer step on a fixed batch: how far each named weight moved, as a share of
    its own root-mean-square."""
    optimizer = project_optimizer(model, optimizer_name, lr)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    torch.manual_seed(1)
    batch = {
        "input_ids": torch.randint(3, 100, (4, 7)),
        "attention_mask": torch.ones(4, 7, dtype=torch.long),
        "labels": torch.randint(3, 100, (4, 5)),
    }
    seq2seq_loss(model, batch).backward()
    optimizer.step()
    after = {n: p.detach() for n, p in model.named_parameters()}
    names = ("shared.weight", "encoder.block.0.layer.0.SelfAttention.q.weight")
    return {
        n: float((after[n] - before[n]).pow(2).mean().sqrt() / before[n].pow(2).mean().sqrt())
        for n in names
    }


def test_adafactor_moves_t5s_embeddings_and_queries_by_the_same_share_adamw_does_not():
    tokenizer = stand_in_tokenizer([("ein Hund läuft", "a dog runs")] * 3, 120)
    steps = {}
    for name in OPTIMIZERS:
        torch.manual_seed(0)
        model = stand_in_t5(tokenizer, d_model=64, num_layers=1, num_heads=4, d_ff=128, dropout=0)
        steps[name] = _relative_step(model, name)
    embedding, query = steps["adamw"].values()
    assert query / embedding > 20  # AdamW: the small query weights move much further
    embedding, query = steps["adafactor"].values()
    assert 0.2 < query / embedding < 5  # Adafactor: each by a share of its own size


def test_project_optimizer_refuses_an_unknown_name_or_a_frozen_model(tiny_pretrained):
    model, _ = pretrained_seq2seq(str(tiny_pretrained))
    with pytest.raises(ValueError, match="adamw, adafactor"):
        project_optimizer(model, "sgd", 1e-3)
    for p in model.parameters():
        p.requires_grad_(False)
    with pytest.raises(ValueError, match="no trainable weights"):
        project_optimizer(model, "adamw", 1e-3)
