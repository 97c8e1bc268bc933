"""Flower runs through the runs layer: the run config spells the run spec; the ServerApp writes the run folder."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from flwr.common.config import flatten_dict, unflatten_dict
from flwr.supercore.task_identity import TaskIdentity
from hypothesis import given, settings
from hypothesis import strategies as st

from edgetune.cli.main import main
from edgetune.errors import InputError
from edgetune.fleet.generate import generate_fleet
from edgetune.fleet.schema import save_fleet
from edgetune.flower.clientapp import app as client_app
from edgetune.network.northbound import NorthboundServer
from edgetune.runs.flower import ERROR_FILE, run_config, run_on_grid, run_status, spec_from_run_config
from edgetune.runs.spec import RunSpec, load_spec, spec_from_dict
from tests.conftest import StubNorthbound
from tests.flower.fakegrid import FakeClock, FakeGrid


@pytest.fixture(autouse=True)
def _task_identity() -> None:
    """``flwr.app.Message`` needs a run id, node id and task id (the ServerApp process sets them)."""
    TaskIdentity.run_id = 1
    TaskIdentity.node_id = 1
    TaskIdentity.task_id = 1


def _spec(**sections: dict[str, Any]) -> RunSpec:
    return spec_from_dict({"run": {"engine": "flower"}, **sections})


def test_every_setting_round_trips_through_the_run_config(tmp_path: Path) -> None:
    spec = _spec(
        run={"engine": "flower", "policy": "ar", "epochs": 7, "seed": 2**40 + 1, "learning_rate": 1e-5},
        fleet={"nodes": 9, "setup": "limited", "seed": 4},
        policy={"weights": [0.1, 0.2, 0.3, 0.15, 0.25], "utopia": [1.0, 0.9, 1.0, 0.1 + 0.2, 1.0], "rejoin": True},
        network={"variation": {"bandwidth_sigma": 0.3}},
        northbound={"url": "http://10.0.0.1:8181", "grace_s": 12.5},
        task={"model": "tiny", "lora": True, "local_steps": 3, "partition": "dirichlet", "alpha": 0.25},
        flower={"straggler_ratio": 2.0, "train_time": "modelled", "work_s": 12.0, "backend": "synthetic"},
    )
    config = run_config(spec, tmp_path / "out")
    assert all(isinstance(v, bool | int | float | str) for v in config.values())  # what Flower's run config holds
    assert config["policy.weights"] == "0.1,0.2,0.3,0.15,0.25" and config["deploy.out"] == str(tmp_path / "out")
    # Flower flattens nested tables the same way: its unflatten/flatten leave the config as it is.
    assert flatten_dict(unflatten_dict(dict(config))) == config
    assert spec_from_run_config(config) == (spec, tmp_path / "out")


@settings(max_examples=40, deadline=None)
@given(utopia=st.lists(st.floats(0, 1), min_size=5, max_size=5), lr=st.floats(1e-9, 1.0), ratio=st.floats(1, 1000))
def test_floats_round_trip_exactly(utopia: list[float], lr: float, ratio: float) -> None:
    spec = _spec(
        run={"engine": "flower", "learning_rate": lr}, policy={"utopia": utopia}, flower={"straggler_ratio": ratio}
    )
    assert spec_from_run_config(run_config(spec, "/tmp/x"))[0] == spec


def test_relative_fleet_file_is_made_absolute(tmp_path: Path) -> None:
    spec = _spec(fleet={"file": "fleet.yaml"})
    back, _ = spec_from_run_config(run_config(spec, tmp_path / "o", base_dir=tmp_path))
    assert back.fleet.file == str(tmp_path / "fleet.yaml")


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"policy.weights": "0.5,0.5,0,0,0.5"}, "policy.weights"),
        ({"flower.straggler_ratio": 0.5}, "flower.straggler_ratio"),
        ({"flower.train_time": "guessed"}, "flower.train_time"),
        ({"task.local_steps": "3"}, "task.local_steps"),
        ({"deploy.progress": "x"}, "deploy.progress"),
        ({"simulated.model_bytes": 1.0}, "simulated"),
    ],
)
def test_bad_run_config_names_the_dotted_key(tmp_path: Path, change: dict[str, Any], field: str) -> None:
    config = {**run_config(_spec(), tmp_path / "o"), **change}
    with pytest.raises(InputError) as exc:
        spec_from_run_config(config)
    assert exc.value.field == field
    del config["deploy.out"]
    with pytest.raises(InputError, match=r"deploy\.out"):
        spec_from_run_config({k: v for k, v in config.items() if not k.startswith(("deploy", "simulated"))})


def test_serverapp_run_writes_the_run_folder_of_every_engine(tmp_path: Path) -> None:
    """The Flower run goes through runs.execute.drive: record.json (status), spec.toml, fleet.yaml, epochs."""
    fleet = generate_fleet(4, "normal", np.random.default_rng(3), seed=3)
    fleet_path = save_fleet(fleet, tmp_path / "fleet.yaml")
    stub = StubNorthbound({n.id: (10.0 + n.id, 20.0 + 3 * n.id, 0.5) for n in fleet.nodes})
    with NorthboundServer(stub) as nb:
        spec = _spec(
            run={"engine": "flower", "epochs": 3, "learning_rate": 0.2},
            fleet={"file": str(fleet_path)},
            task={"block_len": 16, "micro_batch": 8, "optimizer": "sgd", "lora": False},
            northbound={"url": nb.url},
            flower={"backend": "synthetic", "train_time": "modelled", "connect_timeout_s": 5, "round_timeout_s": 30},
        )
        grid = FakeGrid(client_app, {9000 + k: {"partition-id": k, "node-id": n.id} for k, n in enumerate(fleet.nodes)})
        clock = FakeClock()
        out = tmp_path / "run"
        spec2, folder = spec_from_run_config(run_config(spec, out))  # as the ServerApp reads it
        from edgetune.flower.engine import FlowerEngine

        class Timed(FlowerEngine):  # the fake grid answers at once: a fake clock keeps the test fast
            def __init__(self, *args: Any, **kwargs: Any) -> None:
                super().__init__(*args, **{**kwargs, "clock": clock, "sleep": clock.sleep})

        record = run_on_grid(grid, spec2, folder, Timed)
    assert run_status(out) == "complete"
    doc = json.loads((out / "record.json").read_text())
    assert doc == record.to_json() and doc["status"] == "complete"
    assert [len(e["active"]) for e in doc["epochs"]] == [4, 3, 2]  # NE drops one node per epoch
    lines = [json.loads(x) for x in (out / "epochs.jsonl").read_text().splitlines()]
    assert lines == doc["epochs"]
    assert len((out / "epochs.csv").read_text().splitlines()) == 4
    assert load_spec(out / "spec.toml")[0] == spec
    assert doc["config"]["flower"]["straggler_min_s"] == 5.0 and doc["engine"]["task_backend"] == "synthetic"
    assert (out / "fleet.yaml").exists() and not (out / ERROR_FILE).exists()


def test_serverapp_failure_before_the_loop_leaves_error_txt(tmp_path: Path) -> None:
    spec = _spec(fleet={"file": str(tmp_path / "missing.yaml")})
    with pytest.raises(InputError):
        run_on_grid(FakeGrid(client_app, {}), spec, tmp_path / "run")
    assert run_status(tmp_path / "run") == "error"
    assert "missing.yaml" in (tmp_path / "run" / ERROR_FILE).read_text()


@pytest.mark.slow
def test_edgetune_run_runs_a_flower_spec_on_the_simulation_runtime(tmp_path: Path) -> None:
    """``run.engine = "flower"`` in ``edgetune run``: Flower's simulation runtime, metrics from a controller."""
    fleet = generate_fleet(4, "normal", np.random.default_rng(0), seed=0)
    save_fleet(fleet, tmp_path / "fleet.yaml")
    stub = StubNorthbound({n.id: (10.0 + n.id, 20.0, 0.5) for n in fleet.nodes})
    with NorthboundServer(stub) as srv:
        exp = tmp_path / "exp.toml"
        exp.write_text(
            f'[run]\nengine = "flower"\nepochs = 2\n[fleet]\nfile = "fleet.yaml"\n'
            f'[northbound]\nurl = "{srv.url}"\n'
            '[task]\nmodel = "tiny"\nlora = false\npretrain_steps = 2\nblock_len = 64\n'
            'train_tokens = 1024\nval_tokens = 256\n[flower]\nbackend = "synthetic"\n'
        )
        assert main(["run", str(exp), "--out", str(tmp_path / "o"), "--quiet"]) == 0
    rec = json.loads((tmp_path / "o" / "record.json").read_text())
    assert rec["status"] == "complete" and [len(e["active"]) for e in rec["epochs"]] == [4, 1]  # Eq. 1: 3 per epoch
    assert rec["config"]["run"]["engine"] == "flower" and rec["time_base"] == "wall"
    assert len((tmp_path / "o" / "epochs.jsonl").read_text().splitlines()) == 2
    assert stub.reads >= 2  # the scored metrics came from the controller
