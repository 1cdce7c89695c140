# %% [markdown]
# # 06 · Final project: your data, train or fine-tune, evaluate, optimise, ship
#
# Five modules built every piece of a Transformer and showed how pre-trained ones are
# fine-tuned. This notebook is the template of a real project: point it at **your own data
# file** and it walks the six steps every applied NLP project goes through.
#
# 1. **Bring your data**: load and validate a CSV or JSONL file, hold out a test split.
# 2. **Choose**: train from scratch or fine-tune a pre-trained model, with an estimate of
#    the training time measured on your device.
# 3. **Train / fine-tune** with the course's training engine (time budget, checkpoints,
#    resume).
# 4. **Evaluate**: the task's metric, a baseline to beat, the worst examples, length buckets.
# 5. **Optimise for use**: batching, the key/value cache, int8 weights, a merged adapter.
# 6. **Ship**: safetensors weights and a model card, reloaded in a fresh process.
#
# The notebook runs a **worked example** end to end. With a GPU and a network (`gpu`
# profile) it summarises CNN/DailyMail news with `t5-small` and a LoRA adapter. Offline
# (`cpu` and `ci` profiles) the same cells translate German to English from a JSONL file the
# course writes from its Multi30k copy, with a stand-in for the pre-trained model. The five
# exercises are the decisions and small functions a project adapts: which pairs to train on
# (6.1), which approach (6.2), how long an epoch takes (6.3), which metric (6.4) and which
# baseline to beat (6.5). Everything else is a cell you adapt: the names in `CAPITALS` are
# the ones to change for your own project.

# %%
import matplotlib.pyplot as plt
import torch
from IPython.display import Markdown, display

from course_lib import setup
from course_lib.checkers import assert_metric
from course_lib.machinery.profiles import (
    MODULE_04_CPU_RESULT,
    sizes_for,
    training_settings,
    unmeasured_note,
)

cfg = setup(module=6)
sizes = cfg.sizes
if unmeasured_note(6, cfg.profile):  # gpu: thresholds no GPU run has measured yet
    print(unmeasured_note(6, cfg.profile))

# %% [markdown]
# ## The worked example of this run
#
# `choose_model(task, hub_name, stand_in, stand_in_note)` (Module 5) returns the Hub model
# `hub_name` the profile names when the Hub (or the local cache) has it, else the stand-in,
# and says which in one line. Its `.source` is what to load and `.stand_in` says whether the
# offline example runs (a GPU without a network runs it too, with the `cpu` profile's sizes).

# %%
from course_lib.pretrained import choose_model

choice = choose_model(
    sizes["task"], sizes["hub_model"], stand_in="t5-from-config",
    stand_in_note="a small T5 built from a config and trained here on German -> English pairs",
)
if choice.stand_in and sizes["hub_model"]:  # a GPU but no network: the offline example
    sizes = sizes_for(6, "cpu")
TASK, PREFIX = sizes["task"], sizes["prefix"]

# %% [markdown]
# ## 1. Bring your data
#
# A project's data is usually a file: a spreadsheet export (CSV) or one JSON object per line
# (JSONL). Each example is a pair: *(source, target)* for translation or summarisation, or
# *(text, label)* for classification. Name your file and its two columns here.
#
# The worked example first writes its own file, so that the rest of the notebook reads a
# file exactly as it would read yours: `write_multi30k_jsonl(path, split)` writes the
# course's Multi30k pairs of `split` as JSONL lines `{"source": German, "target": English}`
# (online, `write_cnn_dailymail_jsonl(path, count)` writes the first `count` CNN/DailyMail
# articles with their highlights); both return the path. Multi30k comes with its own test
# set, "test 2016", the 1,000 pairs Module 4 scored: offline the worked example writes it
# as a second file, `TEST_FILE`, so that its score compares with Module 4's (no test file:
# `TEST_FILE = None`, and the test split is held out of `DATA_FILE`).

# %%
from course_lib.project.final_project import write_cnn_dailymail_jsonl, write_multi30k_jsonl

DATA_FILE = cfg.output_dir / "final_project" / f"{TASK}_pairs.jsonl"  # <- your file
COLUMNS = ("source", "target")  # <- your two column names, e.g. ("text", "label")

TEST_FILE = None  # <- your test file, if you have one

if TASK == "summarisation":
    write_cnn_dailymail_jsonl(DATA_FILE, sizes["examples"])
else:
    write_multi30k_jsonl(DATA_FILE)
    TEST_FILE = write_multi30k_jsonl(DATA_FILE.with_name("test_2016.jsonl"), "test_2016_flickr")
print(DATA_FILE.read_text(encoding="utf-8").splitlines()[0][:200])

# %% [markdown]
# `load_project_data(train_file, test_file=None, columns=..., val_fraction=0.1, seed=...,
# max_examples=None)` reads the file, checks it, and holds out a validation split (that
# share of the pairs) and, without a test file, a test split, with the seed (`max_examples`
# keeps only the first examples, for a quick run). It returns a `ProjectData` whose
# `.train`, `.val` and `.test` are lists of `(source, target)` pairs. Identical sources are
# kept in one split, so nothing the model trains on reappears in its test; a test file is
# checked for overlap with training.

# %%
from course_lib.project.project_data import load_project_data

data = load_project_data(DATA_FILE, test_file=TEST_FILE, columns=COLUMNS,
                         val_fraction=sizes["val_fraction"], seed=cfg.seed,
                         max_examples=sizes["examples"])
print(f"{len(data.train):,} training, {len(data.val):,} validation, {len(data.test):,} test pairs")

