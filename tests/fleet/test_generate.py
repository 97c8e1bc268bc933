"""Section IV-A generator: distributions, tier split, determinism."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from edgetune.errors import InputError
from edgetune.fleet.generate import SETUPS, generate_fleet, round_like_python
from edgetune.network.model import Topology


@pytest.mark.parametrize("setup", sorted(SETUPS))
def test_distributions_follow_table_1(setup: str) -> None:
    fleet = generate_fleet(4000, setup, np.random.default_rng(11))
    top = Topology.from_fleet(fleet)
    compute = np.array([n.compute for n in fleet.nodes])
    assert compute.min() >= 1.0
    assert abs(compute.mean() - 31.0) < 1.5  # N(30, 15) truncated at 1 has mean ~30.7
    row = SETUPS[setup]
    bw = top.path_bandwidth_mbps()
    assert abs(bw.mean() - row.bandwidth_mbps) < 0.08 * row.bandwidth_mbps
    assert abs(np.median(bw) - row.bandwidth_mbps * np.log(2)) < 0.1 * row.bandwidth_mbps  # exponential median
    assert abs(top.path_delay_ms().mean() - row.delay_ms) < 0.08 * row.delay_ms + 1.5
    assert abs(top.path_loss_pct().mean() - row.loss_pct) < 0.1


def test_idle_path_equals_drawn_end_to_end_values() -> None:
    fleet = generate_fleet(50, "normal", np.random.default_rng(2))
    top = Topology.from_fleet(fleet)
    # a lone flow's bottleneck is its access link: the gateway uplinks are provisioned above it
    np.testing.assert_allclose(top.path_bandwidth_mbps(), top.access_bw_mbps)
    assert (top.gateway_bw_mbps >= 0).all()
    # delay = access + 1 ms gateway + 0.5 ms core
    np.testing.assert_allclose(top.path_delay_ms(), top.access_delay_ms + 1.5)


def test_same_seed_same_fleet() -> None:
    a = generate_fleet(30, "limited", np.random.default_rng(5))
    b = generate_fleet(30, "limited", np.random.default_rng(5))
    c = generate_fleet(30, "limited", np.random.default_rng(6))
    assert a == b
    assert a != c


def test_bad_arguments_name_the_flag() -> None:
    with pytest.raises(InputError, match="--setup"):
        generate_fleet(10, "huge", np.random.default_rng(0))
    with pytest.raises(InputError, match="--nodes"):
        generate_fleet(0, "normal", np.random.default_rng(0))


def _generate_by_node(n_nodes: int, setup: str, rng: np.random.Generator, npg: int) -> dict[str, object]:
    """The generator as it was before issue 17 (one model per node, one mask per gateway)."""
    from edgetune.fleet.generate import GeneratorConfig
    from edgetune.fleet.schema import Fleet, LinkSpec, NodeSpec, OrchestratorSpec, SwitchSpec

    cfg = GeneratorConfig(nodes_per_gateway=npg)
    row = SETUPS[setup]
    compute = rng.normal(cfg.compute_mean, cfg.compute_std, n_nodes)
    while (low := compute < cfg.min_compute).any():
        compute[low] = rng.normal(cfg.compute_mean, cfg.compute_std, int(low.sum()))
    bandwidth = np.maximum(rng.exponential(row.bandwidth_mbps, n_nodes), cfg.min_bandwidth_mbps)
    delay = rng.exponential(row.delay_ms, n_nodes)
    loss = np.minimum(rng.exponential(row.loss_pct, n_nodes), cfg.max_loss_pct)
    n_gateways = -(-n_nodes // npg)
    order = rng.permutation(n_nodes)
    gateway_of = np.empty(n_nodes, dtype=np.int64)
    gateway_of[order] = np.arange(n_nodes) % n_gateways
    access_delay = np.maximum(delay - cfg.gateway_delay_ms - cfg.core_delay_ms, 0.0)
    nodes = [
        NodeSpec(
            id=i,
            name=f"edge-{i}",
            compute=round(float(compute[i]), 4),
            idle_power_w=cfg.idle_power_w,
            busy_power_w=round(cfg.busy_power_base_w + cfg.busy_power_per_compute_w * float(compute[i]), 4),
            radio_j_per_mb=cfg.radio_j_per_mb,
            gateway=f"gw{gateway_of[i]}",
            link=LinkSpec(
                bandwidth_mbps=round(float(bandwidth[i]), 4),
                delay_ms=round(float(access_delay[i]), 4),
                loss_pct=round(float(loss[i]), 5),
            ),
        )
        for i in range(n_nodes)
    ]
    switches = [SwitchSpec(id="agg0", kind="aggregation")]
    for g in range(n_gateways):
        members = bandwidth[gateway_of == g]
        uplink = max(float(members.sum()) / cfg.oversubscription, float(members.max()))
        link = LinkSpec(bandwidth_mbps=round(uplink, 4), delay_ms=cfg.gateway_delay_ms, loss_pct=0.0)
        switches.append(SwitchSpec(id=f"gw{g}", kind="gateway", parent="agg0", uplink=link))
    orch = OrchestratorSpec(switch="agg0", link=LinkSpec(bandwidth_mbps=1000.0, delay_ms=0.5, loss_pct=0.0))
    fleet = Fleet(setup=setup, seed=3, orchestrator=orch, switches=switches, nodes=nodes)
    return fleet.model_dump()


@pytest.mark.parametrize(("n", "npg", "setup"), [(1, 4, "normal"), (37, 4, "limited"), (500, 7, "prolific")])
def test_vectorised_generator_draws_the_fleet_it_drew_before(n: int, npg: int, setup: str) -> None:
    from edgetune.fleet.generate import GeneratorConfig

    want = _generate_by_node(n, setup, np.random.default_rng(n), npg)
    got = generate_fleet(n, setup, np.random.default_rng(n), GeneratorConfig(nodes_per_gateway=npg), seed=3)
    assert got.model_dump() == want


@given(
    st.lists(st.floats(min_value=-1e9, max_value=1e9, allow_nan=False), min_size=1, max_size=50),
    st.integers(min_value=0, max_value=6),
)
@example([2.675, 0.125, 0.375, 1.00005, 16.00005, 2.5e-5, 1e9 - 0.5], 2)
@example([0.00015, 0.00025, 12.34565, 7.5e-5], 4)
def test_round_like_python_is_pythons_round(values: list[float], ndigits: int) -> None:
    got = round_like_python(np.asarray(values, dtype=np.float64), ndigits)
    assert got.tolist() == [round(v, ndigits) for v in values]


def test_round_like_python_on_decimal_halves() -> None:
    # k.5 / 10**n: the values where scaling by 10**n can round across the half
    for ndigits in (4, 5):
        values = np.asarray((np.arange(200_000) + 0.5) / 10.0**ndigits, dtype=np.float64)
        assert round_like_python(values, ndigits).tolist() == [round(v, ndigits) for v in values.tolist()]
