"""The fleet file: a validated YAML description of the paper's topology.

Topology (node-elimination paper, Sec. IV-A): every edge node hangs from a *gateway* switch (the
gateway router of its domain); gateways hang from an *aggregation* switch; the aggregation switch
connects to the server hosting the AI orchestrator::

    node --access link--> gateway --gateway uplink--> aggregation --core link--> orchestrator

Each link carries ``bandwidth_mbps``, ``delay_ms`` (one-way) and ``loss_pct``. Values are those
without fine-tuning traffic; the network model adds load and background variation at run time.
"""

from __future__ import annotations

import functools
import gc
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, fields
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, TypeAdapter, ValidationError, model_validator

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

    @cached_property
    def _sorted(self) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        order = np.argsort(self.ids, kind="stable")
        return order, self.ids[order]

    def positions(self, node_ids: Any) -> NDArray[np.int64]:
        """Positions of ``node_ids`` in these columns (``KeyError`` for an unknown id)."""
        ids = np.asarray(node_ids, dtype=np.int64).reshape(-1)
        order, sorted_ids = self._sorted  # sorted once per fleet
        at = np.minimum(np.searchsorted(sorted_ids, ids), max(sorted_ids.shape[0] - 1, 0))
        bad = sorted_ids[at] != ids if sorted_ids.size else np.ones(ids.shape, dtype=bool)
        if bad.any():
            raise KeyError(int(ids[np.flatnonzero(bad)[0]]))
        return np.asarray(order[at], dtype=np.int64)


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while building many objects at once (restored after)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


@functools.cache
def _list_adapter(model: type[BaseModel]) -> TypeAdapter[Any]:
    return TypeAdapter(list[model])  # type: ignore[valid-type]


