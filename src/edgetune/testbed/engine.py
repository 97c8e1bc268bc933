"""The testbed engine: Algorithm 1's traffic as real TCP between namespaces, times on the wall clock.

The orchestrator side lives in this process but its sockets are created inside the orchestrator's
namespace (:func:`~edgetune.testbed.netns.socket_in_netns`), so every byte crosses the testbed:
relay delay, ``tbf`` shapers, nftables loss, OVS bridges under the controller. One node agent
(:mod:`edgetune.testbed.agent`) runs in each node's namespace, started here and stopped by PID.

Per node there is one TCP connection, a sender thread (a queue of frames) and a receiver thread
(gradient frames). The engine maps the loop's calls onto it:

* :meth:`distribute` queues model + partition for every node and starts the clock;
* :meth:`train_round` queues ``train`` behind whatever the node is still receiving and waits until
  every active node's gradient has fully arrived (``arrived_s`` = when its last byte did);
* :meth:`broadcast` queues the model for every node and returns at once (it does not hold up the
  next epoch; a node starts its next epoch's compute only once it holds the model, as in the
  simulation engine).

This engine is ``testbed.compute = "modelled"`` (network-only studies); real compute on the testbed
is Flower's (:func:`edgetune.runs.testbed.run_flower_on_testbed`). Here compute is not real: a node of
compute power ``C`` sleeps ``partition_mb * compute_s_per_mb / C``
seconds, the simulation engine's formula, so compute stays scaled by compute power as in the other
engines. Payloads are the simulation workload scaled by ``payload_scale`` (default 1/1000: model
0.5 MB, data set 1 MB) so a 10-epoch run takes minutes; docs/testbed.md.
"""

from __future__ import annotations

import contextlib
import queue
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from edgetune.engines.base import BuildContext, RegisteredEngine, register_engine
from edgetune.engines.simulated import MB, SimWorkload
from edgetune.errors import InputError
from edgetune.fleet.schema import Fleet
from edgetune.orchestrator.engine import Engine, EngineReport, NodeReport, NodeUsage, RoundResult
from edgetune.testbed.agent import recv_msg, send_msg, set_congestion_control
from edgetune.testbed.build import start_process, stop_process
from edgetune.testbed.netns import socket_in_netns
from edgetune.testbed.state import Resource, TestbedState
from edgetune.testbed.topology import TestbedPlan

AGENT_PORT = 7700


def scaled_workload(payload_scale: float = 1e-3, compute_s_per_mb: float = 1.0) -> SimWorkload:
    """The paper's workload (model 500 MB, data set 1000 MB) with every byte count scaled.

    Compute time follows the bytes (``partition_mb * compute_s_per_mb / C``), so the ratio of
    compute to transfer time is the unscaled workload's at the same bandwidth.
    """
    if not 0 < payload_scale <= 1:
        raise ValueError(f"payload_scale must be in (0, 1], got {payload_scale}")
    return SimWorkload(
        model_bytes=500 * MB * payload_scale, dataset_bytes=1000 * MB * payload_scale, compute_s_per_mb=compute_s_per_mb
    )


#: How nodes compute on the testbed: ``real`` (Flower SuperNodes training for real in the node
#: namespaces, paced by compute power) or ``modelled`` (this engine's agents sleep the simulation's formula).
COMPUTE_MODES: tuple[str, ...] = ("real", "modelled")
#: Longest wait a spec may ask for (a day).
MAX_WAIT_S = 86_400.0


@dataclass(frozen=True)
class TestbedEngineConfig:
    """The ``[testbed]`` section of a run spec (``run.engine = "testbed"``), one default each.

    Attributes
    ----------
    compute : str
        ``real`` (default): a Flower SuperNode and a warm trainer per node in its namespace, each
        node's step paced to its compute power (:func:`compute_slowdowns`); ``modelled``: this
        module's agents sleep ``partition_mb * compute_s_per_mb / C`` (network-only studies).
    tcp_cc : str
        TCP congestion control of the modelled runs' transfers (the paper's Mininet hosts ran Linux's
        default, CUBIC; this host defaults to BBR).
    round_timeout_s : float
        Hard cap on one round (both modes).
    connect_timeout_s : float
        Longest wait for the node agents to accept (modelled) or the SuperNodes to identify (real).
    """

    __test__ = False

    compute: str = "real"
    tcp_cc: str = "cubic"
    round_timeout_s: float = 600.0
    connect_timeout_s: float = 600.0

    def __post_init__(self) -> None:
        if self.compute not in COMPUTE_MODES:
            raise InputError("compute", self.compute, f"choose from {', '.join(COMPUTE_MODES)}")
        if not (self.tcp_cc.isascii() and self.tcp_cc.isalnum() and 0 < len(self.tcp_cc) <= 16):
            raise InputError("tcp_cc", self.tcp_cc, "a congestion control name, e.g. cubic")
        for name in ("round_timeout_s", "connect_timeout_s"):
            value = getattr(self, name)
            if not 0 < value <= MAX_WAIT_S:
                raise InputError(name, value, f"must be positive and at most {MAX_WAIT_S:g} s")


