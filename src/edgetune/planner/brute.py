"""Brute force over every schedule (for tests and the benchmark): the reference for ``exact``.

Every variant, and every ordered sequence of K̂ per-epoch options (``m**K`` schedules, no use of
the epochs' interchangeability), is evaluated with Eq. 5-10 and Eq. 13; the cheapest feasible one
wins. A bound on the number of schedules stops it with :class:`SearchLimitExceeded`.
"""

from __future__ import annotations

import time

import numpy as np

from edgetune.planner.estimates import Flavour
from edgetune.planner.instance import Instance
from edgetune.planner.plan import Plan, SearchLimitExceeded
from edgetune.planner.problem import candidates, make_plan

__all__ = ["DEFAULT_MAX_SCHEDULES", "plan_brute"]

DEFAULT_MAX_SCHEDULES = 2_000_000


def plan_brute(
    inst: Instance,
    flavour: Flavour,
    method: str = "brute",
    bits: int | None = None,
    max_schedules: int = DEFAULT_MAX_SCHEDULES,
) -> Plan:
    """Minimum-energy feasible plan by enumerating all ordered schedules of every variant.

    Raises
    ------
    SearchLimitExceeded
        When one variant has more than ``max_schedules`` schedules.
    """
    start = time.perf_counter()
    pool, dropped = candidates(inst, flavour, bits)
    if not pool:
        reason = f"no variant can reach L_max={inst.l_max:g} under the {flavour} estimates"
        if dropped:
            reason += ": " + "; ".join(dropped)
        return Plan.infeasible(method, reason, time.perf_counter() - start, flavour)
    best: tuple[float, float, int, tuple[int, ...]] | None = None
    for ci, cand in enumerate(pool):
        m, k = len(cand.options), cand.epochs
        if float(m) ** k > max_schedules:
            raise SearchLimitExceeded(
                f"brute: {cand.label} has {m}^{k} = {float(m) ** k:.3g} schedules > bound {max_schedules}"
            )
        tot_t = np.zeros(1)
        tot_e = np.zeros(1)
        for _ in range(k):  # all ordered sequences, epoch by epoch (index = base-m digits)
            tot_t = np.add.outer(tot_t, cand.options.time_s).ravel()
            tot_e = np.add.outer(tot_e, cand.options.energy_j).ravel()
        feasible = np.flatnonzero(tot_t < cand.budget_s)
        if feasible.shape[0] == 0:
            continue
        j = int(feasible[np.argmin(tot_e[feasible])])
        digits = np.unravel_index(j, (m,) * k)
        total = cand.variant.quantize_energy_j + float(tot_e[j])
        key = (total, cand.variant.quantize_time_s + float(tot_t[j]), ci, tuple(int(d) for d in digits))
        if best is None or key[:3] < best[:3]:
            best = key
    if best is None:
        return Plan.infeasible(
            method,
            f"no schedule meets T_max={inst.t_max_s:g} s under the {flavour} estimates",
            time.perf_counter() - start,
            flavour,
        )
    return make_plan(inst, method, pool[best[2]], best[3], time.perf_counter() - start)
