# %% [markdown]
# # 02 · Self-attention and multi-head attention
#
# Module 1 ended with a decoder that *attends* to the encoder's states: at every step it
# scores each source position, turns the scores into weights with a softmax, and reads a
# weighted average. The recurrence was still there, walking the sequence one step at a time.
# "Attention Is All You Need" (Vaswani et al., 2017) drops it: every position attends to
# every other position **at once**, so a path between any two tokens is one step long and the
# whole sequence is processed in parallel.
#
# In this notebook you build that layer, piece by piece, and prove each piece computes what
# PyTorch computes:
#
# 1. **scaled dot-product attention** (2.4), after a worked example in NumPy and a
#    measurement of *why* the scores are divided by $\sqrt{d_k}$;
# 2. **self-attention** (2.5): queries, keys and values projected from one sequence;
# 3. **multi-head attention** (2.6), equal to `torch.nn.MultiheadAttention` with copied weights;
# 4. **positional encoding** (2.7): sinusoidal, learned and (stretch) rotary, and a small
#    model whose heads learn to look left and right, but only when positions are given;
# 5. **the cost of attention** (2.10): time and memory grow with the square of the length.

# %%
import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from course_lib import setup

cfg = setup(module=2)
# every size of this notebook, for the current profile: one dict per experiment
SCALE, TASK, COST = (cfg.sizes[k] for k in ("scaling", "neighbours", "cost"))

# %% [markdown]
# ## 2.1 The idea: a soft dictionary lookup
#
# A Python dictionary returns the value whose key *equals* the query. Attention returns a
# blend of **all** values, weighted by how well each key *matches* the query. With queries
# $Q \in \mathbb{R}^{n \times d_k}$, keys $K \in \mathbb{R}^{m \times d_k}$ and values
# $V \in \mathbb{R}^{m \times d_v}$:
#
# $$\mathrm{Attention}(Q, K, V) = \mathrm{softmax}\!\left(\frac{Q K^\top}{\sqrt{d_k}}\right) V .$$
#
# Row $i$ of $QK^\top$ holds the dot products of query $i$ with every key (the *scores*);
# the softmax over that row turns them into weights that are positive and sum to 1; the
# output row $i$ is the weighted average of the value rows. Shapes: $(n \times d_k)
# (d_k \times m) \to (n \times m)$ weights, times $(m \times d_v) \to (n \times d_v)$.

# %% [markdown]
# ## 2.2 A worked example on 4 tokens, NumPy beside PyTorch
#
# Four tokens, each a 4-dimensional vector $x_i$ (rows of $X$), projected to queries, keys
# and values of width 3 by small integer matrices, so every number can be checked by hand.

# %%
X = np.array([[1, 0, 1, 0],   # token 0
              [0, 2, 0, 2],   # token 1
              [1, 1, 1, 1],   # token 2
              [0, 0, 1, 1]], dtype=np.float32)  # token 3
W_q = np.array([[1, 0, 1], [1, 0, 0], [0, 0, 1], [0, 1, 1]], dtype=np.float32)
W_k = np.array([[0, 0, 1], [1, 1, 0], [0, 1, 0], [1, 1, 0]], dtype=np.float32)
W_v = np.array([[0, 2, 0], [0, 3, 0], [1, 0, 3], [1, 1, 0]], dtype=np.float32)
Q, K, V = X @ W_q, X @ W_k, X @ W_v
print("Q =\n", Q, "\nK =\n", K, "\nV =\n", V)

# %% [markdown]
# Step by step in NumPy: scores, scaled scores, a numerically stable softmax over each row
# (Module 0), and the weighted sum of values.

# %%
d_k = Q.shape[-1]
scores = Q @ K.T                           # (4, 4): query i against key j
scaled = scores / np.sqrt(d_k)
exp = np.exp(scaled - scaled.max(axis=-1, keepdims=True))
weights_np = exp / exp.sum(axis=-1, keepdims=True)
output_np = weights_np @ V                 # (4, 3)
np.set_printoptions(precision=3, suppress=True)
print("scores =\n", scores, "\nscores / sqrt(3) =\n", scaled, "\noutput =\n", output_np)
from course_lib.plots import plot_matrix

tokens = [f"token {i}" for i in range(4)]
plot_matrix(weights_np, tokens, tokens, xlabel="key", ylabel="query", colorbar_label="attention weight",
            title="weights: softmax of each row of scores / sqrt(3)");

# %% [markdown]
# Read row by row: query 1 `[2, 2, 2]` scores 16 against key 1 `[4, 4, 0]`, so 91% of its
# weight goes there and its output is close to value 1 `[2, 8, 0]`; query 0 gives keys 1 and 2
# the same score (4), hence the same weight (0.40 each); query 3 prefers key 2. PyTorch's
# fused kernel gives the same output, to float precision:

# %%
Qt, Kt, Vt = (torch.from_numpy(a) for a in (Q, K, V))
output_torch = F.scaled_dot_product_attention(Qt, Kt, Vt)
weights_torch = torch.softmax(Qt @ Kt.T / math.sqrt(d_k), dim=-1)
np.testing.assert_allclose(output_torch.numpy(), output_np, rtol=1e-5, atol=1e-6)
np.testing.assert_allclose(weights_torch.numpy(), weights_np, rtol=1e-5, atol=1e-6)
print("NumPy and F.scaled_dot_product_attention agree:\n", output_torch.numpy())

# %% [markdown]
# ## 2.3 Why scale? Measured
#
# If the components of $q$ and $k$ are independent with mean 0 and variance 1, then
# $q \cdot k = \sum_{i=1}^{d_k} q_i k_i$ is a sum of $d_k$ terms of variance 1: its variance
# is $d_k$. Wider heads give larger scores, and a softmax of large scores is nearly one-hot.
# Dividing by $\sqrt{d_k}$ brings the variance back to 1. Let us measure all three claims,
# with one query against 16 keys, for growing $d_k$.

# %%
gen = torch.Generator().manual_seed(cfg.seed)
n_keys, samples = 16, SCALE["samples"]
dims = SCALE["dims"]
stats = {key: [] for key in ("var", "max_raw", "max_scaled", "entropy_raw", "entropy_scaled",
                             "grad_raw", "grad_scaled")}
