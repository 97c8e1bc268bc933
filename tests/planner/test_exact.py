"""The exact planner against brute force (hypothesis) and a HiGHS MILP."""

from __future__ import annotations

import itertools

import highspy
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edgetune.planner import exact as exact_mod
from edgetune.planner.brute import plan_brute
from edgetune.planner.exact import lower_hull, lp_bound, pareto_frontier, plan_exact, solve_epochs
from edgetune.planner.plan import SearchLimitExceeded

from .helpers import random_instance

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _brute_counts(t, e, k, budget):
    best = None
    for seq in itertools.product(range(len(t)), repeat=k):
        tt = sum(t[i] for i in seq)
        if tt < budget:
            ee = sum(e[i] for i in seq)
            if best is None or ee < best:
                best = ee
    return best


def test_frontier_and_hull():
    t = np.array([1.0, 2.0, 2.0, 3.0, 4.0, 5.0])
    e = np.array([9.0, 7.0, 8.0, 7.5, 1.0, 1.0])
    front = pareto_frontier(t, e)
    assert list(front) == [0, 1, 4]  # (2,8), (3,7.5) and (5,1) are dominated
    ht, he = lower_hull(t[front], e[front])
    assert list(ht) == [1.0, 4.0] and list(he) == [9.0, 1.0]  # (2,7) lies above the segment (6.33)
    # 3 epochs within 9 s: LP mixes (1,9) and (4,1) at average 3 -> 3 * (9 - 8*2/3) = 11
    assert float(lp_bound(3, 9.0, ht, he)) == pytest.approx(11.0)
    assert float(lp_bound(3, 2.0, ht, he)) == np.inf
    assert float(lp_bound(0, 1.0, ht, he)) == 0.0


def test_three_distinct_options_can_be_needed():
    # times 0.5, 2, 3 with energies 10, 3.5, 1; 3 epochs within 5.5 s: {0.5, 2, 3} is the only best
    t = np.array([0.5, 2.0, 3.0])
    e = np.array([10.0, 3.5, 1.0])
    res = solve_epochs(t, e, 3, 5.6)
    assert res is not None and res.counts == {0: 1, 1: 1, 2: 1} and res.energy_j == 14.5


@FAST
@given(
    data=st.lists(st.tuples(st.integers(1, 40), st.integers(0, 40)), min_size=1, max_size=4),
    k=st.integers(1, 5),
    budget=st.integers(0, 200),
)
def test_solve_epochs_equals_brute(data, k, budget):
    """Dyadic values: sums are exact, so the optimum (and the strict deadline) compare exactly."""
    t = np.array([a / 4 for a, _ in data])
    e = np.array([b / 4 for _, b in data])
    b = budget / 4
    ref = _brute_counts(t, e, k, b)
    for max_nodes in (exact_mod._MAX_NODES, 0):  # reduced-cost search, then the label-setting fallback
        saved = exact_mod._MAX_NODES
        exact_mod._MAX_NODES = max_nodes
        try:
            res = solve_epochs(t, e, k, b)
        finally:
            exact_mod._MAX_NODES = saved
        if ref is None:
            assert res is None
        else:
            assert res is not None and res.energy_j == ref
            assert sum(res.counts.values()) == k and res.time_s < b


def _milp(t, e, k, budget):
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("mip_rel_gap", 0.0)
    h.setOptionValue("mip_abs_gap", 0.0)
    m = len(t)
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = m, 2
    lp.col_cost_ = np.asarray(e, dtype=float)
    lp.col_lower_ = np.zeros(m)
    lp.col_upper_ = np.full(m, float(k))
    lp.row_lower_ = np.array([float(k), -highspy.kHighsInf])
    lp.row_upper_ = np.array([float(k), budget * (1 - 1e-9)])
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = np.arange(0, 2 * m + 1, 2, dtype=np.int32)
    lp.a_matrix_.index_ = np.tile(np.array([0, 1], dtype=np.int32), m)
    lp.a_matrix_.value_ = np.column_stack([np.ones(m), np.asarray(t, dtype=float)]).ravel()
    lp.integrality_ = [highspy.HighsVarType.kInteger] * m
    h.passModel(lp)
    h.run()
    if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
        return None
    x = np.round(np.asarray(h.getSolution().col_value))
    return float(x @ e), float(x @ t)


@pytest.mark.parametrize("seed", range(25))
def test_solve_epochs_equals_highs_milp(seed):
    rng = np.random.default_rng(seed)
    m = int(rng.integers(2, 30))
    k = int(rng.integers(5, 120))
    t = rng.uniform(0.5, 10.0, m)
    e = rng.uniform(1.0, 50.0, m)
    budget = k * float(rng.uniform(t.min(), t.max() * 1.05))
    res = solve_epochs(t, e, k, budget)
    ref = _milp(t, e, k, budget)
    if ref is None:
        assert res is None or res.time_s >= budget * (1 - 1e-9)
        return
    assert res is not None and res.time_s < budget
    assert res.energy_j == pytest.approx(ref[0], rel=1e-7)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1), activations=st.booleans())
def test_exact_and_optimum_equal_brute_on_random_instances(seed, activations):
    rng = np.random.default_rng(seed)
    inst = random_instance(rng, n_servers=2, n_layers=3, n_models=2, n_variants=2, k_max=4, activations=activations)
    assert inst.has_activation_traffic == activations
    for flavour in ("robust", "expected"):
        ex = plan_exact(inst, flavour, "x")
        br = plan_brute(inst, flavour)
        assert ex.feasible == br.feasible
        if ex.feasible:
            assert ex.energy_j == pytest.approx(br.energy_j, rel=1e-9)
            assert ex.time_s < inst.t_max_s and ex.epochs == br.epochs
    for bits in (32, 8):
        ex = plan_exact(inst, "expected", "x", bits=bits)
        br = plan_brute(inst, "expected", bits=bits)
        assert ex.feasible == br.feasible
        if ex.feasible:
            assert ex.energy_j == pytest.approx(br.energy_j, rel=1e-9) and ex.bits == bits


def test_brute_bound():
    inst = random_instance(np.random.default_rng(3), n_servers=3, n_layers=4, k_max=12)
    with pytest.raises(SearchLimitExceeded, match="schedules > bound"):
        plan_brute(inst, "robust", max_schedules=100)
