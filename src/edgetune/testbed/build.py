"""Bring a testbed plan up, and tear exactly it down.

``up`` records every resource in the state file the moment it exists (namespaces, veth pairs, OVS
bridges, qdiscs, nft tables, processes with PID + start time, log files); ``down`` walks that list
backwards and removes each item, signalling only processes whose PID *and* start time match what was
recorded. Nothing is ever looked up by a broad pattern: no ``mn -c``, no "delete everything named
et*". If ``up`` fails half-way, it tears down what it had built before raising.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgetune.fleet.schema import Fleet
from edgetune.testbed import netns, ovs, shaping
from edgetune.testbed.estimator import EstimatorConfig
from edgetune.testbed.state import Resource, TestbedState, process_start_ticks
from edgetune.testbed.system import TestbedError, list_bridges, list_links, list_netns, run
from edgetune.testbed.topology import TestbedPlan, plan_testbed, testbed_fleet

STATE_ENV = "EDGETUNE_TESTBED_STATE"
CONFIG_ENV = "EDGETUNE_TESTBED_CONTROLLER"


def controller_command(of_port: int) -> list[str]:
    """Argument list that starts os-ken's manager with the testbed app on ``127.0.0.1:<of_port>``."""
    return [
        sys.executable,
        "-c",
        "import sys; from os_ken.cmd.manager import main; sys.exit(main())",
        "--ofp-listen-host",
        "127.0.0.1",
        "--ofp-tcp-listen-port",
        str(of_port),
        "edgetune.testbed.controller_app",
    ]


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_process(
    state: TestbedState, role: str, cmd: Sequence[str], log: Path, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """Start ``cmd`` in its own session with output to ``log``; record PID, start time and log file."""
    log.parent.mkdir(parents=True, exist_ok=True)
    if not any(r.kind == "file" and r.name == str(log) for r in state.created):
        state.add(Resource(kind="file", name=str(log)))
    with open(log, "ab") as fh:
        proc = subprocess.Popen(
            list(cmd),
            stdout=fh,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            # STATE_ENV marks every process as this testbed's: `down` signals only processes carrying it
            env={**os.environ, STATE_ENV: str(state.path), **(env or {})},
        )
    state.add(
        Resource(
            kind="process",
            name=role,
            pid=proc.pid,
            start_ticks=process_start_ticks(proc.pid),
            info={"cmd": list(cmd)[:6]},
        )
    )
    return proc


#: What the command line of a process a testbed starts contains: edgetune's own modules, the os-ken
#: controller, Flower's SuperLink / SuperNode (``edgetune testbed run`` with Flower).
TESTBED_PROGRAMS = ("edgetune", "os_ken", "flwr", "flower-")


def _proc_strings(pid: int, what: str) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/{what}").read_bytes()
    except OSError:
        return []
    return [x.decode("utf-8", "replace") for x in raw.split(b"\0") if x]


def proven_ours(res: Resource, state_path: Path | None = None) -> bool:
    """Whether the live process at ``res.pid`` is the one the state recorded: same start time (field 22 of
    /proc/PID/stat), a command line running one of :data:`TESTBED_PROGRAMS`, and (given ``state_path``)
    this testbed's state file in its environment (``STATE_ENV``; :func:`start_process` sets it, and any
    other code that records a process in the state must start it with ``STATE_ENV`` too)."""
    if res.pid is None or res.start_ticks is None:
        return False
    if process_start_ticks(res.pid) != res.start_ticks:
        return False
    cmdline = _proc_strings(res.pid, "cmdline")
    if not any(mark in a for a in cmdline for mark in TESTBED_PROGRAMS):
        return False
    if state_path is None:
        return True
    marks = {
        os.path.abspath(e.split("=", 1)[1]) for e in _proc_strings(res.pid, "environ") if e.startswith(f"{STATE_ENV}=")
    }
    return os.path.abspath(state_path) in marks


def stop_process(res: Resource, timeout_s: float = 5.0, state_path: Path | None = None) -> bool:
    """SIGTERM (then SIGKILL) the recorded process, only if it is proven the same process (:func:`proven_ours`)."""
    pid = res.pid
    if pid is None:
        return True
    ticks = process_start_ticks(pid)
    if ticks is None or not proven_ours(res, state_path):
        return True  # gone, or the PID now belongs to someone else: not ours to signal
    for sig, wait in ((signal.SIGTERM, timeout_s), (signal.SIGKILL, 2.0)):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return True
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            try:  # reap if it is our child
                if os.waitpid(pid, os.WNOHANG)[0] == pid:
                    return True
            except ChildProcessError:
                pass
            if process_start_ticks(pid) != ticks:
                return True
            time.sleep(0.05)
    return process_start_ticks(pid) != ticks


@dataclass(frozen=True)
class UpOptions:
    """Knobs of ``up``."""

    cap_mbps: float = 50.0
    estimator: EstimatorConfig = field(default_factory=EstimatorConfig)
    http_port: int = 0  # 0: pick a free one
    ready_timeout_s: float = 30.0


def _wait(
    what: str, cond: Any, timeout_s: float, proc: subprocess.Popen[bytes] | None = None, log: Path | None = None
) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if cond():
            return
        if proc is not None and proc.poll() is not None:
            tail = log.read_text(errors="replace")[-2000:] if log and log.exists() else ""
            raise TestbedError(f"{what}: process exited with {proc.returncode}\n{tail}")
        time.sleep(0.2)
    raise TestbedError(f"timed out after {timeout_s:.0f} s waiting for {what}")


def _http_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=2) as resp:
        return json.loads(resp.read())


