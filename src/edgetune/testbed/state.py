"""The state file: every resource a testbed created, written the moment it is created.

``down`` removes exactly what this file lists (in reverse order) and nothing else, so a crash half-way
through ``up`` still leaves a complete inventory. Processes are recorded with their PID *and* their
start time (``/proc/<pid>/stat`` field 22), so a PID reused by someone else is never signalled.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgetune.io import atomic_write_json

#: Where state files live unless told otherwise.
STATE_DIR = Path(os.environ.get("EDGETUNE_TESTBED_DIR", "/run/edgetune-testbed"))


def default_state_path(tag: str) -> Path:
    """``<STATE_DIR>/et<tag>.json``."""
    return STATE_DIR / f"et{tag}.json"


def process_start_ticks(pid: int) -> int | None:
    """Start time of ``pid`` in clock ticks since boot, or ``None`` if there is no such process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) is in parentheses and may hold spaces: split after the last ')'.
    rest = stat.rsplit(")", 1)[1].split()
    return int(rest[19])  # field 22 overall


@dataclass
class Resource:
    """One created thing: ``kind`` in {netns, link, bridge, qdisc, nft, process}."""

    kind: str
    name: str
    netns: str = ""
    pid: int | None = None
    start_ticks: int | None = None
    info: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """Plain JSON."""
        out: dict[str, Any] = {"kind": self.kind, "name": self.name}
        if self.netns:
            out["netns"] = self.netns
        if self.pid is not None:
            out["pid"] = self.pid
            out["start_ticks"] = self.start_ticks
        if self.info:
            out["info"] = self.info
        return out


class TestbedState:
    """The inventory of one testbed, saved atomically after every change.

    Parameters
    ----------
    path : Path
        The state file.
    data : dict
        ``{"name", "plan", "created": [...], "services": {...}}``.
    """

    __test__ = False  # not a pytest class

    def __init__(self, path: Path, data: dict[str, Any]) -> None:
        self.path = Path(path)
        self.data = data

    @classmethod
    def create(cls, path: Path, name: str, plan: dict[str, Any], fleet: dict[str, Any]) -> TestbedState:
        """A new, empty inventory (refuses to overwrite another testbed's state)."""
        if path.exists():
            raise FileExistsError(f"{path} exists: testbed {name!r} is up (run `edgetune testbed down` first)")
        st = cls(path, {"name": name, "plan": plan, "fleet": fleet, "created": [], "services": {}, "phase": "building"})
        st.save()
        return st

    @classmethod
    def load(cls, path: Path) -> TestbedState:
        """Read a state file."""
        return cls(path, json.loads(Path(path).read_text()))

    def save(self) -> None:
        """Write atomically."""
        atomic_write_json(self.path, self.data)

    @property
    def created(self) -> list[Resource]:
        """Resources in creation order."""
        return [
            Resource(
                kind=r["kind"],
                name=r["name"],
                netns=r.get("netns", ""),
                pid=r.get("pid"),
                start_ticks=r.get("start_ticks"),
                info=r.get("info", {}),
            )
            for r in self.data["created"]
        ]

    def add(self, res: Resource) -> None:
        """Record one resource (and save)."""
        self.data["created"].append(res.to_json())
        self.save()

    def remove(self, res: Resource) -> None:
        """Forget one resource after it was removed (and save)."""
        js = res.to_json()
        self.data["created"] = [r for r in self.data["created"] if r != js]
        self.save()

    def set(self, key: str, value: Any) -> None:
        """Store a top-level value (and save)."""
        self.data[key] = value
        self.save()