# %% [markdown]
# Files go wrong in a few typical ways, and each one gets a message that names the file and
# the fix: the loader raises a `ProjectDataError` with that message. Here are four broken
# files and what the loader says about each (`write_jsonl(pairs, path)` writes pairs as a
# JSONL file: the last one is a test file that repeats training pairs):

# %%
from course_lib.project.project_data import ProjectDataError, write_jsonl

broken = cfg.output_dir / "final_project" / "broken"
broken.mkdir(parents=True, exist_ok=True)
(broken / "empty.csv").write_text("")
(broken / "renamed.jsonl").write_text('{"de": "Hallo", "en": "Hello"}\n')
(broken / "latin1.csv").write_bytes("source,target\nMädchen,girl\n".encode("latin-1"))
write_jsonl(data.train[:20], broken / "train.jsonl")
write_jsonl(data.train[:3], broken / "test.jsonl")  # test examples copied from training

for name in ("empty.csv", "renamed.jsonl", "latin1.csv", "test.jsonl"):
    try:
        load_project_data(broken / "train.jsonl", test_file=broken / name)
    except ProjectDataError as err:
        print(f"- {err}\n")
    else:
        raise AssertionError(f"{name} should have been refused")

# %% [markdown]
# The loader refuses files it cannot read. Pairs it can read may still be useless for
# training, and which ones is the project's decision. Three rules cover most files:
#
# - **empty**: the source or the target is blank (only spaces): nothing to learn;
# - **copy**: the target repeats the source (ignoring case and outer spaces): an untranslated
#   line, or a summary that is the text; it teaches the model to copy;
# - **too long**: the source has more than `max_source_words` words (split on whitespace):
#   cut off at the model's input size, its target no longer matches what the model reads.
#
# **Exercise 6.1.** Write `drop_reason(source, target, max_source_words)`: the first rule (in
# the order above) that a pair breaks, as the string `"empty"`, `"copy"` or `"too long"`, or
# `None` for a pair to keep. A source of exactly `max_source_words` words is kept.

# %%
def drop_reason(source: str, target: str, max_source_words: int) -> str | None:
    """"empty", "copy", "too long" (checked in that order) or None to keep the pair."""
    # BEGIN SOLUTION
    if not source.strip() or not target.strip():
        return "empty"
    if source.strip().lower() == target.strip().lower():
        return "copy"
    if len(source.split()) > max_source_words:
        return "too long"
    return None
    # END SOLUTION


# %%
import dataclasses
from collections import Counter

from course_lib.checkers.project_steps import check_drop_reason, reference_drop_reason

if not check_drop_reason(drop_reason):  # not attempted: the course's version
    drop_reason = reference_drop_reason
MAX_SOURCE_WORDS = 2000  # <- your limit (the worked example's sources are far shorter)
reasons = Counter(drop_reason(s, t, MAX_SOURCE_WORDS) for s, t in data.train)
kept = [(s, t) for s, t in data.train if drop_reason(s, t, MAX_SOURCE_WORDS) is None]
print(f"training pairs: {len(kept):,} kept; dropped: "
      + (", ".join(f"{n} {r}" for r, n in reasons.items() if r) or "none"))
data = dataclasses.replace(data, train=kept)

# %% [markdown]
# ### How long are the examples?
#
# Lengths decide the model's maximum input size, the batch size that fits in memory, and
# how long training takes. Look at the distribution before choosing: a long tail of very
# long examples is often better cut (the 95th percentile is a good limit) than padded.
# `lengths(texts)` returns each text's length in whitespace words (a list of ints),
# `length_stats(values)` their count, mean, median, 95th percentile and maximum, and
# `plot_distributions({name: values}, xlabel=...)` (Module 3) draws one histogram per
# sample on one axis, each as shares of its own sample.

# %%
from course_lib.plots import plot_distributions
from course_lib.project.project_data import length_stats, lengths

source_words = lengths(s for s, _ in data.train)
target_words = lengths(t for _, t in data.train)
for side, values in (("source", source_words), ("target", target_words)):
    print(f"{side}: {length_stats(values)} (words)")
plot_distributions({"source": source_words, "target": target_words}, xlabel="length (words)",
                   title=f"{DATA_FILE.name}: training examples")
plt.show()

# %% [markdown]
# ## 2. Choose: from scratch or pre-trained, full fine-tuning or LoRA
#
# A rule of thumb that serves most projects:
#
# - **No pre-trained model fits** your language and domain (a rare language, source code, a
#   private notation): there is nothing to adapt; **train from scratch** a model sized to
#   your data (Module 4's Transformer, or a small config of a Hub architecture).
# - A pre-trained model fits, **a GPU and at least 100,000 examples**: **full fine-tuning**
#   usually gains a little more than an adapter, and the data is enough not to overfit.
# - A pre-trained model fits, **anything else** (small data, or a CPU only): **LoRA**
#   (Module 5): a few hundred thousand trained weights instead of millions, less memory, and a
#   small adapter to ship; it needs a higher learning rate than full fine-tuning.
#
# **Exercise 6.2.** Write the rule as a function, `choose_approach(num_examples, gpu,
# pretrained_fits)` (an int and two bools). It returns exactly one of `"from scratch"`,
# `"full fine-tuning"` or `"LoRA"`; the 100,000 is inclusive.

# %%
def choose_approach(num_examples: int, gpu: bool, pretrained_fits: bool) -> str:
    """The rule of thumb above: "from scratch", "full fine-tuning" or "LoRA"."""
    # BEGIN SOLUTION
    if not pretrained_fits:
        return "from scratch"
    return "full fine-tuning" if gpu and num_examples >= 100_000 else "LoRA"
    # END SOLUTION


