"""Running system commands (``ip``, ``ovs-vsctl``, ``tc``, ``nft``, ``ethtool``) and checking the host.

Every command is an argument list (never a shell string) and can be run inside a namespace with
``ip netns exec``. :func:`requirements_missing` says, in one line, why the testbed cannot run here;
tests use it to skip with that reason.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Sequence


class TestbedError(RuntimeError):
    """A system command failed (the message holds the command and its stderr)."""

    __test__ = False  # not a pytest class


def run(
    cmd: Sequence[str], netns: str = "", check: bool = True, input_text: str | None = None, timeout_s: float = 30.0
) -> str:
    """Run ``cmd`` (inside ``netns`` when given); return stdout.

    Raises
    ------
    TestbedError
        When ``check`` and the command exits non-zero.
    """
    full = ["ip", "netns", "exec", netns, *cmd] if netns else list(cmd)
    proc = subprocess.run(full, capture_output=True, text=True, input=input_text, timeout=timeout_s, check=False)
    if check and proc.returncode != 0:
        raise TestbedError(f"`{' '.join(full)}` failed ({proc.returncode}): {proc.stderr.strip()}")
    return proc.stdout


def list_netns() -> list[str]:
    """Names of all network namespaces (``ip netns list``)."""
    out = run(["ip", "netns", "list"], check=False)
    return [line.split()[0] for line in out.splitlines() if line.strip()]


def list_links() -> list[str]:
    """Names of all links in the root namespace."""
    out = run(["ip", "-o", "link", "show"], check=False)
    names = []
    for line in out.splitlines():
        parts = line.split(":", 2)
        if len(parts) >= 2:
            names.append(parts[1].strip().split("@", 1)[0])
    return names


def list_bridges() -> list[str]:
    """Names of all OVS bridges (empty when OVS is not running)."""
    if shutil.which("ovs-vsctl") is None:
        return []
    out = run(["ovs-vsctl", "--timeout=5", "list-br"], check=False)
    return [b for b in out.split() if b]


def ovs_running() -> bool:
    """Whether ``ovs-vsctl show`` answers."""
    if shutil.which("ovs-vsctl") is None:
        return False
    return subprocess.run(["ovs-vsctl", "--timeout=3", "show"], capture_output=True, check=False).returncode == 0


def requirements_missing() -> str | None:
    """Why the testbed cannot run on this machine, or ``None`` when it can."""
    if os.geteuid() != 0:
        return "the testbed needs root (network namespaces, Open vSwitch)"
    for tool in ("ip", "tc", "nft", "ethtool", "ovs-vsctl"):
        if shutil.which(tool) is None:
            return f"`{tool}` is not installed (run scripts/install-testbed.sh)"
    try:
        import os_ken  # noqa: F401
    except ImportError:
        return "os-ken is not installed (run scripts/install-testbed.sh)"
    if not ovs_running():
        return "Open vSwitch is not running (run scripts/install-testbed.sh)"
    return None
