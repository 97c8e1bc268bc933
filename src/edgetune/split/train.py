"""Plain (unsplit) training helpers: evaluation, one epoch, cloud pre-training, fine-tuning loss curves.

Split training (:mod:`edgetune.split.splitrun`) computes the same gradients as these loops (tested), so
the estimators record their loss curves with the cheaper unsplit loop.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

LEARNING_RATE = 2e-3
"""Adam learning rate used for pre-training and fine-tuning."""


def make_optimizer(params: object, lr: float = LEARNING_RATE) -> torch.optim.Optimizer:
    """Adam with the package's default learning rate."""
    return torch.optim.Adam(params, lr=lr)  # type: ignore[arg-type]


def batches(rng: np.random.Generator, n: int, batch_size: int) -> list[np.ndarray]:
    """A random permutation of ``range(n)`` cut into batches (last one may be short)."""
    order = rng.permutation(n)
    return [order[i : i + batch_size] for i in range(0, n, batch_size)]


@torch.no_grad()
def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int = 512) -> tuple[float, float]:
    """Mean cross-entropy loss and accuracy of ``model`` on ``(x, y)`` in eval mode."""
    was_training = model.training
    model.eval()
    total, correct = 0.0, 0
    for i in range(0, len(y), batch_size):
        out = model(x[i : i + batch_size])
        total += float(F.cross_entropy(out, y[i : i + batch_size], reduction="sum"))
        correct += int((out.argmax(1) == y[i : i + batch_size]).sum())
    model.train(was_training)
    return total / len(y), correct / len(y)


def train_epoch(
    model: nn.Module,
    opt: torch.optim.Optimizer,
    x: torch.Tensor,
    y: torch.Tensor,
    batch_size: int,
    rng: np.random.Generator,
) -> float:
    """One epoch of unsplit training; returns the mean training loss."""
    model.train()
    losses = []
    for idx in batches(rng, len(y), batch_size):
        ib = torch.as_tensor(idx)
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(x[ib]), y[ib])
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    return float(np.mean(losses))


def fit(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    epochs: int,
    rng: np.random.Generator,
    batch_size: int = 64,
    lr: float = LEARNING_RATE,
) -> list[float]:
    """Train ``model`` for ``epochs`` epochs (used for the cloud's pre-training); returns epoch losses."""
    opt = make_optimizer(model.parameters(), lr)
    return [train_epoch(model, opt, x, y, batch_size, rng) for _ in range(epochs)]
