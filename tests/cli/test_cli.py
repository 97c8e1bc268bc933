"""The command line: happy paths and bad input (one line naming field and value, exit 2, no output)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from edgetune.cli.main import main


@pytest.fixture
def fleet_file(tmp_path: Path) -> Path:
    path = tmp_path / "fleet.yaml"
    assert main(["fleet", "generate", "--nodes", "12", "--setup", "limited", "--seed", "1", "--out", str(path)]) == 0
    return path


def test_generate_then_simulate(fleet_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "run.json"
    assert (
        main(["simulate", "--fleet", str(fleet_file), "--policy", "ne", "--out", str(out), "--quiet", "--seed", "2"])
        == 0
    )
    rec = json.loads(out.read_text())
    assert rec["policy"] == "ne" and len(rec["epochs"]) == 10
    assert [len(e["active"]) for e in rec["epochs"]] == [12, 11, 10, 9, 8, 7, 6, 5, 4, 3]
    assert rec["time_base"] == "virtual"
    assert main(["fleet", "show", str(fleet_file)]) == 0
    assert "12 nodes" in capsys.readouterr().out


def _bad(argv: list[str], capsys: pytest.CaptureFixture[str], expect: str, out: Path) -> None:
    with pytest.raises(SystemExit) as exc:
        code = main(argv)
        raise SystemExit(code)
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert expect in err, err
    assert not out.exists()


def test_bad_inputs(fleet_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "never.json"
    base = ["simulate", "--fleet", str(fleet_file), "--out", str(out), "--quiet"]
    _bad([*base, "--policy", "best"], capsys, "--policy='best'", out)
    _bad([*base, "--weights", "0.5,0.5,0.5,0,0"], capsys, "--weights='0.5,0.5,0.5,0,0'", out)
    _bad([*base, "--weights", "0.2,0.2"], capsys, "--weights", out)
    _bad([*base, "--utopia", "1,1,1,1,2"], capsys, "--utopia", out)
    _bad([*base, "--epochs", "0"], capsys, "--epochs=0", out)
    _bad([*base, "--epochs", "ten"], capsys, "--epochs", out)
    _bad([*base, "--ewma-alpha", "1.5"], capsys, "--ewma-alpha=1.5", out)
    _bad(["simulate", "--fleet", str(tmp_path / "nope.yaml"), "--out", str(out)], capsys, "--fleet", out)

    doc = yaml.safe_load(fleet_file.read_text())
    doc["nodes"][4]["link"]["bandwidth_mbps"] = -3.0
    neg = tmp_path / "neg.yaml"
    neg.write_text(yaml.safe_dump(doc))
    _bad(["simulate", "--fleet", str(neg), "--out", str(out)], capsys, "nodes[4].link.bandwidth_mbps=-3.0", out)
    doc["nodes"] = doc["nodes"][:2]
    del doc["nodes"][1]["compute"]
    inc = tmp_path / "incomplete.yaml"
    inc.write_text(yaml.safe_dump(doc))
    _bad(["simulate", "--fleet", str(inc), "--out", str(out)], capsys, "nodes[1].compute", out)
    (tmp_path / "garbage.yaml").write_text("{{{: nope")
    _bad(["simulate", "--fleet", str(tmp_path / "garbage.yaml"), "--out", str(out)], capsys, "malformed YAML", out)

    fout = tmp_path / "f2.yaml"
    _bad(["fleet", "generate", "--nodes", "5", "--setup", "huge", "--out", str(fout)], capsys, "--setup='huge'", fout)
    _bad(["fleet", "generate", "--nodes", "-5", "--out", str(fout)], capsys, "--nodes=-5", fout)
    cdir = tmp_path / "cmp"
    _bad(["compare", "--nodes", "12,x", "--out", str(cdir)], capsys, "--nodes='12,x'", cdir)
    _bad(["compare", "--setups", "normal,cloudy", "--out", str(cdir)], capsys, "--setups='cloudy'", cdir)


def test_console_script_exit_code(tmp_path: Path) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "edgetune.cli.main",
            "simulate",
            "--fleet",
            str(tmp_path / "x.yaml"),
            "--out",
            str(tmp_path / "r.json"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "--fleet" in proc.stderr


def test_compare_small_sweep(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "cmp"
    argv = [
        "compare",
        "--nodes",
        "12,16",
        "--setups",
        "limited",
        "--seeds",
        "2",
        "--epochs",
        "4",
        "--out",
        str(out),
        "--quiet",
    ]
    assert main(argv) == 0
    for name in ("runs.csv", "summary.csv", "summary.md", "fig2.png"):
        assert (out / name).stat().st_size > 0
    rows = (out / "runs.csv").read_text().splitlines()
    assert len(rows) == 1 + 2 * 2 * 2  # header + nodes x seeds x policies
    assert (out / "fig2.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "| limited | 12 |" in capsys.readouterr().out