@dataclass(frozen=True)
class FleetColumns:
    """A whole fleet's nodes and switches as columns in file order: the layout of the ``.npz`` format.

    Node ``k`` is row ``k`` of every ``node_*`` array; ``node_gateway`` is the row of its gateway in the
    ``switch_*`` arrays. ``switch_parent`` is ``""`` and ``switch_uplink_*`` are ``0.0`` where
    ``switch_has_parent`` / ``switch_has_uplink`` is false. Built by :func:`fleet_from_columns` (which
    validates them) or by :meth:`Fleet.columns`; the arrays are read-only.
    """

    node_id: NDArray[np.int64]
    node_name: NDArray[np.str_]
    node_gateway: NDArray[np.int64]
    node_compute: NDArray[np.float64]
    node_idle_power_w: NDArray[np.float64]
    node_busy_power_w: NDArray[np.float64]
    node_radio_j_per_mb: NDArray[np.float64]
    node_link_bandwidth_mbps: NDArray[np.float64]
    node_link_delay_ms: NDArray[np.float64]
    node_link_loss_pct: NDArray[np.float64]
    switch_id: NDArray[np.str_]
    switch_kind: NDArray[np.str_]
    switch_parent: NDArray[np.str_]
    switch_has_parent: NDArray[np.bool_]
    switch_has_uplink: NDArray[np.bool_]
    switch_uplink_bandwidth_mbps: NDArray[np.float64]
    switch_uplink_delay_ms: NDArray[np.float64]
    switch_uplink_loss_pct: NDArray[np.float64]

    @classmethod
    def names(cls) -> tuple[str, ...]:
        """The column names (the npz array names besides ``meta``)."""
        return tuple(f.name for f in fields(cls))

    @property
    def n_nodes(self) -> int:
        """Number of nodes."""
        return int(self.node_id.shape[0])

    def as_dict(self) -> dict[str, NDArray[Any]]:
        """Name -> column."""
        return {name: getattr(self, name) for name in self.names()}

    def arrays(self) -> FleetArrays:
        """The :class:`FleetArrays` view of the node columns (no copy)."""
        return FleetArrays(
            ids=self.node_id,
            compute=self.node_compute,
            idle_power_w=self.node_idle_power_w,
            busy_power_w=self.node_busy_power_w,
            radio_j_per_mb=self.node_radio_j_per_mb,
        )

    def node_specs(self) -> list[NodeSpec]:
        """One :class:`NodeSpec` per row, as pydantic validates them from a document.

        pydantic-core validates a list of plain dicts faster than Python builds the models with
        ``model_construct`` (0.5 against 1.0 s of CPU per 100k nodes), and the result is exactly the
        validated one; the cyclic garbage collector is paused meanwhile (it would scan the growing
        list again and again: half the time).
        """
        from edgetune.fleet.formats import node_docs

        with gc_paused():
            return _list_adapter(NodeSpec).validate_python(node_docs(self.as_dict()))

    def switch_specs(self) -> list[SwitchSpec]:
        """One :class:`SwitchSpec` per switch row, as pydantic validates them (see :meth:`node_specs`)."""
        from edgetune.fleet.formats import switch_docs

        with gc_paused():
            return _list_adapter(SwitchSpec).validate_python(switch_docs(self.as_dict()))

    @classmethod
    def of(cls, switches: list[SwitchSpec], nodes: list[NodeSpec]) -> FleetColumns:
        """The columns of validated switches and nodes."""
        row = {s.id: k for k, s in enumerate(switches)}
        n = len(nodes)

        def col(values: Any, dtype: Any, count: int = n) -> NDArray[Any]:
            return np.fromiter(values, dtype=dtype, count=count)

        m = len(switches)
        return _read_only(
            cls(
                node_id=col((x.id for x in nodes), np.int64),
                node_name=np.asarray([x.name for x in nodes], dtype=np.str_),
                node_gateway=col((row[x.gateway] for x in nodes), np.int64),
                node_compute=col((x.compute for x in nodes), np.float64),
                node_idle_power_w=col((x.idle_power_w for x in nodes), np.float64),
                node_busy_power_w=col((x.busy_power_w for x in nodes), np.float64),
                node_radio_j_per_mb=col((x.radio_j_per_mb for x in nodes), np.float64),
                node_link_bandwidth_mbps=col((x.link.bandwidth_mbps for x in nodes), np.float64),
                node_link_delay_ms=col((x.link.delay_ms for x in nodes), np.float64),
                node_link_loss_pct=col((x.link.loss_pct for x in nodes), np.float64),
                switch_id=np.asarray([s.id for s in switches], dtype=np.str_),
                switch_kind=np.asarray([s.kind for s in switches], dtype=np.str_),
                switch_parent=np.asarray([s.parent or "" for s in switches], dtype=np.str_),
                switch_has_parent=col((s.parent is not None for s in switches), bool, m),
                switch_has_uplink=col((s.uplink is not None for s in switches), bool, m),
                switch_uplink_bandwidth_mbps=col(
                    (s.uplink.bandwidth_mbps if s.uplink else 0.0 for s in switches), np.float64, m
                ),
                switch_uplink_delay_ms=col((s.uplink.delay_ms if s.uplink else 0.0 for s in switches), np.float64, m),
                switch_uplink_loss_pct=col((s.uplink.loss_pct if s.uplink else 0.0 for s in switches), np.float64, m),
            )
        )


def _read_only(columns: FleetColumns) -> FleetColumns:
    for arr in columns.as_dict().values():
        arr.setflags(write=False)
    return columns


class FleetHeader(_Frozen):
    """Everything of a fleet file but its switches and nodes (the ``meta`` of the npz format)."""

    version: Literal[1] = 1
    setup: str = "custom"
    seed: int | None = Field(default=None, strict=True, ge=BOUNDS["seed"][0], le=BOUNDS["seed"][1])
    orchestrator: OrchestratorSpec


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


def _column_error(source: str, field: str, value: Any, reason: str) -> InputError:
    return InputError(f"{source}: {field}" if source else field, value, reason)


_STRING_COLUMNS = ("node_name", "switch_id", "switch_kind", "switch_parent")
_INT_COLUMNS = ("node_id", "node_gateway")
_KIND_WORDS = {"iu": "an integer", "f": "a float", "U": "a string", "b": "a boolean"}


def _dtype_kinds(name: str) -> str:
    """numpy dtype kinds a column accepts (strict: no bools as numbers, no floats as ids)."""
    if name in _STRING_COLUMNS:
        return "U"
    if name in _INT_COLUMNS:
        return "iu"
    return "b" if name.startswith("switch_has_") else "f"


def _first_bad(values: NDArray[Any], bound: str, *, lt: float | None = None, rows: Any = None) -> int | None:
    """Row of the first value that is not finite and within ``BOUNDS[bound]`` (below ``lt`` when given)."""
    lo, hi = BOUNDS[bound]
    ok = np.isfinite(values) & (values >= lo) & ((values < lt) if lt is not None else (values <= hi))
    if rows is not None:
        ok |= ~rows
    return None if ok.all() else int(np.flatnonzero(~ok)[0])


