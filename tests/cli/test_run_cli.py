"""``edgetune run``: experiment files, replay, bad files, SIGINT -> interrupted record + exit 130, resume."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from edgetune.cli.main import main

MINIMAL = """[run]
engine = "simulated"   # simulated | inprocess | flower | testbed
policy = "ne"
epochs = 10
seed = 11

[fleet]                # or: file = "fleet.yaml"
nodes = 17
setup = "limited"
seed = 5
"""


def test_minimal_file_runs_as_written_and_replays(tmp_path: Path) -> None:
    exp = tmp_path / "exp.toml"
    exp.write_text(MINIMAL)
    assert main(["run", str(exp), "--out", str(tmp_path / "a"), "--quiet", "--tensorboard"]) == 0
    a = tmp_path / "a"
    assert json.loads((a / "record.json").read_text())["status"] == "complete"
    assert any((a / "tensorboard").iterdir())
    assert main(["run", str(a / "spec.toml"), "--out", str(tmp_path / "b"), "--quiet"]) == 0
    assert (a / "record.json").read_bytes() == (tmp_path / "b" / "record.json").read_bytes()
    # replaying into the run's own folder would overwrite it
    assert main(["run", str(a / "spec.toml"), "--out", str(a), "--quiet"]) == 2


def test_set_overrides_and_fleet_file_relative_to_the_spec(tmp_path: Path) -> None:
    exp = tmp_path / "exp.toml"
    exp.write_text(MINIMAL)
    assert (
        main(
            [
                "run",
                str(exp),
                "--out",
                str(tmp_path / "a"),
                "--quiet",
                "--set",
                "run.epochs=3",
                "--set",
                "run.policy=ar",
            ]
        )
        == 0
    )
    rec = json.loads((tmp_path / "a" / "record.json").read_text())
    assert len(rec["epochs"]) == 3 and rec["policy"] == "ar"
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "fleet.yaml").write_bytes((tmp_path / "a" / "fleet.yaml").read_bytes())
    (tmp_path / "sub" / "e.toml").write_text('[run]\nepochs = 2\n[fleet]\nfile = "fleet.yaml"\n')
    assert main(["run", str(tmp_path / "sub" / "e.toml"), "--out", str(tmp_path / "b"), "--quiet"]) == 0
    assert len(json.loads((tmp_path / "b" / "record.json").read_text())["nodes"]) == 17


@pytest.mark.parametrize(
    ("content", "field"),
    [
        (b'[run]\nepochs = "ten"\n', "run.epochs"),
        (b"[policy]\nweights = [1, 1, 1, 1, 1]\n", "policy.weights"),
        (b"[run]\nepochs = nan\n", "run.epochs"),
        (b"[run]\nepochs = 99999999999\n", "run.epochs"),
        (b"[fleet]\nnodes = 3\nsize = 4\n", "fleet.size"),
        (b"[fleet]\nfile = 'missing.yaml'\n", "fleet.file"),
        (b"[run\n", "experiment"),
        (b"\xff\xfe[run]\n", "experiment"),
        (b"[flower]\nstraggler_min_s = 1.0\n", "flower"),
    ],
)
def test_bad_experiment_files_one_line_exit_2_no_output(
    content: bytes, field: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    exp = tmp_path / "bad.toml"
    exp.write_bytes(content)
    out = tmp_path / "out"
    assert main(["run", str(exp), "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"edgetune: error: {field}="), err
    assert not out.exists()


def test_fifo_and_huge_files_are_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fifo = tmp_path / "pipe.toml"
    os.mkfifo(fifo)
    assert main(["run", str(fifo), "--out", str(tmp_path / "o"), "--quiet"]) == 2
    huge = tmp_path / "huge.toml"
    huge.write_bytes(b"#" * 2_000_000)
    assert main(["run", str(huge), "--out", str(tmp_path / "o"), "--quiet"]) == 2
    errs = capsys.readouterr().err.strip().splitlines()
    assert "not a regular file" in errs[0] and "larger than" in errs[1]
    assert not (tmp_path / "o").exists()


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_leaves_an_interrupted_record_and_exit_130(sig: signal.Signals, tmp_path: Path) -> None:
    exp = tmp_path / "long.toml"
    exp.write_text('[run]\nepochs = 5000\n[fleet]\nnodes = 3000\nsetup = "normal"\n')
    out = tmp_path / "run"
    proc = subprocess.Popen(
        [sys.executable, "-m", "edgetune.cli.main", "run", str(exp), "--out", str(out), "--quiet"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 120
        lines = out / "epochs.jsonl"
        while time.monotonic() < deadline:
            if lines.exists() and len(lines.read_bytes().splitlines()) >= 2:
                break
            time.sleep(0.2)
        proc.send_signal(sig)
        assert proc.wait(timeout=60) == 130
    finally:
        if proc.poll() is None:
            proc.kill()
    rec = json.loads((out / "record.json").read_text())
    assert rec["status"] == "interrupted" and len(rec["epochs"]) >= 2
    streamed = [json.loads(x) for x in (out / "epochs.jsonl").read_text().splitlines()]
    assert streamed == rec["epochs"] or streamed == rec["epochs"][:-1]  # each line whole
    assert "--resume" in proc.stderr.read().decode()  # type: ignore[union-attr]