def up(fleet: Fleet, tag: str, state_path: Path, options: UpOptions | None = None) -> TestbedState:
    """Build the testbed of ``fleet`` under prefix ``et<tag>``; return its state (controller measuring).

    On any failure everything already created is torn down before the error propagates.
    """
    opts = options or UpOptions()
    plan = plan_testbed(fleet, tag, opts.cap_mbps)
    capped = testbed_fleet(fleet, opts.cap_mbps)
    state = TestbedState.create(state_path, tag, plan.to_json(), capped.model_dump(mode="json"))
    try:
        _build(state, plan, opts)
    except BaseException:
        down(state_path)
        raise
    return state


def _build(state: TestbedState, plan: TestbedPlan, opts: UpOptions) -> None:
    of_port = free_port()
    http_port = opts.http_port or free_port()
    logdir = state.path.parent
    ctrl_log = logdir / f"{plan.prefix}-controller.log"
    env = {
        STATE_ENV: str(state.path),
        CONFIG_ENV: json.dumps({"http_port": http_port, "estimator": opts.estimator.__dict__}),
    }
    ctrl = start_process(state, "controller", controller_command(of_port), ctrl_log, env)
    state.set("services", {"of_port": of_port, "northbound_url": f"http://127.0.0.1:{http_port}"})

    hosts = [plan.orchestrator, *plan.nodes]
    for h in hosts:
        netns.add_netns(state, h.netns)
    for a, b in plan.veths:
        netns.add_veth(state, a, b)
    temp_to_host = {h.temp: h for h in hosts}
    for a, b in plan.veths:
        for dev in (a, b):
            if dev not in temp_to_host:
                netns.offloads_off(dev)
                netns.link_up(dev)
    for h in hosts:
        netns.move_into(h.temp, h.netns, f"{h.ip}/16", h.mac)
    for h in plan.nodes:
        netns.add_neighbor(h.netns, plan.orchestrator.ip, plan.orchestrator.mac)
        netns.add_neighbor(plan.orchestrator.netns, h.ip, h.mac)

    # The delay line runs before any bridge exists, so the first probe already crosses it.
    relay_cmd = [sys.executable, "-m", "edgetune.testbed.relay", *(f"{r.a}:{r.b}:{r.delay_ms}" for r in plan.relays)]
    start_process(state, "relay", relay_cmd, logdir / f"{plan.prefix}-relay.log")
    _wait("the controller to listen", lambda: _port_open(of_port), opts.ready_timeout_s, ctrl, ctrl_log)
    for br in plan.bridges:
        ovs.add_bridge(state, br.name, br.dpid, of_port)
        for port, ofport in br.ports.items():
            ovs.add_port(br.name, port, ofport)
    for s in plan.shapers:
        shaping.add_shaper(state, s)
    shaping.add_loss_rules(state, plan.loss_rules)

    def connected() -> bool:
        for b in plan.bridges:
            uuid = run(["ovs-vsctl", "--timeout=5", "get", "bridge", b.name, "controller"], check=False).strip("[] \n")
            if (
                not uuid
                or run(["ovs-vsctl", "--timeout=5", "get", "controller", uuid, "is_connected"], check=False).strip()
                != "true"
            ):
                return False
        return True

    _wait("every bridge to connect to the controller", connected, opts.ready_timeout_s, ctrl, ctrl_log)
    url = state.data["services"]["northbound_url"]

    def measuring() -> bool:
        try:
            doc = _http_json(url + "/v1/metrics")
        except OSError:
            return False
        return len(doc.get("paths", {})) == len(plan.paths)

    _wait("the controller to measure every path", measuring, opts.ready_timeout_s, ctrl, ctrl_log)
    state.set("phase", "up")


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def down(state_path: Path) -> list[str]:
    """Remove everything the state file lists, newest first; delete the state file. Returns what was done."""
    state = TestbedState.load(state_path)
    done: list[str] = []
    errors: list[str] = []
    for res in reversed(state.created):
        try:
            _remove(res, state.path)
            done.append(
                f"{res.kind} {res.name}"
                + (f" (pid {res.pid})" if res.pid else "")
                + (f" in {res.netns}" if res.netns else "")
            )
            state.remove(res)
        except (TestbedError, OSError) as exc:
            errors.append(f"{res.kind} {res.name}: {exc}")
    if errors:
        raise TestbedError("teardown incomplete (state file kept):\n" + "\n".join(errors))
    state.path.unlink(missing_ok=True)
    return done


