"""The method registry and the baselines' restrictions."""

from __future__ import annotations

import numpy as np
import pytest

from edgetune.errors import InputError
from edgetune.planner.methods import PlannerMethod, make_method, method_names
from edgetune.planner.plan import Plan

from .helpers import random_instance


def test_registry():
    names = ["jqodi", "jqodi-literal", "jqodi-stationary", "exact", "optimum", "full", "minimal", "brute"]
    assert method_names() == names
    assert all(isinstance(make_method(n), PlannerMethod) for n in method_names())
    with pytest.raises(InputError, match="unknown planner method"):
        make_method("nope")


def test_baselines_restrict_bits_and_json_contract():
    inst = random_instance(np.random.default_rng(5), n_variants=3, tightness=1.0)
    full = make_method("full").plan(inst)
    minimal = make_method("minimal").plan(inst)
    assert full.bits in (None, 32)
    assert not minimal.feasible and "1-bit" in (minimal.reason or "")
    assert list(minimal.to_json()) == [
        "method",
        "feasible",
        "reason",
        "model",
        "bits",
        "epochs",
        "schedule",
        "energy_j",
        "time_s",
        "final_loss",
        "timings",
    ]
    assert set(minimal.to_json()["timings"]) == {"solve_time_s"}
    opt = make_method("optimum").plan(inst)
    assert opt.feasible and opt.estimates == "expected"
    js = opt.to_json()
    assert js["epochs"] == len(js["schedule"]) and js["schedule"][0]["epoch"] == 1
    assert set(js["schedule"][0]) == {"epoch", "edge_server", "partition"}


def test_infeasible_deadline_reason():
    inst = random_instance(np.random.default_rng(2), tightness=-0.5)
    plan = make_method("exact").plan(inst)
    assert isinstance(plan, Plan) and not plan.feasible and "T_max" in (plan.reason or "")
    assert plan.to_json()["energy_j"] is None and plan.to_json()["schedule"] == []
