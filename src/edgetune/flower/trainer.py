"""The warm trainer: a device's model, data and torch, kept alive beside its SuperNode.

Flower 1.41 runs every message in a fresh ``flwr-clientapp`` process (``flower-superexec`` starts
one per message in every deployment isolation mode; only the simulation runtime keeps ClientApps
alive). Importing torch and transformers and rebuilding the tokenizer and the data split in that
process cost ~40 s per message on a shared 2-core host. So the work moves out of it:

* ``edgetune flower join`` (and the loopback launcher, :class:`edgetune.flower.deploy.Deployment`)
  starts ``python -m edgetune.flower.trainer --dir DIR`` beside the SuperNode and passes
  ``trainer-dir=DIR`` in the SuperNode's node config. The trainer listens on the Unix socket
  ``DIR/trainer.sock`` (``DIR`` is private, mode 0700) and accepts only peers that prove they hold
  the per-node token in ``DIR/trainer.token`` (mode 0600): :mod:`multiprocessing.connection`'s
  HMAC challenge with the token as ``authkey``. Frames are :func:`edgetune.flower.codec.pack`
  (JSON header + raw arrays), never pickles.
* The trainer imports torch once, builds the task once per :class:`~edgetune.flower.task.NodeTask`
  (tokenizer, corpora, the partition), and holds the device's model between messages (what
  Algorithm 1 lines 16-17 send an eliminated node, and what a LoRA ``train`` message's adapters are
  merged into).
* The ClientApp (:mod:`edgetune.flower.clientapp`) imports flwr and NumPy only; it forwards the
  message's arrays and settings to the trainer and the trainer's reply back to Flower.

Without ``trainer-dir`` (the simulation runtime, unit tests) the ClientApp does the same work in
its own process through :class:`NodeWork` with a per-process task cache.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import signal
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Client, Connection, Listener
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from edgetune.flower.codec import State, pack, state_checksum, unpack
from edgetune.flower.task import NodeTask, TrainingTask

SOCKET = "trainer.sock"
TOKEN = "trainer.token"


@dataclass(frozen=True)
class TrainJob:
    """What one ``train`` message asks of a node (besides the arrays)."""

    spec: NodeTask
    partition_id: int
    learning_rate: float
    rng_state: str = ""
    slowdown: float = 1.0

    def header(self) -> dict[str, Any]:
        """JSON-able form (for the trainer socket)."""
        return {
            "spec": self.spec.to_config(),
            "partition": self.partition_id,
            "lr": self.learning_rate,
            "rng": self.rng_state,
            "slowdown": self.slowdown,
        }

    @classmethod
    def from_header(cls, head: Mapping[str, Any]) -> TrainJob:
        """Inverse of :meth:`header`."""
        return cls(
            NodeTask.from_config(head["spec"]),
            int(head["partition"]),
            float(head["lr"]),
            str(head.get("rng", "")),
            float(head.get("slowdown", 1.0)),
        )


@dataclass(frozen=True)
class TrainReply:
    """A node's answer to ``train``: its update and how it was made."""

    update: State
    n_tokens: int
    loss: float
    compute_s: float
    train_s: float
    checksum: str
    backend: str

    def header(self) -> dict[str, Any]:
        """JSON-able form without the arrays."""
        return {
            "n_tokens": self.n_tokens,
            "loss": self.loss,
            "compute_s": self.compute_s,
            "train_s": self.train_s,
            "checksum": self.checksum,
            "backend": self.backend,
        }


class NodeWork:
    """A device's work: the tasks it built (one per spec) and the model it holds."""

    def __init__(self) -> None:
        self.tasks: dict[NodeTask, TrainingTask] = {}
        self.held: State = {}
        self.lock = threading.Lock()

    def task(self, spec: NodeTask) -> TrainingTask:
        """The task of ``spec``, built once (tokenizer, corpus, partitions)."""
        task = self.tasks.get(spec)
        if task is None:
            import torch

            from edgetune.flower.training_task import make_task

            torch.set_num_threads(1)
            task = make_task(spec)
            self.tasks[spec] = task
        return task

    def hold(self, arrays: Mapping[str, NDArray[np.generic]]) -> str:
        """Merge ``arrays`` into the held model (a LoRA message carries only adapters); its checksum."""
        if not self.held or set(arrays) >= set(self.held):
            self.held = dict(arrays)
        else:
            unknown = set(arrays) - set(self.held)
            if unknown:
                raise ValueError(f"message carries tensors the held model lacks: {sorted(unknown)[:3]}")
            self.held.update(arrays)
        return state_checksum(self.held)

    def train(self, job: TrainJob, arrays: Mapping[str, NDArray[np.generic]]) -> TrainReply:
        """Hold the message's model, compute the local update over the partition (line 6)."""
        task = self.task(job.spec)
        if not self.held and set(arrays) != set(task.initial_state()):
            raise ValueError("this node holds no base model yet (it needs a full train.sync first)")
        checksum = self.hold(arrays)
        t0 = time.perf_counter()
        res = task.local(self.held, job.partition_id, job.learning_rate, job.rng_state)
        if job.slowdown > 1:
            time.sleep(res.compute_s * (job.slowdown - 1))
        train_s = time.perf_counter() - t0
        return TrainReply(
            res.update, res.n_tokens, res.loss, res.compute_s * job.slowdown, train_s, checksum, task.backend
        )


