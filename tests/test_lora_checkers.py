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
        ({"b_init_zero": False}, "lora_B is not zero at initialisation"),
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


# ------------------------------------------------------------------ held against many seeds

SEEDS = [0, *range(100, 120)]  # the default seed and 20 others


class MergedOnTheFly(nn.Module):
    """Correct, written differently: forward builds W + s B A with autograd, merged() copies
    the base."""

    def __init__(self, base, r, alpha):
        super().__init__()
        self.base, self.s = base, alpha / r
        for p in base.parameters():
            p.requires_grad = False
        self.lora_A = nn.Parameter(nn.init.uniform_(torch.empty(r, base.in_features), -0.3, 0.3))
        self.lora_B = nn.Parameter(torch.zeros(base.out_features, r))

    def forward(self, x):
        weight = self.base.weight + self.s * self.lora_B @ self.lora_A
        return nn.functional.linear(x, weight, self.base.bias)

    def merged(self):
        import copy

        out = copy.deepcopy(self.base)
        with torch.no_grad():
            out.weight += self.s * self.lora_B @ self.lora_A
        return out


class BothZero(Learner):
    def __init__(self, base, r, alpha):
        super().__init__(base, r, alpha)
        self.lora_A = nn.Parameter(torch.zeros(r, base.in_features))


class Opposite(Learner):
    """A zero, B random: the opposite of the paper and peft."""

    def __init__(self, base, r, alpha):
        super().__init__(base, r, alpha)
        self.lora_A = nn.Parameter(torch.zeros(r, base.in_features))
        self.lora_B = nn.Parameter(torch.randn(base.out_features, r))


class ConstantA(Learner):
    def __init__(self, base, r, alpha):
        super().__init__(base, r, alpha)
        self.lora_A = nn.Parameter(torch.full((r, base.in_features), 0.1))


class BranchUnderNoGrad(Learner):
    def forward(self, x):
        with torch.no_grad():
            update = x @ self.lora_A.T @ self.lora_B.T
        return self.base(x) + self.s * update


class DetachedA(Learner):
    def forward(self, x):
        return self.base(x) + self.s * (x @ self.lora_A.detach().T @ self.lora_B.T)


class ForwardCallsMerged(Learner):
    @torch.no_grad()
    def merged(self):
        return super().merged()

    def forward(self, x):
        return self.merged()(x)


class NoBase(Learner):
    def forward(self, x):
        return self.s * (x @ self.lora_A.T @ self.lora_B.T)


class IntegerScale(Learner):
    def __init__(self, base, r, alpha):
        super().__init__(base, r, alpha)
        self.s = alpha // r


def test_lora_checker_holds_over_many_seeds():
    for right in (LoRALinear, Learner, MergedOnTheFly):
        for seed in SEEDS:
            assert check_lora_linear(right, seed=seed), f"{right.__name__} rejected at {seed}"
    for wrong, hint in [
        (BothZero, "both start at zero"),
        (Opposite, "the other way round"),
        (ConstantA, "the same number"),
        (with_mistake(b_init_zero=False), "lora_B is not zero"),
        (BranchUnderNoGrad, "does not require grad"),
        (DetachedA, "no gradient reached lora_A"),
        (ForwardCallsMerged, "forward calls merged"),
        (NoBase, "base layer's output is missing"),
        (IntegerScale, "integer division"),
        (with_mistake(scale="alpha"), "not by alpha"),
        (with_mistake(freeze=False), "freeze it"),
    ]:
        for seed in SEEDS:
            with pytest.raises(CheckFailed, match=hint):
                check_lora_linear(wrong, seed=seed)