for d in dims:
    q = torch.randn(samples, 1, d, generator=gen)
    k = torch.randn(samples, n_keys, d, generator=gen)
    dots = (q * k).sum(-1)  # (samples, n_keys): raw scores q . k
    stats["var"].append(dots.var().item())
    for name, scale in (("raw", 1.0), ("scaled", 1 / math.sqrt(d))):
        s = (dots * scale).requires_grad_()
        w = s.softmax(dim=-1)
        # gradient of a random linear read-out of the weights, back to the scores
        (w * torch.randn(samples, n_keys, generator=gen)).sum().backward()
        stats[f"max_{name}"].append(w.max(dim=-1).values.mean().item())
        stats[f"entropy_{name}"].append(-(w * w.clamp_min(1e-30).log()).sum(-1).mean().item())
        stats[f"grad_{name}"].append(s.grad.norm(dim=-1).mean().item())
for i, d in enumerate(dims):
    print(f"d_k={d:5d}  var(q.k)={stats['var'][i]:8.1f}  max weight raw {stats['max_raw'][i]:.2f} "
          f"scaled {stats['max_scaled'][i]:.2f}  |grad| raw {stats['grad_raw'][i]:.3f} "
          f"scaled {stats['grad_scaled'][i]:.3f}")

# %%
from course_lib.plots import notebook_figure, plot_lines

fig, axes = notebook_figure(2, 2, height=2.9)
plot_lines({"measured var($q \\cdot k$)": stats["var"]}, dims, xlabel="$d_k$", ylabel="variance",
           title="variance of the raw score", ax=axes[0, 0], logx=True, logy=True)
axes[0, 0].loglog(dims, dims, "k--", label="$d_k$ (theory)")
axes[0, 0].legend(fontsize=9)
panels = (("max", "largest weight (0 to 1)", "the largest weight", 1 / n_keys),
          ("entropy", "entropy (nats)", "entropy of the weights", math.log(n_keys)),
          ("grad", "gradient norm", "|d loss / d scores|", None))
for ax, (key, ylabel, title, uniform) in zip(axes.flat[1:], panels, strict=True):
    plot_lines({"unscaled: softmax($q \\cdot k$)": stats[f"{key}_raw"],
                "scaled: softmax($q \\cdot k / \\sqrt{d_k}$)": stats[f"{key}_scaled"]}, dims,
               xlabel="$d_k$", ylabel=ylabel, title=title, ax=ax, logx=True,
               baselines={"uniform over 16 keys": uniform} if uniform else None)
    ax.get_legend().remove()
axes[0, 1].set_ylim(0, 1.02)
fig.legend(*axes[0, 1].get_legend_handles_labels(), loc="outside lower center", ncols=3, fontsize=9);

# %% [markdown]
# The variance of $q \cdot k$ follows $d_k$ exactly. Without scaling, the largest weight
# climbs towards 1 (one key takes everything), the entropy falls towards 0, and the gradient
# that flows back into the scores shrinks: the softmax Jacobian
# $\mathrm{diag}(p) - p p^\top$ vanishes when $p$ is one-hot, so queries and keys would stop
# learning. With $1/\sqrt{d_k}$ all three curves are flat.

# %%
from course_lib.checkers import assert_metric

ratio = [v / d for v, d in zip(stats["var"], dims, strict=True)]
assert_metric("min over d_k of var(q.k) / d_k", min(ratio), at_least=0.8)
assert_metric("max over d_k of var(q.k) / d_k", max(ratio), at_most=1.2)
assert_metric(f"unscaled max weight at d_k={dims[-1]}", stats["max_raw"][-1],
              at_least=SCALE["min_unscaled_max_weight"])
assert_metric(f"scaled max weight at d_k={dims[-1]}", stats["max_scaled"][-1],
              at_most=SCALE["max_scaled_max_weight"])
assert_metric("gradient shrink factor without scaling (largest d_k / smallest)",
              stats["grad_raw"][-1] / stats["grad_raw"][0], at_most=0.5)

# %% [markdown]
# ## 2.4 Exercise · Scaled dot-product attention
#
# Write `scaled_dot_product_attention(query, key, value, mask=None)` for inputs with any
# number of leading (batch, head) dimensions: `query` `(..., q_len, d_k)`, `key`
# `(..., k_len, d_k)`, `value` `(..., k_len, d_v)`. Return the output `(..., q_len, d_v)` **and**
# the weights `(..., q_len, k_len)`.
#
# The optional `mask` is a **bool** tensor broadcastable to `(..., q_len, k_len)` where
# **True means "may not attend"** (a padding token, or a future position). This is the
# convention of `nn.MultiheadAttention`; `F.scaled_dot_product_attention` uses the opposite
# one (True = keep), so watch out when reading other code. Blocked scores become $-\infty$
# *before* the softmax, so their weights are exactly 0 and the others still sum to 1:
#
# $$\text{weights} = \mathrm{softmax}\big(\tfrac{QK^\top}{\sqrt{d_k}} + M\big), \qquad
# M_{ij} = \begin{cases} -\infty & \text{mask}_{ij} \\ 0 & \text{otherwise.}\end{cases}$$

# %%
def scaled_dot_product_attention(query, key, value, mask=None):
    """softmax(Q K^T / sqrt(d_k)) V; returns (output (..., q_len, d_v), weights (..., q_len, k_len))."""
    # BEGIN SOLUTION
    d_k = query.shape[-1]
    scores = query @ key.transpose(-2, -1) / math.sqrt(d_k)
    if mask is not None:
        scores = scores.masked_fill(mask, float("-inf"))
    weights = scores.softmax(dim=-1)
    return weights @ value, weights
    # END SOLUTION


# %%
from course_lib.checkers.attention import check_scaled_dot_product_attention

check_scaled_dot_product_attention(scaled_dot_product_attention)
from course_lib.attention import scaled_dot_product_attention  # the course's reference from here on

# %% [markdown]
# ### 2.4.1 Masks in pictures
#
# Two masks cover every use in the course. A **padding mask** `(batch, k_len)` hides the pad
# tokens of shorter sequences (`course_lib.data.padding_mask(lengths)` builds it); a **causal
# mask** `(q_len, k_len)` hides the future, so position $i$ sees only $j \le i$ (decoders,
# Module 4). Here both at once, on a batch of two sequences of lengths 6 and 4:

# %%
x = torch.randn(2, 6, 8, generator=gen)
from course_lib.attention import causal_mask
from course_lib.data import padding_mask
from course_lib.plots import plot_attention

pad = padding_mask(torch.tensor([6, 4]))             # (2, 6): True at padding
mask = pad[:, None, :] | causal_mask(6)              # (2, 6, 6) by broadcasting
_, weights = scaled_dot_product_attention(x, x, x, mask=mask)
print("rows sum to", [round(total, 4) for total in weights.sum(-1)[1].tolist()])
fig = plot_attention(weights, titles=["length 6, causal", "length 4 + 2 pads, causal"], mask=mask)

