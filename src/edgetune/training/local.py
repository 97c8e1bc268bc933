"""What one node does in one epoch: real forward/backward on its partition.

* :func:`local_gradient` (FedSGD, Algorithm 1 line 6): the gradient of the mean cross-entropy over
  the node's whole partition at the current global weights (accumulated over micro-batches; weights
  are not changed).
* :func:`local_steps` (FedAvg): ``steps`` optimiser steps on mini-batches of the partition starting
  from the global weights; returns the model delta ``start - end`` (weights are restored).

**Precision.** A model may carry a compute precision (:func:`set_precision`): ``bf16`` runs forward
and backward under ``torch.autocast("cpu", bfloat16)`` (weights, gradients and optimiser state stay
float32); ``fp32`` (the default) runs plain float32. SmolLM2-135M uses ``bf16``: on a CPU with AMX /
AVX-512-BF16 it trains ~1.4x more tokens per CPU second with the same loss within noise
(``bench/bench_llm.py``, docs/training.md). The small GPT-2 presets stay float32, which the exact
FedSGD-equivalence test needs.

Both return the node's *measured compute time*: the process CPU time spent in forward/backward (and
the local optimiser steps) only. CPU time rather than wall time, so that other processes sharing
the host do not slow a virtual node down; serialisation, accumulation and bookkeeping are left out
(they are the engine's overhead, see ``bench/bench_training.py``).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from edgetune.training.partition import IntArray


@dataclass
class LocalResult:
    """One node's reply: the update tensors (gradient or delta), tokens seen, compute seconds."""

    update: list[torch.Tensor]
    n_tokens: int
    compute_s: float
    train_loss: float


def trainable(model: Any) -> list[tuple[str, torch.nn.Parameter]]:
    """Named parameters that fine-tuning changes (all of them, or only LoRA adapters)."""
    return [(n, p) for n, p in model.named_parameters() if p.requires_grad]


#: Compute precisions a model can carry.
PRECISIONS: tuple[str, ...] = ("fp32", "bf16")
_PRECISION_ATTR = "edgetune_precision"


def set_precision(model: Any, precision: str) -> Any:
    """Mark ``model`` to compute in ``precision`` (``fp32`` or ``bf16`` autocast); returns it.

    The mark is an attribute of the module, so it survives ``copy.deepcopy`` and is visible through
    a ``peft`` wrapper.
    """
    if precision not in PRECISIONS:
        from edgetune.errors import InputError

        raise InputError("precision", precision, f"choose from {', '.join(PRECISIONS)}")
    object.__setattr__(model, _PRECISION_ATTR, precision)
    return model


def precision_of(model: Any) -> str:
    """The precision ``model`` computes in (``fp32`` unless :func:`set_precision` said otherwise)."""
    try:
        return str(getattr(model, _PRECISION_ATTR))
    except AttributeError:
        return "fp32"


@contextlib.contextmanager
def compute_precision(model: Any) -> Iterator[None]:
    """Autocast to bfloat16 on the CPU when ``model`` computes in ``bf16``; nothing otherwise."""
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision_of(model) == "bf16"):
        yield


def lm_loss(model: Any, blocks: torch.Tensor) -> torch.Tensor:
    """Mean next-token cross-entropy over every predicted token of ``blocks`` (shape (b, L))."""
    with compute_precision(model):
        out = model(input_ids=blocks, labels=blocks, use_cache=False)
    loss: torch.Tensor = out.loss
    return loss


def _as_tensor(blocks: IntArray | torch.Tensor) -> torch.Tensor:
    return blocks if isinstance(blocks, torch.Tensor) else torch.from_numpy(np.ascontiguousarray(blocks))


def local_gradient(
    model: Any, params: Sequence[torch.nn.Parameter], blocks: IntArray | torch.Tensor, micro_batch: int = 16
) -> LocalResult:
    """Gradient of the mean loss over all ``blocks`` w.r.t. ``params`` (equal-length blocks).

    Each micro-batch's mean loss is weighted by its share of the blocks, so the accumulated gradient
    is exactly the gradient of the mean over all blocks.
    """
    data = _as_tensor(blocks)
    n = int(data.shape[0])
    for p in params:
        p.grad = None
    total = 0.0
    t0 = time.process_time()
    for lo in range(0, n, micro_batch):
        mb = data[lo : lo + micro_batch]
        loss = lm_loss(model, mb) * (mb.shape[0] / n)
        loss.backward()
        total += float(loss.detach())
    compute_s = time.process_time() - t0
    grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in params]
    for p in params:
        p.grad = None
    return LocalResult(update=grads, n_tokens=n * int(data.shape[1]), compute_s=compute_s, train_loss=total)


def local_steps(
    model: Any,
    params: Sequence[torch.nn.Parameter],
    blocks: IntArray | torch.Tensor,
    steps: int,
    make_optimizer: Any,
    rng: np.random.Generator,
    micro_batch: int = 16,
) -> LocalResult:
    """``steps`` optimiser steps on random mini-batches of ``blocks``; returns ``start - end``.

    ``make_optimizer(params)`` builds the node's local optimiser (fresh state every epoch). The
    model's weights are put back to ``start`` before returning.
    """
    data = _as_tensor(blocks)
    n = int(data.shape[0])
    start = [p.detach().clone() for p in params]
    opt = make_optimizer(list(params))
    seen, total = 0, 0.0
    t0 = time.process_time()
    for _ in range(steps):
        pick = torch.from_numpy(rng.choice(n, size=min(micro_batch, n), replace=False))
        mb = data[pick]
        opt.zero_grad(set_to_none=True)
        loss = lm_loss(model, mb)
        loss.backward()
        opt.step()
        seen += int(mb.numel())
        total += float(loss.detach())
    compute_s = time.process_time() - t0
    with torch.no_grad():
        delta = [s - p.detach() for s, p in zip(start, params, strict=True)]
        for s, p in zip(start, params, strict=True):
            p.copy_(s)
            p.grad = None
    return LocalResult(update=delta, n_tokens=seen, compute_s=compute_s, train_loss=total / max(steps, 1))


@torch.no_grad()
def mean_loss(model: Any, blocks: IntArray | torch.Tensor, micro_batch: int = 64) -> float:
    """Mean cross-entropy over all ``blocks`` (evaluation; no gradients)."""
    data = _as_tensor(blocks)
    n = int(data.shape[0])
    was_training = model.training
    model.eval()
    total = 0.0
    for lo in range(0, n, micro_batch):
        mb = data[lo : lo + micro_batch]
        total += float(lm_loss(model, mb)) * mb.shape[0] / n
    model.train(was_training)
    return total
