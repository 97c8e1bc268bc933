"""Id lookups on arrays (``IdIndex``) and the array-backed ``{id: value}`` mapping (``NodeValues``), by hand."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from edgetune.selection.ids import IdIndex, NodeValues


def test_index_lookup_by_hand() -> None:
    index = IdIndex.build([7, 3, 5, 10])
    pos, found = index.lookup([5, 4, 7, 11, 10, -1])
    assert found.tolist() == [True, False, True, False, True, False]
    assert pos[found].tolist() == [2, 0, 3]  # 5 at 2, 7 at 0, 10 at 3
    assert index.positions([10, 3]).tolist() == [3, 1]
    assert index.contains([3, 4]).tolist() == [True, False]
    with pytest.raises(KeyError, match="4"):
        index.positions([3, 4])


def test_empty_index_finds_nothing() -> None:
    index = IdIndex.build([])
    pos, found = index.lookup([1, 2])
    assert len(index) == 0 and found.tolist() == [False, False] and pos.tolist() == [0, 0]
    assert index.positions([]).tolist() == []


def test_node_values_is_a_read_only_mapping() -> None:
    v = NodeValues(np.array([4, 2, 9]), np.array([0.5, 1.0, 0.25]))
    assert len(v) == 3 and list(v) == [4, 2, 9]
    assert v[2] == 1.0 and v[np.int64(9)] == 0.25
    assert 4 in v and 3 not in v and "4" not in v and 4.0 not in v
    for bad in (3, "4", None):
        with pytest.raises(KeyError):
            v[bad]
    assert list(v.items()) == [(4, 0.5), (2, 1.0), (9, 0.25)]
    assert list(v.values()) == [0.5, 1.0, 0.25] and list(v.keys()) == [4, 2, 9]
    assert v.get(3, -1.0) == -1.0
    assert v == {4: 0.5, 2: 1.0, 9: 0.25} and {2: 1.0, 9: 0.25, 4: 0.5} == v  # noqa: SIM300  (reflected)
    assert v != {4: 0.5, 2: 1.0}
    assert dict(v) == {4: 0.5, 2: 1.0, 9: 0.25}
    assert not hasattr(v, "__setitem__")
    vals, found = v.lookup([9, 1, 4])
    assert found.tolist() == [True, False, True] and vals[0] == 0.25 and np.isnan(vals[1]) and vals[2] == 0.5


def test_node_values_with_string_keys_and_round_trips() -> None:
    v = NodeValues(np.array([1, 12]), np.array([2.0, 3.0]), str_keys=True)
    assert list(v) == ["1", "12"] and v["12"] == 3.0 and 12 not in v and "x" not in v
    assert dict(v.items()) == {"1": 2.0, "12": 3.0}
    back = pickle.loads(pickle.dumps(v))
    assert back == v and back["1"] == 2.0
    m = NodeValues.from_mapping({5: 1, 3: 0.5})
    ids, vals = m.arrays()
    assert ids.tolist() == [5, 3] and vals.tolist() == [1.0, 0.5] and vals.dtype == np.float64
    assert NodeValues.from_mapping(m) is m
    empty = NodeValues(np.zeros(0, dtype=np.int64), np.zeros(0))
    assert len(empty) == 0 and empty == {} and 0 not in empty