# %%
from course_lib.checkers.final_project import check_choose_approach

check_choose_approach(choose_approach)
from course_lib.project.final_project import choose_approach  # the course's reference from here on

APPROACH = choose_approach(len(data.train), cfg.device.type == "cuda", not choice.stand_in)
print(f"{len(data.train):,} training pairs, device {cfg.device.type}, pre-trained model "
      f"{'available' if not choice.stand_in else 'not available'}: {APPROACH}")

# %% [markdown]
# The worked example builds its model accordingly. Offline, no pre-trained sequence-to-
# sequence model is at hand, so the stand-in is a T5 of the same architecture as `t5-small`,
# the size of Module 4's Transformer, with random weights and a BPE vocabulary learnt on our
# training pairs (Module 4's tokenizer), trained from scratch with Module 4's batches, budget
# and label smoothing. It keeps T5's Hugging Face interface
# (`generate`, peft, `save_pretrained`), so every later step is the one a pre-trained model
# takes. Its recipe is printed below; it scores the same 1,000 test pairs as Module 4, so the
# two results can be set side by side. Online, `t5-small` gets a LoRA adapter (peft) on its
# attention's query and value projections.
#
# - `stand_in_tokenizer(pairs, vocab_size)` learns that BPE vocabulary on both sides of the
#   pairs and returns a `transformers` tokenizer (`<pad>` id 0, `<eos>` after every text);
# - `stand_in_t5(tokenizer, d_model, num_layers, num_heads, d_ff, dropout)` returns a T5 with
#   random weights, built from a config for that tokenizer's vocabulary;
# - `pretrained_seq2seq(name, lora_r=None)` returns `(model, tokenizer)` of a pre-trained
#   model; with `lora_r`, a LoRA adapter of that rank and only the adapter trains, without
#   it every weight trains (full fine-tuning);
# - `count_trainable(model)` (Module 5) returns `(trainable, total)` parameter counts.

# %%
from course_lib.lora import count_trainable
from course_lib.project.final_project import pretrained_seq2seq, stand_in_t5, stand_in_tokenizer
from course_lib.report import say

torch.manual_seed(cfg.seed)
if APPROACH == "from scratch":
    tokenizer = stand_in_tokenizer(data.train, sizes["vocab_size"])
    model = stand_in_t5(tokenizer, sizes["d_model"], sizes["num_layers"], sizes["num_heads"],
                        sizes["d_ff"], sizes["dropout"])
else:  # fine-tune the pre-trained model: every weight, or a LoRA adapter
    model, tokenizer = pretrained_seq2seq(
        choice.source, lora_r=sizes["lora_r"] if APPROACH == "LoRA" else None)
model = model.to(cfg.device)
trainable, total = count_trainable(model)
print(f"{APPROACH}: {trainable:,} trainable of {total:,} parameters ({trainable / total:.1%})")
if APPROACH == "from scratch":
    batches = (f"batches of about {sizes['batch_tokens']:,} tokens" if sizes["batch_tokens"]
               else f"batches of {sizes['batch_size']} pairs")
    optimizer_name = ("Adafactor, T5's own optimizer (section 3 says why),"
                      if sizes["optimizer"] == "adafactor" else "AdamW")
    say(f"The recipe: one BPE vocabulary of {len(tokenizer):,} subwords shared by German and "
        f"English, learnt on the training pairs (Module 4's tokenizer); {sizes['num_layers']} "
        f"encoder and {sizes['num_layers']} decoder layers of width {sizes['d_model']}, "
        f"{sizes['num_heads']} heads, feed-forward width {sizes['d_ff']}; {batches}; "
        f"{optimizer_name} rising to {sizes['lr']:g} over {sizes['warmup_steps']} steps, then "
        f"falling linearly to zero where training ends; label smoothing "
        f"{sizes['label_smoothing']:g}.")

# %% [markdown]
# ### How long will an epoch take? Measure, then multiply
#
# Before launching a long run, time a few training steps on your device and extrapolate:
# an epoch processes every source and target token once (the decoder reads the targets by
# teacher forcing), so its time is the number of tokens divided by the measured tokens per
# second. The parts of the measurement:
#
# - `Seq2SeqBatches(tokenizer, prefix, max_source_tokens, max_target_tokens)` is the
#   `DataLoader`'s `collate_fn`: a list of pairs -> the model's batch, `input_ids` and
#   `attention_mask` `(batch, src_len)` and `labels` `(batch, tgt_len)` at -100 where there
#   is padding (ignored by the loss). `prefix` goes before every source (T5's task prefix,
#   such as `"summarize: "`; empty offline), and each side is cut to its maximum;
# - `token_budget_loader(pairs, collate, max_tokens, seed)` returns a `DataLoader` of Module
#   4's batches (4.8): pairs of similar length, as many as fit `max_tokens` (sentences x
#   longest side), in a new order at every pass. The profile's `batch_tokens` picks it;
#   without one (`None`), batches of `batch_size` pairs;
# - `seq2seq_loss(model, batch)` returns the model's own cross-entropy on `batch["labels"]`
#   (a scalar); `count_tokens(batch)` returns the real (not padding) tokens of a batch;
# - `project_optimizer(model, name, lr)` returns the optimizer of the model's trainable
#   weights: `"adamw"` (Module 4's AdamW) or `"adafactor"` (T5's own; section 3 says why);
# - `mixed_precision_for(model, device, wanted)` returns the precision to train with,
#   `"no"`, `"fp16"` or `"bf16"`: `wanted` on a GPU, `"no"` elsewhere, and never fp16 for a T5;
# - Module 4's engine, `train(model, loader, loss_fn, optimizer, config=TrainConfig(...),
#   count_tokens=..., device=...)`, returns a `TrainResult`; here `TrainConfig(max_steps=...)`
#   stops it after a few steps, and we read its `.tokens_per_second` and `.steps`. With a
#   learning rate of 0 the weights do not move.

