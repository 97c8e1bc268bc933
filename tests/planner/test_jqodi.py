"""JQODI Algorithms 1-4: feasibility under robust estimates, never cheaper than exact, the bound."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edgetune.planner.estimates import variant_estimate
from edgetune.planner.exact import plan_exact
from edgetune.planner.instance import instance_from_mapping
from edgetune.planner.jqodi import create_tree, find_paths, plan_jqodi
from edgetune.planner.plan import SearchLimitExceeded

from .helpers import random_instance


def _robust_feasible(inst, plan):
    model = next(m for m in inst.models if m.name == plan.model)
    var = next(v for v in model.variants if v.bits == plan.bits)
    est = variant_estimate(model, var, inst.l_max, "robust")
    return plan.time_s < inst.t_max_s and plan.epochs == est.epochs and est.final_loss < inst.l_max


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1), activations=st.booleans())
def test_jqodi_feasible_and_not_cheaper_than_exact(seed, activations):
    inst = random_instance(np.random.default_rng(seed), n_servers=2, n_layers=3, k_max=4, activations=activations)
    ex = plan_exact(inst, "robust", "exact")
    for shape in ("full", "stationary"):
        plan, stats = plan_jqodi(inst, shape=shape)
        if shape == "full":
            assert plan.feasible == ex.feasible  # the full tree holds every robust schedule
        if plan.feasible:
            assert _robust_feasible(inst, plan)
            assert plan.energy_j >= ex.energy_j * (1 - 1e-12)
            assert stats.paths >= 1


def _two_server_doc():
    """Server a: 1 s, 10 J per epoch; server b: 5 s, 10.5 J; K_exp = 1, K_rob = 2, no other costs."""

    def srv(name, speed, eps):
        return {
            "name": name,
            "speed": speed,
            "energy_per_unit": eps,
            "cloud_rate_bps": 1.0,
            "cloud_energy_per_bit": 0.0,
            "bandwidth_hz": 1.0,
            "snr": 1.0,
            "device_energy_per_bit": 0.0,
        }

    return {
        "t_max_s": 100.0,
        "l_max": 0.02,
        "cloud": {"speed": 1.0, "energy_per_unit": 0.0},
        "device": {"name": "d", "speed": 1.0, "energy_per_unit": 0.0},
        "edge_servers": [srv("a", 1.0, 10.0), srv("b", 0.2, 10.5)],
        "models": [
            {
                "name": "m",
                "loss": 0.02,
                "update_compute": 0.0,
                "variants": [
                    {
                        "bits": 8,
                        "quantize_time_s": 0.0,
                        "quantize_energy_j": 0.0,
                        "layers": [{"compute": 1.0, "size_bits": 0.0}],
                        "partitions": [0],
                        "loss_jump": {"expected": 0.001, "robust": 0.001},
                        "epoch_loss_delta": {"expected": -0.002, "robust": -0.001},
                        "epochs": {"expected": 1, "robust": 2},
                    }
                ],
            }
        ],
    }


def test_algorithm4_opportunity_factor_hand_example():
    """Paths aa (20 J), ab, ba (20.5 J), bb (21 J): opp = T(1)/T(2) = 1/2, 1/6, 5/6, 1/2.

    risk = L_exp/L_rob = (0.021 - 0.002)/(0.021 - 0.002) = 1, so scores are 40, 123, 24.6, 42: the
    literal Algorithm 4 picks b then a, not the cheapest aa (exact's choice).
    """
    inst = instance_from_mapping(_two_server_doc())
    tree = create_tree(inst)
    assert len(tree) == 1 + 1 + 2 + 4 and len(find_paths(tree)) == 4
    plan, _ = plan_jqodi(inst)
    assert [e.edge_server for e in plan.schedule] == ["b", "a"]
    assert plan.energy_j == pytest.approx(20.5) and plan.time_s == pytest.approx(6.0)
    assert plan_exact(inst, "robust", "exact").energy_j == pytest.approx(20.0)


def test_tree_bound_message():
    inst = random_instance(np.random.default_rng(1), n_servers=3, n_layers=4, k_max=12, tightness=1.0)
    with pytest.raises(SearchLimitExceeded, match=r"exceeds 50 vertices at .* epoch \d+ of K_rob=\d+"):
        plan_jqodi(inst, max_vertices=50)
    plan, stats = plan_jqodi(inst, shape="stationary", max_vertices=10_000)
    assert stats.vertices <= 2 + 4 * (1 + 9 * 12)
    assert plan.feasible
