"""The Flower app folder, run config, connection and command lines edgetune gives Flower."""

from __future__ import annotations

from pathlib import Path

from edgetune.flower.commands import (
    TLSFiles,
    node_config_arg,
    superlink_command,
    supernode_command,
    write_app,
    write_connection,
)
from edgetune.runs.flower import run_config, spec_from_run_config
from edgetune.runs.spec import spec_from_dict


def test_app_folder_is_a_valid_flower_app_whose_config_is_the_run_spec(tmp_path: Path) -> None:
    """Flower reads the app's config (nested TOML tables, flattened by Flower) back into the same spec."""
    from flwr.cli.config_utils import load_and_validate
    from flwr.common.config import flatten_dict

    spec = spec_from_dict(
        {
            "run": {"engine": "flower", "epochs": 5},
            "policy": {"rejoin": True},
            "flower": {"straggler_ratio": 2.0},
            "fleet": {"file": str(tmp_path / "f.yaml")},
        }
    )
    app = write_app(tmp_path / "app", run_config(spec, tmp_path / "out"))
    config, _warnings = load_and_validate(app / "pyproject.toml")
    flwr_app = config["tool"]["flwr"]["app"]
    assert flwr_app["components"] == {
        "serverapp": "edgetune.runs.flower:app",
        "clientapp": "edgetune.flower.clientapp:app",
    }
    assert spec_from_run_config(flatten_dict(flwr_app["config"])) == (spec, tmp_path / "out")


def test_command_lines_are_loopback_insecure_without_runtime_installs(tmp_path: Path) -> None:
    link = superlink_command("127.0.0.1", 9093)
    assert "--disable-runtime-dependency-installation" in link and "--insecure" in link
    node = supernode_command("127.0.0.1:9093", {"partition-id": 2, "node-id": 7, "compute": 12.5}, 9200)
    assert node[node.index("--node-config") + 1] == "partition-id=2 node-id=7 compute=12.5"
    assert "--insecure" in node and "--allow-runtime-dependency-installation" not in node
    tls = TLSFiles("ca.pem", "server.pem", "server.key")
    secure = superlink_command("0.0.0.0", 9093, tls, node_auth=True)
    assert "--insecure" not in secure and "--enable-supernode-auth" in secure
    dev = supernode_command("link:9093", {"partition-id": 0}, 9094, tls, auth_private_key="k")
    assert dev[dev.index("--root-certificates") + 1] == "ca.pem" and "--auth-supernode-private-key" in dev
    assert node_config_arg({"name": "a b"}) == 'name="a b"'
    cfg = write_connection(tmp_path, "127.0.0.1:9093", True, None).read_text()
    assert 'default = "edgetune"' in cfg and "insecure = true" in cfg
