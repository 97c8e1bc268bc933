"""Process management for Flower deployments: SuperLink, SuperNodes and their helpers, ``flwr run``.

:class:`Deployment` starts a SuperLink and any number of SuperNodes as child processes (each in a
session of its own, so that stopping one stops its ``flower-superexec`` / ``flwr-clientapp``
children and nothing else), submits the edgetune app with ``flwr run`` and stops exactly the
processes it started. What each process is told (environment, command line, app folder) is
:mod:`edgetune.flower.commands`. The SuperLink always binds 127.0.0.1 (Flower 1.41 serves run
submission on the same port as the Fleet API); a non-loopback ``host`` is served by the
Fleet-API-only gateway (:mod:`edgetune.flower.gateway`) and needs TLS files or ``insecure_exposure``.

Beside every SuperNode it starts the device's warm trainer (:mod:`edgetune.flower.trainer`, a
private folder with a socket and a token, named in the node config as ``trainer-dir``), so the
per-message ``flwr-clientapp`` process stays thin, and the ``flwr-clientapp`` fork server
(:mod:`edgetune.flower.forkserver`, first on the SuperNode's ``PATH``), so that process starts without
importing Flower again. :meth:`Deployment.start_supernodes` starts the helpers of all nodes at once
and then the SuperNodes, so their imports overlap. SuperNodes start through
:mod:`edgetune.flower.supernode_launch` with Flower's fixed waits capped at
:attr:`Deployment.supernode_poll_s` (the run spec's ``[flower] supernode_poll_s``).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from edgetune.flower.commands import (
    LOOPBACK,
    TASK_POLL_S,
    TLSFiles,
    flower_env,
    flwr_run_command,
    gateway_command,
    is_loopback,
    superlink_command,
    supernode_command,
    write_app,
    write_connection,
    write_run_config,
)
from edgetune.flower.polls import DEFAULT_POLL_S


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def wait_for_port(host: str, port: int, timeout_s: float, netns: str = "") -> bool:
    """Poll until ``host:port`` accepts a TCP connection or ``timeout_s`` passes (from inside ``netns``)."""
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if netns:  # a socket of that namespace: bash's /dev/tcp under `ip netns exec`
            probe = ["ip", "netns", "exec", netns, "bash", "-c", f": </dev/tcp/{host}/{port}"]
            if subprocess.run(probe, capture_output=True, timeout=10, check=False).returncode == 0:
                return True
        else:
            with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=1):
                return True
        time.sleep(0.2)
    return False


@dataclass
class _Proc:
    name: str
    popen: subprocess.Popen[bytes]
    log: TextIO
    log_path: Path


@dataclass
class Deployment:
    """A SuperLink and SuperNodes started by this process, stopped by :meth:`stop` (only those).

    Parameters
    ----------
    workdir : Path
        Logs, the app folder and one ``FLWR_HOME`` per process live here.
    host : str
        Address the SuperLink binds (loopback by default).
    port : int
        SuperLink HTTP port (0: a free one).
    tls : TLSFiles
    env : mapping
        Extra environment for every process.
    warm : bool
        Start a warm trainer beside every SuperNode (default); ``False``: the ClientApp trains in
        its own per-message process (Flower's plain behaviour; for the benchmark's "before").
    task_poll_s : float
        ``FLWR_SUPEREXEC_TASK_POLL_INTERVAL`` of every process.
    netns : mapping
        Network namespace per process home (``"superlink"``, ``"cli"``, a SuperNode's name, which its
        trainer shares): those processes run under ``ip netns exec NS`` (the SDN testbed).
    supernode_poll_s : float
        Longest fixed wait of every SuperNode and ClientApp (:mod:`edgetune.flower.polls`; the run
        spec's ``[flower] supernode_poll_s``); ``None``: Flower's own waits (3 s idle pull).
    fork_clientapp : bool
        Start a fork server beside every SuperNode (:mod:`edgetune.flower.forkserver`) and put its
        ``flwr-clientapp`` script first on the SuperNode's ``PATH`` (default); ``False``: every
        message pays Flower's full ``flwr-clientapp`` start (for the benchmark's "before").
    insecure_exposure : bool
        Allow a non-loopback :attr:`host` without TLS (the CLI's ``--insecure``). Whatever
        :attr:`host` is, the SuperLink itself binds 127.0.0.1 and only the Fleet API is exposed,
        through :mod:`edgetune.flower.gateway` (Flower 1.41 serves the Control API, i.e. run
        submission, on the same port).
    """

    workdir: Path
    host: str = "127.0.0.1"
    port: int = 0
    tls: TLSFiles = field(default_factory=TLSFiles)
    env: Mapping[str, str] = field(default_factory=dict)
    warm: bool = True
    task_poll_s: float = TASK_POLL_S
    fork_clientapp: bool = True
    supernode_poll_s: float | None = DEFAULT_POLL_S
    insecure_exposure: bool = False
    procs: dict[str, _Proc] = field(default_factory=dict)
    netns: Mapping[str, str] = field(default_factory=dict)
    link_port: int = 0

    def __post_init__(self) -> None:
        self.workdir = Path(self.workdir).resolve()
        self.workdir.mkdir(parents=True, exist_ok=True)
        if not is_loopback(self.host) and self.tls.insecure and not self.insecure_exposure:
            raise ValueError(f"exposing the Fleet API on {self.host} needs TLS files or insecure_exposure=True")
        if self.port == 0:
            self.port = free_port(self.host)
        self.link_port = self.port if is_loopback(self.host) else free_port(LOOPBACK)

    @property
    def address(self) -> str:
        """``host:port`` devices dial (the SuperLink on loopback, else its Fleet API gateway)."""
        return f"{self.host}:{self.port}"

    @property
    def link_address(self) -> str:
        """``host:port`` of the SuperLink itself (all of its APIs): loopback unless :attr:`host` is."""
        return self.address if is_loopback(self.host) else f"{LOOPBACK}:{self.link_port}"

    def _env(self, home: str) -> dict[str, str]:
        env = {**os.environ, **flower_env(self.task_poll_s), **self.env, "FLWR_HOME": str(self.workdir / home)}
        env.setdefault("OMP_NUM_THREADS", "1")
        env.setdefault("TOKENIZERS_PARALLELISM", "false")
        return env

    def _netns_prefix(self, home: str) -> list[str]:
        ns = self.netns.get(home, "")
        return ["ip", "netns", "exec", ns] if ns else []

    def _start(self, name: str, cmd: Sequence[str], home: str, extra_env: Mapping[str, str] | None = None) -> _Proc:
        if name in self.procs and self.procs[name].popen.poll() is None:
            raise RuntimeError(f"{name} is already running")
        log_path = self.workdir / f"{name}.log"
        log = open(log_path, "ab")  # noqa: SIM115  (closed in stop)
        popen = subprocess.Popen(
            self._netns_prefix(home) + list(cmd),
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**self._env(home), **(extra_env or {})},
            cwd=self.workdir,
            start_new_session=True,
        )
        proc = _Proc(name, popen, log, log_path)  # type: ignore[arg-type]
        self.procs[name] = proc
        return proc

    def start_superlink(self, timeout_s: float = 60.0, node_auth: bool = False) -> None:
        """Start the SuperLink and wait until its port answers."""
        host = self.host if is_loopback(self.host) else LOOPBACK
        ns = self.netns.get("superlink", "")
        self._start("superlink", superlink_command(host, self.link_port, self.tls, node_auth), "superlink")
        if not wait_for_port(host, self.link_port, timeout_s, ns):
            self.stop()
            raise RuntimeError(f"SuperLink did not open {self.link_address} within {timeout_s:.0f} s")
        if not is_loopback(self.host):
            self._start("gateway", gateway_command(self.address, self.link_address, self.tls), "superlink")
            if not wait_for_port(self.host, self.port, timeout_s, ns):
                self.stop()
                raise RuntimeError(f"Fleet API gateway did not open {self.address} within {timeout_s:.0f} s")

    def start_trainer(self, name: str, timeout_s: float = 60.0) -> Path:
        """Start the warm trainer of SuperNode ``name``; returns its private folder once it answers."""
        from edgetune.flower.trainer import wait_ready

        folder = self._spawn_trainer(name)
        if not wait_ready(folder, timeout_s):
            raise RuntimeError(
                f"trainer of {name} did not answer within {timeout_s:.0f} s: {self.tail(name + '-trainer')}"
            )
        return folder

    def start_forkserver(self, name: str, timeout_s: float = 60.0) -> Path:
        """Start the ``flwr-clientapp`` fork server of SuperNode ``name``; returns the ``bin`` folder for ``PATH``."""
        from edgetune.flower.forkserver import wait_ready

        bindir = self._spawn_forkserver(name)
        if not wait_ready(bindir.parent, timeout_s):
            raise RuntimeError(
                f"fork server of {name} did not answer within {timeout_s:.0f} s: {self.tail(name + '-clientapp')}"
            )
        return bindir

    def _spawn_trainers(self, names: Sequence[str]) -> dict[str, tuple[Path, str]]:
        """Warm trainers for ``names``: name -> (private folder, log name).

        Several nodes in this host's own network namespace share one process that imports torch,
        transformers and peft once and forks a trainer per node (``trainer --dir A --dir B ...``,
        :func:`edgetune.flower.trainer.serve_many`); a node in a namespace of its own (the SDN
        testbed) gets its own process there.
        """
        from edgetune.flower.trainer import prepare_dir, trainer_command

        shared = [n for n in names if not self.netns.get(n)]
        if len(shared) < 2:
            shared = []
        out = {n: (self._spawn_trainer(n), f"{n}-trainer") for n in names if n not in shared}
        if shared:
            folders = [prepare_dir(self.workdir / f"{n}-trainer")[0] for n in shared]
            log_name = f"{shared[0]}..{shared[-1]}-trainers"
            self._start(log_name, trainer_command(folders, os.getpid()), shared[0])
            out.update({n: (f, log_name) for n, f in zip(shared, folders, strict=True)})
        return out

    def _spawn_trainer(self, name: str) -> Path:
        from edgetune.flower.trainer import prepare_dir, trainer_command

        folder, _ = prepare_dir(self.workdir / f"{name}-trainer")
        self._start(f"{name}-trainer", trainer_command(folder, os.getpid()), name)
        return folder

    def _spawn_forkserver(self, name: str) -> Path:
        from edgetune.flower.forkserver import prepare_dir, server_command

        folder = self.workdir / f"{name}-clientapp"
        bindir = prepare_dir(folder)
        self._start(f"{name}-clientapp", server_command(folder, os.getpid(), self.supernode_poll_s), name)
        return bindir

    def start_supernode(self, name: str, node_config: Mapping[str, Any], auth_private_key: str | None = None) -> int:
        """Start one SuperNode (and, if :attr:`warm`, its trainer first); returns the SuperNode's PID."""
        return self.start_supernodes([(name, node_config)], auth_private_key)[0]

    def start_supernodes(
        self,
        nodes: Sequence[tuple[str, Mapping[str, Any]]],
        auth_private_key: str | None = None,
        timeout_s: float | None = None,
    ) -> list[int]:
        """Start SuperNodes ``(name, node config)``; returns their PIDs.

        Every node's helpers (warm trainer, fork server) are started at once, then waited for, then
        every SuperNode: the processes' imports overlap instead of running one node after another.
        ``timeout_s`` bounds the wait for all helpers (default 60 s + 5 s per node).
        """
        from edgetune.flower.forkserver import path_with
        from edgetune.flower.forkserver import wait_ready as forkserver_ready
        from edgetune.flower.trainer import wait_ready as trainer_ready

        planned: list[tuple[str, dict[str, Any], dict[str, str]]] = []
        waits: list[tuple[str, Any, Path, str]] = []  # what, ready(folder, timeout), folder, log name
        need = [name for name, cfg in nodes if self.warm and "trainer-dir" not in cfg]
        trainers = self._spawn_trainers(need)
        for name, node_config in nodes:
            cfg = dict(node_config)
            if name in trainers:
                folder, log_name = trainers[name]
                cfg["trainer-dir"] = str(folder)
                waits.append((f"trainer of {name}", trainer_ready, folder, log_name))
            extra: dict[str, str] = {}
            if self.fork_clientapp:
                bindir = self._spawn_forkserver(name)
                extra["PATH"] = path_with(bindir, self._env(name).get("PATH"))
                waits.append((f"fork server of {name}", forkserver_ready, bindir.parent, f"{name}-clientapp"))
            planned.append((name, cfg, extra))
        bound_s = 60.0 + 5.0 * len(nodes) if timeout_s is None else timeout_s
        end = time.monotonic() + bound_s
        for what, ready, folder, log_name in waits:
            if not ready(folder, max(end - time.monotonic(), 0.1)):
                raise RuntimeError(f"{what} did not answer within {bound_s:.0f} s: {self.tail(log_name)}")
        pids: list[int] = []
        ports: set[int] = set()
        for name, cfg, extra in planned:
            port = free_port()
            while port in ports:  # free_port closes its probe: never hand one port to two SuperNodes
                port = free_port()
            ports.add(port)
            # beside the SuperLink (same network namespace): straight to its loopback port; from another
            # namespace (the SDN testbed's nodes): through the Fleet API address, i.e. the gateway
            same_ns = self.netns.get(name, "") == self.netns.get("superlink", "")
            superlink = self.link_address if same_ns else self.address
            cmd = supernode_command(superlink, cfg, port, self.tls, auth_private_key, self.supernode_poll_s)
            pids.append(self._start(name, cmd, name, extra).popen.pid)
        return pids

    def submit(self, run_config: Mapping[str, Any], timeout_s: float = 120.0) -> str:
        """Write the app, point ``flwr`` at this SuperLink and start a run; returns ``flwr``'s output."""
        app = write_app(self.workdir / "app", run_config)
        rc = write_run_config(self.workdir / "run-config.toml", run_config)
        write_connection(self.workdir / "cli", self.link_address, self.tls.insecure, self.tls.ca_certfile)
        out = subprocess.run(
            self._netns_prefix("cli") + flwr_run_command(app, rc),
            env=self._env("cli"),
            cwd=self.workdir,
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )
        text = out.stdout + out.stderr
        if out.returncode != 0 or "Successfully started run" not in text:
            raise RuntimeError(f"flwr run failed (exit {out.returncode}): {text.strip()[-2000:]}")
        return text

    def alive(self, name: str) -> bool:
        """Whether the named process is still running."""
        p = self.procs.get(name)
        return p is not None and p.popen.poll() is None

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        """Signal the named process's session (the process and the children it started)."""
        p = self.procs[name]
        if p.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(p.popen.pid, sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            p.popen.wait(timeout=10)

    def stop(self, grace_s: float = 10.0) -> None:
        """Stop every process this deployment started, and their descendants (TERM, then KILL after ``grace_s``).

        Flower detaches some children into sessions of their own (the SuperLink's ``flower-superexec``
        and the ``flwr-serverapp`` it starts), so signalling our processes' sessions is not enough: the
        descendants are collected first (from ``/proc``) and signalled by PID. SIGTERM reaches the
        ServerApp, which writes its partial record (``interrupted``).
        """
        running = [p for p in self.procs.values() if p.popen.poll() is None]
        tree = _descendants([p.popen.pid for p in running])
        for p in running:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(p.popen.pid, signal.SIGTERM)
        for pid in tree:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGTERM)
        end = time.monotonic() + grace_s
        for p in self.procs.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                p.popen.wait(timeout=max(end - time.monotonic(), 0.1))
        while tree and time.monotonic() < end and any(_alive(pid) for pid in tree):
            time.sleep(0.1)
        for p in running:
            # The session may still hold children (superexec, clientapp) after its leader exited.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(p.popen.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                p.popen.wait(timeout=5)
        for pid in tree:
            if _alive(pid):
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
        for p in self.procs.values():
            p.log.close()

    def tail(self, name: str, lines: int = 30) -> str:
        """Last lines of a process's log (for error messages)."""
        p = self.procs.get(name)
        if p is None or not p.log_path.exists():
            return ""
        return "\n".join(p.log_path.read_text(errors="replace").splitlines()[-lines:])

    def __enter__(self) -> Deployment:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as fh:
            return fh.read().rpartition(")")[2].split()[0] != "Z"
    except OSError:
        return False


def _descendants(roots: Sequence[int]) -> list[int]:
    """PIDs of every descendant of ``roots`` (Linux ``/proc``; children first seen, deepest last)."""
    parent: dict[int, int] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", encoding="utf-8") as fh:
                fields = fh.read().rpartition(")")[2].split()
            parent[int(entry.name)] = int(fields[1])
        except (OSError, ValueError, IndexError):
            continue
    children: dict[int, list[int]] = {}
    for pid, ppid in parent.items():
        children.setdefault(ppid, []).append(pid)
    out: list[int] = []
    todo = list(roots)
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def wait_for_file(path: Path, timeout_s: float, also: Sequence[Path] = (), poll_s: float = 0.5) -> Path | None:
    """Return the first of ``path`` / ``also`` to exist within ``timeout_s``, else ``None``."""
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        for p in (path, *also):
            if p.exists():
                return p
        time.sleep(poll_s)
    return None
