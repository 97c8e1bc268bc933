"""Aggregation at the orchestrator (Algorithm 1 lines 7 and 12-13).

Reading of line 12 (as :mod:`edgetune.orchestrator.loop` states it): the update is the *mean of the
gradients received this epoch* (FedSGD), not the sum divided by the number of nodes left after
line 11. With equal partitions and equal-length blocks, that mean equals the gradient of the loss
over the union of the partitions (centralised SGD, the paper's claim), which
``tests/training/test_aggregate.py`` checks. With unequal partitions (Dirichlet) each gradient is
weighted by the tokens it was computed on, which keeps that equivalence; for equal partitions the
weights are equal and this is the plain mean.

Two aggregators, registered by name:

* ``fedsgd`` (Algorithm 1): nodes return full-partition gradients; the server optimiser takes one
  step with the mean gradient. ``sgd`` is line 13 verbatim (``params -= LR * mean``); ``adam`` is
  the same step direction fed to Adam (beyond the paper; far fewer epochs needed).
* ``fedavg`` (beyond the paper): nodes take ``local_steps`` optimiser steps and return the model
  delta; the server applies the (token-weighted) mean delta, ``params -= mean_delta``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

from edgetune.errors import InputError
from edgetune.training.local import LocalResult, local_gradient, local_steps
from edgetune.training.partition import IntArray

OptimizerFactory = Callable[[list[torch.nn.Parameter], float], torch.optim.Optimizer]

#: Optimisers by name: ``sgd`` is Algorithm 1 line 13; ``adam`` is an adaptive alternative.
OPTIMIZERS: dict[str, OptimizerFactory] = {
    "sgd": lambda params, lr: torch.optim.SGD(params, lr=lr),
    "adam": lambda params, lr: torch.optim.Adam(params, lr=lr),
}


def check_optimizer(name: str) -> None:
    """Raise :class:`InputError` unless ``name`` is in :data:`OPTIMIZERS`."""
    if name not in OPTIMIZERS:
        raise InputError("--optimizer", name, f"unknown optimizer; choose from {', '.join(OPTIMIZERS)}")


def make_optimizer(name: str, params: list[torch.nn.Parameter], lr: float) -> torch.optim.Optimizer:
    """Build an optimiser by name."""
    check_optimizer(name)
    return OPTIMIZERS[name](params, lr)


class GradientSum:
    """Running token-weighted sum of node updates (line 7), without keeping one copy per node."""

    def __init__(self) -> None:
        self.total: list[torch.Tensor] | None = None
        self.weight = 0.0
        self.count = 0

    def add(self, update: Sequence[torch.Tensor], weight: float) -> None:
        """Add ``weight * update``."""
        if self.total is None:
            self.total = [u.detach() * weight for u in update]
        else:
            for t, u in zip(self.total, update, strict=True):
                t.add_(u.detach(), alpha=weight)
        self.weight += weight
        self.count += 1

    def mean(self) -> list[torch.Tensor]:
        """Weighted mean of what was added."""
        if self.total is None or self.weight <= 0:
            raise ValueError("no update was added")
        return [t / self.weight for t in self.total]


def fedsgd_mean(
    updates: Sequence[Sequence[torch.Tensor]], weights: Sequence[float] | None = None
) -> list[torch.Tensor]:
    """Weighted mean of several nodes' updates (equal weights by default)."""
    acc = GradientSum()
    for k, u in enumerate(updates):
        acc.add(u, 1.0 if weights is None else float(weights[k]))
    return acc.mean()


