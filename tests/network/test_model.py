"""Transfer-time model (Eq. N1-N3) against hand-computed values."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from edgetune.network.model import mathis_throughput_mbps, max_min_share, transfer_time_s


def test_mathis_by_hand() -> None:
    # MSS 1460 B, RTT 100 ms, p = 1 %: 1460*8/0.1 = 116,800 b/s; * 1.224745 / 0.1 = 1.430502 Mb/s
    assert abs(float(mathis_throughput_mbps(100.0, 1.0)) - 1.430502) < 1e-6
    # four times the loss halves the rate
    assert abs(float(mathis_throughput_mbps(100.0, 4.0)) - 1.430502 / 2) < 1e-6
    assert math.isinf(float(mathis_throughput_mbps(100.0, 0.0)))


def test_transfer_time_by_hand() -> None:
    # 1 MB at 8 Mb/s = 1 s, plus 50 ms one-way delay
    assert float(transfer_time_s(1_000_000, 50.0, 8.0)) == 1.05
    assert float(transfer_time_s(0, 50.0, 8.0)) == 0.0


def test_max_min_share_by_hand() -> None:
    demand = np.array([1.0, 5.0, 10.0, 3.0, np.inf])
    group = np.array([0, 0, 0, 1, 1])
    cap = np.array([12.0, 10.0])
    # group 0: 1 fits (12/3 = 4), 5 fits ((12-1)/2 = 5.5), last gets 12-6 = 6
    # group 1: 3 fits (10/2 = 5), the unlimited flow gets the remaining 7
    np.testing.assert_allclose(max_min_share(demand, group, cap), [1.0, 5.0, 6.0, 3.0, 7.0])


def _progressive_filling(demand: list[float], cap: float) -> list[float]:
    alloc = [0.0] * len(demand)
    left = cap
    active = [i for i in range(len(demand))]
    while active and left > 1e-12:
        share = left / len(active)
        done = [i for i in active if demand[i] - alloc[i] <= share]
        if not done:
            for i in active:
                alloc[i] += share
            break
        for i in done:
            left -= demand[i] - alloc[i]
            alloc[i] = demand[i]
        active = [i for i in active if i not in done]
    return alloc


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(0.01, 100.0), min_size=1, max_size=12), st.floats(0.1, 300.0))
def test_max_min_matches_progressive_filling(demand: list[float], cap: float) -> None:
    got = max_min_share(np.array(demand), np.zeros(len(demand), dtype=np.int64), np.array([cap]))
    np.testing.assert_allclose(got, _progressive_filling(demand, cap), rtol=1e-9, atol=1e-9)
    assert got.sum() <= cap + 1e-9


def _max_min_lexsort(demand: np.ndarray, group: np.ndarray, capacity: np.ndarray) -> np.ndarray:
    """The implementation before issue 17 (one np.lexsort), kept as the reference."""
    n = demand.shape[0]
    order = np.lexsort((demand, group))
    d, g = demand[order], group[order]
    starts = np.flatnonzero(np.r_[True, g[1:] != g[:-1]])
    counts = np.diff(np.r_[starts, n])
    rank = np.arange(n) - np.repeat(starts, counts)
    remaining = np.repeat(counts, counts) - rank
    finite_d = np.where(np.isfinite(d), d, 0.0)
    csum = np.cumsum(finite_d)
    before = csum - finite_d - np.repeat(csum[starts] - finite_d[starts], counts)
    level = (capacity[g] - before) / remaining
    unsat_pos = np.where(~(d <= level), np.arange(n), n)
    first_unsat = np.minimum.reduceat(unsat_pos, starts)
    has_unsat = first_unsat < n
    group_level = np.full(starts.shape[0], np.inf)
    group_level[has_unsat] = level[first_unsat[has_unsat]]
    out = np.empty(n)
    out[order] = np.minimum(d, np.repeat(group_level, counts))
    return out


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.one_of(st.floats(0.0, 1e4), st.sampled_from([0.0, 1.0, 2.5, np.inf])),  # ties and inf demands
            st.integers(0, 4),
        ),
        min_size=1,
        max_size=60,
    ),
    st.lists(st.floats(0.0, 1e4), min_size=5, max_size=5),
)
def test_max_min_share_equals_the_lexsort_implementation(flows: list[tuple[float, int]], caps: list[float]) -> None:
    demand = np.array([d for d, _ in flows])
    group = np.array([g for _, g in flows], dtype=np.int64)
    capacity = np.array(caps)
    # the same numbers, bit for bit: the sort order of equal demands does not change any sum
    assert max_min_share(demand, group, capacity).tolist() == _max_min_lexsort(demand, group, capacity).tolist()
    one = np.zeros_like(group)  # one shared link (the core): the sort-only path
    assert max_min_share(demand, one, capacity[:1]).tolist() == _max_min_lexsort(demand, one, capacity[:1]).tolist()
