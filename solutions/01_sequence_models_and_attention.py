# %% [markdown]
# # 01 · Sequence models, embeddings, encoder-decoder, and the first attention
#
# Transformers were invented to fix what recurrent networks could not do well. This module
# builds that story from the ground up, one piece at a time:
#
# 1. **Recurrence**: a vanilla RNN in NumPy, and a *measurement* of why its gradients
#    vanish or explode over long distances.
# 2. **1.1 The LSTM** from scratch, proven equal to `torch.nn.LSTM`, with one gradient
#    derived by hand; then an LSTM that invents surnames.
# 3. **Word embeddings**: why dense vectors beat one-hot codes; a small word2vec.
# 4. **1.2 Encoder-decoder** without attention, and the fixed-size bottleneck it suffers from.
# 5. **1.3 Dot-product attention**, and the same encoder-decoder with attention added: the
#    bottleneck disappears, and the model's alignment becomes visible.
#
# Every exercise has a stub (in `notebooks/`) and a checker right after it. Skipped exercises
# are fine: the notebook carries on with the course's reference from `course_lib`.

# %%
import math

import matplotlib.pyplot as plt
import numpy as np
import torch
from torch import nn

from course_lib import setup
from course_lib.checkers import assert_metric
from course_lib.plots import plot_attention, plot_history, plot_lines
from course_lib.report import say
from course_lib.training import evaluate_loss, fit

cfg = setup(module=1)
# every size of this notebook, for the current profile: one dict per experiment
GRAD, CHAR, W2V, S2S = (cfg.sizes[k] for k in ("gradients", "surnames", "word2vec", "seq2seq"))

# %% [markdown]
# ## 1.1 Why recurrence?
#
# A sentence, a name, a melody: sequences come in every length, and their meaning depends on
# order. A feed-forward network wants a fixed-size input. A **recurrent neural network**
# instead reads one element $x_t$ at a time and carries a memory, the hidden state $h_t$,
# updated by the *same* weights at every step:
#
# $$h_t = \tanh\left(x_t W_{xh} + h_{t-1} W_{hh} + b_h\right), \qquad h_{-1} = h_0 .$$
#
# Weight sharing across time means the network handles any length with a fixed number of
# parameters, and the final state $h_T$ is a summary of everything read.
#
# **Exercise 1.1 · vanilla RNN forward pass in NumPy.** `x` has shape
# `(batch, seq, input)`; states are row vectors `(batch, hidden)`. Return *every* state,
# shape `(batch, seq, hidden)`.

# %%
def rnn_forward(x, h0, W_xh, W_hh, b_h):
    """All hidden states (batch, seq, hidden) of a tanh RNN; x (batch, seq, input)."""
    # BEGIN SOLUTION
    h, states = h0, []
    for t in range(x.shape[1]):
        h = np.tanh(x[:, t] @ W_xh + h @ W_hh + b_h)
        states.append(h)
    return np.stack(states, axis=1)
    # END SOLUTION


# %%
from course_lib.checkers.rnn import check_rnn_forward

check_rnn_forward(rnn_forward)
from course_lib.recurrent.rnn import rnn_forward  # the course's reference from here on

# %% [markdown]
# `torch.nn.RNN` computes exactly this. It stores the transposed matrices
# (`weight_ih_l0` is $W_{xh}^\top$) and two biases whose sum is our $b_h$:

# %%
torch.manual_seed(cfg.seed)
torch_rnn = nn.RNN(input_size=3, hidden_size=4, batch_first=True)
x = torch.randn(2, 5, 3)
ours = rnn_forward(
    x.numpy(), np.zeros((2, 4), dtype=np.float32),
    torch_rnn.weight_ih_l0.detach().numpy().T, torch_rnn.weight_hh_l0.detach().numpy().T,
    (torch_rnn.bias_ih_l0 + torch_rnn.bias_hh_l0).detach().numpy(),
)
theirs, _ = torch_rnn(x)
torch.testing.assert_close(torch.from_numpy(ours), theirs.detach())
print("NumPy RNN == torch.nn.RNN; largest difference:", np.abs(ours - theirs.detach().numpy()).max())

# %% [markdown]
# ## 1.2 Why recurrence struggles: vanishing and exploding gradients
#
# Training needs $\partial L / \partial x_t$ for early inputs. By the chain rule the signal
# from $h_T$ back to $h_t$ passes through every step in between:
#
# $$\frac{\partial h_T}{\partial h_t} = \prod_{k=t+1}^{T} \operatorname{diag}\left(1 - h_k^2\right) W_{hh}^\top .$$
#
# A product of $T-t$ similar matrices behaves like a power: its norm shrinks geometrically
# when their gains are below 1 (**vanishing**) and grows geometrically when above 1
# (**exploding**). Rather than believe it, measure it: `gradient_norms_by_distance` feeds a
# random sequence and reports $\lVert \partial (v \cdot h_T) / \partial x_{T-k} \rVert$ for
# every distance $k$. We measure in float64: the vanishing gradients fall below float32's
# smallest number (about $10^{-45}$) within a few dozen steps and would read as exactly 0.

# %%
from course_lib.recurrent.rnn import gradient_norms_by_distance

H = 64  # width of the recurrent nets measured here


def vanilla_rnn(gain: float) -> nn.RNN:
    """A tanh RNN whose recurrent weights are Gaussian with spectral radius about ``gain``."""
    rnn = nn.RNN(H, H, batch_first=True)
    with torch.no_grad():
        rnn.weight_hh_l0.copy_(torch.randn(H, H) * gain / math.sqrt(H))
        rnn.weight_ih_l0.copy_(torch.randn(H, H) / math.sqrt(H))
        rnn.bias_ih_l0.zero_()
        rnn.bias_hh_l0.zero_()
    return rnn


def lstm(forget_bias: float) -> nn.LSTM:
    """PyTorch's LSTM with its forget-gate bias set (the gates are stacked i, f, g, o)."""
    cell = nn.LSTM(H, H, batch_first=True)
    with torch.no_grad():
        cell.bias_ih_l0[H : 2 * H] = forget_bias
        cell.bias_hh_l0[H : 2 * H] = 0.0
    return cell


