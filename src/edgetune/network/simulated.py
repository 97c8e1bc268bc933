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
        self._index = {int(nid): k for k, nid in enumerate(top.node_ids)}
        # One variation process per access link and per gateway uplink (the core link is provisioned).
        self._access_var = BackgroundVariation(top.n_nodes, rng, self.config.variation)
        self._gw_var = BackgroundVariation(top.n_gateways, rng, self.config.variation)
        self._phases: list[_Phase] = []
        self._busy_until = {"up": np.zeros(top.n_nodes), "down": np.zeros(top.n_nodes)}
        self.bytes_moved = np.zeros(top.n_nodes)

    # ---------------------------------------------------------------------------------------------
    def index_of(self, node_ids: list[int] | IntArray) -> IntArray:
        """Positions of ``node_ids`` in the topology arrays."""
        return np.fromiter((self._index[int(i)] for i in node_ids), dtype=np.int64, count=len(node_ids))

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
        loss = top.path_loss_pct()[idx]
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
        np.add.at(self.bytes_moved, idx, size)
        return np.asarray(end, dtype=np.float64)

    def forget_before(self, t_s: float) -> None:
        """Drop finished phases that can no longer affect a measurement at or after ``t_s``."""
        self._phases = [p for p in self._phases if p.end_s.size and float(p.end_s.max()) > t_s]

    def _load(self, t_s: FloatArray, direction: Direction) -> tuple[FloatArray, FloatArray, FloatArray]:
        """Load (Mbps) on access links, gateway uplinks and the core link at each time: (P, N), (P, G), (P,)."""
        top = self.topology
        p_times = t_s.shape[0]
        node_load = np.zeros((p_times, top.n_nodes))
        for p in self._phases:
            if p.direction != direction:
                continue
            on = (p.start_s[None, :] <= t_s[:, None]) & (t_s[:, None] < p.end_s[None, :])  # (P, F)
            if on.any():
                node_load[:, p.idx] += on * p.rate_mbps[None, :]
        flat = (np.arange(p_times)[:, None] * top.n_gateways + top.gateway[None, :]).ravel()
        counts = np.bincount(flat, weights=node_load.ravel(), minlength=p_times * top.n_gateways)
        gw_load: FloatArray = np.asarray(counts, dtype=np.float64).reshape(p_times, top.n_gateways)
        return node_load, gw_load, node_load.sum(axis=1)

    def path_state(self, t_s: FloatArray | float) -> PathState:
        """True available bandwidth, delay (with queueing) and loss of every path at ``t_s``.

        ``t_s`` may be a scalar (arrays of shape (N,)) or P times (arrays of shape (P, N)). Available
        bandwidth is the bottleneck of capacity minus load over the three links, taken in the more
        loaded direction; queueing delay grows linearly with each link's utilisation up to
        ``queue_delay_ms_at_full``.
        """
        top = self.topology
        scalar = np.ndim(t_s) == 0
        times = np.atleast_1d(np.asarray(t_s, dtype=np.float64))
        acc_cap = top.access_bw_mbps * self._access_var.bandwidth_factor(times[:, None])  # (P, N)
        gw_cap = top.gateway_bw_mbps * self._gw_var.bandwidth_factor(times[:, None])  # (P, G)
        avail = np.full(acc_cap.shape, np.inf)
        queue = np.zeros(acc_cap.shape)
        q = self.config.queue_delay_ms_at_full
        for direction in ("up", "down"):
            node_load, gw_load, core_load = self._load(times, direction)
            gw_left = (gw_cap - gw_load)[:, top.gateway]
            a = np.minimum(np.minimum(acc_cap - node_load, gw_left), (top.core_bw_mbps - core_load)[:, None])
            avail = np.minimum(avail, a)
            util = (
                np.minimum(node_load / acc_cap, 1.0)
                + np.minimum(gw_load / gw_cap, 1.0)[:, top.gateway]
                + np.minimum(core_load / top.core_bw_mbps, 1.0)[:, None]
            )
            queue = np.maximum(queue, q * util)
        avail = np.maximum(avail, 0.01 * acc_cap)  # probes always get a trickle through
        gw = top.gateway
        delay = (
            top.access_delay_ms * self._access_var.delay_factor(times[:, None])
            + (top.gateway_delay_ms * self._gw_var.delay_factor(times[:, None]))[:, gw]
            + top.core_delay_ms
            + queue
        )
        loss = np.broadcast_to(top.path_loss_pct(), avail.shape)
        if scalar:
            return PathState(available_mbps=avail[0], delay_ms=delay[0], loss_pct=loss[0])
        return PathState(available_mbps=avail, delay_ms=delay, loss_pct=loss)