# %% [markdown]
# **A fully masked row.** If every key of a query is blocked (a sequence that is all padding,
# which happens with some batching schemes), $-\infty$ everywhere gives $0/0$ = NaN, and a
# single NaN spreads to the whole loss. The course's reference defines this case instead:
# the weights of such a row are all 0 and its output is 0. `nn.MultiheadAttention` returns
# NaN here when it computes weights:

# %%
all_padding = padding_mask(torch.tensor([3, 0]))     # the second sequence is all padding
out, weights = scaled_dot_product_attention(x[:, :3], x[:, :3], x[:, :3], mask=all_padding[:, None, :])
torch_mha = nn.MultiheadAttention(8, 1, batch_first=True)
torch_out, _ = torch_mha(x[:, :3], x[:, :3], x[:, :3], key_padding_mask=all_padding)
print("course reference: output of the padded sequence", out[1].abs().max().item(),
      "| any NaN:", out.isnan().any().item())
print("nn.MultiheadAttention: any NaN:", torch_out.isnan().any().item())

# %% [markdown]
# ## 2.5 Exercise · Self-attention
#
# In **self**-attention the queries, keys and values all come from the same sequence
# $X \in \mathbb{R}^{n \times d_{model}}$, through three learned projections:
#
# $$Q = X W^Q,\quad K = X W^K,\quad V = X W^V,\qquad W^Q, W^K \in \mathbb{R}^{d_{model}\times d_k},\;
# W^V \in \mathbb{R}^{d_{model}\times d_v}.$$
#
# Every token asks a question (its query), advertises what it contains (its key) and offers
# content (its value). Write `SelfAttention(d_model, d_k)` with three bias-free
# `nn.Linear(d_model, d_k)` called `q_proj`, `k_proj`, `v_proj` (here $d_v = d_k$), and
# `forward(x, mask=None)` returning `(output (batch, seq, d_k), weights (batch, seq, seq))`.
# Use the attention function above. Mind which width goes under the square root.

# %%
class SelfAttention(nn.Module):
    """One attention head over one sequence (batch, seq, d_model) -> (batch, seq, d_k)."""

    def __init__(self, d_model: int, d_k: int):
        super().__init__()
        # BEGIN SOLUTION
        self.q_proj = nn.Linear(d_model, d_k, bias=False)
        self.k_proj = nn.Linear(d_model, d_k, bias=False)
        self.v_proj = nn.Linear(d_model, d_k, bias=False)
        # END SOLUTION

    def forward(self, x, mask=None):
        # BEGIN SOLUTION
        return scaled_dot_product_attention(self.q_proj(x), self.k_proj(x), self.v_proj(x), mask)
        # END SOLUTION


# %%
from course_lib.checkers.attention import check_self_attention

check_self_attention(SelfAttention)
from course_lib.attention import SelfAttention  # the course's reference from here on

# %% [markdown]
# ### 2.5.1 Self-attention on a sentence
#
# An untrained layer has random projections, so its weights say nothing about language yet;
# what they show is geometry. Give each word a random embedding and **tie** the query and
# key projections ($W^Q = W^K$): then the score of two tokens is a dot product of the same
# projection $p$ of both, and two occurrences of one word score exactly what a word scores
# with itself, $\lVert p \rVert^2$, usually more than with any other word. A token attending to
# *itself* proves nothing, so we measure what repeated words do with their *other*
# occurrences, with no training at all:

# %%
sentence = "the cat sat on the mat because the cat was tired".split()
from course_lib.data import Vocab

words = Vocab.build([sentence])
embed = nn.Embedding(len(words), 32)
tokens = embed(torch.tensor(words.encode(sentence)))[None]  # (1, 11, 32)
head = SelfAttention(32, 16)
with torch.no_grad():
    head.k_proj.weight.copy_(head.q_proj.weight)  # tie queries and keys
    _, tied = head(tokens)
fig = plot_attention(tied[0], keys=sentence, queries=sentence, cell_size=4, vmax=1.0,
                     suptitle="tied W_Q = W_K")
from course_lib.report import say

same_word = torch.tensor([[a == b for b in sentence] for a in sentence])
repeated = same_word.sum(-1) > 1  # tokens whose word occurs more than once
others = same_word & ~torch.eye(len(sentence), dtype=torch.bool)  # the *other* occurrences
on_copies = (tied[0] * others).sum(-1)[repeated].mean().item()
uniform_copies = (others.sum(-1)[repeated] / len(sentence)).float().mean().item()
gap = (tied[0][others] - tied[0].diagonal()[others.nonzero()[:, 0]]).abs().max().item()
assert on_copies > uniform_copies and gap < 1e-6  # the two claims of the sentence below
say(f"The {repeated.sum()} tokens of repeated words put {on_copies:.0%} of their weight on the "
    f"*other* occurrences of their word, more than a uniform head would ({uniform_copies:.0%}); "
    f"each gives an other occurrence exactly the weight it gives itself (largest difference "
    f"{gap:.0e}, float rounding).")

# %% [markdown]
# With separate (untied) random projections the pattern is arbitrary: *what counts as a
# match is learned*. Later in this notebook we train heads and watch them specialise.

# %%
head = SelfAttention(32, 16)
with torch.no_grad():
    _, untied = head(tokens)
fig = plot_attention(untied[0], keys=sentence, queries=sentence, cell_size=4, vmax=1.0,
                     suptitle="random W_Q, W_K (same 0-1 colour scale)")

