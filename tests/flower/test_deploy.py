"""The loopback deployment's processes and the ``serve`` / ``join`` commands' input checks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edgetune.cli.main import main
from edgetune.fleet.generate import generate_fleet
from edgetune.fleet.schema import save_fleet


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
