"""Retry backoff of failing nodes, by hand."""

from __future__ import annotations

from edgetune.selection.backoff import RetryBackoff, epochs_out


def test_rests_double() -> None:
    assert [epochs_out(k) for k in range(1, 7)] == [0, 1, 3, 7, 15, 31]
    assert epochs_out(10_000) == 2**30 - 1  # bounded


def test_streaks_rest_and_reset() -> None:
    b = RetryBackoff()
    assert b.resting(1, [1, 2]) == {}
    b.update(1, failed=[2], replied=[1])
    assert b.resting(2, [1, 2]) == {}  # one failure: asked again at once
    b.update(2, failed=[2], replied=[1])
    assert b.resting(3, [1, 2]) == {2: "not asked: failed 2 epochs in a row, asked again in epoch 4"}
    assert b.resting(4, [1, 2]) == {}
    b.update(4, failed=[], replied=[2])  # a reply resets the count
    assert b.streak == {} and b.retry_at == {}
    b.update(5, failed=[2], replied=[])
    assert b.resting(6, [2]) == {}
