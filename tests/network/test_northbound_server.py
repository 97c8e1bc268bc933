"""The northbound API server under hostile input: strict ids, bounded threads, read timeout, bearer token."""

from __future__ import annotations

import json
import socket
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edgetune.network.northbound import TOKEN_ENV, HttpNorthboundClient, NorthboundServer, is_loopback
from tests.conftest import StubNorthbound
from tests.fuzz.conftest import deadline


@pytest.fixture(autouse=True)
def _deadline() -> Iterator[None]:
    """No test here may hang: each ends within 60 s or fails (tests.fuzz.conftest.deadline)."""

    with deadline(60):
        yield


@pytest.fixture(scope="module")
def server() -> Iterator[NorthboundServer]:
    with NorthboundServer(StubNorthbound({1: (10.0, 20.0, 0.5), 7: (5.0, 3.0, 0.0)}), token="") as srv:
        yield srv


def _get(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, Any]]:
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def _raw(srv: NorthboundServer, request: bytes) -> bytes:
    with socket.create_connection((srv.host, srv.port), timeout=5) as s:
        s.sendall(request)
        chunks = []
        while chunk := s.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


@pytest.mark.parametrize(
    "key",
    ["%C2%B2", "²", "1" * 5000, "-1", "+1", "1.0", "0x1", "1%20", "٣", "1234567890", "%00"],
)
def test_bad_node_ids_are_a_json_4xx_and_the_server_keeps_serving(server: NorthboundServer, key: str) -> None:
    raw = _raw(server, f"GET /v1/metrics/{key} HTTP/1.0\r\n\r\n".encode())
    head, _, body = raw.partition(b"\r\n\r\n")
    status = int(head.split()[1])
    assert status == 400 and "ASCII digits" in json.loads(body)["error"]
    assert _get(server.url + "/v1/metrics/7")[0] == 200


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(alphabet=st.characters(exclude_categories=["Cs"]), min_size=1, max_size=60))
def test_any_id_gives_a_json_answer(server: NorthboundServer, key: str) -> None:
    quoted = urllib.parse.quote(key, safe="")
    code, body = _get(f"{server.url}/v1/metrics/{quoted}")
    assert code in (200, 400, 404) and isinstance(body, dict)
    assert code != 200 or key.strip("/").lstrip("0") in ("1", "7")


def test_good_ids(server: NorthboundServer) -> None:
    assert _get(server.url + "/v1/metrics/1")[1]["bandwidth_mbps"] == 10.0
    assert _get(server.url + "/v1/metrics/000000001")[0] == 200
    code, body = _get(server.url + "/v1/metrics/2")
    assert code == 404 and body == {"error": "no metrics for node 2"}


def test_idle_connections_are_closed_after_the_read_timeout() -> None:
    with NorthboundServer(StubNorthbound({1: (1.0, 1.0, 0.0)}), token="", read_timeout_s=0.5) as srv:
        s = socket.create_connection((srv.host, srv.port), timeout=5)
        t0 = time.monotonic()
        assert s.recv(1) == b""  # the server closed it
        waited = time.monotonic() - t0
        s.close()
        assert 0.4 <= waited < 4.0


def test_threads_stay_bounded_with_many_idle_connections() -> None:
    before = threading.active_count()
    with NorthboundServer(StubNorthbound({1: (1.0, 1.0, 0.0)}), token="", max_connections=4, read_timeout_s=30) as srv:
        idle = [socket.create_connection((srv.host, srv.port), timeout=5) for _ in range(4)]
        time.sleep(0.3)
        extra = [socket.create_connection((srv.host, srv.port), timeout=5) for _ in range(60)]
        refused = [s.recv(4096) for s in extra]
        assert all(r.startswith(b"HTTP/1.0 503") for r in refused)
        # serve thread + at most max_connections handler threads
        assert threading.active_count() - before <= 1 + 4
        for s in idle + extra:
            s.close()
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:  # slots come back when the idle connections end
            code, _ = _get(srv.url + "/v1/health") if _free(srv) else (0, {})
            if code == 200:
                break
            time.sleep(0.1)
        assert code == 200


def _free(srv: NorthboundServer) -> bool:
    try:
        code, _ = _get(srv.url + "/v1/health")
    except (urllib.error.URLError, ConnectionError, json.JSONDecodeError):
        return False
    return code == 200


def test_token_required(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(TOKEN_ENV, raising=False)
    with NorthboundServer(StubNorthbound({1: (1.0, 1.0, 0.0)}), token="s3cret") as srv:
        code, body = _get(srv.url + "/v1/metrics")
        assert code == 401 and "token" in body["error"]
        assert _get(srv.url + "/v1/metrics", {"Authorization": "Bearer wrong"})[0] == 401
        assert _get(srv.url + "/v1/metrics", {"Authorization": "Bearer s3cret"})[0] == 200
        client = HttpNorthboundClient(srv.url, grace_s=0.1, backoff_s=0.05)
        monkeypatch.setenv(TOKEN_ENV, "s3cret")
        assert set(client.path_metrics()) == {1}


def test_off_loopback_needs_a_token_or_an_explicit_flag(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(TOKEN_ENV, raising=False)
    api = StubNorthbound({1: (1.0, 1.0, 0.0)})
    with pytest.raises(ValueError, match="without a token"):
        NorthboundServer(api, host="0.0.0.0").start()
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("10.0.0.1")


def test_cli_refuses_off_loopback_without_token(tmp_path: Any, capsys: pytest.CaptureFixture[str]) -> None:
    from edgetune.cli.main import main

    assert main(["fleet", "generate", "--nodes", "3", "--out", str(tmp_path / "f.yaml")]) == 0
    capsys.readouterr()
    code = main(["controller", "serve", "--fleet", str(tmp_path / "f.yaml"), "--host", "0.0.0.0", "--duration-s", "1"])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("edgetune: error: --host='0.0.0.0': not loopback") and err.count("\n") == 1
