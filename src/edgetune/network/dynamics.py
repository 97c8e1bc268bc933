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

    @staticmethod
    def _draw(n: int, m: int, rng: np.random.Generator, sigma: float) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        amp = rng.normal(0.0, 1.0, (n, m))
        amp /= np.sqrt((amp**2).mean(axis=1, keepdims=True)) + 1e-12  # exact std sigma for every link
        phase = rng.uniform(0.0, 2 * np.pi, (n, m))
        return amp * sigma * np.sqrt(2.0 / m), phase

    def _factor(
        self, coef: tuple[NDArray[np.float64], NDArray[np.float64]], t_s: NDArray[np.float64] | float, idx: NDArray[np.int64] | None
    ) -> NDArray[np.float64]:
        amp, phase = coef
        if idx is not None:
            amp, phase = amp[idx], phase[idx]
        t = np.asarray(t_s, dtype=np.float64)
        t = t[..., None] if t.ndim else t
        x = (amp * np.sin(self._omega * t + phase)).sum(axis=-1)
        return np.asarray(np.exp(x), dtype=np.float64)

    def bandwidth_factor(self, t_s: NDArray[np.float64] | float, idx: NDArray[np.int64] | None = None) -> NDArray[np.float64]:
        """Multiplier of each link's capacity at time ``t_s`` (scalar, or one time per selected link)."""
        return self._factor(self._bw, t_s, idx)

    def delay_factor(self, t_s: NDArray[np.float64] | float, idx: NDArray[np.int64] | None = None) -> NDArray[np.float64]:
        """Multiplier of each link's delay at time ``t_s``."""
        return self._factor(self._delay, t_s, idx)