# %%
torch.manual_seed(cfg.seed)
nets = {
    "vanilla RNN, small recurrent weights (gain 0.5)": vanilla_rnn(0.5),
    "vanilla RNN, large recurrent weights (gain 3)": vanilla_rnn(3.0),
    "LSTM, forget-gate bias 0 (f = 0.5, as at PyTorch's init)": lstm(0.0),
    "LSTM, forget-gate bias 3 (f = 0.95)": lstm(3.0),
}
norms = {name: gradient_norms_by_distance(net.double(), seq_len=GRAD["seq_len"])  # float64
         for name, net in nets.items()}
plot_lines({name: values / values[0] for name, values in norms.items()}, range(GRAD["seq_len"]),
           xlabel="distance k = T - t (time steps back)",
           ylabel="gradient norm\n(relative to k = 0)", logy=True, legend_outside=True,
           title="how strongly the last state depends on an input k steps back")
plt.show()

# %% [markdown]
# What the picture says, in numbers:

# %%
k = GRAD["seq_len"] - 1
ratio = {name: values[k] / values[0] for name, values in norms.items()}
for name, r in ratio.items():
    print(f"{name:52s} gradient at k={k} / at k=0: {r:.2e}")
names = list(ratio)
assert_metric("vanishing: small-weight RNN ratio", ratio[names[0]], at_most=1e-4)
assert_metric("exploding: large-weight RNN ratio", ratio[names[1]], at_least=1e2)
assert_metric("LSTM with f = 0.95: ratio", ratio[names[3]], at_least=0.1)
assert all((values > 0).all() for values in norms.values()), "a gradient underflowed to 0"

# %% [markdown]
# The vanilla RNN has no good setting: shrink $W_{hh}$ and the signal from 30 steps back is
# gone; grow it and gradients blow up (training diverges unless clipped). An LSTM whose
# forget gate sits at $f \approx 0.5$ (PyTorch initialises its biases near 0) forgets fast
# too, but it has a knob the vanilla RNN lacks: the **forget gate**. When $f \approx 1$, the
# signal travels back almost unchanged: the next section shows why, by deriving that
# gradient by hand.
#
# ## 1.3 The LSTM cell from scratch
#
# An LSTM (Hochreiter & Schmidhuber, 1997) keeps a second state, the **cell** $c_t$, changed
# only by element-wise gates. From the input $x$ and the previous $(h, c)$:
#
# $$\begin{aligned}
# i &= \sigma(x W_{ii}^\top + b_{ii} + h W_{hi}^\top + b_{hi}) && \text{input gate: what to write}\\
# f &= \sigma(x W_{if}^\top + b_{if} + h W_{hf}^\top + b_{hf}) && \text{forget gate: what to keep}\\
# g &= \tanh(x W_{ig}^\top + b_{ig} + h W_{hg}^\top + b_{hg}) && \text{candidate content}\\
# o &= \sigma(x W_{io}^\top + b_{io} + h W_{ho}^\top + b_{ho}) && \text{output gate: what to show}\\
# c' &= f \odot c + i \odot g, \qquad h' = o \odot \tanh(c') .
# \end{aligned}$$
#
# PyTorch stacks the four gates' weights into `weight_ih` of shape `(4H, input)` and
# `weight_hh` of shape `(4H, H)`, **in the order i, f, g, o**.
#
# **Exercise 1.3 · LSTM cell.** The `__init__` below is given (the same parameter names and
# shapes as `nn.LSTMCell`); write `forward`.

# %%
class LSTMCell(nn.Module):
    """One LSTM step: (x, (h, c)) -> (h', c'), with nn.LSTMCell's parameters."""

    def __init__(self, input_size: int, hidden_size: int):
        super().__init__()
        self.input_size, self.hidden_size = input_size, hidden_size
        bound = 1 / math.sqrt(hidden_size)
        self.weight_ih = nn.Parameter(torch.empty(4 * hidden_size, input_size).uniform_(-bound, bound))
        self.weight_hh = nn.Parameter(torch.empty(4 * hidden_size, hidden_size).uniform_(-bound, bound))
        self.bias_ih = nn.Parameter(torch.empty(4 * hidden_size).uniform_(-bound, bound))
        self.bias_hh = nn.Parameter(torch.empty(4 * hidden_size).uniform_(-bound, bound))

    def forward(self, x, state=None):
        """x (batch, input); state (h, c) each (batch, hidden), zeros if None -> (h', c')."""
        # BEGIN SOLUTION
        if state is None:
            zeros = x.new_zeros(x.shape[0], self.hidden_size)
            state = (zeros, zeros)
        h, c = state
        gates = x @ self.weight_ih.T + self.bias_ih + h @ self.weight_hh.T + self.bias_hh
        i, f, g, o = gates.chunk(4, dim=-1)
        i, f, g, o = torch.sigmoid(i), torch.sigmoid(f), torch.tanh(g), torch.sigmoid(o)
        c_new = f * c + i * g
        return o * torch.tanh(c_new), c_new
        # END SOLUTION


# %%
from course_lib.checkers.lstm import check_lstm_cell

check_lstm_cell(LSTMCell)
from course_lib.recurrent.lstm import LSTM, LSTMCell, copy_lstm_weights  # the course's reference

# %% [markdown]
# `course_lib.recurrent.lstm.LSTM` loops the cell over time with `nn.LSTM`'s interface. Copy the
# weights of a `torch.nn.LSTM` into it and the two agree on every output, every final state
# and every gradient:

# %%
torch.manual_seed(cfg.seed)
reference, scratch = nn.LSTM(4, 6, batch_first=True), LSTM(4, 6)
copy_lstm_weights(reference, scratch)
x = torch.randn(3, 7, 4)
(out_ref, (h_ref, c_ref)), (out, (h, c)) = reference(x), scratch(x)
for got, want in ((out, out_ref), (h, h_ref), (c, c_ref)):
    torch.testing.assert_close(got, want)
out.sum().backward()
out_ref.sum().backward()
torch.testing.assert_close(scratch.cell.weight_hh.grad, reference.weight_hh_l0.grad)
print("from-scratch LSTM == torch.nn.LSTM (outputs, states, gradients)")