def compute_slowdowns(fleet: Fleet) -> dict[int, float]:
    """Pacing of real compute: node ``k`` runs at ``C_k / C_max`` of the host's speed.

    Every local step is stretched to ``slowdown = C_max / C_k`` times its measured wall time (the
    trainer sleeps ``(slowdown - 1) x`` the step after it), so the fleet's most powerful node trains
    at the host's full speed and a node of half its power takes twice as long, as Eq. 1's compute
    term and the simulation engine's ``partition_mb * compute_s_per_mb / C`` assume.
    """
    top = max(n.compute for n in fleet.nodes)
    return {n.id: top / n.compute for n in fleet.nodes}


@register_engine
class TestbedEntry(RegisteredEngine):
    """The registry entry of ``run.engine = "testbed"``: its config class (``[testbed]``); never built here.

    A testbed run needs root, Open vSwitch and a testbed brought up around it, which
    :func:`~edgetune.runs.execute.run` does not do: :meth:`build` names the command that does.
    """

    name = "testbed"
    time_base = "wall"
    config_cls = TestbedEngineConfig

    @classmethod
    def build(cls, ctx: BuildContext) -> Engine:
        """Refused with the command that runs a testbed spec."""
        raise InputError(
            "run.engine", "testbed", "a testbed run needs root and a testbed: use `edgetune testbed run --fleet F ...`"
        )


class _Link:
    """One orchestrator <-> agent connection with its sender and receiver threads."""

    def __init__(self, node_id: int, sock: socket.socket, on_grad: Any) -> None:
        self.node_id = node_id
        self.sock = sock
        self.out: queue.Queue[tuple[dict[str, Any], int] | None] = queue.Queue()
        self.bytes_sent = 0
        self.bytes_received = 0
        self.error: str | None = None
        self._on_grad = on_grad
        self.sender = threading.Thread(target=self._send_loop, name=f"tb-send-{node_id}", daemon=True)
        self.receiver = threading.Thread(target=self._recv_loop, name=f"tb-recv-{node_id}", daemon=True)
        self.sender.start()
        self.receiver.start()

    def _send_loop(self) -> None:
        while True:
            item = self.out.get()
            if item is None:
                return
            header, n = item
            try:
                send_msg(self.sock, header, n)
                self.bytes_sent += n
            except OSError as exc:
                self.error = f"send failed: {exc}"
                return

    def _recv_loop(self) -> None:
        scratch = bytearray(1 << 20)
        while True:
            try:
                msg = recv_msg(self.sock, scratch)
            except (OSError, ConnectionError, ValueError) as exc:
                if self.error is None:
                    self.error = f"connection lost: {exc}"
                self._on_grad(self.node_id, None)
                return
            if msg.get("op") == "grad":
                self.bytes_received += int(msg.get("n", 0))
                self._on_grad(self.node_id, msg)

    @property
    def bytes_moved(self) -> int:
        """Payload bytes both ways so far."""
        return self.bytes_sent + self.bytes_received

    def close(self) -> None:
        self.out.put(None)
        self.sender.join(timeout=10)
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()
        self.receiver.join(timeout=10)


