"""The command line starts without torch: ``--help``, flags and ``simulate`` never import it (issue 17)."""

from __future__ import annotations

import subprocess
import sys

PROBE = """
import sys
from edgetune.cli.main import main
rc = main(sys.argv[1:])
assert rc == 0, rc
print("torch" in sys.modules)
"""


def _imports_torch(*argv: str) -> bool:
    out = subprocess.run([sys.executable, "-c", PROBE, *argv], capture_output=True, text=True, timeout=300, check=True)
    return out.stdout.strip().splitlines()[-1] == "True"


def test_simulate_runs_without_importing_torch(tmp_path):
    fleet, out = tmp_path / "fleet.json", tmp_path / "r.json"
    assert not _imports_torch("fleet", "generate", "--nodes", "6", "--out", str(fleet))
    assert not _imports_torch("simulate", "--fleet", str(fleet), "--epochs", "2", "--out", str(out))
    assert out.exists()


def test_the_probe_sees_torch_when_a_command_needs_it(tmp_path):
    # the check can fail: a command that does build the in-process engine imports torch
    assert _imports_torch("generate", "--model", "tiny", "--prompt", "a", "--max-new-tokens", "2")
