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
from typing import Any

import numpy as np
from pydantic import BaseModel, Field, PrivateAttr, ValidationError, model_validator

from edgetune.errors import InputError, from_pydantic
from edgetune.fleet.columns import FleetArrays, FleetColumns, check_columns, gc_paused, read_only_columns
from edgetune.fleet.specs import (
    BOUNDS,
    MAX_NAME_CHARS,
    FleetHeader,
    LinkSpec,
    NodeSpec,
    OrchestratorSpec,
    SwitchSpec,
)

__all__ = [
    "BOUNDS",
    "MAX_NAME_CHARS",
    "Fleet",
    "FleetArrays",
    "FleetColumns",
    "FleetHeader",
    "LinkSpec",
    "NodeSpec",
    "OrchestratorSpec",
    "SwitchSpec",
    "check_columns",
    "fleet_from_columns",
    "fleet_from_dict",
    "gc_paused",
    "load_fleet",
    "save_fleet",
]


#: Fields a columnar fleet builds on first use.
_LAZY_FIELDS = ("switches", "nodes")


class Fleet(FleetHeader):
    """A whole fleet file.

    Validated from a document (YAML, JSON) by pydantic, node by node; or built from validated columns
    (:func:`fleet_from_columns`: the npz format and generated fleets), in which case ``switches`` and
    ``nodes`` are built only when first read (:meth:`FleetColumns.node_specs`), while :meth:`arrays`,
    :meth:`columns`, :attr:`n_nodes` and :class:`~edgetune.network.model.Topology` read the columns
    (issue 17: a million-node fleet loads in seconds). Both kinds compare, dump and copy alike.
    """

    switches: list[SwitchSpec]
    nodes: list[NodeSpec] = Field(min_length=1)
    _columns: FleetColumns | None = PrivateAttr(default=None)
    _arrays: FleetArrays | None = PrivateAttr(default=None)
    _node_cache: dict[int, NodeSpec] | None = PrivateAttr(default=None)

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

    # Columnar fleets: switches and nodes on first read --------------------------------------------------
    def __getattr__(self, name: str) -> Any:
        if name in _LAZY_FIELDS:
            try:
                private = object.__getattribute__(self, "__pydantic_private__")
            except AttributeError:  # pragma: no cover - during pydantic's own construction
                private = None
            cols: FleetColumns | None = private.get("_columns") if private else None
            if cols is not None:
                value = cols.node_specs() if name == "nodes" else cols.switch_specs()
                self.__dict__[name] = value  # frozen model: fill the field once, as validation would have
                return value
        return super().__getattr__(name)  # type: ignore[misc]

    def _materialize(self) -> None:
        """Build the lazy fields (before anything that reads ``__dict__`` directly: dumps, copies, ``==``)."""
        for name in _LAZY_FIELDS:
            getattr(self, name)

    def model_dump(self, **kwargs: Any) -> dict[str, Any]:
        """pydantic's ``model_dump``, after building the lazy fields."""
        self._materialize()
        return super().model_dump(**kwargs)

    def model_dump_json(self, **kwargs: Any) -> str:
        """pydantic's ``model_dump_json``, after building the lazy fields."""
        self._materialize()
        return super().model_dump_json(**kwargs)

    def model_copy(self, *, update: Any = None, deep: bool = False) -> Fleet:
        """pydantic's ``model_copy``, after building the lazy fields; an ``update`` drops the cached columns."""
        self._materialize()
        copy = super().model_copy(update=update, deep=deep)
        if update:  # the cached columns describe the old fields
            copy._columns = copy._arrays = copy._node_cache = None
        return copy

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, BaseModel):
            return NotImplemented
        if type(other) is not type(self):
            return False
        assert isinstance(other, Fleet)
        self._materialize()
        other._materialize()
        return all(self.__dict__[k] == other.__dict__[k] for k in type(self).model_fields)

    __hash__ = None  # type: ignore[assignment]  # lists inside: unhashable, as before

    def __iter__(self) -> Any:
        self._materialize()
        return super().__iter__()

    def __repr_args__(self) -> Any:
        self._materialize()
        return super().__repr_args__()

    # Convenience views -------------------------------------------------------------------------------
    @property
    def n_nodes(self) -> int:
        """Number of nodes (without building ``nodes`` of a columnar fleet)."""
        return self.columns().n_nodes if self._columns is not None else len(self.nodes)

    @property
    def node_ids(self) -> list[int]:
        """Node ids in file order."""
        ids: list[int] = self.columns().node_id.tolist()
        return ids

    def columns(self) -> FleetColumns:
        """All nodes and switches as columns (:class:`FleetColumns`), computed on first use and cached."""
        cols = self._columns
        if cols is None:
            cols = FleetColumns.of(self.switches, self.nodes)
            self._columns = cols
        return cols

    def arrays(self) -> FleetArrays:
        """The per-node columns (:class:`FleetArrays`), computed on first use and cached."""
        cache = self._arrays
        if cache is None:
            cache = self.columns().arrays()
            self._arrays = cache
        return cache

    def node(self, node_id: int) -> NodeSpec:
        """The node with this id."""
        if "nodes" not in self.__dict__:  # columnar: build just this node
            k = int(self.arrays().positions([node_id])[0])
            c = self.columns()
            return NodeSpec.model_construct(
                id=int(c.node_id[k]),
                name=str(c.node_name[k]),
                compute=float(c.node_compute[k]),
                idle_power_w=float(c.node_idle_power_w[k]),
                busy_power_w=float(c.node_busy_power_w[k]),
                radio_j_per_mb=float(c.node_radio_j_per_mb[k]),
                gateway=str(c.switch_id[c.node_gateway[k]]),
                link=LinkSpec.model_construct(
                    bandwidth_mbps=float(c.node_link_bandwidth_mbps[k]),
                    delay_ms=float(c.node_link_delay_ms[k]),
                    loss_pct=float(c.node_link_loss_pct[k]),
                ),
            )
        return self._by_id()[node_id]

    def _by_id(self) -> dict[int, NodeSpec]:
        cache = self._node_cache
        if cache is None:
            cache = {n.id: n for n in self.nodes}
            self._node_cache = cache
        return cache

    @property
    def gateways(self) -> list[SwitchSpec]:
        """Gateway switches in file order."""
        return [s for s in self.switches if s.kind == "gateway"]

    @property
    def n_gateways(self) -> int:
        """Number of gateway switches (without building ``switches`` of a columnar fleet)."""
        return int(np.count_nonzero(self.columns().switch_kind == "gateway"))