class Aggregator(ABC):
    """How nodes train locally and how the server combines their replies."""

    name: str = "abstract"

    def __init__(self, optimizer: str = "adam", local_steps: int = 1, micro_batch: int = 16) -> None:
        check_optimizer(optimizer)
        if local_steps < 1:
            raise InputError("--local-steps", local_steps, "must be at least 1")
        if micro_batch < 1:
            raise InputError("micro_batch", micro_batch, "must be at least 1")
        self.optimizer = optimizer
        self.local_steps = local_steps
        self.micro_batch = micro_batch
        self._server: torch.optim.Optimizer | None = None

    @abstractmethod
    def local(
        self,
        model: Any,
        params: list[torch.nn.Parameter],
        blocks: IntArray | torch.Tensor,
        lr: float,
        rng: np.random.Generator,
    ) -> LocalResult:
        """One node's work for one epoch."""

    @abstractmethod
    def apply(self, params: list[torch.nn.Parameter], mean_update: list[torch.Tensor], lr: float) -> None:
        """Change the global weights with the averaged update (lines 12-13)."""

    def server_state(self) -> dict[str, Any] | None:
        """The server optimiser's state (checkpoints); ``None`` before its first step."""
        return None if self._server is None else self._server.state_dict()

    def load_server_state(self, params: list[torch.nn.Parameter], lr: float, state: dict[str, Any] | None) -> None:
        """Rebuild the server optimiser over ``params`` with ``state`` (from :meth:`server_state`)."""
        if state is None:
            self._server = None
            return
        self._server = make_optimizer(self.optimizer, params, lr)
        self._server.load_state_dict(state)

    def describe(self) -> dict[str, Any]:
        """For the run record."""
        return {
            "aggregator": self.name,
            "optimizer": self.optimizer,
            "local_steps": self.local_steps,
            "micro_batch": self.micro_batch,
        }


AGGREGATORS: dict[str, type[Aggregator]] = {}


def register_aggregator(cls: type[Aggregator]) -> type[Aggregator]:
    """Class decorator: make an aggregator available under ``cls.name``."""
    AGGREGATORS[cls.name] = cls
    return cls


def make_aggregator(name: str, **kwargs: Any) -> Aggregator:
    """Build a registered aggregator by name."""
    try:
        cls = AGGREGATORS[name]
    except KeyError:
        choices = ", ".join(sorted(AGGREGATORS))
        raise InputError("aggregator", name, f"unknown aggregator; choose from {choices}") from None
    return cls(**kwargs)


@register_aggregator
class FedSGD(Aggregator):
    """Algorithm 1: full-partition gradients, one server optimiser step with their mean."""

    name = "fedsgd"

    def local(
        self,
        model: Any,
        params: list[torch.nn.Parameter],
        blocks: IntArray | torch.Tensor,
        lr: float,
        rng: np.random.Generator,
    ) -> LocalResult:
        """The gradient over the node's partition."""
        return local_gradient(model, params, blocks, self.micro_batch)

    def apply(self, params: list[torch.nn.Parameter], mean_update: list[torch.Tensor], lr: float) -> None:
        """``p.grad = mean``; one step of the server optimiser (state kept across epochs)."""
        if self._server is None:
            self._server = make_optimizer(self.optimizer, params, lr)
        for group in self._server.param_groups:
            group["lr"] = lr
        for p, g in zip(params, mean_update, strict=True):
            p.grad = g
        self._server.step()
        for p in params:
            p.grad = None


@register_aggregator
class FedAvg(Aggregator):
    """``local_steps`` local optimiser steps per node; the server applies the mean model delta."""

    name = "fedavg"

    def local(
        self,
        model: Any,
        params: list[torch.nn.Parameter],
        blocks: IntArray | torch.Tensor,
        lr: float,
        rng: np.random.Generator,
    ) -> LocalResult:
        """Local steps from the global weights; returns ``start - end``."""
        return local_steps(
            model,
            params,
            blocks,
            self.local_steps,
            lambda ps: make_optimizer(self.optimizer, ps, lr),
            rng,
            self.micro_batch,
        )

    @torch.no_grad()
    def apply(self, params: list[torch.nn.Parameter], mean_update: list[torch.Tensor], lr: float) -> None:
        """``params -= mean_delta`` (server learning rate 1)."""
        for p, d in zip(params, mean_update, strict=True):
            p.sub_(d)