# %% [markdown]
# ### 1.3.1 One gradient by hand
#
# Autograd computes the backward pass for us, but one derivative is worth doing by hand,
# because it is the reason LSTMs remember. Take one step and the scalar
# $L = \sum_j v_j h'_j$ for a fixed vector $v$ (think of $v$ as $\partial L / \partial h'$
# arriving from later steps). With the gates depending on $x$ and $h$ but **not** on $c$:
#
# $$\frac{\partial L}{\partial c} = \frac{\partial L}{\partial h'}\,\frac{\partial h'}{\partial c'}\,\frac{\partial c'}{\partial c}
#   = v \odot o \odot \left(1 - \tanh^2(c')\right) \odot f .$$
#
# The last factor is the point: along the cell state, the error is multiplied by the forget
# gate $f$ and nothing else, no weight matrix, no squashing of $c$ itself. Keep $f$ near 1
# and the error flows back over many steps (the "constant error carousel").
#
# **Exercise 1.3.1.** Compute $\partial L/\partial c$ from this formula (no autograd).
# `course_lib.recurrent.lstm.lstm_gates(cell, x, h)` returns the activated gates `(i, f, g, o)`.

# %%
from course_lib.recurrent.lstm import lstm_gates


def cell_state_gradient(cell, x, state, v):
    """dL/dc for L = sum(v * h') after one step from state = (h, c); all (batch, hidden)."""
    # BEGIN SOLUTION
    h, c = state
    i, f, g, o = lstm_gates(cell, x, h)
    c_new = f * c + i * g
    return v * o * (1 - torch.tanh(c_new) ** 2) * f
    # END SOLUTION


# %%
from course_lib.checkers.lstm import check_cell_state_gradient

check_cell_state_gradient(cell_state_gradient)
from course_lib.recurrent.lstm import cell_state_gradient  # the course's reference

# %% [markdown]
# Three ways to get the same number: the formula, autograd, and a **finite difference**,
# $\partial L / \partial c_j \approx \left(L(c + \epsilon e_j) - L(c - \epsilon e_j)\right) / 2\epsilon$,
# which needs nothing but the forward pass (in float64, so the estimate is precise).

# %%
torch.manual_seed(cfg.seed)
cell = nn.LSTMCell(3, 4).double()
x, h, c, v = (torch.randn(2, n, dtype=torch.double) for n in (3, 4, 4, 4))
by_hand = cell_state_gradient(cell, x, (h, c), v)
c_var = c.clone().requires_grad_(True)
(by_autograd,) = torch.autograd.grad((v * cell(x, (h, c_var))[0]).sum(), c_var)
eps, by_fd = 1e-6, torch.zeros_like(c)
with torch.no_grad():
    for j in np.ndindex(*c.shape):
        bump = torch.zeros_like(c)
        bump[j] = eps
        loss_at = [(v * cell(x, (h, c + s * bump))[0]).sum() for s in (1, -1)]
        by_fd[j] = (loss_at[0] - loss_at[1]) / (2 * eps)
print("hand vs autograd, largest difference:          ", (by_hand - by_autograd).abs().max().item())
print("hand vs finite differences, largest difference:", (by_hand - by_fd).abs().max().item())
torch.testing.assert_close(by_hand, by_autograd)
torch.testing.assert_close(by_hand, by_fd, atol=1e-7, rtol=1e-6)

# %% [markdown]
# ## 1.4 An LSTM that invents surnames
#
# A **character-level language model** reads a name one character at a time and predicts
# the next: `<bos> S m i t h` must predict `S m i t h <eos>`. The loss is the cross-entropy
# in nats per character; a model that has learned nothing guesses uniformly over the $V$
# characters and pays $\ln V$.
#
# The names data set has 20,074 surnames in 18 languages (with some duplicates, removed
# here so the validation names are really unseen). We **condition** the model on the
# language: a learned language vector is concatenated to every character embedding, so
# "-ov" can become likely for Russian and "-ez" for Spanish. (`num_languages=0` gives the
# unconditioned model.)

# %%
import random

from course_lib.data import Vocab, load_names, make_loader, split_items

names_by_language = load_names()
languages = sorted(names_by_language)
unique = sorted({(lang, name) for lang in languages for name in names_by_language[lang]})
unique = random.Random(cfg.seed).sample(unique, min(CHAR["max_names"], len(unique)))
train_names, val_names = split_items(unique, (0.9, 0.1), seed=cfg.seed)
char_vocab = Vocab.build([name for _, name in unique])
print(f"{len(unique):,} unique (language, name) pairs; {len(char_vocab)} tokens; "
      f"{len(train_names):,} train / {len(val_names):,} validation")

# %%
from course_lib.recurrent.char_model import (
    CharRNN,
    char_lm_loss,
    collate_names,
    encode_names,
    sample,
)


def as_items(pairs):
    """(language, name) pairs -> model items (input ids, target ids, language id)."""
    grouped = {lang: [n for g, n in pairs if g == lang] for lang in languages}
    return encode_names(grouped, char_vocab, languages)


char_train = make_loader(as_items(train_names), 64, collate=collate_names, shuffle=True, seed=cfg.seed)
char_val = make_loader(as_items(val_names), 256, collate=collate_names)

# %% [markdown]
# The model is `course_lib.recurrent.char_model.CharRNN`: embedding, LSTM, linear layer to the logits.
# With `from_scratch=True` its LSTM is `course_lib.recurrent.lstm.LSTM`, the cell you just wrote looped
# over time (PyTorch's fused `nn.LSTM`, the default, computes the same numbers about 1.5 times
# faster on this model).

# %%
torch.manual_seed(cfg.seed)
char_model = CharRNN(len(char_vocab), CHAR["emb"], CHAR["hidden"], num_languages=len(languages),
                     from_scratch=True)
uniform = math.log(len(char_vocab))
print(f"uniform baseline ln({len(char_vocab)}) = {uniform:.3f} nats; untrained model: "
      f"{evaluate_loss(char_model, char_val, char_lm_loss):.3f}")
char_history = fit(
    char_model, char_train, char_lm_loss, torch.optim.Adam(char_model.parameters(), lr=CHAR["lr"]),
    epochs=CHAR["epochs"], device=cfg.device, clip_grad_norm=1.0,
    evaluate=lambda m: {"val_loss": evaluate_loss(m, char_val, char_lm_loss, cfg.device)},
)

# %%
plot_history(char_history, title="character-level LSTM on surnames",
             loss_label="cross-entropy (nats per character)",
             loss_baselines={f"uniform guess, ln {len(char_vocab)}": uniform})
plt.show()
assert_metric("char model validation loss (nats/char)", char_history["val_loss"][-1],
              at_most=uniform - CHAR["min_gain_nats"])

