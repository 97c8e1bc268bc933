"""JQODI as approximate DP: equal to the literal Algorithms 1-4 on small instances, feasible whenever
exact is and never cheaper than it, every shipped scenario planned, caps keep feasibility."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edgetune.planner import scenarios
from edgetune.planner.estimates import variant_estimate
from edgetune.planner.exact import plan_exact
from edgetune.planner.instance import instance_from_mapping
from edgetune.planner.jqodi import plan_jqodi
from edgetune.planner.jqodi_dp import plan_jqodi_dp
from edgetune.planner.plan import SearchLimitExceeded

from .helpers import random_instance
from .test_jqodi import _two_server_doc


def _robust_feasible(inst, plan):
    model = next(m for m in inst.models if m.name == plan.model)
    var = next(v for v in model.variants if v.bits == plan.bits)
    est = variant_estimate(model, var, inst.l_max, "robust")
    return plan.time_s < inst.t_max_s and plan.epochs == est.epochs and est.final_loss < inst.l_max


def _key(plan):
    js = plan.to_json()
    js.pop("timings")
    js.pop("method")
    js.pop("reason")  # "graph" vs "tree" in the wording; feasible and everything else must agree
    return js


@pytest.mark.slow
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**32 - 1),
    servers=st.integers(1, 3),
    layers=st.integers(2, 3),
    activations=st.booleans(),
)
def test_dp_equals_literal_on_small_instances(seed, servers, layers, activations):
    """K̂_rob <= 5: the literal tree finishes, and the DP returns its plan (schedule included)."""
    inst = random_instance(
        np.random.default_rng(seed), n_servers=servers, n_layers=layers, k_max=5, activations=activations
    )
    try:
        literal, _ = plan_jqodi(inst, "jqodi", max_vertices=400_000)
    except SearchLimitExceeded:  # pragma: no cover - 12 actions, K = 5: 12^5 = 248 832 < 400 000
        pytest.skip("literal tree over its bound")
    dp, _ = plan_jqodi_dp(inst, "jqodi")
    assert _key(dp) == _key(literal)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**32 - 1),
    k_max=st.integers(1, 40),
    max_labels=st.sampled_from([2, 8, 512]),
    activations=st.booleans(),
)
def test_dp_feasible_whenever_exact_and_never_cheaper(seed, k_max, max_labels, activations):
    """Also with tiny caps (heavy ε-merging): the fastest label survives, so feasibility is kept."""
    inst = random_instance(
        np.random.default_rng(seed), n_servers=3, n_layers=4, k_max=k_max, n_variants=3, activations=activations
    )
    ex = plan_exact(inst, "robust", "exact")
    dp, stats = plan_jqodi_dp(inst, "jqodi", max_labels=max_labels)
    assert dp.feasible == ex.feasible
    if dp.feasible:
        assert _robust_feasible(inst, dp)
        assert dp.energy_j >= ex.energy_j * (1 - 1e-12)
        assert stats.vertices >= dp.epochs


def test_dp_opportunity_factor_hand_example():
    """Same hand example as the literal test: scores aa 40, ab 123, ba 24.6, bb 42 -> b then a."""
    inst = instance_from_mapping(_two_server_doc())
    plan, stats = plan_jqodi_dp(inst)
    assert [e.edge_server for e in plan.schedule] == ["b", "a"]
    assert plan.energy_j == pytest.approx(20.5)
    # Property 2's count: 1 model + 1 variant + K_rob (2) x 2 actions
    assert stats.vertices == 1 + 1 + 2 * 2 and not stats.merged


def test_phase_action_restriction_marks_merged():
    """Over max_phase_actions actions, the expected phase uses frontier actions only (an approximation)."""
    inst = random_instance(np.random.default_rng(3), n_servers=3, n_layers=4, k_max=6, tightness=1.0)
    full, s_full = plan_jqodi_dp(inst, max_phase_actions=64)
    cut, s_cut = plan_jqodi_dp(inst, max_phase_actions=1)
    assert not s_full.merged and s_cut.merged
    assert full.feasible and cut.feasible


@pytest.mark.parametrize("name", sorted(scenarios.SCENARIOS))
def test_every_shipped_scenario_plans_with_jqodi(name):
    inst = scenarios.build_scenario(name)
    plan, stats = plan_jqodi_dp(inst)
    ex = plan_exact(inst, "robust", "exact")
    assert plan.feasible and ex.feasible
    assert _robust_feasible(inst, plan)
    assert ex.energy_j <= plan.energy_j <= 1.10 * ex.energy_j  # within the paper's claimed ~10 %
    assert stats.vertices > 1000  # Property 2's graph, not a path enumeration


def test_deterministic():
    inst = scenarios.build_scenario("jqodi-data2")
    a, _ = plan_jqodi_dp(inst)
    b, _ = plan_jqodi_dp(inst)
    assert _key(a) == _key(b)
