"""``edgetune dashboard``: bad input is one line and exit 2; a real server process stops on Ctrl-C."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from edgetune.cli.main import main


def _bad(argv: list[str], capsys: pytest.CaptureFixture[str], expect: str) -> None:
    with pytest.raises(SystemExit) as exc:
        raise SystemExit(main(argv))
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert err.startswith("edgetune: error: ") and expect in err, err


def test_bad_input(ne_run: tuple[Path, dict[str, Any]], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = str(ne_run[0])
    _bad(["dashboard", str(tmp_path / "none")], capsys, f"RUN_DIR='{tmp_path / 'none'}': no such folder")
    (tmp_path / "empty").mkdir()
    _bad(["dashboard", str(tmp_path / "empty")], capsys, "not a run folder: no record.json")
    _bad(["dashboard", good, "--port", "70000"], capsys, "--port=70000: must be an integer in 0..65535")
    _bad(["dashboard", good, "--port", "-1"], capsys, "--port=-1")
    _bad(["dashboard", good, "--port", "eighty"], capsys, "--port")
    _bad(["dashboard", good, good, good, good, good], capsys, "RUN_DIR=5: give 1 to 4 run folders")
    _bad(["dashboard", good, "--host", "no such host.invalid", "--port", "0"], capsys, "--host='no such host.invalid'")
    fifo = shutil.copytree(ne_run[0], tmp_path / "fifo")
    (fifo / "record.json").unlink()
    os.mkfifo(fifo / "record.json")
    _bad(["dashboard", str(fifo)], capsys, "record.json: not a regular file")


@pytest.mark.slow
def test_serves_until_ctrl_c(ne_run: tuple[Path, dict[str, Any]]) -> None:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(
            filter(None, [str(Path(__file__).parents[2] / "src"), os.environ.get("PYTHONPATH")])
        ),
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "edgetune.cli.main", "dashboard", str(ne_run[0]), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline().strip()
        assert first.startswith("edgetune dashboard: http://127.0.0.1:"), first
        url = first.split(": ", 1)[1]
        with urllib.request.urlopen(url + "api/runs", timeout=10) as resp:
            assert json.loads(resp.read())["runs"][0]["epochs_done"] == 10
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=20)
        assert proc.returncode == 0, err
        assert "stopped" in out
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.mark.slow
def test_run_with_dashboard(tmp_path: Path) -> None:
    """``edgetune run --dashboard`` serves the folder before the run writes it, prints the URL, and
    (stdin not a terminal) stops the server when the run ends."""
    exp = tmp_path / "exp.toml"
    exp.write_text('[run]\nengine = "simulated"\npolicy = "ne"\nepochs = 4\n[fleet]\nnodes = 6\n', encoding="utf-8")
    out = tmp_path / "out"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(
            filter(None, [str(Path(__file__).parents[2] / "src"), os.environ.get("PYTHONPATH")])
        ),
    }
    proc = subprocess.run(
        [sys.executable, "-m", "edgetune.cli.main", "run", str(exp), "--out", str(out), "--dashboard", "--quiet"],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "dashboard: http://127.0.0.1:" in proc.stderr
    assert json.loads((out / "record.json").read_text())["status"] == "complete"
