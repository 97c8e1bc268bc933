"""The fleet file: a validated YAML description of the paper's topology.

Topology (node-elimination paper, Sec. IV-A): every edge node hangs from a *gateway* switch (the
gateway router of its domain); gateways hang from an *aggregation* switch; the aggregation switch
connects to the server hosting the AI orchestrator::

    node --access link--> gateway --gateway uplink--> aggregation --core link--> orchestrator

Each link carries ``bandwidth_mbps``, ``delay_ms`` (one-way) and ``loss_pct``. Values are those
without fine-tuning traffic; the network model adds load and background variation at run time.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from edgetune.errors import InputError, from_pydantic


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class LinkSpec(_Frozen):
    """One network link, as configured without fine-tuning traffic."""

    bandwidth_mbps: float = Field(gt=0, description="capacity in megabits per second")
    delay_ms: float = Field(ge=0, description="one-way propagation + processing delay in milliseconds")
    loss_pct: float = Field(default=0.0, ge=0, lt=100, description="packet loss rate in percent")


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

    id: int = Field(ge=0)
    name: str = ""
    compute: float = Field(gt=0, description="compute power C (paper units; see docs/network.md)")
    idle_power_w: float = Field(default=2.5, ge=0, description="power draw while idle, watts")
    busy_power_w: float = Field(default=8.0, ge=0, description="power draw while training, watts")
    radio_j_per_mb: float = Field(default=0.1, ge=0, description="radio energy per megabyte moved, joules")
    gateway: str
    link: LinkSpec


class Fleet(_Frozen):
    """A whole fleet file."""

    version: Literal[1] = 1
    setup: str = "custom"
    seed: int | None = None
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
    (:mod:`edgetune.fleet.formats`)."""
    from edgetune.fleet.formats import read_document

    return fleet_from_dict(read_document(path), source=Path(path).name)


def save_fleet(fleet: Fleet, path: str | Path) -> Path:
    """Write a fleet atomically in the format its suffix names (``.yaml``, ``.json`` or ``.npz``)."""
    from edgetune.fleet.formats import write_fleet

    return write_fleet(fleet, path)