# -- the socket -----------------------------------------------------------------------------------------
def prepare_dir(folder: str | Path) -> tuple[Path, bytes]:
    """Create the private folder (0700) and a fresh token (0600); returns the folder and the token."""
    root = Path(folder)
    root.mkdir(parents=True, exist_ok=True)
    os.chmod(root, 0o700)
    token = secrets.token_hex(32).encode()
    path = root / TOKEN
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(token)
    return root, token


def read_token(folder: str | Path) -> bytes:
    """The token in ``folder`` (refused when others may read it)."""
    path = Path(folder) / TOKEN
    if path.stat().st_mode & 0o077:
        raise PermissionError(f"{path} is readable by others: refusing it")
    return path.read_bytes().strip()


class TrainerServer:
    """Serves one device's :class:`NodeWork` on ``DIR/trainer.sock`` (see the module docstring).

    Parameters
    ----------
    folder : Path
        The private folder holding the token; the socket is created there.
    """

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        self.work = NodeWork()
        self.requests = 0

    def handle(self, frame: bytes) -> bytes:
        """One request frame -> one reply frame (errors become ``{"error": ...}``)."""
        try:
            head, arrays = unpack(frame)
            op = head.get("op")
            with self.work.lock:
                self.requests += 1
                if op == "train":
                    reply = self.work.train(TrainJob.from_header(head), arrays)
                    return pack(reply.header(), reply.update)
                if op == "sync":
                    spec = head.get("spec")
                    checksum = self.work.hold(arrays)
                    if isinstance(spec, dict):  # build the task now, so round 1 does not wait for it
                        self.work.task(NodeTask.from_config(spec))
                    return pack({"checksum": checksum})
                if op == "ping":
                    return pack({"pid": os.getpid(), "requests": self.requests})
            return pack({"error": f"unknown op {op!r}"})
        except Exception as exc:  # the ClientApp turns it into a Flower error reply
            return pack({"error": f"{type(exc).__name__}: {exc}"})

    def _serve_one(self, conn: Connection) -> None:
        with conn:
            while True:
                try:
                    frame = conn.recv_bytes()
                except (EOFError, OSError):
                    return
                conn.send_bytes(self.handle(frame))

    def serve_forever(self, parent_pid: int | None = None) -> None:
        """Accept authenticated connections until the parent process is gone (or forever)."""
        sock = self.folder / SOCKET
        sock.unlink(missing_ok=True)
        token = read_token(self.folder)
        with Listener(str(sock), family="AF_UNIX", authkey=token) as listener:
            os.chmod(sock, 0o600)
            if parent_pid:
                threading.Thread(target=_watch_parent, args=(parent_pid,), daemon=True).start()
            threading.Thread(target=_prewarm, daemon=True).start()
            while True:
                try:
                    conn = listener.accept()
                except Exception:  # a peer without the token (AuthenticationError) or a broken one
                    continue
                threading.Thread(target=self._serve_one, args=(conn,), daemon=True).start()


def _watch_parent(pid: int) -> None:
    while True:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            os._exit(0)
        except PermissionError:
            pass
        time.sleep(1.0)


#: What building a node's task imports: torch, transformers' GPT-2 and tokenizer code, peft (LoRA),
#: edgetune's training package. ~10 of a build's ~13 CPU-seconds in one process (cProfile of a
#: ``tiny`` + LoRA build); after :func:`preload` a build imports one small module and costs ~2.4 s.
PRELOAD = (
    "torch",
    "peft",
    "tokenizers.trainers",
    "transformers.models.gpt2.modeling_gpt2",
    "transformers.tokenization_utils_tokenizers",
    "transformers.convert_slow_tokenizer",
    "transformers.modeling_gguf_pytorch_utils",
    "edgetune.engines.inprocess",
    "edgetune.flower.training_task",
    "edgetune.training.aggregate",
    "edgetune.training.local",
    "edgetune.training.partition",
    "edgetune.training.pretrain",
    "edgetune.training.sources",
    "edgetune.training.userdata",
)


def preload() -> None:
    """Import :data:`PRELOAD` (a module missing on this device is skipped: the build will say so)."""
    import importlib

    for name in PRELOAD:
        with contextlib.suppress(ImportError):
            importlib.import_module(name)


def _prewarm() -> None:
    """Import what a task build needs while the SuperNode connects."""
    with contextlib.suppress(Exception):
        preload()


def _die_with_parent() -> None:
    """Ask Linux to send this process SIGTERM when its parent dies (``PR_SET_PDEATHSIG``); no-op elsewhere."""
    with contextlib.suppress(Exception):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG = 1


