"""The Flower ClientApp run by every SuperNode (edge device).

Node config (``flower-supernode --node-config`` / ``edgetune join``):

* ``partition-id`` (required): which partition of the fine-tuning corpus this device holds;
* ``node-id``: the device's id in the fleet file (default: ``partition-id``);
* ``compute``: the compute power the fine-tuning initiator declared for it (optional, reported);
* ``slowdown``: >= 1 stretches every local step to ``slowdown`` times its measured duration by
  sleeping, to emulate a slower device when several SuperNodes share one host (default 1).

Messages:

* ``train``: load the global model from the message, compute the gradient of the mean loss over the
  partition (:meth:`TrainingTask.gradient`), keep the model in ``context.state``, reply with the
  gradients (``grads``), ``metrics`` (``train-time-s`` measured wall time of the local step,
  ``compute-s`` forward/backward only, ``message-s`` the whole handler with the model build,
  ``compute`` power, ``tokens-per-s``, ``num-tokens``,
  ``loss``) and ``info`` (node id, partition, checksum of the model it trained).
* ``train.sync``: keep the model from the message in ``context.state`` (so the device stays in sync
  and can serve inference) and reply with the checksum of the model it now holds.

``torch``/``transformers`` are imported only by ``train``: a sync costs a Flower process, not a
model build.
"""

from __future__ import annotations

import time
from typing import Any

from flwr.app import ArrayRecord, ConfigRecord, Context, Message, MetricRecord, RecordDict
from flwr.clientapp import ClientApp

from edgetune.flower.codec import from_record, scalar, state_checksum, to_record
from edgetune.flower.task import TaskSpec, make_task

MODEL_KEY = "edgetune-model"
INFO_KEY = "edgetune-model-info"

app = ClientApp()


def node_settings(node_config: Any) -> dict[str, Any]:
    """``node-id``, ``partition-id``, ``compute`` and ``slowdown`` from a SuperNode's node config."""
    if "partition-id" not in node_config:
        raise ValueError("node config has no partition-id (start the SuperNode with --node-config partition-id=K)")
    pid = int(node_config["partition-id"])
    slowdown = float(node_config.get("slowdown", 1.0))
    if slowdown < 1:
        raise ValueError(f"node config slowdown must be >= 1, got {slowdown}")
    return {
        "partition-id": pid,
        "node-id": int(node_config.get("node-id", pid)),
        "compute": float(node_config.get("compute", 0.0)),
        "slowdown": slowdown,
    }


def _keep(context: Context, arrays: ArrayRecord, version: int) -> str:
    """Store the model in the node's state; return the checksum of what is now stored."""
    context.state[MODEL_KEY] = arrays
    checksum = state_checksum(from_record(context.state.array_records[MODEL_KEY]))
    context.state[INFO_KEY] = ConfigRecord({"version": version, "checksum": checksum})
    return checksum


@app.train()
def train(msg: Message, context: Context) -> Message:
    """One epoch of local training on this device's partition (Algorithm 1 line 6)."""
    import torch

    torch.set_num_threads(1)
    t_start = time.perf_counter()
    node = node_settings(context.node_config)
    cfg = msg.content.config_records["config"]
    spec = TaskSpec.from_config(cfg)
    arrays = msg.content.array_records["arrays"]
    held = _keep(context, arrays, int(scalar(cfg["epoch"])) - 1)
    task = make_task(spec)
    t_step = time.perf_counter()
    result = task.gradient(from_record(arrays), node["partition-id"])
    if node["slowdown"] > 1:
        time.sleep(result.compute_s * (node["slowdown"] - 1))
    train_s = time.perf_counter() - t_step
    metrics = MetricRecord(
        {
            "train-time-s": train_s,
            "compute-s": result.compute_s * node["slowdown"],
            "compute": node["compute"],
            "tokens-per-s": result.n_tokens / max(result.compute_s, 1e-9),
            "num-tokens": result.n_tokens,
            "loss": result.loss,
            "message-s": time.perf_counter() - t_start,
        }
    )
    info = ConfigRecord(
        {"node-id": node["node-id"], "partition-id": node["partition-id"], "backend": task.backend,
         "checksum": held, "compute": node["compute"]}
    )
    content = RecordDict({"grads": to_record(result.grads), "metrics": metrics, "info": info})
    return Message(content, reply_to=msg)


@app.train("sync")
def sync(msg: Message, context: Context) -> Message:
    """Keep the broadcast model (Algorithm 1 lines 16-17 for nodes that do not train)."""
    node = node_settings(context.node_config)
    cfg = msg.content.config_records["config"]
    checksum = _keep(context, msg.content.array_records["arrays"], int(scalar(cfg["version"])))
    info = ConfigRecord(
        {"node-id": node["node-id"], "partition-id": node["partition-id"], "version": int(scalar(cfg["version"])),
         "checksum": checksum, "compute": node["compute"]}
    )
    return Message(RecordDict({"info": info}), reply_to=msg)
