"""The state file: every resource a testbed created, written the moment it is created.

``down`` removes exactly what this file lists (in reverse order) and nothing else, so a crash half-way
through ``up`` still leaves a complete inventory. Processes are recorded with their PID *and* their
start time (``/proc/<pid>/stat`` field 22), so a PID reused by someone else is never signalled.

A state file is validated on load (:class:`StateSchema`): it may only name resources under the
testbed's own prefix ``et<name>`` (namespaces, links, bridges, qdiscs, the nft table inside its own
namespaces), log files ``et<name>-*.log`` in the state file's own folder, and processes with a PID and
their start time. So a crafted or corrupt state file is one error line, and ``down`` cannot be made to
delete another file or signal another process (``build.stop_process`` also checks the process's
command line and environment).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, ValidationError, model_validator

from edgetune.errors import InputError, from_pydantic
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


#: The nft table the testbed creates in its namespaces for loss (``shaping.py``).
NFT_TABLE = "edgetune_loss"
#: Bounds of a state file (a testbed of 200 nodes lists a few thousand resources).
MAX_STATE_BYTES = 16 * 2**20
MAX_RESOURCES = 100_000
KINDS = ("netns", "link", "bridge", "qdisc", "nft", "process", "file")
_TAG = r"^[a-z0-9]{1,4}$"
_IFNAME = Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{1,15}$")]


class ResourceSchema(BaseModel):
    """One entry of ``created``."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["netns", "link", "bridge", "qdisc", "nft", "process", "file"]
    name: Annotated[str, Field(min_length=1, max_length=4096, pattern=r"^[^\x00\n]+$")]
    netns: _IFNAME | Literal[""] = ""
    pid: Annotated[StrictInt, Field(ge=2, le=2**22)] | None = None
    start_ticks: Annotated[StrictInt, Field(ge=0)] | None = None
    info: dict[str, Any] = {}

    @model_validator(mode="after")
    def _process(self) -> ResourceSchema:
        if (self.kind == "process") != (self.pid is not None):
            raise ValueError("pid belongs to a process entry, and every process entry has one")
        if self.pid is not None and self.start_ticks is None:
            raise ValueError("a process entry needs start_ticks (its PID alone proves nothing)")
        return self


class StateSchema(BaseModel):
    """A state file (types); :func:`validate_state` also checks that it names only the testbed's own things."""

    model_config = ConfigDict(extra="allow")

    name: Annotated[str, Field(pattern=_TAG)]
    plan: dict[str, Any] = {}
    fleet: dict[str, Any] = {}
    created: Annotated[list[ResourceSchema], Field(max_length=MAX_RESOURCES)]
    services: dict[str, Any] = {}
    phase: str = ""


def _check_ours(state: StateSchema) -> tuple[str, str, str] | None:
    """The first entry naming something outside the testbed's prefix: (field, value, reason), or None."""
    prefix = f"et{state.name}"
    ifname = re.compile(re.escape(prefix) + "[A-Za-z0-9_.-]{0," + str(15 - len(prefix)) + "}")
    for i, r in enumerate(state.created):
        where = f"created[{i}]"
        if r.netns and not ifname.fullmatch(r.netns):
            return f"{where}.netns", r.netns, f"not one of the testbed's namespaces ({prefix}*)"
        if r.kind == "qdisc" and r.netns:  # inside one of the testbed's own namespaces: any device name
            if not re.fullmatch(r"[A-Za-z0-9_.-]{1,15}", r.name):
                return f"{where}.name", r.name, "not a network device name"
        elif r.kind in ("netns", "link", "bridge", "qdisc") and not ifname.fullmatch(r.name):
            return f"{where}.name", r.name, f"not a {r.kind} of the testbed ({prefix}*, at most 15 characters)"
        peer = r.info.get("peer")
        if r.kind == "link" and peer is not None and not (isinstance(peer, str) and ifname.fullmatch(peer)):
            return f"{where}.info.peer", str(peer), f"not a link of the testbed ({prefix}*)"
        if r.kind == "nft" and (r.name != f"ip {NFT_TABLE}" or not r.netns):
            return f"{where}.name", r.name, f"only the table 'ip {NFT_TABLE}' in one of the testbed's namespaces"
        if r.kind == "file" and not re.fullmatch(re.escape(prefix) + r"-[a-z0-9-]+\.log", Path(r.name).name):
            return f"{where}.name", r.name, f"not one of the testbed's log files ({prefix}-*.log)"
    return None


def validate_state(data: Any, path: Path) -> dict[str, Any]:
    """Check a state document (see :class:`StateSchema`); log files must lie beside the state file."""
    try:
        state = StateSchema.model_validate(data)
    except ValidationError as exc:
        raise from_pydantic(exc, str(path)) from None
    bad = _check_ours(state)
    if bad is not None:
        raise InputError(f"{path}: {bad[0]}", bad[1], bad[2])
    folder = Path(os.path.abspath(path)).parent
    for i, r in enumerate(data["created"]):
        if r["kind"] == "file" and Path(os.path.abspath(r["name"])).parent != folder:
            raise InputError(f"{path}: created[{i}].name", r["name"], f"the testbed's log files live in {folder}")
    return dict(data)


def read_state(path: Path) -> dict[str, Any]:
    """Read and validate a state file (a regular JSON file of at most MAX_STATE_BYTES, the schema)."""
    from edgetune.inputs import load_json

    data = load_json(path, "--state", MAX_STATE_BYTES)  # bounded: regular file, size, UTF-8, depth
    if not isinstance(data, dict):
        raise InputError("--state", str(path), f"not a state file (a JSON {type(data).__name__}, not an object)")
    return validate_state(data, Path(path))


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
        """Read and validate a state file (:func:`read_state`)."""
        return cls(path, read_state(path))

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