def _remove(res: Resource, state_path: Path | None = None) -> None:
    if res.kind == "process":
        if not stop_process(res, state_path=state_path):
            raise TestbedError(f"process {res.pid} did not stop")
    elif res.kind == "nft":
        if res.netns in list_netns():
            run(["nft", "delete", "table", *res.name.split()], netns=res.netns, check=False)
    elif res.kind == "qdisc":
        if res.netns:
            if res.netns in list_netns():
                run(["tc", "qdisc", "del", "dev", res.name, "root"], netns=res.netns, check=False)
        elif res.name in list_links():
            run(["tc", "qdisc", "del", "dev", res.name, "root"], check=False)
    elif res.kind == "bridge":
        ovs.del_bridge(res.name)
    elif res.kind == "link":
        netns.del_link(res.name)
    elif res.kind == "netns":
        netns.del_netns(res.name)
    elif res.kind == "file":
        p = Path(res.name)
        if p.is_symlink() or p.is_file():  # the state schema keeps it to et<tag>-*.log beside the state file
            p.unlink()
    else:
        raise TestbedError(f"unknown resource kind {res.kind!r}")


def leftovers(state_data: dict[str, Any]) -> list[str]:
    """What of a (former) state file's inventory still exists on the machine (empty after ``down``)."""
    have_ns, have_links, have_br = set(list_netns()), set(list_links()), set(list_bridges())
    out = []
    for r in state_data["created"]:
        kind, name = r["kind"], r["name"]
        if (
            (kind == "netns" and name in have_ns)
            or (kind == "link" and name in have_links)
            or (kind == "bridge" and name in have_br)
        ):
            out.append(f"{kind} {name}")
        elif kind == "link" and r.get("info", {}).get("peer") in have_links:
            out.append(f"link {r['info']['peer']}")
        elif (
            kind == "process"
            and r.get("pid")
            and proven_ours(Resource("process", name, pid=r["pid"], start_ticks=r.get("start_ticks")))
        ):
            out.append(f"process {name} (pid {r['pid']})")
        elif kind in ("nft", "qdisc") and r.get("netns") and r["netns"] in have_ns:
            out.append(f"{kind} {name} in {r['netns']}")
        elif kind == "qdisc" and not r.get("netns") and name in have_links:
            out.append(f"qdisc on {name}")
        elif kind == "file" and Path(name).exists():
            out.append(f"file {name}")
    return out


def load_plan(state_path: Path) -> tuple[TestbedState, TestbedPlan]:
    """A running testbed's state and plan."""
    state = TestbedState.load(state_path)
    return state, TestbedPlan.from_json(state.data["plan"])
