"""The testbed plan, shaper/loss parameters, relay specs and the state file (pure: run anywhere)."""

from __future__ import annotations

import numpy as np
import pytest

from edgetune.errors import InputError
from edgetune.fleet.generate import generate_fleet
from edgetune.testbed.relay import parse_links
from edgetune.testbed.shaping import nft_script, tbf_args
from edgetune.testbed.state import Resource, TestbedState, process_start_ticks
from edgetune.testbed.topology import TestbedPlan, path_delay_ms, plan_testbed, testbed_fleet


@pytest.fixture
def fleet6():
    return generate_fleet(6, "normal", np.random.default_rng(5), seed=5)


def test_plan_names_are_prefixed_short_and_unique(fleet6):
    plan = plan_testbed(fleet6, "ab1")
    links = [d for pair in plan.veths for d in pair]
    names = links + [b.name for b in plan.bridges]
    assert all(n.startswith("etab1") for n in names)
    assert all(len(n) <= 15 for n in names)  # Linux interface names
    assert len(set(names)) == len(names)
    assert all(h.netns.startswith("etab1-") for h in [plan.orchestrator, *plan.nodes])
    # one bridge per switch; every attached veth end has a distinct OpenFlow port on its bridge
    assert len(plan.bridges) == len(fleet6.switches)
    ports = {(br, p) for br, p in plan.attach.values()}
    assert len(ports) == len(plan.attach)


def test_plan_paths_carry_the_end_to_end_config(fleet6):
    plan = plan_testbed(fleet6, "x")
    capped = testbed_fleet(fleet6, 50.0)
    for path, relay in zip(plan.paths, plan.relays, strict=True):
        node = capped.node(path.node_id)
        gw = next(s for s in capped.switches if s.id == node.gateway)
        # the relay delays by access + gateway uplink (1 ms) + core (0.5 ms)
        assert relay.delay_ms == pytest.approx(node.link.delay_ms + 1.0 + 0.5, abs=1e-3)
        assert path.configured["delay_ms"] == pytest.approx(path_delay_ms(capped, node.id), abs=1e-3)
        assert path.configured["bandwidth_mbps"] == min(node.link.bandwidth_mbps, gw.uplink.bandwidth_mbps, 50.0)
        assert path.configured["loss_pct"] == node.link.loss_pct
    # a loss rule on each receiving side for every lossy node
    lossy = [n for n in capped.nodes if n.link.loss_pct > 0]
    assert len(plan.loss_rules) == 2 * len(lossy)


def test_testbed_fleet_caps_every_link_and_keeps_the_rest(fleet6):
    capped = testbed_fleet(fleet6, 10.0)
    assert max(n.link.bandwidth_mbps for n in capped.nodes) <= 10.0
    assert capped.orchestrator.link.bandwidth_mbps == 10.0  # 1000 Mbps core
    assert [n.link.delay_ms for n in capped.nodes] == [n.link.delay_ms for n in fleet6.nodes]
    assert [n.compute for n in capped.nodes] == [n.compute for n in fleet6.nodes]
    with pytest.raises(InputError):
        testbed_fleet(fleet6, 0.0)


def test_plan_round_trips_through_json(fleet6):
    plan = plan_testbed(fleet6, "r")
    assert TestbedPlan.from_json(plan.to_json()) == plan


@pytest.mark.parametrize("tag", ["", "TOOLONG", "a-b", "ABC", "abcde"])
def test_bad_tags_are_refused(fleet6, tag):
    with pytest.raises(InputError, match="--name"):
        plan_testbed(fleet6, tag)


def test_tbf_args_by_hand():
    # 8 Mbps = 1e6 B/s: burst = 4 ms = 4000 B; limit = 0.1 s = 100000 B + burst
    assert tbf_args(8.0, 0.1) == ["rate", "8000000bit", "burst", "4000", "limit", "104000"]
    # slow link: burst floors at two frames, the queue at four
    assert tbf_args(1.0, 0.01) == ["rate", "1000000bit", "burst", "3028", "limit", str(4 * 1514 + 3028)]


def test_nft_script_by_hand():
    from edgetune.testbed.topology import LossRule

    text = nft_script([LossRule(netns="n", saddr="10.231.0.1", loss_pct=2.5)])
    assert "type filter hook input priority 0; policy accept;" in text
    assert "ip saddr 10.231.0.1 numgen random mod 1000000 < 25000 counter drop" in text


def test_parse_relay_links():
    links = parse_links(["a:b:12.5", "c:d:0"])
    assert [(x.a, x.b, x.delay_ms) for x in links] == [("a", "b", 12.5), ("c", "d", 0.0)]
    with pytest.raises(ValueError):
        parse_links(["a:b:-1"])


def test_state_file_records_and_forgets(tmp_path):
    path = tmp_path / "et1.json"
    st = TestbedState.create(path, "1", {"p": 1}, {"f": 1})
    st.add(Resource(kind="netns", name="et1-o"))
    st.add(Resource(kind="process", name="relay", pid=123, start_ticks=456))
    again = TestbedState.load(path)
    assert [(r.kind, r.name, r.pid) for r in again.created] == [("netns", "et1-o", None), ("process", "relay", 123)]
    again.remove(again.created[0])
    assert [r.kind for r in TestbedState.load(path).created] == ["process"]
    with pytest.raises(FileExistsError):
        TestbedState.create(path, "1", {}, {})


def test_process_start_ticks_names_a_live_process():
    import os

    assert process_start_ticks(os.getpid()) is not None
    assert process_start_ticks(2**22 + 12345) is None