# %%
from torch.utils.data import DataLoader

from course_lib.engine import TrainConfig, train
from course_lib.pretrained import mixed_precision_for
from course_lib.project.final_project import (
    Seq2SeqBatches,
    count_tokens,
    project_optimizer,
    seq2seq_loss,
    token_budget_loader,
)

# fp16 on a GPU when the profile asks for it, but T5 overflows in fp16: bf16 or float32
PRECISION = mixed_precision_for(model, cfg.device, training_settings(cfg.profile)["mixed_precision"])

collate = Seq2SeqBatches(tokenizer, PREFIX, sizes["max_source_tokens"], sizes["max_target_tokens"])
if sizes["batch_tokens"]:  # batches of similar length within a token budget (Module 4)
    train_loader = token_budget_loader(data.train, collate, sizes["batch_tokens"], cfg.seed)
else:
    train_loader = DataLoader(data.train, batch_size=sizes["batch_size"], shuffle=True,
                              collate_fn=collate, generator=torch.Generator().manual_seed(cfg.seed))
probe = project_optimizer(model, sizes["optimizer"], lr=0.0)  # the optimizer it will train with
timing = train(model, train_loader, seq2seq_loss, probe, device=cfg.device,
               config=TrainConfig(max_steps=sizes["speed_steps"], progress=False,
                                  mixed_precision=PRECISION),  # timed as it will train
               count_tokens=count_tokens)
print(f"measured: {timing.tokens_per_second:,.0f} tokens/s over {timing.steps} steps "
      f"(learning rate 0: the weights did not move; mixed precision: {PRECISION})")

# %% [markdown]
# **Exercise 6.3.** Write `estimate_epoch_minutes(source_lengths, target_lengths,
# tokens_per_second)`: the minutes of one epoch (a float), from the token lengths of the
# sources and of the targets (two lists of ints) and the measured tokens per second.
#
# The cell after the checker gets those lengths from `collate.token_lengths(pairs)`, which
# returns `(source_lengths, target_lengths)`: the tokens the model reads, after the prefix
# and the cut to the maximum lengths.

# %%
def estimate_epoch_minutes(source_lengths, target_lengths, tokens_per_second: float) -> float:
    """Minutes one epoch takes: every source and target token, at the measured speed."""
    # BEGIN SOLUTION
    return (sum(source_lengths) + sum(target_lengths)) / tokens_per_second / 60
    # END SOLUTION


# %%
from course_lib.checkers.final_project import check_estimate_epoch_minutes

check_estimate_epoch_minutes(estimate_epoch_minutes)
from course_lib.project.final_project import estimate_epoch_minutes  # the course's reference

sample = data.train[:2000]
scale = len(data.train) / len(sample)  # token counts of a sample, scaled to the whole split
# the tokens the model reads: with the prefix, after the cut to max_source/target_tokens
source_tokens, target_tokens = ([n * scale for n in side] for side in collate.token_lengths(sample))
minutes = estimate_epoch_minutes(source_tokens, target_tokens, timing.tokens_per_second)
display(Markdown(f"One epoch of {len(data.train):,} pairs: about **{minutes:.1f} minutes** "
                 f"on this {cfg.device.type}; the budget of this run is "
                 f"{sizes['max_minutes']} minutes ({sizes['epochs']} epochs at most)."))

# %% [markdown]
# ## 3. Train / fine-tune
#
# The course's engine (`course_lib.engine.train`, Module 4) does the rest: the optimizer
# with a linear warm-up and decay, gradient clipping, mixed precision on a GPU, an evaluation on
# the validation split at each epoch, a **time budget** (`max_minutes`) and **checkpoints**
# in the output folder (on Colab, on your Drive). If the runtime disconnects, run the cell
# again with `RESUME = True`: training continues exactly where the last checkpoint left it.
#
# The learning rate warms up, then falls linearly to zero where training ends, so the run
# ends on the calm weights of its smallest steps. Where it ends, the estimate of 6.3 says:
# if the epochs fit in the time budget, at the last step of the last epoch; if not, at the
# end of the budget, and the step-based schedule would stop near its peak rate, so the
# rate falls with the time used instead (Module 4's `TimeBudgetSchedule`, 4.8).
#
# **Which optimizer.** AdamW moves every weight by about the learning rate at each step,
# whatever the weight's size; that suits Module 4's model, whose weights all start at one
# scale, and a LoRA adapter. A T5 built from a config does not: its embeddings start at std
# 1, and its query weights at std $(d_{model} d_{kv})^{-1/2}$ (1/128 at width 256 with 4
# heads: T5 folds attention's $1/\sqrt{d_k}$ into them). One AdamW rate then barely moves
# the embeddings and throws the queries about. T5 was trained with **Adafactor**, whose step
# is the learning rate times the size (root mean square) of the weight it changes, so every
# weight moves by the same share of itself (`tests/test_final_project.py` measures both).
# Measured with Module 4's model size, batches and label smoothing, 250 equal steps each:
# AdamW at 3e-3 reached a training loss of 5.25 and 3.4 BLEU on test 2016, Adafactor at 3e-2
# 4.15 and 17.1 (`benchmarks/results/thresholds.md` has these runs and the choice of the
# peak rate). The profile's `optimizer` names the choice: Adafactor for the T5 from scratch,
# AdamW for the LoRA adapter of the pre-trained model.
#
# - `linear_warmup_schedule(optimizer, warmup_steps, total_steps)` (Module 3): the learning
#   rate rises linearly for `warmup_steps`, then falls linearly to 0 at `total_steps`;
# - `TimeBudgetSchedule(optimizer, warmup_steps, minutes)` (Module 4): the same warm-up,
#   then a linear fall to 0 when `minutes` of wall time have passed;
# - `seq2seq_loss(model, batch, label_smoothing)` with label smoothing (Module 4): the
#   target keeps 1 - `label_smoothing` on the right token and spreads the rest over the
#   vocabulary (0 for the pre-trained model: the model's own loss);
# - `TrainConfig(epochs, max_minutes, clip_grad_norm, seed, mixed_precision, ...)` (Module 4)
#   holds the limits: training stops at whichever comes first;
# - `evaluate_loss(model, loader, loss_fn, device)` (Module 1) returns the mean loss over
#   the loader's batches, in evaluation mode;
# - `train(model, loader, loss_fn, optimizer, scheduler, config, evaluate=, output_dir=,
#   resume=, overwrite=, ...)` returns a `TrainResult`: the `history` of the evaluations
#   (one value per evaluation under each name, and the `"step"` of each), `steps`, `epochs`,
#   `seconds`, `stopped_by` and `tokens_per_second`; `overwrite=True` lets a new run replace
#   the checkpoints of an old one;
# - `plot_history(curves)` draws every loss in `curves` against its `"step"` entry.

