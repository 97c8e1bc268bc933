"""The paper's testbed scenarios: architecture counts, generated files, and the comparison."""

from __future__ import annotations

import pytest
import yaml

from edgetune.planner import scenarios
from edgetune.planner.compare import compare_methods, format_table
from edgetune.planner.instance import instance_from_mapping


def _arch(name):
    tb = scenarios.testbed()
    arch = next(m for m in tb["models"] if m["name"] == name)
    return scenarios.architecture_stats(arch["blocks"], (32, 32, 3))


def test_architecture_counts():
    lenet = _arch("lenet")
    # 64C3: 32*32*64*27 MACs; 128C3 on 16x16x64; 128C3 on 8x8x128; FC 2048->1024; 1024->10
    macs = [32 * 32 * 64 * 27, 16 * 16 * 128 * 576, 8 * 8 * 128 * 1152, 2048 * 1024, 1024 * 10]
    assert [b.flops for b in lenet] == [2.0 * m for m in macs]
    assert [b.out_elements for b in lenet] == [16 * 16 * 64, 8 * 8 * 128, 4 * 4 * 128, 1024, 10]
    resnet = _arch("resnet20")
    assert sum(b.flops for b in resnet) / 2 == pytest.approx(40.8e6, rel=0.01)  # ResNet20: ~41 M MACs
    assert sum(b.params for b in resnet) == pytest.approx(0.27e6, rel=0.02)
    vgg = _arch("vgg")
    assert len(vgg) == 6 and sum(b.flops for b in vgg) == pytest.approx(2 * 398.5e6, rel=0.01)


@pytest.mark.parametrize("name", ["jqodi-data1", "jqodi-data2"])
def test_generated_files_are_up_to_date(name):
    on_disk = yaml.safe_load(scenarios.scenario_path(name).read_text())
    assert on_disk == scenarios.build_scenario_mapping(name)
    assert instance_from_mapping(on_disk) == scenarios.load_scenario(name)


def test_compare_data1():
    inst = scenarios.build_scenario("jqodi-data1")
    rows = {r.method: r for r in compare_methods(inst)}
    assert rows["jqodi-literal"].plan is None and "exceeds" in (rows["jqodi-literal"].error or "")
    opt, ex, st, jq = rows["optimum"], rows["exact"], rows["jqodi-stationary"], rows["jqodi"]
    assert opt.plan.feasible and ex.plan.feasible and st.plan.feasible and jq.plan.feasible
    assert ex.plan.energy_j <= jq.plan.energy_j and ex.plan.energy_j <= st.plan.energy_j
    assert opt.expected.energy_j <= ex.expected.energy_j <= st.expected.energy_j
    assert not rows["minimal"].plan.feasible  # 1-bit cannot reach L_max on Data 1
    assert rows["full"].plan.bits == 32
    table = format_table(inst, list(rows.values()), scenarios.paper_reference("jqodi-data1"))
    # the Optimum's model and bits are predicted and agree with the paper; energies are calibrated
    assert "| optimum | expected | lenet [P] | 8 [P] | 26 [C] |" in table and "+0.0% [P]" in table
    assert "6988.1 J / 135.564 s" in table and "model [P], bits [P]" in table
    # Minimal's missing plan is by construction (1-bit assumed unreachable), Full's 32 bits too
    assert "| minimal | expected | - |" in table and "no plan [B]" in table and "32 [B]" in table
    plain = format_table(inst, list(rows.values()))
    assert "[C]" not in plain.split("Marks:")[0] and "6988.1" not in plain


def test_scenario_registry():
    assert set(scenarios.SCENARIOS) >= {"jqodi-data1", "jqodi-data2", "jqodi-testbed", "jqodi-measured"}
    assert scenarios.build_scenario("jqodi-testbed") == scenarios.build_scenario("jqodi-data1")
    measured = scenarios.build_scenario("jqodi-measured")
    assert "Measured on host" in (measured.description or "") and measured.samples_per_epoch is not None
    assert scenarios.paper_reference("jqodi-measured") is None
    assert scenarios.paper_reference("jqodi-data2")["methods"]["jqodi"]["energy_j"] == 12091.0
    for name in scenarios.SCENARIOS:
        assert name in scenarios.scenario_help()