def _row_error(source: str, c: FleetColumns, table: str, k: int, field: str, value: Any, reason: str) -> InputError:
    """The error pydantic gives for row ``k`` of ``table`` (the same words as for a YAML or JSON file), or
    the numpy check's own words where pydantic accepts the row alone (a cross-row rule)."""
    m = int(c.switch_id.shape[0])
    try:
        if table == "nodes":
            g = int(c.node_gateway[k])
            NodeSpec.model_validate(
                {
                    "id": c.node_id[k].item(),
                    "name": c.node_name[k].item(),
                    **{f: getattr(c, f"node_{f}")[k].item() for f in ("compute", "idle_power_w", "busy_power_w")},
                    "radio_j_per_mb": c.node_radio_j_per_mb[k].item(),
                    "gateway": c.switch_id[g].item() if 0 <= g < m else "",
                    "link": {
                        f: getattr(c, f"node_link_{f}")[k].item() for f in ("bandwidth_mbps", "delay_ms", "loss_pct")
                    },
                }
            )
        else:
            doc: dict[str, Any] = {"id": c.switch_id[k].item(), "kind": c.switch_kind[k].item()}
            if c.switch_has_parent[k]:
                doc["parent"] = c.switch_parent[k].item()
            if c.switch_has_uplink[k]:
                doc["uplink"] = {
                    f: getattr(c, f"switch_uplink_{f}")[k].item() for f in ("bandwidth_mbps", "delay_ms", "loss_pct")
                }
            SwitchSpec.model_validate(doc)
    except ValidationError as exc:
        e = from_pydantic(exc)
        return _column_error(source, f"{table}[{k}].{e.field}", e.value, e.reason)
    return _column_error(source, field, value, reason)