# %%
from functools import partial

from course_lib.schedules import TimeBudgetSchedule, linear_warmup_schedule
from course_lib.training import evaluate_loss

RESUME = False  # <- True to continue an interrupted run (False: a new run replaces the old)
run_dir = cfg.output_dir / "final_project" / f"{TASK}_run"
val_loader = DataLoader(data.val[:1000], batch_size=64, collate_fn=collate)
val_loss_before = evaluate_loss(model, val_loader, seq2seq_loss, cfg.device)

optimizer = project_optimizer(model, sizes["optimizer"], sizes["lr"])
budget_ends_first = minutes * sizes["epochs"] > sizes["max_minutes"]  # the estimate of 6.3
if budget_ends_first:
    scheduler = TimeBudgetSchedule(optimizer, sizes["warmup_steps"], sizes["max_minutes"])
else:
    scheduler = linear_warmup_schedule(optimizer, sizes["warmup_steps"],
                                       sizes["epochs"] * len(train_loader))
print(f"{sizes['epochs']} epochs of about {minutes:.1f} minutes against a budget of "
      f"{sizes['max_minutes']} minutes: the rate falls to zero at the end of the "
      + ("budget (TimeBudgetSchedule)" if budget_ends_first else "last epoch (linear_warmup_schedule)"))
loss_fn = partial(seq2seq_loss, label_smoothing=sizes["label_smoothing"])
config = TrainConfig(epochs=sizes["epochs"], max_minutes=sizes["max_minutes"], clip_grad_norm=1.0,
                     seed=cfg.seed, **{**training_settings(cfg.profile), "mixed_precision": PRECISION})

# %%
result = train(
    model, train_loader, loss_fn, optimizer, scheduler, config,
    evaluate=lambda m: {"val_loss": evaluate_loss(m, val_loader, seq2seq_loss, cfg.device)},
    output_dir=run_dir, resume=RESUME, overwrite=not RESUME, count_tokens=count_tokens,
    device=cfg.device,
)
print(f"{result.steps} steps, {result.epochs:.2f} epochs in {result.seconds / 60:.1f} min "
      f"(stopped by {result.stopped_by}), {result.tokens_per_second:,.0f} tokens/s")

# %%
from course_lib.plots import plot_history

smoothed = " (label-smoothed)" if sizes["label_smoothing"] else ""
curves = {"step": result.history["step"], f"training loss{smoothed}": result.history["train_loss"],
          "validation loss": result.history["val_loss"]}
plot_history(curves, title="training the project's model (cross-entropy, nats per token)")
plt.show()
val_loss_after = evaluate_loss(model, val_loader, seq2seq_loss, cfg.device)
assert_metric("validation loss drop (nats)", val_loss_before - val_loss_after,
              at_least=sizes["min_val_loss_drop"])

