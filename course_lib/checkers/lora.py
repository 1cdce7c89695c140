"""Checker for Module 5's LoRA exercise: ``LoRALinear(base, r, alpha)`` and its ``merged()``.

The learner's layer wraps a random ``nn.Linear``; the checker checks the shapes of ``lora_A``
``(r, in)`` and ``lora_B`` ``(out, r)``, that the wrapped layer equals the base at
initialisation, that only A and B train, then sets A and B to random values and compares the
output and the merged layer with the reference formula, naming the typical mistakes.
"""

from __future__ import annotations

import torch
from torch import nn

from course_lib.checkers.core import case, checker, expect_shape
from course_lib.checkers.mistakes import expect_close_or_explain, own_rng, seed_cpu


def _require(layer: nn.Module, names: tuple[str, ...]) -> None:
    missing = [n for n in names if not hasattr(layer, n)]
    if missing:
        raise AssertionError(
            f"your LoRALinear has no attribute {', '.join(missing)}: keep the wrapped layer as "
            "`base` and the two matrices as `lora_A` and `lora_B` (the names peft uses)."
        )


def _expect_initial_values(layer: nn.Module, base: nn.Linear, x: torch.Tensor) -> None:
    """B starts at zero, A random (as in the paper and peft), so the layer starts as base."""
    A, B = layer.lora_A.detach(), layer.lora_B.detach()
    a_zero, b_zero = not A.any(), not B.any()
    if a_zero and not b_zero:
        raise AssertionError(
            "lora_A starts at zero and lora_B random: the other way round. The paper and peft "
            "start lora_B at zero (so B A = 0) and lora_A random (e.g. nn.init.kaiming_uniform_"
            "(lora_A, a=math.sqrt(5)))."
        )
    if a_zero:
        raise AssertionError(
            "lora_A and lora_B both start at zero: then the gradients of both are zero and "
            "LoRA never learns. Start lora_A random (e.g. nn.init.kaiming_uniform_(lora_A, "
            "a=math.sqrt(5)), as peft does) and lora_B at zero."
        )
    if not b_zero:
        raise AssertionError(
            f"lora_B is not zero at initialisation (largest entry {B.abs().max():.3g}): "
            "initialise it with zeros (and lora_A randomly), so that B A = 0 and the wrapped "
            "layer starts as exactly the pre-trained one."
        )
    if bool((A == A.flatten()[0]).all()):
        raise AssertionError(
            "every entry of lora_A is the same number: start it random (e.g. "
            "nn.init.kaiming_uniform_(lora_A, a=math.sqrt(5))), or the r directions stay "
            "identical."
        )
    with torch.no_grad():
        expect_close_or_explain(
            layer(x),
            base(x),
            "LoRALinear(x) at initialisation (lora_B = 0)",
            {
                "the base layer's output is missing: return base(x) + (alpha / r) x A^T B^T; "
                "LoRA learns a change to W, the frozen base(x) stays.": torch.zeros_like(base(x))
            },
            hint="with lora_B = 0 the update is zero, so the output must be base(x) exactly.",
        )


def _expect_gradients(layer: nn.Module, x: torch.Tensor, r: int, alpha: float) -> None:
    """Gradients reach lora_A and lora_B (the branch is differentiable), not the base."""
    calls = []
    merged = layer.merged
    layer.merged = lambda: calls.append(1) or merged()  # counts calls made by forward
    try:
        with case("LoRALinear(x) with gradients on"):
            out = layer(x)
    finally:
        del layer.merged
    if calls:
        raise AssertionError(
            "forward calls merged(): the merged nn.Linear is built without autograd, so "
            "lora_A and lora_B would get no gradient. In forward compute base(x) + (alpha / r) "
            "x A^T B^T; merged() is for inference after training."
        )
    if not isinstance(out, torch.Tensor) or not out.requires_grad:
        raise AssertionError(
            "LoRALinear(x) does not require grad: the low-rank branch is cut off from autograd "
            "(torch.no_grad(), .detach() or .data). Compute x A^T B^T with the parameters "
            "lora_A and lora_B themselves."
        )
    layer.zero_grad()
    out.pow(2).sum().backward()
    for name in ("lora_A", "lora_B"):
        grad = getattr(layer, name).grad
        if grad is not None and not grad.any():
            raise AssertionError(
                f"the gradient of {name} is zero: the update is multiplied by 0. Scale it by "
                f"alpha / r = {alpha / r:g}: alpha // r is integer division and rounds it "
                f"down ({alpha:g} // {r} = {alpha // r:g})."
            )
        if grad is None:
            raise AssertionError(
                f"no gradient reached {name}: the low-rank branch must be computed from "
                "lora_A and lora_B with torch operations (no torch.no_grad(), .detach(), .data "
                "or merged() in forward)."
            )


