"""Algorithm 1 of the node-elimination paper (000): the one orchestrator loop every engine runs under.

    2    epoch_loss <- PRE_TRAINING_LOSS
    3-4  send data-set partitions and the model to every node
    5    for each epoch:
    6      wait until all gradients are received            (engine.train_round)
    7      gradient_sum <- sum of received gradients
    8      PerfScore of every node that trained (Eq. 2-3)     (policy.score)
    9-11   sort, eliminate the n weakest (Eq. 1), update active_nodes   (policy.select)
    12-13  update_magnitude <- LR * (1/|active|) * gradient_sum; params -= update_magnitude
    15     epoch_loss <- validation loss
    16-17  send the updated model to every node, eliminated ones included   (engine.broadcast)

Reading of line 12: the paper divides the sum of the gradients received *this* epoch by
``|active_nodes|`` *after* line 11 removed the eliminated ones, which would scale the step by
``n_before / n_after``; it then calls the result "exactly equivalent to ... the centralized SGD
calculation", which holds only when the divisor is the number of gradients summed. We follow the
stated intent: the update is the mean of the gradients received this epoch (FedSGD), so with equal
partitions it equals one SGD step on the union of those partitions (docs/selection.md).

Per-node state lives in numpy columns by fleet position (``Fleet.arrays()``), and replies are read as
columns (:class:`~edgetune.orchestrator.engine.ReportTable`), so an epoch costs no Python work per node
(issue 17). A NaN training loss counts as no loss reported (the node's previous loss is kept).

The loop never reads the fleet's ground-truth links: bandwidth, delay and loss come only from the
:class:`~edgetune.network.monitor.NorthboundAPI`; compute power is what the fine-tuning initiator
declared for each device (Sec. III-A) and training time is what the node reported.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from edgetune.errors import InputError
from edgetune.fleet.schema import Fleet
from edgetune.network.monitor import NorthboundAPI
from edgetune.orchestrator.energy import energy_columns, sequential_sum
from edgetune.orchestrator.engine import Engine, EngineReport, NodeUsage, ReportTable, UsageTable
from edgetune.orchestrator.record import EpochRecord, RunRecord, data_fraction, time_to_target_s
from edgetune.selection.backoff import RetryBackoff
from edgetune.selection.base import MetricsTable, PolicyContext, SelectionPolicy
from edgetune.selection.ids import IdIndex, NodeValues


@dataclass(frozen=True)
class OrchestratorConfig:
    """Epoch count T and learning rate of Algorithm 1, and a target loss.

    The paper uses 10 epochs and 5e-5 (full fine-tuning with SGD). Our default rate, 3e-3, is for the
    server Adam step on small models and on LoRA adapters (docs/runs.md, docs/training.md); the
    simulated engine has no model and only records it. ``target_loss`` > 0 makes the record carry
    ``time_to_target_s`` (issue 12); 0 = no target (TOML has no null).
    """

    epochs: int = 10
    learning_rate: float = 3e-3
    target_loss: float = 0.0

    def __post_init__(self) -> None:
        if self.epochs < 1:
            raise InputError("epochs", self.epochs, "must be at least 1")
        if not self.learning_rate > 0:
            raise InputError("learning_rate", self.learning_rate, "must be positive")
        if not (math.isfinite(self.target_loss) and self.target_loss >= 0):
            raise InputError("target_loss", self.target_loss, "must be a finite number >= 0 (0 = no target)")


@dataclass
class LoopState:
    """Where the loop stands after an epoch: what a checkpoint must hold besides engine and policy.

    Attributes
    ----------
    record : RunRecord
        The record so far (epochs finished).
    active : list of int
        Nodes that train in the next epoch (line 11's ``active_nodes``).
    last_train_time_s : ndarray
        Latest reported training time of every node, by position in ``Fleet.arrays().ids``; NaN
        where the node never trained (standby scoring).
    last_train_loss : ndarray
        Latest reported training loss of every node, by fleet position; NaN where it reported none
        (statistical utility).
    backoff : RetryBackoff
        Failure streaks: a node that keeps failing sits epochs out (:mod:`edgetune.selection.backoff`).
    """

    record: RunRecord
    active: list[int]
    last_train_time_s: NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))
    last_train_loss: NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))
    backoff: RetryBackoff = field(default_factory=RetryBackoff)

    @property
    def epochs_done(self) -> int:
        """Number of finished epochs."""
        return len(self.record.epochs)


def _by_position(values: Any, index: IdIndex) -> NDArray[np.float64]:
    """A per-node column by fleet position (NaN = none) from a column or an ``{id: value}`` dict (the
    form of checkpoints written before issue 17)."""
    if isinstance(values, Mapping):
        out = np.full(len(index), np.nan)
        if values:
            pos, found = index.lookup(list(values))
            vals = np.fromiter((float(v) for v in values.values()), dtype=np.float64, count=len(values))
            out[pos[found]] = vals[found]
        return out
    arr = np.asarray(values, dtype=np.float64)
    return arr if arr.shape == (len(index),) else np.full(len(index), np.nan)


def _partition_bytes(data_bytes: Mapping[int, float], ids: NDArray[np.int64]) -> NodeValues:
    """Every node's partition size, in fleet order (``KeyError`` for a node the engine did not size)."""
    if isinstance(data_bytes, NodeValues):
        values, found = data_bytes.lookup(ids)
        if not found.all():
            raise KeyError(int(ids[np.flatnonzero(~found)[0]]))
    else:
        values = np.fromiter((float(data_bytes[i]) for i in ids.tolist()), dtype=np.float64, count=len(ids))
    return NodeValues(ids, values)


ProgressFn = Callable[[EpochRecord], None]
EpochHook = Callable[[LoopState], None]


class Orchestrator:
    """Runs Algorithm 1 with a selection policy on an engine.

    Parameters
    ----------
    engine : Engine
        Runs the work (simulated, in-process, Flower, testbed).
    policy : SelectionPolicy
        Node elimination or all resources (or any registered policy).
    northbound : NorthboundAPI
        The SDN controller's API: the only source of network metrics.
    fleet : Fleet
        Declared compute power and power draw of every node (never its links).
    config : OrchestratorConfig
    progress : callable, optional
        Called with each finished epoch's record.
    on_epoch : callable, optional
        Called with the :class:`LoopState` after each finished epoch (the runs layer streams the epoch
        and writes a checkpoint there).
    policy_rng : numpy.random.Generator, optional
        The policy's own generator (its :class:`~edgetune.selection.base.PolicyContext` ``rng``);
        default ``default_rng(0)``. The runs layer derives it from the run's seed.
    record_config : mapping, optional
        The record's ``config`` (the runs layer passes the resolved run spec); default: T, learning
        rate and the policy's settings.

    Attributes
    ----------
    record : RunRecord or None
        The record being built; after an exception it holds the epochs finished so far.
    """

    def __init__(
        self,
        engine: Engine,
        policy: SelectionPolicy,
        northbound: NorthboundAPI,
        fleet: Fleet,
        config: OrchestratorConfig | None = None,
        progress: ProgressFn | None = None,
        on_epoch: EpochHook | None = None,
        record_config: Mapping[str, Any] | None = None,
        policy_rng: np.random.Generator | None = None,
    ) -> None:
        self.engine = engine
        self.policy = policy
        self.northbound = northbound
        self.fleet = fleet
        self.config = config or OrchestratorConfig()
        self.progress = progress
        self.on_epoch = on_epoch
        self.record_config = record_config
        self.policy_rng = policy_rng
        self.record: RunRecord | None = None

    def _metrics(
        self,
        positions: NDArray[np.int64],
        train_time_s: NDArray[np.float64],
        train_loss: NDArray[np.float64],
        index: IdIndex,
    ) -> MetricsTable:
        """Eq. 2's raw inputs for the nodes at fleet ``positions`` (nodes without network metrics are
        left out); training time and loss are columns by fleet position."""
        cols = self.fleet.arrays()
        asked = cols.ids[positions]
        got, net = self.northbound.path_arrays(asked.tolist())
        ids = np.asarray(got, dtype=np.int64).reshape(-1)
        pos = positions if np.array_equal(ids, asked) else index.positions(ids)
        values = np.empty((len(ids), 5))
        values[:, 0] = cols.compute[pos]
        values[:, 1:4] = net
        values[:, 4] = train_time_s[pos]
        return MetricsTable(ids=ids.tolist(), values=values, train_loss=train_loss[pos].copy())

    def _policy_context(self, nodes: list[int], payloads: Any) -> PolicyContext:
        rng = self.policy_rng if self.policy_rng is not None else np.random.default_rng(0)
        if payloads is None:
            return PolicyContext.uniform(nodes, self.config.epochs, rng)
        return PolicyContext(
            tuple(nodes),
            self.config.epochs,
            payloads.data_bytes,
            payloads.update_bytes,
            payloads.broadcast_bytes,
            rng,
        )

    def new_record(self) -> RunRecord:
        """An empty record for this run (policy, node list, time base)."""
        config = (
            dict(self.record_config)
            if self.record_config is not None
            else {"epochs": self.config.epochs, "learning_rate": self.config.learning_rate, **self.policy.describe()}
        )
        return RunRecord(
            policy=self.policy.name,
            config=config,
            nodes=self.fleet.arrays().ids.tolist(),
            time_base=self.engine.time_base,
        )

    def run(self, resume: LoopState | None = None) -> RunRecord:
        """Run all epochs (or the rest of them, from ``resume``) and return the record.

        The engine's :meth:`~edgetune.orchestrator.engine.Engine.finish` is called in every case; on an
        exception :attr:`record` keeps the epochs finished so far (with totals up to the last one).
        """
        cfg = self.config
        engine = self.engine
        cols = self.fleet.arrays()
        index = IdIndex.build(cols.ids)
        n_nodes = len(index)
        nodes = cols.ids.tolist()
        finished = False
        try:
            if resume is None:
                record = self.new_record()
                self.record = record
                record.pre_training_loss = engine.evaluate()  # line 2
                payloads = engine.distribute(nodes)  # lines 3-4
                context = self._policy_context(nodes, payloads)
                record.data_bytes = _partition_bytes(context.data_bytes, cols.ids)
                self.policy.start(context)
                state = LoopState(record=record, active=list(nodes))
            else:
                state = resume
                record = state.record
                self.record = record
            state.last_train_time_s = last_train_time = _by_position(state.last_train_time_s, index)
            state.last_train_loss = last_train_loss = _by_position(state.last_train_loss, index)
            active = state.active
            loss = record.epochs[-1].loss if record.epochs else record.pre_training_loss
            backoff = state.backoff
            for epoch in range(state.epochs_done + 1, cfg.epochs + 1):
                start = engine.now_s()
                resting = backoff.resting(epoch, active)  # nodes that keep failing sit epochs out
                asked = [i for i in active if i not in resting] if resting else active
                result = engine.train_round(epoch, asked)  # lines 5-7
                reports = ReportTable.from_mapping(result.reports)
                # every node by fleet position: who replied, and which row of the reports is theirs
                rpos, rfound = index.lookup(reports.ids)
                replied = np.zeros(n_nodes, dtype=bool)
                replied[rpos[rfound]] = True
                row_of = np.full(n_nodes, -1, dtype=np.int64)
                row_of[rpos[rfound]] = np.flatnonzero(rfound)
                asked_ids = np.asarray(asked, dtype=np.int64).reshape(-1)
                backoff.update(epoch, asked_ids[~replied[index.positions(asked_ids)]].tolist(), reports)
                active_ids = np.asarray(active, dtype=np.int64).reshape(-1)
                active_pos = index.positions(active_ids)
                took_part = replied[active_pos]
                trained_ids, trained_pos = active_ids[took_part], active_pos[took_part]
                rows = row_of[trained_pos]
                last_train_time[trained_pos] = reports.train_time_s[rows]
                reported_loss = np.asarray(reports.train_loss, dtype=np.float64)[rows]
                has_loss = ~np.isnan(reported_loss)
                last_train_loss[trained_pos[has_loss]] = reported_loss[has_loss]
                was_active = np.zeros(n_nodes, dtype=bool)
                was_active[active_pos] = True
                candidates = trained_pos
                if self.policy.wants_standby:
                    standby = np.flatnonzero(~was_active & ~np.isnan(last_train_time))
                    candidates = np.concatenate([trained_pos, standby])
                metrics = self._metrics(candidates, last_train_time, last_train_loss, index)
                scores = self.policy.score(metrics)  # line 8
                nxt = self.policy.select(epoch, cfg.epochs, len(nodes), active, scores, metrics)  # lines 9-11
                nxt_ids = np.asarray(nxt, dtype=np.int64).reshape(-1)
                nxt_pos = index.positions(nxt_ids)
                stays = np.zeros(n_nodes, dtype=bool)
                stays[nxt_pos] = True
                note = None
                if trained_ids.size:
                    engine.apply_update(result, cfg.learning_rate)  # lines 12-14
                    loss = engine.evaluate()  # line 15
                else:
                    note = "no node replied this epoch: model unchanged"
                end = engine.now_s()
                engine.broadcast(nodes)  # lines 16-17
                ep = EpochRecord(
                    epoch=epoch,
                    start_s=start,
                    end_s=end,
                    active=trained_ids.tolist(),
                    metrics=metrics.to_json(keep=trained_ids),
                    scores=scores,
                    eliminated=active_ids[~stays[active_pos]].tolist(),
                    loss=loss,
                    failed={**resting, **result.failed},
                    rejoined=nxt_ids[~was_active[nxt_pos]].tolist(),
                    upload_bytes=reports.upload_total(),
                    note=note,
                )
                record.epochs.append(ep)
                active = list(nxt)
                state.active = active
                if self.progress is not None:
                    self.progress(ep)
                if self.on_epoch is not None:
                    self.on_epoch(state)
            finished = True
        finally:
            try:
                report = engine.finish()
            except Exception:
                if finished:
                    raise
                report = EngineReport(usage={})  # already failing: keep the first error
            if self.record is not None:
                self._totals(self.record, report.usage)
                self.record.engine_info = report.info
                self.record.timings.update(report.timings)
                if finished:
                    self.record.status = "complete"
        return record

    def _totals(self, record: RunRecord, usage: Mapping[int, NodeUsage]) -> None:
        """Completion time, time to target, data fraction, energy and bytes moved over the epochs finished."""
        record.completion_time_s = record.epochs[-1].end_s if record.epochs else 0.0
        record.target_loss = self.config.target_loss or None
        record.time_to_target_s = time_to_target_s(record.epochs, record.target_loss)
        record.data_fraction = data_fraction(record.epochs, record.data_bytes)
        energy = energy_columns(self.fleet, usage, record.completion_time_s)
        total = energy.total_j
        # sequential sums: the numbers Python's sum gave over the per-node values, without the loop
        record.energy = {
            "total_j": sequential_sum(total),
            "compute_j": sequential_sum(energy.compute_j),
            "idle_j": sequential_sum(energy.idle_j),
            "radio_j": sequential_sum(energy.radio_j),
            "per_node_j": NodeValues(energy.ids, total, str_keys=True),
        }
        record.bytes_moved = sequential_sum(UsageTable.from_mapping(usage).bytes_moved)
