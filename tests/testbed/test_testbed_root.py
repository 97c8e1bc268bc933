"""The real testbed (root, Open vSwitch, os-ken): accuracy, runs against the simulation, clean teardown.

Every test builds its own testbed under a unique tag and tears it down in ``finally``; the teardown
check compares what exists on the machine before ``up`` and after ``down``. Bounded: the whole module
takes about 3-4 minutes on 2 cores.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from edgetune.fleet.generate import generate_fleet
from edgetune.network.monitor import SimulatedMonitor
from edgetune.network.northbound import SCHEMA_KEYS, HttpNorthboundClient, metrics_document
from edgetune.network.simulated import SimulatedNetwork
from tests.testbed.conftest import snapshot

pytestmark = [pytest.mark.root, pytest.mark.slow, pytest.mark.usefixtures("need_testbed")]


def _tag(suffix: str) -> str:
    return f"{suffix}{os.getpid() % 1000:03d}"[:4]


@pytest.fixture
def state_dir(tmp_path, monkeypatch) -> Path:
    import edgetune.testbed.state as st

    monkeypatch.setattr(st, "STATE_DIR", tmp_path)
    return tmp_path


def test_accuracy_and_clean_teardown(state_dir):
    """Served vs configured: bandwidth +-15 %, delay -1..+5 ms, loss +-5 points, >= 200 samples each."""
    from edgetune.testbed.build import down, leftovers, up
    from edgetune.testbed.runs import accuracy_fleet, measure_accuracy
    from edgetune.testbed.state import TestbedState

    before = snapshot()
    path = state_dir / "acc.json"
    up(accuracy_fleet(), _tag("a"), path)
    inventory = TestbedState.load(path).data
    try:
        during = snapshot()
        assert during["netns"] - before["netns"], "up created no namespace"
        assert during["bridges"] - before["bridges"], "up created no bridge"
        # the northbound document has exactly the simulated monitor's schema
        url = inventory["services"]["northbound_url"]
        doc = json.loads(__import__("urllib.request").request.urlopen(url + "/v1/metrics", timeout=5).read())
        fleet = accuracy_fleet()
        sim = SimulatedMonitor(SimulatedNetwork(fleet, np.random.default_rng(0)), np.random.default_rng(1))
        sim.advance_to(0.0)
        sim_doc = metrics_document(sim)
        assert set(doc) == set(sim_doc) and set(doc["paths"]) == set(sim_doc["paths"])
        for path_doc in doc["paths"].values():
            assert tuple(path_doc) == SCHEMA_KEYS
        assert set(HttpNorthboundClient(url).path_metrics()) == set(fleet.node_ids)

        report = measure_accuracy(path, idle_s=26.0, load_s=32.0)
        n_idle, n_load = report.n_samples()
        print(json.dumps(report.summary(), indent=1))
        assert n_idle >= 200 and n_load >= 200
        failures = report.failures()
        print(f"{len(failures)} of {n_idle + n_load} samples outside tolerance: {failures[:10]}")
        # Every path's median within tolerance; a busy 2-core host may push a stray sample out (<= 2 %).
        for nid, s in report.summary().items():
            assert abs(s["load"]["bandwidth_err_pct"][1]) <= 15.0, (nid, s)
            assert -1.0 <= s["idle"]["delay_err_ms"][1] <= 5.0, (nid, s)
            assert abs(s["idle"]["loss_err_points"][1]) <= 5.0, (nid, s)
        assert len(failures) <= 0.02 * (n_idle + n_load), failures[:10]
    finally:
        down(path)
    after = snapshot()
    assert not leftovers(inventory)
    assert after["netns"] <= before["netns"] and after["bridges"] <= before["bridges"]
    assert after["links"] <= before["links"] and after["procs"] <= before["procs"]
    assert not path.exists()


def test_ne_and_ar_against_the_simulation(state_dir):
    """A 6-node fleet: NE and AR completion times on the testbed next to the simulation's prediction."""
    from edgetune.runs.spec import spec_from_dict
    from edgetune.runs.testbed import run_on_testbed, simulate_prediction
    from edgetune.testbed.build import down, leftovers, up
    from edgetune.testbed.engine import scaled_workload
    from edgetune.testbed.runs import state_fleet
    from edgetune.testbed.state import TestbedState

    before = snapshot()
    path = state_dir / "run.json"
    up(generate_fleet(6, "normal", np.random.default_rng(5), seed=5), _tag("r"), path)
    inventory = TestbedState.load(path).data
    results = {}
    try:
        fleet = state_fleet(TestbedState.load(path))
        workload = scaled_workload(5e-4)
        for pol in ("ne", "ar"):  # N = 6 > T = 3: NE drops floor(5/2) = 2 nodes per epoch
            spec = spec_from_dict({"run": {"epochs": 3, "policy": pol}})
            rec = run_on_testbed(path, spec, workload, out=state_dir / f"run-{pol}")
            sim = simulate_prediction(fleet, spec, workload)
            results[pol] = (rec, sim)
            assert rec.time_base == "wall" and rec.engine_info["engine"] == "testbed" and rec.status == "complete"
            assert (state_dir / f"run-{pol}" / "epochs.jsonl").read_text().count("\n") == 3
            assert [e.epoch for e in rec.epochs] == [1, 2, 3]
            assert all(set(e.metrics) == set(e.active) for e in rec.epochs)
            # processes the engine started are gone again after the run
            assert not [r for r in TestbedState.load(path).created if r.name.startswith("agent")]
    finally:
        down(path)
    assert not leftovers(inventory)
    after = snapshot()
    assert after["netns"] <= before["netns"] and after["procs"] <= before["procs"]
    for pol, (rec, sim) in results.items():
        err = (rec.completion_time_s - sim.completion_time_s) / sim.completion_time_s
        print(
            f"{pol}: testbed {rec.completion_time_s:.1f} s, simulation {sim.completion_time_s:.1f} s, "
            f"error {100 * err:+.1f} %, active {[len(e.active) for e in rec.epochs]}"
        )
        # TCP retransmission timeouts on the lossy long-RTT paths spread single runs (seen: -16 % .. +33 %)
        assert abs(err) < 0.6, (pol, rec.completion_time_s, sim.completion_time_s)
    ne, ar = results["ne"][0], results["ar"][0]
    assert [len(e.active) for e in ne.epochs] == [6, 4, 2]
    assert [len(e.active) for e in ar.epochs] == [6, 6, 6]


def test_up_refuses_to_touch_what_it_did_not_create(state_dir):
    """A namespace of the same name that is not ours stops `up` before it creates anything else."""
    from edgetune.testbed.build import up
    from edgetune.testbed.runs import accuracy_fleet
    from edgetune.testbed.system import TestbedError, run

    tag = _tag("s")
    foreign = f"et{tag}-o"
    run(["ip", "netns", "add", foreign])
    try:
        before = snapshot()
        with pytest.raises(TestbedError, match="not ours"):
            up(accuracy_fleet(), tag, state_dir / "s.json")
        after = snapshot()
        assert foreign in after["netns"]  # still there: never ours to delete
        assert after["netns"] == before["netns"] and after["bridges"] == before["bridges"]
        assert after["procs"] <= before["procs"]
        assert not (state_dir / "s.json").exists()
    finally:
        run(["ip", "netns", "del", foreign])
