"""The least-K rule (Eq. 12 solved for K) and the per-variant estimates."""

from __future__ import annotations

import math

import pytest

from edgetune.planner import scenarios
from edgetune.planner.estimates import final_loss, least_epochs, variant_estimate
from edgetune.planner.instance import instance_from_mapping

from .helpers import small_doc


def test_least_epochs_hand_values():
    assert least_epochs(0.0186, 0.004, -1.0e-4, 0.0186) == 41  # 40 epochs only reach equality
    assert least_epochs(0.0186, 0.004, -8.0e-5, 0.0186) == 51
    assert least_epochs(0.0, 0.0, -1.0, 0.5) == 1  # already below after one epoch
    assert least_epochs(0.02, 0.004, 0.0, 0.0186) is None  # non-negative change: never
    assert least_epochs(0.02, math.inf, -1.0, 0.0186) is None  # γ = ∞
    for k in (1, 2, 7, 26, 133):  # the rule inverts itself
        excess = 0.0031
        assert least_epochs(0.0186, excess, -excess / (k - 0.5), 0.0186) == k


def test_final_loss_eq12():
    assert final_loss(0.0186, 0.004, -1e-4, 30) == pytest.approx(0.0196)


def test_explicit_epochs_must_meet_target():
    doc = small_doc()
    inst = instance_from_mapping(doc)
    m, v = inst.models[0], inst.models[0].variants[0]
    est = variant_estimate(m, v, inst.l_max, "expected")
    # 0.0186 + 0.004 - 3e-4 >= 0.0186: the given K̂ does not reach the target
    assert not est.reachable and "K=3" in (est.reason or "")
    doc["models"][0]["variants"][0]["epochs"] = None
    inst = instance_from_mapping(doc)
    est = variant_estimate(inst.models[0], inst.models[0].variants[0], inst.l_max, "robust")
    assert est.reachable and est.epochs == 63  # 0.005 / 8e-5 = 62.5


@pytest.mark.parametrize("name", ["jqodi-data1", "jqodi-data2"])
def test_scenario_losses_reproduce_tables(name):
    """The scenario's loss estimators give back Tables VI-VII's K̂ through the least-K rule."""
    inst = scenarios.build_scenario(name)
    table = scenarios.testbed()["scenarios"][name]["epochs"]
    for model in inst.models:
        for var in model.variants:
            ks = table[model.name][var.bits]
            for flavour, col in (("expected", 0), ("robust", 1)):
                gamma = getattr(var.loss_jump, flavour)
                delta = getattr(var.epoch_loss_delta, flavour)
                got = least_epochs(model.loss, gamma, delta, inst.l_max)
                assert got == (None if ks is None else ks[col]), (model.name, var.bits, flavour)


def test_tiny_negative_delta_is_unreachable_in_closed_form():
    """Issue 16: ℓ = -1e-300 with no ``epochs`` used to spin in a `k -= 1` loop; now a closed form, bounded."""
    from edgetune.planner.instance import MAX_EPOCHS

    assert least_epochs(1.0, 0.0, -1e-300, 0.5) is None
    assert least_epochs(1.0, 0.0, -0.5 / (MAX_EPOCHS - 1), 0.5) == MAX_EPOCHS  # 0.5 / ℓ = MAX-1 -> K = MAX
    assert least_epochs(1.0, 0.0, -0.5 / (MAX_EPOCHS + 1), 0.5) is None
    assert least_epochs(1.0, 0.5, -0.25, 1.0) == 3  # 1.5 - 0.25 K < 1 -> K > 2