# %% [markdown]
# ## 2.6 Exercise · Multi-head attention
#
# One head computes one weighted average per token: one notion of relevance. **Multi-head**
# attention runs $h$ heads side by side, each in its own $d_{head} = d_{model}/h$-dimensional
# subspace, and mixes their results:
#
# $$\mathrm{MultiHead}(Q, K, V) = \mathrm{Concat}(\mathrm{head}_1, \dots, \mathrm{head}_h)\, W^O,
# \qquad \mathrm{head}_i = \mathrm{Attention}(Q W_i^Q, K W_i^K, V W_i^V).$$
#
# In code all heads share one `nn.Linear(d_model, d_model)` per projection; the heads are
# *views* of its output. The shapes are the whole exercise:
#
# | step | shape |
# |---|---|
# | project `q_proj(query)`; `k_proj(key)`, `v_proj(value)` | `(batch, q_len, d_model)`; `(batch, k_len, d_model)` |
# | split each: `.view(batch, len, h, d_head).transpose(1, 2)`, `len` its own length | `(batch, h, q_len, d_head)`; `(batch, h, k_len, d_head)` |
# | attend in every head at once | `(batch, h, q_len, d_head)`, weights `(batch, h, q_len, k_len)` |
# | merge: `.transpose(1, 2).reshape(batch, q_len, d_model)` | `(batch, q_len, d_model)` |
# | `out_proj` | `(batch, q_len, d_model)` |
#
# In self-attention `q_len = k_len`; in cross-attention (Module 4's decoder) the queries
# and the keys/values come from different sequences, so the two lengths differ.
#
# Write `MultiHeadAttention(d_model, num_heads)` with `q_proj`, `k_proj`, `v_proj`, `out_proj`
# (`nn.Linear(d_model, d_model)` with bias, the names the checker copies into
# `nn.MultiheadAttention`) and `forward(query, key, value, key_padding_mask=None,
# attn_mask=None)` returning the output and the weights **averaged over heads**, batch
# first. `key_padding_mask` is `(batch, k_len)`, `attn_mask` is `(q_len, k_len)`, both bool
# with True = blocked. Either may be given, or both: a key is blocked when *either* mask
# blocks it (combine them with `|`, as `nn.MultiheadAttention` does). The checker copies
# your four projections into `nn.MultiheadAttention` and compares both on self- and
# cross-attention (`q_len` 5, `k_len` 7), with each mask and with both; your layer may hold
# other submodules, and its output must keep its gradient.

# %%
class MultiHeadAttention(nn.Module):
    """Batch-first multi-head attention, as nn.MultiheadAttention(batch_first=True)."""

    def __init__(self, d_model: int, num_heads: int):
        super().__init__()
        # BEGIN SOLUTION
        self.num_heads, self.d_head = num_heads, d_model // num_heads
        self.q_proj = nn.Linear(d_model, d_model)
        self.k_proj = nn.Linear(d_model, d_model)
        self.v_proj = nn.Linear(d_model, d_model)
        self.out_proj = nn.Linear(d_model, d_model)
        # END SOLUTION

    def forward(self, query, key, value, key_padding_mask=None, attn_mask=None):
        # BEGIN SOLUTION
        def split(x):  # (batch, seq, d_model) -> (batch, heads, seq, d_head)
            return x.view(x.shape[0], x.shape[1], self.num_heads, self.d_head).transpose(1, 2)

        q, k, v = split(self.q_proj(query)), split(self.k_proj(key)), split(self.v_proj(value))
        mask = None
        if key_padding_mask is not None:
            mask = key_padding_mask[:, None, None, :]  # (batch, 1, 1, k_len)
        if attn_mask is not None:
            mask = attn_mask if mask is None else mask | attn_mask
        context, weights = scaled_dot_product_attention(q, k, v, mask)
        batch, _, q_len, _ = context.shape
        merged = context.transpose(1, 2).reshape(batch, q_len, -1)
        return self.out_proj(merged), weights.mean(dim=1)
        # END SOLUTION


# %%
from course_lib.checkers.attention import check_multi_head_attention

check_multi_head_attention(MultiHeadAttention)
from course_lib.attention import MultiHeadAttention  # the course's reference from here on

# %% [markdown]
# ### 2.6.1 Proof: it computes what `nn.MultiheadAttention` computes
#
# PyTorch stores the three input projections as one `(3 d_model, d_model)` matrix,
# `in_proj_weight`, rows in the order Q, K, V. `MultiHeadAttention.from_torch` copies it
# (and `to_torch` goes back). On a padded batch with a causal mask, the outputs and the
# per-head weights agree to float32 precision:

# %%
torch.manual_seed(cfg.seed)
torch_mha = nn.MultiheadAttention(64, 8, batch_first=True).eval()
ours = MultiHeadAttention.from_torch(torch_mha).eval()
x = torch.randn(3, 10, 64, generator=gen)
masks = {"key_padding_mask": padding_mask(torch.tensor([10, 7, 4])), "attn_mask": causal_mask(10)}
out, per_head = ours(x, x, x, average_attn_weights=False, **masks)
torch_out, torch_per_head = torch_mha(x, x, x, average_attn_weights=False, **masks)
torch.testing.assert_close(out, torch_out)
torch.testing.assert_close(per_head, torch_per_head)
print("max |ours - nn.MultiheadAttention|:", (out - torch_out).abs().max().item(),
      "| weights:", tuple(per_head.shape))

# %% [markdown]
# The course's layer has a second path, `fused=True`: the attention itself then runs through
# `F.scaled_dot_product_attention`, PyTorch's fused kernel (FlashAttention-style on CPU and
# GPU), which never materialises the weights, so it cannot return them. Later modules use it
# to train faster; it is tested equal to the explicit path:

# %%
fused = MultiHeadAttention.from_torch(torch_mha, fused=True).eval()
fused_out, nothing = fused(x, x, x, need_weights=False, **masks)
torch.testing.assert_close(fused_out, out)
print("fused path: max difference", (fused_out - out).abs().max().item(), "| weights:", nothing)

# %% [markdown]
# ## 2.7 Positional encoding
#
# Self-attention sees a **set**. Shuffle the tokens and every output is shuffled the same
# way, value for value: nothing in $\mathrm{softmax}(QK^\top/\sqrt{d_k})V$ knows where a
# token stands. "dog bites man" and "man bites dog" look alike. Measured:

# %%
perm = torch.randperm(10, generator=gen)
shuffled_out, _ = ours(x[:, perm], x[:, perm], x[:, perm])
plain_out, _ = ours(x, x, x)
print("max |attention(shuffled x) - shuffled attention(x)| =",
      (shuffled_out - plain_out[:, perm]).abs().max().item())

# %% [markdown]
# The fix is to add a position signal to each embedding. The paper's **sinusoidal**
# encoding gives dimension pair $i$ a sine and a cosine of frequency
# $\omega_i = 10000^{-2i/d_{model}}$:
#
# $$PE_{pos,\,2i} = \sin(pos\,\omega_i), \qquad PE_{pos,\,2i+1} = \cos(pos\,\omega_i).$$
#
# The wavelengths run from $2\pi$ to $10000 \cdot 2\pi$: fast dimensions tell neighbours
# apart, slow ones tell the beginning from the end. Because
# $\sin$ and $\cos$ of $(pos + k)\,\omega$ are a *rotation* of those of $pos\,\omega$, the
# encoding of position $pos + k$ is a fixed linear map of the encoding of $pos$: relative
# offsets are easy to read for a linear layer.
#
# **Exercise 2.7.** Write `positional_encoding(max_len, d_model)` returning the
# `(max_len, d_model)` table (even columns sines, odd columns cosines).

