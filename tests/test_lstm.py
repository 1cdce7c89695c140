"""The from-scratch LSTM equals torch.nn.LSTM; the hand-derived gradient equals autograd."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from course_lib.checkers import STUB_MARKER, CheckFailed
from course_lib.checkers.lstm import check_cell_state_gradient, check_lstm_cell
from course_lib.recurrent.lstm import (
    LSTM,
    LSTMCell,
    cell_state_gradient,
    copy_lstm_weights,
    lstm_gates,
)

ACROSS_SEEDS = [{}] + [{"seed": seed} for seed in range(20)]


def test_cell_equals_nn_lstm_cell():
    torch.manual_seed(0)
    ref, ours = nn.LSTMCell(5, 8), LSTMCell(5, 8)
    copy_lstm_weights(ref, ours)
    x, h, c = torch.randn(4, 5), torch.randn(4, 8), torch.randn(4, 8)
    for got, want in zip(ours(x, (h, c)), ref(x, (h, c)), strict=True):
        torch.testing.assert_close(got, want)


def test_layer_equals_nn_lstm_forward_and_backward():
    torch.manual_seed(1)
    ref, ours = nn.LSTM(5, 8, batch_first=True), LSTM(5, 8)
    copy_lstm_weights(ref, ours)
    x = torch.randn(3, 9, 5)
    state = (torch.randn(1, 3, 8), torch.randn(1, 3, 8))
    out_ref, (h_ref, c_ref) = ref(x, state)
    out, (h, c) = ours(x, state)
    torch.testing.assert_close(out, out_ref)
    torch.testing.assert_close(h, h_ref)
    torch.testing.assert_close(c, c_ref)
    (out.square().sum() + c.sum()).backward()
    (out_ref.square().sum() + c_ref.sum()).backward()
    torch.testing.assert_close(ours.cell.weight_hh.grad, ref.weight_hh_l0.grad)
    torch.testing.assert_close(ours.cell.bias_ih.grad, ref.bias_ih_l0.grad)


def test_copy_to_nn_lstm_and_zero_state():
    torch.manual_seed(2)
    ours, ref = LSTM(3, 4), nn.LSTM(3, 4, batch_first=True)
    copy_lstm_weights(ours, ref)
    x = torch.randn(2, 5, 3)
    torch.testing.assert_close(ours(x)[0], ref(x)[0])


def test_copy_rejects_mismatch():
    with pytest.raises(ValueError, match="same input and hidden sizes"):
        copy_lstm_weights(nn.LSTM(3, 4), LSTMCell(3, 5))
    with pytest.raises(ValueError, match="one-layer"):
        copy_lstm_weights(nn.LSTM(3, 4, num_layers=2), LSTMCell(3, 4))
    with pytest.raises(TypeError, match="works with"):
        copy_lstm_weights(nn.GRU(3, 4), LSTMCell(3, 4))


def test_cell_rejects_sequence_input():
    with pytest.raises(ValueError, match="for a whole sequence use LSTM"):
        LSTMCell(3, 4)(torch.randn(2, 5, 3))


def test_hand_gradient_equals_autograd_and_finite_differences():
    torch.manual_seed(3)
    cell = nn.LSTMCell(3, 4).double()
    x, h = torch.randn(2, 3, dtype=torch.double), torch.randn(2, 4, dtype=torch.double)
    c, v = torch.randn(2, 4, dtype=torch.double), torch.randn(2, 4, dtype=torch.double)
    hand = cell_state_gradient(cell, x, (h, c), v)
    c_var = c.clone().requires_grad_(True)
    (auto,) = torch.autograd.grad((v * cell(x, (h, c_var))[0]).sum(), c_var)
    torch.testing.assert_close(hand, auto)
    eps, numeric = 1e-6, torch.zeros_like(c)
    with torch.no_grad():
        for idx in range(c.numel()):
            bump = torch.zeros_like(c).view(-1)
            bump[idx] = eps
            bump = bump.view_as(c)
            plus = (v * cell(x, (h, c + bump))[0]).sum()
            minus = (v * cell(x, (h, c - bump))[0]).sum()
            numeric.view(-1)[idx] = (plus - minus) / (2 * eps)
    torch.testing.assert_close(hand, numeric, atol=1e-7, rtol=1e-6)


def test_checkers_accept_references_and_report_stubs():
    assert check_lstm_cell(LSTMCell)  # truthy: passed
    assert check_cell_state_gradient(cell_state_gradient)  # truthy: passed

    class Stub(LSTMCell):
        def forward(self, x, state=None):
            raise NotImplementedError(STUB_MARKER)

    assert not check_lstm_cell(Stub)  # falsy: not attempted

    def stub_gradient(*args):
        raise NotImplementedError(STUB_MARKER)

    assert not check_cell_state_gradient(stub_gradient)  # falsy: not attempted


def _cell_with(step):
    class Wrong(LSTMCell):
        def forward(self, x, state=None):
            if state is None:
                zeros = x.new_zeros(x.shape[0], self.hidden_size)
                state = (zeros, zeros)
            return step(self, x, *state)

    return Wrong


def _wrong_order(self, x, h, c):
    gates = x @ self.weight_ih.T + self.bias_ih + h @ self.weight_hh.T + self.bias_hh
    i, f, o, g = gates.chunk(4, dim=-1)  # the order of many papers, not PyTorch's
    c_new = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    return torch.sigmoid(o) * torch.tanh(c_new), c_new


def _no_forget(self, x, h, c):
    i, f, g, o = lstm_gates(self, x, h)
    c_new = i * g
    return o * torch.tanh(c_new), c_new


def _no_tanh_on_c(self, x, h, c):
    i, f, g, o = lstm_gates(self, x, h)
    c_new = f * c + i * g
    return o * c_new, c_new


def _swapped_outputs(self, x, h, c):
    i, f, g, o = lstm_gates(self, x, h)
    c_new = f * c + i * g
    return c_new, o * torch.tanh(c_new)


def _four_matmuls(self, x, h, c):
    """Correct, written differently: each gate from its own slice of the weights."""
    n = self.hidden_size
    pre = [
        x @ self.weight_ih[k * n:(k + 1) * n].T + h @ self.weight_hh[k * n:(k + 1) * n].T
        + self.bias_ih[k * n:(k + 1) * n] + self.bias_hh[k * n:(k + 1) * n]
        for k in range(4)
    ]
    i, f, o = torch.sigmoid(pre[0]), torch.sigmoid(pre[1]), torch.sigmoid(pre[3])
    c_new = torch.addcmul(f * c, i, torch.tanh(pre[2]))
    return o * torch.tanh(c_new), c_new


def _detached_state(self, x, h, c):
    i, f, g, o = lstm_gates(self, x, h)
    c_new = (f * c + i * g).detach()
    return o * torch.tanh(c_new), c_new


def test_check_lstm_cell_accepts_per_gate_slices():
    assert check_lstm_cell(_cell_with(_four_matmuls))


@pytest.mark.parametrize(
    "step, hint",
    [
        (_wrong_order, "wrong order"),
        (_no_forget, "old cell state is dropped"),
        (_no_tanh_on_c, r"not o \* c'"),
        (_swapped_outputs, "swapped"),
        (_detached_state, "no gradient reaches"),
    ],
)
def test_check_lstm_cell_names_mistakes(step, hint):
    for kwargs in ACROSS_SEEDS:  # the default seed, then 20 others
        with pytest.raises(CheckFailed, match=hint):
            check_lstm_cell(_cell_with(step), **kwargs)


def _grad_no_forget(cell, x, state, v):
    i, f, g, o = lstm_gates(cell, x, state[0])
    return v * o * (1 - torch.tanh(f * state[1] + i * g) ** 2)


def _grad_no_tanh(cell, x, state, v):
    i, f, g, o = lstm_gates(cell, x, state[0])
    return v * o * f


def _grad_old_state(cell, x, state, v):
    i, f, g, o = lstm_gates(cell, x, state[0])
    return v * o * (1 - torch.tanh(state[1]) ** 2) * f


def _grad_no_upstream(cell, x, state, v):
    i, f, g, o = lstm_gates(cell, x, state[0])
    return o * (1 - torch.tanh(f * state[1] + i * g) ** 2) * f


def _grad_by_autograd(cell, x, state, v):
    """Correct, written differently: autograd instead of the chain rule by hand."""
    with torch.enable_grad():
        c = state[1].clone().requires_grad_(True)
        h_new, _ = cell(x, (state[0], c))
        return torch.autograd.grad((v * h_new).sum(), c)[0]


def test_check_cell_state_gradient_accepts_autograd():
    assert check_cell_state_gradient(_grad_by_autograd)


@pytest.mark.parametrize(
    "grad_fn, hint",
    [
        (_grad_no_upstream, "upstream gradient"),
        (_grad_no_forget, "forget gate is missing"),
        (_grad_no_tanh, "derivative of tanh is missing"),
        (_grad_old_state, "old state c"),
    ],
)
def test_check_cell_state_gradient_names_mistakes(grad_fn, hint):
    for kwargs in ACROSS_SEEDS:  # the default seed, then 20 others
        with pytest.raises(CheckFailed, match=hint):
            check_cell_state_gradient(grad_fn, **kwargs)


def test_checkers_leave_the_notebook_random_stream_alone():
    torch.manual_seed(5)
    expected = torch.rand(3)
    torch.manual_seed(5)
    check_lstm_cell(LSTMCell)
    check_cell_state_gradient(cell_state_gradient)
    torch.testing.assert_close(torch.rand(3), expected)
