"""The per-variant sub-problems every planner solves, and turning a choice into a :class:`Plan`.

For each model M_a and variant M_(a,q) that can reach L_max under the chosen estimators, the planner
must pick K̂ per-epoch options (server, partition) with ``Σ t < T_max - τ_(a,q)`` at minimum
``Σ e`` (Eq. 13). This module builds those sub-problems (:class:`Candidate`) and the resulting plans.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from edgetune.planner.cost import OptionTable, option_table, plan_energy_j, plan_time_s
from edgetune.planner.estimates import Flavour, VariantEstimate, final_loss, variant_estimate
from edgetune.planner.instance import Instance, Model, Variant
from edgetune.planner.plan import Plan, ScheduleEntry

__all__ = ["Candidate", "Outcome", "candidates", "evaluate", "make_plan", "trajectory"]


@dataclass(frozen=True)
class Candidate:
    """One (model, variant) with its K̂ and its per-epoch options.

    Attributes
    ----------
    model, variant : Model, Variant
        M_a and M_(a,q).
    estimate : VariantEstimate
        Estimates under the planner's flavour (reachable, so ``estimate.epochs`` is set).
    options : OptionTable
        The (server, partition) options with Eq. 5-10 costs.
    budget_s : float
        ``T_max - τ_(a,q)``: the epochs' total time must stay strictly below it.
    """

    model: Model
    variant: Variant
    estimate: VariantEstimate
    options: OptionTable
    budget_s: float

    @property
    def epochs(self) -> int:
        """K̂ under the planner's flavour."""
        assert self.estimate.epochs is not None
        return self.estimate.epochs

    @property
    def label(self) -> str:
        """``model q-bit``."""
        return f"{self.model.name} {self.variant.bits}-bit"


def candidates(inst: Instance, flavour: Flavour, bits: int | None = None) -> tuple[list[Candidate], list[str]]:
    """The reachable variants (optionally only those of ``bits``) and the reasons others were dropped.

    A variant is dropped when its estimators cannot reach L_max (γ = ∞, Eq. 12) or when quantizing it
    alone uses up T_max (Algorithm 1, line 12).
    """
    found: list[Candidate] = []
    dropped: list[str] = []
    for model in inst.models:
        for variant in model.variants:
            if bits is not None and variant.bits != bits:
                continue
            est = variant_estimate(model, variant, inst.l_max, flavour)
            if not est.reachable:
                dropped.append(est.reason or f"{model.name} {variant.bits}-bit unreachable")
                continue
            budget = inst.t_max_s - variant.quantize_time_s
            if budget <= 0:
                dropped.append(
                    f"{model.name} {variant.bits}-bit: quantizing takes {variant.quantize_time_s:g} s >= T_max"
                )
                continue
            found.append(Candidate(model, variant, est, option_table(inst, model, variant), budget))
    return found, dropped


def make_plan(
    inst: Instance, method: str, cand: Candidate, option_indices: Sequence[int], solve_time_s: float = 0.0
) -> Plan:
    """Build the :class:`Plan` running option ``option_indices[k]`` in epoch ``k + 1``."""
    idx = np.asarray(option_indices, dtype=np.int64)
    opts = cand.options
    schedule = tuple(
        ScheduleEntry(k + 1, inst.edge_servers[int(opts.server[i])].name, int(opts.partition[i]))
        for k, i in enumerate(idx)
    )
    time_s = plan_time_s(cand.variant.quantize_time_s, opts.time_s[idx])
    energy_j = plan_energy_j(cand.variant.quantize_energy_j, opts.energy_j[idx])
    feasible = time_s < inst.t_max_s and bool(cand.estimate.reachable)
    reason = None if feasible else f"{cand.label}: T={time_s:.6g} s is not below T_max={inst.t_max_s:g} s"
    return Plan(
        method=method,
        feasible=feasible,
        reason=reason,
        model=cand.model.name,
        bits=cand.variant.bits,
        epochs=len(schedule),
        schedule=schedule,
        energy_j=energy_j,
        time_s=time_s,
        final_loss=cand.estimate.final_loss,
        solve_time_s=solve_time_s,
        estimates=cand.estimate.flavour,
    )


@dataclass(frozen=True)
class Outcome:
    """A plan's outcome under some estimators (e.g. a robust plan when the expected case happens).

    Attributes
    ----------
    epochs : int
        Epochs run (K̂ of the flavour, at most the schedule's length).
    time_s, energy_j : float
        τ + Σ t and ε + Σ e over those epochs.
    final_loss : float
        Eq. 12 after those epochs.
    meets_deadline, meets_target : bool
        ``time_s < T_max`` and ``final_loss < L_max``.
    """

    epochs: int
    time_s: float
    energy_j: float
    final_loss: float
    meets_deadline: bool
    meets_target: bool


def evaluate(inst: Instance, plan: Plan, flavour: Flavour) -> Outcome | None:
    """Evaluate a feasible ``plan`` when the ``flavour`` estimates come true.

    The first K̂_flavour epochs of the schedule run (the run stops once the target loss is reached);
    if the schedule is shorter, it is extended with its last action. ``None`` for an infeasible plan or
    a variant the flavour cannot bring to L_max.
    """
    traj = trajectory(inst, plan, flavour)
    if traj is None:
        return None
    k, time_s, energy_j, loss = traj[-1]
    return Outcome(k, time_s, energy_j, loss, time_s < inst.t_max_s, loss < inst.l_max)


def trajectory(inst: Instance, plan: Plan, flavour: Flavour) -> list[tuple[int, float, float, float]] | None:
    """``(k, T(k), E(k), L(k))`` for k = 0..K̂_flavour along a plan's schedule (as in :func:`evaluate`).

    ``T(0) = τ_(a,q)``, ``E(0) = ε_(a,q)``, ``L(0) = L_a + γ``. ``None`` for an infeasible plan or a
    variant the flavour cannot bring to L_max.
    """
    if plan.model is None or not plan.schedule:
        return None
    model = next(m for m in inst.models if m.name == plan.model)
    variant = next(v for v in model.variants if v.bits == plan.bits)
    est: VariantEstimate = variant_estimate(model, variant, inst.l_max, flavour)
    if est.epochs is None:
        return None
    table = option_table(inst, model, variant)
    names = [s.name for s in inst.edge_servers]
    parts = list(variant.partition_points())
    idx = [names.index(e.edge_server) * len(parts) + parts.index(e.partition) for e in plan.schedule]
    k = est.epochs
    run = (idx + [idx[-1]] * max(0, k - len(idx)))[:k]
    points = []
    for n in range(k + 1):
        points.append(
            (
                n,
                plan_time_s(variant.quantize_time_s, table.time_s[run[:n]]),
                plan_energy_j(variant.quantize_energy_j, table.energy_j[run[:n]]),
                final_loss(model.loss, est.loss_jump, est.epoch_delta, n),
            )
        )
    return points