# %%
def positional_encoding(max_len: int, d_model: int) -> torch.Tensor:
    """The (max_len, d_model) sinusoidal table of "Attention Is All You Need"."""
    # BEGIN SOLUTION
    position = torch.arange(max_len, dtype=torch.float32)[:, None]            # (max_len, 1)
    omega = 10000 ** (-torch.arange(0, d_model, 2, dtype=torch.float32) / d_model)
    pe = torch.zeros(max_len, d_model)
    pe[:, 0::2] = torch.sin(position * omega)
    pe[:, 1::2] = torch.cos(position * omega)
    return pe
    # END SOLUTION


# %%
from course_lib.checkers.attention import check_positional_encoding

check_positional_encoding(positional_encoding)
from course_lib.positional_encoding import SinusoidalPositionalEncoding, sinusoidal_encoding

# %% [markdown]
# The table as a heat map: each row is a position, each column a dimension. Left columns
# oscillate fast, right columns barely move.

# %%
pe = sinusoidal_encoding(64, 64)
fig = plot_attention(pe, vmin=-1, vmax=1, cmap="RdBu_r", cell_size=4.5, xlabel="dimension (index)",
                     ylabel="position", colorbar_label="encoding value",
                     suptitle="sinusoidal positional encoding, d_model = 64")

# %% [markdown]
# **Nearby positions are similar.** The dot product $PE_m \cdot PE_n = \sum_i
# \cos\big((m-n)\,\omega_i\big)$ depends only on the offset $m - n$: largest at 0, falling
# off with distance (and never growing back to the peak), the same at every absolute position.

# %%
similarity = pe @ pe.T
fig = plot_attention(similarity, cell_size=4.5, xlabel="position n", ylabel="position m",
                     colorbar_label="dot product $PE_m \\cdot PE_n$ (all positive)",
                     suptitle="PE_m . PE_n")
_ = plot_lines({f"m = {m}": similarity[m] for m in (0, 20, 40)}, range(64), xlabel="position n",
               ylabel="$PE_m \\cdot PE_n$", title="one row of the map per position m", markers=False)

# %%
def offsets_of(n: int) -> torch.Tensor:
    """(n, n) matrix of offsets n - m between a query position m and a key position n."""
    return torch.arange(n)[None, :] - torch.arange(n)[:, None]


offsets = offsets_of(64)
spread = max(similarity[offsets == k].std().item() for k in range(-20, 21))
print(f"largest spread of PE_m . PE_n among pairs with the same offset: {spread:.2e}")
print("similarity at offsets 0, 1, 2, 5, 10:", [round(similarity[30, 30 + k].item(), 2) for k in (0, 1, 2, 5, 10)])

# %% [markdown]
# `SinusoidalPositionalEncoding(d_model)` adds the table to a batch of embeddings
# `(batch, seq, d_model)`. (Module 3 scales the embeddings by $\sqrt{d_{model}}$ before
# adding, as the paper does, so that the position signal does not drown the tokens.)
#
# **Learned positional embeddings** (BERT, GPT-2) are the other classic choice: one
# trainable vector per position, `nn.Embedding(max_len, d_model)`, added the same way.
# They can fit whatever the task needs, but know nothing about positions they never saw in
# training, and cannot go beyond `max_len`; the sinusoidal table is defined for any position.

# %%
from course_lib.positional_encoding import LearnedPositionalEmbedding

embeddings = torch.randn(2, 10, 64, generator=gen)
with_sinusoids = SinusoidalPositionalEncoding(64, max_len=128)(embeddings)
with_learned = LearnedPositionalEmbedding(128, 64)(embeddings)
print(with_sinusoids.shape, with_learned.shape,
      "| trainable parameters:", sum(p.numel() for p in SinusoidalPositionalEncoding(64).parameters()),
      "vs", sum(p.numel() for p in LearnedPositionalEmbedding(128, 64).parameters()))

# %% [markdown]
# ## 2.8 What heads learn: a task that needs positions
#
# A task that attention can only solve by position: for each character of a random string,
# predict the character **before** it and the character **after** it. The model is as small
# as it gets: embeddings, (optionally) positions, **one** two-head attention layer, and a
# linear read-out of both answers. We train it three times, with no positional encoding,
# with the sinusoidal table and with learned embeddings, on random strings of 4-12 letters
# framed by `<bos>` and `<eos>` and padded in batches (so the padding mask is used too).

# %%
from course_lib.data import collate_pairs, make_loader, reversal_task

strings = [s for s, _ in reversal_task(TASK["train"] + TASK["val"],
                                       min_len=4, max_len=12, seed=cfg.seed)]
letters = Vocab.build(strings)
# a pair (source, target) whose target is the source itself: the labels are read off it
items = [(ids, ids) for ids in (letters.encode(s, bos=True, eos=True) for s in strings)]
train_items, val_items = items[: TASK["train"]], items[TASK["train"]:]
train_loader = make_loader(train_items, TASK["batch_size"], collate=collate_pairs,
                           pad_id=letters.pad_id, shuffle=True, seed=cfg.seed)
val_loader = make_loader(val_items, 256, collate=collate_pairs, pad_id=letters.pad_id)
MAX_LEN = 14  # 12 letters + <bos> + <eos>
print(f"{len(train_items)} training strings, {len(val_items)} held out, e.g. {strings[0]!r}")


# %%
class NeighbourModel(nn.Module):
    """Embedding (+ positions) -> one multi-head self-attention -> logits of (previous, next)."""

    def __init__(self, vocab_size: int, d_model: int, positions: nn.Module | None):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, d_model, padding_idx=0)
        self.positions = positions if positions is not None else nn.Identity()
        self.attention = MultiHeadAttention(d_model, num_heads=2)
        self.readout = nn.Linear(d_model, 2 * vocab_size)

    def forward(self, ids, pad):
        """ids, pad (batch, seq) -> logits (batch, seq, 2, vocab), weights (batch, 2, seq, seq)."""
        x = self.positions(self.embed(ids))
        context, weights = self.attention(x, x, x, key_padding_mask=pad, average_attn_weights=False)
        return self.readout(context).unflatten(-1, (2, -1)), weights


def neighbour_targets(batch):
    """(batch, seq - 2, 2): previous and next id of every inner position; -100 where padding."""
    ids = batch["src"]
    targets = torch.stack([ids[:, :-2], ids[:, 2:]], dim=-1)
    return targets.masked_fill(batch["src_key_padding_mask"][:, 2:, None], -100)


