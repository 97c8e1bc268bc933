"""Energy of each edge node over a run.

    E_i = P_busy,i * t_busy,i + P_idle,i * (T_run - t_busy,i) + e_radio,i * MB_i

``t_busy`` is the node's (virtual or measured) compute time, ``T_run`` the run's completion time,
``MB_i`` the megabytes it received and sent, and ``e_radio`` the radio energy per megabyte. Defaults
(fleet generator): idle 2.5 W, busy 3 W + 0.2 W per unit of compute power (a mean node: 9 W, in the
range of single-board edge computers), 0.1 J/MB radio (Wi-Fi is roughly 5-100 nJ/bit). Eliminated
nodes idle for the rest of the run but still receive the model every epoch.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from edgetune.fleet.schema import Fleet
from edgetune.orchestrator.engine import NodeUsage, UsageTable
from edgetune.selection.ids import IdIndex, NodeValues
from edgetune.selection.scoring import METRIC_NAMES

if TYPE_CHECKING:
    from edgetune.orchestrator.record import EpochRecord

TRAIN_TIME = METRIC_NAMES.index("train_time_s")


@dataclass(frozen=True)
class NodeEnergy:
    """One node's energy split."""

    compute_j: float
    idle_j: float
    radio_j: float

    @property
    def total_j(self) -> float:
        """Sum of the three parts."""
        return self.compute_j + self.idle_j + self.radio_j


@dataclass(frozen=True)
class EnergyColumns:
    """Every node's energy split as columns aligned with ``Fleet.arrays().ids`` (fleet order)."""

    ids: NDArray[np.int64]
    compute_j: NDArray[np.float64]
    idle_j: NDArray[np.float64]
    radio_j: NDArray[np.float64]

    @property
    def total_j(self) -> NDArray[np.float64]:
        """Sum of the three parts, per node (added in the order of :attr:`NodeEnergy.total_j`)."""
        return np.asarray(self.compute_j + self.idle_j + self.radio_j, dtype=np.float64)


def energy_columns(fleet: Fleet, usage: Mapping[int, NodeUsage], run_time_s: float) -> EnergyColumns:
    """The energy model for every node of ``fleet`` at once (nodes absent from ``usage`` did nothing).

    The same floating-point operations per node as :func:`node_energy`, so the values are identical.
    """
    cols = fleet.arrays()
    table = UsageTable.from_mapping(usage)
    pos, found = table.index.lookup(cols.ids)
    busy_col = np.asarray(table.busy_s, dtype=np.float64)
    moved_col = np.asarray(table.bytes_moved, dtype=np.float64)
    busy = np.where(found, busy_col[pos] if len(table) else 0.0, 0.0)
    moved = np.where(found, moved_col[pos] if len(table) else 0.0, 0.0)
    if run_time_s > 0:
        busy = np.minimum(busy, run_time_s)
    return EnergyColumns(
        ids=cols.ids,
        compute_j=cols.busy_power_w * busy,
        idle_j=cols.idle_power_w * np.maximum(run_time_s - busy, 0.0),
        radio_j=cols.radio_j_per_mb * moved / 1e6,
    )


def node_energy(fleet: Fleet, usage: Mapping[int, NodeUsage], run_time_s: float) -> dict[int, NodeEnergy]:
    """Energy of every node of ``fleet`` given its usage over a run of ``run_time_s`` seconds."""
    cols = energy_columns(fleet, usage, run_time_s)
    return {
        i: NodeEnergy(compute_j=c, idle_j=d, radio_j=r)
        for i, c, d, r in zip(
            cols.ids.tolist(), cols.compute_j.tolist(), cols.idle_j.tolist(), cols.radio_j.tolist(), strict=True
        )
    }


def sequential_sum(values: NDArray[np.float64]) -> float:
    """``sum(values)`` added left to right, as Python's :func:`sum` does, in one numpy pass.

    :func:`numpy.sum` adds pairwise, which can differ from the left-to-right sum in the last bits;
    the cumulative sum adds strictly in order, so records keep the numbers they had.

    >>> sequential_sum(np.array([1e16, 1.0, 1.0])) == sum([1e16, 1.0, 1.0])
    True
    """
    arr = np.asarray(values, dtype=np.float64).reshape(-1)
    return float(np.cumsum(arr)[-1]) if arr.size else 0.0


def epoch_energy_j(fleet: Fleet, ep: EpochRecord) -> float:
    """Energy of one epoch by the energy model, from the epoch's reported training times.

    Busy time: each node's ``train_time_s`` in the epoch's metrics (0 where absent); bytes: the epoch's
    ``upload_bytes`` shared equally by the nodes that trained; run time: the epoch's duration. The same
    numbers as :func:`node_energy` over per-node usage, summed left to right, without a loop per node.
    """
    ids = fleet.arrays().ids
    table = getattr(ep.metrics, "arrays", None)
    if callable(table):  # a MetricsView: its columns as they are
        metric_ids, values = table()
        busy_col = np.asarray(values, dtype=np.float64).reshape(-1, len(METRIC_NAMES))[:, TRAIN_TIME]
    else:
        metric_ids = list(ep.metrics)
        busy_col = np.fromiter((float(ep.metrics[i]["train_time_s"]) for i in metric_ids), dtype=np.float64)
    busy_vals, has_busy = NodeValues(np.asarray(metric_ids, dtype=np.int64), busy_col).lookup(ids)
    trained = IdIndex.build(np.asarray(ep.active, dtype=np.int64)).contains(ids)
    per_node_bytes = ep.upload_bytes / max(len(ep.active), 1)
    usage = UsageTable(ids, np.where(has_busy, busy_vals, 0.0), np.where(trained, per_node_bytes, 0.0))
    return sequential_sum(energy_columns(fleet, usage, ep.end_s - ep.start_s).total_j)
