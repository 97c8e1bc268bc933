"""Node-id lookups on arrays: where each of many ids sits in a column of ids, without a Python dict.

The orchestrator loop, the report and score tables and node elimination touch every node of a fleet
every epoch; at 100,000 nodes a ``{id: position}`` dict per epoch costs more than the arithmetic.
:class:`IdIndex` sorts the ids once and answers a batch of lookups with one binary search.
"""

from __future__ import annotations

from collections.abc import ItemsView, Iterator, Mapping, ValuesView
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray


@dataclass(frozen=True)
class IdIndex:
    """Positions of node ids in an id column (ids are assumed distinct).

    Attributes
    ----------
    ids : ndarray of int64
        The column, in its own order.
    order : ndarray of int64
        ``argsort(ids)`` (stable).
    sorted_ids : ndarray of int64
        ``ids[order]``.
    """

    ids: NDArray[np.int64]
    order: NDArray[np.int64]
    sorted_ids: NDArray[np.int64]

    @classmethod
    def build(cls, ids: Any) -> IdIndex:
        """Index the id column ``ids`` (any int sequence or array).

        >>> IdIndex.build([7, 3, 5]).lookup([5, 4, 7])
        (array([2, 0, 0]), array([ True, False,  True]))
        """
        col = np.asarray(ids, dtype=np.int64).reshape(-1)
        order = np.argsort(col, kind="stable").astype(np.int64, copy=False)
        return cls(ids=col, order=order, sorted_ids=col[order])

    def __len__(self) -> int:
        return int(self.ids.shape[0])

    def lookup(self, node_ids: Any) -> tuple[NDArray[np.int64], NDArray[np.bool_]]:
        """Positions of ``node_ids`` in :attr:`ids` and whether each was found (position 0 where not)."""
        want = np.asarray(node_ids, dtype=np.int64).reshape(-1)
        if not len(self):
            return np.zeros(want.shape, dtype=np.int64), np.zeros(want.shape, dtype=bool)
        at = np.minimum(np.searchsorted(self.sorted_ids, want), len(self) - 1)
        found = self.sorted_ids[at] == want
        pos = np.where(found, self.order[at], 0)
        return pos.astype(np.int64, copy=False), found

    def positions(self, node_ids: Any) -> NDArray[np.int64]:
        """Positions of ``node_ids`` (all must be present; ``KeyError`` names the first that is not)."""
        pos, found = self.lookup(node_ids)
        if not found.all():
            want = np.asarray(node_ids, dtype=np.int64).reshape(-1)
            raise KeyError(int(want[np.flatnonzero(~found)[0]]))
        return pos

    def contains(self, node_ids: Any) -> NDArray[np.bool_]:
        """Whether each of ``node_ids`` is in the column."""
        return self.lookup(node_ids)[1]


class NodeValues(Mapping[Any, float]):
    """Read-only ``{node id: number}`` over an id column and a value column (PerfScores, per-node energy).

    Nothing per node is built until asked: :meth:`arrays` hands the columns over, :meth:`items` zips
    them, and one lookup costs a binary search. ``str_keys`` makes the keys the ids as strings (the run
    record's ``energy.per_node_j``); otherwise they are ints. Equal to a dict with the same pairs
    (:class:`collections.abc.Mapping` equality).

    Parameters
    ----------
    ids : array of int
        Distinct node ids, in the mapping's order.
    values : array of float
        ``values[k]`` belongs to ``ids[k]``.
    str_keys : bool
        Keys are ``str(id)`` rather than ``id``.

    Examples
    --------
    >>> v = NodeValues(np.array([4, 2]), np.array([0.5, 1.0]))
    >>> v[2], 3 in v, list(v.items()), v == {4: 0.5, 2: 1.0}
    (1.0, False, [(4, 0.5), (2, 1.0)], True)
    """

    def __init__(self, ids: NDArray[np.int64], values: NDArray[np.float64], str_keys: bool = False) -> None:
        self._ids = ids
        self._values = values
        self._str_keys = str_keys
        self._index: IdIndex | None = None

    @classmethod
    def from_mapping(cls, values: Mapping[int, float]) -> NodeValues:
        """The same pairs as columns (a :class:`NodeValues` is returned as it is)."""
        if isinstance(values, NodeValues) and not values._str_keys:
            return values
        ids = np.fromiter((int(i) for i in values), dtype=np.int64, count=len(values))
        vals = np.fromiter((float(v) for v in values.values()), dtype=np.float64, count=len(values))
        return cls(ids, vals)

    def _key(self, key: object) -> int | None:
        if self._str_keys:
            return int(key) if isinstance(key, str) and key.lstrip("-").isdigit() else None
        if isinstance(key, (int, np.integer)):
            return int(key)
        return None

    @property
    def index(self) -> IdIndex:
        """The id index (built on first lookup)."""
        if self._index is None:
            self._index = IdIndex.build(self._ids)
        return self._index

    def __getitem__(self, key: object) -> float:
        node_id = self._key(key)
        if node_id is None:
            raise KeyError(key)
        pos, found = self.index.lookup([node_id])
        if not found[0]:
            raise KeyError(key)
        return float(self._values[pos[0]])

    def __contains__(self, key: object) -> bool:
        node_id = self._key(key)
        return node_id is not None and bool(self.index.lookup([node_id])[1][0])

    def __iter__(self) -> Iterator[Any]:
        ids = self._ids.tolist()
        return iter([str(i) for i in ids] if self._str_keys else ids)

    def __len__(self) -> int:
        return int(np.shape(self._ids)[0])

    def items(self) -> ItemsView[Any, float]:
        """(key, value) pairs in order, zipped from the columns."""
        return _ZippedItems(self)

    def values(self) -> ValuesView[float]:
        """Values in order, from the value column."""
        return _ColumnValues(self)

    def arrays(self) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
        """The id and value columns (no per-node objects)."""
        return np.asarray(self._ids, dtype=np.int64), np.asarray(self._values, dtype=np.float64)

    def lookup(self, node_ids: Any) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
        """Values of many ``node_ids`` at once and whether each is present (NaN where not)."""
        pos, found = self.index.lookup(node_ids)
        vals = np.asarray(self._values, dtype=np.float64)[pos] if len(self) else np.zeros(pos.shape)
        return np.where(found, vals, np.nan), found

    def __reduce__(self) -> tuple[Any, ...]:
        return (NodeValues, (self._ids, self._values, self._str_keys))  # pickles without the index

    def __repr__(self) -> str:
        return f"NodeValues({len(self)} nodes)"


class _ZippedItems(ItemsView[Any, float]):
    _mapping: NodeValues

    def __iter__(self) -> Iterator[tuple[Any, float]]:
        return zip(iter(self._mapping), self._mapping._values.tolist(), strict=True)


class _ColumnValues(ValuesView[float]):
    _mapping: NodeValues

    def __iter__(self) -> Iterator[float]:
        return iter(np.asarray(self._mapping._values, dtype=np.float64).tolist())
