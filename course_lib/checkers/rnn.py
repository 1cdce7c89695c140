"""Checker for exercise 1.1: the forward pass of a vanilla RNN in NumPy."""

from __future__ import annotations

import numpy as np
import torch

from course_lib.checkers.core import case, checker
from course_lib.checkers.mistakes import expect_close_or_explain
from course_lib.recurrent.rnn import rnn_forward as reference


def _mistakes(x, h0, W_xh, W_hh, b_h) -> list[tuple[np.ndarray, str]]:
    batch, seq, _ = x.shape
    no_carry = np.tanh(x @ W_xh + (h0 @ W_hh)[:, None, :] + b_h)
    states, h = [], h0
    for t in range(seq):  # no nonlinearity
        h = x[:, t] @ W_xh + h @ W_hh + b_h
        states.append(h)
    linear = np.stack(states, axis=1)
    shifted = np.concatenate([h0[:, None, :], reference(x, h0, W_xh, W_hh, b_h)[:, :-1]], axis=1)
    return [
        (
            reference(x, h0, W_xh, W_hh.T, b_h),
            "W_hh is applied transposed: with row-vector states the update is h @ W_hh "
            "(shape (batch, hidden) @ (hidden, hidden)), not h @ W_hh.T.",
        ),
        (
            no_carry,
            "every step used h0: carry the state forward, h = tanh(x_t W_xh + h W_hh + b_h) "
            "with h from the previous step.",
        ),
        (linear, "no nonlinearity: h_t = tanh(x_t W_xh + h_{t-1} W_hh + b_h); apply np.tanh."),
        (
            shifted,
            "the states are one step late: store h_t after computing it, so states[:, 0] "
            "is the state after reading x_0, not h0.",
        ),
    ]


@checker
def check_rnn_forward(rnn_forward, seed: int = 1234) -> None:
    """``rnn_forward(x, h0, W_xh, W_hh, b_h)`` must return every hidden state, as the reference."""
    rng = np.random.default_rng(seed)
    batch, seq, n_in, hidden = 3, 6, 4, 5
    x = rng.normal(size=(batch, seq, n_in))
    h0 = rng.normal(size=(batch, hidden)) * 0.5
    W_xh = rng.normal(size=(n_in, hidden)) * 0.5
    W_hh = rng.normal(size=(hidden, hidden)) * 0.5
    b_h = rng.normal(size=hidden) * 0.1
    with case(
        f"rnn_forward on x {x.shape}, h0 {h0.shape}, W_xh {W_xh.shape}, W_hh "
        f"{W_hh.shape}, b_h {b_h.shape}"
    ):
        out = rnn_forward(x, h0, W_xh, W_hh, b_h)
    if not isinstance(out, np.ndarray):
        raise AssertionError(f"rnn_forward should return a NumPy array, got {type(out).__name__}.")
    if out.shape == (batch, hidden):
        raise AssertionError(
            f"rnn_forward returned shape {out.shape}, only the last state: return all of them, "
            f"shape (batch, seq, hidden) = {(batch, seq, hidden)} (np.stack the states on axis 1)."
        )
    expected = reference(x, h0, W_xh, W_hh, b_h)
    expect_close_or_explain(
        torch.from_numpy(np.asarray(out, dtype=np.float64)),
        torch.from_numpy(expected),
        "rnn_forward(x, h0, W_xh, W_hh, b_h)",
        [(torch.from_numpy(w), why) for w, why in _mistakes(x, h0, W_xh, W_hh, b_h)],
        hint="h_t = tanh(x_t @ W_xh + h_{t-1} @ W_hh + b_h), starting from h_{-1} = h0.",
    )
