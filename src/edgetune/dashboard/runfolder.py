"""Reading a run folder (record.json, fleet.yaml, epochs.jsonl) safely while a run may still write it.

The run folder contract (issue 10): ``record.json`` is rewritten atomically (at start with
``"status": "running"`` and no epochs, at the end complete); ``epochs.jsonl`` gets one
``EpochRecord.to_json()`` line appended and flushed per finished epoch; ``fleet.yaml`` is the fleet
that ran. While a run is live, ``epochs.jsonl`` is the source of truth for finished epochs.

Everything read here is bounded: only regular files are opened (a FIFO or a device is refused
without blocking, since the file is opened with ``O_NONBLOCK`` and checked with ``fstat``), each file
has a byte cap, ``epochs.jsonl`` is read incrementally from the last complete line, a partially
written last line waits for its newline, and lines that are not UTF-8, not JSON, not an epoch object
or longer than the line cap are skipped and counted.
"""

from __future__ import annotations

import json
import os
import stat
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from edgetune.errors import InputError
from edgetune.fleet.schema import Fleet, fleet_from_dict

RECORD_NAME = "record.json"
FLEET_NAME = "fleet.yaml"
EPOCHS_NAME = "epochs.jsonl"

#: Largest record.json read (a 10,000-node, 10-epoch record is about 20 MB).
MAX_RECORD_BYTES = 64 * 1024 * 1024
#: Largest fleet.yaml read.
MAX_FLEET_BYTES = 16 * 1024 * 1024
#: Largest single line of epochs.jsonl (one epoch of a 10,000-node run is about 2 MB).
MAX_LINE_BYTES = 16 * 1024 * 1024
#: Most bytes of epochs.jsonl read in one refresh (the rest is read by the next refreshes).
MAX_READ_BYTES = 64 * 1024 * 1024
#: Most bytes of epochs.jsonl read over the life of a folder.
MAX_EPOCHS_BYTES = 1024 * 1024 * 1024
#: Most epochs kept.
MAX_EPOCHS = 100_000
#: Keys every epoch line must have.
#: PyYAML's safe loader, the C one (about 10x faster on a 10,000-node fleet) where libyaml is built in.
_YAML_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
EPOCH_KEYS = ("epoch", "start_s", "end_s", "active", "metrics", "scores", "eliminated")