# %% [markdown]
# **Sampling with a temperature.** To generate, feed `<bos>`, draw a character from
# $p_i \propto \exp(z_i / T)$, feed it back, and stop at `<eos>`. The temperature $T$ reshapes
# the distribution: $T < 1$ sharpens it towards the most likely characters (safe, typical
# names), $T > 1$ flattens it (more variety, more nonsense); $T \to 0$ is greedy decoding.

# %%
gen = torch.Generator().manual_seed(cfg.seed)
for lang in ("Russian", "Japanese", "Italian", "English", "German"):
    lang_id = languages.index(lang)
    for temperature in (0.5, 1.2):
        names = sample(char_model, char_vocab, n=6, temperature=temperature, language=lang_id, generator=gen)
        print(f"{lang:9s} T={temperature}: {', '.join(names)}")

# %% [markdown]
# ## 1.5 Word embeddings
#
# Models read words as numbers. The simplest code is **one-hot**: word $w$ of a vocabulary of
# size $V$ is the $V$-dimensional vector with a single 1. It is huge and says nothing: every
# two distinct words are orthogonal, so "dog" is exactly as far from "puppy" as from "guitar".

# %%
one_hot = torch.eye(5)  # five words: dog, puppy, guitar, ...
print("cosine(dog, puppy) =", torch.cosine_similarity(one_hot[0], one_hot[1], dim=0).item(),
      "| cosine(dog, guitar) =", torch.cosine_similarity(one_hot[0], one_hot[2], dim=0).item())

# %% [markdown]
# A **dense embedding** gives each word a learned vector of a few dozen numbers
# (`nn.Embedding` is exactly that: a lookup table of rows). If training makes words used in
# similar contexts get similar vectors, distance starts to mean something: "You shall know a
# word by the company it keeps" (Firth, 1957).
#
# **Skip-gram** (word2vec, Mikolov et al., 2013) learns them by predicting the words around
# each word. Each word has a centre vector $v_w$ and a context vector $u_w$. For a centre word
# $c$, a true context word $o$ (at most `window` positions away) and $K$ **negative** words
# $k_1..k_K$ drawn at random from the unigram distribution raised to $3/4$, the loss is
#
# $$\mathcal{L} = -\log \sigma\left(u_o^\top v_c\right) - \sum_{j=1}^{K} \log \sigma\left(-u_{k_j}^\top v_c\right),$$
#
# pulling true pairs together and pushing random pairs apart. This replaces a softmax over
# the whole vocabulary by $K+1$ binary decisions.

# %% [markdown]
# The corpus: the English side of Multi30k, short image captions ("two young men are
# playing football"), cut into lower-case words. Very frequent words ("a", "in", "the") are
# randomly thinned (**subsampling**), which speeds training and sharpens the vectors; every
# remaining word is paired with each neighbour at most 2 positions away.

# %%
from course_lib.data import load_multi30k
from course_lib.recurrent.word2vec import (
    SkipGram,
    SkipGramBatches,
    noise_distribution,
    skipgram_loss,
    skipgram_pairs,
    subsample,
    tokenize,
    word_counts,
)

captions = [tokenize(en) for _, en in load_multi30k("train")[: W2V["sentences"]]]
word_vocab = Vocab.build(captions, min_freq=W2V["min_freq"])
counts = word_counts(captions, word_vocab)
kept = [[w for w in word_vocab.encode(s) if w != word_vocab.unk_id] for s in captions]
w2v_pairs = skipgram_pairs(subsample(kept, counts, seed=cfg.seed), window=2)
w2v_batches = SkipGramBatches(w2v_pairs, noise_distribution(counts), W2V["batch"], num_negatives=5, seed=cfg.seed)
print(f"{len(captions):,} captions, {sum(counts):,} words, vocabulary {len(word_vocab):,}, "
      f"{len(w2v_pairs):,} (centre, context) pairs")

# %% [markdown]
# **Exercise · negative-sampling loss.** `center` and `context` are `(batch, dim)`,
# `negatives` is `(batch, K, dim)`; return the mean over the batch, as a tensor that keeps its
# gradient (training learns from it). Use `F.logsigmoid`: the checker compares values and
# gradients for dot products up to ±150, where `log(sigmoid(x))` (even with a small
# constant added) is far off.

# %%
import torch.nn.functional as F


def negative_sampling_loss(center, context, negatives):
    """Mean over the batch of -[log s(u_o.v_c) + sum_k log s(-u_k.v_c)]."""
    # BEGIN SOLUTION
    positive = F.logsigmoid((center * context).sum(dim=-1))
    negative = F.logsigmoid(-torch.einsum("bkd,bd->bk", negatives, center)).sum(dim=-1)
    return -(positive + negative).mean()
    # END SOLUTION


# %%
from course_lib.checkers.word2vec import check_negative_sampling_loss

check_negative_sampling_loss(negative_sampling_loss)
from course_lib.recurrent.word2vec import negative_sampling_loss  # the course's reference

# %%
torch.manual_seed(cfg.seed)
w2v = SkipGram(len(word_vocab), W2V["dim"])
w2v_history = fit(w2v, w2v_batches, skipgram_loss, torch.optim.Adam(w2v.parameters(), lr=W2V["lr"]),
                  epochs=W2V["epochs"])
untrained = 6 * math.log(2)  # K + 1 = 6 decisions, each sigma(0) = 1/2 before training
print(f"untrained loss: 6 ln 2 = {untrained:.3f}")
assert_metric("skip-gram training loss (last epoch)", w2v_history["train_loss"][-1],
              at_most=untrained - W2V["min_gain_nats"])

# %% [markdown]
# Nearest neighbours by cosine similarity: words that appear in the same kinds of captions
# end up close. Read the list below with the profile in mind: the `cpu` sizes (all captions,
# several epochs) give mostly sensible neighbours, the `ci` profile's one short epoch on a
# tenth of the captions mostly noise.

# %%
from course_lib.recurrent.word2vec import cosine, nearest_neighbours, project_2d

embeddings = w2v.embeddings.cpu()
for word in ("dog", "man", "red", "playing", "water", "bike"):
    if word in word_vocab:
        neighbours = nearest_neighbours(embeddings, word_vocab, word, k=5)
        print(f"{word:8s} -> " + ", ".join(f"{w} ({s:.2f})" for w, s in neighbours))

# %% [markdown]
# One number for "it learned": related pairs should be more similar than random pairs.