# %% [markdown]
# ## 4. Evaluate
#
# A score needs a reference point. Each task has a standard metric and a baseline that
# costs nothing:
#
# | task | metric | baseline |
# |---|---|---|
# | translation | BLEU (sacrebleu) | copy the source unchanged |
# | summarisation | ROUGE-1/2/L (rouge-score) | lead-3: the first three sentences |
# | classification | accuracy, macro F1 | the most frequent training label |
#
# A model that does not beat its baseline has learnt nothing useful, whatever its score.
# The test split is used here, once.
#
# **Exercise 6.4.** Write `choose_metric(task, balanced=True)`: the name of the score to
# report, as `course_lib.project.evaluation.score` names it: `"bleu"` for `"translation"`,
# `"rougeL"` (ROUGE-L) for `"summarisation"`, and for `"classification"` `"accuracy"` when the
# classes are balanced, else `"f1"` (macro F1: a model that always answers the dominant class
# gets a high accuracy but a low macro F1).
#
# **Exercise 6.5.** Write `baseline_predictions(task, sources, train_targets)`, one prediction
# per source: for translation the source itself; for summarisation lead-3, the first three
# sentences of the source (split it with `re.split(r"(?<=[.!?])\s+", source.strip())` and join
# the first three pieces with one space); for classification the most frequent label of
# `train_targets` (a tie goes to the label seen first, as `Counter.most_common` does).
#
# The cell after the exercises uses the course's evaluation helpers:
#
# - `predict_texts(texts, model, tokenizer, task, prefix, max_source_tokens, **generation)`
#   returns one prediction (a string) per text; `generation` goes to `generate`
#   (`max_new_tokens`, `num_beams`, `use_cache`) and `batch_size=` sets the batch;
# - `score(task, predictions, references)` returns a dict of the task's metrics: `"bleu"`,
#   or `"rouge1"`, `"rouge2"`, `"rougeL"`, or `"accuracy"`, `"f1"`;
# - `baseline(task, sources, train_targets)` returns `(name, predictions)` of the course's
#   baseline, and `MAIN_METRIC[task]` the course's choice of metric: yours replace them once
#   their checkers pass;
# - `compare_sentence(subject, value, other, reference, ...)` (Module 4) returns the sentence
#   comparing the model with the baseline, its words (better, level, worse) chosen from the
#   two values, and `say(markdown)` displays it;
# - `MODULE_04_CPU_RESULT` (`course_lib.machinery.profiles`): Module 4's recorded `cpu`
#   result on test 2016 (greedy BLEU, steps, minutes, date). The offline worked example
#   scores the same pairs with Module 4's model size, batches, budget and label smoothing,
#   so the two results set side by side say whether T5's architecture and optimizer do as
#   well as Module 4's Transformer and AdamW (a gap under 3 BLEU reads as level: the steps a
#   15-minute budget buys vary with the machine and its load).

# %%
import re
from collections import Counter


def choose_metric(task: str, balanced: bool = True) -> str:
    """The key of evaluation.score to report for task."""
    # BEGIN SOLUTION
    if task == "classification":
        return "accuracy" if balanced else "f1"
    return {"translation": "bleu", "summarisation": "rougeL"}[task]
    # END SOLUTION


def baseline_predictions(task: str, sources: list[str], train_targets: list[str]) -> list[str]:
    """The task's baseline: one prediction per source."""
    # BEGIN SOLUTION
    if task == "translation":
        return list(sources)
    if task == "summarisation":
        return [" ".join(re.split(r"(?<=[.!?])\s+", s.strip())[:3]) for s in sources]
    return [Counter(train_targets).most_common(1)[0][0]] * len(sources)
    # END SOLUTION


# %%
from course_lib.checkers.project_steps import check_baseline_predictions, check_choose_metric
from course_lib.project.evaluation import MAIN_METRIC, baseline, score
from course_lib.project.shipping import predict_texts

metric_checked = check_choose_metric(choose_metric)
baseline_checked = check_baseline_predictions(baseline_predictions)

GENERATION = {"max_new_tokens": sizes["max_new_tokens"], "num_beams": sizes["num_beams"]}
test = data.test[: sizes["eval_examples"]]
sources, references = [s for s, _ in test], [t for _, t in test]
predictions = predict_texts(sources, model, tokenizer, TASK, PREFIX, sizes["max_source_tokens"],
                      **GENERATION)
baseline_name, course_baseline = baseline(TASK, sources, [t for _, t in data.train])
if baseline_checked:  # yours, equal to the course's on the checker's cases
    course_baseline = baseline_predictions(TASK, sources, [t for _, t in data.train])
scores, baseline_scores = score(TASK, predictions, references), score(
    TASK, course_baseline, references)
metric = choose_metric(TASK) if metric_checked else MAIN_METRIC[TASK]
for name, values in (("model", scores), (baseline_name, baseline_scores)):
    print(f"{name:16s}" + "  ".join(f"{k} {v:6.2f}" for k, v in values.items()))

# %%
from course_lib.report import compare_sentence

say(compare_sentence("On the test split the model", scores[metric], f"the baseline "
                     f"({baseline_name})", baseline_scores[metric], digits=1,
                     verb=f"reaches {metric}", expected="better"))
assert_metric(f"{metric}: model minus {baseline_name}", scores[metric] - baseline_scores[metric],
              at_least=sizes["min_margin"])
if APPROACH == "from scratch" and TASK == "translation":  # Module 4's model on the same pairs
    m4 = MODULE_04_CPU_RESULT
    m4_run = (f"Module 4's Transformer on the same {m4['test_pairs']:,} test pairs (greedy, "
              f"{m4['minutes']} minutes, {m4['steps']} steps on a {m4['machine']}, {m4['date']})")
    if sizes == sizes_for(6, "cpu"):  # the cpu sizes (also a GPU without a network)
        say(compare_sentence(f"Trained from scratch for {result.seconds / 60:.0f} minutes "
                             f"({result.steps} steps), the stand-in T5", scores["bleu"],
                             m4_run, m4["bleu"], digits=1, noise=m4["noise"], verb="reaches BLEU"))
    else:
        say(f"{m4_run} reached {m4['bleu']:.1f} BLEU. This {cfg.profile} run is not comparable: "
            f"it trains a smaller model for {result.seconds / 60:.1f} minutes and scores "
            f"{len(test):,} test pairs (the `cpu` profile compares the two).")

# %% [markdown]
# ### Error analysis: the worst examples
#
# A corpus score hides *how* a model fails. Rank the test examples by a per-example score
# (sentence BLEU, ROUGE-L, or right/wrong) and read the worst ones: they show whether
# errors come from rare words, long inputs, bad references or a systematic habit.
# `example_scores(task, predictions, references)` returns one score per example (sentence
# BLEU, ROUGE-L F1 on a 0-100 scale, or 1/0 for right/wrong), and
# `worst_examples(sources, predictions, references, scores, k)` the `k` lowest, worst first,
# as dicts with `source`, `prediction`, `reference` and `score`.

