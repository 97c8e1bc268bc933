"""Performance scoring, Eq. 2-3 of the node-elimination paper (000, Sec. III-C).

For every node ``i`` that trained in epoch ``t`` the orchestrator holds five metrics, in this order:
compute power ``C``, bandwidth ``B``, delay ``D``, loss ``L`` and training time ``T``. Each is
min-max normalised over those nodes and oriented so that 1 is best (C and B are benefits, D, L and T
costs); where max = min every node gets 1. Then

    s_i = <w, N_i>                                   (Eq. 2)
    lambda_s = <w, lambda>,  PerfScore_i = 1 - |s_i - lambda_s|      (Eq. 3)

with non-negative weights ``w`` summing to 1 and the utopia point ``lambda`` in [0, 1]^5. The paper
writes ``||s_i - lambda_s||`` with a double bar, but both sides are scalars, so the norm is the
absolute value.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from edgetune.network.model import one_blas_thread

#: Metric order used everywhere (weights, utopia point, normalised vectors).
METRIC_NAMES: tuple[str, ...] = ("compute", "bandwidth_mbps", "delay_ms", "loss_pct", "train_time_s")
#: True where larger is better.
BENEFIT: tuple[bool, ...] = (True, True, False, False, False)


def normalize(values: NDArray[np.float64], benefit: Sequence[bool] = BENEFIT) -> NDArray[np.float64]:
    """Min-max normalise each column of ``values`` (nodes x metrics), 1 = best (Eq. 2's N_i).

    >>> normalize(np.array([[10., 1., 5., 0., 2.], [30., 3., 5., 1., 4.]]))
    array([[0., 0., 1., 1., 1.],
           [1., 1., 1., 0., 0.]])
    """
    v = np.asarray(values, dtype=np.float64)
    lo = v.min(axis=0)
    hi = v.max(axis=0)
    span = hi - lo
    flat = span <= 0
    safe = np.where(flat, 1.0, span)
    up = (v - lo) / safe
    down = (hi - v) / safe
    out = np.where(np.asarray(benefit, dtype=bool), up, down)
    return np.where(flat, 1.0, out)


def perf_scores(values: NDArray[np.float64], weights: Sequence[float], utopia: Sequence[float]) -> NDArray[np.float64]:
    """Eq. 2-3: PerfScore of every row of ``values`` (nodes x 5 metrics in :data:`METRIC_NAMES` order)."""
    w = np.asarray(weights, dtype=np.float64)
    lam = np.asarray(utopia, dtype=np.float64)
    with one_blas_thread():  # a (n, 5) @ (5,) product: BLAS threads would only spin (issue 17)
        s = normalize(values) @ w  # Eq. 2
    lam_s = float(w @ lam)  # Eq. 3
    return np.asarray(1.0 - np.abs(s - lam_s), dtype=np.float64)
