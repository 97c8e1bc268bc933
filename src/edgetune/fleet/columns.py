"""A fleet as columns (the ``.npz`` layout) and their validation with numpy (issue 17).

:class:`FleetColumns` holds every node and switch field as one read-only array; :func:`check_columns`
checks them against the same :data:`~edgetune.fleet.specs.BOUNDS` and references as the pydantic
schema, and names a bad cell exactly as the document path does (the bad row is sent through pydantic).
:class:`FleetArrays` is the per-node view code that touches every node reads.
"""

from __future__ import annotations

import functools
import gc
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, fields
from functools import cached_property
from typing import Any

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, TypeAdapter, ValidationError

from edgetune.errors import InputError, from_pydantic
from edgetune.fleet.specs import BOUNDS, MAX_NAME_CHARS, FleetHeader, NodeSpec, SwitchSpec


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
        return read_only_columns(
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


def read_only_columns(columns: FleetColumns) -> FleetColumns:
    """Mark every array of ``columns`` read-only (they are shared by every reader) and return them."""
    for arr in columns.as_dict().values():
        arr.setflags(write=False)
    return columns


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