# %%
related = [("man", "woman"), ("boy", "girl"), ("red", "blue"), ("black", "white"), ("dog", "dogs")]
related = [(a, b) for a, b in related if a in word_vocab and b in word_vocab]
rng = random.Random(cfg.seed)
random_pairs = [tuple(rng.sample(word_vocab.itos[4:], 2)) for _ in range(200)]
related_sim = np.mean([cosine(embeddings, word_vocab, a, b) for a, b in related])
random_sim = np.mean([cosine(embeddings, word_vocab, a, b) for a, b in random_pairs])
print(f"mean cosine: related pairs {related_sim:.3f}, random pairs {random_sim:.3f}")
assert_metric("similarity gap (related - random)", related_sim - random_sim, at_least=W2V["min_similarity_gap"])

# %% [markdown]
# A 2-D picture: project a few groups of words on the two main directions of their vectors
# (PCA). Groups of related words tend to gather.

# %%
groups = {
    "colours": ["red", "blue", "green", "yellow", "black", "white"],
    "people": ["man", "woman", "boy", "girl", "child", "people"],
    "animals": ["dog", "dogs", "horse", "cat", "bird"],
    "actions": ["running", "playing", "walking", "sitting", "standing", "jumping"],
}
words = [w for group in groups.values() for w in group if w in word_vocab]
xy = project_2d(embeddings[[word_vocab.stoi[w] for w in words]])
fig, ax = plt.subplots(figsize=(6.5, 4.5), layout="constrained")
for group, members in groups.items():
    idx = [words.index(w) for w in members if w in words]
    ax.scatter(xy[idx, 0], xy[idx, 1], label=group)
    for i in idx:
        ax.annotate(words[i], xy[i], fontsize=9, xytext=(3, 3), textcoords="offset points")
ax.set_xlabel("first principal direction (arbitrary units)")
ax.set_ylabel("second principal direction\n(arbitrary units)")
fig.legend(fontsize=9, loc="outside right upper")
ax.set_title("skip-gram vectors, PCA to 2-D")
plt.show()

# %% [markdown]
# **GloVe** (Pennington et al., 2014) reaches similar vectors another way. Instead of
# sliding over the text and making local predictions, it first counts how often every two
# words co-occur in the whole corpus, $X_{ij}$, then fits vectors so that
# $w_i^\top \tilde w_j + b_i + \tilde b_j \approx \log X_{ij}$ by weighted least squares
# (rare pairs down-weighted). word2vec is *predictive* and *local*; GloVe is *count-based* and
# *global*; in practice both give vectors where similar words are close. Both give **one
# vector per word**, whatever its context: "bank" of a river and "bank" with money share it.
# Contextual representations, where a word's vector depends on its sentence, are what the
# attention layers of the next modules build.
#
# ## 1.6 Encoder-decoder without attention
#
# Many tasks map a sequence to another sequence of a different length: translation,
# summarisation, or here a toy task that makes the difficulty easy to measure,
# **reversing a string** (`"course"` → `"esruoc"`). The **encoder-decoder** (Sutskever et
# al., 2014; Cho et al., 2014) splits the job:
#
# - the **encoder**, an LSTM, reads the source; its final state $(h_S, c_S)$ is a
#   fixed-size summary of the whole input;
# - the **decoder**, another LSTM, starts from that state and writes the output one token
#   at a time, each step reading the previous output token:
#   $s_t = \mathrm{LSTM}(\mathrm{emb}(y_{t-1}), s_{t-1})$, $\;p(y_t) = \mathrm{softmax}(W s_t)$.
#
# Everything the decoder knows about the source must squeeze through $(h_S, c_S)$: that is the
# **bottleneck**, and we will watch it break as sequences get longer.

# %%
from course_lib.data import reversal_task
from course_lib.recurrent.seq2seq import (
    build_seq2seq,
    char_accuracy,
    encode_pairs,
    exact_match_by_length,
    recurrent_predict_strings,
)

S_LENGTHS = range(S2S["min_len"], S2S["max_len"] + 1)
rev_train = reversal_task(S2S["train"], S2S["min_len"], S2S["max_len"], seed=cfg.seed)
rev_val = reversal_task(500, S2S["min_len"], S2S["max_len"], seed=cfg.seed + 1)
seen = {src for src, _ in rev_train}
rev_test = [p for n in S_LENGTHS for p in reversal_task(S2S["test_per_length"], n, n, seed=100 + n)
            if p[0] not in seen]  # only strings never seen in training
rev_vocab = Vocab.build([src for src, _ in rev_train])
print(rev_train[:3], f"| vocabulary: {len(rev_vocab)} tokens | {len(rev_test)} test strings")

# %% [markdown]
# **Teacher forcing.** During training we do not let the decoder read its own (mostly wrong)
# guesses: we feed it the *true* previous token. Its input is the target shifted right by one,
# starting with `<bos>`; its labels are the target itself, ending with `<eos>`:
#
# | step | 1 | 2 | 3 | 4 |
# |---|---|---|---|---|
# | decoder input | `<bos>` | c | b | a |
# | label | c | b | a | `<eos>` |
#
# so all steps run in one pass, and the loss is the mean cross-entropy over all the real
# (non-padding) label tokens of the batch at once (not a mean of per-sequence means):
# $\mathcal{L} = -\frac{1}{N}\sum_{t} \log p\left(y_t \mid y_{<t}, x\right)$.
#
# **Exercise 1.6a.** Write the loss. `batch["tgt"]` `(batch, len)` holds the padded targets
# (ending with `<eos>`), `shift_right(tgt, bos_id)` builds the decoder input, and
# `model(src, src_lengths, tgt_in)` returns `(logits, weights)` with logits
# `(batch, len, vocab)`; pass it `batch["src_lengths"]`, so the encoder stops at each
# row's last real token. The ids are `model.bos_id` and `model.pad_id`.

# %%
from course_lib.data import shift_right


def teacher_forcing_loss(model, batch):
    """Mean cross-entropy of the target tokens under teacher forcing, padding ignored."""
    # BEGIN SOLUTION
    tgt = batch["tgt"]
    logits, _ = model(batch["src"], batch["src_lengths"], shift_right(tgt, model.bos_id))
    return F.cross_entropy(logits.flatten(0, 1), tgt.flatten(), ignore_index=model.pad_id)
    # END SOLUTION


# %%
from course_lib.checkers.seq2seq import check_teacher_forcing_loss

