"""Why the testbed cannot run: one clear reason for the root tests' skip message."""

from __future__ import annotations

import os
import shutil

from edgetune.testbed import system


def test_non_root_is_named(monkeypatch):
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    assert system.requirements_missing() == "the testbed needs root (network namespaces, Open vSwitch)"


def test_missing_tool_is_named(monkeypatch):
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    real = shutil.which
    monkeypatch.setattr(shutil, "which", lambda t: None if t == "ovs-vsctl" else real(t) or f"/usr/bin/{t}")
    why = system.requirements_missing()
    assert why is not None and "ovs-vsctl" in why and "install-testbed.sh" in why


def test_cli_bad_input_exits_2_without_output(tmp_path, fleet12):
    from edgetune.cli.main import main
    from edgetune.fleet.schema import save_fleet

    fleet = save_fleet(fleet12, tmp_path / "f.yaml")
    out = tmp_path / "run.json"
    assert main(["testbed", "run", "--fleet", str(fleet), "--policy", "xx", "--out", str(out)]) == 2
    assert main(["testbed", "run", "--fleet", str(fleet), "--name", "BAD!", "--out", str(out)]) == 2
    assert main(["testbed", "run", "--fleet", str(fleet), "--payload-scale", "0", "--out", str(out)]) == 2
    assert main(["testbed", "up", "--fleet", str(tmp_path / "missing.yaml")]) == 2
    assert not out.exists()
