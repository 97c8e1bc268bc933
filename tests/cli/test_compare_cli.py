"""``edgetune compare --policies --engine``: the per-run columns, the policy table, and bad input."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from edgetune.cli.main import main
from tests.cli.test_cli import _bad


def test_compare_with_policies_writes_the_issue_12_columns(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "cmp"
    argv = [
        "compare",
        "--policies",
        "ne,ar,adaptive",
        "--nodes",
        "12",
        "--setups",
        "normal",
        "--seeds",
        "2",
        "--epochs",
        "4",
        "--target-loss",
        "1.5",
        "--out",
        str(out),
        "--quiet",
    ]
    assert main(argv) == 0
    rows = list(csv.DictReader((out / "runs.csv").open()))
    assert [r["policy"] for r in rows] == ["ne", "ar", "adaptive"] * 2
    for r in rows:
        assert float(r["completion_time_s"]) > 0 and 0 < float(r["data_fraction"]) <= 1
        assert r["final_loss"] == r["time_to_target_s"] == ""  # the simulated engine has no loss
    assert {float(r["data_fraction"]) for r in rows if r["policy"] == "ar"} == {1.0}
    lines = (out / "runs.jsonl").read_text().splitlines()  # streamed as the sweep goes
    assert len(lines) == 6 and json.loads(lines[0])["policy"] == "ne"
    assert "target_loss = 1.5" in (out / "base_spec.toml").read_text()
    table = json.loads((out / "policies.json").read_text())
    assert [t["policy"] for t in table] == ["ne", "ar", "adaptive"]
    assert table[1]["gains_nothing_pct"] == 100.0  # AR against itself
    assert (out / "aims.json").is_file() and not (out / "ttt.png").exists()  # no loss: no figure
    assert "| `adaptive` | 2 |" in capsys.readouterr().out


def test_compare_bad_policies_and_engine_flags(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cdir = tmp_path / "cmp"
    _bad(["compare", "--policies", "ne,best", "--out", str(cdir)], capsys, "--policies='best'", cdir)
    _bad(["compare", "--policies", ",", "--out", str(cdir)], capsys, "--policies=','", cdir)
    _bad(["compare", "--target-loss", "-1", "--out", str(cdir)], capsys, "--target-loss=-1", cdir)
    # a simulated-workload flag with the in-process engine names the section it belongs to
    _bad(["compare", "--engine", "inprocess", "--model-mb", "5", "--out", str(cdir)], capsys, "simulated", cdir)
    _bad(["compare", "--engine", "inprocess", "--seeds", "900", "--out", str(cdir)], capsys, "--seeds=900", cdir)
