"""A warm ``flwr-clientapp``: Flower's own ClientApp process, forked from a process that imported it once.

Flower 1.41's ``flower-superexec`` starts the command ``flwr-clientapp`` (looked up on ``PATH``) for
every message a SuperNode receives, and importing ``flwr.supernode.cli`` costs ~2.4 CPU-seconds per
process -- most of a deployment round on a small device or a shared host. This module pays that import
once per SuperNode:

* ``python -m edgetune.flower.forkserver --dir DIR`` imports Flower's ``flwr_clientapp`` entry point
  and edgetune's ClientApp, then listens on the Unix socket ``DIR/clientapp.sock`` (``DIR`` private,
  mode 0700; peers must run as the same user, checked with ``SO_PEERCRED``).
* ``DIR/bin/flwr-clientapp`` is a small script (``python -I -S``, no site imports) that sends its
  argument list, environment and working directory over the socket together with its standard
  streams (``SCM_RIGHTS``), and exits with the status of the forked child.
* For each request the server forks; the child takes the caller's streams, arguments, environment
  and working directory and runs Flower's unchanged ``flwr_clientapp()`` -- the same code, in a
  process of its own per message, as Flower intends -- without importing anything.
* The SuperNode is started with ``DIR/bin`` first on its ``PATH``, so its ``flower-superexec`` starts
  the script instead of the console script. If the server is gone, the script runs the real
  ``flwr-clientapp`` beside this Python (slower, same result) and says so on stderr.

The server is single-threaded (no thread exists when it forks); it exits when its launcher exits.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import selectors
import signal
import socket
import stat
import struct
import sys
import time
from dataclasses import dataclass
from pathlib import Path

SOCKET = "clientapp.sock"
SHIM = "flwr-clientapp"
#: Largest request (arguments + environment) the server reads, bytes.
MAX_REQUEST_BYTES = 1 << 20

_SHIM = '''#!{python} -IS
"""flwr-clientapp through edgetune's fork server (edgetune.flower.forkserver); generated."""
import json, os, socket, sys
SOCK = {sock!r}
REAL = {real!r}
try:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(SOCK)
    body = json.dumps({{"argv": sys.argv[1:], "env": dict(os.environ), "cwd": os.getcwd()}}).encode()
    socket.send_fds(s, [len(body).to_bytes(8, "big") + body], [0, 1, 2])
except OSError as exc:
    print(f"edgetune: fork server at {{SOCK}} unreachable ({{exc}}); running {{REAL}}", file=sys.stderr)
    os.execv(REAL, [REAL, *sys.argv[1:]])
