"""The engine interface: what the orchestrator loop asks of whatever runs the work.

Engines differ in *how* work runs (a virtual-clock simulation, real PyTorch training in this process,
Flower SuperNodes, namespaces of an emulated testbed), never in the algorithm: the orchestrator
(:mod:`edgetune.orchestrator.loop`) decides who trains, scores, eliminates and records.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple

TimeBase = Literal["virtual", "wall"]


class NodeReport(NamedTuple):
    """What one node sent back for one epoch (Algorithm 1 line 6: gradients + training time).

    Immutable; a NamedTuple rather than a frozen dataclass because a 10,000-node epoch builds 10,000.
    """

    node_id: int
    train_time_s: float
    upload_bytes: int
    arrived_s: float
    train_loss: float | None = None  # mean training loss over the node's batch (engines that train)


@dataclass
class RoundResult:
    """One epoch's replies. ``payload`` is engine-private (e.g. the gradients to average)."""

    reports: dict[int, NodeReport]
    failed: dict[int, str] = field(default_factory=dict)
    payload: Any = None


@dataclass(frozen=True)
class Payloads:
    """What the work moves, for selection policies that predict round times (selection.PolicyContext).

    ``data_bytes``: each node's partition; ``update_bytes``: one node's upload per epoch;
    ``broadcast_bytes``: what every node receives after each epoch.
    """

    data_bytes: dict[int, float]
    update_bytes: float
    broadcast_bytes: float


@dataclass(frozen=True)
class NodeUsage:
    """Totals of one node over a run, for the energy model."""

    busy_s: float
    bytes_moved: float


class Engine(ABC):
    """Runs the work of Algorithm 1 for the orchestrator.

    The loop calls, in order: :meth:`evaluate` (PRE_TRAINING_LOSS), :meth:`distribute` (lines 3-4),
    then per epoch :meth:`train_round` (lines 5-7), :meth:`apply_update` (lines 12-14),
    :meth:`evaluate` (line 15) and :meth:`broadcast` (lines 16-17), and finally :meth:`close`.
    """

    name: str = "abstract"
    #: "virtual" when times come from a modelled clock, "wall" when measured on real machines.
    time_base: TimeBase = "virtual"

    @property
    @abstractmethod
    def node_ids(self) -> list[int]:
        """All nodes of the fleet."""

    @abstractmethod
    def now_s(self) -> float:
        """Seconds since the start of distribution (virtual or wall, see :attr:`time_base`)."""

    @abstractmethod
    def distribute(self, node_ids: Sequence[int]) -> None:
        """Send the model and each node's data-set partition (lines 3-4); starts the clock."""

    @abstractmethod
    def train_round(self, epoch: int, active: Sequence[int]) -> RoundResult:
        """Have ``active`` train one epoch; return when every reply is in or has failed (line 6)."""

    @abstractmethod
    def apply_update(self, result: RoundResult, learning_rate: float) -> None:
        """Average the gradients received and take the SGD step (lines 12-14)."""

    @abstractmethod
    def evaluate(self) -> float | None:
        """Validation loss of the global model (line 15), or ``None`` where there is no real model."""

    @abstractmethod
    def broadcast(self, node_ids: Sequence[int]) -> None:
        """Send the updated model to ``node_ids`` (lines 16-17); must not hold up the next epoch."""

    @abstractmethod
    def usage(self) -> dict[int, NodeUsage]:
        """Busy time and bytes moved per node so far."""

    def payloads(self) -> Payloads | None:
        """Partition, update and broadcast sizes, or ``None`` where the engine does not know them."""
        return None

    def describe(self) -> dict[str, Any]:
        """The engine's part of the run record's ``config``."""
        return {"engine": self.name, "time_base": self.time_base}

    def close(self) -> None:  # noqa: B027  (optional hook)
        """Release processes, sockets, threads."""


ENGINES: dict[str, type[Engine]] = {}


def register_engine(cls: type[Engine]) -> type[Engine]:
    """Class decorator: make an engine available under ``cls.name``."""
    ENGINES[cls.name] = cls
    return cls
