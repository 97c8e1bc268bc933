"""Eq. 1 and the elimination rule (ties, floor of one node, last epoch, rejoin)."""

from __future__ import annotations

import pytest

from edgetune.selection import PolicyConfig, elimination_count, make_policy


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