status = s.recv(16)
sys.exit(int(status) if status.strip().lstrip(b"-").isdigit() else 1)
'''


def real_clientapp() -> Path:
    """Flower's ``flwr-clientapp`` console script beside this Python."""
    return Path(sys.executable).with_name(SHIM)


def prepare_dir(folder: str | Path) -> Path:
    """Create the private folder and its ``bin/flwr-clientapp`` script; returns the ``bin`` folder."""
    root = Path(folder).resolve()
    root.mkdir(parents=True, exist_ok=True)
    os.chmod(root, 0o700)
    bindir = root / "bin"
    bindir.mkdir(exist_ok=True)
    shim = bindir / SHIM
    shim.write_text(_SHIM.format(python=sys.executable, sock=str(root / SOCKET), real=str(real_clientapp())))
    os.chmod(shim, 0o700)
    return bindir


def path_with(bindir: str | Path, path: str | None = None) -> str:
    """``PATH`` with ``bindir`` first (so superexec finds the script before the console script)."""
    rest = os.environ.get("PATH", os.defpath) if path is None else path
    return f"{bindir}{os.pathsep}{rest}"


def wait_ready(folder: str | Path, timeout_s: float) -> bool:
    """Whether the server's socket accepts connections within ``timeout_s``."""
    sock = Path(folder) / SOCKET
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if sock.exists():
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                try:
                    s.connect(str(sock))
                    s.sendall(struct.pack(">Q", 0))  # an empty request: the server drops it
                    return True
                except OSError:
                    pass
        time.sleep(0.1)
    return False


def server_command(folder: str | Path, parent_pid: int | None = None, poll_s: float | None = None) -> list[str]:
    """The command that runs the fork server of ``folder`` (``poll_s``: see :func:`serve`)."""
    cmd = [sys.executable, "-m", "edgetune.flower.forkserver", "--dir", str(folder)]
    cmd += ["--parent-pid", str(parent_pid)] if parent_pid else []
    return cmd + (["--poll-s", repr(float(poll_s))] if poll_s is not None else [])


@dataclass(frozen=True)
class Request:
    """What the ``flwr-clientapp`` script asks for: its arguments, environment and working folder."""

    argv: list[str]
    env: dict[str, str]
    cwd: str


def _read_request(conn: socket.socket) -> tuple[Request, list[int]] | None:
    """Length-prefixed JSON + the caller's three standard streams; ``None`` for an empty or bad request."""
    conn.settimeout(5.0)
    first, fds, _, _ = socket.recv_fds(conn, 65536, 3)
    if len(first) < 8:
        for fd in fds:
            os.close(fd)
        return None
    size = struct.unpack(">Q", first[:8])[0]
    body = bytearray(first[8:])
    if size == 0 or size > MAX_REQUEST_BYTES or len(fds) != 3:
        for fd in fds:
            os.close(fd)
        return None
    while len(body) < size:
        chunk = conn.recv(min(65536, size - len(body)))
        if not chunk:
            break
        body += chunk
    try:
        req = json.loads(bytes(body))
    except ValueError:
        req = None
    ok = (
        isinstance(req, dict)
        and isinstance(req.get("argv"), list)
        and all(isinstance(a, str) for a in req["argv"])
        and isinstance(req.get("env"), dict)
        and all(isinstance(k, str) and isinstance(v, str) for k, v in req["env"].items())
        and isinstance(req.get("cwd"), str)
    )
    if not ok:
        for fd in fds:
            os.close(fd)
        return None
    return Request(list(req["argv"]), dict(req["env"]), str(req["cwd"])), fds


def _child(req: Request, fds: list[int], listener: socket.socket) -> None:
    """In the forked child: become the caller's ``flwr-clientapp`` and run Flower's entry point."""
    from flwr.supernode.cli.flwr_clientapp import flwr_clientapp

    code: int = 1
    try:
        listener.close()
        for target, fd in enumerate(fds):
            os.dup2(fd, target)
            os.close(fd)
        os.environ.clear()
        os.environ.update(req.env)
        os.chdir(req.cwd)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        sys.argv = [SHIM, *req.argv]
        flwr_clientapp()
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:
        code = 1
    finally:
        with_flush = (sys.stdout, sys.stderr)
        for stream in with_flush:
            with contextlib.suppress(Exception):
                stream.flush()
        os._exit(code)


def warm_imports() -> None:
    """Import what every ``flwr-clientapp`` would otherwise import after the fork, once, here.

    Flower's ClientApp builds its Runtime API client (``RuntimeHttpClient`` over ``httpx``) only when
    it runs, and ``httpx`` imports its transport (``httpcore``, ``h11``, ``trio``, ``attrs``) only when
    a client is created: 0.55 s of a 1.03 s forked ClientApp in a cProfile of the 4-node bench. Building
    and closing the same client here (no socket is opened, no thread started) leaves the children
    nothing to import; ``tests/flower/test_forkserver.py`` checks that.
    """
    from flwr.supercore.runtime import RuntimeHttpClient

    RuntimeHttpClient.from_server_address("127.0.0.1:9", insecure=True, root_certificates=None, interceptors=[]).close()


def serve(folder: str | Path, parent_pid: int | None = None, poll_s: float | None = None) -> None:
    """Import Flower's ClientApp entry point once, then fork one child per request (never returns).

    With ``poll_s`` the children retry a message object their SuperNode has not stored yet after
    ``poll_s`` instead of Flower's 1 s (:func:`edgetune.flower.polls.shorten_object_pull_backoff`).
    """
    import flwr.supernode.cli.flwr_clientapp  # noqa: F401  (the import this server exists to pay once)

    import edgetune.flower.clientapp  # noqa: F401  (and the ClientApp the FAB names)

    warm_imports()

    if poll_s is not None:
        from edgetune.flower.polls import shorten_object_pull_backoff

        shorten_object_pull_backoff(poll_s)

    root = Path(folder).resolve()
    prepare_dir(root)
    sock_path = root / SOCKET
    sock_path.unlink(missing_ok=True)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old = os.umask(0o177)
    try:
        listener.bind(str(sock_path))
    finally:
        os.umask(old)
    listener.listen(64)
    listener.setblocking(False)
    sel = selectors.DefaultSelector()
    sel.register(listener, selectors.EVENT_READ)
    waiting: dict[int, socket.socket] = {}
    uid = os.getuid()
    while True:
        for _ in sel.select(timeout=0.05):
            try:
                conn, _ = listener.accept()
            except BlockingIOError:
                continue
            creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
            if struct.unpack("3i", creds)[1] != uid:
                conn.close()
                continue
            try:
                got = _read_request(conn)
            except OSError:
                got = None
            if got is None:
                conn.close()
                continue
            req, fds = got
            pid = os.fork()
            if pid == 0:
                _child(req, fds, listener)
            for fd in fds:
                os.close(fd)
            waiting[pid] = conn
        while waiting:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break
            if pid in waiting:
                conn = waiting.pop(pid)
                with contextlib.suppress(OSError):
                    conn.sendall(str(os.waitstatus_to_exitcode(status)).encode())
                conn.close()
        if parent_pid is not None and not _alive(parent_pid):
            return


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def main(argv: list[str] | None = None) -> int:
    """``python -m edgetune.flower.forkserver --dir DIR [--parent-pid PID]``."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dir", required=True, help="private folder (socket, bin/flwr-clientapp)")
    ap.add_argument("--parent-pid", type=int, default=None, help="exit when this process exits")
    ap.add_argument("--poll-s", type=float, default=None, help="object-pull retry delay (edgetune.flower.polls)")
    args = ap.parse_args(argv)
    root = Path(args.dir)
    if args.poll_s is not None:
        from edgetune.flower.polls import check_poll_s

        try:
            check_poll_s(args.poll_s)
        except ValueError as exc:
            print(f"edgetune: error: --poll-s={args.poll_s}: {exc}", file=sys.stderr)
            return 2
    if root.exists() and (not root.is_dir() or stat.S_IMODE(root.stat().st_mode) & 0o077):
        print(f"edgetune: error: --dir={root}: must be a private folder (mode 0700)", file=sys.stderr)
        return 2
    try:
        serve(root, args.parent_pid, args.poll_s)
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
