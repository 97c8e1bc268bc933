"""The northbound HTTP client retries with backoff; an outage within the grace period is survived and
noted in the record, a longer one ends the run as ``failed`` with its partial record."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pytest

from edgetune.fleet.schema import Fleet
from edgetune.network.monitor import PathMetrics
from edgetune.network.northbound import HttpNorthboundClient, NorthboundServer, NorthboundUnavailable
from edgetune.runs.execute import RunFailed, Wiring, drive
from edgetune.runs.folder import RunFolder
from edgetune.runs.spec import spec_from_dict
from edgetune.selection import make_policy
from tests.conftest import ScriptedEngine, StubNorthbound


class Flaky(StubNorthbound):
    """Fails ``down`` requests starting with request number ``start`` (None: never recovers)."""

    def __init__(self, metrics: dict[int, tuple[float, float, float]], start: int, down: int | None) -> None:
        super().__init__(metrics)
        self.start, self.down = start, down

    def path_metrics(self, node_ids: Sequence[int] | None = None) -> dict[int, PathMetrics]:
        k = self.reads
        self.reads += 1
        if k >= self.start and (self.down is None or k < self.start + self.down):
            raise RuntimeError("controller restarting")
        self.reads -= 1
        return super().path_metrics(node_ids)


class FakeTime:
    """A clock that only moves when the client sleeps."""

    def __init__(self) -> None:
        self.t = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.t

    def sleep(self, s: float) -> None:
        self.sleeps.append(s)
        self.t += s


def _client(url: str, ft: FakeTime, grace_s: float = 10.0) -> HttpNorthboundClient:
    return HttpNorthboundClient(url, timeout_s=2.0, grace_s=grace_s, backoff_s=0.5, clock=ft.clock, sleep=ft.sleep)


def test_backoff_doubles_and_a_short_outage_is_survived() -> None:
    api = Flaky({0: (10.0, 5.0, 0.0)}, start=0, down=3)
    ft = FakeTime()
    with NorthboundServer(api) as srv:
        got = _client(srv.url, ft).path_metrics()
    assert got[0].bandwidth_mbps == 10.0
    assert ft.sleeps == [0.5, 1.0, 2.0]


def test_a_long_outage_raises_after_the_grace_period() -> None:
    api = Flaky({0: (10.0, 5.0, 0.0)}, start=0, down=None)
    ft = FakeTime()
    with NorthboundServer(api) as srv, pytest.raises(NorthboundUnavailable, match="grace 10 s"):
        _client(srv.url, ft).path_metrics()
    assert ft.t >= 10.0 and sum(ft.sleeps) == pytest.approx(ft.t)
    assert ft.sleeps[:4] == [0.5, 1.0, 2.0, 4.0]


def _wiring(fleet: Fleet, client: HttpNorthboundClient) -> Wiring:
    engine = ScriptedEngine({n.id: 1.0 + n.id for n in fleet.nodes})
    return Wiring(fleet=fleet, engine=engine, northbound=client, policy=make_policy("ne"))


def test_run_survives_an_outage_within_grace_and_notes_it(fleet12: Fleet, tmp_path: Path) -> None:
    metrics = {n.id: (10.0 + n.id, 5.0, 0.0) for n in fleet12.nodes}
    api = Flaky(metrics, start=2, down=4)  # epoch 3's read fails 4 times
    ft = FakeTime()
    spec = spec_from_dict({"run": {"epochs": 5}})
    with NorthboundServer(api) as srv:
        rec = drive(spec, _wiring(fleet12, _client(srv.url, ft)), RunFolder(tmp_path / "r"))
    doc = json.loads((tmp_path / "r" / "record.json").read_text())
    assert rec.status == "complete" and doc["status"] == "complete" and len(doc["epochs"]) == 5
    assert doc["northbound_outages"] == 1
    assert doc["timings"]["northbound_outage_s"] == [pytest.approx(0.5 + 1.0 + 2.0 + 4.0)]


def test_run_beyond_grace_fails_with_a_partial_record(fleet12: Fleet, tmp_path: Path) -> None:
    metrics = {n.id: (10.0 + n.id, 5.0, 0.0) for n in fleet12.nodes}
    api = Flaky(metrics, start=3, down=None)  # the controller dies during epoch 4
    ft = FakeTime()
    spec = spec_from_dict({"run": {"epochs": 6}})
    with NorthboundServer(api) as srv, pytest.raises(RunFailed):
        drive(spec, _wiring(fleet12, _client(srv.url, ft, grace_s=5.0)), RunFolder(tmp_path / "r"))
    doc = json.loads((tmp_path / "r" / "record.json").read_text())
    assert doc["status"] == "failed" and len(doc["epochs"]) == 3
    assert "NorthboundUnavailable" in doc["error"]
    assert len((tmp_path / "r" / "epochs.jsonl").read_text().splitlines()) == 3
