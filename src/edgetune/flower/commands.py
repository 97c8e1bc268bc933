"""What edgetune tells Flower: environment, app folder, run config, connection, command lines.

Every Flower process runs with telemetry and update checks off (``FLWR_TELEMETRY_ENABLED=0``,
``FLWR_DISABLE_UPDATE_CHECK=1``) and without runtime dependency installation. Flower's polling:
``FLWR_SUPEREXEC_TASK_POLL_INTERVAL`` (how often the SuperNode's ``flower-superexec`` asks for a
ClientApp to launch; Flower's default 1 s, edgetune's :data:`TASK_POLL_S`) is the one 1.41 lets a
deployment set. The waits it writes into its code (an idle SuperNode asks the SuperLink for messages
every 3 s, waits for its ClientApp's reply in 0.5 s steps, and retries an object that is not uploaded
yet after 1 s, doubling to 10 s) are capped by starting the SuperNode through
:mod:`edgetune.flower.supernode_launch` (:func:`supernode_command` with ``poll_s``), which patches
those constants (:mod:`edgetune.flower.polls`) and then runs Flower's own ``flower-supernode``.

:func:`superlink_command`, :func:`supernode_command`, :func:`gateway_command` and
:func:`flwr_run_command` are the command lines :class:`edgetune.flower.deploy.Deployment` runs, and
the ones to run by hand or on real devices (docs/flower.md).
"""

from __future__ import annotations

import ipaddress
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

APP_NAME = "edgetune-flower"
CONNECTION = "edgetune"
LOOPBACK = "127.0.0.1"

FLOWER_ENV = {"FLWR_TELEMETRY_ENABLED": "0", "FLWR_DISABLE_UPDATE_CHECK": "1"}
#: Seconds between a SuperNode's ``flower-superexec`` polls for a ClientApp to launch (Flower: 1 s).
#: Each poll is an HTTP request the SuperNode serves: at 0.1 s, 8 idle SuperNodes and their superexecs
#: burnt ~0.4 of a core (bench_flower.py, 8 nodes); 0.5 s costs a fifth of that and <= 0.5 s a message.
TASK_POLL_S = 0.5
#: Flower's own polls that 1.41 does not let us set (seconds): :mod:`edgetune.flower.polls` caps them.
FLOWER_FIXED_POLLS_S = {"supernode_idle_pull": 3.0, "supernode_reply_wait": 0.5}


def flower_env(task_poll_s: float = TASK_POLL_S) -> dict[str, str]:
    """The environment edgetune gives every Flower process (telemetry off, the poll it may set)."""
    if not 0.01 <= task_poll_s <= 60:
        raise ValueError(f"task_poll_s must be in [0.01, 60] (Flower's bounds), got {task_poll_s}")
    return {**FLOWER_ENV, "FLWR_SUPEREXEC_TASK_POLL_INTERVAL": repr(float(task_poll_s))}


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    text = str(value).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{text}"'


def _toml_table(values: Mapping[str, Any]) -> str:
    return "".join(f"{k} = {_toml_value(v)}\n" for k, v in values.items())


def write_app(folder: str | Path, run_config: Mapping[str, Any]) -> Path:
    """Write the Flower app (a ``pyproject.toml`` naming edgetune's ServerApp and ClientApp).

    ``run_config`` gives the ``[tool.flwr.app.config]`` defaults (every key ``flwr run
    --run-config`` may override). The components are imported from the installed ``edgetune``
    package, so the FAB carries only this file.
    """
    root = Path(folder)
    root.mkdir(parents=True, exist_ok=True)
    text = (
        "[build-system]\n"
        'requires = ["hatchling"]\n'
        'build-backend = "hatchling.build"\n\n'
        "[project]\n"
        f'name = "{APP_NAME}"\n'
        'version = "0.1.0"\n'
        'description = "edgetune: Algorithm 1 (node elimination / all resources) on Flower"\n'
        'license = "Apache-2.0"\n'
        'dependencies = ["flwr==1.41.*"]\n\n'
        "[tool.flwr.app]\n"
        'publisher = "edgetune"\n\n'
        "[tool.flwr.app.components]\n"
        'serverapp = "edgetune.runs.flower:app"\n'
        'clientapp = "edgetune.flower.clientapp:app"\n\n'
        "[tool.flwr.app.config]\n" + _toml_table(run_config)
    )
    (root / "pyproject.toml").write_text(text, encoding="utf-8")
    return root


def write_run_config(path: str | Path, run_config: Mapping[str, Any]) -> Path:
    """A TOML file of run-config overrides for ``flwr run --run-config FILE``."""
    p = Path(path)
    p.write_text(_toml_table(run_config), encoding="utf-8")
    return p


