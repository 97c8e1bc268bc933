"""The Flower engine: Algorithm 1's work on SuperNodes, driven by the one orchestrator loop.

:class:`FlowerEngine` is an :class:`~edgetune.orchestrator.engine.Engine` (the run spec's
``run.engine = "flower"``) that runs inside a Flower ``ServerApp`` and talks to the SuperNodes through
the ``Grid`` it was given:

* :meth:`~FlowerEngine.distribute` waits (bounded by ``connect_timeout_s``) for the SuperNodes to
  connect, then sends every one the initial model as a ``train.sync`` message; the replies say which
  fleet node each Flower node is (``node-id`` from the SuperNode's node config) and the checksum of
  the model it now holds.
* :meth:`~FlowerEngine.train_round` sends ``train`` messages (model + config) to the active nodes
  through :meth:`EdgetuneStrategy.configure_train` and polls for replies until every one is in or the
  round's deadline passes. A node that raised (an error reply), did not answer in time, or is not
  connected lands in ``RoundResult.failed`` with the reason; the round still returns, so the run
  goes on. Deadline: ``round_timeout_s`` after the start, or, with ``straggler_ratio``, at most
  ``max(straggler_ratio * t1, t1 + straggler_min_s)`` where ``t1`` is when the first reply came.
  Every ``liveness_check_s`` the SuperLink's node list is read again: a node it dropped (missed
  heartbeats) fails at once instead of at the deadline.
* :meth:`~FlowerEngine.apply_update` is :meth:`EdgetuneStrategy.aggregate_train` (the task's
  aggregator: FedSGD or FedAvg, as the in-process engine).
* With LoRA only the adapter tensors travel after distribution (``train`` messages, later
  ``train.sync`` messages and the replies); the full model goes to a node once, when it is first
  identified. Every round records the bytes of the arrays it moved (``down_bytes``, ``up_bytes``).
* :meth:`~FlowerEngine.broadcast` marks nodes as owed the new model. The ``train.sync`` messages are
  pushed together with the next round's ``train`` messages (to the nodes that do not train next --
  the others receive the model inside their ``train`` message), and their replies are collected
  while that round runs, never waited for: the broadcast does not hold up the next epoch. After the
  last epoch :meth:`~FlowerEngine.close` sends the final model to every node and waits for the
  replies at most ``sync_timeout_s``.

Every sync reply carries the SHA-256 of the model the node holds; :meth:`~FlowerEngine.report` lists
them next to the server's checksum of the same model version (the run record's ``flower.sync``).
Times are wall-clock seconds since :meth:`~FlowerEngine.distribute` started (``time_base="wall"``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict
from logging import INFO, WARNING
from typing import Any

from flwr.app import ArrayRecord, ConfigRecord, Message
from flwr.common.constant import ErrorCode
from flwr.serverapp import Grid
from flwr.supercore import log

from edgetune.engines.base import BuildContext
from edgetune.fleet.faults import FaultSpec
from edgetune.fleet.schema import Fleet
from edgetune.flower.codec import from_record, record_bytes, scalar, state_checksum, to_record
from edgetune.flower.config import FlowerEngineConfig
from edgetune.flower.mailbox import Mailbox, Sent
from edgetune.flower.strategy import EdgetuneStrategy, update_of
from edgetune.flower.task import NodeTask, TrainingTask
from edgetune.flower.versions import ModelVersions, RoundTiming
from edgetune.orchestrator.engine import Engine, EngineReport, NodeReport, NodeUsage, RoundResult
from edgetune.orchestrator.loop import OrchestratorConfig


class FlowerEngine(Engine):
    """Algorithm 1's work on Flower SuperNodes (see the module docstring).

    The run spec names it ``"flower"`` (registered by :mod:`edgetune.flower.config`, whose
    :class:`~edgetune.flower.config.FlowerEngineConfig` is the spec's ``[flower]``). It needs the
    ``Grid`` of a running ServerApp, so it is built by :meth:`for_run` inside one
    (:mod:`edgetune.runs.flower`).

    Parameters
    ----------
    grid : flwr.serverapp.Grid
        The ServerApp's grid.
    fleet : Fleet
        The fleet: its node ids are the nodes to expect (each SuperNode says which one it is).
    task : TrainingTask
        Server side of the model (initial state, FedSGD, validation loss).
    config : FlowerEngineConfig
    learning_rate : float
        The nodes' local learning rate (FedAvg's local optimiser; the in-process engine's
        ``learning_rate``); the server step takes the orchestrator's rate in :meth:`apply_update`.
    clock : callable, optional
        Monotonic seconds (tests pass a fake); ``sleep`` likewise.
    """

    name = "flower"
    time_base = "wall"

    def __init__(
        self,
        grid: Grid,
        fleet: Fleet,
        task: TrainingTask,
        config: FlowerEngineConfig | None = None,
        learning_rate: float = OrchestratorConfig.learning_rate,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.grid = grid
        self.fleet = fleet
        self.task = task
        self.config = config or FlowerEngineConfig()
        self.learning_rate = learning_rate
        self.strategy = EdgetuneStrategy(task, learning_rate=learning_rate, ttl_s=self.config.ttl_s)
        self._clock = clock
        self._sleep = sleep
        self._ids = list(fleet.node_ids)
        self._t0: float | None = None
        self._fid: dict[int, int] = {}  # edgetune node id -> Flower node id
        self._arrays: ArrayRecord = to_record(task.initial_state())
        self._model_bytes = record_bytes(self._arrays)
        self._names = task.trainable_names()
        self._partial = set(self._names) != set(from_record(self._arrays))
        self._sent_cache: tuple[int, ArrayRecord, int] | None = None
        self._round_down = 0
        self.versions = ModelVersions(state_checksum(from_record(self._arrays)))
        self._owed_sync: set[int] = set()
        self.mail = Mailbox(grid)
        self._busy: dict[int, float] = dict.fromkeys(self._ids, 0.0)
        self._bytes: dict[int, float] = dict.fromkeys(self._ids, 0.0)
        self._epoch = 0
        self.timings: list[RoundTiming] = []
        self.node_info: dict[int, dict[str, Any]] = {}
        self.connect_s: float | None = None
        #: Facts about how the engine ran (e.g. the simulation runtime's backend), for the record.
        self.run_info: dict[str, Any] = {}
        #: Injected faults, told to the nodes in their ``train`` messages (the ClientApp acts on them).
        self.faults = FaultSpec()

    @classmethod
    def for_run(
        cls,
        grid: Grid,
        ctx: BuildContext,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> tuple[FlowerEngine, Engine]:
        """The engine of one run inside a ServerApp: the spec's task on ``grid``.

        Returns the Flower engine and the engine the orchestrator drives (the same one, or wrapped in
        :class:`~edgetune.flower.wrappers.ModelledTrainTime` when ``flower.train_time = "modelled"``).
        """
        from edgetune.flower.training_task import make_task
        from edgetune.flower.wrappers import ModelledTrainTime

        config: FlowerEngineConfig = ctx.config
        node_task = NodeTask(ctx.task, ctx.seed, len(ctx.fleet.nodes), config.backend)
        task = make_task(node_task, server=True)
        engine = cls(grid, ctx.fleet, task, config, learning_rate=ctx.learning_rate, clock=clock, sleep=sleep)
        engine.faults = ctx.faults
        if config.train_time == "modelled":
            return engine, ModelledTrainTime(engine, ctx.fleet, config.work_s, ctx.faults)
        return engine, engine

    # -- clock ----------------------------------------------------------------------------------------
    @property
    def node_ids(self) -> list[int]:
        """Every node of the fleet."""
        return list(self._ids)

    def now_s(self) -> float:
        """Wall seconds since distribution started (0 before)."""
        return 0.0 if self._t0 is None else self._clock() - self._t0

    def _base_config(self) -> ConfigRecord:
        return ConfigRecord(dict(self.task.spec.to_config()))

    # -- messaging ------------------------------------------------------------------------------------
    def _connected(self) -> set[int]:
        return self.mail.connected()

    def _travelling(self) -> tuple[ArrayRecord, int]:
        """What a node that holds the base model is sent: all tensors, or with LoRA the adapters."""
        if not self._partial:
            return self._arrays, self._model_bytes
        if self._sent_cache is None or self._sent_cache[0] != self.versions.version:
            full = from_record(self._arrays)
            sub = {n: full[n] for n in self._names}
            record = to_record(sub)
            self._sent_cache = (self.versions.version, record, record_bytes(record))
        return self._sent_cache[1], self._sent_cache[2]

    def _push(self, messages: list[Message], kind: str, version: int) -> None:
        """Push through the mailbox; count the bytes; a refused sync is logged (a refused train: see train_round)."""
        by_fid = {fid: nid for nid, fid in self._fid.items()}
        accepted, refused = self.mail.push(messages, kind, version, self.now_s(), by_fid)
        for sent in accepted:
            self._round_down += sent.nbytes
            if sent.nid is not None:
                self._bytes[sent.nid] += sent.nbytes
        if kind == "sync":
            for fid in refused:
                nid = by_fid.get(fid)
                self.versions.failed(version, -1 if nid is None else nid, fid, "push refused")

    def _sync_messages(self, targets: Mapping[int, int | None]) -> list[Message]:
        """``train.sync`` of the current model to ``targets`` (Flower id -> edgetune id or None).

        Nodes not identified yet (``None``) get the full model; the others what travels.
        """
        out: list[Message] = []
        for full in (True, False):
            group = {fid: (-1 if nid is None else nid) for fid, nid in targets.items() if (nid is None) == full}
            if group:
                arrays = self._arrays if full else self._travelling()[0]
                out += self.strategy.configure_sync(
                    self.versions.version, arrays, self._base_config(), group, self.versions.checksum
                )
        return out

    def _on_sync(self, sent: Sent, msg: Message) -> None:
        if msg.has_error():
            nid = sent.nid if sent.nid is not None else -1
            self.versions.failed(sent.version, nid, sent.fid, f"error {msg.error.code}: {msg.error.reason}")
            return
        info = msg.content.config_records["info"]
        nid = self._node_of(info)
        self._learn(nid, sent.fid, info)
        self.versions.held(sent.version, nid, str(info["checksum"]), self.now_s() - sent.sent_s)

    @property
    def sync_log(self) -> list[dict[str, Any]]:
        """Every sync outcome so far (:attr:`ModelVersions.log`)."""
        return self.versions.log

    def _node_of(self, info: Mapping[str, Any]) -> int:
        """The fleet id a reply names: its ``node-id``, or (-1) the fleet's node at its partition."""
        nid = int(scalar(info["node-id"]))
        pid = int(scalar(info.get("partition-id", -1)))
        if nid < 0 and 0 <= pid < len(self._ids):
            return self._ids[pid]
        return nid

    def _learn(self, nid: int, fid: int, info: Mapping[str, Any]) -> None:
        if nid not in self._busy:
            log(WARNING, "SuperNode %s says it is node %s, which is not in the fleet: ignored", fid, nid)
            return
        old = self._fid.get(nid)
        if old != fid:
            if old is not None:
                log(INFO, "node %s reconnected as Flower node %s (was %s)", nid, fid, old)
            self._fid[nid] = fid
        self.node_info[nid] = {k: info[k] for k in ("partition-id", "backend", "compute", "warm") if k in info}

    def _handle(self, pulled: list[tuple[Sent, Message]], train: dict[int, Message]) -> None:
        for sent, msg in pulled:
            if sent.kind == "sync":
                self._on_sync(sent, msg)
            elif sent.nid is not None:
                train[sent.nid] = msg

    # -- Engine API -----------------------------------------------------------------------------------
    def distribute(self, node_ids: Sequence[int]) -> None:
        """Wait for the SuperNodes, send each the initial model, learn who is who (lines 3-4).

        Data partitions are not sent: each device holds its own partition (its node config says
        which). Returns once every fleet node has identified itself or ``connect_timeout_s`` passed;
        nodes still missing then fail their rounds with "not connected" (they may join later).
        """
        cfg = self.config
        self._t0 = self._clock()
        deadline = cfg.connect_timeout_s
        asked: set[int] = set()
        wanted = set(node_ids)
        while True:
            connected = self._connected()
            new = connected - asked
            if new:
                self._push(self._sync_messages(dict.fromkeys(sorted(new))), "sync", self.versions.version)
                asked |= new
            self._handle(self.mail.pull(), {})
            if wanted <= set(self._fid) or self.now_s() >= deadline:
                break
            self._sleep(cfg.poll_interval_s)
        self.connect_s = self.now_s()
        missing = sorted(wanted - set(self._fid))
        log(
            INFO,
            "distribute: %s/%s nodes identified in %.1f s%s",
            len(wanted) - len(missing),
            len(wanted),
            self.connect_s,
            f"; missing {missing}" if missing else "",
        )

    def train_round(self, epoch: int, active: Sequence[int]) -> RoundResult:
        """Send ``train`` to ``active`` (+ owed ``train.sync`` to the others); gather until the deadline."""
        cfg = self.config
        self._epoch = epoch
        start = self.now_s()
        timing = RoundTiming(epoch=epoch)
        connected = self._connected()
        failed: dict[int, str] = {}
        selected: dict[int, int] = {}
        for nid in active:
            fid = self._fid.get(nid)
            if fid is None:
                failed[nid] = "not connected (never identified)"
            elif fid not in connected:
                failed[nid] = "not connected (SuperNode gone)"
            else:
                selected[fid] = nid
        # Flower nodes nobody has identified yet (late joiners, restarted SuperNodes) get a sync too.
        known = set(self._fid.values()) | self.mail.flower_ids()
        targets: dict[int, int | None] = dict.fromkeys(sorted(connected - known))
        active_set = set(active)
        for nid in sorted(self._owed_sync - active_set):
            fid = self._fid.get(nid)
            if fid is not None and fid in connected:
                targets[fid] = nid
            else:
                self.versions.failed(self.versions.version, nid, fid if fid is not None else -1, "not connected")
        self._owed_sync.clear()
        self.strategy.selected = selected
        # FedAvg: each node starts from the sampling state it would have in-process (active order).
        pos = {nid: k for k, nid in enumerate(self._ids)}
        rng = dict(zip(active, self.task.rng_states([pos[n] for n in active]), strict=True))
        self.strategy.node_extra = {
            fid: {"lr": self.learning_rate, "rng-state": rng[nid]} for fid, nid in selected.items()
        }
        self._tell_faults(epoch, selected)
        self._round_down = 0
        sending, _ = self._travelling()
        train_msgs = list(self.strategy.configure_train(epoch, sending, self._base_config(), self.grid))
        self._push(train_msgs, "train", self.versions.version)
        sync_msgs = self._sync_messages(targets)
        self._push(sync_msgs, "sync", self.versions.version)
        timing.syncs_pushed = len(sync_msgs)
        timing.push_s = self.now_s() - start
        waiting = self.mail.waiting("train")
        for nid in selected.values():
            if nid not in waiting:
                failed[nid] = "message refused by the SuperLink"
        replies: dict[int, Message] = {}
        deadline = start + cfg.round_timeout_s
        first: float | None = None
        last_check = start
        while True:
            had = len(replies)
            self._handle(self.mail.pull(), replies)
            now = self.now_s()
            if len(replies) > had:
                timing.last_reply_s = now - start - timing.push_s
                if not had:
                    timing.first_reply_s = timing.last_reply_s
            if now - last_check >= cfg.liveness_check_s:
                # A SuperNode the SuperLink stopped listing (missed heartbeats) will not answer.
                last_check, live = now, self._connected()
                for fid, nid in selected.items():
                    if nid in waiting and nid not in replies and fid not in live:
                        waiting.discard(nid)
                        failed[nid] = f"SuperNode gone during the round (after {now - start:.1f} s)"
                        self.mail.drop("train", nid)
            if replies and first is None:
                first = now - start
                if cfg.straggler_ratio:
                    deadline = min(deadline, start + max(cfg.straggler_ratio * first, first + cfg.straggler_min_s))
            if waiting <= set(replies) or now >= deadline:
                break
            self._sleep(cfg.poll_interval_s)
        # Give up on the train messages still out; their late replies are never read.
        for sent in self.mail.drop("train"):
            if sent.nid is not None and sent.nid not in replies:
                how = "straggler deadline" if first is not None and cfg.straggler_ratio else "round timeout"
                failed[sent.nid] = f"no reply within {now - start:.1f} s ({how})"
        reports: dict[int, NodeReport] = {}
        good: list[Message] = []
        arrived = self.now_s()
        for nid, msg in replies.items():
            if msg.has_error():
                who = "SuperNode unavailable" if msg.error.code == ErrorCode.NODE_UNAVAILABLE else "ClientApp error"
                failed[nid] = f"{who} ({msg.error.code}): {msg.error.reason}"
                continue
            update = update_of(msg)
            if update is None:
                failed[nid] = "reply without an update"
                continue
            metrics = info = msg.content.config_records["info"]
            if str(info.get("backend", self.task.backend)) != self.task.backend:
                failed[nid] = f"task backend mismatch: node {info.get('backend')!r}, server {self.task.backend!r}"
                continue
            self._learn(nid, msg.metadata.src_node_id, info)
            up = record_bytes(update)
            timing.up_bytes += up
            train_s = scalar(metrics["train-time-s"])
            reports[nid] = NodeReport(node_id=nid, train_time_s=train_s, upload_bytes=up, arrived_s=arrived)
            self._busy[nid] += train_s
            self._bytes[nid] += up
            timing.max_compute_s = max(timing.max_compute_s, scalar(metrics.get("compute-s", train_s)))
            timing.max_train_s = max(timing.max_train_s, train_s)
            timing.max_message_s = max(timing.max_message_s, scalar(metrics.get("message-s", train_s)))
            good.append(msg)
        timing.replies, timing.failed = len(reports), len(failed)
        timing.down_bytes = self._round_down
        timing.wall_s = self.now_s() - start
        self.timings.append(timing)
        if failed:
            log(WARNING, "epoch %s: failed %s", epoch, failed)
        return RoundResult(reports=reports, failed=failed, payload=good)

    def _tell_faults(self, epoch: int, selected: Mapping[int, int]) -> None:
        """Put each selected node's injected fault of ``epoch`` into its ``train`` message's config.

        ``fault`` (crash | down | slow), ``fault-event`` (its spelling), ``fault-factor`` (slow) and
        ``fault-hold-s``: how long a ``down`` ClientApp holds the message before it gives up, the
        round's timeout, so the engine sees no reply in time (:mod:`edgetune.flower.clientapp`).
        """
        now = self.faults.at(epoch) if self.faults else {}
        for fid, nid in selected.items():
            ev = now.get(nid)
            if ev is not None:
                self.strategy.node_extra[fid].update(
                    {
                        "fault": ev.kind,
                        "fault-event": ev.spelling(),
                        "fault-factor": ev.factor,
                        "fault-hold-s": self.config.round_timeout_s,
                    }
                )

    def apply_update(self, result: RoundResult, learning_rate: float) -> None:
        """The aggregator through :meth:`EdgetuneStrategy.aggregate_train`; the version becomes the epoch."""
        self.strategy.learning_rate = learning_rate
        self.strategy.arrays = self._arrays
        arrays, _ = self.strategy.aggregate_train(self._epoch, result.payload or [])
        if arrays is None:
            return
        self._arrays = arrays
        self.versions.new(self._epoch, state_checksum(from_record(arrays)))

    def evaluate(self) -> float | None:
        """Validation loss of the global model, computed here at the ServerApp."""
        return self.task.evaluate(from_record(self._arrays))

    def broadcast(self, node_ids: Sequence[int]) -> None:
        """Owe ``node_ids`` the current model; sent with the next round's messages (or at close)."""
        self._owed_sync |= set(node_ids)

    def usage(self) -> dict[int, NodeUsage]:
        """Reported training seconds and model/gradient bytes per node."""
        return {i: NodeUsage(busy_s=self._busy[i], bytes_moved=self._bytes[i]) for i in self._ids}

    def close(self) -> None:
        """Send the final model to every node still owed it; wait for replies at most ``sync_timeout_s``."""
        if self._t0 is None:
            return
        connected = self._connected()
        targets: dict[int, int | None] = {}
        for nid in sorted(self._owed_sync):
            fid = self._fid.get(nid)
            if fid is not None and fid in connected:
                targets[fid] = nid
            else:
                self.versions.failed(self.versions.version, nid, fid if fid is not None else -1, "not connected")
        self._owed_sync.clear()
        self.mail.drop("train")
        self._push(self._sync_messages(targets), "sync", self.versions.version)
        end = self.now_s() + self.config.sync_timeout_s
        while self.mail.inflight and self.now_s() < end:
            self._handle(self.mail.pull(), {})
            if self.mail.inflight:
                self._sleep(self.config.poll_interval_s)
        for sent in self.mail.drop("sync"):
            self.versions.failed(sent.version, sent.nid if sent.nid is not None else -1, sent.fid, "no reply")

    # -- record ---------------------------------------------------------------------------------------
    @property
    def checksum(self) -> str:
        """Checksum of the current global model."""
        return self.versions.checksum

    def finish(self) -> EngineReport:
        """Sync the final model (:meth:`close`), then report usage and the Flower section."""
        self.close()
        return EngineReport(usage=self.usage(), info={**self.describe(), "flower": self.report()})

    def describe(self) -> dict[str, Any]:
        """Engine name and the task implementation that ran (the spec itself is the record's ``config``)."""
        return {
            "engine": self.name,
            "task_backend": self.task.backend,
            "learning_rate_local": self.learning_rate,
            **self.run_info,
        }

    def report(self) -> dict[str, Any]:
        """The record's ``flower`` section: node map, sync checks, per-round timings."""
        return {
            "node_map": {str(n): f for n, f in sorted(self._fid.items())},
            "node_info": {str(n): v for n, v in sorted(self.node_info.items())},
            "connect_s": self.connect_s,
            "model_bytes": self._model_bytes,
            "travelling_bytes": self._travelling()[1],
            "server_checksums": {str(v): c for v, c in sorted(self.versions.checksums.items())},
            "sync": list(self.sync_log),
            "rounds": [asdict(t) for t in self.timings],
        }


__all__ = ["FlowerEngine", "FlowerEngineConfig", "ModelVersions", "RoundTiming"]
