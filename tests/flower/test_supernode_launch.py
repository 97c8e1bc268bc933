"""The SuperNode launcher: patch Flower's fixed waits, then run Flower's own entry point."""

from __future__ import annotations

import importlib
import sys
import time
from collections.abc import Iterator

import flwr.supernode.start_client_internal as sci
import pytest
from flwr.supercore.inflatable import inflatable_utils as iu

from edgetune.flower import supernode_launch
from edgetune.flower.commands import supernode_command
from edgetune.flower.deploy import Deployment
from edgetune.flower.polls import DEFAULT_POLL_S, CappedSleep


@pytest.fixture
def restore_flower() -> Iterator[None]:
    saved_time, saved_argv = sci.time, list(sys.argv)
    saved = {fn: dict(fn.__kwdefaults__ or {}) for fn in (iu.pull_objects, iu.pull_and_inflate_object_from_tree)}
    yield
    sci.time, sys.argv = saved_time, saved_argv
    for fn, kw in saved.items():
        fn.__kwdefaults__.update(kw)  # type: ignore[union-attr]


def test_launcher_patches_then_runs_flowers_entry_point(restore_flower: None, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, object] = {}

    def fake_flower_supernode() -> None:  # what the launcher hands over to, as Flower would see it
        seen["argv"] = list(sys.argv)
        seen["time"] = sci.time
        seen["backoff"] = (iu.pull_objects.__kwdefaults__ or {})["initial_backoff"]

    cli = importlib.import_module("flwr.supernode.cli.flower_supernode")  # the package shadows the name
    monkeypatch.setattr(cli, "flower_supernode", fake_flower_supernode)
    assert supernode_launch.main(["--poll-s", "0.25", "--", "--superlink", "h:1", "--insecure"]) == 0
    assert seen["argv"] == ["flower-supernode", "--superlink", "h:1", "--insecure"]
    assert isinstance(seen["time"], CappedSleep) and seen["time"].cap_s == 0.25
    assert seen["backoff"] == 0.25


def test_launcher_runs_the_real_entry_point(restore_flower: None) -> None:
    with pytest.raises(SystemExit) as exc:  # Flower's own argument parser answers --help
        supernode_launch.main(["--poll-s", "0.5", "--", "--help"])
    assert exc.value.code == 0
    assert isinstance(sci.time, CappedSleep)


def test_launcher_refuses_a_bad_poll(restore_flower: None, capsys: pytest.CaptureFixture[str]) -> None:
    assert supernode_launch.main(["--poll-s", "9", "--", "--help"]) == 2
    assert capsys.readouterr().err.startswith("edgetune: error: --poll-s=9.0:")
    assert sci.time is time or not isinstance(sci.time, CappedSleep)


def test_deployment_starts_supernodes_through_the_launcher(tmp_path: object) -> None:
    cfg = {"partition-id": 0, "node-id": 3}
    plain = supernode_command("127.0.0.1:9093", cfg, 9200)
    launched = supernode_command("127.0.0.1:9093", cfg, 9200, poll_s=0.3)
    assert launched[:6] == [sys.executable, "-m", "edgetune.flower.supernode_launch", "--poll-s", "0.3", "--"]
    assert launched[6:] == plain[1:] and plain[0].endswith("flower-supernode")
    assert Deployment.__dataclass_fields__["supernode_poll_s"].default == DEFAULT_POLL_S
