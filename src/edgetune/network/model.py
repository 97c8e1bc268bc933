"""Transfer-time model of an orchestrator <-> node path (see docs/network.md for the derivation).

Moving ``S`` bytes over a path with one-way delay ``D`` at achieved throughput ``R`` takes

    t(S) = D + 8 S / R                                                      (N1)

and ``R`` is the smallest of three limits:

* the path's available bottleneck bandwidth ``B`` (the access link, after background variation);
* TCP under loss ``p`` and round-trip time ``RTT = 2 D`` (Mathis et al., 1997)::

      R_tcp = (MSS * 8 / RTT) * sqrt(3/2) / sqrt(p)                         (N2)

  (no limit when ``p = 0``);
* max-min fair sharing of every shared link the flow crosses (its gateway uplink, the core link to
  the orchestrator) with the other fine-tuning flows of the same phase (:func:`max_min_share`). (N3)

All functions are vectorised over nodes with numpy so that one phase of 10,000 flows costs
O(N log N) (one sort per shared tier).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from edgetune.fleet.schema import Fleet

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

_BLAS: list[Any] = []  # the threadpoolctl controller, made once (None when threadpoolctl is missing)


@contextmanager
def one_blas_thread() -> Iterator[None]:
    """Run the simulator's numpy with one BLAS thread (issue 17).

    Its matrix products are small ((P, 8) @ (8, N)); with OpenBLAS's default threads they cost about
    twice the CPU of one thread on a 2-core machine. Uses ``threadpoolctl`` (a scikit-learn
    dependency); without it this does nothing. Nested uses are cheap.
    """
    if not _BLAS:
        try:
            from threadpoolctl import ThreadpoolController

            _BLAS.append(ThreadpoolController())
        except ImportError:  # pragma: no cover - threadpoolctl ships with scikit-learn
            _BLAS.append(None)
    controller = _BLAS[0]
    if controller is None:  # pragma: no cover
        yield
        return
    with controller.limit(limits=1, user_api="blas"):
        yield


#: sqrt(3/2), the constant of the Mathis model for periodic loss.
MATHIS_C = math.sqrt(1.5)


def mathis_throughput_mbps(
    rtt_ms: FloatArray | float, loss_pct: FloatArray | float, mss_bytes: int = 1460
) -> FloatArray:
    """Eq. (N2): steady-state TCP throughput in Mbps; ``inf`` where the loss is zero."""
    rtt_s = np.maximum(np.asarray(rtt_ms, dtype=np.float64), 1e-3) / 1e3
    p = np.asarray(loss_pct, dtype=np.float64) / 100.0
    with np.errstate(divide="ignore"):
        rate_bps = (mss_bytes * 8.0 / rtt_s) * MATHIS_C / np.sqrt(p)
    return np.asarray(rate_bps / 1e6, dtype=np.float64)


def transfer_time_s(
    size_bytes: FloatArray | float, delay_ms: FloatArray | float, rate_mbps: FloatArray | float
) -> FloatArray:
    """Eq. (N1): seconds to move ``size_bytes`` over a path of one-way delay ``delay_ms`` at ``rate_mbps``."""
    size = np.asarray(size_bytes, dtype=np.float64)
    out = np.asarray(delay_ms, dtype=np.float64) / 1e3 + size * 8.0 / (np.asarray(rate_mbps, dtype=np.float64) * 1e6)
    return np.where(size > 0, out, 0.0)


def max_min_share(demand: FloatArray, group: IntArray, capacity: FloatArray) -> FloatArray:
    """Eq. (N3): max-min fair allocation of each group's ``capacity`` among the flows in it.

    Water-filling: flows whose demand is below the fair share keep their demand and release the rest
    to the others. Vectorised over all groups at once with one sort.

    Parameters
    ----------
    demand : (F,) float
        What each flow could use on its own (Mbps); ``inf`` allowed.
    group : (F,) int
        Index of the shared link each flow crosses.
    capacity : (G,) float
        Capacity of each shared link (Mbps).

    Returns
    -------
    (F,) float
        The allocated rate of every flow, never above its demand.
    """
    n = demand.shape[0]
    if n == 0:
        return demand.copy()
    if capacity.shape[0] == 1:
        return _max_min_one_link(demand, float(capacity[0]))
    # Sort by group, then by demand ascending (as np.lexsort((demand, group)), at a third of its cost):
    # rank the demands with one float argsort, then sort the unique int keys group * n + rank. Flows
    # of one group with equal demands may come in another order; their values, and so every sum
    # below, are the same.
    rank = np.empty(n, dtype=np.int64)
    rank[np.argsort(demand)] = np.arange(n)
    rank += group * n
    order = np.argsort(rank)
    d = demand[order]
    g = group[order]
    starts = np.flatnonzero(np.r_[True, g[1:] != g[:-1]])
    counts = np.diff(np.r_[starts, n])
    first = np.repeat(starts, counts)
    rank = np.arange(n) - first  # position of the flow inside its group
    remaining = np.repeat(counts, counts) - rank  # flows at or after this one in its group
    finite_d = np.where(np.isfinite(d), d, 0.0)
    csum = np.cumsum(finite_d)
    before = csum - finite_d - np.repeat(csum[starts] - finite_d[starts], counts)  # demand of smaller flows
    cap = capacity[g]
    # Level if every flow from this one on were capped at the same share:
    level = (cap - before) / remaining
    satisfied = d <= level  # this flow (and all smaller ones) fit below the level
    # The water level of a group is the level at its first unsatisfied flow.
    unsat_pos = np.where(~satisfied, np.arange(n), n)
    first_unsat = np.minimum.reduceat(unsat_pos, starts)
    has_unsat = first_unsat < n
    group_level = np.full(starts.shape[0], np.inf)
    group_level[has_unsat] = level[first_unsat[has_unsat]]
    alloc_sorted = np.minimum(d, np.repeat(group_level, counts))
    out = np.empty(n, dtype=np.float64)
    out[order] = alloc_sorted
    return out


def _max_min_one_link(demand: FloatArray, capacity: float) -> FloatArray:
    """:func:`max_min_share` for flows that all cross one link (the core): a sort of the demands, no
    permutation; the same arithmetic as the general case, so the same numbers."""
    n = demand.shape[0]
    d = np.sort(demand)
    finite_d = np.where(np.isfinite(d), d, 0.0)
    before = np.cumsum(finite_d)
    before -= finite_d  # demand of the smaller flows
    level = (capacity - before) / (n - np.arange(n))
    unsat = np.flatnonzero(d > level)
    if unsat.size == 0:
        return demand.copy()
    return np.minimum(demand, level[unsat[0]])


@dataclass(frozen=True)
class Topology:
    """Array view of a fleet's tree: index ``k`` is the k-th node of the fleet file.

    The orchestrator is the root; ``gateway`` maps each node to its gateway uplink; there is one core
    link (aggregation switch -> orchestrator).
    """

    node_ids: IntArray
    access_bw_mbps: FloatArray
    access_delay_ms: FloatArray
    access_loss_pct: FloatArray
    gateway: IntArray
    gateway_bw_mbps: FloatArray
    gateway_delay_ms: FloatArray
    gateway_loss_pct: FloatArray
    core_bw_mbps: float
    core_delay_ms: float
    core_loss_pct: float

    @classmethod
    def from_fleet(cls, fleet: Fleet) -> Topology:
        """Build the arrays from a validated fleet (from its columns: no loop over nodes)."""
        c = fleet.columns()
        gw_rows = np.flatnonzero(c.switch_kind == "gateway")
        gw_index = np.full(c.switch_kind.shape[0], -1, dtype=np.int64)
        gw_index[gw_rows] = np.arange(gw_rows.shape[0])
        has_uplink = c.switch_has_uplink[gw_rows]  # always true for a validated fleet

        def uplink(values: FloatArray, missing: float) -> FloatArray:
            return np.asarray(np.where(has_uplink, values[gw_rows], missing), dtype=np.float64)

        link = fleet.orchestrator.link
        return cls(
            node_ids=c.node_id,
            access_bw_mbps=c.node_link_bandwidth_mbps,
            access_delay_ms=c.node_link_delay_ms,
            access_loss_pct=c.node_link_loss_pct,
            gateway=gw_index[c.node_gateway],
            gateway_bw_mbps=uplink(c.switch_uplink_bandwidth_mbps, math.inf),
            gateway_delay_ms=uplink(c.switch_uplink_delay_ms, 0.0),
            gateway_loss_pct=uplink(c.switch_uplink_loss_pct, 0.0),
            core_bw_mbps=link.bandwidth_mbps,
            core_delay_ms=link.delay_ms,
            core_loss_pct=link.loss_pct,
        )

    @property
    def n_nodes(self) -> int:
        """Number of nodes."""
        return int(self.node_ids.shape[0])

    @property
    def n_gateways(self) -> int:
        """Number of gateway uplinks."""
        return int(self.gateway_bw_mbps.shape[0])

    def path_delay_ms(self) -> FloatArray:
        """One-way end-to-end delay without traffic: access + gateway uplink + core."""
        return self.access_delay_ms + self.gateway_delay_ms[self.gateway] + self.core_delay_ms

    def path_loss_pct(self) -> FloatArray:
        """End-to-end loss without traffic: ``1 - prod(1 - p_link)`` over the three links."""
        keep = (
            (1 - self.access_loss_pct / 100)
            * (1 - self.gateway_loss_pct[self.gateway] / 100)
            * (1 - self.core_loss_pct / 100)
        )
        return np.asarray((1 - keep) * 100, dtype=np.float64)

    def path_bandwidth_mbps(self) -> FloatArray:
        """Bottleneck bandwidth of each path without traffic."""
        return np.minimum(np.minimum(self.access_bw_mbps, self.gateway_bw_mbps[self.gateway]), self.core_bw_mbps)
