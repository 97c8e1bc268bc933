"""The run folder: what a run leaves on disk, written so that nothing is ever half-written.

Layout (docs/runs.md)::

    DIR/spec.toml      the fully resolved run spec; ``edgetune run DIR/spec.toml`` replays the run
    DIR/fleet.yaml     the fleet that ran
    DIR/record.json    the run record with "status": running | complete | interrupted | failed
    DIR/epochs.jsonl   one line per finished epoch (the epoch's record), appended and flushed
    DIR/epochs.csv     the same, one row per epoch
    DIR/checkpoint/    state.pkl + state.sha256: what ``edgetune run --resume DIR`` continues from
    DIR/tensorboard/   scalars, with --tensorboard

``record.json``, ``spec.toml``, ``fleet.yaml``, ``epochs.csv`` and the checkpoint are replaced
atomically (temporary file + rename); ``epochs.jsonl`` grows by whole lines, each flushed and fsynced.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import pickle
from pathlib import Path
from typing import Any

from edgetune.errors import InputError
from edgetune.fleet.schema import Fleet, save_fleet
from edgetune.io import atomic_write_bytes, atomic_write_json, atomic_write_text
from edgetune.orchestrator.record import EpochRecord, RunRecord

CSV_COLUMNS = (
    "epoch",
    "start_s",
    "end_s",
    "epoch_time_s",
    "loss",
    "active",
    "eliminated",
    "failed",
    "rejoined",
    "upload_bytes",
)
CHECKPOINT_VERSION = 1


class RunFolder:
    """Writes (and reads back) one run folder.

    Parameters
    ----------
    path : Path
    tensorboard : bool
        Also write TensorBoard scalars (loss, active nodes, epoch time, energy per epoch).
    """

    def __init__(self, path: str | Path, tensorboard: bool = False) -> None:
        self.path = Path(path)
        self.tensorboard = tensorboard
        self._tb: Any = None

    # -- files ---------------------------------------------------------------------------------------------
    @property
    def record_path(self) -> Path:
        """``record.json``."""
        return self.path / "record.json"

    @property
    def epochs_path(self) -> Path:
        """``epochs.jsonl``."""
        return self.path / "epochs.jsonl"

    @property
    def checkpoint_path(self) -> Path:
        """``checkpoint/state.pkl``."""
        return self.path / "checkpoint" / "state.pkl"

    def check_writable(self) -> None:
        """Refuse a path that exists and is not a folder (before any work)."""
        if self.path.exists() and not self.path.is_dir():
            raise InputError("--out", str(self.path), "exists and is not a folder")

    def start(self, spec_toml: str, fleet: Fleet, record: RunRecord, epochs: list[EpochRecord] | None = None) -> None:
        """Write spec, fleet and a ``running`` record; start ``epochs.jsonl`` (from ``epochs`` when resuming)."""
        self.path.mkdir(parents=True, exist_ok=True)
        atomic_write_text(self.path / "spec.toml", spec_toml)
        save_fleet(fleet, self.path / "fleet.yaml")
        done = epochs or []
        atomic_write_text(self.epochs_path, "".join(json.dumps(e.to_json()) + "\n" for e in done))
        self._write_csv(done)
        self.write_record(record)
        if self.tensorboard:
            from tensorboardX import SummaryWriter

            self._tb = SummaryWriter(str(self.path / "tensorboard"))

    def write_record(self, record: RunRecord) -> None:
        """Replace ``record.json`` atomically."""
        atomic_write_json(self.record_path, record.to_json())

    def append_epoch(self, ep: EpochRecord, record: RunRecord) -> None:
        """One finished epoch: a flushed line of ``epochs.jsonl``, the CSV, TensorBoard scalars."""
        line = json.dumps(ep.to_json()) + "\n"
        with self.epochs_path.open("a", encoding="utf-8") as fh:
            fh.write(line)
            fh.flush()
            os.fsync(fh.fileno())
        self._write_csv(record.epochs)
        if self._tb is not None:
            self._tb.add_scalar("active_nodes", len(ep.active), ep.epoch)
            self._tb.add_scalar("epoch_time_s", ep.end_s - ep.start_s, ep.epoch)
            if ep.loss is not None:
                self._tb.add_scalar("loss", ep.loss, ep.epoch)
            self._tb.flush()

    def add_energy(self, epoch: int, energy_j: float) -> None:
        """Energy of one epoch (TensorBoard only)."""
        if self._tb is not None:
            self._tb.add_scalar("energy_per_epoch_j", energy_j, epoch)

    def _write_csv(self, epochs: list[EpochRecord]) -> None:
        buf = io.StringIO()
        w = csv.writer(buf)
        w.writerow(CSV_COLUMNS)
        for e in epochs:
            w.writerow(
                [
                    e.epoch,
                    e.start_s,
                    e.end_s,
                    e.end_s - e.start_s,
                    "" if e.loss is None else e.loss,
                    " ".join(map(str, e.active)),
                    " ".join(map(str, e.eliminated)),
                    " ".join(map(str, sorted(e.failed))),
                    " ".join(map(str, e.rejoined)),
                    e.upload_bytes,
                ]
            )
        atomic_write_text(self.path / "epochs.csv", buf.getvalue())

    def close(self) -> None:
        """Close TensorBoard's writer."""
        if self._tb is not None:
            self._tb.close()
            self._tb = None

    # -- checkpoints ---------------------------------------------------------------------------------------
    def save_checkpoint(self, state: dict[str, Any]) -> None:
        """Pickle ``state`` with a SHA-256 beside it (a checkpoint is written whole or not at all)."""
        data = pickle.dumps({"version": CHECKPOINT_VERSION, **state}, protocol=pickle.HIGHEST_PROTOCOL)
        digest = hashlib.sha256(data).hexdigest()
        atomic_write_bytes(self.checkpoint_path, data)
        atomic_write_text(self.checkpoint_path.with_suffix(".sha256"), digest + "\n")

    def load_checkpoint(self) -> dict[str, Any]:
        """Read the checkpoint back; a missing or corrupt one is refused in one line (InputError).

        The digest is checked before unpickling, so only a checkpoint this code wrote is loaded.
        """
        where = str(self.path)
        try:
            data = self.checkpoint_path.read_bytes()
            want = self.checkpoint_path.with_suffix(".sha256").read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            raise InputError("--resume", where, "no checkpoint in this folder (nothing to resume)") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError("--resume", where, f"cannot read the checkpoint: {exc}") from None
        if hashlib.sha256(data).hexdigest() != want:
            raise InputError("--resume", where, "checkpoint is corrupt (checksum mismatch); start the run again")
        try:
            state: dict[str, Any] = pickle.loads(data)
        except Exception as exc:  # a checksum-valid but unreadable pickle: code changed since
            raise InputError("--resume", where, f"checkpoint unreadable by this version: {exc}") from None
        if state.get("version") != CHECKPOINT_VERSION:
            raise InputError("--resume", where, f"checkpoint version {state.get('version')} not supported")
        return state