# %%
from course_lib.project.evaluation import example_scores, worst_examples

per_example = example_scores(TASK, predictions, references)
for example in worst_examples(sources, predictions, references, per_example, k=4):
    print(f"[{example['score']:5.1f}] {example['source'][:150]}\n"
          f"        model:     {example['prediction'][:150]}\n"
          f"        reference: {example['reference'][:150]}\n")

# %% [markdown]
# ### Length buckets
#
# The same metric on groups of test sources of similar length (each group a quarter of the
# examples): models trained on short examples typically degrade on the longest ones.
# `score_by_length(task, lengths, predictions, references)` returns one row per group (a
# dict: the `lengths`, the number of `examples` and the metric), and `markdown_table(rows)`
# shows a list of dicts as a table.

# %%
from course_lib.project.evaluation import score_by_length
from course_lib.project.optimise import markdown_table

by_length = score_by_length(TASK, lengths(sources), predictions, references)
display(Markdown(markdown_table(by_length, digits=1)))

# %% [markdown]
# ## 5. Optimise for use
#
# Serving a model is a different job from training it. Each option below trades something,
# so we **measure** it on the same test sources: time per text, size of the weights, and the
# quality of what comes out.
#
# - **One text at a time vs batched**: a batch shares each matrix product across texts.
# - **Key/value cache** (Module 4): while generating token $t$, reuse the keys and values of
#   tokens $1..t-1$ instead of recomputing them; `use_cache=False` turns it off.
# - **Dynamic int8 quantisation** of the `Linear` layers (CPU): weights stored in 8 bits,
#   activations quantised on the fly; about 4x smaller linear weights.
# - **Merging a LoRA adapter**: $W + BA$ folded into one matrix, so the adapter costs
#   nothing at inference (only when the model was fine-tuned with LoRA).
#
# The helpers: `model_size_mb(model)` returns the megabytes of the model's weights as
# `torch.save` writes them; `quantize_int8(model)` returns a copy with every `nn.Linear`
# quantised; `merge_lora(model)` returns a new model with the adapter merged into the
# weights; `measure_variant(name, predict_fn, texts, score_fn, size_mb)` times
# `predict_fn(texts)`, scores its predictions with `score_fn` and returns one row, a dict of
# `variant`, `ms per text`, `texts per s`, `size MB`, `score` and the `predictions`.

# %%
from course_lib.project.optimise import measure_variant, model_size_mb, quantize_int8

texts, refs = sources[: sizes["optimise_examples"]], references[: sizes["optimise_examples"]]


def run(m, batch_size, **options):
    return lambda xs: predict_texts(xs, m, tokenizer, TASK, PREFIX, sizes["max_source_tokens"],
                              batch_size=batch_size, **{**GENERATION, **options})


def quality(preds):
    return score(TASK, preds, refs)[metric]


size = model_size_mb(model)
variants = [
    ("one at a time, no cache", run(model, 1, use_cache=False), size),
    ("one at a time, KV cache", run(model, 1), size),
    ("batched (32), KV cache", run(model, 32), size),
]

# %%
from course_lib.lora import merge_lora

if APPROACH == "LoRA":  # the adapter, then merged into the weights
    merged = merge_lora(model)
    variants.append(("LoRA merged, batched", run(merged, 32), model_size_mb(merged)))
    model = merged  # ship one plain model
if cfg.device.type == "cpu":
    int8 = quantize_int8(model)
    variants.append(("int8 Linear, batched", run(int8, 32), model_size_mb(int8)))
rows = [measure_variant(name, fn, texts, quality, mb) for name, fn, mb in variants]
columns = ["variant", "ms per text", "texts per s", "size MB", "score"]
display(Markdown(markdown_table(rows, columns).replace("| score |", f"| {metric} |")))

# %%
fastest = max(rows, key=lambda r: r["texts per s"])
same = {r["variant"]: sum(a == b for a, b in zip(r["predictions"], rows[0]["predictions"]))
        for r in rows[1:]}
display(Markdown(
    f"On {len(texts)} test texts, **{fastest['variant']}** is the fastest: "
    f"{fastest['texts per s'] / rows[0]['texts per s']:.1f}x the throughput of one text at a "
    f"time without a cache. Predictions identical to that first row: "
    + ", ".join(f"{name} {n}/{len(texts)}" for name, n in same.items())
    + f". The cache and batching should change nothing but float rounding; int8 weights can "
    f"change words, which the {metric} column measures. Which row to ship depends on your "
    f"latency, memory and quality needs."
))

# %% [markdown]
# ## 6. Ship
#
# A shipped model is a folder anyone can load without this notebook: the weights as
# **safetensors** (a format that cannot run code when loaded, unlike pickle), the tokenizer,
# a **model card** (what it does, on what data, how well, its limits), and the settings that
# `predict_texts` needs. `ModelCard(title, task, model, data, metrics, baseline, limits, training,
# baseline_name)` holds the card's text and scores; `save_for_use(folder, model, tokenizer,
# card, example, prefix, max_source_tokens, generation)` writes the folder and returns its
# path. It also stores one example with the prediction made now.

# %%
from course_lib.project.shipping import ModelCard, save_for_use

