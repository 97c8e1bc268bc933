"""Integration: a real loopback Flower deployment (SuperLink + 4 SuperNodes as processes).

One run spec, run by ``edgetune.runs.flower``'s ServerApp through the runs layer into a run folder:
3 epochs of node elimination with LoRA (4 nodes: one dropped after epochs 1 and 2), fixed network
metrics from a northbound HTTP stub and modelled training times, so the policy's inputs are known.
During epoch 2 one active SuperNode is killed (SIGKILL on its process session). Checks:

* the run finishes (bounded: every wait has a timeout; the deployment is torn down in ``finally``)
  and leaves the run folder every engine leaves (record.json "complete", spec.toml, fleet.yaml,
  epochs.jsonl, epochs.csv);
* the killed node is recorded as failed, and the run goes on without it;
* after each epoch, every eliminated node holds exactly the server's model (checksums);
* the in-process engine, built by the registry from the same spec's ``[task]`` and seed, fed the same
  metrics, the same modelled training times and the same node failing from epoch 2, eliminates the
  same nodes in the same order.

Every SuperNode has its warm trainer (the per-message ClientApp process is thin); after distribution
only the LoRA adapters travel, which the record's per-round byte counts show.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import signal
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from edgetune.engines.base import ENGINES, Engine, RoundResult
from edgetune.fleet.generate import generate_fleet
from edgetune.fleet.schema import Fleet, save_fleet
from edgetune.flower.deploy import Deployment
from edgetune.flower.wrappers import EngineWrapper, ModelledTrainTime
from edgetune.network.northbound import HttpNorthboundClient, NorthboundServer
from edgetune.orchestrator.loop import Orchestrator
from edgetune.runs.execute import build_context
from edgetune.runs.flower import launch, wait_for_run
from edgetune.runs.spec import RunSpec, engine_config_class, load_spec, spec_from_dict
from edgetune.selection import make_policy
from tests.conftest import StubNorthbound

pytestmark = pytest.mark.slow

SEED = 0
EPOCHS = 3
RUN_TIMEOUT_S = 420.0  # hard cap for the whole Flower run; the test never waits longer


class FailFrom(EngineWrapper):
    """The same failure as the killed SuperNode: ``node`` reports nothing from ``epoch`` on."""

    def __init__(self, inner: Engine, node: int, epoch: int) -> None:
        super().__init__(inner)
        self.node, self.epoch = node, epoch

    def train_round(self, epoch: int, active: Sequence[int]) -> RoundResult:
        res = self.inner.train_round(epoch, active)
        if epoch >= self.epoch and self.node in res.reports:
            del res.reports[self.node]
            res.failed[self.node] = "killed"
        return res


def _spec(fleet_path: Path, url: str) -> RunSpec:
    return spec_from_dict(
        {
            "run": {"engine": "flower", "policy": "ne", "epochs": EPOCHS, "seed": SEED, "learning_rate": 3e-3},
            "fleet": {"file": str(fleet_path)},
            "task": {
                "model": "tiny",
                "pretrain_steps": 300,
                "lora": True,
                "train_tokens": 2048,
                "val_tokens": 512,
                "block_len": 64,
                "micro_batch": 16,
                "optimizer": "adam",
            },
            "northbound": {"url": url},
            "flower": {
                "train_time": "modelled",
                "backend": "training",
                "connect_timeout_s": 120,
                "round_timeout_s": 150,
                "straggler_ratio": 2.0,
                "straggler_min_s": 15,
                "sync_timeout_s": 40,
            },
        }
    )


def _inprocess_eliminations(spec: RunSpec, fleet: Fleet, nb_url: str, victim: int) -> list[list[int]]:
    """The in-process engine built by the registry from the same spec (same task, seed, partitions)."""
    work_s = spec.engine.work_s  # the Flower run's modelled training time
    run = dataclasses.replace(spec.run, engine="inprocess")
    inproc = spec.replace(run=run, engine=engine_config_class("inprocess")())
    engine = ENGINES["inprocess"].build(build_context(inproc, fleet))
    wrapped = FailFrom(ModelledTrainTime(engine, fleet, work_s), victim, 2)
    record = Orchestrator(wrapped, make_policy("ne"), HttpNorthboundClient(nb_url), fleet, inproc.run).run()
    return [e.eliminated for e in record.epochs]


def _training_available() -> bool:
    try:
        from edgetune.training.corpus import fortune_documents

        return len(fortune_documents()) > 0
    except Exception:
        return False


@pytest.fixture
def workdir() -> Any:
    """A private folder (not pytest's tmp_path: concurrent pytest sessions prune those mid-run)."""
    path = Path(tempfile.mkdtemp(prefix="edgetune-flower-test-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _epochs_so_far(out: Path) -> list[dict[str, Any]]:
    path = out / "epochs.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_loopback_ne_kill_and_sync(workdir: Path) -> None:
    tmp_path = workdir
    if not _training_available():
        pytest.skip("fine-tuning corpus missing: run scripts/install-system.sh")
    fleet = generate_fleet(4, "normal", np.random.default_rng(SEED).spawn(3)[0], seed=SEED)
    fleet_path = save_fleet(fleet, tmp_path / "fleet.yaml")
    metrics = {n.id: (8.0 + 3 * n.id, 60.0 - 7 * n.id, 1.0 + 0.1 * n.id) for n in fleet.nodes}
    nb = NorthboundServer(StubNorthbound(metrics)).start()
    spec = _spec(fleet_path, nb.url)
    out = tmp_path / "run"
    env = {"EDGETUNE_CACHE_DIR": os.environ["EDGETUNE_CACHE_DIR"]} if "EDGETUNE_CACHE_DIR" in os.environ else {}
    dep = Deployment(tmp_path / "deploy", env=env)
    victim: int | None = None
    status: str | None = None
    t0 = time.monotonic()
    try:
        launch(dep, spec, out, fleet, local_nodes=4)
        # Wait for epoch 1 (epochs.jsonl is appended as each epoch ends), then kill a node that trains in epoch 2.
        while time.monotonic() - t0 < RUN_TIMEOUT_S and victim is None and status is None:
            status = wait_for_run(out, 0.0)
            done = _epochs_so_far(out)
            if done:
                victim = min(i for i in done[0]["active"] if i not in done[0]["eliminated"])
                dep.kill(f"node{victim}", signal.SIGKILL)
                assert not dep.alive(f"node{victim}")
            time.sleep(0.5)
        status = wait_for_run(out, max(RUN_TIMEOUT_S - (time.monotonic() - t0), 1.0))
    finally:
        dep.stop()
        nb.stop()
    wall = time.monotonic() - t0
    if status != "complete":
        logs = "\n".join(f"--- {n}\n{dep.tail(n)}" for n in dep.procs)
        err = (out / "error.txt").read_text() if (out / "error.txt").exists() else f"status {status}"
        pytest.fail(f"Flower run did not complete: {err}\n{logs}")
    assert victim is not None
    doc: dict[str, Any] = json.loads((out / "record.json").read_text())
    flower = doc["engine"]["flower"]
    print(f"loopback run: {wall:.0f} s wall, rounds {[round(r['wall_s'], 1) for r in flower['rounds']]}")

    # The run folder of every engine; the spec it holds is the one that ran.
    assert doc["status"] == "complete"
    assert load_spec(out / "spec.toml")[0] == spec
    assert [e["epoch"] for e in _epochs_so_far(out)] == [1, 2, 3] == [e["epoch"] for e in doc["epochs"]]
    assert _epochs_so_far(out) == doc["epochs"]
    assert len((out / "epochs.csv").read_text().splitlines()) == 1 + EPOCHS
    assert (out / "fleet.yaml").exists()

    # The same contract, wall-clock times, every epoch recorded, the killed node failed.
    assert doc["time_base"] == "wall" and doc["config"]["run"]["engine"] == "flower"
    assert doc["engine"]["engine"] == "flower" and doc["engine"]["task_backend"] == "training"
    epochs = doc["epochs"]
    assert all(e["end_s"] >= e["start_s"] for e in epochs)
    assert str(victim) in epochs[1]["failed"] and victim not in epochs[1]["active"]
    assert epochs[1]["active"], "the surviving nodes of epoch 2 must have replied"
    assert doc["completion_time_s"] > 0 and doc["final_loss"] is not None
    # LoRA: after distribution only adapters travel (a small fraction of the model), both ways.
    assert flower["travelling_bytes"] < flower["model_bytes"] / 10
    for r in flower["rounds"]:
        assert 0 < r["down_bytes"] <= 4 * flower["travelling_bytes"] and r["up_bytes"] <= 4 * flower["travelling_bytes"]
    assert any(info.get("warm") is True for info in flower["node_info"].values())

    # After each epoch every eliminated (and alive) node holds the server's model of that epoch.
    sync = flower["sync"]
    server = flower["server_checksums"]
    assert all(s["match"] for s in sync if s["checksum"] is not None)
    gone: set[int] = set()
    for e in epochs:
        gone |= set(e["eliminated"])
        version = str(e["epoch"]) if str(e["epoch"]) in server else max(server, key=int)
        ok = {s["node"] for s in sync if str(s["version"]) == version and s["match"]}
        assert gone - {victim} <= ok, (e["epoch"], gone, ok)
    final = max(server, key=int)
    assert set(fleet.node_ids) - {victim} <= {s["node"] for s in sync if str(s["version"]) == final and s["match"]}

    # Same spec, metrics, training times and failure in-process: same eliminations.
    assert _inprocess_eliminations(spec, fleet, _serve_again(metrics), victim) == [e["eliminated"] for e in epochs]


def _serve_again(metrics: dict[int, tuple[float, float, float]]) -> str:
    """A fresh stub on a new port (the first one was stopped with the deployment)."""
    server = NorthboundServer(StubNorthbound(metrics)).start()
    _SERVERS.append(server)
    return server.url


_SERVERS: list[NorthboundServer] = []


@pytest.fixture(autouse=True)
def _stop_servers() -> Any:
    yield
    while _SERVERS:
        _SERVERS.pop().stop()
