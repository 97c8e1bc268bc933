"""The policy hooks as the orchestrator drives them: start(context) once, metrics with train loss to select."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from edgetune.engines.base import Payloads, RoundResult
from edgetune.orchestrator import Orchestrator, OrchestratorConfig
from edgetune.selection import MetricsTable, PolicyContext, SelectionPolicy
from tests.conftest import ScriptedEngine, StubNorthbound
from tests.orchestrator.test_loop import make_fleet


class Recorder(SelectionPolicy):
    name = "recorder"

    def __init__(self) -> None:
        super().__init__()
        self.starts: list[PolicyContext] = []
        self.seen: list[MetricsTable | None] = []

    @property
    def wants_standby(self) -> bool:
        return True

    def start(self, context: PolicyContext) -> None:
        super().start(context)
        self.starts.append(context)

    def select(
        self,
        epoch: int,
        epochs: int,
        n_initial: int,
        active: Sequence[int],
        scores: Mapping[int, float],
        metrics: MetricsTable | None = None,
    ) -> list[int]:
        self.seen.append(metrics)
        return [i for i in active if i != 2]


class LossEngine(ScriptedEngine):
    def train_round(self, epoch: int, active: Sequence[int]) -> RoundResult:
        res = super().train_round(epoch, active)
        res.reports = {i: r._replace(train_loss=0.5 + i) for i, r in res.reports.items()}
        return res

    def distribute(self, node_ids: Sequence[int]) -> Payloads:
        super().distribute(node_ids)
        return Payloads({i: 10.0 * (i + 1) for i in node_ids}, 7.0, 9.0)


def test_context_and_train_loss_reach_the_policy() -> None:
    engine = LossEngine({i: 1.0 for i in range(3)})
    nb = StubNorthbound({i: (10.0, 5.0, 0.0) for i in range(3)})
    pol = Recorder()
    rng = np.random.default_rng(11)
    Orchestrator(engine, pol, nb, make_fleet([30.0] * 3), OrchestratorConfig(epochs=2), policy_rng=rng).run()
    (ctx,) = pol.starts
    assert ctx.node_ids == (0, 1, 2) and ctx.epochs == 2 and ctx.rng is rng
    assert (
        dict(ctx.data_bytes) == {0: 10.0, 1: 20.0, 2: 30.0} and ctx.update_bytes == 7.0 and ctx.broadcast_bytes == 9.0
    )
    m1, m2 = pol.seen
    assert m1 is not None and m1.ids == [0, 1, 2] and m1.losses().tolist() == [0.5, 1.5, 2.5]
    # Epoch 2: node 2 sat out; as a standby node it keeps its last loss and training time.
    assert m2 is not None and m2.ids == [0, 1, 2] and m2.losses().tolist() == [0.5, 1.5, 2.5]


def test_engine_without_payloads_gives_a_uniform_context() -> None:
    engine = ScriptedEngine({i: 1.0 for i in range(2)})
    pol = Recorder()
    Orchestrator(engine, pol, StubNorthbound({0: (1, 1, 0), 1: (1, 1, 0)}), make_fleet([30.0] * 2)).run()
    ctx = pol.starts[0]
    assert dict(ctx.data_bytes) == {0: 1.0, 1: 1.0} and ctx.update_bytes == 0.0 and ctx.broadcast_bytes == 0.0
    assert pol.seen[0] is not None and np.isnan(pol.seen[0].losses()).all()  # scripted nodes report no loss
