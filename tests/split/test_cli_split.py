"""The loop closed on a tiny configuration: profile -> planner loader/plan -> finetune-split."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
import yaml

from edgetune.cli.main import main
from edgetune.split.data import fashion_mnist_dir

needs_fashion = pytest.mark.skipif(
    not (fashion_mnist_dir() / "train-images-idx3-ubyte.gz").is_file(), reason="needs dataset-fashion-mnist"
)
TINY = [
    "--models", "lenet", "--bits", "4,32", "--seeds", "2", "--epochs", "4", "--prefix", "2",
    "--n-train", "64", "--n-val", "64", "--margin", "1.0",
]  # fmt: skip


@pytest.mark.slow
@needs_fashion
def test_profile_plan_execute(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    inst = tmp_path / "inst.yaml"
    cache = ["--cache-dir", str(tmp_path / "cache")]
    assert main(["profile", *TINY, *cache, "--out", str(inst), "--quiet"]) == 0
    data = yaml.safe_load(inst.read_text())
    assert set(data) == {"t_max_s", "l_max", "cloud", "device", "edge_servers", "models"} | {
        "samples_per_epoch",  # the planner's optional activation traffic (Eq. 9a-10a)
        "eval_samples_per_epoch",
    }
    assert (data["samples_per_epoch"], data["eval_samples_per_epoch"]) == (64, 64)
    model = data["models"][0]
    assert model["name"] == "lenet" and model["loss"] > 0
    for var in model["variants"]:
        assert len(var["layers"]) == 5 and var["partitions"] == [1, 2, 3, 4]
        assert var["epochs"]["robust"] >= var["epochs"]["expected"] >= 1
        assert var["epoch_loss_delta"]["expected"] < 0
    meta = json.loads((tmp_path / "inst.yaml.meta.json").read_text())
    assert meta["host_mac_per_s"]["lenet"] > 0
    assert main(["estimate", *TINY, *cache, "--quiet", "--json", str(tmp_path / "t.json")]) == 0
    assert "Table VI/VII analog" in capsys.readouterr().out

    if importlib.util.find_spec("edgetune.planner.instance") is None:
        pytest.skip("planner not available")
    from edgetune.planner.instance import load_instance

    load_instance(inst)  # the planner's own loader accepts the profiled instance
    plan = tmp_path / "plan.json"
    assert main(["plan", str(inst), "--method", "exact", "--out", str(plan)]) == 0
    p = json.loads(plan.read_text())
    if not p["feasible"]:
        pytest.skip(f"plan infeasible: {p['reason']}")
    res = tmp_path / "res.json"
    assert main(["finetune-split", "--plan", str(plan), "--instance", str(inst), "--out", str(res)]) == 0
    out = json.loads(res.read_text())
    assert out["epochs"] == p["epochs"] == len(out["per_epoch"])
    assert out["measured"]["energy_j"] > 0 and out["measured"]["time_s"] > 0
    assert "predicted" in capsys.readouterr().out


def test_finetune_split_rejects_infeasible_plan(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps({"method": "exact", "feasible": False, "reason": "deadline", "schedule": []}))
    inst = tmp_path / "inst.json"
    inst.write_text("{}")
    (tmp_path / "inst.json.meta.json").write_text("{}")
    out = tmp_path / "res.json"
    assert main(["finetune-split", "--plan", str(plan), "--instance", str(inst), "--out", str(out)]) == 2
    assert "plan.feasible" in capsys.readouterr().err
    assert not out.exists()


def test_profile_rejects_bad_bits(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "i.yaml"
    code = main(["profile", "--bits", "3", "--out", str(out), "--cache-dir", str(tmp_path), "--quiet"])
    assert code == 2 and "bits" in capsys.readouterr().err
    assert not out.exists()
