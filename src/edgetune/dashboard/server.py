"""The dashboard's HTTP server: static page, JSON API and server-sent events, stdlib only.

Security: binds 127.0.0.1 unless told otherwise. Bound to any other address, every request must carry
a random token (from :mod:`secrets`) as ``?token=`` or as an ``Authorization: Bearer`` /
``X-Edgetune-Token`` header, or it gets 403. Without a token (loopback), the ``Host`` header must
name a loopback host, so a web page elsewhere cannot read the API through DNS rebinding. Only the
files of ``static/`` named in :data:`STATIC_FILES` are served; a Content-Security-Policy allows
nothing but this origin.

Live updates: ``GET /api/runs/{i}/events?after=k`` is a ``text/event-stream`` that sends every epoch
numbered above ``k`` (or above the browser's ``Last-Event-ID`` after a reconnect) as an ``epoch``
event whose ``id`` is the epoch number, a ``status`` event when the record's status changes, and a
comment every few seconds; it re-reads the folder every :data:`POLL_S` seconds.
"""

from __future__ import annotations

import contextlib
import hmac
import ipaddress
import json
import secrets
import socket
import sys
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from edgetune.dashboard.api import ApiError, DashboardAPI, Route, parse_route, to_body
from edgetune.dashboard.runfolder import check_run_folder
from edgetune.errors import InputError

#: Files served from the package's static/ folder: URL path -> (file name, content type).
STATIC_FILES: dict[str, tuple[str, str]] = {
    "/": ("index.html", "text/html; charset=utf-8"),
    "/index.html": ("index.html", "text/html; charset=utf-8"),
    "/static/app.js": ("app.js", "text/javascript; charset=utf-8"),
    "/static/charts.js": ("charts.js", "text/javascript; charset=utf-8"),
    "/static/style.css": ("style.css", "text/css; charset=utf-8"),
}
#: How often an event stream re-reads the run folder, seconds.
POLL_S = 0.25
#: Seconds between keep-alive comments on an event stream.
PING_S = 10.0
#: Most event streams open at once (more get 503).
MAX_STREAMS = 16
#: Most run folders side by side.
MAX_RUNS = 4
LOOPBACK_NAMES = frozenset({"127.0.0.1", "localhost", "::1"})
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


def is_loopback(host: str) -> bool:
    """Whether ``host`` names only this machine."""
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _static(name: str) -> bytes:
    return resources.files("edgetune.dashboard").joinpath("static", name).read_bytes()


@dataclass
class _State:
    api: DashboardAPI
    token: str | None
    host: str
    stop: threading.Event = field(default_factory=threading.Event)
    streams: threading.BoundedSemaphore = field(default_factory=lambda: threading.BoundedSemaphore(MAX_STREAMS))


