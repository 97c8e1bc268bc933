"""The node side of the testbed engine: one process per edge node, inside that node's namespace.

Started by :class:`~edgetune.testbed.engine.TestbedEngine` as
``ip netns exec <ns> python -m edgetune.testbed.agent --host IP --port P [--cc cubic]``. It accepts one
TCP connection from the orchestrator and serves messages in order (so a ``train`` queued behind a
model download starts only once the node holds that model, as Algorithm 1 requires):

* ``{"op": "data", "n": N}`` + N bytes: the model and the node's data-set partition (lines 3-4);
* ``{"op": "model", "n": N}`` + N bytes: the updated model (lines 16-17);
* ``{"op": "train", "epoch": k, "compute_s": c, "grad_bytes": G}``: compute for ``c`` seconds (the
  engine scales compute by compute power, as the other engines do), then reply
  ``{"op": "grad", "epoch": k, "train_time_s": measured, "n": G}`` + G bytes (line 6);
* ``{"op": "bye"}``: close and exit.

Frames are a 4-byte big-endian header length, a JSON header, then ``n`` payload bytes. Payload bytes
are zeros: their size is what matters (no link compresses). Standard library only, so it starts fast.
"""

from __future__ import annotations

import argparse
import json
import socket
import struct
import sys
import time
from collections.abc import Sequence
from typing import Any

CHUNK = 1 << 16
_ZEROS = bytes(CHUNK)


def send_msg(sock: socket.socket, header: dict[str, Any], payload_bytes: int = 0) -> None:
    """Send one frame: header (with ``n``) and ``payload_bytes`` zero bytes."""
    head = json.dumps({**header, "n": int(payload_bytes)}).encode()
    sock.sendall(struct.pack("!I", len(head)) + head)
    left = int(payload_bytes)
    view = memoryview(_ZEROS)
    while left > 0:
        k = min(left, CHUNK)
        sock.sendall(view[:k])
        left -= k


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("peer closed")
        buf += chunk
    return bytes(buf)


def recv_msg(sock: socket.socket, scratch: bytearray | None = None) -> dict[str, Any]:
    """Receive one frame; the payload is read and discarded. Returns the header."""
    (hlen,) = struct.unpack("!I", _recv_exact(sock, 4))
    header: dict[str, Any] = json.loads(_recv_exact(sock, hlen))
    left = int(header.get("n", 0))
    buf = scratch if scratch is not None else bytearray(CHUNK)
    view = memoryview(buf)
    while left > 0:
        got = sock.recv_into(view[: min(left, len(buf))])
        if got == 0:
            raise ConnectionError("peer closed mid-payload")
        left -= got
    return header


def set_congestion_control(sock: socket.socket, cc: str) -> None:
    """Per-socket TCP congestion control (the host default may be BBR, which ignores random loss)."""
    if cc:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_CONGESTION, cc.encode())


def serve(host: str, port: int, cc: str, accept_timeout_s: float = 120.0) -> int:
    """Accept the orchestrator and serve until ``bye`` or disconnect."""
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    set_congestion_control(srv, cc)
    srv.bind((host, port))
    srv.listen(1)
    srv.settimeout(accept_timeout_s)
    conn, _ = srv.accept()
    srv.close()
    conn.settimeout(None)
    set_congestion_control(conn, cc)
    scratch = bytearray(1 << 20)
    try:
        while True:
            msg = recv_msg(conn, scratch)
            op = msg.get("op")
            if op in ("data", "model"):
                continue
            if op == "train":
                t0 = time.perf_counter()
                time.sleep(max(float(msg.get("compute_s", 0.0)), 0.0))
                took = time.perf_counter() - t0
                send_msg(
                    conn, {"op": "grad", "epoch": msg.get("epoch"), "train_time_s": took}, int(msg.get("grad_bytes", 0))
                )
            elif op == "bye":
                return 0
    except ConnectionError:
        return 0
    finally:
        conn.close()


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point."""
    ap = argparse.ArgumentParser(prog="python -m edgetune.testbed.agent")
    ap.add_argument("--host", required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--cc", default="cubic", help="TCP congestion control ('' keeps the default)")
    args = ap.parse_args(argv)
    return serve(args.host, args.port, args.cc)


if __name__ == "__main__":
    sys.exit(main())
