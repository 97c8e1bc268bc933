"""``random``: Eq. 1's count with a seeded uniform choice."""

from __future__ import annotations

from collections import Counter

from tests.selection.helpers import started

SCORES = {i: 0.5 for i in range(10)}


def test_removes_eq1_count_and_is_seeded() -> None:
    # |N| = 10, T = 4: n = floor(9 / 3) = 3 per epoch.
    pol = started("random", range(10), 4, seed=1)
    nxt = pol.select(1, 4, 10, list(range(10)), SCORES)
    assert len(nxt) == 7 and set(nxt) <= set(range(10))
    again = started("random", range(10), 4, seed=1).select(1, 4, 10, list(range(10)), SCORES)
    assert again == nxt
    picks = {
        tuple(started("random", range(10), 4, seed=s).select(1, 4, 10, list(range(10)), SCORES)) for s in range(20)
    }
    assert len(picks) > 10  # different seeds, different choices


def test_silent_nodes_go_first_and_nothing_after_the_last_epoch() -> None:
    pol = started("random", range(10), 4)
    scores = {i: 0.5 for i in range(8)}  # nodes 8 and 9 did not report
    nxt = pol.select(1, 4, 10, list(range(10)), scores)
    assert 8 not in nxt and 9 not in nxt and len(nxt) == 7
    assert pol.select(4, 4, 10, [1, 2], {1: 0.1, 2: 0.2}) == [1, 2]


def test_choice_is_uniform() -> None:
    # Over 3000 draws each of 10 nodes is removed with probability 3/10 (900 expected, sd ~25).
    pol = started("random", range(10), 4, seed=7)
    gone: Counter[int] = Counter()
    for _ in range(3000):
        gone.update(set(range(10)) - set(pol.select(1, 4, 10, list(range(10)), SCORES)))
    assert all(800 < gone[i] < 1000 for i in range(10))


def test_at_least_one_node_stays() -> None:
    pol = started("random", range(3), 2)
    assert len(pol.select(1, 2, 3, [0, 1, 2], {0: 0.1, 1: 0.2, 2: 0.3})) == 1