def neighbour_loss(model, batch):
    logits, _ = model(batch["src"], batch["src_key_padding_mask"])
    return F.cross_entropy(logits[:, 1:-1].flatten(0, 2), neighbour_targets(batch).flatten(),
                           ignore_index=-100)


# %%
from course_lib.device import to_device


@torch.no_grad()
def neighbour_accuracy(model):
    """Share of held-out (previous, next) characters predicted exactly."""
    model.eval()
    correct = total = 0
    for batch in val_loader:
        batch = to_device(batch, cfg.device)
        logits, _ = model(batch["src"], batch["src_key_padding_mask"])
        targets = neighbour_targets(batch)
        valid = targets != -100
        correct += (logits[:, 1:-1].argmax(-1) == targets)[valid].sum().item()
        total += valid.sum().item()
    return {"val_accuracy": correct / total}


# %%
from course_lib.plots import plot_history
from course_lib.training import fit

d_model = TASK["d_model"]
variants = {
    "no positions": None,
    "sinusoidal": SinusoidalPositionalEncoding(d_model, max_len=MAX_LEN),
    "learned": LearnedPositionalEmbedding(MAX_LEN, d_model),
}
models, histories = {}, {}
for name, positions in variants.items():
    torch.manual_seed(cfg.seed)
    models[name] = NeighbourModel(len(letters), d_model, positions)
    optimizer = torch.optim.Adam(models[name].parameters(), lr=TASK["lr"])
    histories[name] = fit(models[name], train_loader, neighbour_loss, optimizer,
                          TASK["epochs"], device=cfg.device,
                          evaluate=neighbour_accuracy, progress=False)
    print(f"{name:13s} held-out accuracy {histories[name]['val_accuracy'][-1]:.3f}")

# %%
def letter_frequency_accuracy():
    """Held-out accuracy of always guessing the most frequent previous (next) character."""
    train, val = (torch.cat([neighbour_targets(b).flatten(0, 1) for b in loader])
                  for loader in (train_loader, val_loader))
    guess = [train[train[:, side] != -100, side].mode().values for side in (0, 1)]
    valid = val != -100
    return (torch.stack(guess) == val)[valid].float().mean().item()


curves = {f"{name}: {key}": values for name, history in histories.items()
          for key, values in history.items()}
frequency = letter_frequency_accuracy()
fig = plot_history(curves, title="previous / next character, one attention layer",
                   names={key: key.replace("val_", "held-out ").replace("train_", "training ")
                          for key in curves},
                   loss_label="cross-entropy (nats per character)", metric_label="held-out accuracy",
                   metric_baselines={"most frequent character": frequency})
accuracy = {name: history["val_accuracy"][-1] for name, history in histories.items()}
assert_metric("accuracy without positions", accuracy["no positions"],
              at_most=TASK["max_accuracy_without_positions"])
for name in ("sinusoidal", "learned"):
    assert_metric(f"accuracy with {name} positions", accuracy[name],
                  at_least=TASK["min_accuracy"])
say(f"Without positions the model reaches {accuracy['no positions']:.2f} held-out accuracy, "
    f"against {frequency:.2f} for always guessing the most frequent character: it cannot tell "
    f"its left neighbour from any other letter. With sinusoidal or learned positions it reaches "
    f"{accuracy['sinusoidal']:.2f} and {accuracy['learned']:.2f}.")

# %% [markdown]
# **What do the two heads do?** Measure, for each head, the average weight a query puts on the
# token just before it and just after it:

# %%
def neighbour_focus(model, batch):
    """(heads, 2): mean weight on offset -1 and +1, over the inner positions of a batch."""
    with torch.no_grad():
        model.eval()
        _, weights = model(batch["src"], batch["src_key_padding_mask"])
    inner = torch.arange(1, weights.shape[-1] - 1)
    valid = ~batch["src_key_padding_mask"][:, 2:]
    return torch.tensor([[weights[:, h, inner, inner + offset][valid].mean().item()
                          for offset in (-1, 1)] for h in range(weights.shape[1])])


val_batch = to_device(next(iter(val_loader)), cfg.device)
for name, model in models.items():
    focus = neighbour_focus(model, val_batch)
    print(f"{name:13s}", "  ".join(f"head {h}: left {f[0]:.2f} right {f[1]:.2f}"
                                   for h, f in enumerate(focus.tolist())))

# %%
focus = neighbour_focus(models["sinusoidal"], val_batch)
assert_metric("sinusoidal model: best head's weight on the left neighbour", focus[:, 0].max().item(),
              at_least=TASK["min_head_focus"])
assert_metric("sinusoidal model: best head's weight on the right neighbour", focus[:, 1].max().item(),
              at_least=TASK["min_head_focus"])
example = val_batch["src"][0][~val_batch["src_key_padding_mask"][0]]
labels = [letters.itos[i] for i in example.tolist()]
with torch.no_grad():
    no_padding = torch.zeros(1, len(example), dtype=torch.bool, device=example.device)
    _, weights = models["sinusoidal"](example[None], no_padding)
fig = plot_attention(weights[0], keys=labels, queries=labels, titles=["head 0", "head 1"],
                     suptitle="trained heads, sinusoidal positions")

# %% [markdown]
# The heads split the work: one looks one step left, the other one step right (which head
# takes which side depends on the random initialisation). Nothing told them to; it is the
# cheapest way to solve the task with two heads, and the reason to have several heads: each
# can specialise in one relation.
#
# And the learned position vectors? Compare how similar the vectors of two positions are,
# for the trained table and for the sinusoidal one:

# %%
def cosine_similarity_matrix(vectors: torch.Tensor) -> torch.Tensor:
    """(n, d) -> (n, n) cosine similarities between rows."""
    unit = vectors / vectors.norm(dim=-1, keepdim=True)
    return unit @ unit.T


learned = models["learned"].positions.embedding.weight.detach().cpu()
fig = plot_attention(
    torch.stack([cosine_similarity_matrix(learned),
                 cosine_similarity_matrix(sinusoidal_encoding(MAX_LEN, d_model))]),
    vmin=-1, vmax=1, cmap="RdBu_r", xlabel="position n", ylabel="position m",
    colorbar_label="cosine similarity", titles=["learned, after training", "sinusoidal"],
    suptitle="cosine similarity of positions")