def serve_many(folders: Sequence[str | Path], parent_pid: int | None = None) -> None:
    """Serve one trainer per folder, forked from one process that imported :data:`PRELOAD` once.

    For several SuperNodes on one host (the loopback launcher): every trainer would otherwise import
    torch, transformers and peft itself (~10 CPU-seconds each, most of connecting 24 nodes on 2
    cores). Each child is exactly the trainer of :func:`main` with one folder (its own socket, token,
    task and model); copy-on-write shares the imported code. The parent holds no thread when it
    forks, forwards SIGTERM to the children, and they get SIGTERM if it dies (``PR_SET_PDEATHSIG``).
    Returns when every child has exited.
    """
    preload()
    zygote = os.getpid()
    children: list[int] = []
    for folder in folders:
        pid = os.fork()
        if pid == 0:  # the child: one device's trainer
            code = 0
            try:
                signal.signal(signal.SIGTERM, signal.SIG_DFL)
                _die_with_parent()
                if os.getppid() != zygote:  # it died before the request took effect
                    os._exit(0)
                print(json.dumps({"trainer": str(Path(folder) / SOCKET), "pid": os.getpid()}), flush=True)
                TrainerServer(folder).serve_forever(parent_pid)
            except BaseException:
                code = 1
            finally:
                os._exit(code)
        children.append(pid)

    def forward(signum: int, _frame: object) -> None:
        for child in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(child, signal.SIGTERM)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    for child in children:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(child, 0)


class RemoteTrainer:
    """The ClientApp's side of the socket: one request, one reply, bounded by ``timeout_s``."""

    def __init__(self, folder: str | Path, timeout_s: float = 600.0) -> None:
        self.folder = Path(folder)
        self.timeout_s = timeout_s

    def call(
        self, header: Mapping[str, Any], arrays: Mapping[str, NDArray[np.generic]] | None = None
    ) -> tuple[dict[str, Any], State]:
        """Send one request; raise ``RuntimeError`` with the trainer's message if it failed."""
        conn = Client(str(self.folder / SOCKET), family="AF_UNIX", authkey=read_token(self.folder))
        with conn:
            conn.send_bytes(pack(header, arrays))
            if not conn.poll(self.timeout_s):
                raise TimeoutError(f"trainer did not answer within {self.timeout_s:.0f} s")
            head, state = unpack(conn.recv_bytes())
        if "error" in head:
            raise RuntimeError(f"trainer: {head['error']}")
        return head, state

    def train(self, job: TrainJob, arrays: Mapping[str, NDArray[np.generic]]) -> TrainReply:
        """``train`` on the warm trainer."""
        head, update = self.call({"op": "train", **job.header()}, arrays)
        return TrainReply(
            update,
            int(head["n_tokens"]),
            float(head["loss"]),
            float(head["compute_s"]),
            float(head["train_s"]),
            str(head["checksum"]),
            str(head["backend"]),
        )

    def hold(self, arrays: Mapping[str, NDArray[np.generic]], spec: NodeTask | None = None) -> str:
        """``sync``: the trainer holds ``arrays`` (and builds ``spec``'s task); its checksum."""
        head, _ = self.call({"op": "sync", "spec": None if spec is None else spec.to_config()}, arrays)
        return str(head["checksum"])


def wait_ready(folder: str | Path, timeout_s: float) -> bool:
    """Whether the trainer in ``folder`` answers a ping within ``timeout_s``."""
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        with contextlib.suppress(OSError, EOFError, RuntimeError):
            RemoteTrainer(folder, timeout_s=5).call({"op": "ping"})
            return True
        time.sleep(0.1)
    return False


def trainer_command(folder: str | Path | Sequence[str | Path], parent_pid: int | None = None) -> list[str]:
    """``python -m edgetune.flower.trainer --dir DIR [--dir DIR ...] [--parent-pid PID]``."""
    folders = [folder] if isinstance(folder, str | Path) else list(folder)
    cmd = [sys.executable, "-m", "edgetune.flower.trainer"]
    for one in folders:
        cmd += ["--dir", str(one)]
    if parent_pid:
        cmd += ["--parent-pid", str(parent_pid)]
    return cmd


def main(argv: list[str] | None = None) -> int:
    """Entry point: serve the trainer of one device (or, with several ``--dir``, of each) until its parent exits."""
    ap = argparse.ArgumentParser(prog="python -m edgetune.flower.trainer", description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--dir",
        required=True,
        action="append",
        help="private folder with trainer.token (the socket goes there); repeated: one forked trainer each",
    )
    ap.add_argument("--parent-pid", type=int, default=0, help="exit when this process is gone")
    args = ap.parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    if len(args.dir) > 1:
        serve_many(args.dir, args.parent_pid or None)
        return 0
    print(json.dumps({"trainer": str(Path(args.dir[0]) / SOCKET), "pid": os.getpid()}), flush=True)
    TrainerServer(args.dir[0]).serve_forever(args.parent_pid or None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
