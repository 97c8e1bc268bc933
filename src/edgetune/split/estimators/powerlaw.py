"""Estimator (a): a power-law learning curve fitted to the early part of a loss curve.

The JQODI paper (004, Section III-E) models the ideal loss-time curve as a power law, after the
theoretical and empirical findings it cites ([33]-[35], Hestness et al.). We fit

    L(k) = c + a · k^(-α),   k = 1..m  (the first m fine-tuning epochs; L(0) is the quantization jump)

with ``scipy.optimize.curve_fit`` (bounded: a >= 0, 0.01 <= α <= 3, 0 <= c <= min L) and extrapolate:
K̂ = least k with L(k) < L_max (∞ beyond ``cap`` epochs). If the prefix itself already reaches L_max,
the observed epoch is returned.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence

import numpy as np
from scipy.optimize import curve_fit


def _law(k: np.ndarray, a: float, alpha: float, c: float) -> np.ndarray:
    return c + a * np.power(k, -alpha)


def observed_epochs(prefix: Sequence[float], target: float) -> float:
    """Least k >= 1 with ``prefix[k] < target`` (``prefix[0]`` = L(0)), else ``inf``."""
    for k, loss in enumerate(prefix[1:], start=1):
        if loss < target:
            return float(k)
    return math.inf


def fit_power_law(prefix: Sequence[float]) -> tuple[float, float, float]:
    """Fit (a, α, c) of ``L(k) = c + a k^-α`` to ``prefix[1:]`` (``prefix[0]`` = L(0) is skipped)."""
    y = np.asarray(prefix[1:], dtype=float)
    k = np.arange(1, len(y) + 1, dtype=float)
    c_hi = max(float(y.min()) - 1e-9, 1e-9)
    p0 = (max(float(y[0] - y[-1]), 1e-3) * 2.0, 0.5, c_hi * 0.5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            popt, _ = curve_fit(_law, k, y, p0=p0, bounds=([0.0, 0.01, 0.0], [1e3, 3.0, c_hi]), maxfev=5000)
        except (RuntimeError, ValueError):
            return (0.0, 1.0, float(y.mean()))
    return float(popt[0]), float(popt[1]), float(popt[2])


def predict_epochs(prefix: Sequence[float], target: float, cap: int = 300) -> float:
    """K̂ for one curve from its first ``len(prefix) - 1`` epochs."""
    seen = observed_epochs(prefix, target)
    if math.isfinite(seen):
        return seen
    a, alpha, c = fit_power_law(prefix)
    if c >= target or a <= 0:
        return math.inf
    # c + a k^-α < target  <=>  k > (a / (target - c))^(1/α)
    k = math.floor((a / (target - c)) ** (1.0 / alpha)) + 1
    k = max(k, len(prefix))
    return float(k) if k <= cap else math.inf
