"""A Flower Message-API strategy for Algorithm 1: edgetune chooses the nodes, the task aggregates.

:class:`EdgetuneStrategy` subclasses ``flwr.serverapp.strategy.Strategy`` (Flower 1.41) but does not
own the round loop: the one orchestrator loop (:class:`~edgetune.orchestrator.loop.Orchestrator`)
asks the selection policy (node elimination, all resources, ...) who trains and scores the nodes with
Eq. 2-3; the Flower engine then sets :attr:`EdgetuneStrategy.selected` to those nodes and calls
:meth:`configure_train` / :meth:`aggregate_train` to turn that choice into Flower ``Message`` objects
and the replies into the next global model (the task's aggregator: FedSGD or FedAvg).

Message types: ``train`` (model + config down, update + metrics up) for the nodes that train, and
``train.sync`` (model down, checksum up) for every other node, so eliminated nodes keep the current
model (Algorithm 1 lines 16-17) without training.

All messages of one push carry **the same content**: one config record holding the shared settings,
each node's own as ``node.<Flower node id>.<key>`` (:func:`node_config` reads a node's view) and the
packed model (:func:`~edgetune.flower.codec.attach`: inline bytes up to 5 MiB, else an
``ArrayRecord`` named ``arrays``). Flower 1.41 uploads content-addressed objects once per push however
many messages name them, so a push to N nodes costs N message objects + 2 shared ones (record dict,
config record) instead of 3 N + 3, each one HTTP request.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from logging import INFO
from typing import Any

from flwr.app import ArrayRecord, ConfigRecord, Message, MetricRecord, RecordDict
from flwr.serverapp import Grid
from flwr.serverapp.strategy import Strategy
from flwr.supercore import log

from edgetune.flower.codec import (
    NODE_PREFIX,
    State,
    attach,
    detach,
    from_record,
    scalar,
    state_checksum,
    to_record,
)
from edgetune.flower.task import TrainingTask

TRAIN = "train"
SYNC = "train.sync"


def _messages(
    arrays: ArrayRecord, cfg: ConfigRecord, dst: Iterable[int], kind: str, ttl_s: float, group: str
) -> list[Message]:
    """One message per node in ``dst``; every content holds the same records (``config`` + the packed model)."""
    shared = RecordDict({"config": cfg})
    attach(shared, arrays, "config", "arrays")
    return [Message(RecordDict(dict(shared)), fid, kind, ttl=ttl_s, group_id=group) for fid in dst]


def update_of(msg: Message) -> ArrayRecord | None:
    """The update a ``train`` reply carries (``None`` for an error reply or a reply without one)."""
    if msg.has_error() or "info" not in msg.content.config_records:
        return None
    return detach(msg.content, "info", "update")


class EdgetuneStrategy(Strategy):
    """Addresses the policy's nodes and aggregates their updates with the task's aggregator.

    Parameters
    ----------
    task : TrainingTask
        Same model, partitions and update rule as the nodes (server side: FedSGD and evaluation).
    learning_rate : float
        Step size of line 13 (the engine sets it from the orchestrator's config each epoch).
    ttl_s : float
        Time-to-live of every message: a node that comes back later never runs a stale round.
    """

    def __init__(self, task: TrainingTask, learning_rate: float = 5e-5, ttl_s: float = 600.0) -> None:
        self.task = task
        self.learning_rate = learning_rate
        self.ttl_s = ttl_s
        #: Flower node id -> edgetune node id of the nodes chosen for the next ``configure_train``.
        self.selected: dict[int, int] = {}
        #: Flower node id -> extra config of its next ``train`` message (e.g. FedAvg's ``rng-state``).
        self.node_extra: dict[int, dict[str, str | float | int]] = {}
        #: The full global model (with LoRA, ``configure_train`` is given only the adapters).
        self.arrays: ArrayRecord | None = None

    # -- helpers -------------------------------------------------------------------------------------
    def _shared(
        self, server_round: int, config: ConfigRecord, per_node: Mapping[int, Mapping[str, Any]]
    ) -> ConfigRecord:
        """One config record for every message of a push: shared keys + ``node.<fid>.<key>`` per node."""
        cfg = ConfigRecord(dict(config))
        cfg["epoch"] = server_round
        for fid, values in per_node.items():
            for key, value in values.items():
                cfg[f"{NODE_PREFIX}{fid}.{key}"] = value
        return cfg

    def configure_sync(
        self, version: int, arrays: ArrayRecord, config: ConfigRecord, targets: Mapping[int, int], checksum: str
    ) -> list[Message]:
        """``train.sync`` messages carrying model ``version`` to ``targets`` (Flower id -> edgetune id)."""
        cfg = self._shared(version, config, {fid: {"edgetune-node-id": nid} for fid, nid in targets.items()})
        cfg["version"] = version
        cfg["checksum"] = checksum
        return _messages(arrays, cfg, targets, SYNC, self.ttl_s, f"sync-{version}")

    # -- Flower Strategy API --------------------------------------------------------------------------
    def configure_train(
        self, server_round: int, arrays: ArrayRecord, config: ConfigRecord, grid: Grid
    ) -> Iterable[Message]:
        """One ``train`` message (the model's tensors that train + config) per node in :attr:`selected`."""
        per_node = {
            fid: {"edgetune-node-id": nid, **self.node_extra.get(fid, {})} for fid, nid in self.selected.items()
        }
        cfg = self._shared(server_round, config, per_node)
        return _messages(arrays, cfg, self.selected, TRAIN, self.ttl_s, str(server_round))

    def aggregate_train(
        self, server_round: int, replies: Iterable[Message]
    ) -> tuple[ArrayRecord | None, MetricRecord | None]:
        """The token-weighted mean of the replies' updates, one server step (lines 12-13).

        Replies that carry an error or no ``update`` are ignored; with none left the model is
        returned unchanged and the metrics are ``None``. :attr:`arrays` must hold the full model.
        """
        if self.arrays is None:
            raise RuntimeError("aggregate_train without the global model (set strategy.arrays)")
        updates: list[State] = []
        tokens: list[float] = []
        for msg in replies:
            update = update_of(msg)
            if update is None:
                continue
            updates.append(from_record(update))
            tokens.append(scalar(msg.content.config_records["info"].get("num-tokens", 1)))
        if not updates:
            return None, None
        state = self.task.aggregate(from_record(self.arrays), updates, self.learning_rate, tokens)
        self.arrays = to_record(state)
        metrics = MetricRecord({"num-replies": len(updates), "num-tokens": sum(tokens)})
        log(INFO, "round %s: %s over %s updates", server_round, self.task.spec.aggregator, len(updates))
        return self.arrays, metrics

    def configure_evaluate(
        self, server_round: int, arrays: ArrayRecord, config: ConfigRecord, grid: Grid
    ) -> Iterable[Message]:
        """No client-side evaluation: the server evaluates on the validation split (line 15)."""
        return []

    def aggregate_evaluate(self, server_round: int, replies: Iterable[Message]) -> MetricRecord | None:
        """Nothing to aggregate (see :meth:`configure_evaluate`)."""
        return None

    def summary(self) -> None:
        """Log the strategy's settings."""
        log(
            INFO,
            "EdgetuneStrategy: %s, lr=%s, ttl=%ss, task=%s",
            self.task.spec.aggregator,
            self.learning_rate,
            self.ttl_s,
            self.task.backend,
        )


def checksum_of(arrays: ArrayRecord) -> str:
    """Checksum of the model held by ``arrays`` (see :func:`~edgetune.flower.codec.state_checksum`)."""
    return state_checksum(from_record(arrays))