def check_columns(columns: FleetColumns, header: FleetHeader, source: str = "fleet") -> None:
    """Validate columns with numpy against the same rules (and :data:`BOUNDS`) as the pydantic schema.

    The checks run on whole columns; at the first bad row, that row alone is validated by pydantic so
    the error reads as for a YAML or JSON file (``nodes[3].link.bandwidth_mbps=-1.0: Input should be
    greater than or equal to 1e-06``). A bad dtype or shape names the column (``node_compute``).

    Raises
    ------
    InputError
        Naming the first bad field.
    """
    c = columns
    n = c.n_nodes if isinstance(c.node_id, np.ndarray) and c.node_id.ndim == 1 else -1
    m = int(c.switch_id.shape[0]) if isinstance(c.switch_id, np.ndarray) and c.switch_id.ndim == 1 else -1
    for name, arr in c.as_dict().items():
        kinds = _dtype_kinds(name)
        if not isinstance(arr, np.ndarray) or arr.dtype.kind not in kinds:
            got = arr.dtype if isinstance(arr, np.ndarray) else type(arr).__name__
            raise _column_error(source, name, str(got), f"must be {_KIND_WORDS[kinds]} array")
        want = n if name.startswith("node_") else m
        if arr.ndim != 1 or arr.shape[0] != want:
            raise _column_error(source, name, str(arr.shape), f"must be a 1-D array of {want} entries")
    if n < 1:
        raise _column_error(source, "nodes", [], "List should have at least 1 item after validation, not 0")

    # Per row: numbers, id range, string lengths, switch kinds (the rules of NodeSpec and SwitchSpec).
    checks: list[tuple[str, int | None, str]] = [
        ("nodes", _first_bad(c.node_id.astype(np.float64), "node_id"), "id"),
        *(("nodes", _first_bad(getattr(c, f"node_{f}"), b), f) for f, b in _NODE_NUMBERS),
        *(("nodes", _first_bad(getattr(c, f"node_link_{f}"), f), f"link.{f}") for f in ("bandwidth_mbps", "delay_ms")),
        ("nodes", _first_bad(c.node_link_loss_pct, "loss_pct", lt=100.0), "link.loss_pct"),
    ]
    up = c.switch_has_uplink
    checks += [
        *(
            ("switches", _first_bad(getattr(c, f"switch_uplink_{f}"), f, rows=up), f"uplink.{f}")
            for f in ("bandwidth_mbps", "delay_ms")
        ),
        ("switches", _first_bad(c.switch_uplink_loss_pct, "loss_pct", lt=100.0, rows=up), "uplink.loss_pct"),
    ]
    kind_ok = (c.switch_kind == "gateway") | (c.switch_kind == "aggregation")
    checks.append(("switches", None if kind_ok.all() else int(np.flatnonzero(~kind_ok)[0]), "kind"))
    for name, table, field in (
        ("node_name", "nodes", "name"),
        ("switch_id", "switches", "id"),
        ("switch_parent", "switches", "parent"),
    ):
        arr = getattr(c, name)
        too_long = np.char.str_len(arr) > MAX_NAME_CHARS if arr.dtype.itemsize // 4 > MAX_NAME_CHARS else None
        checks.append(
            (table, None if too_long is None or not too_long.any() else int(np.flatnonzero(too_long)[0]), field)
        )
    for table, k, field in checks:
        if k is not None:  # pydantic names the rule; the fallback cannot happen while both follow BOUNDS
            raise _row_error(source, c, table, k, f"{table}[{k}].{field}", "<column>", "rejected by the column check")

    # Across rows: the rules of Fleet._check_references, with the same words.
    root = "<root>"
    ids_sorted = np.sort(c.node_id)
    dup = ids_sorted[1:][ids_sorted[1:] == ids_sorted[:-1]]
    if dup.size:
        raise _column_error(source, root, int(dup[0]), f"Value error, duplicate node id {int(dup[0])}")
    order = np.argsort(c.switch_id, kind="stable")
    sw_sorted = c.switch_id[order]
    if m > 1 and (sw_sorted[1:] == sw_sorted[:-1]).any():
        raise _column_error(
            source, root, str(sw_sorted[1:][sw_sorted[1:] == sw_sorted[:-1]][0]), "Value error, duplicate switch id"
        )
    is_agg = c.switch_kind == "aggregation"
    is_gw = ~is_agg

    def row_of(names: NDArray[np.str_]) -> NDArray[np.int64]:
        """Switch row of each name (-1 where none)."""
        if m == 0:
            return np.full(names.shape, -1, dtype=np.int64)
        at = np.minimum(np.searchsorted(sw_sorted, names), m - 1)
        return np.where(sw_sorted[at] == names, order[at], -1).astype(np.int64)

    agg = header.orchestrator.switch
    orch_row = int(row_of(np.asarray([agg], dtype=np.str_))[0])
    if orch_row < 0 or not is_agg[orch_row]:
        raise _column_error(source, root, agg, f"Value error, orchestrator.switch {agg!r} is not an aggregation switch")
    parent_row = row_of(c.switch_parent)
    parent_ok = c.switch_has_parent & (parent_row >= 0) & is_agg[np.maximum(parent_row, 0)]
    for bad, words in ((is_gw & ~parent_ok, "has no aggregation parent"), (is_gw & ~up, "has no uplink")):
        if bad.any():
            k = int(np.flatnonzero(bad)[0])
            sid = str(c.switch_id[k])
            if words.endswith("parent"):
                parent = str(c.switch_parent[k]) if c.switch_has_parent[k] else None
                words += f" (parent={parent!r})"
            raise _column_error(source, root, sid, f"Value error, gateway {sid!r} {words}")
    g = c.node_gateway
    bad_row = (g < 0) | (g >= m)
    if not bad_row.any():
        bad_row = ~is_gw[g]
    if bad_row.any():
        k = int(np.flatnonzero(bad_row)[0])
        raise _column_error(
            source, f"nodes[{k}].gateway", int(g[k]), f"must be the row of a gateway switch in 0..{m - 1}"
        )


_NODE_NUMBERS = (
    ("compute", "compute"),
    ("idle_power_w", "power_w"),
    ("busy_power_w", "power_w"),
    ("radio_j_per_mb", "radio_j_per_mb"),
)


def fleet_from_columns(columns: FleetColumns, header: FleetHeader, source: str = "fleet") -> Fleet:
    """A :class:`Fleet` from columns, validated with numpy (:func:`check_columns`), without per-node objects.

    Raises :class:`InputError` naming the first bad field.
    """
    check_columns(columns, header, source)
    fields_set = header.model_fields_set | set(_LAZY_FIELDS)
    fleet = Fleet.model_construct(fields_set, **{k: header.__dict__[k] for k in type(header).model_fields})
    fleet._columns = _read_only(columns)
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