class _Handler(BaseHTTPRequestHandler):
    server_version = "edgetune-dashboard"
    sys_version = ""
    state: _State  # set on a subclass per server

    # --------------------------------------------------------------------------------------- plumbing
    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the dashboard logs only errors (see :meth:`_internal_error`)."""

    def _send(self, status: int, body: bytes, content_type: str, extra: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Content-Security-Policy", CSP)
        self.send_header("Referrer-Policy", "no-referrer")
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, status: int, obj: Any) -> None:
        self._send(status, to_body(obj), "application/json")

    def _error(self, err: ApiError) -> None:
        self._json(err.status, err.to_json())

    def _internal_error(self, exc: BaseException) -> None:
        print(f"edgetune dashboard: internal error on {self.path[:200]!r}: {exc!r}", file=sys.stderr)
        with contextlib.suppress(OSError):
            self._json(500, {"error": "internal error", "status": 500})

    # --------------------------------------------------------------------------------------- checks
    def _authorised(self, query: str) -> None:
        token = self.state.token
        if token is None:
            host = urlsplit("//" + (self.headers.get("Host") or "")).hostname or ""
            if not is_loopback(host) and host != self.state.host:
                raise ApiError(403, "unexpected Host header (DNS-rebinding guard)", "Host", host[:100])
            return
        given = ""
        auth = self.headers.get("Authorization") or ""
        if auth.startswith("Bearer "):
            given = auth[len("Bearer ") :].strip()
        given = self.headers.get("X-Edgetune-Token") or given
        if not given:
            from urllib.parse import parse_qs

            try:
                given = (parse_qs(query, max_num_fields=8).get("token") or [""])[0]
            except ValueError:
                given = ""
        if not hmac.compare_digest(given.encode("utf-8", "replace"), token.encode("utf-8")):
            raise ApiError(403, "missing or wrong token", "token", "<hidden>")

    # --------------------------------------------------------------------------------------- verbs
    def do_GET(self) -> None:
        """Static files, the JSON API and event streams."""
        try:
            parts = urlsplit(self.path)
            self._authorised(parts.query)
            if parts.path in STATIC_FILES:
                self._serve_static(parts.path)
                return
            route = parse_route(parts.path, parts.query, len(self.state.api.runs))
            if route.endpoint == "events":
                self._stream(route)
                return
            self._json(200, self.state.api.get(route))
        except ApiError as err:
            self._error(err)
        except (BrokenPipeError, ConnectionResetError):
            pass
        except Exception as exc:
            self._internal_error(exc)

    def do_HEAD(self) -> None:
        """Same as GET without a body (event streams excluded)."""
        if "/events" in self.path:
            self._error(ApiError(405, "HEAD on an event stream", "method", "HEAD"))
            return
        self.do_GET()

    def _refuse(self) -> None:
        self._error(ApiError(405, "read-only API: only GET and HEAD", "method", self.command))

    do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _refuse

    # --------------------------------------------------------------------------------------- content
    def _serve_static(self, path: str) -> None:
        name, ctype = STATIC_FILES[path]
        body = _static(name)
        if name == "index.html":
            qs = f"?token={quote(self.state.token)}" if self.state.token else ""
            body = body.replace(b"{{TOKEN_QS}}", qs.encode("ascii"))
        self._send(200, body, ctype)

    def _stream(self, route: Route) -> None:
        last_id = self.headers.get("Last-Event-ID")
        after = route.after
        if last_id is not None and last_id.isdigit() and len(last_id) < 10:
            after = max(after, int(last_id))
        if not self.state.streams.acquire(blocking=False):
            raise ApiError(503, f"too many event streams open (max {MAX_STREAMS})")
        try:
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-store")
            self.send_header("X-Content-Type-Options", "nosniff")
            self.send_header("Connection", "close")
            self.end_headers()
            self.close_connection = True
            assert route.run is not None
            run = self.state.api.runs[route.run]
            status = None
            last_ping = time.monotonic()
            self.wfile.write(b"retry: 1000\n\n")
            self.wfile.flush()
            while not self.state.stop.is_set():
                payload = run.epochs_after(after, 50)
                chunks: list[bytes] = []
                if payload["status"] != status:
                    status = payload["status"]
                    chunks.append(b"event: status\ndata: " + json.dumps({"status": status}).encode() + b"\n\n")
                for ep in payload["epochs"]:
                    chunks.append(b"id: %d\nevent: epoch\ndata: " % ep["epoch"] + to_body(ep) + b"\n\n")
                    after = ep["epoch"]
                now = time.monotonic()
                if not chunks and now - last_ping > PING_S:
                    chunks.append(b": ping\n\n")
                if chunks:
                    self.wfile.write(b"".join(chunks))
                    self.wfile.flush()
                    last_ping = now
                if not payload["more"]:
                    self.state.stop.wait(POLL_S)
        finally:
            self.state.streams.release()


class _Server6(ThreadingHTTPServer):
    address_family = socket.AF_INET6


class Dashboard:
    """A running dashboard server (see :func:`start_dashboard`).

    Attributes
    ----------
    url : str
        Where to open the page (with ``?token=`` when a token is required).
    host, port : str, int
        The bound address.
    token : str or None
    """

    def __init__(self, server: ThreadingHTTPServer, thread: threading.Thread, state: _State, url: str) -> None:
        self._server = server
        self._thread = thread
        self._state = state
        self.url = url
        self.host = state.host
        self.port = int(server.server_address[1])
        self.token = state.token

    def stop(self) -> None:
        """Close the event streams, stop serving and free the port."""
        self._state.stop.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5.0)

    def wait(self) -> None:
        """Block until :meth:`stop` is called (or KeyboardInterrupt)."""
        while self._thread.is_alive():
            self._thread.join(timeout=0.5)

    def __enter__(self) -> Dashboard:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_dashboard(
    run_dirs: list[Path],
    host: str = "127.0.0.1",
    port: int = 0,
    token: str | None = None,
    check: bool = True,
) -> Dashboard:
    """Serve the dashboard of ``run_dirs`` from a background thread.

    Parameters
    ----------
    run_dirs : list of Path
        One to :data:`MAX_RUNS` run folders, shown side by side.
    host : str
        Address to bind. Anything but loopback requires a token; one is drawn with
        :func:`secrets.token_urlsafe` when ``token`` is None.
    port : int
        TCP port; 0 picks a free one (see :attr:`Dashboard.port`).
    token : str, optional
        Require this token on every request (also allowed on loopback).
    check : bool
        Check every folder is a run folder now (:func:`~edgetune.dashboard.runfolder.check_run_folder`).
        ``False`` lets ``edgetune run --dashboard`` start the page before the run writes its folder.

    Returns
    -------
    Dashboard
        Call :meth:`Dashboard.stop` to shut it down.

    Raises
    ------
    InputError
        Bad folders, port or host, or an address that cannot be bound.
    """
    if not 1 <= len(run_dirs) <= MAX_RUNS:
        raise InputError("RUN_DIR", len(run_dirs), f"give 1 to {MAX_RUNS} run folders")
    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
        raise InputError("--port", port, "must be an integer in 0..65535")
    if not host or len(host) > 253:
        raise InputError("--host", host, "must be a host name or address")
    if token is not None and (len(token) < 16 or not token.isascii() or not token.isprintable()):
        raise InputError("token", "<hidden>", "must be at least 16 printable ASCII characters")
    dirs = [Path(p) for p in run_dirs]
    if check:
        for p in dirs:
            check_run_folder(p)
    if token is None and not is_loopback(host):
        token = secrets.token_urlsafe(24)
    state = _State(api=DashboardAPI(dirs), token=token, host=host)
    handler = type("DashboardHandler", (_Handler,), {"state": state})
    server_cls = _Server6 if ":" in host else ThreadingHTTPServer
    try:
        server = server_cls((host, port), handler)
    except OSError as exc:
        field_name = "--port" if exc.errno in (98, 13) else "--host"  # EADDRINUSE, EACCES
        value = port if field_name == "--port" else host
        raise InputError(field_name, value, f"cannot bind {host}:{port}: {exc.strerror or exc}") from None
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True)
    thread.name = "edgetune-dashboard"
    thread.start()
    bound = int(server.server_address[1])
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{shown}:{bound}/" + (f"?token={quote(token)}" if token else "")
    return Dashboard(server, thread, state, url)
