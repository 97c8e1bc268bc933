"""Issue 16, classes 1-3: every reproducer of the issue as a command-line case.

Each case runs ``edgetune.cli.main.main(argv)`` in an empty working folder and must end with exit code 2,
exactly one stderr line ``edgetune: error: FIELD=VALUE: reason`` naming the field, no traceback and no new
file. ``signal.alarm`` turns a hang into a failure.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fuzz.conftest import Result, assert_one_line_error, deadline
from tests.fuzz.inputs_fixtures import fleet_doc, instance_doc, write_yaml

#: Seconds one case may take before it counts as a hang.
CASE_TIMEOUT_S = 20


@pytest.fixture(autouse=True)
def _deadline() -> Iterator[None]:
    with deadline(CASE_TIMEOUT_S):
        yield


def _fleet_with(path: str, value: Any) -> dict[str, Any]:
    """The small fleet with the field at dotted ``path`` (``nodes.0.compute``) set to ``value``."""
    doc = fleet_doc()
    node: Any = doc
    *parts, last = path.split(".")
    for p in parts:
        node = node[int(p)] if p.isdigit() else node[p]
    node[int(last) if last.isdigit() else last] = value
    return doc


# (case id, fleet mutation or None, argv (FLEET = the fleet file), field named in the error)
FLEET_VALUES: list[tuple[str, str, Any, str]] = [
    ("compute-inf", "nodes.0.compute", float("inf"), "nodes[0].compute"),
    ("compute-1e308", "nodes.0.compute", 1e308, "nodes[0].compute"),
    ("compute-denormal", "nodes.0.compute", 5e-324, "nodes[0].compute"),
    ("compute-bool", "nodes.0.compute", True, "nodes[0].compute"),
    ("bandwidth-inf", "nodes.1.link.bandwidth_mbps", float("inf"), "nodes[1].link.bandwidth_mbps"),
    ("bandwidth-bool", "nodes.1.link.bandwidth_mbps", True, "nodes[1].link.bandwidth_mbps"),
    ("delay-inf", "nodes.2.link.delay_ms", float("inf"), "nodes[2].link.delay_ms"),
    ("delay-1e308", "nodes.2.link.delay_ms", 1e308, "nodes[2].link.delay_ms"),
    ("loss-nan", "nodes.2.link.loss_pct", float("nan"), "nodes[2].link.loss_pct"),
    ("busy-power-inf", "nodes.3.busy_power_w", float("inf"), "nodes[3].busy_power_w"),
    ("busy-power-bool", "nodes.3.busy_power_w", True, "nodes[3].busy_power_w"),
    ("node-id-10e30", "nodes.0.id", 10**30, "nodes[0].id"),
    ("node-id-bool", "nodes.0.id", False, "nodes[0].id"),
    ("uplink-inf", "switches.1.uplink.bandwidth_mbps", float("inf"), "switches[1].uplink.bandwidth_mbps"),
    ("seed-negative", "seed", -1, "seed"),
]


@pytest.mark.parametrize(("path", "value", "field"), [c[1:] for c in FLEET_VALUES], ids=[c[0] for c in FLEET_VALUES])
@pytest.mark.parametrize("command", ["fleet show", "simulate"])
def test_fleet_numbers(
    cli: Callable[..., Result], workdir: Path, command: str, path: str, value: Any, field: str
) -> None:
    """Class 2: non-finite, absurd, boolean and huge numbers in a fleet file."""
    fleet = write_yaml(workdir / "f.yaml", _fleet_with(path, value))
    argv = ["fleet", "show", str(fleet)] if command == "fleet show" else ["simulate", "--fleet", str(fleet)]
    assert_one_line_error(cli(*argv), field)


@pytest.fixture
def fleet_file(workdir: Path) -> Path:
    return write_yaml(workdir / "fleet.yaml", fleet_doc())


# Class 2 (negative seeds, non-finite flags) and class 3 (unbounded work): (id, argv, field).
# FLEET in argv is replaced by a valid fleet file, EXP by a valid experiment file using it.
FLAG_CASES: list[tuple[str, list[str], str]] = [
    ("simulate-seed-negative", ["simulate", "--fleet", "FLEET", "--seed", "-1"], "--seed"),
    ("fleet-generate-seed-negative", ["fleet", "generate", "--seed", "-1"], "--seed"),
    ("compare-seed-negative", ["compare", "--seed", "-1"], "--seed"),
    ("controller-seed-negative", ["controller", "serve", "--fleet", "FLEET", "--seed", "-1"], "--seed"),
    ("finetune-seed-negative", ["finetune", "--seed", "-1"], "--seed"),
    ("pretrain-seed-negative", ["pretrain", "--pretrain-seed", "-1"], "--pretrain-seed"),
    ("generate-seed-negative", ["generate", "--model", "none", "--seed", "-1"], "--seed"),
    ("run-set-seed-negative", ["run", "EXP", "--set", "run.seed=-1"], "run.seed"),
    ("simulate-lr-inf", ["simulate", "--fleet", "FLEET", "--lr", "inf"], "--lr"),
    ("simulate-lr-nan", ["simulate", "--fleet", "FLEET", "--lr", "nan"], "--lr"),
    ("simulate-model-mb-1e308", ["simulate", "--fleet", "FLEET", "--model-mb", "1e308"], "--model-mb"),
    ("simulate-compute-denormal", ["simulate", "--fleet", "FLEET", "--compute-s-per-mb", "5e-324"], "--compute-s"),
    ("simulate-target-loss-nan", ["simulate", "--fleet", "FLEET", "--target-loss", "nan"], "--target-loss"),
    ("controller-speed-inf", ["controller", "serve", "--fleet", "FLEET", "--speed", "inf"], "--speed"),
    ("fleet-generate-nodes-1e9", ["fleet", "generate", "--nodes", "1000000000"], "--nodes"),
    ("fleet-generate-per-gateway-1e9", ["fleet", "generate", "--nodes-per-gateway", "1000000000"], "--nodes-per"),
    ("compare-seeds-1e9", ["compare", "--seeds", "1000000000"], "--seeds"),
    ("compare-nodes-1e9", ["compare", "--nodes", "1000000000"], "--nodes"),
    ("simulate-epochs-100000", ["simulate", "--fleet", "FLEET", "--epochs", "100000"], "--epochs"),
    ("finetune-epochs-1e9", ["finetune", "--epochs", "1000000000"], "--epochs"),
    ("finetune-train-tokens-1e12", ["finetune", "--train-tokens", str(10**12)], "--train-tokens"),
    ("finetune-threads-1e6", ["finetune", "--threads", "1000000"], "--threads"),
    ("pretrain-threads-1e6", ["pretrain", "--threads", "1000000"], "--threads"),
    ("pretrain-steps-1e12", ["pretrain", "--pretrain-steps", str(10**12)], "--pretrain-steps"),
    ("generate-threads-1e6", ["generate", "--model", "none", "--threads", "1000000"], "--threads"),
    ("generate-max-new-tokens-1e12", ["generate", "--model", "none", "--max-new-tokens", str(10**12)], "--max-new"),
    ("evaluate-threads-1e6", ["evaluate", "--model", "none", "--data", "x.txt", "--threads", "1000000"], "--threads"),
    ("plan-max-vertices-1e12", ["plan", "jqodi-data1", "--jqodi-max-vertices", str(10**12)], "--jqodi-max-vertices"),
    ("plan-max-labels-1e12", ["plan", "jqodi-data1", "--jqodi-max-labels", str(10**12)], "--jqodi-max-labels"),
    ("run-set-epochs-huge", ["run", "EXP", "--set", "run.epochs=" + "9" * 5000], "--set"),
    ("run-set-deep", ["run", "EXP", "--set", "run.epochs=" + "[" * 100_000], "--set"),
    ("controller-duration-inf", ["controller", "serve", "--fleet", "FLEET", "--duration-s", "inf"], "--duration-s"),
    ("run-set-epochs-100000", ["run", "EXP", "--set", "run.epochs=100000"], "run.epochs"),
    ("run-set-lr-nan", ["run", "EXP", "--set", "run.learning_rate=nan"], "run.learning_rate"),
    ("run-set-nodes-1e9", ["run", "EXP", "--set", "fleet.nodes=1000000000"], "fleet.nodes"),
]


@pytest.mark.parametrize(("argv", "field"), [c[1:] for c in FLAG_CASES], ids=[c[0] for c in FLAG_CASES])
def test_flags(cli: Callable[..., Result], fleet_file: Path, argv: list[str], field: str) -> None:
    """Classes 2 and 3: bad numbers and unbounded work on the command line, refused before any work."""
    exp = fleet_file.with_name("exp.toml")
    exp.write_text('[run]\nepochs = 1\n[fleet]\nfile = "fleet.yaml"\n', encoding="utf-8")
    argv = [{"FLEET": str(fleet_file), "EXP": str(exp)}.get(a, a) for a in argv]
    assert_one_line_error(cli(*argv), field)


def test_planner_tiny_loss_delta_finishes(cli: Callable[..., Result], workdir: Path) -> None:
    """Class 3: ℓ = -1e-300 and no ``epochs`` used to spin forever in the least-K loop; now it plans."""
    doc = copy.deepcopy(instance_doc())
    doc["models"][0]["variants"][0]["epoch_loss_delta"] = {"expected": -1e-300, "robust": -1e-300}
    inst = write_yaml(workdir / "inst.yaml", doc)
    result = cli("plan", str(inst), "--method", "exact", "--out", str(workdir / "plan.json"))
    assert result.code == 0, result.err
    assert "Traceback" not in result.err