card = ModelCard(
    title=f"Final project: {TASK} ({DATA_FILE.name})",
    task=TASK,
    model=("a small T5 trained from scratch (offline stand-in for t5-small)"
           if APPROACH == "from scratch" else f"{choice.source} fine-tuned with {APPROACH}"),
    data=(f"{DATA_FILE.name}: {len(data.train):,} training, {len(data.val):,} validation, "
          f"{len(data.test):,} test pairs ("
          + (f"from {TEST_FILE.name}" if TEST_FILE else f"held out with seed {cfg.seed}")
          + f"); scores on {len(test):,} test pairs."),
    metrics=scores, baseline=baseline_scores, baseline_name=baseline_name,
    training=(f"{result.steps} steps ({result.epochs:.2f} epochs) in {result.seconds / 60:.1f} "
              f"minutes on {cfg.device.type}, profile {cfg.profile}."),
    limits=["Trained on one domain only: expect worse results on text unlike the training data.",
            f"Inputs longer than {sizes['max_source_tokens']} tokens are cut.",
            f"Scores are on {'a separate test file' if TEST_FILE else 'a held-out split'} of the "
            "same source, not on independent data."],
)
model = model.cpu()  # the saved prediction is made where a user runs it: on a CPU
ship_dir = save_for_use(cfg.output_dir / "final_project" / "shipped", model, tokenizer, card,
                        example=sources[0], prefix=PREFIX,
                        max_source_tokens=sizes["max_source_tokens"], generation=GENERATION)
print(sorted(p.name for p in ship_dir.iterdir()))

# %% [markdown]
# The test of a shipped folder: a **fresh Python process**, sharing nothing with this
# notebook, loads it and predicts the stored example. It must give exactly the prediction
# saved with the model. `reproduce_in_fresh_process(folder)` runs that test and returns a
# dict: the `input`, the saved prediction (`expected`), the new process's `prediction`,
# whether they are `identical`, and the `seconds` it took.

# %%
from course_lib.project.shipping import reproduce_in_fresh_process

check = reproduce_in_fresh_process(ship_dir)
print(f"input:      {check['input'][:150]}\nsaved:      {check['expected']}\n"
      f"fresh run:  {check['prediction']}\nidentical:  {check['identical']} "
      f"({check['seconds']:.0f} s, loading included)")
assert check["identical"]

# %% [markdown]
# Anyone with the folder (and `course_lib`, or the three lines of Hugging Face code it wraps)
# can now call `predict`; from a shell: `python -m course_lib.project.shipping FOLDER "your text"`.
# In Python, `load_for_use(folder)` returns the loaded model, and its `.predict(texts)` one
# prediction per text.

# %%
from course_lib.project.shipping import load_for_use

shipped = load_for_use(ship_dir)
for text, prediction in zip(sources[1:4], shipped.predict(sources[1:4])):
    print(f"{text[:120]}\n  -> {prediction[:120]}")

# %% [markdown]
# The model card, as written to the folder:

# %%
display(Markdown((ship_dir / "README.md").read_text(encoding="utf-8")))

# %% [markdown]
# ## Your project
#
# To run this notebook on your data: set `DATA_FILE` and `COLUMNS` (and skip the cell that
# writes the worked example's file), choose the `TASK` (`"translation"` or
# `"summarisation"` for pairs of texts), and read every printed number before trusting the
# next one. For classification, `course_lib.project.evaluation` has the metric and the baseline and
# Module 5 the fine-tuning of a pre-trained encoder.
#
# ## Self-check
#
# 1. Why must no source of the test split appear in the training split, and how does
#    `load_project_data` make sure of it when it cuts the splits itself?
#
# <!-- BEGIN SOLUTION -->
# A test example seen in training measures memory, not generalisation: the score is
# inflated by exactly the examples the model could memorise. `held_out_split` drops exact
# duplicates and keeps every pair that shares a source in one split; a separate test file is
# checked with `check_no_overlap`, which names the clashing examples and files.
# <!-- END SOLUTION -->
#
# 2. Your model scores 12 BLEU. Is it good? What do you compare it with?
#
# <!-- BEGIN SOLUTION -->
# It depends on the data: compare with a baseline on the same test examples (copying the
# source, here), with published numbers on the same test set if any, and look at the worst
# examples. A metric is meaningful only relative to such reference points.
# <!-- END SOLUTION -->
#
# 3. Why does the key/value cache speed up generation but not training?
#
# <!-- BEGIN SOLUTION -->
# Generation produces one token per step and, without a cache, recomputes the keys and
# values of every earlier token at each step (quadratic work). Training with teacher forcing
# processes all target positions in one pass with a causal mask, so there is nothing to
# reuse.
# <!-- END SOLUTION -->
#
# 4. When is dynamic int8 quantisation a good idea, and what do you check before shipping
#    a quantised model?
#
# <!-- BEGIN SOLUTION -->
# When serving on a CPU where memory or latency matters: Linear weights shrink about 4x and
# matrix products often run faster. Check the quality metric on the test split against the
# float model (as in the table): rounding can change predictions.
# <!-- END SOLUTION -->
#
# 5. Why save weights as safetensors rather than with `torch.save` (pickle)?
#
# <!-- BEGIN SOLUTION -->
# Loading a pickle can execute arbitrary code hidden in the file; safetensors holds only
# tensors and metadata, loads fast (memory-mapped) and is read by every framework.
# <!-- END SOLUTION -->
#
# 6. After merging a LoRA adapter, what do you lose and what do you gain?
#
# <!-- BEGIN SOLUTION -->
# Gain: one plain model, no extra matrix products at inference, the same predictions. Lose:
# the small separate adapter file (several adapters can no longer share one base model
# without keeping copies), unless the adapter is saved too.
# <!-- END SOLUTION -->
