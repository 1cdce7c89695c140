"""The NumPy vanilla RNN equals torch.nn.RNN; its checker accepts it and names typical mistakes."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from course_lib.checkers import STUB_MARKER, CheckFailed
from course_lib.checkers.rnn import check_rnn_forward
from course_lib.recurrent.rnn import gradient_norms_by_distance, rnn_forward

ACROSS_SEEDS = [{}] + [{"seed": seed} for seed in range(20)]


def test_rnn_forward_equals_nn_rnn():
    torch.manual_seed(0)
    rnn = nn.RNN(4, 6, batch_first=True)
    x, h0 = torch.randn(3, 7, 4), torch.randn(1, 3, 6)
    expected, h_n = rnn(x, h0)
    ours = rnn_forward(
        x.numpy(), h0[0].numpy(),
        rnn.weight_ih_l0.detach().numpy().T, rnn.weight_hh_l0.detach().numpy().T,
        (rnn.bias_ih_l0 + rnn.bias_hh_l0).detach().numpy(),
    )
    torch.testing.assert_close(torch.from_numpy(ours), expected.detach())
    torch.testing.assert_close(torch.from_numpy(ours[:, -1]), h_n[0].detach())


def test_rnn_forward_rejects_bad_shapes():
    W_hh, b_h = np.zeros((2, 2)), np.zeros(2)
    with pytest.raises(ValueError, match="batch, seq, input"):
        rnn_forward(np.zeros((3, 4)), np.zeros((3, 2)), np.zeros((4, 2)), W_hh, b_h)
    with pytest.raises(ValueError, match="weights do not fit"):
        rnn_forward(np.zeros((1, 3, 4)), np.zeros((1, 2)), np.zeros((2, 4)), W_hh, b_h)


def test_gradient_norms_vanish_and_explode():
    torch.manual_seed(0)
    small = nn.RNN(16, 16, batch_first=True)
    big = nn.RNN(16, 16, batch_first=True)
    with torch.no_grad():
        big.weight_hh_l0.copy_(torch.randn(16, 16) * 3 / 4)
    vanish = gradient_norms_by_distance(small, seq_len=30)
    explode = gradient_norms_by_distance(big, seq_len=30)
    assert vanish.shape == (30,)
    assert vanish[-1] < 1e-3 * vanish[0]
    assert explode[-1] > 10 * explode[0]


def test_check_rnn_forward_accepts_reference():
    assert check_rnn_forward(rnn_forward)  # truthy: passed


def test_check_rnn_forward_reports_stub():
    def stub(*args):
        raise NotImplementedError(STUB_MARKER)

    assert not check_rnn_forward(stub)  # falsy: not attempted


def _no_carry(x, h0, W_xh, W_hh, b_h):
    return np.stack([np.tanh(x[:, t] @ W_xh + h0 @ W_hh + b_h) for t in range(x.shape[1])], axis=1)


def _no_tanh(x, h0, W_xh, W_hh, b_h):
    h, out = h0, []
    for t in range(x.shape[1]):
        h = x[:, t] @ W_xh + h @ W_hh + b_h
        out.append(h)
    return np.stack(out, axis=1)


def _transposed(x, h0, W_xh, W_hh, b_h):
    return rnn_forward(x, h0, W_xh, W_hh.T, b_h)


def _last_only(x, h0, W_xh, W_hh, b_h):
    return rnn_forward(x, h0, W_xh, W_hh, b_h)[:, -1]


def _inputs_projected_first(x, h0, W_xh, W_hh, b_h):
    """Correct, written differently: all input projections at once, states preallocated."""
    projected = np.einsum("bti,ih->bth", x, W_xh) + b_h
    states = np.empty(projected.shape)
    h = h0
    for t in range(x.shape[1]):
        h = states[:, t] = np.tanh(projected[:, t] + h @ W_hh)
    return states


def test_check_rnn_forward_accepts_a_different_loop():
    assert check_rnn_forward(_inputs_projected_first)


@pytest.mark.parametrize(
    "wrong, hint",
    [
        (_no_carry, "carry the state forward"),
        (_no_tanh, "no nonlinearity"),
        (_transposed, "transposed"),
        (_last_only, "only the last state"),
    ],
)
def test_check_rnn_forward_names_mistakes(wrong, hint):
    for kwargs in ACROSS_SEEDS:  # the default seed, then 20 others
        with pytest.raises(CheckFailed, match=hint):
            check_rnn_forward(wrong, **kwargs)
