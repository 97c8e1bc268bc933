"""Simulation engine: a timeline worked out by hand, sharing, determinism, and a saved record."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from edgetune.engines.simulated import MB, SimWorkload
from edgetune.fleet.generate import generate_fleet
from edgetune.fleet.schema import Fleet, LinkSpec, NodeSpec, OrchestratorSpec, SwitchSpec
from edgetune.network.dynamics import VariationConfig
from edgetune.network.monitor import MonitorConfig
from edgetune.network.simulated import NetworkConfig
from edgetune.orchestrator import OrchestratorConfig
from edgetune.runs.sweep import simulate

DATA = Path(__file__).resolve().parents[1] / "data"
QUIET = NetworkConfig(variation=VariationConfig(bandwidth_sigma=0.0, delay_sigma=0.0))


def tiny_fleet(n: int, gateway_mbps: float) -> Fleet:
    """n nodes with 8 Mb/s lossless access links, 8 ms + 1 ms + 1 ms delay, compute 2, one gateway."""
    return Fleet(
        orchestrator=OrchestratorSpec(switch="agg0", link=LinkSpec(bandwidth_mbps=1000.0, delay_ms=1.0)),
        switches=[
            SwitchSpec(id="agg0", kind="aggregation"),
            SwitchSpec(
                id="gw0", kind="gateway", parent="agg0", uplink=LinkSpec(bandwidth_mbps=gateway_mbps, delay_ms=1.0)
            ),
        ],
        nodes=[
            NodeSpec(id=i, compute=2.0, gateway="gw0", link=LinkSpec(bandwidth_mbps=8.0, delay_ms=8.0))
            for i in range(n)
        ],
    )


WORK = SimWorkload(model_bytes=1 * MB, dataset_bytes=1 * MB, compute_s_per_mb=1.0)


def test_one_node_timeline_by_hand() -> None:
    rec = simulate(tiny_fleet(1, 8.0), "ar", 0, OrchestratorConfig(epochs=2), WORK, QUIET)
    # distribute model + partition = 2 MB: 10 ms + 16 Mb / 8 Mb/s = 2.01 s
    # epoch 1: compute 1 MB / C=2 -> 0.5 s (2.51), upload 1 MB: 0.01 + 1 = 1.01 s -> 3.52
    # broadcast 1 MB at 3.52 -> 4.53; epoch 2: compute -> 5.03, upload -> 6.04
    e1, e2 = rec.epochs
    assert e1.start_s == 0.0 and e1.end_s == pytest.approx(3.52)
    assert e2.start_s == pytest.approx(3.52) and e2.end_s == pytest.approx(6.04)
    assert rec.completion_time_s == pytest.approx(6.04)
    assert e1.metrics[0]["train_time_s"] == pytest.approx(0.5)
    assert rec.bytes_moved == 2 * MB + 1 * MB + 1 * MB + 1 * MB + 1 * MB  # incl. the final broadcast


def test_shared_gateway_halves_each_rate() -> None:
    rec = simulate(tiny_fleet(2, 8.0), "ar", 0, OrchestratorConfig(epochs=1), WORK, QUIET)
    # two flows share the 8 Mb/s gateway uplink: 4 Mb/s each.
    # distribute 1.5 MB each (model + half the data): 0.01 + 12/4 = 3.01; compute 0.25 s -> 3.26
    # upload 1 MB at 4 Mb/s: 0.01 + 2 = 2.01 -> 5.27
    assert rec.completion_time_s == pytest.approx(5.27)


def test_energy_by_hand() -> None:
    rec = simulate(tiny_fleet(1, 8.0), "ar", 0, OrchestratorConfig(epochs=2), WORK, QUIET)
    node = tiny_fleet(1, 8.0).nodes[0]
    busy = 1.0  # two epochs x 0.5 s
    expected = node.busy_power_w * busy + node.idle_power_w * (6.04 - busy) + node.radio_j_per_mb * 6.0
    assert rec.energy["total_j"] == pytest.approx(expected)


def test_same_seed_same_record_and_different_seed_differs(fleet12: Fleet) -> None:
    a = simulate(fleet12, "ne", 3).to_json()
    b = simulate(fleet12, "ne", 3).to_json()
    c = simulate(fleet12, "ne", 4).to_json()
    assert a == b
    assert a != c


def test_orchestrator_sees_measured_not_configured_links(fleet12: Fleet) -> None:
    rec = simulate(fleet12, "ne", 3)
    configured = {n.id: n.link.bandwidth_mbps for n in fleet12.nodes}
    seen = rec.epochs[0].metrics
    assert any(not math.isclose(seen[i]["bandwidth_mbps"], configured[i], rel_tol=1e-3) for i in seen)


def _assert_close(a: Any, b: Any, path: str = "") -> None:
    if isinstance(a, dict):
        assert isinstance(b, dict) and set(a) == set(b), path
        for k in a:
            _assert_close(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, list):
        assert isinstance(b, list) and len(a) == len(b), path
        for k, (x, y) in enumerate(zip(a, b, strict=True)):
            _assert_close(x, y, f"{path}[{k}]")
    elif isinstance(a, float) and isinstance(b, (int, float)):
        assert b == pytest.approx(a, rel=1e-6, abs=1e-9), path
    else:
        assert a == b, path


@pytest.mark.parametrize("policy", ["ne", "ar"])
def test_seeded_run_matches_saved_record(policy: str) -> None:
    """Regenerate with: python -m tests.engines.regen_records (only when the model changes on purpose)."""
    fleet = generate_fleet(12, "normal", np.random.default_rng(7), seed=7)
    rec = simulate(fleet, policy, 7, monitor_config=MonitorConfig()).to_json()
    saved = json.loads((DATA / f"simulate_normal12_seed7_{policy}.json").read_text())
    _assert_close(saved, json.loads(json.dumps(rec)))
