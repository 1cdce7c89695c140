"""Checker for Module 5's LoRA exercise: ``LoRALinear(base, r, alpha)`` and its ``merged()``.

The learner's layer wraps a random ``nn.Linear``; the checker checks the shapes of ``lora_A``
``(r, in)`` and ``lora_B`` ``(out, r)``, that the wrapped layer equals the base at
initialisation, that only A and B train, then sets A and B to random values and compares the
output and the merged layer with the reference formula, naming the typical mistakes.
"""

from __future__ import annotations

import torch
from torch import nn

from course_lib.checkers.core import checker, expect_shape
from course_lib.checkers.mistakes import expect_close_or_explain, own_rng


def _require(layer: nn.Module, names: tuple[str, ...]) -> None:
    missing = [n for n in names if not hasattr(layer, n)]
    if missing:
        raise AssertionError(
            f"your LoRALinear has no attribute {', '.join(missing)}: keep the wrapped layer as "
            "`base` and the two matrices as `lora_A` and `lora_B` (the names peft uses)."
        )


@checker
@own_rng
def check_lora_linear(LoRALinear) -> None:
    """``LoRALinear(base, r, alpha)``: base(x) + (alpha / r) x A^T B^T, only A and B trainable."""
    for seed, (d_in, d_out, r, alpha) in enumerate([(12, 10, 4, 8.0), (16, 6, 2, 16.0),
                                                    (8, 8, 8, 4.0)]):
        torch.manual_seed(seed)
        base = nn.Linear(d_in, d_out)
        original = base.weight.detach().clone()
        layer = LoRALinear(base, r=r, alpha=alpha)
        _require(layer, ("base", "lora_A", "lora_B"))
        expect_shape(layer.lora_A, (r, d_in), f"lora_A (r={r}, in_features={d_in})")
        expect_shape(layer.lora_B, (d_out, r), f"lora_B (out_features={d_out}, r={r})")
        x = torch.randn(3, 5, d_in)
        with torch.no_grad():
            expect_close_or_explain(
                layer(x), base(x), "LoRALinear(x) at initialisation",
                hint="initialise lora_B with zeros (and lora_A randomly): then B A = 0 and the "
                     "wrapped layer starts as exactly the pre-trained one.",
            )
        trainable = {n for n, p in layer.named_parameters() if p.requires_grad}
        if any(p.requires_grad for p in layer.base.parameters()):
            raise AssertionError(
                "the base layer's weight or bias is trainable: freeze it with "
                "requires_grad_(False); only lora_A and lora_B should train."
            )
        if not {"lora_A", "lora_B"} <= trainable:
            raise AssertionError(
                f"trainable parameters are {sorted(trainable)}: make lora_A and lora_B "
                "nn.Parameters (trainable)."
            )
        with torch.no_grad():
            layer.lora_A.copy_(torch.randn(r, d_in))
            layer.lora_B.copy_(torch.randn(d_out, r))
            A, B = layer.lora_A.detach().clone(), layer.lora_B.detach().clone()
            update = x @ A.T @ B.T
            expect_close_or_explain(
                layer(x), base(x) + alpha / r * update, f"LoRALinear(x) with r={r}, alpha={alpha}",
                {
                    "scale the update by alpha / r, not by alpha.": base(x) + alpha * update,
                    "scale the update by alpha / r (you have r / alpha).":
                        base(x) + r / alpha * update,
                    "the update needs the scaling alpha / r.": base(x) + update,
                    "add the base layer's output: LoRA learns a change to W, the frozen "
                    "base(x) stays.": alpha / r * update,
                },
                atol=1e-4,
            )
            out = layer(x)
            merged = layer.merged()
            if not isinstance(merged, nn.Linear):
                raise AssertionError(f"merged() should return an nn.Linear, got "
                                     f"{type(merged).__name__}.")
            expect_close_or_explain(
                merged(x), out, "merged()(x)",
                {
                    "the merged weight is W + (alpha / r) B A: you forgot the scaling.":
                        base(x) + update,
                    "keep the bias in the merged layer.": out - base.bias,
                },
                atol=1e-4,
            )
            if not torch.equal(layer.base.weight, original):
                raise AssertionError(
                    "merged() changed the base layer's weight in place: build a new nn.Linear "
                    "(the unmerged layer must still compute base(x) + update)."
                )
