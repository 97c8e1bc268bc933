"""Section IV-A generator: distributions, tier split, determinism."""

from __future__ import annotations

import numpy as np
import pytest

from edgetune.errors import InputError
from edgetune.fleet.generate import SETUPS, generate_fleet
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