for name, table in (("learned", learned), ("sinusoidal", sinusoidal_encoding(MAX_LEN, d_model))):
    similarity_of = cosine_similarity_matrix(table)
    print(f"{name:10s} mean cosine similarity of neighbours {similarity_of.diagonal(1).mean():.2f}, "
          f"of positions 5 or more apart {similarity_of[offsets_of(MAX_LEN).abs() >= 5].mean():.2f}")

# %% [markdown]
# The sinusoidal vectors are similar for neighbours *by construction*. The learned ones need
# not be: the task only asks that each position be recognisable, so that $W^Q$ and $W^K$ can
# map "position $i$" to "position $i \pm 1$". A learned table holds whatever the data forced
# into it, and nothing about positions it rarely saw (here the long strings' last positions).

# %% [markdown]
# ## 2.9 Stretch · Rotary position embedding (RoPE)
#
# Adding $PE$ to the embeddings mixes position into the content vectors, and the score
# $(x_m + PE_m) \cdot (x_n + PE_n)$ still depends on the absolute positions. **RoPE**
# (Su et al., 2021; used by LLaMA and most recent LLMs) instead *rotates* each query and key
# pair of dimensions $(2i, 2i+1)$ by the angle $pos\,\omega_i$, inside the attention layer:
#
# $$\tilde q_m = R_{m}\, q, \quad \tilde k_n = R_{n}\, k \quad\Longrightarrow\quad
# \tilde q_m \cdot \tilde k_n = q^\top R_m^\top R_n k = q^\top R_{n-m}\, k ,$$
#
# because rotations compose: the score depends on the positions **only through $n - m$**.
# Measured with one fixed query and key placed at every pair of positions:

# %%
from course_lib.positional_encoding import RotaryEmbedding

positions = 32
q, k = torch.randn(64, generator=gen), torch.randn(64, generator=gen)
rope = RotaryEmbedding(64, max_len=positions)
rope_scores = rope(q.expand(positions, -1)) @ rope(k.expand(positions, -1)).T     # (m, n)
table = sinusoidal_encoding(positions, 64)
added_scores = (q + table) @ (k + table).T                                         # (m, n)
offsets = offsets_of(positions)
for name, s in (("RoPE", rope_scores), ("added sinusoids", added_scores)):
    spread = max(s[offsets == d].std().item() for d in range(-10, 11))
    print(f"{name:16s} largest spread of the score among pairs with the same offset: {spread:.2e}")

# %%
def standardised(scores: torch.Tensor) -> torch.Tensor:
    return (scores - scores.mean()) / scores.std()


fig = plot_attention(torch.stack([standardised(rope_scores), standardised(added_scores)]),
                     cmap="RdBu_r", xlabel="key position n", ylabel="query position m",
                     colorbar_label="score (standard deviations from its mean)",
                     titles=["RoPE: constant along diagonals", "added sinusoids: not"],
                     suptitle="score q . k of one query and one key at every pair of positions (standardised)")

# %% [markdown]
# ## 2.10 The cost of attention
#
# The weights form a `q_len × k_len` matrix per head: for self-attention on $n$ tokens,
# time and memory grow as $n^2$ (an RNN's grow as $n$). We time one attention call (4 heads,
# $d_{head} = 64$) for growing $n$, and measure the memory it keeps for the backward pass (the
# tensors autograd saves), for the explicit reference and for PyTorch's fused kernel, which
# recomputes the weights in the backward pass instead of storing them.

# %%
import time


def saved_for_backward_bytes(fn, *inputs) -> int:
    """Bytes of the distinct tensors autograd saves while running ``fn(*inputs)``."""
    storages = {}

    def pack(tensor):
        storages[tensor.untyped_storage().data_ptr()] = tensor.untyped_storage().nbytes()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        fn(*inputs)
    return sum(storages.values())


def fastest_seconds(fn, *inputs, repeats: int) -> float:
    """The fastest of ``repeats`` timed calls (the least disturbed by other processes)."""
    times = []
    for _ in range(repeats):
        if cfg.device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        fn(*inputs)
        if cfg.device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return min(times)


# %% [markdown]
# On a CPU we time with a single thread: the $n^2$ then shows cleanly instead of being blurred
# by threads competing with whatever else runs on the machine.

# %%
kernels = {
    "explicit (course reference)": lambda q, k, v: scaled_dot_product_attention(q, k, v)[0],
    "fused (F.scaled_dot_product_attention)": F.scaled_dot_product_attention,
}
lengths = COST["lengths"]
cost = {name: {"seconds": [], "bytes": []} for name in kernels}
threads = torch.get_num_threads()
torch.set_num_threads(1)
for n in lengths:
    q, k, v = (torch.randn(1, 4, n, 64, device=cfg.device, requires_grad=True) for _ in range(3))
    for name, fn in kernels.items():
        fn(q, k, v)  # warm-up
        cost[name]["seconds"].append(fastest_seconds(fn, q, k, v, repeats=COST["repeats"]))
        cost[name]["bytes"].append(saved_for_backward_bytes(fn, q, k, v))
torch.set_num_threads(threads)
for name in kernels:
    print(f"{name}:")
    for n, s, b in zip(lengths, cost[name]["seconds"], cost[name]["bytes"], strict=True):
        print(f"  n={n:5d}  {s * 1e3:8.2f} ms  {b / 2**20:8.2f} MiB saved for backward")


# %%
def loglog_slope(xs, ys) -> float:
    """Slope of log(y) against log(x) over the upper half of the lengths (least squares)."""
    half = len(xs) // 2
    return float(np.polyfit(np.log(xs[half:]), np.log(ys[half:]), 1)[0])


fig, axes = notebook_figure(2, height=3.2)
for ax, key, unit, scale in ((axes[0, 0], "seconds", "time of one call (ms)", 1e3),
                             (axes[0, 1], "bytes", "memory saved for backward (MiB)", 1 / 2**20)):
    for name in kernels:
        values = np.array(cost[name][key]) * scale
        ax.loglog(lengths, values, "o-", label=f"{name.split(' (')[0]}, slope {loglog_slope(lengths, values):.2f}")
    square = np.array(lengths, dtype=float) ** 2
    anchor = cost["explicit (course reference)"][key][-1] * scale
    ax.loglog(lengths, square * anchor / square[-1], "k:", label="$\\propto n^2$ (slope 2)")
    ax.set(xlabel="sequence length n (tokens)", ylabel=unit, title=key.replace("seconds", "time"))
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=9)

# %%
explicit, fused_kernel = cost["explicit (course reference)"], cost["fused (F.scaled_dot_product_attention)"]
assert_metric("explicit attention: log-log slope of memory", loglog_slope(lengths, explicit["bytes"]),
              at_least=1.6, at_most=2.1)
