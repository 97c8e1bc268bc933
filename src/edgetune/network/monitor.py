"""The SDN controller's view of the network: monitors and the northbound API the orchestrator reads.

The node-elimination paper (000, Sec. III-A and III-D): "the SDN controller periodically measures
end-to-end bandwidth, delay, and packet loss between the AI orchestrator and the edge nodes ... and
appl[ies] smoothing techniques to stabilize the values. These network metrics are retrieved by the AI
orchestrator via the northbound API of the SDN controller."

* :class:`NorthboundAPI` is all the orchestrator ever sees (Python interface; an HTTP JSON form lives
  in :mod:`edgetune.network.northbound`).
* :class:`NetworkMonitor` is a northbound API that measures: a monitor polls every
  ``poll_interval_s`` and smooths each metric with an exponentially weighted moving average
  ``m_k = alpha * x_k + (1 - alpha) * m_{k-1}`` (first sample initialises).
* :class:`SimulatedMonitor` measures a :class:`~edgetune.network.simulated.SimulatedNetwork` with
  noise: bandwidth x lognormal(0, ``bandwidth_noise``), delay + |N(0, ``delay_noise_ms``)|, loss as the
  fraction of ``loss_probes`` probes lost (binomial).
"""

from __future__ import annotations

import math
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from edgetune.errors import InputError
from edgetune.network.simulated import SimulatedNetwork

#: Combined EWMA weight below which old polls are skipped by lazy monitors (see SimulatedMonitor).
HORIZON_WEIGHT = 1e-4


@dataclass(frozen=True)
class PathMetrics:
    """Smoothed metrics of one orchestrator <-> node path, as served northbound."""

    bandwidth_mbps: float
    delay_ms: float
    loss_pct: float
    samples: int
    updated_s: float

    def to_json(self) -> dict[str, float | int]:
        """The northbound JSON object of one path."""
        return {
            "bandwidth_mbps": self.bandwidth_mbps,
            "delay_ms": self.delay_ms,
            "loss_pct": self.loss_pct,
            "samples": self.samples,
            "updated_s": self.updated_s,
        }


class NorthboundAPI(ABC):
    """What the orchestrator may read about the network, and nothing else."""

    #: Which controller serves it: "simulated", "openflow", "http" ...
    source: str = "abstract"

    @abstractmethod
    def path_metrics(self, node_ids: Sequence[int] | None = None) -> dict[int, PathMetrics]:
        """Latest smoothed metrics for ``node_ids`` (all known paths when ``None``)."""

    def time_s(self) -> float:
        """The controller's clock (seconds since it started measuring)."""
        return 0.0

    def path_arrays(self, node_ids: Sequence[int]) -> tuple[list[int], np.ndarray]:
        """Bulk form of :meth:`path_metrics`: ids that have metrics and an (n, 3) array of
        (bandwidth_mbps, delay_ms, loss_pct). Monitors override it to skip per-node objects."""
        got = self.path_metrics(node_ids)
        ids = [int(i) for i in node_ids if int(i) in got]
        arr = np.array([[got[i].bandwidth_mbps, got[i].delay_ms, got[i].loss_pct] for i in ids], dtype=np.float64)
        return ids, arr.reshape(len(ids), 3)


@dataclass(frozen=True)
class MonitorConfig:
    """Polling and smoothing of a monitor."""

    poll_interval_s: float = 5.0
    ewma_alpha: float = 0.3
    bandwidth_noise: float = 0.05
    delay_noise_ms: float = 1.0
    loss_probes: int = 200

    def __post_init__(self) -> None:
        if not 0 < self.ewma_alpha <= 1:
            raise InputError("ewma_alpha", self.ewma_alpha, "must be in (0, 1]")
        if not self.poll_interval_s > 0:
            raise InputError("poll_interval_s", self.poll_interval_s, "must be positive")
        for name in ("bandwidth_noise", "delay_noise_ms"):
            if not getattr(self, name) >= 0:
                raise InputError(name, getattr(self, name), "must be non-negative")
        if self.loss_probes < 1:
            raise InputError("loss_probes", self.loss_probes, "must be at least 1")


