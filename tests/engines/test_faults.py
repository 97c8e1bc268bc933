"""Injected faults in the simulated and in-process engines: crash, down and slow, and node isolation."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
import torch

from edgetune.engines.inprocess import InProcessConfig, InProcessEngine, build_inprocess
from edgetune.fleet.faults import FaultSpec
from edgetune.fleet.generate import generate_fleet
from edgetune.orchestrator import OrchestratorConfig
from edgetune.orchestrator.loop import Orchestrator
from edgetune.orchestrator.record import RunRecord
from edgetune.runs.execute import run
from edgetune.runs.spec import RunSpec, spec_from_dict
from edgetune.selection.base import make_policy
from edgetune.training.spec import TrainingSpec
from tests.engines.test_simulated import QUIET, WORK, tiny_fleet
from tests.fuzz.conftest import deadline
from tests.training.helpers import synthetic_data, tiny_model


@pytest.fixture(autouse=True)
def _deadline() -> Iterator[None]:
    """No fault may hang a run: every test here ends within 120 s or fails."""

    with deadline(120):
        yield


def _sim(policy: str, epochs: int, faults: str, n: int = 3) -> RunRecord:
    from dataclasses import asdict

    spec = spec_from_dict(
        {
            "run": {"policy": policy, "epochs": epochs},
            "network": {"variation": {"bandwidth_sigma": 0.0, "delay_sigma": 0.0}},
            "simulated": {**asdict(WORK), "dataset_bytes": n * WORK.dataset_bytes},  # 1 MB per node
            "faults": {"events": faults},
        }
    )
    assert spec.network == QUIET
    return run(spec, fleet=tiny_fleet(n, 8.0 * n))


def test_simulated_faults_by_hand() -> None:
    """Three nodes, each alone on its 8 Mb/s access link (the gateway carries 24 Mb/s), AR, five epochs.

    Per node (1 MB partition, 1 MB model): distribute 2 MB = 2.01 s; train 1 MB / C=2 = 0.5 s;
    upload 1 MB = 1.01 s; broadcast 1.01 s.
    """
    rec = _sim("ar", 5, "0:slow@1x3,1:crash@2,2:down@2-3")
    e = rec.epochs
    # epoch 1: node 0 computes 3 x 0.5 = 1.5 s: 2.01 + 1.5 + 1.01 = 4.52; the others arrive at 3.52.
    assert e[0].active == [0, 1, 2] and e[0].failed == {}
    assert e[0].metrics[0]["train_time_s"] == pytest.approx(1.5) and e[0].metrics[1]["train_time_s"] == 0.5
    assert e[0].end_s == pytest.approx(4.52)
    # epoch 2: node 1 crashes, node 2 is down; node 0 alone: broadcast 4.52 -> 5.53, + 0.5 + 1.01 = 7.04.
    assert e[1].active == [0]
    assert e[1].failed == {
        1: "crashed: injected fault 1:crash@2",
        2: "down (did not answer): injected fault 2:down@2-3",
    }
    assert e[1].end_s == pytest.approx(7.04)
    # epoch 3: AR asks both again (one failure in a row: no rest); node 1 is back, node 2 still down.
    assert e[2].active == [0, 1] and list(e[2].failed) == [2]
    assert e[2].end_s == pytest.approx(7.04 + 1.01 + 1.51)
    # epoch 4: node 2 failed twice in a row: it sits one epoch out (not asked).
    assert e[3].active == [0, 1]
    assert e[3].failed == {2: "not asked: failed 2 epochs in a row, asked again in epoch 5"}
    # epoch 5: asked again, its down span is over: everyone trains.
    assert e[4].active == [0, 1, 2] and e[4].failed == {}
    assert rec.completion_time_s == pytest.approx(7.04 + 3 * 2.52)
    assert all(ep.eliminated == [] and ep.rejoined == [] for ep in rec.epochs)  # AR keeps everyone
    assert rec.status == "complete"


def test_simulated_dead_node_under_ar_is_asked_log_times() -> None:
    rec = _sim("ar", 20, "1:down@1-", n=2)
    asked = [ep.epoch for ep in rec.epochs if not rec.epochs[ep.epoch - 1].failed[1].startswith("not asked")]
    assert asked == [1, 2, 4, 8, 16]  # rests 0, 1, 3, 7 epochs after failures 1..4 in a row
    assert all(ep.active == [0] for ep in rec.epochs)


def test_simulated_dead_node_under_ne_is_eliminated_first() -> None:
    # 5 nodes, 3 epochs: Eq. 1 drops 2 per epoch; the node that crashed goes first.
    rec = _sim("ne", 3, "4:crash@1", n=5)
    assert rec.epochs[0].failed == {4: "crashed: injected fault 4:crash@1"}
    assert 4 in rec.epochs[0].eliminated and len(rec.epochs[0].eliminated) == 2


def test_faults_are_part_of_the_record_config_and_checked_against_the_fleet() -> None:
    rec = _sim("ar", 2, "1:crash@1", n=2)
    assert rec.config["faults"] == {"events": "1:crash@1"}
    from edgetune.errors import InputError

    with pytest.raises(InputError) as exc:
        _sim("ar", 2, "7:crash@1", n=2)
    assert exc.value.field == "faults.events" and "not in the fleet" in exc.value.reason


# -- in-process ---------------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _one_torch_thread() -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _inproc(
    faults: str, epochs: int = 3, nodes: int = 4, break_node: int | None = None
) -> tuple[RunRecord, InProcessEngine]:
    fleet = generate_fleet(nodes, "normal", np.random.default_rng(0), seed=0)
    data = synthetic_data(0, train_tokens=32 * 4 * nodes)
    engine = build_inprocess(
        fleet,
        np.random.default_rng(0),
        tiny_model(0),
        data,
        InProcessConfig(host_seconds_per_token=1e-4),
        task=TrainingSpec(),
    )
    engine.faults = FaultSpec(faults)
    if break_node is not None:  # a real bug in the training code: corrupts the weights, then raises
        inner = engine.aggregator.local
        calls = [0]

        def local(model: Any, params: Any, blocks: Any, lr: float, rng: Any) -> Any:
            calls[0] += 1
            if calls[0] == break_node + 1:  # epoch 1 asks the nodes in fleet order
                with torch.no_grad():
                    params[0].add_(1.0)
                raise ValueError("boom in the training code")
            return inner(model, params, blocks, lr, rng)

        engine.aggregator.local = local  # type: ignore[method-assign]
    orch = Orchestrator(engine, make_policy("ar"), engine.northbound, fleet, OrchestratorConfig(epochs=epochs))
    return orch.run(), engine


@pytest.mark.slow
def test_inprocess_crash_down_slow() -> None:
    clean, _ = _inproc("")
    rec, engine = _inproc("0:crash@1,1:down@2-3,2:slow@1-x2.5")
    e = rec.epochs
    assert e[0].failed == {0: "crashed: injected fault 0:crash@1"} and e[0].active == [1, 2, 3]
    assert e[1].failed == {1: "down (did not answer): injected fault 1:down@2-3"} and e[1].active == [0, 2, 3]
    assert e[2].failed == e[1].failed  # one failure in a row: asked again, still down
    # slow: the virtual compute time of node 2 is 2.5 times what it is without faults (fixed token cost).
    for k in range(3):
        assert e[k].metrics[2]["train_time_s"] == pytest.approx(2.5 * clean.epochs[k].metrics[2]["train_time_s"])
        assert e[k].metrics[3]["train_time_s"] == pytest.approx(clean.epochs[k].metrics[3]["train_time_s"])
    assert rec.status == "complete" and e[-1].loss is not None
    # every node still holds the global model (the broadcast reached the failed ones too)
    assert all(engine.node_digest(i) == engine.global_digest() for i in range(4))


def test_inprocess_node_exception_is_that_nodes_failure_not_the_runs() -> None:
    """A node whose training code raises midway (after touching the weights) is failed; the model the
    others build is exactly the one they build when that node is simply down in that epoch."""
    broken, eb = _inproc("", epochs=2, break_node=1)
    down, ed = _inproc("1:down@1", epochs=2)
    assert broken.status == "complete"
    assert broken.epochs[0].failed == {1: "ValueError: boom in the training code"}
    assert broken.epochs[0].active == [0, 2, 3] and broken.epochs[1].active == [0, 1, 2, 3]
    assert eb.global_digest() == ed.global_digest()
    assert [ep.loss for ep in broken.epochs] == [ep.loss for ep in down.epochs]


def test_inprocess_spec_wiring_reaches_the_engine() -> None:
    spec = spec_from_dict({"run": {"engine": "inprocess"}, "faults": {"events": "2:crash@1"}})
    assert isinstance(spec, RunSpec) and spec.faults.parsed[0].node == 2
