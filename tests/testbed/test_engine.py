"""The ``[testbed]`` section, its registry entry and the pacing of real compute (no root needed)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edgetune.errors import InputError
from edgetune.fleet.schema import fleet_from_dict
from edgetune.runs.spec import spec_from_dict
from edgetune.testbed.engine import COMPUTE_MODES, TestbedEngineConfig, compute_slowdowns


def _fleet(computes: list[float]):
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


def test_slowdown_is_the_fleet_max_over_the_node_power():
    # powers 30, 15, 20, 10: the strongest node runs at host speed, the others C_max / C times slower
    assert compute_slowdowns(_fleet([30.0, 15.0, 20.0, 10.0])) == {0: 1.0, 1: 2.0, 2: 1.5, 3: 3.0}


def test_the_spec_section_has_one_default_each_and_real_compute_by_default():
    spec = spec_from_dict({"run": {"engine": "testbed"}})
    assert spec.engine == TestbedEngineConfig()
    assert spec.engine.compute == "real"
    assert spec_from_dict({"run": {"engine": "testbed"}, "testbed": {"compute": "modelled"}}).engine.compute == (
        "modelled"
    )
    assert spec.to_dict()["testbed"]["compute"] == "real"


@given(st.text(max_size=12).filter(lambda s: s not in COMPUTE_MODES))
def test_unknown_compute_mode_names_the_dotted_key(mode):
    with pytest.raises(InputError) as exc:
        spec_from_dict({"run": {"engine": "testbed"}, "testbed": {"compute": mode}})
    assert exc.value.field == "testbed.compute"


@pytest.mark.parametrize(
    ("key", "value"),
    [("round_timeout_s", 0.0), ("round_timeout_s", 1e9), ("connect_timeout_s", -1.0), ("tcp_cc", "cubic; rm")],
)
def test_bad_testbed_values_are_refused(key, value):
    with pytest.raises(InputError) as exc:
        spec_from_dict({"run": {"engine": "testbed"}, "testbed": {key: value}})
    assert exc.value.field == f"testbed.{key}"


def test_edgetune_run_points_to_the_testbed_command():
    from edgetune.runs.execute import run

    spec = spec_from_dict({"run": {"engine": "testbed"}, "fleet": {"nodes": 3}})
    with pytest.raises(InputError, match="edgetune testbed run"):
        run(spec)
