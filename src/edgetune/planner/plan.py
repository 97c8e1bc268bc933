"""The plan a planner returns, and its JSON contract (issue 4).

``{"method", "feasible", "reason", "model", "bits", "epochs", "schedule": [{"epoch", "edge_server",
"partition"}], "energy_j", "time_s", "final_loss", "timings": {"solve_time_s"}}``. An infeasible plan
has ``feasible: false``, a ``reason``, ``null`` model/bits/epochs/energy/time/loss and an empty
schedule. Everything but ``timings`` (wall-clock) is a function of the instance and the method: the
same input gives the same plan file apart from that one key.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["Plan", "ScheduleEntry", "SearchLimitExceeded"]


class SearchLimitExceeded(RuntimeError):
    """A search (the literal JQODI traversal, the brute force) would exceed its enumeration bound."""


@dataclass(frozen=True)
class ScheduleEntry:
    """The action of one epoch: the edge server ES_x and the partition point j (1-based epoch)."""

    epoch: int
    edge_server: str
    partition: int

    def to_json(self) -> dict[str, Any]:
        """The contract's ``{"epoch", "edge_server", "partition"}`` object."""
        return {"epoch": self.epoch, "edge_server": self.edge_server, "partition": self.partition}


@dataclass(frozen=True)
class Plan:
    """A fine-tuning plan: model, bit-width and per-epoch (server, partition) actions.

    Attributes
    ----------
    method : str
        Planner that produced it.
    feasible : bool
        Whether a plan meeting T_max and L_max (under the method's estimates) was found.
    reason : str or None
        Why not feasible.
    model : str or None
        Name of M_a.
    bits : int or None
        π_q.
    epochs : int or None
        K (the schedule's length).
    schedule : tuple of ScheduleEntry
        One entry per epoch.
    energy_j : float or None
        ε_(a,q) + Σ e(k) (Eq. 13), joules.
    time_s : float or None
        τ_(a,q) + Σ t(k), seconds.
    final_loss : float or None
        L after K epochs (Eq. 12) under the method's estimates.
    solve_time_s : float
        Wall-clock time of the planner, seconds.
    estimates : str
        ``"expected"`` or ``"robust"``: the estimators the plan was made with (not in the JSON).
    """

    method: str
    feasible: bool
    reason: str | None
    model: str | None
    bits: int | None
    epochs: int | None
    schedule: tuple[ScheduleEntry, ...]
    energy_j: float | None
    time_s: float | None
    final_loss: float | None
    solve_time_s: float
    estimates: str = field(default="expected", compare=False)

    @classmethod
    def infeasible(cls, method: str, reason: str, solve_time_s: float = 0.0, estimates: str = "expected") -> Plan:
        """An infeasible plan carrying ``reason``."""
        return cls(method, False, reason, None, None, None, (), None, None, None, solve_time_s, estimates)

    def with_solve_time(self, solve_time_s: float) -> Plan:
        """A copy with ``solve_time_s`` replaced."""
        return Plan(
            self.method,
            self.feasible,
            self.reason,
            self.model,
            self.bits,
            self.epochs,
            self.schedule,
            self.energy_j,
            self.time_s,
            self.final_loss,
            solve_time_s,
            self.estimates,
        )

    def to_json(self) -> dict[str, Any]:
        """The JSON contract, keys in contract order; the wall-clock solve time under ``timings``."""
        return {
            "method": self.method,
            "feasible": self.feasible,
            "reason": self.reason,
            "model": self.model,
            "bits": self.bits,
            "epochs": self.epochs,
            "schedule": [entry.to_json() for entry in self.schedule],
            "energy_j": self.energy_j,
            "time_s": self.time_s,
            "final_loss": self.final_loss,
            "timings": {"solve_time_s": self.solve_time_s},
        }

    def schedule_summary(self) -> str:
        """Compact run-length description, e.g. ``26× rtx3090/p1`` or ``20× a/p1 + 6× b/p2``."""
        if not self.schedule:
            return "-"
        counts: dict[tuple[str, int], int] = {}
        for entry in self.schedule:
            key = (entry.edge_server, entry.partition)
            counts[key] = counts.get(key, 0) + 1
        parts = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
        return " + ".join(f"{n}× {srv}/p{j}" for (srv, j), n in parts)