class TestbedEngine(Engine):
    """Algorithm 1's traffic on a running testbed (see module docstring).

    Parameters
    ----------
    fleet : Fleet
        The testbed's fleet (as built, i.e. capped; the state file holds it).
    state : TestbedState
        The running testbed (agents are recorded in it, so ``testbed down`` stops leftovers).
    workload : SimWorkload
        Usually :func:`scaled_workload`.
    config : TestbedEngineConfig
    """

    name = "testbed"
    time_base = "wall"

    def __init__(
        self,
        fleet: Fleet,
        state: TestbedState,
        workload: SimWorkload | None = None,
        config: TestbedEngineConfig | None = None,
    ) -> None:
        self.fleet = fleet
        self.state = state
        self.plan = TestbedPlan.from_json(state.data["plan"])
        self.workload = workload or scaled_workload()
        self.config = config or TestbedEngineConfig()
        self._ids = fleet.node_ids
        self._compute = {n.id: n.compute for n in fleet.nodes}
        self._t0: float | None = None
        self._links: dict[int, _Link] = {}
        self._procs: dict[int, tuple[subprocess.Popen[bytes], Resource]] = {}
        self._busy = dict.fromkeys(self._ids, 0.0)
        self._grads: queue.Queue[tuple[int, dict[str, Any] | None, float]] = queue.Queue()
        self._started = False

    # ---- set-up -------------------------------------------------------------------------------------
    def start(self) -> None:
        """Start one agent per node in its namespace and connect to each from the orchestrator's."""
        if self._started:
            return
        self._started = True
        hosts = {h.node_id: h for h in self.plan.nodes}
        logdir = self.state.path.parent
        for nid in self._ids:
            h = hosts[nid]
            cmd = [
                "ip",
                "netns",
                "exec",
                h.netns,
                sys.executable,
                "-m",
                "edgetune.testbed.agent",
                "--host",
                h.ip,
                "--port",
                str(AGENT_PORT),
                "--cc",
                self.config.tcp_cc,
            ]
            proc = start_process(self.state, f"agent-{nid}", cmd, logdir / f"{self.plan.prefix}-agents.log")
            res = next(r for r in reversed(self.state.created) if r.kind == "process" and r.pid == proc.pid)
            self._procs[nid] = (proc, res)
        for nid in self._ids:
            self._links[nid] = _Link(nid, self._connect(hosts[nid].ip, nid), self._on_grad)

    def _connect(self, ip: str, nid: int) -> socket.socket:
        deadline = time.monotonic() + self.config.connect_timeout_s
        while True:
            s = socket_in_netns(self.plan.orchestrator.netns, socket.AF_INET, socket.SOCK_STREAM)
            set_congestion_control(s, self.config.tcp_cc)
            s.settimeout(5.0)
            try:
                s.connect((ip, AGENT_PORT))
                s.settimeout(None)
                return s
            except OSError:
                s.close()
                proc = self._procs[nid][0]
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"agent of node {nid} at {ip}:{AGENT_PORT} unreachable") from None
                time.sleep(0.1)

    def _on_grad(self, nid: int, msg: dict[str, Any] | None) -> None:
        self._grads.put((nid, msg, self.now_s()))

    # ---- Engine -------------------------------------------------------------------------------------
    @property
    def node_ids(self) -> list[int]:
        """All nodes."""
        return list(self._ids)

    def now_s(self) -> float:
        """Wall seconds since distribution started (0 before)."""
        return 0.0 if self._t0 is None else time.monotonic() - self._t0

    def _partition_bytes(self) -> float:
        return self.workload.dataset_bytes / len(self._ids)

    def distribute(self, node_ids: Sequence[int]) -> None:
        """Queue model + partition for every node; the clock starts now."""
        self.start()
        self._t0 = time.monotonic()
        n = int(self.workload.model_bytes + self._partition_bytes())
        for nid in node_ids:
            self._links[nid].out.put(({"op": "data"}, n))

    def train_round(self, epoch: int, active: Sequence[int]) -> RoundResult:
        """Queue ``train`` for every active node; wait for all gradients (or the round timeout)."""
        grad = self.workload.gradient_bytes if self.workload.gradient_bytes is not None else self.workload.model_bytes
        for nid in active:
            compute_s = (self._partition_bytes() / MB) * self.workload.compute_s_per_mb / self._compute[nid]
            cmd = {"op": "train", "epoch": epoch, "compute_s": compute_s, "grad_bytes": int(grad)}
            self._links[nid].out.put((cmd, 0))
        waiting = set(active)
        reports: dict[int, NodeReport] = {}
        failed: dict[int, str] = {}
        deadline = time.monotonic() + self.config.round_timeout_s
        while waiting:
            try:
                nid, msg, at = self._grads.get(timeout=max(deadline - time.monotonic(), 0.01))
            except queue.Empty:
                for nid in waiting:
                    failed[nid] = f"no gradient within {self.config.round_timeout_s:.0f} s"
                break
            if nid not in waiting:
                continue
            if msg is None:
                failed[nid] = self._links[nid].error or "connection lost"
                waiting.discard(nid)
                continue
            if msg.get("epoch") != epoch:
                continue
            waiting.discard(nid)
            t = float(msg["train_time_s"])
            self._busy[nid] += t
            reports[nid] = NodeReport(node_id=nid, train_time_s=t, upload_bytes=int(msg.get("n", 0)), arrived_s=at)
        return RoundResult(reports=reports, failed=failed)

    def apply_update(self, result: RoundResult, learning_rate: float) -> None:
        """No real model: spend the workload's aggregation time."""
        if self.workload.aggregate_s > 0:
            time.sleep(self.workload.aggregate_s)

    def evaluate(self) -> float | None:
        """No real model: no loss."""
        return None

    def broadcast(self, node_ids: Sequence[int]) -> None:
        """Queue the model for ``node_ids``; returns at once."""
        for nid in node_ids:
            self._links[nid].out.put(({"op": "model"}, int(self.workload.model_bytes)))

    def usage(self) -> dict[int, NodeUsage]:
        """Compute seconds and bytes moved per node."""
        return {
            nid: NodeUsage(
                busy_s=self._busy[nid], bytes_moved=float(self._links[nid].bytes_moved) if nid in self._links else 0.0
            )
            for nid in self._ids
        }

    def finish(self) -> EngineReport:
        """Stop the agents (:meth:`close`) and report usage."""
        usage = self.usage()
        self.close()
        return EngineReport(usage=usage, info=self.describe())

    def describe(self) -> dict[str, Any]:
        """Engine, workload and testbed for the record."""
        return {
            "engine": self.name,
            "workload": asdict(self.workload),
            "testbed": self.plan.prefix,
            "tcp_cc": self.config.tcp_cc,
            "cap_mbps": self.plan.cap_mbps,
        }

    def close(self) -> None:
        """Say bye, close the connections, stop the agents (by PID) and forget them in the state file."""
        for link in self._links.values():
            link.out.put(({"op": "bye"}, 0))
        for link in self._links.values():
            link.close()
        self._links.clear()
        for proc, res in self._procs.values():
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                stop_process(res)
            self.state.remove(res)
        self._procs.clear()