def write_connection(flwr_home: str | Path, address: str, insecure: bool, root_certificates: str | None) -> Path:
    """``$FLWR_HOME/config.toml`` with one SuperLink connection named ``edgetune``."""
    home = Path(flwr_home)
    home.mkdir(parents=True, exist_ok=True)
    conn: dict[str, Any] = {"address": address}
    if insecure:
        conn["insecure"] = True
    if root_certificates:
        conn["root-certificates"] = str(Path(root_certificates).resolve())
    text = f'[superlink]\ndefault = "{CONNECTION}"\n\n[superlink.{CONNECTION}]\n' + _toml_table(conn)
    path = home / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


@dataclass(frozen=True)
class TLSFiles:
    """TLS material; ``None`` everywhere means ``--insecure`` (loopback only)."""

    ca_certfile: str | None = None
    server_certfile: str | None = None
    server_keyfile: str | None = None

    @property
    def insecure(self) -> bool:
        """No certificates given."""
        return self.server_certfile is None


def _bin(name: str) -> str:
    """A Flower console script next to this Python -- never another interpreter's (its ``flwr`` would
    run without edgetune and hide the real error)."""
    cand = Path(sys.executable).with_name(name)
    if not cand.is_file():
        raise FlowerMissing(f"{name} is not installed beside {sys.executable} (install edgetune's flower extra)")
    return str(cand)


class FlowerMissing(RuntimeError):
    """A Flower console script is missing from this interpreter's environment."""


def is_loopback(host: str) -> bool:
    """Whether ``host`` is a loopback address or ``localhost``."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def gateway_command(listen: str, upstream: str, tls: TLSFiles) -> list[str]:
    """The Fleet API gateway (:mod:`edgetune.flower.gateway`) for a SuperLink exposed off loopback."""
    cmd = [sys.executable, "-m", "edgetune.flower.gateway", "--listen", listen, "--upstream", upstream]
    if not tls.insecure:
        cmd += ["--certfile", str(tls.server_certfile), "--keyfile", str(tls.server_keyfile), "--upstream-tls"]
        if tls.ca_certfile:
            cmd += ["--upstream-ca", tls.ca_certfile]
    return cmd


def superlink_command(
    host: str = "127.0.0.1", port: int = 9093, tls: TLSFiles | None = None, node_auth: bool = False
) -> list[str]:
    """``flower-superlink`` for one HTTP port (Fleet, Control and Runtime APIs share it in 1.41)."""
    tls = tls or TLSFiles()
    cmd = [_bin("flower-superlink"), "--host", host, "--port", str(port), "--disable-runtime-dependency-installation"]
    if tls.insecure:
        cmd.append("--insecure")
    else:
        cmd += ["--ssl-certfile", str(tls.server_certfile), "--ssl-keyfile", str(tls.server_keyfile)]
        if tls.ca_certfile:
            cmd += ["--ssl-ca-certfile", tls.ca_certfile]
    if node_auth:
        cmd.append("--enable-supernode-auth")
    return cmd


def node_config_arg(node_config: Mapping[str, Any]) -> str:
    """``--node-config`` value: space-separated ``key=value`` with TOML values."""
    return " ".join(f"{k}={_toml_value(v)}" for k, v in node_config.items())


def supernode_command(
    superlink: str,
    node_config: Mapping[str, Any],
    runtime_port: int,
    tls: TLSFiles | None = None,
    auth_private_key: str | None = None,
    poll_s: float | None = None,
) -> list[str]:
    """``flower-supernode`` for one device (its Runtime API on ``127.0.0.1:runtime_port``).

    With ``poll_s`` the SuperNode starts through :mod:`edgetune.flower.supernode_launch`, which caps
    Flower's fixed waits at ``poll_s`` seconds and then runs the same ``flower-supernode`` entry point.
    """
    tls = tls or TLSFiles()
    cmd = [
        "--superlink",
        superlink,
        "--port",
        str(runtime_port),
        "--node-config",
        node_config_arg(node_config),
    ]
    cmd += ["--insecure"] if tls.ca_certfile is None else ["--root-certificates", tls.ca_certfile]
    if auth_private_key:
        cmd += ["--auth-supernode-private-key", auth_private_key]
    if poll_s is None:
        return [_bin("flower-supernode"), *cmd]
    from edgetune.flower.supernode_launch import command

    return command(sys.executable, poll_s, cmd)


def flwr_run_command(app_dir: str | Path, run_config_file: str | Path) -> list[str]:
    """``flwr run APP edgetune --run-config FILE`` (the connection comes from ``$FLWR_HOME``)."""
    return [_bin("flwr"), "run", str(app_dir), CONNECTION, "--run-config", str(run_config_file)]
