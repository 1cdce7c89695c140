"""Checkers for exercise 1.3 (the LSTM cell) and 1.3.1 (one gradient derived by hand)."""

from __future__ import annotations

import torch
from torch import nn

from course_lib.checkers.core import case, checker, expect_shape
from course_lib.checkers.mistakes import expect_close_or_explain, own_rng, seed_cpu
from course_lib.recurrent.lstm import copy_lstm_weights, lstm_gates


def _variant(
    cell: nn.LSTMCell,
    x,
    h,
    c,
    order=(0, 1, 2, 3),
    g_act=torch.tanh,
    forget=True,
    tanh_c=True,
    both_biases=True,
):
    """What a (possibly wrong) LSTM step computes; the default is the right one."""
    pre = x @ cell.weight_ih.T + cell.bias_ih + h @ cell.weight_hh.T
    pre = pre + cell.bias_hh if both_biases else pre
    chunks = pre.chunk(4, dim=-1)
    i, f, g, o = (chunks[k] for k in order)
    i, f, g, o = torch.sigmoid(i), torch.sigmoid(f), g_act(g), torch.sigmoid(o)
    c_new = (f * c if forget else 0) + i * g
    return o * (torch.tanh(c_new) if tanh_c else c_new), c_new


def _cell_mistakes(ref: nn.LSTMCell, x, h, c) -> list[tuple[tuple, str]]:
    return [
        (
            _variant(ref, x, h, c, order=(0, 1, 3, 2)),
            "the gates are in the wrong order: PyTorch stacks them as (input i, forget f, cell "
            "candidate g, output o); split with gates.chunk(4, dim=-1) in that order.",
        ),
        (
            _variant(ref, x, h, c, order=(1, 0, 2, 3)),
            "input and forget gates are swapped: the order is (i, f, g, o).",
        ),
        (
            _variant(ref, x, h, c, g_act=torch.sigmoid),
            "the candidate g must use tanh (values in [-1, 1]); only i, f, o use sigmoid.",
        ),
        (
            _variant(ref, x, h, c, forget=False),
            "the old cell state is dropped: c' = f * c + i * g (the forget gate keeps part of c).",
        ),
        (
            _variant(ref, x, h, c, tanh_c=False),
            "h' = o * tanh(c'), not o * c': squash the cell state before the output gate.",
        ),
        (
            _variant(ref, x, h, c, both_biases=False),
            "a bias is missing: add both bias_ih and bias_hh to the pre-activations.",
        ),
    ]


@checker
@own_rng
def check_lstm_cell(LSTMCell, seed: int = 1234) -> None:
    """``LSTMCell(input_size, hidden_size)`` must compute what ``torch.nn.LSTMCell`` computes."""
    seed_cpu(seed)
    n_in, hidden, batch = 5, 7, 4
    ours, ref = LSTMCell(n_in, hidden), nn.LSTMCell(n_in, hidden)
    for name, shape in (
        ("weight_ih", (4 * hidden, n_in)),
        ("weight_hh", (4 * hidden, hidden)),
        ("bias_ih", (4 * hidden,)),
        ("bias_hh", (4 * hidden,)),
    ):
        if not hasattr(ours, name):
            raise AssertionError(f"LSTMCell has no parameter {name!r}: keep the __init__ as given.")
        expect_shape(getattr(ours, name), shape, f"LSTMCell.{name}")
    copy_lstm_weights(ref, ours)
    x = torch.randn(batch, n_in)
    h, c = torch.randn(batch, hidden), torch.randn(batch, hidden)
    with case(f"cell(x, (h, c)) with x ({batch}, {n_in}), h and c ({batch}, {hidden})"):
        out = ours(x, (h, c))
    if not isinstance(out, tuple) or len(out) != 2:
        raise AssertionError("LSTMCell.forward must return the pair (h_new, c_new).")
    h_ref, c_ref = ref(x, (h, c))
    mistakes = _cell_mistakes(ref, x, h, c)
    if torch.allclose(out[0], c_ref, atol=1e-5) and torch.allclose(out[1], h_ref, atol=1e-5):
        raise AssertionError("h and c are swapped: return (h_new, c_new) in this order.")
    expect_close_or_explain(
        out[1],
        c_ref,
        "the new cell state c'",
        [(m[1], why) for m, why in mistakes],
        hint="c' = f * c + i * g with i, f = sigmoid(...), g = tanh(...).",
    )
    expect_close_or_explain(
        out[0],
        h_ref,
        "the new hidden state h'",
        [(m[0], why) for m, why in mistakes],
        hint="h' = o * tanh(c') with o = sigmoid(...).",
    )
    h_zero, _ = ref(x)
    with case(f"cell(x) with x ({batch}, {n_in}) and no state"):
        h_none = ours(x)[0]
    expect_close_or_explain(
        h_none, h_zero, "h' with state=None", hint="when state is None, start from h = c = zeros."
    )
    dh, dc = torch.randn(batch, hidden), torch.randn(batch, hidden)
    ((out[0] * dh).sum() + (out[1] * dc).sum()).backward()
    ((h_ref * dh).sum() + (c_ref * dc).sum()).backward()
    for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
        grad, want = getattr(ours, name).grad, getattr(ref, name).grad
        if grad is None or not torch.allclose(grad, want, atol=1e-5, rtol=1e-4):
            raise AssertionError(
                f"no gradient reaches {name}, or not the right one (through h' and c'): "
                "compute with torch operations on the parameters themselves (no .detach(), "
                ".data or NumPy)."
            )


@checker
@own_rng
def check_cell_state_gradient(grad_fn, seed: int = 4321) -> None:
    """``grad_fn(cell, x, (h, c), v)`` must equal autograd's ``dL/dc`` for ``L = sum(v * h')``."""
    seed_cpu(seed)
    n_in, hidden, batch = 3, 6, 5
    cell = nn.LSTMCell(n_in, hidden)
    x, h = torch.randn(batch, n_in), torch.randn(batch, hidden)
    c, v = torch.randn(batch, hidden, requires_grad=True), torch.randn(batch, hidden)
    h_new, _ = cell(x, (h, c))
    (autograd,) = torch.autograd.grad((v * h_new).sum(), c)
    with torch.no_grad():
        with case(
            f"grad_fn(cell, x, (h, c), v) with x ({batch}, {n_in}), h, c and v ({batch}, {hidden})"
        ):
            ours = grad_fn(cell, x, (h, c.detach()), v)
        i, f, g, o = lstm_gates(cell, x, h)
        c_new = f * c + i * g
        tanh_c = torch.tanh(c_new)
        mistakes = [
            (
                v * o * (1 - tanh_c**2),
                "the forget gate is missing: c' = f * c + i * g, so dc'/dc = f.",
            ),
            (
                v * o * f,
                "the derivative of tanh is missing: h' = o * tanh(c'), and "
                "d tanh(u)/du = 1 - tanh(u)^2.",
            ),
            (
                v * o * (1 - torch.tanh(c) ** 2) * f,
                "tanh's derivative is taken at the old state c: evaluate it at the new one, c'.",
            ),
            (v * o * (1 - tanh_c) * f, "d tanh(u)/du = 1 - tanh(u)^2 (squared), not 1 - tanh(u)."),
            (
                o * (1 - tanh_c**2) * f,
                "the upstream gradient dL/dh' = v is missing: multiply by v.",
            ),
        ]
    expect_close_or_explain(
        ours,
        autograd,
        "dL/dc",
        mistakes,
        hint="dL/dc = v * o * (1 - tanh(c')^2) * f (chain rule through h' = o tanh(c') and "
        "c' = f c + i g).",
    )
