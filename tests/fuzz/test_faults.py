"""Issue 16 classes 8-9 reproducers at the CLI: ``--faults`` (every engine's fault spec) and the northbound server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edgetune.cli.main import main


@pytest.fixture(scope="module")
def fleet_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("fleet") / "f.yaml"
    assert main(["fleet", "generate", "--nodes", "4", "--seed", "1", "--out", str(path)]) == 0
    return path


def _one_line_error(err: str, field: str) -> None:
    assert err.startswith(f"edgetune: error: {field}=") and err.count("\n") == 1 and "Traceback" not in err


@pytest.mark.parametrize(
    ("faults", "field"),
    [
        ("3:crash", "--faults"),
        ("²:crash@1", "--faults"),
        ("1:crash@" + "9" * 5000, "--faults"),
        ("1:slow@2xnan", "--faults"),
        ("1:slow@2xinf", "--faults"),
        ("1:slow@2x0", "--faults"),
        ("1:down@3-1", "--faults"),
        ("1:down@1-,1:crash@2", "--faults"),
        ("9:crash@1", "faults.events"),  # not in the fleet
        ("1:crash@4", "faults.events"),  # after the last epoch
        ("1:crash@1," * 2000, "--faults"),
    ],
)
def test_bad_faults_one_line_exit_2_no_output(
    fleet_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], faults: str, field: str
) -> None:
    out = tmp_path / "r.json"
    code = main(
        ["simulate", "--fleet", str(fleet_file), "--epochs", "3", "--faults", faults, "--out", str(out), "--quiet"]
    )
    _one_line_error(capsys.readouterr().err, field)
    assert code == 2 and not out.exists()


def test_faults_in_an_experiment_file_and_set(
    tmp_path: Path, fleet_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    exp = tmp_path / "exp.toml"
    exp.write_text(
        f'[run]\npolicy = "ar"\nepochs = 3\n[fleet]\nfile = "{fleet_file}"\n[faults]\nevents = "0:crash@2"\n'
    )
    assert main(["run", str(exp), "--out", str(tmp_path / "o"), "--quiet"]) == 0
    rec = json.loads((tmp_path / "o" / "record.json").read_text())
    assert [sorted(e["failed"]) for e in rec["epochs"]] == [[], ["0"], []]
    assert rec["epochs"][2]["active"] == [0, 1, 2, 3]  # AR asks it again the epoch after
    code = main(["run", str(exp), "--out", str(tmp_path / "o2"), "--set", "faults.events=0:crash", "--quiet"])
    _one_line_error(capsys.readouterr().err, "faults.events")
    assert code == 2 and not (tmp_path / "o2" / "record.json").exists()


def test_a_fault_never_aborts_the_run(fleet_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    faults = "0:crash@1,1:down@1-,2:slow@1-x1000,3:down@2"
    assert main(["simulate", "--fleet", str(fleet_file), "--policy", "ar", "--epochs", "4", "--faults", faults,
                 "--out", str(out), "--quiet"]) == 0  # fmt: skip
    rec = json.loads(out.read_text())
    assert rec["status"] == "complete" and len(rec["epochs"]) == 4
    assert [sorted(e["failed"]) for e in rec["epochs"]] == [["0", "1"], ["1", "3"], ["1"], ["1"]]
