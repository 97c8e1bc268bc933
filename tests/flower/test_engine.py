"""The Flower engine under the one orchestrator loop, on an in-memory grid (fake clock, no processes)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from edgetune.fleet.generate import generate_fleet
from edgetune.fleet.schema import Fleet
from edgetune.flower.clientapp import app as client_app
from edgetune.flower.engine import FlowerEngine, FlowerEngineConfig
from edgetune.flower.task import NodeTask, SyntheticTask
from edgetune.flower.wrappers import ModelledTrainTime
from edgetune.orchestrator.loop import Orchestrator, OrchestratorConfig
from edgetune.orchestrator.record import EpochRecord, RunRecord
from edgetune.selection import make_policy
from edgetune.training.spec import TrainingSpec
from tests.conftest import StubNorthbound
from tests.flower.fakegrid import FakeClock, FakeGrid

FIDS = {0: 9001, 1: 9002, 2: 9003, 3: 9004}  # edgetune id -> Flower node id


@pytest.fixture(scope="module")
def fleet4() -> Fleet:
    return generate_fleet(4, "normal", np.random.default_rng(3), seed=3)


@pytest.fixture(scope="module")
def task(fleet4: Fleet) -> SyntheticTask:
    spec = TrainingSpec(block_len=16, micro_batch=8, optimizer="sgd", lora=False)
    return SyntheticTask(NodeTask(spec, seed=0, num_partitions=len(fleet4.nodes), backend="synthetic"))


def stub(fleet: Fleet) -> StubNorthbound:
    return StubNorthbound({n.id: (10.0 + n.id, 20.0 + 3 * n.id, 0.5) for n in fleet.nodes})


def make_run(
    fleet: Fleet,
    task: SyntheticTask,
    node_configs: dict[int, dict[str, Any]] | None = None,
    config: FlowerEngineConfig | None = None,
    epochs: int = 3,
    on_epoch: Callable[[EpochRecord, FakeGrid], None] | None = None,
) -> tuple[RunRecord, FlowerEngine, FakeGrid, FakeClock]:
    cfgs = node_configs or {FIDS[n.id]: {"partition-id": k, "node-id": n.id} for k, n in enumerate(fleet.nodes)}
    grid = FakeGrid(client_app, cfgs)
    clock = FakeClock()
    engine = FlowerEngine(
        grid,
        fleet,
        task,
        config or FlowerEngineConfig(connect_timeout_s=5, round_timeout_s=30),
        clock=clock,
        sleep=clock.sleep,
    )

    def progress(ep: EpochRecord) -> None:
        if on_epoch is not None:
            on_epoch(ep, grid)

    orch = Orchestrator(
        ModelledTrainTime(engine, fleet),
        make_policy("ne"),
        stub(fleet),
        fleet,
        OrchestratorConfig(epochs=epochs, learning_rate=0.2),
        progress=progress,
    )
    return orch.run(), engine, grid, clock


def eliminated(record: RunRecord) -> list[list[int]]:
    return [e.eliminated for e in record.epochs]


def synced_ok(engine: FlowerEngine, version: int) -> set[int]:
    return {s["node"] for s in engine.sync_log if s["version"] == version and s["match"]}


def test_ne_run_syncs_every_eliminated_node(fleet4: Fleet, task: SyntheticTask) -> None:
    record, engine, grid, _ = make_run(fleet4, task)
    assert record.time_base == "wall"
    assert [len(e.active) for e in record.epochs] == [4, 3, 2]
    assert all(not e.failed for e in record.epochs)
    assert engine.report()["node_map"] == {str(k): v for k, v in FIDS.items()}
    # Every node holds the initial model after distribute, and the final one after close.
    assert synced_ok(engine, 0) == set(fleet4.node_ids)
    assert synced_ok(engine, 3) == set(fleet4.node_ids)
    # After each epoch k, every node eliminated so far holds the server's model of version k.
    gone: set[int] = set()
    for ep in record.epochs:
        gone |= set(ep.eliminated)
        assert gone <= synced_ok(engine, ep.epoch)
    assert all(s["match"] for s in engine.sync_log)
    # The loss went down and the model changed every epoch.
    assert record.epochs[-1].loss is not None and record.pre_training_loss is not None
    assert record.epochs[-1].loss < record.pre_training_loss
    assert len(set(engine.report()["server_checksums"].values())) == 4
    # train + sync messages only, typed as the issue asks.
    assert {m.metadata.message_type for m in grid.sent} == {"train", "train.sync"}


def test_same_eliminations_as_scripted_inputs(fleet4: Fleet, task: SyntheticTask) -> None:
    """Modelled train times + fixed northbound metrics: the policy sees the same inputs as the stub."""
    from edgetune.selection.base import NodeMetrics

    record, _, _, _ = make_run(fleet4, task)
    policy = make_policy("ne")
    nb = stub(fleet4)
    active = list(fleet4.node_ids)
    expected = []
    for epoch in (1, 2, 3):
        net = nb.path_metrics(active)
        m = {
            i: NodeMetrics(
                fleet4.node(i).compute,
                net[i].bandwidth_mbps,
                net[i].delay_ms,
                net[i].loss_pct,
                30.0 / fleet4.node(i).compute,
            )
            for i in active
        }
        nxt = policy.select(epoch, 3, 4, active, policy.score(m))
        expected.append([i for i in active if i not in nxt])
        active = nxt
    assert eliminated(record) == expected


def test_raising_clientapp_is_recorded_and_run_goes_on(fleet4: Fleet, task: SyntheticTask) -> None:
    cfgs = {FIDS[n.id]: {"partition-id": k, "node-id": n.id} for k, n in enumerate(fleet4.nodes)}
    cfgs[FIDS[2]]["partition-id"] = 99  # the ClientApp raises: no such partition
    record, _, _, _ = make_run(fleet4, task, node_configs=cfgs)
    assert len(record.epochs) == 3
    assert "ClientApp error" in record.epochs[0].failed[2]
    assert 2 not in record.epochs[0].active
    assert record.epochs[0].loss is not None


def test_silent_and_vanished_nodes_time_out(fleet4: Fleet, task: SyntheticTask) -> None:
    on_epoch = _silence_a_survivor  # hung: listed by the SuperLink, never answers
    cfg = FlowerEngineConfig(connect_timeout_s=5, round_timeout_s=40, sync_timeout_s=7)
    record, _, grid, clock = make_run(fleet4, task, config=cfg, on_epoch=on_epoch)
    assert len(record.epochs) == 3
    hung = next(n for n, f in FIDS.items() if grid.behaviour[f] == "silent")
    assert "round timeout" in record.epochs[1].failed[hung]
    assert clock.t < 5 + 3 * 40 + 7 + 10  # bounded by the configured timeouts


def test_vanished_node_fails_without_waiting(fleet4: Fleet, task: SyntheticTask) -> None:
    def on_epoch(ep: EpochRecord, grid: FakeGrid) -> None:
        if ep.epoch == 1:
            survivor = next(i for i in ep.active if i not in ep.eliminated)
            grid.behaviour[FIDS[survivor]] = "gone"

    cfg = FlowerEngineConfig(connect_timeout_s=5, round_timeout_s=1000, sync_timeout_s=3)
    record, engine, grid, clock = make_run(fleet4, task, config=cfg, on_epoch=on_epoch)
    gone = next(n for n, f in FIDS.items() if grid.behaviour[f] == "gone")
    assert record.epochs[1].failed[gone] == "not connected (SuperNode gone)"
    assert clock.t < 100  # no round waited its 1000 s timeout
    assert any(s["node"] == gone and not s["match"] for s in engine.sync_log)  # final model not delivered


def test_round_without_replies_is_reported(fleet4: Fleet, task: SyntheticTask) -> None:
    def on_epoch(ep: EpochRecord, grid: FakeGrid) -> None:
        if ep.epoch == 1:
            for f in grid.behaviour:
                grid.behaviour[f] = "silent"

    cfg = FlowerEngineConfig(connect_timeout_s=5, round_timeout_s=20, sync_timeout_s=2)
    record, _, _, _ = make_run(fleet4, task, config=cfg, on_epoch=on_epoch, epochs=2)
    assert record.epochs[1].active == []
    assert record.epochs[1].note == "no node replied this epoch: model unchanged"
    assert set(record.epochs[1].failed) == set(record.epochs[0].active) - set(record.epochs[0].eliminated)


def _silence_a_survivor(ep: EpochRecord, grid: FakeGrid) -> None:
    if ep.epoch == 1:
        survivor = next(i for i in ep.active if i not in ep.eliminated)
        grid.behaviour[FIDS[survivor]] = "silent"


def test_straggler_deadline_cuts_the_wait(fleet4: Fleet, task: SyntheticTask) -> None:
    cfg = FlowerEngineConfig(
        connect_timeout_s=5, round_timeout_s=1000, straggler_ratio=2.0, straggler_min_s=4, sync_timeout_s=2
    )
    record, _, _, clock = make_run(fleet4, task, config=cfg, on_epoch=_silence_a_survivor)
    slow = next(i for i in record.epochs[0].active if i not in record.epochs[0].eliminated)
    assert "straggler deadline" in record.epochs[1].failed[slow]
    assert clock.t < 50


def test_missing_supernode_at_start_is_not_waited_for_forever(fleet4: Fleet, task: SyntheticTask) -> None:
    cfgs = {FIDS[n.id]: {"partition-id": k, "node-id": n.id} for k, n in enumerate(fleet4.nodes) if n.id != 3}
    cfg = FlowerEngineConfig(connect_timeout_s=6, round_timeout_s=30, sync_timeout_s=2)
    record, engine, _, clock = make_run(fleet4, task, node_configs=cfgs, config=cfg, epochs=2)
    assert engine.connect_s is not None and 6 <= engine.connect_s < 7
    assert record.epochs[0].failed[3] == "not connected (never identified)"
    assert clock.t < 60
