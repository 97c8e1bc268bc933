"""The Flower app folder, the command lines and the ``serve`` / ``join`` commands' input checks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edgetune.cli.main import main
from edgetune.fleet.generate import generate_fleet
from edgetune.fleet.schema import save_fleet
from edgetune.flower.deploy import (
    TLSFiles,
    node_config_arg,
    superlink_command,
    supernode_command,
    write_app,
    write_connection,
)
from edgetune.runs.flower import run_config, spec_from_run_config
from edgetune.runs.spec import spec_from_dict


def test_app_folder_is_a_valid_flower_app_whose_config_is_the_run_spec(tmp_path: Path) -> None:
    """Flower reads the app's config (nested TOML tables, flattened by Flower) back into the same spec."""
    from flwr.cli.config_utils import load_and_validate
    from flwr.common.config import flatten_dict

    spec = spec_from_dict(
        {
            "run": {"engine": "flower", "epochs": 5},
            "policy": {"rejoin": True},
            "flower": {"straggler_ratio": 2.0},
            "fleet": {"file": str(tmp_path / "f.yaml")},
        }
    )
    app = write_app(tmp_path / "app", run_config(spec, tmp_path / "out"))
    config, _warnings = load_and_validate(app / "pyproject.toml")
    flwr_app = config["tool"]["flwr"]["app"]
    assert flwr_app["components"] == {
        "serverapp": "edgetune.runs.flower:app",
        "clientapp": "edgetune.flower.clientapp:app",
    }
    assert spec_from_run_config(flatten_dict(flwr_app["config"])) == (spec, tmp_path / "out")


def test_command_lines_are_loopback_insecure_without_runtime_installs(tmp_path: Path) -> None:
    link = superlink_command("127.0.0.1", 9093)
    assert "--disable-runtime-dependency-installation" in link and "--insecure" in link
    node = supernode_command("127.0.0.1:9093", {"partition-id": 2, "node-id": 7, "compute": 12.5}, 9200)
    assert node[node.index("--node-config") + 1] == "partition-id=2 node-id=7 compute=12.5"
    assert "--insecure" in node and "--allow-runtime-dependency-installation" not in node
    tls = TLSFiles("ca.pem", "server.pem", "server.key")
    secure = superlink_command("0.0.0.0", 9093, tls, node_auth=True)
    assert "--insecure" not in secure and "--enable-supernode-auth" in secure
    dev = supernode_command("link:9093", {"partition-id": 0}, 9094, tls, auth_private_key="k")
    assert dev[dev.index("--root-certificates") + 1] == "ca.pem" and "--auth-supernode-private-key" in dev
    assert node_config_arg({"name": "a b"}) == 'name="a b"'
    cfg = write_connection(tmp_path, "127.0.0.1:9093", True, None).read_text()
    assert 'default = "edgetune"' in cfg and "insecure = true" in cfg


@pytest.fixture
def fleet_file(tmp_path: Path) -> Path:
    return save_fleet(generate_fleet(3, "normal", np.random.default_rng(0), seed=0), tmp_path / "fleet.yaml")


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (["--policy", "zz"], "--policy"),
        (["--weights", "0.5,0.5,0,0,0.5"], "--weights"),
        (["--model", "huge"], "--model"),
        (["--set", "flower.round_timeout_s=-1"], "round-timeout-s"),
        (["--set", "run.engine=simulated"], "run.engine"),
        (["--backend", "gpu"], "--backend"),
        (["--epochs", "0"], "--epochs"),
        (["--local-nodes", "9"], "--local-nodes"),
        (["--straggler-ratio", "0.5"], "--straggler-ratio"),
        (["--ssl-certfile", "c.pem"], "--ssl-certfile"),
    ],
)
def test_serve_rejects_bad_input_before_starting_anything(
    fleet_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], field: str
) -> None:
    out = tmp_path / "run"
    argv = ["flower", "serve", "--fleet", str(fleet_file), "--out", str(out), "--workdir", str(tmp_path / "w")]
    assert main([*argv, *args]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and field in err
    assert not out.exists() and not (tmp_path / "w").exists()


def test_serve_and_join_print_their_flower_commands(fleet_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["flower", "serve", "--fleet", str(fleet_file), "--print-commands"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1 + 3 + 1
    assert all(
        line.startswith("FLWR_TELEMETRY_ENABLED=0 FLWR_DISABLE_UPDATE_CHECK=1 FLWR_SUPEREXEC_TASK_POLL_INTERVAL=0.5 ")
        for line in lines
    )
    assert main(["flower", "join", "--node-id", "2", "--superlink", "10.0.0.1:9093", "--print-command"]) == 0
    text = capsys.readouterr().out
    trainer, line = text.splitlines()
    assert "edgetune.flower.trainer --dir" in trainer
    assert "trainer-dir=" in line and "FLWR_TELEMETRY_ENABLED=0" in line
    assert "-m edgetune.flower.supernode_launch --poll-s 0.5 -- --superlink 10.0.0.1:9093" in line
    assert "partition-id=2 node-id=2" in line and line.endswith("--max-wait-time 600.0")


def test_stop_reaches_descendants_in_sessions_of_their_own(tmp_path: Path) -> None:
    """Flower detaches flower-superexec and flwr-serverapp into new sessions; stop() must still end them."""
    import sys
    import time

    from edgetune.flower.deploy import Deployment, _alive, _descendants

    dep = Deployment(tmp_path / "w")
    code = "import subprocess, time; subprocess.Popen(['sleep', '300'], start_new_session=True); time.sleep(300)"
    proc = dep._start("parent", [sys.executable, "-c", code], "parent")
    end = time.monotonic() + 20
    while len(_descendants([proc.popen.pid])) < 1 and time.monotonic() < end:
        time.sleep(0.05)
    tree = _descendants([proc.popen.pid])
    assert tree and all(_alive(pid) for pid in tree)
    dep.stop(grace_s=2)
    assert proc.popen.poll() is not None and not any(_alive(pid) for pid in tree)
