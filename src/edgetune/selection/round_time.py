"""Predicted round time of each node, from what the northbound API serves (shared by deadline, oort, adaptive).

A node that trains in an epoch receives the broadcast model, trains, and uploads its update. With
``S_down`` = :attr:`PolicyContext.broadcast_bytes`, ``S_up`` = :attr:`PolicyContext.update_bytes`,
its measured training time ``T_i`` and the served bandwidth ``B_i``, one-way delay ``D_i`` and loss
``L_i``, we predict

    R_i = min(B_i, R_tcp(2 D_i, L_i))                                        (N2 of docs/network.md)
    t_i = t(S_down; D_i, R_i) + T_i + t(S_up; D_i, R_i),   t(S; D, R) = D + 8 S / R      (N1)

with the simulator's own formulas (:mod:`edgetune.network.model`; written out here because the
selection layer may not import the network layer, and tests/selection/test_round_time.py checks
both agree). Max-min sharing of
gateway and core links (N3) is left out: a policy does not know the topology, and the bandwidth the
SDN monitor serves is already the path's *available* bandwidth under the current load.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

from edgetune.selection.base import MetricsTable, PolicyContext

#: TCP segment size and Mathis constant sqrt(3/2) of N2 (as in edgetune.network.model).
MSS_BYTES = 1460
MATHIS_C = math.sqrt(1.5)
FloatArray = NDArray[np.float64]


def tcp_rate_mbps(delay_ms: FloatArray, loss_pct: FloatArray) -> FloatArray:
    """N2 (Mathis et al., 1997): ``MSS * 8 / RTT * sqrt(3/2) / sqrt(p)`` with ``RTT = 2 D``; inf without loss."""
    rtt_s = np.maximum(2.0 * np.asarray(delay_ms, dtype=np.float64), 1e-3) / 1e3
    p = np.asarray(loss_pct, dtype=np.float64) / 100.0
    with np.errstate(divide="ignore"):
        return np.asarray((MSS_BYTES * 8.0 / rtt_s) * MATHIS_C / np.sqrt(p) / 1e6, dtype=np.float64)


def transfer_s(size_bytes: float, delay_ms: FloatArray, rate_mbps: FloatArray) -> FloatArray:
    """N1: ``D + 8 S / R`` seconds (0 for nothing to move)."""
    if size_bytes <= 0:
        return np.zeros(np.shape(delay_ms))
    return np.asarray(np.asarray(delay_ms) / 1e3 + size_bytes * 8.0 / (np.asarray(rate_mbps) * 1e6), dtype=np.float64)


def predicted_round_time_s(metrics: MetricsTable, context: PolicyContext) -> NDArray[np.float64]:
    """Predicted seconds for each row of ``metrics`` to receive the model, train and upload (N1-N2).

    Examples
    --------
    A node with 8 Mbps, 50 ms, no loss, 10 s of training, 1 MB up and 1 MB down:
    ``0.05 + 1.0 + 10 + 0.05 + 1.0 = 12.1`` s.
    """
    bw = metrics.column("bandwidth_mbps")
    delay = metrics.column("delay_ms")
    loss = metrics.column("loss_pct")
    rate = np.minimum(np.maximum(bw, 1e-9), tcp_rate_mbps(delay, loss))
    down = transfer_s(context.broadcast_bytes, delay, rate)
    up = transfer_s(context.update_bytes, delay, rate)
    return np.asarray(down + metrics.column("train_time_s") + up, dtype=np.float64)
