"""Eq. 1 and the elimination rule (ties, floor of one node, last epoch, rejoin)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from edgetune.selection import PolicyConfig, elimination_count, make_policy
from edgetune.selection.elimination import lowest_first, weakest_first
from edgetune.selection.ids import NodeValues


@pytest.mark.parametrize(
    ("n", "t", "expected"),
    [(12, 10, 1), (19, 10, 2), (40, 10, 4), (10, 10, 1), (9, 10, 0), (5, 10, 0), (12, 1, 0), (1, 10, 0), (100, 2, 99)],
)
def test_elimination_count(n: int, t: int, expected: int) -> None:
    # floor((N - 1) / (T - 1)): e.g. (40 - 1) // 9 = 4, (19 - 1) // 9 = 2
    assert elimination_count(n, t) == expected


def test_lowest_scores_go_and_ties_go_to_larger_id() -> None:
    ne = make_policy("ne")
    scores = {0: 0.9, 1: 0.2, 2: 0.5, 3: 0.2, 4: 0.7}
    # N=19, T=10 -> n = 2: the two 0.2s go; tie order puts 3 before 1 but both go.
    assert ne.select(1, 10, 19, [0, 1, 2, 3, 4], scores) == [0, 2, 4]
    # N=12 -> n = 1: of the tied pair, the larger id (3) goes.
    assert ne.select(1, 10, 12, [0, 1, 2, 3, 4], scores) == [0, 1, 2, 4]


def test_never_fewer_than_one_and_nothing_after_last_epoch() -> None:
    ne = make_policy("ne")
    assert ne.select(1, 2, 100, [5, 6, 7], {5: 0.1, 6: 0.2, 7: 0.3}) == [7]
    assert ne.select(10, 10, 40, [1, 2], {1: 0.0, 2: 1.0}) == [1, 2]


def test_failed_nodes_go_first_within_the_budget() -> None:
    ne = make_policy("ne")
    # node 9 failed (no score): with n = 1 it is the one eliminated.
    assert ne.select(1, 10, 12, [1, 2, 9], {1: 0.3, 2: 0.6}) == [1, 2]
    # n = 2: the failed node, then the weakest scored one.
    assert ne.select(1, 10, 19, [1, 2, 9], {1: 0.3, 2: 0.6}) == [2]
    # n = 4 but one scored node always stays.
    assert ne.select(1, 10, 40, [1, 2, 8, 9], {1: 0.3, 2: 0.6}) == [2]
    # everyone failed: never fewer than one active node (the smallest id stays).
    assert ne.select(1, 10, 40, [3, 5, 7], {}) == [3]


def test_all_resources_keeps_everyone() -> None:
    ar = make_policy("ar")
    assert ar.select(1, 10, 40, [3, 1, 2], {1: 0.0, 2: 0.1, 3: 0.2}) == [3, 1, 2]


def test_rejoin_lets_a_recovered_node_back() -> None:
    ne = make_policy("ne", PolicyConfig(rejoin=True))
    assert ne.wants_standby
    # active 1,2,3; standby 4 now scores best; n = 1 -> keep 2 best of all four.
    assert ne.select(2, 10, 12, [1, 2, 3], {1: 0.1, 2: 0.5, 3: 0.4, 4: 0.9}) == [2, 4]


# The pure-Python NE of before issue 17, kept as the reference the vectorised one must equal.
def _old_lowest_first(scores: dict[int, float]) -> list[int]:
    return sorted(scores, key=lambda i: (scores[i], -i))


def _old_select(n: int, active: list[int], scores: dict[int, float], rejoin: bool) -> list[int]:
    if rejoin:
        keep = max(len(active) - n, 1)
        ranked = _old_lowest_first(scores)
        return sorted(set(ranked[len(ranked) - keep :]))
    scored = {i: scores[i] for i in active if i in scores}
    failed = sorted((i for i in active if i not in scores), reverse=True)
    eliminated = set(failed[: min(n, len(active) - 1)])
    budget = n - len(eliminated)
    if budget > 0 and scored:
        eliminated |= set(_old_lowest_first(scored)[: min(budget, len(scored) - 1)])
    return [i for i in active if i not in eliminated]


def test_lexsort_order_equals_sorted_with_ties_by_hand() -> None:
    scores = {4: 0.5, 1: 0.5, 9: 0.1, 2: 0.5, 7: 0.1, 3: 1.0, 0: -0.0, 5: 0.0}
    # 0.0 and -0.0 tie (the larger id, 5, is weaker), then the 0.1s (9 before 7), then the 0.5s
    assert lowest_first(scores) == [5, 0, 9, 7, 4, 2, 1, 3] == _old_lowest_first(scores)
    ids = np.array([4, 1, 9])
    assert weakest_first(ids, np.array([0.2, 0.2, 0.2])).tolist() == [2, 0, 1]  # 9, 4, 1


_ids = st.lists(st.integers(0, 60), unique=True, max_size=40)
_score = st.sampled_from([0.0, 0.25, 0.5, 0.5000000000000001, 1.0]) | st.floats(0.0, 1.0)


@given(
    active=_ids,
    extra=_ids,
    data=st.data(),
    n_initial=st.integers(1, 200),
    epochs=st.integers(2, 12),
    rejoin=st.booleans(),
)
def test_vectorised_ne_equals_the_pure_python_one(
    active: list[int], extra: list[int], data: st.DataObject, n_initial: int, epochs: int, rejoin: bool
) -> None:
    # scores for a random subset of active (the rest "failed") plus, for rejoin, standby nodes
    reported = [i for i in active if data.draw(st.booleans())]
    standby = [i for i in extra if i not in active] if rejoin else []
    scores = {i: data.draw(_score) for i in reported + standby}
    ne = make_policy("ne", PolicyConfig(rejoin=rejoin))
    expected = _old_select(elimination_count(n_initial, epochs), active, scores, rejoin)
    assert ne.select(1, epochs, n_initial, active, scores) == expected
    assert lowest_first(scores) == _old_lowest_first(scores)
    # the same through the array-backed scores the loop hands over
    table = NodeValues.from_mapping(scores)
    assert ne.select(1, epochs, n_initial, active, table) == expected
    assert all(type(i) is int for i in ne.select(1, epochs, n_initial, active, table))


@given(
    ids=st.lists(st.integers(-50, 50), unique=True, max_size=40),
    data=st.data(),
    ascending=st.booleans(),
)
def test_weakest_first_is_the_sorted_order_with_ascending_or_any_ids(
    ids: list[int], data: st.DataObject, ascending: bool
) -> None:
    # ascending ids take the one-sort path, others the lexsort path: both give sorted()'s order
    ids = sorted(ids) if ascending else ids
    scores = [data.draw(_score) for _ in ids]
    order = weakest_first(np.asarray(ids, dtype=np.int64), np.asarray(scores, dtype=np.float64)).tolist()
    want = sorted(range(len(ids)), key=lambda k: (scores[k], -ids[k]))
    assert order == want
