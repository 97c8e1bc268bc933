"""A noise-free SDN monitor for comparing the simulator's arithmetic across versions (issue 17).

:class:`MeanNoise` stands in for the monitor's generator and returns each noise draw's neutral value
(bandwidth factor 1, delay noise 0, loss probes lost = expected count), so a run's record depends only
on the network model, the EWMA and the selection, not on the order in which noise is drawn. The saved
``tests/data/simulate_normal12_seed7_noisefree_*.json`` records were written by the simulator *before*
issue 17 (commit 810d4b4) with ``python -m tests.engines.noisefree``; the current one must match them.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from edgetune.fleet.generate import generate_fleet
from edgetune.network import monitor as monitor_mod
from edgetune.orchestrator.record import RunRecord
from edgetune.runs.sweep import simulate

DATA = Path(__file__).resolve().parents[1] / "data"


class MeanNoise:
    """The three draws of :meth:`SimulatedMonitor.measure_many`, each at its mean-free neutral value."""

    def lognormal(self, mean: float, sigma: float, size: Any) -> np.ndarray:
        return np.ones(size)

    def normal(self, loc: float, scale: float, size: Any) -> np.ndarray:
        return np.zeros(size)

    def binomial(self, n: int, p: np.ndarray) -> np.ndarray:
        return np.asarray(n * np.asarray(p, dtype=np.float64))


@contextmanager
def noise_free() -> Iterator[None]:
    """Every :class:`SimulatedMonitor` built inside draws :class:`MeanNoise`."""
    cls = monitor_mod.SimulatedMonitor
    original = cls.__init__

    def init(self: Any, network: Any, rng: Any, config: Any = None) -> None:
        original(self, network, rng, config)
        self._rng = MeanNoise()

    cls.__init__ = init  # type: ignore[method-assign]
    try:
        yield
    finally:
        cls.__init__ = original  # type: ignore[method-assign]


def noise_free_record(policy: str) -> RunRecord:
    """The 12-node, seed-7 run of the saved records, with a noise-free monitor."""
    fleet = generate_fleet(12, "normal", np.random.default_rng(7), seed=7)
    with noise_free():
        return simulate(fleet, policy, 7)


if __name__ == "__main__":
    for pol in ("ne", "ar"):
        path = DATA / f"simulate_normal12_seed7_noisefree_{pol}.json"
        noise_free_record(pol).save(path)
        print("wrote", path)
