"""Collaborative inference per sample (Fig. 9) against hand-computed numbers."""

from __future__ import annotations

import pytest

from edgetune.errors import InputError
from edgetune.planner.inference import collaborative_inference, plan_inference
from edgetune.planner.instance import instance_from_mapping
from edgetune.planner.methods import make_method

from .helpers import small_doc


def test_device_alone_and_split():
    inst = instance_from_mapping(small_doc())
    rows = collaborative_inference(inst, "lenet", 8, 1, samples=10)
    alone, split = rows
    assert alone.setup == "pi5" and alone.partition == 3
    assert alone.latency_s == pytest.approx(10 * 6e6 / 3e10)  # Σ c / v_y
    assert alone.energy_j == pytest.approx(10 * 6e6 * 4e-10)
    assert split.setup == "pi5+rtx3090"
    assert split.device_s == pytest.approx(10 * 1e6 / 3e10)
    assert split.transfer_s == pytest.approx(10 * 8e3 / 4e7)  # o^1 / (2e7 log2 4)
    assert split.server_s == pytest.approx(10 * 5e6 / 3.5e13)
    assert split.energy_j == pytest.approx(10 * (1e6 * 4e-10 + 8e3 * 5e-8 + 5e6 * 1e-11))


def test_errors():
    doc = small_doc()
    del doc["models"][0]["variants"][0]["layers"][2]["infer_compute"]
    inst = instance_from_mapping(doc)
    with pytest.raises(InputError) as err:
        collaborative_inference(inst, "lenet", 8, 1)
    assert err.value.field == "models[0].variants[0].layers[2].infer_compute"
    with pytest.raises(InputError):
        collaborative_inference(inst, "lenet", 4, 1)
    infeasible = make_method("exact").plan(inst)
    with pytest.raises(InputError):
        plan_inference(inst, infeasible)
