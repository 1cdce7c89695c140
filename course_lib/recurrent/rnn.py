"""Module 1: the vanilla (Elman) RNN, and a measurement of how its gradients vanish or explode.

A vanilla RNN reads a sequence one step at a time and keeps a hidden state:

    h_t = tanh(x_t W_xh + h_{t-1} W_hh + b_h)

``rnn_forward`` is that loop in plain NumPy (the from-scratch version of ``torch.nn.RNN``);
``gradient_norms_by_distance`` measures ``||d h_T / d x_t||`` for any recurrent ``nn.Module``
(``nn.RNN``, ``nn.LSTM``, ``nn.GRU``) to show how far back a learning signal reaches.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn


def rnn_forward(
    x: np.ndarray, h0: np.ndarray, W_xh: np.ndarray, W_hh: np.ndarray, b_h: np.ndarray
) -> np.ndarray:
    """Run a tanh RNN over ``x`` and return every hidden state.

    x ``(batch, seq, input)``, h0 ``(batch, hidden)``, W_xh ``(input, hidden)``,
    W_hh ``(hidden, hidden)``, b_h ``(hidden,)``. Returns ``(batch, seq, hidden)``: the state
    after each step (the last one is ``h_T``).
    """
    x, h0 = np.asarray(x), np.asarray(h0)
    if x.ndim != 3:
        raise ValueError(f"x must be (batch, seq, input), got shape {x.shape}")
    batch, seq, n_in = x.shape
    hidden = W_hh.shape[0]
    if W_xh.shape != (n_in, hidden) or W_hh.shape != (hidden, hidden) or b_h.shape != (hidden,):
        raise ValueError(
            f"weights do not fit: W_xh {W_xh.shape} should be {(n_in, hidden)}, W_hh "
            f"{W_hh.shape} should be {(hidden, hidden)}, b_h {b_h.shape} should be {(hidden,)}"
        )
    if h0.shape != (batch, hidden):
        raise ValueError(f"h0 must be (batch, hidden) = {(batch, hidden)}, got {h0.shape}")
    h = h0
    states = np.empty((batch, seq, hidden), dtype=np.result_type(x, W_xh))
    for t in range(seq):
        h = np.tanh(x[:, t] @ W_xh + h @ W_hh + b_h)
        states[:, t] = h
    return states


def gradient_norms_by_distance(
    rnn: nn.Module, seq_len: int = 60, batch: int = 32, input_scale: float = 1.0, seed: int = 0
) -> np.ndarray:
    """``norms[k]`` = mean over the batch of ``||d (v . h_T) / d x_{T-k}||``, k = 0..seq_len-1.

    ``rnn`` is a batch-first recurrent module returning ``(output, state)`` like ``nn.RNN`` or
    ``nn.LSTM``; it reads random inputs ``(batch, seq_len, input_size)`` and ``v`` is a fixed
    random unit vector. ``norms[k]`` is how strongly the last state still depends on the input
    ``k`` steps back: it decays geometrically when gradients vanish and grows when they explode.
    """
    if not getattr(rnn, "batch_first", False):
        raise ValueError("gradient_norms_by_distance needs a batch_first=True recurrent module.")
    gen = torch.Generator().manual_seed(seed)
    param = next(rnn.parameters())
    x = input_scale * torch.randn(batch, seq_len, rnn.input_size, generator=gen)
    x = x.to(param).requires_grad_(True)
    output, _ = rnn(x)
    v = torch.randn(output.shape[-1], generator=gen).to(param)
    (output[:, -1] @ (v / v.norm())).sum().backward()
    norms = x.grad.norm(dim=-1).mean(dim=0)  # (seq_len,), indexed by time step t
    return norms.flip(0).detach().cpu().numpy()  # indexed by distance k = T - 1 - t
