"""Integration: a real loopback Flower deployment (SuperLink + 4 SuperNodes as processes).

One run, 3 epochs of node elimination with LoRA (4 nodes: one dropped after epochs 1 and 2), fixed network
metrics from a northbound HTTP stub and modelled training times, so the policy's inputs are known.
During epoch 2 one active SuperNode is killed (SIGKILL on its process session). Checks:

* the run finishes (bounded: every wait has a timeout; the deployment is torn down in ``finally``);
* the killed node is recorded as failed, and the run goes on without it;
* after each epoch, every eliminated node holds exactly the server's model (checksums);
* the in-process engine, run on the same fleet and seed with the same metrics, the same modelled
  training times and the same node failing from epoch 2, eliminates the same nodes in the same order.

Every SuperNode has its warm trainer (the per-message ClientApp process is thin); after distribution
only the LoRA adapters travel, which the record's per-round byte counts show.
"""

from __future__ import annotations

import copy
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

from edgetune.engines.base import Engine, RoundResult
from edgetune.fleet.generate import generate_fleet
from edgetune.fleet.schema import Fleet, save_fleet
from edgetune.flower.deploy import Deployment, wait_for_file
from edgetune.flower.serverapp import ServerSettings
from edgetune.flower.wrappers import EngineWrapper, ModelledTrainTime
from edgetune.network.northbound import HttpNorthboundClient, NorthboundServer
from edgetune.orchestrator.loop import Orchestrator, OrchestratorConfig
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


def _settings(tmp: Path, fleet_path: Path, url: str) -> ServerSettings:
    return ServerSettings(
        fleet=str(fleet_path),
        out=str(tmp / "run.json"),
        progress=str(tmp / "progress.json"),
        northbound_url=url,
        policy="ne",
        epochs=EPOCHS,
        learning_rate=3e-3,
        seed=SEED,
        train_tokens=2048,
        val_tokens=512,
        block_len=64,
        micro_batch=16,
        optimizer="adam",
        lora=True,
        train_time="modelled",
        connect_timeout_s=120,
        round_timeout_s=150,
        straggler_ratio=2.0,
        straggler_min_s=15,
        sync_timeout_s=40,
    )


def _inprocess_eliminations(fleet: Fleet, nb_url: str, victim: int, settings: ServerSettings) -> list[list[int]]:
    """The in-process engine on the same job (same seed, partitions, pre-trained model)."""
    from edgetune.engines.inprocess import build_inprocess
    from edgetune.training.corpus import fortune_documents
    from edgetune.training.partition import DataConfig, build_finetune_data
    from edgetune.training.pretrain import PretrainConfig, pretrain

    pre = pretrain(PretrainConfig(model=settings.model, steps=settings.pretrain_steps))
    _, data_rng, run_rng = np.random.default_rng(SEED).spawn(3)
    data = build_finetune_data(
        fortune_documents(),
        pre.tokenizer,
        DataConfig(block_len=settings.block_len, train_tokens=settings.train_tokens, val_tokens=settings.val_tokens),
        data_rng,
    )
    engine = build_inprocess(fleet, copy.deepcopy(run_rng), copy.deepcopy(pre.model), data, None, "iid")
    wrapped = FailFrom(ModelledTrainTime(engine, fleet, settings.work_s), victim, 2)
    record = Orchestrator(
        wrapped,
        make_policy("ne"),
        HttpNorthboundClient(nb_url),
        fleet,
        OrchestratorConfig(epochs=EPOCHS, learning_rate=settings.learning_rate),
    ).run()
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


