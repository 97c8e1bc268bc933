"""Turning what an OpenFlow controller sees into smoothed path metrics (pure; no os-ken needed).

The controller app (:mod:`edgetune.testbed.controller_app`) feeds this object and serves it through
the foundation's northbound API (:class:`~edgetune.network.monitor.NorthboundAPI`), so the HTTP
documents it serves have exactly the simulated monitor's schema.

Per orchestrator <-> node path, every poll round (``poll_interval_s``):

* **Bandwidth** from port-counter deltas of the node's access port on its gateway bridge:
  ``r_k = 8 * max(d tx_bytes, d rx_bytes) / d t`` (the more loaded direction). A round's rate is a
  *bandwidth sample* only when the path was busy for the whole round, which we take to be when the
  rounds before and after it were busy too (``r >= busy_mbps``): the first and last round of a
  transfer cover it only in part and would under-estimate. The served value is the EWMA of the
  samples, i.e. the throughput that the path's bulk transfers achieved (under the run's own load and
  TCP's reaction to loss and delay). Before the first sample it is the peak round rate seen so far.
* **Delay** from echo probes the controller injects at the aggregation bridge as if sent by the
  orchestrator (packet-out) and catches on their way back (packet-in):
  ``one-way = (probe RTT - control-channel RTT of that bridge) / 2``; a round's sample is the median
  of the probes answered in it (robust to a probe held up by the controller's own scheduling).
* **Loss** from the same probes, in both directions: downlink probes as above, uplink probes
  injected at the gateway bridge as if sent by the node. A probe unanswered after
  ``probe_timeout_s`` is lost. A round's sample is ``100 * lost / sent`` over the last
  ``loss_window`` probes of each direction, averaged over the two directions.

Each metric is smoothed with ``m_k = alpha * x_k + (1 - alpha) * m_{k-1}`` (first sample initialises),
as :class:`~edgetune.network.monitor.NetworkMonitor` does. A path is served once it has a delay sample.
"""

from __future__ import annotations

import statistics
import threading
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from edgetune.network.monitor import NorthboundAPI, PathMetrics


