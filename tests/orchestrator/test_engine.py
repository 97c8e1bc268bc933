"""The engine contract's column tables: ``ReportTable`` and ``UsageTable`` behave as the dicts they replace."""

from __future__ import annotations

import math
import pickle

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from edgetune.orchestrator.engine import NodeReport, NodeUsage, ReportTable, UsageTable


def _table() -> ReportTable:
    return ReportTable(
        ids=np.array([3, 1, 8]),
        train_time_s=np.array([2.0, 4.5, 1.0]),
        upload_bytes=np.array([10, 20, 30]),
        arrived_s=np.array([5.0, 6.0, 7.0]),
        train_loss=np.array([np.nan, 0.75, 2.0]),
    )


def test_report_table_is_the_mapping_of_its_reports() -> None:
    t = _table()
    assert len(t) == 3 and list(t) == [3, 1, 8]
    assert t[3] == NodeReport(3, 2.0, 10, 5.0, None)  # NaN loss = no loss
    assert t[np.int64(1)] == NodeReport(1, 4.5, 20, 6.0, 0.75)
    assert 8 in t and 2 not in t and "3" not in t
    with pytest.raises(KeyError):
        t[2]
    assert t == {
        3: NodeReport(3, 2.0, 10, 5.0),
        1: NodeReport(1, 4.5, 20, 6.0, 0.75),
        8: NodeReport(8, 1.0, 30, 7.0, 2.0),
    }
    assert [r.node_id for r in t.values()] == [3, 1, 8]
    assert t.upload_total() == 60 and isinstance(t.upload_total(), int)
    back = pickle.loads(pickle.dumps(t))
    assert back == t


def test_report_table_from_a_dict_and_defaults() -> None:
    reports = {5: NodeReport(5, 1.5, 7, 2.0), 2: NodeReport(2, 3.0, 9, 4.0, 0.5)}
    t = ReportTable.from_mapping(reports)
    assert t.ids.tolist() == [5, 2] and t.train_time_s.tolist() == [1.5, 3.0]
    assert t.upload_bytes.tolist() == [7, 9] and t.arrived_s.tolist() == [2.0, 4.0]
    assert math.isnan(t.train_loss[0]) and t.train_loss[1] == 0.5
    assert dict(t.items()) == reports and ReportTable.from_mapping(t) is t
    empty = ReportTable.from_mapping({})
    assert len(empty) == 0 and empty.upload_total() == 0 and empty == {}
    no_loss = ReportTable(np.array([1]), np.array([1.0]), np.array([1]), np.array([1.0]))
    assert no_loss[1].train_loss is None


def test_upload_total_does_not_overflow() -> None:
    big = 10**15  # the largest payload a spec allows; 10**4 of them pass int64's 9.2e18
    t = ReportTable(np.arange(10_000), np.ones(10_000), np.full(10_000, big), np.ones(10_000))
    assert t.upload_total() == 10_000 * big


@given(st.lists(st.integers(0, 2**40), max_size=50))
def test_upload_total_equals_python_sum(sizes: list[int]) -> None:
    n = len(sizes)
    t = ReportTable(np.arange(n), np.zeros(n), np.asarray(sizes, dtype=np.int64), np.zeros(n))
    assert t.upload_total() == sum(sizes)


def test_usage_table_by_hand() -> None:
    u = UsageTable(np.array([0, 4]), np.array([1.5, 0.0]), np.array([10.0, 20.0]))
    assert u[4] == NodeUsage(0.0, 20.0) and 1 not in u and list(u) == [0, 4] and len(u) == 2
    assert u == {0: NodeUsage(1.5, 10.0), 4: NodeUsage(0.0, 20.0)}
    d = {7: NodeUsage(2.0, 3.0)}
    t = UsageTable.from_mapping(d)
    assert t.ids.tolist() == [7] and t.busy_s.tolist() == [2.0] and t == d and UsageTable.from_mapping(t) is t
    assert pickle.loads(pickle.dumps(u)) == u
