"""The compact run record (issue 17) reads back to the same document as the JSON record."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from edgetune.errors import InputError
from edgetune.fleet.schema import Fleet
from edgetune.orchestrator import OrchestratorConfig
from edgetune.orchestrator.record import (
    COMPACT_FROM_NODES,
    EpochRecord,
    RunRecord,
    arrays_path,
    load_record,
    writes_compact,
)
from edgetune.runs.sweep import simulate


@pytest.mark.parametrize("policy", ["ne", "ar"])
def test_compact_reads_back_as_the_json_record(tmp_path: Path, fleet12: Fleet, policy: str) -> None:
    rec = simulate(fleet12, policy, 3, OrchestratorConfig(epochs=4))
    rec.save(tmp_path / "full.json", "json")
    rec.save(tmp_path / "small.json", "compact")
    header = json.loads((tmp_path / "small.json").read_text())
    assert header["compact"]["arrays"] == "small.arrays.npz" and header["nodes"] is None
    assert all(ep["metrics"] is None and ep["scores"] is None for ep in header["epochs"])
    assert arrays_path(tmp_path / "small.json").exists()
    full = load_record(tmp_path / "full.json")
    back = load_record(tmp_path / "small.json")
    assert back == full
    assert json.dumps(back) == json.dumps(full)  # same key order too


def test_compact_keeps_empty_epochs_and_hand_values(tmp_path: Path) -> None:
    rec = RunRecord(policy="ne", config={"epochs": 2}, nodes=[5, 1])
    rec.epochs.append(
        EpochRecord(
            1, 0.0, 2.5, [5, 1], {5: {"a": 1.5, "b": -0.0}, 1: {"a": 1e300, "b": 2.0}}, {1: 0.25, 5: 1.0}, [1], 3.0
        )
    )
    rec.epochs.append(EpochRecord(2, 2.5, 4.0, [], {}, {}, [], None, failed={5: "crashed"}, note="no node replied"))
    rec.energy = {"total_j": 3.0, "per_node_j": {"5": 1.0, "1": 2.0}}
    rec.save(tmp_path / "r.json", "compact")
    got = load_record(tmp_path / "r.json")
    assert got == json.loads(json.dumps(rec.to_json()))
    assert got["epochs"][0]["metrics"] == {"5": {"a": 1.5, "b": -0.0}, "1": {"a": 1e300, "b": 2.0}}
    assert list(got["epochs"][0]["scores"]) == ["1", "5"]


def test_auto_switches_by_node_count() -> None:
    assert not writes_compact("auto", COMPACT_FROM_NODES - 1)
    assert writes_compact("auto", COMPACT_FROM_NODES)
    assert writes_compact("compact", 1) and not writes_compact("json", 10**6)
    with pytest.raises(InputError, match="record-format"):
        writes_compact("parquet", 1)


def test_arrays_are_plain_numpy(tmp_path: Path, fleet12: Fleet) -> None:
    simulate(fleet12, "ne", 3, OrchestratorConfig(epochs=3)).save(tmp_path / "r.json", "compact")
    with np.load(tmp_path / "r.arrays.npz", allow_pickle=False) as z:
        assert z["nodes"].tolist() == fleet12.node_ids
        assert z["e1_metrics"].shape == (12, 5) and z["e1_metrics"].dtype == np.float64
