"""Module 1: the LSTM from scratch: a cell with its gates written out, a layer over time.

Per step, with the gates stacked in PyTorch's order (input, forget, cell candidate, output):

    i = sigma(x W_ii^T + b_ii + h W_hi^T + b_hi)      what to write
    f = sigma(x W_if^T + b_if + h W_hf^T + b_hf)      what to keep
    g = tanh (x W_ig^T + b_ig + h W_hg^T + b_hg)      the candidate content
    o = sigma(x W_io^T + b_io + h W_ho^T + b_ho)      what to show
    c' = f * c + i * g          h' = o * tanh(c')

The parameters have the names and shapes of ``torch.nn.LSTMCell`` (``weight_ih`` ``(4H, I)``,
``weight_hh`` ``(4H, H)``, ``bias_ih`` and ``bias_hh`` ``(4H,)``), so ``copy_lstm_weights``
moves weights between these classes and ``nn.LSTM`` / ``nn.LSTMCell`` in either direction.
"""

from __future__ import annotations

import math

import torch
from torch import nn

State = tuple[torch.Tensor, torch.Tensor]


class LSTMCell(nn.Module):
    """One LSTM step: ``(x, (h, c)) -> (h', c')``, computing what ``nn.LSTMCell`` computes."""

    def __init__(self, input_size: int, hidden_size: int):
        super().__init__()
        self.input_size, self.hidden_size = input_size, hidden_size
        self.weight_ih = nn.Parameter(torch.empty(4 * hidden_size, input_size))
        self.weight_hh = nn.Parameter(torch.empty(4 * hidden_size, hidden_size))
        self.bias_ih = nn.Parameter(torch.empty(4 * hidden_size))
        self.bias_hh = nn.Parameter(torch.empty(4 * hidden_size))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Uniform in +-1/sqrt(hidden_size), as PyTorch initialises its LSTMs."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            nn.init.uniform_(p, -bound, bound)

    def forward(self, x: torch.Tensor, state: State | None = None) -> State:
        """x ``(batch, input_size)``; state ``(h, c)`` each ``(batch, hidden)``, zeros if None.

        Returns the new ``(h, c)``, each ``(batch, hidden_size)``.
        """
        if x.dim() != 2 or x.shape[-1] != self.input_size:
            raise ValueError(
                f"LSTMCell expects x of shape (batch, {self.input_size}), got {tuple(x.shape)}; "
                "for a whole sequence use LSTM."
            )
        if state is None:
            zeros = x.new_zeros(x.shape[0], self.hidden_size)
            state = (zeros, zeros)
        h, c = state
        i, f, g, o = lstm_gates(self, x, h)
        c_new = f * c + i * g
        h_new = o * torch.tanh(c_new)
        return h_new, c_new


def lstm_gates(cell: nn.Module, x: torch.Tensor, h: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """The activated gates ``(i, f, g, o)``, each ``(batch, hidden)``, of one LSTM step.

    ``cell`` holds ``nn.LSTMCell``'s parameters; x ``(batch, input)``, h ``(batch, hidden)``.
    """
    gates = x @ cell.weight_ih.T + cell.bias_ih + h @ cell.weight_hh.T + cell.bias_hh
    i, f, g, o = gates.chunk(4, dim=-1)
    return torch.sigmoid(i), torch.sigmoid(f), torch.tanh(g), torch.sigmoid(o)


class LSTM(nn.Module):
    """A one-layer, batch-first LSTM built on :class:`LSTMCell`, with ``nn.LSTM``'s interface.

    ``forward(x, (h0, c0))``: x ``(batch, seq, input_size)``, h0/c0 ``(1, batch, hidden)``.
    Returns ``output`` ``(batch, seq, hidden)`` (h at every step) and ``(h_n, c_n)`` each
    ``(1, batch, hidden)``, like ``nn.LSTM(..., batch_first=True)``.
    """

    batch_first = True
    num_layers = 1

    def __init__(self, input_size: int, hidden_size: int):
        super().__init__()
        self.input_size, self.hidden_size = input_size, hidden_size
        self.cell = LSTMCell(input_size, hidden_size)

    def forward(self, x: torch.Tensor, state: State | None = None) -> tuple[torch.Tensor, State]:
        if x.dim() != 3 or x.shape[-1] != self.input_size:
            raise ValueError(
                f"LSTM expects x of shape (batch, seq, {self.input_size}), got {tuple(x.shape)}"
            )
        step_state = None if state is None else (state[0][0], state[1][0])
        outputs = []
        for t in range(x.shape[1]):
            step_state = self.cell(x[:, t], step_state)
            outputs.append(step_state[0])
        h, c = step_state
        return torch.stack(outputs, dim=1), (h[None], c[None])


_NAMES = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")


def _lstm_params(module: nn.Module) -> dict[str, nn.Parameter]:
    """The four tensors of a one-layer LSTM, keyed like ``nn.LSTMCell``."""
    if isinstance(module, LSTM):
        module = module.cell
    if isinstance(module, nn.LSTM):
        if module.num_layers != 1 or module.bidirectional or module.proj_size:
            raise ValueError("copy_lstm_weights handles one-layer, one-direction nn.LSTM only.")
        if not module.bias:
            raise ValueError("copy_lstm_weights needs an nn.LSTM with bias=True.")
        return {name: getattr(module, f"{name}_l0") for name in _NAMES}
    if all(isinstance(getattr(module, name, None), torch.Tensor) for name in _NAMES):
        return {name: getattr(module, name) for name in _NAMES}  # LSTMCell, nn.LSTMCell, alike
    raise TypeError(
        f"copy_lstm_weights works with LSTMCell, LSTM, nn.LSTMCell, nn.LSTM and any module "
        f"with nn.LSTMCell's parameters {_NAMES}, not {type(module).__name__}."
    )


@torch.no_grad()
def copy_lstm_weights(source: nn.Module, target: nn.Module) -> nn.Module:
    """Copy the weights of one LSTM into another (ours or PyTorch's, in either direction).

    Both must have the same input and hidden sizes. Returns ``target``.
    """
    src, dst = _lstm_params(source), _lstm_params(target)
    for name in _NAMES:
        if src[name].shape != dst[name].shape:
            raise ValueError(
                f"{name}: source shape {tuple(src[name].shape)} != target shape "
                f"{tuple(dst[name].shape)}; build both with the same input and hidden sizes."
            )
        dst[name].copy_(src[name])
    return target


def cell_state_gradient(
    cell: nn.Module, x: torch.Tensor, state: State, v: torch.Tensor
) -> torch.Tensor:
    """Hand-derived ``dL/dc`` for ``L = sum(v * h')`` after one step ``(h', c') = cell(x, (h, c))``.

    With ``h' = o * tanh(c')`` and ``c' = f * c + i * g`` (the gates do not depend on c):

        dL/dc = v * o * (1 - tanh(c')^2) * f

    The forget gate ``f`` is the factor the error is multiplied by on its way back through
    the cell state: near 1, it flows back unchanged. All tensors ``(batch, hidden)``; ``cell``
    has ``nn.LSTMCell``'s parameters.
    """
    h, c = state
    i, f, g, o = lstm_gates(cell, x, h)
    c_new = f * c + i * g
    return v * o * (1 - torch.tanh(c_new) ** 2) * f