check_teacher_forcing_loss(teacher_forcing_loss)
from course_lib.recurrent.seq2seq import teacher_forcing_loss  # the course's reference

# %% [markdown]
# **Greedy decoding.** At test time there is no true previous token: the decoder feeds back
# its own prediction. Greedy decoding takes the most likely token at every step,
# $\hat y_t = \arg\max p(y_t \mid \hat y_{<t}, x)$, until `max_len` steps (tokens after the
# first `<eos>` are ignored).
#
# **Exercise 1.6b.** `model.encode(src, src_lengths)` returns `enc` with `enc.memory`
# (encoder outputs), `enc.mask` (True at padding) and `enc.state` (the final `(h, c)`).
# One decoder step is `logits, state, weights = model.decoder(prev, state, enc.memory, enc.mask)`
# with `prev` of shape `(batch, 1)`. Return the generated ids `(batch, max_len)`. Rows
# produce `<eos>` at different steps: never stop the whole batch at the first `<eos>` (you
# may stop once *every* row has produced one, returning fewer columns). The checker also runs
# your loop on a scripted model that reverses each source, so `<eos>` comes at a different
# step in every row.

# %%
def greedy_decode(model, src, src_lengths, max_len):
    """Greedy output ids (batch, max_len): start from <bos>, feed back each argmax."""
    # BEGIN SOLUTION
    enc = model.encode(src, src_lengths)
    prev = torch.full((src.shape[0], 1), model.bos_id, dtype=torch.long, device=src.device)
    state, tokens = enc.state, []
    for _ in range(max_len):
        logits, state, _ = model.decoder(prev, state, enc.memory, enc.mask)
        prev = logits[:, -1].argmax(dim=-1, keepdim=True)
        tokens.append(prev)
    return torch.cat(tokens, dim=1)
    # END SOLUTION


# %%
from course_lib.checkers.seq2seq import check_greedy_decode

check_greedy_decode(greedy_decode)
from course_lib.recurrent.seq2seq import (
    greedy_decode,  # the course's reference (also returns weights)
)

# %% [markdown]
# The model, `course_lib.recurrent.seq2seq.build_seq2seq`: a `RecurrentEncoder` (embedding + LSTM, padding
# skipped with packed sequences) and a `RecurrentDecoder` (embedding + LSTM + linear layer) started from
# the encoder's final state. The recurrent layers are `torch.nn.LSTM`, for speed (they compute
# what our `LSTM` computes, as proven above).

# %%
rev_loader = make_loader(encode_pairs(rev_train, rev_vocab), S2S["batch"], shuffle=True, seed=cfg.seed)
rev_val_loader = make_loader(encode_pairs(rev_val, rev_vocab), 256)


def train_reversal(attention: bool):
    """Train a fresh encoder-decoder on the reversal task; returns (model, history).

    Adam, with the learning rate decayed linearly to 0 over training, and gradient clipping.
    """
    torch.manual_seed(cfg.seed)
    model = build_seq2seq(rev_vocab, S2S["emb"], S2S["hidden"], attention=attention)
    optimizer = torch.optim.Adam(model.parameters(), lr=S2S["lr"])
    steps = S2S["epochs"] * len(rev_loader)
    decay = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1 - step / steps)
    history = fit(
        model, rev_loader, teacher_forcing_loss, optimizer, epochs=S2S["epochs"],
        device=cfg.device, clip_grad_norm=1.0, scheduler=decay,
        evaluate=lambda m: {"val_loss": evaluate_loss(m, rev_val_loader, teacher_forcing_loss, cfg.device)},
    )
    return model, history


# %%
REVERSAL_LOSS = {"loss_label": "cross-entropy (nats per character)"}
plain_model, plain_history = train_reversal(attention=False)
uniform_rev = {f"uniform guess, ln {len(rev_vocab)}": math.log(len(rev_vocab))}
plot_history(plain_history, title="encoder-decoder without attention", loss_baselines=uniform_rev,
             **REVERSAL_LOSS)
plt.show()

# %% [markdown]
# Exact match (the whole reversed string right) on fresh test strings, by source length:

# %%
def evaluate_reversal(model):
    """Greedy decoding on rev_test: (exact match by length, character accuracy, predictions)."""
    preds = recurrent_predict_strings(model, [s for s, _ in rev_test], rev_vocab, S2S["max_len"] + 2, device=cfg.device)
    return exact_match_by_length(rev_test, preds), char_accuracy(rev_test, preds), preds


plain_by_length, plain_chars, plain_preds = evaluate_reversal(plain_model)
shown = set()
for (src, tgt), pred in zip(rev_test, plain_preds, strict=True):
    if len(src) % 3 == 0 and len(src) not in shown:  # one example every third length
        shown.add(len(src))
        print(f"{src:>16s} -> {pred:16s} {'ok' if pred == tgt else 'wrong (want ' + tgt + ')'}")
EXACT_MATCH = {"xlabel": "source length (characters)", "x": list(plain_by_length),
               "metric_label": "exact match (share of test strings)"}
plot_history({"no attention (1.2)": list(plain_by_length.values())},
             title="reversal, exact match by source length", **EXACT_MATCH)
plt.show()

# %%
assert_metric("no attention: validation loss", plain_history["val_loss"][-1], at_most=S2S["plain_max_val_loss"])
assert_metric("no attention: character accuracy", plain_chars, at_least=S2S["min_char_accuracy"])

# %% [markdown]
# Short strings come out right; long ones rarely do. The decoder has to rebuild $n$
# characters from one vector of fixed size, and the first character it must write is the one
# the encoder read *last*... but the last one it must write was read first, longest ago.
#
# ## 1.7 Dot-product attention
#
# Bahdanau et al. (2014) and Luong et al. (2015) removed the bottleneck: at every step, let
# the decoder **look back at all the encoder outputs** and take what it needs. In the
# vocabulary that Transformers later made universal:
#
# - a **query** $q$ (what the decoder is looking for: its current state $s_t$),
# - **keys** $k_1..k_n$ (what each source position offers to be matched against),
# - **values** $v_1..v_n$ (what each position hands over; here keys and values are both the
#   encoder outputs).
#
# $$\text{score}_j = q^\top k_j, \qquad a_j = \frac{\exp(\text{score}_j)}{\sum_{l} \exp(\text{score}_l)}, \qquad \text{context} = \sum_j a_j v_j .$$
#
# The weights $a$ are a probability distribution over the source positions, and the context
# is a weighted average of the values. For many queries at once, stack them as rows of $Q$:
# $\text{weights} = \mathrm{softmax}(Q K^\top)$ (row-wise), $\text{context} = \text{weights}\, V$.
#
# **Exercise 1.7 · attention in NumPy.** `query` `(..., n_q, d)`, `keys` `(..., n_k, d)`,
# `values` `(..., n_k, d_v)`; return `(context, weights)`. Use `np.swapaxes(keys, -1, -2)`
# so batched inputs work, and subtract each row's own maximum score before `np.exp` (the
# checker compares the weights for rows of scores around 0, 1000, -1000 and 300).