@dataclass(frozen=True)
class EstimatorConfig:
    """Polling, probing and smoothing of the OpenFlow monitor."""

    poll_interval_s: float = 0.5
    probe_interval_s: float = 0.1
    probe_timeout_s: float = 3.0
    ewma_alpha: float = 0.3
    busy_mbps: float = 0.1
    loss_window: int = 200

    def __post_init__(self) -> None:
        if not 0 < self.ewma_alpha <= 1:
            raise ValueError(f"ewma_alpha must be in (0, 1], got {self.ewma_alpha}")
        for name in ("poll_interval_s", "probe_interval_s", "probe_timeout_s", "loss_window"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive")


def ewma(prev: float | None, x: float, alpha: float) -> float:
    """One EWMA step; the first sample initialises."""
    return x if prev is None else alpha * x + (1 - alpha) * prev


@dataclass
class _Path:
    last_counters: tuple[float, int, int] | None = None  # (t_s, rx_bytes, tx_bytes)
    rates: deque[float] = field(default_factory=lambda: deque(maxlen=3))
    peak_mbps: float = 0.0
    bw: float | None = None
    bw_samples: int = 0
    delay: float | None = None
    pending_delays: list[float] = field(default_factory=list)
    loss: float | None = None
    windows: dict[str, deque[bool]] = field(default_factory=dict)
    rounds: int = 0
    updated_s: float = 0.0
    raw: list[tuple[float, float | None, float | None, float | None]] = field(default_factory=list)


class PathEstimator(NorthboundAPI):
    """Smoothed bandwidth, delay and loss of every orchestrator <-> node path.

    Parameters
    ----------
    node_ids : sequence of int
    config : EstimatorConfig
    clock : callable, optional
        Seconds since measuring started (default: time since construction, monotonic).
    keep_raw : bool
        Keep every round's raw samples (for the accuracy check).
    """

    source = "openflow"

    def __init__(
        self,
        node_ids: Sequence[int],
        config: EstimatorConfig | None = None,
        clock: Callable[[], float] | None = None,
        keep_raw: bool = False,
    ) -> None:
        import time

        self.config = config or EstimatorConfig()
        t0 = time.monotonic()
        self._clock = clock or (lambda: time.monotonic() - t0)
        self._paths = {int(i): _Path() for i in node_ids}
        for p in self._paths.values():
            p.windows = {"down": deque(maxlen=self.config.loss_window), "up": deque(maxlen=self.config.loss_window)}
        self._lock = threading.Lock()
        self._keep_raw = keep_raw

    # ---- inputs -------------------------------------------------------------------------------------
    def port_counters(self, node_id: int, t_s: float, rx_bytes: int, tx_bytes: int) -> float | None:
        """Counters of the node's access port at switch time ``t_s``; returns this round's rate (Mbps)."""
        p = self._paths[node_id]
        with self._lock:
            last = p.last_counters
            p.last_counters = (t_s, rx_bytes, tx_bytes)
            if last is None or t_s <= last[0]:
                return None
            dt = t_s - last[0]
            rate = 8.0 * max(rx_bytes - last[1], tx_bytes - last[2], 0) / dt / 1e6
            p.rates.append(rate)
            p.peak_mbps = max(p.peak_mbps, rate)
            busy = self.config.busy_mbps
            if len(p.rates) == 3 and min(p.rates) >= busy:
                p.bw = ewma(p.bw, p.rates[1], self.config.ewma_alpha)
                p.bw_samples += 1
            return rate

    def probe_lost(self, node_id: int, direction: str) -> None:
        """A probe timed out."""
        with self._lock:
            self._paths[node_id].windows[direction].append(True)

    def probe_answered(self, node_id: int, direction: str, one_way_ms: float) -> None:
        """A probe came back; ``one_way_ms`` counts as a delay sample for downlink probes."""
        with self._lock:
            p = self._paths[node_id]
            p.windows[direction].append(False)
            if direction == "down":
                p.pending_delays.append(one_way_ms)

    def end_round(self) -> None:
        """Fold this round's delay and loss samples into the EWMA state."""
        t = self._clock()
        a = self.config.ewma_alpha
        with self._lock:
            for p in self._paths.values():
                d_sample = None
                if p.pending_delays:
                    d_sample = float(statistics.median(p.pending_delays))
                    p.delay = ewma(p.delay, d_sample, a)
                    p.pending_delays.clear()
                l_sample = None
                fr = [sum(w) / len(w) for w in p.windows.values() if len(w)]
                if fr:
                    l_sample = 100.0 * sum(fr) / len(fr)
                    p.loss = ewma(p.loss, l_sample, a)
                bw_now = p.rates[-1] if p.rates else None
                p.rounds += 1
                p.updated_s = t
                if self._keep_raw:
                    p.raw.append((t, bw_now, d_sample, l_sample))

    # ---- northbound ---------------------------------------------------------------------------------
    def time_s(self) -> float:
        """Seconds since the controller started measuring."""
        return float(self._clock())

    def path_metrics(self, node_ids: Sequence[int] | None = None) -> dict[int, PathMetrics]:
        """Smoothed metrics of every path that has a delay sample."""
        ids = list(self._paths) if node_ids is None else [int(i) for i in node_ids]
        out: dict[int, PathMetrics] = {}
        with self._lock:
            for nid in ids:
                p = self._paths.get(nid)
                if p is None or p.delay is None:
                    continue
                out[nid] = PathMetrics(
                    bandwidth_mbps=float(p.bw if p.bw is not None else p.peak_mbps),
                    delay_ms=float(p.delay),
                    loss_pct=float(p.loss if p.loss is not None else 0.0),
                    samples=int(p.rounds),
                    updated_s=float(p.updated_s),
                )
        return out

    def raw_samples(self, node_id: int) -> list[tuple[float, float | None, float | None, float | None]]:
        """Every round's raw ``(t_s, rate_mbps, delay_ms, loss_pct)`` of a path."""
        with self._lock:
            return list(self._paths[node_id].raw)

    def bandwidth_samples(self, node_id: int) -> int:
        """How many busy rounds went into the bandwidth EWMA."""
        return self._paths[node_id].bw_samples
