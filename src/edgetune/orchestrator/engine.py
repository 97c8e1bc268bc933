"""The engine interface: what the orchestrator loop asks of whatever runs the work.

The interface belongs to the loop that consumes it (:mod:`edgetune.orchestrator.loop`); engines
(:mod:`edgetune.engines`, :mod:`edgetune.flower`, :mod:`edgetune.testbed`) implement it. Engines differ
in *how* work runs (a virtual-clock simulation, real PyTorch training in this process, Flower
SuperNodes, namespaces of an emulated testbed), never in the algorithm: the orchestrator decides who
trains, scores, eliminates and records.

Seven hooks, each tagged with the line of Algorithm 1 (paper 000) it serves::

    evaluate      line 2 (PRE_TRAINING_LOSS) and line 15
    distribute    lines 3-4
    train_round   lines 5-7
    apply_update  lines 12-14
    broadcast     lines 16-17
    now_s         the clock epochs are timed by
    finish        end of run: release resources, report per-node usage (energy model)

Checkpointing is not the loop's business: engines that can be resumed also implement
:class:`Resumable`, which the runs layer (:mod:`edgetune.runs`) uses after every epoch.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple, Protocol, runtime_checkable

from edgetune.network.monitor import NorthboundAPI

TimeBase = Literal["virtual", "wall"]


class NodeReport(NamedTuple):
    """What one node sent back for one epoch (Algorithm 1 line 6: gradients + training time).

    Immutable; a NamedTuple rather than a frozen dataclass because a 10,000-node epoch builds 10,000.
    """

    node_id: int
    train_time_s: float
    upload_bytes: int
    arrived_s: float
    train_loss: float | None = None  # mean training loss over the node's partition (engines that train)


@dataclass
class RoundResult:
    """One epoch's replies. ``payload`` is engine-private (e.g. the gradients to average)."""

    reports: dict[int, NodeReport]
    failed: dict[int, str] = field(default_factory=dict)
    payload: Any = None


@dataclass(frozen=True)
class Payloads:
    """What the work moves (returned by :meth:`Engine.distribute`), for policies that predict round times.

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


@dataclass(frozen=True)
class EngineReport:
    """What an engine reports when the run ends.

    Attributes
    ----------
    usage : dict
        Busy time and bytes moved per node (the energy model's input).
    info : dict
        Facts only known at run time (parameter counts, payload sizes) for the record's ``engine``
        key; deterministic values only.
    timings : dict
        Wall-clock measurements (seconds) for the record's ``timings`` key.
    """

    usage: dict[int, NodeUsage]
    info: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)


class EngineFailure(RuntimeError):
    """The engine cannot go on (e.g. every node lost, a broken deployment): the run ends as ``failed``."""


class Engine(ABC):
    """Runs the work of Algorithm 1 for the orchestrator (see the module docstring for the hooks)."""

    name: str = "abstract"
    #: "virtual" when times come from a modelled clock, "wall" when measured on real machines.
    time_base: TimeBase = "virtual"

    @property
    def northbound(self) -> NorthboundAPI | None:
        """The SDN monitor a virtual-clock engine runs on its own modelled network; ``None`` for engines on
        real networks, whose northbound client the runs layer builds from the spec's ``northbound``."""
        return None

    @abstractmethod
    def now_s(self) -> float:
        """Seconds since the start of distribution (virtual or wall, see :attr:`time_base`)."""

    @abstractmethod
    def distribute(self, node_ids: Sequence[int]) -> Payloads | None:
        """Send the model and each node's data-set partition (lines 3-4); starts the clock.

        Returns the sizes of what the run moves, or ``None`` where the engine does not know them.
        """

    @abstractmethod
    def train_round(self, epoch: int, active: Sequence[int]) -> RoundResult:
        """Have ``active`` train one epoch; return when every reply is in or has failed (line 6)."""

    @abstractmethod
    def apply_update(self, result: RoundResult, learning_rate: float) -> None:
        """Average the gradients received and take the step (lines 12-14)."""

    @abstractmethod
    def evaluate(self) -> float | None:
        """Validation loss of the global model (lines 2 and 15), or ``None`` where there is no model."""

    @abstractmethod
    def broadcast(self, node_ids: Sequence[int]) -> None:
        """Send the updated model to ``node_ids`` (lines 16-17); must not hold up the next epoch."""

    @abstractmethod
    def finish(self) -> EngineReport:
        """Release processes, sockets, threads; report per-node usage. Called once, also after a failure."""


@runtime_checkable
class Resumable(Protocol):
    """An engine whose state after an epoch can be saved and restored (the runs layer's checkpoints).

    ``state()`` returns a picklable object holding everything the next epochs depend on (trainable
    weights, optimiser, generators, virtual clock, monitor state); ``restore(state)`` puts it back into
    an engine freshly built from the same spec, so the resumed run equals an uninterrupted one.
    """

    def state(self) -> Any:
        """Everything the remaining epochs depend on."""

    def restore(self, state: Any) -> None:
        """Put back what :meth:`state` returned."""
