"""Root-only testbed fixtures: skip with the reason when this machine cannot run the testbed."""

from __future__ import annotations

import os
import subprocess

import pytest


def testbed_unavailable() -> str | None:
    """Why the real testbed cannot run here (None when it can)."""
    from edgetune.testbed.system import requirements_missing

    return requirements_missing()


def snapshot() -> dict[str, set[str]]:
    """Namespaces, root links, OVS bridges and edgetune testbed processes on the machine now."""
    from edgetune.testbed.system import list_bridges, list_links, list_netns

    out = subprocess.run(["ps", "-eo", "pid=,args="], capture_output=True, text=True, check=False).stdout
    procs = {
        line.split(None, 1)[0]
        for line in out.splitlines()
        if "edgetune.testbed" in line or "os_ken.cmd.manager" in line
    }
    procs.discard(str(os.getpid()))
    return {"netns": set(list_netns()), "links": set(list_links()), "bridges": set(list_bridges()), "procs": procs}


@pytest.fixture
def need_testbed() -> None:
    why = testbed_unavailable()
    if why is not None:
        pytest.skip(f"testbed unavailable: {why}")
