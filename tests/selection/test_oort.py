"""``oort``: utility, cut-off exploitation, exploration and the pacer by hand."""

from __future__ import annotations

import numpy as np
import pytest

from edgetune.selection.oort import Oort, system_utility
from tests.selection.helpers import started, table


def test_system_utility() -> None:
    assert system_utility(np.array([5.0, 10.0, 20.0, 40.0]), 10.0).tolist() == [1.0, 1.0, 0.25, 0.0625]


def test_utility_and_cut_off_by_hand() -> None:
    pol = started("oort", range(3), 3)
    assert isinstance(pol, Oort)
    m = table([0, 1, 2], [10.0, 20.0, 40.0], train_loss=[1.0, 2.0, 4.0])
    # T = 30th percentile (lower) of (10, 20, 40) = 10 s. Statistical utility |B| x loss / max = .25, .5, 1;
    # staleness sqrt(0.1 ln 1 / 1) = 0 in epoch 1; system utility 1, 1/4, 1/16.
    assert pol.utilities(1, m).tolist() == pytest.approx([0.25, 0.125, 0.0625])
    assert pol.preferred_s == 10.0
    # K after epoch 1 = 3 - 1 = 2 (Eq. 1: n = floor(2/2) = 1). Cut-off 0.95 x 0.125: node 2 is out.
    pol2 = started("oort", range(3), 3, seed=5)
    assert pol2.select(1, 3, 3, [0, 1, 2], {0: 1, 1: 1, 2: 1}, m) == [0, 1]


def test_exploration_of_untried_node() -> None:
    # Node 4 never reported: untried. K after epoch 1 = 5 - 1 = 4; eps K = 3.6 -> 4 slots, 1 untried node.
    pol = started("oort", range(5), 5)
    m = table([0, 1, 2, 3], [1.0, 2.0, 3.0, 4.0])
    nxt = pol.select(1, 5, 5, [0, 1, 2, 3], {i: 1.0 for i in range(4)}, m)
    assert 4 in nxt and len(nxt) == 4


def test_pacer_relaxes_when_utility_is_flat() -> None:
    m = table(list(range(11)), [10.0 * (k + 1) for k in range(11)])
    pol = started("oort", range(11), 10)
    assert isinstance(pol, Oort)
    pol.utilities(5, m)
    assert pol.preferred_s == 40.0  # 30th percentile (lower) of 10..110: index 3
    pol._history = [1.0, 1.0, 1.05, 1.0]  # last two rounds changed by 2.5 % <= 10 %: relax to the 40th
    pol.utilities(5, m)
    assert pol.preferred_s == 50.0
    pol._history = [1.0, 1.0, 3.0, 3.0]  # still growing fast: T stays
    pol.utilities(5, m)
    assert pol.preferred_s == 50.0


def test_seeded_sampling_is_reproducible() -> None:
    m = table(list(range(8)), [1.0] * 8, train_loss=[1.0] * 8)
    a = started("oort", range(8), 8, seed=3).select(1, 8, 8, list(range(8)), {i: 1 for i in range(8)}, m)
    b = started("oort", range(8), 8, seed=3).select(1, 8, 8, list(range(8)), {i: 1 for i in range(8)}, m)
    assert a == b and len(a) == 7
