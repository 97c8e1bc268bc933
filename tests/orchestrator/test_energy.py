"""The energy model on columns: hand values, and the same floating-point results as the per-node formula."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edgetune.fleet.schema import Fleet, LinkSpec, NodeSpec, OrchestratorSpec, SwitchSpec
from edgetune.orchestrator.energy import energy_columns, node_energy, sequential_sum
from edgetune.orchestrator.engine import NodeUsage, UsageTable


def _fleet(powers: list[tuple[float, float, float]]) -> Fleet:
    link = LinkSpec(bandwidth_mbps=100.0, delay_ms=1.0, loss_pct=0.0)
    return Fleet(
        orchestrator=OrchestratorSpec(switch="agg0", link=link),
        switches=[
            SwitchSpec(id="agg0", kind="aggregation"),
            SwitchSpec(id="gw0", kind="gateway", parent="agg0", uplink=link),
        ],
        nodes=[
            NodeSpec(
                id=100 - k, compute=30.0, idle_power_w=i, busy_power_w=b, radio_j_per_mb=r, gateway="gw0", link=link
            )
            for k, (i, b, r) in enumerate(powers)
        ],
    )


def test_energy_by_hand() -> None:
    fleet = _fleet([(2.0, 10.0, 0.5), (1.0, 4.0, 0.1), (3.0, 5.0, 1.0)])  # ids 100, 99, 98
    usage = {100: NodeUsage(busy_s=3.0, bytes_moved=2e6), 99: NodeUsage(busy_s=50.0, bytes_moved=0.0)}
    e = node_energy(fleet, usage, run_time_s=10.0)
    # 100: 10 W x 3 s + 2 W x 7 s + 0.5 J/MB x 2 MB = 30 + 14 + 1; 99: busy capped at the run, 4 W x 10 s
    assert (e[100].compute_j, e[100].idle_j, e[100].radio_j, e[100].total_j) == (30.0, 14.0, 1.0, 45.0)
    assert (e[99].compute_j, e[99].idle_j, e[99].radio_j) == (40.0, 0.0, 0.0)
    assert (e[98].compute_j, e[98].idle_j, e[98].radio_j) == (0.0, 30.0, 0.0)  # absent from usage: idle all run
    cols = energy_columns(fleet, UsageTable.from_mapping(usage), 10.0)
    assert cols.ids.tolist() == [100, 99, 98] and cols.total_j.tolist() == [45.0, 40.0, 30.0]


_pos = st.floats(0.0, 1e4, allow_nan=False)


@settings(deadline=None, max_examples=50)  # builds a fleet per example: slow on a loaded machine
@given(
    powers=st.lists(st.tuples(_pos, _pos, st.floats(0.0, 10.0)), min_size=1, max_size=20),
    busy=st.lists(st.floats(0.0, 1e5), min_size=20, max_size=20),
    moved=st.lists(st.floats(0.0, 1e12), min_size=20, max_size=20),
    run_s=st.floats(0.0, 1e5),
)
def test_columns_equal_the_per_node_formula(
    powers: list[tuple[float, float, float]], busy: list[float], moved: list[float], run_s: float
) -> None:
    fleet = _fleet(powers)
    usage = {n.id: NodeUsage(busy[k], moved[k]) for k, n in enumerate(fleet.nodes) if k % 3}
    e = energy_columns(fleet, usage, run_s)
    for k, n in enumerate(fleet.nodes):  # the formula of the module docstring, one node at a time
        u = usage.get(n.id, NodeUsage(0.0, 0.0))
        b = min(u.busy_s, run_s) if run_s > 0 else u.busy_s
        assert e.compute_j[k] == n.busy_power_w * b
        assert e.idle_j[k] == n.idle_power_w * max(run_s - b, 0.0)
        assert e.radio_j[k] == n.radio_j_per_mb * u.bytes_moved / 1e6
    assert sequential_sum(e.total_j) == sum(x.total_j for x in node_energy(fleet, usage, run_s).values())


@given(st.lists(st.floats(-1e300, 1e300) | st.sampled_from([1e16, 1.0, -1e16, 0.1]), max_size=60))
def test_sequential_sum_is_pythons_sum(values: list[float]) -> None:
    got = sequential_sum(np.asarray(values, dtype=np.float64))
    want = float(sum(values))
    assert got == want or (math.isnan(got) and math.isnan(want))


def test_sequential_sum_differs_from_pairwise_where_it_matters() -> None:
    # why not np.sum: pairwise addition gives another last bit on some inputs
    vals = np.array([1.0, 1e100, 1.0, -1e100] * 3)
    assert sequential_sum(vals) == sum(vals.tolist()) == pytest.approx(0.0)


def test_epoch_energy_by_hand_from_dict_and_view_metrics() -> None:
    from edgetune.orchestrator.energy import epoch_energy_j
    from edgetune.orchestrator.record import EpochRecord
    from edgetune.selection.base import MetricsTable

    fleet = _fleet([(2.0, 10.0, 0.5), (1.0, 4.0, 0.1), (3.0, 5.0, 1.0)])  # ids 100, 99, 98
    table = MetricsTable(ids=[100, 98], values=np.array([[30.0, 1, 1, 0, 3.0], [30.0, 1, 1, 0, 20.0]]))
    for metrics in (table.to_json(), {i: dict(table.to_json()[i]) for i in (100, 98)}):
        ep = EpochRecord(1, 5.0, 15.0, [100, 98], metrics, {}, [], None, upload_bytes=4_000_000)
        # 100: 10 W x 3 s + 2 W x 7 s + 0.5 J/MB x 2 MB = 45; 99: idle 1 W x 10 s = 10;
        # 98: busy capped at the 10 s epoch, 5 W x 10 s + 1 J/MB x 2 MB = 52
        assert epoch_energy_j(fleet, ep) == 45.0 + 10.0 + 52.0