# %%
def dot_product_attention(query, keys, values):
    """NumPy dot-product attention: context (..., n_q, d_v) and weights (..., n_q, n_k)."""
    # BEGIN SOLUTION
    scores = query @ np.swapaxes(keys, -1, -2)
    scores = scores - scores.max(axis=-1, keepdims=True)
    weights = np.exp(scores)
    weights = weights / weights.sum(axis=-1, keepdims=True)
    return weights @ values, weights
    # END SOLUTION


# %%
from course_lib.checkers.seq2seq import check_dot_product_attention

check_dot_product_attention(dot_product_attention)
from course_lib.attention import scaled_dot_product_attention  # PyTorch, used from here on

# %% [markdown]
# The PyTorch version is `course_lib.attention.scaled_dot_product_attention(q, k, v, mask,
# scale)`, the function the whole course uses (Module 2 builds it from scratch). It
# multiplies the scores by `scale`, $1/\sqrt{d}$ by default; **`scale=1.0` gives the plain
# dot product of this exercise**: the checker compared your NumPy code with it. A toy example
# with a picture: four query words look for their best match among six key words. Each query
# is a noisy copy of one key, so it should find that key. (The keys are given equal lengths:
# a plain dot product also grows with the length of a key, not only with its direction.)

# %%
rng = np.random.default_rng(cfg.seed)
key_words = ["the", "cat", "sat", "on", "a", "mat"]
keys = rng.normal(size=(6, 8))
keys = 2.5 * keys / np.linalg.norm(keys, axis=1, keepdims=True)  # six keys of equal length
query_words = ["cat", "mat", "sat", "the"]
queries = keys[[key_words.index(w) for w in query_words]] + 0.3 * rng.normal(size=(4, 8))
q, k = torch.from_numpy(queries), torch.from_numpy(keys)
context, weights = scaled_dot_product_attention(q, k, k, scale=1.0)  # values = keys here
print("context:", tuple(context.shape), "| rows of the weights sum to", weights.sum(dim=-1).numpy())
print("best key per query:", [key_words[j] for j in weights.argmax(dim=-1)])
plot_attention(weights, keys=key_words, queries=query_words, suptitle="dot-product attention, toy example")
plt.show()

# %% [markdown]
# ### 1.7.1 The encoder-decoder with attention
#
# `course_lib.recurrent.seq2seq.RecurrentAttentionDecoder` is the decoder of 1.2 plus Luong's "global" attention:
# at step $t$ its LSTM state $s_t$ is the query; the keys and values are the encoder outputs
# $e_1..e_n$ (padding masked out); the context is combined with the state before predicting:
#
# $$\text{context}_t = \sum_j \mathrm{softmax}_j\left(s_t^\top e_j\right) e_j, \qquad
#   p(y_t) = \mathrm{softmax}\left(W_{out} \tanh\left(W_c [s_t; \text{context}_t]\right)\right).$$
#
# It calls `scaled_dot_product_attention(s, e, e, mask, scale=1.0)`: the **unscaled** dot
# score of Luong et al., the attention of exercise 1.7. Queries and keys here are LSTM
# outputs, every coordinate in $(-1, 1)$, so scores cannot blow up; dividing them by
# $\sqrt{d}$ only makes the softmax flatter and the alignment slower to learn (when we tried
# it with the small `ci` sizes, a $1/\sqrt{d}$ version had barely started to align when the
# unscaled one was nearly perfect; with the `cpu` sizes both get there). Module 2 shows why Transformers, whose queries and keys are unbounded linear
# projections, do need the $1/\sqrt{d}$. Everything else (embeddings, LSTMs, data, epochs,
# learning rate) is the same as in 1.2.

# %%
attn_model, attn_history = train_reversal(attention=True)
plot_history(attn_history, title="encoder-decoder with attention", loss_baselines=uniform_rev,
             **REVERSAL_LOSS)
plt.show()
attn_by_length, attn_chars, attn_preds = evaluate_reversal(attn_model)

# %%
print("length | no attention | attention   (exact match)")
for n in plain_by_length:
    print(f"{n:6d} | {plain_by_length[n]:12.2f} | {attn_by_length[n]:9.2f}")
plot_history({"no attention (1.6)": list(plain_by_length.values()),
              "attention (1.7)": list(attn_by_length.values())},
             title="reversal: exact match by source length", **EXACT_MATCH)
plt.show()

# %% [markdown]
# The claim, checked: on the long sources, where the bottleneck model fails, the attention
# model does far better. Both models had the same data, sizes and number of updates.

# %%
long_lengths = [n for n in S_LENGTHS if n >= S2S["long_from"]]
attn_long = min(attn_by_length[n] for n in long_lengths)
plain_long = float(np.mean([plain_by_length[n] for n in long_lengths]))
print(f"long sources: lengths {long_lengths[0]}..{long_lengths[-1]}")
assert_metric("attention: worst exact match on long sources", attn_long, at_least=S2S["attn_min_exact_long"])
assert_metric("no attention: mean exact match on long sources", plain_long, at_most=S2S["plain_max_exact_long"])
assert_metric("attention: validation loss", attn_history["val_loss"][-1], at_most=S2S["attn_max_val_loss"])
assert_metric("attention: character accuracy", attn_chars, at_least=S2S["attn_min_char_accuracy"])
say(f"On sources of {long_lengths[0]} to {long_lengths[-1]} characters, exact match without "
    f"attention is {', '.join(f'{plain_by_length[n]:.2f}' for n in long_lengths)}; with attention "
    f"{', '.join(f'{attn_by_length[n]:.2f}' for n in long_lengths)} (same lengths, in order).")

