"""The ``flwr-clientapp`` fork server: Flower's entry point, forked per message with the caller's streams."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from edgetune.flower.forkserver import SHIM, SOCKET, prepare_dir, server_command, wait_ready


@pytest.mark.slow
def test_script_runs_flowers_clientapp_in_a_fork_and_falls_back_when_the_server_is_gone(tmp_path: Path) -> None:
    folder = tmp_path / "fs"
    bindir = prepare_dir(folder)
    shim = bindir / SHIM
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700 and os.access(shim, os.X_OK)
    server = subprocess.Popen(server_command(folder, os.getpid()))
    try:
        assert wait_ready(folder, 120)
        assert stat.S_IMODE((folder / SOCKET).stat().st_mode) == 0o600
        # Flower's own argument parser answers through the script's stdout (the streams travel with the request)
        ok = subprocess.run([str(shim), "--help"], capture_output=True, text=True, timeout=60, check=False)
        assert ok.returncode == 0 and ok.stdout.startswith("usage: flwr-clientapp"), ok.stderr
        # ... and its exit status comes back: argparse's 2 for an unknown flag
        bad = subprocess.run([str(shim), "--no-such-flag"], capture_output=True, text=True, timeout=60, check=False)
        assert bad.returncode == 2 and "flwr-clientapp: error:" in bad.stderr
        assert "unreachable" not in ok.stderr + bad.stderr  # both served by the fork server
    finally:
        server.terminate()
        server.wait(timeout=10)
    gone = subprocess.run([str(shim), "--help"], capture_output=True, text=True, timeout=120, check=False)
    assert gone.returncode == 0 and gone.stdout.startswith("usage: flwr-clientapp")
    assert "fork server" in gone.stderr and "unreachable" in gone.stderr


_CLIENT = (
    "from flwr.supercore.runtime import RuntimeHttpClient; "
    "RuntimeHttpClient.from_server_address("
    "'127.0.0.1:9', insecure=True, root_certificates=None, interceptors=[]).close()"
)


def _new_modules(warm: bool) -> set[str]:
    """Modules a ClientApp's Runtime API client imports in a process that did what the server does first."""
    code = (
        "import sys, flwr.supernode.cli.flwr_clientapp, edgetune.flower.clientapp\n"
        "from edgetune.flower.forkserver import warm_imports\n"
        + ("warm_imports()\n" if warm else "")
        + f"before = set(sys.modules)\n{_CLIENT}\n"
        "print(' '.join(sorted(set(sys.modules) - before)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    return set(out.stdout.split())


@pytest.mark.slow
def test_the_server_pays_the_clientapps_lazy_transport_imports_so_forked_children_import_nothing() -> None:
    cold = _new_modules(warm=False)
    assert {"httpcore", "h11"} <= cold  # what every forked ClientApp used to import (0.55 s of 1.03 s)
    assert _new_modules(warm=True) == set()
