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

import math
import pickle
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from edgetune.engines.base import BuildContext, RegisteredEngine, register_engine
from edgetune.engines.virtual import VirtualCluster
from edgetune.errors import InputError
from edgetune.fleet.faults import FaultSpec, split_round
from edgetune.fleet.schema import Fleet
from edgetune.network.monitor import MonitorConfig, NorthboundAPI, SimulatedMonitor
from edgetune.network.simulated import NetworkConfig, SimulatedNetwork
from edgetune.orchestrator.engine import EngineReport, Payloads, ReportTable, RoundResult
from edgetune.selection.ids import NodeValues

MB = 1_000_000


@dataclass(frozen=True)
class SimWorkload:
    """The modelled fine-tuning job, the ``[simulated]`` section of a run spec (defaults: Sec. IV-A).

    Attributes
    ----------
    model_bytes : float
        Model size (paper: 500 MB); also the gradient size unless ``gradient_bytes`` is set.
    dataset_bytes : float
        Data set size split equally over the nodes (paper: 1000 MB).
    gradient_bytes : float
        Gradient upload size; 0 = the model's size.
    compute_s_per_mb : float
        Seconds one MB of data takes on a node of compute power 1.
    aggregate_s : float
        Orchestrator time per epoch for averaging and the loss.
    """

    model_bytes: float = 500.0 * MB
    dataset_bytes: float = 1000.0 * MB
    gradient_bytes: float = 0.0
    compute_s_per_mb: float = 1.0
    aggregate_s: float = 0.0

    def __post_init__(self) -> None:
        for name in ("model_bytes", "dataset_bytes", "gradient_bytes", "compute_s_per_mb", "aggregate_s"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise InputError(name, value, "must be non-negative and finite")
        for name in ("model_bytes", "dataset_bytes", "gradient_bytes"):
            if getattr(self, name) > 1e15:
                raise InputError(name, getattr(self, name), "at most 1e15 bytes (a petabyte)")

    @property
    def upload_bytes(self) -> float:
        """What a node uploads per epoch."""
        return self.gradient_bytes or self.model_bytes


@register_engine
class SimulatedEngine(RegisteredEngine):
    """Modelled compute and traffic on a :class:`VirtualCluster`.

    Parameters
    ----------
    fleet : Fleet
    cluster : VirtualCluster
        The virtual network and monitor the run happens on.
    workload : SimWorkload
    faults : FaultSpec, optional
        Injected faults: a ``crash`` or ``down`` node computes nothing and uploads nothing that epoch
        and is in ``failed`` (the orchestrator learns it at once: a refused connection, not a timeout,
        so it does not hold the clock); a ``slow`` node's compute time is multiplied by its factor.
    """

    name = "simulated"
    time_base = "virtual"
    config_cls = SimWorkload

    def __init__(
        self,
        fleet: Fleet,
        cluster: VirtualCluster,
        workload: SimWorkload | None = None,
        faults: FaultSpec | None = None,
    ) -> None:
        self.fleet = fleet
        self.cluster = cluster
        self.workload = workload or SimWorkload()
        self.faults = faults or FaultSpec()
        self._ids = fleet.node_ids
        self._compute = fleet.arrays().compute

    @classmethod
    def build(cls, ctx: BuildContext) -> SimulatedEngine:
        """Network and monitor from ``default_rng(ctx.seed)``, then the engine."""
        engine = build_simulation(ctx.fleet, np.random.default_rng(ctx.seed), ctx.config, ctx.network, ctx.monitor)
        engine.faults = ctx.faults
        return engine

    @property
    def northbound(self) -> NorthboundAPI:
        """The simulated SDN monitor of this run's network."""
        return self.cluster.monitor

    def now_s(self) -> float:
        """Virtual seconds since distribution started."""
        return self.cluster.clock_s

    def _partition_bytes(self) -> float:
        return self.workload.dataset_bytes / len(self._ids)

    def distribute(self, node_ids: Sequence[int]) -> Payloads:
        """Model + partition to every node, concurrently, from t = 0."""
        self.cluster.send_down(node_ids, self.workload.model_bytes + self._partition_bytes())
        part = self._partition_bytes()
        ids = self.fleet.arrays().ids
        return Payloads(
            NodeValues(ids, np.full(ids.shape, part)),
            float(self.workload.upload_bytes),
            float(self.workload.model_bytes),
        )

    def train_round(self, epoch: int, active: Sequence[int]) -> RoundResult:
        """Compute ``partition_mb * compute_s_per_mb / C`` then upload a model-sized gradient.

        Injected faults (``self.faults``) take crashed and down nodes out of the round (``failed``) and
        stretch slow nodes' compute time.
        """
        failed: dict[int, str] = {}
        slow: dict[int, float] = {}
        if self.faults:
            up, down, slow = split_round(self.faults, epoch, active)
            now, asked = self.faults.at(epoch), set(up)
            failed = {i: ev.reason() for i, ev in now.items() if ev.kind == "crash" and i in asked}
            failed.update((i, ev.reason()) for i, ev in down.items())
            active = [i for i in up if i not in failed]
        idx = self.cluster.network.index_of(list(active))
        compute_s = (self._partition_bytes() / MB) * self.workload.compute_s_per_mb / self._compute[idx]
        if slow:
            compute_s = compute_s * np.asarray([slow.get(i, 1.0) for i in active])
        grad = self.workload.upload_bytes
        arrivals = self.cluster.compute_and_upload(active, compute_s, grad)
        ids = np.asarray(active, dtype=np.int64).reshape(-1)
        reports = ReportTable(
            ids=ids,
            train_time_s=np.asarray(compute_s, dtype=np.float64).reshape(-1),
            upload_bytes=np.full(ids.shape, int(grad), dtype=np.int64),
            arrived_s=np.asarray(arrivals, dtype=np.float64).reshape(-1),
        )
        return RoundResult(reports=reports, failed=failed)

    def apply_update(self, result: RoundResult, learning_rate: float) -> None:
        """Nothing to average in a simulation; spend the modelled aggregation time."""
        self.cluster.advance(self.workload.aggregate_s)

    def evaluate(self) -> float | None:
        """No real model: no loss."""
        return None

    def broadcast(self, node_ids: Sequence[int]) -> None:
        """Send the model; the next epoch's nodes start when *they* have it (not everyone)."""
        self.cluster.send_down(node_ids, self.workload.model_bytes)

    def finish(self) -> EngineReport:
        """Busy seconds and bytes per node."""
        return EngineReport(usage=self.cluster.usage(), info={"workload": asdict(self.workload)})

    def state(self) -> bytes:
        """The whole timeline (network, monitor, clock), pickled together."""
        return pickle.dumps(self.cluster, protocol=pickle.HIGHEST_PROTOCOL)

    def restore(self, state: Any) -> None:
        """Put back a timeline from :meth:`state`."""
        cluster = pickle.loads(state)
        if not isinstance(cluster, VirtualCluster):
            raise ValueError("not a simulated engine's state")
        self.cluster = cluster


def build_simulation(
    fleet: Fleet,
    rng: np.random.Generator,
    workload: SimWorkload | None = None,
    network_config: NetworkConfig | None = None,
    monitor_config: MonitorConfig | None = None,
) -> SimulatedEngine:
    """Wire a simulated network, its SDN monitor and the simulation engine for one run.

    Two independent child generators are spawned from ``rng``: one for the network's background
    variation, one for the monitor's measurement noise. The monitor is ``engine.northbound``.
    """
    net_rng, mon_rng = rng.spawn(2)
    network = SimulatedNetwork(fleet, net_rng, network_config)
    monitor = SimulatedMonitor(network, mon_rng, monitor_config)
    return SimulatedEngine(fleet, VirtualCluster(network, monitor), workload)
