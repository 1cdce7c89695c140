# %% [markdown]
# # 03 · The Transformer encoder
#
# Module 2 gave us multi-head self-attention: every token looks at every other token and
# mixes in what it finds. One attention layer is not yet a Transformer. The encoder of
# "Attention Is All You Need" wraps it with three more ideas, and stacks the result:
#
# 1. a **position-wise feed-forward network** that transforms each token on its own (3.1);
# 2. **residual connections** and **layer normalisation**, "Add & Norm", around every
#    sub-layer, which is what lets us stack many layers at all (3.2);
# 3. **embeddings scaled by $\sqrt{d_\text{model}}$ plus positional encoding** at the bottom,
#    and a **padding mask** so that sentences of different lengths share a batch (3.3, 3.4).
#
# One encoder layer, as the paper draws it (post-norm):
#
# $$
# \begin{aligned}
# h &= \mathrm{LayerNorm}\big(x + \mathrm{Dropout}(\mathrm{MultiHead}(x, x, x))\big) \\
# y &= \mathrm{LayerNorm}\big(h + \mathrm{Dropout}(\mathrm{FFN}(h))\big)
# \end{aligned}
# $$
#
# You will build each piece, prove it computes exactly what `torch.nn.TransformerEncoderLayer`
# computes, measure *why* the residuals and the layer norm are there, and finally train an
# encoder from scratch to read the sentiment of movie reviews.

# %%
import math

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from torch import nn

from course_lib import setup
from course_lib.checkers import assert_metric

cfg = setup(module=3)
FLOW, CLS = cfg.sizes["flow"], cfg.sizes["classifier"]  # one dict per experiment

# %% [markdown]
# ## 3.1 The position-wise feed-forward network
#
# After attention has mixed information *across* positions, each position is transformed
# *on its own* by the same small two-layer network:
#
# $$\mathrm{FFN}(x) = \max(0,\ x W_1 + b_1)\, W_2 + b_2, \qquad
# W_1 \in \mathbb{R}^{d_\text{model} \times d_\text{ff}},\ W_2 \in \mathbb{R}^{d_\text{ff} \times d_\text{model}}$$
#
# The paper uses $d_\text{model} = 512$ and $d_\text{ff} = 2048$: the network widens each
# token 4x, applies a ReLU, and projects back. Attention's output is a weighted average of
# (linearly projected) values; the FFN gives each token a non-linear transformation of its
# own. Dropout goes on the hidden activations, where `nn.TransformerEncoderLayer` puts it.
#
# **Exercise 3.1.** Write `PositionwiseFeedForward` with two `nn.Linear` layers (with bias)
# named `linear1` and `linear2` and an `nn.Dropout` named `dropout` (the names of PyTorch's
# layer, so the checker can copy weights). Other submodules are allowed (an `nn.Sequential`
# holding the same layers, say): the checker copies `linear1` and `linear2` only and
# compares what your module computes, in eval mode and in training mode under one seed.

# %%
class PositionwiseFeedForward(nn.Module):
    """FFN(x) = linear2(dropout(relu(linear1(x)))): (..., d_model) -> (..., d_model)."""

    def __init__(self, d_model: int, d_ff: int, dropout: float = 0.1):
        super().__init__()
        # BEGIN SOLUTION
        self.linear1 = nn.Linear(d_model, d_ff)
        self.dropout = nn.Dropout(dropout)
        self.linear2 = nn.Linear(d_ff, d_model)
        # END SOLUTION

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # BEGIN SOLUTION
        return self.linear2(self.dropout(F.relu(self.linear1(x))))
        # END SOLUTION


# %%
from course_lib.checkers.encoder import check_feed_forward

check_feed_forward(PositionwiseFeedForward)
from course_lib.feed_forward import PositionwiseFeedForward  # the course's reference from here on

# %% [markdown]
# "Position-wise" is a promise we can test: change one token and only that token's output
# moves. (The checker tested it too.) The same two matrices serve every position, so a
# sentence of 5 or 500 tokens uses the same $2\,d_\text{model}\,d_\text{ff} + d_\text{ff} +
# d_\text{model}$ parameters.

# %%
torch.manual_seed(cfg.seed)
ffn = PositionwiseFeedForward(d_model=16, d_ff=64, dropout=0.0)
x = torch.randn(1, 6, 16)
x_changed = x.clone()
x_changed[0, 3] += 1.0  # nudge token 3 only
moved = (ffn(x_changed) - ffn(x)).abs().amax(dim=-1)[0]
print("output change per position:", [f"{v:.2f}" for v in moved.tolist()])
print("parameters:", sum(p.numel() for p in ffn.parameters()), "=", 2 * 16 * 64 + 64 + 16)

# %% [markdown]
# ## 3.2 Add & Norm
#
# ### 3.2.1 Layer normalisation
#
# Layer norm rescales each token's feature vector $x \in \mathbb{R}^{d}$ to zero mean and unit
# variance, then applies a learned scale $\gamma$ and shift $\beta$:
#
# $$\mathrm{LayerNorm}(x) = \gamma \odot \frac{x - \mu}{\sqrt{\sigma^2 + \epsilon}} + \beta,
# \qquad \mu = \frac{1}{d}\sum_{i=1}^{d} x_i,\quad \sigma^2 = \frac{1}{d}\sum_{i=1}^{d} (x_i - \mu)^2 .$$
#
# The statistics are those of **one token's own features**: nothing from other tokens, other
# sentences, or padding enters. Note the biased variance (divide by $d$) and $\epsilon$
# inside the square root, as in `nn.LayerNorm`.
#
# **Exercise 3.2.1.** Write `layer_norm(x, weight, bias, eps)` for `x` of shape `(..., d)`.
# Use the `eps` you are given (the checker also passes `eps=0.01`) and compute the variance
# from `x - mean` (tokens far from 0 lose all precision in $E[x^2] - E[x]^2$ in float32).

# %%
def layer_norm(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, eps: float = 1e-5):
    """Layer norm over the last dimension of x (..., d); weight and bias are (d,)."""
    # BEGIN SOLUTION
    mean = x.mean(dim=-1, keepdim=True)
    var = x.var(dim=-1, unbiased=False, keepdim=True)
    return (x - mean) / torch.sqrt(var + eps) * weight + bias
    # END SOLUTION


