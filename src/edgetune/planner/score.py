"""Algorithm 4 (SelectPath) of the JQODI paper: the score ``w · risk / opp`` of a path reaching Θ.

Shared by the literal tree search (:mod:`edgetune.planner.jqodi`) and the approximate dynamic
programme (:mod:`edgetune.planner.jqodi_dp`), so both score a path identically:

* ``opp = T_exp / T_rob`` (line 4): the elapsed time at depth K̂_exp over that at depth K̂_rob on the
  path (both include τ_(a,q)); 1 when either is not positive;
* ``risk = L_exp / L_rob`` (line 7): Eq. 12 after K̂_exp epochs with the expected estimators over
  Eq. 12 after K̂_rob epochs with the robust ones; 1 when either loss is not positive or not finite;
* ``score = w · risk / opp`` (line 8), w the path's energy (ε_(a,q) + Σ e).

The score depends on the path's order only through which actions fall in the first K̂_exp epochs
(the *expected phase*) and which in the last K̂_rob − K̂_exp (the *robust tail*). Both searches
report a chosen path with each phase's actions in option order (:func:`canonical_actions`), so the
same multisets give the same schedule.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from edgetune.planner.estimates import final_loss, variant_estimate
from edgetune.planner.instance import Instance
from edgetune.planner.problem import Candidate

__all__ = ["canonical_actions", "expected_depth", "path_scores", "risk_factor"]


def expected_depth(inst: Instance, cand: Candidate) -> int:
    """K̂_exp of the candidate, capped at K̂_rob (K̂_rob when the expected estimators cannot reach L_max)."""
    exp = variant_estimate(cand.model, cand.variant, inst.l_max, "expected")
    k_rob = cand.epochs
    return min(exp.epochs if exp.epochs is not None else k_rob, k_rob)


def risk_factor(inst: Instance, cand: Candidate) -> float:
    """Algorithm 4, lines 5-7: ``risk = L_exp / L_rob`` (a constant per variant in the loss model of Eq. 12)."""
    exp = variant_estimate(cand.model, cand.variant, inst.l_max, "expected")
    k_exp = expected_depth(inst, cand)
    l_rob = final_loss(cand.model.loss, cand.estimate.loss_jump, cand.estimate.epoch_delta, cand.epochs)
    l_exp = final_loss(cand.model.loss, exp.loss_jump, exp.epoch_delta, k_exp)
    if l_rob > 0 and l_exp > 0 and math.isfinite(l_exp) and math.isfinite(l_rob):
        return l_exp / l_rob
    return 1.0


def path_scores(
    weight_j: NDArray[np.float64] | float,
    t_exp_s: NDArray[np.float64] | float,
    t_rob_s: NDArray[np.float64] | float,
    risk: float,
) -> NDArray[np.float64]:
    """Algorithm 4, line 8, vectorised: ``w · risk / opp`` with ``opp = T_exp / T_rob`` (1 if degenerate)."""
    w = np.asarray(weight_j, dtype=np.float64)
    te = np.asarray(t_exp_s, dtype=np.float64)
    tr = np.asarray(t_rob_s, dtype=np.float64)
    ok = (te > 0) & (tr > 0)
    opp = np.where(ok, te / np.where(ok, tr, 1.0), 1.0)
    return np.asarray(w * risk / opp, dtype=np.float64)


def canonical_actions(actions: Sequence[int], k_exp: int) -> list[int]:
    """The expected phase's actions in option order, then the robust tail's (the score is unchanged)."""
    head = sorted(int(a) for a in actions[:k_exp])
    tail = sorted(int(a) for a in actions[k_exp:])
    return head + tail
