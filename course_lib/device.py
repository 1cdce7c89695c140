"""Modules 1-5: where and in what precision a training step runs, for ``fit`` and ``train``.

``to_device`` moves a batch; ``autocast`` runs the forward pass in bf16 or fp16; with fp16 a
grad scaler skips a step whose gradients overflow, and ``count_skipped_steps`` stops a run
that only overflows. ``fit`` (training.py) and ``train`` (engine.py) share these.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch

MIXED_PRECISION = ("no", "bf16", "fp16")


def to_device(batch, device: torch.device | str):
    """``batch`` (a tensor, or a dict/list/tuple of them) with every tensor on ``device``."""
    if torch.is_tensor(batch):
        return batch.to(device)
    if isinstance(batch, Mapping):
        return {k: to_device(v, device) for k, v in batch.items()}
    if isinstance(batch, (list, tuple)):
        return type(batch)(to_device(v, device) for v in batch)
    return batch


def check_mixed_precision(mixed_precision: str, device_type: str) -> None:
    """Raise a clear error when ``mixed_precision`` cannot run on ``device_type``."""
    if mixed_precision not in MIXED_PRECISION:
        raise ValueError(
            f"mixed_precision must be one of {MIXED_PRECISION}, got {mixed_precision!r}"
        )
    if mixed_precision == "fp16" and device_type not in ("cuda", "cpu"):
        raise ValueError(
            f"mixed_precision='fp16' (autocast + grad scaler) runs on a CUDA GPU or "
            f"the CPU; on {device_type} use 'bf16' or 'no'."
        )


def _native_bf16(device: torch.device | str) -> bool:
    """True when ``device`` computes in bfloat16 natively (CPU; CUDA from Ampere on)."""
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported(including_emulation=False)
    return device.type == "cpu"


def safe_mixed_precision(
    requested: str, device: torch.device | str, overflows_in_fp16: bool = False
) -> str:
    """The mixed precision to train with: ``requested``, unless the model is known to
    overflow in fp16 (T5's feed-forward activations exceed fp16's 65,504): then "bf16"
    where ``device`` has it natively (CPU, Ampere+ GPUs; not a T4) and "no" (fp32) where not.

    >>> safe_mixed_precision("fp16", "cpu", overflows_in_fp16=True)
    'bf16'
    """
    check_mixed_precision(requested, torch.device(device).type)
    if requested != "fp16" or not overflows_in_fp16:
        return requested
    return "bf16" if _native_bf16(device) else "no"


def autocast(mixed_precision: str, device_type: str):
    """``torch.autocast`` for ``mixed_precision`` ("no": a context that changes nothing)."""
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(mixed_precision)
    return torch.autocast(device_type, dtype=dtype, enabled=dtype is not None)


MAX_NONFINITE_STEPS = 50  # fp16: consecutive skipped (overflowing) steps before the run stops


def count_skipped_steps(skipped: bool, in_a_row: int, loss: float) -> int:
    """Steps skipped in a row after this one (0 once a step is taken). The fp16 grad scaler
    skips a step whose loss or gradients overflow and halves its scale: a few skips are
    normal, ``MAX_NONFINITE_STEPS`` in a row mean the training diverged: raise then."""
    if not skipped:
        return 0
    in_a_row += 1
    if in_a_row >= MAX_NONFINITE_STEPS:
        raise FloatingPointError(
            f"{in_a_row} optimizer steps in a row were skipped because the loss or the gradients "
            f"were not finite in fp16 (last loss {loss}): the training diverged or the model "
            "overflows in fp16. Train in bf16 or fp32 (safe_mixed_precision(..., "
            "overflows_in_fp16=True)), lower the learning rate, or clip gradients."
        )
    return in_a_row


def check_finite_loss(loss: torch.Tensor, scaled: bool = False) -> None:
    """A scalar loss; finite unless ``scaled`` (the fp16 grad scaler then skips the step)."""
    if loss.dim() != 0:
        raise ValueError(f"loss_fn must return a scalar loss, got shape {tuple(loss.shape)}")
    if not scaled and not torch.isfinite(loss):
        raise FloatingPointError(
            f"training loss became {loss.item()}: lower the learning rate or clip gradients "
            "(clip_grad_norm=1.0)."
        )
