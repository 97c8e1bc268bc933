"""A virtual-clock cluster shared by the engines that model time (simulation, in-process training).

A cluster pickles as a whole (network, monitor, clock and per-node state together), which is how the
engines built on it checkpoint and resume their timeline.

It keeps, per node, when the node holds the current model, how long it has computed and what it has
moved, and turns compute durations and payload sizes into arrival times through the
:class:`~edgetune.network.simulated.SimulatedNetwork`; the simulated SDN monitor is advanced along
the same clock, so it measures the run's own traffic. Transfers run with one BLAS thread
(:func:`~edgetune.network.model.one_blas_thread`), as do the monitor's reads.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from edgetune.network.model import one_blas_thread
from edgetune.network.monitor import SimulatedMonitor
from edgetune.network.simulated import SimulatedNetwork
from edgetune.orchestrator.engine import UsageTable


class VirtualCluster:
    """Timeline of one run on a virtual clock.

    Parameters
    ----------
    network : SimulatedNetwork
    monitor : SimulatedMonitor
        Advanced to the clock after every phase.
    """

    def __init__(self, network: SimulatedNetwork, monitor: SimulatedMonitor) -> None:
        self.network = network
        self.monitor = monitor
        n = network.topology.n_nodes
        self.clock_s = 0.0
        self.ready_s = np.zeros(n)
        self.busy_s = np.zeros(n)
        monitor.clock = self.now_s  # the monitor polls lazily up to our present (a bound method: picklable)

    def now_s(self) -> float:
        """The virtual clock."""
        return self.clock_s

    def _idx(self, node_ids: Sequence[int]) -> NDArray[np.int64]:
        return self.network.index_of(list(node_ids))

    def send_down(self, node_ids: Sequence[int], size_bytes: NDArray[np.float64] | float) -> NDArray[np.float64]:
        """Start a download to ``node_ids`` at the current clock; a node holds it at the returned time."""
        idx = self._idx(node_ids)
        with one_blas_thread():
            ends = self.network.transfer(idx, size_bytes, self.clock_s, "down")
        self.ready_s[idx] = ends
        return ends

    def wait_for(self, node_ids: Sequence[int]) -> float:
        """Move the clock to when all ``node_ids`` hold their latest download."""
        idx = self._idx(node_ids)
        if idx.size:
            self.clock_s = max(self.clock_s, float(self.ready_s[idx].max()))
        return self.clock_s

    def compute_and_upload(
        self, node_ids: Sequence[int], compute_s: NDArray[np.float64], upload_bytes: NDArray[np.float64] | float
    ) -> NDArray[np.float64]:
        """Each node computes for ``compute_s`` once it holds the model, then uploads; returns arrivals.

        The clock moves to the last arrival (Algorithm 1 line 6: wait until all gradients are received).
        """
        idx = self._idx(node_ids)
        done = self.ready_s[idx] + compute_s
        self.busy_s[idx] += compute_s
        with one_blas_thread():
            arrivals = self.network.transfer(idx, upload_bytes, done, "up")
        if arrivals.size:
            self.clock_s = max(self.clock_s, float(arrivals.max()))
        return arrivals

    def advance(self, seconds: float) -> None:
        """Spend ``seconds`` at the orchestrator (aggregation, evaluation)."""
        self.clock_s += max(seconds, 0.0)

    def usage(self) -> UsageTable:
        """Busy seconds and bytes moved per node id (columns, copied: the run may go on)."""
        return UsageTable(
            ids=np.array(self.network.topology.node_ids, dtype=np.int64),
            busy_s=np.array(self.busy_s, dtype=np.float64),
            bytes_moved=np.array(self.network.bytes_moved, dtype=np.float64),
        )
