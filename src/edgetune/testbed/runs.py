"""The fleet a testbed was built from, and the controller's accuracy check.

(Runs of Algorithm 1 on a testbed, and the simulation's prediction of them, are wired in the runs
layer: :mod:`edgetune.runs.testbed`.)

* :func:`measure_accuracy`: saturate every path with paced UDP from the orchestrator's namespace
  for a while, read the controller's served metrics every poll and compare them with the configured
  end-to-end values.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edgetune.fleet.schema import Fleet, fleet_from_dict
from edgetune.network.northbound import HttpNorthboundClient
from edgetune.testbed.netns import socket_in_netns
from edgetune.testbed.state import TestbedState
from edgetune.testbed.topology import TestbedPlan


def state_fleet(state: TestbedState) -> Fleet:
    """The fleet the testbed was built from (bandwidths capped)."""
    return fleet_from_dict(state.data["fleet"], source=str(state.path))


# ---- accuracy check ----------------------------------------------------------------------------------
def accuracy_fleet() -> Fleet:
    """The small fleet of the accuracy check: 4 nodes on 2 gateways, each path different.

    Bandwidths 6/16/10/3 Mbps, end-to-end one-way delays 10/30/5/50 ms, loss 0/2/5/1 %. Shared links
    (50 Mbps) carry every path saturated at once (35 Mbps, 45.5 Mbps with the 30 % overdrive) without being the
    bottleneck.
    """
    shared = {"bandwidth_mbps": 50.0, "delay_ms": 1.0, "loss_pct": 0.0}
    nodes = [
        (0, "gw0", 6.0, 8.5, 0.0),
        (1, "gw0", 16.0, 28.5, 2.0),
        (2, "gw1", 10.0, 3.5, 5.0),
        (3, "gw1", 3.0, 48.5, 1.0),
    ]
    return fleet_from_dict(
        {
            "setup": "accuracy-check",
            "orchestrator": {"switch": "agg0", "link": {"bandwidth_mbps": 50.0, "delay_ms": 0.5, "loss_pct": 0.0}},
            "switches": [
                {"id": "agg0", "kind": "aggregation"},
                {"id": "gw0", "kind": "gateway", "parent": "agg0", "uplink": shared},
                {"id": "gw1", "kind": "gateway", "parent": "agg0", "uplink": shared},
            ],
            "nodes": [
                {
                    "id": i,
                    "compute": 30.0,
                    "gateway": gw,
                    "link": {"bandwidth_mbps": b, "delay_ms": d, "loss_pct": loss},
                }
                for i, gw, b, d, loss in nodes
            ],
        }
    )


@dataclass
class AccuracyReport:
    """Served values against configured ones, per path.

    ``idle`` samples (no traffic but the controller's probes) are compared for delay and loss; ``load``
    samples (every path saturated) for bandwidth. Under load the shapers' queues are full, so delay
    includes queueing and the probes see congestion drops: that is the network's state then, not an
    error of the controller, and the summary reports it separately.
    """

    configured: dict[int, dict[str, float]]
    idle: dict[int, list[dict[str, float]]] = field(default_factory=dict)
    load: dict[int, list[dict[str, float]]] = field(default_factory=dict)

    def n_samples(self) -> tuple[int, int]:
        """(idle, load) samples collected over all paths."""
        return sum(len(v) for v in self.idle.values()), sum(len(v) for v in self.load.values())

    def _errors(self, nid: int, rows: list[dict[str, float]]) -> dict[str, np.ndarray]:
        cfg = self.configured[nid]
        return {
            "bandwidth_err_pct": 100.0 * (np.array([r["bandwidth_mbps"] for r in rows]) / cfg["bandwidth_mbps"] - 1),
            "delay_err_ms": np.array([r["delay_ms"] for r in rows]) - cfg["delay_ms"],
            "loss_err_points": np.array([r["loss_pct"] for r in rows]) - cfg["loss_pct"],
        }

    def summary(self) -> dict[str, Any]:
        """Per path: configured values and [min, median, max] of each error, idle and under load."""
        out: dict[str, Any] = {}
        for nid, cfg in self.configured.items():
            entry: dict[str, Any] = {"configured": cfg}
            for phase, data in (("idle", self.idle), ("load", self.load)):
                rows = data.get(nid, [])
                if not rows:
                    continue
                errs = self._errors(nid, rows)
                if phase == "idle":  # no traffic: the served bandwidth is whatever the last load left
                    errs.pop("bandwidth_err_pct")
                entry[phase] = {"samples": len(rows)} | {
                    k: [round(float(v.min()), 3), round(float(np.median(v)), 3), round(float(v.max()), 3)]
                    for k, v in errs.items()
                }
            out[str(nid)] = entry
        return out

    def failures(
        self,
        bw_tol_pct: float = 15.0,
        delay_tol_ms: float = 5.0,
        loss_tol_points: float = 5.0,
        min_delay_err_ms: float = -1.0,
    ) -> list[str]:
        """Samples outside the issue's tolerances: bandwidth +-15 % (load), delay -1..+5 ms and loss
        +-5 points (idle)."""
        bad = []
        for nid, rows in self.load.items():
            for r, e in zip(rows, self._errors(nid, rows)["bandwidth_err_pct"], strict=True):
                if abs(e) > bw_tol_pct:
                    bad.append(f"node {nid} t={r['t_s']:.1f}: bandwidth {r['bandwidth_mbps']:.2f} Mbps ({e:+.1f} %)")
        for nid, rows in self.idle.items():
            errs = self._errors(nid, rows)
            for r, e_d, e_l in zip(rows, errs["delay_err_ms"], errs["loss_err_points"], strict=True):
                if not min_delay_err_ms <= e_d <= delay_tol_ms:
                    bad.append(f"node {nid} t={r['t_s']:.1f}: delay {r['delay_ms']:.2f} ms ({e_d:+.2f})")
                if abs(e_l) > loss_tol_points:
                    bad.append(f"node {nid} t={r['t_s']:.1f}: loss {r['loss_pct']:.2f} % ({e_l:+.2f})")
        return bad


def _udp_blaster(sock: socket.socket, dest: tuple[str, int], rate_mbps: float, stop: threading.Event) -> None:
    """Send 1400-byte datagrams at ``rate_mbps`` (paced every 5 ms) until ``stop``."""
    payload = bytes(1400)
    per_s = rate_mbps * 1e6 / 8 / (len(payload) + 42)
    t0 = time.monotonic()
    sent = 0
    while not stop.is_set():
        due = int((time.monotonic() - t0) * per_s)
        while sent < due:
            with contextlib.suppress(OSError):  # local queue full: the shaper is doing its job
                sock.sendto(payload, dest)
            sent += 1
        time.sleep(0.005)


def _sample(client: HttpNorthboundClient, into: dict[int, list[dict[str, float]]]) -> None:
    for nid, m in client.path_metrics().items():
        into.setdefault(nid, []).append(
            {"t_s": client.time_s(), "bandwidth_mbps": m.bandwidth_mbps, "delay_ms": m.delay_ms, "loss_pct": m.loss_pct}
        )


def measure_accuracy(
    state_path: Path,
    idle_s: float = 30.0,
    idle_warmup_s: float = 5.0,
    load_s: float = 35.0,
    load_warmup_s: float = 5.0,
    overdrive: float = 1.3,
    poll_s: float = 0.5,
    on_sample: Callable[[tuple[int, int]], None] | None = None,
) -> AccuracyReport:
    """Sample the controller's served metrics while idle, then while every path is saturated.

    Saturation is paced UDP from every node's namespace to the orchestrator at ``overdrive`` x the
    path's configured bandwidth: UDP saturates a lossy path too (TCP would be held back by the loss).
    The uplink is used because the access port's rx counter sits after the node's uplink shaper (the
    downlink shaper is after the relay, behind the port). Load samples start ``load_warmup_s`` in.
    """
    state = TestbedState.load(state_path)
    plan = TestbedPlan.from_json(state.data["plan"])
    client = HttpNorthboundClient(state.data["services"]["northbound_url"])
    hosts = {h.node_id: h for h in plan.nodes}
    report = AccuracyReport(configured={p.node_id: dict(p.configured) for p in plan.paths})

    def loop(seconds: float, into: dict[int, list[dict[str, float]]] | None) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            time.sleep(poll_s)
            if into is not None:
                _sample(client, into)
                if on_sample is not None:
                    on_sample(report.n_samples())

    loop(idle_warmup_s, None)
    loop(idle_s, report.idle)
    stop = threading.Event()
    socks: list[socket.socket] = []
    threads: list[threading.Thread] = []
    try:
        orch = plan.orchestrator
        sink = socket_in_netns(orch.netns, socket.AF_INET, socket.SOCK_DGRAM)
        sink.bind((orch.ip, 9))  # a bound socket: no ICMP port-unreachable replies
        socks.append(sink)
        for p in plan.paths:
            src = socket_in_netns(hosts[p.node_id].netns, socket.AF_INET, socket.SOCK_DGRAM)
            socks.append(src)
            rate = overdrive * p.configured["bandwidth_mbps"]
            t = threading.Thread(target=_udp_blaster, args=(src, (orch.ip, 9), rate, stop), daemon=True)
            threads.append(t)
            t.start()
        loop(load_warmup_s, None)
        loop(load_s - load_warmup_s, report.load)
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=5)
        for s in socks:
            s.close()
    return report