# %%
from course_lib.checkers.encoder import check_layer_norm

check_layer_norm(layer_norm)
from course_lib.add_norm import layer_norm  # the course's reference from here on

# %% [markdown]
# The checker compared your function with `nn.LayerNorm`; here is that comparison in the
# open, with random $\gamma$ and $\beta$:

# %%
norm = nn.LayerNorm(16)
nn.init.normal_(norm.weight)
nn.init.normal_(norm.bias)
x = torch.randn(2, 6, 16) * 5 + 3
torch.testing.assert_close(layer_norm(x, norm.weight, norm.bias, norm.eps), norm(x))
print("layer_norm == nn.LayerNorm; largest difference:",
      f"{(layer_norm(x, norm.weight, norm.bias) - norm(x)).abs().max():.1e}")

# %% [markdown]
# ### 3.2.2 Why layer norm and not batch norm? Measured
#
# Batch norm, the workhorse of convolutional networks, normalises each **feature** with
# statistics taken over the whole batch (and, for sequences, over every position). For text
# that is a poor fit: sentences have different lengths, so a batch carries padding, and a
# sentence's representation would depend on which other sentences (and how much padding)
# happen to share its batch. Layer norm normalises each **token** with its own statistics.
#
# Let us measure it. Sentence A has 5 tokens, sentence B has 9; we pad with zeros, as a
# batch does.

# %%
from course_lib.data import padding_mask

d = 8
torch.manual_seed(cfg.seed)
sentence_a, sentence_b = torch.randn(5, d) * 2 + 1, torch.randn(9, d)


