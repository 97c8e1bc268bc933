"""The northbound API over HTTP (JSON), as an SDN controller application would serve it.

Endpoints (all GET, JSON bodies)::

    /v1/health                 {"status": "ok", "source": ..., "time_s": ...}
    /v1/metrics                {"source": ..., "time_s": ..., "paths": {"<node id>": PATH, ...}}
    /v1/metrics/<node id>      PATH, or 404 {"error": ...}

where ``PATH = {"bandwidth_mbps", "delay_ms", "loss_pct", "samples", "updated_s"}``. The simulated
monitor and the OpenFlow testbed controller serve exactly this schema, so the orchestrator (through
:class:`HttpNorthboundClient`) cannot tell them apart.

The server (:class:`NorthboundServer`) is hardened for a hostile network:

* a node id is 1 to 9 ASCII digits (``'²'.isdigit()`` is true, ``int('²')`` raises); anything else is
  a 400 JSON error, and an unknown node a 404; no request can make the handler print a traceback
  (an unexpected error is a 500 JSON error, and the server keeps serving);
* at most ``max_connections`` connections are served at once (one thread each); a connection beyond
  that gets ``503`` and is closed at once, so idle connections cannot pile up threads;
* a connection that sends nothing for ``read_timeout_s`` (default 10 s) is closed;
* with a ``token`` every request needs ``Authorization: Bearer TOKEN`` (else 401); binding to an
  address other than loopback without a token is refused unless ``allow_no_token`` is set.
  :class:`HttpNorthboundClient` sends the token of ``$EDGETUNE_NORTHBOUND_TOKEN`` when it is set.

Servers bind to 127.0.0.1 unless told otherwise.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import os
import re
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from edgetune.network.monitor import NorthboundAPI, PathMetrics

SCHEMA_KEYS = ("bandwidth_mbps", "delay_ms", "loss_pct", "samples", "updated_s")
#: Environment variable holding the bearer token (server default and what the client sends).
TOKEN_ENV = "EDGETUNE_NORTHBOUND_TOKEN"
_NODE_ID = re.compile(r"[0-9]{1,9}", re.ASCII)
_REFUSED = b"HTTP/1.0 503 Service Unavailable\r\nContent-Type: application/json\r\nContent-Length: 40\r\n\r\n" + (
    b'{"error": "too many connections, retry"}'
)


def metrics_document(api: NorthboundAPI) -> dict[str, Any]:
    """The ``/v1/metrics`` JSON document of a northbound API."""
    return {
        "source": api.source,
        "time_s": api.time_s(),
        "paths": {str(k): v.to_json() for k, v in sorted(api.path_metrics().items())},
    }


class _Handler(BaseHTTPRequestHandler):
    api: NorthboundAPI  # set on the per-server subclass
    token: str = ""  # required bearer token ("" = none)
    timeout = 10.0  # read timeout, seconds (StreamRequestHandler applies it to the socket)

    def _send(self, code: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def _authorised(self) -> bool:
        if not self.token:
            return True
        got = self.headers.get("Authorization", "")
        scheme, _, value = got.partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(value.strip().encode(), self.token.encode())

    def do_GET(self) -> None:
        try:
            self._get()
        except (ConnectionError, TimeoutError):
            self.close_connection = True
        except Exception as exc:  # never a traceback, never a dropped connection: a JSON error
            self._send(500, {"error": f"internal error: {type(exc).__name__}"})

    def _get(self) -> None:
        if not self._authorised():
            self._send(401, {"error": "missing or wrong bearer token"}, {"WWW-Authenticate": "Bearer"})
            return
        path = self.path.split("?", 1)[0].rstrip("/")
        if path == "/v1/health":
            self._send(200, {"status": "ok", "source": self.api.source, "time_s": self.api.time_s()})
        elif path == "/v1/metrics":
            self._send(200, metrics_document(self.api))
        elif path.startswith("/v1/metrics/"):
            key = path[len("/v1/metrics/") :]
            if _NODE_ID.fullmatch(key) is None:
                shown = key if len(key) <= 40 else key[:40] + "..."
                self._send(400, {"error": f"node id must be 1 to 9 ASCII digits, got {shown!r}"})
                return
            got = self.api.path_metrics([int(key)])
            if not got:
                self._send(404, {"error": f"no metrics for node {int(key)}"})
            else:
                self._send(200, next(iter(got.values())).to_json())
        else:
            shown = self.path if len(self.path) <= 80 else self.path[:80] + "..."
            self._send(404, {"error": f"unknown endpoint {shown}"})

    def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
        return


class _BoundedServer(ThreadingHTTPServer):
    """A thread per connection, at most ``max_connections`` at once; the others get 503 and are closed."""

    daemon_threads = True
    request_queue_size = 64

    def __init__(self, address: tuple[str, int], handler: type[_Handler], max_connections: int) -> None:
        self.max_connections = max_connections
        self._slots = threading.BoundedSemaphore(max_connections)
        family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self.address_family = family
        super().__init__(address, handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self._slots.acquire(blocking=False):
            try:
                request.settimeout(1.0)
                request.sendall(_REFUSED)
            except OSError:
                pass
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A broken connection is the client's business: no traceback on the server's stderr."""
        return


