"""Seeded background variation of available bandwidth and delay over time.

Each access link and each gateway uplink gets a multiplicative factor ``f(t) = exp(x(t))`` where
``x`` is a stationary zero-mean process built as a random-phase sum of ``M`` sinusoids (a standard way
to synthesise a smooth Gaussian-like process with a chosen spectrum)::

    x_i(t) = sigma * sqrt(2 / M) * sum_m a_im * sin(2 pi t / P_m + phi_im)

with periods ``P_m`` spread log-uniformly between ``min_period_s`` and ``max_period_s``, amplitudes
``a_im ~ N(0, 1)`` normalised so that ``std(x) = sigma``, and phases ``phi_im ~ U(0, 2 pi)``. All
draws come from the ``numpy.random.Generator`` passed in, once, so the factor at any time ``t`` is a
pure function of ``t``: queries can come in any order and the same seed gives the same run. Bandwidth
uses ``f``; delay uses its own process.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray


@dataclass(frozen=True)
class VariationConfig:
    """Strength and time scale of the background variation (``sigma = 0`` turns it off)."""

    bandwidth_sigma: float = 0.15
    delay_sigma: float = 0.10
    components: int = 4
    min_period_s: float = 120.0
    max_period_s: float = 3600.0

    def __post_init__(self) -> None:
        from edgetune.errors import InputError

        for name in ("bandwidth_sigma", "delay_sigma"):
            if not 0 <= getattr(self, name) <= 5:
                raise InputError(name, getattr(self, name), "must be in [0, 5]")
        if not 0 <= self.components <= 64:
            raise InputError("components", self.components, "must be in [0, 64]")
        if not 0 < self.min_period_s <= self.max_period_s:
            raise InputError("min_period_s", self.min_period_s, "must be positive and at most max_period_s")


class BackgroundVariation:
    """Factors for ``n_links`` links; :meth:`bandwidth_factor` and :meth:`delay_factor` are pure in ``t``."""

    def __init__(self, n_links: int, rng: np.random.Generator, config: VariationConfig | None = None) -> None:
        cfg = config or VariationConfig()
        self.config = cfg
        m = max(cfg.components, 1)
        periods = np.geomspace(cfg.min_period_s, cfg.max_period_s, m)
        self._omega = 2 * np.pi / periods  # (M,)
        self._bw = self._draw(n_links, m, rng, cfg.bandwidth_sigma)
        self._delay = self._draw(n_links, m, rng, cfg.delay_sigma)
        self._stack_cache: dict[int, tuple[NDArray[np.float64], NDArray[np.float64]]] = {}

    @staticmethod
    def _draw(
        n: int, m: int, rng: np.random.Generator, sigma: float
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        amp = rng.normal(0.0, 1.0, (n, m))
        amp /= np.sqrt((amp**2).mean(axis=1, keepdims=True)) + 1e-12  # exact std sigma for every link
        phase = rng.uniform(0.0, 2 * np.pi, (n, m))
        amp *= sigma * np.sqrt(2.0 / m)
        # a sin(wt + phi) = (a cos phi) sin(wt) + (a sin phi) cos(wt): evaluating many links at one time
        # then costs M sines and one small matrix product instead of N x M sines.
        return amp * np.cos(phase), amp * np.sin(phase)

    def _stacked(self, coef: tuple[NDArray[np.float64], NDArray[np.float64]]) -> NDArray[np.float64]:
        """``[a_cos.T; a_sin.T]``, (2M, L), made once per coefficient pair (checked by identity, so a
        cache carried through pickling is never mistaken for another pair's)."""
        got = self._stack_cache.get(id(coef[0]))
        if got is None or got[0] is not coef[0]:
            got = (coef[0], np.ascontiguousarray(np.vstack([coef[0].T, coef[1].T])))
            self._stack_cache[id(coef[0])] = got
        return got[1]

    def _per_link(
        self,
        coef: tuple[NDArray[np.float64], NDArray[np.float64]],
        idx: NDArray[np.int64] | None,
        sin_t: NDArray[np.float64],
        cos_t: NDArray[np.float64],
    ) -> NDArray[np.float64]:
        """``sum_m a_cos[:, m] sin_t[m] + a_sin[:, m] cos_t[m]`` for the links ``idx``, with the
        trigonometric terms given component first, ``(M,) + t.shape``.

        Computed component by component on contiguous rows and summed in the order of
        ``(...).sum(axis=-1)`` over the last axis of length M (left to right), so the numbers are
        those of the per-link ``(L, M)`` form at a fraction of its cost.
        """
        m = self._omega.shape[0]
        stacked = self._stacked(coef)
        if idx is not None:
            stacked = np.take(stacked, idx, axis=1)
        lead = (m,) + (1,) * max(sin_t.ndim - 2, 0) + (stacked.shape[1],)
        a_cos, a_sin = stacked[:m].reshape(lead), stacked[m:].reshape(lead)
        if sin_t.ndim == 1:  # one time for every link
            sin_t, cos_t = sin_t[:, None], cos_t[:, None]
        v = a_cos * sin_t
        v += a_sin * cos_t
        x = v[0].copy()
        for k in range(1, m):
            x += v[k]
        return x

    def _factor(
        self,
        coef: tuple[NDArray[np.float64], NDArray[np.float64]],
        t_s: NDArray[np.float64] | float,
        idx: NDArray[np.int64] | None,
    ) -> NDArray[np.float64]:
        t = np.asarray(t_s, dtype=np.float64)
        if (idx is None and (t.ndim == 0 or t.shape[-1] == 1)) or (idx is not None and t.ndim == 2 and t.shape[1] == 1):
            # every link (or the links ``idx``) at one time (scalar -> (L,)) or at P times given as
            # (P, 1) -> (P, L): one (P, 2M) @ (2M, L) product with the coefficients stacked once
            flat = t.reshape(-1, 1) * self._omega  # (P, M)
            stacked = self._stacked(coef)
            x = np.hstack([np.sin(flat), np.cos(flat)]) @ (stacked if idx is None else stacked[:, idx])  # (P, L)
            return np.asarray(np.exp(x[0] if t.ndim == 0 else x), dtype=np.float64)
        # one time per selected link: t has the shape of idx (or of all links)
        sin_wt, cos_wt = _point_trig(self._omega, t)  # (M, ...), shared by the factors at the same times
        return np.asarray(np.exp(self._per_link(coef, idx, sin_wt, cos_wt)), dtype=np.float64)

    def bandwidth_factor(
        self, t_s: NDArray[np.float64] | float, idx: NDArray[np.int64] | None = None
    ) -> NDArray[np.float64]:
        """Multiplier of each link's capacity: at one time (scalar), at P times (``(P, 1)`` -> ``(P, L)``,
        or ``(P, S)`` for the S links ``idx``), or at one time per link selected by ``idx``."""
        return self._factor(self._bw, t_s, idx)

    def mean_bandwidth_factor(
        self, t0_s: NDArray[np.float64] | float, t1_s: NDArray[np.float64] | float, idx: NDArray[np.int64] | None = None
    ) -> NDArray[np.float64]:
        """Bandwidth factor averaged over ``[t0, t1]`` (see :meth:`_mean_factor`)."""
        return self._mean_factor(self._bw, t0_s, t1_s, idx)

    def mean_delay_factor(
        self, t0_s: NDArray[np.float64] | float, t1_s: NDArray[np.float64] | float, idx: NDArray[np.int64] | None = None
    ) -> NDArray[np.float64]:
        """Delay factor averaged over ``[t0, t1]`` (see :meth:`_mean_factor`)."""
        return self._mean_factor(self._delay, t0_s, t1_s, idx)

    def _mean_factor(
        self,
        coef: tuple[NDArray[np.float64], NDArray[np.float64]],
        t0_s: NDArray[np.float64] | float,
        t1_s: NDArray[np.float64] | float,
        idx: NDArray[np.int64] | None,
    ) -> NDArray[np.float64]:
        """``exp`` of the exact average of ``x`` over ``[t0, t1]`` for each selected link.

        The window average of ``a sin(w t) + b cos(w t)`` is analytic, so the result is smooth in the
        window's ends however many periods it spans (sampling would alias). For a short window it
        tends to :meth:`bandwidth_factor` at ``t0``; for a long one to 1 (``E[exp(x)] = exp(sigma^2/2)``
        is within 1.2 % of that at the default sigma).
        """
        t0, t1 = np.asarray(t0_s, dtype=np.float64), np.asarray(t1_s, dtype=np.float64)
        sin_avg, cos_avg = _window_trig(self._omega, t0, t1)
        return np.asarray(np.exp(self._per_link(coef, idx, sin_avg, cos_avg)), dtype=np.float64)

    def delay_factor(
        self, t_s: NDArray[np.float64] | float, idx: NDArray[np.int64] | None = None
    ) -> NDArray[np.float64]:
        """Multiplier of each link's delay at time ``t_s``."""
        return self._factor(self._delay, t_s, idx)


_TRIG_MEMO: dict[str, tuple[bytes, NDArray[np.float64], NDArray[np.float64]]] = {}


def _window_trig(
    omega: NDArray[np.float64], t0_s: NDArray[np.float64], t1_s: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Window averages of ``sin(w t)`` and ``cos(w t)`` over ``[t0, t1]``, shape ``(M,) + t0.shape``.

    The bandwidth and delay factors of a transfer use the same windows, so the last result is kept
    (keyed by the exact inputs) and the trigonometry is done once per window, not once per factor.
    """
    key = omega.tobytes() + t0_s.tobytes() + t1_s.tobytes() + bytes(str(t0_s.shape), "ascii")
    got = _TRIG_MEMO.get("last")
    if got is not None and got[0] == key:
        return got[1], got[2]
    w = omega.reshape(omega.shape + (1,) * t0_s.ndim)
    span = np.maximum(t1_s - t0_s, 1e-9)
    w_span = span * w
    short = w_span < 1e-6
    s0, c0 = _point_trig(omega, t0_s)  # the factors at the window's start usually came first
    wt1 = t1_s * w
    s1, c1 = np.sin(wt1), np.cos(wt1)
    sin_avg = c0 - c1
    sin_avg /= w_span
    cos_avg = s1 - s0
    cos_avg /= w_span
    if short.any():
        sin_avg = np.where(short, s0, sin_avg)
        cos_avg = np.where(short, c0, cos_avg)
    _TRIG_MEMO["last"] = (key, sin_avg, cos_avg)
    return sin_avg, cos_avg


_POINT_MEMO: dict[str, tuple[bytes, NDArray[np.float64], NDArray[np.float64]]] = {}


def _point_trig(
    omega: NDArray[np.float64], t_s: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """``sin(w t)`` and ``cos(w t)``, shape ``(M,) + t.shape``; the last result is kept (keyed by the exact
    inputs): a transfer asks for the bandwidth and delay factors of access and gateway links at the
    same start times, and its window averages start there too. Read-only results."""
    key = omega.tobytes() + t_s.tobytes() + bytes(str(t_s.shape), "ascii")
    got = _POINT_MEMO.get("last")
    if got is not None and got[0] == key:
        return got[1], got[2]
    wt = t_s * omega.reshape(omega.shape + (1,) * t_s.ndim)
    sin_wt, cos_wt = np.sin(wt), np.cos(wt)
    sin_wt.flags.writeable = False
    cos_wt.flags.writeable = False
    _POINT_MEMO["last"] = (key, sin_wt, cos_wt)
    return sin_wt, cos_wt