assert_metric("fused kernel: log-log slope of memory", loglog_slope(lengths, fused_kernel["bytes"]),
              at_most=1.2)
assert_metric("explicit attention: log-log slope of time", loglog_slope(lengths, explicit["seconds"]),
              at_least=COST["min_time_slope"])
time_slope = loglog_slope(lengths, explicit["seconds"])
if time_slope > 2.2:
    why = ("above 2: more than quadratic at these lengths, most likely because each score "
           "costs more once the $n \\times n$ matrix no longer fits in the CPU's caches")
elif time_slope < 1.8:
    why = "below 2: at these lengths fixed costs and the linear parts still weigh in"
else:
    why = "close to 2: quadratic"
say(f"Measured time slope of the explicit version: **{time_slope:.2f}**, {why}. "
    f"Memory slopes: {loglog_slope(lengths, explicit['bytes']):.2f} (explicit) and "
    f"{loglog_slope(lengths, fused_kernel['bytes']):.2f} (fused).")

# %% [markdown]
# The explicit version stores the $n \times n$ weights for the backward pass: its memory
# slope tends to 2 (a little less at these lengths, where the linear $Q$, $K$, $V$ still count).
# The fused kernel keeps only $Q$, $K$, $V$, the output and one number per row, so its memory
# grows linearly. Its time still grows like $n^2$ (every pair of tokens is still scored), only
# faster; a measured slope off 2 comes from the machine (caches, fixed costs, other
# processes), not from the algorithm. Long-context models fight exactly this $n^2$.
#
# ### 2.10.1 Parameters of a multi-head attention layer
#
# Four $d_{model} \times d_{model}$ matrices ($W^Q, W^K, W^V, W^O$) and four bias vectors:
#
# $$\#\text{params} = 4\,d_{model}^2 + 4\,d_{model},$$
#
# **independent of the number of heads**: more heads cut the same matrices into thinner slices.

# %%
for d, heads in ((64, 8), (256, 8), (512, 8), (512, 16)):
    derived = 4 * d * d + 4 * d
    counted = sum(p.numel() for p in MultiHeadAttention(d, heads).parameters())
    counted_torch = sum(p.numel() for p in nn.MultiheadAttention(d, heads).parameters())
    print(f"d_model={d:4d} heads={heads:2d}: derived {derived:,}  course {counted:,}  nn {counted_torch:,}")
    assert derived == counted == counted_torch

# %% [markdown]
# The paper's base model ($d_{model} = 512$) thus spends about 1.05 M parameters per attention
# layer, whatever its 8 heads do with them.
#
# `course_lib.attention` now holds everything Module 3 builds on: `scaled_dot_product_attention`,
# `causal_mask`, `MultiHeadAttention` (explicit or fused, copyable to and from
# `nn.MultiheadAttention`), and `course_lib.positional_encoding` the three encodings.
#
# ## Self-check
#
# 1. Why divide the scores by $\sqrt{d_k}$, and not by $d_k$?
#
# <!-- BEGIN SOLUTION -->
# With unit-variance components, $q \cdot k$ has variance $d_k$ (measured above), so its
# standard deviation is $\sqrt{d_k}$: dividing by $\sqrt{d_k}$ brings the scores back to
# variance 1 whatever the width. Dividing by $d_k$ would shrink them to variance $1/d_k$:
# for wide heads every weight would be close to uniform and attention could not focus.
# <!-- END SOLUTION -->
#
# 2. Over which axis is the softmax taken, and what does a row of the weights mean?
#
# <!-- BEGIN SOLUTION -->
# Over the keys (the last axis). Row $i$ is how query $i$ distributes its attention over
# all keys: positive numbers summing to 1, the coefficients of the weighted average of values.
# <!-- END SOLUTION -->
#
# 3. Why must the mask be applied to the scores before the softmax, and not to the weights after?
#
# <!-- BEGIN SOLUTION -->
# Setting a score to $-\infty$ gives that key a weight of exactly 0 *and* the softmax
# renormalises the rest to sum to 1. Zeroing weights after the softmax leaves rows that sum to
# less than 1: part of the attention is lost rather than given to the allowed keys.
# <!-- END SOLUTION -->
#
# 4. Eight heads of width 64 or one head of width 512: which has more parameters? What does
#    each compute that the other cannot?
#
# <!-- BEGIN SOLUTION -->
# The same: $4 \cdot 512^2 + 4 \cdot 512$ either way. One wide head computes one weighted
# average per token; eight heads compute eight different averages, with eight different
# notions of relevance (like the left- and right-looking heads above), each in a 64-dim slice.
# <!-- END SOLUTION -->
#
# 5. What goes wrong if the heads are split with `x.view(batch, heads, seq, d_head)`?
#
# <!-- BEGIN SOLUTION -->
# `view` only reinterprets memory laid out as `(batch, seq, d_model)`; read as
# `(batch, heads, seq, d_head)`, a "head" gets consecutive chunks of several tokens'
# features, mixing tokens. The right split keeps each token whole:
# `view(batch, seq, heads, d_head).transpose(1, 2)`. With one head both agree, which is how
# the checker spots this mistake.
# <!-- END SOLUTION -->
#
# 6. Without positional encoding, what does self-attention return for a permuted input? Which
#    positional encoding can handle sequences longer than any seen in training?
#
# <!-- BEGIN SOLUTION -->
# The same outputs, permuted in the same way (it is permutation-equivariant): it sees a set.
# The sinusoidal table is defined for every position (and RoPE too); learned embeddings exist
# only up to `max_len` and are untrained for positions never seen.
# <!-- END SOLUTION -->
#
# 7. Why does RoPE rotate queries and keys but not values?
#
# <!-- BEGIN SOLUTION -->
# Position matters for *which* keys a query attends to, i.e. the scores $q \cdot k$; rotating
# both makes the score depend on the offset only. The values are what is read, and they are
# mixed by the weights; rotating them would inject absolute positions into the content.
# <!-- END SOLUTION -->
#
# 8. Where does the $n^2$ of attention come from, and what does the fused kernel save?
#
# <!-- BEGIN SOLUTION -->
# From scoring every query against every key: an $n \times n$ matrix per head, in time and,
# for the explicit version, in memory kept for the backward pass. The fused kernel computes
# the weights block by block and recomputes them in the backward pass, so its memory is linear
# in $n$; its time is still quadratic.
# <!-- END SOLUTION -->
