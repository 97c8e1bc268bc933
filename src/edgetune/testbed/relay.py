"""A userspace delay line between pairs of veth ends (there is no ``netem`` in this kernel).

One relay process serves every access link of a testbed. For each link ``a``/``b`` (two interfaces
in the root namespace) it opens an ``AF_PACKET`` socket on each end, and every frame that arrives on
one end is sent out of the other ``delay_ms`` later. A constant delay per direction keeps the frames
of a link in order. Outgoing copies (``PACKET_OUTGOING``) are ignored, so the relay never loops.

The relay only moves frames between interfaces the testbed created and has no address anywhere.
Run as ``python -m edgetune.testbed.relay A:B:DELAY_MS [A:B:DELAY_MS ...]``; it stops on SIGTERM.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import select
import signal
import socket
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass

ETH_P_ALL = 0x0003
SOL_PACKET = 263
PACKET_IGNORE_OUTGOING = 23
PACKET_OUTGOING = 4
RCVBUF_BYTES = 4 << 20
#: A frame waiting in a shaper's queue is charged to the socket that sent it: room for long queues.
SNDBUF_BYTES = 16 << 20
SO_SNDBUFFORCE = 32
SO_RCVBUFFORCE = 33


@dataclass(frozen=True)
class RelayLink:
    """Frames arriving on ``a`` leave by ``b`` ``delay_ms`` later, and the other way round."""

    a: str
    b: str
    delay_ms: float


def parse_links(specs: Sequence[str]) -> list[RelayLink]:
    """``["A:B:DELAY_MS", ...]`` -> links (pure; unit-tested)."""
    links = []
    for spec in specs:
        a, b, d = spec.split(":")
        delay = float(d)
        if delay < 0:
            raise ValueError(f"negative delay in {spec!r}")
        links.append(RelayLink(a, b, delay))
    return links


def _open(dev: str) -> socket.socket:
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    for opt, forced, size in (
        (socket.SO_RCVBUF, SO_RCVBUFFORCE, RCVBUF_BYTES),
        (socket.SO_SNDBUF, SO_SNDBUFFORCE, SNDBUF_BYTES),
    ):
        try:
            s.setsockopt(socket.SOL_SOCKET, forced, size)  # root may exceed net.core.*mem_max
        except OSError:
            s.setsockopt(socket.SOL_SOCKET, opt, size)
    with contextlib.suppress(OSError):  # kernels before 4.20: the pkttype check still filters them
        s.setsockopt(SOL_PACKET, PACKET_IGNORE_OUTGOING, 1)
    s.bind((dev, ETH_P_ALL))
    s.setblocking(False)
    return s


def serve(links: Sequence[RelayLink], stop: list[bool]) -> None:
    """Relay until ``stop[0]`` becomes true."""
    socks: dict[int, tuple[socket.socket, socket.socket, float]] = {}
    ep = select.epoll()
    for link in links:
        sa, sb = _open(link.a), _open(link.b)
        d = link.delay_ms / 1e3
        socks[sa.fileno()] = (sa, sb, d)
        socks[sb.fileno()] = (sb, sa, d)
        ep.register(sa.fileno(), select.EPOLLIN)
        ep.register(sb.fileno(), select.EPOLLIN)
    heap: list[tuple[float, int, socket.socket, bytes]] = []
    seq = itertools.count()
    now = time.monotonic
    while not stop[0]:
        timeout = 0.5
        if heap:
            timeout = max(0.0, heap[0][0] - now())
        try:
            events = ep.poll(timeout)
        except InterruptedError:
            continue
        t = now()
        for fd, _ev in events:
            src, dst, d = socks[fd]
            while True:
                try:
                    data, addr = src.recvfrom(65536)
                except BlockingIOError:
                    break
                if addr[2] == PACKET_OUTGOING:
                    continue
                heapq.heappush(heap, (t + d, next(seq), dst, data))
        t = now()
        while heap and heap[0][0] <= t:
            _, _, dst, data = heapq.heappop(heap)
            with contextlib.suppress(OSError):  # queue full or interface gone: lost, as on a real link
                dst.send(data)
    ep.close()
    for s, _, _ in socks.values():
        s.close()


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args:
        print("usage: python -m edgetune.testbed.relay A:B:DELAY_MS [...]", file=sys.stderr)
        return 2
    links = parse_links(args)
    stop = [False]

    def _stop(_sig: int, _frame: object) -> None:
        stop[0] = True

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    serve(links, stop)
    return 0


if __name__ == "__main__":
    sys.exit(main())
