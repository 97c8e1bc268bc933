"""Injected faults on Flower: the ClientApp crashes, holds (down) or slows down when its train message says so.

On the in-memory grid (the ClientApp runs in this process) and on Flower's simulation runtime
(``flower-sim``, one virtual SuperNode per node); each run ends with the right ``failed`` entries
and no hang (a SIGALRM deadline fails the test instead of hanging it).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from edgetune.fleet.faults import FaultSpec
from edgetune.fleet.generate import generate_fleet
from edgetune.fleet.schema import Fleet, save_fleet
from edgetune.flower.clientapp import app as client_app
from edgetune.flower.codec import node_config
from edgetune.flower.engine import FlowerEngine, FlowerEngineConfig
from edgetune.flower.task import NodeTask, SyntheticTask
from edgetune.flower.wrappers import ModelledTrainTime
from edgetune.network.northbound import NorthboundServer
from edgetune.orchestrator.loop import Orchestrator, OrchestratorConfig
from edgetune.orchestrator.record import RunRecord
from edgetune.selection import make_policy
from edgetune.training.spec import TrainingSpec
from tests.conftest import StubNorthbound
from tests.flower.fakegrid import FakeClock, FakeGrid
from tests.fuzz.conftest import deadline

FIDS = {0: 9001, 1: 9002, 2: 9003, 3: 9004}


@pytest.fixture(autouse=True)
def _deadline() -> Iterator[None]:
    """No test here may hang: each ends within 400 s or fails (tests.fuzz.conftest.deadline)."""

    with deadline(400):
        yield


@pytest.fixture(scope="module")
def fleet4() -> Fleet:
    return generate_fleet(4, "normal", np.random.default_rng(3), seed=3)


def _stub(fleet: Fleet) -> StubNorthbound:
    return StubNorthbound({n.id: (10.0 + n.id, 20.0 + 3 * n.id, 0.5) for n in fleet.nodes})


def _fake_run(fleet: Fleet, faults: str, epochs: int = 3) -> tuple[RunRecord, FlowerEngine]:
    spec = TrainingSpec(block_len=16, micro_batch=8, optimizer="sgd", lora=False)
    task = SyntheticTask(NodeTask(spec, seed=0, num_partitions=len(fleet.nodes), backend="synthetic"))
    grid = FakeGrid(client_app, {FIDS[n.id]: {"partition-id": k, "node-id": n.id} for k, n in enumerate(fleet.nodes)})
    clock = FakeClock()
    cfg = FlowerEngineConfig(connect_timeout_s=5, round_timeout_s=0.5)  # a down ClientApp holds 0.5 s
    engine = FlowerEngine(grid, fleet, task, cfg, clock=clock, sleep=clock.sleep)
    engine.faults = FaultSpec(faults)
    orch = Orchestrator(
        ModelledTrainTime(engine, fleet, 30.0, engine.faults),
        make_policy("ar"),
        _stub(fleet),
        fleet,
        OrchestratorConfig(epochs=epochs, learning_rate=0.2),
    )
    return orch.run(), engine


def test_crash_down_slow_on_the_in_memory_grid(fleet4: Fleet) -> None:
    rec, engine = _fake_run(fleet4, "0:crash@1,1:down@2,2:slow@1-x2")
    e = rec.epochs
    assert set(e[0].failed) == {0} and "crashed: injected fault 0:crash@1" in e[0].failed[0]
    assert "ClientApp error" in e[0].failed[0]
    assert e[0].active == [1, 2, 3] and e[1].active == [0, 2, 3] and e[2].active == [0, 1, 2, 3]
    assert set(e[1].failed) == {1} and "injected fault 1:down@2" in e[1].failed[1]
    assert e[2].failed == {}
    compute = {n.id: n.compute for n in fleet4.nodes}
    for ep in e:
        assert ep.metrics[2]["train_time_s"] == pytest.approx(2 * 30.0 / compute[2])  # slow x2
        assert ep.metrics[3]["train_time_s"] == pytest.approx(30.0 / compute[3])
    assert rec.status == "complete"
    # Only the faulty nodes' messages said so.
    seen = [node_config(m.content.config_records["config"], m.metadata.dst_node_id) for m in engine.grid.sent]  # type: ignore[attr-defined]
    assert sorted(str(c["fault"]) for c in seen if "fault" in c) == ["crash", "down"] + ["slow"] * 3


@pytest.mark.slow
def test_crash_down_slow_on_the_simulation_runtime(tmp_path: Path) -> None:
    """``flower-sim``: the down ClientApp holds past the round timeout, so the server gives up on it."""
    from edgetune.runs.flower import simulate
    from edgetune.runs.spec import spec_from_dict

    fleet = generate_fleet(4, "normal", np.random.default_rng(0), seed=0)
    save_fleet(fleet, tmp_path / "fleet.yaml")
    with NorthboundServer(_stub(fleet)) as srv:
        spec = spec_from_dict(
            {
                "run": {"engine": "flower", "policy": "ar", "epochs": 3},
                "fleet": {"file": str(tmp_path / "fleet.yaml")},
                "northbound": {"url": srv.url},
                "task": {"model": "tiny", "lora": False, "pretrain_steps": 2, "block_len": 64},
                "flower": {
                    "backend": "synthetic",
                    "train_time": "modelled",
                    "connect_timeout_s": 180.0,
                    "round_timeout_s": 8.0,
                },
                "faults": {"events": "0:crash@1,1:down@2,2:slow@1-x3"},
            }
        )
        rec = simulate(spec, tmp_path / "o")
    doc = json.loads((tmp_path / "o" / "record.json").read_text())
    assert doc == rec.to_json() and doc["status"] == "complete"
    e = doc["epochs"]
    assert list(e[0]["failed"]) == ["0"] and "injected fault 0:crash@1" in e[0]["failed"]["0"]
    assert list(e[1]["failed"]) == ["1"] and "no reply within" in e[1]["failed"]["1"]  # timed out
    assert 1 not in e[1]["active"] and 0 in e[1]["active"]
    compute = {n.id: n.compute for n in fleet.nodes}
    assert e[0]["metrics"]["2"]["train_time_s"] == pytest.approx(3 * 30.0 / compute[2])
    assert doc["config"]["faults"] == {"events": "0:crash@1,1:down@2,2:slow@1-x3"}
