"""LoRA fine-tuning with ``peft``: only the adapter tensors train, travel and get averaged.

With LoRA the base weights are frozen and sent once (with the data partition, Algorithm 1 lines 3-4);
every epoch a node uploads only the gradients (or deltas) of the adapter matrices A and B, and the
orchestrator broadcasts only the updated adapters. :func:`payload_bytes` measures what travels by
serialising the tensors with ``torch.save``.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

#: Adapter targets per architecture (GPT-2 uses ``Conv1D``; Llama uses ``Linear``).
TARGETS: dict[str, tuple[str, ...]] = {
    "gpt2": ("c_attn", "c_proj", "c_fc"),
    "llama": ("q_proj", "k_proj", "v_proj", "o_proj"),
}


@dataclass(frozen=True)
class LoraSettings:
    """Rank, scaling and dropout of the adapters."""

    r: int = 8
    alpha: int = 16
    dropout: float = 0.0


def apply_lora(model: Any, settings: LoraSettings | None = None) -> Any:
    """Wrap ``model`` with LoRA adapters (``peft``); only adapter parameters require gradients."""
    from peft import LoraConfig, get_peft_model

    from edgetune.training.sources import quiet_transformers

    s = settings or LoraSettings()
    arch = str(getattr(model.config, "model_type", "gpt2"))
    cfg = LoraConfig(
        r=s.r,
        lora_alpha=s.alpha,
        lora_dropout=s.dropout,
        target_modules=list(TARGETS.get(arch, TARGETS["llama"])),
        fan_in_fan_out=arch == "gpt2",
        bias="none",
        task_type="CAUSAL_LM",
    )
    with quiet_transformers():
        return get_peft_model(model, cfg)


def is_adapter(name: str) -> bool:
    """Whether a parameter name belongs to a LoRA adapter."""
    return "lora_" in name


_SIZE_CACHE: dict[tuple[tuple[str, tuple[int, ...], str], ...], int] = {}


def payload_bytes(named: Sequence[tuple[str, torch.Tensor]]) -> int:
    """Size in bytes of ``torch.save({name: tensor})``: what a node or the orchestrator sends.

    The size depends only on names, shapes and dtypes, so it is measured once per signature (by
    really serialising the tensors) and cached.
    """
    sig = tuple((n, tuple(t.shape), str(t.dtype)) for n, t in named)
    size = _SIZE_CACHE.get(sig)
    if size is None:
        buf = io.BytesIO()
        torch.save({n: t.detach() for n, t in named}, buf)
        size = len(buf.getbuffer())
        _SIZE_CACHE[sig] = size
    return size