def test_loopback_ne_kill_and_sync(workdir: Path) -> None:
    tmp_path = workdir
    if not _training_available():
        pytest.skip("fine-tuning corpus missing: run scripts/install-system.sh")
    fleet = generate_fleet(4, "normal", np.random.default_rng(SEED).spawn(3)[0], seed=SEED)
    fleet_path = save_fleet(fleet, tmp_path / "fleet.yaml")
    metrics = {n.id: (8.0 + 3 * n.id, 60.0 - 7 * n.id, 1.0 + 0.1 * n.id) for n in fleet.nodes}
    nb = NorthboundServer(StubNorthbound(metrics)).start()
    settings = _settings(tmp_path, fleet_path, nb.url)
    dep = Deployment(
        tmp_path / "deploy",
        env={"EDGETUNE_CACHE_DIR": os.environ.get("EDGETUNE_CACHE_DIR", "")}
        if "EDGETUNE_CACHE_DIR" in os.environ
        else {},
    )
    victim: int | None = None
    t0 = time.monotonic()
    try:
        dep.start_superlink()
        for k, node in enumerate(fleet.nodes):
            dep.start_supernode(f"node{node.id}", {"partition-id": k, "node-id": node.id, "compute": node.compute})
        dep.submit(settings.to_run_config())
        progress = tmp_path / "progress.json"
        # Wait for epoch 1, then kill one node that trains in epoch 2.
        while time.monotonic() - t0 < RUN_TIMEOUT_S and victim is None:
            if (tmp_path / "run.json.error").exists():
                break
            if progress.exists():
                ep1 = json.loads(progress.read_text())["epochs"][0]
                victim = min(i for i in ep1["active"] if i not in ep1["eliminated"])
                dep.kill(f"node{victim}", signal.SIGKILL)
                assert not dep.alive(f"node{victim}")
            time.sleep(0.5)
        left = max(RUN_TIMEOUT_S - (time.monotonic() - t0), 1.0)
        got = wait_for_file(tmp_path / "run.json", left, also=[tmp_path / "run.json.error"])
    finally:
        dep.stop()
        nb.stop()
    wall = time.monotonic() - t0
    if got is None or got.name != "run.json":
        logs = "\n".join(f"--- {n}\n{dep.tail(n)}" for n in dep.procs)
        err = got.read_text() if got is not None else f"no record within {RUN_TIMEOUT_S:.0f} s"
        pytest.fail(f"Flower run did not finish: {err}\n{logs}")
    assert victim is not None
    doc: dict[str, Any] = json.loads(got.read_text())
    print(f"loopback run: {wall:.0f} s wall, rounds {[round(r['wall_s'], 1) for r in doc['flower']['rounds']]}")

    # The same contract, wall-clock times, every epoch recorded, the killed node failed.
    assert doc["time_base"] == "wall" and doc["config"]["engine"] == "flower"
    assert doc["config"]["task"]["backend"] == "training"
    epochs = doc["epochs"]
    assert [e["epoch"] for e in epochs] == [1, 2, 3]
    assert all(e["end_s"] >= e["start_s"] for e in epochs)
    assert str(victim) in epochs[1]["failed"] and victim not in epochs[1]["active"]
    assert epochs[1]["active"], "the surviving nodes of epoch 2 must have replied"
    assert doc["completion_time_s"] > 0 and doc["final_loss"] is not None
    # LoRA: after distribution only adapters travel (a small fraction of the model), both ways.
    flower = doc["flower"]
    assert flower["travelling_bytes"] < flower["model_bytes"] / 10
    for r in flower["rounds"]:
        assert 0 < r["down_bytes"] <= 4 * flower["travelling_bytes"] and r["up_bytes"] <= 4 * flower["travelling_bytes"]
    assert any(info.get("warm") is True for info in flower["node_info"].values())

    # After each epoch every eliminated (and alive) node holds the server's model of that epoch.
    sync = doc["flower"]["sync"]
    server = doc["flower"]["server_checksums"]
    assert all(s["match"] for s in sync if s["checksum"] is not None)
    gone: set[int] = set()
    for e in epochs:
        gone |= set(e["eliminated"])
        version = str(e["epoch"]) if str(e["epoch"]) in server else max(server, key=int)
        ok = {s["node"] for s in sync if str(s["version"]) == version and s["match"]}
        assert gone - {victim} <= ok, (e["epoch"], gone, ok)
    final = max(server, key=int)
    assert set(fleet.node_ids) - {victim} <= {s["node"] for s in sync if str(s["version"]) == final and s["match"]}

    # Same fleet, seed, metrics, training times and failure in-process: same eliminations.
    assert _inprocess_eliminations(fleet, _serve_again(metrics), victim, settings) == [e["eliminated"] for e in epochs]


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
