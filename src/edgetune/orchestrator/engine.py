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

Replies and usage come as ``{node id: NodeReport}`` / ``{node id: NodeUsage}`` dicts from engines of a
few nodes (in-process, Flower, testbed), or as columns from engines of many (:class:`ReportTable`,
:class:`UsageTable`, read-only mappings over numpy arrays; the simulated engine). The loop reads both
as columns (issue 17: at 100,000 nodes one Python object per node and epoch cost as much as the
simulation's arithmetic).

Checkpointing is not the loop's business: engines that can be resumed also implement
:class:`Resumable`, which the runs layer (:mod:`edgetune.runs`) uses after every epoch.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple, Protocol, TypeVar, runtime_checkable

import numpy as np
from numpy.typing import NDArray

from edgetune.network.monitor import NorthboundAPI
from edgetune.selection.ids import IdIndex

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


_Row = TypeVar("_Row")


class _IdColumns(Mapping[int, _Row]):
    """A read-only ``{node id: row}`` over columns aligned with ``ids``: the lookup shared by
    :class:`ReportTable` and :class:`UsageTable` (a row object is built only when one is asked for)."""

    ids: NDArray[np.int64]
    _index: IdIndex | None = None

    @property
    def index(self) -> IdIndex:
        """Where each id sits in the columns (built on first lookup)."""
        if self._index is None:
            self._index = IdIndex.build(self.ids)
        return self._index

    def _row(self, key: object) -> int | None:
        if not isinstance(key, (int, np.integer)):
            return None
        pos, found = self.index.lookup([int(key)])
        return int(pos[0]) if found[0] else None

    @abstractmethod
    def _at(self, k: int) -> _Row:
        """The row object of position ``k``."""

    def __getitem__(self, key: object) -> _Row:
        k = self._row(key)
        if k is None:
            raise KeyError(key)
        return self._at(k)

    def __contains__(self, key: object) -> bool:
        return self._row(key) is not None

    def __iter__(self) -> Iterator[int]:
        return iter(np.asarray(self.ids, dtype=np.int64).tolist())

    def __len__(self) -> int:
        return int(np.shape(self.ids)[0])


class ReportTable(_IdColumns[NodeReport]):
    """One epoch's replies as columns: a read-only ``{node id: NodeReport}`` for engines of many nodes.

    ``train_loss`` is NaN where a node reported no loss (``NodeReport.train_loss is None``). The loop
    reads the columns; a :class:`NodeReport` is built only when one is asked for.

    Parameters
    ----------
    ids : array of int
        Distinct node ids, in reply order.
    train_time_s, arrived_s : array of float
        Per node, aligned with ``ids``.
    upload_bytes : array of int
    train_loss : array of float, optional
        NaN = none; default all NaN.

    Examples
    --------
    >>> t = ReportTable(np.array([3, 1]), np.array([2.0, 4.0]), np.array([10, 20]), np.array([5.0, 6.0]))
    >>> t[1], 2 in t, list(t)
    (NodeReport(node_id=1, train_time_s=4.0, upload_bytes=20, arrived_s=6.0, train_loss=None), False, [3, 1])
    """

    def __init__(
        self,
        ids: NDArray[np.int64],
        train_time_s: NDArray[np.float64],
        upload_bytes: NDArray[np.int64],
        arrived_s: NDArray[np.float64],
        train_loss: NDArray[np.float64] | None = None,
    ) -> None:
        self.ids = ids
        self.train_time_s = train_time_s
        self.upload_bytes = upload_bytes
        self.arrived_s = arrived_s
        self.train_loss = train_loss if train_loss is not None else np.full(np.shape(ids), np.nan)
        self._index: IdIndex | None = None

    @classmethod
    def from_mapping(cls, reports: Mapping[int, NodeReport]) -> ReportTable:
        """Columns of a ``{node id: NodeReport}`` dict (a table is returned as it is)."""
        if isinstance(reports, ReportTable):
            return reports
        rows = list(reports.values())
        n = len(rows)
        return cls(
            ids=np.fromiter((int(i) for i in reports), dtype=np.int64, count=n),
            train_time_s=np.fromiter((r.train_time_s for r in rows), dtype=np.float64, count=n),
            upload_bytes=np.fromiter((r.upload_bytes for r in rows), dtype=np.int64, count=n),
            arrived_s=np.fromiter((r.arrived_s for r in rows), dtype=np.float64, count=n),
            train_loss=np.fromiter(
                (np.nan if r.train_loss is None else r.train_loss for r in rows), dtype=np.float64, count=n
            ),
        )

    def _at(self, k: int) -> NodeReport:
        loss = float(self.train_loss[k])
        return NodeReport(
            node_id=int(self.ids[k]),
            train_time_s=float(self.train_time_s[k]),
            upload_bytes=int(self.upload_bytes[k]),
            arrived_s=float(self.arrived_s[k]),
            train_loss=None if math.isnan(loss) else loss,
        )

    def upload_total(self) -> int:
        """Bytes uploaded by all nodes, exactly (Python ints where int64 could overflow)."""
        col = np.asarray(self.upload_bytes, dtype=np.int64)
        if not col.size:
            return 0
        if int(np.abs(col).max()) <= (2**63 - 1) // col.size:
            return int(col.sum())
        return sum(col.tolist())

    def __reduce__(self) -> tuple[Any, ...]:
        return (ReportTable, (self.ids, self.train_time_s, self.upload_bytes, self.arrived_s, self.train_loss))

    def __repr__(self) -> str:
        return f"ReportTable({len(self)} reports)"


@dataclass
class RoundResult:
    """One epoch's replies. ``payload`` is engine-private (e.g. the gradients to average).

    ``reports`` is a ``{node id: NodeReport}`` dict (engines of a few nodes) or a :class:`ReportTable`
    (engines of many); the loop reads both through :meth:`ReportTable.from_mapping`.
    """

    reports: dict[int, NodeReport] | ReportTable
    failed: dict[int, str] = field(default_factory=dict)
    payload: Any = None


@dataclass(frozen=True)
class Payloads:
    """What the work moves (returned by :meth:`Engine.distribute`), for policies that predict round times.

    ``data_bytes``: each node's partition; ``update_bytes``: one node's upload per epoch;
    ``broadcast_bytes``: what every node receives after each epoch.
    """

    data_bytes: Mapping[int, float]  # a dict, or a NodeValues over columns (engines of many nodes)
    update_bytes: float
    broadcast_bytes: float


@dataclass(frozen=True)
class NodeUsage:
    """Totals of one node over a run, for the energy model."""

    busy_s: float
    bytes_moved: float


class UsageTable(_IdColumns[NodeUsage]):
    """Per-node usage as columns: a read-only ``{node id: NodeUsage}`` (virtual-clock engines).

    Parameters
    ----------
    ids : array of int
        Distinct node ids.
    busy_s, bytes_moved : array of float
        Aligned with ``ids``.

    Examples
    --------
    >>> u = UsageTable(np.array([0, 1]), np.array([1.5, 0.0]), np.array([10.0, 20.0]))
    >>> u[0], len(u)
    (NodeUsage(busy_s=1.5, bytes_moved=10.0), 2)
    """

    def __init__(self, ids: NDArray[np.int64], busy_s: NDArray[np.float64], bytes_moved: NDArray[np.float64]) -> None:
        self.ids = ids
        self.busy_s = busy_s
        self.bytes_moved = bytes_moved
        self._index: IdIndex | None = None

    @classmethod
    def from_mapping(cls, usage: Mapping[int, NodeUsage]) -> UsageTable:
        """Columns of a ``{node id: NodeUsage}`` dict (a table is returned as it is)."""
        if isinstance(usage, UsageTable):
            return usage
        rows = list(usage.values())
        n = len(rows)
        return cls(
            ids=np.fromiter((int(i) for i in usage), dtype=np.int64, count=n),
            busy_s=np.fromiter((u.busy_s for u in rows), dtype=np.float64, count=n),
            bytes_moved=np.fromiter((u.bytes_moved for u in rows), dtype=np.float64, count=n),
        )

    def _at(self, k: int) -> NodeUsage:
        return NodeUsage(busy_s=float(self.busy_s[k]), bytes_moved=float(self.bytes_moved[k]))

    def __reduce__(self) -> tuple[Any, ...]:
        return (UsageTable, (self.ids, self.busy_s, self.bytes_moved))


@dataclass(frozen=True)
class EngineReport:
    """What an engine reports when the run ends.

    Attributes
    ----------
    usage : mapping
        Busy time and bytes moved per node (the energy model's input): a dict or a :class:`UsageTable`.
    info : dict
        Facts only known at run time (parameter counts, payload sizes) for the record's ``engine``
        key; deterministic values only.
    timings : dict
        Wall-clock measurements (seconds) for the record's ``timings`` key.
    """

    usage: Mapping[int, NodeUsage]
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
