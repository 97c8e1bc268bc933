"""The selection-policy interface and its registry.

A policy sees, after each epoch, the metrics of the nodes that trained (what the orchestrator read
from the northbound API plus compute power, measured training time and reported training loss),
scores them, and says which nodes train in the next epoch. One orchestrator loop
(:mod:`edgetune.orchestrator.loop`) drives every policy on every engine.

Hooks (five): :meth:`SelectionPolicy.start` (once, with the run's :class:`PolicyContext`),
:attr:`~SelectionPolicy.wants_standby`, :meth:`~SelectionPolicy.score`, :meth:`~SelectionPolicy.select`
and :meth:`~SelectionPolicy.describe`.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from edgetune.errors import InputError
from edgetune.selection.ids import IdIndex, NodeValues
from edgetune.selection.scoring import METRIC_NAMES, perf_scores


@dataclass(frozen=True)
class NodeMetrics:
    """The five metrics of one node in one epoch (Eq. 2's raw inputs)."""

    compute: float
    bandwidth_mbps: float
    delay_ms: float
    loss_pct: float
    train_time_s: float

    def as_tuple(self) -> tuple[float, float, float, float, float]:
        """Values in :data:`METRIC_NAMES` order."""
        return (self.compute, self.bandwidth_mbps, self.delay_ms, self.loss_pct, self.train_time_s)

    def to_json(self) -> dict[str, float]:
        """The run record's per-node ``metrics`` object."""
        return {
            "compute": self.compute,
            "bandwidth_mbps": self.bandwidth_mbps,
            "delay_ms": self.delay_ms,
            "loss_pct": self.loss_pct,
            "train_time_s": self.train_time_s,
        }


@dataclass(frozen=True)
class MetricsTable:
    """Eq. 2's raw inputs for many nodes at once: ``values[k]`` holds node ``ids[k]``'s five metrics.

    The orchestrator builds one per epoch with numpy, so scoring 10,000 nodes stays vectorised.
    ``train_loss[k]``, when given, is the mean training loss node ``ids[k]`` reported with its last
    update (NaN where it reported none, e.g. the simulation engine, which trains nothing).
    """

    ids: list[int]
    values: NDArray[np.float64]  # (n, 5) in METRIC_NAMES order
    train_loss: NDArray[np.float64] | None = None  # (n,), NaN = not reported

    def column(self, name: str) -> NDArray[np.float64]:
        """One metric of every row, by its :data:`METRIC_NAMES` name."""
        return np.asarray(self.values[:, METRIC_NAMES.index(name)], dtype=np.float64)

    def losses(self) -> NDArray[np.float64]:
        """Reported training losses (all NaN when no node reported one)."""
        if self.train_loss is None:
            return np.full(len(self.ids), np.nan)
        return np.asarray(self.train_loss, dtype=np.float64)

    @classmethod
    def from_mapping(cls, metrics: Mapping[int, NodeMetrics]) -> MetricsTable:
        """Build from per-node :class:`NodeMetrics` (ids sorted)."""
        ids = sorted(metrics)
        values = np.array([metrics[i].as_tuple() for i in ids], dtype=np.float64).reshape(len(ids), len(METRIC_NAMES))
        return cls(ids=ids, values=values)

    def __len__(self) -> int:
        return len(self.ids)

    def to_json(self, keep: Collection[int] | NDArray[np.int64] | None = None) -> MetricsView:
        """Per-node metric objects for the run record (only the ids in ``keep`` if given), built when read."""
        if keep is None:
            return MetricsView(self.ids, self.values)
        ids = np.asarray(self.ids, dtype=np.int64)
        wanted = np.fromiter(keep, dtype=np.int64) if not isinstance(keep, np.ndarray) else keep
        k = len(wanted)
        if k <= len(ids) and np.array_equal(ids[:k], wanted):  # the loop's case: kept rows come first
            return MetricsView(self.ids[:k], self.values[:k])
        rows = np.flatnonzero(IdIndex.build(wanted).contains(ids))
        return MetricsView(ids[rows].tolist(), self.values[rows])


class MetricsView(Mapping[int, dict[str, float]]):
    """Read-only ``{node id: {metric: value}}`` over a table; dicts are built on access, so a
    10,000-node epoch costs nothing until the record is written."""

    def __init__(self, ids: list[int], values: NDArray[np.float64]) -> None:
        self._ids = ids
        self._values = values
        self._pos: dict[int, int] | None = None

    def __getitem__(self, node_id: int) -> dict[str, float]:
        if self._pos is None:  # built on the first lookup, not per epoch
            self._pos = {i: k for k, i in enumerate(self._ids)}
        return dict(zip(METRIC_NAMES, self._values[self._pos[node_id]].tolist(), strict=True))

    def __iter__(self) -> Iterator[int]:
        return iter(self._ids)

    def __len__(self) -> int:
        return len(self._ids)

    def arrays(self) -> tuple[list[int], NDArray[np.float64]]:
        """The node ids and their (n, 5) metric rows, without building per-node dicts (compact records)."""
        return self._ids, self._values


@dataclass(frozen=True)
class PolicyConfig:
    """Weights ``w`` and utopia point ``lambda`` of Eq. 2-3, the rejoin option (beyond the paper), and
    ``min_data_fraction``: ``adaptive``'s floor on the share of the fleet's data trained each epoch."""

    weights: tuple[float, ...] = (0.2, 0.2, 0.2, 0.2, 0.2)
    utopia: tuple[float, ...] = (1.0, 1.0, 1.0, 1.0, 1.0)
    rejoin: bool = False
    min_data_fraction: float = 0.75

    def __post_init__(self) -> None:
        if len(self.weights) != len(METRIC_NAMES):
            raise InputError("weights", list(self.weights), f"need {len(METRIC_NAMES)} numbers")
        if any((not math.isfinite(w)) or w < 0 for w in self.weights):
            raise InputError("weights", list(self.weights), "must be non-negative")
        if abs(sum(self.weights) - 1.0) > 1e-6:
            raise InputError("weights", list(self.weights), f"must sum to 1 (sum={sum(self.weights):.6g})")
        if len(self.utopia) != len(METRIC_NAMES):
            raise InputError("utopia", list(self.utopia), f"need {len(METRIC_NAMES)} numbers")
        if any((not math.isfinite(u)) or not 0 <= u <= 1 for u in self.utopia):
            raise InputError("utopia", list(self.utopia), "every coordinate must be in [0, 1]")
        if not (math.isfinite(self.min_data_fraction) and 0 < self.min_data_fraction <= 1):
            raise InputError("min_data_fraction", self.min_data_fraction, "must be in (0, 1]")


@dataclass(frozen=True)
class PolicyContext:
    """What a policy may know about a run before it starts (handed to :meth:`SelectionPolicy.start`).

    Attributes
    ----------
    node_ids : tuple of int
        Every node of the fleet, |N| of them.
    epochs : int
        T.
    data_bytes : mapping
        Node id -> bytes of its data-set partition (what it trains on in every epoch it is active).
    update_bytes : float
        What one node uploads per epoch (a gradient or an adapter update); 0 if the engine does not say.
    broadcast_bytes : float
        What the orchestrator sends every node after each epoch; 0 if the engine does not say.
    rng : numpy.random.Generator
        The policy's own seeded generator: every random choice a policy makes draws from it.
    """

    node_ids: tuple[int, ...]
    epochs: int
    data_bytes: Mapping[int, float]
    update_bytes: float
    broadcast_bytes: float
    rng: np.random.Generator

    @classmethod
    def uniform(cls, node_ids: Sequence[int], epochs: int, rng: np.random.Generator) -> PolicyContext:
        """A context that knows nothing about payloads: equal partitions of one byte, no transfers."""
        return cls(tuple(node_ids), epochs, {i: 1.0 for i in node_ids}, 0.0, 0.0, rng)


class SelectionPolicy(ABC):
    """Chooses the nodes of each epoch.

    Hooks: :meth:`start` (the run's :class:`PolicyContext`, once), :attr:`wants_standby`,
    :meth:`score` (Eq. 2-3 by default), :meth:`select` (who trains next epoch) and :meth:`describe`.
    """

    name: str = "abstract"

    def __init__(self, config: PolicyConfig | None = None) -> None:
        self.config = config or PolicyConfig()
        self._context: PolicyContext | None = None

    def start(self, context: PolicyContext) -> None:
        """Called by the orchestrator once before epoch 1; stateful policies reset their state here."""
        self._context = context

    @property
    def context(self) -> PolicyContext:
        """The context given to :meth:`start`; raises if the policy was never started."""
        if self._context is None:
            raise RuntimeError(f"policy {self.name!r} used before start(context)")
        return self._context

    @property
    def wants_standby(self) -> bool:
        """Whether :meth:`select` also wants metrics of eliminated nodes (for rejoining)."""
        return False

    def score(self, metrics: Mapping[int, NodeMetrics] | MetricsTable) -> NodeValues:
        """PerfScore (Eq. 3) of every node in ``metrics``, normalised over exactly those nodes.

        Returns a read-only ``{node id: PerfScore}`` mapping over arrays (:class:`NodeValues`), in the
        order of ``metrics``.
        """
        table = metrics if isinstance(metrics, MetricsTable) else MetricsTable.from_mapping(metrics)
        ids = np.asarray(table.ids, dtype=np.int64).reshape(-1)
        if not len(table):
            return NodeValues(ids, np.zeros(0))
        return NodeValues(ids, perf_scores(table.values, self.config.weights, self.config.utopia))

    @abstractmethod
    def select(
        self,
        epoch: int,
        epochs: int,
        n_initial: int,
        active: Sequence[int],
        scores: Mapping[int, float],
        metrics: MetricsTable | None = None,
    ) -> list[int]:
        """Nodes that train in epoch ``epoch + 1``.

        Parameters
        ----------
        epoch : int
            The epoch just finished (1-based).
        epochs : int
            Total epochs T.
        n_initial : int
            |N|, the number of nodes at the start.
        active : sequence of int
            Nodes that were active in ``epoch``.
        scores : mapping
            PerfScore of the nodes that trained (and, if :attr:`wants_standby`, of eliminated ones).
        metrics : MetricsTable, optional
            The raw metrics those scores came from (the orchestrator always passes them; policies
            that rank by PerfScore alone ignore them).
        """

    def describe(self) -> dict[str, object]:
        """The policy's part of the run record's ``config``."""
        return {"weights": list(self.config.weights), "utopia": list(self.config.utopia), "rejoin": self.config.rejoin}


POLICIES: dict[str, type[SelectionPolicy]] = {}


def register_policy(cls: type[SelectionPolicy]) -> type[SelectionPolicy]:
    """Class decorator: make a policy available under ``cls.name``."""
    POLICIES[cls.name] = cls
    return cls


def make_policy(name: str, config: PolicyConfig | None = None) -> SelectionPolicy:
    """Build a registered policy by name; unknown names raise :class:`InputError`."""
    try:
        cls = POLICIES[name]
    except KeyError:
        raise InputError("--policy", name, f"unknown policy; choose from {', '.join(sorted(POLICIES))}") from None
    return cls(config)


def default_policy_config() -> PolicyConfig:
    """Equal weights, utopia at all ones (the paper's defaults are unstated; these are ours)."""
    return PolicyConfig()
