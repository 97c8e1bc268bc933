"""The Flower ClientApp run by every SuperNode (edge device): thin, it imports flwr and NumPy only.

Flower 1.41 starts a fresh ``flwr-clientapp`` process for every message, so this module does no
training itself in a deployment: it forwards the message to the device's warm trainer
(:mod:`edgetune.flower.trainer`) over its private Unix socket and returns the trainer's answer.
Without a trainer (the simulation runtime, where ClientApp processes stay alive, and the unit tests)
it does the same work in its own process with a per-process task cache.

Node config (``flower-supernode --node-config`` / ``edgetune flower join``):

* ``partition-id`` (required): which partition of the fine-tuning corpus this device holds
  (the simulation runtime sets it);
* ``node-id``: the device's id in the fleet file (default -1: the server takes the fleet's node
  at position ``partition-id``, as in the simulation runtime);
* ``compute``: the compute power the fine-tuning initiator declared for it (reported);
* ``slowdown``: >= 1 stretches every local step to ``slowdown`` times its measured duration by
  sleeping, to emulate a slower device when several SuperNodes share one host (default 1);
* ``trainer-dir``: the warm trainer's private folder (socket + token); absent: work in-process.

Messages:

* ``train``: the global model (all tensors, or with LoRA only the adapters, merged into the model
  the device holds), the task spec, ``lr`` and ``rng-state``; reply: one config record ``info``
  with the update (gradients for FedSGD, the model delta for FedAvg; packed by
  :func:`~edgetune.flower.codec.attach`: inline, or an ``update`` array record above 5 MiB), the
  metrics (``train-time-s`` wall time of the local step, ``compute-s``, ``compute``,
  ``tokens-per-s``, ``num-tokens``, ``loss``, ``message-s`` the whole handler) and who answered
  (node id, partition, backend, checksum of the model it trained, ``warm``). One record instead of
  an array record, a metric record and a config record: three objects per reply on every hop
  instead of seven.
* injected faults (the run spec's ``[faults]``, told by the engine in a ``train`` message's config:
  ``fault``, ``fault-event``, ``fault-factor``, ``fault-hold-s``): ``crash`` raises (Flower sends the
  server an error reply); ``down`` holds the message ``fault-hold-s`` (the round's timeout, at most
  :data:`MAX_HOLD_S`) and then raises, so the server has given up on it; ``slow`` multiplies the
  device's ``slowdown`` by ``fault-factor`` (the local step really takes that much longer).
* ``train.sync``: hold the model from the message (Algorithm 1 lines 16-17) and reply with the
  checksum of the model the device now holds.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from flwr.app import ArrayRecord, ConfigRecord, Context, Message, RecordDict
from flwr.clientapp import ClientApp

from edgetune.fleet.faults import InjectedCrash
from edgetune.flower.codec import attach, detach, from_record, node_config, scalar, to_record
from edgetune.flower.task import NodeTask
from edgetune.flower.trainer import NodeWork, RemoteTrainer, TrainJob, TrainReply

MODEL_KEY = "edgetune-model"
#: Longest a ``down`` fault holds a message (seconds).
MAX_HOLD_S = 3600.0

app = ClientApp()

#: In-process work (no trainer): tasks are built once per process and reused across messages.
_PROCESS_WORK = NodeWork()
_PROCESS_LOCK = threading.Lock()


def node_settings(node_config: Any) -> dict[str, Any]:
    """``node-id``, ``partition-id``, ``compute``, ``slowdown``, ``trainer-dir`` of a SuperNode."""
    if "partition-id" not in node_config:
        raise ValueError("node config has no partition-id (start the SuperNode with --node-config partition-id=K)")
    pid = int(node_config["partition-id"])
    slowdown = float(node_config.get("slowdown", 1.0))
    if slowdown < 1:
        raise ValueError(f"node config slowdown must be >= 1, got {slowdown}")
    return {
        "partition-id": pid,
        "node-id": int(node_config.get("node-id", -1)),
        "compute": float(node_config.get("compute", 0.0)),
        "slowdown": slowdown,
        "trainer-dir": str(node_config.get("trainer-dir", "")),
        "trainer-timeout-s": float(node_config.get("trainer-timeout-s", 600.0)),
    }


def _local_train(context: Context, job: TrainJob, arrays: dict[str, Any]) -> TrainReply:
    with _PROCESS_LOCK:
        held = context.state.array_records.get(MODEL_KEY)
        _PROCESS_WORK.held = {} if held is None else from_record(held)
        reply = _PROCESS_WORK.train(job, arrays)
        context.state[MODEL_KEY] = to_record(_PROCESS_WORK.held)
        _PROCESS_WORK.held = {}
    return reply


def _local_hold(context: Context, arrays: dict[str, Any], spec: NodeTask) -> str:
    with _PROCESS_LOCK:
        held = context.state.array_records.get(MODEL_KEY)
        _PROCESS_WORK.held = {} if held is None else from_record(held)
        checksum = _PROCESS_WORK.hold(arrays)
        context.state[MODEL_KEY] = to_record(_PROCESS_WORK.held)
        _PROCESS_WORK.held = {}
        _PROCESS_WORK.task(spec)  # built during distribution (as the warm trainer does), not in round 1
    return checksum


def _injected_fault(cfg: Any) -> float:
    """Act on the fault the engine told this node (crash: raise; down: hold, then raise); the slow factor."""
    kind = str(cfg.get("fault", ""))
    if not kind:
        return 1.0
    event = str(cfg.get("fault-event", kind))
    if kind == "crash":
        raise InjectedCrash(f"crashed: injected fault {event}")
    if kind == "down":
        time.sleep(min(max(scalar(cfg.get("fault-hold-s", 0.0)), 0.0), MAX_HOLD_S))
        raise InjectedCrash(f"down (did not answer): injected fault {event}")
    return max(scalar(cfg.get("fault-factor", 1.0)), 1.0)


def _model_of(msg: Message) -> dict[str, Any]:
    """The (packed) model a ``train`` / ``train.sync`` message carries."""
    arrays = detach(msg.content, "config", "arrays")
    if arrays is None:
        raise ValueError(f"{msg.metadata.message_type} message without a model")
    return from_record(arrays)


@app.train()
def train(msg: Message, context: Context) -> Message:
    """One epoch of local training on this device's partition (Algorithm 1 line 6)."""
    t_start = time.perf_counter()
    node = node_settings(context.node_config)
    cfg = node_config(msg.content.config_records["config"], msg.metadata.dst_node_id)
    slowdown = node["slowdown"] * _injected_fault(cfg)
    job = TrainJob(
        NodeTask.from_config(cfg),
        node["partition-id"],
        scalar(cfg.get("lr", 0.0)),
        str(cfg.get("rng-state", "")),
        slowdown,
    )
    arrays = _model_of(msg)
    if node["trainer-dir"]:
        reply = RemoteTrainer(node["trainer-dir"], node["trainer-timeout-s"]).train(job, arrays)
    else:
        reply = _local_train(context, job, arrays)
    update = to_record(reply.update)
    info = ConfigRecord(
        {
            "node-id": node["node-id"],
            "partition-id": node["partition-id"],
            "backend": reply.backend,
            "checksum": reply.checksum,
            "compute": node["compute"],
            "warm": bool(node["trainer-dir"]),
            "train-time-s": reply.train_s,
            "compute-s": reply.compute_s,
            "tokens-per-s": reply.n_tokens / max(reply.compute_s, 1e-9),
            "num-tokens": reply.n_tokens,
            "loss": reply.loss,
            "message-s": time.perf_counter() - t_start,
        }
    )
    content = RecordDict({"info": info})
    attach(content, update, "info", "update")
    return Message(content, reply_to=msg)


@app.train("sync")
def sync(msg: Message, context: Context) -> Message:
    """Hold the broadcast model (Algorithm 1 lines 16-17 for nodes that do not train)."""
    node = node_settings(context.node_config)
    cfg = node_config(msg.content.config_records["config"], msg.metadata.dst_node_id)
    arrays = _model_of(msg)
    spec = NodeTask.from_config(cfg)
    if node["trainer-dir"]:
        checksum = RemoteTrainer(node["trainer-dir"], node["trainer-timeout-s"]).hold(arrays, spec)
    else:
        checksum = _local_hold(context, arrays, spec)
    info = ConfigRecord(
        {
            "node-id": node["node-id"],
            "partition-id": node["partition-id"],
            "version": int(scalar(cfg["version"])),
            "checksum": checksum,
            "compute": node["compute"],
        }
    )
    return Message(RecordDict({"info": info}), reply_to=msg)


__all__ = ["MODEL_KEY", "ArrayRecord", "app", "node_settings"]
