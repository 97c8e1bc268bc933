"""``deadline`` (FedCS-style) by hand."""

from __future__ import annotations

from edgetune.selection.deadline import Deadline
from tests.selection.helpers import started, table


def test_deadline_from_first_epoch_then_fixed() -> None:
    pol = started("deadline", range(4), 5)
    assert isinstance(pol, Deadline)
    # No payloads: t = training time = 1, 2, 3, 20; median 2.5; deadline 2 x 2.5 = 5 s.
    nxt = pol.select(1, 5, 4, [0, 1, 2, 3], {}, table([0, 1, 2, 3], [1.0, 2.0, 3.0, 20.0]))
    assert pol.deadline_s == 5.0 and nxt == [0, 1, 2]
    # Node 3 (eliminated) now predicts 4 s: it fits the unchanged deadline and rejoins; node 2 got slow.
    nxt = pol.select(2, 5, 4, [0, 1, 2], {}, table([0, 1, 2, 3], [1.0, 2.0, 6.0, 4.0]))
    assert pol.deadline_s == 5.0 and nxt == [0, 1, 3]


def test_network_counts_toward_the_round() -> None:
    # 1 MB up and down: at 100 Mbps 0.08 s each way, at 0.5 Mbps 16 s each way.
    pol = started("deadline", range(3), 3, update_bytes=1e6, broadcast_bytes=1e6)
    nxt = pol.select(1, 3, 3, [0, 1, 2], {}, table([0, 1, 2], [1.0, 1.0, 1.0], [100.0, 100.0, 0.5]))
    assert nxt == [0, 1]


def test_fastest_stays_when_none_fits_and_last_epoch_keeps_all() -> None:
    pol = started("deadline", range(2), 4)
    pol.select(1, 4, 2, [0, 1], {}, table([0, 1], [1.0, 1.0]))  # deadline 2 s
    assert pol.select(2, 4, 2, [0, 1], {}, table([0, 1], [9.0, 5.0])) == [1]
    assert pol.select(4, 4, 2, [0, 1], {}, table([0, 1], [9.0, 5.0])) == [0, 1]
