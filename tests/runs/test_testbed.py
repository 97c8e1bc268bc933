"""Wiring of testbed runs that needs no root: the Flower spec of a testbed spec, the prediction's workload."""

from __future__ import annotations

import pytest

from edgetune.engines.simulated import MB
from edgetune.fleet.schema import fleet_from_dict
from edgetune.runs.spec import spec_from_dict
from edgetune.runs.testbed import flower_spec, real_compute_workload


def test_flower_spec_keeps_the_run_and_takes_the_testbed_waits(tmp_path):
    spec = spec_from_dict(
        {
            "run": {"engine": "testbed", "policy": "ar", "epochs": 3},
            "testbed": {"round_timeout_s": 90.0, "connect_timeout_s": 45.0},
            "task": {"model": "tiny", "lora": True},
        }
    )
    out = flower_spec(spec, tmp_path / "f.yaml", "http://127.0.0.1:4242")
    assert out.run.engine == "flower" and out.run.policy == "ar" and out.run.epochs == 3
    assert out.engine.round_timeout_s == 90.0 and out.engine.connect_timeout_s == 45.0
    assert out.fleet.file == str(tmp_path / "f.yaml")
    assert out.northbound.url == "http://127.0.0.1:4242"
    assert out.task == spec.task and out.policy == spec.policy


def _fleet(*computes: float):
    """Nodes 0, 1, ... of the given compute powers behind one gateway, every link 10 Mbps / 5 ms."""
    link = {"bandwidth_mbps": 10.0, "delay_ms": 5.0, "loss_pct": 0.0}
    return fleet_from_dict(
        {
            "orchestrator": {"switch": "agg0", "link": link},
            "switches": [
                {"id": "agg0", "kind": "aggregation"},
                {"id": "gw0", "kind": "gateway", "parent": "agg0", "uplink": link},
            ],
            "nodes": [{"id": i, "compute": c, "gateway": "gw0", "link": link} for i, c in enumerate(computes)],
        }
    )


def test_real_compute_workload_from_a_record():
    fleet = _fleet(20.0, 10.0)
    # model 3 MB, adapters 1 MB travel: partition sized 2 MB so distribution carries the whole model
    doc = {
        "engine": {"flower": {"model_bytes": 3 * MB, "travelling_bytes": 1 * MB}},
        "epochs": [
            {"metrics": {"0": {"train_time_s": 0.5}, "1": {"train_time_s": 1.0}}},  # 0.5*20/2 = 5, 1*10/2 = 5
            {"metrics": {"0": {"train_time_s": 0.7}}},  # 0.7*20/2 = 7
        ],
    }
    w = real_compute_workload(doc, fleet)
    assert w.model_bytes == 1 * MB and w.gradient_bytes == 1 * MB
    assert w.dataset_bytes == pytest.approx(2 * 2 * MB)
    assert w.compute_s_per_mb == pytest.approx(5.0)  # median of 5, 5, 7


def test_the_prediction_document_is_plain_json_with_the_error_against_the_testbed_run():
    import json

    from edgetune.engines.simulated import SimWorkload
    from edgetune.runs.testbed import prediction_doc, simulate_prediction

    fleet = _fleet(20.0, 10.0, 5.0)
    spec = spec_from_dict({"run": {"engine": "testbed", "policy": "ne", "epochs": 3}})
    workload = SimWorkload(model_bytes=1 * MB, gradient_bytes=1 * MB, dataset_bytes=3 * MB, compute_s_per_mb=1.0)
    sim = simulate_prediction(fleet, spec, workload)
    doc = prediction_doc(2 * sim.completion_time_s, sim, workload)
    back = json.loads(json.dumps(doc, allow_nan=False))  # no NodeValues, arrays or tuples left over
    assert back["engine"] == "simulated" and back["completion_time_s"] == pytest.approx(sim.completion_time_s)
    assert back["error_s"] == pytest.approx(sim.completion_time_s) and back["error_pct"] == pytest.approx(100.0)
    assert set(back["energy"]["per_node_j"]) == {"0", "1", "2"}
    assert back["energy"]["total_j"] == pytest.approx(sum(back["energy"]["per_node_j"].values()), rel=1e-9)
    assert [e["epoch"] for e in back["epochs"]] == [1, 2, 3]
    assert back["workload"]["compute_s_per_mb"] == 1.0
