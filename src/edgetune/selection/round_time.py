"""Predicted round time of each node, from what the northbound API serves (shared by deadline, oort, adaptive).

A node that trains in an epoch receives the broadcast model, trains, and uploads its update. With
``S_down`` = :attr:`PolicyContext.broadcast_bytes`, ``S_up`` = :attr:`PolicyContext.update_bytes`,
its measured training time ``T_i`` and the served bandwidth ``B_i``, one-way delay ``D_i`` and loss
``L_i``, we predict

    R_i = min(B_i, R_tcp(2 D_i, L_i))                                        (N2 of docs/network.md)
    t_i = t(S_down; D_i, R_i) + T_i + t(S_up; D_i, R_i),   t(S; D, R) = D + 8 S / R      (N1)

with the same functions the simulator uses (:mod:`edgetune.network.model`). Max-min sharing of
gateway and core links (N3) is left out: a policy does not know the topology, and the bandwidth the
SDN monitor serves is already the path's *available* bandwidth under the current load.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from edgetune.network.model import mathis_throughput_mbps, transfer_time_s
from edgetune.selection.base import MetricsTable, PolicyContext


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
    rate = np.minimum(np.maximum(bw, 1e-9), mathis_throughput_mbps(2.0 * delay, loss))
    down = transfer_time_s(context.broadcast_bytes, delay, rate)
    up = transfer_time_s(context.update_bytes, delay, rate)
    return np.asarray(down + metrics.column("train_time_s") + up, dtype=np.float64)
