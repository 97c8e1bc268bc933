"""Eq. 1-10 and the plan sums (Eq. 13) against hand-computed numbers."""

from __future__ import annotations

import math

import numpy as np
import pytest

from edgetune.planner.cost import (
    activation_volume_bits,
    device_link_rate_bps,
    epoch_cost,
    option_table,
    plan_energy_j,
    plan_time_s,
    volumes,
)
from edgetune.planner.instance import instance_from_mapping

from .helpers import random_instance, small_doc


@pytest.fixture
def inst():
    return instance_from_mapping(small_doc())


def test_volumes_eq1_to_4(inst):
    var = inst.models[0].variants[0]
    v = volumes(var, 1)
    assert v.cloud_edge_bits == 6.0e5  # Eq. 1: 1e5 + 2e5 + 3e5
    assert v.edge_device_bits == 1.0e5  # Eq. 2: blocks 1..1
    assert v.device_compute == 1.0e9  # Eq. 3
    assert v.edge_compute == 5.0e9  # Eq. 4: 2e9 + 3e9
    v2 = volumes(var, 2)
    assert (v2.edge_device_bits, v2.device_compute, v2.edge_compute) == (3.0e5, 3.0e9, 3.0e9)
    assert volumes(var, 0).device_compute == 0.0 and volumes(var, 3).edge_compute == 0.0


def test_shannon_rate(inst):
    assert device_link_rate_bps(inst.edge_servers[0]) == pytest.approx(4.0e7)  # 2e7 * log2(1 + 3)


def test_epoch_cost_eq5_to_10(inst):
    c = epoch_cost(inst, inst.models[0], inst.models[0].variants[0], inst.edge_servers[0], 1)
    # Eq. 7: 1e9/3e10 + 5e9/3.5e13 + 1e9/1.9e13
    assert c.run_s == pytest.approx(1 / 30 + 5 / 35000 + 1 / 19000, rel=1e-12)
    # Eq. 9: 2 (6e5/1e9 + 1e5/4e7) = 2 (6e-4 + 2.5e-3)
    assert c.tran_s == pytest.approx(6.2e-3, rel=1e-12)
    # Eq. 8: 1e9*4e-10 + 5e9*1e-11 + 1e9*2.1e-11 = 0.4 + 0.05 + 0.021
    assert c.run_j == pytest.approx(0.471, rel=1e-12)
    # Eq. 10: 2 (6e5*1e-9 + 1e5*5e-8) = 2 (6e-4 + 5e-3)
    assert c.tran_j == pytest.approx(0.0112, rel=1e-12)
    assert c.time_s == pytest.approx(0.0333333333 + 1.428571e-4 + 5.263158e-5 + 6.2e-3, rel=1e-6)
    assert c.energy_j == pytest.approx(0.4822, rel=1e-12)


def test_option_table_matches_epoch_cost(inst):
    model, var = inst.models[0], inst.models[0].variants[0]
    table = option_table(inst, model, var)
    assert list(table.partition) == [1, 2] and list(table.server) == [0, 0]
    for i, j in enumerate(table.partition):
        c = epoch_cost(inst, model, var, inst.edge_servers[0], int(j))
        assert table.time_s[i] == pytest.approx(c.time_s, rel=1e-13)
        assert table.energy_j[i] == pytest.approx(c.energy_j, rel=1e-13)
    # j = 2: 3e9/3e10 + 3e9/3.5e13 + 1e9/1.9e13 + 2 (6e-4 + 3e5/4e7)
    assert table.time_s[1] == pytest.approx(0.1 + 3 / 35000 + 1 / 19000 + 2 * (6e-4 + 7.5e-3), rel=1e-12)
    # 1.2 + 0.03 + 0.021 + 2 (6e-4 + 1.5e-2)
    assert table.energy_j[1] == pytest.approx(1.2 + 0.03 + 0.021 + 0.0312, rel=1e-12)


def test_plan_sums_eq13():
    assert plan_time_s(2.0, np.array([0.1, 0.2, 0.3])) == pytest.approx(2.6)
    assert plan_energy_j(300.0, [1.0] * 10) == 310.0
    assert plan_time_s(0.0, [0.1] * 10) == math.fsum([0.1] * 10)


