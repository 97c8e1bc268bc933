"""The Fleet API gateway: what ``edgetune flower serve --host ADDR`` exposes instead of the SuperLink.

Flower 1.41 serves its Fleet API (SuperNodes), Control API (``flwr run``: run submission, i.e. code
that the SuperLink host will execute) and Runtime API (the ServerApp's access to every message) on
**one** HTTP port; ``--control-api-address`` is deprecated and ignored. Binding that port to a
non-loopback address therefore lets anyone who reaches it submit an app (issue 16: an unauthenticated
``flwr run`` ran as uid 0 on the SuperLink host).

So the SuperLink always binds 127.0.0.1, and when devices on other hosts must reach it, this
gateway listens on ``ADDR:PORT`` and forwards only the Fleet API's own requests -- ``POST`` to one of
the exact paths in :data:`FLEET_PATHS` -- to the SuperLink; everything else gets ``403`` and is
never forwarded. With TLS files the gateway terminates TLS with them (and, when the SuperLink itself
runs TLS, as it must for SuperNode authentication, speaks TLS to it on loopback). Each request is
forwarded on its own upstream connection (``Connection: close``); heads are bounded
(:data:`MAX_HEAD_BYTES`), bodies too (:data:`MAX_BODY_BYTES`, ``Content-Length`` only) and every read
has a timeout.

``python -m edgetune.flower.gateway --listen HOST:PORT --upstream 127.0.0.1:PORT [--certfile F --keyfile F]
[--upstream-tls [--upstream-ca F]]``
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ssl
import sys

#: The Fleet API of Flower 1.41 (``flwr/superlink/routers/fleet/router.py``): all ``POST``.
FLEET_PATHS: frozenset[str] = frozenset(
    f"/v1/fleet/{name}"
    for name in (
        "register-node",
        "activate-node",
        "deactivate-node",
        "unregister-node",
        "send-node-heartbeat",
        "pull-messages",
        "push-messages",
        "get-run",
        "get-fab",
        "push-object",
        "pull-object",
        "confirm-message-received",
    )
)
MAX_HEAD_BYTES = 64 * 1024
MAX_BODY_BYTES = 1 << 31
READ_TIMEOUT_S = 60.0
MAX_CONNECTIONS = 256
_HOP = frozenset({"connection", "keep-alive", "proxy-connection", "te", "trailer", "upgrade"})


def allowed(method: str, target: str) -> bool:
    """Whether a request line may reach the SuperLink: ``POST`` to an exact Fleet API path."""
    return method == "POST" and target in FLEET_PATHS


def _reply(status: str) -> bytes:
    body = status.encode()
    return (
        f"HTTP/1.1 {status}\r\ncontent-type: text/plain\r\ncontent-length: {len(body)}\r\nconnection: close\r\n\r\n"
    ).encode() + body


def parse_head(head: bytes) -> tuple[str, str, list[tuple[str, str]], int] | str:
    """``(method, target, headers, content_length)`` of a request head, or the status to refuse it with."""
    try:
        text = head.decode("ascii")
    except UnicodeDecodeError:
        return "400 Bad Request"
    lines = text.split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
        return "400 Bad Request"
    method, target, _ = parts
    if not allowed(method, target):
        return "403 Forbidden"
    headers: list[tuple[str, str]] = []
    length = 0
    for line in lines[1:]:
        if not line:
            continue
        name, sep, value = line.partition(":")
        if not sep or not name or name != name.strip():
            return "400 Bad Request"
        key, value = name.lower(), value.strip()
        if key == "transfer-encoding":
            return "411 Length Required"
        if key == "content-length":
            if not value.isascii() or not value.isdigit() or int(value) > MAX_BODY_BYTES:
                return "413 Content Too Large"
            length = int(value)
        if key not in _HOP:
            headers.append((name, value))
    return method, target, headers, length


class Gateway:
    """Forward Fleet API requests from ``listen`` to the SuperLink at ``upstream`` (loopback)."""

    def __init__(
        self,
        upstream_host: str,
        upstream_port: int,
        server_ssl: ssl.SSLContext | None = None,
        upstream_ssl: ssl.SSLContext | None = None,
    ) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.server_ssl = server_ssl
        self.upstream_ssl = upstream_ssl
        self._slots = asyncio.Semaphore(MAX_CONNECTIONS)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """One client connection: one request, forwarded or refused, then closed."""
        async with self._slots:
            try:
                await self._handle(reader, writer)
            except (TimeoutError, OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
                pass
            finally:
                writer.close()
                with contextlib.suppress(Exception):
                    await writer.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), READ_TIMEOUT_S)
        parsed = parse_head(head[:-4])
        if isinstance(parsed, str):
            writer.write(_reply(parsed))
            await writer.drain()
            return
        method, target, headers, length = parsed
        up_reader, up_writer = await asyncio.wait_for(
            asyncio.open_connection(*self.upstream, ssl=self.upstream_ssl), READ_TIMEOUT_S
        )
        try:
            lines = [f"{method} {target} HTTP/1.1", *(f"{k}: {v}" for k, v in headers), "connection: close", "", ""]
            up_writer.write("\r\n".join(lines).encode("ascii"))
            left = length
            while left:
                chunk = await asyncio.wait_for(reader.read(min(left, 1 << 20)), READ_TIMEOUT_S)
                if not chunk:
                    return
                up_writer.write(chunk)
                await up_writer.drain()
                left -= len(chunk)
            await up_writer.drain()
            while chunk := await asyncio.wait_for(up_reader.read(1 << 20), READ_TIMEOUT_S):
                writer.write(chunk)
                await writer.drain()
        finally:
            up_writer.close()

    async def serve(self, host: str, port: int) -> None:
        """Listen until cancelled."""
        server = await asyncio.start_server(self.handle, host, port, ssl=self.server_ssl, limit=MAX_HEAD_BYTES)
        async with server:
            await server.serve_forever()


def server_context(certfile: str, keyfile: str) -> ssl.SSLContext:
    """TLS for the exposed side (HTTP/1.1 only)."""
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(certfile, keyfile)
    ctx.set_alpn_protocols(["http/1.1"])
    return ctx


def upstream_context(cafile: str | None) -> ssl.SSLContext:
    """TLS to the SuperLink on loopback: its certificate is checked against ``cafile`` (names are not:
    the certificate names the public address, the gateway dials 127.0.0.1)."""
    ctx = ssl.create_default_context(cafile=cafile)
    ctx.check_hostname = False
    if cafile is None:
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


def _split(addr: str) -> tuple[str, int]:
    host, _, port = addr.rpartition(":")
    return host.strip("[]"), int(port)


def main(argv: list[str] | None = None) -> int:
    """Run the gateway (started by :class:`edgetune.flower.deploy.Deployment`)."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--listen", required=True, help="HOST:PORT devices dial")
    ap.add_argument("--upstream", required=True, help="the SuperLink, 127.0.0.1:PORT")
    ap.add_argument("--certfile")
    ap.add_argument("--keyfile")
    ap.add_argument("--upstream-tls", action="store_true", help="the SuperLink speaks TLS")
    ap.add_argument("--upstream-ca", help="CA that signed the SuperLink's certificate")
    args = ap.parse_args(argv)
    server_ssl = server_context(args.certfile, args.keyfile) if args.certfile else None
    upstream_ssl = upstream_context(args.upstream_ca) if args.upstream_tls else None
    gateway = Gateway(*_split(args.upstream), server_ssl, upstream_ssl)
    try:
        asyncio.run(gateway.serve(*_split(args.listen)))
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
