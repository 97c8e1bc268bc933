"""Engine wrappers that make two engines comparable: the same inputs to the same orchestrator loop.

:class:`ModelledTrainTime` replaces each report's measured training time by a deterministic
``work_s / compute`` (the node's declared compute power from the fleet). Fed the same network
metrics (e.g. a northbound stub), two engines wrapped this way give the policy exactly the same
inputs, so the in-process engine and the Flower engine must eliminate the same nodes in the same
order; the run record's ``config.train_time`` says when it was used.
"""

from __future__ import annotations

from collections.abc import Sequence

from edgetune.fleet.faults import FaultSpec
from edgetune.fleet.schema import Fleet
from edgetune.orchestrator.engine import Engine, EngineReport, RoundResult, TimeBase


class EngineWrapper(Engine):
    """Delegates every call to ``inner`` (subclasses override what they change)."""

    def __init__(self, inner: Engine) -> None:
        self.inner = inner
        self.name = inner.name
        self.time_base: TimeBase = inner.time_base

    def now_s(self) -> float:
        """The inner engine's clock."""
        return self.inner.now_s()

    def distribute(self, node_ids: Sequence[int]) -> None:
        """Delegated."""
        self.inner.distribute(node_ids)

    def train_round(self, epoch: int, active: Sequence[int]) -> RoundResult:
        """Delegated."""
        return self.inner.train_round(epoch, active)

    def apply_update(self, result: RoundResult, learning_rate: float) -> None:
        """Delegated."""
        self.inner.apply_update(result, learning_rate)

    def evaluate(self) -> float | None:
        """Delegated."""
        return self.inner.evaluate()

    def broadcast(self, node_ids: Sequence[int]) -> None:
        """Delegated."""
        self.inner.broadcast(node_ids)

    def finish(self) -> EngineReport:
        """Delegated."""
        return self.inner.finish()


class ModelledTrainTime(EngineWrapper):
    """Report ``work_s / compute`` as every node's training time (deterministic; see module doc).

    Parameters
    ----------
    inner : Engine
    fleet : Fleet
        Declared compute power per node.
    work_s : float
        Seconds a node of compute power 1 needs for one epoch (default 30: a mean node, C = 30, takes 1 s).
    """

    def __init__(self, inner: Engine, fleet: Fleet, work_s: float = 30.0, faults: FaultSpec | None = None) -> None:
        super().__init__(inner)
        if not work_s > 0:
            raise ValueError(f"work_s must be positive, got {work_s}")
        self.work_s = work_s
        self.faults = faults or FaultSpec()
        self._compute = {n.id: n.compute for n in fleet.nodes}

    def train_round(self, epoch: int, active: Sequence[int]) -> RoundResult:
        """The inner round with modelled training times (a ``slow`` fault's factor included)."""
        res = self.inner.train_round(epoch, active)
        now = self.faults.at(epoch) if self.faults else {}
        res.reports = {
            i: r._replace(train_time_s=self.work_s / self._compute[i] * (now[i].factor if i in now else 1.0))
            for i, r in res.reports.items()
        }
        return res

    def finish(self) -> EngineReport:
        """Say that training times were modelled."""
        rep = self.inner.finish()
        info = {**rep.info, "train_time": {"model": "work_s / compute", "work_s": self.work_s}}
        return EngineReport(usage=rep.usage, info=info, timings=rep.timings)
