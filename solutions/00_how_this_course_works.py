# %% [markdown]
# # 00 · How this course works
#
# Every module of the course follows the same rhythm: **the idea** (short prose, the key
# equation), **you build it** (a stub to fill in, then a checker), and **the library
# version** (`torch.nn`, Hugging Face) shown to compute the same thing.
#
# This short tour shows the machinery once, on a warm-up exercise, so that Module 1 can be
# all about sequence models:
#
# 1. one call sets up the run (profile, device, seed, folders);
# 2. data sets are loaded by name, offline when a local copy exists;
# 3. an exercise, its checker, and what happens when you skip it;
# 4. the two pictures every module draws: training curves and attention heat maps.

# %%
import math

import torch

from course_lib import setup

cfg = setup(module=0)

# %% [markdown]
# `setup` picked a **profile**: `ci` (tiny, for automated tests), `cpu` (a laptop, about
# ten minutes a notebook) or `gpu` (full sizes). Set `COURSE_PROFILE` to choose; every size a
# notebook uses comes from `cfg.sizes`, one table in `course_lib/machinery/profiles.py`:

# %%
cfg.sizes

# %% [markdown]
# ## 0.1 Data by name
#
# `course_lib.data` knows each data set of the course by name, with its checksum. It reads
# the copy in `COURSE_DATA_DIR` if you set one, else its cache under `data/`, else downloads
# it once.

# %%
from course_lib.data import Vocab, load_names, split_items

names_by_language = load_names()
names = [name for group in names_by_language.values() for name in group]
print(f"{len(names):,} surnames in {len(names_by_language)} languages, e.g. {names[:4]}")

# %% [markdown]
# ## 0.2 An exercise and its checker
#
# Exercises look like the cell below: the learner's notebook has a stub, the solutions
# notebook has the answer. Run the checker right after. If you have not attempted the
# exercise yet, the checker says so and the notebook carries on with the course's own
# implementation, so *Run all* always reaches the end.
#
# **Exercise 0.2 · softmax.** Turn scores $x$ into probabilities along `dim`:
# $$\mathrm{softmax}(x)_i = \frac{e^{x_i}}{\sum_j e^{x_j}} = \frac{e^{x_i - m}}{\sum_j e^{x_j - m}}, \quad m = \max_j x_j .$$
# The second form gives the same numbers and never overflows: you will use it in every
# attention layer of the course. Take $m$ separately for every slice along `dim`: the checker
# feeds rows around 0, 1000, -1000 and 300 side by side, along either axis, and compares the
# values (one global maximum, the minimum or clipping the scores all go wrong there).

# %%
def softmax(x: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """Numerically stable softmax of ``x`` along ``dim`` (same shape as ``x``)."""
    # BEGIN SOLUTION
    shifted = x - x.max(dim=dim, keepdim=True).values
    exp = shifted.exp()
    return exp / exp.sum(dim=dim, keepdim=True)
    # END SOLUTION


# %%
from course_lib.checkers.softmax import check_softmax

check_softmax(softmax)

# %% [markdown]
# Checkers teach when they fail. Here is what a naive softmax (no max subtraction) gets:

# %%
from course_lib.checkers import CheckFailed


def naive_softmax(x, dim=-1):
    return x.exp() / x.exp().sum(dim=dim, keepdim=True)


try:
    check_softmax(naive_softmax)
except CheckFailed as err:
    print(err)

# %% [markdown]
# ## 0.3 Results are measured, and asserted
#
# A bigram model predicts each character from the one before: a table of
# $V \times V$ logits. Guessing uniformly costs $\ln V$ nats per character; anything that
# learns must do better. Every notebook states such claims with `assert_metric`, so CI fails
# the day a model stops learning.

# %%
vocab = Vocab.build(names)
train_names, val_names = split_items(names, (0.9, 0.1), seed=cfg.seed)


def bigram_counts(batch: list[str]) -> torch.Tensor:
    """counts[a, b]: how often character b follows character a, shape (V, V)."""
    counts = torch.zeros(len(vocab), len(vocab))
    for name in batch:
        seq = vocab.encode(name, bos=True, eos=True)
        for a, b in zip(seq, seq[1:]):
            counts[a, b] += 1
    return counts


train_counts, val_counts = bigram_counts(train_names), bigram_counts(val_names)
print(f"vocabulary: {len(vocab)} tokens; {int(train_counts.sum()):,} training bigrams")

# %% [markdown]
# The cross-entropy over all bigrams is a weighted sum over the table: each pair $(a, b)$
# counts as often as it occurs.

# %%
def bigram_loss(logits: torch.Tensor, counts: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy, in nats, of the bigrams tallied in ``counts`` (V, V)."""
    return -(counts * logits.log_softmax(dim=-1)).sum() / counts.sum()


logits = torch.zeros(len(vocab), len(vocab), requires_grad=True)
optimizer = torch.optim.Adam([logits], lr=0.1)
history = {"train_loss": [], "val_loss": []}
for step in range(cfg.sizes["steps"]):
    loss = bigram_loss(logits, train_counts)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    if step % 10 == 0:
        history["train_loss"].append(loss.item())
        history["val_loss"].append(bigram_loss(logits, val_counts).item())

# %%
from course_lib.checkers import assert_metric
from course_lib.plots import plot_history

uniform = math.log(len(vocab))
plot_history(history, xlabel="training step / 10", title="bigram model of surnames",
             loss_label="cross-entropy (nats per character)",
             loss_baselines={f"uniform guess, ln {len(vocab)}": uniform});
print(f"uniform baseline: ln({len(vocab)}) = {uniform:.3f} nats")
assert_metric("validation loss", history["val_loss"][-1], at_most=uniform - cfg.sizes["min_gain_nats"])

# %% [markdown]
# ## 0.4 Attention heat maps
#
# From Module 1 on you will look at attention weights: each row is a query, each column a
# key, each row sums to 1. `plot_attention` draws one map, or a grid of layers × heads.
# Here, as a preview, the learned bigram table of a few letters read as "attention" from
# one character to the next:

# %%
from course_lib.plots import plot_attention

letters = list("aeiou") + list("nrst")
ids = torch.tensor(vocab.encode(letters))
with torch.no_grad():
    probs = torch.softmax(logits[ids][:, ids], dim=-1)
plot_attention(probs, keys=letters, queries=letters, xlabel="next letter", ylabel="current letter",
               colorbar_label="P(next | current)", suptitle="P(next | current), renormalised");

# %% [markdown]
# ## Self-check
#
# 1. Why does subtracting the maximum not change the softmax?
#
# <!-- BEGIN SOLUTION -->
# Because $e^{x_i - m} / \sum_j e^{x_j - m} = e^{-m} e^{x_i} / (e^{-m} \sum_j e^{x_j})$:
# the factor $e^{-m}$ cancels. It only keeps every exponent $\le 0$, so nothing overflows.
# <!-- END SOLUTION -->
#
# 2. Why is $\ln V$ the loss of a model that has learned nothing?
#
# <!-- BEGIN SOLUTION -->
# A uniform guess gives every one of the $V$ tokens probability $1/V$, and the cross-entropy
# of the true token is then $-\ln(1/V) = \ln V$ whatever the data.
# <!-- END SOLUTION -->
