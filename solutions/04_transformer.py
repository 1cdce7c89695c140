# %% [markdown]
# # Module 4 · The decoder and the full Transformer
#
# Module 3 built the encoder. This module builds the other half, the decoder, assembles the
# whole encoder-decoder Transformer of "Attention Is All You Need", teaches it to decode
# fast, and trains it.

# %%
from course_lib import setup

cfg = setup(module=4)
sizes = cfg.sizes

# %% [markdown]
# ## 4.1 Masked self-attention

# %% [markdown]
# ## 4.2 Encoder-decoder (cross) attention

# %% [markdown]
# ## 4.3 The decoder layer

# %% [markdown]
# ## 4.4 The full Transformer

# %% [markdown]
# ## 4.5 Decoding: greedy, cached, beam search

# %% [markdown]
# ## 4.6 Mini-project: a toy task

# %% [markdown]
# ## 4.7 A decoder-only language model

# %% [markdown]
# ## 4.8 Real translation: Multi30k German -> English

# %% [markdown]
# <!-- 4.8 cells: owned by the m4mt branch -->

# %% [markdown]
# ## 4.9 Ablations

# %% [markdown]
# ## Self-check
