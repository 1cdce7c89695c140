"""The LoRA checker accepts a differently written LoRALinear and names typical mistakes."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from course_lib.checkers import STUB_MARKER, CheckFailed
from course_lib.checkers.lora import check_lora_linear
from course_lib.lora import LoRALinear


class StubLoRA(nn.Module):
    def __init__(self, *args, **kwargs):
        raise NotImplementedError(STUB_MARKER)


class Learner(nn.Module):
    """A LoRALinear written with einsum and F.linear; class attributes switch on mistakes."""

    b_init_zero = True
    scale = "alpha/r"
    freeze = True
    merge_scaled = True
    merge_in_place = False

    def __init__(self, base: nn.Linear, r: int, alpha: float):
        super().__init__()
        self.base = base
        if self.freeze:
            base.requires_grad_(False)
        self.lora_A = nn.Parameter(torch.randn(r, base.in_features) / math.sqrt(r))
        init = torch.zeros if self.b_init_zero else torch.randn
        self.lora_B = nn.Parameter(init(base.out_features, r))
        self.s = {"alpha/r": alpha / r, "alpha": alpha, "none": 1.0}[self.scale]

    def forward(self, x):
        low = torch.einsum("...i,ri->...r", x, self.lora_A)
        return nn.functional.linear(x, self.base.weight, self.base.bias) + self.s * torch.einsum(
            "...r,or->...o", low, self.lora_B)

    def merged(self):
        delta = self.lora_B @ self.lora_A * (self.s if self.merge_scaled else 1.0)
        if self.merge_in_place:
            self.base.weight += delta
            return self.base
        out = nn.Linear(self.base.in_features, self.base.out_features)
        out.weight.copy_(self.base.weight + delta)
        out.bias.copy_(self.base.bias)
        return out


def with_mistake(**attributes):
    return type("Wrong", (Learner,), attributes)


def test_reference_and_learner_variant_pass_stub_not_attempted(capsys):
    assert check_lora_linear(LoRALinear)
    assert check_lora_linear(Learner)
    assert not check_lora_linear(StubLoRA)
    assert "[not attempted]" in capsys.readouterr().out


@pytest.mark.parametrize(
    "mistake, hint",
    [
        ({"b_init_zero": False}, "initialise lora_B with zeros"),
        ({"scale": "alpha"}, "not by alpha"),
        ({"scale": "none"}, "needs the scaling alpha / r"),
        ({"freeze": False}, "freeze it"),
        ({"merge_scaled": False}, "you forgot the scaling"),
        ({"merge_in_place": True}, "in place"),
    ],
)
def test_typical_mistakes_are_named(mistake, hint):
    with pytest.raises(CheckFailed, match=hint):
        check_lora_linear(with_mistake(**mistake))


def test_swapped_shapes_are_reported():
    class Swapped(Learner):
        def __init__(self, base, r, alpha):
            super().__init__(base, r, alpha)
            self.lora_A = nn.Parameter(torch.zeros(base.in_features, r))

    with pytest.raises(CheckFailed, match=r"lora_A \(r="):
        check_lora_linear(Swapped)
