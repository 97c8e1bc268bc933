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
from edgetune.network.model import one_blas_thread
from edgetune.network.simulated import PathState, SimulatedNetwork

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
        ids_arr = np.asarray(self._ids, dtype=np.int64)
        self._order = np.argsort(ids_arr, kind="stable")  # _positions: binary search over sorted ids
        self._sorted_ids = ids_arr[self._order]
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

    def _positions(self, node_ids: Sequence[int]) -> np.ndarray:
        """Positions of ``node_ids`` in the state arrays (-1 = unknown path)."""
        ids = np.asarray(node_ids, dtype=np.int64).reshape(-1)
        if self._sorted_ids.size == 0:
            return np.full(ids.shape[0], -1, dtype=np.int64)
        at = np.minimum(np.searchsorted(self._sorted_ids, ids), self._sorted_ids.shape[0] - 1)
        return np.where(self._sorted_ids[at] == ids, self._order[at], -1).astype(np.int64)

    def path_arrays(self, node_ids: Sequence[int]) -> tuple[list[int], np.ndarray]:
        """Bulk read straight from the EWMA state (only the paths read are brought up to date)."""
        pos = self._positions(node_ids)
        self._sync(pos[pos >= 0])
        with self._lock:
            ok = pos >= 0
            ok[ok] = self._samples[pos[ok]] > 0
            sel = pos[ok]
            ids = np.asarray(node_ids, dtype=np.int64).reshape(-1)[ok].tolist()
            return ids, np.stack([self._bw[sel], self._delay[sel], self._loss[sel]], axis=1)

    def _sync(self, pos: np.ndarray | None = None) -> None:
        """Hook: bring the paths at positions ``pos`` (all when ``None``) up to date before a read
        (lazy monitors poll here)."""

    def path_metrics(self, node_ids: Sequence[int] | None = None) -> dict[int, PathMetrics]:
        """Latest smoothed metrics (paths never measured are left out)."""
        ids = self._ids if node_ids is None else [int(i) for i in node_ids]
        if node_ids is None:
            self._sync()
        else:
            pos = self._positions(ids)
            self._sync(pos[pos >= 0])
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

    Polling is lazy and per path: when :attr:`clock` is set, a read first polls *the paths it reads*
    up to ``clock()``. The network's state is a pure function of time and the traffic log, so the
    noise-free part is exactly what polling all along would have measured; the noise is drawn only
    for the polls folded in, path by path (docs/network.md, "What the monitor costs").

    :meth:`advance_to` folds every ``poll_interval_s`` tick up to ``t_s`` into each path's EWMA.
    Polls older than the EWMA horizon ``h`` (where the combined weight ``(1 - alpha)^h`` of
    everything older falls below :data:`HORIZON_WEIGHT` = 1e-4) are skipped: they cannot move the
    served values by more than that fraction. The at most ``h`` polls of a read are folded in one
    vectorised pass (:func:`ewma_fold`), so a read costs O(h x paths read).
    """

    source = "simulated"

    def __init__(
        self, network: SimulatedNetwork, rng: np.random.Generator, config: MonitorConfig | None = None
    ) -> None:
        super().__init__([int(i) for i in network.topology.node_ids], config)
        self.network = network
        self._rng = rng
        #: Per path: the first poll tick not yet folded into its EWMA.
        self._next_tick = np.zeros(len(self._ids), dtype=np.int64)
        a = self.config.ewma_alpha
        self._horizon = 1 if a >= 1 else max(1, math.ceil(math.log(HORIZON_WEIGHT) / math.log(1 - a)))
        #: Where "now" is on the virtual clock; reads advance the monitor to it first (lazy polling).
        self.clock: Callable[[], float] | None = None

    def _sync(self, pos: np.ndarray | None = None) -> None:
        """Poll the paths at ``pos`` up to the clock's present before serving."""
        if self.clock is not None:
            with one_blas_thread():
                self.advance_to(self.clock(), pos)

    def measure(self, t_s: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """One noisy measurement of every path."""
        bw, delay, loss = self.measure_many(np.asarray([t_s]))
        return bw[0], delay[0], loss[0]

    def measure_many(
        self, times_s: np.ndarray, pos: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Noisy measurements of the paths at ``pos`` (all when ``None``) at each of the sorted
        ``times_s``: three (P, S) arrays. Draws bandwidth, then delay, then loss noise, each (P, S)."""
        cfg = self.config
        state = self.network.path_state(times_s, pos)
        shape = state.available_mbps.shape
        bw = state.available_mbps * self._rng.lognormal(0.0, cfg.bandwidth_noise, shape)
        delay = state.delay_ms + np.abs(self._rng.normal(0.0, cfg.delay_noise_ms, shape))
        p = np.broadcast_to(np.clip(state.loss_pct / 100.0, 0.0, 1.0), shape)
        lost = self._rng.binomial(cfg.loss_probes, p)
        return bw, delay, 100.0 * lost / cfg.loss_probes

    def _fold_noisy(self, state: PathState, weight: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The EWMA terms ``sum_k w_k x_k`` of the polls' noisy measurements ``x_k``, one draw per path.

        The noise-free sums are exact (``A = sum w s`` of the true bandwidth ``s_k``, ``D = sum w d``
        of the true delay, ``sum w`` times the static loss); the noise of the folded polls is drawn
        once per path from a distribution with the exact mean and variance of the weighted sum of
        the per-poll noises (docs/network.md, "One noise draw per read"), and is exactly the per-poll
        distribution when one poll is folded:

        * bandwidth ``A * LogN(mu*, sigma*)``, ``exp(sigma*^2) - 1 = (exp(sigma^2) - 1) B / A^2``
          with ``B = sum w^2 s^2`` and ``mu* = (sigma^2 - sigma*^2) / 2``;
        * delay ``D + |N(theta s, s)|`` (folded normal) matching mean ``sigma_d sqrt(2/pi) sum w``
          and variance ``sigma_d^2 (1 - 2/pi) sum w^2`` of ``sum w |N(0, sigma_d)|``;
        * loss ``100 (p sum w + r (X / n - p))``, ``X ~ Bin(n, p)``, ``r = sqrt(sum w^2)``.

        Draws bandwidth, then delay, then loss noise, each one value per path, in path order.
        """
        cfg = self.config
        avail, delay_ms = state.available_mbps, state.delay_ms
        n_paths = avail.shape[1]
        if weight.shape[1] == 1:  # every path folds the same polls: matrix-vector products
            w = weight[:, 0]
            sum_w = np.full(n_paths, w.sum())
            r = np.full(n_paths, math.sqrt(float((w * w).sum())))
            a_sum, b_sum, d_sum = w @ avail, (w * w) @ (avail * avail), w @ delay_ms
        else:
            sum_w = weight.sum(axis=0)
            r = np.sqrt((weight * weight).sum(axis=0))
            wa = weight * avail
            a_sum, b_sum, d_sum = wa.sum(axis=0), (wa * wa).sum(axis=0), (weight * delay_ms).sum(axis=0)
        sig2 = cfg.bandwidth_noise**2
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(a_sum > 0, b_sum / (a_sum * a_sum), 1.0)
        s2 = np.log1p(math.expm1(sig2) * ratio)
        bw = a_sum * self._rng.lognormal((sig2 - s2) / 2.0, np.sqrt(s2), n_paths)
        theta, scale = _folded_normal_fit(sum_w, r)
        scale = scale * cfg.delay_noise_ms
        delay = d_sum + np.abs(self._rng.normal(theta * scale, scale, n_paths))
        p = np.clip(state.loss_pct[-1] / 100.0, 0.0, 1.0)  # loss is static per path in SimulatedNetwork
        lost = self._rng.binomial(cfg.loss_probes, p)
        loss = 100.0 * (sum_w * p + r * (lost / cfg.loss_probes - p))
        return bw, delay, loss

    def advance_to(self, t_s: float, pos: np.ndarray | None = None) -> None:
        """Fold every ``poll_interval_s`` tick up to and including ``t_s`` into the paths at ``pos``
        (all paths when ``None``); at most the last ``h`` ticks of each path are measured."""
        dt = self.config.poll_interval_s
        last_tick = math.floor(t_s / dt)
        if last_tick < 0:
            return
        sel = np.arange(len(self._ids)) if pos is None else _unique_sorted(np.asarray(pos, dtype=np.int64))
        sel = sel[self._next_tick[sel] <= last_tick]
        if sel.size == 0:
            return
        first = np.maximum(self._next_tick[sel], last_tick - self._horizon + 1)  # per path, within the horizon
        lo = int(first.min())
        times = np.arange(lo, last_tick + 1, dtype=np.float64) * dt  # the union window, (W,)
        n_new = last_tick + 1 - first  # polls folded per path
        a = self.config.ewma_alpha
        with self._lock:
            fresh = self._samples[sel] == 0
        weight = ewma_weights(times.shape[0], fresh, n_new, a)  # (W, S), or (W, 1) when all paths share it
        state = self.network.path_state(times, sel)  # noise-free polls of the window, (W, S)
        bw, delay, loss = self._fold_noisy(state, weight)
        keep_old = np.where(fresh, 0.0, (1.0 - a) ** n_new.astype(np.float64))
        with self._lock:
            for store, new in ((self._bw, bw), (self._delay, delay), (self._loss, loss)):
                store[sel] = keep_old * np.where(fresh, 0.0, store[sel]) + new
            self._samples[sel] += n_new
            self._updated[sel] = last_tick * dt
            self._next_tick[sel] = last_tick + 1
            self._now = max(self._now, last_tick * dt)
        # no later read folds a poll older than the horizon before this tick
        self.network.forget_before((last_tick - self._horizon + 1) * dt)


def ewma_fold(state: np.ndarray, fresh: np.ndarray, x: np.ndarray, n_new: np.ndarray, alpha: float) -> np.ndarray:
    """Fold the last ``n_new[s]`` rows of ``x[:, s]`` into each EWMA ``state[s]`` in one pass.

    Equal to ``state <- alpha * x_k + (1 - alpha) * state`` for each of those rows in order (the first
    row initialises a ``fresh`` state): the closed form

        m = (1 - alpha)^n * m_0 + sum_k alpha (1 - alpha)^(n - 1 - k) x_k,

    where a fresh state has no ``m_0`` and its oldest row weighs ``(1 - alpha)^(n - 1)``.

    Parameters
    ----------
    state : (S,) float
        Current EWMA values (ignored where ``fresh``).
    fresh : (S,) bool
        Paths never measured before.
    x : (W, S) float
        Measurements, oldest row first; only the last ``n_new[s]`` rows of column ``s`` are used.
    n_new : (S,) int
        Rows folded per path, 1 <= n_new <= W.
    alpha : float
        EWMA weight of a new sample.

    Returns
    -------
    (S,) float
    """
    weight = ewma_weights(x.shape[0], fresh, n_new, alpha)
    old = np.where(fresh, 0.0, (1.0 - alpha) ** n_new.astype(np.float64) * np.where(fresh, 0.0, state))
    return np.asarray(old + (weight * np.where(weight > 0, x, 0.0)).sum(axis=0), dtype=np.float64)


def ewma_weights(w_rows: int, fresh: np.ndarray, n_new: np.ndarray, alpha: float) -> np.ndarray:
    """Weight of each of the last ``w_rows`` polls in each path's EWMA after folding ``n_new`` of them.

    Row ``k`` (oldest first, lag ``w_rows - 1 - k``) weighs ``alpha (1 - alpha)^lag`` if it is one of
    the path's ``n_new`` newest polls, else 0; a ``fresh`` path's oldest folded poll initialises the
    EWMA and weighs ``(1 - alpha)^lag``. Returns ``(w_rows, 1)`` when every path has the same
    ``n_new`` and freshness (the common case), else ``(w_rows, S)``.
    """
    lag = (w_rows - 1 - np.arange(w_rows))[:, None]  # 0 for the newest row
    keep = 1.0 - alpha
    if n_new.size and (n_new == n_new[0]).all() and (fresh == fresh[0]).all():
        n_new, fresh = n_new[:1], fresh[:1]
    used = lag < n_new[None, :]
    weight = np.where(used, alpha * keep**lag, 0.0)
    oldest = (lag == n_new[None, :] - 1) & fresh[None, :]
    return np.asarray(np.where(oldest, keep**lag, weight), dtype=np.float64)


_SQRT_2_PI = math.sqrt(2.0 / math.pi)


def _folded_moments(theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and variance of ``|N(theta, 1)|``."""
    erf = np.vectorize(math.erf, otypes=[np.float64])
    mean = _SQRT_2_PI * np.exp(-theta * theta / 2.0) + theta * erf(theta / math.sqrt(2.0))
    return mean, theta * theta + 1.0 - mean * mean


def _folded_normal_fit(sum_w: np.ndarray, r: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(theta, s)`` per path such that ``|N(theta s, s)|`` has the mean ``sqrt(2/pi) sum_w`` and the
    variance ``(1 - 2/pi) r^2`` of ``sum_k w_k |N_k(0, 1)|`` (``r^2 = sum w^2``).

    The ratio mean / sd of ``|N(theta, 1)|`` grows from that of the half-normal (``theta = 0``, one
    poll) with ``theta``; it is solved by bisection once per distinct ratio (few: one per
    ``(n_new, fresh)``).
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        want = np.where(r > 0, _SQRT_2_PI * sum_w / (math.sqrt(1.0 - 2.0 / math.pi) * r), 0.0)
    uniq, inverse = np.unique(want, return_inverse=True)
    lo, hi = np.zeros_like(uniq), np.full_like(uniq, 64.0)
    half_normal = _SQRT_2_PI / math.sqrt(1.0 - 2.0 / math.pi)
    for _ in range(60):
        mid = (lo + hi) / 2.0
        mean, var = _folded_moments(mid)
        low = mean / np.sqrt(var) < uniq
        lo, hi = np.where(low, mid, lo), np.where(low, hi, mid)
    theta = np.where(uniq <= half_normal * (1 + 1e-12), 0.0, (lo + hi) / 2.0)
    _, var = _folded_moments(theta)
    scale = np.sqrt((1.0 - 2.0 / math.pi) / var)  # sd of |N(theta s, s)| = s sqrt(var) = sqrt(1 - 2/pi) r
    return theta[inverse.reshape(-1)], scale[inverse.reshape(-1)] * r


def _unique_sorted(pos: np.ndarray) -> np.ndarray:
    """``np.unique(pos)``, skipping the hash pass when ``pos`` is already strictly increasing (the
    orchestrator asks for paths in fleet order)."""
    if pos.size < 2 or bool((pos[1:] > pos[:-1]).all()):
        return pos
    return np.unique(pos)