def read_regular(path: Path, max_bytes: int, offset: int = 0) -> bytes:
    """Read at most ``max_bytes`` of ``path`` from ``offset``; refuse anything but a regular file.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    InputError
        If ``path`` is not a regular file (a FIFO, a device, a folder).
    """
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)  # a FIFO with no writer must not block the open
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise InputError(str(path), _kind(os.fstat(fd).st_mode), "not a regular file")
        if offset:
            os.lseek(fd, offset, os.SEEK_SET)
        chunks: list[bytes] = []
        left = max_bytes
        while left > 0:
            chunk = os.read(fd, min(left, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def _kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "fifo"
    if stat.S_ISDIR(mode):
        return "directory"
    if stat.S_ISSOCK(mode):
        return "socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "device"
    return "special file"


def _signature(path: Path) -> tuple[int, int, int] | None:
    """(inode, size, mtime_ns) of a path, or None if it does not exist."""
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns)


def load_record_file(path: Path) -> dict[str, Any]:
    """record.json as a JSON object (bounded, regular file only)."""
    data = read_regular(path, MAX_RECORD_BYTES + 1)
    if len(data) > MAX_RECORD_BYTES:
        raise InputError(str(path), f"> {MAX_RECORD_BYTES} bytes", "record too large to serve")
    try:
        doc = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(str(path), "<json>", f"not valid UTF-8 JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise InputError(str(path), type(doc).__name__, "a run record must be a JSON object")
    return doc


def load_fleet_file(path: Path) -> Fleet:
    """fleet.yaml validated by the fleet schema (bounded, regular file only)."""
    data = read_regular(path, MAX_FLEET_BYTES + 1)
    if len(data) > MAX_FLEET_BYTES:
        raise InputError(str(path), f"> {MAX_FLEET_BYTES} bytes", "fleet file too large")
    try:
        doc = yaml.load(data.decode("utf-8"), Loader=_YAML_LOADER)  # safe loader; libyaml's when present
    except (UnicodeDecodeError, yaml.YAMLError) as exc:
        raise InputError(str(path), "<yaml>", f"malformed: {str(exc).splitlines()[0]}") from None
    return fleet_from_dict(doc, source=path.name)


def check_run_folder(path: Path, field_name: str = "RUN_DIR") -> Path:
    """Check that ``path`` is a readable run folder; raises :class:`InputError` naming ``field_name``.

    A run folder is a directory with a ``record.json`` (a JSON object) and a ``fleet.yaml`` (a valid
    fleet); ``epochs.jsonl`` may not exist yet. Every file must be a regular file.
    """
    if not path.exists():
        raise InputError(field_name, str(path), "no such folder")
    if not path.is_dir():
        raise InputError(field_name, str(path), "not a folder")
    for name in (RECORD_NAME, FLEET_NAME):
        if not (path / name).exists():
            raise InputError(field_name, str(path), f"not a run folder: no {name}")
    for name, loader in ((RECORD_NAME, load_record_file), (FLEET_NAME, load_fleet_file)):
        try:
            loader(path / name)
        except InputError as exc:
            raise InputError(field_name, str(path), f"{name}: {exc.reason}") from None
        except OSError as exc:
            raise InputError(field_name, str(path), f"{name}: cannot read: {exc.strerror}") from None
    epochs = path / EPOCHS_NAME
    if epochs.exists() and not epochs.is_file():
        raise InputError(field_name, str(path), f"{EPOCHS_NAME} is not a regular file")
    return path


@dataclass
class SkippedLines:
    """Lines of epochs.jsonl that were not used, by reason."""

    non_utf8: int = 0
    bad_json: int = 0
    not_epoch: int = 0
    too_long: int = 0

    def to_json(self) -> dict[str, int]:
        """Counts by reason."""
        return {
            "non_utf8": self.non_utf8,
            "bad_json": self.bad_json,
            "not_epoch": self.not_epoch,
            "too_long": self.too_long,
        }


@dataclass
class _Tail:
    """Incremental reader state of epochs.jsonl."""

    inode: int | None = None
    offset: int = 0
    total_read: int = 0
    skipping: bool = False  # inside an over-long line: drop bytes until its newline
    skipped: SkippedLines = field(default_factory=SkippedLines)


def parse_epoch_line(line: bytes, skipped: SkippedLines) -> dict[str, Any] | None:
    """One epochs.jsonl line as an epoch object, or None (and a count in ``skipped``)."""
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError:
        skipped.non_utf8 += 1
        return None
    if not text.strip():
        return None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError:
        skipped.bad_json += 1
        return None
    if not isinstance(doc, dict) or any(k not in doc for k in EPOCH_KEYS) or not _valid_epoch(doc):
        skipped.not_epoch += 1
        return None
    return doc


def _valid_epoch(doc: dict[str, Any]) -> bool:
    ep = doc["epoch"]
    if not isinstance(ep, int) or isinstance(ep, bool) or not 1 <= ep <= MAX_EPOCHS:
        return False
    nums = (doc["start_s"], doc["end_s"])
    if not all(isinstance(x, int | float) and not isinstance(x, bool) for x in nums):
        return False
    return (
        isinstance(doc["active"], list)
        and isinstance(doc["eliminated"], list)
        and isinstance(doc["metrics"], dict)
        and isinstance(doc["scores"], dict)
    )


class RunFolder:
    """A run folder being watched: the record, the fleet and the epochs finished so far.

    Parameters
    ----------
    path : Path
        The run folder.
    min_refresh_s : float
        :meth:`refresh` does nothing if the last one was less than this long ago (many live
        clients share one reader).
    """

    def __init__(self, path: Path, min_refresh_s: float = 0.1) -> None:
        self.path = path
        self.min_refresh_s = min_refresh_s
        self._lock = threading.Lock()
        self._last_refresh = -1e18
        self._record_sig: tuple[int, int, int] | None = None
        self._fleet_sig: tuple[int, int, int] | None = None
        self._record: dict[str, Any] = {}
        self._fleet: Fleet | None = None
        self._jsonl_epochs: dict[int, dict[str, Any]] = {}
        self._tail = _Tail()
        self._version = 0
        self.errors: list[str] = []  # latest problem reading each file, for the API

    # ------------------------------------------------------------------------------------------
    def refresh(self, force: bool = False) -> int:
        """Re-read whatever changed; returns a version number that grows when anything changed."""
        with self._lock:
            now = time.monotonic()
            if not force and now - self._last_refresh < self.min_refresh_s:
                return self._version
            self._last_refresh = now
            errors: list[str] = []
            changed = self._refresh_record(errors) | self._refresh_fleet(errors) | self._refresh_epochs(errors)
            self.errors = errors
            if changed:
                self._version += 1
            return self._version

    def _refresh_record(self, errors: list[str]) -> bool:
        path = self.path / RECORD_NAME
        sig = _signature(path)
        if sig == self._record_sig:
            return False
        try:
            record = load_record_file(path)
        except (InputError, OSError) as exc:  # keep the last good record (a non-atomic writer mid-way)
            errors.append(f"{RECORD_NAME}: {exc}")
            return False
        self._record_sig = sig
        self._record = record
        return True

    def _refresh_fleet(self, errors: list[str]) -> bool:
        path = self.path / FLEET_NAME
        sig = _signature(path)
        if sig == self._fleet_sig:
            return False
        try:
            fleet = load_fleet_file(path)
        except (InputError, OSError) as exc:
            errors.append(f"{FLEET_NAME}: {exc}")
            return False
        self._fleet_sig = sig
        self._fleet = fleet
        return True

    def _refresh_epochs(self, errors: list[str]) -> bool:
        path = self.path / EPOCHS_NAME
        sig = _signature(path)
        tail = self._tail
        if sig is None:
            return False
        if not (self.path / EPOCHS_NAME).is_file():
            errors.append(f"{EPOCHS_NAME}: not a regular file; not read")
            return False
        inode, size, _ = sig
        changed = False
        if tail.inode != inode or size < tail.offset:  # replaced or truncated (e.g. a resumed run): start over
            skipped = tail.skipped
            self._tail = tail = _Tail(inode=inode, skipped=skipped)
            if self._jsonl_epochs:
                self._jsonl_epochs = {}
                changed = True
        if size == tail.offset:
            return changed
        budget = min(MAX_READ_BYTES, MAX_EPOCHS_BYTES - tail.total_read)
        if budget <= 0:
            errors.append(f"{EPOCHS_NAME}: read cap of {MAX_EPOCHS_BYTES} bytes reached; later epochs not shown")
            return changed
        try:
            data = read_regular(path, budget, tail.offset)
        except (InputError, OSError) as exc:
            errors.append(f"{EPOCHS_NAME}: {exc}")
            return changed
        end = data.rfind(b"\n")
        if end < 0:  # no complete line yet
            if len(data) > MAX_LINE_BYTES or (tail.skipping and data):
                tail.skipping = True
                tail.offset += len(data)
                tail.total_read += len(data)
            return changed
        complete = data[: end + 1]
        lines = complete.split(b"\n")[:-1]
        for k, line in enumerate(lines):
            if k == 0 and tail.skipping:  # the end of an over-long line
                tail.skipping = False
                tail.skipped.too_long += 1
                continue
            if len(line) > MAX_LINE_BYTES:
                tail.skipped.too_long += 1
                continue
            doc = parse_epoch_line(line, tail.skipped)
            if doc is not None and (doc["epoch"] in self._jsonl_epochs or len(self._jsonl_epochs) < MAX_EPOCHS):
                self._jsonl_epochs[doc["epoch"]] = doc
                changed = True
        tail.offset += len(complete)
        tail.total_read += len(complete)
        rest = len(data) - len(complete)
        if rest > MAX_LINE_BYTES:  # a partial last line already over the cap: skip it
            tail.skipping = True
            tail.offset += rest
            tail.total_read += rest
        return changed

    # ------------------------------------------------------------------------------------------
    @property
    def version(self) -> int:
        """Grows whenever anything read changed."""
        return self._version

    def snapshot(self) -> tuple[dict[str, Any], Fleet | None, list[dict[str, Any]], dict[str, int]]:
        """(record without epochs, fleet, epochs in order, skipped-line counts), consistent with each other.

        Epochs come from epochs.jsonl; a finished run folder without one (or with fewer lines than
        the record) falls back on the record's own ``epochs`` for the epochs missing from the file.
        """
        with self._lock:
            record = {k: v for k, v in self._record.items() if k != "epochs"}
            merged: dict[int, dict[str, Any]] = {}
            rec_epochs = self._record.get("epochs")
            if isinstance(rec_epochs, list):
                for e in rec_epochs[:MAX_EPOCHS]:
                    if isinstance(e, dict) and all(k in e for k in EPOCH_KEYS) and _valid_epoch(e):
                        merged[e["epoch"]] = e
            merged.update(self._jsonl_epochs)
            epochs = [merged[k] for k in sorted(merged)]
            return record, self._fleet, epochs, self._tail.skipped.to_json()