def is_loopback(host: str) -> bool:
    """Whether ``host`` is a loopback address (or ``localhost``)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class NorthboundServer:
    """Serve a :class:`NorthboundAPI` over HTTP in a background thread (hardened: module docstring).

    Parameters
    ----------
    api : NorthboundAPI
    host : str
        Bind address; loopback unless told otherwise.
    port : int
        0 picks a free port (see :attr:`url`).
    token : str, optional
        Bearer token every request must carry; default ``$EDGETUNE_NORTHBOUND_TOKEN`` (unset: none).
    read_timeout_s : float
        A connection silent this long is closed.
    max_connections : int
        Connections served at once (threads); more are refused with 503.
    allow_no_token : bool
        Allow binding off loopback without a token (otherwise :meth:`start` raises ``ValueError``).
    """

    def __init__(
        self,
        api: NorthboundAPI,
        host: str = "127.0.0.1",
        port: int = 0,
        token: str | None = None,
        read_timeout_s: float = 10.0,
        max_connections: int = 64,
        allow_no_token: bool = False,
    ) -> None:
        self.api = api
        self.host = host
        self.port = port
        self.token = os.environ.get(TOKEN_ENV, "") if token is None else token
        self.read_timeout_s = read_timeout_s
        self.max_connections = max_connections
        self.allow_no_token = allow_no_token
        self._httpd: _BoundedServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> NorthboundServer:
        """Check the settings, bind and serve in a daemon thread."""
        if not (0 < self.read_timeout_s <= 3600):
            raise ValueError(f"read_timeout_s must be in (0, 3600], got {self.read_timeout_s}")
        if not 1 <= self.max_connections <= 10_000:
            raise ValueError(f"max_connections must be in [1, 10000], got {self.max_connections}")
        if not is_loopback(self.host) and not self.token and not self.allow_no_token:
            raise ValueError(
                f"refusing to serve the northbound API on {self.host} without a token "
                f"(set a token, ${TOKEN_ENV}, or allow it explicitly)"
            )
        attrs = {"api": self.api, "token": self.token, "timeout": float(self.read_timeout_s)}
        handler = type("BoundHandler", (_Handler,), attrs)
        self._httpd = _BoundedServer((self.host, self.port), handler, self.max_connections)
        self.port = int(self._httpd.server_address[1])
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="northbound", daemon=True)
        self._thread.start()
        return self

    @property
    def url(self) -> str:
        """Base URL of the running server."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def stop(self) -> None:
        """Stop serving and close the socket."""
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> NorthboundServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@dataclass(frozen=True)
class NorthboundConfig:
    """Where the SDN controller's northbound API is and how an outage is survived (engines on real
    networks: Flower, testbed).

    Attributes
    ----------
    url : str
        Base URL (``edgetune controller serve`` or the testbed's OpenFlow controller).
    timeout_s : float
        Per-request timeout.
    grace_s : float
        An outage shorter than this is survived (and noted in the record); a longer one ends the run
        as ``failed`` with its partial record.
    backoff_s : float
        First retry delay; doubles up to 8 s.
    """

    url: str = "http://127.0.0.1:8181"
    timeout_s: float = 5.0
    grace_s: float = 60.0
    backoff_s: float = 0.5

    def __post_init__(self) -> None:
        from edgetune.errors import InputError

        if not self.url.startswith(("http://", "https://")):
            raise InputError("url", self.url, "must start with http:// or https://")
        for name in ("timeout_s", "grace_s", "backoff_s"):
            v = getattr(self, name)
            if not 0 < v <= 86_400:
                raise InputError(name, v, "must be positive and at most a day")

    def client(self) -> HttpNorthboundClient:
        """A client with these settings."""
        return HttpNorthboundClient(self.url, self.timeout_s, self.grace_s, self.backoff_s)


