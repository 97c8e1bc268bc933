"""Runs through the runs layer: replay, interruption and resume, failures, the run folder."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pytest

from edgetune.errors import InputError
from edgetune.orchestrator.engine import EngineFailure, RoundResult
from edgetune.orchestrator.loop import LoopState
from edgetune.runs.execute import RunFailed, resume, run
from edgetune.runs.spec import spec_from_dict

SIM = {
    "run": {"engine": "simulated", "policy": "ne", "epochs": 10, "seed": 11},
    "fleet": {"nodes": 17, "setup": "limited", "seed": 5},
}
# The in-process engine on the tiny preset with a fixed cost per token: a deterministic clock.
INPROC = {
    "run": {"engine": "inprocess", "policy": "ne", "epochs": 6, "seed": 3},
    "fleet": {"nodes": 5, "setup": "normal", "seed": 2},
    "task": {"model": "tiny", "pretrain_steps": 2, "train_tokens": 1280, "val_tokens": 256},
    "inprocess": {"host_seconds_per_token": 1e-4, "threads": 1},
}


def _stop_after(k: int):  # type: ignore[no-untyped-def]
    def hook(state: LoopState) -> None:
        if state.epochs_done == k:
            raise KeyboardInterrupt

    return hook


def test_run_folder_streams_epochs_and_replays_byte_identical(tmp_path: Path) -> None:
    spec = spec_from_dict(SIM)
    rec = run(spec, tmp_path / "a")
    a = tmp_path / "a"
    assert {p.name for p in a.iterdir()} >= {
        "record.json",
        "spec.toml",
        "fleet.yaml",
        "epochs.jsonl",
        "epochs.csv",
        "checkpoint",
    }
    lines = (a / "epochs.jsonl").read_text().splitlines()
    assert [json.loads(x) for x in lines] == json.loads((a / "record.json").read_text())["epochs"]
    assert len((a / "epochs.csv").read_text().splitlines()) == 1 + 10
    assert rec.status == "complete" and json.loads((a / "record.json").read_text())["status"] == "complete"
    from edgetune.runs.spec import load_spec

    again, base = load_spec(a / "spec.toml")
    assert again == spec
    run(again, tmp_path / "b", base_dir=base)
    assert (a / "record.json").read_bytes() == (tmp_path / "b" / "record.json").read_bytes()


@pytest.mark.parametrize("engine", ["simulated", pytest.param("inprocess", marks=pytest.mark.slow)])
def test_interrupt_after_epoch_4_then_resume_equals_a_straight_run(
    engine: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    if engine == "inprocess":
        request.getfixturevalue("offline_corpora")
    spec = spec_from_dict(SIM if engine == "simulated" else INPROC)
    straight = run(spec, tmp_path / "straight").to_json()
    with pytest.raises(KeyboardInterrupt):
        run(spec, tmp_path / "cut", after_epoch=_stop_after(4))
    partial = json.loads((tmp_path / "cut" / "record.json").read_text())
    assert partial["status"] == "interrupted" and len(partial["epochs"]) == 4
    assert partial["epochs"] == straight["epochs"][:4]
    assert len((tmp_path / "cut" / "epochs.jsonl").read_text().splitlines()) == 4
    resumed = resume(tmp_path / "cut").to_json()
    if engine == "simulated":
        assert (tmp_path / "cut" / "record.json").read_bytes() == (tmp_path / "straight" / "record.json").read_bytes()
    else:  # everything algorithmic is identical; only wall-clock timings differ
        for key in (
            "epochs",
            "pre_training_loss",
            "final_loss",
            "completion_time_s",
            "energy",
            "bytes_moved",
            "config",
            "status",
            "nodes",
        ):
            assert resumed[key] == straight[key], key
    lines = [json.loads(x) for x in (tmp_path / "cut" / "epochs.jsonl").read_text().splitlines()]
    assert lines == straight["epochs"]


def test_corrupt_or_missing_checkpoint_is_refused_in_one_line(tmp_path: Path) -> None:
    spec = spec_from_dict(SIM)
    with pytest.raises(KeyboardInterrupt):
        run(spec, tmp_path / "cut", after_epoch=_stop_after(2))
    ck = tmp_path / "cut" / "checkpoint" / "state.pkl"
    ck.write_bytes(ck.read_bytes()[:-10] + b"0123456789")
    with pytest.raises(InputError, match="corrupt"):
        resume(tmp_path / "cut")
    ck.unlink()
    with pytest.raises(InputError, match="no checkpoint"):
        resume(tmp_path / "cut")
    with pytest.raises(InputError, match="not a run folder"):
        resume(tmp_path / "nowhere")


def test_engine_failure_ends_as_failed_with_the_partial_record(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from edgetune.engines.simulated import SimulatedEngine

    real = SimulatedEngine.train_round

    def flaky(self: SimulatedEngine, epoch: int, active: Sequence[int]) -> RoundResult:
        if epoch == 3:
            raise EngineFailure("every node lost")
        return real(self, epoch, active)

    monkeypatch.setattr(SimulatedEngine, "train_round", flaky)
    with pytest.raises(RunFailed) as exc:
        run(spec_from_dict(SIM), tmp_path / "f")
    doc = json.loads((tmp_path / "f" / "record.json").read_text())
    assert doc["status"] == "failed" and len(doc["epochs"]) == 2 and "every node lost" in doc["error"]
    assert exc.value.record is not None and exc.value.record.status == "failed"
    assert doc["completion_time_s"] == doc["epochs"][-1]["end_s"] and doc["energy"]["total_j"] > 0
