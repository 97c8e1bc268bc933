"""The warm trainer: frames without pickle, a private socket with a token, the model it holds."""

from __future__ import annotations

import os
import stat
import threading
from multiprocessing import AuthenticationError
from multiprocessing.connection import Client
from pathlib import Path

import numpy as np
import pytest

from edgetune.flower.codec import pack, state_checksum, unpack
from edgetune.flower.task import NodeTask, SyntheticTask
from edgetune.flower.trainer import SOCKET, RemoteTrainer, TrainerServer, TrainJob, prepare_dir, wait_ready
from edgetune.training.spec import TrainingSpec


def test_frames_round_trip_and_reject_garbage() -> None:
    state = {"a": np.arange(6, dtype=np.float32).reshape(2, 3), "b": np.array([7], dtype=np.int64)}
    head, back = unpack(pack({"op": "x", "n": 3}, state))
    assert head == {"op": "x", "n": 3}
    assert list(back) == ["a", "b"] and back["a"].dtype == np.float32
    np.testing.assert_array_equal(back["a"], state["a"])
    frame = pack({}, state)
    with pytest.raises(ValueError, match="shorter"):
        unpack(frame[:-1])
    with pytest.raises(ValueError, match="longer"):
        unpack(frame + b"\0")
    with pytest.raises(ValueError, match="not an edgetune"):
        unpack(b"pickle" + frame)


def test_private_folder_and_token(tmp_path: Path) -> None:
    folder, token = prepare_dir(tmp_path / "t")
    assert stat.S_IMODE(os.stat(folder).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(folder / "trainer.token").st_mode) == 0o600
    assert len(token) == 64


@pytest.fixture
def served(tmp_path: Path) -> Path:
    folder, _ = prepare_dir(Path(os.environ.get("TMPDIR", "/tmp")) / f"et-{os.getpid()}-{tmp_path.name}"[:40])
    server = TrainerServer(folder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    assert wait_ready(folder, 10)
    return folder


def test_trainer_holds_the_model_and_trains_like_the_task(served: Path) -> None:
    task_spec = TrainingSpec(block_len=16, micro_batch=8, optimizer="sgd", lora=False)
    spec = NodeTask(task_spec, num_partitions=2, backend="synthetic")
    task = SyntheticTask(spec)
    state = task.initial_state()
    remote = RemoteTrainer(served, timeout_s=60)
    assert remote.hold(state, spec) == state_checksum(state)
    # A message with only some tensors is merged into the held model.
    name = next(iter(state))
    part = {name: state[name] + 1}
    assert remote.hold(part) == state_checksum({**state, **part})
    reply = remote.train(TrainJob(spec, 1, 0.1), state)
    want = task.local(state, 1)
    assert reply.checksum == state_checksum(state) and reply.backend == "synthetic"
    assert reply.n_tokens == want.n_tokens
    for k, v in want.update.items():
        np.testing.assert_allclose(reply.update[k], v, rtol=1e-5, atol=1e-7)
    with pytest.raises(RuntimeError, match="outside"):
        remote.train(TrainJob(spec, 5, 0.1), state)


def test_a_peer_without_the_token_is_refused(served: Path) -> None:
    with pytest.raises(AuthenticationError):
        Client(str(served / SOCKET), family="AF_UNIX", authkey=b"0" * 64)
    assert stat.S_IMODE(os.stat(served / SOCKET).st_mode) == 0o600


class _StubTask:
    """A task whose local step takes a known time (0.05 s) and reports it as its compute time."""

    backend = "stub"

    def initial_state(self) -> dict[str, np.ndarray]:
        return {"w": np.zeros(2, dtype=np.float32)}

    def local(self, held, partition_id, learning_rate, rng_state):
        import time
        from types import SimpleNamespace

        time.sleep(0.05)
        return SimpleNamespace(update={"w": np.ones(2, dtype=np.float32)}, n_tokens=8, loss=1.0, compute_s=0.05)


@pytest.mark.parametrize("slowdown", [1.0, 3.0])
def test_declared_compute_paces_the_step(slowdown: float) -> None:
    # a node of power C computes at C/C_max of the host: every step is stretched to slowdown x its time
    from edgetune.flower.trainer import NodeWork

    spec = NodeTask(
        TrainingSpec(model="tiny", train_tokens=1024, val_tokens=512), num_partitions=2, backend="synthetic"
    )
    work = NodeWork()
    work.tasks[spec] = _StubTask()  # type: ignore[assignment]
    reply = work.train(TrainJob(spec, 0, 0.1, slowdown=slowdown), {"w": np.zeros(2, dtype=np.float32)})
    assert reply.compute_s == pytest.approx(0.05 * slowdown)  # the paced compute time, exactly
    assert reply.train_s >= 0.05 * slowdown  # and the step really took that long (sleep after the step)
    assert reply.train_s < 0.05 * slowdown + 1.0


def _children(pid: int) -> set[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return {int(p) for p in path.read_text().split()} if path.exists() else set()


@pytest.mark.slow
def test_one_process_imports_once_and_forks_a_trainer_per_folder_that_stop_with_it(tmp_path: Path) -> None:
    import signal
    import subprocess

    from edgetune.flower.trainer import trainer_command

    folders = [prepare_dir(tmp_path / f"n{k}")[0] for k in range(3)]
    zygote = subprocess.Popen(trainer_command(folders, os.getpid()), stdout=subprocess.PIPE, text=True)
    try:
        assert all(wait_ready(f, 120) for f in folders)
        children = _children(zygote.pid)
        assert len(children) == 3
        # each child is one device's trainer: its own socket and token, its own held model
        for k, folder in enumerate(folders):
            remote = RemoteTrainer(folder, timeout_s=30)
            spec = NodeTask(TrainingSpec(lora=False), 0, 3, "synthetic")
            model = {"w": np.full(4, float(k), dtype=np.float32)}
            assert remote.hold(model, spec) == state_checksum(model)
        with pytest.raises(AuthenticationError):
            Client(str(folders[0] / SOCKET), family="AF_UNIX", authkey=b"0" * 64)
        zygote.send_signal(signal.SIGTERM)  # forwarded: every trainer stops with it
        assert zygote.wait(timeout=30) == 0
        assert not any(Path(f"/proc/{c}").exists() and "zombie" not in _state(c) for c in children)
    finally:
        if zygote.poll() is None:
            zygote.kill()
            zygote.wait()
    pids = [json_pid(line) for line in (zygote.stdout.read() if zygote.stdout else "").splitlines() if line.strip()]
    assert sorted(pids) == sorted(children)


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/status").read_text().lower()
    except OSError:
        return "zombie"


def json_pid(line: str) -> int:
    import json

    return int(json.loads(line)["pid"])
