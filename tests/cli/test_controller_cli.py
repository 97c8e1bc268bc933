"""``edgetune controller serve``: a real process serving the northbound API on loopback."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from edgetune.cli.main import main


def test_controller_serves_fleet_metrics(tmp_path: Path) -> None:
    fleet = tmp_path / "f.yaml"
    assert main(["fleet", "generate", "--nodes", "5", "--seed", "3", "--out", str(fleet)]) == 0
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "edgetune.cli.main",
            "controller",
            "serve",
            "--fleet",
            str(fleet),
            "--port",
            "0",
            "--poll-interval-s",
            "0.2",
            "--speed",
            "10",
            "--duration-s",
            "30",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        url = line.split(" at ")[1].split("/v1/")[0]
        assert url.startswith("http://127.0.0.1:")
        time.sleep(0.5)
        doc = json.loads(urllib.request.urlopen(url + "/v1/metrics", timeout=5).read())
        assert doc["source"] == "simulated"
        assert sorted(doc["paths"]) == ["0", "1", "2", "3", "4"]
        for path in doc["paths"].values():
            assert path["bandwidth_mbps"] > 0 and path["delay_ms"] > 0 and path["samples"] >= 1
    finally:
        proc.terminate()  # only the process this test started, by its handle
        proc.wait(timeout=10)
