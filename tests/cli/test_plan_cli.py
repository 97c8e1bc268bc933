"""``edgetune plan``: plan JSON, infeasible exit 0, malformed exit 2 without output, compare + plot."""

from __future__ import annotations

import json

import yaml

from edgetune.cli.main import main
from edgetune.planner.scenarios import build_scenario_mapping


def _write(tmp_path, doc, name="inst.yaml"):
    p = tmp_path / name
    p.write_text(yaml.safe_dump(doc))
    return p


def test_plan_json(tmp_path, capsys):
    out = tmp_path / "plan.json"
    assert main(["plan", "jqodi-data1", "--method", "optimum", "--out", str(out)]) == 0
    plan = json.loads(out.read_text())
    assert plan["method"] == "optimum" and plan["feasible"] and plan["reason"] is None
    assert plan["epochs"] == len(plan["schedule"]) == 26 and plan["time_s"] < 180
    assert "optimum: lenet 8-bit" in capsys.readouterr().out


def test_infeasible_exit_0(tmp_path):
    doc = build_scenario_mapping("jqodi-data1")
    doc["t_max_s"] = 1.0
    out = tmp_path / "plan.json"
    assert main(["plan", str(_write(tmp_path, doc)), "--method", "exact", "--out", str(out)]) == 0
    plan = json.loads(out.read_text())
    assert plan["feasible"] is False and "T_max" in plan["reason"] and plan["schedule"] == []


def test_malformed_exit_2_no_file(tmp_path, capsys):
    doc = build_scenario_mapping("jqodi-data1")
    doc["edge_servers"][1]["snr"] = -3
    out = tmp_path / "plan.json"
    assert main(["plan", str(_write(tmp_path, doc)), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "edge_servers[1].snr=-3" in err[0]
    assert not out.exists()
    assert main(["plan", "no-such-scenario", "--out", str(out)]) == 2
    assert main(["plan", "jqodi-data1", "--method", "nope", "--out", str(out)]) == 2
    assert main(["plan", "jqodi-data1", "--plot", str(tmp_path / "x.png")]) == 2
    assert not out.exists() and not (tmp_path / "x.png").exists()


def test_jqodi_bound_exit_1(tmp_path, capsys):
    out = tmp_path / "plan.json"
    assert main(["plan", "jqodi-data1", "--method", "jqodi", "--out", str(out)]) == 1
    assert "exceeds 200000 vertices" in capsys.readouterr().err and not out.exists()


def test_compare_table_and_plot(tmp_path, capsys):
    table, png, inf = tmp_path / "t.md", tmp_path / "f.png", tmp_path / "inf.json"
    code = main(
        [
            "plan",
            "jqodi-data2",
            "--compare",
            "--plot",
            str(png),
            "--out",
            str(table),
            "--inference",
            "--inference-out",
            str(inf),
        ]
    )
    assert code == 0
    text = table.read_text()
    for m in ("jqodi", "jqodi-stationary", "exact", "optimum", "full", "minimal"):
        assert f"| {m} |" in text
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "pi5+rtx4090" in json.dumps(json.loads(inf.read_text()))
    assert "| optimum |" in capsys.readouterr().out
