"""Predicted round time (N1-N2) by hand."""

from __future__ import annotations

import numpy as np
import pytest

from edgetune.selection import PolicyContext
from edgetune.selection.round_time import predicted_round_time_s
from tests.selection.helpers import table


def ctx(up: float, down: float) -> PolicyContext:
    return PolicyContext((0, 1), 3, {0: 1.0, 1: 1.0}, up, down, np.random.default_rng(0))


def test_lossless_path_by_hand() -> None:
    # 1 MB each way at 8 Mbps: 1 s + 50 ms delay each way, plus 10 s of training: 12.1 s.
    t = predicted_round_time_s(table([0], [10.0], 8.0, 50.0, 0.0), ctx(1e6, 1e6))
    assert t.tolist() == pytest.approx([12.1])


def test_tcp_under_loss_is_the_bottleneck() -> None:
    # RTT 100 ms, 1 % loss: Mathis gives 8*1460/0.1 * sqrt(1.5)/0.1 = 1.4305 Mb/s < 8 Mb/s.
    rate = 8 * 1460 / 0.1 * np.sqrt(1.5) / 0.1 / 1e6
    t = predicted_round_time_s(table([0, 1], [0.0, 0.0], 8.0, 50.0, [1.0, 0.0]), ctx(1e6, 0.0))
    assert t.tolist() == pytest.approx([0.05 + 8 / rate, 0.05 + 1.0])


def test_no_payload_means_training_time_only() -> None:
    t = predicted_round_time_s(table([0, 1], [3.0, 4.5], 0.5, 300.0, 5.0), ctx(0.0, 0.0))
    assert t.tolist() == [3.0, 4.5]
