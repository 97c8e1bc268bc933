"""The in-process engine: real training under the one orchestrator loop, on a virtual clock."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
import torch

from edgetune.engines.base import ENGINES
from edgetune.engines.inprocess import InProcessConfig, InProcessEngine, build_inprocess
from edgetune.fleet.generate import generate_fleet
from edgetune.orchestrator.loop import Orchestrator, OrchestratorConfig
from edgetune.orchestrator.record import EpochRecord, RunRecord
from edgetune.selection import make_policy
from edgetune.training.lora import payload_bytes
from edgetune.training.spec import TrainingSpec
from tests.training.helpers import synthetic_data, tiny_model

SPT = 1e-4  # fixed host seconds per token: deterministic virtual clock


@pytest.fixture(autouse=True)
def _one_torch_thread() -> Iterator[None]:
    """The CI machine has 2 cores shared with other tests: train on one thread."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _run(
    policy: str = "ne",
    nodes: int = 6,
    epochs: int = 4,
    seed: int = 0,
    lr: float = 3e-3,
    progress: object = None,
    **cfg: object,
) -> tuple[RunRecord, InProcessEngine]:
    fleet = generate_fleet(nodes, "normal", np.random.default_rng(seed), seed=seed)
    data = synthetic_data(seed, train_tokens=32 * 4 * nodes)
    spt = cfg.pop("spt", SPT)
    config = InProcessConfig(host_seconds_per_token=float(spt or 0.0))  # type: ignore[arg-type]
    task = TrainingSpec(**cfg)  # type: ignore[arg-type]
    engine = build_inprocess(
        fleet, np.random.default_rng(seed), tiny_model(seed), data, config, learning_rate=lr, task=task
    )
    orch_cfg = OrchestratorConfig(epochs=epochs, learning_rate=lr)
    orch = Orchestrator(engine, make_policy(policy), engine.northbound, fleet, orch_cfg, progress=progress)  # type: ignore[arg-type]
    return orch.run(), engine


def test_registered() -> None:
    # the registry holds a torch-free entry (engines/inprocess_entry.py); its build makes the engine
    from edgetune.engines.inprocess_entry import InProcessEntry

    assert ENGINES["inprocess"] is InProcessEntry
    assert InProcessEntry.config_cls is InProcessConfig
    assert InProcessEntry.time_base == InProcessEngine.time_base == "virtual"


def test_eliminated_nodes_hold_the_global_model_after_every_epoch() -> None:
    holder: dict[str, InProcessEngine] = {}
    eliminated: set[int] = set()
    checked = []

    def check(ep: EpochRecord) -> None:
        engine = holder["engine"]
        eliminated.update(ep.eliminated)
        for i in engine.fleet.node_ids:  # every node, eliminated ones included, got the update
            for a, b in zip(engine.node_state(i), engine.global_state(), strict=True):
                assert torch.equal(a, b)
            assert engine.node_digest(i) == engine.global_digest()
        checked.append((ep.epoch, len(eliminated)))

    fleet = generate_fleet(6, "normal", np.random.default_rng(0), seed=0)
    data = synthetic_data(0, train_tokens=32 * 24)
    engine = build_inprocess(
        fleet,
        np.random.default_rng(0),
        tiny_model(),
        data,
        InProcessConfig(host_seconds_per_token=SPT),
        learning_rate=3e-3,
    )
    holder["engine"] = engine
    start = engine.global_digest()
    rec = Orchestrator(
        engine,
        make_policy("ne"),
        engine.northbound,
        fleet,
        OrchestratorConfig(epochs=4, learning_rate=3e-3),
        progress=check,
    ).run()
    assert [e for e, _ in checked] == [1, 2, 3, 4]
    assert checked[-1][1] > 0  # some nodes were eliminated and still checked
    assert engine.global_digest() != start  # the model did change
    assert engine.version == len(rec.epochs)


def test_validation_loss_goes_down_and_record_is_complete() -> None:
    rec, _ = _run("ar", epochs=5, lr=1e-2)
    doc = rec.to_json()
    losses = [e["loss"] for e in doc["epochs"]]
    assert doc["pre_training_loss"] is not None
    assert losses[-1] < doc["pre_training_loss"] - 0.2
    assert doc["time_base"] == "virtual" and doc["time_unit"] == "virtual seconds"
    assert all(e["perplexity"] == pytest.approx(np.exp(e["loss"])) for e in doc["epochs"])
    assert doc["engine"]["trainable_parameters"] > 0 and doc["status"] == "complete"
    assert doc["energy"]["total_j"] > 0 and doc["bytes_moved"] > 0


def test_node_time_is_host_time_scaled_by_compute() -> None:
    rec, engine = _run("ar", epochs=1)
    ep = rec.epochs[0]
    tokens_per_node = 4 * 32
    for i, m in ep.metrics.items():
        expected = tokens_per_node * SPT * 30.0 / engine.fleet.node(i).compute
        assert m["train_time_s"] == pytest.approx(expected)


def test_real_payload_sizes_travel() -> None:
    rec, engine = _run("ne", epochs=3)
    n_params = sum(p.numel() for p in engine.model.parameters())
    assert engine.update_bytes == payload_bytes([(n, p) for n, p in engine.model.named_parameters()])
    assert 4 * n_params < engine.update_bytes < 4 * n_params + 100_000
    for ep in rec.epochs:
        assert ep.upload_bytes == len(ep.active) * engine.update_bytes
    # distribution (model + partition), uploads of the trained nodes, a broadcast to all every epoch
    n = len(engine.fleet.node_ids)
    part = sum(engine._partition_bytes.values())
    expected = n * engine.model_bytes + part + sum(e.upload_bytes for e in rec.epochs) + 3 * n * engine.update_bytes
    assert rec.bytes_moved == pytest.approx(expected)


def test_same_seed_same_record_with_fixed_token_cost() -> None:
    a, _ = _run("ne", epochs=3)
    b, _ = _run("ne", epochs=3)
    ja, jb = a.to_json(), b.to_json()
    assert ja["epochs"] == jb["epochs"]
    assert ja["completion_time_s"] == jb["completion_time_s"]


def test_measured_clock_and_fedavg_run() -> None:
    rec, engine = _run("ne", epochs=2, spt=None, local_steps=2)
    assert all(m["train_time_s"] > 0 for m in rec.epochs[0].metrics.values())
    assert engine.timings["local_compute_cpu_s"] > 0
    assert rec.final_loss is not None and np.isfinite(rec.final_loss)
