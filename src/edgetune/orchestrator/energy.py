"""Energy of each edge node over a run.

    E_i = P_busy,i * t_busy,i + P_idle,i * (T_run - t_busy,i) + e_radio,i * MB_i

``t_busy`` is the node's (virtual or measured) compute time, ``T_run`` the run's completion time,
``MB_i`` the megabytes it received and sent, and ``e_radio`` the radio energy per megabyte. Defaults
(fleet generator): idle 2.5 W, busy 3 W + 0.2 W per unit of compute power (a mean node: 9 W, in the
range of single-board edge computers), 0.1 J/MB radio (Wi-Fi is roughly 5-100 nJ/bit). Eliminated
nodes idle for the rest of the run but still receive the model every epoch.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from edgetune.fleet.schema import Fleet
from edgetune.orchestrator.engine import NodeUsage


@dataclass(frozen=True)
class NodeEnergy:
    """One node's energy split."""

    compute_j: float
    idle_j: float
    radio_j: float

    @property
    def total_j(self) -> float:
        """Sum of the three parts."""
        return self.compute_j + self.idle_j + self.radio_j


def node_energy(fleet: Fleet, usage: Mapping[int, NodeUsage], run_time_s: float) -> dict[int, NodeEnergy]:
    """Energy of every node of ``fleet`` given its usage over a run of ``run_time_s`` seconds."""
    out: dict[int, NodeEnergy] = {}
    for node in fleet.nodes:
        u = usage.get(node.id, NodeUsage(busy_s=0.0, bytes_moved=0.0))
        busy = min(u.busy_s, run_time_s) if run_time_s > 0 else u.busy_s
        out[node.id] = NodeEnergy(
            compute_j=node.busy_power_w * busy,
            idle_j=node.idle_power_w * max(run_time_s - busy, 0.0),
            radio_j=node.radio_j_per_mb * u.bytes_moved / 1e6,
        )
    return out
