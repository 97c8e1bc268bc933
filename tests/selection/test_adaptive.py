"""``adaptive``: contribution per second, time-saved count, rejoining, hysteresis, and a near-dead node."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from edgetune.engines.base import Payloads
from edgetune.errors import InputError
from edgetune.fleet.schema import Fleet, LinkSpec, NodeSpec, OrchestratorSpec, SwitchSpec
from edgetune.orchestrator import Orchestrator, OrchestratorConfig
from edgetune.selection import make_policy
from edgetune.selection.adaptive import Adaptive, best_prefix
from tests.conftest import ScriptedEngine, StubNorthbound
from tests.selection.helpers import started, table


def test_best_prefix_by_hand() -> None:
    # D_k / tau_k for t = 1, 2, 2.5, 100 and one byte each: (1), 1.0, 1.2, 0.04; floor 2 bytes excludes k = 1.
    assert best_prefix(np.array([1.0, 2.0, 2.5, 100.0]), np.ones(4), 2.0) == 3
    # Equal rates: the smaller set.
    assert best_prefix(np.array([1.0, 2.0, 3.0]), np.ones(3), 1.0) == 1
    # Nobody reaches the floor: keep everyone.
    assert best_prefix(np.array([1.0, 2.0]), np.ones(2), 5.0) == 2


def test_drops_slow_tail_by_time_saved() -> None:
    pol = started("adaptive", range(4), 5)
    # Dropping node 3 saves 97.5 % of the epoch for 25 % of the data; dropping node 2 too would save 20 %
    # of the rest for a third of it: it stays.
    assert pol.select(1, 5, 4, [0, 1, 2, 3], {}, table([0, 1, 2, 3], [1.0, 2.0, 2.5, 100.0])) == [0, 1, 2]


def test_unequal_partitions_weigh_data() -> None:
    # Node 2 is slow (4 s vs 1 s) but holds 6 of the 8 bytes: 8/4 = 2 > 2/1 with floor 4 bytes -> everyone.
    pol = started("adaptive", range(3), 5, data_bytes={0: 1.0, 1: 1.0, 2: 6.0})
    assert pol.select(1, 5, 3, [0, 1, 2], {}, table([0, 1, 2], [1.0, 1.0, 4.0])) == [0, 1, 2]


def test_rejoins_when_link_recovers_with_hysteresis() -> None:
    pol = started("adaptive", range(3), 10, min_data_fraction=0.5)
    ids = [0, 1, 2]
    # t2 = 1.55: 3/1.55 = 1.94 < 2/1 -> node 2 goes.
    assert pol.select(1, 10, 3, ids, {}, table(ids, [1.0, 1.0, 1.55])) == [0, 1]
    # t2 = 1.45 would pay (3/1.45 = 2.07 > 2), but from outside it counts 1.45 x 1.2 = 1.74: 1.72 < 2, stays out.
    assert pol.select(2, 10, 3, [0, 1], {}, table(ids, [1.0, 1.0, 1.45])) == [0, 1]
    # Clearly recovered: 1.2 x 1.2 = 1.44, 3/1.44 = 2.08 > 2: rejoins.
    assert pol.select(3, 10, 3, [0, 1], {}, table(ids, [1.0, 1.0, 1.2])) == [0, 1, 2]
    # Inside again, noise back to 1.45 does not evict it (3/1.45 > 2).
    assert pol.select(4, 10, 3, [0, 1, 2], {}, table(ids, [1.0, 1.0, 1.45])) == [0, 1, 2]


def test_floor_keeps_half_the_data_and_last_epoch_keeps_all() -> None:
    pol = started("adaptive", range(4), 5, min_data_fraction=0.75)
    assert pol.select(1, 5, 4, [0, 1, 2, 3], {}, table([0, 1, 2, 3], [1.0, 2.0, 2.5, 100.0])) == [0, 1, 2]
    pol = started("adaptive", range(4), 5, min_data_fraction=1.0)
    assert pol.select(1, 5, 4, [0, 1, 2, 3], {}, table([0, 1, 2, 3], [1.0, 2.0, 2.5, 100.0])) == [0, 1, 2, 3]
    assert pol.select(5, 5, 4, [0, 3], {}, table([0, 3], [1.0, 100.0])) == [0, 3]


def test_bad_knobs() -> None:
    with pytest.raises(InputError):
        Adaptive(min_data_fraction=0.0)
    with pytest.raises(InputError):
        Adaptive(hysteresis=-0.1)


class PayloadEngine(ScriptedEngine):
    """The scripted engine plus a modelled 50 MB update each way (what a policy needs to price a link)."""

    def distribute(self, node_ids: Sequence[int]) -> Payloads:
        super().distribute(node_ids)
        return Payloads({i: 1.0 for i in node_ids}, 50e6, 50e6)


def near_dead_run(policy: str) -> list[list[int]]:
    # Node 0: best compute, delay, loss and training time, but a 0.18 Mbit/s link (the example).
    link = LinkSpec(bandwidth_mbps=100.0, delay_ms=1.0, loss_pct=0.0)
    computes = [60.0, 20.0, 25.0, 30.0, 35.0]
    fleet = Fleet(
        orchestrator=OrchestratorSpec(switch="agg0", link=link),
        switches=[
            SwitchSpec(id="agg0", kind="aggregation"),
            SwitchSpec(id="gw0", kind="gateway", parent="agg0", uplink=link),
        ],
        nodes=[NodeSpec(id=i, compute=c, gateway="gw0", link=link) for i, c in enumerate(computes)],
    )
    nb = StubNorthbound(
        {0: (0.18, 5.0, 0.0), 1: (10.0, 80.0, 2.0), 2: (12.0, 60.0, 1.5), 3: (14.0, 40.0, 1.0), 4: (16.0, 20.0, 0.5)}
    )
    engine = PayloadEngine({0: 1.0, 1: 3.0, 2: 2.5, 3: 2.0, 4: 1.5})
    rec = Orchestrator(engine, make_policy(policy), nb, fleet, OrchestratorConfig(epochs=3)).run()
    return [e.active for e in rec.epochs]


def test_near_dead_node_goes_after_the_first_epoch() -> None:
    # Round times (N1-N2, 50 MB each way): node 0 2 x 400/0.18 = 4,444 s; nodes 1-4 are TCP-limited by
    # their loss (Mathis 0.63, 0.97, 1.79, 5.06 Mbit/s): about 1,266, 822, 447 and 158 s. The floor needs
    # 3.75 of 5 partitions, so the 4 fastest (4/1266 per s) against all 5 (5/4444): node 0 goes.
    assert near_dead_run("adaptive")[1] == [1, 2, 3, 4]
    # NE's equal-weight PerfScore ranks node 0 best (0.8): Eq. 1 removes node 1 instead.
    assert 0 in near_dead_run("ne")[1]