class NorthboundUnavailable(ConnectionError):
    """The northbound API stayed unreachable for longer than the grace period."""


@dataclass(frozen=True)
class Outage:
    """One spell during which the northbound API did not answer, survived by retrying.

    ``attempts`` counts the failed requests; ``duration_s`` is wall-clock (it goes under the run
    record's ``timings``).
    """

    attempts: int
    duration_s: float


class HttpNorthboundClient(NorthboundAPI):
    """Read a controller's northbound API over HTTP (what Flower and testbed runs use).

    A request that fails is retried with exponential backoff (``backoff_s``, doubling, at most
    ``max_backoff_s``) until ``grace_s`` seconds have passed since the first failure; an outage
    shorter than that is survived and appended to :attr:`outages`, a longer one raises
    :class:`NorthboundUnavailable` (the run ends as ``failed`` with its partial record).

    Parameters
    ----------
    url : str
    timeout_s : float
        Per-request timeout.
    grace_s : float
        How long an outage may last before the run fails.
    backoff_s, max_backoff_s : float
        First retry delay and its cap.
    clock, sleep : callable
        Monotonic clock and sleep (injected by tests).
    """

    source = "http"

    def __init__(
        self,
        url: str,
        timeout_s: float = 5.0,
        grace_s: float = 60.0,
        backoff_s: float = 0.5,
        max_backoff_s: float = 8.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.url = url.rstrip("/")
        self.timeout_s = timeout_s
        self.grace_s = grace_s
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self.clock = clock
        self.sleep = sleep
        self.outages: list[Outage] = []
        self._time = 0.0

    def _get_once(self, path: str) -> dict[str, Any]:
        request = urllib.request.Request(self.url + path)
        token = os.environ.get(TOKEN_ENV, "")
        if token:
            request.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as resp:
                body: dict[str, Any] = json.loads(resp.read())
                return body
        except (urllib.error.URLError, TimeoutError, ConnectionError, ValueError) as exc:
            raise ConnectionError(f"northbound API at {self.url} unreachable: {exc}") from exc

    def _get(self, path: str) -> dict[str, Any]:
        first: float | None = None
        attempts = 0
        delay = self.backoff_s
        while True:
            try:
                body = self._get_once(path)
            except ConnectionError as exc:
                now = self.clock()
                first = now if first is None else first
                attempts += 1
                if now - first >= self.grace_s:
                    raise NorthboundUnavailable(
                        f"northbound API at {self.url} unreachable for {now - first:.1f} s "
                        f"(grace {self.grace_s:g} s, {attempts} attempts): {exc}"
                    ) from exc
                self.sleep(min(delay, max(self.grace_s - (now - first), 0.0)))
                delay = min(delay * 2, self.max_backoff_s)
                continue
            if first is not None:
                self.outages.append(Outage(attempts=attempts, duration_s=self.clock() - first))
            return body

    def path_metrics(self, node_ids: Sequence[int] | None = None) -> dict[int, PathMetrics]:
        """Fetch ``/v1/metrics`` and keep ``node_ids``."""
        doc = self._get("/v1/metrics")
        self._time = float(doc.get("time_s", 0.0))
        self.source = f"http:{doc.get('source', '?')}"
        wanted = None if node_ids is None else {int(i) for i in node_ids}
        out: dict[int, PathMetrics] = {}
        for key, p in doc["paths"].items():
            nid = int(key)
            if wanted is None or nid in wanted:
                out[nid] = PathMetrics(**{k: p[k] for k in SCHEMA_KEYS})
        return out

    def time_s(self) -> float:
        """Controller time of the latest document read."""
        return self._time
