"""The Fleet API gateway forwards exactly Flower's Fleet API and nothing else (issue 16, class 7)."""

from __future__ import annotations

import asyncio
import http.client
import http.server
import socket
import threading
from collections.abc import Iterator
from typing import ClassVar

import pytest

from edgetune.flower.gateway import FLEET_PATHS, Gateway, allowed, parse_head


def test_only_post_to_an_exact_fleet_path_is_allowed() -> None:
    assert len(FLEET_PATHS) == 12
    assert allowed("POST", "/v1/fleet/pull-messages")
    assert not allowed("GET", "/v1/fleet/pull-messages")
    for target in (
        "/v1/control/start-run",
        "/v1/runtime/pull-messages",
        "/v1/fleet/../control/start-run",
        "/v1/fleet/pull-messages?x=1",
        "/v1/fleet%2F..%2Fcontrol/start-run",
        "/docs",
    ):
        assert not allowed("POST", target), target


def test_heads_are_parsed_strictly() -> None:
    ok = parse_head(b"POST /v1/fleet/get-run HTTP/1.1\r\nHost: x\r\nContent-Length: 12\r\nConnection: keep-alive")
    assert ok == ("POST", "/v1/fleet/get-run", [("Host", "x"), ("Content-Length", "12")], 12)
    assert parse_head(b"POST /v1/control/start-run HTTP/1.1\r\nHost: x") == "403 Forbidden"
    assert parse_head(b"POST /v1/fleet/get-run HTTP/1.1\r\nTransfer-Encoding: chunked") == "411 Length Required"
    assert parse_head(b"POST /v1/fleet/get-run HTTP/1.1\r\nContent-Length: -1") == "413 Content Too Large"
    assert parse_head(b"POST /v1/fleet/get-run HTTP/1.1\r\nContent-Length: 99999999999") == "413 Content Too Large"
    assert parse_head(b"POST /v1/fleet/get-run HTTP/1.1\r\nbad header") == "400 Bad Request"
    assert parse_head(b"POST /v1/fleet/get-run\r\n") == "400 Bad Request"
    assert parse_head("POST /v1/fleet/get-run HTTP/1.1\r\nX: \u00e9".encode()) == "400 Bad Request"


class _Upstream(http.server.BaseHTTPRequestHandler):
    seen: ClassVar[list[tuple[str, bytes]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.seen.append((self.path, body))
        self.send_response(200)
        self.send_header("Content-Length", str(len(body) + 3))
        self.end_headers()
        self.wfile.write(b"ok:" + body)

    def log_message(self, *args: object) -> None:
        pass


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def gateway() -> Iterator[tuple[int, list[tuple[str, bytes]]]]:
    upstream = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Upstream)
    _Upstream.seen = []
    threading.Thread(target=upstream.serve_forever, daemon=True).start()
    port = _free_port()
    loop = asyncio.new_event_loop()
    gw = Gateway("127.0.0.1", upstream.server_address[1])
    task = loop.create_task(gw.serve("127.0.0.1", port))
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    for _ in range(100):
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                break
        threading.Event().wait(0.05)
    try:
        yield port, _Upstream.seen
    finally:
        loop.call_soon_threadsafe(task.cancel)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        upstream.shutdown()
        upstream.server_close()


def _post(port: int, path: str, body: bytes, method: str = "POST") -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request(method, path, body=body, headers={"Content-Type": "application/protobuf"})
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def test_fleet_requests_pass_and_run_submission_never_reaches_the_superlink(
    gateway: tuple[int, list[tuple[str, bytes]]],
) -> None:
    port, seen = gateway
    body = bytes(range(256)) * 300
    assert _post(port, "/v1/fleet/pull-messages", body) == (200, b"ok:" + body)
    assert _post(port, "/v1/control/start-run", b"app")[0] == 403
    assert _post(port, "/v1/runtime/pull-messages", b"")[0] == 403
    assert _post(port, "/v1/fleet/../control/start-run", b"")[0] == 403
    assert _post(port, "/v1/fleet/get-run", b"", method="PUT")[0] == 403
    assert seen == [("/v1/fleet/pull-messages", body)]
