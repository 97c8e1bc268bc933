"""``time_to_target_s`` and ``data_fraction`` by hand, on the scripted engine (issue 12)."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from edgetune.errors import InputError
from edgetune.orchestrator import Orchestrator, OrchestratorConfig
from edgetune.orchestrator.engine import Payloads
from edgetune.orchestrator.record import EpochRecord, data_fraction, time_to_target_s
from edgetune.selection import make_policy
from tests.conftest import ScriptedEngine, StubNorthbound
from tests.orchestrator.test_loop import BANDWIDTH, make_fleet


class SizedEngine(ScriptedEngine):
    """The scripted engine, returning partition sizes from ``distribute`` like real engines do."""

    def __init__(self, data_bytes: dict[int, float], **kwargs: object) -> None:
        super().__init__({i: 2.0 for i in data_bytes}, **kwargs)  # type: ignore[arg-type]
        self.data_bytes = data_bytes

    def distribute(self, node_ids: Sequence[int]) -> Payloads:
        super().distribute(node_ids)
        return Payloads(dict(self.data_bytes), 0.0, 0.0)


SIZES = {0: 10.0, 1: 20.0, 2: 30.0, 3: 40.0, 4: 100.0}


def run(policy: str, target: float = 0.0, fail: dict[int, set[int]] | None = None, sized: bool = True):  # type: ignore[no-untyped-def]
    engine = SizedEngine(SIZES, fail=fail) if sized else ScriptedEngine({i: 2.0 for i in SIZES}, fail)
    nb = StubNorthbound({i: (b, 50.0, 1.0) for i, b in BANDWIDTH.items()})
    cfg = OrchestratorConfig(epochs=3, target_loss=target)
    return Orchestrator(engine, make_policy(policy), nb, make_fleet([30.0] * 5), cfg).run()


def test_time_to_target_by_hand() -> None:
    # Scripted engine: loss after epoch k = 1 / (1 + k) = 0.5, 0.333, 0.25; epoch k ends at 1 + 2k s
    # (distribution 1 s, every node trains 2 s).
    rec = run("ne", target=0.34)
    assert [e.loss for e in rec.epochs] == pytest.approx([0.5, 1 / 3, 0.25])
    assert [e.end_s for e in rec.epochs] == [3.0, 5.0, 7.0]
    assert rec.target_loss == 0.34 and rec.time_to_target_s == 5.0  # epoch 2 is the first <= 0.34
    assert run("ne", target=0.5).time_to_target_s == 3.0  # "<=": equal counts
    assert run("ne", target=0.2).time_to_target_s is None  # never reached
    no_target = run("ne").to_json()
    assert no_target["target_loss"] is None and no_target["time_to_target_s"] is None


def test_data_fraction_by_hand() -> None:
    # NE (Eq. 1: n = floor(4/2) = 2) keeps [0,1,2,3,4] -> [0,2,4] -> [0] (test_loop's hand-worked run).
    # Data: 200 per epoch for AR, 600 over 3 epochs; NE trains 200 + (10+30+100) + 10 = 350.
    rec = run("ne")
    assert [e.active for e in rec.epochs] == [[0, 1, 2, 3, 4], [0, 2, 4], [0]]
    assert rec.data_fraction == pytest.approx(350 / 600)
    assert rec.to_json()["data_fraction"] == pytest.approx(350 / 600)
    assert run("ar").data_fraction == 1.0


def test_data_fraction_leaves_out_failed_nodes() -> None:
    # Node 4 (100 of 200) fails in epoch 1 under AR: 100 + 200 + 200 of 600.
    rec = run("ar", fail={1: {4}})
    assert rec.epochs[0].active == [0, 1, 2, 3] and rec.data_fraction == pytest.approx(500 / 600)


def test_data_fraction_without_payloads_counts_node_epochs() -> None:
    # An engine that does not know its payloads: equal partitions, so node-epochs: (5 + 3 + 1) / 15.
    assert run("ne", sized=False).data_fraction == pytest.approx(9 / 15)


def test_helpers_on_edge_cases() -> None:
    eps = [EpochRecord(1, 0.0, 4.0, [0], {}, {}, [], None), EpochRecord(2, 4.0, 9.0, [0], {}, {}, [], 2.0)]
    assert time_to_target_s(eps, 2.0) == 9.0  # an epoch without a loss never reaches a target
    assert time_to_target_s(eps, None) is None
    assert data_fraction([], {0: 1.0}) is None and data_fraction(eps, {}) is None


@pytest.mark.parametrize("bad", [-1.0, float("nan"), float("inf")])
def test_target_loss_is_validated(bad: float) -> None:
    with pytest.raises(InputError, match="target_loss"):
        OrchestratorConfig(target_loss=bad)