def pad_batch(*sentences: torch.Tensor, length: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Stack (len_i, d) sentences into (batch, length, d), zero-padded, with their mask."""
    batch = torch.zeros(len(sentences), length, d)
    for row, s in enumerate(sentences):
        batch[row, : len(s)] = s
    return batch, padding_mask(torch.tensor([len(s) for s in sentences]), length)


layer_normalise = nn.LayerNorm(d)
batch_normalise = nn.BatchNorm1d(d)  # per feature, over batch and positions


def bn(x):  # BatchNorm1d wants (batch, features, positions)
    return batch_normalise(x.transpose(1, 2)).transpose(1, 2)


# %% [markdown]
# What do they normalise over? The mean of layer norm's output is 0 along the features of
# every token; the mean of batch norm's output is 0 along the batch and positions of every
# feature:

# %%
x, mask = pad_batch(sentence_a, sentence_b, length=9)
print("layer norm: mean over features, per token  ", layer_normalise(x).mean(-1).abs().max().item())
print("batch norm: mean over (batch, seq), per feat", bn(x).mean((0, 1)).abs().max().item())
print("batch norm: mean over features, per token   ", bn(x).mean(-1).abs().max().item())

# %% [markdown]
# Now the real test: sentence A's **real** tokens should come out the same however we batch
# it. We compare A alone (no padding) with A batched beside B and padded to 9 and to 32
# tokens, and also check training vs evaluation mode and a batch of one single token.

# %%
def a_outputs(normalise, *others, length):
    x, _ = pad_batch(sentence_a, *others, length=length)
    return normalise(x)[0, : len(sentence_a)]


rows = {}
for normalise in (layer_normalise, bn):
    alone = a_outputs(normalise, length=5)
    rows.setdefault("A beside B, padded to 9", []).append(
        (a_outputs(normalise, sentence_b, length=9) - alone).abs().max().item())
    rows.setdefault("A beside B, padded to 32", []).append(
        (a_outputs(normalise, sentence_b, length=32) - alone).abs().max().item())
    with torch.no_grad():  # eval mode: batch norm switches to its running averages
        layer_normalise.eval(), batch_normalise.eval()
        rows.setdefault("eval mode vs training mode", []).append(
            (a_outputs(normalise, length=5) - alone).abs().max().item())
        layer_normalise.train(), batch_normalise.train()

print(f"{'largest change of A':32s}{'layer norm':>12s}{'batch norm':>12s}")
for label, (ln_change, bn_change) in rows.items():
    print(f"{label:32s}{ln_change:12.2e}{bn_change:12.2e}")

# %%
one_token = torch.randn(1, 1, d)  # batch size 1, length 1
print("layer norm on one token:", tuple(layer_normalise(one_token).shape))
try:
    bn(one_token)
except ValueError as err:
    print("batch norm on one token: ValueError:", err)

# %% [markdown]
# Layer norm: **zero** change in every row (up to float rounding), and one token is fine.
# Batch norm: A's outputs depend on its neighbours and on how much padding the batch
# carries, change between training and evaluation, and a single token cannot be normalised
# at all in training mode (with one value per feature, every output would be $\beta$ whatever
# the input). A Transformer
# sees batches of variable length at training time and often one sentence at inference
# time: layer norm is the natural choice.
#
# ### 3.2.3 AddNorm: the residual connection, then the norm
#
# Every sub-layer (attention, feed-forward) is wrapped the same way. The paper puts the
# norm *after* the residual sum ("post-norm"); most models since GPT-2 put it *before* the
# sub-layer ("pre-norm"), which keeps an untouched identity path from the input to the
# output:
#
# $$\text{post-norm: } y = \mathrm{LayerNorm}\big(x + \mathrm{Dropout}(F(x))\big), \qquad
# \text{pre-norm: } y = x + \mathrm{Dropout}\big(F(\mathrm{LayerNorm}(x))\big).$$
#
# Because pre-norm needs the norm *before* the sub-layer runs, `AddNorm.forward` takes the
# sub-layer itself as a function: `block(x, sublayer)`.
#
# **Exercise 3.2.3.** Write `AddNorm` with an `nn.LayerNorm(d_model)` named `norm` (with its
# learnable weight and bias: the defaults) and an `nn.Dropout` named `dropout` on the
# sub-layer's output; `norm_first` chooses pre-norm.

# %%
class AddNorm(nn.Module):
    """Residual connection + layer norm around ``sublayer``; post-norm or pre-norm."""

    def __init__(self, d_model: int, dropout: float = 0.0, norm_first: bool = False):
        super().__init__()
        # BEGIN SOLUTION
        self.norm = nn.LayerNorm(d_model)
        self.dropout = nn.Dropout(dropout)
        self.norm_first = norm_first
        # END SOLUTION

    def forward(self, x: torch.Tensor, sublayer) -> torch.Tensor:
        """x (batch, seq, d_model); sublayer maps that shape to itself."""
        # BEGIN SOLUTION
        if self.norm_first:
            return x + self.dropout(sublayer(self.norm(x)))
        return self.norm(x + self.dropout(sublayer(x)))
        # END SOLUTION


# %%
from course_lib.checkers.encoder import check_add_norm

check_add_norm(AddNorm)
from course_lib.add_norm import AddNorm  # the course's reference from here on

# %% [markdown]
# One visible difference between the two: a post-norm block's output is always normalised,
# while a pre-norm block only *adds* to its input, so the "residual stream" grows as blocks
# are stacked. Eight feed-forward blocks in a row:

# %%
torch.manual_seed(cfg.seed)
x = torch.randn(4, 10, 32)
for norm_first in (False, True):
    h, scales = x, []
    for _ in range(8):
        h = AddNorm(32, norm_first=norm_first)(h, PositionwiseFeedForward(32, 128, dropout=0.0))
        scales.append(h.std().item())
    print(f"norm_first={norm_first!s:5}: std after each block", " ".join(f"{v:.2f}" for v in scales))

# %% [markdown]
# That is why a pre-norm stack ends with one more `LayerNorm` after its last layer.

# %% [markdown]
# ## 3.3 The encoder layer
#
# Now assemble the layer: self-attention in the first AddNorm, the feed-forward network in
# the second. The layer receives the padding mask and hands it to attention as
# `key_padding_mask` (True = padding), so no token attends to padding.
#
# **Exercise 3.3.** Write the `forward` of an encoder layer. The parts are built for you by
# the course's `EncoderLayer.__init__` (this class inherits it): `self.self_attn` (Module 2's
# `MultiHeadAttention`, called as `self_attn(query, key, value, key_padding_mask=...)` and
# returning `(output, weights)`), `self.feed_forward`, `self.add_norm1`, `self.add_norm2`
# (which already know `norm_first` and apply the dropout). Pass the mask on unchanged (True
# = padding). The checker compares your layer with `nn.TransformerEncoderLayer` and, in
# training mode with dropout, with the course's layer under the same seed.

# %%
from course_lib.encoder import EncoderLayer as CourseEncoderLayer


class EncoderLayer(CourseEncoderLayer):
    """Self-attention, then feed-forward, each in an AddNorm: (batch, seq, d) -> same."""

    def forward(self, x: torch.Tensor, key_padding_mask: torch.Tensor | None = None):
        # BEGIN SOLUTION
        def self_attention(y):
            return self.self_attn(y, y, y, key_padding_mask=key_padding_mask)[0]

        x = self.add_norm1(x, self_attention)
        return self.add_norm2(x, self.feed_forward)
        # END SOLUTION


# %%
from course_lib.checkers.encoder import check_encoder_layer

check_encoder_layer(EncoderLayer)
from course_lib.encoder import EncoderLayer  # the course's reference from here on

# %% [markdown]
# A dummy batch checks the shapes: two sentences of 10 and 6 tokens, $d_\text{model} = 64$.

# %%
layer = EncoderLayer(d_model=64, num_heads=4, d_ff=256, dropout=0.1)
x = torch.randn(2, 10, 64)
mask = padding_mask(torch.tensor([10, 6]))
out, weights = layer(x, key_padding_mask=mask, need_weights=True)
print("input", tuple(x.shape), "-> output", tuple(out.shape), "| attention", tuple(weights.shape))
print("attention paid to padding:", weights[1, :, :, 6:].sum().item())

# %% [markdown]
# ### 3.3.1 The library version: `nn.TransformerEncoderLayer`
#
# PyTorch's encoder layer packs the three input projections into one `in_proj_weight` and
# calls its norms `norm1`, `norm2`; otherwise it is the same layer. `to_torch_encoder_layer`
# builds one with our sizes and copies our weights in. With dropout off, the two must agree
# to float precision, post-norm and pre-norm (`norm_first=True`), with padding:

# %%
from course_lib.torch_interop import to_torch_encoder_layer

for norm_first in (False, True):
    torch.manual_seed(cfg.seed)
    ours = EncoderLayer(64, 4, 256, dropout=0.0, norm_first=norm_first).eval()
    theirs = to_torch_encoder_layer(ours).eval()
    with torch.no_grad():
        a, b = ours(x, key_padding_mask=mask), theirs(x, src_key_padding_mask=mask)
    torch.testing.assert_close(a[~mask], b[~mask])
    print(f"norm_first={norm_first}: largest difference {(a - b)[~mask].abs().max():.1e}")

# %% [markdown]
# ### 3.3.2 Why residual connections? Gradient flow in a deep stack, measured
#
# Take a deep stack of the encoder layers you just built and measure, after one backward
# pass, the gradient norm $\lVert \partial L / \partial x_\ell \rVert$ that reaches the input
# $x_\ell$ of each layer $\ell$, in float64 (without residuals the gradient falls below
# float32's smallest number and would read as exactly 0). We compare four stacks built from
# the *same* weights:
#
# - **post-norm** and **pre-norm**: the real encoder layer, with residual connections;
# - **no residual**: each sub-layer becomes $\mathrm{LayerNorm}(F(x))$, the "$x +$" dropped;
# - **no residual, no norm**: just $F(x)$, attention then feed-forward, layer after layer.

# %%
class PlainLayer(nn.Module):
    """An encoder layer's sub-layers without residual connections (and optionally norms)."""

    def __init__(self, layer: EncoderLayer, use_norm: bool):
        super().__init__()
        self.layer, self.use_norm = layer, use_norm

    def forward(self, x):
        x = self.layer.self_attn(x, x, x, need_weights=False)[0]
        x = self.layer.add_norm1.norm(x) if self.use_norm else x
        x = self.layer.feed_forward(x)
        return self.layer.add_norm2.norm(x) if self.use_norm else x


# %%
def gradient_flow(blocks, x, target):
    """Gradient norm reaching each block's input, and how distinct the output tokens remain."""
    inputs, h = [], x.clone().requires_grad_()
    for block in blocks:
        h.retain_grad()
        inputs.append(h)
        h = block(h)
    F.mse_loss(h, target).backward()
    spread = h.std(dim=1).mean().item()  # std over positions: 0 when all tokens are identical
    return [t.grad.norm().item() for t in inputs], spread


depth, width = FLOW["depth"], FLOW["d_model"]
x, target = torch.randn(8, 16, width, dtype=torch.float64), torch.randn(8, 16, width, dtype=torch.float64)
flows = {}
for name in ("post-norm", "pre-norm", "no residual", "no residual, no norm"):
    torch.manual_seed(cfg.seed)  # the same weights for every variant
    layers = [EncoderLayer(width, 4, 4 * width, dropout=0.0, norm_first=(name == "pre-norm")).double()
              for _ in range(depth)]
    if name.startswith("no residual"):
        layers = [PlainLayer(layer, use_norm=(name == "no residual")) for layer in layers]
    flows[name] = gradient_flow(layers, x, target)

# %%
from course_lib.plots import notebook_figure, plot_lines

fig, axes = notebook_figure(2, height=3.4)
fig.suptitle(f"gradient reaching each layer of a {depth}-layer encoder (float64)")
grads = {name: grads for name, (grads, _spread) in flows.items()}
kept = {name: g for name, g in grads.items() if name != "no residual, no norm"}
for ax, curves, title in ((axes[0, 0], grads, "all four stacks"),
                          (axes[0, 1], kept, "zoom: the three that keep their gradient")):
    plot_lines(curves, range(depth), xlabel="layer (0 = bottom, next to the input)",
               ylabel=r"$\|\partial L / \partial x_\ell\|$", title=title, ax=ax, logy=True)
plt.show()
for name, (grads, spread) in flows.items():
    print(f"{name:22s} bottom/top gradient {grads[0] / grads[-1]:9.2e}   "
          f"token spread at the output {spread:.2e}")

# %% [markdown]
# What the measurement shows:
#
# - **No residual, no norm**: the gradient shrinks by a roughly constant factor per layer, so
#   it decays *geometrically* with depth; the bottom layers receive almost nothing and cannot
#   learn. This is the vanishing gradient of Module 1's deep RNNs, now in depth instead of
#   time.
# - **No residual (with layer norm)**: the norm rescues the *size* of the gradient, but look
#   at the token spread: every position of a sentence ends with the same output vector.
#   Attention averages tokens; without the residual path that re-injects each token's own
#   signal, a few layers of averaging erase their differences ("rank collapse", Dong et al.,
#   2021), and the stack can no longer tell its tokens apart, however large its gradients.
# - **Residual connections** (post- or pre-norm): $x_{\ell+1} = x_\ell + F(x_\ell)$ gives
#   $\partial x_{\ell+1} / \partial x_\ell = I + \partial F / \partial x_\ell$: the identity
#   term carries the gradient straight down, and the bottom layer gets a gradient of the same
#   order as the top one. Pre-norm keeps a pure identity path (the norm sits off it); this is
#   why deep pre-norm stacks train without the careful learning-rate warm-up post-norm needs
#   (Xiong et al., 2020).

# %%
post, pre = flows["post-norm"], flows["pre-norm"]
plain, bare = flows["no residual"], flows["no residual, no norm"]
assert_metric("no residual, no norm: bottom/top gradient ratio", bare[0][0] / bare[0][-1],
              at_most=1e-3)
assert_metric("post-norm: bottom/top gradient ratio", post[0][0] / post[0][-1], at_least=0.1)
assert_metric("pre-norm: bottom/top gradient ratio", pre[0][0] / pre[0][-1], at_least=0.1)
assert_metric("no residual: token spread at the output", plain[1], at_most=1e-2)
assert_metric("post-norm: token spread at the output", post[1], at_least=0.01)

# %% [markdown]
# ## 3.4 The encoder stack
#
# The full encoder turns token ids into vectors and runs $N$ layers:
#
# $$x_0 = \mathrm{Embedding}(\text{ids}) \cdot \sqrt{d_\text{model}} + \mathrm{PE}, \qquad
# x_{\ell+1} = \mathrm{EncoderLayer}_\ell(x_\ell,\ \text{padding mask}).$$
#
# Why scale by $\sqrt{d_\text{model}}$? The sinusoidal encoding of Module 2 has entries of size
# about 1. The embedding is initialised small (standard deviation $1/\sqrt{d_\text{model}}$; the
# paper shares it with the output layer, where small weights are wanted), so scaling brings
# the word signal to the same size as the position signal instead of letting positions
# drown the words. A pre-norm stack ends with one more `LayerNorm`, since its last layer's
# output has not been normalised.
#
# **Exercise 3.4.** Write the encoder's `forward`. Its parts (inherited from the course's
# `Encoder`): `self.embedding`, `self.positional_encoding` (adds PE, then dropout),
# `self.layers` (a list of `EncoderLayer`), `self.norm` (LayerNorm for pre-norm, identity
# otherwise) and `self.d_model`. Add the positions through `self.positional_encoding`: the
# checker also runs your encoder in training mode, where that module's dropout counts.

# %%
from course_lib.encoder import Encoder as CourseEncoder


class Encoder(CourseEncoder):
    """ids (batch, seq) -> (batch, seq, d_model)."""

    def forward(self, ids: torch.Tensor, padding_mask: torch.Tensor | None = None):
        # BEGIN SOLUTION
        x = self.positional_encoding(self.embedding(ids) * math.sqrt(self.d_model))
        for layer in self.layers:
            x = layer(x, key_padding_mask=padding_mask)
        return self.norm(x)
        # END SOLUTION


# %%
from course_lib.checkers.encoder import check_encoder

check_encoder(Encoder)
from course_lib.encoder import Encoder  # the course's reference from here on

# %% [markdown]
# A dummy batch, and the property padding must have: a sentence's outputs at its real
# positions are the same whether it is encoded alone or padded beside a longer sentence.

# %%
torch.manual_seed(cfg.seed)
encoder = Encoder(vocab_size=100, d_model=64, num_heads=4, d_ff=256, num_layers=2).eval()
ids = torch.tensor([[5, 17, 42, 8, 0, 0, 0], [3, 9, 27, 64, 81, 11, 2]])  # 0 = <pad>
mask = ids == 0
with torch.no_grad():
    batched = encoder(ids, mask)
    alone = encoder(ids[:1, :4])
print("ids", tuple(ids.shape), "-> encoder output", tuple(batched.shape))
print(f"sentence 1 alone vs padded in a batch: largest difference "
      f"{(batched[0, :4] - alone[0]).abs().max():.1e}")

# %% [markdown]
# ## 3.5 What a layer costs: parameters and FLOPs
#
# Count the parameters of one layer from its parts (with biases):
#
# | part | parameters |
# |---|---|
# | attention: $W_Q, W_K, W_V, W_O$ | $4 d^2 + 4 d$ |
# | feed-forward: $W_1, W_2$ | $2\, d\, d_\text{ff} + d_\text{ff} + d$ |
# | two layer norms ($\gamma, \beta$) | $4 d$ |
#
# and the multiply-adds of a forward pass over one sentence of $n$ tokens (a multiply-add
# counts as 2 FLOPs, the convention of `torch.utils.flop_counter`):
#
# | part | FLOPs |
# |---|---|
# | the four projections | $2 \cdot 4\, n d^2$ |
# | scores $QK^\top$ and weighted sum $AV$, all heads | $2 \cdot 2\, n^2 d$ |
# | feed-forward | $2 \cdot 2\, n\, d\, d_\text{ff}$ |
#
# Softmax, norms and additions are $O(n^2 h + n d)$, negligible beside these.

# %%
def layer_parameters(d: int, d_ff: int) -> int:
    return (4 * d * d + 4 * d) + (2 * d * d_ff + d_ff + d) + 4 * d


def layer_flops(n: int, d: int, d_ff: int) -> int:
    return 2 * 4 * n * d * d + 2 * 2 * n * n * d + 2 * 2 * n * d * d_ff


for d_, d_ff_ in ((64, 256), (512, 2048)):  # a small layer, and the paper's base model
    ours = EncoderLayer(d_, 8, d_ff_)
    theirs = nn.TransformerEncoderLayer(d_, 8, d_ff_, batch_first=True)
    counted = sum(p.numel() for p in ours.parameters())
    assert counted == layer_parameters(d_, d_ff_) == sum(p.numel() for p in theirs.parameters())
    print(f"d_model={d_}, d_ff={d_ff_}: {counted:,} parameters per layer (formula, ours and "
          "nn.TransformerEncoderLayer agree)")

# %% [markdown]
# The FLOP count, checked with PyTorch's own counter on a batch of sentences. (The counter
# sees the explicit attention path; the fused `scaled_dot_product_attention` kernel that the
# course's layer uses for speed computes the same products but is not counted on CPU, so we
# measure a layer built with `fused=False`.)

# %%
from torch.utils.flop_counter import FlopCounterMode

batch, n, d_, d_ff_ = 4, 32, 64, 256
probe = EncoderLayer(d_, 4, d_ff_, dropout=0.0, fused=False).eval()
with FlopCounterMode(display=False) as counter, torch.no_grad():
    probe(torch.randn(batch, n, d_))
assert_metric("counted / derived FLOPs", counter.get_total_flops() / (batch * layer_flops(n, d_, d_ff_)),
              at_least=0.999, at_most=1.001)
by_part = counter.get_flop_counts()  # keyed by class name: "TransformerBlock.self_attn"
for part in ("self_attn", "feed_forward"):
    print(f"{part:13s}{sum(by_part[f'{type(probe).__name__}.{part}'].values()):>12,} FLOPs")

# %% [markdown]
# Per token, the linear parts cost $8d^2 + 4 d\, d_\text{ff}$ and attention $4 n d$: attention
# overtakes the rest once $n > 2d + d_\text{ff}$, that is after 3,072 tokens for the base
# model. For the short sentences below, a Transformer spends its time in matrix products
# with weights, not in attention.

# %%
lengths = [16, 64, 256, 1024, 4096]
for n in lengths:
    attention = 4 * n * n * 512
    share = attention / layer_flops(n, 512, 2048)
    print(f"n={n:5d}: {layer_flops(n, 512, 2048) / 1e9:8.2f} GFLOPs per layer, "
          f"attention scores+sum {share:5.1%}")

# %% [markdown]
# ## 3.6 Put the encoder to work: sentiment of movie reviews
#
# The rotten tomatoes sentence-polarity data: 10,662 snippets of reviews, half positive and
# half negative, already lower-cased and tokenised. We split it 80/10/10 into training,
# validation and test sets, and build a word vocabulary from the training sentences only
# (words seen at least `min_freq` times; the rest become `<unk>`).

# %%
from course_lib.data import Vocab, collate_labelled, load_rotten_tomatoes, make_loader, split_items

data = load_rotten_tomatoes()
train_items, val_items, test_items = split_items(data, (0.8, 0.1, 0.1), seed=cfg.seed)
vocab = Vocab.build((text.split() for text, _ in train_items), min_freq=CLS["min_freq"])


def encode(items):
    return [(vocab.encode(text.split())[: CLS["max_tokens"]], label) for text, label in items]


train_set, val_set, test_set = encode(train_items), encode(val_items), encode(test_items)
test_unk = sum(i == vocab.unk_id for ids, _ in test_set for i in ids) / sum(len(ids) for ids, _ in test_set)
print(f"{len(train_set):,} / {len(val_set):,} / {len(test_set):,} sentences; vocabulary {len(vocab):,} "
      f"words; {test_unk:.1%} of test tokens are <unk>")
print("e.g.", train_items[0])

# %%
loaders = {
    "train": make_loader(train_set, CLS["batch_size"], collate_labelled, pad_id=vocab.pad_id,
                         shuffle=True, seed=cfg.seed),
    "val": make_loader(val_set, 256, collate_labelled, pad_id=vocab.pad_id),
    "test": make_loader(test_set, 256, collate_labelled, pad_id=vocab.pad_id),
}
batch = next(iter(loaders["train"]))
print("one training batch:", ", ".join(f"{k} {tuple(v.shape)}" for k, v in batch.items()))

# %% [markdown]
# ### 3.6.1 From token vectors to one sentence vector
#
# The encoder gives one vector per token; the classifier needs one per sentence. We average
# the token vectors, **over the real tokens only**: padding must not dilute a short
# sentence's average. With $m_t = 1$ for a real token and $0$ for padding,
#
# $$\bar h = \frac{\sum_t m_t\, h_t}{\sum_t m_t}.$$
#
# (BERT instead reads a special `[CLS]` token's vector; mean pooling needs no extra token
# and works well for models trained from scratch.)
#
# **Exercise 3.6.1.** Write `masked_mean_pool(x, padding_mask)`: `x` `(batch, seq, d)`,
# `padding_mask` `(batch, seq)` with True at padding, returning `(batch, d)`.

# %%
def masked_mean_pool(x: torch.Tensor, padding_mask: torch.Tensor) -> torch.Tensor:
    """Mean of x over the positions where padding_mask is False: (batch, seq, d) -> (batch, d)."""
    # BEGIN SOLUTION
    keep = (~padding_mask).unsqueeze(-1).to(x.dtype)
    return (x * keep).sum(dim=1) / keep.sum(dim=1).clamp(min=1.0)
    # END SOLUTION


# %%
from course_lib.checkers.encoder import check_masked_mean_pool

check_masked_mean_pool(masked_mean_pool)
from course_lib.classifier import (  # the course's reference from here on, and the classifier
    TransformerClassifier,
    masked_mean_pool,
)

# %% [markdown]
# ### 3.6.2 The classifier
#
# `TransformerClassifier` is the encoder, masked mean pooling, dropout and one linear layer
# to two logits (negative, positive). Dropout is our main defence against overfitting: 8,530
# training sentences are few for a model that learns its word vectors from nothing.

# %%
def make_classifier(num_layers: int, seed: int) -> TransformerClassifier:
    torch.manual_seed(seed)
    return TransformerClassifier(
        len(vocab), num_classes=2, d_model=CLS["d_model"], num_heads=CLS["num_heads"],
        d_ff=CLS["d_ff"], num_layers=num_layers, dropout=CLS["dropout"],
        max_len=CLS["max_tokens"], pad_id=vocab.pad_id,
    ).to(cfg.device)


model = make_classifier(CLS["num_layers"], seed=cfg.seed)
d_model, per_layer = CLS["d_model"], layer_parameters(CLS["d_model"], CLS["d_ff"])
derived = len(vocab) * d_model + CLS["num_layers"] * per_layer + (d_model * 2 + 2)  # + head
assert sum(p.numel() for p in model.parameters()) == derived
print(f"{derived:,} parameters: {len(vocab) * d_model:,} in the word embeddings, "
      f"{per_layer:,} per encoder layer, {d_model * 2 + 2} in the head")

# %% [markdown]
# Training uses the course's `fit` loop: AdamW, a learning rate that warms up linearly and
# then decays linearly to zero over at most `max_epochs` epochs, and after each epoch the
# validation loss, accuracy and macro F1 from `evaluate_classifier`. With so few sentences
# the model soon starts to memorise them, so we use **early stopping**: once the validation
# loss has not improved for `patience` epochs, training stops and the model takes back the
# weights of its best epoch. The test split plays no part in that choice.

# %%
from course_lib.metrics import evaluate_classifier
from course_lib.schedules import linear_warmup_schedule
from course_lib.training import fit


def logits_fn(model, batch):
    return model(batch["ids"], batch["padding_mask"])


def loss_fn(model, batch):
    return F.cross_entropy(logits_fn(model, batch), batch["labels"])


def train_classifier(model, seed, progress=True):
    """Train until the validation loss stops improving; batches shuffled with ``seed``."""
    train_loader = make_loader(train_set, CLS["batch_size"], collate_labelled,
                               pad_id=vocab.pad_id, shuffle=True, seed=seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=CLS["lr"], weight_decay=0.01)
    total = CLS["max_epochs"] * len(train_loader)
    return fit(
        model, train_loader, loss_fn, optimizer, CLS["max_epochs"], device=cfg.device,
        scheduler=linear_warmup_schedule(optimizer, CLS["warmup_steps"], total),
        evaluate=lambda m: evaluate_classifier(m, loaders["val"], logits_fn, cfg.device, "val_"),
        patience=CLS["patience"], progress=progress,
    )


# %%
history = train_classifier(model, seed=cfg.seed)
best_epoch = 1 + min(range(len(history["val_loss"])), key=history["val_loss"].__getitem__)
print(f"trained {len(history['val_loss'])} epochs; best validation loss "
      f"{min(history['val_loss']):.3f} at epoch {best_epoch}, whose weights the model keeps")

# %%
from course_lib.plots import plot_history
from course_lib.report import say

plot_history(history, title="Transformer encoder on rotten tomatoes",
             loss_label="cross-entropy (nats per sentence)",
             loss_baselines={"uniform guess, ln 2": math.log(2)},
             metric_baselines={"chance (balanced classes)": 0.5})
plt.show()
best = min(range(len(history["val_loss"])), key=history["val_loss"].__getitem__)
if best < len(history["val_loss"]) - 1:
    say(f"The validation loss was lowest after epoch {best + 1} ({history['val_loss'][best]:.3f}) and "
        f"rose to {history['val_loss'][-1]:.3f} by the last epoch while the training loss kept "
        "falling: the model has started to overfit, though accuracy may hold up a while longer.")
else:
    say(f"The validation loss fell every epoch, to {history['val_loss'][-1]:.3f}: no sign of overfitting yet.")

# %% [markdown]
# The held-out **test** split, untouched so far, gives the numbers we report:

# %%
test_metrics = evaluate_classifier(model, loaders["test"], logits_fn, cfg.device)
assert_metric("test accuracy", test_metrics["accuracy"], at_least=CLS["min_test_accuracy"])
assert_metric("test macro F1", test_metrics["f1"], at_least=CLS["min_test_f1"])

# %% [markdown]
# Is the encoder pulling its weight? The same model with **zero** layers is a "bag of
# embeddings": it averages word vectors (plus positions) and classifies, with no attention
# at all. On small data such baselines are strong. (For scale, on this data set: Kim (2014)
# reports 76.1% for a CNN trained from scratch and about 81% for the same CNN on pre-trained
# word2vec vectors; fine-tuned BERT models reach about 87-90%. Module 5 shows why
# pre-training is worth so much.)
#
# One training run is one draw: the initial weights, the dropout masks and the order of the
# batches all come from the seed, and so does part of the test accuracy. So both models are
# trained with each of the profile's `seeds`, the same seeds for both, and we compare the
# means, with the spread (standard deviation) over seeds.

# %%
import statistics

accuracy = {"bag of embeddings": {}, "Transformer encoder": {cfg.seed: test_metrics["accuracy"]}}
baseline_history = None  # the bag of embeddings' curves with the notebook's seed, drawn below
for seed in CLS["seeds"]:
    for name, num_layers in (("bag of embeddings", 0), ("Transformer encoder", CLS["num_layers"])):
        if seed not in accuracy[name]:
            trained = make_classifier(num_layers, seed)
            run = train_classifier(trained, seed, progress=False)
            baseline_history = run if seed == cfg.seed and num_layers == 0 else baseline_history
            accuracy[name][seed] = evaluate_classifier(trained, loaders["test"], logits_fn, cfg.device)["accuracy"]
mean = {name: statistics.mean(by_seed.values()) for name, by_seed in accuracy.items()}
spread = {name: statistics.pstdev(by_seed.values()) for name, by_seed in accuracy.items()}
for name, by_seed in accuracy.items():
    runs = ", ".join(f"{by_seed[s]:.3f}" for s in CLS["seeds"])
    print(f"{name:20s} test accuracy {mean[name]:.3f} ± {spread[name]:.3f} over seeds {CLS['seeds']} ({runs})")

# %%
plot_history({"Transformer encoder": history["val_accuracy"],
              "bag of embeddings": baseline_history["val_accuracy"]},
             metric_label="validation accuracy", metric_baselines={"chance (balanced classes)": 0.5},
             title="the encoder against its baseline")
plt.show()

# %% [markdown]
# How large is the gap? Two yardsticks: the spread over seeds (training noise), and the
# standard error of one accuracy measured on the test sentences,
# $\sqrt{p(1-p)/n}$ (the noise of a finite test set).

# %%
from IPython.display import Markdown, display

gain = mean["Transformer encoder"] - mean["bag of embeddings"]
test_se = math.sqrt(mean["Transformer encoder"] * (1 - mean["Transformer encoder"]) / len(test_set))
wins = sum(accuracy["Transformer encoder"][s] > accuracy["bag of embeddings"][s] for s in CLS["seeds"])
display(Markdown(
    f"Over {len(CLS['seeds'])} seed(s) the encoder's mean test accuracy is **{abs(gain):.3f} "
    f"{'above' if gain > 0 else 'below'}** the bag of embeddings' ({gain / test_se:+.1f} standard "
    f"errors of a test accuracy, {test_se:.3f} on {len(test_set):,} sentences). The encoder is "
    f"ahead with {wins} of {len(CLS['seeds'])} seed(s); the spreads over seeds are "
    f"{spread['Transformer encoder']:.3f} (encoder) and {spread['bag of embeddings']:.3f} (bag of embeddings)."
))

# %% [markdown]
# The gap, whichever way it goes, is of the order of the noise measured above; pre-trained
# models gain far more on this data (Module 5). Attention *can* represent what "not" or "but"
# does to the words around it, but learning that from 8,530 short sentences is hard, and the
# larger model starts to memorise them after a few epochs (hence the early stop). The asserts
# below pin the measured accuracies of both models, so a change that breaks either one fails.

# %%
assert_metric("encoder: mean test accuracy over seeds", mean["Transformer encoder"], at_least=CLS["min_mean_test_accuracy"])
assert_metric("bag of embeddings: mean test accuracy over seeds", mean["bag of embeddings"], at_least=CLS["min_baseline_accuracy"])
assert_metric("encoder minus bag of embeddings (mean accuracy)", gain, at_least=CLS["min_gain_over_baseline"])

# %% [markdown]
# ### 3.6.3 What does a trained layer attend to?
#
# Ask the encoder for its attention weights on two short test sentences and draw every
# layer and head with `plot_attention` (rows: queries, columns: keys; each row sums to 1).
# We pick them on purpose, not at random: the first short sentence the model gets **right**
# (a positive one if there is one) and the first it gets **wrong** among the other label,
# so that neither picture flatters the model.

# %%
from course_lib.plots import plot_attention

short = [(ids, label) for ids, label in test_set if 6 <= len(ids) <= 10]
model.eval()
with torch.no_grad():
    p_positive = [model(torch.tensor([ids], device=cfg.device)).softmax(-1)[0, 1].item()
                  for ids, _ in short]
is_right = [(p > 0.5) == bool(label) for p, (_, label) in zip(p_positive, short)]
right = next((i for i, ok in enumerate(is_right) if ok and short[i][1] == 1), is_right.index(True))
wrong = next((i for i, ok in enumerate(is_right) if not ok and short[i][1] != short[right][1]),
             is_right.index(False))
for i in (right, wrong):
    (ids, label), tokens = short[i], [vocab.itos[t] for t in short[i][0]]
    with torch.no_grad():
        _, weights = model.encoder(torch.tensor([ids], device=cfg.device), need_weights=True)
    plot_attention(weights[:, 0], keys=tokens, queries=tokens,  # weights: (layers, 1, heads, q, k)
                   suptitle=f"{'right' if is_right[i] else 'wrong'}: a {'positive' if label else 'negative'} "
                            f"sentence, P(positive) = {p_positive[i]:.2f}")
    plt.show()

# %% [markdown]
# Heads of a classifier trained from scratch are rarely as tidy as those of a large
# pre-trained model. Typical patterns to look for: heads whose columns light up on
# sentiment words ("funny", "dull", "best") for every query, heads that attend to the
# previous or next word (position), and heads close to uniform. Attention weights say where
# information was *read*, not *why* the model decided: treat them as a clue, not an
# explanation.
#
# ### 3.6.4 Error analysis
#
# Which test sentences does the model get wrong, most confidently?

# %%
from course_lib.metrics import class_probabilities
from course_lib.plots import plot_confusion_matrix, plot_distributions

probs, labels = class_probabilities(model, loaders["test"], logits_fn, cfg.device)
predicted = probs.argmax(-1)
fig, axes = notebook_figure(2, height=3.2)
plot_confusion_matrix(labels, predicted, ["negative", "positive"], unit="test sentences",
                      title="test set", ax=axes[0, 0])
confidence_of = probs.max(-1).values
plot_distributions({"right": confidence_of[predicted == labels], "wrong": confidence_of[predicted != labels]},
                   xlabel="confidence: P(predicted class)", binrange=(0.5, 1.0), bins=10,
                   title="how sure the model is", ax=axes[0, 1])
plt.show()
wrong = (predicted != labels).nonzero().flatten()
confidence = probs[wrong, predicted[wrong]]
print(f"{len(wrong)} of {len(labels)} test sentences misclassified; the most confident mistakes:")
for i in wrong[confidence.argsort(descending=True)][:6].tolist():
    text, label = test_items[i]
    print(f"- [true {'pos' if label else 'neg'}, P(wrong) = {probs[i, 1 - label]:.2f}] {text}")

# %% [markdown]
# Do unknown words play a part? Compare the share of `<unk>` tokens in the sentences the
# model gets wrong and in those it gets right:

# %%
def unk_share(indices):
    tokens = [i for j in indices for i in test_set[j][0]]
    return sum(i == vocab.unk_id for i in tokens) / max(1, len(tokens))


right = (predicted == labels).nonzero().flatten().tolist()
unk_wrong, unk_right = unk_share(wrong.tolist()), unk_share(right)
print(f"<unk> share: misclassified {unk_wrong:.1%}, correct {unk_right:.1%}")
say("A clearly higher share among the mistakes would mean that unseen words cost accuracy. Here "
    f"the two differ by {abs(unk_wrong - unk_right):.1%}: "
    + ("so the vocabulary is not the main problem." if abs(unk_wrong - unk_right) < 0.02
       else "large enough that unseen words may well cost accuracy."))

# %% [markdown]
# Reading the mistakes is the most useful habit in applied NLP. On this data set they tend to
# fall into a few groups: sentiment that turns on a negation or a contrast ("never once
# predictable", "not too pretentious", "a sharp movie about otherwise dull subjects"), irony
# and understatement, and descriptions of the plot rather than judgements of the film. An
# average of word vectors cannot represent what "not" or "but" does to the words around it;
# attention *can* relate them, which is what larger models, given far more data, learn to do.
#
# ## Self-check
#
# 1. Why is the feed-forward network called *position-wise*, and where in a Transformer
#    layer is information exchanged between positions?
#
# <!-- BEGIN SOLUTION -->
# The same two linear layers are applied to every position separately: token $t$'s output
# depends only on token $t$'s input. Information moves between positions only in the
# attention sub-layer.
# <!-- END SOLUTION -->
#
# 2. Over which dimensions do layer norm and batch norm compute their statistics for a
#    `(batch, seq, d)` tensor, and why does that make layer norm suit variable-length text?
#
# <!-- BEGIN SOLUTION -->
# Layer norm: over `d`, separately for every token. Batch norm: over `batch` and `seq`,
# separately for every feature. Layer norm's output for a token is therefore independent of
# the other sentences in the batch, of the padding, of the batch size (even 1) and of
# training vs evaluation mode, as measured above; batch norm's is not.
# <!-- END SOLUTION -->
#
# 3. Write the derivative of $x_{\ell+1} = x_\ell + F(x_\ell)$ with respect to $x_\ell$ and
#    explain with it why residual connections keep gradients alive in deep stacks.
#
# <!-- BEGIN SOLUTION -->
# $\partial x_{\ell+1}/\partial x_\ell = I + \partial F/\partial x_\ell$. Through $L$ layers
# the gradient is a product of such factors, which expands into a sum that always contains
# the identity path $I$: even when every $\partial F/\partial x$ is small, the gradient
# reaches the bottom layers undiminished. Without the $I$, the product of $L$ small factors
# vanishes geometrically, as the measured plot showed.
# <!-- END SOLUTION -->
#
# 4. What is the difference between post-norm and pre-norm, and which one does
#    `nn.TransformerEncoderLayer` use by default?
#
# <!-- BEGIN SOLUTION -->
# Post-norm (the paper, PyTorch's default `norm_first=False`) normalises after the residual
# sum: $\mathrm{LN}(x + F(x))$. Pre-norm (`norm_first=True`) normalises the sub-layer's input
# and leaves the residual path untouched: $x + F(\mathrm{LN}(x))$; it trains deep stacks more
# stably, and needs a final LayerNorm after the last layer.
# <!-- END SOLUTION -->
#
# 5. Why are the embeddings multiplied by $\sqrt{d_\text{model}}$?
#
# <!-- BEGIN SOLUTION -->
# Embeddings are initialised (and, when shared with the output layer, kept) small, with
# entries of order $1/\sqrt{d_\text{model}}$, while the positional encoding's entries are of
# order 1. Scaling by $\sqrt{d_\text{model}}$ puts word and position signals on the same
# scale, so neither drowns the other.
# <!-- END SOLUTION -->
#
# 6. How many parameters does one encoder layer of the base Transformer ($d_\text{model} =
#    512$, $d_\text{ff} = 2048$) have, and at what sentence length does attention start to
#    cost more FLOPs than the linear layers?
#
# <!-- BEGIN SOLUTION -->
# $4d^2 + 4d + 2 d d_\text{ff} + d_\text{ff} + d + 4d = 3{,}152{,}384$. Attention's
# $4n^2 d$ exceeds the linear parts' $8 n d^2 + 4 n d\, d_\text{ff}$ when
# $n > 2d + d_\text{ff} = 3{,}072$ tokens.
# <!-- END SOLUTION -->
#
# 7. Why must the padding mask reach *every* layer, and why do we pool only over real
#    tokens?
#
# <!-- BEGIN SOLUTION -->
# In every layer each real token attends over all keys; without the mask it would mix in the
# padded positions' vectors, so its output would depend on how much padding the batch has.
# The outputs *at* padded positions are meaningless, so averaging over them would also let
# the padding length change the sentence vector; pooling over real tokens keeps a
# sentence's prediction the same however it is batched.
# <!-- END SOLUTION -->
#
# 8. The trained classifier was compared with a bag of embeddings. Why can such a simple
#    baseline be hard to beat on 8,530 sentences, and what would you try first to beat it?
#
# <!-- BEGIN SOLUTION -->
# Most of the sentiment signal sits in individual words, which averaging captures, while
# learning word interactions (negation, contrast) from scratch needs far more examples than
# 8,530 short sentences provide; the bigger model also overfits sooner. First tries:
# pre-trained word vectors or, better, a pre-trained Transformer fine-tuned on the task
# (Module 5); also more regularisation (early stopping on the validation split is already on).
# <!-- END SOLUTION -->