# (in_features, out_features, r, alpha): alpha / r of 2, 8, 0.5 and 2.5 (not an integer)
_CONFIGS = ((12, 10, 4, 8.0), (16, 6, 2, 16.0), (8, 8, 8, 4.0), (10, 7, 4, 10.0))


@checker
@own_rng
def check_lora_linear(LoRALinear, seed: int = 0) -> None:
    """``LoRALinear(base, r, alpha)``: base(x) + (alpha / r) x A^T B^T, only A and B trainable.

    Checks how A and B start (B zero, A random), that gradients reach A and B and not the
    frozen base, the output with random A and B, and ``merged()``."""
    for i, (d_in, d_out, r, alpha) in enumerate(_CONFIGS):
        seed_cpu(seed + i)
        base = nn.Linear(d_in, d_out)
        original = base.weight.detach().clone()
        with case(f"LoRALinear(nn.Linear({d_in}, {d_out}), r={r}, alpha={alpha})"):
            layer = LoRALinear(base, r=r, alpha=alpha)
        _require(layer, ("base", "lora_A", "lora_B", "merged"))
        expect_shape(layer.lora_A, (r, d_in), f"lora_A (r={r}, in_features={d_in})")
        expect_shape(layer.lora_B, (d_out, r), f"lora_B (out_features={d_out}, r={r})")
        x = torch.randn(3, 5, d_in)
        _expect_initial_values(layer, base, x)
        if any(p.requires_grad for p in layer.base.parameters()):
            raise AssertionError(
                "the base layer's weight or bias is trainable: freeze it with "
                "requires_grad_(False); only lora_A and lora_B should train."
            )
        trainable = {n for n, p in layer.named_parameters() if p.requires_grad}
        if not {"lora_A", "lora_B"} <= trainable:
            raise AssertionError(
                f"trainable parameters are {sorted(trainable)}: make lora_A and lora_B "
                "nn.Parameters (trainable)."
            )
        with torch.no_grad():
            layer.lora_A.copy_(torch.randn(r, d_in))
            layer.lora_B.copy_(torch.randn(d_out, r))
        _expect_gradients(layer, x, r, alpha)
        with torch.no_grad():
            A, B = layer.lora_A.detach().clone(), layer.lora_B.detach().clone()
            update = x @ A.T @ B.T
            with case(f"LoRALinear(x) with r={r}, alpha={alpha}"):
                out = layer(x)
            mistakes = {
                "scale the update by alpha / r, not by alpha.": base(x) + alpha * update,
                "scale the update by alpha / r (you have r / alpha).": base(x) + r / alpha * update,
                "the update needs the scaling alpha / r.": base(x) + update,
                "add the base layer's output: LoRA learns a change to W, the frozen "
                "base(x) stays.": alpha / r * update,
                "alpha // r is integer division (here 10 // 4 = 2, not 2.5): use alpha / r.": base(
                    x
                )
                + (alpha // r) * update,
            }
            expect_close_or_explain(
                out,
                base(x) + alpha / r * update,
                f"LoRALinear(x) with r={r}, alpha={alpha}",
                mistakes,
                atol=1e-4,
            )
            with case("layer.merged()"):
                merged = layer.merged()
            if not isinstance(merged, nn.Linear):
                raise AssertionError(
                    f"merged() should return an nn.Linear, got {type(merged).__name__}."
                )
            with case("merged()(x)"):
                merged_out = merged(x)
            expect_close_or_explain(
                merged_out,
                out,
                "merged()(x)",
                {
                    "the merged weight is W + (alpha / r) B A: you forgot the scaling.": base(x)
                    + update,
                    "keep the bias in the merged layer.": out - base.bias,
                },
                atol=1e-4,
            )
            if not torch.equal(layer.base.weight, original):
                raise AssertionError(
                    "merged() changed the base layer's weight in place: build a new nn.Linear "
                    "(the unmerged layer must still compute base(x) + update)."
                )
