"""Derived epoch views: node states, Eq. 2 normalisation, Eq. 3 scores, ranks against the cut, energy."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from edgetune.dashboard.runfolder import load_fleet_file
from edgetune.dashboard.views import epoch_energy_j, epoch_views, node_states, policy_config, score_rows
from edgetune.fleet.schema import fleet_from_dict
from edgetune.selection.base import PolicyConfig


def _m(c: float, b: float, d: float, loss: float, t: float) -> dict[str, float]:
    return {"compute": c, "bandwidth_mbps": b, "delay_ms": d, "loss_pct": loss, "train_time_s": t}


EPOCH: dict[str, Any] = {
    "epoch": 1,
    "start_s": 0.0,
    "end_s": 10.0,
    "active": [0, 1, 2],
    "metrics": {"0": _m(10, 1, 5, 0, 2), "1": _m(30, 3, 5, 1, 4), "2": _m(20, 2, 10, 0.5, 3)},
    "scores": {"0": 0.6, "1": 0.6, "2": 0.4},
    "eliminated": [2],
    "failed": {},
    "rejoined": [],
}


def test_score_rows_hand_checked() -> None:
    out = score_rows(EPOCH, PolicyConfig())
    rows = {r["node"]: r for r in out["rows"]}
    # C, B benefits; D, L, T costs; flat D between nodes 0 and 1 still spans to node 2.
    assert rows[0]["normalized"] == pytest.approx([0, 0, 1, 1, 1])
    assert rows[1]["normalized"] == pytest.approx([1, 1, 1, 0, 0])
    assert rows[2]["normalized"] == pytest.approx([0.5, 0.5, 0, 0.5, 0.5])
    # Eq. 2 with w = 0.2 each and utopia 1: PerfScore = s = mean of the normalised values.
    assert [rows[i]["score_eq3"] for i in (0, 1, 2)] == pytest.approx([0.6, 0.6, 0.4])
    # Ties: the larger id is weaker, so node 0 ranks above node 1.
    assert [r["node"] for r in out["rows"]] == [0, 1, 2]
    assert [rows[i]["rank"] for i in (0, 1, 2)] == [1, 2, 3]
    assert [rows[i]["kept"] for i in (0, 1, 2)] == [True, True, False]
    assert out["cut_rank"] == 2 and out["cut_score"] == 0.6 and out["n_scored"] == 3
    assert out["score_check_max_abs"] == pytest.approx(0.0, abs=1e-12)


def test_score_rows_skips_malformed_metrics() -> None:
    bad = {**EPOCH, "metrics": {**EPOCH["metrics"], "x": _m(1, 1, 1, 1, 1), "3": {"compute": "fast"}}}
    out = score_rows(bad, PolicyConfig())
    assert out["bad_rows"] == 2 and len(out["rows"]) == 3


def test_node_states_over_epochs() -> None:
    epochs = [
        {"eliminated": [3], "failed": {}, "rejoined": []},
        {"eliminated": [1], "failed": {"1": "timeout"}, "rejoined": []},
        {"eliminated": [], "failed": {}, "rejoined": [3]},
    ]
    s = node_states([0, 1, 2, 3], epochs)
    assert s[0] == {0: "active", 1: "active", 2: "active", 3: "eliminated"}
    assert s[1] == {0: "active", 1: "failed", 2: "active", 3: "eliminated"}
    assert s[2] == {0: "active", 1: "eliminated", 2: "active", 3: "rejoined"}


def test_epoch_energy_hand_checked() -> None:
    link = {"bandwidth_mbps": 10.0, "delay_ms": 1.0}
    fleet = fleet_from_dict(
        {
            "orchestrator": {"switch": "agg", "link": link},
            "switches": [
                {"id": "agg", "kind": "aggregation"},
                {"id": "gw", "kind": "gateway", "parent": "agg", "uplink": link},
            ],
            "nodes": [
                {"id": 0, "compute": 1.0, "gateway": "gw", "link": link, "idle_power_w": 2.5, "busy_power_w": 8.0},
                {"id": 1, "compute": 1.0, "gateway": "gw", "link": link, "idle_power_w": 2.5, "busy_power_w": 8.0},
            ],
        }
    )
    ep = {
        "start_s": 5.0,
        "end_s": 15.0,
        "active": [0],
        "metrics": {"0": _m(1, 1, 1, 0, 4.0)},
        "upload_bytes": 2_000_000,
    }
    # node 0: 8 W * 4 s + 2.5 W * 6 s + 0.1 J/MB * 2 MB = 47.2 J; node 1 idles 10 s: 25 J.
    assert epoch_energy_j(ep, fleet) == pytest.approx(72.2)
    assert epoch_energy_j(ep, None) is None


def test_policy_config_falls_back_on_bad_weights() -> None:
    assert policy_config({"config": {"weights": [1, 0, 0, 0, 0]}}).weights == (1.0, 0.0, 0.0, 0.0, 0.0)
    assert policy_config({"config": {"weights": [2, 2]}}) == PolicyConfig()
    assert policy_config({}) == PolicyConfig()
    spec_cfg = {"config": {"run": {"epochs": 3}, "policy": {"weights": [0, 0, 0, 0, 1], "utopia": [0, 0, 0, 0, 1]}}}
    assert policy_config(spec_cfg) == PolicyConfig(weights=(0, 0, 0, 0, 1.0), utopia=(0, 0, 0, 0, 1.0))


def test_views_agree_with_recorded_ne_run(ne_run: tuple[Path, dict[str, Any]]) -> None:
    folder, record = ne_run
    fleet = load_fleet_file(folder / "fleet.yaml")
    views = epoch_views(record, fleet, record["epochs"])
    out: set[int] = set()
    for ep, v in zip(record["epochs"], views, strict=True):
        view = v["view"]
        # Eq. 2-3 recomputed from the recorded metrics gives the recorded scores.
        assert view["score_check_max_abs"] < 1e-12
        assert {r["node"] for r in view["rows"] if not r["kept"]} == set(ep["eliminated"])
        assert view["cut_rank"] == len(ep["active"]) - len(ep["eliminated"])
        out |= set(ep["eliminated"])
        assert {int(i) for i, s in view["states"].items() if s == "eliminated"} == out
        assert view["n_active"] == len(ep["active"])
    # 12 nodes, 10 epochs: Eq. 1 eliminates floor(11/9) = 1 per epoch but the last.
    assert [len(e["eliminated"]) for e in record["epochs"]] == [1] * 9 + [0]
    # The per-epoch estimates cover the whole run and stay below its total (which adds the downloads).
    total = sum(v["view"]["energy_j"] for v in views)
    assert 0 < total <= record["energy"]["total_j"]


def test_epoch_energy_matches_the_runs_layer(ne_run: tuple[Path, dict[str, Any]]) -> None:
    # The runs layer logs the same per-epoch estimate to TensorBoard (runs.execute.epoch_energy_j).
    from edgetune.orchestrator.record import EpochRecord
    from edgetune.runs.execute import epoch_energy_j as runs_energy_j

    folder, record = ne_run
    fleet = load_fleet_file(folder / "fleet.yaml")
    for ep in record["epochs"]:
        rec = EpochRecord(
            epoch=ep["epoch"],
            start_s=ep["start_s"],
            end_s=ep["end_s"],
            active=ep["active"],
            metrics={int(k): v for k, v in ep["metrics"].items()},
            scores={int(k): v for k, v in ep["scores"].items()},
            eliminated=ep["eliminated"],
            loss=ep["loss"],
            upload_bytes=ep["upload_bytes"],
        )
        assert epoch_energy_j(ep, fleet) == pytest.approx(runs_energy_j(fleet, rec), rel=1e-12)