# %% [markdown]
# ### 1.7.2 Where does the model look?
#
# To write the $t$-th character of the reversal of a length-$n$ string, the model needs
# source position $n-1-t$: the weights should form an **anti-diagonal**. Nobody told it so;
# it is learned from the loss alone.

# %%
from course_lib.data import collate_pairs

example = reversal_task(1, S2S["max_len"], S2S["max_len"], seed=2024)[0][0]
batch = collate_pairs(encode_pairs([(example, example[::-1])], rev_vocab))
attn_model.eval()
ids, weights = greedy_decode(attn_model, batch["src"].to(cfg.device), batch["src_lengths"].to(cfg.device), len(example) + 1)
output = rev_vocab.decode(ids[0].tolist(), stop_at_eos=False)[: len(example) + 1]
plot_attention(weights[0, : len(output)], keys=list(example), queries=output,
               suptitle=f"alignment: {example} -> {''.join(output[: len(example)])}")
plt.show()

# %% [markdown]
# Measured over the whole test set: the share of output characters whose strongest
# attention weight falls on the mirrored source position.

# %%
on_diagonal = total = 0
for n in S_LENGTHS:
    pairs = [p for p in rev_test if len(p[0]) == n]
    b = collate_pairs(encode_pairs(pairs, rev_vocab))
    _, w = greedy_decode(attn_model, b["src"].to(cfg.device), b["src_lengths"].to(cfg.device), n)
    on_diagonal += (w.argmax(dim=-1).cpu() == torch.arange(n - 1, -1, -1)).sum().item()
    total += len(pairs) * n
assert_metric("share of steps attending to the mirrored position", on_diagonal / total, at_least=S2S["min_diagonal"])

# %% [markdown]
# ## What you built, and what comes next
#
# - A vanilla RNN, and a measurement of its vanishing and exploding gradients.
# - An LSTM cell equal to PyTorch's, and the hand-derived gradient that explains its memory.
# - A language model of names, sampled at two temperatures.
# - Word vectors from skip-gram with negative sampling.
# - An encoder-decoder, its bottleneck measured, and attention removing it.
#
# Attention here still rides on top of recurrence: each decoder step waits for the previous
# one, and the encoder reads one character at a time. Module 2 asks the question of
# "Attention Is All You Need": what if attention did *all* the work, for every position at
# once? That needs the scaled dot product, self-attention, several heads, and a way to know
# word order without recurrence (positional encodings).
#
# ## Self-check
#
# 1. Why do the gradients of a vanilla RNN vanish or explode over long distances? Why does
#    gradient clipping help with one of the two problems and not the other?
#
# <!-- BEGIN SOLUTION -->
# Back-propagating from $h_T$ to $h_t$ multiplies $T-t$ Jacobians
# $\operatorname{diag}(1-h_k^2) W_{hh}^\top$; the norm of such a product scales roughly like
# the $(T-t)$-th power of their typical gain: geometrically small below 1, geometrically large
# above 1 (the plot in section 1.2). Clipping rescales a too-large gradient, so exploding
# gradients stop wrecking the update; a vanishing gradient is just small and carries no
# usable information about distant inputs, and rescaling cannot restore it.
# <!-- END SOLUTION -->
#
# 2. Which factor multiplies the error on its way back through the LSTM cell state, and why
#    does that help long-range memory?
#
# <!-- BEGIN SOLUTION -->
# The forget gate: $\partial c_t/\partial c_{t-1} = \operatorname{diag}(f_t)$ (exercise
# 1.1c). No weight matrix and no squashing of $c$ sit on that path, and the network can learn
# $f \approx 1$ for what it must remember, so the error passes through many steps nearly
# unchanged. (A vanilla RNN has no such knob: its path always goes through $W_{hh}$ and tanh.)
# <!-- END SOLUTION -->
#
# 3. What does the sampling temperature do, and what do $T \to 0$ and $T \to \infty$ give?
#
# <!-- BEGIN SOLUTION -->
# It divides the logits before the softmax: $p_i \propto \exp(z_i/T)$. $T<1$ sharpens the
# distribution (more likely, more repetitive names), $T>1$ flattens it (more varied, more
# errors). $T \to 0$ puts all mass on the argmax (greedy decoding); $T \to \infty$ gives the
# uniform distribution, ignoring the model.
# <!-- END SOLUTION -->
#
# 4. Why is a one-hot vector a poor word representation? How do word2vec and GloVe differ?
#
# <!-- BEGIN SOLUTION -->
# It has one dimension per vocabulary word (huge, sparse) and every two words are orthogonal,
# so it encodes no similarity; nothing learned about "dog" transfers to "puppy". word2vec
# learns dense vectors by *predicting* context words from local windows (with negative
# sampling); GloVe first *counts* global co-occurrences and fits vector dot products to their
# logarithms. Both map similar words to nearby vectors, one vector per word type.
# <!-- END SOLUTION -->
#
# 5. What is teacher forcing? What mismatch does it create between training and greedy
#    decoding?
#
# <!-- BEGIN SOLUTION -->
# During training the decoder reads the true previous token (the target shifted right, after
# `<bos>`), so all steps run in parallel and errors do not compound. At inference it reads its
# own predictions, a distribution it never saw in training; one early mistake can derail the
# rest ("exposure bias"). Remedies include scheduled sampling and beam search.
# <!-- END SOLUTION -->
#
# 6. Why does the encoder-decoder without attention fail on long strings, while the one with
#    attention does not? Why is the alignment of reversal anti-diagonal?
#
# <!-- BEGIN SOLUTION -->
# Without attention, the whole source must be packed into one fixed-size state, and the
# decoder must unpack characters in the reverse order of reading; capacity and long-range
# gradients both run short as $n$ grows. With attention, each output step reads the encoder
# output at the position it needs directly, whatever the length: the path from a source
# character to its output is one attention step long. Output $t$ of a reversal copies source
# position $n-1-t$, so the strongest weights lie on the anti-diagonal.
# <!-- END SOLUTION -->
#
# 7. For a source of length $n$ and an output of length $m$, how many attention scores does
#    the decoder compute? What would that become if every position attended to every other?
#
# <!-- BEGIN SOLUTION -->
# $n \cdot m$ dot products (one per query-key pair). If all $n$ positions of a sequence attend
# to all $n$ (self-attention, Module 2), $n^2$: time and memory quadratic in the length, the
# price Transformers pay for direct access between any two positions.
# <!-- END SOLUTION -->
