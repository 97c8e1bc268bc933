"""The simulation engine: the paper's modelled LLM workload on a virtual clock, for fleets of any size.

Workload (node-elimination paper, Sec. IV-A): model 500 MB, data set 1000 MB split equally over the
nodes, 10 epochs, learning rate 5e-5. No real training happens, so the record's ``loss`` is ``null``.

Units: a node of compute power ``C`` trains on one megabyte of its partition in
``compute_s_per_mb / C`` seconds, so an epoch costs ``partition_mb * compute_s_per_mb / C``. The paper
gives compute power without a unit; ``compute_s_per_mb`` (default 1.0, i.e. a mean node with C = 30
processes 30 MB/s) is the one knob that ties it to time. Gradients have the size of the model.
Completion time runs from the start of distribution until the final loss is computed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

from edgetune.engines.base import Engine, NodeReport, NodeUsage, Payloads, RoundResult, register_engine
from edgetune.engines.virtual import VirtualCluster
from edgetune.fleet.schema import Fleet
from edgetune.network.monitor import MonitorConfig, SimulatedMonitor
from edgetune.network.simulated import NetworkConfig, SimulatedNetwork
from edgetune.orchestrator.loop import Orchestrator, OrchestratorConfig, ProgressFn
from edgetune.orchestrator.record import RunRecord
from edgetune.selection.base import SelectionPolicy

MB = 1_000_000


@dataclass(frozen=True)
class SimWorkload:
    """The modelled fine-tuning job (defaults: Sec. IV-A of the paper)."""

    model_bytes: float = 500 * MB
    dataset_bytes: float = 1000 * MB
    gradient_bytes: float | None = None  # None: same as the model
    compute_s_per_mb: float = 1.0
    aggregate_s: float = 0.0  # orchestrator time per epoch for averaging and the loss

    def __post_init__(self) -> None:
        for name in ("model_bytes", "dataset_bytes", "compute_s_per_mb", "aggregate_s"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be non-negative")


@register_engine
class SimulatedEngine(Engine):
    """Modelled compute and traffic on a :class:`VirtualCluster`.

    Parameters
    ----------
    fleet : Fleet
    cluster : VirtualCluster
        The virtual network and monitor the run happens on.
    workload : SimWorkload
    """

    name = "simulated"
    time_base = "virtual"

    def __init__(self, fleet: Fleet, cluster: VirtualCluster, workload: SimWorkload | None = None) -> None:
        self.fleet = fleet
        self.cluster = cluster
        self.workload = workload or SimWorkload()
        self._ids = fleet.node_ids
        self._compute = np.asarray([n.compute for n in fleet.nodes], dtype=np.float64)

    @property
    def node_ids(self) -> list[int]:
        """All nodes."""
        return list(self._ids)

    def now_s(self) -> float:
        """Virtual seconds since distribution started."""
        return self.cluster.clock_s

    def _partition_bytes(self) -> float:
        return self.workload.dataset_bytes / len(self._ids)

    def distribute(self, node_ids: Sequence[int]) -> None:
        """Model + partition to every node, concurrently, from t = 0."""
        self.cluster.send_down(node_ids, self.workload.model_bytes + self._partition_bytes())

    def train_round(self, epoch: int, active: Sequence[int]) -> RoundResult:
        """Compute ``partition_mb * compute_s_per_mb / C`` then upload a model-sized gradient."""
        idx = self.cluster.network.index_of(list(active))
        compute_s = (self._partition_bytes() / MB) * self.workload.compute_s_per_mb / self._compute[idx]
        grad = self.workload.gradient_bytes if self.workload.gradient_bytes is not None else self.workload.model_bytes
        arrivals = self.cluster.compute_and_upload(active, compute_s, grad)
        reports = {
            int(i): NodeReport(node_id=int(i), train_time_s=float(c), upload_bytes=int(grad), arrived_s=float(a))
            for i, c, a in zip(active, compute_s, arrivals, strict=True)
        }
        return RoundResult(reports=reports)

    def apply_update(self, result: RoundResult, learning_rate: float) -> None:
        """Nothing to average in a simulation; spend the modelled aggregation time."""
        self.cluster.advance(self.workload.aggregate_s)

    def evaluate(self) -> float | None:
        """No real model: no loss."""
        return None

    def broadcast(self, node_ids: Sequence[int]) -> None:
        """Send the model; the next epoch's nodes start when *they* have it (not everyone)."""
        self.cluster.send_down(node_ids, self.workload.model_bytes)

    def usage(self) -> dict[int, NodeUsage]:
        """Busy seconds and bytes per node."""
        return self.cluster.usage()

    def payloads(self) -> Payloads:
        """Equal partitions, model-sized gradients up and model broadcasts down."""
        w = self.workload
        grad = w.gradient_bytes if w.gradient_bytes is not None else w.model_bytes
        part = self._partition_bytes()
        return Payloads({i: part for i in self._ids}, float(grad), float(w.model_bytes))

    def describe(self) -> dict[str, object]:
        """Engine and workload for the record."""
        return {**super().describe(), "workload": asdict(self.workload)}


def build_simulation(
    fleet: Fleet,
    rng: np.random.Generator,
    workload: SimWorkload | None = None,
    network_config: NetworkConfig | None = None,
    monitor_config: MonitorConfig | None = None,
) -> tuple[SimulatedEngine, SimulatedMonitor]:
    """Wire a simulated network, its SDN monitor and the simulation engine for one run.

    Two independent child generators are spawned from ``rng``: one for the network's background
    variation, one for the monitor's measurement noise.
    """
    net_rng, mon_rng = rng.spawn(2)
    network = SimulatedNetwork(fleet, net_rng, network_config)
    monitor = SimulatedMonitor(network, mon_rng, monitor_config)
    cluster = VirtualCluster(network, monitor)
    return SimulatedEngine(fleet, cluster, workload), monitor


def simulate(
    fleet: Fleet,
    policy: SelectionPolicy,
    seed: int,
    config: OrchestratorConfig | None = None,
    workload: SimWorkload | None = None,
    network_config: NetworkConfig | None = None,
    monitor_config: MonitorConfig | None = None,
    progress: ProgressFn | None = None,
) -> RunRecord:
    """One simulated run of Algorithm 1: same fleet + seed + policy give the same record."""
    rng = np.random.default_rng(seed)
    engine, monitor = build_simulation(fleet, rng, workload, network_config, monitor_config)
    policy_rng = rng.spawn(1)[0]  # a third child: the network and monitor streams are unchanged
    record = Orchestrator(engine, policy, monitor, fleet, config, progress, policy_rng=policy_rng).run()
    record.config["seed"] = seed
    record.config["setup"] = fleet.setup
    return record
