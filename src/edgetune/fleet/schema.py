"""The fleet file: a validated YAML description of the paper's topology.

Topology (node-elimination paper, Sec. IV-A): every edge node hangs from a *gateway* switch (the
gateway router of its domain); gateways hang from an *aggregation* switch; the aggregation switch
connects to the server hosting the AI orchestrator::

    node --access link--> gateway --gateway uplink--> aggregation --core link--> orchestrator

Each link carries ``bandwidth_mbps``, ``delay_ms`` (one-way) and ``loss_pct``. Values are those
without fine-tuning traffic; the network model adds load and background variation at run time.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from edgetune.errors import InputError, from_pydantic

#: Bounds of every number of a fleet file, declared once: ``name -> (low, high)``. Numbers are finite,
#: booleans are not numbers, and a physical quantity that must be positive has a positive floor (so a
#: denormal such as 5e-324 cannot turn into an infinite time downstream).
BOUNDS: dict[str, tuple[float, float]] = {
    "bandwidth_mbps": (1e-6, 1e7),  # 1 bit/s .. 10 Tbit/s
    "delay_ms": (0.0, 3.6e6),  # .. one hour
    "loss_pct": (0.0, 100.0),  # upper end excluded
    "compute": (1e-6, 1e9),
    "power_w": (0.0, 1e6),
    "radio_j_per_mb": (0.0, 1e6),
    "node_id": (0, 2**31 - 1),
    "seed": (0, 2**63 - 1),
}
#: Longest name or id string in a fleet file.
MAX_NAME_CHARS = 256


def _number(name: str, description: str, default: float | None = None, **extra: Any) -> Any:
    """A finite, strictly typed float field bounded by ``BOUNDS[name]``."""
    lo, hi = BOUNDS[name]
    bounds: dict[str, float] = {"ge": lo, "le": hi}
    bounds.update(extra)
    if "lt" in extra:
        bounds.pop("le")
    kwargs: dict[str, Any] = {"strict": True, "allow_inf_nan": False, "description": description, **bounds}
    return Field(**kwargs) if default is None else Field(default, **kwargs)


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", str_max_length=MAX_NAME_CHARS)


class LinkSpec(_Frozen):
    """One network link, as configured without fine-tuning traffic."""

    bandwidth_mbps: float = _number("bandwidth_mbps", "capacity in megabits per second")
    delay_ms: float = _number("delay_ms", "one-way propagation + processing delay in milliseconds")
    loss_pct: float = _number("loss_pct", "packet loss rate in percent", 0.0, lt=100.0)


class OrchestratorSpec(_Frozen):
    """The server hosting the AI orchestrator, behind the aggregation switch named in ``switch``."""

    name: str = "orchestrator"
    switch: str
    link: LinkSpec


class SwitchSpec(_Frozen):
    """A gateway (domain) switch or the aggregation switch; ``uplink`` leads towards the orchestrator."""

    id: str
    kind: Literal["gateway", "aggregation"]
    parent: str | None = Field(default=None, description="aggregation switch above a gateway")
    uplink: LinkSpec | None = Field(default=None, description="gateway -> aggregation link")


class NodeSpec(_Frozen):
    """An edge node: its compute power, power draw and access link to its gateway."""

    id: int = Field(strict=True, ge=BOUNDS["node_id"][0], le=BOUNDS["node_id"][1])
    name: str = ""
    compute: float = _number("compute", "compute power C (paper units; see docs/network.md)")
    idle_power_w: float = _number("power_w", "power draw while idle, watts", 2.5)
    busy_power_w: float = _number("power_w", "power draw while training, watts", 8.0)
    radio_j_per_mb: float = _number("radio_j_per_mb", "radio energy per megabyte moved, joules", 0.1)
    gateway: str
    link: LinkSpec


@dataclass(frozen=True)
class FleetArrays:
    """Per-node columns of a fleet in file order (one numpy array per field), built once per fleet.

    Code that touches every node (the simulator, the orchestrator's metrics, the energy model) reads
    these rather than ``fleet.nodes``, so a million-node fleet costs array operations, not a Python
    loop per node and epoch.
    """

    ids: NDArray[np.int64]
    compute: NDArray[np.float64]
    idle_power_w: NDArray[np.float64]
    busy_power_w: NDArray[np.float64]
    radio_j_per_mb: NDArray[np.float64]

    def positions(self, node_ids: Any) -> NDArray[np.int64]:
        """Positions of ``node_ids`` in these columns (``KeyError`` for an unknown id)."""
        ids = np.asarray(node_ids, dtype=np.int64).reshape(-1)
        order = np.argsort(self.ids, kind="stable")
        sorted_ids = self.ids[order]
        at = np.minimum(np.searchsorted(sorted_ids, ids), max(sorted_ids.shape[0] - 1, 0))
        bad = sorted_ids[at] != ids if sorted_ids.size else np.ones(ids.shape, dtype=bool)
        if bad.any():
            raise KeyError(int(ids[np.flatnonzero(bad)[0]]))
        return np.asarray(order[at], dtype=np.int64)


class Fleet(_Frozen):
    """A whole fleet file."""

    version: Literal[1] = 1
    setup: str = "custom"
    seed: int | None = Field(default=None, strict=True, ge=BOUNDS["seed"][0], le=BOUNDS["seed"][1])
    orchestrator: OrchestratorSpec
    switches: list[SwitchSpec]
    nodes: list[NodeSpec] = Field(min_length=1)

    @model_validator(mode="after")
    def _check_references(self) -> Fleet:
        ids = [n.id for n in self.nodes]
        if len(set(ids)) != len(ids):
            dup = next(i for i in ids if ids.count(i) > 1)
            raise ValueError(f"duplicate node id {dup}")
        by_id = {s.id: s for s in self.switches}
        if len(by_id) != len(self.switches):
            raise ValueError("duplicate switch id")
        agg = by_id.get(self.orchestrator.switch)
        if agg is None or agg.kind != "aggregation":
            raise ValueError(f"orchestrator.switch {self.orchestrator.switch!r} is not an aggregation switch")
        for s in self.switches:
            if s.kind == "gateway":
                parent = by_id.get(s.parent or "")
                if parent is None or parent.kind != "aggregation":
                    raise ValueError(f"gateway {s.id!r} has no aggregation parent (parent={s.parent!r})")
                if s.uplink is None:
                    raise ValueError(f"gateway {s.id!r} has no uplink")
        for n in self.nodes:
            sw = by_id.get(n.gateway)
            if sw is None or sw.kind != "gateway":
                raise ValueError(f"node {n.id} hangs from unknown gateway {n.gateway!r}")
        return self

    # Convenience views -------------------------------------------------------------------------------
    @property
    def node_ids(self) -> list[int]:
        """Node ids in file order."""
        return [n.id for n in self.nodes]

    def arrays(self) -> FleetArrays:
        """The per-node columns (:class:`FleetArrays`), computed on first use and cached."""
        cache: FleetArrays | None = self.__dict__.get("_arrays_cache")
        if cache is None:
            nodes = self.nodes

            def col(name: str) -> NDArray[np.float64]:
                return np.fromiter((getattr(n, name) for n in nodes), dtype=np.float64, count=len(nodes))

            cache = FleetArrays(
                ids=np.fromiter((n.id for n in nodes), dtype=np.int64, count=len(nodes)),
                compute=col("compute"),
                idle_power_w=col("idle_power_w"),
                busy_power_w=col("busy_power_w"),
                radio_j_per_mb=col("radio_j_per_mb"),
            )
            for arr in (cache.ids, cache.compute, cache.idle_power_w, cache.busy_power_w, cache.radio_j_per_mb):
                arr.setflags(write=False)
            object.__setattr__(self, "_arrays_cache", cache)  # frozen model: cache outside the fields
        return cache

    def node(self, node_id: int) -> NodeSpec:
        """The node with this id."""
        return self._by_id()[node_id]

    def _by_id(self) -> dict[int, NodeSpec]:
        cache: dict[int, NodeSpec] | None = self.__dict__.get("_node_cache")
        if cache is None:
            cache = {n.id: n for n in self.nodes}
            object.__setattr__(self, "_node_cache", cache)  # frozen model: cache outside the fields
        return cache

    @property
    def gateways(self) -> list[SwitchSpec]:
        """Gateway switches in file order."""
        return [s for s in self.switches if s.kind == "gateway"]


def fleet_from_dict(data: Any, source: str = "fleet") -> Fleet:
    """Validate a parsed fleet document; raises :class:`InputError` naming the first bad field."""
    if not isinstance(data, dict):
        raise InputError(source, type(data).__name__, "fleet file must be a mapping")
    try:
        return Fleet.model_validate(data)
    except ValidationError as exc:
        raise from_pydantic(exc, source) from None


def load_fleet(path: str | Path) -> Fleet:
    """Read and validate a fleet file: YAML, JSON or columnar ``.npz``, by suffix
    (:mod:`edgetune.fleet.formats`; every format through the bounded reader of :mod:`edgetune.inputs`)."""
    from edgetune.fleet.formats import read_document

    return fleet_from_dict(read_document(path), source=Path(path).name)


def save_fleet(fleet: Fleet, path: str | Path) -> Path:
    """Write a fleet atomically in the format its suffix names (``.yaml``, ``.json`` or ``.npz``)."""
    from edgetune.fleet.formats import write_fleet

    return write_fleet(fleet, path)