def _act_doc(**top):
    doc = small_doc()
    doc.update(top)
    return doc


def test_activation_volume_eq9a_hand_computed(inst):
    var = inst.models[0].variants[0]
    assert all(activation_volume_bits(inst, var, j) == 0.0 for j in range(4))  # paper's model: no term
    a = instance_from_mapping(_act_doc(samples_per_epoch=100.0))
    va = a.models[0].variants[0]
    # 2·N·o_j: o_1 = 8e3, o_2 = 4e3 bits per sample
    assert activation_volume_bits(a, va, 1) == 2 * 100 * 8.0e3
    assert activation_volume_bits(a, va, 2) == 2 * 100 * 4.0e3
    assert activation_volume_bits(a, va, 3) == 0.0  # all on the device: nothing crosses
    doc = _act_doc(samples_per_epoch=100.0, eval_samples_per_epoch=30.0)
    doc["models"][0]["variants"][0]["layers"][0]["output_grad_bits"] = 3.2e4  # float32 grads of 8-bit acts
    doc["models"][0]["variants"][0]["input_bits"] = 256.0
    b = instance_from_mapping(doc)
    vb = b.models[0].variants[0]
    # N·(o + o') + N_ev·o = 100 (8e3 + 3.2e4) + 30·8e3
    assert activation_volume_bits(b, vb, 1) == 100 * 4.0e4 + 30 * 8.0e3
    assert activation_volume_bits(b, vb, 2) == 100 * 8.0e3 + 30 * 4.0e3  # o' defaults to o
    assert activation_volume_bits(b, vb, 0) == 130 * 256.0  # raw inputs forward only
    assert volumes(vb, 1, b).activation_bits == 4.24e6 and volumes(vb, 1).activation_bits == 0.0


def test_epoch_cost_eq9a_10a(inst):
    a = instance_from_mapping(_act_doc(samples_per_epoch=100.0))
    model, var, srv = a.models[0], a.models[0].variants[0], a.edge_servers[0]
    base = epoch_cost(inst, model, var, srv, 1)
    c = epoch_cost(a, model, var, srv, 1)
    # D^act = 1.6e6 bit over v_xy = 4e7 bit/s at 5e-8 J/bit
    assert c.act_s == pytest.approx(0.04, rel=1e-12) and c.act_j == pytest.approx(0.08, rel=1e-12)
    assert (c.run_s, c.tran_s, c.run_j, c.tran_j) == (base.run_s, base.tran_s, base.run_j, base.tran_j)
    assert c.time_s == pytest.approx(base.time_s + 0.04, rel=1e-12)
    assert c.energy_j == pytest.approx(base.energy_j + 0.08, rel=1e-12)
    assert base.act_s == 0.0 and base.act_j == 0.0


@pytest.mark.parametrize("seed", range(20))
def test_option_table_matches_epoch_cost_with_and_without_activations(seed):
    for activations in (False, True):
        inst = random_instance(np.random.default_rng(seed), n_servers=3, n_layers=4, activations=activations)
        for model in inst.models:
            for var in model.variants:
                table = option_table(inst, model, var)
                for i in range(len(table)):
                    srv = inst.edge_servers[int(table.server[i])]
                    c = epoch_cost(inst, model, var, srv, int(table.partition[i]))
                    assert table.time_s[i] == pytest.approx(c.time_s, rel=1e-12)
                    assert table.energy_j[i] == pytest.approx(c.energy_j, rel=1e-12)


def test_activation_traffic_moves_the_exact_plan():
    """Eq. 9a-10a make the data-heavy early cut expensive: the planner moves the partition deeper."""
    from edgetune.planner.methods import make_method

    # p1: 0.0395 s, 0.482 J per epoch; p2: 0.116 s, 1.28 J. With N = 5000: + 2 s, 4 J at p1; + 1 s, 2 J at p2
    paper = make_method("exact").plan(instance_from_mapping(_act_doc(l_max=0.03)))
    assert paper.feasible and {e.partition for e in paper.schedule} == {1}
    act = make_method("exact").plan(instance_from_mapping(_act_doc(l_max=0.03, samples_per_epoch=5000.0)))
    assert act.feasible and {e.partition for e in act.schedule} == {2}
    assert act.energy_j > paper.energy_j
