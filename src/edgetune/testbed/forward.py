"""A TCP forwarder from a namespace's loopback to the root namespace's: the orchestrator's management path.

The os-ken controller's northbound API listens on the host's ``127.0.0.1`` (root namespace). With
real compute the orchestrator loop runs inside a Flower ServerApp, which the SuperLink starts in the
testbed's orchestrator namespace, where the host's loopback is out of reach. :class:`Forwarder`
listens on ``127.0.0.1`` *inside* that namespace (a socket created there:
:func:`~edgetune.testbed.netns.socket_in_netns`) and pipes every connection to the controller's port
in the root namespace: the control-plane link between the orchestrator and the SDN controller, kept
off the shaped data plane (the paper's orchestrator reads the controller's northbound API; Sec. III).

It counts what it carried (connections, ``GET /v1/metrics`` requests, bytes each way), so a run can
show that the metrics it scored came from the controller.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from dataclasses import dataclass
from typing import Any

from edgetune.testbed.netns import socket_in_netns

_METRICS_REQUEST = b"GET /v1/metrics"


@dataclass
class ForwarderStats:
    """What a :class:`Forwarder` carried."""

    connections: int = 0
    metrics_requests: int = 0
    bytes_to_target: int = 0
    bytes_from_target: int = 0

    def to_json(self) -> dict[str, int]:
        """Plain JSON."""
        return {
            "connections": self.connections,
            "metrics_requests": self.metrics_requests,
            "bytes_to_target": self.bytes_to_target,
            "bytes_from_target": self.bytes_from_target,
        }


class Forwarder:
    """Listen on ``127.0.0.1:<port>`` in ``netns``; forward each connection to ``127.0.0.1:target_port``.

    Parameters
    ----------
    netns : str
        The namespace to listen in (the testbed's orchestrator namespace).
    target_port : int
        The port on the root namespace's loopback (the controller's northbound API).
    """

    def __init__(self, netns: str, target_port: int) -> None:
        self.netns = netns
        self.target_port = target_port
        self.stats = ForwarderStats()
        self._lock = threading.Lock()
        self._listener: socket.socket | None = None
        self._socks: list[socket.socket] = []
        self._threads: list[threading.Thread] = []
        self._stopped = threading.Event()
        self.port = 0

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>`` as seen from inside the namespace."""
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Forwarder:
        """Bind (inside the namespace), start accepting; returns ``self``."""
        lst = socket_in_netns(self.netns, socket.AF_INET, socket.SOCK_STREAM)
        lst.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        lst.bind(("127.0.0.1", 0))
        lst.listen(16)
        lst.settimeout(0.2)
        self._listener = lst
        self.port = int(lst.getsockname()[1])
        self._spawn(self._accept_loop, "fwd-accept")
        return self

    def _spawn(self, target: Any, name: str, *args: Any) -> None:
        t = threading.Thread(target=target, args=args, name=name, daemon=True)
        self._threads.append(t)
        t.start()

    def _accept_loop(self) -> None:
        assert self._listener is not None
        while not self._stopped.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                target = socket.create_connection(("127.0.0.1", self.target_port), timeout=5)
            except OSError:
                client.close()
                continue
            target.settimeout(None)
            client.settimeout(None)
            with self._lock:
                self.stats.connections += 1
                self._socks += [client, target]
            self._spawn(self._pump, "fwd-up", client, target, True)
            self._spawn(self._pump, "fwd-down", target, client, False)

    def _pump(self, src: socket.socket, dst: socket.socket, upstream: bool) -> None:
        while True:
            try:
                data = src.recv(65536)
            except OSError:
                data = b""
            if not data:
                with contextlib.suppress(OSError):
                    dst.shutdown(socket.SHUT_WR)
                return
            with self._lock:
                if upstream:
                    self.stats.bytes_to_target += len(data)
                    self.stats.metrics_requests += data.count(_METRICS_REQUEST)
                else:
                    self.stats.bytes_from_target += len(data)
            try:
                dst.sendall(data)
            except OSError:
                return

    def stop(self) -> None:
        """Close the listener and every connection; join the threads."""
        self._stopped.set()
        if self._listener is not None:
            self._listener.close()
        with self._lock:
            socks = list(self._socks)
        for s in socks:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()
        for t in self._threads:
            t.join(timeout=5)

    def __enter__(self) -> Forwarder:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
