"""Module 5: LoRA from scratch, a frozen linear layer plus a trainable low-rank update.

``LoRALinear(base, r, alpha)`` computes ``base(x) + (alpha / r) * x A^T B^T`` with ``A`` of
shape ``(r, in_features)`` (random) and ``B`` of shape ``(out_features, r)`` (zeros), so at
initialisation it equals ``base`` exactly. Only ``A`` and ``B`` train. The parameters are
named and shaped like ``peft``'s (``lora_A.weight`` is our ``lora_A``), so A/B copy across.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterable

import torch
from torch import nn


class LoRALinear(nn.Module):
    """Frozen ``nn.Linear`` +  a rank-``r`` update: (..., in_features) -> (..., out_features)."""

    def __init__(self, base: nn.Linear, r: int = 8, alpha: float = 16.0, dropout: float = 0.0):
        super().__init__()
        if not isinstance(base, nn.Linear):
            raise TypeError(f"LoRALinear wraps an nn.Linear, got {type(base).__name__}.")
        if r < 1:
            raise ValueError(f"the rank r must be >= 1, got {r}.")
        self.base = base
        for p in self.base.parameters():
            p.requires_grad_(False)
        self.r, self.alpha, self.scaling = r, alpha, alpha / r
        self.lora_A = nn.Parameter(torch.empty(r, base.in_features))  # (r, in)
        self.lora_B = nn.Parameter(torch.zeros(base.out_features, r))  # (out, r)
        nn.init.kaiming_uniform_(self.lora_A, a=math.sqrt(5))  # peft's default init of A
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        update = self.dropout(x) @ self.lora_A.T @ self.lora_B.T
        return self.base(x) + self.scaling * update

    @torch.no_grad()
    def merged(self) -> nn.Linear:
        """A plain ``nn.Linear`` with weight ``W + (alpha / r) B A``: same outputs."""
        out = nn.Linear(self.base.in_features, self.base.out_features, self.base.bias is not None)
        out = out.to(self.base.weight.device, self.base.weight.dtype)
        out.weight.copy_(self.base.weight + self.scaling * self.lora_B @ self.lora_A)
        if self.base.bias is not None:
            out.bias.copy_(self.base.bias)
        return out


QUERY_VALUE_NAMES = (("query", "value"), ("q_lin", "v_lin"), ("q_proj", "v_proj"), ("q", "v"))
"""How model families name their query and value projections: BERT, DistilBERT, BART/OPT, T5."""


def query_value_names(model: nn.Module) -> tuple[str, str]:
    """The names of ``model``'s query and value projections, e.g. ``("query", "value")``."""
    names = {name.split(".")[-1] for name, m in model.named_modules() if isinstance(m, nn.Linear)}
    for pair in QUERY_VALUE_NAMES:
        if set(pair) <= names:
            return pair
    raise ValueError(
        f"no known query/value projection names in this model (tried {QUERY_VALUE_NAMES}); "
        "print(model) and pass its names to inject_lora(target_modules=...)."
    )


def inject_lora(
    model: nn.Module,
    target_modules: Iterable[str] = ("query", "value"),
    r: int = 8,
    alpha: float = 16.0,
    dropout: float = 0.0,
    trainable_modules: Iterable[str] = ("classifier",),
) -> list[str]:
    """Wrap every ``nn.Linear`` whose name ends in one of ``target_modules`` in a LoRALinear.

    Everything else is frozen, except modules whose name *ends with* one of
    ``trainable_modules`` (the new classification head), matched by suffix as ``peft``'s
    ``modules_to_save`` is: DistilBERT's new ``pre_classifier`` trains with its ``classifier``,
    so both count the same trainable weights. Returns the names of the wrapped layers; fails
    when none matches.
    """
    targets, keep = tuple(target_modules), tuple(trainable_modules)
    for p in model.parameters():
        p.requires_grad_(False)
    wrapped = []
    for name, module in list(model.named_modules()):
        if isinstance(module, nn.Linear) and name.split(".")[-1] in targets:
            parent_name, _, child = name.rpartition(".")
            parent = model.get_submodule(parent_name)
            setattr(parent, child, LoRALinear(module, r, alpha, dropout).to(module.weight.device))
            wrapped.append(name)
    if not wrapped:
        raise ValueError(
            f"no nn.Linear named {targets} in the model; print(model) shows its layer names."
        )
    for name, module in model.named_modules():
        if name and name.endswith(keep):
            for p in module.parameters():
                p.requires_grad_(True)
    return wrapped


def merge_lora(model: nn.Module) -> nn.Module:
    """A new model with every LoRA adapter folded into its base weights (``W + (alpha/r) B A``),
    so inference pays nothing for it; ``model`` is left as it was. Takes the course's
    ``LoRALinear`` layers (Module 5) and a peft model (``get_peft_model``, Module 6) alike."""
    if hasattr(model, "merge_and_unload"):  # peft's own merge
        return copy.deepcopy(model).merge_and_unload()
    if not any(isinstance(m, LoRALinear) for m in model.modules()):
        raise TypeError(
            f"{type(model).__name__} has no LoRA adapter to merge (expected LoRALinear layers "
            "or a peft model, from get_peft_model)."
        )
    merged = copy.deepcopy(model)
    for name, module in list(merged.named_modules()):
        if isinstance(module, LoRALinear):
            parent_name, _, child = name.rpartition(".")
            setattr(merged.get_submodule(parent_name), child, module.merged())
    return merged


def lora_state_dict(model: nn.Module) -> dict[str, torch.Tensor]:
    """Only the trainable tensors (LoRA A/B and the head): what an adapter file holds."""
    return {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}


def count_trainable(model: nn.Module) -> tuple[int, int]:
    """``(trainable, total)`` parameter counts."""
    params = list(model.parameters())
    return sum(p.numel() for p in params if p.requires_grad), sum(p.numel() for p in params)


@torch.no_grad()
def copy_lora_from_peft(model: nn.Module, peft_model: nn.Module) -> int:
    """Copy peft's ``lora_A``/``lora_B`` weights into the same-named LoRALinear layers.

    Returns how many layers were copied; fails when a layer has no partner.
    """
    theirs = {
        name.replace("base_model.model.", "", 1): module
        for name, module in peft_model.named_modules()
        if hasattr(module, "lora_A") and isinstance(module.lora_A, nn.ModuleDict)
    }
    copied = 0
    for name, module in model.named_modules():
        if isinstance(module, LoRALinear):
            if name not in theirs:
                raise KeyError(f"peft model has no LoRA layer {name}; it has {sorted(theirs)}.")
            adapter = next(iter(theirs[name].lora_A))
            module.lora_A.copy_(theirs[name].lora_A[adapter].weight)
            module.lora_B.copy_(theirs[name].lora_B[adapter].weight)
            copied += 1
    return copied