def fleet_from_columns(columns: FleetColumns, header: FleetHeader, source: str = "fleet") -> Fleet:
    """A :class:`Fleet` from columns, validated with numpy (:func:`check_columns`), without per-node objects.

    Raises :class:`InputError` naming the first bad field.
    """
    check_columns(columns, header, source)
    fields_set = header.model_fields_set | set(_LAZY_FIELDS)
    fleet = Fleet.model_construct(fields_set, **{k: header.__dict__[k] for k in type(header).model_fields})
    fleet._columns = read_only_columns(columns)
    return fleet


def fleet_from_dict(data: Any, source: str = "fleet") -> Fleet:
    """Validate a parsed fleet document; raises :class:`InputError` naming the first bad field."""
    if not isinstance(data, dict):
        raise InputError(source, type(data).__name__, "fleet file must be a mapping")
    try:
        with gc_paused():  # a large document: pydantic builds two models per node
            return Fleet.model_validate(data)
    except ValidationError as exc:
        raise from_pydantic(exc, source) from None


def load_fleet(path: str | Path) -> Fleet:
    """Read and validate a fleet file: YAML, JSON or columnar ``.npz``, by suffix
    (:mod:`edgetune.fleet.formats`; every format through the bounded reader of :mod:`edgetune.inputs`)."""
    from edgetune.fleet.formats import fleet_format, read_document, read_npz

    source = Path(path).name
    if fleet_format(path) != "npz":
        return fleet_from_dict(read_document(path), source=source)
    cols, meta = read_npz(path)  # columnar: header by pydantic, columns by numpy, no per-node objects
    try:
        header = FleetHeader.model_validate(meta)
    except ValidationError as exc:
        raise from_pydantic(exc, source) from None
    return fleet_from_columns(FleetColumns(**cols), header, source)


def save_fleet(fleet: Fleet, path: str | Path) -> Path:
    """Write a fleet atomically in the format its suffix names (``.yaml``, ``.json`` or ``.npz``)."""
    from edgetune.fleet.formats import write_fleet

    return write_fleet(fleet, path)