class NetworkMonitor(NorthboundAPI):
    """A northbound API that measures periodically and smooths (EWMA)."""

    def __init__(self, node_ids: Sequence[int], config: MonitorConfig | None = None) -> None:
        self.config = config or MonitorConfig()
        self._ids = [int(i) for i in node_ids]
        self._pos = {nid: k for k, nid in enumerate(self._ids)}
        n = len(self._ids)
        self._bw = np.full(n, np.nan)
        self._delay = np.full(n, np.nan)
        self._loss = np.full(n, np.nan)
        self._samples = np.zeros(n, dtype=np.int64)
        self._updated = np.zeros(n)
        self._now = 0.0
        self._lock = threading.Lock()

    def __getstate__(self) -> dict[str, object]:
        """Picklable (checkpoints): everything but the lock."""
        state = self.__dict__.copy()
        del state["_lock"]
        return state

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    @abstractmethod
    def measure(self, t_s: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """One raw measurement of every path at ``t_s``: (bandwidth_mbps, delay_ms, loss_pct)."""

    def record(self, t_s: float, bw: np.ndarray, delay: np.ndarray, loss: np.ndarray) -> None:
        """Fold one measurement into the EWMA state."""
        a = self.config.ewma_alpha
        with self._lock:
            first = self._samples == 0
            for state, new in ((self._bw, bw), (self._delay, delay), (self._loss, loss)):
                state[:] = np.where(first, new, a * new + (1 - a) * state)
            self._samples += 1
            self._updated[:] = t_s
            self._now = t_s

    def poll(self, t_s: float) -> None:
        """Measure once at ``t_s`` and smooth."""
        self.record(t_s, *self.measure(t_s))

    def time_s(self) -> float:
        """Time of the latest poll."""
        return self._now

    def path_arrays(self, node_ids: Sequence[int]) -> tuple[list[int], np.ndarray]:
        """Bulk read straight from the EWMA state."""
        self._sync()
        with self._lock:
            pos = np.fromiter((self._pos.get(int(i), -1) for i in node_ids), dtype=np.int64, count=len(node_ids))
            ok = pos >= 0
            ok[ok] = self._samples[pos[ok]] > 0
            sel = pos[ok]
            ids = [int(i) for i, k in zip(node_ids, ok.tolist(), strict=True) if k]
            return ids, np.stack([self._bw[sel], self._delay[sel], self._loss[sel]], axis=1)

    def _sync(self) -> None:
        """Hook: bring measurements up to date before a read (lazy monitors poll here)."""

    def path_metrics(self, node_ids: Sequence[int] | None = None) -> dict[int, PathMetrics]:
        """Latest smoothed metrics (paths never measured are left out)."""
        self._sync()
        ids = self._ids if node_ids is None else [int(i) for i in node_ids]
        out: dict[int, PathMetrics] = {}
        with self._lock:
            for nid in ids:
                k = self._pos.get(nid)
                if k is None or self._samples[k] == 0:
                    continue
                out[nid] = PathMetrics(
                    bandwidth_mbps=float(self._bw[k]),
                    delay_ms=float(self._delay[k]),
                    loss_pct=float(self._loss[k]),
                    samples=int(self._samples[k]),
                    updated_s=float(self._updated[k]),
                )
        return out


class SimulatedMonitor(NetworkMonitor):
    """Measures a :class:`SimulatedNetwork` with noise; advanced along the virtual clock.

    Polling is lazy: when :attr:`clock` is set, every read first polls up to ``clock()``, which gives
    the same values as polling all along (the network's state is a pure function of time and the
    traffic log) without paying for polls nobody reads.

    :meth:`advance_to` polls at every multiple of ``poll_interval_s`` up to ``t_s``. Polls older than
    the EWMA horizon ``h`` (where the combined weight ``(1 - alpha)^h`` of everything older falls
    below :data:`HORIZON_WEIGHT` = 1e-4) are skipped: they cannot move the served values by more than
    that fraction, and skipping them keeps a long virtual epoch O(N) instead of
    O(N x epoch length / interval).
    """

    source = "simulated"

    def __init__(
        self, network: SimulatedNetwork, rng: np.random.Generator, config: MonitorConfig | None = None
    ) -> None:
        super().__init__([int(i) for i in network.topology.node_ids], config)
        self.network = network
        self._rng = rng
        self._next_poll = 0.0
        a = self.config.ewma_alpha
        self._horizon = 1 if a >= 1 else max(1, math.ceil(math.log(HORIZON_WEIGHT) / math.log(1 - a)))
        #: Where "now" is on the virtual clock; reads advance the monitor to it first (lazy polling).
        self.clock: Callable[[], float] | None = None

    def _sync(self) -> None:
        """Poll up to the clock's present before serving."""
        if self.clock is not None:
            self.advance_to(self.clock())

    def measure(self, t_s: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """One noisy measurement of every path."""
        bw, delay, loss = self.measure_many(np.asarray([t_s]))
        return bw[0], delay[0], loss[0]

    def measure_many(self, times_s: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Noisy measurements of every path at each of ``times_s``: three (P, N) arrays."""
        cfg = self.config
        state = self.network.path_state(times_s)
        shape = state.available_mbps.shape
        bw = state.available_mbps * self._rng.lognormal(0.0, cfg.bandwidth_noise, shape)
        delay = state.delay_ms + np.abs(self._rng.normal(0.0, cfg.delay_noise_ms, shape))
        p = np.broadcast_to(np.clip(state.loss_pct / 100.0, 0.0, 1.0), shape)
        lost = self._rng.binomial(cfg.loss_probes, p)
        return bw, delay, 100.0 * lost / cfg.loss_probes

    def advance_to(self, t_s: float) -> None:
        """Poll at every ``poll_interval_s`` tick up to and including ``t_s``."""
        dt = self.config.poll_interval_s
        if self._next_poll > t_s:
            return
        last_tick = math.floor(t_s / dt)
        first_tick = max(math.ceil(self._next_poll / dt), last_tick - self._horizon + 1)
        times = np.arange(first_tick, last_tick + 1, dtype=np.float64) * dt
        bw, delay, loss = self.measure_many(times)  # all polls of the window at once
        for k, t in enumerate(times.tolist()):
            self.record(t, bw[k], delay[k], loss[k])
        self._next_poll = (last_tick + 1) * dt
        self.network.forget_before(last_tick * dt)
