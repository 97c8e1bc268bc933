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
    assert main(["plan", "jqodi-data1", "--jqodi-max-labels", "1", "--out", str(out)]) == 2
    assert main(["plan", "jqodi-data1", "--jqodi-max-vertices", "0", "--out", str(out)]) == 2
    folder = tmp_path / "cmp"
    assert main(["plan", "jqodi-data1", "--compare", "--inference-out", str(out), "--out", str(folder)]) == 2
    assert not out.exists() and not folder.exists()
    out.mkdir()
    assert main(["plan", "jqodi-data1", "--out", str(out)]) == 2  # a folder where a plan file is expected


def test_jqodi_literal_bound_exit_1(tmp_path, capsys):
    out = tmp_path / "plan.json"
    assert main(["plan", "jqodi-data1", "--method", "jqodi-literal", "--out", str(out)]) == 1
    assert "exceeds 200000 vertices" in capsys.readouterr().err and not out.exists()


def test_jqodi_plans_paper_scenario_deterministically(tmp_path, capsys):
    """The headline method plans Data 1 (issue 14); two runs give the same file but for ``timings``."""
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    assert main(["plan", "jqodi-testbed", "--method", "jqodi", "--out", str(a)]) == 0
    assert main(["plan", "jqodi-data1", "--method", "jqodi", "--out", str(b)]) == 0
    pa, pb = json.loads(a.read_text()), json.loads(b.read_text())
    assert pa["feasible"] and pa["epochs"] == 29 and pa["time_s"] < 180
    assert set(pa.pop("timings")) == {"solve_time_s"} and set(pb.pop("timings")) == {"solve_time_s"}
    assert pa == pb


def test_help_lists_scenarios(capsys):
    from edgetune.planner.scenarios import SCENARIOS

    try:
        main(["plan", "--help"])
    except SystemExit as exc:
        assert exc.code == 0
    out = " ".join(capsys.readouterr().out.split())
    for name in SCENARIOS:
        assert name in out


def test_compare_writes_folder(tmp_path, capsys, monkeypatch):
    folder = tmp_path / "cmp"
    assert main(["plan", "jqodi-data2", "--compare", "--out", str(folder), "--inference", "--samples", "500"]) == 0
    text = (folder / "table.md").read_text()
    for m in ("jqodi", "jqodi-literal", "jqodi-stationary", "exact", "optimum", "full", "minimal"):
        assert f"| {m} |" in text
    assert "12091 J" in text and "Marks: [P] predicted" in text  # the paper column and the legend
    for png in ("fig7c.png", "fig9.png"):
        assert (folder / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "pi5+rtx4090" in json.dumps(json.loads((folder / "inference.json").read_text()))
    assert "| optimum |" in capsys.readouterr().out
    # without --inference only the table and Fig. 7(c); the default folder is runs/plan/<scenario>
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    assert main(["plan", "jqodi-testbed", "--compare"]) == 0
    assert sorted(p.name for p in (cwd / "runs/plan/jqodi-testbed").iterdir()) == ["fig7c.png", "table.md"]
