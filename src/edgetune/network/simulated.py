"""A simulated network: the fleet's tree, background variation and the fine-tuning traffic on it.

Engines that run on a virtual clock (simulation, in-process training) move payloads with
:meth:`SimulatedNetwork.transfer`; the simulated SDN monitor measures the same object with
:meth:`SimulatedNetwork.path_state`, so the traffic of a run loads the links the monitor sees.

Phase approximation: the flows of one phase (all uploads of an epoch, one broadcast) share the
gateway uplinks and the core link max-min fairly *as if they all ran for the whole phase* (Eq. N3 at
the phase's start). That over-estimates contention when starts are staggered and keeps a phase
O(N log N); docs/network.md discusses it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from edgetune.fleet.schema import Fleet
from edgetune.network.dynamics import BackgroundVariation, VariationConfig
from edgetune.network.model import FloatArray, IntArray, Topology, mathis_throughput_mbps, max_min_share

Direction = Literal["up", "down"]


@dataclass(frozen=True)
class NetworkConfig:
    """Knobs of the simulated network."""

    mss_bytes: int = 1460
    queue_delay_ms_at_full: float = 20.0  # queueing delay a fully utilised link adds (a filled buffer)
    variation: VariationConfig = field(default_factory=VariationConfig)

    def __post_init__(self) -> None:
        from edgetune.errors import InputError

        if not 64 <= self.mss_bytes <= 65_535:
            raise InputError("mss_bytes", self.mss_bytes, "must be in [64, 65535]")
        if not self.queue_delay_ms_at_full >= 0:
            raise InputError("queue_delay_ms_at_full", self.queue_delay_ms_at_full, "must be non-negative")


@dataclass
class _Phase:
    idx: IntArray
    start_s: FloatArray
    end_s: FloatArray
    rate_mbps: FloatArray
    direction: Direction


@dataclass(frozen=True)
class PathState:
    """True state of every orchestrator <-> node path at one instant (what a perfect probe would see)."""

    available_mbps: FloatArray
    delay_ms: FloatArray
    loss_pct: FloatArray


class SimulatedNetwork:
    """The fleet's network on a virtual clock.

    Parameters
    ----------
    fleet : Fleet
        Topology and link parameters.
    rng : numpy.random.Generator
        Seeds the background variation.
    config : NetworkConfig, optional
    """

    def __init__(self, fleet: Fleet, rng: np.random.Generator, config: NetworkConfig | None = None) -> None:
        self.config = config or NetworkConfig()
        self.topology = Topology.from_fleet(fleet)
        top = self.topology
        self._order = np.argsort(top.node_ids, kind="stable")  # index_of: binary search over sorted ids
        self._sorted_ids = top.node_ids[self._order]
        # One variation process per access link and per gateway uplink (the core link is provisioned).
        self._access_var = BackgroundVariation(top.n_nodes, rng, self.config.variation)
        self._gw_var = BackgroundVariation(top.n_gateways, rng, self.config.variation)
        self._phases: list[_Phase] = []
        self._busy_until = {"up": np.zeros(top.n_nodes), "down": np.zeros(top.n_nodes)}
        self.bytes_moved = np.zeros(top.n_nodes)
        self._loss_pct = top.path_loss_pct()  # static: computed once

    # ---------------------------------------------------------------------------------------------
    def index_of(self, node_ids: list[int] | IntArray) -> IntArray:
        """Positions of ``node_ids`` in the topology arrays (``KeyError`` for an unknown id)."""
        ids = np.asarray(node_ids, dtype=np.int64).reshape(-1)
        at = np.minimum(np.searchsorted(self._sorted_ids, ids), max(self._sorted_ids.shape[0] - 1, 0))
        bad = self._sorted_ids[at] != ids
        if bad.any():
            raise KeyError(int(ids[np.flatnonzero(bad)[0]]))
        return np.asarray(self._order[at], dtype=np.int64)

    def _path_delay_ms(self, idx: IntArray, t_s: FloatArray | float) -> FloatArray:
        top = self.topology
        gw = top.gateway[idx]
        return np.asarray(
            top.access_delay_ms[idx] * self._access_var.delay_factor(t_s, idx)
            + top.gateway_delay_ms[gw] * self._gw_var.delay_factor(t_s, gw)
            + top.core_delay_ms,
            dtype=np.float64,
        )

    def transfer(
        self, idx: IntArray, size_bytes: FloatArray | float, ready_s: FloatArray | float, direction: Direction
    ) -> FloatArray:
        """Move ``size_bytes`` to (``down``) or from (``up``) the nodes at ``idx``; returns arrival times.

        A node's transfer starts at ``ready_s`` or when its previous transfer in the same direction
        ends, whichever is later. Rates follow Eq. N1-N3 (see :mod:`edgetune.network.model`).
        """
        top = self.topology
        n = idx.shape[0]
        size = np.broadcast_to(np.asarray(size_bytes, dtype=np.float64), (n,))
        start = np.maximum(
            np.broadcast_to(np.asarray(ready_s, dtype=np.float64), (n,)), self._busy_until[direction][idx]
        )
        if n == 0:
            return start.copy()
        delay = self._path_delay_ms(idx, start)
        loss = self._loss_pct[idx]
        gw = top.gateway[idx]
        t_phase = float(start.min())
        core = np.zeros(n, dtype=np.int64)
        core_cap = np.asarray([top.core_bw_mbps])

        def rates(access_f: FloatArray, gw_f: FloatArray, rtt_ms: FloatArray) -> FloatArray:
            cap = np.minimum(
                top.access_bw_mbps[idx] * access_f, mathis_throughput_mbps(rtt_ms, loss, self.config.mss_bytes)
            )
            return max_min_share(max_min_share(cap, gw, top.gateway_bw_mbps * gw_f), core, core_cap)

        # A transfer lasting many variation periods sees the *average* capacity, not the value at its
        # start (S = integral of r(t) dt). One fixed-point step: estimate the duration with the factors
        # at the start, then use each factor's exact window average (bandwidth, and delay for TCP's RTT). With the
        # start value alone, the end of a long transfer would swing with the phase of a 2-minute
        # oscillation at its start, and tiny changes would grow epoch after epoch.
        rate = rates(self._access_var.bandwidth_factor(start, idx), self._gw_var.bandwidth_factor(t_phase), 2 * delay)
        duration = size * 8.0 / (rate * 1e6)
        stop = start + duration
        # (the three (start, stop) windows share their trigonometry; keep them together)
        access_f = self._access_var.mean_bandwidth_factor(start, stop, idx)
        mean_delay = (
            top.access_delay_ms[idx] * self._access_var.mean_delay_factor(start, stop, idx)
            + top.gateway_delay_ms[gw] * self._gw_var.mean_delay_factor(start, stop, gw)
            + top.core_delay_ms
        )
        gw_f = self._gw_var.mean_bandwidth_factor(t_phase, t_phase + float(np.median(duration)))
        rate = rates(access_f, gw_f, 2 * mean_delay)
        end = start + delay / 1e3 + size * 8.0 / (rate * 1e6)
        end = np.where(size > 0, end, start)
        self._phases.append(_Phase(idx=idx.copy(), start_s=start, end_s=end, rate_mbps=rate, direction=direction))
        self._busy_until[direction][idx] = end
        self.bytes_moved += np.bincount(idx, weights=size, minlength=top.n_nodes)  # np.add.at, 10x cheaper
        return np.asarray(end, dtype=np.float64)

    def forget_before(self, t_s: float) -> None:
        """Drop finished phases that can no longer affect a measurement at or after ``t_s``."""
        self._phases = [p for p in self._phases if p.end_s.size and float(p.end_s.max()) > t_s]

    def _load(
        self, t_s: FloatArray, direction: Direction, idx: IntArray
    ) -> tuple[FloatArray | None, FloatArray, FloatArray] | None:
        """Load (Mbps) at each of the sorted times ``t_s``: on the access links of ``idx``, on every gateway
        uplink and on the core link: (P, S), (P, G), (P,); ``None`` when no flow of ``direction`` is
        live at any of the times, and ``None`` for the access loads when no flow of ``idx`` is.

        A flow loads its links while ``start <= t < end``. Gateway and core loads are sums over all flows
        of a phase, taken as +rate / -rate events on the time grid and a cumulative sum (O(F log P + P G),
        not O(P F)); access loads are gathered only for the live flows of the paths read.
        """
        top = self.topology
        p_times, n_gw = t_s.shape[0], top.n_gateways
        node_load: FloatArray | None = None
        gw_diff: FloatArray | None = None
        core_diff = np.zeros(p_times + 1)
        where: IntArray | None = None
        for p in self._phases:
            if p.direction != direction or p.idx.size == 0:
                continue
            on_from = np.searchsorted(t_s, p.start_s, side="left")  # first time with t >= start
            on_to = np.searchsorted(t_s, p.end_s, side="left")  # first time with t >= end
            live = np.flatnonzero(on_to > on_from)
            if not live.size:
                continue
            if gw_diff is None:
                gw_diff = np.zeros((p_times + 1) * n_gw)
            rate, gw, f_on, f_off = p.rate_mbps[live], top.gateway[p.idx[live]], on_from[live], on_to[live]
            gw_diff += np.bincount(f_on * n_gw + gw, weights=rate, minlength=gw_diff.shape[0])
            gw_diff -= np.bincount(f_off * n_gw + gw, weights=rate, minlength=gw_diff.shape[0])
            core_diff += np.bincount(f_on, weights=rate, minlength=p_times + 1)
            core_diff -= np.bincount(f_off, weights=rate, minlength=p_times + 1)
            if where is None:
                where = np.full(top.n_nodes, -1, dtype=np.int64)
            where[p.idx[live]] = live
            f = where[idx]
            where[p.idx[live]] = -1
            has = np.flatnonzero(f >= 0)
            if has.size:
                fh = f[has]
                on = (p.start_s[fh][None, :] <= t_s[:, None]) & (t_s[:, None] < p.end_s[fh][None, :])
                if node_load is None:
                    node_load = np.zeros((p_times, idx.shape[0]))
                node_load[:, has] += on * p.rate_mbps[fh][None, :]
        if gw_diff is None:
            return None
        gw_load = np.maximum(np.cumsum(gw_diff.reshape(p_times + 1, n_gw), axis=0)[:p_times], 0.0)
        core_load = np.maximum(np.cumsum(core_diff)[:p_times], 0.0)
        return node_load, gw_load, core_load

    def path_state(self, t_s: FloatArray | float, idx: IntArray | None = None) -> PathState:
        """True available bandwidth, delay (with queueing) and loss of the paths ``idx`` (all when
        ``None``) at ``t_s``.

        ``t_s`` may be a scalar (arrays of shape (S,)) or P sorted times (arrays of shape (P, S)).
        Available bandwidth is the bottleneck of capacity minus load over the three links, taken in the
        more loaded direction; queueing delay grows linearly with each link's utilisation up to
        ``queue_delay_ms_at_full``. Only the read paths' access links are evaluated: the cost is
        O(P (S + G)) plus the phases' flows, not O(P N). Gateway and core terms are combined per
        gateway (P, G) before they are gathered to the paths; a direction with no live flow is skipped
        (its links are idle, so the other direction is the more loaded one).
        """
        top = self.topology
        scalar = np.ndim(t_s) == 0
        times = np.atleast_1d(np.asarray(t_s, dtype=np.float64))
        sel = np.arange(top.n_nodes) if idx is None else np.asarray(idx, dtype=np.int64)
        gw = top.gateway[sel]
        col = times[:, None]
        acc_cap = self._access_var.bandwidth_factor(col, sel)  # (P, S)
        acc_cap *= top.access_bw_mbps[sel]
        gw_cap = top.gateway_bw_mbps * self._gw_var.bandwidth_factor(col)  # (P, G)
        q = self.config.queue_delay_ms_at_full
        core_bw = top.core_bw_mbps
        loads = [got for got in (self._load(times, d, sel) for d in ("up", "down")) if got is not None]
        if not loads:
            loads = [(None, np.zeros_like(gw_cap), np.zeros(times.shape[0]))]
        avail: FloatArray | None = None
        queue: FloatArray | None = None
        for node_load, gw_load, core_load in loads:
            # min over the three links; the gateway and core terms first, per gateway
            shared_left = np.minimum(gw_cap - gw_load, (core_bw - core_load)[:, None])  # (P, G)
            a = np.take(shared_left, gw, axis=1)
            if node_load is None:
                np.minimum(a, acc_cap, out=a)
            else:
                np.minimum(a, acc_cap - node_load, out=a)
            avail = a if avail is None else np.minimum(avail, a, out=avail)
            shared_util = np.minimum(gw_load / gw_cap, 1.0)
            shared_util += np.minimum(core_load / core_bw, 1.0)[:, None]
            shared_util *= q
            u = np.take(shared_util, gw, axis=1)  # q x (gateway + core utilisation), (P, S)
            if node_load is not None:
                node_u = node_load / acc_cap
                np.minimum(node_u, 1.0, out=node_u)
                node_u *= q
                u += node_u
            queue = u if queue is None else np.maximum(queue, u, out=queue)
        assert avail is not None and queue is not None
        acc_cap *= 0.01
        np.maximum(avail, acc_cap, out=avail)  # probes always get a trickle through
        delay = self._access_var.delay_factor(col, sel)
        delay *= top.access_delay_ms[sel]
        delay += np.take(top.gateway_delay_ms * self._gw_var.delay_factor(col) + top.core_delay_ms, gw, axis=1)
        delay += queue
        loss = np.broadcast_to(self._loss_pct[sel], avail.shape)
        if scalar:
            return PathState(available_mbps=avail[0], delay_ms=delay[0], loss_pct=loss[0])
        return PathState(available_mbps=avail, delay_ms=delay, loss_pct=loss)
